-- Distinct users of a long range without visiting every user (issue 20,
-- speed at scale). The dashboards count the distinct end users of UTC hours
-- [a, b) as the analytics_user_hours rows with a <= hour < b whose previous
-- active hour is before a (V074). That visits one row per user and active
-- hour: ~2 M rows for a year of 500,000 users, hundreds of milliseconds.
--
-- analytics_user_hour_counts holds the same rows counted per scope, hour and
-- previous hour (`prev_hour` '' = the user's first hour in the scope), so the
-- count is a sum over the (scope, hour, prev_hour) index: one row per hour
-- and distinct previous hour instead of one per user — about two a hour for
-- one-off visitors, never more than analytics_user_hours has rows. The
-- triggers below keep it equal to analytics_user_hours whatever writes it
-- (the rollup job, a bot's deletion cascading), in the same transaction.
--
-- Also a covering index for the hours of the series (below).

CREATE TABLE analytics_user_hour_counts (
    id                 INTEGER PRIMARY KEY,
    organization_id    INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id             INTEGER REFERENCES bots(id) ON DELETE CASCADE,
    channel            TEXT NOT NULL,
    hour               TEXT NOT NULL CHECK (length(hour) = 13),
    prev_hour          TEXT NOT NULL CHECK (prev_hour = '' OR (length(prev_hour) = 13 AND prev_hour < hour)),
    users              INTEGER NOT NULL CHECK (users >= 0)
);
-- The dashboards' read: covering, the table itself is never visited.
CREATE INDEX analytics_user_hour_counts_range ON analytics_user_hour_counts (organization_id, bot_id, channel, hour, prev_hour, users);
CREATE UNIQUE INDEX analytics_user_hour_counts_one ON analytics_user_hour_counts (organization_id, ifnull(bot_id, 0), channel, hour, prev_hour);
CREATE INDEX analytics_user_hour_counts_fk_bot_id ON analytics_user_hour_counts (bot_id);
CREATE TRIGGER analytics_user_hour_counts_organization_id_immutable BEFORE UPDATE OF organization_id ON analytics_user_hour_counts
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: analytics_user_hour_counts.organization_id');
END;
CREATE TRIGGER analytics_user_hour_counts_bot_id_tenant_insert BEFORE INSERT ON analytics_user_hour_counts
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: analytics_user_hour_counts.bot_id');
END;
CREATE TRIGGER analytics_user_hour_counts_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON analytics_user_hour_counts
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: analytics_user_hour_counts.bot_id');
END;

-- Kept equal to analytics_user_hours: +1 for a new row, -1 for a deleted
-- one (the count row goes at 0), both for a changed one.
CREATE TRIGGER analytics_user_hours_count_insert AFTER INSERT ON analytics_user_hours
BEGIN
    UPDATE analytics_user_hour_counts SET users = users + 1
     WHERE organization_id = NEW.organization_id AND ifnull(bot_id, 0) = ifnull(NEW.bot_id, 0)
       AND channel = NEW.channel AND hour = NEW.hour AND prev_hour = ifnull(NEW.prev_hour, '');
    INSERT INTO analytics_user_hour_counts (organization_id, bot_id, channel, hour, prev_hour, users)
    SELECT NEW.organization_id, NEW.bot_id, NEW.channel, NEW.hour, ifnull(NEW.prev_hour, ''), 1
     WHERE NOT EXISTS (SELECT 1 FROM analytics_user_hour_counts
                        WHERE organization_id = NEW.organization_id AND ifnull(bot_id, 0) = ifnull(NEW.bot_id, 0)
                          AND channel = NEW.channel AND hour = NEW.hour AND prev_hour = ifnull(NEW.prev_hour, ''));
END;
CREATE TRIGGER analytics_user_hours_count_delete AFTER DELETE ON analytics_user_hours
BEGIN
    UPDATE analytics_user_hour_counts SET users = users - 1
     WHERE organization_id = OLD.organization_id AND ifnull(bot_id, 0) = ifnull(OLD.bot_id, 0)
       AND channel = OLD.channel AND hour = OLD.hour AND prev_hour = ifnull(OLD.prev_hour, '');
    DELETE FROM analytics_user_hour_counts
     WHERE organization_id = OLD.organization_id AND ifnull(bot_id, 0) = ifnull(OLD.bot_id, 0)
       AND channel = OLD.channel AND hour = OLD.hour AND prev_hour = ifnull(OLD.prev_hour, '') AND users <= 0;
END;
CREATE TRIGGER analytics_user_hours_count_update AFTER UPDATE OF organization_id, bot_id, channel, hour, prev_hour ON analytics_user_hours
BEGIN
    UPDATE analytics_user_hour_counts SET users = users - 1
     WHERE organization_id = OLD.organization_id AND ifnull(bot_id, 0) = ifnull(OLD.bot_id, 0)
       AND channel = OLD.channel AND hour = OLD.hour AND prev_hour = ifnull(OLD.prev_hour, '');
    DELETE FROM analytics_user_hour_counts
     WHERE organization_id = OLD.organization_id AND ifnull(bot_id, 0) = ifnull(OLD.bot_id, 0)
       AND channel = OLD.channel AND hour = OLD.hour AND prev_hour = ifnull(OLD.prev_hour, '') AND users <= 0;
    UPDATE analytics_user_hour_counts SET users = users + 1
     WHERE organization_id = NEW.organization_id AND ifnull(bot_id, 0) = ifnull(NEW.bot_id, 0)
       AND channel = NEW.channel AND hour = NEW.hour AND prev_hour = ifnull(NEW.prev_hour, '');
    INSERT INTO analytics_user_hour_counts (organization_id, bot_id, channel, hour, prev_hour, users)
    SELECT NEW.organization_id, NEW.bot_id, NEW.channel, NEW.hour, ifnull(NEW.prev_hour, ''), 1
     WHERE NOT EXISTS (SELECT 1 FROM analytics_user_hour_counts
                        WHERE organization_id = NEW.organization_id AND ifnull(bot_id, 0) = ifnull(NEW.bot_id, 0)
                          AND channel = NEW.channel AND hour = NEW.hour AND prev_hour = ifnull(NEW.prev_hour, ''));
END;

-- The series, totals and heatmap read a year of a scope's hours (8,760 rows)
-- from analytics_totals_hourly: from an index holding the counters they are
-- read in index order without visiting the table. It starts like
-- analytics_totals_hourly_scope, which it replaces.
CREATE INDEX analytics_totals_hourly_read ON analytics_totals_hourly (organization_id, bot_id, channel, hour,
    conversations, messages_in, messages_out, handoffs, first_reply_count, first_reply_secs, fallbacks,
    csat_1, csat_2, csat_3, csat_4, csat_5, feedback_up, feedback_down);
DROP INDEX analytics_totals_hourly_scope;

-- The rows rolled up so far.
INSERT INTO analytics_user_hour_counts (organization_id, bot_id, channel, hour, prev_hour, users)
SELECT organization_id, bot_id, channel, hour, ifnull(prev_hour, ''), count(*)
  FROM analytics_user_hours
 GROUP BY organization_id, bot_id, channel, hour, ifnull(prev_hour, '');

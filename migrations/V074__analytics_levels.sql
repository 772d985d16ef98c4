-- Analytics at scale (issue 20, "speed at scale"): rollup levels that make
-- every dashboard query's cost independent of the message count.
--
-- Each table below has a row per *scope* — `bot_id` NULL means every bot
-- of the organization, `channel` '' means every channel — so a dashboard
-- reads one row per period whatever the number of bots and channels:
--
-- * analytics_totals_hourly: the counters of analytics_hourly summed to the
--   scopes (all bots, all channels), (all bots, one channel) and (one bot,
--   all channels); (one bot, one channel) is analytics_hourly itself. The
--   series and the weekday × hour heatmap of any timezone are sums of these
--   hours: at most 24 rows a day.
-- * analytics_daily: the same counters per UTC day for all four scopes
--   (one bot and one channel included): the channel breakdown of a range
--   reads whole UTC days here and only the partial days at its edges (in
--   the range's timezone) from the hourly levels.
-- * analytics_intents_daily: analytics_intents per UTC day and scope, for
--   the top intents of a range the same way.
-- * analytics_user_hours: one row per end user, scope and UTC hour in which
--   the user was active, with the user's previous active hour in the same
--   scope. The distinct users of any hour range [a, b) are the rows with
--   a <= hour < b whose previous hour is before a (each user's first hour
--   in the range): a count over the (scope, hour, prev_hour) index, with
--   no DISTINCT and no temporary tree.
--
-- All three are rewritten by the rollup job from analytics_hourly /
-- analytics_users for the hours it recomputes (idempotent; late events
-- re-open their hour as before). A deleted bot's rows go with it; the
-- organization-wide rows keep its past traffic until their hour is
-- recomputed, like the events that outlive a transcript.

CREATE TABLE analytics_totals_hourly (
    id                 INTEGER PRIMARY KEY,
    organization_id    INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id             INTEGER REFERENCES bots(id) ON DELETE CASCADE,
    channel            TEXT NOT NULL,
    hour               TEXT NOT NULL CHECK (length(hour) = 13),
    conversations      INTEGER NOT NULL DEFAULT 0,
    messages_in        INTEGER NOT NULL DEFAULT 0,
    messages_out       INTEGER NOT NULL DEFAULT 0,
    handoffs           INTEGER NOT NULL DEFAULT 0,
    first_reply_count  INTEGER NOT NULL DEFAULT 0,
    first_reply_secs   REAL NOT NULL DEFAULT 0,
    fallbacks          INTEGER NOT NULL DEFAULT 0,
    csat_1             INTEGER NOT NULL DEFAULT 0,
    csat_2             INTEGER NOT NULL DEFAULT 0,
    csat_3             INTEGER NOT NULL DEFAULT 0,
    csat_4             INTEGER NOT NULL DEFAULT 0,
    csat_5             INTEGER NOT NULL DEFAULT 0,
    feedback_up        INTEGER NOT NULL DEFAULT 0,
    feedback_down      INTEGER NOT NULL DEFAULT 0,
    CHECK (bot_id IS NULL OR channel = '')
);
CREATE INDEX analytics_totals_hourly_scope ON analytics_totals_hourly (organization_id, bot_id, channel, hour);
CREATE UNIQUE INDEX analytics_totals_hourly_one ON analytics_totals_hourly (organization_id, ifnull(bot_id, 0), hour, channel);
CREATE INDEX analytics_totals_hourly_fk_bot_id ON analytics_totals_hourly (bot_id);
CREATE TRIGGER analytics_totals_hourly_organization_id_immutable BEFORE UPDATE OF organization_id ON analytics_totals_hourly
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: analytics_totals_hourly.organization_id');
END;
CREATE TRIGGER analytics_totals_hourly_bot_id_tenant_insert BEFORE INSERT ON analytics_totals_hourly
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: analytics_totals_hourly.bot_id');
END;
CREATE TRIGGER analytics_totals_hourly_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON analytics_totals_hourly
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: analytics_totals_hourly.bot_id');
END;

CREATE TABLE analytics_daily (
    id                 INTEGER PRIMARY KEY,
    organization_id    INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id             INTEGER REFERENCES bots(id) ON DELETE CASCADE,
    channel            TEXT NOT NULL,
    day                TEXT NOT NULL CHECK (length(day) = 10),
    conversations      INTEGER NOT NULL DEFAULT 0,
    messages_in        INTEGER NOT NULL DEFAULT 0,
    messages_out       INTEGER NOT NULL DEFAULT 0,
    handoffs           INTEGER NOT NULL DEFAULT 0,
    first_reply_count  INTEGER NOT NULL DEFAULT 0,
    first_reply_secs   REAL NOT NULL DEFAULT 0,
    fallbacks          INTEGER NOT NULL DEFAULT 0,
    csat_1             INTEGER NOT NULL DEFAULT 0,
    csat_2             INTEGER NOT NULL DEFAULT 0,
    csat_3             INTEGER NOT NULL DEFAULT 0,
    csat_4             INTEGER NOT NULL DEFAULT 0,
    csat_5             INTEGER NOT NULL DEFAULT 0,
    feedback_up        INTEGER NOT NULL DEFAULT 0,
    feedback_down      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX analytics_daily_scope ON analytics_daily (organization_id, bot_id, channel, day);
CREATE UNIQUE INDEX analytics_daily_one ON analytics_daily (organization_id, ifnull(bot_id, 0), day, channel);
CREATE INDEX analytics_daily_fk_bot_id ON analytics_daily (bot_id);
CREATE TRIGGER analytics_daily_organization_id_immutable BEFORE UPDATE OF organization_id ON analytics_daily
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: analytics_daily.organization_id');
END;
CREATE TRIGGER analytics_daily_bot_id_tenant_insert BEFORE INSERT ON analytics_daily
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: analytics_daily.bot_id');
END;
CREATE TRIGGER analytics_daily_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON analytics_daily
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: analytics_daily.bot_id');
END;

CREATE TABLE analytics_intents_daily (
    id                 INTEGER PRIMARY KEY,
    organization_id    INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id             INTEGER REFERENCES bots(id) ON DELETE CASCADE,
    channel            TEXT NOT NULL,
    day                TEXT NOT NULL CHECK (length(day) = 10),
    intent             TEXT NOT NULL,
    count              INTEGER NOT NULL CHECK (count > 0)
);
CREATE INDEX analytics_intents_daily_scope ON analytics_intents_daily (organization_id, bot_id, channel, day);
CREATE UNIQUE INDEX analytics_intents_daily_one ON analytics_intents_daily (organization_id, ifnull(bot_id, 0), day, channel, intent);
CREATE INDEX analytics_intents_daily_fk_bot_id ON analytics_intents_daily (bot_id);
CREATE TRIGGER analytics_intents_daily_organization_id_immutable BEFORE UPDATE OF organization_id ON analytics_intents_daily
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: analytics_intents_daily.organization_id');
END;
CREATE TRIGGER analytics_intents_daily_bot_id_tenant_insert BEFORE INSERT ON analytics_intents_daily
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: analytics_intents_daily.bot_id');
END;
CREATE TRIGGER analytics_intents_daily_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON analytics_intents_daily
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: analytics_intents_daily.bot_id');
END;

CREATE TABLE analytics_user_hours (
    id                 INTEGER PRIMARY KEY,
    organization_id    INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id             INTEGER REFERENCES bots(id) ON DELETE CASCADE,
    channel            TEXT NOT NULL,
    user_key           TEXT NOT NULL,
    hour               TEXT NOT NULL CHECK (length(hour) = 13),
    prev_hour          TEXT CHECK (prev_hour IS NULL OR (length(prev_hour) = 13 AND prev_hour < hour))
);
CREATE INDEX analytics_user_hours_range ON analytics_user_hours (organization_id, bot_id, channel, hour, prev_hour);
CREATE UNIQUE INDEX analytics_user_hours_one ON analytics_user_hours (organization_id, ifnull(bot_id, 0), channel, user_key, hour);
CREATE INDEX analytics_user_hours_fk_bot_id ON analytics_user_hours (bot_id);
CREATE TRIGGER analytics_user_hours_organization_id_immutable BEFORE UPDATE OF organization_id ON analytics_user_hours
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: analytics_user_hours.organization_id');
END;
CREATE TRIGGER analytics_user_hours_bot_id_tenant_insert BEFORE INSERT ON analytics_user_hours
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: analytics_user_hours.bot_id');
END;
CREATE TRIGGER analytics_user_hours_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON analytics_user_hours
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: analytics_user_hours.bot_id');
END;

-- A user's hours in any scope, for the previous/next active hour.
CREATE INDEX analytics_users_user ON analytics_users (organization_id, user_key, hour);

-- Hours already rolled up get their new levels from the job's next run.
INSERT OR IGNORE INTO analytics_dirty (organization_id, bot_id, hour)
SELECT DISTINCT organization_id, bot_id, hour FROM analytics_hourly;
INSERT OR IGNORE INTO analytics_dirty (organization_id, bot_id, hour)
SELECT DISTINCT organization_id, bot_id, hour FROM analytics_users;

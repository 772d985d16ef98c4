-- Analytics (issue 20): answer feedback, the runtime's analytics events,
-- and the hourly rollups the dashboards read.
--
-- * message_feedback: none of the 95 origin tables holds a per-message
--   rating (the origin's "Feedback" routes wrote into recovery tables), so
--   this is a wave-2 table: one thumbs up/down (and optional comment) per
--   bot answer, changeable; `message_at` copies the rated message's time so
--   the vote counts in the hour of the answer.
-- * analytics_events: facts the transcript does not keep — a session
--   starting, a hand-off, the first human reply (seconds after the
--   hand-off), a fallback/out-of-scope answer (with the user's text and,
--   once the rollup job has embedded it, its vector), a CSAT score, the
--   recognised intent. Written by the turn writer in the turn's
--   transaction. The conversation link is SET NULL on delete so the history
--   outlives the transcript.
-- * analytics_dirty: hours (UTC, `YYYY-MM-DDTHH`) per bot whose rollups
--   must be recomputed; filled by triggers on every source row, emptied by
--   the rollup job. It is the job's watermark: after downtime it holds
--   exactly what is left to do, and a late event (feedback on yesterday's
--   answer) re-opens its own hour.
-- * analytics_hourly / analytics_users / analytics_intents: the rollups per
--   organization, bot, channel and UTC hour. Any timezone's days (and the
--   weekday × hour heatmap) are sums of whole UTC hours; recomputing an hour
--   replaces its rows (idempotent).

CREATE TABLE message_feedback (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id           INTEGER NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    conversation_id  INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    message_id       INTEGER NOT NULL UNIQUE REFERENCES widget_messages(id) ON DELETE CASCADE,
    rating           TEXT NOT NULL CHECK (rating IN ('up','down')),
    comment          TEXT CHECK (comment IS NULL OR length(comment) BETWEEN 1 AND 1000),
    source           TEXT NOT NULL CHECK (source IN ('widget','emulator')),
    message_at       TEXT NOT NULL,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX message_feedback_bot ON message_feedback (organization_id, bot_id, message_at);
CREATE INDEX message_feedback_conversation ON message_feedback (organization_id, conversation_id);
CREATE INDEX message_feedback_fk_bot_id ON message_feedback (bot_id);
CREATE INDEX message_feedback_fk_conversation_id ON message_feedback (conversation_id);
CREATE TRIGGER message_feedback_updated_at AFTER UPDATE ON message_feedback WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE message_feedback SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER message_feedback_organization_id_immutable BEFORE UPDATE OF organization_id ON message_feedback
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: message_feedback.organization_id');
END;
CREATE TRIGGER message_feedback_bot_id_tenant_insert BEFORE INSERT ON message_feedback
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: message_feedback.bot_id');
END;
CREATE TRIGGER message_feedback_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON message_feedback
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: message_feedback.bot_id');
END;
CREATE TRIGGER message_feedback_conversation_id_tenant_insert BEFORE INSERT ON message_feedback
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM conversations WHERE id = NEW.conversation_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: message_feedback.conversation_id');
END;
CREATE TRIGGER message_feedback_conversation_id_tenant_update BEFORE UPDATE OF conversation_id, organization_id ON message_feedback
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM conversations WHERE id = NEW.conversation_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: message_feedback.conversation_id');
END;
CREATE TRIGGER message_feedback_message_id_tenant_insert BEFORE INSERT ON message_feedback
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM widget_messages WHERE id = NEW.message_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: message_feedback.message_id');
END;
CREATE TRIGGER message_feedback_message_id_tenant_update BEFORE UPDATE OF message_id, organization_id ON message_feedback
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM widget_messages WHERE id = NEW.message_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: message_feedback.message_id');
END;

CREATE TABLE analytics_events (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id           INTEGER NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    conversation_id  INTEGER REFERENCES conversations(id) ON DELETE SET NULL,
    channel          TEXT NOT NULL CHECK (length(channel) BETWEEN 1 AND 40),
    kind             TEXT NOT NULL CHECK (kind IN ('session','handoff','first_reply','fallback','csat','intent')),
    value            REAL,
    label            TEXT CHECK (label IS NULL OR length(label) <= 2000),
    embedding        BLOB,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX analytics_events_bot ON analytics_events (organization_id, bot_id, created_at);
CREATE INDEX analytics_events_kind ON analytics_events (organization_id, kind, created_at);
CREATE INDEX analytics_events_bot_kind ON analytics_events (organization_id, bot_id, kind, created_at);
CREATE INDEX analytics_events_fk_bot_id ON analytics_events (bot_id);
CREATE INDEX analytics_events_fk_conversation_id ON analytics_events (conversation_id);
CREATE INDEX analytics_events_unembedded ON analytics_events (id) WHERE kind = 'fallback' AND embedding IS NULL;
CREATE TRIGGER analytics_events_organization_id_immutable BEFORE UPDATE OF organization_id ON analytics_events
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: analytics_events.organization_id');
END;
CREATE TRIGGER analytics_events_bot_id_tenant_insert BEFORE INSERT ON analytics_events
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: analytics_events.bot_id');
END;
CREATE TRIGGER analytics_events_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON analytics_events
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: analytics_events.bot_id');
END;
CREATE TRIGGER analytics_events_conversation_id_tenant_insert BEFORE INSERT ON analytics_events
WHEN NEW.conversation_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM conversations WHERE id = NEW.conversation_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: analytics_events.conversation_id');
END;
CREATE TRIGGER analytics_events_conversation_id_tenant_update BEFORE UPDATE OF conversation_id, organization_id ON analytics_events
WHEN NEW.conversation_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM conversations WHERE id = NEW.conversation_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: analytics_events.conversation_id');
END;

CREATE TABLE analytics_dirty (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id           INTEGER NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    hour             TEXT NOT NULL CHECK (length(hour) = 13),
    UNIQUE (organization_id, bot_id, hour)
);
CREATE INDEX analytics_dirty_hour ON analytics_dirty (hour);
CREATE INDEX analytics_dirty_fk_bot_id ON analytics_dirty (bot_id);
CREATE TRIGGER analytics_dirty_organization_id_immutable BEFORE UPDATE OF organization_id ON analytics_dirty
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: analytics_dirty.organization_id');
END;
CREATE TRIGGER analytics_dirty_bot_id_tenant_insert BEFORE INSERT ON analytics_dirty
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: analytics_dirty.bot_id');
END;
CREATE TRIGGER analytics_dirty_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON analytics_dirty
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: analytics_dirty.bot_id');
END;

CREATE TRIGGER analytics_dirty_message AFTER INSERT ON widget_messages
WHEN NEW.role IN ('user','bot','agent')
BEGIN
    INSERT OR IGNORE INTO analytics_dirty (organization_id, bot_id, hour)
    VALUES (NEW.organization_id, NEW.bot_id, substr(NEW.created_at, 1, 13));
END;
CREATE TRIGGER analytics_dirty_event AFTER INSERT ON analytics_events
BEGIN
    INSERT OR IGNORE INTO analytics_dirty (organization_id, bot_id, hour)
    VALUES (NEW.organization_id, NEW.bot_id, substr(NEW.created_at, 1, 13));
END;
CREATE TRIGGER analytics_dirty_feedback_insert AFTER INSERT ON message_feedback
BEGIN
    INSERT OR IGNORE INTO analytics_dirty (organization_id, bot_id, hour)
    VALUES (NEW.organization_id, NEW.bot_id, substr(NEW.message_at, 1, 13));
END;
CREATE TRIGGER analytics_dirty_feedback_update AFTER UPDATE OF rating ON message_feedback
BEGIN
    INSERT OR IGNORE INTO analytics_dirty (organization_id, bot_id, hour)
    VALUES (NEW.organization_id, NEW.bot_id, substr(NEW.message_at, 1, 13));
END;
CREATE TRIGGER analytics_dirty_feedback_delete AFTER DELETE ON message_feedback
BEGIN
    INSERT OR IGNORE INTO analytics_dirty (organization_id, bot_id, hour)
    SELECT OLD.organization_id, OLD.bot_id, substr(OLD.message_at, 1, 13)
    WHERE EXISTS (SELECT 1 FROM bots WHERE id = OLD.bot_id);
END;

CREATE TABLE analytics_hourly (
    id                 INTEGER PRIMARY KEY,
    organization_id    INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id             INTEGER NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
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
    UNIQUE (organization_id, bot_id, hour, channel)
);
CREATE INDEX analytics_hourly_org ON analytics_hourly (organization_id, hour);
CREATE INDEX analytics_hourly_fk_bot_id ON analytics_hourly (bot_id);
CREATE TRIGGER analytics_hourly_organization_id_immutable BEFORE UPDATE OF organization_id ON analytics_hourly
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: analytics_hourly.organization_id');
END;
CREATE TRIGGER analytics_hourly_bot_id_tenant_insert BEFORE INSERT ON analytics_hourly
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: analytics_hourly.bot_id');
END;
CREATE TRIGGER analytics_hourly_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON analytics_hourly
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: analytics_hourly.bot_id');
END;

-- The end users active in an hour (a contact, else channel + external id):
-- unique users of any range are distinct keys over its hours.
CREATE TABLE analytics_users (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id           INTEGER NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    channel          TEXT NOT NULL,
    hour             TEXT NOT NULL CHECK (length(hour) = 13),
    user_key         TEXT NOT NULL,
    UNIQUE (organization_id, bot_id, hour, channel, user_key)
);
CREATE INDEX analytics_users_org ON analytics_users (organization_id, hour, user_key);
CREATE INDEX analytics_users_fk_bot_id ON analytics_users (bot_id);
CREATE TRIGGER analytics_users_organization_id_immutable BEFORE UPDATE OF organization_id ON analytics_users
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: analytics_users.organization_id');
END;
CREATE TRIGGER analytics_users_bot_id_tenant_insert BEFORE INSERT ON analytics_users
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: analytics_users.bot_id');
END;
CREATE TRIGGER analytics_users_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON analytics_users
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: analytics_users.bot_id');
END;

CREATE TABLE analytics_intents (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id           INTEGER NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    channel          TEXT NOT NULL,
    hour             TEXT NOT NULL CHECK (length(hour) = 13),
    intent           TEXT NOT NULL,
    count            INTEGER NOT NULL CHECK (count > 0),
    UNIQUE (organization_id, bot_id, hour, channel, intent)
);
CREATE INDEX analytics_intents_org ON analytics_intents (organization_id, hour);
CREATE INDEX analytics_intents_fk_bot_id ON analytics_intents (bot_id);
CREATE TRIGGER analytics_intents_organization_id_immutable BEFORE UPDATE OF organization_id ON analytics_intents
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: analytics_intents.organization_id');
END;
CREATE TRIGGER analytics_intents_bot_id_tenant_insert BEFORE INSERT ON analytics_intents
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: analytics_intents.bot_id');
END;
CREATE TRIGGER analytics_intents_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON analytics_intents
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: analytics_intents.bot_id');
END;

-- Existing transcripts are rolled up by the first run of the job.
INSERT OR IGNORE INTO analytics_dirty (organization_id, bot_id, hour)
SELECT DISTINCT organization_id, bot_id, substr(created_at, 1, 13) FROM widget_messages WHERE role IN ('user','bot','agent');

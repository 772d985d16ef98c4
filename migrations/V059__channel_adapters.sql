-- Channels, issue 18: adapters beyond Telegram.
--
-- `channels.type`, `channel_webhooks.channel_type` and `conversations.channel` gain 'email' (raw-MIME
-- inbound, SMTP outbound) and 'http' (the generic HMAC-signed channel).
-- SQLite cannot alter a CHECK, so both tables are rebuilt the documented way
-- (new table, copy, drop, rename); `apply_migrations` runs with foreign keys
-- off and checks them afterwards, so the drop cascades into nothing; the
-- legacy rename leaves the other tables' triggers that name these tables as
-- they are (they find the new tables by name).
PRAGMA legacy_alter_table = ON;

CREATE TABLE channels_new (
    id                     INTEGER PRIMARY KEY,
    organization_id        INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id                 INTEGER REFERENCES bots(id) ON DELETE SET NULL,
    type                   TEXT NOT NULL CHECK (type IN ('whatsapp','instagram','telegram','messenger','sms','slack','voice','email','http')),
    name                   TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    credentials_encrypted  BLOB,
    phone_number           TEXT,
    username               TEXT,
    status                 TEXT NOT NULL DEFAULT 'inactive' CHECK (status IN ('active','inactive','pending','error')),
    webhook_path           TEXT NOT NULL UNIQUE,
    webhook_secret_encrypted BLOB,
    business_account_id    TEXT,
    token_expires_at       TEXT,
    settings               TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings)),
    last_sync_at           TEXT,
    error_message          TEXT,
    created_at             TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at             TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    send_job_id            INTEGER,
    last_inbound_at        TEXT,
    last_error_at          TEXT
);
INSERT INTO channels_new (id, organization_id, bot_id, type, name, credentials_encrypted, phone_number, username,
    status, webhook_path, webhook_secret_encrypted, business_account_id, token_expires_at, settings, last_sync_at,
    error_message, created_at, updated_at, send_job_id, last_inbound_at, last_error_at)
SELECT id, organization_id, bot_id, type, name, credentials_encrypted, phone_number, username,
    status, webhook_path, webhook_secret_encrypted, business_account_id, token_expires_at, settings, last_sync_at,
    error_message, created_at, updated_at, send_job_id, last_inbound_at, last_error_at FROM channels;
DROP TABLE channels;
ALTER TABLE channels_new RENAME TO channels;
CREATE INDEX channels_org ON channels (organization_id, type, status);
CREATE INDEX channels_fk_bot_id ON channels (bot_id);
CREATE TRIGGER channels_updated_at AFTER UPDATE ON channels WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE channels SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER channels_organization_id_immutable BEFORE UPDATE OF organization_id ON channels
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: channels.organization_id');
END;
CREATE TRIGGER channels_bot_id_tenant_insert BEFORE INSERT ON channels
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: channels.bot_id');
END;
CREATE TRIGGER channels_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON channels
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: channels.bot_id');
END;

CREATE TABLE channel_webhooks_new (
    id                 INTEGER PRIMARY KEY,
    organization_id    INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    channel_id         INTEGER REFERENCES channels(id) ON DELETE SET NULL,
    channel_type       TEXT NOT NULL CHECK (channel_type IN ('whatsapp','instagram','telegram','messenger','sms','slack','voice','email','http')),
    event_type         TEXT NOT NULL,
    external_event_id  TEXT,
    payload            TEXT NOT NULL CHECK (json_valid(payload)),
    headers            TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(headers)),
    status             TEXT NOT NULL DEFAULT 'received' CHECK (status IN ('received','processed','failed','ignored')),
    processed_at       TEXT,
    error_message      TEXT,
    retry_count        INTEGER NOT NULL DEFAULT 0 CHECK (retry_count >= 0),
    created_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
INSERT INTO channel_webhooks_new SELECT id, organization_id, channel_id, channel_type, event_type, external_event_id,
    payload, headers, status, processed_at, error_message, retry_count, created_at FROM channel_webhooks;
DROP TABLE channel_webhooks;
ALTER TABLE channel_webhooks_new RENAME TO channel_webhooks;
CREATE INDEX channel_webhooks_org ON channel_webhooks (organization_id, channel_id, created_at);
CREATE UNIQUE INDEX channel_webhooks_event ON channel_webhooks (channel_id, external_event_id) WHERE external_event_id IS NOT NULL;
CREATE INDEX channel_webhooks_fk_channel_id ON channel_webhooks (channel_id);
CREATE TRIGGER channel_webhooks_organization_id_immutable BEFORE UPDATE OF organization_id ON channel_webhooks
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: channel_webhooks.organization_id');
END;
CREATE TRIGGER channel_webhooks_channel_id_tenant_insert BEFORE INSERT ON channel_webhooks
WHEN NEW.channel_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM channels WHERE id = NEW.channel_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: channel_webhooks.channel_id');
END;
CREATE TRIGGER channel_webhooks_channel_id_tenant_update BEFORE UPDATE OF channel_id, organization_id ON channel_webhooks
WHEN NEW.channel_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM channels WHERE id = NEW.channel_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: channel_webhooks.channel_id');
END;


-- conversations.channel gains the same two types (the conversation of a
-- channel is keyed by its type). Rebuilt like the tables above.
CREATE TABLE conversations_new (
    id                INTEGER PRIMARY KEY,
    organization_id   INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id            INTEGER NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    channel           TEXT NOT NULL CHECK (channel IN ('web','widget','api','emulator','telegram','whatsapp','slack','messenger','sms','voice','instagram','email','http')),
    channel_id        INTEGER REFERENCES channels(id) ON DELETE SET NULL,
    external_user_id  TEXT NOT NULL CHECK (length(external_user_id) BETWEEN 1 AND 200),
    contact_id        INTEGER REFERENCES channel_contacts(id) ON DELETE SET NULL,
    status            TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open','handoff','closed')),
    state             TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(state)),
    assignee_user_id  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    team_id           INTEGER REFERENCES teams(id) ON DELETE SET NULL,
    csat              INTEGER CHECK (csat IS NULL OR csat BETWEEN 1 AND 5),
    resolution        TEXT,
    message_count     INTEGER NOT NULL DEFAULT 0 CHECK (message_count >= 0),
    last_message_at   TEXT,
    handoff_at        TEXT,
    closed_at         TEXT,
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    visitor           TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(visitor)),
    UNIQUE (bot_id, channel, external_user_id)
);
INSERT INTO conversations_new (id, organization_id, bot_id, channel, channel_id, external_user_id, contact_id, status, state, assignee_user_id, team_id, csat, resolution, message_count, last_message_at, handoff_at, closed_at, created_at, updated_at, visitor)
SELECT id, organization_id, bot_id, channel, channel_id, external_user_id, contact_id, status, state, assignee_user_id, team_id, csat, resolution, message_count, last_message_at, handoff_at, closed_at, created_at, updated_at, visitor FROM conversations;
DROP TABLE conversations;
ALTER TABLE conversations_new RENAME TO conversations;
CREATE INDEX conversations_org ON conversations (organization_id, bot_id, last_message_at);
CREATE INDEX conversations_inbox ON conversations (organization_id, status, team_id, last_message_at) WHERE status = 'handoff';
CREATE INDEX conversations_fk_channel_id ON conversations (channel_id);
CREATE INDEX conversations_fk_contact_id ON conversations (contact_id);
CREATE INDEX conversations_fk_team_id ON conversations (team_id);
CREATE INDEX conversations_bot_status ON conversations (organization_id, bot_id, status, last_message_at);
CREATE TRIGGER conversations_updated_at AFTER UPDATE ON conversations WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE conversations SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER conversations_organization_id_immutable BEFORE UPDATE OF organization_id ON conversations
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: conversations.organization_id');
END;
CREATE TRIGGER conversations_bot_id_tenant_insert BEFORE INSERT ON conversations
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: conversations.bot_id');
END;
CREATE TRIGGER conversations_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON conversations
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: conversations.bot_id');
END;
CREATE TRIGGER conversations_channel_id_tenant_insert BEFORE INSERT ON conversations
WHEN NEW.channel_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM channels WHERE id = NEW.channel_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: conversations.channel_id');
END;
CREATE TRIGGER conversations_channel_id_tenant_update BEFORE UPDATE OF channel_id, organization_id ON conversations
WHEN NEW.channel_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM channels WHERE id = NEW.channel_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: conversations.channel_id');
END;
CREATE TRIGGER conversations_contact_id_tenant_insert BEFORE INSERT ON conversations
WHEN NEW.contact_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM channel_contacts WHERE id = NEW.contact_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: conversations.contact_id');
END;
CREATE TRIGGER conversations_contact_id_tenant_update BEFORE UPDATE OF contact_id, organization_id ON conversations
WHEN NEW.contact_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM channel_contacts WHERE id = NEW.contact_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: conversations.contact_id');
END;
CREATE TRIGGER conversations_team_id_tenant_insert BEFORE INSERT ON conversations
WHEN NEW.team_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM teams WHERE id = NEW.team_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: conversations.team_id');
END;
CREATE TRIGGER conversations_team_id_tenant_update BEFORE UPDATE OF team_id, organization_id ON conversations
WHEN NEW.team_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM teams WHERE id = NEW.team_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: conversations.team_id');
END;

PRAGMA legacy_alter_table = OFF;

-- Opt-out (SMS STOP, revoked consent): the outbound queue dead-letters what
-- would go to a contact whose opted_out_at is set.
ALTER TABLE channel_contacts ADD COLUMN opted_out_at TEXT;
ALTER TABLE channel_contacts ADD COLUMN opt_out_source TEXT;

-- Which transcript message an outbound channel message shows, so the inbox
-- can put each message's delivery status next to it.
ALTER TABLE channel_messages ADD COLUMN conversation_message_id INTEGER;
CREATE INDEX channel_messages_transcript ON channel_messages (conversation_id, conversation_message_id)
    WHERE conversation_message_id IS NOT NULL;

-- Conversations of the email and generic HTTP channels (issue 18).
--
-- The channel runtime keys a conversation by the channel type
-- (`conversations.channel`), whose CHECK predates the 'email' and 'http'
-- channel types (V059 widened `channels.type` only), so their first message
-- failed the insert. SQLite cannot alter a CHECK: the table is rebuilt the
-- way V059 rebuilt `channels` (foreign keys are off during migrations; the
-- legacy rename leaves the triggers and foreign keys of other tables that
-- name `conversations` as they are, and they find the new table by name).
PRAGMA legacy_alter_table = ON;

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
INSERT INTO conversations_new (id, organization_id, bot_id, channel, channel_id, external_user_id, contact_id, status,
    state, assignee_user_id, team_id, csat, resolution, message_count, last_message_at, handoff_at, closed_at,
    created_at, updated_at, visitor)
SELECT id, organization_id, bot_id, channel, channel_id, external_user_id, contact_id, status,
    state, assignee_user_id, team_id, csat, resolution, message_count, last_message_at, handoff_at, closed_at,
    created_at, updated_at, visitor FROM conversations;
DROP TABLE conversations;
ALTER TABLE conversations_new RENAME TO conversations;
CREATE INDEX conversations_org ON conversations (organization_id, bot_id, last_message_at);
CREATE INDEX conversations_inbox ON conversations (organization_id, status, team_id, last_message_at) WHERE status = 'handoff';
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
CREATE INDEX conversations_fk_channel_id ON conversations (channel_id);
CREATE INDEX conversations_fk_contact_id ON conversations (contact_id);
CREATE INDEX conversations_fk_team_id ON conversations (team_id);
CREATE INDEX conversations_bot_status ON conversations (organization_id, bot_id, status, last_message_at);

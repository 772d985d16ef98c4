-- The agents' inbox (issue 17, item 6).
--
-- * conversations.visitor: what the widget knew when the conversation
--   started (page URL and title, language, user agent), for the visitor
--   details panel. Open-ended, so JSON.
-- * canned_replies: an organization's saved replies for agents, used from
--   the composer by their `/shortcut`.
-- * conversation_reads: per agent, the newest message they have read in a
--   conversation; unread counts are the visitor messages after it.

ALTER TABLE conversations ADD COLUMN visitor TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(visitor));

CREATE TABLE canned_replies (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    shortcut         TEXT NOT NULL CHECK (length(shortcut) BETWEEN 1 AND 40),
    text             TEXT NOT NULL CHECK (length(text) BETWEEN 1 AND 4000),
    created_by       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (organization_id, shortcut)
);
CREATE TRIGGER canned_replies_updated_at AFTER UPDATE ON canned_replies WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE canned_replies SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER canned_replies_organization_id_immutable BEFORE UPDATE OF organization_id ON canned_replies
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: canned_replies.organization_id');
END;

CREATE TABLE conversation_reads (
    id                    INTEGER PRIMARY KEY,
    organization_id       INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    conversation_id       INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    user_id               INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    last_read_message_id  INTEGER NOT NULL DEFAULT 0 CHECK (last_read_message_id >= 0),
    updated_at            TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (conversation_id, user_id)
);
CREATE INDEX conversation_reads_user ON conversation_reads (organization_id, user_id, conversation_id);
CREATE INDEX conversation_reads_fk_user_id ON conversation_reads (user_id);
CREATE TRIGGER conversation_reads_updated_at AFTER UPDATE ON conversation_reads WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE conversation_reads SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER conversation_reads_organization_id_immutable BEFORE UPDATE OF organization_id ON conversation_reads
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: conversation_reads.organization_id');
END;
CREATE TRIGGER conversation_reads_conversation_id_tenant_insert BEFORE INSERT ON conversation_reads
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM conversations WHERE id = NEW.conversation_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: conversation_reads.conversation_id');
END;
CREATE TRIGGER conversation_reads_conversation_id_tenant_update BEFORE UPDATE OF conversation_id, organization_id ON conversation_reads
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM conversations WHERE id = NEW.conversation_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: conversation_reads.conversation_id');
END;

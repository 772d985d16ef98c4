-- Issue 18 (the widget as a channel): files attached to transcript messages.
-- The attachment itself (file id, name, type, size) is in the message's
-- payload; this table is the index of who may download which file: a member
-- of the organization (any attached file) and the end user of the
-- conversation (files of the messages they see, never of internal notes).

CREATE TABLE message_attachments (
    id                  INTEGER PRIMARY KEY,
    organization_id     INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    conversation_id     INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    message_id          INTEGER NOT NULL REFERENCES widget_messages(id) ON DELETE CASCADE,
    file_id             INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    -- The name this message gave the file (the same bytes may come with
    -- other names; a download shows the one its reader was sent).
    name                TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
    visible_to_end_user INTEGER NOT NULL DEFAULT 1 CHECK (visible_to_end_user IN (0, 1)),
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (message_id, file_id)
);
CREATE INDEX message_attachments_file ON message_attachments (organization_id, file_id);
CREATE INDEX message_attachments_conversation ON message_attachments (organization_id, conversation_id, file_id);
CREATE INDEX message_attachments_fk_conversation_id ON message_attachments (conversation_id);
CREATE INDEX message_attachments_fk_file_id ON message_attachments (file_id);

CREATE TRIGGER message_attachments_organization_id_immutable BEFORE UPDATE OF organization_id ON message_attachments
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: message_attachments.organization_id');
END;
CREATE TRIGGER message_attachments_conversation_id_tenant_insert BEFORE INSERT ON message_attachments
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM conversations WHERE id = NEW.conversation_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: message_attachments.conversation_id');
END;
CREATE TRIGGER message_attachments_conversation_id_tenant_update BEFORE UPDATE OF conversation_id, organization_id ON message_attachments
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM conversations WHERE id = NEW.conversation_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: message_attachments.conversation_id');
END;
CREATE TRIGGER message_attachments_message_id_tenant_insert BEFORE INSERT ON message_attachments
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM widget_messages WHERE id = NEW.message_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: message_attachments.message_id');
END;
CREATE TRIGGER message_attachments_message_id_tenant_update BEFORE UPDATE OF message_id, organization_id ON message_attachments
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM widget_messages WHERE id = NEW.message_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: message_attachments.message_id');
END;
CREATE TRIGGER message_attachments_file_id_tenant_insert BEFORE INSERT ON message_attachments
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM files WHERE id = NEW.file_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: message_attachments.file_id');
END;
CREATE TRIGGER message_attachments_file_id_tenant_update BEFORE UPDATE OF file_id, organization_id ON message_attachments
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM files WHERE id = NEW.file_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: message_attachments.file_id');
END;

-- Contacts, issue 18 item 3: profile, consent, custom attributes and the
-- merge of one person's contacts across channels.
--
-- A person is the set of channel_contacts rows sharing one key,
-- coalesce(person_id, id). Merging keeps every row (channel routing needs
-- them) and points all rows of both groups at one root row (the root's own
-- person_id is its id); a single contact has person_id NULL. Deleting a root
-- (its channel removed) sets its members' person_id to NULL: a group may
-- split, it never absorbs a stranger whose new row reuses the id.
--
-- Consent is per contact row (one channel address: a WhatsApp number, an SMS
-- number opt in or out separately); tags and custom attributes belong to the
-- person and are kept equal on all its rows by the contacts service.

ALTER TABLE channel_contacts ADD COLUMN email TEXT;
ALTER TABLE channel_contacts ADD COLUMN custom_attributes TEXT NOT NULL DEFAULT '{}'
    CHECK (json_valid(custom_attributes) AND json_type(custom_attributes) = 'object');
ALTER TABLE channel_contacts ADD COLUMN consent_status TEXT NOT NULL DEFAULT 'unknown'
    CHECK (consent_status IN ('unknown', 'granted', 'revoked'));
ALTER TABLE channel_contacts ADD COLUMN consent_source TEXT;
ALTER TABLE channel_contacts ADD COLUMN consent_updated_at TEXT;
ALTER TABLE channel_contacts ADD COLUMN person_id INTEGER REFERENCES channel_contacts(id) ON DELETE SET NULL;

-- Also the lookup of ON DELETE SET NULL when a root contact goes.
CREATE INDEX channel_contacts_person ON channel_contacts (person_id) WHERE person_id IS NOT NULL;
-- The contacts list, most recently seen first.
-- (the expression is the list's sort key: never-seen contacts sort as '').
CREATE INDEX channel_contacts_seen ON channel_contacts (organization_id, coalesce(last_message_at, ''), id);
-- The contacts of a person, their messages.
CREATE INDEX channel_messages_contact ON channel_messages (organization_id, contact_id, id) WHERE contact_id IS NOT NULL;
CREATE INDEX conversations_contact ON conversations (organization_id, contact_id) WHERE contact_id IS NOT NULL;

-- A person never spans organizations.
CREATE TRIGGER channel_contacts_person_id_tenant_insert BEFORE INSERT ON channel_contacts
WHEN NEW.person_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM channel_contacts WHERE id = NEW.person_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: channel_contacts.person_id');
END;
CREATE TRIGGER channel_contacts_person_id_tenant_update BEFORE UPDATE OF person_id, organization_id ON channel_contacts
WHEN NEW.person_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM channel_contacts WHERE id = NEW.person_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: channel_contacts.person_id');
END;

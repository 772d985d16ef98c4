-- Revenue recovery, issue 27: the signed webhook sources of recovery events
-- (Shopify-style commerce, Stripe billing) and the link from a recovery
-- message to the channel message that carries it (its delivery status).

CREATE TABLE recovery_sources (
    id                INTEGER PRIMARY KEY,
    organization_id   INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name              TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    platform          TEXT NOT NULL CHECK (platform IN ('shopify','stripe')),
    hook_token_hash   BLOB NOT NULL UNIQUE,              -- SHA-256 of the URL token
    secret_encrypted  BLOB NOT NULL,                     -- the source's signing secret (AEAD)
    events_received   INTEGER NOT NULL DEFAULT 0,
    last_event_at     TEXT,
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (organization_id, name)
);
CREATE INDEX recovery_sources_org ON recovery_sources (organization_id, id);

CREATE TRIGGER recovery_sources_organization_id_immutable BEFORE UPDATE OF organization_id ON recovery_sources
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: recovery_sources.organization_id');
END;

ALTER TABLE recovery_messages ADD COLUMN channel_message_id INTEGER REFERENCES channel_messages(id) ON DELETE SET NULL;
CREATE TRIGGER recovery_messages_channel_message_id_tenant_insert BEFORE INSERT ON recovery_messages
WHEN NEW.channel_message_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM channel_messages WHERE id = NEW.channel_message_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: recovery_messages.channel_message_id');
END;
CREATE TRIGGER recovery_messages_channel_message_id_tenant_update BEFORE UPDATE OF channel_message_id, organization_id ON recovery_messages
WHEN NEW.channel_message_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM channel_messages WHERE id = NEW.channel_message_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: recovery_messages.channel_message_id');
END;
CREATE INDEX recovery_messages_channel_message ON recovery_messages (channel_message_id) WHERE channel_message_id IS NOT NULL;
-- The customer's messages across campaigns (frequency cap, stop conditions).
CREATE INDEX recovery_messages_customer ON recovery_messages (organization_id, customer_id, sent_at);

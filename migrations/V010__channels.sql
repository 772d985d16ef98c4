-- Channels (Telegram, WhatsApp, Slack, Messenger, SMS, …), their inbound
-- events, messages, templates and contacts; integrations and their logs.

-- Origin: channels (tenant_id without FK, credentials in clear JSON).
-- Credentials are AEAD-encrypted; webhook_path is the random, public part of
-- the inbound webhook URL.
CREATE TABLE channels (
    id                     INTEGER PRIMARY KEY,
    organization_id        INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id                 INTEGER REFERENCES bots(id) ON DELETE SET NULL,
    type                   TEXT NOT NULL CHECK (type IN ('whatsapp','instagram','telegram','messenger','sms','slack','voice')),
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
    updated_at             TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX channels_org ON channels (organization_id, type, status);

-- Origin: channel_contacts.
CREATE TABLE channel_contacts (
    id                   INTEGER PRIMARY KEY,
    organization_id      INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    channel_id           INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    external_id          TEXT NOT NULL,
    phone_number         TEXT,
    username             TEXT,
    display_name         TEXT,
    profile_picture_url  TEXT,
    metadata             TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    first_message_at     TEXT,
    last_message_at      TEXT,
    message_count        INTEGER NOT NULL DEFAULT 0 CHECK (message_count >= 0),
    is_blocked           INTEGER NOT NULL DEFAULT 0 CHECK (is_blocked IN (0,1)),
    tags                 TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tags) AND json_type(tags) = 'array'),
    created_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (channel_id, external_id)
);
CREATE INDEX channel_contacts_org ON channel_contacts (organization_id, channel_id, last_message_at);

-- Origin: channel_messages (bot_id without FK; conversation_id was a string).
CREATE TABLE channel_messages (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    channel_id       INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    bot_id           INTEGER REFERENCES bots(id) ON DELETE SET NULL,
    conversation_id  INTEGER REFERENCES conversations(id) ON DELETE SET NULL,
    contact_id       INTEGER REFERENCES channel_contacts(id) ON DELETE SET NULL,
    direction        TEXT NOT NULL CHECK (direction IN ('inbound','outbound')),
    from_address     TEXT,
    to_address       TEXT,
    from_name        TEXT,
    message_type     TEXT NOT NULL DEFAULT 'text' CHECK (message_type IN ('text','image','video','audio','document','location','contact','sticker','template','interactive','reaction')),
    content          TEXT,
    media_url        TEXT,
    media_mime_type  TEXT,
    media_filename   TEXT,
    caption          TEXT,
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','sent','delivered','read','failed','received')),
    external_id      TEXT,
    reply_to_id      TEXT,
    metadata         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    error_message    TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    sent_at          TEXT,
    delivered_at     TEXT,
    read_at          TEXT,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX channel_messages_channel ON channel_messages (organization_id, channel_id, created_at);
CREATE INDEX channel_messages_conversation ON channel_messages (organization_id, conversation_id, id);
-- Inbound de-duplication and status callbacks look messages up by provider id.
CREATE UNIQUE INDEX channel_messages_external ON channel_messages (channel_id, direction, external_id) WHERE external_id IS NOT NULL;

-- Origin: channel_templates (WhatsApp-approved templates).
CREATE TABLE channel_templates (
    id                INTEGER PRIMARY KEY,
    organization_id   INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    channel_id        INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    language          TEXT NOT NULL DEFAULT 'en',
    category          TEXT NOT NULL CHECK (category IN ('marketing','utility','authentication','service')),
    content           TEXT NOT NULL,
    header_type       TEXT NOT NULL DEFAULT 'none' CHECK (header_type IN ('text','image','video','document','none')),
    header_content    TEXT,
    footer            TEXT,
    buttons           TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(buttons) AND json_type(buttons) = 'array'),
    variables         TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(variables) AND json_type(variables) = 'array'),
    status            TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','approved','rejected','disabled')),
    external_id       TEXT,
    rejection_reason  TEXT,
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (channel_id, name, language)
);
CREATE INDEX channel_templates_org ON channel_templates (organization_id, channel_id, status);

-- Origin: channel_webhooks (raw inbound event log). Stored idempotently
-- (provider event id), then processed by a job.
CREATE TABLE channel_webhooks (
    id                 INTEGER PRIMARY KEY,
    organization_id    INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    channel_id         INTEGER REFERENCES channels(id) ON DELETE SET NULL,
    channel_type       TEXT NOT NULL CHECK (channel_type IN ('whatsapp','instagram','telegram','messenger','sms','slack','voice')),
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
CREATE INDEX channel_webhooks_org ON channel_webhooks (organization_id, channel_id, created_at);
CREATE UNIQUE INDEX channel_webhooks_event ON channel_webhooks (channel_id, external_event_id) WHERE external_event_id IS NOT NULL;

-- Contacts count their messages.
CREATE TRIGGER channel_messages_contact_count AFTER INSERT ON channel_messages WHEN NEW.contact_id IS NOT NULL
BEGIN
    UPDATE channel_contacts SET
        message_count = message_count + 1,
        first_message_at = coalesce(first_message_at, NEW.created_at),
        last_message_at = NEW.created_at
    WHERE id = NEW.contact_id;
END;

-- Origin: integrations (user-owned OAuth connections). Tokens encrypted.
CREATE TABLE integrations (
    id                     INTEGER PRIMARY KEY,
    organization_id        INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id                INTEGER REFERENCES users(id) ON DELETE SET NULL,
    type                   TEXT NOT NULL CHECK (type IN ('slack','google_calendar','gmail','hubspot','salesforce','zendesk','shopify','custom')),
    name                   TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    credentials_encrypted  BLOB,
    config                 TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(config)),
    metadata               TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    status                 TEXT NOT NULL DEFAULT 'disconnected' CHECK (status IN ('disconnected','connected','error')),
    token_expires_at       TEXT,
    scopes                 TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(scopes) AND json_type(scopes) = 'array'),
    last_sync_at           TEXT,
    error_message          TEXT,
    created_at             TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at             TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (organization_id, type, name)
);

-- Origin: integration_logs.
CREATE TABLE integration_logs (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    integration_id   INTEGER NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    action           TEXT NOT NULL,
    action_type      TEXT NOT NULL DEFAULT 'api_call' CHECK (action_type IN ('api_call','sync','oauth','webhook','test')),
    request_data     TEXT CHECK (request_data IS NULL OR json_valid(request_data)),
    response_data    TEXT CHECK (response_data IS NULL OR json_valid(response_data)),
    result           TEXT NOT NULL DEFAULT 'success' CHECK (result IN ('success','failure')),
    error_message    TEXT,
    duration_ms      INTEGER,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX integration_logs_integration ON integration_logs (organization_id, integration_id, created_at);

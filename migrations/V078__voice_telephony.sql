-- Voice telephony (issue 26): the organization's Twilio-compatible account
-- (its auth token sealed, like channel credentials) and the random key of
-- its webhook URLs; each call turn's latency and the bot's spoken reply.

CREATE TABLE voice_accounts (
    id                    INTEGER PRIMARY KEY,
    organization_id       INTEGER NOT NULL UNIQUE REFERENCES organizations(id) ON DELETE CASCADE,
    provider              TEXT NOT NULL DEFAULT 'twilio' CHECK (provider IN ('twilio')),
    account_sid           TEXT NOT NULL CHECK (length(account_sid) BETWEEN 1 AND 64),
    auth_token_encrypted  BLOB NOT NULL,
    webhook_key           TEXT NOT NULL UNIQUE CHECK (length(webhook_key) >= 16),
    created_at            TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at            TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);

CREATE TRIGGER voice_accounts_updated_at AFTER UPDATE ON voice_accounts
WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE voice_accounts SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;

CREATE TRIGGER voice_accounts_organization_id_immutable BEFORE UPDATE OF organization_id ON voice_accounts
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: voice_accounts.organization_id');
END;

-- Server time of the turn (webhook in → TwiML out) and what the bot said back.
ALTER TABLE call_segments ADD COLUMN latency_ms INTEGER CHECK (latency_ms IS NULL OR latency_ms >= 0);
ALTER TABLE call_segments ADD COLUMN reply TEXT;

CREATE INDEX calls_org_created ON calls (organization_id, created_at);
CREATE INDEX phone_numbers_assigned ON phone_numbers (organization_id, assigned_bot_id);

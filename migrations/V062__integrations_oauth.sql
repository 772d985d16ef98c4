-- Integrations, issue 18 item 7: the credentials vault and the OAuth 2.0
-- connect flow.
--
-- 1. `integrations.type` gains 'meta' (Facebook Login → page token). SQLite
--    cannot alter a CHECK, so the table is rebuilt. Foreign keys are ON while
--    migrations run and only integration_logs references integrations: its
--    rows are copied aside first, both tables are rebuilt, the logs copied
--    back, and the triggers and indexes V010/V016 gave them are recreated.
-- 2. integration_oauth_states: the pending authorization requests (added
--    table: none of the 95 holds a single-use, expiring OAuth state).

CREATE TEMP TABLE integration_logs_copy AS SELECT * FROM integration_logs;
CREATE TEMP TABLE integrations_copy AS SELECT * FROM integrations;

DROP TABLE integration_logs;
DROP TABLE integrations;

CREATE TABLE integrations (
    id                     INTEGER PRIMARY KEY,
    organization_id        INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id                INTEGER REFERENCES users(id) ON DELETE SET NULL,
    type                   TEXT NOT NULL CHECK (type IN ('slack','google_calendar','gmail','hubspot','salesforce','zendesk','shopify','custom','meta')),
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
INSERT INTO integrations SELECT * FROM integrations_copy;

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
INSERT INTO integration_logs SELECT * FROM integration_logs_copy;
DROP TABLE integration_logs_copy;
DROP TABLE integrations_copy;

CREATE INDEX integration_logs_integration ON integration_logs (organization_id, integration_id, created_at);
CREATE INDEX integration_logs_fk_integration_id ON integration_logs (integration_id);

CREATE TRIGGER integrations_updated_at AFTER UPDATE ON integrations WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE integrations SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER integrations_organization_id_immutable BEFORE UPDATE OF organization_id ON integrations
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: integrations.organization_id');
END;
CREATE TRIGGER integration_logs_organization_id_immutable BEFORE UPDATE OF organization_id ON integration_logs
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: integration_logs.organization_id');
END;
CREATE TRIGGER integration_logs_integration_id_tenant_insert BEFORE INSERT ON integration_logs
WHEN NEW.integration_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM integrations WHERE id = NEW.integration_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: integration_logs.integration_id');
END;
CREATE TRIGGER integration_logs_integration_id_tenant_update BEFORE UPDATE OF integration_id, organization_id ON integration_logs
WHEN NEW.integration_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM integrations WHERE id = NEW.integration_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: integration_logs.integration_id');
END;

-- A pending OAuth authorization: the `state` sent to the provider is stored
-- hashed (SHA-256), single-use (`used_at`), with a 10-minute expiry, bound to
-- the organization, the integration, the user who started it and (for a
-- browser session) a cookie of that browser. The PKCE verifier is sealed.
CREATE TABLE integration_oauth_states (
    id                       INTEGER PRIMARY KEY,
    organization_id          INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    integration_id           INTEGER NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    user_id                  INTEGER REFERENCES users(id) ON DELETE CASCADE,
    state_hash               BLOB NOT NULL UNIQUE,
    browser_hash             BLOB,
    code_verifier_encrypted  BLOB,
    redirect_uri             TEXT NOT NULL,
    expires_at               TEXT NOT NULL,
    used_at                  TEXT,
    created_at               TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX integration_oauth_states_org ON integration_oauth_states (organization_id, integration_id);
CREATE INDEX integration_oauth_states_fk_integration_id ON integration_oauth_states (integration_id);
CREATE INDEX integration_oauth_states_fk_user_id ON integration_oauth_states (user_id);

CREATE TRIGGER integration_oauth_states_organization_id_immutable BEFORE UPDATE OF organization_id ON integration_oauth_states
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: integration_oauth_states.organization_id');
END;
CREATE TRIGGER integration_oauth_states_integration_id_tenant_insert BEFORE INSERT ON integration_oauth_states
WHEN NEW.integration_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM integrations WHERE id = NEW.integration_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: integration_oauth_states.integration_id');
END;
CREATE TRIGGER integration_oauth_states_integration_id_tenant_update BEFORE UPDATE OF integration_id, organization_id ON integration_oauth_states
WHEN NEW.integration_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM integrations WHERE id = NEW.integration_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: integration_oauth_states.integration_id');
END;

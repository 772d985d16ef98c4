-- Issue 22: OpenID Connect sign-in.
--
-- sso_auth_requests: a sign-in started at the IdP and not yet back. The
-- `state` is stored hashed (it is a bearer value on the callback URL), the
-- PKCE verifier sealed; the nonce is compared with the ID token's. A row is
-- used once (used_at) and lives 10 minutes. A `test` request (the settings
-- page's "Test login") signs nobody in: it keeps the claims received for
-- the admin to read. Added beyond the 95 tables: none of them holds
-- in-flight protocol state (DESIGN §4 "replay caches").
CREATE TABLE sso_auth_requests (
    id                       INTEGER PRIMARY KEY,
    organization_id          INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    sso_configuration_id     INTEGER NOT NULL REFERENCES sso_configurations(id) ON DELETE CASCADE,
    state_hash               BLOB NOT NULL UNIQUE CHECK (length(state_hash) = 32),
    browser_hash             BLOB,
    nonce                    TEXT NOT NULL,
    code_verifier_encrypted  BLOB NOT NULL,
    purpose                  TEXT NOT NULL CHECK (purpose IN ('login','test')),
    requested_by             INTEGER REFERENCES users(id) ON DELETE SET NULL,
    claims                   TEXT CHECK (claims IS NULL OR json_valid(claims)),
    expires_at               TEXT NOT NULL,
    used_at                  TEXT,
    created_at               TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX sso_auth_requests_org ON sso_auth_requests (organization_id, sso_configuration_id, created_at);
CREATE INDEX sso_auth_requests_config ON sso_auth_requests (sso_configuration_id, purpose);
CREATE INDEX sso_auth_requests_expiry ON sso_auth_requests (expires_at);

-- The configuration's organization is the request's.
CREATE TRIGGER sso_auth_requests_sso_configuration_id_tenant_insert BEFORE INSERT ON sso_auth_requests
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM sso_configurations WHERE id = NEW.sso_configuration_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: sso_auth_requests.sso_configuration_id');
END;
CREATE TRIGGER sso_auth_requests_sso_configuration_id_tenant_update BEFORE UPDATE OF sso_configuration_id, organization_id ON sso_auth_requests
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM sso_configurations WHERE id = NEW.sso_configuration_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: sso_auth_requests.sso_configuration_id');
END;

-- How a domain was verified: DNS TXT record, HTTP well-known file, or a superadmin's approval.
ALTER TABLE sso_domains ADD COLUMN verification_method TEXT CHECK (verification_method IN ('dns','http','manual'));

-- The IdP's refresh token of the user's last sign-in (sealed), for re-checking the account.
ALTER TABLE sso_user_mappings ADD COLUMN refresh_token_encrypted BLOB;

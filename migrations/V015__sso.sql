-- Single sign-on: OIDC and SAML 2.0 configurations per organization, their
-- verified email domains, user mappings and the append-only login log.

-- Origin: sso_configurations (+ the SCIM columns of migration 036). Client
-- secret and SAML private key are AEAD ciphertext (the origin: hex strings).
CREATE TABLE sso_configurations (
    id                       INTEGER PRIMARY KEY,
    organization_id          INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    provider_type            TEXT NOT NULL CHECK (provider_type IN ('saml','oidc','azure_ad','okta','google','onelogin')),
    name                     TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    is_enabled               INTEGER NOT NULL DEFAULT 0 CHECK (is_enabled IN (0,1)),
    is_enforced              INTEGER NOT NULL DEFAULT 0 CHECK (is_enforced IN (0,1)),
    settings                 TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings)),
    metadata_url             TEXT,
    entity_id                TEXT,
    acs_url                  TEXT,
    certificate              TEXT,
    private_key_encrypted    BLOB,
    client_id                TEXT,
    client_secret_encrypted  BLOB,
    issuer_url               TEXT,
    authorization_url        TEXT,
    token_url                TEXT,
    userinfo_url             TEXT,
    jwks_url                 TEXT,
    scopes                   TEXT NOT NULL DEFAULT 'openid profile email',
    scim_enabled             INTEGER NOT NULL DEFAULT 0 CHECK (scim_enabled IN (0,1)),
    auto_provision_users     INTEGER NOT NULL DEFAULT 1 CHECK (auto_provision_users IN (0,1)),
    auto_deprovision_users   INTEGER NOT NULL DEFAULT 0 CHECK (auto_deprovision_users IN (0,1)),
    default_role_id          INTEGER REFERENCES roles(id) ON DELETE SET NULL,
    created_at               TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at               TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX sso_configurations_org ON sso_configurations (organization_id, is_enabled);

-- Origin: sso_domains. A verified email domain routes sign-in to its
-- configuration; domains are unique across the instance and lower-case.
-- verification_token is the public DNS TXT value, not a credential.
CREATE TABLE sso_domains (
    id                    INTEGER PRIMARY KEY,
    organization_id       INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    sso_configuration_id  INTEGER NOT NULL REFERENCES sso_configurations(id) ON DELETE CASCADE,
    domain                TEXT NOT NULL UNIQUE CHECK (domain = lower(domain)),
    is_verified           INTEGER NOT NULL DEFAULT 0 CHECK (is_verified IN (0,1)),
    verification_token    TEXT NOT NULL,
    verified_at           TEXT,
    created_at            TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX sso_domains_config ON sso_domains (organization_id, sso_configuration_id);

-- Origin: sso_user_mappings. How an IdP subject maps to a user (the origin's
-- SSO code wrote a users.organization_id column that did not exist).
CREATE TABLE sso_user_mappings (
    id                    INTEGER PRIMARY KEY,
    organization_id       INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    sso_configuration_id  INTEGER NOT NULL REFERENCES sso_configurations(id) ON DELETE CASCADE,
    user_id               INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    external_id           TEXT NOT NULL,
    email                 TEXT,
    attributes            TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(attributes)),
    last_login_at         TEXT,
    created_at            TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at            TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (sso_configuration_id, external_id),
    UNIQUE (sso_configuration_id, user_id)
);
CREATE INDEX sso_user_mappings_org ON sso_user_mappings (organization_id, sso_configuration_id);
CREATE INDEX sso_user_mappings_user ON sso_user_mappings (user_id);

-- Origin: sso_login_logs. Append-only (like audit_logs): the retention job may
-- delete, and rows go with their organization; organization_id NULL when the
-- attempt matched no organization.
CREATE TABLE sso_login_logs (
    id                    INTEGER PRIMARY KEY,
    organization_id       INTEGER REFERENCES organizations(id) ON DELETE CASCADE,
    sso_configuration_id  INTEGER REFERENCES sso_configurations(id) ON DELETE SET NULL,
    user_id               INTEGER REFERENCES users(id) ON DELETE SET NULL,
    email                 TEXT,
    status                TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('success','failed','pending')),
    error_message         TEXT,
    ip_address            TEXT,
    user_agent            TEXT,
    created_at            TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX sso_login_logs_org ON sso_login_logs (organization_id, created_at);

-- Permitted updates: the FK actions clearing a deleted user or configuration.
CREATE TRIGGER sso_login_logs_no_update BEFORE UPDATE ON sso_login_logs
WHEN NOT (NEW.id IS OLD.id AND NEW.organization_id IS OLD.organization_id AND NEW.email IS OLD.email
          AND NEW.status IS OLD.status AND NEW.error_message IS OLD.error_message AND NEW.ip_address IS OLD.ip_address
          AND NEW.user_agent IS OLD.user_agent AND NEW.created_at IS OLD.created_at
          AND (NEW.user_id IS OLD.user_id OR (NEW.user_id IS NULL AND NOT EXISTS (SELECT 1 FROM users WHERE id = OLD.user_id)))
          AND (NEW.sso_configuration_id IS OLD.sso_configuration_id
               OR (NEW.sso_configuration_id IS NULL AND NOT EXISTS (SELECT 1 FROM sso_configurations WHERE id = OLD.sso_configuration_id))))
BEGIN
    SELECT RAISE(ABORT, 'append_only: sso_login_logs');
END;
CREATE TRIGGER sso_login_logs_no_delete BEFORE DELETE ON sso_login_logs
WHEN NOT EXISTS (SELECT 1 FROM settings WHERE key = 'retention.unlock' AND value = 'true')
 AND (OLD.organization_id IS NULL OR EXISTS (SELECT 1 FROM organizations WHERE id = OLD.organization_id))
BEGIN
    SELECT RAISE(ABORT, 'append_only: sso_login_logs');
END;

-- The default role of provisioned users is built-in or the organization's own.
CREATE TRIGGER sso_configurations_default_role_id_tenant_insert BEFORE INSERT ON sso_configurations
WHEN (SELECT organization_id FROM roles WHERE id = NEW.default_role_id) IS NOT NULL
 AND (SELECT organization_id FROM roles WHERE id = NEW.default_role_id) IS NOT NEW.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: sso_configurations.default_role_id');
END;
CREATE TRIGGER sso_configurations_default_role_id_tenant_update BEFORE UPDATE OF default_role_id, organization_id ON sso_configurations
WHEN (SELECT organization_id FROM roles WHERE id = NEW.default_role_id) IS NOT NULL
 AND (SELECT organization_id FROM roles WHERE id = NEW.default_role_id) IS NOT NEW.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: sso_configurations.default_role_id');
END;

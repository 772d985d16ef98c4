-- SCIM 2.0 provisioning (RFC 7643/7644). None of the 95 origin tables fits:
-- the origin kept SCIM tokens beside sso_configurations, but SCIM does not
-- need an SSO configuration (an IdP may provision users who sign in with a
-- password or a later SSO setup), and SCIM attributes that have no column
-- in users (userName distinct from email, externalId, given/family name)
-- are per organization, not per user.

-- Per-organization SCIM bearer tokens: only the HMAC of the secret is kept.
-- `role_id` is the organization role given to members this token creates.
CREATE TABLE scim_tokens (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name             TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    token_hash       BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    token_prefix     TEXT NOT NULL,
    role_id          INTEGER NOT NULL REFERENCES roles(id) ON DELETE RESTRICT,
    created_by       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    last_used_at     TEXT,
    rotated_at       TEXT,
    revoked_at       TEXT,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX scim_tokens_org ON scim_tokens (organization_id, created_at);
CREATE INDEX scim_tokens_role ON scim_tokens (role_id);

-- A user provisioned (or linked) by SCIM in one organization: the SCIM
-- attributes the IdP owns. The membership itself is organization_members.
CREATE TABLE scim_users (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id          INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    user_name        TEXT NOT NULL CHECK (length(user_name) BETWEEN 1 AND 254),
    external_id      TEXT CHECK (external_id IS NULL OR length(external_id) <= 500),
    given_name       TEXT,
    family_name      TEXT,
    display_name     TEXT,
    emails           TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(emails) AND json_type(emails) = 'array'),
    -- Other User attributes the IdP sends (title, phoneNumbers, addresses,
    -- the enterprise extension, …), kept as sent and returned on reads.
    extra            TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(extra) AND json_type(extra) = 'object'),
    active           INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0,1)),
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (organization_id, user_id)
);
-- userName is unique per organization, compared case-insensitively (RFC 7643 §4.1.1).
CREATE UNIQUE INDEX scim_users_user_name ON scim_users (organization_id, user_name COLLATE NOCASE);
CREATE INDEX scim_users_user ON scim_users (user_id);

-- A team created or claimed by SCIM (a SCIM Group) with the IdP's externalId.
CREATE TABLE scim_groups (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    team_id          INTEGER NOT NULL UNIQUE REFERENCES teams(id) ON DELETE CASCADE,
    external_id      TEXT CHECK (external_id IS NULL OR length(external_id) <= 500),
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX scim_groups_org ON scim_groups (organization_id);

CREATE TRIGGER scim_tokens_updated_at AFTER UPDATE ON scim_tokens WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE scim_tokens SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER scim_users_updated_at AFTER UPDATE ON scim_users WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE scim_users SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER scim_groups_updated_at AFTER UPDATE ON scim_groups WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE scim_groups SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;

CREATE TRIGGER scim_tokens_organization_id_immutable BEFORE UPDATE OF organization_id ON scim_tokens
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: scim_tokens.organization_id');
END;
CREATE TRIGGER scim_users_organization_id_immutable BEFORE UPDATE OF organization_id ON scim_users
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: scim_users.organization_id');
END;
CREATE TRIGGER scim_groups_organization_id_immutable BEFORE UPDATE OF organization_id ON scim_groups
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: scim_groups.organization_id');
END;
CREATE TRIGGER scim_tokens_role_id_tenant_insert BEFORE INSERT ON scim_tokens
WHEN (SELECT organization_id FROM roles WHERE id = NEW.role_id) IS NOT NULL
 AND (SELECT organization_id FROM roles WHERE id = NEW.role_id) IS NOT NEW.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: scim_tokens.role_id');
END;
CREATE TRIGGER scim_tokens_role_id_tenant_update BEFORE UPDATE OF role_id, organization_id ON scim_tokens
WHEN (SELECT organization_id FROM roles WHERE id = NEW.role_id) IS NOT NULL
 AND (SELECT organization_id FROM roles WHERE id = NEW.role_id) IS NOT NEW.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: scim_tokens.role_id');
END;
CREATE TRIGGER scim_groups_team_id_tenant_insert BEFORE INSERT ON scim_groups
WHEN (SELECT organization_id FROM teams WHERE id = NEW.team_id) IS NOT NEW.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: scim_groups.team_id');
END;
CREATE TRIGGER scim_groups_team_id_tenant_update BEFORE UPDATE OF team_id, organization_id ON scim_groups
WHEN (SELECT organization_id FROM teams WHERE id = NEW.team_id) IS NOT NEW.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: scim_groups.team_id');
END;

-- Accounts (user-level, no tenant column) and the superadmin console tables.

-- Origin: users. Emails are stored lower-cased and unique (the origin allowed
-- case-variant duplicates). The TOTP secret is AEAD ciphertext (the origin's
-- VARCHAR(64) was too small). Legacy reset/verification token columns are
-- gone: tokens live hashed in password_reset_tokens. users.plan/role are gone:
-- billing is per organization, roles per membership.
CREATE TABLE users (
    id                     INTEGER PRIMARY KEY,
    email                  TEXT NOT NULL UNIQUE CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254 AND instr(email, '@') > 1),
    password_hash          TEXT NOT NULL,
    name                   TEXT,
    email_verified         INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0,1)),
    email_verified_at      TEXT,
    last_login_at          TEXT,
    is_superadmin          INTEGER NOT NULL DEFAULT 0 CHECK (is_superadmin IN (0,1)),
    totp_secret_encrypted  BLOB,
    two_factor_enabled     INTEGER NOT NULL DEFAULT 0 CHECK (two_factor_enabled IN (0,1)),
    two_factor_enabled_at  TEXT,
    -- Last accepted TOTP time step: a code cannot be replayed within its window.
    totp_last_step         INTEGER,
    google_id              TEXT UNIQUE,
    microsoft_id           TEXT UNIQUE,
    suspended_at           TEXT,
    suspended_reason       TEXT,
    created_at             TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at             TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    CHECK (two_factor_enabled = 0 OR totp_secret_encrypted IS NOT NULL)
);
CREATE INDEX users_superadmins ON users (id) WHERE is_superadmin = 1;

-- Origin: user_sessions. The server keeps only the SHA-256 of the session
-- token; sessions slide (expires_at moves on activity) and are revoked, not deleted.
CREATE TABLE user_sessions (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash    BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    device_info   TEXT,
    ip_address    TEXT,
    user_agent    TEXT,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    last_seen_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    expires_at    TEXT NOT NULL,
    revoked_at    TEXT
);
CREATE INDEX user_sessions_user ON user_sessions (user_id, revoked_at, expires_at);

-- Origin: two_factor_backup_codes. Ten single-use codes, stored hashed.
CREATE TABLE two_factor_backup_codes (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash   BLOB NOT NULL CHECK (length(code_hash) = 32),
    used_at     TEXT,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (user_id, code_hash)
);

-- Origin: password_reset_tokens (plain-text tokens in the origin). Also holds
-- email verification tokens (`purpose`), replacing users.verification_token.
CREATE TABLE password_reset_tokens (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL DEFAULT 'password_reset' CHECK (purpose IN ('password_reset','email_verification')),
    token_hash  BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    expires_at  TEXT NOT NULL,
    used_at     TEXT,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX password_reset_tokens_user ON password_reset_tokens (user_id, purpose, used_at);

-- Origin: admin_ip_whitelist. Entries are IPs or CIDR ranges.
CREATE TABLE admin_ip_whitelist (
    id           INTEGER PRIMARY KEY,
    ip_address   TEXT NOT NULL,
    description  TEXT,
    created_by   INTEGER REFERENCES users(id) ON DELETE SET NULL,
    is_active    INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0,1)),
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE UNIQUE INDEX admin_ip_whitelist_active ON admin_ip_whitelist (ip_address) WHERE is_active = 1;

-- Origin: admin_login_attempts (lockout: N failures per email or IP in a window).
CREATE TABLE admin_login_attempts (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL CHECK (email = lower(email)),
    ip_address    TEXT NOT NULL,
    success       INTEGER NOT NULL DEFAULT 0 CHECK (success IN (0,1)),
    attempted_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX admin_login_attempts_email ON admin_login_attempts (email, attempted_at);
CREATE INDEX admin_login_attempts_ip ON admin_login_attempts (ip_address, attempted_at);

-- Origin: admin_sessions (8 h). Token stored hashed.
CREATE TABLE admin_sessions (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash   BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    ip_address   TEXT,
    user_agent   TEXT,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    expires_at   TEXT NOT NULL,
    revoked_at   TEXT
);
CREATE INDEX admin_sessions_user ON admin_sessions (user_id, expires_at);

-- Origin: admin_audit_log. Append-only (trigger below).
CREATE TABLE admin_audit_log (
    id             INTEGER PRIMARY KEY,
    user_id        INTEGER REFERENCES users(id) ON DELETE SET NULL,
    user_email     TEXT,
    action         TEXT NOT NULL,
    resource_type  TEXT,
    resource_id    INTEGER,
    details        TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details)),
    ip_address     TEXT,
    user_agent     TEXT,
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX admin_audit_log_created ON admin_audit_log (created_at);
CREATE INDEX admin_audit_log_action ON admin_audit_log (action, created_at);
CREATE INDEX admin_audit_log_resource ON admin_audit_log (resource_type, resource_id);

-- Append-only: only the retention job, inside its own transaction, may delete.
-- The one permitted update is the FK action clearing user_id when that user
-- is deleted.
CREATE TRIGGER admin_audit_log_no_update BEFORE UPDATE ON admin_audit_log
WHEN NOT (NEW.user_id IS NULL AND OLD.user_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM users WHERE id = OLD.user_id)
          AND NEW.id IS OLD.id AND NEW.user_email IS OLD.user_email AND NEW.action IS OLD.action
          AND NEW.resource_type IS OLD.resource_type AND NEW.resource_id IS OLD.resource_id
          AND NEW.details IS OLD.details AND NEW.ip_address IS OLD.ip_address
          AND NEW.user_agent IS OLD.user_agent AND NEW.created_at IS OLD.created_at)
BEGIN
    SELECT RAISE(ABORT, 'append_only: admin_audit_log');
END;
CREATE TRIGGER admin_audit_log_no_delete BEFORE DELETE ON admin_audit_log
WHEN NOT EXISTS (SELECT 1 FROM settings WHERE key = 'retention.unlock' AND value = 'true')
BEGIN
    SELECT RAISE(ABORT, 'append_only: admin_audit_log');
END;

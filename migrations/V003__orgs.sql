-- Organizations (tenants), roles, membership, teams, invitations, audit,
-- activity, white-label, API tokens, versions, files, jobs, outbound
-- webhooks and the email queue.

-- Origin: organizations. plan_tier names the current plan and is what limits
-- read; status lets a superadmin suspend a tenant.
CREATE TABLE organizations (
    id                               INTEGER PRIMARY KEY,
    name                             TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    slug                             TEXT NOT NULL UNIQUE CHECK (slug = lower(slug) AND length(slug) BETWEEN 1 AND 100),
    owner_id                         INTEGER NOT NULL REFERENCES users(id) ON DELETE RESTRICT,
    plan_tier                        TEXT NOT NULL DEFAULT 'free' REFERENCES subscription_plans(name) ON UPDATE CASCADE ON DELETE RESTRICT,
    settings                         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings)),
    status                           TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','suspended')),
    suspended_at                     TEXT,
    suspended_reason                 TEXT,
    retention_days                   INTEGER NOT NULL DEFAULT 365 CHECK (retention_days BETWEEN 1 AND 36500),
    stripe_customer_id               TEXT UNIQUE,
    stripe_subscription_id           TEXT UNIQUE,
    subscription_status              TEXT NOT NULL DEFAULT 'active'
                                     CHECK (subscription_status IN ('active','trialing','past_due','canceled','incomplete','unpaid')),
    subscription_current_period_end  TEXT,
    created_at                       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at                       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX organizations_owner ON organizations (owner_id);

-- Origin: roles (global names, JSON object permissions). Built-in roles have
-- organization_id NULL; their permission arrays are written at start-up from
-- the application's catalogue. Custom roles belong to one organization.
CREATE TABLE roles (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER REFERENCES organizations(id) ON DELETE CASCADE,
    name             TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 50),
    description      TEXT,
    permissions      TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(permissions) AND json_type(permissions) = 'array'),
    is_builtin       INTEGER NOT NULL DEFAULT 0 CHECK (is_builtin IN (0,1)),
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    CHECK (is_builtin = (organization_id IS NULL))
);
CREATE UNIQUE INDEX roles_name ON roles (ifnull(organization_id, 0), name);
CREATE INDEX roles_org ON roles (organization_id, name);

INSERT INTO roles (name, description, is_builtin) VALUES
 ('owner', 'Everything, including deleting the organization', 1),
 ('admin', 'Everything except deleting the organization', 1),
 ('editor', 'Builds bots, flows, NLU, knowledge and agents', 1),
 ('agent', 'Handles conversations from the inbox', 1),
 ('viewer', 'Reads everything, changes nothing', 1);

-- Origin: organization_members (role was a CHECKed string). Members now
-- reference a role row: built-in or a custom role of the same organization.
CREATE TABLE organization_members (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id          INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role_id          INTEGER NOT NULL REFERENCES roles(id) ON DELETE RESTRICT,
    invited_by       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    status           TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','suspended')),
    joined_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (organization_id, user_id)
);
CREATE INDEX organization_members_user ON organization_members (user_id);
CREATE INDEX organization_members_role ON organization_members (role_id);

CREATE TRIGGER organization_members_role_id_tenant_insert BEFORE INSERT ON organization_members
WHEN (SELECT organization_id FROM roles WHERE id = NEW.role_id) IS NOT NULL
 AND (SELECT organization_id FROM roles WHERE id = NEW.role_id) IS NOT NEW.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: organization_members.role_id');
END;
CREATE TRIGGER organization_members_role_id_tenant_update BEFORE UPDATE OF role_id, organization_id ON organization_members
WHEN (SELECT organization_id FROM roles WHERE id = NEW.role_id) IS NOT NULL
 AND (SELECT organization_id FROM roles WHERE id = NEW.role_id) IS NOT NEW.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: organization_members.role_id');
END;

-- Added table: teams are sub-groups of an organization; bots and the handoff
-- inbox can be assigned to one.
CREATE TABLE teams (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name             TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    description      TEXT,
    created_by       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (organization_id, name)
);

-- Origin: team_roles (tenant_id). Per-team permissions, from the same catalogue.
CREATE TABLE team_roles (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name             TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    permissions      TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(permissions) AND json_type(permissions) = 'array'),
    is_default       INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0,1)),
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (organization_id, name)
);
CREATE UNIQUE INDEX team_roles_one_default ON team_roles (organization_id) WHERE is_default = 1;

-- Origin: team_members (tenant-wide in the origin); now members of one team.
CREATE TABLE team_members (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    team_id          INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    user_id          INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    team_role_id     INTEGER NOT NULL REFERENCES team_roles(id) ON DELETE RESTRICT,
    status           TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','inactive','suspended')),
    invited_by       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    joined_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members (organization_id, user_id);

-- Origin: team_invitations (plain tokens, no email sent). Invitations are how
-- anyone joins an organization: email, organization role, optional team.
CREATE TABLE team_invitations (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    email            TEXT NOT NULL CHECK (email = lower(email)),
    role_id          INTEGER NOT NULL REFERENCES roles(id) ON DELETE RESTRICT,
    team_id          INTEGER REFERENCES teams(id) ON DELETE CASCADE,
    team_role_id     INTEGER REFERENCES team_roles(id) ON DELETE RESTRICT,
    token_hash       BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','accepted','declined','expired','revoked')),
    expires_at       TEXT NOT NULL,
    invited_by       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    accepted_by      INTEGER REFERENCES users(id) ON DELETE SET NULL,
    responded_at     TEXT,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    CHECK ((team_id IS NULL) = (team_role_id IS NULL))
);
CREATE INDEX team_invitations_org ON team_invitations (organization_id, status, created_at);
CREATE INDEX team_invitations_email ON team_invitations (email, status);
CREATE UNIQUE INDEX team_invitations_one_pending ON team_invitations (organization_id, email) WHERE status = 'pending';

CREATE TRIGGER team_invitations_role_id_tenant_insert BEFORE INSERT ON team_invitations
WHEN (SELECT organization_id FROM roles WHERE id = NEW.role_id) IS NOT NULL
 AND (SELECT organization_id FROM roles WHERE id = NEW.role_id) IS NOT NEW.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: team_invitations.role_id');
END;
CREATE TRIGGER team_invitations_role_id_tenant_update BEFORE UPDATE OF role_id, organization_id ON team_invitations
WHEN (SELECT organization_id FROM roles WHERE id = NEW.role_id) IS NOT NULL
 AND (SELECT organization_id FROM roles WHERE id = NEW.role_id) IS NOT NEW.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: team_invitations.role_id');
END;

-- Origin: audit_logs. Append-only; organization_id is NULL for events outside
-- any organization (sign-in failures). Rows go with their organization.
CREATE TABLE audit_logs (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER REFERENCES organizations(id) ON DELETE CASCADE,
    user_id          INTEGER REFERENCES users(id) ON DELETE SET NULL,
    action           TEXT NOT NULL CHECK (length(action) BETWEEN 1 AND 100),
    resource_type    TEXT NOT NULL CHECK (length(resource_type) BETWEEN 1 AND 50),
    resource_id      INTEGER,
    old_values       TEXT CHECK (old_values IS NULL OR json_valid(old_values)),
    new_values       TEXT CHECK (new_values IS NULL OR json_valid(new_values)),
    ip_address       TEXT,
    user_agent       TEXT,
    metadata         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX audit_logs_org ON audit_logs (organization_id, created_at);
CREATE INDEX audit_logs_org_action ON audit_logs (organization_id, action, created_at);
CREATE INDEX audit_logs_org_resource ON audit_logs (organization_id, resource_type, resource_id);
CREATE INDEX audit_logs_user ON audit_logs (user_id, created_at);
CREATE INDEX audit_logs_created ON audit_logs (created_at);

CREATE TRIGGER audit_logs_no_update BEFORE UPDATE ON audit_logs
WHEN NOT (NEW.user_id IS NULL AND OLD.user_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM users WHERE id = OLD.user_id)
          AND NEW.id IS OLD.id AND NEW.organization_id IS OLD.organization_id AND NEW.action IS OLD.action
          AND NEW.resource_type IS OLD.resource_type AND NEW.resource_id IS OLD.resource_id
          AND NEW.old_values IS OLD.old_values AND NEW.new_values IS OLD.new_values
          AND NEW.ip_address IS OLD.ip_address AND NEW.user_agent IS OLD.user_agent
          AND NEW.metadata IS OLD.metadata AND NEW.created_at IS OLD.created_at)
BEGIN
    SELECT RAISE(ABORT, 'append_only: audit_logs');
END;
-- Deleting is allowed only to the retention job (inside its transaction) and
-- when the row's organization itself is being deleted (cascade).
CREATE TRIGGER audit_logs_no_delete BEFORE DELETE ON audit_logs
WHEN NOT EXISTS (SELECT 1 FROM settings WHERE key = 'retention.unlock' AND value = 'true')
 AND (OLD.organization_id IS NULL OR EXISTS (SELECT 1 FROM organizations WHERE id = OLD.organization_id))
BEGIN
    SELECT RAISE(ABORT, 'append_only: audit_logs');
END;

-- Origin: activity_logs (tenant_id). The user-visible activity feed.
CREATE TABLE activity_logs (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id          INTEGER REFERENCES users(id) ON DELETE SET NULL,
    action           TEXT NOT NULL,
    entity_type      TEXT NOT NULL,
    entity_id        INTEGER,
    changes          TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(changes)),
    ip_address       TEXT,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX activity_logs_org ON activity_logs (organization_id, created_at);
CREATE INDEX activity_logs_entity ON activity_logs (organization_id, entity_type, entity_id);

-- Added table: files. Uploaded and generated blobs, content-addressed per
-- organization (NULL organization_id = platform files such as plugin bundles).
CREATE TABLE files (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER REFERENCES organizations(id) ON DELETE CASCADE,
    sha256           TEXT NOT NULL CHECK (length(sha256) = 64),
    size_bytes       INTEGER NOT NULL CHECK (size_bytes >= 0),
    content_type     TEXT NOT NULL DEFAULT 'application/octet-stream',
    name             TEXT,
    data             BLOB NOT NULL,
    created_by       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    CHECK (length(data) = size_bytes)
);
CREATE INDEX files_org ON files (organization_id, created_at);
CREATE UNIQUE INDEX files_content ON files (ifnull(organization_id, 0), sha256);

-- Origin: whitelabel_settings (nullable organization_id, backfilled rows).
CREATE TABLE whitelabel_settings (
    id                      INTEGER PRIMARY KEY,
    organization_id         INTEGER NOT NULL UNIQUE REFERENCES organizations(id) ON DELETE CASCADE,
    brand_name              TEXT NOT NULL DEFAULT 'botbuilder',
    logo_file_id            INTEGER REFERENCES files(id) ON DELETE SET NULL,
    logo_dark_file_id       INTEGER REFERENCES files(id) ON DELETE SET NULL,
    favicon_file_id         INTEGER REFERENCES files(id) ON DELETE SET NULL,
    primary_color           TEXT NOT NULL DEFAULT '#6d28d9' CHECK (primary_color GLOB '#[0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]'),
    secondary_color         TEXT NOT NULL DEFAULT '#6366f1' CHECK (secondary_color GLOB '#[0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]'),
    accent_color            TEXT NOT NULL DEFAULT '#db2777' CHECK (accent_color GLOB '#[0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]'),
    background_color        TEXT NOT NULL DEFAULT '#ffffff' CHECK (background_color GLOB '#[0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]'),
    text_color              TEXT NOT NULL DEFAULT '#1f2937' CHECK (text_color GLOB '#[0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]'),
    custom_domain           TEXT UNIQUE CHECK (custom_domain IS NULL OR custom_domain = lower(custom_domain)),
    custom_domain_verified  INTEGER NOT NULL DEFAULT 0 CHECK (custom_domain_verified IN (0,1)),
    support_email           TEXT,
    company_name            TEXT,
    company_website         TEXT,
    email_from_name         TEXT,
    email_from_address      TEXT,
    email_header_color      TEXT,
    email_footer_text       TEXT,
    privacy_policy_url      TEXT,
    terms_of_service_url    TEXT,
    show_powered_by         INTEGER NOT NULL DEFAULT 1 CHECK (show_powered_by IN (0,1)),
    custom_css              TEXT,
    created_at              TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at              TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);

-- Origin: api_tokens (SHA-256 hashes, JSON object permissions). Tokens are
-- stored as an HMAC under the instance key; scopes are permission names that
-- must be a subset of the creator's.
CREATE TABLE api_tokens (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id          INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    bot_id           INTEGER REFERENCES bots(id) ON DELETE CASCADE,
    token_name       TEXT NOT NULL CHECK (length(token_name) BETWEEN 1 AND 100),
    token_hash       BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    token_prefix     TEXT NOT NULL,
    scopes           TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(scopes) AND json_type(scopes) = 'array'),
    last_used_at     TEXT,
    expires_at       TEXT,
    revoked_at       TEXT,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX api_tokens_org ON api_tokens (organization_id, created_at);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- Origin: entity_versions (tenant_id). Generic snapshots of any entity (bot,
-- flow, agent, workflow, intent, …): the basis of publish and rollback.
CREATE TABLE entity_versions (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    entity_type      TEXT NOT NULL CHECK (entity_type IN ('bot','flow','agent','workflow','intent','entity','knowledge_base','orchestration','tool','nlu_model')),
    entity_id        INTEGER NOT NULL,
    version_number   INTEGER NOT NULL CHECK (version_number >= 1),
    branch_id        INTEGER REFERENCES entity_branches(id) ON DELETE SET NULL,
    data             TEXT NOT NULL CHECK (json_valid(data)),
    created_by       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    commit_message   TEXT,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (organization_id, entity_type, entity_id, version_number)
);
CREATE INDEX entity_versions_entity ON entity_versions (organization_id, entity_type, entity_id, version_number);

-- Origin: entity_branches. A named line of versions (e.g. draft, main).
CREATE TABLE entity_branches (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    entity_type      TEXT NOT NULL CHECK (entity_type IN ('bot','flow','agent','workflow','intent','entity','knowledge_base','orchestration','tool','nlu_model')),
    entity_id        INTEGER NOT NULL,
    branch_name      TEXT NOT NULL CHECK (length(branch_name) BETWEEN 1 AND 100),
    base_version_id  INTEGER REFERENCES entity_versions(id) ON DELETE SET NULL,
    head_version_id  INTEGER REFERENCES entity_versions(id) ON DELETE SET NULL,
    is_main          INTEGER NOT NULL DEFAULT 0 CHECK (is_main IN (0,1)),
    created_by       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (organization_id, entity_type, entity_id, branch_name)
);
CREATE UNIQUE INDEX entity_branches_one_main ON entity_branches (organization_id, entity_type, entity_id) WHERE is_main = 1;

-- Added table: jobs, the durable queue (DESIGN §9). organization_id NULL for
-- platform jobs (retention, email of users outside organizations).
CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER REFERENCES organizations(id) ON DELETE CASCADE,
    kind             TEXT NOT NULL CHECK (length(kind) BETWEEN 1 AND 100),
    payload          TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
    status           TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued','running','succeeded','failed','dead','cancelled')),
    priority         INTEGER NOT NULL DEFAULT 0,
    attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts     INTEGER NOT NULL DEFAULT 5 CHECK (max_attempts >= 1),
    run_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    locked_until     TEXT,
    locked_by        TEXT,
    idempotency_key  TEXT UNIQUE,
    progress         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(progress)),
    result           TEXT CHECK (result IS NULL OR json_valid(result)),
    last_error       TEXT,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    started_at       TEXT,
    finished_at      TEXT
);
-- The dequeue query `(status = 'queued' AND run_at <= now) OR (status =
-- 'running' AND locked_until < now)` runs as a MULTI-INDEX OR over these two
-- partial indexes; finished jobs (the bulk of the table) are in neither.
CREATE INDEX jobs_queued ON jobs (run_at, priority) WHERE status = 'queued';
CREATE INDEX jobs_leases ON jobs (locked_until) WHERE status = 'running';
CREATE INDEX jobs_org ON jobs (organization_id, kind, created_at);

-- Added table: organization webhook subscriptions. The signing secret is
-- encrypted; deliveries are signed with HMAC (the origin sent it in clear).
CREATE TABLE webhooks (
    id                INTEGER PRIMARY KEY,
    organization_id   INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    url               TEXT NOT NULL CHECK (url LIKE 'http://%' OR url LIKE 'https://%'),
    secret_encrypted  BLOB NOT NULL,
    events            TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(events) AND json_type(events) = 'array'),
    description       TEXT,
    is_active         INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0,1)),
    created_by        INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX webhooks_org ON webhooks (organization_id, is_active);

-- Origin: webhook_logs (a dead per-bot table). Now the delivery log of
-- organization webhooks, with retries.
CREATE TABLE webhook_logs (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    webhook_id       INTEGER NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_type       TEXT NOT NULL,
    payload          TEXT NOT NULL CHECK (json_valid(payload)),
    attempt          INTEGER NOT NULL DEFAULT 1 CHECK (attempt >= 1),
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','delivered','failed','dead')),
    response_status  INTEGER,
    response_body    TEXT CHECK (response_body IS NULL OR length(response_body) <= 4096),   -- truncated
    duration_ms      INTEGER,
    error_message    TEXT,
    next_retry_at    TEXT,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX webhook_logs_webhook ON webhook_logs (organization_id, webhook_id, created_at);

-- Origin: email_notifications (dead). Now the email queue: the job sends
-- pending rows through SMTP and records the outcome.
CREATE TABLE email_notifications (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER REFERENCES organizations(id) ON DELETE CASCADE,
    user_id          INTEGER REFERENCES users(id) ON DELETE SET NULL,
    email_type       TEXT NOT NULL CHECK (email_type IN ('verify_email','password_reset','invitation','usage_alert','recovery','notification','welcome','security')),
    recipient_email  TEXT NOT NULL CHECK (instr(recipient_email, '@') > 1),
    subject          TEXT NOT NULL,
    body_text        TEXT NOT NULL,
    body_html        TEXT,
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','sending','sent','failed')),
    attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error       TEXT,
    sent_at          TEXT,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX email_notifications_status ON email_notifications (status, created_at);
CREATE INDEX email_notifications_org ON email_notifications (organization_id, created_at);

-- Bots, canned messages, flow versions, orchestrations, conversations, the
-- widget and per-bot LLM settings.

-- Origin: bots. platform is the bot's primary channel; channels attach more.
CREATE TABLE bots (
    id                       INTEGER PRIMARY KEY,
    organization_id          INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    created_by               INTEGER REFERENCES users(id) ON DELETE SET NULL,
    team_id                  INTEGER REFERENCES teams(id) ON DELETE SET NULL,
    name                     TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    description              TEXT,
    platform                 TEXT NOT NULL DEFAULT 'web' CHECK (platform IN ('web','telegram','whatsapp','slack','messenger','sms','voice','discord','instagram')),
    language                 TEXT NOT NULL DEFAULT 'en' CHECK (length(language) BETWEEN 2 AND 35),
    avatar_file_id           INTEGER REFERENCES files(id) ON DELETE SET NULL,
    -- Public identifier the web widget is embedded with (rotatable; not a secret).
    widget_key               TEXT NOT NULL UNIQUE,
    webhook_url              TEXT,
    webhook_secret_encrypted BLOB,
    last_webhook_call        TEXT,
    is_active                INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0,1)),
    settings                 TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings)),
    total_messages_received  INTEGER NOT NULL DEFAULT 0 CHECK (total_messages_received >= 0),
    total_messages_sent      INTEGER NOT NULL DEFAULT 0 CHECK (total_messages_sent >= 0),
    created_at               TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at               TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX bots_org ON bots (organization_id, created_at);

-- Plan limit at insert (the origin hard-coded it in a route): bots per
-- organization against its plan's max_bots (-1 = unlimited).
CREATE TRIGGER bots_plan_limit BEFORE INSERT ON bots
WHEN (SELECT p.max_bots FROM organizations o JOIN subscription_plans p ON p.name = o.plan_tier WHERE o.id = NEW.organization_id) >= 0
 AND (SELECT count(*) FROM bots WHERE organization_id = NEW.organization_id)
     >= (SELECT p.max_bots FROM organizations o JOIN subscription_plans p ON p.name = o.plan_tier WHERE o.id = NEW.organization_id)
BEGIN
    SELECT RAISE(ABORT, 'plan_limit_exceeded: bots');
END;

-- Usage of a deleted bot is folded into its organization's totals, so that
-- deleting bots cannot reset message limits. (Not when the organization
-- itself is being deleted: its usage goes with it.)
CREATE TRIGGER bots_fold_usage BEFORE DELETE ON bots
BEGIN
    INSERT INTO usage_tracking (organization_id, bot_id, metric_type, day, count)
        SELECT organization_id, NULL, metric_type, day, count FROM usage_tracking
        WHERE bot_id = OLD.id AND EXISTS (SELECT 1 FROM organizations WHERE id = OLD.organization_id)
        ON CONFLICT (organization_id, ifnull(bot_id, 0), metric_type, day) DO UPDATE SET count = count + excluded.count;
    DELETE FROM usage_tracking WHERE bot_id = OLD.id;
END;

-- Origin: bot_messages. Canned replies (greeting, fallback, help, command…)
-- matched by keyword at run time.
CREATE TABLE bot_messages (
    id                INTEGER PRIMARY KEY,
    organization_id   INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id            INTEGER NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    message_type      TEXT NOT NULL CHECK (message_type IN ('greeting','response','fallback','command','help')),
    content           TEXT NOT NULL CHECK (length(content) BETWEEN 1 AND 4000),
    trigger_keywords  TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(trigger_keywords) AND json_type(trigger_keywords) = 'array'),
    priority          INTEGER NOT NULL DEFAULT 0,
    is_active         INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0,1)),
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX bot_messages_bot ON bot_messages (organization_id, bot_id, message_type);

-- Origin: bot_flows. Immutable versions of a flow document; a bot may have
-- several named flows; exactly one version of each is active (published).
CREATE TABLE bot_flows (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id           INTEGER NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    name             TEXT NOT NULL DEFAULT 'main' CHECK (length(name) BETWEEN 1 AND 100),
    flow_data        TEXT NOT NULL CHECK (json_valid(flow_data)),
    version          INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    is_active        INTEGER NOT NULL DEFAULT 0 CHECK (is_active IN (0,1)),
    commit_message   TEXT,
    created_by       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (bot_id, name, version)
);
CREATE INDEX bot_flows_bot ON bot_flows (organization_id, bot_id, name, version);
-- Backstop of the trigger below.
CREATE UNIQUE INDEX bot_flows_one_active ON bot_flows (bot_id, name) WHERE is_active = 1;

-- Activating a version deactivates the others of the same flow.
CREATE TRIGGER bot_flows_one_active_insert BEFORE INSERT ON bot_flows WHEN NEW.is_active = 1
BEGIN
    UPDATE bot_flows SET is_active = 0 WHERE bot_id = NEW.bot_id AND name = NEW.name AND is_active = 1;
END;
CREATE TRIGGER bot_flows_one_active_update BEFORE UPDATE OF is_active ON bot_flows WHEN NEW.is_active = 1 AND OLD.is_active = 0
BEGIN
    UPDATE bot_flows SET is_active = 0 WHERE bot_id = NEW.bot_id AND name = NEW.name AND is_active = 1 AND id <> NEW.id;
END;

-- Origin: flow_orchestrations (entry_flow_id had no FK). Flows are addressed
-- by name (bot_flows.name), so routing follows whichever version of a flow is
-- published.
CREATE TABLE flow_orchestrations (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id           INTEGER NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    name             TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    description      TEXT,
    is_active        INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0,1)),
    -- The name of the bot flow conversations start in.
    entry_flow       TEXT NOT NULL DEFAULT 'main' CHECK (length(entry_flow) BETWEEN 1 AND 100),
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (bot_id, name)
);
CREATE INDEX flow_orchestrations_org ON flow_orchestrations (organization_id, bot_id);

-- Origin: flow_transitions (from/to flow ids without FKs). Flows are
-- addressed by name so that transitions survive new versions.
CREATE TABLE flow_transitions (
    id                INTEGER PRIMARY KEY,
    organization_id   INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    orchestration_id  INTEGER NOT NULL REFERENCES flow_orchestrations(id) ON DELETE CASCADE,
    from_flow         TEXT NOT NULL CHECK (length(from_flow) BETWEEN 1 AND 100),
    to_flow           TEXT NOT NULL CHECK (length(to_flow) BETWEEN 1 AND 100),
    trigger_type      TEXT NOT NULL CHECK (trigger_type IN ('on_complete','on_condition','on_intent','on_keyword')),
    trigger_value     TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(trigger_value)),
    priority          INTEGER NOT NULL DEFAULT 0,
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX flow_transitions_orch ON flow_transitions (organization_id, orchestration_id, from_flow, priority);

-- Origin: flow_variables. Declarations; values persist per conversation in
-- conversations.state (the origin kept them in memory).
CREATE TABLE flow_variables (
    id                INTEGER PRIMARY KEY,
    organization_id   INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    orchestration_id  INTEGER NOT NULL REFERENCES flow_orchestrations(id) ON DELETE CASCADE,
    name              TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    type              TEXT NOT NULL DEFAULT 'string' CHECK (type IN ('string','number','boolean','date','list','object')),
    default_value     TEXT CHECK (default_value IS NULL OR json_valid(default_value)),
    scope             TEXT NOT NULL DEFAULT 'session' CHECK (scope IN ('global','session','flow')),
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (orchestration_id, name)
);
CREATE INDEX flow_variables_org ON flow_variables (organization_id, orchestration_id);

-- Added table: conversations. One per bot × channel × end-user session;
-- state holds the flow position and variables, written in the same
-- transaction as the transcript.
CREATE TABLE conversations (
    id                INTEGER PRIMARY KEY,
    organization_id   INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id            INTEGER NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    channel           TEXT NOT NULL CHECK (channel IN ('web','widget','api','emulator','telegram','whatsapp','slack','messenger','sms','voice','instagram')),
    channel_id        INTEGER REFERENCES channels(id) ON DELETE SET NULL,
    external_user_id  TEXT NOT NULL CHECK (length(external_user_id) BETWEEN 1 AND 200),
    contact_id        INTEGER REFERENCES channel_contacts(id) ON DELETE SET NULL,
    status            TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open','handoff','closed')),
    state             TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(state)),
    assignee_user_id  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    team_id           INTEGER REFERENCES teams(id) ON DELETE SET NULL,
    csat              INTEGER CHECK (csat IS NULL OR csat BETWEEN 1 AND 5),
    resolution        TEXT,
    message_count     INTEGER NOT NULL DEFAULT 0 CHECK (message_count >= 0),
    last_message_at   TEXT,
    handoff_at        TEXT,
    closed_at         TEXT,
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (bot_id, channel, external_user_id)
);
CREATE INDEX conversations_org ON conversations (organization_id, bot_id, last_message_at);
CREATE INDEX conversations_inbox ON conversations (organization_id, status, team_id, last_message_at) WHERE status = 'handoff';

-- Origin: widget_configs. One per bot; allowed_origins limits CORS.
CREATE TABLE widget_configs (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id           INTEGER NOT NULL UNIQUE REFERENCES bots(id) ON DELETE CASCADE,
    config           TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(config)),
    allowed_origins  TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(allowed_origins) AND json_type(allowed_origins) = 'array'),
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX widget_configs_org ON widget_configs (organization_id, bot_id);

-- Origin: widget_messages (user/assistant history of widget sessions). Now
-- the transcript of every conversation, whatever its channel.
CREATE TABLE widget_messages (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id           INTEGER NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    conversation_id  INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    session_id       TEXT NOT NULL,
    role             TEXT NOT NULL CHECK (role IN ('user','bot','agent','system','note')),
    content          TEXT NOT NULL,
    payload          TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
    author_user_id   INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX widget_messages_conversation ON widget_messages (organization_id, conversation_id, id);
CREATE INDEX widget_messages_bot ON widget_messages (organization_id, bot_id, created_at);

-- A transcript message belongs to its conversation's bot (the counters below
-- and per-bot analytics rely on it).
CREATE TRIGGER widget_messages_bot_id_parent_insert BEFORE INSERT ON widget_messages
WHEN NEW.organization_id IS (SELECT organization_id FROM conversations WHERE id = NEW.conversation_id)
 AND NEW.organization_id IS (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
 AND NEW.bot_id IS NOT (SELECT bot_id FROM conversations WHERE id = NEW.conversation_id)
BEGIN
    SELECT RAISE(ABORT, 'parent_mismatch: widget_messages.bot_id');
END;
CREATE TRIGGER widget_messages_bot_id_parent_update BEFORE UPDATE OF bot_id, conversation_id ON widget_messages
WHEN NEW.organization_id IS (SELECT organization_id FROM conversations WHERE id = NEW.conversation_id)
 AND NEW.organization_id IS (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
 AND NEW.bot_id IS NOT (SELECT bot_id FROM conversations WHERE id = NEW.conversation_id)
BEGIN
    SELECT RAISE(ABORT, 'parent_mismatch: widget_messages.bot_id');
END;

-- Counters: bots.total_messages_* and conversations.message_count follow the transcript.
CREATE TRIGGER widget_messages_count AFTER INSERT ON widget_messages
BEGIN
    UPDATE bots SET
        total_messages_received = total_messages_received + (NEW.role = 'user'),
        total_messages_sent = total_messages_sent + (NEW.role IN ('bot','agent'))
    WHERE id = NEW.bot_id;
    UPDATE conversations SET message_count = message_count + 1, last_message_at = NEW.created_at
    WHERE id = NEW.conversation_id;
END;

-- Added table: llm_providers. Per-organization OpenAI-compatible endpoints;
-- the key is AEAD-encrypted.
CREATE TABLE llm_providers (
    id                 INTEGER PRIMARY KEY,
    organization_id    INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name               TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    kind               TEXT NOT NULL DEFAULT 'openai_compatible' CHECK (kind IN ('openai_compatible')),
    base_url           TEXT NOT NULL CHECK (base_url LIKE 'http://%' OR base_url LIKE 'https://%'),
    default_model      TEXT NOT NULL,
    api_key_encrypted  BLOB,
    timeout_ms         INTEGER NOT NULL DEFAULT 60000 CHECK (timeout_ms BETWEEN 100 AND 600000),
    max_retries        INTEGER NOT NULL DEFAULT 2 CHECK (max_retries BETWEEN 0 AND 10),
    is_default         INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0,1)),
    is_active          INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0,1)),
    created_by         INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (organization_id, name)
);
CREATE UNIQUE INDEX llm_providers_one_default ON llm_providers (organization_id) WHERE is_default = 1;

-- Added table (origin: ai_configurations outside the 95, two competing
-- definitions). Per-bot LLM settings; the provider holds the endpoint and key.
CREATE TABLE ai_configurations (
    id                 INTEGER PRIMARY KEY,
    organization_id    INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id             INTEGER NOT NULL UNIQUE REFERENCES bots(id) ON DELETE CASCADE,
    provider_id        INTEGER REFERENCES llm_providers(id) ON DELETE SET NULL,
    model              TEXT,
    temperature        REAL NOT NULL DEFAULT 0.7 CHECK (temperature BETWEEN 0 AND 2),
    max_tokens         INTEGER NOT NULL DEFAULT 1000 CHECK (max_tokens BETWEEN 1 AND 100000),
    system_prompt      TEXT NOT NULL DEFAULT 'You are a helpful assistant.',
    context_window     INTEGER NOT NULL DEFAULT 10 CHECK (context_window BETWEEN 0 AND 100),
    enable_streaming   INTEGER NOT NULL DEFAULT 1 CHECK (enable_streaming IN (0,1)),
    knowledge_base_id  INTEGER REFERENCES knowledge_bases(id) ON DELETE SET NULL,
    enable_rag         INTEGER NOT NULL DEFAULT 1 CHECK (enable_rag IN (0,1)),
    rag_threshold      REAL NOT NULL DEFAULT 0.3 CHECK (rag_threshold BETWEEN 0 AND 1),
    rag_max_chunks     INTEGER NOT NULL DEFAULT 5 CHECK (rag_max_chunks BETWEEN 1 AND 50),
    is_enabled         INTEGER NOT NULL DEFAULT 1 CHECK (is_enabled IN (0,1)),
    created_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX ai_configurations_org ON ai_configurations (organization_id, bot_id);

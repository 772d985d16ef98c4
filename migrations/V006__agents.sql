-- AI agents of bots, their workflows and executions, autonomous agents with
-- tasks, and tools. Every step and tool call is recorded.

-- Origin: agents (020 SQL, the operative definition).
CREATE TABLE agents (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id           INTEGER REFERENCES bots(id) ON DELETE CASCADE,
    name             TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    role             TEXT NOT NULL CHECK (role IN ('orchestrator','router','researcher','analyzer','writer','reviewer','custom')),
    system_prompt    TEXT NOT NULL,
    provider_id      INTEGER REFERENCES llm_providers(id) ON DELETE SET NULL,
    model_name       TEXT,
    temperature      REAL NOT NULL DEFAULT 0.7 CHECK (temperature BETWEEN 0 AND 2),
    max_tokens       INTEGER NOT NULL DEFAULT 2048 CHECK (max_tokens BETWEEN 1 AND 100000),
    capabilities     TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(capabilities) AND json_type(capabilities) = 'array'),
    settings         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings)),
    is_active        INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0,1)),
    created_by       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX agents_org ON agents (organization_id, bot_id, is_active);

-- Origin: agent_workflows.
CREATE TABLE agent_workflows (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id           INTEGER REFERENCES bots(id) ON DELETE CASCADE,
    name             TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    description      TEXT,
    workflow_type    TEXT NOT NULL DEFAULT 'sequential' CHECK (workflow_type IN ('sequential','parallel','conditional','mixed')),
    agents_config    TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(agents_config) AND json_type(agents_config) = 'array'),
    flow_config      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(flow_config)),
    entry_agent_id   INTEGER REFERENCES agents(id) ON DELETE SET NULL,
    is_default       INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0,1)),
    is_active        INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0,1)),
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX agent_workflows_org ON agent_workflows (organization_id, bot_id, is_active);

-- Origin: workflow_executions.
CREATE TABLE workflow_executions (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    workflow_id      INTEGER REFERENCES agent_workflows(id) ON DELETE CASCADE,
    bot_id           INTEGER REFERENCES bots(id) ON DELETE CASCADE,
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','running','completed','failed','cancelled')),
    input            TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(input)),
    output           TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(output)),
    total_tokens     INTEGER NOT NULL DEFAULT 0 CHECK (total_tokens >= 0),
    total_cost_micros INTEGER NOT NULL DEFAULT 0 CHECK (total_cost_micros >= 0),  -- millionths of a USD
    duration_ms      INTEGER NOT NULL DEFAULT 0 CHECK (duration_ms >= 0),
    error            TEXT,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX workflow_executions_org ON workflow_executions (organization_id, workflow_id, created_at);

-- Origin: agent_execution_steps.
CREATE TABLE agent_execution_steps (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    execution_id     INTEGER NOT NULL REFERENCES workflow_executions(id) ON DELETE CASCADE,
    agent_id         INTEGER REFERENCES agents(id) ON DELETE SET NULL,
    step_order       INTEGER NOT NULL DEFAULT 0,
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','running','completed','failed','skipped')),
    input            TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(input)),
    output           TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(output)),
    reasoning        TEXT,
    tokens_used      INTEGER NOT NULL DEFAULT 0 CHECK (tokens_used >= 0),
    duration_ms      INTEGER NOT NULL DEFAULT 0 CHECK (duration_ms >= 0),
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX agent_execution_steps_exec ON agent_execution_steps (organization_id, execution_id, step_order);

-- Origin: agent_messages (agent-to-agent messages within an execution).
CREATE TABLE agent_messages (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    execution_id     INTEGER NOT NULL REFERENCES workflow_executions(id) ON DELETE CASCADE,
    from_agent_id    INTEGER REFERENCES agents(id) ON DELETE SET NULL,
    to_agent_id      INTEGER REFERENCES agents(id) ON DELETE SET NULL,
    message_type     TEXT NOT NULL DEFAULT 'data' CHECK (message_type IN ('data','request','response','handoff','error')),
    content          TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(content)),
    metadata         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX agent_messages_exec ON agent_messages (organization_id, execution_id, id);

-- Origin: autonomous_agents (user-owned in the origin).
CREATE TABLE autonomous_agents (
    id                INTEGER PRIMARY KEY,
    organization_id   INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id           INTEGER REFERENCES users(id) ON DELETE SET NULL,
    name              TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    description       TEXT,
    capabilities      TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(capabilities) AND json_type(capabilities) = 'array'),
    provider_id       INTEGER REFERENCES llm_providers(id) ON DELETE SET NULL,
    model             TEXT,
    temperature       REAL NOT NULL DEFAULT 0.7 CHECK (temperature BETWEEN 0 AND 2),
    max_tokens        INTEGER NOT NULL DEFAULT 4096 CHECK (max_tokens BETWEEN 1 AND 100000),
    system_prompt     TEXT,
    status            TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','paused','archived')),
    settings          TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings)),
    schedule          TEXT CHECK (schedule IS NULL OR json_valid(schedule)),
    total_tasks       INTEGER NOT NULL DEFAULT 0 CHECK (total_tasks >= 0),
    successful_tasks  INTEGER NOT NULL DEFAULT 0 CHECK (successful_tasks >= 0),
    failed_tasks      INTEGER NOT NULL DEFAULT 0 CHECK (failed_tasks >= 0),
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX autonomous_agents_org ON autonomous_agents (organization_id, status);

-- Origin: agent_tasks.
CREATE TABLE agent_tasks (
    id                INTEGER PRIMARY KEY,
    organization_id   INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    agent_id          INTEGER NOT NULL REFERENCES autonomous_agents(id) ON DELETE CASCADE,
    task_description  TEXT NOT NULL,
    input_data        TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(input_data)),
    status            TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','running','completed','failed','cancelled')),
    result            TEXT CHECK (result IS NULL OR json_valid(result)),
    error_message     TEXT,
    total_steps       INTEGER NOT NULL DEFAULT 0,
    completed_steps   INTEGER NOT NULL DEFAULT 0,
    tokens_used       INTEGER NOT NULL DEFAULT 0,
    cost_micros       INTEGER NOT NULL DEFAULT 0 CHECK (cost_micros >= 0),
    started_at        TEXT,
    completed_at      TEXT,
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX agent_tasks_agent ON agent_tasks (organization_id, agent_id, created_at);

-- Task counters of autonomous agents follow task outcomes.
CREATE TRIGGER agent_tasks_count_insert AFTER INSERT ON agent_tasks
BEGIN
    UPDATE autonomous_agents SET total_tasks = total_tasks + 1 WHERE id = NEW.agent_id;
END;
CREATE TRIGGER agent_tasks_count_outcome AFTER UPDATE OF status ON agent_tasks
WHEN NEW.status IN ('completed','failed') AND OLD.status NOT IN ('completed','failed')
BEGIN
    UPDATE autonomous_agents SET
        successful_tasks = successful_tasks + (NEW.status = 'completed'),
        failed_tasks = failed_tasks + (NEW.status = 'failed')
    WHERE id = NEW.agent_id;
END;

-- Origin: task_steps.
CREATE TABLE task_steps (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    task_id          INTEGER NOT NULL REFERENCES agent_tasks(id) ON DELETE CASCADE,
    step_number      INTEGER NOT NULL CHECK (step_number >= 1),
    action           TEXT NOT NULL,
    action_type      TEXT NOT NULL DEFAULT 'think' CHECK (action_type IN ('think','plan','execute','tool','compile')),
    input            TEXT CHECK (input IS NULL OR json_valid(input)),
    output           TEXT CHECK (output IS NULL OR json_valid(output)),
    reasoning        TEXT,
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','running','completed','failed','skipped')),
    tokens_used      INTEGER NOT NULL DEFAULT 0,
    duration_ms      INTEGER,
    error_message    TEXT,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    completed_at     TEXT,
    UNIQUE (task_id, step_number)
);
CREATE INDEX task_steps_org ON task_steps (organization_id, task_id, step_number);

-- Origin: tools.
CREATE TABLE tools (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id           INTEGER REFERENCES bots(id) ON DELETE CASCADE,
    name             TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    description      TEXT,
    tool_type        TEXT NOT NULL CHECK (tool_type IN ('http_request','knowledge_search','code_execution','database_query','email','web_scraper','custom')),
    configuration    TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(configuration)),
    input_schema     TEXT CHECK (input_schema IS NULL OR json_valid(input_schema)),
    output_schema    TEXT CHECK (output_schema IS NULL OR json_valid(output_schema)),
    is_active        INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0,1)),
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX tools_org ON tools (organization_id, bot_id, is_active);

-- Origin: agent_tools.
CREATE TABLE agent_tools (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    agent_id         INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    tool_id          INTEGER NOT NULL REFERENCES tools(id) ON DELETE CASCADE,
    is_enabled       INTEGER NOT NULL DEFAULT 1 CHECK (is_enabled IN (0,1)),
    priority         INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (agent_id, tool_id)
);
CREATE INDEX agent_tools_org ON agent_tools (organization_id, agent_id);
CREATE INDEX agent_tools_tool ON agent_tools (tool_id);

-- Origin: tool_executions (agent and execution FKs had no ON DELETE).
CREATE TABLE tool_executions (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    tool_id          INTEGER NOT NULL REFERENCES tools(id) ON DELETE CASCADE,
    agent_id         INTEGER REFERENCES agents(id) ON DELETE SET NULL,
    execution_id     INTEGER REFERENCES workflow_executions(id) ON DELETE SET NULL,
    task_id          INTEGER REFERENCES agent_tasks(id) ON DELETE SET NULL,
    input            TEXT CHECK (input IS NULL OR json_valid(input)),
    output           TEXT CHECK (output IS NULL OR json_valid(output)),
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','running','completed','failed')),
    error            TEXT,
    duration_ms      INTEGER,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX tool_executions_tool ON tool_executions (organization_id, tool_id, created_at);

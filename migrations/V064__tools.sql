-- Tools, issue 19 item 2: the tool framework.
--
-- 1. `tools.tool_type` gains the types the executor runs ('http',
--    'knowledge_search', 'database', 'flow_action', 'webhook', 'code'); the
--    origin's names stay allowed so old rows remain valid (the executor
--    refuses them with a clear error). Added: `timeout_ms` (per tool, the
--    executor's limit) and a unique name per organization.
-- 2. `tool_executions.status` gains 'ok', 'error' and 'timeout' (what the
--    executor records); added `source` (test, agent, workflow, task, flow),
--    `idempotency_key` (sent by HTTP tools, so a retried run does not repeat
--    a side effect) and `created_by` (who ran a test).
--
-- SQLite cannot alter a CHECK, so both tables are rebuilt the documented way
-- (new table, copy, drop, rename); `apply_migrations` runs with foreign keys
-- off and checks them afterwards; the legacy rename leaves the triggers of
-- other tables that name these tables as they are. The triggers V016 gave
-- the two tables themselves are dropped with them and created again.
PRAGMA legacy_alter_table = ON;

CREATE TABLE tools_new (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id           INTEGER REFERENCES bots(id) ON DELETE CASCADE,
    name             TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    description      TEXT,
    tool_type        TEXT NOT NULL CHECK (tool_type IN ('http','knowledge_search','database','flow_action','webhook','code',
                                                        'http_request','code_execution','database_query','email','web_scraper','custom')),
    configuration    TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(configuration)),
    input_schema     TEXT CHECK (input_schema IS NULL OR json_valid(input_schema)),
    output_schema    TEXT CHECK (output_schema IS NULL OR json_valid(output_schema)),
    is_active        INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0,1)),
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    timeout_ms       INTEGER NOT NULL DEFAULT 10000 CHECK (timeout_ms BETWEEN 100 AND 120000)
);
INSERT INTO tools_new (id, organization_id, bot_id, name, description, tool_type, configuration, input_schema,
    output_schema, is_active, created_at, updated_at)
SELECT id, organization_id, bot_id, name, description, tool_type, configuration, input_schema,
    output_schema, is_active, created_at, updated_at FROM tools;
DROP TABLE tools;
ALTER TABLE tools_new RENAME TO tools;
CREATE INDEX tools_org ON tools (organization_id, bot_id, is_active);
CREATE UNIQUE INDEX tools_org_name ON tools (organization_id, name);
CREATE INDEX tools_fk_bot_id ON tools (bot_id);
CREATE TRIGGER tools_updated_at AFTER UPDATE ON tools WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE tools SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER tools_organization_id_immutable BEFORE UPDATE OF organization_id ON tools
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: tools.organization_id');
END;
CREATE TRIGGER tools_bot_id_tenant_insert BEFORE INSERT ON tools
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: tools.bot_id');
END;
CREATE TRIGGER tools_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON tools
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: tools.bot_id');
END;

CREATE TABLE tool_executions_new (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    tool_id          INTEGER NOT NULL REFERENCES tools(id) ON DELETE CASCADE,
    agent_id         INTEGER REFERENCES agents(id) ON DELETE SET NULL,
    execution_id     INTEGER REFERENCES workflow_executions(id) ON DELETE SET NULL,
    task_id          INTEGER REFERENCES agent_tasks(id) ON DELETE SET NULL,
    input            TEXT CHECK (input IS NULL OR json_valid(input)),
    output           TEXT CHECK (output IS NULL OR json_valid(output)),
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','running','completed','failed','ok','error','timeout')),
    error            TEXT,
    duration_ms      INTEGER,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    source           TEXT NOT NULL DEFAULT 'test' CHECK (source IN ('test','agent','workflow','task','flow')),
    idempotency_key  TEXT,
    created_by       INTEGER REFERENCES users(id) ON DELETE SET NULL
);
INSERT INTO tool_executions_new (id, organization_id, tool_id, agent_id, execution_id, task_id, input, output, status,
    error, duration_ms, created_at)
SELECT id, organization_id, tool_id, agent_id, execution_id, task_id, input, output, status,
    error, duration_ms, created_at FROM tool_executions;
DROP TABLE tool_executions;
ALTER TABLE tool_executions_new RENAME TO tool_executions;
CREATE INDEX tool_executions_tool ON tool_executions (organization_id, tool_id, created_at);
CREATE INDEX tool_executions_fk_tool_id ON tool_executions (tool_id);
CREATE INDEX tool_executions_fk_agent_id ON tool_executions (agent_id);
CREATE INDEX tool_executions_fk_execution_id ON tool_executions (execution_id);
CREATE INDEX tool_executions_fk_task_id ON tool_executions (task_id);
CREATE TRIGGER tool_executions_organization_id_immutable BEFORE UPDATE OF organization_id ON tool_executions
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: tool_executions.organization_id');
END;
CREATE TRIGGER tool_executions_tool_id_tenant_insert BEFORE INSERT ON tool_executions
WHEN NEW.tool_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM tools WHERE id = NEW.tool_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: tool_executions.tool_id');
END;
CREATE TRIGGER tool_executions_tool_id_tenant_update BEFORE UPDATE OF tool_id, organization_id ON tool_executions
WHEN NEW.tool_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM tools WHERE id = NEW.tool_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: tool_executions.tool_id');
END;
CREATE TRIGGER tool_executions_agent_id_tenant_insert BEFORE INSERT ON tool_executions
WHEN NEW.agent_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM agents WHERE id = NEW.agent_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: tool_executions.agent_id');
END;
CREATE TRIGGER tool_executions_agent_id_tenant_update BEFORE UPDATE OF agent_id, organization_id ON tool_executions
WHEN NEW.agent_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM agents WHERE id = NEW.agent_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: tool_executions.agent_id');
END;
CREATE TRIGGER tool_executions_execution_id_tenant_insert BEFORE INSERT ON tool_executions
WHEN NEW.execution_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM workflow_executions WHERE id = NEW.execution_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: tool_executions.execution_id');
END;
CREATE TRIGGER tool_executions_execution_id_tenant_update BEFORE UPDATE OF execution_id, organization_id ON tool_executions
WHEN NEW.execution_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM workflow_executions WHERE id = NEW.execution_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: tool_executions.execution_id');
END;
CREATE TRIGGER tool_executions_task_id_tenant_insert BEFORE INSERT ON tool_executions
WHEN NEW.task_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM agent_tasks WHERE id = NEW.task_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: tool_executions.task_id');
END;
CREATE TRIGGER tool_executions_task_id_tenant_update BEFORE UPDATE OF task_id, organization_id ON tool_executions
WHEN NEW.task_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM agent_tasks WHERE id = NEW.task_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: tool_executions.task_id');
END;

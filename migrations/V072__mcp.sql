-- MCP, issue 19 item 2: Model Context Protocol servers as tool providers,
-- and bots exposed as MCP servers.
--
-- 1. `mcp_servers`: an organization's connections to MCP servers
--    (streamable HTTP): URL, the vault integration whose secret is sent as
--    the auth header, and the tool list last read from the server.
-- 2. `tools.tool_type` gains 'mcp' (a tool of an MCP server: config names
--    the server and the tool; its argument schema comes from the server).
-- 3. `tool_executions`: `source` gains 'mcp' (a call through a bot's MCP
--    endpoint); `tool_name` and `bot_id` record calls of the built-in
--    knowledge search a bot's MCP endpoint offers, which has no `tools`
--    row, so `tool_id` may be NULL when `tool_name` is set.
--
-- Both tables are rebuilt as V064 did (SQLite cannot alter a CHECK); every
-- column and trigger of V064 is kept.
PRAGMA legacy_alter_table = ON;

CREATE TABLE mcp_servers (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name             TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    url              TEXT NOT NULL CHECK (length(url) BETWEEN 8 AND 2048),
    integration_id   INTEGER REFERENCES integrations(id) ON DELETE SET NULL,
    auth_header      TEXT NOT NULL DEFAULT 'Authorization',
    auth_prefix      TEXT NOT NULL DEFAULT 'Bearer ',
    status           TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new','ok','error')),
    last_error       TEXT,
    server_name      TEXT,
    protocol_version TEXT,
    tools            TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tools)),
    refreshed_at     TEXT,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE UNIQUE INDEX mcp_servers_org_name ON mcp_servers (organization_id, name);
CREATE INDEX mcp_servers_fk_integration_id ON mcp_servers (integration_id);
CREATE TRIGGER mcp_servers_updated_at AFTER UPDATE ON mcp_servers WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE mcp_servers SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;
CREATE TRIGGER mcp_servers_organization_id_immutable BEFORE UPDATE OF organization_id ON mcp_servers
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: mcp_servers.organization_id');
END;
CREATE TRIGGER mcp_servers_integration_id_tenant_insert BEFORE INSERT ON mcp_servers
WHEN NEW.integration_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM integrations WHERE id = NEW.integration_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: mcp_servers.integration_id');
END;
CREATE TRIGGER mcp_servers_integration_id_tenant_update BEFORE UPDATE OF integration_id, organization_id ON mcp_servers
WHEN NEW.integration_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM integrations WHERE id = NEW.integration_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: mcp_servers.integration_id');
END;

CREATE TABLE tools_new (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id           INTEGER REFERENCES bots(id) ON DELETE CASCADE,
    name             TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    description      TEXT,
    tool_type        TEXT NOT NULL CHECK (tool_type IN ('http','knowledge_search','database','flow_action','webhook','code','mcp',
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
    output_schema, is_active, created_at, updated_at, timeout_ms)
SELECT id, organization_id, bot_id, name, description, tool_type, configuration, input_schema,
    output_schema, is_active, created_at, updated_at, timeout_ms FROM tools;
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
    tool_id          INTEGER REFERENCES tools(id) ON DELETE CASCADE,
    agent_id         INTEGER REFERENCES agents(id) ON DELETE SET NULL,
    execution_id     INTEGER REFERENCES workflow_executions(id) ON DELETE SET NULL,
    task_id          INTEGER REFERENCES agent_tasks(id) ON DELETE SET NULL,
    input            TEXT CHECK (input IS NULL OR json_valid(input)),
    output           TEXT CHECK (output IS NULL OR json_valid(output)),
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','running','completed','failed','ok','error','timeout')),
    error            TEXT,
    duration_ms      INTEGER,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    source           TEXT NOT NULL DEFAULT 'test' CHECK (source IN ('test','agent','workflow','task','flow','mcp')),
    idempotency_key  TEXT,
    created_by       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    tool_name        TEXT,
    bot_id           INTEGER REFERENCES bots(id) ON DELETE CASCADE,
    CHECK (tool_id IS NOT NULL OR tool_name IS NOT NULL)
);
INSERT INTO tool_executions_new (id, organization_id, tool_id, agent_id, execution_id, task_id, input, output, status,
    error, duration_ms, created_at, source, idempotency_key, created_by)
SELECT id, organization_id, tool_id, agent_id, execution_id, task_id, input, output, status,
    error, duration_ms, created_at, source, idempotency_key, created_by FROM tool_executions;
DROP TABLE tool_executions;
ALTER TABLE tool_executions_new RENAME TO tool_executions;
CREATE INDEX tool_executions_tool ON tool_executions (organization_id, tool_id, created_at);
CREATE INDEX tool_executions_fk_tool_id ON tool_executions (tool_id);
CREATE INDEX tool_executions_fk_agent_id ON tool_executions (agent_id);
CREATE INDEX tool_executions_fk_execution_id ON tool_executions (execution_id);
CREATE INDEX tool_executions_fk_task_id ON tool_executions (task_id);
CREATE INDEX tool_executions_fk_bot_id ON tool_executions (bot_id);
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
CREATE TRIGGER tool_executions_bot_id_tenant_insert BEFORE INSERT ON tool_executions
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: tool_executions.bot_id');
END;
CREATE TRIGGER tool_executions_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON tool_executions
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: tool_executions.bot_id');
END;

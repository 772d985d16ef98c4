-- Agents of bots, issue 19 item 3: guardrails, approvals, and the record of
-- each agent turn.
--
-- 1. `agents` gains the guardrails (max steps per turn, per-conversation
--    token and cost budgets) and the model settings that default to the
--    bot's `ai_configurations` when NULL (`model_temperature`,
--    `model_max_tokens`; the V006 `temperature`/`max_tokens` columns are NOT
--    NULL with defaults and so cannot say "the bot's"; they stay unused).
-- 2. `agent_tools.requires_approval`: the tool runs only after a human
--    approves the call.
-- 3. `agent_runs` + `agent_run_steps`: one row per agent turn and one per
--    step (model call, tool call, approval). `agent_execution_steps` cannot
--    hold them: its `execution_id` is a NOT NULL reference to a workflow
--    execution, and a conversation turn or a test chat is none. A run keeps
--    the model messages so a turn paused for approval resumes exactly where
--    it stopped, and `thread` groups the runs whose tokens and cost count
--    against the per-conversation budget (`conversation:{id}` or
--    `test:{token}` for the test chat, or the caller's own key).
-- 4. `agent_approvals`: a tool call waiting for a human, shown in the inbox.

ALTER TABLE agents ADD COLUMN max_steps INTEGER NOT NULL DEFAULT 8 CHECK (max_steps BETWEEN 1 AND 50);
ALTER TABLE agents ADD COLUMN conversation_token_budget INTEGER CHECK (conversation_token_budget IS NULL OR conversation_token_budget >= 0);
ALTER TABLE agents ADD COLUMN conversation_cost_budget_micros INTEGER CHECK (conversation_cost_budget_micros IS NULL OR conversation_cost_budget_micros >= 0);
ALTER TABLE agents ADD COLUMN model_temperature REAL CHECK (model_temperature IS NULL OR model_temperature BETWEEN 0 AND 2);
ALTER TABLE agents ADD COLUMN model_max_tokens INTEGER CHECK (model_max_tokens IS NULL OR model_max_tokens BETWEEN 1 AND 100000);
CREATE UNIQUE INDEX agents_bot_name ON agents (bot_id, name) WHERE bot_id IS NOT NULL;

ALTER TABLE agent_tools ADD COLUMN requires_approval INTEGER NOT NULL DEFAULT 0 CHECK (requires_approval IN (0,1));

CREATE TABLE agent_runs (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    agent_id         INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    bot_id           INTEGER REFERENCES bots(id) ON DELETE CASCADE,
    conversation_id  INTEGER REFERENCES conversations(id) ON DELETE CASCADE,
    thread           TEXT NOT NULL CHECK (length(thread) BETWEEN 1 AND 200),
    source           TEXT NOT NULL CHECK (source IN ('test','flow','workflow','task','api')),
    status           TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running','waiting_approval','completed','failed')),
    input            TEXT NOT NULL,
    reply            TEXT,
    messages         TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(messages) AND json_type(messages) = 'array'),
    steps            INTEGER NOT NULL DEFAULT 0 CHECK (steps >= 0),
    total_tokens     INTEGER NOT NULL DEFAULT 0 CHECK (total_tokens >= 0),
    cost_micros      INTEGER NOT NULL DEFAULT 0 CHECK (cost_micros >= 0),
    error_code       TEXT,
    error            TEXT,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX agent_runs_thread ON agent_runs (organization_id, agent_id, thread, id);
CREATE INDEX agent_runs_conversation ON agent_runs (conversation_id);
CREATE TRIGGER agent_runs_updated_at AFTER UPDATE ON agent_runs WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE agent_runs SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = NEW.id;
END;

CREATE TABLE agent_run_steps (
    id                 INTEGER PRIMARY KEY,
    organization_id    INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    run_id             INTEGER NOT NULL REFERENCES agent_runs(id) ON DELETE CASCADE,
    step_order         INTEGER NOT NULL CHECK (step_order >= 1),
    kind               TEXT NOT NULL CHECK (kind IN ('model_call','tool_call','approval')),
    status             TEXT NOT NULL CHECK (status IN ('ok','error','timeout','waiting','approved','rejected')),
    tool_id            INTEGER REFERENCES tools(id) ON DELETE SET NULL,
    tool_name          TEXT,
    tool_call_id       TEXT,
    tool_execution_id  INTEGER REFERENCES tool_executions(id) ON DELETE SET NULL,
    arguments          TEXT,
    result             TEXT CHECK (result IS NULL OR json_valid(result)),
    error_code         TEXT,
    error              TEXT,
    provider_id        INTEGER REFERENCES llm_providers(id) ON DELETE SET NULL,
    model              TEXT,
    prompt_tokens      INTEGER NOT NULL DEFAULT 0 CHECK (prompt_tokens >= 0),
    completion_tokens  INTEGER NOT NULL DEFAULT 0 CHECK (completion_tokens >= 0),
    cost_micros        INTEGER NOT NULL DEFAULT 0 CHECK (cost_micros >= 0),
    latency_ms         INTEGER NOT NULL DEFAULT 0 CHECK (latency_ms >= 0),
    created_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (run_id, step_order)
);
CREATE INDEX agent_run_steps_org ON agent_run_steps (organization_id, run_id, step_order);

CREATE TABLE agent_approvals (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    run_id           INTEGER NOT NULL REFERENCES agent_runs(id) ON DELETE CASCADE,
    agent_id         INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    bot_id           INTEGER REFERENCES bots(id) ON DELETE CASCADE,
    conversation_id  INTEGER REFERENCES conversations(id) ON DELETE CASCADE,
    tool_id          INTEGER NOT NULL REFERENCES tools(id) ON DELETE CASCADE,
    tool_call_id     TEXT NOT NULL,
    arguments        TEXT NOT NULL CHECK (json_valid(arguments)),
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','approved','rejected')),
    decided_by       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    decided_at       TEXT,
    note             TEXT,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX agent_approvals_pending ON agent_approvals (organization_id, status, id);
CREATE INDEX agent_approvals_run ON agent_approvals (run_id);

-- Tenant consistency of every link, immutable organization, an index per foreign key.
CREATE TRIGGER agent_runs_organization_id_immutable BEFORE UPDATE OF organization_id ON agent_runs
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_runs.organization_id');
END;
CREATE INDEX agent_runs_fk_agent_id ON agent_runs (agent_id);
CREATE TRIGGER agent_runs_agent_id_tenant_insert BEFORE INSERT ON agent_runs
WHEN NEW.agent_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM agents WHERE id = NEW.agent_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_runs.agent_id');
END;
CREATE TRIGGER agent_runs_agent_id_tenant_update BEFORE UPDATE OF agent_id, organization_id ON agent_runs
WHEN NEW.agent_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM agents WHERE id = NEW.agent_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_runs.agent_id');
END;
CREATE INDEX agent_runs_fk_bot_id ON agent_runs (bot_id);
CREATE TRIGGER agent_runs_bot_id_tenant_insert BEFORE INSERT ON agent_runs
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_runs.bot_id');
END;
CREATE TRIGGER agent_runs_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON agent_runs
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_runs.bot_id');
END;
CREATE TRIGGER agent_runs_conversation_id_tenant_insert BEFORE INSERT ON agent_runs
WHEN NEW.conversation_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM conversations WHERE id = NEW.conversation_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_runs.conversation_id');
END;
CREATE TRIGGER agent_runs_conversation_id_tenant_update BEFORE UPDATE OF conversation_id, organization_id ON agent_runs
WHEN NEW.conversation_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM conversations WHERE id = NEW.conversation_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_runs.conversation_id');
END;
CREATE TRIGGER agent_run_steps_organization_id_immutable BEFORE UPDATE OF organization_id ON agent_run_steps
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_run_steps.organization_id');
END;
CREATE INDEX agent_run_steps_fk_run_id ON agent_run_steps (run_id);
CREATE TRIGGER agent_run_steps_run_id_tenant_insert BEFORE INSERT ON agent_run_steps
WHEN NEW.run_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM agent_runs WHERE id = NEW.run_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_run_steps.run_id');
END;
CREATE TRIGGER agent_run_steps_run_id_tenant_update BEFORE UPDATE OF run_id, organization_id ON agent_run_steps
WHEN NEW.run_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM agent_runs WHERE id = NEW.run_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_run_steps.run_id');
END;
CREATE INDEX agent_run_steps_fk_tool_id ON agent_run_steps (tool_id);
CREATE TRIGGER agent_run_steps_tool_id_tenant_insert BEFORE INSERT ON agent_run_steps
WHEN NEW.tool_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM tools WHERE id = NEW.tool_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_run_steps.tool_id');
END;
CREATE TRIGGER agent_run_steps_tool_id_tenant_update BEFORE UPDATE OF tool_id, organization_id ON agent_run_steps
WHEN NEW.tool_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM tools WHERE id = NEW.tool_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_run_steps.tool_id');
END;
CREATE INDEX agent_run_steps_fk_tool_execution_id ON agent_run_steps (tool_execution_id);
CREATE TRIGGER agent_run_steps_tool_execution_id_tenant_insert BEFORE INSERT ON agent_run_steps
WHEN NEW.tool_execution_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM tool_executions WHERE id = NEW.tool_execution_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_run_steps.tool_execution_id');
END;
CREATE TRIGGER agent_run_steps_tool_execution_id_tenant_update BEFORE UPDATE OF tool_execution_id, organization_id ON agent_run_steps
WHEN NEW.tool_execution_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM tool_executions WHERE id = NEW.tool_execution_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_run_steps.tool_execution_id');
END;
CREATE INDEX agent_run_steps_fk_provider_id ON agent_run_steps (provider_id);
CREATE TRIGGER agent_run_steps_provider_id_tenant_insert BEFORE INSERT ON agent_run_steps
WHEN NEW.provider_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM llm_providers WHERE id = NEW.provider_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_run_steps.provider_id');
END;
CREATE TRIGGER agent_run_steps_provider_id_tenant_update BEFORE UPDATE OF provider_id, organization_id ON agent_run_steps
WHEN NEW.provider_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM llm_providers WHERE id = NEW.provider_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_run_steps.provider_id');
END;
CREATE TRIGGER agent_approvals_organization_id_immutable BEFORE UPDATE OF organization_id ON agent_approvals
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_approvals.organization_id');
END;
CREATE TRIGGER agent_approvals_run_id_tenant_insert BEFORE INSERT ON agent_approvals
WHEN NEW.run_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM agent_runs WHERE id = NEW.run_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_approvals.run_id');
END;
CREATE TRIGGER agent_approvals_run_id_tenant_update BEFORE UPDATE OF run_id, organization_id ON agent_approvals
WHEN NEW.run_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM agent_runs WHERE id = NEW.run_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_approvals.run_id');
END;
CREATE INDEX agent_approvals_fk_agent_id ON agent_approvals (agent_id);
CREATE TRIGGER agent_approvals_agent_id_tenant_insert BEFORE INSERT ON agent_approvals
WHEN NEW.agent_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM agents WHERE id = NEW.agent_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_approvals.agent_id');
END;
CREATE TRIGGER agent_approvals_agent_id_tenant_update BEFORE UPDATE OF agent_id, organization_id ON agent_approvals
WHEN NEW.agent_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM agents WHERE id = NEW.agent_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_approvals.agent_id');
END;
CREATE INDEX agent_approvals_fk_bot_id ON agent_approvals (bot_id);
CREATE TRIGGER agent_approvals_bot_id_tenant_insert BEFORE INSERT ON agent_approvals
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_approvals.bot_id');
END;
CREATE TRIGGER agent_approvals_bot_id_tenant_update BEFORE UPDATE OF bot_id, organization_id ON agent_approvals
WHEN NEW.bot_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM bots WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_approvals.bot_id');
END;
CREATE INDEX agent_approvals_fk_conversation_id ON agent_approvals (conversation_id);
CREATE TRIGGER agent_approvals_conversation_id_tenant_insert BEFORE INSERT ON agent_approvals
WHEN NEW.conversation_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM conversations WHERE id = NEW.conversation_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_approvals.conversation_id');
END;
CREATE TRIGGER agent_approvals_conversation_id_tenant_update BEFORE UPDATE OF conversation_id, organization_id ON agent_approvals
WHEN NEW.conversation_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM conversations WHERE id = NEW.conversation_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_approvals.conversation_id');
END;
CREATE INDEX agent_approvals_fk_tool_id ON agent_approvals (tool_id);
CREATE TRIGGER agent_approvals_tool_id_tenant_insert BEFORE INSERT ON agent_approvals
WHEN NEW.tool_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM tools WHERE id = NEW.tool_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_approvals.tool_id');
END;
CREATE TRIGGER agent_approvals_tool_id_tenant_update BEFORE UPDATE OF tool_id, organization_id ON agent_approvals
WHEN NEW.tool_id IS NOT NULL AND NEW.organization_id IS NOT (SELECT organization_id FROM tools WHERE id = NEW.tool_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_approvals.tool_id');
END;

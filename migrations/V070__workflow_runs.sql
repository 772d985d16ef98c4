-- Durable multi-agent workflows (issue 19 item 4). agent_workflows keeps its
-- graph in `flow_config` ({"start", "timeout_ms", "steps": [...]}); the run
-- state lives in workflow_executions and one agent_execution_steps row per
-- activation of a step (a step in a loop gets one row per iteration).

-- When the run started and ended, its overall deadline, who started it, the
-- approval step it waits for (status stays 'running' meanwhile) and a stable
-- error code when it failed or was cancelled.
ALTER TABLE workflow_executions ADD COLUMN started_at TEXT;
ALTER TABLE workflow_executions ADD COLUMN finished_at TEXT;
ALTER TABLE workflow_executions ADD COLUMN deadline_at TEXT;
ALTER TABLE workflow_executions ADD COLUMN waiting_step TEXT;
ALTER TABLE workflow_executions ADD COLUMN error_code TEXT;
ALTER TABLE workflow_executions ADD COLUMN created_by INTEGER REFERENCES users(id) ON DELETE SET NULL;

-- The step of the graph a row runs, its type, which activation of the step it
-- is, its error and timing.
ALTER TABLE agent_execution_steps ADD COLUMN step_key TEXT NOT NULL DEFAULT '';
ALTER TABLE agent_execution_steps ADD COLUMN step_type TEXT NOT NULL DEFAULT '';
ALTER TABLE agent_execution_steps ADD COLUMN iteration INTEGER NOT NULL DEFAULT 1 CHECK (iteration >= 1);
ALTER TABLE agent_execution_steps ADD COLUMN error TEXT CHECK (error IS NULL OR json_valid(error));
ALTER TABLE agent_execution_steps ADD COLUMN started_at TEXT;
ALTER TABLE agent_execution_steps ADD COLUMN finished_at TEXT;
-- An activation is recorded once: a resumed run cannot add it twice.
CREATE UNIQUE INDEX agent_execution_steps_activation ON agent_execution_steps (execution_id, step_key, iteration);

-- The steps a message went between (agents may be absent: tool, condition,
-- approval steps exchange messages too).
ALTER TABLE agent_messages ADD COLUMN from_step TEXT;
ALTER TABLE agent_messages ADD COLUMN to_step TEXT;

-- Executions waiting or running, for the worker and the list page.
CREATE INDEX workflow_executions_status ON workflow_executions (organization_id, status, created_at);

-- Autonomous agents, issue 19 item 5: goals, runs, schedules, triggers,
-- budgets, delivery and long-term memory.
--
-- 1. `autonomous_agents` gains what a run needs. The existing columns keep
--    their meaning: `provider_id`/`model` choose the model, `capabilities` is
--    the array of tool ids the agent may use, `schedule` is
--    `{"cron": "...", "timezone": "Europe/Paris"}` (NULL: no schedule),
--    `settings` holds `{"agent_id": n}` when the steps run through a bot
--    agent's loop. Added: the goal, the next due time of the schedule
--    (indexed for the due-run query), the org webhook event that starts a
--    run, the SHA-256 of the inbound-webhook token (the URL is unguessable;
--    only its hash is stored), the step limit, token and cost budgets per run
--    (NULL: none; 0 allowed and stops at the first model call), delivery
--    (an email address, an `agent.run.completed` webhook event) and the
--    memory cap.
-- 2. `agent_tasks` (one row per run) gains how it was started, when it was
--    paused (a paused run keeps its status `pending`/`running`; the API shows
--    `paused`) and why it stopped (a clear reason beside `failed` or
--    `cancelled`).
-- 3. `agent_memories` is new (none of the 95 tables fits): an autonomous
--    agent's long-term memory, one item per row with its local embedding
--    (384 float32, little-endian, normalized) for similarity search, how
--    often it was recalled (`hits`, `last_used_at`: what "least useful"
--    means when the cap drops items) and how many near-duplicates were
--    merged into it.
ALTER TABLE autonomous_agents ADD COLUMN goal TEXT NOT NULL DEFAULT '';
ALTER TABLE autonomous_agents ADD COLUMN next_run_at TEXT;
ALTER TABLE autonomous_agents ADD COLUMN trigger_event TEXT;
ALTER TABLE autonomous_agents ADD COLUMN hook_token_hash BLOB;
ALTER TABLE autonomous_agents ADD COLUMN max_steps INTEGER NOT NULL DEFAULT 8 CHECK (max_steps BETWEEN 1 AND 50);
ALTER TABLE autonomous_agents ADD COLUMN token_budget INTEGER CHECK (token_budget IS NULL OR token_budget >= 0);
ALTER TABLE autonomous_agents ADD COLUMN cost_budget_micros INTEGER CHECK (cost_budget_micros IS NULL OR cost_budget_micros >= 0);
ALTER TABLE autonomous_agents ADD COLUMN deliver_email TEXT;
ALTER TABLE autonomous_agents ADD COLUMN deliver_webhook INTEGER NOT NULL DEFAULT 0 CHECK (deliver_webhook IN (0,1));
ALTER TABLE autonomous_agents ADD COLUMN memory_cap INTEGER NOT NULL DEFAULT 200 CHECK (memory_cap BETWEEN 1 AND 10000);
CREATE INDEX autonomous_agents_due ON autonomous_agents (next_run_at) WHERE next_run_at IS NOT NULL;
CREATE UNIQUE INDEX autonomous_agents_hook ON autonomous_agents (hook_token_hash) WHERE hook_token_hash IS NOT NULL;
CREATE INDEX autonomous_agents_event ON autonomous_agents (organization_id, trigger_event) WHERE trigger_event IS NOT NULL;

ALTER TABLE agent_tasks ADD COLUMN triggered_by TEXT NOT NULL DEFAULT 'manual'
    CHECK (triggered_by IN ('manual','schedule','event','webhook'));
ALTER TABLE agent_tasks ADD COLUMN paused_at TEXT;
ALTER TABLE agent_tasks ADD COLUMN stop_reason TEXT
    CHECK (stop_reason IS NULL OR stop_reason IN ('step_limit','token_budget','cost_budget','llm_not_configured',
                                                  'plan_invalid','model_error','agent_error','cancelled'));

CREATE TABLE agent_memories (
    id               INTEGER PRIMARY KEY,
    organization_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    agent_id         INTEGER NOT NULL REFERENCES autonomous_agents(id) ON DELETE CASCADE,
    content          TEXT NOT NULL CHECK (length(content) BETWEEN 1 AND 4000),
    embedding        BLOB NOT NULL CHECK (length(embedding) = 1536),
    hits             INTEGER NOT NULL DEFAULT 0 CHECK (hits >= 0),
    merged_count     INTEGER NOT NULL DEFAULT 1 CHECK (merged_count >= 1),
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    last_used_at     TEXT
);
CREATE INDEX agent_memories_agent ON agent_memories (organization_id, agent_id, id);
CREATE INDEX agent_memories_fk_agent_id ON agent_memories (agent_id);
CREATE TRIGGER agent_memories_organization_id_immutable BEFORE UPDATE OF organization_id ON agent_memories
WHEN NEW.organization_id IS NOT OLD.organization_id
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_memories.organization_id');
END;
CREATE TRIGGER agent_memories_agent_id_tenant_insert BEFORE INSERT ON agent_memories
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM autonomous_agents WHERE id = NEW.agent_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_memories.agent_id');
END;
CREATE TRIGGER agent_memories_agent_id_tenant_update BEFORE UPDATE OF agent_id, organization_id ON agent_memories
WHEN NEW.organization_id IS NOT (SELECT organization_id FROM autonomous_agents WHERE id = NEW.agent_id)
BEGIN
    SELECT RAISE(ABORT, 'tenant_mismatch: agent_memories.agent_id');
END;

//! SQL of `autonomous_agents`, `agent_tasks` (runs), `task_steps` and `agent_memories`.

use rusqlite::{Connection, OptionalExtension, params};

use super::model::{
    AGENT_COLUMNS, AgentAnalytics, AgentMemoryId, AutonomousAgent, AutonomousAgentId, AutonomousRun, AutonomousRunId,
    Memory, RUN_COLUMNS, RunStep, STEP_COLUMNS,
};
use crate::db::{query_all, query_opt};
use crate::http::Tenant;
use crate::ids::OrgId;
use crate::llm::model::LlmProviderId;

/// An agent's validated fields.
#[derive(Debug, Clone)]
pub struct AgentFields {
    pub name: String,
    pub description: Option<String>,
    pub goal: String,
    pub settings_json: String,
    pub provider_id: Option<LlmProviderId>,
    pub model: Option<String>,
    pub temperature: f64,
    pub max_tokens: i64,
    pub system_prompt: Option<String>,
    pub tools_json: String,
    pub status: String,
    pub schedule_json: Option<String>,
    pub next_run_at: Option<String>,
    pub trigger_event: Option<String>,
    pub max_steps: i64,
    pub token_budget: Option<i64>,
    pub cost_budget_micros: Option<i64>,
    pub deliver_email: Option<String>,
    pub deliver_webhook: bool,
    pub memory_cap: i64,
}

pub fn insert_agent(conn: &Connection, tenant: &Tenant, f: &AgentFields) -> rusqlite::Result<AutonomousAgentId> {
    conn.query_row(
        "INSERT INTO autonomous_agents (organization_id, user_id, name, description, goal, settings, provider_id, model,
                temperature, max_tokens, system_prompt, capabilities, status, schedule, next_run_at, trigger_event,
                max_steps, token_budget, cost_budget_micros, deliver_email, deliver_webhook, memory_cap)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)
         RETURNING id",
        params![
            tenant.org_id(),
            tenant.user_id(),
            f.name,
            f.description,
            f.goal,
            f.settings_json,
            f.provider_id,
            f.model,
            f.temperature,
            f.max_tokens,
            f.system_prompt,
            f.tools_json,
            f.status,
            f.schedule_json,
            f.next_run_at,
            f.trigger_event,
            f.max_steps,
            f.token_budget,
            f.cost_budget_micros,
            f.deliver_email,
            f.deliver_webhook,
            f.memory_cap
        ],
        |r| r.get(0),
    )
}

pub fn update_agent(
    conn: &Connection,
    tenant: &Tenant,
    id: AutonomousAgentId,
    f: &AgentFields,
) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE autonomous_agents SET name = ?3, description = ?4, goal = ?5, settings = ?6, provider_id = ?7,
                model = ?8, temperature = ?9, max_tokens = ?10, system_prompt = ?11, capabilities = ?12, status = ?13,
                schedule = ?14, next_run_at = ?15, trigger_event = ?16, max_steps = ?17, token_budget = ?18,
                cost_budget_micros = ?19, deliver_email = ?20, deliver_webhook = ?21, memory_cap = ?22
         WHERE id = ?1 AND organization_id = ?2",
        params![
            id,
            tenant.org_id(),
            f.name,
            f.description,
            f.goal,
            f.settings_json,
            f.provider_id,
            f.model,
            f.temperature,
            f.max_tokens,
            f.system_prompt,
            f.tools_json,
            f.status,
            f.schedule_json,
            f.next_run_at,
            f.trigger_event,
            f.max_steps,
            f.token_budget,
            f.cost_budget_micros,
            f.deliver_email,
            f.deliver_webhook,
            f.memory_cap
        ],
    )
}

pub fn find_agent(
    conn: &Connection,
    tenant: &Tenant,
    id: AutonomousAgentId,
) -> rusqlite::Result<Option<AutonomousAgent>> {
    query_opt(
        conn,
        &format!("SELECT {AGENT_COLUMNS} FROM autonomous_agents WHERE id = ?1 AND organization_id = ?2"),
        params![id, tenant.org_id()],
    )
}

pub fn list_agents(
    conn: &Connection,
    tenant: &Tenant,
    after: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<AutonomousAgent>> {
    query_all(
        conn,
        &format!(
            "SELECT {AGENT_COLUMNS} FROM autonomous_agents WHERE organization_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
        ),
        params![tenant.org_id(), after.unwrap_or(0), limit],
    )
}

pub fn delete_agent(conn: &Connection, tenant: &Tenant, id: AutonomousAgentId) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM autonomous_agents WHERE id = ?1 AND organization_id = ?2", params![id, tenant.org_id()])
}

/// Whether another agent of the organization has `name`.
pub fn name_taken(
    conn: &Connection,
    tenant: &Tenant,
    name: &str,
    except: Option<AutonomousAgentId>,
) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM autonomous_agents WHERE organization_id = ?1 AND name = ?2 AND id IS NOT ?3)",
        params![tenant.org_id(), name, except],
        |r| r.get(0),
    )
}

/// How many of `ids` are tools of the organization.
pub fn count_tools(conn: &Connection, tenant: &Tenant, ids: &[i64]) -> rusqlite::Result<Vec<i64>> {
    let mut found = Vec::new();
    let mut stmt = conn.prepare_cached("SELECT id FROM tools WHERE id = ?1 AND organization_id = ?2")?;
    for id in ids {
        if let Some(i) = stmt.query_row(params![id, tenant.org_id()], |r| r.get::<_, i64>(0)).optional()? {
            found.push(i);
        }
    }
    Ok(found)
}

/// Whether `provider` is an LLM provider of the organization.
pub fn provider_exists(conn: &Connection, tenant: &Tenant, provider: LlmProviderId) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM llm_providers WHERE id = ?1 AND organization_id = ?2)",
        params![provider, tenant.org_id()],
        |r| r.get(0),
    )
}

/// Whether `agent` is a bot agent (`agents`) of the organization.
pub fn bot_agent_exists(conn: &Connection, tenant: &Tenant, agent: i64) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM agents WHERE id = ?1 AND organization_id = ?2)",
        params![agent, tenant.org_id()],
        |r| r.get(0),
    )
}

pub fn set_hook(
    conn: &Connection,
    tenant: &Tenant,
    id: AutonomousAgentId,
    hash: Option<&[u8]>,
) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE autonomous_agents SET hook_token_hash = ?3 WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), hash],
    )
}

/// The agent whose inbound-webhook token hashes to `hash`.
pub fn find_by_hook(conn: &Connection, hash: &[u8]) -> rusqlite::Result<Option<(OrgId, AutonomousAgentId, String)>> {
    conn.query_row(
        "SELECT organization_id, id, status FROM autonomous_agents WHERE hook_token_hash = ?1",
        [hash],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .optional()
}

/// Active agents whose schedule is due at `now`: (org, id, schedule JSON, due time).
pub fn due_agents(conn: &Connection, now: &str) -> rusqlite::Result<Vec<(OrgId, AutonomousAgentId, String, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT organization_id, id, schedule, next_run_at FROM autonomous_agents
         WHERE next_run_at IS NOT NULL AND next_run_at <= ?1 AND status = 'active' AND schedule IS NOT NULL
         ORDER BY next_run_at LIMIT 500",
    )?;
    stmt.query_map([now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect()
}

pub fn set_next_run(conn: &Connection, id: AutonomousAgentId, next: Option<&str>) -> rusqlite::Result<usize> {
    conn.execute("UPDATE autonomous_agents SET next_run_at = ?2 WHERE id = ?1", params![id, next])
}

/// Active agents of `org` started by the event `event`.
pub fn event_agents(conn: &Connection, org: OrgId, event: &str) -> rusqlite::Result<Vec<AutonomousAgentId>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM autonomous_agents WHERE organization_id = ?1 AND trigger_event = ?2 AND status = 'active'",
    )?;
    stmt.query_map(params![org, event], |r| r.get(0))?.collect()
}

/// Whether some active agent of `org` listens to an event.
pub fn any_event_listener(conn: &Connection, org: OrgId) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM autonomous_agents
                        WHERE organization_id = ?1 AND trigger_event IS NOT NULL AND status = 'active')",
    )?
    .query_row([org], |r| r.get(0))
}

/// A new run (status `pending`) with the agent's goal.
pub fn insert_run(
    conn: &Connection,
    org: OrgId,
    agent: AutonomousAgentId,
    input_json: &str,
    triggered_by: &str,
) -> rusqlite::Result<AutonomousRunId> {
    conn.query_row(
        "INSERT INTO agent_tasks (organization_id, agent_id, task_description, input_data, triggered_by)
         SELECT organization_id, id, goal, ?3, ?4 FROM autonomous_agents WHERE id = ?2 AND organization_id = ?1
         RETURNING id",
        params![org, agent, input_json, triggered_by],
        |r| r.get(0),
    )
}

pub fn find_run(conn: &Connection, tenant: &Tenant, id: AutonomousRunId) -> rusqlite::Result<Option<AutonomousRun>> {
    query_opt(
        conn,
        &format!("SELECT {RUN_COLUMNS} FROM agent_tasks WHERE id = ?1 AND organization_id = ?2"),
        params![id, tenant.org_id()],
    )
}

pub fn list_runs(
    conn: &Connection,
    tenant: &Tenant,
    agent: AutonomousAgentId,
    before: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<AutonomousRun>> {
    query_all(
        conn,
        &format!(
            "SELECT {RUN_COLUMNS} FROM agent_tasks WHERE organization_id = ?1 AND agent_id = ?2 AND id < ?3
             ORDER BY id DESC LIMIT ?4"
        ),
        params![tenant.org_id(), agent, before.unwrap_or(i64::MAX), limit],
    )
}

pub fn steps(conn: &Connection, tenant: &Tenant, run: AutonomousRunId) -> rusqlite::Result<Vec<RunStep>> {
    query_all(
        conn,
        &format!(
            "SELECT {STEP_COLUMNS} FROM task_steps WHERE organization_id = ?1 AND task_id = ?2 ORDER BY step_number"
        ),
        params![tenant.org_id(), run],
    )
}

/// Sets `paused_at` on a run still pending or running; false otherwise.
pub fn pause_run(conn: &Connection, tenant: &Tenant, id: AutonomousRunId, now: &str) -> rusqlite::Result<bool> {
    let n = conn.execute(
        "UPDATE agent_tasks SET paused_at = coalesce(paused_at, ?3)
         WHERE id = ?1 AND organization_id = ?2 AND status IN ('pending','running')",
        params![id, tenant.org_id(), now],
    )?;
    Ok(n == 1)
}

/// Clears `paused_at` on a paused run; false when it was not paused.
pub fn resume_run(conn: &Connection, tenant: &Tenant, id: AutonomousRunId) -> rusqlite::Result<bool> {
    let n = conn.execute(
        "UPDATE agent_tasks SET paused_at = NULL
         WHERE id = ?1 AND organization_id = ?2 AND status IN ('pending','running') AND paused_at IS NOT NULL",
        params![id, tenant.org_id()],
    )?;
    Ok(n == 1)
}

/// Cancels a run still pending or running (paused or not); false otherwise.
pub fn cancel_run(conn: &Connection, tenant: &Tenant, id: AutonomousRunId, now: &str) -> rusqlite::Result<bool> {
    let n = conn.execute(
        "UPDATE agent_tasks SET status = 'cancelled', stop_reason = 'cancelled', paused_at = NULL, completed_at = ?3
         WHERE id = ?1 AND organization_id = ?2 AND status IN ('pending','running')",
        params![id, tenant.org_id(), now],
    )?;
    if n == 1 {
        conn.execute(
            "UPDATE task_steps SET status = 'skipped' WHERE task_id = ?1 AND organization_id = ?2
             AND status IN ('pending','running')",
            params![id, tenant.org_id()],
        )?;
    }
    Ok(n == 1)
}

pub fn analytics(conn: &Connection, tenant: &Tenant, agent: AutonomousAgentId) -> rusqlite::Result<AgentAnalytics> {
    conn.query_row(
        "SELECT count(*),
                coalesce(sum(status = 'completed'), 0),
                coalesce(sum(status = 'failed'), 0),
                coalesce(sum(status = 'cancelled'), 0),
                coalesce(sum(status IN ('pending','running')), 0),
                coalesce(sum(tokens_used), 0),
                coalesce(sum(cost_micros), 0),
                avg(CASE WHEN status IN ('completed','failed') AND started_at IS NOT NULL AND completed_at IS NOT NULL
                         THEN (julianday(completed_at) - julianday(started_at)) * 86400000.0 END),
                (SELECT count(*) FROM agent_memories m WHERE m.organization_id = ?1 AND m.agent_id = ?2)
         FROM agent_tasks WHERE organization_id = ?1 AND agent_id = ?2",
        params![tenant.org_id(), agent],
        |r| {
            let (completed, failed): (i64, i64) = (r.get(1)?, r.get(2)?);
            #[allow(clippy::cast_precision_loss, reason = "run counts are far below 2^52")]
            let success_rate = (completed + failed > 0).then(|| completed as f64 / (completed + failed) as f64);
            Ok(AgentAnalytics {
                runs: r.get(0)?,
                completed,
                failed,
                cancelled: r.get(3)?,
                active: r.get(4)?,
                success_rate,
                tokens: r.get(5)?,
                cost_micros: r.get(6)?,
                avg_duration_ms: r.get(7)?,
                memories: r.get(8)?,
            })
        },
    )
}

// ---- memories ----

pub const MEMORY_COLUMNS: &str = "id, content, hits, merged_count, created_at, last_used_at";

fn memory_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<Memory> {
    Ok(Memory {
        id: r.get("id")?,
        content: r.get("content")?,
        hits: r.get("hits")?,
        merged_count: r.get("merged_count")?,
        created_at: r.get("created_at")?,
        last_used_at: r.get("last_used_at")?,
        score: None,
    })
}

pub fn insert_memory(
    conn: &Connection,
    tenant: &Tenant,
    agent: AutonomousAgentId,
    content: &str,
    embedding: &[u8],
) -> rusqlite::Result<AgentMemoryId> {
    conn.query_row(
        "INSERT INTO agent_memories (organization_id, agent_id, content, embedding) VALUES (?1, ?2, ?3, ?4) RETURNING id",
        params![tenant.org_id(), agent, content, embedding],
        |r| r.get(0),
    )
}

/// Newest first.
pub fn list_memories(
    conn: &Connection,
    tenant: &Tenant,
    agent: AutonomousAgentId,
    limit: i64,
) -> rusqlite::Result<Vec<Memory>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {MEMORY_COLUMNS} FROM agent_memories WHERE organization_id = ?1 AND agent_id = ?2
         ORDER BY id DESC LIMIT ?3"
    ))?;
    stmt.query_map(params![tenant.org_id(), agent, limit], memory_from)?.collect()
}

/// Every memory of the agent with its embedding (bounded by the memory cap).
pub fn memories_with_vectors(
    conn: &Connection,
    tenant: &Tenant,
    agent: AutonomousAgentId,
) -> rusqlite::Result<Vec<(Memory, Vec<u8>)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {MEMORY_COLUMNS}, embedding FROM agent_memories WHERE organization_id = ?1 AND agent_id = ?2
         ORDER BY id"
    ))?;
    stmt.query_map(params![tenant.org_id(), agent], |r| Ok((memory_from(r)?, r.get("embedding")?)))?.collect()
}

/// Counts a recall of each memory.
pub fn touch_memories(conn: &Connection, tenant: &Tenant, ids: &[AgentMemoryId], now: &str) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "UPDATE agent_memories SET hits = hits + 1, last_used_at = ?3 WHERE id = ?1 AND organization_id = ?2",
    )?;
    for id in ids {
        stmt.execute(params![id, tenant.org_id(), now])?;
    }
    Ok(())
}

/// Merges `gone` into `kept`: hits and merge counts add up, the latest use stays.
pub fn merge_memory(
    conn: &Connection,
    tenant: &Tenant,
    kept: AgentMemoryId,
    gone: AgentMemoryId,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE agent_memories SET
            hits = hits + (SELECT hits FROM agent_memories WHERE id = ?2 AND organization_id = ?3),
            merged_count = merged_count + (SELECT merged_count FROM agent_memories WHERE id = ?2 AND organization_id = ?3),
            last_used_at = max(coalesce(last_used_at, ''),
                               coalesce((SELECT last_used_at FROM agent_memories WHERE id = ?2 AND organization_id = ?3), ''))
         WHERE id = ?1 AND organization_id = ?3",
        params![kept, gone, tenant.org_id()],
    )?;
    conn.execute(
        "UPDATE agent_memories SET last_used_at = NULL WHERE id = ?1 AND organization_id = ?2 AND last_used_at = ''",
        params![kept, tenant.org_id()],
    )?;
    delete_memory(conn, tenant, gone)?;
    Ok(())
}

/// Drops the least useful memories past `cap`: fewest recalls first, then
/// the longest unused, then the oldest. Returns how many were dropped.
pub fn enforce_cap(conn: &Connection, tenant: &Tenant, agent: AutonomousAgentId, cap: i64) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM agent_memories WHERE id IN (
            SELECT id FROM agent_memories WHERE organization_id = ?1 AND agent_id = ?2
            ORDER BY hits ASC, coalesce(last_used_at, created_at) ASC, id ASC
            LIMIT max(0, (SELECT count(*) FROM agent_memories WHERE organization_id = ?1 AND agent_id = ?2) - ?3))",
        params![tenant.org_id(), agent, cap],
    )
}

pub fn delete_memory(conn: &Connection, tenant: &Tenant, id: AgentMemoryId) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM agent_memories WHERE id = ?1 AND organization_id = ?2", params![id, tenant.org_id()])
}

// ---- the runner ----

/// The organization of a run (platform code: the job knows only the id).
pub fn run_org(conn: &Connection, id: AutonomousRunId) -> rusqlite::Result<Option<OrgId>> {
    conn.query_row("SELECT organization_id FROM agent_tasks WHERE id = ?1", [id], |r| r.get(0)).optional()
}

/// A pending or running, unpaused run becomes `running`.
pub fn mark_running(conn: &Connection, tenant: &Tenant, id: AutonomousRunId, now: &str) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE agent_tasks SET status = 'running', started_at = coalesce(started_at, ?3)
         WHERE id = ?1 AND organization_id = ?2 AND status IN ('pending','running') AND paused_at IS NULL",
        params![id, tenant.org_id(), now],
    )
}

/// Stores the plan as step 1 and its actions as the steps to execute.
#[allow(clippy::too_many_arguments, reason = "one row and its children")]
pub fn insert_plan(
    conn: &Connection,
    tenant: &Tenant,
    id: AutonomousRunId,
    output: &serde_json::Value,
    error: Option<&str>,
    tokens: i64,
    ms: i64,
    actions: &[String],
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO task_steps (organization_id, task_id, step_number, action, action_type, output, status,
                                 tokens_used, duration_ms, error_message, completed_at)
         VALUES (?1, ?2, 1, 'plan', 'plan', ?3, ?4, ?5, ?6, ?7, strftime('%Y-%m-%dT%H:%M:%fZ','now'))",
        params![
            tenant.org_id(),
            id,
            output.to_string(),
            if error.is_some() { "failed" } else { "completed" },
            tokens,
            ms,
            error
        ],
    )?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO task_steps (organization_id, task_id, step_number, action, action_type) VALUES (?1, ?2, ?3, ?4, 'execute')",
    )?;
    for (i, action) in actions.iter().enumerate() {
        stmt.execute(params![tenant.org_id(), id, i64::try_from(i).unwrap_or(0) + 2, action])?;
    }
    conn.execute(
        "UPDATE agent_tasks SET total_steps = ?3 WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), i64::try_from(actions.len()).unwrap_or(0)],
    )?;
    Ok(())
}

pub fn start_step(conn: &Connection, tenant: &Tenant, id: AutonomousRunId, number: i64) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE task_steps SET status = 'running' WHERE task_id = ?1 AND organization_id = ?2 AND step_number = ?3",
        params![id, tenant.org_id(), number],
    )
}

pub fn complete_step(
    conn: &Connection,
    tenant: &Tenant,
    id: AutonomousRunId,
    number: i64,
    output: &serde_json::Value,
    tokens: i64,
    ms: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE task_steps SET status = 'completed', output = ?4, tokens_used = ?5, duration_ms = ?6,
                completed_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE task_id = ?1 AND organization_id = ?2 AND step_number = ?3",
        params![id, tenant.org_id(), number, output.to_string(), tokens, ms],
    )?;
    conn.execute(
        "UPDATE agent_tasks SET completed_steps = completed_steps + 1 WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id()],
    )?;
    Ok(())
}

pub fn fail_step(
    conn: &Connection,
    tenant: &Tenant,
    id: AutonomousRunId,
    number: i64,
    error: &str,
    tokens: i64,
    ms: i64,
) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE task_steps SET status = 'failed', error_message = ?4, tokens_used = ?5, duration_ms = ?6,
                completed_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE task_id = ?1 AND organization_id = ?2 AND step_number = ?3",
        params![id, tenant.org_id(), number, error, tokens, ms],
    )
}

/// Adds a model call's tokens and cost to the run.
pub fn add_spent(
    conn: &Connection,
    tenant: &Tenant,
    id: AutonomousRunId,
    tokens: i64,
    cost: i64,
) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE agent_tasks SET tokens_used = tokens_used + ?3, cost_micros = cost_micros + ?4
         WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), tokens, cost],
    )
}

/// Ends a run still pending or running; false when it had ended (cancelled meanwhile).
#[allow(clippy::too_many_arguments, reason = "the columns of an ending")]
pub fn finish_run(
    conn: &Connection,
    tenant: &Tenant,
    id: AutonomousRunId,
    status: &str,
    result: Option<&serde_json::Value>,
    stop_reason: Option<&str>,
    error: Option<&str>,
    now: &str,
) -> rusqlite::Result<bool> {
    let n = conn.execute(
        "UPDATE agent_tasks SET status = ?3, result = ?4, stop_reason = ?5, error_message = ?6, completed_at = ?7,
                paused_at = NULL, started_at = coalesce(started_at, ?7)
         WHERE id = ?1 AND organization_id = ?2 AND status IN ('pending','running')",
        params![id, tenant.org_id(), status, result.map(ToString::to_string), stop_reason, error, now],
    )?;
    if n == 1 {
        conn.execute(
            "UPDATE task_steps SET status = 'skipped' WHERE task_id = ?1 AND organization_id = ?2 AND status = 'pending'",
            params![id, tenant.org_id()],
        )?;
    }
    Ok(n == 1)
}

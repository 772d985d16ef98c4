//! SQL of `agent_workflows`, `workflow_executions`, `agent_execution_steps` and `agent_messages`.

use rusqlite::{Connection, OptionalExtension, params};

use super::model::{
    AgentMessage, EXECUTION_COLUMNS, Execution, ExecutionId, ExecutionStep, MESSAGE_COLUMNS, STEP_COLUMNS,
    WORKFLOW_COLUMNS, Workflow, WorkflowId,
};
use crate::db::{query_all, query_opt};
use crate::http::Tenant;
use crate::ids::BotId;

/// A workflow's fields (validated).
pub struct WorkflowFields<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub definition_json: &'a str,
    pub is_active: bool,
}

pub fn insert_workflow(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    w: &WorkflowFields<'_>,
) -> rusqlite::Result<WorkflowId> {
    crate::db::query_row_cached(conn,
        "INSERT INTO agent_workflows (organization_id, bot_id, name, description, workflow_type, flow_config, is_active)
         VALUES (?1, ?2, ?3, ?4, 'mixed', ?5, ?6) RETURNING id",
        params![tenant.org_id(), bot, w.name, w.description, w.definition_json, w.is_active],
        |r| r.get(0),
    )
}

pub fn update_workflow(
    conn: &Connection,
    tenant: &Tenant,
    id: WorkflowId,
    w: &WorkflowFields<'_>,
) -> rusqlite::Result<usize> {
    crate::db::execute_cached(
        conn,
        "UPDATE agent_workflows SET name = ?3, description = ?4, flow_config = ?5, is_active = ?6
         WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), w.name, w.description, w.definition_json, w.is_active],
    )
}

pub fn find_workflow(conn: &Connection, tenant: &Tenant, id: WorkflowId) -> rusqlite::Result<Option<Workflow>> {
    query_opt(
        conn,
        &format!("SELECT {WORKFLOW_COLUMNS} FROM agent_workflows WHERE id = ?1 AND organization_id = ?2"),
        params![id, tenant.org_id()],
    )
}

pub fn list_workflows(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    after: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<Workflow>> {
    query_all(
        conn,
        &format!(
            "SELECT {WORKFLOW_COLUMNS} FROM agent_workflows WHERE organization_id = ?1 AND bot_id = ?2 AND id > ?3
             ORDER BY id LIMIT ?4"
        ),
        params![tenant.org_id(), bot, after.unwrap_or(0), limit],
    )
}

pub fn delete_workflow(conn: &Connection, tenant: &Tenant, id: WorkflowId) -> rusqlite::Result<usize> {
    crate::db::execute_cached(
        conn,
        "DELETE FROM agent_workflows WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id()],
    )
}

/// Whether another workflow of the bot has `name`.
pub fn name_taken(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    name: &str,
    except: Option<WorkflowId>,
) -> rusqlite::Result<bool> {
    crate::db::query_row_cached(
        conn,
        "SELECT 1 FROM agent_workflows WHERE organization_id = ?1 AND bot_id = ?2 AND name = ?3 AND id IS NOT ?4",
        params![tenant.org_id(), bot, name, except],
        |_| Ok(()),
    )
    .optional()
    .map(|f| f.is_some())
}

/// A new run with its first step pending.
pub struct NewExecution<'a> {
    pub workflow: WorkflowId,
    pub bot: BotId,
    pub input_json: &'a str,
    pub deadline_at: &'a str,
    pub start_step: &'a str,
    pub start_type: &'a str,
}

pub fn insert_execution(conn: &Connection, tenant: &Tenant, e: &NewExecution<'_>) -> rusqlite::Result<ExecutionId> {
    let id: ExecutionId = crate::db::query_row_cached(
        conn,
        "INSERT INTO workflow_executions (organization_id, workflow_id, bot_id, status, input, deadline_at, created_by)
         VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?6) RETURNING id",
        params![tenant.org_id(), e.workflow, e.bot, e.input_json, e.deadline_at, tenant.user_id()],
        |r| r.get(0),
    )?;
    activate(conn, tenant, id, e.start_step, e.start_type, "{}")?;
    Ok(id)
}

/// Adds a pending activation of `step` (the next iteration); a join that
/// already has a pending activation keeps it. Returns whether a row was added.
pub fn activate(
    conn: &Connection,
    tenant: &Tenant,
    execution: ExecutionId,
    step: &str,
    step_type: &str,
    input_json: &str,
) -> rusqlite::Result<bool> {
    if step_type == "join" {
        let pending: bool = conn
            .query_row(
                "SELECT 1 FROM agent_execution_steps WHERE execution_id = ?1 AND step_key = ?2 AND status = 'pending'",
                params![execution, step],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if pending {
            return Ok(false);
        }
    }
    let n = crate::db::execute_cached(conn,
        "INSERT INTO agent_execution_steps (organization_id, execution_id, step_key, step_type, iteration, step_order, status, input)
         SELECT ?1, ?2, ?3, ?4,
                coalesce((SELECT max(iteration) FROM agent_execution_steps WHERE execution_id = ?2 AND step_key = ?3), 0) + 1,
                (SELECT count(*) FROM agent_execution_steps WHERE execution_id = ?2), 'pending', ?5",
        params![tenant.org_id(), execution, step, step_type, input_json],
    )?;
    Ok(n > 0)
}

pub fn find_execution(conn: &Connection, tenant: &Tenant, id: ExecutionId) -> rusqlite::Result<Option<Execution>> {
    query_opt(
        conn,
        &format!("SELECT {EXECUTION_COLUMNS} FROM workflow_executions WHERE id = ?1 AND organization_id = ?2"),
        params![id, tenant.org_id()],
    )
}

pub fn list_executions(
    conn: &Connection,
    tenant: &Tenant,
    workflow: WorkflowId,
    before: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<Execution>> {
    query_all(
        conn,
        &format!(
            "SELECT {EXECUTION_COLUMNS} FROM workflow_executions
             WHERE organization_id = ?1 AND workflow_id = ?2 AND id < ?3 ORDER BY id DESC LIMIT ?4"
        ),
        params![tenant.org_id(), workflow, before.unwrap_or(i64::MAX), limit],
    )
}

pub fn steps(conn: &Connection, tenant: &Tenant, id: ExecutionId) -> rusqlite::Result<Vec<ExecutionStep>> {
    query_all(
        conn,
        &format!(
            "SELECT {STEP_COLUMNS} FROM agent_execution_steps WHERE organization_id = ?1 AND execution_id = ?2 ORDER BY id"
        ),
        params![tenant.org_id(), id],
    )
}

pub fn messages(conn: &Connection, tenant: &Tenant, id: ExecutionId) -> rusqlite::Result<Vec<AgentMessage>> {
    query_all(
        conn,
        &format!(
            "SELECT {MESSAGE_COLUMNS} FROM agent_messages WHERE organization_id = ?1 AND execution_id = ?2 ORDER BY id"
        ),
        params![tenant.org_id(), id],
    )
}

/// A message between two steps.
pub struct NewMessage<'a> {
    pub from_step: Option<&'a str>,
    pub to_step: Option<&'a str>,
    pub from_agent: Option<i64>,
    pub to_agent: Option<i64>,
    pub message_type: &'a str,
    pub content_json: &'a str,
}

pub fn insert_message(
    conn: &Connection,
    tenant: &Tenant,
    execution: ExecutionId,
    m: &NewMessage<'_>,
) -> rusqlite::Result<()> {
    crate::db::execute_cached(
        conn,
        "INSERT INTO agent_messages (organization_id, execution_id, from_step, to_step, from_agent_id, to_agent_id,
                                     message_type, content)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            tenant.org_id(),
            execution,
            m.from_step,
            m.to_step,
            m.from_agent,
            m.to_agent,
            m.message_type,
            m.content_json
        ],
    )?;
    Ok(())
}

/// Marks the run running (first time: its start time).
pub fn mark_running(conn: &Connection, tenant: &Tenant, id: ExecutionId, now: &str) -> rusqlite::Result<usize> {
    crate::db::execute_cached(
        conn,
        "UPDATE workflow_executions SET status = 'running', started_at = coalesce(started_at, ?3)
         WHERE id = ?1 AND organization_id = ?2 AND status IN ('pending','running')",
        params![id, tenant.org_id(), now],
    )
}

/// Marks a step activation running (keeping its first start time) with its input.
pub fn start_step(
    conn: &Connection,
    step_row: i64,
    agent: Option<i64>,
    input_json: &str,
    now: &str,
) -> rusqlite::Result<usize> {
    crate::db::execute_cached(
        conn,
        "UPDATE agent_execution_steps SET status = 'running', started_at = coalesce(started_at, ?2), input = ?3,
                agent_id = coalesce(?4, agent_id)
         WHERE id = ?1 AND status IN ('pending','running')",
        params![step_row, now, input_json, agent],
    )
}

/// How a step ended.
pub struct StepEnd<'a> {
    pub status: &'a str,
    pub output_json: &'a str,
    pub error_json: Option<&'a str>,
    pub reasoning: Option<&'a str>,
    pub tokens: i64,
    pub cost_micros: i64,
    pub duration_ms: i64,
    pub now: &'a str,
}

/// Records a step's end (only once: a finished step is never overwritten)
/// and adds its tokens and cost to the run. Returns whether it was recorded.
pub fn finish_step(
    conn: &Connection,
    tenant: &Tenant,
    execution: ExecutionId,
    step_row: i64,
    e: &StepEnd<'_>,
) -> rusqlite::Result<bool> {
    let n = crate::db::execute_cached(
        conn,
        "UPDATE agent_execution_steps SET status = ?3, output = ?4, error = ?5, reasoning = ?6, tokens_used = ?7,
                duration_ms = ?8, finished_at = ?9
         WHERE id = ?1 AND organization_id = ?2 AND status IN ('pending','running')",
        params![
            step_row,
            tenant.org_id(),
            e.status,
            e.output_json,
            e.error_json,
            e.reasoning,
            e.tokens,
            e.duration_ms,
            e.now
        ],
    )?;
    if n > 0 {
        crate::db::execute_cached(conn,
            "UPDATE workflow_executions SET total_tokens = total_tokens + ?2, total_cost_micros = total_cost_micros + ?3
             WHERE id = ?1",
            params![execution, e.tokens, e.cost_micros],
        )?;
    }
    Ok(n > 0)
}

/// Sets or clears the approval step the run waits for.
pub fn set_waiting(conn: &Connection, id: ExecutionId, step: Option<&str>) -> rusqlite::Result<usize> {
    crate::db::execute_cached(
        conn,
        "UPDATE workflow_executions SET waiting_step = ?2 WHERE id = ?1 AND status = 'running'",
        params![id, step],
    )
}

/// Ends the run (once): its status, output, error and duration. Steps still
/// pending or running are marked skipped.
pub fn finish_execution(
    conn: &Connection,
    tenant: &Tenant,
    id: ExecutionId,
    status: &str,
    output_json: &str,
    error: Option<(&str, &str)>,
    now: &str,
) -> rusqlite::Result<bool> {
    let n = crate::db::execute_cached(conn,
        "UPDATE workflow_executions SET status = ?3, output = ?4, error_code = ?5, error = ?6, finished_at = ?7,
                waiting_step = NULL,
                duration_ms = max(0, CAST(round((julianday(?7) - julianday(coalesce(started_at, created_at))) * 86400000) AS INTEGER))
         WHERE id = ?1 AND organization_id = ?2 AND status IN ('pending','running')",
        params![id, tenant.org_id(), status, output_json, error.map(|e| e.0), error.map(|e| e.1), now],
    )?;
    if n > 0 {
        crate::db::execute_cached(
            conn,
            "UPDATE agent_execution_steps SET status = 'skipped', finished_at = ?2
             WHERE execution_id = ?1 AND status IN ('pending','running')",
            params![id, now],
        )?;
    }
    Ok(n > 0)
}

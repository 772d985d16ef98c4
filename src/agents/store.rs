//! SQL of agents, their links, runs, steps and approvals.

use rusqlite::{Connection, OptionalExtension, params};

use super::model::{
    AGENT_COLUMNS, APPROVAL_COLUMNS, APPROVAL_FROM, AgentApproval, AgentApprovalId, AgentId, AgentRow, AgentRunId,
    AgentStep, AgentTool, STEP_COLUMNS,
};
use crate::db::{query_all, query_opt};
use crate::http::Tenant;
use crate::ids::BotId;
use crate::knowledge::model::KnowledgeBaseId;
use crate::llm::model::LlmProviderId;
use crate::tools::model::ToolId;

/// The columns an agent is written with.
pub struct AgentFields<'a> {
    pub name: &'a str,
    pub instructions: &'a str,
    pub provider_id: Option<LlmProviderId>,
    pub model: Option<&'a str>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<i64>,
    pub max_steps: i64,
    pub conversation_token_budget: Option<i64>,
    pub conversation_cost_budget_micros: Option<i64>,
    pub is_active: bool,
}

pub fn insert(conn: &Connection, tenant: &Tenant, bot: BotId, a: &AgentFields<'_>) -> rusqlite::Result<AgentId> {
    crate::db::execute_cached(
        conn,
        "INSERT INTO agents (organization_id, bot_id, name, role, system_prompt, provider_id, model_name,
             model_temperature, model_max_tokens, max_steps, conversation_token_budget,
             conversation_cost_budget_micros, is_active, created_by)
         VALUES (?1, ?2, ?3, 'custom', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        params![
            tenant.org_id(),
            bot,
            a.name,
            a.instructions,
            a.provider_id,
            a.model,
            a.temperature,
            a.max_tokens,
            a.max_steps,
            a.conversation_token_budget,
            a.conversation_cost_budget_micros,
            a.is_active,
            tenant.user_id()
        ],
    )?;
    Ok(AgentId(conn.last_insert_rowid()))
}

pub fn update(conn: &Connection, tenant: &Tenant, id: AgentId, a: &AgentFields<'_>) -> rusqlite::Result<usize> {
    crate::db::execute_cached(
        conn,
        "UPDATE agents SET name = ?3, system_prompt = ?4, provider_id = ?5, model_name = ?6, model_temperature = ?7,
             model_max_tokens = ?8, max_steps = ?9, conversation_token_budget = ?10,
             conversation_cost_budget_micros = ?11, is_active = ?12
         WHERE id = ?1 AND organization_id = ?2",
        params![
            id,
            tenant.org_id(),
            a.name,
            a.instructions,
            a.provider_id,
            a.model,
            a.temperature,
            a.max_tokens,
            a.max_steps,
            a.conversation_token_budget,
            a.conversation_cost_budget_micros,
            a.is_active
        ],
    )
}

pub fn delete(conn: &Connection, tenant: &Tenant, id: AgentId) -> rusqlite::Result<usize> {
    crate::db::execute_cached(
        conn,
        "DELETE FROM agents WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id()],
    )
}

pub fn name_taken(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    name: &str,
    except: Option<AgentId>,
) -> rusqlite::Result<bool> {
    crate::db::query_row_cached(
        conn,
        "SELECT 1 FROM agents WHERE organization_id = ?1 AND bot_id = ?2 AND name = ?3 AND id IS NOT ?4",
        params![tenant.org_id(), bot, name, except],
        |_| Ok(()),
    )
    .optional()
    .map(|f| f.is_some())
}

/// The tools of an agent, by priority.
pub fn tools(conn: &Connection, tenant: &Tenant, id: AgentId) -> rusqlite::Result<Vec<AgentTool>> {
    let mut stmt = conn.prepare_cached(
        "SELECT l.tool_id, t.name, l.priority, l.requires_approval FROM agent_tools l JOIN tools t ON t.id = l.tool_id
         WHERE l.organization_id = ?1 AND l.agent_id = ?2 AND l.is_enabled = 1 ORDER BY l.priority, l.id",
    )?;
    stmt.query_map(params![tenant.org_id(), id], |r| {
        Ok(AgentTool {
            tool_id: r.get(0)?,
            name: r.get(1)?,
            function_name: String::new(),
            priority: r.get(2)?,
            requires_approval: r.get(3)?,
        })
    })?
    .collect()
}

/// Replaces the tools of an agent.
pub fn set_tools(
    conn: &Connection,
    tenant: &Tenant,
    id: AgentId,
    tools: &[(ToolId, i64, bool)],
) -> rusqlite::Result<()> {
    crate::db::execute_cached(
        conn,
        "DELETE FROM agent_tools WHERE organization_id = ?1 AND agent_id = ?2",
        params![tenant.org_id(), id],
    )?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO agent_tools (organization_id, agent_id, tool_id, priority, requires_approval) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (tool, priority, approval) in tools {
        stmt.execute(params![tenant.org_id(), id, tool, priority, approval])?;
    }
    Ok(())
}

/// Replaces the knowledge bases of an agent (priority = position).
pub fn set_knowledge_bases(
    conn: &Connection,
    tenant: &Tenant,
    id: AgentId,
    kbs: &[KnowledgeBaseId],
) -> rusqlite::Result<()> {
    crate::db::execute_cached(
        conn,
        "DELETE FROM agent_knowledge_bases WHERE organization_id = ?1 AND agent_id = ?2",
        params![tenant.org_id(), id],
    )?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO agent_knowledge_bases (organization_id, knowledge_base_id, agent_id, priority) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (i, kb) in kbs.iter().enumerate() {
        stmt.execute(params![tenant.org_id(), kb, id, i64::try_from(i).unwrap_or(i64::MAX) + 1])?;
    }
    Ok(())
}

pub fn knowledge_bases(conn: &Connection, tenant: &Tenant, id: AgentId) -> rusqlite::Result<Vec<KnowledgeBaseId>> {
    let mut stmt = conn.prepare_cached(
        "SELECT knowledge_base_id FROM agent_knowledge_bases WHERE organization_id = ?1 AND agent_id = ?2
         ORDER BY priority, knowledge_base_id",
    )?;
    stmt.query_map(params![tenant.org_id(), id], |r| r.get(0))?.collect()
}

pub fn find_row(conn: &Connection, tenant: &Tenant, id: AgentId) -> rusqlite::Result<Option<AgentRow>> {
    query_opt(
        conn,
        &format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = ?1 AND organization_id = ?2"),
        params![id, tenant.org_id()],
    )
}

pub fn list_rows(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    after: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<AgentRow>> {
    query_all(
        conn,
        &format!(
            "SELECT {AGENT_COLUMNS} FROM agents WHERE organization_id = ?1 AND bot_id = ?2 AND id > ?3
             ORDER BY id LIMIT ?4"
        ),
        params![tenant.org_id(), bot, after.unwrap_or(0), limit],
    )
}

/// Whether a tool exists in the organization.
pub fn tool_exists(conn: &Connection, tenant: &Tenant, id: ToolId) -> rusqlite::Result<bool> {
    crate::db::query_row_cached(
        conn,
        "SELECT 1 FROM tools WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id()],
        |_| Ok(()),
    )
    .optional()
    .map(|f| f.is_some())
}

/// Whether a knowledge base exists in the organization.
pub fn knowledge_base_exists(conn: &Connection, tenant: &Tenant, id: KnowledgeBaseId) -> rusqlite::Result<bool> {
    crate::db::query_row_cached(
        conn,
        "SELECT 1 FROM knowledge_bases WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id()],
        |_| Ok(()),
    )
    .optional()
    .map(|f| f.is_some())
}

// ---- runs ----------------------------------------------------------------

/// A new run.
pub struct NewRun<'a> {
    pub agent: AgentId,
    pub bot: Option<BotId>,
    pub conversation_id: Option<i64>,
    pub thread: &'a str,
    pub source: &'a str,
    pub input: &'a str,
}

pub fn insert_run(conn: &Connection, tenant: &Tenant, r: &NewRun<'_>) -> rusqlite::Result<AgentRunId> {
    crate::db::execute_cached(
        conn,
        "INSERT INTO agent_runs (organization_id, agent_id, bot_id, conversation_id, thread, source, input)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![tenant.org_id(), r.agent, r.bot, r.conversation_id, r.thread, r.source, r.input],
    )?;
    Ok(AgentRunId(conn.last_insert_rowid()))
}

/// The stored state of a run.
#[derive(Debug, Clone)]
pub struct RunRow {
    pub id: AgentRunId,
    pub agent_id: AgentId,
    pub conversation_id: Option<i64>,
    pub thread: String,
    pub source: String,
    pub status: String,
    pub input: String,
    pub reply: Option<String>,
    pub messages: String,
    pub steps: i64,
    pub total_tokens: i64,
    pub cost_micros: i64,
    pub error_code: Option<String>,
    pub error: Option<String>,
    pub created_at: String,
}

pub fn find_run(conn: &Connection, tenant: &Tenant, id: AgentRunId) -> rusqlite::Result<Option<RunRow>> {
    crate::db::query_row_cached(
        conn,
        "SELECT id, agent_id, conversation_id, thread, source, status, input, reply, messages, steps, total_tokens,
                cost_micros, error_code, error, created_at
         FROM agent_runs WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id()],
        |r| {
            Ok(RunRow {
                id: r.get(0)?,
                agent_id: r.get(1)?,
                conversation_id: r.get(2)?,
                thread: r.get(3)?,
                source: r.get(4)?,
                status: r.get(5)?,
                input: r.get(6)?,
                reply: r.get(7)?,
                messages: r.get(8)?,
                steps: r.get(9)?,
                total_tokens: r.get(10)?,
                cost_micros: r.get(11)?,
                error_code: r.get(12)?,
                error: r.get(13)?,
                created_at: r.get(14)?,
            })
        },
    )
    .optional()
}

/// The progress of a run.
pub struct RunUpdate<'a> {
    pub status: &'a str,
    pub reply: Option<&'a str>,
    pub messages: &'a str,
    pub steps: i64,
    pub total_tokens: i64,
    pub cost_micros: i64,
    pub error_code: Option<&'a str>,
    pub error: Option<&'a str>,
}

pub fn update_run(conn: &Connection, tenant: &Tenant, id: AgentRunId, u: &RunUpdate<'_>) -> rusqlite::Result<usize> {
    crate::db::execute_cached(
        conn,
        "UPDATE agent_runs SET status = ?3, reply = ?4, messages = ?5, steps = ?6, total_tokens = ?7, cost_micros = ?8,
             error_code = ?9, error = ?10
         WHERE id = ?1 AND organization_id = ?2",
        params![
            id,
            tenant.org_id(),
            u.status,
            u.reply,
            u.messages,
            u.steps,
            u.total_tokens,
            u.cost_micros,
            u.error_code,
            u.error
        ],
    )
}

/// Tokens and cost of the agent's earlier runs in `thread` (the per-conversation budget).
pub fn thread_usage(
    conn: &Connection,
    tenant: &Tenant,
    agent: AgentId,
    thread: &str,
    except: AgentRunId,
) -> rusqlite::Result<(i64, i64)> {
    crate::db::query_row_cached(
        conn,
        "SELECT coalesce(sum(total_tokens), 0), coalesce(sum(cost_micros), 0) FROM agent_runs
         WHERE organization_id = ?1 AND agent_id = ?2 AND thread = ?3 AND id <> ?4",
        params![tenant.org_id(), agent, thread, except],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// (input, reply) of the agent's last completed runs in `thread`, oldest first.
pub fn thread_history(
    conn: &Connection,
    tenant: &Tenant,
    agent: AgentId,
    thread: &str,
    limit: i64,
) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT input, reply FROM agent_runs
         WHERE organization_id = ?1 AND agent_id = ?2 AND thread = ?3 AND status = 'completed' AND reply IS NOT NULL
         ORDER BY id DESC LIMIT ?4",
    )?;
    let mut rows: Vec<(String, String)> = stmt
        .query_map(params![tenant.org_id(), agent, thread, limit], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    rows.reverse();
    Ok(rows)
}

pub fn insert_step(conn: &Connection, tenant: &Tenant, run: AgentRunId, s: &AgentStep) -> rusqlite::Result<()> {
    crate::db::execute_cached(
        conn,
        "INSERT INTO agent_run_steps (organization_id, run_id, step_order, kind, status, tool_id, tool_name,
             tool_call_id, tool_execution_id, arguments, result, error_code, error, provider_id, model,
             prompt_tokens, completion_tokens, cost_micros, latency_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
        params![
            tenant.org_id(),
            run,
            s.order,
            s.kind.map_or("model_call", super::model::StepKind::as_str),
            s.status,
            s.tool_id,
            s.tool_name,
            s.tool_call_id,
            s.arguments.as_ref().map(|a| a.as_str().map_or_else(|| a.to_string(), str::to_owned)),
            s.result.as_ref().map(ToString::to_string),
            s.error_code,
            s.error,
            s.provider_id,
            s.model,
            s.prompt_tokens,
            s.completion_tokens,
            s.cost_micros,
            s.latency_ms
        ],
    )?;
    Ok(())
}

pub fn steps(conn: &Connection, tenant: &Tenant, run: AgentRunId) -> rusqlite::Result<Vec<AgentStep>> {
    query_all(
        conn,
        &format!(
            "SELECT {STEP_COLUMNS} FROM agent_run_steps WHERE organization_id = ?1 AND run_id = ?2 ORDER BY step_order"
        ),
        params![tenant.org_id(), run],
    )
}

/// Marks the waiting approval step of a run as decided.
pub fn decide_step(
    conn: &Connection,
    tenant: &Tenant,
    run: AgentRunId,
    call_id: &str,
    status: &str,
) -> rusqlite::Result<usize> {
    crate::db::execute_cached(
        conn,
        "UPDATE agent_run_steps SET status = ?4
         WHERE organization_id = ?1 AND run_id = ?2 AND tool_call_id = ?3 AND kind = 'approval' AND status = 'waiting'",
        params![tenant.org_id(), run, call_id, status],
    )
}

// ---- approvals -----------------------------------------------------------

pub struct NewApproval<'a> {
    pub run: AgentRunId,
    pub agent: AgentId,
    pub bot: Option<BotId>,
    pub conversation_id: Option<i64>,
    pub tool: ToolId,
    pub tool_call_id: &'a str,
    pub arguments: &'a str,
}

pub fn insert_approval(conn: &Connection, tenant: &Tenant, a: &NewApproval<'_>) -> rusqlite::Result<AgentApprovalId> {
    crate::db::execute_cached(conn,
        "INSERT INTO agent_approvals (organization_id, run_id, agent_id, bot_id, conversation_id, tool_id, tool_call_id, arguments)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![tenant.org_id(), a.run, a.agent, a.bot, a.conversation_id, a.tool, a.tool_call_id, a.arguments],
    )?;
    Ok(AgentApprovalId(conn.last_insert_rowid()))
}

pub fn find_approval(
    conn: &Connection,
    tenant: &Tenant,
    id: AgentApprovalId,
) -> rusqlite::Result<Option<AgentApproval>> {
    query_opt(
        conn,
        &format!(
            "SELECT {APPROVAL_COLUMNS} FROM {APPROVAL_FROM}
             WHERE p.id = ?1 AND p.organization_id = ?2"
        ),
        params![id, tenant.org_id()],
    )
}

pub fn run_approval(conn: &Connection, tenant: &Tenant, run: AgentRunId) -> rusqlite::Result<Option<AgentApproval>> {
    query_opt(
        conn,
        &format!(
            "SELECT {APPROVAL_COLUMNS} FROM {APPROVAL_FROM}
             WHERE p.run_id = ?1 AND p.organization_id = ?2 AND p.status = 'pending' ORDER BY p.id DESC LIMIT 1"
        ),
        params![run, tenant.org_id()],
    )
}

pub fn list_approvals(
    conn: &Connection,
    tenant: &Tenant,
    status: Option<&str>,
    conversation: Option<i64>,
    after: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<AgentApproval>> {
    query_all(
        conn,
        &format!(
            "SELECT {APPROVAL_COLUMNS} FROM {APPROVAL_FROM}
             WHERE p.organization_id = ?1 AND (?2 IS NULL OR p.status = ?2) AND p.id > ?3
               AND (?5 IS NULL OR p.conversation_id = ?5) ORDER BY p.id LIMIT ?4"
        ),
        params![tenant.org_id(), status, after.unwrap_or(0), limit, conversation],
    )
}

/// Decides a pending approval; 0 when it was no longer pending.
pub fn decide_approval(
    conn: &Connection,
    tenant: &Tenant,
    id: AgentApprovalId,
    status: &str,
    note: Option<&str>,
) -> rusqlite::Result<usize> {
    crate::db::execute_cached(
        conn,
        "UPDATE agent_approvals SET status = ?3, note = ?4, decided_by = ?5,
             decided_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE id = ?1 AND organization_id = ?2 AND status = 'pending'",
        params![id, tenant.org_id(), status, note, tenant.user_id()],
    )
}

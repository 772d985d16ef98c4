//! SQL of `tools` and `tool_executions`.

use rusqlite::{Connection, OptionalExtension, params};

use super::model::{EXECUTION_COLUMNS, TOOL_COLUMNS, Tool, ToolExecution, ToolExecutionId, ToolId};
use crate::db::{query_all, query_opt};
use crate::http::Tenant;
use crate::ids::BotId;

/// A tool's fields (validated).
pub struct ToolFields<'a> {
    pub bot_id: Option<BotId>,
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub tool_type: &'a str,
    pub config_json: &'a str,
    pub input_schema_json: &'a str,
    pub timeout_ms: i64,
    pub is_enabled: bool,
}

pub fn insert(conn: &Connection, tenant: &Tenant, t: &ToolFields<'_>) -> rusqlite::Result<ToolId> {
    conn.query_row(
        "INSERT INTO tools (organization_id, bot_id, name, description, tool_type, configuration, input_schema,
                            timeout_ms, is_active)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id",
        params![
            tenant.org_id(),
            t.bot_id,
            t.name,
            t.description,
            t.tool_type,
            t.config_json,
            t.input_schema_json,
            t.timeout_ms,
            t.is_enabled
        ],
        |r| r.get(0),
    )
}

pub fn update(conn: &Connection, tenant: &Tenant, id: ToolId, t: &ToolFields<'_>) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE tools SET name = ?3, description = ?4, configuration = ?5, input_schema = ?6, timeout_ms = ?7,
                is_active = ?8
         WHERE id = ?1 AND organization_id = ?2",
        params![
            id,
            tenant.org_id(),
            t.name,
            t.description,
            t.config_json,
            t.input_schema_json,
            t.timeout_ms,
            t.is_enabled
        ],
    )
}

pub fn find(conn: &Connection, tenant: &Tenant, id: ToolId) -> rusqlite::Result<Option<Tool>> {
    query_opt(
        conn,
        &format!("SELECT {TOOL_COLUMNS} FROM tools WHERE id = ?1 AND organization_id = ?2"),
        params![id, tenant.org_id()],
    )
}

/// Whether another tool of the organization has `name`.
pub fn name_taken(conn: &Connection, tenant: &Tenant, name: &str, except: Option<ToolId>) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT 1 FROM tools WHERE organization_id = ?1 AND name = ?2 AND id IS NOT ?3",
        params![tenant.org_id(), name, except],
        |_| Ok(()),
    )
    .optional()
    .map(|found| found.is_some())
}

pub fn list(conn: &Connection, tenant: &Tenant, after: Option<i64>, limit: i64) -> rusqlite::Result<Vec<Tool>> {
    query_all(
        conn,
        &format!("SELECT {TOOL_COLUMNS} FROM tools WHERE organization_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3"),
        params![tenant.org_id(), after.unwrap_or(0), limit],
    )
}

pub fn delete(conn: &Connection, tenant: &Tenant, id: ToolId) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM tools WHERE id = ?1 AND organization_id = ?2", params![id, tenant.org_id()])
}

/// A finished run (arguments, result and error already redacted).
pub struct ExecutionRow<'a> {
    /// `None` for a built-in tool (then `tool_name` says which).
    pub tool_id: Option<ToolId>,
    pub tool_name: &'a str,
    pub bot_id: Option<crate::ids::BotId>,
    pub agent_id: Option<i64>,
    pub execution_id: Option<i64>,
    pub task_id: Option<i64>,
    pub source: &'a str,
    pub input_json: &'a str,
    pub output_json: Option<&'a str>,
    pub status: &'a str,
    pub error_json: Option<&'a str>,
    pub duration_ms: i64,
    pub idempotency_key: &'a str,
}

pub fn insert_execution(conn: &Connection, tenant: &Tenant, e: &ExecutionRow<'_>) -> rusqlite::Result<ToolExecutionId> {
    conn.query_row(
        "INSERT INTO tool_executions (organization_id, tool_id, agent_id, execution_id, task_id, source, input, output,
                                      status, error, duration_ms, idempotency_key, created_by, tool_name, bot_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) RETURNING id",
        params![
            tenant.org_id(),
            e.tool_id,
            e.agent_id,
            e.execution_id,
            e.task_id,
            e.source,
            e.input_json,
            e.output_json,
            e.status,
            e.error_json,
            e.duration_ms,
            e.idempotency_key,
            tenant.user_id(),
            e.tool_name,
            e.bot_id
        ],
        |r| r.get(0),
    )
}

/// A tool's runs, newest first.
pub fn list_executions(
    conn: &Connection,
    tenant: &Tenant,
    tool: ToolId,
    before: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<ToolExecution>> {
    query_all(
        conn,
        &format!(
            "SELECT {EXECUTION_COLUMNS} FROM tool_executions
             WHERE organization_id = ?1 AND tool_id = ?2 AND id < ?3 ORDER BY id DESC LIMIT ?4"
        ),
        params![tenant.org_id(), tool, before.unwrap_or(i64::MAX), limit],
    )
}

/// The enabled tools a bot can use: its own and the organization-wide ones, by name.
pub fn list_for_bot(conn: &Connection, tenant: &Tenant, bot: BotId, limit: i64) -> rusqlite::Result<Vec<Tool>> {
    query_all(
        conn,
        &format!(
            "SELECT {TOOL_COLUMNS} FROM tools
             WHERE organization_id = ?1 AND (bot_id = ?2 OR bot_id IS NULL) AND is_active = 1
             ORDER BY name LIMIT ?3"
        ),
        params![tenant.org_id(), bot, limit],
    )
}

/// A tool by name, organization-wide or of `bot`.
pub fn find_by_name(
    conn: &Connection,
    tenant: &Tenant,
    bot: Option<BotId>,
    name: &str,
) -> rusqlite::Result<Option<Tool>> {
    query_opt(
        conn,
        &format!(
            "SELECT {TOOL_COLUMNS} FROM tools WHERE organization_id = ?1 AND name = ?2 AND (bot_id IS NULL OR bot_id IS ?3)"
        ),
        params![tenant.org_id(), name, bot],
    )
}

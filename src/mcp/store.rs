//! SQL of `mcp_servers`.

use rusqlite::{Connection, OptionalExtension, params};

use super::model::{McpServer, McpServerId, SERVER_COLUMNS};
use crate::db::{query_all, query_opt};
use crate::http::Tenant;
use crate::integrations::model::IntegrationId;

/// A server's settings (validated).
pub struct ServerFields<'a> {
    pub name: &'a str,
    pub url: &'a str,
    pub integration_id: Option<IntegrationId>,
    pub auth_header: &'a str,
    pub auth_prefix: &'a str,
}

pub fn insert(conn: &Connection, tenant: &Tenant, f: &ServerFields<'_>) -> rusqlite::Result<McpServerId> {
    conn.query_row(
        "INSERT INTO mcp_servers (organization_id, name, url, integration_id, auth_header, auth_prefix)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
        params![tenant.org_id(), f.name, f.url, f.integration_id, f.auth_header, f.auth_prefix],
        |r| r.get(0),
    )
}

/// Changes the settings; a new URL or credential forgets the tool list's state.
pub fn update(conn: &Connection, tenant: &Tenant, id: McpServerId, f: &ServerFields<'_>) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE mcp_servers SET name = ?3, url = ?4, integration_id = ?5, auth_header = ?6, auth_prefix = ?7,
                status = CASE WHEN url IS ?4 AND integration_id IS ?5 AND auth_header IS ?6 AND auth_prefix IS ?7
                              THEN status ELSE 'new' END
         WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), f.name, f.url, f.integration_id, f.auth_header, f.auth_prefix],
    )
}

pub fn find(conn: &Connection, tenant: &Tenant, id: McpServerId) -> rusqlite::Result<Option<McpServer>> {
    query_opt(
        conn,
        &format!("SELECT {SERVER_COLUMNS} FROM mcp_servers WHERE id = ?1 AND organization_id = ?2"),
        params![id, tenant.org_id()],
    )
}

pub fn list(conn: &Connection, tenant: &Tenant, after: Option<i64>, limit: i64) -> rusqlite::Result<Vec<McpServer>> {
    query_all(
        conn,
        &format!(
            "SELECT {SERVER_COLUMNS} FROM mcp_servers WHERE organization_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
        ),
        params![tenant.org_id(), after.unwrap_or(0), limit],
    )
}

pub fn delete(conn: &Connection, tenant: &Tenant, id: McpServerId) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM mcp_servers WHERE id = ?1 AND organization_id = ?2", params![id, tenant.org_id()])
}

/// Whether another server of the organization has `name`.
pub fn name_taken(
    conn: &Connection,
    tenant: &Tenant,
    name: &str,
    except: Option<McpServerId>,
) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT 1 FROM mcp_servers WHERE organization_id = ?1 AND name = ?2 AND id IS NOT ?3",
        params![tenant.org_id(), name, except],
        |_| Ok(()),
    )
    .optional()
    .map(|found| found.is_some())
}

/// Whether the organization has the integration.
pub fn integration_exists(conn: &Connection, tenant: &Tenant, id: IntegrationId) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT 1 FROM integrations WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id()],
        |_| Ok(()),
    )
    .optional()
    .map(|found| found.is_some())
}

/// Records a successful refresh: the tools, the server's name and protocol version.
pub fn set_refreshed(
    conn: &Connection,
    tenant: &Tenant,
    id: McpServerId,
    tools_json: &str,
    server_name: Option<&str>,
    protocol_version: &str,
) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE mcp_servers SET status = 'ok', last_error = NULL, tools = ?3, server_name = ?4, protocol_version = ?5,
                refreshed_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), tools_json, server_name, protocol_version],
    )
}

/// Records a failed refresh (the tool list of the last success stays).
pub fn set_failed(conn: &Connection, tenant: &Tenant, id: McpServerId, error: &str) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE mcp_servers SET status = 'error', last_error = ?3, refreshed_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), error],
    )
}

/// Sets the argument schema of the organization's `mcp` tools of server
/// `id` that call `tool`; returns how many changed.
pub fn update_tool_schemas(
    conn: &Connection,
    tenant: &Tenant,
    id: McpServerId,
    tool: &str,
    schema_json: &str,
) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE tools SET input_schema = ?4
         WHERE organization_id = ?1 AND tool_type = 'mcp' AND json_extract(configuration, '$.server_id') = ?2
           AND json_extract(configuration, '$.tool') = ?3 AND input_schema IS NOT ?4",
        params![tenant.org_id(), id, tool, schema_json],
    )
}

//! MCP server connections and the DTOs of their routes.

use rusqlite::Row;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::db::{FromRow, json_column};
use crate::ids::OrgId;
use crate::integrations::model::IntegrationId;

crate::id_type!(
    /// A row of `mcp_servers`.
    McpServerId
);

/// A tool an MCP server offers, as its `tools/list` answered.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct McpTool {
    #[schema(example = "get_forecast")]
    pub name: String,
    pub description: Option<String>,
    /// The tool's `inputSchema` (JSON Schema of its arguments).
    #[schema(value_type = Object)]
    pub input_schema: Value,
}

/// An organization's connection to an MCP server (streamable HTTP). The
/// credential stays in the vault: `integration_id` names it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct McpServer {
    pub id: McpServerId,
    pub organization_id: OrgId,
    /// Unique in the organization.
    pub name: String,
    /// The server's MCP endpoint (`https://mcp.example.com/mcp`).
    pub url: String,
    /// An integration of the vault whose secret is sent in `auth_header`; `null`: no credential.
    pub integration_id: Option<IntegrationId>,
    pub auth_header: String,
    /// Put before the secret (`Bearer `).
    pub auth_prefix: String,
    /// `new` (never refreshed), `ok` or `error` (the last refresh failed: `last_error`).
    pub status: String,
    pub last_error: Option<String>,
    /// What the server called itself (`serverInfo.name`).
    pub server_name: Option<String>,
    /// The protocol version agreed at the last refresh.
    pub protocol_version: Option<String>,
    /// The tools read at the last refresh.
    pub tools: Vec<McpTool>,
    pub refreshed_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

pub const SERVER_COLUMNS: &str = "id, organization_id, name, url, integration_id, auth_header, auth_prefix, status, \
     last_error, server_name, protocol_version, tools, refreshed_at, created_at, updated_at";

impl FromRow for McpServer {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let tools = json_column(row, "tools")?.unwrap_or(Value::Array(Vec::new()));
        Ok(McpServer {
            id: row.get("id")?,
            organization_id: row.get("organization_id")?,
            name: row.get("name")?,
            url: row.get("url")?,
            integration_id: row.get("integration_id")?,
            auth_header: row.get("auth_header")?,
            auth_prefix: row.get("auth_prefix")?,
            status: row.get("status")?,
            last_error: row.get("last_error")?,
            server_name: row.get("server_name")?,
            protocol_version: row.get("protocol_version")?,
            tools: serde_json::from_value(tools).unwrap_or_default(),
            refreshed_at: row.get("refreshed_at")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

/// `POST /orgs/{org_id}/mcp-servers`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMcpServerRequest {
    /// 1–100 characters, unique in the organization.
    pub name: String,
    /// An absolute http(s) URL the outbound policy allows.
    #[schema(example = "https://mcp.example.com/mcp")]
    pub url: String,
    /// An integration of the organization (e.g. `custom`) whose secret is the credential.
    pub integration_id: Option<IntegrationId>,
    /// Default `Authorization`.
    pub auth_header: Option<String>,
    /// Default `Bearer `.
    pub auth_prefix: Option<String>,
}

/// `PATCH /mcp-servers/{mcp_server_id}`: absent fields stay; `integration_id: null` removes the credential.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMcpServerRequest {
    pub name: Option<String>,
    pub url: Option<String>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<i64>)]
    pub integration_id: Option<Option<IntegrationId>>,
    pub auth_header: Option<String>,
    pub auth_prefix: Option<String>,
}

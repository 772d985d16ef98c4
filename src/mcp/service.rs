//! MCP server connections: validation, CRUD, refresh (connect and read the
//! tool list, updating the schemas of the organization's `mcp` tools), and
//! calling a tool of a server.

use std::time::Duration;

use serde_json::{Value, json};

use super::client::{Endpoint, McpError, Session};
use super::model::{CreateMcpServerRequest, McpServer, McpServerId, McpTool, UpdateMcpServerRequest};
use super::store::{self, ServerFields};
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::{Page, PageParams, Tenant};
use crate::outbound::OutboundError;

/// How long a refresh may take.
const REFRESH_TIMEOUT: Duration = Duration::from_secs(20);

pub(crate) fn not_found() -> AppError {
    AppError::new(ErrorCode::McpServerNotFound, "no such MCP server")
}

fn check_name(raw: &str) -> AppResult<String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::validation("name", "1–100 characters"));
    }
    Ok(name.to_owned())
}

fn check_url(state: &AppState, raw: &str) -> AppResult<String> {
    let url = raw.trim();
    if url.len() < 8 || url.len() > 2048 {
        return Err(AppError::validation("url", "an absolute http(s) URL of at most 2048 characters"));
    }
    state.outbound.check(url).map_err(|e| match e {
        OutboundError::Forbidden(_) | OutboundError::Scheme => {
            AppError::new(ErrorCode::UrlNotAllowed, e.to_string()).with_details(json!({ "field": "url" }))
        }
        _ => AppError::validation("url", e.to_string()),
    })?;
    Ok(url.to_owned())
}

fn check_header(raw: Option<&str>, default: &str, field: &str) -> AppResult<String> {
    let v = raw.map_or(default, str::trim);
    if reqwest::header::HeaderName::from_bytes(v.as_bytes()).is_err() {
        return Err(AppError::validation(field, "not a valid header name"));
    }
    Ok(v.to_owned())
}

fn check_prefix(raw: Option<&str>) -> AppResult<String> {
    let v = raw.unwrap_or("Bearer ");
    if v.len() > 100 || v.chars().any(char::is_control) {
        return Err(AppError::validation("auth_prefix", "at most 100 characters, no control characters"));
    }
    Ok(v.to_owned())
}

fn name_taken() -> AppError {
    AppError::new(ErrorCode::NameTaken, "another MCP server of the organization has this name")
        .with_details(json!({ "field": "name" }))
}

fn bad_integration() -> AppError {
    AppError::new(ErrorCode::InvalidReference, "no such integration in this organization")
        .with_details(json!({ "field": "integration_id" }))
}

/// Adds a server (it is not contacted: refresh does that).
pub async fn create(state: &AppState, tenant: Tenant, req: CreateMcpServerRequest) -> AppResult<McpServer> {
    let name = check_name(&req.name)?;
    let url = check_url(state, &req.url)?;
    let auth_header = check_header(req.auth_header.as_deref(), "Authorization", "auth_header")?;
    let auth_prefix = check_prefix(req.auth_prefix.as_deref())?;
    let integration_id = req.integration_id;
    state
        .db
        .write(move |tx| {
            if store::name_taken(tx, &tenant, &name, None)? {
                return Err(name_taken());
            }
            if let Some(i) = integration_id
                && !store::integration_exists(tx, &tenant, i)?
            {
                return Err(bad_integration());
            }
            let fields = ServerFields {
                name: &name,
                url: &url,
                integration_id,
                auth_header: &auth_header,
                auth_prefix: &auth_prefix,
            };
            let id = store::insert(tx, &tenant, &fields)?;
            store::find(tx, &tenant, id)?.ok_or_else(not_found)
        })
        .await
}

pub async fn get(state: &AppState, tenant: Tenant, id: McpServerId) -> AppResult<McpServer> {
    state.db.read(move |c| store::find(c, &tenant, id)?.ok_or_else(not_found)).await
}

pub async fn list(state: &AppState, tenant: Tenant, page: PageParams) -> AppResult<Page<McpServer>> {
    let after = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state.db.read(move |c| Ok(store::list(c, &tenant, after, limit)?)).await?;
    Page::from_rows(rows, &page, |s| s.id.0)
}

/// Changes a server's settings.
pub async fn update(
    state: &AppState,
    tenant: Tenant,
    id: McpServerId,
    req: UpdateMcpServerRequest,
) -> AppResult<McpServer> {
    let before = get(state, tenant.clone(), id).await?;
    let name = check_name(req.name.as_deref().unwrap_or(&before.name))?;
    let url = match req.url.as_deref() {
        Some(u) => check_url(state, u)?,
        None => before.url.clone(),
    };
    let auth_header = check_header(Some(req.auth_header.as_deref().unwrap_or(&before.auth_header)), "", "auth_header")?;
    let auth_prefix = check_prefix(Some(req.auth_prefix.as_deref().unwrap_or(&before.auth_prefix)))?;
    let integration_id = req.integration_id.unwrap_or(before.integration_id);
    state
        .db
        .write(move |tx| {
            if store::name_taken(tx, &tenant, &name, Some(id))? {
                return Err(name_taken());
            }
            if let Some(i) = integration_id
                && !store::integration_exists(tx, &tenant, i)?
            {
                return Err(bad_integration());
            }
            let fields = ServerFields {
                name: &name,
                url: &url,
                integration_id,
                auth_header: &auth_header,
                auth_prefix: &auth_prefix,
            };
            if store::update(tx, &tenant, id, &fields)? == 0 {
                return Err(not_found());
            }
            store::find(tx, &tenant, id)?.ok_or_else(not_found)
        })
        .await
}

/// Deletes a server; its `mcp` tools stay and fail with `mcp_server_not_found` until changed.
pub async fn delete(state: &AppState, tenant: Tenant, id: McpServerId) -> AppResult<()> {
    state.db.write(move |tx| if store::delete(tx, &tenant, id)? == 0 { Err(not_found()) } else { Ok(()) }).await
}

/// Where to reach `server`, with its credential read from the vault.
/// Errors: the integration's own (`integration_not_connected`, …).
pub async fn endpoint(state: &AppState, tenant: &Tenant, server: &McpServer) -> AppResult<Endpoint> {
    let auth = match server.integration_id {
        Some(i) => {
            let token = crate::integrations::service::access_token(state, tenant, i).await?;
            Some((server.auth_header.clone(), format!("{}{token}", server.auth_prefix)))
        }
        None => None,
    };
    Ok(Endpoint { url: server.url.clone(), auth })
}

/// Connects to the server and reads its tools; on success stores them and
/// updates the argument schemas of the organization's `mcp` tools of this
/// server; on failure records the error and answers 502
/// `mcp_server_unavailable` (details: `reason`, the stable cause code).
pub async fn refresh(state: &AppState, tenant: Tenant, id: McpServerId) -> AppResult<McpServer> {
    let server = get(state, tenant.clone(), id).await?;
    let endpoint = endpoint(state, &tenant, &server).await?;
    let secret = endpoint.auth.as_ref().map(|(_, v)| v.clone());
    let outcome: Result<(Vec<McpTool>, Option<String>, String), McpError> = async {
        let mut session = Session::open(state, &endpoint, REFRESH_TIMEOUT).await?;
        let tools = session.list_tools().await;
        let (name, version) = (session.server_name.clone(), session.protocol_version.clone());
        session.close().await;
        Ok((tools?, name, version))
    }
    .await;
    match outcome {
        Ok((tools, server_name, version)) => {
            let tools_json = serde_json::to_string(&tools).map_err(AppError::internal)?;
            state
                .db
                .write(move |tx| {
                    store::set_refreshed(tx, &tenant, id, &tools_json, server_name.as_deref(), &version)?;
                    for t in &tools {
                        if crate::tools::schema::check_input_schema(&t.input_schema).is_ok() {
                            store::update_tool_schemas(tx, &tenant, id, &t.name, &t.input_schema.to_string())?;
                        }
                    }
                    store::find(tx, &tenant, id)?.ok_or_else(not_found)
                })
                .await
        }
        Err(e) => {
            let mut message = e.to_string();
            if let Some(s) = secret.as_deref() {
                message = message.replace(s, crate::tools::types::REDACTED);
            }
            let (t, stored) = (tenant.clone(), message.clone());
            state.db.write(move |tx| Ok(store::set_failed(tx, &t, id, &stored)?)).await?;
            Err(AppError::new(ErrorCode::McpServerUnavailable, message)
                .with_details(json!({ "reason": e.code(), "mcp_server_id": id })))
        }
    }
}

/// The tool `name` of the stored list of `server`, if it has one.
#[must_use]
pub fn find_tool<'a>(server: &'a McpServer, name: &str) -> Option<&'a McpTool> {
    server.tools.iter().find(|t| t.name == name)
}

/// Calls `tool` on `server` with `args` within `timeout`: the `tools/call`
/// result (`content`, `structuredContent`, `isError`).
pub async fn call_tool(
    state: &AppState,
    endpoint: &Endpoint,
    tool: &str,
    args: &Value,
    timeout: Duration,
) -> Result<Value, McpError> {
    let mut session = Session::open(state, endpoint, timeout).await?;
    let result = session.call("tools/call", Some(json!({ "name": tool, "arguments": args }))).await;
    session.close().await;
    result
}

//! MCP (Model Context Protocol, issue 19 item 2), both ways:
//!
//! - **client** ([`client`]): an organization connects MCP servers
//!   (streamable HTTP; URL, credential from the vault, SSRF guard); refresh
//!   reads their tools, which become tools of type `mcp`
//!   (`src/tools/types/mcp.rs`) usable by agents, workflows and flows.
//! - **server** ([`server`]): `POST /api/v1/mcp/bots/{bot_id}` exposes a
//!   bot's tools and knowledge search to other agents, with the API's
//!   authentication and authorization and every call in `tool_executions`.
//!
//! Reading needs `agents.read`; changing and refreshing, `agents.write`.

pub mod client;
pub mod model;
pub mod server;
pub mod service;
pub mod store;

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use rusqlite::{Connection, OptionalExtension};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::{CreateMcpServerRequest, McpServer, McpServerId, UpdateMcpServerRequest};
use crate::app::AppState;
use crate::error::{AppResult, ErrorBody, ErrorCode};
use crate::http::scope::{BotScope, Owner, ScopeResource, Scoped};
use crate::http::{Json, OrgScope, Page, PageParams};
use crate::permissions::perm;

/// `/mcp-servers/{mcp_server_id}/…`
pub struct McpServerResource;
impl ScopeResource for McpServerResource {
    const PARAM: &'static str = "mcp_server_id";
    const NOT_FOUND: ErrorCode = ErrorCode::McpServerNotFound;
    type Id = McpServerId;
    fn owner(conn: &Connection, id: McpServerId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row("SELECT organization_id FROM mcp_servers WHERE id = ?1", [id], |r| {
            Ok(Owner { org_id: r.get(0)?, bot_id: None })
        })
        .optional()
    }
}

pub type McpServerScope<P> = Scoped<McpServerResource, P>;

/// Registers the routes.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_mcp_server)
        .service(list_mcp_servers)
        .service(get_mcp_server)
        .service(update_mcp_server)
        .service(delete_mcp_server)
        .service(refresh_mcp_server)
        .service(bot_mcp_endpoint);
}

/// Connects an MCP server (streamable HTTP); refresh reads its tools.
#[utoipa::path(
    tag = "mcp",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = CreateMcpServerRequest,
    responses((status = 201, body = McpServer), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "`name_taken`"),
              (status = 422, body = ErrorBody, description = "`validation_failed` (field `name`, `url`, `auth_header`, `auth_prefix`), `url_not_allowed` (field `url`), `invalid_reference` (field `integration_id`)")),
    security(("session" = ["agents.write"]), ("api_token" = ["agents.write"]))
)]
#[post("/orgs/{org_id}/mcp-servers")]
async fn create_mcp_server(
    scope: OrgScope<perm::AgentsWrite>,
    state: web::Data<AppState>,
    body: Json<CreateMcpServerRequest>,
) -> AppResult<HttpResponse> {
    let server = service::create(&state, scope.into_tenant(), body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(server))
}

/// Lists the organization's MCP servers with the tools of their last refresh.
#[utoipa::path(
    tag = "mcp",
    params(("org_id" = i64, Path, description = "Organization id"), PageParams),
    responses((status = 200, body = Page<McpServer>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["agents.read"]), ("api_token" = ["agents.read"]))
)]
#[get("/orgs/{org_id}/mcp-servers")]
async fn list_mcp_servers(
    scope: OrgScope<perm::AgentsRead>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<McpServer>>> {
    Ok(web::Json(service::list(&state, scope.into_tenant(), page.into_inner()).await?))
}

/// Shows an MCP server and its tools.
#[utoipa::path(
    tag = "mcp",
    params(("mcp_server_id" = i64, Path, description = "MCP server id")),
    responses((status = 200, body = McpServer), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["agents.read"]), ("api_token" = ["agents.read"]))
)]
#[get("/mcp-servers/{mcp_server_id}")]
async fn get_mcp_server(
    scope: McpServerScope<perm::AgentsRead>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<McpServer>> {
    let id = scope.id();
    Ok(web::Json(service::get(&state, scope.into_tenant(), id).await?))
}

/// Changes an MCP server's settings (a new URL or credential sets `status` back to `new`).
#[utoipa::path(
    tag = "mcp",
    params(("mcp_server_id" = i64, Path, description = "MCP server id")),
    request_body = UpdateMcpServerRequest,
    responses((status = 200, body = McpServer), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`name_taken`"),
              (status = 422, body = ErrorBody, description = "`validation_failed`, `url_not_allowed` or `invalid_reference`")),
    security(("session" = ["agents.write"]), ("api_token" = ["agents.write"]))
)]
#[patch("/mcp-servers/{mcp_server_id}")]
async fn update_mcp_server(
    scope: McpServerScope<perm::AgentsWrite>,
    state: web::Data<AppState>,
    body: Json<UpdateMcpServerRequest>,
) -> AppResult<web::Json<McpServer>> {
    let id = scope.id();
    Ok(web::Json(service::update(&state, scope.into_tenant(), id, body.into_inner()?).await?))
}

/// Removes an MCP server (its `mcp` tools stay and fail until pointed elsewhere).
#[utoipa::path(
    tag = "mcp",
    params(("mcp_server_id" = i64, Path, description = "MCP server id")),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["agents.write"]), ("api_token" = ["agents.write"]))
)]
#[delete("/mcp-servers/{mcp_server_id}")]
async fn delete_mcp_server(
    scope: McpServerScope<perm::AgentsWrite>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    service::delete(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Connects to the server and reads its tools (the connection test): stores
/// them and updates the argument schemas of the organization's `mcp` tools of
/// this server.
#[utoipa::path(
    tag = "mcp",
    params(("mcp_server_id" = i64, Path, description = "MCP server id")),
    responses((status = 200, body = McpServer), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`integration_not_connected`: the credential's integration has no secret"),
              (status = 502, body = ErrorBody, description = "`mcp_server_unavailable`: `details.reason` is `mcp_unreachable`, `url_not_allowed`, `mcp_unauthorized`, `mcp_protocol_error`, `mcp_error` or `timeout`")),
    security(("session" = ["agents.write"]), ("api_token" = ["agents.write"]))
)]
#[post("/mcp-servers/{mcp_server_id}/refresh")]
async fn refresh_mcp_server(
    scope: McpServerScope<perm::AgentsWrite>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<McpServer>> {
    let id = scope.id();
    Ok(web::Json(service::refresh(&state, scope.into_tenant(), id).await?))
}

/// The bot's MCP endpoint (streamable HTTP transport, JSON answers, no
/// session): one JSON-RPC 2.0 message per POST — `initialize`, `ping`,
/// `tools/list` (`agents.read`), `tools/call` (`agents.write`, else JSON-RPC
/// error -32001). Notifications answer 202. Authenticate with a bearer API
/// token (`Authorization: Bearer bb_…`).
#[utoipa::path(
    tag = "mcp",
    params(("bot_id" = i64, Path, description = "Bot id")),
    request_body(content = Object, description = "A JSON-RPC 2.0 message"),
    responses((status = 200, description = "A JSON-RPC 2.0 answer (result or error)"),
              (status = 202, description = "A notification was accepted"),
              (status = 400, description = "JSON-RPC parse error, invalid request or unsupported `MCP-Protocol-Version`"),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["agents.read"]), ("api_token" = ["agents.read"]))
)]
#[post("/mcp/bots/{bot_id}")]
async fn bot_mcp_endpoint(
    scope: BotScope<perm::AgentsRead>,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    let bot = scope.id();
    let tenant = scope.into_tenant();
    let bot_name = crate::bots::service::get(&state, tenant.clone(), bot).await?.name;
    let version = req.headers().get("mcp-protocol-version").and_then(|v| v.to_str().ok());
    Ok(match server::handle(&state, &tenant, bot, &bot_name, version, &body).await {
        server::Reply::Accepted => HttpResponse::Accepted().finish(),
        server::Reply::Message(status, message) => {
            let status = actix_web::http::StatusCode::from_u16(status)
                .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
            HttpResponse::build(status).json(message)
        }
    })
}

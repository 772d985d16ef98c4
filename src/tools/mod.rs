//! Tools (issue 19 item 2): organization-scoped tools of several types
//! (HTTP requests, knowledge search, read-only SQL on an external `SQLite`
//! file, flow actions, signed webhooks), each with a JSON Schema for its
//! arguments, run through one executor ([`execute`]) that validates the
//! arguments, enforces the tool's time limit, redacts secrets and records
//! every run in `tool_executions`. The type catalogue and how to add a type:
//! [`types`]. Reading needs `agents.read`; changing and running, `agents.write`.

pub mod model;
pub mod schema;
pub mod service;
pub mod store;
pub mod types;

use actix_web::{HttpResponse, delete, get, patch, post, web};
use rusqlite::{Connection, OptionalExtension};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::{
    CreateToolRequest, TestToolRequest, Tool, ToolExecution, ToolId, ToolOutcome, ToolTypeInfo, UpdateToolRequest,
};
pub use self::service::execute;
pub use self::types::{ExecContext, ToolType};
use crate::app::AppState;
use crate::error::{AppResult, ErrorBody, ErrorCode};
use crate::http::scope::{Owner, ScopeResource, Scoped};
use crate::http::{Json, OrgScope, Page, PageParams};
use crate::permissions::perm;

/// `/tools/{tool_id}/…`
pub struct ToolResource;
impl ScopeResource for ToolResource {
    const PARAM: &'static str = "tool_id";
    const NOT_FOUND: ErrorCode = ErrorCode::ToolNotFound;
    type Id = ToolId;
    fn owner(conn: &Connection, id: ToolId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row("SELECT organization_id, bot_id FROM tools WHERE id = ?1", [id], |r| {
            Ok(Owner { org_id: r.get(0)?, bot_id: r.get(1)? })
        })
        .optional()
    }
}

pub type ToolScope<P> = Scoped<ToolResource, P>;

/// Registers the routes.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_tool_types)
        .service(create_tool)
        .service(list_tools)
        .service(get_tool)
        .service(update_tool)
        .service(delete_tool)
        .service(test_tool)
        .service(list_executions);
}

/// The tool types: each with its config schema, an example config and an argument-schema example.
#[utoipa::path(
    tag = "tools",
    params(("org_id" = i64, Path, description = "Organization id")),
    responses((status = 200, body = Vec<ToolTypeInfo>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["agents.read"]), ("api_token" = ["agents.read"]))
)]
#[get("/orgs/{org_id}/tool-types")]
async fn list_tool_types(_scope: OrgScope<perm::AgentsRead>) -> web::Json<Vec<ToolTypeInfo>> {
    web::Json(service::catalogue())
}

/// Creates a tool.
#[utoipa::path(
    tag = "tools",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = CreateToolRequest,
    responses((status = 201, body = Tool), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "`name_taken`"),
              (status = 422, body = ErrorBody, description = "`validation_failed`, `unknown_tool_type` (field `type`), `tool_schema_invalid` (field `input_schema`, `details.path` the JSON pointer), `tool_config_invalid` (e.g. field `config.url`), `sandbox_script_error` (a code tool's syntax error: field `config.source`, `details.line`), `url_not_allowed` or `invalid_reference` (field `bot_id`)")),
    security(("session" = ["agents.write"]), ("api_token" = ["agents.write"]))
)]
#[post("/orgs/{org_id}/tools")]
async fn create_tool(
    scope: OrgScope<perm::AgentsWrite>,
    state: web::Data<AppState>,
    body: Json<CreateToolRequest>,
) -> AppResult<HttpResponse> {
    let tool = service::create(&state, scope.into_tenant(), body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(tool))
}

/// Lists the organization's tools.
#[utoipa::path(
    tag = "tools",
    params(("org_id" = i64, Path, description = "Organization id"), PageParams),
    responses((status = 200, body = Page<Tool>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("session" = ["agents.read"]), ("api_token" = ["agents.read"]))
)]
#[get("/orgs/{org_id}/tools")]
async fn list_tools(
    scope: OrgScope<perm::AgentsRead>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Tool>>> {
    Ok(web::Json(service::list(&state, scope.into_tenant(), page.into_inner()).await?))
}

/// Shows a tool.
#[utoipa::path(
    tag = "tools",
    params(("tool_id" = i64, Path, description = "Tool id")),
    responses((status = 200, body = Tool), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["agents.read"]), ("api_token" = ["agents.read"]))
)]
#[get("/tools/{tool_id}")]
async fn get_tool(scope: ToolScope<perm::AgentsRead>, state: web::Data<AppState>) -> AppResult<web::Json<Tool>> {
    let id = scope.id();
    Ok(web::Json(service::get(&state, scope.into_tenant(), id).await?))
}

/// Changes a tool (its type stays).
#[utoipa::path(
    tag = "tools",
    params(("tool_id" = i64, Path, description = "Tool id")),
    request_body = UpdateToolRequest,
    responses((status = 200, body = Tool), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`name_taken`"),
              (status = 422, body = ErrorBody, description = "`validation_failed`, `tool_schema_invalid`, `tool_config_invalid` or `url_not_allowed`")),
    security(("session" = ["agents.write"]), ("api_token" = ["agents.write"]))
)]
#[patch("/tools/{tool_id}")]
async fn update_tool(
    scope: ToolScope<perm::AgentsWrite>,
    state: web::Data<AppState>,
    body: Json<UpdateToolRequest>,
) -> AppResult<web::Json<Tool>> {
    let id = scope.id();
    Ok(web::Json(service::update(&state, scope.into_tenant(), id, body.into_inner()?).await?))
}

/// Deletes a tool and its run log.
#[utoipa::path(
    tag = "tools",
    params(("tool_id" = i64, Path, description = "Tool id")),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["agents.write"]), ("api_token" = ["agents.write"]))
)]
#[delete("/tools/{tool_id}")]
async fn delete_tool(scope: ToolScope<perm::AgentsWrite>, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let id = scope.id();
    service::delete(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Test-runs a tool with arguments: result, duration and status (`ok`, `error`, `timeout`); the run is recorded.
#[utoipa::path(
    tag = "tools",
    params(("tool_id" = i64, Path, description = "Tool id")),
    request_body = TestToolRequest,
    responses((status = 200, body = ToolOutcome, description = "The run's outcome, also when the tool failed or timed out"),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "`tool_arguments_invalid` (`details.issues`: each failing field's JSON pointer) or `unknown_tool_type`")),
    security(("session" = ["agents.write"]), ("api_token" = ["agents.write"]))
)]
#[post("/tools/{tool_id}/test")]
async fn test_tool(
    scope: ToolScope<perm::AgentsWrite>,
    state: web::Data<AppState>,
    body: Json<TestToolRequest>,
) -> AppResult<web::Json<ToolOutcome>> {
    let id = scope.id();
    let req = body.into_inner()?;
    Ok(web::Json(service::test(&state, scope.into_tenant(), id, &req.arguments).await?))
}

/// The tool's runs, newest first (arguments and results with secrets redacted).
#[utoipa::path(
    tag = "tools",
    params(("tool_id" = i64, Path, description = "Tool id"), PageParams),
    responses((status = 200, body = Page<ToolExecution>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("session" = ["agents.read"]), ("api_token" = ["agents.read"]))
)]
#[get("/tools/{tool_id}/executions")]
async fn list_executions(
    scope: ToolScope<perm::AgentsRead>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<ToolExecution>>> {
    let id = scope.id();
    Ok(web::Json(service::list_executions(&state, scope.into_tenant(), id, page.into_inner()).await?))
}

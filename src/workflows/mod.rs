//! Multi-agent workflows (issue 19 item 4): per-bot graphs of agent, tool,
//! condition, parallel/join, router, approval and end steps ([`graph`]),
//! run as durable jobs that survive a restart ([`run`]), with a trace of
//! every step and message. Workflows belong to a bot because their agents,
//! tools and knowledge do and a run is the bot's usage; reading needs
//! `agents.read`, changing, running, cancelling and approving `agents.write`.

pub mod agent_call;
pub mod graph;
pub mod model;
pub mod run;
pub mod service;
pub mod store;

use actix_web::{HttpResponse, delete, get, patch, post, web};
use rusqlite::{Connection, OptionalExtension};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::{
    ApproveRequest, CreateWorkflowRequest, Execution, ExecutionId, ExecutionTrace, RunWorkflowRequest,
    UpdateWorkflowRequest, Workflow, WorkflowId,
};
use crate::app::AppState;
use crate::error::{AppResult, ErrorBody, ErrorCode};
use crate::http::scope::{Owner, ScopeResource, Scoped};
use crate::http::{BotScope, Json, Page, PageParams};
use crate::permissions::perm;

/// `/workflows/{workflow_id}/…`
pub struct WorkflowResource;
impl ScopeResource for WorkflowResource {
    const PARAM: &'static str = "workflow_id";
    const NOT_FOUND: ErrorCode = ErrorCode::WorkflowNotFound;
    type Id = WorkflowId;
    fn owner(conn: &Connection, id: WorkflowId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row("SELECT organization_id, bot_id FROM agent_workflows WHERE id = ?1", [id], |r| {
            Ok(Owner { org_id: r.get(0)?, bot_id: r.get(1)? })
        })
        .optional()
    }
}

/// `/workflow-executions/{execution_id}/…`
pub struct ExecutionResource;
impl ScopeResource for ExecutionResource {
    const PARAM: &'static str = "execution_id";
    const NOT_FOUND: ErrorCode = ErrorCode::WorkflowExecutionNotFound;
    type Id = ExecutionId;
    fn owner(conn: &Connection, id: ExecutionId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row("SELECT organization_id, bot_id FROM workflow_executions WHERE id = ?1", [id], |r| {
            Ok(Owner { org_id: r.get(0)?, bot_id: r.get(1)? })
        })
        .optional()
    }
}

pub type WorkflowScope<P> = Scoped<WorkflowResource, P>;
pub type ExecutionScope<P> = Scoped<ExecutionResource, P>;

/// Registers the routes.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_workflow)
        .service(list_workflows)
        .service(get_workflow)
        .service(update_workflow)
        .service(delete_workflow)
        .service(run_workflow)
        .service(list_workflow_executions)
        .service(get_execution)
        .service(cancel_execution)
        .service(approve_execution);
}

/// Creates a workflow of the bot.
#[utoipa::path(
    tag = "workflows",
    params(("bot_id" = i64, Path, description = "Bot id")),
    request_body = CreateWorkflowRequest,
    responses((status = 201, body = Workflow), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "`name_taken`"),
              (status = 422, body = ErrorBody, description = "`validation_failed`, `workflow_step_type_unknown`, `workflow_edge_dangling`, `workflow_cycle_without_exit` or `invalid_reference` (an unknown agent or tool); `details.field` names the fault, e.g. `definition.steps[1].next`")),
    security(("session" = ["agents.write"]), ("api_token" = ["agents.write"]))
)]
#[post("/bots/{bot_id}/workflows")]
async fn create_workflow(
    scope: BotScope<perm::AgentsWrite>,
    state: web::Data<AppState>,
    body: Json<CreateWorkflowRequest>,
) -> AppResult<HttpResponse> {
    let bot = scope.id();
    let w = service::create(&state, scope.into_tenant(), bot, body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(w))
}

/// Lists the bot's workflows.
#[utoipa::path(
    tag = "workflows",
    params(("bot_id" = i64, Path, description = "Bot id"), PageParams),
    responses((status = 200, body = Page<Workflow>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["agents.read"]), ("api_token" = ["agents.read"]))
)]
#[get("/bots/{bot_id}/workflows")]
async fn list_workflows(
    scope: BotScope<perm::AgentsRead>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Workflow>>> {
    let bot = scope.id();
    Ok(web::Json(service::list(&state, scope.into_tenant(), bot, page.into_inner()).await?))
}

/// Shows a workflow.
#[utoipa::path(
    tag = "workflows",
    params(("workflow_id" = i64, Path, description = "Workflow id")),
    responses((status = 200, body = Workflow), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["agents.read"]), ("api_token" = ["agents.read"]))
)]
#[get("/workflows/{workflow_id}")]
async fn get_workflow(
    scope: WorkflowScope<perm::AgentsRead>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<Workflow>> {
    let id = scope.id();
    Ok(web::Json(service::get(&state, scope.into_tenant(), id).await?))
}

/// Changes a workflow (runs already started keep running with the graph they read at each step).
#[utoipa::path(
    tag = "workflows",
    params(("workflow_id" = i64, Path, description = "Workflow id")),
    request_body = UpdateWorkflowRequest,
    responses((status = 200, body = Workflow), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`name_taken`"),
              (status = 422, body = ErrorBody, description = "as for creation")),
    security(("session" = ["agents.write"]), ("api_token" = ["agents.write"]))
)]
#[patch("/workflows/{workflow_id}")]
async fn update_workflow(
    scope: WorkflowScope<perm::AgentsWrite>,
    state: web::Data<AppState>,
    body: Json<UpdateWorkflowRequest>,
) -> AppResult<web::Json<Workflow>> {
    let id = scope.id();
    Ok(web::Json(service::update(&state, scope.into_tenant(), id, body.into_inner()?).await?))
}

/// Deletes a workflow and its runs.
#[utoipa::path(
    tag = "workflows",
    params(("workflow_id" = i64, Path, description = "Workflow id")),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["agents.write"]), ("api_token" = ["agents.write"]))
)]
#[delete("/workflows/{workflow_id}")]
async fn delete_workflow(
    scope: WorkflowScope<perm::AgentsWrite>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    service::delete(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Starts a run: answers at once (202) with the execution; a background job runs it.
#[utoipa::path(
    tag = "workflows",
    params(("workflow_id" = i64, Path, description = "Workflow id")),
    request_body = RunWorkflowRequest,
    responses((status = 202, body = Execution), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`workflow_inactive`"),
              (status = 422, body = ErrorBody, description = "`validation_failed` (field `input`)")),
    security(("session" = ["agents.write"]), ("api_token" = ["agents.write"]))
)]
#[post("/workflows/{workflow_id}/run")]
async fn run_workflow(
    scope: WorkflowScope<perm::AgentsWrite>,
    state: web::Data<AppState>,
    body: Json<RunWorkflowRequest>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    let req = body.into_inner()?;
    let exec = service::start(&state, scope.into_tenant(), id, req.input).await?;
    Ok(HttpResponse::Accepted().json(exec))
}

/// The workflow's runs, newest first.
#[utoipa::path(
    tag = "workflows",
    params(("workflow_id" = i64, Path, description = "Workflow id"), PageParams),
    responses((status = 200, body = Page<Execution>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["agents.read"]), ("api_token" = ["agents.read"]))
)]
#[get("/workflows/{workflow_id}/executions")]
async fn list_workflow_executions(
    scope: WorkflowScope<perm::AgentsRead>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Execution>>> {
    let id = scope.id();
    Ok(web::Json(service::list_executions(&state, scope.into_tenant(), id, page.into_inner()).await?))
}

/// A run with its trace: every step activation (input, output, status, timing, tokens) and the messages between steps.
#[utoipa::path(
    tag = "workflows",
    params(("execution_id" = i64, Path, description = "Workflow execution id")),
    responses((status = 200, body = ExecutionTrace), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["agents.read"]), ("api_token" = ["agents.read"]))
)]
#[get("/workflow-executions/{execution_id}")]
async fn get_execution(
    scope: ExecutionScope<perm::AgentsRead>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<ExecutionTrace>> {
    let id = scope.id();
    Ok(web::Json(service::trace(&state, scope.into_tenant(), id).await?))
}

/// Cancels a run: it ends as `cancelled` at once; a step in flight is stopped.
#[utoipa::path(
    tag = "workflows",
    params(("execution_id" = i64, Path, description = "Workflow execution id")),
    responses((status = 200, body = ExecutionTrace), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`workflow_execution_finished`")),
    security(("session" = ["agents.write"]), ("api_token" = ["agents.write"]))
)]
#[post("/workflow-executions/{execution_id}/cancel")]
async fn cancel_execution(
    scope: ExecutionScope<perm::AgentsWrite>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<ExecutionTrace>> {
    let id = scope.id();
    Ok(web::Json(service::cancel(&state, scope.into_tenant(), id).await?))
}

/// Decides the approval step the run waits for: approved continues with the step's `next`, refused with its `reject` (else the run fails as `rejected`).
#[utoipa::path(
    tag = "workflows",
    params(("execution_id" = i64, Path, description = "Workflow execution id")),
    request_body = ApproveRequest,
    responses((status = 200, body = ExecutionTrace), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`workflow_not_waiting` or `workflow_execution_finished`"),
              (status = 422, body = ErrorBody, description = "`validation_failed` (field `approved` or `comment`)")),
    security(("session" = ["agents.write"]), ("api_token" = ["agents.write"]))
)]
#[post("/workflow-executions/{execution_id}/approve")]
async fn approve_execution(
    scope: ExecutionScope<perm::AgentsWrite>,
    state: web::Data<AppState>,
    body: Json<ApproveRequest>,
) -> AppResult<web::Json<ExecutionTrace>> {
    let id = scope.id();
    let req = body.into_inner()?;
    Ok(web::Json(service::approve(&state, scope.into_tenant(), id, req.approved, req.comment).await?))
}

//! Autonomous agents (issue 19 item 5): an organization's agents that work
//! towards a goal on their own. A run plans steps from the goal and executes
//! them one by one with the agent's tools ([`runner`]), durably (a job per
//! run), within a step limit and token/cost budgets, and can be paused,
//! resumed and cancelled. Runs start on demand, on a cron schedule in a time
//! zone ([`schedule`]), on an organization webhook event, or from an inbound
//! webhook URL with an unguessable token. Results are delivered by email
//! and as the `agent.run.completed` event ([`delivery`]); each agent keeps a
//! long-term memory searched with the local embeddings ([`memory`]).
//! Reading needs `agents.read`; changing and running, `agents.write`.

pub mod delivery;
pub mod memory;
pub mod model;
pub mod runner;
pub mod schedule;
pub mod service;
pub mod store;

use actix_web::{HttpResponse, delete, get, patch, post, web};
use rusqlite::{Connection, OptionalExtension};
use serde_json::Value;
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::{
    AddMemoryRequest, AgentAnalytics, AgentInput, AgentMemoryId, AutonomousAgent, AutonomousAgentId, AutonomousRun,
    AutonomousRunId, Consolidation, HookSecret, Memory, MemoryQuery, PreviewRequest, SchedulePreview, StartRunRequest,
};
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorBody, ErrorCode};
use crate::http::scope::{Owner, ScopeResource, Scoped};
use crate::http::{Json, OrgScope, Page, PageParams};
use crate::permissions::perm;

/// `/autonomous-agents/{autonomous_agent_id}/…`
pub struct AgentResource;
impl ScopeResource for AgentResource {
    const PARAM: &'static str = "autonomous_agent_id";
    const NOT_FOUND: ErrorCode = ErrorCode::AutonomousAgentNotFound;
    type Id = AutonomousAgentId;
    fn owner(conn: &Connection, id: AutonomousAgentId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row("SELECT organization_id FROM autonomous_agents WHERE id = ?1", [id], |r| {
            Ok(Owner { org_id: r.get(0)?, bot_id: None })
        })
        .optional()
    }
}

/// `/autonomous-runs/{autonomous_run_id}/…`
pub struct RunResource;
impl ScopeResource for RunResource {
    const PARAM: &'static str = "autonomous_run_id";
    const NOT_FOUND: ErrorCode = ErrorCode::AutonomousRunNotFound;
    type Id = AutonomousRunId;
    fn owner(conn: &Connection, id: AutonomousRunId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row("SELECT organization_id FROM agent_tasks WHERE id = ?1", [id], |r| {
            Ok(Owner { org_id: r.get(0)?, bot_id: None })
        })
        .optional()
    }
}

/// `/autonomous-memories/{autonomous_memory_id}`
pub struct MemoryResource;
impl ScopeResource for MemoryResource {
    const PARAM: &'static str = "autonomous_memory_id";
    const NOT_FOUND: ErrorCode = ErrorCode::AutonomousMemoryNotFound;
    type Id = AgentMemoryId;
    fn owner(conn: &Connection, id: AgentMemoryId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row("SELECT organization_id FROM agent_memories WHERE id = ?1", [id], |r| {
            Ok(Owner { org_id: r.get(0)?, bot_id: None })
        })
        .optional()
    }
}

type AgentScope<P> = Scoped<AgentResource, P>;
type RunScope<P> = Scoped<RunResource, P>;

/// Registers the routes.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_autonomous_agents)
        .service(create_autonomous_agent)
        .service(preview_autonomous_schedule)
        .service(get_autonomous_agent)
        .service(update_autonomous_agent)
        .service(delete_autonomous_agent)
        .service(run_autonomous_agent)
        .service(list_autonomous_runs)
        .service(autonomous_agent_analytics)
        .service(rotate_autonomous_hook)
        .service(remove_autonomous_hook)
        .service(list_autonomous_memories)
        .service(add_autonomous_memory)
        .service(consolidate_autonomous_memories)
        .service(delete_autonomous_memory)
        .service(get_autonomous_run)
        .service(pause_autonomous_run)
        .service(resume_autonomous_run)
        .service(cancel_autonomous_run)
        .service(autonomous_inbound_hook);
}

/// Lists the organization's autonomous agents.
#[utoipa::path(
    tag = "autonomous",
    params(("org_id" = i64, Path, description = "Organization id"), PageParams),
    responses((status = 200, body = Page<AutonomousAgent>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["agents.read"]), ("api_token" = ["agents.read"]))
)]
#[get("/orgs/{org_id}/autonomous-agents")]
async fn list_autonomous_agents(
    scope: OrgScope<perm::AgentsRead>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<AutonomousAgent>>> {
    Ok(web::Json(service::list(&state, scope.into_tenant(), page.into_inner()).await?))
}

/// Creates an autonomous agent.
#[utoipa::path(
    tag = "autonomous",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = AgentInput,
    responses((status = 201, body = AutonomousAgent), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "`name_taken`"),
              (status = 422, body = ErrorBody, description = "`validation_failed` (the field in `details.field`, e.g. `token_budget` below 0), `schedule_invalid` (`schedule.cron` or `schedule.timezone`), `unknown_webhook_event` (`trigger_event`) or `invalid_reference` (`provider_id`, `agent_id`, `tool_ids[i]`)")),
    security(("session" = ["agents.write"]), ("api_token" = ["agents.write"]))
)]
#[post("/orgs/{org_id}/autonomous-agents")]
async fn create_autonomous_agent(
    scope: OrgScope<perm::AgentsWrite>,
    state: web::Data<AppState>,
    body: Json<AgentInput>,
) -> AppResult<HttpResponse> {
    let agent = service::create(&state, scope.into_tenant(), body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(agent))
}

/// The next times a cron schedule fires (UTC and local).
#[utoipa::path(
    tag = "autonomous",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = PreviewRequest,
    responses((status = 200, body = SchedulePreview), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody, description = "`schedule_invalid` or `validation_failed` (`count`)")),
    security(("session" = ["agents.read"]), ("api_token" = ["agents.read"]))
)]
#[post("/orgs/{org_id}/autonomous-agents/schedule-preview")]
async fn preview_autonomous_schedule(
    _scope: OrgScope<perm::AgentsRead>,
    body: Json<PreviewRequest>,
) -> AppResult<web::Json<SchedulePreview>> {
    Ok(web::Json(service::preview(&body.into_inner()?)?))
}

/// Shows an autonomous agent.
#[utoipa::path(
    tag = "autonomous",
    params(("autonomous_agent_id" = i64, Path, description = "Autonomous agent id")),
    responses((status = 200, body = AutonomousAgent), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["agents.read"]), ("api_token" = ["agents.read"]))
)]
#[get("/autonomous-agents/{autonomous_agent_id}")]
async fn get_autonomous_agent(
    scope: AgentScope<perm::AgentsRead>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<AutonomousAgent>> {
    let id = scope.id();
    Ok(web::Json(service::get(&state, scope.into_tenant(), id).await?))
}

/// Changes an autonomous agent (absent fields stay; `null` clears).
#[utoipa::path(
    tag = "autonomous",
    params(("autonomous_agent_id" = i64, Path, description = "Autonomous agent id")),
    request_body = AgentInput,
    responses((status = 200, body = AutonomousAgent), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "`name_taken`"),
              (status = 422, body = ErrorBody, description = "As on create")),
    security(("session" = ["agents.write"]), ("api_token" = ["agents.write"]))
)]
#[patch("/autonomous-agents/{autonomous_agent_id}")]
async fn update_autonomous_agent(
    scope: AgentScope<perm::AgentsWrite>,
    state: web::Data<AppState>,
    body: Json<AgentInput>,
) -> AppResult<web::Json<AutonomousAgent>> {
    let id = scope.id();
    Ok(web::Json(service::update(&state, scope.into_tenant(), id, body.into_inner()?).await?))
}

/// Deletes an autonomous agent with its runs and memories.
#[utoipa::path(
    tag = "autonomous",
    params(("autonomous_agent_id" = i64, Path, description = "Autonomous agent id")),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["agents.write"]), ("api_token" = ["agents.write"]))
)]
#[delete("/autonomous-agents/{autonomous_agent_id}")]
async fn delete_autonomous_agent(
    scope: AgentScope<perm::AgentsWrite>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    service::delete(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Starts a run now; it runs in the background (poll `GET /autonomous-runs/{autonomous_run_id}`).
#[utoipa::path(
    tag = "autonomous",
    params(("autonomous_agent_id" = i64, Path, description = "Autonomous agent id")),
    request_body = StartRunRequest,
    responses((status = 202, body = AutonomousRun), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`autonomous_agent_archived`"),
              (status = 422, body = ErrorBody, description = "`validation_failed` (`input` must be an object)")),
    security(("session" = ["agents.write"]), ("api_token" = ["agents.write"]))
)]
#[post("/autonomous-agents/{autonomous_agent_id}/runs")]
async fn run_autonomous_agent(
    scope: AgentScope<perm::AgentsWrite>,
    state: web::Data<AppState>,
    body: Json<StartRunRequest>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    let req = body.into_inner()?;
    let run = service::run_now(&state, scope.into_tenant(), id, req.input).await?;
    Ok(HttpResponse::Accepted().json(run))
}

/// The agent's runs, newest first.
#[utoipa::path(
    tag = "autonomous",
    params(("autonomous_agent_id" = i64, Path, description = "Autonomous agent id"), PageParams),
    responses((status = 200, body = Page<AutonomousRun>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("session" = ["agents.read"]), ("api_token" = ["agents.read"]))
)]
#[get("/autonomous-agents/{autonomous_agent_id}/runs")]
async fn list_autonomous_runs(
    scope: AgentScope<perm::AgentsRead>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<AutonomousRun>>> {
    let id = scope.id();
    Ok(web::Json(service::list_runs(&state, scope.into_tenant(), id, page.into_inner()).await?))
}

/// Runs, success rate, tokens and cost of the agent.
#[utoipa::path(
    tag = "autonomous",
    params(("autonomous_agent_id" = i64, Path, description = "Autonomous agent id")),
    responses((status = 200, body = AgentAnalytics), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["agents.read"]), ("api_token" = ["agents.read"]))
)]
#[get("/autonomous-agents/{autonomous_agent_id}/analytics")]
async fn autonomous_agent_analytics(
    scope: AgentScope<perm::AgentsRead>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<AgentAnalytics>> {
    let id = scope.id();
    Ok(web::Json(service::analytics(&state, scope.into_tenant(), id).await?))
}

/// Creates (or replaces) the agent's inbound webhook URL; the token is shown only in this answer.
#[utoipa::path(
    tag = "autonomous",
    params(("autonomous_agent_id" = i64, Path, description = "Autonomous agent id")),
    responses((status = 200, body = HookSecret), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["agents.write"]), ("api_token" = ["agents.write"]))
)]
#[post("/autonomous-agents/{autonomous_agent_id}/hook")]
async fn rotate_autonomous_hook(
    scope: AgentScope<perm::AgentsWrite>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<HookSecret>> {
    let id = scope.id();
    Ok(web::Json(service::rotate_hook(&state, scope.into_tenant(), id).await?))
}

/// Removes the agent's inbound webhook URL.
#[utoipa::path(
    tag = "autonomous",
    params(("autonomous_agent_id" = i64, Path, description = "Autonomous agent id")),
    responses((status = 204, description = "Removed"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["agents.write"]), ("api_token" = ["agents.write"]))
)]
#[delete("/autonomous-agents/{autonomous_agent_id}/hook")]
async fn remove_autonomous_hook(
    scope: AgentScope<perm::AgentsWrite>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    service::remove_hook(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The agent's memories: newest first, or the most similar to `q` (with `score`).
#[utoipa::path(
    tag = "autonomous",
    params(("autonomous_agent_id" = i64, Path, description = "Autonomous agent id"), MemoryQuery),
    responses((status = 200, body = Vec<Memory>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "`validation_failed` (`limit`, `q`)"),
              (status = 503, body = ErrorBody, description = "`models_unavailable`: the embedding model is not loaded")),
    security(("session" = ["agents.read"]), ("api_token" = ["agents.read"]))
)]
#[get("/autonomous-agents/{autonomous_agent_id}/memories")]
async fn list_autonomous_memories(
    scope: AgentScope<perm::AgentsRead>,
    state: web::Data<AppState>,
    query: web::Query<MemoryQuery>,
) -> AppResult<web::Json<Vec<Memory>>> {
    let id = scope.id();
    let q = query.into_inner();
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(AppError::validation("limit", "must be between 1 and 100"));
    }
    let tenant = scope.into_tenant();
    service::get(&state, tenant.clone(), id).await?;
    match q.q.as_deref().map(str::trim) {
        Some(text) if !text.is_empty() => {
            if text.chars().count() > 2000 {
                return Err(AppError::validation("q", "must be at most 2000 characters"));
            }
            Ok(web::Json(memory::search(&state, tenant, id, text, limit as usize).await?))
        }
        _ => Ok(web::Json(memory::list(&state, tenant, id, i64::from(limit)).await?)),
    }
}

/// Stores a memory (embedded locally); a near-duplicate merges into the existing item.
#[utoipa::path(
    tag = "autonomous",
    params(("autonomous_agent_id" = i64, Path, description = "Autonomous agent id")),
    request_body = AddMemoryRequest,
    responses((status = 201, body = Memory), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "`validation_failed` (`content`)"),
              (status = 503, body = ErrorBody, description = "`models_unavailable`")),
    security(("session" = ["agents.write"]), ("api_token" = ["agents.write"]))
)]
#[post("/autonomous-agents/{autonomous_agent_id}/memories")]
async fn add_autonomous_memory(
    scope: AgentScope<perm::AgentsWrite>,
    state: web::Data<AppState>,
    body: Json<AddMemoryRequest>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    let req = body.into_inner()?;
    let m = memory::add(&state, scope.into_tenant(), id, &req.content).await?;
    Ok(HttpResponse::Created().json(m))
}

/// Merges near-duplicate memories and drops the least useful past the cap.
#[utoipa::path(
    tag = "autonomous",
    params(("autonomous_agent_id" = i64, Path, description = "Autonomous agent id")),
    responses((status = 200, body = Consolidation), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["agents.write"]), ("api_token" = ["agents.write"]))
)]
#[post("/autonomous-agents/{autonomous_agent_id}/memories/consolidate")]
async fn consolidate_autonomous_memories(
    scope: AgentScope<perm::AgentsWrite>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<Consolidation>> {
    let id = scope.id();
    Ok(web::Json(memory::consolidate_agent(&state, scope.into_tenant(), id).await?))
}

/// Forgets a memory.
#[utoipa::path(
    tag = "autonomous",
    params(("autonomous_memory_id" = i64, Path, description = "Memory id")),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["agents.write"]), ("api_token" = ["agents.write"]))
)]
#[delete("/autonomous-memories/{autonomous_memory_id}")]
async fn delete_autonomous_memory(
    scope: Scoped<MemoryResource, perm::AgentsWrite>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    memory::delete(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Shows a run with its steps (the plan, then each executed step).
#[utoipa::path(
    tag = "autonomous",
    params(("autonomous_run_id" = i64, Path, description = "Run id")),
    responses((status = 200, body = AutonomousRun), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["agents.read"]), ("api_token" = ["agents.read"]))
)]
#[get("/autonomous-runs/{autonomous_run_id}")]
async fn get_autonomous_run(
    scope: RunScope<perm::AgentsRead>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<AutonomousRun>> {
    let id = scope.id();
    Ok(web::Json(service::get_run(&state, scope.into_tenant(), id).await?))
}

/// Pauses a run after the step under way.
#[utoipa::path(
    tag = "autonomous",
    params(("autonomous_run_id" = i64, Path, description = "Run id")),
    responses((status = 200, body = AutonomousRun), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`autonomous_run_finished`")),
    security(("session" = ["agents.write"]), ("api_token" = ["agents.write"]))
)]
#[post("/autonomous-runs/{autonomous_run_id}/pause")]
async fn pause_autonomous_run(
    scope: RunScope<perm::AgentsWrite>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<AutonomousRun>> {
    let id = scope.id();
    Ok(web::Json(service::pause(&state, scope.into_tenant(), id).await?))
}

/// Resumes a paused run where it stopped.
#[utoipa::path(
    tag = "autonomous",
    params(("autonomous_run_id" = i64, Path, description = "Run id")),
    responses((status = 200, body = AutonomousRun), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`autonomous_run_finished` or `autonomous_run_not_paused`")),
    security(("session" = ["agents.write"]), ("api_token" = ["agents.write"]))
)]
#[post("/autonomous-runs/{autonomous_run_id}/resume")]
async fn resume_autonomous_run(
    scope: RunScope<perm::AgentsWrite>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<AutonomousRun>> {
    let id = scope.id();
    Ok(web::Json(service::resume(&state, scope.into_tenant(), id).await?))
}

/// Cancels a run (no further step runs).
#[utoipa::path(
    tag = "autonomous",
    params(("autonomous_run_id" = i64, Path, description = "Run id")),
    responses((status = 200, body = AutonomousRun), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`autonomous_run_finished`")),
    security(("session" = ["agents.write"]), ("api_token" = ["agents.write"]))
)]
#[post("/autonomous-runs/{autonomous_run_id}/cancel")]
async fn cancel_autonomous_run(
    scope: RunScope<perm::AgentsWrite>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<AutonomousRun>> {
    let id = scope.id();
    Ok(web::Json(service::cancel(&state, scope.into_tenant(), id).await?))
}

/// An inbound webhook: starts a run of the agent the token names (public; the token is the credential).
#[utoipa::path(
    tag = "autonomous",
    params(("hook_token" = String, Path, description = "The token of `POST /autonomous-agents/{autonomous_agent_id}/hook`")),
    request_body(content = Object, description = "Any JSON; it becomes the run's input (`{\"webhook\": body}`)"),
    responses((status = 202, description = "A run was started: `{\"run_id\": n}`"),
              (status = 404, body = ErrorBody, description = "`autonomous_agent_not_found`: unknown token"),
              (status = 409, body = ErrorBody, description = "`autonomous_agent_archived`: the agent is not active"))
)]
#[post("/autonomous-hooks/{hook_token}")]
async fn autonomous_inbound_hook(
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    let token = path.into_inner();
    if token.len() > 200 {
        return Err(service::not_found());
    }
    let input: Value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| AppError::new(ErrorCode::InvalidJson, format!("the body is not JSON: {e}")))?
    };
    let run = service::hook(&state, &token, input).await?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({ "run_id": run })))
}

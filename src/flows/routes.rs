//! Flow and orchestration routes.

use actix_web::{HttpResponse, delete, get, post, put, web};
use serde::Deserialize;
use utoipa_actix_web::service_config::ServiceConfig;

use super::model::{
    DiffParams, DuplicateFlowRequest, FlowDetail, FlowDiff, FlowSummary, FlowVersionView, Orchestration,
    OrchestrationRequest, PublishRequest, PublishResponse, RenameFlowRequest, RenameFlowResponse, RollbackRequest,
    SaveFlowRequest, SaveFlowResponse, ValidateFlowRequest, ValidationReport,
};
use super::orchestration::{self, OrchestrationResource};
use super::service;
use crate::app::AppState;
use crate::error::{AppResult, ErrorBody};
use crate::http::{BotScope, Json, Page, PageParams, Scoped};
use crate::permissions::perm;

/// The JSON Schema of flow documents (`docs/flow-schema.json`).
pub const FLOW_SCHEMA: &str = include_str!("../../docs/flow-schema.json");

/// Registers the flow routes.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.configure(super::probe::routes)
        .configure(super::studio::routes)
        .service(flow_schema)
        .service(list_flows)
        .service(get_flow)
        .service(save_flow)
        .service(delete_flow)
        .service(validate_flow)
        .service(list_flow_versions)
        .service(get_flow_version)
        .service(diff_flow)
        .service(publish_flow)
        .service(rollback_flow)
        // Issue 17: renaming and duplicating flows (deleting is above).
        .service(rename_flow)
        .service(duplicate_flow)
        .service(list_orchestrations)
        .service(create_orchestration)
        .service(get_orchestration)
        .service(update_orchestration)
        .service(delete_orchestration);
}

#[derive(Deserialize)]
struct FlowPath {
    flow_name: String,
}

#[derive(Deserialize)]
struct VersionPath {
    flow_name: String,
    version: i64,
}

/// The JSON Schema of the flow document format (draft 2020-12).
#[utoipa::path(tag = "flows", responses((status = 200, description = "JSON Schema", content_type = "application/schema+json")))]
#[get("/flow-schema")]
async fn flow_schema() -> HttpResponse {
    HttpResponse::Ok().content_type("application/schema+json").body(FLOW_SCHEMA)
}

/// Lists the bot's flows with their draft and published versions.
#[utoipa::path(
    tag = "flows",
    params(("bot_id" = i64, Path, description = "Bot id")),
    responses((status = 200, body = Vec<FlowSummary>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/bots/{bot_id}/flows")]
async fn list_flows(
    scope: BotScope<perm::BotsRead>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<Vec<FlowSummary>>> {
    let bot = scope.id();
    Ok(web::Json(service::list(&state, scope.into_tenant(), bot).await?))
}

/// Shows a flow: its draft (newest) and published versions with their documents.
#[utoipa::path(
    tag = "flows",
    params(("bot_id" = i64, Path, description = "Bot id"), ("flow_name" = String, Path, description = "Flow name")),
    responses((status = 200, body = FlowDetail), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/bots/{bot_id}/flows/{flow_name}")]
async fn get_flow(
    scope: BotScope<perm::BotsRead>,
    state: web::Data<AppState>,
    path: web::Path<FlowPath>,
) -> AppResult<web::Json<FlowDetail>> {
    let bot = scope.id();
    Ok(web::Json(service::get(&state, scope.into_tenant(), bot, path.into_inner().flow_name).await?))
}

/// Saves the flow as a new draft version. An unfinished flow saves (its
/// issues come back as warnings); only a malformed or oversized document is refused.
#[utoipa::path(
    tag = "flows",
    params(("bot_id" = i64, Path, description = "Bot id"), ("flow_name" = String, Path, description = "Flow name")),
    request_body = SaveFlowRequest,
    responses(
        (status = 201, body = SaveFlowResponse, description = "A new version"),
        (status = 200, body = SaveFlowResponse, description = "Unchanged: the draft already has this document"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "`flow_invalid` (malformed or oversized) with `details.issues`, or `validation_failed`"),
    ),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[put("/bots/{bot_id}/flows/{flow_name}")]
async fn save_flow(
    scope: BotScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    path: web::Path<FlowPath>,
    body: Json<SaveFlowRequest>,
) -> AppResult<HttpResponse> {
    let bot = scope.id();
    let saved =
        service::save(&state, scope.into_tenant(), bot, path.into_inner().flow_name, body.into_inner()?).await?;
    Ok(if saved.created { HttpResponse::Created().json(saved) } else { HttpResponse::Ok().json(saved) })
}

/// Deletes a flow with all its versions (409 `flow_in_use` for the entry flow
/// and for flows that other flows jump to or transitions lead to).
#[utoipa::path(
    tag = "flows",
    params(("bot_id" = i64, Path, description = "Bot id"), ("flow_name" = String, Path, description = "Flow name")),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`flow_in_use` with `details.flows`, `details.orchestrations`, `details.entry`")),
    security(("session" = ["flows.publish"]), ("api_token" = ["flows.publish"]))
)]
#[delete("/bots/{bot_id}/flows/{flow_name}")]
async fn delete_flow(
    scope: BotScope<perm::FlowsPublish>,
    state: web::Data<AppState>,
    path: web::Path<FlowPath>,
) -> AppResult<HttpResponse> {
    let bot = scope.id();
    service::delete(&state, scope.into_tenant(), bot, path.into_inner().flow_name).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Validates a flow document without saving it.
#[utoipa::path(
    tag = "flows",
    params(("bot_id" = i64, Path, description = "Bot id"), ("flow_name" = String, Path, description = "Flow name")),
    request_body = ValidateFlowRequest,
    responses((status = 200, body = ValidationReport), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[post("/bots/{bot_id}/flows/{flow_name}/validate")]
async fn validate_flow(
    scope: BotScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    path: web::Path<FlowPath>,
    body: Json<ValidateFlowRequest>,
) -> AppResult<web::Json<ValidationReport>> {
    let bot = scope.id();
    let doc = body.into_inner()?.document;
    Ok(web::Json(service::validate(&state, scope.into_tenant(), bot, path.into_inner().flow_name, doc).await?))
}

/// The flow's versions, newest first.
#[utoipa::path(
    tag = "flows",
    params(("bot_id" = i64, Path, description = "Bot id"), ("flow_name" = String, Path, description = "Flow name"), PageParams),
    responses((status = 422, body = ErrorBody, description = "`validation_failed`: `limit` outside 1–200 or a malformed `after` cursor"), (status = 200, body = Page<FlowVersionView>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/bots/{bot_id}/flows/{flow_name}/versions")]
async fn list_flow_versions(
    scope: BotScope<perm::BotsRead>,
    state: web::Data<AppState>,
    path: web::Path<FlowPath>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<FlowVersionView>>> {
    let bot = scope.id();
    Ok(web::Json(
        service::versions(&state, scope.into_tenant(), bot, path.into_inner().flow_name, page.into_inner()).await?,
    ))
}

/// One version with its document.
#[utoipa::path(
    tag = "flows",
    params(("bot_id" = i64, Path, description = "Bot id"), ("flow_name" = String, Path, description = "Flow name"),
           ("version" = i64, Path, description = "Version number")),
    responses((status = 200, body = FlowVersionView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/bots/{bot_id}/flows/{flow_name}/versions/{version}")]
async fn get_flow_version(
    scope: BotScope<perm::BotsRead>,
    state: web::Data<AppState>,
    path: web::Path<VersionPath>,
) -> AppResult<web::Json<FlowVersionView>> {
    let bot = scope.id();
    let p = path.into_inner();
    Ok(web::Json(service::version(&state, scope.into_tenant(), bot, p.flow_name, p.version).await?))
}

/// What changed between two versions (default: published → draft).
#[utoipa::path(
    tag = "flows",
    params(("bot_id" = i64, Path, description = "Bot id"), ("flow_name" = String, Path, description = "Flow name"), DiffParams),
    responses((status = 200, body = FlowDiff), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/bots/{bot_id}/flows/{flow_name}/diff")]
async fn diff_flow(
    scope: BotScope<perm::BotsRead>,
    state: web::Data<AppState>,
    path: web::Path<FlowPath>,
    params: web::Query<DiffParams>,
) -> AppResult<web::Json<FlowDiff>> {
    let bot = scope.id();
    Ok(web::Json(
        service::diff(&state, scope.into_tenant(), bot, path.into_inner().flow_name, params.into_inner()).await?,
    ))
}

/// Publishes a version (default: the draft); conversations use it from their
/// next message. The bot's conversation tests run against it first: failures
/// are reported in `tests` and `warnings`, or refuse the publish (409
/// `publish_blocked_by_tests`) when the bot's settings say so.
#[utoipa::path(
    tag = "flows",
    params(("bot_id" = i64, Path, description = "Bot id"), ("flow_name" = String, Path, description = "Flow name")),
    request_body = PublishRequest,
    responses((status = 200, body = PublishResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`publish_blocked_by_tests` with `details.run`"),
              (status = 422, body = ErrorBody, description = "`flow_invalid`: `details.issues` lists what blocks publishing")),
    security(("session" = ["flows.publish"]), ("api_token" = ["flows.publish"]))
)]
#[post("/bots/{bot_id}/flows/{flow_name}/publish")]
async fn publish_flow(
    scope: BotScope<perm::FlowsPublish>,
    state: web::Data<AppState>,
    path: web::Path<FlowPath>,
    body: Json<PublishRequest>,
) -> AppResult<web::Json<PublishResponse>> {
    let bot = scope.id();
    Ok(web::Json(
        service::publish(&state, scope.into_tenant(), bot, path.into_inner().flow_name, body.into_inner()?).await?,
    ))
}

/// Publishes an earlier version again (one-click rollback).
#[utoipa::path(
    tag = "flows",
    params(("bot_id" = i64, Path, description = "Bot id"), ("flow_name" = String, Path, description = "Flow name")),
    request_body = RollbackRequest,
    responses((status = 200, body = FlowVersionView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["flows.publish"]), ("api_token" = ["flows.publish"]))
)]
#[post("/bots/{bot_id}/flows/{flow_name}/rollback")]
async fn rollback_flow(
    scope: BotScope<perm::FlowsPublish>,
    state: web::Data<AppState>,
    path: web::Path<FlowPath>,
    body: Json<RollbackRequest>,
) -> AppResult<web::Json<FlowVersionView>> {
    let bot = scope.id();
    Ok(web::Json(
        service::rollback(&state, scope.into_tenant(), bot, path.into_inner().flow_name, body.into_inner()?).await?,
    ))
}

/// Renames a flow: its history goes along, orchestrations follow, and `jump`
/// nodes of the bot's flows are pointed at the new name.
#[utoipa::path(
    tag = "flows",
    params(("bot_id" = i64, Path, description = "Bot id"), ("flow_name" = String, Path, description = "Flow name")),
    request_body = RenameFlowRequest,
    responses((status = 200, body = RenameFlowResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`name_taken`"), (status = 422, body = ErrorBody)),
    security(("session" = ["flows.publish"]), ("api_token" = ["flows.publish"]))
)]
#[post("/bots/{bot_id}/flows/{flow_name}/rename")]
async fn rename_flow(
    scope: BotScope<perm::FlowsPublish>,
    state: web::Data<AppState>,
    path: web::Path<FlowPath>,
    body: Json<RenameFlowRequest>,
) -> AppResult<web::Json<RenameFlowResponse>> {
    let bot = scope.id();
    Ok(web::Json(
        service::rename(&state, scope.into_tenant(), bot, path.into_inner().flow_name, body.into_inner()?).await?,
    ))
}

/// Copies the flow's draft into a new flow.
#[utoipa::path(
    tag = "flows",
    params(("bot_id" = i64, Path, description = "Bot id"), ("flow_name" = String, Path, description = "Flow name")),
    request_body = DuplicateFlowRequest,
    responses((status = 201, body = SaveFlowResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`name_taken`"), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[post("/bots/{bot_id}/flows/{flow_name}/duplicate")]
async fn duplicate_flow(
    scope: BotScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    path: web::Path<FlowPath>,
    body: Json<DuplicateFlowRequest>,
) -> AppResult<HttpResponse> {
    let bot = scope.id();
    let saved =
        service::duplicate(&state, scope.into_tenant(), bot, path.into_inner().flow_name, body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(saved))
}

/// Lists the bot's orchestrations.
#[utoipa::path(
    tag = "flows",
    params(("bot_id" = i64, Path, description = "Bot id")),
    responses((status = 200, body = Vec<Orchestration>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/bots/{bot_id}/orchestrations")]
async fn list_orchestrations(
    scope: BotScope<perm::BotsRead>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<Vec<Orchestration>>> {
    let bot = scope.id();
    Ok(web::Json(orchestration::list(&state, scope.into_tenant(), bot).await?))
}

/// Creates an orchestration (entry flow, transitions, typed variables); active by default.
#[utoipa::path(
    tag = "flows",
    params(("bot_id" = i64, Path, description = "Bot id")),
    request_body = OrchestrationRequest,
    responses((status = 201, body = Orchestration), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["flows.publish"]), ("api_token" = ["flows.publish"]))
)]
#[post("/bots/{bot_id}/orchestrations")]
async fn create_orchestration(
    scope: BotScope<perm::FlowsPublish>,
    state: web::Data<AppState>,
    body: Json<OrchestrationRequest>,
) -> AppResult<HttpResponse> {
    let bot = scope.id();
    let o = orchestration::create(&state, scope.into_tenant(), bot, body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(o))
}

/// Shows an orchestration.
#[utoipa::path(
    tag = "flows",
    params(("orchestration_id" = i64, Path, description = "Orchestration id")),
    responses((status = 200, body = Orchestration), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/orchestrations/{orchestration_id}")]
async fn get_orchestration(
    scope: Scoped<OrchestrationResource, perm::BotsRead>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<Orchestration>> {
    let id = scope.id();
    Ok(web::Json(orchestration::get(&state, scope.into_tenant(), id).await?))
}

/// Replaces an orchestration (its transitions and variables included).
#[utoipa::path(
    tag = "flows",
    params(("orchestration_id" = i64, Path, description = "Orchestration id")),
    request_body = OrchestrationRequest,
    responses((status = 200, body = Orchestration), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["flows.publish"]), ("api_token" = ["flows.publish"]))
)]
#[put("/orchestrations/{orchestration_id}")]
async fn update_orchestration(
    scope: Scoped<OrchestrationResource, perm::FlowsPublish>,
    state: web::Data<AppState>,
    body: Json<OrchestrationRequest>,
) -> AppResult<web::Json<Orchestration>> {
    let id = scope.id();
    Ok(web::Json(orchestration::update(&state, scope.into_tenant(), id, body.into_inner()?).await?))
}

/// Deletes an orchestration.
#[utoipa::path(
    tag = "flows",
    params(("orchestration_id" = i64, Path, description = "Orchestration id")),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["flows.publish"]), ("api_token" = ["flows.publish"]))
)]
#[delete("/orchestrations/{orchestration_id}")]
async fn delete_orchestration(
    scope: Scoped<OrchestrationResource, perm::FlowsPublish>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    orchestration::delete(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

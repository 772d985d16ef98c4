//! The flow studio ("AI Flow Studio"): a flow drafted by the bot's model from
//! a description, a flow revised from an instruction, and candidate next
//! nodes for the editor, each validated with the flow compiler and repaired
//! or refused. The template gallery that needs no model is in
//! `crate::bots::templates`.

pub mod model;
pub mod prompt;
pub mod service;

use actix_web::{HttpResponse, post, web};
use serde::Deserialize;
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::{
    GenerateFlowRequest, GeneratedFlow, ImproveFlowRequest, ImprovedFlow, NodeSuggestions, SuggestNextRequest,
};
use crate::app::AppState;
use crate::bots::templates::{self, AddTemplateFlowRequest, TemplateFlow};
use crate::error::{AppResult, ErrorBody};
use crate::http::{BotScope, Json};
use crate::permissions::perm;

/// Registers the studio routes (before the `/flows/{flow_name}` ones, whose
/// paths they would otherwise look like).
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(generate_flow).service(add_template_flow).service(improve_flow).service(suggest_next_nodes);
}

#[derive(Deserialize)]
struct FlowPath {
    flow_name: String,
}

/// Drafts a flow with the bot's model from a description. The model's answer
/// is validated with the flow compiler and sent back for repair (at most two
/// rounds); a valid draft is returned, and saved as a draft version (never
/// published) when `flow_name` is given.
#[utoipa::path(
    tag = "flows",
    params(("bot_id" = i64, Path, description = "Bot id")),
    request_body = GenerateFlowRequest,
    responses(
        (status = 200, body = GeneratedFlow),
        (status = 402, body = ErrorBody, description = "`llm_budget_exhausted`"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`llm_not_configured`: no usable model for the bot"),
        (status = 422, body = ErrorBody, description = "`flow_generation_failed` with `details.issues` (nothing saved), or `validation_failed`"),
        (status = 502, body = ErrorBody, description = "`llm_failed`"),
    ),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[post("/bots/{bot_id}/flows/generate")]
async fn generate_flow(
    scope: BotScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    body: Json<GenerateFlowRequest>,
) -> AppResult<web::Json<GeneratedFlow>> {
    let bot = scope.id();
    Ok(web::Json(service::generate(&state, scope.into_tenant(), bot, body.into_inner()?).await?))
}

/// Adds a gallery template's flow to the bot as a new draft flow (no model
/// needed), merging the template's intents into the bot's NLU data.
#[utoipa::path(
    tag = "flows",
    params(("bot_id" = i64, Path, description = "Bot id")),
    request_body = AddTemplateFlowRequest,
    responses(
        (status = 201, body = TemplateFlow),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`name_taken`: the bot has a flow of that name"),
        (status = 422, body = ErrorBody, description = "`validation_failed`: `template` or `flow_name`"),
    ),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[post("/bots/{bot_id}/flows/from-template")]
async fn add_template_flow(
    scope: BotScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    body: Json<AddTemplateFlowRequest>,
) -> AppResult<HttpResponse> {
    let bot = scope.id();
    let added = templates::add_as_flow(&state, scope.into_tenant(), bot, body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(added))
}

/// Revises a flow with the bot's model from an instruction: validated like
/// a generated flow, with the diff from the current draft; saved as a new
/// draft version when `save` is true.
#[utoipa::path(
    tag = "flows",
    params(("bot_id" = i64, Path, description = "Bot id"), ("flow_name" = String, Path, description = "Flow name")),
    request_body = ImproveFlowRequest,
    responses(
        (status = 200, body = ImprovedFlow),
        (status = 402, body = ErrorBody, description = "`llm_budget_exhausted`"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`llm_not_configured`"),
        (status = 422, body = ErrorBody, description = "`flow_generation_failed` with `details.issues` (nothing saved), or `validation_failed`"),
        (status = 502, body = ErrorBody, description = "`llm_failed`"),
    ),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[post("/bots/{bot_id}/flows/{flow_name}/improve")]
async fn improve_flow(
    scope: BotScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    path: web::Path<FlowPath>,
    body: Json<ImproveFlowRequest>,
) -> AppResult<web::Json<ImprovedFlow>> {
    let bot = scope.id();
    let name = path.into_inner().flow_name;
    Ok(web::Json(service::improve(&state, scope.into_tenant(), bot, name, body.into_inner()?).await?))
}

/// Suggests one to three nodes to follow a node's output port, each checked
/// to add no error to the flow (nothing is saved).
#[utoipa::path(
    tag = "flows",
    params(("bot_id" = i64, Path, description = "Bot id"), ("flow_name" = String, Path, description = "Flow name")),
    request_body = SuggestNextRequest,
    responses(
        (status = 200, body = NodeSuggestions),
        (status = 402, body = ErrorBody, description = "`llm_budget_exhausted`"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`llm_not_configured`"),
        (status = 422, body = ErrorBody, description = "`flow_generation_failed` (no candidate fits), or `validation_failed`: `node_id`, `port`, `count`"),
        (status = 502, body = ErrorBody, description = "`llm_failed`"),
    ),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[post("/bots/{bot_id}/flows/{flow_name}/suggest-next")]
async fn suggest_next_nodes(
    scope: BotScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    path: web::Path<FlowPath>,
    body: Json<SuggestNextRequest>,
) -> AppResult<web::Json<NodeSuggestions>> {
    let bot = scope.id();
    let name = path.into_inner().flow_name;
    Ok(web::Json(service::suggest_next(&state, scope.into_tenant(), bot, name, body.into_inner()?).await?))
}

//! A/B experiments on a bot (issue 25, item 5): variants of flow versions,
//! NLU model versions, agent configurations or knowledge answer settings;
//! sticky assignment by hash (`assign`); goals counted per unit and
//! aggregated per variant; an always-valid sequential test (`stats`);
//! auto-stop and promotion of the winner. docs/experiments.md describes them.

pub mod assign;
pub mod model;
pub mod runtime;
pub mod service;
pub mod stats;
pub mod store;

use actix_web::{HttpResponse, delete, get, post, web};
use rusqlite::Connection;
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::{
    ConversionRequest, ConversionResponse, CreateExperimentRequest, DeclareRequest, Experiment, ExperimentId,
    ExperimentResults, SampleSize, SampleSizeRequest,
};
use crate::app::AppState;
use crate::conversations::model::ConversationResource;
use crate::error::{AppResult, ErrorBody, ErrorCode};
use crate::http::{BotScope, Json, Scoped};
use crate::permissions::perm;

/// The scope resource of `/experiments/{experiment_id}`.
pub struct ExperimentResource;

impl crate::http::ScopeResource for ExperimentResource {
    const PARAM: &'static str = "experiment_id";
    const NOT_FOUND: ErrorCode = ErrorCode::ExperimentNotFound;
    type Id = ExperimentId;
    fn owner(conn: &Connection, id: ExperimentId) -> rusqlite::Result<Option<crate::http::scope::Owner>> {
        use rusqlite::OptionalExtension;
        conn.query_row("SELECT organization_id, bot_id FROM ab_tests WHERE id = ?1", [id], |r| {
            Ok(crate::http::scope::Owner { org_id: r.get(0)?, bot_id: Some(r.get(1)?) })
        })
        .optional()
    }
}

type ExperimentScope<P> = Scoped<ExperimentResource, P>;

/// Registers the routes of experiments.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_experiments)
        .service(create_experiment)
        .service(experiment_sample_size)
        .service(get_experiment)
        .service(delete_experiment)
        .service(start_experiment)
        .service(stop_experiment)
        .service(cancel_experiment)
        .service(declare_experiment)
        .service(experiment_results)
        .service(record_conversion);
}

/// The bot's experiments, newest first.
#[utoipa::path(
    tag = "experiments",
    params(("bot_id" = i64, Path, description = "Bot id")),
    responses((status = 200, body = Vec<Experiment>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/bots/{bot_id}/experiments")]
async fn list_experiments(
    scope: BotScope<perm::BotsRead>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<Vec<Experiment>>> {
    let bot = scope.id();
    Ok(web::Json(service::list(&state, scope.into_tenant(), bot).await?))
}

/// Creates an experiment (a draft): two or more variants whose shares add to 100.
#[utoipa::path(
    tag = "experiments",
    params(("bot_id" = i64, Path, description = "Bot id")),
    request_body = CreateExperimentRequest,
    responses((status = 201, body = Experiment), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "`validation_failed` with `details.field`: `variants` (shares not adding to 100), `variants[1].flow_version` (unknown reference), `alpha`, `power`…")),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[post("/bots/{bot_id}/experiments")]
async fn create_experiment(
    scope: BotScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    body: Json<CreateExperimentRequest>,
) -> AppResult<HttpResponse> {
    let bot = scope.id();
    let e = service::create(&state, scope.into_tenant(), bot, body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(e))
}

/// The minimum sample size of a design (fixed-horizon, per variant and in total).
#[utoipa::path(
    tag = "experiments",
    params(("bot_id" = i64, Path, description = "Bot id")),
    request_body = SampleSizeRequest,
    responses((status = 200, body = SampleSize), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "`validation_failed` naming the field")),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[post("/bots/{bot_id}/experiments/sample-size")]
async fn experiment_sample_size(
    _scope: BotScope<perm::BotsRead>,
    body: Json<SampleSizeRequest>,
) -> AppResult<web::Json<SampleSize>> {
    Ok(web::Json(service::sample_size(&body.into_inner()?)?))
}

/// One experiment with its variants and sample size.
#[utoipa::path(
    tag = "experiments",
    params(("experiment_id" = i64, Path, description = "Experiment id")),
    responses((status = 200, body = Experiment), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/experiments/{experiment_id}")]
async fn get_experiment(
    scope: ExperimentScope<perm::BotsRead>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<Experiment>> {
    let id = scope.id();
    Ok(web::Json(service::get(&state, scope.into_tenant(), id).await?))
}

/// Deletes an experiment that is not running (with its results).
#[utoipa::path(
    tag = "experiments",
    params(("experiment_id" = i64, Path, description = "Experiment id")),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`experiment_status_conflict`: it runs")),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[delete("/experiments/{experiment_id}")]
async fn delete_experiment(
    scope: ExperimentScope<perm::BotsWrite>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    service::delete(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Starts an experiment (a draft, or a stopped one again): traffic is split from now on.
#[utoipa::path(
    tag = "experiments",
    params(("experiment_id" = i64, Path, description = "Experiment id")),
    responses((status = 200, body = Experiment), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`experiment_running_on_subject` (another test runs on the same flow, model, agent or knowledge), `experiment_variant_missing` (a variant's version was deleted; `details.field`), `experiment_status_conflict`")),
    security(("session" = ["flows.publish"]), ("api_token" = ["flows.publish"]))
)]
#[post("/experiments/{experiment_id}/start")]
async fn start_experiment(
    scope: ExperimentScope<perm::FlowsPublish>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<Experiment>> {
    let id = scope.id();
    Ok(web::Json(service::start(&state, scope.into_tenant(), id).await?))
}

/// Stops a running experiment: traffic is served as before; results stay and it may start again.
#[utoipa::path(
    tag = "experiments",
    params(("experiment_id" = i64, Path, description = "Experiment id")),
    responses((status = 200, body = Experiment), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`experiment_status_conflict`: not running")),
    security(("session" = ["flows.publish"]), ("api_token" = ["flows.publish"]))
)]
#[post("/experiments/{experiment_id}/stop")]
async fn stop_experiment(
    scope: ExperimentScope<perm::FlowsPublish>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<Experiment>> {
    let id = scope.id();
    Ok(web::Json(service::stop(&state, scope.into_tenant(), id, false).await?))
}

/// Cancels an experiment that has not ended (no winner).
#[utoipa::path(
    tag = "experiments",
    params(("experiment_id" = i64, Path, description = "Experiment id")),
    responses((status = 200, body = Experiment), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`experiment_status_conflict`: it already ended")),
    security(("session" = ["flows.publish"]), ("api_token" = ["flows.publish"]))
)]
#[post("/experiments/{experiment_id}/cancel")]
async fn cancel_experiment(
    scope: ExperimentScope<perm::FlowsPublish>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<Experiment>> {
    let id = scope.id();
    Ok(web::Json(service::stop(&state, scope.into_tenant(), id, true).await?))
}

/// Declares the winner by hand and (unless `promote` is false) makes it live.
#[utoipa::path(
    tag = "experiments",
    params(("experiment_id" = i64, Path, description = "Experiment id")),
    request_body = DeclareRequest,
    responses((status = 200, body = Experiment), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`experiment_status_conflict`: not running or stopped"),
              (status = 422, body = ErrorBody, description = "`validation_failed`: `variant_id` missing or not of this test")),
    security(("session" = ["flows.publish"]), ("api_token" = ["flows.publish"]))
)]
#[post("/experiments/{experiment_id}/declare")]
async fn declare_experiment(
    scope: ExperimentScope<perm::FlowsPublish>,
    state: web::Data<AppState>,
    body: Json<DeclareRequest>,
) -> AppResult<web::Json<Experiment>> {
    let id = scope.id();
    Ok(web::Json(service::declare(&state, scope.into_tenant(), id, body.into_inner()?).await?))
}

/// Live results: per variant the rate with its always-valid interval, per
/// treatment the difference with the control, its interval and p-value (mSPRT).
#[utoipa::path(
    tag = "experiments",
    params(("experiment_id" = i64, Path, description = "Experiment id")),
    responses((status = 200, body = ExperimentResults), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/experiments/{experiment_id}/results")]
async fn experiment_results(
    scope: ExperimentScope<perm::BotsRead>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<ExperimentResults>> {
    let id = scope.id();
    Ok(web::Json(service::results(&state, scope.into_tenant(), id).await?))
}

/// Reports a conversion event of a conversation (e.g. from a checkout):
/// counts for the running experiments whose goal is this event.
#[utoipa::path(
    tag = "experiments",
    params(("conversation_id" = i64, Path, description = "Conversation id")),
    request_body = ConversionRequest,
    responses((status = 200, body = ConversionResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "`validation_failed`: `event`")),
    security(("session" = ["conversations.write"]), ("api_token" = ["conversations.write"]))
)]
#[post("/conversations/{conversation_id}/conversions")]
async fn record_conversion(
    scope: Scoped<ConversationResource, perm::ConversationsWrite>,
    state: web::Data<AppState>,
    body: Json<ConversionRequest>,
) -> AppResult<web::Json<ConversionResponse>> {
    let id = scope.id();
    Ok(web::Json(service::conversion(&state, scope.into_tenant(), id.0, body.into_inner()?).await?))
}

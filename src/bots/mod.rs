//! Bots: CRUD under an organization.

pub mod model;
pub mod service;
pub mod store;

use actix_web::{HttpResponse, delete, get, patch, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::{Bot, CreateBotRequest, UpdateBotRequest};
use crate::app::AppState;
use crate::error::{AppResult, ErrorBody};
use crate::http::{BotScope, Json, OrgScope, Page, PageParams};
use crate::permissions::perm;

/// Registers the bot routes.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_bot).service(list_bots).service(get_bot).service(update_bot).service(delete_bot);
}

/// Creates a bot; the plan's bot limit applies.
#[utoipa::path(
    tag = "bots",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = CreateBotRequest,
    responses(
        (status = 201, body = Bot),
        (status = 402, body = ErrorBody, description = "`plan_limit_exceeded`: the plan allows no more bots"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[post("/orgs/{org_id}/bots")]
async fn create_bot(
    scope: OrgScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    body: Json<CreateBotRequest>,
) -> AppResult<HttpResponse> {
    let bot = service::create(&state, scope.into_tenant(), body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(bot))
}

/// Lists the organization's bots, newest first.
#[utoipa::path(
    tag = "bots",
    params(("org_id" = i64, Path, description = "Organization id"), PageParams),
    responses((status = 200, body = Page<Bot>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/orgs/{org_id}/bots")]
async fn list_bots(
    scope: OrgScope<perm::BotsRead>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Bot>>> {
    Ok(web::Json(service::list(&state, scope.into_tenant(), page.into_inner()).await?))
}

/// Shows a bot.
#[utoipa::path(
    tag = "bots",
    params(("bot_id" = i64, Path, description = "Bot id")),
    responses((status = 200, body = Bot), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/bots/{bot_id}")]
async fn get_bot(scope: BotScope<perm::BotsRead>, state: web::Data<AppState>) -> AppResult<web::Json<Bot>> {
    let id = scope.id();
    Ok(web::Json(service::get(&state, scope.into_tenant(), id).await?))
}

/// Changes a bot's name, description, language or active flag.
#[utoipa::path(
    tag = "bots",
    params(("bot_id" = i64, Path, description = "Bot id")),
    request_body = UpdateBotRequest,
    responses((status = 200, body = Bot), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[patch("/bots/{bot_id}")]
async fn update_bot(
    scope: BotScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    body: Json<UpdateBotRequest>,
) -> AppResult<web::Json<Bot>> {
    let id = scope.id();
    Ok(web::Json(service::update(&state, scope.into_tenant(), id, body.into_inner()?).await?))
}

/// Deletes a bot with its flows, NLU data and conversations.
#[utoipa::path(
    tag = "bots",
    params(("bot_id" = i64, Path, description = "Bot id")),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.delete"]), ("api_token" = ["bots.delete"]))
)]
#[delete("/bots/{bot_id}")]
async fn delete_bot(scope: BotScope<perm::BotsDelete>, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let id = scope.id();
    service::delete(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

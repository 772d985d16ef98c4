//! Bots: CRUD under an organization, settings, avatar, widget key, usage
//! and canned messages.

pub mod model;
pub mod service;
pub mod store;
pub mod templates;

use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use futures_util::StreamExt;
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::{
    Bot, BotUsage, CannedMessage, CannedResource, CreateBotRequest, CreateCannedRequest, UpdateBotRequest,
    UpdateCannedRequest,
};
use self::templates::{BotTemplate, CreateFromTemplateRequest, TemplateBot};
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorBody, ErrorCode};
use crate::http::{Auth, BotScope, Json, OrgScope, Page, PageParams, Scoped};
use crate::permissions::perm;

/// Registers the bot routes.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_bot)
        .service(list_bots)
        .service(get_bot)
        .service(update_bot)
        .service(delete_bot)
        .service(put_avatar)
        .service(get_avatar)
        .service(delete_avatar)
        .service(rotate_widget_key)
        .service(bot_usage)
        .service(list_canned)
        .service(create_canned)
        .service(update_canned)
        .service(delete_canned)
        .service(list_templates)
        .service(create_from_template);
}

/// The starter bots a new bot can be made from.
#[utoipa::path(
    tag = "bots",
    responses((status = 200, body = Vec<BotTemplate>), (status = 401, body = ErrorBody)),
    security(("session" = []), ("api_token" = []))
)]
#[get("/bot-templates")]
async fn list_templates(_auth: Auth) -> web::Json<Vec<BotTemplate>> {
    web::Json(templates::list())
}

/// Makes a working bot from a template in one call: the bot, its NLU data,
/// its flows (published when the caller may publish), a knowledge base with
/// sample articles when the template has one, and the NLU training job. All
/// or nothing.
#[utoipa::path(
    tag = "bots",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = CreateFromTemplateRequest,
    responses(
        (status = 201, body = TemplateBot),
        (status = 402, body = ErrorBody, description = "`plan_limit_exceeded`: the plan allows no more bots"),
        (status = 403, body = ErrorBody, description = "`forbidden`, also when the template needs `knowledge.write`"),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "`validation_failed`: `template` or `name`"),
    ),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[post("/orgs/{org_id}/bots/from-template")]
async fn create_from_template(
    scope: OrgScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    body: Json<CreateFromTemplateRequest>,
) -> AppResult<HttpResponse> {
    let made = templates::instantiate(&state, scope.into_tenant(), body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(made))
}

/// Reads a raw request body up to `limit` bytes (413 above).
pub async fn read_body(mut payload: web::Payload, limit: usize) -> AppResult<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| AppError::new(ErrorCode::InvalidJson, format!("cannot read body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(AppError::new(ErrorCode::PayloadTooLarge, format!("the body exceeds {limit} bytes"))
                .with_details(serde_json::json!({ "limit_bytes": limit })));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
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
    responses((status = 422, body = ErrorBody, description = "`validation_failed`: `limit` outside 1–200 or a malformed `after` cursor"), (status = 200, body = Page<Bot>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
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

/// Changes a bot's name, description, language, active flag, team or settings.
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

/// Uploads the bot's avatar: the raw image as the body (PNG, JPEG, GIF or WebP, at most 1 MiB).
#[utoipa::path(
    tag = "bots",
    params(("bot_id" = i64, Path, description = "Bot id")),
    request_body(content = Vec<u8>, content_type = "image/png", description = "The image bytes"),
    responses(
        (status = 200, body = Bot), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody, description = "Not a PNG, JPEG, GIF or WebP image"),
    ),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[put("/bots/{bot_id}/avatar")]
async fn put_avatar(
    scope: BotScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> AppResult<web::Json<Bot>> {
    let id = scope.id();
    let data = read_body(payload, service::MAX_AVATAR_BYTES).await?;
    Ok(web::Json(service::set_avatar(&state, scope.into_tenant(), id, data).await?))
}

/// The bot's avatar image.
#[utoipa::path(
    tag = "bots",
    params(("bot_id" = i64, Path, description = "Bot id")),
    responses((status = 200, description = "The image", content_type = "image/png"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/bots/{bot_id}/avatar")]
async fn get_avatar(scope: BotScope<perm::BotsRead>, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let id = scope.id();
    let (content_type, data) = service::avatar(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::Ok().content_type(content_type).insert_header(("Cache-Control", "private, max-age=60")).body(data))
}

/// Removes the bot's avatar.
#[utoipa::path(
    tag = "bots",
    params(("bot_id" = i64, Path, description = "Bot id")),
    responses((status = 200, body = Bot), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[delete("/bots/{bot_id}/avatar")]
async fn delete_avatar(scope: BotScope<perm::BotsWrite>, state: web::Data<AppState>) -> AppResult<web::Json<Bot>> {
    let id = scope.id();
    Ok(web::Json(service::clear_avatar(&state, scope.into_tenant(), id).await?))
}

/// Replaces the bot's public widget key; pages embedding the old key stop working.
#[utoipa::path(
    tag = "bots",
    params(("bot_id" = i64, Path, description = "Bot id")),
    responses((status = 200, body = Bot), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[post("/bots/{bot_id}/widget-key")]
async fn rotate_widget_key(scope: BotScope<perm::BotsWrite>, state: web::Data<AppState>) -> AppResult<web::Json<Bot>> {
    let id = scope.id();
    Ok(web::Json(service::rotate_widget_key(&state, scope.into_tenant(), id).await?))
}

/// This month's messages of the bot and its organization against the plan.
#[utoipa::path(
    tag = "bots",
    params(("bot_id" = i64, Path, description = "Bot id")),
    responses((status = 200, body = BotUsage), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/bots/{bot_id}/usage")]
async fn bot_usage(scope: BotScope<perm::BotsRead>, state: web::Data<AppState>) -> AppResult<web::Json<BotUsage>> {
    let id = scope.id();
    Ok(web::Json(service::usage(&state, scope.into_tenant(), id).await?))
}

/// Lists the bot's canned messages, highest priority first.
#[utoipa::path(
    tag = "bots",
    params(("bot_id" = i64, Path, description = "Bot id")),
    responses((status = 200, body = Vec<CannedMessage>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/bots/{bot_id}/canned-messages")]
async fn list_canned(
    scope: BotScope<perm::BotsRead>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<Vec<CannedMessage>>> {
    let id = scope.id();
    Ok(web::Json(service::canned_list(&state, scope.into_tenant(), id).await?))
}

/// Adds a canned message (greeting, response, help, command or fallback).
#[utoipa::path(
    tag = "bots",
    params(("bot_id" = i64, Path, description = "Bot id")),
    request_body = CreateCannedRequest,
    responses((status = 201, body = CannedMessage), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[post("/bots/{bot_id}/canned-messages")]
async fn create_canned(
    scope: BotScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    body: Json<CreateCannedRequest>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    let m = service::canned_create(&state, scope.into_tenant(), id, body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(m))
}

/// Changes a canned message.
#[utoipa::path(
    tag = "bots",
    params(("canned_message_id" = i64, Path, description = "Canned message id")),
    request_body = UpdateCannedRequest,
    responses((status = 200, body = CannedMessage), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[patch("/canned-messages/{canned_message_id}")]
async fn update_canned(
    scope: Scoped<CannedResource, perm::BotsWrite>,
    state: web::Data<AppState>,
    body: Json<UpdateCannedRequest>,
) -> AppResult<web::Json<CannedMessage>> {
    let id = scope.id();
    Ok(web::Json(service::canned_update(&state, scope.into_tenant(), id, body.into_inner()?).await?))
}

/// Deletes a canned message.
#[utoipa::path(
    tag = "bots",
    params(("canned_message_id" = i64, Path, description = "Canned message id")),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[delete("/canned-messages/{canned_message_id}")]
async fn delete_canned(
    scope: Scoped<CannedResource, perm::BotsWrite>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    service::canned_delete(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

//! Messaging channels (issue 18 items 1–5): channel CRUD under the
//! organization (`integrations.manage`), the provider check and activation,
//! the public inbound webhook `POST /hooks/{webhook_path}` and the durable
//! outbound queue ([`send`]). Adapters: Telegram ([`telegram`]); a new
//! provider adds its type to [`model::KNOWN_TYPES`], a parser and a renderer,
//! and reuses the queue, the contacts and the runtime hand-over.

pub mod model;
pub mod send;
pub mod service;
pub mod store;
pub mod telegram;

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use rusqlite::{Connection, OptionalExtension};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::{Channel, ChannelId, ChannelMessage, ConnectionCheck, CreateChannelRequest, UpdateChannelRequest};
use crate::app::AppState;
use crate::error::{AppResult, ErrorBody, ErrorCode};
use crate::http::scope::{Owner, ScopeResource, Scoped};
use crate::http::{Json, OrgScope, Page, PageParams};
use crate::permissions::perm;

/// `/channels/{channel_id}/…`
pub struct ChannelResource;
impl ScopeResource for ChannelResource {
    const PARAM: &'static str = "channel_id";
    const NOT_FOUND: ErrorCode = ErrorCode::ChannelNotFound;
    type Id = ChannelId;
    fn owner(conn: &Connection, id: ChannelId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row("SELECT organization_id FROM channels WHERE id = ?1", [id], |r| {
            Ok(Owner { org_id: r.get(0)?, bot_id: None })
        })
        .optional()
    }
}

pub type ChannelScope<P> = Scoped<ChannelResource, P>;

/// Registers `/hooks/{webhook_path}` (outside `/api/v1`: the URL providers are given).
pub fn root_routes(cfg: &mut ServiceConfig) {
    cfg.service(inbound_webhook);
}

/// Registers the routes under `/api/v1`.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_channel)
        .service(list_channels)
        .service(get_channel)
        .service(update_channel)
        .service(delete_channel)
        .service(test_channel)
        .service(activate_channel)
        .service(list_channel_messages);
}

/// Connects a channel (inactive until activated); credentials are stored encrypted and never shown.
#[utoipa::path(
    tag = "channels",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = CreateChannelRequest,
    responses((status = 201, body = Channel), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "`unknown_channel_type` (field `type`) or `validation_failed` (`credentials.bot_token`, `bot_id`, `name`)")),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[post("/orgs/{org_id}/channels")]
async fn create_channel(
    scope: OrgScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
    body: Json<CreateChannelRequest>,
) -> AppResult<HttpResponse> {
    let created = service::create(&state, scope.into_tenant(), body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(created))
}

/// Lists the organization's channels with their webhook URLs and health.
#[utoipa::path(
    tag = "channels",
    params(("org_id" = i64, Path, description = "Organization id"), PageParams),
    responses((status = 200, body = Page<Channel>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[get("/orgs/{org_id}/channels")]
async fn list_channels(
    scope: OrgScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Channel>>> {
    Ok(web::Json(service::list(&state, scope.into_tenant(), page.into_inner()).await?))
}

/// Shows a channel.
#[utoipa::path(
    tag = "channels",
    params(("channel_id" = i64, Path, description = "Channel id")),
    responses((status = 200, body = Channel), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[get("/channels/{channel_id}")]
async fn get_channel(
    scope: ChannelScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<Channel>> {
    let id = scope.id();
    Ok(web::Json(service::get(&state, scope.into_tenant(), id).await?))
}

/// Changes a channel's name, bot or credentials (new credentials: activate again).
#[utoipa::path(
    tag = "channels",
    params(("channel_id" = i64, Path, description = "Channel id")),
    request_body = UpdateChannelRequest,
    responses((status = 200, body = Channel), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[patch("/channels/{channel_id}")]
async fn update_channel(
    scope: ChannelScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
    body: Json<UpdateChannelRequest>,
) -> AppResult<web::Json<Channel>> {
    let id = scope.id();
    Ok(web::Json(service::update(&state, scope.into_tenant(), id, body.into_inner()?).await?))
}

/// Deletes a channel, its contacts and its message log.
#[utoipa::path(
    tag = "channels",
    params(("channel_id" = i64, Path, description = "Channel id")),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[delete("/channels/{channel_id}")]
async fn delete_channel(
    scope: ChannelScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    service::delete(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Asks the provider whether the credentials work (Telegram: `getMe`).
#[utoipa::path(
    tag = "channels",
    params(("channel_id" = i64, Path, description = "Channel id")),
    responses((status = 200, body = ConnectionCheck), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "`channel_credentials_rejected` with the provider's description"),
              (status = 502, body = ErrorBody, description = "`channel_provider_unavailable`")),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[post("/channels/{channel_id}/test")]
async fn test_channel(
    scope: ChannelScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<ConnectionCheck>> {
    let id = scope.id();
    Ok(web::Json(service::test_connection(&state, scope.into_tenant(), id).await?))
}

/// Points the provider at the channel's webhook URL (Telegram: `setWebhook` with the secret token) and switches it on.
#[utoipa::path(
    tag = "channels",
    params(("channel_id" = i64, Path, description = "Channel id")),
    responses((status = 200, body = ConnectionCheck), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "`channel_credentials_rejected` with the provider's description"),
              (status = 502, body = ErrorBody, description = "`channel_provider_unavailable`")),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[post("/channels/{channel_id}/activate")]
async fn activate_channel(
    scope: ChannelScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<ConnectionCheck>> {
    let id = scope.id();
    Ok(web::Json(service::activate(&state, scope.into_tenant(), id).await?))
}

/// The channel's message log, newest first: inbound messages and the outbound
/// queue with each message's state (`queued`, `retrying`, `sent`, `dead`).
#[utoipa::path(
    tag = "channels",
    params(("channel_id" = i64, Path, description = "Channel id"), PageParams),
    responses((status = 200, body = Page<ChannelMessage>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[get("/channels/{channel_id}/messages")]
async fn list_channel_messages(
    scope: ChannelScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<ChannelMessage>>> {
    let id = scope.id();
    Ok(web::Json(service::list_messages(&state, scope.into_tenant(), id, page.into_inner()).await?))
}

/// A provider's inbound event (public; authenticated by the channel's secret).
/// Answers 200 for events stored, duplicates and malformed payloads alike
/// (the provider would otherwise retry them), 401 without the right secret.
#[utoipa::path(
    tag = "channels",
    params(("webhook_path" = String, Path, description = "The channel's random webhook path")),
    request_body(content = Object, description = "The provider's event (Telegram: an Update)"),
    responses((status = 200, description = "Accepted (processed, duplicate, ignored or rejected as malformed)"),
              (status = 401, body = ErrorBody, description = "`channel_signature_invalid`: nothing was stored"),
              (status = 404, body = ErrorBody, description = "`channel_not_found`"))
)]
#[post("/hooks/{webhook_path}")]
async fn inbound_webhook(
    state: web::Data<AppState>,
    path: web::Path<String>,
    request: HttpRequest,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    let secret = request.headers().get(telegram::SECRET_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let outcome = service::inbound(&state, path.into_inner(), secret, &body).await?;
    let name = match outcome {
        service::HookOutcome::Processed => "processed",
        service::HookOutcome::Duplicate => "duplicate",
        service::HookOutcome::Ignored => "ignored",
        service::HookOutcome::Rejected => "rejected",
    };
    Ok(HttpResponse::Ok().json(serde_json::json!({ "status": name })))
}

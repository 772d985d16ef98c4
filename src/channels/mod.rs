//! Messaging channels (issue 18 items 1–5): channel CRUD under the
//! organization (`integrations.manage`), the provider check and activation,
//! the public inbound webhook `/hooks/{webhook_path}` and the durable
//! outbound queue ([`send`]). Each provider is an [`adapter::Adapter`]
//! listed in [`ADAPTERS`]; the queue, contacts, deduplication and the
//! runtime hand-over are shared.

pub mod adapter;
pub mod email;
pub mod generic;
pub mod messenger;
pub mod meta;
pub mod model;
pub mod send;
pub mod service;
pub mod slack;
pub mod sms;
pub mod store;
pub mod telegram;
pub mod templates;
pub mod whatsapp;

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use rusqlite::{Connection, OptionalExtension};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::{
    Channel, ChannelId, ChannelMessage, ConnectionCheck, CreateChannelRequest, Deliveries, SendTestRequest,
    UpdateChannelRequest,
};
use crate::app::AppState;
use crate::conversations::model::ConversationResource;
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

/// Every channel type this server speaks.
static ADAPTERS: [&dyn adapter::Adapter; 8] = [
    &telegram::Telegram,
    &generic::Generic,
    &whatsapp::WhatsApp,
    &slack::Slack,
    &messenger::Messenger,
    &messenger::Instagram,
    &sms::Sms,
    &email::Email,
];

/// The adapter of a channel type.
#[must_use]
pub fn adapter_for(kind: &str) -> Option<&'static dyn adapter::Adapter> {
    ADAPTERS.iter().copied().find(|a| a.kind() == kind)
}

/// The channel types this server speaks (a closed list).
#[must_use]
pub fn known_types() -> Vec<&'static str> {
    ADAPTERS.iter().map(|a| a.kind()).collect()
}

/// Registers `/hooks/{webhook_path}` (outside `/api/v1`: the URL providers are given).
pub fn root_routes(cfg: &mut ServiceConfig) {
    cfg.service(inbound_webhook).service(inbound_handshake);
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
        .service(list_channel_messages)
        .service(send_test_message)
        .service(conversation_deliveries);
    templates::routes(cfg);
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

/// Queues a test text to an address at the provider (the setup wizard's
/// "send a test"); the answer is the queued message, whose status then moves
/// in the channel's message log.
#[utoipa::path(
    tag = "channels",
    params(("channel_id" = i64, Path, description = "Channel id")),
    request_body = SendTestRequest,
    responses((status = 202, body = ChannelMessage), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody, description = "`validation_failed` (`to`, `text`)")),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[post("/channels/{channel_id}/send-test")]
async fn send_test_message(
    scope: ChannelScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
    body: Json<SendTestRequest>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    let queued = service::send_test(&state, scope.into_tenant(), id, body.into_inner()?).await?;
    Ok(HttpResponse::Accepted().json(queued))
}

/// The delivery state (queued, sent, delivered, read, failed…) of each
/// transcript message of a conversation that came through a channel.
#[utoipa::path(
    tag = "channels",
    params(("conversation_id" = i64, Path, description = "Conversation id")),
    responses((status = 200, body = Deliveries), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["conversations.read"]), ("api_token" = ["conversations.read"]))
)]
#[get("/conversations/{conversation_id}/deliveries")]
async fn conversation_deliveries(
    scope: Scoped<ConversationResource, perm::ConversationsRead>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<Deliveries>> {
    let id = scope.id();
    Ok(web::Json(service::deliveries(&state, scope.into_tenant(), id).await?))
}

/// A provider's webhook call (public; authenticated by the channel's
/// signature scheme). Authentic calls are answered 200 whatever became of
/// them — processed, duplicate, ignored or malformed — since providers retry
/// anything else.
#[utoipa::path(
    tag = "channels",
    params(("webhook_path" = String, Path, description = "The channel's random webhook path")),
    request_body(content = Object, description = "The provider's event in its own format (Telegram: an Update)"),
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
    hook(&state, path.into_inner(), &request, &body).await
}

/// A provider's handshake (public): Meta's subscription check answers
/// `hub.challenge` when `hub.verify_token` is the channel's verify token.
#[utoipa::path(
    tag = "channels",
    params(("webhook_path" = String, Path, description = "The channel's random webhook path")),
    responses((status = 200, description = "The handshake answered"),
              (status = 401, body = ErrorBody, description = "`channel_signature_invalid`"),
              (status = 404, body = ErrorBody, description = "`channel_not_found`"))
)]
#[get("/hooks/{webhook_path}")]
async fn inbound_handshake(
    state: web::Data<AppState>,
    path: web::Path<String>,
    request: HttpRequest,
) -> AppResult<HttpResponse> {
    hook(&state, path.into_inner(), &request, &[]).await
}

async fn hook(state: &AppState, path: String, request: &HttpRequest, body: &[u8]) -> AppResult<HttpResponse> {
    let query = request.query_string();
    // Made absolute by `service::inbound`, which reads the public URL with the channel.
    let url = if query.is_empty() { request.path().to_owned() } else { format!("{}?{query}", request.path()) };
    let hook = adapter::HookRequest { method: request.method(), headers: request.headers(), query, body, url };
    service::inbound(state, path, hook).await
}

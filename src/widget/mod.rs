//! The embeddable chat widget: `GET /widget.js`, its public API under
//! `/api/v1/widget/{widget_key}` (a bot's public key and an end-user session
//! id; CORS limited to the bot's allowed origins, these routes only), and
//! the settings the widget designer edits.

pub mod model;
pub mod service;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{ACCEPT_LANGUAGE, CONTENT_TYPE, HeaderName, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::{HttpRequest, HttpResponse, ResponseError, get, post, put, web};
use serde::Deserialize;
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::{
    PublicWidget, WidgetHistory, WidgetSession, WidgetSessionRequest, WidgetSettingsRequest, WidgetSettingsView,
    WidgetUploadParams,
};
use crate::app::AppState;
use crate::conversations::model::{ConvStatus, SendMessageRequest, TurnResponse};
use crate::conversations::runtime::hub::conversation_stream;
use crate::conversations::runtime::{ActArgs, Action, ConvRef, check_message};
use crate::conversations::store;
use crate::crypto::random_token;
use crate::error::{AppError, AppResult, ErrorBody, ErrorCode};
use crate::flows::service::Source;
use crate::http::sse::sse_response;
use crate::http::{BotScope, ClientInfo, Json, Tenant};
use crate::ids::{BotId, FileId, OrgId};
use crate::permissions::perm;

/// The widget script.
pub const WIDGET_JS: &str = include_str!("widget.js");
/// The channel of widget conversations.
pub const CHANNEL: &str = "widget";
/// Widget sessions a client address may open per second.
const SESSIONS_PER_SECOND: u32 = 30;

/// Registers `/widget.js` (outside `/api/v1`).
pub fn root_routes(cfg: &mut ServiceConfig) {
    cfg.service(widget_js);
}

/// Registers the widget routes under `/api/v1`.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(get_widget_settings).service(put_widget_settings).service(
        utoipa_actix_web::scope::scope("/widget")
            .wrap(from_fn(cors))
            .service(public_config)
            .service(public_avatar)
            .service(create_session)
            .service(history)
            .service(post_message)
            .service(upload)
            .service(download)
            .service(events)
            .service(crate::analytics::widget_rate)
            .service(crate::analytics::widget_unrate),
    );
}

/// The embeddable widget script: `<script src="…/widget.js" data-bot-key="wk_…" async></script>`.
#[utoipa::path(tag = "widget", responses((status = 200, description = "JavaScript", content_type = "text/javascript")))]
#[get("/widget.js")]
async fn widget_js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=300"))
        .insert_header(("Cross-Origin-Resource-Policy", "cross-origin"))
        .body(WIDGET_JS)
}

/// The widget settings of a bot, with its embed code.
#[utoipa::path(
    tag = "widget",
    params(("bot_id" = i64, Path, description = "Bot id")),
    responses((status = 200, body = WidgetSettingsView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/bots/{bot_id}/widget")]
async fn get_widget_settings(
    scope: BotScope<perm::BotsRead>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<WidgetSettingsView>> {
    let bot = scope.id();
    Ok(web::Json(service::get(&state, scope.into_tenant(), bot).await?))
}

/// Changes the widget's look and the origins allowed to embed it.
#[utoipa::path(
    tag = "widget",
    params(("bot_id" = i64, Path, description = "Bot id")),
    request_body = WidgetSettingsRequest,
    responses((status = 200, body = WidgetSettingsView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[put("/bots/{bot_id}/widget")]
async fn put_widget_settings(
    scope: BotScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    body: Json<WidgetSettingsRequest>,
) -> AppResult<web::Json<WidgetSettingsView>> {
    let bot = scope.id();
    Ok(web::Json(service::put(&state, scope.into_tenant(), bot, body.into_inner()?).await?))
}

#[derive(Deserialize)]
struct KeyPath {
    widget_key: String,
}

#[derive(Deserialize)]
struct SessionPath {
    widget_key: String,
    session_id: String,
}

#[derive(Deserialize)]
struct SessionFilePath {
    widget_key: String,
    session_id: String,
    file_id: FileId,
}

fn session_not_found() -> AppError {
    AppError::new(ErrorCode::WidgetSessionNotFound, "no such widget session")
}

/// An `overloaded` refusal as the widget shows it: the operator's busy
/// reply (`runtime.busy_reply`) as the message, also in `details.reply`;
/// the message was not taken and is sent again after `Retry-After`.
fn busy(state: &AppState, e: AppError) -> AppError {
    if e.code() != ErrorCode::Overloaded {
        return e;
    }
    let reply = state.config.runtime.busy_reply.clone();
    let mut details = e.details().cloned().unwrap_or_else(|| serde_json::json!({}));
    details["reply"] = serde_json::Value::String(reply.clone());
    AppError::new(ErrorCode::Overloaded, reply).with_details(details)
}

async fn bot_of(state: &AppState, key: &str) -> AppResult<(BotId, Tenant)> {
    let (bot, org): (BotId, OrgId) = state.runtime.widget_bot(state, key).await?;
    Ok((bot, Tenant::system(org, "public widget request")))
}

/// Whether a person has taken the conversation (the widget says "You are
/// chatting with a person" only then; before, the visitor is waiting).
fn assigned(e: &crate::conversations::model::ConvEntry) -> bool {
    e.status == ConvStatus::Handoff && e.assignee.is_some()
}

/// The bot and tenant of a widget key and a well-formed session id (the
/// session's conversation is looked up by the caller).
pub async fn session_bot(state: &AppState, key: &str, session_id: &str) -> AppResult<(BotId, Tenant)> {
    check_session_id(session_id)?;
    bot_of(state, key).await
}

fn check_session_id(id: &str) -> AppResult<()> {
    let ok = (16..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok { Ok(()) } else { Err(AppError::new(ErrorCode::WidgetSessionNotFound, "no such widget session")) }
}

/// The widget's look and the bot's name (public).
#[utoipa::path(
    tag = "widget",
    params(("widget_key" = String, Path, description = "The bot's public widget key")),
    responses((status = 200, body = PublicWidget), (status = 403, body = ErrorBody, description = "`origin_not_allowed`"),
              (status = 404, body = ErrorBody, description = "`widget_not_found`: unknown or rotated key")),
)]
#[get("/{widget_key}/config")]
async fn public_config(state: web::Data<AppState>, path: web::Path<KeyPath>) -> AppResult<web::Json<PublicWidget>> {
    let key = path.into_inner().widget_key;
    let (bot, tenant) = bot_of(&state, &key).await?;
    let loaded = state.runtime.loaded(&state, &tenant, bot, Source::Published).await?;
    Ok(web::Json(PublicWidget {
        bot_name: loaded.bot.name.clone(),
        available: loaded.bot.is_active,
        avatar_url: loaded.bot.has_avatar.then(|| format!("/api/v1/widget/{key}/avatar")),
        config: loaded.widget.config.clone(),
        max_upload_bytes: state.config.files.max_upload_bytes,
    }))
}

/// The bot's avatar (public).
#[utoipa::path(
    tag = "widget",
    params(("widget_key" = String, Path, description = "The bot's public widget key")),
    responses((status = 200, description = "The image", content_type = "image/png"), (status = 404, body = ErrorBody)),
)]
#[get("/{widget_key}/avatar")]
async fn public_avatar(state: web::Data<AppState>, path: web::Path<KeyPath>) -> AppResult<HttpResponse> {
    let (bot, tenant) = bot_of(&state, &path.into_inner().widget_key).await?;
    let (content_type, data) = crate::bots::service::avatar(&state, tenant, bot).await?;
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", "public, max-age=300"))
        .insert_header(("Cross-Origin-Resource-Policy", "cross-origin"))
        .body(data))
}

/// Opens a widget session: a new conversation; the flow starts and greets. The
/// optional body says where the visitor is (page, title, language); with the
/// user agent it is kept for the inbox's visitor details.
#[utoipa::path(
    tag = "widget",
    params(("widget_key" = String, Path, description = "The bot's public widget key")),
    request_body(content = Option<WidgetSessionRequest>, description = "Optional: the visitor's page and language"),
    responses((status = 201, body = WidgetSession), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`bot_inactive`"), (status = 429, body = ErrorBody)),
)]
#[post("/{widget_key}/sessions")]
async fn create_session(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<KeyPath>,
    body: Json<WidgetSessionRequest>,
) -> AppResult<HttpResponse> {
    let client = ClientInfo::of(&req);
    let ip = client.ip.unwrap_or_default();
    state.runtime.limiter().check(&format!("widget-sessions:{ip}"), SESSIONS_PER_SECOND)?;
    // The body is optional: older embeds post none.
    let page =
        if req.headers().contains_key(CONTENT_TYPE) { body.into_inner()? } else { WidgetSessionRequest::default() };
    let accept_language = req.headers().get(ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    let visitor = crate::conversations::visitor::sanitize(
        page.page_url.as_deref(),
        page.page_title.as_deref(),
        page.language.as_deref(),
        accept_language,
        client.user_agent.as_deref(),
    );
    let (bot, tenant) = bot_of(&state, &path.into_inner().widget_key).await?;
    let visitor_tenant = tenant.clone();
    let session_id = format!("ws_{}", random_token(24));
    let r = state
        .runtime
        .act(
            &state,
            ActArgs {
                tenant,
                bot,
                conversation: ConvRef::Key {
                    channel: CHANNEL.into(),
                    external_user_id: session_id.clone(),
                    create: true,
                },
                action: Action::Start,
                source: Source::Published,
                debug: false,
                count_usage: true,
                hook: None,
            },
        )
        .await
        .map_err(|e| busy(&state, e))?
        .without_notes();
    let json = serde_json::to_string(&visitor).map_err(AppError::internal)?;
    let id = r.entry.id;
    state.db.write(move |tx| Ok(store::set_visitor(tx, &visitor_tenant, id, &json)?)).await?;
    Ok(HttpResponse::Created().json(WidgetSession {
        session_id,
        status: r.entry.status,
        assigned: assigned(&r.entry),
        messages: r.replies,
    }))
}

/// The session's messages (agents' notes excluded), oldest first.
#[utoipa::path(
    tag = "widget",
    params(("widget_key" = String, Path, description = "The bot's public widget key"), ("session_id" = String, Path, description = "Widget session id")),
    responses((status = 200, body = WidgetHistory), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
)]
#[get("/{widget_key}/sessions/{session_id}/messages")]
async fn history(state: web::Data<AppState>, path: web::Path<SessionPath>) -> AppResult<web::Json<WidgetHistory>> {
    let p = path.into_inner();
    check_session_id(&p.session_id)?;
    let (bot, tenant) = bot_of(&state, &p.widget_key).await?;
    let (status, assigned, messages) = state
        .db
        .read(move |c| {
            let e = store::find_by_key(c, &tenant, bot, CHANNEL, &p.session_id)?
                .ok_or_else(|| AppError::new(ErrorCode::WidgetSessionNotFound, "no such widget session"))?;
            Ok((e.status, assigned(&e), store::transcript(c, &tenant, e.id, false, None, 500)?))
        })
        .await?;
    Ok(web::Json(WidgetHistory { status, assigned, messages }))
}

/// Sends the end user's message; answers with the bot's replies (agents' replies arrive on the event stream).
#[utoipa::path(
    tag = "widget",
    params(("widget_key" = String, Path, description = "The bot's public widget key"), ("session_id" = String, Path, description = "Widget session id")),
    request_body = SendMessageRequest,
    responses(
        (status = 200, body = TurnResponse), (status = 403, body = ErrorBody, description = "`origin_not_allowed`"),
        (status = 404, body = ErrorBody, description = "`widget_not_found` or `widget_session_not_found`"),
        (status = 409, body = ErrorBody, description = "`bot_inactive`"), (status = 422, body = ErrorBody),
        (status = 402, body = ErrorBody, description = "`plan_limit_exceeded`: the month's messages are used"),
        (status = 429, body = ErrorBody, description = "`rate_limited` (too many messages per second)"),
        (status = 503, body = ErrorBody, description = "`overloaded`: the message was not taken; `message` is the busy reply to show, retry after Retry-After"),
    ),
)]
#[post("/{widget_key}/sessions/{session_id}/messages")]
async fn post_message(
    state: web::Data<AppState>,
    path: web::Path<SessionPath>,
    body: Json<SendMessageRequest>,
) -> AppResult<web::Json<TurnResponse>> {
    let p = path.into_inner();
    check_session_id(&p.session_id)?;
    let (bot, tenant) = bot_of(&state, &p.widget_key).await?;
    state
        .runtime
        .limiter()
        .check(&format!("widget:{bot}:{}", p.session_id), state.config.runtime.widget_messages_per_second)?;
    let text = check_message(&body.into_inner()?.text, state.runtime.config().max_message_chars)?;
    let r = state
        .runtime
        .act(
            &state,
            ActArgs {
                tenant,
                bot,
                conversation: ConvRef::Key { channel: CHANNEL.into(), external_user_id: p.session_id, create: false },
                action: Action::Message(text),
                source: Source::Published,
                debug: false,
                count_usage: true,
                hook: None,
            },
        )
        .await
        .map_err(|e| {
            if e.code() == ErrorCode::ConversationNotFound {
                AppError::new(ErrorCode::WidgetSessionNotFound, "no such widget session")
            } else {
                busy(&state, e)
            }
        })?
        .without_notes();
    Ok(web::Json(TurnResponse {
        conversation_id: r.entry.id,
        status: r.entry.status,
        message: r.message,
        replies: r.replies,
        trace: None,
    }))
}

/// Sends a file from the end user: the raw bytes as the body (an XHR or
/// `fetch` of the `File`), its name and an optional caption in the query.
/// The type is recognised from the bytes (the declared one is ignored);
/// images, PDFs, Office documents, text/CSV and voice notes are accepted, up
/// to `files.max_upload_bytes`. The message shows the file in the thread and
/// in the inbox; a caption runs as the turn's text, a file alone runs no turn.
#[utoipa::path(
    tag = "widget",
    params(("widget_key" = String, Path, description = "The bot's public widget key"), ("session_id" = String, Path, description = "Widget session id"), WidgetUploadParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file's bytes"),
    responses(
        (status = 200, body = TurnResponse),
        (status = 403, body = ErrorBody, description = "`uploads_disabled` (widget settings) or `origin_not_allowed`"),
        (status = 404, body = ErrorBody, description = "`widget_not_found` or `widget_session_not_found`"),
        (status = 409, body = ErrorBody, description = "`bot_inactive`"),
        (status = 413, body = ErrorBody, description = "`file_too_large`: `details.limit_bytes` is the limit"),
        (status = 415, body = ErrorBody, description = "`unsupported_media_type`: not an accepted image, document, text or audio file"),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
)]
#[post("/{widget_key}/sessions/{session_id}/uploads")]
async fn upload(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<SessionPath>,
    query: web::Query<WidgetUploadParams>,
    payload: web::Payload,
) -> AppResult<web::Json<TurnResponse>> {
    let p = path.into_inner();
    check_session_id(&p.session_id)?;
    let (bot, tenant) = bot_of(&state, &p.widget_key).await?;
    let loaded = state.runtime.loaded(&state, &tenant, bot, Source::Published).await?;
    if !loaded.widget.config.uploads_enabled {
        return Err(AppError::new(ErrorCode::UploadsDisabled, "this chat does not take files")
            .with_details(serde_json::json!({ "field": "file" })));
    }
    state
        .runtime
        .limiter()
        .check(&format!("widget:{bot}:{}", p.session_id), state.config.runtime.widget_messages_per_second)?;
    let q = query.into_inner();
    let caption = match q.caption.as_deref().map(str::trim) {
        Some(c) if !c.is_empty() => Some(
            check_message(c, state.runtime.config().max_message_chars)
                .map_err(|_| AppError::validation("caption", "1–4000 characters of text"))?,
        ),
        _ => None,
    };
    let data = crate::files::service::read_upload(&req, payload, state.config.files.max_upload_bytes).await?;
    // The session must exist before anything is stored.
    let (t, session) = (tenant.clone(), p.session_id.clone());
    state
        .db
        .read(move |c| Ok(store::find_by_key(c, &t, bot, CHANNEL, &session)?))
        .await?
        .ok_or_else(session_not_found)?;
    let attachment = crate::files::service::store_checked(&state, tenant.org_id(), data, q.name, None).await?;
    let r = state
        .runtime
        .act(
            &state,
            ActArgs {
                tenant,
                bot,
                conversation: ConvRef::Key { channel: CHANNEL.into(), external_user_id: p.session_id, create: false },
                action: Action::Attachment { files: vec![attachment], caption },
                source: Source::Published,
                debug: false,
                count_usage: true,
                hook: None,
            },
        )
        .await
        .map_err(|e| if e.code() == ErrorCode::ConversationNotFound { session_not_found() } else { busy(&state, e) })?
        .without_notes();
    Ok(web::Json(TurnResponse {
        conversation_id: r.entry.id,
        status: r.entry.status,
        message: r.message,
        replies: r.replies,
        trace: None,
    }))
}

/// A file of the session's conversation (sent by the end user, the bot or an
/// agent; never one of another session), for the widget to show or download.
#[utoipa::path(
    tag = "widget",
    params(("widget_key" = String, Path, description = "The bot's public widget key"), ("session_id" = String, Path, description = "Widget session id"), ("file_id" = i64, Path, description = "File id")),
    responses((status = 200, description = "The file's bytes, with its sniffed content type (any media type)", content_type = "*/*"), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody, description = "`widget_session_not_found` or `file_not_found`")),
)]
#[get("/{widget_key}/sessions/{session_id}/files/{file_id}")]
async fn download(state: web::Data<AppState>, path: web::Path<SessionFilePath>) -> AppResult<HttpResponse> {
    let p = path.into_inner();
    check_session_id(&p.session_id)?;
    let (bot, tenant) = bot_of(&state, &p.widget_key).await?;
    let (t, session) = (tenant.clone(), p.session_id);
    let entry = state
        .db
        .read(move |c| Ok(store::find_by_key(c, &t, bot, CHANNEL, &session)?))
        .await?
        .ok_or_else(session_not_found)?;
    let file = crate::files::service::for_conversation(&state, &tenant, entry.id, p.file_id).await?;
    Ok(crate::files::service::respond(file, true))
}

/// Live events of the session (Server-Sent Events): `message` (bot and agent), `typing`, `status`.
#[utoipa::path(
    tag = "widget",
    params(("widget_key" = String, Path, description = "The bot's public widget key"), ("session_id" = String, Path, description = "Widget session id")),
    responses((status = 200, description = "text/event-stream", content_type = "text/event-stream"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
)]
#[get("/{widget_key}/sessions/{session_id}/events")]
async fn events(state: web::Data<AppState>, path: web::Path<SessionPath>) -> AppResult<HttpResponse> {
    let p = path.into_inner();
    check_session_id(&p.session_id)?;
    let (bot, tenant) = bot_of(&state, &p.widget_key).await?;
    let entry = state
        .db
        .read(move |c| Ok(store::find_by_key(c, &tenant, bot, CHANNEL, &p.session_id)?))
        .await?
        .ok_or_else(|| AppError::new(ErrorCode::WidgetSessionNotFound, "no such widget session"))?;
    let rx = state.runtime.hub().subscribe(entry.id);
    let first = crate::http::sse::SseEvent::json(
        "ready",
        &serde_json::json!({
            "status": entry.status,
            "closed": entry.status == ConvStatus::Closed,
            "assigned": assigned(&entry),
        }),
    );
    let stream = futures_util::stream::select(futures_util::stream::iter([first]), conversation_stream(rx, true));
    Ok(sse_response(stream))
}

// ---- CORS for the widget routes only ----------------------------------------

/// The widget key of a `/api/v1/widget/{key}/…` path.
fn key_of(path: &str) -> Option<&str> {
    path.strip_prefix("/api/v1/widget/")?.split('/').next().filter(|k| !k.is_empty())
}

/// Whether `origin` may use the widget of `key`. Unknown keys answer "yes"
/// here so that the browser can read the handler's 404.
async fn origin_allowed(state: &AppState, key: &str, origin: &str) -> bool {
    let Ok((bot, tenant)) = bot_of(state, key).await else { return true };
    match state.runtime.loaded(state, &tenant, bot, Source::Published).await {
        Ok(loaded) => loaded.widget.allows(origin),
        Err(_) => true,
    }
}

fn cors_headers(res: &mut HttpResponse, origin: &str) {
    let headers = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(origin) {
        headers.insert(HeaderName::from_static("access-control-allow-origin"), v);
    }
    headers.insert(HeaderName::from_static("vary"), HeaderValue::from_static("Origin"));
}

/// Answers preflights, refuses pages of origins the bot does not allow
/// (403 `origin_not_allowed` without CORS headers, before anything runs)
/// and adds the CORS headers to allowed origins' responses.
async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let origin = req.headers().get("origin").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let Some(origin) = origin else {
        return next.call(req).await.map(ServiceResponse::map_into_boxed_body);
    };
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let allowed = match (state, key_of(req.path()).map(str::to_owned)) {
        (Some(state), Some(key)) => origin_allowed(&state, &key, &origin).await,
        _ => true,
    };
    if !allowed {
        // No Access-Control-Allow-Origin: the foreign page must not be able
        // to read even the refusal. `Vary` keeps caches from mixing origins.
        let mut res = AppError::new(ErrorCode::OriginNotAllowed, format!("pages of {origin} may not use this widget"))
            .with_details(serde_json::json!({ "origin": origin }))
            .error_response();
        res.headers_mut().insert(HeaderName::from_static("vary"), HeaderValue::from_static("Origin"));
        return Ok(req.into_response(res));
    }
    if req.method() == Method::OPTIONS {
        let mut res = HttpResponse::NoContent()
            .insert_header(("access-control-allow-methods", "GET, POST, PUT, DELETE, OPTIONS"))
            .insert_header(("access-control-allow-headers", "content-type"))
            .insert_header(("access-control-max-age", "600"))
            .finish();
        cors_headers(&mut res, &origin);
        return Ok(req.into_response(res));
    }
    let mut res = next.call(req).await?.map_into_boxed_body();
    let headers = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&origin) {
        headers.insert(HeaderName::from_static("access-control-allow-origin"), v);
    }
    headers.insert(HeaderName::from_static("vary"), HeaderValue::from_static("Origin"));
    Ok(res)
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_come_from_widget_paths() {
        assert_eq!(super::key_of("/api/v1/widget/wk_abc/config"), Some("wk_abc"));
        assert_eq!(super::key_of("/api/v1/widget/"), None);
        assert_eq!(super::key_of("/api/v1/bots/1"), None);
    }
}

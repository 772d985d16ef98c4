//! Voice bots over Twilio-compatible telephony (issue 26): the
//! organization's telephony account, voice bots (a bot's published flow on
//! the phone), phone numbers from the provider, inbound and outbound calls
//! driven by `TwiML` (see [`call`]), the call log with transcripts and
//! recordings, and call stats.

pub mod call;
pub mod creation;
pub mod model;
pub mod provider;
pub mod service;
pub mod store;
pub mod templates;
pub mod twiml;

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use rusqlite::{Connection, OptionalExtension};
use serde::Deserialize;
use utoipa_actix_web::service_config::ServiceConfig;

use self::call::Hook;
use self::model::{
    AssignPhoneNumberRequest, AvailablePhoneNumber, AvailableQuery, BuyPhoneNumberRequest, Call, CallDetail,
    CallFilter, CallId, CreateVoiceBotRequest, PhoneNumber, PhoneNumberId, StartCallRequest, UpdateVoiceBotRequest,
    VoiceAccount, VoiceAccountRequest, VoiceBot, VoiceBotId, VoiceStats,
};
use crate::app::AppState;
use crate::error::{AppResult, ErrorBody, ErrorCode};
use crate::http::scope::{Owner, ScopeResource, Scoped};
use crate::http::{Json, OrgScope, Page, PageParams};
use crate::permissions::perm;

/// `/voice-bots/{voice_bot_id}/…`
pub struct VoiceBotResource;
impl ScopeResource for VoiceBotResource {
    const PARAM: &'static str = "voice_bot_id";
    const NOT_FOUND: ErrorCode = ErrorCode::VoiceBotNotFound;
    type Id = VoiceBotId;
    fn owner(conn: &Connection, id: VoiceBotId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row("SELECT organization_id FROM voice_bots WHERE id = ?1", [id], |r| {
            Ok(Owner { org_id: r.get(0)?, bot_id: None })
        })
        .optional()
    }
}

/// `/calls/{call_id}`
pub struct CallResource;
impl ScopeResource for CallResource {
    const PARAM: &'static str = "call_id";
    const NOT_FOUND: ErrorCode = ErrorCode::CallNotFound;
    type Id = CallId;
    fn owner(conn: &Connection, id: CallId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row("SELECT organization_id FROM calls WHERE id = ?1", [id], |r| {
            Ok(Owner { org_id: r.get(0)?, bot_id: None })
        })
        .optional()
    }
}

/// `/phone-numbers/{phone_number_id}`
pub struct PhoneNumberResource;
impl ScopeResource for PhoneNumberResource {
    const PARAM: &'static str = "phone_number_id";
    const NOT_FOUND: ErrorCode = ErrorCode::PhoneNumberNotFound;
    type Id = PhoneNumberId;
    fn owner(conn: &Connection, id: PhoneNumberId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row("SELECT organization_id FROM phone_numbers WHERE id = ?1", [id], |r| {
            Ok(Owner { org_id: r.get(0)?, bot_id: None })
        })
        .optional()
    }
}

/// Registers the provider's webhooks (outside `/api/v1`: the URLs Twilio is given).
pub fn root_routes(cfg: &mut ServiceConfig) {
    cfg.service(voice_webhook);
}

/// Registers the routes under `/api/v1`.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(voice_set_account)
        .service(voice_get_account)
        .service(voice_create_bot)
        .service(voice_list_bots)
        .service(voice_get_bot)
        .service(voice_update_bot)
        .service(voice_delete_bot)
        .service(voice_start_call)
        .service(voice_list_calls)
        .service(voice_get_call)
        .service(voice_stats)
        .service(voice_list_numbers)
        .service(voice_sync_numbers)
        .service(voice_available_numbers)
        .service(voice_buy_number)
        .service(voice_assign_number)
        .service(voice_release_number);
    templates::routes(cfg);
    creation::routes(cfg);
}

/// A Twilio voice webhook (public; authenticated by `X-Twilio-Signature`
/// with the account's auth token): `incoming`, `gather`, `status`,
/// `recording` or `hangup`. The answer is `TwiML`.
#[utoipa::path(
    tag = "voice",
    params(("webhook_key" = String, Path, description = "The account's random webhook key"),
           ("hook" = String, Path, description = "`incoming`, `gather`, `status`, `recording` or `hangup`")),
    request_body(content = Object, content_type = "application/x-www-form-urlencoded", description = "Twilio's form parameters (`CallSid`, `AccountSid`, `From`, `To`, `CallStatus`, `SpeechResult`, `Digits`, `RecordingUrl`…)"),
    responses((status = 200, description = "`TwiML` (text/xml)"),
              (status = 403, body = ErrorBody, description = "`voice_signature_invalid`: nothing was read or stored"),
              (status = 404, body = ErrorBody, description = "`not_found`: no account has this key, or no such hook"),
              (status = 409, body = ErrorBody, description = "`voice_webhook_replayed`: the call was already answered or the turn is not current"),
              (status = 422, body = ErrorBody, description = "`validation_failed` (`CallSid`, `CallStatus`, `RecordingUrl`)"))
)]
#[post("/hooks/voice/{webhook_key}/{hook}")]
async fn voice_webhook(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    request: HttpRequest,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    let (key, hook) = path.into_inner();
    let hook = match hook.as_str() {
        "incoming" => Hook::Incoming,
        "gather" => Hook::Gather,
        "status" => Hook::Status,
        "recording" => Hook::Recording,
        "hangup" => Hook::Hangup,
        _ => return Err(crate::error::AppError::new(ErrorCode::NotFound, "no such voice webhook")),
    };
    let query = request.query_string();
    let url = if query.is_empty() { request.path().to_owned() } else { format!("{}?{query}", request.path()) };
    let signature = request.headers().get("X-Twilio-Signature").and_then(|v| v.to_str().ok());
    call::handle(&state, key, hook, url, query, signature, &body).await
}

/// Sets the organization's Twilio account (the auth token is stored encrypted and never shown).
#[utoipa::path(
    tag = "voice",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = VoiceAccountRequest,
    responses((status = 200, body = VoiceAccount), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody, description = "`validation_failed` (`account_sid`, `auth_token`)")),
    security(("session" = ["channels.manage"]), ("api_token" = ["channels.manage"]))
)]
#[put("/orgs/{org_id}/voice/account")]
async fn voice_set_account(
    scope: OrgScope<perm::ChannelsManage>,
    state: web::Data<AppState>,
    body: Json<VoiceAccountRequest>,
) -> AppResult<web::Json<VoiceAccount>> {
    Ok(web::Json(service::set_account(&state, scope.into_tenant(), body.into_inner()?).await?))
}

/// The organization's Twilio account and the webhook URLs to give the provider.
#[utoipa::path(
    tag = "voice",
    params(("org_id" = i64, Path, description = "Organization id")),
    responses((status = 200, body = VoiceAccount), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "`voice_account_not_configured`")),
    security(("session" = ["channels.manage"]), ("api_token" = ["channels.manage"]))
)]
#[get("/orgs/{org_id}/voice/account")]
async fn voice_get_account(
    scope: OrgScope<perm::ChannelsManage>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<VoiceAccount>> {
    Ok(web::Json(service::get_account(&state, scope.into_tenant()).await?))
}

/// Creates a voice bot: the bot whose published flow answers the phone.
#[utoipa::path(
    tag = "voice",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = CreateVoiceBotRequest,
    responses((status = 201, body = VoiceBot), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "`validation_failed` (`name`, `bot_id`, `language`, `max_call_duration`, `settings.*`)")),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[post("/orgs/{org_id}/voice-bots")]
async fn voice_create_bot(
    scope: OrgScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    body: Json<CreateVoiceBotRequest>,
) -> AppResult<HttpResponse> {
    let created = service::create_voice_bot(&state, scope.into_tenant(), body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(created))
}

/// Lists the organization's voice bots.
#[utoipa::path(
    tag = "voice",
    params(("org_id" = i64, Path, description = "Organization id"), PageParams),
    responses((status = 200, body = Page<VoiceBot>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/orgs/{org_id}/voice-bots")]
async fn voice_list_bots(
    scope: OrgScope<perm::BotsRead>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<VoiceBot>>> {
    Ok(web::Json(service::list_voice_bots(&state, scope.into_tenant(), page.into_inner()).await?))
}

/// Shows a voice bot with the voice warnings of its published flows.
#[utoipa::path(
    tag = "voice",
    params(("voice_bot_id" = i64, Path, description = "Voice bot id")),
    responses((status = 200, body = VoiceBot), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/voice-bots/{voice_bot_id}")]
async fn voice_get_bot(
    scope: Scoped<VoiceBotResource, perm::BotsRead>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<VoiceBot>> {
    let id = scope.id();
    Ok(web::Json(service::get_voice_bot(&state, scope.into_tenant(), id).await?))
}

/// Changes a voice bot (settings merge: a `null` removes a key).
#[utoipa::path(
    tag = "voice",
    params(("voice_bot_id" = i64, Path, description = "Voice bot id")),
    request_body = UpdateVoiceBotRequest,
    responses((status = 200, body = VoiceBot), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[patch("/voice-bots/{voice_bot_id}")]
async fn voice_update_bot(
    scope: Scoped<VoiceBotResource, perm::BotsWrite>,
    state: web::Data<AppState>,
    body: Json<UpdateVoiceBotRequest>,
) -> AppResult<web::Json<VoiceBot>> {
    let id = scope.id();
    Ok(web::Json(service::update_voice_bot(&state, scope.into_tenant(), id, body.into_inner()?).await?))
}

/// Deletes a voice bot and its call log; its number stays, unassigned.
#[utoipa::path(
    tag = "voice",
    params(("voice_bot_id" = i64, Path, description = "Voice bot id")),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[delete("/voice-bots/{voice_bot_id}")]
async fn voice_delete_bot(
    scope: Scoped<VoiceBotResource, perm::BotsWrite>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    service::delete_voice_bot(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Places an outbound call from the voice bot's number; its flow speaks when answered.
#[utoipa::path(
    tag = "voice",
    params(("voice_bot_id" = i64, Path, description = "Voice bot id")),
    request_body = StartCallRequest,
    responses((status = 201, body = Call), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`voice_account_not_configured`, or `conflict`: no number or switched off"),
              (status = 422, body = ErrorBody, description = "`validation_failed` (`to`) or `voice_provider_rejected`"),
              (status = 502, body = ErrorBody, description = "`voice_provider_unavailable`")),
    security(("session" = ["conversations.write"]), ("api_token" = ["conversations.write"]))
)]
#[post("/voice-bots/{voice_bot_id}/calls")]
async fn voice_start_call(
    scope: Scoped<VoiceBotResource, perm::ConversationsWrite>,
    state: web::Data<AppState>,
    body: Json<StartCallRequest>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    let call = service::start_call(&state, scope.into_tenant(), id, body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(call))
}

/// The call log, newest first, with filters.
#[utoipa::path(
    tag = "voice",
    params(("org_id" = i64, Path, description = "Organization id"), CallFilter),
    responses((status = 200, body = Page<Call>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["conversations.read"]), ("api_token" = ["conversations.read"]))
)]
#[get("/orgs/{org_id}/calls")]
async fn voice_list_calls(
    scope: OrgScope<perm::ConversationsRead>,
    state: web::Data<AppState>,
    filter: web::Query<CallFilter>,
) -> AppResult<web::Json<Page<Call>>> {
    Ok(web::Json(service::list_calls(&state, scope.into_tenant(), filter.into_inner()).await?))
}

/// A call with its transcript per turn and its recording link.
#[utoipa::path(
    tag = "voice",
    params(("call_id" = i64, Path, description = "Call id")),
    responses((status = 200, body = CallDetail), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["conversations.read"]), ("api_token" = ["conversations.read"]))
)]
#[get("/calls/{call_id}")]
async fn voice_get_call(
    scope: Scoped<CallResource, perm::ConversationsRead>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<CallDetail>> {
    let id = scope.id();
    Ok(web::Json(service::get_call(&state, scope.into_tenant(), id).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct StatsQuery {
    /// Only this voice bot's calls.
    voice_bot_id: Option<i64>,
}

/// Call volume, average handle time, containment and transfers.
#[utoipa::path(
    tag = "voice",
    params(("org_id" = i64, Path, description = "Organization id"), StatsQuery),
    responses((status = 200, body = VoiceStats), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["conversations.read"]), ("api_token" = ["conversations.read"]))
)]
#[get("/orgs/{org_id}/voice/stats")]
async fn voice_stats(
    scope: OrgScope<perm::ConversationsRead>,
    state: web::Data<AppState>,
    q: web::Query<StatsQuery>,
) -> AppResult<web::Json<VoiceStats>> {
    Ok(web::Json(service::stats(&state, scope.into_tenant(), q.voice_bot_id).await?))
}

/// The organization's phone numbers.
#[utoipa::path(
    tag = "voice",
    params(("org_id" = i64, Path, description = "Organization id"), PageParams),
    responses((status = 200, body = Page<PhoneNumber>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["channels.manage"]), ("api_token" = ["channels.manage"]))
)]
#[get("/orgs/{org_id}/phone-numbers")]
async fn voice_list_numbers(
    scope: OrgScope<perm::ChannelsManage>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<PhoneNumber>>> {
    Ok(web::Json(service::list_numbers(&state, scope.into_tenant(), page.into_inner()).await?))
}

/// Reads the account's numbers from the provider (`IncomingPhoneNumbers.json`).
#[utoipa::path(
    tag = "voice",
    params(("org_id" = i64, Path, description = "Organization id")),
    responses((status = 200, body = Vec<PhoneNumber>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "`voice_account_not_configured`"),
              (status = 422, body = ErrorBody, description = "`voice_provider_rejected`"), (status = 502, body = ErrorBody)),
    security(("session" = ["channels.manage"]), ("api_token" = ["channels.manage"]))
)]
#[post("/orgs/{org_id}/phone-numbers/sync")]
async fn voice_sync_numbers(
    scope: OrgScope<perm::ChannelsManage>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<Vec<PhoneNumber>>> {
    Ok(web::Json(service::sync_numbers(&state, scope.into_tenant()).await?))
}

/// Searches numbers the provider offers.
#[utoipa::path(
    tag = "voice",
    params(("org_id" = i64, Path, description = "Organization id"), AvailableQuery),
    responses((status = 200, body = Vec<AvailablePhoneNumber>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)),
    security(("session" = ["channels.manage"]), ("api_token" = ["channels.manage"]))
)]
#[get("/orgs/{org_id}/phone-numbers/available")]
async fn voice_available_numbers(
    scope: OrgScope<perm::ChannelsManage>,
    state: web::Data<AppState>,
    q: web::Query<AvailableQuery>,
) -> AppResult<web::Json<Vec<AvailablePhoneNumber>>> {
    Ok(web::Json(service::available_numbers(&state, scope.into_tenant(), q.into_inner()).await?))
}

/// Buys a number; its voice webhook and status callback point at this server.
#[utoipa::path(
    tag = "voice",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = BuyPhoneNumberRequest,
    responses((status = 201, body = PhoneNumber), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)),
    security(("session" = ["channels.manage"]), ("api_token" = ["channels.manage"]))
)]
#[post("/orgs/{org_id}/phone-numbers")]
async fn voice_buy_number(
    scope: OrgScope<perm::ChannelsManage>,
    state: web::Data<AppState>,
    body: Json<BuyPhoneNumberRequest>,
) -> AppResult<HttpResponse> {
    let bought = service::buy_number(&state, scope.into_tenant(), body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(bought))
}

/// Assigns a number to a voice bot (`null`: to none).
#[utoipa::path(
    tag = "voice",
    params(("phone_number_id" = i64, Path, description = "Phone number id")),
    request_body = AssignPhoneNumberRequest,
    responses((status = 200, body = PhoneNumber), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "`validation_failed` (`voice_bot_id`)")),
    security(("session" = ["channels.manage"]), ("api_token" = ["channels.manage"]))
)]
#[patch("/phone-numbers/{phone_number_id}")]
async fn voice_assign_number(
    scope: Scoped<PhoneNumberResource, perm::ChannelsManage>,
    state: web::Data<AppState>,
    body: Json<AssignPhoneNumberRequest>,
) -> AppResult<web::Json<PhoneNumber>> {
    let id = scope.id();
    let req = body.into_inner()?;
    Ok(web::Json(service::assign_number(&state, scope.into_tenant(), id, req.voice_bot_id).await?))
}

/// Releases a number at the provider (it stays listed as `released`).
#[utoipa::path(
    tag = "voice",
    params(("phone_number_id" = i64, Path, description = "Phone number id")),
    responses((status = 200, body = PhoneNumber), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 502, body = ErrorBody)),
    security(("session" = ["channels.manage"]), ("api_token" = ["channels.manage"]))
)]
#[delete("/phone-numbers/{phone_number_id}")]
async fn voice_release_number(
    scope: Scoped<PhoneNumberResource, perm::ChannelsManage>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<PhoneNumber>> {
    let id = scope.id();
    Ok(web::Json(service::release_number(&state, scope.into_tenant(), id).await?))
}

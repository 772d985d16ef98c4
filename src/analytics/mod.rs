//! Analytics (issue 20): bot and organization dashboards read hourly
//! rollups kept by a job (`rollup`), raw drill-down, and answer feedback
//! (thumbs up/down with a comment) from the widget and the emulator.
//! `docs/analytics.md` describes the metrics.

pub mod levels;
pub mod model;
pub mod rollup;
pub mod service;
pub mod store;

use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::{HttpResponse, delete, get, put, web};
use serde::Deserialize;
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::{
    AnalyticsOverview, AnalyticsRawEvent, EventsQuery, MessageFeedback, MessageFeedbackQuery, MessageFeedbackRequest,
    OverviewQuery,
};
use crate::app::AppState;
use crate::conversations::model::ConversationResource;
use crate::error::{AppError, AppResult, ErrorBody, ErrorCode};
use crate::http::{BotScope, Json, OrgScope, Page, PageParams, Scoped, Tenant};
use crate::permissions::perm;

type ConvScope<P> = Scoped<ConversationResource, P>;

/// A fact of a turn that the transcript does not keep (see the migration).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// `session`, `handoff`, `fallback`, `csat` or `intent`.
    pub kind: &'static str,
    pub value: Option<f64>,
    pub label: Option<String>,
}

impl Event {
    #[must_use]
    pub fn new(kind: &'static str) -> Event {
        Event { kind, value: None, label: None }
    }
}

/// Registers the analytics and feedback routes (the widget's vote route is
/// registered by the widget, under its CORS scope: [`widget_rate`]).
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(org_overview)
        .service(bot_overview)
        .service(org_events)
        .service(bot_events)
        .service(bot_feedback)
        .service(export_feedback)
        .service(conversation_feedback)
        .service(emulator_rate);
}

/// An organization's dashboard: KPIs, series, channels, heatmap, top intents, unanswered questions.
#[utoipa::path(
    tag = "analytics",
    params(("org_id" = i64, Path, description = "Organization id"), OverviewQuery),
    responses(
        (status = 200, body = AnalyticsOverview), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "`date_range_invalid`, `date_range_too_long`, `timezone_unknown`, `invalid_reference` (bot_id), `validation_failed` (channel, granularity, dates)"),
    ),
    security(("session" = ["analytics.read"]), ("api_token" = ["analytics.read"]))
)]
#[get("/orgs/{org_id}/analytics/overview")]
async fn org_overview(
    scope: OrgScope<perm::AnalyticsRead>,
    state: web::Data<AppState>,
    query: web::Query<OverviewQuery>,
) -> AppResult<web::Json<AnalyticsOverview>> {
    Ok(web::Json(service::overview(&state, scope.into_tenant(), None, query.into_inner()).await?))
}

/// A bot's dashboard (the organization's, for one bot).
#[utoipa::path(
    tag = "analytics",
    params(("bot_id" = i64, Path, description = "Bot id"), OverviewQuery),
    responses(
        (status = 200, body = AnalyticsOverview), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "`bot_not_found`"),
        (status = 422, body = ErrorBody, description = "`date_range_invalid`, `date_range_too_long`, `timezone_unknown`, `validation_failed`"),
    ),
    security(("session" = ["analytics.read"]), ("api_token" = ["analytics.read"]))
)]
#[get("/bots/{bot_id}/analytics/overview")]
async fn bot_overview(
    scope: BotScope<perm::AnalyticsRead>,
    state: web::Data<AppState>,
    query: web::Query<OverviewQuery>,
) -> AppResult<web::Json<AnalyticsOverview>> {
    let bot = scope.id();
    let mut q = query.into_inner();
    q.bot_id = None;
    Ok(web::Json(service::overview(&state, scope.into_tenant(), Some(bot), q).await?))
}

/// The raw events behind an organization's numbers (drill-down), newest first.
#[utoipa::path(
    tag = "analytics",
    params(("org_id" = i64, Path, description = "Organization id"), EventsQuery, PageParams),
    responses(
        (status = 200, body = Page<AnalyticsRawEvent>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "`date_range_invalid`, `date_range_too_long`, `timezone_unknown`, `invalid_reference` (bot_id), `validation_failed` (kind, channel, csat_max, weekday, hour, text, dates)"),
    ),
    security(("session" = ["analytics.read"]), ("api_token" = ["analytics.read"]))
)]
#[get("/orgs/{org_id}/analytics/events")]
async fn org_events(
    scope: OrgScope<perm::AnalyticsRead>,
    state: web::Data<AppState>,
    query: web::Query<EventsQuery>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<AnalyticsRawEvent>>> {
    Ok(web::Json(service::events(&state, scope.into_tenant(), None, query.into_inner(), page.into_inner()).await?))
}

/// The raw events behind a bot's numbers (drill-down), newest first.
#[utoipa::path(
    tag = "analytics",
    params(("bot_id" = i64, Path, description = "Bot id"), EventsQuery, PageParams),
    responses(
        (status = 200, body = Page<AnalyticsRawEvent>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "`date_range_invalid`, `date_range_too_long`, `timezone_unknown`, `validation_failed` (kind, channel, csat_max, weekday, hour, text, dates)"),
    ),
    security(("session" = ["analytics.read"]), ("api_token" = ["analytics.read"]))
)]
#[get("/bots/{bot_id}/analytics/events")]
async fn bot_events(
    scope: BotScope<perm::AnalyticsRead>,
    state: web::Data<AppState>,
    query: web::Query<EventsQuery>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<AnalyticsRawEvent>>> {
    let bot = scope.id();
    Ok(web::Json(service::events(&state, scope.into_tenant(), Some(bot), query.into_inner(), page.into_inner()).await?))
}

/// The votes on a bot's answers, newest first.
#[utoipa::path(
    tag = "analytics",
    params(("bot_id" = i64, Path, description = "Bot id"), MessageFeedbackQuery, PageParams),
    responses((status = 200, body = Page<MessageFeedback>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["conversations.read"]), ("api_token" = ["conversations.read"]))
)]
#[get("/bots/{bot_id}/feedback")]
async fn bot_feedback(
    scope: BotScope<perm::ConversationsRead>,
    state: web::Data<AppState>,
    query: web::Query<MessageFeedbackQuery>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<MessageFeedback>>> {
    let bot = scope.id();
    Ok(web::Json(
        service::feedback_page(&state, scope.into_tenant(), bot, query.into_inner(), page.into_inner()).await?,
    ))
}

/// The votes on a bot's answers as CSV, newest first.
#[utoipa::path(
    tag = "analytics",
    params(("bot_id" = i64, Path, description = "Bot id"), MessageFeedbackQuery),
    responses(
        (status = 200, content_type = "text/csv", body = String, description = "One row per vote"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("session" = ["conversations.read"]), ("api_token" = ["conversations.read"]))
)]
#[get("/bots/{bot_id}/feedback/export")]
async fn export_feedback(
    scope: BotScope<perm::ConversationsRead>,
    state: web::Data<AppState>,
    query: web::Query<MessageFeedbackQuery>,
) -> AppResult<HttpResponse> {
    let bot = scope.id();
    let csv = service::feedback_csv(&state, scope.into_tenant(), bot, query.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((CONTENT_DISPOSITION, format!("attachment; filename=\"feedback-bot-{bot}.csv\"")))
        .body(csv))
}

/// The votes on a conversation's answers (shown in the transcript).
#[utoipa::path(
    tag = "analytics",
    params(("conversation_id" = i64, Path, description = "Conversation id")),
    responses((status = 200, body = Vec<MessageFeedback>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["conversations.read"]), ("api_token" = ["conversations.read"]))
)]
#[get("/conversations/{conversation_id}/feedback")]
async fn conversation_feedback(
    scope: ConvScope<perm::ConversationsRead>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<Vec<MessageFeedback>>> {
    let id = scope.id();
    Ok(web::Json(service::of_conversation(&state, scope.into_tenant(), id.0).await?))
}

#[derive(Debug, Deserialize)]
struct ConvMessagePath {
    #[allow(dead_code, reason = "checked by the scope extractor")]
    conversation_id: i64,
    message_id: i64,
}

/// Rates a bot answer in the emulator (thumbs up/down, optional comment; a new vote replaces the old).
#[utoipa::path(
    tag = "analytics",
    params(("conversation_id" = i64, Path, description = "Emulator conversation id"), ("message_id" = i64, Path, description = "The bot's message")),
    request_body = MessageFeedbackRequest,
    responses(
        (status = 200, body = MessageFeedback), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "`conversation_not_found`, `message_not_found`"),
        (status = 422, body = ErrorBody, description = "`validation_failed`: rating, comment, message_id (not a bot answer), conversation_id (not an emulator conversation)"),
    ),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[put("/conversations/{conversation_id}/messages/{message_id}/feedback")]
async fn emulator_rate(
    scope: ConvScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    path: web::Path<ConvMessagePath>,
    body: Json<MessageFeedbackRequest>,
) -> AppResult<web::Json<MessageFeedback>> {
    let id = scope.id();
    let req = body.into_inner()?;
    Ok(web::Json(service::rate(&state, scope.into_tenant(), id.0, path.message_id, "emulator", req).await?))
}

#[derive(Debug, Deserialize)]
pub struct WidgetMessagePath {
    widget_key: String,
    session_id: String,
    message_id: i64,
}

async fn widget_conversation(state: &AppState, p: &WidgetMessagePath) -> AppResult<(Tenant, i64)> {
    let (bot, tenant) = crate::widget::session_bot(state, &p.widget_key, &p.session_id).await?;
    let (t, session) = (tenant.clone(), p.session_id.clone());
    let conv = state
        .db
        .read(move |c| Ok(crate::conversations::store::find_by_key(c, &t, bot, crate::widget::CHANNEL, &session)?))
        .await?
        .ok_or_else(|| AppError::new(ErrorCode::WidgetSessionNotFound, "no such widget session"))?;
    Ok((tenant, conv.id.0))
}

/// The end user rates a bot answer (thumbs up/down, optional comment; a new vote replaces the old).
#[utoipa::path(
    tag = "widget",
    params(("widget_key" = String, Path, description = "The bot's public widget key"), ("session_id" = String, Path, description = "Widget session id"),
           ("message_id" = i64, Path, description = "The bot's message")),
    request_body = MessageFeedbackRequest,
    responses(
        (status = 200, body = MessageFeedback), (status = 403, body = ErrorBody, description = "`origin_not_allowed`"),
        (status = 404, body = ErrorBody, description = "`widget_not_found`, `widget_session_not_found`, `message_not_found`"),
        (status = 422, body = ErrorBody, description = "`validation_failed`: rating, comment, message_id (not a bot answer)"),
    ),
)]
#[put("/{widget_key}/sessions/{session_id}/messages/{message_id}/feedback")]
pub async fn widget_rate(
    state: web::Data<AppState>,
    path: web::Path<WidgetMessagePath>,
    body: Json<MessageFeedbackRequest>,
) -> AppResult<web::Json<MessageFeedback>> {
    let p = path.into_inner();
    let req = body.into_inner()?;
    let (tenant, conversation) = widget_conversation(&state, &p).await?;
    Ok(web::Json(service::rate(&state, tenant, conversation, p.message_id, "widget", req).await?))
}

/// The end user takes back a vote.
#[utoipa::path(
    tag = "widget",
    params(("widget_key" = String, Path, description = "The bot's public widget key"), ("session_id" = String, Path, description = "Widget session id"),
           ("message_id" = i64, Path, description = "The bot's message")),
    responses(
        (status = 204, description = "Removed (or there was none)"), (status = 403, body = ErrorBody, description = "`origin_not_allowed`"),
        (status = 404, body = ErrorBody, description = "`widget_not_found`, `widget_session_not_found`, `message_not_found`"),
    ),
)]
#[delete("/{widget_key}/sessions/{session_id}/messages/{message_id}/feedback")]
pub async fn widget_unrate(state: web::Data<AppState>, path: web::Path<WidgetMessagePath>) -> AppResult<HttpResponse> {
    let p = path.into_inner();
    let (tenant, conversation) = widget_conversation(&state, &p).await?;
    service::unrate(&state, tenant, conversation, p.message_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

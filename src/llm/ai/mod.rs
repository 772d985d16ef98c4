//! The bot AI routes (issue 19): model settings per bot
//! (`ai_configurations`: provider, model, temperature, max tokens, system
//! prompt, fallback provider, monthly token and cost budgets), a test round
//! trip, chat (plain and SSE, with tool calling passed through) and usage
//! per day and model. Reading needs `bots.read`; changing settings and
//! calling the model (which costs money) need `bots.write`.

pub mod model;
pub mod service;
pub mod store;

use actix_web::{HttpResponse, get, post, put, web};
use futures_util::StreamExt;
use serde_json::json;
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::{
    AiChatEvent, AiChatRequest, AiChatResponse, AiConfig, AiTestResult, AiUsageQuery, AiUsageReport, PutAiConfigRequest,
};
use crate::app::AppState;
use crate::error::{AppResult, ErrorBody};
use crate::http::Json;
use crate::http::scope::BotScope;
use crate::http::sse::{SseEvent, sse_response};
use crate::permissions::perm;

/// Registers the routes.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(get_ai_config)
        .service(put_ai_config)
        .service(test_ai)
        .service(chat_ai)
        .service(chat_ai_stream)
        .service(ai_usage);
}

/// Shows the bot's AI settings and this month's use.
#[utoipa::path(
    tag = "ai",
    params(("bot_id" = i64, Path, description = "Bot id")),
    responses((status = 200, body = AiConfig), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/bots/{bot_id}/ai/config")]
async fn get_ai_config(scope: BotScope<perm::BotsRead>, state: web::Data<AppState>) -> AppResult<web::Json<AiConfig>> {
    Ok(web::Json(service::get_config(&state, scope.tenant(), scope.id()).await?))
}

/// Saves the bot's AI settings (provider, model, temperature, max tokens, system prompt, budgets).
#[utoipa::path(
    tag = "ai",
    params(("bot_id" = i64, Path, description = "Bot id")),
    request_body = PutAiConfigRequest,
    responses((status = 200, body = AiConfig), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "`validation_failed`; `details.field` names the field")),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[put("/bots/{bot_id}/ai/config")]
async fn put_ai_config(
    scope: BotScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    body: Json<PutAiConfigRequest>,
) -> AppResult<web::Json<AiConfig>> {
    Ok(web::Json(service::put_config(&state, scope.tenant(), scope.id(), body.into_inner()?).await?))
}

/// Sends one short prompt with the bot's settings and reports the answer, latency and cost.
#[utoipa::path(
    tag = "ai",
    params(("bot_id" = i64, Path, description = "Bot id")),
    responses((status = 200, body = AiTestResult), (status = 402, body = ErrorBody, description = "`llm_budget_exhausted`"),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`llm_not_configured`"),
              (status = 502, body = ErrorBody, description = "`llm_failed` after retries and fallback")),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[post("/bots/{bot_id}/ai/test")]
async fn test_ai(scope: BotScope<perm::BotsWrite>, state: web::Data<AppState>) -> AppResult<web::Json<AiTestResult>> {
    Ok(web::Json(service::test(&state, scope.tenant(), scope.id()).await?))
}

/// Chat completion with the bot's settings; `tools` are passed to the model and its `tool_calls` returned.
#[utoipa::path(
    tag = "ai",
    params(("bot_id" = i64, Path, description = "Bot id")),
    request_body = AiChatRequest,
    responses((status = 200, body = AiChatResponse), (status = 402, body = ErrorBody, description = "`llm_budget_exhausted`"),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`llm_not_configured`"), (status = 422, body = ErrorBody),
              (status = 502, body = ErrorBody, description = "`llm_failed` after retries and fallback")),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[post("/bots/{bot_id}/ai/chat")]
async fn chat_ai(
    scope: BotScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    body: Json<AiChatRequest>,
) -> AppResult<web::Json<AiChatResponse>> {
    Ok(web::Json(service::chat(&state, scope.tenant(), scope.id(), body.into_inner()?).await?))
}

/// Streams a chat completion as server-sent events.
///
/// Events: `delta` `{text}`, `tool_call` `{index, id?, name?, arguments}` (pieces of a
/// call, joined by index), then `done` `{message, finish_reason}` or `error` `{message}`,
/// and last `usage` (tokens, cost, latency, provider). Closing the connection stops
/// the request to the provider; what was used is still counted.
#[utoipa::path(
    tag = "ai",
    params(("bot_id" = i64, Path, description = "Bot id")),
    request_body = AiChatRequest,
    responses((status = 200, description = "`text/event-stream`: `delta`, `tool_call`, `done` or `error`, `usage`"),
              (status = 402, body = ErrorBody, description = "`llm_budget_exhausted`"),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`llm_not_configured`"), (status = 422, body = ErrorBody),
              (status = 502, body = ErrorBody, description = "`llm_failed` before the first event")),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[post("/bots/{bot_id}/ai/chat/stream")]
async fn chat_ai_stream(
    scope: BotScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    body: Json<AiChatRequest>,
) -> AppResult<HttpResponse> {
    let events =
        service::stream(&state, scope.tenant(), scope.id(), service::Purpose::Chat, body.into_inner()?).await?;
    Ok(sse_response(events.map(|e| match e {
        AiChatEvent::Text(t) => SseEvent::json("delta", &json!({ "text": t })),
        AiChatEvent::ToolCall(c) => SseEvent::json("tool_call", &json!(c)),
        AiChatEvent::Done { message, finish_reason } => {
            SseEvent::json("done", &json!({ "message": message, "finish_reason": finish_reason }))
        }
        AiChatEvent::Usage(u) => SseEvent::json("usage", &json!(u)),
        AiChatEvent::Error(m) => SseEvent::json("error", &json!({ "code": "llm_failed", "message": m })),
    })))
}

/// The bot's model use per day and model (tokens, calls, cost in micro-units).
#[utoipa::path(
    tag = "ai",
    params(("bot_id" = i64, Path, description = "Bot id"), AiUsageQuery),
    responses((status = 200, body = AiUsageReport), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/bots/{bot_id}/ai/usage")]
async fn ai_usage(
    scope: BotScope<perm::BotsRead>,
    state: web::Data<AppState>,
    query: web::Query<AiUsageQuery>,
) -> AppResult<web::Json<AiUsageReport>> {
    Ok(web::Json(service::usage(&state, scope.tenant(), scope.id(), query.into_inner()).await?))
}

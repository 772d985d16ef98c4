//! Types of a bot's AI configuration, chat and usage.

use rusqlite::Row;
use serde::{Deserialize, Serialize};

use crate::db::FromRow;
use crate::ids::BotId;
use crate::llm::client::{Message, Tool, ToolCallDelta, ToolChoice, Usage};
use crate::llm::model::LlmProviderId;

/// A bot's model settings (`ai_configurations`), with this month's use.
/// A bot without a stored row has the defaults and `configured: false`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AiConfig {
    pub bot_id: BotId,
    /// Whether settings were saved for this bot.
    pub configured: bool,
    /// The provider; `null` = the organization's default provider.
    pub provider_id: Option<LlmProviderId>,
    /// Called when the provider fails (else the provider's own fallback).
    pub fallback_provider_id: Option<LlmProviderId>,
    /// The model; `null` = the provider's default model.
    pub model: Option<String>,
    pub temperature: f64,
    pub max_tokens: i64,
    pub system_prompt: String,
    /// Tokens the bot may use per calendar month (UTC); `null` = no limit.
    pub monthly_token_budget: Option<i64>,
    /// Cost the bot may incur per calendar month, in micro-units of the
    /// currency (1 USD = 1,000,000); `null` = no limit.
    pub monthly_cost_budget_micros: Option<i64>,
    /// Off: the bot's AI routes answer `llm_not_configured`.
    pub is_enabled: bool,
    /// Tokens used this month (all of the bot's model calls).
    pub month_tokens: i64,
    /// Cost this month in micro-units.
    pub month_cost_micros: i64,
    pub updated_at: Option<String>,
}

/// The stored row.
#[derive(Debug, Clone)]
pub struct AiConfigRow {
    pub provider_id: Option<LlmProviderId>,
    pub fallback_provider_id: Option<LlmProviderId>,
    pub model: Option<String>,
    pub temperature: f64,
    pub max_tokens: i64,
    pub system_prompt: String,
    pub monthly_token_budget: Option<i64>,
    pub monthly_cost_budget_micros: Option<i64>,
    pub is_enabled: bool,
    pub updated_at: Option<String>,
}

impl Default for AiConfigRow {
    fn default() -> Self {
        AiConfigRow {
            provider_id: None,
            fallback_provider_id: None,
            model: None,
            temperature: 0.7,
            max_tokens: 1000,
            system_prompt: "You are a helpful assistant.".to_owned(),
            monthly_token_budget: None,
            monthly_cost_budget_micros: None,
            is_enabled: true,
            updated_at: None,
        }
    }
}

pub const CONFIG_COLUMNS: &str = "provider_id, fallback_provider_id, model, temperature, max_tokens, system_prompt, \
     monthly_token_budget, monthly_cost_budget_micros, is_enabled, updated_at";

impl FromRow for AiConfigRow {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(AiConfigRow {
            provider_id: row.get("provider_id")?,
            fallback_provider_id: row.get("fallback_provider_id")?,
            model: row.get("model")?,
            temperature: row.get("temperature")?,
            max_tokens: row.get("max_tokens")?,
            system_prompt: row.get("system_prompt")?,
            monthly_token_budget: row.get("monthly_token_budget")?,
            monthly_cost_budget_micros: row.get("monthly_cost_budget_micros")?,
            is_enabled: row.get("is_enabled")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

/// `PUT /bots/{bot_id}/ai/config`: the whole configuration (absent fields take their defaults).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutAiConfigRequest {
    /// A provider of the bot's organization; absent = the organization's default.
    pub provider_id: Option<LlmProviderId>,
    pub fallback_provider_id: Option<LlmProviderId>,
    /// 1–200 characters; absent = the provider's default model.
    #[schema(example = "llama3.1")]
    pub model: Option<String>,
    /// 0–2 (default 0.7).
    pub temperature: Option<f64>,
    /// 1–100000 (default 1000).
    pub max_tokens: Option<i64>,
    /// At most 20000 characters (default "You are a helpful assistant.").
    pub system_prompt: Option<String>,
    /// ≥ 0; absent = no limit.
    pub monthly_token_budget: Option<i64>,
    /// ≥ 0 micro-units; absent = no limit.
    pub monthly_cost_budget_micros: Option<i64>,
    pub is_enabled: Option<bool>,
}

/// `POST /bots/{bot_id}/ai/chat` (and `/chat/stream`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AiChatRequest {
    /// The conversation so far (1–200 messages); the bot's system prompt is
    /// put first unless the first message is a `system` message.
    pub messages: Vec<Message>,
    /// Tools the model may call, passed through as they are.
    #[serde(default)]
    pub tools: Vec<Tool>,
    pub tool_choice: Option<ToolChoice>,
}

/// What a call cost and who answered.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LlmCallUsage {
    pub provider_id: LlmProviderId,
    pub model: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    /// Micro-units of the currency (1 USD = 1,000,000).
    pub cost_micros: u64,
    pub latency_ms: u64,
    /// Requests made, over all providers (1 + retries + fallbacks).
    pub attempts: u32,
    /// Whether a fallback provider answered.
    pub fell_back: bool,
}

/// The answer of `POST /bots/{bot_id}/ai/chat`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AiChatResponse {
    /// The assistant message (with `tool_calls` when the model called tools).
    pub message: Message,
    pub finish_reason: Option<String>,
    pub usage: LlmCallUsage,
}

/// The answer of `POST /bots/{bot_id}/ai/test`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AiTestResult {
    pub ok: bool,
    pub reply: String,
    pub usage: LlmCallUsage,
}

/// An event of `POST /bots/{bot_id}/ai/chat/stream`.
#[derive(Debug, Clone)]
pub enum AiChatEvent {
    /// `delta`: a piece of text.
    Text(String),
    /// `tool_call`: a piece of a tool call.
    ToolCall(ToolCallDelta),
    /// `done`: the whole assistant message.
    Done { message: Message, finish_reason: Option<String> },
    /// `usage`: the last event of a stream that worked.
    Usage(LlmCallUsage),
    /// `error`: the provider failed mid-stream (`code`, `message`).
    Error(String),
}

/// `GET /bots/{bot_id}/ai/usage` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AiUsageQuery {
    /// First day (YYYY-MM-DD, UTC); default: the first of this month.
    pub from: Option<String>,
    /// Last day, included; default: today.
    pub to: Option<String>,
}

/// One day and model.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AiUsageRow {
    pub day: String,
    pub model: String,
    pub calls: i64,
    pub failed_calls: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub cost_micros: i64,
}

/// The bot's model use between two days.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AiUsageReport {
    pub from: String,
    pub to: String,
    /// Per day and model, days ascending.
    pub rows: Vec<AiUsageRow>,
    pub total_tokens: i64,
    pub cost_micros: i64,
    /// Micro-units: 1 unit of the currency is 1,000,000.
    pub currency_unit: String,
}

/// A model call to record.
#[derive(Debug, Clone)]
pub struct CallRecord {
    pub provider_id: Option<LlmProviderId>,
    pub model: String,
    pub purpose: &'static str,
    pub ok: bool,
    pub usage: Usage,
    pub cost_micros: u64,
    pub latency_ms: u64,
    pub attempts: u32,
    pub fell_back: bool,
    pub error_code: Option<&'static str>,
}

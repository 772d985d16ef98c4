//! LLM provider types.

use rusqlite::Row;
use serde::{Deserialize, Serialize};

use crate::db::FromRow;
use crate::ids::OrgId;

crate::id_type!(
    /// A row of `llm_providers`.
    LlmProviderId
);

/// An OpenAI-compatible chat-completions endpoint of an organization. The API
/// key is stored encrypted and never returned.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LlmProvider {
    pub id: LlmProviderId,
    pub organization_id: OrgId,
    pub name: String,
    /// `openai_compatible` (Ollama, llama.cpp server, vLLM, `OpenAI`, proxies) or
    /// `anthropic` (Anthropic's Messages API).
    pub kind: String,
    /// Base URL up to the API version, e.g. `http://localhost:11434/v1`; requests go to
    /// `{base_url}/chat/completions` (`anthropic`: `{base_url}/messages`, e.g. `https://api.anthropic.com/v1`).
    pub base_url: String,
    pub default_model: String,
    /// Whether an API key is stored (the key itself is never shown).
    pub has_api_key: bool,
    pub timeout_ms: i64,
    pub max_retries: i64,
    /// The organization's provider when none is named.
    pub is_default: bool,
    pub is_active: bool,
    /// Called when this provider fails after its retries (429, 5xx, timeout, unreachable).
    pub fallback_provider_id: Option<LlmProviderId>,
    /// Price per 1M prompt tokens in micro-units of the currency (1 USD = 1,000,000).
    pub input_price_micros: i64,
    /// Price per 1M completion tokens in micro-units of the currency.
    pub output_price_micros: i64,
    pub created_at: String,
    pub updated_at: String,
}

pub const PROVIDER_COLUMNS: &str = "id, organization_id, name, \
     CASE api_format WHEN 'anthropic' THEN 'anthropic' ELSE kind END AS kind, base_url, default_model, \
     coalesce(length(api_key_encrypted), 0) > 0 AS has_api_key, timeout_ms, max_retries, is_default, is_active, \
     fallback_provider_id, input_price_micros, output_price_micros, created_at, updated_at";

impl FromRow for LlmProvider {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(LlmProvider {
            id: row.get("id")?,
            organization_id: row.get("organization_id")?,
            name: row.get("name")?,
            kind: row.get("kind")?,
            base_url: row.get("base_url")?,
            default_model: row.get("default_model")?,
            has_api_key: row.get("has_api_key")?,
            timeout_ms: row.get("timeout_ms")?,
            max_retries: row.get("max_retries")?,
            is_default: row.get("is_default")?,
            is_active: row.get("is_active")?,
            fallback_provider_id: row.get("fallback_provider_id")?,
            input_price_micros: row.get("input_price_micros")?,
            output_price_micros: row.get("output_price_micros")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

/// `POST /orgs/{org_id}/llm-providers`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLlmProviderRequest {
    #[schema(example = "Local Ollama")]
    pub name: String,
    #[schema(example = "http://127.0.0.1:11434/v1")]
    pub base_url: String,
    #[schema(example = "llama3.1")]
    pub default_model: String,
    /// `openai_compatible` (default) or `anthropic` (the Messages API).
    pub kind: Option<String>,
    /// Sent as `Authorization: Bearer …` (`anthropic`: `x-api-key`); stored encrypted.
    pub api_key: Option<String>,
    /// 100–600000 (default 60000).
    pub timeout_ms: Option<i64>,
    /// 0–10 (default 2).
    pub max_retries: Option<i64>,
    pub is_default: Option<bool>,
    pub is_active: Option<bool>,
    /// Another provider of the organization to call when this one fails.
    pub fallback_provider_id: Option<LlmProviderId>,
    /// Price per 1M prompt tokens (micro-units of the currency, ≥ 0; default 0).
    pub input_price_micros: Option<i64>,
    /// Price per 1M completion tokens (micro-units of the currency, ≥ 0; default 0).
    pub output_price_micros: Option<i64>,
}

/// `PATCH /llm-providers/{provider_id}`: absent fields stay; `api_key: null` removes the key.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateLlmProviderRequest {
    pub name: Option<String>,
    /// `openai_compatible` or `anthropic`.
    pub kind: Option<String>,
    pub base_url: Option<String>,
    pub default_model: Option<String>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<String>)]
    pub api_key: Option<Option<String>>,
    pub timeout_ms: Option<i64>,
    pub max_retries: Option<i64>,
    pub is_default: Option<bool>,
    pub is_active: Option<bool>,
    /// `null` removes the fallback.
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<i64>)]
    pub fallback_provider_id: Option<Option<LlmProviderId>>,
    pub input_price_micros: Option<i64>,
    pub output_price_micros: Option<i64>,
}

/// What `POST /llm-providers/{provider_id}/test` found.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProviderTestResult {
    pub ok: bool,
    pub model: String,
    pub latency_ms: f64,
    pub reply: String,
}

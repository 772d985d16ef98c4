//! `webhook`: POSTs the arguments as JSON to a customer URL, signed like the
//! organization webhooks (Standard Webhooks: `webhook-id`,
//! `webhook-timestamp`, `webhook-signature` = `v1,` + base64 HMAC-SHA256 of
//! `{id}.{timestamp}.{body}`). The signing secret is the `secret` of a
//! "custom" integration of the vault (a `whsec_` secret is used as its
//! base64-decoded bytes, anything else as its UTF-8 bytes). `webhook-id` and
//! `Idempotency-Key` carry the run's idempotency key, so a receiver can drop
//! the repeat of a retried run. The answer (JSON or text) is the result.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::future::BoxFuture;
use reqwest::Method;
use serde_json::{Value, json};

use super::http::{DEFAULT_MAX_RESPONSE_BYTES, body_value, check_url_template, excerpt, outbound_error};
use super::{ToolCall, ToolError, ToolType};
use crate::app::AppState;
use crate::error::AppError;
use crate::integrations::model::IntegrationId;

pub struct WebhookTool;

/// The key bytes of a signing secret.
#[must_use]
pub fn secret_bytes(secret: &str) -> Vec<u8> {
    secret.strip_prefix("whsec_").and_then(|b| STANDARD.decode(b).ok()).unwrap_or_else(|| secret.as_bytes().to_vec())
}

impl ToolType for WebhookTool {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn label(&self) -> &'static str {
        "Webhook"
    }

    fn description(&self) -> &'static str {
        "POSTs the arguments as JSON to your URL, HMAC-signed (Standard Webhooks) with a secret from the \
         integrations vault; the answer is the result."
    }

    fn config_schema(&self) -> Value {
        json!({
            "type": "object",
            "required": ["url", "secret_integration_id"],
            "additionalProperties": false,
            "properties": {
                "url": { "type": "string", "minLength": 8, "maxLength": 2048, "title": "URL" },
                "secret_integration_id": {
                    "type": "integer", "minimum": 1,
                    "title": "Signing secret (a custom integration of the vault)"
                }
            }
        })
    }

    fn config_example(&self) -> Value {
        json!({ "url": "https://example.com/hooks/botbuilder-tool", "secret_integration_id": 1 })
    }

    fn input_schema_example(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "order_id": { "type": "string" },
                "reason": { "type": "string", "maxLength": 500 }
            },
            "required": ["order_id"],
            "additionalProperties": false
        })
    }

    fn check_config(&self, state: &AppState, config: &mut Value) -> Result<(), AppError> {
        let url = config["url"].as_str().unwrap_or_default().to_owned();
        if url.contains("{{") {
            return Err(AppError::validation("config.url", "a fixed URL (the arguments go in the body)"));
        }
        check_url_template(state, "config.url", &url)
    }

    fn run<'a>(&'a self, call: ToolCall<'a>) -> BoxFuture<'a, Result<Value, ToolError>> {
        Box::pin(async move {
            let config = &call.tool.config;
            let id = IntegrationId(config["secret_integration_id"].as_i64().unwrap_or_default());
            let secret = crate::integrations::service::access_token(call.state, call.tenant, id)
                .await
                .map_err(|e| ToolError::failed("credentials_unavailable", e.message().to_owned()))?;
            call.redactor.add(&secret);
            let body = call.args.to_string();
            let timestamp = chrono::Utc::now().timestamp();
            let signature =
                crate::webhooks::deliver::signature(&[secret_bytes(&secret)], call.idempotency_key, timestamp, &body);
            let request = call
                .state
                .outbound
                .request(Method::POST, config["url"].as_str().unwrap_or_default())
                .map_err(outbound_error)?
                .timeout(call.remaining())
                .header("content-type", "application/json")
                .header("webhook-id", call.idempotency_key)
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", signature)
                .header("idempotency-key", call.idempotency_key)
                .body(body);
            let limit = usize::try_from(DEFAULT_MAX_RESPONSE_BYTES).unwrap_or(usize::MAX);
            let fetched = call.state.outbound.send_limited(request, Some(limit)).await.map_err(outbound_error)?;
            if !fetched.status.is_success() {
                return Err(ToolError::failed(
                    "http_status",
                    format!("the receiver answered {}: {}", fetched.status, excerpt(&fetched.body)),
                ));
            }
            Ok(json!({ "status": fetched.status.as_u16(), "data": body_value(&fetched.body) }))
        })
    }
}

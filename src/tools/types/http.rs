//! `http`: one HTTP request, templated from the arguments. The URL's
//! placeholders are percent-encoded and may only stand in the path and
//! query (scheme and host are written out, so a model cannot send the
//! tool's credentials elsewhere); a JSON body's placeholders substitute
//! typed values. Credentials come from an integration of the vault and are
//! redacted from everything recorded. Requests go through the outbound
//! policy (SSRF guard: no private, loopback or link-local targets unless the
//! operator allows them, checked again on every redirect), with the tool's
//! time limit and a response size limit. Each run sends an
//! `Idempotency-Key` header. The JSON response can be mapped with JSON paths
//! (`{"temperature": "$.main.temp"}`).

use futures_util::future::BoxFuture;
use reqwest::Method;
use reqwest::header::{HeaderName, HeaderValue};
use serde_json::{Map, Value, json};

use super::{ToolCall, ToolError, ToolType, check_templates, render_json, render_text};
use crate::app::AppState;
use crate::error::{AppError, ErrorCode};
use crate::flows::jsonpath::JsonPath;
use crate::integrations::model::IntegrationId;
use crate::outbound::OutboundError;

/// Default and largest response read.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 1024 * 1024;
pub const MAX_RESPONSE_BYTES: u64 = 10 * 1024 * 1024;
/// Error bodies are quoted up to this many characters.
const EXCERPT_CHARS: usize = 500;

pub struct HttpTool;

/// Headers that carry credentials: set them through `auth` (the vault), never in the config.
const CREDENTIAL_HEADERS: [&str; 4] = ["authorization", "proxy-authorization", "cookie", "x-api-key"];

/// Checks a URL template: scheme and host written out, the policy allows the host.
pub(super) fn check_url_template(state: &AppState, field: &str, url: &str) -> Result<(), AppError> {
    let url = url.trim();
    let invalid = |m: &str| {
        AppError::new(ErrorCode::ToolConfigInvalid, format!("`{field}`: {m}")).with_details(json!({ "field": field }))
    };
    let Some((_, rest)) = url.split_once("://") else {
        return Err(invalid("an absolute http(s) URL"));
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if rest[..authority_end].contains("{{") || url[..url.len() - rest.len()].contains("{{") {
        return Err(invalid("write out the scheme and host: placeholders may stand in the path and query only"));
    }
    check_templates(&Value::String(url.to_owned()), field)?;
    let sample = url.replace("{{", "").replace("}}", "");
    state.outbound.check(&sample).map_err(|e| match e {
        OutboundError::Forbidden(_) | OutboundError::Scheme => {
            AppError::new(ErrorCode::UrlNotAllowed, e.to_string()).with_details(json!({ "field": field }))
        }
        _ => invalid(&e.to_string()),
    })?;
    Ok(())
}

/// Maps an outbound failure to a run error.
pub(super) fn outbound_error(e: OutboundError) -> ToolError {
    match e {
        OutboundError::Timeout => ToolError::Timeout("the request timed out".into()),
        OutboundError::Forbidden(_) | OutboundError::Scheme => ToolError::failed("url_not_allowed", e.to_string()),
        OutboundError::TooLarge(_) => ToolError::failed("response_too_large", e.to_string()),
        OutboundError::InvalidUrl(_) | OutboundError::Failed(_) => ToolError::failed("request_failed", e.to_string()),
    }
}

/// The body as JSON when it parses, else as text.
pub(super) fn body_value(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// The first characters of a body, for error messages.
pub(super) fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(body).chars().take(EXCERPT_CHARS).collect()
}

impl ToolType for HttpTool {
    fn name(&self) -> &'static str {
        "http"
    }

    fn label(&self) -> &'static str {
        "HTTP request"
    }

    fn description(&self) -> &'static str {
        "Calls an HTTP API: URL, headers and JSON body templated from the arguments, credentials from the \
         integrations vault, the response mapped with JSON paths."
    }

    fn config_schema(&self) -> Value {
        json!({
            "type": "object",
            "required": ["url"],
            "additionalProperties": false,
            "properties": {
                "method": { "enum": ["GET", "POST", "PUT", "PATCH", "DELETE"], "default": "GET", "title": "Method" },
                "url": { "type": "string", "minLength": 8, "maxLength": 2048, "title": "URL ({{argument}} in path and query)" },
                "headers": {
                    "type": "object", "title": "Headers",
                    "additionalProperties": { "type": "string", "maxLength": 2048 }, "maxProperties": 30
                },
                "body": { "title": "JSON body (templates over the arguments; default: the arguments)" },
                "auth": {
                    "type": "object", "title": "Credentials from the vault",
                    "required": ["integration_id"], "additionalProperties": false,
                    "properties": {
                        "integration_id": { "type": "integer", "minimum": 1, "title": "Integration" },
                        "header": { "type": "string", "default": "Authorization", "title": "Header" },
                        "prefix": { "type": "string", "default": "Bearer ", "title": "Value prefix" }
                    }
                },
                "response_mapping": {
                    "type": "object", "title": "Result fields from JSON paths ($.data.items[0].name)",
                    "additionalProperties": { "type": "string" }, "maxProperties": 50
                },
                "max_response_bytes": { "type": "integer", "minimum": 1, "maximum": MAX_RESPONSE_BYTES, "title": "Largest response (bytes)" }
            }
        })
    }

    fn config_example(&self) -> Value {
        json!({
            "method": "GET",
            "url": "https://api.example.com/weather?city={{city}}",
            "headers": { "Accept": "application/json" },
            "response_mapping": { "temperature": "$.current.temp", "summary": "$.current.summary" }
        })
    }

    fn input_schema_example(&self) -> Value {
        json!({
            "type": "object",
            "properties": { "city": { "type": "string", "description": "City name" } },
            "required": ["city"],
            "additionalProperties": false
        })
    }

    fn check_config(&self, state: &AppState, config: &mut Value) -> Result<(), AppError> {
        let url = config["url"].as_str().unwrap_or_default().to_owned();
        check_url_template(state, "config.url", &url)?;
        if let Some(headers) = config.get("headers").and_then(Value::as_object) {
            for (name, value) in headers {
                let field = format!("config.headers.{name}");
                if HeaderName::from_bytes(name.as_bytes()).is_err() {
                    return Err(AppError::validation(&field, "not a valid header name"));
                }
                if CREDENTIAL_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                    return Err(AppError::validation(
                        &field,
                        "credentials come from the vault: set `auth.integration_id` instead",
                    ));
                }
                check_templates(value, &field)?;
            }
        }
        if let Some(body) = config.get("body") {
            check_templates(body, "config.body")?;
        }
        if let Some(header) = config.pointer("/auth/header").and_then(Value::as_str)
            && HeaderName::from_bytes(header.as_bytes()).is_err()
        {
            return Err(AppError::validation("config.auth.header", "not a valid header name"));
        }
        if let Some(mapping) = config.get("response_mapping").and_then(Value::as_object) {
            for (key, path) in mapping {
                JsonPath::parse(path.as_str().unwrap_or_default())
                    .map_err(|e| AppError::validation(format!("config.response_mapping.{key}"), e))?;
            }
        }
        Ok(())
    }

    fn run<'a>(&'a self, call: ToolCall<'a>) -> BoxFuture<'a, Result<Value, ToolError>> {
        Box::pin(run(call))
    }
}

async fn run(call: ToolCall<'_>) -> Result<Value, ToolError> {
    let config = &call.tool.config;
    let args: Map<String, Value> = call.args_map();
    let method = match config["method"].as_str().unwrap_or("GET") {
        "POST" => Method::POST,
        "PUT" => Method::PUT,
        "PATCH" => Method::PATCH,
        "DELETE" => Method::DELETE,
        _ => Method::GET,
    };
    let url = render_text(config["url"].as_str().unwrap_or_default(), &args, true)?;
    let mut request = call.state.outbound.request(method.clone(), &url).map_err(outbound_error)?;
    request = request.timeout(call.remaining()).header("idempotency-key", call.idempotency_key);
    if let Some(headers) = config.get("headers").and_then(Value::as_object) {
        for (name, template) in headers {
            let value = render_text(template.as_str().unwrap_or_default(), &args, false)?;
            let value = HeaderValue::from_str(&value)
                .map_err(|_| ToolError::failed("template_failed", format!("header `{name}` is not a valid value")))?;
            request = request.header(name.as_str(), value);
        }
    }
    if let Some(auth) = config.get("auth") {
        let id = IntegrationId(auth["integration_id"].as_i64().unwrap_or_default());
        let token = crate::integrations::service::access_token(call.state, call.tenant, id)
            .await
            .map_err(|e| ToolError::failed("credentials_unavailable", e.message().to_owned()))?;
        call.redactor.add(&token);
        let header = auth["header"].as_str().unwrap_or("Authorization");
        let value = format!("{}{token}", auth["prefix"].as_str().unwrap_or("Bearer "));
        let mut value = HeaderValue::from_str(&value)
            .map_err(|_| ToolError::failed("credentials_unavailable", "the stored credential is not a header value"))?;
        value.set_sensitive(true);
        request = request.header(header, value);
    }
    if method != Method::GET && method != Method::DELETE {
        let body = match config.get("body") {
            Some(template) => render_json(template, &args)?,
            None => Value::Object(args.clone()),
        };
        request = request.json(&body);
    }
    let limit = config["max_response_bytes"].as_u64().unwrap_or(DEFAULT_MAX_RESPONSE_BYTES).min(MAX_RESPONSE_BYTES);
    let fetched = call
        .state
        .outbound
        .send_limited(request, Some(usize::try_from(limit).unwrap_or(usize::MAX)))
        .await
        .map_err(outbound_error)?;
    let status = fetched.status.as_u16();
    if !fetched.status.is_success() {
        return Err(ToolError::failed(
            "http_status",
            format!("the API answered {}: {}", fetched.status, excerpt(&fetched.body)),
        ));
    }
    let body = body_value(&fetched.body);
    let data = match config.get("response_mapping").and_then(Value::as_object) {
        Some(mapping) if !mapping.is_empty() => {
            let mut out = Map::new();
            for (key, path) in mapping {
                let path = JsonPath::parse(path.as_str().unwrap_or_default())
                    .map_err(|e| ToolError::failed("tool_misconfigured", e))?;
                out.insert(key.clone(), path.select(&body));
            }
            Value::Object(out)
        }
        _ => body,
    };
    Ok(json!({ "status": status, "data": data }))
}

//! "Test request" of the flow builder's HTTP node: sends the node's request
//! once, with sample variable values substituted the way the runtime does
//! (URL values percent-encoded, header line breaks removed, JSON body leaves
//! typed), through the guarded outbound client, and shows what came back
//! and what the response mappings would store.

use std::collections::BTreeMap;
use std::time::Instant;

use actix_web::{post, web};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa_actix_web::service_config::ServiceConfig;

use super::document::{HttpMethod, MappingDoc};
use super::jsonpath::JsonPath;
use super::template::Template;
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorBody, ErrorCode};
use crate::http::{BotScope, Json};
use crate::outbound::OutboundError;
use crate::permissions::perm;

/// Largest response read (as for HTTP nodes at run time).
const MAX_RESPONSE: usize = 1024 * 1024;
/// Characters of the body sent back to the editor.
const BODY_PREVIEW_CHARS: usize = 4000;

/// Registers the route.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(test_request);
}

/// `POST /bots/{bot_id}/flows/test-request`: an HTTP node's settings and
/// sample values of the variables its templates use.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestRequest {
    /// `GET` (default), `POST`, `PUT`, `PATCH` or `DELETE`.
    #[serde(default)]
    #[schema(value_type = String, example = "GET")]
    pub method: HttpMethod,
    /// URL template, e.g. `https://api.example.com/orders/{{order_id}}`.
    pub url: String,
    /// Header templates by name.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A JSON body whose string leaves are templates.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub body: Option<Value>,
    /// 100–30000 (default 5000).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Response mappings to try (JSON path → variable).
    #[serde(default)]
    pub mappings: Vec<TestMapping>,
    /// Values of the variables the templates use.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub sample: Map<String, Value>,
}

/// A response mapping of the node.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestMapping {
    pub variable: String,
    pub path: String,
}

impl From<TestMapping> for MappingDoc {
    fn from(m: TestMapping) -> Self {
        MappingDoc { variable: m.variable, path: m.path }
    }
}

/// A response header.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TestHeader {
    pub name: String,
    pub value: String,
}

/// What a mapping stores.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MappedValue {
    pub variable: String,
    pub path: String,
    /// `null` when the path selects nothing.
    #[schema(value_type = Object)]
    pub value: Value,
}

/// What the request returned.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TestResponse {
    /// The URL as sent (sample values substituted).
    pub url: String,
    pub status: u16,
    /// 2xx: the node would leave by `success` and store the mappings.
    pub success: bool,
    pub headers: Vec<TestHeader>,
    /// The first 4,000 characters of the body.
    pub body: String,
    pub body_truncated: bool,
    /// The body parsed as JSON.
    pub body_is_json: bool,
    /// The values the mappings select (stored only on 2xx at run time).
    pub mapped: Vec<MappedValue>,
    pub duration_ms: f64,
}

/// Sends an HTTP node's request once with sample values (the outbound
/// allow/deny policy applies) and shows the response and mapped values.
#[utoipa::path(
    tag = "flows",
    params(("bot_id" = i64, Path, description = "Bot id")),
    request_body = TestRequest,
    responses(
        (status = 200, body = TestResponse, description = "The response, whatever its status"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "`validation_failed` (`details.field`: `url`, `headers.X`, `body…`, `mappings[i].path`, `timeout_ms`) or `url_not_allowed` (refused by the outbound policy)"),
        (status = 502, body = ErrorBody, description = "`fetch_failed`: unreachable, timed out or larger than 1 MiB"),
    ),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[post("/bots/{bot_id}/flows/test-request")]
async fn test_request(
    _scope: BotScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    body: Json<TestRequest>,
) -> AppResult<web::Json<TestResponse>> {
    let req = body.into_inner()?;
    let prepared = prepare(&state, req)?;
    Ok(web::Json(send(&state, prepared).await?))
}

/// A request ready to send.
struct Prepared {
    method: reqwest::Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Value>,
    timeout: std::time::Duration,
    mappings: Vec<(MappingDoc, JsonPath)>,
}

fn template(field: &str, src: &str) -> AppResult<Template> {
    Template::parse(src).map_err(|e| AppError::validation(field, format!("not a valid template: {e}")))
}

fn prepare(state: &AppState, req: TestRequest) -> AppResult<Prepared> {
    let scope = &req.sample;
    let raw = req.url.trim();
    if raw.is_empty() {
        return Err(AppError::validation("url", "a URL is required"));
    }
    let url = template("url", raw)?
        .render_url(scope)
        .map_err(|e| AppError::validation("url", format!("the URL template failed: {e}")))?;
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(AppError::validation("url", "must be an http:// or https:// URL"));
    }
    state.outbound.check(&url).map_err(|e| outbound_error(&e))?;
    let timeout_ms = req.timeout_ms.unwrap_or(5000);
    if !(100..=30_000).contains(&timeout_ms) {
        return Err(AppError::validation("timeout_ms", "between 100 and 30000"));
    }
    let mut headers = Vec::new();
    for (name, value) in &req.headers {
        let field = format!("headers.{name}");
        let valid = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(AppError::validation(field, "not a valid header name"));
        }
        let rendered = template(&field, value)?
            .render_header(scope)
            .map_err(|e| AppError::validation(field.clone(), format!("the template failed: {e}")))?;
        headers.push((name.clone(), rendered));
    }
    let body = match &req.body {
        Some(b) => Some(render_body("body", b, scope)?),
        None => None,
    };
    let mut mappings = Vec::new();
    for (i, m) in req.mappings.into_iter().enumerate() {
        if m.variable.trim().is_empty() {
            return Err(AppError::validation(format!("mappings[{i}].variable"), "a variable name is required"));
        }
        let path = JsonPath::parse(&m.path).map_err(|e| AppError::validation(format!("mappings[{i}].path"), e))?;
        mappings.push((m.into(), path));
    }
    let method = match req.method {
        HttpMethod::Get => reqwest::Method::GET,
        HttpMethod::Post => reqwest::Method::POST,
        HttpMethod::Put => reqwest::Method::PUT,
        HttpMethod::Patch => reqwest::Method::PATCH,
        HttpMethod::Delete => reqwest::Method::DELETE,
    };
    Ok(Prepared { method, url, headers, body, timeout: std::time::Duration::from_millis(timeout_ms), mappings })
}

/// Renders the string leaves of a JSON body as templates (typed when a leaf
/// is exactly one placeholder), as the runtime does.
fn render_body(field: &str, v: &Value, scope: &Map<String, Value>) -> AppResult<Value> {
    Ok(match v {
        Value::String(s) => template(field, s)?
            .render_value(scope)
            .map_err(|e| AppError::validation(field, format!("the template failed: {e}")))?,
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, x)| render_body(&format!("{field}[{i}]"), x, scope))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| Ok((k.clone(), render_body(&format!("{field}.{k}"), x, scope)?)))
                .collect::<AppResult<_>>()?,
        ),
        other => other.clone(),
    })
}

/// Refusals by the outbound policy keep the code other URL-taking routes use.
fn outbound_error(e: &OutboundError) -> AppError {
    match e {
        OutboundError::InvalidUrl(_) => AppError::validation("url", e.to_string()),
        OutboundError::Scheme | OutboundError::Forbidden(_) => {
            AppError::new(ErrorCode::UrlNotAllowed, e.to_string()).with_details(json!({ "field": "url" }))
        }
        OutboundError::TooLarge(_) | OutboundError::Timeout | OutboundError::Failed(_) => {
            AppError::new(ErrorCode::FetchFailed, e.to_string()).with_details(json!({ "field": "url" }))
        }
    }
}

async fn send(state: &AppState, p: Prepared) -> AppResult<TestResponse> {
    let mut request = state.outbound.request(p.method, &p.url).map_err(|e| outbound_error(&e))?;
    for (name, value) in &p.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    if let Some(body) = &p.body {
        request = request.json(body);
    }
    let started = Instant::now();
    let fetched = state
        .outbound
        .send_limited(request.timeout(p.timeout), Some(MAX_RESPONSE))
        .await
        .map_err(|e| outbound_error(&e))?;
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    let text = String::from_utf8_lossy(&fetched.body).into_owned();
    let parsed: Option<Value> = serde_json::from_slice(&fetched.body).ok();
    let root = parsed.clone().unwrap_or_else(|| Value::String(text.clone()));
    let mapped = p
        .mappings
        .iter()
        .map(|(m, path)| MappedValue { variable: m.variable.clone(), path: m.path.clone(), value: path.select(&root) })
        .collect();
    let body_truncated = text.chars().count() > BODY_PREVIEW_CHARS;
    let body = if body_truncated { text.chars().take(BODY_PREVIEW_CHARS).collect() } else { text };
    let headers = fetched
        .headers
        .iter()
        .map(|(k, v)| TestHeader {
            name: k.as_str().to_owned(),
            value: String::from_utf8_lossy(v.as_bytes()).into_owned(),
        })
        .collect();
    let status = fetched.status.as_u16();
    Ok(TestResponse {
        url: p.url,
        status,
        success: (200..300).contains(&status),
        headers,
        body,
        body_truncated,
        body_is_json: parsed.is_some(),
        mapped,
        duration_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_templates_substitute_typed_values() {
        let mut scope = Map::new();
        scope.insert("id".into(), json!(42));
        scope.insert("name".into(), json!("Ada"));
        let body = json!({ "order": "{{id}}", "greeting": "Hi {{name}}", "list": ["{{name}}", 1] });
        let out = render_body("body", &body, &scope).expect("renders");
        assert_eq!(out, json!({ "order": 42, "greeting": "Hi Ada", "list": ["Ada", 1] }));
        let err = render_body("body", &json!({ "a": ["{{"] }), &scope).expect_err("bad template");
        assert_eq!(err.details().and_then(|d| d["field"].as_str()), Some("body.a[0]"));
    }
}

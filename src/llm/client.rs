//! A client for OpenAI-compatible chat completions (`POST
//! {base_url}/chat/completions`), plain and streamed (`stream: true`:
//! `data: {json}` server-sent events ending with `data: [DONE]`), through
//! the SSRF-guarded outbound client, with tool calling (`tools`,
//! `tool_choice`, `tool_calls`, `role: "tool"` messages), timeouts and
//! retries on 429/5xx that honour `Retry-After`.
//!
//! One provider per call here; [`super::call`] adds the fallback provider.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::app::AppState;
use crate::outbound::OutboundError;

/// A provider ready to call (key decrypted).
#[derive(Clone)]
pub struct ProviderConfig {
    pub base_url: String,
    pub model: String,
    pub api_key: Option<String>,
    /// Total time of a plain call; for streams, the longest wait for the
    /// response and then between two chunks.
    pub timeout: Duration,
    /// Retries after the first attempt (429, 5xx, unreachable, timeout).
    pub max_retries: u32,
    /// The wire format the endpoint speaks.
    pub format: ApiFormat,
}

/// The wire format of a provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ApiFormat {
    /// `POST {base_url}/chat/completions` (`OpenAI` and every compatible server).
    #[default]
    OpenAi,
    /// `POST {base_url}/messages` (Anthropic's Messages API), see [`super::anthropic`].
    Anthropic,
}

impl ApiFormat {
    /// The format of a provider `kind` as the API names it.
    #[must_use]
    pub fn from_kind(kind: &str) -> Option<ApiFormat> {
        match kind {
            "openai_compatible" => Some(ApiFormat::OpenAi),
            "anthropic" => Some(ApiFormat::Anthropic),
            _ => None,
        }
    }

    /// The stored value (`llm_providers.api_format`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ApiFormat::OpenAi => "openai",
            ApiFormat::Anthropic => "anthropic",
        }
    }
}

impl std::fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

/// One chat message in the `OpenAI` wire format. `content` is `null` on an
/// assistant message that only calls tools; a `tool` message answers the call
/// `tool_call_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LlmMessage)]
pub struct Message {
    /// `system`, `user`, `assistant` or `tool`.
    #[schema(example = "user")]
    pub role: String,
    #[serde(default)]
    pub content: Option<String>,
    /// The calls an assistant message made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// On a `tool` message: the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// Optional name of the participant (or of the tool, on a `tool` message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Message {
    /// A plain text message.
    #[must_use]
    pub fn new(role: &str, content: impl Into<String>) -> Message {
        Message {
            role: role.to_owned(),
            content: Some(content.into()),
            tool_calls: Vec::new(),
            tool_call_id: None,
            name: None,
        }
    }

    /// The assistant's turn that called tools (with its text, if any).
    #[must_use]
    pub fn assistant_tool_calls(content: Option<String>, calls: Vec<ToolCall>) -> Message {
        Message { role: "assistant".into(), content, tool_calls: calls, tool_call_id: None, name: None }
    }

    /// The result of the tool call `call_id`.
    #[must_use]
    pub fn tool_result(call_id: impl Into<String>, content: impl Into<String>) -> Message {
        Message {
            role: "tool".into(),
            content: Some(content.into()),
            tool_calls: Vec::new(),
            tool_call_id: Some(call_id.into()),
            name: None,
        }
    }

    /// The text of the message (empty when it has none).
    #[must_use]
    pub fn text(&self) -> &str {
        self.content.as_deref().unwrap_or("")
    }
}

/// A call of a function tool the model made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LlmToolCall)]
pub struct ToolCall {
    pub id: String,
    /// Always `function`.
    #[serde(rename = "type", default = "function_kind")]
    pub kind: String,
    pub function: FunctionCall,
}

fn function_kind() -> String {
    "function".to_owned()
}

/// The function and its arguments (a JSON text, exactly as the model wrote it:
/// it may be malformed; the caller validates it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LlmFunctionCall)]
pub struct FunctionCall {
    pub name: String,
    pub arguments: String,
}

/// A tool the model may call (`{"type": "function", "function": {…}}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LlmTool)]
pub struct Tool {
    /// Always `function`.
    #[serde(rename = "type", default = "function_kind")]
    pub kind: String,
    pub function: FunctionDef,
}

impl Tool {
    /// A function tool.
    #[must_use]
    pub fn function(name: impl Into<String>, description: Option<String>, parameters: Value) -> Tool {
        Tool { kind: function_kind(), function: FunctionDef { name: name.into(), description, parameters } }
    }
}

/// A function tool's name, description and JSON Schema of its arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LlmFunctionDef)]
pub struct FunctionDef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of the arguments.
    #[serde(default = "empty_object_schema")]
    #[schema(value_type = Object)]
    pub parameters: Value,
}

fn empty_object_schema() -> Value {
    json!({ "type": "object", "properties": {} })
}

/// `tool_choice`: `"auto"`, `"none"`, `"required"` or one named function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
#[schema(as = LlmToolChoice)]
pub enum ToolChoice {
    Mode(ToolChoiceMode),
    Function(NamedToolChoice),
}

/// The modes of `tool_choice`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = LlmToolChoiceMode)]
pub enum ToolChoiceMode {
    Auto,
    None,
    Required,
}

/// `{"type": "function", "function": {"name": "…"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LlmNamedToolChoice)]
pub struct NamedToolChoice {
    #[serde(rename = "type", default = "function_kind")]
    pub kind: String,
    pub function: NamedFunction,
}

/// The function `tool_choice` forces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LlmNamedFunction)]
pub struct NamedFunction {
    pub name: String,
}

/// Token counts reported by the provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
}

/// A finished completion.
#[derive(Debug, Clone, Default)]
pub struct Completion {
    /// The text (empty when the model only called tools).
    pub text: String,
    pub tool_calls: Vec<ToolCall>,
    /// `stop`, `length`, `tool_calls`, … as the provider said.
    pub finish_reason: Option<String>,
    pub usage: Option<Usage>,
    pub model: String,
    /// Requests made for it (1 + retries).
    pub attempts: u32,
}

impl Completion {
    /// The assistant message to put back into the conversation.
    #[must_use]
    pub fn message(&self) -> Message {
        let content = (!self.text.is_empty() || self.tool_calls.is_empty()).then(|| self.text.clone());
        Message::assistant_tool_calls(content, self.tool_calls.clone())
    }
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("the LLM endpoint is not allowed: {0}")]
    NotAllowed(String),
    #[error("the LLM endpoint could not be reached: {0}")]
    Unreachable(String),
    #[error("the LLM endpoint did not answer within {0} ms")]
    Timeout(u128),
    #[error("the LLM endpoint answered HTTP {0}: {1}")]
    Status(u16, String),
    #[error("the LLM endpoint answered something that is not a chat completion: {0}")]
    Garbage(String),
}

impl LlmError {
    /// Whether another attempt (or another provider) may succeed.
    #[must_use]
    pub fn retryable(&self) -> bool {
        match self {
            LlmError::Unreachable(_) | LlmError::Timeout(_) => true,
            LlmError::Status(s, _) => *s == 429 || *s >= 500,
            LlmError::NotAllowed(_) | LlmError::Garbage(_) => false,
        }
    }

    /// A short stable name (`llm_calls.error_code`).
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            LlmError::NotAllowed(_) => "not_allowed",
            LlmError::Unreachable(_) => "unreachable",
            LlmError::Timeout(_) => "timeout",
            LlmError::Status(429, _) => "rate_limited",
            LlmError::Status(_, _) => "http_status",
            LlmError::Garbage(_) => "invalid_response",
        }
    }
}

/// Options of one call.
#[derive(Debug, Clone, Default)]
pub struct ChatOptions {
    pub temperature: Option<f32>,
    pub max_tokens: Option<u32>,
    /// Tools the model may call (sent only when not empty).
    pub tools: Vec<Tool>,
    pub tool_choice: Option<ToolChoice>,
    /// Ask for a JSON object (`response_format: {"type": "json_object"}`).
    pub json_object: bool,
}

/// How long to wait between attempts (from `[llm]` in the configuration).
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// First backoff; doubled per attempt, with jitter (50–100 %).
    pub backoff_base: Duration,
    /// The longest wait, whatever `Retry-After` asks for.
    pub max_wait: Duration,
}

impl RetryPolicy {
    fn from_state(state: &AppState) -> RetryPolicy {
        RetryPolicy {
            backoff_base: Duration::from_millis(state.config.llm.backoff_base_ms),
            max_wait: Duration::from_millis(state.config.llm.max_retry_wait_ms),
        }
    }

    /// The wait before retry number `retry` (1-based).
    #[must_use]
    pub fn wait(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let wait = retry_after.unwrap_or_else(|| {
            let full = self.backoff_base.saturating_mul(2_u32.saturating_pow(retry.saturating_sub(1).min(10)));
            full.mul_f64(0.5 + rand::random::<f64>() / 2.0)
        });
        wait.min(self.max_wait)
    }
}

/// Reads `Retry-After`: delay seconds or an HTTP date.
#[must_use]
pub fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let ms = (at.with_timezone(&chrono::Utc) - now).num_milliseconds();
    Some(Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
}

fn endpoint(p: &ProviderConfig) -> String {
    let base = p.base_url.trim_end_matches('/');
    match p.format {
        ApiFormat::OpenAi => format!("{base}/chat/completions"),
        ApiFormat::Anthropic => format!("{base}/messages"),
    }
}

/// The request body.
#[must_use]
pub fn body(p: &ProviderConfig, messages: &[Message], opts: &ChatOptions, stream: bool) -> Value {
    if p.format == ApiFormat::Anthropic {
        return super::anthropic::body(p, messages, opts, stream);
    }
    let mut body = json!({ "model": p.model, "messages": messages, "stream": stream });
    if stream {
        body["stream_options"] = json!({ "include_usage": true });
    }
    if let Some(t) = opts.temperature {
        // Three decimals: an f32 widened to f64 would print 0.699999988….
        body["temperature"] = json!((f64::from(t) * 1000.0).round() / 1000.0);
    }
    if let Some(m) = opts.max_tokens {
        body["max_tokens"] = json!(m);
    }
    if opts.json_object {
        body["response_format"] = json!({ "type": "json_object" });
    }
    if !opts.tools.is_empty() {
        body["tools"] = json!(opts.tools);
        if let Some(choice) = &opts.tool_choice {
            body["tool_choice"] = json!(choice);
        }
    }
    body
}

async fn send(
    state: &AppState,
    p: &ProviderConfig,
    body: &Value,
    stream: bool,
) -> Result<(reqwest::Response, u32), LlmError> {
    let policy = RetryPolicy::from_state(state);
    let mut attempt = 0;
    loop {
        let mut request = state
            .outbound
            .request(Method::POST, &endpoint(p))
            .map_err(|e| LlmError::NotAllowed(e.to_string()))?
            .json(body)
            // Streams are bounded by the idle timeout instead of a total one.
            .timeout(if stream { Duration::from_secs(3600) } else { p.timeout });
        match (p.format, &p.api_key) {
            (ApiFormat::OpenAi, Some(key)) => request = request.bearer_auth(key),
            (ApiFormat::Anthropic, key) => {
                request = request.header("anthropic-version", super::anthropic::VERSION);
                if let Some(key) = key {
                    request = request.header("x-api-key", key);
                }
            }
            (ApiFormat::OpenAi, None) => {}
        }
        if stream {
            request = request.header("Accept", "text/event-stream");
        }
        let mut retry_after = None;
        let result = match tokio::time::timeout(p.timeout, state.outbound.send(request)).await {
            Err(_) | Ok(Err(OutboundError::Timeout)) => Err(LlmError::Timeout(p.timeout.as_millis())),
            Ok(Err(e @ OutboundError::Forbidden(_))) => Err(LlmError::NotAllowed(e.to_string())),
            Ok(Err(e)) => Err(LlmError::Unreachable(e.to_string())),
            Ok(Ok(response)) if response.status().is_success() => Ok(response),
            Ok(Ok(response)) => {
                let status = response.status().as_u16();
                retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
                let text = tokio::time::timeout(p.timeout, response.text()).await.ok().and_then(Result::ok);
                Err(LlmError::Status(status, text.unwrap_or_default().chars().take(300).collect()))
            }
        };
        match result {
            Err(e) if e.retryable() && attempt < p.max_retries => {
                attempt += 1;
                let wait = policy.wait(attempt, retry_after);
                tracing::info!(attempt, wait_ms = wait.as_millis(), error = %e.kind(), "retrying the LLM call");
                tokio::time::sleep(wait).await;
            }
            Err(e) => return Err(e),
            Ok(response) => return Ok((response, attempt + 1)),
        }
    }
}

fn parse_usage(v: &Value) -> Option<Usage> {
    let u = v.get("usage").filter(|u| u.is_object())?;
    let prompt = u.get("prompt_tokens").and_then(Value::as_u64).unwrap_or(0);
    let completion = u.get("completion_tokens").and_then(Value::as_u64).unwrap_or(0);
    let total = u.get("total_tokens").and_then(Value::as_u64).unwrap_or(prompt + completion);
    Some(Usage { prompt_tokens: prompt, completion_tokens: completion, total_tokens: total })
}

/// Reads a non-streamed chat completion body.
fn parse_completion(v: &Value, model: &str, attempts: u32) -> Result<Completion, LlmError> {
    let message = v.pointer("/choices/0/message").ok_or_else(|| LlmError::Garbage("no choices[0].message".into()))?;
    let tool_calls: Vec<ToolCall> = match message.get("tool_calls") {
        None | Some(Value::Null) => Vec::new(),
        Some(calls) => serde_json::from_value::<Vec<LooseToolCall>>(calls.clone())
            .map_err(|e| LlmError::Garbage(format!("tool_calls: {e}")))?
            .into_iter()
            .map(LooseToolCall::into_call)
            .collect(),
    };
    let text = match message.get("content") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) if !tool_calls.is_empty() => String::new(),
        _ => return Err(LlmError::Garbage("no choices[0].message.content".into())),
    };
    Ok(Completion {
        text,
        tool_calls,
        finish_reason: v.pointer("/choices/0/finish_reason").and_then(Value::as_str).map(str::to_owned),
        usage: parse_usage(v),
        model: v.get("model").and_then(Value::as_str).unwrap_or(model).to_owned(),
        attempts,
    })
}

/// A tool call as providers send it (some leave out `type`, or send
/// arguments as an object instead of a JSON text).
#[derive(Deserialize)]
struct LooseToolCall {
    #[serde(default)]
    id: String,
    function: LooseFunction,
}

#[derive(Deserialize)]
struct LooseFunction {
    name: String,
    #[serde(default)]
    arguments: Value,
}

impl LooseToolCall {
    fn into_call(self) -> ToolCall {
        let arguments = match self.function.arguments {
            Value::String(s) => s,
            Value::Null => String::new(),
            other => other.to_string(),
        };
        ToolCall { id: self.id, kind: function_kind(), function: FunctionCall { name: self.function.name, arguments } }
    }
}

async fn read_json(response: reqwest::Response, timeout: Duration) -> Result<Value, LlmError> {
    let bytes = tokio::time::timeout(timeout, response.bytes())
        .await
        .map_err(|_| LlmError::Timeout(timeout.as_millis()))?
        .map_err(|e| LlmError::Unreachable(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| LlmError::Garbage(format!("not JSON ({e})")))
}

/// A non-streamed completion from one provider (with its retries).
pub async fn complete(
    state: &AppState,
    p: &ProviderConfig,
    messages: &[Message],
    opts: &ChatOptions,
) -> Result<Completion, LlmError> {
    let started = tokio::time::Instant::now();
    let (response, attempts) = send(state, p, &body(p, messages, opts, false), false).await?;
    // The total timeout covers the body too (retry waits excluded).
    let left = p.timeout.saturating_sub(started.elapsed()).max(Duration::from_millis(1));
    let v = read_json(response, left.max(p.timeout / 4)).await?;
    match p.format {
        ApiFormat::OpenAi => parse_completion(&v, &p.model, attempts),
        ApiFormat::Anthropic => super::anthropic::parse_message(&v, &p.model, attempts),
    }
}

/// A piece of a tool call in a stream: the first piece of a call carries
/// its id and name, later ones more of its arguments (same `index`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = LlmToolCallDelta)]
pub struct ToolCallDelta {
    pub index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub arguments: String,
}

/// What a stream yields.
#[derive(Debug, Clone)]
pub enum Delta {
    Token(String),
    ToolCall(ToolCallDelta),
    /// Why the model stopped (`stop`, `tool_calls`, `length`, …).
    Finish(String),
    Usage(Usage),
}

/// Folds stream deltas into the completion they add up to (tool call
/// arguments joined per index).
#[derive(Debug, Default)]
pub struct Accumulator {
    text: String,
    calls: BTreeMap<u32, ToolCall>,
    finish_reason: Option<String>,
    usage: Option<Usage>,
}

impl Accumulator {
    /// Adds one delta.
    pub fn push(&mut self, delta: &Delta) {
        match delta {
            Delta::Token(t) => self.text.push_str(t),
            Delta::ToolCall(d) => {
                let call = self.calls.entry(d.index).or_insert_with(|| ToolCall {
                    id: String::new(),
                    kind: function_kind(),
                    function: FunctionCall { name: String::new(), arguments: String::new() },
                });
                if let Some(id) = &d.id {
                    call.id.clone_from(id);
                }
                if let Some(name) = &d.name {
                    call.function.name.push_str(name);
                }
                call.function.arguments.push_str(&d.arguments);
            }
            Delta::Finish(r) => self.finish_reason = Some(r.clone()),
            Delta::Usage(u) => self.usage = Some(*u),
        }
    }

    /// The text so far.
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The completion.
    #[must_use]
    pub fn finish(self, model: &str, attempts: u32) -> Completion {
        Completion {
            text: self.text,
            tool_calls: self.calls.into_values().collect(),
            finish_reason: self.finish_reason,
            usage: self.usage,
            model: model.to_owned(),
            attempts,
        }
    }
}

/// A stream of deltas; ends after `[DONE]` (or the connection closing).
/// Dropping it closes the connection to the provider.
pub type DeltaStream = Pin<Box<dyn Stream<Item = Result<Delta, LlmError>> + Send>>;

/// The deltas of one streamed chunk (`chat.completion.chunk`).
fn chunk_deltas(v: &Value, out: &mut std::collections::VecDeque<Result<Delta, LlmError>>) {
    if let Some(t) = v.pointer("/choices/0/delta/content").and_then(Value::as_str)
        && !t.is_empty()
    {
        out.push_back(Ok(Delta::Token(t.to_owned())));
    }
    if let Some(calls) = v.pointer("/choices/0/delta/tool_calls").and_then(Value::as_array) {
        for (position, call) in calls.iter().enumerate() {
            let index = call
                .get("index")
                .and_then(Value::as_u64)
                .and_then(|i| u32::try_from(i).ok())
                .unwrap_or_else(|| u32::try_from(position).unwrap_or(0));
            let arguments = match call.pointer("/function/arguments") {
                Some(Value::String(s)) => s.clone(),
                None | Some(Value::Null) => String::new(),
                Some(other) => other.to_string(),
            };
            out.push_back(Ok(Delta::ToolCall(ToolCallDelta {
                index,
                id: call.get("id").and_then(Value::as_str).map(str::to_owned),
                name: call.pointer("/function/name").and_then(Value::as_str).map(str::to_owned),
                arguments,
            })));
        }
    }
    if let Some(r) = v.pointer("/choices/0/finish_reason").and_then(Value::as_str) {
        out.push_back(Ok(Delta::Finish(r.to_owned())));
    }
    if let Some(u) = parse_usage(v).filter(|u| u.total_tokens > 0) {
        out.push_back(Ok(Delta::Usage(u)));
    }
}

/// A streamed completion from one provider: the request is made (and
/// retried) before the first delta; afterwards each gap between chunks is
/// bounded by the timeout. Also returns the number of requests made.
#[allow(clippy::items_after_statements, reason = "the stream state is local")]
#[allow(clippy::too_many_lines, reason = "one stream reader for both wire formats")]
pub async fn stream_counted(
    state: &AppState,
    p: &ProviderConfig,
    messages: &[Message],
    opts: &ChatOptions,
) -> Result<(DeltaStream, u32), LlmError> {
    let (response, attempts) = send(state, p, &body(p, messages, opts, true), true).await?;
    let content_type =
        response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let timeout = p.timeout;
    if !content_type.starts_with("text/event-stream") {
        // Some servers ignore `stream`: accept a plain completion.
        let v = read_json(response, timeout).await?;
        let c = match p.format {
            ApiFormat::OpenAi => parse_completion(&v, &p.model, attempts)?,
            ApiFormat::Anthropic => super::anthropic::parse_message(&v, &p.model, attempts)?,
        };
        let mut items = Vec::new();
        if !c.text.is_empty() {
            items.push(Ok(Delta::Token(c.text)));
        }
        for (i, call) in c.tool_calls.into_iter().enumerate() {
            items.push(Ok(Delta::ToolCall(ToolCallDelta {
                index: u32::try_from(i).unwrap_or(u32::MAX),
                id: Some(call.id),
                name: Some(call.function.name),
                arguments: call.function.arguments,
            })));
        }
        if let Some(r) = c.finish_reason {
            items.push(Ok(Delta::Finish(r)));
        }
        if let Some(u) = c.usage {
            items.push(Ok(Delta::Usage(u)));
        }
        return Ok((Box::pin(futures_util::stream::iter(items)), attempts));
    }
    struct S {
        body: Pin<Box<dyn Stream<Item = reqwest::Result<actix_web::web::Bytes>> + Send>>,
        buffer: Vec<u8>,
        pending: std::collections::VecDeque<Result<Delta, LlmError>>,
        done: bool,
        /// Anthropic's events (`None`: `OpenAI` chunks).
        anthropic: Option<super::anthropic::StreamState>,
    }
    let state = S {
        body: Box::pin(response.bytes_stream()),
        buffer: Vec::new(),
        pending: std::collections::VecDeque::default(),
        done: false,
        anthropic: (p.format == ApiFormat::Anthropic).then(super::anthropic::StreamState::default),
    };
    let out = futures_util::stream::unfold(state, move |mut s| async move {
        loop {
            if let Some(item) = s.pending.pop_front() {
                return Some((item, s));
            }
            if s.done {
                return None;
            }
            match tokio::time::timeout(timeout, s.body.next()).await {
                Err(_) => {
                    s.done = true;
                    return Some((Err(LlmError::Timeout(timeout.as_millis())), s));
                }
                Ok(None) => {
                    // A stream that ends without [DONE] after some data is still usable.
                    s.done = true;
                }
                Ok(Some(Err(e))) => {
                    s.done = true;
                    return Some((Err(LlmError::Unreachable(e.to_string())), s));
                }
                Ok(Some(Ok(chunk))) => {
                    s.buffer.extend_from_slice(&chunk);
                    while let Some(pos) = s.buffer.iter().position(|b| *b == b'\n') {
                        let line: Vec<u8> = s.buffer.drain(..=pos).collect();
                        let line = String::from_utf8_lossy(&line).trim().to_owned();
                        let Some(data) = line.strip_prefix("data:") else { continue };
                        let data = data.trim();
                        if data == "[DONE]" {
                            s.done = true;
                            break;
                        }
                        match serde_json::from_str::<Value>(data) {
                            Err(e) => {
                                s.pending
                                    .push_back(Err(LlmError::Garbage(format!("a stream event is not JSON ({e})"))));
                                s.done = true;
                                break;
                            }
                            Ok(v) => {
                                if v.get("error").is_some() {
                                    s.pending.push_back(Err(LlmError::Garbage(format!("error event: {}", v["error"]))));
                                    s.done = true;
                                    break;
                                }
                                if let Some(a) = s.anthropic.as_mut() {
                                    if a.event(&v, &mut s.pending) {
                                        s.done = true;
                                        break;
                                    }
                                } else {
                                    chunk_deltas(&v, &mut s.pending);
                                }
                            }
                        }
                    }
                }
            }
        }
    });
    Ok((Box::pin(out), attempts))
}

/// A streamed completion from one provider (see [`stream_counted`]).
pub async fn stream(
    state: &AppState,
    p: &ProviderConfig,
    messages: &[Message],
    opts: &ChatOptions,
) -> Result<DeltaStream, LlmError> {
    Ok(stream_counted(state, p, messages, opts).await?.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-07T04:00:00Z").unwrap().with_timezone(&chrono::Utc);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Mon, 07 Dec 2026 04:00:05 GMT", now), Some(Duration::from_secs(5)));
        assert_eq!(parse_retry_after("Mon, 07 Dec 2026 03:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn waits_are_capped_and_jittered() {
        let p = RetryPolicy { backoff_base: Duration::from_millis(100), max_wait: Duration::from_secs(2) };
        assert_eq!(p.wait(1, Some(Duration::from_secs(60))), Duration::from_secs(2));
        assert_eq!(p.wait(1, Some(Duration::from_millis(300))), Duration::from_millis(300));
        for _ in 0..50 {
            let w = p.wait(3, None);
            assert!(w >= Duration::from_millis(200) && w <= Duration::from_millis(400), "{w:?}");
        }
        assert_eq!(p.wait(30, None), Duration::from_secs(2));
    }

    #[test]
    fn tool_call_fragments_are_joined_by_index() {
        let mut acc = Accumulator::default();
        let mut q = std::collections::VecDeque::new();
        for chunk in [
            json!({"choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"get_weather","arguments":""}}]}}]}),
            json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]}}]}),
            json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"get_time","arguments":"{}"}}]}}]}),
            json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]}}]}),
            json!({"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}),
            json!({"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}),
        ] {
            chunk_deltas(&chunk, &mut q);
        }
        for d in q {
            acc.push(&d.unwrap());
        }
        let c = acc.finish("m", 1);
        assert_eq!(c.tool_calls.len(), 2);
        assert_eq!(c.tool_calls[0].id, "call_a");
        assert_eq!(c.tool_calls[0].function.name, "get_weather");
        assert_eq!(c.tool_calls[0].function.arguments, "{\"city\":\"Paris\"}");
        assert_eq!(c.tool_calls[1].function.name, "get_time");
        assert_eq!(c.finish_reason.as_deref(), Some("tool_calls"));
        assert_eq!(c.usage.map(|u| u.total_tokens), Some(10));
        let m = c.message();
        assert_eq!(m.content, None);
        assert_eq!(serde_json::to_value(&m).unwrap()["tool_calls"][0]["type"], "function");
    }

    #[test]
    fn a_completion_with_only_tool_calls_is_not_garbage() {
        let v = json!({"model":"m","choices":[{"message":{"role":"assistant","content":null,
            "tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},
            "finish_reason":"tool_calls"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}});
        let c = parse_completion(&v, "m", 1).unwrap();
        assert_eq!(c.text, "");
        assert_eq!(c.tool_calls[0].function.arguments, "{\"a\":1}");
        assert!(parse_completion(&json!({"choices":[{"message":{"role":"assistant"}}]}), "m", 1).is_err());
    }

    #[test]
    fn the_body_carries_tools_and_tool_messages() {
        let p = ProviderConfig {
            base_url: "http://x/v1".into(),
            model: "m".into(),
            api_key: None,
            timeout: Duration::from_secs(1),
            max_retries: 0,
            format: ApiFormat::OpenAi,
        };
        let call = ToolCall {
            id: "c1".into(),
            kind: "function".into(),
            function: FunctionCall { name: "f".into(), arguments: "{}".into() },
        };
        let messages = vec![
            Message::new("user", "hi"),
            Message::assistant_tool_calls(None, vec![call]),
            Message::tool_result("c1", "42"),
        ];
        let opts = ChatOptions {
            tools: vec![Tool::function("f", None, json!({"type":"object"}))],
            tool_choice: Some(ToolChoice::Mode(ToolChoiceMode::Auto)),
            ..ChatOptions::default()
        };
        let b = body(&p, &messages, &opts, false);
        assert_eq!(b["tools"][0], json!({"type":"function","function":{"name":"f","parameters":{"type":"object"}}}));
        assert_eq!(b["tool_choice"], "auto");
        assert_eq!(
            b["messages"][1],
            json!({"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]})
        );
        assert_eq!(b["messages"][2], json!({"role":"tool","content":"42","tool_call_id":"c1"}));
        assert!(body(&p, &messages[..1], &ChatOptions::default(), false).get("tools").is_none());
    }
}

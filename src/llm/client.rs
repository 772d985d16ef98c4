//! A client for OpenAI-compatible chat completions (`POST
//! {base_url}/chat/completions`), plain and streamed (`stream: true`:
//! `data: {json}` server-sent events ending with `data: [DONE]`), through
//! the SSRF-guarded outbound client, with timeouts and retries.

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
    pub timeout: Duration,
    pub max_retries: u32,
}

impl std::fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

/// One chat message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

impl Message {
    #[must_use]
    pub fn new(role: &str, content: impl Into<String>) -> Message {
        Message { role: role.to_owned(), content: content.into() }
    }
}

/// Token counts reported by the provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
}

/// A finished completion.
#[derive(Debug, Clone)]
pub struct Completion {
    pub text: String,
    pub usage: Option<Usage>,
    pub model: String,
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
    fn retryable(&self) -> bool {
        match self {
            LlmError::Unreachable(_) | LlmError::Timeout(_) => true,
            LlmError::Status(s, _) => *s == 429 || *s >= 500,
            LlmError::NotAllowed(_) | LlmError::Garbage(_) => false,
        }
    }
}

/// Options of one call.
#[derive(Debug, Clone, Default)]
pub struct ChatOptions {
    pub temperature: Option<f32>,
    pub max_tokens: Option<u32>,
}

fn endpoint(base: &str) -> String {
    format!("{}/chat/completions", base.trim_end_matches('/'))
}

fn body(p: &ProviderConfig, messages: &[Message], opts: &ChatOptions, stream: bool) -> Value {
    let mut body = json!({ "model": p.model, "messages": messages, "stream": stream });
    if stream {
        body["stream_options"] = json!({ "include_usage": true });
    }
    if let Some(t) = opts.temperature {
        body["temperature"] = json!(t);
    }
    if let Some(m) = opts.max_tokens {
        body["max_tokens"] = json!(m);
    }
    body
}

async fn send(state: &AppState, p: &ProviderConfig, body: &Value, stream: bool) -> Result<reqwest::Response, LlmError> {
    let mut attempt = 0;
    loop {
        let mut request = state
            .outbound
            .request(Method::POST, &endpoint(&p.base_url))
            .map_err(|e| LlmError::NotAllowed(e.to_string()))?
            .json(body)
            // Streams are bounded by the idle timeout instead of a total one.
            .timeout(if stream { Duration::from_secs(3600) } else { p.timeout });
        if let Some(key) = &p.api_key {
            request = request.bearer_auth(key);
        }
        if stream {
            request = request.header("Accept", "text/event-stream");
        }
        let result = match tokio::time::timeout(p.timeout, state.outbound.send(request)).await {
            Err(_) | Ok(Err(OutboundError::Timeout)) => Err(LlmError::Timeout(p.timeout.as_millis())),
            Ok(Err(e @ OutboundError::Forbidden(_))) => Err(LlmError::NotAllowed(e.to_string())),
            Ok(Err(e)) => Err(LlmError::Unreachable(e.to_string())),
            Ok(Ok(response)) if response.status().is_success() => Ok(response),
            Ok(Ok(response)) => {
                let status = response.status().as_u16();
                let text = response.text().await.unwrap_or_default();
                Err(LlmError::Status(status, text.chars().take(300).collect()))
            }
        };
        match result {
            Err(e) if e.retryable() && attempt < p.max_retries => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(200 * 2_u64.pow(attempt.min(6)))).await;
            }
            other => return other,
        }
    }
}

fn parse_usage(v: &Value) -> Option<Usage> {
    let u = v.get("usage")?;
    let prompt = u.get("prompt_tokens").and_then(Value::as_u64).unwrap_or(0);
    let completion = u.get("completion_tokens").and_then(Value::as_u64).unwrap_or(0);
    let total = u.get("total_tokens").and_then(Value::as_u64).unwrap_or(prompt + completion);
    Some(Usage { prompt_tokens: prompt, completion_tokens: completion, total_tokens: total })
}

/// A non-streamed completion.
pub async fn complete(
    state: &AppState,
    p: &ProviderConfig,
    messages: &[Message],
    opts: &ChatOptions,
) -> Result<Completion, LlmError> {
    let response = send(state, p, &body(p, messages, opts, false), false).await?;
    let bytes = tokio::time::timeout(p.timeout, response.bytes())
        .await
        .map_err(|_| LlmError::Timeout(p.timeout.as_millis()))?
        .map_err(|e| LlmError::Unreachable(e.to_string()))?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| LlmError::Garbage(format!("not JSON ({e})")))?;
    let text = v
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .ok_or_else(|| LlmError::Garbage("no choices[0].message.content".into()))?;
    Ok(Completion {
        text: text.to_owned(),
        usage: parse_usage(&v),
        model: v.get("model").and_then(Value::as_str).unwrap_or(&p.model).to_owned(),
    })
}

/// What a stream yields.
#[derive(Debug, Clone)]
pub enum Delta {
    Token(String),
    Usage(Usage),
}

/// A stream of deltas; ends after `[DONE]` (or the connection closing).
pub type DeltaStream = Pin<Box<dyn Stream<Item = Result<Delta, LlmError>> + Send>>;

/// A streamed completion: the request is made (and retried) before the
/// first delta; afterwards each gap between chunks is bounded by the timeout.
#[allow(clippy::items_after_statements, reason = "the stream state is local")]
pub async fn stream(
    state: &AppState,
    p: &ProviderConfig,
    messages: &[Message],
    opts: &ChatOptions,
) -> Result<DeltaStream, LlmError> {
    let response = send(state, p, &body(p, messages, opts, true), true).await?;
    let content_type =
        response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let timeout = p.timeout;
    if !content_type.starts_with("text/event-stream") {
        // Some servers ignore `stream`: accept a plain completion.
        let bytes = tokio::time::timeout(timeout, response.bytes())
            .await
            .map_err(|_| LlmError::Timeout(timeout.as_millis()))?
            .map_err(|e| LlmError::Unreachable(e.to_string()))?;
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| LlmError::Garbage(format!("not JSON ({e})")))?;
        let text = v
            .pointer("/choices/0/message/content")
            .and_then(Value::as_str)
            .ok_or_else(|| LlmError::Garbage("no choices[0].message.content".into()))?
            .to_owned();
        let mut items = vec![Ok(Delta::Token(text))];
        if let Some(u) = parse_usage(&v) {
            items.push(Ok(Delta::Usage(u)));
        }
        return Ok(Box::pin(futures_util::stream::iter(items)));
    }
    struct S {
        body: Pin<Box<dyn Stream<Item = reqwest::Result<actix_web::web::Bytes>> + Send>>,
        buffer: Vec<u8>,
        pending: std::collections::VecDeque<Result<Delta, LlmError>>,
        done: bool,
    }
    let state = S {
        body: Box::pin(response.bytes_stream()),
        buffer: Vec::new(),
        pending: std::collections::VecDeque::default(),
        done: false,
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
                                if let Some(t) = v.pointer("/choices/0/delta/content").and_then(Value::as_str)
                                    && !t.is_empty()
                                {
                                    s.pending.push_back(Ok(Delta::Token(t.to_owned())));
                                }
                                if let Some(u) = parse_usage(&v).filter(|u| u.total_tokens > 0) {
                                    s.pending.push_back(Ok(Delta::Usage(u)));
                                }
                            }
                        }
                    }
                }
            }
        }
    });
    Ok(Box::pin(out))
}

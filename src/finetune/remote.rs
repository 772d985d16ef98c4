//! The client of an OpenAI-compatible fine-tuning API, through the
//! SSRF-guarded outbound client, with the provider's bearer key:
//!
//! - `POST {base}/files`: multipart `purpose=fine-tune` and `file` → `{"id": "file-…"}`;
//! - `POST {base}/fine_tuning/jobs` `{model, training_file, validation_file?, suffix?,
//!   hyperparameters}` → a `fine_tuning.job` object;
//! - `GET {base}/fine_tuning/jobs/{id}` → the job (`status`: `validating_files`, `queued`,
//!   `running`, `succeeded`, `failed`, `cancelled`; `fine_tuned_model`, `trained_tokens`,
//!   `error.message`);
//! - `GET {base}/fine_tuning/jobs/{id}/events?limit=&after=` → newest first, with
//!   `has_more`; `after` pages towards older events; `type: metrics` events carry
//!   `data.step`, `train_loss`, `train_mean_token_accuracy`, `valid_loss`…;
//! - `GET {base}/fine_tuning/jobs/{id}/checkpoints` → checkpoints with `metrics`;
//! - `POST {base}/fine_tuning/jobs/{id}/cancel` → the job.

use std::time::Duration;

use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

use crate::app::AppState;
use crate::llm::client::ProviderConfig;
use crate::outbound::OutboundError;

/// Most events read in one poll (pages of [`EVENTS_PAGE`]).
const MAX_EVENTS_PER_POLL: usize = 1_000;
const EVENTS_PAGE: usize = 100;

/// Why a call to the provider failed.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("the provider's address is not allowed: {0}")]
    NotAllowed(String),
    #[error("the provider cannot be reached: {0}")]
    Unreachable(String),
    #[error("the provider answered {0}: {1}")]
    Status(u16, String),
    #[error("the provider's answer is not understood: {0}")]
    Garbage(String),
}

impl RemoteError {
    /// Whether another attempt later may succeed (unreachable, 429, 5xx).
    #[must_use]
    pub fn retryable(&self) -> bool {
        match self {
            RemoteError::Unreachable(_) => true,
            RemoteError::Status(s, _) => *s == 429 || *s >= 500,
            RemoteError::NotAllowed(_) | RemoteError::Garbage(_) => false,
        }
    }
}

/// A remote fine-tuning job as the provider describes it.
#[derive(Debug, Clone, Deserialize)]
pub struct RemoteJob {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub fine_tuned_model: Option<String>,
    #[serde(default)]
    pub trained_tokens: Option<i64>,
    #[serde(default)]
    pub error: Option<RemoteJobError>,
}

/// The `error` of a failed job.
#[derive(Debug, Clone, Deserialize)]
pub struct RemoteJobError {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

/// One event of a job.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct RemoteEvent {
    pub id: String,
    #[serde(default)]
    pub created_at: i64,
    #[serde(default)]
    pub level: String,
    #[serde(default)]
    pub message: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub data: Option<Value>,
}

#[derive(Deserialize)]
struct EventPage {
    data: Vec<RemoteEvent>,
    #[serde(default)]
    has_more: bool,
}

/// One checkpoint with its metrics.
#[derive(Debug, Clone, Deserialize)]
pub struct RemoteCheckpoint {
    #[serde(default)]
    pub step_number: i64,
    #[serde(default)]
    pub metrics: Value,
}

#[derive(Deserialize)]
struct CheckpointPage {
    data: Vec<RemoteCheckpoint>,
}

#[derive(Deserialize)]
struct UploadedFile {
    id: String,
}

fn url(p: &ProviderConfig, path: &str) -> String {
    format!("{}/{path}", p.base_url.trim_end_matches('/'))
}

async fn send(state: &AppState, p: &ProviderConfig, request: reqwest::RequestBuilder) -> Result<Value, RemoteError> {
    let mut request = request.timeout(p.timeout.max(Duration::from_secs(1)));
    if let Some(key) = &p.api_key {
        request = request.bearer_auth(key);
    }
    let response = state.outbound.send(request).await.map_err(|e| match e {
        e @ OutboundError::Forbidden(_) => RemoteError::NotAllowed(e.to_string()),
        e => RemoteError::Unreachable(e.to_string()),
    })?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(|e| RemoteError::Unreachable(e.to_string()))?;
    if !status.is_success() {
        let text = String::from_utf8_lossy(&bytes);
        // OpenAI's errors are `{"error": {"message": …}}`: keep the message.
        let message = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v.pointer("/error/message").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| text.chars().take(300).collect());
        return Err(RemoteError::Status(status.as_u16(), message));
    }
    serde_json::from_slice(&bytes).map_err(|e| RemoteError::Garbage(format!("not JSON ({e})")))
}

fn request(
    state: &AppState,
    p: &ProviderConfig,
    method: Method,
    path: &str,
) -> Result<reqwest::RequestBuilder, RemoteError> {
    state.outbound.request(method, &url(p, path)).map_err(|e| RemoteError::NotAllowed(e.to_string()))
}

fn decode<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, RemoteError> {
    serde_json::from_value(v).map_err(|e| RemoteError::Garbage(e.to_string()))
}

/// Uploads a training file; returns the provider's file id.
pub async fn upload_file(
    state: &AppState,
    p: &ProviderConfig,
    file_name: &str,
    bytes: Vec<u8>,
) -> Result<String, RemoteError> {
    let part = reqwest::multipart::Part::bytes(bytes)
        .file_name(file_name.to_owned())
        .mime_str("application/jsonl")
        .map_err(|e| RemoteError::Garbage(e.to_string()))?;
    let form = reqwest::multipart::Form::new().text("purpose", "fine-tune").part("file", part);
    let v = send(state, p, request(state, p, Method::POST, "files")?.multipart(form)).await?;
    Ok(decode::<UploadedFile>(v)?.id)
}

/// Creates a job.
pub async fn create_job(state: &AppState, p: &ProviderConfig, body: &Value) -> Result<RemoteJob, RemoteError> {
    decode(send(state, p, request(state, p, Method::POST, "fine_tuning/jobs")?.json(body)).await?)
}

/// Reads a job.
pub async fn get_job(state: &AppState, p: &ProviderConfig, id: &str) -> Result<RemoteJob, RemoteError> {
    decode(send(state, p, request(state, p, Method::GET, &format!("fine_tuning/jobs/{id}"))?).await?)
}

/// Cancels a job.
pub async fn cancel_job(state: &AppState, p: &ProviderConfig, id: &str) -> Result<RemoteJob, RemoteError> {
    decode(send(state, p, request(state, p, Method::POST, &format!("fine_tuning/jobs/{id}/cancel"))?).await?)
}

/// The events newer than `seen` (the newest event read before), oldest
/// first: pages from the newest back until `seen` or the first event.
pub async fn new_events(
    state: &AppState,
    p: &ProviderConfig,
    id: &str,
    seen: Option<&str>,
) -> Result<Vec<RemoteEvent>, RemoteError> {
    let mut events: Vec<RemoteEvent> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut path = format!("fine_tuning/jobs/{id}/events?limit={EVENTS_PAGE}");
        if let Some(a) = &after {
            path.push_str("&after=");
            path.push_str(&url_encode(a));
        }
        let page: EventPage = decode(send(state, p, request(state, p, Method::GET, &path)?).await?)?;
        let mut reached = false;
        for event in page.data {
            if Some(event.id.as_str()) == seen {
                reached = true;
                break;
            }
            events.push(event);
        }
        if reached || !page.has_more || events.len() >= MAX_EVENTS_PER_POLL {
            break;
        }
        match events.last() {
            Some(last) => after = Some(last.id.clone()),
            None => break,
        }
    }
    events.reverse();
    Ok(events)
}

/// The job's checkpoints (metrics per saved step).
pub async fn checkpoints(state: &AppState, p: &ProviderConfig, id: &str) -> Result<Vec<RemoteCheckpoint>, RemoteError> {
    let page: CheckpointPage =
        decode(send(state, p, request(state, p, Method::GET, &format!("fine_tuning/jobs/{id}/checkpoints"))?).await?)?;
    Ok(page.data)
}

fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

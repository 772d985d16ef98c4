//! What a provider adapter is: the one trait every channel type implements,
//! and the types it shares with the core. The core ([`super::service`],
//! [`super::send`]) owns everything else — storage, deduplication, contacts,
//! the runtime turn, the durable queue, retries and dead-lettering — so an
//! adapter only speaks its provider's wire format:
//!
//! - credentials: which fields, checked at create/update;
//! - the webhook: handshake (Meta's `hub.challenge`, Slack's
//!   `url_verification`), signature, parsing into [`Event`]s, the answer;
//! - replies: rendering a runtime reply into provider requests, sending one;
//! - the provider check (test-connection) and activation;
//! - fetching inbound media.

use std::time::Duration;

use actix_web::HttpResponse;
use actix_web::http::Method;
use actix_web::http::header::HeaderMap;
use futures_util::future::BoxFuture;
use serde_json::{Map, Value};

use crate::app::AppState;
use crate::conversations::model::Role;
use crate::error::{AppError, AppResult};
use crate::flows::engine::RichParts;

/// What a provider answered to a request.
#[derive(Debug)]
pub enum Answer {
    /// Accepted, with the provider's result (where the message id is).
    Ok(Value),
    /// Refused: the HTTP status (0 when refused before sending), the
    /// provider's own words and how long it asked us to wait (429).
    Refused { status: u16, description: String, retry_after: Option<Duration> },
    /// No answer (network, timeout, refused by the outbound policy).
    Unreachable(String),
}

impl Answer {
    /// A refusal decided here, before any request.
    #[must_use]
    pub fn local(description: impl Into<String>) -> Self {
        Answer::Refused { status: 0, description: description.into(), retry_after: None }
    }

    /// Whether a refusal may succeed later (429, 5xx, network); a 400 will not.
    #[must_use]
    pub fn retryable(&self) -> bool {
        match self {
            Answer::Ok(_) => false,
            Answer::Refused { status, .. } => *status == 429 || *status >= 500,
            Answer::Unreachable(_) => true,
        }
    }
}

/// The `Retry-After` header in seconds, if any.
#[must_use]
pub fn retry_after_header(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// A provider's webhook call as the adapter sees it.
pub struct HookRequest<'a> {
    pub method: &'a Method,
    pub headers: &'a HeaderMap,
    /// The raw query string (without `?`).
    pub query: &'a str,
    pub body: &'a [u8],
    /// The public URL the provider called (public URL in force + path +
    /// query, completed by the core before the adapter sees it): Twilio signs it.
    pub url: String,
}

impl HookRequest<'_> {
    /// A header as text.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A query parameter, percent-decoded.
    #[must_use]
    pub fn query_param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }
}

/// A channel's opened secrets.
pub struct Secrets {
    /// The credentials JSON object as stored (checked by the adapter).
    pub credentials: Map<String, Value>,
    /// The channel's own random secret (Telegram's secret token, Meta's
    /// verify token, the generic channel's signing key).
    pub webhook_secret: String,
}

impl Secrets {
    /// A credential field as text ("" when absent).
    #[must_use]
    pub fn get(&self, field: &str) -> &str {
        self.credentials.get(field).and_then(Value::as_str).unwrap_or("")
    }
}

/// Who sent an inbound event, and where replies go.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sender {
    /// The external id replies are addressed to (chat id, phone number,
    /// page-scoped id, Slack channel, email address): one contact per value.
    pub address: String,
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub phone: Option<String>,
}

/// Media an inbound message carries, as the provider refers to it.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaRef {
    /// A provider id (WhatsApp media id, Telegram `file_id`) or a URL.
    pub reference: String,
    /// The type the provider declared (the core sniffs the bytes anyway).
    pub mime_type: Option<String>,
    pub filename: Option<String>,
    /// `image`, `video`, `audio` or `document` (`channel_messages.message_type`).
    pub kind: &'static str,
}

/// A delivery status the provider reports for one of our messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    Delivered,
    Read,
    Failed,
}

impl Delivery {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Sent => "sent",
            Delivery::Delivered => "delivered",
            Delivery::Read => "read",
            Delivery::Failed => "failed",
        }
    }
}

/// What an inbound event is.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// A text message with the provider's message id.
    Text { message_id: String, text: String },
    /// A button or quick-reply press: the value (or `#n`, an index into the
    /// values kept with the outbound message `message_id`), and a request
    /// to queue that acknowledges the press (Telegram's spinner). Without a
    /// `message_id` (SMS and email have no reply context), `#n` is the
    /// 1-based number of a choice the user typed: the n-th value of the
    /// latest message sent to them, or the text `n` when that message
    /// offered no n-th choice.
    Button { id: String, value: String, message_id: Option<String>, ack: Option<Value> },
    /// Media with an optional caption.
    Media { message_id: String, media: MediaRef, caption: Option<String> },
    /// A status of an outbound message (its provider id).
    Status { message_id: String, status: Delivery, error: Option<String> },
    /// Every outbound message to the sender sent at or before `until_ms`
    /// (milliseconds since the epoch) reached `status` (Messenger's read and
    /// delivery watermarks).
    StatusUpTo { status: Delivery, until_ms: i64 },
    /// The end user opted out of (false) or back into (true) messages, by a
    /// keyword (SMS STOP/START); the text is kept as a message.
    Consent { message_id: String, opted_in: bool, text: String },
}

/// One inbound event of a webhook call (a call may carry several).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The deduplication key, unique per channel (provider message id, or
    /// a composite for statuses).
    pub dedupe_id: String,
    /// For the event log (`channel_webhooks.event_type`).
    pub event_type: String,
    pub sender: Sender,
    /// The thread replies continue (Slack `thread_ts`, email Message-ID).
    pub thread: Option<String>,
    pub kind: EventKind,
    /// This event's part of the payload (stored in `channel_webhooks`).
    pub raw: Value,
    /// Kept with the inbound message and handed back to the renderer as
    /// [`Recipient::context`] (an email's subject and references…); `Null` if none.
    pub context: Value,
}

/// What a webhook call holds.
#[derive(Debug)]
pub enum Parsed {
    /// Events the bot handles (possibly none: a batch of other things).
    Events(Vec<Event>),
    /// A well-formed event of a kind the bot does not handle: stored once, ignored.
    Ignored { dedupe_id: Option<String>, event_type: String },
    /// Not the provider's format: logged as rejected, nothing stored.
    Malformed(String),
}

/// Where a reply goes.
#[derive(Debug, Clone, Default)]
pub struct Recipient {
    /// The contact's address ([`Sender::address`]).
    pub address: String,
    /// The thread of the last inbound message, if the provider has threads.
    pub thread: Option<String>,
    /// The subject line of email threads, and similar per-conversation context.
    pub context: Value,
}

/// One provider request of a reply, as queued.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// Adapter-defined (e.g. `{"method": "sendMessage", "body": {…}}`); the
    /// sender gets it back as is.
    pub request: Value,
    /// Button values too long for the provider (sent as `#n`).
    pub values: Vec<String>,
    /// `channel_messages.message_type`.
    pub message_type: &'static str,
}

/// The provider-side identity a check found (Telegram's @username, a phone number…).
#[derive(Debug, Clone, Default)]
pub struct Identity {
    pub username: Option<String>,
}

/// Bytes of an inbound media file.
pub struct MediaBytes {
    pub data: Vec<u8>,
    pub mime_type: Option<String>,
}

/// One channel type.
pub trait Adapter: Send + Sync {
    /// The type name (`channels.type`).
    fn kind(&self) -> &'static str;

    /// The provider's name in messages ("Telegram").
    fn provider(&self) -> &'static str;

    /// Checks the credentials given at create/update and answers them as
    /// stored; errors name the field (`credentials.bot_token`).
    fn check_credentials(&self, given: &Map<String, Value>) -> AppResult<Map<String, Value>>;

    /// The credential field a provider's 401 points at.
    fn credential_field(&self) -> &'static str;

    /// Whether the channel's webhook secret must be shown to the user (a
    /// verify token or signing key they paste into the provider's console).
    fn shows_webhook_secret(&self) -> bool {
        false
    }

    /// Answers a provider handshake (before or instead of signature checks
    /// where the protocol says so); `None` for ordinary calls.
    fn handshake(&self, _secrets: &Secrets, _req: &HookRequest<'_>) -> Option<HttpResponse> {
        None
    }

    /// What this server must have before the provider check (email: an SMTP
    /// server); its error is answered as is by test-connection and activation.
    fn precondition<'a>(&'a self, _state: &'a AppState) -> BoxFuture<'a, AppResult<()>> {
        Box::pin(async { Ok(()) })
    }

    /// Whether the call is authentic (constant-time comparisons).
    fn verify(&self, secrets: &Secrets, req: &HookRequest<'_>) -> bool;

    /// Parses an authentic call.
    fn parse(&self, req: &HookRequest<'_>) -> Parsed;

    /// The HTTP answer to an authentic call whatever became of it (the
    /// provider retries non-2xx; Twilio wants `TwiML`).
    fn acknowledge(&self, outcome: &'static str) -> HttpResponse {
        HttpResponse::Ok().json(serde_json::json!({ "status": outcome }))
    }

    /// The requests that show one reply.
    fn render(&self, to: &Recipient, text: &str, parts: &RichParts) -> Vec<Rendered>;

    /// The requests that show one transcript message written by `role`
    /// (bot, agent or system): where a provider lets an agent's reply go
    /// out when a bot's may not (Meta's `HUMAN_AGENT` tag). Default: [`Adapter::render`].
    fn render_message(&self, to: &Recipient, role: Role, text: &str, parts: &RichParts) -> Vec<Rendered> {
        let _ = role;
        self.render(to, text, parts)
    }

    /// A request to queue as soon as an inbound message (text, button,
    /// media) is stored, before its turn runs, when the event carries no
    /// `ack` of its own (Meta's `mark_seen` and typing indicator, WhatsApp's
    /// read receipt); `None`: nothing.
    fn receipt(&self, event: &Event) -> Option<Value> {
        let _ = event;
        None
    }

    /// Sends one queued request; `idempotency_key` is the same on every attempt.
    fn send<'a>(
        &'a self,
        state: &'a AppState,
        secrets: &'a Secrets,
        request: &'a Value,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Answer>;

    /// The provider's id of a sent message (for statuses and button lookups).
    fn sent_id(&self, result: &Value) -> Option<String>;

    /// Whether the credentials work (a cheap authenticated call).
    fn check<'a>(&'a self, state: &'a AppState, secrets: &'a Secrets) -> BoxFuture<'a, Result<Identity, Answer>>;

    /// Points the provider at `webhook_url` where the API allows it (else
    /// the same as [`Adapter::check`]).
    fn activate<'a>(
        &'a self,
        state: &'a AppState,
        secrets: &'a Secrets,
        webhook_url: &'a str,
    ) -> BoxFuture<'a, Result<Identity, Answer>> {
        let _ = webhook_url;
        self.check(state, secrets)
    }

    /// Downloads inbound media.
    fn fetch_media<'a>(
        &'a self,
        state: &'a AppState,
        secrets: &'a Secrets,
        media: &'a MediaRef,
    ) -> BoxFuture<'a, Result<MediaBytes, Answer>>;

    /// The provider's decisions on message templates an authentic call
    /// carries (WhatsApp's `message_template_status_update`); the core
    /// applies them to `channel_templates` (idempotent) before parsing.
    fn template_updates(&self, _req: &HookRequest<'_>) -> Vec<super::templates::ProviderStatus> {
        Vec::new()
    }

    /// How long after the contact's last inbound message the queued
    /// `request` may still be sent (WhatsApp's 24-hour customer-service
    /// window for free-form messages); `None`: any time. Outside it the
    /// queue dead-letters the message unsent.
    fn free_form_window(&self, _request: &Value) -> Option<Duration> {
        None
    }

    /// The shortest gap between two requests of one channel (the provider's rate limit).
    fn min_interval(&self) -> Duration {
        Duration::ZERO
    }
}

/// Checks that `given` has only `allowed` keys, all strings; answers the
/// trimmed strings (the common part of every adapter's credential check).
pub fn string_fields(given: &Map<String, Value>, allowed: &[&str]) -> AppResult<Map<String, Value>> {
    let mut out = Map::new();
    for (key, value) in given {
        if !allowed.contains(&key.as_str()) {
            return Err(AppError::validation(
                format!("credentials.{key}"),
                format!("unknown field; this channel type takes {}", allowed.join(", ")),
            ));
        }
        let Some(text) = value.as_str() else {
            return Err(AppError::validation(format!("credentials.{key}"), "must be a string"));
        };
        out.insert(key.clone(), Value::String(text.trim().to_owned()));
    }
    Ok(out)
}

/// The trimmed, non-empty string field `key`, else a 422 naming it.
pub fn required<'m>(fields: &'m Map<String, Value>, key: &str, what: &str) -> AppResult<&'m str> {
    fields
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| AppError::validation(format!("credentials.{key}"), what.to_owned()))
}

/// Downloads `url` through the outbound client with `auth` headers, up to
/// `limit` bytes (a larger body is refused without reading it all).
pub async fn download(
    state: &AppState,
    url: &str,
    headers: &[(&str, String)],
    limit: u64,
) -> Result<MediaBytes, Answer> {
    let mut request = match state.outbound.request(reqwest::Method::GET, url) {
        Ok(r) => r.timeout(Duration::from_secs(60)),
        Err(e) => return Err(Answer::Unreachable(e.to_string())),
    };
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let mut response = match state.outbound.send(request).await {
        Ok(r) => r,
        Err(e) => return Err(Answer::Unreachable(e.to_string())),
    };
    let status = response.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(Answer::Refused {
            status,
            description: format!("the media download answered HTTP {status}"),
            retry_after: retry_after_header(response.headers()),
        });
    }
    if response.content_length().is_some_and(|n| n > limit) {
        return Err(Answer::Refused { status: 413, description: too_large(limit), retry_after: None });
    }
    let mime_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned());
    let mut data = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if data.len() as u64 + chunk.len() as u64 > limit {
                    return Err(Answer::Refused { status: 413, description: too_large(limit), retry_after: None });
                }
                data.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => return Err(Answer::Unreachable(e.to_string())),
        }
    }
    Ok(MediaBytes { data, mime_type })
}

/// The message of media over the size limit.
#[must_use]
pub fn too_large(limit: u64) -> String {
    format!("the media is larger than the limit of {limit} bytes")
}

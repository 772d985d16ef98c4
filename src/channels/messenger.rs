//! The Meta Messenger Platform adapters: Facebook **Messenger** (`messenger`)
//! and **Instagram** messaging through the Page linked to the Instagram
//! professional account (`instagram`). Both speak the same Graph API
//! (base: `channels.graph_api_base`, version included):
//!
//! - webhook: `GET` handshake (`hub.mode=subscribe`, `hub.verify_token` =
//!   the channel's secret → `hub.challenge`), `POST` signed with
//!   `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body with the
//!   app secret>`; `{"object": "page"|"instagram", "entry": [{"messaging": [...]}]}`
//!   parsed into texts, quick replies and postbacks (buttons), attachments
//!   (media, downloaded from their URL), deliveries and reads (statuses;
//!   Messenger's watermarks fold every earlier message); echoes ignored;
//! - replies: `POST /{page_id}/messages` (Send API) with text (split at
//!   Messenger's 2000 characters, Instagram's 1000 bytes), quick replies (≤ 13,
//!   titles ≤ 20 characters, payloads ≤ 1000), buttons as button templates
//!   (≤ 3 each), cards as a generic template (≤ 10 elements), images as an
//!   attachment by URL; `mark_seen` and `typing_on` when a message arrives;
//! - the 24-hour window: a reply more than 24 hours after the person's last
//!   message is refused unless an agent wrote it within 7 days (then it
//!   goes out with the `HUMAN_AGENT` tag);
//! - Graph errors: codes 4, 17, 32, 613 (rate limits) and transient errors
//!   are retried, 190 (bad token) and permission errors are credential errors;
//! - test-connection: `GET /me?fields=id,name` with the Page token (and the
//!   `appsecret_proof`, which checks the app secret too); activation also
//!   subscribes the Page to the app (`POST /{page_id}/subscribed_apps`).
//!
//! Every Graph call carries `access_token` and `appsecret_proof` (HMAC-SHA256
//! of the token with the app secret, hex), so apps that require the proof work.

use std::time::Duration;

use actix_web::HttpResponse;
use futures_util::future::BoxFuture;
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::adapter::{
    self, Adapter, Answer, Delivery, Event, EventKind, HookRequest, Identity, MediaBytes, MediaRef, Parsed, Recipient,
    Rendered, Secrets, Sender,
};
use super::meta;
use crate::app::AppState;
use crate::conversations::model::Role;
use crate::crypto::hmac_sha256;
use crate::error::{AppError, AppResult};
use crate::flows::engine::{ReplyButton, RichParts};

/// Quick replies per message.
pub const QUICK_REPLIES_MAX: usize = 13;
/// Characters of a quick-reply or button title.
pub const TITLE_MAX: usize = 20;
/// Characters of a quick-reply or postback payload.
pub const PAYLOAD_MAX: usize = 1000;
/// Buttons of a button template or of one generic-template element.
pub const BUTTONS_MAX: usize = 3;
/// Characters of a button template's text.
pub const BUTTON_TEXT_MAX: usize = 640;
/// Elements of a generic template, and characters of their title and subtitle.
pub const ELEMENTS_MAX: usize = 10;
pub const ELEMENT_TEXT_MAX: usize = 80;

/// The standard messaging window after the person's last message.
pub const WINDOW_MS: i64 = 24 * 3600 * 1000;
/// How long after it an agent may still answer with the `HUMAN_AGENT` tag.
pub const HUMAN_AGENT_MS: i64 = 7 * 24 * 3600 * 1000;

const TIMEOUT: Duration = Duration::from_secs(15);

/// What differs between Messenger and Instagram.
struct Flavour {
    kind: &'static str,
    provider: &'static str,
    /// The webhook's `object`.
    object: &'static str,
    /// The text limit of one message (characters, bytes).
    text_chars: usize,
    text_bytes: usize,
    /// The Page fields activation subscribes the app to.
    subscribed_fields: &'static str,
}

const MESSENGER: Flavour = Flavour {
    kind: "messenger",
    provider: "Messenger",
    object: "page",
    text_chars: 2000,
    text_bytes: usize::MAX,
    subscribed_fields: "messages,messaging_postbacks,message_deliveries,message_reads",
};

const INSTAGRAM: Flavour = Flavour {
    kind: "instagram",
    provider: "Instagram",
    object: "instagram",
    text_chars: 1000,
    text_bytes: 1000,
    // Instagram's own fields are chosen in the App Dashboard; the Page only
    // has to have the app subscribed (to any Page field).
    subscribed_fields: "feed",
};

// ---------------------------------------------------------------- Graph calls

fn redact(text: &str, token: &str) -> String {
    if token.is_empty() { text.to_owned() } else { text.replace(token, "<token>") }
}

/// Maps a Graph error to the queue's terms: rate limits (codes 4, 17, 32,
/// 613) become 429 and transient errors 503 (both retried), a bad token
/// (190, 102) or app secret (an invalid `appsecret_proof`) 401 and missing permissions (10, 200–299) 403 (credential
/// errors); anything else keeps its HTTP status.
fn graph_status(http: u16, error: &Value) -> u16 {
    let code = error.get("code").and_then(Value::as_i64).unwrap_or(0);
    match code {
        4 | 17 | 32 | 613 => 429,
        190 | 102 => 401,
        // A wrong app secret: the proof of the token does not match.
        100 if error.get("message").and_then(Value::as_str).is_some_and(|m| m.contains("appsecret_proof")) => 401,
        10 | 200..=299 => 403,
        _ if error.get("is_transient").and_then(Value::as_bool) == Some(true) => 503,
        _ => http,
    }
}

/// One Graph API call with the Page token and its `appsecret_proof`.
async fn graph(
    state: &AppState,
    secrets: &Secrets,
    method: Method,
    path: &str,
    query: &[(&str, &str)],
    body: Option<&Value>,
) -> Answer {
    let token = secrets.get("page_access_token");
    let proof = hex::encode(hmac_sha256(secrets.get("app_secret").as_bytes(), token.as_bytes()));
    let base = state.config.channels.graph_api_base.trim_end_matches('/');
    let url = format!("{base}/{path}");
    let mut params: Vec<(&str, &str)> = query.to_vec();
    params.push(("access_token", token));
    params.push(("appsecret_proof", &proof));
    let mut request = match state.outbound.request(method, &url) {
        Ok(r) => r.timeout(TIMEOUT).query(&params),
        Err(e) => return Answer::Unreachable(e.to_string()),
    };
    if let Some(b) = body {
        request = request.json(b);
    }
    let response = match state.outbound.send(request).await {
        Ok(r) => r,
        // The error text may contain the URL, hence the token: never pass it on.
        Err(e) => return Answer::Unreachable(redact(&e.to_string(), token)),
    };
    let status = response.status().as_u16();
    let retry_after = adapter::retry_after_header(response.headers());
    let parsed: Value = response.json().await.unwrap_or(Value::Null);
    if (200..300).contains(&status) && parsed.get("error").is_none() {
        return Answer::Ok(parsed);
    }
    let error = parsed.get("error").cloned().unwrap_or(Value::Null);
    let description = match (error.get("code").and_then(Value::as_i64), error.get("message").and_then(Value::as_str)) {
        (Some(code), Some(message)) if message.starts_with("(#") => format!("{message} (code {code})"),
        (Some(code), Some(message)) => format!("(#{code}) {message}"),
        (None, Some(message)) => message.to_owned(),
        _ => format!("the Graph API answered HTTP {status}"),
    };
    Answer::Refused { status: graph_status(status, &error), description: redact(&description, token), retry_after }
}

// ---------------------------------------------------------------- Webhooks

fn text_of(v: &Value, key: &str) -> Option<String> {
    match v.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// The media kind of an attachment type.
fn media_kind(kind: &str) -> Option<&'static str> {
    match kind {
        "image" => Some("image"),
        "video" | "ig_reel" | "reel" => Some("video"),
        "audio" => Some("audio"),
        "file" => Some("document"),
        _ => None,
    }
}

/// The events of one `messaging` item; `Err` names what is wrong with it,
/// `Ok(Err(…))` is a well-formed item of a kind the bot does not handle
/// (dedupe id, event type).
#[allow(clippy::type_complexity, reason = "three outcomes of one item")]
#[allow(clippy::too_many_lines, reason = "one branch per event kind, in the documented order")]
fn parse_item(item: &Value, now_ms: i64) -> Result<Result<Vec<Event>, (Option<String>, String)>, String> {
    let sender = item.get("sender").and_then(|s| text_of(s, "id")).ok_or("no sender.id")?;
    let timestamp = item.get("timestamp").and_then(Value::as_i64);
    // The person's message time opens the 24-hour window (never in the future).
    let context = json!({ "timestamp": timestamp.map_or(now_ms, |t| t.min(now_ms)) });
    let event = |dedupe_id: String, event_type: &str, kind: EventKind| Event {
        dedupe_id,
        event_type: event_type.to_owned(),
        sender: Sender { address: sender.clone(), ..Sender::default() },
        thread: None,
        kind,
        raw: item.clone(),
        context: context.clone(),
    };
    if let Some(message) = item.get("message") {
        let mid = text_of(message, "mid").ok_or("a message without mid")?;
        if message.get("is_echo").and_then(Value::as_bool) == Some(true) {
            return Ok(Err((Some(format!("echo:{mid}")), "message_echo".into())));
        }
        if let Some(payload) = message.pointer("/quick_reply/payload").and_then(Value::as_str) {
            let kind = EventKind::Button { id: mid.clone(), value: payload.to_owned(), message_id: None, ack: None };
            return Ok(Ok(vec![event(mid, "quick_reply", kind)]));
        }
        let text = text_of(message, "text");
        let attachments = message.get("attachments").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        let mut events = Vec::new();
        for a in attachments {
            let (Some(kind), Some(url)) = (
                a.get("type").and_then(Value::as_str).and_then(media_kind),
                a.pointer("/payload/url").and_then(Value::as_str),
            ) else {
                continue;
            };
            let n = events.len();
            let id = if n == 0 { mid.clone() } else { format!("{mid}#{n}") };
            let media = MediaRef { reference: url.to_owned(), mime_type: None, filename: None, kind };
            let caption = if n == 0 { text.clone() } else { None };
            events.push(event(id.clone(), "attachment", EventKind::Media { message_id: id, media, caption }));
        }
        if !events.is_empty() {
            return Ok(Ok(events));
        }
        return match text {
            Some(text) => Ok(Ok(vec![event(mid.clone(), "message", EventKind::Text { message_id: mid, text })])),
            None => Ok(Err((Some(mid), "message.unsupported".into()))),
        };
    }
    if let Some(postback) = item.get("postback") {
        let payload = postback.get("payload").and_then(Value::as_str).ok_or("a postback without payload")?;
        // `mid` came with v11; before it, the sender and time identify a press.
        let id = text_of(postback, "mid")
            .unwrap_or_else(|| format!("{sender}:{}", timestamp.map_or_else(|| "?".to_owned(), |t| t.to_string())));
        let kind = EventKind::Button { id: id.clone(), value: payload.to_owned(), message_id: None, ack: None };
        return Ok(Ok(vec![event(format!("postback:{id}"), "postback", kind)]));
    }
    if let Some(delivery) = item.get("delivery") {
        let mids: Vec<String> = delivery
            .get("mids")
            .and_then(Value::as_array)
            .map(|m| m.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default();
        let watermark = delivery.get("watermark").and_then(Value::as_i64);
        let mut events: Vec<Event> = mids
            .into_iter()
            .map(|mid| {
                let kind = EventKind::Status { message_id: mid.clone(), status: Delivery::Delivered, error: None };
                event(format!("delivery:{mid}"), "delivery", kind)
            })
            .collect();
        if events.is_empty() {
            let w = watermark.ok_or("a delivery without mids or watermark")?;
            let kind = EventKind::StatusUpTo { status: Delivery::Delivered, until_ms: w };
            events.push(event(format!("delivery:{sender}:{w}"), "delivery", kind));
        }
        return Ok(Ok(events));
    }
    if let Some(read) = item.get("read") {
        // Messenger: a watermark; Instagram: the id of the last message seen.
        if let Some(w) = read.get("watermark").and_then(Value::as_i64) {
            let kind = EventKind::StatusUpTo { status: Delivery::Read, until_ms: w };
            return Ok(Ok(vec![event(format!("read:{sender}:{w}"), "read", kind)]));
        }
        let mid = text_of(read, "mid").ok_or("a read without watermark or mid")?;
        let kind = EventKind::Status { message_id: mid.clone(), status: Delivery::Read, error: None };
        return Ok(Ok(vec![event(format!("read:{mid}"), "read", kind)]));
    }
    let kind = item
        .as_object()
        .and_then(|o| o.keys().find(|k| !matches!(k.as_str(), "sender" | "recipient" | "timestamp")).cloned())
        .unwrap_or_else(|| "unknown".into());
    let id = timestamp.map(|t| format!("{kind}:{sender}:{t}"));
    Ok(Err((id, kind)))
}

/// Parses a webhook call's body for the `object` of a flavour.
#[must_use]
pub fn parse_body(body: &[u8], object: &str, now_ms: i64) -> Parsed {
    let Ok(v) = serde_json::from_slice::<Value>(body) else { return Parsed::Malformed("the body is not JSON".into()) };
    match v.get("object").and_then(Value::as_str) {
        Some(o) if o == object => {}
        Some(o) => return Parsed::Malformed(format!("`object` is `{o}`; this channel takes `{object}`")),
        None => return Parsed::Malformed("no `object`".into()),
    }
    let Some(entries) = v.get("entry").and_then(Value::as_array) else {
        return Parsed::Malformed("no `entry` array".into());
    };
    let mut events = Vec::new();
    let mut other: Option<(Option<String>, String)> = None;
    for entry in entries {
        let Some(items) = entry.get("messaging").and_then(Value::as_array) else {
            // `changes` (feed, comments) or `standby`: not for the bot.
            let kind = entry
                .as_object()
                .and_then(|o| o.keys().find(|k| !matches!(k.as_str(), "id" | "time")).cloned())
                .unwrap_or_else(|| "entry".into());
            other.get_or_insert((None, kind));
            continue;
        };
        for item in items {
            match parse_item(item, now_ms) {
                Ok(Ok(mut e)) => events.append(&mut e),
                Ok(Err(ignored)) => {
                    other.get_or_insert(ignored);
                }
                Err(why) => return Parsed::Malformed(why),
            }
        }
    }
    match (events.is_empty(), other) {
        (true, Some((dedupe_id, event_type))) => Parsed::Ignored { dedupe_id, event_type },
        (true, None) => Parsed::Ignored { dedupe_id: None, event_type: "empty".into() },
        _ => Parsed::Events(events),
    }
}

// ---------------------------------------------------------------- Replies

/// At most `max` characters, the last one `…` when cut.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Splits `text` into pieces of at most `chars` characters and `bytes`
/// bytes, at whitespace where one is near the end.
#[must_use]
pub fn split_text(text: &str, chars: usize, bytes: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let mut end = 0;
        for (count, (i, c)) in rest.char_indices().enumerate() {
            if count >= chars || i + c.len_utf8() > bytes {
                break;
            }
            end = i + c.len_utf8();
        }
        if end == 0 {
            // A single character larger than the byte limit: cannot happen for UTF-8 with limits ≥ 4.
            end = rest.chars().next().map_or(rest.len(), char::len_utf8);
        }
        if end < rest.len()
            && let Some(space) = rest[..end].rfind(char::is_whitespace).filter(|&s| s > end / 2)
        {
            end = space;
        }
        out.push(rest[..end].trim_end().to_owned());
        rest = rest[end..].trim_start();
    }
    out
}

fn button(b: &ReplyButton) -> Value {
    if let Some(url) = &b.url {
        json!({ "type": "web_url", "url": url, "title": clip(&b.label, TITLE_MAX) })
    } else {
        let payload = b.value.clone().unwrap_or_else(|| b.label.clone());
        json!({ "type": "postback", "title": clip(&b.label, TITLE_MAX), "payload": clip(&payload, PAYLOAD_MAX) })
    }
}

/// The Send API `message` objects of one reply, in order, with their
/// `channel_messages.message_type`.
fn messages(flavour: &Flavour, text: &str, parts: &RichParts) -> Vec<(Value, &'static str)> {
    let mut out = Vec::new();
    if let Some(image) = &parts.image {
        let attachment = json!({ "type": "image", "payload": { "url": image.url, "is_reusable": true } });
        out.push((json!({ "attachment": attachment }), "image"));
    }
    let mut pieces = split_text(text, flavour.text_chars, flavour.text_bytes);
    let mut template_text = None;
    if !parts.buttons.is_empty() {
        // The button template carries the end of the text (at most 640 characters).
        let last = pieces.pop().unwrap_or_default();
        let mut tail = split_text(&last, BUTTON_TEXT_MAX, flavour.text_bytes);
        template_text = tail.pop();
        pieces.extend(tail);
    }
    for piece in pieces {
        out.push((json!({ "text": piece }), "text"));
    }
    for (i, group) in parts.buttons.chunks(BUTTONS_MAX).enumerate() {
        let text = if i == 0 { template_text.clone() } else { None }.unwrap_or_else(|| "…".to_owned());
        let payload =
            json!({ "template_type": "button", "text": text, "buttons": group.iter().map(button).collect::<Vec<_>>() });
        out.push((json!({ "attachment": { "type": "template", "payload": payload } }), "interactive"));
    }
    for group in parts.cards.chunks(ELEMENTS_MAX) {
        let elements: Vec<Value> = group
            .iter()
            .map(|card| {
                let mut e = json!({ "title": clip(&card.title, ELEMENT_TEXT_MAX) });
                if let Some(s) = card.subtitle.as_deref().filter(|s| !s.trim().is_empty()) {
                    e["subtitle"] = json!(clip(s, ELEMENT_TEXT_MAX));
                }
                if let Some(url) = &card.image_url {
                    e["image_url"] = json!(url);
                }
                if !card.buttons.is_empty() {
                    e["buttons"] = Value::Array(card.buttons.iter().take(BUTTONS_MAX).map(button).collect());
                }
                e
            })
            .collect();
        let payload = json!({ "template_type": "generic", "elements": elements });
        out.push((json!({ "attachment": { "type": "template", "payload": payload } }), "interactive"));
    }
    if !parts.quick_replies.is_empty() {
        let replies: Vec<Value> = parts
            .quick_replies
            .iter()
            .take(QUICK_REPLIES_MAX)
            .map(|q| json!({ "content_type": "text", "title": clip(&q.label, TITLE_MAX), "payload": clip(&q.value, PAYLOAD_MAX) }))
            .collect();
        if out.is_empty() {
            out.push((json!({ "text": "…" }), "interactive"));
        }
        if let Some((last, kind)) = out.last_mut() {
            last["quick_replies"] = Value::Array(replies);
            *kind = "interactive";
        }
    }
    out
}

/// The queued requests of one reply to `to`: the Send API `message`, the
/// recipient, and what the window check at send time needs.
fn render(flavour: &Flavour, to: &Recipient, agent: bool, text: &str, parts: &RichParts) -> Vec<Rendered> {
    let last_inbound = to.context.get("timestamp").and_then(Value::as_i64);
    messages(flavour, text, parts)
        .into_iter()
        .map(|(message, message_type)| Rendered {
            request: json!({
                "recipient": to.address, "message": message, "last_inbound_ms": last_inbound, "agent": agent,
            }),
            values: Vec::new(),
            message_type,
        })
        .collect()
}

/// How a message may go out at `now_ms` given the person's last message.
#[derive(Debug, PartialEq, Eq)]
pub enum Window {
    /// Within 24 hours (or unknown): a `RESPONSE`.
    Open,
    /// An agent's reply within 7 days: `MESSAGE_TAG` `HUMAN_AGENT`.
    HumanAgent,
    /// Not allowed; the hours since the last message.
    Closed(i64),
}

#[must_use]
pub fn window(last_inbound_ms: Option<i64>, agent: bool, now_ms: i64) -> Window {
    let Some(last) = last_inbound_ms else { return Window::Open };
    let age = now_ms - last;
    if age <= WINDOW_MS {
        Window::Open
    } else if agent && age <= HUMAN_AGENT_MS {
        Window::HumanAgent
    } else {
        Window::Closed(age / 3_600_000)
    }
}

// ---------------------------------------------------------------- Adapter

fn check_credentials(flavour: &Flavour, given: &Map<String, Value>) -> AppResult<Map<String, Value>> {
    let allowed: &[&str] = if flavour.kind == "instagram" {
        &["page_id", "page_access_token", "app_secret", "instagram_account_id"]
    } else {
        &["page_id", "page_access_token", "app_secret"]
    };
    let mut fields = adapter::string_fields(given, allowed)?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_digit());
    let page = adapter::required(&fields, "page_id", "the numeric ID of the Facebook Page (Page settings → About)")?;
    if !digits(page) {
        return Err(AppError::validation("credentials.page_id", "must be the Page's numeric ID"));
    }
    let token = adapter::required(&fields, "page_access_token", "a Page access token with pages_messaging")?;
    if token.len() < 20
        || token.len() > 1024
        || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.|".contains(&b))
    {
        return Err(AppError::validation(
            "credentials.page_access_token",
            "must be a Page access token (a long string starting EAA…)",
        ));
    }
    let secret = adapter::required(&fields, "app_secret", "the app secret (App settings → Basic)")?;
    if !(16..=128).contains(&secret.len()) || !secret.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(AppError::validation(
            "credentials.app_secret",
            "must be the Meta app's secret (32 letters and digits, App settings → Basic)",
        ));
    }
    if let Some(ig) = fields.get("instagram_account_id").and_then(Value::as_str) {
        if ig.is_empty() {
            fields.remove("instagram_account_id");
        } else if !digits(ig) {
            return Err(AppError::validation(
                "credentials.instagram_account_id",
                "must be the Instagram professional account's numeric ID",
            ));
        }
    }
    Ok(fields)
}

fn receipt(event: &Event) -> Option<Value> {
    matches!(event.kind, EventKind::Text { .. } | EventKind::Button { .. } | EventKind::Media { .. })
        .then(|| json!({ "recipient": event.sender.address, "sender_actions": ["mark_seen", "typing_on"] }))
}

async fn send(state: &AppState, secrets: &Secrets, request: &Value) -> Answer {
    let page = secrets.get("page_id");
    let path = format!("{page}/messages");
    let Some(to) = request.get("recipient").and_then(Value::as_str) else {
        return Answer::local("the queued request is unreadable");
    };
    if let Some(actions) = request.get("sender_actions").and_then(Value::as_array) {
        let mut last = Answer::local("no sender action");
        for action in actions.iter().filter_map(Value::as_str) {
            let body = json!({ "recipient": { "id": to }, "sender_action": action });
            last = graph(state, secrets, Method::POST, &path, &[], Some(&body)).await;
            if !matches!(last, Answer::Ok(_)) {
                return last;
            }
        }
        return last;
    }
    let Some(message) = request.get("message") else { return Answer::local("the queued request is unreadable") };
    let last_inbound = request.get("last_inbound_ms").and_then(Value::as_i64);
    let agent = request.get("agent").and_then(Value::as_bool).unwrap_or(false);
    let mut body = json!({ "recipient": { "id": to }, "message": message });
    match window(last_inbound, agent, chrono::Utc::now().timestamp_millis()) {
        Window::Open => body["messaging_type"] = json!("RESPONSE"),
        Window::HumanAgent => {
            body["messaging_type"] = json!("MESSAGE_TAG");
            body["tag"] = json!("HUMAN_AGENT");
        }
        Window::Closed(hours) => {
            return Answer::local(format!(
                "not sent: the person's last message was {hours} hours ago, outside the 24-hour messaging window \
                 (an agent's reply may go out up to 7 days after it)"
            ));
        }
    }
    graph(state, secrets, Method::POST, &path, &[], Some(&body)).await
}

/// Test-connection: the Page behind the token must be `page_id` (and, for
/// Instagram, have a linked professional account, `instagram_account_id` if given).
async fn check(flavour: &Flavour, state: &AppState, secrets: &Secrets) -> Result<Identity, Answer> {
    let fields =
        if flavour.kind == "instagram" { "id,name,instagram_business_account{id,username}" } else { "id,name" };
    let me = match graph(state, secrets, Method::GET, "me", &[("fields", fields)], None).await {
        Answer::Ok(me) => me,
        other => return Err(other),
    };
    let refused = |description: String| Answer::Refused { status: 401, description, retry_after: None };
    let id = text_of(&me, "id").unwrap_or_default();
    let name = text_of(&me, "name");
    if id != secrets.get("page_id") {
        return Err(refused(format!(
            "the access token belongs to {} (id {id}), not to the Page {}",
            name.as_deref().unwrap_or("another Page or a user"),
            secrets.get("page_id")
        )));
    }
    if flavour.kind != "instagram" {
        return Ok(Identity { username: name });
    }
    let Some(ig) = me.get("instagram_business_account") else {
        return Err(Answer::Refused {
            status: 404,
            description: "the Page has no linked Instagram professional account".into(),
            retry_after: None,
        });
    };
    let ig_id = text_of(ig, "id").unwrap_or_default();
    let wanted = secrets.get("instagram_account_id");
    if !wanted.is_empty() && wanted != ig_id {
        return Err(refused(format!("the Page's Instagram account is {ig_id}, not {wanted}")));
    }
    Ok(Identity { username: text_of(ig, "username").or(name) })
}

async fn activate(flavour: &Flavour, state: &AppState, secrets: &Secrets) -> Result<Identity, Answer> {
    let me = check(flavour, state, secrets).await?;
    let path = format!("{}/subscribed_apps", secrets.get("page_id"));
    let query = [("subscribed_fields", flavour.subscribed_fields)];
    match graph(state, secrets, Method::POST, &path, &query, None).await {
        Answer::Ok(r) if r.get("success").and_then(Value::as_bool) == Some(true) => Ok(me),
        Answer::Ok(r) => Err(Answer::Refused {
            status: 502,
            description: format!("subscribing the Page did not succeed: {r}"),
            retry_after: None,
        }),
        other => Err(other),
    }
}

macro_rules! meta_adapter {
    ($name:ident, $flavour:expr) => {
        impl Adapter for $name {
            fn kind(&self) -> &'static str {
                $flavour.kind
            }

            fn provider(&self) -> &'static str {
                $flavour.provider
            }

            fn check_credentials(&self, given: &Map<String, Value>) -> AppResult<Map<String, Value>> {
                check_credentials(&$flavour, given)
            }

            fn credential_field(&self) -> &'static str {
                "credentials.page_access_token"
            }

            /// The verify token pasted into the app's webhook settings.
            fn shows_webhook_secret(&self) -> bool {
                true
            }

            fn handshake(&self, secrets: &Secrets, req: &HookRequest<'_>) -> Option<HttpResponse> {
                meta::handshake(secrets, req)
            }

            fn verify(&self, secrets: &Secrets, req: &HookRequest<'_>) -> bool {
                meta::verify(secrets, req)
            }

            fn parse(&self, req: &HookRequest<'_>) -> Parsed {
                parse_body(req.body, $flavour.object, chrono::Utc::now().timestamp_millis())
            }

            fn render(&self, to: &Recipient, text: &str, parts: &RichParts) -> Vec<Rendered> {
                render(&$flavour, to, false, text, parts)
            }

            fn render_message(&self, to: &Recipient, role: Role, text: &str, parts: &RichParts) -> Vec<Rendered> {
                render(&$flavour, to, role == Role::Agent, text, parts)
            }

            fn receipt(&self, event: &Event) -> Option<Value> {
                receipt(event)
            }

            fn send<'a>(
                &'a self,
                state: &'a AppState,
                secrets: &'a Secrets,
                request: &'a Value,
                _idempotency_key: &'a str,
            ) -> BoxFuture<'a, Answer> {
                Box::pin(send(state, secrets, request))
            }

            fn sent_id(&self, result: &Value) -> Option<String> {
                result.get("message_id").and_then(Value::as_str).map(str::to_owned)
            }

            fn check<'a>(
                &'a self,
                state: &'a AppState,
                secrets: &'a Secrets,
            ) -> BoxFuture<'a, Result<Identity, Answer>> {
                Box::pin(check(&$flavour, state, secrets))
            }

            /// Checks the credentials, then subscribes the Page to the app.
            fn activate<'a>(
                &'a self,
                state: &'a AppState,
                secrets: &'a Secrets,
                _webhook_url: &'a str,
            ) -> BoxFuture<'a, Result<Identity, Answer>> {
                Box::pin(activate(&$flavour, state, secrets))
            }

            fn fetch_media<'a>(
                &'a self,
                state: &'a AppState,
                _secrets: &'a Secrets,
                media: &'a MediaRef,
            ) -> BoxFuture<'a, Result<MediaBytes, Answer>> {
                // Attachment URLs are signed CDN links: no token needed.
                Box::pin(adapter::download(state, &media.reference, &[], state.config.files.max_bytes()))
            }

            /// The Send API allows 300 calls a second per Page (10 for audio and video).
            fn min_interval(&self) -> Duration {
                Duration::from_millis(4)
            }
        }
    };
}

/// Facebook Messenger (a Page's conversations).
pub struct Messenger;
meta_adapter!(Messenger, MESSENGER);

/// Instagram messaging through the Page linked to the professional account.
pub struct Instagram;
meta_adapter!(Instagram, INSTAGRAM);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::engine::{QuickReply, ReplyCard, ReplyImage};

    fn page(items: &Value) -> Vec<u8> {
        json!({ "object": "page", "entry": [{ "id": "1", "time": 1, "messaging": items }] }).to_string().into_bytes()
    }

    #[test]
    fn webhook_items_become_events() {
        let body = page(&json!([
            { "sender": {"id": "u1"}, "recipient": {"id": "1"}, "timestamp": 1000, "message": {"mid": "m1", "text": "hi"} },
            { "sender": {"id": "u1"}, "recipient": {"id": "1"}, "timestamp": 1001, "message": {"mid": "m2", "text": "Red", "quick_reply": {"payload": "red"}} },
            { "sender": {"id": "u1"}, "recipient": {"id": "1"}, "timestamp": 1002, "postback": {"title": "Go", "payload": "go"} },
            { "sender": {"id": "u1"}, "recipient": {"id": "1"}, "timestamp": 1003, "message": {"mid": "m3", "attachments": [
                {"type": "image", "payload": {"url": "https://cdn/a.png"}}, {"type": "file", "payload": {"url": "https://cdn/b.pdf"}}]} },
            { "sender": {"id": "u1"}, "recipient": {"id": "1"}, "timestamp": 1004, "delivery": {"mids": ["o1", "o2"], "watermark": 1004} },
            { "sender": {"id": "u1"}, "recipient": {"id": "1"}, "timestamp": 1005, "read": {"watermark": 1005} },
            { "sender": {"id": "1"}, "recipient": {"id": "u1"}, "timestamp": 1006, "message": {"mid": "o3", "is_echo": true, "text": "x"} }
        ]));
        let Parsed::Events(e) = parse_body(&body, "page", 5_000) else { panic!("events") };
        let ids: Vec<&str> = e.iter().map(|e| e.dedupe_id.as_str()).collect();
        assert_eq!(ids, ["m1", "m2", "postback:u1:1002", "m3", "m3#1", "delivery:o1", "delivery:o2", "read:u1:1005"]);
        assert_eq!(e[0].kind, EventKind::Text { message_id: "m1".into(), text: "hi".into() });
        assert_eq!(e[0].context, json!({ "timestamp": 1000 }));
        assert!(matches!(&e[1].kind, EventKind::Button { value, .. } if value == "red"));
        assert!(matches!(&e[2].kind, EventKind::Button { value, .. } if value == "go"));
        assert!(matches!(&e[4].kind, EventKind::Media { media, .. } if media.kind == "document"));
        assert_eq!(e[5].kind, EventKind::Status { message_id: "o1".into(), status: Delivery::Delivered, error: None });
        assert_eq!(e[7].kind, EventKind::StatusUpTo { status: Delivery::Read, until_ms: 1005 });
        // Echoes alone are ignored; other objects and shapes are malformed.
        let echo = page(&json!([{ "sender": {"id": "1"}, "message": {"mid": "o3", "is_echo": true, "text": "x"} }]));
        assert!(matches!(parse_body(&echo, "page", 0), Parsed::Ignored { dedupe_id: Some(d), .. } if d == "echo:o3"));
        assert!(matches!(parse_body(&page(&json!([{ "message": {"mid": "x"} }])), "page", 0), Parsed::Malformed(_)));
        assert!(matches!(parse_body(&page(&json!([])), "instagram", 0), Parsed::Malformed(_)));
        assert!(matches!(parse_body(b"{", "page", 0), Parsed::Malformed(_)));
        // Instagram's seen event names the last message read.
        let seen = json!({ "object": "instagram", "entry": [{ "id": "9", "messaging": [
            { "sender": {"id": "u"}, "recipient": {"id": "9"}, "timestamp": 7, "read": {"mid": "o9"} }] }] });
        let Parsed::Events(e) = parse_body(seen.to_string().as_bytes(), "instagram", 0) else { panic!("seen") };
        assert_eq!(e[0].kind, EventKind::Status { message_id: "o9".into(), status: Delivery::Read, error: None });
    }

    #[test]
    fn text_splits_within_the_limits() {
        let long = "word ".repeat(900);
        let pieces = split_text(&long, 2000, usize::MAX);
        assert!(pieces.len() == 3 && pieces.iter().all(|p| p.chars().count() <= 2000), "{pieces:?}");
        assert_eq!(pieces.join(" "), long.trim());
        let accented = "é".repeat(700);
        let pieces = split_text(&accented, 1000, 1000);
        assert!(pieces.iter().all(|p| p.len() <= 1000), "{pieces:?}");
        assert_eq!(pieces.concat(), accented);
    }

    #[test]
    fn replies_render_within_meta_limits() {
        let parts = RichParts {
            quick_replies: (0..15)
                .map(|i| QuickReply { label: format!("An option far too long {i}"), value: format!("v{i}") })
                .collect(),
            buttons: (0..4)
                .map(|i| ReplyButton { label: format!("B{i}"), value: Some(format!("b{i}")), url: None })
                .chain([ReplyButton { label: "Site".into(), value: None, url: Some("https://e.com".into()) }])
                .collect(),
            cards: vec![ReplyCard {
                title: "Hat".into(),
                subtitle: Some("Warm".into()),
                image_url: None,
                buttons: vec![],
            }],
            image: Some(ReplyImage { url: "https://e.com/a.png".into(), alt: None }),
            ..RichParts::default()
        };
        let r = render(&MESSENGER, &Recipient { address: "u1".into(), ..Recipient::default() }, false, "Pick", &parts);
        let kinds: Vec<&str> = r.iter().map(|r| r.message_type).collect();
        assert_eq!(kinds, ["image", "interactive", "interactive", "interactive"]);
        assert_eq!(r[0].request["message"]["attachment"]["payload"]["url"], "https://e.com/a.png");
        let first = &r[1].request["message"]["attachment"]["payload"];
        assert_eq!(first["text"], "Pick");
        assert_eq!(first["buttons"].as_array().map(Vec::len), Some(3));
        let second = &r[2].request["message"]["attachment"]["payload"];
        assert_eq!(second["buttons"][1], json!({ "type": "web_url", "url": "https://e.com", "title": "Site" }));
        let last = &r[3].request["message"];
        assert_eq!(last["attachment"]["payload"]["template_type"], "generic");
        let quick = last["quick_replies"].as_array().expect("quick replies");
        assert_eq!(quick.len(), QUICK_REPLIES_MAX);
        assert_eq!(quick[0], json!({ "content_type": "text", "title": "An option far too l…", "payload": "v0" }));
        assert_eq!(r[3].request["recipient"], "u1");
    }

    #[test]
    fn the_window_allows_agents_seven_days() {
        let day = 24 * 3600 * 1000;
        assert_eq!(window(None, false, day * 30), Window::Open);
        assert_eq!(window(Some(0), false, day - 1), Window::Open);
        assert_eq!(window(Some(0), false, day + 1), Window::Closed(24));
        assert_eq!(window(Some(0), true, day * 2), Window::HumanAgent);
        assert_eq!(window(Some(0), true, day * 8), Window::Closed(192));
    }

    #[test]
    fn graph_errors_map_to_retries_and_credential_errors() {
        assert_eq!(graph_status(400, &json!({ "code": 613 })), 429);
        assert_eq!(graph_status(403, &json!({ "code": 4 })), 429);
        assert_eq!(graph_status(400, &json!({ "code": 190 })), 401);
        assert_eq!(graph_status(403, &json!({ "code": 200 })), 403);
        assert_eq!(graph_status(500, &json!({ "code": 2, "is_transient": true })), 503);
        assert_eq!(graph_status(400, &json!({ "code": 100 })), 400);
        let proof = json!({ "code": 100, "message": "Invalid appsecret_proof provided in the API argument" });
        assert_eq!(graph_status(400, &proof), 401);
    }
}

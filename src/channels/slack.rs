//! The Slack adapter (type `slack`): the Events API and interactivity on one
//! webhook URL, replies through the Web API (`channels.slack_api_base`,
//! default `https://slack.com/api`) with the bot token (`xoxb-…`) as Bearer.
//!
//! In: every call is signed: `X-Slack-Signature: v0=<hex HMAC-SHA256 of
//! "v0:{X-Slack-Request-Timestamp}:{raw body}">` under the app's signing
//! secret, with the timestamp within five minutes of now (replays are
//! refused), checked before anything — `url_verification` included, whose
//! `challenge` is then answered. The Events API posts JSON
//! (`event_callback`: `message` in direct messages, `app_mention` in
//! channels; bot messages and edits are ignored; deduplicated by
//! `event_id`, so Slack's retries with `X-Slack-Retry-Num` run once);
//! interactivity posts a form with `payload=<JSON>` (`block_actions`: a
//! button's `value` is a button press; the original message is updated with
//! `chat.update` to show the choice). Shared files come in as media,
//! downloaded from `url_private` with the bot token.
//!
//! Conversations: one per direct-message channel (the contact's address is
//! the `D…` channel id; replies go to the thread the user wrote in, if any),
//! and one per thread in channels (the address is `{channel}:{thread_ts}`;
//! a mention at the top of a channel starts a thread on that message and
//! the reply goes there). A follow-up in a channel thread must mention the
//! app again (the app reads channels only through `app_mentions:read`).
//!
//! Out: `chat.postMessage` with `channel`, `thread_ts`, a `text` fallback
//! and Block Kit `blocks` (mrkdwn sections of at most 3000 characters, an
//! `image` block, cards as sections with an image accessory, buttons and
//! quick replies as `actions` blocks of at most 25 buttons; values over 2000
//! characters go as `#n`); at most 50 blocks per message. Slack reports
//! errors as HTTP 200 `{"ok": false, "error"}`: `ratelimited` (or HTTP 429)
//! is retried after `Retry-After`, token errors are credential errors, the
//! rest are permanent. `chat.postMessage` is limited to about one message
//! per second per Slack channel: [`send`](Adapter::send) spaces two
//! messages to one Slack channel by a second, and [`Adapter::min_interval`]
//! keeps the app under about 600 requests a minute. Slack has no delivery
//! receipts: a sent message stays `sent`.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::adapter::{
    self, Adapter, Answer, Event, EventKind, HookRequest, Identity, MediaBytes, MediaRef, Parsed, Recipient, Rendered,
    Secrets, Sender,
};
use crate::app::AppState;
use crate::crypto::{constant_time_eq, hmac_sha256, sha256_hex};
use crate::error::{AppError, AppResult};
use crate::flows::engine::{ReplyButton, RichParts};

/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-Slack-Signature";
/// The header with the signed timestamp (Unix seconds).
pub const TIMESTAMP_HEADER: &str = "X-Slack-Request-Timestamp";
/// How far the signed timestamp may be from now (Slack's advice: five minutes).
pub const TOLERANCE_SECS: i64 = 300;
/// The most characters of a section block's text.
pub const SECTION_TEXT_MAX: usize = 3000;
/// The most elements of an `actions` block.
pub const ACTIONS_MAX: usize = 25;
/// The most characters of a button's `value`.
pub const VALUE_MAX: usize = 2000;
/// The most blocks of one message.
pub const BLOCKS_MAX: usize = 50;
/// The gap between two messages to one Slack channel.
pub const PER_CHANNEL_GAP: Duration = Duration::from_secs(1);

const TIMEOUT: Duration = Duration::from_secs(15);
const BUTTON_TEXT_MAX: usize = 75;
const FALLBACK_TEXT_MAX: usize = 4000;

/// Slack's errors that mean the token is wrong, revoked or lacks a scope.
const CREDENTIAL_ERRORS: [&str; 10] = [
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "no_permission",
    "missing_scope",
    "not_allowed_token_type",
    "team_access_not_granted",
    "ekm_access_denied",
];

/// Slack's errors that may pass (retried like a 5xx).
const TRANSIENT_ERRORS: [&str; 4] = ["fatal_error", "internal_error", "service_unavailable", "request_timeout"];

/// The `v0=<hex>` signature of a request body sent at `timestamp`.
#[must_use]
pub fn sign(signing_secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut base = format!("v0:{timestamp}:").into_bytes();
    base.extend_from_slice(body);
    format!("v0={}", hex::encode(hmac_sha256(signing_secret.as_bytes(), &base)))
}

/// Whether `signature` signs `body` at `timestamp`, within the tolerance of `now`.
#[must_use]
pub fn signature_ok(signing_secret: &str, timestamp: &str, signature: &str, body: &[u8], now: i64) -> bool {
    let Ok(ts) = timestamp.trim().parse::<i64>() else { return false };
    if signing_secret.is_empty() || (now - ts).abs() > TOLERANCE_SECS {
        return false;
    }
    constant_time_eq(sign(signing_secret, timestamp.trim(), body).as_bytes(), signature.trim().as_bytes())
}

fn request_signed(secrets: &Secrets, req: &HookRequest<'_>) -> bool {
    let (Some(timestamp), Some(signature)) = (req.header(TIMESTAMP_HEADER), req.header(SIGNATURE_HEADER)) else {
        return false;
    };
    signature_ok(secrets.get("signing_secret"), timestamp, signature, req.body, chrono::Utc::now().timestamp())
}

/// The JSON of a call: the Events API's body, or interactivity's `payload` form field.
fn payload_of(body: &[u8]) -> Option<Value> {
    if body.trim_ascii_start().starts_with(b"{") {
        return serde_json::from_slice(body).ok();
    }
    let payload = url::form_urlencoded::parse(body).find(|(k, _)| k == "payload").map(|(_, v)| v.into_owned())?;
    serde_json::from_str(&payload).ok()
}

fn str_at<'v>(v: &'v Value, pointer: &str) -> Option<&'v str> {
    v.pointer(pointer).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// Slack's escaping of `&`, `<` and `>` in text.
#[must_use]
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

/// A mention's text without the leading `<@U…>` mentions of the app.
fn without_leading_mentions(text: &str) -> &str {
    let mut rest = text.trim_start();
    while let Some(after) = rest.strip_prefix("<@") {
        let Some(end) = after.find('>') else { break };
        rest = after[end + 1..].trim_start();
    }
    rest
}

fn media_kind(mime: Option<&str>) -> &'static str {
    match mime.and_then(|m| m.split('/').next()) {
        Some("image") => "image",
        Some("video") => "video",
        Some("audio") => "audio",
        _ => "document",
    }
}

/// Parses an Events API `event_callback`.
fn parse_callback(envelope: &Value) -> Parsed {
    let Some(event_id) = str_at(envelope, "/event_id") else {
        return Parsed::Malformed("an event_callback without event_id".into());
    };
    let Some(event) = envelope.get("event").filter(|e| e.is_object()) else {
        return Parsed::Malformed("an event_callback without event".into());
    };
    let event_type = str_at(event, "/type").unwrap_or("unknown");
    let ignored = |why: &str| Parsed::Ignored { dedupe_id: Some(event_id.to_owned()), event_type: why.to_owned() };
    let subtype = str_at(event, "/subtype");
    // Bots (this app included), edits, deletions, joins…: only people's messages and files.
    if event.get("bot_id").is_some_and(|b| !b.is_null())
        || subtype.is_some_and(|s| s != "file_share" && s != "thread_broadcast")
    {
        return ignored(&format!("{event_type}.{}", subtype.unwrap_or("bot")));
    }
    let direct = str_at(event, "/channel_type") == Some("im");
    match event_type {
        "app_mention" => {}
        // Messages in channels arrive as `app_mention` (when the app is mentioned).
        "message" if direct => {}
        "message" => return ignored("message.not_direct"),
        other => return ignored(other),
    }
    let (Some(channel), Some(ts)) = (str_at(event, "/channel"), str_at(event, "/ts")) else {
        return Parsed::Malformed(format!("a {event_type} event without channel or ts"));
    };
    let Some(user) = str_at(event, "/user") else { return ignored(&format!("{event_type}.no_user")) };
    let in_thread = str_at(event, "/thread_ts");
    let (address, thread) = if direct {
        (channel.to_owned(), in_thread.map(str::to_owned))
    } else {
        let thread = in_thread.unwrap_or(ts);
        (format!("{channel}:{thread}"), Some(thread.to_owned()))
    };
    let sender = Sender { address, username: Some(user.to_owned()), display_name: None, phone: None };
    let raw_text = str_at(event, "/text").unwrap_or("");
    let stripped = if event_type == "app_mention" { without_leading_mentions(raw_text) } else { raw_text };
    let text = unescape(stripped.trim());
    let message_id = format!("{channel}:{ts}");
    let files: Vec<&Value> = event
        .get("files")
        .and_then(Value::as_array)
        .map(|f| {
            f.iter().filter(|f| str_at(f, "/url_private_download").or(str_at(f, "/url_private")).is_some()).collect()
        })
        .unwrap_or_default();
    let event_of = |dedupe_id: String, kind: EventKind| Event {
        dedupe_id,
        event_type: event_type.to_owned(),
        sender: sender.clone(),
        thread: thread.clone(),
        kind,
        raw: envelope.clone(),
        context: Value::Null,
    };
    if files.is_empty() {
        if text.is_empty() {
            return ignored(&format!("{event_type}.empty"));
        }
        return Parsed::Events(vec![event_of(event_id.to_owned(), EventKind::Text { message_id, text })]);
    }
    let events = files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mime = str_at(f, "/mimetype");
            let media = MediaRef {
                reference: str_at(f, "/url_private_download").or(str_at(f, "/url_private")).unwrap_or("").to_owned(),
                mime_type: mime.map(str::to_owned),
                filename: str_at(f, "/name").map(str::to_owned),
                kind: media_kind(mime),
            };
            // The first file carries the text; each file is its own event and message.
            let (dedupe, mid, caption) = if i == 0 {
                (event_id.to_owned(), message_id.clone(), (!text.is_empty()).then(|| text.clone()))
            } else {
                (format!("{event_id}:file{i}"), format!("{message_id}:file{i}"), None)
            };
            event_of(dedupe, EventKind::Media { message_id: mid, media, caption })
        })
        .collect();
    Parsed::Events(events)
}

/// The original message with the pressed button's `actions` block replaced
/// by a line saying who chose what (`chat.update`).
fn choice_update(payload: &Value, channel: &str, ts: &str, action: &Value) -> Option<Value> {
    let blocks = payload.pointer("/message/blocks").and_then(Value::as_array)?;
    let block_id = str_at(action, "/block_id")?;
    let label = str_at(action, "/text/text").or(str_at(action, "/value")).unwrap_or("");
    let who = str_at(payload, "/user/id").map_or_else(String::new, |u| format!("<@{u}> "));
    let line = json!({ "type": "context", "elements": [
        { "type": "mrkdwn", "text": format!("{who}chose *{}*", escape(label)) } ] });
    let mut changed = false;
    let blocks: Vec<Value> = blocks
        .iter()
        .map(|b| {
            if str_at(b, "/block_id") == Some(block_id) && str_at(b, "/type") == Some("actions") {
                changed = true;
                line.clone()
            } else {
                b.clone()
            }
        })
        .collect();
    if !changed {
        return None;
    }
    let text = str_at(payload, "/message/text").unwrap_or(label);
    Some(json!({ "method": "chat.update", "body": { "channel": channel, "ts": ts, "text": text, "blocks": blocks } }))
}

/// Parses an interactivity payload (`block_actions`: button presses).
fn parse_interaction(payload: &Value) -> Parsed {
    let kind = str_at(payload, "/type").unwrap_or("unknown");
    if kind != "block_actions" {
        return Parsed::Ignored { dedupe_id: None, event_type: format!("interactivity.{kind}") };
    }
    let Some(action) = payload.pointer("/actions/0") else {
        return Parsed::Malformed("block_actions without actions".into());
    };
    let channel = str_at(payload, "/channel/id").or(str_at(payload, "/container/channel_id"));
    let message_ts = str_at(payload, "/message/ts").or(str_at(payload, "/container/message_ts"));
    let (Some(channel), Some(message_ts), Some(user)) = (channel, message_ts, str_at(payload, "/user/id")) else {
        return Parsed::Malformed("block_actions without channel, message or user".into());
    };
    let action_ts = str_at(action, "/action_ts").or(str_at(payload, "/trigger_id")).unwrap_or("");
    let id = format!("{channel}:{message_ts}:{action_ts}");
    // A link button reports its click too, without a value: nothing to answer.
    let Some(value) = str_at(action, "/value") else {
        return Parsed::Ignored { dedupe_id: Some(id), event_type: "block_actions.link".into() };
    };
    let thread = str_at(payload, "/message/thread_ts").or(str_at(payload, "/container/thread_ts"));
    // A `D…` channel is a direct message: one conversation for the channel.
    let (address, thread) = if channel.starts_with('D') {
        (channel.to_owned(), thread.map(str::to_owned))
    } else {
        let thread = thread.unwrap_or(message_ts);
        (format!("{channel}:{thread}"), Some(thread.to_owned()))
    };
    let sender = Sender {
        address,
        username: str_at(payload, "/user/username").or(Some(user)).map(str::to_owned),
        display_name: str_at(payload, "/user/name").map(str::to_owned),
        phone: None,
    };
    Parsed::Events(vec![Event {
        dedupe_id: id.clone(),
        event_type: "block_actions".into(),
        sender,
        thread,
        kind: EventKind::Button {
            id,
            value: value.to_owned(),
            message_id: Some(format!("{channel}:{message_ts}")),
            ack: choice_update(payload, channel, message_ts, action),
        },
        raw: payload.clone(),
        context: Value::Null,
    }])
}

/// Parses a call's JSON (an Events API envelope or an interactivity payload).
#[must_use]
pub fn parse_payload(payload: &Value) -> Parsed {
    match str_at(payload, "/type") {
        Some("event_callback") => parse_callback(payload),
        Some(
            "block_actions" | "view_submission" | "view_closed" | "shortcut" | "message_action" | "block_suggestion",
        ) => parse_interaction(payload),
        Some("url_verification") => Parsed::Ignored { dedupe_id: None, event_type: "url_verification".into() },
        Some("app_rate_limited") => Parsed::Ignored { dedupe_id: None, event_type: "app_rate_limited".into() },
        Some(other) => Parsed::Ignored { dedupe_id: None, event_type: other.to_owned() },
        None => Parsed::Malformed("no type".into()),
    }
}

/// Splits escaped text into pieces of at most `max` characters, at a line
/// or word break where one is near, never inside an `&…;` entity.
fn split_escaped(text: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut count = 0;
    for c in text.chars() {
        let piece = escape(c.encode_utf8(&mut [0; 4]));
        let n = piece.chars().count();
        if count + n > max {
            // Break at the last newline or space in the second half, if any.
            let cut =
                current.rfind('\n').or_else(|| current.rfind(' ')).filter(|&i| current[..i].chars().count() > max / 2);
            if let Some(i) = cut {
                let rest = current[i + 1..].to_owned();
                current.truncate(i);
                out.push(std::mem::replace(&mut current, rest));
            } else {
                out.push(std::mem::take(&mut current));
            }
            count = current.chars().count();
        }
        current.push_str(&piece);
        count += n;
    }
    if !current.trim().is_empty() {
        out.push(current);
    }
    out.retain(|p| !p.trim().is_empty());
    out
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut t: String = text.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// A button element; long values go as `#n` (n indexes `values`).
fn button(label: &str, value: Option<&str>, url: Option<&str>, n: usize, values: &mut Vec<String>) -> Value {
    let mut b = json!({
        "type": "button",
        "action_id": format!("bb_{n}"),
        "text": { "type": "plain_text", "text": truncate(label, BUTTON_TEXT_MAX), "emoji": true },
    });
    if let Some(url) = url {
        b["url"] = json!(url);
    } else {
        let value = value.unwrap_or(label);
        b["value"] = if value.chars().count() <= VALUE_MAX && !value.starts_with('#') {
            json!(value)
        } else {
            values.push(value.to_owned());
            json!(format!("#{}", values.len() - 1))
        };
    }
    b
}

/// `actions` blocks of at most 25 buttons each.
fn actions_blocks(buttons: &[Value], blocks: &mut Vec<Value>) {
    for chunk in buttons.chunks(ACTIONS_MAX) {
        let n = blocks.len();
        blocks.push(json!({ "type": "actions", "block_id": format!("bb_actions_{n}"), "elements": chunk }));
    }
}

fn reply_button(b: &ReplyButton, n: usize, values: &mut Vec<String>) -> Value {
    button(&b.label, b.value.as_deref(), b.url.as_deref(), n, values)
}

/// The channel and thread of a reply: the address's own thread (channel
/// conversations), else the thread of the last message (direct messages).
#[must_use]
pub fn destination(to: &Recipient) -> (String, Option<String>) {
    match to.address.split_once(':') {
        Some((channel, thread)) => (channel.to_owned(), Some(thread.to_owned())),
        None => (to.address.clone(), to.thread.clone()),
    }
}

/// The `chat.postMessage` requests that show a reply.
#[must_use]
pub fn render(to: &Recipient, text: &str, parts: &RichParts) -> Vec<Rendered> {
    let (channel, thread) = destination(to);
    let mut blocks: Vec<Value> = Vec::new();
    let mut values = Vec::new();
    let mut n = 0;
    let mut next = || {
        n += 1;
        n - 1
    };
    for piece in split_escaped(text.trim(), SECTION_TEXT_MAX) {
        blocks.push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": piece } }));
    }
    if let Some(image) = &parts.image {
        let alt = image.alt.as_deref().filter(|a| !a.trim().is_empty()).unwrap_or("image");
        blocks.push(json!({ "type": "image", "image_url": image.url, "alt_text": truncate(alt, 2000) }));
    }
    for card in &parts.cards {
        let sub = card.subtitle.as_deref().map(|s| format!("\n{}", escape(s))).unwrap_or_default();
        let mut section = json!({ "type": "section", "text": { "type": "mrkdwn",
            "text": truncate(&format!("*{}*{sub}", escape(&card.title)), SECTION_TEXT_MAX) } });
        if let Some(url) = &card.image_url {
            section["accessory"] =
                json!({ "type": "image", "image_url": url, "alt_text": truncate(&card.title, 2000) });
        }
        blocks.push(section);
        let buttons: Vec<Value> = card.buttons.iter().map(|b| reply_button(b, next(), &mut values)).collect();
        actions_blocks(&buttons, &mut blocks);
    }
    let mut buttons: Vec<Value> =
        parts.quick_replies.iter().map(|q| button(&q.label, Some(&q.value), None, next(), &mut values)).collect();
    buttons.extend(parts.buttons.iter().map(|b| reply_button(b, next(), &mut values)));
    actions_blocks(&buttons, &mut blocks);
    if blocks.is_empty() {
        return Vec::new();
    }
    let mut fallback = text.trim().to_owned();
    if fallback.is_empty() {
        let labels = parts.quick_replies.iter().map(|q| q.label.as_str());
        let labels = labels
            .chain(parts.cards.iter().map(|c| c.title.as_str()))
            .chain(parts.buttons.iter().map(|b| b.label.as_str()));
        fallback = labels.collect::<Vec<_>>().join(" · ");
    }
    let fallback = truncate(&escape(&fallback), FALLBACK_TEXT_MAX);
    blocks
        .chunks(BLOCKS_MAX)
        .map(|chunk| {
            let mut body = json!({ "channel": channel, "text": fallback, "blocks": chunk });
            if let Some(t) = &thread {
                body["thread_ts"] = json!(t);
            }
            let interactive = chunk.iter().any(|b| b["type"] == "actions");
            let message_type = if interactive {
                "interactive"
            } else if chunk.iter().all(|b| b["type"] == "image") {
                "image"
            } else {
                "text"
            };
            Rendered {
                request: json!({ "method": "chat.postMessage", "body": body }),
                values: if interactive { values.clone() } else { Vec::new() },
                message_type,
            }
        })
        .collect()
}

/// What Slack's answer means: the result, or a refusal with a status the
/// queue understands (429 retry later, 401/403 credentials, 400 permanent).
fn answer_of(status: u16, body: &Value, header_retry: Option<Duration>) -> Answer {
    if status == 200 && body.get("ok").and_then(Value::as_bool) == Some(true) {
        return Answer::Ok(body.clone());
    }
    let error = body.get("error").and_then(Value::as_str);
    let description = match (error, str_at(body, "/needed")) {
        (Some(e), Some(needed)) => format!("{e} (needed: {needed})"),
        (Some(e), None) => e.to_owned(),
        (None, _) if status == 429 => "ratelimited".to_owned(),
        (None, _) => format!("the Slack API answered HTTP {status}"),
    };
    let status = match error {
        _ if status == 429 || error == Some("ratelimited") => 429,
        Some("missing_scope" | "no_permission" | "team_access_not_granted" | "ekm_access_denied") => 403,
        Some(e) if CREDENTIAL_ERRORS.contains(&e) => 401,
        Some(e) if TRANSIENT_ERRORS.contains(&e) => 503,
        Some(_) => 400,
        None if status == 200 => 502,
        None => status,
    };
    let retry_after = (status == 429).then(|| header_retry.unwrap_or(Duration::from_secs(1)));
    Answer::Refused { status, description, retry_after }
}

/// Calls a Web API method with a JSON body and the bot token.
pub async fn call(state: &AppState, token: &str, method: &str, body: &Value) -> Answer {
    let base = state.config.channels.slack_api_base.trim_end_matches('/');
    let request = match state.outbound.request(Method::POST, &format!("{base}/{method}")) {
        Ok(r) => r
            .timeout(TIMEOUT)
            .bearer_auth(token)
            .header("content-type", "application/json; charset=utf-8")
            .body(body.to_string()),
        Err(e) => return Answer::Unreachable(e.to_string()),
    };
    let response = match state.outbound.send(request).await {
        Ok(r) => r,
        Err(e) => return Answer::Unreachable(e.to_string()),
    };
    let status = response.status().as_u16();
    let header_retry = adapter::retry_after_header(response.headers());
    let parsed: Value = response.json().await.unwrap_or(Value::Null);
    answer_of(status, &parsed, header_retry)
}

/// When the last message to each Slack channel left (key: token hash and channel).
static LAST_POST: LazyLock<Mutex<HashMap<String, Instant>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// Waits until a second has passed since the last message to `channel` of this app.
async fn pace(token: &str, channel: &str) {
    let key = format!("{}:{channel}", &sha256_hex(token.as_bytes())[..16]);
    let wait = {
        let Ok(mut last) = LAST_POST.lock() else { return };
        let now = Instant::now();
        last.retain(|_, at| now.duration_since(*at) < PER_CHANNEL_GAP);
        let due = last.get(&key).map_or(now, |at| *at + PER_CHANNEL_GAP);
        last.insert(key, due.max(now));
        due.saturating_duration_since(now)
    };
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
}

/// Whether the bot token may be sent to `url`: Slack's file hosts, or the
/// configured API base's origin (a mirror, a test fake).
fn may_carry_token(state: &AppState, url: &str) -> bool {
    let Ok(u) = url::Url::parse(url) else { return false };
    let slack_host = u.scheme() == "https"
        && u.host_str().is_some_and(|h| h == "files.slack.com" || h.ends_with(".slack.com") || h == "slack.com");
    let same_origin =
        url::Url::parse(&state.config.channels.slack_api_base).is_ok_and(|base| base.origin() == u.origin());
    slack_host || same_origin
}

/// The Slack adapter.
pub struct Slack;

impl Adapter for Slack {
    fn kind(&self) -> &'static str {
        "slack"
    }

    fn provider(&self) -> &'static str {
        "Slack"
    }

    fn check_credentials(&self, given: &Map<String, Value>) -> AppResult<Map<String, Value>> {
        let fields = adapter::string_fields(given, &["bot_token", "signing_secret"])?;
        let token = adapter::required(&fields, "bot_token", "the app's Bot User OAuth Token (xoxb-…)")?;
        if !token.starts_with("xoxb-")
            || token.len() > 255
            || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(AppError::validation(
                "credentials.bot_token",
                "a Bot User OAuth Token from the app's OAuth & Permissions page, like xoxb-…",
            ));
        }
        let secret = adapter::required(&fields, "signing_secret", "the app's Signing Secret (Basic Information)")?;
        if !(16..=128).contains(&secret.len()) || !secret.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(AppError::validation(
                "credentials.signing_secret",
                "the Signing Secret from the app's Basic Information page (letters and digits)",
            ));
        }
        Ok(fields)
    }

    fn credential_field(&self) -> &'static str {
        "credentials.bot_token"
    }

    /// `url_verification` is answered only when signed like any other call.
    fn handshake(&self, secrets: &Secrets, req: &HookRequest<'_>) -> Option<actix_web::HttpResponse> {
        let payload: Value = serde_json::from_slice(req.body).ok()?;
        if str_at(&payload, "/type") != Some("url_verification") || !request_signed(secrets, req) {
            return None;
        }
        let challenge = str_at(&payload, "/challenge").unwrap_or("");
        Some(actix_web::HttpResponse::Ok().json(json!({ "challenge": challenge })))
    }

    fn verify(&self, secrets: &Secrets, req: &HookRequest<'_>) -> bool {
        request_signed(secrets, req)
    }

    fn parse(&self, req: &HookRequest<'_>) -> Parsed {
        match payload_of(req.body) {
            Some(payload) => parse_payload(&payload),
            None => Parsed::Malformed("neither JSON nor a form with a JSON payload".into()),
        }
    }

    fn render(&self, to: &Recipient, text: &str, parts: &RichParts) -> Vec<Rendered> {
        render(to, text, parts)
    }

    fn send<'a>(
        &'a self,
        state: &'a AppState,
        secrets: &'a Secrets,
        request: &'a Value,
        _idempotency_key: &'a str,
    ) -> BoxFuture<'a, Answer> {
        Box::pin(async move {
            let (Some(method), Some(body)) = (request.get("method").and_then(Value::as_str), request.get("body"))
            else {
                return Answer::local("the queued request is unreadable");
            };
            let token = secrets.get("bot_token");
            if method == "chat.postMessage"
                && let Some(channel) = body.get("channel").and_then(Value::as_str)
            {
                pace(token, channel).await;
            }
            match call(state, token, method, body).await {
                // An update is no new message: no provider id to record.
                Answer::Ok(result) if method != "chat.postMessage" => Answer::Ok(json!({ "updated": result })),
                other => other,
            }
        })
    }

    fn sent_id(&self, result: &Value) -> Option<String> {
        let channel = result.get("channel").and_then(Value::as_str)?;
        let ts = result.get("ts").and_then(Value::as_str)?;
        Some(format!("{channel}:{ts}"))
    }

    fn check<'a>(&'a self, state: &'a AppState, secrets: &'a Secrets) -> BoxFuture<'a, Result<Identity, Answer>> {
        Box::pin(async move {
            match call(state, secrets.get("bot_token"), "auth.test", &json!({})).await {
                Answer::Ok(me) => {
                    let user = me.get("user").and_then(Value::as_str);
                    let team = me.get("team").and_then(Value::as_str);
                    let username = match (user, team) {
                        (Some(u), Some(t)) => Some(format!("{u} @ {t}")),
                        (Some(u), None) => Some(u.to_owned()),
                        _ => None,
                    };
                    Ok(Identity { username })
                }
                other => Err(other),
            }
        })
    }

    fn fetch_media<'a>(
        &'a self,
        state: &'a AppState,
        secrets: &'a Secrets,
        media: &'a MediaRef,
    ) -> BoxFuture<'a, Result<MediaBytes, Answer>> {
        Box::pin(async move {
            if !may_carry_token(state, &media.reference) {
                return Err(Answer::local("the file is not on a Slack host"));
            }
            let auth = [("authorization", format!("Bearer {}", secrets.get("bot_token")))];
            adapter::download(state, &media.reference, &auth, state.config.files.max_bytes()).await
        })
    }

    /// Slack's workspace-wide posting limit is "several hundred messages a
    /// minute": at most 10 requests a second per app; one Slack channel gets
    /// at most one message a second (see [`pace`]).
    fn min_interval(&self) -> Duration {
        Duration::from_millis(100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::engine::{QuickReply, ReplyCard, ReplyImage};

    #[test]
    fn slacks_documented_signature_example_verifies() {
        let secret = "8f742231b10e8888abcd99yyyzzz85a5";
        let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
        assert_eq!(sign(secret, "1531420618", body.as_bytes()), expected);
        assert!(signature_ok(secret, "1531420618", expected, body.as_bytes(), 1_531_420_618 + 299));
        // Replays: five minutes and a second late (or early) are refused.
        assert!(!signature_ok(secret, "1531420618", expected, body.as_bytes(), 1_531_420_618 + 301));
        assert!(!signature_ok(secret, "1531420618", expected, body.as_bytes(), 1_531_420_618 - 301));
        assert!(!signature_ok(secret, "1531420618", expected, b"token=changed", 1_531_420_618));
        assert!(!signature_ok("", "1531420618", expected, body.as_bytes(), 1_531_420_618));
        assert!(!signature_ok(secret, "soon", expected, body.as_bytes(), 1_531_420_618));
    }

    fn callback(event: &Value) -> Value {
        json!({ "type": "event_callback", "event_id": "Ev1", "team_id": "T1", "event": event })
    }

    #[test]
    fn direct_messages_and_mentions_get_their_conversation_keys() {
        let dm = callback(&json!({ "type": "message", "channel_type": "im", "channel": "D1", "user": "U1",
            "text": "a &lt;b&gt; &amp; c", "ts": "100.1" }));
        let Parsed::Events(e) = parse_payload(&dm) else { panic!("dm") };
        assert_eq!((e[0].sender.address.as_str(), e[0].thread.as_deref()), ("D1", None));
        assert_eq!(e[0].kind, EventKind::Text { message_id: "D1:100.1".into(), text: "a <b> & c".into() });
        let mention = callback(&json!({ "type": "app_mention", "channel": "C1", "user": "U1",
            "text": "<@UBOT> hello there", "ts": "200.2" }));
        let Parsed::Events(e) = parse_payload(&mention) else { panic!("mention") };
        assert_eq!((e[0].sender.address.as_str(), e[0].thread.as_deref()), ("C1:200.2", Some("200.2")));
        assert_eq!(e[0].kind, EventKind::Text { message_id: "C1:200.2".into(), text: "hello there".into() });
        let in_thread = callback(&json!({ "type": "app_mention", "channel": "C1", "user": "U1",
            "text": "<@UBOT> more", "ts": "300.3", "thread_ts": "200.2" }));
        let Parsed::Events(e) = parse_payload(&in_thread) else { panic!("thread") };
        assert_eq!(e[0].sender.address, "C1:200.2");
        // Bots, edits and channel chatter are ignored, with the event id kept.
        for ignored in [
            json!({ "type": "message", "channel_type": "im", "channel": "D1", "bot_id": "B1", "text": "x", "ts": "1.1" }),
            json!({ "type": "message", "channel_type": "im", "channel": "D1", "subtype": "message_changed", "ts": "1.1" }),
            json!({ "type": "message", "channel_type": "channel", "channel": "C1", "user": "U1", "text": "x", "ts": "1.1" }),
            json!({ "type": "reaction_added", "user": "U1" }),
        ] {
            assert!(
                matches!(parse_payload(&callback(&ignored)), Parsed::Ignored { dedupe_id: Some(_), .. }),
                "{ignored}"
            );
        }
        assert!(matches!(parse_payload(&json!({ "type": "event_callback", "event": {} })), Parsed::Malformed(_)));
        assert!(matches!(parse_payload(&json!({ "nothing": 1 })), Parsed::Malformed(_)));
    }

    #[test]
    fn replies_render_as_blocks_in_the_thread() {
        let to = Recipient { address: "C1:200.2".into(), thread: None, context: Value::Null };
        let long = "v".repeat(VALUE_MAX + 1);
        let parts = RichParts {
            quick_replies: vec![
                QuickReply { label: "Red".into(), value: "red".into() },
                QuickReply { label: "Long".into(), value: long.clone() },
            ],
            image: Some(ReplyImage { url: "https://e.com/a.png".into(), alt: None }),
            cards: vec![ReplyCard {
                title: "A & B".into(),
                subtitle: Some("sub".into()),
                image_url: Some("https://e.com/c.png".into()),
                buttons: vec![ReplyButton { label: "Site".into(), value: None, url: Some("https://e.com".into()) }],
            }],
            ..RichParts::default()
        };
        let r = render(&to, "Pick <one>", &parts);
        assert_eq!(r.len(), 1);
        let body = &r[0].request["body"];
        assert_eq!(r[0].request["method"], "chat.postMessage");
        assert_eq!((body["channel"].as_str(), body["thread_ts"].as_str()), (Some("C1"), Some("200.2")));
        assert_eq!(body["text"], "Pick &lt;one&gt;");
        let types: Vec<&str> = body["blocks"]
            .as_array()
            .map(|b| b.iter().filter_map(|b| b["type"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(types, vec!["section", "image", "section", "actions", "actions"]);
        assert_eq!(body["blocks"][2]["text"]["text"], "*A &amp; B*\nsub");
        assert_eq!(body["blocks"][2]["accessory"]["image_url"], "https://e.com/c.png");
        assert_eq!(body["blocks"][3]["elements"][0]["url"], "https://e.com");
        assert_eq!(body["blocks"][4]["elements"][1]["value"], "#0");
        assert_eq!(r[0].values, vec![long]);
        assert_eq!(r[0].message_type, "interactive");
        // A direct message without a thread gets no thread_ts.
        let dm = Recipient { address: "D1".into(), thread: None, context: Value::Null };
        assert!(render(&dm, "hi", &RichParts::default())[0].request["body"].get("thread_ts").is_none());
    }

    #[test]
    fn long_texts_split_into_sections_and_many_buttons_into_several_actions_blocks() {
        let text = format!("{} {}", "a".repeat(2500), "b & c ".repeat(200));
        let pieces = split_escaped(&text, SECTION_TEXT_MAX);
        assert!(pieces.len() >= 2, "{}", pieces.len());
        assert!(pieces.iter().all(|p| p.chars().count() <= SECTION_TEXT_MAX));
        assert!(pieces.iter().all(|p| !p.ends_with("&am") && !p.ends_with('&')));
        let quick_replies = (0..30).map(|i| QuickReply { label: format!("{i}"), value: format!("{i}") }).collect();
        let parts = RichParts { quick_replies, ..RichParts::default() };
        let to = Recipient { address: "D1".into(), thread: None, context: Value::Null };
        let r = render(&to, "", &parts);
        let blocks = r[0].request["body"]["blocks"].as_array().cloned().unwrap_or_default();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0]["elements"].as_array().map(Vec::len), Some(25));
        assert_eq!(blocks[1]["elements"].as_array().map(Vec::len), Some(5));
    }

    #[test]
    fn slacks_errors_map_to_retry_credentials_or_permanent() {
        let refused = |status: u16, body: Value, retry: Option<Duration>| match answer_of(status, &body, retry) {
            Answer::Refused { status, description, retry_after } => (status, description, retry_after),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            refused(429, json!({"ok": false, "error": "ratelimited"}), Some(Duration::from_secs(3))),
            (429, "ratelimited".into(), Some(Duration::from_secs(3)))
        );
        assert_eq!(refused(200, json!({"ok": false, "error": "ratelimited"}), None).0, 429);
        assert_eq!(
            refused(200, json!({"ok": false, "error": "invalid_auth"}), None),
            (401, "invalid_auth".into(), None)
        );
        assert_eq!(refused(200, json!({"ok": false, "error": "token_revoked"}), None).0, 401);
        assert_eq!(
            refused(200, json!({"ok": false, "error": "missing_scope", "needed": "chat:write"}), None),
            (403, "missing_scope (needed: chat:write)".into(), None)
        );
        assert_eq!(refused(200, json!({"ok": false, "error": "channel_not_found"}), None).0, 400);
        assert_eq!(refused(200, json!({"ok": false, "error": "internal_error"}), None).0, 503);
        assert!(matches!(answer_of(200, &json!({"ok": true, "channel": "C1", "ts": "1.2"}), None), Answer::Ok(_)));
        assert_eq!(Slack.sent_id(&json!({"ok": true, "channel": "C1", "ts": "1.2"})), Some("C1:1.2".into()));
    }
}

//! The WhatsApp Cloud API adapter (`whatsapp`): Graph API requests to
//! `{graph}/{phone_number_id}/messages` with the access token as Bearer
//! (base: `channels.graph_api_base`, version included), webhooks verified
//! with `X-Hub-Signature-256` (HMAC-SHA256 of the raw body with the app
//! secret) after Meta's `hub.challenge` handshake with the channel's verify
//! token, and the `messages` / `statuses` / `message_template_status_update`
//! changes parsed into events.
//!
//! Replies: text (4096 characters a message), up to three choices as reply
//! buttons (titles of at most 20 characters), four to ten as a list, images
//! by `link`; every inbound message is marked as read. Free-form messages
//! are only sent within 24 hours of the contact's last message
//! ([`Adapter::free_form_window`]); templates ([`super::templates`]) are
//! allowed any time.

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
use super::templates::ProviderStatus;
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::flows::engine::RichParts;

/// WhatsApp's limit on a text message.
pub const TEXT_MAX: usize = 4096;
/// The limit on an interactive message's body and a media caption.
pub const BODY_MAX: usize = 1024;
/// The limit on a reply button's title.
pub const BUTTON_TITLE_MAX: usize = 20;
/// The limit on a list row's title.
pub const ROW_TITLE_MAX: usize = 24;
/// The limit on a list row's description.
pub const ROW_DESCRIPTION_MAX: usize = 72;
/// The most rows a list holds.
pub const LIST_ROWS_MAX: usize = 10;
/// The longest button value sent as the reply id (a list row id holds 200).
pub const REPLY_ID_MAX: usize = 200;
/// Free-form messages are allowed this long after the contact's last message.
pub const WINDOW: Duration = Duration::from_secs(24 * 3600);

const TIMEOUT: Duration = Duration::from_secs(15);

/// Graph error codes that mean "slow down" (throughput, pair rate limits).
const RATE_LIMIT_CODES: [i64; 5] = [4, 80007, 130_429, 131_048, 131_056];

/// Calls the Graph API: `path` is relative to `channels.graph_api_base`
/// (query string included).
pub async fn graph(state: &AppState, method: Method, path: &str, token: &str, body: Option<&Value>) -> Answer {
    let base = state.config.channels.graph_api_base.trim_end_matches('/');
    let url = format!("{base}/{}", path.trim_start_matches('/'));
    let request = match state.outbound.request(method, &url) {
        Ok(r) => r.timeout(TIMEOUT).bearer_auth(token),
        Err(e) => return Answer::Unreachable(e.to_string()),
    };
    let request = match body {
        Some(b) => request.json(b),
        None => request,
    };
    let response = match state.outbound.send(request).await {
        Ok(r) => r,
        Err(e) => return Answer::Unreachable(e.to_string()),
    };
    let status = response.status().as_u16();
    let retry_after = adapter::retry_after_header(response.headers());
    let parsed: Value = response.json().await.unwrap_or(Value::Null);
    if (200..300).contains(&status) {
        return Answer::Ok(parsed);
    }
    refusal(status, &parsed, retry_after)
}

/// Graph's `{"error": {"message", "code", …}}` as a refusal: rate limits
/// become 429 (retried), an invalid token (code 190) 401 (credentials).
fn refusal(status: u16, body: &Value, retry_after: Option<Duration>) -> Answer {
    let error = body.get("error");
    let code = error.and_then(|e| e.get("code")).and_then(Value::as_i64);
    let message = error.and_then(|e| e.get("message")).and_then(Value::as_str);
    let details = error.and_then(|e| e.pointer("/error_data/details")).and_then(Value::as_str);
    let mut description = message.map_or_else(|| format!("the Graph API answered HTTP {status}"), str::to_owned);
    if let Some(d) = details.filter(|d| !description.contains(d)) {
        description = format!("{description} ({d})");
    }
    if let Some(c) = code {
        description = format!("{description} [code {c}]");
    }
    let status = match code {
        Some(c) if RATE_LIMIT_CODES.contains(&c) => 429,
        Some(190) => 401,
        _ => status,
    };
    Answer::Refused { status, description, retry_after }
}

fn text_of(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

fn delivery(status: &str) -> Option<Delivery> {
    match status {
        "sent" => Some(Delivery::Sent),
        "delivered" => Some(Delivery::Delivered),
        "read" => Some(Delivery::Read),
        "failed" => Some(Delivery::Failed),
        _ => None,
    }
}

/// The media of a message of type image, document, audio, video or sticker.
fn media_of(message: &Value, kind: &str) -> Option<(MediaRef, Option<String>)> {
    let stored_kind = match kind {
        "image" | "sticker" => "image",
        "document" => "document",
        "audio" => "audio",
        "video" => "video",
        _ => return None,
    };
    let m = message.get(kind)?;
    let media = MediaRef {
        reference: text_of(m, "/id")?,
        mime_type: text_of(m, "/mime_type"),
        filename: text_of(m, "/filename"),
        kind: stored_kind,
    };
    Some((media, text_of(m, "/caption")))
}

/// One inbound message: the event, or the type it has if unsupported.
fn message_event(message: &Value, contacts: &[Value]) -> Result<Result<Event, String>, String> {
    let id = text_of(message, "/id").ok_or("a message without id")?;
    let from = text_of(message, "/from").ok_or("a message without from")?;
    let kind = text_of(message, "/type").unwrap_or_default();
    let name = contacts
        .iter()
        .find(|c| c.get("wa_id").and_then(Value::as_str) == Some(from.as_str()))
        .and_then(|c| text_of(c, "/profile/name"));
    let sender = Sender { address: from.clone(), username: None, display_name: name, phone: Some(format!("+{from}")) };
    let context_id = text_of(message, "/context/id");
    let event_kind = match kind.as_str() {
        "text" => match text_of(message, "/text/body") {
            Some(text) => EventKind::Text { message_id: id.clone(), text },
            None => return Ok(Err("text.empty".into())),
        },
        "interactive" => {
            let reply = message
                .pointer("/interactive/button_reply")
                .or_else(|| message.pointer("/interactive/list_reply"))
                .ok_or("an interactive message without button_reply or list_reply")?;
            let value = text_of(reply, "/id").or_else(|| text_of(reply, "/title")).ok_or("a reply without id")?;
            EventKind::Button { id: id.clone(), value, message_id: context_id, ack: None }
        }
        "button" => {
            let value = text_of(message, "/button/payload")
                .or_else(|| text_of(message, "/button/text"))
                .ok_or("a button without payload")?;
            EventKind::Button { id: id.clone(), value, message_id: context_id, ack: None }
        }
        other => match media_of(message, other) {
            Some((media, caption)) => EventKind::Media { message_id: id.clone(), media, caption },
            None => return Ok(Err(format!("message.{other}"))),
        },
    };
    Ok(Ok(Event {
        dedupe_id: id,
        event_type: format!("message.{kind}"),
        sender,
        thread: None,
        kind: event_kind,
        raw: message.clone(),
        context: Value::Null,
    }))
}

fn status_event(s: &Value) -> Result<Option<Event>, String> {
    let id = text_of(s, "/id").ok_or("a status without id")?;
    let raw_status = text_of(s, "/status").ok_or("a status without status")?;
    let Some(status) = delivery(&raw_status) else { return Ok(None) };
    let error = s.get("errors").and_then(Value::as_array).and_then(|errors| {
        let words: Vec<String> = errors
            .iter()
            .map(|e| {
                let text = text_of(e, "/error_data/details")
                    .or_else(|| text_of(e, "/message"))
                    .or_else(|| text_of(e, "/title"))
                    .unwrap_or_else(|| "unknown error".into());
                match e.get("code").and_then(Value::as_i64) {
                    Some(c) => format!("{text} [code {c}]"),
                    None => text,
                }
            })
            .collect();
        (!words.is_empty()).then(|| words.join("; "))
    });
    Ok(Some(Event {
        dedupe_id: format!("status:{id}:{raw_status}"),
        event_type: format!("status.{raw_status}"),
        sender: Sender { address: text_of(s, "/recipient_id").unwrap_or_default(), ..Sender::default() },
        thread: None,
        kind: EventKind::Status { message_id: id, status, error },
        raw: s.clone(),
        context: Value::Null,
    }))
}

/// The template decisions of a notification (`message_template_status_update` changes).
#[must_use]
pub fn template_updates(body: &Value) -> Vec<ProviderStatus> {
    let changes =
        body.get("entry").and_then(Value::as_array).into_iter().flatten().filter_map(|e| e.get("changes")?.as_array());
    changes
        .flatten()
        .filter(|c| c.get("field").and_then(Value::as_str) == Some("message_template_status_update"))
        .filter_map(|c| {
            let value = c.get("value")?;
            let id = match value.get("message_template_id")? {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Some(ProviderStatus::from_event(
                &id,
                &text_of(value, "/message_template_name").unwrap_or_default(),
                &text_of(value, "/message_template_language").unwrap_or_default(),
                &text_of(value, "/event")?,
                text_of(value, "/reason").as_deref(),
            ))
        })
        .collect()
}

/// Parses a webhook notification
/// (`{"object": "whatsapp_business_account", "entry": [{"changes": [{"field", "value"}]}]}`).
#[must_use]
pub fn parse_notification(body: &Value) -> Parsed {
    if body.get("object").and_then(Value::as_str) != Some("whatsapp_business_account") {
        return Parsed::Malformed("not a whatsapp_business_account notification".into());
    }
    let Some(entries) = body.get("entry").and_then(Value::as_array) else {
        return Parsed::Malformed("no entry array".into());
    };
    let mut events = Vec::new();
    let mut ignored: Option<(Option<String>, String)> = None;
    for entry in entries {
        let time = entry.get("time").and_then(Value::as_i64);
        let Some(changes) = entry.get("changes").and_then(Value::as_array) else {
            return Parsed::Malformed("an entry without changes".into());
        };
        for change in changes {
            let field = change.get("field").and_then(Value::as_str).unwrap_or("unknown");
            let Some(value) = change.get("value") else { return Parsed::Malformed("a change without value".into()) };
            match field {
                "messages" => {
                    let contacts = value.get("contacts").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
                    for m in value.get("messages").and_then(Value::as_array).map_or(&[][..], Vec::as_slice) {
                        match message_event(m, contacts) {
                            Ok(Ok(e)) => events.push(e),
                            Ok(Err(kind)) => ignored = Some((text_of(m, "/id"), kind)),
                            Err(why) => return Parsed::Malformed(why),
                        }
                    }
                    for s in value.get("statuses").and_then(Value::as_array).map_or(&[][..], Vec::as_slice) {
                        match status_event(s) {
                            Ok(Some(e)) => events.push(e),
                            Ok(None) => ignored = Some((None, "status.other".into())),
                            Err(why) => return Parsed::Malformed(why),
                        }
                    }
                }
                "message_template_status_update" => {
                    // Applied through `template_updates`; stored once here.
                    let id = value.get("message_template_id").map(Value::to_string).unwrap_or_default();
                    let event = text_of(value, "/event").unwrap_or_default();
                    ignored = Some((
                        Some(format!("template:{id}:{event}:{}", time.unwrap_or_default())),
                        "message_template_status_update".into(),
                    ));
                }
                other => ignored = Some((None, other.to_owned())),
            }
        }
    }
    if events.is_empty() {
        let (dedupe_id, event_type) = ignored.unwrap_or((None, "empty".into()));
        return Parsed::Ignored { dedupe_id, event_type };
    }
    Parsed::Events(events)
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(max - 1).collect();
        s.push('…');
        s
    }
}

fn chunks(text: &str, max: usize) -> Vec<String> {
    text.chars().collect::<Vec<_>>().chunks(max).map(|c| c.iter().collect()).collect()
}

fn message(to: &str, kind: &str, content: Value) -> Value {
    let mut body = json!({ "messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": kind });
    body[kind] = content;
    body
}

/// The reply id of a choice: the value itself when it fits, else `#n`
/// (n indexes `values`, kept with the outbound message).
fn reply_id(value: &str, values: &mut Vec<String>) -> String {
    if value.chars().count() <= REPLY_ID_MAX && !value.starts_with('#') && !value.is_empty() {
        value.to_owned()
    } else {
        values.push(value.to_owned());
        format!("#{}", values.len() - 1)
    }
}

/// The requests that show a reply to `to` (a `wa_id`).
#[must_use]
pub fn render(to: &str, text: &str, parts: &RichParts) -> Vec<Rendered> {
    let mut choices: Vec<(String, String)> =
        parts.quick_replies.iter().map(|q| (q.label.clone(), q.value.clone())).collect();
    let mut links = Vec::new();
    for b in parts.buttons.iter().chain(parts.cards.iter().flat_map(|c| c.buttons.iter())) {
        match &b.url {
            Some(url) => links.push(format!("{}: {url}", b.label)),
            None => choices.push((b.label.clone(), b.value.clone().unwrap_or_else(|| b.label.clone()))),
        }
    }
    let mut text = text.trim().to_owned();
    for card in &parts.cards {
        let sub = card.subtitle.as_deref().map(|s| format!("\n{s}")).unwrap_or_default();
        let joined = format!("{text}\n\n{}{sub}", card.title);
        joined.trim().clone_into(&mut text);
    }
    if !links.is_empty() {
        let joined = format!("{text}\n\n{}", links.join("\n"));
        joined.trim().clone_into(&mut text);
    }
    let preview = !links.is_empty();
    let mut out = Vec::new();
    if let Some(image) = &parts.image {
        let fits = text.chars().count() <= BODY_MAX && choices.is_empty();
        let mut content = json!({ "link": image.url });
        if fits && !text.is_empty() {
            content["caption"] = json!(text);
        }
        out.push(Rendered { request: message(to, "image", content), values: Vec::new(), message_type: "image" });
        if fits {
            return out;
        }
    }
    let mut pieces = if text.is_empty() { Vec::new() } else { chunks(&text, TEXT_MAX) };
    let body = if choices.is_empty() {
        None
    } else {
        match pieces.last() {
            Some(last) if last.chars().count() <= BODY_MAX => pieces.pop(),
            _ => Some("…".to_owned()),
        }
    };
    for piece in pieces {
        out.push(Rendered {
            request: message(to, "text", json!({ "body": piece, "preview_url": preview })),
            values: Vec::new(),
            message_type: "text",
        });
    }
    if let Some(body) = body {
        let mut values = Vec::new();
        let interactive = if choices.len() <= 3 {
            let buttons: Vec<Value> = choices
                .iter()
                .map(|(label, value)| {
                    json!({ "type": "reply", "reply": { "id": reply_id(value, &mut values), "title": clip(label, BUTTON_TITLE_MAX) } })
                })
                .collect();
            json!({ "type": "button", "body": { "text": body }, "action": { "buttons": buttons } })
        } else {
            let rows: Vec<Value> = choices
                .iter()
                .take(LIST_ROWS_MAX)
                .map(|(label, value)| {
                    let mut row = json!({ "id": reply_id(value, &mut values), "title": clip(label, ROW_TITLE_MAX) });
                    if label.chars().count() > ROW_TITLE_MAX {
                        row["description"] = json!(clip(label, ROW_DESCRIPTION_MAX));
                    }
                    row
                })
                .collect();
            json!({ "type": "list", "body": { "text": body },
                    "action": { "button": "Choose", "sections": [{ "title": "Options", "rows": rows }] } })
        };
        out.push(Rendered { request: message(to, "interactive", interactive), values, message_type: "interactive" });
    }
    out
}

/// The WhatsApp Cloud API adapter.
pub struct WhatsApp;

fn digits(fields: &Map<String, Value>, key: &str, what: &str) -> AppResult<()> {
    let v = fields.get(key).and_then(Value::as_str).unwrap_or("");
    if v.is_empty() || v.len() > 32 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AppError::validation(format!("credentials.{key}"), what.to_owned()));
    }
    Ok(())
}

impl Adapter for WhatsApp {
    fn kind(&self) -> &'static str {
        "whatsapp"
    }

    fn provider(&self) -> &'static str {
        "WhatsApp"
    }

    fn check_credentials(&self, given: &Map<String, Value>) -> AppResult<Map<String, Value>> {
        let mut fields =
            adapter::string_fields(given, &["access_token", "phone_number_id", "app_secret", "business_account_id"])?;
        adapter::required(
            &fields,
            "access_token",
            "the access token of a system user with whatsapp_business_messaging",
        )?;
        digits(&fields, "phone_number_id", "the Phone number ID from WhatsApp > API Setup (digits)")?;
        adapter::required(&fields, "app_secret", "the App secret from App settings > Basic (signs the webhooks)")?;
        if fields.get("business_account_id").and_then(Value::as_str).is_some_and(str::is_empty) {
            fields.remove("business_account_id");
        } else if fields.contains_key("business_account_id") {
            digits(&fields, "business_account_id", "the WhatsApp Business Account ID (digits)")?;
        }
        Ok(fields)
    }

    fn credential_field(&self) -> &'static str {
        "credentials.access_token"
    }

    /// Meta's verify token is the channel's webhook secret.
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
        match serde_json::from_slice::<Value>(req.body) {
            Ok(body) => parse_notification(&body),
            Err(_) => Parsed::Malformed("the body is not JSON".into()),
        }
    }

    fn template_updates(&self, req: &HookRequest<'_>) -> Vec<ProviderStatus> {
        serde_json::from_slice::<Value>(req.body).map(|b| template_updates(&b)).unwrap_or_default()
    }

    fn render(&self, to: &Recipient, text: &str, parts: &RichParts) -> Vec<Rendered> {
        render(&to.address, text, parts)
    }

    fn receipt(&self, event: &Event) -> Option<Value> {
        let id = match &event.kind {
            EventKind::Text { message_id, .. } | EventKind::Media { message_id, .. } => message_id,
            EventKind::Button { id, .. } => id,
            _ => return None,
        };
        Some(json!({ "messaging_product": "whatsapp", "status": "read", "message_id": id }))
    }

    fn free_form_window(&self, request: &Value) -> Option<Duration> {
        let exempt = request.get("status").is_some() || request.get("type").and_then(Value::as_str) == Some("template");
        (!exempt).then_some(WINDOW)
    }

    fn send<'a>(
        &'a self,
        state: &'a AppState,
        secrets: &'a Secrets,
        request: &'a Value,
        _idempotency_key: &'a str,
    ) -> BoxFuture<'a, Answer> {
        Box::pin(async move {
            if request.get("messaging_product").is_none() {
                return Answer::local("the queued request is unreadable");
            }
            let path = format!("{}/messages", secrets.get("phone_number_id"));
            graph(state, Method::POST, &path, secrets.get("access_token"), Some(request)).await
        })
    }

    fn sent_id(&self, result: &Value) -> Option<String> {
        result.pointer("/messages/0/id").and_then(Value::as_str).map(str::to_owned)
    }

    fn check<'a>(&'a self, state: &'a AppState, secrets: &'a Secrets) -> BoxFuture<'a, Result<Identity, Answer>> {
        Box::pin(async move {
            let path = format!("{}?fields=display_phone_number,verified_name", secrets.get("phone_number_id"));
            match graph(state, Method::GET, &path, secrets.get("access_token"), None).await {
                Answer::Ok(v) => Ok(Identity {
                    username: v
                        .get("display_phone_number")
                        .or_else(|| v.get("verified_name"))
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                }),
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
            let token = secrets.get("access_token");
            let info = match graph(state, Method::GET, &media.reference, token, None).await {
                Answer::Ok(v) => v,
                other => return Err(other),
            };
            let limit = state.config.files.max_bytes();
            if info.get("file_size").and_then(Value::as_u64).is_some_and(|n| n > limit) {
                return Err(Answer::Refused { status: 413, description: adapter::too_large(limit), retry_after: None });
            }
            let Some(url) = info.get("url").and_then(Value::as_str) else {
                return Err(Answer::local("the Graph API gave no url for the media"));
            };
            let mut bytes =
                adapter::download(state, url, &[("Authorization", format!("Bearer {token}"))], limit).await?;
            if bytes.mime_type.is_none() {
                bytes.mime_type = info.get("mime_type").and_then(Value::as_str).map(str::to_owned);
            }
            Ok(bytes)
        })
    }

    /// The Cloud API allows about 80 messages a second per phone number.
    fn min_interval(&self) -> Duration {
        Duration::from_millis(13)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::engine::{QuickReply, ReplyButton, ReplyImage};

    fn qr(n: usize) -> Vec<QuickReply> {
        (0..n)
            .map(|i| QuickReply { label: format!("Option number {i} with a long label"), value: format!("v{i}") })
            .collect()
    }

    #[test]
    fn up_to_three_choices_are_buttons_and_more_a_list() {
        let parts = RichParts { quick_replies: qr(2), ..RichParts::default() };
        let r = render("4915", "Pick", &parts);
        assert_eq!(r.len(), 1);
        assert_eq!(
            r[0].request,
            json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "4915", "type": "interactive",
                   "interactive": {"type": "button", "body": {"text": "Pick"}, "action": {"buttons": [
                       {"type": "reply", "reply": {"id": "v0", "title": "Option number 0 wit…"}},
                       {"type": "reply", "reply": {"id": "v1", "title": "Option number 1 wit…"}}]}}})
        );
        let parts = RichParts { quick_replies: qr(12), ..RichParts::default() };
        let r = render("4915", "Pick", &parts);
        let rows = r[0].request["interactive"]["action"]["sections"][0]["rows"].as_array().expect("rows");
        assert_eq!(r[0].request["interactive"]["type"], "list");
        assert_eq!(rows.len(), LIST_ROWS_MAX);
        assert!(rows.iter().all(|r| r["title"].as_str().is_some_and(|t| t.chars().count() <= ROW_TITLE_MAX)));
    }

    #[test]
    fn long_text_is_split_and_long_values_become_indexes() {
        let long = "x".repeat(TEXT_MAX + 10);
        let r = render("1", &long, &RichParts::default());
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].request["text"]["body"].as_str().map(|s| s.chars().count()), Some(TEXT_MAX));
        let value = "y".repeat(REPLY_ID_MAX + 1);
        let parts = RichParts {
            buttons: vec![
                ReplyButton { label: "Long".into(), value: Some(value.clone()), url: None },
                ReplyButton { label: "Site".into(), value: None, url: Some("https://e.com".into()) },
            ],
            ..RichParts::default()
        };
        let r = render("1", "Hi", &parts);
        assert_eq!(r[0].request["interactive"]["body"]["text"], "Hi\n\nSite: https://e.com");
        assert_eq!(r[0].request["interactive"]["action"]["buttons"][0]["reply"]["id"], "#0");
        assert_eq!(r[0].values, vec![value]);
    }

    #[test]
    fn images_go_by_link_with_the_caption() {
        let parts = RichParts {
            image: Some(ReplyImage { url: "https://e.com/a.png".into(), alt: None }),
            ..RichParts::default()
        };
        let r = render("1", "Look", &parts);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].request["image"], json!({"link": "https://e.com/a.png", "caption": "Look"}));
    }

    #[test]
    fn graph_errors_map_to_retryable_or_credential_refusals() {
        let rate = refusal(400, &json!({"error": {"message": "Pair rate limit", "code": 131_056}}), None);
        assert!(rate.retryable());
        let token = refusal(400, &json!({"error": {"message": "Invalid OAuth access token.", "code": 190}}), None);
        assert!(matches!(token, Answer::Refused { status: 401, .. }));
        let bad = refusal(400, &json!({"error": {"message": "Invalid parameter", "code": 100}}), None);
        assert!(!bad.retryable());
    }

    #[test]
    fn notifications_parse_and_odd_ones_are_told_apart() {
        let n = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp", "contacts": [{"profile": {"name": "Ann"}, "wa_id": "4915"}],
            "messages": [{"from": "4915", "id": "wamid.A", "timestamp": "1", "type": "text", "text": {"body": "hi"}}],
            "statuses": [{"id": "wamid.B", "status": "failed", "recipient_id": "4915",
                          "errors": [{"code": 131_047, "title": "Re-engagement message"}]}]}}]}]});
        let Parsed::Events(e) = parse_notification(&n) else { panic!("events") };
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].sender.display_name.as_deref(), Some("Ann"));
        assert_eq!(e[0].kind, EventKind::Text { message_id: "wamid.A".into(), text: "hi".into() });
        assert_eq!(e[1].dedupe_id, "status:wamid.B:failed");
        assert!(
            matches!(&e[1].kind, EventKind::Status { error: Some(w), .. } if w == "Re-engagement message [code 131047]")
        );
        assert!(matches!(parse_notification(&json!({"object": "page"})), Parsed::Malformed(_)));
        let loc = json!({"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": {
            "messages": [{"from": "1", "id": "wamid.L", "type": "location", "location": {}}]}}]}]});
        assert!(matches!(parse_notification(&loc), Parsed::Ignored { dedupe_id: Some(_), .. }));
    }
}

//! The Telegram Bot API adapter: requests to `{base}/bot{token}/{method}`
//! (base: `channels.telegram_api_base`), updates parsed into events (text,
//! captions, photos/documents/voice, edits, inline keyboard presses), rich
//! replies rendered as `sendMessage` with an inline keyboard or `sendPhoto`.

use std::time::Duration;

use futures_util::future::BoxFuture;
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::adapter::{
    self, Adapter, Answer, Event, EventKind, HookRequest, Identity, MediaBytes, MediaRef, Parsed, Recipient, Rendered,
    Secrets, Sender,
};
use crate::app::AppState;
use crate::crypto::constant_time_eq;
use crate::error::{AppError, AppResult};
use crate::flows::engine::RichParts;

/// Telegram's limit on `callback_data`.
pub const CALLBACK_DATA_MAX: usize = 64;

/// The header Telegram sends with the `secret_token` given to `setWebhook`.
pub const SECRET_HEADER: &str = "X-Telegram-Bot-Api-Secret-Token";

const TIMEOUT: Duration = Duration::from_secs(15);

/// Whether `token` looks like a bot token (`<digits>:<35 characters>`).
#[must_use]
pub fn token_is_well_formed(token: &str) -> bool {
    let Some((id, rest)) = token.split_once(':') else { return false };
    !id.is_empty()
        && id.len() <= 20
        && id.bytes().all(|b| b.is_ascii_digit())
        && (20..=100).contains(&rest.len())
        && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Calls a Bot API method with a JSON body.
pub async fn call(state: &AppState, token: &str, method: &str, body: &Value) -> Answer {
    let base = state.config.channels.telegram_api_base.trim_end_matches('/');
    let url = format!("{base}/bot{token}/{method}");
    let request = match state.outbound.request(Method::POST, &url) {
        Ok(r) => r.timeout(TIMEOUT).json(body),
        Err(e) => return Answer::Unreachable(e.to_string()),
    };
    let response = match state.outbound.send(request).await {
        Ok(r) => r,
        // The error text may contain the URL, hence the token: never pass it on.
        Err(e) => return Answer::Unreachable(redact(&e.to_string(), token)),
    };
    let status = response.status().as_u16();
    let header_retry = adapter::retry_after_header(response.headers());
    let parsed: Value = response.json().await.unwrap_or(Value::Null);
    if status == 200 && parsed.get("ok").and_then(Value::as_bool) == Some(true) {
        return Answer::Ok(parsed.get("result").cloned().unwrap_or(Value::Null));
    }
    let description = parsed
        .get("description")
        .and_then(Value::as_str)
        .map_or_else(|| format!("the Bot API answered HTTP {status}"), str::to_owned);
    let retry_after =
        parsed.pointer("/parameters/retry_after").and_then(Value::as_u64).map(Duration::from_secs).or(header_retry);
    Answer::Refused { status, description, retry_after }
}

fn redact(text: &str, token: &str) -> String {
    if token.is_empty() { text.to_owned() } else { text.replace(token, "<token>") }
}

fn name_of(from: &Value) -> (Option<String>, Option<String>) {
    let username = from.get("username").and_then(Value::as_str).map(str::to_owned);
    let first = from.get("first_name").and_then(Value::as_str).unwrap_or("");
    let last = from.get("last_name").and_then(Value::as_str).unwrap_or("");
    let full = format!("{first} {last}").trim().to_owned();
    (username, (!full.is_empty()).then_some(full))
}

fn chat_id(message: &Value) -> Option<String> {
    message.pointer("/chat/id").and_then(Value::as_i64).map(|id| id.to_string())
}

fn sender(chat: String, from: Option<&Value>) -> Sender {
    let (username, display_name) = from.map(name_of).unwrap_or_default();
    Sender { address: chat, username, display_name, phone: None }
}

/// The media of a message: the largest photo size, or a document, voice
/// note, audio or video.
fn media_of(message: &Value) -> Option<MediaRef> {
    if let Some(sizes) = message.get("photo").and_then(Value::as_array) {
        let largest = sizes.iter().max_by_key(|s| s.get("file_size").and_then(Value::as_u64).unwrap_or(0))?;
        return Some(MediaRef {
            reference: largest.get("file_id")?.as_str()?.to_owned(),
            mime_type: Some("image/jpeg".into()),
            filename: None,
            kind: "image",
        });
    }
    for (field, kind) in [("document", "document"), ("voice", "audio"), ("audio", "audio"), ("video", "video")] {
        if let Some(m) = message.get(field) {
            return Some(MediaRef {
                reference: m.get("file_id")?.as_str()?.to_owned(),
                mime_type: m.get("mime_type").and_then(Value::as_str).map(str::to_owned),
                filename: m.get("file_name").and_then(Value::as_str).map(str::to_owned),
                kind,
            });
        }
    }
    None
}

/// Parses an update (<https://core.telegram.org/bots/api#update>).
#[must_use]
pub fn parse_update(update: &Value) -> Parsed {
    let Some(update_id) = update.get("update_id").and_then(Value::as_i64) else {
        return Parsed::Malformed("no update_id".into());
    };
    let dedupe_id = update_id.to_string();
    for (field, event_type) in [("message", "message"), ("edited_message", "edited_message")] {
        let Some(message) = update.get(field) else { continue };
        let Some(chat) = chat_id(message) else { return Parsed::Malformed(format!("{field} without chat.id")) };
        let Some(mid) = message.get("message_id").and_then(Value::as_i64) else {
            return Parsed::Malformed(format!("{field} without message_id"));
        };
        // Message ids are per chat; an edit keeps the id, so it gets its own.
        let message_id =
            if field == "message" { format!("{chat}:{mid}") } else { format!("{chat}:{mid}:edit:{update_id}") };
        let caption = message.get("caption").and_then(Value::as_str).map(str::trim).filter(|t| !t.is_empty());
        let kind = if let Some(media) = media_of(message) {
            EventKind::Media { message_id, media, caption: caption.map(str::to_owned) }
        } else if let Some(text) = message.get("text").and_then(Value::as_str).map(str::trim).filter(|t| !t.is_empty())
        {
            EventKind::Text { message_id, text: text.to_owned() }
        } else {
            return Parsed::Ignored { dedupe_id: Some(dedupe_id), event_type: format!("{field}.unsupported") };
        };
        return Parsed::Events(vec![Event {
            dedupe_id,
            event_type: event_type.into(),
            sender: sender(chat, message.get("from")),
            thread: None,
            kind,
            raw: update.clone(),
            context: Value::Null,
        }]);
    }
    if let Some(cq) = update.get("callback_query") {
        let Some(id) = cq.get("id").and_then(Value::as_str) else {
            return Parsed::Malformed("callback_query without id".into());
        };
        let message = cq.get("message");
        let chat =
            message.and_then(chat_id).or_else(|| cq.pointer("/from/id").and_then(Value::as_i64).map(|i| i.to_string()));
        let Some(chat) = chat else { return Parsed::Malformed("callback_query without a chat".into()) };
        let data = cq.get("data").and_then(Value::as_str).unwrap_or("").to_owned();
        let message_id =
            message.and_then(|m| m.get("message_id")).and_then(Value::as_i64).map(|mid| format!("{chat}:{mid}"));
        return Parsed::Events(vec![Event {
            dedupe_id,
            event_type: "callback_query".into(),
            sender: sender(chat, cq.get("from")),
            thread: None,
            kind: EventKind::Button {
                id: id.to_owned(),
                value: data,
                message_id,
                // Telegram shows a spinner on the button until this is answered.
                ack: Some(json!({ "method": "answerCallbackQuery", "body": { "callback_query_id": id } })),
            },
            raw: update.clone(),
            context: Value::Null,
        }]);
    }
    let kind = update
        .as_object()
        .and_then(|o| o.keys().find(|k| k.as_str() != "update_id").cloned())
        .unwrap_or_else(|| "unknown".into());
    Parsed::Ignored { dedupe_id: Some(dedupe_id), event_type: kind }
}

/// `callback_data` for a button value: the value itself when it fits in 64
/// bytes, else `#n` (n indexes `values`, kept with the outbound message).
fn callback_data(value: &str, values: &mut Vec<String>) -> String {
    if value.len() <= CALLBACK_DATA_MAX && !value.starts_with('#') {
        value.to_owned()
    } else {
        values.push(value.to_owned());
        format!("#{}", values.len() - 1)
    }
}

/// The requests that show a reply in `chat_id`: an image as `sendPhoto`
/// (the text as caption when short enough), the text as `sendMessage`, quick
/// replies, buttons and card buttons as an inline keyboard (one button per row).
#[must_use]
pub fn render(chat_id: &str, text: &str, parts: &RichParts) -> Vec<Rendered> {
    let mut values = Vec::new();
    let mut rows: Vec<Value> = Vec::new();
    for q in &parts.quick_replies {
        rows.push(json!([{ "text": q.label, "callback_data": callback_data(&q.value, &mut values) }]));
    }
    let card_buttons = parts.cards.iter().flat_map(|c| c.buttons.iter());
    for b in parts.buttons.iter().chain(card_buttons) {
        if let Some(url) = &b.url {
            rows.push(json!([{ "text": b.label, "url": url }]));
        } else {
            let value = b.value.clone().unwrap_or_else(|| b.label.clone());
            rows.push(json!([{ "text": b.label, "callback_data": callback_data(&value, &mut values) }]));
        }
    }
    let mut text = text.trim().to_owned();
    for card in &parts.cards {
        let sub = card.subtitle.as_deref().map(|s| format!("\n{s}")).unwrap_or_default();
        let joined = format!("{text}\n\n{}{sub}", card.title);
        joined.trim().clone_into(&mut text);
    }
    let markup = (!rows.is_empty()).then(|| json!({ "inline_keyboard": rows }));
    let mut out = Vec::new();
    if let Some(image) = &parts.image {
        // A caption holds at most 1024 characters; a keyboard goes with the text.
        let caption_fits = text.chars().count() <= 1024 && markup.is_none();
        let mut body = json!({ "chat_id": chat_id, "photo": image.url });
        if caption_fits && !text.is_empty() {
            body["caption"] = json!(text);
        }
        out.push(Rendered {
            request: json!({ "method": "sendPhoto", "body": body }),
            values: Vec::new(),
            message_type: "image",
        });
        if caption_fits {
            return out;
        }
    }
    if text.is_empty() && markup.is_some() {
        text = "…".into();
    }
    if text.is_empty() {
        return out;
    }
    // Telegram's limit is 4096 characters per message.
    let chunks: Vec<String> =
        text.chars().collect::<Vec<_>>().chunks(4096).map(|c| c.iter().collect::<String>()).collect();
    let last = chunks.len().saturating_sub(1);
    for (i, chunk) in chunks.into_iter().enumerate() {
        let mut body = json!({ "chat_id": chat_id, "text": chunk });
        let mut vals = Vec::new();
        if i == last
            && let Some(m) = &markup
        {
            body["reply_markup"] = m.clone();
            vals.clone_from(&values);
        }
        let message_type = if body.get("reply_markup").is_some() { "interactive" } else { "text" };
        out.push(Rendered { request: json!({ "method": "sendMessage", "body": body }), values: vals, message_type });
    }
    out
}

/// The Telegram adapter.
pub struct Telegram;

fn identity(me: &Value) -> Identity {
    Identity { username: me.get("username").and_then(Value::as_str).map(str::to_owned) }
}

impl Adapter for Telegram {
    fn kind(&self) -> &'static str {
        "telegram"
    }

    fn provider(&self) -> &'static str {
        "Telegram"
    }

    fn check_credentials(&self, given: &Map<String, Value>) -> AppResult<Map<String, Value>> {
        let fields = adapter::string_fields(given, &["bot_token"])?;
        let token = fields.get("bot_token").and_then(Value::as_str).unwrap_or_default();
        if !token_is_well_formed(token) {
            return Err(AppError::validation(
                "credentials.bot_token",
                "a Telegram bot token from BotFather, like 123456789:AAH…",
            ));
        }
        Ok(fields)
    }

    fn credential_field(&self) -> &'static str {
        "credentials.bot_token"
    }

    fn verify(&self, secrets: &Secrets, req: &HookRequest<'_>) -> bool {
        req.header(SECRET_HEADER).is_some_and(|h| constant_time_eq(secrets.webhook_secret.as_bytes(), h.as_bytes()))
    }

    fn parse(&self, req: &HookRequest<'_>) -> Parsed {
        match serde_json::from_slice::<Value>(req.body) {
            Ok(update) => parse_update(&update),
            Err(_) => Parsed::Malformed("the body is not JSON".into()),
        }
    }

    fn render(&self, to: &Recipient, text: &str, parts: &RichParts) -> Vec<Rendered> {
        render(&to.address, text, parts)
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
            call(state, secrets.get("bot_token"), method, body).await
        })
    }

    fn sent_id(&self, result: &Value) -> Option<String> {
        // Telegram's message ids are per chat: the external id is `chat:message`.
        let chat = result.pointer("/chat/id").and_then(Value::as_i64)?;
        let id = result.get("message_id").and_then(Value::as_i64)?;
        Some(format!("{chat}:{id}"))
    }

    fn check<'a>(&'a self, state: &'a AppState, secrets: &'a Secrets) -> BoxFuture<'a, Result<Identity, Answer>> {
        Box::pin(async move {
            match call(state, secrets.get("bot_token"), "getMe", &json!({})).await {
                Answer::Ok(me) => Ok(identity(&me)),
                other => Err(other),
            }
        })
    }

    fn activate<'a>(
        &'a self,
        state: &'a AppState,
        secrets: &'a Secrets,
        webhook_url: &'a str,
    ) -> BoxFuture<'a, Result<Identity, Answer>> {
        Box::pin(async move {
            let me = self.check(state, secrets).await?;
            let body = json!({
                "url": webhook_url,
                "secret_token": secrets.webhook_secret,
                "allowed_updates": ["message", "edited_message", "callback_query"],
            });
            match call(state, secrets.get("bot_token"), "setWebhook", &body).await {
                Answer::Ok(_) => Ok(me),
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
            let token = secrets.get("bot_token");
            let file = match call(state, token, "getFile", &json!({ "file_id": media.reference })).await {
                Answer::Ok(file) => file,
                other => return Err(other),
            };
            let Some(path) = file.get("file_path").and_then(Value::as_str) else {
                return Err(Answer::local("Telegram gave no file_path for the media"));
            };
            let base = state.config.channels.telegram_api_base.trim_end_matches('/');
            let limit = state.config.files.max_bytes();
            adapter::download(state, &format!("{base}/file/bot{token}/{path}"), &[], limit).await.map_err(|e| match e {
                Answer::Unreachable(why) => Answer::Unreachable(redact(&why, token)),
                other => other,
            })
        })
    }

    /// Telegram allows about 30 messages a second per bot.
    fn min_interval(&self) -> Duration {
        Duration::from_millis(34)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::engine::{QuickReply, ReplyButton, ReplyImage};

    #[test]
    fn tokens_are_checked_for_shape() {
        assert!(token_is_well_formed("123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"));
        assert!(!token_is_well_formed("nonsense"));
        assert!(!token_is_well_formed("12a:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"));
        assert!(!token_is_well_formed("123:short"));
    }

    #[test]
    fn long_callback_values_become_indexes_and_keyboards_render() {
        let long = "x".repeat(65);
        let parts = RichParts {
            quick_replies: vec![
                QuickReply { label: "Yes".into(), value: "yes".into() },
                QuickReply { label: "Long".into(), value: long.clone() },
            ],
            buttons: vec![ReplyButton { label: "Site".into(), value: None, url: Some("https://e.com".into()) }],
            ..RichParts::default()
        };
        let r = render("42", "Pick one", &parts);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].request["method"], "sendMessage");
        assert_eq!(
            r[0].request["body"]["reply_markup"]["inline_keyboard"],
            json!([[{"text":"Yes","callback_data":"yes"}],[{"text":"Long","callback_data":"#0"}],[{"text":"Site","url":"https://e.com"}]])
        );
        assert_eq!(r[0].values, vec![long]);
    }

    #[test]
    fn images_go_as_photos_with_the_text_as_caption() {
        let parts = RichParts {
            image: Some(ReplyImage { url: "https://e.com/a.png".into(), alt: None }),
            ..RichParts::default()
        };
        let r = render("42", "Look", &parts);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].request["body"], json!({"chat_id":"42","photo":"https://e.com/a.png","caption":"Look"}));
    }

    #[test]
    fn updates_parse_and_odd_ones_are_told_apart() {
        let u = json!({"update_id": 7, "message": {"message_id": 3, "chat": {"id": 99}, "from": {"id": 99, "first_name": "Ann", "username": "ann"}, "text": "hi"}});
        let Parsed::Events(e) = parse_update(&u) else { panic!("event") };
        assert_eq!(e[0].sender.address, "99");
        assert_eq!(e[0].kind, EventKind::Text { message_id: "99:3".into(), text: "hi".into() });
        let photo = json!({"update_id": 9, "message": {"message_id": 4, "chat": {"id": 99}, "caption": "see",
            "photo": [{"file_id": "small", "file_size": 10}, {"file_id": "big", "file_size": 99}]}});
        let Parsed::Events(e) = parse_update(&photo) else { panic!("media") };
        assert!(
            matches!(&e[0].kind, EventKind::Media { media, caption: Some(c), .. } if media.reference == "big" && c == "see")
        );
        assert!(matches!(parse_update(&json!({"foo": 1})), Parsed::Malformed(_)));
        assert!(matches!(parse_update(&json!({"update_id": 8, "poll": {}})), Parsed::Ignored { .. }));
    }
}

//! The Telegram Bot API adapter: requests to `{base}/bot{token}/{method}`
//! (base: `channels.telegram_api_base`), the parsing of updates and the
//! rendering of rich replies (`sendMessage` with an inline keyboard,
//! `sendPhoto`).

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::app::AppState;
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

/// What the Bot API answered.
#[derive(Debug)]
pub enum Answer {
    /// `ok: true` with its `result`.
    Ok(Value),
    /// `ok: false` (or a non-JSON error), with the HTTP status, Telegram's
    /// `description` and `parameters.retry_after` / `Retry-After`.
    Refused { status: u16, description: String, retry_after: Option<Duration> },
    /// No answer (network, timeout, refused by the outbound policy).
    Unreachable(String),
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
    let header_retry = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
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

/// One inbound event, as the runtime needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// `update_id`, the deduplication key.
    pub update_id: i64,
    pub kind: IncomingKind,
    pub chat_id: String,
    pub username: Option<String>,
    pub display_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum IncomingKind {
    /// A text (or a photo's caption) with the per-chat `message_id`.
    Text { message_id: i64, text: String },
    /// An inline keyboard press: its id (to answer), its data, and the
    /// `message_id` of the message that carried the keyboard.
    Callback { id: String, data: String, message_id: Option<i64> },
}

/// What an update is, or why it is not one the bot answers.
pub enum Parsed {
    Event(Incoming),
    /// A well-formed update of another kind (edits, joins…): stored, ignored.
    Ignored {
        update_id: i64,
        event_type: String,
    },
    /// Not an update at all.
    Malformed(&'static str),
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

/// Parses an update (<https://core.telegram.org/bots/api#update>).
#[must_use]
pub fn parse_update(update: &Value) -> Parsed {
    let Some(update_id) = update.get("update_id").and_then(Value::as_i64) else {
        return Parsed::Malformed("no update_id");
    };
    if let Some(message) = update.get("message") {
        let Some(chat) = chat_id(message) else { return Parsed::Malformed("message without chat.id") };
        let Some(message_id) = message.get("message_id").and_then(Value::as_i64) else {
            return Parsed::Malformed("message without message_id");
        };
        let text = message.get("text").or_else(|| message.get("caption")).and_then(Value::as_str);
        let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
            return Parsed::Ignored { update_id, event_type: "message.unsupported".into() };
        };
        let (username, display_name) = message.get("from").map(name_of).unwrap_or_default();
        return Parsed::Event(Incoming {
            update_id,
            kind: IncomingKind::Text { message_id, text: text.to_owned() },
            chat_id: chat,
            username,
            display_name,
        });
    }
    if let Some(cq) = update.get("callback_query") {
        let Some(id) = cq.get("id").and_then(Value::as_str) else {
            return Parsed::Malformed("callback_query without id");
        };
        let message = cq.get("message");
        let chat =
            message.and_then(chat_id).or_else(|| cq.pointer("/from/id").and_then(Value::as_i64).map(|i| i.to_string()));
        let Some(chat) = chat else { return Parsed::Malformed("callback_query without a chat") };
        let data = cq.get("data").and_then(Value::as_str).unwrap_or("").to_owned();
        let (username, display_name) = cq.get("from").map(name_of).unwrap_or_default();
        return Parsed::Event(Incoming {
            update_id,
            kind: IncomingKind::Callback {
                id: id.to_owned(),
                data,
                message_id: message.and_then(|m| m.get("message_id")).and_then(Value::as_i64),
            },
            chat_id: chat,
            username,
            display_name,
        });
    }
    let kind = update
        .as_object()
        .and_then(|o| o.keys().find(|k| k.as_str() != "update_id").cloned())
        .unwrap_or_else(|| "unknown".into());
    Parsed::Ignored { update_id, event_type: kind }
}

/// One Bot API request of a reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub method: &'static str,
    pub body: Value,
    /// Callback values too long for `callback_data` (sent as `#n`).
    pub values: Vec<String>,
    pub message_type: &'static str,
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
        out.push(Rendered { method: "sendPhoto", body, values: Vec::new(), message_type: "image" });
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
        out.push(Rendered { method: "sendMessage", body, values: vals, message_type });
    }
    out
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
        assert_eq!(r[0].method, "sendMessage");
        assert_eq!(
            r[0].body["reply_markup"]["inline_keyboard"],
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
        assert_eq!(r[0].body, json!({"chat_id":"42","photo":"https://e.com/a.png","caption":"Look"}));
    }

    #[test]
    fn updates_parse_and_odd_ones_are_told_apart() {
        let u = json!({"update_id": 7, "message": {"message_id": 3, "chat": {"id": 99}, "from": {"id": 99, "first_name": "Ann", "username": "ann"}, "text": "hi"}});
        let Parsed::Event(e) = parse_update(&u) else { panic!("event") };
        assert_eq!(e.chat_id, "99");
        assert_eq!(e.kind, IncomingKind::Text { message_id: 3, text: "hi".into() });
        assert!(matches!(parse_update(&json!({"foo": 1})), Parsed::Malformed(_)));
        assert!(matches!(parse_update(&json!({"update_id": 8, "edited_message": {}})), Parsed::Ignored { .. }));
    }
}

//! The generic HTTP channel (`http`), for any system without an adapter of
//! its own. Both directions are JSON signed the Standard Webhooks way with
//! the channel's secret (shown to the user): headers `webhook-id`,
//! `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of
//! "id.timestamp.body">`; a timestamp more than five minutes off is refused.
//!
//! In (to `/hooks/{path}`), one event or `{"events": [...]}`:
//! `{"type": "message", "id", "user": {"id", "name"?, "username"?, "phone"?}, "text", "thread"?}`,
//! `{"type": "button", "id", "user", "value", "message_id"?}`,
//! `{"type": "media", "id", "user", "url", "mime_type"?, "filename"?, "caption"?}`,
//! `{"type": "status", "id", "message_id", "status": "delivered"|"read"|"failed", "error"?}`.
//!
//! Out (to the channel's `outbound_url`): `{"type": "message", "id", "to",
//! "thread", "text", "quick_replies", "buttons", "cards", "image"}`, where
//! `id` is the message's idempotency key — the same on every retry, and the
//! `webhook-id` — so the receiver drops a redelivery; statuses refer to it.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures_util::future::BoxFuture;
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::adapter::{
    self, Adapter, Answer, Delivery, Event, EventKind, HookRequest, Identity, MediaBytes, MediaRef, Parsed, Recipient,
    Rendered, Secrets, Sender,
};
use crate::app::AppState;
use crate::crypto::{constant_time_eq, hmac_sha256, random_token};
use crate::error::{AppError, AppResult};
use crate::flows::engine::RichParts;

/// How far a signed timestamp may be from now.
const TOLERANCE_SECS: i64 = 300;
const TIMEOUT: Duration = Duration::from_secs(15);

/// The `v1,<base64>` signature of one message.
#[must_use]
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut signed = format!("{id}.{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    format!("v1,{}", STANDARD.encode(hmac_sha256(secret.as_bytes(), &signed)))
}

/// Whether `header` (space-separated signatures) holds the signature of the
/// message, and its timestamp is within the tolerance of `now`.
#[must_use]
pub fn verify_signature(secret: &str, id: &str, timestamp: &str, header: &str, body: &[u8], now: i64) -> bool {
    let Ok(ts) = timestamp.trim().parse::<i64>() else { return false };
    if (now - ts).abs() > TOLERANCE_SECS || id.is_empty() {
        return false;
    }
    let expected = sign(secret, id, ts, body);
    header.split_whitespace().any(|s| constant_time_eq(s.as_bytes(), expected.as_bytes()))
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

fn parse_event(e: &Value) -> Result<Option<Event>, String> {
    let kind = text(e, "type").ok_or("an event without `type`")?;
    let id = text(e, "id").ok_or("an event without `id`")?;
    if kind == "status" {
        let message_id = text(e, "message_id").ok_or("a status without `message_id`")?;
        let status = match text(e, "status").as_deref() {
            Some("sent") => Delivery::Sent,
            Some("delivered") => Delivery::Delivered,
            Some("read") => Delivery::Read,
            Some("failed") => Delivery::Failed,
            _ => return Err("a status must be sent, delivered, read or failed".into()),
        };
        return Ok(Some(Event {
            dedupe_id: id,
            event_type: "status".into(),
            sender: Sender::default(),
            thread: None,
            kind: EventKind::Status { message_id, status, error: text(e, "error") },
            raw: e.clone(),
            context: Value::Null,
        }));
    }
    if !matches!(kind.as_str(), "message" | "button" | "media") {
        return Ok(None);
    }
    let user = e.get("user").ok_or("an event without `user`")?;
    let sender = Sender {
        address: text(user, "id").ok_or("a user without `id`")?,
        username: text(user, "username"),
        display_name: text(user, "name"),
        phone: text(user, "phone"),
    };
    let message_id = id.clone();
    let kind = match kind.as_str() {
        "message" => EventKind::Text { message_id, text: text(e, "text").ok_or("a message without `text`")? },
        "button" => EventKind::Button {
            id: id.clone(),
            value: text(e, "value").ok_or("a button without `value`")?,
            message_id: text(e, "message_id"),
            ack: None,
        },
        "media" => EventKind::Media {
            message_id,
            media: MediaRef {
                reference: text(e, "url").ok_or("media without `url`")?,
                mime_type: text(e, "mime_type"),
                filename: text(e, "filename"),
                kind: match text(e, "mime_type").as_deref().and_then(|m| m.split('/').next()) {
                    Some("image") => "image",
                    Some("audio") => "audio",
                    Some("video") => "video",
                    _ => "document",
                },
            },
            caption: text(e, "caption"),
        },
        _ => return Ok(None),
    };
    Ok(Some(Event {
        dedupe_id: id,
        event_type: kind_name(&kind).into(),
        sender,
        thread: text(e, "thread"),
        kind,
        raw: e.clone(),
        context: Value::Null,
    }))
}

fn kind_name(kind: &EventKind) -> &'static str {
    match kind {
        EventKind::Text { .. } => "message",
        EventKind::Button { .. } => "button",
        EventKind::Media { .. } => "media",
        EventKind::Status { .. } | EventKind::StatusUpTo { .. } => "status",
        EventKind::Consent { .. } => "consent",
    }
}

/// Parses a call's body (one event or `{"events": [...]}`).
#[must_use]
pub fn parse_body(body: &[u8]) -> Parsed {
    let Ok(v) = serde_json::from_slice::<Value>(body) else { return Parsed::Malformed("the body is not JSON".into()) };
    let items: Vec<&Value> = match v.get("events") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(_) => return Parsed::Malformed("`events` must be an array".into()),
        None => vec![&v],
    };
    let mut events = Vec::new();
    let mut other = None;
    for item in items {
        match parse_event(item) {
            Ok(Some(e)) => events.push(e),
            Ok(None) => other = Some((text(item, "id"), text(item, "type").unwrap_or_default())),
            Err(why) => return Parsed::Malformed(why),
        }
    }
    match (events.is_empty(), other) {
        (true, Some((dedupe_id, event_type))) => Parsed::Ignored { dedupe_id, event_type },
        _ => Parsed::Events(events),
    }
}

/// Posts a signed JSON body to `url`.
async fn post(state: &AppState, secret: &str, url: &str, id: &str, body: &Value) -> Answer {
    let body = body.to_string();
    let timestamp = chrono::Utc::now().timestamp();
    let request = match state.outbound.request(Method::POST, url) {
        Ok(r) => r
            .timeout(TIMEOUT)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", sign(secret, id, timestamp, body.as_bytes()))
            .body(body),
        Err(e) => return Answer::Unreachable(e.to_string()),
    };
    let response = match state.outbound.send(request).await {
        Ok(r) => r,
        Err(e) => return Answer::Unreachable(e.to_string()),
    };
    let status = response.status().as_u16();
    let retry_after = adapter::retry_after_header(response.headers());
    let text = response.text().await.unwrap_or_default();
    if (200..300).contains(&status) {
        let answer = serde_json::from_str::<Value>(&text).unwrap_or(Value::Null);
        return Answer::Ok(json!({ "id": id, "response": answer }));
    }
    let excerpt: String = text.chars().take(300).collect();
    let description = if excerpt.trim().is_empty() {
        format!("the receiver answered HTTP {status}")
    } else {
        format!("the receiver answered HTTP {status}: {}", excerpt.trim())
    };
    Answer::Refused { status, description, retry_after }
}

/// The generic HTTP adapter.
pub struct Generic;

impl Adapter for Generic {
    fn kind(&self) -> &'static str {
        "http"
    }

    fn provider(&self) -> &'static str {
        "The receiver"
    }

    fn check_credentials(&self, given: &Map<String, Value>) -> AppResult<Map<String, Value>> {
        let fields = adapter::string_fields(given, &["outbound_url"])?;
        let url = adapter::required(&fields, "outbound_url", "the URL replies are posted to (http:// or https://)")?;
        let parsed = url::Url::parse(url).ok().filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
        if parsed.is_none() {
            return Err(AppError::validation("credentials.outbound_url", "must be an http:// or https:// URL"));
        }
        Ok(fields)
    }

    fn credential_field(&self) -> &'static str {
        "credentials.outbound_url"
    }

    fn shows_webhook_secret(&self) -> bool {
        true
    }

    fn verify(&self, secrets: &Secrets, req: &HookRequest<'_>) -> bool {
        let (Some(id), Some(ts), Some(sig)) =
            (req.header("webhook-id"), req.header("webhook-timestamp"), req.header("webhook-signature"))
        else {
            return false;
        };
        verify_signature(&secrets.webhook_secret, id, ts, sig, req.body, chrono::Utc::now().timestamp())
    }

    fn parse(&self, req: &HookRequest<'_>) -> Parsed {
        parse_body(req.body)
    }

    fn render(&self, to: &Recipient, text: &str, parts: &RichParts) -> Vec<Rendered> {
        let mut request = json!({ "type": "message", "to": to.address, "text": text.trim() });
        if let Some(thread) = &to.thread {
            request["thread"] = json!(thread);
        }
        if let Ok(Value::Object(extra)) = serde_json::to_value(parts) {
            for (k, v) in extra.into_iter().filter(|(k, _)| k != "gaps") {
                let empty = v.is_null() || v.as_array().is_some_and(Vec::is_empty);
                if !empty {
                    request[k] = v;
                }
            }
        }
        let message_type = if parts.image.is_some() {
            "image"
        } else if parts.quick_replies.is_empty() && parts.buttons.is_empty() && parts.cards.is_empty() {
            "text"
        } else {
            "interactive"
        };
        vec![Rendered { request, values: Vec::new(), message_type }]
    }

    fn send<'a>(
        &'a self,
        state: &'a AppState,
        secrets: &'a Secrets,
        request: &'a Value,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Answer> {
        Box::pin(async move {
            let mut body = request.clone();
            body["id"] = json!(idempotency_key);
            post(state, &secrets.webhook_secret, secrets.get("outbound_url"), idempotency_key, &body).await
        })
    }

    fn sent_id(&self, result: &Value) -> Option<String> {
        result.get("id").and_then(Value::as_str).map(str::to_owned)
    }

    fn check<'a>(&'a self, state: &'a AppState, secrets: &'a Secrets) -> BoxFuture<'a, Result<Identity, Answer>> {
        Box::pin(async move {
            let id = format!("ping_{}", random_token(8));
            let url = secrets.get("outbound_url");
            match post(state, &secrets.webhook_secret, url, &id, &json!({ "type": "ping", "id": id })).await {
                Answer::Ok(_) => {
                    Ok(Identity { username: url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_owned)) })
                }
                other => Err(other),
            }
        })
    }

    fn fetch_media<'a>(
        &'a self,
        state: &'a AppState,
        _secrets: &'a Secrets,
        media: &'a MediaRef,
    ) -> BoxFuture<'a, Result<MediaBytes, Answer>> {
        Box::pin(adapter::download(state, &media.reference, &[], state.config.files.max_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_stale_or_forged_ones_do_not() {
        let body = br#"{"type":"message"}"#;
        let sig = sign("k", "msg_1", 1_000, body);
        assert!(verify_signature("k", "msg_1", "1000", &sig, body, 1_100));
        assert!(verify_signature("k", "msg_1", "1000", &format!("v1,AAAA {sig}"), body, 1_100));
        assert!(!verify_signature("k", "msg_1", "1000", &sig, body, 1_000 + TOLERANCE_SECS + 1));
        assert!(!verify_signature("other", "msg_1", "1000", &sig, body, 1_100));
        assert!(!verify_signature("k", "msg_2", "1000", &sig, body, 1_100));
        assert!(!verify_signature("k", "msg_1", "1000", &sig, b"{}", 1_100));
    }

    #[test]
    fn bodies_parse_into_events_and_bad_ones_are_named() {
        let one = br#"{"type":"message","id":"m1","user":{"id":"u1","name":"Ann"},"text":"hi"}"#;
        let Parsed::Events(e) = parse_body(one) else { panic!("events") };
        assert_eq!(e[0].sender.address, "u1");
        assert_eq!(e[0].kind, EventKind::Text { message_id: "m1".into(), text: "hi".into() });
        let batch = br#"{"events":[{"type":"status","id":"s1","message_id":"k1","status":"read"},
            {"type":"button","id":"b1","user":{"id":"u1"},"value":"yes"}]}"#;
        let Parsed::Events(e) = parse_body(batch) else { panic!("batch") };
        assert_eq!(e.len(), 2);
        assert!(matches!(e[0].kind, EventKind::Status { status: Delivery::Read, .. }));
        assert!(matches!(parse_body(br#"{"type":"message","id":"m"}"#), Parsed::Malformed(_)));
        assert!(matches!(parse_body(b"nope"), Parsed::Malformed(_)));
        assert!(matches!(parse_body(br#"{"type":"typing","id":"t1"}"#), Parsed::Ignored { .. }));
    }
}

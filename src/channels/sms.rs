//! The Twilio Programmable Messaging adapter (`sms`): requests to
//! `{base}/2010-04-01/Accounts/{account_sid}/…` (base:
//! `channels.twilio_api_base`) with HTTP Basic `account_sid:auth_token`.
//!
//! In: Twilio posts form-encoded messages and status callbacks to the
//! channel's webhook URL, signed in `X-Twilio-Signature` (base64 HMAC-SHA1
//! with the auth token over the full URL it called followed by every POST
//! parameter, sorted by name, as name + value). A message is `MessageSid`
//! (the deduplication id), `From`, `Body` and `NumMedia` × `MediaUrl{n}`/
//! `MediaContentType{n}`; a status callback carries `MessageStatus` (and
//! `ErrorCode`). The opt-out keywords STOP, STOPALL, UNSUBSCRIBE, CANCEL,
//! END, QUIT and the opt-in keywords START, YES, UNSTOP change the
//! contact's consent; HELP goes to the bot like any text (a bot's canned
//! "help" message answers it). A bare number (1–99) picks that choice of the
//! numbered list the bot sent last. Every call is answered with an empty
//! `TwiML` `<Response/>`: replies leave through the API, not `TwiML`.
//!
//! Out: `Messages.json` with `To`, `From` (or `MessagingServiceSid` for an
//! `MG…` sender), `Body`, `MediaUrl` and `StatusCallback` (the webhook URL
//! Twilio called, so statuses come back to the same channel). A body holds
//! at most 1600 characters (Twilio's limit per API message); a longer reply
//! is split at word boundaries into several API messages, and Twilio splits
//! each into SMS segments (153 GSM-7 or 67 UCS-2 characters each; the count is
//! kept with the queued request as `segments`). Quick replies and buttons
//! become a numbered list ("Reply 1 for Red").

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures_util::future::BoxFuture;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::adapter::{
    self, Adapter, Answer, Delivery, Event, EventKind, HookRequest, Identity, MediaBytes, MediaRef, Parsed, Recipient,
    Rendered, Secrets, Sender,
};
use crate::app::AppState;
use crate::crypto::constant_time_eq;
use crate::error::{AppError, AppResult};
use crate::flows::engine::RichParts;

/// The header Twilio signs its webhook calls with.
pub const SIGNATURE_HEADER: &str = "X-Twilio-Signature";

/// Twilio's limit on `Body` per API message (characters).
pub const BODY_MAX: usize = 1600;

const TIMEOUT: Duration = Duration::from_secs(15);

/// Keywords that opt a number out (Twilio's defaults).
const OPT_OUT: [&str; 6] = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"];
/// Keywords that opt a number back in.
const OPT_IN: [&str; 3] = ["START", "YES", "UNSTOP"];

/// The signature Twilio sends for a POST of `params` to `url`.
#[must_use]
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes()) else {
        unreachable!("HMAC accepts keys of any length")
    };
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether `given` is Twilio's signature of the call.
#[must_use]
pub fn verify_signature(auth_token: &str, url: &str, params: &[(String, String)], given: &str) -> bool {
    !auth_token.is_empty() && constant_time_eq(signature(auth_token, url, params).as_bytes(), given.trim().as_bytes())
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn field<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The number of a choice when `text` is a bare 1–99.
#[must_use]
pub fn choice_number(text: &str) -> Option<usize> {
    let t = text.trim().trim_end_matches('.');
    (!t.is_empty() && t.len() <= 2 && t.bytes().all(|b| b.is_ascii_digit()))
        .then(|| t.parse::<usize>().ok())
        .flatten()
        .filter(|n| *n >= 1)
}

fn media_kind(mime: Option<&str>) -> &'static str {
    match mime.and_then(|m| m.split('/').next()) {
        Some("image") => "image",
        Some("audio") => "audio",
        Some("video") => "video",
        _ => "document",
    }
}

fn status_event(params: &[(String, String)], sid: &str, status: &str) -> Parsed {
    let delivery = match status {
        "sent" => Delivery::Sent,
        "delivered" => Delivery::Delivered,
        "read" => Delivery::Read,
        "undelivered" | "failed" => Delivery::Failed,
        // queued, accepted, scheduled, sending, canceled, receiving…: not a delivery state.
        other => {
            return Parsed::Ignored {
                dedupe_id: Some(format!("{sid}:{other}")),
                event_type: format!("status.{other}"),
            };
        }
    };
    let error = field(params, "ErrorCode").filter(|c| !c.is_empty()).map(|code| {
        let message = field(params, "ErrorMessage").filter(|m| !m.is_empty());
        message.map_or_else(|| format!("Twilio error {code} ({status})"), |m| format!("Twilio error {code}: {m}"))
    });
    let error = error.or_else(|| (delivery == Delivery::Failed).then(|| format!("Twilio reported {status}")));
    Parsed::Events(vec![Event {
        dedupe_id: format!("{sid}:{status}"),
        event_type: "status".into(),
        sender: Sender::default(),
        thread: None,
        kind: EventKind::Status { message_id: sid.to_owned(), status: delivery, error },
        raw: Value::Object(params.iter().map(|(k, v)| (k.clone(), json!(v))).collect()),
        context: Value::Null,
    }])
}

/// Parses a form-encoded webhook call; `url` is where Twilio posted it
/// (replies name it as their status callback).
#[must_use]
pub fn parse_call(body: &[u8], url: &str) -> Parsed {
    let params = form(body);
    let Some(sid) = field(&params, "MessageSid").or_else(|| field(&params, "SmsMessageSid")).filter(|s| !s.is_empty())
    else {
        return Parsed::Malformed("no MessageSid".into());
    };
    if let Some(status) = field(&params, "MessageStatus").filter(|s| *s != "received") {
        return status_event(&params, sid, status);
    }
    let Some(from) = field(&params, "From").map(str::trim).filter(|f| !f.is_empty()) else {
        return Parsed::Malformed("a message without From".into());
    };
    let sender = Sender {
        address: from.to_owned(),
        username: None,
        display_name: None,
        phone: from.starts_with('+').then(|| from.to_owned()),
    };
    let text = field(&params, "Body").unwrap_or("").trim().to_owned();
    let raw = Value::Object(params.iter().map(|(k, v)| (k.clone(), json!(v))).collect());
    let context = json!({ "status_callback": url });
    let event = |dedupe_id: String, event_type: &str, kind: EventKind| Event {
        dedupe_id,
        event_type: event_type.into(),
        sender: sender.clone(),
        thread: None,
        kind,
        raw: raw.clone(),
        context: context.clone(),
    };
    let media_count: usize = field(&params, "NumMedia").and_then(|n| n.trim().parse().ok()).unwrap_or(0);
    if media_count > 0 {
        let mut events = Vec::new();
        for i in 0..media_count.min(10) {
            let Some(url) = field(&params, &format!("MediaUrl{i}")).filter(|u| !u.is_empty()) else {
                return Parsed::Malformed(format!("NumMedia is {media_count} but MediaUrl{i} is missing"));
            };
            let mime = field(&params, &format!("MediaContentType{i}")).map(str::to_owned);
            let id = if i == 0 { sid.to_owned() } else { format!("{sid}:{i}") };
            let media = MediaRef {
                reference: url.to_owned(),
                kind: media_kind(mime.as_deref()),
                mime_type: mime,
                filename: None,
            };
            // The text goes with the first item, so the bot answers once.
            let caption = (i == 0 && !text.is_empty()).then(|| text.clone());
            events.push(event(id.clone(), "media", EventKind::Media { message_id: id, media, caption }));
        }
        return Parsed::Events(events);
    }
    if text.is_empty() {
        return Parsed::Ignored { dedupe_id: Some(sid.to_owned()), event_type: "message.empty".into() };
    }
    let keyword = text.to_ascii_uppercase();
    let message_id = sid.to_owned();
    let kind = if OPT_OUT.contains(&keyword.as_str()) {
        EventKind::Consent { message_id, opted_in: false, text }
    } else if OPT_IN.contains(&keyword.as_str()) {
        EventKind::Consent { message_id, opted_in: true, text }
    } else if let Some(n) = choice_number(&text) {
        EventKind::Button { id: message_id, value: format!("#{n}"), message_id: None, ack: None }
    } else {
        EventKind::Text { message_id, text }
    };
    let event_type = match &kind {
        EventKind::Consent { .. } => "consent",
        EventKind::Button { .. } => "choice",
        _ => "message",
    };
    Parsed::Events(vec![event(sid.to_owned(), event_type, kind)])
}

/// Splits `text` into pieces of at most `max` characters, at the last
/// whitespace of each piece where there is one.
#[must_use]
pub fn split(text: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest: Vec<char> = text.trim().chars().collect();
    while rest.len() > max {
        let cut = rest[..=max].iter().rposition(|c| c.is_whitespace()).filter(|&p| p > max / 2).unwrap_or(max);
        out.push(rest[..cut].iter().collect::<String>().trim_end().to_owned());
        rest = rest[cut..].iter().copied().skip_while(|c| c.is_whitespace()).collect();
    }
    if !rest.is_empty() {
        out.push(rest.into_iter().collect());
    }
    out
}

/// GSM 03.38 basic characters (one septet each).
const GSM7: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// GSM 03.38 extension characters (two septets each).
const GSM7_EXT: &str = "^{}\\[~]|€\x0c";

/// How many SMS segments a body costs: GSM-7 160 (153 per part when
/// concatenated, extension characters count twice), else UCS-2 70 (67 per
/// part, counted in UTF-16 units).
#[must_use]
pub fn segments(body: &str) -> usize {
    let septets: Option<usize> = body.chars().try_fold(0_usize, |n, c| {
        if GSM7.contains(c) {
            Some(n + 1)
        } else if GSM7_EXT.contains(c) {
            Some(n + 2)
        } else {
            None
        }
    });
    let (units, single, part) = match septets {
        Some(n) => (n, 160, 153),
        None => (body.encode_utf16().count(), 70, 67),
    };
    if units <= single { 1 } else { units.div_ceil(part) }
}

/// The choices of a reply as a numbered list (appended to `text`) and their
/// values in order (the user answers with the number). Shared with email.
#[must_use]
pub fn numbered_choices(text: &str, parts: &RichParts) -> (String, Vec<String>) {
    let mut lines = Vec::new();
    let mut values = Vec::new();
    let mut url_lines = Vec::new();
    for q in &parts.quick_replies {
        values.push(q.value.clone());
        lines.push(format!("Reply {} for {}", values.len(), q.label));
    }
    let card_buttons = parts.cards.iter().flat_map(|c| c.buttons.iter());
    for b in parts.buttons.iter().chain(card_buttons) {
        if let Some(url) = &b.url {
            url_lines.push(format!("{}: {url}", b.label));
        } else {
            values.push(b.value.clone().unwrap_or_else(|| b.label.clone()));
            lines.push(format!("Reply {} for {}", values.len(), b.label));
        }
    }
    let mut out = text.trim().to_owned();
    for card in &parts.cards {
        let sub = card.subtitle.as_deref().map(|s| format!("\n{s}")).unwrap_or_default();
        format!("{out}\n\n{}{sub}", card.title).trim().clone_into(&mut out);
    }
    for block in [lines, url_lines] {
        if !block.is_empty() {
            format!("{out}\n\n{}", block.join("\n")).trim().clone_into(&mut out);
        }
    }
    (out, values)
}

/// The API messages that show a reply to `to`.
#[must_use]
pub fn render(to: &Recipient, text: &str, parts: &RichParts) -> Vec<Rendered> {
    let (body, values) = numbered_choices(text, parts);
    let callback = to.context.get("status_callback").and_then(Value::as_str);
    let mut pieces = split(&body, BODY_MAX);
    let image = parts.image.as_ref().map(|i| i.url.clone());
    if pieces.is_empty() && image.is_some() {
        pieces.push(String::new());
    }
    let last = pieces.len().saturating_sub(1);
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, piece)| {
            let mut request = json!({ "to": to.address, "body": piece, "segments": segments(&piece) });
            if let Some(url) = callback {
                request["status_callback"] = json!(url);
            }
            let mut message_type = "text";
            if i == 0
                && let Some(url) = &image
            {
                request["media_url"] = json!(url);
                message_type = "image";
            }
            let vals = if i == last { values.clone() } else { Vec::new() };
            if !vals.is_empty() && message_type == "text" {
                message_type = "interactive";
            }
            Rendered { request, values: vals, message_type }
        })
        .collect()
}

fn basic(secrets: &Secrets) -> String {
    format!("Basic {}", STANDARD.encode(format!("{}:{}", secrets.get("account_sid"), secrets.get("auth_token"))))
}

fn api_url(state: &AppState, secrets: &Secrets, tail: &str) -> String {
    let base = state.config.channels.twilio_api_base.trim_end_matches('/');
    format!("{base}/2010-04-01/Accounts/{}{tail}", secrets.get("account_sid"))
}

/// One REST call; Twilio's errors are `{code, message, status, more_info}`.
async fn call(
    state: &AppState,
    secrets: &Secrets,
    method: Method,
    url: &str,
    form: Option<&[(&str, String)]>,
) -> Answer {
    let request = match state.outbound.request(method, url) {
        Ok(r) => {
            let r = r.timeout(TIMEOUT).header("authorization", basic(secrets)).header("accept", "application/json");
            match form {
                Some(f) => r.form(f),
                None => r,
            }
        }
        Err(e) => return Answer::Unreachable(e.to_string()),
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
    let code = parsed.get("code").and_then(Value::as_i64);
    let message = parsed.get("message").and_then(Value::as_str).unwrap_or("");
    let description = match (code, message.is_empty()) {
        (Some(c), false) => format!("{message} (Twilio error {c})"),
        (Some(c), true) => format!("Twilio error {c} (HTTP {status})"),
        (None, false) => message.to_owned(),
        (None, true) => format!("the Twilio API answered HTTP {status}"),
    };
    // 20429 is Twilio's "too many requests"; 20003 its "authentication error".
    let status = match code {
        Some(20429) => 429,
        Some(20003) if !matches!(status, 401 | 403) => 401,
        _ => status,
    };
    Answer::Refused { status, description, retry_after }
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `from` is an E.164 number or a Messaging Service SID.
#[must_use]
pub fn sender_is_well_formed(from: &str) -> bool {
    if let Some(digits) = from.strip_prefix('+') {
        return (7..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
    }
    from.strip_prefix("MG").is_some_and(|h| is_hex(h, 32))
}

/// The Twilio SMS adapter.
pub struct Sms;

impl Adapter for Sms {
    fn kind(&self) -> &'static str {
        "sms"
    }

    fn provider(&self) -> &'static str {
        "Twilio"
    }

    fn check_credentials(&self, given: &Map<String, Value>) -> AppResult<Map<String, Value>> {
        let fields = adapter::string_fields(given, &["account_sid", "auth_token", "from"])?;
        let sid = adapter::required(&fields, "account_sid", "the Account SID from the Twilio console (AC…)")?;
        if !sid.strip_prefix("AC").is_some_and(|h| is_hex(h, 32)) {
            return Err(AppError::validation(
                "credentials.account_sid",
                "an Account SID is AC followed by 32 hex digits",
            ));
        }
        let token = adapter::required(&fields, "auth_token", "the Auth Token from the Twilio console")?;
        if !(16..=128).contains(&token.len()) || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(AppError::validation("credentials.auth_token", "an Auth Token is 32 letters and digits"));
        }
        let from = adapter::required(&fields, "from", "the sending number (+E.164) or Messaging Service SID (MG…)")?;
        if !sender_is_well_formed(from) {
            return Err(AppError::validation(
                "credentials.from",
                "a phone number in E.164 form (+14155550100) or a Messaging Service SID (MG…)",
            ));
        }
        Ok(fields)
    }

    fn credential_field(&self) -> &'static str {
        "credentials.auth_token"
    }

    fn verify(&self, secrets: &Secrets, req: &HookRequest<'_>) -> bool {
        let Some(given) = req.header(SIGNATURE_HEADER) else { return false };
        verify_signature(secrets.get("auth_token"), &req.url, &form(req.body), given)
    }

    fn parse(&self, req: &HookRequest<'_>) -> Parsed {
        parse_call(req.body, &req.url)
    }

    fn acknowledge(&self, _outcome: &'static str) -> actix_web::HttpResponse {
        actix_web::HttpResponse::Ok()
            .content_type("text/xml; charset=utf-8")
            .body("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>")
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
            let text = |k: &str| request.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
            let Some(to) = text("to") else { return Answer::local("the queued request is unreadable") };
            let from = secrets.get("from");
            let mut form: Vec<(&str, String)> = vec![("To", to.to_owned())];
            if from.starts_with("MG") {
                form.push(("MessagingServiceSid", from.to_owned()));
            } else {
                form.push(("From", from.to_owned()));
            }
            if let Some(body) = text("body") {
                form.push(("Body", body.to_owned()));
            }
            if let Some(url) = text("media_url") {
                form.push(("MediaUrl", url.to_owned()));
            }
            if let Some(url) = text("status_callback") {
                form.push(("StatusCallback", url.to_owned()));
            }
            call(state, secrets, Method::POST, &api_url(state, secrets, "/Messages.json"), Some(&form)).await
        })
    }

    fn sent_id(&self, result: &Value) -> Option<String> {
        result.get("sid").and_then(Value::as_str).map(str::to_owned)
    }

    fn check<'a>(&'a self, state: &'a AppState, secrets: &'a Secrets) -> BoxFuture<'a, Result<Identity, Answer>> {
        Box::pin(async move {
            match call(state, secrets, Method::GET, &api_url(state, secrets, ".json"), None).await {
                Answer::Ok(account) => {
                    if account.get("status").and_then(Value::as_str).is_some_and(|s| s != "active") {
                        let status = account["status"].as_str().unwrap_or("").to_owned();
                        return Err(Answer::Refused {
                            status: 403,
                            description: format!("the Twilio account is {status}"),
                            retry_after: None,
                        });
                    }
                    Ok(Identity { username: Some(secrets.get("from").to_owned()) })
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
            let limit = state.config.files.max_bytes();
            adapter::download(state, &media.reference, &[("authorization", basic(secrets))], limit).await
        })
    }

    /// A US long-code number sends about one message segment a second.
    fn min_interval(&self) -> Duration {
        Duration::from_secs(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::engine::{QuickReply, ReplyButton};

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn twilios_published_signature_example_verifies() {
        // From Twilio's "Validating requests" documentation.
        let params = pairs(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675310"),
            ("Digits", "1234"),
            ("From", "+14158675310"),
            ("To", "+18005551212"),
        ]);
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(signature("12345", url, &params), "GvWf1cFY/Q7PnoempGyD5oXAezc=");
        assert!(verify_signature("12345", url, &params, "GvWf1cFY/Q7PnoempGyD5oXAezc="));
        assert!(!verify_signature("12346", url, &params, "GvWf1cFY/Q7PnoempGyD5oXAezc="));
        assert!(!verify_signature(
            "12345",
            "https://mycompany.com/myapp.php?foo=1",
            &params,
            "GvWf1cFY/Q7PnoempGyD5oXAezc="
        ));
        assert!(!verify_signature("", url, &params, &signature("", url, &params)));
    }

    #[test]
    fn keywords_numbers_media_and_statuses_parse() {
        let p = |body: &str| parse_call(body.as_bytes(), "https://h/hooks/x");
        let Parsed::Events(e) = p("MessageSid=SM1&From=%2B15550001&Body=stop") else { panic!("stop") };
        assert!(matches!(e[0].kind, EventKind::Consent { opted_in: false, .. }));
        let Parsed::Events(e) = p("MessageSid=SM2&From=%2B15550001&Body=Start") else { panic!("start") };
        assert!(matches!(e[0].kind, EventKind::Consent { opted_in: true, .. }));
        let Parsed::Events(e) = p("MessageSid=SM3&From=%2B15550001&Body=+2+") else { panic!("choice") };
        assert!(matches!(&e[0].kind, EventKind::Button { value, message_id: None, .. } if value == "#2"));
        assert_eq!(e[0].context["status_callback"], "https://h/hooks/x");
        let Parsed::Events(e) = p("MessageSid=SM4&From=%2B15550001&Body=STOP+please") else { panic!("text") };
        assert!(matches!(e[0].kind, EventKind::Text { .. }));
        let Parsed::Events(e) = p(
            "MessageSid=SM5&From=%2B15550001&Body=see&NumMedia=2&MediaUrl0=u0&MediaContentType0=image%2Fpng&MediaUrl1=u1",
        ) else {
            panic!("media")
        };
        assert_eq!(e.len(), 2);
        assert!(
            matches!(&e[0].kind, EventKind::Media { media, caption: Some(c), .. } if media.kind == "image" && c == "see")
        );
        assert_eq!(e[1].dedupe_id, "SM5:1");
        let Parsed::Events(e) = p("MessageSid=SM6&MessageStatus=undelivered&ErrorCode=30003") else { panic!("status") };
        assert!(
            matches!(&e[0].kind, EventKind::Status { status: Delivery::Failed, error: Some(err), .. } if err.contains("30003"))
        );
        assert!(matches!(p("MessageSid=SM7&MessageStatus=queued"), Parsed::Ignored { .. }));
        assert!(matches!(p("Body=hi"), Parsed::Malformed(_)));
        assert!(matches!(p("MessageSid=SM8&Body=hi"), Parsed::Malformed(_)));
    }

    #[test]
    fn long_texts_split_at_words_and_segments_count_by_alphabet() {
        let text = "word ".repeat(700);
        let parts = split(&text, BODY_MAX);
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| p.chars().count() <= BODY_MAX && !p.ends_with(' ') && p.ends_with("word")));
        assert_eq!(parts.join(" "), text.trim());
        assert_eq!(segments(&"a".repeat(160)), 1);
        assert_eq!(segments(&"a".repeat(161)), 2);
        assert_eq!(segments(&"€".repeat(80)), 1);
        assert_eq!(segments(&"€".repeat(81)), 2);
        assert_eq!(segments(&"é".repeat(160)), 1);
        assert_eq!(segments(&"ł".repeat(70)), 1);
        assert_eq!(segments(&"ł".repeat(71)), 2);
        assert_eq!(segments("😀"), 1);
    }

    #[test]
    fn choices_render_as_a_numbered_list_with_their_values() {
        let parts = RichParts {
            quick_replies: vec![QuickReply { label: "Red".into(), value: "red".into() }],
            buttons: vec![
                ReplyButton { label: "Blue".into(), value: Some("blue".into()), url: None },
                ReplyButton { label: "Site".into(), value: None, url: Some("https://e.com".into()) },
            ],
            ..RichParts::default()
        };
        let to =
            Recipient { address: "+15550001".into(), thread: None, context: json!({"status_callback": "https://h/x"}) };
        let r = render(&to, "Pick", &parts);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].request["body"], "Pick\n\nReply 1 for Red\nReply 2 for Blue\n\nSite: https://e.com");
        assert_eq!(r[0].request["status_callback"], "https://h/x");
        assert_eq!(r[0].values, vec!["red".to_owned(), "blue".to_owned()]);
        assert!(sender_is_well_formed("+14155550100"));
        assert!(sender_is_well_formed("MG0123456789abcdef0123456789abcdef"));
        assert!(!sender_is_well_formed("14155550100"));
    }
}

//! The email channel (`email`): mail in by a raw-MIME webhook, replies out
//! through this server's SMTP server (the console's instance settings, else
//! `[smtp]`), threaded by Message-ID.
//!
//! In (`POST /hooks/{path}`), the whole RFC 5322 message, as any of:
//! - the raw message as the body (`Content-Type: message/rfc822`, or any
//!   type that is not a form: `curl --data-binary @mail.eml`);
//! - a `multipart/form-data` or `application/x-www-form-urlencoded` form
//!   with the message in the field `email` (`SendGrid` Inbound Parse with
//!   "POST the raw, full MIME message") or `body-mime` (Mailgun routes
//!   forwarding to a URL ending in `mime`).
//!
//! Authentication: the channel's secret, either as `?token=<secret>` in the
//! URL given to the mail service (what those services can do), or as the
//! generic channel's Standard Webhooks signature headers.
//!
//! Parsing: From (address and name; the contact), Subject, Message-ID (the
//! deduplication id; a message without one is identified by its SHA-256),
//! In-Reply-To/References (the thread), the text part (or the HTML part as
//! text) with the quoted earlier mail and the signature cut off, and each
//! attachment as media (its bytes travel as a `data:` reference to
//! [`Adapter::fetch_media`]). A body that is a bare number picks that choice
//! of the numbered list sent last.
//!
//! Out: a text/plain mail from `from_address` (`from_name`) with
//! `Re: <subject>`, `In-Reply-To` the customer's mail and `References` the
//! whole chain, and a Message-ID of ours made from the queue's idempotency
//! key (the same on every attempt; it is the message's `sent_id`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures_util::future::BoxFuture;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use mail_parser::{MessageParser, MimeHeaders};
use serde_json::{Map, Value, json};

use super::adapter::{
    self, Adapter, Answer, Event, EventKind, HookRequest, Identity, MediaBytes, MediaRef, Parsed, Recipient, Rendered,
    Secrets, Sender,
};
use super::generic;
use super::sms::{choice_number, numbered_choices};
use crate::app::AppState;
use crate::crypto::constant_time_eq;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::flows::engine::RichParts;
use crate::outbound::mail::MailError;

/// The form fields that carry a raw message.
const MIME_FIELDS: [&str; 2] = ["email", "body-mime"];

/// The raw message of a webhook call, by its content type.
fn raw_message<'a>(content_type: &str, body: &'a [u8]) -> Result<std::borrow::Cow<'a, [u8]>, String> {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match essence.as_str() {
        "multipart/form-data" => {
            // A form is MIME too: read it with the same parser.
            let mut whole = format!("Content-Type: {content_type}\r\n\r\n").into_bytes();
            whole.extend_from_slice(body);
            let form = MessageParser::default().parse(&whole).ok_or("the form cannot be read")?;
            for part in form.parts.iter().skip(1) {
                let name = part.content_disposition().and_then(|d| d.attribute("name")).unwrap_or("");
                if MIME_FIELDS.contains(&name) {
                    return Ok(std::borrow::Cow::Owned(part.contents().to_vec()));
                }
            }
            Err("the form has no `email` or `body-mime` field".into())
        }
        "application/x-www-form-urlencoded" => url::form_urlencoded::parse(body)
            .find(|(k, _)| MIME_FIELDS.contains(&k.as_ref()))
            .map(|(_, v)| std::borrow::Cow::Owned(v.into_owned().into_bytes()))
            .ok_or_else(|| "the form has no `email` or `body-mime` field".into()),
        _ => Ok(std::borrow::Cow::Borrowed(body)),
    }
}

/// Message ids in a header (`<a@b> <c@d>`), without the angle brackets.
fn ids(value: &mail_parser::HeaderValue<'_>) -> Vec<String> {
    let list: Vec<String> = match value {
        mail_parser::HeaderValue::Text(t) => vec![t.to_string()],
        mail_parser::HeaderValue::TextList(l) => l.iter().map(ToString::to_string).collect(),
        _ => Vec::new(),
    };
    list.iter()
        .flat_map(|s| s.split_whitespace())
        .map(|s| s.trim_matches(|c| c == '<' || c == '>' || c == ',').to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

fn bracket(id: &str) -> String {
    format!("<{id}>")
}

/// The new text of a reply: quoted lines, the quoted earlier mail
/// ("On … wrote:", Outlook's "-----Original Message-----" or its header
/// block) and the signature ("-- ") cut off.
#[must_use]
pub fn strip_reply(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut kept: Vec<&str> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim();
        let next = lines.get(i + 1).map_or("", |l| l.trim());
        let quote_header = (t.starts_with("On ") && (t.ends_with("wrote:") || next.ends_with("wrote:")))
            || t.starts_with("-----Original Message-----")
            || t.starts_with("________________________________")
            || (t.starts_with("From:") && next.starts_with("Sent:"))
            || (t.starts_with("Le ") && t.ends_with("a écrit :"))
            || (t.starts_with("Am ") && t.ends_with("schrieb:"));
        if quote_header || *line == "-- " || t == "--" || t == "Sent from my iPhone" || t.starts_with("Sent from my ") {
            break;
        }
        if t.starts_with('>') {
            continue;
        }
        kept.push(line.trim_end());
    }
    kept.join("\n").trim().to_owned()
}

/// Parses one raw message into events (attachments first, then the text).
#[must_use]
pub fn parse_message(raw: &[u8]) -> Parsed {
    let Some(message) = MessageParser::default().parse(raw) else {
        return Parsed::Malformed("the body is not an email message".into());
    };
    let Some(from) = message.from().and_then(|f| f.first()) else {
        return Parsed::Malformed("the message has no From header".into());
    };
    let Some(address) = from.address().map(|a| a.trim().to_ascii_lowercase()).filter(|a| a.contains('@')) else {
        return Parsed::Malformed("the From header has no address".into());
    };
    let message_id = message
        .message_id()
        .map_or_else(|| format!("sha256:{}", hex::encode(<sha2::Sha256 as sha2::Digest>::digest(raw))), str::to_owned);
    let in_reply_to = ids(message.in_reply_to());
    let mut references = ids(message.references());
    for id in &in_reply_to {
        if !references.contains(id) {
            references.push(id.clone());
        }
    }
    let subject = message.subject().map_or("", str::trim).to_owned();
    let sender = Sender {
        address: address.clone(),
        username: None,
        display_name: from.name().map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()),
        phone: None,
    };
    let thread = references.first().cloned().unwrap_or_else(|| message_id.clone());
    let mut chain = references.clone();
    chain.push(message_id.clone());
    let context = json!({ "subject": subject, "message_id": message_id, "references": chain });
    let text = message.body_text(0).map(|t| strip_reply(&t)).unwrap_or_default();
    let attachments: Vec<_> = message.attachments().filter(|a| !a.is_message() && !a.contents().is_empty()).collect();
    let raw_info = json!({
        "message_id": message_id, "from": address, "subject": subject, "in_reply_to": in_reply_to,
        "references": references, "text_chars": text.chars().count(),
        "attachments": attachments.iter().map(|a| json!({ "name": a.attachment_name(), "size": a.len() })).collect::<Vec<_>>(),
    });
    let event = |dedupe_id: String, event_type: &str, kind: EventKind| Event {
        dedupe_id,
        event_type: event_type.into(),
        sender: sender.clone(),
        thread: Some(thread.clone()),
        kind,
        raw: raw_info.clone(),
        context: context.clone(),
    };
    let (mut events, mut media_events) = (Vec::new(), Vec::new());
    for (i, part) in attachments.iter().enumerate() {
        let mime = part.content_type().map(|c| match c.subtype() {
            Some(sub) => format!("{}/{sub}", c.ctype()),
            None => c.ctype().to_owned(),
        });
        let mime = mime.map(|m| m.to_ascii_lowercase());
        let kind = match mime.as_deref().and_then(|m| m.split('/').next()) {
            Some("image") => "image",
            Some("audio") => "audio",
            Some("video") => "video",
            _ => "document",
        };
        let reference = format!(
            "data:{};base64,{}",
            mime.as_deref().unwrap_or("application/octet-stream"),
            STANDARD.encode(part.contents())
        );
        let id = format!("{message_id}#{}", i + 1);
        let media = MediaRef { reference, mime_type: mime, filename: part.attachment_name().map(str::to_owned), kind };
        media_events.push(event(id.clone(), "attachment", EventKind::Media { message_id: id, media, caption: None }));
    }
    // The text first: it runs the turn (a file alone runs none once the conversation is open).
    if !text.is_empty() {
        let kind = match choice_number(&text) {
            Some(n) => {
                EventKind::Button { id: message_id.clone(), value: format!("#{n}"), message_id: None, ack: None }
            }
            None => EventKind::Text { message_id: message_id.clone(), text },
        };
        events.push(event(message_id.clone(), "email", kind));
    }
    events.append(&mut media_events);
    if events.is_empty() {
        return Parsed::Ignored { dedupe_id: Some(message_id), event_type: "email.empty".into() };
    }
    Parsed::Events(events)
}

/// Decodes a `data:<type>;base64,<bytes>` reference.
fn decode_data_url(reference: &str) -> Option<MediaBytes> {
    let rest = reference.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let mime = meta.strip_suffix(";base64")?;
    let data = STANDARD.decode(data).ok()?;
    Some(MediaBytes { data, mime_type: (!mime.is_empty()).then(|| mime.to_owned()) })
}

/// `Re: <subject>` (once).
fn reply_subject(subject: &str) -> String {
    let s = subject.trim();
    if s.is_empty() {
        "Re: your message".into()
    } else if s.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("re:")) {
        s.to_owned()
    } else {
        format!("Re: {s}")
    }
}

/// The mail that shows a reply to `to` (one per reply: no length limit).
#[must_use]
pub fn render(to: &Recipient, text: &str, parts: &RichParts) -> Vec<Rendered> {
    let (mut body, values) = numbered_choices(text, parts);
    if let Some(image) = &parts.image {
        format!("{body}\n\n{}", image.url).trim().clone_into(&mut body);
    }
    if body.is_empty() {
        return Vec::new();
    }
    let context = &to.context;
    let subject = reply_subject(context.get("subject").and_then(Value::as_str).unwrap_or(""));
    let mut request = json!({ "to": to.address, "subject": subject, "text": body });
    if let Some(mid) = context.get("message_id").and_then(Value::as_str) {
        request["in_reply_to"] = json!(mid);
    }
    if let Some(refs) = context.get("references").filter(|r| r.as_array().is_some_and(|a| !a.is_empty())) {
        request["references"] = refs.clone();
    }
    let message_type = if values.is_empty() { "text" } else { "interactive" };
    vec![Rendered { request, values, message_type }]
}

/// Our Message-ID for a queued message: the same on every attempt.
fn our_message_id(key: &str, from: &str) -> String {
    let domain = from.rsplit_once('@').map_or("botbuilder.invalid", |(_, d)| d);
    format!("{key}.bb@{domain}")
}

fn build(secrets: &Secrets, request: &Value, message_id: &str) -> Result<lettre::Message, String> {
    let text = |k: &str| request.get(k).and_then(Value::as_str).unwrap_or("");
    let address = secrets.get("from_address").parse().map_err(|e| format!("from_address: {e}"))?;
    let name = Some(secrets.get("from_name").to_owned()).filter(|n| !n.is_empty());
    let to: Mailbox = text("to").parse().map_err(|e| format!("the recipient: {e}"))?;
    let mut builder = lettre::Message::builder()
        .from(Mailbox::new(name, address))
        .to(to)
        .subject(text("subject"))
        .message_id(Some(bracket(message_id)));
    if !text("in_reply_to").is_empty() {
        builder = builder.in_reply_to(bracket(text("in_reply_to")));
    }
    if let Some(refs) = request.get("references").and_then(Value::as_array) {
        let chain: Vec<String> = refs.iter().filter_map(Value::as_str).map(bracket).collect();
        if !chain.is_empty() {
            builder = builder.references(chain.join(" "));
        }
    }
    builder.header(ContentType::TEXT_PLAIN).body(text("text").to_owned()).map_err(|e| e.to_string())
}

/// The email adapter.
pub struct Email;

impl Adapter for Email {
    fn kind(&self) -> &'static str {
        "email"
    }

    fn provider(&self) -> &'static str {
        "The SMTP server"
    }

    fn check_credentials(&self, given: &Map<String, Value>) -> AppResult<Map<String, Value>> {
        let fields = adapter::string_fields(given, &["from_address", "from_name"])?;
        let from = adapter::required(&fields, "from_address", "the address customers write to and replies come from")?;
        if from.parse::<lettre::Address>().is_err() {
            return Err(AppError::validation("credentials.from_address", "must be an email address"));
        }
        if fields
            .get("from_name")
            .and_then(Value::as_str)
            .is_some_and(|n| n.chars().count() > 200 || n.contains(['\r', '\n']))
        {
            return Err(AppError::validation("credentials.from_name", "at most 200 characters on one line"));
        }
        Ok(fields)
    }

    fn credential_field(&self) -> &'static str {
        "credentials.from_address"
    }

    fn shows_webhook_secret(&self) -> bool {
        true
    }

    fn precondition<'a>(&'a self, state: &'a AppState) -> BoxFuture<'a, AppResult<()>> {
        Box::pin(async move {
            if crate::admin::instance::mailer(state).await?.is_configured() {
                Ok(())
            } else {
                Err(AppError::new(
                    ErrorCode::SmtpNotConfigured,
                    "email channels send through this server's SMTP server: set it up in the admin console first",
                ))
            }
        })
    }

    fn verify(&self, secrets: &Secrets, req: &HookRequest<'_>) -> bool {
        if let Some(token) = req.query_param("token") {
            return constant_time_eq(token.as_bytes(), secrets.webhook_secret.as_bytes());
        }
        let (Some(id), Some(ts), Some(sig)) =
            (req.header("webhook-id"), req.header("webhook-timestamp"), req.header("webhook-signature"))
        else {
            return false;
        };
        generic::verify_signature(&secrets.webhook_secret, id, ts, sig, req.body, chrono::Utc::now().timestamp())
    }

    fn parse(&self, req: &HookRequest<'_>) -> Parsed {
        match raw_message(req.header("content-type").unwrap_or(""), req.body) {
            Ok(raw) => parse_message(&raw),
            Err(why) => Parsed::Malformed(why),
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
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Answer> {
        Box::pin(async move {
            let mailer = match crate::admin::instance::mailer(state).await {
                Ok(m) => m,
                Err(e) => return Answer::Unreachable(e.message().to_owned()),
            };
            let message_id = our_message_id(idempotency_key, secrets.get("from_address"));
            let message = match build(secrets, request, &message_id) {
                Ok(m) => m,
                Err(why) => return Answer::local(format!("the mail cannot be built: {why}")),
            };
            match mailer.send(message).await {
                Ok(()) => Answer::Ok(json!({ "message_id": message_id })),
                Err(e @ MailError::NotConfigured) => Answer::local(e.to_string()),
                Err(e @ MailError::Rejected(_)) => {
                    Answer::Refused { status: 422, description: e.to_string(), retry_after: None }
                }
                Err(e @ MailError::Transient(_)) => Answer::Unreachable(e.to_string()),
            }
        })
    }

    fn sent_id(&self, result: &Value) -> Option<String> {
        result.get("message_id").and_then(Value::as_str).map(str::to_owned)
    }

    fn check<'a>(&'a self, state: &'a AppState, secrets: &'a Secrets) -> BoxFuture<'a, Result<Identity, Answer>> {
        Box::pin(async move {
            let mailer =
                crate::admin::instance::mailer(state).await.map_err(|e| Answer::Unreachable(e.message().to_owned()))?;
            match mailer.test_connection().await {
                Ok(()) => Ok(Identity { username: Some(secrets.get("from_address").to_owned()) }),
                Err(e) => Err(Answer::Unreachable(e.to_string())),
            }
        })
    }

    fn fetch_media<'a>(
        &'a self,
        state: &'a AppState,
        _secrets: &'a Secrets,
        media: &'a MediaRef,
    ) -> BoxFuture<'a, Result<MediaBytes, Answer>> {
        Box::pin(async move {
            let bytes =
                decode_data_url(&media.reference).ok_or_else(|| Answer::local("the attachment cannot be read"))?;
            let limit = state.config.files.max_bytes();
            if bytes.data.len() as u64 > limit {
                return Err(Answer::Refused { status: 413, description: adapter::too_large(limit), retry_after: None });
            }
            Ok(bytes)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAIL: &str = "From: Ann Lee <Ann@Example.com>\r\nTo: help@shop.test\r\nSubject: Order 42\r\n\
        Message-ID: <m2@example.com>\r\nIn-Reply-To: <r1@shop.test>\r\nReferences: <m1@example.com> <r1@shop.test>\r\n\
        Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
        Where is it?\r\n\r\nOn Mon, 1 Jan 2026, Shop <help@shop.test> wrote:\r\n> Thanks for your order.\r\n\
        --b\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=\"a.png\"\r\n\
        Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--b--\r\n";

    #[test]
    fn a_reply_parses_with_its_thread_attachment_and_new_text_only() {
        let Parsed::Events(e) = parse_message(MAIL.as_bytes()) else { panic!("events") };
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].sender.address, "ann@example.com");
        assert_eq!(e[0].sender.display_name.as_deref(), Some("Ann Lee"));
        assert!(matches!(&e[1].kind, EventKind::Media { media, .. }
            if media.filename.as_deref() == Some("a.png") && media.mime_type.as_deref() == Some("image/png")));
        assert_eq!(e[0].kind, EventKind::Text { message_id: "m2@example.com".into(), text: "Where is it?".into() });
        assert_eq!(e[0].thread.as_deref(), Some("m1@example.com"));
        assert_eq!(e[0].context["references"], json!(["m1@example.com", "r1@shop.test", "m2@example.com"]));
        let r = render(
            &Recipient { address: "ann@example.com".into(), thread: None, context: e[1].context.clone() },
            "Soon.",
            &RichParts::default(),
        );
        assert_eq!(r[0].request["subject"], "Re: Order 42");
        assert_eq!(r[0].request["in_reply_to"], "m2@example.com");
    }

    #[test]
    fn forms_carry_the_message_and_garbage_is_malformed() {
        let form = format!(
            "--x\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\nhelp@shop.test\r\n--x\r\n\
             Content-Disposition: form-data; name=\"email\"\r\n\r\n{MAIL}\r\n--x--\r\n"
        );
        let raw = raw_message("multipart/form-data; boundary=x", form.as_bytes()).expect("field");
        assert!(matches!(parse_message(&raw), Parsed::Events(e) if e.len() == 2));
        let encoded: String =
            url::form_urlencoded::Serializer::new(String::new()).append_pair("body-mime", MAIL).finish();
        let raw = raw_message("application/x-www-form-urlencoded", encoded.as_bytes()).expect("field");
        assert!(matches!(parse_message(&raw), Parsed::Events(_)));
        assert!(
            raw_message(
                "multipart/form-data; boundary=x",
                b"--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--x--"
            )
            .is_err()
        );
        assert!(matches!(parse_message(b"just some words"), Parsed::Malformed(_)));
        assert!(matches!(parse_message(b""), Parsed::Malformed(_)));
    }

    #[test]
    fn quotes_and_signatures_are_cut() {
        assert_eq!(strip_reply("Yes please.\n\n-- \nAnn\nCEO"), "Yes please.");
        assert_eq!(strip_reply("Ok\n-----Original Message-----\nFrom: x"), "Ok");
        assert_eq!(strip_reply("Fine\nOn Tue, Jan 2, 2026 at 10:00 AM Shop\n<help@shop.test> wrote:\n> hi"), "Fine");
        assert_eq!(strip_reply("> old\nnew"), "new");
        assert_eq!(reply_subject("RE: x"), "RE: x");
        assert_eq!(decode_data_url("data:text/plain;base64,aGk=").map(|b| b.data), Some(b"hi".to_vec()));
    }
}

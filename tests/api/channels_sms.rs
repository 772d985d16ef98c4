//! The Twilio SMS channel through the real server, with a local fake of the
//! Twilio REST API (`channels.twilio_api_base` points at it) that checks
//! HTTP Basic `account_sid:auth_token`, the request paths and the form
//! bodies, and answers like Twilio (`sid`; errors `{code, message, status}`).
//! Inbound calls are form-encoded and signed the way Twilio signs them
//! (`X-Twilio-Signature`, computed here independently of the server).

#![allow(clippy::too_many_lines, reason = "each test is one end-to-end scenario")]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};

use crate::channels::colour_flow;
use crate::fake_http::{FakeServer, Received, Reply};
use crate::helpers::{Session, TestApp, assert_error, spawn_app_with};

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "0123456789abcdef0123456789abcdef";
const WRONG_TOKEN: &str = "ffffffffffffffffffffffffffffffff";
const FROM: &str = "+15005550006";
const ANN: &str = "+14155550100";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

/// A fake Twilio: only `SID`/`TOKEN` authenticate; `Messages.json` answers
/// the queued statuses first (429 with code 20429), then 201 with a new sid.
struct FakeTwilio {
    server: FakeServer,
    answers: Arc<Mutex<VecDeque<u16>>>,
}

fn basic(sid: &str, token: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{sid}:{token}")))
}

impl FakeTwilio {
    async fn start() -> FakeTwilio {
        let answers: Arc<Mutex<VecDeque<u16>>> = Arc::new(Mutex::new(VecDeque::new()));
        let queue = answers.clone();
        let next = Arc::new(Mutex::new(0_u32));
        let server = FakeServer::start(Arc::new(move |r: &Received| {
            let reply = |status: u16, v: Value| Reply::Full(status, "application/json".into(), v.to_string().into_bytes());
            if r.header("authorization") != Some(basic(SID, TOKEN).as_str()) {
                return reply(401, json!({"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}));
            }
            let account = format!("/2010-04-01/Accounts/{SID}");
            if r.method == "GET" && r.path == format!("{account}.json") {
                return reply(200, json!({"sid": SID, "friendly_name": "Shop", "status": "active"}));
            }
            if r.method == "GET" && r.path == "/media/cat.png" {
                return Reply::Full(200, "image/png".into(), PNG.to_vec());
            }
            if r.method == "POST" && r.path == format!("{account}/Messages.json") {
                assert_eq!(r.header("content-type"), Some("application/x-www-form-urlencoded"), "{r:?}");
                if let Some(status) = queue.lock().expect("answers").pop_front() {
                    return Reply::WithHeaders(
                        status,
                        vec![("Content-Type".into(), "application/json".into()), ("Retry-After".into(), "30".into())],
                        json!({"code": 20429, "message": "Too Many Requests", "status": status}).to_string().into_bytes(),
                    );
                }
                let mut n = next.lock().expect("sid");
                *n += 1;
                return reply(201, json!({"sid": format!("SM{:032}", *n), "status": "queued"}));
            }
            reply(404, json!({"code": 20404, "message": "The requested resource was not found", "status": 404}))
        }))
        .await;
        FakeTwilio { server, answers }
    }

    /// The forms posted to `Messages.json`, in order.
    fn sent(&self) -> Vec<Vec<(String, String)>> {
        self.server
            .requests()
            .into_iter()
            .filter(|r| r.path.ends_with("/Messages.json"))
            .map(|r| url::form_urlencoded::parse(&r.body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
            .collect()
    }

    fn bodies(&self) -> Vec<String> {
        self.sent().iter().map(|f| field(f, "Body").unwrap_or_default()).collect()
    }
}

fn field(form: &[(String, String)], name: &str) -> Option<String> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

/// Twilio's signature: base64 HMAC-SHA1 over the URL and the sorted name+value pairs.
fn twilio_signature(token: &str, url: &str, params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort_unstable();
    let mut data = url.to_owned();
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes()).expect("key");
    mac.update(data.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

struct Setup {
    app: TestApp,
    s: Session,
    tw: FakeTwilio,
    bot: i64,
}

async fn setup() -> Setup {
    let tw = FakeTwilio::start().await;
    let base = tw.server.base.clone();
    let app = spawn_app_with(move |c| c.channels.twilio_api_base = base).await;
    let s = app.register("owner@example.com").await;
    let bot = crate::helpers::published_bot(&app, &s, "Shop", colour_flow()).await;
    Setup { app, s, tw, bot }
}

async fn active_channel(st: &Setup) -> Value {
    let (status, channel) = st
        .app
        .call(
            &st.s,
            Method::POST,
            &format!("/api/v1/orgs/{}/channels", st.s.org_id),
            Some(json!({ "type": "sms", "bot_id": st.bot, "credentials": { "account_sid": SID, "auth_token": TOKEN, "from": FROM } })),
        )
        .await;
    assert_eq!(status, 201, "{channel}");
    assert!(!channel.to_string().contains(TOKEN), "{channel}");
    let id = channel["id"].as_i64().expect("id");
    let (status, activated) = st.app.call(&st.s, Method::POST, &format!("/api/v1/channels/{id}/activate"), None).await;
    assert_eq!(status, 200, "{activated}");
    assert_eq!(activated["channel"]["status"], "active");
    assert_eq!(activated["username"], FROM);
    activated["channel"].clone()
}

/// Posts a form to the channel's webhook as Twilio would (signed over
/// `webhook_url` + `query`), or with `signature` when given.
async fn post_form(
    app: &TestApp,
    channel: &Value,
    query: &str,
    params: &[(&str, &str)],
    signature: Option<&str>,
) -> (u16, String, String) {
    let url = channel["webhook_url"].as_str().expect("webhook_url");
    let signed_url = if query.is_empty() { url.to_owned() } else { format!("{url}?{query}") };
    let at = signed_url.find("/hooks/").expect("hooks");
    let sig = signature.map_or_else(|| twilio_signature(TOKEN, &signed_url, params), str::to_owned);
    let body: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params.iter()).finish();
    let r = app
        .client
        .post(app.url(&signed_url[at..]))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", sig)
        .body(body)
        .send()
        .await
        .expect("send");
    let status = r.status().as_u16();
    let ct = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    (status, ct, r.text().await.unwrap_or_default())
}

fn message<'a>(sid: &'a str, body: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("AccountSid", SID),
        ("ApiVersion", "2010-04-01"),
        ("Body", body),
        ("From", ANN),
        ("MessageSid", sid),
        ("NumMedia", "0"),
        ("NumSegments", "1"),
        ("SmsMessageSid", sid),
        ("SmsStatus", "received"),
        ("To", FROM),
    ]
}

#[tokio::test]
async fn an_sms_is_answered_a_numbered_choice_round_trips_and_statuses_fold_in() {
    let st = setup().await;
    let channel = active_channel(&st).await;
    let (status, ct, body) = post_form(&st.app, &channel, "", &message("SM_in_1", "hi"), None).await;
    assert_eq!(status, 200, "{body}");
    assert!(ct.starts_with("text/xml"), "{ct}");
    assert!(body.ends_with("<Response/>"), "{body}");
    st.app.run_jobs().await;
    let sent = st.tw.sent();
    assert_eq!(sent.len(), 2, "{sent:?}");
    let hook = channel["webhook_url"].as_str().expect("url").to_owned();
    let want = |body: &str| {
        vec![
            ("To".to_owned(), ANN.to_owned()),
            ("From".to_owned(), FROM.to_owned()),
            ("Body".to_owned(), body.to_owned()),
            ("StatusCallback".to_owned(), hook.clone()),
        ]
    };
    assert_eq!(sent[0], want("Hello from the shop."));
    assert_eq!(sent[1], want("Pick a colour\n\nReply 1 for Red\nReply 2 for Long"));
    assert_eq!(
        st.app.count(
            "SELECT count(*) FROM channel_contacts WHERE external_id = '+14155550100' AND phone_number = '+14155550100'"
        ),
        1
    );

    // "2" picks the second choice: the long value comes back to the flow.
    post_form(&st.app, &channel, "", &message("SM_in_2", " 2 "), None).await;
    st.app.run_jobs().await;
    let sent = st.tw.sent();
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert_eq!(
        field(&sent[2], "Body").as_deref(),
        Some("You chose a value far too long for Telegram's sixty-four byte callback_data field.")
    );
    assert_eq!(field(&sent[2], "MediaUrl").as_deref(), Some("https://example.com/colour.png"));

    // Status callbacks for the first reply: delivered; the second: undelivered with Twilio's error code.
    let first = format!("SM{:032}", 1);
    let second = format!("SM{:032}", 2);
    for (sid, state, code) in
        [(first.as_str(), "sent", ""), (first.as_str(), "delivered", ""), (second.as_str(), "undelivered", "30003")]
    {
        let mut params =
            vec![("AccountSid", SID), ("From", FROM), ("MessageSid", sid), ("MessageStatus", state), ("To", ANN)];
        if !code.is_empty() {
            params.push(("ErrorCode", code));
        }
        let (status, _, body) = post_form(&st.app, &channel, "", &params, None).await;
        assert_eq!(status, 200, "{body}");
    }
    let rows: Vec<(String, Option<String>)> = st.app.sql(|c| {
        let mut q =
            c.prepare("SELECT status, error_message FROM channel_messages WHERE direction = 'outbound' ORDER BY id")?;
        q.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<Vec<_>, _>>()
    });
    assert_eq!(rows[0].0, "delivered", "{rows:?}");
    assert_eq!(rows[1].0, "failed", "{rows:?}");
    assert!(rows[1].1.as_deref().is_some_and(|e| e.contains("30003")), "{rows:?}");
    assert_eq!(rows[2].0, "sent", "{rows:?}");
}

#[tokio::test]
async fn stop_opts_the_number_out_and_start_opts_it_back_in() {
    let st = setup().await;
    let channel = active_channel(&st).await;
    // Replies are queued, then STOP arrives before they leave: they are dead-lettered unsent.
    post_form(&st.app, &channel, "", &message("SM_a", "hi"), None).await;
    let (status, _, _) = post_form(&st.app, &channel, "", &message("SM_b", "STOP"), None).await;
    assert_eq!(status, 200);
    assert_eq!(
        st.app.count(
            "SELECT count(*) FROM channel_contacts WHERE opted_out_at IS NOT NULL AND opt_out_source = 'keyword'"
        ),
        1
    );
    st.app.run_jobs().await;
    assert!(st.tw.sent().is_empty(), "{:?}", st.tw.sent());
    assert_eq!(
        st.app.count("SELECT count(*) FROM channel_messages WHERE direction = 'outbound' AND dead = 1 AND error_message LIKE '%opted out%'"),
        2
    );
    // START: back in; the next message is answered.
    post_form(&st.app, &channel, "", &message("SM_c", "start"), None).await;
    assert_eq!(st.app.count("SELECT count(*) FROM channel_contacts WHERE opted_out_at IS NULL"), 1);
    post_form(&st.app, &channel, "", &message("SM_d", "hello again"), None).await;
    st.app.run_jobs().await;
    assert!(!st.tw.sent().is_empty(), "answered after START");
    assert!(st.tw.sent().iter().all(|f| field(f, "To").as_deref() == Some(ANN)));
}

#[tokio::test]
async fn media_is_fetched_with_basic_auth_and_kept_as_a_file() {
    let st = setup().await;
    let channel = active_channel(&st).await;
    let media_url = format!("{}/media/cat.png", st.tw.server.base);
    let mut params = message("SM_m", "my cat");
    params.retain(|(k, _)| *k != "NumMedia");
    params.extend([("NumMedia", "1"), ("MediaUrl0", media_url.as_str()), ("MediaContentType0", "image/png")]);
    let (status, _, body) = post_form(&st.app, &channel, "", &params, None).await;
    assert_eq!(status, 200, "{body}");
    let fetched: Vec<Received> = st.tw.server.requests().into_iter().filter(|r| r.path == "/media/cat.png").collect();
    assert_eq!(fetched.len(), 1);
    assert_eq!(fetched[0].header("authorization"), Some(basic(SID, TOKEN).as_str()));
    assert_eq!(st.app.count("SELECT count(*) FROM files WHERE content_type = 'image/png'"), 1);
    let (url, kind, caption): (String, String, String) = st.app.sql(|c| {
        c.query_row(
            "SELECT media_url, message_type, caption FROM channel_messages WHERE direction = 'inbound'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
    });
    assert!(url.starts_with("/api/v1/files/"), "{url}");
    assert_eq!((kind.as_str(), caption.as_str()), ("image", "my cat"));
}

#[tokio::test]
async fn signatures_are_checked_on_the_full_url_duplicates_run_once_and_malformed_calls_are_rejected() {
    let st = setup().await;
    let channel = active_channel(&st).await;
    let params = message("SM_1", "hi");
    let url = channel["webhook_url"].as_str().expect("url");
    let forged = [
        twilio_signature(WRONG_TOKEN, url, &params),
        // Signed without the query string the call carries.
        twilio_signature(TOKEN, url, &params),
        String::new(),
    ];
    for (i, sig) in forged.iter().enumerate() {
        let query = if i == 1 { "tenant=7&x=1" } else { "" };
        let (status, _, body) = post_form(&st.app, &channel, query, &params, Some(sig)).await;
        assert_eq!(status, 401, "{i}: {body}");
        assert!(body.contains("channel_signature_invalid"), "{body}");
    }
    assert_eq!(st.app.count("SELECT count(*) FROM channel_webhooks"), 0);
    assert_eq!(st.app.count("SELECT count(*) FROM channel_messages"), 0);
    assert_eq!(st.app.count("SELECT count(*) FROM channel_contacts"), 0);

    // A webhook URL with a query string (as pasted into the Twilio console) verifies.
    let (status, _, _) = post_form(&st.app, &channel, "tenant=7&x=1", &params, None).await;
    assert_eq!(status, 200);
    // The same MessageSid again: stored and answered once.
    let (status, _, _) = post_form(&st.app, &channel, "tenant=7&x=1", &params, None).await;
    assert_eq!(status, 200);
    assert_eq!(st.app.count("SELECT count(*) FROM channel_webhooks"), 1);
    assert_eq!(st.app.count("SELECT count(*) FROM channel_messages WHERE direction = 'inbound'"), 1);
    st.app.run_jobs().await;
    assert_eq!(st.tw.sent().len(), 2);
    // Replies name the URL Twilio called as their status callback.
    assert_eq!(field(&st.tw.sent()[0], "StatusCallback"), Some(format!("{url}?tenant=7&x=1")));

    // Authentic but not a message: 200 with empty TwiML, nothing stored.
    let (status, ct, body) = post_form(&st.app, &channel, "", &[("From", ANN), ("Body", "no sid")], None).await;
    assert_eq!((status, ct.starts_with("text/xml"), body.ends_with("<Response/>")), (200, true, true), "{body}");
    assert_eq!(st.app.count("SELECT count(*) FROM channel_webhooks"), 1);
}

#[tokio::test]
async fn a_429_from_twilio_is_retried_and_the_messages_arrive_once_in_order() {
    let st = setup().await;
    let channel = active_channel(&st).await;
    st.tw.answers.lock().expect("answers").push_back(429);
    post_form(&st.app, &channel, "", &message("SM_r", "hi"), None).await;
    st.app.run_jobs().await;
    assert_eq!(st.tw.sent().len(), 1);
    let (status, error): (String, String) = st.app.sql(|c| {
        c.query_row(
            "SELECT status, error_message FROM channel_messages WHERE direction = 'outbound' ORDER BY id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    });
    assert_eq!(status, "failed");
    assert!(error.contains("20429"), "{error}");
    // Twilio's Retry-After (30 s) replaces the first default delay (2 s).
    let wait_s = st.app.count(
        "SELECT CAST((julianday(next_retry_at) - julianday('now')) * 86400 AS INTEGER) FROM channel_messages
         WHERE direction = 'outbound' ORDER BY id LIMIT 1",
    );
    assert!((20..=30).contains(&wait_s), "{wait_s}");
    assert_eq!(st.app.count("SELECT count(*) FROM channel_messages WHERE dead = 1"), 0);
    st.app.sql(|c| {
        c.execute(
            "UPDATE channel_messages SET next_retry_at = '2000-01-01T00:00:00.000Z' WHERE next_retry_at IS NOT NULL",
            [],
        )?;
        c.execute(
            "UPDATE jobs SET run_at = '2000-01-01T00:00:00.000Z' WHERE kind = 'channel.send' AND status = 'queued'",
            [],
        )
    });
    st.app.run_jobs().await;
    assert_eq!(
        st.tw.bodies(),
        vec!["Hello from the shop.", "Hello from the shop.", "Pick a colour\n\nReply 1 for Red\nReply 2 for Long"]
    );
    assert_eq!(
        st.app.count("SELECT count(*) FROM channel_messages WHERE direction = 'outbound' AND status = 'sent'"),
        2
    );
}

#[tokio::test]
async fn bad_credentials_are_named_and_a_refused_token_gives_twilios_words() {
    let st = setup().await;
    let org = st.s.org_id;
    let create = |creds: Value| {
        st.app
            .as_user(&st.s, Method::POST, &format!("/api/v1/orgs/{org}/channels"))
            .json(&json!({ "type": "sms", "bot_id": st.bot, "credentials": creds }))
            .send()
    };
    for (creds, field_name) in [
        (json!({ "account_sid": "nope", "auth_token": TOKEN, "from": FROM }), "credentials.account_sid"),
        (json!({ "account_sid": SID, "auth_token": "", "from": FROM }), "credentials.auth_token"),
        (json!({ "account_sid": SID, "auth_token": TOKEN, "from": "5550006" }), "credentials.from"),
    ] {
        let body = assert_error(create(creds).await.expect("send"), 422, "validation_failed").await;
        assert_eq!(body["error"]["details"]["field"], field_name);
    }
    let (status, channel) = st
        .app
        .call(
            &st.s,
            Method::POST,
            &format!("/api/v1/orgs/{org}/channels"),
            Some(json!({ "type": "sms", "bot_id": st.bot, "credentials": { "account_sid": SID, "auth_token": WRONG_TOKEN, "from": "MG0123456789abcdef0123456789abcdef" } })),
        )
        .await;
    assert_eq!(status, 201, "{channel}");
    let id = channel["id"].as_i64().expect("id");
    let r = st.app.as_user(&st.s, Method::POST, &format!("/api/v1/channels/{id}/test")).send().await.expect("send");
    let body = assert_error(r, 422, "channel_credentials_rejected").await;
    assert!(
        body["error"]["details"]["provider_description"]
            .as_str()
            .is_some_and(|d| d.contains("Authenticate") && d.contains("20003")),
        "{body}"
    );
    assert!(!body.to_string().contains(WRONG_TOKEN), "{body}");
}

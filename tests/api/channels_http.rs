//! The generic HTTP channel (`type: "http"`) through the real server, with a
//! local receiver that checks the Standard Webhooks signature of every reply:
//! set-up (the secret is shown), test-connection (a signed ping), inbound
//! events signed by the test (message, button, media, status), replies with
//! their idempotency key as `webhook-id`, delivery statuses folded into the
//! log and shown per transcript message, "send a test", and the bad cases.

#![allow(clippy::too_many_lines, reason = "each test is one end-to-end scenario")]

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::fake_http::{FakeServer, Received, Reply};
use crate::helpers::{Session, TestApp, spawn_app_with};

fn assert_error(status: u16, body: &Value, want: u16, code: &str) {
    assert_eq!((status, body["error"]["code"].as_str()), (want, Some(code)), "{body}");
}

fn sign(secret: &str, id: &str, ts: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// A receiver of replies that checks each request's signature with the
/// channel's secret (set once the channel exists) and serves one image.
struct Receiver {
    server: FakeServer,
    secret: Arc<Mutex<String>>,
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

impl Receiver {
    async fn start() -> Receiver {
        let secret = Arc::new(Mutex::new(String::new()));
        let key = secret.clone();
        let server = FakeServer::start(Arc::new(move |r: &Received| {
            if r.path == "/media/cat.png" {
                return Reply::Full(200, "image/png".into(), PNG.to_vec());
            }
            if r.path == "/media/big.bin" {
                return Reply::Full(200, "application/octet-stream".into(), vec![7; 4096]);
            }
            let (id, ts, sig) = (
                r.header("webhook-id").expect("webhook-id"),
                r.header("webhook-timestamp").expect("webhook-timestamp"),
                r.header("webhook-signature").expect("webhook-signature"),
            );
            let ts: i64 = ts.parse().expect("timestamp");
            assert!((chrono::Utc::now().timestamp() - ts).abs() < 60, "a fresh timestamp");
            assert_eq!(sig, sign(&key.lock().expect("secret"), id, ts, &r.body), "the signature verifies");
            let body: Value = serde_json::from_slice(&r.body).expect("JSON");
            assert_eq!(body["id"], id, "the body's id is the webhook-id");
            Reply::Full(200, "application/json".into(), b"{\"ok\":true}".to_vec())
        }))
        .await;
        Receiver { server, secret }
    }

    /// The bodies of the replies received (pings excluded), in order.
    fn replies(&self) -> Vec<Value> {
        self.server
            .requests()
            .into_iter()
            .filter(|r| r.path == "/replies")
            .map(|r| serde_json::from_slice::<Value>(&r.body).expect("json"))
            .filter(|b| b["type"] == "message")
            .collect()
    }
}

struct Setup {
    app: TestApp,
    s: Session,
    rx: Receiver,
    channel: Value,
    secret: String,
}

async fn setup(max_upload_bytes: usize) -> Setup {
    let rx = Receiver::start().await;
    let app = spawn_app_with(move |c| c.files.max_upload_bytes = max_upload_bytes).await;
    let s = app.register("owner@example.com").await;
    let flow = json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "ask", "type": "question", "data": {
                "prompt": { "text": "Pick a colour", "quick_replies": [{ "label": "Red", "value": "red" }] },
                "variable": "colour" } },
            { "id": "done", "type": "message", "data": { "text": "You chose {{colour}}." } }
        ],
        "edges": [{ "source": "start", "target": "ask" }, { "source": "ask", "target": "done" }]
    });
    let bot = crate::helpers::published_bot(&app, &s, "Shop", flow).await;
    let outbound_url = format!("{}/replies", rx.server.base);
    let (status, channel) = app
        .call(
            &s,
            Method::POST,
            &format!("/api/v1/orgs/{}/channels", s.org_id),
            Some(json!({ "type": "http", "bot_id": bot, "credentials": { "outbound_url": outbound_url } })),
        )
        .await;
    assert_eq!(status, 201, "{channel}");
    let secret = channel["webhook_secret"].as_str().expect("the secret is shown for the generic channel").to_owned();
    secret.clone_into(&mut rx.secret.lock().expect("secret"));
    let id = channel["id"].as_i64().expect("id");
    let (status, checked) = app.call(&s, Method::POST, &format!("/api/v1/channels/{id}/activate"), None).await;
    assert_eq!(status, 200, "{checked}");
    let pings = rx.server.requests().into_iter().filter(|r| r.path == "/replies").count();
    assert_eq!(pings, 1, "activation posts one signed ping");
    Setup { app, s, rx, channel: checked["channel"].clone(), secret }
}

fn hook(channel: &Value) -> String {
    let url = channel["webhook_url"].as_str().expect("webhook_url");
    url[url.find("/hooks/").expect("/hooks/")..].to_owned()
}

async fn post_signed(st: &Setup, secret: &str, ts: i64, event: &Value) -> (u16, Value) {
    let body = event.to_string();
    let id = format!("evt_{}", event["id"].as_str().unwrap_or("x"));
    let response = st
        .app
        .client
        .post(st.app.url(&hook(&st.channel)))
        .header("content-type", "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", sign(secret, &id, ts, body.as_bytes()))
        .body(body)
        .send()
        .await
        .expect("send");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn post_event(st: &Setup, event: &Value) -> (u16, Value) {
    post_signed(st, &st.secret, chrono::Utc::now().timestamp(), event).await
}

fn user() -> Value {
    json!({ "id": "u-1", "name": "Ann", "phone": "+15550001" })
}

#[tokio::test]
async fn messages_buttons_media_and_statuses_round_trip_with_signed_requests() {
    let st = setup(10 * 1024 * 1024).await;
    let (status, body) = post_event(&st, &json!({ "type": "message", "id": "m1", "user": user(), "text": "hi" })).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("processed")), "{body}");
    st.app.run_jobs().await;
    let replies = st.rx.replies();
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!(replies[0]["to"], "u-1");
    assert_eq!(replies[0]["text"], "Pick a colour");
    assert_eq!(replies[0]["quick_replies"], json!([{ "label": "Red", "value": "red" }]));
    let first_id = replies[0]["id"].as_str().expect("id").to_owned();

    // The button press answers the question.
    let press = json!({ "type": "button", "id": "b1", "user": user(), "value": "red", "message_id": first_id });
    let (status, body) = post_event(&st, &press).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("processed")), "{body}");
    st.app.run_jobs().await;
    let replies = st.rx.replies();
    assert_eq!(replies.len(), 2, "{replies:?}");
    assert_eq!(replies[1]["text"], "You chose red.");

    // Statuses move forward only: read, then a late "delivered" changes nothing.
    for (id, s) in [("s1", "delivered"), ("s2", "read"), ("s3", "delivered")] {
        let (status, _) =
            post_event(&st, &json!({ "type": "status", "id": id, "message_id": first_id, "status": s })).await;
        assert_eq!(status, 200);
    }
    let row: (String, bool, bool) = st.app.sql(|c| {
        c.query_row(
            "SELECT status, delivered_at IS NOT NULL, read_at IS NOT NULL FROM channel_messages WHERE external_id = ?1",
            [&first_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
    });
    assert_eq!(row, ("read".to_owned(), true, true));
    let conversation: i64 = st.app.sql(|c| {
        c.query_row("SELECT conversation_id FROM channel_messages WHERE external_id = ?1", [&first_id], |r| r.get(0))
    });
    let (status, deliveries) =
        st.app.call(&st.s, Method::GET, &format!("/api/v1/conversations/{conversation}/deliveries"), None).await;
    assert_eq!(status, 200, "{deliveries}");
    let items = deliveries["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "{deliveries}");
    assert_eq!(items[0]["status"], "read");
    assert_eq!(items[1]["status"], "sent");
    let (status, transcript) =
        st.app.call(&st.s, Method::GET, &format!("/api/v1/conversations/{conversation}/messages"), None).await;
    assert_eq!(status, 200);
    let pick = transcript["items"].as_array().expect("items").iter().find(|m| m["text"] == "Pick a colour").cloned();
    assert_eq!(items[0]["message_id"], pick.expect("the question is in the transcript")["id"]);

    // Media: fetched from the URL, stored as a file of the organization.
    let media = json!({ "type": "media", "id": "p1", "user": user(), "url": format!("{}/media/cat.png", st.rx.server.base),
        "mime_type": "image/png", "filename": "cat.png" });
    let (status, _) = post_event(&st, &media).await;
    assert_eq!(status, 200);
    let (url, mime, size): (String, String, i64) = st.app.sql(|c| {
        c.query_row(
            "SELECT m.media_url, m.media_mime_type, f.size_bytes FROM channel_messages m
             JOIN files f ON m.media_url = '/api/v1/files/' || f.id WHERE m.external_id = 'p1'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
    });
    assert!(url.starts_with("/api/v1/files/"), "{url}");
    assert_eq!((mime.as_str(), size), ("image/png", i64::try_from(PNG.len()).expect("len")));

    // "Send a test" goes through the same queue.
    let id = st.channel["id"].as_i64().expect("id");
    let (status, queued) = st
        .app
        .call(
            &st.s,
            Method::POST,
            &format!("/api/v1/channels/{id}/send-test"),
            Some(json!({ "to": "u-9", "text": "Test" })),
        )
        .await;
    assert_eq!(status, 202, "{queued}");
    assert_eq!(queued["status"], "queued");
    st.app.run_jobs().await;
    let last = st.rx.replies().pop().expect("a reply");
    assert_eq!((last["to"].as_str(), last["text"].as_str()), (Some("u-9"), Some("Test")));
    let (status, body) = st
        .app
        .call(&st.s, Method::POST, &format!("/api/v1/channels/{id}/send-test"), Some(json!({ "to": " ", "text": "x" })))
        .await;
    assert_error(status, &body, 422, "validation_failed");
    assert_eq!(body["error"]["details"]["field"], "to");
}

#[tokio::test]
async fn forged_stale_duplicate_malformed_and_oversized_inputs_are_handled() {
    let st = setup(1024).await;
    let stored = |app: &TestApp| -> (i64, i64) {
        app.sql(|c| {
            Ok((
                c.query_row("SELECT count(*) FROM channel_webhooks", [], |r| r.get(0))?,
                c.query_row("SELECT count(*) FROM channel_messages WHERE direction = 'inbound'", [], |r| r.get(0))?,
            ))
        })
    };
    let event = json!({ "type": "message", "id": "m1", "user": user(), "text": "hi" });
    let now = chrono::Utc::now().timestamp();
    let (status, body) = post_signed(&st, "not-the-secret", now, &event).await;
    assert_error(status, &body, 401, "channel_signature_invalid");
    let (status, body) = post_signed(&st, &st.secret, now - 3600, &event).await;
    assert_error(status, &body, 401, "channel_signature_invalid");
    assert_eq!(stored(&st.app), (0, 0), "nothing is stored before the signature checks");

    let (_, first) = post_event(&st, &event).await;
    let (status, again) = post_event(&st, &event).await;
    assert_eq!(
        (first["status"].as_str(), status, again["status"].as_str()),
        (Some("processed"), 200, Some("duplicate"))
    );
    assert_eq!(stored(&st.app), (1, 1));

    let (status, body) = post_event(&st, &json!({ "type": "message", "id": "m2", "text": "no user" })).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("rejected")), "{body}");
    assert_eq!(stored(&st.app), (1, 1), "a malformed event is not stored");

    // Media over files.max_upload_bytes (1 KiB here, the smallest allowed): the message is kept with the reason, nothing crashes.
    let big =
        json!({ "type": "media", "id": "p2", "user": user(), "url": format!("{}/media/big.bin", st.rx.server.base) });
    let (status, body) = post_event(&st, &big).await;
    assert_eq!(status, 200, "{body}");
    let (media, error, event_status): (Option<String>, String, String) = st.app.sql(|c| {
        c.query_row(
            "SELECT m.media_url, m.error_message, w.status FROM channel_messages m
             JOIN channel_webhooks w ON w.external_event_id = 'p2' WHERE m.external_id = 'p2'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
    });
    assert_eq!(media, None);
    assert!(error.contains("larger than the limit of 1024 bytes"), "{error}");
    assert_eq!(event_status, "failed");
    let files: i64 = st.app.sql(|c| c.query_row("SELECT count(*) FROM files", [], |r| r.get(0)));
    assert_eq!(files, 0);

    // Credentials are checked per type.
    let (status, body) = st
        .app
        .call(
            &st.s,
            Method::POST,
            &format!("/api/v1/orgs/{}/channels", st.s.org_id),
            Some(
                json!({ "type": "http", "bot_id": st.channel["bot_id"], "credentials": { "outbound_url": "ftp://x" } }),
            ),
        )
        .await;
    assert_error(status, &body, 422, "validation_failed");
    assert_eq!(body["error"]["details"]["field"], "credentials.outbound_url");
    let (status, body) = st
        .app
        .call(
            &st.s,
            Method::POST,
            &format!("/api/v1/orgs/{}/channels", st.s.org_id),
            Some(json!({ "type": "http", "bot_id": st.channel["bot_id"], "credentials": { "outbound_url": "https://e.com", "token": "x" } })),
        )
        .await;
    assert_error(status, &body, 422, "validation_failed");
    assert_eq!(body["error"]["details"]["field"], "credentials.token");
}

#[tokio::test]
async fn the_inbox_transcript_shows_each_channel_messages_delivery_state() {
    let st = setup(10 * 1024 * 1024).await;
    let (status, _) = post_event(&st, &json!({ "type": "message", "id": "m1", "user": user(), "text": "hi" })).await;
    assert_eq!(status, 200);
    st.app.run_jobs().await;
    let first = st.rx.replies()[0]["id"].as_str().expect("id").to_owned();
    let (status, _) =
        post_event(&st, &json!({ "type": "status", "id": "s1", "message_id": first, "status": "read" })).await;
    assert_eq!(status, 200);
    let conversation: i64 = st.app.sql(|c| {
        c.query_row("SELECT conversation_id FROM channel_messages WHERE external_id = ?1", [&first], |r| r.get(0))
    });
    let app = st.app;
    crate::browser::with_browser("channel_deliveries", |b| async move {
        b.sign_in(&app, "owner@example.com").await;
        b.click("a[href='/inbox']").await;
        // A conversation the bot answers is listed under "With the bot".
        b.select("#inbox-status", "open").await;
        b.click(&format!("#inbox-list li[data-conversation='{conversation}'] a")).await;
        let badge = b.wait_for_text("#conversation-panel .chat-msg.bot [data-delivery='read']", "Read").await;
        assert_eq!(badge, "Read");
    })
    .await;
}

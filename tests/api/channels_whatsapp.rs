//! The WhatsApp Cloud API channel through the real server, with a local
//! fake of the Graph API (`channels.graph_api_base` points at it, version
//! path included) that checks the Bearer token and answers like Meta:
//! Meta's `hub.challenge` handshake, `X-Hub-Signature-256` signatures,
//! messages, replies (text, reply buttons, images), read receipts, a button
//! round trip, media in, delivery statuses, 429, rejected credentials, the
//! 24-hour window and message templates (create, submit, sync, send,
//! status webhook). Retries are driven by moving due times into the past.

#![allow(clippy::too_many_lines, reason = "each test is one end-to-end scenario")]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use botbuilder::crypto::hmac_sha256;
use reqwest::Method;
use serde_json::{Value, json};

use crate::fake_http::{FakeServer, Received, Reply};
use crate::helpers::{Session, TestApp, assert_error, spawn_app_with};

const TOKEN: &str = "EAAGm0PX4ZCpsBAtoken";
const PHONE_ID: &str = "106540352242922";
const WABA: &str = "102290129340398";
const APP_SECRET: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const USER: &str = "4915112345678";
const VERSION: &str = "/v21.0";
/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1, 8,
    6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89,
];

struct FakeGraph {
    server: FakeServer,
    /// Statuses `/messages` answers first (429 with code 130429), then success.
    answers: Arc<Mutex<VecDeque<u16>>>,
    /// The review status the template list reports.
    review: Arc<Mutex<(&'static str, &'static str)>>,
}

impl FakeGraph {
    async fn start() -> FakeGraph {
        let answers: Arc<Mutex<VecDeque<u16>>> = Arc::new(Mutex::new(VecDeque::new()));
        let review = Arc::new(Mutex::new(("APPROVED", "NONE")));
        let base = Arc::new(Mutex::new(String::new()));
        let (queue, rev, own) = (answers.clone(), review.clone(), base.clone());
        let next_id = Arc::new(Mutex::new(0_u32));
        let server = FakeServer::start(Arc::new(move |r: &Received| {
            let json_reply = |status: u16, v: Value| Reply::Full(status, "application/json".into(), v.to_string().into_bytes());
            if r.header("authorization") != Some(&format!("Bearer {TOKEN}")) {
                return json_reply(401, json!({"error": {"message": "Invalid OAuth access token - Cannot parse access token",
                    "type": "OAuthException", "code": 190, "fbtrace_id": "AbC"}}));
            }
            if r.path == "/media/m1.png" {
                return Reply::Full(200, "image/png".into(), PNG.to_vec());
            }
            let Some(rest) = r.path.strip_prefix(VERSION) else {
                return json_reply(404, json!({"error": {"message": "Unknown path", "code": 100}}));
            };
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            match (r.method.as_str(), path) {
                ("GET", p) if p == format!("/{PHONE_ID}") => {
                    assert_eq!(query, "fields=display_phone_number,verified_name");
                    json_reply(200, json!({"display_phone_number": "+1 555-010-0000", "verified_name": "Shop", "id": PHONE_ID}))
                }
                ("POST", p) if p == format!("/{PHONE_ID}/messages") => {
                    assert!(r.header("content-type").is_some_and(|c| c.starts_with("application/json")), "{r:?}");
                    let body: Value = serde_json::from_slice(&r.body).expect("JSON body");
                    assert_eq!(body["messaging_product"], "whatsapp");
                    if body.get("status").is_some() {
                        return json_reply(200, json!({"success": true}));
                    }
                    if let Some(status) = queue.lock().expect("answers").pop_front() {
                        return json_reply(status, json!({"error": {"message": "(#130429) Rate limit hit",
                            "type": "OAuthException", "code": 130_429, "fbtrace_id": "X"}}));
                    }
                    let mut id = next_id.lock().expect("id");
                    *id += 1;
                    json_reply(200, json!({"messaging_product": "whatsapp",
                        "contacts": [{"input": body["to"], "wa_id": body["to"]}], "messages": [{"id": format!("wamid.OUT{id}")}]}))
                }
                ("GET", "/m1") => json_reply(200, json!({"messaging_product": "whatsapp", "id": "m1", "mime_type": "image/png",
                    "file_size": PNG.len(), "sha256": "x", "url": format!("{}/media/m1.png", own.lock().expect("base"))})),
                ("POST", p) if p == format!("/{WABA}/message_templates") => {
                    json_reply(200, json!({"id": "594425479261596", "status": "PENDING", "category": "UTILITY"}))
                }
                ("GET", p) if p == format!("/{WABA}/message_templates") => {
                    assert!(query.starts_with("name=order_update&"), "{query}");
                    let (status, reason) = *rev.lock().expect("review");
                    json_reply(200, json!({"data": [
                        {"name": "order_update", "language": "de", "status": "PENDING", "id": "1"},
                        {"name": "order_update", "language": "en_US", "status": status, "rejected_reason": reason, "id": "594425479261596"}
                    ]}))
                }
                _ => json_reply(400, json!({"error": {"message": format!("Unsupported request {} {path}", r.method), "code": 100}})),
            }
        }))
        .await;
        base.lock().expect("base").clone_from(&server.base);
        FakeGraph { server, answers, review }
    }

    /// The JSON bodies posted to `/messages`, in order.
    fn messages(&self) -> Vec<Value> {
        let path = format!("{VERSION}/{PHONE_ID}/messages");
        self.server
            .requests()
            .into_iter()
            .filter(|r| r.path == path)
            .map(|r| serde_json::from_slice(&r.body).expect("json"))
            .collect()
    }

    /// The messages (not read receipts) posted.
    fn sent(&self) -> Vec<Value> {
        self.messages().into_iter().filter(|m| m.get("status").is_none()).collect()
    }
}

fn colour_flow() -> Value {
    json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "hello", "type": "message", "data": { "text": "Hello from the shop." } },
            { "id": "ask", "type": "question", "data": {
                "prompt": { "text": "Pick a colour", "quick_replies": [
                    { "label": "Red", "value": "red" },
                    { "label": "A rather long colour name", "value": "x".repeat(250) }
                ] },
                "variable": "colour" } },
            { "id": "done", "type": "message", "data": {
                "text": "You chose {{colour}}.", "image": { "url": "https://example.com/colour.png" } } }
        ],
        "edges": [
            { "source": "start", "target": "hello" }, { "source": "hello", "target": "ask" },
            { "source": "ask", "target": "done" }
        ]
    })
}

struct Setup {
    app: TestApp,
    s: Session,
    graph: FakeGraph,
    bot: i64,
}

async fn setup() -> Setup {
    let graph = FakeGraph::start().await;
    let base = format!("{}{VERSION}", graph.server.base);
    let app = spawn_app_with(move |c| c.channels.graph_api_base = base).await;
    let s = app.register("owner@example.com").await;
    let bot = crate::helpers::published_bot(&app, &s, "Shop", colour_flow()).await;
    Setup { app, s, graph, bot }
}

fn credentials() -> Value {
    json!({ "access_token": TOKEN, "phone_number_id": PHONE_ID, "app_secret": APP_SECRET, "business_account_id": WABA })
}

/// Creates and activates a WhatsApp channel; answers it (with its verify token).
async fn active_channel(st: &Setup) -> Value {
    let (status, channel) = st
        .app
        .call(
            &st.s,
            Method::POST,
            &format!("/api/v1/orgs/{}/channels", st.s.org_id),
            Some(json!({ "type": "whatsapp", "name": "Shop on WhatsApp", "bot_id": st.bot, "credentials": credentials() })),
        )
        .await;
    assert_eq!(status, 201, "{channel}");
    assert!(!channel.to_string().contains(TOKEN) && !channel.to_string().contains(APP_SECRET), "{channel}");
    assert!(channel["webhook_secret"].as_str().is_some_and(|s| s.len() >= 32), "the verify token is shown: {channel}");
    let id = channel["id"].as_i64().expect("id");
    let (status, activated) = st.app.call(&st.s, Method::POST, &format!("/api/v1/channels/{id}/activate"), None).await;
    assert_eq!(status, 200, "{activated}");
    assert_eq!(activated["channel"]["status"], "active");
    assert_eq!(activated["username"], "+1 555-010-0000");
    activated["channel"].clone()
}

fn hook_path(channel: &Value) -> String {
    let url = channel["webhook_url"].as_str().expect("webhook_url");
    url[url.find("/hooks/").expect("/hooks/")..].to_owned()
}

fn sign(body: &[u8]) -> String {
    format!("sha256={}", hex::encode(hmac_sha256(APP_SECRET.as_bytes(), body)))
}

/// Posts a notification signed as Meta does (or with `signature`).
async fn post_raw(app: &TestApp, channel: &Value, body: &[u8], signature: Option<String>) -> (u16, Value) {
    let mut request =
        app.client.post(app.url(&hook_path(channel))).header("content-type", "application/json").body(body.to_vec());
    if let Some(s) = signature {
        request = request.header("X-Hub-Signature-256", s);
    }
    let response = request.send().await.expect("send");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn post(app: &TestApp, channel: &Value, notification: &Value) -> (u16, Value) {
    let body = notification.to_string().into_bytes();
    let signature = sign(&body);
    post_raw(app, channel, &body, Some(signature)).await
}

fn notification(value: &Value) -> Value {
    json!({ "object": "whatsapp_business_account", "entry": [{ "id": WABA, "time": 1_700_000_000,
        "changes": [{ "field": "messages", "value": value }] }] })
}

fn inbound(message: &Value) -> Value {
    notification(&json!({
        "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": "15550100000", "phone_number_id": PHONE_ID },
        "contacts": [{ "profile": { "name": "Ann" }, "wa_id": USER }],
        "messages": [message]
    }))
}

fn text(id: &str, body: &str) -> Value {
    inbound(&json!({ "from": USER, "id": id, "timestamp": "1700000000", "type": "text", "text": { "body": body } }))
}

fn status(id: &str, status: &str) -> Value {
    notification(&json!({
        "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": "15550100000", "phone_number_id": PHONE_ID },
        "statuses": [{ "id": id, "status": status, "timestamp": "1700000001", "recipient_id": USER }]
    }))
}

fn to_user(kind: &str, content: Value) -> Value {
    let mut m = json!({ "messaging_product": "whatsapp", "recipient_type": "individual", "to": USER, "type": kind });
    m[kind] = content;
    m
}

#[tokio::test]
async fn the_handshake_answers_the_challenge_only_for_the_verify_token() {
    let st = setup().await;
    let channel = active_channel(&st).await;
    let token = channel["webhook_secret"].as_str().expect("verify token");
    let url = st.app.url(&hook_path(&channel));
    let ok = st
        .app
        .client
        .get(format!("{url}?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1158201444"))
        .send()
        .await
        .expect("send");
    assert_eq!(ok.status().as_u16(), 200);
    assert!(ok.headers()["content-type"].to_str().is_ok_and(|c| c.starts_with("text/plain")));
    assert_eq!(ok.text().await.expect("text"), "1158201444");
    for query in [
        "hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1".to_owned(),
        format!("hub.mode=unsubscribe&hub.verify_token={token}&hub.challenge=1"),
        String::new(),
    ] {
        let r = st.app.client.get(format!("{url}?{query}")).send().await.expect("send");
        // Not the handshake: the signature check refuses the call.
        assert_eq!(r.status().as_u16(), 401, "{query}");
        assert_ne!(r.text().await.expect("text"), "1");
    }
    assert_eq!(st.app.count("SELECT count(*) FROM channel_webhooks"), 0);
}

#[tokio::test]
async fn an_inbound_message_is_read_and_answered_and_a_button_press_round_trips() {
    let st = setup().await;
    let channel = active_channel(&st).await;
    let (code, body) = post(&st.app, &channel, &text("wamid.IN1", "hi")).await;
    assert_eq!((code, body["status"].as_str()), (200, Some("processed")), "{body}");
    st.app.run_jobs().await;
    let posted = st.graph.messages();
    let long = "x".repeat(250);
    assert_eq!(
        posted,
        vec![
            json!({ "messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN1" }),
            to_user("text", json!({ "body": "Hello from the shop.", "preview_url": false })),
            to_user(
                "interactive",
                json!({ "type": "button", "body": { "text": "Pick a colour" }, "action": { "buttons": [
                { "type": "reply", "reply": { "id": "red", "title": "Red" } },
                { "type": "reply", "reply": { "id": "#0", "title": "A rather long colou…" } }
            ] } })
            ),
        ]
    );
    let requests = st.graph.server.requests();
    assert!(requests.iter().all(|r| r.header("authorization") == Some(&format!("Bearer {TOKEN}"))));
    assert_eq!(
        st.app.count(&format!(
            "SELECT count(*) FROM channel_contacts WHERE external_id = '{USER}' AND display_name = 'Ann' AND phone_number = '+{USER}'"
        )),
        1
    );
    assert_eq!(
        st.app.count("SELECT count(*) FROM channel_messages WHERE direction = 'outbound' AND status = 'sent' AND external_id LIKE 'wamid.OUT%'"),
        2
    );

    // The long value's reply id `#0` maps back through the interactive message (wamid.OUT2).
    let press = inbound(&json!({ "from": USER, "id": "wamid.IN2", "timestamp": "1700000002", "type": "interactive",
        "context": { "from": "15550100000", "id": "wamid.OUT2" },
        "interactive": { "type": "button_reply", "button_reply": { "id": "#0", "title": "A rather long colour…" } } }));
    let (code, body) = post(&st.app, &channel, &press).await;
    assert_eq!((code, body["status"].as_str()), (200, Some("processed")), "{body}");
    st.app.run_jobs().await;
    let posted = st.graph.messages();
    assert_eq!(posted.len(), 5, "{posted:?}");
    assert_eq!(posted[3], json!({ "messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN2" }));
    assert_eq!(
        posted[4],
        to_user("image", json!({ "link": "https://example.com/colour.png", "caption": format!("You chose {long}.") }))
    );

    // Delivery statuses fold into the outbound row; a late "delivered" after "read" changes nothing.
    for s in ["delivered", "read", "delivered"] {
        let (code, body) = post(&st.app, &channel, &status("wamid.OUT1", s)).await;
        assert_eq!(code, 200, "{body}");
    }
    let (state, read_at): (String, Option<String>) = st.app.sql(|c| {
        c.query_row("SELECT status, read_at FROM channel_messages WHERE external_id = 'wamid.OUT1'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
    });
    assert_eq!(state, "read");
    assert!(read_at.is_some());
    // A failure with Meta's error words.
    let failed =
        notification(&json!({ "messaging_product": "whatsapp", "statuses": [{ "id": "wamid.OUT3", "status": "failed",
        "timestamp": "1", "recipient_id": USER, "errors": [{ "code": 131_047, "title": "Re-engagement message",
        "message": "Re-engagement message", "error_data": { "details": "More than 24 hours have passed" } }] }] }));
    post(&st.app, &channel, &failed).await;
    let error: String = st.app.sql(|c| {
        c.query_row("SELECT error_message FROM channel_messages WHERE external_id = 'wamid.OUT3'", [], |r| r.get(0))
    });
    assert_eq!(error, "More than 24 hours have passed [code 131047]");
}

#[tokio::test]
async fn media_in_is_fetched_with_the_token_and_stored() {
    let st = setup().await;
    let channel = active_channel(&st).await;
    let image = inbound(&json!({ "from": USER, "id": "wamid.IMG", "timestamp": "1", "type": "image",
        "image": { "caption": "my shirt", "mime_type": "image/png", "sha256": "x", "id": "m1" } }));
    let (code, body) = post(&st.app, &channel, &image).await;
    assert_eq!((code, body["status"].as_str()), (200, Some("processed")), "{body}");
    let (url, mime, caption, kind): (String, String, String, String) = st.app.sql(|c| {
        c.query_row(
            "SELECT media_url, media_mime_type, caption, message_type FROM channel_messages WHERE external_id = 'wamid.IMG'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
    });
    assert_eq!((mime.as_str(), caption.as_str(), kind.as_str()), ("image/png", "my shirt", "image"));
    let file: i64 = url.strip_prefix("/api/v1/files/").and_then(|f| f.parse().ok()).expect("file url");
    let stored: Vec<u8> = st.app.sql(|c| c.query_row("SELECT data FROM files WHERE id = ?1", [file], |r| r.get(0)));
    assert_eq!(stored, PNG);
    let media_calls: Vec<String> =
        st.graph.server.requests().into_iter().filter(|r| r.path.contains("m1")).map(|r| r.path).collect();
    assert_eq!(media_calls, vec![format!("{VERSION}/m1"), "/media/m1.png".to_owned()]);
}

#[tokio::test]
async fn a_bad_signature_stores_nothing_and_duplicates_and_malformed_calls_are_handled() {
    let st = setup().await;
    let channel = active_channel(&st).await;
    let body = text("wamid.IN1", "hi").to_string().into_bytes();
    let forged = format!("sha256={}", hex::encode(hmac_sha256(b"another secret", &body)));
    for bad in [None, Some("sha256=00".to_owned()), Some(forged), Some(sign(b"another body"))] {
        let (code, answer) = post_raw(&st.app, &channel, &body, bad.clone()).await;
        assert_eq!(code, 401, "{bad:?} {answer}");
        assert_eq!(answer["error"]["code"], "channel_signature_invalid");
    }
    assert_eq!(st.app.count("SELECT count(*) FROM channel_webhooks"), 0);
    assert_eq!(st.app.count("SELECT count(*) FROM channel_messages"), 0);
    assert_eq!(st.app.count("SELECT count(*) FROM channel_contacts"), 0);

    // Malformed but authentic: 200 (Meta would retry), rejected, nothing stored.
    for junk in [
        b"{not json".to_vec(),
        json!({ "object": "page" }).to_string().into_bytes(),
        json!({ "object": "whatsapp_business_account" }).to_string().into_bytes(),
    ] {
        let (code, answer) = post_raw(&st.app, &channel, &junk, Some(sign(&junk))).await;
        assert_eq!((code, answer["status"].as_str()), (200, Some("rejected")), "{answer}");
    }
    assert_eq!(st.app.count("SELECT count(*) FROM channel_webhooks"), 0);

    // The same message twice: processed once, answered once.
    let (_, first) = post(&st.app, &channel, &text("wamid.IN7", "hi")).await;
    let (_, second) = post(&st.app, &channel, &text("wamid.IN7", "hi")).await;
    assert_eq!((first["status"].as_str(), second["status"].as_str()), (Some("processed"), Some("duplicate")));
    st.app.run_jobs().await;
    assert_eq!(st.app.count("SELECT count(*) FROM channel_messages WHERE direction = 'inbound'"), 1);
    assert_eq!(st.graph.sent().len(), 2, "{:?}", st.graph.sent());
}

#[tokio::test]
async fn a_429_is_retried_and_the_messages_arrive_once_in_order() {
    let st = setup().await;
    let channel = active_channel(&st).await;
    st.graph.answers.lock().expect("answers").push_back(429);
    post(&st.app, &channel, &text("wamid.IN1", "hi")).await;
    st.app.run_jobs().await;
    let (state, error): (String, String) = st.app.sql(|c| {
        c.query_row(
            "SELECT status, error_message FROM channel_messages WHERE direction = 'outbound' AND message_type = 'text'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    });
    assert_eq!(state, "failed");
    assert!(error.contains("Rate limit hit"), "{error}");
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
    let kinds: Vec<String> = st.graph.sent().iter().map(|m| m["type"].as_str().unwrap_or("").to_owned()).collect();
    // The refused attempt, then both messages once, in order.
    assert_eq!(kinds, vec!["text", "text", "interactive"]);
    assert_eq!(
        st.app.count("SELECT count(*) FROM channel_messages WHERE direction = 'outbound' AND status = 'sent' AND external_id LIKE 'wamid.OUT%'"),
        2
    );
}

#[tokio::test]
async fn rejected_credentials_and_bad_inputs_give_clear_errors() {
    let st = setup().await;
    let org = st.s.org_id;
    let create =
        |body: Value| st.app.as_user(&st.s, Method::POST, &format!("/api/v1/orgs/{org}/channels")).json(&body).send();
    for (creds, field) in [
        (
            json!({ "access_token": TOKEN, "phone_number_id": "abc", "app_secret": APP_SECRET }),
            "credentials.phone_number_id",
        ),
        (json!({ "phone_number_id": PHONE_ID, "app_secret": APP_SECRET }), "credentials.access_token"),
        (json!({ "access_token": TOKEN, "phone_number_id": PHONE_ID }), "credentials.app_secret"),
        (
            json!({ "access_token": TOKEN, "phone_number_id": PHONE_ID, "app_secret": "s", "business_account_id": "x1" }),
            "credentials.business_account_id",
        ),
    ] {
        let r = create(json!({ "type": "whatsapp", "bot_id": st.bot, "credentials": creds })).await.expect("send");
        let body = assert_error(r, 422, "validation_failed").await;
        assert_eq!(body["error"]["details"]["field"], field);
    }
    let mut wrong = credentials();
    wrong["access_token"] = json!("EAAwrong");
    let (status, channel) = st
        .app
        .call(
            &st.s,
            Method::POST,
            &format!("/api/v1/orgs/{org}/channels"),
            Some(json!({ "type": "whatsapp", "bot_id": st.bot, "credentials": wrong })),
        )
        .await;
    assert_eq!(status, 201, "{channel}");
    let id = channel["id"].as_i64().expect("id");
    let r = st.app.as_user(&st.s, Method::POST, &format!("/api/v1/channels/{id}/test")).send().await.expect("send");
    let body = assert_error(r, 422, "channel_credentials_rejected").await;
    assert_eq!(
        body["error"]["details"]["provider_description"],
        "Invalid OAuth access token - Cannot parse access token [code 190]"
    );
    assert_eq!(body["error"]["details"]["field"], "credentials.access_token");
    let (status, _) = st
        .app
        .call(&st.s, Method::PATCH, &format!("/api/v1/channels/{id}"), Some(json!({ "credentials": credentials() })))
        .await;
    assert_eq!(status, 200);
    let (status, check) = st.app.call(&st.s, Method::POST, &format!("/api/v1/channels/{id}/test"), None).await;
    assert_eq!((status, check["username"].as_str()), (200, Some("+1 555-010-0000")), "{check}");
}

#[tokio::test]
async fn free_form_messages_outside_the_24_hour_window_are_refused() {
    let st = setup().await;
    let channel = active_channel(&st).await;
    post(&st.app, &channel, &text("wamid.IN1", "hi")).await;
    st.app.run_jobs().await;
    assert_eq!(st.graph.sent().len(), 2);
    let conversation = st.app.count("SELECT id FROM conversations WHERE channel = 'whatsapp'");
    let (status, body) = st
        .app
        .call(&st.s, Method::POST, &format!("/api/v1/conversations/{conversation}/handoff"), Some(json!({})))
        .await;
    assert_eq!(status, 200, "{body}");
    // Ann wrote 25 hours ago.
    st.app.sql(|c| {
        c.execute(
            "UPDATE channel_messages SET created_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-25 hours') WHERE direction = 'inbound'",
            [],
        )
    });
    let (status, body) = st
        .app
        .call(
            &st.s,
            Method::POST,
            &format!("/api/v1/conversations/{conversation}/reply"),
            Some(json!({ "text": "Still there?" })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    st.app.run_jobs().await;
    assert_eq!(st.graph.sent().len(), 2, "nothing more was sent: {:?}", st.graph.sent());
    let (_, log) = st.app.call(&st.s, Method::GET, &format!("/api/v1/channels/{}/messages", channel["id"]), None).await;
    let dead: Vec<&Value> = log["items"].as_array().expect("items").iter().filter(|m| m["status"] == "dead").collect();
    assert!(!dead.is_empty(), "{log}");
    assert_eq!(dead[0]["error_message"], "outside the 24-hour window: send an approved template");
    assert_eq!(dead[0]["attempts"], 1);
}

#[tokio::test]
async fn templates_are_created_submitted_synced_and_sent_with_their_variables() {
    let st = setup().await;
    let channel = active_channel(&st).await;
    let base = format!("/api/v1/channels/{}/templates", channel["id"]);
    let create = |body: Value| st.app.as_user(&st.s, Method::POST, &base).json(&body).send();
    let good = json!({ "name": "order_update", "language": "en_US", "category": "utility",
        "body": "Hi {{1}}, your order {{2}} has shipped.", "examples": ["Ann", "A-1001"],
        "header_type": "text", "header_content": "Your order", "footer": "Shop Ltd",
        "buttons": [{ "type": "quick_reply", "text": "Thanks" }, { "type": "url", "text": "Track", "url": "https://shop.example/track" }] });
    for (change, field) in [
        (json!({ "name": "Order Update" }), "name"),
        (json!({ "body": "Hi {{2}}" }), "body"),
        (json!({ "body": "Hi {{name}}" }), "body"),
        (json!({ "examples": ["Ann"] }), "examples"),
        (json!({ "category": "gossip" }), "category"),
        (json!({ "buttons": [{ "type": "url", "text": "Track", "url": "http://plain" }] }), "buttons[0].url"),
        (json!({ "header_type": "image", "header_content": null }), "header_content"),
    ] {
        let mut body = good.clone();
        for (k, v) in change.as_object().expect("object") {
            body[k] = v.clone();
        }
        let r = create(body).await.expect("send");
        let e = assert_error(r, 422, "validation_failed").await;
        assert_eq!(e["error"]["details"]["field"], field, "{change}");
    }
    let r = create(good.clone()).await.expect("send");
    assert_eq!(r.status().as_u16(), 201);
    let t: Value = r.json().await.expect("json");
    assert_eq!((t["status"].as_str(), t["submitted"].as_bool()), (Some("pending"), Some(false)), "{t}");
    assert_error(create(good.clone()).await.expect("send"), 409, "template_exists").await;
    let item = format!("{base}/{}", t["id"]);

    // Not approved yet: refused.
    let send = |body: Value| st.app.as_user(&st.s, Method::POST, &format!("{item}/send")).json(&body).send();
    let e = assert_error(
        send(json!({ "to": USER, "variables": ["Ann", "A-1"] })).await.expect("send"),
        409,
        "template_not_approved",
    )
    .await;
    assert_eq!(e["error"]["details"]["status"], "pending");

    // Submit: the exact Graph body.
    let (status, submitted) = st.app.call(&st.s, Method::POST, &format!("{item}/submit"), None).await;
    assert_eq!(status, 200, "{submitted}");
    assert_eq!(
        (submitted["external_id"].as_str(), submitted["submitted"].as_bool()),
        (Some("594425479261596"), Some(true))
    );
    let posted: Vec<Value> = st
        .graph
        .server
        .requests()
        .into_iter()
        .filter(|r| r.path == format!("{VERSION}/{WABA}/message_templates"))
        .map(|r| serde_json::from_slice(&r.body).expect("json"))
        .collect();
    assert_eq!(
        posted,
        vec![json!({ "name": "order_update", "language": "en_US", "category": "UTILITY", "components": [
            { "type": "HEADER", "format": "TEXT", "text": "Your order" },
            { "type": "BODY", "text": "Hi {{1}}, your order {{2}} has shipped.", "example": { "body_text": [["Ann", "A-1001"]] } },
            { "type": "FOOTER", "text": "Shop Ltd" },
            { "type": "BUTTONS", "buttons": [
                { "type": "QUICK_REPLY", "text": "Thanks" },
                { "type": "URL", "text": "Track", "url": "https://shop.example/track" } ] }
        ] })]
    );
    let (status, again) = st.app.call(&st.s, Method::POST, &format!("{item}/submit"), None).await;
    assert_eq!((status, again["error"]["code"].as_str()), (409, Some("template_already_submitted")));

    // Sync: approved.
    let (status, synced) = st.app.call(&st.s, Method::POST, &format!("{item}/sync"), None).await;
    assert_eq!((status, synced["status"].as_str()), (200, Some("approved")), "{synced}");

    // Missing variables name their numbers.
    for vars in [json!([]), json!(["Ann"]), json!(["Ann", " "])] {
        let e = assert_error(
            send(json!({ "to": USER, "variables": vars })).await.expect("send"),
            422,
            "template_variables_missing",
        )
        .await;
        assert_eq!(e["error"]["details"]["field"], "variables");
        assert!(e["error"]["details"]["missing"].as_array().is_some_and(|m| m.contains(&json!(2))), "{e}");
    }
    // Sent to someone who never wrote (no 24-hour window): templates may go.
    let r = send(json!({ "to": format!("+{USER}"), "variables": ["Ann", "A-1001"] })).await.expect("send");
    assert_eq!(r.status().as_u16(), 202);
    let queued: Value = r.json().await.expect("json");
    assert_eq!(queued["content"], "Hi Ann, your order A-1001 has shipped.");
    st.app.run_jobs().await;
    assert_eq!(
        st.graph.sent(),
        vec![json!({ "messaging_product": "whatsapp", "recipient_type": "individual", "to": USER, "type": "template",
            "template": { "name": "order_update", "language": { "code": "en_US" }, "components": [
                { "type": "body", "parameters": [{ "type": "text", "text": "Ann" }, { "type": "text", "text": "A-1001" }] } ] } })]
    );
    assert_eq!(
        st.app.count("SELECT count(*) FROM channel_messages WHERE message_type = 'template' AND status = 'sent' AND external_id = 'wamid.OUT1'"),
        1
    );

    // Meta's status webhook: the template was paused, later rejected with a reason.
    for (event, reason, expected) in [("PAUSED", "NONE", "disabled"), ("REJECTED", "INVALID_FORMAT", "rejected")] {
        let update = json!({ "object": "whatsapp_business_account", "entry": [{ "id": WABA, "time": 1_700_000_100,
            "changes": [{ "field": "message_template_status_update", "value": { "event": event,
                "message_template_id": 594_425_479_261_596_i64, "message_template_name": "order_update",
                "message_template_language": "en_US", "reason": reason } }] }] });
        let (code, answer) = post(&st.app, &channel, &update).await;
        assert_eq!(code, 200, "{answer}");
        let (_, got) = st.app.call(&st.s, Method::GET, &item, None).await;
        assert_eq!(got["status"], expected, "{got}");
    }
    let (_, got) = st.app.call(&st.s, Method::GET, &item, None).await;
    assert_eq!(got["rejection_reason"], "INVALID_FORMAT");
    // Sync brings Meta's current word back (rejected, with the reason).
    *st.graph.review.lock().expect("review") = ("REJECTED", "INCORRECT_CATEGORY");
    let (_, synced) = st.app.call(&st.s, Method::POST, &format!("{item}/sync"), None).await;
    assert_eq!(
        (synced["status"].as_str(), synced["rejection_reason"].as_str()),
        (Some("rejected"), Some("INCORRECT_CATEGORY"))
    );
    let (_, list) = st.app.call(&st.s, Method::GET, &base, None).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    let (status, _) = st.app.call(&st.s, Method::DELETE, &item, None).await;
    assert_eq!(status, 204);
    let (status, _) = st.app.call(&st.s, Method::GET, &item, None).await;
    assert_eq!(status, 404);
}

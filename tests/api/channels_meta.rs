//! Messenger and Instagram through the real server, with a local fake of the
//! Graph API (`channels.graph_api_base` points at `{fake}/v21.0`) that checks
//! what the real one checks: the path (`/v21.0/{page_id}/messages`,
//! `/me`, `/{page_id}/subscribed_apps`), the `access_token` and its
//! `appsecret_proof` (HMAC-SHA256 of the token with the app secret), and the
//! JSON body of the Send API. Inbound calls are signed like Meta signs them
//! (`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`).
//! Retries are driven by moving due times into the past, never by sleeping.

#![allow(clippy::too_many_lines, reason = "each test is one end-to-end scenario")]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use botbuilder::crypto::hmac_sha256;
use reqwest::Method;
use serde_json::{Value, json};

use crate::fake_http::{FakeServer, Received, Reply};
use crate::helpers::{Session, TestApp, assert_error, spawn_app_with};

const PAGE_ID: &str = "1122334455";
const PAGE_TOKEN: &str = "EAAGm0PX4ZCpsBAPageTokenForTests1234567890";
const OTHER_TOKEN: &str = "EAAGm0PX4ZCpsBAnotherTokenNobodyIssued0000";
const APP_SECRET: &str = "0123456789abcdef0123456789abcdef";
const IG_ID: &str = "17841400000000001";
const PSID: &str = "24000000000000001";
/// A PNG header and a little more: enough for the type sniffing.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

fn sign(body: &[u8]) -> String {
    format!("sha256={}", hex::encode(hmac_sha256(APP_SECRET.as_bytes(), body)))
}

fn query_of(r: &Received) -> (String, Vec<(String, String)>) {
    let (path, query) = r.path.split_once('?').unwrap_or((r.path.as_str(), ""));
    (path.to_owned(), url::form_urlencoded::parse(query.as_bytes()).into_owned().collect())
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// A fake Graph API: only `PAGE_TOKEN` with the right proof is accepted;
/// `/messages` answers the queued Graph errors first (HTTP status, code), then success.
struct FakeGraph {
    server: FakeServer,
    errors: Arc<Mutex<VecDeque<(u16, i64)>>>,
}

impl FakeGraph {
    async fn start() -> FakeGraph {
        let errors: Arc<Mutex<VecDeque<(u16, i64)>>> = Arc::new(Mutex::new(VecDeque::new()));
        let queue = errors.clone();
        let next_id = Arc::new(Mutex::new(0_i64));
        let server = FakeServer::start(Arc::new(move |r: &Received| {
            let reply = |status: u16, v: Value| Reply::Full(status, "application/json".into(), v.to_string().into_bytes());
            let error = |status: u16, code: i64, message: &str| {
                reply(status, json!({ "error": { "message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbC" } }))
            };
            let (path, query) = query_of(r);
            if path == "/media/cat.png" {
                return Reply::Full(200, "image/png".into(), PNG.to_vec());
            }
            if param(&query, "access_token") != Some(PAGE_TOKEN) {
                return error(400, 190, "Invalid OAuth access token - Cannot parse access token");
            }
            let proof = hex::encode(hmac_sha256(APP_SECRET.as_bytes(), PAGE_TOKEN.as_bytes()));
            if param(&query, "appsecret_proof") != Some(proof.as_str()) {
                return error(400, 100, "Invalid appsecret_proof provided in the API argument");
            }
            match (r.method.as_str(), path.as_str()) {
                ("GET", "/v21.0/me") => {
                    assert_eq!(param(&query, "fields").map(|f| f.starts_with("id,name")), Some(true), "{query:?}");
                    reply(200, json!({ "id": PAGE_ID, "name": "Shop Page",
                        "instagram_business_account": { "id": IG_ID, "username": "shop.ig" } }))
                }
                ("POST", p) if p == format!("/v21.0/{PAGE_ID}/subscribed_apps") => reply(200, json!({ "success": true })),
                ("POST", p) if p == format!("/v21.0/{PAGE_ID}/messages") => {
                    assert!(r.header("content-type").is_some_and(|c| c.starts_with("application/json")), "{r:?}");
                    let body: Value = serde_json::from_slice(&r.body).expect("JSON body");
                    let to = body["recipient"]["id"].as_str().expect("recipient.id").to_owned();
                    if body.get("sender_action").is_some() {
                        return reply(200, json!({ "recipient_id": to }));
                    }
                    if let Some((status, code)) = queue.lock().expect("errors").pop_front() {
                        return error(status, code, "(#613) Calls to this api have exceeded the rate limit.");
                    }
                    let mut id = next_id.lock().expect("id");
                    *id += 1;
                    reply(200, json!({ "recipient_id": to, "message_id": format!("m_out_{id}") }))
                }
                _ => error(400, 100, "Unsupported request"),
            }
        }))
        .await;
        FakeGraph { server, errors }
    }

    /// The JSON bodies of the Send API calls that carried a message (not a sender action), in order.
    fn messages(&self) -> Vec<Value> {
        self.sends().into_iter().filter(|b| b.get("message").is_some()).collect()
    }

    /// Every Send API body, in order.
    fn sends(&self) -> Vec<Value> {
        self.server
            .requests()
            .into_iter()
            .filter(|r| query_of(r).0 == format!("/v21.0/{PAGE_ID}/messages"))
            .map(|r| serde_json::from_slice(&r.body).expect("json"))
            .collect()
    }

    fn calls_to(&self, path: &str) -> Vec<Received> {
        self.server.requests().into_iter().filter(|r| query_of(r).0 == path).collect()
    }
}

fn colour_flow() -> Value {
    json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "hello", "type": "message", "data": { "text": "Hello from the shop." } },
            { "id": "ask", "type": "question", "data": {
                "prompt": { "text": "Pick a colour", "quick_replies": [
                    { "label": "Red", "value": "red" }, { "label": "Blue", "value": "blue" } ] },
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
    let base = format!("{}/v21.0", graph.server.base);
    let app = spawn_app_with(move |c| c.channels.graph_api_base = base).await;
    let s = app.register("owner@example.com").await;
    let bot = crate::helpers::published_bot(&app, &s, "Shop", colour_flow()).await;
    Setup { app, s, graph, bot }
}

fn credentials(kind: &str, token: &str) -> Value {
    let mut c = json!({ "page_id": PAGE_ID, "page_access_token": token, "app_secret": APP_SECRET });
    if kind == "instagram" {
        c["instagram_account_id"] = json!(IG_ID);
    }
    c
}

/// Creates and activates a channel of `kind`; answers it (with its verify token in `webhook_secret`).
async fn active_channel(st: &Setup, kind: &str) -> Value {
    let (status, channel) = st
        .app
        .call(
            &st.s,
            Method::POST,
            &format!("/api/v1/orgs/{}/channels", st.s.org_id),
            Some(json!({ "type": kind, "bot_id": st.bot, "credentials": credentials(kind, PAGE_TOKEN) })),
        )
        .await;
    assert_eq!(status, 201, "{channel}");
    assert!(!channel.to_string().contains(PAGE_TOKEN) && !channel.to_string().contains(APP_SECRET), "{channel}");
    assert!(channel["webhook_secret"].as_str().is_some_and(|s| s.len() >= 32), "the verify token is shown: {channel}");
    let id = channel["id"].as_i64().expect("id");
    let (status, activated) = st.app.call(&st.s, Method::POST, &format!("/api/v1/channels/{id}/activate"), None).await;
    assert_eq!(status, 200, "{activated}");
    assert_eq!(activated["channel"]["status"], "active");
    activated["channel"].clone()
}

fn hook_path(channel: &Value) -> String {
    let url = channel["webhook_url"].as_str().expect("webhook_url");
    let at = url.find("/hooks/").expect("/hooks/ in the URL");
    url[at..].to_owned()
}

/// How a test call is signed.
#[derive(Debug, Clone, Copy)]
enum Sig<'a> {
    /// Correctly, with the app secret.
    Good,
    /// With this header value.
    Header(&'a str),
    /// Not at all.
    Missing,
}

/// Posts a webhook call signed as `signature` says.
async fn post_hook(app: &TestApp, channel: &Value, body: &Value, signature: Sig<'_>) -> (u16, Value) {
    let bytes = body.to_string().into_bytes();
    let mut request =
        app.client.post(app.url(&hook_path(channel))).header("content-type", "application/json").body(bytes.clone());
    match signature {
        Sig::Good => request = request.header("X-Hub-Signature-256", sign(&bytes)),
        Sig::Header(s) => request = request.header("X-Hub-Signature-256", s),
        Sig::Missing => {}
    }
    let response = request.send().await.expect("send");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// One `messaging` item in a webhook call of `object` (`page` or `instagram`).
fn call_of(object: &str, item: &Value) -> Value {
    let recipient = if object == "page" { PAGE_ID } else { IG_ID };
    let mut item = item.clone();
    item["sender"] = json!({ "id": PSID });
    item["recipient"] = json!({ "id": recipient });
    if item.get("timestamp").is_none() {
        item["timestamp"] = json!(now_ms());
    }
    json!({ "object": object, "entry": [{ "id": recipient, "time": now_ms(), "messaging": [item] }] })
}

fn text(object: &str, mid: &str, text: &str) -> Value {
    call_of(object, &json!({ "message": { "mid": mid, "text": text } }))
}

fn reply_text(body: &Value) -> String {
    body["message"]["text"].as_str().unwrap_or("").to_owned()
}

#[tokio::test]
async fn messenger_answers_through_the_send_api_and_a_quick_reply_round_trips() {
    let st = setup().await;
    let channel = active_channel(&st, "messenger").await;
    let (status, body) = post_hook(&st.app, &channel, &text("page", "m_in_1", "hi"), Sig::Good).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("processed")), "{body}");
    st.app.run_jobs().await;

    // The requests as the Send API takes them: path, token, proof, JSON body.
    let calls = st.graph.calls_to(&format!("/v21.0/{PAGE_ID}/messages"));
    assert_eq!(calls.len(), 4, "{calls:?}");
    let (_, query) = query_of(&calls[2]);
    assert_eq!(param(&query, "access_token"), Some(PAGE_TOKEN));
    let sends = st.graph.sends();
    // Seen and typing first, then the replies.
    assert_eq!(sends[0], json!({ "recipient": { "id": PSID }, "sender_action": "mark_seen" }));
    assert_eq!(sends[1], json!({ "recipient": { "id": PSID }, "sender_action": "typing_on" }));
    assert_eq!(
        sends[2],
        json!({ "recipient": { "id": PSID }, "messaging_type": "RESPONSE", "message": { "text": "Hello from the shop." } })
    );
    assert_eq!(
        sends[3],
        json!({ "recipient": { "id": PSID }, "messaging_type": "RESPONSE", "message": { "text": "Pick a colour",
            "quick_replies": [ { "content_type": "text", "title": "Red", "payload": "red" },
                               { "content_type": "text", "title": "Blue", "payload": "blue" } ] } })
    );
    assert_eq!(st.app.count("SELECT count(*) FROM channel_contacts WHERE external_id = '24000000000000001'"), 1);
    assert_eq!(
        st.app.count("SELECT count(*) FROM conversations WHERE channel = 'messenger' AND channel_id IS NOT NULL"),
        1
    );
    // The provider's message ids are kept for statuses.
    assert_eq!(
        st.app.count(
            "SELECT count(*) FROM channel_messages WHERE direction = 'outbound' AND external_id IN ('m_out_1', 'm_out_2')"
        ),
        2
    );

    // The person taps "Red": Messenger sends the title as text and the payload.
    let tap =
        call_of("page", &json!({ "message": { "mid": "m_in_2", "text": "Red", "quick_reply": { "payload": "red" } } }));
    let (status, body) = post_hook(&st.app, &channel, &tap, Sig::Good).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("processed")), "{body}");
    st.app.run_jobs().await;
    let messages = st.graph.messages();
    assert_eq!(messages.len(), 4, "{messages:?}");
    assert_eq!(
        messages[2]["message"],
        json!({ "attachment": { "type": "image", "payload": { "url": "https://example.com/colour.png", "is_reusable": true } } })
    );
    assert_eq!(reply_text(&messages[3]), "You chose red.");
    let (_, got) = st.app.call(&st.s, Method::GET, &format!("/api/v1/channels/{}", channel["id"]), None).await;
    assert_eq!(got["queue_depth"], 0, "{got}");
}

#[tokio::test]
async fn messenger_media_is_downloaded_into_files() {
    let st = setup().await;
    let channel = active_channel(&st, "messenger").await;
    let url = format!("{}/media/cat.png", st.graph.server.base);
    let photo = call_of(
        "page",
        &json!({ "message": { "mid": "m_in_img", "attachments": [
        { "type": "image", "payload": { "url": url } } ] } }),
    );
    let (status, body) = post_hook(&st.app, &channel, &photo, Sig::Good).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("processed")), "{body}");
    assert_eq!(st.app.count("SELECT count(*) FROM files WHERE content_type = 'image/png'"), 1);
    let (kind, media_url, file_bytes): (String, String, i64) = st.app.sql(|c| {
        c.query_row(
            "SELECT m.message_type, m.media_url, f.size_bytes FROM channel_messages m
             JOIN files f ON m.media_url = '/api/v1/files/' || f.id
             WHERE m.direction = 'inbound' AND m.external_id = 'm_in_img'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
    });
    assert_eq!(kind, "image");
    assert!(media_url.starts_with("/api/v1/files/"), "{media_url}");
    assert_eq!(usize::try_from(file_bytes).expect("size"), PNG.len());
}

#[tokio::test]
async fn messenger_deliveries_and_read_watermarks_fold_into_the_outbound_rows() {
    let st = setup().await;
    let channel = active_channel(&st, "messenger").await;
    post_hook(&st.app, &channel, &text("page", "m_in_1", "hi"), Sig::Good).await;
    st.app.run_jobs().await;
    let status_of = |id: &str| -> String {
        st.app.sql(|c| c.query_row("SELECT status FROM channel_messages WHERE external_id = ?1", [id], |r| r.get(0)))
    };
    let delivery = call_of("page", &json!({ "delivery": { "mids": ["m_out_1"], "watermark": now_ms() } }));
    let (_, body) = post_hook(&st.app, &channel, &delivery, Sig::Good).await;
    assert_eq!(body["status"], "processed", "{body}");
    assert_eq!((status_of("m_out_1"), status_of("m_out_2")), ("delivered".to_owned(), "sent".to_owned()));
    // The same delivery again changes nothing and runs nothing.
    let (_, again) = post_hook(&st.app, &channel, &delivery, Sig::Good).await;
    assert_eq!(again["status"], "duplicate");

    // Read up to now: every message sent to the person before it is read.
    let read = call_of("page", &json!({ "read": { "watermark": now_ms() + 1000 } }));
    let (_, body) = post_hook(&st.app, &channel, &read, Sig::Good).await;
    assert_eq!(body["status"], "processed", "{body}");
    assert_eq!((status_of("m_out_1"), status_of("m_out_2")), ("read".to_owned(), "read".to_owned()));
    assert_eq!(
        st.app.count("SELECT count(*) FROM channel_messages WHERE external_id LIKE 'm_out_%' AND read_at IS NOT NULL"),
        2
    );
    // A watermark before anything was sent folds nothing.
    let old = call_of("page", &json!({ "read": { "watermark": 1000 } }));
    let (_, body) = post_hook(&st.app, &channel, &old, Sig::Good).await;
    assert_eq!(body["status"], "ignored", "{body}");
}

#[tokio::test]
async fn messenger_refuses_bad_signatures_and_runs_a_redelivery_once() {
    let st = setup().await;
    let channel = active_channel(&st, "messenger").await;
    let call = text("page", "m_in_1", "hi");
    let other = sign(b"another body");
    for bad in [None, Some("sha256=00"), Some(other.as_str()), Some("nonsense")] {
        let (status, body) = post_hook(&st.app, &channel, &call, bad.map_or(Sig::Missing, Sig::Header)).await;
        assert_eq!(status, 401, "{bad:?} {body}");
        assert_eq!(body["error"]["code"], "channel_signature_invalid");
    }
    assert_eq!(st.app.count("SELECT count(*) FROM channel_webhooks"), 0);
    assert_eq!(st.app.count("SELECT count(*) FROM channel_messages"), 0);
    assert_eq!(st.app.count("SELECT count(*) FROM channel_contacts"), 0);

    // Malformed but signed: 200 (Meta would retry), logged as rejected, nothing stored.
    for bad in [
        json!({ "object": "page" }),
        json!({ "object": "instagram", "entry": [] }),
        json!({ "object": "page",
        "entry": [{ "id": PAGE_ID, "messaging": [{ "message": { "text": "no sender" } }] }] }),
    ] {
        let (status, body) = post_hook(&st.app, &channel, &bad, Sig::Good).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("rejected")), "{bad} {body}");
    }
    assert_eq!(st.app.count("SELECT count(*) FROM channel_webhooks"), 0);

    // The same message twice: processed once, answered once.
    let (_, first) = post_hook(&st.app, &channel, &call, Sig::Good).await;
    let (_, second) = post_hook(&st.app, &channel, &call, Sig::Good).await;
    assert_eq!((first["status"].as_str(), second["status"].as_str()), (Some("processed"), Some("duplicate")));
    // An echo of our own message is stored once and ignored.
    let echo = call_of("page", &json!({ "message": { "mid": "m_out_1", "is_echo": true, "text": "Hello" } }));
    let (_, body) = post_hook(&st.app, &channel, &echo, Sig::Good).await;
    assert_eq!(body["status"], "ignored", "{body}");
    st.app.run_jobs().await;
    assert_eq!(st.app.count("SELECT count(*) FROM channel_messages WHERE direction = 'inbound'"), 1);
    let texts: Vec<String> = st.graph.messages().iter().map(reply_text).collect();
    assert_eq!(texts, vec!["Hello from the shop.", "Pick a colour"]);
}

#[tokio::test]
async fn a_graph_rate_limit_is_retried_and_the_messages_arrive_once_in_order() {
    let st = setup().await;
    let channel = active_channel(&st, "messenger").await;
    // Graph reports rate limits as HTTP 400 with code 613 (or 4, 17, 32).
    st.graph.errors.lock().expect("errors").push_back((400, 613));
    post_hook(&st.app, &channel, &text("page", "m_in_1", "hi"), Sig::Good).await;
    st.app.run_jobs().await;
    assert_eq!(st.graph.messages().len(), 1, "only the refused attempt");
    let (state, error): (String, String) = st.app.sql(|c| {
        c.query_row(
            "SELECT status, error_message FROM channel_messages WHERE direction = 'outbound' AND content = 'Hello from the shop.'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    });
    assert_eq!(state, "failed");
    assert!(error.contains("rate limit") && error.contains("613"), "{error}");
    assert_eq!(st.app.count("SELECT count(*) FROM channel_messages WHERE dead = 1"), 0, "retried, not dead");
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
    let texts: Vec<String> = st.graph.messages().iter().map(reply_text).collect();
    assert_eq!(texts, vec!["Hello from the shop.", "Hello from the shop.", "Pick a colour"]);
    assert_eq!(
        st.app
            .count("SELECT count(*) FROM channel_messages WHERE direction = 'outbound' AND external_id LIKE 'm_out_%'"),
        2
    );
}

#[tokio::test]
async fn credentials_meta_refuses_give_clear_errors_and_activation_subscribes_the_page() {
    let st = setup().await;
    let org = st.s.org_id;
    let create =
        |body: Value| st.app.as_user(&st.s, Method::POST, &format!("/api/v1/orgs/{org}/channels")).json(&body).send();
    for (field, creds) in [
        (
            "credentials.page_id",
            json!({ "page_id": "my page", "page_access_token": PAGE_TOKEN, "app_secret": APP_SECRET }),
        ),
        ("credentials.page_access_token", json!({ "page_id": PAGE_ID, "app_secret": APP_SECRET })),
        ("credentials.app_secret", json!({ "page_id": PAGE_ID, "page_access_token": PAGE_TOKEN, "app_secret": "x" })),
    ] {
        let r = create(json!({ "type": "messenger", "bot_id": st.bot, "credentials": creds })).await.expect("send");
        let body = assert_error(r, 422, "validation_failed").await;
        assert_eq!(body["error"]["details"]["field"], field, "{body}");
    }

    // A well-formed token Meta does not know: test-connection says so in Meta's words.
    let (status, channel) = st
        .app
        .call(
            &st.s,
            Method::POST,
            &format!("/api/v1/orgs/{org}/channels"),
            Some(
                json!({ "type": "messenger", "bot_id": st.bot, "credentials": credentials("messenger", OTHER_TOKEN) }),
            ),
        )
        .await;
    assert_eq!(status, 201, "{channel}");
    let id = channel["id"].as_i64().expect("id");
    let r = st.app.as_user(&st.s, Method::POST, &format!("/api/v1/channels/{id}/test")).send().await.expect("send");
    let body = assert_error(r, 422, "channel_credentials_rejected").await;
    let words = body["error"]["details"]["provider_description"].as_str().unwrap_or("");
    assert!(words.contains("Invalid OAuth access token") && words.contains("190"), "{body}");
    assert!(!body.to_string().contains(OTHER_TOKEN), "{body}");
    // A wrong app secret shows as an invalid appsecret_proof.
    let mut wrong_secret = credentials("messenger", PAGE_TOKEN);
    wrong_secret["app_secret"] = json!("ffffffffffffffffffffffffffffffff");
    let (status, _) = st
        .app
        .call(&st.s, Method::PATCH, &format!("/api/v1/channels/{id}"), Some(json!({ "credentials": wrong_secret })))
        .await;
    assert_eq!(status, 200);
    let r = st.app.as_user(&st.s, Method::POST, &format!("/api/v1/channels/{id}/test")).send().await.expect("send");
    let body = assert_error(r, 422, "channel_credentials_rejected").await;
    assert!(body.to_string().contains("appsecret_proof"), "{body}");
    assert!(st.graph.calls_to(&format!("/v21.0/{PAGE_ID}/subscribed_apps")).is_empty());

    // Fixed: the test names the Page; activation subscribes it to the app's webhook fields.
    let (status, _) = st
        .app
        .call(
            &st.s,
            Method::PATCH,
            &format!("/api/v1/channels/{id}"),
            Some(json!({ "credentials": credentials("messenger", PAGE_TOKEN) })),
        )
        .await;
    assert_eq!(status, 200);
    let (status, check) = st.app.call(&st.s, Method::POST, &format!("/api/v1/channels/{id}/test"), None).await;
    assert_eq!((status, check["username"].as_str()), (200, Some("Shop Page")), "{check}");
    let (status, activated) = st.app.call(&st.s, Method::POST, &format!("/api/v1/channels/{id}/activate"), None).await;
    assert_eq!((status, activated["channel"]["status"].as_str()), (200, Some("active")), "{activated}");
    let subscribed = st.graph.calls_to(&format!("/v21.0/{PAGE_ID}/subscribed_apps"));
    assert_eq!(subscribed.len(), 1);
    assert_eq!(subscribed[0].method, "POST");
    assert_eq!(
        param(&query_of(&subscribed[0]).1, "subscribed_fields"),
        Some("messages,messaging_postbacks,message_deliveries,message_reads")
    );

    // The webhook handshake: Meta's GET with the verify token gets the challenge back.
    let channel = activated["channel"].clone();
    let verify = channel["webhook_secret"].as_str().expect("verify token").to_owned();
    let handshake = |token: String| {
        st.app
            .client
            .get(st.app.url(&hook_path(&channel)))
            .query(&[("hub.mode", "subscribe"), ("hub.verify_token", token.as_str()), ("hub.challenge", "1158201444")])
            .send()
    };
    let r = handshake(verify.clone()).await.expect("send");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.text().await.expect("body"), "1158201444");
    let r = handshake(format!("{verify}x")).await.expect("send");
    assert_error(r, 401, "channel_signature_invalid").await;
    assert_eq!(st.app.count("SELECT count(*) FROM channel_webhooks"), 0);
}

#[tokio::test]
async fn the_24_hour_window_refuses_bot_replies_and_agents_answer_with_the_human_agent_tag() {
    let st = setup().await;
    let channel = active_channel(&st, "messenger").await;
    let hours_ago = |h: i64| now_ms() - h * 3600 * 1000;
    // A message Meta delivers late: 25 hours old.
    let late = call_of("page", &json!({ "timestamp": hours_ago(25), "message": { "mid": "m_in_old", "text": "hi" } }));
    let (_, body) = post_hook(&st.app, &channel, &late, Sig::Good).await;
    assert_eq!(body["status"], "processed", "{body}");
    st.app.run_jobs().await;
    assert!(st.graph.messages().is_empty(), "{:?}", st.graph.messages());
    let dead: Vec<String> = st.app.sql(|c| {
        c.prepare("SELECT error_message FROM channel_messages WHERE direction = 'outbound' AND dead = 1 ORDER BY id")?
            .query_map([], |r| r.get(0))?
            .collect()
    });
    assert_eq!(dead.len(), 2, "{dead:?}");
    assert!(dead[0].contains("outside the 24-hour messaging window"), "{dead:?}");

    // An agent may still answer (within 7 days), tagged HUMAN_AGENT.
    let conversation = st.app.count("SELECT id FROM conversations WHERE channel = 'messenger'");
    let (status, body) = st
        .app
        .call(&st.s, Method::POST, &format!("/api/v1/conversations/{conversation}/handoff"), Some(json!({})))
        .await;
    assert_eq!(status, 200, "{body}");
    let reply_path = format!("/api/v1/conversations/{conversation}/reply");
    let reply = |text: &'static str| st.app.call(&st.s, Method::POST, &reply_path, Some(json!({ "text": text })));
    let (status, body) = reply("Hi, Bob here.").await;
    assert_eq!(status, 200, "{body}");
    st.app.run_jobs().await;
    let sent: Vec<Value> = st.graph.messages().into_iter().filter(|b| reply_text(b) == "Hi, Bob here.").collect();
    assert_eq!(sent.len(), 1, "{:?}", st.graph.messages());
    assert_eq!(
        sent[0],
        json!({ "recipient": { "id": PSID }, "messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT",
                "message": { "text": "Hi, Bob here." } })
    );

    // Eight days on, not even an agent may.
    let eight_days = hours_ago(8 * 24);
    st.app.sql(|c| {
        c.execute(
            "UPDATE channel_messages SET metadata = json_object('timestamp', ?1) WHERE direction = 'inbound'",
            [eight_days],
        )
    });
    let (status, _) = reply("Still there?").await;
    assert_eq!(status, 200);
    st.app.run_jobs().await;
    assert!(st.graph.messages().iter().all(|b| reply_text(b) != "Still there?"));
    assert_eq!(
        st.app.count(
            "SELECT count(*) FROM channel_messages WHERE content = 'Still there?' AND dead = 1
             AND error_message LIKE '%outside the 24-hour messaging window%'"
        ),
        1
    );
}

#[tokio::test]
async fn instagram_answers_a_postback_round_trips_and_checks_signatures_and_duplicates() {
    let st = setup().await;
    let channel = active_channel(&st, "instagram").await;
    assert_eq!(channel["username"], "shop.ig", "{channel}");
    let subscribed = st.graph.calls_to(&format!("/v21.0/{PAGE_ID}/subscribed_apps"));
    assert_eq!(subscribed.len(), 1);

    // Signature first: nothing stored for a forged call.
    let call = text("instagram", "ig_in_1", "hi");
    let (status, _) = post_hook(&st.app, &channel, &call, Sig::Header("sha256=deadbeef")).await;
    assert_eq!(status, 401);
    assert_eq!(st.app.count("SELECT count(*) FROM channel_webhooks"), 0);
    // A Messenger call at an Instagram channel is not its format.
    let (status, body) = post_hook(&st.app, &channel, &text("page", "x", "hi"), Sig::Good).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("rejected")));

    let (_, first) = post_hook(&st.app, &channel, &call, Sig::Good).await;
    let (_, second) = post_hook(&st.app, &channel, &call, Sig::Good).await;
    assert_eq!((first["status"].as_str(), second["status"].as_str()), (Some("processed"), Some("duplicate")));
    st.app.run_jobs().await;
    let messages = st.graph.messages();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert_eq!(
        messages[0],
        json!({ "recipient": { "id": PSID }, "messaging_type": "RESPONSE", "message": { "text": "Hello from the shop." } })
    );
    assert_eq!(
        messages[1]["message"]["quick_replies"][0],
        json!({ "content_type": "text", "title": "Red", "payload": "red" })
    );

    // A postback (a template button) answers the question.
    let press = call_of("instagram", &json!({ "postback": { "mid": "ig_pb_1", "title": "Red", "payload": "red" } }));
    let (_, body) = post_hook(&st.app, &channel, &press, Sig::Good).await;
    assert_eq!(body["status"], "processed", "{body}");
    let (_, again) = post_hook(&st.app, &channel, &press, Sig::Good).await;
    assert_eq!(again["status"], "duplicate");
    st.app.run_jobs().await;
    let texts: Vec<String> = st.graph.messages().iter().map(reply_text).collect();
    assert_eq!(texts, vec!["Hello from the shop.", "Pick a colour", "", "You chose red."]);
    // Instagram reports the last message seen by its id.
    let seen = call_of("instagram", &json!({ "read": { "mid": "m_out_2" } }));
    let (_, body) = post_hook(&st.app, &channel, &seen, Sig::Good).await;
    assert_eq!(body["status"], "processed", "{body}");
    assert_eq!(
        st.app.count("SELECT count(*) FROM channel_messages WHERE external_id = 'm_out_2' AND status = 'read'"),
        1
    );
}

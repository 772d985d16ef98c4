//! The Slack channel through the real server, with a local fake of the
//! Slack Web API (`channels.slack_api_base` points at it) that checks the
//! Bearer token and the JSON bodies and answers like Slack (HTTP 200 with
//! `{"ok": false, "error"}` for errors, 429 with `Retry-After` when rate
//! limited). Inbound calls are signed here independently of the server's
//! code: `v0=<hex HMAC-SHA256 of "v0:{timestamp}:{body}">`.

#![allow(clippy::too_many_lines, reason = "each test is one end-to-end scenario")]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::fake_http::{FakeServer, Received, Reply};
use crate::helpers::{Session, TestApp, assert_error, spawn_app_with};

const TOKEN: &str = "xoxb-1111-2222-AbCdEfGhIjKlMnOpQrStUv";
const OTHER_TOKEN: &str = "xoxb-9999-8888-ZzZzZzZzZzZzZzZzZzZzZz";
const SIGNING_SECRET: &str = "8f742231b10e8888abcd99aaabbb85a5";
/// A tiny PNG, served as a shared file.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89,
];

/// A fake Slack Web API: only `TOKEN` is valid; `chat.postMessage` answers
/// the queued HTTP statuses first (429 with `Retry-After: 1`), then success
/// with a new `ts`; `/files/…` serves the PNG to the Bearer token only.
struct FakeSlack {
    server: FakeServer,
    answers: Arc<Mutex<VecDeque<u16>>>,
}

impl FakeSlack {
    async fn start() -> FakeSlack {
        let answers: Arc<Mutex<VecDeque<u16>>> = Arc::new(Mutex::new(VecDeque::new()));
        let queue = answers.clone();
        let next_ts = Arc::new(Mutex::new(100_i64));
        let server = FakeServer::start(Arc::new(move |r: &Received| {
            let json_reply = |v: Value| Reply::Full(200, "application/json".into(), v.to_string().into_bytes());
            let authorized = r.header("authorization") == Some(&format!("Bearer {TOKEN}"));
            if r.path.starts_with("/files/") {
                assert_eq!(r.method, "GET");
                return if authorized {
                    Reply::Full(200, "image/png".into(), PNG.to_vec())
                } else {
                    Reply::Full(403, "text/plain".into(), b"no".to_vec())
                };
            }
            // Only the adapter's Web API calls are POSTs. Anything else is a stray
            // client of an earlier test whose server had this port (a browser's
            // EventSource reconnecting, say): not ours to judge, answered 404.
            if r.method != "POST" {
                return Reply::Full(404, "text/plain".into(), b"not a Web API call".to_vec());
            }
            if !authorized {
                return json_reply(json!({ "ok": false, "error": "invalid_auth" }));
            }
            assert_eq!(r.header("content-type"), Some("application/json; charset=utf-8"), "{r:?}");
            let body: Value = serde_json::from_slice(&r.body).expect("JSON body");
            match r.path.as_str() {
                "/auth.test" => json_reply(json!({ "ok": true, "url": "https://acme.slack.com/", "team": "Acme",
                    "user": "shopbot", "team_id": "T1", "user_id": "UBOT", "bot_id": "B1" })),
                "/chat.postMessage" => {
                    if let Some(status) = queue.lock().expect("answers").pop_front() {
                        return Reply::WithHeaders(
                            status,
                            vec![
                                ("Retry-After".into(), "1".into()),
                                ("Content-Type".into(), "application/json".into()),
                            ],
                            json!({ "ok": false, "error": "ratelimited" }).to_string().into_bytes(),
                        );
                    }
                    assert!(
                        body["channel"].is_string() && body["text"].is_string() && body["blocks"].is_array(),
                        "{body}"
                    );
                    let mut ts = next_ts.lock().expect("ts");
                    *ts += 1;
                    json_reply(json!({ "ok": true, "channel": body["channel"], "ts": format!("1700000000.000{}", *ts),
                        "message": { "text": body["text"], "blocks": body["blocks"] } }))
                }
                "/chat.update" => json_reply(
                    json!({ "ok": true, "channel": body["channel"], "ts": body["ts"], "text": body["text"] }),
                ),
                _ => json_reply(json!({ "ok": false, "error": "unknown_method" })),
            }
        }))
        .await;
        FakeSlack { server, answers }
    }

    /// The JSON bodies of the calls of `method`, in order.
    fn calls(&self, method: &str) -> Vec<Value> {
        let path = format!("/{method}");
        self.server
            .requests()
            .into_iter()
            .filter(|r| r.path == path)
            .map(|r| serde_json::from_slice(&r.body).expect("json"))
            .collect()
    }

    /// The `chat.postMessage` bodies' first section texts, in order.
    fn texts(&self) -> Vec<String> {
        self.calls("chat.postMessage")
            .iter()
            .map(|b| b["blocks"][0]["text"]["text"].as_str().unwrap_or("").to_owned())
            .collect()
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
                "text": "You chose {{colour}}.", "image": { "url": "https://example.com/colour.png", "alt": "a colour" } } }
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
    slack: FakeSlack,
    bot: i64,
}

async fn setup() -> Setup {
    let slack = FakeSlack::start().await;
    let base = slack.server.base.clone();
    let app = spawn_app_with(move |c| c.channels.slack_api_base = base).await;
    let s = app.register("owner@example.com").await;
    let bot = crate::helpers::published_bot(&app, &s, "Shop", colour_flow()).await;
    Setup { app, s, slack, bot }
}

/// Creates and activates a Slack channel (activation runs `auth.test`).
async fn active_channel(st: &Setup) -> Value {
    let (status, channel) = st
        .app
        .call(
            &st.s,
            Method::POST,
            &format!("/api/v1/orgs/{}/channels", st.s.org_id),
            Some(json!({ "type": "slack", "name": "Shop on Slack", "bot_id": st.bot,
                "credentials": { "bot_token": TOKEN, "signing_secret": SIGNING_SECRET } })),
        )
        .await;
    assert_eq!(status, 201, "{channel}");
    assert!(!channel.to_string().contains(TOKEN) && !channel.to_string().contains(SIGNING_SECRET), "{channel}");
    let id = channel["id"].as_i64().expect("id");
    let (status, activated) = st.app.call(&st.s, Method::POST, &format!("/api/v1/channels/{id}/activate"), None).await;
    assert_eq!(status, 200, "{activated}");
    assert_eq!(activated["channel"]["status"], "active");
    assert_eq!(activated["username"], "shopbot @ Acme");
    activated["channel"].clone()
}

fn hook_path(channel: &Value) -> String {
    let url = channel["webhook_url"].as_str().expect("webhook_url");
    let at = url.find("/hooks/").expect("/hooks/ in the URL");
    url[at..].to_owned()
}

fn now() -> i64 {
    i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs()).expect("secs")
}

/// Slack's signature of `body` sent at `timestamp`.
fn slack_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

#[derive(Clone, Copy)]
enum Signing<'a> {
    Good,
    At(i64),
    Secret(&'a str),
    None,
}

async fn post_raw(
    app: &TestApp,
    channel: &Value,
    signing: Signing<'_>,
    content_type: &str,
    body: Vec<u8>,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let mut request = app.client.post(app.url(&hook_path(channel))).header("content-type", content_type);
    let signed = match signing {
        Signing::Good => Some((SIGNING_SECRET, now())),
        Signing::At(ts) => Some((SIGNING_SECRET, ts)),
        Signing::Secret(s) => Some((s, now())),
        Signing::None => None,
    };
    if let Some((secret, ts)) = signed {
        request = request
            .header("X-Slack-Request-Timestamp", ts.to_string())
            .header("X-Slack-Signature", slack_signature(secret, ts, &body));
    }
    for (k, v) in extra {
        request = request.header(*k, *v);
    }
    let response = request.body(body).send().await.expect("send");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn post_event(app: &TestApp, channel: &Value, signing: Signing<'_>, event: &Value) -> (u16, Value) {
    post_raw(app, channel, signing, "application/json", event.to_string().into_bytes(), &[]).await
}

/// A signed interactivity call: `payload=<JSON>` form-encoded.
async fn post_interaction(app: &TestApp, channel: &Value, payload: &Value) -> (u16, Value) {
    let body =
        url::form_urlencoded::Serializer::new(String::new()).append_pair("payload", &payload.to_string()).finish();
    post_raw(app, channel, Signing::Good, "application/x-www-form-urlencoded", body.into_bytes(), &[]).await
}

fn callback(event_id: &str, event: &Value) -> Value {
    json!({ "token": "legacy", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
        "event_id": event_id, "event_time": 1_700_000_000, "authorizations": [{ "user_id": "UBOT", "is_bot": true }],
        "event": event })
}

fn dm(event_id: &str, channel: &str, ts: &str, text: &str) -> Value {
    callback(
        event_id,
        &json!({ "type": "message", "channel_type": "im", "channel": channel, "user": "U_ANN", "text": text, "ts": ts,
            "client_msg_id": format!("m-{ts}") }),
    )
}

#[tokio::test]
async fn url_verification_is_answered_only_when_signed() {
    let st = setup().await;
    // Before activation: the URL is pasted into Slack's console first.
    let (status, channel) = st
        .app
        .call(
            &st.s,
            Method::POST,
            &format!("/api/v1/orgs/{}/channels", st.s.org_id),
            Some(json!({ "type": "slack", "bot_id": st.bot,
                "credentials": { "bot_token": TOKEN, "signing_secret": SIGNING_SECRET } })),
        )
        .await;
    assert_eq!(status, 201, "{channel}");
    let challenge = json!({ "token": "legacy", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        "type": "url_verification" });
    let (status, body) = post_event(&st.app, &channel, Signing::Good, &challenge).await;
    assert_eq!((status, &body), (200, &json!({ "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" })));
    for bad in [Signing::None, Signing::Secret("not-the-signing-secret"), Signing::At(now() - 301)] {
        let (status, body) = post_event(&st.app, &channel, bad, &challenge).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"]["code"], "channel_signature_invalid");
    }
    assert_eq!(st.app.count("SELECT count(*) FROM channel_webhooks"), 0);
}

#[tokio::test]
async fn a_direct_message_is_answered_with_blocks_and_a_button_press_round_trips() {
    let st = setup().await;
    let channel = active_channel(&st).await;
    let (status, body) = post_event(&st.app, &channel, Signing::Good, &dm("Ev1", "D_DM1", "1.000001", "hi")).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("processed")), "{body}");
    st.app.run_jobs().await;
    let sent = st.slack.calls("chat.postMessage");
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(
        sent[0],
        json!({ "channel": "D_DM1", "text": "Hello from the shop.",
            "blocks": [{ "type": "section", "text": { "type": "mrkdwn", "text": "Hello from the shop." } }] })
    );
    assert_eq!(sent[1]["text"], "Pick a colour");
    assert!(sent[1].get("thread_ts").is_none(), "a top-level direct message is answered at the top level");
    let blocks = sent[1]["blocks"].as_array().expect("blocks").clone();
    assert_eq!(blocks[0], json!({ "type": "section", "text": { "type": "mrkdwn", "text": "Pick a colour" } }));
    assert_eq!(blocks[1]["type"], "actions");
    let buttons = blocks[1]["elements"].as_array().expect("elements");
    assert_eq!(
        buttons[0],
        json!({ "type": "button", "action_id": "bb_0", "value": "red",
            "text": { "type": "plain_text", "text": "Red", "emoji": true } })
    );
    assert_eq!(buttons[1]["value"], "blue");
    let bearer = st
        .slack
        .server
        .requests()
        .iter()
        .filter(|r| r.method == "POST" || r.path.starts_with("/files/"))
        .all(|r| r.header("authorization") == Some(&format!("Bearer {TOKEN}")));
    assert!(bearer);
    assert_eq!(
        st.app.count("SELECT count(*) FROM channel_contacts WHERE external_id = 'D_DM1' AND username = 'U_ANN'"),
        1
    );
    assert_eq!(
        st.app.count("SELECT count(*) FROM channel_messages WHERE direction = 'outbound' AND status = 'sent' AND external_id = 'D_DM1:1700000000.000102'"),
        1
    );

    // The press: Slack posts a signed form with the message the buttons are on.
    let press = json!({
        "type": "block_actions", "trigger_id": "123.456.abc", "api_app_id": "A1", "token": "legacy",
        "team": { "id": "T1", "domain": "acme" },
        "user": { "id": "U_ANN", "username": "ann", "name": "Ann", "team_id": "T1" },
        "container": { "type": "message", "message_ts": "1700000000.000102", "channel_id": "D_DM1", "is_ephemeral": false },
        "channel": { "id": "D_DM1", "name": "directmessage" },
        "message": { "type": "message", "bot_id": "B1", "user": "UBOT", "ts": "1700000000.000102",
            "text": "Pick a colour", "blocks": blocks },
        "response_url": "https://hooks.slack.com/actions/T1/1/x",
        "actions": [{ "type": "button", "action_id": "bb_0", "block_id": blocks[1]["block_id"], "value": "red",
            "text": { "type": "plain_text", "text": "Red", "emoji": true }, "action_ts": "1700000001.000200" }]
    });
    let (status, body) = post_interaction(&st.app, &channel, &press).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("processed")), "{body}");
    st.app.run_jobs().await;
    // The original message now shows the choice instead of the buttons.
    let updates = st.slack.calls("chat.update");
    assert_eq!(updates.len(), 1, "{updates:?}");
    assert_eq!((updates[0]["channel"].as_str(), updates[0]["ts"].as_str()), (Some("D_DM1"), Some("1700000000.000102")));
    assert_eq!(
        updates[0]["blocks"][1],
        json!({ "type": "context", "elements": [{ "type": "mrkdwn", "text": "<@U_ANN> chose *Red*" }] })
    );
    let sent = st.slack.calls("chat.postMessage");
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert_eq!(
        sent[2]["blocks"],
        json!([{ "type": "section", "text": { "type": "mrkdwn", "text": "You chose red." } },
               { "type": "image", "image_url": "https://example.com/colour.png", "alt_text": "a colour" }])
    );
    assert_eq!(st.app.count("SELECT count(*) FROM conversations WHERE channel = 'slack'"), 1);
    // A press is stored once: Slack's redelivery is a duplicate.
    let (_, again) = post_interaction(&st.app, &channel, &press).await;
    assert_eq!(again["status"], "duplicate");
}

#[tokio::test]
async fn a_mention_in_a_channel_is_answered_in_its_thread_and_the_thread_is_one_conversation() {
    let st = setup().await;
    let channel = active_channel(&st).await;
    let mention = |id: &str, ts: &str, thread: Option<&str>, text: &str| {
        let mut event =
            json!({ "type": "app_mention", "channel": "C_GENERAL", "user": "U_BOB", "text": text, "ts": ts });
        if let Some(t) = thread {
            event["thread_ts"] = json!(t);
        }
        callback(id, &event)
    };
    let (status, body) =
        post_event(&st.app, &channel, Signing::Good, &mention("EvM1", "500.000001", None, "<@UBOT> hi")).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("processed")), "{body}");
    st.app.run_jobs().await;
    let sent = st.slack.calls("chat.postMessage");
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent.iter().all(|b| b["channel"] == "C_GENERAL" && b["thread_ts"] == "500.000001"), "{sent:?}");
    // The bot's text is the mention without the mention.
    let user_text = st
        .app
        .wait_for_sql(
            "the user message",
            |c| c.query_row("SELECT content FROM widget_messages WHERE role = 'user'", [], |r| r.get::<_, String>(0)),
            |t| !t.is_empty(),
        )
        .await;
    assert_eq!(user_text, "hi");

    // A follow-up mention in the thread continues that conversation.
    let (_, body) = post_event(
        &st.app,
        &channel,
        Signing::Good,
        &mention("EvM2", "501.000002", Some("500.000001"), "<@UBOT> blue"),
    )
    .await;
    assert_eq!(body["status"], "processed", "{body}");
    st.app.run_jobs().await;
    let sent = st.slack.calls("chat.postMessage");
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert_eq!(
        (sent[2]["thread_ts"].as_str(), sent[2]["text"].as_str()),
        (Some("500.000001"), Some("You chose blue."))
    );
    assert_eq!(st.app.count("SELECT count(*) FROM conversations WHERE channel = 'slack'"), 1);
    // A mention elsewhere in the channel is another thread, another conversation.
    post_event(&st.app, &channel, Signing::Good, &mention("EvM3", "600.000001", None, "<@UBOT> hello")).await;
    st.app.run_jobs().await;
    assert_eq!(st.app.count("SELECT count(*) FROM conversations WHERE channel = 'slack'"), 2);
    assert_eq!(st.slack.calls("chat.postMessage").last().map(|b| b["thread_ts"].clone()), Some(json!("600.000001")));
}

#[tokio::test]
async fn a_shared_file_is_downloaded_with_the_bot_token_and_stored() {
    let st = setup().await;
    let channel = active_channel(&st).await;
    let url = format!("{}/files/T1-F1/photo.png", st.slack.server.base);
    let share = callback(
        "EvF1",
        &json!({ "type": "message", "subtype": "file_share", "channel_type": "im", "channel": "D_FILES", "user": "U_ANN",
            "text": "", "ts": "700.000001",
            "files": [{ "id": "F1", "name": "photo.png", "mimetype": "image/png", "filetype": "png",
                "url_private": url, "url_private_download": format!("{url}?download=1"), "size": PNG.len() }] }),
    );
    let (status, body) = post_event(&st.app, &channel, Signing::Good, &share).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("processed")), "{body}");
    let download = st.slack.server.requests().into_iter().find(|r| r.path.starts_with("/files/")).expect("a download");
    assert_eq!(download.path, "/files/T1-F1/photo.png?download=1");
    assert_eq!(download.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
    assert_eq!(st.app.count("SELECT count(*) FROM files WHERE content_type = 'image/png' AND name = 'photo.png'"), 1);
    let (kind, media_url, error): (String, String, Option<String>) = st.app.sql(|c| {
        c.query_row(
            "SELECT message_type, media_url, error_message FROM channel_messages WHERE direction = 'inbound'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
    });
    assert_eq!((kind.as_str(), error), ("image", None));
    assert!(media_url.starts_with("/api/v1/files/"), "{media_url}");
}

#[tokio::test]
async fn bad_signatures_and_stale_timestamps_are_refused_before_anything_is_stored() {
    let st = setup().await;
    let channel = active_channel(&st).await;
    let event = dm("EvBad", "D_BAD", "800.000001", "hi");
    for bad in [
        Signing::None,
        Signing::Secret("0000000000000000aaaabbbbccccdddd"),
        Signing::At(now() - 301),
        Signing::At(now() + 301),
    ] {
        let (status, body) = post_event(&st.app, &channel, bad, &event).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"]["code"], "channel_signature_invalid");
    }
    // A body changed after signing.
    let ts = now();
    let signature = slack_signature(SIGNING_SECRET, ts, br#"{"type":"event_callback"}"#);
    let r = st
        .app
        .client
        .post(st.app.url(&hook_path(&channel)))
        .header("X-Slack-Request-Timestamp", ts.to_string())
        .header("X-Slack-Signature", signature)
        .json(&event)
        .send()
        .await
        .expect("send");
    assert_error(r, 401, "channel_signature_invalid").await;
    assert_eq!(st.app.count("SELECT count(*) FROM channel_webhooks"), 0);
    assert_eq!(st.app.count("SELECT count(*) FROM channel_messages"), 0);
    assert_eq!(st.app.count("SELECT count(*) FROM channel_contacts"), 0);
    // Signed but malformed: 200 (Slack would retry), logged as rejected, nothing stored.
    for body in [b"{not json".to_vec(), b"payload=%7Bbroken".to_vec(), br#"{"no":"type"}"#.to_vec()] {
        let (status, answer) = post_raw(&st.app, &channel, Signing::Good, "application/json", body, &[]).await;
        assert_eq!((status, answer["status"].as_str()), (200, Some("rejected")), "{answer}");
    }
    assert_eq!(st.app.count("SELECT count(*) FROM channel_webhooks"), 0);
    // Bots' messages (the app's own included) are ignored.
    let own = callback(
        "EvBot",
        &json!({ "type": "message", "channel_type": "im", "channel": "D_BAD", "bot_id": "B1", "text": "Hello", "ts": "801.1" }),
    );
    let (_, answer) = post_event(&st.app, &channel, Signing::Good, &own).await;
    assert_eq!(answer["status"], "ignored");
    assert_eq!(st.app.count("SELECT count(*) FROM channel_messages"), 0);
}

#[tokio::test]
async fn an_event_slack_retries_is_processed_once() {
    let st = setup().await;
    let channel = active_channel(&st).await;
    let event = dm("EvRetry", "D_RETRY", "900.000001", "hi").to_string().into_bytes();
    let (_, first) = post_raw(&st.app, &channel, Signing::Good, "application/json", event.clone(), &[]).await;
    let retry = [("X-Slack-Retry-Num", "1"), ("X-Slack-Retry-Reason", "http_timeout")];
    let (status, second) = post_raw(&st.app, &channel, Signing::Good, "application/json", event, &retry).await;
    assert_eq!(
        (first["status"].as_str(), status, second["status"].as_str()),
        (Some("processed"), 200, Some("duplicate"))
    );
    st.app.run_jobs().await;
    assert_eq!(st.app.count("SELECT count(*) FROM channel_webhooks"), 1);
    assert_eq!(st.app.count("SELECT count(*) FROM channel_messages WHERE direction = 'inbound'"), 1);
    assert_eq!(st.slack.texts(), vec!["Hello from the shop.", "Pick a colour"]);
}

#[tokio::test]
async fn a_429_with_retry_after_is_honoured_and_the_messages_arrive_once_in_order() {
    let st = setup().await;
    let channel = active_channel(&st).await;
    st.slack.answers.lock().expect("answers").push_back(429);
    post_event(&st.app, &channel, Signing::Good, &dm("Ev429", "D_RATE", "950.000001", "hi")).await;
    st.app.run_jobs().await;
    let (status, error, retry_in_ms): (String, String, i64) = st.app.sql(|c| {
        c.query_row(
            "SELECT status, error_message,
                    CAST((julianday(next_retry_at) - julianday('now')) * 86400000 AS INTEGER)
             FROM channel_messages WHERE direction = 'outbound' ORDER BY id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
    });
    assert_eq!((status.as_str(), error.as_str()), ("failed", "ratelimited"));
    // Retry-After is 1 s (the default first delay would be 2 s).
    assert!(retry_in_ms <= 1_000, "{retry_in_ms}");
    assert_eq!(
        st.app.count("SELECT count(*) FROM channel_messages WHERE direction = 'outbound' AND status = 'sent'"),
        0
    );
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
    // The refused attempt, then both messages once, in order.
    assert_eq!(st.slack.server.requests().iter().filter(|r| r.path == "/chat.postMessage").count(), 3);
    assert_eq!(st.slack.texts(), vec!["Hello from the shop.", "Hello from the shop.", "Pick a colour"]);
    assert_eq!(
        st.app.count("SELECT count(*) FROM channel_messages WHERE direction = 'outbound' AND status = 'sent'"),
        2
    );
}

#[tokio::test]
async fn bad_credentials_and_a_token_slack_refuses_give_clear_errors() {
    let st = setup().await;
    let org = st.s.org_id;
    let create =
        |body: Value| st.app.as_user(&st.s, Method::POST, &format!("/api/v1/orgs/{org}/channels")).json(&body).send();
    for (credentials, field) in [
        (json!({ "bot_token": "xoxp-user-token", "signing_secret": SIGNING_SECRET }), "credentials.bot_token"),
        (json!({ "signing_secret": SIGNING_SECRET }), "credentials.bot_token"),
        (json!({ "bot_token": TOKEN }), "credentials.signing_secret"),
        (json!({ "bot_token": TOKEN, "signing_secret": "short" }), "credentials.signing_secret"),
        (json!({ "bot_token": TOKEN, "signing_secret": SIGNING_SECRET, "app_id": "A1" }), "credentials.app_id"),
    ] {
        let r = create(json!({ "type": "slack", "bot_id": st.bot, "credentials": credentials })).await.expect("send");
        let body = assert_error(r, 422, "validation_failed").await;
        assert_eq!(body["error"]["details"]["field"], field, "{body}");
    }
    let (status, channel) = st
        .app
        .call(
            &st.s,
            Method::POST,
            &format!("/api/v1/orgs/{org}/channels"),
            Some(json!({ "type": "slack", "bot_id": st.bot,
                "credentials": { "bot_token": OTHER_TOKEN, "signing_secret": SIGNING_SECRET } })),
        )
        .await;
    assert_eq!(status, 201, "{channel}");
    let id = channel["id"].as_i64().expect("id");
    let r = st.app.as_user(&st.s, Method::POST, &format!("/api/v1/channels/{id}/test")).send().await.expect("send");
    let body = assert_error(r, 422, "channel_credentials_rejected").await;
    assert_eq!(body["error"]["details"]["provider_description"], "invalid_auth");
    assert_eq!(body["error"]["details"]["field"], "credentials.bot_token");
    assert!(!body.to_string().contains(OTHER_TOKEN), "{body}");
    let r = st.app.as_user(&st.s, Method::POST, &format!("/api/v1/channels/{id}/activate")).send().await.expect("send");
    assert_error(r, 422, "channel_credentials_rejected").await;
    // Fixed: the test names the bot user and the workspace.
    let (status, _) = st
        .app
        .call(
            &st.s,
            Method::PATCH,
            &format!("/api/v1/channels/{id}"),
            Some(json!({ "credentials": { "bot_token": TOKEN, "signing_secret": SIGNING_SECRET } })),
        )
        .await;
    assert_eq!(status, 200);
    let (status, check) = st.app.call(&st.s, Method::POST, &format!("/api/v1/channels/{id}/test"), None).await;
    assert_eq!((status, check["username"].as_str()), (200, Some("shopbot @ Acme")), "{check}");
}

//! Messaging channels through the real server, with a local fake of the
//! Telegram Bot API (`channels.telegram_api_base` points at it) that checks
//! the request paths (`/bot<token>/<method>`) and answers like Telegram:
//! creation and its bad inputs, test-connection, activation (`setWebhook`
//! with the secret token), inbound updates (secret first, deduplicated by
//! `update_id`), the bot's rich replies through the outbound queue, a button
//! round trip, 429 with `retry_after`, and an agent's reply from the inbox.
//! Retries are driven by moving due times into the past, never by sleeping.

#![allow(clippy::too_many_lines, reason = "each test is one end-to-end scenario")]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use reqwest::Method;
use serde_json::{Value, json};

use crate::fake_http::{FakeServer, Received, Reply};
use crate::helpers::{Session, TestApp, assert_error, spawn_app_with};

pub(crate) const TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
/// The photo the fake serves for `getFile` (a 1×1 PNG).
const PHOTO: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
const OTHER_TOKEN: &str = "987654321:ZZHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";

/// A fake Bot API: only `TOKEN` is valid; `sendMessage` answers the queued
/// statuses first (429 with `parameters.retry_after`), then success.
pub(crate) struct FakeTelegram {
    pub(crate) server: FakeServer,
    answers: Arc<Mutex<VecDeque<u16>>>,
}

impl FakeTelegram {
    pub(crate) async fn start() -> FakeTelegram {
        let answers: Arc<Mutex<VecDeque<u16>>> = Arc::new(Mutex::new(VecDeque::new()));
        let queue = answers.clone();
        let next_id = Arc::new(Mutex::new(100_i64));
        let server = FakeServer::start(Arc::new(move |r: &Received| {
            let json_reply = |status: u16, v: Value| Reply::Full(status, "application/json".into(), v.to_string().into_bytes());
            if r.path == format!("/file/bot{TOKEN}/photos/file_7.png") {
                return Reply::Full(200, "application/octet-stream".into(), PHOTO.to_vec());
            }
            let Some(rest) = r.path.strip_prefix(&format!("/bot{TOKEN}/")) else {
                return json_reply(401, json!({"ok": false, "error_code": 401, "description": "Unauthorized"}));
            };
            assert_eq!(r.method, "POST");
            assert!(r.header("content-type").is_some_and(|c| c.starts_with("application/json")), "{r:?}");
            let body: Value = serde_json::from_slice(&r.body).expect("JSON body");
            match rest {
                "getMe" => json_reply(200, json!({"ok": true, "result": {"id": 123_456_789, "is_bot": true, "first_name": "Shop", "username": "shop_bot"}})),
                "setWebhook" | "answerCallbackQuery" => json_reply(200, json!({"ok": true, "result": true})),
                "getFile" => json_reply(200, json!({"ok": true, "result": {
                    "file_id": body["file_id"], "file_unique_id": "u7", "file_size": PHOTO.len(), "file_path": "photos/file_7.png" }})),
                "sendMessage" | "sendPhoto" => {
                    if rest == "sendMessage" && let Some(status) = queue.lock().expect("answers").pop_front() {
                        return json_reply(status, json!({"ok": false, "error_code": status,
                            "description": "Too Many Requests: retry after 1", "parameters": {"retry_after": 1}}));
                    }
                    let mut id = next_id.lock().expect("id");
                    *id += 1;
                    let chat: i64 = body["chat_id"].as_str().and_then(|c| c.parse().ok()).expect("chat_id");
                    json_reply(200, json!({"ok": true, "result": {"message_id": *id, "chat": {"id": chat}, "date": 0}}))
                }
                other => json_reply(404, json!({"ok": false, "error_code": 404, "description": format!("Not Found: {other}")})),
            }
        }))
        .await;
        FakeTelegram { server, answers }
    }

    /// The JSON bodies of the calls of `method`, in order.
    pub(crate) fn calls(&self, method: &str) -> Vec<Value> {
        let path = format!("/bot{TOKEN}/{method}");
        self.server
            .requests()
            .into_iter()
            .filter(|r| r.path == path)
            .map(|r| serde_json::from_slice(&r.body).expect("json"))
            .collect()
    }

    /// `sendMessage` and `sendPhoto` calls that succeeded, in order (method, body).
    fn delivered(&self) -> Vec<(String, Value)> {
        self.server
            .requests()
            .into_iter()
            .filter_map(|r| {
                let method = r.path.strip_prefix(&format!("/bot{TOKEN}/"))?.to_owned();
                ["sendMessage", "sendPhoto"]
                    .contains(&method.as_str())
                    .then(|| (method, serde_json::from_slice(&r.body).expect("json")))
            })
            .collect()
    }
}

pub(crate) fn colour_flow() -> Value {
    json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "hello", "type": "message", "data": { "text": "Hello from the shop." } },
            { "id": "ask", "type": "question", "data": {
                "prompt": { "text": "Pick a colour", "quick_replies": [
                    { "label": "Red", "value": "red" },
                    { "label": "Long", "value": "a value far too long for Telegram's sixty-four byte callback_data field" }
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
    tg: FakeTelegram,
    bot: i64,
}

async fn setup() -> Setup {
    let tg = FakeTelegram::start().await;
    let base = tg.server.base.clone();
    let app = spawn_app_with(move |c| c.channels.telegram_api_base = base).await;
    let s = app.register("owner@example.com").await;
    let bot = crate::helpers::published_bot(&app, &s, "Shop", colour_flow()).await;
    Setup { app, s, tg, bot }
}

/// Creates and activates a Telegram channel; answers it and the secret token Telegram was given.
async fn active_channel(st: &Setup) -> (Value, String) {
    let (status, channel) = st
        .app
        .call(
            &st.s,
            Method::POST,
            &format!("/api/v1/orgs/{}/channels", st.s.org_id),
            Some(json!({ "type": "telegram", "name": "Shop on Telegram", "bot_id": st.bot, "credentials": { "bot_token": TOKEN } })),
        )
        .await;
    assert_eq!(status, 201, "{channel}");
    assert_eq!(channel["status"], "inactive");
    assert!(channel.get("credentials").is_none() && !channel.to_string().contains(TOKEN), "{channel}");
    let id = channel["id"].as_i64().expect("id");
    let (status, activated) = st.app.call(&st.s, Method::POST, &format!("/api/v1/channels/{id}/activate"), None).await;
    assert_eq!(status, 200, "{activated}");
    assert_eq!(activated["channel"]["status"], "active");
    assert_eq!(activated["username"], "shop_bot");
    let set = st.tg.calls("setWebhook");
    assert_eq!(set.len(), 1);
    assert_eq!(set[0]["url"], channel["webhook_url"]);
    let secret = set[0]["secret_token"].as_str().expect("secret_token").to_owned();
    // Telegram allows 1–256 characters of A–Z, a–z, 0–9, `_` and `-`.
    assert!(
        (32..=256).contains(&secret.len())
            && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
        "{secret}"
    );
    (activated["channel"].clone(), secret)
}

fn hook_path(channel: &Value) -> String {
    let url = channel["webhook_url"].as_str().expect("webhook_url");
    let at = url.find("/hooks/").expect("/hooks/ in the URL");
    url[at..].to_owned()
}

async fn post_update(app: &TestApp, channel: &Value, secret: Option<&str>, update: &Value) -> (u16, Value) {
    let mut request = app.client.post(app.url(&hook_path(channel))).json(update);
    if let Some(s) = secret {
        request = request.header("X-Telegram-Bot-Api-Secret-Token", s);
    }
    let response = request.send().await.expect("send");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn text_update(update_id: i64, message_id: i64, text: &str) -> Value {
    json!({ "update_id": update_id, "message": {
        "message_id": message_id, "date": 0, "text": text,
        "chat": { "id": 4242, "type": "private", "first_name": "Ann" },
        "from": { "id": 4242, "is_bot": false, "first_name": "Ann", "username": "ann" } } })
}

#[tokio::test]
async fn an_inbound_message_is_answered_and_a_button_press_round_trips() {
    let st = setup().await;
    let (channel, secret) = active_channel(&st).await;
    let (status, body) = post_update(&st.app, &channel, Some(&secret), &text_update(1, 10, "hi")).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("processed")), "{body}");
    st.app.run_jobs().await;
    let sent = st.tg.delivered();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[0], ("sendMessage".to_owned(), json!({ "chat_id": "4242", "text": "Hello from the shop." })));
    assert_eq!(sent[1].0, "sendMessage");
    assert_eq!(sent[1].1["text"], "Pick a colour");
    assert_eq!(
        sent[1].1["reply_markup"],
        json!({ "inline_keyboard": [[{ "text": "Red", "callback_data": "red" }], [{ "text": "Long", "callback_data": "#0" }]] })
    );
    // The contact, the conversation (channel telegram) and the message log.
    assert_eq!(
        st.app.count("SELECT count(*) FROM channel_contacts WHERE external_id = '4242' AND username = 'ann'"),
        1
    );
    assert_eq!(
        st.app.count("SELECT count(*) FROM conversations WHERE channel = 'telegram' AND channel_id IS NOT NULL"),
        1
    );
    assert_eq!(
        st.app.count("SELECT count(*) FROM channel_messages WHERE direction = 'outbound' AND status = 'sent'"),
        2
    );

    // The long value's button: `#0` maps back to the value through the message that carried it.
    let keyboard_message = 102; // the fake's second message id
    let press = json!({ "update_id": 2, "callback_query": {
        "id": "cbq-1", "data": "#0", "chat_instance": "x",
        "from": { "id": 4242, "is_bot": false, "first_name": "Ann" },
        "message": { "message_id": keyboard_message, "date": 0, "chat": { "id": 4242, "type": "private" }, "text": "Pick a colour" } } });
    let (status, body) = post_update(&st.app, &channel, Some(&secret), &press).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("processed")), "{body}");
    st.app.run_jobs().await;
    assert_eq!(st.tg.calls("answerCallbackQuery"), vec![json!({ "callback_query_id": "cbq-1" })]);
    let sent = st.tg.delivered();
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert_eq!(
        sent[2],
        (
            "sendPhoto".to_owned(),
            json!({ "chat_id": "4242", "photo": "https://example.com/colour.png",
                    "caption": "You chose a value far too long for Telegram's sixty-four byte callback_data field." })
        )
    );
    let (_, got) = st.app.call(&st.s, Method::GET, &format!("/api/v1/channels/{}", channel["id"]), None).await;
    assert!(got["last_inbound_at"].is_string(), "{got}");
    assert_eq!(got["queue_depth"], 0);
}

#[tokio::test]
async fn a_photo_is_fetched_with_get_file_stored_and_its_caption_answers_the_question() {
    let st = setup().await;
    let (channel, secret) = active_channel(&st).await;
    let (status, _) = post_update(&st.app, &channel, Some(&secret), &text_update(1, 10, "hi")).await;
    assert_eq!(status, 200);
    let photo = json!({ "update_id": 2, "message": {
        "message_id": 11, "date": 0, "caption": "red",
        "photo": [{ "file_id": "small", "file_unique_id": "s", "file_size": 10, "width": 1, "height": 1 },
                  { "file_id": "big", "file_unique_id": "b", "file_size": 99, "width": 90, "height": 90 }],
        "chat": { "id": 4242, "type": "private", "first_name": "Ann" },
        "from": { "id": 4242, "is_bot": false, "first_name": "Ann" } } });
    let (status, body) = post_update(&st.app, &channel, Some(&secret), &photo).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("processed")), "{body}");
    assert_eq!(st.tg.calls("getFile"), vec![json!({ "file_id": "big" })], "the largest size is fetched");
    let (url, mime, caption): (String, String, String) = st.app.sql(|c| {
        c.query_row(
            "SELECT media_url, media_mime_type, caption FROM channel_messages WHERE external_id = '4242:11'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
    });
    assert!(url.starts_with("/api/v1/files/"), "{url}");
    assert_eq!((mime.as_str(), caption.as_str()), ("image/png", "red"));
    assert_eq!(st.app.count("SELECT count(*) FROM files WHERE content_type = 'image/png'"), 1);
    // The caption answered the question; the photo is in the transcript as an attachment.
    st.app.run_jobs().await;
    let last = st.tg.delivered().pop().expect("a reply");
    assert_eq!(last.1["caption"], "You chose red.", "{last:?}");
    let attached = st.app.count("SELECT count(*) FROM message_attachments");
    assert_eq!(attached, 1);
}

#[tokio::test]
async fn a_bad_secret_is_refused_before_anything_is_stored_and_duplicates_run_once() {
    let st = setup().await;
    let (channel, secret) = active_channel(&st).await;
    for bad in [None, Some("wrong"), Some(&secret[..secret.len() - 1])] {
        let (status, body) = post_update(&st.app, &channel, bad, &text_update(1, 10, "hi")).await;
        assert_eq!(status, 401, "{bad:?} {body}");
        assert_eq!(body["error"]["code"], "channel_signature_invalid");
    }
    assert_eq!(st.app.count("SELECT count(*) FROM channel_webhooks"), 0);
    assert_eq!(st.app.count("SELECT count(*) FROM channel_messages"), 0);
    assert_eq!(st.app.count("SELECT count(*) FROM channel_contacts"), 0);
    assert_eq!(st.app.count("SELECT count(*) FROM conversations"), 0);

    // An unknown path is 404; malformed payloads are 200 (Telegram would retry) and store nothing.
    let r = st.app.client.post(st.app.url("/hooks/nope")).json(&json!({})).send().await.expect("send");
    assert_error(r, 404, "channel_not_found").await;
    let (status, body) = post_update(&st.app, &channel, Some(&secret), &json!({ "no": "update" })).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("rejected")));
    let r = st
        .app
        .client
        .post(st.app.url(&hook_path(&channel)))
        .header("X-Telegram-Bot-Api-Secret-Token", &secret)
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(st.app.count("SELECT count(*) FROM channel_webhooks"), 0);

    // The same update twice: processed once, answered once.
    let (_, first) = post_update(&st.app, &channel, Some(&secret), &text_update(7, 10, "hi")).await;
    let (_, second) = post_update(&st.app, &channel, Some(&secret), &text_update(7, 10, "hi")).await;
    assert_eq!((first["status"].as_str(), second["status"].as_str()), (Some("processed"), Some("duplicate")));
    st.app.run_jobs().await;
    assert_eq!(st.app.count("SELECT count(*) FROM channel_webhooks"), 1);
    assert_eq!(st.app.count("SELECT count(*) FROM channel_messages WHERE direction = 'inbound'"), 1);
    // The runtime's writer stores the transcript a moment later.
    let users = st
        .app
        .wait_for_sql(
            "the user message",
            |c| c.query_row("SELECT count(*) FROM widget_messages WHERE role = 'user'", [], |r| r.get::<_, i64>(0)),
            |n| *n >= 1,
        )
        .await;
    assert_eq!(users, 1);
    assert_eq!(st.tg.delivered().len(), 2, "{:?}", st.tg.delivered());
}

#[tokio::test]
async fn a_429_with_retry_after_is_honoured_and_the_messages_arrive_once_in_order() {
    let st = setup().await;
    let (channel, secret) = active_channel(&st).await;
    st.tg.answers.lock().expect("answers").push_back(429);
    post_update(&st.app, &channel, Some(&secret), &text_update(1, 10, "hi")).await;
    st.app.run_jobs().await;
    // The first message failed with 429; the second waits behind it.
    assert_eq!(st.tg.delivered().len(), 1, "only the refused attempt: {:?}", st.tg.delivered());
    let (status, error, retry_in_ms): (String, String, i64) = st.app.sql(|c| {
        c.query_row(
            "SELECT status, error_message,
                    CAST((julianday(next_retry_at) - julianday('now')) * 86400000 AS INTEGER)
             FROM channel_messages WHERE direction = 'outbound' ORDER BY id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
    });
    assert_eq!(status, "failed");
    assert!(error.contains("Too Many Requests"), "{error}");
    // retry_after is 1 s (the default first delay would be 2 s).
    assert!(retry_in_ms <= 1_000, "{retry_in_ms}");
    assert_eq!(
        st.app.count("SELECT count(*) FROM channel_messages WHERE direction = 'outbound' AND status = 'sent'"),
        0
    );
    let (_, log) = st.app.call(&st.s, Method::GET, &format!("/api/v1/channels/{}/messages", channel["id"]), None).await;
    let log_states: Vec<(&str, &str)> = log["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|m| (m["direction"].as_str().unwrap_or(""), m["status"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(log_states, vec![("outbound", "queued"), ("outbound", "retrying"), ("inbound", "received")], "{log}");
    // Due now: the queue drains, in order, each message once.
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
    let texts: Vec<String> =
        st.tg.delivered().iter().map(|(_, b)| b["text"].as_str().unwrap_or("").to_owned()).collect();
    // The fake saw the refused attempt and then both messages once, in order.
    assert_eq!(texts, vec!["Hello from the shop.", "Hello from the shop.", "Pick a colour"]);
    assert_eq!(
        st.app.count("SELECT count(*) FROM channel_messages WHERE direction = 'outbound' AND status = 'sent'"),
        2
    );
    assert_eq!(st.app.count("SELECT max(attempts) FROM channel_messages WHERE direction = 'outbound'"), 2);
}

#[tokio::test]
async fn bad_inputs_and_a_rejected_token_give_clear_errors() {
    let st = setup().await;
    let org = st.s.org_id;
    let create =
        |body: Value| st.app.as_user(&st.s, Method::POST, &format!("/api/v1/orgs/{org}/channels")).json(&body).send();
    let body = assert_error(
        create(json!({ "type": "carrier_pigeon", "bot_id": st.bot, "credentials": {} })).await.expect("send"),
        422,
        "unknown_channel_type",
    )
    .await;
    assert_eq!(body["error"]["details"]["field"], "type");
    let body = assert_error(
        create(json!({ "type": "telegram", "bot_id": st.bot, "credentials": { "bot_token": "nonsense" } }))
            .await
            .expect("send"),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["error"]["details"]["field"], "credentials.bot_token");
    let body = assert_error(
        create(json!({ "type": "telegram", "bot_id": 999_999, "credentials": { "bot_token": TOKEN } }))
            .await
            .expect("send"),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["error"]["details"]["field"], "bot_id");

    // A well-formed token Telegram does not know: test-connection says so, with Telegram's words.
    let (status, channel) = st
        .app
        .call(
            &st.s,
            Method::POST,
            &format!("/api/v1/orgs/{org}/channels"),
            Some(json!({ "type": "telegram", "bot_id": st.bot, "credentials": { "bot_token": OTHER_TOKEN } })),
        )
        .await;
    assert_eq!(status, 201, "{channel}");
    let id = channel["id"].as_i64().expect("id");
    let r = st.app.as_user(&st.s, Method::POST, &format!("/api/v1/channels/{id}/test")).send().await.expect("send");
    let body = assert_error(r, 422, "channel_credentials_rejected").await;
    assert_eq!(body["error"]["details"]["provider_description"], "Unauthorized");
    assert!(!body.to_string().contains(OTHER_TOKEN), "{body}");
    let (_, got) = st.app.call(&st.s, Method::GET, &format!("/api/v1/channels/{id}"), None).await;
    assert!(got["error_message"].as_str().is_some_and(|e| e.contains("Unauthorized")), "{got}");

    // Fixed credentials: the test passes.
    let (status, _) = st
        .app
        .call(
            &st.s,
            Method::PATCH,
            &format!("/api/v1/channels/{id}"),
            Some(json!({ "credentials": { "bot_token": TOKEN } })),
        )
        .await;
    assert_eq!(status, 200);
    let (status, check) = st.app.call(&st.s, Method::POST, &format!("/api/v1/channels/{id}/test"), None).await;
    assert_eq!((status, check["username"].as_str()), (200, Some("shop_bot")), "{check}");
    let (_, list) = st.app.call(&st.s, Method::GET, &format!("/api/v1/orgs/{org}/channels"), None).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
    let (status, _) = st.app.call(&st.s, Method::DELETE, &format!("/api/v1/channels/{id}"), None).await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn an_agents_inbox_reply_leaves_through_the_channel() {
    let st = setup().await;
    let (channel, secret) = active_channel(&st).await;
    post_update(&st.app, &channel, Some(&secret), &text_update(1, 10, "hi")).await;
    st.app.run_jobs().await;
    let conversation = st.app.count("SELECT id FROM conversations WHERE channel = 'telegram'");
    let (status, body) = st
        .app
        .call(&st.s, Method::POST, &format!("/api/v1/conversations/{conversation}/handoff"), Some(json!({})))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = st
        .app
        .call(
            &st.s,
            Method::POST,
            &format!("/api/v1/conversations/{conversation}/reply"),
            Some(json!({ "text": "Hi Ann, Bob here." })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    st.app.run_jobs().await;
    let texts: Vec<String> =
        st.tg.delivered().iter().map(|(_, b)| b["text"].as_str().unwrap_or("").to_owned()).collect();
    assert_eq!(texts.last().map(String::as_str), Some("Hi Ann, Bob here."), "{texts:?}");
    assert!(st.tg.delivered().iter().all(|(_, b)| b["chat_id"] == "4242"));
}

#[tokio::test]
async fn queued_replies_survive_a_restart_and_are_sent_once() {
    let st = setup().await;
    let (channel, secret) = active_channel(&st).await;
    post_update(&st.app, &channel, Some(&secret), &text_update(1, 10, "hi")).await;
    post_update(&st.app, &channel, Some(&secret), &text_update(2, 11, "red")).await;
    assert_eq!(
        st.app.count("SELECT count(*) FROM channel_messages WHERE direction = 'outbound' AND status = 'pending'"),
        3
    );
    // The send job is lost too (purged, or a crash before it was queued): start-up queues it again.
    st.app.sql(|c| c.execute("DELETE FROM jobs WHERE kind = 'channel.send'", []));
    let Setup { app, tg, .. } = st;
    let base = tg.server.base.clone();
    let app = app.restart(move |c| c.channels.telegram_api_base = base).await;
    app.run_jobs().await;
    let texts: Vec<String> = tg
        .delivered()
        .iter()
        .map(|(_, b)| b["text"].as_str().or(b["caption"].as_str()).unwrap_or("").to_owned())
        .collect();
    assert_eq!(texts, vec!["Hello from the shop.", "Pick a colour", "You chose red."]);
    assert_eq!(app.count("SELECT count(*) FROM channel_messages WHERE direction = 'outbound' AND status = 'sent'"), 3);
    app.run_jobs().await;
    assert_eq!(tg.delivered().len(), 3, "nothing is sent twice");
}

#[tokio::test]
async fn a_message_the_provider_refuses_for_good_is_dead_lettered_and_the_queue_moves_on() {
    let st = setup().await;
    let (channel, secret) = active_channel(&st).await;
    st.tg.answers.lock().expect("answers").push_back(400);
    post_update(&st.app, &channel, Some(&secret), &text_update(1, 10, "hi")).await;
    st.app.run_jobs().await;
    let (_, log) = st.app.call(&st.s, Method::GET, &format!("/api/v1/channels/{}/messages", channel["id"]), None).await;
    let outbound: Vec<&Value> =
        log["items"].as_array().expect("items").iter().filter(|m| m["direction"] == "outbound").collect();
    assert_eq!(outbound.len(), 2, "{log}");
    // Newest first: the second message was sent after the first went to the dead letters.
    assert_eq!((outbound[0]["status"].as_str(), outbound[1]["status"].as_str()), (Some("sent"), Some("dead")), "{log}");
    assert_eq!(outbound[1]["attempts"], 1);
    assert!(outbound[1]["error_message"].as_str().is_some_and(|e| !e.is_empty()), "{log}");
    assert_eq!(st.tg.delivered().len(), 2);
    let (_, got) = st.app.call(&st.s, Method::GET, &format!("/api/v1/channels/{}", channel["id"]), None).await;
    assert_eq!(got["queue_depth"], 0);
    assert!(got["last_error_at"].is_string(), "{got}");
}

#[tokio::test]
async fn an_update_interrupted_by_a_restart_is_processed_when_telegram_redelivers_it() {
    let st = setup().await;
    let (channel, secret) = active_channel(&st).await;
    // The process stopped after storing update 5 and before its turn (Telegram got no 200).
    let (org, id) = (st.s.org_id, channel["id"].as_i64().expect("id"));
    st.app.sql(|c| {
        c.execute(
            "INSERT INTO channel_webhooks (organization_id, channel_id, channel_type, event_type, external_event_id, payload)
             VALUES (?1, ?2, 'telegram', 'message', '5', '{}')",
            rusqlite::params![org, id],
        )
    });
    let Setup { app, tg, .. } = st;
    let base = tg.server.base.clone();
    let app = app.restart(move |c| c.channels.telegram_api_base = base).await;
    let (status, body) = post_update(&app, &channel, Some(&secret), &text_update(5, 10, "hi")).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("processed")), "{body}");
    app.run_jobs().await;
    assert_eq!(tg.delivered().len(), 2, "{:?}", tg.delivered());
    let failed = app
        .count("SELECT count(*) FROM channel_webhooks WHERE status = 'failed' AND error_message LIKE 'interrupted%'");
    assert_eq!(failed, 1);
    // And the redelivery of a processed update is still a duplicate.
    let (_, again) = post_update(&app, &channel, Some(&secret), &text_update(5, 10, "hi")).await;
    assert_eq!(again["status"], "duplicate");
}

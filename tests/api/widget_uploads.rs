//! The web widget as a channel (issue 18): end users' files through the
//! widget (sniffed, size-limited, switchable per bot), shown in the widget's
//! history and the inbox transcript, downloadable by members and by the
//! session that has them only; agents' files and proactive messages pushed
//! live to an open widget.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, assert_error, ok_json, send_as, spawn_app};

/// A PNG: signature, IHDR of a 1×1 image, IEND (enough for the sniffer and a browser).
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0D, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0, 0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D,
    0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

/// A bot whose published flow asks a name, then an email, then hands off.
pub async fn widget_bot(app: &TestApp, s: &Session) -> (i64, String) {
    let r =
        send_as(app, s, Method::POST, &format!("/api/v1/orgs/{}/bots", s.org_id), Some(json!({ "name": "Files bot" })))
            .await;
    let bot = ok_json(r, 201).await["id"].as_i64().expect("bot id");
    let doc = json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "ask", "type": "question", "data": { "prompt": { "text": "Your name?" }, "variable": "name" } },
            { "id": "mail", "type": "question", "data": { "prompt": { "text": "Your email?" }, "variable": "email" } },
            { "id": "human", "type": "handoff", "data": { "message": { "text": "A colleague will join." } } }
        ],
        "edges": [
            { "source": "start", "target": "ask" }, { "source": "ask", "target": "mail" },
            { "source": "ask", "port": "invalid", "target": "mail" }, { "source": "mail", "target": "human" },
            { "source": "mail", "port": "invalid", "target": "human" }
        ]
    });
    let path = format!("/api/v1/bots/{bot}/flows/main");
    ok_json(send_as(app, s, Method::PUT, &path, Some(json!({ "document": doc }))).await, 201).await;
    ok_json(send_as(app, s, Method::POST, &format!("{path}/publish"), Some(json!({}))).await, 200).await;
    let settings = ok_json(send_as(app, s, Method::GET, &format!("/api/v1/bots/{bot}/widget"), None).await, 200).await;
    (bot, settings["widget_key"].as_str().expect("key").to_owned())
}

/// Opens a widget session; its id.
pub async fn open_session(app: &TestApp, key: &str) -> String {
    let r = app.request(Method::POST, &format!("/api/v1/widget/{key}/sessions")).send().await.expect("send");
    ok_json(r, 201).await["session_id"].as_str().expect("session").to_owned()
}

async fn upload(
    app: &TestApp,
    key: &str,
    session: &str,
    query: &str,
    declared: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    app.request(Method::POST, &format!("/api/v1/widget/{key}/sessions/{session}/uploads?{query}"))
        .header("Content-Type", declared)
        .body(body)
        .send()
        .await
        .expect("send")
}

fn conversation_of(app: &TestApp, session: &str) -> i64 {
    let session = session.to_owned();
    app.sql(move |c| c.query_row("SELECT id FROM conversations WHERE external_user_id = ?1", [session], |r| r.get(0)))
}

fn texts(turn: &Value) -> Vec<String> {
    turn["replies"]
        .as_array()
        .expect("replies")
        .iter()
        .map(|m| m["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn an_uploaded_image_is_shown_in_the_widget_and_the_inbox_and_downloadable_only_by_members_and_its_session() {
    let app = spawn_app().await;
    let s = app.register("uploads-owner@example.com").await;
    let (bot, key) = widget_bot(&app, &s).await;
    let session = open_session(&app, &key).await;
    let other_session = open_session(&app, &key).await;

    // Declared as octet-stream: the type comes from the bytes.
    let turn = ok_json(
        upload(&app, &key, &session, "name=C%3A%5Cfakepath%5Cphoto.png", "application/octet-stream", PNG.to_vec())
            .await,
        200,
    )
    .await;
    let a = &turn["message"]["attachments"][0];
    assert_eq!((&a["name"], &a["content_type"]), (&json!("photo.png"), &json!("image/png")), "{turn}");
    assert_eq!(a["size_bytes"], PNG.len());
    assert_eq!(turn["message"]["role"], "user");
    assert!(texts(&turn).is_empty(), "a file alone runs no turn: {turn}");
    let file = a["file_id"].as_i64().expect("file id");
    assert_eq!(app.count("SELECT count(*) FROM files WHERE name = 'photo.png'"), 1);

    // The same bytes again: the same file row (content-addressed per organization).
    let again = ok_json(upload(&app, &key, &session, "name=again.png", "image/png", PNG.to_vec()).await, 200).await;
    assert_eq!(again["message"]["attachments"][0]["file_id"], file);
    assert_eq!(again["message"]["attachments"][0]["name"], "again.png", "each message keeps its own name");

    // The widget's history and the inbox transcript show it.
    let history = ok_json(
        app.request(Method::GET, &format!("/api/v1/widget/{key}/sessions/{session}/messages"))
            .send()
            .await
            .expect("send"),
        200,
    )
    .await;
    assert!(
        history["messages"].as_array().expect("messages").iter().any(|m| m["attachments"][0]["file_id"] == file),
        "{history}"
    );
    let conv = conversation_of(&app, &session);
    let transcript =
        ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/conversations/{conv}/messages"), None).await, 200)
            .await;
    let shown = transcript["items"].as_array().expect("items").iter().find(|m| m["attachments"][0]["file_id"] == file);
    assert_eq!(shown.expect("in the transcript")["attachments"][0]["content_type"], "image/png");

    // A member downloads it, with safe headers; images are inline.
    let r = send_as(&app, &s, Method::GET, &format!("/api/v1/files/{file}"), None).await;
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h["content-security-policy"].to_str().expect("csp").contains("sandbox"), "{h:?}");
    assert!(h["content-disposition"].to_str().expect("cd").starts_with("inline; filename=\"photo.png\""), "{h:?}");
    assert_eq!(r.bytes().await.expect("body").as_ref(), PNG);

    // The session that has it downloads it (cross-origin, for the embedding page).
    let mine = format!("/api/v1/widget/{key}/sessions/{session}/files/{file}");
    let r = app.request(Method::GET, &mine).send().await.expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cross-origin-resource-policy"], "cross-origin");
    assert_eq!(r.bytes().await.expect("body").as_ref(), PNG);
    // Another session of the same bot does not.
    let theirs = format!("/api/v1/widget/{key}/sessions/{other_session}/files/{file}");
    assert_error(app.request(Method::GET, &theirs).send().await.expect("send"), 404, "file_not_found").await;
    let bogus = format!("/api/v1/widget/{key}/sessions/ws_nosuchsessionatallxx/files/{file}");
    assert_error(app.request(Method::GET, &bogus).send().await.expect("send"), 404, "widget_session_not_found").await;

    // A member of another organization gets 404, not 403.
    let stranger = app.register("uploads-stranger@example.com").await;
    assert_error(
        send_as(&app, &stranger, Method::GET, &format!("/api/v1/files/{file}"), None).await,
        404,
        "file_not_found",
    )
    .await;

    // A document is served as an attachment, never inline.
    let pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n".to_vec();
    let turn =
        ok_json(upload(&app, &key, &session, "name=Quote%20%C3%A9t%C3%A9.pdf", "image/png", pdf).await, 200).await;
    let pdf_id = turn["message"]["attachments"][0]["file_id"].as_i64().expect("pdf id");
    assert_eq!(turn["message"]["attachments"][0]["content_type"], "application/pdf");
    let r = send_as(&app, &s, Method::GET, &format!("/api/v1/files/{pdf_id}"), None).await;
    let cd = r.headers()["content-disposition"].to_str().expect("cd").to_owned();
    assert_eq!(cd, "attachment; filename=\"Quote _t_.pdf\"; filename*=UTF-8''Quote%20%C3%A9t%C3%A9.pdf");

    // The conversation list previews a file-only message by the file's name.
    let list =
        ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/conversations"), None).await, 200).await;
    let row = list["items"].as_array().expect("items").iter().find(|c| c["id"] == conv).cloned().expect("listed");
    assert_eq!(row["last_message"], "📎 Quote été.pdf", "{row}");
}

#[tokio::test]
async fn uploads_are_refused_by_their_bytes_their_size_and_the_widget_setting() {
    let app = spawn_app().await;
    let s = app.register("uploads-refused@example.com").await;
    let (bot, key) = widget_bot(&app, &s).await;
    let session = open_session(&app, &key).await;

    // A Windows executable renamed and declared as a PNG.
    let mut exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00".to_vec();
    exe.extend_from_slice(b"This program cannot be run in DOS mode.\r\n\x00\x00");
    let body = assert_error(
        upload(&app, &key, &session, "name=cat.png", "image/png", exe).await,
        415,
        "unsupported_media_type",
    )
    .await;
    assert_eq!(body["error"]["details"]["field"], "file", "{body}");

    // 11 MiB against the default 10 MiB.
    let big = vec![b'a'; 11 * 1024 * 1024];
    let body =
        assert_error(upload(&app, &key, &session, "name=big.txt", "text/plain", big).await, 413, "file_too_large")
            .await;
    assert_eq!(body["error"]["details"]["field"], "file");
    assert_eq!(body["error"]["details"]["limit_bytes"], 10 * 1024 * 1024);
    assert_eq!(app.count("SELECT count(*) FROM files"), 0, "nothing refused is stored");
    assert_eq!(app.count("SELECT count(*) FROM widget_messages WHERE role = 'user'"), 0);

    // The public config tells the widget the limit and whether uploads are on.
    let cfg =
        ok_json(app.request(Method::GET, &format!("/api/v1/widget/{key}/config")).send().await.expect("send"), 200)
            .await;
    assert_eq!((&cfg["config"]["uploads_enabled"], &cfg["max_upload_bytes"]), (&json!(true), &json!(10 * 1024 * 1024)));

    // Switched off in the widget settings: 403 uploads_disabled.
    let put = json!({ "config": { "uploads_enabled": false }, "allowed_origins": [] });
    let view =
        ok_json(send_as(&app, &s, Method::PUT, &format!("/api/v1/bots/{bot}/widget"), Some(put)).await, 200).await;
    assert_eq!(view["config"]["uploads_enabled"], false);
    let body = assert_error(
        upload(&app, &key, &session, "name=a.png", "image/png", PNG.to_vec()).await,
        403,
        "uploads_disabled",
    )
    .await;
    assert_eq!(body["error"]["details"]["field"], "file");
    let cfg =
        ok_json(app.request(Method::GET, &format!("/api/v1/widget/{key}/config")).send().await.expect("send"), 200)
            .await;
    assert_eq!(cfg["config"]["uploads_enabled"], false);
}

#[tokio::test]
async fn a_caption_runs_the_turn_and_a_file_alone_leaves_the_question_waiting() {
    let app = spawn_app().await;
    let s = app.register("uploads-caption@example.com").await;
    let (_bot, key) = widget_bot(&app, &s).await;
    let session = open_session(&app, &key).await;

    // "Your name?" waits; a file without caption does not answer it.
    let turn = ok_json(upload(&app, &key, &session, "name=a.png", "image/png", PNG.to_vec()).await, 200).await;
    assert!(texts(&turn).is_empty(), "{turn}");
    assert_eq!(turn["status"], "open");
    // With a caption, the caption is the answer: the flow moves on.
    let text = "Ada Lovelace, I am sending my passport";
    let turn = ok_json(
        upload(
            &app,
            &key,
            &session,
            &format!("name=b.txt&caption={}", text.replace(' ', "%20")),
            "text/plain",
            b"passport scan".to_vec(),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(turn["message"]["text"], text);
    assert_eq!(turn["message"]["attachments"][0]["content_type"], "text/plain");
    assert_eq!(texts(&turn), ["Your email?"], "{turn}");
    let conv = conversation_of(&app, &session);
    let vars: String =
        app.sql(move |c| c.query_row("SELECT state FROM conversations WHERE id = ?1", [conv], |r| r.get(0)));
    assert!(vars.contains("Ada Lovelace"), "the caption filled the question's variable: {vars}");
    // Both count as end-user messages against the plan.
    let used = app.count("SELECT coalesce(sum(count), 0) FROM usage_tracking WHERE metric_type = 'message_received'");
    assert_eq!(used, 2);
}

/// Reads SSE events from `response` until one named `name` whose data
/// satisfies `pred` arrives (or fails after a few seconds).
async fn wait_event(response: &mut reqwest::Response, name: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let mut buf = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let mut event = "message";
            let mut data = String::new();
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event: ") {
                    event = e;
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            if event == name {
                let v: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
                if pred(&v) {
                    return v;
                }
            }
        }
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .unwrap_or_else(|_| panic!("no `{name}` event in time; got {buf}"))
            .expect("stream");
        buf.push_str(&String::from_utf8_lossy(&chunk.expect("stream ended")));
    }
}

#[tokio::test]
async fn an_agent_message_and_file_reach_the_open_widget_live_while_the_bot_keeps_control() {
    let app = spawn_app().await;
    let s = app.register("proactive@example.com").await;
    let (_bot, key) = widget_bot(&app, &s).await;
    let session = open_session(&app, &key).await;
    let conv = conversation_of(&app, &session);

    // The widget listens on its event stream, as widget.js does.
    let mut events = app
        .request(Method::GET, &format!("/api/v1/widget/{key}/sessions/{session}/events"))
        .header("Accept", "text/event-stream")
        .send()
        .await
        .expect("events");
    assert_eq!(events.status(), 200);
    wait_event(&mut events, "ready", |_| true).await;

    // A proactive "Can I help?" while the bot is in control.
    let turn = ok_json(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("/api/v1/conversations/{conv}/reply"),
            Some(json!({ "text": "Can I help?" })),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(turn["status"], "open", "the bot keeps the conversation: {turn}");
    let pushed = wait_event(&mut events, "message", |v| v["message"]["text"] == "Can I help?").await;
    assert_eq!(pushed["message"]["role"], "agent");

    // An agent uploads a file and sends it; the widget gets it live and may download it.
    let r =
        send_as(&app, &s, Method::POST, &format!("/api/v1/conversations/{conv}/files?name=price-list.csv"), None).await;
    assert_eq!(assert_error(r, 422, "validation_failed").await["error"]["details"]["field"], "file", "an empty body");
    let up = app
        .as_user(&s, Method::POST, &format!("/api/v1/conversations/{conv}/files?name=price-list.csv"))
        .header("Content-Type", "text/csv")
        .body("item,price\nwidget,3\n")
        .send()
        .await
        .expect("upload");
    let att = ok_json(up, 201).await;
    assert_eq!(att["content_type"], "text/csv");
    let file = att["file_id"].as_i64().expect("file id");
    // Not attached yet: the widget session cannot fetch it.
    let url = format!("/api/v1/widget/{key}/sessions/{session}/files/{file}");
    assert_error(app.request(Method::GET, &url).send().await.expect("send"), 404, "file_not_found").await;
    ok_json(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("/api/v1/conversations/{conv}/reply"),
            Some(json!({ "attachments": [file] })),
        )
        .await,
        200,
    )
    .await;
    let pushed = wait_event(&mut events, "message", |v| v["message"]["attachments"][0]["file_id"] == file).await;
    assert_eq!(pushed["message"]["attachments"][0]["name"], "price-list.csv");
    let r = app.request(Method::GET, &url).send().await.expect("send");
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-disposition"].to_str().expect("cd").starts_with("attachment;"));
    assert_eq!(r.text().await.expect("body"), "item,price\nwidget,3\n");

    // A file of another organization cannot be attached.
    let other = app.register("proactive-other@example.com").await;
    let (_b, other_key) = widget_bot(&app, &other).await;
    let other_session = open_session(&app, &other_key).await;
    let foreign =
        ok_json(upload(&app, &other_key, &other_session, "name=x.png", "image/png", PNG.to_vec()).await, 200).await;
    let foreign_id = foreign["message"]["attachments"][0]["file_id"].clone();
    let r = send_as(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/conversations/{conv}/reply"),
        Some(json!({ "attachments": [foreign_id] })),
    )
    .await;
    let body = assert_error(r, 422, "validation_failed").await;
    assert_eq!(body["error"]["details"]["field"], "attachments[0]");

    // The end user answers the bot's waiting question: the bot, not the agent, replies.
    let path = format!("/api/v1/widget/{key}/sessions/{session}/messages");
    let turn =
        ok_json(app.request(Method::POST, &path).json(&json!({ "text": "Ada" })).send().await.expect("send"), 200)
            .await;
    assert_eq!(texts(&turn), ["Your email?"]);
}

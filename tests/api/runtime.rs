//! The conversation runtime through the real server: flows saved and
//! published over the API, conversations over the authenticated API and the
//! public widget API, NLU from a trained model, HTTP nodes against a local
//! service started here, the handoff inbox, restarts on the same data file,
//! and the bad cases (invalid flows, bad messages, keys, tenants, limits).

// End-to-end scenarios read best as one story each.
#![allow(clippy::too_many_lines, reason = "each test is one end-to-end scenario")]

use std::sync::{Arc, Mutex};

use actix_web::{HttpResponse, web};
use botbuilder::jobs;
use reqwest::Method;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::helpers::{Session, TestApp, assert_error, ok_json, send_as, spawn_app, spawn_app_with};

fn count(app: &TestApp, sql: &str) -> i64 {
    app.sql(|c| c.query_row(sql, [], |r| r.get(0)))
}

async fn make_bot(app: &TestApp, s: &Session, name: &str) -> i64 {
    let r =
        send_as(app, s, Method::POST, &format!("/api/v1/orgs/{}/bots", s.org_id), Some(json!({ "name": name }))).await;
    ok_json(r, 201).await["id"].as_i64().expect("bot id")
}

/// Saves `doc` as the draft of flow `name` and publishes it.
async fn publish(app: &TestApp, s: &Session, bot: i64, name: &str, doc: Value) {
    let path = format!("/api/v1/bots/{bot}/flows/{name}");
    let saved = ok_json(send_as(app, s, Method::PUT, &path, Some(json!({ "document": doc }))).await, 201).await;
    let issues: Vec<&Value> =
        saved["issues"].as_array().expect("issues").iter().filter(|i| i["severity"] == "error").collect();
    assert!(issues.is_empty(), "{saved}");
    let r = send_as(app, s, Method::POST, &format!("{path}/publish"), Some(json!({ "message": "go live" }))).await;
    ok_json(r, 200).await;
}

fn texts(turn: &Value) -> Vec<String> {
    turn["replies"].as_array().expect("replies").iter().map(|m| m["text"].as_str().expect("text").to_owned()).collect()
}

async fn say(app: &TestApp, s: &Session, conversation: i64, text: &str) -> Value {
    let r = send_as(
        app,
        s,
        Method::POST,
        &format!("/api/v1/conversations/{conversation}/messages"),
        Some(json!({ "text": text })),
    )
    .await;
    ok_json(r, 200).await
}

async fn run_jobs(app: &TestApp) {
    let token = CancellationToken::new();
    while jobs::run_once(&app.state, "test", &token).await.expect("run job") {}
}

/// An order-tracking service on loopback: `GET /orders/{id}` answers the
/// order's status as JSON (404 for unknown orders); records what it was asked.
fn order_service() -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorder = seen.clone();
    let server = actix_web::HttpServer::new(move || {
        let seen = recorder.clone();
        actix_web::App::new().route(
            "/orders/{id}",
            web::get().to(move |id: web::Path<String>, req: actix_web::HttpRequest| {
                let seen = seen.clone();
                async move {
                    let key = req.headers().get("x-api-key").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                    seen.lock().expect("lock").push(format!("{} key={key}", id.as_str()));
                    if id.as_str() == "12345" {
                        HttpResponse::Ok().json(json!({ "order": { "status": "shipped", "eta": "tomorrow" } }))
                    } else {
                        HttpResponse::NotFound().json(json!({ "error": "no such order" }))
                    }
                }
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .expect("bind the order service");
    let addr = server.addrs()[0];
    tokio::spawn(server.run());
    (format!("http://{addr}"), seen)
}

/// The flow of the end-to-end story: ask for an order number (validated,
/// re-prompted), route on the intent, look the order up over HTTP, hand off
/// to a person, and end when the agent hands the conversation back.
fn support_flow(api: &str) -> Value {
    json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "hello", "type": "message", "data": { "text": "Hi! I track orders." } },
            { "id": "ask", "type": "question", "data": {
                "prompt": { "text": "Your order number (5 digits)?" }, "variable": "order",
                "validation": { "kind": "regex", "pattern": "[0-9]{5}" }, "retries": 2,
                "reprompt": "That is not an order number." } },
            { "id": "got", "type": "message", "data": { "text": "Thanks, order {{order}}. What would you like to know?" } },
            { "id": "route", "type": "intent_router", "data": { "routes": [ { "id": "track", "intent": "track_order" } ] } },
            { "id": "oos", "type": "message", "data": { "text": "Sorry, I only track orders." } },
            { "id": "lookup", "type": "http", "data": {
                "method": "GET", "url": format!("{api}/orders/{{{{order}}}}"), "headers": { "X-Api-Key": "k-{{order}}" },
                "mappings": [ { "variable": "ship_status", "path": "$.order.status" } ], "status_variable": "http_status" } },
            { "id": "found", "type": "message", "data": { "text": "Order {{order}} is {{ship_status}}." } },
            { "id": "failed", "type": "message", "data": { "text": "The order service is down." } },
            { "id": "human", "type": "handoff", "data": {
                "message": { "text": "A colleague will take over." }, "note": "order {{order}} is {{ship_status}}" } },
            { "id": "bye", "type": "end", "data": { "message": { "text": "Glad we could help. Bye!" }, "close_conversation": true } }
        ],
        "edges": [
            { "source": "start", "target": "hello" },
            { "source": "hello", "target": "ask" },
            { "source": "ask", "target": "got" },
            { "source": "ask", "port": "invalid", "target": "oos" },
            { "source": "got", "target": "route" },
            { "source": "route", "port": "track", "target": "lookup" },
            { "source": "route", "port": "out_of_scope", "target": "oos" },
            { "source": "lookup", "port": "success", "target": "found" },
            { "source": "lookup", "port": "error", "target": "failed" },
            { "source": "found", "target": "human" },
            { "source": "failed", "target": "human" },
            { "source": "human", "target": "bye" },
            { "source": "oos", "target": "bye" }
        ]
    })
}

pub(crate) const TRACK: [&str; 8] = [
    "where is my order",
    "track my order",
    "has my package shipped",
    "when will my parcel arrive",
    "what is the status of my order",
    "is my delivery on its way",
    "track my parcel please",
    "where is my package",
];
pub(crate) const HOURS: [&str; 8] = [
    "when are you open",
    "what are your opening hours",
    "are you open on sunday",
    "what time do you close",
    "until when are you open tonight",
    "opening times please",
    "is the shop open now",
    "what time do you open tomorrow",
];

async fn train_support_nlu(app: &TestApp, s: &Session, bot: i64) {
    for (name, texts) in [("track_order", TRACK), ("opening_hours", HOURS)] {
        let examples: Vec<Value> = texts.iter().map(|t| json!({ "text": t })).collect();
        let r = send_as(
            app,
            s,
            Method::POST,
            &format!("/api/v1/bots/{bot}/nlu/intents"),
            Some(json!({ "name": name, "examples": examples })),
        )
        .await;
        ok_json(r, 201).await;
    }
    ok_json(send_as(app, s, Method::POST, &format!("/api/v1/bots/{bot}/nlu/train"), None).await, 202).await;
    run_jobs(app).await;
}

#[tokio::test]
async fn question_reprompt_intent_http_handoff_agent_reply_and_end() {
    let app = spawn_app_with(|c| c.ml.enabled = true).await;
    let s = app.register("runtime-e2e@example.com").await;
    let bot = make_bot(&app, &s, "Support").await;
    train_support_nlu(&app, &s, bot).await;
    let (api, seen) = order_service();
    publish(&app, &s, bot, "main", support_flow(&api)).await;

    // Greeting and the question.
    let r = send_as(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/bots/{bot}/conversations"),
        Some(json!({ "external_user_id": "customer-1" })),
    )
    .await;
    let turn = ok_json(r, 200).await;
    let conv = turn["conversation_id"].as_i64().expect("conversation id");
    assert_eq!(texts(&turn), ["Hi! I track orders.", "Your order number (5 digits)?"]);
    assert_eq!(turn["status"], "open");

    // A wrong answer: re-prompted, nothing stored in the variable.
    let turn = say(&app, &s, conv, "12").await;
    assert_eq!(texts(&turn), ["That is not an order number.", "Your order number (5 digits)?"]);
    assert_eq!(turn["message"]["text"], "12");
    let detail =
        ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/conversations/{conv}"), None).await, 200).await;
    assert!(detail["state"]["vars"].get("order").is_none(), "{detail}");
    assert_eq!(detail["state"]["node"], "ask", "{detail}");

    // A valid answer.
    let turn = say(&app, &s, conv, "12345").await;
    assert_eq!(texts(&turn), ["Thanks, order 12345. What would you like to know?"]);

    // The intent routes to the HTTP lookup, then to a person.
    let turn = say(&app, &s, conv, "where is my parcel").await;
    assert_eq!(texts(&turn), ["Order 12345 is shipped.", "A colleague will take over."]);
    assert_eq!(turn["status"], "handoff");
    assert_eq!(seen.lock().expect("lock").as_slice(), ["12345 key=k-12345"]);

    // The conversation is in the inbox with the handoff note.
    let inbox =
        ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/orgs/{}/inbox", s.org_id), None).await, 200).await;
    let row = inbox["items"].as_array().expect("items").iter().find(|c| c["id"] == conv).expect("in the inbox").clone();
    assert_eq!(row["status"], "handoff");
    assert_eq!(row["assignee_user_id"], Value::Null);

    // While a person has it, the bot says nothing.
    let turn = say(&app, &s, conv, "hello? anyone?").await;
    assert!(texts(&turn).is_empty(), "{turn}");
    assert_eq!(turn["status"], "handoff");

    // An agent takes it, writes a note and replies.
    let conv_path = format!("/api/v1/conversations/{conv}");
    ok_json(send_as(&app, &s, Method::POST, &format!("{conv_path}/assign"), Some(json!({}))).await, 200).await;
    let inbox =
        ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/orgs/{}/inbox?mine=true", s.org_id), None).await, 200)
            .await;
    assert_eq!(inbox["items"][0]["assignee_user_id"], s.user_id);
    ok_json(
        send_as(&app, &s, Method::POST, &format!("{conv_path}/notes"), Some(json!({ "text": "VIP customer" }))).await,
        200,
    )
    .await;
    let reply = ok_json(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("{conv_path}/reply"),
            Some(json!({ "text": "Hi, Ann here: it arrives tomorrow." })),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(reply["replies"][0]["role"], "agent");

    // Handed back, the flow continues after the handoff node and ends.
    let turn = ok_json(send_as(&app, &s, Method::POST, &format!("{conv_path}/handback"), None).await, 200).await;
    assert_eq!(texts(&turn), ["You are back with the bot.", "Glad we could help. Bye!"]);
    assert_eq!(turn["status"], "closed");
    assert_error(
        send_as(&app, &s, Method::POST, &format!("{conv_path}/close"), Some(json!({ "resolution": "again" }))).await,
        409,
        "conversation_closed",
    )
    .await;
    assert_error(
        send_as(&app, &s, Method::POST, &format!("{conv_path}/reply"), Some(json!({ "text": "x" }))).await,
        409,
        "conversation_closed",
    )
    .await;

    // The transcript, in order, with the note and the agent's reply.
    let t = ok_json(send_as(&app, &s, Method::GET, &format!("{conv_path}/messages"), None).await, 200).await;
    let lines: Vec<String> = t["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|m| format!("{}: {}", m["role"].as_str().expect("role"), m["text"].as_str().expect("text")))
        .collect();
    for expected in [
        "user: 12",
        "bot: That is not an order number.",
        "user: 12345",
        "user: where is my parcel",
        "bot: Order 12345 is shipped.",
        "bot: A colleague will take over.",
        "user: hello? anyone?",
        "note: VIP customer",
        "agent: Hi, Ann here: it arrives tomorrow.",
        "bot: Glad we could help. Bye!",
    ] {
        assert!(lines.iter().any(|l| l == expected), "missing {expected:?} in {lines:#?}");
    }
    let pos = |needle: &str| lines.iter().position(|l| l == needle).expect(needle);
    assert!(pos("user: 12") < pos("user: 12345") && pos("user: 12345") < pos("user: where is my parcel"));
    assert!(pos("agent: Hi, Ann here: it arrives tomorrow.") < pos("bot: Glad we could help. Bye!"));
    // The handoff note of the flow reached the agents.
    assert!(lines.iter().any(|l| l.contains("order 12345 is shipped")), "{lines:#?}");

    // Usage: one `message_received` per end-user message, on the bot's row.
    assert_eq!(
        count(&app, "SELECT coalesce(sum(count), 0) FROM usage_tracking WHERE metric_type = 'message_received'"),
        4
    );
    // The same end user writing again reopens the conversation: the flow starts over.
    let turn = say(&app, &s, conv, "one more thing").await;
    assert_eq!(turn["status"], "open");
    assert_eq!(texts(&turn), ["Hi! I track orders.", "Your order number (5 digits)?"]);
    // Search finds the conversation by what was said.
    let found =
        ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/conversations?q=anyone"), None).await, 200)
            .await;
    assert_eq!(found["items"].as_array().expect("items").len(), 1);
    assert_eq!(found["items"][0]["id"], conv);
    assert_eq!(found["items"][0]["status"], "open");
    let none =
        ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/conversations?q=zebra"), None).await, 200)
            .await;
    assert!(none["items"].as_array().expect("items").is_empty());
}

async fn say_raw(app: &TestApp, s: &Session, conversation: i64, text: &str) -> reqwest::Response {
    send_as(
        app,
        s,
        Method::POST,
        &format!("/api/v1/conversations/{conversation}/messages"),
        Some(json!({ "text": text })),
    )
    .await
}

fn survey_flow() -> Value {
    json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "name", "type": "question", "data": { "prompt": { "text": "Your name?" }, "variable": "name" } },
            { "id": "age", "type": "question", "data": {
                "prompt": { "text": "How old are you, {{name}}?" }, "variable": "age",
                "validation": { "kind": "regex", "pattern": "[0-9]{1,3}" } } },
            { "id": "done", "type": "message", "data": { "text": "Thanks {{name}}, {{age}} noted." } }
        ],
        "edges": [
            { "source": "start", "target": "name" }, { "source": "name", "target": "age" },
            { "source": "age", "target": "done" }, { "source": "age", "port": "invalid", "target": "done" }
        ]
    })
}

#[tokio::test]
async fn a_restart_mid_conversation_continues_where_it_was() {
    let app = spawn_app().await;
    let s = app.register("runtime-restart@example.com").await;
    let bot = make_bot(&app, &s, "Survey").await;
    publish(&app, &s, bot, "main", survey_flow()).await;
    let turn = ok_json(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("/api/v1/bots/{bot}/conversations"),
            Some(json!({ "external_user_id": "u" })),
        )
        .await,
        200,
    )
    .await;
    let conv = turn["conversation_id"].as_i64().expect("id");
    assert_eq!(texts(&turn), ["Your name?"]);
    let turn = say(&app, &s, conv, "Ada").await;
    assert_eq!(texts(&turn), ["How old are you, Ada?"]);

    // Stop the server and start a new one on the same data file.
    let app = app.restart(|_| {}).await;
    let s = app.login("runtime-restart@example.com", "correct horse 42").await;
    let turn = say(&app, &s, conv, "36").await;
    assert_eq!(texts(&turn), ["Thanks Ada, 36 noted."]);
    // The same end user continues the same conversation after the restart.
    let again = ok_json(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("/api/v1/bots/{bot}/conversations"),
            Some(json!({ "external_user_id": "u" })),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(again["conversation_id"], conv);
    assert_eq!(count(&app, &format!("SELECT count(*) FROM widget_messages WHERE conversation_id = {conv}")), 5);
}

#[tokio::test]
async fn unfinished_flows_save_and_are_refused_at_publish_with_node_level_errors() {
    let app = spawn_app().await;
    let s = app.register("runtime-flows@example.com").await;
    let bot = make_bot(&app, &s, "Flows").await;
    let path = format!("/api/v1/bots/{bot}/flows/main");
    let bad = json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "ask", "type": "question", "data": { "prompt": { "text": "?" } } },
            { "id": "island", "type": "message", "data": { "text": "nobody gets here" } },
            { "id": "bad_re", "type": "question", "data": {
                "prompt": { "text": "?" }, "variable": "x", "validation": { "kind": "regex", "pattern": "([" } } },
            { "id": "loop_a", "type": "message", "data": { "text": "a" } },
            { "id": "loop_b", "type": "message", "data": { "text": "b" } }
        ],
        "edges": [
            { "source": "start", "target": "ask" },
            { "source": "ask", "target": "ghost" },
            { "source": "ask", "port": "invalid", "target": "bad_re" },
            { "source": "bad_re", "target": "loop_a" },
            { "source": "loop_a", "target": "loop_b" },
            { "source": "loop_b", "target": "loop_a" }
        ]
    });
    // An unfinished draft saves (issue 17): its findings are warnings that
    // block publishing, and publishing lists them as errors.
    let broken = format!("/api/v1/bots/{bot}/flows/broken");
    let saved = ok_json(send_as(&app, &s, Method::PUT, &broken, Some(json!({ "document": bad }))).await, 201).await;
    assert!(saved["issues"].as_array().expect("issues").iter().all(|i| i["severity"] == "warning"), "{saved}");
    let body = assert_error(
        send_as(&app, &s, Method::POST, &format!("{broken}/publish"), Some(json!({}))).await,
        422,
        "flow_invalid",
    )
    .await;
    let issues = body["error"]["details"]["issues"].as_array().expect("issues").clone();
    let has = |code: &str, node: &str| issues.iter().any(|i| i["code"] == code && i["node_id"] == node);
    assert!(has("missing_field", "ask"), "{issues:#?}");
    assert!(has("unreachable_node", "island"), "{issues:#?}");
    assert!(has("invalid_regex", "bad_re"), "{issues:#?}");
    assert!(issues.iter().any(|i| i["code"] == "dangling_edge"), "{issues:#?}");
    assert!(issues.iter().any(|i| i["code"] == "cycle_without_input"), "{issues:#?}");
    // Nothing was published.
    assert_eq!(count(&app, "SELECT count(*) FROM bot_flows WHERE is_active = 1"), 0);
    // Validation without saving reports the same: savable, not publishable.
    let report = ok_json(
        send_as(&app, &s, Method::POST, &format!("{path}/validate"), Some(json!({ "document": bad }))).await,
        200,
    )
    .await;
    assert_eq!(report["valid"], true);
    assert_eq!(report["publishable"], false);
    // Not a flow document at all.
    assert_error(
        send_as(&app, &s, Method::PUT, &path, Some(json!({ "document": { "nodes": "x" } }))).await,
        422,
        "validation_failed",
    )
    .await;
    assert_error(
        send_as(
            &app,
            &s,
            Method::PUT,
            &format!("/api/v1/bots/{bot}/flows/bad%20name"),
            Some(json!({ "document": bad })),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    // The JSON Schema is served.
    let schema = ok_json(send_as(&app, &s, Method::GET, "/api/v1/flow-schema", None).await, 200).await;
    assert!(schema["properties"]["nodes"].is_object(), "{schema}");

    // A good flow: versions, publish, diff, rollback.
    publish(&app, &s, bot, "main", survey_flow()).await;
    let mut v2 = survey_flow();
    v2["nodes"][3]["data"]["text"] = json!("Noted, {{name}}.");
    let saved = ok_json(send_as(&app, &s, Method::PUT, &path, Some(json!({ "document": v2 }))).await, 201).await;
    assert_eq!(saved["version"]["version"], 2);
    let diff = ok_json(send_as(&app, &s, Method::GET, &format!("{path}/diff"), None).await, 200).await;
    assert_eq!(diff["nodes_changed"][0]["id"], "done", "{diff}");
    ok_json(send_as(&app, &s, Method::POST, &format!("{path}/publish"), Some(json!({}))).await, 200).await;
    let detail = ok_json(send_as(&app, &s, Method::GET, &path, None).await, 200).await;
    assert_eq!(detail["published"]["version"], 2);
    ok_json(send_as(&app, &s, Method::POST, &format!("{path}/rollback"), Some(json!({ "version": 1 }))).await, 200)
        .await;
    let detail = ok_json(send_as(&app, &s, Method::GET, &path, None).await, 200).await;
    assert_eq!(detail["published"]["version"], 1, "{detail}");
    assert_error(
        send_as(&app, &s, Method::POST, &format!("{path}/rollback"), Some(json!({ "version": 99 }))).await,
        404,
        "flow_version_not_found",
    )
    .await;
}

#[tokio::test]
async fn a_deleted_intent_still_runs_and_the_emulator_reports_it() {
    let app = spawn_app().await;
    let s = app.register("runtime-emulator@example.com").await;
    let bot = make_bot(&app, &s, "Emu").await;
    for name in ["track_order", "greet"] {
        let r = send_as(
            &app,
            &s,
            Method::POST,
            &format!("/api/v1/bots/{bot}/nlu/intents"),
            Some(json!({ "name": name, "examples": [ { "text": format!("{name} example") } ] })),
        )
        .await;
        ok_json(r, 201).await;
    }
    publish(&app, &s, bot, "main", support_flow("http://127.0.0.1:9")).await;
    let intents =
        ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/nlu/intents"), None).await, 200).await;
    let track_id =
        intents["items"].as_array().expect("items").iter().find(|i| i["name"] == "track_order").expect("intent")["id"]
            .as_i64()
            .expect("id");
    let r = send_as(&app, &s, Method::DELETE, &format!("/api/v1/bots/{bot}/nlu/intents/{track_id}"), None).await;
    assert!(r.status().is_success(), "{}", r.status());

    let emu = format!("/api/v1/bots/{bot}/emulator");
    let turn = ok_json(send_as(&app, &s, Method::POST, &emu, Some(json!({ "source": "published" }))).await, 200).await;
    let conv = turn["conversation_id"].as_i64().expect("id");
    assert_eq!(texts(&turn), ["Hi! I track orders.", "Your order number (5 digits)?"]);
    let trace = &turn["trace"];
    assert_eq!(trace["waiting_at"], "main/ask (question)", "{trace}");
    let turn = ok_json(
        send_as(
            &app,
            &s,
            Method::POST,
            &emu,
            Some(json!({ "conversation_id": conv, "source": "published", "text": "54321" })),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(turn["trace"]["variables_before"]["session"].get("order"), None, "{turn}");
    assert_eq!(turn["trace"]["variables_after"]["session"]["order"], "54321", "{turn}");
    let turn = ok_json(
        send_as(
            &app,
            &s,
            Method::POST,
            &emu,
            Some(json!({ "conversation_id": conv, "source": "published", "text": "where is it" })),
        )
        .await,
        200,
    )
    .await;
    // The untrained bot has no intent: out of scope, and the deleted intent is reported.
    assert_eq!(texts(&turn), ["Sorry, I only track orders.", "Glad we could help. Bye!"]);
    let trace = &turn["trace"];
    let path: Vec<&str> =
        trace["path"].as_array().expect("path").iter().map(|p| p["node"].as_str().expect("node")).collect();
    assert_eq!(path, ["route", "oos", "bye"], "{trace}");
    assert!(
        trace["problems"]
            .as_array()
            .expect("problems")
            .iter()
            .any(|p| p["node"] == "route" && p["message"].as_str().is_some_and(|m| m.contains("track_order"))),
        "{trace}"
    );
    assert!(trace["nlu"]["note"].as_str().is_some_and(|n| n.contains("no trained")), "{trace}");
    // The emulator is not billed and its conversations are hidden from transcripts by default.
    assert_eq!(count(&app, "SELECT count(*) FROM usage_tracking WHERE metric_type = 'message_received'"), 0);
    let list =
        ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/conversations"), None).await, 200).await;
    assert!(list["items"].as_array().expect("items").is_empty());
}

#[tokio::test]
async fn bad_messages_foreign_conversations_and_the_message_limit() {
    let app = spawn_app_with(|c| c.billing.enabled = true).await;
    let s = app.register("runtime-bad@example.com").await;
    let bot = make_bot(&app, &s, "Strict").await;
    publish(&app, &s, bot, "main", survey_flow()).await;
    let turn = ok_json(
        send_as(&app, &s, Method::POST, &format!("/api/v1/bots/{bot}/conversations"), Some(json!({}))).await,
        200,
    )
    .await;
    let conv = turn["conversation_id"].as_i64().expect("id");
    let stored = || count(&app, &format!("SELECT count(*) FROM widget_messages WHERE conversation_id = {conv}"));
    let before = stored();
    for text in ["", "   ", &"x".repeat(4001), "bin\u{0}ary\u{7}"] {
        let body = assert_error(say_raw(&app, &s, conv, text).await, 422, "validation_failed").await;
        assert_eq!(body["error"]["details"]["field"], "text", "{body}");
    }
    // Not JSON, or binary bytes.
    let r = app
        .as_user(&s, Method::POST, &format!("/api/v1/conversations/{conv}/messages"))
        .header("content-type", "application/json")
        .body(vec![0xff, 0xfe, 0x00, 0x01])
        .send()
        .await
        .expect("send");
    assert_error(r, 400, "invalid_json").await;
    let r = app
        .as_user(&s, Method::POST, &format!("/api/v1/conversations/{conv}/messages"))
        .json(&json!({ "text": "hi", "extra": 1 }))
        .send()
        .await
        .expect("send");
    assert!(r.status() == 400 || r.status() == 422, "{}", r.status());
    assert_eq!(stored(), before, "nothing stored for refused messages");

    // Another organization's conversation does not exist for you.
    let other = app.register("runtime-other@example.com").await;
    assert_error(
        send_as(&app, &other, Method::GET, &format!("/api/v1/conversations/{conv}"), None).await,
        404,
        "conversation_not_found",
    )
    .await;
    assert_error(say_raw(&app, &other, conv, "hi").await, 404, "conversation_not_found").await;
    assert_error(
        send_as(&app, &other, Method::GET, &format!("/api/v1/conversations/{conv}/messages"), None).await,
        404,
        "conversation_not_found",
    )
    .await;
    assert_error(say_raw(&app, &s, 999_999, "hi").await, 404, "conversation_not_found").await;

    // A plan of 5 messages a month: alerts at 80 % and 100 %, then 402.
    let org = s.org_id;
    app.sql(|c| {
        c.execute(
            "UPDATE subscription_plans SET max_messages_per_month = 5
             WHERE name = (SELECT plan_tier FROM organizations WHERE id = ?1)",
            [org],
        )
    });
    app.state.runtime.meter().forget(botbuilder::ids::OrgId(org));
    let mut refused = None;
    for i in 0..8 {
        let r = say_raw(&app, &s, conv, &format!("{i}")).await;
        if r.status() == 402 {
            refused = Some(i);
            let body = assert_error(r, 402, "plan_limit_exceeded").await;
            assert_eq!(body["error"]["details"]["limit"], "messages_per_month");
            break;
        }
        assert_eq!(r.status(), 200);
    }
    assert_eq!(refused, Some(5), "the sixth message of the month is refused");
    assert_eq!(
        count(&app, "SELECT count(*) FROM jobs WHERE kind = 'usage_alert'"),
        2,
        "one alert at 80 % and one at 100 %"
    );
    // Starting a new conversation with a message is refused too.
    assert_error(
        send_as(&app, &s, Method::POST, &format!("/api/v1/bots/{bot}/conversations"), Some(json!({ "text": "hi" })))
            .await,
        402,
        "plan_limit_exceeded",
    )
    .await;
}

async fn widget_key(app: &TestApp, s: &Session, bot: i64) -> String {
    let w = ok_json(send_as(app, s, Method::GET, &format!("/api/v1/bots/{bot}/widget"), None).await, 200).await;
    w["widget_key"].as_str().expect("key").to_owned()
}

#[tokio::test]
async fn the_widget_api_keys_origins_and_rate_limit() {
    let app = spawn_app().await;
    let s = app.register("runtime-widget@example.com").await;
    let bot = make_bot(&app, &s, "Widget bot").await;
    publish(&app, &s, bot, "main", survey_flow()).await;
    let key = widget_key(&app, &s, bot).await;
    let origin = "https://shop.example.com";
    let w = ok_json(
        send_as(
            &app,
            &s,
            Method::PUT,
            &format!("/api/v1/bots/{bot}/widget"),
            Some(json!({
                "config": { "title": "Shop help", "primary_color": "#112233", "welcome_message": "Welcome!" },
                "allowed_origins": [origin]
            })),
        )
        .await,
        200,
    )
    .await;
    assert!(w["embed_code"].as_str().is_some_and(|c| c.contains(&key) && c.contains("widget.js")), "{w}");

    // The public config, from an allowed origin, with CORS headers.
    let r = app
        .request(Method::GET, &format!("/api/v1/widget/{key}/config"))
        .header("Origin", origin)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], origin);
    let config: Value = r.json().await.expect("json");
    assert_eq!(config["config"]["title"], "Shop help");
    assert_eq!(config["bot_name"], "Widget bot");
    // A preflight from the allowed origin; any request from another is refused.
    let r = app
        .request(Method::OPTIONS, &format!("/api/v1/widget/{key}/sessions"))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["access-control-allow-origin"], origin);
    let r = app
        .request(Method::POST, &format!("/api/v1/widget/{key}/sessions"))
        .header("Origin", "https://evil.example.net")
        .send()
        .await
        .expect("send");
    assert_error(r, 403, "origin_not_allowed").await;
    assert_eq!(count(&app, "SELECT count(*) FROM conversations"), 0);

    // A session: the greeting, a message, the history.
    let r = app
        .request(Method::POST, &format!("/api/v1/widget/{key}/sessions"))
        .header("Origin", origin)
        .send()
        .await
        .expect("send");
    let session = ok_json(r, 201).await;
    let sid = session["session_id"].as_str().expect("sid").to_owned();
    assert_eq!(session["messages"][0]["text"], "Your name?");
    let msg = format!("/api/v1/widget/{key}/sessions/{sid}/messages");
    let r = app
        .request(Method::POST, &msg)
        .header("Origin", origin)
        .json(&json!({ "text": "Grace" }))
        .send()
        .await
        .expect("send");
    let turn = ok_json(r, 200).await;
    assert_eq!(texts(&turn), ["How old are you, Grace?"]);
    let history = ok_json(app.request(Method::GET, &msg).send().await.expect("send"), 200).await;
    assert_eq!(history["messages"].as_array().expect("messages").len(), 3);

    // Bad messages and unknown sessions.
    let r = app.request(Method::POST, &msg).json(&json!({ "text": "" })).send().await.expect("send");
    assert_error(r, 422, "validation_failed").await;
    let r = app
        .request(Method::POST, &format!("/api/v1/widget/{key}/sessions/ws_nosuchsession0000000000/messages"))
        .json(&json!({ "text": "hi" }))
        .send()
        .await
        .expect("send");
    assert_error(r, 404, "widget_session_not_found").await;
    let r = app
        .request(Method::POST, &format!("/api/v1/widget/{key}/sessions/..%2F..%2Fx/messages"))
        .json(&json!({ "text": "hi" }))
        .send()
        .await
        .expect("send");
    assert!(r.status() == 404, "{}", r.status());

    // More than N messages per second from one session: 429.
    let mut statuses = Vec::new();
    for i in 0..12 {
        let r = app.request(Method::POST, &msg).json(&json!({ "text": format!("{i}") })).send().await.expect("send");
        statuses.push(r.status().as_u16());
        if r.status() == 429 {
            assert_error(r, 429, "rate_limited").await;
            break;
        }
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");

    // Unknown and rotated keys.
    let r = app.request(Method::GET, "/api/v1/widget/wk_doesnotexist/config").send().await.expect("send");
    assert_error(r, 404, "widget_not_found").await;
    let rotated =
        ok_json(send_as(&app, &s, Method::POST, &format!("/api/v1/bots/{bot}/widget-key"), None).await, 200).await;
    let new_key = rotated["widget_key"].as_str().expect("new key").to_owned();
    assert_ne!(new_key, key);
    let r = app.request(Method::GET, &format!("/api/v1/widget/{key}/config")).send().await.expect("send");
    assert_error(r, 404, "widget_not_found").await;
    let r = app.request(Method::POST, &msg).json(&json!({ "text": "hi" })).send().await.expect("send");
    assert_error(r, 404, "widget_not_found").await;
    let r = app.request(Method::GET, &format!("/api/v1/widget/{new_key}/config")).send().await.expect("send");
    assert_eq!(r.status(), 200);

    // The widget script is served.
    let r = app.get("/widget.js").await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().expect("ct").starts_with("text/javascript"));
}

#[tokio::test]
async fn concurrent_messages_of_one_conversation_are_serialized() {
    let app = spawn_app().await;
    let s = app.register("runtime-concurrent@example.com").await;
    let bot = make_bot(&app, &s, "Counter").await;
    let flow = json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "ask", "type": "question", "data": { "prompt": { "text": "Go on." }, "variable": "last" } },
            { "id": "count", "type": "set_variable", "data": { "assignments": [ { "variable": "n", "expression": "default(n, 0) + 1" } ] } },
            { "id": "say", "type": "message", "data": { "text": "n={{n}}" } }
        ],
        "edges": [
            { "source": "start", "target": "ask" }, { "source": "ask", "target": "count" },
            { "source": "ask", "port": "invalid", "target": "count" },
            { "source": "count", "target": "say" }, { "source": "say", "target": "ask" }
        ]
    });
    publish(&app, &s, bot, "main", flow).await;
    let turn = ok_json(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("/api/v1/bots/{bot}/conversations"),
            Some(json!({ "external_user_id": "c" })),
        )
        .await,
        200,
    )
    .await;
    let conv = turn["conversation_id"].as_i64().expect("id");
    let sends = (0..24).map(|i| {
        let app = &app;
        let s = &s;
        async move { say(app, s, conv, &format!("message {i}")).await }
    });
    let turns = futures_util::future::join_all(sends).await;
    // Every turn saw a different count: no lost update, no turn interleaved with another.
    let mut seen: Vec<i64> = turns
        .iter()
        .map(|t| {
            let texts = texts(t);
            let n = texts.iter().find_map(|x| x.strip_prefix("n=")).expect("count reply");
            n.parse::<i64>().expect("number")
        })
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (1..=24).collect::<Vec<i64>>());
    let detail =
        ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/conversations/{conv}"), None).await, 200).await;
    assert_eq!(detail["state"]["vars"]["n"], 24, "{detail}");
    // The transcript alternates: each user message is followed by its own replies.
    let t = ok_json(
        send_as(&app, &s, Method::GET, &format!("/api/v1/conversations/{conv}/messages?limit=200"), None).await,
        200,
    )
    .await;
    let roles: Vec<&str> =
        t["items"].as_array().expect("items").iter().map(|m| m["role"].as_str().expect("role")).collect();
    assert_eq!(roles.len(), 1 + 24 * 3);
    for chunk in roles[1..].chunks(3) {
        assert_eq!(chunk, ["user", "bot", "bot"], "{roles:?}");
    }
}

#[tokio::test]
async fn closing_asks_for_a_rating_when_the_bot_is_set_to() {
    let app = spawn_app().await;
    let s = app.register("runtime-csat@example.com").await;
    let bot = make_bot(&app, &s, "Rated").await;
    ok_json(
        send_as(
            &app,
            &s,
            Method::PATCH,
            &format!("/api/v1/bots/{bot}"),
            Some(json!({ "settings": { "csat_enabled": true, "csat_question": "Rate us 1-5?", "csat_thanks": "Thanks for rating!" } })),
        )
        .await,
        200,
    )
    .await;
    publish(&app, &s, bot, "main", survey_flow()).await;
    let turn = ok_json(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("/api/v1/bots/{bot}/conversations"),
            Some(json!({ "external_user_id": "r" })),
        )
        .await,
        200,
    )
    .await;
    let conv = turn["conversation_id"].as_i64().expect("id");
    // "talk to a human" (the default handoff keywords) hands off mid-flow.
    let turn = say(&app, &s, conv, "can I talk to a human please").await;
    assert_eq!(turn["status"], "handoff", "{turn}");
    let closed = ok_json(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("/api/v1/conversations/{conv}/close"),
            Some(json!({ "resolution": "answered by phone" })),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(closed["status"], "closed");
    let question =
        closed["replies"].as_array().expect("replies").iter().find(|m| m["text"] == "Rate us 1-5?").expect("asked");
    assert_eq!(question["quick_replies"].as_array().expect("options").len(), 5);
    let turn = say(&app, &s, conv, "4").await;
    assert_eq!(texts(&turn), ["Thanks for rating!"]);
    assert_eq!(turn["status"], "closed");
    let detail =
        ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/conversations/{conv}"), None).await, 200).await;
    assert_eq!(detail["csat"], 4);
    assert_eq!(detail["resolution"], "answered by phone");
}

#[tokio::test]
async fn knowledge_nodes_answer_from_the_bots_knowledge_base_with_citations() {
    let app = spawn_app_with(|c| c.ml.enabled = true).await;
    let s = app.register("runtime-knowledge@example.com").await;
    let bot = make_bot(&app, &s, "Answers").await;
    let kb = crate::knowledge::create_kb(&app, &s, json!({ "name": "Policies" })).await["id"].as_i64().expect("kb");
    crate::knowledge::paste(
        &app,
        &s,
        kb,
        "Returns",
        "# Returns\n\nYou can return any item within 30 days of delivery. Refunds are issued to the original payment method within five business days.",
    )
    .await;
    crate::knowledge::drain(&app).await;
    let flow = json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "ask", "type": "question", "data": { "prompt": { "text": "Ask me about our policies." }, "variable": "q" } },
            { "id": "kb", "type": "knowledge", "data": { "question": "{{q}}", "variable": "answer" } },
            { "id": "more", "type": "message", "data": { "text": "Anything else?" } },
            { "id": "none", "type": "message", "data": { "text": "I could not find that." } }
        ],
        "edges": [
            { "source": "start", "target": "ask" }, { "source": "ask", "target": "kb" },
            { "source": "ask", "port": "invalid", "target": "none" },
            { "source": "kb", "port": "answered", "target": "more" }, { "source": "kb", "port": "no_answer", "target": "none" },
            { "source": "more", "target": "ask" }, { "source": "none", "target": "ask" }
        ]
    });
    publish(&app, &s, bot, "main", flow).await;
    let emu = format!("/api/v1/bots/{bot}/emulator");
    let turn = ok_json(send_as(&app, &s, Method::POST, &emu, Some(json!({ "source": "published" }))).await, 200).await;
    let conv = turn["conversation_id"].as_i64().expect("id");

    // Not linked yet: the node reports it and leaves by `no_answer`.
    let turn = ok_json(
        send_as(
            &app,
            &s,
            Method::POST,
            &emu,
            Some(json!({ "conversation_id": conv, "text": "How long do refunds take?" })),
        )
        .await,
        200,
    )
    .await;
    assert!(texts(&turn).contains(&"I could not find that.".to_owned()), "{turn}");
    assert!(
        turn["trace"]["problems"]
            .as_array()
            .expect("problems")
            .iter()
            .any(|p| p["node"] == "kb" && p["message"].as_str().is_some_and(|m| m.contains("no knowledge base"))),
        "{turn}"
    );

    // Linked: a cited answer, stored in the variable too.
    ok_json(send_as(&app, &s, Method::PUT, &format!("/api/v1/bots/{bot}/knowledge-bases/{kb}"), None).await, 200).await;
    let turn = ok_json(
        send_as(
            &app,
            &s,
            Method::POST,
            &emu,
            Some(json!({ "conversation_id": conv, "text": "How long do refunds take?" })),
        )
        .await,
        200,
    )
    .await;
    let replies = turn["replies"].as_array().expect("replies");
    assert!(replies[0]["text"].as_str().is_some_and(|t| t.contains("five business days")), "{turn}");
    assert_eq!(replies[0]["citations"][0]["document"], "Returns", "{turn}");
    assert_eq!(replies[1]["text"], "Anything else?");
    assert!(
        turn["trace"]["variables_after"]["session"]["answer"]
            .as_str()
            .is_some_and(|a| a.contains("five business days")),
        "{turn}"
    );
    // Nothing relevant: the `no_answer` port.
    let turn = ok_json(
        send_as(
            &app,
            &s,
            Method::POST,
            &emu,
            Some(json!({ "conversation_id": conv, "text": "What is the boiling point of tungsten?" })),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(texts(&turn), ["I could not find that.", "Ask me about our policies."], "{turn}");

    // Each answer was logged for knowledge insights: the failure, the cited
    // answer (its document counted) and the "I don't know" with a lower best score.
    let k = ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/knowledge/insights"), None).await, 200)
        .await;
    assert_eq!(
        (k["questions"].as_i64(), k["answered"].as_i64(), k["unanswered"].as_i64(), k["errors"].as_i64()),
        (Some(3), Some(1), Some(1), Some(1)),
        "{k}"
    );
    assert_eq!(k["top_documents"][0]["title"], "Returns", "{k}");
    let (answered, unknown): (f64, f64) = app.sql(|c| {
        c.query_row(
            "SELECT (SELECT top_score FROM knowledge_answer_logs WHERE answered = 1),
                    (SELECT top_score FROM knowledge_answer_logs WHERE mode = 'no_answer')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    });
    assert!(unknown < answered, "{unknown} < {answered}");
}

/// A flow that routes every message on the `track_order` intent.
fn intent_flow() -> Value {
    json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "route", "type": "intent_router", "data": { "routes": [ { "id": "track", "intent": "track_order" } ] } },
            { "id": "tracking", "type": "message", "data": { "text": "Let me track that." } },
            { "id": "oos", "type": "message", "data": { "text": "Sorry, I only track orders." } }
        ],
        "edges": [
            { "source": "start", "target": "route" },
            { "source": "route", "port": "track", "target": "tracking" },
            { "source": "route", "port": "out_of_scope", "target": "oos" },
            { "source": "tracking", "target": "route" },
            { "source": "oos", "target": "route" }
        ]
    })
}

/// The value of a metric line (`name{labels} value`) in `/metrics`.
async fn metric(app: &TestApp, line_start: &str) -> f64 {
    let text = app.get("/metrics").await.text().await.expect("metrics");
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no `{line_start}` in {text}"))
}

/// A bot with the trained order-tracking model and [`intent_flow`]
/// published; its widget key.
async fn intent_bot(app: &TestApp, s: &Session) -> (i64, String) {
    let bot = make_bot(app, s, "Busy").await;
    train_support_nlu(app, s, bot).await;
    publish(app, s, bot, "main", intent_flow()).await;
    (bot, widget_key(app, s, bot).await)
}

async fn start_conversation(app: &TestApp, s: &Session, bot: i64, user: &str) -> i64 {
    let r = send_as(
        app,
        s,
        Method::POST,
        &format!("/api/v1/bots/{bot}/conversations"),
        Some(json!({ "external_user_id": user })),
    )
    .await;
    ok_json(r, 200).await["conversation_id"].as_i64().expect("conversation id")
}

async fn assert_overloaded(r: reqwest::Response, reason: &str) -> Value {
    let retry_after = r.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = assert_error(r, 503, "overloaded").await;
    assert_eq!(retry_after.as_deref(), Some("1"), "{body}");
    assert_eq!(body["error"]["details"]["reason"], reason, "{body}");
    assert_eq!(body["error"]["details"]["retry_after_secs"], 1, "{body}");
    body
}

#[tokio::test]
async fn a_full_inference_queue_refuses_turns_with_503_and_the_widget_with_the_busy_reply() {
    let app = spawn_app_with(|c| {
        c.ml.enabled = true;
        c.ml.queue_max_texts = 1;
        c.runtime.busy_reply = "Busy here, one moment please.".into();
    })
    .await;
    let s = app.register("overload-busy@example.com").await;
    let (bot, key) = intent_bot(&app, &s).await;
    let conv = start_conversation(&app, &s, bot, "busy-1").await;
    assert_eq!(texts(&say(&app, &s, conv, "where is my order").await), ["Let me track that."]);
    let messages = || count(&app, &format!("SELECT count(*) FROM widget_messages WHERE conversation_id = {conv}"));
    let before = messages();

    // The queue's one place is taken: the model is busy.
    let embedder = app.state.models.embedder().await.expect("models load");
    let held = embedder.try_reserve(1).expect("the queue is empty");
    assert!(embedder.try_reserve(1).is_err(), "the bound is one text");

    // The API: 503 at once, nothing stored, the conversation unchanged.
    let r = say_raw(&app, &s, conv, "track my parcel please").await;
    assert_overloaded(r, "inference_queue_full").await;
    assert_eq!(messages(), before, "a refused turn stores nothing");

    // The widget: the same refusal, worded for the end user.
    let r = app.request(Method::POST, &format!("/api/v1/widget/{key}/sessions")).send().await.expect("send");
    let sid = ok_json(r, 201).await["session_id"].as_str().expect("sid").to_owned();
    let r = app
        .request(Method::POST, &format!("/api/v1/widget/{key}/sessions/{sid}/messages"))
        .json(&json!({ "text": "where is my package" }))
        .send()
        .await
        .expect("send");
    let body = assert_overloaded(r, "inference_queue_full").await;
    assert_eq!(body["error"]["message"], "Busy here, one moment please.", "{body}");
    assert_eq!(body["error"]["details"]["reply"], "Busy here, one moment please.", "{body}");

    // The NLU parse API is refused the same way.
    let r =
        send_as(&app, &s, Method::POST, &format!("/api/v1/bots/{bot}/nlu/parse"), Some(json!({ "text": "hi" }))).await;
    assert_overloaded(r, "inference_queue_full").await;

    // Counted: two turns shed, one text in the queue.
    assert!(
        (metric(&app, "botbuilder_runtime_turns_shed_total{reason=\"inference_queue_full\"}").await - 2.0).abs()
            < f64::EPSILON
    );
    assert!((metric(&app, "botbuilder_queue_depth{queue=\"inference\"}").await - 1.0).abs() < f64::EPSILON);
    assert!(metric(&app, "botbuilder_ml_inference_refused_total").await >= 3.0);

    // Room again: the same message is understood.
    drop(held);
    assert_eq!(texts(&say(&app, &s, conv, "track my parcel please").await), ["Let me track that."]);
    assert!((metric(&app, "botbuilder_queue_depth{queue=\"inference\"}").await).abs() < f64::EPSILON);
}

#[tokio::test]
async fn with_keyword_fallback_a_full_inference_queue_still_answers_without_the_model() {
    let app = spawn_app_with(|c| {
        c.ml.enabled = true;
        c.ml.queue_max_texts = 1;
        c.ml.overload = botbuilder::config::OverloadPolicy::Keywords;
    })
    .await;
    let s = app.register("overload-keywords@example.com").await;
    let (bot, _) = intent_bot(&app, &s).await;
    let conv = start_conversation(&app, &s, bot, "keywords-1").await;
    let embedder = app.state.models.embedder().await.expect("models load");
    let held = embedder.try_reserve(1).expect("the queue is empty");

    // Understood without the model: no intent, so the out-of-scope path;
    // the emulator's trace says why.
    let turn = say(&app, &s, conv, "where is my order").await;
    assert_eq!(texts(&turn), ["Sorry, I only track orders."]);
    let emu = format!("/api/v1/bots/{bot}/emulator");
    let started =
        ok_json(send_as(&app, &s, Method::POST, &emu, Some(json!({ "source": "published" }))).await, 200).await;
    let body =
        json!({ "conversation_id": started["conversation_id"], "source": "published", "text": "where is my order" });
    let emulated = ok_json(send_as(&app, &s, Method::POST, &emu, Some(body)).await, 200).await;
    assert!(emulated.to_string().contains("keyword-only"), "{emulated}");
    assert!(metric(&app, "botbuilder_runtime_turns_shed_total{reason=\"inference_keywords\"}").await >= 1.0);
    assert!(
        metric(&app, "botbuilder_runtime_turns_shed_total{reason=\"inference_queue_full\"}").await.abs() < f64::EPSILON
    );

    drop(held);
    assert_eq!(texts(&say(&app, &s, conv, "where is my order").await), ["Let me track that."]);
}

#[tokio::test]
async fn a_full_write_queue_refuses_end_user_turns_before_they_run() {
    let app = spawn_app_with(|c| {
        c.runtime.write_queue_turns = 1;
        // One turn per transaction: the writer holds exactly the first turn.
        c.runtime.write_batch = 1;
    })
    .await;
    let s = app.register("overload-write@example.com").await;
    let bot = make_bot(&app, &s, "Writes").await;
    publish(&app, &s, bot, "main", survey_flow()).await;
    let key = widget_key(&app, &s, bot).await;
    let (c1, c2, c3) = (
        start_conversation(&app, &s, bot, "w-1").await,
        start_conversation(&app, &s, bot, "w-2").await,
        start_conversation(&app, &s, bot, "w-3").await,
    );
    let total = || count(&app, "SELECT count(*) FROM widget_messages");
    let stored = total();

    // The writer is stopped by holding the database's write connection.
    let (release, hold) = std::sync::mpsc::channel::<()>();
    let (held_tx, holding) = tokio::sync::oneshot::channel::<()>();
    let db = app.state.db.clone();
    let holder = std::thread::spawn(move || {
        db.write_blocking(|_| {
            let _ = held_tx.send(());
            let _ = hold.recv();
            Ok(())
        })
    });
    holding.await.expect("the write connection is held");
    // One turn in the writer (blocked), then one waiting: the queue of one is full.
    let runtime = app.state.runtime.clone();
    let wait_for = |what: &'static str, ready: Box<dyn Fn() -> bool>| async move {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !ready() {
            assert!(std::time::Instant::now() < deadline, "{what} never happened");
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    };
    let first = tokio::spawn(say_raw_owned(app.address.clone(), s.clone(), c1, "Ada"));
    let r = runtime.clone();
    wait_for("the first turn reaching the writer", Box::new(move || r.writes_in_progress() == 1)).await;
    let second = tokio::spawn(say_raw_owned(app.address.clone(), s.clone(), c2, "Bob"));
    let r = runtime.clone();
    wait_for("the second turn queueing", Box::new(move || r.write_queue_depth() == 1)).await;
    assert_eq!(runtime.writes_in_progress(), 1);

    let r = say_raw(&app, &s, c3, "Cy").await;
    assert_overloaded(r, "write_queue_full").await;
    let r = app.request(Method::POST, &format!("/api/v1/widget/{key}/sessions")).send().await.expect("send");
    let body = assert_overloaded(r, "write_queue_full").await;
    assert_eq!(body["error"]["message"], app.state.config.runtime.busy_reply.as_str(), "{body}");
    assert!(
        (metric(&app, "botbuilder_runtime_turns_shed_total{reason=\"write_queue_full\"}").await - 2.0).abs()
            < f64::EPSILON
    );
    assert!((metric(&app, "botbuilder_queue_depth{queue=\"write\"}").await - 1.0).abs() < f64::EPSILON);

    // Released: the waiting turns are written, the refused ones never were.
    release.send(()).expect("release");
    holder.join().expect("holder").expect("held transaction");
    assert_eq!(first.await.expect("first").status().as_u16(), 200);
    assert_eq!(second.await.expect("second").status().as_u16(), 200);
    assert_eq!(total(), stored + 4, "two messages and two replies");
    assert_eq!(count(&app, "SELECT count(*) FROM conversations"), 3);
    assert_eq!(texts(&say(&app, &s, c3, "Cy").await), ["How old are you, Cy?"]);
}

/// `say_raw` for a spawned task (owns what it needs).
async fn say_raw_owned(address: String, s: Session, conversation: i64, text: &'static str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{address}/api/v1/conversations/{conversation}/messages"))
        .header("Cookie", s.cookie.clone())
        .header("X-CSRF-Token", s.csrf.clone())
        .json(&json!({ "text": text }))
        .send()
        .await
        .expect("send")
}

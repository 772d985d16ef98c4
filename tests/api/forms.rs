//! Flows fill slots: a `form` node through the real server, NLU model and
//! entities — prefilled from the message that triggered the intent, asking
//! only for what is missing, taking a correction, refusing a bad value.

// An end-to-end scenario reads best as one story.
#![allow(clippy::too_many_lines, reason = "one end-to-end scenario per test")]

use botbuilder::jobs;
use reqwest::Method;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::helpers::{Session, TestApp, ok_json, send_as, spawn_app, spawn_app_with};

async fn make_bot(app: &TestApp, s: &Session, name: &str) -> i64 {
    let r =
        send_as(app, s, Method::POST, &format!("/api/v1/orgs/{}/bots", s.org_id), Some(json!({ "name": name }))).await;
    ok_json(r, 201).await["id"].as_i64().expect("bot id")
}

async fn run_jobs(app: &TestApp) {
    let token = CancellationToken::new();
    while jobs::run_once(&app.state, "test", &token).await.expect("run job") {}
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

fn texts(turn: &Value) -> Vec<String> {
    turn["replies"].as_array().expect("replies").iter().map(|m| m["text"].as_str().expect("text").to_owned()).collect()
}

const BOOK: [&str; 8] = [
    "I want to book a flight",
    "book me a trip to Paris",
    "I need a plane ticket",
    "can you book a flight for me",
    "reserve a seat on a flight",
    "I'd like to fly to Rome",
    "get me a flight ticket",
    "book a trip",
];
const GREET: [&str; 8] =
    ["hello", "hi there", "good morning", "hey", "good evening", "hello bot", "hi, how are you", "greetings"];

fn booking_flow() -> Value {
    json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "route", "type": "intent_router", "data": { "routes": [
                { "id": "book", "intent": "book_trip" }, { "id": "hello", "intent": "greet" } ] } },
            { "id": "trip", "type": "form", "data": {
                "slots": [
                    { "entity": "city", "variable": "destination", "prompt": { "text": "Where to?" } },
                    { "entity": "date", "variable": "day", "prompt": { "text": "On which day?" } },
                    { "entity": "number", "variable": "passengers", "prompt": { "text": "How many passengers?" },
                      "validation": "value >= 1 and value <= 9", "invalid_message": "1 to 9 passengers, please." },
                    { "entity": "cabin", "variable": "cabin", "prompt": { "text": "Economy or business?" } }
                ] } },
            { "id": "booked", "type": "message",
              "data": { "text": "Booked: {{passengers}} to {{destination}} on {{day}}, {{cabin}}." } },
            { "id": "dropped", "type": "message", "data": { "text": "Booking cancelled." } },
            { "id": "hi", "type": "message", "data": { "text": "Hello! I book trips." } }
        ],
        "edges": [
            { "source": "start", "target": "route" },
            { "source": "route", "port": "book", "target": "trip" },
            { "source": "route", "port": "hello", "target": "hi" },
            { "source": "trip", "port": "done", "target": "booked" },
            { "source": "trip", "port": "cancelled", "target": "dropped" }
        ]
    })
}

#[tokio::test]
async fn a_booking_form_asks_for_missing_slots_takes_a_correction_and_completes() {
    let app = spawn_app_with(|c| c.ml.enabled = true).await;
    let s = app.register("forms-e2e@example.com").await;
    let bot = make_bot(&app, &s, "Travel").await;
    for (name, kind, values) in [
        (
            "city",
            "list",
            json!([{ "value": "Paris" }, { "value": "Munich" }, { "value": "Rome" }, { "value": "Berlin" }]),
        ),
        ("cabin", "list", json!([{ "value": "economy" }, { "value": "business" }])),
    ] {
        let r = send_as(
            &app,
            &s,
            Method::POST,
            &format!("/api/v1/bots/{bot}/nlu/entities"),
            Some(json!({ "name": name, "type": kind, "values": values })),
        )
        .await;
        ok_json(r, 201).await;
    }
    for (name, texts) in [("book_trip", BOOK), ("greet", GREET)] {
        let examples: Vec<Value> = texts.iter().map(|t| json!({ "text": t })).collect();
        let r = send_as(
            &app,
            &s,
            Method::POST,
            &format!("/api/v1/bots/{bot}/nlu/intents"),
            Some(json!({ "name": name, "examples": examples })),
        )
        .await;
        ok_json(r, 201).await;
    }
    ok_json(send_as(&app, &s, Method::POST, &format!("/api/v1/bots/{bot}/nlu/train"), None).await, 202).await;
    run_jobs(&app).await;

    let path = format!("/api/v1/bots/{bot}/flows/main");
    let saved =
        ok_json(send_as(&app, &s, Method::PUT, &path, Some(json!({ "document": booking_flow() }))).await, 201).await;
    assert_eq!(saved["issues"], json!([]), "{saved}");
    ok_json(send_as(&app, &s, Method::POST, &format!("{path}/publish"), Some(json!({}))).await, 200).await;

    let r = send_as(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/bots/{bot}/conversations"),
        Some(json!({ "external_user_id": "traveller-1" })),
    )
    .await;
    let conv = ok_json(r, 200).await["conversation_id"].as_i64().expect("conversation id");

    // The message that triggers the intent gives two of the four slots.
    let turn = say(&app, &s, conv, "I want to book a flight to Paris in business").await;
    assert_eq!(texts(&turn), ["On which day?"], "{turn}");
    // A correction while another slot is asked: re-filled, the question stays.
    let turn = say(&app, &s, conv, "no, to Munich").await;
    assert_eq!(texts(&turn), ["On which day?"], "{turn}");
    let turn = say(&app, &s, conv, "tomorrow").await;
    assert_eq!(texts(&turn), ["How many passengers?"], "{turn}");
    // A value the slot's validation refuses is asked again.
    let turn = say(&app, &s, conv, "12").await;
    assert_eq!(texts(&turn), ["1 to 9 passengers, please.", "How many passengers?"], "{turn}");
    let turn = say(&app, &s, conv, "3").await;
    let detail =
        ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/conversations/{conv}"), None).await, 200).await;
    let vars = &detail["state"]["vars"];
    let day = vars["day"].as_str().expect("a date").to_owned();
    assert!(day.len() == 10 && day.as_bytes()[4] == b'-', "{vars}");
    assert_eq!(
        (vars["destination"].clone(), vars["cabin"].clone(), vars["passengers"].clone()),
        (json!("Munich"), json!("business"), json!(3)),
        "{vars}"
    );
    assert_eq!(texts(&turn), [format!("Booked: 3 to Munich on {day}, business.")]);
    assert!(detail["state"].get("wait").is_none(), "the form is done: {detail}");

    let t = ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/conversations/{conv}/messages"), None).await, 200)
        .await;
    let lines: Vec<String> = t["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|m| format!("{}: {}", m["role"].as_str().expect("role"), m["text"].as_str().expect("text")))
        .collect();
    assert_eq!(
        lines,
        [
            "user: I want to book a flight to Paris in business".to_owned(),
            "bot: On which day?".to_owned(),
            "user: no, to Munich".to_owned(),
            "bot: On which day?".to_owned(),
            "user: tomorrow".to_owned(),
            "bot: How many passengers?".to_owned(),
            "user: 12".to_owned(),
            "bot: 1 to 9 passengers, please.".to_owned(),
            "bot: How many passengers?".to_owned(),
            "user: 3".to_owned(),
            format!("bot: Booked: 3 to Munich on {day}, business."),
        ]
    );
}

/// A slot entity that nothing can find is a (non-blocking) warning until
/// an example annotates it.
#[tokio::test]
async fn an_entity_never_annotated_is_a_validation_warning() {
    let app = spawn_app().await;
    let s = app.register("forms-warn@example.com").await;
    let bot = make_bot(&app, &s, "Warned").await;
    let doc = json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "f", "type": "form", "data": { "slots": [
                { "entity": "airline", "variable": "airline", "prompt": { "text": "Which airline?" } },
                { "entity": "date", "variable": "day", "prompt": { "text": "When?" } } ] } }
        ],
        "edges": [ { "source": "start", "target": "f" } ]
    });
    let path = format!("/api/v1/bots/{bot}/flows/main/validate");
    let report = ok_json(send_as(&app, &s, Method::POST, &path, Some(json!({ "document": doc }))).await, 200).await;
    let issues = report["issues"].as_array().expect("issues");
    assert_eq!(issues.len(), 1, "{report}");
    assert_eq!(
        (&issues[0]["code"], &issues[0]["severity"], &issues[0]["node_id"]),
        (&json!("entity_not_annotated"), &json!("warning"), &json!("f"))
    );
    assert!(issues[0]["message"].as_str().expect("message").contains("`airline`"), "{report}");
    assert_eq!(report["publishable"], true, "a warning does not block");

    let r = send_as(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/bots/{bot}/nlu/intents"),
        Some(json!({ "name": "fly", "examples": [
            { "text": "with Lufthansa please", "entities": [ { "entity": "airline", "start": 5, "end": 14 } ] } ] })),
    )
    .await;
    ok_json(r, 201).await;
    let report = ok_json(send_as(&app, &s, Method::POST, &path, Some(json!({ "document": doc }))).await, 200).await;
    assert_eq!(report["issues"], json!([]), "{report}");
}

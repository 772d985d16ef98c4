//! Conversation tests (issue 17, item 2) through the real server: saved,
//! listed, edited and deleted; run against the draft in one click and on
//! every publish (a warning, or a refusal when the bot's settings say so);
//! the diverging turn reported; never a trace in the inbox or transcripts;
//! and the bad cases.

#![allow(clippy::too_many_lines, reason = "each test is one scenario")]

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, assert_error, ok_json, send_as, spawn_app};

fn survey(thanks: &str) -> Value {
    json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "ask", "type": "question", "data": { "prompt": { "text": "Your name?" }, "variable": "name" } },
            { "id": "done", "type": "message", "data": { "text": thanks } }
        ],
        "edges": [ { "source": "start", "target": "ask" }, { "source": "ask", "target": "done" } ]
    })
}

/// A bot with the survey flow saved (not published) and an intent `greet`.
async fn setup(app: &TestApp, s: &Session) -> i64 {
    let r =
        send_as(app, s, Method::POST, &format!("/api/v1/orgs/{}/bots", s.org_id), Some(json!({ "name": "Tested" })))
            .await;
    let bot = ok_json(r, 201).await["id"].as_i64().expect("bot id");
    let path = format!("/api/v1/bots/{bot}/flows/main");
    ok_json(send_as(app, s, Method::PUT, &path, Some(json!({ "document": survey("Thanks {{name}}!") }))).await, 201)
        .await;
    let r = send_as(
        app,
        s,
        Method::POST,
        &format!("/api/v1/bots/{bot}/nlu/intents"),
        Some(json!({ "name": "greet", "examples": [ { "text": "hello there" } ] })),
    )
    .await;
    ok_json(r, 201).await;
    bot
}

fn good_test() -> Value {
    json!({
        "name": "Asks the name",
        "turns": [
            { "user": null, "replies": [ { "text": "Your name?", "match": "exact" } ] },
            { "user": "Ann", "replies": [ { "text": "thanks ann", "match": "contains" } ], "variables": { "name": "Ann" } }
        ]
    })
}

#[tokio::test]
async fn tests_run_against_the_draft_and_on_every_publish_and_show_the_diverging_turn() {
    let app = spawn_app().await;
    let s = app.register("bottests-run@example.com").await;
    let bot = setup(&app, &s).await;
    let tests = format!("/api/v1/bots/{bot}/tests");

    let created = ok_json(send_as(&app, &s, Method::POST, &tests, Some(good_test())).await, 201).await;
    let id = created["id"].as_i64().expect("id");
    assert_eq!(created["turns"][1]["replies"][0]["match"], "contains");
    let list = ok_json(send_as(&app, &s, Method::GET, &tests, None).await, 200).await;
    assert_eq!(list.as_array().expect("list").len(), 1);
    let one = ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/bot-tests/{id}"), None).await, 200).await;
    assert_eq!(one["name"], "Asks the name");

    // One click: all tests against the draft.
    let run = ok_json(send_as(&app, &s, Method::POST, &format!("{tests}/run"), None).await, 200).await;
    assert_eq!(
        (run["total"].as_i64(), run["passed"].as_i64(), run["failed"].as_i64()),
        (Some(1), Some(1), Some(0)),
        "{run}"
    );
    assert_eq!(run["trigger"], "manual");
    assert_eq!(run["results"][0]["passed"], true);
    assert_eq!(run["results"][0]["turns"][1]["got"]["replies"][0], "Thanks Ann!", "{run}");

    // Publishing runs them too and reports them.
    let publish = format!("/api/v1/bots/{bot}/flows/main/publish");
    let published = ok_json(send_as(&app, &s, Method::POST, &publish, Some(json!({}))).await, 200).await;
    assert_eq!(published["version"], 1);
    assert_eq!(published["tests"]["passed"], 1, "{published}");
    assert_eq!(published["tests"]["trigger"], "publish");
    assert_eq!(published["warnings"], json!([]));

    // The flow changes: the second turn's reply differs.
    let path = format!("/api/v1/bots/{bot}/flows/main");
    ok_json(send_as(&app, &s, Method::PUT, &path, Some(json!({ "document": survey("Got it.") }))).await, 201).await;
    let run = ok_json(send_as(&app, &s, Method::POST, &format!("{tests}/run"), None).await, 200).await;
    assert_eq!(run["failed"], 1, "{run}");
    let result = &run["results"][0];
    assert_eq!(result["diverged_turn"], 1, "{run}");
    let turn = &result["turns"][1];
    assert_eq!(turn["passed"], false);
    assert_eq!(turn["failures"][0]["field"], "replies[0]", "{run}");
    assert_eq!(turn["failures"][0]["expected"]["text"], "thanks ann");
    assert_eq!(turn["failures"][0]["got"], "Got it.");
    assert_eq!(result["turns"][0]["passed"], true);

    // Publishing warns but goes ahead...
    let published = ok_json(send_as(&app, &s, Method::POST, &publish, Some(json!({}))).await, 200).await;
    assert_eq!(published["version"], 2);
    assert_eq!(published["tests"]["failed"], 1, "{published}");
    assert!(published["warnings"][0].as_str().expect("warning").contains("1 of 1"), "{published}");

    // ...unless the bot's settings block it.
    let r = send_as(
        &app,
        &s,
        Method::PATCH,
        &format!("/api/v1/bots/{bot}"),
        Some(json!({ "settings": { "block_publish_on_test_failure": true } })),
    )
    .await;
    let patched = ok_json(r, 200).await;
    assert_eq!(patched["settings"]["block_publish_on_test_failure"], true, "{patched}");
    ok_json(send_as(&app, &s, Method::PUT, &path, Some(json!({ "document": survey("Noted.") }))).await, 201).await;
    let body =
        assert_error(send_as(&app, &s, Method::POST, &publish, Some(json!({}))).await, 409, "publish_blocked_by_tests")
            .await;
    assert_eq!(body["error"]["details"]["run"]["results"][0]["diverged_turn"], 1, "{body}");
    let detail = ok_json(send_as(&app, &s, Method::GET, &path, None).await, 200).await;
    assert_eq!(detail["published"]["version"], 2, "the blocked publish changed nothing");

    // Fixing the expectation makes it pass, and the publish goes through.
    let mut fixed = good_test();
    fixed["turns"][1]["replies"][0] = json!({ "text": "Noted.", "match": "exact" });
    ok_json(send_as(&app, &s, Method::PUT, &format!("/api/v1/bot-tests/{id}"), Some(fixed)).await, 200).await;
    let published = ok_json(send_as(&app, &s, Method::POST, &publish, Some(json!({}))).await, 200).await;
    assert_eq!(published["version"], 3);
    assert_eq!(published["tests"]["passed"], 1);

    // Every run is kept, newest first.
    let runs = ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/test-runs"), None).await, 200).await;
    let triggers: Vec<&str> =
        runs["items"].as_array().expect("items").iter().map(|r| r["trigger"].as_str().expect("trigger")).collect();
    assert_eq!(triggers, ["publish", "publish", "publish", "manual", "publish", "manual"]);

    // Runs never leave a conversation, transcript or usage behind.
    assert_eq!(app.count("SELECT count(*) FROM conversations"), 0);
    assert_eq!(app.count("SELECT count(*) FROM widget_messages"), 0);
    assert_eq!(app.count("SELECT count(*) FROM usage_tracking WHERE metric_type = 'message_received'"), 0);
    // Audited like the other writes.
    assert_eq!(app.count("SELECT count(*) FROM audit_logs WHERE action LIKE 'bot_test.%'"), 2);

    // Deleted.
    let r = send_as(&app, &s, Method::DELETE, &format!("/api/v1/bot-tests/{id}"), None).await;
    assert_eq!(r.status().as_u16(), 204);
    assert_error(
        send_as(&app, &s, Method::GET, &format!("/api/v1/bot-tests/{id}"), None).await,
        404,
        "bot_test_not_found",
    )
    .await;
    // Without tests a publish runs nothing.
    ok_json(send_as(&app, &s, Method::PUT, &path, Some(json!({ "document": survey("Bye.") }))).await, 201).await;
    let published = ok_json(send_as(&app, &s, Method::POST, &publish, Some(json!({}))).await, 200).await;
    assert!(published.get("tests").is_none(), "{published}");
}

#[tokio::test]
async fn intents_are_checked_and_bad_tests_are_refused_with_the_field_at_fault() {
    let app = spawn_app().await;
    let s = app.register("bottests-bad@example.com").await;
    let bot = setup(&app, &s).await;
    let tests = format!("/api/v1/bots/{bot}/tests");

    // The bot has no trained model: an expected intent is not recognised.
    let mut with_intent = good_test();
    with_intent["turns"][1]["intent"] = json!({ "name": "greet", "min_confidence": 0.5 });
    ok_json(send_as(&app, &s, Method::POST, &tests, Some(with_intent.clone())).await, 201).await;
    let run = ok_json(send_as(&app, &s, Method::POST, &format!("{tests}/run"), None).await, 200).await;
    let turn = &run["results"][0]["turns"][1];
    assert_eq!(turn["failures"][0]["field"], "intent", "{run}");
    assert_eq!(turn["failures"][0]["expected"], "greet");

    let bad = |mutate: &dyn Fn(&mut Value)| {
        let mut t = good_test();
        t["name"] = json!("Another");
        mutate(&mut t);
        t
    };
    let cases: Vec<(Value, &str)> = vec![
        (bad(&|t| t["turns"] = json!([])), "turns"),
        (bad(&|t| t["turns"][1]["intent"] = json!({ "name": "weather" })), "turns[1].intent.name"),
        (
            bad(&|t| t["turns"][1]["intent"] = json!({ "name": "greet", "min_confidence": 1.5 })),
            "turns[1].intent.min_confidence",
        ),
        (bad(&|t| t["turns"][1]["user"] = Value::Null), "turns[1].user"),
        (bad(&|t| t["turns"][1]["replies"][0]["text"] = json!(" ")), "turns[1].replies[0].text"),
        (bad(&|t| t["turns"][1]["variables"] = json!({ "bad name": 1 })), "turns[1].variables.bad name"),
        (bad(&|t| t["name"] = json!("")), "name"),
    ];
    for (body, field) in cases {
        let err =
            assert_error(send_as(&app, &s, Method::POST, &tests, Some(body)).await, 422, "validation_failed").await;
        assert_eq!(err["error"]["details"]["field"], field, "{err}");
    }
    // An unknown match mode is refused by the body's shape.
    let err = assert_error(
        send_as(&app, &s, Method::POST, &tests, Some(bad(&|t| t["turns"][0]["replies"][0]["match"] = json!("fuzzy"))))
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert!(err["error"]["details"].to_string().contains("turns"), "{err}");
    // Names are unique per bot.
    assert_error(send_as(&app, &s, Method::POST, &tests, Some(with_intent)).await, 409, "name_taken").await;
    assert_eq!(app.count("SELECT count(*) FROM bot_tests"), 1);

    // Another organization sees none of it.
    let other = app.register("bottests-other@example.com").await;
    let id = app.count("SELECT id FROM bot_tests");
    assert_error(
        send_as(&app, &other, Method::GET, &format!("/api/v1/bot-tests/{id}"), None).await,
        404,
        "bot_test_not_found",
    )
    .await;
    let r = send_as(&app, &other, Method::POST, &format!("{tests}/run"), None).await;
    assert_eq!(r.status().as_u16(), 404);
}

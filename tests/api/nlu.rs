//! NLU: training data API, import/export, training jobs and model versions,
//! parsing with entities, parse logs, the misunderstood inbox and
//! cross-validation — against the real server, data file and ONNX model.

// End-to-end scenarios read best as one story each.
#![allow(clippy::too_many_lines, reason = "each test is one end-to-end scenario")]

use std::time::{Duration, Instant};

use botbuilder::jobs;
use reqwest::Method;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::helpers::{Session, TestApp, assert_error, ok_json, send_as, spawn_app, spawn_app_with};

async fn make_bot(app: &TestApp, s: &Session, name: &str) -> i64 {
    // Room for several bots (the free plan allows one).
    let org = s.org_id;
    app.sql(|c| c.execute("UPDATE organizations SET plan_tier = 'enterprise' WHERE id = ?1", [org]));
    let r = app
        .as_user(s, Method::POST, &format!("/api/v1/orgs/{}/bots", s.org_id))
        .json(&json!({ "name": name }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.expect("json")["id"].as_i64().expect("id")
}

fn count(app: &TestApp, sql: &str) -> i64 {
    app.sql(|c| c.query_row(sql, [], |r| r.get(0)))
}

async fn run_jobs(app: &TestApp) {
    let token = CancellationToken::new();
    while jobs::run_once(&app.state, "test", &token).await.expect("run job") {}
}

const BOOK: [&str; 8] = [
    "book a table for two",
    "I'd like to reserve a table tonight",
    "can I get a reservation for four people",
    "reserve a table at your restaurant",
    "table for three tomorrow please",
    "make a booking for dinner",
    "do you have a free table on friday",
    "I want to book a table",
];
const HOURS: [&str; 8] = [
    "when are you open",
    "what are your opening hours",
    "are you open on sunday",
    "what time do you close",
    "until when are you open tonight",
    "opening times please",
    "is the restaurant open now",
    "what time do you open tomorrow",
];
const MENU: [&str; 8] = [
    "what's on the menu",
    "do you have vegetarian dishes",
    "show me the menu",
    "what desserts do you have",
    "can I see the wine list",
    "do you serve pasta",
    "what food do you offer",
    "is there a vegan option",
];

async fn seed_restaurant(app: &TestApp, s: &Session, bot: i64) {
    for (name, texts) in [("book_table", BOOK), ("opening_hours", HOURS), ("menu", MENU)] {
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
}

#[tokio::test]
async fn intents_examples_and_entities_are_validated_and_audited() {
    let app = spawn_app().await;
    let s = app.register("nlu-data@example.com").await;
    let bot = make_bot(&app, &s, "Data bot").await;
    let other_bot = make_bot(&app, &s, "Other bot").await;
    let base = format!("/api/v1/bots/{bot}/nlu");

    let intent = ok_json(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("{base}/intents"),
            Some(json!({
                "name": "fly", "description": "Book a flight", "confidence_threshold": 0.4,
                "examples": [{ "text": "fly to Berlin", "entities": [{ "entity": "city", "start": 7, "end": 13 }] }]
            })),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(intent["example_count"], 1);
    let intent_id = intent["id"].as_i64().expect("id");
    // Duplicate names, bad thresholds, bad annotations.
    assert_error(
        send_as(&app, &s, Method::POST, &format!("{base}/intents"), Some(json!({ "name": "fly" }))).await,
        409,
        "name_taken",
    )
    .await;
    let body = assert_error(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("{base}/intents"),
            Some(json!({ "name": "x", "confidence_threshold": 1.5 })),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["error"]["details"]["field"], "confidence_threshold");
    let body = assert_error(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("{base}/intents/{intent_id}/examples"),
            Some(json!({ "examples": [
                { "text": "ok text" },
                { "text": "fly to Rome", "entities": [{ "entity": "city", "value": "Paris", "start": 7, "end": 11 }] }
            ]})),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["error"]["details"]["field"], "examples[1].entities[0].value");
    assert_eq!(count(&app, "SELECT count(*) FROM intent_examples"), 1, "nothing added by a refused bulk");
    let body = assert_error(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("{base}/intents/{intent_id}/examples"),
            Some(json!({ "examples": [{ "text": "bell \u{7} character" }] })),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["error"]["details"]["field"], "examples[0].text");

    // Bulk add reports duplicates; the list pages.
    let added = ok_json(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("{base}/intents/{intent_id}/examples"),
            Some(json!({ "examples": [
                { "text": "fly to Berlin" }, { "text": "book a flight" }, { "text": "I need a plane ticket\nfor tomorrow" }
            ]})),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(added["added"].as_array().expect("added").len(), 2);
    assert_eq!(added["duplicates"], json!(["fly to Berlin"]));
    let page = ok_json(
        send_as(&app, &s, Method::GET, &format!("{base}/intents/{intent_id}/examples?limit=2"), None).await,
        200,
    )
    .await;
    assert_eq!(page["items"].as_array().expect("items").len(), 2);
    let next = page["next_cursor"].as_str().expect("cursor");
    let page2 = ok_json(
        send_as(&app, &s, Method::GET, &format!("{base}/intents/{intent_id}/examples?limit=2&after={next}"), None)
            .await,
        200,
    )
    .await;
    assert_eq!(page2["items"].as_array().expect("items").len(), 1);
    assert!(page2.get("next_cursor").is_none());

    // Edit an example's annotations; remove examples in bulk.
    let ex_id = added["added"][0]["id"].as_i64().expect("id");
    let edited = ok_json(
        send_as(
            &app,
            &s,
            Method::PATCH,
            &format!("{base}/examples/{ex_id}"),
            Some(json!({
                "entities": [{ "entity": "thing", "start": 7, "end": 13 }]
            })),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(edited["entities"][0]["value"], "flight");
    let removed = ok_json(
        send_as(&app, &s, Method::POST, &format!("{base}/examples/remove"), Some(json!({ "ids": [ex_id] }))).await,
        200,
    )
    .await;
    assert_eq!(removed["count"], 1);

    // Another bot's intent is not reachable through this bot.
    assert_error(
        send_as(&app, &s, Method::GET, &format!("/api/v1/bots/{other_bot}/nlu/intents/{intent_id}"), None).await,
        404,
        "intent_not_found",
    )
    .await;

    // Entities: list with synonyms, regex checked at save, system kinds.
    let city = ok_json(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("{base}/entities"),
            Some(json!({
                "name": "city", "type": "list",
                "values": [{ "value": "New York", "synonyms": ["NYC", "big apple", "NYC"] }, { "value": "Berlin" }]
            })),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(city["values"][0]["synonyms"], json!(["NYC", "big apple"]));
    let body = assert_error(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("{base}/entities"),
            Some(json!({ "name": "zip", "type": "regex", "pattern": "(\\d{5}" })),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["error"]["details"]["field"], "pattern");
    assert_error(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("{base}/entities"),
            Some(json!({ "name": "huge", "type": "regex", "pattern": "(\\w{50}){50}" })),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_error(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("{base}/entities"),
            Some(json!({ "name": "empty", "type": "regex", "pattern": "x*" })),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    ok_json(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("{base}/entities"),
            Some(json!({ "name": "zip", "type": "regex", "pattern": "\\b\\d{5}\\b" })),
        )
        .await,
        201,
    )
    .await;
    assert_error(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("{base}/entities"),
            Some(json!({ "name": "when", "type": "system", "system_type": "weekday" })),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    ok_json(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("{base}/entities"),
            Some(json!({ "name": "when", "type": "system", "system_type": "date" })),
        )
        .await,
        201,
    )
    .await;
    let city_id = city["id"].as_i64().expect("id");
    let patched = ok_json(
        send_as(
            &app,
            &s,
            Method::PATCH,
            &format!("{base}/entities/{city_id}"),
            Some(json!({ "values": [{ "value": "Paris", "synonyms": ["paname"] }] })),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(patched["values"], json!([{ "value": "Paris", "synonyms": ["paname"] }]));
    let list = ok_json(send_as(&app, &s, Method::GET, &format!("{base}/entities"), None).await, 200).await;
    assert_eq!(list["items"].as_array().expect("items").len(), 3);

    // Intents: rename, deactivate, delete.
    let updated = ok_json(
        send_as(
            &app,
            &s,
            Method::PATCH,
            &format!("{base}/intents/{intent_id}"),
            Some(json!({ "name": "book_flight", "is_active": false, "confidence_threshold": null })),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        (updated["name"].as_str(), updated["is_active"].as_bool(), updated["confidence_threshold"].is_null()),
        (Some("book_flight"), Some(false), true)
    );
    let status = send_as(&app, &s, Method::DELETE, &format!("{base}/intents/{intent_id}"), None).await.status();
    assert_eq!(status, 204);
    assert_eq!(count(&app, "SELECT count(*) FROM intent_examples"), 0, "examples go with their intent");
    let audited = count(&app, "SELECT count(*) FROM audit_logs WHERE action LIKE 'nlu.%'");
    assert!(audited >= 9, "every change is audited ({audited})");

    // A bot that was never trained: a clear error, not a crash.
    assert_error(
        send_as(&app, &s, Method::POST, &format!("{base}/parse"), Some(json!({ "text": "hello" }))).await,
        409,
        "nlu_not_trained",
    )
    .await;
    // Training data checks name what is missing.
    ok_json(send_as(&app, &s, Method::POST, &format!("{base}/intents"), Some(json!({ "name": "lonely" }))).await, 201)
        .await;
    ok_json(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("{base}/intents"),
            Some(json!({ "name": "hi", "examples": [{ "text": "hi" }] })),
        )
        .await,
        201,
    )
    .await;
    let body = assert_error(
        send_as(&app, &s, Method::POST, &format!("{base}/train"), None).await,
        422,
        "nlu_training_data_invalid",
    )
    .await;
    assert_eq!(body["error"]["details"]["intents_without_examples"], json!(["lonely"]));
    assert_eq!(count(&app, "SELECT count(*) FROM jobs WHERE kind = 'nlu.train'"), 0);
}

/// Schemathesis (docs/drills.md, ST105): the default export answered
/// `application/json` where the document declared only `text/plain`. Every
/// format's Content-Type must be one the operation declares.
#[tokio::test]
async fn each_nlu_export_format_answers_a_content_type_the_openapi_document_declares() {
    let app = spawn_app().await;
    let s = app.register("nlu-export-types@example.com").await;
    let bot = make_bot(&app, &s, "Export types").await;
    let spec: Value = app.get("/api/v1/openapi.json").await.json().await.expect("spec");
    let declared = spec["paths"]["/api/v1/bots/{bot_id}/nlu/export"]["get"]["responses"]["200"]["content"]
        .as_object()
        .expect("200 content")
        .clone();
    for (query, expected) in [
        ("", "application/json"),
        ("?format=json", "application/json"),
        ("?format=rasa", "application/yaml"),
        ("?format=csv", "text/csv"),
    ] {
        let r =
            app.as_user(&s, Method::GET, &format!("/api/v1/bots/{bot}/nlu/export{query}")).send().await.expect("send");
        assert_eq!(r.status().as_u16(), 200, "{query}");
        let content_type = r.headers()["content-type"].to_str().expect("header").to_owned();
        let media_type = content_type.split(';').next().unwrap_or_default().trim();
        assert_eq!(media_type, expected, "{query}");
        assert!(declared.contains_key(media_type), "{query}: {media_type} not in {:?}", declared.keys());
    }
    // The JSON export is described by the document's own schema, not as a string.
    assert_eq!(declared["application/json"]["schema"]["$ref"], "#/components/schemas/NluDocument");
}

#[tokio::test]
async fn import_and_export_in_three_formats_all_or_nothing() {
    let app = spawn_app().await;
    let s = app.register("nlu-io@example.com").await;
    let bot = make_bot(&app, &s, "IO bot").await;
    let copy = make_bot(&app, &s, "Copy bot").await;
    let rasa = "version: \"3.1\"\nnlu:\n- intent: greet\n  examples: |\n    - hey\n    - hello from [Berlin](city)\n- intent: travel\n  examples: |\n    - fly to [NYC](city:New York)\n    - go to [Paris](city)\n- synonym: Berlin\n  examples: |\n    - BER\n- regex: zip\n  examples: |\n    - \\b\\d{5}\\b\n";
    let r = app
        .as_user(&s, Method::POST, &format!("/api/v1/bots/{bot}/nlu/import?format=rasa"))
        .header("Content-Type", "application/yaml")
        .body(rasa)
        .send()
        .await
        .expect("send");
    let summary = ok_json(r, 200).await;
    assert_eq!(
        summary,
        json!({ "intents_created": 2, "examples_added": 4, "entities_created": 2, "entities_updated": 0 })
    );

    let exported =
        app.as_user(&s, Method::GET, &format!("/api/v1/bots/{bot}/nlu/export?format=json")).send().await.expect("send");
    assert!(exported.headers()["content-disposition"].to_str().expect("header").contains("attachment"));
    let doc: Value = exported.json().await.expect("json");
    let city =
        doc["entities"].as_array().expect("entities").iter().find(|e| e["name"] == "city").expect("city").clone();
    assert_eq!(
        city["values"],
        json!([
            { "value": "Berlin", "synonyms": ["BER"] }, { "value": "New York", "synonyms": ["NYC"] }, { "value": "Paris", "synonyms": [] }
        ])
    );
    let travel =
        doc["intents"].as_array().expect("intents").iter().find(|i| i["name"] == "travel").expect("travel").clone();
    assert_eq!(
        travel["examples"][0],
        json!({ "text": "fly to NYC", "entities": [{ "entity": "city", "value": "NYC", "start": 7, "end": 10 }] })
    );

    // JSON round trip into another bot gives the same document.
    let r = app
        .as_user(&s, Method::POST, &format!("/api/v1/bots/{copy}/nlu/import"))
        .header("Content-Type", "application/json")
        .body(doc.to_string())
        .send()
        .await
        .expect("send");
    ok_json(r, 200).await;
    let again: Value = app
        .as_user(&s, Method::GET, &format!("/api/v1/bots/{copy}/nlu/export"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(again, doc);

    // Rasa and CSV exports.
    let yaml = app
        .as_user(&s, Method::GET, &format!("/api/v1/bots/{bot}/nlu/export?format=rasa"))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    assert!(
        yaml.contains("- intent: \"travel\"")
            && yaml.contains("    - fly to [NYC](city)")
            && yaml.contains("- synonym: \"New York\""),
        "{yaml}"
    );
    let csv = app
        .as_user(&s, Method::GET, &format!("/api/v1/bots/{bot}/nlu/export?format=csv"))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    // Annotated examples: a third column holds their annotations (JSON).
    assert!(csv.starts_with("text,intent,entities\r\n") && csv.contains("hello from Berlin,greet,"), "{csv}");

    // Malformed files: 422 naming the line, nothing imported.
    let before = count(&app, "SELECT count(*) FROM intent_examples");
    let bad_csv = "text,intent\nnew one,greet\nthird,row,extra\n";
    let r = app
        .as_user(&s, Method::POST, &format!("/api/v1/bots/{bot}/nlu/import?format=csv"))
        .body(bad_csv)
        .send()
        .await
        .expect("send");
    let body = assert_error(r, 422, "import_invalid").await;
    assert_eq!(body["error"]["details"]["line"], 3);
    let bad_yaml = "nlu:\n- intent: greet\n  examples: |\n    - fine\n    - [broken(city)\n";
    let r = app
        .as_user(&s, Method::POST, &format!("/api/v1/bots/{bot}/nlu/import?format=rasa"))
        .body(bad_yaml)
        .send()
        .await
        .expect("send");
    let body = assert_error(r, 422, "import_invalid").await;
    assert_eq!(body["error"]["details"]["line"], 5);
    let r = app
        .as_user(&s, Method::POST, &format!("/api/v1/bots/{bot}/nlu/import?format=json"))
        .body("{\"format\": \"botbuilder-nlu\", \"version\": 1,\n \"intents\": [ {\"name\": 3} ]}")
        .send()
        .await
        .expect("send");
    let body = assert_error(r, 422, "import_invalid").await;
    assert_eq!(body["error"]["details"]["line"], 2);
    let r = app
        .as_user(&s, Method::POST, &format!("/api/v1/bots/{bot}/nlu/import?format=csv"))
        .body(vec![0xff_u8, 0xfe, b'\n'])
        .send()
        .await
        .expect("send");
    assert_error(r, 422, "import_invalid").await;
    assert_eq!(count(&app, "SELECT count(*) FROM intent_examples"), before, "nothing partially imported");

    // Replace mode starts from scratch.
    let r = app
        .as_user(&s, Method::POST, &format!("/api/v1/bots/{bot}/nlu/import?format=csv&mode=replace"))
        .body("text,intent\nhi there,greet\nbye now,bye\n")
        .send()
        .await
        .expect("send");
    ok_json(r, 200).await;
    let status = ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/nlu"), None).await, 200).await;
    assert_eq!(
        (status["intents"].as_i64(), status["examples"].as_i64(), status["entities"].as_i64()),
        (Some(2), Some(2), Some(0))
    );
}

#[tokio::test]
async fn training_is_a_job_parsing_uses_the_model_and_logs_in_the_background() {
    let app = spawn_app_with(|c| c.ml.enabled = true).await;
    let s = app.register("nlu-train@example.com").await;
    let bot = make_bot(&app, &s, "Restaurant").await;
    let base = format!("/api/v1/bots/{bot}/nlu");
    seed_restaurant(&app, &s, bot).await;
    ok_json(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("{base}/entities"),
            Some(json!({
                "name": "party_size_word", "type": "list", "values": [{ "value": "two", "synonyms": ["couple"] }]
            })),
        )
        .await,
        201,
    )
    .await;

    let job = ok_json(send_as(&app, &s, Method::POST, &format!("{base}/train"), None).await, 202).await;
    assert_eq!(job["status"], "queued");
    run_jobs(&app).await;
    let job = ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/jobs/{}", job["id"]), None).await, 200).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["result"]["version_number"], 1);
    assert_eq!(job["result"]["metrics"]["training"]["examples"], 24);
    assert_eq!(job["result"]["metrics"]["embedded_now"], 24, "nothing cached yet");
    assert_eq!(count(&app, "SELECT count(*) FROM intent_examples WHERE embedding IS NOT NULL"), 24);

    let parsed = ok_json(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("{base}/parse"),
            Some(json!({
                "text": "please reserve a table for a couple tomorrow at 8pm",
                "reference_time": "2025-03-14T10:00:00Z", "timezone": "Europe/Berlin"
            })),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(parsed["intent"]["name"], "book_table", "{parsed}");
    assert_eq!(parsed["out_of_scope"], false);
    assert_eq!(parsed["model_version"], 1);
    assert_eq!(parsed["ranking"].as_array().expect("ranking").len(), 3);
    let entities = parsed["entities"].as_array().expect("entities");
    let find = |name: &str| entities.iter().find(|e| e["entity"] == name).cloned().unwrap_or(Value::Null);
    assert_eq!(find("party_size_word")["resolved"], "two");
    assert_eq!(find("date")["resolved"], "2025-03-15");
    assert_eq!(find("time")["resolved"], "20:00:00");
    assert_eq!((find("time")["start"].as_u64(), find("time")["end"].as_u64()), (Some(48), Some(51)));

    // Logs are written off the request path, shortly after.
    let deadline = Instant::now() + Duration::from_secs(5);
    while count(&app, "SELECT count(*) FROM nlu_logs") < 1 {
        assert!(Instant::now() < deadline, "the parse was not logged");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (intent, version): (Option<String>, Option<i64>) = app.sql(|c| {
        c.query_row("SELECT detected_intent_name, model_version_id FROM nlu_logs", [], |r| Ok((r.get(0)?, r.get(1)?)))
    });
    assert_eq!(intent.as_deref(), Some("book_table"));
    assert!(version.is_some());

    // Bad input.
    assert_error(
        send_as(&app, &s, Method::POST, &format!("{base}/parse"), Some(json!({ "text": "   " }))).await,
        422,
        "validation_failed",
    )
    .await;
    assert_error(
        send_as(&app, &s, Method::POST, &format!("{base}/parse"), Some(json!({ "text": "a".repeat(2001) }))).await,
        422,
        "validation_failed",
    )
    .await;
    assert_error(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("{base}/parse"),
            Some(json!({ "text": "hi", "timezone": "Mars/Base" })),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    let r = app
        .as_user(&s, Method::POST, &format!("{base}/parse"))
        .header("Content-Type", "application/json")
        .body(b"{\"text\": \"caf\xe9\"}".to_vec())
        .send()
        .await
        .expect("send");
    assert_error(r, 400, "invalid_json").await;

    // Training the same data again: a new version with bit-identical weights,
    // from the vectors cached by the first training.
    let job = ok_json(send_as(&app, &s, Method::POST, &format!("{base}/train"), None).await, 202).await;
    run_jobs(&app).await;
    let job = ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/jobs/{}", job["id"]), None).await, 200).await;
    assert_eq!(job["result"]["metrics"]["embedded_now"], 0, "{job}");
    let files: Vec<(i64, i64)> = app.sql(|c| {
        let mut st = c.prepare(
            "SELECT version_number, weights_file_id FROM model_versions WHERE bot_id = ?1 ORDER BY version_number",
        )?;
        st.query_map([bot], |r| Ok((r.get(0)?, r.get(1)?)))?.collect()
    });
    assert_eq!(files.len(), 2);
    assert_eq!(files[0].1, files[1].1, "same data, same weights (content-addressed file)");
    let status = ok_json(send_as(&app, &s, Method::GET, &base, None).await, 200).await;
    assert_eq!(
        (status["active_model"]["version_number"].as_i64(), status["needs_training"].as_bool()),
        (Some(2), Some(false))
    );

    // New data: train, then roll back to version 1.
    let intents = ok_json(send_as(&app, &s, Method::GET, &format!("{base}/intents"), None).await, 200).await;
    let menu_id = intents["items"].as_array().expect("items").iter().find(|i| i["name"] == "menu").expect("menu")["id"]
        .as_i64()
        .expect("id");
    ok_json(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("{base}/intents/{menu_id}/examples"),
            Some(json!({ "examples": [{ "text": "any gluten free food?" }] })),
        )
        .await,
        201,
    )
    .await;
    let status = ok_json(send_as(&app, &s, Method::GET, &base, None).await, 200).await;
    assert_eq!(status["needs_training"], true);
    // An edited text loses its cached vector; the next training embeds only
    // the new and the edited example.
    let (example_id, old_text): (i64, String) = app.sql(|c| {
        c.query_row("SELECT id, text FROM intent_examples WHERE embedding IS NOT NULL ORDER BY id LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
    });
    ok_json(
        send_as(
            &app,
            &s,
            Method::PATCH,
            &format!("{base}/examples/{example_id}"),
            Some(json!({ "text": format!("{old_text} please") })),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        count(&app, &format!("SELECT count(*) FROM intent_examples WHERE id = {example_id} AND embedding IS NULL")),
        1
    );
    let job = ok_json(send_as(&app, &s, Method::POST, &format!("{base}/train"), None).await, 202).await;
    run_jobs(&app).await;
    let job = ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/jobs/{}", job["id"]), None).await, 200).await;
    assert_eq!(job["result"]["metrics"]["embedded_now"], 2, "{job}");
    let versions = ok_json(send_as(&app, &s, Method::GET, &format!("{base}/models"), None).await, 200).await;
    let v1 = versions["items"].as_array().expect("items").iter().find(|v| v["version_number"] == 1).expect("v1")["id"]
        .as_i64()
        .expect("id");
    let activated =
        ok_json(send_as(&app, &s, Method::POST, &format!("{base}/models/{v1}/activate"), None).await, 200).await;
    assert_eq!(activated["is_active"], true);
    let parsed = ok_json(
        send_as(&app, &s, Method::POST, &format!("{base}/parse"), Some(json!({ "text": "when do you open" }))).await,
        200,
    )
    .await;
    assert_eq!((parsed["model_version"].as_i64(), parsed["intent"]["name"].as_str()), (Some(1), Some("opening_hours")));
    assert_eq!(count(&app, &format!("SELECT count(*) FROM model_versions WHERE bot_id = {bot} AND is_active = 1")), 1);
    assert_error(
        send_as(&app, &s, Method::POST, &format!("{base}/models/999999/activate"), None).await,
        404,
        "model_version_not_found",
    )
    .await;
}

#[tokio::test]
async fn a_new_embedding_model_retrains_bots_with_unchanged_data_once() {
    let app = spawn_app_with(|c| c.ml.enabled = true).await;
    let s = app.register("nlu-upgrade@example.com").await;
    let (kept, edited) = (make_bot(&app, &s, "Kept").await, make_bot(&app, &s, "Edited").await);
    for bot in [kept, edited] {
        seed_restaurant(&app, &s, bot).await;
        ok_json(send_as(&app, &s, Method::POST, &format!("/api/v1/bots/{bot}/nlu/train"), None).await, 202).await;
    }
    run_jobs(&app).await;
    // An edit after training: retraining this bot would publish it, so only its owner may.
    ok_json(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("/api/v1/bots/{edited}/nlu/intents"),
            Some(json!({ "name": "greeting", "examples": [{ "text": "hello there" }, { "text": "good morning" }] })),
        )
        .await,
        201,
    )
    .await;

    // The same weights under another file name are another embedding model
    // to the server (its identity is file name and content hash).
    let models = tempfile::tempdir().expect("tempdir");
    let renamed = models.path().join("renamed-minilm.onnx");
    std::fs::copy(env!("BUNDLE_EMBED_MODEL"), &renamed).expect("copy model");
    let app = app
        .restart(|c| {
            c.ml.enabled = true;
            c.ml.model_path = Some(renamed.clone());
            c.ml.tokenizer_path = Some(env!("BUNDLE_EMBED_TOKENIZER").into());
        })
        .await;
    let retrain_jobs = "SELECT count(*) FROM jobs WHERE kind = 'nlu.train' AND idempotency_key LIKE 'nlu.retrain:%'";
    let deadline = Instant::now() + Duration::from_secs(30);
    while count(&app, retrain_jobs) < 1 {
        assert!(Instant::now() < deadline, "no retraining was enqueued after the embedding model changed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for bot in [kept, edited] {
        let path = format!("/api/v1/bots/{bot}/nlu");
        let status = ok_json(send_as(&app, &s, Method::GET, &path, None).await, 200).await;
        assert_eq!((&status["needs_training"], &status["embedding_model_changed"]), (&json!(true), &json!(true)));
        let r =
            send_as(&app, &s, Method::POST, &format!("{path}/parse"), Some(json!({ "text": "book a table" }))).await;
        assert_error(r, 409, "nlu_model_incompatible").await;
    }

    run_jobs(&app).await;
    assert_eq!(count(&app, retrain_jobs), 1, "only the bot with unchanged data");
    let parsed = ok_json(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("/api/v1/bots/{kept}/nlu/parse"),
            Some(json!({ "text": "can I reserve a table for tonight" })),
        )
        .await,
        200,
    )
    .await;
    assert_eq!((parsed["model_version"].as_i64(), parsed["intent"]["name"].as_str()), (Some(2), Some("book_table")));
    let status = ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/bots/{kept}/nlu"), None).await, 200).await;
    assert_eq!((&status["needs_training"], &status["embedding_model_changed"]), (&json!(false), &json!(false)));
    let embedder = status["active_model"]["metrics"]["embedder"].as_str().expect("embedder").to_owned();
    assert!(embedder.starts_with("renamed-minilm@"), "{embedder}");
    let r = send_as(&app, &s, Method::POST, &format!("/api/v1/bots/{edited}/nlu/parse"), Some(json!({ "text": "hi" })))
        .await;
    assert_error(r, 409, "nlu_model_incompatible").await;

    // Once per bot and embedding model: nothing more to enqueue now.
    let again = botbuilder::nlu::retrain::enqueue_for_embedder(&app.state, &embedder).await.expect("enqueue");
    assert!(again.is_empty(), "{again:?}");
}

#[tokio::test]
async fn misunderstood_utterances_are_assigned_and_evaluation_reports() {
    let app = spawn_app_with(|c| c.ml.enabled = true).await;
    let s = app.register("nlu-quality@example.com").await;
    let bot = make_bot(&app, &s, "Quality").await;
    let base = format!("/api/v1/bots/{bot}/nlu");
    seed_restaurant(&app, &s, bot).await;
    ok_json(send_as(&app, &s, Method::POST, &format!("{base}/train"), None).await, 202).await;
    run_jobs(&app).await;
    // An utterance far from every intent, and an intent that demands certainty.
    let intents = ok_json(send_as(&app, &s, Method::GET, &format!("{base}/intents"), None).await, 200).await;
    let hours_id =
        intents["items"].as_array().expect("items").iter().find(|i| i["name"] == "opening_hours").expect("hours")["id"]
            .as_i64()
            .expect("id");
    ok_json(
        send_as(
            &app,
            &s,
            Method::PATCH,
            &format!("{base}/intents/{hours_id}"),
            Some(json!({ "confidence_threshold": 0.999 })),
        )
        .await,
        200,
    )
    .await;
    let parsed = ok_json(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("{base}/parse"),
            Some(json!({ "text": "are you guys around late on weekends" })),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(parsed["out_of_scope"], true, "{parsed}");
    assert!(parsed["intent"].is_null());
    let deadline = Instant::now() + Duration::from_secs(5);
    let item = loop {
        let list = ok_json(send_as(&app, &s, Method::GET, &format!("{base}/misunderstood"), None).await, 200).await;
        if let Some(first) = list["items"].as_array().and_then(|a| a.first()).cloned() {
            break first;
        }
        assert!(Instant::now() < deadline, "the parse never reached the inbox");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let log_id = item["id"].as_i64().expect("id");
    let resolved = ok_json(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("{base}/misunderstood/{log_id}/assign"),
            Some(json!({ "intent_id": hours_id })),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(resolved["resolved_intent_id"], hours_id);
    assert_eq!(
        count(&app, "SELECT count(*) FROM intent_examples WHERE text = 'are you guys around late on weekends'"),
        1
    );
    assert_error(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("{base}/misunderstood/{log_id}/assign"),
            Some(json!({ "intent_id": hours_id })),
        )
        .await,
        409,
        "conflict",
    )
    .await;
    let list = ok_json(send_as(&app, &s, Method::GET, &format!("{base}/misunderstood"), None).await, 200).await;
    assert!(list["items"].as_array().expect("items").is_empty());

    // Cross-validation as a job.
    assert_error(
        send_as(&app, &s, Method::POST, &format!("{base}/evaluate"), Some(json!({ "folds": 1 }))).await,
        422,
        "validation_failed",
    )
    .await;
    let job =
        ok_json(send_as(&app, &s, Method::POST, &format!("{base}/evaluate"), Some(json!({ "folds": 4 }))).await, 202)
            .await;
    run_jobs(&app).await;
    let job = ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/jobs/{}", job["id"]), None).await, 200).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let report = &job["result"];
    assert_eq!(report["examples"], 25);
    assert!(report["accuracy"].as_f64().expect("accuracy") > 0.6, "{report}");
    assert_eq!(
        report["per_intent"].as_array().expect("per intent").iter().filter(|m| m["intent"] != "(out of scope)").count(),
        3
    );
    assert!(report["macro_f1"].as_f64().is_some() && report["micro_f1"].as_f64().is_some());
    assert!(report["confusions"].is_array() && report["matrix"].is_array());
}

/// Examples that a spreadsheet would run as formulas are exported with a
/// leading `'`; importing our own CSV takes it off again.
#[tokio::test]
async fn csv_export_defuses_formulas_and_its_import_restores_the_text() {
    let app = spawn_app().await;
    let s = app.register("nlu-csv-formulas@example.com").await;
    let bot = make_bot(&app, &s, "Formulas").await;
    let copy = make_bot(&app, &s, "Formulas copy").await;
    let texts = [
        "=HYPERLINK(\"http://evil.example\",\"click\")",
        "+49 30 1234567 is my number",
        "-5 degrees outside",
        "@team please help",
        "'=already quoted",
        "plain words, with a comma",
    ];
    // Seeded through the lossless JSON import.
    let examples: Vec<Value> = texts.iter().map(|t| json!({ "text": t })).collect();
    let seed = json!({ "intents": [{ "name": "odd", "examples": examples }] });
    let r = app
        .as_user(&s, Method::POST, &format!("/api/v1/bots/{bot}/nlu/import?format=json"))
        .header("Content-Type", "application/json")
        .body(seed.to_string())
        .send()
        .await
        .expect("send");
    ok_json(r, 200).await;

    let exported = app
        .as_user(&s, Method::GET, &format!("/api/v1/bots/{bot}/nlu/export?format=csv"))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    let mut reader = csv::ReaderBuilder::new().from_reader(exported.as_bytes());
    let cells: Vec<String> = reader.records().map(|r| r.expect("row")[0].to_owned()).collect();
    assert_eq!(
        cells,
        [
            "'=HYPERLINK(\"http://evil.example\",\"click\")",
            "'+49 30 1234567 is my number",
            "'-5 degrees outside",
            "'@team please help",
            "''=already quoted",
            "plain words, with a comma",
        ],
        "{exported}"
    );
    assert!(
        cells.iter().all(|c| !c.starts_with(['=', '+', '-', '@', '\t', '\r'])),
        "no cell may start a formula: {exported}"
    );

    // The round trip through our own CSV keeps every text.
    let r = app
        .as_user(&s, Method::POST, &format!("/api/v1/bots/{copy}/nlu/import?format=csv"))
        .body(exported)
        .send()
        .await
        .expect("send");
    ok_json(r, 200).await;
    let doc = ok_json(
        send_as(&app, &s, Method::GET, &format!("/api/v1/bots/{copy}/nlu/export?format=json"), None).await,
        200,
    )
    .await;
    let odd = doc["intents"].as_array().expect("intents").iter().find(|i| i["name"] == "odd").expect("odd").clone();
    let mut round: Vec<&str> =
        odd["examples"].as_array().expect("examples").iter().map(|e| e["text"].as_str().expect("text")).collect();
    let mut expected = texts.to_vec();
    round.sort_unstable();
    expected.sort_unstable();
    assert_eq!(round, expected);
}

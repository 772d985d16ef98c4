//! Annotations with roles and groups survive import and export (Rasa YAML,
//! JSON, CSV), and bad annotations are refused with the line and offsets.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, assert_error, ok_json, spawn_app};

async fn make_bot(app: &TestApp, s: &Session, name: &str) -> i64 {
    let org = s.org_id;
    app.sql(|c| c.execute("UPDATE organizations SET plan_tier = 'enterprise' WHERE id = ?1", [org]));
    let (status, bot) =
        app.call(s, Method::POST, &format!("/api/v1/orgs/{}/bots", s.org_id), Some(json!({ "name": name }))).await;
    assert_eq!(status, 201, "{bot}");
    bot["id"].as_i64().expect("id")
}

async fn import(app: &TestApp, s: &Session, bot: i64, format: &str, body: &str) -> reqwest::Response {
    app.as_user(s, Method::POST, &format!("/api/v1/bots/{bot}/nlu/import?format={format}"))
        .body(body.to_owned())
        .send()
        .await
        .expect("send")
}

async fn export(app: &TestApp, s: &Session, bot: i64, format: &str) -> String {
    app.as_user(s, Method::GET, &format!("/api/v1/bots/{bot}/nlu/export?format={format}"))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text")
}

const RASA: &str = "version: \"3.1\"
nlu:
- intent: book_trip
  examples: |
    - from [Berlin]{\"entity\": \"city\", \"role\": \"from\"} to [Paris]{\"entity\": \"city\", \"role\": \"to\"}
    - a [large]{\"entity\": \"size\", \"group\": \"1\"} [pepperoni]{\"entity\": \"topping\", \"group\": \"1\"} and a [small]{\"entity\": \"size\", \"group\": 2}
    - to [Rome](city)
";

#[tokio::test]
async fn rasa_roles_and_groups_round_trip_through_json_rasa_and_csv() {
    let app = spawn_app().await;
    let s = app.register("annotations@example.com").await;
    let bot = make_bot(&app, &s, "Trips").await;
    ok_json(import(&app, &s, bot, "rasa", RASA).await, 200).await;

    let doc: Value = serde_json::from_str(&export(&app, &s, bot, "json").await).expect("json");
    let examples = &doc["intents"][0]["examples"];
    assert_eq!(
        examples[0]["entities"],
        json!([
            { "entity": "city", "value": "Berlin", "start": 5, "end": 11, "role": "from" },
            { "entity": "city", "value": "Paris", "start": 15, "end": 20, "role": "to" }
        ])
    );
    assert_eq!(examples[1]["entities"][0]["group"], "1");
    assert_eq!(examples[1]["entities"][2]["group"], "2", "a numeric group is read as text");
    let city = doc["entities"].as_array().expect("entities").iter().find(|e| e["name"] == "city").expect("city");
    assert_eq!(city["roles"], json!(["from", "to"]), "roles used in Rasa data are declared");

    let yaml = export(&app, &s, bot, "rasa").await;
    assert!(
        yaml.contains(r#"    - from [Berlin]{"entity":"city","role":"from"} to [Paris]{"entity":"city","role":"to"}"#),
        "{yaml}"
    );
    assert!(yaml.contains(r#"[pepperoni]{"entity":"topping","group":"1"}"#), "{yaml}");
    assert!(yaml.contains("    - to [Rome](city)"), "{yaml}");

    // Rasa export → import into another bot → the same JSON document.
    let copy = make_bot(&app, &s, "Trips copy").await;
    ok_json(import(&app, &s, copy, "rasa", &yaml).await, 200).await;
    let again: Value = serde_json::from_str(&export(&app, &s, copy, "json").await).expect("json");
    assert_eq!(again["intents"], doc["intents"]);

    // CSV keeps annotations in a third column; a bot whose `city` declares
    // no roles refuses them, one that declares them takes them.
    let csv = export(&app, &s, bot, "csv").await;
    assert!(csv.starts_with("text,intent,entities\r\n"), "{csv}");
    let bare = make_bot(&app, &s, "Bare").await;
    let r = import(&app, &s, bare, "csv", &csv).await;
    let body = assert_error(r, 422, "nlu_role_undeclared").await;
    assert_eq!(body["error"]["details"]["line"], 2, "{body}");
    assert_eq!(body["error"]["details"]["role"], "from");
    assert_eq!(
        (body["error"]["details"]["start"].as_u64(), body["error"]["details"]["end"].as_u64()),
        (Some(5), Some(11))
    );
    let (status, _) = app
        .call(
            &s,
            Method::POST,
            &format!("/api/v1/bots/{bare}/nlu/entities"),
            Some(json!({ "name": "city", "type": "list", "values": [{ "value": "Berlin" }], "roles": ["from", "to"] })),
        )
        .await;
    assert_eq!(status, 201);
    ok_json(import(&app, &s, bare, "csv", &csv).await, 200).await;
    let from_csv: Value = serde_json::from_str(&export(&app, &s, bare, "json").await).expect("json");
    assert_eq!(from_csv["intents"], doc["intents"]);
}

#[tokio::test]
async fn bad_annotations_on_import_name_the_line_and_offsets() {
    let app = spawn_app().await;
    let s = app.register("bad-annotations@example.com").await;
    let bot = make_bot(&app, &s, "Strict").await;
    let overlapping = r#"{"format": "botbuilder-nlu", "version": 1, "intents": [ {"name": "book",
 "examples": [
  {"text": "fly to New York", "entities": [
     {"entity": "city", "start": 7, "end": 15}, {"entity": "state", "start": 11, "end": 15}]}
 ]} ]}"#;
    let body = assert_error(import(&app, &s, bot, "json", overlapping).await, 422, "import_invalid").await;
    let d = &body["error"]["details"];
    assert_eq!(d["line"], 3, "{body}");
    assert_eq!(d["spans"], json!([{ "start": 7, "end": 15 }, { "start": 11, "end": 15 }]), "{body}");
    assert!(body["error"]["message"].as_str().expect("message").contains("7..15 and 11..15"), "{body}");

    let out_of_range = r#"{"format": "botbuilder-nlu", "version": 1, "intents": [ {"name": "book",
 "examples": [
  {"text": "hi"},
  {"text": "to Köln", "entities": [ {"entity": "city", "start": 3, "end": 9} ]}
 ]} ]}"#;
    let body = assert_error(import(&app, &s, bot, "json", out_of_range).await, 422, "import_invalid").await;
    let d = &body["error"]["details"];
    assert_eq!((d["line"].as_u64(), d["start"].as_u64(), d["end"].as_u64()), (Some(4), Some(3), Some(9)), "{body}");

    let undeclared = r#"{"format": "botbuilder-nlu", "version": 1,
 "entities": [ {"name": "city", "type": "list", "values": [{"value": "Berlin"}], "roles": ["from"]} ],
 "intents": [ {"name": "book", "examples": [
  {"text": "to Berlin", "entities": [ {"entity": "city", "start": 3, "end": 9, "role": "to"} ]}
 ]} ]}"#;
    let body = assert_error(import(&app, &s, bot, "json", undeclared).await, 422, "nlu_role_undeclared").await;
    let d = &body["error"]["details"];
    assert_eq!(d["line"], 4, "{body}");
    assert_eq!((d["entity"].as_str(), d["role"].as_str()), (Some("city"), Some("to")));
    assert_eq!(d["declared"], json!(["from"]));
    assert_eq!(d["field"], "intents[0].examples[0].entities[0].role");
    let n: i64 = app.sql(|c| c.query_row("SELECT count(*) FROM intent_examples", [], |r| r.get(0)));
    assert_eq!(n, 0, "nothing imported");
}

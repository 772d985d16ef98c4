//! Issue 17, item 2: drafts always save (unfinished flows are warnings that
//! block publishing), the version history tells auto-saves from named
//! versions and publishes, and flows can be renamed, duplicated and deleted.

#![allow(clippy::too_many_lines, reason = "each test is one scenario")]

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, assert_error, ok_json, send_as, spawn_app};

async fn make_bot(app: &TestApp, s: &Session) -> i64 {
    let r =
        send_as(app, s, Method::POST, &format!("/api/v1/orgs/{}/bots", s.org_id), Some(json!({ "name": "Drafts" })))
            .await;
    ok_json(r, 201).await["id"].as_i64().expect("bot id")
}

fn greeting(text: &str) -> Value {
    json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "hello", "type": "message", "data": { "text": text } }
        ],
        "edges": [ { "source": "start", "target": "hello" } ]
    })
}

fn jumper(target: &str) -> Value {
    json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "go", "type": "jump", "data": { "flow": target } }
        ],
        "edges": [ { "source": "start", "target": "go" } ]
    })
}

async fn save(app: &TestApp, s: &Session, bot: i64, name: &str, doc: Value) -> Value {
    let r = send_as(app, s, Method::PUT, &format!("/api/v1/bots/{bot}/flows/{name}"), Some(json!({ "document": doc })))
        .await;
    ok_json(r, 201).await
}

async fn publish(app: &TestApp, s: &Session, bot: i64, name: &str) -> Value {
    let r = send_as(app, s, Method::POST, &format!("/api/v1/bots/{bot}/flows/{name}/publish"), Some(json!({}))).await;
    ok_json(r, 200).await
}

fn audits(app: &TestApp, action: &str) -> i64 {
    app.count(&format!("SELECT count(*) FROM audit_logs WHERE action = '{action}'"))
}

#[tokio::test]
async fn a_draft_with_an_unreachable_node_saves_and_publishing_refuses_it_until_fixed() {
    let app = spawn_app().await;
    let s = app.register("drafts-save@example.com").await;
    let bot = make_bot(&app, &s).await;
    let path = format!("/api/v1/bots/{bot}/flows/main");
    let mut doc = greeting("Hello!");
    doc["nodes"]
        .as_array_mut()
        .expect("nodes")
        .push(json!({ "id": "island", "type": "message", "data": { "text": "" } }));

    // Saved (201), with the unreachable node and the empty message as warnings that block publishing.
    let saved = save(&app, &s, bot, "main", doc.clone()).await;
    let issues = saved["issues"].as_array().expect("issues");
    let unreachable = issues.iter().find(|i| i["code"] == "unreachable_node").expect("unreachable_node");
    assert_eq!(unreachable["severity"], "warning", "{saved}");
    assert_eq!(unreachable["node_id"], "island");
    assert_eq!(unreachable["blocks_publish"], true);
    assert!(issues.iter().any(|i| i["code"] == "missing_field" && i["node_id"] == "island"), "{saved}");
    assert_eq!(saved["version"]["version"], 1);
    // The flow shows the same warnings.
    let detail = ok_json(send_as(&app, &s, Method::GET, &path, None).await, 200).await;
    assert!(detail["issues"].as_array().expect("issues").iter().any(|i| i["code"] == "unreachable_node"));

    // Publishing refuses it with the issues as errors.
    let body = assert_error(
        send_as(&app, &s, Method::POST, &format!("{path}/publish"), Some(json!({}))).await,
        422,
        "flow_invalid",
    )
    .await;
    let issues = body["error"]["details"]["issues"].as_array().expect("issues");
    assert!(
        issues.iter().any(|i| i["code"] == "unreachable_node" && i["severity"] == "error" && i["node_id"] == "island"),
        "{body}"
    );
    assert_eq!(app.count("SELECT count(*) FROM bot_flows WHERE is_active = 1"), 0);

    // Fixed: connected and given a text, it publishes.
    doc["nodes"][2]["data"]["text"] = json!("Anything else?");
    doc["edges"].as_array_mut().expect("edges").push(json!({ "source": "hello", "target": "island" }));
    let saved = save(&app, &s, bot, "main", doc).await;
    assert!(saved["issues"].as_array().expect("issues").is_empty(), "{saved}");
    let published = publish(&app, &s, bot, "main").await;
    assert_eq!(published["version"], 2);
    assert_eq!(published["is_published"], true);

    // A jump to a flow that does not exist yet: saved, refused at publish.
    let saved = save(&app, &s, bot, "side", jumper("nowhere")).await;
    let unknown = saved["issues"].as_array().expect("issues").iter().find(|i| i["code"] == "unknown_flow").cloned();
    assert_eq!(unknown.expect("unknown_flow")["blocks_publish"], true, "{saved}");
    let body = assert_error(
        send_as(&app, &s, Method::POST, &format!("/api/v1/bots/{bot}/flows/side/publish"), Some(json!({}))).await,
        422,
        "flow_invalid",
    )
    .await;
    assert_eq!(body["error"]["details"]["issues"][0]["code"], "unknown_flow", "{body}");

    // Genuinely unsavable documents are still refused on save.
    let twins =
        json!({ "nodes": [ { "id": "start", "type": "start" }, { "id": "start", "type": "end" } ], "edges": [] });
    let body = assert_error(
        send_as(&app, &s, Method::PUT, &path, Some(json!({ "document": twins }))).await,
        422,
        "flow_invalid",
    )
    .await;
    assert_eq!(body["error"]["details"]["issues"][0]["code"], "duplicate_node_id", "{body}");
    assert_error(
        send_as(&app, &s, Method::PUT, &path, Some(json!({ "document": { "nodes": [], "edges": "x" } }))).await,
        422,
        "validation_failed",
    )
    .await;
}

#[tokio::test]
async fn versions_say_whether_they_were_auto_saved_named_or_published() {
    let app = spawn_app().await;
    let s = app.register("drafts-kinds@example.com").await;
    let bot = make_bot(&app, &s).await;
    let path = format!("/api/v1/bots/{bot}/flows/main");
    save(&app, &s, bot, "main", greeting("v1")).await;
    publish(&app, &s, bot, "main").await;
    for text in ["v2", "v3"] {
        let body = json!({ "document": greeting(text), "autosave": true });
        ok_json(send_as(&app, &s, Method::PUT, &path, Some(body)).await, 201).await;
    }
    let body = json!({ "document": greeting("v4"), "message": "Friendlier greeting" });
    ok_json(send_as(&app, &s, Method::PUT, &path, Some(body)).await, 201).await;
    let versions = ok_json(send_as(&app, &s, Method::GET, &format!("{path}/versions"), None).await, 200).await;
    let kinds: Vec<(i64, &str)> = versions["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|v| (v["version"].as_i64().expect("version"), v["kind"].as_str().expect("kind")))
        .collect();
    assert_eq!(kinds, [(4, "named"), (3, "autosave"), (2, "autosave"), (1, "published")]);
    // The rest of the version view is unchanged.
    assert_eq!(versions["items"][0]["message"], "Friendlier greeting");
    assert_eq!(versions["items"][3]["is_published"], true);
}

#[tokio::test]
async fn a_renamed_flow_keeps_its_history_and_the_jumps_to_it_follow() {
    let app = spawn_app().await;
    let s = app.register("drafts-rename@example.com").await;
    let bot = make_bot(&app, &s).await;
    save(&app, &s, bot, "billing", greeting("Billing here.")).await;
    save(&app, &s, bot, "billing", greeting("Billing desk here.")).await;
    publish(&app, &s, bot, "billing").await;
    save(&app, &s, bot, "main", jumper("billing")).await;
    publish(&app, &s, bot, "main").await;
    // main's draft moves on (unpublished), still jumping to billing.
    let mut draft = jumper("billing");
    draft["nodes"].as_array_mut().expect("nodes").push(json!({ "id": "note", "type": "end" }));
    draft["edges"].as_array_mut().expect("edges").push(json!({ "source": "go", "target": "note" }));
    save(&app, &s, bot, "main", draft).await;

    let rename = format!("/api/v1/bots/{bot}/flows/billing/rename");
    let r = ok_json(send_as(&app, &s, Method::POST, &rename, Some(json!({ "new_name": "invoices" }))).await, 200).await;
    assert_eq!(r["name"], "invoices");
    assert_eq!(r["updated_flows"], json!(["main"]));
    // History kept: both versions are there under the new name, v2 published.
    let versions = ok_json(
        send_as(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/flows/invoices/versions"), None).await,
        200,
    )
    .await;
    assert_eq!(versions["items"].as_array().expect("items").len(), 2, "{versions}");
    assert_eq!(versions["items"][0]["is_published"], true);
    assert_error(
        send_as(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/flows/billing"), None).await,
        404,
        "flow_not_found",
    )
    .await;
    // main: the published version was republished with only the jump changed,
    // and the unpublished draft (with its extra node) stays the draft.
    let main =
        ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/flows/main"), None).await, 200).await;
    assert_eq!(main["published"]["document"]["nodes"][1]["data"]["flow"], "invoices", "{main}");
    assert_eq!(main["published"]["document"]["nodes"].as_array().expect("nodes").len(), 2);
    assert_eq!(main["draft"]["document"]["nodes"][1]["data"]["flow"], "invoices", "{main}");
    assert_eq!(main["draft"]["document"]["nodes"].as_array().expect("nodes").len(), 3);
    assert!(main["issues"].as_array().expect("issues").iter().all(|i| i["code"] != "unknown_flow"), "{main}");
    // End users still reach the renamed flow.
    let turn = ok_json(
        send_as(&app, &s, Method::POST, &format!("/api/v1/bots/{bot}/conversations"), Some(json!({}))).await,
        200,
    )
    .await;
    assert_eq!(turn["replies"][0]["text"], "Billing desk here.", "{turn}");
    assert_eq!(audits(&app, "flow.renamed"), 1);

    // Bad cases.
    let body = assert_error(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("/api/v1/bots/{bot}/flows/invoices/rename"),
            Some(json!({ "new_name": "main" })),
        )
        .await,
        409,
        "name_taken",
    )
    .await;
    assert_eq!(body["error"]["details"]["field"], "new_name");
    let body = assert_error(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("/api/v1/bots/{bot}/flows/invoices/rename"),
            Some(json!({ "new_name": "bad name!" })),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["error"]["details"]["field"], "new_name");
    assert_error(
        send_as(&app, &s, Method::POST, &rename, Some(json!({ "new_name": "whatever" }))).await,
        404,
        "flow_not_found",
    )
    .await;
}

#[tokio::test]
async fn a_flow_is_duplicated_from_its_draft_and_deleting_refuses_the_entry_flow_and_jump_targets() {
    let app = spawn_app().await;
    let s = app.register("drafts-dup@example.com").await;
    let bot = make_bot(&app, &s).await;
    save(&app, &s, bot, "main", jumper("faq")).await;
    save(&app, &s, bot, "faq", greeting("Published FAQ")).await;
    publish(&app, &s, bot, "faq").await;
    save(&app, &s, bot, "faq", greeting("Draft FAQ")).await;

    // Duplicate: the draft, as version 1 of a new unpublished flow.
    let dup = format!("/api/v1/bots/{bot}/flows/faq/duplicate");
    let copy = ok_json(send_as(&app, &s, Method::POST, &dup, Some(json!({ "new_name": "faq_copy" }))).await, 201).await;
    assert_eq!(copy["version"]["name"], "faq_copy");
    assert_eq!(copy["version"]["version"], 1);
    let detail =
        ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/flows/faq_copy"), None).await, 200).await;
    assert_eq!(detail["draft"]["document"]["nodes"][1]["data"]["text"], "Draft FAQ");
    assert!(detail["published"].is_null());
    assert_eq!(audits(&app, "flow.duplicated"), 1);
    assert_error(send_as(&app, &s, Method::POST, &dup, Some(json!({ "new_name": "main" }))).await, 409, "name_taken")
        .await;
    assert_error(send_as(&app, &s, Method::POST, &dup, Some(json!({}))).await, 422, "validation_failed").await;

    // Delete: not the entry flow, not a flow others jump to.
    let body = assert_error(
        send_as(&app, &s, Method::DELETE, &format!("/api/v1/bots/{bot}/flows/main"), None).await,
        409,
        "flow_in_use",
    )
    .await;
    assert_eq!(body["error"]["details"]["entry"], true, "{body}");
    let body = assert_error(
        send_as(&app, &s, Method::DELETE, &format!("/api/v1/bots/{bot}/flows/faq"), None).await,
        409,
        "flow_in_use",
    )
    .await;
    assert_eq!(body["error"]["details"]["flows"], json!(["main"]), "{body}");
    assert!(body["error"]["message"].as_str().expect("message").contains("main"));
    // The copy nobody refers to goes, with its history.
    let r = send_as(&app, &s, Method::DELETE, &format!("/api/v1/bots/{bot}/flows/faq_copy"), None).await;
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(app.count("SELECT count(*) FROM bot_flows WHERE name = 'faq_copy'"), 0);
    assert_eq!(audits(&app, "flow.deleted"), 1);
    // Once main jumps elsewhere, faq can go.
    save(&app, &s, bot, "main", greeting("Hi")).await;
    let r = send_as(&app, &s, Method::DELETE, &format!("/api/v1/bots/{bot}/flows/faq"), None).await;
    assert_eq!(r.status().as_u16(), 204);
}

//! Versions: snapshots, diff, rollback, branches and merge into main.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, spawn_app};

async fn setup() -> (TestApp, Session, i64) {
    let app = spawn_app().await;
    let owner = app.register("owner@example.com").await;
    let (_, bot) = app
        .call(&owner, Method::POST, &format!("/api/v1/orgs/{}/bots", owner.org_id), Some(json!({ "name": "Bot" })))
        .await;
    (app, owner, bot["id"].as_i64().expect("id"))
}

async fn commit(app: &TestApp, s: &Session, bot: i64, data: Value, branch: Option<&str>) -> Value {
    let mut body = json!({ "data": data, "message": "edit" });
    if let Some(b) = branch {
        body["branch"] = json!(b);
    }
    let (status, v) =
        app.call(s, Method::POST, &format!("/api/v1/orgs/{}/versions/bot/{bot}", s.org_id), Some(body)).await;
    assert_eq!(status, 201, "{v}");
    v
}

#[tokio::test]
async fn snapshots_diff_and_rollback() {
    let (app, owner, bot) = setup().await;
    let v1 = commit(&app, &owner, bot, json!({ "greeting": "Hi", "nodes": [{ "id": 1, "text": "a" }] }), None).await;
    let v2 = commit(
        &app,
        &owner,
        bot,
        json!({ "greeting": "Hello", "nodes": [{ "id": 1, "text": "b" }], "lang": "en" }),
        None,
    )
    .await;
    assert_eq!(
        (v1["version_number"].clone(), v2["version_number"].clone(), v2["branch"].clone()),
        (json!(1), json!(2), json!("main"))
    );

    let (_, list) =
        app.call(&owner, Method::GET, &format!("/api/v1/orgs/{}/versions/bot/{bot}", owner.org_id), None).await;
    let numbers: Vec<_> =
        list["items"].as_array().expect("items").iter().map(|v| v["version_number"].as_i64().expect("n")).collect();
    assert_eq!(numbers, [2, 1]);
    assert!(list["items"][0].get("data").is_none(), "lists carry no snapshots");
    let (_, got) = app.call(&owner, Method::GET, &format!("/api/v1/versions/{}", v1["id"]), None).await;
    assert_eq!(got["data"]["greeting"], "Hi");

    let (_, diff) = app.call(&owner, Method::GET, &format!("/api/v1/versions/{}/diff", v2["id"]), None).await;
    assert_eq!(diff["from_version_number"], 1);
    let changes = diff["changes"].as_array().expect("changes");
    assert!(changes.contains(&json!({ "op": "replace", "path": "/greeting", "old": "Hi", "value": "Hello" })));
    assert!(changes.contains(&json!({ "op": "replace", "path": "/nodes/0/text", "old": "a", "value": "b" })));
    assert!(changes.contains(&json!({ "op": "add", "path": "/lang", "value": "en" })));
    let (_, reverse) =
        app.call(&owner, Method::GET, &format!("/api/v1/versions/{}/diff?against={}", v1["id"], v2["id"]), None).await;
    assert!(
        reverse["changes"]
            .as_array()
            .expect("changes")
            .contains(&json!({ "op": "remove", "path": "/lang", "old": "en" }))
    );

    // Rollback: the old snapshot becomes version 3 on main.
    let (status, v3) = app.call(&owner, Method::POST, &format!("/api/v1/versions/{}/rollback", v1["id"]), None).await;
    assert_eq!(status, 201, "{v3}");
    assert_eq!((v3["version_number"].clone(), v3["data"].clone()), (json!(3), got["data"].clone()));
    assert_eq!(v3["message"], "Rollback to version 1");
    // A viewer can neither roll back nor commit.
    let viewer = app.join(&owner, owner.org_id, "viewer@example.com", "viewer").await;
    let (status, _) = app.call(&viewer, Method::POST, &format!("/api/v1/versions/{}/rollback", v1["id"]), None).await;
    assert_eq!(status, 403);
    let (status, body) = app
        .call(
            &viewer,
            Method::POST,
            &format!("/api/v1/orgs/{}/versions/bot/{bot}", owner.org_id),
            Some(json!({ "data": {} })),
        )
        .await;
    assert_eq!((status, body["error"]["code"].clone()), (403, json!("forbidden")));
    // Bad input and other tenants.
    let org = owner.org_id;
    let (status, body) = app
        .call(
            &owner,
            Method::POST,
            &format!("/api/v1/orgs/{org}/versions/spaceship/{bot}"),
            Some(json!({ "data": {} })),
        )
        .await;
    assert_eq!((status, body["error"]["details"]["field"].clone()), (422, json!("entity_type")));
    let (status, body) = app
        .call(&owner, Method::POST, &format!("/api/v1/orgs/{org}/versions/bot/999999"), Some(json!({ "data": {} })))
        .await;
    assert_eq!((status, body["error"]["code"].clone()), (404, json!("entity_not_found")));
    let (status, body) = app
        .call(
            &owner,
            Method::POST,
            &format!("/api/v1/orgs/{org}/versions/bot/{bot}"),
            Some(json!({ "message": "no data" })),
        )
        .await;
    assert_eq!((status, body["error"]["details"]["field"].clone()), (422, json!("data")));
    let stranger = app.register("stranger@example.com").await;
    let (status, body) = app.call(&stranger, Method::GET, &format!("/api/v1/versions/{}", v1["id"]), None).await;
    assert_eq!((status, body["error"]["code"].clone()), (404, json!("version_not_found")));
    let (status, _) = app
        .call(
            &stranger,
            Method::POST,
            &format!("/api/v1/orgs/{}/versions/bot/{bot}", stranger.org_id),
            Some(json!({ "data": {} })),
        )
        .await;
    assert_eq!(status, 404, "a bot of another organization is not an entity here");
    assert_eq!(app.count("SELECT count(*) FROM entity_versions"), 3);
}

#[tokio::test]
async fn branches_merge_into_main_fast_forward_three_way_or_refuse_conflicts() {
    let (app, owner, bot) = setup().await;
    let org = owner.org_id;
    commit(&app, &owner, bot, json!({ "a": 1, "b": 1, "c": 1 }), None).await;
    let branches = format!("/api/v1/orgs/{org}/versions/bot/{bot}/branches");
    let (status, draft) = app.call(&owner, Method::POST, &branches, Some(json!({ "name": "draft" }))).await;
    assert_eq!(status, 201, "{draft}");
    let (status, body) = app.call(&owner, Method::POST, &branches, Some(json!({ "name": "main" }))).await;
    assert_eq!((status, body["error"]["details"]["field"].clone()), (422, json!("name")));
    let (status, _) = app.call(&owner, Method::POST, &branches, Some(json!({ "name": "draft" }))).await;
    assert_eq!(status, 409);
    let draft_id = draft["id"].as_i64().expect("id");
    let merge = format!("/api/v1/branches/{draft_id}/merge");
    let (status, body) = app.call(&owner, Method::POST, &merge, None).await;
    assert_eq!((status, body["error"]["code"].clone()), (409, json!("conflict")), "nothing to merge yet");

    // Fast-forward: main has not moved.
    commit(&app, &owner, bot, json!({ "a": 2, "b": 1, "c": 1 }), Some("draft")).await;
    let (status, merged) = app.call(&owner, Method::POST, &merge, Some(json!({ "message": "ship it" }))).await;
    assert_eq!(
        (status, merged["branch"].clone(), merged["data"].clone()),
        (201, json!("main"), json!({ "a": 2, "b": 1, "c": 1 }))
    );
    // Three-way: both moved, different fields.
    commit(&app, &owner, bot, json!({ "a": 2, "b": 2, "c": 1 }), Some("draft")).await;
    commit(&app, &owner, bot, json!({ "a": 2, "b": 1, "c": 3 }), None).await;
    let (status, merged) = app.call(&owner, Method::POST, &merge, None).await;
    assert_eq!((status, merged["data"].clone()), (201, json!({ "a": 2, "b": 2, "c": 3 })), "{merged}");
    // Conflict: both changed the same field differently; main stays as it was.
    commit(&app, &owner, bot, json!({ "a": 5, "b": 2, "c": 3 }), Some("draft")).await;
    commit(&app, &owner, bot, json!({ "a": 9, "b": 2, "c": 3 }), None).await;
    let versions_before = app.count("SELECT count(*) FROM entity_versions");
    let (status, body) = app.call(&owner, Method::POST, &merge, None).await;
    assert_eq!(
        (status, body["error"]["code"].clone(), body["error"]["details"]["paths"].clone()),
        (409, json!("merge_conflict"), json!(["/a"]))
    );
    assert_eq!(app.count("SELECT count(*) FROM entity_versions"), versions_before);

    let (_, list) = app.call(&owner, Method::GET, &branches, None).await;
    let names: Vec<_> =
        list.as_array().expect("branches").iter().map(|b| b["name"].as_str().expect("n").to_owned()).collect();
    assert_eq!(names, ["main", "draft"]);
    let main_id = list[0]["id"].as_i64().expect("id");
    let (status, _) = app.call(&owner, Method::DELETE, &format!("/api/v1/branches/{main_id}"), None).await;
    assert_eq!(status, 409, "main cannot be deleted");
    let (status, _) = app.call(&owner, Method::DELETE, &format!("/api/v1/branches/{draft_id}"), None).await;
    assert_eq!(status, 204);
    let (_, list) =
        app.call(&owner, Method::GET, &format!("/api/v1/orgs/{org}/versions/bot/{bot}?branch=main"), None).await;
    assert!(list["items"].as_array().expect("items").iter().all(|v| v["branch"] == "main"));
    let actions = app.count("SELECT count(*) FROM audit_logs WHERE action IN ('branch.created', 'branch.merged', 'branch.deleted', 'version.created')");
    assert!(actions >= 9, "{actions}");
}

//! Bot CRUD, the plan's bot limit and tenant isolation.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{assert_error, spawn_app, spawn_app_with};

#[tokio::test]
async fn bot_crud_round_trip() {
    let app = spawn_app().await;
    let s = app.register("owner@example.com").await;
    let created: Value = app
        .as_user(&s, Method::POST, &format!("/api/v1/orgs/{}/bots", s.org_id))
        .json(&json!({ "name": " Support ", "language": "pt-BR" }))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(created["name"], "Support");
    assert_eq!(created["language"], "pt-BR");
    assert!(created["widget_key"].as_str().expect("key").starts_with("wk_"));
    let id = created["id"].as_i64().expect("id");

    let patched: Value = app
        .as_user(&s, Method::PATCH, &format!("/api/v1/bots/{id}"))
        .json(&json!({ "description": "Answers questions", "is_active": false }))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(patched["description"], "Answers questions");
    assert_eq!(patched["is_active"], false);
    assert_eq!(patched["name"], "Support");

    let list: Value = app
        .as_user(&s, Method::GET, &format!("/api/v1/orgs/{}/bots", s.org_id))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(list["items"].as_array().expect("items").len(), 1);

    let bad = app
        .as_user(&s, Method::PATCH, &format!("/api/v1/bots/{id}"))
        .json(&json!({ "language": "english" }))
        .send()
        .await
        .expect("send");
    assert_eq!(assert_error(bad, 422, "validation_failed").await["error"]["details"]["field"], "language");

    let deleted = app.as_user(&s, Method::DELETE, &format!("/api/v1/bots/{id}")).send().await.expect("send");
    assert_eq!(deleted.status(), 204);
    assert_error(
        app.as_user(&s, Method::GET, &format!("/api/v1/bots/{id}")).send().await.expect("send"),
        404,
        "bot_not_found",
    )
    .await;
    let audited: Vec<String> = app.sql(|c| {
        c.prepare("SELECT action FROM audit_logs WHERE resource_type = 'bot' ORDER BY id")?
            .query_map([], |r| r.get(0))?
            .collect()
    });
    assert_eq!(audited, ["bot.created", "bot.updated", "bot.deleted"]);
}

#[tokio::test]
async fn free_plan_allows_one_bot() {
    let app = spawn_app_with(|c| c.billing.enabled = true).await;
    let s = app.register("free@example.com").await;
    let path = format!("/api/v1/orgs/{}/bots", s.org_id);
    let first = app.as_user(&s, Method::POST, &path).json(&json!({ "name": "One" })).send().await.expect("send");
    assert_eq!(first.status(), 201);
    let second = app.as_user(&s, Method::POST, &path).json(&json!({ "name": "Two" })).send().await.expect("send");
    let body = assert_error(second, 402, "plan_limit_exceeded").await;
    assert_eq!(body["error"]["details"]["limit"], "bots");
    let count: i64 = app.sql(|c| c.query_row("SELECT count(*) FROM bots", [], |r| r.get(0)));
    assert_eq!(count, 1);
}

#[tokio::test]
async fn bots_of_another_organization_are_404() {
    let app = spawn_app().await;
    let alice = app.register("alice@example.com").await;
    let mallory = app.register("mallory@example.com").await;
    let bot: Value = app
        .as_user(&alice, Method::POST, &format!("/api/v1/orgs/{}/bots", alice.org_id))
        .json(&json!({ "name": "Private" }))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let id = bot["id"].as_i64().expect("id");
    for method in [Method::GET, Method::PATCH, Method::DELETE] {
        let r = app
            .as_user(&mallory, method.clone(), &format!("/api/v1/bots/{id}"))
            .json(&json!({}))
            .send()
            .await
            .expect("send");
        assert_error(r, 404, "bot_not_found").await;
    }
    let r =
        app.as_user(&mallory, Method::GET, &format!("/api/v1/orgs/{}/bots", alice.org_id)).send().await.expect("send");
    assert_error(r, 404, "org_not_found").await;
    let still: String = app.sql(|c| c.query_row("SELECT name FROM bots WHERE id = ?1", [id], |r| r.get(0)));
    assert_eq!(still, "Private");
}

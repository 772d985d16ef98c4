//! API tokens: shown once, stored as an HMAC, scopes within the creator's
//! permissions, bot restriction, expiry, last use, revocation.

use botbuilder::crypto::sha256;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{assert_error, spawn_app};

#[tokio::test]
async fn tokens_are_shown_once_stored_as_hmac_and_limited_to_their_scopes() {
    let app = spawn_app().await;
    let owner = app.register("owner@example.com").await;
    let org = owner.org_id;
    let path = format!("/api/v1/orgs/{org}/api-tokens");
    let (status, created) =
        app.call(&owner, Method::POST, &path, Some(json!({ "name": "CI", "scopes": ["bots.read"] }))).await;
    assert_eq!(status, 201, "{created}");
    let token = created["token"].as_str().expect("token").to_owned();
    assert!(token.starts_with("bb_") && token.len() > 40);
    assert_eq!(created["prefix"], &token[..10]);
    // Neither the token nor its plain hash is stored: only the keyed MAC.
    let stored: Vec<u8> = app.sql(|c| c.query_row("SELECT token_hash FROM api_tokens", [], |r| r.get(0)));
    assert_eq!(stored, app.state.keys.mac_token(&token).to_vec());
    assert_ne!(stored, sha256(token.as_bytes()).to_vec());
    let (_, list) = app.call(&owner, Method::GET, &path, None).await;
    assert!(!list.to_string().contains(&token), "the secret is never listed");
    assert_eq!(list["items"][0]["status"], "active");

    let bots = format!("/api/v1/orgs/{org}/bots");
    let r = app.as_token(&token, Method::GET, &bots).send().await.expect("send");
    assert_eq!(r.status(), 200);
    let r = app.as_token(&token, Method::POST, &bots).json(&json!({ "name": "B" })).send().await.expect("send");
    assert_eq!(assert_error(r, 403, "forbidden").await["error"]["details"]["permission"], "bots.write");
    // Tokens need no CSRF header; they reach only their own organization.
    let other = app.register("other@example.com").await;
    let r =
        app.as_token(&token, Method::GET, &format!("/api/v1/orgs/{}/bots", other.org_id)).send().await.expect("send");
    assert_error(r, 404, "org_not_found").await;
    let used = app.count("SELECT count(*) FROM api_tokens WHERE last_used_at IS NOT NULL");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut used = used;
    while used == 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        used = app.count("SELECT count(*) FROM api_tokens WHERE last_used_at IS NOT NULL");
    }
    assert_eq!(used, 1, "last use is recorded");

    // Revoked: at once.
    let id = created["id"].as_i64().expect("id");
    let (status, _) = app.call(&owner, Method::DELETE, &format!("/api/v1/api-tokens/{id}"), None).await;
    assert_eq!(status, 204);
    let r = app.as_token(&token, Method::GET, &bots).send().await.expect("send");
    assert_error(r, 401, "unauthenticated").await;
    let (status, _) = app.call(&owner, Method::DELETE, &format!("/api/v1/api-tokens/{id}"), None).await;
    assert_eq!(status, 409);
    let (status, body) = app.call(&other, Method::DELETE, &format!("/api/v1/api-tokens/{id}"), None).await;
    assert_eq!((status, body["error"]["code"].clone()), (404, json!("api_token_not_found")));
}

#[tokio::test]
async fn nobody_gives_a_token_more_than_they_have() {
    let app = spawn_app().await;
    let owner = app.register("owner@example.com").await;
    let org = owner.org_id;
    let editor = app.join(&owner, org, "editor@example.com", "editor").await;
    let path = format!("/api/v1/orgs/{org}/api-tokens");
    let before = app.count("SELECT count(*) FROM api_tokens");
    let (status, body) = app
        .call(&editor, Method::POST, &path, Some(json!({ "name": "x", "scopes": ["bots.read", "members.manage"] })))
        .await;
    assert_eq!((status, body["error"]["code"].clone()), (403, json!("role_escalation")));
    assert_eq!(body["error"]["details"]["permissions"], json!(["members.manage"]));
    for (bad, field) in [
        (json!({ "name": "", "scopes": [] }), "name"),
        (json!({ "name": "x", "scopes": ["nope"] }), "scopes[0]"),
        (json!({ "name": "x", "scopes": [], "expires_at": "2001-01-01T00:00:00Z" }), "expires_at"),
        (json!({ "name": "x", "scopes": [], "expires_at": "tomorrow" }), "expires_at"),
        (json!({ "name": "x", "scopes": [], "bot_id": 987_654 }), "bot_id"),
    ] {
        let (status, body) = app.call(&editor, Method::POST, &path, Some(bad)).await;
        assert_eq!((status, body["error"]["details"]["field"].clone()), (422, json!(field)), "{body}");
    }
    assert_eq!(app.count("SELECT count(*) FROM api_tokens"), before);

    // A token with api_tokens.manage can mint only within its own scopes.
    let (_, minter) = app
        .call(
            &owner,
            Method::POST,
            &path,
            Some(json!({ "name": "minter", "scopes": ["api_tokens.manage", "bots.read"] })),
        )
        .await;
    let minter = minter["token"].as_str().expect("token").to_owned();
    let r = app
        .as_token(&minter, Method::POST, &path)
        .json(&json!({ "name": "child", "scopes": ["bots.write"] }))
        .send()
        .await
        .expect("send");
    assert_error(r, 403, "role_escalation").await;
    let r = app
        .as_token(&minter, Method::POST, &path)
        .json(&json!({ "name": "child", "scopes": ["bots.read"] }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201);
    // A token never exceeds its creator's current role: demote the editor,
    // and their broader token shrinks with them.
    let (_, wide) = app
        .call(&editor, Method::POST, &path, Some(json!({ "name": "w", "scopes": ["bots.read", "bots.write"] })))
        .await;
    let wide = wide["token"].as_str().expect("token").to_owned();
    let (status, _) = app
        .call(
            &owner,
            Method::PATCH,
            &format!("/api/v1/orgs/{org}/members/{}", editor.user_id),
            Some(json!({ "role": "viewer" })),
        )
        .await;
    assert_eq!(status, 200);
    let r = app
        .as_token(&wide, Method::POST, &format!("/api/v1/orgs/{org}/bots"))
        .json(&json!({ "name": "B" }))
        .send()
        .await
        .expect("send");
    assert_error(r, 403, "forbidden").await;
}

#[tokio::test]
async fn bot_restricted_and_expiring_tokens() {
    let app = spawn_app().await;
    let owner = app.register("owner@example.com").await;
    let org = owner.org_id;
    app.sql(|c| c.execute("UPDATE organizations SET plan_tier = 'pro'", []));
    let (_, one) =
        app.call(&owner, Method::POST, &format!("/api/v1/orgs/{org}/bots"), Some(json!({ "name": "One" }))).await;
    let (_, two) =
        app.call(&owner, Method::POST, &format!("/api/v1/orgs/{org}/bots"), Some(json!({ "name": "Two" }))).await;
    let expires = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let (status, created) = app
        .call(
            &owner,
            Method::POST,
            &format!("/api/v1/orgs/{org}/api-tokens"),
            Some(json!({ "name": "bot one", "scopes": ["bots.read"], "bot_id": one["id"], "expires_at": expires })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let token = created["token"].as_str().expect("token").to_owned();
    let r = app.as_token(&token, Method::GET, &format!("/api/v1/bots/{}", one["id"])).send().await.expect("send");
    assert_eq!(r.status(), 200);
    let r = app.as_token(&token, Method::GET, &format!("/api/v1/bots/{}", two["id"])).send().await.expect("send");
    assert_error(r, 404, "bot_not_found").await;
    let r = app.as_token(&token, Method::GET, &format!("/api/v1/orgs/{org}/bots")).send().await.expect("send");
    assert_error(r, 403, "forbidden").await;
    app.sql(|c| c.execute("UPDATE api_tokens SET expires_at = '2000-01-01T00:00:00.000Z'", []));
    let r = app.as_token(&token, Method::GET, &format!("/api/v1/bots/{}", one["id"])).send().await.expect("send");
    assert_error(r, 401, "unauthenticated").await;
    let (_, list) = app.call(&owner, Method::GET, &format!("/api/v1/orgs/{org}/api-tokens"), None).await;
    assert_eq!(list["items"][0]["status"], "expired");
}

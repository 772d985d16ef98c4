//! Sign-up, sign-in, sessions, CSRF and bearer tokens.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, spawn_app, spawn_app_with};

/// A server that can email (the links are read from the email queue; the
/// send jobs are never run here).
async fn app_that_emails() -> TestApp {
    spawn_app_with(|c| c.smtp.host = Some("127.0.0.1".into())).await
}

#[tokio::test]
async fn register_creates_user_personal_org_and_owner_membership() {
    let app = app_that_emails().await;
    let r = app
        .post_json(
            "/api/v1/auth/register",
            &json!({ "email": "  Ada@Example.COM ", "password": "correct horse 42", "name": "Ada" }),
        )
        .await;
    assert_eq!(r.status(), 202);
    assert!(r.headers().get("set-cookie").is_none(), "sign-up alone does not sign in");
    // The emailed link confirms the address and signs in.
    let token = app.emailed_token("ada@example.com", "verify_email");
    let r = app.post_json("/api/v1/auth/verify-email", &json!({ "token": token })).await;
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"].to_str().expect("cookie").to_owned();
    for attribute in ["__Host-bb_session=", "Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} missing in {cookie}");
    }
    let me: Value = r.json().await.expect("json");
    assert_eq!(me["user"]["email"], "ada@example.com");
    assert_eq!(me["user"]["email_verified"], true);
    assert_eq!(me["organizations"][0]["role"], "owner");
    assert_eq!(me["organizations"][0]["name"], "Ada's Organization");
    assert!(me["organizations"][0]["permissions"].as_array().expect("perms").iter().any(|p| p == "org.delete"));

    // The password is stored as Argon2id, the session only as a hash.
    let (hash, sessions): (String, i64) = app.sql(|c| {
        c.query_row("SELECT password_hash, (SELECT count(*) FROM user_sessions) FROM users", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
    });
    assert!(hash.starts_with("$argon2id$"));
    assert_eq!(sessions, 1);
    let token = cookie.split(';').next().expect("pair").split('=').nth(1).expect("value").to_owned();
    let stored_plain: i64 = app.sql(|c| {
        c.query_row("SELECT count(*) FROM user_sessions WHERE token_hash = ?1", [token.as_bytes()], |r| r.get(0))
    });
    assert_eq!(stored_plain, 0, "the raw session token must not be stored");
    let actions: Vec<String> =
        app.sql(|c| c.prepare("SELECT action FROM audit_logs ORDER BY id")?.query_map([], |r| r.get(0))?.collect());
    assert!(
        actions.contains(&"user.registered".to_owned()) && actions.contains(&"org.created".to_owned()),
        "{actions:?}"
    );
}

#[tokio::test]
async fn duplicate_email_and_weak_password_change_nothing() {
    let app = app_that_emails().await;
    app.register("dup@example.com").await;
    let r = app
        .post_json(
            "/api/v1/auth/register",
            &json!({ "email": "DUP@example.com", "password": "correct horse 42", "name": "Other" }),
        )
        .await;
    assert_eq!(r.status(), 202);
    for (password, code) in [("short1", "validation_failed"), ("password123", "weak_password")] {
        let r = app
            .post_json(
                "/api/v1/auth/register",
                &json!({ "email": "new@example.com", "password": password, "name": "N" }),
            )
            .await;
        let body = assert_error(r, 422, code).await;
        assert_eq!(body["error"]["details"]["field"], "password", "{password}");
    }
    let r = app
        .post_json(
            "/api/v1/auth/register",
            &json!({ "email": "not-an-email", "password": "correct horse 42", "name": "N" }),
        )
        .await;
    assert_eq!(assert_error(r, 422, "validation_failed").await["error"]["details"]["field"], "email");
    let (users, orgs): (i64, i64) = app.sql(|c| {
        c.query_row("SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM organizations)", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
    });
    assert_eq!((users, orgs), (1, 1));
}

#[tokio::test]
async fn login_does_not_reveal_which_part_is_wrong() {
    let app = spawn_app().await;
    app.register("who@example.com").await;
    let wrong_password =
        app.post_json("/api/v1/auth/login", &json!({ "email": "who@example.com", "password": "nope nope 1" })).await;
    let unknown_email =
        app.post_json("/api/v1/auth/login", &json!({ "email": "nobody@example.com", "password": "nope nope 1" })).await;
    let a = assert_error(wrong_password, 401, "invalid_credentials").await;
    let b = assert_error(unknown_email, 401, "invalid_credentials").await;
    assert_eq!(a["error"]["message"], b["error"]["message"]);
    let failures: i64 = app
        .sql(|c| c.query_row("SELECT count(*) FROM audit_logs WHERE action = 'user.login.failed'", [], |r| r.get(0)));
    assert_eq!(failures, 2);
    let session = app.login("WHO@example.com", "correct horse 42").await;
    let me: Value =
        app.as_user(&session, Method::GET, "/api/v1/me").send().await.expect("send").json().await.expect("json");
    assert_eq!(me["user"]["id"], session.user_id);
    assert_eq!(me["csrf_token"], session.csrf.as_str());
}

#[tokio::test]
async fn csrf_is_required_for_cookie_writes_and_logout_ends_the_session() {
    let app = spawn_app().await;
    let session = app.register("csrf@example.com").await;
    let path = format!("/api/v1/orgs/{}/bots", session.org_id);
    let no_csrf = app
        .request(Method::POST, &path)
        .header("Cookie", &session.cookie)
        .json(&json!({ "name": "B" }))
        .send()
        .await
        .expect("send");
    assert_error(no_csrf, 403, "csrf_failed").await;
    let wrong = app
        .request(Method::POST, &path)
        .header("Cookie", &session.cookie)
        .header("X-CSRF-Token", "forged")
        .json(&json!({ "name": "B" }))
        .send()
        .await
        .expect("send");
    assert_error(wrong, 403, "csrf_failed").await;
    let ok = app.as_user(&session, Method::POST, &path).json(&json!({ "name": "B" })).send().await.expect("send");
    assert_eq!(ok.status(), 201);

    let out = app.as_user(&session, Method::POST, "/api/v1/auth/logout").send().await.expect("send");
    assert_eq!(out.status(), 204);
    assert!(out.headers()["set-cookie"].to_str().expect("cookie").contains("Max-Age=0"));
    let after = app.as_user(&session, Method::GET, "/api/v1/me").send().await.expect("send");
    assert_error(after, 401, "unauthenticated").await;
}

#[tokio::test]
async fn anonymous_and_garbage_credentials_are_401() {
    let app = spawn_app().await;
    assert_error(app.get("/api/v1/me").await, 401, "unauthenticated").await;
    let r = app.as_token("bb_not_a_real_token", Method::GET, "/api/v1/me").send().await.expect("send");
    assert_error(r, 401, "unauthenticated").await;
    let r = app.as_token("something-else", Method::GET, "/api/v1/me").send().await.expect("send");
    assert_error(r, 401, "unauthenticated").await;
    let r =
        app.request(Method::GET, "/api/v1/me").header("Cookie", "__Host-bb_session=forged").send().await.expect("send");
    assert_error(r, 401, "unauthenticated").await;
}

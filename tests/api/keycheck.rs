//! The master key check and unreadable secrets: a data file remembers which
//! key wrote it, and a secret that cannot be decrypted is a stable 409
//! `secret_unreadable` naming it, never a 500.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, assert_error, spawn_app};

/// An LLM provider with an API key; the endpoint is never called.
pub async fn provider_with_key(app: &TestApp, s: &Session) -> i64 {
    let (status, body) = app
        .call(
            s,
            Method::POST,
            &format!("/api/v1/orgs/{}/llm-providers", s.org_id),
            Some(json!({ "name": "Remote", "base_url": "http://127.0.0.1:9/v1", "default_model": "m",
                         "api_key": "sk-secret-123", "timeout_ms": 500, "max_retries": 0 })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_i64().expect("id")
}

#[tokio::test]
async fn the_key_check_value_is_stored_at_first_start() {
    let app = spawn_app().await;
    let stored: String = app.sql(|c| {
        c.query_row("SELECT json_extract(value, '$') FROM settings WHERE key = 'crypto.key_check'", [], |r| r.get(0))
    });
    assert_eq!(stored, app.state.keys.check_value());
    // A data file from before check values gets one at its next start.
    app.sql(|c| c.execute("DELETE FROM settings WHERE key = 'crypto.key_check'", []));
    let app = app.restart(|_| {}).await;
    let stored: String = app.sql(|c| {
        c.query_row("SELECT json_extract(value, '$') FROM settings WHERE key = 'crypto.key_check'", [], |r| r.get(0))
    });
    assert_eq!(stored, app.state.keys.check_value());
}

#[tokio::test]
async fn an_llm_key_that_cannot_be_decrypted_is_secret_unreadable_not_500() {
    let app = spawn_app().await;
    let s = app.register("keys@example.com").await;
    let id = provider_with_key(&app, &s).await;
    // Sealed under another master key (what a restore with the wrong key leaves).
    let other = botbuilder::crypto::Keys::from_master(&[9; 32]);
    let foreign = other.encrypt(b"sk-secret-123", &format!("llm_providers.api_key_encrypted:{id}"));
    app.sql(|c| {
        c.execute("UPDATE llm_providers SET api_key_encrypted = ?1 WHERE id = ?2", rusqlite::params![foreign, id])
    });
    let response =
        app.as_user(&s, Method::POST, &format!("/api/v1/llm-providers/{id}/test")).send().await.expect("send");
    let body: Value = assert_error(response, 409, "secret_unreadable").await;
    assert_eq!(body["error"]["details"]["provider_id"], id, "{body}");
    assert_eq!(body["error"]["details"]["field"], "api_key", "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or_default().contains("Remote"), "{body}");
}

#[tokio::test]
async fn a_totp_secret_that_cannot_be_decrypted_is_secret_unreadable_not_500() {
    let app = spawn_app().await;
    let s = app.register("totp@example.com").await;
    let other = botbuilder::crypto::Keys::from_master(&[9; 32]);
    let foreign = other.encrypt(&[1; 20], &format!("users.totp_secret:{}", s.user_id));
    app.sql(|c| {
        c.execute(
            "UPDATE users SET totp_secret_encrypted = ?1, two_factor_enabled = 1,
                    two_factor_enabled_at = '2026-01-01T00:00:00.000Z' WHERE id = ?2",
            rusqlite::params![foreign, s.user_id],
        )
    });
    let response = app
        .request(Method::POST, "/api/v1/auth/login")
        .json(&json!({ "email": "totp@example.com", "password": "correct horse 42", "totp_code": "123456" }))
        .send()
        .await
        .expect("send");
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("json");
    assert_ne!(status, 500, "{body}");
    assert_eq!(body["error"]["code"], "secret_unreadable", "{body}");
}

//! The HTTP edge: ops endpoints, OpenAPI, error bodies for bad requests,
//! request ids, security headers, UI serving.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{assert_error, spawn_app};

#[tokio::test]
async fn health_ready_and_metrics() {
    let app = spawn_app().await;
    let health: Value = app.get("/healthz").await.json().await.expect("json");
    assert_eq!(health["status"], "ok");

    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.expect("json");
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["checks"]["database"]["state"], "ready");
    assert_eq!(ready["checks"]["migrations"]["state"], "ready");

    app.get("/api/v1/nope").await;
    let metrics = app.get("/metrics").await;
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.expect("text");
    assert!(
        text.contains("botbuilder_http_requests_total{method=\"GET\",route=\"/readyz\",status=\"200\"} 1"),
        "{text}"
    );
    assert!(text.contains("botbuilder_http_request_duration_seconds_bucket"), "{text}");
    assert!(text.contains("botbuilder_db_pool_connections{pool=\"writer\""), "{text}");
    assert!(text.contains("status=\"404\""), "{text}");
}

#[tokio::test]
async fn openapi_documents_every_route_and_docs_page_is_local() {
    let app = spawn_app().await;
    let spec: Value = app.get("/api/v1/openapi.json").await.json().await.expect("json");
    assert!(spec["openapi"].as_str().expect("version").starts_with("3."));
    let paths = spec["paths"].as_object().expect("paths");
    for path in
        ["/healthz", "/readyz", "/metrics", "/api/v1/auth/register", "/api/v1/bots/{bot_id}", "/api/v1/jobs/{job_id}"]
    {
        assert!(paths.contains_key(path), "{path} missing from the spec");
    }
    let mut operation_ids = std::collections::BTreeSet::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("item") {
            let id = op["operationId"].as_str().unwrap_or_default().to_owned();
            assert!(operation_ids.insert(id.clone()), "{method} {path}: operationId `{id}` is not unique");
            let summary = op["summary"].as_str().unwrap_or_default();
            assert!(!summary.is_empty(), "{method} {path} has no summary");
            assert!(op["tags"].as_array().is_some_and(|t| !t.is_empty()), "{method} {path} has no tag");
        }
    }
    let docs = app.get("/api/docs/").await;
    assert_eq!(docs.status(), 200);
    let html = docs.text().await.expect("html");
    assert!(!html.contains("https://"), "the docs page must not load anything from the internet");
    let init = app.get("/api/docs/swagger-initializer.js").await.text().await.expect("js");
    assert!(init.contains("/api/v1/openapi.json"), "{init}");
}

#[tokio::test]
async fn bad_requests_get_stable_error_bodies() {
    let app = spawn_app().await;
    // Malformed JSON.
    let r = app
        .request(Method::POST, "/api/v1/auth/login")
        .header("Content-Type", "application/json")
        .body("{\"email\":")
        .send()
        .await
        .expect("send");
    assert_error(r, 400, "invalid_json").await;
    // Wrong shape names the field.
    let r = app.post_json("/api/v1/auth/login", &json!({ "email": 5, "password": "x" })).await;
    let body = assert_error(r, 422, "validation_failed").await;
    assert_eq!(body["error"]["details"]["field"], "email");
    let r = app.post_json("/api/v1/auth/register", &json!({ "email": "a@example.com", "name": "A" })).await;
    let body = assert_error(r, 422, "validation_failed").await;
    assert_eq!(body["error"]["details"]["field"], "password");
    // Unknown fields are refused.
    let r =
        app.post_json("/api/v1/auth/login", &json!({ "email": "a@example.com", "password": "x", "admin": true })).await;
    assert_error(r, 422, "validation_failed").await;
    // Wrong content type.
    let r = app.request(Method::POST, "/api/v1/auth/login").body("email=a").send().await.expect("send");
    assert_error(r, 415, "unsupported_media_type").await;
    // Unknown route and wrong method.
    assert_error(app.get("/api/v1/does-not-exist").await, 404, "route_not_found").await;
    let r = app.request(Method::DELETE, "/api/v1/auth/login").send().await.expect("send");
    assert_eq!(r.headers().get("allow").and_then(|v| v.to_str().ok()), Some("POST"));
    assert_error(r, 405, "method_not_allowed").await;
    let r = app.request(Method::PUT, "/api/v1/bots/12").send().await.expect("send");
    let allow = r.headers().get("allow").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(allow.contains("GET") && allow.contains("PATCH") && allow.contains("DELETE"), "{allow}");
    assert_error(r, 405, "method_not_allowed").await;
    // Bad path parameter.
    let session = app.register("edge@example.com").await;
    let r = app.as_user(&session, Method::GET, "/api/v1/bots/abc").send().await.expect("send");
    assert_error(r, 400, "invalid_path").await;
    // Bad query parameter.
    let r = app
        .as_user(&session, Method::GET, &format!("/api/v1/orgs/{}/bots?limit=x", session.org_id))
        .send()
        .await
        .expect("send");
    assert_error(r, 400, "invalid_query").await;
    let r = app
        .as_user(&session, Method::GET, &format!("/api/v1/orgs/{}/bots?limit=1000", session.org_id))
        .send()
        .await
        .expect("send");
    assert_error(r, 422, "validation_failed").await;
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_413() {
    let app = crate::helpers::spawn_app_with(|c| c.http.max_json_bytes = 4096).await;
    let big = json!({ "email": "a@example.com", "password": "x".repeat(10_000), "name": "A" });
    let r = app.post_json("/api/v1/auth/register", &big).await;
    let body = assert_error(r, 413, "payload_too_large").await;
    assert_eq!(body["error"]["details"]["limit_bytes"], 4096);
    // Nothing was created.
    let users: i64 = app.sql(|c| c.query_row("SELECT count(*) FROM users", [], |r| r.get(0)));
    assert_eq!(users, 0);
}

#[tokio::test]
async fn request_id_is_echoed_or_generated_and_security_headers_are_set() {
    let app = spawn_app().await;
    let r = app.request(Method::GET, "/healthz").header("X-Request-Id", "abc-123").send().await.expect("send");
    assert_eq!(r.headers()["x-request-id"], "abc-123");
    let r =
        app.request(Method::GET, "/healthz").header("X-Request-Id", "bad id with spaces").send().await.expect("send");
    let generated = r.headers()["x-request-id"].to_str().expect("str").to_owned();
    assert_eq!(generated.len(), 24);
    for response in [app.get("/healthz").await, app.get("/").await, app.get("/api/v1/nope").await] {
        let h = response.headers();
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        assert!(h["content-security-policy"].to_str().expect("csp").contains("frame-ancestors 'none'"));
        assert!(h.contains_key("referrer-policy"));
    }
}

#[tokio::test]
async fn ui_shell_is_served_with_types_etags_and_spa_fallback() {
    let app = spawn_app().await;
    let index = app.get("/").await;
    assert_eq!(index.status(), 200);
    assert!(index.headers()["content-type"].to_str().expect("ct").starts_with("text/html"));
    assert_eq!(index.headers()["cache-control"], "no-cache");
    let etag = index.headers()["etag"].to_str().expect("etag").to_owned();
    let html = index.text().await.expect("html");
    assert!(html.contains("<script type=\"module\""), "{html}");

    let again = app.request(Method::GET, "/").header("If-None-Match", &etag).send().await.expect("send");
    assert_eq!(again.status(), 304);

    let js = app.get("/js/app.js").await;
    assert_eq!(js.status(), 200);
    assert!(js.headers()["content-type"].to_str().expect("ct").contains("javascript"));

    // Client-side routes get the shell; missing files do not.
    let deep = app.get("/bots/12/flows").await;
    assert_eq!(deep.status(), 200);
    assert!(deep.text().await.expect("html").contains("<script type=\"module\""));
    assert_eq!(app.get("/js/missing.js").await.status(), 404);
}

/// A page of a foreign origin gets the widget's 403 without any CORS
/// header (it must not be able to read even the refusal); allowed origins
/// keep theirs.
#[tokio::test]
async fn widget_refusals_of_foreign_origins_carry_no_cors_headers() {
    let app = spawn_app().await;
    let s = app.register("edge-cors@example.com").await;
    let (status, bot) =
        app.call(&s, Method::POST, &format!("/api/v1/orgs/{}/bots", s.org_id), Some(json!({ "name": "Cors" }))).await;
    assert_eq!(status, 201, "{bot}");
    let bot = bot["id"].as_i64().expect("bot id");
    let flow = json!({
        "nodes": [{ "id": "start", "type": "start" }, { "id": "hi", "type": "message", "data": { "text": "Hello" } }],
        "edges": [{ "source": "start", "target": "hi" }]
    });
    let path = format!("/api/v1/bots/{bot}/flows/main");
    let (status, body) = app.call(&s, Method::PUT, &path, Some(json!({ "document": flow }))).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) =
        app.call(&s, Method::POST, &format!("{path}/publish"), Some(json!({ "message": "live" }))).await;
    assert_eq!(status, 200, "{body}");
    let allowed = "https://shop.example.com";
    let (status, widget) = app
        .call(
            &s,
            Method::PUT,
            &format!("/api/v1/bots/{bot}/widget"),
            Some(json!({ "config": {}, "allowed_origins": [allowed] })),
        )
        .await;
    assert_eq!(status, 200, "{widget}");
    let key = widget["widget_key"].as_str().expect("key").to_owned();

    let foreign = "https://evil.example.net";
    for (method, path) in [
        (Method::GET, format!("/api/v1/widget/{key}/config")),
        (Method::POST, format!("/api/v1/widget/{key}/sessions")),
        (Method::OPTIONS, format!("/api/v1/widget/{key}/sessions")),
    ] {
        let r = app
            .request(method.clone(), &path)
            .header("Origin", foreign)
            .header("Access-Control-Request-Method", "POST")
            .send()
            .await
            .expect("send");
        let cors: Vec<String> =
            r.headers().keys().map(|k| k.as_str().to_owned()).filter(|k| k.starts_with("access-control-")).collect();
        assert!(cors.is_empty(), "{method} {path}: CORS headers on a refusal: {cors:?}");
        assert_eq!(r.headers().get("vary").and_then(|v| v.to_str().ok()), Some("Origin"));
        let body = assert_error(r, 403, "origin_not_allowed").await;
        assert_eq!(body["error"]["details"]["origin"], foreign, "{body}");
    }
    let r = app.request(Method::GET, &format!("/api/v1/widget/{key}/config")).header("Origin", allowed).send().await;
    let r = r.expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], allowed);
}

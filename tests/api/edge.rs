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

/// Builds a request body around a name.
type NameBody = Box<dyn Fn(&str) -> Value>;

#[tokio::test]
async fn names_with_text_direction_or_zero_width_characters_are_refused_but_text_keeps_them() {
    let app = spawn_app().await;
    let s = app.register("names@example.com").await;
    let org = s.org_id;
    let (status, bot) =
        app.call(&s, Method::POST, &format!("/api/v1/orgs/{org}/bots"), Some(json!({ "name": "Bot" }))).await;
    assert_eq!(status, 201, "{bot}");
    let bot = bot["id"].as_i64().expect("bot id");
    let (status, kb) =
        app.call(&s, Method::POST, &format!("/api/v1/orgs/{org}/knowledge-bases"), Some(json!({ "name": "KB" }))).await;
    assert_eq!(status, 201, "{kb}");
    let kb = kb["id"].as_i64().expect("kb id");
    // "invoice\u{202E}fdp.exe" shows as "invoiceexe.pdf".
    let spoofs = ["invoice\u{202E}fdp.exe", "ad\u{200B}min", "\u{2066}team\u{2069}", "\u{FEFF}x", "a\u{2060}b"];
    let routes: Vec<(Method, String, NameBody)> = vec![
        (Method::POST, format!("/api/v1/orgs/{org}/bots"), Box::new(|n: &str| json!({ "name": n }))),
        (Method::PATCH, format!("/api/v1/bots/{bot}"), Box::new(|n: &str| json!({ "name": n }))),
        (Method::POST, "/api/v1/orgs".to_owned(), Box::new(|n: &str| json!({ "name": n }))),
        (Method::PATCH, "/api/v1/me".to_owned(), Box::new(|n: &str| json!({ "name": n }))),
        (Method::POST, format!("/api/v1/orgs/{org}/teams"), Box::new(|n: &str| json!({ "name": n }))),
        (
            Method::POST,
            format!("/api/v1/orgs/{org}/roles"),
            Box::new(|n: &str| json!({ "name": n, "permissions": ["bots.read"] })),
        ),
        (
            Method::POST,
            format!("/api/v1/orgs/{org}/api-tokens"),
            Box::new(|n: &str| json!({ "name": n, "scopes": ["bots.read"] })),
        ),
        (Method::POST, format!("/api/v1/orgs/{org}/knowledge-bases"), Box::new(|n: &str| json!({ "name": n }))),
        (
            Method::POST,
            format!("/api/v1/knowledge-bases/{kb}/documents/text"),
            Box::new(|n: &str| json!({ "name": n, "text": "Opening hours: nine to five." })),
        ),
        (Method::POST, format!("/api/v1/bots/{bot}/nlu/intents"), Box::new(|n: &str| json!({ "name": n }))),
    ];
    for (method, path, body) in &routes {
        for spoof in spoofs {
            let (status, answer) = app.call(&s, method.clone(), path, Some(body(spoof))).await;
            assert_eq!(status, 422, "{method} {path} {spoof:?}: {answer}");
            assert_eq!(answer["error"]["code"], "invisible_characters", "{method} {path}: {answer}");
            assert_eq!(answer["error"]["details"]["field"], "name", "{method} {path}: {answer}");
        }
    }
    let (_, answer) =
        app.call(&s, Method::POST, &format!("/api/v1/orgs/{org}/bots"), Some(json!({ "name": "x\u{202E}y" }))).await;
    assert_eq!(answer["error"]["details"]["code_point"], "U+202E");
    assert_eq!(app.count("SELECT count(*) FROM bots"), 1);

    // Uploaded file names are names too.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"plain text".to_vec()).file_name("notes\u{202E}txt.exe".to_owned()),
    );
    let r = app
        .as_user(&s, Method::POST, &format!("/api/v1/knowledge-bases/{kb}/documents"))
        .multipart(form)
        .send()
        .await
        .expect("send");
    let body = assert_error(r, 422, "invisible_characters").await;
    assert_eq!(body["error"]["details"]["field"], "file");

    // Text keeps them: right-to-left marks and isolates belong in prose.
    let text = "Hours \u{2067}\u{5E9}\u{5E2}\u{5D5}\u{5EA}\u{2069}: nine\u{200F} to five, zero\u{200B}width.";
    let (status, doc) = app
        .call(
            &s,
            Method::POST,
            &format!("/api/v1/knowledge-bases/{kb}/documents/text"),
            Some(json!({ "name": "שעות פתיחה", "text": text })),
        )
        .await;
    assert_eq!(status, 201, "{doc}");
}

#[test]
fn openapi_component_names_each_belong_to_one_rust_type() {
    let collisions = botbuilder::http::openapi::schema_collisions();
    assert!(collisions.is_empty(), "component names used by more than one type: {collisions:#?}");
}

#[tokio::test]
async fn the_custom_role_answer_matches_its_declared_schema() {
    let app = spawn_app().await;
    let spec: Value = app.get("/api/v1/openapi.json").await.json().await.expect("json");
    let op = &spec["paths"]["/api/v1/orgs/{org_id}/roles"]["post"];
    let reference = op["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].as_str().expect("ref");
    let name = reference.rsplit('/').next().expect("name");
    let schema = &spec["components"]["schemas"][name];
    let s = app.register("roles@example.com").await;
    let (status, role) = app
        .call(
            &s,
            Method::POST,
            &format!("/api/v1/orgs/{}/roles", s.org_id),
            Some(json!({ "name": "Inbox lead", "permissions": ["bots.read"] })),
        )
        .await;
    assert_eq!(status, 201, "{role}");
    assert_eq!(schema["type"], "object", "{name}: {schema}");
    for field in schema["required"].as_array().expect("required") {
        let field = field.as_str().expect("field");
        assert!(role.get(field).is_some(), "{field} of {name} missing in {role}");
    }
    for field in role.as_object().expect("object").keys() {
        assert!(schema["properties"].get(field).is_some(), "{field} is not in the {name} schema: {schema}");
    }
}

/// The statuses every operation must declare, from its security, body and
/// parameters (see `SharedErrors` in `src/http/openapi.rs`).
fn expected_statuses(op: &Value) -> Vec<&'static str> {
    let mut out = vec!["500", "503"];
    let secured = op["security"]
        .as_array()
        .is_some_and(|reqs| !reqs.is_empty() && reqs.iter().all(|r| r.as_object().is_some_and(|o| !o.is_empty())));
    if secured {
        out.extend(["401", "403"]);
    }
    if op.get("requestBody").is_some() {
        out.extend(["400", "413", "415", "422"]);
    } else if op["parameters"].as_array().is_some_and(|p| !p.is_empty()) {
        out.push("400");
    }
    out
}

#[tokio::test]
async fn every_operation_declares_the_shared_error_statuses() {
    let app = spawn_app().await;
    let spec: Value = app.get("/api/v1/openapi.json").await.json().await.expect("json");
    let mut missing = Vec::new();
    let mut operations = 0;
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            operations += 1;
            for status in expected_statuses(op) {
                // A route's own declaration stands (e.g. /readyz's 503
                // carries the readiness report); added ones carry ErrorBody.
                if op["responses"][status].is_null() {
                    missing.push(format!("{method} {path}: {status}"));
                }
            }
        }
    }
    assert!(operations > 100, "{operations}");
    let shared = &spec["paths"]["/api/v1/bots/{bot_id}"]["patch"]["responses"]["415"];
    assert_eq!(shared["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorBody", "{shared}");
    assert!(missing.is_empty(), "undeclared statuses: {missing:#?}");

    // And they are the statuses the server gives: anonymous, malformed path,
    // wrong content type.
    let declared = |path: &str, method: &str, status: u16| {
        spec["paths"][path][method]["responses"].get(status.to_string()).is_some()
    };
    let r = app.get("/api/v1/me").await;
    assert_eq!(r.status(), 401);
    assert!(declared("/api/v1/me", "get", 401));
    let s = app.register("shape@example.com").await;
    let r = app.as_user(&s, Method::GET, "/api/v1/bots/not-a-number").send().await.expect("send");
    assert_eq!(r.status(), 400);
    assert!(declared("/api/v1/bots/{bot_id}", "get", 400));
    let r = app
        .as_user(&s, Method::POST, &format!("/api/v1/orgs/{}/bots", s.org_id))
        .header("Content-Type", "text/plain")
        .body("name=x")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 415);
    assert!(declared("/api/v1/orgs/{org_id}/bots", "post", 415));
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

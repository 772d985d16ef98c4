//! Tools: CRUD and validation, the type catalogue, the executor (argument
//! validation, time limits, redaction, the run log) and each tool type
//! against test-started fakes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::fake_http::{FakeServer, Received, Reply};
use crate::helpers::{Session, TestApp, assert_error, call_ok, send_as, spawn_app, spawn_app_with};

const SECRET: &str = "sk-live-7f3a9c1e5b2d4f60";

async fn create_tool(app: &TestApp, s: &Session, body: Value) -> reqwest::Response {
    send_as(app, s, Method::POST, &format!("/api/v1/orgs/{}/tools", s.org_id), Some(body)).await
}

async fn tool_id(app: &TestApp, s: &Session, body: Value) -> i64 {
    let r = create_tool(app, s, body).await;
    let status = r.status().as_u16();
    let created: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 201, "{created}");
    created["id"].as_i64().expect("tool id")
}

async fn run(app: &TestApp, s: &Session, tool: i64, arguments: Value) -> Value {
    call_ok(app, s, Method::POST, &format!("/api/v1/tools/{tool}/test"), Some(json!({ "arguments": arguments }))).await
}

/// A custom integration of the vault holding `secret`.
async fn vault_secret(app: &TestApp, s: &Session, secret: &str) -> i64 {
    let created = call_ok(
        app,
        s,
        Method::POST,
        &format!("/api/v1/orgs/{}/integrations", s.org_id),
        Some(json!({ "type": "custom", "name": format!("Vault {}", &secret[..6]),
                     "config": { "url": "https://api.example.com/ping" }, "credentials": { "secret": secret } })),
    )
    .await;
    created["id"].as_i64().expect("integration id")
}

fn json_reply(status: u16, body: &Value) -> Reply {
    Reply::Full(status, "application/json".into(), body.to_string().into_bytes())
}

fn executions_text(app: &TestApp) -> String {
    app.sql(|c| {
        let mut stmt =
            c.prepare("SELECT coalesce(input,'') || coalesce(output,'') || coalesce(error,'') FROM tool_executions")?;
        let rows: Vec<String> = stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
        Ok(rows.join("\n"))
    })
}

#[tokio::test]
async fn tool_crud_catalogue_and_validation() {
    let app = spawn_app().await;
    let s = app.register("tools-crud@example.com").await;
    let types = call_ok(&app, &s, Method::GET, &format!("/api/v1/orgs/{}/tool-types", s.org_id), None).await;
    let names: Vec<&str> = types.as_array().expect("list").iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, ["http", "knowledge_search", "database", "flow_action", "webhook", "code", "mcp"]);
    assert!(
        types
            .as_array()
            .expect("list")
            .iter()
            .all(|t| t["config_schema"]["type"] == "object" && t["input_schema_example"]["type"] == "object")
    );

    let body = json!({
        "name": "set_plan", "type": "flow_action", "description": "Remember the plan",
        "config": { "action": "set_variable", "variable": "plan", "value": "{{plan}}" },
        "input_schema": { "type": "object", "properties": { "plan": { "type": "string" } }, "required": ["plan"] }
    });
    let id = tool_id(&app, &s, body.clone()).await;
    assert_error(create_tool(&app, &s, body).await, 409, "name_taken").await;

    // A schema that is not a schema: 422 naming the path inside it; nothing stored.
    let bad = create_tool(
        &app,
        &s,
        json!({
            "name": "bad_schema", "type": "flow_action", "config": { "action": "handoff" },
            "input_schema": { "type": "object", "properties": { "plan": { "type": "strang" } } }
        }),
    )
    .await;
    let e = assert_error(bad, 422, "tool_schema_invalid").await;
    assert_eq!(e["error"]["details"]["field"], "input_schema");
    assert_eq!(e["error"]["details"]["path"], "/properties/plan/type", "{e}");
    let not_object = create_tool(
        &app,
        &s,
        json!({
            "name": "bad_schema", "type": "flow_action", "config": { "action": "handoff" },
            "input_schema": { "type": "array" }
        }),
    )
    .await;
    assert_eq!(assert_error(not_object, 422, "tool_schema_invalid").await["error"]["details"]["path"], "/type");
    let unknown = create_tool(&app, &s, json!({ "name": "x", "type": "teleport" })).await;
    assert_eq!(assert_error(unknown, 422, "unknown_tool_type").await["error"]["details"]["field"], "type");
    let bad_config =
        create_tool(&app, &s, json!({ "name": "x", "type": "flow_action", "config": { "action": "explode" } })).await;
    assert_eq!(
        assert_error(bad_config, 422, "tool_config_invalid").await["error"]["details"]["field"],
        "config.action"
    );
    let bad_name =
        create_tool(&app, &s, json!({ "name": "no spaces", "type": "flow_action", "config": { "action": "handoff" } }))
            .await;
    assert_eq!(assert_error(bad_name, 422, "validation_failed").await["error"]["details"]["field"], "name");
    assert_eq!(app.count("SELECT count(*) FROM tools"), 1);

    let patched = call_ok(
        &app,
        &s,
        Method::PATCH,
        &format!("/api/v1/tools/{id}"),
        Some(json!({ "is_enabled": false, "timeout_ms": 2000 })),
    )
    .await;
    assert_eq!(patched["is_enabled"], false);
    assert_eq!(patched["timeout_ms"], 2000);
    let page = call_ok(&app, &s, Method::GET, &format!("/api/v1/orgs/{}/tools", s.org_id), None).await;
    assert_eq!(page["items"][0]["name"], "set_plan");

    // Unknown and foreign tools are 404 on every route.
    let other = app.register("tools-crud-other@example.com").await;
    for (method, path) in [
        (Method::GET, format!("/api/v1/tools/{id}")),
        (Method::POST, format!("/api/v1/tools/{id}/test")),
        (Method::GET, format!("/api/v1/tools/{id}/executions")),
        (Method::GET, "/api/v1/tools/999999".to_owned()),
    ] {
        let r = send_as(&app, &other, method, &path, Some(json!({ "arguments": {} }))).await;
        assert_error(r, 404, "tool_not_found").await;
    }
    let r = send_as(&app, &s, Method::DELETE, &format!("/api/v1/tools/{id}"), None).await;
    assert_eq!(r.status(), 204);
    assert_error(send_as(&app, &s, Method::GET, &format!("/api/v1/tools/{id}"), None).await, 404, "tool_not_found")
        .await;
}

#[tokio::test]
async fn arguments_are_validated_before_the_tool_runs() {
    let app = spawn_app().await;
    let s = app.register("tools-args@example.com").await;
    let fake = FakeServer::start(Arc::new(|_: &Received| json_reply(200, &json!({ "ok": true })))).await;
    let id = tool_id(
        &app,
        &s,
        json!({
            "name": "create_order", "type": "http",
            "config": { "method": "POST", "url": format!("{}/orders", fake.base) },
            "input_schema": {
                "type": "object",
                "properties": { "sku": { "type": "string" }, "qty": { "type": "integer", "minimum": 1 } },
                "required": ["sku", "qty"], "additionalProperties": false
            }
        }),
    )
    .await;
    let r = send_as(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/tools/{id}/test"),
        Some(json!({ "arguments": { "sku": 42, "qty": 0 } })),
    )
    .await;
    let e = assert_error(r, 422, "tool_arguments_invalid").await;
    let pointers: Vec<&str> = e["error"]["details"]["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .filter_map(|i| i["pointer"].as_str())
        .collect();
    assert!(pointers.contains(&"/sku") && pointers.contains(&"/qty"), "{e}");
    let r = send_as(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/tools/{id}/test"),
        Some(json!({ "arguments": { "sku": "A1" } })),
    )
    .await;
    assert_error(r, 422, "tool_arguments_invalid").await;
    assert!(fake.requests().is_empty(), "nothing ran");
    assert_eq!(app.count("SELECT count(*) FROM tool_executions"), 0);
    let ok = run(&app, &s, id, json!({ "sku": "A1", "qty": 2 })).await;
    assert_eq!(ok["status"], "ok", "{ok}");
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn http_tool_templates_the_request_uses_vault_credentials_maps_the_response_and_redacts_secrets() {
    let app = spawn_app().await;
    let s = app.register("tools-http@example.com").await;
    let fake = FakeServer::start(Arc::new(|r: &Received| {
        // A careless API that echoes the credential back.
        json_reply(
            200,
            &json!({
                "weather": { "temp": 21.5, "summary": "sunny" },
                "echo": { "auth": r.header("authorization"), "path": r.path }
            }),
        )
    }))
    .await;
    let vault = vault_secret(&app, &s, SECRET).await;
    let id = tool_id(&app, &s, json!({
        "name": "weather", "type": "http",
        "config": {
            "method": "POST",
            "url": format!("{}/v1/weather/{{{{city}}}}?units={{{{units}}}}", fake.base),
            "headers": { "X-Client": "bot {{units}}" },
            "body": { "city": "{{city}}", "days": "{{days}}", "label": "for {{city}}" },
            "auth": { "integration_id": vault },
            "response_mapping": { "temperature": "$.weather.temp", "summary": "$.weather.summary", "leak": "$.echo.auth" }
        },
        "input_schema": {
            "type": "object",
            "properties": { "city": { "type": "string" }, "units": { "type": "string" }, "days": { "type": "integer" } },
            "required": ["city"]
        }
    }))
    .await;
    let outcome = run(&app, &s, id, json!({ "city": "São Paulo/Centro & more", "units": "metric", "days": 3 })).await;
    assert_eq!(outcome["status"], "ok", "{outcome}");
    assert_eq!(outcome["result"]["status"], 200);
    assert_eq!(outcome["result"]["data"]["temperature"], 21.5);
    assert_eq!(outcome["result"]["data"]["summary"], "sunny");
    assert!(outcome["duration_ms"].as_i64().is_some());

    let sent = fake.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].path, "/v1/weather/S%C3%A3o%20Paulo%2FCentro%20%26%20more?units=metric", "URL-escaped");
    assert_eq!(sent[0].header("authorization"), Some(format!("Bearer {SECRET}").as_str()));
    assert_eq!(sent[0].header("x-client"), Some("bot metric"));
    let key = sent[0].header("idempotency-key").expect("idempotency key").to_owned();
    assert_eq!(outcome["idempotency_key"], key.as_str());
    let body: Value = serde_json::from_slice(&sent[0].body).expect("json body");
    assert_eq!(body, json!({ "city": "São Paulo/Centro & more", "days": 3, "label": "for São Paulo/Centro & more" }));

    // The credential is nowhere: not in the answer, the run log, or the table.
    assert!(!outcome.to_string().contains(SECRET), "{outcome}");
    assert_eq!(outcome["result"]["data"]["leak"], "Bearer [redacted]");
    let log = call_ok(&app, &s, Method::GET, &format!("/api/v1/tools/{id}/executions"), None).await;
    assert_eq!(log["items"].as_array().expect("items").len(), 1);
    assert_eq!(log["items"][0]["status"], "ok");
    assert_eq!(log["items"][0]["arguments"]["days"], 3);
    assert!(!log.to_string().contains(SECRET));
    let stored = executions_text(&app);
    assert!(stored.contains("21.5") && !stored.contains(SECRET), "{stored}");
    let tool = call_ok(&app, &s, Method::GET, &format!("/api/v1/tools/{id}"), None).await;
    assert!(!tool.to_string().contains(SECRET));

    // A second run gets another idempotency key; an error status is an outcome.
    let second = run(&app, &s, id, json!({ "city": "Oslo" })).await;
    assert_ne!(second["idempotency_key"], outcome["idempotency_key"]);
    let failing = FakeServer::start(Arc::new(|_: &Received| json_reply(503, &json!({ "error": "down" })))).await;
    let down = tool_id(
        &app,
        &s,
        json!({ "name": "down", "type": "http", "config": { "url": format!("{}/x", failing.base) } }),
    )
    .await;
    let failed = run(&app, &s, down, json!({})).await;
    assert_eq!(failed["status"], "error");
    assert_eq!(failed["error"]["code"], "http_status");

    // Credentials never go in the config, and the host is never templated.
    let r = create_tool(
        &app,
        &s,
        json!({ "name": "h2", "type": "http",
        "config": { "url": format!("{}/x", fake.base), "headers": { "Authorization": "Bearer x" } } }),
    )
    .await;
    assert_eq!(
        assert_error(r, 422, "validation_failed").await["error"]["details"]["field"],
        "config.headers.Authorization"
    );
    let r =
        create_tool(&app, &s, json!({ "name": "h3", "type": "http", "config": { "url": "https://{{host}}/x" } })).await;
    assert_eq!(assert_error(r, 422, "tool_config_invalid").await["error"]["details"]["field"], "config.url");
}

#[tokio::test]
async fn http_tool_refuses_private_targets_unless_the_operator_allows_them() {
    let fake = FakeServer::start(Arc::new(|_: &Received| json_reply(200, &json!({ "ok": true })))).await;
    let guarded = spawn_app_with(|c| c.outbound.allow_private = false).await;
    let s = guarded.register("tools-ssrf@example.com").await;
    for url in [format!("{}/x", fake.base), "http://10.1.2.3/x".to_owned(), "http://[::1]/x".to_owned()] {
        let r = create_tool(&guarded, &s, json!({ "name": "ssrf", "type": "http", "config": { "url": url } })).await;
        assert_eq!(assert_error(r, 422, "url_not_allowed").await["error"]["details"]["field"], "config.url");
    }
    drop(guarded);

    // Saved while allowed, run after the operator switched it off: refused at run time.
    let app = spawn_app().await;
    let s = app.register("tools-ssrf2@example.com").await;
    let id =
        tool_id(&app, &s, json!({ "name": "inner", "type": "http", "config": { "url": format!("{}/x", fake.base) } }))
            .await;
    let app = app.restart(|c| c.outbound.allow_private = false).await;
    let s = app.login("tools-ssrf2@example.com", crate::helpers::PASSWORD).await;
    let outcome = run(&app, &s, id, json!({})).await;
    assert_eq!(outcome["status"], "error", "{outcome}");
    assert_eq!(outcome["error"]["code"], "url_not_allowed");
    assert!(fake.requests().is_empty(), "the fake was never reached");
}

#[tokio::test]
async fn a_slow_tool_times_out_within_its_limit() {
    let app = spawn_app().await;
    let s = app.register("tools-timeout@example.com").await;
    let fake = FakeServer::start(Arc::new(|_: &Received| {
        Reply::Slow(Duration::from_secs(5), 200, "application/json".into(), b"{}".to_vec())
    }))
    .await;
    let id = tool_id(
        &app,
        &s,
        json!({ "name": "slow", "type": "http", "timeout_ms": 300,
        "config": { "url": format!("{}/slow", fake.base) } }),
    )
    .await;
    let started = Instant::now();
    let outcome = run(&app, &s, id, json!({})).await;
    assert!(started.elapsed() < Duration::from_secs(3), "stopped at the limit, not the fake's pace");
    assert_eq!(outcome["status"], "timeout", "{outcome}");
    assert_eq!(outcome["error"]["code"], "timeout");
    assert!(outcome["duration_ms"].as_i64().expect("ms") < 2000);
    assert_eq!(app.count("SELECT count(*) FROM tool_executions WHERE status = 'timeout'"), 1);
}

#[tokio::test]
async fn webhook_tool_posts_signed_arguments_with_an_idempotency_key() {
    let app = spawn_app().await;
    let s = app.register("tools-webhook@example.com").await;
    let fake = FakeServer::start(Arc::new(|_: &Received| json_reply(200, &json!({ "accepted": true })))).await;
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let vault = vault_secret(&app, &s, secret).await;
    let id = tool_id(&app, &s, json!({ "name": "refund", "type": "webhook",
        "config": { "url": format!("{}/hooks/refund", fake.base), "secret_integration_id": vault },
        "input_schema": { "type": "object", "properties": { "order_id": { "type": "string" } }, "required": ["order_id"] } })).await;
    let outcome = run(&app, &s, id, json!({ "order_id": "A-17" })).await;
    assert_eq!(outcome["status"], "ok", "{outcome}");
    assert_eq!(outcome["result"]["data"]["accepted"], true);
    let sent = fake.requests();
    assert_eq!(sent.len(), 1);
    let body = String::from_utf8(sent[0].body.clone()).expect("utf-8");
    assert_eq!(serde_json::from_str::<Value>(&body).expect("json"), json!({ "order_id": "A-17" }));
    let msg_id = sent[0].header("webhook-id").expect("webhook-id");
    assert_eq!(sent[0].header("idempotency-key"), Some(msg_id));
    assert_eq!(outcome["idempotency_key"], msg_id);
    let ts: i64 = sent[0].header("webhook-timestamp").expect("ts").parse().expect("int");
    let key = botbuilder::tools::types::webhook::secret_bytes(secret);
    let expected = botbuilder::webhooks::deliver::signature(&[key], msg_id, ts, &body);
    assert_eq!(sent[0].header("webhook-signature"), Some(expected.as_str()));
    assert!(!executions_text(&app).contains(secret));
}

#[tokio::test]
async fn flow_action_tools_return_the_action_for_the_runtime() {
    let app = spawn_app().await;
    let s = app.register("tools-flow@example.com").await;
    let set = tool_id(
        &app,
        &s,
        json!({ "name": "set_plan", "type": "flow_action",
        "config": { "action": "set_variable", "variable": "plan", "value": "{{plan}}" },
        "input_schema": { "type": "object", "properties": { "plan": { "type": "object" } } } }),
    )
    .await;
    let out = run(&app, &s, set, json!({ "plan": { "tier": "pro", "seats": 3 } })).await;
    assert_eq!(
        out["result"],
        json!({ "action": "set_variable", "variable": "plan", "value": { "tier": "pro", "seats": 3 } })
    );
    let handoff = tool_id(
        &app,
        &s,
        json!({ "name": "to_human", "type": "flow_action",
        "config": { "action": "handoff", "reason": "asks about {{topic}}" },
        "input_schema": { "type": "object", "properties": { "topic": { "type": "string" } } } }),
    )
    .await;
    let out = run(&app, &s, handoff, json!({ "topic": "refunds" })).await;
    assert_eq!(out["result"], json!({ "action": "handoff", "reason": "asks about refunds", "team_id": null }));
    let jump = tool_id(
        &app,
        &s,
        json!({ "name": "go_returns", "type": "flow_action",
        "config": { "action": "jump_to_flow", "flow": "returns" } }),
    )
    .await;
    let out = run(&app, &s, jump, json!({})).await;
    assert_eq!(out["result"], json!({ "action": "jump_to_flow", "flow": "returns", "node": null }));
    let r = create_tool(
        &app,
        &s,
        json!({ "name": "bad", "type": "flow_action", "config": { "action": "set_variable", "variable": "9x" } }),
    )
    .await;
    assert_eq!(assert_error(r, 422, "validation_failed").await["error"]["details"]["field"], "config.variable");
}

/// An SQLite file with an `orders` table, in its own directory.
fn shop_db() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("shop.sqlite");
    let c = rusqlite::Connection::open(&path).expect("open");
    c.execute_batch(
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, email TEXT, status TEXT, total REAL);
         INSERT INTO orders (email, status, total) VALUES ('ann@example.com', 'shipped', 12.5),
           ('ann@example.com', 'open', 3.0), ('bob@example.com', 'open', 99.0);",
    )
    .expect("seed");
    (dir, path.to_string_lossy().into_owned())
}

#[tokio::test]
async fn database_tool_reads_with_bound_parameters_refuses_writes_and_stops_runaway_queries() {
    let (dir, path) = shop_db();
    let allowed = dir.path().to_string_lossy().into_owned();
    let app = spawn_app_with(move |c| c.tools.sqlite_dirs = vec![allowed]).await;
    let s = app.register("tools-db@example.com").await;
    let id = tool_id(&app, &s, json!({ "name": "orders", "type": "database",
        "config": { "path": path, "query": "SELECT id, status, total FROM orders WHERE email = :email ORDER BY id", "max_rows": 1 },
        "input_schema": { "type": "object", "properties": { "email": { "type": "string" } }, "required": ["email"] } })).await;
    let out = run(&app, &s, id, json!({ "email": "ann@example.com' OR '1'='1" })).await;
    assert_eq!(out["status"], "ok", "{out}");
    assert_eq!(out["result"]["row_count"], 0, "bound, not spliced");
    let out = run(&app, &s, id, json!({ "email": "ann@example.com" })).await;
    assert_eq!(out["result"]["rows"], json!([{ "id": 1, "status": "shipped", "total": 12.5 }]));
    assert_eq!(out["result"]["truncated"], true, "row limit");

    for (query, why) in [
        ("INSERT INTO orders (email) VALUES ('x')", "insert"),
        ("DELETE FROM orders", "delete"),
        ("ATTACH DATABASE '/tmp/evil.db' AS evil", "attach"),
        ("PRAGMA user_version = 7", "pragma write"),
        ("PRAGMA journal_mode = DELETE", "pragma write"),
        ("CREATE TABLE t (x)", "schema"),
        ("SELECT 1; DROP TABLE orders", "second statement"),
    ] {
        let r = create_tool(
            &app,
            &s,
            json!({ "name": "w", "type": "database", "config": { "path": path, "query": query } }),
        )
        .await;
        let e = assert_error(r, 422, "tool_config_invalid").await;
        assert_eq!(e["error"]["details"]["field"], "config.query", "{why}: {e}");
    }
    // Written into the row behind the API's back: refused at run time too.
    app.sql(|c| {
        c.execute(
            "UPDATE tools SET configuration = json_set(configuration, '$.query', 'DELETE FROM orders') WHERE id = ?1",
            [id],
        )
    });
    let out = run(&app, &s, id, json!({ "email": "ann@example.com" })).await;
    assert_eq!(out["status"], "error");
    assert_eq!(out["error"]["code"], "query_refused", "{out}");
    let check = rusqlite::Connection::open(&path).expect("open");
    let (rows, version): (i64, i64) = check
        .query_row("SELECT (SELECT count(*) FROM orders), (SELECT user_version FROM pragma_user_version)", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("count");
    assert_eq!((rows, version), (3, 0), "the file is unchanged");

    // A runaway query is stopped at the tool's limit.
    let runaway = tool_id(&app, &s, json!({ "name": "runaway", "type": "database", "timeout_ms": 500,
        "config": { "path": path, "query": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c" } })).await;
    let started = Instant::now();
    let out = run(&app, &s, runaway, json!({})).await;
    assert_eq!(out["status"], "timeout", "{out}");
    assert!(started.elapsed() < Duration::from_secs(3));

    // Files outside the allowed directories, and the data file itself, are refused.
    let outside = shop_db();
    let data = app.data_path().to_string_lossy().into_owned();
    for p in [outside.1.clone(), data, "relative.db".to_owned()] {
        let r = create_tool(
            &app,
            &s,
            json!({ "name": "elsewhere", "type": "database", "config": { "path": p, "query": "SELECT 1" } }),
        )
        .await;
        assert_eq!(assert_error(r, 422, "tool_config_invalid").await["error"]["details"]["field"], "config.path");
    }
}

#[tokio::test]
async fn knowledge_search_tool_returns_passages_with_citations() {
    let app = spawn_app_with(|c| c.ml.enabled = true).await;
    let s = app.register("tools-kb@example.com").await;
    let kb = crate::knowledge::create_kb(&app, &s, json!({ "name": "Help" })).await["id"].as_i64().expect("kb");
    let doc = crate::knowledge::paste(
        &app,
        &s,
        kb,
        "Returns",
        "You can return any item within 30 days of delivery. Refunds go to the original card.",
    )
    .await;
    crate::knowledge::paste(&app, &s, kb, "Shipping", "Parcels ship within two business days.").await;
    crate::knowledge::drain(&app).await;
    let id = tool_id(
        &app,
        &s,
        json!({ "name": "search_help", "type": "knowledge_search",
        "config": { "knowledge_base_ids": [kb], "top_k": 3, "mode": "keyword" },
        "input_schema": { "type": "object", "properties": { "query": { "type": "string" } }, "required": ["query"] } }),
    )
    .await;
    let out = run(&app, &s, id, json!({ "query": "return refunds" })).await;
    assert_eq!(out["status"], "ok", "{out}");
    let first = &out["result"]["results"][0];
    assert_eq!(first["citation"]["document_id"], doc["id"]);
    assert_eq!(first["citation"]["document_name"], "Returns");
    assert!(first["citation"]["chunk_id"].as_i64().is_some());
    assert!(first["score"].as_f64().is_some());

    // Another organization's knowledge base is not reachable through a tool.
    let other = app.register("tools-kb-other@example.com").await;
    let foreign = tool_id(
        &app,
        &other,
        json!({ "name": "peek", "type": "knowledge_search",
        "config": { "knowledge_base_ids": [kb], "mode": "keyword" },
        "input_schema": { "type": "object", "properties": { "query": { "type": "string" } }, "required": ["query"] } }),
    )
    .await;
    let out = run(&app, &other, foreign, json!({ "query": "refunds" })).await;
    assert_eq!(out["status"], "error");
    assert_eq!(out["error"]["code"], "knowledge_base_not_found");
}

//! The database tool against a real PostgreSQL started by the test
//! (`crate::pg`): bound parameters, typed results, row limit, writes
//! refused by the read-only transaction, statement timeout, bad
//! credentials, the SSRF guard.
#![allow(clippy::too_many_lines, reason = "one real server, every case in order")]

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, assert_error, call_ok, send_as, spawn_app, spawn_app_with};
use crate::pg::Pg;

const READER_PASSWORD: &str = "reader-pw-8d2e41";

async fn vault(app: &TestApp, s: &Session, name: &str, secret: &str) -> i64 {
    call_ok(
        app,
        s,
        Method::POST,
        &format!("/api/v1/orgs/{}/integrations", s.org_id),
        Some(json!({ "type": "custom", "name": name, "config": { "url": "https://db.example.com/" },
                     "credentials": { "secret": secret } })),
    )
    .await["id"]
        .as_i64()
        .expect("integration id")
}

async fn pg_tool(app: &TestApp, s: &Session, name: &str, integration: i64, query: &str, extra: Value) -> i64 {
    let mut config = json!({ "engine": "postgres", "integration_id": integration, "query": query });
    // Generous by default: the machine may be loaded; the timeout case sets its own.
    let timeout_ms = extra["timeout_ms"].as_i64().unwrap_or(20_000);
    if let Some(obj) = extra.as_object() {
        for (k, v) in obj.iter().filter(|(k, _)| k.as_str() != "timeout_ms") {
            config[k] = v.clone();
        }
    }
    let params: Vec<String> = config["parameters"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    let properties: serde_json::Map<String, Value> = params.iter().map(|p| (p.clone(), json!({}))).collect();
    let r = send_as(
        app,
        s,
        Method::POST,
        &format!("/api/v1/orgs/{}/tools", s.org_id),
        Some(json!({
            "name": name, "type": "database", "config": config, "timeout_ms": timeout_ms,
            "input_schema": { "type": "object", "properties": properties }
        })),
    )
    .await;
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 201, "{body}");
    body["id"].as_i64().expect("tool id")
}

async fn run(app: &TestApp, s: &Session, tool: i64, arguments: Value) -> Value {
    call_ok(app, s, Method::POST, &format!("/api/v1/tools/{tool}/test"), Some(json!({ "arguments": arguments }))).await
}

#[tokio::test]
async fn database_tool_reads_postgresql_read_only_with_bound_parameters_limits_and_timeouts() {
    let Some(pg) = Pg::start() else { return };
    pg.admin(&format!(
        "CREATE ROLE reader LOGIN PASSWORD '{READER_PASSWORD}';
         CREATE TABLE orders (id serial PRIMARY KEY, email text, status text, total numeric(10,2), paid boolean,
                              placed timestamptz, meta jsonb, tags text[]);
         INSERT INTO orders (email, status, total, paid, placed, meta, tags) VALUES
           ('ann@example.com', 'shipped', 12.50, true, '2026-01-02T03:04:05Z', '{{\"gift\": true}}', ARRAY['a','b']),
           ('ann@example.com', 'open', 1234567.89, false, NULL, NULL, NULL),
           ('bob@example.com', 'open', -0.05, false, NULL, NULL, NULL);
         -- The role may write: the read-only transaction is what refuses writes.
         GRANT SELECT, INSERT, UPDATE, DELETE ON orders TO reader;
         GRANT USAGE ON SEQUENCE orders_id_seq TO reader;"
    ))
    .await;
    let app = spawn_app().await;
    let s = app.register("tools-pg@example.com").await;
    let good = vault(&app, &s, "Shop DB", &pg.url("reader", READER_PASSWORD, "postgres")).await;

    let orders = pg_tool(
        &app,
        &s,
        "orders",
        good,
        "SELECT id, email, status, total, paid, placed, meta, tags FROM orders WHERE email = $1 ORDER BY id",
        json!({ "parameters": ["email"], "max_rows": 1 }),
    )
    .await;
    let out = run(&app, &s, orders, json!({ "email": "ann@example.com' OR '1'='1" })).await;
    assert_eq!(out["status"], "ok", "{out}");
    assert_eq!(out["result"]["row_count"], 0, "bound, not spliced");
    let out = run(&app, &s, orders, json!({ "email": "ann@example.com" })).await;
    assert_eq!(out["status"], "ok", "{out}");
    assert_eq!(out["result"]["row_count"], 1);
    assert_eq!(out["result"]["truncated"], true, "row limit");
    let row = &out["result"]["rows"][0];
    assert_eq!(row["id"], 1);
    assert_eq!(row["total"], "12.50", "numeric keeps its precision");
    assert_eq!(row["paid"], true);
    assert_eq!(row["placed"], "2026-01-02T03:04:05Z");
    assert_eq!(row["meta"], json!({ "gift": true }));
    assert_eq!(row["tags"], json!(["a", "b"]));
    assert_eq!(out["result"]["columns"][0], "id");
    // Typed parameters: an integer bound to an int4, a number to a numeric through text.
    let big = pg_tool(
        &app,
        &s,
        "big",
        good,
        "SELECT id, total FROM orders WHERE total > $1::text::numeric AND id <> $2 ORDER BY id",
        json!({ "parameters": ["min", "skip"] }),
    )
    .await;
    let out = run(&app, &s, big, json!({ "min": "0", "skip": 1 })).await;
    assert_eq!(out["result"]["rows"], json!([{ "id": 2, "total": "1234567.89" }]), "{out}");
    let out = run(&app, &s, big, json!({ "min": "0", "skip": "one" })).await;
    assert_eq!(out["error"]["code"], "query_invalid", "{out}");

    // Writes are refused by PostgreSQL even though the role may write.
    for (name, sql) in [
        ("insert", "INSERT INTO orders (email) VALUES ('mallory@example.com') RETURNING id"),
        ("update", "UPDATE orders SET status = 'stolen' RETURNING id"),
        ("ddl", "DROP TABLE orders"),
    ] {
        let t = pg_tool(&app, &s, name, good, sql, json!({})).await;
        let out = run(&app, &s, t, json!({})).await;
        assert_eq!(out["status"], "error", "{name}: {out}");
        assert_eq!(out["error"]["code"], "query_refused", "{name}: {out}");
    }
    assert_eq!(pg.admin_count("SELECT count(*) FROM orders WHERE status = 'stolen' OR email LIKE 'mallory%'").await, 0);
    assert_eq!(pg.admin_count("SELECT count(*) FROM orders").await, 3);

    // A runaway query is cancelled within the tool's limit.
    let slow =
        pg_tool(&app, &s, "slow", good, "SELECT 1 AS one FROM pg_sleep(10)", json!({ "timeout_ms": 1500 })).await;
    let started = std::time::Instant::now();
    let out = run(&app, &s, slow, json!({})).await;
    assert_eq!(out["status"], "timeout", "{out}");
    assert!(started.elapsed() < std::time::Duration::from_secs(8), "{:?}", started.elapsed());

    // Bad credentials: a clear error, the secret nowhere.
    let wrong = vault(&app, &s, "Wrong DB", &pg.url("reader", "not-the-password-77", "postgres")).await;
    let t = pg_tool(&app, &s, "wrong", wrong, "SELECT 1 AS one", json!({})).await;
    let out = run(&app, &s, t, json!({})).await;
    assert_eq!(out["error"]["code"], "database_auth_failed", "{out}");
    let stored: String = app.sql(|c| {
        c.query_row("SELECT group_concat(coalesce(input,'') || coalesce(output,'') || coalesce(error,''), '') FROM tool_executions", [], |r| r.get(0))
    });
    assert!(!stored.contains(READER_PASSWORD) && !stored.contains("not-the-password-77"), "{stored}");
    assert!(!out.to_string().contains("not-the-password-77"));

    // Bad configurations: 422 naming the field, nothing stored.
    let before = app.count("SELECT count(*) FROM tools");
    for (config, field) in [
        (json!({ "engine": "postgres", "query": "SELECT 1" }), "config.integration_id"),
        (
            json!({ "engine": "postgres", "integration_id": good, "query": "SELECT $1, $2", "parameters": ["a"] }),
            "config.parameters",
        ),
        (
            json!({ "engine": "postgres", "integration_id": good, "query": "SELECT 1", "path": "/tmp/x.db" }),
            "config.path",
        ),
        (json!({ "query": "SELECT 1" }), "config.path"),
    ] {
        let r = send_as(
            &app,
            &s,
            Method::POST,
            &format!("/api/v1/orgs/{}/tools", s.org_id),
            Some(json!({ "name": "bad", "type": "database", "config": config })),
        )
        .await;
        assert_eq!(assert_error(r, 422, "tool_config_invalid").await["error"]["details"]["field"], field);
    }
    assert_eq!(app.count("SELECT count(*) FROM tools"), before);
    drop(app);

    // The SSRF guard: a loopback database is refused unless the operator allows private targets.
    let guarded = spawn_app_with(|c| c.outbound.allow_private = false).await;
    let g = guarded.register("tools-pg-ssrf@example.com").await;
    let v = vault(&guarded, &g, "Inner DB", &pg.url("reader", READER_PASSWORD, "postgres")).await;
    let t = pg_tool(&guarded, &g, "inner", v, "SELECT 1 AS one", json!({})).await;
    let out = run(&guarded, &g, t, json!({})).await;
    assert_eq!(out["error"]["code"], "url_not_allowed", "{out}");
    let socket = vault(&guarded, &g, "Socket DB", "postgres://reader@%2Fvar%2Frun%2Fpostgresql/postgres").await;
    let t = pg_tool(&guarded, &g, "socket", socket, "SELECT 1 AS one", json!({})).await;
    assert_eq!(run(&guarded, &g, t, json!({})).await["error"]["code"], "url_not_allowed");
}

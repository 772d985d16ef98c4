//! MCP both ways: MCP servers connected as tool providers (against a
//! test-started fake speaking the streamable HTTP transport: JSON and SSE
//! answers, `Mcp-Session-Id`, paging), and a bot's MCP endpoint driven by a
//! real HTTP client with API tokens.
#![allow(
    clippy::too_many_lines,
    clippy::needless_pass_by_value,
    reason = "end-to-end scenarios read best as one story; JSON built inline"
)]

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use reqwest::Method;
use serde_json::{Value, json};

use crate::fake_http::{FakeServer, Received, Reply};
use crate::helpers::{Session, TestApp, assert_error, call_ok, send_as, spawn_app, spawn_app_with};

const SECRET: &str = "mcp-secret-5d1e8a7c93b2";
const SESSION: &str = "sess-7f0c2a";

fn forecast_schema(with_days: bool) -> Value {
    let mut s = json!({
        "type": "object",
        "properties": { "city": { "type": "string" } },
        "required": ["city"]
    });
    if with_days {
        s["properties"]["days"] = json!({ "type": "integer", "minimum": 1, "maximum": 7 });
    }
    s
}

fn rpc(status: u16, headers: &[(&str, &str)], body: &Value) -> Reply {
    let mut h: Vec<(String, String)> = vec![("content-type".into(), "application/json".into())];
    h.extend(headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    Reply::WithHeaders(status, h, body.to_string().into_bytes())
}

fn sse(messages: &[Value]) -> Reply {
    let body = messages.iter().fold(String::new(), |mut body, m| {
        let _ = write!(body, "event: message\ndata: {m}\n\n");
        body
    });
    Reply::WithHeaders(200, vec![("content-type".into(), "text/event-stream".into())], body.into_bytes())
}

/// A fake MCP server (protocol 2025-06-18): sessions, a credential, the
/// tool list in two pages over SSE, `tools/call` answering JSON.
fn fake_mcp(second_version: Arc<AtomicBool>) -> crate::fake_http::Handler {
    Arc::new(move |r: &Received| {
        if r.header("authorization") != Some(format!("Bearer {SECRET}").as_str()) {
            return rpc(401, &[], &json!({ "error": "unauthorized" }));
        }
        if r.method == "DELETE" {
            return Reply::Full(200, "text/plain".into(), Vec::new());
        }
        let m: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        let id = m["id"].clone();
        let method = m["method"].as_str().unwrap_or_default();
        if method == "initialize" {
            return rpc(
                200,
                &[("mcp-session-id", SESSION)],
                &json!({ "jsonrpc": "2.0", "id": id, "result": {
                    "protocolVersion": "2025-06-18", "capabilities": { "tools": {} },
                    "serverInfo": { "name": "weather-mcp", "version": "1.0" } } }),
            );
        }
        if r.header("mcp-session-id") != Some(SESSION) || r.header("mcp-protocol-version") != Some("2025-06-18") {
            return rpc(
                400,
                &[],
                &json!({ "jsonrpc": "2.0", "id": id, "error": { "code": -32600, "message": "no session" } }),
            );
        }
        match method {
            "notifications/initialized" => Reply::Full(202, "text/plain".into(), Vec::new()),
            "tools/list" if m["params"]["cursor"] == "page2" => sse(&[json!({ "jsonrpc": "2.0", "id": id, "result": {
                "tools": [{ "name": "fail", "description": "Always fails", "inputSchema": { "type": "object" } }] } })]),
            "tools/list" => sse(&[
                json!({ "jsonrpc": "2.0", "method": "notifications/message", "params": { "level": "info", "data": "listing" } }),
                json!({ "jsonrpc": "2.0", "id": id, "result": {
                    "tools": [{ "name": "get_forecast", "description": "Forecast for a city",
                                "inputSchema": forecast_schema(second_version.load(Ordering::SeqCst)) }],
                    "nextCursor": "page2" } }),
            ]),
            "tools/call" if m["params"]["name"] == "get_forecast" => {
                let city = m["params"]["arguments"]["city"].as_str().unwrap_or_default().to_owned();
                rpc(
                    200,
                    &[],
                    &json!({ "jsonrpc": "2.0", "id": id, "result": {
                    "content": [{ "type": "text", "text": format!("Sunny in {city}") }],
                    "structuredContent": { "city": city, "temp": 21, "token_seen": SECRET },
                    "isError": false } }),
                )
            }
            "tools/call" => rpc(
                200,
                &[],
                &json!({ "jsonrpc": "2.0", "id": id, "result": {
                "content": [{ "type": "text", "text": "the weather service is down" }], "isError": true } }),
            ),
            _ => {
                rpc(200, &[], &json!({ "jsonrpc": "2.0", "id": id, "error": { "code": -32601, "message": "unknown" } }))
            }
        }
    })
}

async fn vault(app: &TestApp, s: &Session, secret: &str) -> i64 {
    call_ok(
        app,
        s,
        Method::POST,
        &format!("/api/v1/orgs/{}/integrations", s.org_id),
        Some(json!({ "type": "custom", "name": format!("MCP {}", &secret[..6]),
                     "config": { "url": "https://api.example.com/ping" }, "credentials": { "secret": secret } })),
    )
    .await["id"]
        .as_i64()
        .expect("integration id")
}

async fn add_server(app: &TestApp, s: &Session, body: Value) -> reqwest::Response {
    send_as(app, s, Method::POST, &format!("/api/v1/orgs/{}/mcp-servers", s.org_id), Some(body)).await
}

#[tokio::test]
async fn mcp_servers_are_connected_their_tools_listed_and_called_through_the_tool_executor() {
    let app = spawn_app().await;
    let s = app.register("mcp-client@example.com").await;
    let flip = Arc::new(AtomicBool::new(false));
    let fake = FakeServer::start(fake_mcp(flip.clone())).await;
    let integration = vault(&app, &s, SECRET).await;
    let r = add_server(
        &app,
        &s,
        json!({ "name": "Weather", "url": format!("{}/mcp", fake.base), "integration_id": integration }),
    )
    .await;
    assert_eq!(r.status(), 201);
    let server: Value = r.json().await.expect("json");
    assert_eq!(server["status"], "new");
    let id = server["id"].as_i64().expect("id");

    // Refresh: initialize (session id), initialized, tools/list over SSE in two pages, DELETE.
    let refreshed = call_ok(&app, &s, Method::POST, &format!("/api/v1/mcp-servers/{id}/refresh"), None).await;
    assert_eq!(refreshed["status"], "ok", "{refreshed}");
    assert_eq!(refreshed["server_name"], "weather-mcp");
    assert_eq!(refreshed["protocol_version"], "2025-06-18");
    let names: Vec<&str> =
        refreshed["tools"].as_array().expect("tools").iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, ["get_forecast", "fail"]);
    assert_eq!(refreshed["tools"][0]["input_schema"], forecast_schema(false));
    let sent = fake.requests();
    let methods: Vec<String> = sent
        .iter()
        .map(|r| {
            let m: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
            m["method"].as_str().map_or_else(|| r.method.clone(), str::to_owned)
        })
        .collect();
    assert_eq!(methods, ["initialize", "notifications/initialized", "tools/list", "tools/list", "DELETE"]);
    assert!(sent.iter().all(|r| r.header("accept") == Some("application/json, text/event-stream")));
    assert_eq!(sent[4].header("mcp-session-id"), Some(SESSION));

    // The catalogue has the type; a tool of it takes the server's schema.
    let types = call_ok(&app, &s, Method::GET, &format!("/api/v1/orgs/{}/tool-types", s.org_id), None).await;
    assert!(types.as_array().expect("types").iter().any(|t| t["name"] == "mcp"));
    let tool = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/orgs/{}/tools", s.org_id),
        Some(json!({ "name": "forecast", "type": "mcp", "config": { "server_id": id, "tool": "get_forecast" } })),
    )
    .await;
    assert_eq!(tool["input_schema"], forecast_schema(false));
    let tool_id = tool["id"].as_i64().expect("tool id");

    let before = fake.requests().len();
    let out = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/tools/{tool_id}/test"),
        Some(json!({ "arguments": { "city": "Oslo" } })),
    )
    .await;
    assert_eq!(out["status"], "ok", "{out}");
    assert_eq!(out["result"]["text"], "Sunny in Oslo");
    assert_eq!(out["result"]["structured_content"]["temp"], 21);
    assert_eq!(out["result"]["structured_content"]["token_seen"], "[redacted]", "the credential is redacted");
    let call = fake.requests()[before + 2].clone();
    let body: Value = serde_json::from_slice(&call.body).expect("json");
    assert_eq!(body["method"], "tools/call");
    assert_eq!(body["params"], json!({ "name": "get_forecast", "arguments": { "city": "Oslo" } }));
    let stored = app.sql(|c| c.query_row("SELECT output || input FROM tool_executions", [], |r| r.get::<_, String>(0)));
    assert!(!stored.contains(SECRET), "{stored}");

    // The server's schema is enforced before anything is sent.
    let before = fake.requests().len();
    let bad = send_as(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/tools/{tool_id}/test"),
        Some(json!({ "arguments": { "town": "Oslo" } })),
    )
    .await;
    assert_error(bad, 422, "tool_arguments_invalid").await;
    assert_eq!(fake.requests().len(), before);

    // A result with isError is a failed run.
    let fail = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/orgs/{}/tools", s.org_id),
        Some(json!({ "name": "fail", "type": "mcp", "config": { "server_id": id, "tool": "fail" } })),
    )
    .await;
    let out = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/tools/{}/test", fail["id"]),
        Some(json!({ "arguments": {} })),
    )
    .await;
    assert_eq!(out["status"], "error");
    assert_eq!(out["error"]["code"], "mcp_tool_error");
    assert_eq!(out["error"]["message"], "the weather service is down");

    // Refresh picks up a changed schema and updates the tool.
    flip.store(true, Ordering::SeqCst);
    call_ok(&app, &s, Method::POST, &format!("/api/v1/mcp-servers/{id}/refresh"), None).await;
    let tool = call_ok(&app, &s, Method::GET, &format!("/api/v1/tools/{tool_id}"), None).await;
    assert_eq!(tool["input_schema"], forecast_schema(true));

    // Referencing a tool the server lacks, or another organization's server.
    let r = send_as(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/orgs/{}/tools", s.org_id),
        Some(json!({ "name": "nope", "type": "mcp", "config": { "server_id": id, "tool": "teleport" } })),
    )
    .await;
    let e = assert_error(r, 422, "tool_config_invalid").await;
    assert_eq!(e["error"]["details"]["field"], "config.tool");
    let other = app.register("mcp-client-other@example.com").await;
    let r = send_as(
        &app,
        &other,
        Method::POST,
        &format!("/api/v1/orgs/{}/tools", other.org_id),
        Some(json!({ "name": "peek", "type": "mcp", "config": { "server_id": id, "tool": "get_forecast" } })),
    )
    .await;
    assert_eq!(assert_error(r, 422, "invalid_reference").await["error"]["details"]["field"], "config.server_id");
    assert_error(
        send_as(&app, &other, Method::GET, &format!("/api/v1/mcp-servers/{id}"), None).await,
        404,
        "mcp_server_not_found",
    )
    .await;
    let list = call_ok(&app, &s, Method::GET, &format!("/api/v1/orgs/{}/mcp-servers", s.org_id), None).await;
    assert_eq!(list["items"].as_array().expect("items").len(), 1);
    assert!(!list.to_string().contains(SECRET));
}

#[tokio::test]
async fn mcp_server_errors_are_clear_and_recorded() {
    let app = spawn_app().await;
    let s = app.register("mcp-errors@example.com").await;
    let fake = FakeServer::start(fake_mcp(Arc::new(AtomicBool::new(false)))).await;
    let wrong = vault(&app, &s, "wrong-secret-123").await;
    let id = add_server(
        &app,
        &s,
        json!({ "name": "Wrong key", "url": format!("{}/mcp", fake.base), "integration_id": wrong }),
    )
    .await
    .json::<Value>()
    .await
    .expect("json")["id"]
        .as_i64()
        .expect("id");
    let r = send_as(&app, &s, Method::POST, &format!("/api/v1/mcp-servers/{id}/refresh"), None).await;
    let e = assert_error(r, 502, "mcp_server_unavailable").await;
    assert_eq!(e["error"]["details"]["reason"], "mcp_unauthorized", "{e}");
    assert!(!e.to_string().contains("wrong-secret-123"));
    let server = call_ok(&app, &s, Method::GET, &format!("/api/v1/mcp-servers/{id}"), None).await;
    assert_eq!(server["status"], "error");
    assert!(server["last_error"].as_str().expect("error").contains("refused the credential"));

    // Something that is not an MCP server.
    let html =
        FakeServer::start(Arc::new(|_: &Received| Reply::Full(200, "text/html".into(), b"<html>hi</html>".to_vec())))
            .await;
    let id = add_server(&app, &s, json!({ "name": "Web page", "url": format!("{}/", html.base) }))
        .await
        .json::<Value>()
        .await
        .expect("json")["id"]
        .as_i64()
        .expect("id");
    let e = assert_error(
        send_as(&app, &s, Method::POST, &format!("/api/v1/mcp-servers/{id}/refresh"), None).await,
        502,
        "mcp_server_unavailable",
    )
    .await;
    assert_eq!(e["error"]["details"]["reason"], "mcp_protocol_error");
    // Nothing listening.
    let id = add_server(&app, &s, json!({ "name": "Closed", "url": "http://127.0.0.1:9/mcp" }))
        .await
        .json::<Value>()
        .await
        .expect("json")["id"]
        .as_i64()
        .expect("id");
    let e = assert_error(
        send_as(&app, &s, Method::POST, &format!("/api/v1/mcp-servers/{id}/refresh"), None).await,
        502,
        "mcp_server_unavailable",
    )
    .await;
    assert_eq!(e["error"]["details"]["reason"], "mcp_unreachable");

    // Bad input: each a 422 naming the field, nothing stored.
    let before = app.count("SELECT count(*) FROM mcp_servers");
    for (body, code, field) in [
        (json!({ "name": "", "url": "https://mcp.example.com/mcp" }), "validation_failed", "name"),
        (json!({ "name": "x", "url": "ftp://mcp.example.com/mcp" }), "url_not_allowed", "url"),
        (json!({ "name": "x", "url": "not a url" }), "validation_failed", "url"),
        (
            json!({ "name": "x", "url": "https://mcp.example.com/mcp", "integration_id": 999_999 }),
            "invalid_reference",
            "integration_id",
        ),
        (
            json!({ "name": "x", "url": "https://mcp.example.com/mcp", "auth_header": "bad header" }),
            "validation_failed",
            "auth_header",
        ),
    ] {
        let e = assert_error(add_server(&app, &s, body).await, 422, code).await;
        assert_eq!(e["error"]["details"]["field"], field, "{e}");
    }
    assert_error(
        add_server(&app, &s, json!({ "name": "Closed", "url": "https://mcp.example.com/mcp" })).await,
        409,
        "name_taken",
    )
    .await;
    assert_eq!(app.count("SELECT count(*) FROM mcp_servers"), before);

    // The SSRF guard: private targets refused unless the operator allows them.
    let guarded = spawn_app_with(|c| c.outbound.allow_private = false).await;
    let g = guarded.register("mcp-ssrf@example.com").await;
    let r = add_server(&guarded, &g, json!({ "name": "Inner", "url": format!("{}/mcp", fake.base) })).await;
    assert_eq!(assert_error(r, 422, "url_not_allowed").await["error"]["details"]["field"], "url");
}

async fn token(app: &TestApp, s: &Session, scopes: &[&str], bot: Option<i64>) -> String {
    let (status, created) = app
        .call(
            s,
            Method::POST,
            &format!("/api/v1/orgs/{}/api-tokens", s.org_id),
            Some(json!({ "name": format!("mcp {scopes:?} {bot:?}"), "scopes": scopes, "bot_id": bot })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    created["token"].as_str().expect("token").to_owned()
}

async fn post_rpc(app: &TestApp, token: Option<&str>, bot: i64, message: &Value) -> (u16, Value) {
    let mut request = app
        .request(Method::POST, &format!("/api/v1/mcp/bots/{bot}"))
        .header("accept", "application/json, text/event-stream")
        .json(message);
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let r = request.send().await.expect("send");
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn msg(id: i64, method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params })
}

#[tokio::test]
async fn a_bot_is_an_mcp_server_for_its_tools_and_knowledge_with_the_api_s_authorization() {
    let app = spawn_app_with(|c| c.ml.enabled = true).await;
    let s = app.register("mcp-server@example.com").await;
    let bot = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/orgs/{}/bots", s.org_id),
        Some(json!({ "name": "Helpdesk" })),
    )
    .await["id"]
        .as_i64()
        .expect("bot");
    let other_bot =
        call_ok(&app, &s, Method::POST, &format!("/api/v1/orgs/{}/bots", s.org_id), Some(json!({ "name": "Sales" })))
            .await["id"]
            .as_i64()
            .expect("bot");
    let kb = crate::knowledge::create_kb(&app, &s, json!({ "name": "Help" })).await["id"].as_i64().expect("kb");
    crate::knowledge::paste(&app, &s, kb, "Returns", "You can return any item within 30 days of delivery.").await;
    crate::knowledge::drain(&app).await;
    call_ok(&app, &s, Method::PUT, &format!("/api/v1/bots/{bot}/knowledge-bases/{kb}"), None).await;
    for (name, owner) in [("set_plan", Some(bot)), ("org_handoff", None), ("sales_only", Some(other_bot))] {
        call_ok(&app, &s, Method::POST, &format!("/api/v1/orgs/{}/tools", s.org_id), Some(json!({
            "name": name, "type": "flow_action", "bot_id": owner, "description": format!("{name} tool"),
            "config": { "action": "set_variable", "variable": "plan", "value": "{{plan}}" },
            "input_schema": { "type": "object", "properties": { "plan": { "type": "string" } }, "required": ["plan"] }
        }))).await;
    }
    let full = token(&app, &s, &["agents.read", "agents.write"], None).await;

    let (status, init) = post_rpc(
        &app,
        Some(&full),
        bot,
        &msg(
            1,
            "initialize",
            json!({
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": { "name": "test", "version": "1" } }),
        ),
    )
    .await;
    assert_eq!(status, 200, "{init}");
    assert_eq!(init["id"], 1);
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18");
    assert_eq!(init["result"]["serverInfo"]["title"], "Helpdesk");
    assert!(init["result"]["capabilities"]["tools"].is_object());
    let (status, _) =
        post_rpc(&app, Some(&full), bot, &json!({ "jsonrpc": "2.0", "method": "notifications/initialized" })).await;
    assert_eq!(status, 202);

    let (_, list) = post_rpc(&app, Some(&full), bot, &msg(2, "tools/list", json!({}))).await;
    let names: Vec<&str> =
        list["result"]["tools"].as_array().expect("tools").iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, ["org_handoff", "set_plan", "knowledge_search"], "{list}");
    assert_eq!(list["result"]["tools"][1]["inputSchema"]["required"], json!(["plan"]));

    let (_, called) = post_rpc(
        &app,
        Some(&full),
        bot,
        &msg(3, "tools/call", json!({ "name": "set_plan", "arguments": { "plan": "pro" } })),
    )
    .await;
    assert_eq!(called["result"]["isError"], false, "{called}");
    assert_eq!(called["result"]["structuredContent"]["value"], "pro", "{called}");
    let (_, searched) = post_rpc(
        &app,
        Some(&full),
        bot,
        &msg(4, "tools/call", json!({ "name": "knowledge_search", "arguments": { "query": "return item" } })),
    )
    .await;
    assert_eq!(searched["result"]["isError"], false, "{searched}");
    assert_eq!(searched["result"]["structuredContent"]["results"][0]["citation"]["document_name"], "Returns");
    // Both calls logged with source `mcp`; the built-in one by name.
    let logged: Vec<(Option<i64>, String, String)> = app.sql(|c| {
        let mut stmt = c.prepare("SELECT tool_id, coalesce(tool_name, ''), source FROM tool_executions ORDER BY id")?;
        let rows =
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    });
    assert_eq!(logged.len(), 2);
    assert!(logged[0].0.is_some() && logged[0].1 == "set_plan" && logged[0].2 == "mcp", "{logged:?}");
    assert_eq!((logged[1].0, logged[1].1.as_str(), logged[1].2.as_str()), (None, "knowledge_search", "mcp"));

    // Protocol errors.
    let (_, unknown) = post_rpc(
        &app,
        Some(&full),
        bot,
        &msg(5, "tools/call", json!({ "name": "sales_only", "arguments": { "plan": "x" } })),
    )
    .await;
    assert_eq!(unknown["error"]["code"], -32602, "another bot's tool is not offered");
    let (_, invalid) = post_rpc(
        &app,
        Some(&full),
        bot,
        &msg(6, "tools/call", json!({ "name": "set_plan", "arguments": { "plan": 5 } })),
    )
    .await;
    assert_eq!(invalid["error"]["code"], -32602);
    assert_eq!(invalid["error"]["data"]["code"], "tool_arguments_invalid");
    let (_, nomethod) = post_rpc(&app, Some(&full), bot, &msg(7, "resources/list", json!({}))).await;
    assert_eq!(nomethod["error"]["code"], -32601);
    let r = app
        .request(Method::POST, &format!("/api/v1/mcp/bots/{bot}"))
        .bearer_auth(&full)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.expect("json")["error"]["code"], -32700);
    let r = app
        .request(Method::POST, &format!("/api/v1/mcp/bots/{bot}"))
        .bearer_auth(&full)
        .header("mcp-protocol-version", "1999-01-01")
        .json(&msg(8, "ping", json!({})))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);

    // Authorization: none, read-only, another bot's token, another organization.
    let (status, _) = post_rpc(&app, None, bot, &msg(9, "tools/list", json!({}))).await;
    assert_eq!(status, 401);
    let read_only = token(&app, &s, &["agents.read"], None).await;
    let (status, listed) = post_rpc(&app, Some(&read_only), bot, &msg(10, "tools/list", json!({}))).await;
    assert_eq!((status, listed["result"]["tools"].as_array().map(Vec::len)), (200, Some(3)));
    let (_, refused) = post_rpc(
        &app,
        Some(&read_only),
        bot,
        &msg(11, "tools/call", json!({ "name": "set_plan", "arguments": { "plan": "x" } })),
    )
    .await;
    assert_eq!(refused["error"]["code"], -32001, "{refused}");
    let no_scope = token(&app, &s, &["bots.read"], None).await;
    let (status, _) = post_rpc(&app, Some(&no_scope), bot, &msg(12, "tools/list", json!({}))).await;
    assert_eq!(status, 403);
    let sales = token(&app, &s, &["agents.read", "agents.write"], Some(other_bot)).await;
    let (status, _) = post_rpc(&app, Some(&sales), bot, &msg(13, "tools/list", json!({}))).await;
    assert_eq!(status, 404, "a token limited to another bot");
    let stranger = app.register("mcp-stranger@example.com").await;
    let foreign = token(&app, &stranger, &["agents.read", "agents.write"], None).await;
    let (status, _) = post_rpc(
        &app,
        Some(&foreign),
        bot,
        &msg(14, "tools/call", json!({ "name": "set_plan", "arguments": { "plan": "x" } })),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(app.count("SELECT count(*) FROM tool_executions"), 2, "refused calls ran nothing");
}

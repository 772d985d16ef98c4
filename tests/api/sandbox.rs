//! The code-tool sandbox through the real server (`POST /orgs/{org_id}/sandbox/run`):
//! a script's result and console lines; an infinite loop, a memory bomb,
//! attempts to reach files, the network, processes or modules, and a 10 MB
//! output each stopped within its limit with its own error code; a syntax
//! error with its line; the server keeps serving while a runaway script runs;
//! limits above the server's maxima are refused naming the field.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, assert_error, send_as, spawn_app, spawn_app_with};

async fn run_code(app: &TestApp, s: &Session, body: Value) -> reqwest::Response {
    send_as(app, s, Method::POST, &format!("/api/v1/orgs/{}/sandbox/run", s.org_id), Some(body)).await
}

#[tokio::test]
async fn a_script_gets_its_arguments_and_answers_json_and_logs() {
    let app = spawn_app().await;
    let s = app.register("coder@example.com").await;
    let source = "function main(args) {\n  console.log('order', args.order, {items: args.items.length});\n  console.error('low stock');\n  return { total: args.items.reduce((sum, i) => sum + i.price * i.qty, 0), currency: 'EUR' };\n}";
    let r = run_code(
        &app,
        &s,
        json!({ "source": source, "args": { "order": "A-1", "items": [{"price": 5, "qty": 2}, {"price": 1.5, "qty": 4}] } }),
    )
    .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["result"], json!({ "total": 16, "currency": "EUR" }), "{body}");
    assert_eq!(
        body["logs"],
        json!([{ "level": "log", "message": "order A-1 {\"items\":2}" }, { "level": "error", "message": "low stock" }])
    );
    assert_eq!(body["limits"], json!({ "cpu_ms": 2000, "wall_ms": 5000, "memory_mb": 64, "output_bytes": 1_048_576 }));
    assert!(body["wall_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{body}");
    assert!(body["cpu_ms"].as_f64().is_some_and(|ms| ms < 2000.0), "{body}");
    assert!(body["memory_bytes"].as_u64().is_some_and(|b| b > 0), "{body}");
}

#[tokio::test]
async fn runaway_scripts_are_stopped_within_their_limits_with_a_clear_code() {
    // A generous wall clock: on a loaded machine 500 ms of CPU can take
    // seconds, and the CPU limit is what is checked here.
    let app = spawn_app_with(|c| c.sandbox.max_wall_ms = 30_000).await;
    let s = app.register("runaway@example.com").await;

    // An infinite loop: stopped after its CPU time (500 ms), long before the wall clock.
    let started = Instant::now();
    let r = run_code(
        &app,
        &s,
        json!({ "source": "function main() {\n  console.log('spinning');\n  while (true) {}\n}", "limits": { "cpu_ms": 500 } }),
    )
    .await;
    let body = assert_error(r, 422, "sandbox_timeout").await;
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
    assert_eq!(body["error"]["details"]["limit"], "cpu");
    assert_eq!(body["error"]["details"]["limit_ms"], 500);
    assert_eq!(body["error"]["details"]["field"], "source");
    assert_eq!(body["error"]["details"]["logs"][0]["message"], "spinning", "logs before the stop are kept: {body}");

    // A memory bomb: stopped at its 16 MiB.
    let started = Instant::now();
    let bomb = "function main() { const hoard = []; for (;;) hoard.push(new Array(1e5).fill({ a: 1 })); }";
    let r = run_code(&app, &s, json!({ "source": bomb, "limits": { "memory_mb": 16 } })).await;
    let body = assert_error(r, 422, "sandbox_memory_exceeded").await;
    assert_eq!(body["error"]["details"]["limit_bytes"], 16 * 1024 * 1024);
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());

    // A 10 MB result: refused at the 1 MiB output limit.
    let r = run_code(&app, &s, json!({ "source": "function main() { return 'x'.repeat(10 * 1024 * 1024); }" })).await;
    let body = assert_error(r, 422, "sandbox_output_too_large").await;
    assert_eq!(body["error"]["details"]["limit_bytes"], 1_048_576);

    // 10 MB of console output, even with the error caught: stopped once 1 MiB is written.
    let flood = "function main() { for (let i = 0; i < 10240; i++) { try { console.log('z'.repeat(1024)); } catch (e) {} } return 1; }";
    let r = run_code(&app, &s, json!({ "source": flood })).await;
    let body = assert_error(r, 422, "sandbox_output_too_large").await;
    let logs = body["error"]["details"]["logs"].as_array().expect("logs").len();
    assert!((1..=1024).contains(&logs), "{logs} lines kept");
}

#[tokio::test]
async fn files_network_processes_and_modules_are_out_of_reach() {
    let app = spawn_app().await;
    let s = app.register("escape@example.com").await;
    for (source, name) in [
        ("function main() { return require('fs').readFileSync('/etc/passwd', 'utf8'); }", "ReferenceError"),
        ("import { readFileSync } from 'fs';\nfunction main() { return readFileSync('/etc/passwd'); }", "SyntaxError"),
        ("async function main() { return (await fetch('http://127.0.0.1:9/')).status; }", "ReferenceError"),
        ("function main() { const x = new XMLHttpRequest(); x.open('GET', 'http://127.0.0.1:9/'); }", "ReferenceError"),
        ("function main() { return Deno.readTextFileSync('/etc/passwd'); }", "ReferenceError"),
        ("function main() { return process.env; }", "ReferenceError"),
        ("function main() { return new WebSocket('ws://127.0.0.1:9/'); }", "ReferenceError"),
        ("function main() { return std.open('/etc/passwd', 'r'); }", "ReferenceError"),
        ("function main() { return os.exec(['id']); }", "ReferenceError"),
        ("function main() { setTimeout(() => {}, 10); }", "ReferenceError"),
    ] {
        let r = run_code(&app, &s, json!({ "source": source })).await;
        let body = assert_error(r, 422, "sandbox_script_error").await;
        assert_eq!(body["error"]["details"]["name"], name, "{source}: {body}");
    }
    // A dynamic import finds no module loader.
    let r = run_code(&app, &s, json!({ "source": "async function main() { return await import('fs'); }" })).await;
    let body = assert_error(r, 422, "sandbox_script_error").await;
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("fs")), "{body}");
}

#[tokio::test]
async fn a_syntax_error_names_its_line() {
    let app = spawn_app().await;
    let s = app.register("syntax@example.com").await;
    let r = run_code(&app, &s, json!({ "source": "function main(args) {\n  const a = 1;\n  return a +;\n}" })).await;
    let body = assert_error(r, 422, "sandbox_script_error").await;
    assert_eq!(body["error"]["details"]["name"], "SyntaxError");
    assert_eq!(body["error"]["details"]["line"], 3, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("line 3")), "{body}");

    // A thrown error names its line too; a script without main says what is missing.
    let r = run_code(&app, &s, json!({ "source": "function main(args) {\n\n\n  throw new Error('no stock for ' + args.sku);\n}", "args": { "sku": "B7" } })).await;
    let body = assert_error(r, 422, "sandbox_script_error").await;
    assert_eq!(body["error"]["details"]["line"], 4, "{body}");
    assert_eq!(body["error"]["details"]["message"], "no stock for B7");
    let r = run_code(&app, &s, json!({ "source": "const answer = 42;" })).await;
    let body = assert_error(r, 422, "sandbox_script_error").await;
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("function main(args)")), "{body}");
}

#[tokio::test]
async fn the_server_keeps_serving_while_a_runaway_script_runs() {
    let app = spawn_app_with(|c| {
        c.sandbox.max_cpu_ms = 3_000;
        c.sandbox.max_wall_ms = 6_000;
    })
    .await;
    let s = app.register("busy@example.com").await;
    let started = Instant::now();
    let request = app
        .as_user(&s, Method::POST, &format!("/api/v1/orgs/{}/sandbox/run", s.org_id))
        .json(&json!({ "source": "function main() { for (;;) {} }" }));
    let runaway = tokio::spawn(async move {
        let r = request.send().await.expect("send");
        (r.status().as_u16(), Instant::now())
    });
    // Give the runaway script time to start spinning.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, me) = app.call(&s, Method::GET, "/api/v1/me", None).await;
    assert_eq!(status, 200, "{me}");
    let r = run_code(&app, &s, json!({ "source": "function main(a) { return a.n + 1; }", "args": { "n": 1 } })).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.expect("json")["result"], 2);
    let served = Instant::now();
    let (status, stopped) = runaway.await.expect("join");
    assert_eq!(status, 422);
    assert!(served < stopped, "the other requests were answered while the runaway script ran");
    // Stopped by its CPU limit, or by the wall clock (6 s) on a starved machine.
    assert!(stopped - started < Duration::from_secs(8), "took {:?}", stopped - started);
}

#[tokio::test]
async fn a_full_pool_answers_busy_instead_of_queueing_forever() {
    let app = spawn_app_with(|c| c.sandbox.max_concurrent = 1).await;
    let s = app.register("pool@example.com").await;
    let hog = app
        .as_user(&s, Method::POST, &format!("/api/v1/orgs/{}/sandbox/run", s.org_id))
        .json(&json!({ "source": "function main() { for (;;) {} }", "limits": { "cpu_ms": 1500 } }));
    let hog = tokio::spawn(async move { hog.send().await.expect("send").status().as_u16() });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = run_code(
        &app,
        &s,
        json!({ "source": "function main() { return 1; }", "limits": { "cpu_ms": 100, "wall_ms": 200 } }),
    )
    .await;
    let body = assert_error(r, 503, "overloaded").await;
    assert_eq!(body["error"]["details"]["reason"], "sandbox_busy");
    assert_eq!(hog.await.expect("join"), 422);
    // The slot is free again.
    let r = run_code(&app, &s, json!({ "source": "function main() { return 1; }" })).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn limits_above_the_server_maxima_and_empty_code_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let s = app.register("limits@example.com").await;
    for (limits, field) in [
        (json!({ "cpu_ms": 2001 }), "limits.cpu_ms"),
        (json!({ "cpu_ms": 0 }), "limits.cpu_ms"),
        (json!({ "memory_mb": 65 }), "limits.memory_mb"),
        (json!({ "output_bytes": 2_000_000 }), "limits.output_bytes"),
        (json!({ "cpu_ms": 1000, "wall_ms": 500 }), "limits.wall_ms"),
    ] {
        let r = run_code(&app, &s, json!({ "source": "function main() { return 1; }", "limits": limits })).await;
        let body = assert_error(r, 422, "validation_failed").await;
        assert_eq!(body["error"]["details"]["field"], field, "{body}");
    }
    let r = run_code(&app, &s, json!({ "source": "  " })).await;
    let body = assert_error(r, 422, "validation_failed").await;
    assert_eq!(body["error"]["details"]["field"], "source");
    let r = run_code(&app, &s, json!({ "source": "function main() {}", "limits": { "gpu": 1 } })).await;
    let body = assert_error(r, 422, "validation_failed").await;
    assert!(body["error"]["details"]["field"].as_str().is_some_and(|f| f.starts_with("limits")), "{body}");
}

#[tokio::test]
async fn code_tools_are_compiled_when_saved_and_run_in_the_sandbox() {
    let app = spawn_app().await;
    let s = app.register("codetool@example.com").await;
    let tools = format!("/api/v1/orgs/{}/tools", s.org_id);
    let (status, types) = app.call(&s, Method::GET, &format!("/api/v1/orgs/{}/tool-types", s.org_id), None).await;
    assert_eq!(status, 200);
    assert!(types.as_array().expect("types").iter().any(|t| t["name"] == "code"), "{types}");

    // A syntax error is refused with its line, and nothing is stored.
    let r = send_as(
        &app,
        &s,
        Method::POST,
        &tools,
        Some(json!({
            "name": "broken", "type": "code",
            "config": { "source": "function main(args) {\n  return args.a +* 2;\n}" }
        })),
    )
    .await;
    let body = assert_error(r, 422, "sandbox_script_error").await;
    assert_eq!(body["error"]["details"]["field"], "config.source");
    assert_eq!(body["error"]["details"]["line"], 2, "{body}");
    // Limits above the server's maxima name the field.
    let r = send_as(
        &app,
        &s,
        Method::POST,
        &tools,
        Some(json!({
            "name": "greedy", "type": "code",
            "config": { "source": "function main() { return 1; }", "limits": { "cpu_ms": 60000 } }
        })),
    )
    .await;
    let body = assert_error(r, 422, "validation_failed").await;
    assert_eq!(body["error"]["details"]["field"], "config.limits.cpu_ms");
    assert_eq!(app.count("SELECT count(*) FROM tools"), 0);

    // A valid tool runs with validated arguments.
    let schema = json!({
        "type": "object",
        "properties": { "items": { "type": "array", "items": { "type": "object" } } },
        "required": ["items"]
    });
    let r = send_as(&app, &s, Method::POST, &tools, Some(json!({
        "name": "order_total", "type": "code", "input_schema": schema,
        "config": { "source": "function main(args) {\n  return { total: args.items.reduce((s, i) => s + i.price * i.qty, 0) };\n}", "limits": { "cpu_ms": 500 } }
    }))).await;
    let tool = crate::helpers::ok_json(r, 201).await;
    let test = format!("/api/v1/tools/{}/test", tool["id"]);
    let (status, run) =
        app.call(&s, Method::POST, &test, Some(json!({ "arguments": { "items": [{"price": 2.5, "qty": 4}] } }))).await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["status"], "ok", "{run}");
    assert_eq!(run["result"], json!({ "total": 10 }));

    // A runaway tool ends as a timeout, a memory bomb as an error with the sandbox's code.
    let (status, spin) = app.call(&s, Method::POST, &tools, Some(json!({
        "name": "spin", "type": "code", "config": { "source": "function main() { for (;;) {} }", "limits": { "cpu_ms": 300 } }
    }))).await;
    assert_eq!(status, 201, "{spin}");
    let (_, run) = app
        .call(&s, Method::POST, &format!("/api/v1/tools/{}/test", spin["id"]), Some(json!({ "arguments": {} })))
        .await;
    assert_eq!(run["status"], "timeout", "{run}");
    let (status, bomb) = app.call(&s, Method::POST, &tools, Some(json!({
        "name": "bomb", "type": "code",
        "config": { "source": "function main() { const a = []; for (;;) a.push('x'.repeat(1 << 20)); }", "limits": { "memory_mb": 8 } }
    }))).await;
    assert_eq!(status, 201, "{bomb}");
    let (_, run) = app
        .call(&s, Method::POST, &format!("/api/v1/tools/{}/test", bomb["id"]), Some(json!({ "arguments": {} })))
        .await;
    assert_eq!(run["status"], "error", "{run}");
    assert_eq!(run["error"]["code"], "sandbox_memory_exceeded", "{run}");
}

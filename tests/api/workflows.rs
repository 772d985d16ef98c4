//! Multi-agent workflows (issue 19 item 4): validation, each step type run
//! through the real job queue against test-started fakes (HTTP receivers and
//! an OpenAI-compatible model), cancel, timeouts, approval, and a run killed
//! with SIGKILL that resumes after a restart without duplicated side effects.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::ai::provider;
use crate::cli::Server;
use crate::fake_http::{FakeServer, Received, Reply};
use crate::fake_openai::{FakeOpenAi, Step};
use crate::helpers::{Session, TestApp, assert_error, call_ok, send_as, spawn_app};

fn ok(body: &Value) -> Reply {
    Reply::Full(200, "application/json".into(), body.to_string().into_bytes())
}

/// A receiver answering `/weather` with a temperature and echoing the rest.
async fn receiver(slow: Duration) -> FakeServer {
    FakeServer::start(Arc::new(move |r: &Received| match r.path.as_str() {
        "/weather" => ok(&json!({ "temp": 31 })),
        "/slow" => Reply::Slow(slow, 200, "application/json".into(), b"{\"slow\":true}".to_vec()),
        _ => ok(&json!({ "echo": serde_json::from_slice::<Value>(&r.body).unwrap_or(Value::Null), "path": r.path })),
    }))
    .await
}

fn hits(rx: &FakeServer, path: &str) -> Vec<Received> {
    rx.requests().into_iter().filter(|r| r.path == path).collect()
}

/// An HTTP tool; `args` lists the argument names (numbers or strings).
async fn tool(app: &TestApp, s: &Session, name: &str, method: &str, url: &str, args: &[&str]) -> i64 {
    let props: serde_json::Map<String, Value> = args.iter().map(|a| ((*a).to_owned(), json!({}))).collect();
    let body = json!({ "name": name, "type": "http", "config": { "method": method, "url": url },
                       "input_schema": { "type": "object", "properties": props } });
    let t = call_ok(app, s, Method::POST, &format!("/api/v1/orgs/{}/tools", s.org_id), Some(body)).await;
    t["id"].as_i64().expect("tool id")
}

async fn bot(app: &TestApp, s: &Session) -> i64 {
    let b =
        call_ok(app, s, Method::POST, &format!("/api/v1/orgs/{}/bots", s.org_id), Some(json!({ "name": "WF bot" })))
            .await;
    b["id"].as_i64().expect("bot id")
}

async fn workflow(app: &TestApp, s: &Session, bot: i64, name: &str, definition: Value) -> i64 {
    let r = send_as(
        app,
        s,
        Method::POST,
        &format!("/api/v1/bots/{bot}/workflows"),
        Some(json!({ "name": name, "definition": definition })),
    )
    .await;
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 201, "{body}");
    body["id"].as_i64().expect("workflow id")
}

async fn start(app: &TestApp, s: &Session, workflow: i64, input: Value) -> i64 {
    let r =
        send_as(app, s, Method::POST, &format!("/api/v1/workflows/{workflow}/run"), Some(json!({ "input": input })))
            .await;
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "pending");
    body["id"].as_i64().expect("execution id")
}

async fn trace(app: &TestApp, s: &Session, execution: i64) -> Value {
    call_ok(app, s, Method::GET, &format!("/api/v1/workflow-executions/{execution}"), None).await
}

/// The activations of step `key`.
fn activations<'a>(trace: &'a Value, key: &str) -> Vec<&'a Value> {
    trace["steps"].as_array().expect("steps").iter().filter(|s| s["step"] == key).collect()
}

fn only<'a>(trace: &'a Value, key: &str) -> &'a Value {
    let a = activations(trace, key);
    assert_eq!(a.len(), 1, "one activation of {key}: {trace}");
    a[0]
}

#[tokio::test]
async fn sequential_tool_steps_pass_outputs_along_and_record_steps_and_messages() {
    let app = spawn_app().await;
    let s = app.register("wf-seq@example.com").await;
    let rx = receiver(Duration::ZERO).await;
    tool(&app, &s, "weather", "GET", &format!("{}/weather", rx.base), &[]).await;
    tool(&app, &s, "notify", "POST", &format!("{}/notify", rx.base), &["temp", "who"]).await;
    let bot = bot(&app, &s).await;
    let wf = workflow(
        &app,
        &s,
        bot,
        "Sequential",
        json!({ "steps": [
            { "id": "fetch", "type": "tool", "tool": "weather", "next": "tell" },
            { "id": "tell", "type": "tool", "tool": "notify",
              "arguments": { "temp": "{{ steps.fetch.data.temp }}", "who": "{{ input.user }}" }, "next": "done" },
            { "id": "done", "type": "end", "output": { "reported": "{{ steps.tell.data.echo.temp }}" } } ] }),
    )
    .await;
    let exec = start(&app, &s, wf, json!({ "user": "ann" })).await;
    app.run_jobs().await;

    let t = trace(&app, &s, exec).await;
    assert_eq!(t["status"], "completed", "{t}");
    assert_eq!(t["output"], json!({ "reported": 31 }));
    for key in ["fetch", "tell", "done"] {
        let step = only(&t, key);
        assert_eq!(step["status"], "completed", "{t}");
        assert!(step["started_at"].is_string() && step["finished_at"].is_string(), "{step}");
    }
    assert_eq!(only(&t, "tell")["input"]["arguments"], json!({ "temp": 31, "who": "ann" }));
    // Each step told the next what it produced.
    let messages = t["messages"].as_array().expect("messages");
    let pairs: Vec<(&str, &str)> =
        messages.iter().map(|m| (m["from_step"].as_str().unwrap_or(""), m["to_step"].as_str().unwrap_or(""))).collect();
    assert_eq!(pairs, [("fetch", "tell"), ("tell", "done")]);
    assert_eq!(messages[0]["content"], json!({ "status": 200, "data": { "temp": 31 } }));
    // The receiver got the typed arguments with the step's idempotency key.
    let sent = hits(&rx, "/notify");
    assert_eq!(sent.len(), 1);
    assert_eq!(serde_json::from_slice::<Value>(&sent[0].body).expect("json"), json!({ "temp": 31, "who": "ann" }));
    assert_eq!(sent[0].header("idempotency-key"), Some(format!("wf{exec}-tell-1").as_str()));
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM tool_executions WHERE execution_id = {exec} AND source = 'workflow'")),
        2
    );
    // Listed under the workflow.
    let list = call_ok(&app, &s, Method::GET, &format!("/api/v1/workflows/{wf}/executions"), None).await;
    assert_eq!(list["items"][0]["id"], exec);
}

#[tokio::test]
async fn parallel_branches_run_at_once_and_the_join_waits_for_both() {
    let app = spawn_app().await;
    let s = app.register("wf-par@example.com").await;
    let rx = receiver(Duration::from_millis(400)).await;
    tool(&app, &s, "slow_a", "GET", &format!("{}/slow", rx.base), &[]).await;
    tool(&app, &s, "slow_b", "POST", &format!("{}/slow", rx.base), &[]).await;
    let bot = bot(&app, &s).await;
    let wf = workflow(
        &app,
        &s,
        bot,
        "Fan out",
        json!({ "start": "fan", "steps": [
            { "id": "fan", "type": "parallel", "branches": ["left", "right"] },
            { "id": "left", "type": "tool", "tool": "slow_a", "next": "both" },
            { "id": "right", "type": "tool", "tool": "slow_b", "next": "both" },
            { "id": "both", "type": "join", "next": "done" },
            { "id": "done", "type": "end" } ] }),
    )
    .await;
    let exec = start(&app, &s, wf, json!({})).await;
    app.run_jobs().await;
    let t = trace(&app, &s, exec).await;
    assert_eq!(t["status"], "completed", "{t}");
    let (left, right, join) = (only(&t, "left"), only(&t, "right"), only(&t, "both"));
    let at = |v: &Value, k: &str| v[k].as_str().expect("timestamp").to_owned();
    // The branches overlapped: each started before the other finished.
    assert!(
        at(left, "started_at") < at(right, "finished_at") && at(right, "started_at") < at(left, "finished_at"),
        "{t}"
    );
    // The join ran once, after both, with both outputs.
    assert!(at(join, "started_at") >= at(left, "finished_at") && at(join, "started_at") >= at(right, "finished_at"));
    let slow = json!({ "status": 200, "data": { "slow": true } });
    assert_eq!(join["output"], json!({ "left": slow, "right": slow }));
    assert_eq!(hits(&rx, "/slow").len(), 2);
}

#[tokio::test]
async fn a_condition_takes_the_first_true_branch_else_the_default_and_loops_end() {
    let app = spawn_app().await;
    let s = app.register("wf-cond@example.com").await;
    let rx = receiver(Duration::ZERO).await;
    tool(&app, &s, "count", "POST", &format!("{}/count", rx.base), &["n"]).await;
    let bot = bot(&app, &s).await;
    let wf = workflow(
        &app,
        &s,
        bot,
        "Branches",
        json!({ "steps": [
            { "id": "check", "type": "condition",
              "branches": [ { "when": "input.temp > 25", "next": "hot" }, { "when": "input.temp < 5", "next": "cold" } ],
              "default": "mild" },
            { "id": "hot", "type": "end", "output": { "advice": "stay inside" } },
            { "id": "cold", "type": "end", "output": { "advice": "wear a coat" } },
            { "id": "mild", "type": "end", "output": { "advice": "go out" } } ] }),
    )
    .await;
    for (temp, advice, taken) in [(30, "stay inside", "hot"), (0, "wear a coat", "cold"), (15, "go out", "mild")] {
        let exec = start(&app, &s, wf, json!({ "temp": temp })).await;
        app.run_jobs().await;
        let t = trace(&app, &s, exec).await;
        assert_eq!(t["output"]["advice"], advice, "{t}");
        let ran: Vec<&str> = t["steps"].as_array().expect("steps").iter().filter_map(|s| s["step"].as_str()).collect();
        assert_eq!(ran, ["check", taken]);
    }
    // A loop with a way out runs until its condition lets it leave.
    let looping = workflow(
        &app,
        &s,
        bot,
        "Loop",
        json!({ "steps": [
            { "id": "work", "type": "tool", "tool": "count", "arguments": { "n": "{{ default(steps.work.data.echo.n, 0) + 1 }}" }, "next": "again" },
            { "id": "again", "type": "condition", "branches": [ { "when": "steps.work.data.echo.n < 3", "next": "work" } ], "default": "done" },
            { "id": "done", "type": "end", "output": { "n": "{{ steps.work.data.echo.n }}" } } ] }),
    )
    .await;
    let exec = start(&app, &s, looping, json!({})).await;
    app.run_jobs().await;
    let t = trace(&app, &s, exec).await;
    assert_eq!(t["status"], "completed", "{t}");
    assert_eq!(t["output"], json!({ "n": 3 }));
    let keys: Vec<String> =
        hits(&rx, "/count").iter().map(|r| r.header("idempotency-key").unwrap_or("").to_owned()).collect();
    assert_eq!(keys, [format!("wf{exec}-work-1"), format!("wf{exec}-work-2"), format!("wf{exec}-work-3")]);
}

async fn agent(app: &TestApp, s: &Session, bot: i64, name: &str, instructions: &str) -> i64 {
    let a = call_ok(
        app,
        s,
        Method::POST,
        &format!("/api/v1/bots/{bot}/agents"),
        Some(json!({ "name": name, "instructions": instructions })),
    )
    .await;
    a["id"].as_i64().expect("agent id")
}

#[tokio::test]
async fn a_router_agent_picks_the_route_and_the_chosen_agent_answers() {
    let app = spawn_app().await;
    let s = app.register("wf-router@example.com").await;
    let llm = FakeOpenAi::start().await;
    provider(&app, &s, "Main", &llm, json!({ "is_default": true })).await;
    let bot = bot(&app, &s).await;
    let triage = agent(&app, &s, bot, "Triage", "You route customer questions.").await;
    let billing = agent(&app, &s, bot, "Billing", "You answer billing questions.").await;
    let tech = agent(&app, &s, bot, "Tech", "You answer technical questions.").await;
    let wf = workflow(
        &app,
        &s,
        bot,
        "Support",
        json!({ "steps": [
            { "id": "triage", "type": "router", "agent_id": triage, "input": "{{ input.question }}",
              "routes": { "billing": "billing", "tech": "tech" } },
            { "id": "billing", "type": "agent", "agent_id": billing, "input": "{{ input.question }}", "next": "done" },
            { "id": "tech", "type": "agent", "agent_id": tech, "input": "{{ input.question }}", "next": "done" },
            { "id": "done", "type": "end", "output": { "answer": "{{ steps.billing.text }}" } } ] }),
    )
    .await;
    llm.push(Step::text("Billing."));
    llm.push(Step::text("Your refund was issued on Monday."));
    let exec = start(&app, &s, wf, json!({ "question": "Where is my refund?" })).await;
    app.run_jobs().await;
    let t = trace(&app, &s, exec).await;
    assert_eq!(t["status"], "completed", "{t}");
    assert_eq!(only(&t, "triage")["output"]["route"], "billing");
    assert_eq!(only(&t, "billing")["agent_id"], billing);
    assert!(activations(&t, "tech").is_empty());
    assert_eq!(t["output"]["answer"], "Your refund was issued on Monday.");
    // The router saw the route names; the chosen agent got the question under its own instructions.
    let bodies = llm.bodies();
    assert_eq!(bodies.len(), 2);
    assert!(bodies[0]["messages"].to_string().contains("billing, tech"), "{}", bodies[0]);
    assert_eq!(bodies[1]["messages"][0]["content"], "You answer billing questions.");
    // The handoff is a message between the two agents; tokens are counted (10 + 5 per call).
    let handoff = t["messages"].as_array().expect("messages").iter().find(|m| m["message_type"] == "handoff").cloned();
    let handoff = handoff.expect("a handoff message");
    assert_eq!((handoff["from_agent_id"].as_i64(), handoff["to_agent_id"].as_i64()), (Some(triage), Some(billing)));
    assert_eq!(t["total_tokens"], 30);
}

#[tokio::test]
async fn an_agent_step_without_a_model_fails_at_once_with_llm_not_configured() {
    let app = spawn_app().await;
    let s = app.register("wf-nollm@example.com").await;
    let bot = bot(&app, &s).await;
    let a = agent(&app, &s, bot, "Writer", "You write.").await;
    let wf = workflow(
        &app,
        &s,
        bot,
        "No model",
        json!({ "steps": [ { "id": "write", "type": "agent", "agent_id": a, "input": "Hello" } ] }),
    )
    .await;
    let exec = start(&app, &s, wf, json!({})).await;
    let started = Instant::now();
    app.run_jobs().await;
    assert!(started.elapsed() < Duration::from_secs(10));
    let t = trace(&app, &s, exec).await;
    assert_eq!(t["status"], "failed", "{t}");
    assert_eq!(t["error_code"], "llm_not_configured");
    assert_eq!(only(&t, "write")["error"]["code"], "llm_not_configured");
}

#[tokio::test]
async fn an_approval_step_waits_for_a_person_then_continues_or_is_refused() {
    let app = spawn_app().await;
    let s = app.register("wf-approve@example.com").await;
    let rx = receiver(Duration::ZERO).await;
    tool(&app, &s, "refund", "POST", &format!("{}/refund", rx.base), &["amount"]).await;
    let bot = bot(&app, &s).await;
    let wf = workflow(
        &app,
        &s,
        bot,
        "Refund",
        json!({ "steps": [
            { "id": "ask", "type": "approval", "message": "Refund {{ input.amount }} EUR?", "next": "pay" },
            { "id": "pay", "type": "tool", "tool": "refund", "arguments": { "amount": "{{ input.amount }}" } } ] }),
    )
    .await;
    let exec = start(&app, &s, wf, json!({ "amount": 40 })).await;
    app.run_jobs().await;
    let t = trace(&app, &s, exec).await;
    assert_eq!(t["status"], "waiting_approval", "{t}");
    assert_eq!(t["waiting_step"], "ask");
    assert_eq!(only(&t, "ask")["input"]["message"], "Refund 40 EUR?");
    assert!(hits(&rx, "/refund").is_empty(), "nothing paid before the approval");
    // Waiting costs no worker: the job ended.
    assert_eq!(app.run_jobs().await, 0);

    let path = format!("/api/v1/workflow-executions/{exec}/approve");
    let bad = send_as(&app, &s, Method::POST, &path, Some(json!({ "approved": "yes" }))).await;
    assert_error(bad, 422, "validation_failed").await;
    let decided = call_ok(&app, &s, Method::POST, &path, Some(json!({ "approved": true, "comment": "ok" }))).await;
    assert_eq!(decided["status"], "running");
    app.run_jobs().await;
    let t = trace(&app, &s, exec).await;
    assert_eq!(t["status"], "completed", "{t}");
    assert_eq!(only(&t, "ask")["output"]["approved"], true);
    assert_eq!(only(&t, "ask")["output"]["decided_by"], s.user_id);
    assert_eq!(hits(&rx, "/refund").len(), 1);
    let again = send_as(&app, &s, Method::POST, &path, Some(json!({ "approved": true }))).await;
    assert_error(again, 409, "workflow_execution_finished").await;

    // Refused without a `reject` branch: the run fails as rejected and nothing is paid.
    let exec = start(&app, &s, wf, json!({ "amount": 900 })).await;
    app.run_jobs().await;
    let path = format!("/api/v1/workflow-executions/{exec}/approve");
    call_ok(&app, &s, Method::POST, &path, Some(json!({ "approved": false }))).await;
    app.run_jobs().await;
    let t = trace(&app, &s, exec).await;
    assert_eq!((t["status"].as_str(), t["error_code"].as_str()), (Some("failed"), Some("rejected")), "{t}");
    assert_eq!(hits(&rx, "/refund").len(), 1);
}

#[tokio::test]
async fn cancel_stops_a_step_in_flight_and_ends_the_run() {
    let app = spawn_app().await;
    let s = app.register("wf-cancel@example.com").await;
    let rx = receiver(Duration::from_secs(20)).await;
    tool(&app, &s, "slow", "GET", &format!("{}/slow", rx.base), &[]).await;
    let bot = bot(&app, &s).await;
    let wf = workflow(
        &app,
        &s,
        bot,
        "Slow",
        json!({ "steps": [ { "id": "wait", "type": "tool", "tool": "slow", "next": "done" }, { "id": "done", "type": "end" } ] }),
    )
    .await;
    let exec = start(&app, &s, wf, json!({})).await;
    let state = app.state.clone();
    let worker = tokio::spawn(async move {
        let token = tokio_util::sync::CancellationToken::new();
        botbuilder::jobs::run_once(&state, "test", &token).await.expect("job")
    });
    let started = Instant::now();
    while hits(&rx, "/slow").is_empty() {
        assert!(started.elapsed() < Duration::from_secs(10), "the step did not start");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let path = format!("/api/v1/workflow-executions/{exec}/cancel");
    let t = call_ok(&app, &s, Method::POST, &path, None).await;
    assert_eq!((t["status"].as_str(), t["error_code"].as_str()), (Some("cancelled"), Some("cancelled")));
    let cancelled_at = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), worker).await.expect("the runner stopped").expect("join");
    assert!(cancelled_at.elapsed() < Duration::from_secs(5));
    let t = trace(&app, &s, exec).await;
    assert_eq!(t["status"], "cancelled");
    assert_eq!(only(&t, "wait")["status"], "skipped");
    assert!(activations(&t, "done").is_empty());
    assert_error(send_as(&app, &s, Method::POST, &path, None).await, 409, "workflow_execution_finished").await;
}

#[tokio::test]
async fn step_and_workflow_timeouts_fail_the_run_with_their_code() {
    let app = spawn_app().await;
    let s = app.register("wf-timeout@example.com").await;
    let rx = receiver(Duration::from_secs(5)).await;
    tool(&app, &s, "slow", "GET", &format!("{}/slow", rx.base), &[]).await;
    let bot = bot(&app, &s).await;
    let wf = workflow(
        &app,
        &s,
        bot,
        "Step limit",
        json!({ "steps": [ { "id": "wait", "type": "tool", "tool": "slow", "timeout_ms": 300 } ] }),
    )
    .await;
    let exec = start(&app, &s, wf, json!({})).await;
    let started = Instant::now();
    app.run_jobs().await;
    assert!(started.elapsed() < Duration::from_secs(4), "the step was stopped at its limit");
    let t = trace(&app, &s, exec).await;
    assert_eq!((t["status"].as_str(), t["error_code"].as_str()), (Some("failed"), Some("step_timeout")), "{t}");
    assert_eq!(only(&t, "wait")["status"], "failed");

    // The overall limit also ends a run that waits for a person.
    let wf = workflow(
        &app,
        &s,
        bot,
        "Run limit",
        json!({ "timeout_ms": 1500, "steps": [ { "id": "ask", "type": "approval", "message": "Go?" } ] }),
    )
    .await;
    let exec = start(&app, &s, wf, json!({})).await;
    app.run_jobs().await;
    assert_eq!(trace(&app, &s, exec).await["status"], "waiting_approval");
    tokio::time::sleep(Duration::from_secs(2)).await;
    app.run_jobs().await;
    let t = trace(&app, &s, exec).await;
    assert_eq!((t["status"].as_str(), t["error_code"].as_str()), (Some("failed"), Some("workflow_timeout")), "{t}");
    assert_eq!(only(&t, "ask")["status"], "skipped");
}

#[tokio::test]
async fn bad_definitions_are_refused_naming_the_field_and_nothing_is_stored() {
    let app = spawn_app().await;
    let s = app.register("wf-422@example.com").await;
    let rx = receiver(Duration::ZERO).await;
    tool(&app, &s, "ping", "GET", &format!("{}/ping", rx.base), &[]).await;
    let bot = bot(&app, &s).await;
    let path = format!("/api/v1/bots/{bot}/workflows");
    let cases = [
        (
            json!({ "steps": [ { "id": "a", "type": "teleport" } ] }),
            "workflow_step_type_unknown",
            "definition.steps[0].type",
        ),
        (
            json!({ "steps": [ { "id": "a", "type": "tool", "tool": "ping", "next": "nowhere" } ] }),
            "workflow_edge_dangling",
            "definition.steps[0].next",
        ),
        (
            json!({ "steps": [
                { "id": "a", "type": "tool", "tool": "ping", "next": "b" },
                { "id": "b", "type": "condition", "branches": [ { "when": "true", "next": "a" } ], "default": "a" } ] }),
            "workflow_cycle_without_exit",
            "definition.steps[0].next",
        ),
        (
            json!({ "steps": [ { "id": "a", "type": "tool", "tool": "no_such_tool" } ] }),
            "invalid_reference",
            "definition.steps[0].tool",
        ),
        (
            json!({ "steps": [ { "id": "a", "type": "agent", "agent_id": 999_999, "input": "hi" } ] }),
            "invalid_reference",
            "definition.steps[0].agent_id",
        ),
        (
            json!({ "steps": [ { "id": "a", "type": "condition", "branches": [ { "when": "input.x >", "next": "a" } ] } ] }),
            "validation_failed",
            "definition.steps[0].branches[0].when",
        ),
        (
            json!({ "timeout_ms": -5, "steps": [ { "id": "a", "type": "end" } ] }),
            "validation_failed",
            "definition.timeout_ms",
        ),
        (json!({ "steps": [] }), "validation_failed", "definition.steps"),
    ];
    for (definition, code, field) in cases {
        let r = send_as(&app, &s, Method::POST, &path, Some(json!({ "name": "Bad", "definition": definition }))).await;
        let body = assert_error(r, 422, code).await;
        assert_eq!(body["error"]["details"]["field"], field, "{body}");
    }
    assert_eq!(app.count("SELECT count(*) FROM agent_workflows"), 0);
    // An update is checked the same way and changes nothing.
    let wf = workflow(&app, &s, bot, "Good", json!({ "steps": [ { "id": "a", "type": "end" } ] })).await;
    let r = send_as(
        &app,
        &s,
        Method::PATCH,
        &format!("/api/v1/workflows/{wf}"),
        Some(json!({ "definition": { "steps": [ { "id": "a", "type": "join", "next": "a" } ] } })),
    )
    .await;
    assert_error(r, 422, "workflow_cycle_without_exit").await;
    let stored = call_ok(&app, &s, Method::GET, &format!("/api/v1/workflows/{wf}"), None).await;
    assert_eq!(stored["definition"]["steps"][0]["type"], "end");
    // Switched off: not runnable.
    call_ok(&app, &s, Method::PATCH, &format!("/api/v1/workflows/{wf}"), Some(json!({ "is_active": false }))).await;
    let r = send_as(&app, &s, Method::POST, &format!("/api/v1/workflows/{wf}/run"), Some(json!({}))).await;
    assert_error(r, 409, "workflow_inactive").await;
}

fn execution_rows(data: &std::path::Path, exec: i64) -> (String, Vec<(String, String, i64)>) {
    let conn = rusqlite::Connection::open(data).expect("open");
    let status: String =
        conn.query_row("SELECT status FROM workflow_executions WHERE id = ?1", [exec], |r| r.get(0)).expect("status");
    let mut st = conn
        .prepare("SELECT step_key, status, iteration FROM agent_execution_steps WHERE execution_id = ?1 ORDER BY id")
        .expect("prepare");
    let rows = st
        .query_map([exec], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    (status, rows)
}

/// Issue 19 "Must show": a workflow killed mid-way resumes after the restart
/// and finishes once, with no duplicated tool side effects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_mid_way_resumes_after_restart_and_finishes_once() {
    let charges = Arc::new(AtomicUsize::new(0));
    let seen = charges.clone();
    let rx = FakeServer::start(Arc::new(move |r: &Received| {
        if r.path == "/charge" && seen.fetch_add(1, Ordering::SeqCst) == 0 {
            // The first attempt is in flight when the server is killed: it never answers.
            return Reply::Slow(Duration::from_secs(30), 200, "application/json".into(), b"{}".to_vec());
        }
        ok(&json!({ "path": r.path, "key": r.header("idempotency-key") }))
    }))
    .await;
    let app = spawn_app().await;
    let s = app.register("wf-crash@example.com").await;
    tool(&app, &s, "reserve", "POST", &format!("{}/reserve", rx.base), &[]).await;
    tool(&app, &s, "charge", "POST", &format!("{}/charge", rx.base), &[]).await;
    tool(&app, &s, "ship", "POST", &format!("{}/ship", rx.base), &[]).await;
    let bot = bot(&app, &s).await;
    let wf = workflow(
        &app,
        &s,
        bot,
        "Order",
        json!({ "steps": [
            { "id": "reserve", "type": "tool", "tool": "reserve", "next": "charge" },
            { "id": "charge", "type": "tool", "tool": "charge", "next": "ship" },
            { "id": "ship", "type": "tool", "tool": "ship", "next": "done" },
            { "id": "done", "type": "end" } ] }),
    )
    .await;
    let exec = start(&app, &s, wf, json!({})).await;
    let dir = app.stop().await;
    let data = dir.path().join("test.db");
    let env = [("BOTBUILDER_OUTBOUND__ALLOW_PRIVATE", "true"), ("BOTBUILDER_ML__ENABLED", "false")];

    // The real binary runs the workflow until the charge is in flight; then SIGKILL.
    let mut server = tokio::task::spawn_blocking({
        let data = data.clone();
        move || Server::start_with(&data, &env)
    })
    .await
    .expect("start");
    let started = Instant::now();
    while charges.load(Ordering::SeqCst) == 0 {
        assert!(started.elapsed() < Duration::from_secs(60), "the run did not reach the charge");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.child.kill().expect("SIGKILL");
    server.child.wait().expect("reaped");
    let (status, rows) = execution_rows(&data, exec);
    assert_eq!(status, "running");
    assert_eq!(
        rows,
        [("reserve".into(), "completed".into(), 1), ("charge".into(), "running".into(), 1)],
        "killed with the first step done and the second in flight"
    );

    // Started again on the same file: the run continues where it stopped and ends once.
    let server = tokio::task::spawn_blocking({
        let data = data.clone();
        move || Server::start_with(&data, &env)
    })
    .await
    .expect("restart");
    let restarted = Instant::now();
    loop {
        let (status, _) = execution_rows(&data, exec);
        if status != "running" && status != "pending" {
            assert_eq!(status, "completed");
            break;
        }
        assert!(restarted.elapsed() < Duration::from_secs(60), "the run did not finish after the restart");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = tokio::task::spawn_blocking(move || server.terminate()).await.expect("stop");
    assert!(status.success(), "{status}");

    let (_, rows) = execution_rows(&data, exec);
    let expected: Vec<(String, String, i64)> =
        ["reserve", "charge", "ship", "done"].iter().map(|k| ((*k).to_owned(), "completed".to_owned(), 1)).collect();
    assert_eq!(rows, expected, "every step once, none run again");
    // The completed step was not repeated; the one in flight was sent again with the same key, so the
    // receiver (deduplicating by Idempotency-Key) charged once.
    assert_eq!(hits(&rx, "/reserve").len(), 1);
    assert_eq!(hits(&rx, "/ship").len(), 1);
    let keys: Vec<String> =
        hits(&rx, "/charge").iter().map(|r| r.header("idempotency-key").unwrap_or("").to_owned()).collect();
    assert_eq!(keys, [format!("wf{exec}-charge-1"), format!("wf{exec}-charge-1")]);
}

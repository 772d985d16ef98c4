//! Agents (issue 19 item 3) against the fake `OpenAI`-compatible server: the
//! agent loop with real tools (three tools in one turn; malformed
//! arguments, an unknown tool and arguments off the schema going back to the
//! model; a tool timeout), retries and fallback, the per-conversation
//! budget, approvals by a human, and the validation of agents.

#![allow(clippy::too_many_lines, reason = "end-to-end scenarios read best as one story")]

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::ai::{bot, provider};
use crate::fake_http::{FakeServer, Received, Reply};
use crate::fake_openai::{FakeOpenAi, Step};
use crate::helpers::{Session, TestApp, call_ok, spawn_app_with};

async fn app() -> TestApp {
    spawn_app_with(|c| c.llm.backoff_base_ms = 10).await
}

/// A code tool named `name` running `body` on `args`, with an argument schema.
pub(crate) async fn code_tool(app: &TestApp, s: &Session, name: &str, body: &str, schema: Value) -> i64 {
    let t = call_ok(
        app,
        s,
        Method::POST,
        &format!("/api/v1/orgs/{}/tools", s.org_id),
        Some(json!({ "name": name, "type": "code", "description": format!("The {name} tool"), "input_schema": schema,
                     "config": { "source": format!("function main(args) {{ {body} }}") } })),
    )
    .await;
    t["id"].as_i64().expect("tool id")
}

#[allow(clippy::needless_pass_by_value, reason = "called with inline json! values")]
pub(crate) fn object_schema(props: Value, required: &[&str]) -> Value {
    json!({ "type": "object", "properties": props, "required": required })
}

/// A bot whose AI uses `fake`, and an agent of it with `extra` fields.
pub(crate) async fn agent(app: &TestApp, s: &Session, fake: &FakeOpenAi, extra: Value) -> (i64, i64) {
    let p = provider(app, s, "Main", fake, json!({})).await;
    let bot = bot(app, s).await;
    call_ok(app, s, Method::PUT, &format!("/api/v1/bots/{bot}/ai/config"), Some(json!({ "provider_id": p }))).await;
    let mut body = json!({ "name": "Helper", "instructions": "You help with orders." });
    body.as_object_mut().expect("object").extend(extra.as_object().expect("object").clone());
    let a = call_ok(app, s, Method::POST, &format!("/api/v1/bots/{bot}/agents"), Some(body)).await;
    (bot, a["id"].as_i64().expect("agent id"))
}

async fn chat(app: &TestApp, s: &Session, agent: i64, message: &str, thread: Option<&str>) -> (u16, Value) {
    let mut body = json!({ "message": message });
    if let Some(t) = thread {
        body["thread"] = json!(t);
    }
    app.call(s, Method::POST, &format!("/api/v1/agents/{agent}/chat"), Some(body)).await
}

fn steps_of(run: &Value) -> Vec<(String, String, String)> {
    run["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            (
                s["kind"].as_str().unwrap_or_default().to_owned(),
                s["status"].as_str().unwrap_or_default().to_owned(),
                s["tool_name"].as_str().or(s["error_code"].as_str()).unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn step(kind: &str, status: &str, name: &str) -> (String, String, String) {
    (kind.to_owned(), status.to_owned(), name.to_owned())
}

/// The tool messages of the `n`-th request to the model.
fn tool_messages(fake: &FakeOpenAi, n: usize) -> Vec<Value> {
    fake.bodies()[n]["messages"].as_array().expect("messages").iter().filter(|m| m["role"] == "tool").cloned().collect()
}

#[tokio::test]
async fn three_tools_in_one_turn_each_step_recorded_and_fed_back() {
    let app = app().await;
    let s = app.register("agents-three@example.com").await;
    let fake = FakeOpenAi::start().await;
    let order = object_schema(json!({ "order_id": { "type": "integer" } }), &["order_id"]);
    let lookup =
        code_tool(&app, &s, "lookup_order", "return { status: 'shipped', id: args.order_id };", order.clone()).await;
    let track =
        code_tool(&app, &s, "track_parcel", "return { eta: '2 days', id: args.order_id };", order.clone()).await;
    let total = code_tool(
        &app,
        &s,
        "order_total",
        "return { total: args.items.reduce((s, i) => s + i, 0) };",
        object_schema(json!({ "items": { "type": "array", "items": { "type": "number" } } }), &["items"]),
    )
    .await;
    let (_, agent) = agent(
        &app,
        &s,
        &fake,
        json!({ "tools": [ { "tool_id": total, "priority": 3 }, { "tool_id": lookup, "priority": 1 }, { "tool_id": track, "priority": 2 } ] }),
    )
    .await;
    let listed = call_ok(&app, &s, Method::GET, &format!("/api/v1/agents/{agent}"), None).await;
    let names: Vec<&str> =
        listed["tools"].as_array().unwrap().iter().map(|t| t["function_name"].as_str().unwrap()).collect();
    assert_eq!(names, ["lookup_order", "track_parcel", "order_total"], "by priority");

    fake.push(Step::tool_calls(&[("c1", "lookup_order", r#"{"order_id": 42}"#)]).usage(20, 5));
    fake.push(
        Step::tool_calls(&[
            ("c2", "track_parcel", r#"{"order_id": 42}"#),
            ("c3", "order_total", r#"{"items": [2.5, 4]}"#),
        ])
        .usage(30, 8),
    );
    fake.push(Step::text("Order 42 shipped, arrives in 2 days, total 6.5.").usage(40, 12));
    let (status, run) = chat(&app, &s, agent, "Where is order 42?", None).await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["status"], "completed");
    assert_eq!(run["reply"], "Order 42 shipped, arrives in 2 days, total 6.5.");
    assert_eq!(
        steps_of(&run),
        [
            step("model_call", "ok", ""),
            step("tool_call", "ok", "lookup_order"),
            step("model_call", "ok", ""),
            step("tool_call", "ok", "track_parcel"),
            step("tool_call", "ok", "order_total"),
            step("model_call", "ok", ""),
        ]
    );
    let steps = run["steps"].as_array().unwrap();
    assert_eq!(steps[1]["arguments"], json!({ "order_id": 42 }));
    assert_eq!(steps[1]["result"], json!({ "status": "shipped", "id": 42 }));
    assert_eq!(steps[4]["result"], json!({ "total": 6.5 }));
    assert_eq!((steps[0]["prompt_tokens"].as_i64(), steps[0]["completion_tokens"].as_i64()), (Some(20), Some(5)));
    assert_eq!(run["total_tokens"], 25 + 38 + 52);
    // The model saw the tools by priority and every result.
    let bodies = fake.bodies();
    assert_eq!(bodies.len(), 3);
    let offered: Vec<&str> =
        bodies[0]["tools"].as_array().unwrap().iter().map(|t| t["function"]["name"].as_str().unwrap()).collect();
    assert_eq!(offered, ["lookup_order", "track_parcel", "order_total"]);
    assert_eq!(bodies[0]["messages"][0]["content"], "You help with orders.");
    let results = tool_messages(&fake, 2);
    assert_eq!(results.len(), 3);
    assert_eq!(results[2]["tool_call_id"], "c3");
    assert!(results[2]["content"].as_str().unwrap().contains("6.5"));
    // Stored: the run, its six steps, three tool executions by the agent.
    assert_eq!(app.count("SELECT count(*) FROM agent_run_steps"), 6);
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM tool_executions WHERE source = 'agent' AND agent_id = {agent}")),
        3
    );
    let again = call_ok(&app, &s, Method::GET, &format!("/api/v1/agent-runs/{}", run["id"]), None).await;
    assert_eq!(steps_of(&again), steps_of(&run));

    // The thread continues with the history.
    fake.push(Step::text("You're welcome."));
    let (status, next) = chat(&app, &s, agent, "Thanks!", run["thread"].as_str()).await;
    assert_eq!(status, 200, "{next}");
    let history = &fake.bodies()[3]["messages"];
    assert_eq!(history[1]["content"], "Where is order 42?");
    assert_eq!(history[2]["content"], "Order 42 shipped, arrives in 2 days, total 6.5.");
    assert_eq!(history[3]["content"], "Thanks!");
}

#[tokio::test]
async fn malformed_arguments_unknown_tools_and_schema_mismatches_go_back_to_the_model() {
    let app = app().await;
    let s = app.register("agents-bad-args@example.com").await;
    let fake = FakeOpenAi::start().await;
    let lookup = code_tool(
        &app,
        &s,
        "lookup_order",
        "return { ok: true };",
        object_schema(json!({ "order_id": { "type": "integer" } }), &["order_id"]),
    )
    .await;
    let (_, agent) = agent(&app, &s, &fake, json!({ "tools": [{ "tool_id": lookup }] })).await;
    fake.push(Step::tool_calls(&[("c1", "lookup_order", r#"{"order_id": 42"#)]));
    fake.push(Step::tool_calls(&[("c2", "delete_everything", "{}")]));
    fake.push(Step::tool_calls(&[("c3", "lookup_order", r#"{"order_id": "forty-two"}"#)]));
    fake.push(Step::tool_calls(&[("c4", "lookup_order", r#"{"order_id": 42}"#)]));
    fake.push(Step::text("Done."));
    let (status, run) = chat(&app, &s, agent, "Order 42?", None).await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["reply"], "Done.");
    assert_eq!(
        steps_of(&run),
        [
            step("model_call", "ok", ""),
            step("tool_call", "error", "lookup_order"),
            step("model_call", "ok", ""),
            step("tool_call", "error", "delete_everything"),
            step("model_call", "ok", ""),
            step("tool_call", "error", "lookup_order"),
            step("model_call", "ok", ""),
            step("tool_call", "ok", "lookup_order"),
            step("model_call", "ok", ""),
        ]
    );
    let steps = run["steps"].as_array().unwrap();
    assert_eq!(steps[1]["error_code"], "malformed_arguments");
    assert_eq!(steps[1]["arguments"], r#"{"order_id": 42"#, "the raw text is kept");
    assert_eq!(steps[3]["error_code"], "unknown_tool");
    assert_eq!(steps[5]["error_code"], "tool_arguments_invalid");
    assert!(steps[5]["error"].as_str().unwrap().contains("/order_id"), "{}", steps[5]);
    // Each error reached the model as the result of its call.
    for (n, code) in [(1, "malformed_arguments"), (2, "unknown_tool"), (3, "tool_arguments_invalid")] {
        let last = tool_messages(&fake, n).pop().expect("a tool result");
        let content: Value = serde_json::from_str(last["content"].as_str().unwrap()).unwrap();
        assert_eq!(content["error"]["code"], code, "{content}");
    }
    // Only the valid call ran the tool.
    assert_eq!(app.count("SELECT count(*) FROM tool_executions"), 1);
}

#[tokio::test]
async fn a_tool_timeout_is_a_result_the_model_sees() {
    let app = app().await;
    let s = app.register("agents-timeout@example.com").await;
    let fake = FakeOpenAi::start().await;
    let slow = FakeServer::start(Arc::new(|_: &Received| {
        Reply::Slow(Duration::from_secs(5), 200, "application/json".into(), b"{}".to_vec())
    }))
    .await;
    let t = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/orgs/{}/tools", s.org_id),
        Some(json!({ "name": "slow_api", "type": "http", "timeout_ms": 300, "config": { "url": format!("{}/slow", slow.base) } })),
    )
    .await;
    let (_, agent) = agent(&app, &s, &fake, json!({ "tools": [{ "tool_id": t["id"] }] })).await;
    fake.push(Step::tool_calls(&[("c1", "slow_api", "{}")]));
    fake.push(Step::text("The service is slow right now."));
    let started = std::time::Instant::now();
    let (status, run) = chat(&app, &s, agent, "Check the API", None).await;
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["steps"][1]["status"], "timeout");
    assert_eq!(run["steps"][1]["error_code"], "timeout");
    let result = tool_messages(&fake, 1).pop().unwrap();
    assert!(result["content"].as_str().unwrap().contains("timeout"), "{result}");
    assert_eq!(run["reply"], "The service is slow right now.");
}

#[tokio::test]
async fn a_429_is_retried_and_a_500_falls_back_to_the_other_provider() {
    let app = app().await;
    let s = app.register("agents-retry@example.com").await;
    let fake = FakeOpenAi::start().await;
    let (bot, agent) = agent(&app, &s, &fake, json!({})).await;
    fake.push(Step::rate_limited("0"));
    fake.push(Step::text("After the wait."));
    let (status, run) = chat(&app, &s, agent, "Hello", None).await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["reply"], "After the wait.");
    assert_eq!(run["steps"][0]["result"]["attempts"], 2);
    assert_eq!(fake.calls().len(), 2);

    // The primary fails with 500 (no retries left): the bot's fallback answers.
    let backup = FakeOpenAi::start().await;
    let broken = FakeOpenAi::start().await;
    let p1 = provider(&app, &s, "Broken", &broken, json!({ "max_retries": 0 })).await;
    let p2 = provider(&app, &s, "Backup", &backup, json!({})).await;
    call_ok(
        &app,
        &s,
        Method::PUT,
        &format!("/api/v1/bots/{bot}/ai/config"),
        Some(json!({ "provider_id": p1, "fallback_provider_id": p2 })),
    )
    .await;
    broken.push(Step::server_error());
    backup.push(Step::text("From the backup."));
    let (status, run) = chat(&app, &s, agent, "Hello again", None).await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["reply"], "From the backup.");
    assert_eq!(run["steps"][0]["result"]["fell_back"], true);
    assert_eq!(run["steps"][0]["provider_id"], p2);
    assert_eq!((broken.calls().len(), backup.calls().len()), (1, 1));
}

#[tokio::test]
async fn the_conversation_budget_stops_the_loop_mid_turn_and_the_monthly_budget_before_it() {
    let app = app().await;
    let s = app.register("agents-budget@example.com").await;
    let fake = FakeOpenAi::start().await;
    let echo = code_tool(&app, &s, "echo", "return args;", json!({ "type": "object" })).await;
    let (bot, agent) =
        agent(&app, &s, &fake, json!({ "tools": [{ "tool_id": echo }], "conversation_token_budget": 20 })).await;
    // 15 tokens, a tool call; 15 < 20 so a second call; 30 ≥ 20: the third is refused.
    fake.push(Step::tool_calls(&[("c1", "echo", "{}")]).usage(10, 5));
    fake.push(Step::tool_calls(&[("c2", "echo", "{}")]).usage(10, 5));
    fake.push(Step::text("never sent"));
    let (status, e) = chat(&app, &s, agent, "Go", None).await;
    assert_eq!(status, 402, "{e}");
    assert_eq!(e["error"]["code"], "agent_budget_exhausted");
    assert_eq!(e["error"]["details"]["field"], "conversation_token_budget");
    assert_eq!(e["error"]["details"]["used"], 30);
    assert_eq!(fake.calls().len(), 2, "no model call past the budget");
    let run =
        call_ok(&app, &s, Method::GET, &format!("/api/v1/agent-runs/{}", e["error"]["details"]["run_id"]), None).await;
    assert_eq!(run["status"], "failed");
    assert_eq!(run["error"]["code"], "agent_budget_exhausted");
    assert_eq!(steps_of(&run).len(), 4, "both model calls and both tool calls stored");
    // The same thread stays refused at once; a new one may start.
    let (status, e2) = chat(&app, &s, agent, "Again", e["error"]["details"]["thread"].as_str()).await;
    assert_eq!((status, e2["error"]["code"].as_str()), (402, Some("agent_budget_exhausted")));
    assert_eq!(fake.calls().len(), 2);

    // The bot's monthly budget: checked before each model call too.
    call_ok(
        &app,
        &s,
        Method::PUT,
        &format!("/api/v1/bots/{bot}/ai/config"),
        Some(json!({ "provider_id": run["steps"][0]["provider_id"], "monthly_token_budget": 30 })),
    )
    .await;
    let (status, e3) = chat(&app, &s, agent, "New thread", None).await;
    assert_eq!((status, e3["error"]["code"].as_str()), (402, Some("llm_budget_exhausted")), "{e3}");
}

#[tokio::test]
async fn a_tool_that_needs_approval_waits_for_a_human() {
    let app = app().await;
    let s = app.register("agents-approval@example.com").await;
    let fake = FakeOpenAi::start().await;
    let refund = code_tool(
        &app,
        &s,
        "refund",
        "return { refunded: args.amount };",
        object_schema(json!({ "amount": { "type": "number" } }), &["amount"]),
    )
    .await;
    let (_, agent) =
        agent(&app, &s, &fake, json!({ "tools": [{ "tool_id": refund, "requires_approval": true }] })).await;
    fake.push(Step::tool_calls(&[("c1", "refund", r#"{"amount": 20}"#)]));
    let (status, run) = chat(&app, &s, agent, "Refund me 20", None).await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["status"], "waiting_approval");
    assert_eq!(run["approval"]["tool_name"], "refund");
    assert_eq!(run["approval"]["arguments"], json!({ "amount": 20 }));
    assert_eq!(steps_of(&run).last().unwrap(), &step("approval", "waiting", "refund"));
    assert_eq!(app.count("SELECT count(*) FROM tool_executions"), 0, "nothing ran before the approval");
    // It waits in the inbox.
    let inbox = call_ok(&app, &s, Method::GET, &format!("/api/v1/orgs/{}/agent-approvals", s.org_id), None).await;
    assert_eq!(inbox["items"].as_array().unwrap().len(), 1, "{inbox}");
    let approval = inbox["items"][0]["id"].as_i64().unwrap();
    assert_eq!(fake.calls().len(), 1);

    fake.push(Step::text("Refunded 20."));
    let done =
        call_ok(&app, &s, Method::POST, &format!("/api/v1/agent-approvals/{approval}/approve"), Some(json!({}))).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["reply"], "Refunded 20.");
    assert_eq!(app.count("SELECT count(*) FROM tool_executions WHERE status = 'ok'"), 1);
    let result = tool_messages(&fake, 1).pop().unwrap();
    assert!(result["content"].as_str().unwrap().contains("refunded"), "{result}");
    let kinds = steps_of(&done);
    assert!(kinds.contains(&step("approval", "approved", "refund")), "{kinds:?}");
    assert!(kinds.contains(&step("tool_call", "ok", "refund")), "{kinds:?}");
    // Decided once only.
    let (status, e) =
        app.call(&s, Method::POST, &format!("/api/v1/agent-approvals/{approval}/approve"), Some(json!({}))).await;
    assert_eq!((status, e["error"]["code"].as_str()), (409, Some("agent_approval_decided")));
    let pending = call_ok(&app, &s, Method::GET, &format!("/api/v1/orgs/{}/agent-approvals", s.org_id), None).await;
    assert_eq!(pending["items"].as_array().unwrap().len(), 0);

    // A rejection goes back to the model as the tool's result.
    fake.push(Step::tool_calls(&[("c9", "refund", r#"{"amount": 500}"#)]));
    let (_, waiting) = chat(&app, &s, agent, "Refund me 500", None).await;
    let approval = waiting["approval"]["id"].as_i64().unwrap();
    fake.push(Step::text("Sorry, I cannot refund that."));
    let done = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/agent-approvals/{approval}/reject"),
        Some(json!({ "note": "too much" })),
    )
    .await;
    assert_eq!(done["reply"], "Sorry, I cannot refund that.");
    let result = tool_messages(&fake, 3).pop().unwrap();
    let content: Value = serde_json::from_str(result["content"].as_str().unwrap()).unwrap();
    assert_eq!(content["error"]["code"], "rejected");
    assert!(content["error"]["message"].as_str().unwrap().contains("too much"));
    assert_eq!(app.count("SELECT count(*) FROM tool_executions"), 1, "the rejected call never ran");
}

#[tokio::test]
async fn agents_are_validated_and_nothing_bad_is_stored() {
    let app = app().await;
    let s = app.register("agents-validation@example.com").await;
    let other = app.register("agents-validation-other@example.com").await;
    let fake = FakeOpenAi::start().await;
    let mine = code_tool(&app, &s, "mine", "return 1;", json!({ "type": "object" })).await;
    let theirs = code_tool(&app, &other, "theirs", "return 1;", json!({ "type": "object" })).await;
    let foreign_provider = provider(&app, &other, "Theirs", &fake, json!({})).await;
    let (bot, agent) = agent(&app, &s, &fake, json!({ "tools": [{ "tool_id": mine }], "max_steps": 3 })).await;
    let path = format!("/api/v1/bots/{bot}/agents");
    let good = json!({ "name": "Second", "instructions": "Be brief." });
    for (change, field) in [
        (json!({ "conversation_token_budget": -1 }), "conversation_token_budget"),
        (json!({ "conversation_cost_budget_micros": -1 }), "conversation_cost_budget_micros"),
        (json!({ "max_steps": 0 }), "max_steps"),
        (json!({ "max_steps": 51 }), "max_steps"),
        (json!({ "temperature": 3 }), "temperature"),
        (json!({ "max_tokens": 0 }), "max_tokens"),
        (json!({ "tools": [{ "tool_id": 999_999 }] }), "tools[0].tool_id"),
        (json!({ "tools": [{ "tool_id": mine }, { "tool_id": theirs }] }), "tools[1].tool_id"),
        (json!({ "tools": [{ "tool_id": mine }, { "tool_id": mine }] }), "tools[1].tool_id"),
        (json!({ "knowledge_base_ids": [999_999] }), "knowledge_base_ids[0]"),
        (json!({ "provider_id": foreign_provider }), "provider_id"),
        (json!({ "name": "" }), "name"),
        (json!({ "instructions": " " }), "instructions"),
        (json!({ "max_steps": "many" }), "max_steps"),
    ] {
        let mut body = good.clone();
        body.as_object_mut().unwrap().extend(change.as_object().unwrap().clone());
        let (status, e) = app.call(&s, Method::POST, &path, Some(body.clone())).await;
        assert_eq!(status, 422, "{body}: {e}");
        assert_eq!(e["error"]["details"]["field"], field, "{body}: {e}");
        // The same on a change of the existing agent.
        let (status, e) = app.call(&s, Method::PATCH, &format!("/api/v1/agents/{agent}"), Some(change.clone())).await;
        assert_eq!(status, 422, "{change}: {e}");
    }
    assert_eq!(app.count("SELECT count(*) FROM agents"), 1, "nothing of the refused requests was stored");
    let stored = call_ok(&app, &s, Method::GET, &format!("/api/v1/agents/{agent}"), None).await;
    assert_eq!(stored["max_steps"], 3);
    assert_eq!(stored["tools"].as_array().unwrap().len(), 1);
    let (status, e) = app.call(&s, Method::POST, &path, Some(json!({ "name": "Helper", "instructions": "x" }))).await;
    assert_eq!((status, e["error"]["code"].as_str()), (409, Some("name_taken")));
    // Changes, and the step limit guardrail.
    let changed = call_ok(
        &app,
        &s,
        Method::PATCH,
        &format!("/api/v1/agents/{agent}"),
        Some(json!({ "max_steps": 1, "temperature": 0.1, "tools": [] })),
    )
    .await;
    assert_eq!((changed["max_steps"].as_i64(), changed["tools"].as_array().unwrap().len()), (Some(1), 0));
    call_ok(
        &app,
        &s,
        Method::PATCH,
        &format!("/api/v1/agents/{agent}"),
        Some(json!({ "tools": [{ "tool_id": mine }] })),
    )
    .await;
    fake.push(Step::tool_calls(&[("c1", "mine", "{}")]));
    let (status, e) = chat(&app, &s, agent, "loop", None).await;
    assert_eq!((status, e["error"]["code"].as_str()), (409, Some("agent_step_limit")), "{e}");
    assert_eq!(fake.bodies()[0]["temperature"], 0.1);
    // Chat input.
    let (status, e) = chat(&app, &s, agent, "  ", None).await;
    assert_eq!((status, e["error"]["details"]["field"].as_str()), (422, Some("message")));
    let (status, e) = chat(&app, &s, agent, "hi", Some("conversation:1")).await;
    assert_eq!((status, e["error"]["details"]["field"].as_str()), (422, Some("thread")));
    // Other organizations see nothing.
    let (status, _) = app.call(&other, Method::GET, &format!("/api/v1/agents/{agent}"), None).await;
    assert_eq!(status, 404);
    let (status, _) =
        app.call(&other, Method::POST, &format!("/api/v1/agents/{agent}/chat"), Some(json!({ "message": "x" }))).await;
    assert_eq!(status, 404);
    // Switched off; deleted.
    call_ok(&app, &s, Method::PATCH, &format!("/api/v1/agents/{agent}"), Some(json!({ "is_active": false }))).await;
    let (status, e) = chat(&app, &s, agent, "hi", None).await;
    assert_eq!((status, e["error"]["code"].as_str()), (409, Some("agent_disabled")));
    let list = call_ok(&app, &s, Method::GET, &path, None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let (status, _) = app.call(&s, Method::DELETE, &format!("/api/v1/agents/{agent}"), None).await;
    assert_eq!(status, 204);
    assert_eq!(app.count("SELECT count(*) FROM agent_runs"), 0, "runs go with their agent");
}

#[tokio::test]
async fn without_a_provider_the_agent_answers_llm_not_configured_at_once() {
    let app = app().await;
    let s = app.register("agents-no-llm@example.com").await;
    let bot = bot(&app, &s).await;
    let a = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/bots/{bot}/agents"),
        Some(json!({ "name": "Lonely", "instructions": "Help." })),
    )
    .await;
    let (status, e) = chat(&app, &s, a["id"].as_i64().unwrap(), "hello", None).await;
    assert_eq!((status, e["error"]["code"].as_str()), (409, Some("llm_not_configured")), "{e}");
    assert!(e["error"]["details"]["run_id"].is_i64());
}

/// Saves `flow` as the bot's main flow and publishes it.
pub(crate) async fn publish(app: &TestApp, s: &Session, bot: i64, flow: Value) {
    let path = format!("/api/v1/bots/{bot}/flows/main");
    let (status, saved) = app.call(s, Method::PUT, &path, Some(json!({ "document": flow }))).await;
    assert_eq!(status, 201, "{saved}");
    let (status, published) =
        app.call(s, Method::POST, &format!("{path}/publish"), Some(json!({ "message": "live" }))).await;
    assert_eq!(status, 200, "{published}");
}

async fn emulate(app: &TestApp, s: &Session, bot: i64, body: Value) -> Value {
    call_ok(app, s, Method::POST, &format!("/api/v1/bots/{bot}/emulator"), Some(body)).await
}

fn texts(turn: &Value) -> Vec<String> {
    turn["replies"]
        .as_array()
        .expect("replies")
        .iter()
        .map(|m| m["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn an_agent_node_answers_in_a_published_flow_and_hands_off_when_a_tool_needs_approval() {
    let app = app().await;
    let s = app.register("agents-flow@example.com").await;
    let fake = FakeOpenAi::start().await;
    let lookup = code_tool(&app, &s, "lookup", "return { status: 'shipped' };", json!({ "type": "object" })).await;
    let refund = code_tool(&app, &s, "refund", "return { ok: true };", json!({ "type": "object" })).await;
    let (bot, agent) = agent(
        &app,
        &s,
        &fake,
        json!({ "tools": [{ "tool_id": lookup }, { "tool_id": refund, "requires_approval": true }] }),
    )
    .await;
    publish(
        &app,
        &s,
        bot,
        json!({
            "nodes": [
                { "id": "start", "type": "start" },
                { "id": "ask", "type": "question", "data": { "prompt": { "text": "How can I help?" }, "variable": "q" } },
                { "id": "ai", "type": "agent", "data": { "agent_id": agent, "input": "{{q}}", "variable": "answer" } },
                { "id": "human", "type": "handoff", "data": { "message": { "text": "A colleague will check this." } } },
                { "id": "sorry", "type": "message", "data": { "text": "The assistant is unavailable." } }
            ],
            "edges": [
                { "source": "start", "target": "ask" },
                { "source": "ask", "target": "ai" },
                { "source": "ai", "port": "done", "target": "ask" },
                { "source": "ai", "port": "handoff", "target": "human" },
                { "source": "ai", "port": "error", "target": "sorry" },
                { "source": "human", "target": "ask" },
                { "source": "sorry", "target": "ask" }
            ]
        }),
    )
    .await;
    let first = emulate(&app, &s, bot, json!({ "source": "published" })).await;
    assert_eq!(texts(&first), ["How can I help?"]);
    let conv = first["conversation_id"].as_i64().expect("conversation");
    fake.push(Step::tool_calls(&[("c1", "lookup", "{}")]));
    fake.push(Step::text("Your order has shipped."));
    let turn =
        emulate(&app, &s, bot, json!({ "conversation_id": conv, "source": "published", "text": "Where is my order?" }))
            .await;
    assert_eq!(texts(&turn), ["Your order has shipped.", "How can I help?"], "{turn}");
    assert_eq!(turn["trace"]["variables_after"]["session"]["answer"], "Your order has shipped.", "{turn}");
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM agent_runs WHERE conversation_id = {conv} AND source = 'flow'")),
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM tool_executions WHERE source = 'flow'"), 1);

    // A tool that needs approval: the conversation goes to a human, the
    // request waits in the inbox with the tool and arguments.
    fake.push(Step::tool_calls(&[("c2", "refund", r#"{"amount": 5}"#)]));
    let turn =
        emulate(&app, &s, bot, json!({ "conversation_id": conv, "source": "published", "text": "Refund me" })).await;
    assert_eq!(texts(&turn), ["A colleague will check this."], "{turn}");
    let status: String =
        app.sql(|c| c.query_row("SELECT status FROM conversations WHERE id = ?1", [conv], |r| r.get(0)));
    assert_eq!(status, "handoff");
    let inbox = call_ok(&app, &s, Method::GET, &format!("/api/v1/orgs/{}/agent-approvals", s.org_id), None).await;
    assert_eq!(inbox["items"][0]["conversation_id"], conv, "{inbox}");
    assert_eq!(inbox["items"][0]["arguments"], json!({ "amount": 5 }));
    let approval = inbox["items"][0]["id"].as_i64().unwrap();
    fake.push(Step::text("Refund done."));
    let done =
        call_ok(&app, &s, Method::POST, &format!("/api/v1/agent-approvals/{approval}/approve"), Some(json!({}))).await;
    assert_eq!(done["reply"], "Refund done.");
    // The reply reached the conversation through the runtime.
    let sent = app.count(&format!(
        "SELECT count(*) FROM widget_messages WHERE conversation_id = {conv} AND content = 'Refund done.'"
    ));
    assert_eq!(sent, 1);

    // Without a model the node takes its error port.
    call_ok(&app, &s, Method::PUT, &format!("/api/v1/bots/{bot}/ai/config"), Some(json!({ "is_enabled": false })))
        .await;
    call_ok(&app, &s, Method::POST, &format!("/api/v1/conversations/{conv}/handback"), None).await;
    let turn =
        emulate(&app, &s, bot, json!({ "conversation_id": conv, "source": "published", "text": "Hello?" })).await;
    assert_eq!(texts(&turn), ["The assistant is unavailable.", "How can I help?"], "{turn}");
}

#[tokio::test]
async fn a_tool_node_runs_without_any_model() {
    let app = app().await;
    let s = app.register("agents-tool-node@example.com").await;
    let greet = code_tool(
        &app,
        &s,
        "greet",
        "return 'Hello, ' + args.name + '!';",
        object_schema(json!({ "name": { "type": "string", "minLength": 2 } }), &["name"]),
    )
    .await;
    let bot = bot(&app, &s).await;
    publish(
        &app,
        &s,
        bot,
        json!({
            "nodes": [
                { "id": "start", "type": "start" },
                { "id": "ask", "type": "question", "data": { "prompt": { "text": "Your name?" }, "variable": "name" } },
                { "id": "run", "type": "tool", "data": { "tool_id": greet, "arguments": { "name": "{{name}}" },
                                                         "variable": "greeting", "error_variable": "failure" } },
                { "id": "say", "type": "message", "data": { "text": "{{greeting}}" } },
                { "id": "bad", "type": "message", "data": { "text": "That did not work." } }
            ],
            "edges": [
                { "source": "start", "target": "ask" },
                { "source": "ask", "target": "run" },
                { "source": "run", "port": "ok", "target": "say" },
                { "source": "run", "port": "error", "target": "bad" },
                { "source": "say", "target": "ask" },
                { "source": "bad", "target": "ask" }
            ]
        }),
    )
    .await;
    assert_eq!(app.count("SELECT count(*) FROM llm_providers"), 0);
    let first = emulate(&app, &s, bot, json!({ "source": "published" })).await;
    let conv = first["conversation_id"].as_i64().expect("conversation");
    let turn = emulate(&app, &s, bot, json!({ "conversation_id": conv, "source": "published", "text": "Ada" })).await;
    assert_eq!(texts(&turn), ["Hello, Ada!", "Your name?"], "{turn}");
    // Arguments off the schema take the error port with the code.
    let turn = emulate(&app, &s, bot, json!({ "conversation_id": conv, "source": "published", "text": "A" })).await;
    assert_eq!(texts(&turn), ["That did not work.", "Your name?"], "{turn}");
    assert_eq!(turn["trace"]["variables_after"]["session"]["failure"]["code"], "tool_arguments_invalid", "{turn}");
    assert_eq!(app.count("SELECT count(*) FROM tool_executions WHERE source = 'flow'"), 1);
    // A bad node is a blocking issue naming the field (drafts always save).
    let path = format!("/api/v1/bots/{bot}/flows/main");
    let (status, saved) = app
        .call(&s, Method::PUT, &path, Some(json!({ "document": { "nodes": [
            { "id": "start", "type": "start" }, { "id": "run", "type": "tool", "data": { "tool_id": 0, "arguments": [] } } ],
            "edges": [ { "source": "start", "target": "run" } ] } })))
        .await;
    assert_eq!(status, 201, "{saved}");
    let blocking: Vec<&str> = saved["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .filter(|i| i["blocks_publish"] == true)
        .filter_map(|i| i["field"].as_str())
        .collect();
    assert!(blocking.contains(&"data.tool_id") && blocking.contains(&"data.arguments"), "{saved}");
}

/// A published flow whose `agent` node answers every question and hands
/// off when a tool call waits for approval.
pub(crate) fn agent_flow(agent: i64) -> Value {
    json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "ask", "type": "question", "data": { "prompt": { "text": "How can I help?" }, "variable": "q" } },
            { "id": "ai", "type": "agent", "data": { "agent_id": agent, "input": "{{q}}", "variable": "answer" } },
            { "id": "human", "type": "handoff", "data": { "message": { "text": "A colleague will check this." } } },
            { "id": "sorry", "type": "message", "data": { "text": "The assistant is unavailable." } }
        ],
        "edges": [
            { "source": "start", "target": "ask" },
            { "source": "ask", "target": "ai" },
            { "source": "ai", "port": "done", "target": "ask" },
            { "source": "ai", "port": "handoff", "target": "human" },
            { "source": "ai", "port": "error", "target": "sorry" },
            { "source": "human", "target": "ask" },
            { "source": "sorry", "target": "ask" }
        ]
    })
}

/// An API conversation of visitor `user` whose message `text` made the agent
/// ask for a tool call; the conversation waits in the inbox.
pub(crate) async fn conversation_waiting_for_approval(
    app: &TestApp,
    s: &Session,
    bot: i64,
    user: &str,
    text: &str,
) -> i64 {
    let turn = call_ok(
        app,
        s,
        Method::POST,
        &format!("/api/v1/bots/{bot}/conversations"),
        Some(json!({ "external_user_id": user })),
    )
    .await;
    let conv = turn["conversation_id"].as_i64().expect("conversation");
    let turn =
        call_ok(app, s, Method::POST, &format!("/api/v1/conversations/{conv}/messages"), Some(json!({ "text": text })))
            .await;
    assert_eq!(turn["status"], "handoff", "{turn}");
    conv
}

#[tokio::test]
async fn an_inbox_rejection_with_a_reason_reaches_the_model_and_the_transcript() {
    let app = app().await;
    let s = app.register("agents-inbox-reject@example.com").await;
    let fake = FakeOpenAi::start().await;
    let refund = code_tool(&app, &s, "refund", "return { ok: true };", json!({ "type": "object" })).await;
    let (bot, agent) =
        agent(&app, &s, &fake, json!({ "tools": [{ "tool_id": refund, "requires_approval": true }] })).await;
    publish(&app, &s, bot, agent_flow(agent)).await;
    fake.push(Step::tool_calls(&[(
        "c1",
        "refund",
        r#"{"amount": 500, "api_key": "sk-live-123", "card": {"password": "hunter2"}}"#,
    )]));
    let conv = conversation_waiting_for_approval(&app, &s, bot, "visitor-77", "Refund me 500").await;

    // The inbox lists it with who asked, the message, and the arguments
    // with their secrets redacted; also filtered to the conversation.
    let list = call_ok(
        &app,
        &s,
        Method::GET,
        &format!("/api/v1/orgs/{}/agent-approvals?conversation_id={conv}", s.org_id),
        None,
    )
    .await;
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{list}");
    let a = &items[0];
    assert_eq!(a["conversation_id"], conv);
    assert_eq!(a["agent_name"], "Helper");
    assert_eq!(a["tool_name"], "refund");
    assert_eq!(a["requested_by"], "visitor-77");
    assert_eq!(a["run_source"], "flow");
    assert_eq!(a["input"], "Refund me 500");
    assert!(a["bot_name"].is_string(), "{a}");
    assert_eq!(a["arguments"], json!({ "amount": 500, "api_key": "[redacted]", "card": { "password": "[redacted]" } }));
    assert!(!list.to_string().contains("sk-live-123") && !list.to_string().contains("hunter2"), "{list}");
    let other = call_ok(
        &app,
        &s,
        Method::GET,
        &format!("/api/v1/orgs/{}/agent-approvals?conversation_id={}", s.org_id, conv + 1000),
        None,
    )
    .await;
    assert_eq!(other["items"].as_array().expect("items").len(), 0, "{other}");
    let approval = a["id"].as_i64().expect("id");

    // A reason longer than allowed: 422 on `note`, nothing decided.
    let (status, e) = app
        .call(
            &s,
            Method::POST,
            &format!("/api/v1/agent-approvals/{approval}/reject"),
            Some(json!({ "note": "x".repeat(1001) })),
        )
        .await;
    assert_eq!((status, e["error"]["details"]["field"].as_str()), (422, Some("note")), "{e}");
    assert_eq!(app.count("SELECT count(*) FROM agent_approvals WHERE status = 'pending'"), 1);

    fake.push(Step::text("Sorry, a colleague says that is too much."));
    let done = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/agent-approvals/{approval}/reject"),
        Some(json!({ "note": "over the refund limit" })),
    )
    .await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["reply"], "Sorry, a colleague says that is too much.");
    // The model was told why; the tool never ran.
    let result = tool_messages(&fake, 1).pop().expect("tool result");
    assert!(result["content"].as_str().unwrap().contains("over the refund limit"), "{result}");
    assert_eq!(app.count("SELECT count(*) FROM tool_executions"), 0);

    // The transcript shows the decision (an internal note by the human,
    // secrets redacted) and then the agent's reply.
    let messages =
        call_ok(&app, &s, Method::GET, &format!("/api/v1/conversations/{conv}/messages?limit=200"), None).await;
    let lines: Vec<(String, String)> = messages["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|m| (m["role"].as_str().unwrap_or_default().to_owned(), m["text"].as_str().unwrap_or_default().to_owned()))
        .collect();
    let note = lines.iter().position(|(r, t)| r == "note" && t.starts_with("Rejected the tool call refund("));
    let reply = lines.iter().position(|(r, t)| r == "agent" && t == "Sorry, a colleague says that is too much.");
    assert!(note.is_some() && reply.is_some() && note < reply, "{lines:?}");
    let note_text = &lines[note.unwrap()].1;
    assert!(note_text.ends_with(": over the refund limit") && note_text.contains("[redacted]"), "{note_text}");
    assert!(!note_text.contains("sk-live-123"), "{note_text}");

    // Decided: no longer pending, listed as rejected with who decided.
    let decided =
        call_ok(&app, &s, Method::GET, &format!("/api/v1/orgs/{}/agent-approvals?status=rejected", s.org_id), None)
            .await;
    assert_eq!(decided["items"][0]["decided_by"], s.user_id, "{decided}");
    assert_eq!(decided["items"][0]["note"], "over the refund limit");
    assert!(decided["items"][0]["decided_by_name"].is_string(), "{decided}");
}

#[tokio::test]
async fn deciding_a_tool_call_needs_the_conversations_handle_permission() {
    let app = app().await;
    let s = app.register("agents-approval-authz@example.com").await;
    let fake = FakeOpenAi::start().await;
    let refund = code_tool(&app, &s, "refund", "return { ok: true };", json!({ "type": "object" })).await;
    let (bot, agent) =
        agent(&app, &s, &fake, json!({ "tools": [{ "tool_id": refund, "requires_approval": true }] })).await;
    publish(&app, &s, bot, agent_flow(agent)).await;
    fake.push(Step::tool_calls(&[("c1", "refund", r#"{"amount": 5}"#)]));
    let conv = conversation_waiting_for_approval(&app, &s, bot, "visitor-1", "Refund me").await;
    let approval: i64 =
        app.sql(|c| c.query_row("SELECT id FROM agent_approvals WHERE conversation_id = ?1", [conv], |r| r.get(0)));

    // A viewer sees the request but may not decide it.
    let viewer = app.join(&s, s.org_id, "agents-approval-viewer@example.com", "viewer").await;
    let (status, listed) =
        app.call(&viewer, Method::GET, &format!("/api/v1/orgs/{}/agent-approvals", s.org_id), None).await;
    assert_eq!(status, 200, "{listed}");
    for verb in ["approve", "reject"] {
        let (status, e) = app
            .call(&viewer, Method::POST, &format!("/api/v1/agent-approvals/{approval}/{verb}"), Some(json!({})))
            .await;
        assert_eq!((status, e["error"]["code"].as_str()), (403, Some("forbidden")), "{verb}: {e}");
    }
    // Someone of another organization does not even learn it exists.
    let stranger = app.register("agents-approval-stranger@example.com").await;
    let (status, _) = app
        .call(&stranger, Method::POST, &format!("/api/v1/agent-approvals/{approval}/approve"), Some(json!({})))
        .await;
    assert_eq!(status, 404);
    let (status, _) =
        app.call(&stranger, Method::GET, &format!("/api/v1/orgs/{}/agent-approvals", s.org_id), None).await;
    assert!(status == 403 || status == 404, "{status}");
    // Nothing was decided, nothing ran, the model was not called again.
    assert_eq!(app.count("SELECT count(*) FROM agent_approvals WHERE status = 'pending'"), 1);
    assert_eq!(app.count("SELECT count(*) FROM tool_executions"), 0);
    assert_eq!(fake.calls().len(), 1);
}

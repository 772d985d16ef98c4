//! Providers of kind `anthropic` (Anthropic's Messages API) against a fake
//! Anthropic server started by the test: an agent's multi-step tool call
//! (after a 429 with `Retry-After`) with the request shapes checked
//! (`x-api-key`, `anthropic-version`, `system` top-level, `input_schema`,
//! `tool_use` / `tool_result` blocks) and the usage accounted; the bot's
//! chat stream relaying `text_delta` and `input_json_delta` events; and a
//! bad `kind` refused.

#![allow(clippy::too_many_lines, reason = "end-to-end scenarios read best as one story")]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::agents::{code_tool, object_schema};
use crate::fake_http::{FakeServer, Received, Reply};
use crate::helpers::{Session, TestApp, call_ok, send_as, spawn_app_with};

/// A fake Anthropic API answering `POST /v1/messages` from a script of replies.
struct FakeAnthropic {
    server: FakeServer,
    script: Arc<Mutex<VecDeque<Reply>>>,
}

impl FakeAnthropic {
    async fn start() -> FakeAnthropic {
        let script: Arc<Mutex<VecDeque<Reply>>> = Arc::new(Mutex::new(VecDeque::new()));
        let queue = script.clone();
        let server = FakeServer::start(Arc::new(move |_: &Received| {
            queue.lock().expect("script").pop_front().unwrap_or_else(|| {
                Reply::Full(
                    500,
                    "application/json".into(),
                    br#"{"type":"error","error":{"type":"api_error","message":"nothing scripted"}}"#.to_vec(),
                )
            })
        }))
        .await;
        FakeAnthropic { server, script }
    }

    fn push(&self, reply: Reply) {
        self.script.lock().expect("script").push_back(reply);
    }

    fn requests(&self) -> Vec<Received> {
        self.server.requests()
    }

    fn bodies(&self) -> Vec<Value> {
        self.requests().iter().map(|r| serde_json::from_slice(&r.body).expect("JSON body")).collect()
    }
}

/// A non-streamed `message` with these content blocks.
#[allow(clippy::needless_pass_by_value, reason = "called with inline json! values")]
fn message(content: Value, stop: &str, usage: (u64, u64)) -> Reply {
    let body = json!({ "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test",
                       "content": content, "stop_reason": stop,
                       "usage": { "input_tokens": usage.0, "output_tokens": usage.1 } });
    Reply::Full(200, "application/json".into(), body.to_string().into_bytes())
}

/// A stream of these events, each as `event: <type>` and `data: <json>`.
fn events_reply(events: &[Value]) -> Reply {
    let parts = events
        .iter()
        .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap_or("message")).into_bytes())
        .collect();
    Reply::Chunked(200, "text/event-stream".into(), parts, Duration::from_millis(2))
}

/// The (event, data) pairs of an SSE body.
fn sse_events(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter_map(|block| {
            let mut event = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event: ") {
                    event = Some(e.to_owned());
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            Some((event?, serde_json::from_str(&data).ok()?))
        })
        .collect()
}

/// An `anthropic` provider of the organization (default, priced) and a bot using it.
async fn anthropic_bot(app: &TestApp, s: &Session, fake: &FakeAnthropic) -> (i64, i64) {
    let p = call_ok(
        app,
        s,
        Method::POST,
        &format!("/api/v1/orgs/{}/llm-providers", s.org_id),
        Some(json!({ "name": "Claude", "kind": "anthropic", "base_url": format!("{}/v1", fake.server.base),
                     "default_model": "claude-test", "api_key": "sk-ant-secret", "timeout_ms": 5000,
                     "max_retries": 2, "is_default": true,
                     "input_price_micros": 1_000_000, "output_price_micros": 2_000_000 })),
    )
    .await;
    assert_eq!(p["kind"], "anthropic", "{p}");
    let provider = p["id"].as_i64().expect("provider id");
    let bot = call_ok(
        app,
        s,
        Method::POST,
        &format!("/api/v1/orgs/{}/bots", s.org_id),
        Some(json!({ "name": "Claude bot" })),
    )
    .await["id"]
        .as_i64()
        .expect("bot id");
    call_ok(app, s, Method::PUT, &format!("/api/v1/bots/{bot}/ai/config"), Some(json!({ "provider_id": provider })))
        .await;
    (provider, bot)
}

#[tokio::test]
async fn an_agent_with_tools_runs_against_the_anthropic_messages_format() {
    let app = spawn_app_with(|c| c.llm.backoff_base_ms = 10).await;
    let s = app.register("anthropic-agent@example.com").await;
    let fake = FakeAnthropic::start().await;

    // A kind the server does not speak: 422 on `kind`, nothing stored.
    let (status, e) = app
        .call(
            &s,
            Method::POST,
            &format!("/api/v1/orgs/{}/llm-providers", s.org_id),
            Some(json!({ "name": "Gem", "kind": "gemini", "base_url": format!("{}/v1", fake.server.base),
                         "default_model": "g" })),
        )
        .await;
    assert_eq!((status, e["error"]["details"]["field"].as_str()), (422, Some("kind")), "{e}");
    assert_eq!(app.count("SELECT count(*) FROM llm_providers"), 0);

    let (provider, bot) = anthropic_bot(&app, &s, &fake).await;
    let schema = object_schema(json!({ "order_id": { "type": "integer" } }), &["order_id"]);
    let lookup =
        code_tool(&app, &s, "lookup_order", "return { status: 'shipped', id: args.order_id };", schema.clone()).await;
    let agent = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/bots/{bot}/agents"),
        Some(json!({ "name": "Orders", "instructions": "You help with orders.", "tools": [{ "tool_id": lookup }] })),
    )
    .await["id"]
        .as_i64()
        .expect("agent id");

    // Rate limited first (retried after `Retry-After`), then a tool call, then the answer.
    fake.push(Reply::WithHeaders(
        429,
        vec![("Retry-After".into(), "0".into()), ("Content-Type".into(), "application/json".into())],
        br#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#.to_vec(),
    ));
    fake.push(message(
        json!([{ "type": "text", "text": "Let me look." },
               { "type": "tool_use", "id": "toolu_1", "name": "lookup_order", "input": { "order_id": 42 } }]),
        "tool_use",
        (30, 10),
    ));
    fake.push(message(json!([{ "type": "text", "text": "Order 42 has shipped." }]), "end_turn", (50, 8)));
    let (status, run) = app
        .call(
            &s,
            Method::POST,
            &format!("/api/v1/agents/{agent}/chat"),
            Some(json!({ "message": "Where is order 42?" })),
        )
        .await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["reply"], "Order 42 has shipped.");
    let steps: Vec<(String, String)> = run["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| (s["kind"].as_str().unwrap_or("").to_owned(), s["status"].as_str().unwrap_or("").to_owned()))
        .collect();
    let pairs: Vec<(&str, &str)> = steps.iter().map(|(k, s)| (k.as_str(), s.as_str())).collect();
    assert_eq!(pairs, [("model_call", "ok"), ("tool_call", "ok"), ("model_call", "ok")], "{run}");
    assert_eq!(run["steps"][1]["arguments"], json!({ "order_id": 42 }));
    assert_eq!(run["steps"][1]["result"]["status"], "shipped");

    // What went over the wire: three requests (the 429 retried), Anthropic's headers and shapes.
    let requests = fake.requests();
    assert_eq!(requests.len(), 3);
    for r in &requests {
        assert_eq!(r.path, "/v1/messages");
        assert_eq!(r.header("x-api-key"), Some("sk-ant-secret"));
        assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
        assert_eq!(r.header("authorization"), None);
    }
    let bodies = fake.bodies();
    let last = &bodies[2];
    assert_eq!(last["model"], "claude-test");
    assert!(last["max_tokens"].as_u64().is_some_and(|m| m > 0), "{last}");
    assert!(last["system"].as_str().is_some_and(|s| s.contains("You help with orders.")), "{last}");
    assert!(last["messages"].as_array().expect("messages").iter().all(|m| m["role"] != "system"), "{last}");
    assert_eq!(last["tools"][0]["name"], "lookup_order");
    assert_eq!(last["tools"][0]["input_schema"], schema);
    let turns = last["messages"].as_array().expect("messages");
    assert_eq!(turns[0]["role"], "user");
    let assistant = &turns[turns.len() - 2];
    assert_eq!(assistant["role"], "assistant");
    assert_eq!(
        assistant["content"][1],
        json!({ "type": "tool_use", "id": "toolu_1", "name": "lookup_order",
                                               "input": { "order_id": 42 } })
    );
    let result = &turns[turns.len() - 1];
    assert_eq!(result["role"], "user");
    assert_eq!(result["content"][0]["type"], "tool_result");
    assert_eq!(result["content"][0]["tool_use_id"], "toolu_1");
    assert!(result["content"][0]["content"].as_str().expect("text").contains("shipped"), "{result}");

    // Usage accounted: the run, the calls and the bot's meter (priced 1 and 2 micros per token).
    assert_eq!(run["total_tokens"], 98, "{run}");
    assert_eq!(run["cost_micros"], 30 + 2 * 10 + 50 + 2 * 8, "{run}");
    let calls: (i64, i64, i64, i64) = app.sql(|c| {
        c.query_row(
            "SELECT count(*), sum(prompt_tokens), sum(completion_tokens), sum(cost_micros) FROM llm_calls
             WHERE provider_id = ?1 AND status = 'ok' AND purpose = 'agent'",
            [provider],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
    });
    assert_eq!(calls, (2, 80, 18, 116));
    let tokens = app.count(&format!(
        "SELECT coalesce(sum(count), 0) FROM usage_tracking WHERE bot_id = {bot} AND metric_type = 'llm_tokens'"
    ));
    assert_eq!(tokens, 98);
}

#[tokio::test]
async fn the_chat_stream_relays_anthropic_text_and_tool_call_events_with_usage() {
    let app = spawn_app_with(|c| c.llm.backoff_base_ms = 10).await;
    let s = app.register("anthropic-stream@example.com").await;
    let fake = FakeAnthropic::start().await;
    let (_, bot) = anthropic_bot(&app, &s, &fake).await;
    fake.push(events_reply(&[
        json!({"type":"message_start","message":{"id":"msg_s","type":"message","role":"assistant","model":"claude-test",
               "content":[],"usage":{"input_tokens":25,"output_tokens":1}}}),
        json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
        json!({"type":"ping"}),
        json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Let me "}}),
        json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"check."}}),
        json!({"type":"content_block_stop","index":0}),
        json!({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_w","name":"get_weather","input":{}}}),
        json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\":"}}),
        json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":" \"Paris\"}"}}),
        json!({"type":"content_block_stop","index":1}),
        json!({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":15}}),
        json!({"type":"message_stop"}),
    ]));
    let tool = json!({ "type": "function", "function": { "name": "get_weather", "description": "Weather of a city",
                       "parameters": { "type": "object", "properties": { "city": { "type": "string" } }, "required": ["city"] } } });
    let r = send_as(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/bots/{bot}/ai/chat/stream"),
        Some(json!({ "messages": [{ "role": "system", "content": "Be brief." },
                                  { "role": "user", "content": "Weather in Paris?" }], "tools": [tool] })),
    )
    .await;
    assert_eq!(r.status(), 200);
    let evs = sse_events(&r.text().await.expect("body"));
    let text: String =
        evs.iter().filter(|(e, _)| e == "delta").map(|(_, d)| d["text"].as_str().unwrap_or_default()).collect();
    assert_eq!(text, "Let me check.", "{evs:?}");
    let fragments: Vec<&Value> = evs.iter().filter(|(e, _)| e == "tool_call").map(|(_, d)| d).collect();
    assert_eq!(fragments[0]["id"], "toolu_w", "{fragments:?}");
    assert_eq!(fragments[0]["name"], "get_weather");
    let (_, done) = evs.iter().find(|(e, _)| e == "done").expect("done event");
    assert_eq!(done["finish_reason"], "tool_calls", "{done}");
    assert_eq!(done["message"]["tool_calls"][0]["function"]["arguments"], r#"{"city": "Paris"}"#);
    assert_eq!(done["message"]["content"], "Let me check.");
    let (last, usage) = evs.last().expect("events");
    assert_eq!(last, "usage");
    assert_eq!((usage["prompt_tokens"].as_u64(), usage["completion_tokens"].as_u64()), (Some(25), Some(15)), "{usage}");
    assert_eq!(usage["cost_micros"], 25 + 2 * 15);

    let body = &fake.bodies()[0];
    assert_eq!(body["stream"], true);
    assert!(body.get("stream_options").is_none(), "{body}");
    assert!(body["system"].as_str().is_some_and(|s| s.contains("Be brief.")), "{body}");
    assert_eq!(
        body["messages"],
        json!([{ "role": "user", "content": [{ "type": "text", "text": "Weather in Paris?" }] }])
    );
    assert_eq!(body["tools"][0]["input_schema"]["required"], json!(["city"]));
    let tracked = app.count(&format!(
        "SELECT coalesce(sum(count), 0) FROM usage_tracking WHERE bot_id = {bot} AND metric_type = 'llm_tokens'"
    ));
    assert_eq!(tracked, 40);
}

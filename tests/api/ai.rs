//! The bot AI routes (issue 19) against the fake `OpenAI`-compatible server:
//! settings and their validation, tool-call round trips (plain and
//! streamed), retries honouring `Retry-After`, the fallback provider,
//! timeouts, monthly budgets with exact usage rows, and `llm_not_configured`.

#![allow(
    clippy::too_many_lines,
    clippy::many_single_char_names,
    reason = "end-to-end scenarios read best as one story, with short names for the providers"
)]

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::fake_openai::{FakeOpenAi, Step};
use crate::helpers::{Session, TestApp, call_ok, send_as, spawn_app_with};

async fn app() -> TestApp {
    spawn_app_with(|c| c.llm.backoff_base_ms = 10).await
}

/// Creates a provider on `fake`; `extra` adds or overrides fields.
pub async fn provider(app: &TestApp, s: &Session, name: &str, fake: &FakeOpenAi, extra: Value) -> i64 {
    let mut body = json!({ "name": name, "base_url": fake.base_url(), "default_model": "fake-model",
                           "api_key": "sk-test", "timeout_ms": 5000, "max_retries": 2 });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let p = call_ok(app, s, Method::POST, &format!("/api/v1/orgs/{}/llm-providers", s.org_id), Some(body)).await;
    p["id"].as_i64().expect("provider id")
}

pub async fn bot(app: &TestApp, s: &Session) -> i64 {
    let b =
        call_ok(app, s, Method::POST, &format!("/api/v1/orgs/{}/bots", s.org_id), Some(json!({ "name": "AI bot" })))
            .await;
    b["id"].as_i64().expect("bot id")
}

async fn configure(app: &TestApp, s: &Session, bot: i64, config: Value) -> Value {
    call_ok(app, s, Method::PUT, &format!("/api/v1/bots/{bot}/ai/config"), Some(config)).await
}

async fn chat(app: &TestApp, s: &Session, bot: i64, body: Value) -> (u16, Value) {
    app.call(s, Method::POST, &format!("/api/v1/bots/{bot}/ai/chat"), Some(body)).await
}

/// The (event, data) pairs of an SSE body.
fn events(text: &str) -> Vec<(String, Value)> {
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

const WEATHER_TOOL: &str = r#"{"type":"function","function":{"name":"get_weather","description":"Weather of a city",
    "parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}"#;

#[tokio::test]
async fn settings_are_saved_and_each_bad_field_is_named() {
    let app = app().await;
    let s = app.register("ai-config@example.com").await;
    let other = app.register("ai-config-other@example.com").await;
    let fake = FakeOpenAi::start().await;
    let p = provider(&app, &s, "Main", &fake, json!({})).await;
    let foreign = provider(&app, &other, "Theirs", &fake, json!({})).await;
    let bot = bot(&app, &s).await;

    let defaults = call_ok(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/ai/config"), None).await;
    assert_eq!(defaults["configured"], false);
    assert_eq!(defaults["temperature"], 0.7);
    assert_eq!(defaults["max_tokens"], 1000);
    assert_eq!(defaults["monthly_token_budget"], Value::Null);

    let good = json!({ "provider_id": p, "model": "fake-large", "temperature": 0.2, "max_tokens": 256,
                       "system_prompt": "You are terse.", "monthly_token_budget": 1000, "monthly_cost_budget_micros": 0 });
    let saved = configure(&app, &s, bot, good.clone()).await;
    assert_eq!(saved["configured"], true);
    assert_eq!(saved["provider_id"], p);
    assert_eq!(saved["model"], "fake-large");
    assert_eq!(saved["temperature"], 0.2);
    assert_eq!(saved["monthly_cost_budget_micros"], 0);

    let path = format!("/api/v1/bots/{bot}/ai/config");
    for (change, field) in [
        (json!({ "temperature": 2.5 }), "temperature"),
        (json!({ "temperature": -0.1 }), "temperature"),
        (json!({ "max_tokens": 0 }), "max_tokens"),
        (json!({ "max_tokens": 100_001 }), "max_tokens"),
        (json!({ "monthly_token_budget": -1 }), "monthly_token_budget"),
        (json!({ "monthly_cost_budget_micros": -5 }), "monthly_cost_budget_micros"),
        (json!({ "provider_id": foreign }), "provider_id"),
        (json!({ "provider_id": 999_999 }), "provider_id"),
        (json!({ "fallback_provider_id": foreign }), "fallback_provider_id"),
        (json!({ "fallback_provider_id": p }), "fallback_provider_id"),
        (json!({ "model": "x".repeat(201) }), "model"),
        (json!({ "temperature": "hot" }), "temperature"),
    ] {
        let mut body = good.clone();
        body.as_object_mut().unwrap().extend(change.as_object().unwrap().clone());
        let (status, e) = app.call(&s, Method::PUT, &path, Some(body.clone())).await;
        assert_eq!(status, 422, "{body}: {e}");
        assert_eq!(e["error"]["details"]["field"], field, "{body}: {e}");
    }
    // Nothing of the refused requests was stored.
    let after = call_ok(&app, &s, Method::GET, &path, None).await;
    assert_eq!(after["temperature"], 0.2);
    assert_eq!(after["max_tokens"], 256);
    assert_eq!(after["provider_id"], p);
    assert_eq!(after["fallback_provider_id"], Value::Null);
    // Another organization cannot see or change it.
    let (status, _) = app.call(&other, Method::GET, &path, None).await;
    assert_eq!(status, 404);
    // Provider fields are checked too.
    let (status, e) = app
        .call(&s, Method::PATCH, &format!("/api/v1/llm-providers/{p}"), Some(json!({ "input_price_micros": -1 })))
        .await;
    assert_eq!((status, e["error"]["details"]["field"].as_str()), (422, Some("input_price_micros")));
    let (status, e) = app
        .call(
            &s,
            Method::PATCH,
            &format!("/api/v1/llm-providers/{p}"),
            Some(json!({ "fallback_provider_id": foreign })),
        )
        .await;
    assert_eq!((status, e["error"]["details"]["field"].as_str()), (422, Some("fallback_provider_id")));
}

#[tokio::test]
async fn a_two_step_tool_call_round_trip_sends_the_assistant_calls_and_the_tool_result_back() {
    let app = app().await;
    let s = app.register("ai-tools@example.com").await;
    let fake = FakeOpenAi::start().await;
    let p = provider(&app, &s, "Main", &fake, json!({ "is_default": true })).await;
    let bot = bot(&app, &s).await;
    configure(
        &app,
        &s,
        bot,
        json!({ "model": "fake-tools", "temperature": 0.2, "max_tokens": 300,
                                       "system_prompt": "Use tools." }),
    )
    .await;
    fake.push(Step::tool_calls(&[("call_abc", "get_weather", r#"{"city":"Paris"}"#)]).usage(40, 12));
    fake.push(Step::text("It is 21 °C in Paris.").usage(70, 9));
    let tool: Value = serde_json::from_str(WEATHER_TOOL).unwrap();
    let user = json!({ "role": "user", "content": "Weather in Paris?" });

    let (status, first) =
        chat(&app, &s, bot, json!({ "messages": [user], "tools": [tool], "tool_choice": "auto" })).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["finish_reason"], "tool_calls");
    let assistant = first["message"].clone();
    assert_eq!(
        assistant,
        json!({ "role": "assistant", "content": null, "tool_calls": [
            { "id": "call_abc", "type": "function", "function": { "name": "get_weather", "arguments": "{\"city\":\"Paris\"}" } }] })
    );
    assert_eq!(first["usage"]["total_tokens"], 52);
    assert_eq!(first["usage"]["provider_id"], p);

    let tool_message = json!({ "role": "tool", "tool_call_id": "call_abc", "content": "{\"celsius\":21}" });
    let (status, second) =
        chat(&app, &s, bot, json!({ "messages": [user, assistant, tool_message], "tools": [tool] })).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["message"], json!({ "role": "assistant", "content": "It is 21 °C in Paris." }));
    assert_eq!(second["finish_reason"], "stop");

    let bodies = fake.bodies();
    assert_eq!(bodies.len(), 2);
    // The first request: system prompt first, tools and tool_choice as given, the bot's model and options.
    assert_eq!(bodies[0]["model"], "fake-tools");
    assert_eq!(bodies[0]["temperature"], 0.2);
    assert_eq!(bodies[0]["max_tokens"], 300);
    assert_eq!(bodies[0]["stream"], false);
    assert_eq!(bodies[0]["tools"], json!([tool]));
    assert_eq!(bodies[0]["tool_choice"], "auto");
    assert_eq!(bodies[0]["messages"], json!([{ "role": "system", "content": "Use tools." }, user]));
    // The second carries the assistant's tool_calls and the tool message, exactly.
    assert_eq!(
        bodies[1]["messages"],
        json!([
            { "role": "system", "content": "Use tools." },
            { "role": "user", "content": "Weather in Paris?" },
            { "role": "assistant", "content": null, "tool_calls": [{ "id": "call_abc", "type": "function",
              "function": { "name": "get_weather", "arguments": "{\"city\":\"Paris\"}" } }] },
            { "role": "tool", "content": "{\"celsius\":21}", "tool_call_id": "call_abc" }
        ])
    );
    assert!(bodies[1].get("tool_choice").is_none());
    assert_eq!(fake.calls()[0].header("authorization"), Some("Bearer sk-test"));
    assert_eq!(fake.calls()[0].path, "/v1/chat/completions");
    assert_eq!(fake.pending(), 0);

    // Both calls are counted: 52 + 79 tokens, per day and model.
    let usage = call_ok(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/ai/usage"), None).await;
    assert_eq!(usage["total_tokens"], 131);
    assert_eq!(usage["rows"][0]["model"], "fake-tools");
    assert_eq!(usage["rows"][0]["calls"], 2);

    // Bad chat input names the field.
    for (body, field) in [
        (json!({ "messages": [] }), "messages"),
        (json!({ "messages": [{ "role": "robot", "content": "x" }] }), "messages[0].role"),
        (json!({ "messages": [user, { "role": "tool", "content": "x" }] }), "messages[1].tool_call_id"),
        (
            json!({ "messages": [user], "tools": [{ "type": "function", "function": { "name": "bad name!" } }] }),
            "tools[0].function.name",
        ),
        (json!({ "messages": [user], "tool_choice": "auto" }), "tool_choice"),
    ] {
        let (status, e) = chat(&app, &s, bot, body.clone()).await;
        assert_eq!(status, 422, "{body}: {e}");
        assert_eq!(e["error"]["details"]["field"], field, "{body}: {e}");
    }
    assert_eq!(fake.calls().len(), 2, "refused requests reach no model");
}

#[tokio::test]
async fn a_stream_relays_tool_call_fragments_and_ends_with_usage() {
    let app = app().await;
    let s = app.register("ai-stream@example.com").await;
    let fake = FakeOpenAi::start().await;
    provider(
        &app,
        &s,
        "Main",
        &fake,
        json!({ "is_default": true, "input_price_micros": 1_000_000,
                                              "output_price_micros": 2_000_000 }),
    )
    .await;
    let bot = bot(&app, &s).await;
    let args = r#"{"city":"Paris","unit":"celsius"}"#;
    fake.push(
        Step::tool_calls(&[("call_1", "get_weather", args), ("call_2", "get_time", r#"{"tz":"Europe/Paris"}"#)])
            .usage(30, 20),
    );
    let tool: Value = serde_json::from_str(WEATHER_TOOL).unwrap();
    let r = send_as(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/bots/{bot}/ai/chat/stream"),
        Some(json!({ "messages": [{ "role": "user", "content": "Weather and time?" }], "tools": [tool] })),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let evs = events(&r.text().await.unwrap());
    let fragments: Vec<&Value> = evs.iter().filter(|(e, _)| e == "tool_call").map(|(_, d)| d).collect();
    assert!(fragments.len() > 4, "arguments arrive in pieces: {fragments:?}");
    assert_eq!(fragments[0]["index"], 0);
    assert_eq!(fragments[0]["id"], "call_1");
    assert_eq!(fragments[0]["name"], "get_weather");
    let joined: String =
        fragments.iter().filter(|f| f["index"] == 0).map(|f| f["arguments"].as_str().unwrap()).collect();
    assert_eq!(joined, args);
    let (_, done) = evs.iter().find(|(e, _)| e == "done").expect("done event");
    assert_eq!(done["finish_reason"], "tool_calls");
    assert_eq!(done["message"]["tool_calls"][0]["function"]["arguments"], args);
    assert_eq!(done["message"]["tool_calls"][1]["function"]["name"], "get_time");
    assert_eq!(done["message"]["tool_calls"][1]["id"], "call_2");
    let (last, usage) = evs.last().expect("events");
    assert_eq!(last, "usage");
    assert_eq!(usage["prompt_tokens"], 30);
    assert_eq!(usage["completion_tokens"], 20);
    // 30 × 1.0 + 20 × 2.0 micros per token.
    assert_eq!(usage["cost_micros"], 70);
    let body = &fake.bodies()[0];
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
    let tracked = app.sql(|c| {
        c.query_row(
            "SELECT (SELECT count FROM usage_tracking WHERE bot_id = ?1 AND metric_type = 'llm_tokens'),
                    (SELECT count FROM usage_tracking WHERE bot_id = ?1 AND metric_type = 'llm_cost_micros')",
            [bot],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
        )
    });
    assert_eq!(tracked, (50, 70));
}

#[tokio::test]
async fn closing_the_stream_stops_the_request_to_the_provider() {
    let app = app().await;
    let s = app.register("ai-stream-stop@example.com").await;
    let fake = FakeOpenAi::start().await;
    provider(&app, &s, "Main", &fake, json!({ "is_default": true })).await;
    let bot = bot(&app, &s).await;
    let long = "word ".repeat(200);
    fake.push(Step::text(&long).pause(Duration::from_millis(50)));
    let mut r = send_as(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/bots/{bot}/ai/chat/stream"),
        Some(json!({ "messages": [{ "role": "user", "content": "Talk." }] })),
    )
    .await;
    assert_eq!(r.status(), 200);
    let first = r.chunk().await.unwrap().expect("a first event");
    assert!(String::from_utf8_lossy(&first).contains("event: delta"));
    drop(r);
    // 200 words at 50 ms would take 10 s; the provider's connection closes long before.
    let started = Instant::now();
    while fake.aborted_streams() == 0 && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(fake.aborted_streams(), 1);
    assert_eq!(fake.finished_streams(), 0);
    let error_code = app
        .wait_for_sql(
            "the cut stream is recorded",
            |c| {
                c.query_row("SELECT max(error_code) FROM llm_calls WHERE bot_id = ?1", [bot], |r| {
                    r.get::<_, Option<String>>(0)
                })
            },
            Option::is_some,
        )
        .await;
    assert_eq!(error_code.as_deref(), Some("client_gone"));
}

#[tokio::test]
async fn a_429_is_retried_after_the_time_retry_after_asks_for() {
    let app = app().await;
    let s = app.register("ai-429@example.com").await;
    let fake = FakeOpenAi::start().await;
    provider(&app, &s, "Main", &fake, json!({ "is_default": true, "max_retries": 2 })).await;
    let bot = bot(&app, &s).await;
    fake.push(Step::rate_limited("1"));
    fake.push(Step::text("Hello after waiting."));
    let (status, body) = chat(&app, &s, bot, json!({ "messages": [{ "role": "user", "content": "Hi" }] })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"]["content"], "Hello after waiting.");
    assert_eq!(body["usage"]["attempts"], 2);
    assert_eq!(body["usage"]["fell_back"], false);
    let calls = fake.calls();
    assert_eq!(calls.len(), 2);
    let waited = calls[1].at - calls[0].at;
    // Retry-After: 1 (the backoff alone would be ~10 ms).
    assert!(waited >= Duration::from_millis(950), "waited {waited:?}");
    assert!(waited < Duration::from_secs(3), "waited {waited:?}");
    assert_eq!(calls[0].body, calls[1].body, "the same request is sent again");

    // An HTTP date works too; retries are bounded: 1 + max_retries requests, then 502.
    // Whole seconds: two seconds ahead is at least one second away.
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    fake.push(Step::rate_limited(&soon));
    fake.push(Step::rate_limited("0"));
    fake.push(Step::server_error());
    let (status, e) = chat(&app, &s, bot, json!({ "messages": [{ "role": "user", "content": "Hi" }] })).await;
    assert_eq!(status, 502, "{e}");
    assert_eq!(e["error"]["code"], "llm_failed");
    assert_eq!(e["error"]["details"]["attempts"], 3);
    let calls = fake.calls();
    assert_eq!(calls.len(), 5);
    let waited = calls[3].at - calls[2].at;
    assert!(waited >= Duration::from_millis(950), "the HTTP date was honoured: waited {waited:?}");
    let failed = app.count(&format!("SELECT count(*) FROM llm_calls WHERE bot_id = {bot} AND status = 'failed'"));
    assert_eq!(failed, 1);
}

#[tokio::test]
async fn a_500_falls_back_to_the_fallback_provider() {
    let app = app().await;
    let s = app.register("ai-fallback@example.com").await;
    let main = FakeOpenAi::start().await;
    let backup = FakeOpenAi::start().await;
    let b = provider(&app, &s, "Backup", &backup, json!({ "default_model": "backup-model" })).await;
    let p =
        provider(&app, &s, "Main", &main, json!({ "is_default": true, "max_retries": 1, "fallback_provider_id": b }))
            .await;
    let bot = bot(&app, &s).await;
    main.push(Step::server_error());
    main.push(Step::server_error());
    backup.push(Step::text("Answered by the backup."));
    let (status, body) = chat(&app, &s, bot, json!({ "messages": [{ "role": "user", "content": "Hi" }] })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"]["content"], "Answered by the backup.");
    assert_eq!(body["usage"]["provider_id"], b);
    assert_eq!(body["usage"]["model"], "backup-model");
    assert_eq!(body["usage"]["fell_back"], true);
    assert_eq!(body["usage"]["attempts"], 3);
    assert_eq!(main.calls().len(), 2, "the main provider was retried once");
    assert_eq!(backup.bodies()[0]["model"], "backup-model");
    let row = app.sql(|c| {
        c.query_row("SELECT provider_id, model, fell_back, status FROM llm_calls WHERE bot_id = ?1", [bot], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, bool>(2)?, r.get::<_, String>(3)?))
        })
    });
    assert_eq!(row, (b, "backup-model".to_owned(), true, "ok".to_owned()));

    // The bot's own fallback wins over the provider's; streams fall back too.
    let third = FakeOpenAi::start().await;
    let t = provider(&app, &s, "Third", &third, json!({})).await;
    configure(&app, &s, bot, json!({ "provider_id": p, "fallback_provider_id": t })).await;
    main.push(Step::server_error());
    main.push(Step::server_error());
    third.push(Step::text("Third speaking."));
    let r = send_as(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/bots/{bot}/ai/chat/stream"),
        Some(json!({ "messages": [{ "role": "user", "content": "Hi" }] })),
    )
    .await;
    assert_eq!(r.status(), 200);
    let evs = events(&r.text().await.unwrap());
    let (_, usage) = evs.last().unwrap();
    assert_eq!(usage["provider_id"], t);
    assert_eq!(usage["fell_back"], true);
    let text: String = evs.iter().filter(|(e, _)| e == "delta").map(|(_, d)| d["text"].as_str().unwrap()).collect();
    assert_eq!(text, "Third speaking.");
    assert_eq!(backup.calls().len(), 1, "the provider's fallback was not used");

    // A 4xx other than 429 is not retried and does not fall back.
    main.push(crate::fake_openai::Step {
        kind: crate::fake_openai::Kind::Status(400, Vec::new(), r#"{"error":{"message":"bad request"}}"#.into()),
        ..Step::text("")
    });
    let (status, e) = chat(&app, &s, bot, json!({ "messages": [{ "role": "user", "content": "Hi" }] })).await;
    assert_eq!(status, 502, "{e}");
    assert_eq!(third.calls().len(), 1);
}

#[tokio::test]
async fn a_slow_provider_times_out_with_a_clear_error() {
    let app = app().await;
    let s = app.register("ai-timeout@example.com").await;
    let fake = FakeOpenAi::start().await;
    provider(&app, &s, "Slow", &fake, json!({ "is_default": true, "timeout_ms": 300, "max_retries": 0 })).await;
    let bot = bot(&app, &s).await;
    fake.push(Step::text("too late").delay(Duration::from_secs(3)));
    let started = Instant::now();
    let (status, e) = chat(&app, &s, bot, json!({ "messages": [{ "role": "user", "content": "Hi" }] })).await;
    assert_eq!(status, 502, "{e}");
    assert_eq!(e["error"]["code"], "llm_failed");
    assert_eq!(e["error"]["details"]["reason"], "timeout");
    assert!(started.elapsed() < Duration::from_millis(1500), "{:?}", started.elapsed());
    // The test route reports the same way.
    fake.push(Step::text("too late").delay(Duration::from_secs(3)));
    let (status, e) = app.call(&s, Method::POST, &format!("/api/v1/bots/{bot}/ai/test"), None).await;
    assert_eq!((status, e["error"]["details"]["reason"].as_str()), (502, Some("timeout")));
    // And once the model is fast again, the test route answers with latency and reply.
    fake.push(Step::text("OK"));
    let ok = call_ok(&app, &s, Method::POST, &format!("/api/v1/bots/{bot}/ai/test"), None).await;
    assert_eq!(ok["ok"], true);
    assert_eq!(ok["reply"], "OK");
    assert!(ok["usage"]["latency_ms"].as_u64().is_some());
}

#[tokio::test]
async fn a_budget_used_up_mid_conversation_refuses_the_next_call_with_exact_usage() {
    let app = app().await;
    let s = app.register("ai-budget@example.com").await;
    let fake = FakeOpenAi::start().await;
    provider(
        &app,
        &s,
        "Main",
        &fake,
        json!({ "is_default": true, "input_price_micros": 2_000_000, "output_price_micros": 8_000_000 }),
    )
    .await;
    let bot = bot(&app, &s).await;
    configure(&app, &s, bot, json!({ "monthly_token_budget": 20 })).await;
    fake.push(Step::text("First answer.").usage(10, 15));
    fake.push(Step::text("Never sent."));
    let user = json!({ "role": "user", "content": "Hi" });
    let (status, first) = chat(&app, &s, bot, json!({ "messages": [user] })).await;
    assert_eq!(status, 200, "{first}");
    // 10 × 2 + 15 × 8 micros.
    assert_eq!(first["usage"]["cost_micros"], 140);
    let (status, e) =
        chat(&app, &s, bot, json!({ "messages": [user, first["message"], { "role": "user", "content": "And?" }] }))
            .await;
    assert_eq!(status, 402, "{e}");
    assert_eq!(e["error"]["code"], "llm_budget_exhausted");
    assert_eq!(e["error"]["details"]["field"], "monthly_token_budget");
    assert_eq!(e["error"]["details"]["used"], 25);
    assert_eq!(e["error"]["details"]["budget"], 20);
    assert_eq!(fake.calls().len(), 1, "the refused call reached no model");
    // The stream and test routes are refused the same way.
    let r = send_as(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/bots/{bot}/ai/chat/stream"),
        Some(json!({ "messages": [user] })),
    )
    .await;
    assert_eq!(r.status(), 402);
    let (status, _) = app.call(&s, Method::POST, &format!("/api/v1/bots/{bot}/ai/test"), None).await;
    assert_eq!(status, 402);

    let rows = app.sql(|c| {
        let mut stmt = c.prepare(
            "SELECT metric_type, count FROM usage_tracking WHERE bot_id = ?1 AND metric_type LIKE 'llm%' ORDER BY metric_type",
        )?;
        stmt.query_map([bot], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?.collect::<Result<Vec<_>, _>>()
    });
    assert_eq!(rows, vec![("llm_cost_micros".to_owned(), 140), ("llm_tokens".to_owned(), 25)]);
    assert_eq!(app.count(&format!("SELECT count(*) FROM llm_calls WHERE bot_id = {bot}")), 1);
    let usage = call_ok(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/ai/usage"), None).await;
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(
        usage["rows"],
        json!([{ "day": today, "model": "fake-model", "calls": 1, "failed_calls": 0, "prompt_tokens": 10,
                 "completion_tokens": 15, "total_tokens": 25, "cost_micros": 140 }])
    );
    let config = call_ok(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/ai/config"), None).await;
    assert_eq!((config["month_tokens"].as_i64(), config["month_cost_micros"].as_i64()), (Some(25), Some(140)));

    // A cost budget is enforced the same way; raising the budget lets calls through again.
    configure(&app, &s, bot, json!({ "monthly_token_budget": 1000, "monthly_cost_budget_micros": 140 })).await;
    let (status, e) = chat(&app, &s, bot, json!({ "messages": [user] })).await;
    assert_eq!((status, e["error"]["details"]["field"].as_str()), (402, Some("monthly_cost_budget_micros")));
    configure(&app, &s, bot, json!({ "monthly_token_budget": 1000 })).await;
    let (status, _) = chat(&app, &s, bot, json!({ "messages": [user] })).await;
    assert_eq!(status, 200);

    // Usage query bounds are checked.
    let (status, e) = app.call(&s, Method::GET, &format!("/api/v1/bots/{bot}/ai/usage?from=yesterday"), None).await;
    assert_eq!((status, e["error"]["details"]["field"].as_str()), (422, Some("from")));
    let (status, e) =
        app.call(&s, Method::GET, &format!("/api/v1/bots/{bot}/ai/usage?from=2026-12-05&to=2026-12-01"), None).await;
    assert_eq!((status, e["error"]["details"]["field"].as_str()), (422, Some("to")));
}

#[tokio::test]
async fn without_a_provider_every_ai_route_answers_llm_not_configured_at_once() {
    let app = app().await;
    let s = app.register("ai-none@example.com").await;
    let bot = bot(&app, &s).await;
    let started = Instant::now();
    let body = json!({ "messages": [{ "role": "user", "content": "Hi" }] });
    for (path, body) in [("chat", Some(body.clone())), ("chat/stream", Some(body.clone())), ("test", None)] {
        let (status, e) = app.call(&s, Method::POST, &format!("/api/v1/bots/{bot}/ai/{path}"), body).await;
        assert_eq!(status, 409, "{path}: {e}");
        assert_eq!(e["error"]["code"], "llm_not_configured");
        assert_eq!(e["error"]["details"]["field"], "provider_id");
    }
    assert!(started.elapsed() < Duration::from_secs(2));
    // A disabled provider, or AI switched off for the bot, is the same.
    let fake = FakeOpenAi::start().await;
    let p = provider(&app, &s, "Off", &fake, json!({ "is_active": false })).await;
    configure(&app, &s, bot, json!({ "provider_id": p })).await;
    let (status, e) = chat(&app, &s, bot, body.clone()).await;
    assert_eq!((status, e["error"]["code"].as_str()), (409, Some("llm_not_configured")));
    configure(&app, &s, bot, json!({ "is_enabled": false })).await;
    let (status, e) = chat(&app, &s, bot, body).await;
    assert_eq!((status, e["error"]["details"]["field"].as_str()), (409, Some("is_enabled")));
    assert!(fake.calls().is_empty());
}

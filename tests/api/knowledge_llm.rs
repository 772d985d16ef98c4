//! LLM providers and generated answers against a fake OpenAI-compatible
//! server on loopback that speaks the real wire format (JSON completions and
//! `stream: true` SSE chunks ending with `[DONE]`).

#![allow(
    clippy::too_many_lines,
    clippy::many_single_char_names,
    clippy::similar_names,
    clippy::cast_possible_truncation,
    reason = "end-to-end scenarios read best as one story"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::fake_http::{FakeServer, Received, Reply};
use crate::helpers::{Session, TestApp, assert_error, spawn_app_with};
use crate::knowledge::{create_kb, drain, paste};

const KEY: &str = "sk-test-0123456789";

fn completion(text: &str) -> Reply {
    let body = json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "fake-model",
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": text }, "finish_reason": "stop" }],
        "usage": { "prompt_tokens": 120, "completion_tokens": 14, "total_tokens": 134 }
    });
    Reply::Full(200, "application/json".into(), body.to_string().into_bytes())
}

fn stream(tokens: &[&str]) -> Reply {
    let mut parts: Vec<Vec<u8>> = tokens
        .iter()
        .map(|t| {
            let chunk = json!({ "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "fake-model",
                                "choices": [{ "index": 0, "delta": { "content": t }, "finish_reason": null }] });
            format!("data: {chunk}\n\n").into_bytes()
        })
        .collect();
    let usage = json!({ "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "fake-model", "choices": [],
                        "usage": { "prompt_tokens": 100, "completion_tokens": 7, "total_tokens": 107 } });
    parts.push(format!("data: {usage}\n\n").into_bytes());
    parts.push(b"data: [DONE]\n\n".to_vec());
    Reply::Chunked(200, "text/event-stream".into(), parts, Duration::from_millis(5))
}

/// A fake that behaves as `mode` says (changed by the test between calls).
async fn fake_llm(mode: Arc<AtomicUsize>) -> FakeServer {
    FakeServer::start(Arc::new(move |r: &Received| {
        if r.header("authorization") != Some(&format!("Bearer {KEY}")) {
            return Reply::Full(401, "application/json".into(), br#"{"error":{"message":"bad key"}}"#.to_vec());
        }
        let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        let streaming = body["stream"] == true;
        match mode.load(Ordering::SeqCst) {
            0 if streaming => stream(&["Refunds ", "take five ", "business days ", "[1]."]),
            0 => completion("Refunds take five business days [1]."),
            1 => Reply::Full(500, "application/json".into(), br#"{"error":{"message":"overloaded"}}"#.to_vec()),
            2 => Reply::Full(200, "application/json".into(), b"<html>not a completion</html>".to_vec()),
            3 => Reply::Hang(Duration::from_secs(3)),
            _ => Reply::Chunked(
                200,
                "text/event-stream".into(),
                vec![
                    b"data: {\"choices\":[{\"delta\":{\"content\":\"Refunds\"}}]}\n\n".to_vec(),
                    b"data: {broken json\n\n".to_vec(),
                ],
                Duration::from_millis(5),
            ),
        }
    }))
    .await
}

async fn provider(app: &TestApp, s: &Session, base: &str) -> Value {
    let r = app
        .as_user(s, Method::POST, &format!("/api/v1/orgs/{}/llm-providers", s.org_id))
        .json(&json!({ "name": "Fake", "base_url": format!("{base}/v1"), "default_model": "fake-model", "api_key": KEY,
                       "timeout_ms": 700, "max_retries": 1, "is_default": true }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201);
    r.json().await.expect("json")
}

async fn ask(app: &TestApp, s: &Session, kb: i64, question: &str) -> Value {
    let r = app
        .as_user(s, Method::POST, &format!("/api/v1/knowledge-bases/{kb}/answer"))
        .json(&json!({ "question": question }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    r.json().await.expect("json")
}

/// Parses an SSE body into (event, data) pairs.
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

#[tokio::test]
async fn providers_keep_keys_secret_and_answers_are_generated_streamed_or_fall_back() {
    let app = spawn_app_with(|c| c.ml.enabled = true).await;
    let s = app.register("llm@example.com").await;
    let mode = Arc::new(AtomicUsize::new(0));
    let fake = fake_llm(mode.clone()).await;
    let p = provider(&app, &s, &fake.base).await;
    let pid = p["id"].as_i64().expect("id");
    assert_eq!(p["has_api_key"], true);
    assert!(!p.to_string().contains(KEY), "the key is never returned");
    let stored: Vec<u8> =
        app.sql(|c| c.query_row("SELECT api_key_encrypted FROM llm_providers WHERE id = ?1", [pid], |r| r.get(0)));
    assert!(!stored.windows(KEY.len()).any(|w| w == KEY.as_bytes()), "encrypted at rest");
    let list: Value = app
        .as_user(&s, Method::GET, &format!("/api/v1/orgs/{}/llm-providers", s.org_id))
        .send()
        .await
        .expect("s")
        .json()
        .await
        .expect("j");
    assert!(!list.to_string().contains(KEY));
    let r = app.as_user(&s, Method::POST, &format!("/api/v1/llm-providers/{pid}/test")).send().await.expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.expect("json")["ok"], true);

    let kb = create_kb(&app, &s, json!({ "name": "Shop" })).await["id"].as_i64().expect("id");
    paste(
        &app,
        &s,
        kb,
        "Returns",
        "# Returns\n\nRefunds are issued to the original payment method within five business days.",
    )
    .await;
    drain(&app).await;

    // Generated, with citations and usage.
    let a = ask(&app, &s, kb, "How long do refunds take?").await;
    assert_eq!(a["mode"], "generative", "{a}");
    assert_eq!(a["answer"], "Refunds take five business days [1].");
    assert_eq!(a["citations"][0]["number"], 1);
    assert_eq!(a["citations"][0]["document"], "Returns");
    assert_eq!(a["usage"]["total_tokens"], 134);
    let sent = fake.requests();
    let last: Value = serde_json::from_slice(&sent.last().expect("request").body).expect("json");
    assert_eq!(sent.last().expect("r").path, "/v1/chat/completions");
    assert_eq!(last["model"], "fake-model");
    assert!(last["messages"][1]["content"].as_str().expect("prompt").contains("[1] (Returns"));

    // Streamed token by token over SSE.
    let r = app
        .as_user(&s, Method::POST, &format!("/api/v1/knowledge-bases/{kb}/answer"))
        .header("Accept", "text/event-stream")
        .json(&json!({ "question": "How long do refunds take?" }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().expect("ct").starts_with("text/event-stream"));
    let events = sse_events(&r.text().await.expect("body"));
    let names: Vec<&str> = events.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(names, ["sources", "token", "token", "token", "token", "done"], "{events:?}");
    let tokens: String =
        events.iter().filter(|(e, _)| e == "token").map(|(_, d)| d["text"].as_str().expect("t")).collect();
    assert_eq!(tokens, "Refunds take five business days [1].");
    let done = &events.last().expect("done").1;
    assert_eq!(done["mode"], "generative");
    assert_eq!(done["usage"]["total_tokens"], 107);
    let tokens_used: i64 = app.sql(|c| {
        c.query_row("SELECT sum(count) FROM usage_tracking WHERE metric_type = 'llm_tokens'", [], |r| r.get(0))
    });
    assert!(tokens_used >= 134 + 107, "{tokens_used}");

    // Down (500, retried), garbage, slow, broken stream: the extractive answer, saying so.
    for (m, reason) in [(1, "500"), (2, "not a chat completion"), (3, "did not answer"), (4, "not JSON")] {
        mode.store(m, Ordering::SeqCst);
        let before = fake.requests().len();
        let a = ask(&app, &s, kb, "How long do refunds take?").await;
        assert_eq!(a["mode"], "extractive_fallback", "mode {m}: {a}");
        assert!(a["fallback_reason"].as_str().expect("reason").contains(reason), "mode {m}: {a}");
        assert!(a["answer"].as_str().expect("answer").contains("five business days"));
        assert!(!a["citations"].as_array().expect("c").is_empty());
        if m == 1 {
            assert_eq!(fake.requests().len() - before, 2, "one retry");
        }
        let r = app
            .as_user(&s, Method::POST, &format!("/api/v1/knowledge-bases/{kb}/answer"))
            .header("Accept", "text/event-stream")
            .json(&json!({ "question": "How long do refunds take?" }))
            .send()
            .await
            .expect("send");
        let events = sse_events(&r.text().await.expect("body"));
        assert!(events.iter().any(|(e, _)| e == "fallback"), "mode {m}: {events:?}");
        assert_eq!(events.last().expect("done").1["mode"], "extractive_fallback");
    }
    // Without an LLM when asked, and "I don't know" without calling it.
    mode.store(0, Ordering::SeqCst);
    let r = app
        .as_user(&s, Method::POST, &format!("/api/v1/knowledge-bases/{kb}/answer"))
        .json(&json!({ "question": "How long do refunds take?", "use_llm": false }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.json::<Value>().await.expect("json")["mode"], "extractive");
    let before = fake.requests().len();
    let a = ask(&app, &s, kb, "Who painted the Mona Lisa?").await;
    assert_eq!(a["mode"], "no_answer");
    assert_eq!(fake.requests().len(), before);

    // Key rotation and removal; a wrong key is an LLM failure (401) → fallback.
    let r = app
        .as_user(&s, Method::PATCH, &format!("/api/v1/llm-providers/{pid}"))
        .json(&json!({ "api_key": null }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.json::<Value>().await.expect("json")["has_api_key"], false);
    let a = ask(&app, &s, kb, "How long do refunds take?").await;
    assert_eq!(a["mode"], "extractive_fallback");
    assert!(a["fallback_reason"].as_str().expect("r").contains("401"));
    let r = app.as_user(&s, Method::POST, &format!("/api/v1/llm-providers/{pid}/test")).send().await.expect("send");
    assert_error(r, 502, "llm_failed").await;

    // Validation and isolation.
    let other = app.register("llm-other@example.com").await;
    let r = app.as_user(&other, Method::GET, &format!("/api/v1/llm-providers/{pid}")).send().await.expect("send");
    assert_error(r, 404, "llm_provider_not_found").await;
    for (body, field) in [
        (json!({ "name": "x", "base_url": "not a url", "default_model": "m" }), "base_url"),
        (json!({ "name": "x", "base_url": "http://a.test/v1", "default_model": "m", "timeout_ms": 5 }), "timeout_ms"),
        (json!({ "name": "", "base_url": "http://a.test/v1", "default_model": "m" }), "name"),
    ] {
        let r = app
            .as_user(&s, Method::POST, &format!("/api/v1/orgs/{}/llm-providers", s.org_id))
            .json(&body)
            .send()
            .await
            .expect("send");
        let e = assert_error(r, 422, "validation_failed").await;
        assert_eq!(e["error"]["details"]["field"], field);
    }
    let r = app.as_user(&s, Method::DELETE, &format!("/api/v1/llm-providers/{pid}")).send().await.expect("send");
    assert_eq!(r.status(), 204);

    // With the SSRF guard on, a provider on a private address is refused.
    let guarded = spawn_app_with(|c| c.outbound.allow_private = false).await;
    let g = guarded.register("llm-guard@example.com").await;
    for url in [fake.base.clone(), "http://10.0.0.5:11434/v1".into(), "file:///tmp/x".into()] {
        let r = guarded
            .as_user(&g, Method::POST, &format!("/api/v1/orgs/{}/llm-providers", g.org_id))
            .json(&json!({ "name": "Local", "base_url": url, "default_model": "m" }))
            .send()
            .await
            .expect("send");
        assert_error(r, 422, "url_not_allowed").await;
    }
}

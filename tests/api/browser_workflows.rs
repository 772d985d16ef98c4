//! The Workflows tab in headless Chromium: a workflow built in the canvas
//! editor (a dangling edge refused and shown on its step, the graph drawn),
//! run from its page, and the trace viewer following the run live through
//! its approval to the end.

use std::sync::Arc;

use reqwest::Method;
use serde_json::json;

use crate::browser::{Browser, with_browser};
use crate::fake_http::{FakeServer, Received, Reply};
use crate::helpers::{call_ok, spawn_app};

/// Sets an input's or textarea's value as typing would (one `input` event with the whole text).
async fn set_value(b: &Browser, css: &str, value: &str) {
    b.element(css).await;
    b.client
        .execute(
            "const el = document.querySelector(arguments[0]); el.value = arguments[1]; \
             el.dispatchEvent(new Event('input', { bubbles: true }));",
            vec![json!(css), json!(value)],
        )
        .await
        .expect("set value");
}

#[tokio::test]
async fn the_workflow_editor_saves_a_graph_and_the_trace_follows_a_run_through_its_approval() {
    let fake = FakeServer::start(Arc::new(|_: &Received| {
        Reply::Full(200, "application/json".into(), b"{\"pong\":true}".to_vec())
    }))
    .await;
    let app = spawn_app().await;
    let s = app.register("wf-ui@example.com").await;
    let tool =
        json!({ "name": "ping", "type": "http", "config": { "method": "POST", "url": format!("{}/ping", fake.base) } });
    call_ok(&app, &s, Method::POST, &format!("/api/v1/orgs/{}/tools", s.org_id), Some(tool)).await;
    let bot =
        call_ok(&app, &s, Method::POST, &format!("/api/v1/orgs/{}/bots", s.org_id), Some(json!({ "name": "Refunds" })))
            .await;
    let bot = bot["id"].as_i64().expect("bot id");
    with_browser("workflows_page", |b| async move {
        b.sign_in(&app, "wf-ui@example.com").await;
        b.client.goto(&app.url(&format!("/bots/{bot}/workflows"))).await.expect("goto");
        b.wait_for_text("tbody", "No workflows yet").await;
        b.click("#new-workflow").await;
        b.fill("#workflow-name", "Refund flow").await;
        // An edge to a step that does not exist: refused, shown on the step.
        set_value(&b, "#step-0-fields", r#"{"tool": "ping", "arguments": {}, "next": "nowhere"}"#).await;
        b.click("#save-workflow").await;
        b.wait_for_text(".workflow-step.fault", "nowhere").await;
        // ping → ask (approval) → finish, editing each step selected on the canvas.
        b.select("#new-step-type", "end").await;
        b.click("#add-step").await;
        b.element("[data-node-id='step3']").await;
        b.click("[data-node-id='done'] .flow-node-head").await;
        set_value(&b, "#step-1-id", "ask").await;
        b.select("#step-1-type", "approval").await;
        set_value(&b, "#step-1-fields", r#"{"message": "Refund it?", "next": "step3"}"#).await;
        b.click("[data-node-id='start'] .flow-node-head").await;
        set_value(&b, "#step-0-fields", r#"{"tool": "ping", "arguments": {}, "next": "ask"}"#).await;
        b.element("#workflow-canvas [data-node-id='ask'][data-type='approval']").await;
        b.element("#workflow-canvas path[data-edge='ask:next>step3']").await;
        b.click("#save-workflow").await;
        // Saved: the workflow's own page, its graph drawn from the stored definition.
        b.wait_for_text("h1", "Refund flow").await;
        let graph = b.text_of("#workflow-graph").await;
        assert!(graph.contains("ask") && graph.contains("step3"), "{graph}");

        // Run it; the trace shows it waiting, then approved and finished.
        b.click("#run-workflow").await;
        b.wait_for_text("#run-summary", "pending").await;
        app.run_jobs().await;
        b.wait_for_text("#approval-panel", "Refund it?").await;
        b.wait_for_text("#trace-steps tr[data-step='start']", "completed").await;
        b.fill("#approval-comment", "fine").await;
        b.click("#approve-run").await;
        b.wait_for_text("#run-status", "running").await;
        app.run_jobs().await;
        b.wait_for_text("#run-status", "completed").await;
        b.wait_for_text("#trace-steps tr[data-step='step3']", "completed").await;
        b.wait_for_text("#trace-messages", "request").await;
        let graph = b.text_of("#workflow-graph").await;
        assert!(graph.contains("completed"), "{graph}");
    })
    .await;
    assert_eq!(fake.requests().len(), 1);
}

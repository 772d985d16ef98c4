//! The Agents page in headless Chromium against the fake `OpenAI` server:
//! an agent created with a tool picked from the catalogue (a bad
//! `max_steps` answered under its field first), then the test chat showing
//! the model call and the tool call with its arguments and result.

use reqwest::Method;
use serde_json::json;

use crate::ai::{bot, provider};
use crate::browser::with_browser;
use crate::fake_openai::{FakeOpenAi, Step};
use crate::helpers::{call_ok, spawn_app};

#[tokio::test]
async fn the_agents_page_creates_an_agent_and_the_test_chat_shows_each_step() {
    let app = spawn_app().await;
    let s = app.register("agents-ui@example.com").await;
    let fake = FakeOpenAi::start().await;
    provider(&app, &s, "Local llama", &fake, json!({ "is_default": true })).await;
    let tool = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/orgs/{}/tools", s.org_id),
        Some(json!({ "name": "order_status", "type": "code", "input_schema": { "type": "object" },
                     "config": { "source": "function main(args) { return { status: 'shipped' }; }" } })),
    )
    .await;
    let tool_id = tool["id"].as_i64().expect("tool id");
    let bot = bot(&app, &s).await;
    with_browser("agents_page", |b| async move {
        b.sign_in(&app, "agents-ui@example.com").await;
        b.client.goto(&app.url(&format!("/bots/{bot}"))).await.expect("goto");
        b.click("a[data-bot-tab='agents']").await;
        b.wait_for_path(&format!("/bots/{bot}/agents")).await;
        b.wait_for_text("#agents-list", "No agents yet").await;
        b.click("#new-agent").await;
        b.fill("#name", "Order helper").await;
        b.fill("#instructions", "Answer about orders.").await;
        b.click(&format!("input[name='tool-{tool_id}']")).await;
        b.replace("#max_steps", "0").await;
        b.click("#agent-form button[type=submit]").await;
        b.wait_for_text("#agent-form [data-field-error='max_steps']", "between 1 and 50").await;
        assert_eq!(app.count("SELECT count(*) FROM agents"), 0);

        b.replace("#max_steps", "4").await;
        b.click("#agent-form button[type=submit]").await;
        b.wait_for_text("#agents-list", "order_status").await;

        fake.push(Step::tool_calls(&[("c1", "order_status", "{}")]).usage(11, 3));
        fake.push(Step::text("It has shipped.").usage(20, 4));
        b.fill("#agent-message", "Where is my order?").await;
        b.click("#agent-chat button[type=submit]").await;
        b.wait_for_text("#agent-chat .agent-reply", "It has shipped.").await;
        let trace = b.text_of("#agent-chat").await;
        assert!(trace.contains("model call") && trace.contains("11+3 tokens"), "{trace}");
        assert!(
            trace.contains("tool call") && trace.contains("order_status({})") && trace.contains("shipped"),
            "{trace}"
        );
        assert!(trace.contains("38 tokens"), "{trace}");
    })
    .await;
}

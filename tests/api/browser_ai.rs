//! The bot's AI section in headless Chromium against the fake `OpenAI`
//! server: a bad temperature answered under its field, the settings saved
//! with a provider and a budget, the test button, the chat tester streaming
//! an answer with its usage, and the usage table.

use reqwest::Method;
use serde_json::json;

use crate::ai::{bot, provider};
use crate::browser::with_browser;
use crate::fake_openai::{FakeOpenAi, Step};
use crate::helpers::{call_ok, spawn_app};

#[tokio::test]
async fn the_ai_section_configures_tests_chats_and_shows_usage() {
    let app = spawn_app().await;
    let s = app.register("ai-ui@example.com").await;
    let fake = FakeOpenAi::start().await;
    let p = provider(&app, &s, "Local llama", &fake, json!({ "is_default": true })).await;
    let bot = bot(&app, &s).await;
    with_browser("ai_section", |b| async move {
        b.sign_in(&app, "ai-ui@example.com").await;
        b.client.goto(&app.url(&format!("/bots/{bot}"))).await.expect("goto");
        b.click("a[data-bot-tab='ai']").await;
        b.wait_for_path(&format!("/bots/{bot}/ai")).await;
        b.wait_for_text("#ai-usage", "No model calls this month").await;

        // Out of range: refused by the server, shown under the field, nothing saved.
        b.replace("#temperature", "3").await;
        b.click("#ai-config button[type=submit]").await;
        b.wait_for_text("#ai-config [data-field-error='temperature']", "between 0 and 2").await;
        let saved = call_ok(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/ai/config"), None).await;
        assert_eq!(saved["configured"], false);

        b.replace("#temperature", "0.3").await;
        b.select("#provider_id", &p.to_string()).await;
        b.fill("#monthly_token_budget", "5000").await;
        b.click("#ai-config button[type=submit]").await;
        b.wait_for_text("#ai-month", "of 5000").await;
        let saved = call_ok(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/ai/config"), None).await;
        assert_eq!((saved["temperature"].as_f64(), saved["provider_id"].as_i64()), (Some(0.3), Some(p)));

        fake.push(Step::text("OK").usage(12, 1));
        b.click("#ai-test-button").await;
        b.wait_for_text("#ai-test-result", "OK").await;

        fake.push(Step::text("Hello from the model, word by word.").usage(20, 9));
        b.fill("#ai-chat-text", "Hi there").await;
        b.click("#ai-chat-send").await;
        b.wait_for_text("#ai-chat-log", "Hello from the model, word by word.").await;
        b.wait_for_text("#ai-chat-usage", "29 tokens").await;
        let sent = &fake.bodies()[1];
        assert_eq!(sent["stream"], true);
        assert_eq!(sent["temperature"], 0.3);
        assert_eq!(sent["messages"][1], json!({ "role": "user", "content": "Hi there" }));

        b.wait_for_text("#ai-usage-tokens", "42 tokens").await;
        b.wait_for_text("#ai-month", "42 tokens of 5000").await;
    })
    .await;
}

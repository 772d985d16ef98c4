//! The flow studio in headless Chromium: the template gallery on the bots
//! page (with its previews) and on a bot's flows page (a template added as a
//! draft flow, no model anywhere), and "Generate with AI" against the fake
//! model: the problems shown when the model cannot produce a valid flow, then
//! a valid draft previewed, opened in the editor and improved there.

use reqwest::Method;
use serde_json::json;

use crate::ai::{bot, provider};
use crate::browser::with_browser;
use crate::fake_openai::{FakeOpenAi, Step};
use crate::helpers::{call_ok, spawn_app};

#[tokio::test]
async fn the_template_gallery_previews_templates_and_adds_one_as_a_flow() {
    let app = spawn_app().await;
    let s = app.register("flowgen-gallery-ui@example.com").await;
    let bot = bot(&app, &s).await;
    with_browser("flowgen_gallery", |b| async move {
        b.sign_in(&app, "flowgen-gallery-ui@example.com").await;
        b.client.goto(&app.url("/bots")).await.expect("goto");
        b.wait_for_text("#template-gallery [data-template='it_helpdesk']", "IT helpdesk").await;
        b.wait_for_text("#template-gallery [data-template='it_helpdesk'] .template-preview summary", "steps").await;

        b.client.goto(&app.url(&format!("/bots/{bot}/flows"))).await.expect("goto");
        b.click("#open-flow-templates").await;
        b.wait_for_text("#flow-template-gallery [data-template='feedback_survey']", "Feedback survey").await;
        b.click("#use-template-feedback_survey").await;
        b.wait_for_path(&format!("/bots/{bot}/flows/feedback_survey")).await;
        b.wait_for_text("#draft-line", "Draft v1").await;
        let flows = call_ok(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/flows"), None).await;
        assert_eq!(flows[0]["name"], "feedback_survey", "{flows}");
        assert!(flows[0]["published_version"].is_null());
    })
    .await;
}

#[tokio::test]
async fn generate_with_ai_shows_problems_then_previews_opens_and_improves_a_draft() {
    let app = spawn_app().await;
    let s = app.register("flowgen-generate-ui@example.com").await;
    let fake = FakeOpenAi::start().await;
    provider(&app, &s, "fake", &fake, json!({ "is_default": true, "max_retries": 0 })).await;
    let bot = bot(&app, &s).await;
    with_browser("flowgen_generate", |b| async move {
        b.sign_in(&app, "flowgen-generate-ui@example.com").await;
        b.client.goto(&app.url(&format!("/bots/{bot}/flows"))).await.expect("goto");
        b.click("#open-generate").await;
        b.fill("#generate-description", "Ask for the service and confirm it.").await;

        // The model answers prose three times: the problems are listed, nothing is saved.
        for _ in 0..3 {
            fake.push(Step::text("Happy to help! Start by greeting the user."));
        }
        b.click("#generate-submit").await;
        b.wait_for_text("#generate-card .studio-problems", "not_json").await;
        assert_eq!(app.count(&format!("SELECT count(*) FROM bot_flows WHERE bot_id = {bot}")), 0);

        let flow = json!({ "nodes": [
            { "id": "start", "type": "start" },
            { "id": "service", "type": "question", "label": "Service",
              "data": { "prompt": { "text": "Which service would you like?" }, "variable": "service" } },
            { "id": "done", "type": "end", "label": "Confirm", "data": { "message": { "text": "Booked: {{service}}." } } }
        ], "edges": [
            { "source": "start", "target": "service" },
            { "source": "service", "target": "done" },
            { "source": "service", "port": "invalid", "target": "done" }
        ] });
        fake.push(Step::text(&flow.to_string()));
        b.click("#generate-submit").await;
        b.wait_for_text("#generate-draft", "Which service would you like?").await;
        b.fill("#generate-name", "booking").await;
        b.click("#generate-open").await;
        b.wait_for_path(&format!("/bots/{bot}/flows/booking")).await;
        b.wait_for_text("#draft-line", "Draft v1").await;

        // Improve in the editor: the summary, then applied and auto-saved.
        let mut revised = flow.clone();
        revised["nodes"][2]["data"]["message"]["text"] = json!("Booked: {{service}}. See you soon!");
        fake.push(Step::text(&revised.to_string()));
        b.click("#open-improve").await;
        b.fill("#improve-instruction", "Say see you soon at the end").await;
        b.click("#improve-submit").await;
        b.wait_for_text("#improve-summary", "Changed node done").await;
        b.click("#improve-apply").await;
        app.wait_for_sql(
            "the improved draft is saved",
            |c| {
                c.query_row(
                    "SELECT count(*) FROM bot_flows WHERE bot_id = ?1 AND name = 'booking' AND flow_data LIKE '%See you soon%'",
                    [bot],
                    |r| r.get::<_, i64>(0),
                )
            },
            |n| *n == 1,
        )
        .await;
    })
    .await;
}

//! The voice bots page in headless Chromium: a voice bot made from a
//! template in one click, and one made from an uploaded spoken description
//! (transcribed and extracted by the fake `OpenAI`-compatible provider),
//! previewed as the phone script, then created.

use reqwest::Method;
use serde_json::json;

use crate::browser::with_browser;
use crate::fake_openai::{FakeOpenAi, Step};
use crate::helpers::{call_ok, spawn_app};

#[tokio::test]
async fn the_voice_page_creates_a_bot_from_a_template_and_from_a_spoken_description() {
    let app = spawn_app().await;
    let s = app.register("voice-templates-ui@example.com").await;
    app.sql(|c| c.execute("UPDATE organizations SET plan_tier = 'enterprise' WHERE id = ?1", [s.org_id]));
    let fake = FakeOpenAi::start().await;
    crate::ai::provider(&app, &s, "fake", &fake, json!({ "is_default": true, "max_retries": 0 })).await;
    let recording = app.dir.path().join("description.wav");
    std::fs::write(&recording, crate::voice::wav()).expect("write the recording");
    with_browser("voice_templates", |b| async move {
        b.sign_in(&app, "voice-templates-ui@example.com").await;
        b.client.goto(&app.url("/voice")).await.expect("goto");
        b.wait_for_text("#voice-templates [data-voice-template='ivr_menu']", "IVR Menu").await;
        b.wait_for_text(
            "#voice-templates [data-voice-template='ivr_menu']",
            "You are speaking with our automated assistant",
        )
        .await;
        b.click("#use-voice-template-ivr_menu").await;
        b.wait_for_text("#voice-template-made", "Created IVR Menu").await;
        b.wait_for_text("[data-voice-bot]", "IVR Menu").await;
        let list = call_ok(&app, &s, Method::GET, &format!("/api/v1/orgs/{}/voice-bots", s.org_id), None).await;
        assert_eq!(list["items"][0]["name"], "IVR Menu", "{list}");
        let bot = list["items"][0]["bot_id"].as_i64().expect("bot");
        let flows = call_ok(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/flows"), None).await;
        assert!(flows[0]["published_version"].is_i64(), "{flows}");

        // Describe a bot by voice: upload, transcribe, extract, preview, create.
        fake.push_transcript("A bot for Smile Dental that tells the opening hours.");
        fake.push(Step::text(
            &json!({ "name": "Smile Dental line", "greeting": "Thank you for calling Smile Dental.",
                     "intents": [ { "name": "opening_hours", "label": "Opening hours",
                                    "answer": "We are open from eight to five on weekdays." } ] })
            .to_string(),
        ));
        b.element("#voice-description-file")
            .await
            .send_keys(recording.to_str().expect("path"))
            .await
            .expect("choose the file");
        b.click("#voice-describe-send").await;
        b.wait_for_text("#voice-script", "Press 1 for Opening hours. Press 2 for Speak to a person.").await;
        b.wait_for_text("#voice-creation", "tells the opening hours").await;
        b.click("#voice-creation-create").await;
        b.wait_for_text("[data-voice-bot]:nth-child(2)", "Smile Dental line").await;
        let made = app.count(&format!(
            "SELECT count(*) FROM voice_bot_creations WHERE organization_id = {} AND status = 'completed'",
            s.org_id
        ));
        assert_eq!(made, 1);
    })
    .await;
}

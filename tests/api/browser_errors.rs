//! Browser tests that no API error is swallowed: field errors sit next to
//! their field whatever the path (`allowed_origins[0]`), every other error is
//! a banner with the message, the field and the request id.

use reqwest::Method;
use serde_json::json;

use crate::browser::with_browser;
use crate::helpers::spawn_app;

#[tokio::test]
async fn widget_origin_errors_show_under_the_field_and_other_errors_in_a_banner_with_the_request_id() {
    let app = spawn_app().await;
    let owner = app.register("errors-ui@example.com").await;
    let org = owner.org_id;
    let (_, bot) =
        app.call(&owner, Method::POST, &format!("/api/v1/orgs/{org}/bots"), Some(json!({ "name": "Shop" }))).await;
    let bot = bot["id"].as_i64().expect("bot id");
    let (_, team) =
        app.call(&owner, Method::POST, &format!("/api/v1/orgs/{org}/teams"), Some(json!({ "name": "Support" }))).await;
    let team = team["id"].as_i64().expect("team id");
    with_browser("error_display", |b| async move {
        b.sign_in(&app, "errors-ui@example.com").await;

        // The widget's allowed origins: the API names `allowed_origins[0]`,
        // which used to be swallowed (neither banner nor field showed it).
        b.client.goto(&app.url(&format!("/bots/{bot}/widget"))).await.expect("goto widget");
        b.fill("#w-origins", "shop.example.com/path").await;
        b.click("#save-widget").await;
        let shown = b.wait_for_text("[data-field-error='allowed_origins']", "an origin like").await;
        assert!(shown.contains("https://shop.example.com"), "{shown}");
        assert!(b.client.find(fantoccini::Locator::Css(".alert.error")).await.is_err(), "shown once, under the field");

        // Inviting into a team offers the team role, preset to the default one.
        b.client.goto(&app.url("/members")).await.expect("goto members");
        b.fill("#invite-form #email", "newcomer@example.com").await;
        b.select("#invite-team", &team.to_string()).await;
        let picked = b.wait_for_text("#invite-team-role", "Member (default)").await;
        assert!(picked.contains("Member"), "{picked}");
        // The team goes away before the form is sent: the `team_id` error has
        // no field of its own on this form, so the banner carries it.
        let (status, _) = app.call(&owner, Method::DELETE, &format!("/api/v1/teams/{team}"), None).await;
        assert_eq!(status, 204);
        b.click("#invite-form button[type=submit]").await;
        let banner = b.wait_for_text("#invite-form .alert.error", "team").await;
        assert!(banner.contains("team_id"), "the field at fault is named: {banner}");
        let request_id = b.text_of("#invite-form .alert.error .request-id code").await;
        assert!(!request_id.is_empty(), "the banner quotes the request id");
        b.client.clone().close().await.expect("close");
    })
    .await;
}

/// The glitches a new user met (issue 17, "look and reach"): words run
/// together, two highlighted sidebar entries, bot tabs on a missing bot, an
/// empty activity feed, and choices that could not be clicked in the emulator.
#[tokio::test]
async fn wording_sidebar_missing_bot_activity_and_emulator_choices() {
    let app = spawn_app().await;
    let owner = app.register("glitches-ui@example.com").await;
    let org = owner.org_id;
    let (_, bot) =
        app.call(&owner, Method::POST, &format!("/api/v1/orgs/{org}/bots"), Some(json!({ "name": "Shop" }))).await;
    let bot = bot["id"].as_i64().expect("bot id");
    let flow = json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "ask", "type": "question", "data": {
                "prompt": { "text": "Which size?" }, "variable": "size", "retries": 2,
                "reprompt": "Please pick one of the sizes.",
                "validation": { "kind": "choices", "choices": [ { "label": "Small", "value": "S" }, { "label": "Large", "value": "L" } ] } } },
            { "id": "done", "type": "message", "data": { "text": "Size {{size}} it is." } }
        ],
        "edges": [ { "source": "start", "target": "ask" }, { "source": "ask", "target": "done" },
                   { "source": "ask", "port": "invalid", "target": "done" } ]
    });
    let (status, body) = app
        .call(&owner, Method::PUT, &format!("/api/v1/bots/{bot}/flows/main"), Some(json!({ "document": flow })))
        .await;
    assert_eq!((status, body["issues"].clone()), (201, json!([])), "{body}");
    with_browser("glitches", |b| async move {
        b.sign_in(&app, "glitches-ui@example.com").await;

        // "0 entities ·not trained" and "1 intents" read as words now.
        b.client.goto(&app.url(&format!("/bots/{bot}/nlu"))).await.expect("goto nlu");
        let summary = b.wait_for_text("#nlu-summary", "not trained").await;
        assert!(summary.contains("0 intents · 0 examples · 0 entities · not trained"), "{summary}");

        // One highlighted sidebar entry, also under a nested path.
        b.client.goto(&app.url("/settings/llm-providers")).await.expect("goto providers");
        b.wait_for_text("h1", "LLM providers").await;
        let active = b.client.find_all(fantoccini::Locator::Css(".sidebar a.active")).await.expect("find");
        assert_eq!(active.len(), 1, "exactly one highlighted entry");
        assert_eq!(active[0].text().await.expect("text"), "LLM providers");

        // A bot that does not exist: a clear page, no bot tabs.
        b.client.goto(&app.url("/bots/987654")).await.expect("goto missing bot");
        b.wait_for_text("#bot-missing", "Back to bots").await;
        assert!(b.client.find(fantoccini::Locator::Css("[data-bot-tab]")).await.is_err(), "no tabs of a missing bot");

        // The activity feed tells what happened, in words.
        b.client.goto(&app.url("/activity")).await.expect("goto activity");
        let feed = b.wait_for_text("li[data-action='bot.created']", "created the bot").await;
        assert!(feed.contains("Shop"), "{feed}");

        // The emulator: a question's choices stay clickable, also after a re-prompt.
        b.client.goto(&app.url(&format!("/bots/{bot}/emulator"))).await.expect("goto emulator");
        b.click("#emulator-start").await;
        b.wait_for_text("#emulator-options", "Small").await;
        b.fill("#emulator-input", "medium").await;
        b.click("#emulator-send").await;
        b.wait_for_text("#emulator-log", "Please pick one of the sizes.").await;
        b.wait_for_text("#emulator-options", "Large").await;
        let large = b
            .client
            .find(fantoccini::Locator::XPath("//div[@id='emulator-options']/button[normalize-space()='Large']"))
            .await
            .expect("the Large choice");
        large.click().await.expect("click Large");
        b.wait_for_text("#emulator-log", "Size L it is.").await;
        b.client.clone().close().await.expect("close");
    })
    .await;
}

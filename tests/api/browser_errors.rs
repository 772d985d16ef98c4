//! Browser tests that no API error is swallowed: field errors sit next to
//! their field whatever the path (`allowed_origins[0]`), every other error is
//! a banner with the message, the field and the request id.

use reqwest::Method;
use serde_json::json;

use crate::browser::{Browser, with_browser};
use crate::helpers::{TestApp, spawn_app};

async fn sign_in(b: &Browser, app: &TestApp, email: &str) {
    b.client.goto(&app.url("/login")).await.expect("goto");
    b.fill("#email", email).await;
    b.fill("#password", "correct horse 42").await;
    b.click("button[type=submit]").await;
    b.wait_for_path("/dashboard").await;
}

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
        sign_in(&b, &app, "errors-ui@example.com").await;

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

//! The Integrations settings page in headless Chromium: a bad form answered
//! under its field, a Slack integration created from the per-type form and
//! tested (against a fake Slack `auth.test`), its log, a refused token shown
//! as the provider's words, and a Gmail integration connected through the
//! OAuth flow (the browser goes to the fake authorization page, comes back
//! through `/oauth/callback` and lands on the page with the result).

use std::sync::{Arc, Mutex};

use crate::browser::with_browser;
use crate::helpers::spawn_app_with;
use crate::integrations::{CLIENT_ID, CLIENT_SECRET, Expected, SLACK_TOKEN, fake_providers, point_at, query_of};

#[tokio::test]
async fn the_integrations_page_creates_tests_and_connects() {
    let expected = Arc::new(Mutex::new(Expected::default()));
    let fake = fake_providers(expected.clone()).await;
    let base = fake.base.clone();
    let app = spawn_app_with(|c| point_at(c, &base)).await;
    app.register("integrations-ui@example.com").await;
    with_browser("integrations_page", |b| async move {
        b.sign_in(&app, "integrations-ui@example.com").await;
        b.click("a[href='/settings/integrations']").await;
        b.wait_for_path("/settings/integrations").await;

        // The per-type form: Zendesk without its subdomain is refused under that field.
        b.select("#integration-type", "zendesk").await;
        b.fill("#integration-name", "Support").await;
        b.fill("#cfg-email", "agent@acme.example").await;
        b.fill("#secret-api_token", "zdTokenValue").await;
        b.click("#create-integration button[type=submit]").await;
        b.wait_for_text("#create-integration [data-field-error='config.subdomain']", "required").await;

        // Slack with a bot token: saved, tested, connected.
        b.select("#integration-type", "slack").await;
        b.replace("#integration-name", "Acme workspace").await;
        b.fill("#secret-bot_token", SLACK_TOKEN).await;
        b.click("#create-integration button[type=submit]").await;
        b.wait_for_text("tr[data-integration]", "Acme workspace").await;
        b.wait_for_text("tr[data-integration]", "bot_token").await;
        b.click("tr[data-integration] .test-connection").await;
        let ok = b.wait_for_text("#test-result", "the connection works").await;
        assert!(ok.contains("Acme"), "{ok}");
        b.wait_for_text("tr[data-integration]", "connected").await;
        let log = b.wait_for_text("#integration-logs tr[data-log]", "test_connection").await;
        assert!(log.contains("success") && log.contains("auth.test") && log.contains("200"), "{log}");
        let source = b.client.source().await.expect("source");
        assert!(!source.contains(SLACK_TOKEN), "the token is never sent back to the page");

        // A Gmail integration connected through the OAuth flow.
        b.select("#integration-type", "gmail").await;
        b.replace("#integration-name", "Shop mail").await;
        b.fill("#cfg-client_id", CLIENT_ID).await;
        b.fill("#secret-client_secret", CLIENT_SECRET).await;
        b.click("#create-integration button[type=submit]").await;
        b.wait_for_text("tbody", "Shop mail").await;
        let rows = b.client.find_all(fantoccini::Locator::Css("tr[data-integration]")).await.expect("rows");
        let mut connect = None;
        for row in rows {
            if row.text().await.expect("text").contains("Shop mail") {
                connect = Some(row.find(fantoccini::Locator::Css(".connect")).await.expect("connect button"));
            }
        }
        connect.expect("gmail row").click().await.expect("click");
        // The browser is at the (fake) provider's authorization page.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let authorize = loop {
            let url = b.client.current_url().await.expect("url");
            if url.as_str().starts_with(&format!("{base}/google/auth")) {
                break url.to_string();
            }
            assert!(std::time::Instant::now() < deadline, "never left for the provider: {url}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        let q = query_of(&authorize);
        {
            let mut exp = expected.lock().expect("expected");
            exp.challenge = Some(q["code_challenge"].clone());
            exp.redirect_uri = Some(q["redirect_uri"].clone());
        }
        // The provider sends the browser back with a code.
        let mut back = reqwest::Url::parse(&app.url("/oauth/callback")).expect("url");
        back.query_pairs_mut().append_pair("code", "4/good-code").append_pair("state", &q["state"]);
        b.client.goto(back.as_str()).await.expect("callback");
        b.wait_for_text("#oauth-result", "Connected").await;
        b.wait_for_text("tbody", "access_token").await;
        assert_eq!(app.count("SELECT count(*) FROM integrations WHERE type = 'gmail' AND status = 'connected'"), 1);

        // Refused at the provider: the page says why.
        let mut denied = reqwest::Url::parse(&app.url("/oauth/callback")).expect("url");
        denied.query_pairs_mut().append_pair("error", "access_denied").append_pair("state", &q["state"]);
        b.client.goto(denied.as_str()).await.expect("callback");
        let refused = b.wait_for_text("#oauth-result", "failed").await;
        assert!(refused.contains("already used"), "{refused}");
    })
    .await;
}

//! The Channels settings page in headless Chromium, against the fake
//! Telegram Bot API: a malformed token is refused under its field; a channel
//! is created for a bot picked from the list; its webhook URL is shown with
//! a copy button; Test connection and Activate reach the fake and the row
//! turns active; a test message sent from the page reaches the fake and
//! shows as sent in the channel's log.

use reqwest::Method;
use serde_json::json;

use crate::browser::with_browser;
use crate::channels::{FakeTelegram, TOKEN};
use crate::helpers::spawn_app_with;

#[tokio::test]
async fn the_channels_page_creates_tests_and_activates_a_telegram_channel() {
    let tg = FakeTelegram::start().await;
    let base = tg.server.base.clone();
    let app = spawn_app_with(move |c| c.channels.telegram_api_base = base).await;
    let s = app.register("channels-ui@example.com").await;
    let (status, bot) =
        app.call(&s, Method::POST, &format!("/api/v1/orgs/{}/bots", s.org_id), Some(json!({ "name": "Shop" }))).await;
    assert_eq!(status, 201, "{bot}");
    let bot_id = bot["id"].as_i64().expect("bot id");
    let tg = std::sync::Arc::new(tg);
    let tg2 = tg.clone();
    with_browser("channels_page", |b| async move {
        b.sign_in(&app, "channels-ui@example.com").await;
        b.click("a[href='/settings/channels']").await;
        b.wait_for_path("/settings/channels").await;

        b.select("#channel-bot", &bot_id.to_string()).await;
        b.fill("#create-channel [name='credentials.bot_token']", "not a token").await;
        b.click("#create-channel button[type=submit]").await;
        b.wait_for_text("#create-channel [data-field-error='credentials.bot_token']", "Telegram bot token").await;

        b.replace("#create-channel [name='credentials.bot_token']", TOKEN).await;
        b.click("#create-channel button[type=submit]").await;
        let row = b.wait_for_text("tr[data-channel]", "inactive").await;
        assert!(row.contains("/hooks/") && row.contains("Shop"), "{row}");
        b.element("tr[data-channel] [id^='copy-channel-url-']").await;

        b.click("tr[data-channel] .test-channel").await;
        b.wait_for_text("tr[data-channel]", "@shop_bot").await;
        b.click("tr[data-channel] .activate-channel").await;
        b.element("tr[data-channel][data-status='active']").await;
        assert_eq!(tg2.calls("setWebhook").len(), 1);
        assert_eq!(tg2.calls("getMe").len(), 2);

        // "Send a test" goes through the queue and shows in the channel's log.
        b.click("tr[data-channel] .open-channel-log").await;
        b.fill("#send-test [name='to']", "4242").await;
        b.click("#send-test button[type=submit]").await;
        b.element("#channel-log tr[data-message][data-status='queued']").await;
        app.run_jobs().await;
        b.click("#send-test button[type=button]").await;
        b.element("#channel-log tr[data-message][data-status='sent']").await;
        let sent = tg2.calls("sendMessage");
        assert_eq!(sent.last().map(|m| m["chat_id"].clone()), Some(json!("4242")));
    })
    .await;
}

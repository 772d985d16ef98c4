//! The Webhooks settings page in headless Chromium: create a subscription
//! (the secret is shown once, with a copy button), send a test event, see it
//! delivered in the log with the receiver's answer, redeliver it, edit the
//! events with checkboxes, rotate the secret and delete.

use std::sync::Arc;

use fantoccini::Locator;
use reqwest::Method;

use crate::browser::with_browser;
use crate::fake_http::{FakeServer, Received, Reply};
use crate::helpers::spawn_app;
use crate::webhooks::valid_signatures;

#[tokio::test]
async fn the_webhooks_page_creates_tests_redelivers_and_rotates() {
    let app = spawn_app().await;
    let s = app.register("hooks-ui@example.com").await;
    let receiver =
        FakeServer::start(Arc::new(|_r: &Received| Reply::Full(200, "text/plain".into(), b"thanks".to_vec()))).await;
    let url = format!("{}/hooks", receiver.base);
    with_browser("webhooks_page", |b| async move {
        b.sign_in(&app, "hooks-ui@example.com").await;
        b.click("a[href='/settings/webhooks']").await;
        b.wait_for_path("/settings/webhooks").await;

        // A bad event set first: nothing checked is refused under the checkboxes.
        b.fill("#create-webhook #url", &url).await;
        b.click("#create-webhook button[type=submit]").await;
        b.wait_for_text("#create-webhook [data-field-error='events']", "at least one").await;

        // Created: the secret is shown once, with a copy button.
        b.click("#create-webhook input[value='message.received']").await;
        b.click("#create-webhook button[type=submit]").await;
        let secret = b.text_of("#webhook-secret-value").await;
        assert!(secret.starts_with("whsec_"), "{secret}");
        b.element("#copy-webhook-secret").await;
        b.wait_for_text("tr[data-webhook]", "message.received").await;

        // Send a test event: the log shows it delivered with the receiver's answer.
        b.click("tr[data-webhook] .test-event").await;
        b.element("#delivery-log").await;
        app.wait_for_sql(
            "test event queued",
            |c| c.query_row("SELECT count(*) FROM webhook_logs", [], |r| r.get::<_, i64>(0)),
            |n| *n == 1,
        )
        .await;
        app.run_jobs().await;
        b.click("#refresh-log").await;
        let row = b.wait_for_text("#delivery-log tr[data-delivery]", "delivered").await;
        assert!(row.contains("webhook.test") && row.contains("200") && row.contains("thanks"), "{row}");
        let got = receiver.requests();
        assert_eq!(got.len(), 1);
        assert_eq!(valid_signatures(&got[0], &secret), 1, "the secret the page showed signs the deliveries");

        // Redeliver: the same webhook-id again (the "queued" toast may cover the button).
        b.client.execute("document.querySelectorAll('.toast').forEach((t) => t.remove());", vec![]).await.expect("js");
        b.click("#delivery-log .redeliver").await;
        app.wait_for_sql(
            "redelivery queued",
            |c| c.query_row("SELECT count(*) FROM webhook_logs", [], |r| r.get::<_, i64>(0)),
            |n| *n == 2,
        )
        .await;
        app.run_jobs().await;
        b.click("#refresh-log").await;
        b.wait_for_text("#delivery-log tbody", "(redelivery)").await;
        let got = receiver.requests();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].header("webhook-id"), got[1].header("webhook-id"));

        // Edit the events with checkboxes.
        b.client.execute("document.querySelectorAll('.toast').forEach((t) => t.remove());", vec![]).await.expect("js");
        b.click("tr[data-webhook] .edit-events").await;
        b.click("#edit-events input[value='conversation.closed']").await;
        b.click("#edit-events button[type=submit]").await;
        app.wait_for_sql(
            "events saved",
            |c| c.query_row("SELECT events FROM webhooks", [], |r| r.get::<_, String>(0)),
            |e| e.contains("conversation.closed") && e.contains("message.received"),
        )
        .await;

        // The secret is never shown again: not after a reload, not by the API.
        b.client.goto(&app.url("/settings/webhooks")).await.expect("goto");
        b.wait_for_text("tr[data-webhook]", "conversation.closed").await;
        assert!(b.client.find(Locator::Css("#webhook-secret-value")).await.is_err());
        let source = b.client.source().await.expect("source");
        assert!(!source.contains(&secret));
        let (_, list) = app.call(&s, Method::GET, &format!("/api/v1/orgs/{}/webhooks", s.org_id), None).await;
        assert!(!list.to_string().contains(&secret));

        // Rotate: a new secret, shown once.
        b.client.execute("window.confirm = () => true;", vec![]).await.expect("confirm");
        b.click("tr[data-webhook] .rotate").await;
        let rotated = b.text_of("#webhook-secret-value").await;
        assert!(rotated.starts_with("whsec_") && rotated != secret, "{rotated}");

        // Delete.
        b.click("tr[data-webhook] button.danger").await;
        b.wait_for_text("main", "No webhooks yet.").await;
        assert_eq!(app.count("SELECT count(*) FROM webhooks"), 0);
    })
    .await;
}

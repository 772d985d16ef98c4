//! Browser tests of the first run and instance administration: the first-run
//! banner on the sign-up page, the console's settings form (sign-up policy,
//! SMTP server, test email), the sign-up page under the closed and
//! invite-only policies, and an invitation on a server without SMTP showing
//! the link to copy.

use crate::browser::{Browser, with_browser};
use crate::browser_a11y::{axe_source, axe_violations};
use crate::helpers::{PASSWORD, spawn_app};
use crate::smtp::{SmtpSink, wait_for};

/// axe-core on the page as it is, light and dark, at 1440 and 400 px:
/// serious and critical violations and sideways scrolling, one line each.
async fn axe_here(b: &Browser, what: &str) -> Vec<String> {
    let Some(axe) = axe_source() else { return Vec::new() };
    let mut failures = Vec::new();
    for theme in ["light", "dark"] {
        b.client.execute(&format!("document.documentElement.dataset.theme = '{theme}';"), vec![]).await.expect("theme");
        for (width, height) in [(1440, 900), (400, 860)] {
            b.client.set_window_size(width, height).await.expect("resize");
            for v in axe_violations(b, &axe).await {
                failures.push(format!("{what} at {width} px, {theme}: {v}"));
            }
            let overflow = b
                .client
                .execute("return document.documentElement.scrollWidth - document.documentElement.clientWidth;", vec![])
                .await
                .expect("js");
            if width == 400 && overflow != serde_json::json!(0) {
                failures.push(format!("{what} at 400 px, {theme}: scrolls sideways by {overflow} px"));
            }
        }
    }
    b.client.set_window_size(1440, 900).await.expect("resize");
    failures
}

fn setting(app: &crate::helpers::TestApp, key: &str) -> Option<String> {
    app.sql(|c| {
        use rusqlite::OptionalExtension;
        c.query_row("SELECT json_extract(value, '$') FROM settings WHERE key = ?1", [key], |r| r.get(0)).optional()
    })
}

#[tokio::test]
async fn the_sign_up_page_tells_the_first_user_they_will_administer_the_instance() {
    let app = spawn_app().await;
    with_browser("first_run_banner", |b| async move {
        b.client.goto(&app.url("/signup")).await.expect("goto");
        b.wait_for_text("#first-run", "You are the first user: you will be the administrator of this instance").await;
        let failures = axe_here(&b, "sign-up, first run").await;
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        b.fill("#name", "Fran Founder").await;
        b.fill("#email", "fran@example.com").await;
        b.fill("#password", PASSWORD).await;
        b.click("button[type=submit]").await;
        b.wait_for_path("/dashboard").await;
        let superadmin: bool = app
            .sql(|c| c.query_row("SELECT is_superadmin FROM users WHERE email = 'fran@example.com'", [], |r| r.get(0)));
        assert!(superadmin);
        // The next visitor sees the ordinary form, without the banner.
        b.client.delete_all_cookies().await.expect("cookies");
        b.client.goto(&app.url("/signup")).await.expect("goto");
        b.text_of("#password").await;
        assert!(b.client.find(fantoccini::Locator::Css("#first-run")).await.is_err(), "no banner after the first run");
        b.client.clone().close().await.expect("close");
    })
    .await;
}

#[tokio::test]
async fn the_console_settings_form_sets_the_policy_and_smtp_and_the_sign_up_page_follows() {
    let app = spawn_app().await;
    app.register("founder@example.com").await;
    let sink = SmtpSink::start().await;
    with_browser("console_settings", |b| async move {
        b.client.goto(&app.url("/admin")).await.expect("goto");
        b.fill("#admin-login #email", "founder@example.com").await;
        b.fill("#admin-login #password", PASSWORD).await;
        b.click("#admin-login button[type=submit]").await;
        b.wait_for_text("#admin-stats", "Users").await;
        b.click("button[role=tab][data-tab='settings']").await;
        b.wait_for_text("#smtp-source", "none").await;
        let mut failures = axe_here(&b, "console settings").await;
        b.click("button[role=tab][data-tab='users']").await;
        b.text_of("#create-user").await;
        failures.extend(axe_here(&b, "console users").await);
        b.click("button[role=tab][data-tab='settings']").await;
        b.text_of("#settings-general").await;

        // Sign-up closed.
        b.click("input[name=signup_policy][value=closed]").await;
        b.click("#save-settings").await;
        app.wait_for_sql(
            "policy saved",
            |c| {
                c.query_row(
                    "SELECT count(*) FROM settings WHERE key = 'instance.signup_policy' AND value = '\"closed\"'",
                    [],
                    |r| r.get::<_, i64>(0),
                )
            },
            |n| *n == 1,
        )
        .await;
        assert_eq!(setting(&app, "instance.signup_policy").as_deref(), Some("closed"));

        // A bad public URL is refused next to its field.
        b.replace("[id='public_url']", "bots.example.com").await;
        b.click("#save-settings").await;
        b.wait_for_text("[data-field-error='public_url']", "absolute URL").await;
        b.replace("[id='public_url']", "").await;

        // The SMTP server, then a test email through it.
        b.replace("[id='smtp.host']", "127.0.0.1").await;
        b.replace("[id='smtp.port']", &sink.port.to_string()).await;
        b.select("#smtp-tls", "none").await;
        b.replace("[id='smtp.from']", "Bots <bots@example.com>").await;
        b.click("#save-smtp").await;
        b.wait_for_text("#smtp-source", "set here").await;
        b.fill("#settings-test-email [id='to']", "ops@example.com").await;
        b.click("#send-test-email").await;
        b.wait_for_text("#test-email-result", "accepted the test email to ops@example.com").await;
        wait_for(&sink, "ops@example.com", 1).await;

        // The sign-up page says it is closed instead of showing a form.
        b.client.goto(&app.url("/signup")).await.expect("goto");
        b.wait_for_text("#signup-closed", "Sign-up is closed on this server").await;
        assert!(b.client.find(fantoccini::Locator::Css("#password")).await.is_err(), "no form when closed");
        failures.extend(axe_here(&b, "sign-up, closed").await);

        // Invite only: the page points at invitation links.
        b.client.goto(&app.url("/admin")).await.expect("goto");
        b.click("button[role=tab][data-tab='settings']").await;
        b.click("input[name=signup_policy][value=invite_only]").await;
        b.click("#save-settings").await;
        app.wait_for_sql(
            "policy saved",
            |c| {
                c.query_row(
                    "SELECT count(*) FROM settings WHERE key = 'instance.signup_policy' AND value = '\"invite_only\"'",
                    [],
                    |r| r.get::<_, i64>(0),
                )
            },
            |n| *n == 1,
        )
        .await;
        b.client.goto(&app.url("/signup")).await.expect("goto");
        b.wait_for_text("#signup-invite-only", "by invitation only").await;
        failures.extend(axe_here(&b, "sign-up, invite only").await);
        assert!(failures.is_empty(), "{} accessibility failures:\n{}", failures.len(), failures.join("\n"));
        b.client.clone().close().await.expect("close");
    })
    .await;
}

#[tokio::test]
async fn an_invitation_on_a_server_without_smtp_shows_the_link_to_copy() {
    let app = spawn_app().await;
    app.register("owner@example.com").await;
    with_browser("invite_without_smtp", |b| async move {
        b.sign_in(&app, "owner@example.com").await;
        b.click("a[href='/members']").await;
        b.fill("#invite-form #email", "grace@example.com").await;
        b.select("#invite-role", "editor").await;
        b.click("#invite-form button[type=submit]").await;
        let notice = b.wait_for_text("#invitation-link", "No email was sent").await;
        assert!(!notice.contains("was emailed"), "{notice}");
        let url = b.text_of("#invitation-url").await;
        assert!(url.starts_with(&format!("{}/invitations/accept?token=", app.address)), "{url}");
        b.click("#copy-invitation-link").await;
        let label = b.text_of("#copy-invitation-link").await;
        assert!(label == "Copied" || label.contains("by hand"), "{label}");
        let failures = axe_here(&b, "members, invitation link").await;
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert_eq!(app.count("SELECT count(*) FROM email_notifications"), 0, "nothing claimed, nothing queued");
        // The forgotten-password page says no email can come, instead of a form.
        b.client.goto(&app.url("/forgot-password")).await.expect("goto");
        b.wait_for_text("#reset-no-email", "cannot send email").await;
        b.client.goto(&app.url("/members")).await.expect("goto");
        b.text_of("#invite-form").await;

        // The copied link works: Grace signs up through it in a fresh session.
        b.client.delete_all_cookies().await.expect("cookies");
        b.client.goto(&url).await.expect("goto");
        b.click("#signup-to-accept").await;
        b.wait_for_path("/signup").await;
        b.text_of("#signup-invited").await;
        b.fill("#name", "Grace Hopper").await;
        b.fill("#password", "navy compiler 1906 moth").await;
        b.click("button[type=submit]").await;
        b.wait_for_path("/dashboard").await;
        let memberships = app.count(
            "SELECT count(*) FROM organization_members m JOIN users u ON u.id = m.user_id WHERE u.email = 'grace@example.com'",
        );
        assert_eq!(memberships, 1);
        b.client.clone().close().await.expect("close");
    })
    .await;
}

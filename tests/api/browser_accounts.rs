//! Browser tests of accounts and organizations: sign-up, creating an
//! organization, inviting a colleague who signs up through the emailed link
//! in a second browser (own profile, own cookies), and signing in with
//! two-factor authentication.

use totp_rs::{Algorithm, Secret, TOTP};

use crate::browser::{Browser, with_browser};
use crate::helpers::spawn_app_with;
use crate::smtp::{SmtpSink, wait_for};

#[tokio::test]
async fn sign_up_create_an_organization_invite_and_accept_in_a_second_browser() {
    let sink = SmtpSink::start().await;
    let smtp = sink.config();
    let app = spawn_app_with(move |c| c.smtp = smtp).await;
    with_browser("invite_flow", |b| async move {
        // The owner signs up and creates an organization from the switcher.
        b.client.goto(&app.url("/signup")).await.expect("goto");
        b.fill("#name", "Olivia Owner").await;
        b.fill("#email", "olivia@example.com").await;
        b.fill("#password", crate::helpers::PASSWORD).await;
        b.click("button[type=submit]").await;
        b.finish_signup(&app, "olivia@example.com").await;
        b.wait_for_path("/dashboard").await;
        b.select("#org-switcher", "new").await;
        b.wait_for_path("/orgs/new").await;
        b.fill("#name", "Acme Support").await;
        b.click("#new-org button[type=submit]").await;
        b.wait_for_path("/dashboard").await;
        b.wait_for_text("h1", "Acme Support").await;

        // She invites Grace as an editor.
        b.click("a[href='/members']").await;
        b.fill("#invite-form #email", "grace@example.com").await;
        b.select("#invite-role", "editor").await;
        b.click("#invite-form button[type=submit]").await;
        b.wait_for_text("tr[data-invitation='grace@example.com']", "pending").await;
        let org_id: i64 = app.sql(|c| c.query_row("SELECT id FROM organizations WHERE name = 'Acme Support'", [], |r| r.get(0)));

        // The email arrives; Grace opens the link in her own browser.
        app.run_jobs().await;
        let mail = wait_for(&sink, "grace@example.com", 1).await.remove(0);
        let link = mail.link("/invitations/accept").expect("accept link");
        assert!(link.starts_with(&app.address), "{link} points at this server");
        let grace = Browser::start().await;
        grace.client.goto(&link).await.expect("goto");
        let summary = grace.text_of("#invitation-summary").await;
        assert!(summary.contains("to join Acme Support as editor"), "{summary}");
        grace.click("#signup-to-accept").await;
        grace.wait_for_path("/signup").await;
        grace.fill("#name", "Grace Hopper").await;
        grace.fill("#password", "navy compiler 1906 moth").await;
        grace.click("button[type=submit]").await;
        // Signing up through the invitation joins Acme Support at once (the
        // link proved the address) and creates no personal organization.
        grace.wait_for_path("/dashboard").await;
        grace.wait_for_text("h1", "Acme Support").await;
        let role: String = app.sql(|c| {
            c.query_row(
                "SELECT r.name FROM organization_members m JOIN roles r ON r.id = m.role_id JOIN users u ON u.id = m.user_id
                 WHERE m.organization_id = ?1 AND u.email = 'grace@example.com'",
                [org_id],
                |r| r.get(0),
            )
        });
        assert_eq!(role, "editor");
        let memberships = app.count(
            "SELECT count(*) FROM organization_members m JOIN users u ON u.id = m.user_id WHERE u.email = 'grace@example.com'",
        );
        assert_eq!(memberships, 1, "no personal organization for an invited sign-up");
        grace.client.clone().close().await.expect("close");

        // Back in the owner's browser, Grace is a member.
        b.client.refresh().await.expect("refresh");
        b.wait_for_text("tr[data-member='grace@example.com']", "Grace Hopper").await;
        b.client.clone().close().await.expect("close");
    })
    .await;
}

#[tokio::test]
async fn two_factor_setup_in_the_account_page_then_sign_in_with_a_code() {
    let app = spawn_app_with(|_| {}).await;
    app.register("tfa@example.com").await;
    with_browser("two_factor", |b| async move {
        b.sign_in(&app, "tfa@example.com").await;
        b.click("#account-link").await;
        b.wait_for_path("/account").await;
        b.click("#start-2fa").await;
        let secret = b.text_of("#totp-secret").await;
        let bytes = Secret::Encoded(secret.trim().to_owned()).to_bytes().expect("base32");
        let totp = TOTP::new(Algorithm::SHA1, 6, 1, 30, bytes, None, String::new()).expect("totp");
        let now = u64::try_from(chrono::Utc::now().timestamp()).expect("time");
        b.fill("#two-factor #code", &totp.generate(now)).await;
        b.click("#enable-2fa").await;
        let codes = b.text_of("#backup-codes").await;
        assert_eq!(codes.lines().filter(|l| !l.trim().is_empty()).count(), 10, "{codes}");
        b.wait_for_text("#two-factor-on", "on").await;

        b.click("#sign-out").await;
        b.wait_for_path("/login").await;
        b.fill("#email", "tfa@example.com").await;
        b.fill("#password", "correct horse 42").await;
        b.click("button[type=submit]").await;
        // The second step asks for the code; a wrong one is refused.
        b.fill("#totp_code", "000000").await;
        b.click("button[type=submit]").await;
        b.wait_for_text(".field-error", "wrong").await;
        b.replace("#totp_code", &totp.generate(now + 30)).await;
        b.click("button[type=submit]").await;
        b.wait_for_path("/dashboard").await;
        let logins =
            app.count("SELECT count(*) FROM audit_logs WHERE action = 'user.login' AND metadata LIKE '%\"totp\"%'");
        assert_eq!(logins, 1);
        b.client.clone().close().await.expect("close");
    })
    .await;
}

#[tokio::test]
async fn the_organization_screens_roles_tokens_branding_audit_and_admin_console_work() {
    let app = spawn_app_with(|_| {}).await;
    app.register("owner@example.com").await;
    // The first superadmin comes from the CLI in real life; here, SQL.
    app.sql(|c| c.execute("UPDATE users SET is_superadmin = 1 WHERE email = 'owner@example.com'", []));
    with_browser("org_screens", |b| async move {
        b.sign_in(&app, "owner@example.com").await;

        // A custom role from the permission catalogue.
        b.click("a[href='/roles']").await;
        b.fill("#role-editor #name", "Inbox lead").await;
        b.click("#role-editor input[value='conversations.handle']").await;
        b.click("#role-editor input[value='bots.read']").await;
        b.click("#role-editor button[type=submit]").await;
        b.wait_for_text("tr[data-role='Inbox lead']", "conversations.handle").await;
        let perms: String =
            app.sql(|c| c.query_row("SELECT permissions FROM roles WHERE name = 'Inbox lead'", [], |r| r.get(0)));
        assert_eq!(perms, r#"["bots.read","conversations.handle"]"#);

        // A team.
        b.click("a[href='/teams']").await;
        b.fill("form.card #name", "Night shift").await;
        b.click("form.card button[type=submit]").await;
        b.wait_for_text("div[data-team='Night shift'] h2", "Night shift").await;

        // An API token, shown once.
        b.click("a[href='/api-tokens']").await;
        b.fill("#create-token #name", "CI").await;
        b.click("#create-token input[value='bots.read']").await;
        b.click("#create-token button[type=submit]").await;
        let token = b.text_of("#new-token").await;
        assert!(token.starts_with("bb_"), "{token}");
        let r = app.as_token(&token, reqwest::Method::GET, "/api/v1/me").send().await.expect("send");
        assert_eq!(r.status(), 200);
        b.wait_for_text("tr[data-token='CI']", "active").await;

        // Branding applies to the UI at once.
        b.click("a[href='/branding']").await;
        b.replace("#branding-form #brand_name", "Acme Bots").await;
        b.click("#branding-form button[type=submit]").await;
        b.wait_for_text("#brand-name", "Acme Bots").await;
        let primary = b
            .client
            .execute("return getComputedStyle(document.documentElement).getPropertyValue('--primary')", vec![])
            .await
            .expect("js");
        assert_eq!(primary.as_str().map(str::trim), Some("#6d28d9"));

        // The audit log shows what happened, filterable.
        b.click("a[href='/audit']").await;
        b.wait_for_text("#audit-table", "api_token.created").await;
        b.fill("#f-action", "role.*").await;
        b.click("#audit-filters button[type=submit]").await;
        b.wait_for_text("#audit-table tbody", "role.created").await;
        let rows =
            b.client.find_all(fantoccini::Locator::Css("#audit-table tbody tr[data-action]")).await.expect("rows");
        assert_eq!(rows.len(), 1);

        // The admin console has its own sign-in even for a signed-in superadmin.
        b.client.goto(&app.url("/admin")).await.expect("goto");
        b.fill("#admin-login #email", "owner@example.com").await;
        b.fill("#admin-login #password", "correct horse 42").await;
        b.click("#admin-login button[type=submit]").await;
        b.wait_for_text("#admin-stats", "Users").await;
        b.click("button[role=tab][data-tab='users']").await;
        b.wait_for_text("tr[data-user='owner@example.com']", "superadmin").await;
        assert_eq!(app.count("SELECT count(*) FROM admin_sessions WHERE revoked_at IS NULL"), 1);
        b.click("#admin-logout").await;
        b.text_of("#admin-login").await;
        assert_eq!(app.count("SELECT count(*) FROM admin_sessions WHERE revoked_at IS NULL"), 0);
        b.client.clone().close().await.expect("close");
    })
    .await;
}

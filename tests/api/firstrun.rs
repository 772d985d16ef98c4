//! First run and instance administration: the first sign-up becomes owner
//! and superadmin (exactly one, even when sign-ups race), the sign-up policy
//! (open, invite-only, closed) with its refusals, sign-up through an
//! invitation (no personal organization), the instance settings in the
//! console (validation with field paths, SMTP password sealed and never
//! returned, a test email through the real mail path, public URL in email
//! links) and invitations without SMTP returning the link to pass on.

use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::admin::{admin_call, admin_send, console};
use crate::helpers::{PASSWORD, TestApp, assert_error, call_ok, session_from, spawn_app, spawn_app_with};
use crate::smtp::{SmtpSink, wait_for};

async fn instance(app: &TestApp) -> Value {
    let r = app.get("/api/v1/instance").await;
    assert_eq!(r.status(), 200);
    r.json().await.expect("json")
}

async fn sign_up(app: &TestApp, email: &str, token: Option<&str>) -> Response {
    let mut body = json!({ "email": email, "password": PASSWORD, "name": "New Person" });
    if let Some(t) = token {
        body["invitation_token"] = json!(t);
    }
    app.post_json("/api/v1/auth/register", &body).await
}

fn is_superadmin(app: &TestApp, email: &str) -> bool {
    app.sql(|c| c.query_row("SELECT is_superadmin FROM users WHERE email = ?1", [email], |r| r.get(0)))
}

/// Invites `email` to `org_id` as `inviter` and returns the answer.
async fn invite(app: &TestApp, inviter: &crate::helpers::Session, org_id: i64, email: &str) -> Value {
    let (status, sent) = app
        .call(
            inviter,
            Method::POST,
            &format!("/api/v1/orgs/{org_id}/invitations"),
            Some(json!({ "email": email, "role": "editor" })),
        )
        .await;
    assert_eq!(status, 201, "invite {email}: {sent}");
    sent
}

fn token_of(sent: &Value) -> String {
    sent["accept_url"].as_str().expect("accept_url").split("token=").nth(1).expect("token").to_owned()
}

#[tokio::test]
async fn the_first_sign_up_becomes_owner_and_superadmin_and_the_second_does_not() {
    let app = spawn_app().await;
    let info = instance(&app).await;
    assert_eq!(info["first_run"], true, "{info}");
    assert_eq!(info["signup_policy"], "open");
    assert_eq!(info["smtp_configured"], false);
    assert!(info["public_url"].as_str().is_some_and(|u| u.starts_with("http://")), "{info}");

    let first = app.register("founder@example.com").await;
    assert!(is_superadmin(&app, "founder@example.com"));
    let (_, me) = app.call(&first, Method::GET, "/api/v1/me", None).await;
    assert_eq!(me["organizations"][0]["role"], "owner", "{me}");
    assert_eq!(app.count("SELECT count(*) FROM admin_audit_log WHERE action = 'admin.superadmin_first_run'"), 1);
    assert_eq!(instance(&app).await["first_run"], false);

    app.register("second@example.com").await;
    assert!(!is_superadmin(&app, "second@example.com"), "only the first account is superadmin");
    // The first account opens the console; the second cannot.
    console(&app, "founder@example.com").await;
    let r = app
        .post_json("/api/v1/admin/auth/login", &json!({ "email": "second@example.com", "password": PASSWORD }))
        .await;
    assert_error(r, 401, "invalid_credentials").await;
}

#[tokio::test]
async fn the_first_sign_up_with_smtp_is_superadmin_once_its_address_is_confirmed() {
    let sink = SmtpSink::start().await;
    let smtp = sink.config();
    let app = spawn_app_with(move |c| c.smtp = smtp).await;
    assert_eq!(instance(&app).await["smtp_configured"], true);
    let r = sign_up(&app, "founder@example.com", None).await;
    assert_eq!(r.status(), 202);
    assert!(is_superadmin(&app, "founder@example.com"));
}

#[tokio::test]
async fn simultaneous_first_sign_ups_make_exactly_one_superadmin() {
    let app = spawn_app().await;
    let emails: Vec<String> = (0..6).map(|i| format!("racer{i}@example.com")).collect();
    let answers = futures_util::future::join_all(emails.iter().map(|e| sign_up(&app, e, None))).await;
    for r in answers {
        assert_eq!(r.status(), 201);
    }
    assert_eq!(app.count("SELECT count(*) FROM users"), 6);
    assert_eq!(app.count("SELECT count(*) FROM users WHERE is_superadmin = 1"), 1);
    assert_eq!(app.count("SELECT count(*) FROM admin_audit_log WHERE action = 'admin.superadmin_first_run'"), 1);
}

#[tokio::test]
async fn each_sign_up_policy_is_enforced_with_a_stable_code() {
    let app = spawn_app().await;
    let owner = app.register("founder@example.com").await;
    let admin = console(&app, "founder@example.com").await;

    // invite_only: no self sign-up, but an invitation link works.
    let (status, settings) = admin_call(
        &app,
        &admin,
        Method::PUT,
        "/api/v1/admin/settings",
        Some(json!({ "signup_policy": "invite_only" })),
    )
    .await;
    assert_eq!((status, settings["signup_policy"].clone()), (200, json!("invite_only")), "{settings}");
    assert_eq!(instance(&app).await["signup_policy"], "invite_only");
    assert_error(sign_up(&app, "stranger@example.com", None).await, 403, "invitation_required").await;
    let sent = invite(&app, &owner, owner.org_id, "guest@example.com").await;
    let r = sign_up(&app, "guest@example.com", Some(&token_of(&sent))).await;
    assert_eq!(r.status(), 201);

    // closed: nobody signs up, invitation or not; the console creates accounts.
    let (status, _) =
        admin_call(&app, &admin, Method::PUT, "/api/v1/admin/settings", Some(json!({ "signup_policy": "closed" })))
            .await;
    assert_eq!(status, 200);
    assert_eq!(instance(&app).await["signup_policy"], "closed");
    assert_error(sign_up(&app, "stranger@example.com", None).await, 403, "signup_closed").await;
    let sent = invite(&app, &owner, owner.org_id, "late@example.com").await;
    assert_error(sign_up(&app, "late@example.com", Some(&token_of(&sent))).await, 403, "signup_closed").await;
    let (status, created) = admin_call(
        &app,
        &admin,
        Method::POST,
        "/api/v1/admin/users",
        Some(json!({ "email": "Made@Example.com", "name": "Made By Admin", "password": PASSWORD })),
    )
    .await;
    assert_eq!(
        (status, created["email"].clone(), created["is_superadmin"].clone()),
        (201, json!("made@example.com"), json!(false))
    );
    app.login("made@example.com", PASSWORD).await;
    let (status, dup) = admin_call(
        &app,
        &admin,
        Method::POST,
        "/api/v1/admin/users",
        Some(json!({ "email": "made@example.com", "name": "Again", "password": PASSWORD })),
    )
    .await;
    assert_eq!((status, dup["error"]["code"].clone()), (409, json!("email_taken")));

    // open again: anyone.
    admin_call(&app, &admin, Method::PUT, "/api/v1/admin/settings", Some(json!({ "signup_policy": "open" }))).await;
    assert_eq!(sign_up(&app, "stranger@example.com", None).await.status(), 201);
    let changes = app.count(
        "SELECT count(*) FROM admin_audit_log WHERE action = 'admin.settings.updated' AND details LIKE '%signup_policy%'",
    );
    assert_eq!(changes, 3);
}

#[tokio::test]
async fn signing_up_through_an_invitation_joins_that_organization_only() {
    let app = spawn_app().await;
    let owner = app.register("founder@example.com").await;
    let sent = invite(&app, &owner, owner.org_id, "grace@example.com").await;
    let token = token_of(&sent);

    // The invitation is for its address only, and the token must be real.
    let body =
        assert_error(sign_up(&app, "other@example.com", Some(&token)).await, 403, "invitation_email_mismatch").await;
    assert_eq!(body["error"]["details"]["field"], "email");
    let body = assert_error(sign_up(&app, "grace@example.com", Some("nope")).await, 400, "token_invalid").await;
    assert_eq!(body["error"]["details"]["field"], "invitation_token");
    assert_eq!(app.count("SELECT count(*) FROM users WHERE email IN ('other@example.com', 'grace@example.com')"), 0);

    let r = sign_up(&app, "grace@example.com", Some(&token)).await;
    assert_eq!(r.status(), 201);
    let grace = session_from(r).await;
    let (_, me) = app.call(&grace, Method::GET, "/api/v1/me", None).await;
    let orgs = me["organizations"].as_array().expect("organizations");
    assert_eq!(orgs.len(), 1, "only the inviting organization: {me}");
    assert_eq!((orgs[0]["id"].as_i64(), orgs[0]["role"].clone()), (Some(owner.org_id), json!("editor")));
    assert_eq!(me["user"]["email_verified"], true);
    assert_eq!(app.count("SELECT count(*) FROM organizations WHERE owner_id = (SELECT id FROM users WHERE email = 'grace@example.com')"), 0);
    assert_eq!(
        app.count("SELECT count(*) FROM team_invitations WHERE email = 'grace@example.com' AND status = 'accepted'"),
        1
    );
    assert!(!is_superadmin(&app, "grace@example.com"));
    // The link is used up.
    assert_error(sign_up(&app, "grace2@example.com", Some(&token)).await, 400, "token_invalid").await;
}

#[tokio::test]
async fn without_smtp_an_invitation_returns_its_link_and_queues_no_email() {
    let app = spawn_app().await;
    let owner = app.register("founder@example.com").await;
    let sent = invite(&app, &owner, owner.org_id, "ada@example.com").await;
    assert_eq!(sent["emailed"], false, "{sent}");
    assert!(sent["accept_url"].as_str().is_some_and(|u| u.contains("/invitations/accept?token=")), "{sent}");
    assert_eq!(app.count("SELECT count(*) FROM email_notifications WHERE email_type = 'invitation'"), 0);
    // Only people who may invite see links: a viewer is refused.
    let viewer = app.join(&owner, owner.org_id, "viewer@example.com", "viewer").await;
    let (status, body) = app
        .call(
            &viewer,
            Method::POST,
            &format!("/api/v1/orgs/{}/invitations", owner.org_id),
            Some(json!({ "email": "x@example.com", "role": "viewer" })),
        )
        .await;
    assert_eq!((status, body["error"]["code"].clone()), (403, json!("forbidden")), "{body}");
}

#[tokio::test]
async fn instance_settings_are_validated_with_field_paths() {
    let app = spawn_app().await;
    let founder = app.register("founder@example.com").await;
    let admin = console(&app, "founder@example.com").await;
    let smtp = |extra: Value| {
        let mut s =
            json!({ "host": "smtp.example.com", "port": 587, "tls": "starttls", "from": "Bots <bots@example.com>" });
        for (k, v) in extra.as_object().expect("object") {
            s[k] = v.clone();
        }
        json!({ "smtp": s })
    };
    let cases = [
        (json!({ "signup_policy": "sometimes" }), "signup_policy"),
        (json!({ "public_url": "bots.example.com" }), "public_url"),
        (json!({ "public_url": "ftp://bots.example.com" }), "public_url"),
        (json!({ "public_url": "https://bots.example.com/?x=1" }), "public_url"),
        (smtp(json!({ "host": "bad host" })), "smtp.host"),
        (smtp(json!({ "port": 70000 })), "smtp.port"),
        (smtp(json!({ "port": 0 })), "smtp.port"),
        (smtp(json!({ "tls": "ssl" })), "smtp.tls"),
        (smtp(json!({ "from": "not an address" })), "smtp.from"),
        (smtp(json!({ "username": "mailer" })), "smtp.password"),
        (smtp(json!({ "password": "only a password" })), "smtp.username"),
    ];
    for (body, field) in cases {
        let r = admin_send(&app, &admin, Method::PUT, "/api/v1/admin/settings", Some(body.clone())).await;
        let err = assert_error(r, 422, "validation_failed").await;
        assert_eq!(err["error"]["details"]["field"], field, "{body}: {err}");
    }
    // Nothing was stored by the refused requests.
    assert_eq!(app.count("SELECT count(*) FROM settings WHERE key LIKE 'instance.%'"), 0);
    let (status, ok) = admin_call(
        &app,
        &admin,
        Method::PUT,
        "/api/v1/admin/settings",
        Some(json!({ "public_url": "https://bots.example.com/" })),
    )
    .await;
    assert_eq!((status, ok["public_url_effective"].clone()), (200, json!("https://bots.example.com")), "{ok}");
    assert_eq!(instance(&app).await["public_url"], "https://bots.example.com");
    // Everything handed out follows it: the widget's embed code and a channel's webhook URL.
    let org = founder.org_id;
    let bot =
        call_ok(&app, &founder, Method::POST, &format!("/api/v1/orgs/{org}/bots"), Some(json!({ "name": "B" }))).await;
    let bot = bot["id"].as_i64().expect("bot id");
    let widget = call_ok(&app, &founder, Method::GET, &format!("/api/v1/bots/{bot}/widget"), None).await;
    assert!(
        widget["embed_code"].as_str().is_some_and(|c| c.contains("https://bots.example.com/widget.js")),
        "{widget}"
    );
    let telegram = json!({ "type": "telegram", "bot_id": bot, "credentials": { "bot_token": crate::channels::TOKEN } });
    let channel = call_ok(&app, &founder, Method::POST, &format!("/api/v1/orgs/{org}/channels"), Some(telegram)).await;
    assert!(
        channel["webhook_url"].as_str().is_some_and(|u| u.starts_with("https://bots.example.com/hooks/")),
        "{channel}"
    );
    // null returns to the configuration file's value.
    let (_, back) =
        admin_call(&app, &admin, Method::PUT, "/api/v1/admin/settings", Some(json!({ "public_url": null }))).await;
    assert_eq!(back["public_url"], Value::Null);
    assert_ne!(back["public_url_effective"], "https://bots.example.com");
}

#[tokio::test]
async fn the_smtp_password_is_sealed_and_never_returned() {
    let app = spawn_app().await;
    app.register("founder@example.com").await;
    let admin = console(&app, "founder@example.com").await;
    let secret = "ultra-secret-smtp-pass-7781";
    let r = admin_send(
        &app,
        &admin,
        Method::PUT,
        "/api/v1/admin/settings",
        Some(json!({ "smtp": { "host": "smtp.example.com", "port": 465, "tls": "tls", "username": "mailer",
                                "password": secret, "from": "Bots <bots@example.com>" } })),
    )
    .await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.expect("text");
    assert!(!text.contains(secret), "{text}");
    let body: Value = serde_json::from_str(&text).expect("json");
    assert_eq!((body["smtp"]["password_set"].clone(), body["smtp_source"].clone()), (json!(true), json!("console")));
    assert!(body["smtp"].get("password").is_none(), "{body}");
    let r = admin_send(&app, &admin, Method::GET, "/api/v1/admin/settings", None).await;
    assert!(!r.text().await.expect("text").contains(secret));
    let stored: String =
        app.sql(|c| c.query_row("SELECT value FROM settings WHERE key = 'instance.smtp'", [], |r| r.get(0)));
    assert!(!stored.contains(secret) && stored.contains("password_sealed"), "{stored}");
    assert_eq!(app.count(&format!("SELECT count(*) FROM admin_audit_log WHERE details LIKE '%{secret}%'")), 0);
    // Without `password` the stored one stays; the mail path decrypts it.
    let (_, kept) = admin_call(
        &app,
        &admin,
        Method::PUT,
        "/api/v1/admin/settings",
        Some(json!({ "smtp": { "host": "smtp2.example.com", "port": 465, "tls": "tls", "username": "mailer", "from": "bots@example.com" } })),
    )
    .await;
    assert_eq!(
        (kept["smtp"]["host"].clone(), kept["smtp"]["password_set"].clone()),
        (json!("smtp2.example.com"), json!(true))
    );
    let config = app.state.config.clone();
    let keys = app.state.keys.clone();
    let (effective, _) =
        app.state.db.read(move |c| botbuilder::admin::instance::effective_smtp(c, &config, &keys)).await.expect("smtp");
    assert_eq!(effective.password.as_deref(), Some(secret));
    // Removing the server returns to the configuration file (none here).
    let (_, cleared) =
        admin_call(&app, &admin, Method::PUT, "/api/v1/admin/settings", Some(json!({ "smtp": null }))).await;
    assert_eq!((cleared["smtp"].clone(), cleared["smtp_source"].clone()), (Value::Null, json!("none")));
}

#[tokio::test]
async fn the_test_email_goes_through_the_console_smtp_server_and_reports_its_failure() {
    let app = spawn_app().await;
    let owner = app.register("founder@example.com").await;
    let admin = console(&app, "founder@example.com").await;
    let path = "/api/v1/admin/settings/test-email";
    let r = admin_send(&app, &admin, Method::POST, path, Some(json!({ "to": "ops@example.com" }))).await;
    assert_error(r, 409, "smtp_not_configured").await;

    let sink = SmtpSink::start().await;
    let (status, _) = admin_call(
        &app,
        &admin,
        Method::PUT,
        "/api/v1/admin/settings",
        Some(json!({ "public_url": "https://bots.example.com",
                     "smtp": { "host": "127.0.0.1", "port": sink.port, "tls": "none", "from": "Bots <bots@example.com>" } })),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(instance(&app).await["smtp_configured"], true);
    let r = admin_send(&app, &admin, Method::POST, path, Some(json!({ "to": "not-an-address" }))).await;
    let err = assert_error(r, 422, "validation_failed").await;
    assert_eq!(err["error"]["details"]["field"], "to");
    let (status, sent) = admin_call(&app, &admin, Method::POST, path, Some(json!({ "to": "ops@example.com" }))).await;
    assert_eq!((status, sent["sent"].clone(), sent["source"].clone()), (200, json!(true), json!("console")), "{sent}");
    let mail = wait_for(&sink, "ops@example.com", 1).await.remove(0);
    assert_eq!(mail.header("Subject").as_deref(), Some("Test email from botbuilder"));

    // Queued email takes the same server and the console's public URL.
    let invited = invite(&app, &owner, owner.org_id, "grace@example.com").await;
    assert_eq!(invited["emailed"], true);
    assert!(
        invited["accept_url"].as_str().is_some_and(|u| u.starts_with("https://bots.example.com/invitations/accept"))
    );
    app.run_jobs().await;
    let mail = wait_for(&sink, "grace@example.com", 1).await.remove(0);
    assert!(mail.text().contains("https://bots.example.com/invitations/accept?token="), "{}", mail.text());

    // A server that does not answer: the error text comes back.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead_port = closed.local_addr().expect("addr").port();
    drop(closed);
    admin_call(
        &app,
        &admin,
        Method::PUT,
        "/api/v1/admin/settings",
        Some(json!({ "smtp": { "host": "127.0.0.1", "port": dead_port, "tls": "none", "from": "bots@example.com" } })),
    )
    .await;
    let r = admin_send(&app, &admin, Method::POST, path, Some(json!({ "to": "ops@example.com" }))).await;
    let err = assert_error(r, 502, "email_delivery_failed").await;
    assert!(err["error"]["details"]["smtp_error"].as_str().is_some_and(|e| !e.is_empty()), "{err}");
    assert_eq!(app.count("SELECT count(*) FROM admin_audit_log WHERE action = 'admin.settings.test_email'"), 2);
}

#[tokio::test]
async fn instance_settings_are_for_superadmins_only() {
    let app = spawn_app().await;
    app.register("founder@example.com").await;
    let user = app.register("user@example.com").await;
    // Without a console session (anonymous, or a tenant session even with
    // its CSRF token) the console answers 401; a non-superadmin cannot get
    // a console session at all.
    assert_error(app.get("/api/v1/admin/settings").await, 401, "unauthenticated").await;
    let (status, body) =
        app.call(&user, Method::PUT, "/api/v1/admin/settings", Some(json!({ "signup_policy": "closed" }))).await;
    assert_eq!((status, body["error"]["code"].clone()), (401, json!("unauthenticated")));
    let r =
        app.post_json("/api/v1/admin/auth/login", &json!({ "email": "user@example.com", "password": PASSWORD })).await;
    assert_error(r, 401, "invalid_credentials").await;
    // A console session with another's cookie but no CSRF token: 403.
    let admin = console(&app, "founder@example.com").await;
    let r = app
        .request(Method::PUT, "/api/v1/admin/settings")
        .header("Cookie", &admin.cookie)
        .json(&json!({ "signup_policy": "closed" }))
        .send()
        .await
        .expect("send");
    assert_error(r, 403, "csrf_failed").await;
    assert_eq!(instance(&app).await["signup_policy"], "open");
}

#[tokio::test]
async fn without_smtp_no_email_path_claims_an_email_was_sent() {
    let app = spawn_app().await;
    let user = app.register("founder@example.com").await;
    // A password reset cannot be emailed: said plainly, for any address.
    for email in ["founder@example.com", "ghost@example.com"] {
        let r = app.post_json("/api/v1/auth/password-reset/request", &json!({ "email": email })).await;
        assert_error(r, 409, "smtp_not_configured").await;
    }
    // Nor can a new confirmation link.
    app.sql(|c| c.execute("UPDATE users SET email_verified = 0, email_verified_at = NULL", []));
    let (status, body) = app.call(&user, Method::POST, "/api/v1/auth/verify-email/resend", None).await;
    assert_eq!((status, body["error"]["code"].clone()), (409, json!("smtp_not_configured")), "{body}");
    assert_eq!(app.count("SELECT count(*) FROM email_notifications"), 0);
    assert_eq!(app.count("SELECT count(*) FROM password_reset_tokens"), 0);
}

//! Accounts beyond sign-up: email verification and password reset through
//! the real email queue and a local SMTP sink, profile, password change,
//! sessions, two-factor authentication and the abuse limits.

use reqwest::Method;
use serde_json::{Value, json};
use totp_rs::{Algorithm, Secret, TOTP};

use crate::helpers::{PASSWORD, Session, TestApp, assert_error, session_from, spawn_app, spawn_app_with};
use crate::smtp::{SmtpSink, wait_for};

async fn app_with_mail() -> (TestApp, SmtpSink) {
    let sink = SmtpSink::start().await;
    let config = sink.config();
    let app = spawn_app_with(move |c| c.smtp = config).await;
    (app, sink)
}

async fn json_of(r: reqwest::Response) -> Value {
    r.json().await.expect("json")
}

async fn sign_up(app: &TestApp, email: &str, password: &str, name: &str) -> reqwest::Response {
    app.post_json("/api/v1/auth/register", &json!({ "email": email, "password": password, "name": name })).await
}

#[tokio::test]
async fn sign_up_sends_a_verification_email_whose_link_verifies_once_and_signs_in() {
    let (app, sink) = app_with_mail().await;
    let r = sign_up(&app, "verify@example.com", PASSWORD, "Vera").await;
    assert_eq!(r.status(), 202);
    // The email is queued in the same transaction as the account.
    assert_eq!(
        app.count("SELECT count(*) FROM email_notifications WHERE email_type = 'verify_email' AND status = 'pending'"),
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM jobs WHERE kind = 'email.send' AND status = 'queued'"), 1);
    app.run_jobs().await;
    let mail = wait_for(&sink, "verify@example.com", 1).await.remove(0);
    assert!(mail.header("Subject").expect("subject").contains("Confirm your email"));
    assert!(mail.header("From").expect("from").contains("no-reply@botbuilder.test"));
    assert_eq!(mail.from, "no-reply@botbuilder.test", "envelope sender");
    assert!(mail.html().contains("Confirm email address"), "{}", mail.html());
    assert_eq!(app.count("SELECT count(*) FROM email_notifications WHERE status = 'sent' AND sent_at IS NOT NULL"), 1);
    let token = mail.token("/verify-email");
    // Only the hash is stored.
    let plain: i64 = app.sql(|c| {
        c.query_row("SELECT count(*) FROM password_reset_tokens WHERE token_hash = ?1", [token.as_bytes()], |r| {
            r.get(0)
        })
    });
    assert_eq!(plain, 0);

    let r = app.post_json("/api/v1/auth/verify-email", &json!({ "token": token })).await;
    assert_eq!(r.status(), 200);
    let s = session_from(r).await;
    let me = json_of(app.as_user(&s, Method::GET, "/api/v1/me").send().await.expect("send")).await;
    assert_eq!(me["user"]["email_verified"], true);
    // Reused and forged tokens.
    let r = app.post_json("/api/v1/auth/verify-email", &json!({ "token": token })).await;
    assert_eq!(assert_error(r, 400, "token_invalid").await["error"]["details"]["field"], "token");
    let r = app.post_json("/api/v1/auth/verify-email", &json!({ "token": "forged" })).await;
    assert_error(r, 400, "token_invalid").await;
    // Already verified: resending is refused and sends nothing.
    let r = app.as_user(&s, Method::POST, "/api/v1/auth/verify-email/resend").send().await.expect("send");
    assert_error(r, 409, "conflict").await;
    assert_eq!(app.count("SELECT count(*) FROM email_notifications"), 1);
    // Confirmed, the password signs in.
    app.login("verify@example.com", PASSWORD).await;
}

#[tokio::test]
async fn an_expired_verification_link_is_refused_and_signing_in_sends_a_new_one() {
    let (app, sink) = app_with_mail().await;
    assert_eq!(sign_up(&app, "late@example.com", PASSWORD, "Late").await.status(), 202);
    app.run_jobs().await;
    let first = wait_for(&sink, "late@example.com", 1).await.remove(0).token("/verify-email");
    app.sql(|c| c.execute("UPDATE password_reset_tokens SET expires_at = '2000-01-01T00:00:00.000Z'", []));
    let r = app.post_json("/api/v1/auth/verify-email", &json!({ "token": first })).await;
    assert_error(r, 410, "token_expired").await;
    assert_eq!(app.count("SELECT email_verified FROM users"), 0);

    // The right password of an unconfirmed account is answered like a wrong
    // one (nothing tells a sign-up's author whether the address was free),
    // and the address gets a fresh link.
    let r = app.post_json("/api/v1/auth/login", &json!({ "email": "late@example.com", "password": PASSWORD })).await;
    let unconfirmed = assert_error(r, 401, "invalid_credentials").await;
    let r = app
        .post_json("/api/v1/auth/login", &json!({ "email": "late@example.com", "password": "not it at all 9" }))
        .await;
    assert_eq!(assert_error(r, 401, "invalid_credentials").await, unconfirmed);
    app.run_jobs().await;
    let second = wait_for(&sink, "late@example.com", 2).await.remove(1).token("/verify-email");
    assert_ne!(first, second);
    let r = app.post_json("/api/v1/auth/verify-email", &json!({ "token": second })).await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.count("SELECT email_verified FROM users"), 1);
}

#[tokio::test]
async fn a_signed_in_unconfirmed_account_can_ask_for_a_new_link() {
    // Accounts made before sign-up needed the link were signed in at once
    // and may still be unconfirmed: they keep signing in and can resend.
    let (app, sink) = app_with_mail().await;
    let s = app.register("old@example.com").await;
    app.sql(|c| c.execute("UPDATE users SET email_verified = 0, email_verified_at = NULL", []));
    app.login("old@example.com", PASSWORD).await;
    let r = app.as_user(&s, Method::POST, "/api/v1/auth/verify-email/resend").send().await.expect("send");
    assert_eq!(r.status(), 202);
    app.run_jobs().await;
    wait_for(&sink, "old@example.com", 2).await;
    let token = app.emailed_token("old@example.com", "verify_email");
    let r = app.post_json("/api/v1/auth/verify-email", &json!({ "token": token })).await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.count("SELECT email_verified FROM users"), 1);
}

#[tokio::test]
async fn sign_up_answers_the_same_for_a_taken_address_and_emails_its_owner() {
    let (app, sink) = app_with_mail().await;
    app.register("owner@example.com").await;
    app.run_jobs().await;
    wait_for(&sink, "owner@example.com", 1).await;

    let taken = sign_up(&app, "Owner@Example.com", "someone else's 9 pass", "Mallory").await;
    let free = sign_up(&app, "free@example.com", "someone else's 9 pass", "Mallory").await;
    assert_eq!((taken.status().as_u16(), free.status().as_u16()), (202, 202));
    assert!(taken.headers().get("set-cookie").is_none() && free.headers().get("set-cookie").is_none());
    assert_eq!(json_of(taken).await, json_of(free).await);

    // Signing in afterwards tells nothing either: the new account waits for
    // its link, the taken one has another password.
    let attempt = json!({ "email": "owner@example.com", "password": "someone else's 9 pass" });
    let a = assert_error(app.post_json("/api/v1/auth/login", &attempt).await, 401, "invalid_credentials").await;
    let attempt = json!({ "email": "free@example.com", "password": "someone else's 9 pass" });
    let b = assert_error(app.post_json("/api/v1/auth/login", &attempt).await, 401, "invalid_credentials").await;
    assert_eq!(a, b);

    // Nothing was created for the taken address; its owner is told.
    assert_eq!(app.count("SELECT count(*) FROM users WHERE email = 'owner@example.com'"), 1);
    assert_eq!(app.count("SELECT count(*) FROM users WHERE name = 'Mallory'"), 1);
    assert_eq!(app.count("SELECT count(*) FROM audit_logs WHERE action = 'user.register.duplicate'"), 1);
    app.run_jobs().await;
    let mails = wait_for(&sink, "owner@example.com", 2).await;
    let mail = mails.iter().find(|m| m.link("/forgot-password").is_some()).expect("sign-up attempt mail");
    assert!(mail.header("Subject").expect("subject").contains("tried to sign up"), "{:?}", mail.header("Subject"));
    assert!(mail.html().contains("/forgot-password") && mail.html().contains("/login"), "{}", mail.html());
}

#[tokio::test]
async fn every_way_of_setting_a_password_refuses_a_guessable_one_with_feedback() {
    let (app, sink) = app_with_mail().await;
    // Sign-up: long enough, but a well-known pattern; the name counts too.
    for (password, name) in [("Password2024!", "Ada"), ("lovelace1815", "Ada Lovelace")] {
        let r = sign_up(&app, "ada@example.com", password, name).await;
        let body = assert_error(r, 422, "weak_password").await;
        let details = &body["error"]["details"];
        assert_eq!(details["field"], "password", "{body}");
        assert!(details["score"].as_u64().expect("score") < 3, "{body}");
        assert!(details["suggestions"].as_array().is_some_and(|s| !s.is_empty()), "{body}");
    }
    assert_eq!(app.count("SELECT count(*) FROM users"), 0);

    // Change.
    let s = app.register("ada@example.com").await;
    let r = app
        .as_user(&s, Method::POST, "/api/v1/me/password")
        .json(&json!({ "current_password": PASSWORD, "new_password": "qwertyuiop123" }))
        .send()
        .await
        .expect("send");
    assert_eq!(assert_error(r, 422, "weak_password").await["error"]["details"]["field"], "new_password");

    // Reset.
    let r = app.post_json("/api/v1/auth/password-reset/request", &json!({ "email": "ada@example.com" })).await;
    assert_eq!(r.status(), 202);
    app.run_jobs().await;
    let mails = wait_for(&sink, "ada@example.com", 2).await;
    let token =
        mails.iter().find(|m| m.link("/reset-password").is_some()).expect("reset mail").token("/reset-password");
    let r = app.post_json("/api/v1/auth/password-reset", &json!({ "token": token, "password": "iloveyou2024" })).await;
    assert_eq!(assert_error(r, 422, "weak_password").await["error"]["details"]["field"], "password");
    app.login("ada@example.com", PASSWORD).await;
}

#[tokio::test]
async fn password_reset_by_email_works_once_and_unknown_emails_look_the_same() {
    let (app, sink) = app_with_mail().await;
    let s = app.register("reset@example.com").await;
    app.run_jobs().await;
    let known = app.post_json("/api/v1/auth/password-reset/request", &json!({ "email": "RESET@example.com" })).await;
    let unknown = app.post_json("/api/v1/auth/password-reset/request", &json!({ "email": "ghost@example.com" })).await;
    assert_eq!(known.status(), 202);
    assert_eq!(unknown.status(), 202);
    assert_eq!(json_of(known).await, json_of(unknown).await, "the answer must not tell whether the account exists");
    app.run_jobs().await;
    assert!(sink.to("ghost@example.com").is_empty());
    let mail = wait_for(&sink, "reset@example.com", 2).await.remove(1);
    assert!(mail.header("Subject").expect("subject").contains("Reset your"));
    let token = mail.token("/reset-password");

    // A weak new password is refused and uses nothing up.
    let r = app.post_json("/api/v1/auth/password-reset", &json!({ "token": token, "password": "short" })).await;
    assert_eq!(assert_error(r, 422, "validation_failed").await["error"]["details"]["field"], "password");
    assert_eq!(
        app.count("SELECT count(*) FROM password_reset_tokens WHERE purpose = 'password_reset' AND used_at IS NULL"),
        1
    );

    let r = app
        .post_json("/api/v1/auth/password-reset", &json!({ "token": token, "password": "a brand new secret 7" }))
        .await;
    assert_eq!(r.status(), 204);
    // Every session ended, the old password is gone, the new one works.
    let r = app.as_user(&s, Method::GET, "/api/v1/me").send().await.expect("send");
    assert_error(r, 401, "unauthenticated").await;
    let r = app
        .post_json("/api/v1/auth/login", &json!({ "email": "reset@example.com", "password": "correct horse 42" }))
        .await;
    assert_error(r, 401, "invalid_credentials").await;
    app.login("reset@example.com", "a brand new secret 7").await;
    // The link works once.
    let r =
        app.post_json("/api/v1/auth/password-reset", &json!({ "token": token, "password": "yet another one 8" })).await;
    assert_error(r, 400, "token_invalid").await;
    // A security notice went out.
    app.run_jobs().await;
    let notices = sink.to("reset@example.com");
    assert!(notices.iter().any(|m| m.header("Subject").is_some_and(|s| s.contains("Security notice"))));
    let actions: Vec<String> =
        app.sql(|c| c.prepare("SELECT action FROM audit_logs ORDER BY id")?.query_map([], |r| r.get(0))?.collect());
    assert!(actions.contains(&"user.password.reset".to_owned()), "{actions:?}");
}

#[tokio::test]
async fn an_expired_reset_link_is_refused() {
    let (app, sink) = app_with_mail().await;
    app.register("old@example.com").await;
    app.post_json("/api/v1/auth/password-reset/request", &json!({ "email": "old@example.com" })).await;
    app.run_jobs().await;
    let token = wait_for(&sink, "old@example.com", 2)
        .await
        .into_iter()
        .find_map(|m| m.link("/reset-password").map(|_| m))
        .expect("reset mail")
        .token("/reset-password");
    app.sql(|c| {
        c.execute(
            "UPDATE password_reset_tokens SET expires_at = '2000-01-01T00:00:00.000Z' WHERE purpose = 'password_reset'",
            [],
        )
    });
    let hash_before: String = app.sql(|c| c.query_row("SELECT password_hash FROM users", [], |r| r.get(0)));
    let r = app
        .post_json("/api/v1/auth/password-reset", &json!({ "token": token, "password": "a brand new secret 7" }))
        .await;
    assert_error(r, 410, "token_expired").await;
    let hash_after: String = app.sql(|c| c.query_row("SELECT password_hash FROM users", [], |r| r.get(0)));
    assert_eq!(hash_before, hash_after);
}

#[tokio::test]
async fn profile_password_change_and_sessions() {
    let app = spawn_app().await;
    let first = app.register("me@example.com").await;
    let second = app.login("me@example.com", "correct horse 42").await;

    let r = app
        .as_user(&first, Method::PATCH, "/api/v1/me")
        .json(&json!({ "name": "  Ada L.  " }))
        .send()
        .await
        .expect("send");
    assert_eq!(json_of(r).await["name"], "Ada L.");
    let r = app.as_user(&first, Method::PATCH, "/api/v1/me").json(&json!({ "name": "" })).send().await.expect("send");
    assert_eq!(assert_error(r, 422, "validation_failed").await["error"]["details"]["field"], "name");

    let list = json_of(app.as_user(&first, Method::GET, "/api/v1/me/sessions").send().await.expect("send")).await;
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    assert_eq!(items.iter().filter(|s| s["current"] == true).count(), 1);
    let other = items.iter().find(|s| s["current"] == false).expect("other")["id"].as_i64().expect("id");

    // Another user cannot end my session.
    let stranger = app.register("stranger@example.com").await;
    let r = app.as_user(&stranger, Method::DELETE, &format!("/api/v1/me/sessions/{other}")).send().await.expect("send");
    assert_error(r, 404, "session_not_found").await;
    let r = app.as_user(&first, Method::DELETE, &format!("/api/v1/me/sessions/{other}")).send().await.expect("send");
    assert_eq!(r.status(), 204);
    let r = app.as_user(&second, Method::GET, "/api/v1/me").send().await.expect("send");
    assert_error(r, 401, "unauthenticated").await;

    // Password change: the current one must be right; other sessions end.
    let third = app.login("me@example.com", "correct horse 42").await;
    let r = app
        .as_user(&first, Method::POST, "/api/v1/me/password")
        .json(&json!({ "current_password": "wrong one 123", "new_password": "another quiet horse 43" }))
        .send()
        .await
        .expect("send");
    assert_eq!(assert_error(r, 422, "validation_failed").await["error"]["details"]["field"], "current_password");
    let r = app
        .as_user(&first, Method::POST, "/api/v1/me/password")
        .json(&json!({ "current_password": "correct horse 42", "new_password": "weak" }))
        .send()
        .await
        .expect("send");
    assert_eq!(assert_error(r, 422, "validation_failed").await["error"]["details"]["field"], "new_password");
    let r = app
        .as_user(&first, Method::POST, "/api/v1/me/password")
        .json(&json!({ "current_password": "correct horse 42", "new_password": "password1234" }))
        .send()
        .await
        .expect("send");
    assert_eq!(assert_error(r, 422, "weak_password").await["error"]["details"]["field"], "new_password");
    let r = app
        .as_user(&first, Method::POST, "/api/v1/me/password")
        .json(&json!({ "current_password": "correct horse 42", "new_password": "another quiet horse 43" }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 204);
    assert_eq!(app.as_user(&first, Method::GET, "/api/v1/me").send().await.expect("send").status(), 200);
    let r = app.as_user(&third, Method::GET, "/api/v1/me").send().await.expect("send");
    assert_error(r, 401, "unauthenticated").await;
    app.login("me@example.com", "another quiet horse 43").await;

    // Sign out of every other session.
    let r = app.as_user(&first, Method::DELETE, "/api/v1/me/sessions").send().await.expect("send");
    assert_eq!(json_of(r).await["revoked"], 1);
}

fn totp_for(secret: &str) -> TOTP {
    let bytes = Secret::Encoded(secret.to_owned()).to_bytes().expect("base32");
    TOTP::new(Algorithm::SHA1, 6, 1, 30, bytes, Some("botbuilder".into()), "x@example.com".into()).expect("totp")
}

/// The code of the current 30-second step plus `offset` steps.
fn code(totp: &TOTP, offset: i64) -> String {
    let now = chrono::Utc::now().timestamp() + offset * 30;
    totp.generate(u64::try_from(now).expect("time"))
}

async fn setup_two_factor(app: &TestApp, s: &Session) -> (TOTP, Vec<String>) {
    let r = app.as_user(s, Method::POST, "/api/v1/me/2fa/setup").send().await.expect("send");
    let setup = json_of(r).await;
    let uri = setup["otpauth_uri"].as_str().expect("uri");
    assert!(uri.starts_with("otpauth://totp/botbuilder:"), "{uri}");
    assert!(setup["qr_svg"].as_str().expect("svg").contains("<svg"));
    let totp = totp_for(setup["secret"].as_str().expect("secret"));
    // The secret is stored encrypted, not in base32 or raw.
    let stored: Vec<u8> =
        app.sql(|c| c.query_row("SELECT totp_secret_encrypted FROM users WHERE id = ?1", [s.user_id], |r| r.get(0)));
    assert!(stored.len() >= 20 + 24 + 16);
    assert!(!stored.windows(20).any(|w| w == totp.secret.as_slice()));
    // A wrong code does not enable it.
    let r = app
        .as_user(s, Method::POST, "/api/v1/me/2fa/enable")
        .json(&json!({ "code": "000000" }))
        .send()
        .await
        .expect("send");
    assert_error(r, 401, "invalid_two_factor_code").await;
    assert_eq!(app.count(&format!("SELECT two_factor_enabled FROM users WHERE id = {}", s.user_id)), 0);
    let r = app
        .as_user(s, Method::POST, "/api/v1/me/2fa/enable")
        .json(&json!({ "code": code(&totp, 0) }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let codes: Vec<String> = json_of(r).await["backup_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("c").to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    (totp, codes)
}

#[tokio::test]
async fn two_factor_login_needs_the_code_and_refuses_replays() {
    let app = spawn_app().await;
    let s = app.register("tfa@example.com").await;
    let (totp, backup) = setup_two_factor(&app, &s).await;
    assert_eq!(app.count("SELECT count(*) FROM two_factor_backup_codes WHERE used_at IS NULL"), 10);
    let status = json_of(app.as_user(&s, Method::GET, "/api/v1/me/2fa").send().await.expect("send")).await;
    assert_eq!((status["enabled"].clone(), status["backup_codes_remaining"].clone()), (json!(true), json!(10)));

    let login = |body: Value| {
        let app = &app;
        async move { app.post_json("/api/v1/auth/login", &body).await }
    };
    // A wrong password never reveals that 2FA is on.
    let r = login(json!({ "email": "tfa@example.com", "password": "wrong horse 1" })).await;
    assert_error(r, 401, "invalid_credentials").await;
    let r = login(json!({ "email": "tfa@example.com", "password": "correct horse 42" })).await;
    assert_eq!(assert_error(r, 401, "two_factor_required").await["error"]["details"]["field"], "totp_code");
    let sessions_before = app.count("SELECT count(*) FROM user_sessions");
    let r = login(json!({ "email": "tfa@example.com", "password": "correct horse 42", "totp_code": "123456" })).await;
    assert_error(r, 401, "invalid_two_factor_code").await;
    // The code used to enable cannot sign in again (same step).
    let r =
        login(json!({ "email": "tfa@example.com", "password": "correct horse 42", "totp_code": code(&totp, 0) })).await;
    assert_error(r, 401, "invalid_two_factor_code").await;
    assert_eq!(app.count("SELECT count(*) FROM user_sessions"), sessions_before);
    // The next step's code works (one step of clock drift is allowed) — once.
    let next = code(&totp, 1);
    let r = login(json!({ "email": "tfa@example.com", "password": "correct horse 42", "totp_code": next })).await;
    assert_eq!(r.status(), 200);
    let r = login(json!({ "email": "tfa@example.com", "password": "correct horse 42", "totp_code": next })).await;
    assert_error(r, 401, "invalid_two_factor_code").await;
    // A backup code works once, typed in any case.
    let r = login(
        json!({ "email": "tfa@example.com", "password": "correct horse 42", "totp_code": backup[0].to_uppercase() }),
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = login(json!({ "email": "tfa@example.com", "password": "correct horse 42", "totp_code": backup[0] })).await;
    assert_error(r, 401, "invalid_two_factor_code").await;
    assert_eq!(app.count("SELECT count(*) FROM two_factor_backup_codes WHERE used_at IS NULL"), 9);
    let failed = app.count(
        "SELECT count(*) FROM audit_logs WHERE action = 'user.login.failed' AND metadata LIKE '%bad_second_factor%'",
    );
    assert_eq!(failed, 4);

    // Regenerating needs an authenticator code (not a backup code) and replaces all codes.
    let r = app
        .as_user(&s, Method::POST, "/api/v1/me/2fa/backup-codes")
        .json(&json!({ "code": backup[1] }))
        .send()
        .await
        .expect("send");
    assert_error(r, 401, "invalid_two_factor_code").await;
    let r = app
        .as_user(&s, Method::POST, "/api/v1/me/2fa/backup-codes")
        .json(&json!({ "code": code(&totp, -1) }))
        .send()
        .await
        .expect("send");
    // The step before the last accepted one is refused too.
    assert_error(r, 401, "invalid_two_factor_code").await;

    // Disabling needs the password and a code; a backup code will do.
    let r = app
        .as_user(&s, Method::POST, "/api/v1/me/2fa/disable")
        .json(&json!({ "password": "nope nope 12", "code": backup[1] }))
        .send()
        .await
        .expect("send");
    assert_eq!(assert_error(r, 422, "validation_failed").await["error"]["details"]["field"], "password");
    let r = app
        .as_user(&s, Method::POST, "/api/v1/me/2fa/disable")
        .json(&json!({ "password": "correct horse 42", "code": backup[1] }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 204);
    assert_eq!(app.count("SELECT count(*) FROM two_factor_backup_codes"), 0);
    assert_eq!(app.count("SELECT count(*) FROM users WHERE totp_secret_encrypted IS NOT NULL"), 0);
    app.login("tfa@example.com", "correct horse 42").await;
}

#[tokio::test]
async fn backup_codes_can_be_regenerated_with_a_fresh_code() {
    let app = spawn_app().await;
    let s = app.register("regen@example.com").await;
    let (totp, old) = setup_two_factor(&app, &s).await;
    let r = app
        .as_user(&s, Method::POST, "/api/v1/me/2fa/backup-codes")
        .json(&json!({ "code": code(&totp, 1) }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let new: Vec<String> = json_of(r).await["backup_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("c").to_owned())
        .collect();
    assert_eq!(new.len(), 10);
    assert!(old.iter().all(|c| !new.contains(c)));
    let r = app
        .post_json(
            "/api/v1/auth/login",
            &json!({ "email": "regen@example.com", "password": "correct horse 42", "totp_code": old[0] }),
        )
        .await;
    assert_error(r, 401, "invalid_two_factor_code").await;
    let r = app
        .post_json(
            "/api/v1/auth/login",
            &json!({ "email": "regen@example.com", "password": "correct horse 42", "totp_code": new[0] }),
        )
        .await;
    assert_eq!(r.status(), 200);
    // Setup again while on is refused.
    let r = app.as_user(&s, Method::POST, "/api/v1/me/2fa/setup").send().await.expect("send");
    assert_error(r, 409, "two_factor_already_enabled").await;
}

#[tokio::test]
async fn login_and_reset_are_rate_limited_per_account_and_per_ip() {
    // Reset links need a mail server (without one the request is refused).
    let sink = SmtpSink::start().await;
    let smtp = sink.config();
    let app = spawn_app_with(move |c| {
        c.smtp = smtp;
        c.rate_limits.login.per_account = 3;
        c.rate_limits.login.per_ip = 5;
        c.rate_limits.login.window_secs = 600;
        c.rate_limits.reset.per_account = 1;
        c.rate_limits.reset.per_ip = 100;
        c.rate_limits.register.per_ip = 100;
    })
    .await;
    app.register("limited@example.com").await;
    for _ in 0..3 {
        let r = app
            .post_json("/api/v1/auth/login", &json!({ "email": "limited@example.com", "password": "wrong wrong 1" }))
            .await;
        assert_eq!(r.status(), 401);
    }
    let r = app
        .post_json("/api/v1/auth/login", &json!({ "email": "Limited@example.com", "password": "correct horse 42" }))
        .await;
    let retry: u64 = r.headers()["retry-after"].to_str().expect("header").parse().expect("seconds");
    assert!((1..=600).contains(&retry), "{retry}");
    assert_eq!(assert_error(r, 429, "rate_limited").await["error"]["details"]["scope"], "account");
    // Another account from the same address: four attempts counted against
    // the IP (the refused one too), so its allowance of 5 has one left.
    let r = app.post_json("/api/v1/auth/login", &json!({ "email": "other@example.com", "password": "x" })).await;
    assert_eq!(r.status(), 401);
    let r = app.post_json("/api/v1/auth/login", &json!({ "email": "third@example.com", "password": "x" })).await;
    assert_eq!(assert_error(r, 429, "rate_limited").await["error"]["details"]["scope"], "ip");
    // Reset requests are limited per email, and the refusal looks the same for any email.
    let r = app.post_json("/api/v1/auth/password-reset/request", &json!({ "email": "limited@example.com" })).await;
    assert_eq!(r.status(), 202);
    let r = app.post_json("/api/v1/auth/password-reset/request", &json!({ "email": "limited@example.com" })).await;
    assert_error(r, 429, "rate_limited").await;
    assert_eq!(app.count("SELECT count(*) FROM password_reset_tokens WHERE purpose = 'password_reset'"), 1);
}

#[tokio::test]
async fn suspended_users_cannot_sign_in_and_their_sessions_and_tokens_stop() {
    let app = spawn_app().await;
    let s = app.register("sus@example.com").await;
    let token = json_of(
        app.as_user(&s, Method::POST, &format!("/api/v1/orgs/{}/api-tokens", s.org_id))
            .json(&json!({ "name": "t", "scopes": ["bots.read"] }))
            .send()
            .await
            .expect("send"),
    )
    .await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    app.sql(|c| c.execute("UPDATE users SET suspended_at = '2026-01-01T00:00:00.000Z'", []));
    let r = app.as_user(&s, Method::GET, "/api/v1/me").send().await.expect("send");
    assert_error(r, 403, "account_suspended").await;
    let r = app.as_token(&token, Method::GET, &format!("/api/v1/orgs/{}/bots", s.org_id)).send().await.expect("send");
    assert_error(r, 403, "account_suspended").await;
    let r = app
        .post_json("/api/v1/auth/login", &json!({ "email": "sus@example.com", "password": "correct horse 42" }))
        .await;
    assert_error(r, 403, "account_suspended").await;
    // A wrong password still says nothing about the suspension.
    let r =
        app.post_json("/api/v1/auth/login", &json!({ "email": "sus@example.com", "password": "wrong wrong 1" })).await;
    assert_error(r, 401, "invalid_credentials").await;
}

#[tokio::test]
async fn without_smtp_sign_up_opens_the_account_at_once() {
    // A laptop or a first run has no mail server: a confirmation link could
    // never arrive, so the new account is signed in straight away.
    let app = spawn_app().await;
    assert!(app.state.config.smtp.host.is_none());
    let r = sign_up(&app, "laptop@example.com", PASSWORD, "Lena").await;
    assert_eq!(r.status(), 201);
    assert!(r.headers().get("set-cookie").is_some(), "signed in");
    let me = json_of(r).await;
    assert_eq!(me["user"]["email"], "laptop@example.com");
    assert_eq!(app.count("SELECT count(*) FROM email_notifications"), 0, "nothing queued that could not leave");
    app.login("laptop@example.com", PASSWORD).await;
    // Nothing can tell the owner, so a taken address is said plainly.
    let r = sign_up(&app, "Laptop@Example.com", "another 9 passphrase", "Eve").await;
    assert_error(r, 409, "email_taken").await;
    assert_eq!(app.count("SELECT count(*) FROM users"), 1);
}

//! Emailed tokens: email verification (24 h) and password reset (1 h).
//! Tokens are random, stored only as SHA-256, single use, and replaced by a
//! newer one of the same purpose. A reset request for an unknown email is
//! answered exactly like one for a known email.

use serde_json::json;

use super::model::{Accepted, ResetPasswordRequest, ResetRequest, TokenRequest};
use super::service::{
    IssuedSession, check_password, hash_password, normalize_email, open_session, queue_security_notice,
};
use super::store::{self, TokenPurpose};
use crate::app::AppState;
use crate::crypto::{random_token, sha256};
use crate::db::{format_timestamp, now, run_blocking};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::ClientInfo;
use crate::http::ratelimit::Bucket;
use crate::ids::UserId;
use crate::notify::{self, Branding, EmailKind, NewEmail};
use crate::orgs::audit::{self, AuditEntry};

const VERIFICATION_HOURS: i64 = 24;
const RESET_HOURS: i64 = 1;

/// The one answer to a reset request, whether or not the account exists.
pub const RESET_REQUESTED: &str = "If an account exists for this email, we sent it a link to reset the password.";

fn expiry(hours: i64) -> String {
    format_timestamp(chrono::Utc::now() + chrono::Duration::hours(hours))
}

/// Creates a verification token and queues its email inside the caller's
/// transaction (older unused verification tokens stop working).
pub fn queue_verification(
    tx: &rusqlite::Connection,
    user: UserId,
    email: &str,
    name: &str,
    public_url: &str,
) -> AppResult<()> {
    let token = random_token(32);
    store::invalidate_email_tokens(tx, user, TokenPurpose::EmailVerification, &now())?;
    store::insert_email_token(
        tx,
        user,
        TokenPurpose::EmailVerification,
        &sha256(token.as_bytes()),
        &expiry(VERIFICATION_HOURS),
    )?;
    let link = format!("{public_url}/verify-email?token={token}");
    let content = notify::templates::verify_email(&Branding::default(), name, &link);
    notify::queue_in(
        tx,
        &NewEmail { org_id: None, user_id: Some(user), kind: EmailKind::VerifyEmail, to: email, content },
    )?;
    Ok(())
}

/// Refuses to promise an email this server cannot send.
fn require_smtp(instance: &crate::admin::instance::Snapshot) -> AppResult<()> {
    if instance.smtp_configured {
        return Ok(());
    }
    Err(AppError::new(
        ErrorCode::SmtpNotConfigured,
        "this server cannot send email (no SMTP server is configured); ask its administrator to set one up in the admin console",
    ))
}

/// Sends a new verification email to the signed-in user.
pub async fn resend_verification(state: &AppState, user: UserId, client: ClientInfo) -> AppResult<Accepted> {
    state.limits.check(Bucket::Reset, client.ip.as_deref(), Some(&format!("user:{}", user.0)))?;
    let instance = crate::admin::instance::snapshot(state).await?;
    require_smtp(&instance)?;
    let public_url = instance.public_url;
    state
        .db
        .write(move |tx| {
            let u =
                store::find_user(tx, user)?.ok_or_else(|| AppError::new(ErrorCode::UserNotFound, "no such user"))?;
            if u.email_verified {
                return Err(AppError::new(ErrorCode::Conflict, "this email address is already verified"));
            }
            queue_verification(tx, user, &u.email, &u.name, &public_url)?;
            audit::record(tx, &AuditEntry::by_user(user, "user.email_verification.sent", "user", user.0).from(&client))
        })
        .await?;
    state.jobs.notify();
    Ok(Accepted { message: "We sent a new confirmation link to your email address." })
}

/// Looks an emailed token up: unknown or used → `token_invalid`, expired →
/// `token_expired`.
fn check_token(conn: &rusqlite::Connection, raw: &str, purpose: TokenPurpose) -> AppResult<store::EmailTokenRow> {
    let invalid = || {
        AppError::new(ErrorCode::TokenInvalid, "this link is invalid or was already used")
            .with_details(json!({ "field": "token" }))
    };
    if raw.is_empty() || raw.len() > 200 {
        return Err(invalid());
    }
    let row = store::find_email_token(conn, &sha256(raw.as_bytes()), purpose)?.ok_or_else(invalid)?;
    if row.used {
        return Err(invalid());
    }
    if row.expires_at <= now() {
        return Err(AppError::new(ErrorCode::TokenExpired, "this link has expired; ask for a new one")
            .with_details(json!({ "field": "token" })));
    }
    Ok(row)
}

/// Confirms an email address with the emailed token, which finishes a
/// sign-up: the user is signed in (a new session is returned) unless the
/// account has two-factor authentication or is suspended, then they sign in
/// with their password as usual.
pub async fn verify_email(
    state: &AppState,
    req: TokenRequest,
    client: ClientInfo,
) -> AppResult<Option<(UserId, IssuedSession)>> {
    state.limits.check(Bucket::Token, client.ip.as_deref(), None)?;
    state
        .db
        .write(move |tx| {
            let row = check_token(tx, req.token.trim(), TokenPurpose::EmailVerification)?;
            let n = now();
            store::use_email_token(tx, row.id, &n)?;
            store::mark_email_verified(tx, row.user_id, &n)?;
            audit::record(
                tx,
                &AuditEntry::by_user(row.user_id, "user.email_verified", "user", row.user_id.0).from(&client),
            )?;
            let login = store::find_login(tx, &row.email)?;
            if login.is_none_or(|l| l.two_factor_enabled || l.suspended) {
                return Ok(None);
            }
            audit::record(
                tx,
                &AuditEntry::by_user(row.user_id, "user.login", "user", row.user_id.0)
                    .with_metadata(json!({ "second_factor": "none", "via": "email_verification" }))
                    .from(&client),
            )?;
            store::set_last_login(tx, row.user_id, &n)?;
            Ok(Some((row.user_id, open_session(tx, row.user_id, &client)?)))
        })
        .await
}

/// Emails a reset link when the account exists; answers the same either way.
pub async fn request_reset(state: &AppState, req: ResetRequest, client: ClientInfo) -> AppResult<Accepted> {
    let key = req.email.trim().to_lowercase();
    state.limits.check(Bucket::Reset, client.ip.as_deref(), Some(&key))?;
    let Ok(email) = normalize_email(&req.email) else {
        return Err(AppError::validation("email", "must be an email address like name@example.com"));
    };
    // A domain enforcing SSO has no password reset (issue 22).
    crate::sso::service::refuse_if_enforced(state, &email).await?;
    // Said whether or not the account exists: it is about the server.
    let instance = crate::admin::instance::snapshot(state).await?;
    require_smtp(&instance)?;
    let public_url = instance.public_url;
    let queued = state
        .db
        .write(move |tx| {
            let owner = store::find_by_email(tx, &email)?.filter(|o| !o.suspended);
            let Some(owner) = owner else {
                // Same transaction shape as the known case, so timing tells nothing.
                audit::record(
                    tx,
                    &AuditEntry::system("user.password_reset.requested", "user", None)
                        .with_metadata(json!({ "email": email, "account": false }))
                        .from(&client),
                )?;
                return Ok(false);
            };
            let token = random_token(32);
            store::invalidate_email_tokens(tx, owner.id, TokenPurpose::PasswordReset, &now())?;
            store::insert_email_token(
                tx,
                owner.id,
                TokenPurpose::PasswordReset,
                &sha256(token.as_bytes()),
                &expiry(RESET_HOURS),
            )?;
            let link = format!("{public_url}/reset-password?token={token}");
            let content = notify::templates::password_reset(&Branding::default(), &link);
            notify::queue_in(
                tx,
                &NewEmail {
                    org_id: None,
                    user_id: Some(owner.id),
                    kind: EmailKind::PasswordReset,
                    to: &email,
                    content,
                },
            )?;
            audit::record(
                tx,
                &AuditEntry::by_user(owner.id, "user.password_reset.requested", "user", owner.id.0)
                    .with_metadata(json!({ "email": email, "account": true }))
                    .from(&client),
            )?;
            Ok(true)
        })
        .await?;
    if queued {
        state.jobs.notify();
    }
    Ok(Accepted { message: RESET_REQUESTED })
}

/// Sets a new password with the emailed token: the token is used up, every
/// session of the user ends, and the address counts as verified.
pub async fn reset_password(state: &AppState, req: ResetPasswordRequest, client: ClientInfo) -> AppResult<()> {
    state.limits.check(Bucket::Token, client.ip.as_deref(), None)?;
    let token = req.token.trim().to_owned();
    let lookup = token.clone();
    let row = state.db.read(move |c| check_token(c, &lookup, TokenPurpose::PasswordReset)).await?;
    crate::sso::service::refuse_if_enforced(state, &row.email).await?;
    let name = state
        .db
        .read({
            let user = row.user_id;
            move |c| Ok(store::find_user(c, user)?.map(|u| u.name))
        })
        .await?;
    check_password(&req.password, "password", &row.email, name.as_deref())?;
    let password = req.password;
    let hash = run_blocking(move || hash_password(&password)).await?;
    let email = row.email.clone();
    state
        .db
        .write(move |tx| {
            // Checked again under the write lock: two concurrent uses, one wins.
            let row = check_token(tx, &token, TokenPurpose::PasswordReset)?;
            let n = now();
            store::use_email_token(tx, row.id, &n)?;
            store::set_password(tx, row.user_id, &hash)?;
            let ended = store::revoke_sessions(tx, row.user_id, None, &n)?;
            store::mark_email_verified(tx, row.user_id, &n)?;
            audit::record(
                tx,
                &AuditEntry::by_user(row.user_id, "user.password.reset", "user", row.user_id.0)
                    .with_metadata(json!({ "sessions_ended": ended }))
                    .from(&client),
            )?;
            queue_security_notice(
                tx,
                row.user_id,
                &email,
                "The password of your account was reset with an emailed link",
            )
        })
        .await?;
    state.jobs.notify();
    Ok(())
}

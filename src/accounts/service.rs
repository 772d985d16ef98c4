//! Account rules: authentication of sessions and API tokens, sign-up,
//! sign-in and sign-out.

use std::sync::LazyLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde_json::json;

use super::model::{
    Accepted, ChangePasswordRequest, Credential, LoginRequest, Me, Membership, Principal, RegisterRequest,
    RevokedCount, SessionInfo, UpdateProfileRequest, User, Via,
};
use super::{store, totp};
use crate::admin::instance::SignupPolicy;
use crate::app::AppState;
use crate::crypto::{random_token, sha256};
use crate::db::{format_timestamp, now, run_blocking};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::ratelimit::Bucket;
use crate::http::{ClientInfo, Page, PageParams};
use crate::ids::{SessionId, UserId};
use crate::notify::{self, EmailKind, NewEmail};
use crate::orgs;
use crate::orgs::audit::{self, AuditEntry};

/// How long a browser session lives without activity.
pub const SESSION_IDLE_DAYS: i64 = 14;
/// Activity is written at most this often per session or token.
const TOUCH_EVERY_SECS: i64 = 60;
/// API tokens start with this prefix so leaks are easy to scan for.
pub const API_TOKEN_PREFIX: &str = "bb_";

/// Argon2id memory cost in KiB (OWASP's recommendation: 19 MiB).
pub const ARGON2_M_KIB: u32 = 19 * 1024;
/// Argon2id passes.
pub const ARGON2_T: u32 = 2;
/// Argon2id lanes.
pub const ARGON2_P: u32 = 1;

/// Argon2id with OWASP's recommended cost (19 MiB, 2 passes, 1 lane).
fn argon2() -> Argon2<'static> {
    let params = Params::new(ARGON2_M_KIB, ARGON2_T, ARGON2_P, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password (CPU-heavy: call off the async executor).
pub fn hash_password(password: &str) -> AppResult<String> {
    let mut salt = [0_u8; 16];
    rand::fill(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| AppError::internal(anyhow::anyhow!("salt: {e}")))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::internal(anyhow::anyhow!("argon2: {e}")))
}

/// Checks a password against a stored hash (CPU-heavy).
#[must_use]
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
}

/// A hash of a random password, verified against when the email is unknown
/// so that a wrong email and a wrong password take the same time.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| hash_password(&random_token(16)).unwrap_or_default());

/// The hash verified against for unknown emails (see `DUMMY_HASH`).
#[must_use]
pub fn dummy_hash() -> String {
    DUMMY_HASH.clone()
}

/// Resolves a presented credential to a principal.
pub async fn authenticate(state: &AppState, credential: Credential) -> AppResult<Principal> {
    let now_s = now();
    let unauthenticated = |msg: &str| AppError::new(ErrorCode::Unauthenticated, msg);
    match credential {
        Credential::Session(token) => {
            let hash = sha256(token.as_bytes());
            let n = now_s.clone();
            let row = state.db.read(move |c| Ok(store::find_live_session(c, &hash, &n)?)).await?;
            let row = row.ok_or_else(|| unauthenticated("your session has expired; sign in again"))?;
            if row.user_suspended {
                return Err(AppError::new(ErrorCode::AccountSuspended, "this account is suspended"));
            }
            if stale(&row.last_seen_at, &now_s) {
                let expires = session_expiry();
                let id = row.session_id;
                background_write(state, move |tx| store::touch_session(tx, id, &now_s, &expires));
            }
            Ok(Principal {
                user_id: row.user_id,
                email: row.email,
                is_superadmin: row.is_superadmin,
                via: Via::Session { session_id: row.session_id },
            })
        }
        Credential::ApiToken(token) => {
            if !token.starts_with(API_TOKEN_PREFIX) {
                return Err(unauthenticated("malformed API token"));
            }
            let mac = state.keys.mac_token(&token);
            let n = now_s.clone();
            let row = state.db.read(move |c| Ok(store::find_live_token(c, &mac, &n)?)).await?;
            let row = row.ok_or_else(|| unauthenticated("invalid, revoked or expired API token"))?;
            if row.user_suspended {
                return Err(AppError::new(ErrorCode::AccountSuspended, "the token's owner is suspended"));
            }
            // Metered as an API call (one UPSERT after the response).
            let (id, org, touch) =
                (row.grant.id, row.grant.org_id, row.last_used_at.as_deref().is_none_or(|t| stale(t, &now_s)));
            background_write(state, move |tx| {
                if touch {
                    store::touch_token(tx, id, &now_s)?;
                }
                crate::billing::usage::record_api_call(tx, org)
            });
            Ok(Principal {
                user_id: row.user_id,
                email: row.email,
                is_superadmin: row.is_superadmin,
                via: Via::ApiToken(row.grant),
            })
        }
    }
}

/// Whether a timestamp is older than the touch interval.
fn stale(last: &str, now: &str) -> bool {
    let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok();
    match (parse(last), parse(now)) {
        (Some(a), Some(b)) => (b - a).num_seconds() >= TOUCH_EVERY_SECS,
        _ => true,
    }
}

/// Bookkeeping writes (last seen) happen after the response, never slowing it.
fn background_write(
    state: &AppState,
    f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<()> + Send + 'static,
) {
    let db = state.db.clone();
    tokio::spawn(async move {
        if let Err(e) = db.write(move |tx| Ok(f(tx)?)).await {
            tracing::warn!(error = ?e, "bookkeeping write failed");
        }
    });
}

fn session_expiry() -> String {
    format_timestamp(chrono::Utc::now() + chrono::Duration::days(SESSION_IDLE_DAYS))
}

/// Lower-cases and checks an email address.
pub fn normalize_email(raw: &str) -> AppResult<String> {
    let email = raw.trim().to_lowercase();
    let invalid = || AppError::validation("email", "must be an email address like name@example.com");
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    if local.is_empty() || local.len() > 64 || domain.contains('@') || !domain.contains('.') {
        return Err(invalid());
    }
    if domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
        return Err(invalid());
    }
    Ok(email)
}

/// The lowest zxcvbn score accepted ("safely unguessable": about 10^10
/// guesses needed).
pub const MIN_PASSWORD_SCORE: u8 = 3;

/// Password rules: 10–128 characters, not the email, and a zxcvbn strength
/// score of at least [`MIN_PASSWORD_SCORE`] with the email and the name as
/// the user's own words. `field` is the request field named in the error.
/// The estimator costs about a millisecond (it sees at most 100 characters).
pub fn check_password(password: &str, field: &str, email: &str, name: Option<&str>) -> AppResult<()> {
    let len = password.chars().count();
    if len < 10 {
        return Err(AppError::validation(field, "must be at least 10 characters"));
    }
    if len > 128 {
        return Err(AppError::validation(field, "must be at most 128 characters"));
    }
    let lower = password.to_lowercase();
    // Very short local parts ("c@…") would match almost any password.
    let local = email.split('@').next().unwrap_or(email);
    if lower == email || (local.chars().count() >= 3 && lower.contains(local)) {
        return Err(AppError::validation(field, "must not contain your email address"));
    }
    let mut inputs = vec![email, local];
    inputs.extend(name.into_iter().flat_map(str::split_whitespace));
    let estimate = zxcvbn::zxcvbn(password, &inputs);
    let score = u8::from(estimate.score());
    if score >= MIN_PASSWORD_SCORE {
        return Ok(());
    }
    let warning = estimate.feedback().and_then(zxcvbn::feedback::Feedback::warning).map(|w| w.to_string());
    let suggestions: Vec<String> =
        estimate.feedback().map(|f| f.suggestions().iter().map(ToString::to_string).collect()).unwrap_or_default();
    let mut message = String::from("is too easy to guess");
    if let Some(w) = &warning {
        message = format!("is too easy to guess: {w}");
    }
    Err(AppError::new(ErrorCode::WeakPassword, message).with_details(json!({
        "field": field,
        "score": score,
        "min_score": MIN_PASSWORD_SCORE,
        "warning": warning,
        "suggestions": suggestions,
    })))
}

pub(crate) fn check_name(raw: &str) -> AppResult<String> {
    crate::names::check_name("name", raw, 100)
}

/// A new browser session: the raw token (for the cookie) and its row id.
pub struct IssuedSession {
    pub token: String,
    pub id: SessionId,
}

pub(crate) fn open_session(
    tx: &rusqlite::Connection,
    user_id: UserId,
    client: &ClientInfo,
) -> AppResult<IssuedSession> {
    let token = random_token(32);
    let hash = sha256(token.as_bytes());
    let now_s = now();
    let expires = session_expiry();
    let device = client.user_agent.as_deref().map(device_label);
    let id = store::insert_session(
        tx,
        &store::NewSession {
            user_id,
            token_hash: &hash,
            device_info: device.as_deref(),
            ip_address: client.ip.as_deref(),
            user_agent: client.user_agent.as_deref(),
            now: &now_s,
            expires_at: &expires,
        },
    )?;
    Ok(IssuedSession { token, id })
}

/// The one answer to a sign-up, whether or not the address has an account.
pub const SIGNUP_ACCEPTED: &str = "Check your email: we sent a link to finish signing up. It is valid for 24 hours.";

/// What a sign-up did.
pub enum Registered {
    /// The confirmation link (or, for a taken address, a note to its owner)
    /// was emailed: the same answer either way.
    Emailed(Accepted),
    /// Signed in at once: this server cannot send email (no SMTP), so
    /// nothing could prove the address; or the sign-up followed an
    /// invitation link, which proves it.
    SignedIn(UserId, IssuedSession),
}

/// Signs up. Everything is decided in one write transaction, so two
/// simultaneous sign-ups on an empty instance make exactly one superadmin:
/// - on an instance without any account (first run) the new account becomes
///   a superadmin and the owner of its personal organization, whatever the
///   sign-up policy;
/// - otherwise the sign-up policy applies: `closed` refuses
///   (`signup_closed`), `invite_only` refuses without an invitation
///   (`invitation_required`);
/// - with `invitation_token` (an invitation link being followed) the account
///   joins the inviting organization only — no personal organization — and
///   is signed in at once (the link proves the address);
/// - otherwise a new address gets the user and a personal organization with
///   the user as its owner; with SMTP, an email with the link that confirms
///   the address and signs in (`verify_email`), and a taken address gets
///   nothing created, its owner being emailed instead, the answer being the
///   same; without SMTP the account is signed in at once.
///
/// The password is checked and hashed in every case, so all take as long.
pub async fn register(state: &AppState, req: RegisterRequest, client: ClientInfo) -> AppResult<Registered> {
    state.limits.check(Bucket::Register, client.ip.as_deref(), None)?;
    let email = normalize_email(&req.email)?;
    let name = check_name(&req.name)?;
    check_password(&req.password, "password", &email, Some(&name))?;
    let invitation = req.invitation_token.filter(|t| !t.trim().is_empty());
    let password = req.password;
    let hash = run_blocking(move || hash_password(&password)).await?;
    let instance = crate::admin::instance::snapshot(state).await?;
    let public_url = instance.public_url;
    // Without a mail server a confirmation link could never arrive, and
    // nobody could sign up (a laptop or a first run): the account opens at
    // once. A taken address is then told as such; an operator who exposes
    // such a server configures SMTP to close that probe.
    let can_email = instance.smtp_configured;
    let registered = state
        .db
        .write(move |tx| {
            let first_run = !store::any_user(tx)?;
            let policy = crate::admin::instance::signup_policy(tx)?;
            check_policy(first_run, policy, invitation.is_some())?;
            let invited = invitation
                .as_deref()
                .map(|token| orgs::invitations::service::for_signup(tx, token, &email))
                .transpose()?;
            let Some(user_id) = store::insert_user(tx, &email, &hash, &name)? else {
                if !can_email || invited.is_some() {
                    // An invitation names its address: whoever follows it
                    // knows the address already.
                    let hint = if invited.is_some() { "; sign in to accept the invitation" } else { "" };
                    return Err(AppError::new(
                        ErrorCode::EmailTaken,
                        format!("an account with this email already exists{hint}"),
                    )
                    .with_details(json!({ "field": "email" })));
                }
                tell_owner_of_signup_attempt(tx, &email, &public_url, &client)?;
                return Ok(Registered::Emailed(Accepted { message: SIGNUP_ACCEPTED }));
            };
            if let Some(inv) = invited {
                let joined = orgs::invitations::service::join_on_signup(tx, inv, user_id, &email, &client)?;
                audit::record(
                    tx,
                    &AuditEntry::by_user(user_id, "user.registered", "user", user_id.0)
                        .in_org(joined.organization_id)
                        .with_new(json!({ "email": email, "name": name, "via_invitation": true }))
                        .from(&client),
                )?;
                return Ok(Registered::SignedIn(user_id, open_session(tx, user_id, &client)?));
            }
            let org = orgs::service::create_personal_org(tx, user_id, &name)?;
            if first_run {
                store::make_first_superadmin(tx, user_id)?;
                crate::admin::store::audit(
                    tx,
                    Some(user_id),
                    Some(&email),
                    "admin.superadmin_first_run",
                    Some(("user", user_id.0)),
                    &json!({ "via": "first sign-up of the instance" }),
                    &client,
                )?;
            }
            audit::record(
                tx,
                &AuditEntry::by_user(user_id, "user.registered", "user", user_id.0)
                    .in_org(org)
                    .with_new(json!({
                        "email": email, "name": name, "confirmed_by_email": can_email, "first_user": first_run,
                    }))
                    .from(&client),
            )?;
            if can_email {
                super::recovery::queue_verification(tx, user_id, &email, &name, &public_url)?;
                Ok(Registered::Emailed(Accepted { message: SIGNUP_ACCEPTED }))
            } else {
                Ok(Registered::SignedIn(user_id, open_session(tx, user_id, &client)?))
            }
        })
        .await?;
    state.jobs.notify();
    Ok(registered)
}

/// The sign-up policy's verdict; the first sign-up of an instance is always
/// allowed (someone must become its administrator).
fn check_policy(first_run: bool, policy: SignupPolicy, invited: bool) -> AppResult<()> {
    if first_run {
        return Ok(());
    }
    match policy {
        SignupPolicy::Closed => Err(AppError::new(
            ErrorCode::SignupClosed,
            "sign-up is closed on this server; ask an administrator to create an account for you",
        )),
        SignupPolicy::InviteOnly if !invited => Err(AppError::new(
            ErrorCode::InvitationRequired,
            "sign-up on this server is by invitation only; follow the link of an invitation you received",
        )),
        SignupPolicy::Open | SignupPolicy::InviteOnly => Ok(()),
    }
}

/// Emails the owner of a taken address that someone tried to sign up with
/// it (inside the sign-up's transaction).
fn tell_owner_of_signup_attempt(
    tx: &rusqlite::Connection,
    email: &str,
    public_url: &str,
    client: &ClientInfo,
) -> AppResult<()> {
    let owner = store::find_by_email(tx, email)?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("the address was taken but has no owner")))?;
    let content = notify::templates::signup_attempt(
        &notify::Branding::default(),
        &format!("{public_url}/login"),
        &format!("{public_url}/forgot-password"),
    );
    notify::queue_in(
        tx,
        &NewEmail { org_id: None, user_id: Some(owner.id), kind: EmailKind::Security, to: email, content },
    )?;
    audit::record(tx, &AuditEntry::by_user(owner.id, "user.register.duplicate", "user", owner.id.0).from(client))
}

/// Signs in with email and password (and the second factor when the account
/// has one). Wrong email and wrong password give the same answer in the same
/// time; whether the account has 2FA is told only after a right password.
pub async fn login(state: &AppState, req: LoginRequest, client: ClientInfo) -> AppResult<(UserId, IssuedSession)> {
    let invalid = || {
        AppError::new(
            ErrorCode::InvalidCredentials,
            "email or password is incorrect (a new account signs in once its address is confirmed with the emailed link)",
        )
    };
    let account_key = req.email.trim().to_lowercase();
    state.limits.check(Bucket::Login, client.ip.as_deref(), Some(&account_key))?;
    let email = normalize_email(&req.email).unwrap_or(account_key);
    // A domain enforcing SSO signs in through its IdP only (issue 22).
    crate::sso::service::refuse_if_enforced(state, &email).await?;
    let lookup = email.clone();
    let row = state.db.read(move |c| Ok(store::find_login(c, &lookup)?)).await?;
    let stored = row.as_ref().map_or_else(|| DUMMY_HASH.clone(), |r| r.password_hash.clone());
    let password = req.password;
    let ok = run_blocking(move || Ok(verify_password(&password, &stored))).await?;
    let Some(row) = row.filter(|_| ok) else {
        record_failed_login(state, email, "bad_credentials", None, client).await?;
        return Err(invalid());
    };
    if !row.may_sign_in {
        // Answered like a wrong password: a sign-up for someone else's
        // address followed by a sign-in must not tell whether it was free.
        // The owner of the address gets a fresh confirmation link.
        // One write transaction, like the wrong-password answer's.
        let (user_id, public_url) = (row.user_id, crate::admin::instance::snapshot(state).await?.public_url);
        state
            .db
            .write(move |tx| {
                let name = store::find_user(tx, user_id)?.map(|u| u.name).unwrap_or_default();
                super::recovery::queue_verification(tx, user_id, &email, &name, &public_url)?;
                audit::record(
                    tx,
                    &AuditEntry::by_user(user_id, "user.login.failed", "user", user_id.0)
                        .with_metadata(json!({ "email": email, "reason": "email_not_confirmed" }))
                        .from(&client),
                )
            })
            .await?;
        state.jobs.notify();
        return Err(invalid());
    }
    if row.suspended {
        return Err(AppError::new(ErrorCode::AccountSuspended, "this account is suspended"));
    }
    let user_id = row.user_id;
    if row.two_factor_enabled {
        let Some(code) = req.totp_code.filter(|c| !c.trim().is_empty()) else {
            return Err(AppError::new(
                ErrorCode::TwoFactorRequired,
                "enter the code from your authenticator app (or a backup code)",
            )
            .with_details(json!({ "field": "totp_code" })));
        };
        let keys = state.keys.clone();
        let factor = state.db.write(move |tx| totp::check_second_factor(tx, &keys, user_id, &code, true)).await?;
        let Some(factor) = factor else {
            record_failed_login(state, email, "bad_second_factor", Some(user_id), client).await?;
            return Err(AppError::new(
                ErrorCode::InvalidTwoFactorCode,
                "the code is wrong, expired or was already used",
            )
            .with_details(json!({ "field": "totp_code" })));
        };
        return finish_login(state, user_id, Some(factor), client).await;
    }
    finish_login(state, user_id, None, client).await
}

async fn record_failed_login(
    state: &AppState,
    email: String,
    reason: &'static str,
    user: Option<UserId>,
    client: ClientInfo,
) -> AppResult<()> {
    state
        .db
        .write(move |tx| {
            let entry = match user {
                Some(user) => AuditEntry::by_user(user, "user.login.failed", "user", user.0),
                None => AuditEntry::system("user.login.failed", "user", None),
            }
            .with_metadata(json!({ "email": email, "reason": reason }))
            .from(&client);
            audit::record(tx, &entry)
        })
        .await
}

async fn finish_login(
    state: &AppState,
    user_id: UserId,
    factor: Option<totp::Factor>,
    client: ClientInfo,
) -> AppResult<(UserId, IssuedSession)> {
    state
        .db
        .write(move |tx| {
            let second = match factor {
                None => "none",
                Some(totp::Factor::Totp) => "totp",
                Some(totp::Factor::BackupCode) => "backup_code",
            };
            audit::record(
                tx,
                &AuditEntry::by_user(user_id, "user.login", "user", user_id.0)
                    .with_metadata(json!({ "second_factor": second }))
                    .from(&client),
            )?;
            store::set_last_login(tx, user_id, &now())?;
            Ok((user_id, open_session(tx, user_id, &client)?))
        })
        .await
}

/// Ends the current session.
pub async fn logout(state: &AppState, principal: &Principal, client: ClientInfo) -> AppResult<()> {
    let Some(session_id) = principal.session_id() else {
        return Err(AppError::new(ErrorCode::Forbidden, "API tokens are revoked, not signed out"));
    };
    let user_id = principal.user_id;
    state
        .db
        .write(move |tx| {
            store::revoke_session(tx, user_id, session_id, &now())?;
            audit::record(tx, &AuditEntry::by_user(user_id, "user.logout", "session", session_id.0).from(&client))
        })
        .await
}

/// The current user with their organizations.
pub async fn me(state: &AppState, user_id: UserId, csrf_token: Option<String>) -> AppResult<Me> {
    state
        .db
        .read(move |c| {
            let user =
                store::find_user(c, user_id)?.ok_or_else(|| AppError::new(ErrorCode::UserNotFound, "no such user"))?;
            let organizations = orgs::store::memberships_of(c, user_id)?
                .into_iter()
                .map(|m| Membership {
                    id: m.org_id,
                    name: m.name,
                    slug: m.slug,
                    role: m.role,
                    permissions: m.permissions.names(),
                })
                .collect();
            Ok(Me { user, organizations, csrf_token })
        })
        .await
}

/// Queues a security notice to the user inside the caller's transaction.
pub fn queue_security_notice(tx: &rusqlite::Connection, user: UserId, email: &str, what: &str) -> AppResult<()> {
    let content = notify::templates::security_notice(&notify::Branding::default(), what);
    notify::queue_in(
        tx,
        &NewEmail { org_id: None, user_id: Some(user), kind: EmailKind::Security, to: email, content },
    )?;
    Ok(())
}

/// Changes the current user's name.
pub async fn update_profile(
    state: &AppState,
    user_id: UserId,
    req: UpdateProfileRequest,
    client: ClientInfo,
) -> AppResult<User> {
    let name = req.name.as_deref().map(check_name).transpose()?;
    let locale = req.locale.as_deref().map(crate::ui::check_locale).transpose()?;
    state
        .db
        .write(move |tx| {
            let before =
                store::find_user(tx, user_id)?.ok_or_else(|| AppError::new(ErrorCode::UserNotFound, "no such user"))?;
            if let Some(name) = &name {
                store::update_name(tx, user_id, name)?;
                audit::record(
                    tx,
                    &AuditEntry::by_user(user_id, "user.updated", "user", user_id.0)
                        .with_old(json!({ "name": before.name }))
                        .with_new(json!({ "name": name }))
                        .from(&client),
                )?;
            }
            if let Some(locale) = &locale
                && before.locale.as_deref() != Some(locale)
            {
                store::update_locale(tx, user_id, locale)?;
                audit::record(
                    tx,
                    &AuditEntry::by_user(user_id, "user.updated", "user", user_id.0)
                        .with_old(json!({ "locale": before.locale }))
                        .with_new(json!({ "locale": locale }))
                        .from(&client),
                )?;
            }
            store::find_user(tx, user_id)?.ok_or_else(|| AppError::new(ErrorCode::UserNotFound, "no such user"))
        })
        .await
}

/// Changes the password after checking the current one; every other session
/// of the user ends.
pub async fn change_password(
    state: &AppState,
    principal: &Principal,
    req: ChangePasswordRequest,
    client: ClientInfo,
) -> AppResult<()> {
    let user_id = principal.user_id;
    let keep = principal.session_id();
    state.limits.check(Bucket::Login, client.ip.as_deref(), Some(&format!("user:{}", user_id.0)))?;
    let email = principal.email.clone();
    let name = state.db.read(move |c| Ok(store::find_user(c, user_id)?.map(|u| u.name))).await?;
    check_password(&req.new_password, "new_password", &email, name.as_deref())?;
    if req.new_password == req.current_password {
        return Err(AppError::validation("new_password", "must differ from the current password"));
    }
    let stored = state.db.read(move |c| Ok(store::password_hash_of(c, user_id)?)).await?.unwrap_or_default();
    let (current, new) = (req.current_password, req.new_password);
    let hash =
        run_blocking(move || if verify_password(&current, &stored) { hash_password(&new).map(Some) } else { Ok(None) })
            .await?;
    let Some(hash) = hash else {
        return Err(AppError::validation("current_password", "is incorrect"));
    };
    state
        .db
        .write(move |tx| {
            store::set_password(tx, user_id, &hash)?;
            let ended = store::revoke_sessions(tx, user_id, keep, &now())?;
            audit::record(
                tx,
                &AuditEntry::by_user(user_id, "user.password.changed", "user", user_id.0)
                    .with_metadata(json!({ "other_sessions_ended": ended }))
                    .from(&client),
            )?;
            queue_security_notice(tx, user_id, &email, "The password of your account was changed")
        })
        .await?;
    state.jobs.notify();
    Ok(())
}

/// The current user's live sessions, newest first.
pub async fn list_sessions(state: &AppState, principal: &Principal, page: PageParams) -> AppResult<Page<SessionInfo>> {
    let user_id = principal.user_id;
    let current = principal.session_id();
    let after = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state.db.read(move |c| Ok(store::live_sessions(c, user_id, &now(), after, limit)?)).await?;
    let page = Page::from_rows(rows, &page, |s| s.id.0)?;
    Ok(page.map(|s| SessionInfo {
        current: Some(s.id) == current,
        id: s.id,
        device_info: s.device_info,
        ip_address: s.ip_address,
        created_at: s.created_at,
        last_seen_at: s.last_seen_at,
        expires_at: s.expires_at,
    }))
}

/// Ends one session of the current user.
pub async fn revoke_session(state: &AppState, user_id: UserId, id: SessionId, client: ClientInfo) -> AppResult<()> {
    state
        .db
        .write(move |tx| {
            if !store::revoke_session(tx, user_id, id, &now())? {
                return Err(AppError::new(ErrorCode::SessionNotFound, "no such session"));
            }
            audit::record(tx, &AuditEntry::by_user(user_id, "user.session.revoked", "session", id.0).from(&client))
        })
        .await
}

/// Ends every session of the current user except this one.
pub async fn revoke_other_sessions(
    state: &AppState,
    principal: &Principal,
    client: ClientInfo,
) -> AppResult<RevokedCount> {
    let (user_id, keep) = (principal.user_id, principal.session_id());
    state
        .db
        .write(move |tx| {
            let revoked = store::revoke_sessions(tx, user_id, keep, &now())?;
            audit::record(
                tx,
                &AuditEntry::by_user(user_id, "user.session.revoked_others", "user", user_id.0)
                    .with_metadata(json!({ "revoked": revoked }))
                    .from(&client),
            )?;
            Ok(RevokedCount { revoked })
        })
        .await
}

/// "Chrome on Linux"-style label of a user agent.
#[must_use]
pub fn device_label(user_agent: &str) -> String {
    let ua = user_agent;
    let browser =
        [("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Safari/", "Safari")]
            .iter()
            .find(|(needle, _)| ua.contains(needle))
            .map_or("Unknown browser", |(_, name)| name);
    let os = [
        ("Windows", "Windows"),
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map_or("unknown OS", |(_, name)| name);
    if ua.starts_with("curl/") || ua.contains("reqwest") {
        return "API client".to_owned();
    }
    format!("{browser} on {os}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(normalize_email("  Ada@Example.COM ").expect("ok"), "ada@example.com");
        for bad in ["", "ada", "ada@", "@x.io", "a@b", "a b@x.io", "a@@x.io", "a@x..io"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn password_rules() {
        let check = |p: &str| check_password(p, "password", "ada@example.com", Some("Ada Lovelace"));
        assert!(check("mauve lantern quietly 93").is_ok());
        for weak in ["short1", "password123", "Password2024!", "qwertyuiop12", "1234567890a", "lovelace1815"] {
            let err = check(weak).expect_err(weak);
            assert!(matches!(err.code(), ErrorCode::ValidationFailed | ErrorCode::WeakPassword), "{weak}");
        }
        assert_eq!(check("ada12345678").expect_err("email").code(), ErrorCode::ValidationFailed);
    }

    #[test]
    fn a_weak_password_names_the_field_and_carries_the_estimators_feedback() {
        let err = check_password("Password2024!", "new_password", "ada@example.com", None).expect_err("weak");
        assert_eq!(err.code(), ErrorCode::WeakPassword);
        let details = err.details().expect("details");
        assert_eq!(details["field"], "new_password");
        assert!(details["score"].as_u64().expect("score") < u64::from(MIN_PASSWORD_SCORE));
        assert!(details["suggestions"].as_array().is_some_and(|s| !s.is_empty()), "{details}");
    }

    #[test]
    fn the_estimator_is_cheap_enough_to_run_on_every_request() {
        // It sees at most 100 characters, so the longest allowed password
        // costs no more than a 100-character one.
        let inputs = ["ada@example.com", "ada", "Ada", "Lovelace"];
        let mut slowest = std::time::Duration::ZERO;
        for p in ["mauve lantern quietly 93", "Password2024!", &"a1b2c3d4".repeat(16), &"correct horse ".repeat(9)] {
            let t = std::time::Instant::now();
            let _ = zxcvbn::zxcvbn(p, &inputs);
            slowest = slowest.max(t.elapsed());
        }
        eprintln!("zxcvbn: slowest of 4 passwords {slowest:?}");
        assert!(slowest < std::time::Duration::from_millis(250), "{slowest:?}");
    }

    #[test]
    fn the_users_name_counts_against_the_password() {
        // Strong for a stranger, guessable for Grace Hopperfield herself.
        let password = "hopperfield1906";
        assert!(check_password(password, "password", "x@example.com", None).is_ok());
        let err = check_password(password, "password", "x@example.com", Some("Grace Hopperfield")).expect_err("name");
        assert_eq!(err.code(), ErrorCode::WeakPassword);
    }

    #[test]
    fn password_hash_round_trip() {
        let h = hash_password("correct horse 42").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse 42", &h));
        assert!(!verify_password("wrong", &h));
    }

    #[test]
    fn device_labels() {
        let ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
        assert_eq!(device_label(ua), "Chrome on Linux");
    }
}

//! Superadmin console rules: sign-in with lockout and IP allowlist, a
//! separate 8-hour session, and account and organization administration —
//! every action written to the admin audit log in the same transaction.

use std::net::IpAddr;

use serde_json::json;

use super::model::{
    AdminAuditEntry, AdminLoginRequest, AdminOrg, AdminUser, AdminUserDetail, AllowlistEntry, CreateAllowlistEntry,
    CreateUserRequest, InstanceStats, LoginAttempt,
};
use super::scope::{Admin, admin_csrf, check_ip};
use super::{ipnet, store};
use crate::accounts::service::{check_password, hash_password, normalize_email, verify_password};
use crate::accounts::{store as accounts_store, totp};
use crate::app::AppState;
use crate::crypto::{random_token, sha256};
use crate::db::{Db, format_timestamp, now, run_blocking};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::ratelimit::Bucket;
use crate::http::{ClientInfo, Page, PageParams, Tenant};
use crate::ids::{AllowlistEntryId, OrgId, UserId};
use crate::orgs::audit::{self, AuditEntry};

/// Adds the configured allowlist entries (start-up).
pub fn seed_allowlist(db: &Db, entries: &[String]) -> AppResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    db.write_blocking(|tx| {
        for entry in entries {
            if let Some(net) = ipnet::parse_entry(entry) {
                store::add_allowlist(tx, &net.to_string(), Some("from configuration"), None)?;
            }
        }
        Ok(())
    })
}

fn not_found_user() -> AppError {
    AppError::new(ErrorCode::UserNotFound, "no such user")
}

fn not_found_org() -> AppError {
    AppError::new(ErrorCode::OrgNotFound, "no such organization")
}

/// A signed-in console session: its secret (for the cookie) and what it shows.
pub struct IssuedAdminSession {
    pub token: String,
    pub user_id: UserId,
    pub email: String,
    pub name: String,
    pub expires_at: String,
}

/// Refuses sign-in while the email or the IP has too many recent failures
/// (429 with the time until the oldest failure leaves the window).
async fn check_lockout(state: &AppState, email: &str, client: &ClientInfo) -> AppResult<()> {
    let ip = client.ip.clone().unwrap_or_default();
    let window = i64::try_from(state.config.admin.lockout_window_secs).unwrap_or(900);
    let since = format_timestamp(chrono::Utc::now() - chrono::Duration::seconds(window));
    let (e, i) = (email.to_owned(), ip);
    let ((email_failures, email_oldest), (ip_failures, ip_oldest)) =
        state.db.read(move |c| Ok(store::failures(c, &e, &i, &since)?)).await?;
    let cfg = &state.config.admin;
    let locked_since = if email_failures >= i64::from(cfg.max_failures_per_email) {
        email_oldest
    } else if ip_failures >= i64::from(cfg.max_failures_per_ip) {
        ip_oldest
    } else {
        return Ok(());
    };
    let oldest = locked_since
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
        .map_or_else(chrono::Utc::now, |t| t.with_timezone(&chrono::Utc));
    let secs = (oldest + chrono::Duration::seconds(window) - chrono::Utc::now()).num_seconds().max(1);
    let (client, email) = (client.clone(), email.to_owned());
    state
        .db
        .write(move |tx| Ok(store::audit(tx, None, Some(&email), "admin.login.locked_out", None, &json!({}), &client)?))
        .await?;
    Err(AppError::new(ErrorCode::RateLimited, format!("too many failed sign-ins; try again in {secs} s"))
        .with_details(json!({ "retry_after_secs": secs, "scope": "lockout" })))
}

/// Signs a superadmin in to the console. Unknown email, wrong password and
/// a non-superadmin account all answer `invalid_credentials`; failures
/// count towards the lockout (per email and per IP).
pub async fn login(state: &AppState, req: AdminLoginRequest, client: ClientInfo) -> AppResult<IssuedAdminSession> {
    check_ip(state, &client, "login").await?;
    let email = normalize_email(&req.email).unwrap_or_else(|_| req.email.trim().to_lowercase());
    state.limits.check(Bucket::Login, client.ip.as_deref(), Some(&email))?;
    check_lockout(state, &email, &client).await?;
    let ip = client.ip.clone().unwrap_or_default();
    let lookup = email.clone();
    let row = state.db.read(move |c| Ok(accounts_store::find_login(c, &lookup)?)).await?;
    let superadmin = match &row {
        Some(r) => {
            state
                .db
                .read({
                    let id = r.user_id;
                    move |c| {
                        Ok(c.query_row("SELECT is_superadmin FROM users WHERE id = ?1", [id], |r| r.get::<_, bool>(0))?)
                    }
                })
                .await?
        }
        None => false,
    };
    let stored = row.as_ref().map_or_else(crate::accounts::service::dummy_hash, |r| r.password_hash.clone());
    let password = req.password;
    let ok = run_blocking(move || Ok(verify_password(&password, &stored))).await?;
    let fail = |reason: &'static str, user: Option<UserId>, code: AppError| {
        let (client, email, ip) = (client.clone(), email.clone(), ip.clone());
        async move {
            state
                .db
                .write(move |tx| {
                    store::record_attempt(tx, &email, &ip, false)?;
                    store::audit(
                        tx,
                        user,
                        Some(&email),
                        "admin.login.failed",
                        None,
                        &json!({ "reason": reason }),
                        &client,
                    )?;
                    Ok(())
                })
                .await?;
            Err::<IssuedAdminSession, AppError>(code)
        }
    };
    let invalid = || AppError::new(ErrorCode::InvalidCredentials, "email or password is incorrect");
    let Some(row) = row.filter(|_| ok) else {
        return fail("bad_credentials", None, invalid()).await;
    };
    if !superadmin || row.suspended {
        return fail(if row.suspended { "suspended" } else { "not_superadmin" }, Some(row.user_id), invalid()).await;
    }
    let user = row.user_id;
    if row.two_factor_enabled {
        let Some(code) = req.totp_code.filter(|c| !c.trim().is_empty()) else {
            return Err(AppError::new(ErrorCode::TwoFactorRequired, "enter the code from your authenticator app")
                .with_details(json!({ "field": "totp_code" })));
        };
        let keys = state.keys.clone();
        let factor = state.db.write(move |tx| totp::check_second_factor(tx, &keys, user, &code, true)).await?;
        if factor.is_none() {
            return fail(
                "bad_second_factor",
                Some(user),
                AppError::new(ErrorCode::InvalidTwoFactorCode, "the code is wrong, expired or was already used")
                    .with_details(json!({ "field": "totp_code" })),
            )
            .await;
        }
    }
    let token = random_token(32);
    let hash = sha256(token.as_bytes());
    let hours = i64::from(state.config.admin.session_hours);
    let expires_at = format_timestamp(chrono::Utc::now() + chrono::Duration::hours(hours));
    let (e, exp) = (email.clone(), expires_at.clone());
    let name = state
        .db
        .write(move |tx| {
            store::record_attempt(tx, &e, &ip, true)?;
            let session = store::insert_session(tx, user, &hash, &client, &exp)?;
            store::audit(
                tx,
                Some(user),
                Some(&e),
                "admin.login",
                Some(("admin_session", session)),
                &json!({}),
                &client,
            )?;
            Ok(accounts_store::find_user(tx, user)?.map(|u| u.name).unwrap_or_default())
        })
        .await?;
    Ok(IssuedAdminSession { token, user_id: user, email, name, expires_at })
}

/// Ends the console session.
pub async fn logout(state: &AppState, admin: Admin) -> AppResult<()> {
    let Some(session) = admin.session_id else { return Ok(()) };
    state
        .db
        .write(move |tx| {
            store::revoke_session(tx, session, &now())?;
            store::audit(
                tx,
                admin.user(),
                Some(&admin.email),
                "admin.logout",
                Some(("admin_session", session)),
                &json!({}),
                &admin.client,
            )?;
            Ok(())
        })
        .await
}

/// The CSRF token of the presented console session.
#[must_use]
pub fn csrf_for(state: &AppState, token: &str) -> String {
    admin_csrf(state, token)
}

fn search(q: Option<&str>) -> AppResult<Option<String>> {
    match q.map(str::trim) {
        None | Some("") => Ok(None),
        Some(q) if q.chars().count() > 100 => Err(AppError::validation("q", "must be at most 100 characters")),
        Some(q) => Ok(Some(q.to_lowercase())),
    }
}

fn status(raw: Option<&str>) -> AppResult<Option<String>> {
    match raw {
        None | Some("") => Ok(None),
        Some(s @ ("active" | "suspended")) => Ok(Some(s.to_owned())),
        Some(_) => Err(AppError::validation("status", "must be active or suspended")),
    }
}

fn reason(raw: &str) -> AppResult<String> {
    let r = raw.trim();
    if r.is_empty() || r.chars().count() > 500 {
        return Err(AppError::validation("reason", "must be 1–500 characters"));
    }
    Ok(r.to_owned())
}

pub async fn users(
    state: &AppState,
    admin: Admin,
    q: Option<String>,
    st: Option<String>,
    page: PageParams,
) -> AppResult<Page<AdminUser>> {
    let q = search(q.as_deref())?;
    let suspended = status(st.as_deref())?.map(|s| s == "suspended");
    let (after, limit) = (page.cursor()?.map(|c| c.id), page.fetch_limit()?);
    let rows = state.db.read(move |c| Ok(store::users(c, &admin, q.as_deref(), suspended, after, limit)?)).await?;
    Page::from_rows(rows, &page, |u| u.id.0)
}

pub async fn user(state: &AppState, admin: Admin, id: UserId) -> AppResult<AdminUserDetail> {
    state
        .db
        .read(move |c| {
            let user = store::user(c, &admin, id)?.ok_or_else(not_found_user)?;
            Ok(AdminUserDetail {
                user,
                organizations: store::memberships(c, &admin, id)?,
                active_sessions: store::active_sessions(c, &admin, id, &now())?,
            })
        })
        .await
}

/// Suspends or reinstates a user: a suspended user cannot sign in and their
/// sessions and API tokens stop working at once.
pub async fn set_user_suspended(
    state: &AppState,
    admin: Admin,
    id: UserId,
    suspend: Option<String>,
) -> AppResult<AdminUser> {
    let why = suspend.as_deref().map(reason).transpose()?;
    state
        .db
        .write(move |tx| {
            let before = store::user(tx, &admin, id)?.ok_or_else(not_found_user)?;
            if id == admin.user_id && why.is_some() {
                return Err(AppError::new(ErrorCode::Conflict, "you cannot suspend yourself"));
            }
            let n = now();
            let (action, at) = match &why {
                Some(_) => ("admin.user.suspended", Some(n.as_str())),
                None => ("admin.user.unsuspended", None),
            };
            store::set_user_suspension(tx, &admin, id, at, why.as_deref())?;
            if why.is_some() {
                store::revoke_sessions_of(tx, &admin, id, &n)?;
            }
            store::audit(
                tx,
                admin.user(),
                Some(&admin.email),
                action,
                Some(("user", id.0)),
                &json!({ "email": before.email, "reason": why, "was_suspended": before.suspended_at.is_some() }),
                &admin.client,
            )?;
            store::user(tx, &admin, id)?.ok_or_else(not_found_user)
        })
        .await
}

/// Grants or withdraws the superadmin flag (not one's own).
pub async fn set_superadmin(state: &AppState, admin: Admin, id: UserId, on: bool) -> AppResult<AdminUser> {
    state
        .db
        .write(move |tx| {
            let before = store::user(tx, &admin, id)?.ok_or_else(not_found_user)?;
            if id == admin.user_id {
                return Err(AppError::new(ErrorCode::Conflict, "you cannot change your own superadmin flag"));
            }
            store::set_superadmin(tx, &admin, id, on)?;
            if !on {
                store::revoke_sessions_of(tx, &admin, id, &now())?;
            }
            store::audit(
                tx,
                admin.user(),
                Some(&admin.email),
                if on { "admin.user.superadmin_granted" } else { "admin.user.superadmin_revoked" },
                Some(("user", id.0)),
                &json!({ "email": before.email, "was": before.is_superadmin }),
                &admin.client,
            )?;
            store::user(tx, &admin, id)?.ok_or_else(not_found_user)
        })
        .await
}

pub async fn orgs(
    state: &AppState,
    admin: Admin,
    q: Option<String>,
    st: Option<String>,
    page: PageParams,
) -> AppResult<Page<AdminOrg>> {
    let q = search(q.as_deref())?;
    let st = status(st.as_deref())?;
    let (after, limit) = (page.cursor()?.map(|c| c.id), page.fetch_limit()?);
    let rows = state.db.read(move |c| Ok(store::orgs(c, &admin, q.as_deref(), st.as_deref(), after, limit)?)).await?;
    Page::from_rows(rows, &page, |o| o.id.0)
}

pub async fn org(state: &AppState, admin: Admin, id: OrgId) -> AppResult<AdminOrg> {
    state.db.read(move |c| store::org(c, &admin, id)?.ok_or_else(not_found_org)).await
}

/// Suspends or reinstates an organization: its routes answer 403
/// `account_suspended` while suspended. Recorded in both audit logs.
pub async fn set_org_suspended(
    state: &AppState,
    admin: Admin,
    id: OrgId,
    suspend: Option<String>,
) -> AppResult<AdminOrg> {
    let why = suspend.as_deref().map(reason).transpose()?;
    state
        .db
        .write(move |tx| {
            let before = store::org(tx, &admin, id)?.ok_or_else(not_found_org)?;
            let n = now();
            let (status, at, action) = match &why {
                Some(_) => ("suspended", Some(n.as_str()), "org.suspended"),
                None => ("active", None, "org.unsuspended"),
            };
            store::set_org_status(tx, &admin, id, status, at, why.as_deref())?;
            store::audit(
                tx,
                admin.user(),
                Some(&admin.email),
                &format!("admin.{action}"),
                Some(("organization", id.0)),
                &json!({ "name": before.name, "reason": why, "was": before.status }),
                &admin.client,
            )?;
            let tenant = Tenant::system(id, "superadmin changed the organization's status");
            audit::record(
                tx,
                &AuditEntry::system(&format!("security.{action}"), "organization", Some(tenant.org_id().0))
                    .in_org(tenant.org_id())
                    .with_old(json!({ "status": before.status }))
                    .with_new(json!({ "status": status, "reason": why }))
                    .with_metadata(json!({ "by_superadmin": admin.email })),
            )?;
            store::org(tx, &admin, id)?.ok_or_else(not_found_org)
        })
        .await
}

/// Moves an organization to another plan.
pub async fn set_plan(state: &AppState, admin: Admin, id: OrgId, plan: String) -> AppResult<AdminOrg> {
    let plan = plan.trim().to_lowercase();
    state
        .db
        .write(move |tx| {
            let before = store::org(tx, &admin, id)?.ok_or_else(not_found_org)?;
            if !store::plan_exists(tx, &plan)? {
                return Err(AppError::validation("plan", format!("`{plan}` is not an active plan")));
            }
            store::set_plan(tx, &admin, id, &plan)?;
            store::audit(
                tx,
                admin.user(),
                Some(&admin.email),
                "admin.org.plan_changed",
                Some(("organization", id.0)),
                &json!({ "from": before.plan_tier, "to": plan }),
                &admin.client,
            )?;
            audit::record(
                tx,
                &AuditEntry::system("org.plan_changed", "organization", Some(id.0))
                    .in_org(id)
                    .with_old(json!({ "plan_tier": before.plan_tier }))
                    .with_new(json!({ "plan_tier": plan }))
                    .with_metadata(json!({ "by_superadmin": admin.email }))
                    .activity(),
            )?;
            store::org(tx, &admin, id)?.ok_or_else(not_found_org)
        })
        .await
        .inspect(|_| state.runtime.meter().forget(id))
}

pub async fn allowlist(state: &AppState, _admin: Admin) -> AppResult<Vec<AllowlistEntry>> {
    state.db.read(|c| Ok(store::allowlist(c)?)).await
}

fn caller_ip(admin: &Admin) -> Option<IpAddr> {
    admin.client.ip.as_deref().and_then(|ip| ip.parse().ok())
}

/// Adds an allowlist entry; refused when, once the list is enforced, it
/// would not let the caller in.
pub async fn add_allowlist(state: &AppState, admin: Admin, req: CreateAllowlistEntry) -> AppResult<AllowlistEntry> {
    let net = ipnet::parse_entry(&req.ip_address)
        .ok_or_else(|| AppError::validation("ip_address", "must be an IP address or a CIDR range like 10.0.0.0/8"))?;
    let description = match req.description.as_deref().map(str::trim) {
        Some(d) if d.chars().count() > 255 => {
            return Err(AppError::validation("description", "must be at most 255 characters"));
        }
        Some("") | None => None,
        Some(d) => Some(d.to_owned()),
    };
    state
        .db
        .write(move |tx| {
            let mut entries: Vec<String> = store::allowlist(tx)?.into_iter().map(|e| e.ip_address).collect();
            entries.push(net.to_string());
            if let Some(ip) = caller_ip(&admin)
                && !ipnet::allowed(ip, entries.iter().map(String::as_str))
            {
                return Err(AppError::new(
                    ErrorCode::WouldLockOut,
                    "your own address would not be on the allowlist; add it first",
                )
                .with_details(json!({ "your_ip": admin.client.ip })));
            }
            let id = store::add_allowlist(tx, &net.to_string(), description.as_deref(), admin.user())?
                .ok_or_else(|| AppError::new(ErrorCode::Conflict, "this entry is already on the allowlist"))?;
            store::audit(
                tx,
                admin.user(),
                Some(&admin.email),
                "admin.ip_allowlist.added",
                Some(("ip_allowlist", id.0)),
                &json!({ "ip_address": net.to_string(), "description": description }),
                &admin.client,
            )?;
            store::allowlist(tx)?
                .into_iter()
                .find(|e| e.id == id)
                .ok_or_else(|| AppError::new(ErrorCode::AllowlistEntryNotFound, "no such entry"))
        })
        .await
}

/// Removes an allowlist entry (refused when it would lock the caller out).
pub async fn remove_allowlist(state: &AppState, admin: Admin, id: AllowlistEntryId) -> AppResult<()> {
    state
        .db
        .write(move |tx| {
            let entries = store::allowlist(tx)?;
            let target = entries
                .iter()
                .find(|e| e.id == id)
                .cloned()
                .ok_or_else(|| AppError::new(ErrorCode::AllowlistEntryNotFound, "no such allowlist entry"))?;
            let rest: Vec<&str> = entries.iter().filter(|e| e.id != id).map(|e| e.ip_address.as_str()).collect();
            if let Some(ip) = caller_ip(&admin)
                && !rest.is_empty()
                && !ipnet::allowed(ip, rest.iter().copied())
            {
                return Err(AppError::new(ErrorCode::WouldLockOut, "this entry is what lets your address in")
                    .with_details(json!({ "your_ip": admin.client.ip })));
            }
            store::remove_allowlist(tx, &admin, id)?;
            store::audit(
                tx,
                admin.user(),
                Some(&admin.email),
                "admin.ip_allowlist.removed",
                Some(("ip_allowlist", id.0)),
                &json!({ "ip_address": target.ip_address }),
                &admin.client,
            )?;
            Ok(())
        })
        .await
}

pub async fn attempts(
    state: &AppState,
    admin: Admin,
    email: Option<String>,
    ip: Option<String>,
    page: PageParams,
) -> AppResult<Page<LoginAttempt>> {
    let email = email.map(|e| e.trim().to_lowercase()).filter(|e| !e.is_empty());
    let ip = ip.map(|i| i.trim().to_owned()).filter(|i| !i.is_empty());
    let (before, limit) = (page.cursor()?.map(|c| c.id), page.fetch_limit()?);
    let rows =
        state.db.read(move |c| Ok(store::attempts(c, &admin, email.as_deref(), ip.as_deref(), before, limit)?)).await?;
    Page::from_rows(rows, &page, |a| a.id)
}

pub async fn audit_log(
    state: &AppState,
    admin: Admin,
    action: Option<String>,
    user: Option<i64>,
    page: PageParams,
) -> AppResult<Page<AdminAuditEntry>> {
    let action = search(action.as_deref())?;
    let (exact, prefix) = match action {
        Some(a) if a.ends_with('*') => (None, Some(a.trim_end_matches('*').to_owned())),
        other => (other, None),
    };
    let (before, limit) = (page.cursor()?.map(|c| c.id), page.fetch_limit()?);
    let rows = state
        .db
        .read(move |c| Ok(store::audit_log(c, &admin, exact.as_deref(), prefix.as_deref(), user, before, limit)?))
        .await?;
    Page::from_rows(rows, &page, |a| a.id)
}

pub async fn stats(state: &AppState, _admin: Admin) -> AppResult<InstanceStats> {
    state
        .db
        .read(|c| {
            let n = now();
            let count = |sql: &str| store::count(c, sql, &n);
            Ok(InstanceStats {
                users: count("SELECT count(*) FROM users")?,
                users_suspended: count("SELECT count(*) FROM users WHERE suspended_at IS NOT NULL")?,
                users_verified: count("SELECT count(*) FROM users WHERE email_verified = 1")?,
                users_with_two_factor: count("SELECT count(*) FROM users WHERE two_factor_enabled = 1")?,
                superadmins: count("SELECT count(*) FROM users WHERE is_superadmin = 1")?,
                organizations: count("SELECT count(*) FROM organizations")?,
                organizations_suspended: count("SELECT count(*) FROM organizations WHERE status = 'suspended'")?,
                organizations_by_plan: store::grouped(
                    c,
                    "SELECT plan_tier, count(*) FROM organizations GROUP BY plan_tier ORDER BY plan_tier",
                )?,
                bots: count("SELECT count(*) FROM bots")?,
                active_sessions: count(
                    "SELECT count(*) FROM user_sessions WHERE revoked_at IS NULL AND expires_at > ?1",
                )?,
                active_api_tokens: count(
                    "SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?1)",
                )?,
                jobs: store::grouped(c, "SELECT status, count(*) FROM jobs GROUP BY status ORDER BY status")?,
                emails: store::grouped(
                    c,
                    "SELECT status, count(*) FROM email_notifications GROUP BY status ORDER BY status",
                )?,
                audit_log_rows: count("SELECT count(*) FROM audit_logs")?,
                database_bytes: count("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()")?,
            })
        })
        .await
}

/// Creates an account from the console: a personal organization, the
/// address taken as confirmed, optionally superadmin. Audited.
pub async fn create_user(state: &AppState, admin: Admin, req: CreateUserRequest) -> AppResult<AdminUser> {
    let email = normalize_email(&req.email)?;
    let name = crate::accounts::service::check_name(&req.name)?;
    check_password(&req.password, "password", &email, Some(&name))?;
    let password = req.password;
    let hash = run_blocking(move || hash_password(&password)).await?;
    state
        .db
        .write(move |tx| {
            let id = accounts_store::insert_user(tx, &email, &hash, &name)?.ok_or_else(|| {
                AppError::new(ErrorCode::EmailTaken, "an account with this email already exists")
                    .with_details(json!({ "field": "email" }))
            })?;
            accounts_store::mark_email_verified(tx, id, &now())?;
            if req.is_superadmin {
                store::set_superadmin(tx, &admin, id, true)?;
            }
            crate::orgs::service::create_personal_org(tx, id, &name)?;
            store::audit(
                tx,
                admin.user(),
                Some(&admin.email),
                "admin.user.created",
                Some(("user", id.0)),
                &json!({ "email": email, "name": name, "is_superadmin": req.is_superadmin }),
                &admin.client,
            )?;
            store::user(tx, &admin, id)?.ok_or_else(not_found_user)
        })
        .await
}

/// What `botbuilder admin create-superadmin` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuperadminOutcome {
    Created(UserId),
    Promoted(UserId),
    AlreadySuperadmin(UserId),
}

/// Creates a superadmin account (with a personal organization), or makes an
/// existing account superadmin. The password is needed only for a new account.
pub fn create_superadmin(db: &Db, email: &str, name: &str, password: Option<&str>) -> AppResult<SuperadminOutcome> {
    let email = normalize_email(email)?;
    let existing = db.read_blocking(|c| Ok(accounts_store::find_by_email(c, &email)?))?;
    let admin = Admin::cli();
    if let Some(user) = existing {
        return db.write_blocking(|tx| {
            let already: bool =
                tx.query_row("SELECT is_superadmin FROM users WHERE id = ?1", [user.id], |r| r.get(0))?;
            if already {
                return Ok(SuperadminOutcome::AlreadySuperadmin(user.id));
            }
            store::set_superadmin(tx, &admin, user.id, true)?;
            store::audit(
                tx,
                None,
                Some(&email),
                "admin.user.superadmin_granted",
                Some(("user", user.id.0)),
                &json!({ "via": "cli" }),
                &admin.client,
            )?;
            Ok(SuperadminOutcome::Promoted(user.id))
        });
    }
    let password = password.ok_or_else(|| AppError::validation("password", "is required for a new account"))?;
    let name = crate::accounts::service::check_name(name)?;
    check_password(password, "password", &email, Some(&name))?;
    let hash = hash_password(password)?;
    db.write_blocking(|tx| {
        let id = accounts_store::insert_user(tx, &email, &hash, &name)?
            .ok_or_else(|| AppError::new(ErrorCode::EmailTaken, "an account with this email already exists"))?;
        store::set_superadmin(tx, &admin, id, true)?;
        accounts_store::mark_email_verified(tx, id, &now())?;
        crate::orgs::service::create_personal_org(tx, id, &name)?;
        store::audit(
            tx,
            None,
            Some(&email),
            "admin.superadmin_created",
            Some(("user", id.0)),
            &json!({ "via": "cli" }),
            &admin.client,
        )?;
        Ok(SuperadminOutcome::Created(id))
    })
}

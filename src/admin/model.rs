//! Superadmin console types.

use rusqlite::Row;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::db::{FromRow, json_column};
use crate::ids::{AllowlistEntryId, OrgId, UserId};

/// `POST /admin/auth/login`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminLoginRequest {
    pub email: String,
    pub password: String,
    /// Required when the account has two-factor authentication.
    #[serde(default)]
    pub totp_code: Option<String>,
}

/// The admin session: who, until when, and the CSRF token for unsafe requests.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdminSession {
    pub user_id: UserId,
    pub email: String,
    pub name: String,
    pub expires_at: String,
    /// Send as `X-CSRF-Token` on unsafe requests.
    pub csrf_token: String,
}

/// A user as the console lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AdminUser {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub email_verified: bool,
    pub two_factor_enabled: bool,
    pub is_superadmin: bool,
    pub suspended_at: Option<String>,
    pub suspended_reason: Option<String>,
    pub last_login_at: Option<String>,
    pub organization_count: i64,
    pub created_at: String,
}

impl FromRow for AdminUser {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(AdminUser {
            id: row.get("id")?,
            email: row.get("email")?,
            name: row.get::<_, Option<String>>("name")?.unwrap_or_default(),
            email_verified: row.get("email_verified")?,
            two_factor_enabled: row.get("two_factor_enabled")?,
            is_superadmin: row.get("is_superadmin")?,
            suspended_at: row.get("suspended_at")?,
            suspended_reason: row.get("suspended_reason")?,
            last_login_at: row.get("last_login_at")?,
            organization_count: row.get("organization_count")?,
            created_at: row.get("created_at")?,
        })
    }
}

/// An organization as the console lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AdminOrg {
    pub id: OrgId,
    pub name: String,
    pub slug: String,
    pub plan_tier: String,
    pub status: String,
    pub suspended_at: Option<String>,
    pub suspended_reason: Option<String>,
    pub owner_id: UserId,
    pub owner_email: String,
    pub member_count: i64,
    pub bot_count: i64,
    pub created_at: String,
}

impl FromRow for AdminOrg {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(AdminOrg {
            id: row.get("id")?,
            name: row.get("name")?,
            slug: row.get("slug")?,
            plan_tier: row.get("plan_tier")?,
            status: row.get("status")?,
            suspended_at: row.get("suspended_at")?,
            suspended_reason: row.get("suspended_reason")?,
            owner_id: row.get("owner_id")?,
            owner_email: row.get("owner_email")?,
            member_count: row.get("member_count")?,
            bot_count: row.get("bot_count")?,
            created_at: row.get("created_at")?,
        })
    }
}

/// An organization membership shown in a user's detail.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AdminMembership {
    pub organization_id: OrgId,
    pub organization_name: String,
    pub role: String,
    pub organization_status: String,
}

/// A user with their organizations.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdminUserDetail {
    #[serde(flatten)]
    pub user: AdminUser,
    pub organizations: Vec<AdminMembership>,
    pub active_sessions: i64,
}

/// Search filters of the user and organization lists.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Part of the email/name (users) or name/slug (organizations).
    pub q: Option<String>,
    /// active or suspended.
    pub status: Option<String>,
}

/// `POST /admin/users/{user_id}/suspend` and `/admin/orgs/{org_id}/suspend`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuspendRequest {
    /// Why (kept with the account and in the admin audit log).
    pub reason: String,
}

/// `PUT /admin/users/{user_id}/superadmin`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuperadminRequest {
    pub is_superadmin: bool,
}

/// `PUT /admin/orgs/{org_id}/plan`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanRequest {
    /// A plan name (free, pro, enterprise or another active plan).
    #[schema(example = "pro")]
    pub plan: String,
}

/// An entry of the admin IP allowlist.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AllowlistEntry {
    pub id: AllowlistEntryId,
    /// An address or CIDR range, canonical (`10.0.0.0/8`).
    pub ip_address: String,
    pub description: Option<String>,
    pub created_by: Option<UserId>,
    pub created_at: String,
}

impl FromRow for AllowlistEntry {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(AllowlistEntry {
            id: row.get("id")?,
            ip_address: row.get("ip_address")?,
            description: row.get("description")?,
            created_by: row.get("created_by")?,
            created_at: row.get("created_at")?,
        })
    }
}

/// `POST /admin/ip-allowlist`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAllowlistEntry {
    #[schema(example = "203.0.113.0/24")]
    pub ip_address: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// A sign-in attempt on the console.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LoginAttempt {
    pub id: i64,
    pub email: String,
    pub ip_address: String,
    pub success: bool,
    pub attempted_at: String,
}

impl FromRow for LoginAttempt {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(LoginAttempt {
            id: row.get("id")?,
            email: row.get("email")?,
            ip_address: row.get("ip_address")?,
            success: row.get("success")?,
            attempted_at: row.get("attempted_at")?,
        })
    }
}

/// Filters of the login-attempt list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AttemptQuery {
    pub email: Option<String>,
    pub ip: Option<String>,
}

/// An admin audit row.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AdminAuditEntry {
    pub id: i64,
    pub user_id: Option<UserId>,
    pub user_email: Option<String>,
    pub action: String,
    pub resource_type: Option<String>,
    pub resource_id: Option<i64>,
    #[schema(value_type = Object)]
    pub details: Value,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: String,
}

impl FromRow for AdminAuditEntry {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(AdminAuditEntry {
            id: row.get("id")?,
            user_id: row.get("user_id")?,
            user_email: row.get("user_email")?,
            action: row.get("action")?,
            resource_type: row.get("resource_type")?,
            resource_id: row.get("resource_id")?,
            details: json_column(row, "details")?.unwrap_or(Value::Null),
            ip_address: row.get("ip_address")?,
            user_agent: row.get("user_agent")?,
            created_at: row.get("created_at")?,
        })
    }
}

/// Filters of the admin audit log.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AdminAuditQuery {
    /// An action, or a prefix ending in `.*`.
    pub action: Option<String>,
    pub user_id: Option<i64>,
}

/// Instance figures for the console's dashboard.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InstanceStats {
    pub users: i64,
    pub users_suspended: i64,
    pub users_verified: i64,
    pub users_with_two_factor: i64,
    pub superadmins: i64,
    pub organizations: i64,
    pub organizations_suspended: i64,
    /// Organizations per plan.
    #[schema(value_type = Object)]
    pub organizations_by_plan: Value,
    pub bots: i64,
    pub active_sessions: i64,
    pub active_api_tokens: i64,
    /// Jobs per status.
    #[schema(value_type = Object)]
    pub jobs: Value,
    /// Queued emails per status.
    #[schema(value_type = Object)]
    pub emails: Value,
    pub audit_log_rows: i64,
    pub database_bytes: i64,
}

/// `GET /instance`: what the sign-up page needs to know; no secrets.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InstanceInfo {
    /// No account exists yet: the next sign-up becomes the owner of its
    /// organization and a superadmin.
    pub first_run: bool,
    pub signup_policy: super::instance::SignupPolicy,
    /// Whether this server can send email; without it, links are shown to
    /// copy instead.
    pub smtp_configured: bool,
    /// The address links point to.
    pub public_url: String,
    /// Billing is on (`billing.enabled`): plans, subscriptions and billing screens.
    pub billing_enabled: bool,
}

/// An SMTP server as the console shows it: the password only as a flag.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SmtpView {
    pub host: String,
    pub port: u16,
    /// `starttls`, `tls` or `none`.
    #[schema(value_type = String)]
    pub tls: crate::config::SmtpTls,
    pub username: Option<String>,
    /// Whether a password is stored (it is never returned).
    pub password_set: bool,
    pub from: String,
}

/// `GET /admin/settings`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InstanceSettings {
    pub signup_policy: super::instance::SignupPolicy,
    /// The public URL set in the console (overrides the configuration file).
    pub public_url: Option<String>,
    /// `http.public_url` of the configuration file, the default.
    pub public_url_config_file: Option<String>,
    /// The public URL in force, used in email links.
    pub public_url_effective: String,
    /// The SMTP server set in the console (overrides the configuration file).
    pub smtp: Option<SmtpView>,
    /// `[smtp]` of the configuration file, the default (read-only here).
    pub smtp_config_file: Option<SmtpView>,
    /// Which SMTP server is in force.
    pub smtp_source: super::instance::SmtpSource,
}

/// The SMTP part of `PUT /admin/settings`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmtpInput {
    #[schema(example = "smtp.example.com")]
    pub host: String,
    /// 1–65535; default 587.
    #[serde(default)]
    pub port: Option<i64>,
    /// `starttls` (default), `tls` or `none`.
    #[serde(default)]
    pub tls: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    /// Absent: keep the stored password; `null` or `""`: remove it.
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<String>)]
    pub password: Option<Option<String>>,
    /// Sender, `Name <address>` or `address`.
    #[serde(default)]
    pub from: Option<String>,
}

/// `PUT /admin/settings`: absent fields stay as they are; `null` clears a
/// console value (the configuration file applies again).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateInstanceSettings {
    /// `open`, `invite_only` or `closed`.
    #[serde(default)]
    pub signup_policy: Option<String>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<String>)]
    pub public_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<SmtpInput>)]
    pub smtp: Option<Option<SmtpInput>>,
}

/// `POST /admin/settings/test-email`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestEmailRequest {
    #[schema(example = "ops@example.com")]
    pub to: String,
}

/// The SMTP server accepted the test email.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TestEmailResult {
    pub sent: bool,
    pub to: String,
    pub smtp_host: String,
    pub source: super::instance::SmtpSource,
}

/// `POST /admin/users`: an account created by a superadmin (the way in
/// when sign-up is closed). It gets a personal organization and needs no
/// email confirmation.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    #[schema(example = "grace@example.com")]
    pub email: String,
    #[schema(example = "Grace Hopper")]
    pub name: String,
    pub password: String,
    #[serde(default)]
    pub is_superadmin: bool,
}

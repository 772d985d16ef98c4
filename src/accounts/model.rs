//! Account types: the authenticated principal and the DTOs of the auth routes.

use rusqlite::Row;
use serde::{Deserialize, Serialize};

use crate::db::FromRow;
use crate::ids::{ApiTokenId, BotId, OrgId, SessionId, UserId};
use crate::permissions::PermissionSet;

/// A credential as presented by the client, not yet checked.
#[derive(Debug, Clone)]
pub enum Credential {
    /// The session cookie's value.
    Session(String),
    /// The bearer token (`bb_…`).
    ApiToken(String),
}

/// A checked caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: UserId,
    pub email: String,
    pub is_superadmin: bool,
    pub via: Via,
}

/// How the caller authenticated.
#[derive(Debug, Clone)]
pub enum Via {
    Session { session_id: SessionId },
    ApiToken(TokenGrant),
}

/// What an API token grants: one organization, optionally one bot, and scopes.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    pub id: ApiTokenId,
    pub org_id: OrgId,
    pub bot_id: Option<BotId>,
    pub scopes: PermissionSet,
}

impl Principal {
    /// The session id when authenticated by cookie.
    #[must_use]
    pub fn session_id(&self) -> Option<SessionId> {
        match self.via {
            Via::Session { session_id } => Some(session_id),
            Via::ApiToken(_) => None,
        }
    }
}

/// A user as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub email_verified: bool,
    pub two_factor_enabled: bool,
    pub is_superadmin: bool,
    /// The UI language the user chose (`en`, `de`); null until they pick one
    /// (the UI then follows the browser's language).
    #[schema(example = "de")]
    pub locale: Option<String>,
    pub created_at: String,
}

impl FromRow for User {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(User {
            id: row.get("id")?,
            email: row.get("email")?,
            name: row.get::<_, Option<String>>("name")?.unwrap_or_default(),
            email_verified: row.get("email_verified")?,
            two_factor_enabled: row.get("two_factor_enabled")?,
            is_superadmin: row.get("is_superadmin")?,
            locale: row.get("locale")?,
            created_at: row.get("created_at")?,
        })
    }
}

/// `POST /auth/register`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Stored lower-cased; must be unique.
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// 10–128 characters, with a letter and a digit.
    pub password: String,
    #[schema(example = "Ada Lovelace")]
    pub name: String,
    /// The token of the invitation link being followed: the account joins
    /// that organization (and gets no personal one); needed when the sign-up
    /// policy is `invite_only`.
    #[serde(default)]
    pub invitation_token: Option<String>,
}

/// `POST /auth/login`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// The authenticator's 6-digit code, or a backup code, when the account
    /// has two-factor authentication (the first attempt without it answers
    /// 401 `two_factor_required`).
    #[serde(default)]
    pub totp_code: Option<String>,
}

/// `PATCH /me`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProfileRequest {
    #[schema(example = "Ada Lovelace")]
    pub name: Option<String>,
    /// The UI language: one of the locales the UI has a catalog for
    /// (`en`, `de`); anything else is refused naming `locale`.
    #[schema(example = "de")]
    pub locale: Option<String>,
}

/// `POST /me/password`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    /// Same rules as at sign-up.
    pub new_password: String,
}

/// A browser session of the current user.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionInfo {
    pub id: SessionId,
    /// "Chrome on Linux"-style label.
    pub device_info: Option<String>,
    pub ip_address: Option<String>,
    pub created_at: String,
    pub last_seen_at: String,
    pub expires_at: String,
    /// The session this request was made with.
    pub current: bool,
}

/// How many sessions were ended.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RevokedCount {
    pub revoked: usize,
}

/// `POST /auth/password-reset/request`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    pub email: String,
}

/// `POST /auth/password-reset`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    /// The token from the emailed link.
    pub token: String,
    pub password: String,
}

/// `POST /auth/verify-email`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// The token from the emailed link.
    pub token: String,
}

/// An acknowledgement that says nothing about whether the account exists.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    pub message: &'static str,
}

/// Two-factor state of the current user.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TwoFactorStatus {
    pub enabled: bool,
    pub enabled_at: Option<String>,
    /// Setup was started and awaits a code to be enabled.
    pub pending_setup: bool,
    pub backup_codes_remaining: i64,
}

/// The answer to `POST /me/2fa/setup`: scan the QR code (or type the secret)
/// into an authenticator app, then enable with a code.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TwoFactorSetup {
    /// Base32 secret for manual entry.
    pub secret: String,
    /// `otpauth://totp/…` URI.
    pub otpauth_uri: String,
    /// The URI as a QR code, an SVG document.
    pub qr_svg: String,
}

/// `POST /me/2fa/enable` and `POST /me/2fa/backup-codes`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TwoFactorCodeRequest {
    /// A current 6-digit authenticator code.
    pub code: String,
}

/// `POST /me/2fa/disable`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisableTwoFactorRequest {
    pub password: String,
    /// An authenticator code or a backup code.
    pub code: String,
}

/// Ten single-use backup codes, shown once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BackupCodes {
    pub backup_codes: Vec<String>,
}

/// An organization the user belongs to, with the user's role there.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Membership {
    pub id: OrgId,
    pub name: String,
    pub slug: String,
    pub role: String,
    /// The permissions the role grants.
    pub permissions: Vec<&'static str>,
}

/// `GET /me` and the answer to sign-up and sign-in.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    pub user: User,
    pub organizations: Vec<Membership>,
    /// Send as `X-CSRF-Token` on unsafe requests authenticated by the session cookie.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
}

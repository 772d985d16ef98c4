//! SQL of users, sessions and API-token lookup.

use rusqlite::{Connection, OptionalExtension, params};

use super::model::{TokenGrant, User};
use crate::db::query_opt;
use crate::ids::{ApiTokenId, SessionId, UserId};
use crate::permissions::PermissionSet;

const USER_COLUMNS: &str = "id, email, name, email_verified, two_factor_enabled, is_superadmin, locale, created_at";

/// A live session and its user.
#[derive(Debug)]
pub struct SessionRow {
    pub session_id: SessionId,
    pub user_id: UserId,
    pub email: String,
    pub is_superadmin: bool,
    pub user_suspended: bool,
    pub last_seen_at: String,
}

/// A live API token and its creator.
#[derive(Debug)]
pub struct TokenRow {
    pub grant: TokenGrant,
    pub user_id: UserId,
    pub email: String,
    pub is_superadmin: bool,
    pub user_suspended: bool,
    pub last_used_at: Option<String>,
}

/// The session whose token hashes to `token_hash`, if live at `now`.
pub fn find_live_session(conn: &Connection, token_hash: &[u8], now: &str) -> rusqlite::Result<Option<SessionRow>> {
    conn.prepare_cached(
        "SELECT s.id, s.user_id, u.email, u.is_superadmin, u.suspended_at IS NOT NULL, s.last_seen_at
         FROM user_sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = ?1 AND s.revoked_at IS NULL AND s.expires_at > ?2",
    )?
    .query_row(params![token_hash, now], |r| {
        Ok(SessionRow {
            session_id: r.get(0)?,
            user_id: r.get(1)?,
            email: r.get(2)?,
            is_superadmin: r.get(3)?,
            user_suspended: r.get(4)?,
            last_seen_at: r.get(5)?,
        })
    })
    .optional()
}

/// The API token whose MAC is `token_mac`, if live at `now`.
pub fn find_live_token(conn: &Connection, token_mac: &[u8], now: &str) -> rusqlite::Result<Option<TokenRow>> {
    conn.prepare_cached(
        "SELECT t.id, t.organization_id, t.bot_id, t.scopes, t.user_id, u.email, u.is_superadmin,
                u.suspended_at IS NOT NULL, t.last_used_at
         FROM api_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.token_hash = ?1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?2)",
    )?
    .query_row(params![token_mac, now], |r| {
        Ok(TokenRow {
            grant: TokenGrant {
                id: r.get(0)?,
                org_id: r.get(1)?,
                bot_id: r.get(2)?,
                scopes: PermissionSet::from_json(&r.get::<_, String>(3)?),
            },
            user_id: r.get(4)?,
            email: r.get(5)?,
            is_superadmin: r.get(6)?,
            user_suspended: r.get(7)?,
            last_used_at: r.get(8)?,
        })
    })
    .optional()
}

/// Records activity on a session and slides its expiry.
pub fn touch_session(conn: &Connection, id: SessionId, now: &str, expires_at: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE user_sessions SET last_seen_at = ?2, expires_at = ?3 WHERE id = ?1",
        params![id, now, expires_at],
    )?;
    Ok(())
}

/// Records use of an API token.
pub fn touch_token(conn: &Connection, id: ApiTokenId, now: &str) -> rusqlite::Result<()> {
    conn.execute("UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1", params![id, now])?;
    Ok(())
}

/// Inserts a user; `None` when the email is taken.
pub fn insert_user(
    conn: &Connection,
    email: &str,
    password_hash: &str,
    name: &str,
) -> rusqlite::Result<Option<UserId>> {
    conn.query_row(
        "INSERT INTO users (email, password_hash, name) VALUES (?1, ?2, ?3) ON CONFLICT (email) DO NOTHING RETURNING id",
        params![email, password_hash, name],
        |r| r.get(0),
    )
    .optional()
}

/// What login needs to know about a user.
#[derive(Debug)]
pub struct LoginRow {
    pub user_id: UserId,
    pub password_hash: String,
    pub two_factor_enabled: bool,
    pub suspended: bool,
    /// Whether the email address is confirmed, or the account signed in
    /// before confirmation was required (accounts made before sign-up
    /// answered uniformly were signed in at once and keep working).
    pub may_sign_in: bool,
}

/// The login facts of the user with `email` (lower-cased).
pub fn find_login(conn: &Connection, email: &str) -> rusqlite::Result<Option<LoginRow>> {
    conn.query_row(
        "SELECT u.id, u.password_hash, u.two_factor_enabled, u.suspended_at IS NOT NULL,
                u.email_verified = 1 OR EXISTS (SELECT 1 FROM user_sessions s WHERE s.user_id = u.id)
         FROM users u WHERE u.email = ?1",
        [email],
        |r| {
            Ok(LoginRow {
                user_id: r.get(0)?,
                password_hash: r.get(1)?,
                two_factor_enabled: r.get(2)?,
                suspended: r.get(3)?,
                may_sign_in: r.get(4)?,
            })
        },
    )
    .optional()
}

/// A new browser session.
pub struct NewSession<'a> {
    pub user_id: UserId,
    pub token_hash: &'a [u8],
    pub device_info: Option<&'a str>,
    pub ip_address: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub now: &'a str,
    pub expires_at: &'a str,
}

pub fn insert_session(conn: &Connection, s: &NewSession<'_>) -> rusqlite::Result<SessionId> {
    conn.query_row(
        "INSERT INTO user_sessions (user_id, token_hash, device_info, ip_address, user_agent, created_at, last_seen_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7) RETURNING id",
        params![s.user_id, s.token_hash, s.device_info, s.ip_address, s.user_agent, s.now, s.expires_at],
        |r| r.get(0),
    )
}

/// Revokes one session of a user; false when there was none live.
pub fn revoke_session(conn: &Connection, user_id: UserId, id: SessionId, now: &str) -> rusqlite::Result<bool> {
    let n = conn.execute(
        "UPDATE user_sessions SET revoked_at = ?3 WHERE id = ?1 AND user_id = ?2 AND revoked_at IS NULL",
        params![id, user_id, now],
    )?;
    Ok(n == 1)
}

pub fn find_user(conn: &Connection, id: UserId) -> rusqlite::Result<Option<User>> {
    query_opt(conn, &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"), [id])
}

/// Records a successful sign-in.
pub fn set_last_login(conn: &Connection, id: UserId, now: &str) -> rusqlite::Result<()> {
    conn.execute("UPDATE users SET last_login_at = ?2 WHERE id = ?1", params![id, now])?;
    Ok(())
}

pub fn update_name(conn: &Connection, id: UserId, name: &str) -> rusqlite::Result<()> {
    conn.execute("UPDATE users SET name = ?2 WHERE id = ?1", params![id, name])?;
    Ok(())
}

pub fn update_locale(conn: &Connection, id: UserId, locale: &str) -> rusqlite::Result<()> {
    conn.execute("UPDATE users SET locale = ?2 WHERE id = ?1", params![id, locale])?;
    Ok(())
}

pub fn password_hash_of(conn: &Connection, id: UserId) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT password_hash FROM users WHERE id = ?1", [id], |r| r.get(0)).optional()
}

pub fn set_password(conn: &Connection, id: UserId, hash: &str) -> rusqlite::Result<()> {
    conn.execute("UPDATE users SET password_hash = ?2 WHERE id = ?1", params![id, hash])?;
    Ok(())
}

/// Revokes every live session of a user except `keep`; returns how many.
pub fn revoke_sessions(conn: &Connection, id: UserId, keep: Option<SessionId>, now: &str) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE user_sessions SET revoked_at = ?3
         WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?3 AND id IS NOT ?2",
        params![id, keep, now],
    )
}

/// A live session as listed to its user.
#[derive(Debug)]
pub struct LiveSession {
    pub id: SessionId,
    pub device_info: Option<String>,
    pub ip_address: Option<String>,
    pub created_at: String,
    pub last_seen_at: String,
    pub expires_at: String,
}

/// The user's live sessions, newest first, after the cursor id.
pub fn live_sessions(
    conn: &Connection,
    id: UserId,
    now: &str,
    after: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<LiveSession>> {
    conn.prepare_cached(
        "SELECT id, device_info, ip_address, created_at, last_seen_at, expires_at FROM user_sessions
         WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2 AND (?3 IS NULL OR id < ?3)
         ORDER BY id DESC LIMIT ?4",
    )?
    .query_map(params![id, now, after, limit], |r| {
        Ok(LiveSession {
            id: r.get(0)?,
            device_info: r.get(1)?,
            ip_address: r.get(2)?,
            created_at: r.get(3)?,
            last_seen_at: r.get(4)?,
            expires_at: r.get(5)?,
        })
    })?
    .collect()
}

/// Purpose of an emailed token (`password_reset_tokens.purpose`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    PasswordReset,
    EmailVerification,
}

impl TokenPurpose {
    fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::PasswordReset => "password_reset",
            TokenPurpose::EmailVerification => "email_verification",
        }
    }
}

pub fn insert_email_token(
    conn: &Connection,
    user: UserId,
    purpose: TokenPurpose,
    token_hash: &[u8],
    expires_at: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO password_reset_tokens (user_id, purpose, token_hash, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![user, purpose.as_str(), token_hash, expires_at],
    )?;
    Ok(())
}

/// Marks the user's unused tokens of `purpose` as used (a newer one replaces them).
pub fn invalidate_email_tokens(
    conn: &Connection,
    user: UserId,
    purpose: TokenPurpose,
    now: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE password_reset_tokens SET used_at = ?3 WHERE user_id = ?1 AND purpose = ?2 AND used_at IS NULL",
        params![user, purpose.as_str(), now],
    )?;
    Ok(())
}

/// An emailed token found by its hash.
#[derive(Debug)]
pub struct EmailTokenRow {
    pub id: i64,
    pub user_id: UserId,
    pub email: String,
    pub expires_at: String,
    pub used: bool,
}

pub fn find_email_token(
    conn: &Connection,
    token_hash: &[u8],
    purpose: TokenPurpose,
) -> rusqlite::Result<Option<EmailTokenRow>> {
    conn.query_row(
        "SELECT t.id, t.user_id, u.email, t.expires_at, t.used_at IS NOT NULL
         FROM password_reset_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.token_hash = ?1 AND t.purpose = ?2",
        params![token_hash, purpose.as_str()],
        |r| {
            Ok(EmailTokenRow {
                id: r.get(0)?,
                user_id: r.get(1)?,
                email: r.get(2)?,
                expires_at: r.get(3)?,
                used: r.get(4)?,
            })
        },
    )
    .optional()
}

/// Uses a token once; false when it was used meanwhile.
pub fn use_email_token(conn: &Connection, id: i64, now: &str) -> rusqlite::Result<bool> {
    Ok(conn
        .execute("UPDATE password_reset_tokens SET used_at = ?2 WHERE id = ?1 AND used_at IS NULL", params![id, now])?
        == 1)
}

pub fn mark_email_verified(conn: &Connection, id: UserId, now: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE users SET email_verified = 1, email_verified_at = coalesce(email_verified_at, ?2) WHERE id = ?1",
        params![id, now],
    )?;
    Ok(())
}

/// Who has this (lower-cased) email.
#[derive(Debug)]
pub struct EmailOwner {
    pub id: UserId,
    pub name: String,
    pub suspended: bool,
}

pub fn find_by_email(conn: &Connection, email: &str) -> rusqlite::Result<Option<EmailOwner>> {
    conn.query_row(
        "SELECT id, coalesce(name, ''), suspended_at IS NOT NULL FROM users WHERE email = ?1",
        [email],
        |r| Ok(EmailOwner { id: r.get(0)?, name: r.get(1)?, suspended: r.get(2)? }),
    )
    .optional()
}

/// The TOTP state of a user.
#[derive(Debug)]
pub struct TotpState {
    pub email: String,
    pub secret: Option<Vec<u8>>,
    pub enabled: bool,
    pub enabled_at: Option<String>,
    pub last_step: Option<i64>,
}

pub fn totp_state(conn: &Connection, id: UserId) -> rusqlite::Result<Option<TotpState>> {
    conn.query_row(
        "SELECT email, totp_secret_encrypted, two_factor_enabled, two_factor_enabled_at, totp_last_step
         FROM users WHERE id = ?1",
        [id],
        |r| {
            Ok(TotpState {
                email: r.get(0)?,
                secret: r.get(1)?,
                enabled: r.get(2)?,
                enabled_at: r.get(3)?,
                last_step: r.get(4)?,
            })
        },
    )
    .optional()
}

/// Stores a new (not yet enabled) encrypted TOTP secret.
pub fn set_pending_totp_secret(conn: &Connection, id: UserId, sealed: &[u8]) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE users SET totp_secret_encrypted = ?2, totp_last_step = NULL WHERE id = ?1 AND two_factor_enabled = 0",
        params![id, sealed],
    )?;
    Ok(())
}

/// Records the time step of an accepted code: codes of that step and earlier
/// are refused from now on.
pub fn set_totp_step(conn: &Connection, id: UserId, step: i64) -> rusqlite::Result<()> {
    conn.execute("UPDATE users SET totp_last_step = ?2 WHERE id = ?1", params![id, step])?;
    Ok(())
}

pub fn enable_two_factor(conn: &Connection, id: UserId, now: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE users SET two_factor_enabled = 1, two_factor_enabled_at = ?2 WHERE id = ?1",
        params![id, now],
    )?;
    Ok(())
}

pub fn disable_two_factor(conn: &Connection, id: UserId) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE users SET two_factor_enabled = 0, two_factor_enabled_at = NULL, totp_secret_encrypted = NULL,
                totp_last_step = NULL WHERE id = ?1",
        [id],
    )?;
    conn.execute("DELETE FROM two_factor_backup_codes WHERE user_id = ?1", [id])?;
    Ok(())
}

/// Replaces the user's backup codes with new hashes.
pub fn replace_backup_codes(conn: &Connection, id: UserId, hashes: &[[u8; 32]]) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM two_factor_backup_codes WHERE user_id = ?1", [id])?;
    let mut insert = conn.prepare_cached("INSERT INTO two_factor_backup_codes (user_id, code_hash) VALUES (?1, ?2)")?;
    for hash in hashes {
        insert.execute(params![id, hash.as_slice()])?;
    }
    Ok(())
}

/// Uses a backup code once; false when it does not exist or was used.
pub fn use_backup_code(conn: &Connection, id: UserId, hash: &[u8], now: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE two_factor_backup_codes SET used_at = ?3 WHERE user_id = ?1 AND code_hash = ?2 AND used_at IS NULL",
        params![id, hash, now],
    )? == 1)
}

pub fn backup_codes_remaining(conn: &Connection, id: UserId) -> rusqlite::Result<i64> {
    conn.query_row("SELECT count(*) FROM two_factor_backup_codes WHERE user_id = ?1 AND used_at IS NULL", [id], |r| {
        r.get(0)
    })
}

/// Whether any account exists (the first sign-up of an instance is decided
/// on this, inside the sign-up's write transaction).
pub fn any_user(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row("SELECT EXISTS (SELECT 1 FROM users)", [], |r| r.get(0))
}

/// Makes the first account of an instance a superadmin.
pub fn make_first_superadmin(conn: &Connection, id: UserId) -> rusqlite::Result<()> {
    conn.execute("UPDATE users SET is_superadmin = 1 WHERE id = ?1", [id])?;
    Ok(())
}

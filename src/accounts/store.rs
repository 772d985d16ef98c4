//! SQL of users, sessions and API-token lookup.

use rusqlite::{Connection, OptionalExtension, params};

use super::model::{TokenGrant, User};
use crate::db::query_opt;
use crate::ids::{ApiTokenId, SessionId, UserId};
use crate::permissions::PermissionSet;

const USER_COLUMNS: &str = "id, email, name, email_verified, two_factor_enabled, is_superadmin, created_at";

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
}

/// The login facts of the user with `email` (lower-cased).
pub fn find_login(conn: &Connection, email: &str) -> rusqlite::Result<Option<LoginRow>> {
    conn.query_row(
        "SELECT id, password_hash, two_factor_enabled, suspended_at IS NOT NULL FROM users WHERE email = ?1",
        [email],
        |r| {
            Ok(LoginRow {
                user_id: r.get(0)?,
                password_hash: r.get(1)?,
                two_factor_enabled: r.get(2)?,
                suspended: r.get(3)?,
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

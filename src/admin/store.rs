//! SQL of the superadmin console. Functions reading or changing data across
//! organizations take an [`Admin`] — the proof only the admin extractor
//! (and the CLI) can build.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::model::{AdminAuditEntry, AdminMembership, AdminOrg, AdminUser, AllowlistEntry, LoginAttempt};
use super::scope::Admin;
use crate::db::{query_all, query_opt};
use crate::http::ClientInfo;
use crate::ids::{AllowlistEntryId, OrgId, UserId};

/// Appends to the admin audit log.
pub fn audit(
    conn: &Connection,
    user: Option<UserId>,
    email: Option<&str>,
    action: &str,
    resource: Option<(&str, i64)>,
    details: &Value,
    client: &ClientInfo,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO admin_audit_log (user_id, user_email, action, resource_type, resource_id, details, ip_address, user_agent)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        user,
        email,
        action,
        resource.map(|r| r.0),
        resource.map(|r| r.1),
        details.to_string(),
        client.ip,
        client.user_agent
    ])?;
    Ok(())
}

/// Active allowlist entries.
pub fn allowlist(conn: &Connection) -> rusqlite::Result<Vec<AllowlistEntry>> {
    query_all(
        conn,
        "SELECT id, ip_address, description, created_by, created_at FROM admin_ip_whitelist WHERE is_active = 1 ORDER BY id",
        [],
    )
}

/// Adds an entry; `None` when it is already on the list.
pub fn add_allowlist(
    conn: &Connection,
    ip: &str,
    description: Option<&str>,
    by: Option<UserId>,
) -> rusqlite::Result<Option<AllowlistEntryId>> {
    conn.query_row(
        "INSERT INTO admin_ip_whitelist (ip_address, description, created_by) VALUES (?1, ?2, ?3)
         ON CONFLICT DO NOTHING RETURNING id",
        params![ip, description, by],
        |r| r.get(0),
    )
    .optional()
}

/// Deactivates an entry; false when there was no active one.
pub fn remove_allowlist(conn: &Connection, _admin: &Admin, id: AllowlistEntryId) -> rusqlite::Result<bool> {
    Ok(conn.execute("UPDATE admin_ip_whitelist SET is_active = 0 WHERE id = ?1 AND is_active = 1", [id])? == 1)
}

/// Records a console sign-in attempt.
pub fn record_attempt(conn: &Connection, email: &str, ip: &str, success: bool) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO admin_login_attempts (email, ip_address, success) VALUES (?1, ?2, ?3)",
        params![email, ip, success],
    )?;
    Ok(())
}

/// How many failures, and the oldest one's time.
pub type Failures = (i64, Option<String>);

/// Failures since `since` for the email (after its last success) and for
/// the IP.
pub fn failures(conn: &Connection, email: &str, ip: &str, since: &str) -> rusqlite::Result<(Failures, Failures)> {
    let by_email = conn.query_row(
        "SELECT count(*), min(attempted_at) FROM admin_login_attempts
         WHERE email = ?1 AND success = 0 AND attempted_at >= ?2
           AND attempted_at > coalesce((SELECT max(attempted_at) FROM admin_login_attempts WHERE email = ?1 AND success = 1), '')",
        params![email, since],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let by_ip = conn.query_row(
        "SELECT count(*), min(attempted_at) FROM admin_login_attempts WHERE ip_address = ?1 AND success = 0 AND attempted_at >= ?2",
        params![ip, since],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok((by_email, by_ip))
}

/// A new admin session.
pub fn insert_session(
    conn: &Connection,
    user: UserId,
    token_hash: &[u8],
    client: &ClientInfo,
    expires_at: &str,
) -> rusqlite::Result<i64> {
    conn.query_row(
        "INSERT INTO admin_sessions (user_id, token_hash, ip_address, user_agent, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)
         RETURNING id",
        params![user, token_hash, client.ip, client.user_agent, expires_at],
        |r| r.get(0),
    )
}

/// A live admin session of a superadmin who is not suspended.
#[derive(Debug, Clone)]
pub struct LiveAdminSession {
    pub id: i64,
    pub user_id: UserId,
    pub email: String,
    pub name: String,
    pub expires_at: String,
}

pub fn find_session(conn: &Connection, token_hash: &[u8], now: &str) -> rusqlite::Result<Option<LiveAdminSession>> {
    conn.prepare_cached(
        "SELECT s.id, s.user_id, u.email, coalesce(u.name, ''), s.expires_at
         FROM admin_sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = ?1 AND s.revoked_at IS NULL AND s.expires_at > ?2
           AND u.is_superadmin = 1 AND u.suspended_at IS NULL",
    )?
    .query_row(params![token_hash, now], |r| {
        Ok(LiveAdminSession {
            id: r.get(0)?,
            user_id: r.get(1)?,
            email: r.get(2)?,
            name: r.get(3)?,
            expires_at: r.get(4)?,
        })
    })
    .optional()
}

pub fn revoke_session(conn: &Connection, id: i64, now: &str) -> rusqlite::Result<()> {
    conn.execute("UPDATE admin_sessions SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL", params![id, now])?;
    Ok(())
}

/// Ends every admin session of a user (suspension, demotion).
pub fn revoke_sessions_of(conn: &Connection, _admin: &Admin, user: UserId, now: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE admin_sessions SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
        params![user, now],
    )?;
    Ok(())
}

const USER_SELECT: &str = "SELECT u.id, u.email, u.name, u.email_verified, u.two_factor_enabled, u.is_superadmin,
                                  u.suspended_at, u.suspended_reason, u.last_login_at, u.created_at,
                                  (SELECT count(*) FROM organization_members m WHERE m.user_id = u.id) AS organization_count
                           FROM users u";

pub fn users(
    conn: &Connection,
    _admin: &Admin,
    q: Option<&str>,
    suspended: Option<bool>,
    after: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<AdminUser>> {
    query_all(
        conn,
        &format!(
            "{USER_SELECT} WHERE (?1 IS NULL OR instr(u.email, ?1) > 0 OR instr(lower(coalesce(u.name, '')), ?1) > 0)
               AND (?2 IS NULL OR (u.suspended_at IS NOT NULL) = ?2) AND (?3 IS NULL OR u.id > ?3)
             ORDER BY u.id LIMIT ?4"
        ),
        params![q, suspended, after, limit],
    )
}

pub fn user(conn: &Connection, _admin: &Admin, id: UserId) -> rusqlite::Result<Option<AdminUser>> {
    query_opt(conn, &format!("{USER_SELECT} WHERE u.id = ?1"), [id])
}

pub fn memberships(conn: &Connection, _admin: &Admin, id: UserId) -> rusqlite::Result<Vec<AdminMembership>> {
    conn.prepare_cached(
        "SELECT o.id, o.name, r.name, o.status FROM organization_members m
         JOIN organizations o ON o.id = m.organization_id JOIN roles r ON r.id = m.role_id
         WHERE m.user_id = ?1 ORDER BY o.id",
    )?
    .query_map([id], |r| {
        Ok(AdminMembership {
            organization_id: r.get(0)?,
            organization_name: r.get(1)?,
            role: r.get(2)?,
            organization_status: r.get(3)?,
        })
    })?
    .collect()
}

pub fn active_sessions(conn: &Connection, _admin: &Admin, id: UserId, now: &str) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT count(*) FROM user_sessions WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2",
        params![id, now],
        |r| r.get(0),
    )
}

pub fn set_user_suspension(
    conn: &Connection,
    _admin: &Admin,
    id: UserId,
    at: Option<&str>,
    reason: Option<&str>,
) -> rusqlite::Result<()> {
    conn.execute("UPDATE users SET suspended_at = ?2, suspended_reason = ?3 WHERE id = ?1", params![id, at, reason])?;
    Ok(())
}

pub fn set_superadmin(conn: &Connection, _admin: &Admin, id: UserId, on: bool) -> rusqlite::Result<()> {
    conn.execute("UPDATE users SET is_superadmin = ?2 WHERE id = ?1", params![id, on])?;
    Ok(())
}

const ORG_SELECT: &str = "SELECT o.id, o.name, o.slug, o.plan_tier, o.status, o.suspended_at, o.suspended_reason, o.owner_id,
                                 u.email AS owner_email, o.created_at,
                                 (SELECT count(*) FROM organization_members m WHERE m.organization_id = o.id) AS member_count,
                                 (SELECT count(*) FROM bots b WHERE b.organization_id = o.id) AS bot_count
                          FROM organizations o JOIN users u ON u.id = o.owner_id";

pub fn orgs(
    conn: &Connection,
    _admin: &Admin,
    q: Option<&str>,
    status: Option<&str>,
    after: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<AdminOrg>> {
    query_all(
        conn,
        &format!(
            "{ORG_SELECT} WHERE (?1 IS NULL OR instr(lower(o.name), ?1) > 0 OR instr(o.slug, ?1) > 0)
               AND (?2 IS NULL OR o.status = ?2) AND (?3 IS NULL OR o.id > ?3)
             ORDER BY o.id LIMIT ?4"
        ),
        params![q, status, after, limit],
    )
}

pub fn org(conn: &Connection, _admin: &Admin, id: OrgId) -> rusqlite::Result<Option<AdminOrg>> {
    query_opt(conn, &format!("{ORG_SELECT} WHERE o.id = ?1"), [id])
}

pub fn set_org_status(
    conn: &Connection,
    _admin: &Admin,
    id: OrgId,
    status: &str,
    at: Option<&str>,
    reason: Option<&str>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE organizations SET status = ?2, suspended_at = ?3, suspended_reason = ?4 WHERE id = ?1",
        params![id, status, at, reason],
    )?;
    Ok(())
}

/// Whether an active plan of this name exists.
pub fn plan_exists(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.query_row("SELECT EXISTS (SELECT 1 FROM subscription_plans WHERE name = ?1 AND is_active = 1)", [name], |r| {
        r.get(0)
    })
}

pub fn set_plan(conn: &Connection, _admin: &Admin, id: OrgId, plan: &str) -> rusqlite::Result<()> {
    conn.execute("UPDATE organizations SET plan_tier = ?2 WHERE id = ?1", params![id, plan])?;
    Ok(())
}

pub fn attempts(
    conn: &Connection,
    _admin: &Admin,
    email: Option<&str>,
    ip: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<LoginAttempt>> {
    query_all(
        conn,
        "SELECT id, email, ip_address, success, attempted_at FROM admin_login_attempts
         WHERE (?1 IS NULL OR email = ?1) AND (?2 IS NULL OR ip_address = ?2) AND (?3 IS NULL OR id < ?3)
         ORDER BY id DESC LIMIT ?4",
        params![email, ip, before, limit],
    )
}

pub fn audit_log(
    conn: &Connection,
    _admin: &Admin,
    action: Option<&str>,
    action_prefix: Option<&str>,
    user: Option<i64>,
    before: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<AdminAuditEntry>> {
    query_all(
        conn,
        "SELECT id, user_id, user_email, action, resource_type, resource_id, details, ip_address, user_agent, created_at
         FROM admin_audit_log
         WHERE (?1 IS NULL OR action = ?1) AND (?2 IS NULL OR substr(action, 1, length(?2)) = ?2)
           AND (?3 IS NULL OR user_id = ?3) AND (?4 IS NULL OR id < ?4)
         ORDER BY id DESC LIMIT ?5",
        params![action, action_prefix, user, before, limit],
    )
}

/// `SELECT count(*)` of a fixed query.
pub fn count(conn: &Connection, sql: &str, now: &str) -> rusqlite::Result<i64> {
    let mut stmt = conn.prepare_cached(sql)?;
    if stmt.parameter_count() == 1 { stmt.query_row([now], |r| r.get(0)) } else { stmt.query_row([], |r| r.get(0)) }
}

/// `{key: count}` of a fixed two-column grouping query.
pub fn grouped(conn: &Connection, sql: &str) -> rusqlite::Result<Value> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    let mut map = serde_json::Map::new();
    for row in rows {
        let (k, v) = row?;
        map.insert(k, Value::from(v));
    }
    Ok(Value::Object(map))
}

//! SQL of API tokens.

use rusqlite::{Connection, params};

use super::model::ApiToken;
use crate::db::{query_all, query_opt};
use crate::http::Tenant;
use crate::ids::{ApiTokenId, BotId};
use crate::permissions::PermissionSet;

const SELECT: &str = "SELECT t.id, t.token_name, t.token_prefix, t.scopes, t.bot_id, t.user_id,
                             coalesce(nullif(u.name, ''), u.email) AS created_by, t.last_used_at, t.expires_at,
                             t.revoked_at, t.created_at,
                             CASE WHEN t.revoked_at IS NOT NULL THEN 'revoked'
                                  WHEN t.expires_at IS NOT NULL AND t.expires_at <= ?2 THEN 'expired'
                                  ELSE 'active' END AS status
                      FROM api_tokens t JOIN users u ON u.id = t.user_id";

pub fn list(
    conn: &Connection,
    tenant: &Tenant,
    now: &str,
    before: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<ApiToken>> {
    query_all(
        conn,
        &format!("{SELECT} WHERE t.organization_id = ?1 AND (?3 IS NULL OR t.id < ?3) ORDER BY t.id DESC LIMIT ?4"),
        params![tenant.org_id(), now, before, limit],
    )
}

pub fn find(conn: &Connection, tenant: &Tenant, id: ApiTokenId, now: &str) -> rusqlite::Result<Option<ApiToken>> {
    query_opt(conn, &format!("{SELECT} WHERE t.organization_id = ?1 AND t.id = ?3"), params![tenant.org_id(), now, id])
}

/// A new token row.
pub struct NewToken<'a> {
    pub name: &'a str,
    pub mac: &'a [u8],
    pub prefix: &'a str,
    pub scopes: &'a PermissionSet,
    pub bot_id: Option<BotId>,
    pub expires_at: Option<&'a str>,
}

pub fn insert(conn: &Connection, tenant: &Tenant, t: &NewToken<'_>) -> rusqlite::Result<ApiTokenId> {
    conn.query_row(
        "INSERT INTO api_tokens (organization_id, user_id, bot_id, token_name, token_hash, token_prefix, scopes, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
        params![tenant.org_id(), tenant.user_id(), t.bot_id, t.name, t.mac, t.prefix, t.scopes.to_json(), t.expires_at],
        |r| r.get(0),
    )
}

/// Revokes a live token; false when it was already revoked.
pub fn revoke(conn: &Connection, tenant: &Tenant, id: ApiTokenId, now: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE api_tokens SET revoked_at = ?3 WHERE organization_id = ?1 AND id = ?2 AND revoked_at IS NULL",
        params![tenant.org_id(), id, now],
    )? == 1)
}

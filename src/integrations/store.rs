//! SQL of `integrations`, `integration_logs` and `integration_oauth_states`.

use rusqlite::{Connection, OptionalExtension, params};

use super::model::{INTEGRATION_COLUMNS, Integration, IntegrationId, IntegrationLog, LOG_COLUMNS};
use crate::db::{query_all, query_opt};
use crate::http::Tenant;
use crate::ids::{OrgId, UserId};

/// Columns written at creation and update.
pub struct Fields<'a> {
    pub name: &'a str,
    pub config_json: &'a str,
    pub scopes_json: &'a str,
}

pub fn insert(conn: &Connection, tenant: &Tenant, kind: &str, f: &Fields<'_>) -> rusqlite::Result<IntegrationId> {
    conn.query_row(
        "INSERT INTO integrations (organization_id, user_id, type, name, config, scopes) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         RETURNING id",
        params![tenant.org_id(), tenant.user_id(), kind, f.name, f.config_json, f.scopes_json],
        |r| r.get(0),
    )
}

pub fn update(conn: &Connection, tenant: &Tenant, id: IntegrationId, f: &Fields<'_>) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE integrations SET name = ?3, config = ?4, scopes = ?5 WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), f.name, f.config_json, f.scopes_json],
    )?;
    Ok(())
}

/// Stores the sealed secrets and the names of the fields they hold.
pub fn set_secrets(
    conn: &Connection,
    tenant: &Tenant,
    id: IntegrationId,
    sealed: &[u8],
    field_names_json: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE integrations SET credentials_encrypted = ?3,
                metadata = json_set(metadata, '$.secret_fields', json(?4))
         WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), sealed, field_names_json],
    )?;
    Ok(())
}

/// The sealed secrets, `None` when the integration does not exist; an
/// empty vector when nothing is stored.
pub fn secrets(conn: &Connection, tenant: &Tenant, id: IntegrationId) -> rusqlite::Result<Option<Vec<u8>>> {
    conn.query_row(
        "SELECT coalesce(credentials_encrypted, X'') FROM integrations WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id()],
        |r| r.get(0),
    )
    .optional()
}

/// Records the outcome of a provider call: `status` (unchanged when `None`)
/// and the error (cleared on success).
pub fn set_status(
    conn: &Connection,
    tenant: &Tenant,
    id: IntegrationId,
    status: Option<&str>,
    error: Option<&str>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE integrations SET status = coalesce(?3, status), error_message = ?4,
                last_sync_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), status, error],
    )?;
    Ok(())
}

/// After a token grant: scopes granted and expiry.
pub fn set_token_info(
    conn: &Connection,
    tenant: &Tenant,
    id: IntegrationId,
    scopes_json: Option<&str>,
    expires_at: Option<&str>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE integrations SET scopes = coalesce(?3, scopes), token_expires_at = ?4
         WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), scopes_json, expires_at],
    )?;
    Ok(())
}

pub fn find(conn: &Connection, tenant: &Tenant, id: IntegrationId) -> rusqlite::Result<Option<Integration>> {
    query_opt(
        conn,
        &format!("SELECT {INTEGRATION_COLUMNS} FROM integrations WHERE id = ?1 AND organization_id = ?2"),
        params![id, tenant.org_id()],
    )
}

pub fn list(conn: &Connection, tenant: &Tenant, after: Option<i64>, limit: i64) -> rusqlite::Result<Vec<Integration>> {
    query_all(
        conn,
        &format!(
            "SELECT {INTEGRATION_COLUMNS} FROM integrations WHERE organization_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
        ),
        params![tenant.org_id(), after.unwrap_or(0), limit],
    )
}

pub fn name_taken(
    conn: &Connection,
    tenant: &Tenant,
    kind: &str,
    name: &str,
    except: Option<IntegrationId>,
) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM integrations WHERE organization_id = ?1 AND type = ?2 AND name = ?3 AND id IS NOT ?4)",
        params![tenant.org_id(), kind, name, except],
        |r| r.get(0),
    )
}

pub fn delete(conn: &Connection, tenant: &Tenant, id: IntegrationId) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM integrations WHERE id = ?1 AND organization_id = ?2", params![id, tenant.org_id()])
}

/// One row of `integration_logs`.
pub struct LogEntry<'a> {
    pub action: &'a str,
    pub action_type: &'a str,
    pub request_json: Option<&'a str>,
    pub response_json: Option<&'a str>,
    pub ok: bool,
    pub error: Option<&'a str>,
    pub duration_ms: Option<i64>,
}

pub fn insert_log(conn: &Connection, tenant: &Tenant, id: IntegrationId, e: &LogEntry<'_>) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO integration_logs (organization_id, integration_id, action, action_type, request_data, response_data,
                                       result, error_message, duration_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            tenant.org_id(),
            id,
            e.action,
            e.action_type,
            e.request_json,
            e.response_json,
            if e.ok { "success" } else { "failure" },
            e.error,
            e.duration_ms
        ],
    )?;
    Ok(())
}

/// The log of an integration, newest first (cursor: the last id seen).
pub fn list_logs(
    conn: &Connection,
    tenant: &Tenant,
    id: IntegrationId,
    before: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<IntegrationLog>> {
    query_all(
        conn,
        &format!(
            "SELECT {LOG_COLUMNS} FROM integration_logs
             WHERE organization_id = ?1 AND integration_id = ?2 AND id < ?3 ORDER BY id DESC LIMIT ?4"
        ),
        params![tenant.org_id(), id, before.unwrap_or(i64::MAX), limit],
    )
}

/// A pending authorization to store.
pub struct NewState<'a> {
    pub state_hash: &'a [u8],
    pub browser_hash: Option<&'a [u8]>,
    pub code_verifier_sealed: Option<&'a [u8]>,
    pub redirect_uri: &'a str,
    pub expires_at: &'a str,
}

pub fn insert_state(conn: &Connection, tenant: &Tenant, id: IntegrationId, s: &NewState<'_>) -> rusqlite::Result<i64> {
    // Expired states of the organization go at the same time.
    conn.execute(
        "DELETE FROM integration_oauth_states WHERE organization_id = ?1 AND expires_at < strftime('%Y-%m-%dT%H:%M:%fZ','now', '-1 day')",
        [tenant.org_id()],
    )?;
    conn.query_row(
        "INSERT INTO integration_oauth_states (organization_id, integration_id, user_id, state_hash, browser_hash,
                                               code_verifier_encrypted, redirect_uri, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
        params![
            tenant.org_id(),
            id,
            tenant.user_id(),
            s.state_hash,
            s.browser_hash,
            s.code_verifier_sealed,
            s.redirect_uri,
            s.expires_at
        ],
        |r| r.get(0),
    )
}

/// A stored authorization request, found by the hash of its `state`.
#[derive(Debug, Clone)]
pub struct PendingState {
    pub id: i64,
    pub org_id: OrgId,
    pub integration_id: IntegrationId,
    pub user_id: Option<UserId>,
    pub browser_hash: Option<Vec<u8>>,
    pub code_verifier_sealed: Option<Vec<u8>>,
    pub redirect_uri: String,
    pub expired: bool,
    pub used: bool,
}

/// Finds a state by hash (no tenant yet: the state is what identifies it).
pub fn find_state(conn: &Connection, state_hash: &[u8]) -> rusqlite::Result<Option<PendingState>> {
    conn.query_row(
        "SELECT id, organization_id, integration_id, user_id, browser_hash, code_verifier_encrypted, redirect_uri,
                expires_at < strftime('%Y-%m-%dT%H:%M:%fZ','now'), used_at IS NOT NULL
         FROM integration_oauth_states WHERE state_hash = ?1",
        [state_hash],
        |r| {
            Ok(PendingState {
                id: r.get(0)?,
                org_id: r.get(1)?,
                integration_id: r.get(2)?,
                user_id: r.get(3)?,
                browser_hash: r.get(4)?,
                code_verifier_sealed: r.get(5)?,
                redirect_uri: r.get(6)?,
                expired: r.get(7)?,
                used: r.get(8)?,
            })
        },
    )
    .optional()
}

/// Marks a state used; false when it already was (a concurrent callback won).
pub fn consume_state(conn: &Connection, id: i64) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE integration_oauth_states SET used_at = strftime('%Y-%m-%dT%H:%M:%fZ','now'), code_verifier_encrypted = NULL
         WHERE id = ?1 AND used_at IS NULL",
        [id],
    )? == 1)
}

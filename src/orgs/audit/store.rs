//! SQL of the audit log and the activity feed.

use rusqlite::{Connection, params};
use serde::Serialize;
use serde_json::Value;

use crate::db::{FromRow, json_column, query_all};
use crate::http::Tenant;
use crate::ids::UserId;

/// An audit row as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditLog {
    pub id: i64,
    pub user_id: Option<UserId>,
    pub user_email: Option<String>,
    /// Dotted action name, e.g. `member.role_changed`.
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<i64>,
    #[schema(value_type = Option<Object>)]
    pub old_values: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub new_values: Option<Value>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub created_at: String,
}

impl FromRow for AuditLog {
    fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(AuditLog {
            id: row.get("id")?,
            user_id: row.get("user_id")?,
            user_email: row.get("user_email")?,
            action: row.get("action")?,
            resource_type: row.get("resource_type")?,
            resource_id: row.get("resource_id")?,
            old_values: json_column(row, "old_values")?,
            new_values: json_column(row, "new_values")?,
            ip_address: row.get("ip_address")?,
            user_agent: row.get("user_agent")?,
            metadata: json_column(row, "metadata")?.unwrap_or(Value::Null),
            created_at: row.get("created_at")?,
        })
    }
}

/// Filters of the audit log, already validated.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Exact action.
    pub action: Option<String>,
    /// Action prefix (from `action=member.*`).
    pub action_prefix: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<i64>,
    pub user_id: Option<UserId>,
    /// Inclusive lower bound, database timestamp format.
    pub from: Option<String>,
    /// Exclusive upper bound.
    pub to: Option<String>,
}

/// The tenant's audit rows matching `f`, newest first, before id `before`.
pub fn list(
    conn: &Connection,
    tenant: &Tenant,
    f: &AuditFilter,
    before: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<AuditLog>> {
    query_all(
        conn,
        "SELECT a.id, a.user_id, u.email AS user_email, a.action, a.resource_type, a.resource_id, a.old_values,
                a.new_values, a.ip_address, a.user_agent, a.metadata, a.created_at
         FROM audit_logs a LEFT JOIN users u ON u.id = a.user_id
         WHERE a.organization_id = ?1
           AND (?2 IS NULL OR a.action = ?2)
           AND (?3 IS NULL OR substr(a.action, 1, length(?3)) = ?3)
           AND (?4 IS NULL OR a.resource_type = ?4)
           AND (?5 IS NULL OR a.resource_id = ?5)
           AND (?6 IS NULL OR a.user_id = ?6)
           AND (?7 IS NULL OR a.created_at >= ?7)
           AND (?8 IS NULL OR a.created_at < ?8)
           AND (?9 IS NULL OR a.id < ?9)
         ORDER BY a.id DESC LIMIT ?10",
        params![
            tenant.org_id(),
            f.action,
            f.action_prefix,
            f.resource_type,
            f.resource_id,
            f.user_id,
            f.from,
            f.to,
            before,
            limit
        ],
    )
}

/// An entry of the activity feed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Activity {
    pub id: i64,
    pub user_id: Option<UserId>,
    pub user_name: Option<String>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<i64>,
    /// `{"old": …, "new": …}` when the change has values.
    #[schema(value_type = Object)]
    pub changes: Value,
    pub created_at: String,
}

impl FromRow for Activity {
    fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Activity {
            id: row.get("id")?,
            user_id: row.get("user_id")?,
            user_name: row.get("user_name")?,
            action: row.get("action")?,
            entity_type: row.get("entity_type")?,
            entity_id: row.get("entity_id")?,
            changes: json_column(row, "changes")?.unwrap_or(Value::Null),
            created_at: row.get("created_at")?,
        })
    }
}

/// The tenant's activity, newest first.
pub fn activity(
    conn: &Connection,
    tenant: &Tenant,
    entity_type: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<Activity>> {
    query_all(
        conn,
        "SELECT l.id, l.user_id, coalesce(u.name, u.email) AS user_name, l.action, l.entity_type, l.entity_id,
                l.changes, l.created_at
         FROM activity_logs l LEFT JOIN users u ON u.id = l.user_id
         WHERE l.organization_id = ?1 AND (?2 IS NULL OR l.entity_type = ?2) AND (?3 IS NULL OR l.id < ?3)
         ORDER BY l.id DESC LIMIT ?4",
        params![tenant.org_id(), entity_type, before, limit],
    )
}

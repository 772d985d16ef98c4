//! The audit trail: every state change writes one `audit_logs` row in the
//! same transaction as the change; user-visible ones also write the
//! organization's activity feed (`activity_logs`). The log is read and
//! exported through `routes`, and trimmed by the retention job.

pub mod retention;
pub mod routes;
pub mod store;

use serde_json::Value;

use crate::error::AppResult;
use crate::http::{ClientInfo, Tenant};
use crate::ids::{OrgId, UserId};

/// One audit row, built fluently.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    org_id: Option<OrgId>,
    user_id: Option<UserId>,
    action: String,
    resource_type: String,
    resource_id: Option<i64>,
    old: Option<Value>,
    new: Option<Value>,
    metadata: Value,
    client: ClientInfo,
    activity: bool,
}

impl AuditEntry {
    /// An action of a tenant's actor (user or API token) in its organization.
    #[must_use]
    pub fn by(tenant: &Tenant, action: &str, resource_type: &str, resource_id: i64) -> AuditEntry {
        let actor = tenant.actor();
        let metadata = match actor.token_id {
            Some(token) => serde_json::json!({ "api_token_id": token.0 }),
            None => Value::Object(serde_json::Map::new()),
        };
        AuditEntry {
            org_id: Some(tenant.org_id()),
            user_id: actor.user_id,
            action: action.to_owned(),
            resource_type: resource_type.to_owned(),
            resource_id: Some(resource_id),
            old: None,
            new: None,
            metadata,
            client: actor.client.clone(),
            activity: false,
        }
    }

    /// An action of a signed-in user outside any organization.
    #[must_use]
    pub fn by_user(user_id: UserId, action: &str, resource_type: &str, resource_id: i64) -> AuditEntry {
        AuditEntry { user_id: Some(user_id), ..AuditEntry::system(action, resource_type, Some(resource_id)) }
    }

    /// An action without a known actor (failed logins, jobs).
    #[must_use]
    pub fn system(action: &str, resource_type: &str, resource_id: Option<i64>) -> AuditEntry {
        AuditEntry {
            org_id: None,
            user_id: None,
            action: action.to_owned(),
            resource_type: resource_type.to_owned(),
            resource_id,
            old: None,
            new: None,
            metadata: Value::Object(serde_json::Map::new()),
            client: ClientInfo::default(),
            activity: false,
        }
    }

    #[must_use]
    pub fn in_org(mut self, org_id: OrgId) -> Self {
        self.org_id = Some(org_id);
        self
    }

    #[must_use]
    pub fn with_old(mut self, old: Value) -> Self {
        self.old = Some(old);
        self
    }

    #[must_use]
    pub fn with_new(mut self, new: Value) -> Self {
        self.new = Some(new);
        self
    }

    #[must_use]
    pub fn with_metadata(mut self, metadata: Value) -> Self {
        if let (Value::Object(mine), Value::Object(more)) = (&mut self.metadata, metadata) {
            mine.extend(more);
        }
        self
    }

    /// Also shows the change in the organization's activity feed.
    #[must_use]
    pub fn activity(mut self) -> Self {
        self.activity = true;
        self
    }

    #[must_use]
    pub fn from(mut self, client: &ClientInfo) -> Self {
        self.client = client.clone();
        self
    }
}

/// Writes the row; call inside the transaction of the change.
pub fn record(conn: &rusqlite::Connection, e: &AuditEntry) -> AppResult<()> {
    conn.prepare_cached(
        "INSERT INTO audit_logs (organization_id, user_id, action, resource_type, resource_id, old_values, new_values,
                                 metadata, ip_address, user_agent)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(rusqlite::params![
        e.org_id,
        e.user_id,
        e.action,
        e.resource_type,
        e.resource_id,
        e.old.as_ref().map(Value::to_string),
        e.new.as_ref().map(Value::to_string),
        e.metadata.to_string(),
        e.client.ip,
        e.client.user_agent,
    ])?;
    if e.activity
        && let Some(org) = e.org_id
    {
        let changes = match (&e.old, &e.new) {
            (None, None) => Value::Object(serde_json::Map::new()),
            (old, new) => serde_json::json!({ "old": old, "new": new }),
        };
        conn.prepare_cached(
            "INSERT INTO activity_logs (organization_id, user_id, action, entity_type, entity_id, changes, ip_address)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(rusqlite::params![
            org,
            e.user_id,
            e.action,
            e.resource_type,
            e.resource_id,
            changes.to_string(),
            e.client.ip
        ])?;
    }
    Ok(())
}

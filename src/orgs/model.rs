//! Organization types.

use rusqlite::Row;
use serde::{Deserialize, Serialize};

use crate::db::FromRow;
use crate::ids::{OrgId, UserId};
use crate::permissions::PermissionSet;

/// An organization as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Organization {
    pub id: OrgId,
    pub name: String,
    pub slug: String,
    pub owner_id: UserId,
    /// The subscription plan: free, pro or enterprise.
    pub plan_tier: String,
    /// active or suspended.
    pub status: String,
    /// Free-form settings of the organization (a JSON object).
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    /// Audit-log retention in days (security events are kept for good).
    pub retention_days: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl FromRow for Organization {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Organization {
            id: row.get("id")?,
            name: row.get("name")?,
            slug: row.get("slug")?,
            owner_id: row.get("owner_id")?,
            plan_tier: row.get("plan_tier")?,
            status: row.get("status")?,
            settings: crate::db::json_column(row, "settings")?.unwrap_or_else(|| serde_json::json!({})),
            retention_days: row.get("retention_days")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

/// The caller's standing in one organization.
#[derive(Debug, Clone)]
pub struct MembershipRow {
    pub org_id: OrgId,
    pub name: String,
    pub slug: String,
    pub role: String,
    pub permissions: PermissionSet,
    pub active: bool,
    pub org_suspended: bool,
}

/// `POST /orgs`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrgRequest {
    #[schema(example = "Acme Support")]
    pub name: String,
}

/// `PATCH /orgs/{org_id}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrgRequest {
    pub name: Option<String>,
    /// Replaces the settings object (at most 16 KiB).
    #[schema(value_type = Option<Object>)]
    pub settings: Option<serde_json::Value>,
    /// Audit-log retention, 30–3650 days.
    pub retention_days: Option<i64>,
}

/// `DELETE /orgs/{org_id}`: the name, typed again, confirms.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteOrgRequest {
    pub confirm_name: String,
}

/// A permission of the catalogue with its description.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PermissionInfo {
    pub name: &'static str,
    pub description: &'static str,
}

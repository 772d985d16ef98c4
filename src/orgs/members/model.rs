//! Member types.

use rusqlite::Row;
use serde::{Deserialize, Serialize};

use crate::db::FromRow;
use crate::ids::{RoleId, UserId};

/// A member of an organization as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Member {
    pub user_id: UserId,
    pub email: String,
    pub name: String,
    pub role_id: RoleId,
    pub role: String,
    /// active or suspended.
    pub status: String,
    pub two_factor_enabled: bool,
    pub invited_by: Option<UserId>,
    pub joined_at: String,
}

impl FromRow for Member {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Member {
            user_id: row.get("user_id")?,
            email: row.get("email")?,
            name: row.get::<_, Option<String>>("name")?.unwrap_or_default(),
            role_id: row.get("role_id")?,
            role: row.get("role")?,
            status: row.get("status")?,
            two_factor_enabled: row.get("two_factor_enabled")?,
            invited_by: row.get("invited_by")?,
            joined_at: row.get("joined_at")?,
        })
    }
}

/// `PATCH /orgs/{org_id}/members/{user_id}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRoleRequest {
    /// A built-in role (`owner`, `admin`, `editor`, `agent`, `viewer`) or a custom role's name.
    #[schema(example = "editor")]
    pub role: String,
}

/// The member part of `/orgs/{org_id}/members/{user_id}` (the organization
/// is resolved by the scope extractor).
#[derive(Debug, Deserialize)]
pub struct MemberPath {
    pub user_id: UserId,
}

//! Role types.

use serde::{Deserialize, Serialize};

use crate::ids::{OrgId, RoleId};
use crate::permissions::PermissionSet;

/// A role as stored: built-in (no organization) or custom.
#[derive(Debug, Clone)]
pub struct RoleRow {
    pub id: RoleId,
    pub org_id: Option<OrgId>,
    pub name: String,
    pub description: Option<String>,
    pub permissions: PermissionSet,
    pub created_at: String,
    pub updated_at: String,
}

impl RoleRow {
    #[must_use]
    pub fn builtin(&self) -> bool {
        self.org_id.is_none()
    }

    /// Whether this is the built-in owner role.
    #[must_use]
    pub fn is_owner(&self) -> bool {
        self.builtin() && self.name == "owner"
    }
}

/// A role as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Role {
    pub id: RoleId,
    pub name: String,
    pub description: Option<String>,
    /// Permission names from the catalogue.
    pub permissions: Vec<&'static str>,
    /// Built-in roles (owner, admin, editor, agent, viewer) cannot be changed.
    pub builtin: bool,
    /// Members holding the role.
    pub member_count: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl Role {
    #[must_use]
    pub fn from_row(row: RoleRow, member_count: i64) -> Role {
        Role {
            builtin: row.builtin(),
            id: row.id,
            name: row.name,
            description: row.description,
            permissions: row.permissions.names(),
            member_count,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// `POST /orgs/{org_id}/roles`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRoleRequest {
    #[schema(example = "Support lead")]
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Permission names; each must be one the caller holds.
    #[schema(example = json!(["bots.read", "conversations.read", "conversations.handle"]))]
    pub permissions: Vec<String>,
}

/// `PATCH /roles/{role_id}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRoleRequest {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    pub permissions: Option<Vec<String>>,
}

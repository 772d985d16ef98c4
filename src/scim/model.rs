//! SCIM token DTOs and the rows SCIM resources are built from.

use rusqlite::Row;
use serde::{Deserialize, Serialize};

use crate::db::FromRow;
use crate::ids::{OrgId, RoleId, TeamId, UserId};

crate::id_type!(
    /// A row of `scim_tokens`.
    ScimTokenId
);

/// A SCIM token as listed (never the secret).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScimToken {
    pub id: ScimTokenId,
    pub name: String,
    /// The first characters of the token, to recognise it.
    pub prefix: String,
    /// The organization role given to members this token provisions.
    pub role: String,
    pub created_by: Option<String>,
    pub last_used_at: Option<String>,
    pub rotated_at: Option<String>,
    pub revoked_at: Option<String>,
    pub created_at: String,
    /// active or revoked.
    pub status: String,
}

impl FromRow for ScimToken {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(ScimToken {
            id: row.get("id")?,
            name: row.get("name")?,
            prefix: row.get("token_prefix")?,
            role: row.get("role")?,
            created_by: row.get("created_by")?,
            last_used_at: row.get("last_used_at")?,
            rotated_at: row.get("rotated_at")?,
            revoked_at: row.get("revoked_at")?,
            created_at: row.get("created_at")?,
            status: row.get("status")?,
        })
    }
}

/// A new or rotated token: the secret is in `token`, shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScimTokenSecret {
    #[serde(flatten)]
    pub scim_token: ScimToken,
    /// `scim_…`: the identity provider sends it as `Authorization: Bearer <token>`. Not shown again.
    pub token: String,
    /// The SCIM base URL to enter in the identity provider (`…/scim/v2`).
    pub base_url: String,
}

/// `POST /orgs/{org_id}/scim-tokens`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateScimTokenRequest {
    #[schema(example = "Okta")]
    pub name: String,
    /// Role (name) of the members this token provisions; default `viewer`.
    /// Never `owner`, and never more than the caller holds.
    #[serde(default)]
    #[schema(example = "editor")]
    pub role: Option<String>,
}

/// What an identity provider needs besides a token.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScimSettings {
    /// The SCIM base URL to enter in the identity provider (`…/scim/v2`).
    pub base_url: String,
    /// Whether the organization has a live SCIM token.
    pub active_tokens: i64,
}

/// A live token found by its secret.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    pub id: ScimTokenId,
    pub org_id: OrgId,
    pub role_id: RoleId,
    pub last_used_at: Option<String>,
    pub org_suspended: bool,
}

/// What SCIM keeps about a provisioned user, joined with the account and membership.
#[derive(Debug, Clone)]
pub struct UserRow {
    pub user_id: UserId,
    pub user_name: String,
    pub external_id: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub emails: String,
    pub extra: String,
    pub active: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl FromRow for UserRow {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(UserRow {
            user_id: row.get("user_id")?,
            user_name: row.get("user_name")?,
            external_id: row.get("external_id")?,
            given_name: row.get("given_name")?,
            family_name: row.get("family_name")?,
            display_name: row.get("display_name")?,
            emails: row.get("emails")?,
            extra: row.get("extra")?,
            active: row.get("active")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

/// A team as a SCIM Group.
#[derive(Debug, Clone)]
pub struct GroupRow {
    pub team_id: TeamId,
    pub name: String,
    pub external_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl FromRow for GroupRow {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(GroupRow {
            team_id: row.get("team_id")?,
            name: row.get("name")?,
            external_id: row.get("external_id")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

/// A team membership with the member's display text.
#[derive(Debug, Clone)]
pub struct MemberRow {
    pub team_id: TeamId,
    pub team_name: String,
    pub user_id: UserId,
    pub display: String,
}

impl FromRow for MemberRow {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(MemberRow {
            team_id: row.get("team_id")?,
            team_name: row.get("team_name")?,
            user_id: row.get("user_id")?,
            display: row.get("display")?,
        })
    }
}

/// The User attributes stored in `scim_users`.
#[derive(Debug, Clone)]
pub struct UserFields {
    pub user_name: String,
    pub external_id: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    /// JSON array as sent.
    pub emails: String,
    /// JSON object of the other attributes.
    pub extra: String,
    pub active: bool,
    /// The address the account uses (primary email, else userName).
    pub email: String,
}

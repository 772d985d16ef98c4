//! Team types.

use rusqlite::Row;
use serde::{Deserialize, Serialize};

use crate::db::FromRow;
use crate::ids::{TeamId, TeamRoleId, UserId};

/// A team: a sub-group of an organization that bots and the handoff inbox
/// can be assigned to.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Team {
    pub id: TeamId,
    pub name: String,
    pub description: Option<String>,
    pub member_count: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl FromRow for Team {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Team {
            id: row.get("id")?,
            name: row.get("name")?,
            description: row.get("description")?,
            member_count: row.get("member_count")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

/// `POST /orgs/{org_id}/teams`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTeamRequest {
    #[schema(example = "Support EMEA")]
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// `PATCH /teams/{team_id}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTeamRequest {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
}

/// A role inside teams: the permissions a member has on the team's bots and
/// inbox.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TeamRole {
    pub id: TeamRoleId,
    pub name: String,
    pub permissions: Vec<&'static str>,
    /// Given to team members added without a team role.
    pub is_default: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// `POST /orgs/{org_id}/team-roles`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTeamRoleRequest {
    #[schema(example = "Inbox agent")]
    pub name: String,
    #[schema(example = json!(["conversations.read", "conversations.handle"]))]
    pub permissions: Vec<String>,
    #[serde(default)]
    pub is_default: bool,
}

/// `PATCH /team-roles/{team_role_id}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTeamRoleRequest {
    pub name: Option<String>,
    pub permissions: Option<Vec<String>>,
    pub is_default: Option<bool>,
}

/// A member of a team.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TeamMember {
    pub user_id: UserId,
    pub email: String,
    pub name: String,
    pub team_role_id: TeamRoleId,
    pub team_role: String,
    pub status: String,
    pub joined_at: String,
}

impl FromRow for TeamMember {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(TeamMember {
            user_id: row.get("user_id")?,
            email: row.get("email")?,
            name: row.get::<_, Option<String>>("name")?.unwrap_or_default(),
            team_role_id: row.get("team_role_id")?,
            team_role: row.get("team_role")?,
            status: row.get("status")?,
            joined_at: row.get("joined_at")?,
        })
    }
}

/// `POST /teams/{team_id}/members`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddTeamMemberRequest {
    /// A member of the organization.
    pub user_id: UserId,
    /// Default: the organization's default team role.
    #[serde(default)]
    pub team_role_id: Option<TeamRoleId>,
}

/// `PATCH /teams/{team_id}/members/{user_id}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeTeamMemberRequest {
    pub team_role_id: TeamRoleId,
}

/// The member part of `/teams/{team_id}/members/{user_id}`.
#[derive(Debug, Deserialize)]
pub struct TeamMemberPath {
    pub user_id: UserId,
}

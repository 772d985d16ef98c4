//! Invitation types.

use rusqlite::Row;
use serde::{Deserialize, Serialize};

use crate::db::FromRow;
use crate::ids::{InvitationId, OrgId, RoleId, TeamId, TeamRoleId, UserId};

/// An invitation as the organization sees it (never with its token).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Invitation {
    pub id: InvitationId,
    pub email: String,
    pub role_id: RoleId,
    pub role: String,
    pub team_id: Option<TeamId>,
    pub team: Option<String>,
    pub team_role_id: Option<TeamRoleId>,
    pub team_role: Option<String>,
    /// pending, accepted, declined, expired or revoked.
    pub status: String,
    pub expires_at: String,
    pub invited_by: Option<UserId>,
    pub invited_by_name: Option<String>,
    pub responded_at: Option<String>,
    pub created_at: String,
}

impl FromRow for Invitation {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Invitation {
            id: row.get("id")?,
            email: row.get("email")?,
            role_id: row.get("role_id")?,
            role: row.get("role")?,
            team_id: row.get("team_id")?,
            team: row.get("team")?,
            team_role_id: row.get("team_role_id")?,
            team_role: row.get("team_role")?,
            status: row.get("status")?,
            expires_at: row.get("expires_at")?,
            invited_by: row.get("invited_by")?,
            invited_by_name: row.get("invited_by_name")?,
            responded_at: row.get("responded_at")?,
            created_at: row.get("created_at")?,
        })
    }
}

/// A freshly sent invitation: the accept link is shown this once to the
/// inviter (who may invite), so it can be passed on by other means — the only
/// way when the server cannot send email.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SentInvitation {
    #[serde(flatten)]
    pub invitation: Invitation,
    pub accept_url: String,
    /// Whether the invitation was emailed; `false` when no SMTP server is
    /// configured: then only the link reaches the invitee.
    pub emailed: bool,
}

/// `POST /orgs/{org_id}/invitations`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitationRequest {
    #[schema(example = "grace@example.com")]
    pub email: String,
    /// The organization role the invitee gets (built-in or custom name).
    #[schema(example = "editor")]
    pub role: String,
    /// Also place the invitee in this team.
    #[serde(default)]
    pub team_id: Option<TeamId>,
    /// Their team role (default: the organization's default team role).
    #[serde(default)]
    pub team_role_id: Option<TeamRoleId>,
}

/// Filter of the invitation list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InvitationQuery {
    /// Only invitations in this state (pending, accepted, declined, expired, revoked).
    pub status: Option<String>,
}

/// `POST /invitations/preview|accept|decline`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationTokenRequest {
    /// The token from the emailed link.
    pub token: String,
}

/// What an invitation offers, shown to the invitee before accepting.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InvitationPreview {
    pub organization_id: OrgId,
    pub organization_name: String,
    pub email: String,
    pub role: String,
    pub team: Option<String>,
    pub invited_by_name: Option<String>,
    pub expires_at: String,
}

/// The membership an accepted invitation created.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AcceptedInvitation {
    pub organization_id: OrgId,
    pub organization_name: String,
    pub role: String,
    pub team_id: Option<TeamId>,
}

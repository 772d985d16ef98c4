//! SQL of invitations.

use rusqlite::{Connection, OptionalExtension, params};

use super::model::Invitation;
use crate::db::{query_all, query_opt};
use crate::http::Tenant;
use crate::ids::{InvitationId, OrgId, RoleId, TeamId, TeamRoleId, UserId};

const SELECT: &str = "SELECT i.id, i.email, i.role_id, r.name AS role, i.team_id, t.name AS team, i.team_role_id,
                             tr.name AS team_role, i.status, i.expires_at, i.invited_by,
                             coalesce(u.name, u.email) AS invited_by_name, i.responded_at, i.created_at
                      FROM team_invitations i
                      JOIN roles r ON r.id = i.role_id
                      LEFT JOIN teams t ON t.id = i.team_id
                      LEFT JOIN team_roles tr ON tr.id = i.team_role_id
                      LEFT JOIN users u ON u.id = i.invited_by";

pub fn list(
    conn: &Connection,
    tenant: &Tenant,
    status: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<Invitation>> {
    query_all(
        conn,
        &format!(
            "{SELECT} WHERE i.organization_id = ?1 AND (?2 IS NULL OR i.status = ?2) AND (?3 IS NULL OR i.id < ?3)
             ORDER BY i.id DESC LIMIT ?4"
        ),
        params![tenant.org_id(), status, before, limit],
    )
}

pub fn find(conn: &Connection, tenant: &Tenant, id: InvitationId) -> rusqlite::Result<Option<Invitation>> {
    query_opt(conn, &format!("{SELECT} WHERE i.organization_id = ?1 AND i.id = ?2"), params![tenant.org_id(), id])
}

/// The pending invitation of `email` in the tenant's organization.
pub fn pending_for(conn: &Connection, tenant: &Tenant, email: &str) -> rusqlite::Result<Option<Invitation>> {
    query_opt(
        conn,
        &format!("{SELECT} WHERE i.organization_id = ?1 AND i.email = ?2 AND i.status = 'pending'"),
        params![tenant.org_id(), email],
    )
}

/// A new invitation.
pub struct NewInvitation<'a> {
    pub email: &'a str,
    pub role_id: RoleId,
    pub team_id: Option<TeamId>,
    pub team_role_id: Option<TeamRoleId>,
    pub token_hash: &'a [u8],
    pub expires_at: &'a str,
}

pub fn insert(conn: &Connection, tenant: &Tenant, n: &NewInvitation<'_>) -> rusqlite::Result<InvitationId> {
    conn.query_row(
        "INSERT INTO team_invitations (organization_id, email, role_id, team_id, team_role_id, token_hash, expires_at, invited_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
        params![tenant.org_id(), n.email, n.role_id, n.team_id, n.team_role_id, n.token_hash, n.expires_at, tenant.user_id()],
        |r| r.get(0),
    )
}

/// Sets an invitation's status (and when it was answered).
pub fn set_status(
    conn: &Connection,
    tenant: &Tenant,
    id: InvitationId,
    status: &str,
    accepted_by: Option<UserId>,
    now: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE team_invitations SET status = ?3, accepted_by = coalesce(?4, accepted_by),
                responded_at = CASE WHEN ?3 IN ('accepted', 'declined') THEN ?5 ELSE responded_at END
         WHERE organization_id = ?1 AND id = ?2",
        params![tenant.org_id(), id, status, accepted_by, now],
    )?;
    Ok(())
}

/// Gives an invitation a new token and expiry and makes it pending again.
pub fn renew(
    conn: &Connection,
    tenant: &Tenant,
    id: InvitationId,
    token_hash: &[u8],
    expires_at: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE team_invitations SET token_hash = ?3, expires_at = ?4, status = 'pending', responded_at = NULL,
                invited_by = coalesce(?5, invited_by)
         WHERE organization_id = ?1 AND id = ?2",
        params![tenant.org_id(), id, token_hash, expires_at, tenant.user_id()],
    )?;
    Ok(())
}

/// An invitation found by its token, with what accepting needs.
#[derive(Debug)]
pub struct ByToken {
    pub id: InvitationId,
    pub org_id: OrgId,
    pub org_name: String,
    pub org_suspended: bool,
    pub email: String,
    pub role_id: RoleId,
    pub role: String,
    pub team_id: Option<TeamId>,
    pub team: Option<String>,
    pub team_role_id: Option<TeamRoleId>,
    pub status: String,
    pub expires_at: String,
    pub invited_by: Option<UserId>,
    pub invited_by_name: Option<String>,
}

/// Looks an invitation up by its token hash (the token is the credential,
/// so no tenant is known yet).
pub fn find_by_token(conn: &Connection, token_hash: &[u8]) -> rusqlite::Result<Option<ByToken>> {
    conn.query_row(
        "SELECT i.id, i.organization_id, o.name, o.status = 'suspended', i.email, i.role_id, r.name, i.team_id, t.name,
                i.team_role_id, i.status, i.expires_at, i.invited_by, coalesce(u.name, u.email)
         FROM team_invitations i
         JOIN organizations o ON o.id = i.organization_id
         JOIN roles r ON r.id = i.role_id
         LEFT JOIN teams t ON t.id = i.team_id
         LEFT JOIN users u ON u.id = i.invited_by
         WHERE i.token_hash = ?1",
        [token_hash],
        |r| {
            Ok(ByToken {
                id: r.get(0)?,
                org_id: r.get(1)?,
                org_name: r.get(2)?,
                org_suspended: r.get(3)?,
                email: r.get(4)?,
                role_id: r.get(5)?,
                role: r.get(6)?,
                team_id: r.get(7)?,
                team: r.get(8)?,
                team_role_id: r.get(9)?,
                status: r.get(10)?,
                expires_at: r.get(11)?,
                invited_by: r.get(12)?,
                invited_by_name: r.get(13)?,
            })
        },
    )
    .optional()
}

/// The organization's name (for the email).
pub fn org_name(conn: &Connection, tenant: &Tenant) -> rusqlite::Result<String> {
    conn.query_row("SELECT name FROM organizations WHERE id = ?1", [tenant.org_id()], |r| r.get(0))
}

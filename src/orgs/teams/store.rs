//! SQL of teams, team roles and team members.

use rusqlite::{Connection, OptionalExtension, params};

use super::model::{Team, TeamMember, TeamRole};
use crate::db::{query_all, query_opt};
use crate::http::Tenant;
use crate::ids::{TeamId, TeamRoleId, UserId};
use crate::permissions::PermissionSet;

const TEAM_SELECT: &str = "SELECT t.id, t.name, t.description, t.created_at, t.updated_at,
                                  (SELECT count(*) FROM team_members tm WHERE tm.team_id = t.id) AS member_count
                           FROM teams t";

pub fn list(conn: &Connection, tenant: &Tenant, after: Option<i64>, limit: i64) -> rusqlite::Result<Vec<Team>> {
    query_all(
        conn,
        &format!("{TEAM_SELECT} WHERE t.organization_id = ?1 AND (?2 IS NULL OR t.id > ?2) ORDER BY t.id LIMIT ?3"),
        params![tenant.org_id(), after, limit],
    )
}

pub fn find(conn: &Connection, tenant: &Tenant, id: TeamId) -> rusqlite::Result<Option<Team>> {
    query_opt(conn, &format!("{TEAM_SELECT} WHERE t.organization_id = ?1 AND t.id = ?2"), params![tenant.org_id(), id])
}

/// Inserts a team; `None` when the name is taken.
pub fn insert(
    conn: &Connection,
    tenant: &Tenant,
    name: &str,
    description: Option<&str>,
) -> rusqlite::Result<Option<TeamId>> {
    conn.query_row(
        "INSERT INTO teams (organization_id, name, description, created_by) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT DO NOTHING RETURNING id",
        params![tenant.org_id(), name, description, tenant.user_id()],
        |r| r.get(0),
    )
    .optional()
}

/// Whether another team of the tenant has this name.
pub fn name_taken(conn: &Connection, tenant: &Tenant, name: &str, except: TeamId) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM teams WHERE organization_id = ?1 AND name = ?2 AND id <> ?3)",
        params![tenant.org_id(), name, except],
        |r| r.get(0),
    )
}

pub fn update(
    conn: &Connection,
    tenant: &Tenant,
    id: TeamId,
    name: &str,
    description: Option<&str>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE teams SET name = ?3, description = ?4 WHERE organization_id = ?1 AND id = ?2",
        params![tenant.org_id(), id, name, description],
    )?;
    Ok(())
}

pub fn delete(conn: &Connection, tenant: &Tenant, id: TeamId) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM teams WHERE organization_id = ?1 AND id = ?2", params![tenant.org_id(), id])?;
    Ok(())
}

/// A team role as stored.
#[derive(Debug, Clone)]
pub struct TeamRoleRow {
    pub id: TeamRoleId,
    pub name: String,
    pub permissions: PermissionSet,
    pub is_default: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl TeamRoleRow {
    #[must_use]
    pub fn into_api(self) -> TeamRole {
        TeamRole {
            id: self.id,
            name: self.name,
            permissions: self.permissions.names(),
            is_default: self.is_default,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

fn team_role(r: &rusqlite::Row<'_>) -> rusqlite::Result<TeamRoleRow> {
    Ok(TeamRoleRow {
        id: r.get(0)?,
        name: r.get(1)?,
        permissions: PermissionSet::from_json(&r.get::<_, String>(2)?),
        is_default: r.get(3)?,
        created_at: r.get(4)?,
        updated_at: r.get(5)?,
    })
}

const TEAM_ROLE_COLUMNS: &str = "id, name, permissions, is_default, created_at, updated_at";

pub fn list_roles(conn: &Connection, tenant: &Tenant) -> rusqlite::Result<Vec<TeamRoleRow>> {
    conn.prepare_cached(&format!("SELECT {TEAM_ROLE_COLUMNS} FROM team_roles WHERE organization_id = ?1 ORDER BY id"))?
        .query_map([tenant.org_id()], team_role)?
        .collect()
}

pub fn find_role(conn: &Connection, tenant: &Tenant, id: TeamRoleId) -> rusqlite::Result<Option<TeamRoleRow>> {
    conn.prepare_cached(&format!("SELECT {TEAM_ROLE_COLUMNS} FROM team_roles WHERE organization_id = ?1 AND id = ?2"))?
        .query_row(params![tenant.org_id(), id], team_role)
        .optional()
}

pub fn default_role(conn: &Connection, tenant: &Tenant) -> rusqlite::Result<Option<TeamRoleRow>> {
    conn.prepare_cached(&format!(
        "SELECT {TEAM_ROLE_COLUMNS} FROM team_roles WHERE organization_id = ?1 AND is_default = 1"
    ))?
    .query_row([tenant.org_id()], team_role)
    .optional()
}

/// Makes no team role the default (before another becomes it).
pub fn clear_default(conn: &Connection, tenant: &Tenant) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE team_roles SET is_default = 0 WHERE organization_id = ?1 AND is_default = 1",
        [tenant.org_id()],
    )?;
    Ok(())
}

pub fn insert_role(
    conn: &Connection,
    tenant: &Tenant,
    name: &str,
    permissions: &PermissionSet,
    is_default: bool,
) -> rusqlite::Result<Option<TeamRoleId>> {
    conn.query_row(
        "INSERT INTO team_roles (organization_id, name, permissions, is_default) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT DO NOTHING RETURNING id",
        params![tenant.org_id(), name, permissions.to_json(), is_default],
        |r| r.get(0),
    )
    .optional()
}

pub fn role_name_taken(conn: &Connection, tenant: &Tenant, name: &str, except: TeamRoleId) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM team_roles WHERE organization_id = ?1 AND name = ?2 AND id <> ?3)",
        params![tenant.org_id(), name, except],
        |r| r.get(0),
    )
}

pub fn update_role(
    conn: &Connection,
    tenant: &Tenant,
    id: TeamRoleId,
    name: &str,
    permissions: &PermissionSet,
    is_default: bool,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE team_roles SET name = ?3, permissions = ?4, is_default = ?5 WHERE organization_id = ?1 AND id = ?2",
        params![tenant.org_id(), id, name, permissions.to_json(), is_default],
    )?;
    Ok(())
}

/// Team members and pending invitations holding the team role.
pub fn role_usage(conn: &Connection, tenant: &Tenant, id: TeamRoleId) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT (SELECT count(*) FROM team_members WHERE organization_id = ?1 AND team_role_id = ?2)
              + (SELECT count(*) FROM team_invitations WHERE organization_id = ?1 AND team_role_id = ?2 AND status = 'pending')",
        params![tenant.org_id(), id],
        |r| r.get(0),
    )
}

pub fn delete_role(conn: &Connection, tenant: &Tenant, id: TeamRoleId) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE team_invitations SET team_id = NULL, team_role_id = NULL
         WHERE organization_id = ?1 AND team_role_id = ?2 AND status <> 'pending'",
        params![tenant.org_id(), id],
    )?;
    conn.execute("DELETE FROM team_roles WHERE organization_id = ?1 AND id = ?2", params![tenant.org_id(), id])?;
    Ok(())
}

const MEMBER_SELECT: &str = "SELECT tm.user_id, u.email, u.name, tm.team_role_id, r.name AS team_role, tm.status, tm.joined_at
                             FROM team_members tm JOIN users u ON u.id = tm.user_id JOIN team_roles r ON r.id = tm.team_role_id";

pub fn list_members(conn: &Connection, tenant: &Tenant, team: TeamId) -> rusqlite::Result<Vec<TeamMember>> {
    query_all(
        conn,
        &format!("{MEMBER_SELECT} WHERE tm.organization_id = ?1 AND tm.team_id = ?2 ORDER BY tm.user_id"),
        params![tenant.org_id(), team],
    )
}

pub fn find_member(
    conn: &Connection,
    tenant: &Tenant,
    team: TeamId,
    user: UserId,
) -> rusqlite::Result<Option<TeamMember>> {
    query_opt(
        conn,
        &format!("{MEMBER_SELECT} WHERE tm.organization_id = ?1 AND tm.team_id = ?2 AND tm.user_id = ?3"),
        params![tenant.org_id(), team, user],
    )
}

/// Adds a team member; false when already in the team.
pub fn insert_member(
    conn: &Connection,
    tenant: &Tenant,
    team: TeamId,
    user: UserId,
    role: TeamRoleId,
) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "INSERT INTO team_members (organization_id, team_id, user_id, team_role_id, invited_by) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT DO NOTHING",
        params![tenant.org_id(), team, user, role, tenant.user_id()],
    )? == 1)
}

pub fn set_member_role(
    conn: &Connection,
    tenant: &Tenant,
    team: TeamId,
    user: UserId,
    role: TeamRoleId,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE team_members SET team_role_id = ?4 WHERE organization_id = ?1 AND team_id = ?2 AND user_id = ?3",
        params![tenant.org_id(), team, user, role],
    )?;
    Ok(())
}

pub fn remove_member(conn: &Connection, tenant: &Tenant, team: TeamId, user: UserId) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "DELETE FROM team_members WHERE organization_id = ?1 AND team_id = ?2 AND user_id = ?3",
        params![tenant.org_id(), team, user],
    )? == 1)
}

/// Whether the user is a member of the tenant's organization.
pub fn is_org_member(conn: &Connection, tenant: &Tenant, user: UserId) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM organization_members WHERE organization_id = ?1 AND user_id = ?2)",
        params![tenant.org_id(), user],
        |r| r.get(0),
    )
}

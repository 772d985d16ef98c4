//! SQL of memberships.

use rusqlite::{Connection, params};

use super::model::Member;
use crate::db::{query_all, query_opt};
use crate::http::Tenant;
use crate::ids::{RoleId, UserId};

const SELECT: &str = "SELECT m.user_id, u.email, u.name, m.role_id, r.name AS role, m.status, u.two_factor_enabled,
                             m.invited_by, m.joined_at
                      FROM organization_members m
                      JOIN users u ON u.id = m.user_id
                      JOIN roles r ON r.id = m.role_id";

/// The tenant's members by user id, after the cursor.
pub fn list(conn: &Connection, tenant: &Tenant, after: Option<i64>, limit: i64) -> rusqlite::Result<Vec<Member>> {
    query_all(
        conn,
        &format!(
            "{SELECT} WHERE m.organization_id = ?1 AND (?2 IS NULL OR m.user_id > ?2) ORDER BY m.user_id LIMIT ?3"
        ),
        params![tenant.org_id(), after, limit],
    )
}

/// One member of the tenant.
pub fn find(conn: &Connection, tenant: &Tenant, user: UserId) -> rusqlite::Result<Option<Member>> {
    query_opt(
        conn,
        &format!("{SELECT} WHERE m.organization_id = ?1 AND m.user_id = ?2"),
        params![tenant.org_id(), user],
    )
}

/// The member with this email, if any.
pub fn find_by_email(conn: &Connection, tenant: &Tenant, email: &str) -> rusqlite::Result<Option<Member>> {
    query_opt(conn, &format!("{SELECT} WHERE m.organization_id = ?1 AND u.email = ?2"), params![tenant.org_id(), email])
}

pub fn set_role(conn: &Connection, tenant: &Tenant, user: UserId, role: RoleId) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE organization_members SET role_id = ?3 WHERE organization_id = ?1 AND user_id = ?2",
        params![tenant.org_id(), user, role],
    )?;
    Ok(())
}

/// Removes a member with their team memberships, and revokes the API tokens
/// they made for this organization.
pub fn remove(conn: &Connection, tenant: &Tenant, user: UserId, now: &str) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM team_members WHERE organization_id = ?1 AND user_id = ?2",
        params![tenant.org_id(), user],
    )?;
    conn.execute(
        "UPDATE api_tokens SET revoked_at = ?3 WHERE organization_id = ?1 AND user_id = ?2 AND revoked_at IS NULL",
        params![tenant.org_id(), user, now],
    )?;
    conn.execute(
        "DELETE FROM organization_members WHERE organization_id = ?1 AND user_id = ?2",
        params![tenant.org_id(), user],
    )?;
    Ok(())
}

/// Active members holding the built-in owner role.
pub fn owner_count(conn: &Connection, tenant: &Tenant) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT count(*) FROM organization_members m JOIN roles r ON r.id = m.role_id
         WHERE m.organization_id = ?1 AND m.status = 'active' AND r.organization_id IS NULL AND r.name = 'owner'",
        [tenant.org_id()],
        |r| r.get(0),
    )
}

/// Keeps `organizations.owner_id` on a current owner: when the recorded
/// owner is no longer one, the longest-standing owner takes the place.
pub fn fix_owner_id(conn: &Connection, tenant: &Tenant) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE organizations SET owner_id = (
             SELECT m.user_id FROM organization_members m JOIN roles r ON r.id = m.role_id
             WHERE m.organization_id = ?1 AND m.status = 'active' AND r.organization_id IS NULL AND r.name = 'owner'
             ORDER BY m.joined_at, m.id LIMIT 1)
         WHERE id = ?1 AND NOT EXISTS (
             SELECT 1 FROM organization_members m JOIN roles r ON r.id = m.role_id
             WHERE m.organization_id = ?1 AND m.user_id = organizations.owner_id AND m.status = 'active'
               AND r.organization_id IS NULL AND r.name = 'owner')
           AND EXISTS (
             SELECT 1 FROM organization_members m JOIN roles r ON r.id = m.role_id
             WHERE m.organization_id = ?1 AND r.organization_id IS NULL AND r.name = 'owner')",
        [tenant.org_id()],
    )?;
    Ok(())
}

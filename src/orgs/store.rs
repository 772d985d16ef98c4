//! SQL of organizations, memberships and roles.

use rusqlite::{Connection, OptionalExtension, params};

use super::model::{MembershipRow, Organization};
use crate::db::query_opt;
use crate::http::Tenant;
use crate::ids::{OrgId, RoleId, UserId};
use crate::permissions::{BuiltinRole, PermissionSet};

pub const ORG_COLUMNS: &str =
    "id, name, slug, owner_id, plan_tier, status, settings, retention_days, created_at, updated_at";

const MEMBERSHIP_SELECT: &str = "SELECT o.id, o.name, o.slug, r.name, r.organization_id IS NULL, r.permissions,
                                        m.status = 'active', o.status = 'suspended'
                                 FROM organization_members m
                                 JOIN organizations o ON o.id = m.organization_id
                                 JOIN roles r ON r.id = m.role_id";

fn membership_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MembershipRow> {
    let role: String = r.get(3)?;
    let builtin: bool = r.get(4)?;
    // Built-in roles take their permissions from the code catalogue.
    let permissions = match BuiltinRole::parse(&role).filter(|_| builtin) {
        Some(b) => b.permissions(),
        None => PermissionSet::from_json(&r.get::<_, String>(5)?),
    };
    Ok(MembershipRow {
        org_id: r.get(0)?,
        name: r.get(1)?,
        slug: r.get(2)?,
        role,
        permissions,
        active: r.get(6)?,
        org_suspended: r.get(7)?,
    })
}

/// The user's membership in an organization, if any.
pub fn membership(conn: &Connection, org_id: OrgId, user_id: UserId) -> rusqlite::Result<Option<MembershipRow>> {
    conn.prepare_cached(&format!("{MEMBERSHIP_SELECT} WHERE m.organization_id = ?1 AND m.user_id = ?2"))?
        .query_row(params![org_id, user_id], membership_from_row)
        .optional()
}

/// Every active membership of a user, oldest organization first.
pub fn memberships_of(conn: &Connection, user_id: UserId) -> rusqlite::Result<Vec<MembershipRow>> {
    conn.prepare_cached(&format!("{MEMBERSHIP_SELECT} WHERE m.user_id = ?1 AND m.status = 'active' ORDER BY o.id"))?
        .query_map([user_id], membership_from_row)?
        .collect()
}

/// The id of a built-in role.
pub fn builtin_role_id(conn: &Connection, role: BuiltinRole) -> rusqlite::Result<RoleId> {
    conn.query_row("SELECT id FROM roles WHERE organization_id IS NULL AND name = ?1", [role.name()], |r| r.get(0))
}

/// Writes the code catalogue's permissions into the built-in role rows.
pub fn sync_builtin_role(conn: &Connection, role: BuiltinRole) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE roles SET permissions = ?2 WHERE organization_id IS NULL AND name = ?1 AND permissions <> ?2",
        params![role.name(), role.permissions().to_json()],
    )?;
    Ok(())
}

/// Inserts an organization; `None` when the slug is taken.
pub fn insert_org(conn: &Connection, name: &str, slug: &str, owner: UserId) -> rusqlite::Result<Option<OrgId>> {
    conn.query_row(
        "INSERT INTO organizations (name, slug, owner_id) VALUES (?1, ?2, ?3) ON CONFLICT (slug) DO NOTHING RETURNING id",
        params![name, slug, owner],
        |r| r.get(0),
    )
    .optional()
}

/// Adds a member with a role.
pub fn insert_member(
    conn: &Connection,
    org_id: OrgId,
    user_id: UserId,
    role_id: RoleId,
    invited_by: Option<UserId>,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO organization_members (organization_id, user_id, role_id, invited_by) VALUES (?1, ?2, ?3, ?4)",
        params![org_id, user_id, role_id, invited_by],
    )?;
    Ok(())
}

/// The tenant's organization.
pub fn find_org(conn: &Connection, tenant: &Tenant) -> rusqlite::Result<Option<Organization>> {
    query_opt(conn, &format!("SELECT {ORG_COLUMNS} FROM organizations WHERE id = ?1"), [tenant.org_id()])
}

/// Replaces the tenant's settings and retention.
pub fn set_settings(conn: &Connection, tenant: &Tenant, settings: &str, retention_days: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE organizations SET settings = ?2, retention_days = ?3 WHERE id = ?1",
        params![tenant.org_id(), settings, retention_days],
    )?;
    Ok(())
}

/// Deletes the tenant's organization and, by cascade, all its data.
pub fn delete_org(conn: &Connection, tenant: &Tenant) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM organizations WHERE id = ?1", [tenant.org_id()])?;
    Ok(())
}

/// Renames the tenant's organization.
pub fn rename_org(conn: &Connection, tenant: &Tenant, name: &str) -> rusqlite::Result<()> {
    conn.execute("UPDATE organizations SET name = ?2 WHERE id = ?1", params![tenant.org_id(), name])?;
    Ok(())
}

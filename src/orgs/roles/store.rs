//! SQL of roles.

use rusqlite::{Connection, OptionalExtension, params};

use super::model::RoleRow;
use crate::http::Tenant;
use crate::ids::RoleId;
use crate::permissions::{BuiltinRole, PermissionSet};

const COLUMNS: &str = "id, organization_id, name, description, permissions, created_at, updated_at";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RoleRow> {
    let org_id: Option<crate::ids::OrgId> = r.get(1)?;
    let name: String = r.get(2)?;
    // Built-in roles take their permissions from the code catalogue.
    let permissions = match BuiltinRole::parse(&name).filter(|_| org_id.is_none()) {
        Some(b) => b.permissions(),
        None => PermissionSet::from_json(&r.get::<_, String>(4)?),
    };
    Ok(RoleRow {
        id: r.get(0)?,
        org_id,
        name,
        description: r.get(3)?,
        permissions,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
    })
}

/// Built-in roles, then the tenant's custom roles, with member counts.
pub fn list(conn: &Connection, tenant: &Tenant) -> rusqlite::Result<Vec<(RoleRow, i64)>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS}, (SELECT count(*) FROM organization_members m WHERE m.organization_id = ?1 AND m.role_id = r.id)
         FROM roles r WHERE r.organization_id IS NULL OR r.organization_id = ?1
         ORDER BY r.organization_id IS NOT NULL, r.id"
    ))?
    .query_map([tenant.org_id()], |r| Ok((from_row(r)?, r.get(7)?)))?
    .collect()
}

/// A built-in role or one of the tenant's custom roles.
pub fn find(conn: &Connection, tenant: &Tenant, id: RoleId) -> rusqlite::Result<Option<RoleRow>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM roles WHERE id = ?1 AND (organization_id IS NULL OR organization_id = ?2)"
    ))?
    .query_row(params![id, tenant.org_id()], from_row)
    .optional()
}

/// A built-in or custom role by name.
pub fn find_by_name(conn: &Connection, tenant: &Tenant, name: &str) -> rusqlite::Result<Option<RoleRow>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM roles WHERE name = ?1 AND (organization_id IS NULL OR organization_id = ?2)
         ORDER BY organization_id IS NOT NULL LIMIT 1"
    ))?
    .query_row(params![name, tenant.org_id()], from_row)
    .optional()
}

/// Inserts a custom role; `None` when the name is taken.
pub fn insert(
    conn: &Connection,
    tenant: &Tenant,
    name: &str,
    description: Option<&str>,
    permissions: &PermissionSet,
) -> rusqlite::Result<Option<RoleId>> {
    conn.query_row(
        "INSERT INTO roles (organization_id, name, description, permissions) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT DO NOTHING RETURNING id",
        params![tenant.org_id(), name, description, permissions.to_json()],
        |r| r.get(0),
    )
    .optional()
}

/// Updates a custom role of the tenant; false when the name is taken.
pub fn update(
    conn: &Connection,
    tenant: &Tenant,
    id: RoleId,
    name: &str,
    description: Option<&str>,
    permissions: &PermissionSet,
) -> rusqlite::Result<bool> {
    let taken: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM roles WHERE organization_id = ?1 AND name = ?2 AND id <> ?3)",
        params![tenant.org_id(), name, id],
        |r| r.get(0),
    )?;
    if taken {
        return Ok(false);
    }
    conn.execute(
        "UPDATE roles SET name = ?3, description = ?4, permissions = ?5 WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), name, description, permissions.to_json()],
    )?;
    Ok(true)
}

/// Members and pending invitations holding the role.
pub fn usage(conn: &Connection, tenant: &Tenant, id: RoleId) -> rusqlite::Result<(i64, i64)> {
    conn.query_row(
        "SELECT (SELECT count(*) FROM organization_members WHERE organization_id = ?1 AND role_id = ?2),
                (SELECT count(*) FROM team_invitations WHERE organization_id = ?1 AND role_id = ?2 AND status = 'pending')",
        params![tenant.org_id(), id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Deletes a custom role of the tenant that nothing references.
pub fn delete(conn: &Connection, tenant: &Tenant, id: RoleId) -> rusqlite::Result<()> {
    // Invitations that were answered keep no hold on the role.
    conn.execute(
        "DELETE FROM team_invitations WHERE organization_id = ?1 AND role_id = ?2 AND status <> 'pending'",
        params![tenant.org_id(), id],
    )?;
    conn.execute("DELETE FROM roles WHERE id = ?1 AND organization_id = ?2", params![id, tenant.org_id()])?;
    Ok(())
}

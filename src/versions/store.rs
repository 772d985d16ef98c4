//! SQL of entity versions and branches.

use rusqlite::{Connection, OptionalExtension, params};

use super::model::{Branch, EntityType, Version};
use crate::db::{query_all, query_opt};
use crate::http::Tenant;
use crate::ids::{BranchId, VersionId};

const VERSION_SELECT: &str = "SELECT v.id, v.entity_type, v.entity_id, v.version_number, v.branch_id, b.branch_name AS branch,
                                     v.commit_message, v.created_by, coalesce(nullif(u.name, ''), u.email) AS created_by_name,
                                     v.created_at, NULL AS data
                              FROM entity_versions v
                              LEFT JOIN entity_branches b ON b.id = v.branch_id
                              LEFT JOIN users u ON u.id = v.created_by";

const VERSION_WITH_DATA: &str = "SELECT v.id, v.entity_type, v.entity_id, v.version_number, v.branch_id, b.branch_name AS branch,
                                        v.commit_message, v.created_by, coalesce(nullif(u.name, ''), u.email) AS created_by_name,
                                        v.created_at, v.data
                                 FROM entity_versions v
                                 LEFT JOIN entity_branches b ON b.id = v.branch_id
                                 LEFT JOIN users u ON u.id = v.created_by";

const BRANCH_SELECT: &str = "SELECT b.id, b.branch_name, b.is_main, b.base_version_id, b.head_version_id,
                                    h.version_number AS head_version_number, b.created_at, b.updated_at
                             FROM entity_branches b LEFT JOIN entity_versions h ON h.id = b.head_version_id";

/// Whether the entity exists in the tenant's organization.
pub fn entity_exists(conn: &Connection, tenant: &Tenant, kind: EntityType, id: i64) -> rusqlite::Result<bool> {
    conn.query_row(kind.exists_sql(), params![id, tenant.org_id()], |r| r.get(0))
}

pub fn list(
    conn: &Connection,
    tenant: &Tenant,
    kind: EntityType,
    entity: i64,
    branch: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<Version>> {
    query_all(
        conn,
        &format!(
            "{VERSION_SELECT} WHERE v.organization_id = ?1 AND v.entity_type = ?2 AND v.entity_id = ?3
               AND (?4 IS NULL OR b.branch_name = ?4) AND (?5 IS NULL OR v.id < ?5)
             ORDER BY v.id DESC LIMIT ?6"
        ),
        params![tenant.org_id(), kind.as_str(), entity, branch, before, limit],
    )
}

/// A version with its data.
pub fn find(conn: &Connection, tenant: &Tenant, id: VersionId) -> rusqlite::Result<Option<Version>> {
    query_opt(
        conn,
        &format!("{VERSION_WITH_DATA} WHERE v.organization_id = ?1 AND v.id = ?2"),
        params![tenant.org_id(), id],
    )
}

/// The version before `version_number` of the same entity.
pub fn previous(conn: &Connection, tenant: &Tenant, v: &Version) -> rusqlite::Result<Option<Version>> {
    query_opt(
        conn,
        &format!(
            "{VERSION_WITH_DATA} WHERE v.organization_id = ?1 AND v.entity_type = ?2 AND v.entity_id = ?3 AND v.version_number < ?4
             ORDER BY v.version_number DESC LIMIT 1"
        ),
        params![tenant.org_id(), v.entity_type, v.entity_id, v.version_number],
    )
}

fn next_number(conn: &Connection, tenant: &Tenant, kind: &str, entity: i64) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT coalesce(max(version_number), 0) + 1 FROM entity_versions
         WHERE organization_id = ?1 AND entity_type = ?2 AND entity_id = ?3",
        params![tenant.org_id(), kind, entity],
        |r| r.get(0),
    )
}

/// Appends a version to a branch and moves the branch head to it.
pub fn commit(
    conn: &Connection,
    tenant: &Tenant,
    kind: &str,
    entity: i64,
    branch: BranchId,
    data: &str,
    message: Option<&str>,
) -> rusqlite::Result<VersionId> {
    let number = next_number(conn, tenant, kind, entity)?;
    let id: VersionId = conn.query_row(
        "INSERT INTO entity_versions (organization_id, entity_type, entity_id, version_number, branch_id, data, created_by, commit_message)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
        params![tenant.org_id(), kind, entity, number, branch, data, tenant.user_id(), message],
        |r| r.get(0),
    )?;
    conn.execute(
        "UPDATE entity_branches SET head_version_id = ?3, base_version_id = coalesce(base_version_id, ?3)
         WHERE organization_id = ?1 AND id = ?2",
        params![tenant.org_id(), branch, id],
    )?;
    Ok(id)
}

pub fn branches(conn: &Connection, tenant: &Tenant, kind: EntityType, entity: i64) -> rusqlite::Result<Vec<Branch>> {
    query_all(
        conn,
        &format!(
            "{BRANCH_SELECT} WHERE b.organization_id = ?1 AND b.entity_type = ?2 AND b.entity_id = ?3
             ORDER BY b.is_main DESC, b.id"
        ),
        params![tenant.org_id(), kind.as_str(), entity],
    )
}

pub fn find_branch(conn: &Connection, tenant: &Tenant, id: BranchId) -> rusqlite::Result<Option<Branch>> {
    query_opt(
        conn,
        &format!("{BRANCH_SELECT} WHERE b.organization_id = ?1 AND b.id = ?2"),
        params![tenant.org_id(), id],
    )
}

/// The entity a branch belongs to.
pub fn branch_entity(conn: &Connection, tenant: &Tenant, id: BranchId) -> rusqlite::Result<Option<(String, i64)>> {
    conn.query_row(
        "SELECT entity_type, entity_id FROM entity_branches WHERE organization_id = ?1 AND id = ?2",
        params![tenant.org_id(), id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

pub fn find_branch_by_name(
    conn: &Connection,
    tenant: &Tenant,
    kind: &str,
    entity: i64,
    name: &str,
) -> rusqlite::Result<Option<Branch>> {
    query_opt(
        conn,
        &format!(
            "{BRANCH_SELECT} WHERE b.organization_id = ?1 AND b.entity_type = ?2 AND b.entity_id = ?3 AND b.branch_name = ?4"
        ),
        params![tenant.org_id(), kind, entity, name],
    )
}

/// Creates a branch; `None` when the name is taken.
pub fn insert_branch(
    conn: &Connection,
    tenant: &Tenant,
    kind: &str,
    entity: i64,
    name: &str,
    is_main: bool,
    base: Option<VersionId>,
) -> rusqlite::Result<Option<BranchId>> {
    conn.query_row(
        "INSERT INTO entity_branches (organization_id, entity_type, entity_id, branch_name, is_main, base_version_id, head_version_id, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7) ON CONFLICT DO NOTHING RETURNING id",
        params![tenant.org_id(), kind, entity, name, is_main, base, tenant.user_id()],
        |r| r.get(0),
    )
    .optional()
}

/// Moves a merged branch to the merge result: it continues from there.
pub fn reset_to(conn: &Connection, tenant: &Tenant, id: BranchId, base: VersionId) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE entity_branches SET base_version_id = ?3, head_version_id = ?3 WHERE organization_id = ?1 AND id = ?2",
        params![tenant.org_id(), id, base],
    )?;
    Ok(())
}

pub fn delete_branch(conn: &Connection, tenant: &Tenant, id: BranchId) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM entity_branches WHERE organization_id = ?1 AND id = ?2", params![tenant.org_id(), id])?;
    Ok(())
}

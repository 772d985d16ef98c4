//! Role rules: custom roles are built from the catalogue, never hold a
//! permission their editor lacks, keep names distinct from the built-in
//! roles, and cannot be deleted while in use.

use serde_json::json;

use super::model::{CreateRoleRequest, Role, RoleRow, UpdateRoleRequest};
use super::store;
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::Tenant;
use crate::ids::RoleId;
use crate::orgs::audit::{self, AuditEntry};
use crate::orgs::service::{check_grant, parse_permissions};
use crate::permissions::BuiltinRole;

fn not_found() -> AppError {
    AppError::new(ErrorCode::RoleNotFound, "no such role")
}

fn check_role_name(raw: &str) -> AppResult<String> {
    let name = crate::names::check_name("name", raw, 50)?;
    if BuiltinRole::parse(&name.to_lowercase()).is_some() {
        return Err(AppError::validation("name", "is the name of a built-in role"));
    }
    Ok(name)
}

fn check_description(raw: Option<&str>) -> AppResult<Option<String>> {
    match raw.map(str::trim) {
        Some(d) if d.chars().count() > 500 => {
            Err(AppError::validation("description", "must be at most 500 characters"))
        }
        Some("") | None => Ok(None),
        Some(d) => Ok(Some(d.to_owned())),
    }
}

/// Resolves a role named in a request (built-in or custom) for the tenant.
pub fn resolve(conn: &rusqlite::Connection, tenant: &Tenant, field: &str, name: &str) -> AppResult<RoleRow> {
    store::find_by_name(conn, tenant, name.trim())?
        .ok_or_else(|| AppError::validation(field, format!("`{name}` is not a role of this organization")))
}

/// A role by id (built-in or the tenant's).
pub fn find(conn: &rusqlite::Connection, tenant: &Tenant, id: RoleId) -> AppResult<RoleRow> {
    store::find(conn, tenant, id)?.ok_or_else(not_found)
}

pub async fn list(state: &AppState, tenant: Tenant) -> AppResult<Vec<Role>> {
    state.db.read(move |c| Ok(store::list(c, &tenant)?.into_iter().map(|(r, n)| Role::from_row(r, n)).collect())).await
}

pub async fn create(state: &AppState, tenant: Tenant, req: CreateRoleRequest) -> AppResult<Role> {
    let name = check_role_name(&req.name)?;
    let description = check_description(req.description.as_deref())?;
    let permissions = parse_permissions(&req.permissions, "permissions")?;
    check_grant(&tenant, &permissions)?;
    state
        .db
        .write(move |tx| {
            let id = store::insert(tx, &tenant, &name, description.as_deref(), &permissions)?
                .ok_or_else(|| AppError::new(ErrorCode::NameTaken, "a role with this name exists"))?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "role.created", "role", id.0)
                    .with_new(json!({ "name": name, "permissions": permissions.names() }))
                    .activity(),
            )?;
            Ok(Role::from_row(find(tx, &tenant, id)?, 0))
        })
        .await
}

pub async fn update(state: &AppState, tenant: Tenant, id: RoleId, req: UpdateRoleRequest) -> AppResult<Role> {
    let name = req.name.as_deref().map(check_role_name).transpose()?;
    let description = req.description.map(|d| check_description(d.as_deref())).transpose()?;
    let permissions = req.permissions.as_deref().map(|p| parse_permissions(p, "permissions")).transpose()?;
    if let Some(p) = &permissions {
        check_grant(&tenant, p)?;
    }
    state
        .db
        .write(move |tx| {
            let before = find(tx, &tenant, id)?;
            if before.builtin() {
                return Err(not_found());
            }
            // Editing a role stronger than yourself would let you weaken or
            // repurpose it: refused like granting it.
            check_grant(&tenant, &before.permissions)?;
            let new_name = name.unwrap_or_else(|| before.name.clone());
            let new_description = description.unwrap_or_else(|| before.description.clone());
            let new_permissions = permissions.unwrap_or_else(|| before.permissions.clone());
            if !store::update(tx, &tenant, id, &new_name, new_description.as_deref(), &new_permissions)? {
                return Err(AppError::new(ErrorCode::NameTaken, "a role with this name exists"));
            }
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "role.updated", "role", id.0)
                    .with_old(json!({ "name": before.name, "permissions": before.permissions.names() }))
                    .with_new(json!({ "name": new_name, "permissions": new_permissions.names() }))
                    .activity(),
            )?;
            let (members, _) = store::usage(tx, &tenant, id)?;
            Ok(Role::from_row(find(tx, &tenant, id)?, members))
        })
        .await
}

pub async fn delete(state: &AppState, tenant: Tenant, id: RoleId) -> AppResult<()> {
    state
        .db
        .write(move |tx| {
            let before = find(tx, &tenant, id)?;
            if before.builtin() {
                return Err(not_found());
            }
            check_grant(&tenant, &before.permissions)?;
            let (members, invitations) = store::usage(tx, &tenant, id)?;
            if members > 0 || invitations > 0 {
                return Err(AppError::new(
                    ErrorCode::RoleInUse,
                    format!("{members} members and {invitations} pending invitations use this role; change them first"),
                )
                .with_details(json!({ "members": members, "invitations": invitations })));
            }
            store::delete(tx, &tenant, id)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "role.deleted", "role", id.0)
                    .with_old(json!({ "name": before.name, "permissions": before.permissions.names() }))
                    .activity(),
            )
        })
        .await
}

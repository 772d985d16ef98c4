//! Team rules: names unique per organization, team roles built from the
//! catalogue within the caller's own permissions, team members drawn from
//! the organization's members.

use serde_json::json;

use super::model::{
    AddTeamMemberRequest, CreateTeamRequest, CreateTeamRoleRequest, Team, TeamMember, TeamRole, UpdateTeamRequest,
    UpdateTeamRoleRequest,
};
use super::store::{self, TeamRoleRow};
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::{Page, PageParams, Tenant};
use crate::ids::{OrgId, TeamId, TeamRoleId, UserId};
use crate::orgs::audit::{self, AuditEntry};
use crate::orgs::service::{check_grant, parse_permissions};
use crate::permissions::{Permission, PermissionSet};

fn team_not_found() -> AppError {
    AppError::new(ErrorCode::TeamNotFound, "no such team")
}

fn role_not_found() -> AppError {
    AppError::new(ErrorCode::TeamRoleNotFound, "no such team role")
}

fn check_name(raw: &str, max: usize) -> AppResult<String> {
    crate::names::check_name("name", raw, max)
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

/// A team role of the tenant, or a validation error naming `field`.
pub fn team_role_for(
    conn: &rusqlite::Connection,
    tenant: &Tenant,
    field: &str,
    id: Option<TeamRoleId>,
) -> AppResult<TeamRoleRow> {
    match id {
        Some(id) => store::find_role(conn, tenant, id)?
            .ok_or_else(|| AppError::validation(field, "is not a team role of this organization")),
        None => store::default_role(conn, tenant)?
            .ok_or_else(|| AppError::validation(field, "the organization has no default team role; name one")),
    }
}

/// Whether a team of the tenant exists.
pub fn team_exists(conn: &rusqlite::Connection, tenant: &Tenant, id: TeamId) -> AppResult<bool> {
    Ok(store::find(conn, tenant, id)?.is_some())
}

pub async fn list(state: &AppState, tenant: Tenant, page: PageParams) -> AppResult<Page<Team>> {
    let (after, limit) = (page.cursor()?.map(|c| c.id), page.fetch_limit()?);
    let rows = state.db.read(move |c| Ok(store::list(c, &tenant, after, limit)?)).await?;
    Page::from_rows(rows, &page, |t| t.id.0)
}

pub async fn get(state: &AppState, tenant: Tenant, id: TeamId) -> AppResult<Team> {
    state.db.read(move |c| store::find(c, &tenant, id)?.ok_or_else(team_not_found)).await
}

pub async fn create(state: &AppState, tenant: Tenant, req: CreateTeamRequest) -> AppResult<Team> {
    let name = check_name(&req.name, 100)?;
    let description = check_description(req.description.as_deref())?;
    state
        .db
        .write(move |tx| {
            let id = store::insert(tx, &tenant, &name, description.as_deref())?
                .ok_or_else(|| AppError::new(ErrorCode::NameTaken, "a team with this name exists"))?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "team.created", "team", id.0).with_new(json!({ "name": name })).activity(),
            )?;
            store::find(tx, &tenant, id)?.ok_or_else(team_not_found)
        })
        .await
}

pub async fn update(state: &AppState, tenant: Tenant, id: TeamId, req: UpdateTeamRequest) -> AppResult<Team> {
    let name = req.name.as_deref().map(|n| check_name(n, 100)).transpose()?;
    let description = req.description.map(|d| check_description(d.as_deref())).transpose()?;
    state
        .db
        .write(move |tx| {
            let before = store::find(tx, &tenant, id)?.ok_or_else(team_not_found)?;
            let new_name = name.unwrap_or_else(|| before.name.clone());
            let new_description = description.unwrap_or_else(|| before.description.clone());
            if store::name_taken(tx, &tenant, &new_name, id)? {
                return Err(AppError::new(ErrorCode::NameTaken, "a team with this name exists"));
            }
            store::update(tx, &tenant, id, &new_name, new_description.as_deref())?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "team.updated", "team", id.0)
                    .with_old(json!({ "name": before.name, "description": before.description }))
                    .with_new(json!({ "name": new_name, "description": new_description }))
                    .activity(),
            )?;
            store::find(tx, &tenant, id)?.ok_or_else(team_not_found)
        })
        .await
}

pub async fn delete(state: &AppState, tenant: Tenant, id: TeamId) -> AppResult<()> {
    state
        .db
        .write(move |tx| {
            let before = store::find(tx, &tenant, id)?.ok_or_else(team_not_found)?;
            store::delete(tx, &tenant, id)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "team.deleted", "team", id.0)
                    .with_old(json!({ "name": before.name, "members": before.member_count }))
                    .activity(),
            )
        })
        .await
}

/// The team role every organization starts with, named default, so people
/// can be added to or invited into a team without picking a role first. It
/// lets them see the bots and handle the team's conversations.
pub const DEFAULT_ROLE_NAME: &str = "Member";
const DEFAULT_ROLE_PERMISSIONS: [Permission; 3] =
    [Permission::BotsRead, Permission::ConversationsRead, Permission::ConversationsHandle];

/// Creates the default team role of a new organization inside the caller's
/// transaction (migration V053 added it to organizations made before).
pub fn create_default_role_in(tx: &rusqlite::Connection, org_id: OrgId) -> AppResult<()> {
    let tenant = Tenant::system(org_id, "default team role of a new organization");
    let permissions: PermissionSet = DEFAULT_ROLE_PERMISSIONS.into_iter().collect();
    store::insert_role(tx, &tenant, DEFAULT_ROLE_NAME, &permissions, true)?;
    Ok(())
}

pub async fn list_roles(state: &AppState, tenant: Tenant) -> AppResult<Vec<TeamRole>> {
    state.db.read(move |c| Ok(store::list_roles(c, &tenant)?.into_iter().map(TeamRoleRow::into_api).collect())).await
}

pub async fn create_role(state: &AppState, tenant: Tenant, req: CreateTeamRoleRequest) -> AppResult<TeamRole> {
    let name = check_name(&req.name, 100)?;
    let permissions = parse_permissions(&req.permissions, "permissions")?;
    check_grant(&tenant, &permissions)?;
    state
        .db
        .write(move |tx| {
            if req.is_default {
                store::clear_default(tx, &tenant)?;
            }
            let id = store::insert_role(tx, &tenant, &name, &permissions, req.is_default)?
                .ok_or_else(|| AppError::new(ErrorCode::NameTaken, "a team role with this name exists"))?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "team_role.created", "team_role", id.0)
                    .with_new(json!({ "name": name, "permissions": permissions.names(), "is_default": req.is_default }))
                    .activity(),
            )?;
            Ok(store::find_role(tx, &tenant, id)?.ok_or_else(role_not_found)?.into_api())
        })
        .await
}

pub async fn update_role(
    state: &AppState,
    tenant: Tenant,
    id: TeamRoleId,
    req: UpdateTeamRoleRequest,
) -> AppResult<TeamRole> {
    let name = req.name.as_deref().map(|n| check_name(n, 100)).transpose()?;
    let permissions = req.permissions.as_deref().map(|p| parse_permissions(p, "permissions")).transpose()?;
    if let Some(p) = &permissions {
        check_grant(&tenant, p)?;
    }
    state
        .db
        .write(move |tx| {
            let before = store::find_role(tx, &tenant, id)?.ok_or_else(role_not_found)?;
            check_grant(&tenant, &before.permissions)?;
            let new_name = name.unwrap_or_else(|| before.name.clone());
            let new_permissions = permissions.unwrap_or_else(|| before.permissions.clone());
            let is_default = req.is_default.unwrap_or(before.is_default);
            if store::role_name_taken(tx, &tenant, &new_name, id)? {
                return Err(AppError::new(ErrorCode::NameTaken, "a team role with this name exists"));
            }
            if is_default && !before.is_default {
                store::clear_default(tx, &tenant)?;
            }
            store::update_role(tx, &tenant, id, &new_name, &new_permissions, is_default)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "team_role.updated", "team_role", id.0)
                    .with_old(json!({ "name": before.name, "permissions": before.permissions.names(), "is_default": before.is_default }))
                    .with_new(json!({ "name": new_name, "permissions": new_permissions.names(), "is_default": is_default }))
                    .activity(),
            )?;
            Ok(store::find_role(tx, &tenant, id)?.ok_or_else(role_not_found)?.into_api())
        })
        .await
}

pub async fn delete_role(state: &AppState, tenant: Tenant, id: TeamRoleId) -> AppResult<()> {
    state
        .db
        .write(move |tx| {
            let before = store::find_role(tx, &tenant, id)?.ok_or_else(role_not_found)?;
            check_grant(&tenant, &before.permissions)?;
            let used = store::role_usage(tx, &tenant, id)?;
            if used > 0 {
                return Err(AppError::new(
                    ErrorCode::RoleInUse,
                    format!("{used} team members or pending invitations hold this team role"),
                ));
            }
            store::delete_role(tx, &tenant, id)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "team_role.deleted", "team_role", id.0)
                    .with_old(json!({ "name": before.name, "permissions": before.permissions.names() }))
                    .activity(),
            )
        })
        .await
}

pub async fn list_members(state: &AppState, tenant: Tenant, team: TeamId) -> AppResult<Vec<TeamMember>> {
    state
        .db
        .read(move |c| {
            store::find(c, &tenant, team)?.ok_or_else(team_not_found)?;
            Ok(store::list_members(c, &tenant, team)?)
        })
        .await
}

/// Adds an organization member to a team (used by invitations too).
pub fn add_member_in(
    tx: &rusqlite::Connection,
    tenant: &Tenant,
    team: TeamId,
    user: UserId,
    role: &TeamRoleRow,
) -> AppResult<()> {
    if !store::insert_member(tx, tenant, team, user, role.id)? {
        return Err(AppError::new(ErrorCode::AlreadyMember, "the user is already in this team"));
    }
    audit::record(
        tx,
        &AuditEntry::by(tenant, "team.member_added", "team", team.0)
            .with_new(json!({ "user_id": user.0, "team_role": role.name }))
            .activity(),
    )
}

pub async fn add_member(
    state: &AppState,
    tenant: Tenant,
    team: TeamId,
    req: AddTeamMemberRequest,
) -> AppResult<TeamMember> {
    state
        .db
        .write(move |tx| {
            store::find(tx, &tenant, team)?.ok_or_else(team_not_found)?;
            if !store::is_org_member(tx, &tenant, req.user_id)? {
                return Err(AppError::validation("user_id", "is not a member of this organization"));
            }
            let role = team_role_for(tx, &tenant, "team_role_id", req.team_role_id)?;
            check_grant(&tenant, &role.permissions)?;
            add_member_in(tx, &tenant, team, req.user_id, &role)?;
            store::find_member(tx, &tenant, team, req.user_id)?
                .ok_or_else(|| AppError::new(ErrorCode::MemberNotFound, "not in this team"))
        })
        .await
}

pub async fn change_member(
    state: &AppState,
    tenant: Tenant,
    team: TeamId,
    user: UserId,
    role_id: TeamRoleId,
) -> AppResult<TeamMember> {
    state
        .db
        .write(move |tx| {
            store::find(tx, &tenant, team)?.ok_or_else(team_not_found)?;
            let before = store::find_member(tx, &tenant, team, user)?
                .ok_or_else(|| AppError::new(ErrorCode::MemberNotFound, "this user is not in the team"))?;
            let old_role = store::find_role(tx, &tenant, before.team_role_id)?.ok_or_else(role_not_found)?;
            let role = team_role_for(tx, &tenant, "team_role_id", Some(role_id))?;
            check_grant(&tenant, &old_role.permissions)?;
            check_grant(&tenant, &role.permissions)?;
            store::set_member_role(tx, &tenant, team, user, role.id)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "team.member_role_changed", "team", team.0)
                    .with_old(json!({ "user_id": user.0, "team_role": old_role.name }))
                    .with_new(json!({ "user_id": user.0, "team_role": role.name }))
                    .activity(),
            )?;
            store::find_member(tx, &tenant, team, user)?
                .ok_or_else(|| AppError::new(ErrorCode::MemberNotFound, "not in this team"))
        })
        .await
}

pub async fn remove_member(state: &AppState, tenant: Tenant, team: TeamId, user: UserId) -> AppResult<()> {
    state
        .db
        .write(move |tx| {
            store::find(tx, &tenant, team)?.ok_or_else(team_not_found)?;
            let before = store::find_member(tx, &tenant, team, user)?
                .ok_or_else(|| AppError::new(ErrorCode::MemberNotFound, "this user is not in the team"))?;
            let role = store::find_role(tx, &tenant, before.team_role_id)?.ok_or_else(role_not_found)?;
            check_grant(&tenant, &role.permissions)?;
            store::remove_member(tx, &tenant, team, user)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "team.member_removed", "team", team.0)
                    .with_old(json!({ "user_id": user.0, "team_role": before.team_role }))
                    .activity(),
            )
        })
        .await
}

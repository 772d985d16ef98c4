//! Teams (sub-groups of an organization), team roles and team members.

pub mod model;
pub mod service;
pub mod store;

use actix_web::{HttpResponse, delete, get, patch, post, web};
use rusqlite::{Connection, OptionalExtension};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::{
    AddTeamMemberRequest, ChangeTeamMemberRequest, CreateTeamRequest, CreateTeamRoleRequest, Team, TeamMember,
    TeamMemberPath, TeamRole, UpdateTeamRequest, UpdateTeamRoleRequest,
};
use crate::app::AppState;
use crate::error::{AppResult, ErrorBody, ErrorCode};
use crate::http::scope::{Owner, ScopeResource, Scoped};
use crate::http::{Json, OrgScope, Page, PageParams};
use crate::ids::{TeamId, TeamRoleId};
use crate::permissions::perm;

/// `/teams/{team_id}/…`
pub struct TeamResource;
impl ScopeResource for TeamResource {
    const PARAM: &'static str = "team_id";
    const NOT_FOUND: ErrorCode = ErrorCode::TeamNotFound;
    type Id = TeamId;
    fn owner(conn: &Connection, id: TeamId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row("SELECT organization_id FROM teams WHERE id = ?1", [id], |r| {
            Ok(Owner { org_id: r.get(0)?, bot_id: None })
        })
        .optional()
    }
}

/// `/team-roles/{team_role_id}`
pub struct TeamRoleResource;
impl ScopeResource for TeamRoleResource {
    const PARAM: &'static str = "team_role_id";
    const NOT_FOUND: ErrorCode = ErrorCode::TeamRoleNotFound;
    type Id = TeamRoleId;
    fn owner(conn: &Connection, id: TeamRoleId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row("SELECT organization_id FROM team_roles WHERE id = ?1", [id], |r| {
            Ok(Owner { org_id: r.get(0)?, bot_id: None })
        })
        .optional()
    }
}

pub type TeamScope<P> = Scoped<TeamResource, P>;
pub type TeamRoleScope<P> = Scoped<TeamRoleResource, P>;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_teams)
        .service(create_team)
        .service(get_team)
        .service(update_team)
        .service(delete_team)
        .service(list_team_members)
        .service(add_team_member)
        .service(change_team_member)
        .service(remove_team_member)
        .service(list_team_roles)
        .service(create_team_role)
        .service(update_team_role)
        .service(delete_team_role);
}

/// The organization's teams.
#[utoipa::path(
    tag = "teams",
    params(("org_id" = i64, Path, description = "Organization id"), PageParams),
    responses((status = 422, body = ErrorBody, description = "`validation_failed`: `limit` outside 1–200 or a malformed `after` cursor"), (status = 200, body = Page<Team>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["members.read"]), ("api_token" = ["members.read"]))
)]
#[get("/orgs/{org_id}/teams")]
async fn list_teams(
    scope: OrgScope<perm::MembersRead>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Team>>> {
    Ok(web::Json(service::list(&state, scope.into_tenant(), page.into_inner()).await?))
}

/// Creates a team.
#[utoipa::path(
    tag = "teams",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = CreateTeamRequest,
    responses((status = 201, body = Team), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["members.manage"]), ("api_token" = ["members.manage"]))
)]
#[post("/orgs/{org_id}/teams")]
async fn create_team(
    scope: OrgScope<perm::MembersManage>,
    state: web::Data<AppState>,
    body: Json<CreateTeamRequest>,
) -> AppResult<HttpResponse> {
    let team = service::create(&state, scope.into_tenant(), body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(team))
}

/// Shows a team.
#[utoipa::path(
    tag = "teams",
    params(("team_id" = i64, Path, description = "Team id")),
    responses((status = 200, body = Team), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["members.read"]), ("api_token" = ["members.read"]))
)]
#[get("/teams/{team_id}")]
async fn get_team(scope: TeamScope<perm::MembersRead>, state: web::Data<AppState>) -> AppResult<web::Json<Team>> {
    let id = scope.id();
    Ok(web::Json(service::get(&state, scope.into_tenant(), id).await?))
}

/// Renames a team or changes its description.
#[utoipa::path(
    tag = "teams",
    params(("team_id" = i64, Path, description = "Team id")),
    request_body = UpdateTeamRequest,
    responses((status = 200, body = Team), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["members.manage"]), ("api_token" = ["members.manage"]))
)]
#[patch("/teams/{team_id}")]
async fn update_team(
    scope: TeamScope<perm::MembersManage>,
    state: web::Data<AppState>,
    body: Json<UpdateTeamRequest>,
) -> AppResult<web::Json<Team>> {
    let id = scope.id();
    Ok(web::Json(service::update(&state, scope.into_tenant(), id, body.into_inner()?).await?))
}

/// Deletes a team (bots and conversations assigned to it become unassigned).
#[utoipa::path(
    tag = "teams",
    params(("team_id" = i64, Path, description = "Team id")),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["members.manage"]), ("api_token" = ["members.manage"]))
)]
#[delete("/teams/{team_id}")]
async fn delete_team(scope: TeamScope<perm::MembersManage>, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let id = scope.id();
    service::delete(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The members of a team with their team roles.
#[utoipa::path(
    tag = "teams",
    params(("team_id" = i64, Path, description = "Team id")),
    responses((status = 200, body = Vec<TeamMember>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["members.read"]), ("api_token" = ["members.read"]))
)]
#[get("/teams/{team_id}/members")]
async fn list_team_members(
    scope: TeamScope<perm::MembersRead>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<Vec<TeamMember>>> {
    let id = scope.id();
    Ok(web::Json(service::list_members(&state, scope.into_tenant(), id).await?))
}

/// Adds an organization member to a team with a team role.
#[utoipa::path(
    tag = "teams",
    params(("team_id" = i64, Path, description = "Team id")),
    request_body = AddTeamMemberRequest,
    responses(
        (status = 201, body = TeamMember),
        (status = 403, body = ErrorBody, description = "`forbidden` or `role_escalation`"),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`already_member`"),
        (status = 422, body = ErrorBody),
    ),
    security(("session" = ["members.manage"]), ("api_token" = ["members.manage"]))
)]
#[post("/teams/{team_id}/members")]
async fn add_team_member(
    scope: TeamScope<perm::MembersManage>,
    state: web::Data<AppState>,
    body: Json<AddTeamMemberRequest>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    let member = service::add_member(&state, scope.into_tenant(), id, body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(member))
}

/// Changes a team member's team role.
#[utoipa::path(
    tag = "teams",
    params(("team_id" = i64, Path, description = "Team id"), ("user_id" = i64, Path, description = "User id")),
    request_body = ChangeTeamMemberRequest,
    responses((status = 200, body = TeamMember), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["members.manage"]), ("api_token" = ["members.manage"]))
)]
#[patch("/teams/{team_id}/members/{user_id}")]
async fn change_team_member(
    scope: TeamScope<perm::MembersManage>,
    state: web::Data<AppState>,
    path: web::Path<TeamMemberPath>,
    body: Json<ChangeTeamMemberRequest>,
) -> AppResult<web::Json<TeamMember>> {
    let id = scope.id();
    let body = body.into_inner()?;
    Ok(web::Json(service::change_member(&state, scope.into_tenant(), id, path.user_id, body.team_role_id).await?))
}

/// Removes a member from a team (they stay in the organization).
#[utoipa::path(
    tag = "teams",
    params(("team_id" = i64, Path, description = "Team id"), ("user_id" = i64, Path, description = "User id")),
    responses((status = 204, description = "Removed"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["members.manage"]), ("api_token" = ["members.manage"]))
)]
#[delete("/teams/{team_id}/members/{user_id}")]
async fn remove_team_member(
    scope: TeamScope<perm::MembersManage>,
    state: web::Data<AppState>,
    path: web::Path<TeamMemberPath>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    service::remove_member(&state, scope.into_tenant(), id, path.user_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The organization's team roles.
#[utoipa::path(
    tag = "teams",
    params(("org_id" = i64, Path, description = "Organization id")),
    responses((status = 200, body = Vec<TeamRole>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["members.read"]), ("api_token" = ["members.read"]))
)]
#[get("/orgs/{org_id}/team-roles")]
async fn list_team_roles(
    scope: OrgScope<perm::MembersRead>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<Vec<TeamRole>>> {
    Ok(web::Json(service::list_roles(&state, scope.into_tenant()).await?))
}

/// Creates a team role from catalogue permissions the caller holds.
#[utoipa::path(
    tag = "teams",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = CreateTeamRoleRequest,
    responses(
        (status = 201, body = TeamRole),
        (status = 403, body = ErrorBody, description = "`forbidden` or `role_escalation`"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("session" = ["roles.manage"]), ("api_token" = ["roles.manage"]))
)]
#[post("/orgs/{org_id}/team-roles")]
async fn create_team_role(
    scope: OrgScope<perm::RolesManage>,
    state: web::Data<AppState>,
    body: Json<CreateTeamRoleRequest>,
) -> AppResult<HttpResponse> {
    let role = service::create_role(&state, scope.into_tenant(), body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(role))
}

/// Changes a team role.
#[utoipa::path(
    tag = "teams",
    params(("team_role_id" = i64, Path, description = "Team role id")),
    request_body = UpdateTeamRoleRequest,
    responses((status = 200, body = TeamRole), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["roles.manage"]), ("api_token" = ["roles.manage"]))
)]
#[patch("/team-roles/{team_role_id}")]
async fn update_team_role(
    scope: TeamRoleScope<perm::RolesManage>,
    state: web::Data<AppState>,
    body: Json<UpdateTeamRoleRequest>,
) -> AppResult<web::Json<TeamRole>> {
    let id = scope.id();
    Ok(web::Json(service::update_role(&state, scope.into_tenant(), id, body.into_inner()?).await?))
}

/// Deletes a team role nobody holds.
#[utoipa::path(
    tag = "teams",
    params(("team_role_id" = i64, Path, description = "Team role id")),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "`role_in_use`")),
    security(("session" = ["roles.manage"]), ("api_token" = ["roles.manage"]))
)]
#[delete("/team-roles/{team_role_id}")]
async fn delete_team_role(
    scope: TeamRoleScope<perm::RolesManage>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    service::delete_role(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

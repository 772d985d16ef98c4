//! Roles: the built-in ones and per-organization custom roles built from the
//! permission catalogue.

pub mod model;
pub mod service;
pub mod store;

use actix_web::{HttpResponse, delete, get, patch, post, web};
use rusqlite::{Connection, OptionalExtension};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::{CreateRoleRequest, Role, UpdateRoleRequest};
use crate::app::AppState;
use crate::error::{AppResult, ErrorBody, ErrorCode};
use crate::http::scope::{Owner, ScopeResource, Scoped};
use crate::http::{Json, OrgScope};
use crate::ids::RoleId;
use crate::permissions::perm;

/// `/roles/{role_id}`: custom roles only (built-in roles have no organization).
pub struct RoleResource;
impl ScopeResource for RoleResource {
    const PARAM: &'static str = "role_id";
    const NOT_FOUND: ErrorCode = ErrorCode::RoleNotFound;
    type Id = RoleId;
    fn owner(conn: &Connection, id: RoleId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row("SELECT organization_id FROM roles WHERE id = ?1 AND organization_id IS NOT NULL", [id], |r| {
            Ok(Owner { org_id: r.get(0)?, bot_id: None })
        })
        .optional()
    }
}

/// A scope on a custom role from its path.
pub type RoleScope<P> = Scoped<RoleResource, P>;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_roles).service(create_role).service(update_role).service(delete_role);
}

/// The organization's roles: the built-in ones, then custom roles, with
/// their permissions and member counts.
#[utoipa::path(
    tag = "roles",
    params(("org_id" = i64, Path, description = "Organization id")),
    responses((status = 200, body = Vec<Role>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["members.read"]), ("api_token" = ["members.read"]))
)]
#[get("/orgs/{org_id}/roles")]
async fn list_roles(scope: OrgScope<perm::MembersRead>, state: web::Data<AppState>) -> AppResult<web::Json<Vec<Role>>> {
    Ok(web::Json(service::list(&state, scope.into_tenant()).await?))
}

/// Creates a custom role from catalogue permissions the caller holds.
#[utoipa::path(
    tag = "roles",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = CreateRoleRequest,
    responses(
        (status = 201, body = Role),
        (status = 403, body = ErrorBody, description = "`forbidden`, or `role_escalation` naming the permissions the caller lacks"),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`name_taken`"),
        (status = 422, body = ErrorBody),
    ),
    security(("session" = ["roles.manage"]), ("api_token" = ["roles.manage"]))
)]
#[post("/orgs/{org_id}/roles")]
async fn create_role(
    scope: OrgScope<perm::RolesManage>,
    state: web::Data<AppState>,
    body: Json<CreateRoleRequest>,
) -> AppResult<HttpResponse> {
    let role = service::create(&state, scope.into_tenant(), body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(role))
}

/// Renames a custom role or changes its permissions (members holding it
/// get the new permissions at once).
#[utoipa::path(
    tag = "roles",
    params(("role_id" = i64, Path, description = "Custom role id")),
    request_body = UpdateRoleRequest,
    responses(
        (status = 200, body = Role),
        (status = 403, body = ErrorBody, description = "`forbidden` or `role_escalation`"),
        (status = 404, body = ErrorBody, description = "`role_not_found` (built-in roles cannot be changed)"),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("session" = ["roles.manage"]), ("api_token" = ["roles.manage"]))
)]
#[patch("/roles/{role_id}")]
async fn update_role(
    scope: RoleScope<perm::RolesManage>,
    state: web::Data<AppState>,
    body: Json<UpdateRoleRequest>,
) -> AppResult<web::Json<Role>> {
    let id = scope.id();
    Ok(web::Json(service::update(&state, scope.into_tenant(), id, body.into_inner()?).await?))
}

/// Deletes a custom role that no member or pending invitation holds.
#[utoipa::path(
    tag = "roles",
    params(("role_id" = i64, Path, description = "Custom role id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`role_in_use`"),
    ),
    security(("session" = ["roles.manage"]), ("api_token" = ["roles.manage"]))
)]
#[delete("/roles/{role_id}")]
async fn delete_role(scope: RoleScope<perm::RolesManage>, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let id = scope.id();
    service::delete(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

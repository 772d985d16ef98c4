//! Organizations: creation, settings, deletion, the permission catalogue,
//! and their sub-areas (members, roles, teams, invitations, white-label, API
//! tokens, audit log and activity feed).
//!
//! Switching organization is a client concern: every route names its
//! organization in the path (`/orgs/{org_id}/…`) or reaches it through a
//! resource, so there is no server-side "current organization" to switch.

pub mod api_tokens;
pub mod audit;
pub mod invitations;
pub mod members;
pub mod model;
pub mod roles;
pub mod service;
pub mod store;
pub mod teams;
pub mod whitelabel;

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::{CreateOrgRequest, DeleteOrgRequest, Organization, PermissionInfo, UpdateOrgRequest};
use crate::accounts::model::Membership;
use crate::app::AppState;
use crate::error::{AppResult, ErrorBody};
use crate::http::{Auth, ClientInfo, Json, OrgScope, SessionAuth};
use crate::permissions::{Permission, perm};

/// Registers the organization routes.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_orgs)
        .service(create_org)
        .service(get_org)
        .service(update_org)
        .service(delete_org)
        .service(list_permissions);
    members::routes(cfg);
    roles::routes(cfg);
    teams::routes(cfg);
    invitations::routes(cfg);
    whitelabel::routes(cfg);
    api_tokens::routes(cfg);
    audit::routes::routes(cfg);
}

/// The caller's organizations with their role and permissions there.
#[utoipa::path(
    tag = "orgs",
    responses((status = 200, body = Vec<Membership>), (status = 401, body = ErrorBody)),
    security(("session" = []), ("api_token" = []))
)]
#[get("/orgs")]
async fn list_orgs(auth: Auth, state: web::Data<AppState>) -> AppResult<web::Json<Vec<Membership>>> {
    Ok(web::Json(service::list_mine(&state, auth.user_id).await?))
}

/// Creates an organization; the caller becomes its owner.
#[utoipa::path(
    tag = "orgs",
    request_body = CreateOrgRequest,
    responses((status = 201, body = Organization), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = []))
)]
#[post("/orgs")]
async fn create_org(
    req: HttpRequest,
    auth: SessionAuth,
    state: web::Data<AppState>,
    body: Json<CreateOrgRequest>,
) -> AppResult<HttpResponse> {
    let org = service::create_org(&state, &auth, body.into_inner()?, ClientInfo::of(&req)).await?;
    Ok(HttpResponse::Created().json(org))
}

/// Shows an organization the caller belongs to.
#[utoipa::path(
    tag = "orgs",
    params(("org_id" = i64, Path, description = "Organization id")),
    responses((status = 200, body = Organization), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = []), ("api_token" = []))
)]
#[get("/orgs/{org_id}")]
async fn get_org(scope: OrgScope<perm::Member>, state: web::Data<AppState>) -> AppResult<web::Json<Organization>> {
    Ok(web::Json(service::get_org(&state, scope.into_tenant()).await?))
}

/// Renames an organization, replaces its settings or changes its audit retention.
#[utoipa::path(
    tag = "orgs",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = UpdateOrgRequest,
    responses((status = 200, body = Organization), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["org.manage"]), ("api_token" = ["org.manage"]))
)]
#[patch("/orgs/{org_id}")]
async fn update_org(
    scope: OrgScope<perm::OrgManage>,
    state: web::Data<AppState>,
    body: Json<UpdateOrgRequest>,
) -> AppResult<web::Json<Organization>> {
    Ok(web::Json(service::update_org(&state, scope.into_tenant(), body.into_inner()?).await?))
}

/// Deletes an organization with all its data (owners only); the body
/// repeats the organization's name to confirm.
#[utoipa::path(
    tag = "orgs",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = DeleteOrgRequest,
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "`confirm_name` does not match"),
    ),
    security(("session" = ["org.delete"]), ("api_token" = ["org.delete"]))
)]
#[delete("/orgs/{org_id}")]
async fn delete_org(
    scope: OrgScope<perm::OrgDelete>,
    state: web::Data<AppState>,
    body: Json<DeleteOrgRequest>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner()?;
    service::delete_org(&state, scope.into_tenant(), body.confirm_name).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The permission catalogue that roles and API-token scopes are built from.
#[utoipa::path(
    tag = "orgs",
    responses((status = 200, body = Vec<PermissionInfo>), (status = 401, body = ErrorBody)),
    security(("session" = []), ("api_token" = []))
)]
#[get("/permissions")]
async fn list_permissions(_auth: Auth) -> web::Json<Vec<PermissionInfo>> {
    web::Json(
        Permission::ALL.iter().map(|p| PermissionInfo { name: p.as_str(), description: p.description() }).collect(),
    )
}

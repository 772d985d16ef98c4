//! Organizations: creation, settings, the permission catalogue, audit.

pub mod audit;
pub mod model;
pub mod service;
pub mod store;

use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::{CreateOrgRequest, Organization, PermissionInfo, UpdateOrgRequest};
use crate::app::AppState;
use crate::error::{AppResult, ErrorBody};
use crate::http::{Auth, ClientInfo, Json, OrgScope, SessionAuth};
use crate::permissions::{Permission, perm};

/// Registers the organization routes.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_org).service(get_org).service(update_org).service(list_permissions);
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

/// Renames an organization.
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

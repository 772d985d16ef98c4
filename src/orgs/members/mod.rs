//! Members of an organization: list, change role, remove, leave. People
//! join through invitations (`orgs::invitations`), never by being added
//! without their consent.

pub mod model;
pub mod service;
pub mod store;

use actix_web::{HttpResponse, delete, get, patch, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::{ChangeRoleRequest, Member, MemberPath};
use crate::app::AppState;
use crate::error::{AppResult, ErrorBody};
use crate::http::{Json, OrgScope, Page, PageParams};
use crate::permissions::perm;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_members).service(change_member_role).service(remove_member).service(leave_org);
}

/// The organization's members with their roles.
#[utoipa::path(
    tag = "members",
    params(("org_id" = i64, Path, description = "Organization id"), PageParams),
    responses((status = 422, body = ErrorBody, description = "`validation_failed`: `limit` outside 1–200 or a malformed `after` cursor"), (status = 200, body = Page<Member>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["members.read"]), ("api_token" = ["members.read"]))
)]
#[get("/orgs/{org_id}/members")]
async fn list_members(
    scope: OrgScope<perm::MembersRead>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Member>>> {
    Ok(web::Json(service::list(&state, scope.into_tenant(), page.into_inner()).await?))
}

/// Gives a member another role (never one stronger than the caller's, and
/// the last owner stays owner).
#[utoipa::path(
    tag = "members",
    params(("org_id" = i64, Path, description = "Organization id"), ("user_id" = i64, Path, description = "Member's user id")),
    request_body = ChangeRoleRequest,
    responses(
        (status = 200, body = Member),
        (status = 403, body = ErrorBody, description = "`forbidden`, or `role_escalation` (the role or the member is stronger than the caller)"),
        (status = 404, body = ErrorBody, description = "`member_not_found`"),
        (status = 409, body = ErrorBody, description = "`last_owner`"),
        (status = 422, body = ErrorBody),
    ),
    security(("session" = ["members.manage"]), ("api_token" = ["members.manage"]))
)]
#[patch("/orgs/{org_id}/members/{user_id}")]
async fn change_member_role(
    scope: OrgScope<perm::MembersManage>,
    state: web::Data<AppState>,
    path: web::Path<MemberPath>,
    body: Json<ChangeRoleRequest>,
) -> AppResult<web::Json<Member>> {
    let body = body.into_inner()?;
    Ok(web::Json(service::change_role(&state, scope.into_tenant(), path.user_id, body.role).await?))
}

/// Removes a member from the organization (with their team places and API tokens).
#[utoipa::path(
    tag = "members",
    params(("org_id" = i64, Path, description = "Organization id"), ("user_id" = i64, Path, description = "Member's user id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, body = ErrorBody, description = "`forbidden` or `role_escalation` (e.g. an admin removing an owner)"),
        (status = 404, body = ErrorBody, description = "`member_not_found`"),
        (status = 409, body = ErrorBody, description = "`last_owner`"),
    ),
    security(("session" = ["members.manage"]), ("api_token" = ["members.manage"]))
)]
#[delete("/orgs/{org_id}/members/{user_id}")]
async fn remove_member(
    scope: OrgScope<perm::MembersManage>,
    state: web::Data<AppState>,
    path: web::Path<MemberPath>,
) -> AppResult<HttpResponse> {
    service::remove(&state, scope.into_tenant(), path.user_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The caller leaves the organization (not as its last owner).
#[utoipa::path(
    tag = "members",
    params(("org_id" = i64, Path, description = "Organization id")),
    responses(
        (status = 204, description = "Left"),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`last_owner`"),
    ),
    security(("session" = []), ("api_token" = []))
)]
#[post("/orgs/{org_id}/leave")]
async fn leave_org(scope: OrgScope<perm::Member>, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    service::leave(&state, scope.into_tenant()).await?;
    Ok(HttpResponse::NoContent().finish())
}

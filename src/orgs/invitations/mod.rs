//! Invitations: how anyone joins an organization. Sent by email with an
//! accept link; accepted by signing in (or up) with the invited address;
//! declined, revoked, resent, expired.

pub mod model;
pub mod service;
pub mod store;

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use rusqlite::{Connection, OptionalExtension};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::{
    AcceptedInvitation, CreateInvitationRequest, Invitation, InvitationPreview, InvitationQuery,
    InvitationTokenRequest, SentInvitation,
};
use crate::app::AppState;
use crate::error::{AppResult, ErrorBody, ErrorCode};
use crate::http::scope::{Owner, ScopeResource, Scoped};
use crate::http::{ClientInfo, Json, OrgScope, Page, PageParams, SessionAuth};
use crate::ids::InvitationId;
use crate::permissions::perm;

/// `/invitations/{invitation_id}/…`
pub struct InvitationResource;
impl ScopeResource for InvitationResource {
    const PARAM: &'static str = "invitation_id";
    const NOT_FOUND: ErrorCode = ErrorCode::InvitationNotFound;
    type Id = InvitationId;
    fn owner(conn: &Connection, id: InvitationId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row("SELECT organization_id FROM team_invitations WHERE id = ?1", [id], |r| {
            Ok(Owner { org_id: r.get(0)?, bot_id: None })
        })
        .optional()
    }
}

pub type InvitationScope<P> = Scoped<InvitationResource, P>;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_invitations)
        .service(create_invitation)
        .service(revoke_invitation)
        .service(resend_invitation)
        .service(preview_invitation)
        .service(accept_invitation)
        .service(decline_invitation);
}

/// The organization's invitations, newest first.
#[utoipa::path(
    tag = "invitations",
    params(("org_id" = i64, Path, description = "Organization id"), PageParams, InvitationQuery),
    responses((status = 200, body = Page<Invitation>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["members.read"]), ("api_token" = ["members.read"]))
)]
#[get("/orgs/{org_id}/invitations")]
async fn list_invitations(
    scope: OrgScope<perm::MembersRead>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
    query: web::Query<InvitationQuery>,
) -> AppResult<web::Json<Page<Invitation>>> {
    let status = query.into_inner().status;
    Ok(web::Json(service::list(&state, scope.into_tenant(), status, page.into_inner()).await?))
}

/// Invites someone by email with an organization role (and optionally a
/// team); the accept link is emailed and also returned once.
#[utoipa::path(
    tag = "invitations",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = CreateInvitationRequest,
    responses(
        (status = 201, body = SentInvitation),
        (status = 403, body = ErrorBody, description = "`forbidden`, or `role_escalation` when the role is stronger than the caller's"),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`already_member` or `invitation_pending`"),
        (status = 422, body = ErrorBody),
    ),
    security(("session" = ["members.manage"]), ("api_token" = ["members.manage"]))
)]
#[post("/orgs/{org_id}/invitations")]
async fn create_invitation(
    scope: OrgScope<perm::MembersManage>,
    state: web::Data<AppState>,
    body: Json<CreateInvitationRequest>,
) -> AppResult<HttpResponse> {
    let sent = service::create(&state, scope.into_tenant(), body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(sent))
}

/// Revokes a pending invitation: its link stops working.
#[utoipa::path(
    tag = "invitations",
    params(("invitation_id" = i64, Path, description = "Invitation id")),
    responses((status = 204, description = "Revoked"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("session" = ["members.manage"]), ("api_token" = ["members.manage"]))
)]
#[delete("/invitations/{invitation_id}")]
async fn revoke_invitation(
    scope: InvitationScope<perm::MembersManage>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    service::revoke(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sends the invitation again with a new link valid 7 days (re-invites
/// after it expired, was declined or revoked).
#[utoipa::path(
    tag = "invitations",
    params(("invitation_id" = i64, Path, description = "Invitation id")),
    responses(
        (status = 200, body = SentInvitation),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`conflict` (accepted), `already_member` or `invitation_pending`"),
    ),
    security(("session" = ["members.manage"]), ("api_token" = ["members.manage"]))
)]
#[post("/invitations/{invitation_id}/resend")]
async fn resend_invitation(
    scope: InvitationScope<perm::MembersManage>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<SentInvitation>> {
    let id = scope.id();
    Ok(web::Json(service::resend(&state, scope.into_tenant(), id).await?))
}

/// What an invitation link offers (organization, role, inviter).
#[utoipa::path(
    tag = "invitations",
    request_body = InvitationTokenRequest,
    responses(
        (status = 200, body = InvitationPreview),
        (status = 400, body = ErrorBody, description = "`token_invalid`"),
        (status = 410, body = ErrorBody, description = "`token_expired`"),
        (status = 429, body = ErrorBody),
    )
)]
#[post("/invitations/preview")]
async fn preview_invitation(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Json<InvitationTokenRequest>,
) -> AppResult<web::Json<InvitationPreview>> {
    Ok(web::Json(service::preview(&state, body.into_inner()?, ClientInfo::of(&req)).await?))
}

/// Accepts an invitation as the signed-in user (whose email must be the
/// invited one): the membership (and team place) is created.
#[utoipa::path(
    tag = "invitations",
    request_body = InvitationTokenRequest,
    responses(
        (status = 200, body = AcceptedInvitation),
        (status = 400, body = ErrorBody, description = "`token_invalid`"),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "`invitation_email_mismatch`"),
        (status = 409, body = ErrorBody, description = "`already_member`"),
        (status = 410, body = ErrorBody, description = "`token_expired`"),
    ),
    security(("session" = []))
)]
#[post("/invitations/accept")]
async fn accept_invitation(
    req: HttpRequest,
    auth: SessionAuth,
    state: web::Data<AppState>,
    body: Json<InvitationTokenRequest>,
) -> AppResult<web::Json<AcceptedInvitation>> {
    Ok(web::Json(service::accept(&state, &auth, body.into_inner()?, ClientInfo::of(&req)).await?))
}

/// Declines an invitation (no account needed).
#[utoipa::path(
    tag = "invitations",
    request_body = InvitationTokenRequest,
    responses(
        (status = 204, description = "Declined"),
        (status = 400, body = ErrorBody, description = "`token_invalid`"),
        (status = 410, body = ErrorBody, description = "`token_expired`"),
        (status = 429, body = ErrorBody),
    )
)]
#[post("/invitations/decline")]
async fn decline_invitation(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Json<InvitationTokenRequest>,
) -> AppResult<HttpResponse> {
    service::decline(&state, body.into_inner()?, ClientInfo::of(&req)).await?;
    Ok(HttpResponse::NoContent().finish())
}

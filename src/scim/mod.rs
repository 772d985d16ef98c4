//! SCIM 2.0 provisioning (RFC 7643/7644): identity providers such as Okta
//! and Microsoft Entra ID create, update, deactivate and delete an
//! organization's members and teams at `/scim/v2`, with a per-organization
//! SCIM bearer token managed here under `/api/v1/orgs/{org_id}/scim-tokens`.
//!
//! The protocol routes (`protocol`) are outside the `OpenAPI` document: their
//! contract is RFC 7644 and their discovery documents (`/ServiceProviderConfig`,
//! `/ResourceTypes`, `/Schemas`), and their errors use the SCIM error body.

pub mod error;
pub mod filter;
pub mod model;
pub mod patch;
pub mod protocol;
pub mod schema;
pub mod service;
pub mod store;
pub mod tokens;

use actix_web::{HttpResponse, delete, get, post, web};
use rusqlite::{Connection, OptionalExtension};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::{CreateScimTokenRequest, ScimSettings, ScimToken, ScimTokenId, ScimTokenSecret};
use crate::app::AppState;
use crate::error::{AppResult, ErrorBody, ErrorCode};
use crate::http::scope::{Owner, ScopeResource, Scoped};
use crate::http::{Json, OrgScope, Page, PageParams};
use crate::permissions::perm;

pub use self::protocol::protocol_routes;

/// The media type of SCIM bodies.
pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

/// `/scim-tokens/{scim_token_id}`
pub struct ScimTokenResource;
impl ScopeResource for ScimTokenResource {
    const PARAM: &'static str = "scim_token_id";
    const NOT_FOUND: ErrorCode = ErrorCode::ScimTokenNotFound;
    type Id = ScimTokenId;
    fn owner(conn: &Connection, id: ScimTokenId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row("SELECT organization_id FROM scim_tokens WHERE id = ?1", [id], |r| {
            Ok(Owner { org_id: r.get(0)?, bot_id: None })
        })
        .optional()
    }
}

pub type ScimTokenScope<P> = Scoped<ScimTokenResource, P>;

/// Registers the token-management routes under `/api/v1`.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(scim_get_settings)
        .service(scim_list_tokens)
        .service(scim_create_token)
        .service(scim_rotate_token)
        .service(scim_revoke_token);
}

/// The SCIM base URL to enter in the identity provider, and whether a token is live.
#[utoipa::path(
    tag = "scim",
    params(("org_id" = i64, Path, description = "Organization id")),
    responses((status = 200, body = ScimSettings), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["sso.manage"]), ("api_token" = ["sso.manage"]))
)]
#[get("/orgs/{org_id}/scim")]
async fn scim_get_settings(
    scope: OrgScope<perm::SsoManage>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<ScimSettings>> {
    Ok(web::Json(tokens::settings(&state, scope.into_tenant()).await?))
}

/// The organization's SCIM tokens (names, role, last use; never secrets).
#[utoipa::path(
    tag = "scim",
    params(("org_id" = i64, Path, description = "Organization id"), PageParams),
    responses((status = 422, body = ErrorBody, description = "`validation_failed`: `limit` outside 1–200 or a malformed `after` cursor"), (status = 200, body = Page<ScimToken>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["sso.manage"]), ("api_token" = ["sso.manage"]))
)]
#[get("/orgs/{org_id}/scim-tokens")]
async fn scim_list_tokens(
    scope: OrgScope<perm::SsoManage>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<ScimToken>>> {
    Ok(web::Json(tokens::list(&state, scope.into_tenant(), page.into_inner()).await?))
}

/// Creates a SCIM token; the secret is in the answer and never shown again.
#[utoipa::path(
    tag = "scim",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = CreateScimTokenRequest,
    responses(
        (status = 201, body = ScimTokenSecret),
        (status = 403, body = ErrorBody, description = "`forbidden`, or `role_escalation` when the role exceeds the caller's permissions"),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody),
    ),
    security(("session" = ["sso.manage"]), ("api_token" = ["sso.manage"]))
)]
#[post("/orgs/{org_id}/scim-tokens")]
async fn scim_create_token(
    scope: OrgScope<perm::SsoManage>,
    state: web::Data<AppState>,
    body: Json<CreateScimTokenRequest>,
) -> AppResult<HttpResponse> {
    let created = tokens::create(&state, scope.into_tenant(), body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(created))
}

/// Gives a SCIM token a new secret (shown once); the old secret stops working at once.
#[utoipa::path(
    tag = "scim",
    params(("scim_token_id" = i64, Path, description = "SCIM token id")),
    responses((status = 200, body = ScimTokenSecret), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("session" = ["sso.manage"]), ("api_token" = ["sso.manage"]))
)]
#[post("/scim-tokens/{scim_token_id}/rotate")]
async fn scim_rotate_token(
    scope: ScimTokenScope<perm::SsoManage>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<ScimTokenSecret>> {
    let id = scope.id();
    Ok(web::Json(tokens::rotate(&state, scope.into_tenant(), id).await?))
}

/// Revokes a SCIM token at once.
#[utoipa::path(
    tag = "scim",
    params(("scim_token_id" = i64, Path, description = "SCIM token id")),
    responses((status = 204, description = "Revoked"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("session" = ["sso.manage"]), ("api_token" = ["sso.manage"]))
)]
#[delete("/scim-tokens/{scim_token_id}")]
async fn scim_revoke_token(
    scope: ScimTokenScope<perm::SsoManage>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    tokens::revoke(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

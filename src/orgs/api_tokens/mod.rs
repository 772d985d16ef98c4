//! API tokens of an organization: created by a member (shown once), scoped
//! to a subset of the creator's permissions, optionally to one bot, with
//! expiry and last use; revoked by anyone who manages tokens.

pub mod model;
pub mod service;
pub mod store;

use actix_web::{HttpResponse, delete, get, post, web};
use rusqlite::{Connection, OptionalExtension};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::{ApiToken, CreateApiTokenRequest, CreatedApiToken};
use crate::app::AppState;
use crate::error::{AppResult, ErrorBody, ErrorCode};
use crate::http::scope::{Owner, ScopeResource, Scoped};
use crate::http::{Json, OrgScope, Page, PageParams};
use crate::ids::ApiTokenId;
use crate::permissions::perm;

/// `/api-tokens/{token_id}`
pub struct ApiTokenResource;
impl ScopeResource for ApiTokenResource {
    const PARAM: &'static str = "token_id";
    const NOT_FOUND: ErrorCode = ErrorCode::ApiTokenNotFound;
    type Id = ApiTokenId;
    fn owner(conn: &Connection, id: ApiTokenId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row("SELECT organization_id FROM api_tokens WHERE id = ?1", [id], |r| {
            Ok(Owner { org_id: r.get(0)?, bot_id: None })
        })
        .optional()
    }
}

pub type ApiTokenScope<P> = Scoped<ApiTokenResource, P>;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_api_tokens).service(create_api_token).service(revoke_api_token);
}

/// The organization's API tokens (names, scopes, last use; never secrets).
#[utoipa::path(
    tag = "api_tokens",
    params(("org_id" = i64, Path, description = "Organization id"), PageParams),
    responses((status = 422, body = ErrorBody, description = "`validation_failed`: `limit` outside 1–200 or a malformed `after` cursor"), (status = 200, body = Page<ApiToken>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["api_tokens.manage"]), ("api_token" = ["api_tokens.manage"]))
)]
#[get("/orgs/{org_id}/api-tokens")]
async fn list_api_tokens(
    scope: OrgScope<perm::ApiTokensManage>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<ApiToken>>> {
    Ok(web::Json(service::list(&state, scope.into_tenant(), page.into_inner()).await?))
}

/// Creates an API token; the secret is in the answer and never shown again.
#[utoipa::path(
    tag = "api_tokens",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = CreateApiTokenRequest,
    responses(
        (status = 201, body = CreatedApiToken),
        (status = 403, body = ErrorBody, description = "`forbidden`, or `role_escalation` when a scope exceeds the caller's permissions"),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody),
    ),
    security(("session" = ["api_tokens.manage"]), ("api_token" = ["api_tokens.manage"]))
)]
#[post("/orgs/{org_id}/api-tokens")]
async fn create_api_token(
    scope: OrgScope<perm::ApiTokensManage>,
    state: web::Data<AppState>,
    body: Json<CreateApiTokenRequest>,
) -> AppResult<HttpResponse> {
    let created = service::create(&state, scope.into_tenant(), body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(created))
}

/// Revokes an API token at once.
#[utoipa::path(
    tag = "api_tokens",
    params(("token_id" = i64, Path, description = "API token id")),
    responses((status = 204, description = "Revoked"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("session" = ["api_tokens.manage"]), ("api_token" = ["api_tokens.manage"]))
)]
#[delete("/api-tokens/{token_id}")]
async fn revoke_api_token(
    scope: ApiTokenScope<perm::ApiTokensManage>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    service::revoke(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

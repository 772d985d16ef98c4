//! Integrations (issue 18 item 7): a vault of credentials for external
//! services (Slack, `HubSpot`, Google, Meta, Zendesk, Shopify, Salesforce,
//! custom HTTP APIs) sealed at rest and never returned, a test-connection
//! call per type, a log of every provider call, and the OAuth 2.0
//! authorization-code connect flow. Everything needs `integrations.manage`
//! except the provider's redirect to `/oauth/callback`, which the `state`
//! authenticates.
//!
//! Channels and tools get a usable token with [`service::access_token`].

pub mod model;
pub mod oauth;
pub mod providers;
pub mod service;
pub mod store;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use rusqlite::{Connection, OptionalExtension};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::{
    CallbackParams, ConnectionTest, CreateIntegrationRequest, Integration, IntegrationId, IntegrationLog, OAuthStart,
    TypeSpec, UpdateIntegrationRequest,
};
use crate::app::AppState;
use crate::error::{AppResult, ErrorBody, ErrorCode};
use crate::http::scope::{Owner, ScopeResource, Scoped};
use crate::http::{Json, OrgScope, Page, PageParams};
use crate::permissions::perm;

/// `/integrations/{integration_id}/…`
pub struct IntegrationResource;
impl ScopeResource for IntegrationResource {
    const PARAM: &'static str = "integration_id";
    const NOT_FOUND: ErrorCode = ErrorCode::IntegrationNotFound;
    type Id = IntegrationId;
    fn owner(conn: &Connection, id: IntegrationId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row("SELECT organization_id FROM integrations WHERE id = ?1", [id], |r| {
            Ok(Owner { org_id: r.get(0)?, bot_id: None })
        })
        .optional()
    }
}

pub type IntegrationScope<P> = Scoped<IntegrationResource, P>;

/// Registers the routes outside `/api/v1` (the OAuth redirect target).
pub fn root_routes(cfg: &mut ServiceConfig) {
    cfg.service(oauth_callback);
}

/// Registers the routes under `/api/v1`.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_integration_types)
        .service(create_integration)
        .service(list_integrations)
        .service(get_integration)
        .service(update_integration)
        .service(delete_integration)
        .service(test_integration)
        .service(list_integration_logs)
        .service(start_oauth);
}

/// Lists the integration types with their config and credential fields.
#[utoipa::path(
    tag = "integrations",
    params(("org_id" = i64, Path, description = "Organization id")),
    responses((status = 200, body = Vec<TypeSpec>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[get("/orgs/{org_id}/integration-types")]
async fn list_integration_types(_scope: OrgScope<perm::IntegrationsManage>) -> web::Json<Vec<TypeSpec>> {
    web::Json(service::types())
}

/// Stores an integration; its credentials are sealed and never shown (only which fields are set).
#[utoipa::path(
    tag = "integrations",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = CreateIntegrationRequest,
    responses((status = 201, body = Integration), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "`name_taken`"),
              (status = 422, body = ErrorBody, description = "`unknown_integration_type` (field `type`), `validation_failed` (e.g. `config.subdomain`, `credentials.bot_token`, `scopes[0]`) or `url_not_allowed`")),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[post("/orgs/{org_id}/integrations")]
async fn create_integration(
    scope: OrgScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
    body: Json<CreateIntegrationRequest>,
) -> AppResult<HttpResponse> {
    let created = service::create(&state, scope.into_tenant(), body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(created))
}

/// Lists the organization's integrations with status and last error.
#[utoipa::path(
    tag = "integrations",
    params(("org_id" = i64, Path, description = "Organization id"), PageParams),
    responses((status = 200, body = Page<Integration>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[get("/orgs/{org_id}/integrations")]
async fn list_integrations(
    scope: OrgScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Integration>>> {
    Ok(web::Json(service::list(&state, scope.into_tenant(), page.into_inner()).await?))
}

/// Shows an integration (credentials: only which fields are set).
#[utoipa::path(
    tag = "integrations",
    params(("integration_id" = i64, Path, description = "Integration id")),
    responses((status = 200, body = Integration), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[get("/integrations/{integration_id}")]
async fn get_integration(
    scope: IntegrationScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<Integration>> {
    let id = scope.id();
    Ok(web::Json(service::get(&state, scope.into_tenant(), id).await?))
}

/// Changes an integration: credentials given replace those fields (`null` removes one).
#[utoipa::path(
    tag = "integrations",
    params(("integration_id" = i64, Path, description = "Integration id")),
    request_body = UpdateIntegrationRequest,
    responses((status = 200, body = Integration), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`name_taken`"), (status = 422, body = ErrorBody)),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[patch("/integrations/{integration_id}")]
async fn update_integration(
    scope: IntegrationScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
    body: Json<UpdateIntegrationRequest>,
) -> AppResult<web::Json<Integration>> {
    let id = scope.id();
    Ok(web::Json(service::update(&state, scope.into_tenant(), id, body.into_inner()?).await?))
}

/// Deletes an integration, its secrets and its log.
#[utoipa::path(
    tag = "integrations",
    params(("integration_id" = i64, Path, description = "Integration id")),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[delete("/integrations/{integration_id}")]
async fn delete_integration(
    scope: IntegrationScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    service::delete(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Makes a cheap authenticated call to the provider (e.g. Slack `auth.test`) and logs it.
#[utoipa::path(
    tag = "integrations",
    params(("integration_id" = i64, Path, description = "Integration id")),
    responses((status = 200, body = ConnectionTest), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`integration_not_connected`: no token yet (connect first)"),
              (status = 422, body = ErrorBody, description = "`integration_credentials_rejected`: the provider's words in `details.provider_description`"),
              (status = 502, body = ErrorBody, description = "`integration_provider_unavailable`")),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[post("/integrations/{integration_id}/test")]
async fn test_integration(
    scope: IntegrationScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<ConnectionTest>> {
    let id = scope.id();
    Ok(web::Json(service::test_connection(&state, scope.into_tenant(), id).await?))
}

/// The integration's provider calls (test, OAuth grants, refreshes), newest first; no secrets.
#[utoipa::path(
    tag = "integrations",
    params(("integration_id" = i64, Path, description = "Integration id"), PageParams),
    responses((status = 200, body = Page<IntegrationLog>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[get("/integrations/{integration_id}/logs")]
async fn list_integration_logs(
    scope: IntegrationScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<IntegrationLog>>> {
    let id = scope.id();
    Ok(web::Json(service::list_logs(&state, scope.into_tenant(), id, page.into_inner()).await?))
}

/// Starts the OAuth connect flow: answers the provider's authorize URL (state: single-use, 10 minutes).
/// From a browser session it also sets a cookie binding the flow to this browser.
#[utoipa::path(
    tag = "integrations",
    params(("integration_id" = i64, Path, description = "Integration id")),
    responses((status = 200, body = OAuthStart), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "`oauth_not_supported`, or `validation_failed` (`config.client_id`, `credentials.client_secret`): the OAuth app is missing")),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[post("/integrations/{integration_id}/oauth/start")]
async fn start_oauth(
    scope: IntegrationScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    let tenant = scope.into_tenant();
    let browser = tenant.actor().token_id.is_none() && tenant.user_id().is_some();
    let started = oauth::start(&state, tenant, id, browser).await?;
    let mut response = HttpResponse::Ok();
    if let Some(nonce) = started.browser_nonce {
        response.cookie(binding_cookie(&state, nonce, oauth::STATE_MINUTES));
    }
    Ok(response.json(started.answer))
}

/// The browser-binding cookie: sent back on the provider's top-level
/// redirect (SameSite=Lax; the session cookie is Strict and is not).
fn binding_cookie(state: &AppState, value: String, minutes: i64) -> Cookie<'static> {
    let insecure = state.config.http.insecure_cookies;
    Cookie::build(
        if insecure { oauth::BROWSER_COOKIE.to_owned() } else { format!("__Host-{}", oauth::BROWSER_COOKIE) },
        value,
    )
    .path("/")
    .secure(!insecure)
    .http_only(true)
    .same_site(SameSite::Lax)
    .max_age(CookieDuration::minutes(minutes))
    .finish()
}

/// The provider's redirect after the user approved or refused (public; the
/// `state` authenticates it). Redirects (303) to the integrations page with
/// `oauth=connected`, or `oauth=error&reason=…&message=…` and nothing stored.
#[utoipa::path(
    tag = "integrations",
    params(CallbackParams),
    responses((status = 303, description = "To `/settings/integrations?oauth=connected&integration={id}` or `?oauth=error&reason=…` (`access_denied`, `state_invalid`, `state_used`, `state_expired`, `state_wrong_browser`, `token_exchange_failed`, …)"))
)]
#[get("/oauth/callback")]
async fn oauth_callback(
    state: web::Data<AppState>,
    request: HttpRequest,
    params: web::Query<CallbackParams>,
) -> HttpResponse {
    let insecure = state.config.http.insecure_cookies;
    let name = if insecure { oauth::BROWSER_COOKIE.to_owned() } else { format!("__Host-{}", oauth::BROWSER_COOKIE) };
    let nonce = request.cookie(&name).map(|c| c.value().to_owned());
    let location = match oauth::callback(&state, params.into_inner(), nonce).await {
        Ok(id) => oauth::result_location(Some(id), None),
        Err(r) => {
            tracing::info!(reason = r.reason, "OAuth callback refused");
            oauth::result_location(r.integration, Some((r.reason, &r.message)))
        }
    };
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(binding_cookie(&state, String::new(), 0))
        .finish()
}

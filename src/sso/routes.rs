//! Handlers of the SSO routes.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use rusqlite::{Connection, OptionalExtension};
use utoipa_actix_web::service_config::ServiceConfig;

use super::model::{
    CreateSsoConfigurationRequest, CreateSsoDomainRequest, SsoCallbackParams, SsoCheck, SsoConfiguration,
    SsoConfigurationId, SsoDomain, SsoDomainId, SsoEmailQuery, SsoLoginLog, SsoLoginQuery, SsoRefreshResult,
    SsoTestResult, SsoTestStart, UpdateSsoConfigurationRequest, VerifySsoDomainRequest,
};
use super::saml_keys::{self, SsoSamlEncryptionKey};
use super::{domains, service};
use crate::admin::AdminScope;
use crate::app::AppState;
use crate::error::{AppResult, ErrorBody, ErrorCode};
use crate::http::auth::session_cookie_name;
use crate::http::scope::{Owner, ScopeResource, Scoped};
use crate::http::{ClientInfo, Json, OrgScope, Page, PageParams};
use crate::permissions::perm;

/// `/sso/configurations/{sso_configuration_id}/…`
pub struct SsoConfigurationResource;
impl ScopeResource for SsoConfigurationResource {
    const PARAM: &'static str = "sso_configuration_id";
    const NOT_FOUND: ErrorCode = ErrorCode::SsoConfigurationNotFound;
    type Id = SsoConfigurationId;
    fn owner(conn: &Connection, id: SsoConfigurationId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row("SELECT organization_id FROM sso_configurations WHERE id = ?1", [id], |r| {
            Ok(Owner { org_id: r.get(0)?, bot_id: None })
        })
        .optional()
    }
}

/// `/sso/domains/{sso_domain_id}/…`
pub struct SsoDomainResource;
impl ScopeResource for SsoDomainResource {
    const PARAM: &'static str = "sso_domain_id";
    const NOT_FOUND: ErrorCode = ErrorCode::SsoDomainNotFound;
    type Id = SsoDomainId;
    fn owner(conn: &Connection, id: SsoDomainId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row("SELECT organization_id FROM sso_domains WHERE id = ?1", [id], |r| {
            Ok(Owner { org_id: r.get(0)?, bot_id: None })
        })
        .optional()
    }
}

type ConfigScope<P> = Scoped<SsoConfigurationResource, P>;
type DomainScope<P> = Scoped<SsoDomainResource, P>;

/// Registers the routes under `/api/v1`.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(sso_create_configuration)
        .service(sso_list_configurations)
        .service(sso_get_configuration)
        .service(sso_update_configuration)
        .service(sso_delete_configuration)
        .service(sso_start_test)
        .service(sso_test_result)
        .service(sso_list_logins)
        .service(sso_refresh_user)
        .service(sso_create_saml_key)
        .service(sso_promote_saml_key)
        .service(sso_retire_saml_key)
        .service(sso_create_domain)
        .service(sso_list_domains)
        .service(sso_verify_domain)
        .service(sso_delete_domain)
        .service(sso_approve_domain)
        .service(sso_check)
        .service(sso_login)
        .service(sso_oidc_callback)
        .service(sso_saml_metadata)
        .service(sso_saml_acs);
}

/// Creates an SSO configuration. For `oidc` the endpoints come from the
/// issuer's discovery document unless given; the client secret is sealed
/// and never returned.
#[utoipa::path(
    tag = "sso",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = CreateSsoConfigurationRequest,
    responses((status = 201, body = SsoConfiguration), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "`validation_failed` naming the field, or `sso_discovery_failed` (`issuer_url`)")),
    security(("session" = ["sso.manage"]), ("api_token" = ["sso.manage"]))
)]
#[post("/orgs/{org_id}/sso/configurations")]
async fn sso_create_configuration(
    scope: OrgScope<perm::SsoManage>,
    state: web::Data<AppState>,
    body: Json<CreateSsoConfigurationRequest>,
) -> AppResult<HttpResponse> {
    let created = service::create(&state, scope.into_tenant(), body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(created))
}

/// Lists the organization's SSO configurations.
#[utoipa::path(
    tag = "sso",
    params(("org_id" = i64, Path, description = "Organization id")),
    responses((status = 200, body = Vec<SsoConfiguration>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["sso.manage"]), ("api_token" = ["sso.manage"]))
)]
#[get("/orgs/{org_id}/sso/configurations")]
async fn sso_list_configurations(
    scope: OrgScope<perm::SsoManage>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<Vec<SsoConfiguration>>> {
    Ok(web::Json(service::list(&state, scope.into_tenant()).await?))
}

/// Shows an SSO configuration (the secret only as `client_secret_set`).
#[utoipa::path(
    tag = "sso",
    params(("sso_configuration_id" = i64, Path, description = "SSO configuration id")),
    responses((status = 200, body = SsoConfiguration), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["sso.manage"]), ("api_token" = ["sso.manage"]))
)]
#[get("/sso/configurations/{sso_configuration_id}")]
async fn sso_get_configuration(
    scope: ConfigScope<perm::SsoManage>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<SsoConfiguration>> {
    let id = scope.id();
    Ok(web::Json(service::get(&state, scope.into_tenant(), id).await?))
}

/// Changes an SSO configuration (absent fields stay; `client_secret: null` removes it).
#[utoipa::path(
    tag = "sso",
    params(("sso_configuration_id" = i64, Path, description = "SSO configuration id")),
    request_body = UpdateSsoConfigurationRequest,
    responses((status = 200, body = SsoConfiguration), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "`validation_failed` or `sso_discovery_failed`")),
    security(("session" = ["sso.manage"]), ("api_token" = ["sso.manage"]))
)]
#[patch("/sso/configurations/{sso_configuration_id}")]
async fn sso_update_configuration(
    scope: ConfigScope<perm::SsoManage>,
    state: web::Data<AppState>,
    body: Json<UpdateSsoConfigurationRequest>,
) -> AppResult<web::Json<SsoConfiguration>> {
    let id = scope.id();
    Ok(web::Json(service::update(&state, scope.into_tenant(), id, body.into_inner()?).await?))
}

/// Deletes an SSO configuration, its domains and its user links (users and memberships stay).
#[utoipa::path(
    tag = "sso",
    params(("sso_configuration_id" = i64, Path, description = "SSO configuration id")),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["sso.manage"]), ("api_token" = ["sso.manage"]))
)]
#[delete("/sso/configurations/{sso_configuration_id}")]
async fn sso_delete_configuration(
    scope: ConfigScope<perm::SsoManage>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    service::delete(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

fn binding_cookie(state: &AppState, value: String, minutes: i64, cross_site_post: bool) -> Cookie<'static> {
    let insecure = state.config.http.insecure_cookies;
    let name =
        if insecure { service::BROWSER_COOKIE.to_owned() } else { format!("__Host-{}", service::BROWSER_COOKIE) };
    // Lax: it must come back on the IdP's top-level redirect (OIDC). SAML's
    // HTTP-POST binding is a cross-site POST, which only `None` cookies
    // follow; `None` needs `Secure`, so plain-HTTP installs keep `Lax`.
    let same_site = if cross_site_post && !insecure { SameSite::None } else { SameSite::Lax };
    Cookie::build(name, value)
        .path("/")
        .secure(!insecure)
        .http_only(true)
        .same_site(same_site)
        .max_age(CookieDuration::minutes(minutes))
        .finish()
}

/// Starts a test sign-in (OIDC or SAML): open `authorize_url` in this browser; the `IdP`
/// comes back to the callback or the SAML ACS, which signs nobody in and keeps the claims
/// (see `test-result`).
#[utoipa::path(
    tag = "sso",
    params(("sso_configuration_id" = i64, Path, description = "SSO configuration id")),
    responses((status = 200, body = SsoTestStart), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "`validation_failed`: no authorization endpoint (OIDC) or no usable IdP settings (SAML)")),
    security(("session" = ["sso.manage"]), ("api_token" = ["sso.manage"]))
)]
#[post("/sso/configurations/{sso_configuration_id}/test")]
async fn sso_start_test(scope: ConfigScope<perm::SsoManage>, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let id = scope.id();
    let (answer, started) = service::start_test(&state, scope.into_tenant(), id).await?;
    let cookie = binding_cookie(&state, started.browser_nonce, service::REQUEST_MINUTES, started.cross_site_post);
    Ok(HttpResponse::Ok().cookie(cookie).json(answer))
}

/// The claims of the last test sign-in that came back, and what the mapping makes of them.
#[utoipa::path(
    tag = "sso",
    params(("sso_configuration_id" = i64, Path, description = "SSO configuration id")),
    responses((status = 200, body = SsoTestResult), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security(("session" = ["sso.manage"]), ("api_token" = ["sso.manage"]))
)]
#[get("/sso/configurations/{sso_configuration_id}/test-result")]
async fn sso_test_result(
    scope: ConfigScope<perm::SsoManage>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<SsoTestResult>> {
    let id = scope.id();
    Ok(web::Json(service::test_result(&state, scope.into_tenant(), id).await?))
}

/// The organization's SSO sign-in attempts, newest first, with the reason of each failure.
#[utoipa::path(
    tag = "sso",
    params(("org_id" = i64, Path, description = "Organization id"), PageParams),
    responses((status = 200, body = Page<SsoLoginLog>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("session" = ["sso.manage"]), ("api_token" = ["sso.manage"]))
)]
#[get("/orgs/{org_id}/sso/logins")]
async fn sso_list_logins(
    scope: OrgScope<perm::SsoManage>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<SsoLoginLog>>> {
    Ok(web::Json(service::list_logs(&state, scope.into_tenant(), page.into_inner()).await?))
}

/// Re-checks a user with the `IdP`: the refresh token of their last SSO
/// sign-in is redeemed, the new ID token validated (no nonce) and the
/// group mapping re-applied.
#[utoipa::path(
    tag = "sso",
    params(("sso_configuration_id" = i64, Path, description = "SSO configuration id"), ("user_id" = i64, Path, description = "User id")),
    responses((status = 200, body = SsoRefreshResult), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["sso.manage"]), ("api_token" = ["sso.manage"]))
)]
#[post("/sso/configurations/{sso_configuration_id}/users/{user_id}/refresh")]
async fn sso_refresh_user(
    scope: ConfigScope<perm::SsoManage>,
    state: web::Data<AppState>,
    path: web::Path<(i64, crate::ids::UserId)>,
) -> AppResult<web::Json<SsoRefreshResult>> {
    let id = scope.id();
    let user = path.into_inner().1;
    Ok(web::Json(service::refresh_user(&state, scope.into_tenant(), id, user).await?))
}

/// Generates one of our SAML encryption keys (RSA 3072, self-signed certificate valid ten
/// years): the current key when there is none, else the next key of a rollover. Both are
/// published in our SP metadata (`use="encryption"`) and both decrypt. Answers the keys
/// (certificates only: private keys are never returned).
#[utoipa::path(
    tag = "sso",
    params(("sso_configuration_id" = i64, Path, description = "SSO configuration id (SAML)")),
    responses((status = 201, body = Vec<SsoSamlEncryptionKey>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`conflict`: a next key already exists"),
              (status = 422, body = ErrorBody, description = "`validation_failed` (`protocol`): not a SAML configuration")),
    security(("session" = ["sso.manage"]), ("api_token" = ["sso.manage"]))
)]
#[post("/sso/configurations/{sso_configuration_id}/saml/encryption-keys")]
async fn sso_create_saml_key(
    scope: ConfigScope<perm::SsoManage>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    let keys = saml_keys::add(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::Created().json(keys))
}

/// Ends a rollover's overlap: the next key becomes the current one, the current one the
/// previous one (no longer published, still decrypting until it is retired).
#[utoipa::path(
    tag = "sso",
    params(("sso_configuration_id" = i64, Path, description = "SSO configuration id (SAML)")),
    responses((status = 200, body = Vec<SsoSamlEncryptionKey>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`conflict`: no next key, or a previous key not yet retired"),
              (status = 422, body = ErrorBody, description = "`validation_failed` (`protocol`): not a SAML configuration")),
    security(("session" = ["sso.manage"]), ("api_token" = ["sso.manage"]))
)]
#[post("/sso/configurations/{sso_configuration_id}/saml/encryption-keys/promote")]
async fn sso_promote_saml_key(
    scope: ConfigScope<perm::SsoManage>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<Vec<SsoSamlEncryptionKey>>> {
    let id = scope.id();
    Ok(web::Json(saml_keys::promote(&state, scope.into_tenant(), id).await?))
}

/// Retires (deletes) one of our SAML encryption keys: assertions encrypted to it are
/// refused from now on (`decryption_failed`).
#[utoipa::path(
    tag = "sso",
    params(("sso_configuration_id" = i64, Path, description = "SSO configuration id (SAML)"),
           ("key_id" = String, Path, description = "Encryption key id")),
    responses((status = 200, body = Vec<SsoSamlEncryptionKey>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody, description = "`not_found` (`key_id`) or `sso_configuration_not_found`"),
              (status = 409, body = ErrorBody, description = "`conflict`: the current key while assertions must be encrypted"),
              (status = 422, body = ErrorBody, description = "`validation_failed` (`protocol`): not a SAML configuration")),
    security(("session" = ["sso.manage"]), ("api_token" = ["sso.manage"]))
)]
#[delete("/sso/configurations/{sso_configuration_id}/saml/encryption-keys/{key_id}")]
async fn sso_retire_saml_key(
    scope: ConfigScope<perm::SsoManage>,
    state: web::Data<AppState>,
    path: web::Path<(i64, String)>,
) -> AppResult<web::Json<Vec<SsoSamlEncryptionKey>>> {
    let id = scope.id();
    let key_id = path.into_inner().1;
    Ok(web::Json(saml_keys::retire(&state, scope.into_tenant(), id, key_id).await?))
}

/// Claims an email domain for a configuration; answers what to publish to verify it.
#[utoipa::path(
    tag = "sso",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = CreateSsoDomainRequest,
    responses((status = 201, body = SsoDomain), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody, description = "`sso_configuration_not_found` (`sso_configuration_id`)"),
              (status = 409, body = ErrorBody, description = "`sso_domain_taken`: claimed by this or another organization"),
              (status = 422, body = ErrorBody, description = "`validation_failed` (`domain`)")),
    security(("session" = ["sso.manage"]), ("api_token" = ["sso.manage"]))
)]
#[post("/orgs/{org_id}/sso/domains")]
async fn sso_create_domain(
    scope: OrgScope<perm::SsoManage>,
    state: web::Data<AppState>,
    body: Json<CreateSsoDomainRequest>,
) -> AppResult<HttpResponse> {
    let created = domains::create(&state, scope.into_tenant(), body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(created))
}

/// Lists the organization's SSO domains with their verification instructions.
#[utoipa::path(
    tag = "sso",
    params(("org_id" = i64, Path, description = "Organization id")),
    responses((status = 200, body = Vec<SsoDomain>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["sso.manage"]), ("api_token" = ["sso.manage"]))
)]
#[get("/orgs/{org_id}/sso/domains")]
async fn sso_list_domains(
    scope: OrgScope<perm::SsoManage>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<Vec<SsoDomain>>> {
    Ok(web::Json(domains::list(&state, scope.into_tenant()).await?))
}

/// Verifies a domain by its DNS TXT record or its HTTP well-known file.
#[utoipa::path(
    tag = "sso",
    params(("sso_domain_id" = i64, Path, description = "SSO domain id")),
    request_body = VerifySsoDomainRequest,
    responses((status = 200, body = SsoDomain), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "`sso_domain_verification_failed`: `details.reason` says what was found")),
    security(("session" = ["sso.manage"]), ("api_token" = ["sso.manage"]))
)]
#[post("/sso/domains/{sso_domain_id}/verify")]
async fn sso_verify_domain(
    scope: DomainScope<perm::SsoManage>,
    state: web::Data<AppState>,
    body: Json<VerifySsoDomainRequest>,
) -> AppResult<web::Json<SsoDomain>> {
    let id = scope.id();
    let method = body.into_inner()?.method;
    Ok(web::Json(domains::verify(&state, scope.into_tenant(), id, method).await?))
}

/// Releases a domain (its users sign in with passwords again).
#[utoipa::path(
    tag = "sso",
    params(("sso_domain_id" = i64, Path, description = "SSO domain id")),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["sso.manage"]), ("api_token" = ["sso.manage"]))
)]
#[delete("/sso/domains/{sso_domain_id}")]
async fn sso_delete_domain(scope: DomainScope<perm::SsoManage>, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let id = scope.id();
    domains::delete(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A superadmin marks a domain verified by hand (installs that can reach neither DNS nor the domain's web server).
#[utoipa::path(
    tag = "admin",
    params(("sso_domain_id" = i64, Path, description = "SSO domain id")),
    responses((status = 200, body = SsoDomain), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("admin_session" = []))
)]
#[post("/admin/sso/domains/{sso_domain_id}/approve")]
async fn sso_approve_domain(
    admin: AdminScope,
    state: web::Data<AppState>,
    path: web::Path<SsoDomainId>,
) -> AppResult<web::Json<SsoDomain>> {
    Ok(web::Json(domains::approve(&state, &admin, path.into_inner()).await?))
}

/// Whether an email address signs in with SSO (a verified domain of an enabled configuration).
#[utoipa::path(
    tag = "sso",
    params(("email" = String, Query, description = "The address being signed in")),
    responses((status = 200, body = SsoCheck), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody, description = "`validation_failed` (`email`)"))
)]
#[get("/sso/check")]
async fn sso_check(state: web::Data<AppState>, query: web::Query<SsoEmailQuery>) -> AppResult<web::Json<SsoCheck>> {
    Ok(web::Json(service::check(&state, &query.email).await?))
}

/// Starts an SSO sign-in for an address: redirects (303) the browser to its `IdP`. After
/// signing in, the browser lands on `next` when it is a relative path of this site (not
/// `//host`, `/\host`, another origin or `/api/…`), else on `/`.
#[utoipa::path(
    tag = "sso",
    params(SsoLoginQuery),
    responses((status = 303, description = "To the IdP: OIDC authorization endpoint (state, nonce, PKCE S256), or SAML single sign-on URL with an `AuthnRequest` (HTTP-Redirect) and `RelayState`"),
              (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody, description = "`sso_not_configured` (`email`)"),
              (status = 422, body = ErrorBody, description = "`validation_failed` (`email`)"))
)]
#[get("/sso/login")]
async fn sso_login(state: web::Data<AppState>, query: web::Query<SsoLoginQuery>) -> AppResult<HttpResponse> {
    let started = service::start_login(&state, &query.email, query.next.as_deref()).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, started.authorize_url))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(binding_cookie(&state, started.browser_nonce, service::REQUEST_MINUTES, started.cross_site_post))
        .finish())
}

fn query_location(path: &str, pairs: &[(&str, &str)]) -> String {
    let q: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    if q.is_empty() { path.to_owned() } else { format!("{path}?{q}") }
}

/// The `IdP`'s redirect after sign-in (public; the single-use `state`, bound
/// to the browser by a cookie, authenticates it). Signs in and redirects
/// (303) to the page the sign-in started from (`/sso/login?next=`, else `/`),
/// or to `/login?sso_error=<reason>`; a test sign-in goes
/// back to `/settings/sso?test=success|failed`. Every attempt is logged.
#[utoipa::path(
    tag = "sso",
    params(SsoCallbackParams),
    responses((status = 303, description = "Signed in (session cookie set) to the `next` page of `/sso/login` (else `/`), or to `/login?sso_error=…` (`state_invalid`, `state_replayed`, `state_expired`, `state_wrong_browser`, `idp_error`, `token_exchange_failed`, `id_token_*`, `nonce_mismatch`, `email_domain_not_verified`, …)"))
)]
#[get("/sso/oidc/callback")]
async fn sso_oidc_callback(
    request: HttpRequest,
    state: web::Data<AppState>,
    params: web::Query<SsoCallbackParams>,
) -> HttpResponse {
    let insecure = state.config.http.insecure_cookies;
    let name =
        if insecure { service::BROWSER_COOKIE.to_owned() } else { format!("__Host-{}", service::BROWSER_COOKIE) };
    let nonce = request.cookie(&name).map(|c| c.value().to_owned());
    let client = ClientInfo::of(&request);
    let cleared = binding_cookie(&state, String::new(), 0, false);
    let redirect = |location: String| {
        let mut r = HttpResponse::SeeOther();
        r.insert_header((header::LOCATION, location))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .cookie(cleared.clone());
        r
    };
    match service::callback(&state, params.into_inner(), nonce.as_deref(), client).await {
        Ok(service::Landed { outcome: service::Outcome::SignedIn(_, session), target }) => {
            // The session cookie exactly as password sign-in sets it.
            let cookie = Cookie::build(session_cookie_name(insecure), session.token)
                .path("/")
                .secure(!insecure)
                .http_only(true)
                .same_site(SameSite::Strict)
                .max_age(CookieDuration::days(crate::accounts::service::SESSION_IDLE_DAYS))
                .finish();
            redirect(target).cookie(cookie).finish()
        }
        Ok(service::Landed { outcome: service::Outcome::Tested, .. }) => {
            redirect(query_location("/settings/sso", &[("test", "success")])).finish()
        }
        Err(failed) => {
            tracing::info!(reason = failed.refusal.reason, "SSO sign-in refused");
            let location = if failed.test {
                query_location("/settings/sso", &[("test", "failed"), ("reason", failed.refusal.reason)])
            } else {
                query_location("/login", &[("sso_error", failed.refusal.reason)])
            };
            redirect(location).finish()
        }
    }
}

fn session_cookie(state: &AppState, token: String) -> Cookie<'static> {
    let insecure = state.config.http.insecure_cookies;
    Cookie::build(session_cookie_name(insecure), token)
        .path("/")
        .secure(!insecure)
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(CookieDuration::days(crate::accounts::service::SESSION_IDLE_DAYS))
        .finish()
}

/// Our SAML service provider metadata for one configuration (public; its URL is our entity id).
#[utoipa::path(
    tag = "sso",
    params(("sso_configuration_id" = i64, Path, description = "SSO configuration id (SAML)")),
    responses((status = 200, description = "SAML 2.0 `EntityDescriptor` (`application/samlmetadata+xml`)", content_type = "application/samlmetadata+xml", body = String),
              (status = 404, body = ErrorBody, description = "`sso_configuration_not_found`: no SAML configuration with this id"))
)]
#[get("/sso/saml/{sso_configuration_id}/metadata")]
async fn sso_saml_metadata(state: web::Data<AppState>, path: web::Path<SsoConfigurationId>) -> AppResult<HttpResponse> {
    let xml = super::saml::metadata(&state, path.into_inner()).await?;
    Ok(HttpResponse::Ok().content_type("application/samlmetadata+xml; charset=utf-8").body(xml))
}

/// The SAML assertion consumer service (HTTP-POST binding, public): the
/// `IdP` posts `SAMLResponse` and `RelayState`. An SP-initiated response must
/// answer the `AuthnRequest` started in this browser (`RelayState` = its
/// single-use state); an unsolicited one is accepted only when the
/// configuration allows `IdP`-initiated sign-in, and then a relative
/// `RelayState` path is where the browser lands. Signs in and redirects
/// (303) to the page the sign-in started from (or that path, else `/`), or to `/login?sso_error=<reason>`; a test
/// sign-in goes back to `/settings/sso?test=success|failed`. Every attempt
/// is written to `sso_login_logs` with its reason.
#[utoipa::path(
    tag = "sso",
    params(("sso_configuration_id" = i64, Path, description = "SSO configuration id (SAML)")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`SAMLResponse` (base64) and `RelayState`"),
    responses((status = 303, description = "Signed in (session cookie set), or to `/login?sso_error=…` (`unsigned`, `bad_signature`, `wrapped`, `decryption_failed`, `assertion_not_encrypted`, `wrong_audience`, `expired`, `not_yet_valid`, `replayed`, `in_response_to_mismatch`, `unsolicited`, `doctype_forbidden`, `state_*`, `email_domain_not_verified`, …)"))
)]
#[post("/sso/saml/{sso_configuration_id}/acs")]
async fn sso_saml_acs(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<SsoConfigurationId>,
    body: web::Bytes,
) -> HttpResponse {
    let insecure = state.config.http.insecure_cookies;
    let name =
        if insecure { service::BROWSER_COOKIE.to_owned() } else { format!("__Host-{}", service::BROWSER_COOKIE) };
    let nonce = request.cookie(&name).map(|c| c.value().to_owned());
    let client = ClientInfo::of(&request);
    let cleared = binding_cookie(&state, String::new(), 0, true);
    let redirect = |location: String| {
        let mut r = HttpResponse::SeeOther();
        r.insert_header((header::LOCATION, location))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .cookie(cleared.clone());
        r
    };
    let post = super::saml::AcsPost::parse(&body);
    match super::saml::acs(&state, path.into_inner(), post, nonce.as_deref(), client).await {
        Ok(service::Landed { outcome: service::Outcome::SignedIn(_, session), target }) => {
            redirect(target).cookie(session_cookie(&state, session.token)).finish()
        }
        Ok(service::Landed { outcome: service::Outcome::Tested, .. }) => {
            redirect(query_location("/settings/sso", &[("test", "success")])).finish()
        }
        Err(failed) => {
            tracing::info!(reason = failed.refusal.reason, "SAML sign-in refused");
            let location = if failed.test {
                query_location("/settings/sso", &[("test", "failed"), ("reason", failed.refusal.reason)])
            } else {
                query_location("/login", &[("sso_error", failed.refusal.reason)])
            };
            redirect(location).finish()
        }
    }
}

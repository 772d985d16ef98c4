//! Accounts: sign-up, sign-in, sessions and the current user.

pub mod model;
pub mod service;
pub mod store;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

pub use model::{Credential, Me, Principal, TokenGrant, Via};

use crate::app::AppState;
use crate::error::{AppResult, ErrorBody};
use crate::http::auth::session_cookie_name;
use crate::http::{Auth, ClientInfo, Json, SessionAuth};

/// Registers the account routes.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(register).service(login).service(logout).service(me);
}

/// Sets the session cookie and answers with `/me`.
async fn signed_in(
    state: &AppState,
    issued: (crate::ids::UserId, service::IssuedSession),
    status: u16,
) -> AppResult<HttpResponse> {
    let (user_id, session) = issued;
    let csrf = state.keys.csrf_token(&session.token);
    let body = service::me(state, user_id, Some(csrf)).await?;
    let insecure = state.config.http.insecure_cookies;
    let cookie = Cookie::build(session_cookie_name(insecure), session.token)
        .path("/")
        .secure(!insecure)
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(CookieDuration::days(service::SESSION_IDLE_DAYS))
        .finish();
    let mut response = if status == 201 { HttpResponse::Created() } else { HttpResponse::Ok() };
    Ok(response.cookie(cookie).json(body))
}

/// Creates an account with a personal organization, and signs in.
#[utoipa::path(
    tag = "auth",
    request_body = model::RegisterRequest,
    responses(
        (status = 201, body = Me, description = "Signed up; the session cookie is set"),
        (status = 409, body = ErrorBody, description = "`email_taken`"),
        (status = 422, body = ErrorBody, description = "`validation_failed` naming the field"),
    )
)]
#[post("/auth/register")]
async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Json<model::RegisterRequest>,
) -> AppResult<HttpResponse> {
    let issued = service::register(&state, body.into_inner()?, ClientInfo::of(&req)).await?;
    signed_in(&state, issued, 201).await
}

/// Signs in with email and password.
#[utoipa::path(
    tag = "auth",
    request_body = model::LoginRequest,
    responses(
        (status = 200, body = Me, description = "Signed in; the session cookie is set"),
        (status = 401, body = ErrorBody, description = "`invalid_credentials`"),
    )
)]
#[post("/auth/login")]
async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Json<model::LoginRequest>,
) -> AppResult<HttpResponse> {
    let issued = service::login(&state, body.into_inner()?, ClientInfo::of(&req)).await?;
    signed_in(&state, issued, 200).await
}

/// Ends the current browser session.
#[utoipa::path(
    tag = "auth",
    responses((status = 204, description = "Signed out; the cookie is cleared"), (status = 401, body = ErrorBody)),
    security(("session" = []))
)]
#[post("/auth/logout")]
async fn logout(req: HttpRequest, auth: SessionAuth, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    service::logout(&state, &auth, ClientInfo::of(&req)).await?;
    let insecure = state.config.http.insecure_cookies;
    let mut cookie =
        Cookie::build(session_cookie_name(insecure), "").path("/").secure(!insecure).http_only(true).finish();
    cookie.make_removal();
    Ok(HttpResponse::NoContent().cookie(cookie).finish())
}

/// The current user, their organizations with role and permissions, and the
/// CSRF token of the session.
#[utoipa::path(
    tag = "auth",
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)),
    security(("session" = []), ("api_token" = []))
)]
#[get("/me")]
async fn me(req: HttpRequest, auth: Auth, state: web::Data<AppState>) -> AppResult<web::Json<Me>> {
    let csrf = auth
        .session_id()
        .and(req.cookie(session_cookie_name(state.config.http.insecure_cookies)))
        .map(|c| state.keys.csrf_token(c.value()));
    Ok(web::Json(service::me(&state, auth.user_id, csrf).await?))
}

//! Handlers: sign-up, sign-in, sign-out, the current user, the profile and
//! the browser sessions.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

use super::model::{self, Accepted, Me, RevokedCount, SessionInfo, User};
use super::service;
use crate::app::AppState;
use crate::error::{AppResult, ErrorBody};
use crate::http::auth::session_cookie_name;
use crate::http::{Auth, ClientInfo, Json, Page, PageParams, SessionAuth};
use crate::ids::SessionId;

pub(super) fn register_routes(cfg: &mut ServiceConfig) {
    cfg.service(register)
        .service(login)
        .service(logout)
        .service(me)
        .service(update_me)
        .service(change_password)
        .service(list_sessions)
        .service(revoke_other_sessions)
        .service(revoke_session);
}

/// Sets the session cookie and answers with `/me`.
pub(super) async fn signed_in(
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

/// Signs up: emails a link that confirms the address and signs in. The
/// answer is the same when the address already has an account (its owner is
/// emailed instead), so it tells nobody whether an address is registered.
/// A server without SMTP cannot email: it signs the new account in at once
/// (201) and answers `email_taken` for a registered address. With
/// `invitation_token` the account joins the inviting organization only and
/// is signed in at once. The first account of an instance becomes its
/// superadmin; after that the instance's sign-up policy applies.
#[utoipa::path(
    tag = "auth",
    request_body = model::RegisterRequest,
    responses(
        (status = 201, body = Me, description = "Signed in at once: this server has no SMTP to confirm addresses with, or an invitation was followed"),
        (status = 400, body = ErrorBody, description = "`token_invalid` (`invitation_token`)"),
        (status = 403, body = ErrorBody, description = "`signup_closed`, `invitation_required` or `invitation_email_mismatch`"),
        (status = 202, body = Accepted, description = "Check your email to continue (also when the address is taken)"),
        (status = 409, body = ErrorBody, description = "`email_taken`, only on a server without SMTP"),
        (status = 410, body = ErrorBody, description = "`token_expired`: the invitation expired"),
        (status = 422, body = ErrorBody, description = "`validation_failed` or `weak_password` naming the field"),
        (status = 429, body = ErrorBody, description = "`rate_limited`"),
    )
)]
#[post("/auth/register")]
async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Json<model::RegisterRequest>,
) -> AppResult<HttpResponse> {
    match service::register(&state, body.into_inner()?, ClientInfo::of(&req)).await? {
        service::Registered::Emailed(accepted) => Ok(HttpResponse::Accepted().json(accepted)),
        service::Registered::SignedIn(user, session) => signed_in(&state, (user, session), 201).await,
    }
}

/// Signs in with email and password, plus `totp_code` when the account has
/// two-factor authentication.
#[utoipa::path(
    tag = "auth",
    request_body = model::LoginRequest,
    responses(
        (status = 200, body = Me, description = "Signed in; the session cookie is set"),
        (status = 401, body = ErrorBody, description = "`invalid_credentials`, `two_factor_required` or `invalid_two_factor_code`"),
        (status = 403, body = ErrorBody, description = "`account_suspended`"),
        (status = 429, body = ErrorBody, description = "`rate_limited`"),
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

/// Changes the current user's profile: name and UI language (`locale`).
#[utoipa::path(
    tag = "auth",
    request_body = model::UpdateProfileRequest,
    responses((status = 200, body = User), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = []))
)]
#[patch("/me")]
async fn update_me(
    req: HttpRequest,
    auth: SessionAuth,
    state: web::Data<AppState>,
    body: Json<model::UpdateProfileRequest>,
) -> AppResult<web::Json<User>> {
    Ok(web::Json(service::update_profile(&state, auth.user_id, body.into_inner()?, ClientInfo::of(&req)).await?))
}

/// Changes the password (the current one is required); other sessions end.
#[utoipa::path(
    tag = "auth",
    request_body = model::ChangePasswordRequest,
    responses(
        (status = 204, description = "Changed; every other session was ended"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "`current_password` is wrong or `new_password` is weak"),
        (status = 429, body = ErrorBody),
    ),
    security(("session" = []))
)]
#[post("/me/password")]
async fn change_password(
    req: HttpRequest,
    auth: SessionAuth,
    state: web::Data<AppState>,
    body: Json<model::ChangePasswordRequest>,
) -> AppResult<HttpResponse> {
    service::change_password(&state, &auth, body.into_inner()?, ClientInfo::of(&req)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The current user's active browser sessions (device, IP, last seen).
#[utoipa::path(
    tag = "auth",
    params(PageParams),
    responses((status = 422, body = ErrorBody, description = "`validation_failed`: `limit` outside 1–200 or a malformed `after` cursor"), (status = 200, body = Page<SessionInfo>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("session" = []))
)]
#[get("/me/sessions")]
async fn list_sessions(
    auth: SessionAuth,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<SessionInfo>>> {
    Ok(web::Json(service::list_sessions(&state, &auth, page.into_inner()).await?))
}

/// Signs out every other browser session of the current user.
#[utoipa::path(
    tag = "auth",
    responses((status = 200, body = RevokedCount), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("session" = []))
)]
#[delete("/me/sessions")]
async fn revoke_other_sessions(
    req: HttpRequest,
    auth: SessionAuth,
    state: web::Data<AppState>,
) -> AppResult<web::Json<RevokedCount>> {
    Ok(web::Json(service::revoke_other_sessions(&state, &auth, ClientInfo::of(&req)).await?))
}

/// Signs out one browser session of the current user.
#[utoipa::path(
    tag = "auth",
    params(("session_id" = i64, Path, description = "Session id")),
    responses(
        (status = 204, description = "Ended"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "`session_not_found`: not a live session of this user"),
    ),
    security(("session" = []))
)]
#[delete("/me/sessions/{session_id}")]
async fn revoke_session(
    req: HttpRequest,
    auth: SessionAuth,
    state: web::Data<AppState>,
    path: web::Path<SessionId>,
) -> AppResult<HttpResponse> {
    service::revoke_session(&state, auth.user_id, path.into_inner(), ClientInfo::of(&req)).await?;
    Ok(HttpResponse::NoContent().finish())
}

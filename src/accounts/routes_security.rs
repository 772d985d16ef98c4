//! Handlers: email verification, password reset and two-factor
//! authentication.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

use super::model::{
    Accepted, BackupCodes, DisableTwoFactorRequest, Me, ResetPasswordRequest, ResetRequest, TokenRequest,
    TwoFactorCodeRequest, TwoFactorSetup, TwoFactorStatus,
};
use super::{recovery, totp};
use crate::app::AppState;
use crate::error::{AppResult, ErrorBody};
use crate::http::{ClientInfo, Json, SessionAuth};

pub(super) fn register_routes(cfg: &mut ServiceConfig) {
    cfg.service(resend_verification)
        .service(verify_email)
        .service(request_password_reset)
        .service(reset_password)
        .service(two_factor_status)
        .service(two_factor_setup)
        .service(two_factor_enable)
        .service(two_factor_disable)
        .service(regenerate_backup_codes);
}

/// Emails a new link to confirm the current user's address.
#[utoipa::path(
    tag = "auth",
    responses(
        (status = 202, body = Accepted),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`conflict`: already verified; `smtp_not_configured`: this server cannot send email"),
        (status = 429, body = ErrorBody),
    ),
    security(("session" = []))
)]
#[post("/auth/verify-email/resend")]
async fn resend_verification(
    req: HttpRequest,
    auth: SessionAuth,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let body = recovery::resend_verification(&state, auth.user_id, ClientInfo::of(&req)).await?;
    Ok(HttpResponse::Accepted().json(body))
}

/// Confirms an email address with the token from the emailed link; this
/// finishes a sign-up and signs in (unless the account has two-factor
/// authentication: then it answers 204 and the user signs in as usual).
#[utoipa::path(
    tag = "auth",
    request_body = TokenRequest,
    responses(
        (status = 200, body = Me, description = "Confirmed and signed in; the session cookie is set"),
        (status = 204, description = "Confirmed; sign in with the password (and second factor)"),
        (status = 400, body = ErrorBody, description = "`token_invalid`: unknown or already used"),
        (status = 410, body = ErrorBody, description = "`token_expired`"),
        (status = 429, body = ErrorBody),
    )
)]
#[post("/auth/verify-email")]
async fn verify_email(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Json<TokenRequest>,
) -> AppResult<HttpResponse> {
    match recovery::verify_email(&state, body.into_inner()?, ClientInfo::of(&req)).await? {
        Some(issued) => super::routes::signed_in(&state, issued, 200).await,
        None => Ok(HttpResponse::NoContent().finish()),
    }
}

/// Emails a password-reset link (valid one hour) when an account has this
/// address; the answer is the same when none has.
#[utoipa::path(
    tag = "auth",
    request_body = ResetRequest,
    responses(
        (status = 202, body = Accepted),
        (status = 409, body = ErrorBody, description = "`smtp_not_configured`: this server cannot send email"),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody),
    )
)]
#[post("/auth/password-reset/request")]
async fn request_password_reset(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Json<ResetRequest>,
) -> AppResult<HttpResponse> {
    let body = recovery::request_reset(&state, body.into_inner()?, ClientInfo::of(&req)).await?;
    Ok(HttpResponse::Accepted().json(body))
}

/// Sets a new password with the token from the emailed link; every session
/// of the account ends.
#[utoipa::path(
    tag = "auth",
    request_body = ResetPasswordRequest,
    responses(
        (status = 204, description = "Password changed; sign in again"),
        (status = 400, body = ErrorBody, description = "`token_invalid`"),
        (status = 410, body = ErrorBody, description = "`token_expired`"),
        (status = 422, body = ErrorBody, description = "weak `password`"),
        (status = 429, body = ErrorBody),
    )
)]
#[post("/auth/password-reset")]
async fn reset_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Json<ResetPasswordRequest>,
) -> AppResult<HttpResponse> {
    recovery::reset_password(&state, body.into_inner()?, ClientInfo::of(&req)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Whether two-factor authentication is on, and backup codes left.
#[utoipa::path(
    tag = "auth",
    responses((status = 200, body = TwoFactorStatus), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("session" = []))
)]
#[get("/me/2fa")]
async fn two_factor_status(auth: SessionAuth, state: web::Data<AppState>) -> AppResult<web::Json<TwoFactorStatus>> {
    Ok(web::Json(totp::status(&state, auth.user_id).await?))
}

/// Starts two-factor setup: a new secret as an otpauth URI and a QR code
/// (SVG). Enable it with a code from the app.
#[utoipa::path(
    tag = "auth",
    responses(
        (status = 200, body = TwoFactorSetup),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`two_factor_already_enabled`"),
    ),
    security(("session" = []))
)]
#[post("/me/2fa/setup")]
async fn two_factor_setup(
    req: HttpRequest,
    auth: SessionAuth,
    state: web::Data<AppState>,
) -> AppResult<web::Json<TwoFactorSetup>> {
    Ok(web::Json(totp::setup(&state, auth.user_id, ClientInfo::of(&req)).await?))
}

/// Turns two-factor on with a code from the new secret; answers the ten
/// backup codes, shown once.
#[utoipa::path(
    tag = "auth",
    request_body = TwoFactorCodeRequest,
    responses(
        (status = 200, body = BackupCodes),
        (status = 401, body = ErrorBody, description = "`invalid_two_factor_code`"),
        (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`two_factor_already_enabled` or `two_factor_not_enabled` (no setup)"),
    ),
    security(("session" = []))
)]
#[post("/me/2fa/enable")]
async fn two_factor_enable(
    req: HttpRequest,
    auth: SessionAuth,
    state: web::Data<AppState>,
    body: Json<TwoFactorCodeRequest>,
) -> AppResult<web::Json<BackupCodes>> {
    Ok(web::Json(totp::enable(&state, auth.user_id, body.into_inner()?, ClientInfo::of(&req)).await?))
}

/// Turns two-factor off (password and an authenticator or backup code).
#[utoipa::path(
    tag = "auth",
    request_body = DisableTwoFactorRequest,
    responses(
        (status = 204, description = "Turned off"),
        (status = 401, body = ErrorBody, description = "`invalid_two_factor_code`"),
        (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`two_factor_not_enabled`"),
        (status = 422, body = ErrorBody, description = "wrong `password`"),
    ),
    security(("session" = []))
)]
#[post("/me/2fa/disable")]
async fn two_factor_disable(
    req: HttpRequest,
    auth: SessionAuth,
    state: web::Data<AppState>,
    body: Json<DisableTwoFactorRequest>,
) -> AppResult<HttpResponse> {
    totp::disable(&state, auth.user_id, body.into_inner()?, ClientInfo::of(&req)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Replaces the backup codes (needs an authenticator code); the old ones stop
/// working.
#[utoipa::path(
    tag = "auth",
    request_body = TwoFactorCodeRequest,
    responses(
        (status = 200, body = BackupCodes),
        (status = 401, body = ErrorBody, description = "`invalid_two_factor_code`"),
        (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`two_factor_not_enabled`"),
    ),
    security(("session" = []))
)]
#[post("/me/2fa/backup-codes")]
async fn regenerate_backup_codes(
    req: HttpRequest,
    auth: SessionAuth,
    state: web::Data<AppState>,
    body: Json<TwoFactorCodeRequest>,
) -> AppResult<web::Json<BackupCodes>> {
    Ok(web::Json(totp::regenerate_backup_codes(&state, auth.user_id, body.into_inner()?, ClientInfo::of(&req)).await?))
}

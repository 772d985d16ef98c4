//! Who is calling: a browser session (cookie + CSRF header on unsafe methods)
//! or an API token (`Authorization: Bearer bb_…`). Resolved once per request
//! and cached in the request's extensions.

use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use crate::accounts::{self, Credential, Principal};
use crate::app::AppState;
use crate::crypto::constant_time_eq;
use crate::error::{AppError, ErrorCode};

/// The session cookie name: `__Host-` prefixed (Secure, Path=/, no Domain)
/// unless the operator runs plain HTTP on a LAN.
#[must_use]
pub fn session_cookie_name(insecure: bool) -> &'static str {
    if insecure { "bb_session" } else { "__Host-bb_session" }
}

/// Header carrying the CSRF token for cookie-authenticated unsafe requests.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// An authenticated caller. Extract it in handlers that act on the caller
/// itself (`/me`); tenant routes use [`super::scope::Scoped`] instead.
#[derive(Debug, Clone)]
pub struct Auth(pub Principal);

impl std::ops::Deref for Auth {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.0
    }
}

/// What the client presented, before it is checked.
pub(crate) enum Presented {
    Bearer(String),
    Cookie(String),
}

pub(crate) fn presented_credential(req: &HttpRequest, insecure_cookies: bool) -> Option<Presented> {
    if let Some(value) = req.headers().get(actix_web::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).unwrap_or("").trim();
        return Some(Presented::Bearer(token.to_owned()));
    }
    req.cookie(session_cookie_name(insecure_cookies)).map(|c| Presented::Cookie(c.value().to_owned()))
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Resolves (or returns the cached) principal of `req`.
pub(crate) async fn authenticate(req: &HttpRequest) -> Result<Principal, AppError> {
    if let Some(principal) = req.extensions().get::<Principal>() {
        return Ok(principal.clone());
    }
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("AppState missing")))?;
    let Some(presented) = presented_credential(req, state.config.http.insecure_cookies) else {
        return Err(AppError::new(ErrorCode::Unauthenticated, "sign in or send an API token"));
    };
    if let Presented::Cookie(token) = &presented
        && is_unsafe(req.method())
    {
        let sent = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
        let expected = state.keys.csrf_token(token);
        if !constant_time_eq(sent.as_bytes(), expected.as_bytes()) {
            return Err(AppError::new(ErrorCode::CsrfFailed, "missing or invalid X-CSRF-Token header"));
        }
    }
    let credential = match presented {
        Presented::Bearer(token) => Credential::ApiToken(token),
        Presented::Cookie(token) => Credential::Session(token),
    };
    let principal = accounts::service::authenticate(&state, credential).await?;
    req.extensions_mut().insert(principal.clone());
    Ok(principal)
}

impl FromRequest for Auth {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await.map(Auth) })
    }
}

/// A caller signed in with a browser session — API tokens are refused with
/// 403. For actions a token must never take (creating organizations,
/// signing out, managing the account itself).
#[derive(Debug, Clone)]
pub struct SessionAuth(pub Principal);

impl std::ops::Deref for SessionAuth {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.0
    }
}

impl FromRequest for SessionAuth {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let principal = authenticate(&req).await?;
            if principal.session_id().is_none() {
                return Err(AppError::new(
                    ErrorCode::Forbidden,
                    "this needs a signed-in browser session, not an API token",
                ));
            }
            Ok(SessionAuth(principal))
        })
    }
}

/// Client facts recorded in audit rows.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl ClientInfo {
    #[must_use]
    pub fn of(req: &HttpRequest) -> ClientInfo {
        ClientInfo {
            ip: req.peer_addr().map(|a| a.ip().to_string()),
            user_agent: req
                .headers()
                .get(actix_web::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.chars().take(500).collect()),
        }
    }
}

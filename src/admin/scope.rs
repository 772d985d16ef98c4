//! `AdminScope`: the extractor of every `/api/v1/admin` route. It accepts
//! only the console's own session cookie (a tenant session or an API token
//! is not enough), enforces the IP allowlist, checks the CSRF header on
//! unsafe methods, and re-checks on each request that the user is still a
//! superadmin and not suspended.

use std::net::IpAddr;

use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use serde_json::json;

use super::{ipnet, store};
use crate::app::AppState;
use crate::crypto::{constant_time_eq, sha256};
use crate::db::now;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::ClientInfo;
use crate::http::auth::CSRF_HEADER;
use crate::ids::UserId;

/// The console's session cookie (distinct from the tenant session's).
#[must_use]
pub fn admin_cookie_name(insecure: bool) -> &'static str {
    if insecure { "bb_admin" } else { "__Host-bb_admin" }
}

/// The CSRF token of an admin session token (its own key space).
#[must_use]
pub fn admin_csrf(state: &AppState, token: &str) -> String {
    state.keys.csrf_token(&format!("admin:{token}"))
}

/// Proof of a signed-in superadmin; admin store functions require it.
#[derive(Debug, Clone)]
pub struct Admin {
    pub user_id: UserId,
    pub email: String,
    pub name: String,
    pub session_id: Option<i64>,
    pub session_expires_at: String,
    pub client: ClientInfo,
}

impl Admin {
    /// The operator at the command line (`botbuilder admin …`).
    #[must_use]
    pub fn cli() -> Admin {
        Admin {
            user_id: UserId(0),
            email: "cli".to_owned(),
            name: "command line".to_owned(),
            session_id: None,
            session_expires_at: String::new(),
            client: ClientInfo { ip: None, user_agent: Some("botbuilder cli".to_owned()) },
        }
    }

    /// The acting user for audit rows (none for the CLI).
    #[must_use]
    pub fn user(&self) -> Option<UserId> {
        self.session_id.map(|_| self.user_id)
    }
}

/// An authenticated superadmin request.
#[derive(Debug, Clone)]
pub struct AdminScope(pub Admin);

impl std::ops::Deref for AdminScope {
    type Target = Admin;
    fn deref(&self) -> &Admin {
        &self.0
    }
}

/// Refuses clients outside the allowlist once it has entries; the refusal is
/// written to the admin audit log.
pub async fn check_ip(state: &AppState, client: &ClientInfo, what: &'static str) -> AppResult<()> {
    let Some(ip) = client.ip.as_deref().and_then(|ip| ip.parse::<IpAddr>().ok()) else {
        return Err(AppError::new(ErrorCode::IpNotAllowed, "the client address is unknown"));
    };
    let entries = state.db.read(|c| Ok(store::allowlist(c)?)).await?;
    if entries.is_empty() || ipnet::allowed(ip, entries.iter().map(|e| e.ip_address.as_str())) {
        return Ok(());
    }
    let client = client.clone();
    state
        .db
        .write(move |tx| {
            Ok(store::audit(tx, None, None, "admin.ip_blocked", None, &json!({ "route": what }), &client)?)
        })
        .await?;
    Err(AppError::new(ErrorCode::IpNotAllowed, "the admin console is not reachable from this address"))
}

impl FromRequest for AdminScope {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .cloned()
                .ok_or_else(|| AppError::internal(anyhow::anyhow!("AppState missing")))?;
            let client = ClientInfo::of(&req);
            check_ip(&state, &client, "admin").await?;
            let unauthenticated = || AppError::new(ErrorCode::Unauthenticated, "sign in to the admin console");
            let token = req
                .cookie(admin_cookie_name(state.config.http.insecure_cookies))
                .map(|c| c.value().to_owned())
                .ok_or_else(unauthenticated)?;
            if !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
                let sent = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
                if !constant_time_eq(sent.as_bytes(), admin_csrf(&state, &token).as_bytes()) {
                    return Err(AppError::new(ErrorCode::CsrfFailed, "missing or invalid X-CSRF-Token header"));
                }
            }
            let hash = sha256(token.as_bytes());
            let session = state.db.read(move |c| Ok(store::find_session(c, &hash, &now())?)).await?;
            let session = session.ok_or_else(unauthenticated)?;
            Ok(AdminScope(Admin {
                user_id: session.user_id,
                email: session.email,
                name: session.name,
                session_id: Some(session.id),
                session_expires_at: session.expires_at,
                client,
            }))
        })
    }
}

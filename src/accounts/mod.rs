//! Accounts: sign-up, sign-in (with two-factor), sessions, the profile,
//! email verification, password reset and two-factor authentication.

pub mod model;
pub mod recovery;
mod routes;
mod routes_security;
pub mod service;
pub mod store;
pub mod totp;

use utoipa_actix_web::service_config::ServiceConfig;

pub use model::{Credential, Me, Principal, TokenGrant, Via};

/// Registers the account routes.
pub fn routes(cfg: &mut ServiceConfig) {
    routes::register_routes(cfg);
    routes_security::register_routes(cfg);
}

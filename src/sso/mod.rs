//! Single sign-on (issue 22): SSO configurations per organization, the
//! OpenID Connect relying party and the SAML 2.0 service provider (signed,
//! optionally encrypted assertions; `crate::saml` verifies them), sign-in
//! routed by verified email domain with just-in-time provisioning and group
//! mapping, enforced SSO, and the login log. Managing needs `sso.manage`;
//! `/sso/check`, `/sso/login`, the `IdP`'s redirect to `/sso/oidc/callback`
//! and the SAML ACS are public (each authenticated by its single-use
//! request, bound to the browser, or by the assertion's signature).

pub mod dns;
pub mod domains;
pub mod model;
pub mod oidc;
pub mod provision;
pub mod refresh;
mod routes;
pub mod saml;
pub mod saml_keys;
pub mod service;
pub mod store;

pub use self::oidc::JwksCache;
pub use self::routes::routes;

//! Single sign-on (issue 22): SSO configurations per organization (OpenID
//! Connect now; SAML settings stored for the SAML service provider), the
//! OIDC relying party, sign-in routed by verified email domain with
//! just-in-time provisioning and group mapping, enforced SSO, and the
//! login log. Managing needs `sso.manage`; `/sso/check`, `/sso/login` and
//! the `IdP`'s redirect to `/sso/oidc/callback` are public (the callback is
//! authenticated by its single-use `state`, bound to the browser).

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

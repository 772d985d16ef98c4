//! The HTTP edge: extractors (auth, tenant scope, JSON), middleware,
//! pagination, `OpenAPI` and fallback routing.

pub mod auth;
pub mod csv;
pub mod json;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod pagination;
pub mod ratelimit;
pub mod routing;
pub mod scope;
pub mod sse;

pub use auth::{Auth, ClientInfo, SessionAuth};
pub use json::Json;
pub use pagination::{Page, PageParams};
pub use scope::{BotScope, JobScope, OrgScope, ScopeResource, Scoped, Tenant};

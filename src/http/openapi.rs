//! The `OpenAPI` document's fixed parts: info, security schemes, shared
//! schemas. Paths come from the handlers registered through utoipa-actix-web.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::ErrorBody;

/// Security scheme names used in `#[utoipa::path(security(...))]`. The scopes
/// listed on a route are the permissions it requires (empty: any member or
/// any signed-in user).
pub const SESSION: &str = "session";
pub const API_TOKEN: &str = "api_token";
/// The superadmin console's own session (`/api/v1/admin`).
pub const ADMIN_SESSION: &str = "admin_session";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "botbuilder API",
        description = "REST API of botbuilder. Errors share one body: `{\"error\": {\"code\", \"message\", \"status\", \"details\"}}`; \
                       lists are paginated with `?limit=&after=`. Browser sessions send `X-CSRF-Token` on unsafe methods; \
                       API tokens use `Authorization: Bearer bb_…`.",
        license(name = "Apache-2.0")
    ),
    modifiers(&SecuritySchemes),
    components(schemas(ErrorBody)),
    tags(
        (name = "ops", description = "Health, readiness and metrics"),
        (name = "auth", description = "Sign-up, sign-in and the current user"),
        (name = "orgs", description = "Organizations"),
        (name = "members", description = "Members of an organization"),
        (name = "roles", description = "Built-in and custom roles"),
        (name = "teams", description = "Teams, team roles and team members"),
        (name = "invitations", description = "Invitations by email"),
        (name = "whitelabel", description = "White-label branding"),
        (name = "api_tokens", description = "API tokens"),
        (name = "audit", description = "Audit log and activity feed"),
        (name = "versions", description = "Versions, diffs, rollback and branches of bots, flows, agents…"),
        (name = "admin", description = "Superadmin console"),
        (name = "bots", description = "Bots"),
        (name = "jobs", description = "Background jobs"),
        (name = "flows", description = "Flow documents, versions (draft, publish, diff, rollback) and orchestrations"),
        (name = "conversations", description = "Conversations, transcripts, the emulator and the human handoff inbox"),
        (name = "widget", description = "The embeddable chat widget and its public API"),
        (name = "nlu", description = "Intents, entities, training, parsing and quality tools of a bot's NLU"),
    )
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            SESSION,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "__Host-bb_session",
                "Browser session cookie; unsafe methods also need the X-CSRF-Token header.",
            ))),
        );
        components.add_security_scheme(
            ADMIN_SESSION,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "__Host-bb_admin",
                "Superadmin console session cookie (POST /api/v1/admin/auth/login); unsafe methods also need X-CSRF-Token.",
            ))),
        );
        components.add_security_scheme(
            API_TOKEN,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("bb_…")
                    .description(Some("API token created under /api/v1/orgs/{org_id}/api-tokens."))
                    .build(),
            ),
        );
    }
}

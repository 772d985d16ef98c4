//! The `OpenAPI` document's fixed parts: info, security schemes, shared
//! schemas. Paths come from the handlers registered through utoipa-actix-web.

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Response, ResponseBuilder, Schema};
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
        (name = "experiments", description = "A/B experiments on a bot: variants of flow versions, NLU models, agent configurations or knowledge settings; sticky assignment, goals, an always-valid sequential test, auto-stop and promotion"),
        (name = "bot_tests", description = "Conversation tests of a bot: saved from the emulator, run against the draft and on every publish"),
        (name = "conversations", description = "Conversations, transcripts, the emulator and the human handoff inbox"),
        (name = "files", description = "Downloads of files attached to conversations"),
        (name = "widget", description = "The embeddable chat widget and its public API"),
        (name = "nlu", description = "Intents, entities, training, parsing and quality tools of a bot's NLU"),
        (name = "fine_tuning", description = "Fine-tuning: datasets (upload, validation report, preview, conversion, split), remote fine-tuning jobs through OpenAI-compatible APIs with their curves, model versions (compare, activate, production, rollback)"),
        (name = "insights", description = "NLU and knowledge insights, flow funnels, organization stats and activity timeline"),
        (name = "clones", description = "Work clones: training material import, style profile, trained versions, drafts in the person's style with feedback, inbox suggestions"),
        (name = "contacts", description = "Contacts of the channels: search, profile, tags, attributes, consent, merge, GDPR export and erase"),
        (name = "webhooks", description = "Organization webhooks: subscriptions, signed deliveries, delivery log, redelivery"),
        (name = "ai", description = "A bot's model settings, budgets, chat (plain and streamed, with tool calling) and usage"),
        (name = "billing", description = "Subscriptions through Stripe: checkout, portal, plan changes with proration, cancel and resume, invoices, the Stripe webhook"),
        (name = "tools", description = "Tools for agents and flows: HTTP, knowledge search, database, flow actions, webhooks; type catalogue, test runs, run log"),
        (name = "mcp", description = "Model Context Protocol: connect MCP servers as tool providers; a bot's tools and knowledge search as an MCP server"),
        (name = "workflows", description = "Multi-agent workflows of a bot: graphs of agent, tool, condition, parallel/join, router, approval and end steps; durable runs with a step and message trace, cancel and approval"),
        (name = "sandbox", description = "The JavaScript sandbox of code tools: test-run a script with arguments"),
        (name = "voice", description = "Voice bots over Twilio-compatible telephony: account, voice bots, phone numbers, calls with transcripts and recordings, stats, the signed provider webhooks"),
        (name = "sso", description = "Single sign-on: OpenID Connect configurations, sign-in by email domain, domains and their verification, the sign-in log"),
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

/// The error statuses any operation can answer besides its own, declared on
/// every operation from this one place (after the handlers' paths are
/// merged, see `app::openapi`), each with the shared [`ErrorBody`]:
///
/// - every operation: 500 `internal`, 503 `unavailable` (database pool
///   exhausted, shutting down);
/// - with path or query parameters: 400 `invalid_path` / `invalid_query`;
/// - with a request body: 400 `invalid_json`, 413 `payload_too_large`,
///   415 `unsupported_media_type`, 422 `validation_failed`;
/// - with required credentials: 401 `unauthenticated`, 403 `forbidden`,
///   `csrf_failed` (unsafe methods) or `account_suspended`.
///
/// A status the handler already declares keeps its own description.
pub struct SharedErrors;

impl SharedErrors {
    fn response(description: &str) -> RefOr<Response> {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content("application/json", Content::new(Some(Ref::from_schema_name("ErrorBody"))))
                .build(),
        )
    }

    /// The statuses (with their description) `op` can answer through the
    /// shared machinery; `unsafe_method` is true for POST, PUT, PATCH, DELETE.
    #[must_use]
    pub fn statuses_for(op: &Operation, unsafe_method: bool) -> Vec<(&'static str, &'static str)> {
        let mut out = vec![
            ("500", "`internal`: an unexpected server error"),
            ("503", "`unavailable`: the server is overloaded or shutting down"),
        ];
        let has_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
        let has_body = op.request_body.is_some();
        if has_body {
            out.push(("400", "`invalid_json`, `invalid_path` or `invalid_query`: malformed body, path or query"));
            out.push(("413", "`payload_too_large`"));
            out.push(("415", "`unsupported_media_type`: wrong Content-Type"));
            out.push(("422", "`validation_failed` naming the field"));
        } else if has_params {
            out.push(("400", "`invalid_path` or `invalid_query`: malformed path or query parameter"));
        }
        if requires_credentials(op) {
            out.push(("401", "`unauthenticated`: no valid session or API token"));
            out.push((
                "403",
                if unsafe_method {
                    "`forbidden` (missing permission), `csrf_failed` or `account_suspended`"
                } else {
                    "`forbidden` (missing permission) or `account_suspended`"
                },
            ));
        }
        out
    }
}

/// Whether the operation needs credentials: it lists security requirements
/// and none of them is the empty one (which marks optional authentication).
fn requires_credentials(op: &Operation) -> bool {
    op.security.as_ref().is_some_and(|reqs| {
        !reqs.is_empty()
            && reqs.iter().all(|r| serde_json::to_value(r).is_ok_and(|v| v.as_object().is_some_and(|o| !o.is_empty())))
    })
}

impl Modify for SharedErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let ops = [
                (&mut item.get, false),
                (&mut item.head, false),
                (&mut item.options, false),
                (&mut item.trace, false),
                (&mut item.post, true),
                (&mut item.put, true),
                (&mut item.patch, true),
                (&mut item.delete, true),
            ];
            for (op, unsafe_method) in ops {
                let Some(op) = op.as_mut() else { continue };
                for (status, description) in Self::statuses_for(op, unsafe_method) {
                    op.responses.responses.entry(status.to_owned()).or_insert_with(|| Self::response(description));
                }
            }
        }
    }
}

/// A name with two different schemas: two Rust types registered under one
/// component name (utoipa keeps only the last one, silently).
#[derive(Debug)]
pub struct SchemaCollision {
    pub name: String,
    pub schemas: Vec<String>,
}

/// Registers every API route the way the server does and reports each
/// component name that more than one distinct schema was registered under.
///
/// utoipa-actix-web gathers the `(name, schema)` pairs of every handler into
/// one list per `configure` and then inserts them into a map, so a collision
/// is invisible in the finished document. A last, documentation-only
/// service reads that list before it is folded into the map.
#[must_use]
pub fn schema_collisions() -> Vec<SchemaCollision> {
    use std::collections::BTreeMap;
    use utoipa_actix_web::AppExt;

    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let probe = SchemaProbe(seen.clone());
    let _app = actix_web::App::new().into_utoipa_app().configure(|cfg| {
        crate::ops::routes(cfg);
        crate::widget::root_routes(cfg);
        crate::app::api_routes(cfg);
        cfg.service(probe);
    });
    let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, schema) in seen.borrow().iter() {
        let json = serde_json::to_string(schema).unwrap_or_default();
        let variants = by_name.entry(name.clone()).or_default();
        if !variants.contains(&json) {
            variants.push(json);
        }
    }
    by_name
        .into_iter()
        .filter(|(_, schemas)| schemas.len() > 1)
        .map(|(name, schemas)| SchemaCollision { name, schemas })
        .collect()
}

type SchemaPairs = Vec<(String, RefOr<Schema>)>;

/// See [`schema_collisions`]: registers nothing, copies the list it is given.
struct SchemaProbe(std::rc::Rc<std::cell::RefCell<SchemaPairs>>);

impl actix_web::dev::HttpServiceFactory for SchemaProbe {
    fn register(self, _config: &mut actix_web::dev::AppService) {}
}

impl utoipa_actix_web::OpenApiFactory for SchemaProbe {
    fn paths(&self) -> utoipa::openapi::path::Paths {
        utoipa::openapi::path::Paths::new()
    }

    fn schemas(&self, schemas: &mut SchemaPairs) {
        self.0.borrow_mut().clone_from(schemas);
    }
}

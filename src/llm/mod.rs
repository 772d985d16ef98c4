//! LLM providers: per-organization OpenAI-compatible chat-completions
//! endpoints (Ollama, llama.cpp server, vLLM, `OpenAI`, proxies) or
//! Anthropic Messages endpoints (`anthropic`), with the API
//! key encrypted at rest, and the client that calls them (`client`).
//! Everything here needs `integrations.manage`; keys are never returned.

pub mod ai;
pub mod anthropic;
pub mod call;
pub mod client;
pub mod model;
pub mod service;
pub mod store;

use actix_web::{HttpResponse, delete, get, patch, post, web};
use rusqlite::{Connection, OptionalExtension};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::{CreateLlmProviderRequest, LlmProvider, LlmProviderId, ProviderTestResult, UpdateLlmProviderRequest};
use crate::app::AppState;
use crate::error::{AppResult, ErrorBody, ErrorCode};
use crate::http::scope::{Owner, ScopeResource, Scoped};
use crate::http::{Json, OrgScope, Page, PageParams};
use crate::permissions::perm;

/// `/llm-providers/{provider_id}/…`
pub struct Provider;
impl ScopeResource for Provider {
    const PARAM: &'static str = "provider_id";
    const NOT_FOUND: ErrorCode = ErrorCode::LlmProviderNotFound;
    type Id = LlmProviderId;
    fn owner(conn: &Connection, id: LlmProviderId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row("SELECT organization_id FROM llm_providers WHERE id = ?1", [id], |r| {
            Ok(Owner { org_id: r.get(0)?, bot_id: None })
        })
        .optional()
    }
}

/// A scope on an LLM provider from its path.
pub type ProviderScope<P> = Scoped<Provider, P>;

/// Registers the routes.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_provider)
        .service(list_providers)
        .service(get_provider)
        .service(update_provider)
        .service(delete_provider)
        .service(test_provider);
    ai::routes(cfg);
}

/// Adds an LLM provider (OpenAI-compatible endpoint).
#[utoipa::path(
    tag = "llm",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = CreateLlmProviderRequest,
    responses((status = 201, body = LlmProvider), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[post("/orgs/{org_id}/llm-providers")]
async fn create_provider(
    scope: OrgScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
    body: Json<CreateLlmProviderRequest>,
) -> AppResult<HttpResponse> {
    let provider = service::create(&state, scope.into_tenant(), body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(provider))
}

/// Lists the organization's LLM providers (keys are never shown).
#[utoipa::path(
    tag = "llm",
    params(("org_id" = i64, Path, description = "Organization id"), PageParams),
    responses((status = 422, body = ErrorBody, description = "`validation_failed`: `limit` outside 1–200 or a malformed `after` cursor"), (status = 200, body = Page<LlmProvider>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[get("/orgs/{org_id}/llm-providers")]
async fn list_providers(
    scope: OrgScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<LlmProvider>>> {
    Ok(web::Json(service::list(&state, scope.into_tenant(), page.into_inner()).await?))
}

/// Shows an LLM provider.
#[utoipa::path(
    tag = "llm",
    params(("provider_id" = i64, Path, description = "LLM provider id")),
    responses((status = 200, body = LlmProvider), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[get("/llm-providers/{provider_id}")]
async fn get_provider(
    scope: ProviderScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<LlmProvider>> {
    let id = scope.id();
    Ok(web::Json(service::get(&state, scope.into_tenant(), id).await?))
}

/// Changes an LLM provider (`api_key: null` removes the key).
#[utoipa::path(
    tag = "llm",
    params(("provider_id" = i64, Path, description = "LLM provider id")),
    request_body = UpdateLlmProviderRequest,
    responses((status = 200, body = LlmProvider), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[patch("/llm-providers/{provider_id}")]
async fn update_provider(
    scope: ProviderScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
    body: Json<UpdateLlmProviderRequest>,
) -> AppResult<web::Json<LlmProvider>> {
    let id = scope.id();
    Ok(web::Json(service::update(&state, scope.into_tenant(), id, body.into_inner()?).await?))
}

/// Deletes an LLM provider.
#[utoipa::path(
    tag = "llm",
    params(("provider_id" = i64, Path, description = "LLM provider id")),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[delete("/llm-providers/{provider_id}")]
async fn delete_provider(
    scope: ProviderScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    service::delete(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sends a one-word prompt to the provider and reports the reply and latency.
#[utoipa::path(
    tag = "llm",
    params(("provider_id" = i64, Path, description = "LLM provider id")),
    responses((status = 200, body = ProviderTestResult), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 502, body = ErrorBody, description = "`llm_failed`: unreachable, timeout, error status or not a chat completion")),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[post("/llm-providers/{provider_id}/test")]
async fn test_provider(
    scope: ProviderScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<ProviderTestResult>> {
    let id = scope.id();
    Ok(web::Json(service::test(&state, scope.into_tenant(), id).await?))
}

//! Organization webhooks (issue 18 item 6): subscriptions to events of the
//! catalogue, signed deliveries (Standard Webhooks) through the outbound
//! policy, retries over more than a day in order per subscription, automatic
//! disabling after sustained failure, redelivery, a delivery log, test events
//! and secret rotation with overlap. Everything needs `integrations.manage`;
//! secrets are shown once (creation, rotation) and stored encrypted.
//!
//! Other domains report events with [`emit`] inside their transaction.

pub mod deliver;
pub mod events;
pub mod model;
pub mod service;
pub mod store;

use actix_web::{HttpResponse, delete, get, patch, post, web};
use rusqlite::{Connection, OptionalExtension};
use utoipa_actix_web::service_config::ServiceConfig;

pub use self::model::Event;
use self::model::{
    CreateWebhookRequest, Delivery, DeliveryFilter, DeliveryId, EventInfo, UpdateWebhookRequest, Webhook, WebhookId,
    WebhookWithSecret,
};
pub use self::service::emit;
use crate::app::AppState;
use crate::error::{AppResult, ErrorBody, ErrorCode};
use crate::http::scope::{Owner, ScopeResource, Scoped};
use crate::http::{Json, OrgScope, Page, PageParams};
use crate::permissions::perm;

/// `/webhooks/{webhook_id}/…`
pub struct WebhookResource;
impl ScopeResource for WebhookResource {
    const PARAM: &'static str = "webhook_id";
    const NOT_FOUND: ErrorCode = ErrorCode::WebhookNotFound;
    type Id = WebhookId;
    fn owner(conn: &Connection, id: WebhookId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row("SELECT organization_id FROM webhooks WHERE id = ?1", [id], |r| {
            Ok(Owner { org_id: r.get(0)?, bot_id: None })
        })
        .optional()
    }
}

/// `/webhook-deliveries/{delivery_id}/…`
pub struct DeliveryResource;
impl ScopeResource for DeliveryResource {
    const PARAM: &'static str = "delivery_id";
    const NOT_FOUND: ErrorCode = ErrorCode::WebhookDeliveryNotFound;
    type Id = DeliveryId;
    fn owner(conn: &Connection, id: DeliveryId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row("SELECT organization_id FROM webhook_logs WHERE id = ?1", [id], |r| {
            Ok(Owner { org_id: r.get(0)?, bot_id: None })
        })
        .optional()
    }
}

pub type WebhookScope<P> = Scoped<WebhookResource, P>;
pub type DeliveryScope<P> = Scoped<DeliveryResource, P>;

/// Registers the routes.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_events)
        .service(create_webhook)
        .service(list_webhooks)
        .service(get_webhook)
        .service(update_webhook)
        .service(delete_webhook)
        .service(rotate_secret)
        .service(send_test_event)
        .service(list_deliveries)
        .service(get_delivery)
        .service(redeliver);
}

/// Lists the events a webhook can subscribe to.
#[utoipa::path(
    tag = "webhooks",
    params(("org_id" = i64, Path, description = "Organization id")),
    responses((status = 200, body = Vec<EventInfo>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[get("/orgs/{org_id}/webhook-events")]
async fn list_events(_scope: OrgScope<perm::IntegrationsManage>) -> web::Json<Vec<EventInfo>> {
    web::Json(service::catalogue())
}

/// Subscribes a URL to events; the answer shows the signing secret, once.
#[utoipa::path(
    tag = "webhooks",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = CreateWebhookRequest,
    responses((status = 201, body = WebhookWithSecret), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "`validation_failed`, `url_not_allowed` (field `url`) or `unknown_webhook_event` (field `events[i]`)")),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[post("/orgs/{org_id}/webhooks")]
async fn create_webhook(
    scope: OrgScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
    body: Json<CreateWebhookRequest>,
) -> AppResult<HttpResponse> {
    let created = service::create(&state, scope.into_tenant(), body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(created))
}

/// Lists the organization's webhooks (secrets are never shown).
#[utoipa::path(
    tag = "webhooks",
    params(("org_id" = i64, Path, description = "Organization id"), PageParams),
    responses((status = 200, body = Page<Webhook>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[get("/orgs/{org_id}/webhooks")]
async fn list_webhooks(
    scope: OrgScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Webhook>>> {
    Ok(web::Json(service::list(&state, scope.into_tenant(), page.into_inner()).await?))
}

/// Shows a webhook.
#[utoipa::path(
    tag = "webhooks",
    params(("webhook_id" = i64, Path, description = "Webhook id")),
    responses((status = 200, body = Webhook), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[get("/webhooks/{webhook_id}")]
async fn get_webhook(
    scope: WebhookScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<Webhook>> {
    let id = scope.id();
    Ok(web::Json(service::get(&state, scope.into_tenant(), id).await?))
}

/// Changes a webhook; switching a disabled one on resumes its queued deliveries.
#[utoipa::path(
    tag = "webhooks",
    params(("webhook_id" = i64, Path, description = "Webhook id")),
    request_body = UpdateWebhookRequest,
    responses((status = 200, body = Webhook), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[patch("/webhooks/{webhook_id}")]
async fn update_webhook(
    scope: WebhookScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
    body: Json<UpdateWebhookRequest>,
) -> AppResult<web::Json<Webhook>> {
    let id = scope.id();
    Ok(web::Json(service::update(&state, scope.into_tenant(), id, body.into_inner()?).await?))
}

/// Deletes a webhook and its delivery log.
#[utoipa::path(
    tag = "webhooks",
    params(("webhook_id" = i64, Path, description = "Webhook id")),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[delete("/webhooks/{webhook_id}")]
async fn delete_webhook(
    scope: WebhookScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    service::delete(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Replaces the signing secret (shown once); the old one keeps signing for 24 hours.
#[utoipa::path(
    tag = "webhooks",
    params(("webhook_id" = i64, Path, description = "Webhook id")),
    responses((status = 200, body = WebhookWithSecret), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[post("/webhooks/{webhook_id}/rotate-secret")]
async fn rotate_secret(
    scope: WebhookScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<WebhookWithSecret>> {
    let id = scope.id();
    Ok(web::Json(service::rotate(&state, scope.into_tenant(), id).await?))
}

/// Queues a `webhook.test` event to this webhook.
#[utoipa::path(
    tag = "webhooks",
    params(("webhook_id" = i64, Path, description = "Webhook id")),
    responses((status = 202, body = Delivery), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`webhook_inactive`")),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[post("/webhooks/{webhook_id}/test")]
async fn send_test_event(
    scope: WebhookScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    let delivery = service::send_test(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::Accepted().json(delivery))
}

/// The webhook's delivery log, newest first, filtered by status and event.
#[utoipa::path(
    tag = "webhooks",
    params(("webhook_id" = i64, Path, description = "Webhook id"), DeliveryFilter, PageParams),
    responses((status = 200, body = Page<Delivery>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[get("/webhooks/{webhook_id}/deliveries")]
async fn list_deliveries(
    scope: WebhookScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
    filter: web::Query<DeliveryFilter>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Delivery>>> {
    let id = scope.id();
    Ok(web::Json(
        service::list_deliveries(&state, scope.into_tenant(), id, filter.into_inner(), page.into_inner()).await?,
    ))
}

/// Shows a delivery: body sent, attempts, last response.
#[utoipa::path(
    tag = "webhooks",
    params(("delivery_id" = i64, Path, description = "Delivery id")),
    responses((status = 200, body = Delivery), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[get("/webhook-deliveries/{delivery_id}")]
async fn get_delivery(
    scope: DeliveryScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<Delivery>> {
    let id = scope.id();
    Ok(web::Json(service::get_delivery(&state, scope.into_tenant(), id).await?))
}

/// Sends a delivery again (new attempts, same `webhook-id` and body).
#[utoipa::path(
    tag = "webhooks",
    params(("delivery_id" = i64, Path, description = "Delivery id")),
    responses((status = 202, body = Delivery), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`webhook_inactive`")),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[post("/webhook-deliveries/{delivery_id}/redeliver")]
async fn redeliver(
    scope: DeliveryScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    let delivery = service::redeliver(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::Accepted().json(delivery))
}

//! Revenue recovery (issue 27): events in (API, signed Shopify-style and
//! Stripe webhooks), campaigns with multi-step sequences over the channels,
//! a durable scheduler that sends through the channels' outbound queue with
//! send windows, quiet hours, a frequency cap, consent and stop conditions,
//! signed click-tracking and one-click unsubscribe links, conversions
//! attributed to the last message, and daily analytics with CSV export.
//!
//! Campaigns, sources and reported events need `channels.manage`; reading
//! events, messages and analytics needs `analytics.read`. Source webhooks,
//! tracked links and unsubscribe links are public and signed.

pub mod dispatch;
pub mod health;
pub mod hooks;
pub mod internal;
pub mod model;
pub mod rollup;
pub mod schedule;
pub mod service;
pub mod store;

use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE, LOCATION};
use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use rusqlite::{Connection, OptionalExtension};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::{
    RecoveryAnalytics, RecoveryAnalyticsQuery, RecoveryCampaign, RecoveryCampaignId, RecoveryCampaignRequest,
    RecoveryEvent, RecoveryEventRequest, RecoveryIngest, RecoveryMessage, RecoveryMessageFilter, RecoveryPreview,
    RecoverySource, RecoverySourceId, RecoverySourceRequest, RecoveryTestRequest,
};
use crate::app::AppState;
use crate::error::{AppResult, ErrorBody, ErrorCode};
use crate::http::scope::{Owner, ScopeResource, Scoped};
use crate::http::{Json, OrgScope, Page, PageParams};
use crate::permissions::perm;

/// `/recovery-campaigns/{recovery_campaign_id}/…`
pub struct RecoveryCampaignResource;
impl ScopeResource for RecoveryCampaignResource {
    const PARAM: &'static str = "recovery_campaign_id";
    const NOT_FOUND: ErrorCode = ErrorCode::RecoveryCampaignNotFound;
    type Id = RecoveryCampaignId;
    fn owner(conn: &Connection, id: RecoveryCampaignId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row("SELECT organization_id FROM recovery_campaigns WHERE id = ?1", [id], |r| {
            Ok(Owner { org_id: r.get(0)?, bot_id: None })
        })
        .optional()
    }
}

/// `/recovery-sources/{recovery_source_id}`
pub struct RecoverySourceResource;
impl ScopeResource for RecoverySourceResource {
    const PARAM: &'static str = "recovery_source_id";
    const NOT_FOUND: ErrorCode = ErrorCode::RecoverySourceNotFound;
    type Id = RecoverySourceId;
    fn owner(conn: &Connection, id: RecoverySourceId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row("SELECT organization_id FROM recovery_sources WHERE id = ?1", [id], |r| {
            Ok(Owner { org_id: r.get(0)?, bot_id: None })
        })
        .optional()
    }
}

/// `/recovery-health/{customer_health_id}`
pub struct CustomerHealthResource;
impl ScopeResource for CustomerHealthResource {
    const PARAM: &'static str = "customer_health_id";
    const NOT_FOUND: ErrorCode = ErrorCode::RecoveryHealthNotFound;
    type Id = i64;
    fn owner(conn: &Connection, id: i64) -> rusqlite::Result<Option<Owner>> {
        conn.query_row("SELECT organization_id FROM customer_health_scores WHERE id = ?1", [id], |r| {
            Ok(Owner { org_id: r.get(0)?, bot_id: None })
        })
        .optional()
    }
}

pub type RecoveryCampaignScope<P> = Scoped<RecoveryCampaignResource, P>;
pub type CustomerHealthScope<P> = Scoped<CustomerHealthResource, P>;
pub type RecoverySourceScope<P> = Scoped<RecoverySourceResource, P>;

/// Registers the routes.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(recovery_create_campaign)
        .service(recovery_list_campaigns)
        .service(recovery_get_campaign)
        .service(recovery_update_campaign)
        .service(recovery_delete_campaign)
        .service(recovery_test_step)
        .service(recovery_report_event)
        .service(recovery_list_events)
        .service(recovery_list_messages)
        .service(recovery_analytics)
        .service(recovery_analytics_csv)
        .service(recovery_create_source)
        .service(recovery_list_sources)
        .service(recovery_delete_source)
        .service(recovery_source_hook)
        .service(recovery_follow_link)
        .service(recovery_unsubscribe_page)
        .service(recovery_unsubscribe)
        .service(recovery_list_health)
        .service(recovery_get_health);
}

/// Customer health scores (the platform's customer organizations, in the operator's organization).
#[utoipa::path(
    tag = "recovery",
    params(("org_id" = i64, Path, description = "Organization id"), health::RecoveryHealthFilter, PageParams),
    responses((status = 200, body = Page<health::RecoveryHealth>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["analytics.read"]), ("api_token" = ["analytics.read"]))
)]
#[get("/orgs/{org_id}/recovery/health")]
async fn recovery_list_health(
    scope: OrgScope<perm::AnalyticsRead>,
    state: web::Data<AppState>,
    filter: web::Query<health::RecoveryHealthFilter>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<health::RecoveryHealth>>> {
    Ok(web::Json(health::list(&state, scope.into_tenant(), filter.into_inner(), page.into_inner()).await?))
}

/// A customer's health: every signal with its weight and contribution, the model, the history.
#[utoipa::path(
    tag = "recovery",
    params(("customer_health_id" = i64, Path, description = "Customer health score id")),
    responses((status = 200, body = health::RecoveryHealthDetail), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody, description = "`recovery_health_not_found`")),
    security(("session" = ["analytics.read"]), ("api_token" = ["analytics.read"]))
)]
#[get("/recovery-health/{customer_health_id}")]
async fn recovery_get_health(
    scope: CustomerHealthScope<perm::AnalyticsRead>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<health::RecoveryHealthDetail>> {
    let id = scope.id();
    Ok(web::Json(health::detail(&state, scope.into_tenant(), id).await?))
}

/// Creates a campaign (trigger, audience, steps, send window, quiet hours).
#[utoipa::path(
    tag = "recovery",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = RecoveryCampaignRequest,
    responses((status = 201, body = RecoveryCampaign), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`recovery_campaign_exists`"),
              (status = 422, body = ErrorBody, description = "`validation_failed` (no steps, an empty send window… `details.field` names it) or `recovery_template_field`")),
    security(("session" = ["channels.manage"]), ("api_token" = ["channels.manage"]))
)]
#[post("/orgs/{org_id}/recovery/campaigns")]
async fn recovery_create_campaign(
    scope: OrgScope<perm::ChannelsManage>,
    state: web::Data<AppState>,
    body: Json<RecoveryCampaignRequest>,
) -> AppResult<HttpResponse> {
    let created = service::create_campaign(&state, scope.into_tenant(), body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(created))
}

/// Lists the campaigns with their figures.
#[utoipa::path(
    tag = "recovery",
    params(("org_id" = i64, Path, description = "Organization id"), PageParams),
    responses((status = 200, body = Page<RecoveryCampaign>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("session" = ["analytics.read"]), ("api_token" = ["analytics.read"]))
)]
#[get("/orgs/{org_id}/recovery/campaigns")]
async fn recovery_list_campaigns(
    scope: OrgScope<perm::AnalyticsRead>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<RecoveryCampaign>>> {
    Ok(web::Json(service::list_campaigns(&state, scope.into_tenant(), page.into_inner()).await?))
}

/// Shows a campaign.
#[utoipa::path(
    tag = "recovery",
    params(("recovery_campaign_id" = i64, Path, description = "Campaign id")),
    responses((status = 200, body = RecoveryCampaign), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["analytics.read"]), ("api_token" = ["analytics.read"]))
)]
#[get("/recovery-campaigns/{recovery_campaign_id}")]
async fn recovery_get_campaign(
    scope: RecoveryCampaignScope<perm::AnalyticsRead>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<RecoveryCampaign>> {
    let id = scope.id();
    Ok(web::Json(service::get_campaign(&state, scope.into_tenant(), id).await?))
}

/// Replaces a campaign's settings (messages already sent are kept; pending ones use the new steps).
#[utoipa::path(
    tag = "recovery",
    params(("recovery_campaign_id" = i64, Path, description = "Campaign id")),
    request_body = RecoveryCampaignRequest,
    responses((status = 200, body = RecoveryCampaign), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["channels.manage"]), ("api_token" = ["channels.manage"]))
)]
#[put("/recovery-campaigns/{recovery_campaign_id}")]
async fn recovery_update_campaign(
    scope: RecoveryCampaignScope<perm::ChannelsManage>,
    state: web::Data<AppState>,
    body: Json<RecoveryCampaignRequest>,
) -> AppResult<web::Json<RecoveryCampaign>> {
    let id = scope.id();
    Ok(web::Json(service::update_campaign(&state, scope.into_tenant(), id, body.into_inner()?).await?))
}

/// Deletes a campaign and its messages.
#[utoipa::path(
    tag = "recovery",
    params(("recovery_campaign_id" = i64, Path, description = "Campaign id")),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["channels.manage"]), ("api_token" = ["channels.manage"]))
)]
#[delete("/recovery-campaigns/{recovery_campaign_id}")]
async fn recovery_delete_campaign(
    scope: RecoveryCampaignScope<perm::ChannelsManage>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    service::delete_campaign(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Renders a step with sample data (preview); with `to`, sends it as a test on the step's channel.
#[utoipa::path(
    tag = "recovery",
    params(("recovery_campaign_id" = i64, Path, description = "Campaign id")),
    request_body = RecoveryTestRequest,
    responses((status = 200, body = RecoveryPreview), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("session" = ["channels.manage"]), ("api_token" = ["channels.manage"]))
)]
#[post("/recovery-campaigns/{recovery_campaign_id}/test")]
async fn recovery_test_step(
    scope: RecoveryCampaignScope<perm::ChannelsManage>,
    state: web::Data<AppState>,
    body: Json<RecoveryTestRequest>,
) -> AppResult<web::Json<RecoveryPreview>> {
    let id = scope.id();
    Ok(web::Json(service::test_step(&state, scope.into_tenant(), id, body.into_inner()?).await?))
}

/// Reports an event (generic schema); the matching active campaign schedules its sequence.
#[utoipa::path(
    tag = "recovery",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = RecoveryEventRequest,
    responses((status = 202, body = RecoveryIngest), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "`validation_failed` or `recovery_event_type_unknown` (stored as rejected)")),
    security(("session" = ["channels.manage"]), ("api_token" = ["channels.manage"]))
)]
#[post("/orgs/{org_id}/recovery/events")]
async fn recovery_report_event(
    scope: OrgScope<perm::ChannelsManage>,
    state: web::Data<AppState>,
    body: Json<RecoveryEventRequest>,
) -> AppResult<HttpResponse> {
    let out = service::ingest(&state, scope.into_tenant(), body.into_inner()?).await?;
    Ok(HttpResponse::Accepted().json(out))
}

/// The events log, newest first (rejected and ignored events with their reason).
#[utoipa::path(
    tag = "recovery",
    params(("org_id" = i64, Path, description = "Organization id"), PageParams),
    responses((status = 200, body = Page<RecoveryEvent>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("session" = ["analytics.read"]), ("api_token" = ["analytics.read"]))
)]
#[get("/orgs/{org_id}/recovery/events")]
async fn recovery_list_events(
    scope: OrgScope<perm::AnalyticsRead>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<RecoveryEvent>>> {
    Ok(web::Json(service::list_events(&state, scope.into_tenant(), page.into_inner()).await?))
}

/// Scheduled and sent messages (status, reason, local send time).
#[utoipa::path(
    tag = "recovery",
    params(("org_id" = i64, Path, description = "Organization id"), RecoveryMessageFilter, PageParams),
    responses((status = 200, body = Page<RecoveryMessage>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("session" = ["analytics.read"]), ("api_token" = ["analytics.read"]))
)]
#[get("/orgs/{org_id}/recovery/messages")]
async fn recovery_list_messages(
    scope: OrgScope<perm::AnalyticsRead>,
    state: web::Data<AppState>,
    filter: web::Query<RecoveryMessageFilter>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<RecoveryMessage>>> {
    Ok(web::Json(service::list_messages(&state, scope.into_tenant(), filter.into_inner(), page.into_inner()).await?))
}

/// Daily rollups per campaign: sent, delivered, opened, clicked, converted, recovered revenue, rates.
#[utoipa::path(
    tag = "recovery",
    params(("org_id" = i64, Path, description = "Organization id"), RecoveryAnalyticsQuery),
    responses((status = 200, body = RecoveryAnalytics), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("session" = ["analytics.read"]), ("api_token" = ["analytics.read"]))
)]
#[get("/orgs/{org_id}/recovery/analytics")]
async fn recovery_analytics(
    scope: OrgScope<perm::AnalyticsRead>,
    state: web::Data<AppState>,
    q: web::Query<RecoveryAnalyticsQuery>,
) -> AppResult<web::Json<RecoveryAnalytics>> {
    Ok(web::Json(service::analytics(&state, scope.into_tenant(), q.into_inner()).await?))
}

/// The daily rollups as CSV.
#[utoipa::path(
    tag = "recovery",
    params(("org_id" = i64, Path, description = "Organization id"), RecoveryAnalyticsQuery),
    responses((status = 200, content_type = "text/csv", body = String, description = "One row per campaign and day"),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["analytics.read"]), ("api_token" = ["analytics.read"]))
)]
#[get("/orgs/{org_id}/recovery/analytics.csv")]
async fn recovery_analytics_csv(
    scope: OrgScope<perm::AnalyticsRead>,
    state: web::Data<AppState>,
    q: web::Query<RecoveryAnalyticsQuery>,
) -> AppResult<HttpResponse> {
    let tenant = scope.into_tenant();
    let org = tenant.org_id();
    let a = service::analytics(&state, tenant, q.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((CONTENT_DISPOSITION, format!("attachment; filename=\"recovery-org-{org}.csv\"")))
        .body(service::analytics_csv(&a)))
}

/// Registers a signed webhook source (Shopify or Stripe); the answer shows its URL, once.
#[utoipa::path(
    tag = "recovery",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = RecoverySourceRequest,
    responses((status = 201, body = RecoverySource), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["channels.manage"]), ("api_token" = ["channels.manage"]))
)]
#[post("/orgs/{org_id}/recovery/sources")]
async fn recovery_create_source(
    scope: OrgScope<perm::ChannelsManage>,
    state: web::Data<AppState>,
    body: Json<RecoverySourceRequest>,
) -> AppResult<HttpResponse> {
    let created = service::create_source(&state, scope.into_tenant(), body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(created))
}

/// Lists the webhook sources (secrets and URLs are never shown again).
#[utoipa::path(
    tag = "recovery",
    params(("org_id" = i64, Path, description = "Organization id")),
    responses((status = 200, body = Vec<RecoverySource>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["channels.manage"]), ("api_token" = ["channels.manage"]))
)]
#[get("/orgs/{org_id}/recovery/sources")]
async fn recovery_list_sources(
    scope: OrgScope<perm::ChannelsManage>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<Vec<RecoverySource>>> {
    Ok(web::Json(service::list_sources(&state, scope.into_tenant()).await?))
}

/// Deletes a webhook source (its URL stops working).
#[utoipa::path(
    tag = "recovery",
    params(("recovery_source_id" = i64, Path, description = "Source id")),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["channels.manage"]), ("api_token" = ["channels.manage"]))
)]
#[delete("/recovery-sources/{recovery_source_id}")]
async fn recovery_delete_source(
    scope: RecoverySourceScope<perm::ChannelsManage>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    service::delete_source(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A source's webhook (Shopify: `X-Shopify-Hmac-Sha256` and `X-Shopify-Topic`; Stripe: `Stripe-Signature`).
#[utoipa::path(
    tag = "recovery",
    params(("hook_token" = String, Path, description = "The token of the source's URL")),
    request_body(content = Object, description = "The source's JSON, as signed"),
    responses((status = 200, body = RecoveryIngest, description = "Taken (also duplicates and rejected topics, stored with the reason)"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody, description = "`recovery_signature_invalid`: nothing stored"),
              (status = 404, body = ErrorBody, description = "`recovery_source_not_found`"), (status = 422, body = ErrorBody))
)]
#[post("/recovery-hooks/{hook_token}")]
async fn recovery_source_hook(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> AppResult<web::Json<RecoveryIngest>> {
    Ok(web::Json(hooks::receive(&state, &path.into_inner(), req.headers(), &body).await?))
}

/// A tracked link: records the click and redirects to the event's own URL (never a URL from the request).
#[utoipa::path(
    tag = "recovery",
    params(("link" = String, Path, description = "The signed link token")),
    responses((status = 302, description = "To the checkout or payment page"), (status = 404, body = ErrorBody, description = "`recovery_link_invalid`"))
)]
#[get("/recovery-links/{link}")]
async fn recovery_follow_link(state: web::Data<AppState>, path: web::Path<String>) -> AppResult<HttpResponse> {
    let to = service::click(&state, path.into_inner()).await?;
    Ok(HttpResponse::Found().insert_header((LOCATION, to)).finish())
}

fn page(title: &str, body: &str) -> HttpResponse {
    HttpResponse::Ok().insert_header((CONTENT_TYPE, "text/html; charset=utf-8")).body(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title></head><body><main><h1>{title}</h1>{body}</main></body></html>"
    ))
}

/// The unsubscribe page of a signed link: one button.
#[utoipa::path(
    tag = "recovery",
    params(("link" = String, Path, description = "The signed link token")),
    responses((status = 200, content_type = "text/html", body = String), (status = 404, body = ErrorBody))
)]
#[get("/recovery-unsubscribe/{link}")]
async fn recovery_unsubscribe_page(state: web::Data<AppState>, path: web::Path<String>) -> AppResult<HttpResponse> {
    service::check_unsubscribe(&state, &path)?;
    Ok(page(
        "Unsubscribe",
        "<p>Stop receiving these reminders?</p><form method=\"post\"><button type=\"submit\">Unsubscribe</button></form>",
    ))
}

/// One-click unsubscribe (RFC 8058 style POST): no more recovery messages to this customer.
#[utoipa::path(
    tag = "recovery",
    params(("link" = String, Path, description = "The signed link token")),
    responses((status = 200, content_type = "text/html", body = String), (status = 404, body = ErrorBody))
)]
#[post("/recovery-unsubscribe/{link}")]
async fn recovery_unsubscribe(state: web::Data<AppState>, path: web::Path<String>) -> AppResult<HttpResponse> {
    service::unsubscribe(&state, path.into_inner()).await?;
    Ok(page("Unsubscribed", "<p>You will not receive these messages any more.</p>"))
}

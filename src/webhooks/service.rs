//! Webhook rules: validation, the secret (generated here, shown once,
//! rotated with a 24-hour overlap), emission of events inside the caller's
//! transaction, test events and redelivery.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rusqlite::Connection;
use serde_json::{Value, json};

use super::deliver::ensure_job;
use super::model::{
    CreateWebhookRequest, Delivery, DeliveryFilter, DeliveryId, Event, EventInfo, UpdateWebhookRequest, Webhook,
    WebhookId, WebhookWithSecret,
};
use super::store::{self, WebhookFields};
use crate::app::AppState;
use crate::crypto::{Keys, random_token};
use crate::db::{format_timestamp, now};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::{Page, PageParams, Tenant};
use crate::ids::OrgId;
use crate::orgs::audit::{self, AuditEntry};

/// How long the secret replaced by a rotation keeps signing.
pub const ROTATION_OVERLAP_HOURS: i64 = 24;

fn not_found() -> AppError {
    AppError::new(ErrorCode::WebhookNotFound, "no such webhook")
}

fn delivery_not_found() -> AppError {
    AppError::new(ErrorCode::WebhookDeliveryNotFound, "no such webhook delivery")
}

/// The AEAD context of a subscription's secrets (current and previous).
pub(crate) fn secret_context(id: WebhookId) -> String {
    format!("webhooks.secret_encrypted:{}", id.0)
}

/// A new signing secret: `whsec_` + base64 of 32 random bytes.
fn new_secret() -> String {
    format!("whsec_{}", STANDARD.encode(rand::random::<[u8; 32]>()))
}

/// The catalogue of subscribable events.
#[must_use]
pub fn catalogue() -> Vec<EventInfo> {
    Event::SUBSCRIBABLE.into_iter().map(|e| EventInfo { name: e.as_str(), description: e.description() }).collect()
}

struct Checked {
    name: String,
    url: String,
    events_json: String,
    description: Option<String>,
}

fn check_url(state: &AppState, raw: &str) -> AppResult<String> {
    let raw = raw.trim();
    if raw.len() > 2048 {
        return Err(AppError::validation("url", "must be at most 2048 characters"));
    }
    let url = state.outbound.check(raw).map_err(|e| match e {
        crate::outbound::OutboundError::Forbidden(_) | crate::outbound::OutboundError::Scheme => {
            AppError::new(ErrorCode::UrlNotAllowed, e.to_string()).with_details(json!({ "field": "url" }))
        }
        _ => AppError::validation("url", e.to_string()),
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(AppError::validation("url", "must not contain credentials"));
    }
    Ok(url.to_string())
}

fn check_events(events: &[String]) -> AppResult<String> {
    if events.is_empty() {
        return Err(AppError::validation("events", "subscribe to at least one event"));
    }
    let mut names: Vec<&'static str> = Vec::new();
    for (i, name) in events.iter().enumerate() {
        let event = Event::parse_subscribable(name.trim()).ok_or_else(|| {
            AppError::new(ErrorCode::UnknownWebhookEvent, format!("`{name}` is not an event of the catalogue"))
                .with_details(
                    json!({ "field": format!("events[{i}]"), "known": Event::SUBSCRIBABLE.map(Event::as_str) }),
                )
        })?;
        if !names.contains(&event.as_str()) {
            names.push(event.as_str());
        }
    }
    Ok(Value::from(names).to_string())
}

fn check(
    state: &AppState,
    name: Option<&str>,
    url: &str,
    events: &[String],
    description: Option<&str>,
) -> AppResult<Checked> {
    let url = check_url(state, url)?;
    let name = match name.map(str::trim) {
        Some(n) => n.to_owned(),
        None => reqwest::Url::parse(&url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default(),
    };
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::validation("name", "must be 1–100 characters"));
    }
    crate::names::reject_invisible("name", &name)?;
    let events_json = check_events(events)?;
    let description = description.map(str::trim).filter(|d| !d.is_empty()).map(str::to_owned);
    if description.as_ref().is_some_and(|d| d.chars().count() > 500) {
        return Err(AppError::validation("description", "must be at most 500 characters"));
    }
    Ok(Checked { name, url, events_json, description })
}

/// Creates a subscription; the answer carries the secret, the only time it is shown.
pub async fn create(state: &AppState, tenant: Tenant, req: CreateWebhookRequest) -> AppResult<WebhookWithSecret> {
    let c = check(state, req.name.as_deref(), &req.url, &req.events, req.description.as_deref())?;
    let keys = state.keys.clone();
    let secret = new_secret();
    let shown = secret.clone();
    let webhook = state
        .db
        .write(move |tx| {
            let id = store::insert(
                tx,
                &tenant,
                &WebhookFields {
                    name: &c.name,
                    url: &c.url,
                    events_json: &c.events_json,
                    description: c.description.as_deref(),
                    is_active: req.is_active.unwrap_or(true),
                },
            )?;
            store::set_secret(tx, &tenant, id, &keys.encrypt(secret.as_bytes(), &secret_context(id)), None)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "webhook.created", "webhook", id.0)
                    .activity()
                    .with_new(json!({ "name": c.name, "url": c.url, "events": serde_json::from_str::<Value>(&c.events_json).unwrap_or_default() })),
            )?;
            store::find(tx, &tenant, id)?.ok_or_else(not_found)
        })
        .await?;
    Ok(WebhookWithSecret { webhook, secret: shown })
}

pub async fn get(state: &AppState, tenant: Tenant, id: WebhookId) -> AppResult<Webhook> {
    state.db.read(move |c| store::find(c, &tenant, id)?.ok_or_else(not_found)).await
}

pub async fn list(state: &AppState, tenant: Tenant, page: PageParams) -> AppResult<Page<Webhook>> {
    let after = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state.db.read(move |c| Ok(store::list(c, &tenant, after, limit)?)).await?;
    Page::from_rows(rows, &page, |w| w.id.0)
}

pub async fn update(state: &AppState, tenant: Tenant, id: WebhookId, req: UpdateWebhookRequest) -> AppResult<Webhook> {
    let before = get(state, tenant.clone(), id).await?;
    let description = match &req.description {
        Some(d) => d.clone(),
        None => before.description.clone(),
    };
    let c = check(
        state,
        Some(req.name.as_deref().unwrap_or(&before.name)),
        req.url.as_deref().unwrap_or(&before.url),
        req.events.as_deref().unwrap_or(&before.events),
        description.as_deref(),
    )?;
    let is_active = req.is_active.unwrap_or(before.is_active);
    let resumed = is_active && !before.is_active;
    let webhook = state
        .db
        .write(move |tx| {
            store::update(
                tx,
                &tenant,
                id,
                &WebhookFields {
                    name: &c.name,
                    url: &c.url,
                    events_json: &c.events_json,
                    description: c.description.as_deref(),
                    is_active,
                },
            )?;
            if resumed {
                store::retry_queue_now(tx, &tenant, id)?;
                ensure_job(tx, id, tenant.org_id())?;
            }
            let after = store::find(tx, &tenant, id)?.ok_or_else(not_found)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "webhook.updated", "webhook", id.0)
                    .with_old(json!({ "name": before.name, "url": before.url, "events": before.events, "is_active": before.is_active }))
                    .with_new(json!({ "name": after.name, "url": after.url, "events": after.events, "is_active": after.is_active })),
            )?;
            Ok(after)
        })
        .await?;
    state.jobs.notify();
    Ok(webhook)
}

pub async fn delete(state: &AppState, tenant: Tenant, id: WebhookId) -> AppResult<()> {
    state
        .db
        .write(move |tx| {
            let before = store::find(tx, &tenant, id)?.ok_or_else(not_found)?;
            store::delete(tx, &tenant, id)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "webhook.deleted", "webhook", id.0)
                    .with_old(json!({ "name": before.name, "url": before.url })),
            )
        })
        .await
}

/// Replaces the secret; the old one keeps signing (a second signature) for
/// [`ROTATION_OVERLAP_HOURS`]. Answers the new secret, shown only now.
pub async fn rotate(state: &AppState, tenant: Tenant, id: WebhookId) -> AppResult<WebhookWithSecret> {
    let keys = state.keys.clone();
    let secret = new_secret();
    let shown = secret.clone();
    let webhook = state
        .db
        .write(move |tx| {
            let old = store::secret(tx, &tenant, id)?.ok_or_else(not_found)?;
            let until = format_timestamp(chrono::Utc::now() + chrono::Duration::hours(ROTATION_OVERLAP_HOURS));
            // An unreadable old secret (re-keyed data file) signs nothing: drop it.
            let previous = keys.decrypt(&old, &secret_context(id)).ok().map(|_| (old.as_slice(), until.as_str()));
            store::set_secret(tx, &tenant, id, &keys.encrypt(secret.as_bytes(), &secret_context(id)), previous)?;
            audit::record(tx, &AuditEntry::by(&tenant, "webhook.secret_rotated", "webhook", id.0))?;
            store::find(tx, &tenant, id)?.ok_or_else(not_found)
        })
        .await?;
    Ok(WebhookWithSecret { webhook, secret: shown })
}

/// The current secret, for signing.
pub(crate) fn open_secret(keys: &Keys, id: WebhookId, sealed: &[u8]) -> Option<Vec<u8>> {
    let text = keys.decrypt(sealed, &secret_context(id)).ok()?;
    let text = String::from_utf8(text).ok()?;
    STANDARD.decode(text.strip_prefix("whsec_")?).ok()
}

fn inactive() -> AppError {
    AppError::new(ErrorCode::WebhookInactive, "the webhook is switched off; switch it on first")
}

/// Queues a `webhook.test` event to this subscription alone.
pub async fn send_test(state: &AppState, tenant: Tenant, id: WebhookId) -> AppResult<Delivery> {
    let delivery = state
        .db
        .write(move |tx| {
            let webhook = store::find(tx, &tenant, id)?.ok_or_else(not_found)?;
            if !webhook.is_active {
                return Err(inactive());
            }
            let payload = envelope(
                Event::Test,
                json!({ "organization_id": tenant.org_id(), "webhook_id": id, "message": "This is a test event from botbuilder." }),
            );
            let did = store::insert_delivery(tx, &tenant, id, Event::Test.as_str(), &new_message_id(), &payload, None)?;
            ensure_job(tx, id, tenant.org_id())?;
            store::find_delivery(tx, &tenant, did)?.ok_or_else(delivery_not_found)
        })
        .await?;
    state.jobs.notify();
    Ok(delivery)
}

/// Queues a delivery again: a new attempt chain with the same message id
/// and body (the receiver deduplicates by `webhook-id`).
pub async fn redeliver(state: &AppState, tenant: Tenant, id: DeliveryId) -> AppResult<Delivery> {
    let delivery = state
        .db
        .write(move |tx| {
            let original = store::find_delivery(tx, &tenant, id)?.ok_or_else(delivery_not_found)?;
            let webhook = store::find(tx, &tenant, original.webhook_id)?.ok_or_else(not_found)?;
            if !webhook.is_active {
                return Err(inactive());
            }
            let did = store::insert_delivery(
                tx,
                &tenant,
                webhook.id,
                &original.event_type,
                &original.message_id,
                &original.payload.to_string(),
                Some(id),
            )?;
            ensure_job(tx, webhook.id, tenant.org_id())?;
            store::find_delivery(tx, &tenant, did)?.ok_or_else(delivery_not_found)
        })
        .await?;
    state.jobs.notify();
    Ok(delivery)
}

pub async fn get_delivery(state: &AppState, tenant: Tenant, id: DeliveryId) -> AppResult<Delivery> {
    state.db.read(move |c| store::find_delivery(c, &tenant, id)?.ok_or_else(delivery_not_found)).await
}

/// The delivery log of a subscription, newest first.
pub async fn list_deliveries(
    state: &AppState,
    tenant: Tenant,
    id: WebhookId,
    filter: DeliveryFilter,
    page: PageParams,
) -> AppResult<Page<Delivery>> {
    let status = filter.status.filter(|s| !s.is_empty());
    if let Some(s) = &status
        && !["pending", "failed", "delivered", "dead"].contains(&s.as_str())
    {
        return Err(AppError::validation("status", "pending, failed, delivered or dead"));
    }
    let event = filter.event.filter(|e| !e.is_empty());
    if let Some(e) = &event
        && Event::parse_subscribable(e).is_none()
        && e != Event::Test.as_str()
    {
        return Err(AppError::new(ErrorCode::UnknownWebhookEvent, format!("`{e}` is not an event of the catalogue"))
            .with_details(json!({ "field": "event" })));
    }
    let before = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state
        .db
        .read(move |c| {
            store::find(c, &tenant, id)?.ok_or_else(not_found)?;
            Ok(store::list_deliveries(c, &tenant, id, status.as_deref(), event.as_deref(), before, limit)?)
        })
        .await?;
    Page::from_rows(rows, &page, |d| d.id.0)
}

fn new_message_id() -> String {
    format!("msg_{}", random_token(18))
}

/// The JSON body of an event: `{"type", "timestamp", "data"}`.
fn envelope(event: Event, data: Value) -> String {
    let mut body = serde_json::Map::new();
    body.insert("type".into(), event.as_str().into());
    body.insert("timestamp".into(), now().into());
    body.insert("data".into(), data);
    Value::Object(body).to_string()
}

/// Emits an event: one queued delivery per active subscription of `org` to
/// `event`, written by the caller's transaction (so an event exists exactly
/// when the change it reports is committed), and the subscriptions' delivery
/// jobs queued. Workers poll the queue; call `state.jobs.notify()` after the
/// commit to start at once. `data` holds ids and essentials, never secrets.
pub fn emit(conn: &Connection, org: OrgId, event: Event, data: Value) -> AppResult<usize> {
    // Autonomous agents triggered by this event start a run (never for
    // their own completion events, which would loop).
    if event != Event::AgentRunCompleted && event != Event::Test {
        crate::autonomous::service::on_event(conn, org, event.as_str(), &data)?;
    }
    let reached = store::insert_for_subscribers(conn, org, event.as_str(), &new_message_id(), &envelope(event, data))?;
    for webhook in &reached {
        ensure_job(conn, *webhook, org)?;
    }
    Ok(reached.len())
}

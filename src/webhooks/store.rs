//! SQL of `webhooks` and `webhook_logs`.

use rusqlite::{Connection, OptionalExtension, params};

use super::model::{DELIVERY_COLUMNS, Delivery, DeliveryId, WEBHOOK_COLUMNS, Webhook, WebhookId};
use crate::db::{query_all, query_opt};
use crate::http::Tenant;
use crate::ids::OrgId;

/// A subscription's fields (validated).
pub struct WebhookFields<'a> {
    pub name: &'a str,
    pub url: &'a str,
    pub events_json: &'a str,
    pub description: Option<&'a str>,
    pub is_active: bool,
}

/// Inserts a subscription with an empty secret (set next, once the id is known).
pub fn insert(conn: &Connection, tenant: &Tenant, w: &WebhookFields<'_>) -> rusqlite::Result<WebhookId> {
    conn.query_row(
        "INSERT INTO webhooks (organization_id, created_by, name, url, secret_encrypted, events, description, is_active)
         VALUES (?1, ?2, ?3, ?4, X'', ?5, ?6, ?7) RETURNING id",
        params![tenant.org_id(), tenant.user_id(), w.name, w.url, w.events_json, w.description, w.is_active],
        |r| r.get(0),
    )
}

/// Changes a subscription's fields; switching it on clears the disabling.
pub fn update(conn: &Connection, tenant: &Tenant, id: WebhookId, w: &WebhookFields<'_>) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE webhooks SET name = ?3, url = ?4, events = ?5, description = ?6,
                disabled_reason = CASE WHEN ?7 THEN NULL ELSE disabled_reason END,
                disabled_at = CASE WHEN ?7 THEN NULL ELSE disabled_at END,
                failing_since = CASE WHEN ?7 AND is_active = 0 THEN NULL ELSE failing_since END,
                is_active = ?7
         WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), w.name, w.url, w.events_json, w.description, w.is_active],
    )?;
    Ok(())
}

/// Stores a new secret; `previous` keeps the replaced one signing until `until`.
pub fn set_secret(
    conn: &Connection,
    tenant: &Tenant,
    id: WebhookId,
    sealed: &[u8],
    previous: Option<(&[u8], &str)>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE webhooks SET secret_encrypted = ?3, previous_secret_encrypted = ?4, previous_secret_expires_at = ?5
         WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), sealed, previous.map(|p| p.0), previous.map(|p| p.1)],
    )?;
    Ok(())
}

/// The sealed current secret.
pub fn secret(conn: &Connection, tenant: &Tenant, id: WebhookId) -> rusqlite::Result<Option<Vec<u8>>> {
    conn.query_row(
        "SELECT secret_encrypted FROM webhooks WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id()],
        |r| r.get(0),
    )
    .optional()
}

pub fn find(conn: &Connection, tenant: &Tenant, id: WebhookId) -> rusqlite::Result<Option<Webhook>> {
    query_opt(
        conn,
        &format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = ?1 AND organization_id = ?2"),
        params![id, tenant.org_id()],
    )
}

pub fn list(conn: &Connection, tenant: &Tenant, after: Option<i64>, limit: i64) -> rusqlite::Result<Vec<Webhook>> {
    query_all(
        conn,
        &format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE organization_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3"),
        params![tenant.org_id(), after.unwrap_or(0), limit],
    )
}

pub fn delete(conn: &Connection, tenant: &Tenant, id: WebhookId) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM webhooks WHERE id = ?1 AND organization_id = ?2", params![id, tenant.org_id()])
}

/// Queues one message to every active subscription of `org` to `event`.
/// Returns the subscriptions reached.
pub fn insert_for_subscribers(
    conn: &Connection,
    org: OrgId,
    event: &str,
    message_id: &str,
    payload: &str,
) -> rusqlite::Result<Vec<WebhookId>> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO webhook_logs (organization_id, webhook_id, event_type, payload, message_id)
         SELECT organization_id, id, ?2, ?4, ?3 FROM webhooks
         WHERE organization_id = ?1 AND is_active = 1
           AND EXISTS (SELECT 1 FROM json_each(events) WHERE value IN (?2, '*'))
         RETURNING webhook_id",
    )?;
    stmt.query_map(params![org, event, message_id, payload], |r| r.get(0))?.collect()
}

/// Queues one message to one subscription (test events, redeliveries).
pub fn insert_delivery(
    conn: &Connection,
    tenant: &Tenant,
    webhook: WebhookId,
    event: &str,
    message_id: &str,
    payload: &str,
    redelivery_of: Option<DeliveryId>,
) -> rusqlite::Result<DeliveryId> {
    conn.query_row(
        "INSERT INTO webhook_logs (organization_id, webhook_id, event_type, payload, message_id, redelivery_of)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
        params![tenant.org_id(), webhook, event, payload, message_id, redelivery_of],
        |r| r.get(0),
    )
}

pub fn find_delivery(conn: &Connection, tenant: &Tenant, id: DeliveryId) -> rusqlite::Result<Option<Delivery>> {
    query_opt(
        conn,
        &format!("SELECT {DELIVERY_COLUMNS} FROM webhook_logs WHERE id = ?1 AND organization_id = ?2"),
        params![id, tenant.org_id()],
    )
}

/// A subscription's deliveries, newest first, optionally filtered.
pub fn list_deliveries(
    conn: &Connection,
    tenant: &Tenant,
    webhook: WebhookId,
    status: Option<&str>,
    event: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<Delivery>> {
    query_all(
        conn,
        &format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_logs
             WHERE organization_id = ?1 AND webhook_id = ?2 AND id < ?3
               AND (?4 IS NULL OR status = ?4) AND (?5 IS NULL OR event_type = ?5)
             ORDER BY id DESC LIMIT ?6"
        ),
        params![tenant.org_id(), webhook, before.unwrap_or(i64::MAX), status, event, limit],
    )
}

/// Makes the queued deliveries of a subscription due now (it was switched back on).
pub fn retry_queue_now(conn: &Connection, tenant: &Tenant, id: WebhookId) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE webhook_logs SET next_retry_at = NULL
         WHERE organization_id = ?1 AND webhook_id = ?2 AND status IN ('pending', 'failed')",
        params![tenant.org_id(), id],
    )
}

/// The delivery job of a subscription, if it is queued or running.
pub fn live_delivery_job(conn: &Connection, id: WebhookId) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "SELECT j.id FROM webhooks w JOIN jobs j ON j.id = w.delivery_job_id
         WHERE w.id = ?1 AND j.status IN ('queued', 'running')",
        [id],
        |r| r.get(0),
    )
    .optional()
}

/// Records the delivery job of a subscription (`None`: its queue is empty or paused).
pub fn set_delivery_job(conn: &Connection, id: WebhookId, job: Option<i64>) -> rusqlite::Result<()> {
    conn.execute("UPDATE webhooks SET delivery_job_id = ?2 WHERE id = ?1", params![id, job])?;
    Ok(())
}

/// Subscriptions with queued deliveries (to restart their jobs).
pub fn with_queued_deliveries(conn: &Connection) -> rusqlite::Result<Vec<(WebhookId, OrgId)>> {
    let mut stmt = conn.prepare(
        "SELECT w.id, w.organization_id FROM webhooks w
         WHERE w.is_active = 1
           AND EXISTS (SELECT 1 FROM webhook_logs l WHERE l.webhook_id = w.id AND l.status IN ('pending', 'failed'))",
    )?;
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect()
}

/// What the delivery job needs of a subscription.
pub struct Target {
    pub org: OrgId,
    pub url: String,
    pub is_active: bool,
    pub secret: Vec<u8>,
    pub previous: Option<(Vec<u8>, String)>,
    pub delivery_job_id: Option<i64>,
    pub failing_since: Option<String>,
}

pub fn target(conn: &Connection, id: WebhookId) -> rusqlite::Result<Option<Target>> {
    conn.query_row(
        "SELECT organization_id, url, is_active, secret_encrypted, previous_secret_encrypted,
                previous_secret_expires_at, delivery_job_id, failing_since
         FROM webhooks WHERE id = ?1",
        [id],
        |r| {
            let prev: Option<Vec<u8>> = r.get(4)?;
            let until: Option<String> = r.get(5)?;
            Ok(Target {
                org: r.get(0)?,
                url: r.get(1)?,
                is_active: r.get(2)?,
                secret: r.get(3)?,
                previous: prev.zip(until),
                delivery_job_id: r.get(6)?,
                failing_since: r.get(7)?,
            })
        },
    )
    .optional()
}

/// The head of a subscription's queue: the oldest delivery not yet delivered or dead.
pub struct Head {
    pub id: DeliveryId,
    pub message_id: String,
    pub payload: String,
    pub attempt: i64,
    pub next_retry_at: Option<String>,
}

pub fn queue_head(conn: &Connection, webhook: WebhookId) -> rusqlite::Result<Option<Head>> {
    conn.query_row(
        "SELECT id, coalesce(message_id, 'msg_' || id), payload, attempt, next_retry_at FROM webhook_logs
         WHERE webhook_id = ?1 AND status IN ('pending', 'failed') ORDER BY id LIMIT 1",
        [webhook],
        |r| {
            Ok(Head {
                id: r.get(0)?,
                message_id: r.get(1)?,
                payload: r.get(2)?,
                attempt: r.get(3)?,
                next_retry_at: r.get(4)?,
            })
        },
    )
    .optional()
}

/// The outcome of one attempt.
pub struct Attempt<'a> {
    pub attempt: i64,
    pub status: &'a str,
    pub response_status: Option<i64>,
    pub response_body: Option<&'a str>,
    pub duration_ms: i64,
    pub error: Option<&'a str>,
    pub next_retry_at: Option<&'a str>,
}

pub fn record_attempt(conn: &Connection, id: DeliveryId, a: &Attempt<'_>) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE webhook_logs SET attempt = ?2, status = ?3, response_status = ?4, response_body = ?5, duration_ms = ?6,
                error_message = ?7, next_retry_at = ?8
         WHERE id = ?1",
        params![id, a.attempt, a.status, a.response_status, a.response_body, a.duration_ms, a.error, a.next_retry_at],
    )?;
    Ok(())
}

/// After a success: the subscription is healthy again.
pub fn mark_healthy(conn: &Connection, id: WebhookId) -> rusqlite::Result<()> {
    conn.execute("UPDATE webhooks SET failing_since = NULL WHERE id = ?1 AND failing_since IS NOT NULL", [id])?;
    Ok(())
}

/// After a failure: remember when the failing began.
pub fn mark_failing(conn: &Connection, id: WebhookId, now: &str) -> rusqlite::Result<()> {
    conn.execute("UPDATE webhooks SET failing_since = coalesce(failing_since, ?2) WHERE id = ?1", params![id, now])?;
    Ok(())
}

/// Switches a subscription off for sustained failure.
pub fn disable(conn: &Connection, id: WebhookId, reason: &str, now: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE webhooks SET is_active = 0, disabled_reason = ?2, disabled_at = ?3, delivery_job_id = NULL
         WHERE id = ?1",
        params![id, reason, now],
    )?;
    Ok(())
}

/// The active owners of an organization: (user id, email).
pub fn owners(conn: &Connection, org: OrgId) -> rusqlite::Result<Vec<(i64, String)>> {
    let mut stmt = conn.prepare(
        "SELECT u.id, u.email FROM organization_members m JOIN roles r ON r.id = m.role_id
         JOIN users u ON u.id = m.user_id
         WHERE m.organization_id = ?1 AND m.status = 'active' AND r.organization_id IS NULL AND r.name = 'owner'",
    )?;
    stmt.query_map([org], |r| Ok((r.get(0)?, r.get(1)?)))?.collect()
}

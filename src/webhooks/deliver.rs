//! The delivery job (`webhook.deliver`, one per subscription at a time):
//! delivers the subscription's queue oldest first, so a receiver sees the
//! events in order; a failed delivery blocks the ones after it until it is
//! delivered or dead. Retries follow [`RETRY_DELAYS`] (about 31.6 hours in
//! all, honouring `Retry-After` on 429/503); while the head of the queue
//! waits, the job hands over to a successor due at its retry time. Every
//! attempt updates the delivery's row. A subscription whose attempts have
//! all failed for [`DISABLE_AFTER_HOURS`] is switched off and its owners are
//! emailed. Queue and jobs live in the data file: nothing is lost when the
//! server stops, and [`resume`] restarts the jobs of queues left without one.
//!
//! Signing follows Standard Webhooks: `webhook-id`, `webhook-timestamp`
//! (unix seconds) and `webhook-signature` = `v1,` + base64(HMAC-SHA256(secret
//! bytes, "{id}.{timestamp}.{body}")), where the secret bytes are the base64
//! after `whsec_`; during a rotation's overlap both signatures are sent,
//! separated by a space.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use reqwest::Method;
use rusqlite::Connection;
use serde_json::{Value, json};

use super::model::WebhookId;
use super::service::open_secret;
use super::store::{self, Attempt, Head, Target};
use crate::app::AppState;
use crate::db::{Db, format_timestamp, now};
use crate::error::AppResult;
use crate::ids::OrgId;
use crate::jobs::{Enqueue, JobContext, JobError, JobHandler, Queue};
use crate::notify::{self, EmailKind, NewEmail};

/// The job kind.
pub const DELIVER_JOB: &str = "webhook.deliver";

/// The wait after failed attempt n (1-based); after the last, the delivery is dead.
pub const RETRY_DELAYS: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(14 * 3600),
];

/// A subscription whose every attempt failed for this long is switched off.
pub const DISABLE_AFTER_HOURS: i64 = 24;

/// How long one attempt may take.
const TIMEOUT: Duration = Duration::from_secs(15);

/// The longest response body excerpt kept.
const EXCERPT_BYTES: usize = 4096;

/// The most deliveries one job makes before handing over (fairness to other jobs).
const BATCH: usize = 100;

/// Queues the subscription's delivery job unless one is queued or running;
/// call inside the transaction that queued a delivery.
pub fn ensure_job(conn: &Connection, webhook: WebhookId, org: OrgId) -> AppResult<()> {
    if store::live_delivery_job(conn, webhook)?.is_none() {
        let job = Queue::enqueue_in(conn, &new_job(webhook, org, Duration::ZERO))?;
        store::set_delivery_job(conn, webhook, Some(job.0))?;
    }
    Ok(())
}

fn new_job(webhook: WebhookId, org: OrgId, delay: Duration) -> Enqueue {
    let mut job = Enqueue::new(Some(org), DELIVER_JOB, json!({ "webhook_id": webhook }));
    job.max_attempts = 10;
    job.delay = delay;
    job
}

/// Restarts the delivery jobs of subscriptions with queued deliveries and no
/// live job (after an upgrade or a job that died); run at start-up.
pub fn resume(db: &Db) -> AppResult<usize> {
    db.write_blocking(|tx| {
        let queues = store::with_queued_deliveries(tx)?;
        let mut n = 0;
        for (webhook, org) in queues {
            if store::live_delivery_job(tx, webhook)?.is_none() {
                ensure_job(tx, webhook, org)?;
                n += 1;
            }
        }
        Ok(n)
    })
}

/// The `webhook.deliver` job.
pub struct DeliverJob;

impl JobHandler for DeliverJob {
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Result<Value, JobError>> {
        Box::pin(run(ctx))
    }
}

enum Next {
    Stop(&'static str),
    Deliver(Box<(Target, Head)>),
}

async fn run(ctx: JobContext) -> Result<Value, JobError> {
    let webhook = ctx
        .job
        .payload
        .get("webhook_id")
        .and_then(Value::as_i64)
        .map(WebhookId)
        .ok_or_else(|| JobError::Permanent("payload lacks webhook_id".into()))?;
    let (state, me) = (ctx.state.clone(), ctx.job.id.0);
    let mut delivered = 0;
    let mut failed = 0;
    for _ in 0..BATCH {
        if ctx.shutdown.is_cancelled() {
            return Err(JobError::Retry(anyhow::anyhow!("stopped")));
        }
        let next = state.db.write(move |tx| next_delivery(tx, webhook, me)).await?;
        let (target, head) = match next {
            Next::Stop(why) => return Ok(json!({ "delivered": delivered, "failed": failed, "stopped": why })),
            Next::Deliver(b) => *b,
        };
        let outcome = attempt(&state, webhook, &target, &head).await;
        if outcome.ok {
            delivered += 1;
        } else {
            failed += 1;
        }
        let disabled = state.db.write(move |tx| settle(tx, webhook, &target, &head, &outcome)).await?;
        if disabled {
            state.jobs.notify();
        }
    }
    // More to do: a successor continues after the other queued jobs.
    state
        .db
        .write(move |tx| {
            if let Some(target) = store::target(tx, webhook)? {
                let job = Queue::enqueue_in(tx, &new_job(webhook, target.org, Duration::ZERO))?;
                store::set_delivery_job(tx, webhook, Some(job.0))?;
            }
            Ok(())
        })
        .await?;
    Ok(json!({ "delivered": delivered, "failed": failed, "stopped": "batch" }))
}

/// Picks the next delivery, or ends this job: the queue is empty, the
/// subscription is off or gone, or the head waits (a successor is queued
/// for its retry time).
fn next_delivery(tx: &Connection, webhook: WebhookId, me: i64) -> AppResult<Next> {
    let Some(target) = store::target(tx, webhook)? else { return Ok(Next::Stop("webhook deleted")) };
    if target.delivery_job_id != Some(me) {
        // Another job owns the queue (this one was superseded).
        return Ok(Next::Stop("superseded"));
    }
    if !target.is_active {
        store::set_delivery_job(tx, webhook, None)?;
        return Ok(Next::Stop("webhook switched off"));
    }
    let Some(head) = store::queue_head(tx, webhook)? else {
        store::set_delivery_job(tx, webhook, None)?;
        return Ok(Next::Stop("queue empty"));
    };
    if let Some(at) = head.next_retry_at.as_deref()
        && let Ok(at) = chrono::DateTime::parse_from_rfc3339(at)
    {
        let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
        if wait > chrono::Duration::zero() {
            let job = Queue::enqueue_in(tx, &new_job(webhook, target.org, wait.to_std().unwrap_or_default()))?;
            store::set_delivery_job(tx, webhook, Some(job.0))?;
            return Ok(Next::Stop("waiting for a retry"));
        }
    }
    Ok(Next::Deliver(Box::new((target, head))))
}

/// What one attempt gave.
struct Outcome {
    ok: bool,
    status: Option<u16>,
    body: Option<String>,
    error: Option<String>,
    retry_after: Option<Duration>,
    duration_ms: i64,
}

/// The `webhook-signature` value for `secrets` (current first).
#[must_use]
pub fn signature(secrets: &[Vec<u8>], message_id: &str, timestamp: i64, body: &str) -> String {
    let signed = format!("{message_id}.{timestamp}.{body}");
    secrets
        .iter()
        .map(|s| format!("v1,{}", STANDARD.encode(crate::crypto::hmac_sha256(s, signed.as_bytes()))))
        .collect::<Vec<_>>()
        .join(" ")
}

async fn attempt(state: &AppState, webhook: WebhookId, target: &Target, head: &Head) -> Outcome {
    let started = Instant::now();
    let failed = |error: String| Outcome {
        ok: false,
        status: None,
        body: None,
        error: Some(error),
        retry_after: None,
        duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
    };
    let Some(current) = open_secret(&state.keys, webhook, &target.secret) else {
        return failed("the signing secret cannot be read (the data file was re-keyed): rotate the secret".into());
    };
    let mut secrets = vec![current];
    if let Some((sealed, until)) = &target.previous
        && until.as_str() > now().as_str()
        && let Some(previous) = open_secret(&state.keys, webhook, sealed)
    {
        secrets.push(previous);
    }
    let timestamp = chrono::Utc::now().timestamp();
    let request = match state.outbound.request(Method::POST, &target.url) {
        Ok(r) => r,
        Err(e) => return failed(e.to_string()),
    }
    .timeout(TIMEOUT)
    .header("content-type", "application/json")
    .header("webhook-id", &head.message_id)
    .header("webhook-timestamp", timestamp.to_string())
    .header("webhook-signature", signature(&secrets, &head.message_id, timestamp, &head.payload))
    .body(head.payload.clone());
    let response = match state.outbound.send(request).await {
        Ok(r) => r,
        Err(e) => return failed(e.to_string()),
    };
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after)
        .filter(|_| status.as_u16() == 429 || status.as_u16() == 503);
    let body = excerpt(response).await;
    let ok = status.is_success();
    Outcome {
        ok,
        status: Some(status.as_u16()),
        body: Some(body),
        error: (!ok).then(|| format!("the receiver answered {status}")),
        retry_after,
        duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
    }
}

/// `Retry-After` as seconds or an HTTP date.
fn parse_retry_after(v: &str) -> Option<Duration> {
    if let Ok(secs) = v.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v.trim()).ok()?;
    (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).to_std().ok()
}

/// The first [`EXCERPT_BYTES`] of the body, cut at a character boundary.
async fn excerpt(response: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        bytes.extend_from_slice(&chunk);
        if bytes.len() >= EXCERPT_BYTES {
            break;
        }
    }
    bytes.truncate(EXCERPT_BYTES);
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    while text.len() > EXCERPT_BYTES {
        text.pop();
    }
    text
}

/// Records an attempt; returns whether the subscription was switched off.
fn settle(tx: &Connection, webhook: WebhookId, target: &Target, head: &Head, o: &Outcome) -> AppResult<bool> {
    let now_s = now();
    // `attempt` is the number of the attempt just made (1 for a new delivery).
    let attempt_no = head.attempt.max(1);
    let excerpt = o.body.as_deref();
    let error = o.error.as_deref();
    let status = o.status.map(i64::from);
    if o.ok {
        store::record_attempt(
            tx,
            head.id,
            &Attempt {
                attempt: attempt_no,
                status: "delivered",
                response_status: status,
                response_body: excerpt,
                duration_ms: o.duration_ms,
                error: None,
                next_retry_at: None,
            },
        )?;
        store::mark_healthy(tx, webhook)?;
        return Ok(false);
    }
    let index = usize::try_from(attempt_no - 1).unwrap_or(usize::MAX);
    let (row_status, next_attempt, retry_at) = match RETRY_DELAYS.get(index) {
        Some(delay) => {
            let delay = o.retry_after.map_or(*delay, |r| r.clamp(*delay, Duration::from_secs(86_400)));
            let at = format_timestamp(chrono::Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default());
            ("failed", attempt_no + 1, Some(at))
        }
        None => ("dead", attempt_no, None),
    };
    store::record_attempt(
        tx,
        head.id,
        &Attempt {
            attempt: next_attempt,
            status: row_status,
            response_status: status,
            response_body: excerpt,
            duration_ms: o.duration_ms,
            error,
            next_retry_at: retry_at.as_deref(),
        },
    )?;
    store::mark_failing(tx, webhook, &now_s)?;
    let since = target.failing_since.clone().unwrap_or_else(|| now_s.clone());
    let limit = format_timestamp(chrono::Utc::now() - chrono::Duration::hours(DISABLE_AFTER_HOURS));
    if since.as_str() > limit.as_str() {
        return Ok(false);
    }
    let reason = format!(
        "every delivery attempt failed for more than {DISABLE_AFTER_HOURS} hours (since {since}); last error: {}",
        error.unwrap_or("unknown")
    );
    store::disable(tx, webhook, &reason, &now_s)?;
    email_owners(tx, webhook, target, &reason)?;
    Ok(true)
}

fn email_owners(tx: &Connection, webhook: WebhookId, target: &Target, reason: &str) -> AppResult<()> {
    let tenant = crate::http::Tenant::system(target.org, "webhook disabled notice");
    let branding = crate::orgs::whitelabel::branding(tx, &tenant)?;
    let name: String = tx.query_row("SELECT name FROM webhooks WHERE id = ?1", [webhook], |r| r.get(0))?;
    let content = notify::templates::notice(
        &branding,
        format!("Webhook \"{name}\" was switched off"),
        &[
            format!("The webhook \"{name}\" ({}) was switched off: {reason}.", target.url),
            "Events are no longer queued for it. Deliveries already queued wait: fix the receiver, then switch \
             the webhook on again in the organization settings (Webhooks) to send them."
                .to_owned(),
        ],
    );
    for (user, email) in store::owners(tx, target.org)? {
        notify::queue_in(
            tx,
            &NewEmail {
                org_id: Some(target.org),
                user_id: Some(crate::ids::UserId(user)),
                kind: EmailKind::Notification,
                to: &email,
                content: content.clone(),
            },
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification (and its reference libraries).
        let secret = STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("b64");
        let sig = signature(&[secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, r#"{"test": 2432232314}"#);
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn two_secrets_give_two_space_separated_signatures() {
        let sig = signature(&[vec![1; 32], vec![2; 32]], "msg_1", 1, "{}");
        let parts: Vec<&str> = sig.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p.starts_with("v1,")));
        assert_ne!(parts[0], parts[1]);
    }

    #[test]
    fn retries_span_more_than_a_day_and_retry_after_parses() {
        let total: Duration = RETRY_DELAYS.iter().sum();
        assert!(total > Duration::from_secs(86_400), "{total:?}");
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("soon"), None);
    }
}

//! The outbound queue's job (`channel.send`, one per channel at a time):
//! sends the channel's queued messages oldest first, so each conversation
//! (and the channel as a whole) sees them in order; a failed message blocks
//! the ones after it until it is sent or dead. Retries follow
//! [`RETRY_DELAYS`], stretched to the provider's `retry_after` on 429; after
//! the last one the message is dead-lettered (`status` failed, `dead` 1).
//!
//! Delivery is at-least-once: an attempt is counted and committed before
//! the request, its result recorded after. Every message has an
//! `idempotency_key`, the same on every attempt, handed to the adapter:
//! the generic HTTP channel sends it as `webhook-id` so its receiver drops
//! a redelivery. Telegram takes no key, so a crash in the instant between
//! Telegram's answer and that record sends the message again after the
//! restart (never zero times).
//!
//! Between two requests of a channel the job waits the adapter's
//! [`Adapter::min_interval`] (the provider's rate limit); a message whose
//! recipient opted out after it was queued is dead-lettered unsent.

use std::time::Duration;

use futures_util::future::BoxFuture;
use rusqlite::Connection;
use serde_json::{Value, json};

use super::adapter::{Adapter, Answer};
use super::adapter_for;
use super::model::ChannelId;
use super::service::open_secrets;
use super::store::{self, Head, SendTarget};
use crate::app::AppState;
use crate::db::{Db, format_timestamp};
use crate::error::AppResult;
use crate::ids::OrgId;
use crate::jobs::{Enqueue, JobContext, JobError, JobHandler, Queue};

/// The job kind.
pub const SEND_JOB: &str = "channel.send";

/// The wait after failed attempt n (1-based); after the last, the message is dead.
pub const RETRY_DELAYS: [Duration; 6] = [
    Duration::from_secs(2),
    Duration::from_secs(10),
    Duration::from_secs(60),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
];

/// The most messages one job sends before handing over (fairness to other jobs).
const BATCH: usize = 100;

/// Queues the channel's send job unless one is queued or running; call
/// inside the transaction that queued a message.
pub fn ensure_job(conn: &Connection, channel: ChannelId, org: OrgId) -> AppResult<()> {
    if store::live_send_job(conn, channel)?.is_none() {
        let job = Queue::enqueue_in(conn, &new_job(channel, org, Duration::ZERO))?;
        store::set_send_job(conn, channel, Some(job.0))?;
    }
    Ok(())
}

fn new_job(channel: ChannelId, org: OrgId, delay: Duration) -> Enqueue {
    let mut job = Enqueue::new(Some(org), SEND_JOB, json!({ "channel_id": channel }));
    job.max_attempts = 10;
    job.delay = delay;
    job
}

/// Restarts the send jobs of channels with queued messages and no live job,
/// and releases inbound events a stopped process left half-done; run at start-up.
pub fn resume(db: &Db) -> AppResult<usize> {
    db.write_blocking(|tx| {
        let released = store::release_interrupted_events(tx)?;
        if released > 0 {
            tracing::warn!(released, "inbound channel events were interrupted by a restart");
        }
        let mut n = 0;
        for (channel, org) in store::with_queue(tx)? {
            if store::live_send_job(tx, channel)?.is_none() {
                ensure_job(tx, channel, org)?;
                n += 1;
            }
        }
        Ok(n)
    })
}

/// The `channel.send` job.
pub struct SendJob;

impl JobHandler for SendJob {
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Result<Value, JobError>> {
        Box::pin(run(ctx))
    }
}

enum Next {
    Stop(&'static str),
    Send(Box<(SendTarget, Head)>),
}

async fn run(ctx: JobContext) -> Result<Value, JobError> {
    let channel = ctx
        .job
        .payload
        .get("channel_id")
        .and_then(Value::as_i64)
        .map(ChannelId)
        .ok_or_else(|| JobError::Permanent("payload lacks channel_id".into()))?;
    let (state, me) = (ctx.state.clone(), ctx.job.id.0);
    let (mut sent, mut failed) = (0, 0);
    for _ in 0..BATCH {
        if ctx.shutdown.is_cancelled() {
            return Err(JobError::Retry(anyhow::anyhow!("stopped")));
        }
        let (target, head) = match state.db.write(move |tx| next_message(tx, channel, me)).await? {
            Next::Stop(why) => return Ok(json!({ "sent": sent, "failed": failed, "stopped": why })),
            Next::Send(b) => *b,
        };
        let started = std::time::Instant::now();
        let adapter = adapter_for(&target.channel_type);
        let answer = attempt(&state, adapter, channel, &target, &head).await;
        if matches!(answer, Answer::Ok(_)) {
            sent += 1;
        } else {
            failed += 1;
        }
        state.db.write(move |tx| settle(tx, adapter, &head, &answer)).await?;
        if let Some(gap) = adapter.map(Adapter::min_interval).and_then(|g| g.checked_sub(started.elapsed())) {
            tokio::time::sleep(gap).await;
        }
    }
    state
        .db
        .write(move |tx| {
            if let Some(target) = store::send_target(tx, channel)? {
                let job = Queue::enqueue_in(tx, &new_job(channel, target.org, Duration::ZERO))?;
                store::set_send_job(tx, channel, Some(job.0))?;
            }
            Ok(())
        })
        .await?;
    Ok(json!({ "sent": sent, "failed": failed, "stopped": "batch" }))
}

/// Picks the next message, or ends this job: the queue is empty, the
/// channel is gone, or the head waits (a successor is queued for its time).
fn next_message(tx: &Connection, channel: ChannelId, me: i64) -> AppResult<Next> {
    let Some(target) = store::send_target(tx, channel)? else { return Ok(Next::Stop("channel deleted")) };
    if target.send_job_id != Some(me) {
        return Ok(Next::Stop("superseded"));
    }
    let Some(head) = store::queue_head(tx, channel)? else {
        store::set_send_job(tx, channel, None)?;
        return Ok(Next::Stop("queue empty"));
    };
    if let Some(at) = head.next_retry_at.as_deref()
        && let Ok(at) = chrono::DateTime::parse_from_rfc3339(at)
    {
        let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
        if wait > chrono::Duration::zero() {
            let job = Queue::enqueue_in(tx, &new_job(channel, target.org, wait.to_std().unwrap_or_default()))?;
            store::set_send_job(tx, channel, Some(job.0))?;
            return Ok(Next::Stop("waiting for a retry"));
        }
    }
    if head.opted_out {
        store::mark_opted_out(tx, head.id)?;
        return next_message(tx, channel, me);
    }
    store::begin_attempt(tx, head.id)?;
    Ok(Next::Send(Box::new((target, head))))
}

async fn attempt(
    state: &AppState,
    adapter: Option<&'static dyn Adapter>,
    channel: ChannelId,
    target: &SendTarget,
    head: &Head,
) -> Answer {
    let Some(adapter) = adapter else {
        return Answer::local(format!("no adapter for `{}`", target.channel_type));
    };
    let stored: Value = serde_json::from_str(&head.request).unwrap_or(Value::Null);
    // Rows queued before adapters kept the request at the top level.
    let request = stored.get("request").unwrap_or(&stored);
    let Some(secrets) = open_secrets(&state.keys, channel, &target.credentials, &target.secret) else {
        return Answer::local("the channel's credentials cannot be read; enter them again");
    };
    if let Some(window) = adapter.free_form_window(request) {
        let contact = head.contact;
        let seconds = window.as_secs();
        let open = match contact {
            Some(contact) => state.db.read(move |c| Ok(store::inbound_within(c, channel, contact, seconds)?)).await,
            None => Ok(false),
        };
        match open {
            Ok(true) => {}
            Ok(false) => {
                return Answer::local(format!("outside the {}-hour window: send an approved template", seconds / 3600));
            }
            Err(e) => return Answer::Unreachable(e.message().to_owned()),
        }
    }
    let key = head.idempotency_key.clone().unwrap_or_else(|| format!("msg_{}", head.id));
    adapter.send(state, &secrets, request, &key).await
}

fn settle(tx: &Connection, adapter: Option<&dyn Adapter>, head: &Head, answer: &Answer) -> AppResult<()> {
    match answer {
        Answer::Ok(result) => {
            let external = adapter.and_then(|a| a.sent_id(result));
            store::mark_sent(tx, head.id, external.as_deref())?;
        }
        Answer::Refused { description, retry_after, .. } => {
            let attempt_no = head.attempts + 1;
            let index = usize::try_from(attempt_no - 1).unwrap_or(usize::MAX);
            let retry_at = RETRY_DELAYS.get(index).filter(|_| answer.retryable()).map(|delay| {
                let delay =
                    retry_after.map_or(*delay, |r| r.clamp(Duration::from_secs(1), Duration::from_secs(86_400)));
                format_timestamp(chrono::Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default())
            });
            store::mark_failed(tx, head.id, description, retry_at.as_deref())?;
        }
        Answer::Unreachable(why) => {
            let index = usize::try_from(head.attempts).unwrap_or(usize::MAX);
            let retry_at = RETRY_DELAYS.get(index).map(|delay| {
                format_timestamp(chrono::Utc::now() + chrono::Duration::from_std(*delay).unwrap_or_default())
            });
            store::mark_failed(tx, head.id, why, retry_at.as_deref())?;
        }
    }
    Ok(())
}

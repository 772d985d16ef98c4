//! The `recovery.dispatch` job: one per scheduled message, due at its
//! `scheduled_at`. It checks the stop conditions (converted, replied, opted
//! out, campaign paused or gone), the send window (a message found late
//! outside it waits for the next opening) and the frequency cap across
//! campaigns (postponed, never dropped), picks the step's channel or its
//! fallback, renders the text with signed links and hands it to the
//! channels' outbound queue — the one sender of the platform. Delivery
//! statuses come back from `channel_messages`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use futures_util::future::BoxFuture;
use rusqlite::Connection;
use serde_json::{Value, json};

use super::model::RecoveryMessageId;
use super::service::{LATE_GRACE, Links, campaign_rules, placeholder_set, render, step_of, variant_at};
use super::store;
use crate::channels::service::{CampaignMessage, queue_campaign_message};
use crate::crypto::Keys;
use crate::db::format_timestamp;
use crate::error::AppResult;
use crate::http::Tenant;
use crate::ids::OrgId;
use crate::jobs::{Enqueue, JobContext, JobError, JobHandler, Queue};

/// The job kind.
pub const DISPATCH_JOB: &str = "recovery.dispatch";

/// Queues the dispatch of message `id` after `delay` (inside the caller's transaction).
pub fn enqueue_in(conn: &Connection, org: OrgId, id: RecoveryMessageId, delay: Duration) -> AppResult<()> {
    let mut job = Enqueue::new(Some(org), DISPATCH_JOB, json!({ "message_id": id }));
    job.delay = delay;
    job.max_attempts = 10;
    Queue::enqueue_in(conn, &job)?;
    Ok(())
}

/// The `recovery.dispatch` job.
pub struct DispatchJob;

impl JobHandler for DispatchJob {
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Result<Value, JobError>> {
        Box::pin(async move {
            let id = ctx
                .job
                .payload
                .get("message_id")
                .and_then(Value::as_i64)
                .map(RecoveryMessageId)
                .ok_or_else(|| JobError::Permanent("payload lacks message_id".into()))?;
            let base = crate::admin::instance::public_url_in_force(&ctx.state).await?;
            let keys = ctx.state.keys.clone();
            let rewritten = rewrite(&ctx.state, id).await;
            let outcome = ctx
                .state
                .db
                .write(move |tx| dispatch(tx, &keys, base.trim_end_matches('/'), id, Utc::now(), rewritten.as_deref()))
                .await?;
            if outcome == "queued" {
                ctx.state.jobs.notify();
            }
            Ok(json!({ "message_id": id, "outcome": outcome }))
        })
    }
}

/// The variant of the message's step it was scheduled with (`A` when none).
fn variant_index(vars: &Value) -> usize {
    vars.get("_variant")
        .and_then(Value::as_str)
        .and_then(|l| l.bytes().next())
        .map_or(0, |b| usize::from(b.saturating_sub(b'A')))
}

const REWRITE_PROMPT: &str = "You rewrite short customer messages of a business (reminders about an abandoned cart, \
     a failed payment, an inactive account). Make the message warmer and more personal, same language, same length or \
     shorter. Keep every placeholder in double braces such as {{checkout_url}} exactly as written, add no new ones, \
     no links of your own. Reply with the rewritten message only.";

/// The step's text rewritten by the organization's default model, when the
/// step asks for it; `None` (send the template as written) when it does not,
/// when no model is configured, on any model error, or when the answer drops
/// or invents a placeholder.
async fn rewrite(state: &crate::app::AppState, id: RecoveryMessageId) -> Option<String> {
    let (org, template) = state
        .db
        .read(move |c| {
            let Some(m) = store::due(c, id)? else { return Ok(None) };
            let tenant = Tenant::system(m.org, "recovery rewrite");
            let Some(campaign) = store::find_campaign(c, &tenant, m.campaign)? else { return Ok(None) };
            let Some(step) = step_of(&campaign, m.step) else { return Ok(None) };
            if m.status != "pending" || !step.rewrite {
                return Ok(None);
            }
            Ok(Some((m.org, variant_at(step, variant_index(&m.variables)).1.to_owned())))
        })
        .await
        .ok()
        .flatten()?;
    let tenant = Tenant::system(org, "recovery rewrite");
    let chain = crate::llm::service::chain(state, &tenant, None, None, None).await.ok().flatten()?;
    let messages = [
        crate::llm::client::Message::new("system", REWRITE_PROMPT),
        crate::llm::client::Message::new("user", template.clone()),
    ];
    let opts = crate::llm::client::ChatOptions { temperature: Some(0.7), max_tokens: Some(800), ..Default::default() };
    let text = match crate::llm::call::complete(state, &chain, &messages, &opts).await {
        Ok((c, _)) => c.text.trim().to_owned(),
        Err(e) => {
            tracing::warn!(recovery_message = %id, error = ?e.error, "recovery rewrite failed; the template is sent");
            return None;
        }
    };
    let ok = !text.is_empty() && text.chars().count() <= 4000 && placeholder_set(&text) == placeholder_set(&template);
    if !ok {
        tracing::warn!(recovery_message = %id, "recovery rewrite changed the placeholders; the template is sent");
    }
    ok.then_some(text)
}

fn parse(at: Option<&str>) -> Option<DateTime<Utc>> {
    at.and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map(|t| t.with_timezone(&Utc))
}

fn postpone(
    tx: &Connection,
    org: OrgId,
    id: RecoveryMessageId,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
    why: &str,
) -> AppResult<String> {
    store::reschedule(tx, id, &format_timestamp(at), why)?;
    enqueue_in(tx, org, id, (at - now).to_std().unwrap_or_default())?;
    Ok(format!("postponed: {why}"))
}

/// What one step sends on the channel `kind`.
struct Composed<'s> {
    text: String,
    /// The email subject (email only).
    subject: Option<String>,
    /// The WhatsApp template's values.
    values: Vec<String>,
    /// The step's own text for the customer's variant, kept when a model rewrote it.
    body_template: &'s str,
}

/// Renders the customer's variant of `step` (or the model's rewriting of it)
/// for `kind`: email gets a subject and an unsubscribe line when the text has
/// none; WhatsApp sends its template values.
fn compose<'s>(
    step: &'s super::model::RecoveryStep,
    campaign_name: &'s str,
    kind: &str,
    variables: &Value,
    links: &Links<'_>,
    rewritten: Option<&str>,
) -> Composed<'s> {
    let (subject_template, body_template, _) = variant_at(step, variant_index(variables));
    let body = rewritten.unwrap_or(body_template);
    let mut text = render(body, variables, Some(links));
    if kind == "email" && !body.contains("unsubscribe_url") {
        text = format!("{text}\n\n--\nUnsubscribe: {}", render("{{unsubscribe_url}}", variables, Some(links)));
    }
    let subject = (kind == "email").then(|| render(subject_template.unwrap_or(campaign_name), variables, Some(links)));
    let values: Vec<String> = step.template_variables.iter().map(|v| render(v, variables, Some(links))).collect();
    if kind == "whatsapp" {
        text = values.join(" | ");
    }
    Composed { text, subject, values, body_template }
}

/// Sends message `id` if it is due and may go; answers what happened.
pub fn dispatch(
    tx: &Connection,
    keys: &Keys,
    base: &str,
    id: RecoveryMessageId,
    now: DateTime<Utc>,
    rewritten: Option<&str>,
) -> AppResult<String> {
    let Some(m) = store::due(tx, id)? else { return Ok("gone".into()) };
    if m.status != "pending" {
        return Ok(format!("already {}", m.status));
    }
    let scheduled = parse(m.scheduled_at.as_deref()).unwrap_or(now);
    if scheduled > now + chrono::Duration::seconds(1) {
        enqueue_in(tx, m.org, id, (scheduled - now).to_std().unwrap_or_default())?;
        return Ok("not yet due".into());
    }
    let tenant = Tenant::system(m.org, "recovery dispatch");
    let Some(campaign) = store::find_campaign(tx, &tenant, m.campaign)? else {
        store::skip(tx, id, "campaign_deleted")?;
        return Ok("skipped: campaign_deleted".into());
    };
    let Some(event) = store::find_event(tx, m.org, m.event)? else { return Ok("gone".into()) };
    let skip = |reason: &str| -> AppResult<String> {
        store::skip(tx, id, reason)?;
        Ok(format!("skipped: {reason}"))
    };
    match campaign.status.as_str() {
        "active" => {}
        "paused" => return postpone(tx, m.org, id, now + chrono::Duration::hours(1), now, "campaign paused"),
        _ => return skip("campaign_inactive"),
    }
    if matches!(event.status.as_str(), "recovered" | "partially_recovered") {
        return skip("converted");
    }
    let (email, phone) = (m.email.as_deref(), m.phone.as_deref());
    if store::opted_out(tx, m.org, &m.customer_id, email, phone)? {
        return skip("opted_out");
    }
    if store::replied_since(tx, m.org, &m.customer_id, email, phone, &event.created_at)? {
        store::skip_rest_of_event(tx, m.org, m.event, "replied")?;
        return Ok("skipped: replied".into());
    }
    let Some(step) = step_of(&campaign, m.step).cloned() else { return skip("step_removed") };
    let tz: Tz = m.variables.get("_timezone").and_then(Value::as_str).and_then(|t| t.parse().ok()).unwrap_or(Tz::UTC);
    let rules = campaign_rules(&campaign);
    let late = (now - scheduled).to_std().unwrap_or_default() > LATE_GRACE;
    if late && !rules.allows(now.with_timezone(&tz).time()) {
        return postpone(tx, m.org, id, rules.next_allowed(now, tz), now, "outside the send window");
    }
    let since = format_timestamp(now - chrono::Duration::hours(24));
    let (recent, oldest) = store::sent_since(tx, m.org, &m.customer_id, &since)?;
    if recent >= campaign.max_messages_per_day {
        let free = parse(oldest.as_deref())
            .map_or(now, |t| t + chrono::Duration::hours(24))
            .max(now + chrono::Duration::minutes(1));
        return postpone(tx, m.org, id, rules.next_allowed(free, tz), now, "frequency cap");
    }
    let route = [Some(step.channel.as_str()), step.fallback_channel.as_deref()]
        .into_iter()
        .flatten()
        .map(|kind| {
            let channel_id = if kind == step.channel { step.channel_id } else { None };
            store::route(tx, m.org, kind, channel_id, &m.customer_id, email, phone)
                .map(|r| r.map(|r| (kind.to_owned(), r)))
        })
        .find_map(Result::transpose)
        .transpose()?;
    let Some((kind, (channel, to))) = route else { return skip("no_channel") };
    let links = Links { keys, base, message: id };
    let Composed { text, subject, values, body_template } =
        compose(&step, &campaign.name, &kind, &m.variables, &links, rewritten);
    let template = (kind == "whatsapp")
        .then_some(step.template_id)
        .flatten()
        .map(|t| (crate::channels::templates::model::TemplateId(t), values.as_slice()));
    let queued = queue_campaign_message(
        tx,
        &tenant,
        &CampaignMessage {
            channel: crate::channels::model::ChannelId(channel),
            to: &to,
            text: &text,
            subject: subject.as_deref(),
            template,
        },
    );
    match queued {
        Ok(cm) => {
            store::mark_queued(tx, id, &kind, subject.as_deref(), &text, cm)?;
            if let Some(_r) = rewritten.filter(|_| kind != "whatsapp") {
                store::mark_rewritten(tx, id, body_template)?;
            }
            store::count_sent(tx, campaign.id)?;
            store::event_sent(tx, event.id)?;
            Ok("queued".into())
        }
        Err(e) if !e.code().status().is_server_error() => {
            store::fail(tx, id, "send_refused", e.message())?;
            Ok(format!("failed: {}", e.message()))
        }
        Err(e) => Err(e),
    }
}

//! `POST /api/v1/billing/stripe/webhook`: Stripe's events, signature
//! checked (`Stripe-Signature`, any configured secret, any `v1`, within the
//! timestamp tolerance), shape checked, then recorded once per event id with
//! the raw body (`billing_events`) and applied in the same transaction.
//!
//! Events may arrive late, twice or out of order, so nothing trusts arrival
//! order: a subscription's row keeps the `created` of the newest event
//! applied (`last_event_at`) and older events change nothing (`stale`); a
//! deleted subscription stays deleted; payments only move forward
//! (pending → failed → succeeded → refunded) and refunds only grow.

use actix_web::{HttpRequest, post, web};
use serde::Serialize;
use serde_json::Value;

use super::stripe::event::{self, Event, timestamp};
use super::stripe::signature::{self, SignatureError};
use super::stripe::store::{self, NewEvent, PaymentWrite, SubscriptionWrite};
use super::stripe::{Stripe, email_owners};
use crate::app::AppState;
use crate::config::BillingConfig;
use crate::db::now;
use crate::error::{AppError, AppResult, ErrorBody, ErrorCode};
use crate::http::Tenant;
use crate::ids::OrgId;

/// What the webhook answered.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookReceipt {
    pub received: bool,
    /// The event id was seen before: nothing was done again.
    pub duplicate: bool,
    /// applied, stale, ignored or unmatched.
    pub outcome: String,
}

/// Receives a Stripe event (public; authenticated by `Stripe-Signature`).
#[utoipa::path(
    tag = "billing",
    request_body(content = Object, description = "A Stripe event object, exactly as Stripe sends it"),
    responses((status = 200, body = WebhookReceipt, description = "Recorded (applied, stale, ignored or unmatched) or a duplicate"),
              (status = 400, body = ErrorBody, description = "`stripe_signature_invalid` or `stripe_event_invalid`: nothing was stored"),
              (status = 404, body = ErrorBody, description = "`billing_disabled`"),
              (status = 502, body = ErrorBody, description = "`stripe_unavailable`: the subscription could not be fetched; Stripe retries"))
)]
#[post("/billing/stripe/webhook")]
pub async fn stripe_webhook(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Bytes,
) -> AppResult<web::Json<WebhookReceipt>> {
    let header = request.headers().get("Stripe-Signature").and_then(|v| v.to_str().ok());
    Ok(web::Json(receive(&state, header, &body).await?))
}

/// Verifies, records and applies one webhook call.
pub async fn receive(state: &AppState, header: Option<&str>, body: &[u8]) -> AppResult<WebhookReceipt> {
    let config = &state.config.billing;
    super::require_enabled(config)?;
    let now_secs = chrono::Utc::now().timestamp();
    if let Err(e) =
        signature::verify(header, body, &config.stripe_webhook_secrets, config.webhook_tolerance_secs, now_secs)
    {
        tracing::warn!(reason = %e, "Stripe webhook refused: bad signature");
        let reason = match e {
            SignatureError::Missing => "missing",
            SignatureError::Malformed => "malformed",
            SignatureError::TooOld => "timestamp_outside_tolerance",
            SignatureError::NoMatch => "no_matching_signature",
            SignatureError::NoSecrets => "no_secret_configured",
        };
        return Err(AppError::new(ErrorCode::StripeSignatureInvalid, e.to_string())
            .with_details(serde_json::json!({ "field": "Stripe-Signature", "reason": reason })));
    }
    let event = event::parse(body).inspect_err(|e| {
        tracing::warn!(error = %e.message(), "Stripe webhook refused: not a Stripe event");
    })?;
    // Shape of the objects billing reads, checked before anything is stored.
    match event.kind.as_str() {
        k if k.starts_with("customer.subscription.") => drop(event::subscription(&event.object)?),
        "invoice.paid" | "invoice.payment_failed" | "invoice.finalized" => drop(event::invoice(&event.object)?),
        "charge.refunded" => drop(event::charge(&event.object)?),
        _ => {}
    }
    let raw = String::from_utf8(body.to_vec()).map_err(|_| {
        AppError::new(ErrorCode::StripeEventInvalid, "not a Stripe event: the body is not UTF-8")
            .with_details(serde_json::json!({ "field": "body" }))
    })?;
    let id = event.id.clone();
    if state.db.read(move |c| Ok(store::event_seen(c, &id)?)).await? {
        return Ok(WebhookReceipt { received: true, duplicate: true, outcome: "duplicate".into() });
    }
    // A completed checkout names the subscription; its state is fetched
    // from Stripe (the session does not carry it) before the transaction.
    let fetched = match event.kind.as_str() {
        "checkout.session.completed" => match event::checkout_session(&event.object).subscription {
            Some(sub) => Some(Stripe::from_state(state)?.get_subscription(&sub).await?),
            None => None,
        },
        _ => None,
    };
    let billing = config.clone();
    let (duplicate, outcome, org, emails) =
        state.db.write(move |tx| apply_and_record(tx, &billing, &event, &raw, fetched.as_ref())).await?;
    if let Some(org) = org {
        state.runtime.forget_billing(org);
    }
    if emails > 0 {
        state.jobs.notify();
    }
    Ok(WebhookReceipt { received: true, duplicate, outcome })
}

/// What applying an event did.
struct Applied {
    org: Option<OrgId>,
    outcome: &'static str,
    detail: Option<String>,
    emails: usize,
}

impl Applied {
    fn new(org: Option<OrgId>, outcome: &'static str, detail: impl Into<String>) -> Applied {
        Applied { org, outcome, detail: Some(detail.into()), emails: 0 }
    }
}

fn apply_and_record(
    tx: &rusqlite::Connection,
    config: &BillingConfig,
    event: &Event,
    raw: &str,
    fetched: Option<&Value>,
) -> AppResult<(bool, String, Option<OrgId>, usize)> {
    if store::event_seen(tx, &event.id)? {
        return Ok((true, "duplicate".into(), None, 0));
    }
    let applied = apply(tx, config, event, fetched)?;
    tracing::info!(event = %event.id, kind = %event.kind, outcome = applied.outcome, "Stripe event");
    store::insert_event(
        tx,
        &NewEvent {
            id: &event.id,
            kind: &event.kind,
            created: event.created,
            org: applied.org,
            payload: raw,
            outcome: applied.outcome,
            detail: applied.detail.as_deref(),
        },
    )?;
    Ok((false, applied.outcome.to_owned(), applied.org, applied.emails))
}

/// The organization of a Stripe customer, else the one its metadata names
/// (when that organization has no other customer).
fn resolve_org(tx: &rusqlite::Connection, customer: Option<&str>, hint: Option<i64>) -> AppResult<Option<OrgId>> {
    if let Some(c) = customer
        && let Some(org) = store::org_by_customer(tx, c)?
    {
        return Ok(Some(org));
    }
    let Some(hint) = hint else { return Ok(None) };
    if !store::org_exists(tx, hint)? {
        return Ok(None);
    }
    let org = OrgId(hint);
    let existing = store::org_billing(tx, &Tenant::system(org, "stripe webhook"))?.stripe_customer_id;
    Ok(match (existing, customer) {
        (Some(ours), Some(theirs)) if ours != theirs => None,
        _ => Some(org),
    })
}

fn apply(
    tx: &rusqlite::Connection,
    config: &BillingConfig,
    event: &Event,
    fetched: Option<&Value>,
) -> AppResult<Applied> {
    match event.kind.as_str() {
        "checkout.session.completed" => {
            let session = event::checkout_session(&event.object);
            let Some(org) = resolve_org(tx, session.customer.as_deref(), session.org_hint)? else {
                return Ok(Applied::new(None, "unmatched", "no organization has this customer"));
            };
            if let Some(customer) = &session.customer {
                store::set_customer(tx, &Tenant::system(org, "stripe checkout"), customer)?;
            }
            let Some(object) = fetched else {
                return Ok(Applied::new(Some(org), "ignored", "the session created no subscription"));
            };
            let sub = event::subscription(object)?;
            apply_subscription(tx, config, org, &sub, event.created)
        }
        k if k.starts_with("customer.subscription.") => {
            let sub = event::subscription(&event.object)?;
            let Some(org) = resolve_org(tx, Some(&sub.customer), sub.org_hint)? else {
                return Ok(Applied::new(None, "unmatched", "no organization has this customer"));
            };
            apply_subscription(tx, config, org, &sub, event.created)
        }
        "invoice.paid" | "invoice.payment_failed" | "invoice.finalized" => apply_invoice(tx, config, event),
        "charge.refunded" => {
            let charge = event::charge(&event.object)?;
            let Some(org) = resolve_org(tx, charge.customer.as_deref(), None)? else {
                return Ok(Applied::new(None, "unmatched", "no organization has this customer"));
            };
            let found = store::record_refund(
                tx,
                org,
                (charge.invoice.as_deref(), Some(charge.id.as_str()), charge.payment_intent.as_deref()),
                charge.amount_refunded,
            )?;
            Ok(if found {
                Applied { org: Some(org), outcome: "applied", detail: None, emails: 0 }
            } else {
                Applied::new(Some(org), "unmatched", "no payment of this charge is recorded")
            })
        }
        _ => Ok(Applied::new(None, "ignored", "event type not used by billing")),
    }
}

/// Applies a subscription's state unless it is older than what was applied,
/// the subscription was deleted already, or another subscription is live.
fn apply_subscription(
    tx: &rusqlite::Connection,
    config: &BillingConfig,
    org: OrgId,
    sub: &event::Subscription,
    at: i64,
) -> AppResult<Applied> {
    let tenant = Tenant::system(org, "stripe webhook");
    let row = store::subscription(tx, &tenant)?;
    if let Some(r) = &row {
        if r.stripe_subscription_id.as_deref() == Some(sub.id.as_str()) {
            if r.status == "canceled" {
                return Ok(Applied::new(Some(org), "stale", "the subscription was deleted already"));
            }
            if r.last_event_at.is_some_and(|last| at < last) {
                return Ok(Applied::new(Some(org), "stale", "older than the state already applied"));
            }
        } else if r.stripe_subscription_id.is_some() && r.status != "canceled" && r.status != "incomplete" {
            return Ok(Applied::new(Some(org), "ignored", "another subscription of the organization is live"));
        }
    }
    let mapped = match sub.price.as_deref() {
        Some(price) => store::plan_by_price(tx, price)?,
        None => None,
    };
    let (plan_id, plan_name, cycle) = match (mapped, &row) {
        (Some(m), _) => m,
        // An ended subscription needs no plan: keep the row's.
        (None, Some(r)) if sub.status == "canceled" => {
            (r.plan_id, r.plan_name.clone(), if r.billing_cycle == "yearly" { "yearly" } else { "monthly" })
        }
        _ => return Ok(Applied::new(Some(org), "ignored", "the subscription's price is not a plan's Stripe price")),
    };
    let old =
        row.as_ref().filter(|r| r.stripe_subscription_id.as_deref() == Some(sub.id.as_str())).map(|r| r.status.clone());
    let overdue = matches!(sub.status, "past_due" | "unpaid");
    let (past_due_since, restricted_at) = if overdue {
        let r = row.as_ref();
        (Some(r.and_then(|r| r.past_due_since.clone()).unwrap_or_else(now)), r.and_then(|r| r.restricted_at.clone()))
    } else {
        (None, None)
    };
    store::write_subscription(
        tx,
        &SubscriptionWrite {
            org,
            plan_id,
            plan_name: &plan_name,
            customer: &sub.customer,
            subscription: &sub.id,
            price: sub.price.as_deref(),
            status: sub.status,
            billing_cycle: cycle,
            period_start: sub.period_start.and_then(timestamp),
            period_end: sub.period_end.and_then(timestamp),
            cancel_at_period_end: sub.cancel_at_period_end,
            trial_end: sub.trial_end.and_then(timestamp),
            canceled_at: sub.canceled_at.and_then(timestamp),
            past_due_since: past_due_since.clone(),
            restricted_at,
            last_event_at: at,
        },
    )?;
    let emails = transition_emails(tx, config, org, old.as_deref(), sub.status, past_due_since.as_deref(), &plan_name)?;
    Ok(Applied { org: Some(org), outcome: "applied", detail: None, emails })
}

/// The owners' emails of a status change: payment failed (grace period
/// begins), service restored, subscription ended.
fn transition_emails(
    tx: &rusqlite::Connection,
    config: &BillingConfig,
    org: OrgId,
    old: Option<&str>,
    new: &str,
    past_due_since: Option<&str>,
    plan: &str,
) -> AppResult<usize> {
    let was_overdue = matches!(old, Some("past_due" | "unpaid"));
    match new {
        "past_due" | "unpaid" if !was_overdue => {
            let until = past_due_since
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                .map(|t| (t + chrono::Duration::days(i64::from(config.grace_days))).format("%Y-%m-%d").to_string())
                .unwrap_or_default();
            email_owners(
                tx,
                org,
                "a payment failed",
                &[
                    "The latest payment of your subscription failed. Stripe will retry it.".to_owned(),
                    format!(
                        "Your bots keep working until {until} (UTC). After that, new conversations are answered with a \
                         notice until the payment succeeds; your data is kept."
                    ),
                    "Please update your payment method from the billing page (Manage payment method).".to_owned(),
                ],
            )
        }
        "active" | "trialing" if was_overdue => email_owners(
            tx,
            org,
            "payment received, service restored",
            &[format!("Thank you: the payment went through and your {plan} subscription is active again.")],
        ),
        "canceled" if old.is_some_and(|o| o != "canceled") => email_owners(
            tx,
            org,
            "subscription ended",
            &["Your subscription has ended and the organization is on the free plan now. Your data is kept; \
               subscribe again from the billing page at any time."
                .to_owned()],
        ),
        _ => Ok(0),
    }
}

/// `invoice.*`: the payment row, and for `paid`/`payment_failed` the
/// subscription's status (past due → grace period; paid → active again).
fn apply_invoice(tx: &rusqlite::Connection, config: &BillingConfig, event: &Event) -> AppResult<Applied> {
    let invoice = event::invoice(&event.object)?;
    let Some(org) = resolve_org(tx, invoice.customer.as_deref(), invoice.org_hint)? else {
        return Ok(Applied::new(None, "unmatched", "no organization has this customer"));
    };
    let (status, amount) = match event.kind.as_str() {
        "invoice.paid" => ("succeeded", invoice.amount_paid),
        "invoice.payment_failed" => ("failed", invoice.amount_due),
        _ => ("pending", invoice.amount_due),
    };
    store::upsert_payment(
        tx,
        &PaymentWrite {
            org,
            invoice: &invoice.id,
            number: invoice.number.as_deref(),
            amount,
            currency: &invoice.currency,
            status,
            period_start: invoice.period_start.and_then(timestamp),
            period_end: invoice.period_end.and_then(timestamp),
            payment_intent: invoice.payment_intent.as_deref(),
            charge: invoice.charge.as_deref(),
            receipt_url: invoice.hosted_url.as_deref(),
            description: invoice.description.as_deref(),
            event_at: event.created,
        },
    )?;
    let tenant = Tenant::system(org, "stripe invoice");
    let row = store::subscription(tx, &tenant)?;
    let Some(row) =
        row.filter(|r| r.stripe_subscription_id.is_some() && r.stripe_subscription_id == invoice.subscription)
    else {
        return Ok(Applied { org: Some(org), outcome: "applied", detail: None, emails: 0 });
    };
    if row.status == "canceled" || row.last_event_at.is_some_and(|last| event.created < last) {
        // The payment is recorded; the subscription's newer state stands.
        return Ok(Applied::new(Some(org), "applied", "payment recorded; subscription state is newer"));
    }
    let new_status = match (event.kind.as_str(), row.status.as_str()) {
        ("invoice.payment_failed", "active" | "trialing") => "past_due",
        ("invoice.paid", "past_due" | "unpaid" | "incomplete") => "active",
        _ => return Ok(Applied { org: Some(org), outcome: "applied", detail: None, emails: 0 }),
    };
    let past_due_since = (new_status == "past_due").then(now);
    store::set_dunning(tx, org, new_status, past_due_since.as_deref(), None)?;
    store::advance_event_at(tx, org, event.created)?;
    if new_status == "active" {
        store::set_plan_tier(tx, org, &row.plan_name)?;
    }
    let emails =
        transition_emails(tx, config, org, Some(&row.status), new_status, past_due_since.as_deref(), &row.plan_name)?;
    Ok(Applied { org: Some(org), outcome: "applied", detail: None, emails })
}

/// Applies a subscription object the Stripe API answered (after a change
/// made here) with the webhook's rules; answers the emails queued.
pub(crate) fn apply_answer(
    tx: &rusqlite::Connection,
    config: &BillingConfig,
    org: OrgId,
    sub: &event::Subscription,
    at: i64,
) -> AppResult<usize> {
    Ok(apply_subscription(tx, config, org, sub, at)?.emails)
}

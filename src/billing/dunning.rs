//! Dunning (`billing.dunning`, hourly): a subscription whose payment failed
//! is `past_due` and keeps full service for `billing.grace_days`; then it is
//! restricted — new conversations are answered with
//! `billing.restricted_notice`, data is untouched — and after
//! `billing.restricted_days` more it is canceled at Stripe and here (free
//! plan). Owners are emailed at each step; a successful payment
//! (`invoice.paid`) makes it active again at any step before cancellation.
//!
//! Each failed payment is also an internal event for revenue recovery: the
//! `billing_events` row of its `invoice.payment_failed` (outcome `applied`),
//! read with [`payment_failures`].

use futures_util::future::BoxFuture;
use serde::Serialize;
use serde_json::{Value, json};

use super::stripe::store;
use super::stripe::{Stripe, email_owners};
use crate::app::AppState;
use crate::db::{format_timestamp, now};
use crate::error::AppResult;
use crate::ids::OrgId;
use crate::jobs::{JobContext, JobError, JobHandler};

/// The job kind.
pub const KIND: &str = "billing.dunning";

/// What one run did.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct DunningReport {
    pub restricted: Vec<OrgId>,
    pub canceled: Vec<OrgId>,
    /// Cancellations Stripe refused or could not take; retried next run.
    pub failed: usize,
}

/// The `billing.dunning` job.
pub struct DunningJob;

impl JobHandler for DunningJob {
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Result<Value, JobError>> {
        Box::pin(async move {
            let report = run_once(&ctx.state).await?;
            Ok(
                json!({ "restricted": report.restricted.len(), "canceled": report.canceled.len(), "failed": report.failed }),
            )
        })
    }
}

/// Moves every overdue subscription on to its next step.
pub async fn run_once(state: &AppState) -> AppResult<DunningReport> {
    let config = state.config.billing.clone();
    let mut report = DunningReport::default();
    if !config.enabled {
        return Ok(report);
    }
    let now_t = chrono::Utc::now();
    let restrict_cutoff = format_timestamp(now_t - chrono::Duration::days(i64::from(config.grace_days)));
    let notice = config.restricted_notice.clone();
    let grace = config.grace_days;
    let restricted = state
        .db
        .write(move |tx| {
            let mut done = Vec::new();
            for org in store::due_for_restriction(tx, &restrict_cutoff)? {
                if store::restrict(tx, org, &now())? {
                    email_owners(
                        tx,
                        org,
                        "service restricted",
                        &[
                            format!("The payment of your subscription is still overdue after the {grace}-day grace period."),
                            format!(
                                "New conversations with your bots are now answered with this notice: \u{201c}{notice}\u{201d} \
                                 Conversations already under way continue, and all your data is kept."
                            ),
                            "Update your payment method from the billing page to restore the service at once.".to_owned(),
                        ],
                    )?;
                    done.push(org);
                }
            }
            Ok(done)
        })
        .await?;
    for org in &restricted {
        state.runtime.forget_billing(*org);
    }
    report.restricted = restricted;

    let cancel_cutoff = format_timestamp(now_t - chrono::Duration::days(i64::from(config.restricted_days)));
    let due = state.db.read(move |c| Ok(store::due_for_cancellation(c, &cancel_cutoff)?)).await?;
    for (org, subscription) in due {
        // Stripe first: ending it only here would leave the customer billed.
        if let Some(sub) = subscription.as_deref() {
            let cancelled = match Stripe::from_state(state) {
                Ok(stripe) => stripe.cancel_subscription(sub).await.map(drop),
                Err(e) => Err(e),
            };
            if let Err(e) = cancelled {
                tracing::warn!(org = org.0, error = %e.message(), "dunning: Stripe did not cancel the subscription");
                report.failed += 1;
                continue;
            }
        }
        let at = chrono::Utc::now().timestamp();
        state
            .db
            .write(move |tx| {
                store::end_subscription(tx, org, &now(), at)?;
                email_owners(
                    tx,
                    org,
                    "subscription canceled",
                    &["The overdue payment was not made, so the subscription was canceled and the organization is on \
                       the free plan now. Your data is kept; subscribe again from the billing page at any time."
                        .to_owned()],
                )?;
                Ok(())
            })
            .await?;
        state.runtime.forget_billing(org);
        report.canceled.push(org);
    }
    if !report.restricted.is_empty() || !report.canceled.is_empty() {
        state.jobs.notify();
    }
    Ok(report)
}

/// Failed payments since `since` (RFC 3339): organization, Stripe event id,
/// its `created` and the raw event, for revenue recovery.
pub async fn payment_failures(state: &AppState, since: String) -> AppResult<Vec<(OrgId, String, i64, String)>> {
    state.db.read(move |c| Ok(store::payment_failures(c, &since)?)).await
}

//! Internal events (issue 27, item 1): the `recovery.internal` job (hourly)
//! turns what the platform itself knows about its customer organizations
//! into recovery events of the operator's organization
//! (`recovery.operator_organization_id`), deduplicated by source id:
//! - failed payments recorded by billing (`invoice.payment_failed`,
//!   source `billing`, one per Stripe event) start failed-payment campaigns;
//! - inactivity (no usage for `recovery.inactivity_days`; source `platform`,
//!   one per inactivity spell) and usage drops (the last 7 days at most
//!   `100 - recovery.usage_drop_percent` % of the 7 before; one per
//!   customer and ISO week) start inactivity campaigns.

use futures_util::future::BoxFuture;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::health::store::{self as hstore, customer_id};
use super::model::{RecoveryCustomer, RecoveryEventRequest};
use crate::app::AppState;
use crate::config::RecoveryConfig;
use crate::error::AppResult;
use crate::http::Tenant;
use crate::ids::OrgId;
use crate::jobs::{JobContext, JobError, JobHandler};

/// The job kind (hourly).
pub const KIND: &str = "recovery.internal";

/// What one run did: events newly taken per kind (duplicates not counted).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct InternalReport {
    pub payment_failed: usize,
    pub inactive: usize,
    pub usage_drop: usize,
}

/// The `recovery.internal` job.
pub struct InternalJob;

impl JobHandler for InternalJob {
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Result<Value, JobError>> {
        Box::pin(async move {
            let report = run(&ctx.state).await?;
            Ok(serde_json::to_value(&report).unwrap_or(Value::Null))
        })
    }
}

fn customer(c: &hstore::Customer) -> RecoveryCustomer {
    RecoveryCustomer {
        id: Some(customer_id(c.org)),
        email: Some(c.email.clone()),
        name: Some(c.name.clone()),
        ..RecoveryCustomer::default()
    }
}

/// One run: failed payments of the last 3 days, inactivity and usage drops now.
pub async fn run(state: &AppState) -> AppResult<InternalReport> {
    let config = state.config.recovery.clone();
    let Some(operator) = config.operator_organization_id else { return Ok(InternalReport::default()) };
    let now = chrono::Utc::now();
    let failures =
        crate::billing::dunning::payment_failures(state, crate::db::format_timestamp(now - chrono::Duration::days(3)))
            .await?;
    let report = state.db.write(move |tx| take(tx, OrgId(operator), &config, &failures, now)).await?;
    if report != InternalReport::default() {
        state.jobs.notify();
    }
    Ok(report)
}

fn taken(out: &super::model::RecoveryIngest) -> bool {
    out.outcome != "duplicate"
}

fn take(
    tx: &rusqlite::Connection,
    operator: OrgId,
    config: &RecoveryConfig,
    failures: &[(OrgId, String, i64, String)],
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<InternalReport> {
    let tenant = Tenant::system(operator, "recovery internal events");
    let customers = hstore::customers(tx, operator)?;
    let by_org = |org: OrgId| customers.iter().find(|c| c.org == org.0);
    let mut report = InternalReport::default();
    for (org, event_id, _created, payload) in failures {
        let Some(c) = by_org(*org) else { continue };
        let raw: Value = serde_json::from_str(payload).unwrap_or(Value::Null);
        let invoice = &raw["data"]["object"];
        let mut data = Map::new();
        data.insert("invoice_id".into(), invoice["id"].clone());
        data.insert("attempt_count".into(), invoice["attempt_count"].clone());
        let req = RecoveryEventRequest {
            event_type: "payment_failed".into(),
            source: Some("billing".into()),
            source_id: Some(event_id.clone()),
            customer: customer(c),
            amount: invoice["amount_due"].as_i64(),
            currency: invoice["currency"].as_str().map(str::to_uppercase),
            payment_url: invoice["hosted_invoice_url"].as_str().map(str::to_owned),
            data,
            ..RecoveryEventRequest::default()
        };
        if taken(&super::service::ingest_in(tx, &tenant, &req)?) {
            report.payment_failed += 1;
        }
    }
    let today = now.date_naive();
    let day = |d: i64| (today - chrono::Duration::days(d)).format("%Y-%m-%d").to_string();
    let created_cutoff = crate::db::format_timestamp(now - chrono::Duration::days(i64::from(config.inactivity_days)));
    for c in customers.iter().filter(|c| c.subscription_status.as_deref() != Some("canceled")) {
        // Inactivity: no usage for the configured days (an organization
        // younger than that is not judged yet).
        let last = hstore::last_usage_day(tx, c.org, &day(0))?;
        let idle_days = last
            .as_deref()
            .and_then(|l| chrono::NaiveDate::parse_from_str(l, "%Y-%m-%d").ok())
            .map(|l| (today - l).num_days());
        let idle = match idle_days {
            Some(d) => d >= i64::from(config.inactivity_days),
            None => c.created_at <= created_cutoff,
        };
        if idle {
            let mut data = Map::new();
            data.insert("signal".into(), json!("no_activity"));
            data.insert("last_activity_day".into(), json!(last));
            data.insert("days_inactive".into(), json!(idle_days));
            let req = RecoveryEventRequest {
                event_type: "inactive".into(),
                source: Some("platform".into()),
                source_id: Some(format!("inactive:{}:{}", c.org, last.as_deref().unwrap_or("never"))),
                customer: customer(c),
                data,
                ..RecoveryEventRequest::default()
            };
            if taken(&super::service::ingest_in(tx, &tenant, &req)?) {
                report.inactive += 1;
            }
            continue;
        }
        // Usage drop: this week against the week before.
        let recent = hstore::usage(tx, c.org, &day(6), &day(-1))?;
        let before = hstore::usage(tx, c.org, &day(13), &day(6))?;
        let keep = 1.0 - f64::from(config.usage_drop_percent.min(100)) / 100.0;
        if before >= f64::from(config.usage_drop_min) && recent <= before * keep {
            let drop = 100.0 * (1.0 - recent / before);
            let mut data = Map::new();
            data.insert("signal".into(), json!("usage_drop"));
            data.insert("usage_last_7d".into(), json!(recent));
            data.insert("usage_previous_7d".into(), json!(before));
            data.insert("drop_percent".into(), json!(drop.round()));
            let week = now.format("%G-W%V");
            let req = RecoveryEventRequest {
                event_type: "inactive".into(),
                source: Some("platform".into()),
                source_id: Some(format!("usage_drop:{}:{week}", c.org)),
                customer: customer(c),
                data,
                ..RecoveryEventRequest::default()
            };
            if taken(&super::service::ingest_in(tx, &tenant, &req)?) {
                report.usage_drop += 1;
            }
        }
    }
    Ok(report)
}

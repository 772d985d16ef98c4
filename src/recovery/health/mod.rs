//! Customer health (issue 27, item 5): the `recovery.health` job scores
//! every customer organization of the platform daily, in the operator's
//! organization (`recovery.operator_organization_id`), from its signals —
//! usage trend and level, sign-ins, conversations and handoffs, CSAT,
//! failed payments, plan changes, inactivity. The model is transparent:
//! each signal's weight and contribution is stored with the score. With
//! enough churn labels (canceled subscriptions, their signals as of the
//! cancellation) a logistic regression is fitted on them; otherwise the
//! default weights apply. History is kept by the table's trigger; a
//! customer crossing `recovery.churn_risk_threshold` raises a churn-risk
//! event that churn campaigns consume.

pub mod model;
pub mod store;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use self::model::{Features, Logistic, Model, RecoverySignalPart, SIGNALS, auc, features, grade, reason, risk_level};
use super::model::{RecoveryCustomer, RecoveryEventRequest};
use crate::app::AppState;
use crate::config::RecoveryConfig;
use crate::db::format_timestamp;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::{Page, PageParams, Tenant};
use crate::ids::OrgId;
use crate::jobs::{JobContext, JobError, JobHandler};

/// The job kind (daily).
pub const KIND: &str = "recovery.health";

/// A customer's health as the list shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecoveryHealth {
    pub id: i64,
    /// `org-{id}` for a customer organization of the platform.
    pub customer_id: String,
    pub customer_email: Option<String>,
    pub customer_name: Option<String>,
    /// 0–100, higher is healthier.
    pub health_score: i64,
    /// `A`–`F`.
    pub health_grade: String,
    pub churn_probability: f64,
    /// `very_low`, `low`, `medium`, `high` or `critical`.
    pub churn_risk_level: String,
    /// The signals pushing towards churn, strongest first, each with a sentence.
    pub reasons: Value,
    /// `improving`, `stable`, `declining` or `critical_decline`.
    pub score_trend: Option<String>,
    pub score_change: Option<i64>,
    /// `weighted-v1` (default weights) or `logistic-v1 (n labels)`.
    pub model_version: Option<String>,
    pub calculated_at: String,
}

/// One point of a customer's score history.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecoveryHealthPoint {
    pub recorded_at: String,
    pub health_score: i64,
    pub churn_probability: Option<f64>,
    pub churn_risk_level: Option<String>,
}

/// A customer's health with every signal's weight and contribution, and its history.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecoveryHealthDetail {
    #[serde(flatten)]
    pub health: RecoveryHealth,
    pub engagement_score: Option<i64>,
    pub days_since_activity: Option<i64>,
    pub logins_30d: i64,
    pub usage_30d: i64,
    pub payment_failures_90d: i64,
    pub satisfaction: Option<f64>,
    pub handoffs_30d: i64,
    pub subscription_status: Option<String>,
    pub plan: Option<String>,
    /// Every signal: value, weight in the model in force, contribution.
    pub signals: Vec<RecoverySignalPart>,
    /// The model: kind, labels it was fitted on, training AUC, intercept.
    pub model: Value,
    /// Newest first (at most 90).
    pub history: Vec<RecoveryHealthPoint>,
}

/// Filters of the health list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecoveryHealthFilter {
    /// Only customers at high or critical churn risk.
    #[serde(default)]
    pub at_risk: bool,
}

/// What one run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HealthReport {
    pub scored: usize,
    pub model: String,
    pub labels: usize,
    pub churned: usize,
    /// The fitted model's AUC on its labels.
    pub auc: Option<f64>,
    /// (signal, weight), largest first (logistic model only).
    pub top_signals: Vec<(String, f64)>,
    pub at_risk: usize,
    pub churn_events: usize,
}

/// The `recovery.health` job.
pub struct HealthJob;

impl JobHandler for HealthJob {
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Result<Value, JobError>> {
        Box::pin(async move {
            let report = run(&ctx.state).await?;
            Ok(serde_json::to_value(&report).unwrap_or(Value::Null))
        })
    }
}

/// Scores every customer now.
pub async fn run(state: &AppState) -> AppResult<HealthReport> {
    let config = state.config.recovery.clone();
    let Some(operator) = config.operator_organization_id else { return Ok(HealthReport::default()) };
    let now = chrono::Utc::now();
    let report = state.db.write(move |tx| compute(tx, OrgId(operator), &config, now)).await?;
    if report.churn_events > 0 {
        state.jobs.notify();
    }
    Ok(report)
}

fn fit_model(
    tx: &rusqlite::Connection,
    customers: &[store::Customer],
    config: &RecoveryConfig,
    now: &str,
) -> AppResult<Model> {
    let (mut xs, mut ys): (Vec<Features>, Vec<bool>) = (Vec::new(), Vec::new());
    for c in customers {
        match (c.subscription_status.as_deref(), &c.canceled_at) {
            (Some("canceled"), Some(at)) => {
                xs.push(features(&store::facts(tx, c.org, at)?));
                ys.push(true);
            }
            (Some("active" | "trialing"), _) => {
                xs.push(features(&store::facts(tx, c.org, now)?));
                ys.push(false);
            }
            _ => {}
        }
    }
    let churned = ys.iter().filter(|y| **y).count();
    let min = config.health_min_labels;
    if churned < min || ys.len() - churned < min {
        return Ok(Model::Weighted);
    }
    let fit = Logistic::fit(&xs, &ys, 0.01, 400);
    let scores: Vec<f64> = xs.iter().map(|x| fit.predict(x)).collect();
    let auc = auc(&scores, &ys).unwrap_or(0.5);
    Ok(Model::Logistic { fit: Box::new(fit), labels: ys.len(), churned, auc })
}

#[allow(clippy::too_many_lines, reason = "one customer's scoring steps, in order")]
fn compute(
    tx: &rusqlite::Connection,
    operator: OrgId,
    config: &RecoveryConfig,
    now_t: chrono::DateTime<chrono::Utc>,
) -> AppResult<HealthReport> {
    let now = format_timestamp(now_t);
    let customers = store::customers(tx, operator)?;
    let model = fit_model(tx, &customers, config, &now)?;
    let mut report = HealthReport { model: model.version(), ..HealthReport::default() };
    let model_json = match &model {
        Model::Weighted => json!({ "kind": "weighted", "version": model.version() }),
        Model::Logistic { fit, labels, churned, auc } => {
            report.labels = *labels;
            report.churned = *churned;
            report.auc = Some(*auc);
            report.top_signals = fit.top_signals().into_iter().map(|(s, w)| (s.to_owned(), w)).collect();
            json!({ "kind": "logistic", "version": model.version(), "labels": labels, "churned": churned,
                    "training_auc": (auc * 1000.0).round() / 1000.0, "intercept": fit.intercept })
        }
    };
    let next_at = format_timestamp(now_t + chrono::Duration::days(1));
    let tenant = Tenant::system(operator, "customer health");
    let mut keep = Vec::new();
    for c in customers.iter().filter(|c| c.subscription_status.as_deref() != Some("canceled")) {
        let customer = store::customer_id(c.org);
        keep.push(customer.clone());
        let facts = store::facts(tx, c.org, &now)?;
        let x = features(&facts);
        let (p, parts) = model.score(&x);
        #[allow(clippy::cast_possible_truncation, reason = "0–100")]
        let score = (100.0 * (1.0 - p)).round().clamp(0.0, 100.0) as i64;
        let mut pushing: Vec<&RecoverySignalPart> = parts.iter().filter(|s| s.contribution > 0.0).collect();
        pushing.sort_by(|a, b| b.contribution.total_cmp(&a.contribution));
        let reasons: Vec<Value> = pushing
            .iter()
            .take(3)
            .map(|s| json!({ "signal": s.signal, "reason": reason(&s.signal, &facts), "contribution": s.contribution }))
            .collect();
        let engagement_f = 100.0
            * (0.4 * (x[1] / 1000f64.ln_1p()).min(1.0)
                + 0.3 * (x[2] / 10f64.ln_1p()).min(1.0)
                + 0.3 * (x[3] / 50f64.ln_1p()).min(1.0));
        #[allow(clippy::cast_possible_truncation, reason = "0–100")]
        let engagement = engagement_f.round().clamp(0.0, 100.0) as i64;
        let previous = store::previous(tx, operator, &customer)?;
        let change = previous.map_or(0, |(_, s)| score - s);
        let trend = match change {
            ..=-20 => "critical_decline",
            -19..=-5 => "declining",
            5.. => "improving",
            _ => "stable",
        };
        let last_day = store::last_usage_day(tx, c.org, &now_t.format("%Y-%m-%d").to_string())?;
        let breakdown = json!({ "model": model_json, "signals": parts });
        let level = risk_level(p);
        let confidence = match &model {
            Model::Weighted => 0.5,
            #[allow(clippy::cast_precision_loss, reason = "counts")]
            Model::Logistic { labels, .. } => (0.5 + *labels as f64 / 400.0).min(0.95),
        };
        store::upsert(
            tx,
            operator,
            &store::NewScore {
                customer: &customer,
                email: &c.email,
                name: &c.name,
                score,
                grade: grade(score),
                probability: (p * 10_000.0).round() / 10_000.0,
                level,
                engagement,
                facts: &facts,
                last_activity: last_day.as_deref(),
                subscription_status: c.subscription_status.as_deref(),
                plan: &c.plan,
                risk_factors: &Value::Array(reasons.clone()),
                breakdown: &breakdown,
                model_version: &model.version(),
                confidence,
                trend,
                previous: previous.map(|(_, s)| s),
                next_at: &next_at,
            },
        )?;
        report.scored += 1;
        let threshold = config.churn_risk_threshold;
        if p >= threshold {
            report.at_risk += 1;
        }
        // Crossing the threshold (not staying above it) raises one event.
        if p >= threshold && previous.is_none_or(|(q, _)| q < threshold) {
            let mut data = Map::new();
            data.insert("health_score".into(), json!(score));
            data.insert("churn_probability".into(), json!((p * 1000.0).round() / 1000.0));
            data.insert("risk_level".into(), json!(level));
            data.insert(
                "reasons".into(),
                json!(reasons.iter().filter_map(|r| r["reason"].as_str()).collect::<Vec<_>>().join("; ")),
            );
            let req = RecoveryEventRequest {
                event_type: "churn_risk".into(),
                source: Some("health".into()),
                source_id: Some(format!("churn_risk:{}:{}", c.org, now_t.format("%Y-%m-%d"))),
                customer: RecoveryCustomer {
                    id: Some(customer.clone()),
                    email: Some(c.email.clone()),
                    name: Some(c.name.clone()),
                    ..RecoveryCustomer::default()
                },
                data,
                ..RecoveryEventRequest::default()
            };
            let out = super::service::ingest_in(tx, &tenant, &req)?;
            if out.outcome != "duplicate" {
                report.churn_events += 1;
            }
        }
    }
    store::prune(tx, operator, &keep)?;
    Ok(report)
}

fn view(s: store::Stored) -> RecoveryHealth {
    RecoveryHealth {
        id: s.id,
        customer_id: s.customer_id,
        customer_email: s.email,
        customer_name: s.name,
        health_score: s.score,
        health_grade: s.grade,
        churn_probability: s.probability,
        churn_risk_level: s.level,
        reasons: s.risk_factors,
        score_trend: s.trend,
        score_change: s.change,
        model_version: s.model_version,
        calculated_at: s.calculated_at,
    }
}

fn not_found() -> AppError {
    AppError::new(ErrorCode::RecoveryHealthNotFound, "no such customer health score")
}

pub async fn list(
    state: &AppState,
    tenant: Tenant,
    filter: RecoveryHealthFilter,
    page: PageParams,
) -> AppResult<Page<RecoveryHealth>> {
    let (after, limit) = (page.cursor()?.map(|c| c.id), page.fetch_limit()?);
    let rows = state.db.read(move |c| Ok(store::list(c, tenant.org_id(), filter.at_risk, after, limit)?)).await?;
    Page::from_rows(rows.into_iter().map(view).collect(), &page, |h| h.id)
}

pub async fn detail(state: &AppState, tenant: Tenant, id: i64) -> AppResult<RecoveryHealthDetail> {
    let (row, history) = state
        .db
        .read(move |c| {
            let row = store::find(c, tenant.org_id(), id)?.ok_or_else(not_found)?;
            Ok((row, store::history(c, tenant.org_id(), id)?))
        })
        .await?;
    let signals: Vec<RecoverySignalPart> = serde_json::from_value(row.breakdown["signals"].clone()).unwrap_or_default();
    let model = row.breakdown.get("model").cloned().unwrap_or(Value::Null);
    Ok(RecoveryHealthDetail {
        engagement_score: row.engagement,
        days_since_activity: row.days_inactive,
        logins_30d: row.logins_30d,
        usage_30d: row.usage_30d,
        payment_failures_90d: row.payment_failures,
        satisfaction: row.csat,
        handoffs_30d: row.handoffs_30d,
        subscription_status: row.subscription_status.clone(),
        plan: row.plan.clone(),
        signals,
        model,
        history: history
            .into_iter()
            .map(|(recorded_at, health_score, churn_probability, churn_risk_level)| RecoveryHealthPoint {
                recorded_at,
                health_score,
                churn_probability,
                churn_risk_level,
            })
            .collect(),
        health: view(row),
    })
}

/// The signal names (for the UI and docs).
#[must_use]
pub fn signal_names() -> &'static [&'static str] {
    &SIGNALS
}

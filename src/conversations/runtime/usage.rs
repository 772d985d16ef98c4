//! Messages per month against the plan (`subscription_plans.max_messages_per_month`,
//! counted from `usage_tracking` `message_received`: one per end-user
//! message), kept in memory between turns so a turn reads nothing, and the
//! 80 % / 100 % alerts: an activity row plus a durable `usage_alert` job,
//! once per organization and month (the job's idempotency key), which queues
//! the owners' and admins' emails and the organization's webhook deliveries.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::writer::UsageAlert;
use crate::conversations::store;
use crate::db::Db;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::ids::OrgId;
use crate::jobs::{JobContext, JobError, JobHandler};

/// The job kind of usage alerts.
pub const ALERT_JOB: &str = "usage_alert";
/// The metric that counts against the plan.
pub const METRIC: &str = "message_received";
/// How long the plan's limit is trusted before it is read again.
const REFRESH: Duration = Duration::from_secs(30);

struct OrgUsage {
    month: String,
    used: i64,
    limit: i64,
    loaded: Instant,
    sent: [bool; 2],
}

/// The in-memory meter.
#[derive(Default)]
pub struct UsageMeter {
    orgs: Mutex<HashMap<OrgId, OrgUsage>>,
}

/// The current month, `YYYY-MM` (UTC).
#[must_use]
pub fn current_month() -> String {
    chrono::Utc::now().format("%Y-%m").to_string()
}

impl UsageMeter {
    /// Counts one message for `org`, or refuses it (429) when the month's
    /// allowance is used up. Returns the alert this message triggers, if any.
    pub async fn reserve(&self, db: &Db, org: OrgId) -> AppResult<Option<UsageAlert>> {
        let month = current_month();
        if let Some(r) = self.try_reserve(org, &month) {
            return r;
        }
        let first_day = format!("{month}-01");
        let keys = [format!("usage_alert:{org}:{month}:80"), format!("usage_alert:{org}:{month}:100")];
        let (used, limit, sent80, sent100) = db
            .read(move |conn| {
                Ok((
                    store::month_usage(conn, org, METRIC, &first_day)?,
                    store::message_limit(conn, org)?,
                    store::job_key_exists(conn, &keys[0])?,
                    store::job_key_exists(conn, &keys[1])?,
                ))
            })
            .await?;
        {
            let mut orgs = self.orgs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let entry = orgs.entry(org).or_insert_with(|| OrgUsage {
                month: month.clone(),
                used,
                limit,
                loaded: Instant::now(),
                sent: [sent80, sent100],
            });
            if entry.month == month {
                // Turns counted here may not be committed yet: keep the larger.
                entry.used = entry.used.max(used);
                entry.sent = [entry.sent[0] || sent80, entry.sent[1] || sent100];
            } else {
                *entry =
                    OrgUsage { month: month.clone(), used, limit, loaded: Instant::now(), sent: [sent80, sent100] };
            }
            entry.limit = limit;
            entry.loaded = Instant::now();
        }
        self.try_reserve(org, &month).unwrap_or(Ok(None))
    }

    fn try_reserve(&self, org: OrgId, month: &str) -> Option<AppResult<Option<UsageAlert>>> {
        let mut orgs = self.orgs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let e = orgs.get_mut(&org)?;
        if e.month != month || e.loaded.elapsed() > REFRESH {
            return None;
        }
        if e.limit >= 0 && e.used >= e.limit {
            return Some(Err(AppError::new(
                ErrorCode::PlanLimitExceeded,
                format!("this organization has used its {} messages for {month}; upgrade the plan for more", e.limit),
            )
            .with_details(
                json!({ "limit": "messages_per_month", "used": e.used, "allowed": e.limit, "month": month }),
            )));
        }
        e.used += 1;
        let mut alert = None;
        if e.limit > 0 {
            let percent = e.used.saturating_mul(100) / e.limit;
            for (i, level) in [(1usize, 100u8), (0, 80)] {
                if percent >= i64::from(level) && !e.sent[i] {
                    e.sent[i] = true;
                    if i == 1 {
                        e.sent[0] = true;
                    }
                    alert = Some(UsageAlert { month: month.to_owned(), percent: level, used: e.used, limit: e.limit });
                    break;
                }
            }
        }
        Some(Ok(alert))
    }

    /// Gives back a message whose turn failed.
    pub fn release(&self, org: OrgId) {
        let mut orgs = self.orgs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(e) = orgs.get_mut(&org) {
            e.used = (e.used - 1).max(0);
        }
    }

    /// Forgets every organization (a plan's limits changed).
    pub fn forget_all(&self) {
        self.orgs.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
    }

    /// Forgets what is known of an organization (its plan changed).
    pub fn forget(&self, org: OrgId) {
        self.orgs.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&org);
    }
}

/// The `usage_alert` job: queues an email to each owner and admin, and a
/// delivery to each active webhook subscribed to `usage.threshold` (or `*`).
pub struct UsageAlertJob;

impl JobHandler for UsageAlertJob {
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Result<Value, JobError>> {
        Box::pin(async move {
            let org = ctx.job.org_id.ok_or_else(|| JobError::Permanent("usage alert without organization".into()))?;
            let p = ctx.job.payload.clone();
            let percent = p.get("percent").and_then(Value::as_i64).unwrap_or(0);
            // `allowed` (billing::usage alerts) or the older numeric `limit`.
            let (used, limit) = (
                p.get("used").and_then(Value::as_i64).unwrap_or(0),
                p.get("allowed").or_else(|| p.get("limit")).and_then(Value::as_i64).unwrap_or(0),
            );
            let metric = p.get("metric").and_then(Value::as_str).unwrap_or("messages").to_owned();
            let label = match metric.as_str() {
                "llm_tokens_per_month" => "LLM tokens",
                "knowledge_storage_bytes" => "knowledge storage (bytes)",
                "seats" => "seats",
                "voice_minutes_per_month" => "voice minutes",
                "bots" => "bots",
                "channels" => "channels",
                _ => "messages",
            };
            let month = p.get("month").and_then(Value::as_str).unwrap_or_default().to_owned();
            let counts = ctx
                .state
                .db
                .write(move |tx| {
                    let name: String =
                        tx.query_row("SELECT name FROM organizations WHERE id = ?1", [org], |r| r.get(0))?;
                    let recipients: Vec<(i64, String)> = {
                        let mut stmt = tx.prepare(
                            "SELECT u.id, u.email FROM organization_members m JOIN roles r ON r.id = m.role_id
                             JOIN users u ON u.id = m.user_id
                             WHERE m.organization_id = ?1 AND m.status = 'active' AND r.organization_id IS NULL
                               AND r.name IN ('owner', 'admin')",
                        )?;
                        stmt.query_map([org], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?
                    };
                    let subject = if percent >= 100 {
                        format!("{name} has used all its {label} for {month}")
                    } else {
                        format!("{name} has used {percent}% of its {label} for {month}")
                    };
                    let body = format!(
                        "Your organization {name} has used {used} of its {limit} {label} ({month}).\n{}",
                        match (percent >= 100, label) {
                            (true, "messages") =>
                                "Bots no longer answer until next month or until you upgrade the plan.",
                            (true, _) =>
                                "Nothing more can be added until usage drops, the month ends or you upgrade the plan.",
                            (false, _) => "Work stops when the allowance is used up; consider upgrading the plan.",
                        }
                    );
                    // Through the one email queue: a row plus its `email.send` job.
                    let branding =
                        crate::orgs::whitelabel::branding(tx, &crate::http::Tenant::system(org, "usage alert email"))?;
                    let content = crate::notify::templates::notice(&branding, subject, &[body]);
                    for (user, email) in &recipients {
                        crate::notify::queue_in(
                            tx,
                            &crate::notify::NewEmail {
                                org_id: Some(org),
                                user_id: Some(crate::ids::UserId(*user)),
                                kind: crate::notify::EmailKind::UsageAlert,
                                to: email,
                                content: content.clone(),
                            },
                        )?;
                    }
                    let data = json!({ "organization_id": org, "metric": metric, "month": month,
                                       "percent": percent, "used": used, "limit": limit });
                    let webhooks = crate::webhooks::emit(tx, org, crate::webhooks::Event::UsageThreshold, data)?;
                    Ok((recipients.len(), webhooks))
                })
                .await?;
            ctx.state.jobs.notify();
            Ok(json!({ "emails": counts.0, "webhooks": counts.1 }))
        })
    }
}

//! Metering: every usage count goes through here into `usage_tracking`, one
//! row per organization, bot (when known), metric and UTC day.
//!
//! Counters are one UPSERT each (`count = count + excluded.count`): no
//! read-modify-write, so concurrent writers stay exact. Gauges (knowledge
//! storage bytes, seats) store the day's value (`count = excluded.count`),
//! recomputed from the live rows when they change.
//!
//! After a counter of a monthly limit moves, [`alert_if_crossed`] queues the
//! 80 % / 100 % alert (a durable `usage_alert` job, once per organization,
//! limit, month and level: the job's idempotency key).

use rusqlite::{Connection, params};
use serde_json::json;

use super::limits::{self, Limit};
use crate::error::AppResult;
use crate::ids::{BotId, OrgId};
use crate::jobs::{Enqueue, Queue};

/// A metered quantity (`usage_tracking.metric_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    MessageReceived,
    MessageSent,
    ApiCall,
    LlmTokens,
    LlmCostMicros,
    VoiceMinutes,
    KnowledgeStorageBytes,
    Seats,
}

impl Metric {
    pub const ALL: [Metric; 8] = [
        Metric::MessageReceived,
        Metric::MessageSent,
        Metric::ApiCall,
        Metric::LlmTokens,
        Metric::LlmCostMicros,
        Metric::VoiceMinutes,
        Metric::KnowledgeStorageBytes,
        Metric::Seats,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::MessageReceived => "message_received",
            Metric::MessageSent => "message_sent",
            Metric::ApiCall => "api_call",
            Metric::LlmTokens => "llm_tokens",
            Metric::LlmCostMicros => "llm_cost_micros",
            Metric::VoiceMinutes => "voice_minutes",
            Metric::KnowledgeStorageBytes => "knowledge_storage_bytes",
            Metric::Seats => "seats",
        }
    }

    /// Gauges hold a value per day (the month shows its highest), counters a sum.
    #[must_use]
    pub fn is_gauge(self) -> bool {
        matches!(self, Metric::KnowledgeStorageBytes | Metric::Seats)
    }

    /// The plan limit this metric counts against.
    #[must_use]
    pub fn limit(self) -> Option<Limit> {
        match self {
            Metric::MessageReceived => Some(Limit::MessagesPerMonth),
            Metric::LlmTokens => Some(Limit::LlmTokensPerMonth),
            Metric::VoiceMinutes => Some(Limit::VoiceMinutesPerMonth),
            Metric::KnowledgeStorageBytes => Some(Limit::KnowledgeStorageBytes),
            Metric::Seats => Some(Limit::Seats),
            Metric::MessageSent | Metric::ApiCall | Metric::LlmCostMicros => None,
        }
    }
}

/// The current month, `YYYY-MM` (UTC).
#[must_use]
pub fn current_month() -> String {
    chrono::Utc::now().format("%Y-%m").to_string()
}

fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

/// Adds `n` to a counter (one UPSERT).
pub fn add(conn: &Connection, org: OrgId, bot: Option<BotId>, metric: Metric, n: i64) -> rusqlite::Result<()> {
    add_on(conn, org, bot, metric.as_str(), &today(), n)
}

/// Adds `n` to a counter of a given day (the runtime's batched writer).
pub fn add_on(
    conn: &Connection,
    org: OrgId,
    bot: Option<BotId>,
    metric: &str,
    day: &str,
    n: i64,
) -> rusqlite::Result<()> {
    if n <= 0 {
        return Ok(());
    }
    conn.prepare_cached(
        "INSERT INTO usage_tracking (organization_id, bot_id, metric_type, day, count) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (organization_id, ifnull(bot_id, 0), metric_type, day) DO UPDATE SET count = count + excluded.count",
    )?
    .execute(params![org, bot, metric, day, n])?;
    Ok(())
}

/// Sets a gauge's value for today (organization level).
pub fn set_gauge(conn: &Connection, org: OrgId, metric: Metric, value: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO usage_tracking (organization_id, bot_id, metric_type, day, count) VALUES (?1, NULL, ?2, ?3, ?4)
         ON CONFLICT (organization_id, ifnull(bot_id, 0), metric_type, day) DO UPDATE SET count = excluded.count",
    )?
    .execute(params![org, metric.as_str(), today(), value.max(0)])?;
    Ok(())
}

/// Recomputes the knowledge storage gauge (after a document is added or deleted).
pub fn refresh_storage(conn: &Connection, org: OrgId) -> AppResult<()> {
    let bytes = Limit::KnowledgeStorageBytes.used(conn, org)?;
    set_gauge(conn, org, Metric::KnowledgeStorageBytes, bytes)?;
    alert_if_crossed(conn, org, Limit::KnowledgeStorageBytes)
}

/// Recomputes the seats gauge (after a member joins or leaves).
pub fn refresh_seats(conn: &Connection, org: OrgId) -> AppResult<()> {
    let seats = Limit::Seats.used(conn, org)?;
    set_gauge(conn, org, Metric::Seats, seats)?;
    alert_if_crossed(conn, org, Limit::Seats)
}

/// Records an LLM call: its tokens and cost (micro-USD), per bot when known.
/// The model layer calls it after every completion; check the allowance
/// first with `limits::check(conn, org, Limit::LlmTokensPerMonth, n)`.
pub fn record_llm(conn: &Connection, org: OrgId, bot: Option<BotId>, tokens: i64, cost_micros: i64) -> AppResult<()> {
    add(conn, org, bot, Metric::LlmTokens, tokens)?;
    add(conn, org, bot, Metric::LlmCostMicros, cost_micros)?;
    alert_if_crossed(conn, org, Limit::LlmTokensPerMonth)
}

/// Records voice minutes (for the voice channel).
pub fn record_voice_minutes(conn: &Connection, org: OrgId, bot: Option<BotId>, minutes: i64) -> AppResult<()> {
    add(conn, org, bot, Metric::VoiceMinutes, minutes)?;
    alert_if_crossed(conn, org, Limit::VoiceMinutesPerMonth)
}

/// Records one token-authenticated API request.
pub fn record_api_call(conn: &Connection, org: OrgId) -> rusqlite::Result<()> {
    add(conn, org, None, Metric::ApiCall, 1)
}

/// The idempotency key of an alert (messages keep their original key).
#[must_use]
pub fn alert_key(org: OrgId, limit: Limit, month: &str, percent: u8) -> String {
    if limit == Limit::MessagesPerMonth {
        format!("usage_alert:{org}:{month}:{percent}")
    } else {
        format!("usage_alert:{org}:{month}:{}:{percent}", limit.name())
    }
}

/// Queues the 80 % or 100 % alert of a limit if usage has reached it and it
/// was not sent this month (in the caller's transaction).
pub fn alert_if_crossed(conn: &Connection, org: OrgId, limit: Limit) -> AppResult<()> {
    let Some(allowed) = limits::allowance(conn, org, limit)? else { return Ok(()) };
    if allowed <= 0 {
        return Ok(());
    }
    let used = limit.used(conn, org)?;
    let percent = used.saturating_mul(100) / allowed;
    let level: u8 = if percent >= 100 {
        100
    } else if percent >= 80 {
        80
    } else {
        return Ok(());
    };
    let month = current_month();
    let key = alert_key(org, limit, &month, level);
    if crate::conversations::store::job_key_exists(conn, &key)? {
        return Ok(());
    }
    queue_alert(conn, org, limit, &month, level, used, allowed)
}

/// Queues one alert job with its activity row (idempotent by key).
pub fn queue_alert(
    conn: &Connection,
    org: OrgId,
    limit: Limit,
    month: &str,
    level: u8,
    used: i64,
    allowed: i64,
) -> AppResult<()> {
    let key = alert_key(org, limit, month, level);
    if crate::conversations::store::job_key_exists(conn, &key)? {
        return Ok(());
    }
    let metric = if limit == Limit::MessagesPerMonth { "messages" } else { limit.name() };
    let details = json!({ "metric": metric, "limit": limit.name(), "month": month, "percent": level,
                          "used": used, "allowed": allowed });
    crate::conversations::store::activity(
        conn,
        org,
        &format!("usage.{metric}_{level}_percent"),
        "organization",
        Some(org.0),
        &details.to_string(),
    )?;
    let mut job = Enqueue::new(Some(org), crate::conversations::runtime::usage::ALERT_JOB, details);
    job.idempotency_key = Some(key);
    Queue::enqueue_in(conn, &job)?;
    Ok(())
}

/// One metric of one month.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct UsageFigure {
    /// `message_received`, `message_sent`, `api_call`, `llm_tokens`,
    /// `llm_cost_micros`, `voice_minutes`, `knowledge_storage_bytes`, `seats`.
    pub metric: &'static str,
    /// Sum over the month (gauges: the month's highest daily value).
    pub used: i64,
    /// The plan's limit on it (`null`: unlimited, not limited, or limits off).
    pub limit: Option<i64>,
    /// `used` as a percentage of `limit`.
    pub percent: Option<f64>,
}

/// The metrics of one month.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct UsageMonth {
    /// `YYYY-MM`.
    pub month: String,
    pub metrics: Vec<UsageFigure>,
}

/// `GET /orgs/{org_id}/usage`.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct UsageReport {
    pub from: String,
    pub to: String,
    /// The organization's plan (`organizations.plan_tier`).
    pub plan: Option<String>,
    /// Whether plan limits are enforced on this server.
    pub limits_enforced: bool,
    /// Every month from `from` to `to`, oldest first. Limits are the current plan's.
    pub months: Vec<UsageMonth>,
}

/// Usage per month and metric from the `user_usage_summary` view, with the
/// limits of the plan from `user_subscription_details`.
pub fn report(conn: &Connection, tenant: &crate::http::Tenant, from: &str, to: &str) -> AppResult<UsageReport> {
    let org = tenant.org_id();
    let plan: Option<String> = rusqlite::OptionalExtension::optional(conn.query_row(
        "SELECT plan_tier FROM user_subscription_details WHERE organization_id = ?1",
        [org],
        |r| r.get(0),
    ))?;
    let enforced = limits::enforced(conn)?;
    let mut allowed = std::collections::HashMap::new();
    for m in Metric::ALL {
        if let Some(l) = m.limit() {
            allowed.insert(m, limits::allowance(conn, org, l)?);
        }
    }
    let mut used: std::collections::HashMap<(String, String), i64> = std::collections::HashMap::new();
    {
        let mut stmt = conn.prepare_cached(
            "SELECT month, metric_type, total_count FROM user_usage_summary
             WHERE organization_id = ?1 AND month BETWEEN ?2 AND ?3",
        )?;
        let rows = stmt.query_map(params![org, from, to], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))?;
        for row in rows {
            let (k, v) = row?;
            used.insert(k, v);
        }
    }
    let mut months = Vec::new();
    let mut cur = chrono::NaiveDate::parse_from_str(&format!("{from}-01"), "%Y-%m-%d")
        .map_err(|_| crate::error::AppError::validation("from", "must be a month like 2026-01"))?;
    loop {
        let month = cur.format("%Y-%m").to_string();
        if month.as_str() > to {
            break;
        }
        let metrics = Metric::ALL
            .iter()
            .map(|m| {
                let u = used.get(&(month.clone(), m.as_str().to_owned())).copied().unwrap_or(0);
                let limit = allowed.get(m).copied().flatten();
                #[allow(clippy::cast_precision_loss, reason = "a percentage for display")]
                let percent =
                    limit.map(|l| if l == 0 { if u > 0 { 100.0 } else { 0.0 } } else { u as f64 * 100.0 / l as f64 });
                UsageFigure { metric: m.as_str(), used: u, limit, percent }
            })
            .collect();
        months.push(UsageMonth { month, metrics });
        match cur.checked_add_months(chrono::Months::new(1)) {
            Some(next) => cur = next,
            None => break,
        }
    }
    Ok(UsageReport { from: from.to_owned(), to: to.to_owned(), plan, limits_enforced: enforced, months })
}

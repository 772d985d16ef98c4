//! SQL of customer health: the platform's customers (organizations other
//! than the operator's) with their signals, and `customer_health_scores`.
//! The signals read the usage, session, conversation and billing tables
//! directly (a read model over several domains, like the analytics rollups).

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::Value;

use super::model::Facts;
use crate::ids::OrgId;

/// A customer organization of the platform.
#[derive(Debug, Clone)]
pub struct Customer {
    pub org: i64,
    pub name: String,
    pub email: String,
    pub subscription_status: Option<String>,
    pub plan: String,
    /// When it churned (subscription canceled): the labels of the model.
    pub canceled_at: Option<String>,
    pub created_at: String,
}

/// The customer id of an organization in the operator's recovery data.
#[must_use]
pub fn customer_id(org: i64) -> String {
    format!("org-{org}")
}

/// Every organization but the operator's.
pub fn customers(conn: &Connection, operator: OrgId) -> rusqlite::Result<Vec<Customer>> {
    let mut stmt = conn.prepare(
        "SELECT o.id, o.name, u.email, s.status, o.plan_tier,
                CASE WHEN s.status = 'canceled' THEN coalesce(s.canceled_at, s.updated_at) END, o.created_at
         FROM organizations o JOIN users u ON u.id = o.owner_id
         LEFT JOIN user_subscriptions s ON s.organization_id = o.id
         WHERE o.id <> ?1 ORDER BY o.id",
    )?;
    stmt.query_map([operator], |r| {
        Ok(Customer {
            org: r.get(0)?,
            name: r.get(1)?,
            email: r.get(2)?,
            subscription_status: r.get(3)?,
            plan: r.get(4)?,
            canceled_at: r.get(5)?,
            created_at: r.get(6)?,
        })
    })?
    .collect()
}

/// Usage of `org` on days `[from, to)` (`YYYY-MM-DD`).
pub fn usage(conn: &Connection, org: i64, from: &str, to: &str) -> rusqlite::Result<f64> {
    conn.query_row(
        "SELECT coalesce(sum(count), 0) FROM usage_tracking WHERE organization_id = ?1 AND day >= ?2 AND day < ?3",
        params![org, from, to],
        |r| r.get::<_, i64>(0),
    )
    .map(|v| {
        #[allow(clippy::cast_precision_loss, reason = "counts")]
        let f = v as f64;
        f
    })
}

/// The last day with usage on or before `day`.
pub fn last_usage_day(conn: &Connection, org: i64, day: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT max(day) FROM usage_tracking WHERE organization_id = ?1 AND day <= ?2 AND count > 0",
        params![org, day],
        |r| r.get(0),
    )
}

#[allow(clippy::cast_precision_loss, reason = "counts")]
fn count(conn: &Connection, sql: &str, p: impl rusqlite::Params) -> rusqlite::Result<f64> {
    conn.query_row(sql, p, |r| r.get::<_, i64>(0)).map(|v| v as f64)
}

/// The facts of `org` as of `at` (RFC 3339), `day` its date.
pub fn facts(conn: &Connection, org: i64, at: &str) -> rusqlite::Result<Facts> {
    let t = chrono::DateTime::parse_from_rfc3339(at).map(|t| t.with_timezone(&chrono::Utc)).unwrap_or_default();
    let d = |days: i64| (t - chrono::Duration::days(days)).format("%Y-%m-%d").to_string();
    let ts = |days: i64| crate::db::format_timestamp(t - chrono::Duration::days(days));
    let tomorrow = d(-1);
    let usage_recent = usage(conn, org, &d(13), &tomorrow)?;
    let usage_before = usage(conn, org, &d(27), &d(13))?;
    let usage_30d = usage(conn, org, &d(29), &tomorrow)?;
    let logins_30d = count(
        conn,
        "SELECT count(*) FROM user_sessions s JOIN organization_members m ON m.user_id = s.user_id
         WHERE m.organization_id = ?1 AND s.created_at >= ?2 AND s.created_at < ?3",
        params![org, ts(30), at],
    )?;
    let (conversations, handoffs, csat): (i64, i64, Option<f64>) = conn.query_row(
        "SELECT count(*), coalesce(sum(handoff_at IS NOT NULL), 0), avg(csat) FROM conversations
         WHERE organization_id = ?1 AND created_at >= ?2 AND created_at < ?3",
        params![org, ts(30), at],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let payment_failures_90d = count(
        conn,
        "SELECT count(*) FROM payment_history WHERE organization_id = ?1 AND status = 'failed' AND created_at >= ?2 AND created_at < ?3",
        params![org, ts(90), at],
    )?;
    let plan_changes_90d = count(
        conn,
        "SELECT count(*) FROM billing_events WHERE organization_id = ?1 AND event_type = 'customer.subscription.updated'
         AND outcome = 'applied' AND received_at >= ?2 AND received_at < ?3",
        params![org, ts(90), at],
    )?;
    let last = last_usage_day(conn, org, &d(0))?;
    let days_inactive = last
        .and_then(|l| chrono::NaiveDate::parse_from_str(&l, "%Y-%m-%d").ok())
        .map_or(90, |l| (t.date_naive() - l).num_days().clamp(0, 90));
    #[allow(clippy::cast_precision_loss, reason = "counts")]
    let facts = Facts {
        usage_recent,
        usage_before,
        usage_30d,
        logins_30d,
        conversations_30d: conversations as f64,
        handoffs_30d: handoffs as f64,
        csat_avg: csat,
        payment_failures_90d,
        plan_changes_90d,
        days_inactive: days_inactive as f64,
    };
    Ok(facts)
}

/// The stored churn probability and score of a customer.
pub fn previous(conn: &Connection, operator: OrgId, customer: &str) -> rusqlite::Result<Option<(f64, i64)>> {
    conn.query_row(
        "SELECT churn_probability, health_score FROM customer_health_scores WHERE organization_id = ?1 AND customer_id = ?2",
        params![operator, customer],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

/// A score to store.
pub struct NewScore<'a> {
    pub customer: &'a str,
    pub email: &'a str,
    pub name: &'a str,
    pub score: i64,
    pub grade: &'a str,
    pub probability: f64,
    pub level: &'a str,
    pub engagement: i64,
    pub facts: &'a Facts,
    pub last_activity: Option<&'a str>,
    pub subscription_status: Option<&'a str>,
    pub plan: &'a str,
    pub risk_factors: &'a Value,
    pub breakdown: &'a Value,
    pub model_version: &'a str,
    pub confidence: f64,
    pub trend: &'a str,
    pub previous: Option<i64>,
    pub next_at: &'a str,
}

/// Inserts or updates the score (the history trigger keeps the old ones).
#[allow(clippy::cast_possible_truncation, reason = "counts held in f64")]
pub fn upsert(conn: &Connection, operator: OrgId, s: &NewScore<'_>) -> rusqlite::Result<usize> {
    conn.execute(
        "INSERT INTO customer_health_scores (organization_id, customer_id, customer_email, customer_name, health_score,
            health_grade, churn_probability, churn_risk_level, engagement_score, last_activity_at, days_since_activity,
            session_count_30d, action_count_30d, subscription_status, subscription_plan, payment_failures_count,
            satisfaction_score, support_tickets_30d, risk_factors, score_breakdown, model_version, confidence_score,
            score_trend, previous_score, score_change, calculated_at, next_calculation_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23,
                 ?24, ?5 - ?24, strftime('%Y-%m-%dT%H:%M:%fZ','now'), ?25)
         ON CONFLICT (organization_id, customer_id) DO UPDATE SET
            customer_email = excluded.customer_email, customer_name = excluded.customer_name,
            health_score = excluded.health_score, health_grade = excluded.health_grade,
            churn_probability = excluded.churn_probability, churn_risk_level = excluded.churn_risk_level,
            engagement_score = excluded.engagement_score, last_activity_at = excluded.last_activity_at,
            days_since_activity = excluded.days_since_activity, session_count_30d = excluded.session_count_30d,
            action_count_30d = excluded.action_count_30d, subscription_status = excluded.subscription_status,
            subscription_plan = excluded.subscription_plan, payment_failures_count = excluded.payment_failures_count,
            satisfaction_score = excluded.satisfaction_score, support_tickets_30d = excluded.support_tickets_30d,
            risk_factors = excluded.risk_factors, score_breakdown = excluded.score_breakdown,
            model_version = excluded.model_version, confidence_score = excluded.confidence_score,
            score_trend = excluded.score_trend, previous_score = excluded.previous_score,
            score_change = excluded.score_change, calculated_at = excluded.calculated_at,
            next_calculation_at = excluded.next_calculation_at,
            updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')",
        params![
            operator,
            s.customer,
            s.email,
            s.name,
            s.score,
            s.grade,
            s.probability,
            s.level,
            s.engagement,
            s.last_activity,
            s.facts.days_inactive as i64,
            s.facts.logins_30d as i64,
            s.facts.usage_30d as i64,
            s.subscription_status,
            s.plan,
            s.facts.payment_failures_90d as i64,
            s.facts.csat_avg,
            s.facts.handoffs_30d as i64,
            s.risk_factors.to_string(),
            s.breakdown.to_string(),
            s.model_version,
            s.confidence,
            s.trend,
            s.previous.unwrap_or(s.score),
            s.next_at,
        ],
    )
}

const COLUMNS: &str = "id, customer_id, customer_email, customer_name, health_score, health_grade, churn_probability, \
     churn_risk_level, engagement_score, days_since_activity, session_count_30d, action_count_30d, payment_failures_count, \
     satisfaction_score, support_tickets_30d, subscription_status, subscription_plan, risk_factors, score_breakdown, \
     model_version, score_trend, previous_score, score_change, calculated_at";

/// A stored score.
#[derive(Debug, Clone)]
pub struct Stored {
    pub id: i64,
    pub customer_id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub score: i64,
    pub grade: String,
    pub probability: f64,
    pub level: String,
    pub engagement: Option<i64>,
    pub days_inactive: Option<i64>,
    pub logins_30d: i64,
    pub usage_30d: i64,
    pub payment_failures: i64,
    pub csat: Option<f64>,
    pub handoffs_30d: i64,
    pub subscription_status: Option<String>,
    pub plan: Option<String>,
    pub risk_factors: Value,
    pub breakdown: Value,
    pub model_version: Option<String>,
    pub trend: Option<String>,
    pub previous: Option<i64>,
    pub change: Option<i64>,
    pub calculated_at: String,
}

fn json_col(r: &Row<'_>, i: usize) -> rusqlite::Result<Value> {
    let s: String = r.get(i)?;
    Ok(serde_json::from_str(&s).unwrap_or(Value::Null))
}

fn row(r: &Row<'_>) -> rusqlite::Result<Stored> {
    Ok(Stored {
        id: r.get(0)?,
        customer_id: r.get(1)?,
        email: r.get(2)?,
        name: r.get(3)?,
        score: r.get(4)?,
        grade: r.get(5)?,
        probability: r.get(6)?,
        level: r.get(7)?,
        engagement: r.get(8)?,
        days_inactive: r.get(9)?,
        logins_30d: r.get(10)?,
        usage_30d: r.get(11)?,
        payment_failures: r.get(12)?,
        csat: r.get(13)?,
        handoffs_30d: r.get(14)?,
        subscription_status: r.get(15)?,
        plan: r.get(16)?,
        risk_factors: json_col(r, 17)?,
        breakdown: json_col(r, 18)?,
        model_version: r.get(19)?,
        trend: r.get(20)?,
        previous: r.get(21)?,
        change: r.get(22)?,
        calculated_at: r.get(23)?,
    })
}

/// Scores of the organization, by id after `after`; `at_risk`: high and critical only.
pub fn list(
    conn: &Connection,
    org: OrgId,
    at_risk: bool,
    after: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<Stored>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM customer_health_scores WHERE organization_id = ?1 AND (?2 IS NULL OR id > ?2)
           AND (?3 = 0 OR churn_risk_level IN ('high','critical')) ORDER BY id LIMIT ?4"
    ))?;
    stmt.query_map(params![org, after, at_risk, limit], row)?.collect()
}

pub fn find(conn: &Connection, org: OrgId, id: i64) -> rusqlite::Result<Option<Stored>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM customer_health_scores WHERE organization_id = ?1 AND id = ?2"),
        params![org, id],
        row,
    )
    .optional()
}

/// One recorded score: (recorded at, score, probability, level).
pub type HistoryRow = (String, i64, Option<f64>, Option<String>);

/// The score history of a customer, newest first.
pub fn history(conn: &Connection, org: OrgId, id: i64) -> rusqlite::Result<Vec<HistoryRow>> {
    let mut stmt = conn.prepare(
        "SELECT recorded_at, health_score, churn_probability, churn_risk_level FROM customer_health_score_history
         WHERE organization_id = ?1 AND customer_health_id = ?2 ORDER BY id DESC LIMIT 90",
    )?;
    stmt.query_map(params![org, id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect()
}

/// Scores of customers that no longer exist (organization deleted).
pub fn prune(conn: &Connection, operator: OrgId, keep: &[String]) -> rusqlite::Result<usize> {
    let keep = serde_json::to_string(keep).unwrap_or_else(|_| "[]".to_owned());
    conn.execute(
        "DELETE FROM customer_health_scores WHERE organization_id = ?1 AND customer_id LIKE 'org-%'
           AND customer_id NOT IN (SELECT value FROM json_each(?2))",
        params![operator, keep],
    )
}

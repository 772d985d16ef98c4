//! Plan limits, checked where the work happens.
//!
//! [`check`] runs on the connection of the write it guards (inside the same
//! `BEGIN IMMEDIATE` transaction), so a refusal leaves no partial row and two
//! concurrent writers cannot both slip under a limit. It reads the plan on
//! every call: a plan change applies to the next request.
//!
//! Whether limits apply at all is the `settings` row `billing.enforce_limits`
//! (written at start-up from `billing.enabled || billing.enforce_limits`; the
//! bots trigger reads the same row), so store code needs no configuration.

use rusqlite::{Connection, OptionalExtension};
use serde_json::json;

use super::plans::PlanLimits;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::ids::OrgId;

/// One limit of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    Bots,
    MessagesPerMonth,
    KnowledgeStorageBytes,
    Seats,
    LlmTokensPerMonth,
    Channels,
    VoiceMinutesPerMonth,
}

impl Limit {
    pub const ALL: [Limit; 7] = [
        Limit::Bots,
        Limit::MessagesPerMonth,
        Limit::KnowledgeStorageBytes,
        Limit::Seats,
        Limit::LlmTokensPerMonth,
        Limit::Channels,
        Limit::VoiceMinutesPerMonth,
    ];

    /// The API name (`details.limit` of `plan_limit_exceeded`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Limit::Bots => "bots",
            Limit::MessagesPerMonth => "messages_per_month",
            Limit::KnowledgeStorageBytes => "knowledge_storage_bytes",
            Limit::Seats => "seats",
            Limit::LlmTokensPerMonth => "llm_tokens_per_month",
            Limit::Channels => "channels",
            Limit::VoiceMinutesPerMonth => "voice_minutes_per_month",
        }
    }

    /// The plan's allowance (`None` = unlimited).
    #[must_use]
    pub fn allowed(self, l: &PlanLimits) -> Option<i64> {
        match self {
            Limit::Bots => l.bots,
            Limit::MessagesPerMonth => l.messages_per_month,
            Limit::KnowledgeStorageBytes => l.knowledge_storage_bytes,
            Limit::Seats => l.seats,
            Limit::LlmTokensPerMonth => l.llm_tokens_per_month,
            Limit::Channels => l.channels,
            Limit::VoiceMinutesPerMonth => l.voice_minutes_per_month,
        }
    }

    /// The `usage_tracking` metric of a monthly limit.
    #[must_use]
    pub fn monthly_metric(self) -> Option<&'static str> {
        match self {
            Limit::MessagesPerMonth => Some("message_received"),
            Limit::LlmTokensPerMonth => Some("llm_tokens"),
            Limit::VoiceMinutesPerMonth => Some("voice_minutes"),
            Limit::Bots | Limit::KnowledgeStorageBytes | Limit::Seats | Limit::Channels => None,
        }
    }

    /// What the organization uses now (this month, for the monthly limits;
    /// live rows for the others).
    pub fn used(self, conn: &Connection, org: OrgId) -> rusqlite::Result<i64> {
        if let Some(metric) = self.monthly_metric() {
            let first_day = format!("{}-01", super::usage::current_month());
            return conn
                .prepare_cached(
                    "SELECT coalesce(sum(count), 0) FROM usage_tracking
                     WHERE organization_id = ?1 AND metric_type = ?2 AND day >= ?3",
                )?
                .query_row(rusqlite::params![org, metric, first_day], |r| r.get(0));
        }
        let sql = match self {
            Limit::Bots => "SELECT count(*) FROM bots WHERE organization_id = ?1",
            Limit::KnowledgeStorageBytes => {
                "SELECT coalesce(sum(total_bytes), 0) FROM knowledge_bases WHERE organization_id = ?1"
            }
            Limit::Seats => {
                "SELECT count(*) FROM organization_members WHERE organization_id = ?1 AND status = 'active'"
            }
            Limit::Channels => "SELECT count(*) FROM channels WHERE organization_id = ?1",
            Limit::MessagesPerMonth | Limit::LlmTokensPerMonth | Limit::VoiceMinutesPerMonth => {
                "SELECT 0 WHERE ?1 IS NULL"
            }
        };
        conn.prepare_cached(sql)?.query_row([org], |r| r.get(0))
    }
}

/// Whether plan limits are enforced on this instance.
pub fn enforced(conn: &Connection) -> rusqlite::Result<bool> {
    let v: Option<String> = conn
        .prepare_cached("SELECT value FROM settings WHERE key = 'billing.enforce_limits'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    Ok(v.as_deref() != Some("false"))
}

/// Records whether limits are enforced (at start-up, from the configuration).
pub fn set_enforced(conn: &Connection, on: bool) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO settings (key, value) VALUES ('billing.enforce_limits', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [if on { "true" } else { "false" }],
    )?;
    Ok(())
}

/// The organization's allowance for a limit (`None` = unlimited, or limits
/// are not enforced).
pub fn allowance(conn: &Connection, org: OrgId, limit: Limit) -> rusqlite::Result<Option<i64>> {
    if !enforced(conn)? {
        return Ok(None);
    }
    let col = match limit {
        Limit::Bots => "max_bots",
        Limit::MessagesPerMonth => "max_messages_per_month",
        Limit::KnowledgeStorageBytes => "max_knowledge_storage_bytes",
        Limit::Seats => "max_seats",
        Limit::LlmTokensPerMonth => "max_llm_tokens_per_month",
        Limit::Channels => "max_channels",
        Limit::VoiceMinutesPerMonth => "max_voice_minutes_per_month",
    };
    let v: Option<i64> = conn
        .prepare_cached(&format!(
            "SELECT p.{col} FROM organizations o JOIN subscription_plans p ON p.name = o.plan_tier WHERE o.id = ?1"
        ))?
        .query_row([org], |r| r.get(0))
        .optional()?;
    Ok(v.filter(|v| *v >= 0))
}

/// Refuses (402 `plan_limit_exceeded`, `details.limit`, `used`, `allowed`)
/// when adding `n` would take the organization over its plan's limit. Call it
/// inside the transaction of the write it guards.
pub fn check(conn: &Connection, org: OrgId, limit: Limit, n: i64) -> AppResult<()> {
    let Some(allowed) = allowance(conn, org, limit)? else { return Ok(()) };
    let used = limit.used(conn, org)?;
    if used.saturating_add(n) > allowed {
        return Err(exceeded(limit, used, allowed));
    }
    Ok(())
}

/// The error of a limit reached.
#[must_use]
pub fn exceeded(limit: Limit, used: i64, allowed: i64) -> AppError {
    AppError::new(
        ErrorCode::PlanLimitExceeded,
        format!(
            "the organization's plan allows {allowed} {} (used: {used}); upgrade the plan for more",
            limit.name().replace('_', " ")
        ),
    )
    .with_details(json!({ "limit": limit.name(), "used": used, "allowed": allowed }))
}

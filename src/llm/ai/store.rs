//! SQL of `ai_configurations`, `llm_calls` and the bot's LLM usage counters.

use rusqlite::{Connection, params};

use super::model::{AiConfigRow, AiUsageRow, CONFIG_COLUMNS, CallRecord};
use crate::db::query_opt;
use crate::http::Tenant;
use crate::ids::BotId;

pub fn find(conn: &Connection, tenant: &Tenant, bot: BotId) -> rusqlite::Result<Option<AiConfigRow>> {
    query_opt(
        conn,
        &format!("SELECT {CONFIG_COLUMNS} FROM ai_configurations WHERE bot_id = ?1 AND organization_id = ?2"),
        params![bot, tenant.org_id()],
    )
}

pub fn upsert(conn: &Connection, tenant: &Tenant, bot: BotId, c: &AiConfigRow) -> rusqlite::Result<()> {
    crate::db::execute_cached(conn,
        "INSERT INTO ai_configurations (organization_id, bot_id, provider_id, fallback_provider_id, model, temperature,
                                        max_tokens, system_prompt, monthly_token_budget, monthly_cost_budget_micros, is_enabled)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (bot_id) DO UPDATE SET provider_id = excluded.provider_id,
             fallback_provider_id = excluded.fallback_provider_id, model = excluded.model,
             temperature = excluded.temperature, max_tokens = excluded.max_tokens,
             system_prompt = excluded.system_prompt, monthly_token_budget = excluded.monthly_token_budget,
             monthly_cost_budget_micros = excluded.monthly_cost_budget_micros, is_enabled = excluded.is_enabled
         WHERE ai_configurations.organization_id = excluded.organization_id",
        params![
            tenant.org_id(),
            bot,
            c.provider_id,
            c.fallback_provider_id,
            c.model,
            c.temperature,
            c.max_tokens,
            c.system_prompt,
            c.monthly_token_budget,
            c.monthly_cost_budget_micros,
            c.is_enabled
        ],
    )?;
    Ok(())
}

/// This month's (tokens, cost in micros) of a bot, from `usage_tracking`.
pub fn month_usage(conn: &Connection, tenant: &Tenant, bot: BotId, first_day: &str) -> rusqlite::Result<(i64, i64)> {
    crate::db::query_row_cached(
        conn,
        "SELECT coalesce(sum(CASE WHEN metric_type = 'llm_tokens' THEN count END), 0),
                coalesce(sum(CASE WHEN metric_type = 'llm_cost_micros' THEN count END), 0)
         FROM usage_tracking
         WHERE organization_id = ?1 AND bot_id = ?2 AND metric_type IN ('llm_tokens', 'llm_cost_micros') AND day >= ?3",
        params![tenant.org_id(), bot, first_day],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Records one call: its `llm_calls` row and the day's counters (through
/// the billing meter, which raises the plan's usage alerts).
pub fn record(conn: &Connection, tenant: &Tenant, bot: BotId, c: &CallRecord) -> crate::error::AppResult<()> {
    let tokens = i64::try_from(c.usage.prompt_tokens + c.usage.completion_tokens).unwrap_or(i64::MAX);
    let cost = i64::try_from(c.cost_micros).unwrap_or(i64::MAX);
    crate::db::execute_cached(
        conn,
        "INSERT INTO llm_calls (organization_id, bot_id, provider_id, model, purpose, status, prompt_tokens,
                                completion_tokens, cost_micros, latency_ms, attempts, fell_back, error_code)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        params![
            tenant.org_id(),
            bot,
            c.provider_id,
            c.model,
            c.purpose,
            if c.ok { "ok" } else { "failed" },
            i64::try_from(c.usage.prompt_tokens).unwrap_or(i64::MAX),
            i64::try_from(c.usage.completion_tokens).unwrap_or(i64::MAX),
            cost,
            i64::try_from(c.latency_ms).unwrap_or(i64::MAX),
            c.attempts.max(1),
            c.fell_back,
            c.error_code
        ],
    )?;
    if tokens > 0 || cost > 0 {
        crate::billing::usage::record_llm(conn, tenant.org_id(), Some(bot), tokens, cost)?;
    }
    Ok(())
}

/// The bot's calls per day and model between two days (included).
pub fn usage_rows(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    from: &str,
    to: &str,
) -> rusqlite::Result<Vec<AiUsageRow>> {
    let mut stmt = conn.prepare(
        "SELECT substr(created_at, 1, 10) AS day, model, count(*) AS calls,
                sum(status = 'failed') AS failed_calls, sum(prompt_tokens) AS prompt_tokens,
                sum(completion_tokens) AS completion_tokens, sum(cost_micros) AS cost_micros
         FROM llm_calls
         WHERE organization_id = ?1 AND bot_id = ?2 AND created_at >= ?3 AND created_at < date(?4, '+1 day')
         GROUP BY day, model ORDER BY day, model",
    )?;
    let rows = stmt.query_map(params![tenant.org_id(), bot, from, to], |r| {
        let prompt: i64 = r.get("prompt_tokens")?;
        let completion: i64 = r.get("completion_tokens")?;
        Ok(AiUsageRow {
            day: r.get("day")?,
            model: r.get("model")?,
            calls: r.get("calls")?,
            failed_calls: r.get("failed_calls")?,
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt + completion,
            cost_micros: r.get("cost_micros")?,
        })
    })?;
    rows.collect()
}

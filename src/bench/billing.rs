//! `bench billing`: the cost of metering on the runtime (flow-only turns
//! per second with and without counting usage against a plan with limits;
//! target < 5 %) and the usage page's query (p95) over 12 months of usage
//! rows of 1,000 organizations.

use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use rusqlite::params;
use serde_json::{Value, json};

use super::runtime::{FLOW_MESSAGES, FLOW_ONLY, new_bot, publish, setup_org};
use super::{Report, median, percentile};
use crate::app::AppState;
use crate::config::Config;
use crate::conversations::runtime::{ActArgs, Action, ConvRef};
use crate::flows::service::Source;
use crate::http::Tenant;
use crate::ids::{BotId, OrgId};

#[derive(Debug, Args)]
pub struct BillingArgs {
    /// Flow-only turns per measured round (three rounds with metering, three without).
    #[arg(long, default_value_t = 5_000)]
    pub turns: usize,
    /// Organizations with usage rows for the usage query.
    #[arg(long, default_value_t = 1_000)]
    pub orgs: usize,
    /// Usage queries timed.
    #[arg(long, default_value_t = 500)]
    pub queries: usize,
}

/// Concurrent conversations of the throughput rounds.
const CONCURRENCY: usize = 16;
/// Target: metering costs less than this share of flow-only throughput.
const OVERHEAD_TARGET_PCT: f64 = 5.0;
const METRICS: [&str; 6] =
    ["message_received", "message_sent", "api_call", "llm_tokens", "knowledge_storage_bytes", "seats"];

pub fn run(args: &BillingArgs) -> anyhow::Result<Report> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let dir = tempfile::tempdir()?;
    let mut config = Config { data: dir.path().join("bench.db"), ..Config::default() };
    config.ml.enabled = false;
    config.jobs.workers = 0;
    config.billing.enabled = true;
    let (state, _lock) = AppState::open(config).map_err(|e| anyhow::anyhow!("{e}"))?;
    crate::billing::apply_config(&state.db, &state.config.billing).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let org = setup_org(&state)?;
    // A real, large allowance: the check and the alert bookkeeping run on every turn.
    state
        .db
        .write_blocking(|tx| {
            tx.execute(
                "UPDATE subscription_plans SET max_messages_per_month = 1000000000 WHERE name = 'enterprise'",
                [],
            )?;
            Ok(())
        })
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let tenant = Tenant::system(org, "benchmark");
    let bot = new_bot(&state, org, "Billing bench")?;
    runtime.block_on(publish(&state, &tenant, bot, FLOW_ONLY))?;

    // Warm-up, then alternate rounds so drift hits both sides alike.
    runtime.block_on(rate(&state, &tenant, bot, "warm", args.turns.min(1_000), true))?;
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for round in 0..3 {
        off.push(runtime.block_on(rate(&state, &tenant, bot, &format!("off{round}"), args.turns, false))?);
        on.push(runtime.block_on(rate(&state, &tenant, bot, &format!("on{round}"), args.turns, true))?);
    }
    let (on_m, off_m) = (median(&mut on), median(&mut off));
    let overhead = if off_m > 0.0 { (off_m - on_m) / off_m * 100.0 } else { 0.0 };

    let (rows_written, mut latencies) = usage_query(&state, org, args.orgs, args.queries)?;
    let p50 = percentile(&mut latencies, 50.0);
    let p95 = percentile(&mut latencies, 95.0);

    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    let rows = vec![
        (
            "flow-only, metering off".to_owned(),
            format!("{off_m:.0} turns/s ({CONCURRENCY} conversations, median of 3)"),
        ),
        ("flow-only, metering on".to_owned(), format!("{on_m:.0} turns/s")),
        (
            "metering overhead".to_owned(),
            format!("{overhead:.1} % (target < {OVERHEAD_TARGET_PCT} %: {})", verdict(overhead < OVERHEAD_TARGET_PCT)),
        ),
        (
            format!("usage query, {} orgs × 12 months", args.orgs),
            format!("p50 {p50:.2} ms, p95 {p95:.2} ms ({rows_written} usage rows, {} queries)", latencies.len()),
        ),
    ];
    let json = json!({
        "metering": { "turns_per_s_off": r1(off_m), "turns_per_s_on": r1(on_m), "overhead_pct": r1(overhead),
                      "target_pct": OVERHEAD_TARGET_PCT, "met": overhead < OVERHEAD_TARGET_PCT,
                      "concurrency": CONCURRENCY, "turns_per_round": args.turns },
        "usage_query": { "orgs": args.orgs, "months": 12, "rows": rows_written, "queries": latencies.len(),
                         "p50_ms": r3(p50), "p95_ms": r3(p95) },
    });
    state.nlu.shutdown();
    Ok(Report { rows, json: Value::Object(json.as_object().cloned().unwrap_or_default()) })
}

fn r1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn r3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Flow-only turns per second over `turns` turns from `CONCURRENCY` conversations.
async fn rate(
    state: &AppState,
    tenant: &Tenant,
    bot: BotId,
    tag: &str,
    turns: usize,
    count_usage: bool,
) -> anyhow::Result<f64> {
    let per_conv = turns.div_ceil(CONCURRENCY).max(1);
    let state = Arc::new(state.clone());
    let args = |user: String, action: Action| ActArgs {
        tenant: tenant.clone(),
        bot,
        conversation: ConvRef::Key { channel: "api".into(), external_user_id: user, create: true },
        action,
        source: Source::Published,
        debug: false,
        count_usage,
        hook: None,
    };
    for i in 0..CONCURRENCY {
        state
            .runtime
            .act(&state, args(format!("{tag}-{i}"), Action::Start))
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(CONCURRENCY);
    for i in 0..CONCURRENCY {
        let state = state.clone();
        let mut make = Vec::with_capacity(per_conv);
        for n in 0..per_conv {
            make.push(args(
                format!("{tag}-{i}"),
                Action::Message(FLOW_MESSAGES[(i + n) % FLOW_MESSAGES.len()].to_owned()),
            ));
        }
        tasks.push(tokio::spawn(async move {
            for a in make {
                state.runtime.act(&state, a).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok((per_conv * CONCURRENCY) as f64 / started.elapsed().as_secs_f64())
}

/// Writes 12 months of usage (every metric on three days a month) for
/// `orgs` organizations, then times the usage report of random ones.
fn usage_query(state: &AppState, bench_org: OrgId, orgs: usize, queries: usize) -> anyhow::Result<(i64, Vec<f64>)> {
    let now = chrono::Utc::now().date_naive();
    let months: Vec<String> = (0..12u32)
        .filter_map(|m| now.checked_sub_months(chrono::Months::new(m)))
        .map(|d| d.format("%Y-%m").to_string())
        .collect();
    let ids: Vec<i64> = state
        .db
        .write_blocking(|tx| {
            let mut ids = Vec::with_capacity(orgs);
            let owner: i64 = tx.query_row("SELECT id FROM users LIMIT 1", [], |r| r.get(0))?;
            let mut insert = tx.prepare(
                "INSERT INTO usage_tracking (organization_id, bot_id, metric_type, day, count) VALUES (?1, NULL, ?2, ?3, ?4)",
            )?;
            for i in 0..orgs {
                tx.execute(
                    "INSERT INTO organizations (name, slug, owner_id, plan_tier) VALUES (?1, ?2, ?3, 'pro')",
                    params![format!("Usage {i}"), format!("usage-{i}"), owner],
                )?;
                let org = tx.last_insert_rowid();
                ids.push(org);
                for month in &months {
                    for day in ["03", "14", "27"] {
                        for (k, metric) in METRICS.iter().enumerate() {
                            insert.execute(params![org, metric, format!("{month}-{day}"), ((i + k) % 97 + 1) as i64])?;
                        }
                    }
                }
            }
            Ok(ids)
        })
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let rows: i64 = state
        .db
        .read_blocking(|c| {
            Ok(c.query_row("SELECT count(*) FROM usage_tracking WHERE organization_id != ?1", [bench_org], |r| {
                r.get(0)
            })?)
        })
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let (from, to) = (months.last().cloned().unwrap_or_default(), months.first().cloned().unwrap_or_default());
    let mut latencies = Vec::with_capacity(queries);
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..queries {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let org = OrgId(ids[(seed % ids.len().max(1) as u64) as usize]);
        let tenant = Tenant::system(org, "benchmark");
        let t = Instant::now();
        let report = state
            .db
            .read_blocking(|c| crate::billing::usage::report(c, &tenant, &from, &to))
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(report.months.len() == 12, "a report of 12 months");
    }
    Ok((rows, latencies))
}

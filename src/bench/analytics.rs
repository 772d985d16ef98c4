//! `botbuilder bench analytics`: dashboards at scale (DESIGN §12: p95
//! < 100 ms at 5 M messages).
//!
//! 1. **Generate** `--conversations` (default 500,000) conversations with
//!    `--messages` (default 5,000,000) transcript messages over `--months`
//!    (default 12) months into a temporary data file, spread over
//!    `--bots` bots and four channels, through the real schema and its
//!    triggers (message counters, the analytics dirty marks): prepared
//!    statements in transactions of 50,000 rows. Alongside, the runtime's
//!    analytics events (a session per conversation, 15 % hand-offs with a
//!    human reply, CSAT answers, fallbacks with their text and a vector,
//!    intents) and thumbs on 5 % of the answers. `--scale` multiplies both
//!    counts (e.g. `--scale 0.001` for a smoke test in a debug build).
//! 2. **Backfill**: the rollup job over every dirty hour, and the file size
//!    the rollup tables add (file size after a WAL checkpoint, before and after).
//! 3. **Catch-up**: one day of every bot marked dirty (what a day of downtime
//!    leaves) and rolled up again.
//! 4. **Dashboards**: the organization and bot overviews for 7, 30, 90 and
//!    365 days (day, week and month series, one with a channel filter),
//!    each run `--repeat` times: p50/p95/max per query and overall.
//!
//! `--keep FILE` keeps the generated data file; `--data FILE` measures such
//! a file again (after the migrations of the running build, e.g. a new
//! rollup level) without generating: steps 2 (what is pending), 3 and 4.

use std::time::Instant;

use clap::Args;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rusqlite::params;
use serde_json::{Value, json};

use super::runtime::{new_bot, setup_org};
use super::{Report, percentile};
use crate::analytics::model::OverviewQuery;
use crate::analytics::{rollup, service};
use crate::app::AppState;
use crate::config::{Config, LogConfig};
use crate::http::Tenant;
use crate::ids::BotId;

#[derive(Debug, Args)]
pub struct AnalyticsArgs {
    /// Conversations to generate (before `--scale`).
    #[arg(long, default_value_t = 500_000)]
    pub conversations: u64,
    /// Transcript messages to generate (before `--scale`).
    #[arg(long, default_value_t = 5_000_000)]
    pub messages: u64,
    /// Months of history, ending now.
    #[arg(long, default_value_t = 12)]
    pub months: u32,
    /// Bots of the organization.
    #[arg(long, default_value_t = 10)]
    pub bots: u32,
    /// Multiplies the conversation and message counts (0.001 for a smoke test).
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Runs of each dashboard query.
    #[arg(long, default_value_t = 20)]
    pub repeat: usize,
    /// Keep the generated data file at this path (it must not exist yet),
    /// to measure it again later with `--data`.
    #[arg(long, conflicts_with = "data")]
    pub keep: Option<std::path::PathBuf>,
    /// Measure a data file kept by `--keep` (migrated first) instead of
    /// generating one: pending rollups, the one-day catch-up and the dashboards.
    #[arg(long)]
    pub data: Option<std::path::PathBuf>,
}

/// The target of DESIGN §12: dashboard p95 in ms.
const TARGET_MS: f64 = 100.0;
/// Rows per generation transaction.
const CHUNK: u64 = 50_000;
const CHANNELS: [(&str, u32); 4] = [("widget", 60), ("telegram", 20), ("api", 10), ("whatsapp", 10)];
const INTENTS: [&str; 10] =
    ["greet", "hours", "track_order", "refund", "pricing", "cancel", "shipping", "password_reset", "thanks", "goodbye"];
const UNANSWERED: [&str; 12] = [
    "can I pay with bitcoin",
    "do you ship to mars",
    "what is your ceo's name",
    "is the store dog friendly",
    "can I book a demo on sunday",
    "where is my parcel",
    "do you have a student discount",
    "how do I delete my account",
    "can I change my delivery address",
    "what is the warranty on refurbished items",
    "is there a loyalty programme",
    "can I pick up in store",
];
const DIM: usize = 384;

fn unit(rng: &mut StdRng, base: &[f32], noise: f32) -> Vec<f32> {
    let mut v: Vec<f32> = base.iter().map(|x| x + noise * (rng.random::<f32>() - 0.5)).collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
    for x in &mut v {
        *x /= n;
    }
    v
}

fn pick_channel(rng: &mut StdRng) -> &'static str {
    let mut r = rng.random_range(0..100u32);
    for (c, w) in CHANNELS {
        if r < w {
            return c;
        }
        r -= w;
    }
    "widget"
}

fn ts(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

struct Generated {
    conversations: u64,
    messages: u64,
    events: u64,
    feedback: u64,
}

#[allow(clippy::too_many_lines, reason = "one generator, step by step")]
fn generate(
    state: &AppState,
    org: crate::ids::OrgId,
    bots: &[BotId],
    args: &AnalyticsArgs,
) -> anyhow::Result<Generated> {
    let conversations = ((args.conversations as f64 * args.scale).round() as u64).max(1);
    let messages = ((args.messages as f64 * args.scale).round() as u64).max(conversations * 2);
    let per_conv = messages as f64 / conversations as f64;
    let now = chrono::Utc::now();
    let span_secs = i64::from(args.months) * 30 * 86_400;
    let mut rng = StdRng::seed_from_u64(20);
    let topics: Vec<Vec<f32>> = (0..UNANSWERED.len()).map(|_| unit(&mut rng, &vec![0.0; DIM], 2.0)).collect();
    let mut out = Generated { conversations: 0, messages: 0, events: 0, feedback: 0 };
    let mut done = 0u64;
    let mut message_budget = messages;
    while done < conversations {
        let end = (done + CHUNK / (per_conv.ceil() as u64).max(1)).min(conversations);
        let (g, used) = state
            .db
            .write_blocking(|tx| {
                let mut conv = tx.prepare_cached(
                    "INSERT INTO conversations (organization_id, bot_id, channel, external_user_id, status, csat, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                )?;
                let mut msg = tx.prepare_cached(
                    "INSERT INTO widget_messages (organization_id, bot_id, conversation_id, session_id, role, content, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?;
                let mut ev = tx.prepare_cached(
                    "INSERT INTO analytics_events (organization_id, bot_id, conversation_id, channel, kind, value, label, embedding, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )?;
                let mut fb = tx.prepare_cached(
                    "INSERT INTO message_feedback (organization_id, bot_id, conversation_id, message_id, rating, source, message_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'widget', ?6)",
                )?;
                let mut g = Generated { conversations: 0, messages: 0, events: 0, feedback: 0 };
                let mut used = 0u64;
                for i in done..end {
                    let bot = bots[(i % bots.len() as u64) as usize];
                    let channel = pick_channel(&mut rng);
                    // Busier in the daytime: the hour is drawn twice and the later kept.
                    let day = rng.random_range(0..span_secs / 86_400);
                    let hour = rng.random_range(0..24i64).max(rng.random_range(6..24i64));
                    let start = now - chrono::Duration::seconds(span_secs) + chrono::Duration::seconds(day * 86_400 + hour * 3600 + rng.random_range(0..3600));
                    let start = start.min(now - chrono::Duration::hours(26));
                    let left = conversations - i;
                    let n = if left == 1 {
                        message_budget.saturating_sub(used).max(2)
                    } else {
                        let mean = (message_budget.saturating_sub(used)) as f64 / left as f64;
                        (rng.random_range(mean * 0.5..=mean * 1.5).round() as u64).max(2)
                    };
                    let handoff = rng.random_range(0..100) < 15;
                    let csat = (rng.random_range(0..100) < 40).then(|| rng.random_range(1..=5i64));
                    let end_user = format!("u{i}");
                    conv.execute(params![org, bot, channel, end_user, if handoff { "handoff" } else { "closed" }, csat, ts(start)])?;
                    let cid = tx.last_insert_rowid();
                    g.conversations += 1;
                    ev.execute(params![org, bot, cid, channel, "session", None::<f64>, None::<String>, None::<Vec<u8>>, ts(start)])?;
                    g.events += 1;
                    let mut t = start;
                    let handoff_at = n / 2;
                    for k in 0..n {
                        t += chrono::Duration::seconds(rng.random_range(2..40));
                        let role = if k % 2 == 0 {
                            "user"
                        } else if handoff && k > handoff_at {
                            "agent"
                        } else {
                            "bot"
                        };
                        let stamp = ts(t);
                        let text = if role == "user" { "a question from the end user" } else { "an answer" };
                        msg.execute(params![org, bot, cid, end_user, role, text, stamp])?;
                        let mid = tx.last_insert_rowid();
                        g.messages += 1;
                        if role == "user" {
                            if rng.random_range(0..100) < 20 {
                                let topic = rng.random_range(0..UNANSWERED.len());
                                let v = unit(&mut rng, &topics[topic], 0.3);
                                ev.execute(params![
                                    org, bot, cid, channel, "fallback", None::<f64>, UNANSWERED[topic],
                                    crate::ml::embedder::vector_bytes(&v), stamp
                                ])?;
                                g.events += 1;
                            } else if rng.random_range(0..100) < 60 {
                                let intent = INTENTS[rng.random_range(0..INTENTS.len())];
                                ev.execute(params![org, bot, cid, channel, "intent", None::<f64>, intent, None::<Vec<u8>>, stamp])?;
                                g.events += 1;
                            }
                        } else if role == "bot" && rng.random_range(0..100) < 5 {
                            let rating = if rng.random_range(0..100) < 70 { "up" } else { "down" };
                            fb.execute(params![org, bot, cid, mid, rating, stamp])?;
                            g.feedback += 1;
                        }
                        if handoff && k == handoff_at {
                            ev.execute(params![org, bot, cid, channel, "handoff", None::<f64>, None::<String>, None::<Vec<u8>>, stamp])?;
                            let wait = rng.random_range(5..900);
                            t += chrono::Duration::seconds(wait);
                            ev.execute(params![
                                org, bot, cid, channel, "first_reply", wait as f64, None::<String>, None::<Vec<u8>>, ts(t)
                            ])?;
                            g.events += 2;
                        }
                    }
                    if let Some(score) = csat {
                        ev.execute(params![org, bot, cid, channel, "csat", score as f64, None::<String>, None::<Vec<u8>>, ts(t)])?;
                        g.events += 1;
                    }
                    used += n;
                }
                Ok((g, used))
            })
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        message_budget = message_budget.saturating_sub(used);
        out.conversations += g.conversations;
        out.messages += g.messages;
        out.events += g.events;
        out.feedback += g.feedback;
        done = end;
    }
    Ok(out)
}

fn file_bytes(state: &AppState) -> anyhow::Result<u64> {
    state
        .db
        .write_blocking(|tx| {
            tx.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            Ok(())
        })
        .ok();
    let pages: (i64, i64, i64) = state
        .db
        .read_blocking(|c| {
            Ok(c.query_row(
                "SELECT (SELECT page_count FROM pragma_page_count), (SELECT page_size FROM pragma_page_size), (SELECT freelist_count FROM pragma_freelist_count)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?)
        })
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(((pages.0 - pages.2).max(0) * pages.1) as u64)
}

/// The organization and bots of a kept data file.
fn kept_bots(state: &AppState) -> anyhow::Result<(crate::ids::OrgId, Vec<BotId>)> {
    let found: Vec<(i64, i64)> = state
        .db
        .read_blocking(|c| {
            let mut stmt =
                c.prepare("SELECT organization_id, id FROM bots WHERE name LIKE 'Analytics bench %' ORDER BY id")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let org = found.first().map(|f| f.0).ok_or_else(|| anyhow::anyhow!("no benchmark bots in this data file"))?;
    Ok((crate::ids::OrgId(org), found.into_iter().map(|f| BotId(f.1)).collect()))
}

/// What a kept data file holds.
fn counted(state: &AppState) -> anyhow::Result<Generated> {
    state
        .db
        .read_blocking(|c| {
            Ok(c.query_row(
                "SELECT (SELECT count(*) FROM conversations), (SELECT count(*) FROM widget_messages),
                        (SELECT count(*) FROM analytics_events), (SELECT count(*) FROM message_feedback)",
                [],
                |r| {
                    let n = |i: usize| r.get::<_, i64>(i).map(|v| u64::try_from(v).unwrap_or(0));
                    Ok(Generated { conversations: n(0)?, messages: n(1)?, events: n(2)?, feedback: n(3)? })
                },
            )?)
        })
        .map_err(|e| anyhow::anyhow!("{e:?}"))
}

/// Rows of each rollup level (the distinct-user counts next to the rows they count).
fn rollup_sizes(state: &AppState) -> anyhow::Result<String> {
    let tables = [
        "analytics_hourly",
        "analytics_totals_hourly",
        "analytics_daily",
        "analytics_users",
        "analytics_user_hours",
        "analytics_user_hour_counts",
    ];
    let counts: Vec<String> = state
        .db
        .read_blocking(|c| {
            tables
                .iter()
                .map(|t| {
                    Ok(format!(
                        "{t} {}",
                        c.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get::<_, i64>(0))?
                    ))
                })
                .collect()
        })
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(counts.join(", "))
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_048_576.0)
}

#[allow(clippy::too_many_lines, reason = "the steps of the benchmark")]
pub fn run(args: &AnalyticsArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(
        args.scale > 0.0 && args.bots > 0 && args.months > 0 && args.repeat > 0,
        "scale, bots, months and repeat must be positive"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let dir = tempfile::tempdir()?;
    let path = match (&args.data, &args.keep) {
        (Some(p), _) => {
            anyhow::ensure!(p.exists(), "{} does not exist", p.display());
            p.clone()
        }
        (None, Some(p)) => {
            anyhow::ensure!(!p.exists(), "{} exists already; --keep writes a new file", p.display());
            p.clone()
        }
        (None, None) => dir.path().join("bench.db"),
    };
    let mut config =
        Config { data: path, log: LogConfig { level: "warn".into(), ..LogConfig::default() }, ..Config::default() };
    config.ml.enabled = false;
    config.jobs.workers = 0;
    config.analytics.max_range_days = 400;
    let (state, _lock) = AppState::open(config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (org, bots) = if args.data.is_some() {
        kept_bots(&state)?
    } else {
        let org = setup_org(&state)?;
        let bots: Vec<BotId> = (0..args.bots)
            .map(|i| new_bot(&state, org, &format!("Analytics bench {i}")))
            .collect::<anyhow::Result<_>>()?;
        (org, bots)
    };
    let tenant = Tenant::system(org, "benchmark");

    let mut rows = Vec::new();
    let started = Instant::now();
    let g = if args.data.is_some() { counted(&state)? } else { generate(&state, org, &bots, args)? };
    let generate_s = started.elapsed().as_secs_f64();
    rows.push((
        if args.data.is_some() { "data file (kept)".into() } else { "generated".into() },
        format!(
            "{} conversations, {} messages, {} events, {} votes over {} months in {generate_s:.1} s ({:.0} messages/s)",
            g.conversations,
            g.messages,
            g.events,
            g.feedback,
            args.months,
            g.messages as f64 / generate_s.max(1e-9)
        ),
    ));
    let before = file_bytes(&state)?;
    let dirty: i64 = state
        .db
        .read_blocking(|c| Ok(c.query_row("SELECT count(*) FROM analytics_dirty", [], |r| r.get(0))?))
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;

    let started = Instant::now();
    let hours = rollup::roll_up_pending(&state.db).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let backfill_s = started.elapsed().as_secs_f64();
    let after = file_bytes(&state)?;
    let added = after.saturating_sub(before);
    rows.push(("rollup backfill".into(), format!("{hours} bot-hours ({dirty} dirty) in {backfill_s:.1} s")));
    rows.push((
        "data file".into(),
        format!("{} before rollups, {} after: rollups add {}", mb(before), mb(after), mb(added)),
    ));
    rows.push(("rollup tables".into(), rollup_sizes(&state)?));

    // A day of downtime: every bot's hours of yesterday are dirty again.
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1)).format("%Y-%m-%d").to_string();
    let marked = state
        .db
        .write_blocking(|tx| {
            let mut n = 0;
            for b in &bots {
                for h in 0..24 {
                    n += tx.execute(
                        "INSERT OR IGNORE INTO analytics_dirty (organization_id, bot_id, hour) VALUES (?1, ?2, ?3)",
                        params![org, b, format!("{yesterday}T{h:02}")],
                    )?;
                }
            }
            Ok(n)
        })
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let started = Instant::now();
    let caught = rollup::roll_up_pending(&state.db).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let catchup_ms = started.elapsed().as_secs_f64() * 1000.0;
    rows.push(("catch-up, one day".into(), format!("{caught} bot-hours ({marked} marked) in {catchup_ms:.0} ms")));

    // Dashboards.
    let today = chrono::Utc::now().date_naive();
    let span = |days: i64| ((today - chrono::Duration::days(days - 1)).to_string(), today.to_string());
    let queries: Vec<(String, Option<BotId>, OverviewQuery)> = [
        (7, None, "day", None),
        (30, None, "day", None),
        (90, None, "week", None),
        (365, None, "month", None),
        (365, None, "day", Some("widget")),
        (30, Some(bots[0]), "day", None),
        (365, Some(bots[0]), "week", None),
    ]
    .into_iter()
    .map(|(days, bot, granularity, channel): (i64, Option<BotId>, &str, Option<&str>)| {
        let (from, to) = span(days);
        let name = format!(
            "{} {days} days by {granularity}{}",
            if bot.is_some() { "bot" } else { "org" },
            channel.map(|c| format!(", channel {c}")).unwrap_or_default()
        );
        let q = OverviewQuery {
            from: Some(from),
            to: Some(to),
            tz: Some("Europe/Paris".into()),
            channel: channel.map(str::to_owned),
            granularity: Some(granularity.into()),
            bot_id: None,
        };
        (name, bot, q)
    })
    .collect();
    let mut all = Vec::new();
    let mut per_query = serde_json::Map::new();
    for (name, bot, q) in &queries {
        let mut samples = Vec::with_capacity(args.repeat);
        let mut conversations = 0;
        for _ in 0..args.repeat {
            let t = Instant::now();
            let o = runtime
                .block_on(service::overview(&state, tenant.clone(), *bot, q.clone()))
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            samples.push(t.elapsed().as_secs_f64() * 1000.0);
            conversations = o.totals.conversations;
        }
        all.extend_from_slice(&samples);
        let (p50, p95, max) =
            (percentile(&mut samples, 50.0), percentile(&mut samples, 95.0), percentile(&mut samples, 100.0));
        rows.push((
            format!("dashboard {name}"),
            format!("p50 {p50:.1} ms, p95 {p95:.1} ms, max {max:.1} ms ({conversations} conversations)"),
        ));
        per_query.insert(
            name.clone(),
            json!({ "p50_ms": p50, "p95_ms": p95, "max_ms": max, "conversations": conversations }),
        );
    }
    let p95 = percentile(&mut all, 95.0);
    let met = p95 < TARGET_MS;
    rows.push((
        "dashboard p95, all queries".into(),
        format!("{p95:.1} ms (target < {TARGET_MS} ms: {})", if met { "met" } else { "NOT met" }),
    ));
    let json: Value = json!({
        "analytics": {
            "conversations": g.conversations,
            "messages": g.messages,
            "events": g.events,
            "feedback": g.feedback,
            "months": args.months,
            "bots": bots.len(),
            "generate_s": generate_s,
            "messages_per_s": g.messages as f64 / generate_s.max(1e-9),
            "backfill_hours": hours,
            "backfill_s": backfill_s,
            "catchup_day_hours": caught,
            "catchup_day_ms": catchup_ms,
            "file_bytes_before_rollups": before,
            "file_bytes_after_rollups": after,
            "rollup_bytes": added,
            "dashboard_p95_ms": p95,
            "target_p95_ms": TARGET_MS,
            "target_met": met,
            "queries": per_query,
        }
    });
    Ok(Report { rows, json })
}

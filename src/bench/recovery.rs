//! `bench recovery`: revenue-recovery events ingested per second (through
//! the same service as the API: dedupe, contact matching, campaign choice,
//! scheduling) with 100,000 contacts and 20 live campaigns; scheduled sends
//! per second (the dispatcher handing due messages to the channels'
//! outbound queue, through the job queue); and the scheduler's delay from
//! due time to send (p50/p95) while events arrive at a fixed rate.

use std::time::{Duration, Instant};

use clap::Args;
use rusqlite::params;
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use super::runtime::{new_bot, setup_org};
use super::{Report, percentile};
use crate::app::AppState;
use crate::channels::model::CreateChannelRequest;
use crate::config::Config;
use crate::http::Tenant;
use crate::recovery::model::{RecoveryCampaignRequest, RecoveryCustomer, RecoveryEventRequest, RecoveryStep};

#[derive(Debug, Args)]
pub struct RecoveryArgs {
    /// Contacts of the organization (with an email address each).
    #[arg(long, default_value_t = 100_000)]
    pub contacts: usize,
    /// Live campaigns (one custom trigger each).
    #[arg(long, default_value_t = 20)]
    pub campaigns: usize,
    /// Events ingested (and then sent).
    #[arg(long, default_value_t = 20_000)]
    pub events: usize,
    /// Events per second of the paced round (due→send delay).
    #[arg(long, default_value_t = 100)]
    pub rate: usize,
    /// Seconds of the paced round.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
}

#[allow(clippy::needless_pass_by_value, reason = "a `map_err` adapter")]
fn err(e: crate::error::AppError) -> anyhow::Error {
    anyhow::anyhow!("{e:?}")
}

#[allow(clippy::too_many_lines, reason = "setup and three measured phases read best in order")]
pub fn run(args: &RecoveryArgs) -> anyhow::Result<Report> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let dir = tempfile::tempdir()?;
    let mut config = Config { data: dir.path().join("bench.db"), ..Config::default() };
    config.ml.enabled = false;
    config.jobs.workers = 0;
    let (state, _lock) = AppState::open(config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let org = setup_org(&state)?;
    let tenant = Tenant::system(org, "benchmark");
    let bot = new_bot(&state, org, "Recovery bench")?;
    let mut credentials = Map::new();
    credentials.insert("from_address".into(), json!("shop@bench.test"));
    let channel = runtime
        .block_on(crate::channels::service::create(
            &state,
            tenant.clone(),
            CreateChannelRequest { channel_type: "email".into(), name: None, bot_id: bot, credentials },
        ))
        .map_err(err)?;
    let contacts = args.contacts.max(1);
    state
        .db
        .write_blocking(|tx| {
            tx.execute("UPDATE channels SET status = 'active' WHERE id = ?1", [channel.id])?;
            let mut stmt = tx.prepare(
                "INSERT INTO channel_contacts (organization_id, channel_id, external_id, email, display_name) VALUES (?1, ?2, ?3, ?3, ?4)",
            )?;
            for i in 0..contacts {
                stmt.execute(params![org, channel.id, format!("c{i}@bench.test"), format!("Customer {i}")])?;
            }
            Ok(())
        })
        .map_err(err)?;
    for i in 0..args.campaigns.max(1) {
        let req = RecoveryCampaignRequest {
            name: format!("Campaign {i}"),
            description: None,
            trigger: "custom".into(),
            custom_event: Some(format!("ev{i}")),
            status: Some("active".into()),
            audience: crate::recovery::model::RecoveryAudience::default(),
            steps: vec![RecoveryStep {
                delay_minutes: 60,
                channel: "email".into(),
                fallback_channel: None,
                channel_id: None,
                subject: Some("Your {{data.plan}} cart".into()),
                body: "Hi {{customer.first_name}}, {{cart.items}} for {{amount}}: {{checkout_url}}".into(),
                template_id: None,
                template_variables: Vec::new(),
                variants: Vec::new(),
                rewrite: false,
            }],
            send_window: None,
            quiet_hours: None,
            timezone: None,
            max_messages_per_day: Some(100),
        };
        runtime.block_on(crate::recovery::service::create_campaign(&state, tenant.clone(), req)).map_err(err)?;
    }
    let campaigns = args.campaigns.max(1);
    let event = move |n: usize, tag: &str| RecoveryEventRequest {
        event_type: "custom".into(),
        name: Some(format!("ev{}", n % campaigns)),
        source: Some("bench".into()),
        source_id: Some(format!("{tag}{n}")),
        customer: RecoveryCustomer {
            email: Some(format!("c{}@bench.test", (n * 7919) % contacts)),
            ..RecoveryCustomer::default()
        },
        amount: Some(1_999),
        currency: Some("EUR".into()),
        cart_items: vec![crate::recovery::model::RecoveryCartItem {
            name: "Mug".into(),
            quantity: 1,
            price: Some(1_999),
        }],
        checkout_url: Some("https://shop.example/c".into()),
        ..RecoveryEventRequest::default()
    };

    // 1. Ingestion: one transaction per event, as the API does.
    let started = Instant::now();
    for n in 0..args.events {
        runtime.block_on(crate::recovery::service::ingest(&state, tenant.clone(), event(n, "a"))).map_err(err)?;
    }
    let ingest_s = started.elapsed().as_secs_f64();
    let ingest_rate = args.events as f64 / ingest_s.max(1e-9);

    // 2. Scheduled sends: every message due now; the job queue drains them.
    state
        .db
        .write_blocking(|tx| {
            tx.execute("UPDATE recovery_messages SET scheduled_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE status = 'pending'", [])?;
            tx.execute(
                "UPDATE jobs SET run_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE kind = 'recovery.dispatch' AND status = 'queued'",
                [],
            )?;
            Ok(())
        })
        .map_err(err)?;
    let started = Instant::now();
    let stop = CancellationToken::new();
    runtime.block_on(drain(&state, &stop))?;
    let send_s = started.elapsed().as_secs_f64();
    let sent = count(&state, "SELECT count(*) FROM recovery_messages WHERE status = 'queued'")?;
    let send_rate = sent as f64 / send_s.max(1e-9);

    // 3. Paced: events due at once arrive at `rate`/s while two workers run.
    state
        .db
        .write_blocking(|tx| {
            tx.execute("UPDATE recovery_campaigns SET message_templates = json_set(message_templates, '$[0].delay_minutes', 0)", [])?;
            Ok(())
        })
        .map_err(err)?;
    let before = count(&state, "SELECT coalesce(max(id), 0) FROM recovery_messages")?;
    let paced = args.rate * usize::try_from(args.seconds).unwrap_or(10);
    let workers: Vec<_> = (0..2)
        .map(|w| {
            let (state, stop) = (state.clone(), stop.clone());
            runtime.spawn(async move {
                while !stop.is_cancelled() {
                    if !crate::jobs::run_once(&state, &format!("bench{w}"), &stop).await.unwrap_or(false) {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
            })
        })
        .collect();
    let started = Instant::now();
    for n in 0..paced {
        let at = Duration::from_secs_f64(n as f64 / args.rate.max(1) as f64);
        if let Some(wait) = at.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
        runtime.block_on(crate::recovery::service::ingest(&state, tenant.clone(), event(n, "p"))).map_err(err)?;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&state, &format!("SELECT count(*) FROM recovery_messages WHERE id > {before} AND status = 'pending'"))?
        > 0
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.cancel();
    for w in workers {
        let _ = runtime.block_on(w);
    }
    let mut delays: Vec<f64> = state
        .db
        .write_blocking(|tx| {
            let mut stmt = tx.prepare(
                "SELECT (julianday(updated_at) - julianday(scheduled_at)) * 86400000.0 FROM recovery_messages
                 WHERE id > ?1 AND status = 'queued'",
            )?;
            let rows = stmt.query_map([before], |r| r.get::<_, f64>(0))?.collect::<rusqlite::Result<Vec<f64>>>()?;
            Ok(rows)
        })
        .map_err(err)?;
    let paced_sent = delays.len();
    let p50 = percentile(&mut delays, 50.0);
    let p95 = percentile(&mut delays, 95.0);

    let rows = vec![
        (
            format!("events ingested ({} contacts, {campaigns} campaigns)", args.contacts),
            format!("{ingest_rate:.0} events/s ({} events in {ingest_s:.1} s)", args.events),
        ),
        (
            "scheduled sends (dispatch → outbound queue)".to_owned(),
            format!("{send_rate:.0} sends/s ({sent} in {send_s:.1} s)"),
        ),
        (
            format!("due → send delay at {} events/s", args.rate),
            format!("p50 {p50:.0} ms, p95 {p95:.0} ms ({paced_sent} of {paced} sent)"),
        ),
    ];
    let json = json!({
        "recovery": {
            "contacts": args.contacts, "campaigns": campaigns, "events": args.events,
            "events_per_s": (ingest_rate * 10.0).round() / 10.0,
            "sends": sent, "sends_per_s": (send_rate * 10.0).round() / 10.0,
            "paced_rate": args.rate, "paced_events": paced, "paced_sent": paced_sent,
            "delay_p50_ms": p50.round(), "delay_p95_ms": p95.round(),
        }
    });
    state.nlu.shutdown();
    Ok(Report { rows, json: Value::Object(json.as_object().cloned().unwrap_or_default()) })
}

fn count(state: &AppState, sql: &str) -> anyhow::Result<i64> {
    let sql = sql.to_owned();
    state.db.write_blocking(move |tx| Ok(tx.query_row(&sql, [], |r| r.get(0))?)).map_err(err)
}

/// Runs due jobs until no dispatch job is due.
async fn drain(state: &AppState, stop: &CancellationToken) -> anyhow::Result<()> {
    loop {
        let left = count(
            state,
            "SELECT count(*) FROM jobs WHERE kind = 'recovery.dispatch' AND status = 'queued' AND run_at <= strftime('%Y-%m-%dT%H:%M:%fZ','now')",
        )?;
        if left == 0 {
            return Ok(());
        }
        if !crate::jobs::run_once(state, "bench", stop).await.map_err(err)? {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

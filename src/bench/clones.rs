//! `bench clones`: a work clone with 50,000 training pairs (generated,
//! deterministic, distinct): training time (embedding every context with the
//! local model, freezing the style profile, storing the version) and the
//! latency of a draft without a chat model (message embedding, hybrid
//! retrieval over the version, adapting the best reply, recording the
//! response) through the same service as the API. Target: p95 < 30 ms.

use std::time::Instant;

use clap::Args;
use rusqlite::params;
use serde_json::json;

use super::{Report, median, percentile};
use crate::app::AppState;
use crate::clones::import::clean::pair_hash;
use crate::clones::model::CloneId;
use crate::clones::service;
use crate::config::{Config, MlConfig};
use crate::http::Tenant;
use crate::ids::OrgId;

#[derive(Debug, Args)]
pub struct ClonesArgs {
    /// Training pairs of the clone.
    #[arg(long, default_value_t = 50_000)]
    pub pairs: usize,
    /// Drafts measured (after one warm-up draft).
    #[arg(long, default_value_t = 200)]
    pub drafts: usize,
}

const ASKS: [&str; 10] = [
    "Can we move",
    "Could you review",
    "Did you send",
    "When will you finish",
    "Who owns",
    "Can you approve",
    "Is there news on",
    "Should we cancel",
    "Can you share",
    "Have you seen",
];
const THINGS: [&str; 25] = [
    "the budget",
    "the contract",
    "the release",
    "the invoice",
    "the roadmap",
    "the offsite",
    "the hiring plan",
    "the demo",
    "the report",
    "the backup",
    "the migration",
    "the audit",
    "the launch",
    "the survey",
    "the pricing page",
    "the onboarding",
    "the security review",
    "the quarterly review",
    "the design doc",
    "the vendor call",
    "the renewal",
    "the workshop",
    "the newsletter",
    "the support rota",
    "the staging server",
];
const WHEN: [&str; 8] = [
    "today",
    "tomorrow",
    "on Monday",
    "this week",
    "before Friday",
    "next sprint",
    "after the holidays",
    "by the 20th",
];
const ANSWERS: [&str; 8] = [
    "Yes, that works for me",
    "Not yet, I'll look at it",
    "Done, check your inbox",
    "Let's talk about it in our call",
    "Priya owns that one",
    "Approved, go ahead",
    "No news yet, I'll chase them",
    "I'd rather keep it as planned",
];

/// The `i`-th generated pair: (context, reply).
fn pair(i: usize) -> (String, String) {
    let (ask, thing, when) = (ASKS[i % ASKS.len()], THINGS[(i / 10) % THINGS.len()], WHEN[(i / 250) % WHEN.len()]);
    let answer = ANSWERS[(i / 7) % ANSWERS.len()];
    let context = format!("{ask} {thing} {when}? (ticket {i})");
    let reply = format!("Hi,\n{answer} for {thing} {when}.");
    (context, reply)
}

fn err(e: &crate::error::AppError) -> anyhow::Error {
    anyhow::anyhow!("{e:?}")
}

/// An organization, its owner and their clone with `n` generated pairs.
fn seed(state: &AppState, n: usize) -> anyhow::Result<(OrgId, CloneId)> {
    let org = super::runtime::setup_org(state)?;
    state
        .db
        .write_blocking(|tx| {
            tx.execute(
                "INSERT INTO work_clones (organization_id, user_id, name)
                 SELECT id, owner_id, 'Bench clone' FROM organizations WHERE id = ?1",
                [org.0],
            )?;
            let clone = tx.last_insert_rowid();
            let mut stmt = tx.prepare(
                "INSERT INTO clone_training_data (organization_id, clone_id, data_type, source, original_content,
                                                  processed_content, context, extracted_features, content_hash)
                 VALUES (?1, ?2, 'email', 'mbox', ?3, ?3, ?4, ?5, ?6)",
            )?;
            let features = json!({ "greeting": "Hi,", "sign_off": "Best," }).to_string();
            for i in 0..n {
                let (context, reply) = pair(i);
                stmt.execute(params![org.0, clone, reply, context, features, pair_hash(&context, &reply)])?;
            }
            Ok((org, CloneId(clone)))
        })
        .map_err(|e| err(&e))
}

/// Runs the suite.
pub fn run(args: &ClonesArgs, ml: &MlConfig) -> anyhow::Result<Report> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let dir = tempfile::tempdir()?;
    let mut config = Config { data: dir.path().join("clones.db"), ml: ml.clone(), ..Config::default() };
    config.jobs.workers = 0;
    config.log.level = "warn".into();
    let (state, _lock) = AppState::open(config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let pairs = args.pairs.max(1);
    let (org, clone) = seed(&state, pairs)?;
    let tenant = Tenant::system(org, "benchmark");
    runtime.block_on(state.models.embedder()).map_err(|e| err(&e))?;
    let started = Instant::now();
    let version = runtime.block_on(service::train(&state, tenant.clone(), clone)).map_err(|e| err(&e))?;
    let training_s = started.elapsed().as_secs_f64();
    let message = |i: usize| {
        let (context, _) = pair(i.wrapping_mul(7919) % pairs);
        format!("{} — any update?\nSam", context.split(" (ticket").next().unwrap_or_default())
    };
    let warm =
        runtime.block_on(service::generate(&state, tenant.clone(), clone, &message(0), None)).map_err(|e| err(&e))?;
    let mut samples = Vec::with_capacity(args.drafts);
    for i in 1..=args.drafts {
        let text = message(i);
        let t = Instant::now();
        runtime.block_on(service::generate(&state, tenant.clone(), clone, &text, None)).map_err(|e| err(&e))?;
        samples.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let (p50, p95) = (median(&mut samples.clone()), percentile(&mut samples, 95.0));
    let rows = vec![
        ("training pairs".to_owned(), pairs.to_string()),
        ("training time (s)".to_owned(), format!("{training_s:.2}")),
        ("training pairs per second".to_owned(), format!("{:.0}", pairs as f64 / training_s)),
        ("draft mode".to_owned(), format!("{:?}", warm.mode).to_lowercase()),
        ("draft latency p50 (ms)".to_owned(), format!("{p50:.2}")),
        ("draft latency p95 (ms, target < 30)".to_owned(), format!("{p95:.2}")),
    ];
    let json = json!({
        "pairs": pairs, "version": version.version, "training_s": training_s,
        "training_pairs_per_s": pairs as f64 / training_s, "drafts": args.drafts,
        "draft_p50_ms": p50, "draft_p95_ms": p95, "draft_mode": format!("{:?}", warm.mode).to_lowercase(),
    });
    Ok(Report { rows, json })
}

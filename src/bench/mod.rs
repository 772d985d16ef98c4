//! `botbuilder bench`: benchmarks that measure the performance targets of
//! DESIGN §12 and print a readable table, or with `--json` one JSON object on
//! the last line of stdout.

// Benchmarks turn counts and byte sizes into floating-point statistics.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_wrap,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

mod abtest;
mod agents;
mod analytics;
mod auth;
mod billing;
mod channels;
mod clones;
mod nlu;
mod rag;
mod recovery;
mod runtime;
mod startup;
mod vectors;
mod voice;
mod xsid;

use std::io::Write;

use clap::{Args, Subcommand};
use serde_json::Value;

use crate::config::MlConfig;

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    suite: Option<Suite>,
    /// Print one JSON object on the last line of stdout.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Suite {
    /// Cold start to `/readyz` (new, empty and 100k-row databases), idle RSS and idle CPU after NLU traffic.
    Startup(startup::StartupArgs),
    /// Argon2id cost and sign-ins per second through the server, with latency percentiles.
    Auth(auth::AuthArgs),
    /// NLU accuracy on the shared benchmarks, training time, parse latency and throughput.
    Nlu(nlu::NluArgs),
    /// Conversation turns per second and turn latency (flow-only and NLU bots, 1/16/128 conversations), shed turns, CPU features, model-alone rate.
    Runtime(runtime::RuntimeArgs),
    /// Retrieval on BEIR SciFact through the real ingestion path: quality, latency, ingestion throughput.
    Rag(rag::RagArgs),
    /// The vector index at scale (synthetic): latency and recall@10 vs exact, RSS.
    Vectors(vectors::VectorsArgs),
    /// Channel webhooks at a fixed rate (webhook in → reply queued: p50/p95/p99/max, errors) and the outbound queue's drain rate per type.
    Channels(channels::ChannelsArgs),
    /// Metering overhead on flow-only turns (target < 5 %) and the usage query p95 over 12 months × 1,000 organizations.
    Billing(billing::BillingArgs),
    /// Analytics dashboards at 5 M messages (generated): rollup backfill and one-day catch-up, file size of the rollups, dashboard p50/p95.
    Analytics(analytics::AnalyticsArgs),
    /// Workflow runner overhead per agent step (model time excluded; target p50 < 2 ms) and 100 workflows at once against a fake model answering in 50 ms (target ≥ 90 % of the ideal throughput).
    Agents(agents::AgentsArgs),
    /// Voice webhooks (signed, Twilio's format): server time per turn, webhook in → answer out (target p95 < 50 ms).
    Voice(voice::VoiceArgs),
    /// Work clones with 50,000 training pairs: training time and draft latency without a chat model (target p95 < 30 ms).
    Clones(clones::ClonesArgs),
    /// Revenue recovery with 100,000 contacts and 20 live campaigns: events ingested per second, scheduled sends per second, due→send delay p50/p95.
    Recovery(recovery::RecoveryArgs),
    /// A/B experiment statistics by simulation: assignment over 100,000 units (chi-square), the sequential test's power on a known effect and its A/A false-positive rate under continuous peeking.
    Abtest(abtest::AbtestArgs),
}

/// Runs the chosen suite (default: startup). The suites that load models use
/// the operator's `ml` settings, so a swapped-in model or session layout is
/// measured as it would serve.
pub fn run(args: &BenchArgs, ml: &MlConfig) -> anyhow::Result<()> {
    let report = match &args.suite {
        None => startup::run(&startup::StartupArgs::default(), ml)?,
        Some(Suite::Startup(a)) => startup::run(a, ml)?,
        Some(Suite::Auth(a)) => auth::run(a)?,
        Some(Suite::Nlu(a)) => nlu::run(a, ml)?,
        Some(Suite::Runtime(a)) => runtime::run(a, ml)?,
        Some(Suite::Rag(a)) => rag::run(a, ml)?,
        Some(Suite::Vectors(a)) => vectors::run(a)?,
        Some(Suite::Channels(a)) => channels::run(a)?,
        Some(Suite::Billing(a)) => billing::run(a)?,
        Some(Suite::Analytics(a)) => analytics::run(a)?,
        Some(Suite::Agents(a)) => agents::run(a)?,
        Some(Suite::Voice(a)) => voice::run(a)?,
        Some(Suite::Recovery(a)) => recovery::run(a)?,
        Some(Suite::Clones(a)) => clones::run(a, ml)?,
        Some(Suite::Abtest(a)) => abtest::run(a)?,
    };
    let mut out = std::io::stdout().lock();
    for (name, value) in report.rows {
        writeln!(out, "{name:<44} {value}")?;
    }
    if args.json {
        writeln!(out, "{}", report.json)?;
    }
    Ok(())
}

/// What a suite measured: rows for people, JSON for machines.
pub struct Report {
    pub rows: Vec<(String, String)>,
    pub json: Value,
}

/// Median of a non-empty sample.
#[must_use]
pub fn median(samples: &mut [f64]) -> f64 {
    percentile(samples, 50.0)
}

/// Nearest-rank percentile of a sample (0 for an empty one).
#[must_use]
pub fn percentile(samples: &mut [f64], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort_by(f64::total_cmp);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let rank = ((p / 100.0) * samples.len() as f64).ceil().max(1.0) as usize;
    samples[rank.min(samples.len()) - 1]
}

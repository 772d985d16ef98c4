//! `botbuilder bench abtest`: the statistics of A/B experiments by
//! simulation (no server): assignment over 100,000 units (deviation from
//! the shares, chi-square p), the sequential test's power on a known effect,
//! and its false-positive rate on A/A traffic peeked after every batch.

use std::time::Instant;

use clap::Args;
use serde_json::json;

use super::Report;
use crate::experiments::assign::{conversation_key, variant_of};
use crate::experiments::stats::{chi_square_p, sample_size_per_arm, simulate};

#[derive(Debug, Args)]
pub struct AbtestArgs {
    /// Units assigned in the split check.
    #[arg(long, default_value_t = 100_000)]
    units: u32,
    /// Simulated experiments per figure.
    #[arg(long, default_value_t = 1_000)]
    experiments: u32,
    /// Units per arm between two looks at the results.
    #[arg(long, default_value_t = 50)]
    batch: u64,
    /// Looks per experiment (the horizon is batch × peeks units per arm).
    #[arg(long, default_value_t = 200)]
    peeks: u32,
    /// False-positive level.
    #[arg(long, default_value_t = 0.05)]
    alpha: f64,
}

/// Runs the suite.
#[allow(clippy::unnecessary_wraps, reason = "every suite's runner has this signature")]
pub fn run(args: &AbtestArgs) -> anyhow::Result<Report> {
    let mut rows = Vec::new();
    let mut splits = Vec::new();
    for shares in [vec![50_u32, 50], vec![70, 30], vec![50, 30, 20]] {
        let mut counts = vec![0_u64; shares.len()];
        for unit in 0..args.units {
            counts[variant_of(1, &conversation_key(i64::from(unit)), &shares)] += 1;
        }
        let expected: Vec<f64> = shares.iter().map(|s| f64::from(*s) / 100.0).collect();
        let (stat, p) = chi_square_p(&counts, &expected);
        let worst = counts
            .iter()
            .zip(&shares)
            .map(|(c, s)| (*c as f64 * 100.0 / f64::from(args.units) - f64::from(*s)).abs())
            .fold(0.0, f64::max);
        let label = shares.iter().map(u32::to_string).collect::<Vec<_>>().join("/");
        rows.push((
            format!("split {label} over {} units", args.units),
            format!("max deviation {worst:.2} pp, chi² {stat:.2}, p {p:.3}"),
        ));
        splits
            .push(json!({ "shares": shares, "counts": counts, "max_deviation_pp": worst, "chi_square": stat, "p": p }));
    }
    let tau = 0.05;
    let started = Instant::now();
    let aa = simulate::aa(0.2, tau, args.alpha, args.experiments, args.batch, args.peeks, 1);
    let power = simulate::power(0.2, 0.25, tau, args.alpha, args.experiments, args.batch, args.peeks, 2);
    let elapsed = started.elapsed().as_secs_f64();
    let fixed = sample_size_per_arm(0.2, 0.05, args.alpha, 0.8);
    rows.push((
        format!("A/A false positives ({} experiments, {} peeks)", args.experiments, args.peeks),
        format!("{:.3} (alpha {})", aa.rate, args.alpha),
    ));
    rows.push((
        "power, 20 % → 25 % (mSPRT, τ = 0.05)".to_owned(),
        format!("{:.3}, median stop at {} units per arm", power.rate, power.median_units_at_stop),
    ));
    rows.push(("fixed-horizon sample size, 20 % → 25 %, 80 %".to_owned(), format!("{fixed} units per arm")));
    rows.push(("simulation time".to_owned(), format!("{elapsed:.1} s")));
    let json = json!({
        "suite": "abtest",
        "splits": splits,
        "aa": { "experiments": aa.experiments, "peeks": args.peeks, "batch": args.batch,
                "false_positive_rate": aa.rate, "alpha": args.alpha },
        "power": { "control": 0.2, "treatment": 0.25, "tau": tau, "rate": power.rate,
                   "median_units_per_arm_at_stop": power.median_units_at_stop },
        "fixed_horizon_per_arm": fixed,
        "seconds": elapsed,
    });
    Ok(Report { rows, json })
}

//! Authentication cost: Argon2id hash and verify times with the configured
//! parameters, then sign-ins through the real server (HTTP, Argon2, session
//! row) at a given concurrency: logins per second and latency percentiles,
//! and the latency of a wrong password next to an unknown email (they must
//! match: no user enumeration by timing).

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use serde_json::json;

use super::{Report, median, percentile};
use crate::accounts::service::{ARGON2_M_KIB, ARGON2_P, ARGON2_T, hash_password, verify_password};
use crate::app::Application;
use crate::config::{Config, LogConfig};

#[derive(Debug, Args)]
pub struct AuthArgs {
    /// Sign-ins to perform.
    #[arg(long, default_value_t = 200)]
    pub logins: usize,
    /// Sign-ins in flight at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Hashes (and verifications) timed on their own.
    #[arg(long, default_value_t = 20)]
    pub hashes: usize,
}

impl Default for AuthArgs {
    fn default() -> Self {
        Self { logins: 200, concurrency: 8, hashes: 20 }
    }
}

const PASSWORD: &str = "bench lantern quietly 2024";

pub fn run(args: &AuthArgs) -> anyhow::Result<Report> {
    let (hash_ms, verify_ms) = time_argon2(args.hashes.max(1))?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let http = runtime.block_on(time_logins(args))?;
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    Ok(Report {
        rows: vec![
            ("Argon2id parameters".into(), format!("m={ARGON2_M_KIB} KiB, t={ARGON2_T}, p={ARGON2_P}")),
            ("CPU cores".into(), cores.to_string()),
            ("hash a password (ms, median)".into(), format!("{hash_ms:.1}")),
            ("verify a password (ms, median)".into(), format!("{verify_ms:.1}")),
            (
                format!("sign-ins over HTTP, {} at concurrency {}", http.logins, http.concurrency),
                format!("{:.1}/s", http.per_sec),
            ),
            ("sign-in latency p50 (ms)".into(), format!("{:.1}", http.p50)),
            ("sign-in latency p95 (ms)".into(), format!("{:.1}", http.p95)),
            ("wrong password, p50 (ms)".into(), format!("{:.1}", http.wrong_password_p50)),
            ("unknown email, p50 (ms)".into(), format!("{:.1}", http.unknown_email_p50)),
        ],
        json: json!({
            "auth": {
                "argon2": { "algorithm": "argon2id", "m_kib": ARGON2_M_KIB, "t": ARGON2_T, "p": ARGON2_P },
                "cores": cores,
                "hash_ms_p50": round1(hash_ms),
                "verify_ms_p50": round1(verify_ms),
                "logins": http.logins,
                "concurrency": http.concurrency,
                "logins_per_sec": round1(http.per_sec),
                "login_p50_ms": round1(http.p50),
                "login_p95_ms": round1(http.p95),
                "wrong_password_p50_ms": round1(http.wrong_password_p50),
                "unknown_email_p50_ms": round1(http.unknown_email_p50),
            }
        }),
    })
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn time_argon2(n: usize) -> anyhow::Result<(f64, f64)> {
    let mut hashes = Vec::with_capacity(n);
    let mut verifies = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let hash = hash_password(PASSWORD).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        hashes.push(started.elapsed().as_secs_f64() * 1000.0);
        let started = Instant::now();
        anyhow::ensure!(verify_password(PASSWORD, &hash), "verification failed");
        verifies.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok((median(&mut hashes), median(&mut verifies)))
}

struct HttpFigures {
    logins: usize,
    concurrency: usize,
    per_sec: f64,
    p50: f64,
    p95: f64,
    wrong_password_p50: f64,
    unknown_email_p50: f64,
}

async fn time_logins(args: &AuthArgs) -> anyhow::Result<HttpFigures> {
    let dir = tempfile::tempdir()?;
    let mut config = Config {
        data: dir.path().join("bench.db"),
        bind: "127.0.0.1:0".into(),
        log: LogConfig { level: "error".into(), ..LogConfig::default() },
        ..Config::default()
    };
    config.ml.enabled = false;
    config.jobs.workers = 0;
    config.rate_limits.enabled = false;
    let app = Application::build(config).context("start the server")?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let db = app.state().db.clone();
    let server = tokio::spawn(app.run_until_stopped());
    // Talks to its own loopback server; a proxy from the environment must not intercept it.
    let client = reqwest::Client::builder().no_proxy().build()?;
    let register = client
        .post(format!("{base}/api/v1/auth/register"))
        .json(&json!({ "email": "loadtest@example.com", "password": PASSWORD, "name": "Bench" }))
        .send()
        .await?;
    anyhow::ensure!(register.status().as_u16() == 202, "sign-up failed: {}", register.status());
    // What the emailed link would do: the address is confirmed, so the
    // password signs in.
    db.write(|tx| {
        tx.execute(
            "UPDATE users SET email_verified = 1, email_verified_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
             WHERE email = 'loadtest@example.com'",
            [],
        )?;
        Ok(())
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;

    let url = Arc::new(format!("{base}/api/v1/auth/login"));
    let login = move |email: &'static str, password: &'static str| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let started = Instant::now();
            let status =
                client.post(url.as_str()).json(&json!({ "email": email, "password": password })).send().await?.status();
            anyhow::Ok((started.elapsed().as_secs_f64() * 1000.0, status.as_u16()))
        }
    };
    // Warm up (the dummy hash, connections).
    login("nobody@example.com", "x").await?;
    login("loadtest@example.com", PASSWORD).await?;

    let concurrency = args.concurrency.max(1);
    let total = args.logins.max(concurrency);
    let per_task = total / concurrency;
    let latencies = Arc::new(std::sync::Mutex::new(Vec::with_capacity(total)));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (latencies, login) = (latencies.clone(), login.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..per_task {
                let (ms, status) = login("loadtest@example.com", PASSWORD).await?;
                anyhow::ensure!(status == 200, "sign-in answered {status}");
                latencies.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.push(ms);
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut samples = latencies.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.clone();
    let done = samples.len();

    let mut wrong = Vec::new();
    let mut unknown = Vec::new();
    for _ in 0..20 {
        wrong.push(login("loadtest@example.com", "not the password 1").await?.0);
        unknown.push(login("nobody@example.com", "not the password 1").await?.0);
    }
    server.abort();
    Ok(HttpFigures {
        logins: done,
        concurrency,
        per_sec: done as f64 / elapsed,
        p50: percentile(&mut samples, 50.0),
        p95: percentile(&mut samples, 95.0),
        wrong_password_p50: median(&mut wrong),
        unknown_email_p50: median(&mut unknown),
    })
}

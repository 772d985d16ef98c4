//! `bench agents`: the workflow runner's own cost per agent step (a run of
//! sequential agent steps against an in-process `OpenAI`-compatible fake that
//! answers at once; the fake's time is subtracted; target p50 < 2 ms), and
//! many workflows at once against the fake answering after 50 ms (the
//! ideal is every run taking steps × latency; target ≥ 90 % of that
//! throughput). Runs go through the real path: execution rows, the runner,
//! the agent loop, the provider client over loopback HTTP, usage metering.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::runtime::{new_bot, setup_org};
use super::{Report, percentile};
use crate::app::AppState;
use crate::config::Config;
use crate::http::Tenant;
use crate::ids::BotId;
use crate::workflows::model::{CreateWorkflowRequest, ExecutionId, WorkflowId};

#[derive(Debug, Args)]
pub struct AgentsArgs {
    /// Runs timed for the per-step overhead.
    #[arg(long, default_value_t = 200)]
    pub runs: usize,
    /// Sequential agent steps per workflow.
    #[arg(long, default_value_t = 3)]
    pub steps: usize,
    /// Workflows run at once for the throughput figure.
    #[arg(long, default_value_t = 100)]
    pub concurrent: usize,
    /// The fake model's latency in the throughput round, in milliseconds.
    #[arg(long, default_value_t = 50)]
    pub latency_ms: u64,
}

const OVERHEAD_TARGET_MS: f64 = 2.0;
const THROUGHPUT_TARGET_PCT: f64 = 90.0;

/// A minimal `OpenAI`-compatible server: every chat completion is answered
/// with a short text after the current latency; the time it spent answering
/// (the latency) is summed so it can be taken out of the measurements.
struct FakeModel {
    base_url: String,
    latency_us: Arc<AtomicU64>,
    served_us: Arc<AtomicU64>,
}

async fn fake_model() -> anyhow::Result<FakeModel> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base_url = format!("http://{}/v1", listener.local_addr()?);
    let (latency_us, served_us) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (lat, served) = (latency_us.clone(), served_us.clone());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (lat, served) = (lat.clone(), served.clone());
            tokio::spawn(async move {
                let mut buf = Vec::with_capacity(8192);
                loop {
                    // One request: headers, then Content-Length bytes of body.
                    let header_end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        let mut chunk = [0_u8; 8192];
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..header_end]).to_ascii_lowercase();
                    let length = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap_or(0)))
                        .unwrap_or(0);
                    while buf.len() < header_end + length {
                        let mut chunk = [0_u8; 8192];
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buf.drain(..header_end + length);
                    let started = Instant::now();
                    let wait = lat.load(Ordering::Relaxed);
                    if wait > 0 {
                        tokio::time::sleep(Duration::from_micros(wait)).await;
                    }
                    served.fetch_add(u64::try_from(started.elapsed().as_micros()).unwrap_or(0), Ordering::Relaxed);
                    let body = json!({
                        "id": "chatcmpl-bench", "object": "chat.completion", "model": "bench-model",
                        "choices": [ { "index": 0, "message": { "role": "assistant", "content": "done" }, "finish_reason": "stop" } ],
                        "usage": { "prompt_tokens": 20, "completion_tokens": 2, "total_tokens": 22 }
                    })
                    .to_string();
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if socket.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok(FakeModel { base_url, latency_us, served_us })
}

async fn setup(
    state: &AppState,
    tenant: &Tenant,
    bot: BotId,
    model: &FakeModel,
    steps: usize,
) -> anyhow::Result<WorkflowId> {
    let err = |e: crate::error::AppError| anyhow::anyhow!("{e:?}");
    let provider = serde_json::from_value(json!({
        "name": "Bench model", "base_url": model.base_url, "default_model": "bench-model",
        "timeout_ms": 30_000, "max_retries": 0, "is_default": true
    }))?;
    crate::llm::service::create(state, tenant.clone(), provider).await.map_err(err)?;
    let agent = serde_json::from_value(json!({ "name": "Bench agent", "instructions": "Answer briefly." }))?;
    let agent = crate::agents::service::create(state, tenant, bot, agent).await.map_err(err)?;
    let mut list: Vec<Value> = (0..steps)
        .map(|i| {
            json!({ "id": format!("s{i}"), "type": "agent", "agent_id": agent.id, "input": "Step {{ input.n }}",
                    "next": format!("s{}", i + 1) })
        })
        .collect();
    list.push(json!({ "id": format!("s{steps}"), "type": "end" }));
    let req = CreateWorkflowRequest {
        name: "Bench workflow".into(),
        description: None,
        definition: json!({ "steps": list }),
        is_active: Some(true),
    };
    Ok(crate::workflows::service::create(state, tenant.clone(), bot, req).await.map_err(err)?.id)
}

/// Starts a run and drives it to its end on this task; answers the wall time.
async fn one_run(state: &AppState, tenant: &Tenant, wf: WorkflowId, n: usize) -> anyhow::Result<Duration> {
    let err = |e: crate::error::AppError| anyhow::anyhow!("{e:?}");
    let started = Instant::now();
    let exec =
        crate::workflows::service::start(state, tenant.clone(), wf, Some(json!({ "n": n }))).await.map_err(err)?;
    let ended = drive(state, tenant, exec.id).await?;
    anyhow::ensure!(ended == "completed", "a benchmark run ended {ended}");
    Ok(started.elapsed())
}

async fn drive(state: &AppState, tenant: &Tenant, id: ExecutionId) -> anyhow::Result<&'static str> {
    crate::workflows::run::run(state, tenant, id, &CancellationToken::new()).await.map_err(|e| anyhow::anyhow!("{e:?}"))
}

pub fn run(args: &AgentsArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(
        args.steps >= 1 && args.runs >= 1 && args.concurrent >= 1,
        "--steps, --runs and --concurrent must be ≥ 1"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let dir = tempfile::tempdir()?;
    let mut config = Config { data: dir.path().join("bench.db"), ..Config::default() };
    config.ml.enabled = false;
    config.jobs.workers = 0;
    config.outbound.allow_private = true;
    let (state, _lock) = AppState::open(config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let org = setup_org(&state)?;
    let tenant = Tenant::system(org, "benchmark");
    let bot = new_bot(&state, org, "Agents bench")?;
    let report = runtime.block_on(async {
        let model = fake_model().await?;
        let wf = setup(&state, &tenant, bot, &model, args.steps).await?;

        // Overhead: one run at a time, the model answering at once.
        for n in 0..args.runs.min(10) {
            one_run(&state, &tenant, wf, n).await?;
        }
        let mut per_step = Vec::with_capacity(args.runs);
        for n in 0..args.runs {
            let before = model.served_us.load(Ordering::Relaxed);
            let wall = one_run(&state, &tenant, wf, n).await?;
            let model_us = model.served_us.load(Ordering::Relaxed) - before;
            let own = wall.as_secs_f64() * 1000.0 - model_us as f64 / 1000.0;
            per_step.push(own / args.steps as f64);
        }
        let p50 = percentile(&mut per_step, 50.0);
        let p95 = percentile(&mut per_step, 95.0);

        // Throughput: `concurrent` runs at once, the model answering after the latency.
        model.latency_us.store(args.latency_ms * 1000, Ordering::Relaxed);
        let started = Instant::now();
        let tasks: Vec<_> = (0..args.concurrent)
            .map(|n| {
                let (state, tenant) = (state.clone(), tenant.clone());
                tokio::spawn(async move { one_run(&state, &tenant, wf, n).await })
            })
            .collect();
        for t in tasks {
            t.await??;
        }
        let wall = started.elapsed().as_secs_f64();
        let ideal_wall = (args.steps as u64 * args.latency_ms) as f64 / 1000.0;
        let rate = args.concurrent as f64 / wall;
        let ideal = args.concurrent as f64 / ideal_wall;
        let pct = rate / ideal * 100.0;
        anyhow::Ok((p50, p95, per_step.len(), wall, rate, ideal, pct))
    })?;
    let (p50, p95, samples, wall, rate, ideal, pct) = report;
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    let rows = vec![
        (
            "agent step overhead (model time excluded)".to_owned(),
            format!(
                "p50 {p50:.3} ms, p95 {p95:.3} ms ({samples} runs × {} steps; target p50 < {OVERHEAD_TARGET_MS} ms: {})",
                args.steps,
                verdict(p50 < OVERHEAD_TARGET_MS)
            ),
        ),
        (
            format!("{} workflows at once, model {} ms", args.concurrent, args.latency_ms),
            format!(
                "{rate:.1} workflows/s in {wall:.2} s; ideal {ideal:.1}/s; {pct:.1} % (target ≥ {THROUGHPUT_TARGET_PCT} %: {})",
                verdict(pct >= THROUGHPUT_TARGET_PCT)
            ),
        ),
    ];
    let json = json!({
        "step_overhead": { "p50_ms": r3(p50), "p95_ms": r3(p95), "runs": samples, "steps_per_run": args.steps,
                           "target_p50_ms": OVERHEAD_TARGET_MS, "met": p50 < OVERHEAD_TARGET_MS },
        "concurrent": { "workflows": args.concurrent, "steps_per_run": args.steps, "model_latency_ms": args.latency_ms,
                        "wall_s": r3(wall), "workflows_per_s": r3(rate), "ideal_per_s": r3(ideal),
                        "pct_of_ideal": r3(pct), "target_pct": THROUGHPUT_TARGET_PCT, "met": pct >= THROUGHPUT_TARGET_PCT },
    });
    state.nlu.shutdown();
    Ok(Report { rows, json })
}

fn r3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

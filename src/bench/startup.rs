//! Cold start: process start → `/readyz` answering 200, measured on a new
//! data file (migrations applied), on an existing empty one, and on one with
//! 100k rows; then the idle RSS of the running server, and its idle CPU:
//! after serving NLU turns through the widget API (embedding inference on
//! the ONNX Runtime threads) the server is left alone for `--idle-wait`
//! seconds, then its CPU time (`/proc/<pid>/stat` utime + stime) is
//! measured over `--idle-window` seconds (target: under 1 % of a core).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use serde_json::json;

use super::{Report, median};
use crate::app::AppState;
use crate::config::{Config, DbConfig, MlConfig};
use crate::db::Db;
use crate::http::Tenant;

#[derive(Debug, Args)]
pub struct StartupArgs {
    /// Runs per case (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Rows in the large database.
    #[arg(long, default_value_t = 100_000)]
    pub rows: usize,
    /// Seconds the server is left alone after the NLU traffic before its CPU is measured.
    #[arg(long, default_value_t = 10)]
    pub idle_wait: u64,
    /// Seconds over which the idle CPU is measured (0 skips the measurement).
    #[arg(long, default_value_t = 10)]
    pub idle_window: u64,
    /// NLU turns sent through the widget API before the idle measurement.
    #[arg(long, default_value_t = 200)]
    pub idle_turns: usize,
}

impl Default for StartupArgs {
    fn default() -> Self {
        Self { runs: 5, rows: 100_000, idle_wait: 10, idle_window: 10, idle_turns: 200 }
    }
}

/// Clock ticks per second of `/proc/<pid>/stat` times (Linux's `USER_HZ`,
/// 100 on every mainstream architecture).
const USER_HZ: f64 = 100.0;

pub fn run(args: &StartupArgs, ml: &MlConfig) -> anyhow::Result<Report> {
    let exe = std::env::current_exe()?;
    let dir = tempfile::tempdir()?;
    let runs = args.runs.max(1);

    let mut first = Vec::new();
    let mut empty = Vec::new();
    let mut idle_rss_mb = 0.0;
    for i in 0..runs {
        let data = dir.path().join(format!("new-{i}.db"));
        first.push(start_and_stop(&exe, &data, None)?);
        empty.push(start_and_stop(&exe, &data, Some(&mut idle_rss_mb))?);
    }

    let big = dir.path().join("big.db");
    fill(&big, args.rows)?;
    let mut large = Vec::new();
    for _ in 0..runs {
        large.push(start_and_stop(&exe, &big, None)?);
    }
    let size_mb = std::fs::metadata(&big).map_or(0, |m| m.len()) as f64 / 1e6;
    let binary_mb = std::fs::metadata(&exe).map_or(0, |m| m.len()) as f64 / 1e6;

    let (first, empty, large) = (median(&mut first), median(&mut empty), median(&mut large));
    let idle = if args.idle_window > 0 {
        Some(idle_cpu(&exe, &dir.path().join("idle.db"), args, ml).context("measuring idle CPU")?)
    } else {
        None
    };
    let mut rows = vec![
        ("cold start, new data file (ms, median)".into(), format!("{first:.1}")),
        ("cold start, empty database (ms, median)".into(), format!("{empty:.1}")),
        (format!("cold start, {} rows, {size_mb:.0} MB (ms, median)", args.rows), format!("{large:.1}")),
        ("idle RSS after start (MB)".into(), format!("{idle_rss_mb:.1}")),
        ("binary size (MB)".into(), format!("{binary_mb:.1}")),
    ];
    if let Some(idle) = &idle {
        rows.push((
            format!("idle CPU, {} s after {} NLU turns (% of a core)", args.idle_wait, idle.turns),
            format!(
                "{:.2} % over {} s (target < 1 %: {}); {:.0} turns/s served, {:.1} ms CPU per turn",
                idle.percent,
                args.idle_window,
                if idle.percent < 1.0 { "met" } else { "NOT met" },
                idle.turns_per_s,
                idle.busy_cpu_ms_per_turn
            ),
        ));
    }
    let idle_json = idle.as_ref().map(|i| {
        json!({ "percent_of_core": (i.percent * 100.0).round() / 100.0, "wait_s": args.idle_wait,
                "window_s": args.idle_window, "nlu_turns": i.turns, "target_percent": 1.0,
                "turns_per_s": (i.turns_per_s * 10.0).round() / 10.0,
                "cpu_ms_per_turn": (i.busy_cpu_ms_per_turn * 100.0).round() / 100.0,
                "target_met": i.percent < 1.0 })
    });
    Ok(Report {
        rows,
        json: json!({
            "startup": {
                "new_file_ms": round1(first),
                "empty_db_ms": round1(empty),
                "large_db_ms": round1(large),
                "large_db_rows": args.rows,
                "large_db_mb": round1(size_mb),
                "runs": runs,
            },
            "idle_rss_mb": round1(idle_rss_mb),
            "idle_cpu": idle_json,
            "binary_mb": round1(binary_mb),
        }),
    })
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Starts `serve`, waits for `/readyz`, optionally reads idle RSS, stops it
/// with SIGTERM and checks the exit status. Returns ms to ready.
fn start_and_stop(exe: &Path, data: &Path, rss_mb: Option<&mut f64>) -> anyhow::Result<f64> {
    let (mut child, _, ready_ms) = start(exe, data)?;
    if let Some(rss) = rss_mb {
        std::thread::sleep(Duration::from_millis(500));
        *rss = rss_of(child.id()).unwrap_or(0.0);
    }
    stop(&mut child)?;
    Ok(ready_ms)
}

/// Starts `serve` on a free port and waits for `/readyz`: the child, its
/// port and the ms it took.
fn start(exe: &Path, data: &Path) -> anyhow::Result<(Child, u16, f64)> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let started = Instant::now();
    let mut child = Command::new(exe)
        .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--data"])
        .arg(data)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start the server")?;
    let ready_ms = loop {
        if ready(port) {
            break started.elapsed().as_secs_f64() * 1000.0;
        }
        if let Some(status) = child.try_wait()? {
            let mut err = String::new();
            child.stderr.take().map(|mut e| e.read_to_string(&mut err));
            bail!("server exited with {status} before ready: {err}");
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            bail!("server not ready after 30 s");
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    Ok((child, port, ready_ms))
}

/// What the idle measurement found.
struct Idle {
    percent: f64,
    turns: usize,
    turns_per_s: f64,
    /// Server CPU time per turn while the turns were served.
    busy_cpu_ms_per_turn: f64,
}

/// Prepares a data file with a bot whose published flow routes on its
/// trained NLU model, serves `idle_turns` widget messages (each one an
/// embedding inference), waits, then measures the server's CPU.
fn idle_cpu(exe: &Path, data: &Path, args: &StartupArgs, ml: &MlConfig) -> anyhow::Result<Idle> {
    let key = seed_nlu_bot(data, ml)?;
    let (mut child, port, _) = start(exe, data)?;
    let measured = (|| {
        // The server loads its models in the background; /readyz waits for them.
        let started = Instant::now();
        let busy_from = cpu_ticks(child.id()).context("reading /proc/<pid>/stat")?;
        let mut turns = 0;
        while turns < args.idle_turns {
            // A session takes 5 messages per second; 30 sessions per second per address.
            let session = http_json(port, "POST", &format!("/api/v1/widget/{key}/sessions"), "")?;
            let id = session["session_id"].as_str().context("no session id")?.to_owned();
            for n in 0..4 {
                let text = super::runtime::NLU_MESSAGES[(turns + n) % super::runtime::NLU_MESSAGES.len()];
                let reply = http_json(
                    port,
                    "POST",
                    &format!("/api/v1/widget/{key}/sessions/{id}/messages"),
                    &json!({ "text": text }).to_string(),
                )?;
                if reply["replies"].as_array().is_none_or(Vec::is_empty) {
                    bail!("a widget turn got no reply: {reply}");
                }
            }
            turns += 4;
            // Stay under the per-address session rate.
            std::thread::sleep(Duration::from_millis(40));
        }
        let traffic_s = started.elapsed().as_secs_f64();
        let turns_per_s = turns as f64 / traffic_s;
        let busy_ticks = cpu_ticks(child.id()).context("reading /proc/<pid>/stat")? - busy_from;
        let busy_cpu_ms_per_turn = busy_ticks as f64 / USER_HZ * 1000.0 / turns.max(1) as f64;
        std::thread::sleep(Duration::from_secs(args.idle_wait));
        let before = cpu_ticks(child.id()).context("reading /proc/<pid>/stat")?;
        let window = Instant::now();
        std::thread::sleep(Duration::from_secs(args.idle_window));
        let after = cpu_ticks(child.id()).context("reading /proc/<pid>/stat")?;
        let percent = (after - before) as f64 / USER_HZ / window.elapsed().as_secs_f64() * 100.0;
        Ok(Idle { percent, turns, turns_per_s, busy_cpu_ms_per_turn })
    })();
    stop(&mut child)?;
    measured
}

/// A new data file with an organization and an active bot answering through
/// the NLU flow of `bench runtime`; returns the bot's widget key.
fn seed_nlu_bot(data: &Path, ml: &MlConfig) -> anyhow::Result<String> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let mut config = Config { data: data.to_path_buf(), ml: ml.clone(), ..Config::default() };
    config.ml.enabled = true;
    config.jobs.workers = 0;
    let (state, lock) = AppState::open(config).map_err(|e| anyhow::anyhow!("{e}"))?;
    state.models.embedder_blocking().map_err(|e| anyhow::anyhow!("the embedding model did not load: {e:?}"))?;
    let org = super::runtime::setup_org(&state)?;
    let tenant = Tenant::system(org, "benchmark");
    let bot = super::runtime::new_bot(&state, org, "Idle bench")?;
    super::runtime::train(&state, &tenant, bot)?;
    runtime.block_on(super::runtime::publish(&state, &tenant, bot, super::runtime::NLU_FLOW))?;
    let key = state
        .db
        .write_blocking(|tx| {
            Ok(tx.query_row("SELECT widget_key FROM bots WHERE id = ?1", [bot.0], |r| r.get::<_, String>(0))?)
        })
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    state.nlu.shutdown();
    state.db.checkpoint().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    drop(state);
    drop(lock);
    Ok(key)
}

/// One HTTP/1.1 request with a JSON body; the JSON answer of a 2xx.
fn http_json(port: u16, method: &str, path: &str, body: &str) -> anyhow::Result<serde_json::Value> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let (head, payload) = answer.split_once("\r\n\r\n").context("no HTTP header")?;
    let ok = head.split_whitespace().nth(1).is_some_and(|s| s.starts_with('2'));
    if !ok {
        bail!("{method} {path}: {head} {payload}");
    }
    // Chunked answers carry the JSON between size lines.
    let json_text = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        payload.lines().filter(|l| !l.is_empty() && usize::from_str_radix(l.trim(), 16).is_err()).collect::<String>()
    } else {
        payload.to_owned()
    };
    serde_json::from_str(&json_text).with_context(|| format!("{method} {path}: not JSON: {payload}"))
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; fields after it start at state (3).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after `) `.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn ready(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream.write_all(b"GET /readyz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n").is_err() {
        return false;
    }
    let mut head = [0_u8; 12];
    stream.read_exact(&mut head).is_ok() && &head[9..12] == b"200"
}

/// SIGTERM, then wait for a clean exit.
fn stop(child: &mut Child) -> anyhow::Result<()> {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status()?;
    if !status.success() {
        bail!("cannot signal the server");
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait()? {
            if !status.success() {
                bail!("server exited with {status} on SIGTERM");
            }
            return Ok(());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            bail!("server did not stop within 20 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Resident set size of a process in MB (Linux).
#[must_use]
pub fn rss_of(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// A database with one organization and `rows` audit-log rows.
fn fill(path: &Path, rows: usize) -> anyhow::Result<()> {
    let db = Db::open(path, &DbConfig::default())?;
    db.write_blocking(|tx| {
        tx.execute("INSERT INTO users (email, password_hash, name) VALUES ('bench@example.com', 'x', 'Bench')", [])?;
        let user = tx.last_insert_rowid();
        tx.execute("INSERT INTO organizations (name, slug, owner_id) VALUES ('Bench', 'bench', ?1)", [user])?;
        let org = tx.last_insert_rowid();
        let mut stmt = tx.prepare(
            "INSERT INTO audit_logs (organization_id, user_id, action, resource_type, resource_id, new_values)
             VALUES (?1, ?2, 'bot.updated', 'bot', ?3, ?4)",
        )?;
        for i in 0..rows {
            stmt.execute(rusqlite::params![org, user, i as i64, format!("{{\"name\":\"bot {i}\"}}")])?;
        }
        Ok(())
    })
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    db.checkpoint().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(())
}

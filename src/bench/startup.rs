//! Cold start: process start → `/readyz` answering 200, measured on a new
//! data file (migrations applied), on an existing empty one, and on one with
//! 100k rows; then the idle RSS of the running server.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use serde_json::json;

use super::{Report, median};
use crate::config::DbConfig;
use crate::db::Db;

#[derive(Debug, Args)]
pub struct StartupArgs {
    /// Runs per case (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Rows in the large database.
    #[arg(long, default_value_t = 100_000)]
    pub rows: usize,
}

impl Default for StartupArgs {
    fn default() -> Self {
        Self { runs: 5, rows: 100_000 }
    }
}

pub fn run(args: &StartupArgs) -> anyhow::Result<Report> {
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
    Ok(Report {
        rows: vec![
            ("cold start, new data file (ms, median)".into(), format!("{first:.1}")),
            ("cold start, empty database (ms, median)".into(), format!("{empty:.1}")),
            (format!("cold start, {} rows, {size_mb:.0} MB (ms, median)", args.rows), format!("{large:.1}")),
            ("idle RSS after start (MB)".into(), format!("{idle_rss_mb:.1}")),
            ("binary size (MB)".into(), format!("{binary_mb:.1}")),
        ],
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
    if let Some(rss) = rss_mb {
        std::thread::sleep(Duration::from_millis(500));
        *rss = rss_of(child.id()).unwrap_or(0.0);
    }
    stop(&mut child)?;
    Ok(ready_ms)
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

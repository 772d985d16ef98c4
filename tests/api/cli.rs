//! The `botbuilder` command: bad data files are refused untouched, backup
//! is consistent under load, restore refuses what it must, shutdown is clean.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::spawn_app;

const BIN: &str = env!("CARGO_BIN_EXE_botbuilder");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).env("RUST_LOG", "warn").output().expect("run botbuilder")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn digest(path: &Path) -> Vec<u8> {
    botbuilder::crypto::sha256(&std::fs::read(path).expect("read")).to_vec()
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn migrated_db(dir: &Path) -> PathBuf {
    let data = dir.join("ok.db");
    let out = run(&["migrate", "--data", path_str(&data)]);
    assert!(out.status.success(), "{}", text(&out));
    data
}

#[test]
fn version_names_the_schema() {
    let out = run(&["version"]);
    assert!(out.status.success());
    assert!(text(&out).contains("schema version"), "{}", text(&out));
}

#[test]
fn migrate_creates_then_is_idempotent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("m.db");
    let first = run(&["migrate", "--data", path_str(&data)]);
    assert!(text(&first).contains("from a new database"), "{}", text(&first));
    let latest = botbuilder::db::latest_version();
    let second = run(&["migrate", "--data", path_str(&data)]);
    assert!(second.status.success());
    assert!(
        text(&second).contains(&format!("from schema version {latest} to schema version {latest}")),
        "{}",
        text(&second)
    );
    assert!(dir.path().join("m.db.key").exists(), "the key file is created beside the data file");
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("notes.txt");
    std::fs::write(&data, "these are my notes, not a database\n".repeat(20)).expect("write");
    let before = digest(&data);
    let out = run(&["serve", "--data", path_str(&data), "--bind", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("not an SQLite database"), "{}", text(&out));
    assert_eq!(digest(&data), before);
    assert!(!dir.path().join("notes.txt-wal").exists());
}

#[test]
fn a_corrupt_database_is_refused_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = migrated_db(dir.path());
    let mut bytes = std::fs::read(&data).expect("read");
    for b in &mut bytes[100..4096] {
        *b = 0xA5;
    }
    std::fs::write(&data, &bytes).expect("write");
    let before = digest(&data);
    let out = run(&["serve", "--data", path_str(&data), "--bind", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("corrupt"), "{}", text(&out));
    assert_eq!(digest(&data), before);
}

#[test]
fn a_foreign_sqlite_database_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("other.db");
    rusqlite::Connection::open(&data)
        .expect("open")
        .execute_batch("CREATE TABLE customers (id INTEGER PRIMARY KEY);")
        .expect("create");
    let before = digest(&data);
    let out = run(&["migrate", "--data", path_str(&data)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("not a botbuilder data file"), "{}", text(&out));
    assert_eq!(digest(&data), before);
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = migrated_db(dir.path());
    rusqlite::Connection::open(&data)
        .expect("open")
        .execute(
            "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) VALUES (9999, 'future', '2030-01-01', '1')",
            [],
        )
        .expect("insert");
    let out = run(&["serve", "--data", path_str(&data), "--bind", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("schema version 9999 was written by a newer botbuilder"), "{}", text(&out));
}

#[test]
fn an_unusable_data_directory_is_refused_with_every_problem_listed() {
    let out = run(&["serve", "--data", "/nonexistent/dir/x.db", "--bind", "not-an-address"]);
    assert_eq!(out.status.code(), Some(2));
    let t = text(&out);
    assert!(t.contains("data: directory /nonexistent/dir does not exist"), "{t}");
    assert!(t.contains("bind: `not-an-address`"), "{t}");
    // /proc refuses new files even to root.
    let out = run(&["serve", "--data", "/proc/botbuilder.db"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("is not writable"), "{}", text(&out));
}

#[test]
fn restore_refuses_non_backups_and_keeps_the_target() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = migrated_db(dir.path());
    let before = digest(&data);
    let junk = dir.path().join("junk.bin");
    std::fs::write(&junk, [0_u8; 4096]).expect("write");
    let out = run(&["restore", path_str(&junk), "--data", path_str(&data)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("not an SQLite database"), "{}", text(&out));
    let foreign = dir.path().join("foreign.db");
    rusqlite::Connection::open(&foreign).expect("open").execute_batch("CREATE TABLE t (x);").expect("create");
    let out = run(&["restore", path_str(&foreign), "--data", path_str(&data)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("not a botbuilder data file"), "{}", text(&out));
    assert_eq!(digest(&data), before);
}

struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(data: &Path) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let child = Command::new(BIN)
            .args(["serve", "--data", path_str(data), "--bind", &format!("127.0.0.1:{port}")])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let server = Server { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let ready = raw_http::get_status(&format!("http://127.0.0.1:{port}/readyz"));
            if ready == Some(200) {
                return server;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("server did not become ready");
    }

    fn terminate(mut self) -> std::process::ExitStatus {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("kill");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not stop after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A tiny blocking GET for readiness polling (status code only).
mod raw_http {
    pub fn get_status(url: &str) -> Option<u16> {
        use std::io::{Read, Write};
        let rest = url.strip_prefix("http://")?;
        let (host, path) = rest.split_once('/')?;
        let mut stream = std::net::TcpStream::connect(host).ok()?;
        stream.set_read_timeout(Some(std::time::Duration::from_secs(2))).ok()?;
        write!(stream, "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").ok()?;
        let mut head = [0_u8; 12];
        stream.read_exact(&mut head).ok()?;
        std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
    }
}

#[test]
fn sigterm_drains_checkpoints_and_exits_zero_and_the_file_is_locked_meanwhile() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("live.db");
    let server = Server::start(&data);
    assert!(server.port > 0);
    // A second server and a restore on the same file are refused.
    let second = run(&["serve", "--data", path_str(&data), "--bind", "127.0.0.1:0"]);
    assert_eq!(second.status.code(), Some(2));
    assert!(text(&second).contains("in use by another botbuilder process"), "{}", text(&second));
    let backup = dir.path().join("b.db");
    assert!(
        run(&["backup", path_str(&backup), "--data", path_str(&data)]).status.success(),
        "backup works while serving"
    );
    let restore = run(&["restore", path_str(&backup), "--data", path_str(&data)]);
    assert_eq!(restore.status.code(), Some(2));
    assert!(text(&restore).contains("in use"), "{}", text(&restore));

    let status = server.terminate();
    assert!(status.success(), "exit status {status}");
    let wal = dir.path().join("live.db-wal");
    assert!(!wal.exists() || std::fs::metadata(&wal).expect("meta").len() == 0, "WAL was not checkpointed");
}

#[tokio::test]
async fn backup_under_concurrent_writes_is_consistent_and_restore_brings_it_back() {
    let app = spawn_app().await;
    let session = app.register("backup@example.com").await;
    let data = app.data_path();
    // Keep writing while the backup runs.
    let db = app.state.db.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let org = session.org_id;
        tokio::task::spawn_blocking(move || {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                db.write_blocking(|tx| {
                    tx.execute(
                        "INSERT INTO audit_logs (organization_id, action, resource_type, new_values) VALUES (?1, 'load.test', 'load', ?2)",
                        rusqlite::params![org, json!({ "n": n }).to_string()],
                    )?;
                    Ok(())
                })
                .expect("write");
                n += 1;
            }
            n
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let out_path = app.dir.path().join("backup.db");
    let out = tokio::task::spawn_blocking({
        let (data, out_path) = (data.clone(), out_path.clone());
        move || run(&["backup", path_str(&out_path), "--data", path_str(&data)])
    })
    .await
    .expect("join");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.await.expect("writer");
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("integrity check ok"), "{}", text(&out));
    assert!(written > 10, "writes kept running during the backup ({written})");
    let copy = rusqlite::Connection::open(&out_path).expect("open backup");
    let check: String = copy.query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("check");
    assert_eq!(check, "ok");
    let users: i64 = copy.query_row("SELECT count(*) FROM users", [], |r| r.get(0)).expect("count");
    assert_eq!(users, 1);
    let rows: i64 =
        copy.query_row("SELECT count(*) FROM audit_logs WHERE action = 'load.test'", [], |r| r.get(0)).expect("count");
    assert!(rows > 0 && rows <= written, "{rows} of {written}");
    // An existing output file is never overwritten.
    let again = run(&["backup", path_str(&out_path), "--data", path_str(&data)]);
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again).contains("already exists"), "{}", text(&again));

    // Restore into a fresh location: the copy becomes the data file.
    let target_dir = tempfile::tempdir().expect("tempdir");
    let target = target_dir.path().join("restored.db");
    std::fs::write(&target, b"").expect("placeholder");
    let restored = run(&["restore", path_str(&out_path), "--data", path_str(&target)]);
    assert!(restored.status.success(), "{}", text(&restored));
    let users: i64 = rusqlite::Connection::open(&target)
        .expect("open")
        .query_row("SELECT count(*) FROM users", [], |r| r.get(0))
        .expect("q");
    assert_eq!(users, 1);
    assert!(
        std::fs::read_dir(target_dir.path()).expect("dir").any(|e| e
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .contains("pre-restore")),
        "the replaced file is kept"
    );
}

#[test]
fn bench_runtime_prints_turns_per_second_and_latency_as_json() {
    let out = run(&["bench", "runtime", "--flow-turns", "300", "--skip-nlu", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().expect("a last line");
    let report: serde_json::Value = serde_json::from_str(last).expect("JSON on the last line");
    let flow = &report["flow_only"];
    assert!(flow["turns_per_s"].as_f64().is_some_and(|t| t > 0.0), "{report}");
    assert!(flow["p95_ms"].as_f64().is_some_and(|p| p > 0.0), "{report}");
    for level in ["1", "16", "128"] {
        assert!(flow["levels"][level]["turns"].as_u64().is_some_and(|n| n >= 300), "{report}");
    }
    assert!(stdout.contains("flow-only, 16 conversations"), "{stdout}");
}

//! The `botbuilder` command: bad data files are refused untouched, backup
//! is consistent under load, restore refuses what it must, shutdown is clean.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

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

/// `botbuilder serve` as a child process on a free port, started once `/readyz` answers 200.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) port: u16,
}

impl Server {
    fn start(data: &Path) -> Server {
        Server::start_with(data, &[])
    }

    pub(crate) fn start_with(data: &Path, env: &[(&str, &str)]) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let child = Command::new(BIN)
            .args(["serve", "--data", path_str(data), "--bind", &format!("127.0.0.1:{port}")])
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
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

    pub(crate) fn terminate(mut self) -> std::process::ExitStatus {
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

    /// Sends a JSON POST and waits (up to a minute) for the status line.
    pub fn post_json(port: u16, path: &str, body: &str) -> Option<u16> {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        stream.set_read_timeout(Some(std::time::Duration::from_secs(60))).ok()?;
        write!(
            stream,
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .ok()?;
        let mut head = [0_u8; 12];
        stream.read_exact(&mut head).ok()?;
        std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
    }
}

/// Whether another process holds the data-file lock `<data>.lock`.
fn lock_is_held(data: &Path) -> bool {
    let file =
        std::fs::OpenOptions::new().write(true).open(format!("{}.lock", data.display())).expect("the lock file exists");
    match file.try_lock() {
        Ok(()) => false,
        Err(std::fs::TryLockError::WouldBlock) => true,
        Err(std::fs::TryLockError::Error(e)) => panic!("try_lock: {e}"),
    }
}

#[test]
fn sigterm_with_a_worker_stuck_in_a_blocking_write_exits_zero_within_the_timeout_holding_the_lock() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("stuck.db");
    let mut server = Server::start_with(
        &data,
        &[("BOTBUILDER_HTTP__SHUTDOWN_TIMEOUT_SECS", "2"), ("BOTBUILDER_DB__BUSY_TIMEOUT_MS", "120000")],
    );
    // Another connection holds SQLite's write lock: every write of the server
    // (the sign-up below, job leasing, the shutdown checkpoint) waits up to
    // two minutes on a blocking thread that nothing can interrupt.
    let blocker = rusqlite::Connection::open(&data).expect("open");
    blocker.execute_batch("BEGIN IMMEDIATE").expect("take the write lock");
    let port = server.port;
    let request = std::thread::spawn(move || {
        raw_http::post_json(
            port,
            "/api/v1/auth/register",
            r#"{"email":"stuck@example.com","password":"correct horse 42","name":"Stuck"}"#,
        )
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(lock_is_held(&data));

    let signalled = Instant::now();
    Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().expect("kill");
    let status = loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            break status;
        }
        // While the process lives, the data file stays locked: a second
        // server cannot open it. (The kernel frees the lock a moment before
        // the exiting process can be reaped, hence the short grace.)
        if !lock_is_held(&data) {
            let freed = Instant::now();
            while server.child.try_wait().expect("wait").is_none() {
                assert!(freed.elapsed() < Duration::from_secs(1), "the lock was released while the process lived");
                std::thread::sleep(Duration::from_millis(5));
            }
            continue;
        }
        assert!(signalled.elapsed() < Duration::from_secs(15), "the server did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = signalled.elapsed();
    assert!(status.success(), "exit status {status}");
    assert!(took < Duration::from_millis(3500), "exit took {took:?} with a 2 s shutdown timeout");
    assert!(!lock_is_held(&data), "the lock is released once the process is gone");
    drop(blocker);
    let _ = request.join();
    // The file is sound and opens again.
    let out = run(&["migrate", "--data", path_str(&data)]);
    assert!(out.status.success(), "{}", text(&out));
}

fn write_key(path: &Path, byte: u8) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("{}\n", hex_key(byte))).expect("write key");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

fn hex_key(byte: u8) -> String {
    format!("{byte:02x}").repeat(32)
}

#[test]
fn serve_and_migrate_refuse_a_master_key_that_does_not_match_the_data_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = migrated_db(dir.path());
    let other = dir.path().join("other.key");
    write_key(&other, 7);
    let before = digest(&data);
    let out =
        run(&["serve", "--data", path_str(&data), "--bind", "127.0.0.1:0", "--secret-key-file", path_str(&other)]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("written with another master key (check value"), "{t}");
    assert!(t.contains(&format!("the key file {} has check value", other.display())), "{t}");
    assert!(t.contains("--rekey"), "{t}");
    assert_eq!(digest(&data), before, "refused untouched");

    // Without its key file the data file is refused too, and no new key is made.
    let key = dir.path().join("ok.db.key");
    std::fs::rename(&key, dir.path().join("kept.key")).expect("move the key away");
    let out = run(&["migrate", "--data", path_str(&data)]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains(&format!("there is no key file at {}", key.display())), "{}", text(&out));
    assert!(!key.exists(), "no new key file was created");
    std::fs::rename(dir.path().join("kept.key"), &key).expect("put it back");
    assert!(run(&["migrate", "--data", path_str(&data)]).status.success());
}

#[tokio::test]
async fn restore_needs_the_matching_key_and_rekey_clears_and_lists_what_it_cannot_read() {
    use reqwest::Method;
    let app = spawn_app().await;
    let s = app.register("rekey@example.com").await;
    let provider = crate::keycheck::provider_with_key(&app, &s).await;
    let (status, token) = app
        .call(
            &s,
            Method::POST,
            &format!("/api/v1/orgs/{}/api-tokens", s.org_id),
            Some(json!({ "name": "CI", "scopes": ["bots.read"] })),
        )
        .await;
    assert_eq!(status, 201, "{token}");
    // The first account is the instance's administrator: an SMTP password in the console.
    let console = crate::admin::console(&app, "rekey@example.com").await;
    let smtp = json!({ "smtp": { "host": "smtp.example.com", "port": 587, "tls": "starttls", "username": "mailer",
                                 "password": "smtp-pass", "from": "bots@example.com" } });
    let (status, body) =
        crate::admin::admin_call(&app, &console, Method::PUT, "/api/v1/admin/settings", Some(smtp)).await;
    assert_eq!(status, 200, "{body}");
    let backup = app.dir.path().join("b.db");
    let out = tokio::task::spawn_blocking({
        let (data, backup) = (app.data_path(), backup.clone());
        move || run(&["backup", path_str(&backup), "--data", path_str(&data)])
    })
    .await
    .expect("join");
    assert!(out.status.success(), "{}", text(&out));

    let target_dir = tempfile::tempdir().expect("tempdir");
    let target = target_dir.path().join("restored.db");
    let key = target_dir.path().join("restored.db.key");
    let restore = |extra: &[&str]| {
        let mut args = vec!["restore", path_str(&backup), "--data", path_str(&target)];
        args.extend_from_slice(extra);
        run(&args)
    };
    // No key file beside the target: refused, nothing created.
    let out = restore(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("was written with a master key (check value"), "{}", text(&out));
    assert!(text(&out).contains(&format!("there is no key file at {}", key.display())), "{}", text(&out));
    assert!(!target.exists() && !key.exists(), "nothing was created");
    // Another key: refused, with both check values.
    write_key(&key, 7);
    let out = restore(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("was written with another master key"), "{}", text(&out));
    assert!(!target.exists());
    // The right key, named with --secret-key-file, is accepted.
    let right_dir = tempfile::tempdir().expect("tempdir");
    let right = right_dir.path().join("right.db");
    let key_file = app.state.config.secret_key_path();
    let out =
        run(&["restore", path_str(&backup), "--data", path_str(&right), "--secret-key-file", path_str(&key_file)]);
    assert!(out.status.success(), "{}", text(&out));

    // --rekey: accepted, and what cannot be read is cleared and listed.
    let out = restore(&["--rekey"]);
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("re-keyed the data file"), "{t}");
    assert!(t.contains(&format!("llm_providers {provider} (organization {}): API key cleared", s.org_id)), "{t}");
    assert!(t.contains("api_tokens") && t.contains("re-issue it"), "{t}");
    assert!(t.contains("settings 0: instance.smtp password cleared"), "{t}");
    assert_eq!(std::fs::read_to_string(&key).expect("key").trim(), hex_key(7), "the given key is kept");

    // Served with the new key: the provider's key is a stable 409, not a 500,
    // and the re-key is in the audit log.
    let restored = crate::helpers::spawn_app_with(|c| c.data.clone_from(&target)).await;
    let s = restored.login("rekey@example.com", "correct horse 42").await;
    let response = restored
        .as_user(&s, Method::POST, &format!("/api/v1/llm-providers/{provider}/test"))
        .send()
        .await
        .expect("send");
    let body = crate::helpers::assert_error(response, 409, "secret_unreadable").await;
    assert!(body["error"]["message"].as_str().unwrap_or_default().contains("re-keyed"), "{body}");
    let (_, shown) = restored.call(&s, Method::GET, &format!("/api/v1/llm-providers/{provider}"), None).await;
    assert_eq!(shown["has_api_key"], false, "{shown}");
    let audited: i64 = restored
        .sql(|c| c.query_row("SELECT count(*) FROM admin_audit_log WHERE action = 'crypto.rekey'", [], |r| r.get(0)));
    assert_eq!(audited, 1);
    // The SMTP password is gone, its user name kept: the console asks for the password again.
    let smtp: Value = restored.sql(|c| {
        c.query_row("SELECT value FROM settings WHERE key = 'instance.smtp'", [], |r| r.get::<_, String>(0))
            .map(|v| serde_json::from_str(&v).expect("json"))
    });
    assert_eq!((smtp["username"].clone(), smtp["password_sealed"].clone()), (json!("mailer"), Value::Null), "{smtp}");
    // A second start with the same key is an ordinary start.
    let restored = restored.restart(|c| c.data.clone_from(&target)).await;
    let audited: i64 = restored
        .sql(|c| c.query_row("SELECT count(*) FROM admin_audit_log WHERE action = 'crypto.rekey'", [], |r| r.get(0)));
    assert_eq!(audited, 1);
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
    // The backup needs the master key it was written with, beside the new data file.
    std::fs::copy(app.state.config.secret_key_path(), target_dir.path().join("restored.db.key")).expect("copy key");
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

#[test]
fn bench_billing_reports_metering_overhead_and_usage_query_latency_as_json() {
    let out = run(&["bench", "billing", "--turns", "200", "--orgs", "20", "--queries", "20", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().expect("a last line");
    let report: serde_json::Value = serde_json::from_str(last).expect("JSON on the last line");
    for key in ["turns_per_s_off", "turns_per_s_on"] {
        assert!(report["metering"][key].as_f64().is_some_and(|t| t > 0.0), "{report}");
    }
    assert!(report["metering"]["overhead_pct"].as_f64().is_some(), "{report}");
    assert_eq!(report["usage_query"]["rows"], 20 * 12 * 3 * 6, "{report}");
    assert!(report["usage_query"]["p95_ms"].as_f64().is_some_and(|p| p > 0.0), "{report}");
    assert!(stdout.contains("metering overhead"), "{stdout}");
}

#[test]
fn bench_channels_reports_webhook_latency_and_queue_drain_per_type_as_json() {
    let out = run(&[
        "bench",
        "channels",
        "--seconds",
        "1",
        "--rate",
        "40",
        "--drain-messages",
        "40",
        "--drain-seconds",
        "5",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value =
        serde_json::from_str(stdout.lines().last().expect("a last line")).expect("JSON on the last line");
    let c = &report["channels"];
    assert_eq!(c["errors"], 0, "{report}");
    assert_eq!(c["calls"], 40, "{report}");
    assert!(c["p95_ms"].as_f64().is_some_and(|p| p > 0.0), "{report}");
    assert!(c["max_ms"].as_f64() >= c["p95_ms"].as_f64(), "{report}");
    assert!(c["achieved_rate"].as_f64().is_some_and(|r| r > 0.0), "{report}");
    let types = c["types"].as_array().expect("types");
    assert!(types.len() >= 4, "four channel types at least: {report}");
    for kind in types.iter().filter_map(Value::as_str) {
        assert_eq!(c["per_type"][kind]["calls"], 40 / types.len(), "{report}");
        let drain = &c["drain"][kind];
        assert_eq!(drain["sent"], 40, "the whole queue drained: {report}");
        assert!(drain["messages_per_s"].as_f64().is_some_and(|r| r > 0.0), "{report}");
    }
    // Telegram's queue waits 34 ms between requests: at most ~29 a second.
    assert_eq!(c["drain"]["telegram"]["min_interval_ms"], 34);
    assert!(c["drain"]["telegram"]["messages_per_s"].as_f64().is_some_and(|r| r <= 30.0), "{report}");
    assert!(stdout.contains("telegram: webhook in → reply queued"), "{stdout}");
}

#[test]
fn bench_analytics_generates_rolls_up_and_times_the_dashboards_as_json() {
    let out = run(&["bench", "analytics", "--scale", "0.0005", "--bots", "3", "--repeat", "3", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value =
        serde_json::from_str(stdout.lines().last().expect("a last line")).expect("JSON on the last line");
    let a = &report["analytics"];
    assert_eq!(a["conversations"], 250, "{report}");
    assert!(a["messages"].as_u64().is_some_and(|m| m >= 2500), "{report}");
    assert!(a["backfill_hours"].as_u64().is_some_and(|h| h > 0), "{report}");
    assert_eq!(a["catchup_day_hours"], 3 * 24, "{report}");
    assert!(a["rollup_bytes"].as_u64().is_some_and(|b| b > 0), "{report}");
    assert!(a["dashboard_p95_ms"].as_f64().is_some_and(|p| p > 0.0), "{report}");
    let queries = a["queries"].as_object().expect("queries");
    assert_eq!(queries.len(), 7, "{report}");
    // Every conversation of the last 365 days is counted by the organization's yearly dashboard.
    assert_eq!(queries["org 365 days by month"]["conversations"], 250, "{report}");
    assert!(stdout.contains("dashboard p95, all queries"), "{stdout}");
}

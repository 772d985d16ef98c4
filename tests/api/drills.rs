//! Reliability drills that CI runs (issue 30 item 6): the short forms of
//! `tests/drills/drill.py` (docs/drills.md). Each starts the real
//! `botbuilder` binary on a data file prepared in-process and drives it over
//! HTTP: `kill -9` under mixed load loses no acknowledged write and the
//! queues resume; a damaged WAL at start-up is reported (or the file refused);
//! a backup taken under load restores to the same rows; a full disk is a 507
//! `storage_full` with reads working and writes back once space returns.

#![allow(clippy::too_many_lines, reason = "each drill is one end-to-end scenario")]

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;
use tempfile::TempDir;

use crate::fake_http::{FakeServer, Received, Reply};
use crate::helpers::{Session, call_ok, published_bot, spawn_app};

const BIN: &str = env!("CARGO_BIN_EXE_botbuilder");

fn echo_flow() -> Value {
    json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "ask", "type": "question", "data": {
                "prompt": { "text": "got {{default(said, \"-\")}}" }, "variable": "said" } }
        ],
        "edges": [ { "source": "start", "target": "ask" }, { "source": "ask", "target": "ask" } ]
    })
}

/// `botbuilder serve` as a child process, its stderr kept in `<data>.stderr`.
struct Proc {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Proc {
    /// `Ok` once `/readyz` answers 200; `Err` with the exit status and stderr
    /// when the process exits first (a refused data file).
    fn start(data: &Path, env: &[(&str, &str)]) -> Result<Proc, (ExitStatus, String)> {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        // Beside the data file's directory, not in it: the disk-full drill
        // fills that one.
        let log = data.parent().and_then(Path::parent).unwrap_or(data).join(format!("server-{port}.stderr"));
        let file = File::options().create(true).append(true).open(&log).expect("log file");
        let child = Command::new(BIN)
            .args(["serve", "--data", data.to_str().expect("utf-8"), "--bind", &format!("127.0.0.1:{port}")])
            .env("RUST_LOG", "warn")
            .env("BOTBUILDER_OUTBOUND__ALLOW_PRIVATE", "true")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawn");
        let mut p = Proc { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Some(status) = p.child.try_wait().expect("wait") {
                return Err((status, p.stderr()));
            }
            if ready(port) {
                return Ok(p);
            }
            assert!(Instant::now() < deadline, "not ready within 90 s: {}", p.stderr());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn kill9(mut self) -> String {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
        self.stderr()
    }

    fn terminate(mut self) -> String {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("kill");
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().expect("wait").is_none() {
            assert!(Instant::now() < deadline, "no exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
        self.stderr()
    }
}

fn ready(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if write!(s, "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").is_err() {
        return false;
    }
    let mut head = [0_u8; 12];
    s.read_exact(&mut head).is_ok() && &head[9..12] == b"200"
}

/// What the in-process set-up left for the binary.
#[derive(Clone)]
struct Ctx {
    session: Arc<Session>,
    bot: i64,
    key: String,
    kb: i64,
    intent: i64,
    /// The generic HTTP channel's webhook path and secret.
    hook: Option<(String, String)>,
}

/// An org with a published echo bot, its widget key, a knowledge base, two
/// intents and (with a receiver) an active HTTP channel; the app is stopped
/// and its directory (data file and key) handed back.
async fn prepared(rx: Option<&FakeServer>) -> (TempDir, Ctx) {
    let app = spawn_app().await;
    let s = app.register("drill@example.com").await;
    let bot = published_bot(&app, &s, "Drill", echo_flow()).await;
    let widget = call_ok(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/widget"), None).await;
    let kb = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/orgs/{}/knowledge-bases", s.org_id),
        Some(json!({ "name": "Handbook" })),
    )
    .await;
    let mut intent = 0;
    for (name, examples) in
        [("greet", ["hello", "hi there", "good morning"]), ("bye", ["goodbye", "see you", "farewell"])]
    {
        let examples: Vec<Value> = examples.iter().map(|t| json!({ "text": t })).collect();
        let created = call_ok(
            &app,
            &s,
            Method::POST,
            &format!("/api/v1/bots/{bot}/nlu/intents"),
            Some(json!({ "name": name, "examples": examples })),
        )
        .await;
        intent = created["id"].as_i64().expect("intent id");
    }
    let hook = match rx {
        Some(rx) => {
            let channel = call_ok(
                &app,
                &s,
                Method::POST,
                &format!("/api/v1/orgs/{}/channels", s.org_id),
                Some(json!({ "type": "http", "bot_id": bot, "credentials": { "outbound_url": format!("{}/inbox", rx.base) } })),
            )
            .await;
            call_ok(&app, &s, Method::POST, &format!("/api/v1/channels/{}/activate", channel["id"]), None).await;
            let url = channel["webhook_url"].as_str().expect("webhook_url");
            let secret = channel["webhook_secret"].as_str().expect("secret").to_owned();
            Some((url[url.find("/hooks/").expect("/hooks/")..].to_owned(), secret))
        }
        None => None,
    };
    let ctx = Ctx {
        session: Arc::new(s),
        bot,
        key: widget["widget_key"].as_str().expect("widget key").to_owned(),
        kb: kb["id"].as_i64().expect("kb id"),
        intent,
        hook,
    };
    (app.stop().await, ctx)
}

/// Acknowledged writes: ids from 2xx answers, by table.
#[derive(Default, Clone, Debug)]
struct Acked {
    widget_messages: Vec<i64>,
    documents: Vec<i64>,
    intent_examples: Vec<i64>,
    jobs: Vec<i64>,
    /// Inbound channel messages by their external id.
    inbound: Vec<String>,
    refused: BTreeMap<String, usize>,
}

/// Mixed load against one server: widget turns, pasted documents (ingestion
/// jobs), NLU examples and training jobs, signed channel messages (outbound
/// replies queued). Runs until `stop`.
struct Load {
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Acked>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

fn user_request(
    client: &reqwest::Client,
    base: &str,
    s: &Session,
    method: Method,
    path: &str,
) -> reqwest::RequestBuilder {
    let unsafe_method = method != Method::GET;
    let mut b = client.request(method, format!("{base}{path}")).header("Cookie", &s.cookie);
    if unsafe_method {
        b = b.header("X-CSRF-Token", &s.csrf);
    }
    b
}

async fn answer(r: Result<reqwest::Response, reqwest::Error>) -> Option<(u16, Value)> {
    let r = r.ok()?;
    let status = r.status().as_u16();
    let text = r.text().await.ok()?;
    Some((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

fn refused(acked: &Mutex<Acked>, what: String) {
    *acked.lock().expect("lock").refused.entry(what).or_default() += 1;
}

impl Load {
    fn start(base: &str, ctx: &Ctx, widget_tasks: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(Acked::default()));
        let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
        let mut tasks = Vec::new();
        for n in 0..widget_tasks {
            let (stop, acked, client, base, key) =
                (stop.clone(), acked.clone(), client.clone(), base.to_owned(), ctx.key.clone());
            tasks.push(tokio::spawn(async move {
                let mut session: Option<String> = None;
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    let Some(id) = session.clone() else {
                        match answer(client.post(format!("{base}/api/v1/widget/{key}/sessions")).send().await).await {
                            Some((201, body)) => session = body["session_id"].as_str().map(str::to_owned),
                            Some((status, _)) => {
                                refused(&acked, format!("widget session {status}"));
                                tokio::time::sleep(Duration::from_millis(300)).await;
                            }
                            None => tokio::time::sleep(Duration::from_millis(50)).await,
                        }
                        continue;
                    };
                    i += 1;
                    let r = client
                        .post(format!("{base}/api/v1/widget/{key}/sessions/{id}/messages"))
                        .json(&json!({ "text": format!("w{n}-{i}") }))
                        .send()
                        .await;
                    match answer(r).await {
                        Some((200, body)) => {
                            let mut a = acked.lock().expect("lock");
                            let ids = std::iter::once(&body["message"])
                                .chain(body["replies"].as_array().into_iter().flatten())
                                .filter_map(|m| m["id"].as_i64());
                            a.widget_messages.extend(ids);
                        }
                        Some((status, _)) => {
                            refused(&acked, format!("widget turn {status}"));
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                        None => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }));
        }
        {
            let (stop, acked, client, base, ctx) =
                (stop.clone(), acked.clone(), client.clone(), base.to_owned(), ctx.clone());
            tasks.push(tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    i += 1;
                    let path = format!("/api/v1/knowledge-bases/{}/documents/text", ctx.kb);
                    let text = format!("# Policy {i}\n\nReturns within {i} days are free of charge. ").repeat(4);
                    let r = user_request(&client, &base, &ctx.session, Method::POST, &path)
                        .json(&json!({ "name": format!("doc {i}"), "text": text }))
                        .send()
                        .await;
                    match answer(r).await {
                        Some((201, body)) => acked.lock().expect("lock").documents.extend(body["id"].as_i64()),
                        Some((status, _)) => refused(&acked, format!("document {status}")),
                        None => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }));
        }
        {
            let (stop, acked, client, base, ctx) =
                (stop.clone(), acked.clone(), client.clone(), base.to_owned(), ctx.clone());
            tasks.push(tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    i += 1;
                    let path = format!("/api/v1/bots/{}/nlu/intents/{}/examples", ctx.bot, ctx.intent);
                    let r = user_request(&client, &base, &ctx.session, Method::POST, &path)
                        .json(&json!({ "examples": [{ "text": format!("farewell number {i}") }] }))
                        .send()
                        .await;
                    match answer(r).await {
                        Some((201, body)) => acked
                            .lock()
                            .expect("lock")
                            .intent_examples
                            .extend(body["added"].as_array().into_iter().flatten().filter_map(|e| e["id"].as_i64())),
                        Some((status, body)) => refused(&acked, format!("example {status} {}", body["error"]["code"])),
                        None => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                    if i % 20 == 1 {
                        let path = format!("/api/v1/bots/{}/nlu/train", ctx.bot);
                        match answer(user_request(&client, &base, &ctx.session, Method::POST, &path).send().await).await
                        {
                            Some((202, body)) => acked.lock().expect("lock").jobs.extend(body["id"].as_i64()),
                            Some((status, body)) => {
                                refused(&acked, format!("train {status} {}", body["error"]["code"]));
                            }
                            None => {}
                        }
                    }
                    if let Some((hook, secret)) = &ctx.hook {
                        let id = format!("m{i}");
                        let body = json!({ "type": "message", "id": id, "user": { "id": format!("u{}", i % 5) },
                                           "text": format!("hello {i}") })
                        .to_string();
                        let ts = chrono::Utc::now().timestamp().to_string();
                        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
                        mac.update(format!("{id}.{ts}.").as_bytes());
                        mac.update(body.as_bytes());
                        let signature = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
                        let r = client
                            .post(format!("{base}{hook}"))
                            .header("content-type", "application/json")
                            .header("webhook-id", &id)
                            .header("webhook-timestamp", &ts)
                            .header("webhook-signature", signature)
                            .body(body)
                            .send()
                            .await;
                        match answer(r).await {
                            Some((200, _)) => acked.lock().expect("lock").inbound.push(id),
                            Some((status, _)) => refused(&acked, format!("hook {status}")),
                            None => {}
                        }
                    }
                }
            }));
        }
        Load { stop, acked, tasks }
    }

    fn snapshot(&self) -> Acked {
        self.acked.lock().expect("lock").clone()
    }

    async fn finish(self) -> Acked {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.tasks {
            t.await.expect("load task");
        }
        self.acked.lock().expect("lock").clone()
    }
}

fn ids_in(data: &Path, sql: &str) -> HashSet<i64> {
    let conn = rusqlite::Connection::open_with_flags(data, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open");
    let mut st = conn.prepare(sql).expect("prepare");
    st.query_map([], |r| r.get(0)).expect("query").collect::<Result<_, _>>().expect("rows")
}

/// (acknowledged, found) per kind of write.
fn acknowledged_vs_found(data: &Path, a: &Acked) -> BTreeMap<&'static str, (usize, usize)> {
    let count = |ids: &[i64], sql: &str| {
        let found = ids_in(data, sql);
        (ids.len(), ids.iter().filter(|i| found.contains(i)).count())
    };
    let conn = rusqlite::Connection::open_with_flags(data, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open");
    let mut st = conn.prepare("SELECT external_id FROM channel_messages WHERE direction = 'inbound'").expect("prepare");
    let inbound: HashSet<String> =
        st.query_map([], |r| r.get(0)).expect("query").collect::<Result<_, _>>().expect("rows");
    BTreeMap::from([
        ("widget_messages", count(&a.widget_messages, "SELECT id FROM widget_messages")),
        ("documents", count(&a.documents, "SELECT id FROM documents")),
        ("intent_examples", count(&a.intent_examples, "SELECT id FROM intent_examples")),
        ("jobs (training)", count(&a.jobs, "SELECT id FROM jobs")),
        ("channel_messages (inbound)", (a.inbound.len(), a.inbound.iter().filter(|i| inbound.contains(*i)).count())),
    ])
}

fn one(data: &Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open_with_flags(data, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open");
    conn.query_row(sql, [], |r| r.get(0)).expect("query")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_under_mixed_load_loses_no_acknowledged_write_and_the_queues_resume() {
    let rx = FakeServer::start(Arc::new(|_: &Received| {
        Reply::Full(200, "application/json".into(), b"{\"ok\":true}".to_vec())
    }))
    .await;
    let (dir, ctx) = prepared(Some(&rx)).await;
    let data = dir.path().join("test.db");
    let env = [("BOTBUILDER_ML__ENABLED", "false")];
    let server = tokio::task::block_in_place(|| Proc::start(&data, &env)).expect("starts");
    let load = Load::start(&server.url(""), &ctx, 3);
    let started = Instant::now();
    loop {
        let a = load.snapshot();
        if (a.widget_messages.len() >= 60
            && a.documents.len() >= 5
            && a.intent_examples.len() >= 10
            && !a.jobs.is_empty())
            || started.elapsed() > Duration::from_secs(20)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Killed while requests are in flight: their answers never arrive, so they
    // are not acknowledged; everything answered 2xx must survive.
    tokio::task::block_in_place(|| server.kill9());
    let acked = load.finish().await;
    let wal = std::fs::metadata(format!("{}-wal", data.display())).map_or(0, |m| m.len());

    let restarted = Instant::now();
    let server = tokio::task::block_in_place(|| Proc::start(&data, &env)).expect("restarts after kill -9");
    let ready_after = restarted.elapsed();
    let found = acknowledged_vs_found(&data, &acked);
    // The queued work resumes: ingestion jobs end (without models a document
    // ends `failed` with its reason; with them `ready`), outbound replies are sent.
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let running = one(
            &data,
            "SELECT count(*) FROM jobs WHERE status IN ('queued', 'running') AND run_at <= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+1 second')",
        );
        let outbound =
            one(&data, "SELECT count(*) FROM channel_messages WHERE direction = 'outbound' AND status = 'pending'");
        let documents = one(&data, "SELECT count(*) FROM documents WHERE status NOT IN ('ready', 'failed')");
        if running == 0 && outbound == 0 && documents == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "queues did not drain: {running} jobs, {outbound} outbound, {documents} documents"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let drained_after = restarted.elapsed();
    let stderr = tokio::task::block_in_place(|| server.terminate());
    let sent = one(&data, "SELECT count(*) FROM channel_messages WHERE direction = 'outbound' AND status = 'sent'");
    let integrity: String = rusqlite::Connection::open(&data)
        .expect("open")
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity");
    println!(
        "kill -9 drill: acknowledged vs found {found:?}; refused {:?}; WAL at kill {wal} bytes; ready after restart \
         {:.2} s; queues drained {:.1} s after restart; {sent} outbound sent; integrity {integrity}",
        acked.refused,
        ready_after.as_secs_f64(),
        drained_after.as_secs_f64()
    );
    for (kind, (acknowledged, present)) in &found {
        assert_eq!(acknowledged, present, "{kind}: acknowledged writes lost");
    }
    assert!(found["widget_messages"].0 > 0 && found["documents"].0 > 0 && found["intent_examples"].0 > 0);
    assert_eq!(integrity, "ok");
    assert!(stderr.contains("-wal:"), "the start-up reports the WAL it recovered: {stderr}");
    assert!(sent > 0);
    drop(dir);
}

/// A data file as `kill -9` left it in the middle of widget turns: (dir, data).
async fn crashed() -> (TempDir, PathBuf) {
    let (dir, ctx) = prepared(None).await;
    let data = dir.path().join("test.db");
    let env = [("BOTBUILDER_ML__ENABLED", "false")];
    let server = tokio::task::block_in_place(|| Proc::start(&data, &env)).expect("starts");
    let load = Load::start(&server.url(""), &ctx, 2);
    while load.snapshot().widget_messages.len() < 40 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::task::block_in_place(|| server.kill9());
    load.finish().await;
    (dir, data)
}

fn copy_case(from: &Path, dir: &Path, name: &str) -> PathBuf {
    let case = dir.join(name);
    std::fs::create_dir(&case).expect("dir");
    let data = case.join("test.db");
    for suffix in ["", "-wal", "-shm", ".key"] {
        let source = PathBuf::from(format!("{}{suffix}", from.display()));
        if source.exists() {
            std::fs::copy(&source, format!("{}{suffix}", data.display())).expect("copy");
        }
    }
    data
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_truncated_or_damaged_wal_at_start_up_is_reported_and_a_corrupt_file_refused() {
    let (dir, original) = crashed().await;
    let wal = std::fs::read(format!("{}-wal", original.display())).expect("the kill left a WAL");
    assert!(wal.len() > 10_000, "a WAL of {} bytes", wal.len());
    let env = [("BOTBUILDER_ML__ENABLED", "false")];
    let half = wal.len() / 2;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("intact", wal.clone()),
        ("truncated mid-frame", wal[..wal.len() - 1500].to_vec()),
        ("garbage in the middle", [&wal[..half], &[0xA5_u8; 4096][..], &wal[half + 4096..]].concat()),
        ("garbage header", [&[0x5A_u8; 32][..], &wal[32..]].concat()),
    ];
    let mut summary = Vec::new();
    for (name, bytes) in cases {
        let data = copy_case(&original, dir.path(), &name.replace(' ', "_"));
        std::fs::write(format!("{}-wal", data.display()), &bytes).expect("write WAL");
        let server = tokio::task::block_in_place(|| Proc::start(&data, &env))
            .unwrap_or_else(|(status, log)| panic!("{name}: refused ({status}): {log}"));
        let status = reqwest::get(server.url("/api/v1/openapi.json")).await.expect("get").status().as_u16();
        assert_eq!(status, 200, "{name}: serving");
        let log = tokio::task::block_in_place(|| server.terminate());
        let report = log.lines().find(|l| l.contains("-wal:")).unwrap_or_else(|| panic!("{name}: no report in {log}"));
        assert!(log.contains("quick_check ok"), "{name}: {log}");
        if name == "garbage header" {
            assert!(report.contains("ignored entirely"), "{report}");
        } else if name != "intact" {
            assert!(report.contains("ignored"), "{report}");
        }
        let integrity: String = rusqlite::Connection::open(&data)
            .expect("open")
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("integrity");
        assert_eq!(integrity, "ok", "{name}");
        summary.push(format!("{name}: started; {}", &report[report.find("-wal:").unwrap_or(0)..]));
    }

    // The main file damaged under a WAL: refused with a clear message, exit 2, untouched.
    let data = copy_case(&original, dir.path(), "damaged_main_file");
    let mut main = std::fs::read(&data).expect("main");
    let len = main.len();
    main[len / 2..].iter_mut().enumerate().for_each(|(i, b)| *b = u8::try_from(i % 251).unwrap_or(0));
    std::fs::write(&data, &main).expect("damage");
    match tokio::task::block_in_place(|| Proc::start(&data, &env)) {
        Ok(server) => {
            let log = tokio::task::block_in_place(|| server.terminate());
            panic!("a corrupt data file was served: {log}");
        }
        Err((status, log)) => {
            assert_eq!(status.code(), Some(2), "{log}");
            assert!(log.contains("corrupt") && log.contains("restore it from a backup"), "{log}");
            let line = log.lines().find(|l| l.contains("corrupt")).unwrap_or_default();
            summary.push(format!("damaged main file: refused, exit 2: {}", &line[..line.len().min(200)]));
        }
    }
    assert_eq!(std::fs::read(&data).expect("main"), main, "the refused file is left as it was");
    println!("WAL drill ({} bytes of WAL at the kill):\n  {}", wal.len(), summary.join("\n  "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_under_load_restores_to_the_same_rows() {
    let (dir, ctx) = prepared(None).await;
    let data = dir.path().join("test.db");
    let env = [("BOTBUILDER_ML__ENABLED", "false")];
    let server = tokio::task::block_in_place(|| Proc::start(&data, &env)).expect("starts");
    let load = Load::start(&server.url(""), &ctx, 3);
    while load.snapshot().widget_messages.len() < 30 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before = load.snapshot();
    let backup = dir.path().join("backup.db");
    let took = Instant::now();
    let out = tokio::task::block_in_place(|| {
        Command::new(BIN)
            .args(["backup", backup.to_str().expect("utf-8"), "--data", data.to_str().expect("utf-8")])
            .output()
            .expect("backup")
    });
    let took = took.elapsed();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let during = load.snapshot().widget_messages.len() - before.widget_messages.len();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = load.finish().await;
    tokio::task::block_in_place(|| server.terminate());

    let restored = dir.path().join("restored.db");
    let out = tokio::task::block_in_place(|| {
        Command::new(BIN)
            .args(["restore", backup.to_str().expect("utf-8"), "--data", restored.to_str().expect("utf-8")])
            .args(["--secret-key-file", &format!("{}.key", data.display())])
            .output()
            .expect("restore")
    });
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // Row by row: every table of the backup equals the restored file's.
    let open =
        |p: &Path| rusqlite::Connection::open_with_flags(p, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open");
    let (b, r, live) = (open(&backup), open(&restored), open(&data));
    let tables: Vec<String> = b
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name")
        .expect("prepare")
        .query_map([], |row| row.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("tables");
    let dump = |c: &rusqlite::Connection, t: &str| -> Vec<Vec<rusqlite::types::Value>> {
        // Sorted here: WITHOUT ROWID tables have no rowid to order by.
        let mut st = c.prepare(&format!("SELECT * FROM \"{t}\"")).expect("select");
        let n = st.column_count();
        let mut rows: Vec<Vec<rusqlite::types::Value>> = st
            .query_map([], |row| (0..n).map(|i| row.get::<_, rusqlite::types::Value>(i)).collect())
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("values");
        rows.sort_by_cached_key(|row| format!("{row:?}"));
        rows
    };
    let (mut rows, mut differ, mut touched) = (0, Vec::new(), Vec::new());
    for t in &tables {
        let (in_backup, in_restored) = (dump(&b, t), dump(&r, t));
        rows += in_backup.len();
        if in_backup != in_restored {
            // The restore opens the file as `serve` does: start-up may update a
            // row (a job lease given back, a setting stamped), never add or drop one.
            let keys = |rows: &[Vec<rusqlite::types::Value>]| -> Vec<String> {
                let mut k: Vec<String> = rows.iter().map(|row| format!("{:?}", row.first())).collect();
                k.sort();
                k
            };
            if keys(&in_backup) == keys(&in_restored) { touched.push(t.clone()) } else { differ.push(t.clone()) }
        }
    }
    let integrity: String = b.query_row("PRAGMA integrity_check", [], |row| row.get(0)).expect("integrity");
    let fk: i64 = b.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |row| row.get(0)).expect("fk");
    // Everything acknowledged before the backup began is in it; the live file
    // kept everything the backup holds.
    let in_backup = acknowledged_vs_found(&backup, &before);
    let backup_messages = ids_in(&backup, "SELECT id FROM widget_messages");
    let live_messages = ids_in(&data, "SELECT id FROM widget_messages");
    drop(live);
    println!(
        "backup drill: backup of {} bytes in {:.2} s with {during} widget messages acknowledged meanwhile; \
         {} tables, {rows} rows compared with the restored file, {} differ {differ:?} (rows updated by the \
         restore's start-up in {touched:?}); acknowledged before vs in backup {in_backup:?}; {} widget messages acknowledged by the end; integrity {integrity}; fk violations {fk}",
        std::fs::metadata(&backup).map_or(0, |m| m.len()),
        took.as_secs_f64(),
        tables.len(),
        differ.len(),
        after.widget_messages.len(),
    );
    assert!(differ.is_empty(), "{differ:?}");
    assert!(touched.iter().all(|t| t == "jobs" || t == "settings"), "{touched:?}");
    for (kind, (acknowledged, present)) in &in_backup {
        assert_eq!(acknowledged, present, "{kind}");
    }
    assert!(backup_messages.is_subset(&live_messages));
    assert_eq!((integrity.as_str(), fk), ("ok", 0));
}

/// Mounts a size-limited tmpfs, or says why not (the drill is then skipped).
fn mount_tmpfs(dir: &Path, mib: u32) -> Result<(), String> {
    let out = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs", dir.to_str().expect("utf-8")])
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).trim().to_owned()) }
}

struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_answers_507_storage_full_keeps_reads_and_recovers_when_space_returns() {
    let (dir, ctx) = prepared(None).await;
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).expect("mnt");
    if let Err(why) = mount_tmpfs(&mnt, 56) {
        println!("SKIPPED: the disk-full drill needs to mount a tmpfs (run as root): {why}");
        return;
    }
    let _unmount = Unmount(mnt.clone());
    for suffix in ["", ".key"] {
        std::fs::copy(dir.path().join(format!("test.db{suffix}")), mnt.join(format!("test.db{suffix}"))).expect("copy");
    }
    let data = mnt.join("test.db");
    let ballast = mnt.join("ballast");
    // Space given back later: more than the WAL frames a lagging checkpoint
    // may still have to copy into the main file once the disk has room.
    std::fs::write(&ballast, vec![0_u8; 16 << 20]).expect("ballast");
    let env = [("BOTBUILDER_ML__ENABLED", "false"), ("BOTBUILDER_JOBS__WORKERS", "0")];
    let server = tokio::task::block_in_place(|| Proc::start(&data, &env)).expect("starts");
    let client = reqwest::Client::new();
    let base = server.url("");
    let s = ctx.session.clone();
    let call = |method: Method, path: &str, body: Option<Value>| {
        let mut b = user_request(&client, &base, &s, method, path);
        if let Some(body) = body {
            b = b.json(&body);
        }
        let srv = &server;
        async move { answer(b.send().await).await.unwrap_or_else(|| panic!("the server answers: {}", srv.stderr())) }
    };
    let filler = "lorem ipsum dolor sit amet ".repeat(20_000);
    let mut written = 0;
    let full = loop {
        let (status, body) = call(
            Method::POST,
            &format!("/api/v1/knowledge-bases/{}/documents/text", ctx.kb),
            Some(json!({ "name": format!("fill {written}"), "text": format!("{written} {filler}") })),
        )
        .await;
        if status == 201 {
            written += 1;
            assert!(written < 200, "the 56 MiB tmpfs never filled");
            continue;
        }
        break (status, body);
    };
    assert_eq!(full.0, 507, "{}", full.1);
    assert_eq!(full.1["error"]["code"], "storage_full");
    assert_eq!(full.1["error"]["details"]["retryable"], true);

    // While full: a small write may still fit in pages SQLite already has,
    // but every write is either done or a 507, never a 500; once the small
    // ones fill the last pages they get the same 507, the widget too; reads work.
    let mut squeezed_in = 0;
    let (intent_status, intent) = loop {
        let name = format!("while_full_{squeezed_in}");
        let (status, body) =
            call(Method::POST, &format!("/api/v1/bots/{}/nlu/intents", ctx.bot), Some(json!({ "name": name }))).await;
        if status != 201 || squeezed_in == 500 {
            break (status, body);
        }
        squeezed_in += 1;
    };
    let widget =
        answer(client.post(format!("{base}/api/v1/widget/{}/sessions", ctx.key)).send().await).await.expect("answers");
    let (list_status, _) = call(Method::GET, &format!("/api/v1/knowledge-bases/{}/documents", ctx.kb), None).await;
    let (bots_status, _) = call(Method::GET, &format!("/api/v1/orgs/{}/bots", s.org_id), None).await;
    assert_eq!((intent_status, &intent["error"]["code"]), (507, &json!("storage_full")), "{intent}");
    assert!(
        widget.0 == 201 || (widget.0, &widget.1["error"]["code"]) == (507, &json!("storage_full")),
        "{} {}",
        widget.0,
        widget.1
    );
    assert_eq!((list_status, bots_status), (200, 200));

    // Space returns: writes succeed again, nothing is corrupt.
    // The 507 says `retryable`: a client retries, and within a few seconds
    // (a write the full disk interrupted is rolled back first) it succeeds.
    std::fs::remove_file(&ballast).expect("free the ballast");
    let mut retries = 0;
    let (again, created) = loop {
        let (status, body) =
            call(Method::POST, &format!("/api/v1/bots/{}/nlu/intents", ctx.bot), Some(json!({ "name": "after_full" })))
                .await;
        if status != 507 || retries == 40 {
            break (status, body);
        }
        assert_eq!(body["error"]["details"]["retryable"], true, "{body}");
        retries += 1;
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(again, 201, "{created}");
    let widget_after =
        answer(client.post(format!("{base}/api/v1/widget/{}/sessions", ctx.key)).send().await).await.expect("answers");
    assert_eq!(widget_after.0, 201, "{}", widget_after.1);
    tokio::task::block_in_place(|| server.terminate());
    let integrity: String = rusqlite::Connection::open(&data)
        .expect("open")
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity");
    assert_eq!(integrity, "ok");
    let documents = one(&data, "SELECT count(*) FROM documents");
    assert_eq!(documents, written, "every acknowledged document is there, no refused one");
    println!(
        "disk-full drill (56 MiB tmpfs): {written} documents written, then 507 storage_full; while full: {squeezed_in} small \
         intents fitted, then intent create {intent_status}, widget session {}, reads {list_status}/{bots_status}; after freeing 16 MiB: intent create {again} \
         after {retries} retries, \
         widget session {}; integrity {integrity}",
        widget.0, widget_after.0
    );
}

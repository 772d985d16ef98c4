//! The air gap, proven: the `botbuilder` binary runs inside a network
//! namespace that has nothing but loopback (`unshare -rn`), a client in the
//! same namespace walks the whole journey over loopback (sign-up, bot, flow,
//! NLU training, knowledge upload and answer, widget chat), and every
//! `connect()`/`sendto()`/`sendmsg()` of every process (server, extraction
//! workers, the client) is recorded by `strace -f`. Not one may address
//! anything but loopback.
//!
//! Needs `unshare` (util-linux), `ip` (iproute2) and `strace` (scripts/test.sh
//! installs them); without user/network namespaces the test is skipped with
//! the reason printed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Session, session_from};

const BIN: &str = env!("CARGO_BIN_EXE_botbuilder");
/// Set (to the report file) only for the journey run inside the namespace.
const INSIDE: &str = "BB_AIRGAP_REPORT";
const PORT: u16 = 18_080;

fn works(program: &str, args: &[&str]) -> bool {
    Command::new(program).args(args).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// One traced system call that addresses an IP socket: (address, whole line).
fn ip_destinations(trace: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in trace.lines() {
        let v4 = line.split("sin_addr=inet_addr(\"").nth(1);
        let v6 = line.split("inet_pton(AF_INET6, \"").nth(1);
        if let Some(addr) = v4.or(v6).and_then(|rest| rest.split('"').next()) {
            out.push((addr.to_owned(), line.to_owned()));
        }
    }
    out
}

fn is_loopback(addr: &str) -> bool {
    addr.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
        || addr
            .strip_prefix("::ffff:")
            .and_then(|v4| v4.parse::<std::net::Ipv4Addr>().ok())
            .is_some_and(|ip| ip.is_loopback())
}

#[test]
fn ip_destinations_are_read_from_strace_lines() {
    let trace = r#"12 connect(9, {sa_family=AF_INET, sin_port=htons(18080), sin_addr=inet_addr("127.0.0.1")}, 16) = -1 EINPROGRESS (Operation now in progress)
13 connect(5, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "2606:4700::1111", &sin6_addr), sin6_scope_id=0}, 28) = -1 ENETUNREACH (Network is unreachable)
14 sendto(7, "\1\2", 2, 0, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.0.0.2")}, 16) = -1 ENETUNREACH (Network is unreachable)
15 sendto(8, "HTTP/1.1 200 OK", 15, MSG_NOSIGNAL, NULL, 0) = 15
16 connect(4, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = -1 ENOENT (No such file or directory)"#;
    let found = ip_destinations(trace);
    let addrs: Vec<&str> = found.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(addrs, ["127.0.0.1", "2606:4700::1111", "10.0.0.2"]);
    let outside: Vec<&str> = addrs.into_iter().filter(|a| !is_loopback(a)).collect();
    assert_eq!(outside, ["2606:4700::1111", "10.0.0.2"]);
    assert!(is_loopback("::1") && is_loopback("::ffff:127.0.0.1"));
}

#[test]
fn the_full_journey_inside_a_loopback_only_namespace_makes_no_outside_connection_attempt() {
    for (what, program, args) in [
        ("user and network namespaces (unshare -rn)", "unshare", &["-rn", "true"][..]),
        ("strace", "strace", &["-V"][..]),
        ("ip (iproute2)", "ip", &["-V"][..]),
    ] {
        if !works(program, args) {
            eprintln!("SKIPPED the air-gap test: {what} unavailable here");
            return;
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = dir.path().join("network.trace");
    let report = dir.path().join("journey.json");
    let exe = std::env::current_exe().expect("test binary");
    // Loopback comes up inside the namespace, then strace follows the test
    // binary (the client), the server it starts and every worker process.
    let status = Command::new("unshare")
        .args(["-rn", "--", "sh", "-c", r#"ip link set lo up && exec "$@""#, "sh", "strace", "-f", "-qq"])
        .args(["-e", "signal=none", "-e", "trace=connect,sendto,sendmsg,sendmmsg", "-o"])
        .arg(&trace)
        .arg(&exe)
        .args(["airgap::journey_inside_the_namespace", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env(INSIDE, &report)
        .status()
        .expect("run unshare");
    assert!(status.success(), "the journey inside the namespace failed ({status}); see its output above");
    let journey: Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("journey report")).expect("json");
    assert_eq!(journey["completed"], true, "{journey}");

    let trace = std::fs::read_to_string(&trace).expect("trace");
    let destinations = ip_destinations(&trace);
    let loopback = destinations.iter().filter(|(a, _)| is_loopback(a)).count();
    let outside: Vec<&String> = destinations.iter().filter(|(a, _)| !is_loopback(a)).map(|(_, l)| l).collect();
    // The trace saw the journey's own traffic: it is not empty by accident.
    // (The client keeps its connections alive, so they are few; the
    // server's answers are many.)
    assert!(
        loopback >= 1 && trace.lines().count() >= 50,
        "only {loopback} loopback connections and {} calls traced:\n{trace}",
        trace.lines().count()
    );
    assert!(outside.is_empty(), "{} attempts to reach outside loopback:\n{outside:#?}", outside.len());
    eprintln!(
        "air gap: {} traced calls addressing an IP, {loopback} to loopback, {} outside; journey {journey}",
        destinations.len(),
        outside.len()
    );
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn call(&self, s: &Session, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.http.request(method.clone(), self.url(path)).header("Cookie", &s.cookie);
        if method != Method::GET {
            request = request.header("X-CSRF-Token", &s.csrf);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("send");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn ok(&self, s: &Session, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, body) = self.call(s, method, path, body).await;
        assert!((200..300).contains(&status), "{path}: {status} {body}");
        body
    }

    /// Polls `path` until `field` is one of `done` (failing on anything in `failed`).
    async fn wait_for(&self, s: &Session, path: &str, field: &str, done: &str, failed: &[&str]) -> Value {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let body = self.ok(s, Method::GET, path, None).await;
            let state = body[field].as_str().unwrap_or_default().to_owned();
            if state == done {
                return body;
            }
            assert!(!failed.contains(&state.as_str()), "{path}: {body}");
            assert!(Instant::now() < deadline, "{path} never reached {done}: {body}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn widget(&self, path: &str, body: &Value) -> Value {
        let response = self.http.post(self.url(path)).json(body).send().await.expect("send");
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!((200..300).contains(&status), "{path}: {status} {body}");
        body
    }
}

fn reply_texts(turn: &Value) -> String {
    turn["replies"]
        .as_array()
        .map(|r| r.iter().filter_map(|m| m["text"].as_str()).collect::<Vec<_>>().join(" | "))
        .unwrap_or_default()
}

/// Starts the server binary, models on, background workers on: the product as
/// an operator runs it.
fn start_server(data: &Path, log: &Path) -> std::process::Child {
    Command::new(BIN)
        .args(["serve", "--data"])
        .arg(data)
        .args(["--bind", &format!("127.0.0.1:{PORT}")])
        .env("BOTBUILDER_LOG__LEVEL", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"))
        .spawn()
        .expect("start botbuilder")
}

/// The journey; run only by the test above, inside the namespace.
#[tokio::test]
#[ignore = "run inside a network namespace by the_full_journey_inside_a_loopback_only_namespace_…"]
async fn journey_inside_the_namespace() {
    let Some(report) = std::env::var_os(INSIDE).map(PathBuf::from) else {
        panic!("run by airgap::the_full_journey_inside_a_loopback_only_namespace_makes_no_outside_connection_attempt");
    };
    let dir = report.parent().expect("report dir").to_owned();
    let log = dir.join("server.log");
    let mut server = start_server(&dir.join("airgap.db"), &log);
    let result = tokio::time::timeout(Duration::from_secs(600), journey(&report)).await;
    let _ = server.kill();
    let _ = server.wait();
    if !matches!(result, Ok(Ok(()))) {
        eprintln!("server log:\n{}", std::fs::read_to_string(&log).unwrap_or_default());
    }
    match result {
        Ok(Ok(())) => {}
        Ok(Err(panic)) => std::panic::resume_unwind(panic.into_panic()),
        Err(elapsed) => panic!("the journey took over 10 minutes ({elapsed})"),
    }
}

async fn journey(report: &Path) -> Result<(), tokio::task::JoinError> {
    let report = report.to_owned();
    tokio::spawn(async move { walk(&report).await }).await
}

#[allow(clippy::too_many_lines)]
async fn walk(report: &Path) {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let c = Client { http, base: format!("http://127.0.0.1:{PORT}") };
    let started = Instant::now();

    // Ready: database open, models loaded from inside the binary.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Ok(r) = c.http.get(c.url("/readyz")).send().await
            && r.status() == 200
        {
            break;
        }
        assert!(Instant::now() < deadline, "/readyz never answered 200");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ready_ms = started.elapsed().as_millis();

    // Sign-up (no SMTP: signed in at once).
    let r = c
        .http
        .post(c.url("/api/v1/auth/register"))
        .json(&json!({ "email": "airgap@example.com", "password": PASSWORD, "name": "Air Gap" }))
        .send()
        .await
        .expect("register");
    assert_eq!(r.status(), 201, "register");
    let s = session_from(r).await;
    let org = s.org_id;

    // A bot, its NLU data, training (a background job of the server).
    let bot =
        c.ok(&s, Method::POST, &format!("/api/v1/orgs/{org}/bots"), Some(json!({ "name": "Bistro" }))).await["id"]
            .as_i64()
            .expect("bot id");
    let book = [
        "book a table for two",
        "I'd like to reserve a table tonight",
        "can I get a reservation for four people",
        "reserve a table at your restaurant",
        "table for three tomorrow please",
        "make a booking for dinner",
    ];
    let greet = ["hello", "hi there", "good morning", "hey", "good evening", "hello, anyone there?"];
    for (name, texts) in [("book_table", book), ("greet", greet)] {
        let examples: Vec<Value> = texts.iter().map(|t| json!({ "text": t })).collect();
        c.ok(
            &s,
            Method::POST,
            &format!("/api/v1/bots/{bot}/nlu/intents"),
            Some(json!({ "name": name, "examples": examples })),
        )
        .await;
    }
    let job = c.ok(&s, Method::POST, &format!("/api/v1/bots/{bot}/nlu/train"), None).await;
    let job = c.wait_for(&s, &format!("/api/v1/jobs/{}", job["id"]), "status", "succeeded", &["failed", "dead"]).await;

    // A knowledge base with an uploaded document (text extraction in a worker process, embeddings).
    let kb = c
        .ok(&s, Method::POST, &format!("/api/v1/orgs/{org}/knowledge-bases"), Some(json!({ "name": "House rules" })))
        .await["id"]
        .as_i64()
        .expect("kb id");
    let md = "# Refunds\n\nDeposits for cancelled bookings are refunded to the original card within five business days.\n\n# Dogs\n\nWell-behaved dogs are welcome on the terrace.";
    let part = Part::bytes(md.as_bytes().to_vec()).file_name("rules.md").mime_str("text/markdown").expect("mime");
    let r = c
        .http
        .post(c.url(&format!("/api/v1/knowledge-bases/{kb}/documents")))
        .header("Cookie", &s.cookie)
        .header("X-CSRF-Token", &s.csrf)
        .multipart(Form::new().part("file", part))
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status(), 201, "upload");
    let doc: Value = r.json().await.expect("json");
    c.wait_for(&s, &format!("/api/v1/documents/{}", doc["id"]), "status", "ready", &["failed"]).await;
    let answer = c
        .ok(
            &s,
            Method::POST,
            &format!("/api/v1/knowledge-bases/{kb}/answer"),
            Some(json!({ "question": "How long does a refund take?" })),
        )
        .await;
    assert!(answer["answer"].as_str().is_some_and(|a| a.contains("five business days")), "{answer}");

    // A flow: intents route, anything else is answered from the knowledge base.
    let flow = json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "hello", "type": "message", "data": { "text": "Welcome to the Bistro!" } },
            { "id": "route", "type": "intent_router", "data": { "routes": [
                { "id": "book", "intent": "book_table" }, { "id": "greet", "intent": "greet" } ] } },
            { "id": "booked", "type": "message", "data": { "text": "Your table is noted." } },
            { "id": "hi", "type": "message", "data": { "text": "Hello! Want a table?" } },
            { "id": "kb", "type": "knowledge", "data": { "knowledge_base_id": kb } },
            { "id": "unknown", "type": "message", "data": { "text": "Sorry, I do not know." } }
        ],
        "edges": [
            { "source": "start", "target": "hello" }, { "source": "hello", "target": "route" },
            { "source": "route", "port": "book", "target": "booked" }, { "source": "booked", "target": "route" },
            { "source": "route", "port": "greet", "target": "hi" }, { "source": "hi", "target": "route" },
            { "source": "route", "port": "out_of_scope", "target": "kb" },
            { "source": "kb", "port": "answered", "target": "route" },
            { "source": "kb", "port": "no_answer", "target": "unknown" }, { "source": "unknown", "target": "route" }
        ]
    });
    let path = format!("/api/v1/bots/{bot}/flows/main");
    c.ok(&s, Method::PUT, &path, Some(json!({ "document": flow }))).await;
    c.ok(&s, Method::POST, &format!("{path}/publish"), Some(json!({ "message": "live" }))).await;

    // Widget chat, anonymous, as a visitor's browser does it.
    let key = c.ok(&s, Method::GET, &format!("/api/v1/bots/{bot}/widget"), None).await["widget_key"]
        .as_str()
        .expect("widget key")
        .to_owned();
    let session = c.widget(&format!("/api/v1/widget/{key}/sessions"), &json!({})).await;
    let sid = session["session_id"].as_str().expect("session id").to_owned();
    let messages = format!("/api/v1/widget/{key}/sessions/{sid}/messages");
    let booked = c.widget(&messages, &json!({ "text": "could I reserve a table for two tonight" })).await;
    assert_eq!(reply_texts(&booked), "Your table is noted.", "{booked}");
    let refund = c.widget(&messages, &json!({ "text": "how long does a refund of my deposit take?" })).await;
    assert!(reply_texts(&refund).contains("five business days"), "{refund}");

    let summary = json!({
        "completed": true,
        "ready_ms": ready_ms,
        "journey_ms": started.elapsed().as_millis(),
        "training": job["result"]["metrics"]["training"],
        "widget_replies": [reply_texts(&booked), reply_texts(&refund)],
    });
    std::fs::write(report, summary.to_string()).expect("write report");
}

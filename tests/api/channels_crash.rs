//! The outbound queue survives `kill -9` (issue 18 "Must show"): 200 bot
//! replies are queued on a generic HTTP channel (20 users × 10 signed
//! inbound messages), the real `botbuilder` binary drains them to a slow
//! receiver (20–50 ms per answer) that records every request, and is killed
//! with SIGKILL while the receiver holds its answer to one of them. Started
//! again on the same data file, it sends the rest. The receiver's view:
//! every reply arrived, in order per conversation, and after dropping
//! replays by `webhook-id` (the message's idempotency key) there are no
//! duplicates; the only replay is the message that was in flight at the kill.

#![allow(clippy::too_many_lines, reason = "one end-to-end scenario: queue, kill, restart, check")]

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::future::join_all;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::cli::Server;
use crate::fake_http::{FakeServer, Received, Reply};
use crate::helpers::{TestApp, spawn_app};

const USERS: usize = 20;
const PER_USER: usize = 10;
const REPLIES: usize = USERS * PER_USER;
/// The receiver holds its answer to this message (1-based) until the server is killed.
const KILL_AT: usize = 80;

/// Every message is answered by the question's prompt, which repeats the previous answer.
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

/// `v1,<base64 HMAC-SHA256(secret, "id.timestamp.body")>`, computed here from the documented scheme.
fn signature(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

fn message_id(user: usize, n: usize) -> String {
    format!("u{user}-m{n}")
}

/// The receiver's view of one outbound message.
struct Delivery {
    webhook_id: String,
    to: String,
    text: String,
}

fn deliveries(rx: &FakeServer, secret: &str) -> Vec<Delivery> {
    rx.requests()
        .iter()
        .filter_map(|r: &Received| {
            let body: Value = serde_json::from_slice(&r.body).expect("JSON body");
            (body["type"] == "message").then(|| {
                let id = r.header("webhook-id").expect("webhook-id").to_owned();
                let ts = r.header("webhook-timestamp").expect("webhook-timestamp");
                assert_eq!(r.header("webhook-signature"), Some(signature(secret, &id, ts, &r.body).as_str()));
                assert_eq!(body["id"], id.as_str(), "the body's id is the webhook-id");
                Delivery {
                    webhook_id: id,
                    to: body["to"].as_str().expect("to").to_owned(),
                    text: body["text"].as_str().expect("text").to_owned(),
                }
            })
        })
        .collect()
}

/// Sets up the bot, the channel and 200 queued replies in-process (no job
/// workers: nothing is sent yet); answers the app and the channel's secret.
async fn queue_replies(rx: &FakeServer) -> (TestApp, String) {
    let app = spawn_app().await;
    let s = app.register("crash@example.com").await;
    let (status, bot) =
        app.call(&s, Method::POST, &format!("/api/v1/orgs/{}/bots", s.org_id), Some(json!({ "name": "Echo" }))).await;
    assert_eq!(status, 201, "{bot}");
    let path = format!("/api/v1/bots/{}/flows/main", bot["id"]);
    let (status, saved) = app.call(&s, Method::PUT, &path, Some(json!({ "document": echo_flow() }))).await;
    assert_eq!(status, 201, "{saved}");
    let (status, published) = app.call(&s, Method::POST, &format!("{path}/publish"), Some(json!({}))).await;
    assert_eq!(status, 200, "{published}");
    let (status, channel) = app
        .call(
            &s,
            Method::POST,
            &format!("/api/v1/orgs/{}/channels", s.org_id),
            Some(json!({ "type": "http", "bot_id": bot["id"],
                         "credentials": { "outbound_url": format!("{}/inbox", rx.base) } })),
        )
        .await;
    assert_eq!(status, 201, "{channel}");
    let (status, activated) =
        app.call(&s, Method::POST, &format!("/api/v1/channels/{}/activate", channel["id"]), None).await;
    assert_eq!(status, 200, "{activated}");
    let secret = channel["webhook_secret"].as_str().expect("the http channel shows its secret").to_owned();
    let url = channel["webhook_url"].as_str().expect("webhook_url");
    let hook = app.url(&url[url.find("/hooks/").expect("/hooks/")..]);

    for n in 0..PER_USER {
        let posts = (0..USERS).map(|user| {
            let id = message_id(user, n);
            let body =
                json!({ "type": "message", "id": id, "user": { "id": format!("u{user}") }, "text": id }).to_string();
            let ts = chrono::Utc::now().timestamp().to_string();
            let request = app
                .client
                .post(&hook)
                .header("content-type", "application/json")
                .header("webhook-id", &id)
                .header("webhook-timestamp", &ts)
                .header("webhook-signature", signature(&secret, &id, &ts, body.as_bytes()))
                .body(body);
            async move {
                let response = request.send().await.expect("post");
                let status = response.status().as_u16();
                let answer: Value = response.json().await.unwrap_or(Value::Null);
                assert_eq!((status, answer["status"].as_str()), (200, Some("processed")), "{answer}");
            }
        });
        join_all(posts).await;
    }
    let pending =
        app.count("SELECT count(*) FROM channel_messages WHERE direction = 'outbound' AND status = 'pending'");
    assert_eq!(pending, i64::try_from(REPLIES).unwrap(), "one queued reply per inbound message");
    (app, secret)
}

/// (status, attempts, idempotency key) of every outbound message, oldest first.
fn outbound_rows(data: &Path) -> Vec<(String, i64, String)> {
    let conn = rusqlite::Connection::open(data).expect("open");
    let mut st = conn
        .prepare(
            "SELECT status, attempts, idempotency_key FROM channel_messages WHERE direction = 'outbound' ORDER BY id",
        )
        .expect("prepare");
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).expect("query").collect::<Result<_, _>>().expect("rows")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_with_200_replies_queued_delivers_each_once_in_order_after_restart() {
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let rx = FakeServer::start(Arc::new(move |r: &Received| {
        let ok = |pause: Duration| Reply::Slow(pause, 200, "application/json".into(), b"{\"ok\":true}".to_vec());
        if !r.body.starts_with(b"{") || !String::from_utf8_lossy(&r.body).contains("\"type\":\"message\"") {
            return ok(Duration::ZERO);
        }
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        if n == KILL_AT {
            // In flight when the server is killed: the answer never reaches it.
            return ok(Duration::from_secs(10));
        }
        ok(Duration::from_millis(20 + (n as u64 * 7) % 31))
    }))
    .await;
    let (app, secret) = queue_replies(&rx).await;
    let dir = app.stop().await;
    let data = dir.path().join("test.db");
    let env = [("BOTBUILDER_OUTBOUND__ALLOW_PRIVATE", "true"), ("BOTBUILDER_ML__ENABLED", "false")];

    // The binary drains the queue until the receiver holds message KILL_AT; then SIGKILL.
    let started = Instant::now();
    let mut server = tokio::task::spawn_blocking({
        let data = data.clone();
        move || Server::start_with(&data, &env)
    })
    .await
    .expect("start");
    while seen.load(Ordering::SeqCst) < KILL_AT {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the queue did not drain: {} sent",
            seen.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    server.child.kill().expect("SIGKILL");
    server.child.wait().expect("reaped");
    let drained_before_kill = started.elapsed();

    // What the killed process left: everything before the held message sent, it and the rest queued.
    let rows = outbound_rows(&data);
    let sent_before: HashSet<String> = rows.iter().filter(|r| r.0 == "sent").map(|r| r.2.clone()).collect();
    assert_eq!(sent_before.len(), KILL_AT - 1, "{rows:?}");
    let in_flight = rows[KILL_AT - 1].clone();
    assert_eq!((in_flight.0.as_str(), in_flight.1), ("pending", 1), "the in-flight attempt was counted first");
    assert!(rows[KILL_AT..].iter().all(|r| r.0 == "pending" && r.1 == 0), "{rows:?}");
    let before_restart = deliveries(&rx, &secret).len();
    assert_eq!(before_restart, KILL_AT);

    // Started again on the same data file: the rest is sent.
    let restarted = Instant::now();
    let server = tokio::task::spawn_blocking({
        let data = data.clone();
        move || Server::start_with(&data, &env)
    })
    .await
    .expect("restart");
    loop {
        let unique: HashSet<String> = deliveries(&rx, &secret).into_iter().map(|d| d.webhook_id).collect();
        if unique.len() == REPLIES {
            break;
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(120),
            "{} of {REPLIES} arrived after the restart",
            unique.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let drain_after_restart = restarted.elapsed();
    let status = tokio::task::spawn_blocking(move || server.terminate()).await.expect("stop");
    assert!(status.success(), "{status}");

    // The receiver drops a replayed webhook-id; count what it dropped.
    let got = deliveries(&rx, &secret);
    let mut first: Vec<&Delivery> = Vec::new();
    let mut ids = HashSet::new();
    let mut replays = Vec::new();
    for d in &got {
        if ids.insert(d.webhook_id.clone()) {
            first.push(d);
        } else {
            replays.push(d.webhook_id.clone());
        }
    }
    // A reply queued twice (a turn run again) would carry a new key: after
    // dropping replays, no (recipient, text) may arrive twice.
    let contents: HashSet<(&str, &str)> = first.iter().map(|d| (d.to.as_str(), d.text.as_str())).collect();
    let duplicates_after_dedup = first.len() - contents.len();
    assert_eq!(duplicates_after_dedup, 0);
    assert_eq!(first.len(), REPLIES, "every reply arrived");
    let keys: HashSet<String> = outbound_rows(&data).into_iter().map(|r| r.2).collect();
    assert_eq!(ids, keys, "the webhook-ids are the queued messages' idempotency keys");
    // Only the message in flight at the kill was sent again; nothing sent before was re-sent.
    assert_eq!(replays, vec![in_flight.2.clone()], "replays");
    let resent_after_restart: Vec<&str> =
        got[before_restart..].iter().map(|d| d.webhook_id.as_str()).filter(|id| sent_before.contains(*id)).collect();
    assert!(resent_after_restart.is_empty(), "{resent_after_restart:?}");
    // In order per conversation: the prompt, then each answer echoed.
    let mut per_user: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for d in &first {
        per_user.entry(d.to.as_str()).or_default().push(d.text.as_str());
    }
    assert_eq!(per_user.len(), USERS);
    for user in 0..USERS {
        let expected: Vec<String> = std::iter::once("got -".to_owned())
            .chain((1..PER_USER).map(|n| format!("got {}", message_id(user, n))))
            .collect();
        assert_eq!(per_user[format!("u{user}").as_str()], expected, "order of u{user}");
    }
    // The data file agrees: every row sent, one extra attempt in all.
    let rows = outbound_rows(&data);
    assert!(rows.iter().all(|r| r.0 == "sent"), "{rows:?}");
    assert_eq!(rows.iter().map(|r| r.1).sum::<i64>(), i64::try_from(REPLIES).unwrap() + 1);
    assert_eq!(rows[KILL_AT - 1].1, 2);
    println!(
        "kill -9 with {REPLIES} replies queued: {} delivered before the kill ({:.1} s, including start-up), \
         {} requests after the restart ({:.1} s to drain, including start-up); receiver saw {} requests, \
         {} unique webhook-ids, {} replay(s) dropped by webhook-id, {duplicates_after_dedup} duplicates after dedup",
        KILL_AT - 1,
        drained_before_kill.as_secs_f64(),
        got.len() - before_restart,
        drain_after_restart.as_secs_f64(),
        got.len(),
        ids.len(),
        replays.len(),
    );
    drop(dir);
}

//! `botbuilder bench channels`: the channel webhook path under load and the
//! outbound queue's drain rate (DESIGN §12: webhook in → reply queued, p95
//! < 20 ms at 500 messages/s).
//!
//! The server runs in-process on a temporary data file, with its job workers
//! (the outbound queue drains while the load runs, as in production) and
//! every provider's base URL pointed at one local fake that answers at once.
//! One channel per benchmarked type (the [`SPECS`] entries whose adapter is
//! in `channels::ADAPTERS`) answers with a bot whose published flow replies
//! once to every message.
//!
//! 1. **Inbound**: signed webhook calls at `--rate` per second for
//!    `--seconds`, spread evenly over the types and over [`LANES`] end users
//!    (each user's messages in order, on a fixed schedule). The server
//!    answers a webhook after the turn's replies are committed to the
//!    outbound queue (`channels::service::inbound`), so the latency of a call
//!    is the time from the webhook request to its reply being queued. It is
//!    counted from the call's scheduled time (a late call's wait is
//!    included). Errors: answers other than 200, and calls the server
//!    answered 200 without processing them (`channel_webhooks.status`).
//! 2. **Drain**: per type, a fresh channel gets `--drain-messages` replies
//!    queued in one transaction; the rate is the messages marked sent per
//!    second until the queue is empty or `--drain-seconds` pass. The queue
//!    waits the adapter's `min_interval` between two requests of a channel
//!    (the provider's rate limit; there is no setting that skips it), so the
//!    report shows that wait and the ceiling it sets beside the figure.
//!
//! Adding a type is one [`TypeSpec`] entry: its credentials, where its base
//! URL is configured, a signed inbound text message in the provider's format
//! and the fake provider's answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, web};
use clap::Args;
use serde_json::{Map, Value, json};

use super::runtime::{new_bot, publish, setup_org};
use super::{Report, percentile};
use crate::app::{AppState, Application};
use crate::channels::adapter::{Recipient, Secrets};
use crate::channels::model::{ChannelId, CreateChannelRequest};
use crate::channels::{adapter_for, generic, known_types, send, service, store};
use crate::config::{ChannelsConfig, Config, LogConfig};
use crate::flows::engine::RichParts;
use crate::http::Tenant;
use crate::ids::BotId;

#[derive(Debug, Args)]
pub struct ChannelsArgs {
    /// Seconds of inbound webhook traffic.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Inbound webhook calls per second, spread over the channel types.
    #[arg(long, default_value_t = 500)]
    pub rate: u32,
    /// Replies queued per channel type for the drain measurement.
    #[arg(long, default_value_t = 1000)]
    pub drain_messages: usize,
    /// The longest time the drain of one type is measured.
    #[arg(long, default_value_t = 5)]
    pub drain_seconds: u64,
}

/// The target of DESIGN §12: p95 in ms at this rate.
const TARGET: (f64, u32) = (20.0, 500);

/// End users sending at once (spread over the types).
const LANES: usize = 200;

/// A valid-looking Telegram bot token for the fake.
const TELEGRAM_TOKEN: &str = "123456789:AAHbenchTcvCH1vGWJxfSeofSAs0K5PALD";

/// One answer per message: the question's prompt echoes the previous answer.
const ECHO_FLOW: &str = r#"{
  "nodes": [
    { "id": "start", "type": "start" },
    { "id": "ask", "type": "question", "data": { "prompt": { "text": "got {{default(said, \"-\")}}" }, "variable": "said" } }
  ],
  "edges": [ { "source": "start", "target": "ask" }, { "source": "ask", "target": "ask" } ]
}"#;

/// An inbound text message to sign.
pub struct Hook<'a> {
    pub secrets: &'a Secrets,
    /// The channel's webhook URL as the server presents it (Twilio signs it).
    #[allow(dead_code, reason = "for types that sign the URL (Twilio); Telegram and http do not")]
    pub url: &'a str,
    /// Unique per call: the provider's message id.
    pub seq: u64,
    /// The end user's address ([`TypeSpec::address`]).
    pub from: &'a str,
    pub text: &'a str,
}

/// A signed webhook call.
pub struct Signed {
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// What the bench needs to know of one channel type.
pub struct TypeSpec {
    pub kind: &'static str,
    /// The channel's credentials, the provider being the fake at `fake` (the type's own prefix).
    pub credentials: fn(fake: &str) -> Value,
    /// Points the type's provider base URL at `fake`.
    pub configure: fn(&mut ChannelsConfig, fake: &str),
    /// The address of end user `n` in the provider's format (a chat id, a phone number…).
    pub address: fn(n: usize) -> String,
    /// A signed inbound text message in the provider's format.
    pub inbound: fn(&Hook<'_>) -> Signed,
    /// The fake provider's answer to a request at `path` (below the type's
    /// prefix): status and JSON; `seq` is unique per request (message ids).
    pub answer: fn(path: &str, body: &[u8], seq: i64) -> (u16, Value),
}

/// The benchmarked types.
pub static SPECS: [TypeSpec; 4] = [
    TypeSpec {
        kind: "telegram",
        credentials: |_| json!({ "bot_token": TELEGRAM_TOKEN }),
        configure: |c, fake| fake.clone_into(&mut c.telegram_api_base),
        address: |n| (1_000_000 + n).to_string(),
        inbound: |h| {
            let id: i64 = h.from.parse().unwrap_or(1);
            let update = json!({ "update_id": h.seq, "message": {
                "message_id": h.seq, "date": 0, "text": h.text,
                "chat": { "id": id, "type": "private", "first_name": "Bench" },
                "from": { "id": id, "is_bot": false, "first_name": "Bench" } } });
            Signed {
                content_type: "application/json",
                headers: vec![("x-telegram-bot-api-secret-token", h.secrets.webhook_secret.clone())],
                body: update.to_string().into_bytes(),
            }
        },
        answer: |path, body, seq| {
            let method = path.rsplit('/').next().unwrap_or("");
            let result = match method {
                "getMe" => json!({ "id": 123_456_789, "is_bot": true, "first_name": "Bench", "username": "bench_bot" }),
                "sendMessage" | "sendPhoto" => {
                    let chat = serde_json::from_slice::<Value>(body)
                        .ok()
                        .and_then(|b| b["chat_id"].as_str().and_then(|c| c.parse::<i64>().ok()))
                        .unwrap_or(0);
                    json!({ "message_id": seq, "chat": { "id": chat }, "date": 0 })
                }
                _ => Value::Bool(true),
            };
            (200, json!({ "ok": true, "result": result }))
        },
    },
    TypeSpec {
        kind: "http",
        credentials: |fake| json!({ "outbound_url": format!("{fake}/receive") }),
        configure: |_, _| {},
        address: |n| format!("user-{n}"),
        inbound: |h| {
            let id = format!("in_{}", h.seq);
            let body = json!({ "type": "message", "id": id, "user": { "id": h.from }, "text": h.text }).to_string();
            let ts = chrono::Utc::now().timestamp();
            Signed {
                content_type: "application/json",
                headers: vec![
                    ("webhook-signature", generic::sign(&h.secrets.webhook_secret, &id, ts, body.as_bytes())),
                    ("webhook-timestamp", ts.to_string()),
                    ("webhook-id", id),
                ],
                body: body.into_bytes(),
            }
        },
        answer: |_, _, _| (200, json!({ "ok": true })),
    },
    TypeSpec {
        kind: "whatsapp",
        credentials: |_| json!({ "access_token": "EAAGbenchSystemUserTokenForTheFakeGraphApi0123456789", "phone_number_id": WHATSAPP_NUMBER, "app_secret": META_APP_SECRET }),
        // WhatsApp and Messenger share the Graph API base (and one fake answer).
        configure: |c, fake| fake.clone_into(&mut c.graph_api_base),
        address: |n| (15_550_000_000_u64 + n as u64).to_string(),
        inbound: |h| {
            let body = json!({ "object": "whatsapp_business_account", "entry": [{ "id": "1", "changes": [{ "field": "messages",
                "value": { "messaging_product": "whatsapp", "metadata": { "phone_number_id": WHATSAPP_NUMBER },
                    "contacts": [{ "profile": { "name": "Bench" }, "wa_id": h.from }],
                    "messages": [{ "from": h.from, "id": format!("wamid.in{}", h.seq), "timestamp": chrono::Utc::now().timestamp().to_string(),
                        "type": "text", "text": { "body": h.text } }] } }] }] });
            meta_signed(&body)
        },
        answer: graph_answer,
    },
    TypeSpec {
        kind: "messenger",
        credentials: |_| json!({ "page_id": MESSENGER_PAGE, "page_access_token": "EAAGbenchPageAccessTokenForTheFakeGraphApi0123456789", "app_secret": META_APP_SECRET }),
        configure: |c, fake| fake.clone_into(&mut c.graph_api_base),
        address: |n| (7_000_000 + n).to_string(),
        inbound: |h| {
            let now = chrono::Utc::now().timestamp_millis();
            let body = json!({ "object": "page", "entry": [{ "id": MESSENGER_PAGE, "time": now, "messaging": [{
                "sender": { "id": h.from }, "recipient": { "id": MESSENGER_PAGE }, "timestamp": now,
                "message": { "mid": format!("m_in{}", h.seq), "text": h.text } }] }] });
            meta_signed(&body)
        },
        answer: graph_answer,
    },
];

/// The fakes' Meta app secret, WhatsApp number id and Messenger page id.
const META_APP_SECRET: &str = "0123456789abcdef0123456789abcdef";
const WHATSAPP_NUMBER: &str = "1111";
const MESSENGER_PAGE: &str = "2222";

/// A Meta webhook body signed with `X-Hub-Signature-256`.
fn meta_signed(body: &Value) -> Signed {
    let body = body.to_string().into_bytes();
    let signature = format!("sha256={}", hex::encode(crate::crypto::hmac_sha256(META_APP_SECRET.as_bytes(), &body)));
    Signed { content_type: "application/json", headers: vec![("x-hub-signature-256", signature)], body }
}

/// The fake Graph API of WhatsApp Cloud and Messenger: the number's and
/// the page's profile, sends, and the page subscription.
fn graph_answer(path: &str, _body: &[u8], seq: i64) -> (u16, Value) {
    let answer = match path.trim_start_matches('/').split('?').next().unwrap_or("") {
        "me" => json!({ "id": MESSENGER_PAGE, "name": "Bench" }),
        p if p == WHATSAPP_NUMBER => {
            json!({ "id": WHATSAPP_NUMBER, "display_phone_number": "+1 555 0100", "verified_name": "Bench" })
        }
        p if p.ends_with("/messages") && p.starts_with(WHATSAPP_NUMBER) => json!({ "messaging_product": "whatsapp",
            "messages": [{ "id": format!("wamid.out{seq}") }] }),
        p if p.ends_with("/messages") => json!({ "recipient_id": "1", "message_id": format!("m_out{seq}") }),
        _ => json!({ "success": true }),
    };
    (200, answer)
}

/// One benchmarked channel.
struct Target {
    spec: &'static TypeSpec,
    channel: ChannelId,
    secrets: Secrets,
    url: String,
    post_url: String,
}

/// One call's outcome: (type index, latency ms, answered 200).
type Sample = (usize, f64, bool);

pub fn run(args: &ChannelsArgs) -> anyhow::Result<Report> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(bench(args))
}

fn r2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[allow(clippy::too_many_lines, reason = "the two measurements and their report, in order")]
async fn bench(args: &ChannelsArgs) -> anyhow::Result<Report> {
    let specs: Vec<&'static TypeSpec> = SPECS.iter().filter(|s| adapter_for(s.kind).is_some()).collect();
    anyhow::ensure!(!specs.is_empty(), "no channel type to benchmark");
    let skipped: Vec<&str> = known_types().into_iter().filter(|k| !SPECS.iter().any(|s| s.kind == *k)).collect();
    let (fake, fake_handle) = start_fake()?;

    let dir = tempfile::tempdir()?;
    let mut config = Config {
        data: dir.path().join("bench.db"),
        bind: "127.0.0.1:0".into(),
        log: LogConfig { level: "error".into(), ..LogConfig::default() },
        ..Config::default()
    };
    config.ml.enabled = false;
    config.rate_limits.enabled = false;
    // The fake provider listens on loopback.
    config.outbound.allow_private = true;
    for spec in &specs {
        (spec.configure)(&mut config.channels, &format!("{fake}/{}", spec.kind));
    }
    let app = Application::build(config)?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let state = app.state().clone();
    let stop = app.stop_handle();
    let server = tokio::spawn(app.run_until_stopped());

    let org = setup_org(&state)?;
    let tenant = Tenant::system(org, "benchmark");
    let bot = new_bot(&state, org, "Channels bench")?;
    publish(&state, &tenant, bot, ECHO_FLOW).await?;

    // 1. Inbound.
    let mut targets = Vec::new();
    for spec in &specs {
        targets.push(Arc::new(channel(&state, &tenant, bot, spec, &fake, &base, "load").await?));
    }
    let client = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(LANES).build()?;
    let total = (u64::from(args.rate.max(1)) * args.seconds.max(1)) as usize;
    let lanes = LANES.min(total).max(specs.len());
    let per_lane = total.div_ceil(lanes);
    let interval = Duration::from_secs_f64(lanes as f64 / f64::from(args.rate.max(1)));
    let seq = Arc::new(AtomicU64::new(1));
    // Warm-up, not measured: each user's first message opens its conversation.
    let warm = (0..lanes).map(|lane| {
        let (client, target, seq) = (client.clone(), targets[lane % targets.len()].clone(), seq.clone());
        async move { call(&client, &target, lane, "hello", seq.fetch_add(1, Ordering::Relaxed)).await }
    });
    for ok in futures_util::future::join_all(warm).await {
        anyhow::ensure!(ok, "a warm-up webhook call failed");
    }
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(lanes);
    for lane in 0..lanes {
        let (client, seq) = (client.clone(), seq.clone());
        let (kind, target) = (lane % targets.len(), targets[lane % targets.len()].clone());
        let offset = interval.mul_f64(lane as f64 / lanes as f64);
        tasks.push(tokio::spawn(async move {
            let mut samples: Vec<Sample> = Vec::with_capacity(per_lane);
            for n in 0..per_lane {
                let due = started + offset + interval * u32::try_from(n).unwrap_or(u32::MAX);
                tokio::time::sleep_until(due.into()).await;
                let text = format!("message {n} of user {lane}");
                let ok = call(&client, &target, lane, &text, seq.fetch_add(1, Ordering::Relaxed)).await;
                samples.push((kind, due.elapsed().as_secs_f64() * 1000.0, ok));
            }
            samples
        }));
    }
    let mut samples: Vec<Sample> = Vec::with_capacity(total);
    for t in tasks {
        samples.extend(t.await?);
    }
    let elapsed = started.elapsed().as_secs_f64();

    let mut rows = Vec::new();
    let mut per_type = Map::new();
    let mut all_errors = 0;
    for (i, target) in targets.iter().enumerate() {
        let mut ms: Vec<f64> = samples.iter().filter(|s| s.0 == i).map(|s| s.1).collect();
        let answered = samples.iter().filter(|s| s.0 == i && s.2).count();
        let calls = ms.len();
        let (channel, t) = (target.channel, tenant.clone());
        let (processed, queued_after): (i64, i64) = state
            .db
            .read(move |c| {
                let processed = c.query_row(
                    "SELECT count(*) FROM channel_webhooks WHERE channel_id = ?1 AND organization_id = ?2 AND status = 'processed'",
                    rusqlite::params![channel, t.org_id()],
                    |r| r.get(0),
                )?;
                let queued = c.query_row(
                    "SELECT count(*) FROM channel_messages WHERE channel_id = ?1 AND direction = 'outbound' AND status IN ('pending', 'failed') AND dead = 0",
                    [channel],
                    |r| r.get(0),
                )?;
                Ok((processed, queued))
            })
            .await?;
        // 200 answers minus what was processed (warm-up calls included in `processed`).
        let unprocessed = answered.saturating_sub(usize::try_from(processed).unwrap_or(0).saturating_sub(lanes_of(
            i,
            lanes,
            targets.len(),
        )));
        let errors = calls - answered + unprocessed;
        all_errors += errors;
        let (p50, p95, p99) = (percentile(&mut ms, 50.0), percentile(&mut ms, 95.0), percentile(&mut ms, 99.0));
        let max = ms.last().copied().unwrap_or(0.0);
        rows.push((
            format!("{}: webhook in → reply queued", target.spec.kind),
            format!(
                "{calls} calls, p50 {p50:.2} ms, p95 {p95:.2} ms, p99 {p99:.2} ms, max {max:.2} ms, {errors} errors; {queued_after} replies still queued at the end"
            ),
        ));
        per_type.insert(
            target.spec.kind.to_owned(),
            json!({ "calls": calls, "errors": errors, "p50_ms": r2(p50), "p95_ms": r2(p95), "p99_ms": r2(p99),
                    "max_ms": r2(max), "queued_after": queued_after }),
        );
    }
    let mut ms: Vec<f64> = samples.iter().map(|s| s.1).collect();
    let ok = samples.len() - all_errors.min(samples.len());
    let achieved = ok as f64 / elapsed;
    let (p50, p95, p99) = (percentile(&mut ms, 50.0), percentile(&mut ms, 95.0), percentile(&mut ms, 99.0));
    let max = ms.last().copied().unwrap_or(0.0);
    let met = p95 < TARGET.0 && args.rate >= TARGET.1 && achieved >= f64::from(TARGET.1) * 0.95 && all_errors == 0;
    let kinds: Vec<&str> = specs.iter().map(|s| s.kind).collect();
    rows.insert(
        0,
        (
            format!("inbound, {} calls/s offered for {} s over {}", args.rate, args.seconds, kinds.join(", ")),
            format!(
                "{achieved:.0} calls/s achieved; p50 {p50:.2} ms, p95 {p95:.2} ms, p99 {p99:.2} ms, max {max:.2} ms; {all_errors} errors of {}",
                samples.len()
            ),
        ),
    );
    rows.insert(
        1,
        (
            "target: p95 < 20 ms at 500 calls/s".into(),
            if args.rate < TARGET.1 {
                format!("not measured (offered {} calls/s)", args.rate)
            } else if met {
                "met".into()
            } else {
                "NOT met".into()
            },
        ),
    );
    if !skipped.is_empty() {
        rows.push(("types not benchmarked (no entry in SPECS)".into(), skipped.join(", ")));
    }
    // The load's channels go (their queues with them) before the drain is measured.
    for target in &targets {
        service::delete(&state, tenant.clone(), target.channel).await?;
    }

    // 2. Drain.
    let mut drain = Map::new();
    for spec in &specs {
        let target = channel(&state, &tenant, bot, spec, &fake, &base, "drain").await?;
        let (sent, seconds) = drain_rate(&state, &tenant, bot, &target, &client, args).await?;
        let gap = adapter_for(spec.kind).map_or(Duration::ZERO, crate::channels::adapter::Adapter::min_interval);
        let rate = sent as f64 / seconds;
        let ceiling = (!gap.is_zero()).then(|| 1.0 / gap.as_secs_f64());
        rows.push((
            format!("{}: outbound queue drain", spec.kind),
            format!(
                "{rate:.0} messages/s ({sent} sent in {seconds:.2} s; wait between requests {} ms{})",
                gap.as_millis(),
                ceiling.map_or_else(|| ", no provider limit".to_owned(), |c| format!(", ceiling {c:.1}/s"))
            ),
        ));
        drain.insert(
            spec.kind.to_owned(),
            json!({ "messages_per_s": r2(rate), "sent": sent, "seconds": r2(seconds),
                    "min_interval_ms": gap.as_millis(), "ceiling_per_s": ceiling.map(r2) }),
        );
        service::delete(&state, tenant.clone(), target.channel).await?;
    }

    stop.stop(true).await;
    let _ = server.await;
    fake_handle.stop(false).await;
    state.nlu.shutdown();
    let json = json!({ "channels": {
        "types": kinds, "not_benchmarked": skipped, "rate_offered": args.rate, "seconds": args.seconds,
        "calls": samples.len(), "errors": all_errors, "achieved_rate": r2(achieved),
        "p50_ms": r2(p50), "p95_ms": r2(p95), "p99_ms": r2(p99), "max_ms": r2(max),
        "target_p95_ms": TARGET.0, "target_rate": TARGET.1, "target_met": met,
        "per_type": per_type, "drain": drain,
    } });
    Ok(Report { rows, json })
}

/// How many lanes send to type `i` (the warm-up calls of type `i`).
fn lanes_of(i: usize, lanes: usize, types: usize) -> usize {
    (0..lanes).filter(|l| l % types == i).count()
}

/// Sends one signed text message; whether the server answered 200.
async fn call(client: &reqwest::Client, target: &Target, user: usize, text: &str, seq: u64) -> bool {
    let from = (target.spec.address)(user);
    let signed = (target.spec.inbound)(&Hook { secrets: &target.secrets, url: &target.url, seq, from: &from, text });
    let mut request = client.post(&target.post_url).header("content-type", signed.content_type).body(signed.body);
    for (name, value) in signed.headers {
        request = request.header(name, value);
    }
    match request.send().await {
        Ok(response) => {
            let ok = response.status().as_u16() == 200;
            // Read the body: the connection goes back to the pool.
            let _ = response.bytes().await;
            ok
        }
        Err(_) => false,
    }
}

/// Creates and activates a channel of `spec` answered by `bot`.
async fn channel(
    state: &AppState,
    tenant: &Tenant,
    bot: BotId,
    spec: &'static TypeSpec,
    fake: &str,
    base: &str,
    name: &str,
) -> anyhow::Result<Target> {
    let Value::Object(credentials) = (spec.credentials)(&format!("{fake}/{}", spec.kind)) else {
        anyhow::bail!("the credentials of {} are not an object", spec.kind);
    };
    let request = CreateChannelRequest {
        channel_type: spec.kind.to_owned(),
        name: Some(format!("{name} {}", spec.kind)),
        bot_id: bot,
        credentials,
    };
    let err = |e: crate::error::AppError| anyhow::anyhow!("{} channel: {e:?}", spec.kind);
    let created = service::create(state, tenant.clone(), request).await.map_err(err)?;
    service::activate(state, tenant.clone(), created.id).await.map_err(err)?;
    let (id, t) = (created.id, tenant.clone());
    let (credentials, secret) = state
        .db
        .read(move |c| Ok(store::secrets(c, &t, id)?))
        .await
        .map_err(err)?
        .ok_or_else(|| anyhow::anyhow!("the {} channel has no secrets", spec.kind))?;
    let secrets = service::open_secrets(&state.keys, id, &credentials, &secret)
        .ok_or_else(|| anyhow::anyhow!("the {} channel's secrets do not open", spec.kind))?;
    let path = created.webhook_url.split("/hooks/").nth(1).unwrap_or_default().to_owned();
    Ok(Target { spec, channel: id, secrets, url: created.webhook_url, post_url: format!("{base}/hooks/{path}") })
}

/// Queues `args.drain_messages` replies on the channel in one transaction
/// and waits until they are sent or `args.drain_seconds` pass: (sent, seconds).
async fn drain_rate(
    state: &AppState,
    tenant: &Tenant,
    bot: BotId,
    target: &Target,
    client: &reqwest::Client,
    args: &ChannelsArgs,
) -> anyhow::Result<(i64, f64)> {
    let adapter = adapter_for(target.spec.kind).ok_or_else(|| anyhow::anyhow!("no adapter"))?;
    let to = Recipient { address: (target.spec.address)(0), ..Recipient::default() };
    // The end user writes first, as on a real channel (WhatsApp and Meta
    // send free-form messages only within 24 h of the person's last one);
    // the replies to that message are not counted.
    if !call(client, target, 0, "hello", u64::MAX / 2).await {
        anyhow::bail!("{}: the drain's opening message was refused", target.spec.kind);
    }
    let (t, channel, n) = (tenant.clone(), target.channel, args.drain_messages.max(1));
    let address = to.address.clone();
    let (contact, before): (Option<i64>, i64) = state
        .db
        .read(move |c| {
            let contact = c
                .query_row(
                    "SELECT id FROM channel_contacts WHERE channel_id = ?1 AND external_id = ?2",
                    rusqlite::params![channel, address],
                    |r| r.get(0),
                )
                .ok();
            let queued = c.query_row(
                "SELECT count(*) FROM channel_messages WHERE channel_id = ?1 AND direction = 'outbound'",
                [channel],
                |r| r.get(0),
            )?;
            Ok((contact, queued))
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    state
        .db
        .write(move |tx| {
            for i in 0..n {
                let text = format!("queued reply {i}");
                for r in adapter.render(&to, &text, &RichParts::default()) {
                    store::enqueue(
                        tx,
                        &t,
                        &store::Outbound {
                            channel,
                            bot: Some(bot),
                            conversation: None,
                            contact,
                            to: &to.address,
                            message_type: r.message_type,
                            content: &text,
                            request: &json!({ "request": r.request }).to_string(),
                            idempotency_key: &crate::crypto::random_token(16),
                            conversation_message: None,
                        },
                    )?;
                }
            }
            send::ensure_job(tx, channel, t.org_id())
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    state.jobs.notify();
    let started = Instant::now();
    let limit = Duration::from_secs(args.drain_seconds.max(1));
    // The opening message's replies are ahead in the queue: counted out.
    let expected = i64::try_from(n).unwrap_or(i64::MAX) + before;
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let sent: i64 = state
            .db
            .read(move |c| {
                Ok(c.query_row(
                    "SELECT count(*) FROM channel_messages WHERE channel_id = ?1 AND direction = 'outbound' AND status = 'sent'",
                    [channel],
                    |r| r.get(0),
                )?)
            })
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let elapsed = started.elapsed();
        if sent >= expected || elapsed >= limit {
            return Ok(((sent - before).max(0), elapsed.as_secs_f64()));
        }
    }
}

/// The fake provider on loopback: `/{type}/…` is answered by that type's spec.
fn start_fake() -> anyhow::Result<(String, actix_web::dev::ServerHandle)> {
    let seq = Arc::new(AtomicI64::new(1));
    let server = actix_web::HttpServer::new(move || {
        let seq = seq.clone();
        actix_web::App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
            let n = seq.fetch_add(1, Ordering::Relaxed);
            async move { fake_answer(req.path(), &body, n) }
        }))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))?;
    let port = server.addrs().first().map(std::net::SocketAddr::port).ok_or_else(|| anyhow::anyhow!("no port"))?;
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    Ok((format!("http://127.0.0.1:{port}"), handle))
}

fn fake_answer(path: &str, body: &[u8], seq: i64) -> HttpResponse {
    let (kind, rest) = path.trim_start_matches('/').split_once('/').unwrap_or((path, ""));
    let Some(spec) = SPECS.iter().find(|s| s.kind == kind) else {
        return HttpResponse::NotFound().json(json!({ "error": "no such fake" }));
    };
    let (status, answer) = (spec.answer)(&format!("/{rest}"), body, seq);
    let status = actix_web::http::StatusCode::from_u16(status).unwrap_or(actix_web::http::StatusCode::OK);
    HttpResponse::build(status).json(answer)
}

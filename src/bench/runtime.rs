//! `botbuilder bench runtime`: conversation turns per second and turn
//! latency through `Runtime::act` — the function every entry point (API,
//! widget, emulator, channels) calls — for (a) a flow-only bot (questions,
//! keyword conditions, templates, variables; no NLU) and (b) a bot whose
//! flow routes on intents from its trained NLU model (embedding + classifier
//! per message), with 1, 16 and 128 concurrent conversations.
//!
//! A turn is complete when its transcript messages, the conversation row and
//! the usage counts are committed (the group-commit writer) — what the API
//! waits for before answering. HTTP parsing and serialisation are not part
//! of the figure.
//!
//! The queues are bounded (`ml.queue_max_texts`, `runtime.write_queue_turns`):
//! a turn refused as `overloaded` is counted as shed, not as an error, and
//! the latency percentiles are those of the answered turns. So that figures
//! from different hosts can be compared, the report names the host's CPU
//! features (AVX2, AVX-512, VNNI) and the model's own rate in the same run
//! (texts/s through the embedder alone, at the highest concurrency).

use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use rusqlite::params;
use serde_json::{Value, json};

use super::{Report, percentile};
use crate::app::AppState;
use crate::config::{Config, MlConfig};
use crate::conversations::runtime::{ActArgs, Action, ConvRef};
use crate::error::ErrorCode;
use crate::flows::document::FlowDocument;
use crate::flows::model::{PublishRequest, SaveFlowRequest};
use crate::flows::service::Source;
use crate::http::Tenant;
use crate::ids::{BotId, OrgId};

#[derive(Debug, Args)]
pub struct RuntimeArgs {
    /// Turns measured per concurrency level, flow-only bot.
    #[arg(long, default_value_t = 20_000)]
    pub flow_turns: usize,
    /// Turns measured per concurrency level, NLU bot.
    #[arg(long, default_value_t = 3_000)]
    pub nlu_turns: usize,
    /// Skip the NLU bot (no model loading).
    #[arg(long)]
    pub skip_nlu: bool,
}

/// Concurrent conversations measured.
const LEVELS: [usize; 3] = [1, 16, 128];

/// Targets on the reference 2-core machine: (turns/s, p95 ms).
const FLOW_TARGET: (f64, f64) = (5000.0, 10.0);
const NLU_TARGET: (f64, f64) = (500.0, 50.0);

pub(super) const FLOW_ONLY: &str = r#"{
  "nodes": [
    { "id": "start", "type": "start" },
    { "id": "hello", "type": "message", "data": { "text": "Hi! Ask me about prices or opening hours." } },
    { "id": "ask", "type": "question", "data": { "prompt": { "text": "What can I do for you?" }, "variable": "topic" } },
    { "id": "count", "type": "set_variable", "data": { "assignments": [ { "variable": "turns", "expression": "default(turns, 0) + 1" } ] } },
    { "id": "which", "type": "condition", "data": { "branches": [
        { "id": "price", "condition": { "subject": "variable", "name": "topic", "operator": "contains", "value": "price" } },
        { "id": "hours", "condition": { "subject": "variable", "name": "topic", "operator": "contains", "value": "open" } } ] } },
    { "id": "prices", "type": "message", "data": { "text": "Plans start at 10 EUR, {{topic}} noted (turn {{turns}})." } },
    { "id": "opening", "type": "message", "data": { "text": "We are open 9 to 5 (turn {{turns}}).",
        "quick_replies": [ { "label": "Prices" }, { "label": "Thanks" } ] } },
    { "id": "other", "type": "message", "data": { "text": "You said: {{topic}}" } }
  ],
  "edges": [
    { "source": "start", "target": "hello" }, { "source": "hello", "target": "ask" },
    { "source": "ask", "target": "count" }, { "source": "ask", "port": "invalid", "target": "ask" },
    { "source": "count", "target": "which" },
    { "source": "which", "port": "price", "target": "prices" }, { "source": "which", "port": "hours", "target": "opening" },
    { "source": "which", "port": "else", "target": "other" },
    { "source": "prices", "target": "ask" }, { "source": "opening", "target": "ask" }, { "source": "other", "target": "ask" }
  ]
}"#;

pub(super) const NLU_FLOW: &str = r#"{
  "nodes": [
    { "id": "start", "type": "start" },
    { "id": "route", "type": "intent_router", "data": { "routes": [
        { "id": "book", "intent": "book_table" }, { "id": "hours", "intent": "opening_hours" }, { "id": "menu", "intent": "menu" } ] } },
    { "id": "booked", "type": "message", "data": { "text": "How many people? ({{intent}})" } },
    { "id": "open", "type": "message", "data": { "text": "We are open from noon to midnight." } },
    { "id": "dishes", "type": "message", "data": { "text": "Today: pasta, risotto and tiramisu." } },
    { "id": "oos", "type": "message", "data": { "text": "Sorry, I did not get that." } }
  ],
  "edges": [
    { "source": "start", "target": "route" },
    { "source": "route", "port": "book", "target": "booked" }, { "source": "route", "port": "hours", "target": "open" },
    { "source": "route", "port": "menu", "target": "dishes" }, { "source": "route", "port": "out_of_scope", "target": "oos" },
    { "source": "booked", "target": "route" }, { "source": "open", "target": "route" },
    { "source": "dishes", "target": "route" }, { "source": "oos", "target": "route" }
  ]
}"#;

pub(super) const FLOW_MESSAGES: [&str; 4] =
    ["what is the price of the pro plan", "are you open on sunday", "I would like to talk about my invoice", "price?"];

const INTENTS: [(&str, [&str; 8]); 3] = [
    (
        "book_table",
        [
            "book a table for two",
            "I'd like to reserve a table tonight",
            "can I get a reservation for four people",
            "reserve a table at your restaurant",
            "table for three tomorrow please",
            "make a booking for dinner",
            "do you have a free table on friday",
            "I want to book a table",
        ],
    ),
    (
        "opening_hours",
        [
            "when are you open",
            "what are your opening hours",
            "are you open on sunday",
            "what time do you close",
            "until when are you open tonight",
            "opening times please",
            "is the restaurant open now",
            "what time do you open tomorrow",
        ],
    ),
    (
        "menu",
        [
            "what's on the menu",
            "do you have vegetarian dishes",
            "show me the menu",
            "what desserts do you have",
            "can I see the wine list",
            "do you serve pasta",
            "what food do you offer",
            "is there a vegan option",
        ],
    ),
];

pub(super) const NLU_MESSAGES: [&str; 6] = [
    "could I book a table for six people",
    "what time do you open on saturday",
    "do you have gluten free pasta",
    "reserve a table for tonight please",
    "are you open late",
    "what is the weather like",
];

/// One measured level.
struct Level {
    concurrency: usize,
    turns: usize,
    /// Turns refused as `overloaded` (not in `turns` nor the percentiles).
    shed: usize,
    turns_per_s: f64,
    p50_ms: f64,
    p95_ms: f64,
    p99_ms: f64,
}

pub fn run(args: &RuntimeArgs, ml: &MlConfig) -> anyhow::Result<Report> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let dir = tempfile::tempdir()?;
    let mut config = Config { data: dir.path().join("bench.db"), ml: ml.clone(), ..Config::default() };
    config.ml.enabled = !args.skip_nlu;
    config.jobs.workers = 0;
    let (state, _lock) = AppState::open(config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let org = setup_org(&state)?;
    let tenant = Tenant::system(org, "benchmark");

    let mut rows = Vec::new();
    let mut json = serde_json::Map::new();
    let cpu = cpu_features();
    rows.push(("CPU".into(), format!("{} ({} cores): {}", cpu.model, cpu.cores, cpu.flags_line())));
    json.insert("cpu".into(), cpu.json());

    let flow_bot = new_bot(&state, org, "Flow-only bench")?;
    runtime.block_on(publish(&state, &tenant, flow_bot, FLOW_ONLY))?;
    let flow = runtime.block_on(measure_all(
        &state,
        &tenant,
        flow_bot,
        "flow",
        &FLOW_MESSAGES,
        args.flow_turns,
        FLOW_TARGET.0,
    ))?;
    summarize("flow_only", "flow-only", &flow, FLOW_TARGET, &mut rows, &mut json);

    if args.skip_nlu {
        rows.push(("nlu".into(), "skipped (--skip-nlu)".into()));
    } else {
        state.models.embedder_blocking().map_err(|e| anyhow::anyhow!("the embedding model did not load: {e:?}"))?;
        let nlu_bot = new_bot(&state, org, "NLU bench")?;
        train(&state, &tenant, nlu_bot)?;
        runtime.block_on(publish(&state, &tenant, nlu_bot, NLU_FLOW))?;
        let nlu = runtime.block_on(measure_all(
            &state,
            &tenant,
            nlu_bot,
            "nlu",
            &NLU_MESSAGES,
            args.nlu_turns,
            NLU_TARGET.0,
        ))?;
        summarize("nlu", "NLU", &nlu, NLU_TARGET, &mut rows, &mut json);
        let concurrency = LEVELS[LEVELS.len() - 1];
        let (texts_per_s, texts) = runtime.block_on(model_alone(&state, concurrency, args.nlu_turns))?;
        rows.push((
            format!("model alone, {concurrency} concurrent texts"),
            format!("{texts_per_s:.0} texts/s ({texts} texts through the embedder only)"),
        ));
        json.insert(
            "model_alone".into(),
            json!({ "texts_per_s": r1(texts_per_s), "texts": texts, "concurrency": concurrency,
                    "queue_max_texts": state.config.ml.queue_max_texts }),
        );
    }
    state.nlu.shutdown();
    Ok(Report { rows, json: Value::Object(json) })
}

fn summarize(
    key: &str,
    label: &str,
    (levels, paced): &(Vec<Level>, Level),
    target: (f64, f64),
    rows: &mut Vec<(String, String)>,
    json: &mut serde_json::Map<String, Value>,
) {
    let mut per_level = serde_json::Map::new();
    for l in levels {
        rows.push((
            format!("{label}, {} conversations", l.concurrency),
            format!(
                "{:.0} turns/s, p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms ({} turns{})",
                l.turns_per_s,
                l.p50_ms,
                l.p95_ms,
                l.p99_ms,
                l.turns,
                shed_note(l.shed)
            ),
        ));
        per_level.insert(
            l.concurrency.to_string(),
            json!({ "turns": l.turns, "shed": l.shed, "turns_per_s": r1(l.turns_per_s), "p50_ms": r3(l.p50_ms),
                    "p95_ms": r3(l.p95_ms), "p99_ms": r3(l.p99_ms) }),
        );
    }
    rows.push((
        format!("{label}, paced at {:.0} turns/s over {} conversations", target.0, paced.concurrency),
        format!(
            "{:.0} turns/s, p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms ({} turns{})",
            paced.turns_per_s,
            paced.p50_ms,
            paced.p95_ms,
            paced.p99_ms,
            paced.turns,
            shed_note(paced.shed)
        ),
    ));
    // Headline: the most turns per second any level reached (closed loop:
    // each conversation sends its next message when answered), and the
    // latency while the target rate is offered (open loop).
    let turns_per_s = levels.iter().map(|l| l.turns_per_s).fold(0.0, f64::max);
    let met = turns_per_s >= target.0 && paced.p95_ms < target.1;
    rows.push((
        format!("{label}: peak turns/s; p95 at the target rate"),
        format!(
            "{turns_per_s:.0} turns/s; p95 {:.2} ms (target ≥ {:.0} turns/s with p95 < {:.0} ms: {})",
            paced.p95_ms,
            target.0,
            target.1,
            if met { "met" } else { "NOT met" }
        ),
    ));
    json.insert(
        key.to_owned(),
        json!({
            "turns_per_s": r1(turns_per_s), "p50_ms": r3(paced.p50_ms), "p95_ms": r3(paced.p95_ms),
            "p99_ms": r3(paced.p99_ms), "paced_turns_per_s": r1(paced.turns_per_s), "paced_shed": paced.shed,
            "target_turns_per_s": target.0, "target_p95_ms": target.1, "target_met": met,
            "levels": per_level,
        }),
    );
}

fn shed_note(shed: usize) -> String {
    if shed == 0 { String::new() } else { format!(", {shed} shed as overloaded") }
}

fn r1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn r3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

async fn measure_all(
    state: &AppState,
    tenant: &Tenant,
    bot: BotId,
    tag: &str,
    messages: &'static [&'static str],
    turns: usize,
    target_rate: f64,
) -> anyhow::Result<(Vec<Level>, Level)> {
    // Warm up: the program is built, caches filled, the writer running.
    measure(state, tenant, bot, &format!("{tag}-warm"), messages, 4, 200).await?;
    let mut levels = Vec::new();
    for c in LEVELS {
        levels.push(measure(state, tenant, bot, &format!("{tag}-{c}"), messages, c, turns).await?);
    }
    let paced = measure_rate(state, tenant, bot, &format!("{tag}-paced"), messages, 128, target_rate, turns).await?;
    Ok((levels, paced))
}

/// Open loop: `rate` turns per second spread over `conversations`, each
/// conversation's messages sent on a fixed schedule; latency counts from
/// the scheduled time (a late turn delays the next one of its
/// conversation, and that wait is counted).
#[allow(clippy::too_many_arguments, reason = "the same measurement inputs as `measure`, plus the rate")]
async fn measure_rate(
    state: &AppState,
    tenant: &Tenant,
    bot: BotId,
    tag: &str,
    messages: &'static [&'static str],
    conversations: usize,
    rate: f64,
    turns: usize,
) -> anyhow::Result<Level> {
    let per_conv = turns.div_ceil(conversations).max(1);
    let state = Arc::new(state.clone());
    for i in 0..conversations {
        let args = act_args(tenant, bot, format!("{tag}-{i}"), Action::Start);
        state.runtime.act(&state, args).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    let interval = std::time::Duration::from_secs_f64(conversations as f64 / rate);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(conversations);
    for i in 0..conversations {
        let state = state.clone();
        let tenant = tenant.clone();
        let user = format!("{tag}-{i}");
        // Conversations start spread over one interval.
        let offset = interval.mul_f64(i as f64 / conversations as f64);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_conv);
            let mut shed = 0;
            for n in 0..per_conv {
                let due = started + offset + interval * u32::try_from(n).unwrap_or(u32::MAX);
                tokio::time::sleep_until(due.into()).await;
                let text = messages[(i + n) % messages.len()].to_owned();
                let args = act_args(&tenant, bot, user.clone(), Action::Message(text));
                match state.runtime.act(&state, args).await {
                    Ok(_) => latencies.push(due.elapsed().as_secs_f64() * 1000.0),
                    Err(e) if e.code() == ErrorCode::Overloaded => shed += 1,
                    Err(e) => anyhow::bail!("{e:?}"),
                }
            }
            Ok::<_, anyhow::Error>((latencies, shed))
        }));
    }
    let mut all = Vec::with_capacity(per_conv * conversations);
    let mut shed = 0;
    for t in tasks {
        let (latencies, refused) = t.await??;
        all.extend(latencies);
        shed += refused;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let n = all.len();
    Ok(Level {
        concurrency: conversations,
        turns: n,
        shed,
        turns_per_s: n as f64 / elapsed,
        p50_ms: percentile(&mut all, 50.0),
        p95_ms: percentile(&mut all, 95.0),
        p99_ms: percentile(&mut all, 99.0),
    })
}

async fn measure(
    state: &AppState,
    tenant: &Tenant,
    bot: BotId,
    tag: &str,
    messages: &'static [&'static str],
    concurrency: usize,
    turns: usize,
) -> anyhow::Result<Level> {
    let per_conv = turns.div_ceil(concurrency).max(1);
    let state = Arc::new(state.clone());
    // Open every conversation first (not measured).
    for i in 0..concurrency {
        let args = act_args(tenant, bot, format!("{tag}-{i}"), Action::Start);
        state.runtime.act(&state, args).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(concurrency);
    for i in 0..concurrency {
        let state = state.clone();
        let tenant = tenant.clone();
        let user = format!("{tag}-{i}");
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_conv);
            let mut shed = 0;
            for n in 0..per_conv {
                let text = messages[(i + n) % messages.len()].to_owned();
                let args = act_args(&tenant, bot, user.clone(), Action::Message(text));
                let t = Instant::now();
                match state.runtime.act(&state, args).await {
                    Ok(r) => {
                        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                        anyhow::ensure!(!r.replies.is_empty(), "a turn without reply");
                    }
                    Err(e) if e.code() == ErrorCode::Overloaded => shed += 1,
                    Err(e) => anyhow::bail!("{e:?}"),
                }
            }
            Ok::<_, anyhow::Error>((latencies, shed))
        }));
    }
    let mut all = Vec::with_capacity(per_conv * concurrency);
    let mut shed = 0;
    for t in tasks {
        let (latencies, refused) = t.await??;
        all.extend(latencies);
        shed += refused;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let n = all.len();
    Ok(Level {
        concurrency,
        turns: n,
        shed,
        turns_per_s: n as f64 / elapsed,
        p50_ms: percentile(&mut all, 50.0),
        p95_ms: percentile(&mut all, 95.0),
        p99_ms: percentile(&mut all, 99.0),
    })
}

/// The model alone: `texts` chat messages through the embedder's queue
/// from `concurrency` tasks (each sends its next text when answered);
/// texts per second and how many.
async fn model_alone(state: &AppState, concurrency: usize, texts: usize) -> anyhow::Result<(f64, usize)> {
    let embedder = state.models.embedder().await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let per_task = texts.div_ceil(concurrency).max(1);
    // Warm up.
    embedder.embed(NLU_MESSAGES.iter().map(|t| (*t).to_owned()).collect()).await?;
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(concurrency);
    for i in 0..concurrency {
        let embedder = embedder.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..per_task {
                embedder.embed_one(NLU_MESSAGES[(i + n) % NLU_MESSAGES.len()]).await?;
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let n = per_task * concurrency;
    Ok((n as f64 / started.elapsed().as_secs_f64(), n))
}

/// The host's CPU as far as inference speed goes.
struct Cpu {
    model: String,
    cores: usize,
    /// (name, present) for `avx2`, `avx512f`, `avx512_vnni`, `avx_vnni`.
    flags: Vec<(&'static str, bool)>,
}

impl Cpu {
    fn flags_line(&self) -> String {
        self.flags
            .iter()
            .map(|(f, on)| format!("{f} {}", if *on { "yes" } else { "no" }))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn json(&self) -> Value {
        let mut flags = serde_json::Map::new();
        for (f, on) in &self.flags {
            flags.insert((*f).to_owned(), Value::Bool(*on));
        }
        json!({ "model": self.model, "cores": self.cores, "features": flags })
    }
}

/// CPU model and the SIMD features ONNX Runtime's int8 and fp32 kernels
/// use, from `/proc/cpuinfo` (all "no" where it cannot be read).
fn cpu_features() -> Cpu {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        info.lines()
            .find(|l| l.split(':').next().is_some_and(|k| k.trim() == name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
    };
    let model = field("model name").unwrap_or_else(|| "unknown CPU".to_owned());
    let flags = field("flags").unwrap_or_default();
    let present: std::collections::HashSet<&str> = flags.split_whitespace().collect();
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    Cpu {
        model,
        cores,
        flags: ["avx2", "avx512f", "avx512_vnni", "avx_vnni"].into_iter().map(|f| (f, present.contains(f))).collect(),
    }
}

fn act_args(tenant: &Tenant, bot: BotId, user: String, action: Action) -> ActArgs {
    ActArgs {
        tenant: tenant.clone(),
        bot,
        conversation: ConvRef::Key { channel: "api".into(), external_user_id: user, create: true },
        action,
        source: Source::Published,
        debug: false,
        count_usage: true,
        hook: None,
    }
}

pub(super) async fn publish(state: &AppState, tenant: &Tenant, bot: BotId, doc: &str) -> anyhow::Result<()> {
    let document: FlowDocument = serde_json::from_str(doc)?;
    crate::flows::service::save(
        state,
        tenant.clone(),
        bot,
        "main".into(),
        SaveFlowRequest { document, message: Some("benchmark".into()), autosave: false },
    )
    .await
    .map_err(|e| anyhow::anyhow!("saving the benchmark flow: {e:?}"))?;
    crate::flows::service::publish(state, tenant.clone(), bot, "main".into(), PublishRequest::default())
        .await
        .map_err(|e| anyhow::anyhow!("publishing the benchmark flow: {e:?}"))?;
    Ok(())
}

pub(super) fn train(state: &AppState, tenant: &Tenant, bot: BotId) -> anyhow::Result<()> {
    use crate::nlu::io::{NluDocument, import_document_blocking};
    let intents: Vec<Value> = INTENTS
        .iter()
        .map(|(name, examples)| {
            json!({ "name": name, "examples": examples.iter().map(|t| json!({ "text": t })).collect::<Vec<_>>() })
        })
        .collect();
    let doc: NluDocument = serde_json::from_value(json!({ "intents": intents }))?;
    import_document_blocking(state, tenant, bot, &doc).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    crate::nlu::train::train_bot_blocking(
        state,
        tenant,
        bot,
        &crate::ml::classifier::TrainConfig::default(),
        &mut |_| {},
    )
    .map_err(|e| anyhow::anyhow!("training: {e:?}"))?;
    Ok(())
}

pub(super) fn setup_org(state: &AppState) -> anyhow::Result<OrgId> {
    let id = state
        .db
        .write_blocking(|tx| {
            tx.execute("INSERT INTO users (email, password_hash, name) VALUES ('bench@localhost', 'x', 'Bench')", [])?;
            let user = tx.last_insert_rowid();
            tx.execute(
                "INSERT INTO organizations (name, slug, owner_id, plan_tier) VALUES ('Bench', 'bench', ?1, 'enterprise')",
                [user],
            )?;
            let org = tx.last_insert_rowid();
            // Unlimited messages: the benchmark sends more than any plan's month.
            tx.execute("UPDATE subscription_plans SET max_messages_per_month = -1 WHERE name = 'enterprise'", [])?;
            Ok(org)
        })
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(OrgId(id))
}

pub(super) fn new_bot(state: &AppState, org: OrgId, name: &str) -> anyhow::Result<BotId> {
    let key = format!("wk_bench_{}", crate::crypto::random_token(8));
    let id = state
        .db
        .write_blocking(|tx| {
            tx.execute(
                "INSERT INTO bots (organization_id, name, widget_key) VALUES (?1, ?2, ?3)",
                params![org, name, key],
            )?;
            Ok(tx.last_insert_rowid())
        })
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(BotId(id))
}

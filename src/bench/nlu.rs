//! `botbuilder bench nlu --data DIR`: trains a bot on a benchmark's train
//! split through the same path as the API (import of the data, then
//! `nlu::train::train_bot_blocking`, the function the training job runs)
//! and scores the test split through `nlu::service::parse` (the function
//! the parse route and the conversation runtime call).
//!
//! DIR is one dataset folder (`clinc150`, `banking77`, `braun2017/chatbot`),
//! a folder of corpora (`braun2017`: each trained separately, overall
//! micro-F1 reported), or the data root (every intent dataset). Datasets are
//! read where they are, never copied. An xSID folder (`<lang>/valid.jsonl`,
//! `<lang>/test.jsonl`) runs the multilingual bench instead (`xsid.rs`).

#![allow(
    clippy::cast_precision_loss,
    clippy::many_single_char_names,
    clippy::similar_names,
    clippy::float_cmp,
    reason = "numeric code: counts become ratios, short names follow the formulas, exact float compares are on stored values"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use serde::Deserialize;
use serde_json::{Value, json};

use super::runtime::{new_bot, setup_org};
use super::{Report, percentile};
use crate::app::AppState;
use crate::config::{Config, MlConfig};
use crate::http::Tenant;
use crate::ml::classifier::{TrainConfig, is_oos_name};
use crate::nlu::evaluate::{OUT_OF_SCOPE, score};
use crate::nlu::io::{ExampleDoc, IntentDoc, NluDocument, import_document_blocking};
use crate::nlu::model::Annotation;
use crate::nlu::service::{self, ParseOptions};
use crate::nlu::train::train_bot_blocking;

#[derive(Debug, Args)]
pub struct NluArgs {
    /// A dataset folder, a folder of corpora, the data root, or xSID (`../shared/data/xsid`: in-language and cross-lingual accuracy per encoder).
    #[arg(long, default_value = "../shared/data")]
    pub data: PathBuf,
    /// Concurrent parses in the throughput run.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Sequential parses timed for the single-request latency.
    #[arg(long, default_value_t = 300)]
    pub latency_samples: usize,
    /// Small-bot mode: out-of-scope detection of bots with a handful of
    /// examples, before/after background negatives and the similarity floor
    /// (Braun 2017 without its None examples, CLINC150 5- and 10-shot).
    /// `--data` is then the data root (with braun2017/ and clinc150/).
    #[arg(long)]
    pub small_bots: bool,
    /// Random k-shot subsets of CLINC150 in the small-bot mode.
    #[arg(long, default_value_t = 3)]
    pub seeds: u64,
    /// Training sets of the Restaurant-8k slot bench (run when `--data` is
    /// the data root or `restaurant8k/`): `full` and/or few-shot sizes.
    #[arg(long, value_delimiter = ',', default_value = "full,512,64")]
    pub restaurant8k: Vec<String>,
    /// xSID only: the languages to run (default all; English is always run,
    /// it is the cross-lingual source).
    #[arg(long, value_delimiter = ',')]
    pub languages: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Row {
    pub(super) text: String,
    pub(super) intent: Option<String>,
    #[serde(default)]
    pub(super) entities: Vec<Annotation>,
}

pub(super) fn read_jsonl(path: &Path) -> anyhow::Result<Vec<Row>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| serde_json::from_str(l).with_context(|| format!("{}:{}", path.display(), i + 1)))
        .collect()
}

/// The intent datasets under `dir`: (name, folder).
fn discover(dir: &Path) -> Vec<(String, PathBuf)> {
    let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // restaurant8k has slots only (its own bench below), scifact is retrieval: not intent benchmarks.
    if matches!(name(dir).as_str(), "restaurant8k" | "scifact") {
        return Vec::new();
    }
    if dir.join("train.jsonl").exists() {
        let parent = dir.parent().map(name).unwrap_or_default();
        let n = if parent == "braun2017" { format!("braun2017/{}", name(dir)) } else { name(dir) };
        return vec![(n, dir.to_path_buf())];
    }
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(dir).map(|r| r.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    entries.sort();
    for p in entries {
        if !p.is_dir() {
            continue;
        }
        out.extend(discover(&p));
    }
    out
}

pub fn run(args: &NluArgs, ml: &MlConfig) -> anyhow::Result<Report> {
    let datasets = discover(&args.data);
    let restaurant8k = [args.data.clone(), args.data.join("restaurant8k")]
        .into_iter()
        .find(|d| d.file_name().is_some_and(|n| n == "restaurant8k") && d.join("test.jsonl").exists())
        .filter(|_| !args.restaurant8k.is_empty() && !args.small_bots);
    if args.small_bots && !args.data.join("braun2017").exists() && !args.data.join("clinc150").exists() {
        let message =
            format!("no braun2017/ or clinc150/ under {} (expected ../shared/data); skipping", args.data.display());
        return Ok(Report {
            rows: vec![("skipped".into(), message.clone())],
            json: json!({ "skipped": true, "reason": message }),
        });
    }
    if datasets.is_empty() && restaurant8k.is_none() && !super::xsid::is_xsid(&args.data) {
        let message = format!("no NLU datasets under {} (expected ../shared/data); skipping", args.data.display());
        return Ok(Report {
            rows: vec![("skipped".into(), message.clone())],
            json: json!({ "skipped": true, "reason": message }),
        });
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let dir = tempfile::tempdir()?;
    let rss_base = rss_mb();
    let mut config = Config { data: dir.path().join("bench.db"), ml: ml.clone(), ..Config::default() };
    config.ml.enabled = true;
    config.jobs.workers = 0;
    let (state, _lock) = AppState::open(config).map_err(|e| anyhow::anyhow!("{e}"))?;
    state.models.embedder_blocking().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let rss_embedder = rss_mb() - rss_base;
    let org = setup_org(&state)?;
    let tenant = Tenant::system(org, "benchmark");
    if super::xsid::is_xsid(&args.data) {
        let report =
            runtime.block_on(super::xsid::run(&state, &tenant, &args.data, &args.languages, args.latency_samples));
        state.nlu.shutdown();
        return report;
    }
    if args.small_bots {
        let report = run_small_bots(&state, &tenant, &args.data, args.seeds);
        state.nlu.shutdown();
        return report;
    }

    let mut rows = Vec::new();
    let mut results = serde_json::Map::new();
    let mut braun = (0usize, 0usize);
    let mut braun_entities = (0usize, 0usize, 0usize);
    let mut classifier_mb = 0.0_f64;
    for (name, folder) in &datasets {
        let r = runtime.block_on(bench_one(&state, &tenant, name, folder, args))?;
        if name.starts_with("braun2017/") {
            braun.0 += r.correct;
            braun.1 += r.total;
            braun_entities.0 += r.entity_tp;
            braun_entities.1 += r.entity_pred;
            braun_entities.2 += r.entity_gold;
        }
        classifier_mb = classifier_mb.max(r.classifier_mb);
        for (k, v) in &r.rows {
            rows.push((format!("{name}: {k}"), v.clone()));
        }
        results.insert(name.replace('/', "_"), r.json);
    }
    if let Some(folder) = &restaurant8k {
        let (r, j) = bench_restaurant8k(&state, folder, &args.restaurant8k)?;
        rows.extend(r);
        results.insert("restaurant8k".into(), j);
    }
    rows.push(("RSS added by the embedding model (MB)".into(), format!("{rss_embedder:.1}")));
    rows.push(("largest classifier in memory (MB)".into(), format!("{classifier_mb:.1}")));
    let mut json = json!({
        "datasets": results,
        "embedder_rss_mb": r2(rss_embedder),
        "classifier_mb": r2(classifier_mb),
        "models_rss_mb": r2(rss_embedder + classifier_mb),
    });
    if braun.1 > 0 {
        let overall = braun.0 as f64 / braun.1 as f64;
        rows.push(("braun2017 overall micro-F1".into(), format!("{overall:.4}")));
        json["braun2017_micro_f1"] = json!(r4(overall));
        let (tp, pred, gold) = braun_entities;
        let f1 = f1(tp, pred, gold);
        rows.push(("braun2017 overall entity F1 (list entities from training annotations)".into(), format!("{f1:.4}")));
        json["braun2017_entity_f1"] = json!(r4(f1));
    }
    // With one dataset, its figures are also top-level keys.
    if results.len() == 1
        && let Some(Value::Object(only)) = results.values().next()
    {
        for (k, v) in only {
            json[k] = v.clone();
        }
    }
    if datasets.iter().all(|(n, _)| n.starts_with("braun2017/")) && braun.1 > 0 {
        json["micro_f1"] = json["braun2017_micro_f1"].clone();
        json["entity_f1"] = json["braun2017_entity_f1"].clone();
    }
    state.nlu.shutdown();
    Ok(Report { rows, json })
}

struct Outcome {
    rows: Vec<(String, String)>,
    json: Value,
    correct: usize,
    total: usize,
    entity_tp: usize,
    entity_pred: usize,
    entity_gold: usize,
    classifier_mb: f64,
}

pub(super) fn document(train: &[Row]) -> NluDocument {
    let mut intents: BTreeMap<String, Vec<ExampleDoc>> = BTreeMap::new();
    for r in train {
        let Some(intent) = &r.intent else { continue };
        intents
            .entry(intent.clone())
            .or_default()
            .push(ExampleDoc { text: r.text.clone(), entities: r.entities.clone() });
    }
    NluDocument {
        format: "botbuilder-nlu".into(),
        version: 1,
        intents: intents
            .into_iter()
            .map(|(name, mut examples)| {
                // The same text twice in one intent is one example.
                let mut seen = BTreeSet::new();
                examples.retain(|e| seen.insert(e.text.trim().to_owned()));
                IntentDoc {
                    name,
                    display_name: None,
                    description: None,
                    is_active: true,
                    confidence_threshold: None,
                    examples,
                }
            })
            .collect(),
        // List entities from the training annotations (values = annotated texts).
        entities: list_entities(train),
    }
}

fn list_entities(train: &[Row]) -> Vec<crate::nlu::io::EntityDoc> {
    let mut values: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in train {
        for a in &r.entities {
            values.entry(a.entity.clone()).or_default().insert(a.value.trim().to_owned());
        }
    }
    values
        .into_iter()
        .map(|(name, vs)| crate::nlu::io::EntityDoc {
            name,
            kind: crate::nlu::model::EntityType::List,
            display_name: None,
            pattern: None,
            system_type: None,
            fuzzy_matching: Some(true),
            values: vs
                .into_iter()
                .filter(|v| !v.is_empty())
                .map(|v| crate::nlu::model::EntityValue { value: v, synonyms: Vec::new() })
                .collect(),
            roles: Vec::new(),
        })
        .collect()
}

#[allow(clippy::too_many_lines, reason = "one benchmark run, start to finish")]
async fn bench_one(
    state: &AppState,
    tenant: &Tenant,
    name: &str,
    folder: &Path,
    args: &NluArgs,
) -> anyhow::Result<Outcome> {
    let mut train = read_jsonl(&folder.join("train.jsonl"))?;
    let mut test = read_jsonl(&folder.join("test.jsonl"))?;
    let clinc = folder.join("oos_train.jsonl").exists();
    if clinc {
        // The explicit out-of-scope class: clinc150's oos_train split.
        train.extend(read_jsonl(&folder.join("oos_train.jsonl"))?);
        test.extend(read_jsonl(&folder.join("oos_test.jsonl"))?);
    }
    test.retain(|r| r.intent.is_some());
    if test.is_empty() {
        bail!("{name}: no test rows with intents");
    }
    let bot = new_bot(state, tenant.org_id(), name)?;
    let doc = document(&train);
    let (st, t2) = (state.clone(), tenant.clone());
    let started = Instant::now();
    let outcome = tokio::task::spawn_blocking(move || {
        import_document_blocking(&st, &t2, bot, &doc)?;
        train_bot_blocking(&st, &t2, bot, &TrainConfig::default(), &mut |_| {})
    })
    .await?
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let train_seconds = started.elapsed().as_secs_f64();
    let weights_mb = outcome.model_version.metrics["weights_bytes"].as_f64().unwrap_or(0.0) / 1e6;

    // Single-request latency: sequential parses.
    let options = ParseOptions { log: false, ..ParseOptions::default() };
    let mut latencies = Vec::new();
    for r in test.iter().cycle().take(args.latency_samples.max(1)) {
        let t = Instant::now();
        service::parse(state, tenant, bot, &r.text, options.clone()).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let p50 = percentile(&mut latencies, 50.0);
    let p95 = percentile(&mut latencies, 95.0);

    // Whole test split under concurrent load: accuracy and throughput.
    let texts: Arc<Vec<String>> = Arc::new(test.iter().map(|r| r.text.clone()).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..args.concurrency.max(1) {
        let (state, tenant, texts, next, options) =
            (state.clone(), tenant.clone(), texts.clone(), next.clone(), options.clone());
        handles.push(tokio::spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(text) = texts.get(i) else { break };
                let parsed = service::parse(&state, &tenant, bot, text, options.clone()).await;
                out.push((i, parsed));
            }
            out
        }));
    }
    let mut results: Vec<Option<crate::nlu::ParseResult>> = vec![None; texts.len()];
    for h in handles {
        for (i, parsed) in h.await? {
            results[i] = Some(parsed.map_err(|e| anyhow::anyhow!("{e:?}"))?);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let throughput = texts.len() as f64 / elapsed;

    let norm = |l: &str| if is_oos_name(l) { OUT_OF_SCOPE.to_owned() } else { l.to_owned() };
    let gold: Vec<String> = test.iter().map(|r| norm(r.intent.as_deref().unwrap_or_default())).collect();
    let predicted: Vec<String> = results
        .iter()
        .map(|p| match p {
            Some(p) if !p.out_of_scope => p.intent.as_ref().map_or_else(|| OUT_OF_SCOPE.to_owned(), |i| norm(&i.name)),
            _ => OUT_OF_SCOPE.to_owned(),
        })
        .collect();
    let report = score(&gold, &predicted, 0);
    let correct = gold.iter().zip(&predicted).filter(|(g, p)| g == p).count();
    let accuracy = correct as f64 / gold.len() as f64;

    // Entities: exact (entity, start, end) matches against the annotations.
    let names: BTreeSet<&str> = train.iter().flat_map(|r| r.entities.iter().map(|a| a.entity.as_str())).collect();
    let (mut tp, mut npred, mut ngold) = (0, 0, 0);
    for (r, p) in test.iter().zip(&results) {
        let gold_spans: BTreeSet<(&str, usize, usize)> =
            r.entities.iter().map(|a| (a.entity.as_str(), a.start, a.end)).collect();
        let pred_spans: BTreeSet<(&str, usize, usize)> = p
            .as_ref()
            .map(|p| {
                p.entities
                    .iter()
                    .filter(|e| names.contains(e.entity.as_str()))
                    .map(|e| (e.entity.as_str(), e.start, e.end))
                    .collect()
            })
            .unwrap_or_default();
        tp += gold_spans.intersection(&pred_spans).count();
        npred += pred_spans.len();
        ngold += gold_spans.len();
    }

    let mut rows = vec![
        ("train examples".into(), outcome.report.examples.to_string()),
        ("training time (s, embed + fit)".into(), format!("{train_seconds:.1}")),
        ("accuracy".into(), format!("{accuracy:.4}")),
        ("macro F1".into(), format!("{:.4}", report.macro_f1)),
        ("micro F1".into(), format!("{:.4}", report.micro_f1)),
        ("parse latency p50 / p95 (ms, single request)".into(), format!("{p50:.2} / {p95:.2}")),
        (format!("parse throughput ({} concurrent, parses/s)", args.concurrency), format!("{throughput:.0}")),
        ("classifier weights (MB)".into(), format!("{weights_mb:.1}")),
    ];
    let mut json = json!({
        "train_examples": outcome.report.examples,
        "train_seconds": r2(train_seconds),
        "embed_seconds": r2(outcome.embed_seconds),
        "accuracy": r4(accuracy),
        "macro_f1": report.macro_f1,
        "micro_f1": r4(accuracy),
        "label_micro_f1": report.micro_f1,
        "parse_p50_ms": r2(p50),
        "parse_p95_ms": r2(p95),
        "throughput_per_s": r2(throughput),
        "concurrency": args.concurrency,
        "classifier_mb": r2(weights_mb),
        "threshold": outcome.report.threshold,
        "temperature": outcome.report.temperature,
        "validation_accuracy": outcome.report.validation_accuracy,
    });
    if clinc {
        let ins: Vec<usize> = (0..gold.len()).filter(|&i| gold[i] != OUT_OF_SCOPE).collect();
        let oos: Vec<usize> = (0..gold.len()).filter(|&i| gold[i] == OUT_OF_SCOPE).collect();
        let in_acc = ins.iter().filter(|&&i| predicted[i] == gold[i]).count() as f64 / ins.len().max(1) as f64;
        let oos_hit = oos.iter().filter(|&&i| predicted[i] == OUT_OF_SCOPE).count();
        let said_oos = predicted.iter().filter(|p| *p == OUT_OF_SCOPE).count();
        let oos_recall = oos_hit as f64 / oos.len().max(1) as f64;
        let oos_precision = if said_oos > 0 { oos_hit as f64 / said_oos as f64 } else { 0.0 };
        rows.push(("in-scope accuracy".into(), format!("{in_acc:.4}")));
        rows.push(("out-of-scope recall / precision".into(), format!("{oos_recall:.4} / {oos_precision:.4}")));
        json["in_scope_accuracy"] = json!(r4(in_acc));
        json["oos_recall"] = json!(r4(oos_recall));
        json["oos_precision"] = json!(r4(oos_precision));
    }
    if ngold > 0 {
        let ef1 = f1(tp, npred, ngold);
        rows.push(("entity F1 (exact spans)".into(), format!("{ef1:.4}")));
        json["entity_f1"] = json!(r4(ef1));
    }
    Ok(Outcome {
        rows,
        json,
        correct,
        total: gold.len(),
        entity_tp: tp,
        entity_pred: npred,
        entity_gold: ngold,
        classifier_mb: weights_mb,
    })
}

/// Restaurant-8k span F1: the learned entity extractor trained (with
/// `nlu::train::train_entities_from`, what the training job runs) on each
/// training set, then `test.jsonl` extracted with the bot's precedence
/// (`EntitySet::extract_with`); exact (slot, start, end) matches of the
/// learned spans (system entities named `date`/`time` by kind are not
/// counted: the slots are what is scored).
fn bench_restaurant8k(
    state: &AppState,
    folder: &Path,
    sets: &[String],
) -> anyhow::Result<(Vec<(String, String)>, Value)> {
    use crate::nlu::entities::{EntitySet, Reference};
    let test = read_jsonl(&folder.join("test.jsonl"))?;
    let embedder = state.models.embedder_blocking().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let texts: Vec<&str> = test.iter().map(|r| r.text.as_str()).collect();
    let started = Instant::now();
    let test_tokens = embedder.bulk(texts.len())?.token_vectors(&texts)?;
    let test_embed_seconds = started.elapsed().as_secs_f64();
    let entities = EntitySet::empty();
    let reference = Reference::new(chrono::Utc::now().with_timezone(&chrono_tz::UTC));
    let mut rows = Vec::new();
    let mut json = json!({ "test_examples": test.len() });
    for set in sets {
        let path =
            if set == "full" { folder.join("train.jsonl") } else { folder.join(format!("fewshot/train_{set}.jsonl")) };
        let train = read_jsonl(&path)?;
        let training_rows: Vec<crate::nlu::store::TrainingRow> = train
            .iter()
            .map(|r| crate::nlu::store::TrainingRow {
                intent: String::new(),
                text: r.text.clone(),
                entities: serde_json::to_string(&r.entities).unwrap_or_default(),
            })
            .collect();
        let annotations: Vec<Vec<Annotation>> = train.iter().map(|r| r.entities.clone()).collect();
        let started = Instant::now();
        let (model, report) =
            crate::nlu::train::train_entities_from(&embedder, &entities, &training_rows, &annotations)
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let train_seconds = started.elapsed().as_secs_f64();
        let model = model.context("no annotations in the training set")?;
        let names: BTreeSet<&str> = train.iter().flat_map(|r| r.entities.iter().map(|a| a.entity.as_str())).collect();
        let (mut tp, mut npred, mut ngold) = (0, 0, 0);
        let mut per: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
        let started = Instant::now();
        for (r, tokens) in test.iter().zip(&test_tokens) {
            let found = entities.extract_with(&r.text, &reference, Some((&model, tokens)));
            let gold: BTreeSet<(&str, usize, usize)> =
                r.entities.iter().map(|a| (a.entity.as_str(), a.start, a.end)).collect();
            let pred: BTreeSet<(&str, usize, usize)> = found
                .iter()
                .filter(|e| e.extractor == "learned" && names.contains(e.entity.as_str()))
                .map(|e| (e.entity.as_str(), e.start, e.end))
                .collect();
            for (e, _, _) in &gold {
                per.entry((*e).to_owned()).or_default().2 += 1;
            }
            for p in &pred {
                let slot = per.entry(p.0.to_owned()).or_default();
                slot.1 += 1;
                slot.0 += usize::from(gold.contains(p));
            }
            tp += gold.intersection(&pred).count();
            npred += pred.len();
            ngold += gold.len();
        }
        let decode_ms = started.elapsed().as_secs_f64() * 1000.0 / test.len().max(1) as f64;
        let score = f1(tp, npred, ngold);
        rows.push((format!("restaurant8k {set} ({} train): span F1", train.len()), format!("{score:.4}")));
        rows.push((
            format!("restaurant8k {set}: entity training time (s, token vectors + fit)"),
            format!("{train_seconds:.1}"),
        ));
        json[format!("train_{set}")] = json!({
            "train_examples": train.len(),
            "span_f1": r4(score),
            "precision": r4(if npred > 0 { tp as f64 / npred as f64 } else { 0.0 }),
            "recall": r4(if ngold > 0 { tp as f64 / ngold as f64 } else { 0.0 }),
            "train_seconds": r2(train_seconds),
            "fit_seconds": report.as_ref().map(|r| r2(r.train_seconds)),
            "features": report.as_ref().map(|r| r.features),
            "decode_ms_per_text": r4(decode_ms),
            "per_slot_f1": per.iter().map(|(k, (t, p, g))| (k.clone(), json!(r4(f1(*t, *p, *g))))).collect::<serde_json::Map<_, _>>(),
        });
    }
    let per_text_ms = test_embed_seconds * 1000.0 / test.len().max(1) as f64;
    rows.push(("restaurant8k: token-vector inference per text (ms, bulk)".into(), format!("{per_text_ms:.2}")));
    json["token_vectors_ms_per_text"] = json!(r2(per_text_ms));
    Ok((rows, json))
}

fn f1(tp: usize, pred: usize, gold: usize) -> f64 {
    let p = if pred > 0 { tp as f64 / pred as f64 } else { 0.0 };
    let r = if gold > 0 { tp as f64 / gold as f64 } else { 0.0 };
    if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 }
}

pub(super) fn r2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

pub(super) fn r4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Resident set size of this process, in MB.
pub(super) fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

// ---- small bots: out-of-scope detection with a handful of examples ----

/// The two recipes the small-bot mode compares: `before` is the classifier
/// without background negatives and similarity floor (what a small bot had
/// before both existed), `after` the default.
fn recipes() -> [(&'static str, TrainConfig); 2] {
    let before = TrainConfig { background_weight: 0.0, similarity_floor: false, ..TrainConfig::default() };
    [("before", before), ("after", TrainConfig::default())]
}

/// Counts of one small-bot evaluation.
#[derive(Debug, Default, Clone, Copy)]
struct OosCounts {
    in_scope: usize,
    in_scope_right: usize,
    oos: usize,
    oos_caught: usize,
}

impl OosCounts {
    fn add(&mut self, o: OosCounts) {
        self.in_scope += o.in_scope;
        self.in_scope_right += o.in_scope_right;
        self.oos += o.oos;
        self.oos_caught += o.oos_caught;
    }

    fn json(&self) -> Value {
        json!({
            "in_scope_accuracy": r4(self.in_scope_right as f64 / self.in_scope.max(1) as f64),
            "oos_recall": r4(self.oos_caught as f64 / self.oos.max(1) as f64),
            "in_scope": self.in_scope,
            "oos": self.oos,
        })
    }

    fn row(&self) -> String {
        format!(
            "{:.4} / {:.4}",
            self.in_scope_right as f64 / self.in_scope.max(1) as f64,
            self.oos_caught as f64 / self.oos.max(1) as f64
        )
    }
}

/// Trains a new bot on `train` with `config` and scores `test` (gold
/// `None` = out of scope) through the parse decision (`service::classify`)
/// on precomputed vectors of the test texts.
fn small_bot_run(
    state: &AppState,
    tenant: &Tenant,
    name: &str,
    train: &[Row],
    test: &[(String, Option<String>)],
    vectors: &ndarray::Array2<f32>,
    config: &TrainConfig,
) -> anyhow::Result<(OosCounts, Value)> {
    let bot = new_bot(state, tenant.org_id(), name)?;
    let doc = document(train);
    import_document_blocking(state, tenant, bot, &doc).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let outcome = train_bot_blocking(state, tenant, bot, config, &mut |_| {}).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let model = state.nlu.model(&state.db, tenant, bot).map_err(|e| anyhow::anyhow!("{e:?}"))?.context("no model")?;
    let data = state.nlu.data(&state.db, tenant, bot).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let mut counts = OosCounts::default();
    for ((text, gold), vector) in test.iter().zip(vectors.rows()) {
        let language = crate::nlu::language::detect(text).map(|l| l.code);
        let parsed = service::classify(&model, &data, text, vector.as_slice().unwrap_or(&[]), language.as_deref())
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let predicted = if parsed.out_of_scope { None } else { parsed.intent.map(|i| i.name) };
        match gold {
            None => {
                counts.oos += 1;
                counts.oos_caught += usize::from(predicted.is_none());
            }
            Some(g) => {
                counts.in_scope += 1;
                counts.in_scope_right += usize::from(predicted.as_ref() == Some(g));
            }
        }
    }
    let report = &outcome.report;
    Ok((
        counts,
        json!({
            "threshold": report.threshold,
            "similarity_floor": report.similarity_floor,
            "background_examples": report.background_examples,
        }),
    ))
}

fn embed_texts(state: &AppState, texts: &[&str]) -> anyhow::Result<ndarray::Array2<f32>> {
    let embedder = state.models.embedder_blocking().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let mut out = ndarray::Array2::<f32>::zeros((texts.len(), embedder.dim()));
    let bulk = embedder.bulk(texts.len())?;
    for (b, chunk) in texts.chunks(256).enumerate() {
        for (k, v) in bulk.embed(chunk)?.into_iter().enumerate() {
            out.row_mut(b * 256 + k).assign(&ndarray::ArrayView1::from(&v[..]));
        }
    }
    Ok(out)
}

/// `k` examples of every intent, drawn with a fixed seed (splitmix64).
fn k_shot(train: &[Row], k: usize, seed: u64) -> Vec<Row> {
    let mut by_intent: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for r in train {
        if let Some(i) = &r.intent {
            by_intent.entry(i).or_default().push(r);
        }
    }
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut out = Vec::new();
    for rows in by_intent.values_mut() {
        // Fisher–Yates, then the first k.
        for i in (1..rows.len()).rev() {
            let j = usize::try_from(next() % (i as u64 + 1)).unwrap_or(0);
            rows.swap(i, j);
        }
        out.extend(rows.iter().take(k).map(|r| Row {
            text: r.text.clone(),
            intent: r.intent.clone(),
            entities: Vec::new(),
        }));
    }
    out
}

/// The small-bot mode: Braun 2017 trained without its `None` examples
/// (None recall, in-scope accuracy) and CLINC150 k-shot subsets without
/// `oos_train` (in-scope accuracy on test, OOS recall on `oos_test`), each
/// with the `before` and `after` recipes.
#[allow(clippy::too_many_lines, reason = "one benchmark mode, start to finish")]
fn run_small_bots(state: &AppState, tenant: &Tenant, root: &Path, seeds: u64) -> anyhow::Result<Report> {
    let mut rows = Vec::new();
    let mut json_out = serde_json::Map::new();
    let braun = root.join("braun2017");
    if braun.join("askubuntu").join("train.jsonl").exists() {
        let mut corpora = Vec::new();
        for corpus in ["askubuntu", "chatbot", "webapps"] {
            let dir = braun.join(corpus);
            let train: Vec<Row> = read_jsonl(&dir.join("train.jsonl"))?
                .into_iter()
                .filter(|r| r.intent.as_deref().is_some_and(|i| !is_oos_name(i)))
                .collect();
            let test: Vec<(String, Option<String>)> = read_jsonl(&dir.join("test.jsonl"))?
                .into_iter()
                .filter_map(|r| r.intent.map(|i| (r.text, (!is_oos_name(&i)).then_some(i))))
                .collect();
            let texts: Vec<&str> = test.iter().map(|(t, _)| t.as_str()).collect();
            let vectors = embed_texts(state, &texts)?;
            corpora.push((corpus, train, test, vectors));
        }
        let mut braun_json = serde_json::Map::new();
        for (recipe, config) in recipes() {
            let mut total = OosCounts::default();
            let mut per = serde_json::Map::new();
            for (corpus, train, test, vectors) in &corpora {
                let (c, details) =
                    small_bot_run(state, tenant, &format!("braun {corpus} {recipe}"), train, test, vectors, &config)?;
                total.add(c);
                let mut j = c.json();
                j["model"] = details;
                per.insert((*corpus).to_owned(), j);
            }
            rows.push((format!("braun2017 without None, {recipe}: in-scope acc / None recall"), total.row()));
            let mut j = total.json();
            j["corpora"] = Value::Object(per);
            braun_json.insert(recipe.to_owned(), j);
        }
        json_out.insert("braun2017_no_none".into(), Value::Object(braun_json));
    }
    let clinc = root.join("clinc150");
    if clinc.join("train.jsonl").exists() && clinc.join("oos_test.jsonl").exists() {
        let train = read_jsonl(&clinc.join("train.jsonl"))?;
        let mut test: Vec<(String, Option<String>)> = read_jsonl(&clinc.join("test.jsonl"))?
            .into_iter()
            .filter_map(|r| r.intent.map(|i| (r.text, Some(i))))
            .collect();
        test.extend(read_jsonl(&clinc.join("oos_test.jsonl"))?.into_iter().map(|r| (r.text, None)));
        let texts: Vec<&str> = test.iter().map(|(t, _)| t.as_str()).collect();
        let vectors = embed_texts(state, &texts)?;
        for k in [5, 10] {
            let mut shot_json = serde_json::Map::new();
            for (recipe, config) in recipes() {
                let mut total = OosCounts::default();
                let mut runs = Vec::new();
                for seed in 0..seeds.max(1) {
                    let subset = k_shot(&train, k, 17 + seed);
                    let (c, details) = small_bot_run(
                        state,
                        tenant,
                        &format!("clinc150 {k}-shot seed {seed} {recipe}"),
                        &subset,
                        &test,
                        &vectors,
                        &config,
                    )?;
                    total.add(c);
                    let mut j = c.json();
                    j["seed"] = json!(17 + seed);
                    j["model"] = details;
                    runs.push(j);
                }
                rows.push((
                    format!("clinc150 {k}-shot ({seeds} seeds), {recipe}: in-scope acc / OOS recall"),
                    total.row(),
                ));
                let mut j = total.json();
                j["runs"] = json!(runs);
                shot_json.insert(recipe.to_owned(), j);
            }
            json_out.insert(format!("clinc150_{k}_shot"), Value::Object(shot_json));
        }
    }
    if json_out.is_empty() {
        let message = format!("no braun2017/ or clinc150/ under {}; skipping the small-bot mode", root.display());
        return Ok(Report {
            rows: vec![("skipped".into(), message.clone())],
            json: json!({ "skipped": true, "reason": message }),
        });
    }
    Ok(Report { rows, json: json!({ "small_bots": Value::Object(json_out) }) })
}

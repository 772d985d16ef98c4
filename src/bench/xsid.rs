//! `botbuilder bench nlu --data ../shared/data/xsid`: the multilingual NLU
//! bench on xSID (the same requests in many languages; `<lang>/valid.jsonl`
//! and `<lang>/test.jsonl`). For each encoder, side by side:
//! - in-language: a bot per language trained on its `valid.jsonl` through
//!   the training job's function, scored on its `test.jsonl` through the
//!   parse function the API calls;
//! - cross-lingual: the English bot scored on every other language's test
//!   split.
//!
//! Then the single-request parse latency with the multilingual model, and
//! the resident memory its loading added.

#![allow(clippy::cast_precision_loss, reason = "counts become ratios")]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use rusqlite::params;
use serde_json::{Value, json};

use super::nlu::{Row, document, r2, r4, read_jsonl, rss_mb};
use super::runtime::new_bot;
use super::{Report, percentile};
use crate::app::AppState;
use crate::http::Tenant;
use crate::ids::BotId;
use crate::ml::Encoder;
use crate::ml::classifier::TrainConfig;
use crate::nlu::io::import_document_blocking;
use crate::nlu::service::{self, ParseOptions};
use crate::nlu::train::train_bot_blocking;

/// Whether `dir` is laid out as xSID (`en/valid.jsonl`, `en/test.jsonl`).
pub fn is_xsid(dir: &Path) -> bool {
    dir.join("en/valid.jsonl").is_file() && dir.join("en/test.jsonl").is_file()
}

/// The languages under `dir` with both splits, English first; only English
/// and `only` when that is not empty.
fn languages(dir: &Path, only: &[String]) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .map(|r| r.filter_map(|e| e.ok().map(|e| e.path())).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.join("valid.jsonl").is_file() && p.join("test.jsonl").is_file())
        .filter_map(|p| Some((p.file_name()?.to_string_lossy().into_owned(), p)))
        .filter(|(lang, _)| only.is_empty() || lang == "en" || only.contains(lang))
        .collect();
    out.sort_by(|a, b| (a.0 != "en", &a.0).cmp(&(b.0 != "en", &b.0)));
    out
}

/// Accuracy of the bot's active model on `rows` (parsed 8 at a time; an
/// out-of-scope answer counts as wrong: every xSID row has an intent), and
/// the share whose best-ranked intent is right whatever the out-of-scope
/// decision (what the classifier knows before the rejection rules).
async fn accuracy(state: &AppState, tenant: &Tenant, bot: BotId, rows: &[Row]) -> anyhow::Result<(f64, f64)> {
    let texts: Arc<Vec<(String, String)>> =
        Arc::new(rows.iter().filter_map(|r| Some((r.text.clone(), r.intent.clone()?))).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for _ in 0..8 {
        let (state, tenant, texts, next) = (state.clone(), tenant.clone(), texts.clone(), next.clone());
        handles.push(tokio::spawn(async move {
            let options = ParseOptions { log: false, ..ParseOptions::default() };
            let (mut correct, mut ranked_first) = (0_usize, 0_usize);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((text, gold)) = texts.get(i) else { break };
                let parsed = service::parse(&state, &tenant, bot, text, options.clone())
                    .await
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                if !parsed.out_of_scope && parsed.intent.is_some_and(|p| &p.name == gold) {
                    correct += 1;
                }
                if parsed.ranking.first().is_some_and(|p| &p.name == gold) {
                    ranked_first += 1;
                }
            }
            Ok::<_, anyhow::Error>((correct, ranked_first))
        }));
    }
    let (mut correct, mut ranked_first) = (0, 0);
    for h in handles {
        let (c, r) = h.await??;
        correct += c;
        ranked_first += r;
    }
    let n = texts.len().max(1) as f64;
    Ok((correct as f64 / n, ranked_first as f64 / n))
}

/// Accuracy of the English bot on another language's `rows` under each
/// out-of-scope rule alone (background class, confidence threshold,
/// similarity floor): which rule turns right answers away.
async fn rejection_rules(state: &AppState, tenant: &Tenant, bot: BotId, rows: &[Row]) -> anyhow::Result<Value> {
    let err = |e: crate::error::AppError| anyhow::anyhow!("{e:?}");
    let model = state.nlu.model(&state.db, tenant, bot).map_err(err)?.ok_or_else(|| anyhow::anyhow!("no model"))?;
    let embedder = state.models.encoder(Encoder::of_model_id(&model.model.embedder_id)).await.map_err(err)?;
    let (mut background_only, mut threshold_only, mut floor_only, mut n) = (0_usize, 0_usize, 0_usize, 0_usize);
    for r in rows {
        let Some(gold) = &r.intent else { continue };
        n += 1;
        let vector = embedder.embed_one(&r.text).await?;
        let language = crate::nlu::language::detect(&r.text).map(|l| l.code);
        let head = model.model.head_for(language.as_deref());
        let Some(p) = model.model.predict_one(head, &r.text, &vector) else { continue };
        let right = |threshold: Option<f64>, floor: Option<f64>| {
            let d = model.model.decide_with(head, &p.probs, &vector, &|_| true, threshold, floor);
            usize::from(!d.out_of_scope && d.class.is_some_and(|k| &model.model.labels[k] == gold))
        };
        background_only += right(Some(0.0), Some(0.0));
        threshold_only += right(None, Some(0.0));
        floor_only += right(Some(0.0), None);
    }
    let share = |k: usize| r4(k as f64 / n.max(1) as f64);
    Ok(json!({
        "background_only": share(background_only),
        "background_and_threshold": share(threshold_only),
        "background_and_floor": share(floor_only),
    }))
}

/// A bot using `encoder`, trained on `train`.
async fn trained_bot(
    state: &AppState,
    tenant: &Tenant,
    name: &str,
    encoder: Encoder,
    train: &[Row],
) -> anyhow::Result<BotId> {
    let bot = new_bot(state, tenant.org_id(), name)?;
    let settings = json!({ "nlu_encoder": encoder }).to_string();
    state
        .db
        .write_blocking(|tx| Ok(tx.execute("UPDATE bots SET settings = ?2 WHERE id = ?1", params![bot, settings])?))
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let doc = document(train);
    let (st, t2) = (state.clone(), tenant.clone());
    tokio::task::spawn_blocking(move || {
        import_document_blocking(&st, &t2, bot, &doc)?;
        train_bot_blocking(&st, &t2, bot, &TrainConfig::default(), &mut |_| {})
    })
    .await?
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(bot)
}

#[allow(clippy::too_many_lines, reason = "one report, row by row")]
pub async fn run(
    state: &AppState,
    tenant: &Tenant,
    dir: &Path,
    only: &[String],
    latency_samples: usize,
) -> anyhow::Result<Report> {
    let langs = languages(dir, only);
    let mut splits = Vec::new();
    for (lang, folder) in &langs {
        splits.push((lang.clone(), read_jsonl(&folder.join("valid.jsonl"))?, read_jsonl(&folder.join("test.jsonl"))?));
    }
    let mut rows = Vec::new();
    let mut by_encoder = serde_json::Map::new();
    let mut multilingual_rss = 0.0;
    for encoder in Encoder::ALL {
        let rss_before = rss_mb();
        let mut in_language = serde_json::Map::new();
        let mut cross = serde_json::Map::new();
        let mut english_bot = None;
        let started = Instant::now();
        for (lang, train, test) in &splits {
            let bot = trained_bot(state, tenant, &format!("xsid {lang} {}", encoder.name()), encoder, train).await?;
            if encoder == Encoder::Multilingual && multilingual_rss == 0.0 {
                multilingual_rss = rss_mb() - rss_before;
            }
            let intents = train.iter().filter_map(|r| r.intent.as_deref()).collect::<std::collections::BTreeSet<_>>();
            let (acc, ranked) = accuracy(state, tenant, bot, test).await?;
            rows.push((
                format!("{}: {lang} in-language accuracy ({} intents; best-ranked)", encoder.name(), intents.len()),
                format!("{acc:.4} ({ranked:.4})"),
            ));
            in_language.insert(
                lang.clone(),
                json!({ "accuracy": r4(acc), "best_ranked": r4(ranked), "intents": intents.len() }),
            );
            if lang == "en" {
                english_bot = Some(bot);
            } else if let Some(en) = english_bot {
                let (acc, ranked) = accuracy(state, tenant, en, test).await?;
                rows.push((
                    format!("{}: en → {lang} cross-lingual accuracy (best-ranked)", encoder.name()),
                    format!("{acc:.4} ({ranked:.4})"),
                ));
                let rules = rejection_rules(state, tenant, en, test).await?;
                rows.push((
                    format!("{}: en → {lang} accepted by background / +threshold / +floor alone", encoder.name()),
                    format!(
                        "{} / {} / {}",
                        rules["background_only"], rules["background_and_threshold"], rules["background_and_floor"]
                    ),
                ));
                cross.insert(lang.clone(), json!({ "accuracy": r4(acc), "best_ranked": r4(ranked), "rules": rules }));
            }
        }
        let mean = |m: &serde_json::Map<String, Value>, f: &dyn Fn(&Value) -> Option<f64>| {
            let v: Vec<f64> = m.values().filter_map(f).collect();
            v.iter().sum::<f64>() / v.len().max(1) as f64
        };
        let in_mean = mean(&in_language, &|v| v["accuracy"].as_f64());
        let cross_mean = mean(&cross, &|v| v["accuracy"].as_f64());
        let cross_ranked_mean = mean(&cross, &|v| v["best_ranked"].as_f64());
        let in_min_15 = in_language
            .values()
            .filter(|v| v["intents"].as_u64().is_some_and(|n| n >= 15))
            .filter_map(|v| v["accuracy"].as_f64())
            .fold(f64::INFINITY, f64::min);
        rows.push((format!("{}: in-language mean", encoder.name()), format!("{in_mean:.4}")));
        rows.push((
            format!("{}: in-language min (languages with ≥ 15 intents)", encoder.name()),
            format!("{in_min_15:.4}"),
        ));
        rows.push((
            format!("{}: cross-lingual mean (best-ranked)", encoder.name()),
            format!("{cross_mean:.4} ({cross_ranked_mean:.4})"),
        ));
        rows.push((
            format!("{}: minutes (train + score)", encoder.name()),
            format!("{:.1}", started.elapsed().as_secs_f64() / 60.0),
        ));
        by_encoder.insert(
            encoder.name().to_owned(),
            json!({
                "in_language": in_language,
                "cross_lingual": cross,
                "in_language_mean": r4(in_mean),
                "in_language_min_15_intents": r4(in_min_15),
                "cross_lingual_mean": r4(cross_mean),
                "cross_lingual_best_ranked_mean": r4(cross_ranked_mean),
            }),
        );
    }

    // Single-request latency with the multilingual model: German test rows, one at a time.
    let (_, train, test) = splits.iter().find(|(l, _, _)| l == "de").unwrap_or(&splits[0]);
    let bot = trained_bot(state, tenant, "xsid latency", Encoder::Multilingual, train).await?;
    let options = ParseOptions { log: false, ..ParseOptions::default() };
    let mut latencies = Vec::new();
    for r in test.iter().cycle().take(latency_samples.max(1)) {
        let t = Instant::now();
        service::parse(state, tenant, bot, &r.text, options.clone()).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let p50 = percentile(&mut latencies, 50.0);
    let p95 = percentile(&mut latencies, 95.0);
    rows.push(("multilingual-e5-small: parse p50 / p95, one request (ms)".into(), format!("{p50:.2} / {p95:.2}")));
    rows.push(("RSS added by loading multilingual-e5-small (MB)".into(), format!("{multilingual_rss:.1}")));
    let json = json!({
        "encoders": by_encoder,
        "multilingual_parse_p50_ms": r2(p50),
        "multilingual_parse_p95_ms": r2(p95),
        "multilingual_rss_mb": r2(multilingual_rss),
    });
    Ok(Report { rows, json })
}

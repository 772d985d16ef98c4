//! Quality tools: k-fold cross-validation of a bot's data (the
//! `nlu.evaluate` job) and the "misunderstood" inbox of logged parses.

#![allow(
    clippy::cast_precision_loss,
    clippy::many_single_char_names,
    clippy::similar_names,
    clippy::float_cmp,
    reason = "numeric code: counts become ratios, short names follow the formulas, exact float compares are on stored values"
)]

use std::collections::BTreeMap;

use futures_util::future::BoxFuture;
use ndarray::Axis;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::background;
use super::model::{AssignRequest, NluLog, NluLogId};
use super::store;
use super::train::{check_training_rows, embed_examples, run_with_progress};
use crate::app::AppState;
use crate::db::now;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::{Page, PageParams, Tenant};
use crate::ids::{BotId, OrgId};
use crate::jobs::{Enqueue, Job, JobContext, JobError, JobHandler, Queue};
use crate::ml::classifier::{self, Background, TrainConfig, TrainingSet, is_oos_name};
use crate::orgs::audit::{self, AuditEntry};

/// The job kind of evaluation.
pub const EVALUATE_JOB: &str = "nlu.evaluate";
/// The label of out-of-scope predictions in reports.
pub const OUT_OF_SCOPE: &str = "(out of scope)";
/// Confidence under which a logged parse counts as misunderstood.
pub const MISUNDERSTOOD_BELOW: f64 = 0.5;

/// `POST /bots/{bot_id}/nlu/evaluate`.
#[derive(Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluateRequest {
    /// Folds, 2–10 (default 5).
    pub folds: Option<usize>,
}

/// Precision, recall and F1 of one intent.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IntentMetrics {
    pub intent: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
}

/// How often one intent was taken for another.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Confusion {
    pub expected: String,
    pub predicted: String,
    pub count: usize,
}

/// A cross-validation report (the job's result).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EvaluationReport {
    pub folds: usize,
    pub examples: usize,
    pub accuracy: f64,
    pub macro_precision: f64,
    pub macro_recall: f64,
    pub macro_f1: f64,
    pub micro_f1: f64,
    pub per_intent: Vec<IntentMetrics>,
    /// The most frequent confusions, most frequent first.
    pub confusions: Vec<Confusion>,
    /// Every (expected, predicted) count, for the confusion chart.
    pub labels: Vec<String>,
    pub matrix: Vec<Vec<usize>>,
}

#[derive(Debug, Serialize, Deserialize)]
struct EvaluatePayload {
    bot_id: BotId,
    folds: usize,
}

/// Precision/recall/F1 per label, macro and micro averages, confusions.
#[must_use]
pub fn score(gold: &[String], predicted: &[String], folds: usize) -> EvaluationReport {
    let mut labels: Vec<String> = gold.iter().chain(predicted).cloned().collect();
    labels.sort();
    labels.dedup();
    let index = |l: &str| labels.binary_search_by(|x| x.as_str().cmp(l)).unwrap_or(0);
    let mut matrix = vec![vec![0usize; labels.len()]; labels.len()];
    for (g, p) in gold.iter().zip(predicted) {
        matrix[index(g)][index(p)] += 1;
    }
    let mut per_intent = Vec::new();
    let (mut sp, mut sr, mut sf, mut counted) = (0.0, 0.0, 0.0, 0usize);
    let (mut tp_all, mut fp_all, mut fn_all) = (0usize, 0usize, 0usize);
    for (k, label) in labels.iter().enumerate() {
        let tp = matrix[k][k];
        let predicted_k: usize = matrix.iter().map(|row| row[k]).sum();
        let support: usize = matrix[k].iter().sum();
        if label == OUT_OF_SCOPE && support == 0 {
            // Rejections are errors of other intents, not a class of their own.
            continue;
        }
        let precision = if predicted_k > 0 { tp as f64 / predicted_k as f64 } else { 0.0 };
        let recall = if support > 0 { tp as f64 / support as f64 } else { 0.0 };
        let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
        tp_all += tp;
        fp_all += predicted_k - tp;
        fn_all += support - tp;
        if support > 0 {
            sp += precision;
            sr += recall;
            sf += f1;
            counted += 1;
        }
        per_intent.push(IntentMetrics {
            intent: label.clone(),
            precision: r4(precision),
            recall: r4(recall),
            f1: r4(f1),
            support,
        });
    }
    let mut confusions: Vec<Confusion> = Vec::new();
    for (g, row) in matrix.iter().enumerate() {
        for (p, &count) in row.iter().enumerate() {
            if g != p && count > 0 {
                confusions.push(Confusion { expected: labels[g].clone(), predicted: labels[p].clone(), count });
            }
        }
    }
    confusions
        .sort_by(|a, b| b.count.cmp(&a.count).then(a.expected.cmp(&b.expected)).then(a.predicted.cmp(&b.predicted)));
    confusions.truncate(20);
    let n = gold.len().max(1) as f64;
    let correct = gold.iter().zip(predicted).filter(|(g, p)| g == p).count() as f64;
    let micro_p = if tp_all + fp_all > 0 { tp_all as f64 / (tp_all + fp_all) as f64 } else { 0.0 };
    let micro_r = if tp_all + fn_all > 0 { tp_all as f64 / (tp_all + fn_all) as f64 } else { 0.0 };
    let c = counted.max(1) as f64;
    EvaluationReport {
        folds,
        examples: gold.len(),
        accuracy: r4(correct / n),
        macro_precision: r4(sp / c),
        macro_recall: r4(sr / c),
        macro_f1: r4(sf / c),
        micro_f1: r4(if micro_p + micro_r > 0.0 { 2.0 * micro_p * micro_r / (micro_p + micro_r) } else { 0.0 }),
        per_intent,
        confusions,
        labels,
        matrix,
    }
}

fn r4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Cross-validates the bot's data: each fold is predicted by a model
/// trained on the others with the production recipe (thresholds included).
pub fn evaluate_blocking(
    state: &AppState,
    tenant: &Tenant,
    bot: BotId,
    folds: usize,
    progress: &mut dyn FnMut(Value),
) -> AppResult<EvaluationReport> {
    let (rows, encoder) = state.db.read_blocking(|conn| {
        let rows = store::training_rows(conn, tenant, bot)?;
        check_training_rows(conn, tenant, bot, &rows)?;
        Ok((rows, crate::bots::store::nlu_encoder(conn, tenant, bot)?))
    })?;
    let embedder = state.models.encoder_blocking(encoder)?;
    let texts: Vec<&str> = rows.iter().map(|r| r.text.as_str()).collect();
    let labels: Vec<String> = rows.iter().map(|r| r.intent.clone()).collect();
    let total = texts.len();
    let (embeddings, _) = embed_examples(state, tenant, bot, &embedder, &texts, progress)?;
    // Stratified folds: the i-th example of an intent goes to fold i mod k.
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let fold_of: Vec<usize> = labels
        .iter()
        .map(|l| {
            let c = seen.entry(l.as_str()).or_default();
            *c += 1;
            (*c - 1) % folds
        })
        .collect();
    let mut predicted = vec![String::new(); total];
    let config = TrainConfig::default();
    let background_vectors = background::vectors(&state.nlu, &embedder)?;
    for fold in 0..folds {
        progress(json!({ "stage": "fold", "fold": fold + 1, "folds": folds }));
        let train_idx: Vec<usize> = (0..total).filter(|&i| fold_of[i] != fold).collect();
        let test_idx: Vec<usize> = (0..total).filter(|&i| fold_of[i] == fold).collect();
        let mut distinct: Vec<&str> = train_idx.iter().map(|&i| labels[i].as_str()).collect();
        distinct.sort_unstable();
        distinct.dedup();
        if test_idx.is_empty() || distinct.len() < 2 {
            for &i in &test_idx {
                predicted[i] = OUT_OF_SCOPE.into();
            }
            continue;
        }
        let set = TrainingSet {
            texts: train_idx.iter().map(|&i| texts[i]).collect(),
            labels: train_idx.iter().map(|&i| labels[i].clone()).collect(),
            embeddings: embeddings.select(Axis(0), &train_idx),
            background: Some(Background {
                texts: background::corpus(),
                embeddings: background_vectors.as_ref().clone(),
            }),
            cross_lingual_background: None,
        };
        let (model, _) =
            classifier::train(&set, &config, embedder.model_id(), &mut |_, _| {}).map_err(AppError::internal)?;
        let test_texts: Vec<&str> = test_idx.iter().map(|&i| texts[i]).collect();
        let test_emb = embeddings.select(Axis(0), &test_idx);
        for (k, p) in model.predict(&test_texts, &test_emb.view()).into_iter().enumerate() {
            let vector = test_emb.row(k).to_vec();
            let decision = model.decide(&p.probs, &vector, &|_| true, None, None);
            predicted[test_idx[k]] = match decision.class {
                Some(best) if !decision.out_of_scope => model.labels[best].clone(),
                _ => OUT_OF_SCOPE.into(),
            };
        }
    }
    // An explicit out-of-scope intent and a rejection mean the same thing.
    let norm = |l: &String| if is_oos_name(l) { OUT_OF_SCOPE.to_owned() } else { l.clone() };
    let gold: Vec<String> = labels.iter().map(norm).collect();
    let predicted: Vec<String> = predicted.iter().map(norm).collect();
    Ok(score(&gold, &predicted, folds))
}

/// Checks the data and enqueues an evaluation; returns the job.
pub async fn enqueue_evaluation(state: &AppState, tenant: Tenant, bot: BotId, req: EvaluateRequest) -> AppResult<Job> {
    let folds = req.folds.unwrap_or(5);
    if !(2..=10).contains(&folds) {
        return Err(AppError::validation("folds", "must be between 2 and 10"));
    }
    let job = state
        .db
        .write(move |tx| {
            let rows = store::training_rows(tx, &tenant, bot)?;
            check_training_rows(tx, &tenant, bot, &rows)?;
            let id = Queue::enqueue_in(
                tx,
                &Enqueue {
                    max_attempts: 2,
                    ..Enqueue::new(Some(tenant.org_id()), EVALUATE_JOB, json!(EvaluatePayload { bot_id: bot, folds }))
                },
            )?;
            crate::jobs::store::find(tx, &tenant, id)?
                .ok_or_else(|| AppError::new(ErrorCode::JobNotFound, "job vanished"))
        })
        .await?;
    state.jobs.notify();
    Ok(job)
}

/// The `nlu.evaluate` job.
pub struct EvaluateJob;

impl JobHandler for EvaluateJob {
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Result<Value, JobError>> {
        Box::pin(async move {
            let payload: EvaluatePayload = serde_json::from_value(ctx.job.payload.clone())
                .map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
            let org: OrgId =
                ctx.job.org_id.ok_or_else(|| JobError::Permanent("evaluation job without organization".into()))?;
            let tenant = Tenant::system(org, "nlu evaluation job of the organization's bot");
            let state = ctx.state.clone();
            let report = run_with_progress(&ctx, move |progress| {
                evaluate_blocking(&state, &tenant, payload.bot_id, payload.folds, progress)
            })
            .await?;
            Ok(serde_json::to_value(report).unwrap_or(Value::Null))
        })
    }
}

// ---- misunderstood inbox ----

fn log_not_found() -> AppError {
    AppError::new(ErrorCode::NluLogNotFound, "no such logged parse in this bot")
}

/// Unresolved parses that were out of scope or under the confidence bar.
pub async fn misunderstood(state: &AppState, tenant: Tenant, bot: BotId, page: PageParams) -> AppResult<Page<NluLog>> {
    let after = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state
        .db
        .read(move |c| Ok(store::list_misunderstood(c, &tenant, bot, MISUNDERSTOOD_BELOW, after, limit)?))
        .await?;
    Page::from_rows(rows, &page, |l| l.id.0)
}

/// Adds a logged utterance to an intent as an example and marks it resolved.
pub async fn assign(
    state: &AppState,
    tenant: Tenant,
    bot: BotId,
    id: NluLogId,
    req: AssignRequest,
) -> AppResult<NluLog> {
    let log = state
        .db
        .write(move |tx| {
            let log = store::find_log(tx, &tenant, bot, id)?.ok_or_else(log_not_found)?;
            if log.resolved_at.is_some() {
                return Err(AppError::new(ErrorCode::Conflict, "this utterance was already resolved"));
            }
            let intent = store::find_intent(tx, &tenant, bot, req.intent_id)?.ok_or_else(|| {
                AppError::new(ErrorCode::IntentNotFound, "no such intent in this bot")
                    .with_details(json!({ "field": "intent_id" }))
            })?;
            let text: String = log.text.trim().chars().take(super::data::MAX_EXAMPLE_CHARS).collect();
            let example = store::insert_example(tx, &tenant, intent.id, &text, "[]")?;
            store::resolve_log(tx, &tenant, id, Some(intent.id), &now())?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "nlu.log.assigned", "nlu_log", id.0)
                    .with_new(json!({ "intent": intent.name, "example_id": example.map(|e| e.0) })),
            )?;
            store::find_log(tx, &tenant, bot, id)?.ok_or_else(log_not_found)
        })
        .await?;
    state.nlu.invalidate_data(bot);
    Ok(log)
}

/// Marks a logged utterance resolved without adding it anywhere.
pub async fn dismiss(state: &AppState, tenant: Tenant, bot: BotId, id: NluLogId) -> AppResult<NluLog> {
    state
        .db
        .write(move |tx| {
            let log = store::find_log(tx, &tenant, bot, id)?.ok_or_else(log_not_found)?;
            if log.resolved_at.is_some() {
                return Err(AppError::new(ErrorCode::Conflict, "this utterance was already resolved"));
            }
            store::resolve_log(tx, &tenant, id, None, &now())?;
            audit::record(tx, &AuditEntry::by(&tenant, "nlu.log.dismissed", "nlu_log", id.0))?;
            store::find_log(tx, &tenant, bot, id)?.ok_or_else(log_not_found)
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_and_confusions() {
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        let gold = s(&["a", "a", "b", "b", "c"]);
        let pred = s(&["a", "b", "b", "b", OUT_OF_SCOPE]);
        let r = score(&gold, &pred, 5);
        assert_eq!(r.accuracy, 0.6);
        let a = r.per_intent.iter().find(|m| m.intent == "a").expect("a");
        assert_eq!((a.precision, a.recall), (1.0, 0.5));
        let b = r.per_intent.iter().find(|m| m.intent == "b").expect("b");
        assert_eq!((b.precision, b.recall), (0.6667, 1.0));
        assert_eq!(r.confusions[0].count, 1);
        assert!(r.per_intent.iter().all(|m| m.intent != OUT_OF_SCOPE));
        // Rejections are no intent's false positives: P 3/4, R 3/5.
        assert_eq!(r.micro_f1, 0.6667);
    }
}

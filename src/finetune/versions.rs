//! Model versions of every kind: NLU models of a bot (`nlu_intent`, served
//! by the NLU runtime) and remote tuned models (`llm_finetune`, called by
//! agents through their provider). List, compare, activate, mark
//! production, roll back.
//!
//! Activation is per kind: an NLU version goes through
//! `nlu::train::activate`, which swaps the runtime's cached model; a remote
//! version points its fine-tune model at the tuned model's name. A tuned
//! encoder would be a third kind with its own arm in [`activate`].

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::model::{CompareQuery, FineTuneModelId, IntentDelta, TrainedVersion, VersionComparison, VersionId};
use super::service::model_not_found;
use super::store;
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::{Page, PageParams, Tenant};
use crate::ids::BotId;
use crate::nlu::evaluate::{EvaluationReport, OUT_OF_SCOPE, score};
use crate::nlu::model::ModelVersionId;
use crate::orgs::audit::{self, AuditEntry};

fn version_not_found() -> AppError {
    AppError::new(ErrorCode::ModelVersionNotFound, "no such model version")
}

pub async fn get(state: &AppState, tenant: Tenant, id: VersionId) -> AppResult<TrainedVersion> {
    state.db.read(move |c| store::find_version(c, &tenant, id)?.ok_or_else(version_not_found)).await
}

/// The versions of a fine-tune model, newest first.
pub async fn list_of_model(
    state: &AppState,
    tenant: Tenant,
    model: FineTuneModelId,
    page: PageParams,
) -> AppResult<Page<TrainedVersion>> {
    let after = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state
        .db
        .read(move |c| {
            let m = store::find_model(c, &tenant, model)?.ok_or_else(model_not_found)?;
            // An NLU fine-tune model's versions are its bot's NLU models.
            match (m.kind.as_str(), m.bot_id) {
                ("nlu_intent", Some(bot)) => Ok(store::list_bot_versions(c, &tenant, bot, after, limit)?),
                _ => Ok(store::list_versions(c, &tenant, model, after, limit)?),
            }
        })
        .await?;
    Page::from_rows(rows, &page, |v| v.id.0)
}

/// Makes a version the active one of its family and serves it.
pub async fn activate(state: &AppState, tenant: Tenant, id: VersionId) -> AppResult<TrainedVersion> {
    let v = get(state, tenant.clone(), id).await?;
    match (v.kind.as_str(), v.bot_id, v.fine_tune_model_id) {
        ("nlu_intent", Some(bot), _) => {
            crate::nlu::train::activate(state, tenant.clone(), bot, ModelVersionId(id.0)).await?;
        }
        ("llm_finetune", _, Some(model)) => {
            let t = tenant.clone();
            let remote = v.remote_model_id.clone();
            state
                .db
                .write(move |tx| {
                    let before = store::active_sibling(tx, &t, &v)?;
                    store::activate_remote_version(tx, &t, model, id)?;
                    store::set_model_id(tx, &t, model, remote.as_deref())?;
                    audit::record(
                        tx,
                        &AuditEntry::by(&t, "fine_tuning.version.activated", "model_version", id.0)
                            .with_old(json!({ "active_version": before.map(|b| b.version_number) }))
                            .with_new(json!({ "active_version": v.version_number })),
                    )?;
                    Ok(())
                })
                .await?;
        }
        _ => return Err(AppError::new(ErrorCode::Conflict, "this kind of version cannot be activated here")),
    }
    get(state, tenant, id).await
}

/// Marks a version the production one of its family (a label for
/// deployments and A/B tests; serving follows the active version).
pub async fn set_production(state: &AppState, tenant: Tenant, id: VersionId) -> AppResult<TrainedVersion> {
    let t = tenant.clone();
    state
        .db
        .write(move |tx| {
            let v = store::find_version(tx, &t, id)?.ok_or_else(version_not_found)?;
            store::set_production(tx, &t, &v)?;
            audit::record(tx, &AuditEntry::by(&t, "model_version.production", "model_version", id.0))?;
            Ok(())
        })
        .await?;
    get(state, tenant, id).await
}

/// Restores the version that was active before the current one of the
/// family `current` belongs to.
async fn rollback_from(state: &AppState, tenant: Tenant, current: TrainedVersion) -> AppResult<TrainedVersion> {
    let t = tenant.clone();
    let previous = state
        .db
        .read(move |c| {
            store::previous_active(c, &t, &current)?.ok_or_else(|| {
                AppError::new(ErrorCode::Conflict, "no version was active before this one: nothing to roll back to")
            })
        })
        .await?;
    activate(state, tenant, previous.id).await
}

/// Rolls a bot's NLU model back to the previously active version.
pub async fn rollback_bot(state: &AppState, tenant: Tenant, bot: BotId) -> AppResult<TrainedVersion> {
    let t = tenant.clone();
    let current = state
        .db
        .read(move |c| {
            let current = crate::nlu::store::active_version(c, &t, bot)?
                .ok_or_else(|| AppError::new(ErrorCode::NluNotTrained, "the bot has no active NLU model"))?;
            store::find_version(c, &t, VersionId(current.id.0))?.ok_or_else(version_not_found)
        })
        .await?;
    rollback_from(state, tenant, current).await
}

/// Rolls a fine-tune model back to its previously active version.
pub async fn rollback_model(state: &AppState, tenant: Tenant, model: FineTuneModelId) -> AppResult<TrainedVersion> {
    let t = tenant.clone();
    let current = state
        .db
        .read(move |c| {
            let m = store::find_model(c, &t, model)?.ok_or_else(model_not_found)?;
            let active = match (m.kind.as_str(), m.bot_id) {
                ("nlu_intent", Some(bot)) => store::list_bot_versions(c, &t, bot, None, 1_000)?,
                _ => store::list_versions(c, &t, model, None, 1_000)?,
            };
            active
                .into_iter()
                .find(|v| v.is_active)
                .ok_or_else(|| AppError::new(ErrorCode::Conflict, "no version of this model is active"))
        })
        .await?;
    rollback_from(state, tenant, current).await
}

/// Numbers of a metrics document by dotted path (at most three levels).
fn numbers(prefix: &str, v: &Value, depth: usize, out: &mut BTreeMap<String, f64>) {
    match v {
        Value::Number(n) => {
            if let Some(x) = n.as_f64() {
                out.insert(prefix.to_owned(), x);
            }
        }
        Value::Object(map) if depth < 3 => {
            for (k, child) in map {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                numbers(&key, child, depth + 1, out);
            }
        }
        _ => {}
    }
}

/// Two versions of the same family side by side: their metrics, and for
/// NLU versions each one's model run on the same labelled rows (a
/// classification dataset, else the bot's examples) with per-intent
/// precision/recall/F1 and the F1 difference (b − a).
pub async fn compare(
    state: &AppState,
    tenant: Tenant,
    id: VersionId,
    query: CompareQuery,
) -> AppResult<VersionComparison> {
    let a = get(state, tenant.clone(), id).await?;
    let with = query.with.ok_or_else(|| AppError::validation("with", "choose the version to compare with"))?;
    let b = get(state, tenant.clone(), with).await.map_err(|e| e.with_details(json!({ "field": "with" })))?;
    if a.kind != b.kind || a.bot_id != b.bot_id || a.fine_tune_model_id != b.fine_tune_model_id {
        return Err(AppError::validation("with", "compare two versions of the same model"));
    }
    let (mut ma, mut mb) = (BTreeMap::new(), BTreeMap::new());
    numbers("", &a.metrics, 0, &mut ma);
    numbers("", &b.metrics, 0, &mut mb);
    let keys: BTreeSet<&String> = ma.keys().chain(mb.keys()).collect();
    let metrics = keys
        .into_iter()
        .map(|k| {
            let (in_a, in_b) = (ma.get(k), mb.get(k));
            json!({ "name": k, "a": in_a, "b": in_b, "delta": in_a.zip(in_b).map(|(x, y)| y - x) })
        })
        .collect();
    let mut out = VersionComparison {
        a: a.clone(),
        b: b.clone(),
        metrics,
        per_intent: Vec::new(),
        evaluated_on: None,
        dataset_id: None,
        accuracy_a: None,
        accuracy_b: None,
        micro_f1_a: None,
        micro_f1_b: None,
    };
    let (Some(bot), "nlu_intent") = (a.bot_id, a.kind.as_str()) else { return Ok(out) };
    let rows = if let Some(d) = query.dataset_id {
        let (dataset, _, parsed) = super::service::load(state, tenant.clone(), d)
            .await
            .map_err(|e| e.with_details(json!({ "field": "dataset_id" })))?;
        if dataset.kind != super::model::DatasetKind::Classification {
            return Err(AppError::validation("dataset_id", "per-intent figures need a classification dataset"));
        }
        out.evaluated_on = Some("dataset".into());
        out.dataset_id = Some(d);
        parsed
            .rows
            .into_iter()
            .filter_map(|r| match r.data {
                super::dataset::RowData::Labelled { text, label } => Some((text, label)),
                super::dataset::RowData::Chat(_) => None,
            })
            .collect::<Vec<_>>()
    } else {
        let t = tenant.clone();
        out.evaluated_on = Some("bot_examples".into());
        state
            .db
            .read(move |c| {
                Ok(crate::nlu::store::training_rows(c, &t, bot)?.into_iter().map(|r| (r.text, r.intent)).collect())
            })
            .await?
    };
    if rows.is_empty() {
        return Ok(out);
    }
    let (blocking_state, blocking_tenant) = (state.clone(), tenant.clone());
    let (ra, rb) = tokio::task::spawn_blocking(move || -> AppResult<(EvaluationReport, EvaluationReport)> {
        let run = |v: VersionId| evaluate_version(&blocking_state, &blocking_tenant, bot, v, &rows);
        Ok((run(a.id)?, run(b.id)?))
    })
    .await
    .map_err(AppError::internal)??;
    out.accuracy_a = Some(ra.accuracy);
    out.accuracy_b = Some(rb.accuracy);
    out.micro_f1_a = Some(ra.micro_f1);
    out.micro_f1_b = Some(rb.micro_f1);
    out.per_intent = ra
        .per_intent
        .iter()
        .map(|x| {
            let y = rb.per_intent.iter().find(|y| y.intent == x.intent);
            let (precision_b, recall_b, f1_b) = y.map_or((0.0, 0.0, 0.0), |y| (y.precision, y.recall, y.f1));
            IntentDelta {
                intent: x.intent.clone(),
                support: x.support,
                precision_a: x.precision,
                precision_b,
                recall_a: x.recall,
                recall_b,
                f1_a: x.f1,
                f1_b,
                f1_delta: ((f1_b - x.f1) * 10_000.0).round() / 10_000.0,
            }
        })
        .collect();
    Ok(out)
}

/// Runs a stored NLU version on labelled rows (blocking: embeds).
fn evaluate_version(
    state: &AppState,
    tenant: &Tenant,
    bot: BotId,
    id: VersionId,
    rows: &[(String, String)],
) -> AppResult<EvaluationReport> {
    let (bytes, encoder) = state.db.read_blocking(|c| {
        let bytes = crate::nlu::store::version_weights(c, tenant, ModelVersionId(id.0))?
            .ok_or_else(|| AppError::new(ErrorCode::Conflict, "this version's weights were deleted"))?;
        Ok((bytes, crate::bots::store::nlu_encoder(c, tenant, bot)?))
    })?;
    let (intent, _) = crate::nlu::entities::learned::split_model_file(&bytes).map_err(AppError::internal)?;
    let model = crate::ml::classifier::IntentModel::from_bytes(intent).map_err(AppError::internal)?;
    let embedder = state.models.encoder_blocking(encoder)?;
    let texts: Vec<&str> = rows.iter().map(|(t, _)| t.as_str()).collect();
    let (embeddings, _) = crate::nlu::train::embed_examples(state, tenant, bot, &embedder, &texts, &mut |_| {})?;
    let predicted: Vec<String> = model
        .predict(&texts, &embeddings.view())
        .into_iter()
        .enumerate()
        .map(|(k, p)| {
            let vector = embeddings.row(k).to_vec();
            let decision = model.decide(&p.probs, &vector, &|_| true, None, None);
            match decision.class {
                Some(best) if !decision.out_of_scope => model.labels[best].clone(),
                _ => OUT_OF_SCOPE.to_owned(),
            }
        })
        .collect();
    let norm = |l: &str| if crate::ml::classifier::is_oos_name(l) { OUT_OF_SCOPE.to_owned() } else { l.to_owned() };
    let gold: Vec<String> = rows.iter().map(|(_, l)| norm(l)).collect();
    let predicted: Vec<String> = predicted.iter().map(|l| norm(l)).collect();
    Ok(score(&gold, &predicted, 1))
}

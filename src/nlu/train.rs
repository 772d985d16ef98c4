//! Training: the `nlu.train` job embeds the bot's examples (deterministic
//! batches), trains the classifier (`ml::classifier`), stores the weights in
//! `files`, inserts a `model_versions` row and activates it in one
//! transaction, then swaps the serving cache. [`train_bot_blocking`] is the
//! one training function: the job and `botbuilder bench nlu` both call it.

use std::collections::HashMap;
use std::time::Instant;

use futures_util::future::BoxFuture;
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::background;
use super::entities::learned::{LearnedConfig, LearnedReport, TrainText, join_model_file, split_model_file};
use super::entities::{EntityLabeller, EntityMatch, EntitySet, Reference};
use super::model::Annotation;
use super::model::{ModelVersion, ModelVersionId};
use super::runtime::LoadedModel;
use super::store::{self, NewVersion, TrainingRow};
use crate::app::AppState;
use crate::crypto::sha256_hex;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::{Page, PageParams, Tenant};
use crate::ids::{BotId, OrgId};
use crate::jobs::{Enqueue, Job, JobContext, JobError, JobHandler, Queue};
use crate::ml::classifier::{self, Background, IntentModel, TrainConfig, TrainReport, TrainingSet};
use crate::ml::{Embedder, Encoder};
use crate::orgs::audit::{self, AuditEntry};

/// The job kind of training.
pub const TRAIN_JOB: &str = "nlu.train";
/// Texts embedded between two progress updates (each text runs alone, so
/// this does not change the vectors).
const EMBED_BATCH: usize = 512;

/// Payload of the training job.
#[derive(Debug, Serialize, Deserialize)]
pub struct TrainPayload {
    pub bot_id: BotId,
}

/// What a training run produced.
#[derive(Debug, Clone, Serialize)]
pub struct TrainOutcome {
    pub model_version: ModelVersion,
    pub report: TrainReport,
    pub embed_seconds: f64,
}

/// Checks that the rows can train a model: at least two active intents with
/// examples and no active intent without examples.
pub fn check_training_rows(
    conn: &rusqlite::Connection,
    tenant: &Tenant,
    bot: BotId,
    rows: &[TrainingRow],
) -> AppResult<()> {
    let intents = store::all_intents(conn, tenant, bot)?;
    let empty: Vec<String> =
        intents.iter().filter(|i| i.is_active && i.example_count == 0).map(|i| i.name.clone()).collect();
    let mut with_examples: Vec<&str> = rows.iter().map(|r| r.intent.as_str()).collect();
    with_examples.dedup();
    if with_examples.len() < 2 || !empty.is_empty() {
        let message = if empty.is_empty() {
            format!("training needs at least 2 active intents with examples; this bot has {}", with_examples.len())
        } else {
            format!("these active intents have no examples: {}", empty.join(", "))
        };
        return Err(AppError::new(ErrorCode::NluTrainingDataInvalid, message).with_details(json!({
            "intents_with_examples": with_examples.len(),
            "minimum_intents": 2,
            "intents_without_examples": empty,
        })));
    }
    Ok(())
}

/// Hash of what a model is trained from (data and hyperparameters).
fn data_hash(rows: &[TrainingRow], config: &TrainConfig, embedder_id: &str) -> String {
    let config = recipe_for(config, embedder_id);
    hash_with(rows, &serde_json::to_string(&config).unwrap_or_default(), embedder_id)
}

/// What a bot trains with under the embedding model `embedder_id`: `config`,
/// with the cross-lingual head when the encoder is multilingual (an English
/// encoder's vectors of other languages mean little).
#[must_use]
pub fn recipe_for(config: &TrainConfig, embedder_id: &str) -> TrainConfig {
    TrainConfig { cross_lingual_head: Encoder::of_model_id(embedder_id) == Encoder::Multilingual, ..*config }
}

fn hash_with(rows: &[TrainingRow], config_json: &str, embedder_id: &str) -> String {
    let mut text = format!("{embedder_id}\n{config_json}\n");
    for r in rows {
        text.push_str(&r.intent);
        text.push('\t');
        text.push_str(&r.text);
        // Annotations train the entity extractor (rows without any hash as before).
        if !matches!(r.entities.as_str(), "" | "[]") {
            text.push('\t');
            text.push_str(&r.entities);
        }
        text.push('\n');
    }
    sha256_hex(text.as_bytes())
}

/// The hash a model trained now from `rows` would carry (to tell whether the
/// active model is out of date).
#[must_use]
pub fn current_hash(rows: &[TrainingRow], embedder_id: &str) -> String {
    data_hash(rows, &TrainConfig::default(), embedder_id)
}

/// The default training configuration as models trained before out-of-scope
/// detection (model format 1) hashed it: the fields up to `cv_folds`.
const LEGACY_CONFIG_JSON: &str = r#"{"ngrams":{"word":[1,2],"char":[2,5],"min_df":2,"max_terms":20000},"embedding":true,"embedding_weight":3.0,"balanced":true,"c":10.0,"max_iter":100,"refit_max_iter":30,"tol":0.0001,"oos_rejected_right_share":0.01,"cv_max_examples":2000,"cv_folds":5}"#;

/// The hash a model trained from `rows` before out-of-scope detection
/// carries (to tell that such a model's data is unchanged since).
#[must_use]
pub fn legacy_hash(rows: &[TrainingRow], embedder_id: &str) -> String {
    hash_with(rows, LEGACY_CONFIG_JSON, embedder_id)
}

/// The vectors of the bot's example `texts` (N × dim): those cached by an
/// earlier training under the same model, and the others embedded now and
/// cached (bit-identical either way: each text runs alone through the
/// model). Returns them with the number embedded now.
pub fn embed_examples(
    state: &AppState,
    tenant: &Tenant,
    bot: BotId,
    embedder: &Embedder,
    texts: &[&str],
    progress: &mut dyn FnMut(Value),
) -> AppResult<(Array2<f32>, usize)> {
    let key = embedder.vectors_key();
    let dim = embedder.dim();
    let stored = state.db.read_blocking(|conn| Ok(store::example_vectors(conn, tenant, bot, &key)?))?;
    // One vector per text (an intent may share a text with another).
    let mut cached: HashMap<&str, &[f32]> = HashMap::new();
    let mut ids: HashMap<&str, Vec<i64>> = HashMap::new();
    for example in &stored {
        match &example.vector {
            Some(v) if v.len() == dim => {
                cached.insert(&example.text, v);
            }
            _ => ids.entry(&example.text).or_default().push(example.id),
        }
    }
    let mut missing: Vec<&str> = texts.iter().copied().filter(|t| !cached.contains_key(t)).collect();
    missing.sort_unstable();
    missing.dedup();
    let (total, reused) = (missing.len(), texts.iter().filter(|t| cached.contains_key(*t)).count());
    progress(json!({ "stage": "embedding", "done": 0, "total": total, "cached": reused }));
    let fresh = embed_all(embedder, &missing, &mut |done| {
        progress(json!({ "stage": "embedding", "done": done, "total": total, "cached": reused }));
    })
    .map_err(AppError::internal)?;
    let updates: Vec<(i64, &str, &[f32])> = missing
        .iter()
        .zip(fresh.rows())
        .flat_map(|(t, v)| {
            let v = v.to_slice().unwrap_or(&[]);
            ids.get(t).into_iter().flatten().map(move |&id| (id, *t, v))
        })
        .collect();
    if !updates.is_empty() {
        state.db.write_blocking(|tx| Ok(store::cache_vectors(tx, tenant, &key, &updates)?))?;
    }
    let mut out = Array2::<f32>::zeros((texts.len(), dim));
    for (mut row, text) in out.rows_mut().into_iter().zip(texts) {
        if let Some(v) = cached.get(text) {
            row.assign(&ndarray::ArrayView1::from(*v));
        } else if let Ok(i) = missing.binary_search(text) {
            row.assign(&fresh.row(i));
        }
    }
    Ok((out, total))
}

/// The background utterances in one of `languages` or too short to tell.
fn in_languages<'a>(background: &Background<'a>, languages: &[String]) -> Background<'a> {
    let keep: Vec<usize> = (0..background.texts.len())
        .filter(|&i| super::language::detect(background.texts[i]).is_none_or(|d| languages.contains(&d.code)))
        .collect();
    Background {
        texts: keep.iter().map(|&i| background.texts[i]).collect(),
        embeddings: background.embeddings.select(ndarray::Axis(0), &keep),
    }
}

/// Embeds texts in fixed batches on the calling thread.
fn embed_all(embedder: &Embedder, texts: &[&str], progress: &mut dyn FnMut(usize)) -> anyhow::Result<Array2<f32>> {
    let mut out = Array2::<f32>::zeros((texts.len(), embedder.dim()));
    let bulk = embedder.bulk(texts.len())?;
    for (b, chunk) in texts.chunks(EMBED_BATCH).enumerate() {
        let vectors = bulk.embed(chunk)?;
        for (k, v) in vectors.into_iter().enumerate() {
            out.row_mut(b * EMBED_BATCH + k).assign(&ndarray::ArrayView1::from(&v[..]));
        }
        progress((b * EMBED_BATCH + chunk.len()).min(texts.len()));
    }
    Ok(out)
}

/// Trains, stores and activates a new model of the bot (blocking: run it
/// off the async executor). `progress` receives JSON progress updates.
pub fn train_bot_blocking(
    state: &AppState,
    tenant: &Tenant,
    bot: BotId,
    config: &TrainConfig,
    progress: &mut dyn FnMut(Value),
) -> AppResult<TrainOutcome> {
    let (rows, encoder) = state.db.read_blocking(|conn| {
        let rows = store::training_rows(conn, tenant, bot)?;
        check_training_rows(conn, tenant, bot, &rows)?;
        Ok((rows, crate::bots::store::nlu_encoder(conn, tenant, bot)?))
    })?;
    let embedder = state.models.encoder_blocking(encoder)?;
    let texts: Vec<&str> = rows.iter().map(|r| r.text.as_str()).collect();
    let total = texts.len();
    let embed_started = Instant::now();
    let (embeddings, embedded_now) = embed_examples(state, tenant, bot, &embedder, &texts, progress)?;
    let embed_seconds = embed_started.elapsed().as_secs_f64();
    let background_vectors =
        if config.background_weight > 0.0 { Some(background::vectors(&state.nlu, &embedder)?) } else { None };
    let config = &recipe_for(config, embedder.model_id());
    let languages = super::language::main_languages(&texts);
    let background =
        background_vectors.map(|v| Background { texts: background::corpus(), embeddings: v.as_ref().clone() });
    let cross_lingual_background =
        background.as_ref().filter(|_| config.cross_lingual_head).map(|b| in_languages(b, &languages));
    let set = TrainingSet {
        texts: texts.clone(),
        labels: rows.iter().map(|r| r.intent.clone()).collect(),
        embeddings,
        background,
        cross_lingual_background,
    };
    let (mut model, report) = classifier::train(&set, config, embedder.model_id(), &mut |stage, fraction| {
        progress(json!({ "stage": stage, "fraction": fraction, "total": total }));
    })
    .map_err(AppError::internal)?;
    model.languages = languages;
    let (entities, entity_report, entity_seconds) = train_entities(state, tenant, bot, &embedder, &rows, progress)?;
    progress(json!({ "stage": "saving", "total": total }));
    let bytes = join_model_file(model.to_bytes(), entities.as_ref());
    let hash = data_hash(&rows, config, embedder.model_id());
    let metrics = json!({
        "training": report,
        "embed_seconds": embed_seconds,
        "embedded_now": embedded_now,
        "embedder": embedder.model_id(),
        "config": config,
        "weights_bytes": bytes.len(),
        "entities": entity_report,
        "entity_seconds": entity_seconds,
    });
    let score = report.validation_accuracy;
    let version = state.db.write_blocking(|tx| {
        let file =
            store::put_file(tx, tenant, &sha256_hex(&bytes), &bytes, "application/x-botbuilder-nlu", "nlu-model.bin")?;
        let id = store::insert_version(
            tx,
            tenant,
            bot,
            &NewVersion {
                weights_file_id: file,
                metrics: &metrics.to_string(),
                training_data_hash: &hash,
                description: &format!("{} intents, {} examples", report.intents, report.examples),
                performance_score: Some(score),
            },
        )?;
        store::activate_version(tx, tenant, bot, id)?;
        audit::record(
            tx,
            &AuditEntry::by(tenant, "nlu.model.trained", "model_version", id.0)
                .activity()
                .with_new(json!({ "bot_id": bot, "examples": report.examples, "intents": report.intents })),
        )?;
        let data = json!({ "bot_id": bot, "model_version_id": id, "intents": report.intents, "examples": report.examples, "validation_accuracy": score });
        crate::webhooks::emit(tx, tenant.org_id(), crate::webhooks::Event::TrainingFinished, data)?;
        store::find_version(tx, tenant, bot, id)?.ok_or_else(version_not_found)
    })?;
    state.nlu.swap_model(
        bot,
        LoadedModel {
            org_id: tenant.org_id(),
            version_id: version.id,
            version_number: version.version_number,
            model,
            entities,
        },
    );
    Ok(TrainOutcome { model_version: version, report, embed_seconds })
}

/// Trains the learned entity extractor from the rows' annotations (none
/// when no example is annotated): the encoder's token vectors of every
/// example, the bot's list/regex/system matches as gazetteer features.
/// Returns it with its report and the seconds it took (embedding included).
pub fn train_entities(
    state: &AppState,
    tenant: &Tenant,
    bot: BotId,
    embedder: &Embedder,
    rows: &[TrainingRow],
    progress: &mut dyn FnMut(Value),
) -> AppResult<(Option<EntityLabeller>, Option<LearnedReport>, f64)> {
    let started = Instant::now();
    let annotations: Vec<Vec<Annotation>> =
        rows.iter().map(|r| serde_json::from_str(&r.entities).unwrap_or_default()).collect();
    if annotations.iter().all(Vec::is_empty) {
        return Ok((None, None, 0.0));
    }
    let data = state.db.read_blocking(|conn| super::runtime::load_data(conn, tenant, bot))?;
    progress(json!({ "stage": "entities", "total": rows.len() }));
    let (model, report) = train_entities_from(embedder, &data.entities, rows, &annotations)?;
    Ok((model, report, started.elapsed().as_secs_f64()))
}

/// [`train_entities`] on given rows and entities (also `bench nlu`).
pub fn train_entities_from(
    embedder: &Embedder,
    entities: &EntitySet,
    rows: &[TrainingRow],
    annotations: &[Vec<Annotation>],
) -> AppResult<(Option<EntityLabeller>, Option<LearnedReport>)> {
    let texts: Vec<&str> = rows.iter().map(|r| r.text.as_str()).collect();
    let tokens = embedder.bulk(texts.len()).and_then(|b| b.token_vectors(&texts)).map_err(AppError::internal)?;
    let reference = fixed_reference();
    let gazetteers: Vec<Vec<EntityMatch>> = texts
        .iter()
        .map(|t| {
            let (rules, system) = entities.candidates(t, &reference);
            rules.into_iter().chain(system).collect()
        })
        .collect();
    let train: Vec<TrainText<'_>> = texts
        .iter()
        .zip(annotations)
        .zip(tokens.iter().zip(&gazetteers))
        .map(|((text, annotations), (tokens, gazetteer))| TrainText { text, annotations, tokens, gazetteer })
        .collect();
    Ok(match EntityLabeller::train(&train, &LearnedConfig::default()) {
        Some((m, r)) => (Some(m), Some(r)),
        None => (None, None),
    })
}

/// The instant gazetteer features of training read relative dates against
/// (only the kinds matter, so any fixed instant keeps training deterministic).
fn fixed_reference() -> Reference {
    Reference::new(chrono::DateTime::<chrono::Utc>::UNIX_EPOCH.with_timezone(&chrono_tz::UTC))
}

pub(crate) fn version_not_found() -> AppError {
    AppError::new(ErrorCode::ModelVersionNotFound, "no such model version of this bot")
}

/// Checks the data and enqueues training; returns the job.
pub async fn enqueue_training(state: &AppState, tenant: Tenant, bot: BotId) -> AppResult<Job> {
    let job = state
        .db
        .write(move |tx| {
            let rows = store::training_rows(tx, &tenant, bot)?;
            check_training_rows(tx, &tenant, bot, &rows)?;
            let id = Queue::enqueue_in(
                tx,
                &Enqueue {
                    max_attempts: 2,
                    ..Enqueue::new(Some(tenant.org_id()), TRAIN_JOB, json!(TrainPayload { bot_id: bot }))
                },
            )?;
            crate::jobs::store::find(tx, &tenant, id)?
                .ok_or_else(|| AppError::new(ErrorCode::JobNotFound, "job vanished"))
        })
        .await?;
    state.jobs.notify();
    Ok(job)
}

/// Runs a blocking NLU task off the executor, forwarding its progress to the job.
pub(crate) async fn run_with_progress<T: Send + 'static>(
    ctx: &JobContext,
    task: impl FnOnce(&mut dyn FnMut(Value)) -> AppResult<T> + Send + 'static,
) -> Result<T, JobError> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let mut handle = tokio::task::spawn_blocking(move || {
        let mut send = |v: Value| {
            let _ = tx.send(v);
        };
        task(&mut send)
    });
    let mut last_sent: Option<Instant> = None;
    loop {
        tokio::select! {
            result = &mut handle => {
                return result.map_err(|e| JobError::Retry(anyhow::anyhow!("task panicked: {e}")))?.map_err(JobError::from);
            }
            Some(progress) = rx.recv() => {
                // At most a few progress writes per second.
                if last_sent.is_none_or(|t| t.elapsed() > std::time::Duration::from_millis(250)) {
                    last_sent = Some(Instant::now());
                    ctx.progress(progress).await?;
                }
            }
        }
    }
}

/// The `nlu.train` job.
pub struct TrainJob;

impl JobHandler for TrainJob {
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Result<Value, JobError>> {
        Box::pin(async move {
            let payload: TrainPayload = serde_json::from_value(ctx.job.payload.clone())
                .map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
            let org: OrgId =
                ctx.job.org_id.ok_or_else(|| JobError::Permanent("training job without organization".into()))?;
            let tenant = Tenant::system(org, "nlu training job of the organization's bot");
            let state = ctx.state.clone();
            let outcome = run_with_progress(&ctx, move |progress| {
                train_bot_blocking(&state, &tenant, payload.bot_id, &TrainConfig::default(), progress)
            })
            .await?;
            Ok(json!({
                "model_version_id": outcome.model_version.id,
                "version_number": outcome.model_version.version_number,
                "metrics": outcome.model_version.metrics,
            }))
        })
    }
}

pub async fn list_versions(
    state: &AppState,
    tenant: Tenant,
    bot: BotId,
    page: PageParams,
) -> AppResult<Page<ModelVersion>> {
    let after = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state.db.read(move |c| Ok(store::list_versions(c, &tenant, bot, after, limit)?)).await?;
    Page::from_rows(rows, &page, |v| v.id.0)
}

/// Makes a previous version the active one and serves it.
pub async fn activate(state: &AppState, tenant: Tenant, bot: BotId, id: ModelVersionId) -> AppResult<ModelVersion> {
    let t = tenant.clone();
    let (version, bytes) = state
        .db
        .write(move |tx| {
            let before = store::find_version(tx, &t, bot, id)?.ok_or_else(version_not_found)?;
            let bytes = store::version_weights(tx, &t, id)?
                .ok_or_else(|| AppError::new(ErrorCode::Conflict, "this version's weights were deleted"))?;
            let previous = store::active_version(tx, &t, bot)?;
            store::activate_version(tx, &t, bot, id)?;
            audit::record(
                tx,
                &AuditEntry::by(&t, "nlu.model.activated", "model_version", id.0)
                    .activity()
                    .with_old(json!({
                        "active_version": previous.map(|p| p.version_number)
                    }))
                    .with_new(json!({ "active_version": before.version_number })),
            )?;
            Ok((store::find_version(tx, &t, bot, id)?.ok_or_else(version_not_found)?, bytes))
        })
        .await?;
    let (intent, entities) = split_model_file(&bytes).map_err(AppError::internal)?;
    let model = IntentModel::from_bytes(intent).map_err(AppError::internal)?;
    state.nlu.swap_model(
        bot,
        LoadedModel {
            org_id: tenant.org_id(),
            version_id: version.id,
            version_number: version.version_number,
            model,
            entities,
        },
    );
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_legacy_configuration_is_todays_without_the_out_of_scope_fields() {
        let today = serde_json::to_string(&TrainConfig::default()).expect("json");
        let new_fields = r#","background_weight":1.0,"background_max_similarity":0.8,"similarity_floor":true}"#;
        assert!(today.ends_with(new_fields), "{today}");
        assert_eq!(format!("{}}}", &today[..today.len() - new_fields.len()]), LEGACY_CONFIG_JSON);
    }
}

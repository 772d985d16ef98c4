//! The NLU service other domains call (the conversation runtime in
//! particular). This surface is stable:
//!
//! ```ignore
//! // Intent, confidence, out-of-scope flag, ranking and entities of a text.
//! nlu::service::parse(&state, &tenant, bot_id, "book a table for 2 tomorrow", ParseOptions::default()).await
//!     -> AppResult<ParseResult>
//! // Entities only (no trained model needed), e.g. to fill slots.
//! nlu::service::extract_entities(&state, &tenant, bot_id, text, &options).await -> AppResult<Vec<EntityMatch>>
//! // One system entity kind, e.g. to validate a slot that expects a date.
//! nlu::service::extract_system_entity(SystemKind::Date, text, &options) -> Vec<EntityMatch>
//! ```
//!
//! Errors callers should expect from `parse`: `nlu_not_trained` (409) when
//! the bot has no trained model — treat it as "no intent" and carry on with
//! [`extract_entities`] if entities are needed; `nlu_model_incompatible`
//! (409) after the operator changed the embedding model; `validation_failed`
//! (422, field `text`) for empty or over-long text; `models_unavailable`
//! (503) while the embedding model loads; `overloaded` (503) when the
//! embedding queue is full (`ml.queue_max_texts`).
//!
//! Every successful `parse` is logged to `nlu_logs` in the background
//! (unless `ParseOptions::log` is false) without delaying the answer.

use std::time::Instant;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::json;

use super::entities::{EntityMatch, Reference, SystemKind, extract_system};
use super::model::{IntentScore, ModelVersionId, ParseRequest, ParseResult};
use super::runtime::{BotData, LoadedModel};
use super::store::LogRow;
use crate::app::AppState;
use crate::db::run_blocking;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::Tenant;
use crate::ids::BotId;
use crate::ml::Encoder;

/// Longest text a parse accepts, in characters.
pub const MAX_PARSE_CHARS: usize = 2000;
/// Intents in a parse's ranking.
pub const RANKING_SIZE: usize = 5;

/// Options of a parse.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// The instant relative dates resolve against (default: now).
    pub reference_time: Option<DateTime<Utc>>,
    /// The user's time zone (default UTC).
    pub timezone: Option<Tz>,
    /// Stored with the log row (`nlu_logs.user_session_id`), e.g. a conversation id.
    pub session: Option<String>,
    /// Write the parse to `nlu_logs` (default true).
    pub log: bool,
    /// Parse with this model version of the bot instead of the active one
    /// (an A/B experiment's variant).
    pub model_version: Option<ModelVersionId>,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions { reference_time: None, timezone: None, session: None, log: true, model_version: None }
    }
}

impl ParseOptions {
    /// Options from an API request, validating the time zone and reference time.
    pub fn from_request(req: &ParseRequest) -> AppResult<ParseOptions> {
        let timezone = req
            .timezone
            .as_deref()
            .map(|tz| {
                tz.parse::<Tz>()
                    .map_err(|_| AppError::validation("timezone", "must be an IANA time zone such as Europe/Berlin"))
            })
            .transpose()?;
        let reference_time = req
            .reference_time
            .as_deref()
            .map(|t| {
                DateTime::parse_from_rfc3339(t)
                    .map(|d| d.with_timezone(&Utc))
                    .map_err(|_| AppError::validation("reference_time", "must be an RFC 3339 timestamp"))
            })
            .transpose()?;
        Ok(ParseOptions { reference_time, timezone, session: None, log: true, model_version: None })
    }

    /// The reference instant in the user's time zone.
    #[must_use]
    pub fn reference(&self) -> Reference {
        let tz = self.timezone.unwrap_or(chrono_tz::UTC);
        Reference::new(self.reference_time.unwrap_or_else(Utc::now).with_timezone(&tz))
    }
}

/// Checks a text to parse: not blank, at most [`MAX_PARSE_CHARS`].
pub fn check_text(text: &str) -> AppResult<()> {
    if text.trim().is_empty() {
        return Err(AppError::validation("text", "must not be empty"));
    }
    if text.chars().count() > MAX_PARSE_CHARS {
        return Err(AppError::validation("text", format!("must be at most {MAX_PARSE_CHARS} characters"))
            .with_details(json!({ "field": "text", "limit": MAX_PARSE_CHARS })));
    }
    Ok(())
}

fn not_trained() -> AppError {
    AppError::new(ErrorCode::NluNotTrained, "this bot has no trained NLU model yet; train it first")
}

/// The bot's active model, from the cache or (off the executor) the database.
pub(crate) async fn active_model(
    state: &AppState,
    tenant: &Tenant,
    bot: BotId,
) -> AppResult<Option<std::sync::Arc<LoadedModel>>> {
    if let Some(slot) = state.nlu.cached_model(tenant.org_id(), bot) {
        return Ok(slot);
    }
    let (runtime, db, tenant) = (state.nlu.clone(), state.db.clone(), tenant.clone());
    run_blocking(move || runtime.model(&db, &tenant, bot)).await
}

/// A model version of the bot (not necessarily the active one), from the
/// cache of versions or the database; `None` when it has no weights.
async fn version_model(
    state: &AppState,
    tenant: &Tenant,
    bot: BotId,
    version: ModelVersionId,
) -> AppResult<Option<std::sync::Arc<LoadedModel>>> {
    if let Some(m) = state.nlu.cached_version(tenant.org_id(), version) {
        return Ok(Some(m));
    }
    let (runtime, db, tenant) = (state.nlu.clone(), state.db.clone(), tenant.clone());
    run_blocking(move || runtime.version(&db, &tenant, bot, version)).await
}

/// Whether the bot has this NLU model version with weights.
pub fn has_version(conn: &rusqlite::Connection, tenant: &Tenant, bot: BotId, id: i64) -> AppResult<bool> {
    let id = ModelVersionId(id);
    Ok(super::store::find_version(conn, tenant, bot, id)?.is_some()
        && super::store::version_weights(conn, tenant, id)?.is_some())
}

async fn bot_data(state: &AppState, tenant: &Tenant, bot: BotId) -> AppResult<std::sync::Arc<BotData>> {
    if let Some(data) = state.nlu.cached_data(tenant.org_id(), bot) {
        return Ok(data);
    }
    let (runtime, db, tenant) = (state.nlu.clone(), state.db.clone(), tenant.clone());
    run_blocking(move || runtime.data(&db, &tenant, bot)).await
}

/// Parses a text with the bot's active model: intent with calibrated
/// confidence, out-of-scope decision, top-5 ranking and entities.
pub async fn parse(
    state: &AppState,
    tenant: &Tenant,
    bot: BotId,
    text: &str,
    options: ParseOptions,
) -> AppResult<ParseResult> {
    let started = Instant::now();
    check_text(text)?;
    let model = match options.model_version {
        Some(version) => version_model(state, tenant, bot, version).await?,
        None => active_model(state, tenant, bot).await?,
    }
    .ok_or_else(not_trained)?;
    let data = bot_data(state, tenant, bot).await?;
    // The encoder the model was trained with (the bot's may have changed
    // since; its retraining is queued).
    let embedder = state.models.encoder(Encoder::of_model_id(&model.model.embedder_id)).await?;
    if model.model.embedding && (embedder.dim() != model.model.dim || embedder.model_id() != model.model.embedder_id) {
        return Err(AppError::new(
            ErrorCode::NluModelIncompatible,
            format!(
                "the model was trained with the embedding model {} but {} is loaded; train the bot again",
                model.model.embedder_id,
                embedder.model_id()
            ),
        ));
    }
    // A parse is interactive: refused at once when the model's queue is full.
    let vector = embedder.try_embed_one(text).await.map_err(|e| {
        if e.is::<crate::ml::embedder::Overloaded>() {
            crate::conversations::runtime::overloaded(&state.config.runtime, "inference_queue_full", &e.to_string())
        } else {
            AppError::internal(e)
        }
    })?;
    let language = super::language::detect(text);
    let mut result = classify(&model, &data, text, &vector, language.as_ref().map(|l| l.code.as_str()))?;
    result.detected_language = language;
    result.entities = entities_with_model(&embedder, &model, &data, text, &options.reference()).await?;
    result.latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    state.nlu.metrics().parses.inc();
    state.nlu.metrics().parse_seconds.observe(started.elapsed().as_secs_f64());
    if options.log {
        state.nlu.log(LogRow {
            org_id: tenant.org_id(),
            bot_id: bot,
            text: text.to_owned(),
            intent_name: result.intent.as_ref().map(|i| i.name.clone()),
            confidence: result.intent.as_ref().or(result.ranking.first()).map_or(0.0, |i| i.confidence),
            out_of_scope: result.out_of_scope,
            ranking: serde_json::to_string(&result.ranking).unwrap_or_else(|_| "[]".into()),
            entities: serde_json::to_string(&result.entities).unwrap_or_else(|_| "[]".into()),
            model_version_id: model.version_id,
            latency_ms: result.latency_ms,
            session: options.session,
            language: result.detected_language.clone(),
        });
    }
    Ok(result)
}

/// Intent decision for one embedded text in `language` (detected, if it
/// could be told; it picks the model's head) with entities left empty: the
/// model's decision (`IntentModel::decide_with`) with the intent's threshold
/// override and the bot's similarity floor override. The implicit
/// background class is never ranked.
pub(crate) fn classify(
    model: &LoadedModel,
    data: &BotData,
    text: &str,
    vector: &[f32],
    language: Option<&str>,
) -> AppResult<ParseResult> {
    let head = model.model.head_for(language);
    let prediction = model
        .model
        .predict_one(head, text, vector)
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("no prediction")))?;
    let labels = &model.model.labels;
    let active = |k: usize| data.intents.get(&labels[k]).is_none_or(|s| s.active);
    let mut order: Vec<usize> =
        (0..prediction.probs.len()).filter(|&k| Some(k) != model.model.background_class && active(k)).collect();
    order.sort_by(|&a, &b| prediction.probs[b].total_cmp(&prediction.probs[a]).then(a.cmp(&b)));
    let ranking: Vec<IntentScore> = order
        .iter()
        .take(RANKING_SIZE)
        .map(|&k| IntentScore { name: labels[k].clone(), confidence: round4(prediction.probs[k]) })
        .collect();
    let threshold = order.first().and_then(|&k| data.intents.get(&labels[k])).and_then(|s| s.threshold);
    let decision = model.model.decide_with(head, &prediction.probs, vector, &active, threshold, data.similarity_floor);
    let out_of_scope = decision.out_of_scope;
    Ok(ParseResult {
        intent: if out_of_scope { None } else { ranking.first().cloned() },
        out_of_scope,
        ranking,
        entities: Vec::new(),
        model_version: model.version_number,
        model_version_id: model.version_id,
        encoder: Encoder::of_model_id(&model.model.embedder_id),
        latency_ms: 0.0,
        detected_language: None,
    })
}

fn round4(p: f32) -> f64 {
    (f64::from(p) * 10_000.0).round() / 10_000.0
}

/// The entities of a text with the bot's list, regex and system entities
/// (no trained model needed).
pub async fn extract_entities(
    state: &AppState,
    tenant: &Tenant,
    bot: BotId,
    text: &str,
    options: &ParseOptions,
) -> AppResult<Vec<EntityMatch>> {
    check_text(text)?;
    let data = bot_data(state, tenant, bot).await?;
    // The learned extractor when the bot has a trained model with one.
    let model = active_model(state, tenant, bot).await?;
    match model {
        Some(model) if model.entities.is_some() => {
            let embedder = state.models.encoder(Encoder::of_model_id(&model.model.embedder_id)).await?;
            entities_with_model(&embedder, &model, &data, text, &options.reference()).await
        }
        _ => Ok(data.entities.extract(text, &options.reference())),
    }
}

/// The entities of a text with the bot's list, regex and system entities
/// and, when the model has one, its learned extractor (one more encoder
/// pass for the per-token vectors, off the executor).
async fn entities_with_model(
    embedder: &crate::ml::Embedder,
    model: &std::sync::Arc<LoadedModel>,
    data: &std::sync::Arc<BotData>,
    text: &str,
    reference: &Reference,
) -> AppResult<Vec<EntityMatch>> {
    if model.entities.is_none() || embedder.model_id() != model.model.embedder_id {
        return Ok(data.entities.extract(text, reference));
    }
    let (embedder, model, data, text, reference) =
        (embedder.clone(), model.clone(), data.clone(), text.to_owned(), *reference);
    run_blocking(move || {
        let tokens = embedder.token_vectors_blocking(&[text.as_str()]).map_err(AppError::internal)?;
        let tokens = tokens.into_iter().next().unwrap_or_default();
        let learned = model.entities.as_ref().map(|l| (l, &tokens));
        Ok(data.entities.extract_with(&text, &reference, learned))
    })
    .await
}

/// The system entities of one kind in a text (for slot validation).
#[must_use]
pub fn extract_system_entity(kind: SystemKind, text: &str, options: &ParseOptions) -> Vec<EntityMatch> {
    extract_system(kind, text, &options.reference())
}

/// Of `names` (entities a flow uses), those the bot can never find: not a
/// list, regex or system entity of the bot, not a system entity kind, and
/// annotated in none of its examples (so no learned extractor knows them).
pub fn unlearned_entities(
    conn: &rusqlite::Connection,
    tenant: &Tenant,
    bot: BotId,
    names: &[&str],
) -> AppResult<Vec<String>> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let defined: std::collections::HashSet<String> =
        super::store::all_entities(conn, tenant, bot)?.into_iter().map(|e| e.name).collect();
    let annotated: std::collections::HashSet<String> = super::store::all_examples(conn, tenant, bot)?
        .into_iter()
        .flat_map(|(_, x)| x.entities.into_iter().map(|a| a.entity))
        .collect();
    Ok(names
        .iter()
        .filter(|n| !defined.contains(**n) && !annotated.contains(**n) && SystemKind::parse(n).is_none())
        .map(|n| (*n).to_owned())
        .collect())
}

//! The bridge to NLU (`crate::nlu::service`): a message's intent and
//! entities, entity extraction for entity-typed questions, and the intents
//! a bot has (to report flows naming deleted intents).

use std::collections::HashSet;

use serde_json::Value;

use crate::app::AppState;
use crate::config::OverloadPolicy;
use crate::error::{AppResult, ErrorCode};
use crate::flows::engine::{EntityHit, Nlu};
use crate::http::Tenant;
use crate::ids::BotId;
use crate::nlu::entities::{EntityMatch, SystemKind};
use crate::nlu::service::{self as nlu, ParseOptions};

fn hit(m: EntityMatch) -> EntityHit {
    let value = if m.resolved.is_null() { Value::String(m.value.clone()) } else { m.resolved };
    EntityHit { entity: m.entity, value, text: m.value, role: m.role }
}

/// The NLU result of a message. A bot without a trained model gets no
/// intent (the router's out-of-scope branch) and, when its flows use
/// entities, the entities its list, regex and system entities find.
///
/// When the model's queue is full (`overloaded`) the turn is refused, or
/// with `ml.overload = "keywords"` understood without the model: no
/// intent, the entities found without it, and the flow's keywords.
pub async fn parse(
    state: &AppState,
    tenant: &Tenant,
    bot: BotId,
    text: &str,
    conversation: i64,
    needs_entities: bool,
    model_version: Option<i64>,
) -> AppResult<Option<Nlu>> {
    let started = std::time::Instant::now();
    let options = ParseOptions {
        session: Some(conversation.to_string()),
        model_version: model_version.map(crate::nlu::model::ModelVersionId),
        ..ParseOptions::default()
    };
    match nlu::parse(state, tenant, bot, text, options.clone()).await {
        Err(e) if e.code() == ErrorCode::Overloaded && state.config.ml.overload == OverloadPolicy::Busy => {
            state.metrics.turns_shed.with_label_values(&["inference_queue_full"]).inc();
            Err(e)
        }
        Ok(r) => Ok(Some(Nlu {
            confidence: r.intent.as_ref().or(r.ranking.first()).map_or(0.0, |i| i.confidence),
            intent: r.intent.map(|i| i.name),
            entities: r.entities.into_iter().map(hit).collect(),
            ranking: r.ranking.into_iter().map(|i| (i.name, i.confidence)).collect(),
            note: None,
            encoder: Some(r.encoder.name().to_owned()),
            duration_ms: r.latency_ms,
            detected_language: r.detected_language.map(|l| l.code),
        })),
        Err(e) => {
            let note = match e.code() {
                ErrorCode::NluNotTrained => "the bot has no trained NLU model: no intent".to_owned(),
                ErrorCode::Overloaded => {
                    state.metrics.turns_shed.with_label_values(&["inference_keywords"]).inc();
                    "keyword-only: the model's queue is full (ml.overload = \"keywords\")".to_owned()
                }
                ErrorCode::ValidationFailed => format!("not parsed: {}", e.message()),
                _ => {
                    tracing::warn!(error = ?e, bot = bot.0, "NLU parse failed; the turn goes on without intent");
                    format!("NLU unavailable: {}", e.message())
                }
            };
            let entities = if needs_entities && e.code() != ErrorCode::ValidationFailed {
                nlu::extract_entities(state, tenant, bot, text, &options).await.unwrap_or_default()
            } else {
                Vec::new()
            };
            Ok(Some(Nlu {
                intent: None,
                confidence: 0.0,
                entities: entities.into_iter().map(hit).collect(),
                ranking: Vec::new(),
                note: Some(note),
                encoder: None,
                duration_ms: started.elapsed().as_secs_f64() * 1000.0,
                // Detection needs no model: a bot still routes per language.
                detected_language: crate::nlu::language::detect(text).map(|l| l.code),
            }))
        }
    }
}

/// A value of `entity` (one of the bot's entities, or a system entity such
/// as `email`, `number`, `date`) in `text`.
pub async fn extract_entity(
    state: &AppState,
    tenant: &Tenant,
    bot: BotId,
    entity: &str,
    text: &str,
) -> Result<Option<Value>, String> {
    let options = ParseOptions { log: false, ..ParseOptions::default() };
    let found = nlu::extract_entities(state, tenant, bot, text, &options).await.map_err(|e| e.message().to_owned())?;
    if let Some(m) = found.into_iter().find(|m| m.entity == entity) {
        return Ok(Some(hit(m).value));
    }
    if let Some(kind) = SystemKind::parse(entity) {
        return Ok(nlu::extract_system_entity(kind, text, &options).into_iter().next().map(|m| hit(m).value));
    }
    Ok(None)
}

/// The bot's active intents.
pub fn known_intents(conn: &rusqlite::Connection, tenant: &Tenant, bot: BotId) -> AppResult<Option<HashSet<String>>> {
    Ok(Some(
        crate::nlu::store::all_intents(conn, tenant, bot)?
            .into_iter()
            .filter(|i| i.is_active)
            .map(|i| i.name)
            .collect(),
    ))
}

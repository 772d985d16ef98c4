//! Retraining after the embedding model changes. A trained intent model only
//! fits the vectors of the embedder it was trained with, so after an upgrade
//! that ships a new embedded model (or an operator's `ml.model_path`) parsing
//! refuses those models (`nlu_model_incompatible`). At start the server
//! enqueues one training job per bot whose active model was trained with
//! another embedder and whose training data is unchanged since: retraining
//! the same data is what the owner already published. Bots with untrained
//! edits are left to their owners, since training would publish the edits.
//!
//! The same happens once for models trained before out-of-scope detection
//! (model format 1, no background class or similarity floor; they still
//! load and serve as before): retraining their unchanged data gives the
//! bot out-of-scope detection without its owner doing anything.

use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::store;
use super::train::{TRAIN_JOB, TrainPayload, current_hash, legacy_hash};
use crate::app::AppState;
use crate::error::AppResult;
use crate::http::Tenant;
use crate::ids::{BotId, JobId, OrgId};
use crate::jobs::{Enqueue, Queue};
use crate::ml::Encoder;

/// A bot whose active model was trained with another embedder, or before
/// out-of-scope detection.
struct StaleModel {
    org: OrgId,
    bot: BotId,
    embedder: String,
    /// Trained before out-of-scope detection (no `background_examples` figure).
    legacy: bool,
}

/// Enqueues the retraining of every bot whose active model was trained with
/// an embedder other than `embedder_id` from the data the bot still has.
/// Idempotent: a bot is retrained once per embedder, across restarts and
/// processes (the job's idempotency key). Returns the retraining jobs.
pub async fn enqueue_for_embedder(state: &AppState, embedder_id: &str) -> AppResult<Vec<JobId>> {
    let current = embedder_id.to_owned();
    let outdated: Vec<StaleModel> = state
        .db
        .read(move |c| {
            let mut stmt = c.prepare(
                "SELECT organization_id, bot_id, ifnull(json_extract(metrics, '$.embedder'), ''),
                        json_extract(metrics, '$.training.background_examples') IS NULL
                 FROM model_versions
                 WHERE kind = 'nlu_intent' AND is_active = 1
                   -- the multilingual encoder is loaded only when used: its bots are not
                   -- retrained with the built-in model
                   AND ifnull(json_extract(metrics, '$.embedder'), '') NOT LIKE 'multilingual-e5-small@%'
                   AND (ifnull(json_extract(metrics, '$.embedder'), '') <> ?1
                        OR json_extract(metrics, '$.training.background_examples') IS NULL)
                 ORDER BY id",
            )?;
            let rows = stmt
                .query_map([&current], |r| {
                    Ok(StaleModel { org: r.get(0)?, bot: r.get(1)?, embedder: r.get(2)?, legacy: r.get(3)? })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await?;
    let mut jobs = Vec::new();
    for StaleModel { org, bot, embedder: trained_with, legacy } in outdated {
        let tenant = Tenant::system(org, "retraining after the embedding model or the training recipe changed");
        let key = if trained_with == embedder_id {
            format!("nlu.retrain-oos:{}:{embedder_id}", bot.0)
        } else {
            format!("nlu.retrain:{}:{embedder_id}", bot.0)
        };
        let from = trained_with.clone();
        let job = state
            .db
            .write(move |tx| {
                let Some(active) = store::active_version(tx, &tenant, bot)? else { return Ok(None) };
                let rows = store::training_rows(tx, &tenant, bot)?;
                let unchanged = active.training_data_hash == Some(current_hash(&rows, &from))
                    || (legacy && active.training_data_hash == Some(legacy_hash(&rows, &from)));
                if !unchanged {
                    return Ok(None);
                }
                let job = Enqueue {
                    max_attempts: 2,
                    idempotency_key: Some(key),
                    ..Enqueue::new(Some(org), TRAIN_JOB, json!(TrainPayload { bot_id: bot }))
                };
                Queue::enqueue_in(tx, &job).map(Some)
            })
            .await?;
        if let Some(job) = job {
            tracing::info!(bot = bot.0, from = %trained_with, to = embedder_id, legacy, "retraining an NLU model for a new embedding model or out-of-scope detection");
            jobs.push(job);
        }
    }
    if !jobs.is_empty() {
        state.jobs.notify();
    }
    Ok(jobs)
}

/// Enqueues the retraining of a bot whose NLU encoder just changed (its
/// language or `settings.nlu_encoder`), when its active model was trained
/// with another encoder from the data the bot still has — as after a model
/// upgrade; edited data is left to the owner. Runs in the caller's
/// transaction; the caller notifies the job workers.
pub fn enqueue_for_encoder_change(
    tx: &rusqlite::Connection,
    tenant: &Tenant,
    bot: BotId,
    encoder: Encoder,
) -> AppResult<Option<JobId>> {
    let Some(active) = store::active_version(tx, tenant, bot)? else { return Ok(None) };
    let trained_with = active.metrics["embedder"].as_str().unwrap_or_default().to_owned();
    if Encoder::of_model_id(&trained_with) == encoder {
        return Ok(None);
    }
    let rows = store::training_rows(tx, tenant, bot)?;
    if active.training_data_hash != Some(current_hash(&rows, &trained_with)) {
        return Ok(None);
    }
    let job = Enqueue {
        max_attempts: 2,
        idempotency_key: Some(format!("nlu.retrain-encoder:{}:{}:{}", bot.0, active.id.0, encoder.name())),
        ..Enqueue::new(Some(tenant.org_id()), TRAIN_JOB, json!(TrainPayload { bot_id: bot }))
    };
    tracing::info!(bot = bot.0, from = %trained_with, to = encoder.name(), "retraining an NLU model for its new encoder");
    Queue::enqueue_in(tx, &job).map(Some)
}

/// Waits for the embedding model, then enqueues the retraining its change
/// calls for (nothing when local models are off or fail to load).
#[must_use]
pub fn spawn_after_models_load(state: &AppState, shutdown: &CancellationToken) -> tokio::task::JoinHandle<()> {
    let (state, shutdown) = (state.clone(), shutdown.clone());
    tokio::spawn(async move {
        let embedder = tokio::select! {
            () = shutdown.cancelled() => return,
            loaded = state.models.embedder() => match loaded {
                Ok(embedder) => embedder,
                Err(_) => return,
            },
        };
        if let Err(e) = enqueue_for_embedder(&state, embedder.model_id()).await {
            tracing::error!(error = ?e, "cannot enqueue NLU retraining for the new embedding model");
        }
    })
}

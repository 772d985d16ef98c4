//! The rollup job: recomputes every dirty hour (see the V067 migration),
//! a batch of hours per write transaction so turns are not held up, then
//! embeds new unanswered questions for the clustering. Scheduled every
//! [`PERIOD`]; also run on demand (`botbuilder bench analytics`, tests).

use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::store;
use crate::app::AppState;
use crate::db::Db;
use crate::error::AppResult;
use crate::jobs::{JobContext, JobError, JobHandler};
use crate::ml::embedder::{Embedder, vector_bytes};

/// The job kind.
pub const KIND: &str = "analytics_rollup";
/// How often the scheduler queues the job.
pub const PERIOD: Duration = Duration::from_secs(300);
/// Hours recomputed per write transaction.
const BATCH: i64 = 64;
/// Unanswered texts embedded per round.
const EMBED_BATCH: i64 = 64;

/// What one run did.
#[derive(Debug, Clone, Copy, Default)]
pub struct RollupReport {
    pub hours: usize,
    pub embedded: usize,
    pub millis: u128,
}

/// Recomputes every dirty hour (catch-up after downtime included).
pub fn roll_up_pending(db: &Db) -> AppResult<usize> {
    let mut done = 0;
    loop {
        let n = db.write_blocking(|tx| {
            let hours = store::dirty_hours(tx, BATCH)?;
            let mut days = std::collections::BTreeSet::new();
            for (org, bot, hour) in &hours {
                store::rollup_hour(tx, *org, *bot, hour)?;
                days.insert((*org, *bot, hour.get(..10).unwrap_or(hour).to_owned()));
            }
            // The daily level once per day of the batch, after its hours.
            for (org, bot, day) in &days {
                super::levels::rollup_day(tx, *org, *bot, day)?;
            }
            Ok(hours.len())
        })?;
        done += n;
        if n < usize::try_from(BATCH).unwrap_or(usize::MAX) {
            return Ok(done);
        }
    }
}

/// Embeds unanswered questions that have no vector yet.
pub fn embed_pending(db: &Db, embedder: &Embedder) -> AppResult<usize> {
    let mut done = 0;
    loop {
        let batch = db.read_blocking(|c| Ok(store::unembedded(c, EMBED_BATCH)?))?;
        if batch.is_empty() {
            return Ok(done);
        }
        let texts: Vec<&str> = batch.iter().map(|(_, t)| t.as_str()).collect();
        let vectors = embedder.embed_blocking(&texts).map_err(crate::error::AppError::internal)?;
        db.write_blocking(|tx| {
            for ((id, _), v) in batch.iter().zip(&vectors) {
                store::set_embedding(tx, *id, &vector_bytes(v))?;
            }
            Ok(())
        })?;
        done += batch.len();
    }
}

/// One full run: rollups, then vectors (skipped while the models are off).
pub async fn run(state: &AppState) -> AppResult<RollupReport> {
    let started = Instant::now();
    let db = state.db.clone();
    let hours =
        tokio::task::spawn_blocking(move || roll_up_pending(&db)).await.map_err(crate::error::AppError::internal)??;
    let embedded = match state.models.embedder().await {
        Ok(embedder) => {
            let db = state.db.clone();
            tokio::task::spawn_blocking(move || embed_pending(&db, &embedder))
                .await
                .map_err(crate::error::AppError::internal)??
        }
        Err(e) => {
            tracing::info!(error = %e.message(), "unanswered questions not embedded: models unavailable");
            0
        }
    };
    Ok(RollupReport { hours, embedded, millis: started.elapsed().as_millis() })
}

/// The scheduled job.
pub struct RollupJob;

impl JobHandler for RollupJob {
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Result<Value, JobError>> {
        Box::pin(async move {
            let report = run(&ctx.state).await?;
            Ok(json!({ "hours": report.hours, "embedded": report.embedded, "millis": report.millis }))
        })
    }
}

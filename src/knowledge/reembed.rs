//! Re-embedding a knowledge base with another model (`knowledge.reembed`,
//! payload `{"knowledge_base_id", "model"}`). New vectors go to
//! `chunk_vectors_next` while search keeps using `chunk_vectors` and the old
//! model; once every chunk has its new vector, one transaction moves them
//! into `chunk_vectors` (with new codes) and switches `embedding_model`.
//! Resumable: chunks that already have a new vector are skipped.

#![allow(clippy::too_many_lines, reason = "the job is one sequential pipeline")]

use futures_util::future::BoxFuture;
use rusqlite::params;
use serde_json::{Value, json};

use super::model::{ChunkId, KnowledgeBaseId};
use super::store;
use crate::error::{AppError, ErrorCode};
use crate::http::Tenant;
use crate::jobs::{JobContext, JobError, JobHandler};
use crate::ml::{bytes_vector, vector_bytes};

/// The job kind.
pub const KIND: &str = "knowledge.reembed";
const BATCH: i64 = 64;

/// The re-embedding job handler.
pub struct Reembed;

impl JobHandler for Reembed {
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Result<Value, JobError>> {
        Box::pin(run(ctx))
    }
}

async fn run(ctx: JobContext) -> Result<Value, JobError> {
    let org = ctx.job.org_id.ok_or_else(|| JobError::Permanent("a re-embedding needs an organization".into()))?;
    let tenant = Tenant::system(org, "knowledge re-embedding job");
    let kb = KnowledgeBaseId(
        ctx.job.payload["knowledge_base_id"]
            .as_i64()
            .ok_or_else(|| JobError::Permanent("no knowledge_base_id".into()))?,
    );
    let model = ctx.job.payload["model"].as_str().ok_or_else(|| JobError::Permanent("no model".into()))?.to_owned();
    let state = ctx.state.clone();
    let embedder = state.knowledge.models.get(&state, &model).await?;
    let model_id = embedder.model_id().to_owned();
    let mut done = 0_usize;
    loop {
        // Still wanted? (A later PATCH may have changed or cancelled it.)
        let (t, m) = (tenant.clone(), model.clone());
        let batch = state
            .db
            .read(move |c| {
                let Some(kb_row) = store::find_kb(c, &t, kb)? else { return Ok(None) };
                if kb_row.pending_embedding_model.as_deref() != Some(m.as_str()) {
                    return Ok(None);
                }
                let mut stmt = c.prepare_cached(
                    "SELECT c.id, c.heading_path, c.content FROM chunks c
                     WHERE c.knowledge_base_id = ?1 AND c.organization_id = ?2
                       AND NOT EXISTS (SELECT 1 FROM chunk_vectors_next n WHERE n.rowid = c.id)
                     ORDER BY c.id LIMIT ?3",
                )?;
                let rows = stmt.query_map(params![kb, t.org_id(), BATCH], |r| {
                    let (id, heading, content): (i64, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
                    Ok((id, if heading.is_empty() { content } else { format!("{heading}\n{content}") }))
                })?;
                Ok(Some(rows.collect::<Result<Vec<_>, _>>()?))
            })
            .await?;
        let Some(batch) = batch else {
            return Ok(json!({ "knowledge_base_id": kb.0, "skipped": "the model change was cancelled or replaced" }));
        };
        if batch.is_empty() {
            break;
        }
        let vectors = embedder.embed_passages(batch.iter().map(|(_, t)| t.clone()).collect()).await?;
        let t = tenant.clone();
        let count = vectors.len();
        state
            .db
            .write(move |tx| {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO chunk_vectors_next (rowid, knowledge_base_id, embedding) VALUES (?1, ?2, ?3)",
                )?;
                for ((id, _), v) in batch.iter().zip(&vectors) {
                    // The chunk may have been deleted meanwhile.
                    if tx.query_row(
                        "SELECT EXISTS (SELECT 1 FROM chunks WHERE id = ?1 AND organization_id = ?2)",
                        params![id, t.org_id()],
                        |r| r.get::<_, bool>(0),
                    )? {
                        stmt.execute(params![id, kb, vector_bytes(v)])?;
                    }
                }
                Ok(())
            })
            .await?;
        done += count;
        ctx.progress(json!({ "knowledge_base_id": kb.0, "model": model, "embedded": done })).await?;
    }
    // The switch: every chunk has its new vector (checked inside the transaction).
    let (t, m) = (tenant.clone(), model.clone());
    let switched = state
        .db
        .write(move |tx| {
            let Some(kb_row) = store::find_kb(tx, &t, kb)? else { return Ok(false) };
            if kb_row.pending_embedding_model.as_deref() != Some(m.as_str()) {
                return Ok(false);
            }
            let missing: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM chunks c WHERE c.knowledge_base_id = ?1 AND c.organization_id = ?2
                                AND NOT EXISTS (SELECT 1 FROM chunk_vectors_next n WHERE n.rowid = c.id))",
                params![kb, t.org_id()],
                |r| r.get(0),
            )?;
            if missing {
                return Err(AppError::new(ErrorCode::Conflict, "new chunks arrived during the switch; retrying"));
            }
            let ids: Vec<i64> = {
                let mut stmt =
                    tx.prepare("SELECT id FROM chunks WHERE knowledge_base_id = ?1 AND organization_id = ?2")?;
                stmt.query_map(params![kb, t.org_id()], |r| r.get(0))?.collect::<Result<_, _>>()?
            };
            let mut read = tx.prepare_cached("SELECT embedding FROM chunk_vectors_next WHERE rowid = ?1")?;
            let mut del_next = tx.prepare_cached("DELETE FROM chunk_vectors_next WHERE rowid = ?1")?;
            let mut set_model = tx.prepare_cached("UPDATE chunks SET embedding_model = ?2 WHERE id = ?1")?;
            for id in ids {
                let blob: Vec<u8> = read.query_row([id], |r| r.get(0))?;
                store::replace_vector(tx, &t, kb, ChunkId(id), &bytes_vector(&blob))?;
                del_next.execute([id])?;
                set_model.execute(params![id, model_id])?;
            }
            store::switch_model(tx, &t, kb, &m)?;
            Ok(true)
        })
        .await;
    match switched {
        Ok(true) => {
            state.knowledge.indexes.forget(kb);
            Ok(json!({ "knowledge_base_id": kb.0, "model": model, "embedded": done, "switched": true }))
        }
        Ok(false) => Ok(json!({ "knowledge_base_id": kb.0, "skipped": "the model change was cancelled or replaced" })),
        Err(e) if e.code() == ErrorCode::Conflict => Err(JobError::Retry(anyhow::anyhow!("{}", e.message()))),
        Err(e) => Err(e.into()),
    }
}

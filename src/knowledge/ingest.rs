//! The ingestion job (`knowledge.ingest`, payload `{"document_id": N}`):
//! fetch (URLs) → extract → de-duplicate → chunk → embed → index → ready.
//!
//! Durable and resumable: chunks are written with their vectors in batches,
//! each batch in one transaction, idempotently on `(document_id,
//! chunk_index)`. Chunking is deterministic, so an attempt that starts after
//! a crash skips the chunks already embedded (and starts over if the stored
//! chunks no longer match, e.g. after a chunk-size change). A failure that
//! will not go away marks the document `failed` with a stable code and
//! deletes its chunks (with their FTS rows, vectors and codes) in the same
//! transaction: a failed document never leaves partial chunks.
//!
//! Throughput: chunks are sorted by length before batching (little padding)
//! and the next batch is already embedding while the previous one is written,
//! so the embedder stays busy.

#![allow(
    clippy::too_many_lines,
    reason = "the job is one sequential pipeline; splitting it hides the order of its steps"
)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::chunker::{self, ChunkParams, ChunkText};
use super::extract::{self, Kind};
use super::model::{DocumentId, KnowledgeBase};
use super::store::{self, NewChunk};
use crate::app::AppState;
use crate::crypto::sha256_hex;
use crate::error::{AppError, ErrorCode};
use crate::http::Tenant;
use crate::jobs::{JobContext, JobError, JobHandler};

/// The job kind.
pub const KIND: &str = "knowledge.ingest";
/// Chunks per embedding request.
const BATCH: usize = 32;

/// The ingestion job handler.
pub struct Ingest;

impl JobHandler for Ingest {
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Result<Value, JobError>> {
        Box::pin(run(ctx))
    }
}

/// Why processing stopped.
enum Stop {
    /// The document was deleted meanwhile: nothing to do.
    Gone,
    /// The document cannot be ingested (bad file, duplicate…).
    Failed(AppError),
    /// Worth another attempt.
    Retry(anyhow::Error),
}

impl From<AppError> for Stop {
    fn from(e: AppError) -> Self {
        if e.code().status().is_server_error() && e.code() != ErrorCode::FetchFailed {
            Stop::Retry(anyhow::anyhow!("{e:?}"))
        } else {
            Stop::Failed(e)
        }
    }
}

impl From<JobError> for Stop {
    fn from(e: JobError) -> Self {
        match e {
            JobError::Retry(e) => Stop::Retry(e),
            JobError::Permanent(m) => Stop::Failed(AppError::new(ErrorCode::Conflict, m)),
        }
    }
}

async fn run(ctx: JobContext) -> Result<Value, JobError> {
    let org = ctx.job.org_id.ok_or_else(|| JobError::Permanent("an ingestion job needs an organization".into()))?;
    let tenant = Tenant::system(org, "knowledge ingestion job");
    let doc = ctx
        .job
        .payload
        .get("document_id")
        .and_then(Value::as_i64)
        .map(DocumentId)
        .ok_or_else(|| JobError::Permanent("payload has no document_id".into()))?;
    let last_attempt = ctx.job.attempts >= ctx.job.max_attempts;
    let state = ctx.state.clone();
    match process(&ctx, &tenant, doc).await {
        Ok(result) => Ok(result),
        Err(Stop::Gone) => Ok(json!({ "document_id": doc.0, "skipped": "the document was deleted" })),
        Err(Stop::Failed(e)) => {
            mark_failed(&state, &tenant, doc, e.code().as_str(), e.message()).await?;
            Err(JobError::Permanent(format!("{}: {}", e.code().as_str(), e.message())))
        }
        Err(Stop::Retry(e)) => {
            if last_attempt {
                mark_failed(&state, &tenant, doc, ErrorCode::Internal.as_str(), &format!("ingestion failed: {e:#}"))
                    .await?;
            }
            Err(JobError::Retry(e))
        }
    }
}

async fn mark_failed(
    state: &AppState,
    tenant: &Tenant,
    doc: DocumentId,
    code: &str,
    message: &str,
) -> Result<(), JobError> {
    let (tenant, code, message) = (tenant.clone(), code.to_owned(), message.to_owned());
    state
        .db
        .write(move |tx| {
            store::fail_document(tx, &tenant, doc, &code, &message)?;
            let data = json!({ "document_id": doc, "status": "failed", "error_code": code });
            crate::webhooks::emit(tx, tenant.org_id(), crate::webhooks::Event::DocumentIngested, data).map(drop)
        })
        .await?;
    Ok(())
}

/// What ingestion of one document produced.
#[derive(Debug, Clone, Copy, Default)]
pub struct Outcome {
    pub chunks: usize,
    pub embedded_now: usize,
    pub resumed: usize,
}

async fn process(ctx: &JobContext, tenant: &Tenant, doc_id: DocumentId) -> Result<Value, Stop> {
    let state = &ctx.state;
    let job_id = ctx.job.id;
    let t = tenant.clone();
    let loaded = state
        .db
        .write(move |tx| {
            let Some(doc) = store::find_document(tx, &t, doc_id)? else { return Ok(None) };
            let Some(kb) = store::find_kb(tx, &t, doc.knowledge_base_id)? else { return Ok(None) };
            if doc.status != "ready" {
                store::set_status(tx, &t, doc_id, "extracting")?;
                let embedded = i64::try_from(store::embedded_indexes(tx, &t, doc_id)?.len()).unwrap_or(0);
                store::upsert_queue(tx, &t, doc_id, Some(job_id), "processing", embedded, embedded)?;
            }
            Ok(Some((doc, kb)))
        })
        .await?;
    let Some((doc, kb)) = loaded else { return Err(Stop::Gone) };
    if doc.status == "ready" {
        return Ok(json!({ "document_id": doc_id.0, "already": "ready" }));
    }

    // The original: an uploaded/pasted file, or the page behind a URL.
    #[allow(clippy::single_match_else, reason = "two sources of the original, side by side")]
    let (bytes, kind) = match doc.file_id {
        Some(file_id) => {
            let t = tenant.clone();
            let file = state.db.read(move |c| Ok(store::file_data(c, &t, file_id)?)).await?;
            let (bytes, content_type) = file
                .ok_or_else(|| Stop::Failed(AppError::new(ErrorCode::CorruptFile, "the original file is missing")))?;
            let kind = if doc.kind == "url" || doc.kind == "text" {
                extract::detect("", Some(&content_type), &bytes)?
            } else {
                Kind::parse(&doc.kind).ok_or_else(|| {
                    Stop::Failed(AppError::new(
                        ErrorCode::UnsupportedFileType,
                        format!("unsupported type {}", doc.kind),
                    ))
                })?
            };
            (bytes, kind)
        }
        None => {
            let url = doc.source_url.clone().ok_or_else(|| {
                Stop::Failed(AppError::new(ErrorCode::CorruptFile, "the document has neither a file nor a URL"))
            })?;
            let page = super::crawl::fetch(state, &url).await?;
            let kind = extract::detect(&page.file_name(), page.content_type.as_deref(), &page.body)?;
            let (t, sha, body, ct, name) =
                (tenant.clone(), sha256_hex(&page.body), page.body.clone(), kind.content_type(), page.file_name());
            let size = i64::try_from(page.body.len()).unwrap_or(i64::MAX);
            state
                .db
                .write(move |tx| {
                    let file_id = store::store_file(tx, &t, &sha, ct, &name, &body)?;
                    store::set_file(tx, &t, doc_id, file_id, size)?;
                    Ok(())
                })
                .await?;
            (page.body, kind)
        }
    };

    // In a worker process with its own memory, CPU and time limits: a hostile
    // file costs one killed process, never the server (see extract::worker).
    let limits = extract::worker::Limits::from_config(&state.config.knowledge);
    let extracted = extract::worker::extract(&limits, kind, bytes, &ctx.shutdown).await?;

    // De-duplication on the extracted text.
    let hash = sha256_hex(extract::normalize_ws(&extracted.full_text()).as_bytes());
    let (t, h, replaces) = (tenant.clone(), hash.clone(), doc.replaces_document_id);
    let duplicate = state
        .db
        .write(move |tx| {
            let mut except = vec![doc_id];
            except.extend(replaces);
            let dup = store::find_by_hash(tx, &t, kb.id, &h, &except)?;
            if dup.is_none() && replaces.is_none() {
                store::set_hash(tx, &t, doc_id, &h)?;
            }
            Ok(dup)
        })
        .await?;
    if let Some(existing) = duplicate {
        return Err(Stop::Failed(
            AppError::new(ErrorCode::DuplicateDocument, format!("the same content is already in document {existing}"))
                .with_details(json!({ "document_id": existing.0 })),
        ));
    }

    // Chunk with the model's tokenizer.
    let embedder = state.knowledge.models.get(state, &kb.embedding_model).await?;
    let params = chunk_params(&kb, embedder.max_tokens());
    let counter = embedder.clone();
    let mut chunks = tokio::task::spawn_blocking(move || {
        let count = |s: &str| counter.count_tokens(s).map_or(s.len() / 4, |n| n.saturating_sub(2));
        chunker::chunk(&extracted, params, &count)
    })
    .await
    .map_err(|e| Stop::Retry(e.into()))?;
    let doc_meta = merged_metadata(&doc.metadata, doc.source_url.as_deref());
    for c in &mut chunks {
        if let (Value::Object(m), Value::Object(extra)) = (&mut c.metadata, &doc_meta) {
            for (k, v) in extra {
                m.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    let outcome = embed_and_store(ctx, tenant, &kb, doc_id, &chunks, &embedder).await?;

    // Ready: the replaced document (if any) goes in the same transaction.
    let t = tenant.clone();
    let kb_id = kb.id;
    let finished = state
        .db
        .write(move |tx| {
            if store::find_document(tx, &t, doc_id)?.is_none() {
                return Ok(false);
            }
            if let Some(old) = replaces {
                store::delete_document(tx, &t, old)?;
                if store::find_by_hash(tx, &t, kb_id, &hash, &[doc_id])?.is_none() {
                    store::set_hash(tx, &t, doc_id, &hash)?;
                }
            }
            store::set_status(tx, &t, doc_id, "ready")?;
            store::complete_queue(tx, &t, doc_id)?;
            store::touch_synced(tx, &t, kb_id)?;
            let data = json!({ "document_id": doc_id, "knowledge_base_id": kb_id, "status": "ready", "chunks": outcome.chunks });
            crate::webhooks::emit(tx, t.org_id(), crate::webhooks::Event::DocumentIngested, data)?;
            Ok(true)
        })
        .await?;
    if !finished {
        return Err(Stop::Gone);
    }
    Ok(json!({
        "document_id": doc_id.0,
        "chunks": outcome.chunks,
        "embedded": outcome.embedded_now,
        "resumed_from": outcome.resumed,
    }))
}

/// Chunking settings of a knowledge base for a model reading `max_tokens`.
#[must_use]
pub fn chunk_params(kb: &KnowledgeBase, max_tokens: usize) -> ChunkParams {
    let size = usize::try_from(kb.chunk_size).unwrap_or(256).min(max_tokens.saturating_sub(2)).max(16);
    let overlap = usize::try_from(kb.chunk_overlap).unwrap_or(0).min(size / 2);
    ChunkParams { size, overlap }
}

/// The document's metadata as copied onto its chunks (user keys and the source URL).
fn merged_metadata(meta: &Value, source_url: Option<&str>) -> Value {
    let mut out = match meta {
        Value::Object(m) => m.clone(),
        _ => serde_json::Map::new(),
    };
    out.retain(|k, _| !k.starts_with('_'));
    if let Some(url) = source_url {
        out.insert("source_url".into(), Value::from(url));
    }
    Value::Object(out)
}

/// Writes the chunks that are not yet embedded, batch by batch.
async fn embed_and_store(
    ctx: &JobContext,
    tenant: &Tenant,
    kb: &KnowledgeBase,
    doc_id: DocumentId,
    chunks: &[ChunkText],
    embedder: &crate::ml::Embedder,
) -> Result<Outcome, Stop> {
    let state = &ctx.state;
    let total = chunks.len();
    // Resume: keep what a previous attempt stored if it matches this chunking.
    let t = tenant.clone();
    let expected: HashMap<i64, String> =
        chunks.iter().map(|c| (i64::try_from(c.index).unwrap_or(0), c.content.clone())).collect();
    let done = state
        .db
        .write(move |tx| {
            let stored = stored_chunks(tx, &t, doc_id)?;
            let matches = stored.iter().all(|(i, content, _)| expected.get(i) == Some(content));
            if !matches {
                store::delete_chunks(tx, &t, doc_id)?;
                return Ok(Vec::new());
            }
            // Chunks without a vector (none normally: both go in one transaction) are redone.
            Ok(stored.into_iter().filter(|(_, _, embedded)| *embedded).map(|(i, _, _)| i).collect::<Vec<_>>())
        })
        .await?;
    let resumed = done.len();
    let t = tenant.clone();
    let total_i = i64::try_from(total).unwrap_or(i64::MAX);
    let resumed_i = i64::try_from(resumed).unwrap_or(0);
    state
        .db
        .write(move |tx| {
            store::set_status(tx, &t, doc_id, "embedding")?;
            store::upsert_queue(tx, &t, doc_id, None, "processing", total_i, resumed_i)?;
            Ok(())
        })
        .await?;

    let mut pending: Vec<&ChunkText> =
        chunks.iter().filter(|c| !done.contains(&i64::try_from(c.index).unwrap_or(-1))).collect();
    // Similar lengths in one batch: little padding.
    pending.sort_by_key(|c| std::cmp::Reverse(c.tokens));
    let batches: Vec<Vec<ChunkText>> =
        pending.chunks(BATCH).map(|b| b.iter().map(|c| (*c).clone()).collect()).collect();
    let model = embedder.model_id().to_owned();
    let mut stored = resumed;
    let mut last_progress = Instant::now();
    let spawn = |batch: &Vec<ChunkText>| {
        let embedder = embedder.clone();
        let texts: Vec<String> = batch.iter().map(ChunkText::embed_text).collect();
        tokio::spawn(async move { embedder.embed_passages(texts).await })
    };
    let mut in_flight = batches.first().map(spawn);
    for (i, batch) in batches.iter().enumerate() {
        let Some(handle) = in_flight.take() else { break };
        // Keep the embedder busy: start the next batch before writing this one.
        in_flight = batches.get(i + 1).map(spawn);
        let vectors = handle.await.map_err(|e| Stop::Retry(e.into()))?.map_err(Stop::Retry)?;
        let (t, kb_id, batch, model) = (tenant.clone(), kb.id, batch.clone(), model.clone());
        let written = state
            .db
            .write(move |tx| {
                if store::find_document(tx, &t, doc_id)?.is_none() {
                    return Ok(None);
                }
                for (c, v) in batch.iter().zip(&vectors) {
                    let (id, new) = store::insert_chunk(
                        tx,
                        &t,
                        kb_id,
                        doc_id,
                        &NewChunk {
                            index: i64::try_from(c.index).unwrap_or(0),
                            content: &c.content,
                            heading_path: &c.heading_path,
                            token_count: i64::try_from(c.tokens).unwrap_or(0),
                            start_char: i64::try_from(c.start_char).unwrap_or(0),
                            end_char: i64::try_from(c.end_char).unwrap_or(0),
                            metadata: &c.metadata,
                            model: &model,
                        },
                    )?;
                    if new || !has_vector(tx, id.0)? {
                        store::insert_vector(tx, &t, kb_id, id, v)?;
                    }
                }
                Ok(Some(batch.len()))
            })
            .await?;
        let Some(n) = written else {
            if let Some(h) = in_flight.take() {
                h.abort();
            }
            return Err(Stop::Gone);
        };
        stored += n;
        let (t, e) = (tenant.clone(), i64::try_from(stored).unwrap_or(0));
        state.db.write(move |tx| Ok(store::progress_queue(tx, &t, doc_id, e)?)).await?;
        if last_progress.elapsed() > Duration::from_secs(2) {
            ctx.progress(json!({ "document_id": doc_id.0, "embedded": stored, "total": total })).await?;
            last_progress = Instant::now();
        }
        if ctx.shutdown.is_cancelled() {
            if let Some(h) = in_flight.take() {
                h.abort();
            }
            return Err(Stop::Retry(anyhow::anyhow!("stopped by shutdown; resumes on restart")));
        }
    }
    Ok(Outcome { chunks: total, embedded_now: stored - resumed, resumed })
}

fn has_vector(conn: &rusqlite::Connection, chunk: i64) -> rusqlite::Result<bool> {
    conn.query_row("SELECT EXISTS (SELECT 1 FROM chunk_codes WHERE chunk_id = ?1)", [chunk], |r| r.get(0))
}

/// (index, content, has vector) of the document's stored chunks.
fn stored_chunks(
    conn: &rusqlite::Connection,
    tenant: &Tenant,
    doc: DocumentId,
) -> rusqlite::Result<Vec<(i64, String, bool)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.chunk_index, c.content, EXISTS (SELECT 1 FROM chunk_codes k WHERE k.chunk_id = c.id)
         FROM chunks c WHERE c.document_id = ?1 AND c.organization_id = ?2",
    )?;
    stmt.query_map(rusqlite::params![doc, tenant.org_id()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect()
}

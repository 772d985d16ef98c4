//! Knowledge rules and transactions, and the service API other domains call
//! (see the module docs of `crate::knowledge`).

use serde_json::{Value, json};

use super::answer::{Answer, AnswerOptions};
use super::extract::{self, Kind};
use super::model::{
    AddUrlRequest, AddUrlResponse, BotKnowledgeBase, Chunk, CreateKnowledgeBaseRequest, Document, DocumentId,
    KnowledgeBase, KnowledgeBaseId, PasteTextRequest, UpdateKnowledgeBaseRequest,
};
use super::models::{BUILTIN, ModelRegistry};
use super::search::{SearchOptions, SearchResponse};
use super::store::{self, KbChanges, NewDocument, NewKb};
use crate::app::AppState;
use crate::crypto::sha256_hex;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::{Page, PageParams, Tenant};
use crate::ids::BotId;
use crate::jobs::{Enqueue, Queue};
use crate::orgs::audit::{self, AuditEntry};

fn kb_not_found() -> AppError {
    AppError::new(ErrorCode::KnowledgeBaseNotFound, "no such knowledge base")
}

fn doc_not_found() -> AppError {
    AppError::new(ErrorCode::DocumentNotFound, "no such document")
}

fn check_name(raw: &str, field: &str, max: usize) -> AppResult<String> {
    crate::names::check_name(field, raw, max)
}

fn check_description(raw: Option<&str>) -> AppResult<Option<String>> {
    match raw.map(str::trim) {
        Some(d) if d.chars().count() > 2000 => {
            Err(AppError::validation("description", "must be at most 2000 characters"))
        }
        Some("") | None => Ok(None),
        Some(d) => Ok(Some(d.to_owned())),
    }
}

fn check_chunking(size: i64, overlap: i64) -> AppResult<()> {
    if !(32..=512).contains(&size) {
        return Err(AppError::validation("chunk_size", "must be between 32 and 512 tokens"));
    }
    if overlap < 0 || overlap > size / 2 {
        return Err(AppError::validation("chunk_overlap", "must be between 0 and half the chunk size"));
    }
    Ok(())
}

fn check_model(state: &AppState, name: &str) -> AppResult<String> {
    let name = name.trim();
    if ModelRegistry::known(state, name) {
        Ok(name.to_owned())
    } else {
        Err(AppError::new(
            ErrorCode::EmbeddingModelUnavailable,
            format!(
                "`{name}` is not an embedding model of this server; choose one of {:?}",
                ModelRegistry::names(state)
            ),
        )
        .with_details(json!({ "field": "embedding_model" })))
    }
}

fn check_metadata(meta: Option<Value>) -> AppResult<Value> {
    match meta {
        None | Some(Value::Null) => Ok(json!({})),
        Some(Value::Object(m)) => {
            if Value::Object(m.clone()).to_string().len() > 16 * 1024 {
                return Err(AppError::validation("metadata", "must be at most 16 KiB of JSON"));
            }
            for k in m.keys() {
                if k.is_empty()
                    || k.len() > 64
                    || !k.chars().all(|c| c.is_ascii_alphanumeric() || "_-".contains(c))
                    || k.starts_with('_')
                {
                    return Err(AppError::validation(
                        "metadata",
                        format!("`{k}` is not a valid metadata key (letters, digits, _ and -)"),
                    ));
                }
            }
            Ok(Value::Object(m))
        }
        Some(_) => Err(AppError::validation("metadata", "must be a JSON object")),
    }
}

// ---- knowledge bases -------------------------------------------------------

pub async fn create_kb(state: &AppState, tenant: Tenant, req: CreateKnowledgeBaseRequest) -> AppResult<KnowledgeBase> {
    let name = check_name(&req.name, "name", 200)?;
    let description = check_description(req.description.as_deref())?;
    let language = crate::bots::service::check_supported_language(req.language.as_deref().unwrap_or("en"))?;
    let model = check_model(state, req.embedding_model.as_deref().unwrap_or(BUILTIN))?;
    let (size, overlap) = (req.chunk_size.unwrap_or(256), req.chunk_overlap.unwrap_or(32));
    check_chunking(size, overlap)?;
    state
        .db
        .write(move |tx| {
            if tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM knowledge_bases WHERE organization_id = ?1 AND name = ?2)",
                rusqlite::params![tenant.org_id(), name],
                |r| r.get::<_, bool>(0),
            )? {
                return Err(AppError::new(ErrorCode::NameTaken, "a knowledge base with this name exists")
                    .with_details(json!({ "field": "name" })));
            }
            let id = store::insert_kb(
                tx,
                &tenant,
                &NewKb {
                    name: &name,
                    description: description.as_deref(),
                    embedding_model: &model,
                    language: &language,
                    chunk_size: size,
                    chunk_overlap: overlap,
                },
            )?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "knowledge_base.created", "knowledge_base", id.0)
                    .activity()
                    .with_new(json!({ "name": name, "embedding_model": model })),
            )?;
            store::find_kb(tx, &tenant, id)?.ok_or_else(kb_not_found)
        })
        .await
}

pub async fn get_kb(state: &AppState, tenant: Tenant, id: KnowledgeBaseId) -> AppResult<KnowledgeBase> {
    state.db.read(move |c| store::find_kb(c, &tenant, id)?.ok_or_else(kb_not_found)).await
}

pub async fn list_kbs(state: &AppState, tenant: Tenant, page: PageParams) -> AppResult<Page<KnowledgeBase>> {
    let after = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state.db.read(move |c| Ok(store::list_kbs(c, &tenant, after, limit)?)).await?;
    Page::from_rows(rows, &page, |k| k.id.0)
}

pub async fn update_kb(
    state: &AppState,
    tenant: Tenant,
    id: KnowledgeBaseId,
    req: UpdateKnowledgeBaseRequest,
) -> AppResult<KnowledgeBase> {
    let name = req.name.as_deref().map(|n| check_name(n, "name", 200)).transpose()?;
    let description = req.description.map(|d| check_description(d.as_deref())).transpose()?;
    let language = req.language.as_deref().map(crate::bots::service::check_supported_language).transpose()?;
    let model = req.embedding_model.as_deref().map(|m| check_model(state, m)).transpose()?;
    if let Some(s) = &req.status
        && !["active", "archived"].contains(&s.as_str())
    {
        return Err(AppError::validation("status", "must be active or archived"));
    }
    if let Some(m) = &model {
        // Load it now: a model that cannot run is refused here, not in the job.
        state.knowledge.models.get(state, m).await?;
    }
    let (t, st) = (tenant.clone(), state.clone());
    let (kb, reembed) = state
        .db
        .write(move |tx| {
            let before = store::find_kb(tx, &t, id)?.ok_or_else(kb_not_found)?;
            let size = req.chunk_size.unwrap_or(before.chunk_size);
            let overlap = req.chunk_overlap.unwrap_or(before.chunk_overlap);
            check_chunking(size, overlap)?;
            let new_name = name.as_deref().unwrap_or(&before.name);
            if new_name != before.name
                && tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM knowledge_bases WHERE organization_id = ?1 AND name = ?2 AND id <> ?3)",
                    rusqlite::params![t.org_id(), new_name, id],
                    |r| r.get::<_, bool>(0),
                )?
            {
                return Err(AppError::new(ErrorCode::NameTaken, "a knowledge base with this name exists")
                    .with_details(json!({ "field": "name" })));
            }
            let status = match req.status.as_deref() {
                Some(s) if before.status == "reindexing" && s == "active" => "reindexing",
                Some(s) => s,
                None => before.status.as_str(),
            };
            store::update_kb(
                tx,
                &t,
                id,
                &KbChanges {
                    name: new_name,
                    description: description.as_ref().map_or(before.description.as_deref(), Option::as_deref),
                    language: language.as_deref().unwrap_or(&before.language),
                    chunk_size: size,
                    chunk_overlap: overlap,
                    status,
                },
            )?;
            let mut reembed = None;
            if let Some(m) = model.as_deref() {
                if m == before.embedding_model {
                    // Back to the live model: cancel a pending move.
                    if before.pending_embedding_model.is_some() {
                        store::set_pending_model(tx, &t, id, None)?;
                        tx.execute("DELETE FROM chunk_vectors_next WHERE knowledge_base_id = ?1", [id])?;
                    }
                } else if before.total_chunks == 0 {
                    store::switch_model(tx, &t, id, m)?;
                } else if before.pending_embedding_model.as_deref() != Some(m) {
                    store::set_pending_model(tx, &t, id, Some(m))?;
                    let job = Queue::enqueue_in(
                        tx,
                        &Enqueue::new(Some(t.org_id()), super::reembed::KIND, json!({ "knowledge_base_id": id.0, "model": m })),
                    )?;
                    reembed = Some(job);
                }
            }
            let after = store::find_kb(tx, &t, id)?.ok_or_else(kb_not_found)?;
            audit::record(
                tx,
                &AuditEntry::by(&t, "knowledge_base.updated", "knowledge_base", id.0)
                    .with_old(json!({ "name": before.name, "embedding_model": before.embedding_model, "chunk_size": before.chunk_size, "chunk_overlap": before.chunk_overlap, "status": before.status }))
                    .with_new(json!({ "name": after.name, "embedding_model": after.embedding_model, "pending_embedding_model": after.pending_embedding_model, "chunk_size": after.chunk_size, "chunk_overlap": after.chunk_overlap, "status": after.status })),
            )?;
            Ok((after, reembed))
        })
        .await?;
    if reembed.is_some() {
        st.jobs.notify();
    }
    Ok(kb)
}

pub async fn delete_kb(state: &AppState, tenant: Tenant, id: KnowledgeBaseId) -> AppResult<()> {
    state
        .db
        .write(move |tx| {
            let before = store::find_kb(tx, &tenant, id)?.ok_or_else(kb_not_found)?;
            store::delete_kb(tx, &tenant, id)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "knowledge_base.deleted", "knowledge_base", id.0).activity().with_old(
                    json!({ "name": before.name, "documents": before.document_count, "chunks": before.total_chunks }),
                ),
            )
        })
        .await?;
    state.knowledge.indexes.forget(id);
    Ok(())
}

// ---- documents -------------------------------------------------------------

/// An uploaded file, read within the size limit.
pub struct Upload {
    pub file_name: String,
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
    pub name: Option<String>,
    pub metadata: Option<Value>,
}

/// Creates a document from an upload and queues its ingestion.
pub async fn upload(state: &AppState, tenant: Tenant, kb: KnowledgeBaseId, upload: Upload) -> AppResult<Document> {
    create_from_upload(state, tenant, kb, upload, None).await
}

/// Uploads a new version of a document: it replaces the old one (in one
/// transaction) once it is ready; until then search keeps the old one.
pub async fn replace(state: &AppState, tenant: Tenant, old: DocumentId, upload: Upload) -> AppResult<Document> {
    let t = tenant.clone();
    let doc = state.db.read(move |c| store::find_document(c, &t, old)?.ok_or_else(doc_not_found)).await?;
    create_from_upload(state, tenant, doc.knowledge_base_id, upload, Some(doc)).await
}

async fn create_from_upload(
    state: &AppState,
    tenant: Tenant,
    kb: KnowledgeBaseId,
    upload: Upload,
    replaces: Option<Document>,
) -> AppResult<Document> {
    if upload.bytes.is_empty() {
        return Err(
            AppError::new(ErrorCode::EmptyDocument, "the file is empty").with_details(json!({ "field": "file" }))
        );
    }
    crate::names::reject_invisible("file", &upload.file_name)?;
    let kind = extract::detect(&upload.file_name, upload.content_type.as_deref(), &upload.bytes)?;
    let metadata = check_metadata(upload.metadata)?;
    let name = check_name(
        upload.name.as_deref().filter(|n| !n.trim().is_empty()).unwrap_or(if upload.file_name.trim().is_empty() {
            "upload"
        } else {
            &upload.file_name
        }),
        "name",
        500,
    )?;
    let sha = sha256_hex(&upload.bytes);
    let doc = state
        .db
        .write(move |tx| {
            store::find_kb(tx, &tenant, kb)?.ok_or_else(kb_not_found)?;
            if let Some(existing) = store::find_by_file_hash(tx, &tenant, kb, &sha)?
                && replaces.as_ref().is_none_or(|r| r.id != existing)
            {
                return Err(AppError::new(
                    ErrorCode::DuplicateDocument,
                    format!("this file is already document {existing}"),
                )
                .with_details(json!({ "document_id": existing.0 })));
            }
            let file_id = store::store_file(tx, &tenant, &sha, kind.content_type(), &name, &upload.bytes)?;
            new_document(
                tx,
                &tenant,
                &NewDocument {
                    kb,
                    name: &name,
                    kind: kind.as_str(),
                    source_url: None,
                    file_id: Some(file_id),
                    size_bytes: i64::try_from(upload.bytes.len()).unwrap_or(i64::MAX),
                    metadata: &metadata,
                    replaces: replaces.as_ref().map(|d| d.id),
                },
            )
        })
        .await?;
    state.jobs.notify();
    Ok(doc)
}

/// Inserts a document, its progress row and its ingestion job; audits.
fn new_document(tx: &rusqlite::Connection, tenant: &Tenant, d: &NewDocument<'_>) -> AppResult<Document> {
    // In the insert's transaction: a refused upload leaves no document, file row or job.
    crate::billing::limits::check(
        tx,
        tenant.org_id(),
        crate::billing::limits::Limit::KnowledgeStorageBytes,
        d.size_bytes,
    )?;
    let id = store::insert_document(tx, tenant, d)?;
    crate::billing::usage::refresh_storage(tx, tenant.org_id())?;
    let job = Queue::enqueue_in(
        tx,
        &Enqueue::new(Some(tenant.org_id()), super::ingest::KIND, json!({ "document_id": id.0 })),
    )?;
    store::upsert_queue(tx, tenant, id, Some(job), "pending", 0, 0)?;
    audit::record(
        tx,
        &AuditEntry::by(tenant, "document.created", "document", id.0).activity().with_new(json!({
            "knowledge_base_id": d.kb.0, "name": d.name, "type": d.kind, "source_url": d.source_url,
            "replaces_document_id": d.replaces.map(|r| r.0)
        })),
    )?;
    store::find_document(tx, tenant, id)?.ok_or_else(doc_not_found)
}

/// Creates a document from pasted text (Markdown headings are kept).
pub async fn paste(
    state: &AppState,
    tenant: Tenant,
    kb: KnowledgeBaseId,
    req: PasteTextRequest,
) -> AppResult<Document> {
    let name = check_name(&req.name, "name", 500)?;
    if req.text.trim().is_empty() {
        return Err(AppError::validation("text", "must not be empty"));
    }
    if req.text.len() > state.config.http.max_upload_bytes {
        return Err(AppError::new(ErrorCode::PayloadTooLarge, "the text exceeds the upload limit"));
    }
    let metadata = check_metadata(req.metadata)?;
    let bytes = req.text.into_bytes();
    let sha = sha256_hex(&bytes);
    let doc = state
        .db
        .write(move |tx| {
            store::find_kb(tx, &tenant, kb)?.ok_or_else(kb_not_found)?;
            if let Some(existing) = store::find_by_file_hash(tx, &tenant, kb, &sha)? {
                return Err(AppError::new(
                    ErrorCode::DuplicateDocument,
                    format!("this text is already document {existing}"),
                )
                .with_details(json!({ "document_id": existing.0 })));
            }
            let file_id = store::store_file(tx, &tenant, &sha, Kind::Md.content_type(), &name, &bytes)?;
            new_document(
                tx,
                &tenant,
                &NewDocument {
                    kb,
                    name: &name,
                    kind: "text",
                    source_url: None,
                    file_id: Some(file_id),
                    size_bytes: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
                    metadata: &metadata,
                    replaces: None,
                },
            )
        })
        .await?;
    state.jobs.notify();
    Ok(doc)
}

/// Adds a web page (fetched by the ingestion job) or starts a crawl.
pub async fn add_url(
    state: &AppState,
    tenant: Tenant,
    kb: KnowledgeBaseId,
    req: AddUrlRequest,
) -> AppResult<AddUrlResponse> {
    let url = super::crawl::check_url(state, &req.url)?;
    let metadata = check_metadata(req.metadata)?;
    let max_depth = req.max_depth.unwrap_or(2);
    let max_pages = req.max_pages.unwrap_or(50);
    if max_depth > 5 {
        return Err(AppError::validation("max_depth", "must be between 0 and 5"));
    }
    if !(1..=500).contains(&max_pages) {
        return Err(AppError::validation("max_pages", "must be between 1 and 500"));
    }
    let crawl = req.crawl;
    let response = state
        .db
        .write(move |tx| {
            store::find_kb(tx, &tenant, kb)?.ok_or_else(kb_not_found)?;
            if crawl {
                let job = Queue::enqueue_in(
                    tx,
                    &Enqueue {
                        max_attempts: 2,
                        ..Enqueue::new(
                            Some(tenant.org_id()),
                            super::crawl::KIND,
                            json!({ "knowledge_base_id": kb.0, "url": url.as_str(), "max_depth": max_depth,
                                    "max_pages": max_pages, "metadata": metadata, "created_by": tenant.user_id().map(|u| u.0) }),
                        )
                    },
                )?;
                audit::record(
                    tx,
                    &AuditEntry::by(&tenant, "knowledge_base.crawl_started", "knowledge_base", kb.0)
                        .with_new(json!({ "url": url.as_str(), "max_depth": max_depth, "max_pages": max_pages, "job_id": job.0 })),
                )?;
                return Ok(AddUrlResponse { document: None, job_id: Some(job.0) });
            }
            let name: String = url.as_str().chars().take(500).collect();
            let doc = new_document(
                tx,
                &tenant,
                &NewDocument {
                    kb,
                    name: &name,
                    kind: "url",
                    source_url: Some(url.as_str()),
                    file_id: None,
                    size_bytes: 0,
                    metadata: &metadata,
                    replaces: None,
                },
            )?;
            Ok(AddUrlResponse { document: Some(doc), job_id: None })
        })
        .await?;
    state.jobs.notify();
    Ok(response)
}

pub async fn get_document(state: &AppState, tenant: Tenant, id: DocumentId) -> AppResult<Document> {
    state.db.read(move |c| store::find_document(c, &tenant, id)?.ok_or_else(doc_not_found)).await
}

pub async fn list_documents(
    state: &AppState,
    tenant: Tenant,
    kb: KnowledgeBaseId,
    status: Option<String>,
    page: PageParams,
) -> AppResult<Page<Document>> {
    if let Some(s) = &status
        && !["queued", "extracting", "embedding", "ready", "failed"].contains(&s.as_str())
    {
        return Err(AppError::validation("status", "must be queued, extracting, embedding, ready or failed"));
    }
    let after = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state
        .db
        .read(move |c| {
            store::find_kb(c, &tenant, kb)?.ok_or_else(kb_not_found)?;
            Ok(store::list_documents(c, &tenant, kb, status.as_deref(), after, limit)?)
        })
        .await?;
    Page::from_rows(rows, &page, |d| d.id.0)
}

/// Deletes a document with its chunks, FTS rows, vectors and codes, in one transaction.
pub async fn delete_document(state: &AppState, tenant: Tenant, id: DocumentId) -> AppResult<()> {
    state
        .db
        .write(move |tx| {
            let before = store::find_document(tx, &tenant, id)?.ok_or_else(doc_not_found)?;
            store::delete_document(tx, &tenant, id)?;
            crate::billing::usage::refresh_storage(tx, tenant.org_id())?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "document.deleted", "document", id.0)
                    .with_old(json!({ "name": before.name, "knowledge_base_id": before.knowledge_base_id.0, "chunks": before.chunk_count })),
            )
        })
        .await
}

/// Queues a failed document again.
pub async fn retry_document(state: &AppState, tenant: Tenant, id: DocumentId) -> AppResult<Document> {
    let doc = state
        .db
        .write(move |tx| {
            let doc = store::find_document(tx, &tenant, id)?.ok_or_else(doc_not_found)?;
            if doc.status != "failed" {
                return Err(AppError::new(ErrorCode::Conflict, "only a failed document can be retried"));
            }
            store::set_status(tx, &tenant, id, "queued")?;
            let job = Queue::enqueue_in(
                tx,
                &Enqueue::new(Some(tenant.org_id()), super::ingest::KIND, json!({ "document_id": id.0 })),
            )?;
            store::upsert_queue(tx, &tenant, id, Some(job), "pending", 0, 0)?;
            audit::record(tx, &AuditEntry::by(&tenant, "document.retried", "document", id.0))?;
            store::find_document(tx, &tenant, id)?.ok_or_else(doc_not_found)
        })
        .await?;
    state.jobs.notify();
    Ok(doc)
}

pub async fn list_chunks(state: &AppState, tenant: Tenant, id: DocumentId, page: PageParams) -> AppResult<Page<Chunk>> {
    let after = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state
        .db
        .read(move |c| {
            store::find_document(c, &tenant, id)?.ok_or_else(doc_not_found)?;
            Ok(store::list_chunks(c, &tenant, id, after, limit)?)
        })
        .await?;
    Page::from_rows(rows, &page, |c| c.chunk_index)
}

// ---- links -----------------------------------------------------------------

pub async fn link_bot(
    state: &AppState,
    tenant: Tenant,
    bot: BotId,
    kb: KnowledgeBaseId,
    priority: i64,
) -> AppResult<Vec<BotKnowledgeBase>> {
    if !(0..=1000).contains(&priority) {
        return Err(AppError::validation("priority", "must be between 0 and 1000"));
    }
    state
        .db
        .write(move |tx| {
            store::find_kb(tx, &tenant, kb)?.ok_or_else(kb_not_found)?;
            store::link_bot(tx, &tenant, bot, kb, priority)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "knowledge_base.linked", "bot", bot.0)
                    .with_new(json!({ "knowledge_base_id": kb.0, "priority": priority })),
            )?;
            Ok(store::bot_links(tx, &tenant, bot)?)
        })
        .await
}

pub async fn unlink_bot(state: &AppState, tenant: Tenant, bot: BotId, kb: KnowledgeBaseId) -> AppResult<()> {
    state
        .db
        .write(move |tx| {
            store::find_kb(tx, &tenant, kb)?.ok_or_else(kb_not_found)?;
            // Idempotent: unlinking what is not linked is done already.
            if !store::unlink_bot(tx, &tenant, bot, kb)? {
                return Ok(());
            }
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "knowledge_base.unlinked", "bot", bot.0)
                    .with_old(json!({ "knowledge_base_id": kb.0 })),
            )
        })
        .await
}

/// Knowledge bases linked to a bot, by priority.
pub async fn bot_knowledge_bases(state: &AppState, tenant: &Tenant, bot: BotId) -> AppResult<Vec<BotKnowledgeBase>> {
    let t = tenant.clone();
    state.db.read(move |c| Ok(store::bot_links(c, &t, bot)?)).await
}

/// Knowledge bases linked to an agent, by priority.
pub async fn agent_knowledge_bases(
    state: &AppState,
    tenant: &Tenant,
    agent_id: i64,
) -> AppResult<Vec<KnowledgeBaseId>> {
    let t = tenant.clone();
    state.db.read(move |c| Ok(store::agent_links(c, &t, agent_id)?)).await
}

// ---- search and answers (the service API) ----------------------------------

/// Searches one or more of the tenant's knowledge bases. Ids that are not the
/// tenant's answer `knowledge_base_not_found` (never another tenant's data).
pub async fn search_many(
    state: &AppState,
    tenant: &Tenant,
    kb_ids: &[KnowledgeBaseId],
    query: &str,
    opts: &SearchOptions,
) -> AppResult<SearchResponse> {
    let (t, ids) = (tenant.clone(), kb_ids.to_vec());
    let kbs = state.db.read(move |c| super::search::require_kbs(c, &t, &ids)).await?;
    let response = super::search::run(state, tenant, kbs, query, opts).await?;
    record_usage(state, tenant, None, "knowledge_search", 1).await;
    Ok(response)
}

/// Answers a question from one or more knowledge bases (extractive without
/// an LLM; grounded generation with one), with citations.
pub async fn answer(
    state: &AppState,
    tenant: &Tenant,
    kb_ids: &[KnowledgeBaseId],
    question: &str,
    opts: &AnswerOptions,
) -> AppResult<Answer> {
    super::answer::answer(state, tenant, kb_ids, question, opts).await
}

/// Like [`answer`], with the best retrieval score over every passage
/// searched (knowledge insights log it).
pub async fn answer_scored(
    state: &AppState,
    tenant: &Tenant,
    kb_ids: &[KnowledgeBaseId],
    question: &str,
    opts: &AnswerOptions,
) -> AppResult<(Answer, Option<f64>)> {
    super::answer::answer_scored(state, tenant, kb_ids, question, opts).await
}

/// Adds to the organization's daily usage counter (best effort: a failure
/// is logged, never fails the request). LLM tokens go through
/// `billing::usage::record_llm` (alerts included).
pub async fn record_usage(state: &AppState, tenant: &Tenant, bot: Option<BotId>, metric: &'static str, count: i64) {
    let org = tenant.org_id();
    let result = state
        .db
        .write(move |tx| {
            if metric == "llm_tokens" {
                crate::billing::usage::record_llm(tx, org, bot, count, 0)
            } else {
                Ok(crate::billing::usage::add_on(
                    tx,
                    org,
                    bot,
                    metric,
                    &chrono::Utc::now().format("%Y-%m-%d").to_string(),
                    count,
                )?)
            }
        })
        .await;
    if let Err(e) = result {
        tracing::warn!(error = ?e, metric, "cannot record usage");
    }
}

//! SQL of knowledge bases, documents, chunks, vectors and links. Every
//! function on tenant data takes the `Tenant` and binds its organization.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::model::{
    BotKnowledgeBase, Chunk, ChunkId, DOC_COLUMNS, Document, DocumentId, KB_COLUMNS, KnowledgeBase, KnowledgeBaseId,
};
use super::tokenizer::FtsTokenizer;
use crate::db::{query_all, query_opt};
use crate::http::Tenant;
use crate::ids::{BotId, JobId};

// ---- knowledge bases -------------------------------------------------------

/// A new knowledge base's fields (validated).
pub struct NewKb<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub embedding_model: &'a str,
    pub language: &'a str,
    pub chunk_size: i64,
    pub chunk_overlap: i64,
}

pub fn insert_kb(conn: &Connection, tenant: &Tenant, kb: &NewKb<'_>) -> rusqlite::Result<KnowledgeBaseId> {
    conn.query_row(
        "INSERT INTO knowledge_bases (organization_id, created_by, name, description, embedding_model, language,
                                      chunk_size, chunk_overlap, fts_tokenizer)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id",
        params![
            tenant.org_id(),
            tenant.user_id(),
            kb.name,
            kb.description,
            kb.embedding_model,
            kb.language,
            kb.chunk_size,
            kb.chunk_overlap,
            FtsTokenizer::for_language(kb.language).as_str()
        ],
        |r| r.get(0),
    )
}

pub fn find_kb(conn: &Connection, tenant: &Tenant, id: KnowledgeBaseId) -> rusqlite::Result<Option<KnowledgeBase>> {
    query_opt(
        conn,
        &format!("SELECT {KB_COLUMNS} FROM knowledge_bases WHERE id = ?1 AND organization_id = ?2"),
        params![id, tenant.org_id()],
    )
}

pub fn list_kbs(
    conn: &Connection,
    tenant: &Tenant,
    after: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<KnowledgeBase>> {
    query_all(
        conn,
        &format!(
            "SELECT {KB_COLUMNS} FROM knowledge_bases WHERE organization_id = ?1 AND (?2 IS NULL OR id < ?2)
             ORDER BY id DESC LIMIT ?3"
        ),
        params![tenant.org_id(), after, limit],
    )
}

/// The fields a PATCH may change (validated).
pub struct KbChanges<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub language: &'a str,
    pub chunk_size: i64,
    pub chunk_overlap: i64,
    pub status: &'a str,
}

/// Updates a knowledge base; a language that needs another tokenizer moves
/// its chunks to that tokenizer's full-text index (by the V091 triggers).
pub fn update_kb(conn: &Connection, tenant: &Tenant, id: KnowledgeBaseId, c: &KbChanges<'_>) -> rusqlite::Result<()> {
    let tokenizer = FtsTokenizer::for_language(c.language).as_str();
    conn.execute(
        "UPDATE knowledge_bases SET name = ?3, description = ?4, language = ?5, chunk_size = ?6, chunk_overlap = ?7,
                status = ?8, fts_tokenizer = ?9
         WHERE id = ?1 AND organization_id = ?2",
        params![
            id,
            tenant.org_id(),
            c.name,
            c.description,
            c.language,
            c.chunk_size,
            c.chunk_overlap,
            c.status,
            tokenizer
        ],
    )?;
    conn.execute(
        "UPDATE chunks SET fts_tokenizer = ?3 WHERE knowledge_base_id = ?1 AND organization_id = ?2 AND fts_tokenizer <> ?3",
        params![id, tenant.org_id(), tokenizer],
    )?;
    Ok(())
}

/// Starts (Some) or ends (None) a move to another embedding model.
pub fn set_pending_model(
    conn: &Connection,
    tenant: &Tenant,
    id: KnowledgeBaseId,
    pending: Option<&str>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE knowledge_bases SET pending_embedding_model = ?3,
                status = CASE WHEN ?3 IS NULL THEN (CASE status WHEN 'reindexing' THEN 'active' ELSE status END)
                              ELSE 'reindexing' END
         WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), pending],
    )?;
    Ok(())
}

/// Switches the live model (the vectors were moved by the caller).
pub fn switch_model(conn: &Connection, tenant: &Tenant, id: KnowledgeBaseId, model: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE knowledge_bases SET embedding_model = ?3, pending_embedding_model = NULL,
                status = CASE status WHEN 'reindexing' THEN 'active' ELSE status END
         WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), model],
    )?;
    Ok(())
}

pub fn delete_kb(conn: &Connection, tenant: &Tenant, id: KnowledgeBaseId) -> rusqlite::Result<bool> {
    Ok(conn
        .execute("DELETE FROM knowledge_bases WHERE id = ?1 AND organization_id = ?2", params![id, tenant.org_id()])?
        == 1)
}

pub fn touch_synced(conn: &Connection, tenant: &Tenant, id: KnowledgeBaseId) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE knowledge_bases SET last_synced_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id()],
    )?;
    Ok(())
}

/// Of `ids`, those that are the tenant's knowledge bases.
pub fn existing_kbs(
    conn: &Connection,
    tenant: &Tenant,
    ids: &[KnowledgeBaseId],
) -> rusqlite::Result<Vec<KnowledgeBase>> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(kb) = find_kb(conn, tenant, *id)? {
            out.push(kb);
        }
    }
    Ok(out)
}

/// `(index_version, index_vectors)` of a knowledge base.
pub fn index_state(conn: &Connection, tenant: &Tenant, id: KnowledgeBaseId) -> rusqlite::Result<Option<(i64, i64)>> {
    conn.query_row(
        "SELECT index_version, index_vectors FROM knowledge_bases WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id()],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

// ---- documents -------------------------------------------------------------

/// A new document's fields.
pub struct NewDocument<'a> {
    pub kb: KnowledgeBaseId,
    pub name: &'a str,
    pub kind: &'a str,
    pub source_url: Option<&'a str>,
    pub file_id: Option<i64>,
    pub size_bytes: i64,
    pub metadata: &'a Value,
    pub replaces: Option<DocumentId>,
}

pub fn insert_document(conn: &Connection, tenant: &Tenant, d: &NewDocument<'_>) -> rusqlite::Result<DocumentId> {
    conn.query_row(
        "INSERT INTO documents (organization_id, knowledge_base_id, created_by, name, type, source_url, file_id,
                                size_bytes, metadata, replaces_document_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING id",
        params![
            tenant.org_id(),
            d.kb,
            tenant.user_id(),
            d.name,
            d.kind,
            d.source_url,
            d.file_id,
            d.size_bytes,
            d.metadata.to_string(),
            d.replaces
        ],
        |r| r.get(0),
    )
}

pub fn find_document(conn: &Connection, tenant: &Tenant, id: DocumentId) -> rusqlite::Result<Option<Document>> {
    query_opt(
        conn,
        &format!(
            "SELECT {DOC_COLUMNS} FROM documents d LEFT JOIN embedding_queue q ON q.document_id = d.id
             WHERE d.id = ?1 AND d.organization_id = ?2"
        ),
        params![id, tenant.org_id()],
    )
}

pub fn list_documents(
    conn: &Connection,
    tenant: &Tenant,
    kb: KnowledgeBaseId,
    status: Option<&str>,
    after: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<Document>> {
    query_all(
        conn,
        &format!(
            "SELECT {DOC_COLUMNS} FROM documents d LEFT JOIN embedding_queue q ON q.document_id = d.id
             WHERE d.organization_id = ?1 AND d.knowledge_base_id = ?2 AND (?3 IS NULL OR d.status = ?3)
               AND (?4 IS NULL OR d.id < ?4)
             ORDER BY d.id DESC LIMIT ?5"
        ),
        params![tenant.org_id(), kb, status, after, limit],
    )
}

/// A document with the same content hash in the knowledge base (other than `except`).
pub fn find_by_hash(
    conn: &Connection,
    tenant: &Tenant,
    kb: KnowledgeBaseId,
    hash: &str,
    except: &[DocumentId],
) -> rusqlite::Result<Option<DocumentId>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM documents WHERE organization_id = ?1 AND knowledge_base_id = ?2 AND content_hash = ?3",
    )?;
    let ids: Vec<DocumentId> =
        stmt.query_map(params![tenant.org_id(), kb, hash], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(ids.into_iter().find(|id| !except.contains(id)))
}

/// A non-failed document of the knowledge base whose original file has this SHA-256.
pub fn find_by_file_hash(
    conn: &Connection,
    tenant: &Tenant,
    kb: KnowledgeBaseId,
    sha256: &str,
) -> rusqlite::Result<Option<DocumentId>> {
    conn.query_row(
        "SELECT d.id FROM documents d JOIN files f ON f.id = d.file_id
         WHERE d.organization_id = ?1 AND d.knowledge_base_id = ?2 AND f.sha256 = ?3 AND d.status <> 'failed'
         LIMIT 1",
        params![tenant.org_id(), kb, sha256],
        |r| r.get(0),
    )
    .optional()
}

pub fn set_status(conn: &Connection, tenant: &Tenant, id: DocumentId, status: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE documents SET status = ?3, error_code = NULL, error_message = NULL WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), status],
    )?;
    Ok(())
}

/// Marks a document failed and removes every chunk it had (their FTS rows,
/// vectors and codes go with them by trigger and cascade).
pub fn fail_document(
    conn: &Connection,
    tenant: &Tenant,
    id: DocumentId,
    code: &str,
    message: &str,
) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM chunks WHERE document_id = ?1 AND organization_id = ?2", params![id, tenant.org_id()])?;
    conn.execute(
        "UPDATE documents SET status = 'failed', error_code = ?3, error_message = ?4 WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), code, message],
    )?;
    conn.execute(
        "UPDATE embedding_queue SET status = 'failed', error_message = ?3, embedded_chunks = 0, total_chunks = 0
         WHERE document_id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), message],
    )?;
    Ok(())
}

pub fn set_file(conn: &Connection, tenant: &Tenant, id: DocumentId, file_id: i64, size: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE documents SET file_id = ?3, size_bytes = ?4 WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), file_id, size],
    )?;
    Ok(())
}

pub fn set_hash(conn: &Connection, tenant: &Tenant, id: DocumentId, hash: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE documents SET content_hash = ?3 WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), hash],
    )?;
    Ok(())
}

pub fn set_document_metadata(
    conn: &Connection,
    tenant: &Tenant,
    id: DocumentId,
    metadata: &Value,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE documents SET metadata = ?3 WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), metadata.to_string()],
    )?;
    Ok(())
}

pub fn delete_document(conn: &Connection, tenant: &Tenant, id: DocumentId) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM documents WHERE id = ?1 AND organization_id = ?2", params![id, tenant.org_id()])? == 1)
}

/// Creates or resets the document's embedding progress row.
pub fn upsert_queue(
    conn: &Connection,
    tenant: &Tenant,
    id: DocumentId,
    job: Option<JobId>,
    status: &str,
    total: i64,
    embedded: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO embedding_queue (organization_id, document_id, job_id, status, total_chunks, embedded_chunks, attempts)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1)
         ON CONFLICT (document_id) DO UPDATE SET job_id = coalesce(excluded.job_id, job_id), status = excluded.status,
             total_chunks = excluded.total_chunks, embedded_chunks = excluded.embedded_chunks,
             attempts = attempts + 1, error_message = NULL,
             processed_at = CASE excluded.status WHEN 'completed' THEN strftime('%Y-%m-%dT%H:%M:%fZ','now') END",
        params![tenant.org_id(), id, job, status, total, embedded],
    )?;
    Ok(())
}

pub fn progress_queue(conn: &Connection, tenant: &Tenant, id: DocumentId, embedded: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE embedding_queue SET embedded_chunks = min(?3, total_chunks) WHERE document_id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), embedded],
    )?;
    Ok(())
}

pub fn complete_queue(conn: &Connection, tenant: &Tenant, id: DocumentId) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE embedding_queue SET status = 'completed', embedded_chunks = total_chunks,
                processed_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE document_id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id()],
    )?;
    Ok(())
}

// ---- chunks ----------------------------------------------------------------

/// A chunk to insert with its vector.
pub struct NewChunk<'a> {
    pub index: i64,
    pub content: &'a str,
    pub heading_path: &'a str,
    pub token_count: i64,
    pub start_char: i64,
    pub end_char: i64,
    pub metadata: &'a Value,
    pub model: &'a str,
}

/// Inserts a chunk (idempotent on `(document_id, chunk_index)`): returns its
/// id and whether it was new.
pub fn insert_chunk(
    conn: &Connection,
    tenant: &Tenant,
    kb: KnowledgeBaseId,
    doc: DocumentId,
    c: &NewChunk<'_>,
) -> rusqlite::Result<(ChunkId, bool)> {
    let existing: Option<ChunkId> = conn
        .query_row(
            "SELECT id FROM chunks WHERE document_id = ?1 AND chunk_index = ?2 AND organization_id = ?3",
            params![doc, c.index, tenant.org_id()],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = existing {
        return Ok((id, false));
    }
    let id = conn.query_row(
        "INSERT INTO chunks (organization_id, knowledge_base_id, document_id, chunk_index, content, heading_path,
                             token_count, start_char, end_char, metadata, embedding_model, fts_tokenizer)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,
                 (SELECT fts_tokenizer FROM knowledge_bases WHERE id = ?2 AND organization_id = ?1)) RETURNING id",
        params![
            tenant.org_id(),
            kb,
            doc,
            c.index,
            c.content,
            c.heading_path,
            c.token_count,
            c.start_char,
            c.end_char,
            c.metadata.to_string(),
            c.model
        ],
        |r| r.get(0),
    )?;
    Ok((id, true))
}

/// Writes a chunk's live vector, its binary code and its int8 sketch.
pub fn insert_vector(
    conn: &Connection,
    tenant: &Tenant,
    kb: KnowledgeBaseId,
    chunk: ChunkId,
    vector: &[f32],
) -> rusqlite::Result<()> {
    use super::index::{binary_code, code_bytes, sketch_bytes};
    use crate::ml::vector_bytes;
    let mut stmt =
        conn.prepare_cached("INSERT INTO chunk_vectors (rowid, knowledge_base_id, embedding) VALUES (?1, ?2, ?3)")?;
    stmt.execute(params![chunk, kb, vector_bytes(vector)])?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO chunk_codes (chunk_id, organization_id, knowledge_base_id, code, sketch) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    stmt.execute(params![chunk, tenant.org_id(), kb, code_bytes(&binary_code(vector)), sketch_bytes(vector)])?;
    Ok(())
}

/// Replaces a chunk's live vector (and its code and sketch) by `vector`.
pub fn replace_vector(
    conn: &Connection,
    tenant: &Tenant,
    kb: KnowledgeBaseId,
    chunk: ChunkId,
    vector: &[f32],
) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM chunk_vectors WHERE rowid = ?1")?.execute(params![chunk])?;
    conn.prepare_cached("DELETE FROM chunk_codes WHERE chunk_id = ?1 AND organization_id = ?2")?
        .execute(params![chunk, tenant.org_id()])?;
    insert_vector(conn, tenant, kb, chunk, vector)
}

/// Chunk indexes of a document that already have their vector.
pub fn embedded_indexes(conn: &Connection, tenant: &Tenant, doc: DocumentId) -> rusqlite::Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.chunk_index FROM chunks c JOIN chunk_codes k ON k.chunk_id = c.id
         WHERE c.document_id = ?1 AND c.organization_id = ?2",
    )?;
    stmt.query_map(params![doc, tenant.org_id()], |r| r.get(0))?.collect()
}

pub fn delete_chunks(conn: &Connection, tenant: &Tenant, doc: DocumentId) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM chunks WHERE document_id = ?1 AND organization_id = ?2", params![doc, tenant.org_id()])
}

pub fn list_chunks(
    conn: &Connection,
    tenant: &Tenant,
    doc: DocumentId,
    after: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<Chunk>> {
    // The cursor key is the chunk index (ascending), kept in `id` of the cursor.
    query_all(
        conn,
        "SELECT c.id, c.document_id, c.chunk_index, c.content, c.heading_path, c.token_count, c.start_char, c.end_char,
                c.metadata, EXISTS (SELECT 1 FROM chunk_codes k WHERE k.chunk_id = c.id) AS embedded
         FROM chunks c WHERE c.document_id = ?1 AND c.organization_id = ?2 AND (?3 IS NULL OR c.chunk_index > ?3)
         ORDER BY c.chunk_index LIMIT ?4",
        params![doc, tenant.org_id(), after, limit],
    )
}

// ---- links -----------------------------------------------------------------

pub fn link_bot(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    kb: KnowledgeBaseId,
    priority: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO agent_knowledge_bases (organization_id, knowledge_base_id, bot_id, priority) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (bot_id, knowledge_base_id) WHERE bot_id IS NOT NULL DO UPDATE SET priority = excluded.priority",
        params![tenant.org_id(), kb, bot, priority],
    )?;
    Ok(())
}

pub fn unlink_bot(conn: &Connection, tenant: &Tenant, bot: BotId, kb: KnowledgeBaseId) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "DELETE FROM agent_knowledge_bases WHERE organization_id = ?1 AND bot_id = ?2 AND knowledge_base_id = ?3",
        params![tenant.org_id(), bot, kb],
    )? == 1)
}

pub fn bot_links(conn: &Connection, tenant: &Tenant, bot: BotId) -> rusqlite::Result<Vec<BotKnowledgeBase>> {
    query_all(
        conn,
        "SELECT l.bot_id, l.knowledge_base_id, k.name, l.priority, l.created_at
         FROM agent_knowledge_bases l JOIN knowledge_bases k ON k.id = l.knowledge_base_id
         WHERE l.organization_id = ?1 AND l.bot_id = ?2 ORDER BY l.priority, l.knowledge_base_id",
        params![tenant.org_id(), bot],
    )
}

/// Knowledge bases linked to an agent, by priority.
pub fn agent_links(conn: &Connection, tenant: &Tenant, agent_id: i64) -> rusqlite::Result<Vec<KnowledgeBaseId>> {
    let mut stmt = conn.prepare_cached(
        "SELECT knowledge_base_id FROM agent_knowledge_bases WHERE organization_id = ?1 AND agent_id = ?2
         ORDER BY priority, knowledge_base_id",
    )?;
    stmt.query_map(params![tenant.org_id(), agent_id], |r| r.get(0))?.collect()
}

pub fn bot_exists(conn: &Connection, tenant: &Tenant, bot: BotId) -> rusqlite::Result<bool> {
    conn.query_row("SELECT 1 FROM bots WHERE id = ?1 AND organization_id = ?2", params![bot, tenant.org_id()], |_| {
        Ok(())
    })
    .optional()
    .map(|r| r.is_some())
}

// ---- files -----------------------------------------------------------------

/// Stores an original (content-addressed per organization): returns the file id.
pub fn store_file(
    conn: &Connection,
    tenant: &Tenant,
    sha256: &str,
    content_type: &str,
    name: &str,
    data: &[u8],
) -> rusqlite::Result<i64> {
    let existing: Option<i64> = conn
        .query_row(
            "SELECT id FROM files WHERE organization_id = ?1 AND sha256 = ?2",
            params![tenant.org_id(), sha256],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = existing {
        return Ok(id);
    }
    conn.query_row(
        "INSERT INTO files (organization_id, sha256, size_bytes, content_type, name, data, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
        params![
            tenant.org_id(),
            sha256,
            i64::try_from(data.len()).unwrap_or(i64::MAX),
            content_type,
            name,
            data,
            tenant.user_id()
        ],
        |r| r.get(0),
    )
}

pub fn file_data(conn: &Connection, tenant: &Tenant, file_id: i64) -> rusqlite::Result<Option<(Vec<u8>, String)>> {
    conn.query_row(
        "SELECT data, content_type FROM files WHERE id = ?1 AND organization_id = ?2",
        params![file_id, tenant.org_id()],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

//! Knowledge types: ids, rows as the API shows them, request bodies.

use rusqlite::Row;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::db::{FromRow, json_column};
use crate::ids::{BotId, OrgId};

crate::id_type!(
    /// A row of `knowledge_bases`.
    KnowledgeBaseId
);
crate::id_type!(
    /// A row of `documents`.
    DocumentId
);
crate::id_type!(
    /// A row of `chunks`.
    ChunkId
);

/// A knowledge base as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct KnowledgeBase {
    pub id: KnowledgeBaseId,
    pub organization_id: OrgId,
    pub name: String,
    pub description: Option<String>,
    /// The model the live vectors were made with (see `GET /orgs/{org_id}/knowledge/models`).
    pub embedding_model: String,
    /// While a re-embedding runs: the model it moves to. Search keeps using `embedding_model`.
    pub pending_embedding_model: Option<String>,
    /// BCP 47 language tag of the content.
    pub language: String,
    /// The full-text tokenizer, from the language: `porter` (English),
    /// `unicode61` (other alphabetic languages, diacritics folded) or
    /// `trigram` (Chinese, Japanese, Korean, Thai).
    pub fts_tokenizer: String,
    /// Target chunk length in model tokens.
    pub chunk_size: i64,
    /// Tokens shared by consecutive chunks.
    pub chunk_overlap: i64,
    /// active, reindexing or archived.
    pub status: String,
    pub document_count: i64,
    pub total_chunks: i64,
    pub total_tokens: i64,
    pub total_bytes: i64,
    pub last_synced_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

pub const KB_COLUMNS: &str = "id, organization_id, name, description, embedding_model, pending_embedding_model, \
     language, fts_tokenizer, chunk_size, chunk_overlap, status, document_count, total_chunks, total_tokens, total_bytes, \
     last_synced_at, created_at, updated_at";

impl FromRow for KnowledgeBase {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(KnowledgeBase {
            id: row.get("id")?,
            organization_id: row.get("organization_id")?,
            name: row.get("name")?,
            description: row.get("description")?,
            embedding_model: row.get("embedding_model")?,
            pending_embedding_model: row.get("pending_embedding_model")?,
            language: row.get("language")?,
            fts_tokenizer: row.get("fts_tokenizer")?,
            chunk_size: row.get("chunk_size")?,
            chunk_overlap: row.get("chunk_overlap")?,
            status: row.get("status")?,
            document_count: row.get("document_count")?,
            total_chunks: row.get("total_chunks")?,
            total_tokens: row.get("total_tokens")?,
            total_bytes: row.get("total_bytes")?,
            last_synced_at: row.get("last_synced_at")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

/// `POST /orgs/{org_id}/knowledge-bases`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKnowledgeBaseRequest {
    #[schema(example = "Product handbook")]
    pub name: String,
    pub description: Option<String>,
    /// Default: the server's built-in model.
    pub embedding_model: Option<String>,
    /// Default `en`.
    pub language: Option<String>,
    /// Tokens per chunk, 32–512 (default 256; the model reads at most its own limit).
    pub chunk_size: Option<i64>,
    /// Tokens of overlap, 0 to half the chunk size (default 32).
    pub chunk_overlap: Option<i64>,
}

/// `PATCH /knowledge-bases/{kb_id}`: absent fields stay. Chunking settings
/// apply to documents ingested afterwards; a new embedding model re-embeds
/// the knowledge base in the background.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateKnowledgeBaseRequest {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    pub embedding_model: Option<String>,
    pub language: Option<String>,
    pub chunk_size: Option<i64>,
    pub chunk_overlap: Option<i64>,
    /// `active` or `archived`.
    pub status: Option<String>,
}

/// Embedding progress of a document (its `embedding_queue` row).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DocumentProgress {
    /// pending, processing, completed or failed.
    pub status: String,
    pub total_chunks: i64,
    pub embedded_chunks: i64,
}

/// A document as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Document {
    pub id: DocumentId,
    pub knowledge_base_id: KnowledgeBaseId,
    pub name: String,
    /// txt, md, html, pdf, docx, csv, json, url or text (pasted).
    #[serde(rename = "type")]
    pub kind: String,
    pub source_url: Option<String>,
    pub file_id: Option<i64>,
    pub size_bytes: i64,
    /// SHA-256 of the extracted text (de-duplication within the knowledge base).
    pub content_hash: Option<String>,
    /// queued, extracting, embedding, ready or failed.
    pub status: String,
    /// Stable code of the failure (see docs/api-errors.md).
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub chunk_count: i64,
    pub token_count: i64,
    #[schema(value_type = Object)]
    pub metadata: Value,
    /// The document this one replaces once it is ready.
    pub replaces_document_id: Option<DocumentId>,
    pub progress: Option<DocumentProgress>,
    pub created_at: String,
    pub updated_at: String,
}

pub const DOC_COLUMNS: &str = "d.id, d.knowledge_base_id, d.name, d.type, d.source_url, d.file_id, d.size_bytes, \
     d.content_hash, d.status, d.error_code, d.error_message, d.chunk_count, d.token_count, d.metadata, \
     d.replaces_document_id, d.created_at, d.updated_at, q.status AS q_status, q.total_chunks AS q_total, \
     q.embedded_chunks AS q_embedded";

impl FromRow for Document {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let q_status: Option<String> = row.get("q_status")?;
        Ok(Document {
            id: row.get("id")?,
            knowledge_base_id: row.get("knowledge_base_id")?,
            name: row.get("name")?,
            kind: row.get("type")?,
            source_url: row.get("source_url")?,
            file_id: row.get("file_id")?,
            size_bytes: row.get("size_bytes")?,
            content_hash: row.get("content_hash")?,
            status: row.get("status")?,
            error_code: row.get("error_code")?,
            error_message: row.get("error_message")?,
            chunk_count: row.get("chunk_count")?,
            token_count: row.get("token_count")?,
            metadata: json_column(row, "metadata")?.unwrap_or(Value::Null),
            replaces_document_id: row.get("replaces_document_id")?,
            progress: match q_status {
                Some(status) => Some(DocumentProgress {
                    status,
                    total_chunks: row.get("q_total")?,
                    embedded_chunks: row.get("q_embedded")?,
                }),
                None => None,
            },
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

/// A chunk as the chunk viewer shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Chunk {
    pub id: ChunkId,
    pub document_id: DocumentId,
    pub chunk_index: i64,
    pub content: String,
    /// Headings above the chunk, joined with ` > `.
    pub heading_path: String,
    pub token_count: i64,
    pub start_char: Option<i64>,
    pub end_char: Option<i64>,
    /// `page`, `source_url`, `row` … depending on the document type.
    #[schema(value_type = Object)]
    pub metadata: Value,
    /// Whether the chunk has its vector (false while embedding).
    pub embedded: bool,
}

impl FromRow for Chunk {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Chunk {
            id: row.get("id")?,
            document_id: row.get("document_id")?,
            chunk_index: row.get("chunk_index")?,
            content: row.get("content")?,
            heading_path: row.get("heading_path")?,
            token_count: row.get("token_count")?,
            start_char: row.get("start_char")?,
            end_char: row.get("end_char")?,
            metadata: json_column(row, "metadata")?.unwrap_or(Value::Null),
            embedded: row.get("embedded")?,
        })
    }
}

/// `POST /knowledge-bases/{kb_id}/documents/text`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasteTextRequest {
    #[schema(example = "Returns policy")]
    pub name: String,
    /// Plain text or Markdown (headings are kept as the heading path).
    pub text: String,
    /// Extra metadata stored on the document and its chunks (filterable).
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

/// `POST /knowledge-bases/{kb_id}/documents/url`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddUrlRequest {
    #[schema(example = "https://example.com/help")]
    pub url: String,
    /// Follow links on the same host (default false: just this page).
    #[serde(default)]
    pub crawl: bool,
    /// Link depth from the start page when crawling, 0–5 (default 2).
    pub max_depth: Option<u32>,
    /// Most pages fetched when crawling, 1–500 (default 50).
    pub max_pages: Option<u32>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

/// What adding a URL started.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AddUrlResponse {
    /// The page's document (single page), created at once with status `queued`.
    pub document: Option<Document>,
    /// The crawl job (crawl): `GET /jobs/{job_id}` shows pages fetched; each page becomes a document.
    pub job_id: Option<i64>,
}

/// `PUT /bots/{bot_id}/knowledge-bases/{kb_id}`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    /// Lower is searched first when results tie (default 1).
    pub priority: Option<i64>,
}

/// A knowledge base linked to a bot.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BotKnowledgeBase {
    pub bot_id: BotId,
    pub knowledge_base_id: KnowledgeBaseId,
    pub name: String,
    pub priority: i64,
    pub created_at: String,
}

impl FromRow for BotKnowledgeBase {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(BotKnowledgeBase {
            bot_id: row.get("bot_id")?,
            knowledge_base_id: row.get("knowledge_base_id")?,
            name: row.get("name")?,
            priority: row.get("priority")?,
            created_at: row.get("created_at")?,
        })
    }
}

/// An embedding model this server can run.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EmbeddingModel {
    /// The name knowledge bases refer to.
    pub name: String,
    /// Model file identity (name and content hash) once loaded.
    pub model_id: Option<String>,
    pub dimensions: Option<usize>,
    pub default: bool,
}

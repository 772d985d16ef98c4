//! Knowledge routes: thin handlers over `service`.

use actix_multipart::Multipart;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;
use utoipa_actix_web::service_config::ServiceConfig;

use super::answer::{self, Answer, AnswerEvent, AnswerOptions, AnswerRequest, MultiAnswerRequest};
use super::model::{
    AddUrlRequest, AddUrlResponse, BotKnowledgeBase, Chunk, CreateKnowledgeBaseRequest, Document, EmbeddingModel,
    KnowledgeBase, KnowledgeBaseId, LinkRequest, PasteTextRequest, UpdateKnowledgeBaseRequest,
};
use super::search::{MultiSearchRequest, SearchOptions, SearchRequest, SearchResponse};
use super::service::{self, Upload};
use super::{DocScope, KbScope};
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorBody, ErrorCode};
use crate::http::sse::{SseEvent, sse_response};
use crate::http::{BotScope, Json, OrgScope, Page, PageParams, Tenant};
use crate::ids::BotId;
use crate::permissions::perm;

/// Registers the knowledge routes.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_knowledge_base)
        .service(list_knowledge_bases)
        .service(list_embedding_models)
        .service(search_knowledge_bases)
        .service(answer_knowledge_bases)
        .service(get_knowledge_base)
        .service(update_knowledge_base)
        .service(delete_knowledge_base)
        .service(upload_document)
        .service(paste_document)
        .service(add_url_document)
        .service(list_documents)
        .service(search_knowledge_base)
        .service(answer_knowledge_base)
        .service(get_document)
        .service(delete_document)
        .service(replace_document)
        .service(retry_document)
        .service(list_chunks)
        .service(list_bot_knowledge_bases)
        .service(link_bot_knowledge_base)
        .service(unlink_bot_knowledge_base)
        .service(search_bot_knowledge);
}

/// The multipart form of an upload (documentation only).
#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "describes the multipart body in OpenAPI")]
pub struct UploadForm {
    /// The file: .txt, .md, .html, .pdf, .docx, .csv or .json (type checked against the content).
    #[schema(format = Binary, value_type = String)]
    file: Vec<u8>,
    /// Document name (default: the file name).
    name: Option<String>,
    /// JSON object of metadata copied onto the chunks (filterable in search).
    metadata: Option<String>,
}

/// Creates a knowledge base.
#[utoipa::path(
    tag = "knowledge",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = CreateKnowledgeBaseRequest,
    responses((status = 201, body = KnowledgeBase), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["knowledge.write"]), ("api_token" = ["knowledge.write"]))
)]
#[post("/orgs/{org_id}/knowledge-bases")]
async fn create_knowledge_base(
    scope: OrgScope<perm::KnowledgeWrite>,
    state: web::Data<AppState>,
    body: Json<CreateKnowledgeBaseRequest>,
) -> AppResult<HttpResponse> {
    let kb = service::create_kb(&state, scope.into_tenant(), body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(kb))
}

/// Lists the organization's knowledge bases with their statistics, newest first.
#[utoipa::path(
    tag = "knowledge",
    params(("org_id" = i64, Path, description = "Organization id"), PageParams),
    responses((status = 422, body = ErrorBody, description = "`validation_failed`: `limit` outside 1–200 or a malformed `after` cursor"), (status = 200, body = Page<KnowledgeBase>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["knowledge.read"]), ("api_token" = ["knowledge.read"]))
)]
#[get("/orgs/{org_id}/knowledge-bases")]
async fn list_knowledge_bases(
    scope: OrgScope<perm::KnowledgeRead>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<KnowledgeBase>>> {
    Ok(web::Json(service::list_kbs(&state, scope.into_tenant(), page.into_inner()).await?))
}

/// Lists the embedding models a knowledge base can use.
#[utoipa::path(
    tag = "knowledge",
    params(("org_id" = i64, Path, description = "Organization id")),
    responses((status = 200, body = Vec<EmbeddingModel>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["knowledge.read"]), ("api_token" = ["knowledge.read"]))
)]
#[get("/orgs/{org_id}/knowledge/models")]
async fn list_embedding_models(
    _scope: OrgScope<perm::KnowledgeRead>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<Vec<EmbeddingModel>>> {
    Ok(web::Json(state.knowledge.models.describe(&state).await))
}

/// Searches several of the organization's knowledge bases at once.
#[utoipa::path(
    tag = "knowledge",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = MultiSearchRequest,
    responses((status = 200, body = SearchResponse), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody, description = "`knowledge_base_not_found`: an id is not one of the organization's"),
              (status = 422, body = ErrorBody)),
    security(("session" = ["knowledge.read"]), ("api_token" = ["knowledge.read"]))
)]
#[post("/orgs/{org_id}/knowledge/search")]
async fn search_knowledge_bases(
    scope: OrgScope<perm::KnowledgeRead>,
    state: web::Data<AppState>,
    body: Json<MultiSearchRequest>,
) -> AppResult<web::Json<SearchResponse>> {
    let req = body.into_inner()?;
    let opts = SearchOptions::from_request(req.top_k, req.mode, req.filters)?;
    Ok(web::Json(service::search_many(&state, scope.tenant(), &req.knowledge_base_ids, &req.query, &opts).await?))
}

/// Answers a question from several knowledge bases (JSON, or SSE with `Accept: text/event-stream`).
#[utoipa::path(
    tag = "knowledge",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = MultiAnswerRequest,
    responses((status = 200, body = Answer, description = "JSON; with `Accept: text/event-stream` the events `sources`, `token`, `fallback`, `done`"),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["knowledge.read"]), ("api_token" = ["knowledge.read"]))
)]
#[post("/orgs/{org_id}/knowledge/answer")]
async fn answer_knowledge_bases(
    scope: OrgScope<perm::KnowledgeRead>,
    state: web::Data<AppState>,
    request: HttpRequest,
    body: Json<MultiAnswerRequest>,
) -> AppResult<HttpResponse> {
    let req = body.into_inner()?;
    let opts = AnswerOptions::from_request(req.top_k, req.use_llm, req.provider_id, req.min_score, req.filters)?;
    respond_answer(&state, scope.tenant(), &req.knowledge_base_ids, &req.question, &opts, &request).await
}

/// Shows a knowledge base with its statistics.
#[utoipa::path(
    tag = "knowledge",
    params(("kb_id" = i64, Path, description = "Knowledge base id")),
    responses((status = 200, body = KnowledgeBase), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["knowledge.read"]), ("api_token" = ["knowledge.read"]))
)]
#[get("/knowledge-bases/{kb_id}")]
async fn get_knowledge_base(
    scope: KbScope<perm::KnowledgeRead>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<KnowledgeBase>> {
    let id = scope.id();
    Ok(web::Json(service::get_kb(&state, scope.into_tenant(), id).await?))
}

/// Changes a knowledge base; a new embedding model re-embeds it in the background.
#[utoipa::path(
    tag = "knowledge",
    params(("kb_id" = i64, Path, description = "Knowledge base id")),
    request_body = UpdateKnowledgeBaseRequest,
    responses((status = 200, body = KnowledgeBase), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["knowledge.write"]), ("api_token" = ["knowledge.write"]))
)]
#[patch("/knowledge-bases/{kb_id}")]
async fn update_knowledge_base(
    scope: KbScope<perm::KnowledgeWrite>,
    state: web::Data<AppState>,
    body: Json<UpdateKnowledgeBaseRequest>,
) -> AppResult<web::Json<KnowledgeBase>> {
    let id = scope.id();
    Ok(web::Json(service::update_kb(&state, scope.into_tenant(), id, body.into_inner()?).await?))
}

/// Deletes a knowledge base with all its documents, chunks and vectors.
#[utoipa::path(
    tag = "knowledge",
    params(("kb_id" = i64, Path, description = "Knowledge base id")),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["knowledge.write"]), ("api_token" = ["knowledge.write"]))
)]
#[delete("/knowledge-bases/{kb_id}")]
async fn delete_knowledge_base(
    scope: KbScope<perm::KnowledgeWrite>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    service::delete_kb(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

fn is_multipart(request: &HttpRequest) -> bool {
    request
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"))
}

/// Reads the upload form, refusing files over `limit` bytes while streaming.
async fn read_upload(request: &HttpRequest, mut form: Multipart, limit: usize) -> AppResult<Upload> {
    if !is_multipart(request) {
        return Err(AppError::new(
            ErrorCode::UnsupportedMediaType,
            "expected Content-Type: multipart/form-data with a `file` part",
        ));
    }
    let bad = |e: actix_multipart::MultipartError| {
        AppError::new(ErrorCode::InvalidJson, format!("malformed multipart body: {e}"))
    };
    let too_large = || {
        AppError::new(ErrorCode::PayloadTooLarge, format!("the file exceeds the upload limit of {limit} bytes"))
            .with_details(json!({ "limit_bytes": limit, "field": "file" }))
    };
    let mut upload =
        Upload { file_name: String::new(), content_type: None, bytes: Vec::new(), name: None, metadata: None };
    let mut seen_file = false;
    while let Some(field) = form.next().await {
        let mut field = field.map_err(bad)?;
        let field_name = field.name().unwrap_or_default().to_owned();
        match field_name.as_str() {
            "file" => {
                if seen_file {
                    return Err(AppError::validation("file", "send one file per request"));
                }
                seen_file = true;
                upload.file_name =
                    field.content_disposition().and_then(|d| d.get_filename()).unwrap_or_default().to_owned();
                upload.content_type = field.content_type().map(ToString::to_string);
                while let Some(chunk) = field.next().await {
                    let chunk = chunk.map_err(bad)?;
                    if upload.bytes.len() + chunk.len() > limit {
                        return Err(too_large());
                    }
                    upload.bytes.extend_from_slice(&chunk);
                }
            }
            "name" | "metadata" => {
                let mut text = Vec::new();
                while let Some(chunk) = field.next().await {
                    let chunk = chunk.map_err(bad)?;
                    if text.len() + chunk.len() > 16 * 1024 {
                        return Err(AppError::validation(field_name.clone(), "at most 16 KiB"));
                    }
                    text.extend_from_slice(&chunk);
                }
                let text =
                    String::from_utf8(text).map_err(|_| AppError::validation(field_name.clone(), "not UTF-8"))?;
                if field_name == "name" {
                    upload.name = Some(text);
                } else if !text.trim().is_empty() {
                    upload.metadata = Some(
                        serde_json::from_str(&text)
                            .map_err(|_| AppError::validation("metadata", "must be a JSON object"))?,
                    );
                }
            }
            _ => {
                // Unknown parts are drained and ignored.
                while let Some(chunk) = field.next().await {
                    chunk.map_err(bad)?;
                }
            }
        }
    }
    if !seen_file {
        return Err(AppError::validation("file", "the form has no `file` part"));
    }
    Ok(upload)
}

/// Uploads a document (multipart `file`, optional `name` and `metadata`); ingestion runs in the background.
#[utoipa::path(
    tag = "knowledge",
    params(("kb_id" = i64, Path, description = "Knowledge base id")),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = Document), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`duplicate_document`"),
              (status = 413, body = ErrorBody), (status = 415, body = ErrorBody, description = "`unsupported_file_type` or not multipart"),
              (status = 422, body = ErrorBody, description = "`file_type_mismatch`, `empty_document`, `validation_failed`")),
    security(("session" = ["knowledge.write"]), ("api_token" = ["knowledge.write"]))
)]
#[post("/knowledge-bases/{kb_id}/documents")]
async fn upload_document(
    scope: KbScope<perm::KnowledgeWrite>,
    state: web::Data<AppState>,
    request: HttpRequest,
    form: Multipart,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    let upload = read_upload(&request, form, state.config.http.max_upload_bytes).await?;
    let doc = service::upload(&state, scope.into_tenant(), id, upload).await?;
    Ok(HttpResponse::Created().json(doc))
}

/// Adds pasted text (Markdown headings are kept) as a document.
#[utoipa::path(
    tag = "knowledge",
    params(("kb_id" = i64, Path, description = "Knowledge base id")),
    request_body = PasteTextRequest,
    responses((status = 201, body = Document), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["knowledge.write"]), ("api_token" = ["knowledge.write"]))
)]
#[post("/knowledge-bases/{kb_id}/documents/text")]
async fn paste_document(
    scope: KbScope<perm::KnowledgeWrite>,
    state: web::Data<AppState>,
    body: Json<PasteTextRequest>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    let doc = service::paste(&state, scope.into_tenant(), id, body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(doc))
}

/// Adds a web page, or crawls a site (same host, depth and page limits).
#[utoipa::path(
    tag = "knowledge",
    params(("kb_id" = i64, Path, description = "Knowledge base id")),
    request_body = AddUrlRequest,
    responses((status = 201, body = AddUrlResponse, description = "A single page: its document"),
              (status = 202, body = AddUrlResponse, description = "A crawl: its job"),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "`url_not_allowed`: not http(s) or a private address")),
    security(("session" = ["knowledge.write"]), ("api_token" = ["knowledge.write"]))
)]
#[post("/knowledge-bases/{kb_id}/documents/url")]
async fn add_url_document(
    scope: KbScope<perm::KnowledgeWrite>,
    state: web::Data<AppState>,
    body: Json<AddUrlRequest>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    let response = service::add_url(&state, scope.into_tenant(), id, body.into_inner()?).await?;
    Ok(if response.job_id.is_some() {
        HttpResponse::Accepted().json(response)
    } else {
        HttpResponse::Created().json(response)
    })
}

/// Query of the document list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DocumentQuery {
    pub limit: Option<u32>,
    pub after: Option<String>,
    /// Only documents with this status.
    pub status: Option<String>,
}

/// Lists a knowledge base's documents with status, errors and embedding progress.
#[utoipa::path(
    tag = "knowledge",
    params(("kb_id" = i64, Path, description = "Knowledge base id"), DocumentQuery),
    responses((status = 200, body = Page<Document>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["knowledge.read"]), ("api_token" = ["knowledge.read"]))
)]
#[get("/knowledge-bases/{kb_id}/documents")]
async fn list_documents(
    scope: KbScope<perm::KnowledgeRead>,
    state: web::Data<AppState>,
    query: web::Query<DocumentQuery>,
) -> AppResult<web::Json<Page<Document>>> {
    let id = scope.id();
    let q = query.into_inner();
    let page = PageParams { limit: q.limit, after: q.after };
    Ok(web::Json(service::list_documents(&state, scope.into_tenant(), id, q.status, page).await?))
}

/// Searches a knowledge base: hybrid (default), vector or keyword, with filters.
#[utoipa::path(
    tag = "knowledge",
    params(("kb_id" = i64, Path, description = "Knowledge base id")),
    request_body = SearchRequest,
    responses((status = 200, body = SearchResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["knowledge.read"]), ("api_token" = ["knowledge.read"]))
)]
#[post("/knowledge-bases/{kb_id}/search")]
async fn search_knowledge_base(
    scope: KbScope<perm::KnowledgeRead>,
    state: web::Data<AppState>,
    body: Json<SearchRequest>,
) -> AppResult<web::Json<SearchResponse>> {
    let id = scope.id();
    let req = body.into_inner()?;
    let opts = SearchOptions::from_request(req.top_k, req.mode, req.filters)?;
    Ok(web::Json(service::search_many(&state, scope.tenant(), &[id], &req.query, &opts).await?))
}

/// Answers a question with citations (JSON, or SSE with `Accept: text/event-stream`).
#[utoipa::path(
    tag = "knowledge",
    params(("kb_id" = i64, Path, description = "Knowledge base id")),
    request_body = AnswerRequest,
    responses((status = 200, body = Answer, description = "JSON; with `Accept: text/event-stream` the events `sources`, `token`, `fallback`, `done`"),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["knowledge.read"]), ("api_token" = ["knowledge.read"]))
)]
#[post("/knowledge-bases/{kb_id}/answer")]
async fn answer_knowledge_base(
    scope: KbScope<perm::KnowledgeRead>,
    state: web::Data<AppState>,
    request: HttpRequest,
    body: Json<AnswerRequest>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    let req = body.into_inner()?;
    let opts = AnswerOptions::from_request(req.top_k, req.use_llm, req.provider_id, req.min_score, req.filters)?;
    respond_answer(&state, scope.tenant(), &[id], &req.question, &opts, &request).await
}

async fn respond_answer(
    state: &AppState,
    tenant: &Tenant,
    kbs: &[KnowledgeBaseId],
    question: &str,
    opts: &AnswerOptions,
    request: &HttpRequest,
) -> AppResult<HttpResponse> {
    let wants_stream = request
        .headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    if !wants_stream {
        return Ok(HttpResponse::Ok().json(service::answer(state, tenant, kbs, question, opts).await?));
    }
    let events = answer::answer_stream(state, tenant, kbs, question, opts).await?;
    Ok(sse_response(events.map(|e| match e {
        AnswerEvent::Sources(c) => SseEvent::json("sources", &json!({ "citations": c })),
        AnswerEvent::Token(t) => SseEvent::json("token", &json!({ "text": t })),
        AnswerEvent::Fallback(reason) => SseEvent::json("fallback", &json!({ "reason": reason })),
        AnswerEvent::Done(a) => SseEvent::json("done", &serde_json::to_value(a).unwrap_or_default()),
    })))
}

/// Shows a document: status, error, progress.
#[utoipa::path(
    tag = "knowledge",
    params(("document_id" = i64, Path, description = "Document id")),
    responses((status = 200, body = Document), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["knowledge.read"]), ("api_token" = ["knowledge.read"]))
)]
#[get("/documents/{document_id}")]
async fn get_document(
    scope: DocScope<perm::KnowledgeRead>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<Document>> {
    let id = scope.id();
    Ok(web::Json(service::get_document(&state, scope.into_tenant(), id).await?))
}

/// Deletes a document with its chunks, FTS rows and vectors (one transaction).
#[utoipa::path(
    tag = "knowledge",
    params(("document_id" = i64, Path, description = "Document id")),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["knowledge.write"]), ("api_token" = ["knowledge.write"]))
)]
#[delete("/documents/{document_id}")]
async fn delete_document(scope: DocScope<perm::KnowledgeWrite>, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let id = scope.id();
    service::delete_document(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Uploads a new version of a document; it replaces the old one once ready.
#[utoipa::path(
    tag = "knowledge",
    params(("document_id" = i64, Path, description = "Document id")),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = Document), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["knowledge.write"]), ("api_token" = ["knowledge.write"]))
)]
#[post("/documents/{document_id}/replace")]
async fn replace_document(
    scope: DocScope<perm::KnowledgeWrite>,
    state: web::Data<AppState>,
    request: HttpRequest,
    form: Multipart,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    let upload = read_upload(&request, form, state.config.http.max_upload_bytes).await?;
    let doc = service::replace(&state, scope.into_tenant(), id, upload).await?;
    Ok(HttpResponse::Created().json(doc))
}

/// Queues a failed document for ingestion again.
#[utoipa::path(
    tag = "knowledge",
    params(("document_id" = i64, Path, description = "Document id")),
    responses((status = 200, body = Document), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("session" = ["knowledge.write"]), ("api_token" = ["knowledge.write"]))
)]
#[post("/documents/{document_id}/retry")]
async fn retry_document(
    scope: DocScope<perm::KnowledgeWrite>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<Document>> {
    let id = scope.id();
    Ok(web::Json(service::retry_document(&state, scope.into_tenant(), id).await?))
}

/// Lists a document's chunks in order (chunk viewer).
#[utoipa::path(
    tag = "knowledge",
    params(("document_id" = i64, Path, description = "Document id"), PageParams),
    responses((status = 422, body = ErrorBody, description = "`validation_failed`: `limit` outside 1–200 or a malformed `after` cursor"), (status = 200, body = Page<Chunk>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["knowledge.read"]), ("api_token" = ["knowledge.read"]))
)]
#[get("/documents/{document_id}/chunks")]
async fn list_chunks(
    scope: DocScope<perm::KnowledgeRead>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Chunk>>> {
    let id = scope.id();
    Ok(web::Json(service::list_chunks(&state, scope.into_tenant(), id, page.into_inner()).await?))
}

/// Lists the knowledge bases linked to a bot.
#[utoipa::path(
    tag = "knowledge",
    params(("bot_id" = i64, Path, description = "Bot id")),
    responses((status = 200, body = Vec<BotKnowledgeBase>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["knowledge.read"]), ("api_token" = ["knowledge.read"]))
)]
#[get("/bots/{bot_id}/knowledge-bases")]
async fn list_bot_knowledge_bases(
    scope: BotScope<perm::KnowledgeRead>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<Vec<BotKnowledgeBase>>> {
    let id = scope.id();
    Ok(web::Json(service::bot_knowledge_bases(&state, scope.tenant(), id).await?))
}

/// Links a knowledge base to a bot (or changes the link's priority).
#[utoipa::path(
    tag = "knowledge",
    params(("bot_id" = i64, Path, description = "Bot id"), ("kb_id" = i64, Path, description = "Knowledge base id")),
    request_body = LinkRequest,
    responses((status = 200, body = Vec<BotKnowledgeBase>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["knowledge.write"]), ("api_token" = ["knowledge.write"]))
)]
#[put("/bots/{bot_id}/knowledge-bases/{kb_id}")]
async fn link_bot_knowledge_base(
    scope: BotScope<perm::KnowledgeWrite>,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
    body: web::Bytes,
) -> AppResult<web::Json<Vec<BotKnowledgeBase>>> {
    let bot = scope.id();
    let kb = KnowledgeBaseId(path.1);
    // The body is optional: an empty one links with the default priority.
    let req: LinkRequest = if body.iter().all(u8::is_ascii_whitespace) {
        LinkRequest::default()
    } else {
        crate::http::json::parse_json(&body)?
    };
    Ok(web::Json(service::link_bot(&state, scope.into_tenant(), bot, kb, req.priority.unwrap_or(1)).await?))
}

/// Unlinks a knowledge base from a bot.
#[utoipa::path(
    tag = "knowledge",
    params(("bot_id" = i64, Path, description = "Bot id"), ("kb_id" = i64, Path, description = "Knowledge base id")),
    responses((status = 204, description = "Unlinked"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["knowledge.write"]), ("api_token" = ["knowledge.write"]))
)]
#[delete("/bots/{bot_id}/knowledge-bases/{kb_id}")]
async fn unlink_bot_knowledge_base(
    scope: BotScope<perm::KnowledgeWrite>,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
) -> AppResult<HttpResponse> {
    let bot: BotId = scope.id();
    service::unlink_bot(&state, scope.into_tenant(), bot, KnowledgeBaseId(path.1)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Searches all knowledge bases linked to a bot.
#[utoipa::path(
    tag = "knowledge",
    params(("bot_id" = i64, Path, description = "Bot id")),
    request_body = SearchRequest,
    responses((status = 200, body = SearchResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["knowledge.read"]), ("api_token" = ["knowledge.read"]))
)]
#[post("/bots/{bot_id}/knowledge/search")]
async fn search_bot_knowledge(
    scope: BotScope<perm::KnowledgeRead>,
    state: web::Data<AppState>,
    body: Json<SearchRequest>,
) -> AppResult<web::Json<SearchResponse>> {
    let bot = scope.id();
    let req = body.into_inner()?;
    let opts = SearchOptions::from_request(req.top_k, req.mode, req.filters)?;
    let kbs: Vec<KnowledgeBaseId> = service::bot_knowledge_bases(&state, scope.tenant(), bot)
        .await?
        .into_iter()
        .map(|l| l.knowledge_base_id)
        .collect();
    if kbs.is_empty() {
        super::search::check_query(&req.query)?;
        return Ok(web::Json(SearchResponse {
            results: Vec::new(),
            mode: opts.mode,
            approximate: false,
            took_ms: 0.0,
        }));
    }
    Ok(web::Json(service::search_many(&state, scope.tenant(), &kbs, &req.query, &opts).await?))
}

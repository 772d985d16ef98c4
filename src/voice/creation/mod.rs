//! Voice-to-bot (issue 26): a spoken description of a phone bot — uploaded,
//! or recorded in the browser — becomes a bot. See [`service`] for the
//! steps; every one is recorded on the creation (`voice_bot_creations`).

pub mod audio;
pub mod extraction;
pub mod model;
pub mod service;
pub mod store;

use actix_multipart::Multipart;
use actix_web::{HttpRequest, HttpResponse, get, post, put, web};
use futures_util::StreamExt as _;
use rusqlite::{Connection, OptionalExtension};
use serde_json::Value;
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::{CreateBotFromCreationRequest, VoiceBotCreation, VoiceBotCreationId, VoiceBotFromCreation};
use self::service::{ExtractionMode, NewDescription};
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorBody, ErrorCode};
use crate::http::scope::{Owner, ScopeResource, Scoped};
use crate::http::{Json, OrgScope};
use crate::llm::model::LlmProviderId;
use crate::permissions::perm;

/// `/voice-bot-creations/{creation_id}/…`
pub struct CreationResource;
impl ScopeResource for CreationResource {
    const PARAM: &'static str = "creation_id";
    const NOT_FOUND: ErrorCode = ErrorCode::VoiceBotCreationNotFound;
    type Id = VoiceBotCreationId;
    fn owner(conn: &Connection, id: VoiceBotCreationId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row("SELECT organization_id FROM voice_bot_creations WHERE id = ?1", [id], |r| {
            Ok(Owner { org_id: r.get(0)?, bot_id: None })
        })
        .optional()
    }
}

/// Registers the voice-to-bot routes under `/api/v1`.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(voice_describe_bot)
        .service(voice_get_creation)
        .service(voice_fill_creation_form)
        .service(voice_create_bot_from_creation);
}

/// Longest text of a form field other than the audio.
const MAX_FIELD_BYTES: usize = 1024;

/// Reads the description form, refusing audio over `limit` bytes while streaming.
async fn read_form(request: &HttpRequest, mut form: Multipart, limit: usize) -> AppResult<NewDescription> {
    let multipart = request
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    if !multipart {
        return Err(AppError::new(
            ErrorCode::UnsupportedMediaType,
            "expected Content-Type: multipart/form-data with an `audio` part",
        ));
    }
    let bad = |e: actix_multipart::MultipartError| {
        AppError::new(ErrorCode::InvalidJson, format!("malformed multipart body: {e}"))
    };
    let mut out = NewDescription {
        audio: Vec::new(),
        language: None,
        transcription_model: None,
        chat_model: None,
        provider_id: None,
        extraction: ExtractionMode::Model,
    };
    let mut seen_audio = false;
    while let Some(field) = form.next().await {
        let mut field = field.map_err(bad)?;
        let name = field.name().unwrap_or_default().to_owned();
        if name == "audio" {
            if seen_audio {
                return Err(AppError::validation("audio", "send one recording per request"));
            }
            seen_audio = true;
            while let Some(chunk) = field.next().await {
                let chunk = chunk.map_err(bad)?;
                if out.audio.len() + chunk.len() > limit {
                    return Err(audio::too_large(limit));
                }
                out.audio.extend_from_slice(&chunk);
            }
            continue;
        }
        let mut text = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(bad)?;
            if text.len() + chunk.len() > MAX_FIELD_BYTES {
                return Err(AppError::validation(name.clone(), "at most 1 KiB"));
            }
            text.extend_from_slice(&chunk);
        }
        let text = String::from_utf8(text).map_err(|_| AppError::validation(name.clone(), "not UTF-8"))?;
        let text = text.trim().to_owned();
        match name.as_str() {
            "language" => out.language = Some(text),
            "transcription_model" => out.transcription_model = Some(text),
            "chat_model" => out.chat_model = Some(text),
            "provider_id" if !text.is_empty() => {
                let id = text.parse::<i64>().map_err(|_| AppError::validation("provider_id", "an LLM provider id"))?;
                out.provider_id = Some(LlmProviderId(id));
            }
            "extraction" => {
                out.extraction = match text.as_str() {
                    "" | "model" => ExtractionMode::Model,
                    "form" => ExtractionMode::Form,
                    _ => return Err(AppError::validation("extraction", "`model` or `form`")),
                };
            }
            // Unknown parts are read and ignored.
            _ => {}
        }
    }
    if !seen_audio || out.audio.is_empty() {
        return Err(AppError::validation("audio", "the form has no `audio` recording"));
    }
    Ok(out)
}

/// Voice-to-bot: upload (or record in the browser) a spoken description of
/// the bot. It is transcribed through the organization's `OpenAI`-compatible
/// provider (`/audio/transcriptions`), then the chat model extracts intents,
/// questions and answers (JSON validated against a schema) and a phone flow
/// is drafted for preview. With `extraction=form`, or when no model answers
/// usably, the guided form (`PUT …/extraction`) takes over.
#[utoipa::path(
    tag = "voice",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body(content = model::DescriptionForm, content_type = "multipart/form-data"),
    responses((status = 201, body = VoiceBotCreation, description = "Transcribed; `next_step` is `review` (a draft to preview) or `form`"),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`llm_not_configured`: no OpenAI-compatible provider to transcribe with"),
              (status = 415, body = ErrorBody, description = "`unsupported_media_type`: not multipart"),
              (status = 422, body = ErrorBody, description = "`voice_audio_unsupported`, `voice_audio_too_large`, `voice_transcript_empty`, `voice_extraction_invalid` (with `details.creation_id` and `details.guided_form`), `validation_failed` (`audio`, `language`, `transcription_model`, `chat_model`, `provider_id`, `extraction`)"),
              (status = 502, body = ErrorBody, description = "`llm_failed`: the transcription or the extraction call failed (`details.creation_id`)")),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[post("/orgs/{org_id}/voice-bot-creations")]
async fn voice_describe_bot(
    scope: OrgScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    request: HttpRequest,
    form: Multipart,
) -> AppResult<HttpResponse> {
    let described = read_form(&request, form, state.config.files.max_upload_bytes).await?;
    let creation = service::create(&state, scope.into_tenant(), described).await?;
    Ok(HttpResponse::Created().json(creation))
}

/// A voice-to-bot creation: its status, transcript, extraction, draft,
/// preview script, errors and every step.
#[utoipa::path(
    tag = "voice",
    params(("creation_id" = i64, Path, description = "Creation id")),
    responses((status = 200, body = VoiceBotCreation), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/voice-bot-creations/{creation_id}")]
async fn voice_get_creation(
    scope: Scoped<CreationResource, perm::BotsRead>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<VoiceBotCreation>> {
    let id = scope.id();
    Ok(web::Json(service::get(&state, scope.into_tenant(), id).await?))
}

/// The guided form: the bot's name, greeting, topics (label, examples,
/// answer) and questions, checked against the extraction schema; drafts the
/// phone flow for preview.
#[utoipa::path(
    tag = "voice",
    params(("creation_id" = i64, Path, description = "Creation id")),
    request_body = extraction::Extraction,
    responses((status = 200, body = VoiceBotCreation), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`conflict`: the bot was already created"),
              (status = 422, body = ErrorBody, description = "`validation_failed`: `details.field` names the part (`intents[0].answer`), `details.issues` lists all")),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[put("/voice-bot-creations/{creation_id}/extraction")]
async fn voice_fill_creation_form(
    scope: Scoped<CreationResource, perm::BotsWrite>,
    state: web::Data<AppState>,
    body: Json<Value>,
) -> AppResult<web::Json<VoiceBotCreation>> {
    let id = scope.id();
    Ok(web::Json(service::fill_form(&state, scope.into_tenant(), id, &body.into_inner()?).await?))
}

/// Creates the bot from the reviewed draft: the bot (NLU data from the
/// examples), its flow published and the voice bot with the greeting.
#[utoipa::path(
    tag = "voice",
    params(("creation_id" = i64, Path, description = "Creation id")),
    request_body = CreateBotFromCreationRequest,
    responses((status = 201, body = VoiceBotFromCreation), (status = 401, body = ErrorBody),
              (status = 402, body = ErrorBody, description = "`plan_limit_exceeded` (`bots`)"),
              (status = 403, body = ErrorBody, description = "`forbidden`: needs `flows.publish`"), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`conflict`: no reviewed draft yet, or already created"),
              (status = 422, body = ErrorBody, description = "`validation_failed` (`name`, `language`, `settings.*`)")),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[post("/voice-bot-creations/{creation_id}/bot")]
async fn voice_create_bot_from_creation(
    scope: Scoped<CreationResource, perm::BotsWrite>,
    state: web::Data<AppState>,
    body: Json<CreateBotFromCreationRequest>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    let made = service::create_bot(&state, scope.into_tenant(), id, body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(made))
}

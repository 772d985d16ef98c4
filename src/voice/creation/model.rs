//! Voice-to-bot: types and DTOs.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::extraction::Extraction;
use super::store::CreationRow;
use crate::bots::model::Bot;
use crate::voice::model::{VoiceBot, VoiceWarning};

crate::id_type!(
    /// A row of `voice_bot_creations`.
    VoiceBotCreationId
);

/// The multipart form of `POST /orgs/{org_id}/voice-bot-creations` (documentation only).
#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "describes the multipart body in OpenAPI")]
pub struct DescriptionForm {
    /// The spoken description: WAV, MP3, OGG, `WebM` or M4A (sniffed from the
    /// bytes), at most `files.max_upload_bytes`.
    #[schema(format = Binary, value_type = String)]
    audio: Vec<u8>,
    /// The language spoken (ISO 639-1, `en`; helps the transcription).
    language: Option<String>,
    /// The transcription model (default `whisper-1`).
    transcription_model: Option<String>,
    /// The chat model that extracts intents, questions and answers (default:
    /// the provider's default model).
    chat_model: Option<String>,
    /// The LLM provider (default: the organization's default provider).
    provider_id: Option<i64>,
    /// `model` (default: the chat model extracts) or `form` (the guided form
    /// is filled in instead).
    extraction: Option<String>,
}

/// A voice-to-bot creation: every step recorded.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VoiceBotCreation {
    pub id: VoiceBotCreationId,
    pub session_id: String,
    /// `recording` (audio stored), `extracting` (transcribed; the extraction
    /// or the guided form is next), `extracted` (a draft to preview),
    /// `completed` (the bot exists) or `error` (see `error_message`).
    pub status: String,
    /// `form` (fill in the guided form: `PUT …/extraction`), `review` (preview
    /// the draft, then `POST …/bot`), `done`, or `record_again`.
    pub next_step: String,
    /// `wav`, `mp3`, `ogg`, `webm` or `m4a`.
    pub audio_format: String,
    pub audio_bytes: i64,
    pub language: String,
    pub transcript: Option<String>,
    /// The intents, questions and answers (schema: [`Extraction`]).
    pub extraction: Option<Extraction>,
    /// `model` or `form`.
    pub extraction_source: Option<String>,
    /// Why the model's extraction was refused (JSON pointers and messages).
    #[schema(value_type = Vec<Object>)]
    pub issues: Vec<Value>,
    /// The flow draft (`main`), published when the bot is created.
    #[schema(value_type = Option<Object>)]
    pub draft: Option<Value>,
    /// What a caller will hear, line by line.
    pub script: Vec<String>,
    /// Parts of the draft a phone cannot say (none for drafts made here).
    pub voice_warnings: Vec<VoiceWarning>,
    pub generated_bot_id: Option<i64>,
    pub voice_bot_id: Option<i64>,
    pub error_message: Option<String>,
    /// Each step: `upload`, `transcribe`, `extract`, `form`, `create`, with
    /// `ok`, what it used and how long it took.
    #[schema(value_type = Vec<Object>)]
    pub steps: Vec<Value>,
    pub processing_time_ms: i64,
    pub created_at: String,
    pub updated_at: String,
    pub completed_at: Option<String>,
}

impl VoiceBotCreation {
    /// The view of a stored row.
    #[must_use]
    pub fn of(row: CreationRow) -> VoiceBotCreation {
        let extraction: Option<Extraction> =
            row.ai_analysis.get("extraction").and_then(|e| serde_json::from_value(e.clone()).ok());
        let draft = row
            .extracted_flows
            .as_array()
            .and_then(|f| f.iter().find(|f| f["name"] == "main"))
            .map(|f| f["document"].clone());
        let voice_warnings = draft
            .as_ref()
            .and_then(|d| serde_json::from_value::<crate::flows::document::FlowDocument>(d.clone()).ok())
            .map(|doc| crate::voice::service::warnings_of("main", &doc))
            .unwrap_or_default();
        let next_step = match row.status.as_str() {
            "completed" => "done",
            "extracted" => "review",
            "error" if row.transcription.as_deref().is_none_or(str::is_empty) => "record_again",
            _ => "form",
        };
        let strings = |v: &Value| -> Vec<String> {
            v.as_array().map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect()).unwrap_or_default()
        };
        VoiceBotCreation {
            id: row.id,
            session_id: row.session_id,
            next_step: next_step.to_owned(),
            audio_format: row.audio_format,
            audio_bytes: row.metadata.get("audio_bytes").and_then(Value::as_i64).unwrap_or(0),
            language: row.language,
            transcript: row.transcription,
            extraction_source: row.ai_analysis.get("source").and_then(Value::as_str).map(str::to_owned),
            issues: row.ai_analysis.get("issues").and_then(Value::as_array).cloned().unwrap_or_default(),
            script: strings(&row.ai_analysis["script"]),
            extraction,
            draft,
            voice_warnings,
            generated_bot_id: row.generated_bot_id,
            voice_bot_id: row.metadata.get("voice_bot_id").and_then(Value::as_i64),
            error_message: row.error_message,
            steps: row.metadata.get("steps").and_then(Value::as_array).cloned().unwrap_or_default(),
            processing_time_ms: row.processing_time_ms,
            status: row.status,
            created_at: row.created_at,
            updated_at: row.updated_at,
            completed_at: row.completed_at,
        }
    }
}

/// `POST /voice-bot-creations/{creation_id}/bot`: makes the bot from the reviewed draft.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBotFromCreationRequest {
    /// Default: the extracted name.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub voice_id: Option<String>,
    /// The voice bot's language (BCP 47, default `en-US`).
    #[serde(default)]
    pub language: Option<String>,
    /// Voice bot settings (e.g. `transfer_to`).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settings: Option<Map<String, Value>>,
}

/// What a creation made.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VoiceBotFromCreation {
    pub creation: VoiceBotCreation,
    pub bot: Bot,
    pub voice_bot: VoiceBot,
}

//! Voice-to-bot, step by step, each step recorded on the creation:
//! upload (the audio sniffed and kept) → transcribe (the provider's
//! `/audio/transcriptions`) → extract (the chat model's JSON, validated
//! against the schema; or the guided form) → draft (the phone flow) →
//! preview → create (the bot, its published flow and the voice bot).

use std::time::Instant;

use serde_json::{Value, json};

use super::audio::{self, AudioFormat, DEFAULT_TRANSCRIPTION_MODEL};
use super::extraction::{self, Extraction};
use super::model::{CreateBotFromCreationRequest, VoiceBotCreation, VoiceBotCreationId, VoiceBotFromCreation};
use super::store::{self, Extracted, NewCreation};
use crate::app::AppState;
use crate::billing::limits::Limit;
use crate::bots::templates::{Template, TemplateBotSettings};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::Tenant;
use crate::llm::client::{ChatOptions, LlmError, Message};
use crate::llm::model::LlmProviderId;
use crate::permissions::Permission;
use crate::tools::schema::Issue;
use crate::voice::model::CreateVoiceBotRequest;

/// How the intents, questions and answers are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtractionMode {
    /// The chat model reads the transcript.
    Model,
    /// The user fills in the guided form.
    Form,
}

/// An uploaded description with its options.
#[derive(Debug)]
pub struct NewDescription {
    pub audio: Vec<u8>,
    pub language: Option<String>,
    pub transcription_model: Option<String>,
    pub chat_model: Option<String>,
    pub provider_id: Option<LlmProviderId>,
    pub extraction: ExtractionMode,
}

fn not_found() -> AppError {
    AppError::new(ErrorCode::VoiceBotCreationNotFound, "no such voice-to-bot creation")
}

fn ms(started: Instant) -> i64 {
    i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// `e` with `creation_id` (and the guided form's address) added to its details.
fn about(e: AppError, id: VoiceBotCreationId, form: bool) -> AppError {
    let mut details = e.details().and_then(Value::as_object).cloned().unwrap_or_default();
    details.insert("creation_id".into(), json!(id));
    if form {
        details.insert("guided_form".into(), json!(format!("/api/v1/voice-bot-creations/{id}/extraction")));
    }
    e.with_details(Value::Object(details))
}

fn check_model(field: &str, model: Option<&str>) -> AppResult<Option<String>> {
    let Some(m) = model.map(str::trim).filter(|m| !m.is_empty()) else { return Ok(None) };
    let ok = m.len() <= 100 && m.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:-/".contains(&b));
    if ok {
        Ok(Some(m.to_owned()))
    } else {
        Err(AppError::validation(field, "a model name: letters, digits and . _ : - /"))
    }
}

fn check_language(lang: Option<&str>) -> AppResult<String> {
    let Some(l) = lang.map(str::trim).filter(|l| !l.is_empty()) else { return Ok("en".to_owned()) };
    let (code, region) = l.split_once('-').map_or((l, None), |(c, r)| (c, Some(r)));
    let ok = code.len() == 2
        && code.bytes().all(|b| b.is_ascii_lowercase())
        && region.is_none_or(|r| r.len() == 2 && r.bytes().all(|b| b.is_ascii_alphabetic()));
    if ok {
        Ok(code.to_owned())
    } else {
        Err(AppError::validation("language", "an ISO 639-1 language code such as en"))
    }
}

#[allow(clippy::too_many_arguments, reason = "the step, its time and what it leaves")]
async fn failed_step(
    state: &AppState,
    tenant: &Tenant,
    id: VoiceBotCreationId,
    step: Value,
    took: i64,
    status: &'static str,
    e: &AppError,
    analysis: Option<Value>,
) -> AppResult<()> {
    let (t, message) = (tenant.clone(), e.message().to_owned());
    state
        .db
        .write(move |tx| {
            store::step(tx, &t, id, &step, took)?;
            store::set_error(tx, &t, id, status, &message, analysis.as_ref())?;
            Ok(())
        })
        .await
}

pub async fn get(state: &AppState, tenant: Tenant, id: VoiceBotCreationId) -> AppResult<VoiceBotCreation> {
    let row = state.db.read(move |c| store::get(c, &tenant, id)?.ok_or_else(not_found)).await?;
    Ok(VoiceBotCreation::of(row))
}

/// Stores the description, transcribes it and (unless the form was asked
/// for) extracts the bot from it with the chat model.
pub async fn create(state: &AppState, tenant: Tenant, req: NewDescription) -> AppResult<VoiceBotCreation> {
    let NewDescription { audio: recording, language, transcription_model, chat_model, provider_id, extraction: mode } =
        req;
    let format = audio::sniff(&recording).ok_or_else(audio::unsupported)?;
    let language = check_language(language.as_deref())?;
    let stt_model = check_model("transcription_model", transcription_model.as_deref())?
        .unwrap_or_else(|| DEFAULT_TRANSCRIPTION_MODEL.into());
    let chat_model = check_model("chat_model", chat_model.as_deref())?;
    let provider = audio::provider(state, &tenant, provider_id).await?;
    let id = store_upload(state, &tenant, &recording, format, &language).await?;

    let started = Instant::now();
    let heard = audio::transcribe(state, &provider, &stt_model, Some(&language), &recording, format).await;
    let took = ms(started);
    let transcript = match heard {
        Ok(t) => t,
        Err(e) => {
            let step =
                json!({ "step": "transcribe", "ok": false, "model": stt_model, "ms": took, "error": e.message() });
            failed_step(state, &tenant, id, step, took, "error", &e, None).await?;
            return Err(about(e, id, false));
        }
    };
    if transcript.text.chars().all(|c| !c.is_alphanumeric()) {
        let e = AppError::new(
            ErrorCode::VoiceTranscriptEmpty,
            "the recording was transcribed to no words: record the description again, closer to the microphone",
        )
        .with_details(json!({ "field": "audio" }));
        let step = json!({ "step": "transcribe", "ok": false, "model": stt_model, "ms": took, "error": e.message() });
        failed_step(state, &tenant, id, step, took, "error", &e, None).await?;
        return Err(about(e, id, false));
    }
    let (t, text) = (tenant.clone(), transcript.text.clone());
    let step = json!({ "step": "transcribe", "ok": true, "model": transcript.model, "provider_id": transcript.provider_id,
                       "ms": transcript.latency_ms, "characters": text.chars().count() });
    state
        .db
        .write(move |tx| {
            store::set_transcript(tx, &t, id, &text, "extracting")?;
            store::step(tx, &t, id, &step, took)?;
            Ok(())
        })
        .await?;
    if mode == ExtractionMode::Model {
        extract_with_model(state, &tenant, id, provider_id, chat_model.as_deref(), &transcript.text).await?;
    }
    get(state, tenant, id).await
}

async fn store_upload(
    state: &AppState,
    tenant: &Tenant,
    audio: &[u8],
    format: AudioFormat,
    language: &str,
) -> AppResult<VoiceBotCreationId> {
    let t = tenant.clone();
    let user = tenant.user_id().map(|u| u.0);
    let session = crate::crypto::random_token(16);
    let bytes = i64::try_from(audio.len()).unwrap_or(i64::MAX);
    let metadata = json!({ "steps": [], "audio_bytes": bytes });
    let (audio, language) = (audio.to_vec(), language.to_owned());
    state
        .db
        .write(move |tx| {
            let new = NewCreation {
                user,
                session_id: &session,
                audio_format: format.as_str(),
                language: &language,
                audio: &audio,
                metadata: &metadata,
            };
            let id = store::insert(tx, &t, &new)?;
            let step = json!({ "step": "upload", "ok": true, "format": format.as_str(), "bytes": bytes });
            store::step(tx, &t, id, &step, 0)?;
            Ok(id)
        })
        .await
}

/// Asks the chat model for the extraction; a refused or invalid answer
/// leaves the creation waiting for the guided form.
async fn extract_with_model(
    state: &AppState,
    tenant: &Tenant,
    id: VoiceBotCreationId,
    provider: Option<LlmProviderId>,
    model: Option<&str>,
    transcript: &str,
) -> AppResult<()> {
    let started = Instant::now();
    let Some(chain) = crate::llm::service::chain(state, tenant, provider, model, None).await? else {
        return Ok(());
    };
    let org = tenant.org_id();
    if let Err(e) = state.db.read(move |c| crate::billing::limits::check(c, org, Limit::LlmTokensPerMonth, 1)).await {
        let step = json!({ "step": "extract", "ok": false, "error": e.message() });
        failed_step(state, tenant, id, step, 0, "extracting", &e, None).await?;
        return Err(about(e, id, true));
    }
    let messages = vec![
        Message::new("system", extraction::system_prompt()),
        Message::new("user", extraction::user_prompt(transcript)),
    ];
    let mut opts =
        ChatOptions { temperature: Some(0.0), max_tokens: Some(2000), json_object: true, ..ChatOptions::default() };
    let mut result = crate::llm::call::complete(state, &chain, &messages, &opts).await;
    if let Err(f) = &result
        && matches!(f.error, LlmError::Status(400 | 422, _))
    {
        // Some compatible servers refuse `response_format`: once more without it.
        opts.json_object = false;
        result = crate::llm::call::complete(state, &chain, &messages, &opts).await;
    }
    let took = ms(started);
    let (completion, served) = match result {
        Ok(ok) => ok,
        Err(f) => {
            let e = crate::llm::service::llm_error(&f.error);
            let step = json!({ "step": "extract", "ok": false, "ms": took, "error": e.message() });
            failed_step(state, tenant, id, step, took, "extracting", &e, None).await?;
            return Err(about(e, id, true));
        }
    };
    let tokens = completion.usage.map_or(0, |u| i64::try_from(u.total_tokens).unwrap_or(i64::MAX));
    let cost = completion.usage.map_or(0, |u| i64::try_from(served.target.cost_micros(u)).unwrap_or(i64::MAX));
    state.db.write(move |tx| crate::billing::usage::record_llm(tx, org, None, tokens, cost)).await?;
    let used =
        json!({ "model": completion.model, "provider_id": served.target.provider_id, "ms": took, "tokens": tokens });
    match extraction::read_answer(&completion.text) {
        Ok(found) => apply(state, tenant, id, &found, "model", used, took).await,
        Err(issues) => {
            let first =
                issues.first().map_or_else(String::new, |i| format!(" (first: {} {})", pointer(&i.pointer), i.message));
            let e = AppError::new(
                ErrorCode::VoiceExtractionInvalid,
                format!(
                    "the model's answer did not match the extraction schema{first}; fill in the guided form instead"
                ),
            )
            .with_details(json!({ "issues": issues }));
            let analysis =
                json!({ "issues": issues, "answer": completion.text.chars().take(4000).collect::<String>() });
            let mut step = used;
            step["step"] = json!("extract");
            step["ok"] = json!(false);
            step["error"] = json!(e.message());
            failed_step(state, tenant, id, step, took, "extracting", &e, Some(analysis)).await?;
            Err(about(e, id, true))
        }
    }
}

fn pointer(p: &str) -> String {
    if p.is_empty() { "the answer".to_owned() } else { format!("`{p}`") }
}

/// A JSON pointer (`/intents/0/answer`) as a field name (`intents[0].answer`).
fn field_of(pointer: &str) -> String {
    let mut out = String::new();
    for part in pointer.split('/').filter(|p| !p.is_empty()) {
        if part.bytes().all(|b| b.is_ascii_digit()) {
            out.push('[');
            out.push_str(part);
            out.push(']');
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(part);
        }
    }
    if out.is_empty() { "extraction".to_owned() } else { out }
}

/// Stores an extraction with its draft and preview (status `extracted`).
async fn apply(
    state: &AppState,
    tenant: &Tenant,
    id: VoiceBotCreationId,
    found: &Extraction,
    source: &str,
    mut step: Value,
    took: i64,
) -> AppResult<()> {
    let doc = extraction::draft(found).map_err(|m| AppError::internal(anyhow::anyhow!(m)))?;
    let errors: Vec<Issue> = crate::flows::compile::as_draft(crate::flows::compile::compile(&doc).issues)
        .into_iter()
        .filter(|i| i.blocks_publish || i.severity == crate::flows::compile::Severity::Error)
        .map(|i| Issue { pointer: i.node_id.map(|n| format!("/nodes/{n}")).unwrap_or_default(), message: i.message })
        .collect();
    if let Some(first) = errors.first() {
        return Err(AppError::validation("extraction", format!("the draft flow would not publish: {}", first.message))
            .with_details(json!({ "field": "extraction", "issues": errors })));
    }
    let analysis = json!({ "extraction": found, "source": source, "issues": [], "script": extraction::script(found) });
    let intents: Vec<Value> =
        found.intents.iter().map(|i| json!({ "name": i.name, "label": i.label, "examples": i.examples })).collect();
    let responses: Vec<Value> = found.intents.iter().map(|i| json!({ "intent": i.name, "text": i.answer })).collect();
    let flows = json!([{ "name": "main", "document": doc }]);
    step["step"] = json!(source_step(source));
    step["ok"] = json!(true);
    step["intents"] = json!(found.intents.len());
    step["questions"] = json!(found.questions.len());
    let (t, found) = (tenant.clone(), found.clone());
    state
        .db
        .write(move |tx| {
            let e = Extracted {
                name: &found.name,
                description: found.description.as_deref(),
                intents: &Value::from(intents),
                responses: &Value::from(responses),
                analysis: &analysis,
                flows: &flows,
            };
            store::set_extracted(tx, &t, id, &e)?;
            store::step(tx, &t, id, &step, took)?;
            Ok(())
        })
        .await
}

fn source_step(source: &str) -> &'static str {
    if source == "form" { "form" } else { "extract" }
}

/// The guided form: the user's own extraction, checked against the same schema.
pub async fn fill_form(
    state: &AppState,
    tenant: Tenant,
    id: VoiceBotCreationId,
    body: &Value,
) -> AppResult<VoiceBotCreation> {
    let t = tenant.clone();
    let row = state.db.read(move |c| store::get(c, &t, id)?.ok_or_else(not_found)).await?;
    if row.status == "completed" {
        return Err(AppError::new(ErrorCode::Conflict, "the bot was already created from this description")
            .with_details(json!({ "field": "status", "generated_bot_id": row.generated_bot_id })));
    }
    let found = extraction::check(body).map_err(|issues| {
        let first = &issues[0];
        AppError::validation(field_of(&first.pointer), first.message.clone())
            .with_details(json!({ "field": field_of(&first.pointer), "issues": issues }))
    })?;
    let started = Instant::now();
    apply(state, &tenant, id, &found, "form", json!({}), ms(started)).await?;
    get(state, tenant, id).await
}

/// Makes the bot (NLU data from the examples, the draft published as `main`)
/// and the voice bot from a reviewed creation; all or nothing.
pub async fn create_bot(
    state: &AppState,
    tenant: Tenant,
    id: VoiceBotCreationId,
    req: CreateBotFromCreationRequest,
) -> AppResult<VoiceBotFromCreation> {
    let t = tenant.clone();
    let row = state.db.read(move |c| store::get(c, &t, id)?.ok_or_else(not_found)).await?;
    let creation = VoiceBotCreation::of(row);
    let (Some(found), Some(draft), "extracted") = (&creation.extraction, &creation.draft, creation.status.as_str())
    else {
        let why = if creation.status == "completed" {
            "the bot was already created from this description"
        } else {
            "there is no reviewed draft yet: the extraction (or the guided form) comes first"
        };
        return Err(AppError::new(ErrorCode::Conflict, why)
            .with_details(json!({ "field": "status", "status": creation.status })));
    };
    if !tenant.can(Permission::FlowsPublish) {
        return Err(AppError::new(
            ErrorCode::Forbidden,
            "creating the voice bot publishes its flow, which needs the flows.publish permission",
        )
        .with_details(json!({ "permission": "flows.publish" })));
    }
    let started = Instant::now();
    let template = template_of(found, draft, &creation.language)?;
    let name = req.name.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned);
    let made = crate::bots::templates::instantiate_template(state, tenant.clone(), &template, name.clone()).await?;
    let voice = CreateVoiceBotRequest {
        name: name.unwrap_or_else(|| found.name.clone()),
        bot_id: made.bot.id,
        description: found.description.clone(),
        voice_id: req.voice_id,
        language: req.language,
        fallback_message: None,
        max_call_duration: None,
        settings: Some(req.settings.unwrap_or_default()),
    };
    let voice_bot = crate::voice::templates::attach_voice_bot(state, &tenant, &made, voice, &found.greeting).await?;
    let took = ms(started);
    let (t, bot, vb) = (tenant.clone(), made.bot.id.0, voice_bot.id.0);
    let step = json!({ "step": "create", "ok": true, "bot_id": bot, "voice_bot_id": vb, "ms": took });
    state
        .db
        .write(move |tx| {
            store::set_completed(tx, &t, id, bot)?;
            store::set_meta(tx, &t, id, "voice_bot_id", &json!(vb))?;
            store::step(tx, &t, id, &step, took)?;
            Ok(())
        })
        .await?;
    Ok(VoiceBotFromCreation { creation: get(state, tenant, id).await?, bot: made.bot, voice_bot })
}

/// The draft as a template the bot template machinery instantiates.
fn template_of(found: &Extraction, draft: &Value, language: &str) -> AppResult<Template> {
    let intents: Vec<Value> = found
        .intents
        .iter()
        .filter(|i| !i.examples.is_empty())
        .map(|i| {
            json!({ "name": i.name, "display_name": i.label,
                         "examples": i.examples.iter().map(|e| json!({ "text": e })).collect::<Vec<_>>() })
        })
        .collect();
    let nlu = if intents.is_empty() {
        None
    } else {
        Some(serde_json::from_value(json!({ "intents": intents })).map_err(AppError::internal)?)
    };
    let document = serde_json::from_value(draft.clone()).map_err(AppError::internal)?;
    let mut flows = std::collections::BTreeMap::new();
    flows.insert("main".to_owned(), document);
    let description = found.description.clone().unwrap_or_else(|| "Created from a spoken description.".to_owned());
    Ok(Template {
        id: "voice_to_bot".into(),
        name: found.name.clone(),
        summary: description.clone(),
        category: "custom".into(),
        bot: TemplateBotSettings { description, language: language.to_owned() },
        setup: None,
        nlu,
        knowledge: None,
        flows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_become_field_names_and_languages_are_checked() {
        assert_eq!(field_of("/intents/0/answer"), "intents[0].answer");
        assert_eq!(field_of(""), "extraction");
        assert_eq!(check_language(Some("en-US")).expect("ok"), "en");
        assert_eq!(check_language(None).expect("ok"), "en");
        assert!(check_language(Some("english")).is_err());
        assert!(check_model("chat_model", Some("gpt 4")).is_err());
    }
}

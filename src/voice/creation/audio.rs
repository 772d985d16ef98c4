//! The spoken description: its container sniffed from the bytes (WAV, MP3,
//! OGG, `WebM`, M4A — what browsers' `MediaRecorder` and phones make), and its
//! transcription through the organization's `OpenAI`-compatible provider
//! (`POST {base_url}/audio/transcriptions`, multipart: `file`, `model`,
//! `response_format=json`, optional `language`; the answer is `{"text": …}`).

use std::time::Duration;

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::Tenant;
use crate::llm::client::{ApiFormat, ProviderConfig};
use crate::llm::model::{LlmProvider, LlmProviderId};
use crate::outbound::OutboundError;

/// The model asked when the request names none.
pub const DEFAULT_TRANSCRIPTION_MODEL: &str = "whisper-1";

/// An accepted audio container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioFormat {
    Wav,
    Mp3,
    Ogg,
    Webm,
    M4a,
}

impl AudioFormat {
    /// The name stored in `voice_bot_creations.audio_format` and used as the file extension.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            AudioFormat::Wav => "wav",
            AudioFormat::Mp3 => "mp3",
            AudioFormat::Ogg => "ogg",
            AudioFormat::Webm => "webm",
            AudioFormat::M4a => "m4a",
        }
    }

    #[must_use]
    pub fn content_type(self) -> &'static str {
        match self {
            AudioFormat::Wav => "audio/wav",
            AudioFormat::Mp3 => "audio/mpeg",
            AudioFormat::Ogg => "audio/ogg",
            AudioFormat::Webm => "audio/webm",
            AudioFormat::M4a => "audio/mp4",
        }
    }
}

/// The container of `data`, from its bytes alone (a name or declared type
/// is never trusted). `WebM` is an EBML document; the others are the audio
/// kinds of the file sniffer (any MP4 `ftyp` brand counts as M4A).
#[must_use]
pub fn sniff(data: &[u8]) -> Option<AudioFormat> {
    if data.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        return Some(AudioFormat::Webm);
    }
    match crate::files::sniff::sniff(data)? {
        "audio/wav" => Some(AudioFormat::Wav),
        "audio/mpeg" => Some(AudioFormat::Mp3),
        "audio/ogg" => Some(AudioFormat::Ogg),
        "audio/mp4" | "video/mp4" => Some(AudioFormat::M4a),
        _ => None,
    }
}

/// 422 `voice_audio_unsupported`.
#[must_use]
pub fn unsupported() -> AppError {
    AppError::new(ErrorCode::VoiceAudioUnsupported, "the audio must be WAV, MP3, OGG, WebM or M4A")
        .with_details(json!({ "field": "audio", "accepted": ["wav", "mp3", "ogg", "webm", "m4a"] }))
}

/// 422 `voice_audio_too_large`.
#[must_use]
pub fn too_large(limit: usize) -> AppError {
    AppError::new(ErrorCode::VoiceAudioTooLarge, format!("the audio exceeds the upload limit of {limit} bytes"))
        .with_details(json!({ "field": "audio", "limit_bytes": limit }))
}

/// What the provider heard.
#[derive(Debug, Clone)]
pub struct Transcript {
    pub text: String,
    pub model: String,
    pub provider_id: LlmProviderId,
    pub latency_ms: u64,
}

fn not_configured() -> AppError {
    AppError::new(
        ErrorCode::LlmNotConfigured,
        "transcription needs an OpenAI-compatible LLM provider: add one (POST /orgs/{org_id}/llm-providers) and make it the default, or name it in provider_id",
    )
    .with_details(json!({ "field": "provider_id" }))
}

fn failed(message: String) -> AppError {
    AppError::new(ErrorCode::LlmFailed, message).with_details(json!({ "field": "audio" }))
}

/// The provider that transcribes: `provider` (else the organization's
/// default), which must speak the `OpenAI`-compatible API.
pub async fn provider(
    state: &AppState,
    tenant: &Tenant,
    provider: Option<LlmProviderId>,
) -> AppResult<(LlmProvider, ProviderConfig)> {
    let Some((row, config)) = crate::llm::service::resolve(state, tenant, provider).await? else {
        return Err(not_configured());
    };
    if config.format != ApiFormat::OpenAi {
        return Err(AppError::validation(
            "provider_id",
            format!("provider `{}` speaks Anthropic's API, which has no audio transcription", row.name),
        ));
    }
    Ok((row, config))
}

/// Transcribes `audio` with a provider found by [`provider`].
pub async fn transcribe(
    state: &AppState,
    (row, config): &(LlmProvider, ProviderConfig),
    model: &str,
    language: Option<&str>,
    audio: &[u8],
    format: AudioFormat,
) -> AppResult<Transcript> {
    let url = format!("{}/audio/transcriptions", config.base_url.trim_end_matches('/'));
    let file = Part::bytes(audio.to_vec())
        .file_name(format!("description.{}", format.as_str()))
        .mime_str(format.content_type())
        .map_err(AppError::internal)?;
    let mut form = Form::new().text("model", model.to_owned()).text("response_format", "json").part("file", file);
    if let Some(lang) = language {
        form = form.text("language", lang.to_owned());
    }
    // Audio takes longer than a chat turn: at least a minute.
    let timeout = config.timeout.max(Duration::from_secs(60));
    let mut request = state
        .outbound
        .request(Method::POST, &url)
        .map_err(|e| {
            AppError::new(ErrorCode::UrlNotAllowed, e.to_string()).with_details(json!({ "field": "base_url" }))
        })?
        .multipart(form)
        .timeout(timeout);
    if let Some(key) = &config.api_key {
        request = request.bearer_auth(key);
    }
    let started = std::time::Instant::now();
    let response = match state.outbound.send(request).await {
        Ok(r) => r,
        Err(OutboundError::Timeout) => {
            return Err(failed(format!("the transcription did not finish within {} s", timeout.as_secs())));
        }
        Err(e @ OutboundError::Forbidden(_)) => {
            return Err(
                AppError::new(ErrorCode::UrlNotAllowed, e.to_string()).with_details(json!({ "field": "base_url" }))
            );
        }
        Err(e) => return Err(failed(format!("the provider could not be reached: {e}"))),
    };
    let status = response.status().as_u16();
    let body = tokio::time::timeout(timeout, response.bytes())
        .await
        .map_err(|_| failed("the transcription answer did not arrive in time".into()))?
        .map_err(|e| failed(format!("the transcription answer was cut off: {e}")))?;
    if !(200..300).contains(&status) {
        let said: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let message = said
            .pointer("/error/message")
            .and_then(Value::as_str)
            .map_or_else(|| String::from_utf8_lossy(&body).chars().take(300).collect(), str::to_owned);
        return Err(failed(format!("the provider refused the transcription (HTTP {status}): {message}"))
            .with_details(json!({ "field": "audio", "provider_status": status })));
    }
    let parsed: Value = serde_json::from_slice(&body)
        .map_err(|_| failed("the transcription answer is not JSON with a `text`".into()))?;
    let text = parsed
        .get("text")
        .and_then(Value::as_str)
        .ok_or_else(|| failed("the transcription answer has no `text`".into()))?;
    Ok(Transcript {
        text: text.trim().to_owned(),
        model: model.to_owned(),
        provider_id: row.id,
        latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_are_sniffed_from_their_bytes() {
        assert_eq!(sniff(b"RIFF\0\0\0\0WAVEfmt "), Some(AudioFormat::Wav));
        assert_eq!(sniff(b"ID3\x04\0\0\0\0\0\0"), Some(AudioFormat::Mp3));
        assert_eq!(sniff(b"OggS\0\x02\0\0\0\0"), Some(AudioFormat::Ogg));
        assert_eq!(sniff(&[0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x86, 0x81]), Some(AudioFormat::Webm));
        assert_eq!(sniff(b"\0\0\0\x20ftypM4A \0\0\0\0"), Some(AudioFormat::M4a));
        assert_eq!(sniff(b"\0\0\0\x20ftypisom\0\0\0\0"), Some(AudioFormat::M4a));
        assert_eq!(sniff(b"fLaC\0\0\0\x22"), None);
        assert_eq!(sniff(b"just some text"), None);
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n"), None);
    }
}

//! Voice-to-bot SQL: `voice_bot_creations` (one row per description, every
//! step appended to `metadata.steps`) and the recorded audio, kept as the
//! creation's final chunk in `voice_bot_sessions`.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::model::VoiceBotCreationId;
use crate::http::Tenant;

const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ','now')";

/// A creation as stored.
pub struct CreationRow {
    pub id: VoiceBotCreationId,
    pub session_id: String,
    pub status: String,
    pub audio_format: String,
    pub transcription: Option<String>,
    pub language: String,
    pub generated_bot_id: Option<i64>,
    pub ai_analysis: Value,
    pub extracted_flows: Value,
    pub metadata: Value,
    pub processing_time_ms: i64,
    pub error_message: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub completed_at: Option<String>,
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

pub fn get(conn: &Connection, tenant: &Tenant, id: VoiceBotCreationId) -> rusqlite::Result<Option<CreationRow>> {
    conn.query_row(
        "SELECT id, session_id, status, audio_format, transcription, language, generated_bot_id, ai_analysis,
                extracted_flows, metadata, processing_time_ms, error_message, created_at, updated_at, completed_at
         FROM voice_bot_creations WHERE organization_id = ?1 AND id = ?2",
        params![tenant.org_id(), id],
        |r| {
            Ok(CreationRow {
                id: r.get(0)?,
                session_id: r.get(1)?,
                status: r.get(2)?,
                audio_format: r.get(3)?,
                transcription: r.get(4)?,
                language: r.get(5)?,
                generated_bot_id: r.get(6)?,
                ai_analysis: json_of(&r.get::<_, String>(7)?),
                extracted_flows: json_of(&r.get::<_, String>(8)?),
                metadata: json_of(&r.get::<_, String>(9)?),
                processing_time_ms: r.get(10)?,
                error_message: r.get(11)?,
                created_at: r.get(12)?,
                updated_at: r.get(13)?,
                completed_at: r.get(14)?,
            })
        },
    )
    .optional()
}

/// A new creation with its recorded audio (status `recording`).
pub struct NewCreation<'a> {
    pub user: Option<i64>,
    pub session_id: &'a str,
    pub audio_format: &'a str,
    pub language: &'a str,
    pub audio: &'a [u8],
    pub metadata: &'a Value,
}

pub fn insert(conn: &Connection, tenant: &Tenant, c: &NewCreation<'_>) -> rusqlite::Result<VoiceBotCreationId> {
    let id: VoiceBotCreationId = conn.query_row(
        "INSERT INTO voice_bot_creations (organization_id, user_id, session_id, status, audio_format, language, metadata)
         VALUES (?1, ?2, ?3, 'recording', ?4, ?5, ?6) RETURNING id",
        params![tenant.org_id(), c.user, c.session_id, c.audio_format, c.language, c.metadata.to_string()],
        |r| r.get(0),
    )?;
    conn.execute(
        "INSERT INTO voice_bot_sessions (organization_id, creation_id, chunk_number, audio_chunk, is_final)
         VALUES (?1, ?2, 0, ?3, 1)",
        params![tenant.org_id(), id, c.audio],
    )?;
    Ok(id)
}

/// Appends a step to `metadata.steps` and adds its time.
pub fn step(conn: &Connection, tenant: &Tenant, id: VoiceBotCreationId, step: &Value, ms: i64) -> rusqlite::Result<()> {
    conn.execute(
        &format!(
            "UPDATE voice_bot_creations SET metadata = json_insert(metadata, '$.steps[#]', json(?3)),
                 processing_time_ms = processing_time_ms + ?4, updated_at = {NOW}
             WHERE organization_id = ?1 AND id = ?2"
        ),
        params![tenant.org_id(), id, step.to_string(), ms.max(0)],
    )?;
    Ok(())
}

/// Sets a key of `metadata`.
pub fn set_meta(
    conn: &Connection,
    tenant: &Tenant,
    id: VoiceBotCreationId,
    key: &str,
    value: &Value,
) -> rusqlite::Result<()> {
    conn.execute(
        &format!(
            "UPDATE voice_bot_creations SET metadata = json_set(metadata, '$.' || ?3, json(?4)), updated_at = {NOW}
             WHERE organization_id = ?1 AND id = ?2"
        ),
        params![tenant.org_id(), id, key, value.to_string()],
    )?;
    Ok(())
}

pub fn set_transcript(
    conn: &Connection,
    tenant: &Tenant,
    id: VoiceBotCreationId,
    text: &str,
    status: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        &format!(
            "UPDATE voice_bot_creations SET transcription = ?3, transcription_confidence = CASE WHEN ?3 = '' THEN 0 ELSE 1 END,
                 status = ?4, error_message = NULL, updated_at = {NOW}
             WHERE organization_id = ?1 AND id = ?2"
        ),
        params![tenant.org_id(), id, text, status],
    )?;
    Ok(())
}

/// Records what went wrong, and the status it leaves (`error`, or `extracting` when the form can go on).
pub fn set_error(
    conn: &Connection,
    tenant: &Tenant,
    id: VoiceBotCreationId,
    status: &str,
    message: &str,
    analysis: Option<&Value>,
) -> rusqlite::Result<()> {
    conn.execute(
        &format!(
            "UPDATE voice_bot_creations SET status = ?3, error_message = ?4,
                 ai_analysis = coalesce(?5, ai_analysis), updated_at = {NOW}
             WHERE organization_id = ?1 AND id = ?2"
        ),
        params![tenant.org_id(), id, status, message, analysis.map(Value::to_string)],
    )?;
    Ok(())
}

/// The extraction and the draft built from it (status `extracted`).
pub struct Extracted<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub intents: &'a Value,
    pub responses: &'a Value,
    pub analysis: &'a Value,
    pub flows: &'a Value,
}

pub fn set_extracted(
    conn: &Connection,
    tenant: &Tenant,
    id: VoiceBotCreationId,
    e: &Extracted<'_>,
) -> rusqlite::Result<()> {
    conn.execute(
        &format!(
            "UPDATE voice_bot_creations SET status = 'extracted', error_message = NULL, extracted_name = ?3,
                 extracted_description = ?4, extracted_intents = ?5, extracted_responses = ?6, ai_analysis = ?7,
                 extracted_flows = ?8, updated_at = {NOW}
             WHERE organization_id = ?1 AND id = ?2"
        ),
        params![
            tenant.org_id(),
            id,
            e.name,
            e.description,
            e.intents.to_string(),
            e.responses.to_string(),
            e.analysis.to_string(),
            e.flows.to_string()
        ],
    )?;
    Ok(())
}

pub fn set_completed(conn: &Connection, tenant: &Tenant, id: VoiceBotCreationId, bot: i64) -> rusqlite::Result<()> {
    conn.execute(
        &format!(
            "UPDATE voice_bot_creations SET status = 'completed', generated_bot_id = ?3, error_message = NULL,
                 completed_at = {NOW}, updated_at = {NOW}
             WHERE organization_id = ?1 AND id = ?2"
        ),
        params![tenant.org_id(), id, bot],
    )?;
    Ok(())
}

//! Voice SQL. Every function takes the tenant (or, for the webhooks, finds
//! it from the account's random webhook key first).

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::model::{
    CALL_COLUMNS, Call, CallFilter, CallId, CallSegment, PHONE_COLUMNS, PhoneNumber, PhoneNumberId, VOICE_BOT_COLUMNS,
    VoiceBot, VoiceBotId, VoiceStats,
};
use crate::db::{query_all, query_opt};
use crate::http::Tenant;
use crate::ids::{BotId, OrgId};

/// The account row behind a webhook key.
pub struct AccountRow {
    pub org: OrgId,
    pub account_sid: String,
    pub sealed_token: Vec<u8>,
    pub webhook_key: String,
    pub updated_at: String,
}

fn account_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AccountRow> {
    Ok(AccountRow {
        org: r.get(0)?,
        account_sid: r.get(1)?,
        sealed_token: r.get(2)?,
        webhook_key: r.get(3)?,
        updated_at: r.get(4)?,
    })
}

const ACCOUNT_COLUMNS: &str = "organization_id, account_sid, auth_token_encrypted, webhook_key, updated_at";

pub fn account(conn: &Connection, tenant: &Tenant) -> rusqlite::Result<Option<AccountRow>> {
    conn.query_row(
        &format!("SELECT {ACCOUNT_COLUMNS} FROM voice_accounts WHERE organization_id = ?1"),
        [tenant.org_id()],
        account_row,
    )
    .optional()
}

pub fn account_by_key(conn: &Connection, key: &str) -> rusqlite::Result<Option<AccountRow>> {
    conn.query_row(&format!("SELECT {ACCOUNT_COLUMNS} FROM voice_accounts WHERE webhook_key = ?1"), [key], account_row)
        .optional()
}

/// Sets the organization's account (the webhook key is kept when one exists).
pub fn upsert_account(conn: &Connection, tenant: &Tenant, sid: &str, sealed: &[u8], key: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO voice_accounts (organization_id, account_sid, auth_token_encrypted, webhook_key)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (organization_id) DO UPDATE SET account_sid = excluded.account_sid,
             auth_token_encrypted = excluded.auth_token_encrypted",
        params![tenant.org_id(), sid, sealed, key],
    )?;
    Ok(())
}

// ---- voice bots

fn bot_sql(filter: &str) -> String {
    format!(
        "SELECT {VOICE_BOT_COLUMNS} FROM voice_bots v LEFT JOIN phone_numbers p ON p.id = v.phone_number_id WHERE {filter}"
    )
}

pub fn voice_bot(conn: &Connection, tenant: &Tenant, id: VoiceBotId) -> rusqlite::Result<Option<VoiceBot>> {
    query_opt(conn, &bot_sql("v.organization_id = ?1 AND v.id = ?2"), params![tenant.org_id(), id])
}

pub fn voice_bots(conn: &Connection, tenant: &Tenant, after: i64, limit: i64) -> rusqlite::Result<Vec<VoiceBot>> {
    query_all(
        conn,
        &format!("{} ORDER BY v.id LIMIT ?3", bot_sql("v.organization_id = ?1 AND v.id > ?2")),
        params![tenant.org_id(), after, limit],
    )
}

/// The fields of a voice bot that are written together.
pub struct VoiceBotFields<'a> {
    pub name: &'a str,
    pub bot_id: BotId,
    pub description: Option<&'a str>,
    pub voice_id: Option<&'a str>,
    pub language: &'a str,
    pub fallback_message: &'a str,
    pub max_call_duration: i64,
    pub status: &'a str,
    pub settings: &'a str,
}

pub fn insert_voice_bot(
    conn: &Connection,
    tenant: &Tenant,
    user: Option<i64>,
    f: &VoiceBotFields<'_>,
) -> rusqlite::Result<VoiceBotId> {
    conn.query_row(
        "INSERT INTO voice_bots (organization_id, user_id, bot_id, name, description, voice_id, language,
             fallback_message, max_call_duration, status, settings)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) RETURNING id",
        params![
            tenant.org_id(),
            user,
            f.bot_id,
            f.name,
            f.description,
            f.voice_id,
            f.language,
            f.fallback_message,
            f.max_call_duration,
            f.status,
            f.settings
        ],
        |r| r.get(0),
    )
}

pub fn update_voice_bot(
    conn: &Connection,
    tenant: &Tenant,
    id: VoiceBotId,
    f: &VoiceBotFields<'_>,
) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE voice_bots SET name = ?3, bot_id = ?4, description = ?5, voice_id = ?6, language = ?7,
             fallback_message = ?8, max_call_duration = ?9, status = ?10, settings = ?11,
             updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE organization_id = ?1 AND id = ?2",
        params![
            tenant.org_id(),
            id,
            f.name,
            f.bot_id,
            f.description,
            f.voice_id,
            f.language,
            f.fallback_message,
            f.max_call_duration,
            f.status,
            f.settings
        ],
    )
}

/// The greeting a voice bot says when its flow says nothing first.
pub fn set_greeting(conn: &Connection, tenant: &Tenant, id: VoiceBotId, greeting: &str) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE voice_bots SET greeting_message = ?3 WHERE organization_id = ?1 AND id = ?2",
        params![tenant.org_id(), id, greeting],
    )
}

pub fn delete_voice_bot(conn: &Connection, tenant: &Tenant, id: VoiceBotId) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM voice_bots WHERE organization_id = ?1 AND id = ?2", params![tenant.org_id(), id])
}

/// Whether the bot is one of the organization's.
pub fn bot_exists(conn: &Connection, tenant: &Tenant, bot: BotId) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM bots WHERE organization_id = ?1 AND id = ?2)",
        params![tenant.org_id(), bot],
        |r| r.get(0),
    )
}

// ---- phone numbers

pub fn phone_numbers(conn: &Connection, tenant: &Tenant, after: i64, limit: i64) -> rusqlite::Result<Vec<PhoneNumber>> {
    query_all(
        conn,
        &format!(
            "SELECT {PHONE_COLUMNS} FROM phone_numbers WHERE organization_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
        ),
        params![tenant.org_id(), after, limit],
    )
}

pub fn phone_number(conn: &Connection, tenant: &Tenant, id: PhoneNumberId) -> rusqlite::Result<Option<PhoneNumber>> {
    query_opt(
        conn,
        &format!("SELECT {PHONE_COLUMNS} FROM phone_numbers WHERE organization_id = ?1 AND id = ?2"),
        params![tenant.org_id(), id],
    )
}

/// Stores a number the provider lists for the account (another
/// organization's row of the same number is left alone: `None`).
pub fn upsert_number(
    conn: &Connection,
    tenant: &Tenant,
    number: &str,
    friendly: Option<&str>,
    country: Option<&str>,
    capabilities: &Value,
    sid: &str,
) -> rusqlite::Result<Option<PhoneNumberId>> {
    conn.query_row(
        "INSERT INTO phone_numbers (organization_id, provider, phone_number, friendly_name, country_code, capabilities, provider_sid, status)
         VALUES (?1, 'twilio', ?2, ?3, ?4, ?5, ?6, 'active')
         ON CONFLICT (provider, phone_number) DO UPDATE SET friendly_name = excluded.friendly_name,
             country_code = coalesce(excluded.country_code, country_code), capabilities = excluded.capabilities,
             provider_sid = excluded.provider_sid, status = 'active', updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE phone_numbers.organization_id = excluded.organization_id
         RETURNING id",
        params![tenant.org_id(), number, friendly, country, capabilities.to_string(), sid],
        |r| r.get(0),
    )
    .optional()
}

/// Numbers of the account the provider no longer lists: released.
pub fn release_missing(conn: &Connection, tenant: &Tenant, keep: &[PhoneNumberId]) -> rusqlite::Result<usize> {
    let keep = serde_json::to_string(&keep.iter().map(|k| k.0).collect::<Vec<_>>()).unwrap_or_else(|_| "[]".into());
    let ids: Vec<PhoneNumberId> = {
        let mut st = conn.prepare(
            "SELECT id FROM phone_numbers WHERE organization_id = ?1 AND provider = 'twilio' AND status <> 'released'
               AND id NOT IN (SELECT value FROM json_each(?2))",
        )?;
        st.query_map(params![tenant.org_id(), keep], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?
    };
    for id in &ids {
        release(conn, tenant, *id)?;
    }
    Ok(ids.len())
}

/// Marks a number released and takes it off its voice bot.
pub fn release(conn: &Connection, tenant: &Tenant, id: PhoneNumberId) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE phone_numbers SET status = 'released', assigned_bot_id = NULL, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE organization_id = ?1 AND id = ?2",
        params![tenant.org_id(), id],
    )?;
    conn.execute(
        "UPDATE voice_bots SET phone_number_id = NULL WHERE organization_id = ?1 AND phone_number_id = ?2",
        params![tenant.org_id(), id],
    )?;
    Ok(())
}

/// Puts the number on the voice bot (taking it off any other; a voice bot has one number).
pub fn assign(conn: &Connection, tenant: &Tenant, id: PhoneNumberId, bot: Option<VoiceBotId>) -> rusqlite::Result<()> {
    let org = tenant.org_id();
    conn.execute(
        "UPDATE voice_bots SET phone_number_id = NULL WHERE organization_id = ?1 AND phone_number_id = ?2",
        params![org, id],
    )?;
    if let Some(bot) = bot {
        conn.execute(
            "UPDATE phone_numbers SET assigned_bot_id = NULL WHERE organization_id = ?1 AND assigned_bot_id = ?2",
            params![org, bot],
        )?;
        conn.execute(
            "UPDATE voice_bots SET phone_number_id = ?3 WHERE organization_id = ?1 AND id = ?2",
            params![org, bot, id],
        )?;
    }
    conn.execute(
        "UPDATE phone_numbers SET assigned_bot_id = ?3, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE organization_id = ?1 AND id = ?2",
        params![org, id, bot],
    )?;
    Ok(())
}

/// The active voice bot answering `number` (an active number of the organization).
pub fn answering(
    conn: &Connection,
    tenant: &Tenant,
    number: &str,
) -> rusqlite::Result<Option<(PhoneNumberId, VoiceBot)>> {
    let found: Option<(PhoneNumberId, Option<VoiceBotId>)> = conn
        .query_row(
            "SELECT id, assigned_bot_id FROM phone_numbers
             WHERE organization_id = ?1 AND phone_number = ?2 AND status = 'active'",
            params![tenant.org_id(), number],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((phone, Some(bot))) = found else { return Ok(None) };
    Ok(voice_bot(conn, tenant, bot)?.map(|b| (phone, b)))
}

// ---- calls

/// A call row as the webhooks need it.
pub struct CallRow {
    pub id: CallId,
    pub voice_bot: VoiceBotId,
    pub conversation: Option<i64>,
    pub status: String,
    pub metadata: Value,
    /// Seconds, as last reported.
    pub duration: i64,
}

pub fn call_by_sid(conn: &Connection, tenant: &Tenant, sid: &str) -> rusqlite::Result<Option<CallRow>> {
    conn.query_row(
        "SELECT id, voice_bot_id, conversation_id, status, metadata, duration FROM calls
         WHERE organization_id = ?1 AND provider_call_sid = ?2",
        params![tenant.org_id(), sid],
        |r| {
            let metadata: String = r.get(4)?;
            Ok(CallRow {
                id: r.get(0)?,
                voice_bot: r.get(1)?,
                conversation: r.get(2)?,
                status: r.get(3)?,
                metadata: serde_json::from_str(&metadata).unwrap_or(Value::Null),
                duration: r.get(5)?,
            })
        },
    )
    .optional()
}

/// A new call row.
pub struct NewCall<'a> {
    pub voice_bot: VoiceBotId,
    pub phone: Option<PhoneNumberId>,
    pub sid: &'a str,
    pub direction: &'a str,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub status: &'a str,
}

pub fn insert_call(conn: &Connection, tenant: &Tenant, c: &NewCall<'_>) -> rusqlite::Result<CallId> {
    conn.query_row(
        "INSERT INTO calls (organization_id, voice_bot_id, phone_number_id, provider_call_sid, direction, from_number, to_number, status)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
        params![tenant.org_id(), c.voice_bot, c.phone, c.sid, c.direction, c.from, c.to, c.status],
        |r| r.get(0),
    )
}

/// After a turn: the conversation and the call's dialogue state.
pub fn save_turn(
    conn: &Connection,
    tenant: &Tenant,
    id: CallId,
    conversation: i64,
    metadata: &Value,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE calls SET conversation_id = ?3, metadata = ?4, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE organization_id = ?1 AND id = ?2",
        params![tenant.org_id(), id, conversation, metadata.to_string()],
    )?;
    Ok(())
}

pub fn set_metadata(conn: &Connection, tenant: &Tenant, id: CallId, metadata: &Value) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE calls SET metadata = ?3, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE organization_id = ?1 AND id = ?2",
        params![tenant.org_id(), id, metadata.to_string()],
    )?;
    Ok(())
}

/// A status change (the caller decided it moves forward).
pub fn set_status(
    conn: &Connection,
    tenant: &Tenant,
    id: CallId,
    status: &str,
    duration: Option<i64>,
    metadata: &Value,
) -> rusqlite::Result<()> {
    let now = crate::db::now();
    let terminal = super::call::is_terminal(status);
    conn.execute(
        "UPDATE calls SET status = ?3, duration = coalesce(?4, duration), metadata = ?5,
             start_time = CASE WHEN ?3 = 'in-progress' OR (?6 AND start_time IS NULL AND coalesce(?4, 0) > 0) THEN coalesce(start_time, ?7) ELSE start_time END,
             end_time = CASE WHEN ?6 THEN coalesce(end_time, ?7) ELSE end_time END,
             updated_at = ?7
         WHERE organization_id = ?1 AND id = ?2",
        params![tenant.org_id(), id, status, duration, metadata.to_string(), terminal, now],
    )?;
    Ok(())
}

pub fn set_recording(
    conn: &Connection,
    tenant: &Tenant,
    id: CallId,
    file: i64,
    duration: Option<i64>,
) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE calls SET recording_file_id = ?3, recording_duration = coalesce(?4, recording_duration),
             updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE organization_id = ?1 AND id = ?2",
        params![tenant.org_id(), id, file, duration],
    )
}

/// One turn of the call's transcript.
pub struct NewSegment<'a> {
    pub speaker: &'a str,
    pub text: &'a str,
    pub confidence: Option<f64>,
    pub intent: Option<&'a str>,
    pub latency_ms: i64,
    pub reply: &'a str,
}

pub fn insert_segment(conn: &Connection, tenant: &Tenant, call: CallId, s: &NewSegment<'_>) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO call_segments (organization_id, call_id, segment_number, speaker, text, confidence, intent, latency_ms, reply)
         VALUES (?1, ?2, (SELECT coalesce(max(segment_number), 0) + 1 FROM call_segments WHERE call_id = ?2),
                 ?3, ?4, ?5, ?6, ?7, ?8)",
        params![tenant.org_id(), call, s.speaker, s.text, s.confidence, s.intent, s.latency_ms, s.reply],
    )?;
    Ok(())
}

pub fn call(conn: &Connection, tenant: &Tenant, id: CallId) -> rusqlite::Result<Option<Call>> {
    query_opt(
        conn,
        &format!("SELECT {CALL_COLUMNS} FROM calls WHERE organization_id = ?1 AND id = ?2"),
        params![tenant.org_id(), id],
    )
}

pub fn segments(conn: &Connection, tenant: &Tenant, id: CallId) -> rusqlite::Result<Vec<CallSegment>> {
    query_all(
        conn,
        "SELECT segment_number, speaker, text, confidence, intent, latency_ms, reply, created_at FROM call_segments
         WHERE organization_id = ?1 AND call_id = ?2 ORDER BY segment_number",
        params![tenant.org_id(), id],
    )
}

/// Calls newest first, filtered.
pub fn calls(
    conn: &Connection,
    tenant: &Tenant,
    f: &CallFilter,
    before: i64,
    limit: i64,
) -> rusqlite::Result<Vec<Call>> {
    query_all(
        conn,
        &format!(
            "SELECT {CALL_COLUMNS} FROM calls WHERE organization_id = ?1 AND id < ?2
               AND (?3 IS NULL OR voice_bot_id = ?3) AND (?4 IS NULL OR direction = ?4) AND (?5 IS NULL OR status = ?5)
               AND (?6 IS NULL OR duration >= ?6) AND (?7 IS NULL OR duration <= ?7)
               AND (?8 IS NULL OR json_extract(metadata, '$.outcome') = ?8)
             ORDER BY id DESC LIMIT ?9"
        ),
        params![
            tenant.org_id(),
            before,
            f.voice_bot_id,
            f.direction,
            f.status,
            f.min_duration,
            f.max_duration,
            f.outcome,
            limit
        ],
    )
}

pub fn stats(conn: &Connection, tenant: &Tenant, voice_bot: Option<i64>) -> rusqlite::Result<VoiceStats> {
    conn.query_row(
        "SELECT count(*),
                coalesce(sum(direction = 'inbound'), 0), coalesce(sum(direction = 'outbound'), 0),
                coalesce(sum(status = 'completed'), 0),
                coalesce(avg(CASE WHEN status = 'completed' THEN duration END), 0.0),
                coalesce(sum(status = 'completed' AND json_extract(metadata, '$.outcome') = 'contained'), 0),
                coalesce(sum(json_extract(metadata, '$.outcome') = 'transferred'), 0)
         FROM calls WHERE organization_id = ?1 AND (?2 IS NULL OR voice_bot_id = ?2)",
        params![tenant.org_id(), voice_bot],
        |r| {
            let completed: i64 = r.get(3)?;
            let contained: i64 = r.get(5)?;
            #[allow(clippy::cast_precision_loss, reason = "call counts are far below 2^52")]
            let containment_rate = if completed > 0 { contained as f64 / completed as f64 } else { 0.0 };
            Ok(VoiceStats {
                calls: r.get(0)?,
                inbound: r.get(1)?,
                outbound: r.get(2)?,
                completed,
                average_handle_time_secs: r.get(4)?,
                contained,
                transferred: r.get(6)?,
                containment_rate,
            })
        },
    )
}

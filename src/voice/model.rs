//! Voice: types, DTOs and row mappers.

use rusqlite::Row;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::db::FromRow;
use crate::ids::{BotId, OrgId};

crate::id_type!(
    /// A row of `voice_bots`.
    VoiceBotId
);
crate::id_type!(
    /// A row of `calls`.
    CallId
);
crate::id_type!(
    /// A row of `phone_numbers`.
    PhoneNumberId
);

/// The organization's telephony account as shown (the auth token never is).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VoiceAccount {
    pub provider: String,
    pub account_sid: String,
    /// The number's "A call comes in" webhook (POST): set it on every number
    /// of the account (numbers bought here get it automatically).
    pub voice_url: String,
    /// The status callback URL (POST).
    pub status_callback_url: String,
    pub updated_at: String,
}

/// `PUT /orgs/{org_id}/voice/account`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoiceAccountRequest {
    /// `AC` followed by 32 hex digits.
    pub account_sid: String,
    /// The account's auth token (signs the webhooks; stored encrypted).
    pub auth_token: String,
}

/// A voice bot: which bot's published flow answers the phone, and how it speaks.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VoiceBot {
    pub id: VoiceBotId,
    pub organization_id: OrgId,
    pub bot_id: Option<BotId>,
    pub name: String,
    pub description: Option<String>,
    pub phone_number_id: Option<PhoneNumberId>,
    /// The phone number assigned (E.164), if any.
    pub phone_number: Option<String>,
    /// The `<Say>` voice (e.g. `alice`, `Polly.Joanna`, `Google.en-US-Neural2-F`).
    pub voice_id: Option<String>,
    pub language: String,
    pub greeting_message: String,
    pub fallback_message: String,
    pub max_call_duration: i64,
    /// `active` or `inactive` (an inactive bot's number answers with a polite goodbye).
    pub status: String,
    /// Voice behaviour: `transfer_to` (number or `sip:` URI a hand-off dials),
    /// `gather_timeout_secs`, `max_reprompts`, `silence_action`
    /// (`hangup`/`transfer`), `ssml`, `record_transfers`, `goodbye_message`.
    #[schema(value_type = Object)]
    pub settings: Map<String, Value>,
    pub total_calls: i64,
    pub total_duration: i64,
    /// Nodes of the bot's published flows a phone cannot say (images or
    /// cards without text, links): the caller would miss them.
    pub voice_warnings: Vec<VoiceWarning>,
    pub created_at: String,
    pub updated_at: String,
}

/// A flow node that does not come across on the phone.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VoiceWarning {
    pub flow: String,
    pub node_id: String,
    /// `unspeakable_node` (nothing to say), `visual_part_dropped` (an image,
    /// card or link the caller will not get).
    pub code: String,
    pub message: String,
}

pub const VOICE_BOT_COLUMNS: &str = "v.id, v.organization_id, v.bot_id, v.name, v.description, v.phone_number_id, \
    p.phone_number, v.voice_id, v.language, v.greeting_message, v.fallback_message, v.max_call_duration, v.status, \
    v.settings, v.total_calls, v.total_duration, v.created_at, v.updated_at";

impl FromRow for VoiceBot {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let settings: String = row.get("settings")?;
        Ok(VoiceBot {
            id: row.get("id")?,
            organization_id: row.get("organization_id")?,
            bot_id: row.get("bot_id")?,
            name: row.get("name")?,
            description: row.get("description")?,
            phone_number_id: row.get("phone_number_id")?,
            phone_number: row.get("phone_number")?,
            voice_id: row.get("voice_id")?,
            language: row.get("language")?,
            greeting_message: row.get("greeting_message")?,
            fallback_message: row.get("fallback_message")?,
            max_call_duration: row.get("max_call_duration")?,
            status: row.get("status")?,
            settings: serde_json::from_str(&settings).unwrap_or_default(),
            total_calls: row.get("total_calls")?,
            total_duration: row.get("total_duration")?,
            voice_warnings: Vec::new(),
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

/// `POST /orgs/{org_id}/voice-bots`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVoiceBotRequest {
    pub name: String,
    pub bot_id: BotId,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub voice_id: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub fallback_message: Option<String>,
    #[serde(default)]
    pub max_call_duration: Option<i64>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settings: Option<Map<String, Value>>,
}

/// `PATCH /voice-bots/{voice_bot_id}`: only the fields given change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateVoiceBotRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub bot_id: Option<BotId>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub voice_id: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub fallback_message: Option<String>,
    #[serde(default)]
    pub max_call_duration: Option<i64>,
    /// `active` or `inactive`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settings: Option<Map<String, Value>>,
}

/// A phone number of the organization's telephony account.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PhoneNumber {
    pub id: PhoneNumberId,
    pub phone_number: String,
    pub friendly_name: Option<String>,
    pub country_code: Option<String>,
    /// `{"voice": bool, "sms": bool}`.
    #[schema(value_type = Object)]
    pub capabilities: Value,
    pub provider_sid: Option<String>,
    /// `active`, `inactive` or `released`.
    pub status: String,
    pub voice_bot_id: Option<VoiceBotId>,
    pub created_at: String,
    pub updated_at: String,
}

pub const PHONE_COLUMNS: &str = "id, phone_number, friendly_name, country_code, capabilities, provider_sid, status, \
    assigned_bot_id, created_at, updated_at";

impl FromRow for PhoneNumber {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let caps: String = row.get("capabilities")?;
        Ok(PhoneNumber {
            id: row.get("id")?,
            phone_number: row.get("phone_number")?,
            friendly_name: row.get("friendly_name")?,
            country_code: row.get("country_code")?,
            capabilities: serde_json::from_str(&caps).unwrap_or(Value::Null),
            provider_sid: row.get("provider_sid")?,
            status: row.get("status")?,
            voice_bot_id: row.get("assigned_bot_id")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

/// `PATCH /phone-numbers/{phone_number_id}`: assigns the number to a voice bot (or none).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignPhoneNumberRequest {
    pub voice_bot_id: Option<VoiceBotId>,
}

/// `POST /orgs/{org_id}/phone-numbers`: buys a number found with the search.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BuyPhoneNumberRequest {
    /// E.164, as the search listed it.
    pub phone_number: String,
    #[serde(default)]
    pub voice_bot_id: Option<VoiceBotId>,
}

/// A number the provider offers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AvailablePhoneNumber {
    pub phone_number: String,
    pub friendly_name: Option<String>,
    pub locality: Option<String>,
    pub region: Option<String>,
    pub country_code: String,
    #[schema(value_type = Object)]
    pub capabilities: Value,
}

/// `GET /orgs/{org_id}/phone-numbers/available`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AvailableQuery {
    /// ISO 3166 country (default `US`).
    pub country: Option<String>,
    pub area_code: Option<String>,
    /// Digits or letters the number should contain.
    pub contains: Option<String>,
}

/// `POST /voice-bots/{voice_bot_id}/calls`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartCallRequest {
    /// Who to call (E.164).
    pub to: String,
    /// Record the call (the recording lands in the call's files).
    #[serde(default)]
    pub record: bool,
    /// Ask the provider to detect answering machines (`AnsweredBy` is recorded).
    #[serde(default)]
    pub machine_detection: bool,
    /// A published flow of the voice bot's bot that the call runs instead of
    /// the entry flow (a reminder, a survey). Default: the entry flow.
    #[serde(default)]
    pub flow: Option<String>,
}

/// A call as listed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Call {
    pub id: CallId,
    pub voice_bot_id: VoiceBotId,
    pub conversation_id: Option<i64>,
    pub provider_call_sid: Option<String>,
    /// `inbound` or `outbound`.
    pub direction: String,
    pub from_number: Option<String>,
    pub to_number: Option<String>,
    pub status: String,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    /// Seconds.
    pub duration: i64,
    /// `contained` (the bot handled it), `transferred`, `abandoned` (the
    /// caller hung up before the bot finished) or `failed`; `null` while live.
    pub outcome: Option<String>,
    /// `human`, `machine_start`, `fax`… when the provider reported it.
    pub answered_by: Option<String>,
    pub recording_file_id: Option<i64>,
    /// Where to play the recording (an authenticated download).
    pub recording_url: Option<String>,
    pub recording_duration: Option<i64>,
    pub error_message: Option<String>,
    pub created_at: String,
}

pub const CALL_COLUMNS: &str = "id, voice_bot_id, conversation_id, provider_call_sid, direction, from_number, to_number, \
    status, start_time, end_time, duration, recording_file_id, recording_duration, error_message, metadata, created_at";

impl FromRow for Call {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let metadata: String = row.get("metadata")?;
        let metadata: Value = serde_json::from_str(&metadata).unwrap_or(Value::Null);
        let text = |k: &str| metadata.get(k).and_then(Value::as_str).map(str::to_owned);
        let file: Option<i64> = row.get("recording_file_id")?;
        Ok(Call {
            id: row.get("id")?,
            voice_bot_id: row.get("voice_bot_id")?,
            conversation_id: row.get("conversation_id")?,
            provider_call_sid: row.get("provider_call_sid")?,
            direction: row.get("direction")?,
            from_number: row.get("from_number")?,
            to_number: row.get("to_number")?,
            status: row.get("status")?,
            start_time: row.get("start_time")?,
            end_time: row.get("end_time")?,
            duration: row.get("duration")?,
            outcome: text("outcome"),
            answered_by: text("answered_by"),
            recording_file_id: file,
            recording_url: file.map(|f| format!("/api/v1/files/{f}")),
            recording_duration: row.get("recording_duration")?,
            error_message: row.get("error_message")?,
            created_at: row.get("created_at")?,
        })
    }
}

/// One turn of a call.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CallSegment {
    pub segment_number: i64,
    /// `caller` (what was recognized) or `bot` (the greeting).
    pub speaker: String,
    pub text: String,
    pub confidence: Option<f64>,
    pub intent: Option<String>,
    /// Server time of the turn, webhook in → `TwiML` out.
    pub latency_ms: Option<i64>,
    /// What the bot said back.
    pub reply: Option<String>,
    pub created_at: String,
}

impl FromRow for CallSegment {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(CallSegment {
            segment_number: row.get("segment_number")?,
            speaker: row.get("speaker")?,
            text: row.get("text")?,
            confidence: row.get("confidence")?,
            intent: row.get("intent")?,
            latency_ms: row.get("latency_ms")?,
            reply: row.get("reply")?,
            created_at: row.get("created_at")?,
        })
    }
}

/// A call with its transcript.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CallDetail {
    #[serde(flatten)]
    pub call: Call,
    pub segments: Vec<CallSegment>,
}

/// `GET /orgs/{org_id}/calls` filters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallFilter {
    pub voice_bot_id: Option<i64>,
    /// `inbound` or `outbound`.
    pub direction: Option<String>,
    pub status: Option<String>,
    /// Seconds, inclusive.
    pub min_duration: Option<i64>,
    pub max_duration: Option<i64>,
    /// `contained`, `transferred`, `abandoned` or `failed`.
    pub outcome: Option<String>,
    pub limit: Option<u32>,
    pub after: Option<String>,
}

/// `GET /orgs/{org_id}/voice/stats`.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct VoiceStats {
    pub calls: i64,
    pub inbound: i64,
    pub outbound: i64,
    pub completed: i64,
    /// Average duration of completed calls, seconds.
    pub average_handle_time_secs: f64,
    /// Completed calls the bot handled without a transfer.
    pub contained: i64,
    pub transferred: i64,
    /// `contained / completed` (0 without completed calls).
    pub containment_rate: f64,
}

//! Contacts: the people who write to the organization's channels, their
//! profile, tags, custom attributes, consent, and the merge of one person's
//! contacts across channels.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rusqlite::Row;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::channels::model::ChannelId;
use crate::conversations::model::ConversationId;
use crate::db::FromRow;
use crate::error::{AppError, AppResult};
use crate::ids::{BotId, OrgId};

crate::id_type!(
    /// A row of `channel_contacts` (one external user on one channel).
    ContactId
);

/// Whether the person agreed to be messaged on this channel address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Consent {
    /// Never asked or never answered.
    Unknown,
    Granted,
    Revoked,
}

impl Consent {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Consent::Unknown => "unknown",
            Consent::Granted => "granted",
            Consent::Revoked => "revoked",
        }
    }

    fn parse(s: &str) -> Consent {
        match s {
            "granted" => Consent::Granted,
            "revoked" => Consent::Revoked,
            _ => Consent::Unknown,
        }
    }
}

/// The channel a contact writes through.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChannelRef {
    pub id: ChannelId,
    /// `telegram`, `whatsapp`, `sms`, …
    #[serde(rename = "type")]
    pub channel_type: String,
    pub name: String,
}

/// A contact as lists and details show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Contact {
    pub id: ContactId,
    pub organization_id: OrgId,
    pub channel: ChannelRef,
    /// The provider's id of the user (Telegram chat id, phone number, …).
    pub external_id: String,
    pub display_name: Option<String>,
    pub username: Option<String>,
    pub phone_number: Option<String>,
    pub email: Option<String>,
    pub profile_picture_url: Option<String>,
    /// Lower-case labels, shared by all the contacts of a person.
    pub tags: Vec<String>,
    /// Keys `[a-z0-9_]`, values string, number, boolean or null; shared by all the contacts of a person.
    #[schema(value_type = Object)]
    pub custom_attributes: Map<String, Value>,
    pub consent_status: Consent,
    /// Who or what set the consent last (`api`, `ui`, `sms_stop`, …).
    pub consent_source: Option<String>,
    pub consent_updated_at: Option<String>,
    pub is_blocked: bool,
    /// Messages in and out on this contact.
    pub message_count: i64,
    pub first_seen_at: Option<String>,
    pub last_seen_at: Option<String>,
    /// The person this contact was merged into (the id of the person's first contact); absent when not merged.
    pub person_id: Option<ContactId>,
    pub created_at: String,
    pub updated_at: String,
}

pub const CONTACT_COLUMNS: &str = "k.id, k.organization_id, k.channel_id, ch.type AS channel_type, \
     ch.name AS channel_name, k.external_id, k.display_name, k.username, k.phone_number, k.email, \
     k.profile_picture_url, k.tags, k.custom_attributes, k.consent_status, k.consent_source, k.consent_updated_at, \
     k.is_blocked, k.message_count, k.first_message_at, k.last_message_at, k.person_id, k.created_at, k.updated_at";

fn json_text<T: serde::de::DeserializeOwned + Default>(row: &Row<'_>, name: &str) -> rusqlite::Result<T> {
    let text: String = row.get(name)?;
    Ok(serde_json::from_str(&text).unwrap_or_default())
}

impl FromRow for Contact {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let consent: String = row.get("consent_status")?;
        Ok(Contact {
            id: row.get("id")?,
            organization_id: row.get("organization_id")?,
            channel: ChannelRef {
                id: row.get("channel_id")?,
                channel_type: row.get("channel_type")?,
                name: row.get("channel_name")?,
            },
            external_id: row.get("external_id")?,
            display_name: row.get("display_name")?,
            username: row.get("username")?,
            phone_number: row.get("phone_number")?,
            email: row.get("email")?,
            profile_picture_url: row.get("profile_picture_url")?,
            tags: json_text(row, "tags")?,
            custom_attributes: json_text(row, "custom_attributes")?,
            consent_status: Consent::parse(&consent),
            consent_source: row.get("consent_source")?,
            consent_updated_at: row.get("consent_updated_at")?,
            is_blocked: row.get("is_blocked")?,
            message_count: row.get("message_count")?,
            first_seen_at: row.get("first_message_at")?,
            last_seen_at: row.get("last_message_at")?,
            person_id: row.get("person_id")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

/// A conversation of a contact, as the detail lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ContactConversation {
    pub id: ConversationId,
    pub bot_id: BotId,
    pub bot_name: String,
    /// `telegram`, `widget`, …
    pub channel: String,
    /// `open`, `handoff` or `closed`.
    pub status: String,
    pub message_count: i64,
    pub last_message_at: Option<String>,
    pub created_at: String,
}

impl FromRow for ContactConversation {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(ContactConversation {
            id: row.get("id")?,
            bot_id: row.get("bot_id")?,
            bot_name: row.get("bot_name")?,
            channel: row.get("channel")?,
            status: row.get("status")?,
            message_count: row.get("message_count")?,
            last_message_at: row.get("last_message_at")?,
            created_at: row.get("created_at")?,
        })
    }
}

/// What is known of the person behind a contact, over all its contacts.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Person {
    /// Every contact of the person, this one included.
    pub contact_ids: Vec<ContactId>,
    pub inbound_messages: i64,
    pub outbound_messages: i64,
    pub first_seen_at: Option<String>,
    pub last_seen_at: Option<String>,
}

/// `GET /contacts/{contact_id}`: the contact, with the person's tags and
/// attributes (the union over its contacts), all its channels and conversations.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ContactDetail {
    #[serde(flatten)]
    pub contact: Contact,
    pub person: Person,
    /// Every contact of the person (one per channel address), this one first.
    pub channels: Vec<Contact>,
    /// The person's conversations, most recent first (at most 200).
    pub conversations: Vec<ContactConversation>,
}

/// Order of the contacts list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContactSort {
    /// Most recently seen first (never seen last).
    #[default]
    LastSeenDesc,
    /// Least recently seen first (never seen first).
    LastSeenAsc,
}

/// Filters of `GET /orgs/{org_id}/contacts`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContactFilter {
    /// Text searched (case-insensitively) in display name, username, phone number, email and external id.
    pub q: Option<String>,
    pub channel_id: Option<i64>,
    /// `telegram`, `whatsapp`, …
    pub channel_type: Option<String>,
    /// Contacts carrying this tag.
    pub tag: Option<String>,
    pub consent: Option<Consent>,
    #[param(inline)]
    pub sort: Option<ContactSort>,
}

/// A position in the contacts list: the last row's last-seen time and id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenCursor {
    pub seen: String,
    pub id: i64,
}

impl SeenCursor {
    #[must_use]
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    pub fn decode(raw: &str) -> AppResult<SeenCursor> {
        let invalid = || AppError::validation("after", "not a cursor returned by this API");
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
        serde_json::from_slice(&bytes).map_err(|_| invalid())
    }
}

/// `PATCH /contacts/{contact_id}`: absent fields stay, `null` clears.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateContactRequest {
    /// 1–200 characters, or null.
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<String>)]
    pub display_name: Option<Option<String>>,
    /// An email address, or null.
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    /// Digits with an optional leading `+` (spaces, dashes, dots and brackets are dropped), or null.
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<String>)]
    pub phone_number: Option<Option<String>>,
    /// The whole set: at most 50, each 1–50 characters; stored lower-case, duplicates dropped.
    pub tags: Option<Vec<String>>,
    /// The whole object: at most 100 keys `[a-z0-9_]{1,64}`, values string, number, boolean or null, at most 16 KiB.
    #[schema(value_type = Option<Object>)]
    pub custom_attributes: Option<Map<String, Value>>,
    /// Blocked contacts get no bot replies.
    pub is_blocked: Option<bool>,
}

/// A consent decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentDecision {
    Granted,
    Revoked,
}

/// `POST /contacts/{contact_id}/consent`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentRequest {
    pub status: ConsentDecision,
    /// Where the decision came from, 1–100 characters (default `api`), e.g. `web_form`, `agent`.
    pub source: Option<String>,
}

/// `POST /contacts/{contact_id}/merge`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// Another contact of the same organization, the same person on another channel.
    pub other_contact_id: ContactId,
}

/// One stored channel message, as exported.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExportedChannelMessage {
    pub id: i64,
    pub channel_id: ChannelId,
    pub contact_id: Option<ContactId>,
    pub conversation_id: Option<ConversationId>,
    pub direction: String,
    pub from_address: Option<String>,
    pub to_address: Option<String>,
    pub from_name: Option<String>,
    pub message_type: String,
    pub content: Option<String>,
    pub media_url: Option<String>,
    pub caption: Option<String>,
    pub status: String,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub created_at: String,
}

impl FromRow for ExportedChannelMessage {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(ExportedChannelMessage {
            id: row.get("id")?,
            channel_id: row.get("channel_id")?,
            contact_id: row.get("contact_id")?,
            conversation_id: row.get("conversation_id")?,
            direction: row.get("direction")?,
            from_address: row.get("from_address")?,
            to_address: row.get("to_address")?,
            from_name: row.get("from_name")?,
            message_type: row.get("message_type")?,
            content: row.get("content")?,
            media_url: row.get("media_url")?,
            caption: row.get("caption")?,
            status: row.get("status")?,
            metadata: json_text(row, "metadata")?,
            created_at: row.get("created_at")?,
        })
    }
}

/// One transcript message of a conversation, as exported.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExportedTranscriptMessage {
    pub id: i64,
    /// `user`, `bot`, `agent`, `system` or `note`.
    pub role: String,
    pub content: String,
    #[schema(value_type = Object)]
    pub payload: Value,
    pub created_at: String,
}

impl FromRow for ExportedTranscriptMessage {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(ExportedTranscriptMessage {
            id: row.get("id")?,
            role: row.get("role")?,
            content: row.get("content")?,
            payload: json_text(row, "payload")?,
            created_at: row.get("created_at")?,
        })
    }
}

/// A conversation of the person with its transcript and variables.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExportedConversation {
    #[serde(flatten)]
    pub conversation: ContactConversation,
    /// The flow position and the variables collected from the person.
    #[schema(value_type = Object)]
    pub state: Value,
    pub messages: Vec<ExportedTranscriptMessage>,
}

/// A raw inbound provider event that mentions one of the person's contacts.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExportedEvent {
    pub id: i64,
    pub channel_id: Option<ChannelId>,
    pub event_type: String,
    #[schema(value_type = Object)]
    pub payload: Value,
    pub created_at: String,
}

impl FromRow for ExportedEvent {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(ExportedEvent {
            id: row.get("id")?,
            channel_id: row.get("channel_id")?,
            event_type: row.get("event_type")?,
            payload: json_text(row, "payload")?,
            created_at: row.get("created_at")?,
        })
    }
}

/// A logged language-understanding parse of one of the person's messages.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExportedParse {
    pub id: i64,
    pub conversation_id: String,
    pub message: String,
    pub detected_intent_name: Option<String>,
    pub created_at: String,
}

impl FromRow for ExportedParse {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(ExportedParse {
            id: row.get("id")?,
            conversation_id: row.get("user_session_id")?,
            message: row.get("message")?,
            detected_intent_name: row.get("detected_intent_name")?,
            created_at: row.get("created_at")?,
        })
    }
}

/// `GET /contacts/{contact_id}/export`: everything stored about the person
/// (GDPR article 15 / 20), as one JSON document.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ContactExport {
    pub exported_at: String,
    pub organization_id: OrgId,
    /// Every contact row of the person, with profile, tags, attributes and consent.
    pub contacts: Vec<Contact>,
    pub channel_messages: Vec<ExportedChannelMessage>,
    pub conversations: Vec<ExportedConversation>,
    /// Raw provider webhook events that mention the person.
    pub webhook_events: Vec<ExportedEvent>,
    pub nlu_logs: Vec<ExportedParse>,
}

/// What an erase removed (counts only: the person's data is gone).
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct EraseReport {
    pub contacts: usize,
    pub channel_messages: usize,
    pub conversations: usize,
    /// Conversations that also involve other contacts: kept, the person's channel messages removed from them.
    pub shared_conversations_kept: usize,
    pub webhook_events_redacted: usize,
    pub webhook_deliveries_redacted: usize,
    pub nlu_logs: usize,
}

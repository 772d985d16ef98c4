//! Channels: types, DTOs and row mappers.

use rusqlite::Row;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::db::FromRow;
use crate::ids::{BotId, OrgId};

crate::id_type!(
    /// A row of `channels`.
    ChannelId
);

/// A channel as the API shows it: credentials and secrets are never included.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Channel {
    pub id: ChannelId,
    pub organization_id: OrgId,
    pub bot_id: Option<BotId>,
    #[serde(rename = "type")]
    #[schema(example = "telegram")]
    pub channel_type: String,
    pub name: String,
    /// The provider-side name (Telegram: the bot's @username), from the last test or activation.
    pub username: Option<String>,
    /// `inactive` until activated; `active` once the provider sends here; `error` after a failed activation.
    pub status: String,
    /// Where the provider must send events: public URL + `/hooks/{webhook_path}`.
    pub webhook_url: String,
    /// The secret the user pastes into the provider's console, for the types
    /// that need one (the generic channel's signing key); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
    pub last_inbound_at: Option<String>,
    pub last_error_at: Option<String>,
    pub error_message: Option<String>,
    /// Outbound messages queued or waiting for a retry.
    pub queue_depth: i64,
    pub created_at: String,
    pub updated_at: String,
}

pub const CHANNEL_COLUMNS: &str = "c.id, c.organization_id, c.bot_id, c.type, c.name, c.username, c.status, \
     c.webhook_path, c.last_inbound_at, c.last_error_at, c.error_message, c.created_at, c.updated_at, \
     (SELECT count(*) FROM channel_messages m WHERE m.channel_id = c.id AND m.direction = 'outbound' \
        AND m.status IN ('pending', 'failed') AND m.dead = 0) AS queue_depth";

impl FromRow for Channel {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Channel {
            id: row.get("id")?,
            organization_id: row.get("organization_id")?,
            bot_id: row.get("bot_id")?,
            channel_type: row.get("type")?,
            name: row.get("name")?,
            username: row.get("username")?,
            status: row.get("status")?,
            // Completed by the service (it knows the public URL).
            webhook_url: row.get("webhook_path")?,
            webhook_secret: None,
            last_inbound_at: row.get("last_inbound_at")?,
            last_error_at: row.get("last_error_at")?,
            error_message: row.get("error_message")?,
            queue_depth: row.get("queue_depth")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

/// `POST /orgs/{org_id}/channels`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateChannelRequest {
    /// One of the known types (`telegram`, `http`, …).
    #[serde(rename = "type")]
    pub channel_type: String,
    /// 1–200 characters; default: the type.
    pub name: Option<String>,
    /// The bot that answers on this channel (a bot of the organization).
    pub bot_id: BotId,
    /// The type's credential fields, all strings (see docs/channels.md):
    /// Telegram `bot_token`; generic HTTP `outbound_url`.
    #[schema(value_type = Object)]
    pub credentials: Map<String, Value>,
}

/// `PATCH /channels/{channel_id}`: absent fields stay. New credentials set the
/// channel back to `inactive` (activate it again).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateChannelRequest {
    pub name: Option<String>,
    pub bot_id: Option<BotId>,
    #[schema(value_type = Option<Object>)]
    pub credentials: Option<Map<String, Value>>,
}

/// The answer of test-connection and activate.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConnectionCheck {
    pub ok: bool,
    /// The provider-side name (Telegram: the bot's @username).
    pub username: Option<String>,
    pub channel: Channel,
}

/// One message of a channel's log (inbound or outbound) and its delivery state.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChannelMessage {
    pub id: i64,
    pub conversation_id: Option<i64>,
    #[schema(example = "outbound")]
    pub direction: String,
    /// `received` (inbound); outbound: `queued`, `retrying`, `sent`,
    /// `delivered`, `read`, `failed` (the provider reported it) or `dead`.
    #[schema(example = "sent")]
    pub status: String,
    pub message_type: String,
    pub content: Option<String>,
    /// Inbound media: the stored file (`/api/v1/files/{id}`), its type and name.
    pub media_url: Option<String>,
    pub media_mime_type: Option<String>,
    pub media_filename: Option<String>,
    pub external_id: Option<String>,
    pub attempts: i64,
    pub error_message: Option<String>,
    pub next_retry_at: Option<String>,
    pub sent_at: Option<String>,
    pub delivered_at: Option<String>,
    pub read_at: Option<String>,
    pub created_at: String,
}

pub const MESSAGE_COLUMNS: &str = "id, conversation_id, direction, status, dead, message_type, content, \
     media_url, media_mime_type, media_filename, external_id, attempts, error_message, next_retry_at, sent_at, \
     delivered_at, read_at, created_at";

impl FromRow for ChannelMessage {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let raw: String = row.get("status")?;
        let dead: bool = row.get("dead")?;
        let status = match (raw.as_str(), dead) {
            ("pending", _) => "queued",
            ("failed", true) => "dead",
            ("failed", false) => "retrying",
            (other, _) => other,
        };
        Ok(ChannelMessage {
            id: row.get("id")?,
            conversation_id: row.get("conversation_id")?,
            direction: row.get("direction")?,
            status: status.to_owned(),
            message_type: row.get("message_type")?,
            content: row.get("content")?,
            media_url: row.get("media_url")?,
            media_mime_type: row.get("media_mime_type")?,
            media_filename: row.get("media_filename")?,
            external_id: row.get("external_id")?,
            attempts: row.get("attempts")?,
            error_message: row.get("error_message")?,
            next_retry_at: row.get("next_retry_at")?,
            sent_at: row.get("sent_at")?,
            delivered_at: row.get("delivered_at")?,
            read_at: row.get("read_at")?,
            created_at: row.get("created_at")?,
        })
    }
}

/// `POST /channels/{channel_id}/send-test`: a text to an address of the
/// provider (chat id, phone number, user id…), through the outbound queue.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendTestRequest {
    /// The provider's address of the recipient.
    #[schema(example = "123456789")]
    pub to: String,
    /// 1–1000 characters.
    pub text: String,
}

/// The delivery state of one transcript message sent through a channel.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MessageDelivery {
    /// The transcript message (`/conversations/{id}/messages` item id).
    pub message_id: i64,
    /// `queued`, `retrying`, `sent`, `delivered`, `read`, `failed` or `dead`.
    pub status: String,
    pub error_message: Option<String>,
    pub sent_at: Option<String>,
    pub delivered_at: Option<String>,
    pub read_at: Option<String>,
}

impl FromRow for MessageDelivery {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let m = ChannelMessage::from_row(row)?;
        Ok(MessageDelivery {
            message_id: row.get("conversation_message_id")?,
            status: m.status,
            error_message: m.error_message,
            sent_at: m.sent_at,
            delivered_at: m.delivered_at,
            read_at: m.read_at,
        })
    }
}

/// `GET /conversations/{conversation_id}/deliveries`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Deliveries {
    /// One per transcript message that went through a channel (its last request's state).
    pub items: Vec<MessageDelivery>,
}

//! Bot types.

use rusqlite::Row;
use serde::{Deserialize, Serialize};

use crate::db::FromRow;
use crate::error::ErrorCode;
use crate::flows::engine::CannedKind;
use crate::ids::{BotId, OrgId};
use crate::ml::Encoder;

crate::id_type!(
    /// A row of `bot_messages`.
    CannedMessageId
);

/// A bot as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Bot {
    pub id: BotId,
    pub organization_id: OrgId,
    pub name: String,
    pub description: Option<String>,
    /// BCP 47 language tag (`en`, `pt-BR`) or `auto`.
    pub language: String,
    pub is_active: bool,
    /// The team whose inbox receives the bot's handoffs.
    pub team_id: Option<i64>,
    /// Where the avatar image is served, when the bot has one.
    pub avatar_url: Option<String>,
    /// Public key embedding the web widget (`<script data-bot-key=…>`).
    pub widget_key: String,
    pub settings: BotSettings,
    pub total_messages_received: i64,
    pub total_messages_sent: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl FromRow for Bot {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let id: BotId = row.get("id")?;
        let avatar: Option<i64> = row.get("avatar_file_id")?;
        let settings: String = row.get("settings")?;
        Ok(Bot {
            id,
            organization_id: row.get("organization_id")?,
            name: row.get("name")?,
            description: row.get("description")?,
            language: row.get("language")?,
            is_active: row.get("is_active")?,
            team_id: row.get("team_id")?,
            avatar_url: avatar.map(|_| format!("/api/v1/bots/{id}/avatar")),
            widget_key: row.get("widget_key")?,
            settings: BotSettings::from_json(&settings),
            total_messages_received: row.get("total_messages_received")?,
            total_messages_sent: row.get("total_messages_sent")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

/// How the bot hands over to people, falls back and asks for feedback
/// (`bots.settings`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct BotSettings {
    /// Phrases (whole words, any case) with which end users ask for a human.
    pub handoff_keywords: Vec<String>,
    /// An NLU intent that asks for a human.
    pub handoff_intent: Option<String>,
    /// Said when the conversation goes to the team's inbox.
    pub handoff_message: String,
    /// Said when nothing else answers a message.
    pub fallback_message: String,
    /// Ask for a 1–5 rating when a conversation is closed.
    pub csat_enabled: bool,
    pub csat_question: String,
    pub csat_thanks: String,
    /// Refuse to publish a flow while the bot's conversation tests fail
    /// (off: failures are a warning in the publish response).
    pub block_publish_on_test_failure: bool,
    /// Out-of-scope sensitivity of the NLU: a message whose best similarity
    /// (cosine, 0–1) to the examples of its predicted intent is below this
    /// is out of scope. `null` = the floor calibrated at each training.
    /// Higher rejects more.
    pub nlu_similarity_floor: Option<f64>,
    /// The sentence encoder of the bot's NLU (`all-MiniLM-L6-v2` or
    /// `multilingual-e5-small`); `null` = by the bot's language (English →
    /// MiniLM, any other → multilingual). Changing it retrains the bot.
    pub nlu_encoder: Option<Encoder>,
}

impl Bot {
    /// The encoder the bot's NLU trains and parses with.
    #[must_use]
    pub fn nlu_encoder(&self) -> Encoder {
        self.settings.nlu_encoder.unwrap_or_else(|| Encoder::for_language(&self.language))
    }
}

impl Default for BotSettings {
    fn default() -> Self {
        BotSettings {
            handoff_keywords: vec![
                "talk to a human".into(),
                "speak to a human".into(),
                "human agent".into(),
                "real person".into(),
            ],
            handoff_intent: None,
            handoff_message: "I'm connecting you with a person. Please wait a moment.".into(),
            fallback_message: "Sorry, I didn't understand that.".into(),
            csat_enabled: false,
            csat_question: "How would you rate this conversation, from 1 (poor) to 5 (great)?".into(),
            csat_thanks: "Thank you for your feedback!".into(),
            block_publish_on_test_failure: false,
            nlu_similarity_floor: None,
            nlu_encoder: None,
        }
    }
}

impl BotSettings {
    /// Reads the stored JSON; keys written by newer versions are ignored.
    #[must_use]
    pub fn from_json(text: &str) -> BotSettings {
        serde_json::from_str(text).unwrap_or_default()
    }
}

/// `PATCH` of the settings: absent fields stay as they are.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BotSettingsPatch {
    pub handoff_keywords: Option<Vec<String>>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<String>)]
    pub handoff_intent: Option<Option<String>>,
    pub handoff_message: Option<String>,
    pub fallback_message: Option<String>,
    pub csat_enabled: Option<bool>,
    pub csat_question: Option<String>,
    pub csat_thanks: Option<String>,
    pub block_publish_on_test_failure: Option<bool>,
    /// 0–1; `null` returns to the calibrated floor.
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<f64>)]
    pub nlu_similarity_floor: Option<Option<f64>>,
    /// `all-MiniLM-L6-v2` or `multilingual-e5-small`; `null` = by language.
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<String>)]
    pub nlu_encoder: Option<Option<String>>,
}

/// `POST /orgs/{org_id}/bots`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBotRequest {
    #[schema(example = "Support bot")]
    pub name: String,
    pub description: Option<String>,
    /// Default `en`.
    pub language: Option<String>,
    /// The team whose inbox receives handoffs.
    #[serde(default)]
    pub team_id: Option<i64>,
}

/// `PATCH /bots/{bot_id}`: absent fields stay as they are.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBotRequest {
    pub name: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    pub language: Option<String>,
    pub is_active: Option<bool>,
    /// `null` removes the team.
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<i64>)]
    pub team_id: Option<Option<i64>>,
    pub settings: Option<BotSettingsPatch>,
}

/// This month's message use of the bot's organization against its plan.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BotUsage {
    /// `YYYY-MM` (UTC).
    pub month: String,
    /// End-user messages of the whole organization this month.
    pub organization_messages: i64,
    /// The plan's monthly allowance (-1: unlimited).
    pub limit: i64,
    /// Of which this bot's.
    pub bot_messages_received: i64,
    pub bot_messages_sent: i64,
}

// ---- Canned messages ------------------------------------------------------

/// A canned bot message (`bot_messages`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CannedMessage {
    pub id: CannedMessageId,
    pub bot_id: BotId,
    /// `greeting` (sent when a conversation starts, or by keyword),
    /// `response` and `help` (by keyword), `command` (the whole message equals
    /// a keyword; answered even during a question), `fallback` (when nothing
    /// else answers).
    pub message_type: CannedKind,
    /// The reply; may use `{{variables}}`.
    pub content: String,
    pub trigger_keywords: Vec<String>,
    /// Higher first.
    pub priority: i64,
    pub is_active: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl FromRow for CannedMessage {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let kind: String = row.get("message_type")?;
        let keywords: String = row.get("trigger_keywords")?;
        Ok(CannedMessage {
            id: row.get("id")?,
            bot_id: row.get("bot_id")?,
            message_type: parse_kind(&kind),
            content: row.get("content")?,
            trigger_keywords: serde_json::from_str(&keywords).unwrap_or_default(),
            priority: row.get("priority")?,
            is_active: row.get("is_active")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

#[must_use]
pub fn kind_name(k: CannedKind) -> &'static str {
    match k {
        CannedKind::Greeting => "greeting",
        CannedKind::Response => "response",
        CannedKind::Fallback => "fallback",
        CannedKind::Command => "command",
        CannedKind::Help => "help",
    }
}

fn parse_kind(s: &str) -> CannedKind {
    match s {
        "greeting" => CannedKind::Greeting,
        "fallback" => CannedKind::Fallback,
        "command" => CannedKind::Command,
        "help" => CannedKind::Help,
        _ => CannedKind::Response,
    }
}

/// `POST /bots/{bot_id}/canned-messages`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCannedRequest {
    pub message_type: CannedKind,
    pub content: String,
    #[serde(default)]
    pub trigger_keywords: Vec<String>,
    #[serde(default)]
    pub priority: i64,
    #[serde(default)]
    pub is_active: Option<bool>,
}

/// `PATCH /canned-messages/{canned_message_id}`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCannedRequest {
    pub message_type: Option<CannedKind>,
    pub content: Option<String>,
    pub trigger_keywords: Option<Vec<String>>,
    pub priority: Option<i64>,
    pub is_active: Option<bool>,
}

/// The scope resource of `/canned-messages/{canned_message_id}`.
pub struct CannedResource;

impl crate::http::ScopeResource for CannedResource {
    const PARAM: &'static str = "canned_message_id";
    const NOT_FOUND: ErrorCode = ErrorCode::CannedMessageNotFound;
    type Id = CannedMessageId;
    fn owner(conn: &rusqlite::Connection, id: CannedMessageId) -> rusqlite::Result<Option<crate::http::scope::Owner>> {
        use rusqlite::OptionalExtension;
        conn.query_row("SELECT organization_id, bot_id FROM bot_messages WHERE id = ?1", [id], |r| {
            Ok(crate::http::scope::Owner { org_id: r.get(0)?, bot_id: Some(r.get(1)?) })
        })
        .optional()
    }
}

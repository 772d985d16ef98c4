//! Conversation and transcript types.

use rusqlite::Row;
use serde::{Deserialize, Serialize};

use crate::db::FromRow;
use crate::error::ErrorCode;
use crate::flows::engine::{ConvState, Nlu, RichParts, Trace};
use crate::ids::{BotId, OrgId, UserId};

crate::id_type!(
    /// A row of `conversations`.
    ConversationId
);

/// Where a conversation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConvStatus {
    /// With the bot.
    Open,
    /// Waiting for or with a human agent.
    Handoff,
    Closed,
}

impl ConvStatus {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ConvStatus::Open => "open",
            ConvStatus::Handoff => "handoff",
            ConvStatus::Closed => "closed",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<ConvStatus> {
        match s {
            "open" => Some(ConvStatus::Open),
            "handoff" => Some(ConvStatus::Handoff),
            "closed" => Some(ConvStatus::Closed),
            _ => None,
        }
    }
}

/// A conversation as the runtime holds it (the authoritative copy of the
/// row between turns; written back with every turn).
#[derive(Debug, Clone)]
pub struct ConvEntry {
    pub id: ConversationId,
    pub org_id: OrgId,
    pub bot_id: BotId,
    pub channel: String,
    pub external_user_id: String,
    pub status: ConvStatus,
    pub state: ConvState,
    pub team_id: Option<i64>,
    pub assignee: Option<UserId>,
    pub csat: Option<i64>,
    pub resolution: Option<String>,
    pub handoff_at: Option<String>,
    pub closed_at: Option<String>,
    pub created_at: String,
}

impl FromRow for ConvEntry {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let state: String = row.get("state")?;
        let status: String = row.get("status")?;
        Ok(ConvEntry {
            id: row.get("id")?,
            org_id: row.get("organization_id")?,
            bot_id: row.get("bot_id")?,
            channel: row.get("channel")?,
            external_user_id: row.get("external_user_id")?,
            status: ConvStatus::parse(&status).unwrap_or(ConvStatus::Open),
            state: serde_json::from_str(&state).unwrap_or_default(),
            team_id: row.get("team_id")?,
            assignee: row.get("assignee_user_id")?,
            csat: row.get("csat")?,
            resolution: row.get("resolution")?,
            handoff_at: row.get("handoff_at")?,
            closed_at: row.get("closed_at")?,
            created_at: row.get("created_at")?,
        })
    }
}

/// A conversation as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Conversation {
    pub id: ConversationId,
    pub bot_id: BotId,
    pub bot_name: String,
    /// `widget`, `api`, `emulator`, or a channel such as `telegram`.
    pub channel: String,
    /// The end user's id in the channel (the widget session id for the widget).
    pub external_user_id: String,
    pub status: ConvStatus,
    pub assignee_user_id: Option<UserId>,
    pub assignee_name: Option<String>,
    pub team_id: Option<i64>,
    pub csat: Option<i64>,
    pub resolution: Option<String>,
    pub message_count: i64,
    pub last_message_at: Option<String>,
    /// The newest message (not notes), shortened.
    pub last_message: Option<String>,
    pub handoff_at: Option<String>,
    pub closed_at: Option<String>,
    pub created_at: String,
    /// Flow position and variables (detail view only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub state: Option<serde_json::Value>,
    /// Visitor messages the caller has not read (inbox lists only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unread: Option<i64>,
    /// Who the end user is, as far as known (detail view only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visitor: Option<Visitor>,
}

/// What is known about the end user of a conversation: what the widget
/// reported when the conversation started, and what the visitor told the bot.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Visitor {
    /// The page the widget was opened on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_title: Option<String>,
    /// `navigator.language`, else the first `Accept-Language` tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Browser and version, short (`Chrome 120`), from the user agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub browser: Option<String>,
    /// Operating system (`Windows`, `macOS`, `Android`…), from the user agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// From the conversation's variables (`name`, `email`), when the visitor gave them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// When the conversation started.
    pub first_seen: String,
    pub channel: String,
}

/// What the widget stores about its visitor (`conversations.visitor`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VisitorInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

impl FromRow for Conversation {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let status: String = row.get("status")?;
        Ok(Conversation {
            id: row.get("id")?,
            bot_id: row.get("bot_id")?,
            bot_name: row.get("bot_name")?,
            channel: row.get("channel")?,
            external_user_id: row.get("external_user_id")?,
            status: ConvStatus::parse(&status).unwrap_or(ConvStatus::Open),
            assignee_user_id: row.get("assignee_user_id")?,
            assignee_name: row.get("assignee_name")?,
            team_id: row.get("team_id")?,
            csat: row.get("csat")?,
            resolution: row.get("resolution")?,
            message_count: row.get("message_count")?,
            last_message_at: row.get("last_message_at")?,
            last_message: row.get("last_message")?,
            handoff_at: row.get("handoff_at")?,
            closed_at: row.get("closed_at")?,
            created_at: row.get("created_at")?,
            state: None,
            unread: row.get::<_, i64>("unread").ok(),
            visitor: None,
        })
    }
}

/// Who wrote a transcript message. Named `MessageAuthor` in the `OpenAPI`
/// document: `Role` is the RBAC role of `orgs::roles`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = MessageAuthor)]
pub enum Role {
    User,
    Bot,
    Agent,
    System,
    /// An agents' internal note, never shown to the end user.
    Note,
}

impl Role {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Bot => "bot",
            Role::Agent => "agent",
            Role::System => "system",
            Role::Note => "note",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Role {
        match s {
            "user" => Role::User,
            "agent" => Role::Agent,
            "system" => Role::System,
            "note" => Role::Note,
            _ => Role::Bot,
        }
    }
}

/// One transcript message.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Message {
    pub id: i64,
    pub role: Role,
    pub text: String,
    #[serde(flatten)]
    pub parts: RichParts,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author_user_id: Option<UserId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author_name: Option<String>,
    pub created_at: String,
}

impl FromRow for Message {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let role: String = row.get("role")?;
        let payload: String = row.get("payload")?;
        Ok(Message {
            id: row.get("id")?,
            role: Role::parse(&role),
            text: row.get("content")?,
            parts: serde_json::from_str(&payload).unwrap_or_default(),
            author_user_id: row.get("author_user_id")?,
            author_name: row.get("author_name")?,
            created_at: row.get("created_at")?,
        })
    }
}

/// An end-user message sent through the API, the widget or the emulator.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessageRequest {
    /// 1–4000 characters of text (quick replies send their value as text).
    pub text: String,
}

/// `POST /bots/{bot_id}/conversations`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartConversationRequest {
    /// The end user's id in your system (default: a new random id). The same
    /// id continues the same conversation.
    #[serde(default)]
    pub external_user_id: Option<String>,
    /// A first message (default: none; the flow starts and greets).
    #[serde(default)]
    pub text: Option<String>,
}

/// The answer to a message: what was stored and what the bot said.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TurnResponse {
    pub conversation_id: ConversationId,
    pub status: ConvStatus,
    /// The stored end-user message (absent when the turn had none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
    /// The bot's replies (none while a human agent has the conversation).
    pub replies: Vec<Message>,
    /// The debugger's view of the turn (emulator only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<Trace>,
}

/// `POST /bots/{bot_id}/emulator`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmulatorRequest {
    /// Continue this emulator conversation (default: start a new one).
    #[serde(default)]
    pub conversation_id: Option<ConversationId>,
    /// Which flows to run (default `draft`).
    #[serde(default)]
    pub source: Option<EmulatorSource>,
    /// The message (absent: start the conversation).
    #[serde(default)]
    pub text: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmulatorSource {
    Draft,
    Published,
}

/// One replayed turn: what the bot said then and what the draft says now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReplayTurn {
    pub user: String,
    pub original: Vec<String>,
    pub replayed: Vec<String>,
    pub same: bool,
    pub trace: Trace,
}

/// The replay of a transcript against the draft flows.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReplayReport {
    pub conversation_id: ConversationId,
    pub turns: Vec<ReplayTurn>,
    pub differing_turns: usize,
}

/// `GET /bots/{bot_id}/conversations` filters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConversationFilter {
    /// `open`, `handoff` or `closed`.
    pub status: Option<String>,
    pub channel: Option<String>,
    /// Text searched in the messages (case-insensitive).
    pub q: Option<String>,
    /// Include emulator conversations (default false).
    pub include_emulator: Option<bool>,
}

/// `GET /orgs/{org_id}/inbox` filters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InboxFilter {
    /// Only this team's conversations.
    pub team_id: Option<i64>,
    /// Only conversations assigned to the caller (same as `status=mine`).
    pub mine: Option<bool>,
    /// Only this bot's conversations (default: every bot of the organization).
    pub bot_id: Option<i64>,
    /// `waiting` (no agent yet), `assigned`, `mine`, `closed`, or `open` (with
    /// the bot). Default: waiting and assigned.
    pub status: Option<String>,
    /// `widget`, `api`, `telegram`…
    pub channel: Option<String>,
    /// Text searched in the messages and the visitor's id (case-insensitive).
    pub q: Option<String>,
    /// Include emulator (test) conversations (default false).
    pub include_emulator: Option<bool>,
}

/// The caller's unread visitor messages in the inbox (conversations waiting
/// for an agent or assigned to the caller; emulator conversations excluded).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UnreadSummary {
    /// Visitor messages not read yet.
    pub unread: i64,
    /// Conversations with at least one of them.
    pub conversations: i64,
}

crate::id_type!(
    /// A row of `canned_replies`.
    CannedReplyId
);

/// An organization's saved reply for agents.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CannedReply {
    pub id: CannedReplyId,
    /// Typed after `/` in the composer (`thanks` → `/thanks`).
    pub shortcut: String,
    /// May hold `{{visitor.name}}`, `{{visitor.email}}`, `{{agent.name}}` and
    /// `{{bot.name}}`, filled in when the agent inserts it.
    pub text: String,
    pub created_by: Option<UserId>,
    pub created_at: String,
    pub updated_at: String,
}

impl FromRow for CannedReply {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(CannedReply {
            id: row.get("id")?,
            shortcut: row.get("shortcut")?,
            text: row.get("text")?,
            created_by: row.get("created_by")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

/// `POST /orgs/{org_id}/canned-replies`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CannedReplyRequest {
    /// 1–40 characters: lower-case letters, digits, `-` and `_` (a leading `/` is dropped).
    pub shortcut: String,
    /// 1–4000 characters.
    pub text: String,
}

/// `PATCH /canned-replies/{canned_reply_id}`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CannedReplyPatch {
    #[serde(default)]
    pub shortcut: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
}

/// `POST /conversations/{id}/read`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkReadRequest {
    /// Read up to this message (default: the newest).
    #[serde(default)]
    pub message_id: Option<i64>,
}

/// The scope resource of `/canned-replies/{canned_reply_id}`.
pub struct CannedReplyResource;

impl crate::http::ScopeResource for CannedReplyResource {
    const PARAM: &'static str = "canned_reply_id";
    const NOT_FOUND: ErrorCode = ErrorCode::CannedReplyNotFound;
    type Id = CannedReplyId;
    fn owner(conn: &rusqlite::Connection, id: CannedReplyId) -> rusqlite::Result<Option<crate::http::scope::Owner>> {
        use rusqlite::OptionalExtension;
        conn.query_row("SELECT organization_id FROM canned_replies WHERE id = ?1", [id], |r| {
            Ok(crate::http::scope::Owner { org_id: r.get(0)?, bot_id: None })
        })
        .optional()
    }
}

/// `POST /conversations/{id}/notes`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentTextRequest {
    pub text: String,
}

/// `POST /conversations/{id}/reply`: text, files or both.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentReplyRequest {
    /// 1–4000 characters; may be empty when files are attached.
    #[serde(default)]
    pub text: String,
    /// Files uploaded with `POST /conversations/{id}/files` (at most 10).
    #[serde(default)]
    pub attachments: Vec<crate::ids::FileId>,
}

/// `?name=` of an agent's upload (`POST /conversations/{id}/files`).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UploadParams {
    /// The file's name as the sender knows it (shown with the download link).
    pub name: Option<String>,
}

/// `POST /conversations/{id}/assign`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    /// Default: the caller.
    #[serde(default)]
    pub user_id: Option<UserId>,
}

/// `POST /conversations/{id}/handoff`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandoffRequest {
    #[serde(default)]
    pub note: Option<String>,
}

/// `POST /conversations/{id}/close`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseRequest {
    /// How it was resolved (shown in the transcript list).
    #[serde(default)]
    pub resolution: Option<String>,
}

/// `POST /conversations/{id}/typing`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TypingRequest {
    #[serde(default = "yes")]
    pub typing: bool,
}

fn yes() -> bool {
    true
}

/// What the debugger shows about NLU when the bot has none.
#[must_use]
pub fn no_nlu(note: &str) -> Nlu {
    Nlu { note: Some(note.to_owned()), ..Nlu::default() }
}

/// The scope resource of `/conversations/{conversation_id}`.
pub struct ConversationResource;

impl crate::http::ScopeResource for ConversationResource {
    const PARAM: &'static str = "conversation_id";
    const NOT_FOUND: ErrorCode = ErrorCode::ConversationNotFound;
    type Id = ConversationId;
    fn owner(conn: &rusqlite::Connection, id: ConversationId) -> rusqlite::Result<Option<crate::http::scope::Owner>> {
        use rusqlite::OptionalExtension;
        conn.query_row("SELECT organization_id, bot_id FROM conversations WHERE id = ?1", [id], |r| {
            Ok(crate::http::scope::Owner { org_id: r.get(0)?, bot_id: Some(r.get(1)?) })
        })
        .optional()
    }
}

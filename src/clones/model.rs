//! Work clones: types, DTOs and row mappers.

use std::collections::BTreeMap;

use rusqlite::Row;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::style::StyleProfile;
use crate::db::FromRow;
use crate::error::{AppError, AppResult};
use crate::ids::UserId;
use crate::llm::model::LlmProviderId;

crate::id_type!(
    /// A row of `work_clones`.
    CloneId
);
crate::id_type!(
    /// A row of `clone_training_data` (one context → reply pair).
    CloneDataId
);
crate::id_type!(
    /// A row of `clone_responses` (one draft and its feedback).
    CloneResponseId
);

/// A clone as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WorkClone {
    pub id: CloneId,
    /// The member whose clone it is.
    pub owner_user_id: Option<UserId>,
    pub name: String,
    pub description: Option<String>,
    /// `draft` until trained, then `ready`.
    pub status: String,
    /// The chat model provider drafts use (else the organization's default; none: retrieval drafts).
    pub provider_id: Option<LlmProviderId>,
    pub ai_model: Option<String>,
    pub training_samples_count: i64,
    /// The version drafts answer with (`null` until trained).
    pub active_version: Option<i64>,
    pub last_trained_at: Option<String>,
    /// Members it is shared with.
    pub shared_with: Vec<CloneShare>,
    /// What the caller may do: `manage` (owner, admin, manage share) or `use`.
    pub access: ShareAccess,
    pub created_at: String,
    pub updated_at: String,
}

/// The columns of [`WorkClone`] (without `shared_with`).
pub const CLONE_COLUMNS: &str = "id, user_id, name, description, status, provider_id, ai_model, \
     training_samples_count, active_version, last_trained_at, created_at, updated_at";

impl FromRow for WorkClone {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(WorkClone {
            id: row.get("id")?,
            owner_user_id: row.get("user_id")?,
            name: row.get("name")?,
            description: row.get("description")?,
            status: row.get("status")?,
            provider_id: row.get("provider_id")?,
            ai_model: row.get("ai_model")?,
            training_samples_count: row.get("training_samples_count")?,
            active_version: row.get("active_version")?,
            last_trained_at: row.get("last_trained_at")?,
            shared_with: Vec::new(),
            access: ShareAccess::Use,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

/// `POST /orgs/{org_id}/clones`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCloneRequest {
    #[schema(example = "Anna's replies")]
    pub name: String,
    pub description: Option<String>,
    pub provider_id: Option<LlmProviderId>,
    pub ai_model: Option<String>,
}

/// `PATCH /clones/{clone_id}`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCloneRequest {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<i64>)]
    pub provider_id: Option<Option<LlmProviderId>>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<String>)]
    pub ai_model: Option<Option<String>>,
}

/// Checks a clone name.
pub fn check_name(name: &str) -> AppResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::validation("name", "must be 1–200 characters"));
    }
    Ok(name.to_owned())
}

/// Checks an optional free text (`field`, at most `max` characters).
pub fn check_text(field: &str, text: Option<String>, max: usize) -> AppResult<Option<String>> {
    match text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()) {
        Some(t) if t.chars().count() > max => {
            Err(AppError::validation(field, format!("must be at most {max} characters")))
        }
        other => Ok(other),
    }
}

/// What a share allows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShareAccess {
    /// Draft replies, read the style profile and training data, give feedback.
    #[default]
    Use,
    /// Also import, train, edit, share and delete, as the owner.
    Manage,
}

impl ShareAccess {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ShareAccess::Use => "use",
            ShareAccess::Manage => "manage",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> ShareAccess {
        if s == "manage" { ShareAccess::Manage } else { ShareAccess::Use }
    }
}

/// A member a clone is shared with.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CloneShare {
    pub user_id: UserId,
    pub access: ShareAccess,
}

/// `POST /clones/{clone_id}/shares`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareRequest {
    /// A member of the clone's organization.
    pub user_id: UserId,
    /// Default `use`.
    #[serde(default)]
    pub access: ShareAccess,
}

/// The formats training material is imported from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportFormat {
    /// A Unix mailbox (`From ` separated messages).
    Mbox,
    /// One RFC 5322 message.
    Eml,
    /// One channel file of a Slack export: a JSON array of messages (`user`, `text`, `ts`).
    Slack,
    /// A WhatsApp "Export chat" text file.
    Whatsapp,
    /// CSV with a header naming `question` and `answer` (or `context` and `reply`) columns.
    Csv,
}

impl ImportFormat {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ImportFormat::Mbox => "mbox",
            ImportFormat::Eml => "eml",
            ImportFormat::Slack => "slack",
            ImportFormat::Whatsapp => "whatsapp",
            ImportFormat::Csv => "csv",
        }
    }

    /// `clone_training_data.data_type` of its pairs.
    #[must_use]
    pub fn data_type(self) -> &'static str {
        match self {
            ImportFormat::Mbox | ImportFormat::Eml => "email",
            ImportFormat::Slack | ImportFormat::Whatsapp => "chat",
            ImportFormat::Csv => "custom",
        }
    }
}

/// `POST /clones/{clone_id}/imports`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    pub format: ImportFormat,
    /// Who the clone is, as the export names them: an email address (mbox, eml), a Slack user id
    /// (`U024BE7LH`) or a WhatsApp display name. Only their messages become replies. Not needed for CSV.
    pub identity: Option<String>,
    /// The export's text.
    pub content: String,
    /// Replace email addresses, phone numbers and card numbers with `[email]`, `[phone]`, `[card]`.
    #[serde(default)]
    pub scrub_pii: bool,
}

/// What an import did.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    /// Messages (or rows) read from the export.
    pub messages: usize,
    /// New training pairs stored.
    pub imported: usize,
    /// Pairs already stored (or repeated in the export).
    pub duplicates: usize,
    /// Replies left out, by reason: `auto_reply`, `empty`, `too_short` (under 10 characters), `too_long`.
    pub skipped: BTreeMap<String, usize>,
}

/// A training pair.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TrainingPair {
    pub id: CloneDataId,
    /// `email`, `chat`, `custom`.
    pub data_type: String,
    /// `mbox`, `eml`, `slack`, `whatsapp`, `csv` or `feedback`.
    pub source: Option<String>,
    /// What the person answered.
    pub context: String,
    /// Their reply, without quoted text, signature and sign-off.
    pub reply: String,
    /// Greeting and sign-off found in the reply, and where the pair came from.
    #[schema(value_type = Object)]
    pub features: Value,
    pub enabled: bool,
    pub created_at: String,
}

/// The columns of [`TrainingPair`].
pub const PAIR_COLUMNS: &str = "id, data_type, source, context, coalesce(processed_content, original_content) AS reply, extracted_features, \
     is_approved, created_at";

impl FromRow for TrainingPair {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let features: String = row.get("extracted_features")?;
        Ok(TrainingPair {
            id: row.get("id")?,
            data_type: row.get("data_type")?,
            source: row.get("source")?,
            context: row.get("context")?,
            reply: row.get("reply")?,
            features: serde_json::from_str(&features).unwrap_or(Value::Null),
            enabled: row.get("is_approved")?,
            created_at: row.get("created_at")?,
        })
    }
}

/// `PATCH /clones/{clone_id}/training-data/{clone_data_id}`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePairRequest {
    /// Disabled pairs are left out of the next training.
    pub enabled: bool,
}

/// `GET /clones/{clone_id}/style`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StyleResponse {
    /// The profile of the enabled pairs as they are now.
    pub current: StyleProfile,
    /// The profile frozen by the active version (`null` until trained).
    pub trained: Option<StyleProfile>,
    pub active_version: Option<i64>,
}

/// One training run.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CloneVersion {
    pub version: i64,
    pub pairs_count: i64,
    pub embedding_model: String,
    pub training_ms: i64,
    pub style_profile: StyleProfile,
    pub created_at: String,
}

impl FromRow for CloneVersion {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let profile: String = row.get("style_profile")?;
        Ok(CloneVersion {
            version: row.get("version")?,
            pairs_count: row.get("pairs_count")?,
            embedding_model: row.get("embedding_model")?,
            training_ms: row.get("training_ms")?,
            style_profile: serde_json::from_str(&profile).unwrap_or_default(),
            created_at: row.get("created_at")?,
        })
    }
}

/// `POST /clones/{clone_id}/generate`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateRequest {
    /// The message to answer.
    #[schema(example = "Can we move our call to Thursday?")]
    pub message: String,
}

/// How a draft was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DraftMode {
    /// Written by the chat model from the style profile and the cited past exchanges.
    Model,
    /// No chat model is configured: the best-matching past reply, adapted.
    Retrieval,
}

/// A past exchange a draft leaned on.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CloneCitation {
    pub pair_id: CloneDataId,
    /// Fused retrieval score (reciprocal rank, higher is better).
    pub score: f64,
    /// Cosine similarity of the pair's context to the message.
    pub similarity: f64,
    pub context: String,
    pub reply: String,
}

/// A drafted reply (recorded as a clone response).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Draft {
    pub response_id: CloneResponseId,
    pub mode: DraftMode,
    pub text: String,
    /// What the draft is based on, best first.
    pub citations: Vec<CloneCitation>,
    /// The clone version that answered.
    pub version: i64,
    pub latency_ms: i64,
    /// Says how the draft was made.
    pub note: String,
}

/// A reviewer's decision on a draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Accept,
    Edit,
    Reject,
}

impl Decision {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Accept => "accept",
            Decision::Edit => "edit",
            Decision::Reject => "reject",
        }
    }
}

/// `POST /clones/{clone_id}/responses/{response_id}/feedback`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackRequest {
    pub decision: Decision,
    /// The reply as sent (required for `edit`).
    pub text: Option<String>,
}

/// What feedback did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FeedbackResult {
    pub response_id: CloneResponseId,
    pub decision: Decision,
    /// The training pair the accepted or edited reply became (`null` for a rejection, a duplicate or
    /// a reply under 10 characters).
    pub training_pair_id: Option<CloneDataId>,
}

/// `POST /conversations/{conversation_id}/clone-suggestion`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuggestionRequest {
    /// A clone the agent owns or that is shared with them.
    pub clone_id: CloneId,
}

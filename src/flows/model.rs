//! Flow version and orchestration types as the API shows them.

use rusqlite::Row;
use serde::{Deserialize, Serialize};

use super::compile::Issue;
use super::document::FlowDocument;
use super::engine::{VarScope, VarType};
use crate::db::FromRow;
use crate::ids::{BotId, UserId};

crate::id_type!(
    /// A row of `flow_orchestrations`.
    OrchestrationId
);

/// How a version came to be, for the history: the editor's auto-save, a
/// version someone named (created, restored, saved with a message through the
/// API), or one that has been published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VersionKind {
    Autosave,
    Named,
    Published,
}

/// One saved version of a flow.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FlowVersionView {
    /// `bot_flows.id`.
    pub id: i64,
    pub name: String,
    pub version: i64,
    /// `published` once it has been published, else how it was saved.
    pub kind: VersionKind,
    /// Whether this is the published (active) version.
    pub is_published: bool,
    /// The message given when it was saved.
    pub message: Option<String>,
    pub created_by: Option<UserId>,
    pub created_at: String,
    /// The latest time this version was published.
    pub published_at: Option<String>,
    pub published_by: Option<UserId>,
    pub publish_message: Option<String>,
    /// Present when one version is asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<FlowDocument>,
}

/// A version row with its document text (not yet parsed).
#[derive(Debug, Clone)]
pub struct VersionRow {
    pub view: FlowVersionView,
    pub bot_id: BotId,
    pub data: String,
}

impl FromRow for VersionRow {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let published_at: Option<String> = row.get("published_at")?;
        let save_kind: String = row.get("save_kind")?;
        let kind = if published_at.is_some() {
            VersionKind::Published
        } else if save_kind == "autosave" {
            VersionKind::Autosave
        } else {
            VersionKind::Named
        };
        Ok(VersionRow {
            bot_id: row.get("bot_id")?,
            data: row.get("flow_data")?,
            view: FlowVersionView {
                id: row.get("id")?,
                name: row.get("name")?,
                version: row.get("version")?,
                kind,
                is_published: row.get("is_active")?,
                message: row.get("commit_message")?,
                created_by: row.get("created_by")?,
                created_at: row.get("created_at")?,
                published_at,
                published_by: row.get("published_by")?,
                publish_message: row.get("publish_message")?,
                document: None,
            },
        })
    }
}

/// A flow of a bot: its newest (draft) and published versions.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FlowSummary {
    pub name: String,
    /// The newest saved version (the draft).
    pub draft_version: i64,
    pub published_version: Option<i64>,
    /// The draft differs from the published version.
    pub has_unpublished_changes: bool,
    pub updated_at: String,
    pub published_at: Option<String>,
    /// Conversations start in this flow (the active orchestration's entry flow, or `main`).
    pub is_entry: bool,
}

/// A flow with its draft and published versions and the draft's issues.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FlowDetail {
    pub name: String,
    pub draft: FlowVersionView,
    pub published: Option<FlowVersionView>,
    /// Issues of the draft: warnings (`blocks_publish` marks those that
    /// become errors at publish).
    pub issues: Vec<Issue>,
}

/// `PUT /bots/{bot_id}/flows/{flow_name}`: saves a new draft version.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveFlowRequest {
    pub document: FlowDocument,
    /// What changed (shown in the version history).
    #[serde(default)]
    pub message: Option<String>,
    /// An automatic save of the editor: collapsed in the version history.
    #[serde(default)]
    pub autosave: bool,
}

/// `POST …/rename`: the flow's new name (its history goes along).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameFlowRequest {
    pub new_name: String,
}

/// `POST …/duplicate`: a new flow whose first version is this flow's draft.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DuplicateFlowRequest {
    pub new_name: String,
}

/// The result of a rename.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RenameFlowResponse {
    pub name: String,
    /// Other flows whose `jump` nodes were pointed at the new name (their
    /// draft got a new version; a published version that jumped there was
    /// republished with only that change).
    pub updated_flows: Vec<String>,
}

/// The result of a publish: the version, and the bot's conversation tests
/// run against what went live (absent when the bot has no tests).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PublishResponse {
    #[serde(flatten)]
    pub version: FlowVersionView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tests: Option<crate::bottests::model::TestRun>,
    /// Non-blocking findings, e.g. failing tests.
    pub warnings: Vec<String>,
}

/// The result of a save.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SaveFlowResponse {
    pub version: FlowVersionView,
    /// False when the document equals the current draft (nothing was saved).
    pub created: bool,
    /// Warnings (`blocks_publish`: must be fixed before publishing). Only a
    /// malformed or oversized document is refused (422 `flow_invalid`).
    pub issues: Vec<Issue>,
}

/// `POST /bots/{bot_id}/flows/{flow_name}/validate`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateFlowRequest {
    pub document: FlowDocument,
}

/// Validation findings.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ValidationReport {
    /// The document can be saved as a draft.
    pub valid: bool,
    /// The document could be published (no issue blocks it).
    pub publishable: bool,
    pub issues: Vec<Issue>,
}

/// `POST …/publish`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    /// Default: the newest version (the draft).
    #[serde(default)]
    pub version: Option<i64>,
    #[serde(default)]
    pub message: Option<String>,
}

/// `POST …/rollback`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// The earlier version to publish again.
    pub version: i64,
    #[serde(default)]
    pub message: Option<String>,
    /// Also make it the draft again (saved as a new version).
    #[serde(default)]
    pub restore_draft: bool,
}

/// `?from=&to=` of the diff: a version number, `draft` or `published`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DiffParams {
    /// Default: `published`.
    pub from: Option<String>,
    /// Default: `draft`.
    pub to: Option<String>,
}

/// A node whose settings changed, with the changed fields.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NodeChange {
    pub id: String,
    /// JSON pointers of what differs (`/data/text`, `/type`, `/position`).
    pub fields: Vec<String>,
}

/// What changed between two versions.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FlowDiff {
    pub from_version: i64,
    pub to_version: i64,
    pub nodes_added: Vec<String>,
    pub nodes_removed: Vec<String>,
    pub nodes_changed: Vec<NodeChange>,
    /// Edges as `source:port->target`.
    pub edges_added: Vec<String>,
    pub edges_removed: Vec<String>,
    pub identical: bool,
}

// ---- Orchestrations ----------------------------------------------------

/// A transition between flows.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionDoc {
    #[serde(default)]
    pub id: Option<i64>,
    /// A flow name or `*` (from any flow).
    pub from_flow: String,
    pub to_flow: String,
    pub trigger_type: TriggerType,
    /// `on_condition`: a condition (`{"expression": "…"}` or
    /// `{"subject":"variable","name":…,"operator":…,"value":…}`);
    /// `on_intent`: `{"intent": "…"}`; `on_keyword`: `{"keywords": […]}`;
    /// `on_complete`: `{}`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub trigger_value: serde_json::Value,
    /// Higher first.
    #[serde(default)]
    pub priority: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TriggerType {
    OnComplete,
    OnCondition,
    OnIntent,
    OnKeyword,
}

impl TriggerType {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerType::OnComplete => "on_complete",
            TriggerType::OnCondition => "on_condition",
            TriggerType::OnIntent => "on_intent",
            TriggerType::OnKeyword => "on_keyword",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<TriggerType> {
        [TriggerType::OnComplete, TriggerType::OnCondition, TriggerType::OnIntent, TriggerType::OnKeyword]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

/// A typed variable declaration.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariableDoc {
    pub name: String,
    #[serde(rename = "type", default = "string_type")]
    pub var_type: VarType,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub default_value: Option<serde_json::Value>,
    #[serde(default = "session_scope")]
    pub scope: VarScope,
}

fn string_type() -> VarType {
    VarType::String
}

fn session_scope() -> VarScope {
    VarScope::Session
}

/// An orchestration: the entry flow, transitions and variables of a bot.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Orchestration {
    pub id: OrchestrationId,
    pub bot_id: BotId,
    pub name: String,
    pub description: Option<String>,
    /// The active one routes the bot's conversations (at most one is).
    pub is_active: bool,
    pub entry_flow: String,
    pub transitions: Vec<TransitionDoc>,
    pub variables: Vec<VariableDoc>,
    pub created_at: String,
    pub updated_at: String,
}

/// `POST /bots/{bot_id}/orchestrations` and `PUT /orchestrations/{id}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrchestrationRequest {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub is_active: Option<bool>,
    /// Default `main`.
    #[serde(default)]
    pub entry_flow: Option<String>,
    #[serde(default)]
    pub transitions: Vec<TransitionDoc>,
    #[serde(default)]
    pub variables: Vec<VariableDoc>,
}

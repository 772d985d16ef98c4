//! Flow studio requests and answers.

use serde::{Deserialize, Serialize};

use crate::flows::compile::Issue;
use crate::flows::document::{EdgeDoc, FlowDocument, NodeDoc};
use crate::flows::model::{FlowDiff, FlowVersionView};

/// `POST /bots/{bot_id}/flows/generate`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateFlowRequest {
    /// What the bot should do, in words (1–4000 characters).
    #[schema(
        example = "Book haircuts: ask for the service, day and time, then confirm. Hand over to staff when stuck."
    )]
    pub description: String,
    /// The language the bot speaks (a BCP 47 tag such as `en` or `de-CH`).
    #[serde(default)]
    pub language: Option<String>,
    /// The channel it mainly serves (`web`, `whatsapp`, `voice`, …).
    #[serde(default)]
    pub channel: Option<String>,
    /// Save the valid draft as a new draft version of this flow (never
    /// published). Without it the draft is only returned for review.
    #[serde(default)]
    pub flow_name: Option<String>,
}

/// `POST /bots/{bot_id}/flows/{flow_name}/improve`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImproveFlowRequest {
    /// What to change (1–4000 characters).
    #[schema(example = "Ask for the customer's phone number after the email.")]
    pub instruction: String,
    /// The document to revise. Default: the flow's draft (send the editor's
    /// unsaved document here).
    #[serde(default)]
    pub document: Option<FlowDocument>,
    /// Save the revised draft as a new draft version (never published).
    #[serde(default)]
    pub save: bool,
}

/// `POST /bots/{bot_id}/flows/{flow_name}/suggest-next`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuggestNextRequest {
    /// The node to continue from.
    pub node_id: String,
    /// Its output port (default `next`).
    #[serde(default)]
    pub port: Option<String>,
    /// The document being edited. Default: the flow's draft.
    #[serde(default)]
    pub document: Option<FlowDocument>,
    /// How many candidates (1–3, default 3).
    #[serde(default)]
    pub count: Option<usize>,
}

/// Model calls a studio answer took.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct StudioUsage {
    /// Model calls: the first answer plus the repair rounds.
    pub rounds: u32,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_micros: u64,
}

/// A validated flow draft from the model.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GeneratedFlow {
    /// Passes the flow compiler with nothing that blocks publishing.
    pub document: FlowDocument,
    /// Remaining warnings (none of them blocks publishing).
    pub issues: Vec<Issue>,
    /// The saved draft version, when `flow_name` was given.
    pub saved: Option<FlowVersionView>,
    pub usage: StudioUsage,
}

/// A revised flow with what changed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImprovedFlow {
    pub document: FlowDocument,
    pub issues: Vec<Issue>,
    /// From the current draft to the revision (`to_version` is the saved
    /// version, or the next version number when not saved).
    pub diff: FlowDiff,
    /// The diff in a few plain sentences.
    pub summary: Vec<String>,
    pub saved: Option<FlowVersionView>,
    pub usage: StudioUsage,
}

/// One candidate next node, checked against the flow.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NodeSuggestion {
    pub node: NodeDoc,
    /// The edge that joins it: from the requested node and port.
    pub edge: EdgeDoc,
    pub reason: Option<String>,
}

/// Candidate next nodes (1–3).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NodeSuggestions {
    pub suggestions: Vec<NodeSuggestion>,
    /// Candidates the model offered that did not fit the flow, with why.
    pub rejected: Vec<Issue>,
    pub usage: StudioUsage,
}

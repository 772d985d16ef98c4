//! The flow document: the JSON a flow is saved as (`docs/flows.md` describes
//! it; `GET /api/v1/flow-schema` serves its JSON Schema). The outer shape is
//! parsed strictly here; each node's `data` is parsed per node type by
//! [`super::compile`], so that every problem is reported with its node id.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The current document format version.
pub const SCHEMA_VERSION: u32 = 1;
/// Most nodes in one flow.
pub const MAX_NODES: usize = 500;
/// Most edges in one flow.
pub const MAX_EDGES: usize = 2000;

fn schema_version() -> u32 {
    SCHEMA_VERSION
}

fn next_port() -> String {
    "next".to_owned()
}

/// A flow: nodes joined by edges from a node's output port to another node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowDocument {
    /// Format version (1).
    #[serde(default = "schema_version")]
    pub schema_version: u32,
    pub nodes: Vec<NodeDoc>,
    #[serde(default)]
    pub edges: Vec<EdgeDoc>,
    /// Where the editor's canvas was panned and zoomed (not used at run time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub viewport: Option<Viewport>,
}

/// One node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeDoc {
    /// Unique in the flow: letters, digits, `_` and `-`, at most 64.
    pub id: String,
    /// `start`, `message`, `question`, `condition`, `set_variable`,
    /// `intent_router`, `knowledge`, `http`, `jump`, `handoff`, `form` or `end`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Type-specific settings.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    #[schema(value_type = Object)]
    pub data: Value,
    /// Canvas position (editor only).
    #[serde(default)]
    pub position: Position,
    /// A name shown on the canvas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// An edge from `source`'s output `port` to `target`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EdgeDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub source: String,
    /// The output port of the source node (`next` by default).
    #[serde(default = "next_port")]
    pub port: String,
    pub target: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Position {
    #[serde(default)]
    pub x: f64,
    #[serde(default)]
    pub y: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Viewport {
    pub x: f64,
    pub y: f64,
    pub zoom: f64,
}

// ---- Node data, per type -------------------------------------------------

/// A quick reply or choice: `label` is shown, `value` is what the user sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChoiceDoc {
    pub label: String,
    #[serde(default)]
    pub value: Option<String>,
}

/// A button: sends `value` (default: the label) or opens `url`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ButtonDoc {
    pub label: String,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardDoc {
    pub title: String,
    #[serde(default)]
    pub subtitle: Option<String>,
    #[serde(default)]
    pub image_url: Option<String>,
    #[serde(default)]
    pub buttons: Vec<ButtonDoc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageDoc {
    pub url: String,
    #[serde(default)]
    pub alt: Option<String>,
}

/// What a message shows. Texts are templates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageData {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub quick_replies: Vec<ChoiceDoc>,
    #[serde(default)]
    pub buttons: Vec<ButtonDoc>,
    #[serde(default)]
    pub cards: Vec<CardDoc>,
    #[serde(default)]
    pub image: Option<ImageDoc>,
}

/// How a question's answer is checked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ValidationDoc {
    /// Any non-empty answer.
    #[default]
    Any,
    /// The answer must contain a value of an NLU entity (a system entity such
    /// as `email`, `number`, `date`, or one of the bot's entities); the
    /// variable receives the resolved value.
    Entity { entity: String },
    /// The whole answer must match the pattern.
    Regex {
        pattern: String,
        #[serde(default)]
        case_insensitive: bool,
    },
    /// The answer must be one of the choices (label or value, case-insensitive);
    /// the variable receives the choice's value.
    Choices {
        choices: Vec<ChoiceDoc>,
        #[serde(default = "yes")]
        show_as_quick_replies: bool,
    },
}

fn yes() -> bool {
    true
}

fn two() -> u32 {
    2
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuestionData {
    pub prompt: MessageData,
    pub variable: String,
    #[serde(default)]
    pub validation: ValidationDoc,
    /// How many times an invalid answer is re-prompted before the `invalid` port.
    #[serde(default = "two")]
    pub retries: u32,
    /// Said before re-asking (template).
    #[serde(default)]
    pub reprompt: Option<String>,
    /// Take the answer from the message that reached the question, when valid,
    /// instead of asking (slot filling).
    #[serde(default)]
    pub fill_from_message: bool,
}

/// One slot of a form: a value of `entity` (with `role`, when given) that
/// goes into `variable`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotDoc {
    /// An entity of the bot (list, regex, learned) or a system entity.
    pub entity: String,
    /// Only values found in this role fill the slot (e.g. `from`/`to` of `city`).
    #[serde(default)]
    pub role: Option<String>,
    pub variable: String,
    /// Asked when the slot is still empty.
    pub prompt: MessageData,
    /// An expression that must be true of the value (`value` is the candidate),
    /// e.g. `value >= 1 and value <= 12`.
    #[serde(default)]
    pub validation: Option<String>,
    /// Said before the prompt again when the value is refused (template).
    #[serde(default)]
    pub invalid_message: Option<String>,
    /// An optional slot is filled when the user gives it, but never asked for.
    #[serde(default = "yes")]
    pub required: bool,
}

/// A form: collects several slots, asking only for those still missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormData {
    pub slots: Vec<SlotDoc>,
    /// How many refused answers to one slot before the `cancelled` port.
    #[serde(default = "two")]
    pub retries: u32,
    /// Words that leave the form through `cancelled` (whole words, any case).
    #[serde(default = "cancel_words")]
    pub cancel_keywords: Vec<String>,
    /// Intents that leave the form through `cancelled`.
    #[serde(default)]
    pub cancel_intents: Vec<String>,
    /// A slot whose variable already has a value (from before the form)
    /// counts as given; by default every slot is collected afresh.
    #[serde(default)]
    pub keep_existing: bool,
}

fn cancel_words() -> Vec<String> {
    vec!["cancel".to_owned()]
}

/// What a structured condition looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    Variable,
    Intent,
    Entity,
    Channel,
    Message,
    Confidence,
    /// The ISO 639-1 code of the message's language (`null` when it could
    /// not be told), for routing per language.
    DetectedLanguage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    Equals,
    NotEquals,
    Contains,
    NotContains,
    StartsWith,
    GreaterThan,
    LessThan,
    GreaterOrEqual,
    LessOrEqual,
    IsEmpty,
    IsNotEmpty,
    Matches,
    In,
}

/// Either an `expression`, a structured rule (`subject`, `name`, `operator`,
/// `value`), or `all`/`any` of conditions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionDoc {
    #[serde(default)]
    pub expression: Option<String>,
    #[serde(default)]
    pub subject: Option<Subject>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub operator: Option<Operator>,
    #[serde(default)]
    pub value: Option<Value>,
    #[serde(default)]
    pub all: Option<Vec<ConditionDoc>>,
    #[serde(default)]
    pub any: Option<Vec<ConditionDoc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BranchDoc {
    /// The output port this branch leaves by.
    pub id: String,
    #[serde(default)]
    pub label: Option<String>,
    pub condition: ConditionDoc,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionData {
    pub branches: Vec<BranchDoc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignmentDoc {
    pub variable: String,
    pub expression: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetVariableData {
    pub assignments: Vec<AssignmentDoc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteDoc {
    /// The output port of this route.
    pub id: String,
    pub intent: String,
    #[serde(default)]
    pub min_confidence: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntentRouterData {
    pub routes: Vec<RouteDoc>,
    /// Below this confidence the message is out of scope (default: the NLU
    /// model's own threshold).
    #[serde(default)]
    pub min_confidence: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnowledgeData {
    /// What to search for (template; default: the user's message).
    #[serde(default)]
    pub question: Option<String>,
    /// Default: the knowledge base of the bot's AI configuration.
    #[serde(default)]
    pub knowledge_base_id: Option<i64>,
    #[serde(default)]
    pub min_score: Option<f64>,
    /// Also store the answer text in this variable.
    #[serde(default)]
    pub variable: Option<String>,
    /// Send the answer to the user (default true).
    #[serde(default = "yes")]
    pub send_answer: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    #[default]
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingDoc {
    pub variable: String,
    /// A JSON path into the response body, e.g. `$.data.items[0].name`.
    pub path: String,
}

fn default_timeout() -> u64 {
    5000
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpData {
    #[serde(default)]
    pub method: HttpMethod,
    /// Template; substituted values are URL-encoded.
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A JSON body whose string leaves are templates.
    #[serde(default)]
    pub body: Option<Value>,
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    #[serde(default)]
    pub mappings: Vec<MappingDoc>,
    #[serde(default)]
    pub status_variable: Option<String>,
    #[serde(default)]
    pub response_variable: Option<String>,
}

/// An `agent` node: runs an agent of the bot on the user's message (or
/// `input`), sends its reply, stores it in `variable`; ports `done`,
/// `handoff` (the agent handed off, or waits for a human to approve a tool
/// call) and `error` (no model, budget used up, step limit…).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentData {
    pub agent_id: i64,
    /// What the agent is asked (template; default: the user's message).
    #[serde(default)]
    pub input: Option<String>,
    /// Also store the reply in this variable.
    #[serde(default)]
    pub variable: Option<String>,
    /// Send the reply to the user (default true).
    #[serde(default = "yes")]
    pub send_reply: bool,
}

/// A `tool` node: runs a tool with templated arguments, no model needed;
/// the result goes to `variable`; ports `ok` and `error` (the error's code
/// and message go to `error_variable`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolData {
    pub tool_id: i64,
    /// The arguments: a JSON object whose string leaves are templates.
    #[serde(default)]
    pub arguments: Option<Value>,
    #[serde(default)]
    pub variable: Option<String>,
    #[serde(default)]
    pub error_variable: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JumpMode {
    /// Continue in the other flow; this flow is left.
    #[default]
    Goto,
    /// Run the other flow, then come back through this node's `next` port.
    Call,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JumpData {
    /// The name of the flow to continue in (at its start node).
    pub flow: String,
    #[serde(default)]
    pub mode: JumpMode,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffData {
    #[serde(default)]
    pub message: Option<MessageData>,
    /// Default: the bot's team.
    #[serde(default)]
    pub team_id: Option<i64>,
    /// An internal note for the agents (template), e.g. a summary.
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndData {
    #[serde(default)]
    pub message: Option<MessageData>,
    /// Close the conversation (asks for CSAT when the bot is set to).
    #[serde(default)]
    pub close_conversation: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartData {}

/// The node types, their input behaviour and fixed output ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeType {
    Start,
    Message,
    Question,
    Condition,
    SetVariable,
    IntentRouter,
    Knowledge,
    Http,
    Agent,
    Tool,
    Jump,
    Handoff,
    End,
    Form,
}

impl NodeType {
    pub const ALL: [NodeType; 14] = [
        NodeType::Start,
        NodeType::Message,
        NodeType::Question,
        NodeType::Condition,
        NodeType::SetVariable,
        NodeType::IntentRouter,
        NodeType::Knowledge,
        NodeType::Http,
        NodeType::Agent,
        NodeType::Tool,
        NodeType::Jump,
        NodeType::Handoff,
        NodeType::End,
        NodeType::Form,
    ];

    #[must_use]
    pub fn parse(name: &str) -> Option<NodeType> {
        NodeType::ALL.into_iter().find(|t| t.name() == name)
    }

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            NodeType::Start => "start",
            NodeType::Message => "message",
            NodeType::Question => "question",
            NodeType::Condition => "condition",
            NodeType::SetVariable => "set_variable",
            NodeType::IntentRouter => "intent_router",
            NodeType::Knowledge => "knowledge",
            NodeType::Http => "http",
            NodeType::Agent => "agent",
            NodeType::Tool => "tool",
            NodeType::Jump => "jump",
            NodeType::Handoff => "handoff",
            NodeType::End => "end",
            NodeType::Form => "form",
        }
    }

    /// Whether the node can stop a turn to wait for the user (or an agent):
    /// a cycle must pass through one of these.
    #[must_use]
    pub fn waits(self) -> bool {
        matches!(self, NodeType::Question | NodeType::IntentRouter | NodeType::Handoff | NodeType::Form)
    }

    /// Output ports that do not depend on the node's data.
    #[must_use]
    pub fn fixed_ports(self) -> &'static [&'static str] {
        match self {
            NodeType::Start | NodeType::Message | NodeType::SetVariable | NodeType::Jump | NodeType::Handoff => {
                &["next"]
            }
            NodeType::Question => &["next", "invalid"],
            NodeType::Condition => &["else"],
            NodeType::IntentRouter => &["out_of_scope"],
            NodeType::Knowledge => &["answered", "no_answer"],
            NodeType::Http => &["success", "error"],
            NodeType::Agent => &["done", "handoff", "error"],
            NodeType::Tool => &["ok", "error"],
            NodeType::End => &[],
            NodeType::Form => &["done", "cancelled"],
        }
    }
}

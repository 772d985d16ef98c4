//! Agent types: the agent with its tools and guardrails, its runs and steps,
//! and the tool calls waiting for a human.

use rusqlite::Row;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::db::FromRow;
use crate::ids::{BotId, OrgId};
use crate::knowledge::model::KnowledgeBaseId;
use crate::llm::model::LlmProviderId;
use crate::tools::model::ToolId;

crate::id_type!(
    /// A row of `agents`.
    AgentId
);
crate::id_type!(
    /// A row of `agent_runs`: one agent turn.
    AgentRunId
);
crate::id_type!(
    /// A row of `agent_approvals`.
    AgentApprovalId
);

/// Maximum model calls of one turn when the agent names none.
pub const DEFAULT_MAX_STEPS: i64 = 8;
/// The upper bound of `max_steps`.
pub const MAX_STEPS_LIMIT: i64 = 50;

/// A tool an agent may call, in priority order.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AgentTool {
    pub tool_id: ToolId,
    /// The tool's name in the catalogue.
    pub name: String,
    /// The function name the model sees (the name made safe: letters, digits, `_`, `-`).
    pub function_name: String,
    /// Smaller first: tools are offered to the model in this order.
    pub priority: i64,
    /// The call waits in the inbox until a human approves or rejects it.
    pub requires_approval: bool,
}

/// An AI agent of a bot.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Agent {
    pub id: AgentId,
    pub organization_id: OrgId,
    pub bot_id: Option<BotId>,
    pub name: String,
    /// The system prompt of every model call.
    pub instructions: String,
    /// `None`: the bot's AI provider (`/bots/{bot_id}/ai/config`).
    pub provider_id: Option<LlmProviderId>,
    /// `None`: the bot's model.
    pub model: Option<String>,
    /// `None`: the bot's temperature.
    pub temperature: Option<f64>,
    /// `None`: the bot's max tokens.
    pub max_tokens: Option<i64>,
    /// Model calls allowed per turn (1–50).
    pub max_steps: i64,
    /// Tokens one conversation may use with this agent (`None`: no limit).
    pub conversation_token_budget: Option<i64>,
    /// Cost (micro-units) one conversation may use with this agent (`None`: no limit).
    pub conversation_cost_budget_micros: Option<i64>,
    pub tools: Vec<AgentTool>,
    /// Searched through the `knowledge_search` function, with citations.
    pub knowledge_base_ids: Vec<KnowledgeBaseId>,
    pub is_active: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// The columns of [`AgentRow`].
pub const AGENT_COLUMNS: &str = "id, organization_id, bot_id, name, system_prompt, provider_id, model_name, \
     model_temperature, model_max_tokens, max_steps, conversation_token_budget, conversation_cost_budget_micros, \
     is_active, created_at, updated_at";

/// An `agents` row without its links.
#[derive(Debug, Clone)]
pub struct AgentRow(pub Agent);

impl FromRow for AgentRow {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(AgentRow(Agent {
            id: row.get("id")?,
            organization_id: row.get("organization_id")?,
            bot_id: row.get("bot_id")?,
            name: row.get("name")?,
            instructions: row.get("system_prompt")?,
            provider_id: row.get("provider_id")?,
            model: row.get("model_name")?,
            temperature: row.get("model_temperature")?,
            max_tokens: row.get("model_max_tokens")?,
            max_steps: row.get("max_steps")?,
            conversation_token_budget: row.get("conversation_token_budget")?,
            conversation_cost_budget_micros: row.get("conversation_cost_budget_micros")?,
            tools: Vec::new(),
            knowledge_base_ids: Vec::new(),
            is_active: row.get("is_active")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        }))
    }
}

/// A tool of an agent in a request.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentToolRequest {
    pub tool_id: ToolId,
    /// Smaller first (default: the position in the list).
    pub priority: Option<i64>,
    #[serde(default)]
    pub requires_approval: bool,
}

/// `POST /bots/{bot_id}/agents`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAgentRequest {
    #[schema(example = "Order helper")]
    pub name: String,
    #[schema(example = "You help customers with their orders. Use the tools; never guess an order status.")]
    pub instructions: String,
    pub provider_id: Option<LlmProviderId>,
    pub model: Option<String>,
    /// 0–2.
    pub temperature: Option<f64>,
    /// 1–100000.
    pub max_tokens: Option<i64>,
    /// 1–50 (default 8).
    pub max_steps: Option<i64>,
    /// ≥ 0.
    pub conversation_token_budget: Option<i64>,
    /// ≥ 0.
    pub conversation_cost_budget_micros: Option<i64>,
    #[serde(default)]
    pub tools: Vec<AgentToolRequest>,
    #[serde(default)]
    pub knowledge_base_ids: Vec<KnowledgeBaseId>,
    pub is_active: Option<bool>,
}

/// `PATCH /agents/{agent_id}`: absent fields stay; `null` clears an optional setting.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAgentRequest {
    pub name: Option<String>,
    pub instructions: Option<String>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<i64>)]
    pub provider_id: Option<Option<LlmProviderId>>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<String>)]
    pub model: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<f64>)]
    pub temperature: Option<Option<f64>>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<i64>)]
    pub max_tokens: Option<Option<i64>>,
    pub max_steps: Option<i64>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<i64>)]
    pub conversation_token_budget: Option<Option<i64>>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<i64>)]
    pub conversation_cost_budget_micros: Option<Option<i64>>,
    /// Replaces the tool list.
    pub tools: Option<Vec<AgentToolRequest>>,
    /// Replaces the knowledge bases.
    pub knowledge_base_ids: Option<Vec<KnowledgeBaseId>>,
    pub is_active: Option<bool>,
}

/// What a step was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    ModelCall,
    ToolCall,
    Approval,
}

impl StepKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::ModelCall => "model_call",
            StepKind::ToolCall => "tool_call",
            StepKind::Approval => "approval",
        }
    }

    fn parse(s: &str) -> StepKind {
        match s {
            "model_call" => StepKind::ModelCall,
            "tool_call" => StepKind::ToolCall,
            _ => StepKind::Approval,
        }
    }
}

/// One step of an agent turn: a model call (tokens, cost, latency) or a
/// tool call (arguments, result or error, latency), or an approval.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct AgentStep {
    pub order: i64,
    #[schema(value_type = StepKind)]
    pub kind: Option<StepKind>,
    /// `ok`, `error`, `timeout`; approvals: `waiting`, `approved`, `rejected`.
    pub status: String,
    pub tool_id: Option<ToolId>,
    pub tool_name: Option<String>,
    pub tool_call_id: Option<String>,
    /// The arguments as the model sent them (parsed when they are JSON, else the raw text).
    #[schema(value_type = Option<Object>)]
    pub arguments: Option<Value>,
    /// A tool's result, or a model call's answer (`text`, `tool_calls`).
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    pub error_code: Option<String>,
    pub error: Option<String>,
    pub provider_id: Option<LlmProviderId>,
    pub model: Option<String>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_micros: i64,
    pub latency_ms: i64,
    pub created_at: Option<String>,
}

pub const STEP_COLUMNS: &str = "step_order, kind, status, tool_id, tool_name, tool_call_id, arguments, result, \
     error_code, error, provider_id, model, prompt_tokens, completion_tokens, cost_micros, latency_ms, created_at";

fn json_column(row: &Row<'_>, name: &str) -> rusqlite::Result<Option<Value>> {
    let text: Option<String> = row.get(name)?;
    Ok(text.map(|t| serde_json::from_str(&t).unwrap_or(Value::String(t))))
}

impl FromRow for AgentStep {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let kind: String = row.get("kind")?;
        Ok(AgentStep {
            order: row.get("step_order")?,
            kind: Some(StepKind::parse(&kind)),
            status: row.get("status")?,
            tool_id: row.get("tool_id")?,
            tool_name: row.get("tool_name")?,
            tool_call_id: row.get("tool_call_id")?,
            arguments: json_column(row, "arguments")?,
            result: json_column(row, "result")?,
            error_code: row.get("error_code")?,
            error: row.get("error")?,
            provider_id: row.get("provider_id")?,
            model: row.get("model")?,
            prompt_tokens: row.get("prompt_tokens")?,
            completion_tokens: row.get("completion_tokens")?,
            cost_micros: row.get("cost_micros")?,
            latency_ms: row.get("latency_ms")?,
            created_at: row.get("created_at")?,
        })
    }
}

/// How a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    WaitingApproval,
    Completed,
    Failed,
}

impl RunStatus {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::WaitingApproval => "waiting_approval",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> RunStatus {
        match s {
            "running" => RunStatus::Running,
            "waiting_approval" => RunStatus::WaitingApproval,
            "completed" => RunStatus::Completed,
            _ => RunStatus::Failed,
        }
    }
}

/// Who started a run (`agent_runs.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunSource {
    /// The test chat of the UI.
    Test,
    /// An `agent` node of a flow.
    Flow,
    Workflow,
    Task,
    Api,
}

impl RunSource {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            RunSource::Test => "test",
            RunSource::Flow => "flow",
            RunSource::Workflow => "workflow",
            RunSource::Task => "task",
            RunSource::Api => "api",
        }
    }
}

/// A tool call waiting for (or decided by) a human.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AgentApproval {
    pub id: AgentApprovalId,
    pub run_id: AgentRunId,
    pub agent_id: AgentId,
    pub agent_name: String,
    pub bot_id: Option<BotId>,
    pub bot_name: Option<String>,
    pub conversation_id: Option<i64>,
    /// Who asked: the visitor of the conversation (name, else their id on
    /// the channel); none for a test chat.
    pub requested_by: Option<String>,
    /// Where the turn came from: `test`, `flow`, `workflow`, `task` or `api`.
    pub run_source: String,
    /// The message the agent was answering.
    pub input: String,
    pub tool_id: ToolId,
    pub tool_name: String,
    pub tool_call_id: String,
    /// The model's arguments, every secret-looking field (`token`,
    /// `password`, `api_key`, …) shown as `[redacted]`.
    #[schema(value_type = Object)]
    pub arguments: Value,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    pub decided_by: Option<i64>,
    pub decided_by_name: Option<String>,
    pub decided_at: Option<String>,
    pub note: Option<String>,
    pub created_at: String,
}

pub const APPROVAL_COLUMNS: &str = "p.id, p.run_id, p.agent_id, a.name AS agent_name, p.bot_id, b.name AS bot_name, \
     p.conversation_id, COALESCE(json_extract(c.visitor, '$.name'), c.external_user_id) AS requested_by, \
     r.source AS run_source, r.input AS input, p.tool_id, t.name AS tool_name, p.tool_call_id, p.arguments, p.status, \
     p.decided_by, COALESCE(u.name, u.email) AS decided_by_name, p.decided_at, p.note, p.created_at";

/// The tables `APPROVAL_COLUMNS` reads (`p` is `agent_approvals`).
pub const APPROVAL_FROM: &str = "agent_approvals p JOIN agents a ON a.id = p.agent_id JOIN tools t ON t.id = p.tool_id \
     JOIN agent_runs r ON r.id = p.run_id LEFT JOIN bots b ON b.id = p.bot_id \
     LEFT JOIN conversations c ON c.id = p.conversation_id LEFT JOIN users u ON u.id = p.decided_by";

impl FromRow for AgentApproval {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(AgentApproval {
            id: row.get("id")?,
            run_id: row.get("run_id")?,
            agent_id: row.get("agent_id")?,
            agent_name: row.get("agent_name")?,
            bot_id: row.get("bot_id")?,
            bot_name: row.get("bot_name")?,
            conversation_id: row.get("conversation_id")?,
            requested_by: row.get("requested_by")?,
            run_source: row.get("run_source")?,
            input: row.get("input")?,
            tool_id: row.get("tool_id")?,
            tool_name: row.get("tool_name")?,
            tool_call_id: row.get("tool_call_id")?,
            arguments: crate::integrations::providers::redact(&json_column(row, "arguments")?.unwrap_or(Value::Null)),
            status: row.get("status")?,
            decided_by: row.get("decided_by")?,
            decided_by_name: row.get("decided_by_name")?,
            decided_at: row.get("decided_at")?,
            note: row.get("note")?,
            created_at: row.get("created_at")?,
        })
    }
}

/// An error that ended a run.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunError {
    pub code: String,
    pub message: String,
    /// The HTTP status the error answers with.
    pub status: u16,
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

/// An agent turn: its status, reply, steps and totals.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AgentRun {
    pub id: AgentRunId,
    pub agent_id: AgentId,
    /// The conversation thread (per-conversation budgets and history): pass it back to continue.
    pub thread: String,
    pub conversation_id: Option<i64>,
    pub status: RunStatus,
    pub input: String,
    pub reply: Option<String>,
    pub steps: Vec<AgentStep>,
    pub total_tokens: i64,
    pub cost_micros: i64,
    pub error: Option<RunError>,
    /// The tool call the run waits for.
    pub approval: Option<AgentApproval>,
    /// Results of `flow_action` tools the caller applies (set a variable, hand off, jump).
    #[schema(value_type = Vec<Object>)]
    pub actions: Vec<Value>,
    pub created_at: String,
}

/// `POST /agents/{agent_id}/chat`: one message of the test chat.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentChatRequest {
    #[schema(example = "Where is order 42?")]
    pub message: String,
    /// The `thread` of an earlier answer, to continue that conversation (default: a new one).
    pub thread: Option<String>,
}

/// `POST /agent-approvals/{approval_id}/approve` or `/reject`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideApprovalRequest {
    /// Shown to the model with a rejection (at most 1000 characters).
    pub note: Option<String>,
}

/// `GET /orgs/{org_id}/agent-approvals`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ApprovalQuery {
    /// `pending` (default), `approved`, `rejected` or `all`.
    pub status: Option<String>,
    /// Only the tool calls of this conversation.
    pub conversation_id: Option<i64>,
}

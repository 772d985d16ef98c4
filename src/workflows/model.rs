//! Workflows, their executions, steps and messages, and the DTOs of the routes.

use rusqlite::Row;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::db::{FromRow, json_column};
use crate::ids::{BotId, OrgId};

crate::id_type!(
    /// A row of `agent_workflows`.
    WorkflowId
);
crate::id_type!(
    /// A row of `workflow_executions`.
    ExecutionId
);

/// A workflow as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Workflow {
    pub id: WorkflowId,
    pub organization_id: OrgId,
    pub bot_id: BotId,
    pub name: String,
    pub description: Option<String>,
    /// The graph: `{"start", "timeout_ms", "steps": [...]}` (see `docs/workflows.md`).
    #[schema(value_type = Object)]
    pub definition: Value,
    pub is_active: bool,
    pub created_at: String,
    pub updated_at: String,
}

pub const WORKFLOW_COLUMNS: &str =
    "id, organization_id, bot_id, name, description, flow_config, is_active, created_at, updated_at";

impl FromRow for Workflow {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Workflow {
            id: row.get("id")?,
            organization_id: row.get("organization_id")?,
            bot_id: row.get::<_, Option<BotId>>("bot_id")?.unwrap_or(BotId(0)),
            name: row.get("name")?,
            description: row.get("description")?,
            definition: json_column(row, "flow_config")?.unwrap_or(Value::Null),
            is_active: row.get("is_active")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

/// `POST /bots/{bot_id}/workflows`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkflowRequest {
    /// 1–100 characters.
    pub name: String,
    /// At most 1000 characters.
    pub description: Option<String>,
    #[schema(value_type = Object)]
    pub definition: Value,
    /// Default true.
    pub is_active: Option<bool>,
}

/// `PATCH /workflows/{workflow_id}`: absent fields stay; `description: null` clears it.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWorkflowRequest {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    #[schema(value_type = Option<Object>)]
    pub definition: Option<Value>,
    pub is_active: Option<bool>,
}

/// `POST /workflows/{workflow_id}/run`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunWorkflowRequest {
    /// What templates read as `input` (default `{}`).
    #[schema(value_type = Option<Object>)]
    pub input: Option<Value>,
}

/// `POST /workflow-executions/{execution_id}/approve`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveRequest {
    /// `true` continues with the step's `next`, `false` with its `reject` (or ends the run as failed).
    pub approved: bool,
    /// At most 1000 characters, kept in the step's output.
    pub comment: Option<String>,
}

/// A run of a workflow.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Execution {
    pub id: ExecutionId,
    pub workflow_id: Option<WorkflowId>,
    pub bot_id: Option<BotId>,
    /// `pending`, `running`, `waiting_approval`, `completed`, `failed` or `cancelled`.
    pub status: String,
    /// The approval step the run waits for.
    pub waiting_step: Option<String>,
    #[schema(value_type = Object)]
    pub input: Value,
    #[schema(value_type = Object)]
    pub output: Value,
    pub total_tokens: i64,
    pub total_cost_micros: i64,
    pub duration_ms: i64,
    /// Stable code of a failure: `workflow_timeout`, `step_timeout`, `step_failed`, `cancelled`, `rejected`, `step_limit`.
    pub error_code: Option<String>,
    pub error: Option<String>,
    pub deadline_at: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub created_at: String,
}

pub const EXECUTION_COLUMNS: &str = "id, organization_id, workflow_id, bot_id, status, waiting_step, input, output, \
     total_tokens, total_cost_micros, duration_ms, error_code, error, deadline_at, started_at, finished_at, created_at";

impl FromRow for Execution {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let status: String = row.get("status")?;
        let waiting_step: Option<String> = row.get("waiting_step")?;
        Ok(Execution {
            id: row.get("id")?,
            workflow_id: row.get("workflow_id")?,
            bot_id: row.get("bot_id")?,
            status: if status == "running" && waiting_step.is_some() { "waiting_approval".into() } else { status },
            waiting_step,
            input: json_column(row, "input")?.unwrap_or(Value::Null),
            output: json_column(row, "output")?.unwrap_or(Value::Null),
            total_tokens: row.get("total_tokens")?,
            total_cost_micros: row.get("total_cost_micros")?,
            duration_ms: row.get("duration_ms")?,
            error_code: row.get("error_code")?,
            error: row.get("error")?,
            deadline_at: row.get("deadline_at")?,
            started_at: row.get("started_at")?,
            finished_at: row.get("finished_at")?,
            created_at: row.get("created_at")?,
        })
    }
}

impl Execution {
    /// Whether the run ended.
    #[must_use]
    pub fn is_finished(&self) -> bool {
        matches!(self.status.as_str(), "completed" | "failed" | "cancelled")
    }
}

/// One activation of a step.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExecutionStep {
    pub id: i64,
    /// The step's id in the graph.
    pub step: String,
    #[serde(rename = "type")]
    pub step_type: String,
    /// 1 for the first activation of the step, 2 when a loop comes back to it…
    pub iteration: i64,
    /// `pending`, `running`, `completed`, `failed` or `skipped`.
    pub status: String,
    pub agent_id: Option<i64>,
    #[schema(value_type = Object)]
    pub input: Value,
    #[schema(value_type = Object)]
    pub output: Value,
    /// `{"code", "message"}` of a failed step.
    #[schema(value_type = Option<Object>)]
    pub error: Option<Value>,
    pub reasoning: Option<String>,
    pub tokens_used: i64,
    pub duration_ms: i64,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub created_at: String,
}

pub const STEP_COLUMNS: &str = "id, step_key, step_type, iteration, status, agent_id, input, output, error, reasoning, \
     tokens_used, duration_ms, started_at, finished_at, created_at";

impl FromRow for ExecutionStep {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(ExecutionStep {
            id: row.get("id")?,
            step: row.get("step_key")?,
            step_type: row.get("step_type")?,
            iteration: row.get("iteration")?,
            status: row.get("status")?,
            agent_id: row.get("agent_id")?,
            input: json_column(row, "input")?.unwrap_or(Value::Null),
            output: json_column(row, "output")?.unwrap_or(Value::Null),
            error: json_column(row, "error")?,
            reasoning: row.get("reasoning")?,
            tokens_used: row.get("tokens_used")?,
            duration_ms: row.get("duration_ms")?,
            started_at: row.get("started_at")?,
            finished_at: row.get("finished_at")?,
            created_at: row.get("created_at")?,
        })
    }
}

/// A message passed between steps (and their agents) of a run.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AgentMessage {
    pub id: i64,
    pub from_step: Option<String>,
    pub to_step: Option<String>,
    pub from_agent_id: Option<i64>,
    pub to_agent_id: Option<i64>,
    /// `data`, `request`, `response`, `handoff` or `error`.
    pub message_type: String,
    #[schema(value_type = Object)]
    pub content: Value,
    pub created_at: String,
}

pub const MESSAGE_COLUMNS: &str =
    "id, from_step, to_step, from_agent_id, to_agent_id, message_type, content, created_at";

impl FromRow for AgentMessage {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(AgentMessage {
            id: row.get("id")?,
            from_step: row.get("from_step")?,
            to_step: row.get("to_step")?,
            from_agent_id: row.get("from_agent_id")?,
            to_agent_id: row.get("to_agent_id")?,
            message_type: row.get("message_type")?,
            content: json_column(row, "content")?.unwrap_or(Value::Null),
            created_at: row.get("created_at")?,
        })
    }
}

/// An execution with its trace.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExecutionTrace {
    #[serde(flatten)]
    pub execution: Execution,
    pub steps: Vec<ExecutionStep>,
    pub messages: Vec<AgentMessage>,
}

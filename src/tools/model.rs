//! Tools, their executions and the DTOs of the tool routes.

use rusqlite::Row;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::db::{FromRow, json_column};
use crate::ids::{BotId, OrgId};

crate::id_type!(
    /// A row of `tools`.
    ToolId
);
crate::id_type!(
    /// A row of `tool_executions`.
    ToolExecutionId
);

/// A tool as the API shows it. The configuration never holds a secret: the
/// HTTP tool names an integration of the vault, the database tool a path.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Tool {
    pub id: ToolId,
    pub organization_id: OrgId,
    /// The bot the tool belongs to; `null` for an organization-wide tool.
    pub bot_id: Option<BotId>,
    /// Unique in the organization; what a model calls the tool by.
    #[schema(example = "get_weather")]
    pub name: String,
    pub description: Option<String>,
    /// A type of `GET /orgs/{org_id}/tool-types`: `http`, `knowledge_search`, `database`, `flow_action`, `webhook`, `code`, `mcp`.
    #[serde(rename = "type")]
    #[schema(example = "http")]
    pub tool_type: String,
    /// The type's settings (its `config_schema`).
    #[schema(value_type = Object)]
    pub config: Value,
    /// JSON Schema of the arguments (an object schema).
    #[schema(value_type = Object)]
    pub input_schema: Value,
    /// Longest run, in milliseconds (100–120000, default 10000).
    pub timeout_ms: i64,
    pub is_enabled: bool,
    pub created_at: String,
    pub updated_at: String,
}

pub const TOOL_COLUMNS: &str = "id, organization_id, bot_id, name, description, tool_type, configuration, input_schema, \
     timeout_ms, is_active, created_at, updated_at";

impl FromRow for Tool {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Tool {
            id: row.get("id")?,
            organization_id: row.get("organization_id")?,
            bot_id: row.get("bot_id")?,
            name: row.get("name")?,
            description: row.get("description")?,
            tool_type: row.get("tool_type")?,
            config: json_column(row, "configuration")?.unwrap_or_else(|| Value::Object(serde_json::Map::new())),
            input_schema: json_column(row, "input_schema")?
                .unwrap_or_else(|| serde_json::json!({ "type": "object", "properties": {} })),
            timeout_ms: row.get("timeout_ms")?,
            is_enabled: row.get("is_active")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

/// `POST /orgs/{org_id}/tools`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToolRequest {
    /// 1–64 characters: letters, digits, `_` and `-` (what model APIs accept).
    #[schema(example = "get_weather")]
    pub name: String,
    #[serde(rename = "type")]
    #[schema(example = "http")]
    pub tool_type: String,
    /// At most 1000 characters; models read it to choose the tool.
    pub description: Option<String>,
    /// The type's settings, checked against its `config_schema`.
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    /// JSON Schema of the arguments; an object schema. Default: no arguments.
    #[schema(value_type = Option<Object>)]
    pub input_schema: Option<Value>,
    pub bot_id: Option<BotId>,
    pub timeout_ms: Option<i64>,
    /// Default true.
    pub is_enabled: Option<bool>,
}

/// `PATCH /tools/{tool_id}`: absent fields stay; `description: null` clears it.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateToolRequest {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub input_schema: Option<Value>,
    pub timeout_ms: Option<i64>,
    pub is_enabled: Option<bool>,
}

/// `POST /tools/{tool_id}/test`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestToolRequest {
    /// The arguments, checked against the tool's `input_schema`.
    #[schema(value_type = Object, example = json!({ "city": "Paris" }))]
    pub arguments: Value,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    Ok,
    Error,
    Timeout,
}

impl ExecutionStatus {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Ok => "ok",
            ExecutionStatus::Error => "error",
            ExecutionStatus::Timeout => "timeout",
        }
    }
}

/// Who ran a tool (the `source` of an execution).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionSource {
    /// A test run from the UI or `POST /tools/{tool_id}/test`.
    Test,
    Agent,
    Workflow,
    Task,
    Flow,
    /// A call through a bot's MCP endpoint (`POST /mcp/bots/{bot_id}`).
    Mcp,
}

impl ExecutionSource {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionSource::Test => "test",
            ExecutionSource::Agent => "agent",
            ExecutionSource::Workflow => "workflow",
            ExecutionSource::Task => "task",
            ExecutionSource::Flow => "flow",
            ExecutionSource::Mcp => "mcp",
        }
    }
}

/// Why a run failed: a stable code and a message (secrets redacted).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ToolFailure {
    /// e.g. `timeout`, `url_not_allowed`, `http_status`, `query_refused`, `tool_failed`.
    pub code: String,
    pub message: String,
}

/// The outcome of one run, as the executor returns it and the test route answers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ToolOutcome {
    pub execution_id: ToolExecutionId,
    pub status: ExecutionStatus,
    /// The result (secrets redacted); absent unless `status` is `ok`.
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    pub error: Option<ToolFailure>,
    pub duration_ms: i64,
    /// Sent by HTTP and webhook tools as `Idempotency-Key`.
    pub idempotency_key: String,
}

/// A recorded run.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ToolExecution {
    pub id: ToolExecutionId,
    pub tool_id: ToolId,
    /// `ok`, `error` or `timeout` (older rows: pending, running, completed, failed).
    pub status: String,
    pub source: String,
    /// The arguments (secrets redacted).
    #[schema(value_type = Option<Object>)]
    pub arguments: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    pub error: Option<ToolFailure>,
    pub duration_ms: Option<i64>,
    pub idempotency_key: Option<String>,
    pub agent_id: Option<i64>,
    pub created_at: String,
}

pub const EXECUTION_COLUMNS: &str =
    "id, tool_id, status, source, input, output, error, duration_ms, idempotency_key, agent_id, created_at";

impl FromRow for ToolExecution {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let error: Option<String> = row.get("error")?;
        Ok(ToolExecution {
            id: row.get("id")?,
            tool_id: row.get("tool_id")?,
            status: row.get("status")?,
            source: row.get("source")?,
            arguments: json_column(row, "input")?,
            result: json_column(row, "output")?,
            error: error
                .map(|e| serde_json::from_str(&e).unwrap_or(ToolFailure { code: "tool_failed".into(), message: e })),
            duration_ms: row.get("duration_ms")?,
            idempotency_key: row.get("idempotency_key")?,
            agent_id: row.get("agent_id")?,
            created_at: row.get("created_at")?,
        })
    }
}

/// A type of the catalogue, as `GET /tools/types` lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ToolTypeInfo {
    #[schema(example = "http")]
    pub name: &'static str,
    pub label: &'static str,
    pub description: &'static str,
    /// JSON Schema of the type's `config` (the UI builds its form from it).
    #[schema(value_type = Object)]
    pub config_schema: Value,
    /// A config that works as a starting point.
    #[schema(value_type = Object)]
    pub config_example: Value,
    /// An argument schema that suits the example config.
    #[schema(value_type = Object)]
    pub input_schema_example: Value,
}

//! Autonomous agents, their runs (`agent_tasks`), run steps (`task_steps`),
//! memories (`agent_memories`) and the DTOs of their routes.

use rusqlite::Row;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::db::{FromRow, json_column};
use crate::ids::OrgId;
use crate::llm::model::LlmProviderId;

crate::id_type!(
    /// A row of `autonomous_agents`.
    AutonomousAgentId
);
crate::id_type!(
    /// A row of `agent_tasks`: one run of an autonomous agent.
    AutonomousRunId
);
crate::id_type!(
    /// A row of `agent_memories`.
    AgentMemoryId
);

/// A cron schedule: a 5-field (or 6-field, with seconds) cron expression
/// read in an IANA time zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    #[schema(example = "0 9 * * MON-FRI")]
    pub cron: String,
    /// IANA name; default `UTC`.
    #[serde(default = "utc")]
    #[schema(example = "Europe/Paris")]
    pub timezone: String,
}

fn utc() -> String {
    "UTC".into()
}

/// An autonomous agent as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AutonomousAgent {
    pub id: AutonomousAgentId,
    pub organization_id: OrgId,
    pub name: String,
    pub description: Option<String>,
    /// What each run works towards; the model plans its steps from it.
    pub goal: String,
    /// A bot agent (`/bots/{bot_id}/agents`) whose loop runs the steps; `null`: a plain model call per step.
    pub agent_id: Option<i64>,
    /// The LLM provider; `null`: the organization's default provider.
    pub provider_id: Option<LlmProviderId>,
    pub model: Option<String>,
    pub temperature: f64,
    pub max_tokens: i64,
    pub system_prompt: Option<String>,
    /// Tools (`/orgs/{org_id}/tools`) the steps may call.
    pub tool_ids: Vec<i64>,
    /// `active`, `paused` (no trigger starts a run) or `archived`.
    pub status: String,
    pub schedule: Option<Schedule>,
    /// When the schedule next starts a run (UTC).
    pub next_run_at: Option<String>,
    /// An organization webhook event (`GET /orgs/{org_id}/webhook-events`) that starts a run.
    pub trigger_event: Option<String>,
    /// Whether an inbound webhook URL is set (`POST /autonomous-agents/{autonomous_agent_id}/hook`).
    pub webhook_trigger: bool,
    /// Most steps a run plans and executes (1–50).
    pub max_steps: i64,
    /// Most tokens a run may use; `null`: no limit.
    pub token_budget: Option<i64>,
    /// Most cost (micro-units of the currency) a run may use; `null`: no limit.
    pub cost_budget_micros: Option<i64>,
    /// Each finished run's result is emailed here.
    pub deliver_email: Option<String>,
    /// Each finished run emits the organization webhook event `agent.run.completed`.
    pub deliver_webhook: bool,
    /// Most memories kept; past it the least useful are dropped.
    pub memory_cap: i64,
    pub total_tasks: i64,
    pub successful_tasks: i64,
    pub failed_tasks: i64,
    pub created_at: String,
    pub updated_at: String,
}

pub const AGENT_COLUMNS: &str = "id, organization_id, name, description, goal, settings, provider_id, model, temperature, \
     max_tokens, system_prompt, capabilities, status, schedule, next_run_at, trigger_event, hook_token_hash, max_steps, \
     token_budget, cost_budget_micros, deliver_email, deliver_webhook, memory_cap, total_tasks, successful_tasks, \
     failed_tasks, created_at, updated_at";

impl FromRow for AutonomousAgent {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let settings = json_column(row, "settings")?.unwrap_or(Value::Null);
        let tools = json_column(row, "capabilities")?.unwrap_or(Value::Null);
        let schedule = json_column(row, "schedule")?.and_then(|v| serde_json::from_value(v).ok());
        let hook: Option<Vec<u8>> = row.get("hook_token_hash")?;
        Ok(AutonomousAgent {
            id: row.get("id")?,
            organization_id: row.get("organization_id")?,
            name: row.get("name")?,
            description: row.get("description")?,
            goal: row.get("goal")?,
            agent_id: settings.get("agent_id").and_then(Value::as_i64),
            provider_id: row.get("provider_id")?,
            model: row.get("model")?,
            temperature: row.get("temperature")?,
            max_tokens: row.get("max_tokens")?,
            system_prompt: row.get("system_prompt")?,
            tool_ids: tools.as_array().map(|a| a.iter().filter_map(Value::as_i64).collect()).unwrap_or_default(),
            status: row.get("status")?,
            schedule,
            next_run_at: row.get("next_run_at")?,
            trigger_event: row.get("trigger_event")?,
            webhook_trigger: hook.is_some(),
            max_steps: row.get("max_steps")?,
            token_budget: row.get("token_budget")?,
            cost_budget_micros: row.get("cost_budget_micros")?,
            deliver_email: row.get("deliver_email")?,
            deliver_webhook: row.get("deliver_webhook")?,
            memory_cap: row.get("memory_cap")?,
            total_tasks: row.get("total_tasks")?,
            successful_tasks: row.get("successful_tasks")?,
            failed_tasks: row.get("failed_tasks")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

/// Create (`name` and `goal` required) or change (absent fields stay; `null`
/// clears a nullable one) an autonomous agent.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentInput {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    #[serde(default)]
    pub goal: Option<String>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<i64>)]
    pub agent_id: Option<Option<i64>>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<i64>)]
    pub provider_id: Option<Option<LlmProviderId>>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<String>)]
    pub model: Option<Option<String>>,
    /// 0–2.
    #[serde(default)]
    pub temperature: Option<f64>,
    /// 1–100000.
    #[serde(default)]
    pub max_tokens: Option<i64>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<String>)]
    pub system_prompt: Option<Option<String>>,
    #[serde(default)]
    pub tool_ids: Option<Vec<i64>>,
    /// `active`, `paused` or `archived`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<Schedule>)]
    pub schedule: Option<Option<Schedule>>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<String>)]
    pub trigger_event: Option<Option<String>>,
    /// 1–50 (default 8).
    #[serde(default)]
    pub max_steps: Option<i64>,
    /// ≥ 0.
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<i64>)]
    pub token_budget: Option<Option<i64>>,
    /// ≥ 0.
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<i64>)]
    pub cost_budget_micros: Option<Option<i64>>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<String>)]
    pub deliver_email: Option<Option<String>>,
    #[serde(default)]
    pub deliver_webhook: Option<bool>,
    /// 1–10000 (default 200).
    #[serde(default)]
    pub memory_cap: Option<i64>,
}

/// `POST /orgs/{org_id}/autonomous-agents/schedule-preview`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    pub schedule: Schedule,
    /// How many times to list (1–20, default 5).
    #[serde(default)]
    pub count: Option<u32>,
}

/// The next times a schedule fires.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SchedulePreview {
    /// UTC, RFC 3339.
    pub next_runs: Vec<String>,
    /// The same times in the schedule's time zone.
    pub next_runs_local: Vec<String>,
}

/// `POST /autonomous-agents/{autonomous_agent_id}/runs` (all optional).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRunRequest {
    /// Data the run starts from (shown to the model beside the goal).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub input: Option<Value>,
}

/// The inbound webhook URL of an agent; the token is shown only here.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HookSecret {
    /// `POST` JSON here to start a run (the body becomes its input).
    pub url: String,
    pub token: String,
}

/// A run of an autonomous agent.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AutonomousRun {
    pub id: AutonomousRunId,
    pub agent_id: AutonomousAgentId,
    /// `pending`, `running`, `paused`, `completed`, `failed` or `cancelled`.
    pub status: String,
    /// Why it stopped: `step_limit`, `token_budget`, `cost_budget`, `llm_not_configured`, `plan_invalid`, `model_error`, `agent_error` (the bot agent's turn failed or waits for an approval) or `cancelled`.
    pub stop_reason: Option<String>,
    /// `manual`, `schedule`, `event` or `webhook`.
    pub triggered_by: String,
    pub goal: String,
    #[schema(value_type = Object)]
    pub input: Value,
    /// `{"text": "..."}` once completed.
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    pub error: Option<String>,
    pub total_steps: i64,
    pub completed_steps: i64,
    pub tokens_used: i64,
    pub cost_micros: i64,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub created_at: String,
    /// Present on `GET /autonomous-runs/{autonomous_run_id}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<RunStep>>,
}

pub const RUN_COLUMNS: &str = "id, agent_id, status, paused_at, stop_reason, triggered_by, task_description, input_data, \
     result, error_message, total_steps, completed_steps, tokens_used, cost_micros, started_at, completed_at, created_at";

impl FromRow for AutonomousRun {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let status: String = row.get("status")?;
        let paused: Option<String> = row.get("paused_at")?;
        let status = if paused.is_some() && matches!(status.as_str(), "pending" | "running") {
            "paused".to_owned()
        } else {
            status
        };
        Ok(AutonomousRun {
            id: row.get("id")?,
            agent_id: row.get("agent_id")?,
            status,
            stop_reason: row.get("stop_reason")?,
            triggered_by: row.get("triggered_by")?,
            goal: row.get("task_description")?,
            input: json_column(row, "input_data")?.unwrap_or(Value::Null),
            result: json_column(row, "result")?,
            error: row.get("error_message")?,
            total_steps: row.get("total_steps")?,
            completed_steps: row.get("completed_steps")?,
            tokens_used: row.get("tokens_used")?,
            cost_micros: row.get("cost_micros")?,
            started_at: row.get("started_at")?,
            completed_at: row.get("completed_at")?,
            created_at: row.get("created_at")?,
            steps: None,
        })
    }
}

/// One step of a run: step 1 is the plan, the others execute it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunStep {
    pub step_number: i64,
    pub action: String,
    /// `plan` or `execute`.
    pub action_type: String,
    /// `pending`, `running`, `completed`, `failed` or `skipped`.
    pub status: String,
    #[schema(value_type = Option<Object>)]
    pub output: Option<Value>,
    pub tokens_used: i64,
    pub duration_ms: Option<i64>,
    pub error: Option<String>,
    pub completed_at: Option<String>,
}

pub const STEP_COLUMNS: &str =
    "step_number, action, action_type, status, output, tokens_used, duration_ms, error_message, completed_at";

impl FromRow for RunStep {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(RunStep {
            step_number: row.get("step_number")?,
            action: row.get("action")?,
            action_type: row.get("action_type")?,
            status: row.get("status")?,
            output: json_column(row, "output")?,
            tokens_used: row.get("tokens_used")?,
            duration_ms: row.get("duration_ms")?,
            error: row.get("error_message")?,
            completed_at: row.get("completed_at")?,
        })
    }
}

/// A memory item.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Memory {
    pub id: AgentMemoryId,
    pub content: String,
    /// Times it was recalled into a prompt or a search.
    pub hits: i64,
    /// Near-duplicates merged into it (1: none).
    pub merged_count: i64,
    pub created_at: String,
    pub last_used_at: Option<String>,
    /// Cosine similarity to the query (searches only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
}

/// `POST /autonomous-agents/{autonomous_agent_id}/memories`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMemoryRequest {
    /// 1–4000 characters.
    pub content: String,
}

/// `GET /autonomous-agents/{autonomous_agent_id}/memories`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct MemoryQuery {
    /// Text to search by meaning; absent: newest first.
    pub q: Option<String>,
    /// Most items (1–100, default 20).
    pub limit: Option<u32>,
}

/// What a consolidation did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Consolidation {
    /// Near-duplicates merged into another memory.
    pub merged: usize,
    /// Least useful memories dropped to keep the cap.
    pub dropped: usize,
    /// Memories left.
    pub remaining: usize,
}

/// Per-agent analytics.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AgentAnalytics {
    pub runs: i64,
    pub completed: i64,
    pub failed: i64,
    pub cancelled: i64,
    /// Runs still pending, running or paused.
    pub active: i64,
    /// completed ÷ (completed + failed); `null` before any finished run.
    pub success_rate: Option<f64>,
    pub tokens: i64,
    pub cost_micros: i64,
    /// Mean wall time of finished runs, in milliseconds.
    pub avg_duration_ms: Option<f64>,
    pub memories: i64,
}

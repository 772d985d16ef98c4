//! How a workflow step asks an agent: one turn of the agent loop
//! ([`crate::agents::run_turn`]: the agent's instructions, model settings,
//! tools and guardrails, every model and tool call stored as an agent run)
//! in a thread of its own per run and step (`workflow:<execution>:<step>`).
//! Without a usable provider the step fails at once with `llm_not_configured`.

use serde_json::{Value, json};

use super::model::ExecutionId;
use crate::agents::model::{Agent, AgentId, RunSource, RunStatus};
use crate::agents::{AgentInput, NoSteps, run_turn};
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::Tenant;
use crate::ids::BotId;

/// What an agent answered.
#[derive(Debug, Clone, Default)]
pub struct AgentOutput {
    pub text: String,
    /// Structured result: the answer parsed as JSON when it is JSON, and the agent run's id.
    pub data: Value,
    pub reasoning: Option<String>,
    pub tokens: i64,
    pub cost_micros: i64,
}

/// Runs agent `agent` of the bot on `input`; `cached` is the agent when the
/// run has read it already.
#[allow(clippy::too_many_arguments, reason = "the step's parts")]
pub async fn run(
    state: &AppState,
    tenant: &Tenant,
    bot: Option<BotId>,
    agent: i64,
    cached: Option<std::sync::Arc<Agent>>,
    input: &str,
    execution: ExecutionId,
    step: &str,
) -> AppResult<AgentOutput> {
    let agent = match cached {
        Some(a) => a,
        None => std::sync::Arc::new(crate::agents::service::get(state, tenant, AgentId(agent)).await?),
    };
    if bot.is_some() && agent.bot_id.is_some() && agent.bot_id != bot {
        return Err(AppError::new(ErrorCode::InvalidReference, format!("agent {} belongs to another bot", agent.id)));
    }
    let mut turn = AgentInput::new(
        if input.trim().is_empty() { "(no input)" } else { input },
        format!("workflow:{execution}:{step}"),
        RunSource::Workflow,
    );
    turn.execution_id = Some(execution.0);
    let run = run_turn(state, tenant, &agent, turn, &mut NoSteps).await?;
    match run.status {
        RunStatus::Completed => {
            let text = run.reply.clone().unwrap_or_default();
            let parsed = serde_json::from_str::<Value>(text.trim()).unwrap_or(Value::Null);
            Ok(AgentOutput {
                data: json!({ "json": parsed, "agent_run_id": run.id }),
                text,
                reasoning: Some(format!("agent run {} with {} steps", run.id, run.steps.len())),
                tokens: run.total_tokens,
                cost_micros: run.cost_micros,
            })
        }
        RunStatus::WaitingApproval => Err(AppError::new(
            ErrorCode::Conflict,
            "the agent wants to use a tool that needs a person's approval; inside a workflow use an approval step instead",
        )
        .with_details(json!({ "agent_run_id": run.id }))),
        _ => Err(crate::agents::runner::run_error(&run)
            .unwrap_or_else(|| AppError::new(ErrorCode::Internal, "the agent run failed"))),
    }
}

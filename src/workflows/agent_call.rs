//! How a workflow step asks an agent: the agent's instructions and the
//! step's input through the bot's model (metered, budget-checked, with the
//! provider chain's retries and fallback). Without a usable provider the
//! step fails at once with `llm_not_configured`.

use serde_json::Value;

use super::model::ExecutionId;
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::Tenant;
use crate::ids::BotId;
use crate::llm::ai::service::{self as ai, Purpose};
use crate::llm::client::Message;

/// What an agent answered.
#[derive(Debug, Clone, Default)]
pub struct AgentOutput {
    pub text: String,
    /// Structured result (the answer parsed as JSON when it is JSON).
    pub data: Value,
    pub reasoning: Option<String>,
    pub tokens: i64,
    pub cost_micros: i64,
}

/// Runs agent `agent` of the bot on `input`.
pub async fn run(
    state: &AppState,
    tenant: &Tenant,
    bot: Option<BotId>,
    agent: i64,
    input: &str,
    _execution: ExecutionId,
    _step: &str,
) -> AppResult<AgentOutput> {
    let bot =
        bot.ok_or_else(|| AppError::new(ErrorCode::LlmNotConfigured, "the run has no bot to take a model from"))?;
    let t = tenant.clone();
    let instructions = state
        .db
        .read(move |c| Ok(super::store::agent_instructions(c, &t, agent)?))
        .await?
        .ok_or_else(|| AppError::new(ErrorCode::InvalidReference, format!("agent {agent} no longer exists")))?;
    let messages = vec![Message::new("system", instructions), Message::new("user", input)];
    let (completion, used) = ai::complete(state, tenant, bot, Purpose::Workflow, messages, Vec::new(), None).await?;
    let data = serde_json::from_str(completion.text.trim()).unwrap_or(Value::Null);
    Ok(AgentOutput {
        text: completion.text,
        data,
        reasoning: None,
        tokens: i64::try_from(used.total_tokens).unwrap_or(i64::MAX),
        cost_micros: i64::try_from(used.cost_micros).unwrap_or(i64::MAX),
    })
}

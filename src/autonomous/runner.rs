//! One run of an autonomous agent, as the durable job [`RUN_JOB`]:
//!
//! 1. **Plan.** The model turns the goal (with the run's input and the top
//!    recalled memories) into JSON steps; the plan is validated (1 to
//!    `max_steps` non-empty actions) and stored as step 1 (`plan`), its
//!    actions as the following `execute` steps.
//! 2. **Execute.** Each pending step in order: one model turn with the
//!    agent's tools (tool calls run through the tool executor and go back to
//!    the model, a few rounds at most), output and tokens stored.
//! 3. **Finish.** The result is the last step's text; it is delivered
//!    (email through the queue, `agent.run.completed` org webhook event) in
//!    the transaction that completes the run, then remembered.
//!
//! Budgets are checked before every model call, so a run stops at the first
//! call past its token or cost budget, with `stop_reason`. Pause and cancel
//! are read between steps. The job is resumable: completed steps are never
//! run again, so a retried or reclaimed job continues where it stopped.
//! Without a usable LLM provider a run fails at once with
//! `llm_not_configured`.

use std::fmt::Write as _;
use std::time::Instant;

use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::model::{AutonomousAgent, AutonomousRunId};
use super::service::RUN_JOB;
use super::{memory, store};
use crate::app::AppState;
use crate::db::now;
use crate::error::{AppResult, ErrorCode};
use crate::http::Tenant;
use crate::jobs::{JobContext, JobError, JobHandler};
use crate::llm::call::{self, Chain};
use crate::llm::client::{ChatOptions, Message, Tool as LlmTool};
use crate::tools::model::{ExecutionSource, Tool, ToolId};

/// Tool-call rounds one step may take before its answer must be text.
const TOOL_ROUNDS: usize = 4;

/// The job that runs a run.
pub struct RunJob;
impl JobHandler for RunJob {
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Result<Value, JobError>> {
        Box::pin(async move {
            let run = ctx
                .job
                .payload
                .get("run_id")
                .and_then(Value::as_i64)
                .ok_or_else(|| JobError::Permanent(format!("{RUN_JOB}: no run_id")))?;
            let outcome = execute(&ctx.state, AutonomousRunId(run)).await?;
            Ok(json!({ "run_id": run, "outcome": outcome }))
        })
    }
}

/// Why a run stopped early.
#[derive(Debug)]
struct Stop {
    reason: &'static str,
    message: String,
}

impl Stop {
    fn new(reason: &'static str, message: impl Into<String>) -> Stop {
        Stop { reason, message: message.into() }
    }
}

/// What a model call cost.
#[derive(Default, Clone, Copy)]
struct Spent {
    tokens: i64,
    cost: i64,
}

/// Runs (or continues) a run; answers how it ended for the job's result.
#[allow(clippy::too_many_lines, reason = "the run's phases read best in order: load, plan, steps, finish")]
pub async fn execute(state: &AppState, id: AutonomousRunId) -> AppResult<&'static str> {
    let Some(org) = state.db.read(move |c| Ok(store::run_org(c, id)?)).await? else { return Ok("gone") };
    let tenant = Tenant::system(org, "autonomous agent run");
    let t = tenant.clone();
    let (run, agent) = state
        .db
        .write(move |tx| {
            let Some(run) = store::find_run(tx, &t, id)? else { return Ok((None, None)) };
            let agent = store::find_agent(tx, &t, run.agent_id)?;
            if run.status == "pending" || run.status == "running" {
                store::mark_running(tx, &t, id, &now())?;
            }
            Ok((Some(run), agent))
        })
        .await?;
    let (Some(run), Some(agent)) = (run, agent) else { return Ok("gone") };
    match run.status.as_str() {
        "paused" => return Ok("paused"),
        "pending" | "running" => {}
        _ => return Ok("finished"),
    }
    let chain = match crate::llm::service::chain(state, &tenant, agent.provider_id, agent.model.as_deref(), None).await
    {
        Ok(Some(chain)) => chain,
        Ok(None) => {
            let stop = Stop::new(
                "llm_not_configured",
                "no usable LLM provider: name one on the agent or set an active default provider of the organization",
            );
            return finish(state, &tenant, &agent, id, Err(stop)).await;
        }
        Err(e) if e.code() == ErrorCode::LlmNotConfigured || e.code().status().is_client_error() => {
            return finish(state, &tenant, &agent, id, Err(Stop::new("llm_not_configured", e.message()))).await;
        }
        Err(e) => return Err(e),
    };
    let input = run.input.clone();
    let memories = memory::recall_block(state, &tenant, agent.id, &agent.goal).await;
    let system = system_prompt(&agent, &input, &memories);
    let tools = load_tools(state, &tenant, &agent).await?;

    // 1. The plan (once).
    let t = tenant.clone();
    let has_plan = state.db.read(move |c| Ok(store::steps(c, &t, id)?.iter().any(|s| s.action_type == "plan"))).await?;
    if !has_plan && let Err(stop) = plan(state, &tenant, &agent, id, &chain, &system).await? {
        return finish(state, &tenant, &agent, id, Err(stop)).await;
    }

    // 2. The steps.
    loop {
        let t = tenant.clone();
        let (run, steps) = state.db.read(move |c| Ok((store::find_run(c, &t, id)?, store::steps(c, &t, id)?))).await?;
        let Some(run) = run else { return Ok("gone") };
        match run.status.as_str() {
            "paused" => return Ok("paused"),
            "cancelled" => return Ok("cancelled"),
            "pending" | "running" => {}
            _ => return Ok("finished"),
        }
        let Some(step) =
            steps.iter().find(|s| s.action_type == "execute" && matches!(s.status.as_str(), "pending" | "running"))
        else {
            let last = steps.iter().rev().find(|s| s.action_type == "execute" && s.status == "completed");
            let text = last.and_then(|s| s.output.as_ref()).and_then(|o| o.get("text")).and_then(Value::as_str);
            return finish(state, &tenant, &agent, id, Ok(text.unwrap_or_default().to_owned())).await;
        };
        let done: Vec<(String, String)> = steps
            .iter()
            .filter(|s| s.action_type == "execute" && s.status == "completed")
            .map(|s| {
                let out = s.output.as_ref().and_then(|o| o.get("text")).and_then(Value::as_str).unwrap_or_default();
                (s.action.clone(), out.to_owned())
            })
            .collect();
        let total = steps.iter().filter(|s| s.action_type == "execute").count();
        let number = step.step_number;
        let t = tenant.clone();
        state.db.write(move |tx| Ok(store::start_step(tx, &t, id, number)?)).await?;
        let started = Instant::now();
        let outcome =
            run_step(state, &tenant, &agent, &run, &chain, &system, &tools, (number, total), &step.action, &done)
                .await?;
        let ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        match outcome {
            Ok((text, calls, spent)) => {
                let t = tenant.clone();
                let output = json!({ "text": text, "tool_calls": calls });
                state
                    .db
                    .write(move |tx| Ok(store::complete_step(tx, &t, id, number, &output, spent.tokens, ms)?))
                    .await?;
            }
            Err((why, used)) => {
                let t = tenant.clone();
                let message = why.message.clone();
                state.db.write(move |tx| Ok(store::fail_step(tx, &t, id, number, &message, used.tokens, ms)?)).await?;
                return finish(state, &tenant, &agent, id, Err(why)).await;
            }
        }
    }
}

fn system_prompt(agent: &AutonomousAgent, input: &Value, memories: &str) -> String {
    let base = agent.system_prompt.as_deref().unwrap_or("You are an autonomous agent that works towards a goal.");
    let input = if input.as_object().is_some_and(|o| !o.is_empty()) {
        format!("\n\nInput of this run (JSON): {input}")
    } else {
        String::new()
    };
    format!("{base}\n\nGoal: {}{input}{memories}", agent.goal)
}

async fn load_tools(state: &AppState, tenant: &Tenant, agent: &AutonomousAgent) -> AppResult<Vec<Tool>> {
    let (t, ids) = (tenant.clone(), agent.tool_ids.clone());
    state
        .db
        .read(move |c| {
            let mut tools = Vec::new();
            for id in ids {
                if let Some(tool) = crate::tools::store::find(c, &t, ToolId(id))?
                    && tool.is_enabled
                {
                    tools.push(tool);
                }
            }
            Ok(tools)
        })
        .await
}

/// Checks the run's budgets before a model call.
async fn within_budget(
    state: &AppState,
    tenant: &Tenant,
    agent: &AutonomousAgent,
    id: AutonomousRunId,
) -> AppResult<Result<(), Stop>> {
    let t = tenant.clone();
    let Some(run) = state.db.read(move |c| Ok(store::find_run(c, &t, id)?)).await? else {
        return Ok(Err(Stop::new("cancelled", "the run is gone")));
    };
    if let Some(b) = agent.token_budget
        && run.tokens_used >= b
    {
        return Ok(Err(Stop::new(
            "token_budget",
            format!("the run used {} tokens of its budget of {b}", run.tokens_used),
        )));
    }
    if let Some(b) = agent.cost_budget_micros
        && run.cost_micros >= b
    {
        return Ok(Err(Stop::new(
            "cost_budget",
            format!("the run cost {} micros of its budget of {b}", run.cost_micros),
        )));
    }
    Ok(Ok(()))
}

/// One model call, metered into the run and the organization's usage.
async fn model_call(
    state: &AppState,
    tenant: &Tenant,
    agent: &AutonomousAgent,
    id: AutonomousRunId,
    chain: &Chain,
    messages: &[Message],
    tools: Vec<LlmTool>,
) -> AppResult<Result<(crate::llm::client::Completion, Spent), Stop>> {
    if let Err(stop) = within_budget(state, tenant, agent, id).await? {
        return Ok(Err(stop));
    }
    let opts = ChatOptions {
        temperature: Some(f64_to_f32(agent.temperature)),
        max_tokens: u32::try_from(agent.max_tokens).ok(),
        tools,
        ..ChatOptions::default()
    };
    match call::complete(state, chain, messages, &opts).await {
        Ok((completion, served)) => {
            let usage = completion.usage.unwrap_or_default();
            let spent = Spent {
                tokens: i64::try_from(usage.total_tokens).unwrap_or(i64::MAX),
                cost: i64::try_from(served.target.cost_micros(usage)).unwrap_or(i64::MAX),
            };
            let (t, org) = (tenant.clone(), tenant.org_id());
            state
                .db
                .write(move |tx| {
                    store::add_spent(tx, &t, id, spent.tokens, spent.cost)?;
                    crate::billing::usage::record_llm(tx, org, None, spent.tokens, spent.cost)
                })
                .await?;
            Ok(Ok((completion, spent)))
        }
        Err(failed) => Ok(Err(Stop::new("model_error", format!("the model call failed: {}", failed.error)))),
    }
}

fn f64_to_f32(v: f64) -> f32 {
    #[allow(clippy::cast_possible_truncation, reason = "a temperature between 0 and 2")]
    let f = v as f32;
    f
}

/// Reads the model's plan: `{"steps": [{"action": "..."}, ...]}`, or a bare
/// array of strings or objects, possibly inside a Markdown code fence.
fn parse_plan(text: &str, max_steps: i64) -> Result<Vec<String>, Stop> {
    let start = text.find(['{', '[']);
    let end = text.rfind(['}', ']']);
    let (Some(start), Some(end)) = (start, end) else {
        return Err(Stop::new("plan_invalid", "the plan is not JSON"));
    };
    let value: Value = text
        .get(start..=end)
        .and_then(|s| serde_json::from_str(s).ok())
        .ok_or_else(|| Stop::new("plan_invalid", "the plan is not valid JSON"))?;
    let steps = value.get("steps").unwrap_or(&value);
    let Some(items) = steps.as_array() else {
        return Err(Stop::new("plan_invalid", "the plan has no `steps` array"));
    };
    let mut actions = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let action = item.as_str().or_else(|| item.get("action").and_then(Value::as_str)).map(str::trim);
        match action {
            Some(a) if !a.is_empty() && a.chars().count() <= 1000 => actions.push(a.to_owned()),
            _ => return Err(Stop::new("plan_invalid", format!("step {} has no action of 1–1000 characters", i + 1))),
        }
    }
    if actions.is_empty() {
        return Err(Stop::new("plan_invalid", "the plan has no steps"));
    }
    if i64::try_from(actions.len()).unwrap_or(i64::MAX) > max_steps {
        return Err(Stop::new(
            "step_limit",
            format!("the plan has {} steps, over the agent's limit of {max_steps}", actions.len()),
        ));
    }
    Ok(actions)
}

async fn plan(
    state: &AppState,
    tenant: &Tenant,
    agent: &AutonomousAgent,
    id: AutonomousRunId,
    chain: &Chain,
    system: &str,
) -> AppResult<Result<(), Stop>> {
    let ask = format!(
        "Plan how to reach the goal in at most {} steps. Answer only JSON: {{\"steps\": [{{\"action\": \"...\"}}]}}, \
         each action one instruction you will carry out in order.",
        agent.max_steps
    );
    let messages = [Message::new("system", system), Message::new("user", ask)];
    let started = Instant::now();
    let (completion, spent) = match model_call(state, tenant, agent, id, chain, &messages, Vec::new()).await? {
        Ok(c) => c,
        Err(stop) => return Ok(Err(stop)),
    };
    let ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let parsed = parse_plan(&completion.text, agent.max_steps);
    let t = tenant.clone();
    let (output, error) = match &parsed {
        Ok(actions) => (json!({ "steps": actions }), None),
        Err(stop) => (json!({ "text": completion.text }), Some(stop.message.clone())),
    };
    let actions = parsed.as_ref().ok().cloned().unwrap_or_default();
    state
        .db
        .write(move |tx| Ok(store::insert_plan(tx, &t, id, &output, error.as_deref(), spent.tokens, ms, &actions)?))
        .await?;
    Ok(parsed.map(|_| ()))
}

type StepResult = Result<(String, Vec<Value>, Spent), (Stop, Spent)>;

#[allow(clippy::too_many_arguments, reason = "the run's context, passed once per step")]
async fn run_step(
    state: &AppState,
    tenant: &Tenant,
    agent: &AutonomousAgent,
    run: &super::model::AutonomousRun,
    chain: &Chain,
    system: &str,
    tools: &[Tool],
    (number, total): (i64, usize),
    action: &str,
    done: &[(String, String)],
) -> AppResult<StepResult> {
    let context = done.iter().enumerate().fold(String::new(), |mut text, (i, (a, out))| {
        let _ = write!(text, "Step {} — {a}\nResult: {out}\n\n", i + 1);
        text
    });
    let ask = format!(
        "{}Now carry out step {} of {total}: {action}\nAnswer with the step's result.",
        if context.is_empty() { String::new() } else { format!("Results so far:\n{context}") },
        number - 1,
    );
    if let Some(bot_agent) = agent.agent_id {
        return through_agent(state, tenant, agent, run.id, bot_agent, &format!("{system}\n\n{ask}"), number).await;
    }
    let mut messages = vec![Message::new("system", system), Message::new("user", ask)];
    let defs: Vec<LlmTool> = tools
        .iter()
        .map(|t| LlmTool::function(t.name.clone(), t.description.clone(), t.input_schema.clone()))
        .collect();
    let mut spent = Spent::default();
    let mut calls = Vec::new();
    for round in 0..=TOOL_ROUNDS {
        let offer = if round < TOOL_ROUNDS { defs.clone() } else { Vec::new() };
        let (completion, s) = match model_call(state, tenant, agent, run.id, chain, &messages, offer).await? {
            Ok(c) => c,
            Err(stop) => return Ok(Err((stop, spent))),
        };
        spent.tokens += s.tokens;
        spent.cost += s.cost;
        if completion.tool_calls.is_empty() {
            return Ok(Ok((completion.text, calls, spent)));
        }
        messages.push(Message::assistant_tool_calls(
            (!completion.text.is_empty()).then(|| completion.text.clone()),
            completion.tool_calls.clone(),
        ));
        for (k, tc) in completion.tool_calls.iter().enumerate() {
            let result =
                call_tool(state, tenant, agent, run.id, tools, tc, format!("run{}:step{number}:{round}:{k}", run.id.0))
                    .await;
            calls.push(json!({ "tool": tc.function.name, "arguments": tc.function.arguments, "result": result }));
            messages.push(Message::tool_result(tc.id.clone(), result.to_string()));
        }
    }
    Ok(Err((Stop::new("step_limit", format!("step {} kept calling tools", number - 1)), spent)))
}

/// Runs a step as one turn of the bot agent `bot_agent` (its instructions,
/// tools, approvals and guardrails; the loop meters the organization's
/// usage itself). A turn that waits for a human's approval stops the run
/// (`agent_error`): an autonomous run has nobody to wait for.
async fn through_agent(
    state: &AppState,
    tenant: &Tenant,
    agent: &AutonomousAgent,
    run: AutonomousRunId,
    bot_agent: i64,
    message: &str,
    number: i64,
) -> AppResult<StepResult> {
    use crate::agents::model::{AgentId, RunSource, RunStatus};
    use crate::agents::runner::{AgentInput, NoSteps, run_turn};
    if let Err(stop) = within_budget(state, tenant, agent, run).await? {
        return Ok(Err((stop, Spent::default())));
    }
    let bot_agent = match crate::agents::service::get(state, tenant, AgentId(bot_agent)).await {
        Ok(a) => a,
        Err(e) => return Ok(Err((Stop::new("agent_error", e.message()), Spent::default()))),
    };
    let mut input = AgentInput::new(message, format!("autonomous:{}:{number}", run.0), RunSource::Task);
    input.task_id = Some(run.0);
    let turn = run_turn(state, tenant, &bot_agent, input, &mut NoSteps).await;
    let turn = match turn {
        Ok(turn) => turn,
        Err(e) => return Ok(Err((Stop::new("agent_error", e.message()), Spent::default()))),
    };
    let spent = Spent { tokens: turn.total_tokens, cost: turn.cost_micros };
    let t = tenant.clone();
    state.db.write(move |tx| Ok(store::add_spent(tx, &t, run, spent.tokens, spent.cost)?)).await?;
    let steps = serde_json::to_value(&turn.steps).unwrap_or(Value::Null);
    match turn.status {
        RunStatus::Completed => {
            Ok(Ok((turn.reply.unwrap_or_default(), vec![json!({ "agent_run_id": turn.id, "steps": steps })], spent)))
        }
        RunStatus::WaitingApproval => Ok(Err((
            Stop::new("agent_error", format!("agent run {} waits for a human's approval of a tool call", turn.id.0)),
            spent,
        ))),
        RunStatus::Failed | RunStatus::Running => {
            let message = turn
                .error
                .map_or_else(|| "the agent turn did not finish".to_owned(), |e| format!("{}: {}", e.code, e.message));
            Ok(Err((Stop::new("agent_error", message), spent)))
        }
    }
}

/// Runs one tool call; what goes back to the model (errors included).
async fn call_tool(
    state: &AppState,
    tenant: &Tenant,
    agent: &AutonomousAgent,
    run: AutonomousRunId,
    tools: &[Tool],
    tc: &crate::llm::client::ToolCall,
    key: String,
) -> Value {
    let Some(tool) = tools.iter().find(|t| t.name == tc.function.name) else {
        return json!({ "error": format!("unknown tool `{}`", tc.function.name) });
    };
    let args: Value = match serde_json::from_str(&tc.function.arguments) {
        Ok(v) => v,
        Err(e) => return json!({ "error": format!("the arguments are not JSON: {e}") }),
    };
    let mut ctx = crate::tools::ExecContext::new(ExecutionSource::Task);
    ctx.task_id = Some(run.0);
    ctx.idempotency_key = Some(format!("autonomous:{}:{key}", agent.id.0));
    match crate::tools::execute(state, tenant, tool, &args, &ctx).await {
        Ok(outcome) => match outcome.result {
            Some(r) => json!({ "status": outcome.status, "result": r }),
            None => json!({ "status": outcome.status, "error": outcome.error }),
        },
        Err(e) => json!({ "error": e.message(), "details": e.details() }),
    }
}

/// Ends a run: completed with its result text, or failed with a stop
/// reason; delivers the outcome and remembers a completed result.
async fn finish(
    state: &AppState,
    tenant: &Tenant,
    agent: &AutonomousAgent,
    id: AutonomousRunId,
    outcome: Result<String, Stop>,
) -> AppResult<&'static str> {
    let t = tenant.clone();
    let a = agent.clone();
    let (status, text) = match &outcome {
        Ok(text) => ("completed", text.clone()),
        Err(_) => ("failed", String::new()),
    };
    let (reason, message) = match &outcome {
        Ok(_) => (None, None),
        Err(s) => (Some(s.reason), Some(s.message.clone())),
    };
    let delivered = state
        .db
        .write(move |tx| {
            let result = (status == "completed").then(|| json!({ "text": text }));
            if !store::finish_run(tx, &t, id, status, result.as_ref(), reason, message.as_deref(), &now())? {
                return Ok(false);
            }
            super::delivery::deliver(tx, &t, &a, id)?;
            Ok(true)
        })
        .await?;
    if !delivered {
        return Ok("finished");
    }
    state.jobs.notify();
    if let Ok(text) = &outcome {
        memory::remember_result(state, tenant, agent.id, &format!("Goal: {}\nResult: {text}", agent.goal)).await;
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_are_read_from_json_or_refused() {
        let steps = parse_plan("```json\n{\"steps\": [{\"action\": \"a\"}, \"b\"]}\n```", 5).expect("plan");
        assert_eq!(steps, ["a", "b"]);
        assert_eq!(parse_plan("no json here", 5).expect_err("refused").reason, "plan_invalid");
        assert_eq!(parse_plan("{\"steps\": []}", 5).expect_err("refused").reason, "plan_invalid");
        assert_eq!(parse_plan("{\"steps\": [{\"action\": \"\"}]}", 5).expect_err("refused").reason, "plan_invalid");
        assert_eq!(parse_plan("[\"a\", \"b\", \"c\"]", 2).expect_err("refused").reason, "step_limit");
    }
}

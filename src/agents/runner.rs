//! The agent loop: one turn of an agent.
//!
//! ```text
//! budgets checked → model call with the agent's tools → no tool call: the reply, done
//!                                                     → tool calls, in order:
//!     unknown function / malformed JSON / arguments not matching the schema / tool error / timeout
//!         → the error goes back to the model as the tool result (recorded as a step)
//!     a tool that needs approval → the turn pauses (`waiting_approval`, a row in the inbox);
//!         [`decide`] runs it (approved) or tells the model it was rejected, then the loop goes on
//!     otherwise → `tools::execute` (schema check, time limit, `tool_executions` row)
//! → the next model call, up to `max_steps` model calls per turn.
//! ```
//!
//! Every step (model call with tokens, cost and latency; tool call with
//! arguments, result or error and latency; approval) is stored in
//! `agent_run_steps` and reported to the caller's [`StepSink`] as it
//! happens. Workflows and autonomous agents call [`run_turn`] with their
//! own [`RunSource`] and ids, and a `thread` of their own (the key the
//! per-conversation budget and the history are counted under).

use std::time::Instant;

use serde_json::{Value, json};

use super::model::{
    Agent, AgentApproval, AgentApprovalId, AgentId, AgentRun, AgentRunId, AgentStep, RunError, RunSource, RunStatus,
    StepKind,
};
use super::store::{self, NewApproval, NewRun, RunUpdate};
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::Tenant;
use crate::ids::BotId;
use crate::llm::ai::service::{ModelOverrides, Purpose, UnrecordedCall};
use crate::llm::client::{Message, Tool, ToolCall};
use crate::tools::model::{ExecutionSource, ExecutionStatus};
use crate::tools::types::ExecContext;

/// The function name of the agent's knowledge bases.
pub const KNOWLEDGE_FUNCTION: &str = "knowledge_search";
/// Earlier exchanges of the thread given to the model.
const HISTORY_TURNS: i64 = 10;
/// Longest user message.
const MAX_INPUT_CHARS: usize = 20_000;

/// What a turn is about.
#[derive(Debug, Clone)]
pub struct AgentInput {
    /// The user's message.
    pub message: String,
    /// The conversation the turn belongs to: its earlier exchanges are the
    /// history and its runs count against the per-conversation budget
    /// (`conversation:{id}`, `test:{token}`, `workflow:{id}`…).
    pub thread: String,
    pub conversation_id: Option<i64>,
    pub source: RunSource,
    /// A `workflow_executions` row (recorded with each tool run).
    pub execution_id: Option<i64>,
    /// An `agent_tasks` row (recorded with each tool run).
    pub task_id: Option<i64>,
}

impl AgentInput {
    /// A turn of `source` in `thread`, without conversation or execution.
    #[must_use]
    pub fn new(message: impl Into<String>, thread: impl Into<String>, source: RunSource) -> AgentInput {
        AgentInput {
            message: message.into(),
            thread: thread.into(),
            conversation_id: None,
            source,
            execution_id: None,
            task_id: None,
        }
    }
}

/// Receives each step as soon as it is stored (the test chat streams them).
pub trait StepSink: Send + Sync {
    fn step(&mut self, step: &AgentStep);
}

/// A sink that drops the steps (they are stored and in the returned run anyway).
pub struct NoSteps;

impl StepSink for NoSteps {
    fn step(&mut self, _step: &AgentStep) {}
}

impl StepSink for Vec<AgentStep> {
    fn step(&mut self, step: &AgentStep) {
        self.push(step.clone());
    }
}

/// A human's answer to a tool call waiting for approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

struct Run<'a> {
    state: &'a AppState,
    tenant: &'a Tenant,
    agent: &'a Agent,
    bot: BotId,
    id: AgentRunId,
    thread: String,
    input: String,
    conversation_id: Option<i64>,
    source: RunSource,
    execution_id: Option<i64>,
    task_id: Option<i64>,
    messages: Vec<Message>,
    tool_defs: Vec<Tool>,
    steps: Vec<AgentStep>,
    model_calls: i64,
    total_tokens: i64,
    cost_micros: i64,
    actions: Vec<Value>,
    created_at: String,
    sink: &'a mut dyn StepSink,
}

fn ms(started: Instant) -> i64 {
    i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// The [`ErrorCode`] named `code`.
fn code_of(code: &str) -> ErrorCode {
    ErrorCode::ALL.iter().copied().find(|c| c.as_str() == code).unwrap_or(ErrorCode::Internal)
}

/// A failed run as the error it answers with (`details.run_id` added).
#[must_use]
pub fn run_error(run: &AgentRun) -> Option<AppError> {
    let e = run.error.as_ref()?;
    let mut details = e.details.clone().unwrap_or_else(|| json!({}));
    if let Some(map) = details.as_object_mut() {
        map.insert("run_id".into(), json!(run.id));
        map.insert("thread".into(), json!(run.thread));
    }
    Some(AppError::new(code_of(&e.code), e.message.clone()).with_details(details))
}

/// Runs one turn of `agent` on `input`. A run that started is stored and
/// returned even when it failed (status `failed`, `error` set: an LLM
/// error, `agent_budget_exhausted`, `agent_step_limit`…) or paused for an
/// approval (`waiting_approval`, `approval` set); `Err` only when nothing
/// ran (the agent is switched off or has no bot, the message is empty).
pub async fn run_turn(
    state: &AppState,
    tenant: &Tenant,
    agent: &Agent,
    input: AgentInput,
    sink: &mut dyn StepSink,
) -> AppResult<AgentRun> {
    if !agent.is_active {
        return Err(AppError::new(ErrorCode::AgentDisabled, format!("the agent `{}` is switched off", agent.name)));
    }
    let bot = agent.bot_id.ok_or_else(|| AppError::new(ErrorCode::AgentNotFound, "the agent belongs to no bot"))?;
    let message = input.message.trim().to_owned();
    if message.is_empty() || message.chars().count() > MAX_INPUT_CHARS {
        return Err(AppError::validation("message", format!("must be 1–{MAX_INPUT_CHARS} characters")));
    }
    if input.thread.is_empty() || input.thread.chars().count() > 200 {
        return Err(AppError::validation("thread", "must be 1–200 characters"));
    }
    let (t, agent_id, thread, source) = (tenant.clone(), agent.id, input.thread.clone(), input.source);
    let (conversation_id, text) = (input.conversation_id, message.clone());
    let (id, history) = state
        .runtime
        .write_grouped(move |tx| {
            let history = store::thread_history(tx, &t, agent_id, &thread, HISTORY_TURNS)?;
            let id = store::insert_run(
                tx,
                &t,
                &NewRun {
                    agent: agent_id,
                    bot: Some(bot),
                    conversation_id,
                    thread: &thread,
                    source: source.as_str(),
                    input: &text,
                },
            )?;
            Ok((id, history))
        })
        .await?;
    let mut messages = Vec::with_capacity(history.len() * 2 + 2);
    messages.push(Message::new("system", agent.instructions.clone()));
    for (user, reply) in history {
        messages.push(Message::new("user", user));
        messages.push(Message::new("assistant", reply));
    }
    messages.push(Message::new("user", message.clone()));
    let mut run = Run {
        state,
        tenant,
        agent,
        bot,
        id,
        thread: input.thread,
        input: message,
        conversation_id: input.conversation_id,
        source: input.source,
        execution_id: input.execution_id,
        task_id: input.task_id,
        messages,
        tool_defs: tool_defs(state, tenant, agent).await?,
        steps: Vec::new(),
        model_calls: 0,
        total_tokens: 0,
        cost_micros: 0,
        actions: Vec::new(),
        created_at: crate::db::now(),
        sink,
    };
    run.go(None).await
}

/// Approves or rejects a tool call waiting for a human and continues its
/// run: an approved tool runs, a rejected one tells the model so; the loop
/// then goes on to the reply (or the next approval).
pub async fn decide(
    state: &AppState,
    tenant: &Tenant,
    approval: AgentApprovalId,
    decision: Decision,
    note: Option<String>,
    sink: &mut dyn StepSink,
) -> AppResult<AgentRun> {
    if note.as_ref().is_some_and(|n| n.chars().count() > 1000) {
        return Err(AppError::validation("note", "must be at most 1000 characters"));
    }
    let t = tenant.clone();
    let status = match decision {
        Decision::Approve => "approved",
        Decision::Reject => "rejected",
    };
    let note2 = note.clone();
    let (found, row) = state
        .db
        .write(move |tx| {
            let found = store::find_approval(tx, &t, approval)?
                .ok_or_else(|| AppError::new(ErrorCode::AgentApprovalNotFound, "no such tool-call approval"))?;
            if found.status != "pending" {
                return Err(AppError::new(
                    ErrorCode::AgentApprovalDecided,
                    format!("the tool call was already {}", found.status),
                )
                .with_details(json!({ "status": found.status })));
            }
            store::decide_approval(tx, &t, approval, status, note2.as_deref())?;
            store::decide_step(tx, &t, found.run_id, &found.tool_call_id, status)?;
            let row = store::find_run(tx, &t, found.run_id)?
                .ok_or_else(|| AppError::new(ErrorCode::AgentRunNotFound, "no such agent run"))?;
            Ok((found, row))
        })
        .await?;
    let agent = super::service::get(state, tenant, found.agent_id).await?;
    let bot = agent.bot_id.ok_or_else(|| AppError::new(ErrorCode::AgentNotFound, "the agent belongs to no bot"))?;
    let messages: Vec<Message> = serde_json::from_str(&row.messages).map_err(AppError::internal)?;
    let t = tenant.clone();
    let steps = state.db.read(move |c| Ok(store::steps(c, &t, row.id)?)).await?;
    let source = match row.source.as_str() {
        "flow" => RunSource::Flow,
        "workflow" => RunSource::Workflow,
        "task" => RunSource::Task,
        "api" => RunSource::Api,
        _ => RunSource::Test,
    };
    let model_calls = i64::try_from(steps.iter().filter(|s| s.kind == Some(StepKind::ModelCall)).count()).unwrap_or(0);
    let mut run = Run {
        state,
        tenant,
        agent: &agent,
        bot,
        id: row.id,
        thread: row.thread,
        input: row.input,
        conversation_id: row.conversation_id,
        source,
        execution_id: None,
        task_id: None,
        messages,
        tool_defs: tool_defs(state, tenant, &agent).await?,
        steps,
        model_calls,
        total_tokens: row.total_tokens,
        cost_micros: row.cost_micros,
        actions: Vec::new(),
        created_at: row.created_at,
        sink,
    };
    run.go(Some((found.tool_call_id, decision, note))).await
}

/// The functions of an agent: its tools in priority order (their
/// descriptions and argument schemas), then `knowledge_search` when it has
/// knowledge bases.
pub async fn tool_defs(state: &AppState, tenant: &Tenant, agent: &Agent) -> AppResult<Vec<Tool>> {
    let mut defs = Vec::with_capacity(agent.tools.len() + 1);
    for t in &agent.tools {
        let tool = crate::tools::service::get(state, tenant.clone(), t.tool_id).await?;
        defs.push(Tool::function(t.function_name.clone(), tool.description.clone(), tool.input_schema.clone()));
    }
    if !agent.knowledge_base_ids.is_empty() {
        defs.push(Tool::function(
            KNOWLEDGE_FUNCTION,
            Some("Searches the agent's knowledge bases; returns passages with citations.".to_owned()),
            json!({ "type": "object", "properties": { "query": { "type": "string", "description": "What to look up" } },
                    "required": ["query"] }),
        ));
    }
    Ok(defs)
}

/// An `agent` node of a flow: the agent (of the conversation's bot) answers
/// the message in the thread of the conversation. A tool call waiting for
/// approval, or a `flow_action` handoff, answers `handoff`.
pub async fn flow_turn(
    state: &AppState,
    tenant: &Tenant,
    bot: BotId,
    call: crate::flows::engine::AgentCall,
    config: Option<&crate::experiments::model::AgentVariant>,
) -> Result<crate::flows::engine::AgentAnswer, String> {
    let describe = |e: AppError| format!("{}: {}", e.code().as_str(), e.message());
    let mut agent = super::service::get(state, tenant, AgentId(call.agent_id)).await.map_err(describe)?;
    if agent.bot_id != Some(bot) {
        return Err(format!("agent {} is not an agent of this bot", call.agent_id));
    }
    // An A/B experiment's variant of this agent: its model, prompt and tools.
    if let Some(c) = config {
        if let Some(m) = &c.model {
            agent.model = Some(m.clone());
        }
        if let Some(p) = &c.instructions {
            agent.instructions.clone_from(p);
        }
        if let Some(t) = c.temperature {
            agent.temperature = Some(t);
        }
        if let Some(ids) = &c.tool_ids {
            agent.tools.retain(|t| ids.contains(&t.tool_id.0));
        }
    }
    // Replays and probes run without a stored conversation.
    let (thread, conversation_id) = if call.conversation_id > 0 {
        (format!("conversation:{}", call.conversation_id), Some(call.conversation_id))
    } else {
        (format!("flow:{}", crate::crypto::random_token(12)), None)
    };
    let input = AgentInput {
        message: call.message,
        thread,
        conversation_id,
        source: RunSource::Flow,
        execution_id: None,
        task_id: None,
    };
    let run = run_turn(state, tenant, &agent, input, &mut NoSteps).await.map_err(describe)?;
    match run.status {
        RunStatus::Completed => {
            let handoff =
                run.actions.iter().find(|a| a["action"] == "handoff").map(|a| {
                    a["reason"].as_str().filter(|r| !r.is_empty()).unwrap_or("the agent handed off").to_owned()
                });
            Ok(crate::flows::engine::AgentAnswer { reply: run.reply, handoff })
        }
        RunStatus::WaitingApproval => {
            let tool = run.approval.as_ref().map_or_else(String::new, |a| a.tool_name.clone());
            Ok(crate::flows::engine::AgentAnswer {
                reply: None,
                handoff: Some(format!("the agent waits for a human to approve `{tool}`")),
            })
        }
        RunStatus::Failed | RunStatus::Running => {
            Err(run.error.map_or_else(|| "the agent failed".to_owned(), |e| format!("{}: {}", e.code, e.message)))
        }
    }
}

/// A `tool` node of a flow: runs a tool of the organization (no model).
pub async fn flow_tool(
    state: &AppState,
    tenant: &Tenant,
    bot: BotId,
    call: crate::flows::engine::ToolNodeCall,
) -> Result<Value, (String, String)> {
    let fail = |e: AppError| (e.code().as_str().to_owned(), e.message().to_owned());
    let tool = crate::tools::service::get(state, tenant.clone(), crate::tools::model::ToolId(call.tool_id))
        .await
        .map_err(fail)?;
    let mut ctx = ExecContext::new(ExecutionSource::Flow);
    ctx.bot_id = Some(bot);
    let outcome = crate::tools::execute(state, tenant, &tool, &call.arguments, &ctx).await.map_err(fail)?;
    match outcome.status {
        ExecutionStatus::Ok => Ok(outcome.result.unwrap_or(Value::Null)),
        ExecutionStatus::Error | ExecutionStatus::Timeout => Err(outcome.error.map_or_else(
            || (outcome.status.as_str().to_owned(), "the tool failed".to_owned()),
            |f| (f.code, f.message),
        )),
    }
}

/// A stored run with its steps and pending approval.
pub async fn load(state: &AppState, tenant: &Tenant, id: AgentRunId) -> AppResult<AgentRun> {
    let t = tenant.clone();
    state
        .db
        .read(move |c| {
            let row = store::find_run(c, &t, id)?
                .ok_or_else(|| AppError::new(ErrorCode::AgentRunNotFound, "no such agent run"))?;
            let steps = store::steps(c, &t, id)?;
            let approval = store::run_approval(c, &t, id)?;
            let error = row.error_code.as_ref().map(|code| RunError {
                code: code.clone(),
                message: row.error.clone().unwrap_or_default(),
                status: code_of(code).status().as_u16(),
                details: None,
            });
            Ok(AgentRun {
                id,
                agent_id: row.agent_id,
                thread: row.thread,
                conversation_id: row.conversation_id,
                status: RunStatus::parse(&row.status),
                input: row.input,
                reply: row.reply,
                steps,
                total_tokens: row.total_tokens,
                cost_micros: row.cost_micros,
                error,
                approval,
                actions: Vec::new(),
                created_at: row.created_at,
            })
        })
        .await
}

impl Run<'_> {
    /// The loop; `decided` continues a run paused for an approval.
    async fn go(&mut self, decided: Option<(String, Decision, Option<String>)>) -> AppResult<AgentRun> {
        if let Some(paused) = self.pending_calls(decided).await? {
            return Ok(paused);
        }
        loop {
            if self.model_calls >= self.agent.max_steps {
                let e = AppError::new(
                    ErrorCode::AgentStepLimit,
                    format!("the agent made {} model calls without answering", self.model_calls),
                )
                .with_details(json!({ "field": "max_steps", "max_steps": self.agent.max_steps }));
                return self.fail(&e).await;
            }
            if let Err(e) = self.check_budget().await {
                return self.fail(&e).await;
            }
            self.model_calls += 1;
            let started = Instant::now();
            let overrides = ModelOverrides {
                provider_id: self.agent.provider_id,
                model: self.agent.model.clone(),
                temperature: self.agent.temperature,
                max_tokens: self.agent.max_tokens,
            };
            let purpose = if self.source == RunSource::Workflow { Purpose::Workflow } else { Purpose::Agent };
            // The call's usage is stored with the step it produced (one write).
            let (called, call_row) = match crate::llm::ai::service::complete_unrecorded(
                self.state,
                self.tenant,
                self.bot,
                purpose,
                &overrides,
                self.messages.clone(),
                self.tools(),
                None,
            )
            .await
            {
                Ok((result, row)) => (result, Some(row)),
                Err(e) => (Err(e), None),
            };
            let (completion, usage) = match called {
                Ok(c) => c,
                Err(e) => {
                    let step = AgentStep {
                        kind: Some(StepKind::ModelCall),
                        status: "error".into(),
                        error_code: Some(e.code().as_str().to_owned()),
                        error: Some(e.message().to_owned()),
                        model: self.agent.model.clone(),
                        latency_ms: ms(started),
                        ..AgentStep::default()
                    };
                    let error = RunError {
                        code: e.code().as_str().to_owned(),
                        message: e.message().to_owned(),
                        status: e.code().status().as_u16(),
                        details: e.details().cloned(),
                    };
                    return self.finish_after(Some((step, call_row)), RunStatus::Failed, None, Some(error)).await;
                }
            };
            let tokens = i64::try_from(usage.total_tokens).unwrap_or(i64::MAX);
            let cost = i64::try_from(usage.cost_micros).unwrap_or(i64::MAX);
            self.total_tokens = self.total_tokens.saturating_add(tokens);
            self.cost_micros = self.cost_micros.saturating_add(cost);
            let calls: Vec<Value> = completion
                .tool_calls
                .iter()
                .map(|c| json!({ "id": c.id, "name": c.function.name, "arguments": c.function.arguments }))
                .collect();
            let step = AgentStep {
                kind: Some(StepKind::ModelCall),
                status: "ok".into(),
                result: Some(json!({ "text": completion.text, "tool_calls": calls, "attempts": usage.attempts,
                                     "fell_back": usage.fell_back })),
                provider_id: Some(usage.provider_id),
                model: Some(usage.model.clone()),
                prompt_tokens: i64::try_from(usage.prompt_tokens).unwrap_or(i64::MAX),
                completion_tokens: i64::try_from(usage.completion_tokens).unwrap_or(i64::MAX),
                cost_micros: cost,
                latency_ms: i64::try_from(usage.latency_ms).unwrap_or(i64::MAX),
                ..AgentStep::default()
            };
            if completion.tool_calls.is_empty() {
                self.messages.push(Message::new("assistant", completion.text.clone()));
                return self
                    .finish_after(Some((step, call_row)), RunStatus::Completed, Some(completion.text), None)
                    .await;
            }
            self.record_with(step, call_row).await?;
            let text = (!completion.text.is_empty()).then(|| completion.text.clone());
            self.messages.push(Message::assistant_tool_calls(text, completion.tool_calls.clone()));
            if let Some(paused) = self.pending_calls(None).await? {
                return Ok(paused);
            }
        }
    }

    /// The tool functions offered to the model, in priority order.
    fn tools(&self) -> Vec<Tool> {
        self.tool_defs.clone()
    }

    /// Runs the tool calls of the last model answer that have no result yet,
    /// in order; pauses at one that needs approval (unless `decided` says
    /// what a human decided for it).
    async fn pending_calls(
        &mut self,
        decided: Option<(String, Decision, Option<String>)>,
    ) -> AppResult<Option<AgentRun>> {
        let Some(last) = self.messages.iter().rposition(|m| m.role == "assistant" && !m.tool_calls.is_empty()) else {
            return Ok(None);
        };
        let answered: Vec<String> = self.messages[last + 1..].iter().filter_map(|m| m.tool_call_id.clone()).collect();
        let pending: Vec<ToolCall> =
            self.messages[last].tool_calls.iter().filter(|c| !answered.contains(&c.id)).cloned().collect();
        for call in pending {
            let decision = decided.as_ref().filter(|(id, _, _)| *id == call.id).map(|(_, d, n)| (*d, n.clone()));
            if let Some(paused) = self.call_tool(&call, decision).await? {
                return Ok(Some(paused));
            }
        }
        Ok(None)
    }

    async fn call_tool(
        &mut self,
        call: &ToolCall,
        decision: Option<(Decision, Option<String>)>,
    ) -> AppResult<Option<AgentRun>> {
        let started = Instant::now();
        let name = call.function.name.as_str();
        let raw = call.function.arguments.trim();
        let parsed: Result<Value, String> =
            if raw.is_empty() { Ok(json!({})) } else { serde_json::from_str::<Value>(raw).map_err(|e| e.to_string()) };
        let mut step = AgentStep {
            kind: Some(StepKind::ToolCall),
            tool_name: Some(name.to_owned()),
            tool_call_id: Some(call.id.clone()),
            arguments: Some(parsed.clone().unwrap_or_else(|_| Value::String(call.function.arguments.clone()))),
            ..AgentStep::default()
        };
        let known = self.agent.tools.iter().find(|t| t.function_name == name).cloned();
        let is_knowledge = name == KNOWLEDGE_FUNCTION && !self.agent.knowledge_base_ids.is_empty();
        let outcome: Result<Value, (String, String)> = match (&parsed, known, is_knowledge) {
            (_, None, false) => {
                let names: Vec<&str> = self.agent.tools.iter().map(|t| t.function_name.as_str()).collect();
                Err(("unknown_tool".into(), format!("there is no tool `{name}`; the tools are: {}", names.join(", "))))
            }
            (Err(e), _, _) => Err(("malformed_arguments".into(), format!("the arguments are not valid JSON: {e}"))),
            (Ok(args), None, true) => self.knowledge(args).await,
            (Ok(args), Some(tool), _) => {
                step.tool_id = Some(tool.tool_id);
                if tool.requires_approval {
                    match decision {
                        None => return self.pause(call, &tool, args).await.map(Some),
                        Some((Decision::Reject, note)) => Err((
                            "rejected".into(),
                            match note {
                                Some(n) => format!("a human rejected this tool call: {n}"),
                                None => "a human rejected this tool call".to_owned(),
                            },
                        )),
                        Some((Decision::Approve, _)) => self.execute(tool.tool_id, args, &call.id).await,
                    }
                } else {
                    self.execute(tool.tool_id, args, &call.id).await
                }
            }
        };
        step.latency_ms = ms(started);
        let content = match outcome {
            Ok(result) => {
                step.status = "ok".into();
                let text = result.to_string();
                step.result = Some(result);
                text
            }
            Err((code, message)) => {
                step.status = if code == "timeout" { "timeout".into() } else { "error".into() };
                let body = json!({ "error": { "code": code, "message": message } });
                step.error_code = Some(code);
                step.error = Some(message);
                body.to_string()
            }
        };
        self.messages.push(Message::tool_result(call.id.clone(), content));
        self.record(step).await?;
        Ok(None)
    }

    /// Runs a tool through the one executor.
    async fn execute(
        &mut self,
        tool: crate::tools::model::ToolId,
        args: &Value,
        call_id: &str,
    ) -> Result<Value, (String, String)> {
        let fail = |e: AppError| (e.code().as_str().to_owned(), e.message().to_owned());
        let tool = crate::tools::service::get(self.state, self.tenant.clone(), tool).await.map_err(fail)?;
        let source = match self.source {
            RunSource::Workflow => ExecutionSource::Workflow,
            RunSource::Task => ExecutionSource::Task,
            RunSource::Flow => ExecutionSource::Flow,
            RunSource::Test | RunSource::Api => ExecutionSource::Agent,
        };
        let ctx = ExecContext {
            source,
            bot_id: Some(self.bot),
            agent_id: Some(self.agent.id.0),
            execution_id: self.execution_id,
            task_id: self.task_id,
            idempotency_key: Some(format!("agentrun_{}_{call_id}", self.id)),
        };
        match crate::tools::execute(self.state, self.tenant, &tool, args, &ctx).await {
            Err(e) => {
                let issues = e.details().and_then(|d| d.get("issues")).cloned();
                let mut message = e.message().to_owned();
                if let Some(i) = issues {
                    message = format!("{message}: {i}");
                }
                Err((e.code().as_str().to_owned(), message))
            }
            Ok(outcome) => match outcome.status {
                ExecutionStatus::Ok => {
                    let result = outcome.result.unwrap_or(Value::Null);
                    if tool.tool_type == "flow_action" {
                        self.actions.push(result.clone());
                    }
                    Ok(result)
                }
                ExecutionStatus::Error | ExecutionStatus::Timeout => {
                    let f = outcome.error.unwrap_or(crate::tools::model::ToolFailure {
                        code: outcome.status.as_str().to_owned(),
                        message: "the tool failed".to_owned(),
                    });
                    Err((f.code, f.message))
                }
            },
        }
    }

    /// The `knowledge_search` function: the agent's knowledge bases, with citations.
    async fn knowledge(&self, args: &Value) -> Result<Value, (String, String)> {
        let Some(query) = args.get("query").and_then(Value::as_str).filter(|q| !q.trim().is_empty()) else {
            return Err(("tool_arguments_invalid".into(), "`query` must be a non-empty string".into()));
        };
        let fail = |e: AppError| (e.code().as_str().to_owned(), e.message().to_owned());
        let opts = crate::knowledge::search::SearchOptions::from_request(Some(5), None, None).map_err(fail)?;
        let response = crate::knowledge::service::search_many(
            self.state,
            self.tenant,
            &self.agent.knowledge_base_ids,
            query,
            &opts,
        )
        .await
        .map_err(fail)?;
        let results: Vec<Value> = response
            .results
            .into_iter()
            .map(|r| {
                json!({
                    "content": r.content,
                    "score": r.score,
                    "citation": { "knowledge_base_id": r.knowledge_base_id, "document_id": r.document_id,
                                  "document_name": r.document_name, "chunk_id": r.chunk_id, "source_url": r.source_url }
                })
            })
            .collect();
        Ok(json!({ "query": query, "results": results }))
    }

    /// Stops the turn at a tool that needs a human: the approval row, a
    /// waiting step, and the run saved to resume from.
    async fn pause(&mut self, call: &ToolCall, tool: &super::model::AgentTool, args: &Value) -> AppResult<AgentRun> {
        let order = self.next_order();
        let step = AgentStep {
            order,
            kind: Some(StepKind::Approval),
            status: "waiting".into(),
            tool_id: Some(tool.tool_id),
            tool_name: Some(tool.function_name.clone()),
            tool_call_id: Some(call.id.clone()),
            arguments: Some(args.clone()),
            ..AgentStep::default()
        };
        let (t, run, agent, bot, conv) = (self.tenant.clone(), self.id, self.agent.id, self.bot, self.conversation_id);
        let (tool_id, call_id, arguments) = (tool.tool_id, call.id.clone(), args.to_string());
        let s2 = step.clone();
        self.state
            .db
            .write(move |tx| {
                store::insert_step(tx, &t, run, &s2)?;
                store::insert_approval(
                    tx,
                    &t,
                    &NewApproval {
                        run,
                        agent,
                        bot: Some(bot),
                        conversation_id: conv,
                        tool: tool_id,
                        tool_call_id: &call_id,
                        arguments: &arguments,
                    },
                )?;
                Ok(())
            })
            .await?;
        self.sink.step(&step);
        self.steps.push(step);
        self.finish(RunStatus::WaitingApproval, None, None).await
    }

    fn next_order(&self) -> i64 {
        self.steps.last().map_or(1, |s| s.order + 1)
    }

    /// Stores a step and reports it.
    async fn record(&mut self, step: AgentStep) -> AppResult<()> {
        self.record_with(step, None).await
    }

    /// Stores a step, with the usage of the model call that made it, and reports it.
    async fn record_with(&mut self, mut step: AgentStep, call: Option<UnrecordedCall>) -> AppResult<()> {
        step.order = self.next_order();
        step.created_at = Some(crate::db::now());
        let (t, run, s2) = (self.tenant.clone(), self.id, step.clone());
        self.state
            .runtime
            .write_grouped(move |tx| {
                store::insert_step(tx, &t, run, &s2)?;
                if let Some(call) = &call {
                    crate::llm::ai::service::store_call(tx, &t, call)?;
                }
                Ok(())
            })
            .await?;
        self.sink.step(&step);
        self.steps.push(step);
        Ok(())
    }

    /// Refuses the next model call when the thread used its budget.
    async fn check_budget(&self) -> AppResult<()> {
        if self.agent.conversation_token_budget.is_none() && self.agent.conversation_cost_budget_micros.is_none() {
            return Ok(());
        }
        let (t, agent, thread, run): (Tenant, AgentId, String, AgentRunId) =
            (self.tenant.clone(), self.agent.id, self.thread.clone(), self.id);
        let (tokens, cost) = self.state.db.read(move |c| Ok(store::thread_usage(c, &t, agent, &thread, run)?)).await?;
        let (tokens, cost) = (tokens + self.total_tokens, cost + self.cost_micros);
        for (field, budget, used) in [
            ("conversation_token_budget", self.agent.conversation_token_budget, tokens),
            ("conversation_cost_budget_micros", self.agent.conversation_cost_budget_micros, cost),
        ] {
            if let Some(b) = budget
                && used >= b
            {
                return Err(AppError::new(
                    ErrorCode::AgentBudgetExhausted,
                    format!("this conversation used {used} of the agent's {b} ({field})"),
                )
                .with_details(json!({ "field": field, "budget": b, "used": used })));
            }
        }
        Ok(())
    }

    async fn fail(&mut self, e: &AppError) -> AppResult<AgentRun> {
        let error = RunError {
            code: e.code().as_str().to_owned(),
            message: e.message().to_owned(),
            status: e.code().status().as_u16(),
            details: e.details().cloned(),
        };
        self.finish(RunStatus::Failed, None, Some(error)).await
    }

    async fn finish(
        &mut self,
        status: RunStatus,
        reply: Option<String>,
        error: Option<RunError>,
    ) -> AppResult<AgentRun> {
        self.finish_after(None, status, reply, error).await
    }

    /// Ends the run; `last` is its last step (and the usage of the model
    /// call that made it), stored in the same write.
    async fn finish_after(
        &mut self,
        last: Option<(AgentStep, Option<UnrecordedCall>)>,
        status: RunStatus,
        reply: Option<String>,
        error: Option<RunError>,
    ) -> AppResult<AgentRun> {
        let messages = serde_json::to_string(&self.messages).map_err(AppError::internal)?;
        let (t, id) = (self.tenant.clone(), self.id);
        let last = last.map(|(mut step, call)| {
            step.order = self.next_order();
            step.created_at = Some(crate::db::now());
            (step, call)
        });
        let steps = i64::try_from(self.steps.len() + usize::from(last.is_some())).unwrap_or(i64::MAX);
        let stored = last.as_ref().map(|(step, call)| (step.clone(), call.clone()));
        let (tokens, cost) = (self.total_tokens, self.cost_micros);
        let (reply2, code, message) =
            (reply.clone(), error.as_ref().map(|e| e.code.clone()), error.as_ref().map(|e| e.message.clone()));
        let approval = self
            .state
            .runtime
            .write_grouped(move |tx| {
                if let Some((step, call)) = &stored {
                    store::insert_step(tx, &t, id, step)?;
                    if let Some(call) = call {
                        crate::llm::ai::service::store_call(tx, &t, call)?;
                    }
                }
                store::update_run(
                    tx,
                    &t,
                    id,
                    &RunUpdate {
                        status: status.as_str(),
                        reply: reply2.as_deref(),
                        messages: &messages,
                        steps,
                        total_tokens: tokens,
                        cost_micros: cost,
                        error_code: code.as_deref(),
                        error: message.as_deref(),
                    },
                )?;
                Ok(store::run_approval(tx, &t, id)?)
            })
            .await?;
        if let Some((step, _)) = last {
            self.sink.step(&step);
            self.steps.push(step);
        }
        Ok(AgentRun {
            id: self.id,
            agent_id: self.agent.id,
            thread: self.thread.clone(),
            conversation_id: self.conversation_id,
            status,
            input: self.input.clone(),
            reply,
            steps: self.steps.clone(),
            total_tokens: self.total_tokens,
            cost_micros: self.cost_micros,
            error,
            approval: if status == RunStatus::WaitingApproval { approval } else { None },
            actions: std::mem::take(&mut self.actions),
            created_at: self.created_at.clone(),
        })
    }
}

/// An approval as the inbox lists it.
pub type Approval = AgentApproval;

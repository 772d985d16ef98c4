//! Durable execution of a workflow run.
//!
//! A run is a job (`workflow.run`). Its state is in the database only: one
//! `agent_execution_steps` row per activation of a step, `pending` when a
//! predecessor finished, `running` once started, then `completed`/`failed`.
//! The runner loads that state, starts every runnable activation (parallel
//! branches run at once), and records each step's end in one transaction
//! with the activation of its successors and the messages passed to them.
//! A process killed mid-run leaves its job `running`; at the next start the
//! job is handed back and the runner continues: completed steps are not run
//! again, steps that were running start again with the same idempotency key
//! (`wf<execution>-<step>-<iteration>`, sent by HTTP tools as
//! `Idempotency-Key`), so the receiver can drop the duplicate.
//!
//! Cancellation and the overall deadline are seen within [`POLL`]; steps in
//! flight are then dropped (their HTTP requests aborted). An approval step
//! sets the run's `waiting_step` and the job ends; the decision
//! (`POST …/approve`) completes the step and enqueues the job again. A
//! `workflow.deadline` job fails a waiting run at its deadline.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use super::graph::{self, Graph, Kind, Step};
use super::model::{Execution, ExecutionId, ExecutionStep};
use super::{agent_call, store};
use crate::agents::model::{Agent, AgentId};
use crate::app::AppState;
use crate::db::{format_timestamp, now};
use crate::error::{AppError, AppResult};
use crate::http::Tenant;
use crate::ids::{BotId, OrgId};
use crate::jobs::{Enqueue, JobContext, JobError, JobHandler, Queue};
use crate::tools::model::{ExecutionSource, ExecutionStatus};
use crate::tools::{ExecContext, service as tools};

/// The job kind that runs (or continues) a workflow execution.
pub const RUN_JOB: &str = "workflow.run";
/// The job kind that fails a run still unfinished at its deadline.
pub const DEADLINE_JOB: &str = "workflow.deadline";
/// How often the runner looks for a cancellation or a passed deadline.
pub const POLL: Duration = Duration::from_millis(100);
/// Most step activations in one run (loops end here at the latest).
pub const MAX_ACTIVATIONS: usize = 1000;

/// The job that runs a workflow execution.
pub struct RunJob;

impl JobHandler for RunJob {
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Result<Value, JobError>> {
        Box::pin(async move {
            let (tenant, id) = job_target(&ctx)?;
            let ended = run(&ctx.state, &tenant, id, &ctx.shutdown).await?;
            Ok(json!({ "execution_id": id, "state": ended }))
        })
    }
}

/// The job that fails a run at its deadline (one waiting for an approval
/// has no runner watching the clock).
pub struct DeadlineJob;

impl JobHandler for DeadlineJob {
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Result<Value, JobError>> {
        Box::pin(async move {
            let (tenant, id) = job_target(&ctx)?;
            let t = tenant.clone();
            let exec = ctx.state.db.read(move |c| Ok(store::find_execution(c, &t, id)?)).await?;
            let Some(exec) = exec else { return Ok(json!({ "gone": true })) };
            if exec.is_finished() || exec.deadline_at.as_deref().is_none_or(|d| d > now().as_str()) {
                return Ok(json!({ "timed_out": false }));
            }
            fail(&ctx.state, &tenant, id, "workflow_timeout", "the workflow did not finish within its timeout").await?;
            Ok(json!({ "timed_out": true }))
        })
    }
}

fn job_target(ctx: &JobContext) -> Result<(Tenant, ExecutionId), JobError> {
    let id = ctx
        .job
        .payload
        .get("execution_id")
        .and_then(Value::as_i64)
        .ok_or_else(|| JobError::Permanent("payload without execution_id".into()))?;
    let org: OrgId = ctx.job.org_id.ok_or_else(|| JobError::Permanent("job without organization".into()))?;
    Ok((Tenant::system(org, "workflow execution"), ExecutionId(id)))
}

/// Enqueues the runner of `id` inside the caller's transaction.
pub fn enqueue_run_in(conn: &rusqlite::Connection, org: OrgId, id: ExecutionId) -> AppResult<()> {
    let mut job = Enqueue::new(Some(org), RUN_JOB, json!({ "execution_id": id }));
    job.max_attempts = 20;
    Queue::enqueue_in(conn, &job)?;
    Ok(())
}

/// Enqueues the deadline watch of `id` (once per run).
pub fn enqueue_deadline_in(
    conn: &rusqlite::Connection,
    org: OrgId,
    id: ExecutionId,
    deadline_at: &str,
) -> AppResult<()> {
    let delay = chrono::DateTime::parse_from_rfc3339(deadline_at)
        .ok()
        .and_then(|d| (d.with_timezone(&chrono::Utc) - chrono::Utc::now()).to_std().ok())
        .unwrap_or_default();
    let mut job = Enqueue::new(Some(org), DEADLINE_JOB, json!({ "execution_id": id }));
    job.delay = delay;
    job.max_attempts = 10;
    job.idempotency_key = Some(format!("workflow-deadline:{id}"));
    Queue::enqueue_in(conn, &job)?;
    Ok(())
}

/// Ends a run as failed (no-op when it already ended).
pub async fn fail(state: &AppState, tenant: &Tenant, id: ExecutionId, code: &str, message: &str) -> AppResult<bool> {
    let (t, code, message) = (tenant.clone(), code.to_owned(), message.to_owned());
    state
        .db
        .write(move |tx| Ok(store::finish_execution(tx, &t, id, "failed", "{}", Some((&code, &message)), &now())?))
        .await
}

/// How a step ended.
#[derive(Debug)]
pub struct StepResult {
    pub ok: bool,
    pub output: Value,
    /// Stable code and message of a failure.
    pub error: Option<(String, String)>,
    /// Successors to activate.
    pub next: Vec<String>,
    pub message_type: &'static str,
    pub reasoning: Option<String>,
    pub tokens: i64,
    pub cost_micros: i64,
    pub agent_id: Option<i64>,
}

impl StepResult {
    fn done(output: Value, next: Vec<String>) -> StepResult {
        StepResult {
            ok: true,
            output,
            error: None,
            next,
            message_type: "data",
            reasoning: None,
            tokens: 0,
            cost_micros: 0,
            agent_id: None,
        }
    }

    fn failed(code: &str, message: impl Into<String>) -> StepResult {
        StepResult {
            ok: false,
            output: json!({}),
            error: Some((code.to_owned(), message.into())),
            next: Vec::new(),
            message_type: "error",
            reasoning: None,
            tokens: 0,
            cost_micros: 0,
            agent_id: None,
        }
    }
}

/// What the runner needs to run one activation.
struct Activation {
    row: i64,
    step: Step,
    iteration: i64,
    scope: Map<String, Value>,
    execution: ExecutionId,
    bot: Option<BotId>,
    /// A join's predecessors (whose outputs it gathers).
    preds: Vec<String>,
    /// An agent or router step's agent, when it could be read (else the
    /// step reads it and fails with the reason).
    agent: Option<Arc<Agent>>,
}

/// Agent `id` from the run's cache, read on first use.
async fn cached_agent(
    state: &AppState,
    tenant: &Tenant,
    agents: &mut HashMap<i64, Arc<Agent>>,
    id: i64,
) -> Option<Arc<Agent>> {
    if let Some(a) = agents.get(&id) {
        return Some(a.clone());
    }
    let agent = Arc::new(crate::agents::service::get(state, tenant, AgentId(id)).await.ok()?);
    agents.insert(id, agent.clone());
    Some(agent)
}

/// The outputs of the completed steps (latest activation of each), and of
/// `preds` for a join.
fn outputs(steps: &[ExecutionStep]) -> Map<String, Value> {
    let mut out = Map::new();
    for s in steps.iter().filter(|s| s.status == "completed") {
        out.insert(s.step.clone(), s.output.clone());
    }
    out
}

/// Runs (or continues) execution `id` until it ends, waits for an approval,
/// or the process stops. Returns `completed`, `failed`, `cancelled`,
/// `waiting` or `gone`.
#[allow(clippy::too_many_lines, reason = "one pass of the runner, kept together")]
pub async fn run(
    state: &AppState,
    tenant: &Tenant,
    id: ExecutionId,
    shutdown: &CancellationToken,
) -> Result<&'static str, JobError> {
    let t = tenant.clone();
    let loaded = state
        .runtime
        .write_grouped(move |tx| {
            let Some(exec) = store::find_execution(tx, &t, id)? else { return Ok(None) };
            let definition: Option<Value> = match exec.workflow_id {
                Some(w) => store::find_workflow(tx, &t, w)?.map(|w| w.definition),
                None => None,
            };
            store::mark_running(tx, &t, id, &now())?;
            Ok(Some((exec, definition)))
        })
        .await?;
    let Some((exec, definition)) = loaded else { return Ok("gone") };
    let Some(definition) = definition else {
        fail(state, tenant, id, "workflow_deleted", "the workflow was deleted").await?;
        return Ok("failed");
    };
    let graph = match Graph::parse(&definition) {
        Ok((g, _)) => g,
        Err(e) => {
            fail(state, tenant, id, "workflow_invalid", e.message()).await?;
            return Ok("failed");
        }
    };
    let input = exec.input.clone();
    let mut inflight: FuturesUnordered<BoxFuture<'static, (i64, StepResult, i64)>> = FuturesUnordered::new();
    let mut started: HashSet<i64> = HashSet::new();
    // The agents of the run's steps, read once per run.
    let mut agents: HashMap<i64, Arc<Agent>> = HashMap::new();
    // The state the last step's write left, when nothing was read since.
    let mut snapshot: Option<Snapshot> = None;
    loop {
        let (exec, steps) = if let Some(s) = snapshot.take() {
            s
        } else {
            let t = tenant.clone();
            state.db.read(move |c| Ok((store::find_execution(c, &t, id)?, store::steps(c, &t, id)?))).await?
        };
        let Some(exec) = exec else { return Ok("gone") };
        if exec.is_finished() {
            return Ok(match exec.status.as_str() {
                "completed" => "completed",
                "cancelled" => "cancelled",
                _ => "failed",
            });
        }
        if exec.deadline_at.as_deref().is_some_and(|d| d <= now().as_str()) {
            fail(state, tenant, id, "workflow_timeout", "the workflow did not finish within its timeout").await?;
            return Ok("failed");
        }
        if shutdown.is_cancelled() {
            return Err(JobError::Retry(anyhow::anyhow!("the server is stopping; the run continues after a restart")));
        }
        if steps.len() > MAX_ACTIVATIONS {
            fail(state, tenant, id, "step_limit", &format!("more than {MAX_ACTIVATIONS} steps ran")).await?;
            return Ok("failed");
        }
        let done = outputs(&steps);
        let active_other = |me: &str| {
            steps
                .iter()
                .any(|s| s.step != me && matches!(s.status.as_str(), "pending" | "running") && s.step_type != "join")
        };
        let mut waiting = exec.waiting_step.is_some();
        let mut began = false;
        for s in steps.iter().filter(|s| matches!(s.status.as_str(), "pending" | "running")) {
            if started.contains(&s.id) {
                continue;
            }
            let Some(step) = graph.step(&s.step) else {
                fail(state, tenant, id, "workflow_invalid", &format!("step `{}` is no longer in the workflow", s.step))
                    .await?;
                return Ok("failed");
            };
            match &step.kind {
                Kind::Join { .. } => {
                    let preds = graph.predecessors(&step.id);
                    let all_arrived = preds.iter().all(|p| done.contains_key(*p));
                    if !all_arrived && (active_other(&step.id) || !inflight.is_empty()) {
                        continue;
                    }
                }
                // One approval waits at a time; another waits for its turn.
                Kind::Approval { .. } if waiting => continue,
                Kind::Approval { .. } => waiting = true,
                _ => {}
            }
            started.insert(s.id);
            began = true;
            let agent = match &step.kind {
                Kind::Agent { agent_id, .. } | Kind::Router { agent_id, .. } => {
                    cached_agent(state, tenant, &mut agents, *agent_id).await
                }
                _ => None,
            };
            let activation = Activation {
                row: s.id,
                step: step.clone(),
                iteration: s.iteration,
                scope: graph::scope(&input, &done),
                execution: id,
                bot: exec.bot_id,
                preds: graph.predecessors(&step.id).into_iter().map(str::to_owned).collect(),
                agent,
            };
            if let Some(fut) = start(state, tenant, activation).await? {
                inflight.push(fut);
            }
        }
        if inflight.is_empty() {
            // Read again only when this pass wrote (started steps).
            let (exec, steps) = if began {
                let t = tenant.clone();
                state.db.read(move |c| Ok((store::find_execution(c, &t, id)?, store::steps(c, &t, id)?))).await?
            } else {
                (Some(exec), steps)
            };
            let Some(exec) = exec else { return Ok("gone") };
            if exec.is_finished() {
                continue;
            }
            if exec.waiting_step.is_some() {
                return Ok("waiting");
            }
            if steps.iter().any(|s| matches!(s.status.as_str(), "pending" | "running")) {
                // A step became runnable meanwhile (a join whose branches all ended).
                started.clear();
                continue;
            }
            let output = final_output(&graph, &steps);
            let (t, out) = (tenant.clone(), output.to_string());
            state
                .runtime
                .write_grouped(move |tx| Ok(store::finish_execution(tx, &t, id, "completed", &out, None, &now())?))
                .await?;
            return Ok("completed");
        }
        tokio::select! {
            Some((row, result, ms)) = inflight.next() => {
                started.remove(&row);
                snapshot = Some(record(state, tenant, id, &graph, row, &result, ms).await?);
            }
            () = tokio::time::sleep(POLL) => {}
            () = shutdown.cancelled() => {}
        }
    }
}

/// The run's output: the last completed `end` step's, else the last completed step's.
fn final_output(graph: &Graph, steps: &[ExecutionStep]) -> Value {
    let completed: Vec<&ExecutionStep> = steps.iter().filter(|s| s.status == "completed").collect();
    completed
        .iter()
        .rev()
        .find(|s| graph.step(&s.step).is_some_and(|g| matches!(g.kind, Kind::End { .. })))
        .or(completed.last())
        .map_or_else(|| json!({}), |s| s.output.clone())
}

/// Marks an activation running and returns its future, or handles it at once
/// (an approval step starts waiting: no future).
async fn start(
    state: &AppState,
    tenant: &Tenant,
    a: Activation,
) -> AppResult<Option<BoxFuture<'static, (i64, StepResult, i64)>>> {
    let (input, agent) = step_input(&a);
    if let Kind::Approval { .. } = a.step.kind {
        let (t, row, key, inp) = (tenant.clone(), a.row, a.step.id.clone(), input.to_string());
        let org = tenant.org_id();
        state
            .db
            .write(move |tx| {
                let n = store::start_step(tx, row, None, &inp, &now())?;
                if n > 0 {
                    store::set_waiting(tx, a.execution, Some(&key))?;
                    store::insert_message(
                        tx,
                        &t,
                        a.execution,
                        &store::NewMessage {
                            from_step: Some(&key),
                            to_step: None,
                            from_agent: None,
                            to_agent: None,
                            message_type: "request",
                            content_json: &inp,
                        },
                    )?;
                    if let Some(exec) = store::find_execution(tx, &t, a.execution)?
                        && let Some(deadline) = exec.deadline_at
                    {
                        enqueue_deadline_in(tx, org, a.execution, &deadline)?;
                    }
                }
                Ok(())
            })
            .await?;
        return Ok(None);
    }
    let (row, inp) = (a.row, input.to_string());
    state.runtime.write_grouped(move |tx| Ok(store::start_step(tx, row, agent, &inp, &now())?)).await?;
    let (state, tenant) = (state.clone(), tenant.clone());
    Ok(Some(Box::pin(async move {
        let started = Instant::now();
        let limit = Duration::from_millis(u64::try_from(a.step.timeout_ms).unwrap_or(120_000));
        let result = match tokio::time::timeout(limit, run_step(&state, &tenant, &a, input)).await {
            Ok(r) => r,
            Err(_) => StepResult::failed(
                "step_timeout",
                format!("step `{}` did not finish within {} ms", a.step.id, a.step.timeout_ms),
            ),
        };
        (a.row, result, i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX))
    })))
}

/// What a step is given (rendered), and its agent.
fn step_input(a: &Activation) -> (Value, Option<i64>) {
    match &a.step.kind {
        Kind::Agent { agent_id, input, .. } | Kind::Router { agent_id, input, .. } => {
            let text = input.render(&a.scope).unwrap_or_default();
            (json!({ "text": text }), Some(*agent_id))
        }
        Kind::Tool { tool, arguments, .. } => match graph::render_json(arguments, &a.scope) {
            Ok(args) => (json!({ "tool": tool, "arguments": args }), None),
            Err(e) => (json!({ "tool": tool, "template_error": e }), None),
        },
        Kind::Approval { message, .. } => (json!({ "message": message.render(&a.scope).unwrap_or_default() }), None),
        Kind::Join { .. } => {
            let steps = a.scope.get("steps").and_then(Value::as_object);
            let arrived: Map<String, Value> =
                a.preds.iter().filter_map(|p| Some((p.clone(), steps?.get(p)?.clone()))).collect();
            (Value::Object(arrived), None)
        }
        _ => (json!({}), None),
    }
}

/// Runs one step (not approval) and says how it ended.
#[allow(clippy::too_many_lines, reason = "one pass of the runner, kept together")]
async fn run_step(state: &AppState, tenant: &Tenant, a: &Activation, input: Value) -> StepResult {
    match &a.step.kind {
        Kind::Tool { tool, next, .. } => {
            if let Some(e) = input.get("template_error").and_then(Value::as_str) {
                return StepResult::failed("template_failed", e);
            }
            let found = match tools::find_by_name(state, tenant.clone(), a.bot, tool).await {
                Ok(Some(t)) => t,
                Ok(None) => return StepResult::failed("tool_not_found", format!("no tool named `{tool}`")),
                Err(e) => return StepResult::failed(e.code().as_str(), e.message()),
            };
            let ctx = ExecContext {
                source: ExecutionSource::Workflow,
                bot_id: a.bot,
                agent_id: None,
                execution_id: Some(a.execution.0),
                task_id: None,
                idempotency_key: Some(format!("wf{}-{}-{}", a.execution, a.step.id, a.iteration)),
            };
            let args = input.get("arguments").cloned().unwrap_or_else(|| json!({}));
            match tools::execute(state, tenant, &found, &args, &ctx).await {
                Ok(o) if o.status == ExecutionStatus::Ok => {
                    StepResult::done(o.result.unwrap_or(Value::Null), next.iter().cloned().collect())
                }
                Ok(o) => {
                    let (code, message) =
                        o.error.map_or_else(|| ("tool_failed".to_owned(), String::new()), |e| (e.code, e.message));
                    let code = if o.status == ExecutionStatus::Timeout { "step_timeout".to_owned() } else { code };
                    StepResult::failed(&code, format!("tool `{tool}`: {message}"))
                }
                Err(e) => StepResult::failed(e.code().as_str(), e.message()),
            }
        }
        Kind::Agent { agent_id, next, .. } => {
            let text = input["text"].as_str().unwrap_or_default();
            match agent_call::run(state, tenant, a.bot, *agent_id, a.agent.clone(), text, a.execution, &a.step.id).await
            {
                Ok(out) => {
                    let mut r =
                        StepResult::done(json!({ "text": out.text, "data": out.data }), next.iter().cloned().collect());
                    r.tokens = out.tokens;
                    r.cost_micros = out.cost_micros;
                    r.reasoning = out.reasoning;
                    r.agent_id = Some(*agent_id);
                    r.message_type = "response";
                    r
                }
                Err(e) => {
                    let mut r = StepResult::failed(e.code().as_str(), e.message());
                    r.agent_id = Some(*agent_id);
                    r
                }
            }
        }
        Kind::Router { agent_id, routes, default, .. } => {
            let names: Vec<&str> = routes.keys().map(String::as_str).collect();
            let prompt = format!(
                "{}\n\nAnswer with exactly one of these route names and nothing else: {}",
                input["text"].as_str().unwrap_or_default(),
                names.join(", ")
            );
            match agent_call::run(state, tenant, a.bot, *agent_id, a.agent.clone(), &prompt, a.execution, &a.step.id)
                .await
            {
                Ok(out) => {
                    let chosen = pick_route(&out.text, &names);
                    let target = chosen.and_then(|n| routes.get(n)).or(default.as_ref());
                    let mut r = match target {
                        Some(t) => StepResult::done(json!({ "route": chosen, "answer": out.text }), vec![t.clone()]),
                        None => StepResult::failed(
                            "router_no_route",
                            format!("the agent answered `{}`, which names none of: {}", out.text, names.join(", ")),
                        ),
                    };
                    r.tokens = out.tokens;
                    r.cost_micros = out.cost_micros;
                    r.agent_id = Some(*agent_id);
                    r.message_type = "handoff";
                    r
                }
                Err(e) => {
                    let mut r = StepResult::failed(e.code().as_str(), e.message());
                    r.agent_id = Some(*agent_id);
                    r
                }
            }
        }
        Kind::Condition { branches, default } => {
            for (i, (when, target)) in branches.iter().enumerate() {
                match crate::flows::expr::eval(when, &a.scope) {
                    Ok(v) if crate::flows::expr::truthy(&v) => {
                        return StepResult::done(json!({ "branch": i, "next": target }), vec![target.clone()]);
                    }
                    Ok(_) => {}
                    Err(e) => return StepResult::failed("condition_failed", format!("branch {i}: {}", e.0)),
                }
            }
            StepResult::done(json!({ "branch": "default", "next": default }), default.iter().cloned().collect())
        }
        Kind::Parallel { branches } => StepResult::done(json!({ "branches": branches }), branches.clone()),
        Kind::Join { next } => StepResult::done(input, next.iter().cloned().collect()),
        Kind::End { output } => match output.as_ref().map(|o| graph::render_json(o, &a.scope)) {
            None => StepResult::done(a.scope.get("steps").cloned().unwrap_or_else(|| json!({})), Vec::new()),
            Some(Ok(v)) => StepResult::done(v, Vec::new()),
            Some(Err(e)) => StepResult::failed("template_failed", e),
        },
        Kind::Approval { .. } => StepResult::failed("step_failed", "an approval step is decided by a person"),
    }
}

/// The route an answer names: an exact name (case and surrounding
/// punctuation ignored), else the only name the answer mentions.
#[must_use]
pub fn pick_route<'a>(answer: &str, names: &[&'a str]) -> Option<&'a str> {
    let clean = answer.trim().trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase();
    if let Some(n) = names.iter().find(|n| n.to_lowercase() == clean) {
        return Some(n);
    }
    let lower = answer.to_lowercase();
    let mentioned: Vec<&&str> = names.iter().filter(|n| lower.contains(&n.to_lowercase())).collect();
    (mentioned.len() == 1).then(|| *mentioned[0])
}

/// Records a step's end with the activation of its successors and the
/// messages to them, in one transaction; a failed step fails the run.
#[allow(clippy::too_many_lines, reason = "one pass of the runner, kept together")]
async fn record(
    state: &AppState,
    tenant: &Tenant,
    id: ExecutionId,
    graph: &Graph,
    row: i64,
    r: &StepResult,
    duration_ms: i64,
) -> AppResult<Snapshot> {
    let succ: Vec<(String, &'static str, Option<i64>)> = r
        .next
        .iter()
        .filter_map(|n| graph.step(n))
        .map(|s| {
            let agent = match s.kind {
                Kind::Agent { agent_id, .. } | Kind::Router { agent_id, .. } => Some(agent_id),
                _ => None,
            };
            (s.id.clone(), s.kind.name(), agent)
        })
        .collect();
    let output = r.output.to_string();
    let error = r.error.as_ref().map(|(c, m)| json!({ "code": c, "message": m }).to_string());
    let fail_with = r.error.clone();
    let (ok, reasoning, tokens, cost, agent, message_type) =
        (r.ok, r.reasoning.clone(), r.tokens, r.cost_micros, r.agent_id, r.message_type);
    let t = tenant.clone();
    state
        .runtime
        .write_grouped(move |tx| {
            // The run's state after this write is read in it too: the
            // runner's next pass needs no read of its own.
            'write: {
                let key: String =
                    tx.query_row("SELECT step_key FROM agent_execution_steps WHERE id = ?1", [row], |r| r.get(0))?;
                let now_s = now();
                let recorded = store::finish_step(
                    tx,
                    &t,
                    id,
                    row,
                    &store::StepEnd {
                        status: if ok { "completed" } else { "failed" },
                        output_json: &output,
                        error_json: error.as_deref(),
                        reasoning: reasoning.as_deref(),
                        tokens,
                        cost_micros: cost,
                        duration_ms,
                        now: &now_s,
                    },
                )?;
                if !recorded {
                    break 'write;
                }
                if let Some((code, message)) = fail_with {
                    store::insert_message(
                        tx,
                        &t,
                        id,
                        &store::NewMessage {
                            from_step: Some(&key),
                            to_step: None,
                            from_agent: agent,
                            to_agent: None,
                            message_type: "error",
                            content_json: &json!({ "code": code, "message": message }).to_string(),
                        },
                    )?;
                    store::finish_execution(
                        tx,
                        &t,
                        id,
                        "failed",
                        "{}",
                        Some((&code, &format!("step `{key}` failed: {message}"))),
                        &now_s,
                    )?;
                    break 'write;
                }
                for (next, kind, to_agent) in &succ {
                    store::activate(tx, &t, id, next, kind, &output)?;
                    store::insert_message(
                        tx,
                        &t,
                        id,
                        &store::NewMessage {
                            from_step: Some(&key),
                            to_step: Some(next),
                            from_agent: agent,
                            to_agent: *to_agent,
                            message_type,
                            content_json: &output,
                        },
                    )?;
                }
            }
            Ok((store::find_execution(tx, &t, id)?, store::steps(tx, &t, id)?))
        })
        .await
}

/// A run and its step activations as the runner reads them.
type Snapshot = (Option<Execution>, Vec<ExecutionStep>);

/// Records a person's decision on the approval step the run waits for, and
/// enqueues the runner again.
#[allow(clippy::too_many_lines, reason = "one pass of the runner, kept together")]
pub async fn decide(
    state: &AppState,
    tenant: &Tenant,
    id: ExecutionId,
    graph: &Graph,
    approved: bool,
    comment: Option<String>,
) -> AppResult<()> {
    let t = tenant.clone();
    let by = tenant.user_id();
    let graph = graph.clone();
    state
        .db
        .write(move |tx| {
            let exec = store::find_execution(tx, &t, id)?.ok_or_else(super::service::execution_not_found)?;
            let Some(waiting) = exec.waiting_step.clone().filter(|_| !exec.is_finished()) else {
                return Err(AppError::new(crate::error::ErrorCode::WorkflowNotWaiting, "this run is not waiting for an approval")
                    .with_details(json!({ "status": exec.status })));
            };
            let step = graph.step(&waiting).cloned();
            let (next, reject) = match step.as_ref().map(|s| &s.kind) {
                Some(Kind::Approval { next, reject, .. }) => (next.clone(), reject.clone()),
                _ => (None, None),
            };
            let row: i64 = tx.query_row(
                "SELECT id FROM agent_execution_steps WHERE execution_id = ?1 AND step_key = ?2 AND status = 'running'
                 ORDER BY iteration DESC LIMIT 1",
                rusqlite::params![id, waiting],
                |r| r.get(0),
            )?;
            let output = json!({ "approved": approved, "comment": comment, "decided_by": by }).to_string();
            let now_s = now();
            store::finish_step(
                tx,
                &t,
                id,
                row,
                &store::StepEnd {
                    status: "completed",
                    output_json: &output,
                    error_json: None,
                    reasoning: None,
                    tokens: 0,
                    cost_micros: 0,
                    duration_ms: 0,
                    now: &now_s,
                },
            )?;
            tx.execute(
                "UPDATE agent_execution_steps SET duration_ms = max(0, CAST(round((julianday(finished_at) - julianday(started_at)) * 86400000) AS INTEGER)) WHERE id = ?1",
                [row],
            )?;
            store::set_waiting(tx, id, None)?;
            store::insert_message(
                tx,
                &t,
                id,
                &store::NewMessage {
                    from_step: None,
                    to_step: Some(&waiting),
                    from_agent: None,
                    to_agent: None,
                    message_type: "response",
                    content_json: &output,
                },
            )?;
            let target = if approved { next } else { reject };
            match target.and_then(|n| graph.step(&n).cloned()) {
                Some(s) => {
                    store::activate(tx, &t, id, &s.id, s.kind.name(), &output)?;
                }
                None if !approved => {
                    store::finish_execution(
                        tx,
                        &t,
                        id,
                        "failed",
                        "{}",
                        Some(("rejected", &format!("step `{waiting}` was refused"))),
                        &now_s,
                    )?;
                    return Ok(());
                }
                None => {}
            }
            enqueue_run_in(tx, t.org_id(), id)
        })
        .await?;
    state.jobs.notify();
    Ok(())
}

/// When a run started now with `timeout_ms` must end.
#[must_use]
pub fn deadline(timeout_ms: i64) -> String {
    format_timestamp(chrono::Utc::now() + chrono::Duration::milliseconds(timeout_ms))
}

#[cfg(test)]
mod tests {
    use super::pick_route;

    #[test]
    fn a_route_is_the_name_answered_or_the_only_one_mentioned() {
        let names = ["billing", "tech"];
        assert_eq!(pick_route(" Billing.", &names), Some("billing"));
        assert_eq!(pick_route("I think this is a tech question", &names), Some("tech"));
        assert_eq!(pick_route("billing or tech?", &names), None);
        assert_eq!(pick_route("no idea", &names), None);
    }
}

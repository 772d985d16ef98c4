//! Workflow rules: validation, CRUD, starting, cancelling and approving runs.

use serde_json::{Value, json};

use super::graph::{Graph, References};
use super::model::{
    CreateWorkflowRequest, Execution, ExecutionId, ExecutionTrace, UpdateWorkflowRequest, Workflow, WorkflowId,
};
use super::{run, store};
use crate::app::AppState;
use crate::db::now;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::{Page, PageParams, Tenant};
use crate::ids::BotId;

pub(crate) fn not_found() -> AppError {
    AppError::new(ErrorCode::WorkflowNotFound, "no such workflow")
}

pub(crate) fn execution_not_found() -> AppError {
    AppError::new(ErrorCode::WorkflowExecutionNotFound, "no such workflow execution")
}

fn check_name(raw: &str) -> AppResult<String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::validation("name", "1–100 characters"));
    }
    Ok(name.to_owned())
}

fn check_description(raw: Option<&str>) -> AppResult<Option<String>> {
    let d = raw.map(str::trim).filter(|d| !d.is_empty()).map(str::to_owned);
    if d.as_ref().is_some_and(|d| d.chars().count() > 1000) {
        return Err(AppError::validation("description", "must be at most 1000 characters"));
    }
    Ok(d)
}

fn name_taken() -> AppError {
    AppError::new(ErrorCode::NameTaken, "another workflow of the bot has this name")
        .with_details(json!({ "field": "name" }))
}

/// Checks the graph and that the agents and tools it names exist for the bot.
async fn check_definition(state: &AppState, tenant: &Tenant, bot: BotId, def: &Value) -> AppResult<Graph> {
    let (graph, refs) = Graph::parse(def)?;
    let References { agents, tools } = refs;
    for (agent, field) in &agents {
        let unknown = || {
            AppError::new(ErrorCode::InvalidReference, format!("no agent {agent} for this bot"))
                .with_details(json!({ "field": field }))
        };
        match crate::agents::service::get(state, tenant, crate::agents::model::AgentId(*agent)).await {
            Ok(a) if a.bot_id.is_none_or(|b| b == bot) => {}
            Ok(_) => return Err(unknown()),
            Err(e) if e.code() == ErrorCode::AgentNotFound => return Err(unknown()),
            Err(e) => return Err(e),
        }
    }
    let t = tenant.clone();
    state
        .db
        .read(move |c| {
            for (tool, field) in &tools {
                if crate::tools::store::find_by_name(c, &t, Some(bot), tool)?.is_none() {
                    return Err(AppError::new(
                        ErrorCode::InvalidReference,
                        format!("no tool named `{tool}` for this bot"),
                    )
                    .with_details(json!({ "field": field })));
                }
            }
            Ok(())
        })
        .await?;
    Ok(graph)
}

pub async fn create(state: &AppState, tenant: Tenant, bot: BotId, req: CreateWorkflowRequest) -> AppResult<Workflow> {
    let name = check_name(&req.name)?;
    let description = check_description(req.description.as_deref())?;
    check_definition(state, &tenant, bot, &req.definition).await?;
    let definition = req.definition.to_string();
    let is_active = req.is_active.unwrap_or(true);
    state
        .db
        .write(move |tx| {
            if store::name_taken(tx, &tenant, bot, &name, None)? {
                return Err(name_taken());
            }
            let fields = store::WorkflowFields {
                name: &name,
                description: description.as_deref(),
                definition_json: &definition,
                is_active,
            };
            let id = store::insert_workflow(tx, &tenant, bot, &fields)?;
            store::find_workflow(tx, &tenant, id)?.ok_or_else(not_found)
        })
        .await
}

pub async fn get(state: &AppState, tenant: Tenant, id: WorkflowId) -> AppResult<Workflow> {
    state.db.read(move |c| store::find_workflow(c, &tenant, id)?.ok_or_else(not_found)).await
}

pub async fn list(state: &AppState, tenant: Tenant, bot: BotId, page: PageParams) -> AppResult<Page<Workflow>> {
    let after = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state.db.read(move |c| Ok(store::list_workflows(c, &tenant, bot, after, limit)?)).await?;
    Page::from_rows(rows, &page, |w| w.id.0)
}

pub async fn update(
    state: &AppState,
    tenant: Tenant,
    id: WorkflowId,
    req: UpdateWorkflowRequest,
) -> AppResult<Workflow> {
    let before = get(state, tenant.clone(), id).await?;
    let name = check_name(req.name.as_deref().unwrap_or(&before.name))?;
    let description = match &req.description {
        Some(d) => check_description(d.as_deref())?,
        None => before.description.clone(),
    };
    let definition = match req.definition {
        Some(d) => {
            check_definition(state, &tenant, before.bot_id, &d).await?;
            d
        }
        None => before.definition.clone(),
    }
    .to_string();
    let is_active = req.is_active.unwrap_or(before.is_active);
    let bot = before.bot_id;
    state
        .db
        .write(move |tx| {
            if store::name_taken(tx, &tenant, bot, &name, Some(id))? {
                return Err(name_taken());
            }
            let fields = store::WorkflowFields {
                name: &name,
                description: description.as_deref(),
                definition_json: &definition,
                is_active,
            };
            if store::update_workflow(tx, &tenant, id, &fields)? == 0 {
                return Err(not_found());
            }
            store::find_workflow(tx, &tenant, id)?.ok_or_else(not_found)
        })
        .await
}

pub async fn delete(state: &AppState, tenant: Tenant, id: WorkflowId) -> AppResult<()> {
    state
        .db
        .write(move |tx| if store::delete_workflow(tx, &tenant, id)? == 0 { Err(not_found()) } else { Ok(()) })
        .await
}

/// Starts a run: the execution row, its first step pending and the job that runs it, in one transaction.
pub async fn start(state: &AppState, tenant: Tenant, id: WorkflowId, input: Option<Value>) -> AppResult<Execution> {
    let workflow = get(state, tenant.clone(), id).await?;
    if !workflow.is_active {
        return Err(AppError::new(ErrorCode::WorkflowInactive, "this workflow is switched off"));
    }
    let input = input.unwrap_or_else(|| json!({}));
    if !input.is_object() {
        return Err(AppError::validation("input", "must be an object"));
    }
    let (graph, _) = Graph::parse(&workflow.definition)?;
    let start = graph.step(&graph.start).ok_or_else(|| AppError::validation("definition.start", "no such step"))?;
    let (start_id, start_type) = (start.id.clone(), start.kind.name());
    let deadline = run::deadline(graph.timeout_ms);
    let input = input.to_string();
    let exec = state
        .db
        .write(move |tx| {
            let new = store::NewExecution {
                workflow: id,
                bot: workflow.bot_id,
                input_json: &input,
                deadline_at: &deadline,
                start_step: &start_id,
                start_type,
            };
            let eid = store::insert_execution(tx, &tenant, &new)?;
            run::enqueue_run_in(tx, tenant.org_id(), eid)?;
            store::find_execution(tx, &tenant, eid)?.ok_or_else(execution_not_found)
        })
        .await?;
    state.jobs.notify();
    Ok(exec)
}

pub async fn list_executions(
    state: &AppState,
    tenant: Tenant,
    id: WorkflowId,
    page: PageParams,
) -> AppResult<Page<Execution>> {
    let before = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state.db.read(move |c| Ok(store::list_executions(c, &tenant, id, before, limit)?)).await?;
    Page::from_rows(rows, &page, |e| e.id.0)
}

/// A run with its steps and messages.
pub async fn trace(state: &AppState, tenant: Tenant, id: ExecutionId) -> AppResult<ExecutionTrace> {
    state
        .db
        .read(move |c| {
            let execution = store::find_execution(c, &tenant, id)?.ok_or_else(execution_not_found)?;
            Ok(ExecutionTrace {
                execution,
                steps: store::steps(c, &tenant, id)?,
                messages: store::messages(c, &tenant, id)?,
            })
        })
        .await
}

fn finished(exec: &Execution) -> AppError {
    AppError::new(ErrorCode::WorkflowExecutionFinished, format!("this run already ended ({})", exec.status))
        .with_details(json!({ "status": exec.status }))
}

/// Cancels a run: it ends at once (`cancelled`), steps not finished are
/// skipped; a step in flight is stopped within a moment.
pub async fn cancel(state: &AppState, tenant: Tenant, id: ExecutionId) -> AppResult<ExecutionTrace> {
    let t = tenant.clone();
    state
        .db
        .write(move |tx| {
            let exec = store::find_execution(tx, &t, id)?.ok_or_else(execution_not_found)?;
            if exec.is_finished() {
                return Err(finished(&exec));
            }
            store::finish_execution(
                tx,
                &t,
                id,
                "cancelled",
                "{}",
                Some(("cancelled", "cancelled by a person")),
                &now(),
            )?;
            Ok(())
        })
        .await?;
    trace(state, tenant, id).await
}

/// Approves (or refuses) the step the run waits for.
pub async fn approve(
    state: &AppState,
    tenant: Tenant,
    id: ExecutionId,
    approved: bool,
    comment: Option<String>,
) -> AppResult<ExecutionTrace> {
    let comment = comment.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty());
    if comment.as_ref().is_some_and(|c| c.chars().count() > 1000) {
        return Err(AppError::validation("comment", "must be at most 1000 characters"));
    }
    let exec = trace(state, tenant.clone(), id).await?.execution;
    if exec.is_finished() {
        return Err(finished(&exec));
    }
    let workflow = exec.workflow_id.ok_or_else(not_found)?;
    let definition = get(state, tenant.clone(), workflow).await?.definition;
    let (graph, _) = Graph::parse(&definition)?;
    run::decide(state, &tenant, id, &graph, approved, comment).await?;
    trace(state, tenant, id).await
}

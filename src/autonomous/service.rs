//! Autonomous-agent rules: validation, CRUD, the triggers that start runs
//! (on demand, schedule, organization event, inbound webhook), pause,
//! resume and cancel, and analytics.

use chrono::Utc;
use rusqlite::Connection;
use serde_json::{Value, json};

use super::model::{
    AgentAnalytics, AgentInput, AutonomousAgent, AutonomousAgentId, AutonomousRun, AutonomousRunId, HookSecret,
    PreviewRequest, Schedule, SchedulePreview,
};
use super::schedule;
use super::store::{self, AgentFields};
use crate::app::AppState;
use crate::crypto::{random_token, sha256};
use crate::db::{format_timestamp, now};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::{Page, PageParams, Tenant};
use crate::ids::OrgId;
use crate::jobs::{Enqueue, Queue};

/// The job kind that runs one run (`{"run_id": n}`).
pub const RUN_JOB: &str = "autonomous.run";

pub(crate) fn not_found() -> AppError {
    AppError::new(ErrorCode::AutonomousAgentNotFound, "no such autonomous agent")
}

pub(crate) fn run_not_found() -> AppError {
    AppError::new(ErrorCode::AutonomousRunNotFound, "no such agent run")
}

fn defaults() -> AgentFields {
    AgentFields {
        name: String::new(),
        description: None,
        goal: String::new(),
        settings_json: "{}".into(),
        provider_id: None,
        model: None,
        temperature: 0.2,
        max_tokens: 1024,
        system_prompt: None,
        tools_json: "[]".into(),
        status: "active".into(),
        schedule_json: None,
        next_run_at: None,
        trigger_event: None,
        max_steps: 8,
        token_budget: None,
        cost_budget_micros: None,
        deliver_email: None,
        deliver_webhook: false,
        memory_cap: 200,
    }
}

fn fields_of(a: &AutonomousAgent) -> AgentFields {
    AgentFields {
        name: a.name.clone(),
        description: a.description.clone(),
        goal: a.goal.clone(),
        settings_json: json!({ "agent_id": a.agent_id }).to_string(),
        provider_id: a.provider_id,
        model: a.model.clone(),
        temperature: a.temperature,
        max_tokens: a.max_tokens,
        system_prompt: a.system_prompt.clone(),
        tools_json: json!(a.tool_ids).to_string(),
        status: a.status.clone(),
        schedule_json: a.schedule.as_ref().map(|s| json!(s).to_string()),
        next_run_at: a.next_run_at.clone(),
        trigger_event: a.trigger_event.clone(),
        max_steps: a.max_steps,
        token_budget: a.token_budget,
        cost_budget_micros: a.cost_budget_micros,
        deliver_email: a.deliver_email.clone(),
        deliver_webhook: a.deliver_webhook,
        memory_cap: a.memory_cap,
    }
}

fn text(field: &str, raw: &str, max: usize) -> AppResult<String> {
    let t = raw.trim();
    if t.is_empty() || t.chars().count() > max {
        return Err(AppError::validation(field, format!("must be 1–{max} characters")));
    }
    Ok(t.to_owned())
}

fn optional_text(field: &str, raw: Option<&str>, max: usize) -> AppResult<Option<String>> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) if t.chars().count() > max => {
            Err(AppError::validation(field, format!("must be at most {max} characters")))
        }
        Some(t) => Ok(Some(t.to_owned())),
    }
}

fn non_negative(field: &str, v: Option<i64>) -> AppResult<Option<i64>> {
    match v {
        Some(n) if n < 0 => Err(AppError::validation(field, "must be 0 or more")),
        other => Ok(other),
    }
}

/// Applies `req` to `f` and checks everything that needs no database.
#[allow(clippy::too_many_lines, reason = "one short check per field, in the order of the request")]
fn apply(f: &mut AgentFields, req: AgentInput) -> AppResult<()> {
    if let Some(n) = req.name {
        f.name = text("name", &n, 100)?;
        crate::names::reject_invisible("name", &f.name)?;
    }
    if let Some(d) = req.description {
        f.description = optional_text("description", d.as_deref(), 1000)?;
    }
    if let Some(g) = req.goal {
        f.goal = text("goal", &g, 4000)?;
    }
    if let Some(a) = req.agent_id {
        f.settings_json = json!({ "agent_id": a }).to_string();
    }
    if let Some(p) = req.provider_id {
        f.provider_id = p;
    }
    if let Some(m) = req.model {
        f.model = optional_text("model", m.as_deref(), 200)?;
    }
    if let Some(t) = req.temperature {
        if !(0.0..=2.0).contains(&t) {
            return Err(AppError::validation("temperature", "must be between 0 and 2"));
        }
        f.temperature = t;
    }
    if let Some(m) = req.max_tokens {
        if !(1..=100_000).contains(&m) {
            return Err(AppError::validation("max_tokens", "must be between 1 and 100000"));
        }
        f.max_tokens = m;
    }
    if let Some(p) = req.system_prompt {
        f.system_prompt = optional_text("system_prompt", p.as_deref(), 8000)?;
    }
    if let Some(ids) = req.tool_ids {
        if ids.len() > 32 {
            return Err(AppError::validation("tool_ids", "at most 32 tools"));
        }
        let mut unique = ids.clone();
        unique.sort_unstable();
        unique.dedup();
        f.tools_json = json!(unique).to_string();
    }
    if let Some(s) = req.status {
        if !["active", "paused", "archived"].contains(&s.as_str()) {
            return Err(AppError::validation("status", "must be `active`, `paused` or `archived`"));
        }
        f.status = s;
    }
    if let Some(s) = req.schedule {
        match s {
            None => {
                f.schedule_json = None;
                f.next_run_at = None;
            }
            Some(s) => {
                let parsed = schedule::parse(&s)?;
                let s = Schedule { cron: s.cron.trim().to_owned(), timezone: s.timezone.trim().to_owned() };
                f.schedule_json = Some(json!(s).to_string());
                f.next_run_at = parsed.next_after(Utc::now()).map(format_timestamp);
            }
        }
    }
    if let Some(e) = req.trigger_event {
        f.trigger_event = match e.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(name) => {
                let event = crate::webhooks::model::Event::parse_subscribable(name).ok_or_else(|| {
                    AppError::new(ErrorCode::UnknownWebhookEvent, format!("`{name}` is not an event of the catalogue"))
                        .with_details(json!({ "field": "trigger_event" }))
                })?;
                Some(event.as_str().to_owned())
            }
        };
    }
    if let Some(m) = req.max_steps {
        if !(1..=50).contains(&m) {
            return Err(AppError::validation("max_steps", "must be between 1 and 50"));
        }
        f.max_steps = m;
    }
    if let Some(b) = req.token_budget {
        f.token_budget = non_negative("token_budget", b)?;
    }
    if let Some(b) = req.cost_budget_micros {
        f.cost_budget_micros = non_negative("cost_budget_micros", b)?;
    }
    if let Some(e) = req.deliver_email {
        f.deliver_email = match e.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => Some(
                crate::accounts::service::normalize_email(raw)
                    .map_err(|_| AppError::validation("deliver_email", "must be an email address"))?,
            ),
        };
    }
    if let Some(w) = req.deliver_webhook {
        f.deliver_webhook = w;
    }
    if let Some(c) = req.memory_cap {
        if !(1..=10_000).contains(&c) {
            return Err(AppError::validation("memory_cap", "must be between 1 and 10000"));
        }
        f.memory_cap = c;
    }
    Ok(())
}

/// Checks the references (provider, bot agent, tools, unique name) in the
/// write transaction.
fn check_refs(conn: &Connection, tenant: &Tenant, f: &AgentFields, id: Option<AutonomousAgentId>) -> AppResult<()> {
    if store::name_taken(conn, tenant, &f.name, id)? {
        return Err(AppError::new(ErrorCode::NameTaken, "an autonomous agent of the organization has this name")
            .with_details(json!({ "field": "name" })));
    }
    let bad_ref = |field: &str, what: &str| {
        AppError::new(ErrorCode::InvalidReference, format!("no such {what} in this organization"))
            .with_details(json!({ "field": field }))
    };
    if let Some(p) = f.provider_id
        && !store::provider_exists(conn, tenant, p)?
    {
        return Err(bad_ref("provider_id", "LLM provider"));
    }
    let settings: Value = serde_json::from_str(&f.settings_json).unwrap_or(Value::Null);
    if let Some(a) = settings.get("agent_id").and_then(Value::as_i64)
        && !store::bot_agent_exists(conn, tenant, a)?
    {
        return Err(bad_ref("agent_id", "agent"));
    }
    let ids: Vec<i64> = serde_json::from_str(&f.tools_json).unwrap_or_default();
    let found = store::count_tools(conn, tenant, &ids)?;
    if let Some((i, _)) = ids.iter().enumerate().find(|(_, id)| !found.contains(id)) {
        return Err(bad_ref(&format!("tool_ids[{i}]"), "tool"));
    }
    Ok(())
}

/// Creates an agent.
pub async fn create(state: &AppState, tenant: Tenant, req: AgentInput) -> AppResult<AutonomousAgent> {
    if req.name.is_none() {
        return Err(AppError::validation("name", "is required"));
    }
    if req.goal.is_none() {
        return Err(AppError::validation("goal", "is required"));
    }
    let mut f = defaults();
    apply(&mut f, req)?;
    let t = tenant.clone();
    let id = state
        .db
        .write(move |tx| {
            check_refs(tx, &t, &f, None)?;
            Ok(store::insert_agent(tx, &t, &f)?)
        })
        .await?;
    get(state, tenant, id).await
}

pub async fn get(state: &AppState, tenant: Tenant, id: AutonomousAgentId) -> AppResult<AutonomousAgent> {
    state.db.read(move |c| Ok(store::find_agent(c, &tenant, id)?)).await?.ok_or_else(not_found)
}

pub async fn list(state: &AppState, tenant: Tenant, page: PageParams) -> AppResult<Page<AutonomousAgent>> {
    let after = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state.db.read(move |c| Ok(store::list_agents(c, &tenant, after, limit)?)).await?;
    Page::from_rows(rows, &page, |a| a.id.0)
}

/// Changes an agent (absent fields stay).
pub async fn update(
    state: &AppState,
    tenant: Tenant,
    id: AutonomousAgentId,
    req: AgentInput,
) -> AppResult<AutonomousAgent> {
    let before = get(state, tenant.clone(), id).await?;
    let mut f = fields_of(&before);
    apply(&mut f, req)?;
    let t = tenant.clone();
    state
        .db
        .write(move |tx| {
            check_refs(tx, &t, &f, Some(id))?;
            store::update_agent(tx, &t, id, &f)?;
            Ok(())
        })
        .await?;
    get(state, tenant, id).await
}

/// Deletes an agent with its runs and memories.
pub async fn delete(state: &AppState, tenant: Tenant, id: AutonomousAgentId) -> AppResult<()> {
    let n = state.db.write(move |tx| Ok(store::delete_agent(tx, &tenant, id)?)).await?;
    if n == 0 { Err(not_found()) } else { Ok(()) }
}

/// The next fire times of a schedule.
pub fn preview(req: &PreviewRequest) -> AppResult<SchedulePreview> {
    let count = req.count.unwrap_or(5);
    if !(1..=20).contains(&count) {
        return Err(AppError::validation("count", "must be between 1 and 20"));
    }
    let parsed = schedule::parse(&req.schedule)?;
    let times = parsed.preview(Utc::now(), count as usize);
    Ok(SchedulePreview {
        next_runs: times.iter().map(|t| t.0.clone()).collect(),
        next_runs_local: times.into_iter().map(|t| t.1).collect(),
    })
}

/// Creates a run and its job in the caller's transaction (call
/// `state.jobs.notify()` after the commit). With `key`, a second call with
/// the same key starts nothing and answers the first run.
pub fn start_run_in(
    conn: &Connection,
    org: OrgId,
    agent: AutonomousAgentId,
    input: &Value,
    triggered_by: &str,
    key: Option<String>,
) -> AppResult<AutonomousRunId> {
    if let Some(k) = &key {
        let existing: Option<i64> = rusqlite::OptionalExtension::optional(conn.query_row(
            "SELECT json_extract(payload, '$.run_id') FROM jobs WHERE idempotency_key = ?1",
            [k],
            |r| r.get(0),
        ))?;
        if let Some(run) = existing {
            return Ok(AutonomousRunId(run));
        }
    }
    let input = if input.is_null() { json!({}) } else { input.clone() };
    let run = store::insert_run(conn, org, agent, &input.to_string(), triggered_by)?;
    let mut job = Enqueue::new(Some(org), RUN_JOB, json!({ "run_id": run.0 }));
    job.max_attempts = 3;
    job.idempotency_key = Some(key.unwrap_or_else(|| format!("autonomous:run:{}", run.0)));
    Queue::enqueue_in(conn, &job)?;
    Ok(run)
}

/// Starts a run now (`manual`).
pub async fn run_now(
    state: &AppState,
    tenant: Tenant,
    id: AutonomousAgentId,
    input: Option<Value>,
) -> AppResult<AutonomousRun> {
    let agent = get(state, tenant.clone(), id).await?;
    if agent.status == "archived" {
        return Err(AppError::new(ErrorCode::AutonomousAgentArchived, "the agent is archived; make it active first")
            .with_details(json!({ "field": "status" })));
    }
    let input = input.unwrap_or(Value::Null);
    if !(input.is_null() || input.is_object()) {
        return Err(AppError::validation("input", "must be an object"));
    }
    let org = tenant.org_id();
    let run = state.db.write(move |tx| start_run_in(tx, org, id, &input, "manual", None)).await?;
    state.jobs.notify();
    get_run(state, tenant, run).await
}

/// The runs an organization event starts; call inside the transaction that emits it.
pub fn on_event(conn: &Connection, org: OrgId, event: &str, data: &Value) -> AppResult<usize> {
    let agents = store::event_agents(conn, org, event)?;
    for agent in &agents {
        start_run_in(conn, org, *agent, &json!({ "event": event, "data": data }), "event", None)?;
    }
    Ok(agents.len())
}

/// Whether an organization event would start a run.
pub fn listens(conn: &Connection, org: OrgId) -> AppResult<bool> {
    Ok(store::any_event_listener(conn, org)?)
}

/// A new inbound-webhook token for the agent (the previous one stops working).
pub async fn rotate_hook(state: &AppState, tenant: Tenant, id: AutonomousAgentId) -> AppResult<HookSecret> {
    let token = format!("ah_{}", random_token(32));
    let hash = sha256(token.as_bytes());
    let n = state.db.write(move |tx| Ok(store::set_hook(tx, &tenant, id, Some(&hash))?)).await?;
    if n == 0 {
        return Err(not_found());
    }
    let base = crate::admin::instance::public_url_in_force(state).await.unwrap_or_default();
    Ok(HookSecret { url: format!("{}/api/v1/autonomous-hooks/{token}", base.trim_end_matches('/')), token })
}

/// Removes the inbound webhook.
pub async fn remove_hook(state: &AppState, tenant: Tenant, id: AutonomousAgentId) -> AppResult<()> {
    let n = state.db.write(move |tx| Ok(store::set_hook(tx, &tenant, id, None)?)).await?;
    if n == 0 { Err(not_found()) } else { Ok(()) }
}

/// An inbound webhook call: the token names the agent; the body is the input.
pub async fn hook(state: &AppState, token: &str, body: Value) -> AppResult<AutonomousRunId> {
    let hash = sha256(token.as_bytes());
    let run = state
        .db
        .write(move |tx| {
            let Some((org, agent, status)) = store::find_by_hook(tx, &hash)? else {
                return Err(not_found());
            };
            if status != "active" {
                return Err(AppError::new(ErrorCode::AutonomousAgentArchived, "the agent is not active")
                    .with_details(json!({ "field": "status" })));
            }
            start_run_in(tx, org, agent, &json!({ "webhook": body }), "webhook", None)
        })
        .await?;
    state.jobs.notify();
    Ok(run)
}

pub async fn get_run(state: &AppState, tenant: Tenant, id: AutonomousRunId) -> AppResult<AutonomousRun> {
    let (run, steps) = state
        .db
        .read(move |c| {
            let run = store::find_run(c, &tenant, id)?;
            let steps = store::steps(c, &tenant, id)?;
            Ok((run, steps))
        })
        .await?;
    let mut run = run.ok_or_else(run_not_found)?;
    run.steps = Some(steps);
    Ok(run)
}

/// An agent's runs, newest first.
pub async fn list_runs(
    state: &AppState,
    tenant: Tenant,
    agent: AutonomousAgentId,
    page: PageParams,
) -> AppResult<Page<AutonomousRun>> {
    let before = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state.db.read(move |c| Ok(store::list_runs(c, &tenant, agent, before, limit)?)).await?;
    Page::from_rows(rows, &page, |r| r.id.0)
}

fn finished(run: &AutonomousRun) -> AppError {
    AppError::new(ErrorCode::AutonomousRunFinished, format!("the run is {}", run.status))
        .with_details(json!({ "status": run.status }))
}

/// Pauses a run between two steps (the step under way finishes).
pub async fn pause(state: &AppState, tenant: Tenant, id: AutonomousRunId) -> AppResult<AutonomousRun> {
    let t = tenant.clone();
    let ok = state.db.write(move |tx| Ok(store::pause_run(tx, &t, id, &now())?)).await?;
    let run = get_run(state, tenant, id).await?;
    if ok { Ok(run) } else { Err(finished(&run)) }
}

/// Resumes a paused run where it stopped.
pub async fn resume(state: &AppState, tenant: Tenant, id: AutonomousRunId) -> AppResult<AutonomousRun> {
    let t = tenant.clone();
    let org = tenant.org_id();
    let ok = state
        .db
        .write(move |tx| {
            if !store::resume_run(tx, &t, id)? {
                return Ok(false);
            }
            let mut job = Enqueue::new(Some(org), RUN_JOB, json!({ "run_id": id.0 }));
            job.max_attempts = 3;
            job.idempotency_key = Some(format!("autonomous:run:{}:resume:{}", id.0, crate::crypto::random_token(8)));
            Queue::enqueue_in(tx, &job)?;
            Ok(true)
        })
        .await?;
    state.jobs.notify();
    let run = get_run(state, tenant, id).await?;
    if ok {
        Ok(run)
    } else if run.status == "pending" || run.status == "running" {
        Err(AppError::new(ErrorCode::AutonomousRunNotPaused, "the run is not paused"))
    } else {
        Err(finished(&run))
    }
}

/// Cancels a run; the step under way finishes, no further step runs.
pub async fn cancel(state: &AppState, tenant: Tenant, id: AutonomousRunId) -> AppResult<AutonomousRun> {
    let t = tenant.clone();
    let ok = state.db.write(move |tx| Ok(store::cancel_run(tx, &t, id, &now())?)).await?;
    let run = get_run(state, tenant, id).await?;
    if ok { Ok(run) } else { Err(finished(&run)) }
}

pub async fn analytics(state: &AppState, tenant: Tenant, id: AutonomousAgentId) -> AppResult<AgentAnalytics> {
    get(state, tenant.clone(), id).await?;
    state.db.read(move |c| Ok(store::analytics(c, &tenant, id)?)).await
}

//! AI agents of bots (issue 19 item 3): instructions, model settings (the
//! bot's AI settings unless the agent sets its own), tools by priority,
//! knowledge bases, guardrails (max steps per turn, per-conversation token
//! and cost budgets, tools that need a human's approval). The loop is
//! [`runner::run_turn`]; the test chat, the runs and the approvals inbox
//! are routes here. Reading needs `agents.read`, changing and chatting
//! `agents.write`; approvals are decided by whoever handles conversations
//! (`conversations.handle`).

pub mod model;
pub mod runner;
pub mod service;
pub mod store;

use actix_web::{HttpResponse, delete, get, patch, post, web};
use rusqlite::{Connection, OptionalExtension};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::{
    Agent, AgentApproval, AgentApprovalId, AgentChatRequest, AgentId, AgentRun, AgentRunId, ApprovalQuery,
    CreateAgentRequest, DecideApprovalRequest, UpdateAgentRequest,
};
pub use self::runner::{AgentInput, Decision, NoSteps, StepSink, run_turn};
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorBody, ErrorCode};
use crate::http::scope::{BotScope, Owner, ScopeResource, Scoped};
use crate::http::{Json, OrgScope, Page, PageParams};
use crate::permissions::perm;

/// `/agents/{agent_id}/…`
pub struct AgentResource;
impl ScopeResource for AgentResource {
    const PARAM: &'static str = "agent_id";
    const NOT_FOUND: ErrorCode = ErrorCode::AgentNotFound;
    type Id = AgentId;
    fn owner(conn: &Connection, id: AgentId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row("SELECT organization_id, bot_id FROM agents WHERE id = ?1", [id], |r| {
            Ok(Owner { org_id: r.get(0)?, bot_id: r.get(1)? })
        })
        .optional()
    }
}

/// `/agent-runs/{run_id}`
pub struct RunResource;
impl ScopeResource for RunResource {
    const PARAM: &'static str = "run_id";
    const NOT_FOUND: ErrorCode = ErrorCode::AgentRunNotFound;
    type Id = AgentRunId;
    fn owner(conn: &Connection, id: AgentRunId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row("SELECT organization_id, bot_id FROM agent_runs WHERE id = ?1", [id], |r| {
            Ok(Owner { org_id: r.get(0)?, bot_id: r.get(1)? })
        })
        .optional()
    }
}

/// `/agent-approvals/{approval_id}/…`
pub struct ApprovalResource;
impl ScopeResource for ApprovalResource {
    const PARAM: &'static str = "approval_id";
    const NOT_FOUND: ErrorCode = ErrorCode::AgentApprovalNotFound;
    type Id = AgentApprovalId;
    fn owner(conn: &Connection, id: AgentApprovalId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row("SELECT organization_id, bot_id FROM agent_approvals WHERE id = ?1", [id], |r| {
            Ok(Owner { org_id: r.get(0)?, bot_id: r.get(1)? })
        })
        .optional()
    }
}

pub type AgentScope<P> = Scoped<AgentResource, P>;

/// Registers the routes.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_agents)
        .service(create_agent)
        .service(get_agent)
        .service(update_agent)
        .service(delete_agent)
        .service(chat_agent)
        .service(get_agent_run)
        .service(list_agent_approvals)
        .service(approve_tool_call)
        .service(reject_tool_call);
}

/// The run, or the error that ended it (with `details.run_id`).
fn answer(run: AgentRun) -> AppResult<web::Json<AgentRun>> {
    match runner::run_error(&run) {
        Some(e) => Err(e),
        None => Ok(web::Json(run)),
    }
}

/// Lists the agents of a bot.
#[utoipa::path(
    tag = "agents",
    params(("bot_id" = i64, Path, description = "Bot id"), PageParams),
    responses((status = 200, body = Page<Agent>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["agents.read"]), ("api_token" = ["agents.read"]))
)]
#[get("/bots/{bot_id}/agents")]
async fn list_agents(
    scope: BotScope<perm::AgentsRead>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Agent>>> {
    Ok(web::Json(service::list(&state, scope.tenant(), scope.id(), page.into_inner()).await?))
}

/// Creates an agent of a bot.
#[utoipa::path(
    tag = "agents",
    params(("bot_id" = i64, Path, description = "Bot id")),
    request_body = CreateAgentRequest,
    responses((status = 201, body = Agent), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "`name_taken`"),
              (status = 422, body = ErrorBody, description = "`validation_failed`; `details.field` names the field (e.g. `max_steps`, `conversation_token_budget`, `tools[0].tool_id`)")),
    security(("session" = ["agents.write"]), ("api_token" = ["agents.write"]))
)]
#[post("/bots/{bot_id}/agents")]
async fn create_agent(
    scope: BotScope<perm::AgentsWrite>,
    state: web::Data<AppState>,
    body: Json<CreateAgentRequest>,
) -> AppResult<HttpResponse> {
    let agent = service::create(&state, scope.tenant(), scope.id(), body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(agent))
}

/// Shows an agent with its tools and knowledge bases.
#[utoipa::path(
    tag = "agents",
    params(("agent_id" = i64, Path, description = "Agent id")),
    responses((status = 200, body = Agent), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["agents.read"]), ("api_token" = ["agents.read"]))
)]
#[get("/agents/{agent_id}")]
async fn get_agent(scope: AgentScope<perm::AgentsRead>, state: web::Data<AppState>) -> AppResult<web::Json<Agent>> {
    Ok(web::Json(service::get(&state, scope.tenant(), scope.id()).await?))
}

/// Changes an agent (lists given replace the stored ones).
#[utoipa::path(
    tag = "agents",
    params(("agent_id" = i64, Path, description = "Agent id")),
    request_body = UpdateAgentRequest,
    responses((status = 200, body = Agent), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "`name_taken`"),
              (status = 422, body = ErrorBody, description = "`validation_failed` naming the field")),
    security(("session" = ["agents.write"]), ("api_token" = ["agents.write"]))
)]
#[patch("/agents/{agent_id}")]
async fn update_agent(
    scope: AgentScope<perm::AgentsWrite>,
    state: web::Data<AppState>,
    body: Json<UpdateAgentRequest>,
) -> AppResult<web::Json<Agent>> {
    Ok(web::Json(service::update(&state, scope.tenant(), scope.id(), body.into_inner()?).await?))
}

/// Deletes an agent with its runs.
#[utoipa::path(
    tag = "agents",
    params(("agent_id" = i64, Path, description = "Agent id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["agents.write"]), ("api_token" = ["agents.write"]))
)]
#[delete("/agents/{agent_id}")]
async fn delete_agent(scope: AgentScope<perm::AgentsWrite>, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    service::delete(&state, scope.tenant(), scope.id()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Test chat: runs one agent turn on a message and answers the run with every step.
#[utoipa::path(
    tag = "agents",
    params(("agent_id" = i64, Path, description = "Agent id")),
    request_body = AgentChatRequest,
    responses((status = 200, body = AgentRun, description = "`completed`, or `waiting_approval` with `approval`"),
              (status = 401, body = ErrorBody), (status = 402, body = ErrorBody, description = "`llm_budget_exhausted` or `agent_budget_exhausted` (`details.run_id`)"),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`llm_not_configured`, `agent_disabled`, `agent_step_limit`"),
              (status = 422, body = ErrorBody, description = "`validation_failed` (field `message` or `thread`)"),
              (status = 502, body = ErrorBody, description = "`llm_failed` after retries and fallback")),
    security(("session" = ["agents.write"]), ("api_token" = ["agents.write"]))
)]
#[post("/agents/{agent_id}/chat")]
async fn chat_agent(
    scope: AgentScope<perm::AgentsWrite>,
    state: web::Data<AppState>,
    body: Json<AgentChatRequest>,
) -> AppResult<web::Json<AgentRun>> {
    let req = body.into_inner()?;
    let agent = service::get(&state, scope.tenant(), scope.id()).await?;
    let thread = match req.thread {
        Some(t) if t.starts_with("test:") => t,
        Some(_) => return Err(AppError::validation("thread", "must be a `thread` this route answered (test:…)")),
        None => format!("test:{}", crate::crypto::random_token(12)),
    };
    let input = AgentInput::new(req.message, thread, model::RunSource::Test);
    answer(run_turn(&state, scope.tenant(), &agent, input, &mut NoSteps).await?)
}

/// Shows an agent run with its steps.
#[utoipa::path(
    tag = "agents",
    params(("run_id" = i64, Path, description = "Agent run id")),
    responses((status = 200, body = AgentRun), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["agents.read"]), ("api_token" = ["agents.read"]))
)]
#[get("/agent-runs/{run_id}")]
async fn get_agent_run(
    scope: Scoped<RunResource, perm::AgentsRead>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<AgentRun>> {
    Ok(web::Json(runner::load(&state, scope.tenant(), scope.id()).await?))
}

/// Lists the tool calls waiting for (or decided by) a human.
#[utoipa::path(
    tag = "agents",
    params(("org_id" = i64, Path, description = "Organization id"), ApprovalQuery, PageParams),
    responses((status = 200, body = Page<AgentApproval>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody, description = "field `status`")),
    security(("session" = ["conversations.read"]), ("api_token" = ["conversations.read"]))
)]
#[get("/orgs/{org_id}/agent-approvals")]
async fn list_agent_approvals(
    scope: OrgScope<perm::ConversationsRead>,
    state: web::Data<AppState>,
    query: web::Query<ApprovalQuery>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<AgentApproval>>> {
    let status = match query.status.as_deref() {
        None | Some("pending") => Some("pending"),
        Some("approved") => Some("approved"),
        Some("rejected") => Some("rejected"),
        Some("all") => None,
        Some(_) => return Err(AppError::validation("status", "must be pending, approved, rejected or all")),
    };
    let page = page.into_inner();
    let after = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let t = scope.tenant().clone();
    let conversation = query.conversation_id;
    let rows = state.db.read(move |c| Ok(store::list_approvals(c, &t, status, conversation, after, limit)?)).await?;
    Ok(web::Json(Page::from_rows(rows, &page, |a| a.id.0)?))
}

/// Approves a waiting tool call: the tool runs and the agent goes on to its reply.
#[utoipa::path(
    tag = "agents",
    params(("approval_id" = i64, Path, description = "Approval id")),
    request_body = DecideApprovalRequest,
    responses((status = 200, body = AgentRun), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "`agent_approval_decided`"),
              (status = 422, body = ErrorBody)),
    security(("session" = ["conversations.handle"]), ("api_token" = ["conversations.handle"]))
)]
#[post("/agent-approvals/{approval_id}/approve")]
async fn approve_tool_call(
    scope: Scoped<ApprovalResource, perm::ConversationsHandle>,
    state: web::Data<AppState>,
    body: Option<Json<DecideApprovalRequest>>,
) -> AppResult<web::Json<AgentRun>> {
    let note = match body {
        Some(b) => b.into_inner()?.note,
        None => None,
    };
    let run = service_decide(&state, scope.tenant(), scope.id(), Decision::Approve, note).await?;
    answer(run)
}

/// Rejects a waiting tool call: the model is told and goes on without it.
#[utoipa::path(
    tag = "agents",
    params(("approval_id" = i64, Path, description = "Approval id")),
    request_body = DecideApprovalRequest,
    responses((status = 200, body = AgentRun), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "`agent_approval_decided`"),
              (status = 422, body = ErrorBody)),
    security(("session" = ["conversations.handle"]), ("api_token" = ["conversations.handle"]))
)]
#[post("/agent-approvals/{approval_id}/reject")]
async fn reject_tool_call(
    scope: Scoped<ApprovalResource, perm::ConversationsHandle>,
    state: web::Data<AppState>,
    body: Option<Json<DecideApprovalRequest>>,
) -> AppResult<web::Json<AgentRun>> {
    let note = match body {
        Some(b) => b.into_inner()?.note,
        None => None,
    };
    let run = service_decide(&state, scope.tenant(), scope.id(), Decision::Reject, note).await?;
    answer(run)
}

/// The internal note a decision leaves in the conversation's transcript.
fn decision_note(approval: &AgentApproval, decision: Decision, note: Option<&str>) -> String {
    let verb = match decision {
        Decision::Approve => "Approved",
        Decision::Reject => "Rejected",
    };
    let mut text =
        format!("{verb} the tool call {}({}) of agent {}", approval.tool_name, approval.arguments, approval.agent_name);
    if let Some(n) = note.map(str::trim).filter(|n| !n.is_empty()) {
        text.push_str(": ");
        text.push_str(n);
    }
    // Within the length an agent's note may have.
    text.chars().take(4000).collect()
}

/// Decides and continues the run; a run of a conversation records the
/// decision in its transcript (an internal note) and delivers the reply there.
async fn service_decide(
    state: &AppState,
    tenant: &crate::http::Tenant,
    id: AgentApprovalId,
    decision: Decision,
    note: Option<String>,
) -> AppResult<AgentRun> {
    let t = tenant.clone();
    let before = state.db.read(move |c| Ok(store::find_approval(c, &t, id)?)).await?;
    let text = before.as_ref().map(|a| decision_note(a, decision, note.as_deref()));
    let run = runner::decide(state, tenant, id, decision, note, &mut NoSteps).await?;
    if let (Some(conv), Some(text)) = (run.conversation_id, text) {
        crate::conversations::service::note(
            state,
            tenant.clone(),
            crate::conversations::model::ConversationId(conv),
            crate::conversations::model::AgentTextRequest { text },
        )
        .await?;
    }
    if let (Some(conv), Some(reply), model::RunStatus::Completed) = (run.conversation_id, &run.reply, run.status) {
        // The answer goes out through the conversation's channel, sent by
        // the human who decided (the conversation is theirs in the inbox).
        let req = crate::conversations::model::AgentReplyRequest { text: reply.clone(), attachments: Vec::new() };
        crate::conversations::service::reply(
            state,
            tenant.clone(),
            crate::conversations::model::ConversationId(conv),
            req,
        )
        .await?;
    }
    Ok(run)
}

//! Agents of a bot: create, read, change, delete, with every field checked
//! (422 naming the field) before anything is stored.

use std::collections::HashSet;

use serde_json::json;

use super::model::{
    Agent, AgentId, AgentToolRequest, CreateAgentRequest, DEFAULT_MAX_STEPS, MAX_STEPS_LIMIT, UpdateAgentRequest,
};
use super::store::{self, AgentFields};
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::{Page, PageParams, Tenant};
use crate::ids::BotId;
use crate::knowledge::model::KnowledgeBaseId;
use crate::llm::model::LlmProviderId;
use crate::tools::model::ToolId;

fn not_found() -> AppError {
    AppError::new(ErrorCode::AgentNotFound, "no such agent")
}

/// The function name the model sees for a tool: letters, digits, `_` and
/// `-` only, at most 64 characters (the `OpenAI` rule).
#[must_use]
pub fn function_name(tool_name: &str) -> String {
    let mut s: String = tool_name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' })
        .take(64)
        .collect();
    if s.is_empty() {
        s.push_str("tool");
    }
    s
}

/// Gives each tool its function name; a clash gets the tool id appended.
fn name_functions(agent: &mut Agent) {
    let mut seen = HashSet::new();
    seen.insert(super::runner::KNOWLEDGE_FUNCTION.to_owned());
    for t in &mut agent.tools {
        let mut f = function_name(&t.name);
        if !seen.insert(f.clone()) {
            f = format!("{}_{}", &f[..f.len().min(50)], t.tool_id);
            seen.insert(f.clone());
        }
        t.function_name = f;
    }
}

/// Loads an agent with its tools and knowledge bases.
pub async fn get(state: &AppState, tenant: &Tenant, id: AgentId) -> AppResult<Agent> {
    let t = tenant.clone();
    state
        .db
        .read(move |c| {
            let mut agent = store::find_row(c, &t, id)?.ok_or_else(not_found)?.0;
            agent.tools = store::tools(c, &t, id)?;
            agent.knowledge_base_ids = store::knowledge_bases(c, &t, id)?;
            name_functions(&mut agent);
            Ok(agent)
        })
        .await
}

/// The agents of a bot.
pub async fn list(state: &AppState, tenant: &Tenant, bot: BotId, page: PageParams) -> AppResult<Page<Agent>> {
    let after = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let t = tenant.clone();
    let rows = state
        .db
        .read(move |c| {
            let mut agents = Vec::new();
            for row in store::list_rows(c, &t, bot, after, limit)? {
                let mut a = row.0;
                a.tools = store::tools(c, &t, a.id)?;
                a.knowledge_base_ids = store::knowledge_bases(c, &t, a.id)?;
                name_functions(&mut a);
                agents.push(a);
            }
            Ok(agents)
        })
        .await?;
    Page::from_rows(rows, &page, |a| a.id.0)
}

/// Checked settings of an agent.
struct Checked {
    name: String,
    instructions: String,
    provider_id: Option<LlmProviderId>,
    model: Option<String>,
    temperature: Option<f64>,
    max_tokens: Option<i64>,
    max_steps: i64,
    conversation_token_budget: Option<i64>,
    conversation_cost_budget_micros: Option<i64>,
    tools: Option<Vec<(ToolId, i64, bool)>>,
    knowledge_base_ids: Option<Vec<KnowledgeBaseId>>,
    is_active: bool,
}

fn check_name(name: &str) -> AppResult<String> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 100 || n.chars().any(char::is_control) {
        return Err(AppError::validation("name", "must be 1–100 printable characters"));
    }
    Ok(n.to_owned())
}

fn check_instructions(text: &str) -> AppResult<String> {
    if text.trim().is_empty() {
        return Err(AppError::validation("instructions", "must not be empty"));
    }
    if text.chars().count() > 20_000 {
        return Err(AppError::validation("instructions", "must be at most 20000 characters"));
    }
    Ok(text.to_owned())
}

fn check_model(model: Option<String>) -> AppResult<Option<String>> {
    match model.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(m) if m.chars().count() > 200 || m.chars().any(char::is_control) => {
            Err(AppError::validation("model", "must be 1–200 printable characters"))
        }
        Some(m) => Ok(Some(m.to_owned())),
    }
}

fn check_numbers(c: &Checked) -> AppResult<()> {
    if c.temperature.is_some_and(|t| !(0.0..=2.0).contains(&t)) {
        return Err(AppError::validation("temperature", "must be between 0 and 2"));
    }
    if c.max_tokens.is_some_and(|m| !(1..=100_000).contains(&m)) {
        return Err(AppError::validation("max_tokens", "must be between 1 and 100000"));
    }
    if !(1..=MAX_STEPS_LIMIT).contains(&c.max_steps) {
        return Err(AppError::validation("max_steps", format!("must be between 1 and {MAX_STEPS_LIMIT}")));
    }
    if c.conversation_token_budget.is_some_and(|b| b < 0) {
        return Err(AppError::validation("conversation_token_budget", "must be 0 or more (absent: no limit)"));
    }
    if c.conversation_cost_budget_micros.is_some_and(|b| b < 0) {
        return Err(AppError::validation("conversation_cost_budget_micros", "must be 0 or more (absent: no limit)"));
    }
    Ok(())
}

fn check_tools(tools: &[AgentToolRequest]) -> AppResult<Vec<(ToolId, i64, bool)>> {
    if tools.len() > 64 {
        return Err(AppError::validation("tools", "at most 64 tools"));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(tools.len());
    for (i, t) in tools.iter().enumerate() {
        if !seen.insert(t.tool_id) {
            return Err(AppError::validation(format!("tools[{i}].tool_id"), "lists the same tool twice"));
        }
        let priority = t.priority.unwrap_or_else(|| i64::try_from(i).unwrap_or(i64::MAX) + 1);
        if !(0..=1_000_000).contains(&priority) {
            return Err(AppError::validation(format!("tools[{i}].priority"), "must be between 0 and 1000000"));
        }
        out.push((t.tool_id, priority, t.requires_approval));
    }
    Ok(out)
}

fn check_kbs(kbs: &[KnowledgeBaseId]) -> AppResult<Vec<KnowledgeBaseId>> {
    let mut seen = HashSet::new();
    for (i, kb) in kbs.iter().enumerate() {
        if !seen.insert(*kb) {
            return Err(AppError::validation(format!("knowledge_base_ids[{i}]"), "lists the same knowledge base twice"));
        }
    }
    if kbs.len() > 20 {
        return Err(AppError::validation("knowledge_base_ids", "at most 20 knowledge bases"));
    }
    Ok(kbs.to_vec())
}

/// The references must be the organization's (checked inside the write).
fn check_references(conn: &rusqlite::Connection, tenant: &Tenant, c: &Checked) -> AppResult<()> {
    if let Some(p) = c.provider_id
        && crate::llm::store::find(conn, tenant, p)?.is_none()
    {
        return Err(AppError::validation("provider_id", "is not an LLM provider of this organization"));
    }
    for (i, (tool, _, _)) in c.tools.iter().flatten().enumerate() {
        if !store::tool_exists(conn, tenant, *tool)? {
            return Err(AppError::validation(format!("tools[{i}].tool_id"), "is not a tool of this organization")
                .with_details(json!({ "field": format!("tools[{i}].tool_id"), "tool_id": tool })));
        }
    }
    for (i, kb) in c.knowledge_base_ids.iter().flatten().enumerate() {
        if !store::knowledge_base_exists(conn, tenant, *kb)? {
            return Err(AppError::validation(
                format!("knowledge_base_ids[{i}]"),
                "is not a knowledge base of this organization",
            ));
        }
    }
    Ok(())
}

fn name_taken() -> AppError {
    AppError::new(ErrorCode::NameTaken, "another agent of the bot has this name").with_details(json!({ "field": "name" }))
}

fn write_checked(conn: &rusqlite::Connection, tenant: &Tenant, id: AgentId, c: &Checked) -> AppResult<()> {
    if let Some(tools) = &c.tools {
        store::set_tools(conn, tenant, id, tools)?;
    }
    if let Some(kbs) = &c.knowledge_base_ids {
        store::set_knowledge_bases(conn, tenant, id, kbs)?;
    }
    Ok(())
}

fn fields(c: &Checked) -> AgentFields<'_> {
    AgentFields {
        name: &c.name,
        instructions: &c.instructions,
        provider_id: c.provider_id,
        model: c.model.as_deref(),
        temperature: c.temperature,
        max_tokens: c.max_tokens,
        max_steps: c.max_steps,
        conversation_token_budget: c.conversation_token_budget,
        conversation_cost_budget_micros: c.conversation_cost_budget_micros,
        is_active: c.is_active,
    }
}

/// Creates an agent of a bot.
pub async fn create(state: &AppState, tenant: &Tenant, bot: BotId, req: CreateAgentRequest) -> AppResult<Agent> {
    let checked = Checked {
        name: check_name(&req.name)?,
        instructions: check_instructions(&req.instructions)?,
        provider_id: req.provider_id,
        model: check_model(req.model)?,
        temperature: req.temperature,
        max_tokens: req.max_tokens,
        max_steps: req.max_steps.unwrap_or(DEFAULT_MAX_STEPS),
        conversation_token_budget: req.conversation_token_budget,
        conversation_cost_budget_micros: req.conversation_cost_budget_micros,
        tools: Some(check_tools(&req.tools)?),
        knowledge_base_ids: Some(check_kbs(&req.knowledge_base_ids)?),
        is_active: req.is_active.unwrap_or(true),
    };
    check_numbers(&checked)?;
    let t = tenant.clone();
    let id = state
        .db
        .write(move |tx| {
            check_references(tx, &t, &checked)?;
            if store::name_taken(tx, &t, bot, &checked.name, None)? {
                return Err(name_taken());
            }
            let id = store::insert(tx, &t, bot, &fields(&checked))?;
            write_checked(tx, &t, id, &checked)?;
            Ok(id)
        })
        .await?;
    get(state, tenant, id).await
}

/// Changes an agent; lists given replace the stored ones.
pub async fn update(state: &AppState, tenant: &Tenant, id: AgentId, req: UpdateAgentRequest) -> AppResult<Agent> {
    let before = get(state, tenant, id).await?;
    let bot = before.bot_id.ok_or_else(not_found)?;
    let checked = Checked {
        name: check_name(req.name.as_deref().unwrap_or(&before.name))?,
        instructions: check_instructions(req.instructions.as_deref().unwrap_or(&before.instructions))?,
        provider_id: req.provider_id.unwrap_or(before.provider_id),
        model: check_model(req.model.unwrap_or(before.model))?,
        temperature: req.temperature.unwrap_or(before.temperature),
        max_tokens: req.max_tokens.unwrap_or(before.max_tokens),
        max_steps: req.max_steps.unwrap_or(before.max_steps),
        conversation_token_budget: req.conversation_token_budget.unwrap_or(before.conversation_token_budget),
        conversation_cost_budget_micros: req
            .conversation_cost_budget_micros
            .unwrap_or(before.conversation_cost_budget_micros),
        tools: req.tools.as_deref().map(check_tools).transpose()?,
        knowledge_base_ids: req.knowledge_base_ids.as_deref().map(check_kbs).transpose()?,
        is_active: req.is_active.unwrap_or(before.is_active),
    };
    check_numbers(&checked)?;
    let t = tenant.clone();
    state
        .db
        .write(move |tx| {
            check_references(tx, &t, &checked)?;
            if store::name_taken(tx, &t, bot, &checked.name, Some(id))? {
                return Err(name_taken());
            }
            if store::update(tx, &t, id, &fields(&checked))? == 0 {
                return Err(not_found());
            }
            write_checked(tx, &t, id, &checked)
        })
        .await?;
    get(state, tenant, id).await
}

/// Deletes an agent with its runs.
pub async fn delete(state: &AppState, tenant: &Tenant, id: AgentId) -> AppResult<()> {
    let t = tenant.clone();
    state.db.write(move |tx| if store::delete(tx, &t, id)? == 0 { Err(not_found()) } else { Ok(()) }).await
}

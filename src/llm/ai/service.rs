//! A bot's AI: its model settings, budgets, and the metered calls every
//! caller (the chat routes now, agents and workflows later) goes through:
//! [`complete`] and [`stream`] check the monthly budget first, call the
//! provider chain (retries, fallback), then record the real tokens and cost
//! in `llm_calls` and `usage_tracking` (`llm_tokens`, `llm_cost_micros`).

use std::time::Instant;

use futures_util::{Stream, StreamExt};
use serde_json::json;
use tokio::sync::mpsc;

use super::model::{
    AiChatEvent, AiChatRequest, AiChatResponse, AiConfig, AiConfigRow, AiTestResult, AiUsageQuery, AiUsageReport,
    CallRecord, LlmCallUsage, PutAiConfigRequest,
};
use super::store;
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::Tenant;
use crate::ids::BotId;
use crate::llm::call::{self, Chain, Served};
use crate::llm::client::{Accumulator, ChatOptions, Completion, Delta, Message, Tool, Usage};
use crate::orgs::audit::{self, AuditEntry};

/// What a model call is for (`llm_calls.purpose`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Chat,
    Test,
    Agent,
    Workflow,
    Flow,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Chat => "chat",
            Purpose::Test => "test",
            Purpose::Agent => "agent",
            Purpose::Workflow => "workflow",
            Purpose::Flow => "flow",
        }
    }
}

fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

fn month_start() -> String {
    chrono::Utc::now().format("%Y-%m-01").to_string()
}

/// The bot's settings and this month's (tokens, cost).
async fn load(state: &AppState, tenant: &Tenant, bot: BotId) -> AppResult<(Option<AiConfigRow>, (i64, i64))> {
    let t = tenant.clone();
    let first = month_start();
    state.db.read(move |c| Ok((store::find(c, &t, bot)?, store::month_usage(c, &t, bot, &first)?))).await
}

fn view(bot: BotId, row: Option<AiConfigRow>, used: (i64, i64)) -> AiConfig {
    let configured = row.is_some();
    let r = row.unwrap_or_default();
    AiConfig {
        bot_id: bot,
        configured,
        provider_id: r.provider_id,
        fallback_provider_id: r.fallback_provider_id,
        model: r.model,
        temperature: r.temperature,
        max_tokens: r.max_tokens,
        system_prompt: r.system_prompt,
        monthly_token_budget: r.monthly_token_budget,
        monthly_cost_budget_micros: r.monthly_cost_budget_micros,
        is_enabled: r.is_enabled,
        month_tokens: used.0,
        month_cost_micros: used.1,
        updated_at: r.updated_at,
    }
}

/// The bot's AI settings (defaults when none were saved).
pub async fn get_config(state: &AppState, tenant: &Tenant, bot: BotId) -> AppResult<AiConfig> {
    let (row, used) = load(state, tenant, bot).await?;
    Ok(view(bot, row, used))
}

fn check_config(req: PutAiConfigRequest) -> AppResult<AiConfigRow> {
    let d = AiConfigRow::default();
    let model = match req.model.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(m) if m.chars().count() > 200 || m.chars().any(char::is_control) => {
            return Err(AppError::validation("model", "must be 1–200 printable characters"));
        }
        Some(m) => Some(m.to_owned()),
    };
    let temperature = req.temperature.unwrap_or(d.temperature);
    if !(0.0..=2.0).contains(&temperature) {
        return Err(AppError::validation("temperature", "must be between 0 and 2"));
    }
    let max_tokens = req.max_tokens.unwrap_or(d.max_tokens);
    if !(1..=100_000).contains(&max_tokens) {
        return Err(AppError::validation("max_tokens", "must be between 1 and 100000"));
    }
    let system_prompt = req.system_prompt.unwrap_or(d.system_prompt);
    if system_prompt.chars().count() > 20_000 {
        return Err(AppError::validation("system_prompt", "must be at most 20000 characters"));
    }
    if req.monthly_token_budget.is_some_and(|b| b < 0) {
        return Err(AppError::validation("monthly_token_budget", "must be 0 or more (absent: no limit)"));
    }
    if req.monthly_cost_budget_micros.is_some_and(|b| b < 0) {
        return Err(AppError::validation("monthly_cost_budget_micros", "must be 0 or more (absent: no limit)"));
    }
    Ok(AiConfigRow {
        provider_id: req.provider_id,
        fallback_provider_id: req.fallback_provider_id,
        model,
        temperature,
        max_tokens,
        system_prompt,
        monthly_token_budget: req.monthly_token_budget,
        monthly_cost_budget_micros: req.monthly_cost_budget_micros,
        is_enabled: req.is_enabled.unwrap_or(true),
        updated_at: None,
    })
}

/// Saves the bot's AI settings (the providers must be the organization's).
pub async fn put_config(state: &AppState, tenant: &Tenant, bot: BotId, req: PutAiConfigRequest) -> AppResult<AiConfig> {
    let row = check_config(req)?;
    let t = tenant.clone();
    state
        .db
        .write(move |tx| {
            for (field, id) in [("provider_id", row.provider_id), ("fallback_provider_id", row.fallback_provider_id)] {
                if let Some(id) = id
                    && crate::llm::store::find(tx, &t, id)?.is_none()
                {
                    return Err(AppError::validation(field, "is not an LLM provider of this organization"));
                }
            }
            if row.provider_id.is_some() && row.fallback_provider_id == row.provider_id {
                return Err(AppError::validation("fallback_provider_id", "must differ from provider_id"));
            }
            let before = store::find(tx, &t, bot)?;
            store::upsert(tx, &t, bot, &row)?;
            let summary = |r: &AiConfigRow| {
                json!({ "provider_id": r.provider_id, "fallback_provider_id": r.fallback_provider_id, "model": r.model,
                        "temperature": r.temperature, "max_tokens": r.max_tokens,
                        "monthly_token_budget": r.monthly_token_budget,
                        "monthly_cost_budget_micros": r.monthly_cost_budget_micros, "is_enabled": r.is_enabled })
            };
            let mut entry = AuditEntry::by(&t, "bot.ai_config_updated", "bot", bot.0).with_new(summary(&row));
            if let Some(b) = &before {
                entry = entry.with_old(summary(b));
            }
            audit::record(tx, &entry)
        })
        .await?;
    get_config(state, tenant, bot).await
}

/// A bot's settings resolved for a call: the provider chain and options.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub chain: Chain,
    pub config: AiConfigRow,
}

fn not_configured(message: &str, field: &str) -> AppError {
    AppError::new(ErrorCode::LlmNotConfigured, message).with_details(json!({ "field": field }))
}

/// Resolves the bot's providers and checks its monthly budgets: 409
/// `llm_not_configured` without a usable provider, 402
/// `llm_budget_exhausted` when a budget is used up.
pub async fn prepare(state: &AppState, tenant: &Tenant, bot: BotId) -> AppResult<Prepared> {
    prepare_with(state, tenant, bot, None).await
}

/// [`prepare`], with a caller's provider or model (an agent's) over the
/// bot's when `overrides` names one. Everything it checks is read in one
/// round trip: the settings, this month's usage, the plan's allowance and
/// the provider chains.
async fn prepare_with(
    state: &AppState,
    tenant: &Tenant,
    bot: BotId,
    overrides: Option<&ModelOverrides>,
) -> AppResult<Prepared> {
    use crate::llm::service::{chain_of, chain_rows};
    let t = tenant.clone();
    let first_day = month_start();
    let org = tenant.org_id();
    let own = overrides.filter(|o| o.provider_id.is_some() || o.model.is_some()).map(|o| o.provider_id);
    let (row, (tokens, cost), allowed, bot_rows, own_rows) = state
        .db
        .read(move |c| {
            let row = store::find(c, &t, bot)?;
            let used = store::month_usage(c, &t, bot, &first_day)?;
            let allowed = crate::billing::limits::check(c, org, crate::billing::limits::Limit::LlmTokensPerMonth, 1);
            let (provider, fallback) = row.as_ref().map_or((None, None), |r| (r.provider_id, r.fallback_provider_id));
            let bot_rows = chain_rows(c, &t, provider, fallback)?;
            let own_rows = match own {
                Some(p) => Some(chain_rows(c, &t, p.or(provider), if p.is_some() { None } else { fallback })?),
                None => None,
            };
            Ok((row, used, allowed, bot_rows, own_rows))
        })
        .await?;
    let config = row.unwrap_or_default();
    if !config.is_enabled {
        return Err(not_configured("the bot's AI is switched off", "is_enabled"));
    }
    if let Some(budget) = config.monthly_token_budget
        && tokens >= budget
    {
        return Err(AppError::new(
            ErrorCode::LlmBudgetExhausted,
            format!("the bot used {tokens} of its {budget} tokens this month"),
        )
        .with_details(json!({ "field": "monthly_token_budget", "budget": budget, "used": tokens })));
    }
    if let Some(budget) = config.monthly_cost_budget_micros
        && cost >= budget
    {
        return Err(AppError::new(
            ErrorCode::LlmBudgetExhausted,
            format!("the bot used {cost} of its {budget} micro-units of cost this month"),
        )
        .with_details(json!({ "field": "monthly_cost_budget_micros", "budget": budget, "used": cost })));
    }
    allowed?;
    let mut chain = chain_of(state, bot_rows, config.model.as_deref())
        .map_err(|e| match e.code() {
            ErrorCode::Conflict => not_configured("the bot's LLM provider is disabled", "provider_id"),
            _ => e,
        })?
        .ok_or_else(|| {
            not_configured(
                "no LLM provider is configured: choose one for the bot or make one the organization's default",
                "provider_id",
            )
        })?;
    if let (Some(rows), Some(o)) = (own_rows, overrides) {
        let model = o.model.as_deref().or(config.model.as_deref());
        chain = chain_of(state, rows, model)
            .map_err(|e| match e.code() {
                ErrorCode::Conflict => not_configured("the agent's LLM provider is disabled", "provider_id"),
                _ => e,
            })?
            .ok_or_else(|| not_configured("no LLM provider is configured for the agent or its bot", "provider_id"))?;
    }
    Ok(Prepared { chain, config })
}

impl Prepared {
    /// The messages with the bot's system prompt first (unless they start
    /// with a system message of their own).
    #[must_use]
    pub fn messages(&self, messages: Vec<Message>) -> Vec<Message> {
        let prompt = self.config.system_prompt.trim();
        if prompt.is_empty() || messages.first().is_some_and(|m| m.role == "system") {
            return messages;
        }
        let mut all = Vec::with_capacity(messages.len() + 1);
        all.push(Message::new("system", prompt));
        all.extend(messages);
        all
    }

    /// Call options from the bot's settings.
    #[must_use]
    pub fn options(&self, tools: Vec<Tool>, tool_choice: Option<crate::llm::client::ToolChoice>) -> ChatOptions {
        #[allow(clippy::cast_possible_truncation, reason = "0–2, checked on save")]
        let temperature = self.config.temperature as f32;
        ChatOptions {
            temperature: Some(temperature),
            max_tokens: u32::try_from(self.config.max_tokens).ok(),
            tools,
            tool_choice,
            json_object: false,
        }
    }
}

fn call_usage(served: &Served, model: &str, usage: Usage) -> LlmCallUsage {
    LlmCallUsage {
        provider_id: served.target.provider_id,
        model: model.to_owned(),
        prompt_tokens: usage.prompt_tokens,
        completion_tokens: usage.completion_tokens,
        total_tokens: usage.prompt_tokens + usage.completion_tokens,
        cost_micros: served.target.cost_micros(usage),
        latency_ms: served.latency_ms,
        attempts: served.attempts,
        fell_back: served.fell_back,
    }
}

async fn record(state: &AppState, tenant: &Tenant, bot: BotId, record: CallRecord) {
    let t = tenant.clone();
    let result = state.runtime.write_grouped(move |tx| store::record(tx, &t, bot, &record)).await;
    if let Err(e) = result {
        tracing::warn!(error = ?e, "cannot record LLM usage");
    }
}

async fn record_failure(state: &AppState, tenant: &Tenant, bot: BotId, purpose: Purpose, f: &call::Failed) {
    record(state, tenant, bot, failure_record(purpose, f)).await;
}

fn failure_record(purpose: Purpose, f: &call::Failed) -> CallRecord {
    CallRecord {
        provider_id: Some(f.served.target.provider_id),
        model: f.served.target.config.model.clone(),
        purpose: purpose.as_str(),
        ok: false,
        usage: Usage::default(),
        cost_micros: 0,
        latency_ms: f.served.latency_ms,
        attempts: f.served.attempts,
        fell_back: f.served.fell_back,
        error_code: Some(f.error.kind()),
    }
}

fn failed(f: &call::Failed) -> AppError {
    let e = crate::llm::service::llm_error(&f.error);
    if e.code() == ErrorCode::LlmFailed {
        return e.with_details(json!({
            "provider_id": f.served.target.provider_id,
            "attempts": f.served.attempts,
            "fell_back": f.served.fell_back,
            "reason": f.error.kind(),
        }));
    }
    e
}

/// A rough token count for calls whose provider reported none (about four
/// characters per token).
fn estimate_tokens(text: &str) -> u64 {
    u64::try_from(text.chars().count().div_ceil(4)).unwrap_or(u64::MAX)
}

fn prompt_text(messages: &[Message]) -> String {
    messages.iter().map(Message::text).collect::<Vec<_>>().join("\n")
}

/// One metered completion for a bot: budget check, provider chain (retries,
/// fallback), usage recorded. The building block of agents and workflows.
pub async fn complete(
    state: &AppState,
    tenant: &Tenant,
    bot: BotId,
    purpose: Purpose,
    messages: Vec<Message>,
    tools: Vec<Tool>,
    tool_choice: Option<crate::llm::client::ToolChoice>,
) -> AppResult<(Completion, LlmCallUsage)> {
    complete_with(state, tenant, bot, purpose, &ModelOverrides::default(), messages, tools, tool_choice).await
}

/// Settings of a caller (an agent) that replace the bot's for one call;
/// `None` keeps the bot's.
#[derive(Debug, Clone, Default)]
pub struct ModelOverrides {
    pub provider_id: Option<crate::llm::model::LlmProviderId>,
    pub model: Option<String>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<i64>,
}

/// [`complete`] with the caller's model settings over the bot's: the bot's
/// monthly budgets still apply and the call is metered to the bot.
#[allow(clippy::too_many_arguments, reason = "the call's parts, as `complete` takes them plus the overrides")]
pub async fn complete_with(
    state: &AppState,
    tenant: &Tenant,
    bot: BotId,
    purpose: Purpose,
    overrides: &ModelOverrides,
    messages: Vec<Message>,
    tools: Vec<Tool>,
    tool_choice: Option<crate::llm::client::ToolChoice>,
) -> AppResult<(Completion, LlmCallUsage)> {
    let mut prepared = prepare_with(state, tenant, bot, Some(overrides)).await?;
    if let Some(t) = overrides.temperature {
        prepared.config.temperature = t;
    }
    if let Some(m) = overrides.max_tokens {
        prepared.config.max_tokens = m;
    }
    let messages = prepared.messages(messages);
    let opts = prepared.options(tools, tool_choice);
    let result = call::complete(state, &prepared.chain, &messages, &opts).await;
    metered(state, tenant, bot, purpose, &messages, result).await
}

/// Like [`complete`] (no tools), asking for a JSON object
/// (`response_format: json_object`) with room for at least `min_tokens` of
/// answer. A provider that refuses the option (HTTP 400 or 422) is asked
/// once more without it; the caller parses the answer either way.
pub async fn complete_json(
    state: &AppState,
    tenant: &Tenant,
    bot: BotId,
    purpose: Purpose,
    messages: Vec<Message>,
    min_tokens: u32,
) -> AppResult<(Completion, LlmCallUsage)> {
    let prepared = prepare(state, tenant, bot).await?;
    let messages = prepared.messages(messages);
    let mut opts = prepared.options(Vec::new(), None);
    opts.max_tokens = Some(opts.max_tokens.unwrap_or(0).max(min_tokens));
    opts.json_object = true;
    let result = match call::complete(state, &prepared.chain, &messages, &opts).await {
        Err(f) if matches!(f.error, crate::llm::client::LlmError::Status(400 | 422, _)) => {
            tracing::info!("the provider refused response_format; asking again without it");
            opts.json_object = false;
            call::complete(state, &prepared.chain, &messages, &opts).await
        }
        other => other,
    };
    metered(state, tenant, bot, purpose, &messages, result).await
}

/// Records a call's usage (or its failure) and maps the result.
async fn metered(
    state: &AppState,
    tenant: &Tenant,
    bot: BotId,
    purpose: Purpose,
    messages: &[Message],
    result: Result<(Completion, Served), call::Failed>,
) -> AppResult<(Completion, LlmCallUsage)> {
    let (result, call) = settle(purpose, messages, result);
    record(state, tenant, bot, call).await;
    result
}

/// A call's result as the caller gets it, and its usage row to record.
fn settle(
    purpose: Purpose,
    messages: &[Message],
    result: Result<(Completion, Served), call::Failed>,
) -> (AppResult<(Completion, LlmCallUsage)>, CallRecord) {
    match result {
        Ok((completion, served)) => {
            let usage = completion.usage.unwrap_or_else(|| Usage {
                prompt_tokens: estimate_tokens(&prompt_text(messages)),
                completion_tokens: estimate_tokens(&completion.text),
                total_tokens: 0,
            });
            let used = call_usage(&served, &served.target.config.model, usage);
            let call = CallRecord {
                provider_id: Some(used.provider_id),
                model: used.model.clone(),
                purpose: purpose.as_str(),
                ok: true,
                usage,
                cost_micros: used.cost_micros,
                latency_ms: used.latency_ms,
                attempts: used.attempts,
                fell_back: used.fell_back,
                error_code: None,
            };
            (Ok((completion, used)), call)
        }
        Err(f) => (Err(failed(&f)), failure_record(purpose, &f)),
    }
}

/// The usage of a model call not stored yet: the caller stores it with
/// [`store_call`] in the write that records what the call produced (one
/// round trip instead of two; an agent step).
#[derive(Debug, Clone)]
pub struct UnrecordedCall {
    bot: BotId,
    call: CallRecord,
}

/// Stores an [`UnrecordedCall`] in the caller's transaction. Like the
/// separate write of [`complete`], a failure to record is logged and does
/// not fail the caller's write (it is undone alone, in a savepoint).
pub fn store_call(conn: &rusqlite::Connection, tenant: &Tenant, u: &UnrecordedCall) -> AppResult<()> {
    conn.execute_batch("SAVEPOINT llm_usage")?;
    match store::record(conn, tenant, u.bot, &u.call) {
        Ok(()) => conn.execute_batch("RELEASE llm_usage")?,
        Err(e) => {
            tracing::warn!(error = ?e, "cannot record LLM usage");
            conn.execute_batch("ROLLBACK TO llm_usage; RELEASE llm_usage")?;
        }
    }
    Ok(())
}

/// [`complete_with`] whose usage the caller stores ([`store_call`]) in its
/// own next write. `Err`: nothing was called (not configured, budget or
/// plan exhausted); else the call's result and its usage.
#[allow(clippy::too_many_arguments, reason = "the call's parts, as `complete_with` takes them")]
pub async fn complete_unrecorded(
    state: &AppState,
    tenant: &Tenant,
    bot: BotId,
    purpose: Purpose,
    overrides: &ModelOverrides,
    messages: Vec<Message>,
    tools: Vec<Tool>,
    tool_choice: Option<crate::llm::client::ToolChoice>,
) -> AppResult<(AppResult<(Completion, LlmCallUsage)>, UnrecordedCall)> {
    let mut prepared = prepare_with(state, tenant, bot, Some(overrides)).await?;
    if let Some(t) = overrides.temperature {
        prepared.config.temperature = t;
    }
    if let Some(m) = overrides.max_tokens {
        prepared.config.max_tokens = m;
    }
    let messages = prepared.messages(messages);
    let opts = prepared.options(tools, tool_choice);
    let result = call::complete(state, &prepared.chain, &messages, &opts).await;
    let (result, call) = settle(purpose, &messages, result);
    Ok((result, UnrecordedCall { bot, call }))
}

/// Checks the messages and tools of a chat request.
pub fn check_chat(req: &AiChatRequest) -> AppResult<()> {
    if req.messages.is_empty() || req.messages.len() > 200 {
        return Err(AppError::validation("messages", "must hold 1–200 messages"));
    }
    for (i, m) in req.messages.iter().enumerate() {
        match m.role.as_str() {
            "system" | "user" => {
                if m.content.is_none() {
                    return Err(AppError::validation(format!("messages[{i}].content"), "is required"));
                }
            }
            "assistant" => {
                if m.content.is_none() && m.tool_calls.is_empty() {
                    return Err(AppError::validation(format!("messages[{i}].content"), "needs content or tool_calls"));
                }
            }
            "tool" => {
                if m.tool_call_id.as_deref().is_none_or(str::is_empty) {
                    return Err(AppError::validation(
                        format!("messages[{i}].tool_call_id"),
                        "a tool message names the call it answers",
                    ));
                }
            }
            _ => {
                return Err(AppError::validation(
                    format!("messages[{i}].role"),
                    "must be system, user, assistant or tool",
                ));
            }
        }
        if m.role != "assistant" && !m.tool_calls.is_empty() {
            return Err(AppError::validation(
                format!("messages[{i}].tool_calls"),
                "only assistant messages call tools",
            ));
        }
    }
    if req.tools.len() > 128 {
        return Err(AppError::validation("tools", "at most 128 tools"));
    }
    for (i, t) in req.tools.iter().enumerate() {
        if t.kind != "function" {
            return Err(AppError::validation(format!("tools[{i}].type"), "must be function"));
        }
        let name = &t.function.name;
        if name.is_empty()
            || name.len() > 64
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(AppError::validation(
                format!("tools[{i}].function.name"),
                "must be 1–64 letters, digits, _ or -",
            ));
        }
        if !t.function.parameters.is_object() {
            return Err(AppError::validation(
                format!("tools[{i}].function.parameters"),
                "must be a JSON Schema object",
            ));
        }
    }
    if req.tool_choice.is_some() && req.tools.is_empty() {
        return Err(AppError::validation("tool_choice", "needs tools"));
    }
    Ok(())
}

/// `POST /bots/{bot_id}/ai/chat`.
pub async fn chat(state: &AppState, tenant: &Tenant, bot: BotId, req: AiChatRequest) -> AppResult<AiChatResponse> {
    check_chat(&req)?;
    let (c, usage) = complete(state, tenant, bot, Purpose::Chat, req.messages, req.tools, req.tool_choice).await?;
    Ok(AiChatResponse { message: c.message(), finish_reason: c.finish_reason, usage })
}

/// `POST /bots/{bot_id}/ai/test`: one short round trip with the bot's settings.
pub async fn test(state: &AppState, tenant: &Tenant, bot: BotId) -> AppResult<AiTestResult> {
    let (c, usage) = complete(
        state,
        tenant,
        bot,
        Purpose::Test,
        vec![Message::new("user", "Reply with the single word OK.")],
        Vec::new(),
        None,
    )
    .await?;
    Ok(AiTestResult { ok: true, reply: c.text.chars().take(500).collect(), usage })
}

/// A metered stream for a bot: the budget is checked and the provider
/// chain called before the first event (failures are plain errors); the
/// events follow; the usage is recorded when the stream ends or the client
/// goes away (which closes the connection to the provider).
pub async fn stream(
    state: &AppState,
    tenant: &Tenant,
    bot: BotId,
    purpose: Purpose,
    req: AiChatRequest,
) -> AppResult<impl Stream<Item = AiChatEvent> + Unpin + 'static> {
    check_chat(&req)?;
    let prepared = prepare(state, tenant, bot).await?;
    let messages = prepared.messages(req.messages);
    let opts = prepared.options(req.tools, req.tool_choice);
    let (mut deltas, served) = match call::stream(state, &prepared.chain, &messages, &opts).await {
        Ok(ok) => ok,
        Err(f) => {
            record_failure(state, tenant, bot, purpose, &f).await;
            return Err(failed(&f));
        }
    };
    let (tx, rx) = mpsc::channel::<AiChatEvent>(64);
    let (state, tenant) = (state.clone(), tenant.clone());
    tokio::spawn(async move {
        let started = Instant::now();
        let mut acc = Accumulator::default();
        let mut error = None;
        let mut gone = false;
        loop {
            let item = tokio::select! {
                () = tx.closed() => { gone = true; break; }
                item = deltas.next() => item,
            };
            let event = match item {
                None => break,
                Some(Err(e)) => {
                    error = Some(e);
                    break;
                }
                Some(Ok(d)) => {
                    acc.push(&d);
                    match d {
                        Delta::Token(t) => Some(AiChatEvent::Text(t)),
                        Delta::ToolCall(c) => Some(AiChatEvent::ToolCall(c)),
                        Delta::Finish(_) | Delta::Usage(_) => None,
                    }
                }
            };
            if let Some(event) = event
                && tx.send(event).await.is_err()
            {
                gone = true;
                break;
            }
        }
        // Closes the connection to the provider when the client went away.
        drop(deltas);
        let model = served.target.config.model.clone();
        let completion = acc.finish(&model, served.attempts);
        let usage = completion.usage.unwrap_or_else(|| Usage {
            prompt_tokens: estimate_tokens(&prompt_text(&messages)),
            completion_tokens: estimate_tokens(&completion.text)
                + completion.tool_calls.iter().map(|c| estimate_tokens(&c.function.arguments)).sum::<u64>(),
            total_tokens: 0,
        });
        let mut served = served;
        served.latency_ms += u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let used = call_usage(&served, &model, usage);
        record(
            &state,
            &tenant,
            bot,
            CallRecord {
                provider_id: Some(used.provider_id),
                model: model.clone(),
                purpose: purpose.as_str(),
                ok: error.is_none(),
                usage,
                cost_micros: used.cost_micros,
                latency_ms: used.latency_ms,
                attempts: used.attempts,
                fell_back: used.fell_back,
                error_code: error.as_ref().map(crate::llm::client::LlmError::kind).or(gone.then_some("client_gone")),
            },
        )
        .await;
        if gone {
            return;
        }
        if let Some(e) = error {
            let _ = tx.send(AiChatEvent::Error(e.to_string())).await;
        } else {
            let _ = tx
                .send(AiChatEvent::Done {
                    message: completion.message(),
                    finish_reason: completion.finish_reason.clone(),
                })
                .await;
        }
        let _ = tx.send(AiChatEvent::Usage(used)).await;
    });
    Ok(Box::pin(futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (e, rx)) })))
}

fn check_day(field: &str, value: Option<&str>, default: String) -> AppResult<String> {
    let Some(v) = value else { return Ok(default) };
    chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .map(|d| d.format("%Y-%m-%d").to_string())
        .map_err(|_| AppError::validation(field, "must be a date like 2026-12-01"))
}

/// `GET /bots/{bot_id}/ai/usage`: tokens and cost per day and model.
pub async fn usage(state: &AppState, tenant: &Tenant, bot: BotId, q: AiUsageQuery) -> AppResult<AiUsageReport> {
    let from = check_day("from", q.from.as_deref(), month_start())?;
    let to = check_day("to", q.to.as_deref(), today())?;
    if from > to {
        return Err(AppError::validation("to", "must not be before from"));
    }
    let t = tenant.clone();
    let (f, l) = (from.clone(), to.clone());
    let rows = state.db.read(move |c| Ok(store::usage_rows(c, &t, bot, &f, &l)?)).await?;
    Ok(AiUsageReport {
        total_tokens: rows.iter().map(|r| r.total_tokens).sum(),
        cost_micros: rows.iter().map(|r| r.cost_micros).sum(),
        from,
        to,
        rows,
        currency_unit: "micros".to_owned(),
    })
}

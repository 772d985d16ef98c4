//! Tool rules: validation of names, configurations and argument schemas,
//! CRUD, and the one executor every caller runs tools through.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::model::{
    CreateToolRequest, ExecutionSource, ExecutionStatus, Tool, ToolExecution, ToolFailure, ToolId, ToolOutcome,
    ToolTypeInfo, UpdateToolRequest,
};
use super::schema::{self, Issue};
use super::store::{self, ExecutionRow, ToolFields};
use super::types::{self, ExecContext, Redactor, ToolCall, ToolError, ToolType};
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::{Page, PageParams, Tenant};

/// Default and bounds of `timeout_ms`.
pub const DEFAULT_TIMEOUT_MS: i64 = 10_000;
pub const MIN_TIMEOUT_MS: i64 = 100;
pub const MAX_TIMEOUT_MS: i64 = 120_000;
/// The id of a tool that has no `tools` row (a built-in the server offers,
/// like the knowledge search of a bot's MCP endpoint): its runs are recorded
/// with `tool_id` NULL and the tool's name.
pub const BUILTIN_TOOL_ID: ToolId = ToolId(0);
/// Largest stored result, in bytes of JSON; larger results are cut to a note.
const MAX_STORED_RESULT_BYTES: usize = 256 * 1024;

pub(crate) fn not_found() -> AppError {
    AppError::new(ErrorCode::ToolNotFound, "no such tool")
}

/// The catalogue of tool types.
#[must_use]
pub fn catalogue() -> Vec<ToolTypeInfo> {
    types::TYPES
        .iter()
        .map(|t| ToolTypeInfo {
            name: t.name(),
            label: t.label(),
            description: t.description(),
            config_schema: t.config_schema(),
            config_example: t.config_example(),
            input_schema_example: t.input_schema_example(),
        })
        .collect()
}

fn check_type(raw: &str) -> AppResult<&'static dyn ToolType> {
    types::find(raw.trim()).ok_or_else(|| {
        AppError::new(ErrorCode::UnknownToolType, format!("`{raw}` is not a tool type")).with_details(
            json!({ "field": "type", "known": types::TYPES.iter().map(|t| t.name()).collect::<Vec<_>>() }),
        )
    })
}

fn check_name(raw: &str) -> AppResult<String> {
    let name = raw.trim();
    if name.is_empty() || name.len() > 64 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(AppError::validation("name", "1–64 characters: letters, digits, `_` and `-`"));
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

fn check_timeout(raw: Option<i64>) -> AppResult<i64> {
    let t = raw.unwrap_or(DEFAULT_TIMEOUT_MS);
    if !(MIN_TIMEOUT_MS..=MAX_TIMEOUT_MS).contains(&t) {
        return Err(AppError::validation(
            "timeout_ms",
            format!("must be between {MIN_TIMEOUT_MS} and {MAX_TIMEOUT_MS}"),
        ));
    }
    Ok(t)
}

/// The configuration checked against the type's schema, then by the type.
fn check_config(state: &AppState, t: &dyn ToolType, raw: Option<Value>) -> AppResult<Value> {
    let mut config = raw.unwrap_or_else(|| json!({}));
    let validator = jsonschema::validator_for(&t.config_schema()).map_err(AppError::internal)?;
    let found = schema::issues(&validator, &config);
    if !found.is_empty() {
        return Err(schema::config_error(&found));
    }
    t.check_config(state, &mut config)?;
    Ok(config)
}

fn check_input_schema(raw: Option<Value>) -> AppResult<Value> {
    let s = raw.unwrap_or_else(|| json!({ "type": "object", "properties": {}, "additionalProperties": false }));
    schema::check_input_schema(&s).map_err(|issues| schema::schema_error("input_schema", &issues))?;
    Ok(s)
}

fn name_taken() -> AppError {
    AppError::new(ErrorCode::NameTaken, "another tool of the organization has this name")
        .with_details(json!({ "field": "name" }))
}

/// Creates a tool.
pub async fn create(state: &AppState, tenant: Tenant, req: CreateToolRequest) -> AppResult<Tool> {
    let name = check_name(&req.name)?;
    let t = check_type(&req.tool_type)?;
    let description = check_description(req.description.as_deref())?;
    let config = check_config(state, t, req.config)?;
    let dictated = t.resolve(state, &tenant, &config).await?;
    let config = config.to_string();
    let input_schema = check_input_schema(req.input_schema.or(dictated))?.to_string();
    let timeout_ms = check_timeout(req.timeout_ms)?;
    let tool_type = t.name();
    state
        .db
        .write(move |tx| {
            if store::name_taken(tx, &tenant, &name, None)? {
                return Err(name_taken());
            }
            let id = store::insert(
                tx,
                &tenant,
                &ToolFields {
                    bot_id: req.bot_id,
                    name: &name,
                    description: description.as_deref(),
                    tool_type,
                    config_json: &config,
                    input_schema_json: &input_schema,
                    timeout_ms,
                    is_enabled: req.is_enabled.unwrap_or(true),
                },
            )?;
            store::find(tx, &tenant, id)?.ok_or_else(not_found)
        })
        .await
}

pub async fn get(state: &AppState, tenant: Tenant, id: ToolId) -> AppResult<Tool> {
    state.db.read(move |c| store::find(c, &tenant, id)?.ok_or_else(not_found)).await
}

/// A tool by name, organization-wide or of `bot` (what workflows and agents name tools by).
pub async fn find_by_name(
    state: &AppState,
    tenant: Tenant,
    bot: Option<crate::ids::BotId>,
    name: &str,
) -> AppResult<Option<Tool>> {
    let name = name.to_owned();
    state.db.read(move |c| Ok(store::find_by_name(c, &tenant, bot, &name)?)).await
}

pub async fn list(state: &AppState, tenant: Tenant, page: PageParams) -> AppResult<Page<Tool>> {
    let after = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state.db.read(move |c| Ok(store::list(c, &tenant, after, limit)?)).await?;
    Page::from_rows(rows, &page, |t| t.id.0)
}

/// Changes a tool; the configuration is checked again against its type.
pub async fn update(state: &AppState, tenant: Tenant, id: ToolId, req: UpdateToolRequest) -> AppResult<Tool> {
    let before = get(state, tenant.clone(), id).await?;
    let name = check_name(req.name.as_deref().unwrap_or(&before.name))?;
    let description = match &req.description {
        Some(d) => check_description(d.as_deref())?,
        None => before.description.clone(),
    };
    let (config, dictated) = match req.config {
        Some(c) => {
            let kind = check_type(&before.tool_type)?;
            let config = check_config(state, kind, Some(c))?;
            let dictated = kind.resolve(state, &tenant, &config).await?;
            (config, dictated)
        }
        None => (before.config.clone(), None),
    };
    let config = config.to_string();
    let input_schema = match req.input_schema.or(dictated) {
        Some(s) => check_input_schema(Some(s))?,
        None => before.input_schema.clone(),
    }
    .to_string();
    let timeout_ms = check_timeout(Some(req.timeout_ms.unwrap_or(before.timeout_ms)))?;
    let is_enabled = req.is_enabled.unwrap_or(before.is_enabled);
    state
        .db
        .write(move |tx| {
            if store::name_taken(tx, &tenant, &name, Some(id))? {
                return Err(name_taken());
            }
            let fields = ToolFields {
                bot_id: before.bot_id,
                name: &name,
                description: description.as_deref(),
                tool_type: &before.tool_type,
                config_json: &config,
                input_schema_json: &input_schema,
                timeout_ms,
                is_enabled,
            };
            if store::update(tx, &tenant, id, &fields)? == 0 {
                return Err(not_found());
            }
            store::find(tx, &tenant, id)?.ok_or_else(not_found)
        })
        .await
}

pub async fn delete(state: &AppState, tenant: Tenant, id: ToolId) -> AppResult<()> {
    state.db.write(move |tx| if store::delete(tx, &tenant, id)? == 0 { Err(not_found()) } else { Ok(()) }).await
}

/// A tool's runs, newest first.
pub async fn list_executions(
    state: &AppState,
    tenant: Tenant,
    id: ToolId,
    page: PageParams,
) -> AppResult<Page<ToolExecution>> {
    let before = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state.db.read(move |c| Ok(store::list_executions(c, &tenant, id, before, limit)?)).await?;
    Page::from_rows(rows, &page, |e| e.id.0)
}

/// Test-runs a tool with arguments (the tool may be switched off).
pub async fn test(state: &AppState, tenant: Tenant, id: ToolId, arguments: &Value) -> AppResult<ToolOutcome> {
    let tool = get(state, tenant.clone(), id).await?;
    execute(state, &tenant, &tool, arguments, &ExecContext::new(ExecutionSource::Test)).await
}

/// Runs `tool` with `args`: the one executor of test runs, agents,
/// workflows and flows.
///
/// Refuses before running (nothing is recorded): a switched-off tool outside
/// a test (409 `tool_disabled`), a type this server does not run (422
/// `unknown_tool_type`), arguments that do not match the tool's
/// `input_schema` (422 `tool_arguments_invalid`, every failing field's JSON
/// pointer in `details.issues`). Otherwise runs the type under the tool's
/// `timeout_ms`, removes every secret the run registered from arguments,
/// result and error, records a `tool_executions` row and returns the outcome
/// (`ok`, `error` with a stable code, or `timeout`): a failed run is an
/// outcome, not an `Err`.
pub async fn execute(
    state: &AppState,
    tenant: &Tenant,
    tool: &Tool,
    args: &Value,
    ctx: &ExecContext,
) -> AppResult<ToolOutcome> {
    if !tool.is_enabled && ctx.source != ExecutionSource::Test {
        return Err(AppError::new(ErrorCode::ToolDisabled, format!("the tool `{}` is switched off", tool.name)));
    }
    let kind = types::find(&tool.tool_type).ok_or_else(|| {
        AppError::new(ErrorCode::UnknownToolType, format!("this server does not run `{}` tools", tool.tool_type))
            .with_details(
                json!({ "field": "type", "known": types::TYPES.iter().map(|t| t.name()).collect::<Vec<_>>() }),
            )
    })?;
    let validator = schema::check_input_schema(&tool.input_schema)
        .map_err(|issues| schema::schema_error("input_schema", &issues))?;
    let issues: Vec<Issue> = schema::issues(&validator, args);
    if !issues.is_empty() {
        return Err(schema::arguments_error(&issues));
    }
    let key = ctx.idempotency_key.clone().unwrap_or_else(|| format!("toolrun_{}", crate::crypto::random_token(24)));
    let redactor = Redactor::default();
    let started = Instant::now();
    let limit = Duration::from_millis(u64::try_from(tool.timeout_ms).unwrap_or(10_000));
    let call = ToolCall {
        state,
        tenant,
        tool,
        args,
        ctx,
        idempotency_key: &key,
        deadline: started + limit,
        redactor: &redactor,
    };
    let ran = match tokio::time::timeout(limit, kind.run(call)).await {
        Ok(r) => r,
        Err(_) => Err(ToolError::Timeout(format!("the tool did not finish within {} ms", tool.timeout_ms))),
    };
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let (status, result, error) = match ran {
        Ok(v) => (ExecutionStatus::Ok, Some(redactor.value(&v)), None),
        Err(ToolError::Failed { code, message }) => {
            (ExecutionStatus::Error, None, Some(ToolFailure { code: code.into(), message: redactor.text(&message) }))
        }
        Err(ToolError::Timeout(message)) => (
            ExecutionStatus::Timeout,
            None,
            Some(ToolFailure { code: "timeout".into(), message: redactor.text(&message) }),
        ),
    };
    let input_json = redactor.value(args).to_string();
    let output_json = result.as_ref().map(|r| {
        let text = r.to_string();
        if text.len() > MAX_STORED_RESULT_BYTES {
            json!({ "truncated": true, "bytes": text.len() }).to_string()
        } else {
            text
        }
    });
    let error_json = error.as_ref().map(|e| json!({ "code": e.code, "message": e.message }).to_string());
    // A built-in tool (id 0, e.g. a bot's MCP knowledge search) has no row: its name is recorded.
    let (t, tool_id, source) = (tenant.clone(), (tool.id != BUILTIN_TOOL_ID).then_some(tool.id), ctx.source);
    let (tool_name, bot_id) = (tool.name.clone(), ctx.bot_id);
    let (agent_id, execution_id, task_id) = (ctx.agent_id, ctx.execution_id, ctx.task_id);
    let key2 = key.clone();
    let execution_id_row = state
        .db
        .write(move |tx| {
            Ok(store::insert_execution(
                tx,
                &t,
                &ExecutionRow {
                    tool_id,
                    tool_name: &tool_name,
                    bot_id,
                    agent_id,
                    execution_id,
                    task_id,
                    source: source.as_str(),
                    input_json: &input_json,
                    output_json: output_json.as_deref(),
                    status: status.as_str(),
                    error_json: error_json.as_deref(),
                    duration_ms,
                    idempotency_key: &key2,
                },
            )?)
        })
        .await?;
    Ok(ToolOutcome { execution_id: execution_id_row, status, result, error, duration_ms, idempotency_key: key })
}

/// The enabled tools bot `bot` can use (its own and the organization-wide ones), by name.
pub async fn for_bot(state: &AppState, tenant: &Tenant, bot: crate::ids::BotId) -> AppResult<Vec<Tool>> {
    let t = tenant.clone();
    state.db.read(move |c| Ok(store::list_for_bot(c, &t, bot, 500)?)).await
}

//! A bot as an MCP server (streamable HTTP transport, MCP 2025-06-18 and
//! older versions): `POST /api/v1/mcp/bots/{bot_id}` takes one JSON-RPC 2.0
//! message and answers JSON (`application/json`). It keeps no session
//! (stateless: no `Mcp-Session-Id`), offers no server-initiated stream
//! (`GET` answers 405) and no batches.
//!
//! Authentication and authorization are the API's: a bearer API token
//! (`bb_…`, possibly limited to this bot) or a browser session, scoped to
//! the bot's organization (others get 404). `initialize`, `ping` and
//! `tools/list` need `agents.read`; `tools/call` needs `agents.write`, like a
//! test run. Tools offered: the bot's enabled tools and the
//! organization-wide ones, plus `knowledge_search` over the bot's knowledge
//! bases when it has some and no tool of that name. Every call runs through
//! the one executor ([`crate::tools::execute`]): arguments validated, secrets
//! redacted, a `tool_executions` row with source `mcp`.

use serde_json::{Map, Value, json};

use super::client::{LATEST_PROTOCOL_VERSION, PROTOCOL_VERSIONS};
use crate::app::AppState;
use crate::error::{AppError, ErrorCode};
use crate::http::Tenant;
use crate::ids::BotId;
use crate::permissions::Permission;
use crate::tools::model::{ExecutionSource, ExecutionStatus, Tool};
use crate::tools::service::BUILTIN_TOOL_ID;
use crate::tools::types::ExecContext;

/// JSON-RPC error codes.
pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;
/// The caller lacks the permission of the method (server-defined range).
pub const FORBIDDEN: i64 = -32001;

/// The name of the built-in knowledge search.
pub const KNOWLEDGE_TOOL: &str = "knowledge_search";

/// What the endpoint answers.
#[derive(Debug, PartialEq)]
pub enum Reply {
    /// A JSON-RPC answer with the HTTP status to send it with.
    Message(u16, Value),
    /// A notification or response was accepted (202, no body).
    Accepted,
}

fn error(id: &Value, code: i64, message: impl Into<String>, data: Option<Value>) -> Value {
    let mut e = json!({ "code": code, "message": message.into() });
    if let Some(d) = data {
        e["data"] = d;
    }
    json!({ "jsonrpc": "2.0", "id": id, "error": e })
}

fn ok(id: &Value, result: &Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "result": result })
}

/// Handles one message for bot `bot` (`protocol_header`: the
/// `MCP-Protocol-Version` header, if sent).
pub async fn handle(
    state: &AppState,
    tenant: &Tenant,
    bot: BotId,
    bot_name: &str,
    protocol_header: Option<&str>,
    body: &[u8],
) -> Reply {
    let message: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return Reply::Message(400, error(&Value::Null, PARSE_ERROR, format!("not JSON: {e}"), None)),
    };
    if message.is_array() {
        return Reply::Message(
            400,
            error(&Value::Null, INVALID_REQUEST, "batches are not supported: send one message per request", None),
        );
    }
    if let Some(v) = protocol_header
        && !PROTOCOL_VERSIONS.contains(&v)
    {
        return Reply::Message(
            400,
            error(
                &Value::Null,
                INVALID_REQUEST,
                format!("unsupported MCP-Protocol-Version `{v}`; supported: {}", PROTOCOL_VERSIONS.join(", ")),
                None,
            ),
        );
    }
    let id = message.get("id").cloned().unwrap_or(Value::Null);
    if message["jsonrpc"] != "2.0" {
        return Reply::Message(
            400,
            error(&id, INVALID_REQUEST, "not a JSON-RPC 2.0 message (`jsonrpc`: \"2.0\")", None),
        );
    }
    let Some(method) = message["method"].as_str() else {
        // A response to a request of ours: this server sends none, accept and drop.
        if message.get("result").is_some() || message.get("error").is_some() {
            return Reply::Accepted;
        }
        return Reply::Message(400, error(&id, INVALID_REQUEST, "the message has no `method`", None));
    };
    if message.get("id").is_none() {
        // A notification (`notifications/initialized`, `notifications/cancelled`, …).
        return Reply::Accepted;
    }
    if !(id.is_string() || id.is_i64() || id.is_u64()) {
        return Reply::Message(400, error(&Value::Null, INVALID_REQUEST, "`id` must be a string or an integer", None));
    }
    let params = message.get("params").cloned().unwrap_or_else(|| json!({}));
    let answer = match method {
        "initialize" => Ok(initialize(bot_name, &params)),
        "ping" => Ok(json!({})),
        "tools/list" => list(state, tenant, bot)
            .await
            .map(|tools| json!({ "tools": tools.iter().map(describe).collect::<Vec<_>>() })),
        "tools/call" => call(state, tenant, bot, &params).await,
        other => Err((METHOD_NOT_FOUND, format!("method `{other}` is not offered by this server"), None)),
    };
    match answer {
        Ok(result) => Reply::Message(200, ok(&id, &result)),
        Err((code, message, data)) => Reply::Message(200, error(&id, code, message, data)),
    }
}

type RpcError = (i64, String, Option<Value>);

fn internal(e: &AppError) -> RpcError {
    (INTERNAL_ERROR, e.message().to_owned(), Some(json!({ "code": e.code().as_str() })))
}

fn initialize(bot_name: &str, params: &Value) -> Value {
    let asked = params["protocolVersion"].as_str().unwrap_or(LATEST_PROTOCOL_VERSION);
    let version = if PROTOCOL_VERSIONS.contains(&asked) { asked } else { LATEST_PROTOCOL_VERSION };
    json!({
        "protocolVersion": version,
        "capabilities": { "tools": { "listChanged": false } },
        "serverInfo": { "name": "botbuilder", "title": bot_name, "version": env!("CARGO_PKG_VERSION") },
        "instructions": format!("Tools of the bot `{bot_name}`: call them with arguments matching their input schemas.")
    })
}

/// The MCP description of a tool.
fn describe(tool: &Tool) -> Value {
    let mut d = json!({ "name": tool.name, "inputSchema": tool.input_schema });
    if let Some(text) = &tool.description {
        d["description"] = Value::String(text.clone());
    }
    d
}

/// The built-in knowledge search of `bot` (no `tools` row).
fn knowledge_tool(state: &AppState, tenant: &Tenant, bot: BotId) -> Tool {
    let mode = if state.config.ml.enabled { "hybrid" } else { "keyword" };
    Tool {
        id: BUILTIN_TOOL_ID,
        organization_id: tenant.org_id(),
        bot_id: Some(bot),
        name: KNOWLEDGE_TOOL.to_owned(),
        description: Some("Searches the bot's knowledge bases; returns the best passages with citations.".into()),
        tool_type: "knowledge_search".to_owned(),
        config: json!({ "top_k": 5, "mode": mode }),
        input_schema: json!({
            "type": "object",
            "properties": { "query": { "type": "string", "minLength": 1, "maxLength": 2000, "description": "What to look up" } },
            "required": ["query"],
            "additionalProperties": false
        }),
        timeout_ms: crate::tools::service::DEFAULT_TIMEOUT_MS,
        is_enabled: true,
        created_at: String::new(),
        updated_at: String::new(),
    }
}

/// The tools offered for `bot`.
async fn list(state: &AppState, tenant: &Tenant, bot: BotId) -> Result<Vec<Tool>, RpcError> {
    let mut tools = crate::tools::service::for_bot(state, tenant, bot).await.map_err(|e| internal(&e))?;
    if !tools.iter().any(|t| t.name == KNOWLEDGE_TOOL) {
        let kbs = crate::knowledge::service::bot_knowledge_bases(state, tenant, bot).await.map_err(|e| internal(&e))?;
        if !kbs.is_empty() {
            tools.push(knowledge_tool(state, tenant, bot));
        }
    }
    Ok(tools)
}

async fn call(state: &AppState, tenant: &Tenant, bot: BotId, params: &Value) -> Result<Value, RpcError> {
    if !tenant.can(Permission::AgentsWrite) {
        return Err((
            FORBIDDEN,
            "calling tools requires the `agents.write` permission".into(),
            Some(json!({ "code": ErrorCode::Forbidden.as_str(), "permission": "agents.write" })),
        ));
    }
    let Some(name) = params["name"].as_str() else {
        return Err((INVALID_PARAMS, "`params.name` names the tool to call".into(), None));
    };
    let args = match params.get("arguments") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(a @ Value::Object(_)) => a.clone(),
        Some(_) => return Err((INVALID_PARAMS, "`params.arguments` must be an object".into(), None)),
    };
    let tools = list(state, tenant, bot).await?;
    let Some(tool) = tools.iter().find(|t| t.name == name) else {
        return Err((INVALID_PARAMS, format!("unknown tool: {name}"), None));
    };
    let mut ctx = ExecContext::new(ExecutionSource::Mcp);
    ctx.bot_id = Some(bot);
    let outcome = match crate::tools::execute(state, tenant, tool, &args, &ctx).await {
        Ok(o) => o,
        Err(e) if e.code() == ErrorCode::ToolArgumentsInvalid => {
            return Err((
                INVALID_PARAMS,
                e.message().to_owned(),
                Some(json!({ "code": e.code().as_str(), "details": e.details() })),
            ));
        }
        Err(e) => return Err(internal(&e)),
    };
    Ok(match outcome.status {
        ExecutionStatus::Ok => {
            let result = outcome.result.unwrap_or(Value::Null);
            let mut r = json!({
                "content": [{ "type": "text", "text": result.to_string() }],
                "isError": false
            });
            if result.is_object() {
                r["structuredContent"] = result;
            }
            r
        }
        ExecutionStatus::Error | ExecutionStatus::Timeout => {
            let text =
                outcome.error.map_or_else(|| "the tool failed".to_owned(), |f| format!("{}: {}", f.code, f.message));
            json!({ "content": [{ "type": "text", "text": text }], "isError": true })
        }
    })
}

//! `mcp`: one tool of an MCP server the organization connected
//! (`src/mcp/`). The config names the server and the tool; the argument
//! schema is the server's (taken from its last refresh when the tool is
//! saved without one, and updated by every refresh). A run opens a session
//! with the server (streamable HTTP through the SSRF guard, the credential
//! from the vault, redacted from all that is recorded) and calls
//! `tools/call`; a result with `isError` is a failed run (`mcp_tool_error`).

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::{ToolCall, ToolError, ToolType};
use crate::app::AppState;
use crate::error::{AppError, ErrorCode};
use crate::http::Tenant;
use crate::mcp::model::McpServerId;

pub struct McpTool;

fn server_id(config: &Value) -> McpServerId {
    McpServerId(config["server_id"].as_i64().unwrap_or_default())
}

/// The text of a `tools/call` result's text items.
fn text_of(result: &Value) -> String {
    result["content"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter(|i| i["type"] == "text")
                .filter_map(|i| i["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

impl ToolType for McpTool {
    fn name(&self) -> &'static str {
        "mcp"
    }

    fn label(&self) -> &'static str {
        "MCP server tool"
    }

    fn description(&self) -> &'static str {
        "Calls a tool of a Model Context Protocol server the organization connected (streamable HTTP); the \
         argument schema comes from the server."
    }

    fn config_schema(&self) -> Value {
        json!({
            "type": "object",
            "required": ["server_id", "tool"],
            "additionalProperties": false,
            "properties": {
                "server_id": { "type": "integer", "minimum": 1, "title": "MCP server" },
                "tool": { "type": "string", "minLength": 1, "maxLength": 200, "title": "Tool name on the server" }
            }
        })
    }

    fn config_example(&self) -> Value {
        json!({ "server_id": 1, "tool": "get_forecast" })
    }

    fn input_schema_example(&self) -> Value {
        json!({
            "type": "object",
            "properties": { "city": { "type": "string" } },
            "required": ["city"]
        })
    }

    fn check_config(&self, _state: &AppState, _config: &mut Value) -> Result<(), AppError> {
        Ok(())
    }

    fn resolve<'a>(
        &'a self,
        state: &'a AppState,
        tenant: &'a Tenant,
        config: &'a Value,
    ) -> BoxFuture<'a, Result<Option<Value>, AppError>> {
        Box::pin(async move {
            let server = crate::mcp::service::get(state, tenant.clone(), server_id(config)).await.map_err(|e| {
                if e.code() == ErrorCode::McpServerNotFound {
                    AppError::new(ErrorCode::InvalidReference, "no such MCP server in this organization")
                        .with_details(json!({ "field": "config.server_id" }))
                } else {
                    e
                }
            })?;
            let name = config["tool"].as_str().unwrap_or_default();
            match crate::mcp::service::find_tool(&server, name) {
                Some(t) => Ok(Some(t.input_schema.clone())),
                None if server.status == "new" => Ok(None),
                None => Err(AppError::new(
                    ErrorCode::ToolConfigInvalid,
                    format!("`config.tool`: the MCP server `{}` has no tool `{name}` (refresh it?)", server.name),
                )
                .with_details(json!({
                    "field": "config.tool",
                    "known": server.tools.iter().map(|t| t.name.as_str()).collect::<Vec<_>>()
                }))),
            }
        })
    }

    fn run<'a>(&'a self, call: ToolCall<'a>) -> BoxFuture<'a, Result<Value, ToolError>> {
        Box::pin(async move {
            let config = &call.tool.config;
            let failed = |e: AppError| ToolError::failed(e.code().as_str(), e.message().to_owned());
            let server =
                crate::mcp::service::get(call.state, call.tenant.clone(), server_id(config)).await.map_err(failed)?;
            let endpoint = crate::mcp::service::endpoint(call.state, call.tenant, &server)
                .await
                .map_err(|e| ToolError::failed("credentials_unavailable", e.message().to_owned()))?;
            if let Some((_, value)) = &endpoint.auth {
                call.redactor.add(value);
                call.redactor.add(value.trim_start_matches(server.auth_prefix.as_str()));
            }
            let tool = config["tool"].as_str().unwrap_or_default();
            let remaining = call.remaining().max(Duration::from_millis(1));
            let result = crate::mcp::service::call_tool(call.state, &endpoint, tool, call.args, remaining)
                .await
                .map_err(|e| match e {
                    crate::mcp::client::McpError::Timeout => {
                        ToolError::Timeout("the MCP server did not answer within the tool's time limit".into())
                    }
                    other => ToolError::failed(other.code(), other.to_string()),
                })?;
            if result["isError"] == true {
                let text = text_of(&result);
                return Err(ToolError::failed(
                    "mcp_tool_error",
                    if text.is_empty() { "the MCP tool reported an error".to_owned() } else { text },
                ));
            }
            let mut out = json!({ "content": result["content"].clone(), "text": text_of(&result) });
            if let Some(structured) = result.get("structuredContent") {
                out["structured_content"] = structured.clone();
            }
            Ok(out)
        })
    }
}

//! `code`: JavaScript run in the sandbox (`src/sandbox/`, `docs/sandbox.md`).
//! The config's `source` defines `function main(args)` (it may be `async`);
//! `main` gets the validated arguments and what it returns is the result.
//! No file, network, process or timer access; CPU time, wall clock, memory
//! and output are limited by `config.limits`, each within the server's
//! `sandbox.*` maxima. Saving the tool compiles the script (nothing of it
//! runs) and refuses a syntax error with its line.

use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::{ToolCall, ToolError, ToolType};
use crate::app::AppState;
use crate::error::AppError;
use crate::sandbox::model::{LimitsRequest, LimitsResponse, MAX_SOURCE_BYTES, check_source};
use crate::sandbox::{SandboxError, compile};

pub struct CodeTool;

/// The limits of a saved config (checked when it was saved).
fn limits(state: &AppState, config: &Value) -> Result<LimitsResponse, AppError> {
    let asked: LimitsRequest = match config.get("limits") {
        None | Some(Value::Null) => LimitsRequest::default(),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| AppError::validation("config.limits", format!("limits: {e}")))?,
    };
    state.sandbox.limits("config.limits", &asked)
}

/// A sandbox failure as a tool failure with the sandbox's stable code.
fn tool_error(error: SandboxError) -> ToolError {
    let timeout = matches!(error, SandboxError::Timeout { .. });
    let app = AppError::from(error);
    if timeout {
        ToolError::Timeout(app.message().to_owned())
    } else {
        ToolError::failed(app.code().as_str(), app.message().to_owned())
    }
}

impl ToolType for CodeTool {
    fn name(&self) -> &'static str {
        "code"
    }

    fn label(&self) -> &'static str {
        "Code (JavaScript)"
    }

    fn description(&self) -> &'static str {
        "Runs your JavaScript `function main(args)` in a sandbox (no files, network or timers; CPU, memory and \
         output limits); what it returns is the result."
    }

    fn config_schema(&self) -> Value {
        json!({
            "type": "object",
            "required": ["source"],
            "additionalProperties": false,
            "properties": {
                "source": {
                    "type": "string", "minLength": 1, "maxLength": MAX_SOURCE_BYTES,
                    "title": "JavaScript defining function main(args)"
                },
                "limits": {
                    "type": "object",
                    "additionalProperties": false,
                    "title": "Limits (each at most the server's maximum; unset: the maximum)",
                    "properties": {
                        "cpu_ms": { "type": "integer", "minimum": 1, "title": "CPU time (ms)" },
                        "wall_ms": { "type": "integer", "minimum": 1, "title": "Wall-clock time (ms)" },
                        "memory_mb": { "type": "integer", "minimum": 4, "title": "Memory (MiB)" },
                        "output_bytes": { "type": "integer", "minimum": 1024, "title": "Result and logs (bytes)" }
                    }
                }
            }
        })
    }

    fn config_example(&self) -> Value {
        json!({
            "source": "function main(args) {\n  const total = args.items.reduce((sum, i) => sum + i.price * i.qty, 0);\n  return { total: Math.round(total * 100) / 100 };\n}",
            "limits": { "cpu_ms": 500, "memory_mb": 16 }
        })
    }

    fn input_schema_example(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": { "price": { "type": "number" }, "qty": { "type": "integer", "minimum": 1 } },
                        "required": ["price", "qty"]
                    }
                }
            },
            "required": ["items"],
            "additionalProperties": false
        })
    }

    fn check_config(&self, state: &AppState, config: &mut Value) -> Result<(), AppError> {
        let source = config["source"].as_str().unwrap_or_default().to_owned();
        check_source("config.source", &source)?;
        limits(state, config)?;
        compile(&source).map_err(|e| {
            let error = AppError::from(e);
            // Name the config field rather than the test-run's `source`.
            let mut details = error.details().cloned().unwrap_or_else(|| json!({}));
            details["field"] = json!("config.source");
            AppError::new(error.code(), error.message().to_owned()).with_details(details)
        })
    }

    fn run<'a>(&'a self, call: ToolCall<'a>) -> BoxFuture<'a, Result<Value, ToolError>> {
        Box::pin(async move {
            let config = &call.tool.config;
            let source = config["source"].as_str().unwrap_or_default().to_owned();
            let mut limits = limits(call.state, config)
                .map_err(|e| ToolError::failed("tool_misconfigured", e.message().to_owned()))?;
            // The tool's own timeout bounds the run too (at least 1 ms of CPU time).
            let remaining = u64::try_from(call.remaining().as_millis()).unwrap_or(u64::MAX).max(1);
            limits.wall_ms = limits.wall_ms.min(remaining);
            limits.cpu_ms = limits.cpu_ms.min(limits.wall_ms);
            let output = call.state.sandbox.run(source, call.args.clone(), limits).await.map_err(tool_error)?;
            Ok(output.result)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_errors_keep_their_codes() {
        let err = tool_error(SandboxError::MemoryExceeded { limit_bytes: 1, logs: Vec::new() });
        assert!(matches!(err, ToolError::Failed { code: "sandbox_memory_exceeded", .. }), "{err:?}");
        let err =
            tool_error(SandboxError::Timeout { limit: crate::sandbox::TimeLimit::Cpu, limit_ms: 5, logs: Vec::new() });
        assert!(matches!(err, ToolError::Timeout(_)), "{err:?}");
    }
}

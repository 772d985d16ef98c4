//! Request and response types of the sandbox routes, and the limits a run
//! may ask for.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::engine::{LogLine, Output, SandboxError, TimeLimit};
use crate::error::{AppError, ErrorCode};

/// Longest script accepted, in bytes.
pub const MAX_SOURCE_BYTES: usize = 256 * 1024;

/// Limits a run asks for; each is optional (the server maximum applies) and
/// none may exceed the server's maximum (`sandbox.*` settings).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsRequest {
    /// CPU time in milliseconds (at most `sandbox.max_cpu_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_ms: Option<u64>,
    /// Wall-clock time in milliseconds (at most `sandbox.max_wall_ms`, at least `cpu_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_ms: Option<u64>,
    /// JS heap in MiB (4 to `sandbox.max_memory_mb`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u64>,
    /// Result plus console output in bytes (1024 to `sandbox.max_output_bytes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_bytes: Option<u64>,
}

/// The limits a run gets, as reported back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LimitsResponse {
    pub cpu_ms: u64,
    pub wall_ms: u64,
    pub memory_mb: u64,
    pub output_bytes: u64,
}

/// Runs a script once with the given arguments (a code tool's test-run).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunCodeRequest {
    /// JavaScript defining `function main(args)` (may be `async`); what it
    /// returns is the result, as JSON.
    pub source: String,
    /// The arguments passed to `main` (default `{}`).
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub args: Value,
    /// Limits below the server's maxima (default: the maxima).
    #[serde(default)]
    pub limits: LimitsRequest,
}

fn empty_object() -> Value {
    json!({})
}

/// What a run produced.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RunCodeResponse {
    /// `main`'s return value (or what its promise resolved to); `null` for `undefined`.
    #[schema(value_type = Object)]
    pub result: Value,
    /// Lines written with `console.log`, `info`, `warn`, `error` and `debug`.
    pub logs: Vec<LogLine>,
    /// CPU time used, in milliseconds.
    pub cpu_ms: f64,
    /// Wall-clock time, in milliseconds.
    pub wall_ms: f64,
    /// JS heap in use at the end, in bytes.
    pub memory_bytes: usize,
    /// The limits the run had.
    pub limits: LimitsResponse,
}

impl RunCodeResponse {
    #[must_use]
    pub fn new(output: Output, limits: LimitsResponse) -> Self {
        Self {
            result: output.result,
            logs: output.logs,
            cpu_ms: output.cpu.as_secs_f64() * 1000.0,
            wall_ms: output.wall.as_secs_f64() * 1000.0,
            memory_bytes: output.memory_bytes,
            limits,
        }
    }
}

/// Checks a script's size before it goes near the engine.
pub fn check_source(field: &str, source: &str) -> Result<(), AppError> {
    if source.trim().is_empty() {
        return Err(AppError::validation(field, "the code is empty: define `function main(args) { … }`"));
    }
    if source.len() > MAX_SOURCE_BYTES {
        return Err(AppError::validation(field, format!("the code is longer than {MAX_SOURCE_BYTES} bytes")));
    }
    Ok(())
}

impl From<SandboxError> for AppError {
    fn from(error: SandboxError) -> Self {
        let message = error.to_string();
        match error {
            SandboxError::Timeout { limit, limit_ms, logs } => {
                let limit = match limit {
                    TimeLimit::Cpu => "cpu",
                    TimeLimit::Wall => "wall",
                };
                AppError::new(ErrorCode::SandboxTimeout, message)
                    .with_details(json!({ "field": "source", "limit": limit, "limit_ms": limit_ms, "logs": logs }))
            }
            SandboxError::MemoryExceeded { limit_bytes, logs } => {
                AppError::new(ErrorCode::SandboxMemoryExceeded, message)
                    .with_details(json!({ "field": "source", "limit_bytes": limit_bytes, "logs": logs }))
            }
            SandboxError::OutputTooLarge { limit_bytes, logs } => {
                AppError::new(ErrorCode::SandboxOutputTooLarge, message)
                    .with_details(json!({ "field": "source", "limit_bytes": limit_bytes, "logs": logs }))
            }
            SandboxError::Script { name, message, line, column, stack, logs } => {
                let text = match line {
                    Some(line) => format!("{name} at line {line}: {message}"),
                    None => format!("{name}: {message}"),
                };
                AppError::new(ErrorCode::SandboxScriptError, text).with_details(json!({
                    "field": "source", "name": name, "message": message, "line": line, "column": column,
                    "stack": stack, "logs": logs,
                }))
            }
            SandboxError::Busy => AppError::new(ErrorCode::Overloaded, message)
                .with_details(json!({ "reason": "sandbox_busy", "retry_after_secs": 1 })),
            SandboxError::Internal(cause) => AppError::internal(anyhow::anyhow!(cause)),
        }
    }
}

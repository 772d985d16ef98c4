//! The tool types and their registry.
//!
//! # Adding a tool type
//!
//! A type is a unit struct implementing [`ToolType`], listed in [`TYPES`].
//! The framework does everything around it:
//!
//! 1. **Saving a tool**: the `config` is checked against
//!    [`ToolType::config_schema`] (JSON Schema; errors answer 422
//!    `tool_config_invalid` with the JSON pointer), then
//!    [`ToolType::check_config`] may normalise it and refuse what a schema
//!    cannot say (e.g. a URL the outbound policy refuses).
//! 2. **Running it**: [`crate::tools::execute`] validates the arguments
//!    against the tool's `input_schema` (422 `tool_arguments_invalid`),
//!    then calls [`ToolType::run`] under the tool's `timeout_ms` (exceeding
//!    it ends the run with status `timeout`; types that block a thread, like
//!    `database`, also honour [`ToolCall::deadline`] themselves), then
//!    redacts every secret the run registered with [`Redactor::add`] from
//!    arguments, result and error, records a `tool_executions` row and
//!    returns a [`crate::tools::model::ToolOutcome`].
//!
//! `run` returns the result as JSON, or a [`ToolError`] with a stable code.
//! It must never put a credential in its result unregistered: register every
//! secret it reads (vault tokens, signing keys) before using it.

pub mod code;
pub mod database;
pub mod flow_action;
pub mod http;
pub mod knowledge_search;
pub mod mcp;
pub mod postgres;
pub mod webhook;

use std::sync::Mutex;
use std::time::Instant;

use futures_util::future::BoxFuture;
use serde_json::{Map, Value};

use super::model::{ExecutionSource, Tool};
use crate::app::AppState;
use crate::error::AppError;
use crate::flows::template::Template;
use crate::http::Tenant;
use crate::ids::BotId;

/// Every tool type this server runs, in catalogue order.
pub static TYPES: &[&dyn ToolType] = &[
    &http::HttpTool,
    &knowledge_search::KnowledgeSearchTool,
    &database::DatabaseTool,
    &flow_action::FlowActionTool,
    &webhook::WebhookTool,
    &code::CodeTool,
    &mcp::McpTool,
];

/// The type named `name`, if this server has it.
#[must_use]
pub fn find(name: &str) -> Option<&'static dyn ToolType> {
    TYPES.iter().copied().find(|t| t.name() == name)
}

/// A kind of tool: its settings and how it runs.
pub trait ToolType: Send + Sync {
    /// The stored and wire name, e.g. `http`.
    fn name(&self) -> &'static str;
    /// A short human name for the UI.
    fn label(&self) -> &'static str;
    /// One or two sentences for the catalogue.
    fn description(&self) -> &'static str;
    /// JSON Schema of the type's `config`.
    fn config_schema(&self) -> Value;
    /// A config that works as a starting point.
    fn config_example(&self) -> Value;
    /// An argument schema that suits [`ToolType::config_example`].
    fn input_schema_example(&self) -> Value;
    /// Checks what the schema cannot and normalises `config` in place (the
    /// schema check has passed). Errors name the field (`config.url`).
    fn check_config(&self, state: &AppState, config: &mut Value) -> Result<(), AppError>;
    /// Checks what the config refers to inside the organization (called
    /// after [`ToolType::check_config`] when a tool is saved) and returns the
    /// argument schema the type dictates, if any (`mcp`: the server's, used
    /// when the request gives none). Errors name the field.
    fn resolve<'a>(
        &'a self,
        _state: &'a AppState,
        _tenant: &'a Tenant,
        _config: &'a Value,
    ) -> BoxFuture<'a, Result<Option<Value>, AppError>> {
        Box::pin(async { Ok(None) })
    }
    /// Runs the tool with arguments that match its `input_schema`.
    fn run<'a>(&'a self, call: ToolCall<'a>) -> BoxFuture<'a, Result<Value, ToolError>>;
}

/// Everything a run gets.
pub struct ToolCall<'a> {
    pub state: &'a AppState,
    pub tenant: &'a Tenant,
    pub tool: &'a Tool,
    /// The arguments, validated against the tool's `input_schema`.
    pub args: &'a Value,
    pub ctx: &'a ExecContext,
    /// Unique per execution unless the caller passes one to retry with
    /// ([`ExecContext::idempotency_key`]); HTTP and webhook tools send it as
    /// `Idempotency-Key`.
    pub idempotency_key: &'a str,
    /// When the run's time is up (the executor stops waiting then).
    pub deadline: Instant,
    /// Register every secret the run reads here: it is removed from all
    /// that is stored and returned.
    pub redactor: &'a Redactor,
}

impl ToolCall<'_> {
    /// The arguments as a map (the root of an argument schema is an object).
    #[must_use]
    pub fn args_map(&self) -> Map<String, Value> {
        self.args.as_object().cloned().unwrap_or_default()
    }

    /// Time left before the deadline.
    #[must_use]
    pub fn remaining(&self) -> std::time::Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

/// Who runs a tool and on behalf of what.
#[derive(Debug, Clone)]
pub struct ExecContext {
    pub source: ExecutionSource,
    /// The bot the call is for (knowledge search uses its knowledge bases).
    pub bot_id: Option<BotId>,
    pub agent_id: Option<i64>,
    /// A `workflow_executions` row.
    pub execution_id: Option<i64>,
    /// An `agent_tasks` row.
    pub task_id: Option<i64>,
    /// A stable key for this call: an agent or workflow retrying the same
    /// step passes the same key, so the receiver can drop the duplicate.
    /// `None`: a new random key.
    pub idempotency_key: Option<String>,
}

impl ExecContext {
    /// A context with only a source.
    #[must_use]
    pub fn new(source: ExecutionSource) -> ExecContext {
        ExecContext { source, bot_id: None, agent_id: None, execution_id: None, task_id: None, idempotency_key: None }
    }
}

/// Why a run failed.
#[derive(Debug, Clone)]
pub enum ToolError {
    /// The run failed; `code` is stable (`url_not_allowed`, `http_status`, …).
    Failed { code: &'static str, message: String },
    /// The run exceeded its time.
    Timeout(String),
}

impl ToolError {
    pub fn failed(code: &'static str, message: impl Into<String>) -> ToolError {
        ToolError::Failed { code, message: message.into() }
    }
}

/// The text secrets are replaced with.
pub const REDACTED: &str = "[redacted]";

/// Collects the secrets of a run and removes them from what is stored and returned.
#[derive(Debug, Default)]
pub struct Redactor {
    secrets: Mutex<Vec<String>>,
}

impl Redactor {
    /// Registers a secret (values shorter than 4 characters are too common
    /// to replace and are not accepted as secrets anywhere in the server).
    pub fn add(&self, secret: &str) {
        if secret.len() >= 4
            && let Ok(mut s) = self.secrets.lock()
            && !s.iter().any(|x| x == secret)
        {
            s.push(secret.to_owned());
            // Longest first, so a secret containing another is replaced whole.
            s.sort_by_key(|x| std::cmp::Reverse(x.len()));
        }
    }

    /// `text` with every registered secret replaced.
    #[must_use]
    pub fn text(&self, text: &str) -> String {
        let Ok(secrets) = self.secrets.lock() else { return REDACTED.to_owned() };
        let mut out = text.to_owned();
        for s in secrets.iter() {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), REDACTED);
            }
        }
        out
    }

    /// `value` with every registered secret replaced in keys and strings,
    /// and the values of credential-bearing keys (`authorization`, `cookie`,
    /// `set-cookie`, `proxy-authorization`) replaced whole.
    #[must_use]
    pub fn value(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.text(s)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.value(v)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        let sensitive = matches!(
                            k.to_ascii_lowercase().as_str(),
                            "authorization" | "cookie" | "set-cookie" | "proxy-authorization"
                        );
                        let v = if sensitive { Value::String(REDACTED.into()) } else { self.value(v) };
                        (self.text(k), v)
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// Checks that every string in `value` is a valid `{{ … }}` template;
/// errors name `field` plus the JSON pointer (`config.body.user.name`).
pub fn check_templates(value: &Value, field: &str) -> Result<(), AppError> {
    match value {
        Value::String(s) => Template::parse(s).map(|_| ()).map_err(|e| {
            AppError::new(crate::error::ErrorCode::ToolConfigInvalid, format!("`{field}`: {}", e.message))
                .with_details(serde_json::json!({ "field": field }))
        }),
        Value::Array(items) => {
            items.iter().enumerate().try_for_each(|(i, v)| check_templates(v, &format!("{field}[{i}]")))
        }
        Value::Object(map) => map.iter().try_for_each(|(k, v)| check_templates(v, &format!("{field}.{k}"))),
        _ => Ok(()),
    }
}

/// Renders the templates in a JSON document from the arguments: a string
/// that is exactly one placeholder yields the argument's typed value, so an
/// argument can never change the document's shape.
pub fn render_json(value: &Value, args: &Map<String, Value>) -> Result<Value, ToolError> {
    Ok(match value {
        Value::String(s) => Template::parse(s)
            .map_err(|e| ToolError::failed("template_invalid", e.message))?
            .render_value(args)
            .map_err(|e| ToolError::failed("template_failed", e.0))?,
        Value::Array(items) => Value::Array(items.iter().map(|v| render_json(v, args)).collect::<Result<_, _>>()?),
        Value::Object(map) => Value::Object(
            map.iter().map(|(k, v)| Ok((k.clone(), render_json(v, args)?))).collect::<Result<_, ToolError>>()?,
        ),
        other => other.clone(),
    })
}

/// Renders a text template from the arguments (`url`: values percent-encoded).
pub fn render_text(src: &str, args: &Map<String, Value>, url: bool) -> Result<String, ToolError> {
    let t = Template::parse(src).map_err(|e| ToolError::failed("template_invalid", e.message))?;
    let rendered = if url { t.render_url(args) } else { t.render_header(args) };
    rendered.map_err(|e| ToolError::failed("template_failed", e.0))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_type_has_a_unique_name_and_its_examples_are_valid() {
        let mut seen = std::collections::HashSet::new();
        for t in TYPES {
            assert!(seen.insert(t.name()), "duplicate {}", t.name());
            let validator = jsonschema::validator_for(&t.config_schema()).expect("config schema compiles");
            assert!(validator.is_valid(&t.config_example()), "{}: example config fits its schema", t.name());
            assert!(
                crate::tools::schema::check_input_schema(&t.input_schema_example()).is_ok(),
                "{}: argument example",
                t.name()
            );
        }
    }

    #[test]
    fn secrets_are_replaced_in_keys_strings_and_credential_headers() {
        let r = Redactor::default();
        r.add("sk-live-123456");
        r.add("abc");
        let v = r.value(&json!({
            "echo": "Bearer sk-live-123456!",
            "sk-live-123456": 1,
            "headers": { "Authorization": "Basic xyz", "x": "abc" },
            "list": ["sk-live-123456"]
        }));
        let text = v.to_string();
        assert!(!text.contains("sk-live-123456"), "{text}");
        assert_eq!(v["headers"]["Authorization"], REDACTED);
        assert_eq!(v["headers"]["x"], "abc", "too short to be a secret");
        assert_eq!(v["echo"], "Bearer [redacted]!");
    }
}

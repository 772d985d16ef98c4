//! `flow_action`: asks the conversation runtime to do something — set a
//! variable, hand the conversation to a human, jump to another flow. The
//! tool changes nothing itself; its result is a structured action that the
//! runtime or agent applies (documented in `docs/tools.md`):
//!
//! - `{"action": "set_variable", "variable": "plan", "value": <any JSON>}`
//! - `{"action": "handoff", "reason": "customer asks for a refund", "team_id": 3}`
//! - `{"action": "jump_to_flow", "flow": "returns", "node": "start"}`
//!
//! Strings of the config are templates over the arguments (`{{plan}}`).

use futures_util::future::BoxFuture;
use serde_json::{Map, Value, json};

use super::{ToolCall, ToolError, ToolType, check_templates, render_json, render_text};
use crate::app::AppState;
use crate::error::AppError;

pub struct FlowActionTool;

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 64
}

impl ToolType for FlowActionTool {
    fn name(&self) -> &'static str {
        "flow_action"
    }

    fn label(&self) -> &'static str {
        "Flow action"
    }

    fn description(&self) -> &'static str {
        "Sets a conversation variable, hands the conversation to a human or jumps to another flow. Returns the \
         action for the runtime to apply."
    }

    fn config_schema(&self) -> Value {
        json!({
            "type": "object",
            "required": ["action"],
            "additionalProperties": false,
            "properties": {
                "action": { "enum": ["set_variable", "handoff", "jump_to_flow"], "title": "Action" },
                "variable": { "type": "string", "title": "Variable (set_variable)", "maxLength": 64 },
                "value": { "title": "Value (set_variable; templates over the arguments, default {{value}})" },
                "reason": { "type": "string", "title": "Reason (handoff)", "maxLength": 500 },
                "team_id": { "type": "integer", "minimum": 1, "title": "Team (handoff)" },
                "flow": { "type": "string", "title": "Flow name (jump_to_flow)", "minLength": 1, "maxLength": 200 },
                "node": { "type": "string", "title": "Node id (jump_to_flow, default: the flow's start)", "maxLength": 200 }
            }
        })
    }

    fn config_example(&self) -> Value {
        json!({ "action": "set_variable", "variable": "plan", "value": "{{plan}}" })
    }

    fn input_schema_example(&self) -> Value {
        json!({
            "type": "object",
            "properties": { "plan": { "type": "string", "enum": ["basic", "pro"] } },
            "required": ["plan"],
            "additionalProperties": false
        })
    }

    fn check_config(&self, _state: &AppState, config: &mut Value) -> Result<(), AppError> {
        let action = config["action"].as_str().unwrap_or_default().to_owned();
        match action.as_str() {
            "set_variable" => {
                let variable = config["variable"].as_str().unwrap_or_default();
                if !is_identifier(variable) {
                    return Err(AppError::validation(
                        "config.variable",
                        "a variable name: letters, digits and `_`, not starting with a digit",
                    ));
                }
                if config.get("value").is_none() {
                    config["value"] = Value::String("{{value}}".into());
                }
                check_templates(&config["value"], "config.value")
            }
            "handoff" => check_templates(&config["reason"], "config.reason"),
            "jump_to_flow" => {
                if config["flow"].as_str().is_none_or(|f| f.trim().is_empty()) {
                    return Err(AppError::validation("config.flow", "name the flow to jump to"));
                }
                check_templates(&config["flow"], "config.flow")?;
                check_templates(&config["node"], "config.node")
            }
            _ => Err(AppError::validation("config.action", "set_variable, handoff or jump_to_flow")),
        }
    }

    fn run<'a>(&'a self, call: ToolCall<'a>) -> BoxFuture<'a, Result<Value, ToolError>> {
        Box::pin(async move {
            let config = &call.tool.config;
            let args: Map<String, Value> = call.args_map();
            let text = |key: &str| -> Result<Option<String>, ToolError> {
                config[key].as_str().map(|s| render_text(s, &args, false)).transpose()
            };
            match config["action"].as_str() {
                Some("set_variable") => Ok(json!({
                    "action": "set_variable",
                    "variable": config["variable"],
                    "value": render_json(&config["value"], &args)?,
                })),
                Some("handoff") => Ok(json!({
                    "action": "handoff",
                    "reason": text("reason")?,
                    "team_id": config.get("team_id").cloned().unwrap_or(Value::Null),
                })),
                Some("jump_to_flow") => Ok(json!({
                    "action": "jump_to_flow",
                    "flow": text("flow")?,
                    "node": text("node")?,
                })),
                _ => Err(ToolError::failed("tool_misconfigured", "the tool's action is not one this server knows")),
            }
        })
    }
}

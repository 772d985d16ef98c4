//! Anthropic's Messages API as a provider format (`kind: "anthropic"`):
//! `POST {base_url}/messages` with `x-api-key` and `anthropic-version`, the
//! system prompt top-level (`system`), tools as `{name, description,
//! input_schema}`, the model's calls as `tool_use` content blocks and their
//! results sent back as `tool_result` blocks in a user turn; streamed as
//! `message_start` / `content_block_start` / `content_block_delta`
//! (`text_delta`, `input_json_delta`) / `message_delta` (stop reason, usage)
//! / `message_stop` events.
//!
//! Everything else (the agent loop, fallback, accounting) sees the same
//! [`Message`] / [`Completion`] / [`Delta`] as with an `OpenAI`-compatible
//! provider: this module only translates. Stop reasons are given their
//! `OpenAI` names (`tool_use` → `tool_calls`, `end_turn` → `stop`,
//! `max_tokens` → `length`) and usage as prompt/completion tokens.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{Map, Value, json};

use super::client::{
    ChatOptions, Completion, Delta, FunctionCall, LlmError, Message, ProviderConfig, ToolCall, ToolCallDelta,
    ToolChoice, ToolChoiceMode, Usage,
};

/// The `anthropic-version` header sent with every request.
pub const VERSION: &str = "2023-06-01";

/// `max_tokens` is required by the Messages API; used when none is set.
pub const DEFAULT_MAX_TOKENS: u32 = 1024;

/// The arguments text of a call as a JSON object (`tool_use.input` must be
/// one; malformed arguments the model wrote become `{}`, the error having
/// been reported to it as the call's result already).
fn input_of(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({}),
    }
}

/// Adds content blocks as a turn of `role`, joined with the previous turn
/// when that has the same role (the API wants user and assistant turns to
/// alternate; several tool results go in one user turn).
fn push_turn(turns: &mut Vec<Value>, role: &str, blocks: Vec<Value>) {
    if blocks.is_empty() {
        return;
    }
    if let Some(last) = turns.last_mut()
        && last["role"] == role
        && let Some(content) = last["content"].as_array_mut()
    {
        content.extend(blocks);
        return;
    }
    turns.push(json!({ "role": role, "content": blocks }));
}

/// The request body of the Messages API.
#[must_use]
pub fn body(p: &ProviderConfig, messages: &[Message], opts: &ChatOptions, stream: bool) -> Value {
    let mut system: Vec<&str> = Vec::new();
    let mut turns: Vec<Value> = Vec::new();
    for m in messages {
        match m.role.as_str() {
            "system" | "developer" => system.push(m.text()),
            "assistant" => {
                let mut blocks = Vec::new();
                if !m.text().is_empty() {
                    blocks.push(json!({ "type": "text", "text": m.text() }));
                }
                for c in &m.tool_calls {
                    blocks.push(json!({ "type": "tool_use", "id": c.id, "name": c.function.name,
                                        "input": input_of(&c.function.arguments) }));
                }
                push_turn(&mut turns, "assistant", blocks);
            }
            "tool" => {
                let block = json!({ "type": "tool_result", "tool_use_id": m.tool_call_id.clone().unwrap_or_default(),
                                    "content": m.text() });
                push_turn(&mut turns, "user", vec![block]);
            }
            _ => push_turn(&mut turns, "user", vec![json!({ "type": "text", "text": m.text() })]),
        }
    }
    let mut body = json!({
        "model": p.model,
        "max_tokens": opts.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
        "messages": turns,
        "stream": stream,
    });
    if opts.json_object {
        system.push("Answer with one JSON object and nothing else.");
    }
    let system: Vec<&str> = system.into_iter().filter(|s| !s.is_empty()).collect();
    if !system.is_empty() {
        body["system"] = json!(system.join("\n\n"));
    }
    if let Some(t) = opts.temperature {
        body["temperature"] = json!((f64::from(t) * 1000.0).round() / 1000.0);
    }
    if !opts.tools.is_empty() {
        let tools: Vec<Value> = opts
            .tools
            .iter()
            .map(|t| {
                let mut tool = Map::new();
                tool.insert("name".into(), json!(t.function.name));
                if let Some(d) = &t.function.description {
                    tool.insert("description".into(), json!(d));
                }
                tool.insert("input_schema".into(), t.function.parameters.clone());
                Value::Object(tool)
            })
            .collect();
        body["tools"] = Value::Array(tools);
        if let Some(choice) = &opts.tool_choice {
            body["tool_choice"] = match choice {
                ToolChoice::Mode(ToolChoiceMode::Auto) => json!({ "type": "auto" }),
                ToolChoice::Mode(ToolChoiceMode::None) => json!({ "type": "none" }),
                ToolChoice::Mode(ToolChoiceMode::Required) => json!({ "type": "any" }),
                ToolChoice::Function(f) => json!({ "type": "tool", "name": f.function.name }),
            };
        }
    }
    body
}

/// A stop reason under its `OpenAI` name.
fn finish_reason(stop: &str) -> String {
    match stop {
        "tool_use" => "tool_calls",
        "end_turn" | "stop_sequence" => "stop",
        "max_tokens" => "length",
        other => other,
    }
    .to_owned()
}

fn usage_of(u: &Value, input_before: u64) -> Usage {
    let prompt = u.get("input_tokens").and_then(Value::as_u64).unwrap_or(input_before)
        + u.get("cache_creation_input_tokens").and_then(Value::as_u64).unwrap_or(0)
        + u.get("cache_read_input_tokens").and_then(Value::as_u64).unwrap_or(0);
    let completion = u.get("output_tokens").and_then(Value::as_u64).unwrap_or(0);
    Usage { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion }
}

/// Reads a (non-streamed) `message` response.
pub fn parse_message(v: &Value, model: &str, attempts: u32) -> Result<Completion, LlmError> {
    let blocks = v.get("content").and_then(Value::as_array).ok_or_else(|| LlmError::Garbage("no content".into()))?;
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for b in blocks {
        match b.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(b.get("text").and_then(Value::as_str).unwrap_or("")),
            Some("tool_use") => {
                let name = b
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| LlmError::Garbage("tool_use without a name".into()))?;
                tool_calls.push(ToolCall {
                    id: b.get("id").and_then(Value::as_str).unwrap_or_default().to_owned(),
                    kind: "function".into(),
                    function: FunctionCall {
                        name: name.to_owned(),
                        arguments: b.get("input").map_or_else(|| "{}".to_owned(), Value::to_string),
                    },
                });
            }
            // Thinking and other blocks are not part of the answer.
            _ => {}
        }
    }
    Ok(Completion {
        text,
        tool_calls,
        finish_reason: v.get("stop_reason").and_then(Value::as_str).map(finish_reason),
        usage: v.get("usage").filter(|u| u.is_object()).map(|u| usage_of(u, 0)),
        model: v.get("model").and_then(Value::as_str).unwrap_or(model).to_owned(),
        attempts,
    })
}

/// What a stream has said so far that later events need.
#[derive(Debug, Default)]
pub struct StreamState {
    /// `message_start.message.usage.input_tokens`.
    input_tokens: u64,
    /// `tool_use` blocks by index: whether any `input_json_delta` came.
    tool_blocks: BTreeMap<u64, bool>,
}

impl StreamState {
    /// Turns one event into deltas; `true` when the message is complete.
    pub fn event(&mut self, v: &Value, out: &mut VecDeque<Result<Delta, LlmError>>) -> bool {
        let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
        let call_index = u32::try_from(index).unwrap_or(u32::MAX);
        match v.get("type").and_then(Value::as_str) {
            Some("message_start") => {
                if let Some(u) = v.pointer("/message/usage") {
                    self.input_tokens = usage_of(u, 0).prompt_tokens;
                }
            }
            Some("content_block_start") => {
                let block = v.get("content_block").cloned().unwrap_or(Value::Null);
                match block.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        if let Some(t) = block.get("text").and_then(Value::as_str).filter(|t| !t.is_empty()) {
                            out.push_back(Ok(Delta::Token(t.to_owned())));
                        }
                    }
                    Some("tool_use") => {
                        self.tool_blocks.insert(index, false);
                        out.push_back(Ok(Delta::ToolCall(ToolCallDelta {
                            index: call_index,
                            id: block.get("id").and_then(Value::as_str).map(str::to_owned),
                            name: block.get("name").and_then(Value::as_str).map(str::to_owned),
                            arguments: String::new(),
                        })));
                    }
                    _ => {}
                }
            }
            Some("content_block_delta") => {
                let delta = v.get("delta").cloned().unwrap_or(Value::Null);
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => {
                        if let Some(t) = delta.get("text").and_then(Value::as_str).filter(|t| !t.is_empty()) {
                            out.push_back(Ok(Delta::Token(t.to_owned())));
                        }
                    }
                    Some("input_json_delta") => {
                        let part = delta.get("partial_json").and_then(Value::as_str).unwrap_or("");
                        if let Some(seen) = self.tool_blocks.get_mut(&index) {
                            *seen |= !part.is_empty();
                        }
                        out.push_back(Ok(Delta::ToolCall(ToolCallDelta {
                            index: call_index,
                            id: None,
                            name: None,
                            arguments: part.to_owned(),
                        })));
                    }
                    _ => {}
                }
            }
            // A call without arguments streams none: its input is `{}`.
            Some("content_block_stop") if self.tool_blocks.get(&index) == Some(&false) => {
                self.tool_blocks.insert(index, true);
                out.push_back(Ok(Delta::ToolCall(ToolCallDelta {
                    index: call_index,
                    id: None,
                    name: None,
                    arguments: "{}".into(),
                })));
            }
            Some("message_delta") => {
                if let Some(stop) = v.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    out.push_back(Ok(Delta::Finish(finish_reason(stop))));
                }
                if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
                    let mut usage = usage_of(u, self.input_tokens);
                    if usage.prompt_tokens == 0 {
                        usage.prompt_tokens = self.input_tokens;
                        usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
                    }
                    out.push_back(Ok(Delta::Usage(usage)));
                }
            }
            Some("message_stop") => return true,
            // `ping` and unknown events (the API may add some) are skipped.
            _ => {}
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::llm::client::{Accumulator, ApiFormat, Tool};

    fn provider() -> ProviderConfig {
        ProviderConfig {
            base_url: "http://x/v1".into(),
            model: "claude-test".into(),
            api_key: None,
            timeout: Duration::from_secs(1),
            max_retries: 0,
            format: ApiFormat::Anthropic,
        }
    }

    #[test]
    fn the_body_has_system_top_level_tools_with_input_schema_and_tool_blocks() {
        let call = ToolCall {
            id: "toolu_1".into(),
            kind: "function".into(),
            function: FunctionCall { name: "lookup".into(), arguments: r#"{"id": 42}"#.into() },
        };
        let call2 = ToolCall {
            id: "toolu_2".into(),
            kind: "function".into(),
            function: FunctionCall { name: "lookup".into(), arguments: "not json".into() },
        };
        let messages = vec![
            Message::new("system", "Be brief."),
            Message::new("user", "Where is 42?"),
            Message::assistant_tool_calls(Some("Looking.".into()), vec![call, call2]),
            Message::tool_result("toolu_1", "shipped"),
            Message::tool_result("toolu_2", "error"),
        ];
        let opts = ChatOptions {
            tools: vec![Tool::function("lookup", Some("Finds an order".into()), json!({"type":"object"}))],
            tool_choice: Some(ToolChoice::Mode(ToolChoiceMode::Required)),
            temperature: Some(0.2),
            ..ChatOptions::default()
        };
        let b = body(&provider(), &messages, &opts, true);
        assert_eq!(b["system"], "Be brief.");
        assert_eq!(b["max_tokens"], DEFAULT_MAX_TOKENS);
        assert_eq!(b["stream"], true);
        assert_eq!(b["temperature"], 0.2);
        assert_eq!(
            b["tools"],
            json!([{ "name": "lookup", "description": "Finds an order", "input_schema": { "type": "object" } }])
        );
        assert_eq!(b["tool_choice"], json!({ "type": "any" }));
        assert_eq!(
            b["messages"],
            json!([
                { "role": "user", "content": [{ "type": "text", "text": "Where is 42?" }] },
                { "role": "assistant", "content": [
                    { "type": "text", "text": "Looking." },
                    { "type": "tool_use", "id": "toolu_1", "name": "lookup", "input": { "id": 42 } },
                    { "type": "tool_use", "id": "toolu_2", "name": "lookup", "input": {} }
                ] },
                { "role": "user", "content": [
                    { "type": "tool_result", "tool_use_id": "toolu_1", "content": "shipped" },
                    { "type": "tool_result", "tool_use_id": "toolu_2", "content": "error" }
                ] }
            ])
        );
    }

    #[test]
    fn a_message_with_tool_use_reads_as_tool_calls() {
        let v = json!({ "type": "message", "model": "claude-x", "content": [
            { "type": "text", "text": "Let me check." },
            { "type": "tool_use", "id": "toolu_9", "name": "lookup", "input": { "id": 7 } }
        ], "stop_reason": "tool_use", "usage": { "input_tokens": 30, "output_tokens": 12 } });
        let c = parse_message(&v, "m", 1).unwrap();
        assert_eq!(c.text, "Let me check.");
        assert_eq!(c.tool_calls[0].id, "toolu_9");
        assert_eq!(c.tool_calls[0].function.arguments, r#"{"id":7}"#);
        assert_eq!(c.finish_reason.as_deref(), Some("tool_calls"));
        assert_eq!(c.usage, Some(Usage { prompt_tokens: 30, completion_tokens: 12, total_tokens: 42 }));
        assert_eq!(c.model, "claude-x");
        assert!(parse_message(&json!({ "type": "error" }), "m", 1).is_err());
    }

    #[test]
    fn stream_events_fold_into_text_tool_calls_and_usage() {
        let mut s = StreamState::default();
        let mut q = VecDeque::new();
        let mut done = false;
        for e in [
            json!({"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":25,"output_tokens":1}}}),
            json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
            json!({"type":"ping"}),
            json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Checking"}}),
            json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" now."}}),
            json!({"type":"content_block_stop","index":0}),
            json!({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_a","name":"lookup","input":{}}}),
            json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"id\":"}}),
            json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":" 42}"}}),
            json!({"type":"content_block_stop","index":1}),
            json!({"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_b","name":"now","input":{}}}),
            json!({"type":"content_block_stop","index":2}),
            json!({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":15}}),
            json!({"type":"message_stop"}),
        ] {
            done = s.event(&e, &mut q);
        }
        assert!(done);
        let mut acc = Accumulator::default();
        for d in q {
            acc.push(&d.unwrap());
        }
        let c = acc.finish("m", 1);
        assert_eq!(c.text, "Checking now.");
        assert_eq!(c.tool_calls.len(), 2);
        assert_eq!((c.tool_calls[0].id.as_str(), c.tool_calls[0].function.name.as_str()), ("toolu_a", "lookup"));
        assert_eq!(c.tool_calls[0].function.arguments, r#"{"id": 42}"#);
        assert_eq!(c.tool_calls[1].function.arguments, "{}");
        assert_eq!(c.finish_reason.as_deref(), Some("tool_calls"));
        assert_eq!(c.usage, Some(Usage { prompt_tokens: 25, completion_tokens: 15, total_tokens: 40 }));
    }
}

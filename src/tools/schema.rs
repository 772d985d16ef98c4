//! JSON Schema checks: a tool's argument schema must itself be a valid
//! schema (checked against its draft's meta-schema, then compiled), and
//! arguments and configurations are validated against schemas, each failure
//! reported with the JSON pointer of the value at fault.
//!
//! The validator is built without remote or file `$ref` resolution (the
//! crate's default features are off): a schema cannot make the server read
//! a file or fetch a URL.

use jsonschema::Validator;
use serde::Serialize;
use serde_json::{Value, json};

use crate::error::{AppError, ErrorCode};

/// Largest argument schema accepted, in bytes of JSON.
pub const MAX_SCHEMA_BYTES: usize = 64 * 1024;
/// Most failures reported for one document.
const MAX_ISSUES: usize = 20;

/// One failure: where, and what is wrong.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Issue {
    /// JSON pointer into the document validated (`""` is the root).
    pub pointer: String,
    pub message: String,
}

/// Checks an argument schema: valid against its meta-schema, compilable,
/// and an object schema (`"type": "object"`), as model APIs require.
/// Errors: the failures with their pointers into the schema.
pub fn check_input_schema(schema: &Value) -> Result<Validator, Vec<Issue>> {
    if serde_json::to_vec(schema).map_or(0, |v| v.len()) > MAX_SCHEMA_BYTES {
        return Err(vec![Issue { pointer: String::new(), message: format!("larger than {MAX_SCHEMA_BYTES} bytes") }]);
    }
    if !schema.is_object() {
        return Err(vec![Issue { pointer: String::new(), message: "a schema must be a JSON object".into() }]);
    }
    if let Err(e) = jsonschema::meta::validate(schema) {
        return Err(vec![Issue { pointer: e.instance_path().to_string(), message: e.to_string() }]);
    }
    if schema.get("type") != Some(&Value::String("object".into())) {
        return Err(vec![Issue {
            pointer: "/type".into(),
            message: "the arguments are an object: the schema needs \"type\": \"object\"".into(),
        }]);
    }
    jsonschema::validator_for(schema).map_err(|e| {
        let pointer = e.schema_path().to_string();
        vec![Issue { pointer, message: e.to_string() }]
    })
}

/// The failures of `instance` against `validator` (empty: valid).
#[must_use]
pub fn issues(validator: &Validator, instance: &Value) -> Vec<Issue> {
    validator
        .iter_errors(instance)
        .take(MAX_ISSUES)
        .map(|e| Issue { pointer: e.instance_path().to_string(), message: e.to_string() })
        .collect()
}

/// 422 `tool_schema_invalid` for `field` (`input_schema`).
#[must_use]
pub fn schema_error(field: &str, issues: &[Issue]) -> AppError {
    let first = issues.first().map_or_else(String::new, |i| format!(" at `{}`: {}", display(&i.pointer), i.message));
    AppError::new(ErrorCode::ToolSchemaInvalid, format!("`{field}` is not a valid JSON Schema{first}"))
        .with_details(json!({ "field": field, "path": issues.first().map(|i| i.pointer.clone()), "issues": issues }))
}

/// 422 `tool_arguments_invalid`, every failing field with its pointer.
#[must_use]
pub fn arguments_error(issues: &[Issue]) -> AppError {
    let first = issues.first().map_or_else(String::new, |i| format!(" (`{}`: {})", display(&i.pointer), i.message));
    AppError::new(ErrorCode::ToolArgumentsInvalid, format!("the arguments do not match the tool's schema{first}"))
        .with_details(json!({ "field": "arguments", "issues": issues }))
}

/// 422 `tool_config_invalid`: `field` is `config` plus the dotted pointer of the first failure.
#[must_use]
pub fn config_error(issues: &[Issue]) -> AppError {
    let pointer = issues.first().map(|i| i.pointer.clone()).unwrap_or_default();
    let field = if pointer.is_empty() { "config".to_owned() } else { format!("config{}", pointer.replace('/', ".")) };
    let first = issues.first().map_or_else(String::new, |i| format!(": {}", i.message));
    AppError::new(ErrorCode::ToolConfigInvalid, format!("`{field}` is not valid{first}"))
        .with_details(json!({ "field": field, "issues": issues }))
}

fn display(pointer: &str) -> &str {
    if pointer.is_empty() { "/" } else { pointer }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_schema_is_refused_with_the_path_of_the_fault() {
        let bad = json!({ "type": "object", "properties": { "city": { "type": "strang" } } });
        let issues = check_input_schema(&bad).expect_err("invalid type name");
        assert_eq!(issues[0].pointer, "/properties/city/type", "{issues:?}");
        let not_object = json!({ "type": "string" });
        assert_eq!(check_input_schema(&not_object).expect_err("not an object")[0].pointer, "/type");
        let bad_pattern = json!({ "type": "object", "properties": { "a": { "type": "string", "pattern": "(" } } });
        assert!(check_input_schema(&bad_pattern).is_err());
        let remote = json!({ "type": "object", "properties": { "a": { "$ref": "https://example.com/s.json" } } });
        assert!(check_input_schema(&remote).is_err(), "no remote references");
    }

    #[test]
    fn every_failing_argument_is_reported_with_its_pointer() {
        let schema = json!({
            "type": "object",
            "properties": { "city": { "type": "string" }, "days": { "type": "integer", "maximum": 7 } },
            "required": ["city"],
            "additionalProperties": false
        });
        let v = check_input_schema(&schema).expect("valid");
        assert!(issues(&v, &json!({ "city": "Paris", "days": 3 })).is_empty());
        let found = issues(&v, &json!({ "city": 5, "days": 9 }));
        let pointers: Vec<&str> = found.iter().map(|i| i.pointer.as_str()).collect();
        assert!(pointers.contains(&"/city") && pointers.contains(&"/days"), "{found:?}");
        let missing = issues(&v, &json!({}));
        assert_eq!(missing[0].pointer, "");
    }
}

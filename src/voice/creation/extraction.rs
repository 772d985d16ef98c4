//! What a spoken description says a phone bot should do — its name, the
//! greeting, the caller's topics (intents, each with example phrases and the
//! answer) and the questions to ask first — as one JSON document with a JSON
//! Schema. The chat model is asked for it (the schema in the prompt, the
//! answer validated against it); without a model the guided form sends the
//! same document. [`draft`] then writes the phone flow from it.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::flows::document::FlowDocument;
use crate::tools::schema::Issue;

/// Most topics on the menu: keys 1–8, 9 is the person.
pub const MAX_INTENTS: usize = 8;
/// Most questions asked before the menu.
pub const MAX_QUESTIONS: usize = 5;

/// Variables the draft itself uses.
const RESERVED: [&str; 2] = ["choice", "anything_else"];

/// The JSON Schema of an extraction (also sent to the model).
pub const SCHEMA: &str = r#"{
  "type": "object",
  "additionalProperties": false,
  "required": ["name", "greeting", "intents"],
  "properties": {
    "name": { "type": "string", "minLength": 1, "maxLength": 100, "description": "The bot's name" },
    "description": { "type": ["string", "null"], "maxLength": 500 },
    "greeting": { "type": "string", "minLength": 1, "maxLength": 400, "description": "The first sentence callers hear" },
    "menu_prompt": { "type": ["string", "null"], "maxLength": 300, "description": "The question before the menu (default: How can I help you today?)" },
    "intents": {
      "type": "array", "minItems": 1, "maxItems": 8,
      "items": {
        "type": "object",
        "additionalProperties": false,
        "required": ["name", "label", "answer"],
        "properties": {
          "name": { "type": "string", "pattern": "^[a-z][a-z0-9_]{0,39}$", "description": "snake_case" },
          "label": { "type": "string", "minLength": 1, "maxLength": 60, "description": "How the menu names it: Press 1 for <label>" },
          "examples": { "type": "array", "maxItems": 20, "items": { "type": "string", "minLength": 1, "maxLength": 200 } },
          "answer": { "type": "string", "minLength": 1, "maxLength": 1000, "description": "What the bot says back" }
        }
      }
    },
    "questions": {
      "type": "array", "maxItems": 5,
      "items": {
        "type": "object",
        "additionalProperties": false,
        "required": ["variable", "prompt"],
        "properties": {
          "variable": { "type": "string", "pattern": "^[a-z][a-z0-9_]{0,39}$" },
          "prompt": { "type": "string", "minLength": 1, "maxLength": 300 }
        }
      }
    },
    "handoff": { "type": "boolean", "description": "Offer to put the caller through to a person (default true)" }
  }
}"#;

static VALIDATOR: LazyLock<Option<jsonschema::Validator>> = LazyLock::new(|| {
    let schema: Value = serde_json::from_str(SCHEMA).ok()?;
    jsonschema::validator_for(&schema).ok()
});

/// The validated extraction.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Extraction {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub greeting: String,
    #[serde(default)]
    pub menu_prompt: Option<String>,
    pub intents: Vec<ExtractedIntent>,
    #[serde(default)]
    pub questions: Vec<ExtractedQuestion>,
    /// Offer a person (key 9 or "a person"); default true.
    #[serde(default = "yes")]
    pub handoff: bool,
}

fn yes() -> bool {
    true
}

/// A topic callers call about.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtractedIntent {
    /// `snake_case`.
    pub name: String,
    /// The menu's words: "Press 1 for {label}".
    pub label: String,
    #[serde(default)]
    pub examples: Vec<String>,
    pub answer: String,
}

/// A question asked before the menu (its answer lands in `variable`).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtractedQuestion {
    pub variable: String,
    pub prompt: String,
}

fn issue(pointer: impl Into<String>, message: impl Into<String>) -> Issue {
    Issue { pointer: pointer.into(), message: message.into() }
}

/// Checks a document against [`SCHEMA`] and the rules a schema cannot say
/// (unique names, reserved variables); `Err` lists every problem found.
pub fn check(value: &Value) -> Result<Extraction, Vec<Issue>> {
    let Some(validator) = VALIDATOR.as_ref() else {
        return Err(vec![issue("", "the extraction schema does not compile")]);
    };
    let issues = crate::tools::schema::issues(validator, value);
    if !issues.is_empty() {
        return Err(issues);
    }
    let extraction: Extraction =
        serde_json::from_value(value.clone()).map_err(|e| vec![issue("", format!("not an extraction: {e}"))])?;
    let mut issues = Vec::new();
    let mut names = BTreeSet::new();
    for (i, intent) in extraction.intents.iter().enumerate() {
        if !names.insert(intent.name.as_str()) {
            issues.push(issue(format!("/intents/{i}/name"), format!("`{}` appears twice", intent.name)));
        }
        if intent.name == "person" || intent.name == "else" {
            issues.push(issue(format!("/intents/{i}/name"), format!("`{}` is reserved", intent.name)));
        }
        if intent.label.trim().is_empty() || intent.answer.trim().is_empty() {
            issues.push(issue(format!("/intents/{i}"), "the label and the answer must say something"));
        }
    }
    let mut variables = BTreeSet::new();
    for (i, q) in extraction.questions.iter().enumerate() {
        if !variables.insert(q.variable.as_str()) {
            issues.push(issue(format!("/questions/{i}/variable"), format!("`{}` appears twice", q.variable)));
        }
        let reserved =
            RESERVED.contains(&q.variable.as_str()) || crate::flows::compile::check_variable_name(&q.variable).is_err();
        if reserved {
            issues.push(issue(format!("/questions/{i}/variable"), format!("`{}` is reserved", q.variable)));
        }
    }
    if extraction.greeting.trim().is_empty() || extraction.name.trim().is_empty() {
        issues.push(issue("/greeting", "the name and the greeting must say something"));
    }
    if issues.is_empty() { Ok(extraction) } else { Err(issues) }
}

/// The system prompt of the extraction call.
#[must_use]
pub fn system_prompt() -> String {
    format!(
        "You turn a spoken description of a telephone bot into a JSON document following this JSON Schema:\n{SCHEMA}\n\n\
         The caller hears everything read aloud: write short spoken sentences, no lists, links or emojis. \
         `intents` are the topics callers call about (at most {MAX_INTENTS}), each with a short menu label, \
         a few example phrases a caller might say, and the answer the bot gives. `questions` are what the bot \
         must ask every caller first (for example their name), only when the description asks for it. \
         Answer with one JSON object only: no prose, no Markdown fences."
    )
}

/// The user message of the extraction call.
#[must_use]
pub fn user_prompt(transcript: &str) -> String {
    format!("The description, as transcribed:\n\"\"\"\n{transcript}\n\"\"\"")
}

/// Reads the model's answer: the JSON object in it, checked.
pub fn read_answer(answer: &str) -> Result<Extraction, Vec<Issue>> {
    let value = crate::flows::studio::prompt::extract_object(answer).map_err(|m| vec![issue("", m)])?;
    check(&value)
}

const MENU_PROMPT: &str = "How can I help you today?";
const PERSON_LABEL: &str = "Speak to a person";

fn node(id: &str, kind: &str, label: &str, data: Value, y: i64) -> Value {
    let mut node = json!({ "id": id, "type": kind, "label": label, "position": { "x": 0, "y": y } });
    node["data"] = data;
    node
}

/// The phone flow of an extraction: the greeting, the questions, the menu
/// ("Press 1 for …", speech or keys), an answer per topic, "anything
/// else?", a goodbye that ends the call, and a hand-off to a person.
#[allow(clippy::too_many_lines, reason = "the nodes and edges of one flow, in the order a caller meets them")]
pub fn draft(e: &Extraction) -> Result<FlowDocument, String> {
    let mut nodes = vec![
        json!({ "id": "start", "type": "start", "position": { "x": 0, "y": 0 } }),
        node("welcome", "message", "Greeting", json!({ "text": e.greeting.trim() }), 140),
    ];
    let mut edges = vec![json!({ "source": "start", "target": "welcome" })];
    let mut previous = "welcome".to_owned();
    let mut y = 280;
    for (i, q) in e.questions.iter().enumerate() {
        let id = format!("ask_{}", i + 1);
        nodes.push(node(
            &id,
            "question",
            &q.variable,
            json!({ "prompt": { "text": q.prompt.trim() }, "variable": q.variable }),
            y,
        ));
        edges.push(json!({ "source": previous, "target": id }));
        previous = id;
        y += 140;
    }
    let mut choices: Vec<Value> =
        e.intents.iter().map(|i| json!({ "label": i.label.trim(), "value": i.name })).collect();
    if e.handoff {
        choices.push(json!({ "label": PERSON_LABEL, "value": "person" }));
    }
    let prompt = e.menu_prompt.as_deref().map(str::trim).filter(|p| !p.is_empty()).unwrap_or(MENU_PROMPT);
    nodes.push(node(
        "menu",
        "question",
        "Menu",
        json!({ "prompt": { "text": prompt }, "variable": "choice",
                "validation": { "kind": "choices", "choices": choices }, "retries": 2,
                "reprompt": "Sorry, I did not catch that. Please press a key, or say what you need." }),
        y,
    ));
    edges.push(json!({ "source": previous, "target": "menu" }));
    let branches: Vec<Value> = e
        .intents
        .iter()
        .map(|i| json!({ "id": i.name, "label": i.label.trim(),
                         "condition": { "subject": "variable", "name": "choice", "operator": "equals", "value": i.name } }))
        .collect();
    nodes.push(node("route", "condition", "Topic", json!({ "branches": branches }), y + 140));
    edges.push(json!({ "source": "menu", "target": "route" }));
    let fallback = if e.handoff { "person" } else { "bye" };
    edges.push(json!({ "source": "menu", "port": "invalid", "target": fallback }));
    edges.push(json!({ "source": "route", "port": "else", "target": fallback }));
    for (k, i) in e.intents.iter().enumerate() {
        let id = format!("answer_{}", i.name);
        let mut n = node(&id, "message", i.label.trim(), json!({ "text": i.answer.trim() }), y + 280);
        n["position"]["x"] = json!(i64::try_from(k).unwrap_or(0) * 260 - 260);
        nodes.push(n);
        edges.push(json!({ "source": "route", "port": i.name, "target": id }));
        edges.push(json!({ "source": id, "target": "more" }));
    }
    nodes.push(node(
        "more",
        "question",
        "Anything else?",
        json!({ "prompt": { "text": "Is there anything else I can help you with?" }, "variable": "anything_else",
                "validation": { "kind": "choices", "choices": [
                    { "label": "Yes", "value": "yes" }, { "label": "No", "value": "no" } ] } }),
        y + 420,
    ));
    nodes.push(node(
        "again",
        "condition",
        "Again?",
        json!({ "branches": [ { "id": "yes", "label": "yes",
                "condition": { "subject": "variable", "name": "anything_else", "operator": "equals", "value": "yes" } } ] }),
        y + 560,
    ));
    nodes.push(node(
        "bye",
        "end",
        "Goodbye",
        json!({ "message": { "text": "Thank you for calling. Goodbye." }, "close_conversation": true }),
        y + 700,
    ));
    edges.push(json!({ "source": "more", "target": "again" }));
    edges.push(json!({ "source": "more", "port": "invalid", "target": "bye" }));
    edges.push(json!({ "source": "again", "port": "yes", "target": "menu" }));
    edges.push(json!({ "source": "again", "port": "else", "target": "bye" }));
    if e.handoff {
        nodes.push(node(
            "person",
            "handoff",
            "A person",
            json!({ "message": { "text": "Let me put you through to a colleague." }, "note": "The caller asked for a person" }),
            y + 140,
        ));
        nodes.push(json!({ "id": "after_person", "type": "end", "position": { "x": 300, "y": y + 280 } }));
        edges.push(json!({ "source": "person", "target": "after_person" }));
    }
    serde_json::from_value(json!({ "schema_version": 1, "nodes": nodes, "edges": edges }))
        .map_err(|e| format!("the draft is not a flow document: {e}"))
}

/// What a caller hears, line by line (the preview).
#[must_use]
pub fn script(e: &Extraction) -> Vec<String> {
    let mut lines = vec![e.greeting.trim().to_owned()];
    lines.extend(e.questions.iter().map(|q| q.prompt.trim().to_owned()));
    let mut labels: Vec<&str> = e.intents.iter().map(|i| i.label.trim()).collect();
    if e.handoff {
        labels.push(PERSON_LABEL);
    }
    lines.push(e.menu_prompt.as_deref().map(str::trim).filter(|p| !p.is_empty()).unwrap_or(MENU_PROMPT).to_owned());
    lines.push(crate::voice::twiml::menu(&labels.iter().map(|l| (*l).to_owned()).collect::<Vec<_>>()));
    for (n, i) in e.intents.iter().enumerate() {
        lines.push(format!("{} ({}): {}", n + 1, i.label.trim(), i.answer.trim()));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::compile::{Severity, as_draft, compile};

    fn sample() -> Value {
        json!({ "name": "Dental line", "greeting": "Thanks for calling Smile Dental.",
                "intents": [
                    { "name": "opening_hours", "label": "Opening hours", "examples": ["when are you open"],
                      "answer": "We are open from 8 to 5 on weekdays." },
                    { "name": "prices", "label": "Prices", "answer": "A check-up costs 60 euros." } ],
                "questions": [ { "variable": "caller_name", "prompt": "May I have your name?" } ] })
    }

    #[test]
    fn an_extraction_becomes_a_phone_flow_that_publishes_without_voice_warnings() {
        let e = check(&sample()).expect("valid");
        let doc = draft(&e).expect("a document");
        let blocking: Vec<_> = as_draft(compile(&doc).issues)
            .into_iter()
            .filter(|i| i.blocks_publish || i.severity == Severity::Error)
            .collect();
        assert!(blocking.is_empty(), "{blocking:?}");
        assert!(crate::voice::service::warnings_of("main", &doc).is_empty());
        let lines = script(&e);
        assert_eq!(lines[0], "Thanks for calling Smile Dental.");
        assert!(lines.iter().any(|l| l.contains("Press 3 for Speak to a person")), "{lines:?}");
    }

    #[test]
    fn bad_extractions_say_where() {
        let mut v = sample();
        v["intents"][1]["name"] = json!("opening_hours");
        v["questions"][0]["variable"] = json!("choice");
        let issues = check(&v).expect_err("invalid");
        let at: Vec<&str> = issues.iter().map(|i| i.pointer.as_str()).collect();
        assert_eq!(at, ["/intents/1/name", "/questions/0/variable"]);
        let issues = check(&json!({ "name": "x", "greeting": "hi", "intents": [] })).expect_err("no intents");
        assert_eq!(issues[0].pointer, "/intents");
        assert!(read_answer("Sure! Here you go").is_err());
        assert!(read_answer(&format!("```json\n{}\n```", sample())).is_ok());
    }
}

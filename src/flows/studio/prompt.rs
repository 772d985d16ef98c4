//! What the flow studio says to the model and how it reads the answers: the
//! prompts (the flow JSON Schema, a compact example, the rules the compiler
//! checks beyond the schema), extracting a JSON object from an answer that
//! may be fenced or wrapped in prose, and laying out nodes the model left
//! without positions.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;

use serde_json::Value;

use crate::flows::compile::Issue;
use crate::flows::document::{FlowDocument, NodeDoc, Position};
use crate::flows::routes::FLOW_SCHEMA;

/// A small flow showing the format: a question with a checked answer, a
/// condition, an end and a handoff.
const EXAMPLE: &str = r#"{"schema_version":1,"nodes":[
{"id":"start","type":"start"},
{"id":"hello","type":"message","label":"Hello","data":{"text":"Hi! I can book a table for you."}},
{"id":"guests","type":"question","label":"Guests","data":{"prompt":{"text":"For how many people?"},"variable":"guests","validation":{"kind":"entity","entity":"number"},"reprompt":"Please answer with a number."}},
{"id":"big","type":"condition","label":"Large group?","data":{"branches":[{"id":"large","label":"more than 8","condition":{"subject":"variable","name":"guests","operator":"greater_than","value":8}}]}},
{"id":"booked","type":"end","label":"Booked","data":{"message":{"text":"Done: a table for {{guests}}."}}},
{"id":"staff","type":"handoff","label":"Ask staff","data":{"message":{"text":"A colleague will help with large groups."},"note":"Group of {{guests}}"}},
{"id":"after_staff","type":"end"}],
"edges":[
{"source":"start","target":"hello"},{"source":"hello","target":"guests"},
{"source":"guests","target":"big"},{"source":"guests","port":"invalid","target":"staff"},
{"source":"big","port":"large","target":"staff"},{"source":"big","port":"else","target":"booked"},
{"source":"staff","target":"after_staff"}]}"#;

const RULES: &str = "Rules the server checks beyond the schema:\n\
- exactly one node of type `start`, no edge into it; every node reachable from it;\n\
- node ids unique (letters, digits, _ and -); edges join existing nodes;\n\
- each edge leaves a port its source has: `next` (start, message, question, set_variable, jump, handoff), \
`invalid` (question: the answer failed its validation after the retries), `else` and each branch id (condition), \
`answered`/`no_answer` (knowledge), `success`/`error` (http), `out_of_scope` and each route id (intent_router); \
`end` has no ports; at most one edge per port;\n\
- a loop must pass through a node that waits for the user (question, intent_router, handoff);\n\
- variables are snake_case identifiers, not `message`, `intent`, `confidence`, `entities`, `channel`, `conversation`; \
templates use {{variable}};\n\
- regular expressions, expressions, URLs and JSON paths must parse.";

/// The schema without its whitespace (fewer tokens).
fn compact_schema() -> String {
    serde_json::from_str::<Value>(FLOW_SCHEMA).map_or_else(|_| FLOW_SCHEMA.to_owned(), |v| v.to_string())
}

/// The system prompt of every studio call.
#[must_use]
pub fn system() -> String {
    format!(
        "You design chatbot conversation flows for botbuilder. A flow is a JSON document following this JSON Schema:\n\
         {}\n\n{RULES}\n\nA compact example:\n{EXAMPLE}\n\n\
         Answer with one JSON object only: no prose, no Markdown fences. Positions are optional.",
        compact_schema()
    )
}

/// The request to generate a flow.
#[must_use]
pub fn generate(description: &str, language: Option<&str>, channel: Option<&str>) -> String {
    let mut out = String::from("Write a complete flow document for this bot.\n");
    if let Some(l) = language {
        let _ = writeln!(out, "The bot's messages are in the language `{l}`.");
    }
    if let Some(c) = channel {
        let _ = writeln!(out, "It mainly talks over the `{c}` channel; keep messages suited to it.");
    }
    let _ = write!(
        out,
        "Description:\n{description}\n\nAnswer with the flow document (an object with `nodes` and `edges`)."
    );
    out
}

/// The request to revise a flow.
#[must_use]
pub fn improve(current: &FlowDocument, instruction: &str) -> String {
    format!(
        "Here is the current flow document:\n{}\n\nRevise it as follows:\n{instruction}\n\n\
         Keep the ids of nodes you do not change. Answer with the whole revised flow document.",
        serde_json::to_string(current).unwrap_or_default()
    )
}

/// The request for next nodes after `node_id`'s `port`.
#[must_use]
pub fn suggest(current: &FlowDocument, node_id: &str, port: &str, count: usize) -> String {
    format!(
        "Here is a flow document being edited:\n{}\n\n\
         Suggest {count} different candidate nodes that could follow node `{node_id}` on its port `{port}`. \
         Each candidate is one new node (a new unique id, any type but `start`, with its `data`). \
         Answer with an object {{\"suggestions\": [{{\"node\": {{…}}, \"reason\": \"one sentence\"}}]}}.",
        serde_json::to_string(current).unwrap_or_default()
    )
}

/// The repair request: what was wrong with the last answer.
#[must_use]
pub fn repair(issues: &[Issue]) -> String {
    let mut out = String::from("Your answer is not a valid flow. Problems found:\n");
    for i in issues.iter().take(40) {
        let _ = write!(out, "- [{}]", i.code);
        if let Some(n) = &i.node_id {
            let _ = write!(out, " node `{n}`");
        }
        if let Some(f) = &i.field {
            let _ = write!(out, " field `{f}`");
        }
        let _ = writeln!(out, ": {}", i.message);
    }
    out.push_str("Fix every problem and answer with the whole corrected JSON object only.");
    out
}

/// The JSON object in a model's answer: the whole text, or inside a
/// Markdown fence, or from the first `{` to the last `}`.
pub fn extract_object(text: &str) -> Result<Value, String> {
    let trimmed = text.trim();
    let mut candidates = vec![trimmed];
    if let Some(start) = trimmed.find("```") {
        let after = &trimmed[start + 3..];
        let body = after.find('\n').map_or(after, |nl| &after[nl + 1..]);
        if let Some(end) = body.find("```") {
            candidates.push(body[..end].trim());
        }
    }
    if let (Some(a), Some(b)) = (trimmed.find('{'), trimmed.rfind('}'))
        && a < b
    {
        candidates.push(&trimmed[a..=b]);
    }
    let mut last = String::from("the answer is empty");
    for c in candidates {
        match serde_json::from_str::<Value>(c) {
            Ok(v @ Value::Object(_)) => return Ok(v),
            Ok(_) => last = String::from("the answer is JSON but not an object"),
            Err(e) => last = format!("the answer is not JSON ({e})"),
        }
    }
    Err(last)
}

/// A flow document from the model's object (the document itself, or
/// wrapped in `flow` or `document`).
pub fn document(value: Value) -> Result<FlowDocument, String> {
    let inner = match value {
        Value::Object(mut map) if !map.contains_key("nodes") => {
            match map.remove("flow").or_else(|| map.remove("document")) {
                Some(v) => v,
                None => Value::Object(map),
            }
        }
        other => other,
    };
    serde_json::from_value::<FlowDocument>(inner).map_err(|e| format!("the object is not a flow document: {e}"))
}

/// Places the nodes on a grid by their distance from the start node when
/// the model gave none a position (all at the origin): one row per step,
/// side by side within a row, so the editor shows a readable graph.
pub fn lay_out(doc: &mut FlowDocument) {
    if doc.nodes.iter().any(|n| n.position != Position::default()) {
        return;
    }
    let index: BTreeMap<&str, usize> = doc.nodes.iter().enumerate().map(|(i, n)| (n.id.as_str(), i)).collect();
    let mut depth: Vec<Option<usize>> = vec![None; doc.nodes.len()];
    let mut queue = VecDeque::new();
    if let Some(start) = doc.nodes.iter().position(|n| n.kind == "start") {
        depth[start] = Some(0);
        queue.push_back(start);
    }
    while let Some(i) = queue.pop_front() {
        let d = depth[i].unwrap_or(0);
        for e in doc.edges.iter().filter(|e| e.source == doc.nodes[i].id) {
            if let Some(&t) = index.get(e.target.as_str())
                && depth[t].is_none()
            {
                depth[t] = Some(d + 1);
                queue.push_back(t);
            }
        }
    }
    let deepest = depth.iter().flatten().max().copied().unwrap_or(0);
    let mut per_row: BTreeMap<usize, usize> = BTreeMap::new();
    for (i, node) in doc.nodes.iter_mut().enumerate() {
        // Nodes the start does not reach go in a row of their own below.
        let row = depth[i].unwrap_or(deepest + 1);
        let col = per_row.entry(row).or_insert(0);
        node.position = position(row, *col);
        *col += 1;
    }
}

#[allow(clippy::cast_precision_loss, reason = "small grid indexes")]
fn position(row: usize, col: usize) -> Position {
    Position { x: col as f64 * 320.0, y: row as f64 * 140.0 }
}

/// Keeps the canvas of a revised flow: nodes that kept their id and came
/// back without a position get their old one (the model rarely copies
/// them), new ones go beside the node that leads to them, and the viewport
/// stays. Then [`lay_out`] handles a flow that still has no positions.
pub fn carry_positions(doc: &mut FlowDocument, previous: &FlowDocument) {
    if doc.viewport.is_none() {
        doc.viewport = previous.viewport;
    }
    let old: BTreeMap<&str, Position> = previous.nodes.iter().map(|n| (n.id.as_str(), n.position)).collect();
    let mut placed: BTreeMap<String, Position> = BTreeMap::new();
    for n in &mut doc.nodes {
        if n.position == Position::default()
            && let Some(p) = old.get(n.id.as_str())
        {
            n.position = *p;
        }
        if n.position != Position::default() || old.contains_key(n.id.as_str()) {
            placed.insert(n.id.clone(), n.position);
        }
    }
    let lowest = placed.values().map(|p| p.y).fold(0.0, f64::max);
    let mut beside: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..doc.nodes.len() {
        if placed.contains_key(&doc.nodes[i].id) {
            continue;
        }
        let id = doc.nodes[i].id.clone();
        let from = doc
            .edges
            .iter()
            .filter(|e| e.target == id)
            .find_map(|e| placed.get(&e.source).map(|p| (e.source.clone(), *p)));
        let position = match from {
            Some((source, p)) => {
                let k = beside.entry(source).or_insert(0);
                *k += 1;
                #[allow(clippy::cast_precision_loss, reason = "a handful of new nodes")]
                let shift = *k as f64 * 320.0;
                Position { x: p.x + shift, y: p.y + 70.0 }
            }
            None => Position { x: 0.0, y: lowest + 140.0 },
        };
        doc.nodes[i].position = position;
        placed.insert(id, position);
    }
}

/// A position below `source` for a suggested node (offset by its rank).
#[must_use]
pub fn below(source: &NodeDoc, rank: usize) -> Position {
    #[allow(clippy::cast_precision_loss, reason = "rank is at most 3")]
    let shift = rank as f64 * 320.0;
    Position { x: source.position.x + shift, y: source.position.y + 140.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_found_in_fences_and_prose() {
        assert!(extract_object(r#"{"nodes":[]}"#).is_ok());
        assert!(extract_object("Sure!\n```json\n{\"nodes\": []}\n```\nEnjoy.").is_ok());
        assert!(extract_object("Here: {\"nodes\": []} done").is_ok());
        assert!(extract_object("I cannot do that.").is_err());
        assert!(extract_object("[1, 2]").is_err());
    }

    #[test]
    fn the_example_compiles_and_wrapped_documents_parse() {
        let doc = document(extract_object(EXAMPLE).expect("object")).expect("document");
        let issues = crate::flows::compile::compile(&doc).issues;
        assert!(issues.is_empty(), "{issues:?}");
        let wrapped = serde_json::json!({ "flow": serde_json::from_str::<Value>(EXAMPLE).expect("json") });
        assert_eq!(document(wrapped).expect("wrapped"), doc);
        assert!(document(serde_json::json!({ "nodes": [], "colour": "red" })).is_err());
    }

    #[test]
    fn nodes_without_positions_are_laid_out_by_depth() {
        let mut doc = document(extract_object(EXAMPLE).expect("object")).expect("document");
        lay_out(&mut doc);
        let at = |id: &str| doc.nodes.iter().find(|n| n.id == id).map(|n| n.position).expect("node");
        assert_eq!(at("start"), Position { x: 0.0, y: 0.0 });
        assert_eq!(at("hello"), Position { x: 0.0, y: 140.0 });
        assert_eq!(at("guests"), Position { x: 0.0, y: 280.0 });
        // `big` and `staff` both follow `guests`: side by side.
        assert!((at("big").y - 420.0).abs() < 0.5 && (at("staff").y - 420.0).abs() < 0.5);
        assert!((at("big").x - at("staff").x).abs() > 1.0);
    }

    #[test]
    fn a_revision_keeps_the_old_positions_and_places_new_nodes_beside_their_source() {
        let mut old = document(extract_object(EXAMPLE).expect("object")).expect("document");
        lay_out(&mut old);
        let mut new = document(extract_object(EXAMPLE).expect("object")).expect("document");
        new.nodes.push(NodeDoc {
            id: "extra".into(),
            kind: "message".into(),
            data: serde_json::json!({ "text": "x" }),
            position: Position::default(),
            label: None,
        });
        new.edges.push(crate::flows::document::EdgeDoc {
            id: None,
            source: "hello".into(),
            port: "other".into(),
            target: "extra".into(),
        });
        carry_positions(&mut new, &old);
        lay_out(&mut new);
        for n in &old.nodes {
            assert_eq!(new.nodes.iter().find(|m| m.id == n.id).map(|m| m.position), Some(n.position), "{}", n.id);
        }
        let hello = old.nodes[1].position;
        assert_eq!(new.nodes.last().map(|n| n.position), Some(Position { x: hello.x + 320.0, y: hello.y + 70.0 }));
    }
}

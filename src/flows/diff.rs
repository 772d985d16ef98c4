//! Structural diff of two flow documents: nodes added, removed and changed
//! (with the JSON pointers that differ), edges added and removed.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::compile::edge_key;
use super::document::FlowDocument;
use super::model::{FlowDiff, NodeChange};

/// Compares two documents.
#[must_use]
pub fn diff(from_version: i64, from: &FlowDocument, to_version: i64, to: &FlowDocument) -> FlowDiff {
    let index = |d: &FlowDocument| -> BTreeMap<String, Value> {
        d.nodes.iter().map(|n| (n.id.clone(), serde_json::to_value(n).unwrap_or(Value::Null))).collect()
    };
    let (a, b) = (index(from), index(to));
    let nodes_added: Vec<String> = b.keys().filter(|k| !a.contains_key(*k)).cloned().collect();
    let nodes_removed: Vec<String> = a.keys().filter(|k| !b.contains_key(*k)).cloned().collect();
    let mut nodes_changed = Vec::new();
    for (id, old) in &a {
        if let Some(new) = b.get(id) {
            let mut fields = Vec::new();
            changed_paths(old, new, String::new(), &mut fields);
            if !fields.is_empty() {
                nodes_changed.push(NodeChange { id: id.clone(), fields });
            }
        }
    }
    let edges = |d: &FlowDocument| -> BTreeSet<String> { d.edges.iter().map(edge_key).collect() };
    let (ea, eb) = (edges(from), edges(to));
    let edges_added: Vec<String> = eb.difference(&ea).cloned().collect();
    let edges_removed: Vec<String> = ea.difference(&eb).cloned().collect();
    let identical = nodes_added.is_empty()
        && nodes_removed.is_empty()
        && nodes_changed.is_empty()
        && edges_added.is_empty()
        && edges_removed.is_empty();
    FlowDiff {
        from_version,
        to_version,
        nodes_added,
        nodes_removed,
        nodes_changed,
        edges_added,
        edges_removed,
        identical,
    }
}

/// Collects JSON pointers where `a` and `b` differ (objects recursively;
/// lists and scalars as a whole). Positions count as one field.
fn changed_paths(a: &Value, b: &Value, at: String, out: &mut Vec<String>) {
    if a == b {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) if at != "/position" => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let (va, vb) = (x.get(k).unwrap_or(&Value::Null), y.get(k).unwrap_or(&Value::Null));
                changed_paths(va, vb, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out);
            }
        }
        _ => out.push(if at.is_empty() { "/".to_owned() } else { at }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reports_nodes_fields_and_edges() {
        let a: FlowDocument = serde_json::from_value(json!({
            "nodes": [ { "id": "start", "type": "start" }, { "id": "m", "type": "message", "data": { "text": "Hi" } },
                       { "id": "old", "type": "end" } ],
            "edges": [ { "source": "start", "target": "m" }, { "source": "m", "target": "old" } ]
        }))
        .expect("doc");
        let b: FlowDocument = serde_json::from_value(json!({
            "nodes": [ { "id": "start", "type": "start" },
                       { "id": "m", "type": "message", "data": { "text": "Hello" }, "position": { "x": 5, "y": 1 } },
                       { "id": "new", "type": "end" } ],
            "edges": [ { "source": "start", "target": "m" }, { "source": "m", "target": "new" } ]
        }))
        .expect("doc");
        let d = diff(1, &a, 2, &b);
        assert_eq!(d.nodes_added, ["new"]);
        assert_eq!(d.nodes_removed, ["old"]);
        assert_eq!(d.nodes_changed[0].id, "m");
        assert_eq!(d.nodes_changed[0].fields, ["/data/text", "/position"]);
        assert_eq!(d.edges_added, ["m:next->new"]);
        assert_eq!(d.edges_removed, ["m:next->old"]);
        assert!(!d.identical);
        assert!(diff(1, &a, 1, &a).identical);
    }
}

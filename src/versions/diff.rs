//! JSON diff, patch and three-way merge of snapshots. Changes are RFC 6902
//! operations (`add`, `remove`, `replace`) on RFC 6901 pointers, with the
//! old value kept for display. Arrays are compared element by element when
//! their lengths agree, else replaced whole (which keeps merges safe).

use serde::Serialize;
use serde_json::Value;

/// One difference between two documents.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Change {
    /// add, remove or replace.
    pub op: &'static str,
    /// JSON Pointer of the changed value (`""` is the whole document).
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub old: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub value: Option<Value>,
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// The changes that turn `a` into `b`.
#[must_use]
pub fn diff(a: &Value, b: &Value) -> Vec<Change> {
    let mut out = Vec::new();
    walk(a, b, String::new(), &mut out);
    out
}

fn walk(a: &Value, b: &Value, path: String, out: &mut Vec<Change>) {
    match (a, b) {
        (Value::Object(left), Value::Object(right)) => {
            for (key, old) in left {
                let at = format!("{path}/{}", escape(key));
                match right.get(key) {
                    Some(new) => walk(old, new, at, out),
                    None => out.push(Change { op: "remove", path: at, old: Some(old.clone()), value: None }),
                }
            }
            for (key, new) in right {
                if !left.contains_key(key) {
                    let at = format!("{path}/{}", escape(key));
                    out.push(Change { op: "add", path: at, old: None, value: Some(new.clone()) });
                }
            }
        }
        (Value::Array(left), Value::Array(right)) if left.len() == right.len() => {
            for (index, (old, new)) in left.iter().zip(right).enumerate() {
                walk(old, new, format!("{path}/{index}"), out);
            }
        }
        _ if a == b => {}
        _ => out.push(Change { op: "replace", path, old: Some(a.clone()), value: Some(b.clone()) }),
    }
}

/// Applies changes to a document; `None` when a pointer does not fit it.
#[must_use]
pub fn apply(doc: &Value, changes: &[Change]) -> Option<Value> {
    let mut doc = doc.clone();
    for c in changes {
        if c.path.is_empty() {
            doc = c.value.clone().unwrap_or(Value::Null);
            continue;
        }
        let (parent_path, last) = c.path.rsplit_once('/')?;
        let key = unescape(last);
        let parent = doc.pointer_mut(parent_path)?;
        match (c.op, parent) {
            ("remove", Value::Object(m)) => {
                m.remove(&key);
            }
            ("add" | "replace", Value::Object(m)) => {
                m.insert(key, c.value.clone()?);
            }
            ("replace", Value::Array(items)) => {
                let i: usize = key.parse().ok()?;
                *items.get_mut(i)? = c.value.clone()?;
            }
            _ => return None,
        }
    }
    Some(doc)
}

/// Whether one pointer is the other or lies inside it.
fn overlaps(p: &str, q: &str) -> bool {
    let inside = |a: &str, b: &str| a == b || a.starts_with(&format!("{b}/"));
    inside(p, q) || inside(q, p) || p.is_empty() || q.is_empty()
}

/// Merges the changes `base → theirs` into `ours`. Errors with the
/// conflicting pointers when both sides changed the same place differently.
pub fn merge3(base: &Value, ours: &Value, theirs: &Value) -> Result<Value, Vec<String>> {
    let mine = diff(base, ours);
    let incoming = diff(base, theirs);
    let mut conflicts: Vec<String> = incoming
        .iter()
        .filter(|t| {
            mine.iter().any(|m| overlaps(&m.path, &t.path) && !(m.path == t.path && m.op == t.op && m.value == t.value))
        })
        .map(|t| t.path.clone())
        .collect();
    conflicts.dedup();
    if !conflicts.is_empty() {
        return Err(conflicts);
    }
    let pending: Vec<Change> = incoming.into_iter().filter(|t| !mine.contains(t)).collect();
    apply(ours, &pending).ok_or_else(|| vec![String::new()])
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn diff_then_apply_round_trips() {
        let a = json!({"name": "Bot", "nodes": [{"id": 1, "text": "hi"}], "meta": {"x/y": 1, "gone": true}});
        let b = json!({"name": "Bot 2", "nodes": [{"id": 1, "text": "hello"}], "meta": {"x/y": 2}, "new": [1]});
        let changes = diff(&a, &b);
        assert!(changes.iter().any(|c| c.op == "replace" && c.path == "/nodes/0/text"));
        assert!(changes.iter().any(|c| c.op == "remove" && c.path == "/meta/gone"));
        assert!(changes.iter().any(|c| c.path == "/meta/x~1y"));
        assert_eq!(apply(&a, &changes), Some(b.clone()));
        assert!(diff(&b, &b).is_empty());
        let grown =
            json!({"name": "Bot", "nodes": [{"id": 1, "text": "hi"}, {"id": 2}], "meta": {"x/y": 1, "gone": true}});
        let c = diff(&a, &grown);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].path, "/nodes");
    }

    #[test]
    fn three_way_merge_and_conflicts() {
        let base = json!({"a": 1, "b": 1, "c": {"d": 1}});
        let ours = json!({"a": 2, "b": 1, "c": {"d": 1}});
        let theirs = json!({"a": 1, "b": 3, "c": {"d": 1, "e": 5}});
        assert_eq!(merge3(&base, &ours, &theirs), Ok(json!({"a": 2, "b": 3, "c": {"d": 1, "e": 5}})));
        let clash = json!({"a": 9, "b": 1, "c": {"d": 1}});
        assert_eq!(merge3(&base, &ours, &clash), Err(vec!["/a".to_owned()]));
        // The same change on both sides is no conflict.
        assert_eq!(merge3(&base, &ours, &ours), Ok(ours.clone()));
    }
}

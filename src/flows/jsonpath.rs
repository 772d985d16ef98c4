//! The JSON path subset HTTP nodes map responses with: `$`, `.name`,
//! `['name']`, `[3]`, `[-1]` and `[*]` (which collects a list).

use serde_json::Value;

/// A parsed path.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(i64),
    All,
}

impl JsonPath {
    /// Parses a path such as `$.data.items[0].name`.
    pub fn parse(src: &str) -> Result<JsonPath, String> {
        let s = src.trim();
        let mut rest = s.strip_prefix('$').ok_or_else(|| "a JSON path starts with `$`".to_owned())?;
        let mut steps = Vec::new();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('.') {
                let end = after.find(['.', '[']).unwrap_or(after.len());
                let key = &after[..end];
                if key.is_empty() {
                    return Err(format!("empty name in `{src}`"));
                }
                if key == "*" {
                    steps.push(Step::All);
                } else {
                    steps.push(Step::Key(key.to_owned()));
                }
                rest = &after[end..];
            } else if let Some(after) = rest.strip_prefix('[') {
                let end = after.find(']').ok_or_else(|| format!("`[` without `]` in `{src}`"))?;
                let inner = after[..end].trim();
                if inner == "*" {
                    steps.push(Step::All);
                } else if let Some(quoted) = inner
                    .strip_prefix('\'')
                    .and_then(|q| q.strip_suffix('\''))
                    .or_else(|| inner.strip_prefix('"').and_then(|q| q.strip_suffix('"')))
                {
                    steps.push(Step::Key(quoted.to_owned()));
                } else {
                    let i: i64 = inner.parse().map_err(|_| format!("`[{inner}]` is not an index in `{src}`"))?;
                    steps.push(Step::Index(i));
                }
                rest = &after[end + 1..];
            } else {
                return Err(format!("unexpected `{}` in `{src}`", rest.chars().next().unwrap_or(' ')));
            }
            if steps.len() > 64 {
                return Err("the path is too long".into());
            }
        }
        Ok(JsonPath { steps })
    }

    /// The value at the path (`null` when absent).
    #[must_use]
    pub fn select(&self, root: &Value) -> Value {
        select(&self.steps, root)
    }
}

fn select(steps: &[Step], v: &Value) -> Value {
    let Some((step, rest)) = steps.split_first() else { return v.clone() };
    match (step, v) {
        (Step::Key(k), Value::Object(o)) => o.get(k).map_or(Value::Null, |x| select(rest, x)),
        (Step::Index(i), Value::Array(a)) => {
            let len = i64::try_from(a.len()).unwrap_or(i64::MAX);
            let idx = if *i < 0 { len + i } else { *i };
            usize::try_from(idx).ok().and_then(|i| a.get(i)).map_or(Value::Null, |x| select(rest, x))
        }
        (Step::All, Value::Array(a)) => Value::Array(a.iter().map(|x| select(rest, x)).collect()),
        (Step::All, Value::Object(o)) => Value::Array(o.values().map(|x| select(rest, x)).collect()),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn selects_values() {
        let doc = json!({ "data": { "items": [{ "name": "a" }, { "name": "b" }], "odd key": 1 } });
        let get = |p: &str| JsonPath::parse(p).expect(p).select(&doc);
        assert_eq!(get("$"), doc);
        assert_eq!(get("$.data.items[0].name"), json!("a"));
        assert_eq!(get("$.data.items[-1].name"), json!("b"));
        assert_eq!(get("$.data.items[*].name"), json!(["a", "b"]));
        assert_eq!(get("$.data['odd key']"), json!(1));
        assert_eq!(get("$.nope.deeper"), Value::Null);
        assert_eq!(get("$.data.items[9]"), Value::Null);
    }

    #[test]
    fn refuses_bad_paths() {
        for bad in ["data.x", "$.", "$[x", "$[abc]", "$..x", "$x"] {
            assert!(JsonPath::parse(bad).is_err(), "{bad}");
        }
    }
}

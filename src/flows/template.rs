//! Message templates: text with `{{ expression }}` placeholders (see
//! [`super::expr`]). A template is parsed once when the flow is compiled.
//! Rendering produces plain text — never markup — and every client (widget,
//! UI, channels) shows it as text, so a variable holding `<script>` is shown,
//! not run. URL templates percent-encode what they substitute, and JSON body
//! templates substitute typed values, so user input cannot change the shape
//! of a request.

use std::fmt::Write as _;

use serde_json::Value;

use super::expr::{self, EvalError, Expr, ParseError, Scope};

/// The longest rendered template.
const MAX_RENDERED: usize = 16 * 1024;

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Expr(Expr),
}

impl Template {
    /// Parses `{{ … }}` placeholders; `\{{` is a literal `{{`.
    pub fn parse(src: &str) -> Result<Template, ParseError> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut rest = src;
        let mut offset = 0;
        while let Some(i) = rest.find("{{") {
            if i > 0 && rest[..i].ends_with('\\') {
                text.push_str(&rest[..i - 1]);
                text.push_str("{{");
                offset += i + 2;
                rest = &rest[i + 2..];
                continue;
            }
            text.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let Some(end) = after.find("}}") else {
                return Err(ParseError { message: "`{{` without a closing `}}`".into(), at: offset + i });
            };
            let inner = &after[..end];
            let e = expr::parse(inner.trim()).map_err(|e| ParseError {
                message: format!("in `{{{{{}}}}}`: {}", inner.trim(), e.message),
                at: offset + i,
            })?;
            if !text.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut text)));
            }
            parts.push(Part::Expr(e));
            offset += i + 2 + end + 2;
            rest = &after[end + 2..];
        }
        text.push_str(rest);
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(Template { parts })
    }

    /// A template without placeholders.
    #[must_use]
    pub fn literal(text: &str) -> Template {
        Template { parts: vec![Part::Text(text.to_owned())] }
    }

    /// Whether the template has no placeholders.
    #[must_use]
    pub fn is_static(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }

    /// The variables the placeholders read.
    #[must_use]
    pub fn variables(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .parts
            .iter()
            .filter_map(|p| if let Part::Expr(e) = p { Some(e.variables()) } else { None })
            .flatten()
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Renders as plain text.
    pub fn render(&self, scope: &dyn Scope) -> Result<String, EvalError> {
        self.render_with(scope, expr::to_text)
    }

    /// Renders a URL: substituted values are percent-encoded.
    pub fn render_url(&self, scope: &dyn Scope) -> Result<String, EvalError> {
        self.render_with(scope, |v| percent_encode(&expr::to_text(v)))
    }

    /// Renders a header value: line breaks are removed.
    pub fn render_header(&self, scope: &dyn Scope) -> Result<String, EvalError> {
        Ok(self.render(scope)?.chars().filter(|c| !c.is_control()).collect())
    }

    /// Renders for a JSON document: a template that is exactly one
    /// placeholder yields the typed value; otherwise text.
    pub fn render_value(&self, scope: &dyn Scope) -> Result<Value, EvalError> {
        if let [Part::Expr(e)] = self.parts.as_slice() {
            return expr::eval(e, scope);
        }
        self.render(scope).map(Value::String)
    }

    fn render_with(&self, scope: &dyn Scope, show: impl Fn(&Value) -> String) -> Result<String, EvalError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Expr(e) => out.push_str(&show(&expr::eval(e, scope)?)),
            }
            if out.len() > MAX_RENDERED {
                return Err(EvalError(format!("the rendered text is longer than {MAX_RENDERED} bytes")));
            }
        }
        Ok(out)
    }
}

/// Percent-encodes everything except RFC 3986 unreserved characters.
#[must_use]
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, json};

    use super::*;

    #[allow(clippy::needless_pass_by_value, reason = "called with json! literals")]
    fn scope(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn renders_placeholders() {
        let s = scope(json!({ "name": "Ana", "n": 2, "items": ["a", "b"] }));
        let t = Template::parse("Hi {{ name }}, you have {{n + 1}} items: {{items}}.").expect("parse");
        assert_eq!(t.render(&s).expect("render"), "Hi Ana, you have 3 items: a, b.");
        assert_eq!(t.variables(), ["items", "n", "name"]);
        assert!(Template::parse("plain").expect("parse").is_static());
        assert_eq!(Template::parse(r"a \{{b}}").expect("parse").render(&s).expect("render"), "a {{b}}");
    }

    #[test]
    fn markup_stays_text() {
        let s = scope(json!({ "name": "<script>alert(1)</script>" }));
        let t = Template::parse("Hello {{name}}").expect("parse");
        // Rendering never interprets values; clients display text as text.
        assert_eq!(t.render(&s).expect("render"), "Hello <script>alert(1)</script>");
    }

    #[test]
    fn urls_encode_substitutions() {
        let s = scope(json!({ "q": "a b&c=d/../x" }));
        let t = Template::parse("https://example.com/search?q={{q}}").expect("parse");
        assert_eq!(t.render_url(&s).expect("render"), "https://example.com/search?q=a%20b%26c%3Dd%2F..%2Fx");
    }

    #[test]
    fn headers_lose_line_breaks() {
        let s = scope(json!({ "v": "x\r\nX-Injected: 1" }));
        let t = Template::parse("Bearer {{v}}").expect("parse");
        assert_eq!(t.render_header(&s).expect("render"), "Bearer xX-Injected: 1");
    }

    #[test]
    fn single_placeholder_keeps_type() {
        let s = scope(json!({ "n": 5, "o": { "a": 1 } }));
        assert_eq!(Template::parse("{{n}}").expect("parse").render_value(&s).expect("render"), json!(5));
        assert_eq!(Template::parse("{{o}}").expect("parse").render_value(&s).expect("render"), json!({ "a": 1 }));
        assert_eq!(Template::parse("n={{n}}").expect("parse").render_value(&s).expect("render"), json!("n=5"));
    }

    #[test]
    fn bad_templates_are_refused() {
        assert!(Template::parse("Hi {{name").is_err());
        assert!(Template::parse("Hi {{ 1 + }}").is_err());
        assert!(Template::parse("Hi {{ }}").is_err());
    }
}

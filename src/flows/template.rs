//! Message templates: text with `{{ expression }}` placeholders (see
//! [`super::expr`]). A template is parsed once when the flow is compiled.
//! Rendering produces plain text — never markup — and every client (widget,
//! UI, channels) shows it as text, so a variable holding `<script>` is shown,
//! not run. URL templates percent-encode what they substitute, and JSON body
//! templates substitute typed values, so user input cannot change the shape
//! of a request.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
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
    /// The expression and the placeholder as written (`{{ name }}`).
    Expr(Expr, String),
}

/// A placeholder that rendered as nothing because a variable it reads has no
/// value. The end user sees the text without it; the emulator marks the gap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Gap {
    /// Where the placeholder stood, in characters of the rendered text.
    pub at: usize,
    /// The placeholder as written, e.g. `{{name}}`.
    pub placeholder: String,
    /// The variables it reads that have no value.
    pub variables: Vec<String>,
}

/// A rendered text with the placeholders that came out empty for want of a value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rendered {
    pub text: String,
    pub gaps: Vec<Gap>,
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
            parts.push(Part::Expr(e, format!("{{{{{}}}}}", inner.trim())));
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
            .filter_map(|p| if let Part::Expr(e, _) = p { Some(e.variables()) } else { None })
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
        if let [Part::Expr(e, _)] = self.parts.as_slice() {
            return expr::eval(e, scope);
        }
        self.render(scope).map(Value::String)
    }

    /// Renders as plain text like [`Template::render`], and reports each
    /// placeholder that came out empty because a variable it reads is unset
    /// (for the emulator, which marks the gap instead of leaving it blank).
    pub fn render_reporting(&self, scope: &dyn Scope) -> Result<Rendered, EvalError> {
        let mut out = Rendered::default();
        let mut chars = 0;
        for part in &self.parts {
            let piece = match part {
                Part::Text(t) => t.clone(),
                Part::Expr(e, src) => {
                    let piece = expr::to_text(&expr::eval(e, scope)?);
                    if piece.is_empty() {
                        let unset: Vec<String> =
                            e.variables().into_iter().filter(|v| scope.lookup(v).is_none_or(|x| x.is_null())).collect();
                        if !unset.is_empty() {
                            out.gaps.push(Gap { at: chars, placeholder: src.clone(), variables: unset });
                        }
                    }
                    piece
                }
            };
            chars += piece.chars().count();
            out.text.push_str(&piece);
            if out.text.len() > MAX_RENDERED {
                return Err(EvalError(format!("the rendered text is longer than {MAX_RENDERED} bytes")));
            }
        }
        Ok(out)
    }

    fn render_with(&self, scope: &dyn Scope, show: impl Fn(&Value) -> String) -> Result<String, EvalError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Expr(e, _) => out.push_str(&show(&expr::eval(e, scope)?)),
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
    fn unset_variables_are_reported_where_they_leave_a_gap() {
        let s = scope(json!({ "city": "Oslo", "blank": "", "none": null }));
        let t = Template::parse("Hi {{ name }}, welcome to {{city}}{{blank}}{{none}}!").expect("parse");
        let r = t.render_reporting(&s).expect("render");
        // The text is what the end user gets: no placeholder, no marker.
        assert_eq!(r.text, "Hi , welcome to Oslo!");
        assert_eq!(r.text, t.render(&s).expect("render"));
        assert_eq!(
            r.gaps,
            [
                Gap { at: 3, placeholder: "{{name}}".into(), variables: vec!["name".into()] },
                Gap { at: 20, placeholder: "{{none}}".into(), variables: vec!["none".into()] },
            ]
        );
        // A set variable with an empty value is not a gap; neither is a full render.
        let full = Template::parse("{{city}}").expect("parse").render_reporting(&s).expect("render");
        assert!(full.gaps.is_empty());
    }

    #[test]
    fn bad_templates_are_refused() {
        assert!(Template::parse("Hi {{name").is_err());
        assert!(Template::parse("Hi {{ 1 + }}").is_err());
        assert!(Template::parse("Hi {{ }}").is_err());
    }
}

/// Property tests (issue 30): message templates come from flow authors and
/// may quote end-user text; parsing and rendering never panic, escaped text
/// comes back unchanged, and URL encoding is reversible.
#[cfg(test)]
mod proptests {
    use proptest::prelude::*;
    use serde_json::{Map, Value, json};

    use super::{Template, percent_encode};

    fn scope() -> Map<String, Value> {
        json!({ "name": "Ana <script>", "n": 3, "said": "a {{ b }} c" }).as_object().cloned().unwrap_or_default()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn any_text_parses_or_fails_cleanly(src in "\\PC{0,120}|([a-z ]{0,5}(\\{\\{|\\}\\}|\\\\|name|n|said| ){0,12}){0,4}") {
            if let Ok(t) = Template::parse(&src) {
                let _ = t.render(&scope());
                let _ = t.render_url(&scope());
                let _ = t.render_header(&scope());
                let _ = t.render_value(&scope());
                let _ = t.render_reporting(&scope());
            }
        }

        #[test]
        fn escaped_text_renders_as_itself(text in "\\PC{0,80}|[a-z{}\\\\ ]{0,40}") {
            let escaped = text.replace("{{", "\\{{");
            let t = Template::parse(&escaped).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(t.render(&scope()).map_err(|e| TestCaseError::fail(e.0))?, text);
        }

        #[test]
        fn placeholders_render_the_variable_verbatim(prefix in "[^{\\\\]{0,20}", suffix in "[^{\\\\]{0,20}") {
            let t = Template::parse(&format!("{prefix}{{{{ said }}}}{suffix}")).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(t.render(&scope()).map_err(|e| TestCaseError::fail(e.0))?, format!("{prefix}a {{{{ b }}}} c{suffix}"));
        }

        #[test]
        fn percent_encoding_is_reversible_and_safe(s in "\\PC{0,60}") {
            let encoded = percent_encode(&s);
            prop_assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.~%".contains(&b)));
            let mut bytes = Vec::new();
            let raw = encoded.as_bytes();
            let mut i = 0;
            while i < raw.len() {
                if raw[i] == b'%' {
                    let hex = std::str::from_utf8(&raw[i + 1..i + 3]).map_err(|e| TestCaseError::fail(e.to_string()))?;
                    bytes.push(u8::from_str_radix(hex, 16).map_err(|e| TestCaseError::fail(e.to_string()))?);
                    i += 3;
                } else {
                    bytes.push(raw[i]);
                    i += 1;
                }
            }
            prop_assert_eq!(String::from_utf8(bytes).map_err(|e| TestCaseError::fail(e.to_string()))?, s);
        }
    }
}

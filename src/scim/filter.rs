//! SCIM filters and PATCH paths (RFC 7644 §3.4.2.2, §3.5.2): a tokenizer,
//! a recursive-descent parser (`not` binds tighter than `and`, `and`
//! tighter than `or`) and an evaluator over a resource's JSON form.
//! Attribute names compare case-insensitively; string values too, except
//! `id` and `externalId` (caseExact in RFC 7643).

use std::cmp::Ordering;

use serde_json::Value;

use super::error::{ScimError, ScimResult};

/// Longest filter accepted (a guard against pathological input).
const MAX_FILTER_LEN: usize = 4096;
/// Deepest nesting of parentheses and `not`.
const MAX_DEPTH: usize = 32;

/// `[uri:]name[.sub]`.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrPath {
    /// The schema URN, when the path is qualified with a non-core schema.
    pub uri: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Present(AttrPath),
    Compare(AttrPath, CompareOp, Value),
    /// `attr[filter]`: some value of the multi-valued `attr` matches `filter`
    /// (whose paths are relative to that value).
    ValuePath(AttrPath, Box<Filter>),
}

/// A PATCH path: `attrPath`, or `valuePath[.subAttr]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Filter>,
    /// The sub-attribute after `]`.
    pub sub: Option<String>,
}

const CORE_SCHEMAS: [&str; 2] =
    ["urn:ietf:params:scim:schemas:core:2.0:user", "urn:ietf:params:scim:schemas:core:2.0:group"];

impl AttrPath {
    /// Parses `urn:…:Schema:name.sub`, `name.sub` or `name`.
    fn parse(raw: &str) -> Option<AttrPath> {
        let (uri, rest) = match raw.rfind(':') {
            Some(i) => (Some(&raw[..i]), &raw[i + 1..]),
            None => (None, raw),
        };
        let (name, sub) = match rest.split_once('.') {
            Some((n, s)) => (n, Some(s)),
            None => (rest, None),
        };
        let valid = |s: &str| {
            s.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '$')
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
        };
        if !valid(name) || sub.is_some_and(|s| !valid(s)) {
            return None;
        }
        let uri = uri.filter(|u| !CORE_SCHEMAS.contains(&u.to_ascii_lowercase().as_str())).map(str::to_owned);
        Some(AttrPath { uri, name: name.to_owned(), sub: sub.map(str::to_owned) })
    }

    /// The same path relative to a value of a multi-valued attribute.
    fn relative(name: &str) -> AttrPath {
        AttrPath { uri: None, name: name.to_owned(), sub: None }
    }

    /// Whether string comparisons on this attribute are case-sensitive.
    fn case_exact(&self) -> bool {
        self.sub.is_none() && (self.name.eq_ignore_ascii_case("id") || self.name.eq_ignore_ascii_case("externalId"))
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Number(serde_json::Number),
    Open,
    Close,
    BracketOpen,
    BracketClose,
    /// `.name` right after `]`.
    Sub(String),
}

fn tokenize(input: &str) -> ScimResult<Vec<Token>> {
    if input.len() > MAX_FILTER_LEN {
        return Err(ScimError::invalid_filter(format!("the filter is longer than {MAX_FILTER_LEN} characters")));
    }
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            '[' => {
                tokens.push(Token::BracketOpen);
                i += 1;
            }
            ']' => {
                tokens.push(Token::BracketClose);
                i += 1;
                if chars.get(i) == Some(&'.') {
                    let start = i + 1;
                    let mut j = start;
                    while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_' || chars[j] == '-') {
                        j += 1;
                    }
                    if j == start {
                        return Err(ScimError::invalid_filter("a sub-attribute name must follow `].`"));
                    }
                    tokens.push(Token::Sub(chars[start..j].iter().collect()));
                    i = j;
                }
            }
            '"' => {
                // A JSON string: find the closing quote, honouring escapes.
                let start = i;
                let mut j = i + 1;
                let mut escaped = false;
                while j < chars.len() {
                    match chars[j] {
                        '\\' if !escaped => escaped = true,
                        '"' if !escaped => break,
                        _ => escaped = false,
                    }
                    j += 1;
                }
                if j >= chars.len() {
                    return Err(ScimError::invalid_filter("a string is not closed"));
                }
                let literal: String = chars[start..=j].iter().collect();
                let s: String = serde_json::from_str(&literal)
                    .map_err(|_| ScimError::invalid_filter(format!("bad string literal {literal}")))?;
                tokens.push(Token::Str(s));
                i = j + 1;
            }
            c if c == '-' || c.is_ascii_digit() => {
                let start = i;
                let mut j = i + 1;
                while j < chars.len() && (chars[j].is_ascii_digit() || matches!(chars[j], '.' | 'e' | 'E' | '+' | '-'))
                {
                    j += 1;
                }
                let literal: String = chars[start..j].iter().collect();
                let n: serde_json::Number =
                    literal.parse().map_err(|_| ScimError::invalid_filter(format!("bad number {literal}")))?;
                tokens.push(Token::Number(n));
                i = j;
            }
            c if c.is_ascii_alphabetic() || c == '$' || c == '_' => {
                let start = i;
                let mut j = i;
                while j < chars.len()
                    && (chars[j].is_ascii_alphanumeric() || matches!(chars[j], '_' | '-' | '$' | ':' | '.'))
                {
                    j += 1;
                }
                tokens.push(Token::Word(chars[start..j].iter().collect()));
                i = j;
            }
            other => return Err(ScimError::invalid_filter(format!("unexpected character `{other}`"))),
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(keyword))
    }

    fn enter(&mut self) -> ScimResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ScimError::invalid_filter("the filter is nested too deeply"));
        }
        Ok(())
    }

    fn or(&mut self) -> ScimResult<Filter> {
        let mut left = self.and()?;
        while self.peek_keyword("or") {
            self.pos += 1;
            let right = self.and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> ScimResult<Filter> {
        let mut left = self.unary()?;
        while self.peek_keyword("and") {
            self.pos += 1;
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> ScimResult<Filter> {
        if self.peek_keyword("not") && matches!(self.tokens.get(self.pos + 1), Some(Token::Open)) {
            self.pos += 1;
            self.enter()?;
            let inner = self.group()?;
            self.depth -= 1;
            return Ok(Filter::Not(Box::new(inner)));
        }
        if matches!(self.peek(), Some(Token::Open)) {
            self.enter()?;
            let inner = self.group()?;
            self.depth -= 1;
            return Ok(inner);
        }
        self.attribute_expression()
    }

    /// `( filter )`
    fn group(&mut self) -> ScimResult<Filter> {
        if self.next() != Some(Token::Open) {
            return Err(ScimError::invalid_filter("expected `(`"));
        }
        let inner = self.or()?;
        if self.next() != Some(Token::Close) {
            return Err(ScimError::invalid_filter("a `(` is not closed"));
        }
        Ok(inner)
    }

    fn attr_path(&mut self) -> ScimResult<AttrPath> {
        match self.next() {
            Some(Token::Word(w)) => {
                AttrPath::parse(&w).ok_or_else(|| ScimError::invalid_filter(format!("`{w}` is not an attribute path")))
            }
            Some(other) => Err(ScimError::invalid_filter(format!("expected an attribute name, found {other:?}"))),
            None => Err(ScimError::invalid_filter("the filter ends where an attribute name was expected")),
        }
    }

    fn attribute_expression(&mut self) -> ScimResult<Filter> {
        let path = self.attr_path()?;
        if matches!(self.peek(), Some(Token::BracketOpen)) {
            self.pos += 1;
            if path.sub.is_some() {
                return Err(ScimError::invalid_filter(
                    "a value filter applies to a whole attribute, not a sub-attribute",
                ));
            }
            self.enter()?;
            let inner = self.or()?;
            self.depth -= 1;
            if self.next() != Some(Token::BracketClose) {
                return Err(ScimError::invalid_filter("a `[` is not closed"));
            }
            // Lenient form `emails[type eq "work"].value eq "…"`.
            if let Some(Token::Sub(sub)) = self.peek().cloned() {
                self.pos += 1;
                let tail = self.operator_and_value(AttrPath::relative(&sub))?;
                return Ok(Filter::ValuePath(path, Box::new(Filter::And(Box::new(inner), Box::new(tail)))));
            }
            return Ok(Filter::ValuePath(path, Box::new(inner)));
        }
        self.operator_and_value(path)
    }

    fn operator_and_value(&mut self, path: AttrPath) -> ScimResult<Filter> {
        let op = match self.next() {
            Some(Token::Word(w)) => w.to_ascii_lowercase(),
            _ => return Err(ScimError::invalid_filter(format!("expected an operator after `{}`", path.name))),
        };
        let op = match op.as_str() {
            "pr" => return Ok(Filter::Present(path)),
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            other => return Err(ScimError::invalid_filter(format!("unknown operator `{other}`"))),
        };
        let value = match self.next() {
            Some(Token::Str(s)) => Value::String(s),
            Some(Token::Number(n)) => Value::Number(n),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("true") => Value::Bool(true),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("false") => Value::Bool(false),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("null") => Value::Null,
            Some(other) => return Err(ScimError::invalid_filter(format!("expected a value, found {other:?}"))),
            None => return Err(ScimError::invalid_filter("the filter ends where a value was expected")),
        };
        let ordered = matches!(op, CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le);
        let textual = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
        if (ordered && !(value.is_string() || value.is_number())) || (textual && !value.is_string()) {
            return Err(ScimError::invalid_filter(format!("operator `{op:?}` cannot compare {value}")));
        }
        Ok(Filter::Compare(path, op, value))
    }
}

/// Parses a filter expression.
pub fn parse(input: &str) -> ScimResult<Filter> {
    let tokens = tokenize(input)?;
    if tokens.is_empty() {
        return Err(ScimError::invalid_filter("the filter is empty"));
    }
    let mut parser = Parser { tokens, pos: 0, depth: 0 };
    let filter = parser.or()?;
    if let Some(extra) = parser.peek() {
        return Err(ScimError::invalid_filter(format!("unexpected {extra:?} after the end of the filter")));
    }
    Ok(filter)
}

/// Parses a PATCH `path`.
pub fn parse_path(input: &str) -> ScimResult<PatchPath> {
    let bad = |detail: String| ScimError::invalid_path(detail);
    let tokens = tokenize(input).map_err(|e| bad(e.detail))?;
    let mut parser = Parser { tokens, pos: 0, depth: 0 };
    let attr = parser.attr_path().map_err(|e| bad(e.detail))?;
    let mut path = PatchPath { attr, filter: None, sub: None };
    if matches!(parser.peek(), Some(Token::BracketOpen)) {
        parser.pos += 1;
        if path.attr.sub.is_some() {
            return Err(bad("a value filter applies to a whole attribute".to_owned()));
        }
        path.filter = Some(parser.or().map_err(|e| bad(e.detail))?);
        if parser.next() != Some(Token::BracketClose) {
            return Err(bad("a `[` is not closed".to_owned()));
        }
        if let Some(Token::Sub(sub)) = parser.peek().cloned() {
            parser.pos += 1;
            path.sub = Some(sub);
        }
    }
    if let Some(extra) = parser.peek() {
        return Err(bad(format!("unexpected {extra:?} in the path `{input}`")));
    }
    Ok(path)
}

/// Looks a key up case-insensitively.
#[must_use]
pub fn get_ci<'a>(object: &'a Value, key: &str) -> Option<&'a Value> {
    object.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v)
}

/// The value(s) a path names in `resource` (the sub-attribute of each
/// value when the attribute is multi-valued).
fn resolve(resource: &Value, path: &AttrPath) -> Vec<Value> {
    let base = match &path.uri {
        Some(uri) => get_ci(resource, uri),
        None => Some(resource),
    };
    let Some(attr) = base.and_then(|b| get_ci(b, &path.name)) else { return Vec::new() };
    let pick = |v: &Value| -> Option<Value> {
        match (&path.sub, v) {
            (Some(sub), v) => get_ci(v, sub).cloned(),
            // A complex multi-valued attribute compared as a whole compares its `value`.
            (None, Value::Object(_)) => get_ci(v, "value").cloned(),
            (None, v) => Some(v.clone()),
        }
    };
    match attr {
        Value::Array(items) => items.iter().filter_map(pick).collect(),
        Value::Null => Vec::new(),
        v => pick(v).into_iter().collect(),
    }
}

fn compare_one(actual: &Value, op: CompareOp, expected: &Value, case_exact: bool) -> bool {
    let fold = |s: &str| if case_exact { s.to_owned() } else { s.to_lowercase() };
    match (actual, expected) {
        (Value::String(a), Value::String(e)) => {
            let (a, e) = (fold(a), fold(e));
            match op {
                CompareOp::Eq => a == e,
                CompareOp::Ne => a != e,
                CompareOp::Co => a.contains(&e),
                CompareOp::Sw => a.starts_with(&e),
                CompareOp::Ew => a.ends_with(&e),
                CompareOp::Gt => a > e,
                CompareOp::Ge => a >= e,
                CompareOp::Lt => a < e,
                CompareOp::Le => a <= e,
            }
        }
        (Value::Number(a), Value::Number(e)) => {
            let ord = a.as_f64().zip(e.as_f64()).and_then(|(a, e)| a.partial_cmp(&e));
            match (op, ord) {
                (CompareOp::Eq, Some(o)) => o == Ordering::Equal,
                (CompareOp::Ne, Some(o)) => o != Ordering::Equal,
                (CompareOp::Gt, Some(o)) => o == Ordering::Greater,
                (CompareOp::Ge, Some(o)) => o != Ordering::Less,
                (CompareOp::Lt, Some(o)) => o == Ordering::Less,
                (CompareOp::Le, Some(o)) => o != Ordering::Greater,
                _ => false,
            }
        }
        // identity providers send booleans as strings ("True"); compare them leniently.
        (Value::Bool(a), Value::Bool(e)) => match op {
            CompareOp::Eq => a == e,
            CompareOp::Ne => a != e,
            _ => false,
        },
        (Value::Bool(a), Value::String(e)) | (Value::String(e), Value::Bool(a)) => {
            let e = e.eq_ignore_ascii_case("true");
            match op {
                CompareOp::Eq => *a == e,
                CompareOp::Ne => *a != e,
                _ => false,
            }
        }
        _ => op == CompareOp::Ne,
    }
}

/// Whether `resource` matches `filter`.
#[must_use]
pub fn matches(filter: &Filter, resource: &Value) -> bool {
    match filter {
        Filter::And(a, b) => matches(a, resource) && matches(b, resource),
        Filter::Or(a, b) => matches(a, resource) || matches(b, resource),
        Filter::Not(inner) => !matches(inner, resource),
        Filter::Present(path) => resolve(resource, path).iter().any(|v| match v {
            Value::Null => false,
            Value::String(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            _ => true,
        }),
        Filter::Compare(path, op, expected) => {
            let values = resolve(resource, path);
            if expected.is_null() {
                // `eq null` means absent; `ne null` present.
                return (*op == CompareOp::Eq) == values.iter().all(Value::is_null);
            }
            if *op == CompareOp::Ne {
                return !values.iter().any(|v| compare_one(v, CompareOp::Eq, expected, path.case_exact()));
            }
            values.iter().any(|v| compare_one(v, *op, expected, path.case_exact()))
        }
        Filter::ValuePath(path, inner) => {
            let base = match &path.uri {
                Some(uri) => get_ci(resource, uri),
                None => Some(resource),
            };
            match base.and_then(|b| get_ci(b, &path.name)) {
                Some(Value::Array(items)) => items.iter().any(|item| matches(inner, item)),
                Some(v @ Value::Object(_)) => matches(inner, v),
                _ => false,
            }
        }
    }
}

/// For a filter made only of `eq` tests joined by `and` (`type eq "work"`),
/// the attributes it pins: what a new value of the attribute gets when a
/// PATCH adds through the filter and nothing matches yet (as Entra ID does).
#[must_use]
pub fn pinned_values(filter: &Filter) -> Option<serde_json::Map<String, Value>> {
    match filter {
        Filter::Compare(path, CompareOp::Eq, v) if path.uri.is_none() && path.sub.is_none() && !v.is_null() => {
            let mut m = serde_json::Map::new();
            m.insert(path.name.clone(), v.clone());
            Some(m)
        }
        Filter::And(a, b) => {
            let mut m = pinned_values(a)?;
            m.extend(pinned_values(b)?);
            Some(m)
        }
        _ => None,
    }
}

/// The value a sort key takes in `resource` (its first value), as text.
#[must_use]
pub fn sort_key(resource: &Value, path: &AttrPath) -> Option<String> {
    resolve(resource, path).into_iter().next().map(|v| match v {
        Value::String(s) => s.to_lowercase(),
        other => other.to_string(),
    })
}

/// Parses `sortBy` (an attribute path).
pub fn parse_attr_path(raw: &str) -> ScimResult<AttrPath> {
    AttrPath::parse(raw.trim()).ok_or_else(|| ScimError::invalid_value(format!("`{raw}` is not an attribute path")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn user() -> Value {
        json!({
            "id": "42",
            "userName": "Alice@Example.com",
            "externalId": "00uABC",
            "name": { "givenName": "Alice", "familyName": "Liddell" },
            "emails": [
                { "value": "alice@example.com", "type": "work", "primary": true },
                { "value": "alice@home.example", "type": "home" }
            ],
            "active": true,
            "meta": { "created": "2026-01-02T03:04:05.000Z", "lastModified": "2026-02-01T00:00:00.000Z" },
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { "department": "Sales", "employeeNumber": "7" }
        })
    }

    fn check(filter: &str) -> bool {
        matches(&parse(filter).expect(filter), &user())
    }

    #[test]
    fn operators_and_case_insensitive_names_and_values() {
        assert!(check(r#"userName eq "alice@example.com""#));
        assert!(check(r#"USERNAME Eq "ALICE@EXAMPLE.COM""#));
        assert!(check(r#"userName co "example""#));
        assert!(check(r#"userName sw "ali""#));
        assert!(check(r#"userName ew ".COM""#));
        assert!(check(r#"userName ne "bob@example.com""#));
        assert!(!check(r#"userName ne "alice@example.com""#));
        assert!(!check("title pr"));
        assert!(check("name.givenName pr"));
        assert!(check(r#"name.familyName eq "liddell""#));
        assert!(check(r#"meta.lastModified gt "2026-01-15T00:00:00Z""#));
        assert!(!check(r#"meta.lastModified lt "2026-01-15T00:00:00Z""#));
        assert!(check("active eq true"));
        assert!(!check("active eq false"));
        // externalId and id are caseExact.
        assert!(check(r#"externalId eq "00uABC""#));
        assert!(!check(r#"externalId eq "00uabc""#));
    }

    #[test]
    fn logic_precedence_and_parentheses() {
        assert!(check(r#"userName eq "x" or userName sw "alice" and active eq true"#));
        assert!(!check(r#"(userName eq "x" or userName sw "alice") and active eq false"#));
        assert!(check(r#"not (userName eq "x") and not(active eq false)"#));
        assert!(check(r#"NOT (userName eq "x") AND active eq true"#));
    }

    #[test]
    fn value_paths_and_schema_qualified_names() {
        assert!(check(r#"emails[type eq "work" and value co "@example.com"]"#));
        assert!(!check(r#"emails[type eq "work" and value co "@home"]"#));
        assert!(check(r#"emails[type eq "home"].value ew "home.example""#));
        assert!(check(r#"emails co "home.example""#));
        assert!(check(r#"emails.value eq "alice@home.example""#));
        assert!(check(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "alice""#));
        assert!(check(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "sales""#));
    }

    #[test]
    fn malformed_filters_are_invalid_filter_errors() {
        for bad in [
            "",
            "userName",
            "userName eq",
            r#"userName xx "a""#,
            r#"userName eq "unterminated"#,
            r#"(userName eq "a""#,
            r#"userName eq "a" and"#,
            r#"emails[type eq "work""#,
            "active gt true",
            "userName co 5",
            r#"userName eq "a" )"#,
            "#",
        ] {
            let e = parse(bad).expect_err(bad);
            assert_eq!(e.scim_type, Some("invalidFilter"), "{bad}");
            assert_eq!(e.status.as_u16(), 400);
        }
        let deep = format!("{}userName eq \"a\"{}", "(".repeat(100), ")".repeat(100));
        assert_eq!(parse(&deep).expect_err("deep").scim_type, Some("invalidFilter"));
    }

    #[test]
    fn patch_paths() {
        let p = parse_path(r#"emails[type eq "work"].value"#).expect("path");
        assert_eq!(p.attr.name, "emails");
        assert_eq!(p.sub.as_deref(), Some("value"));
        assert_eq!(
            pinned_values(p.filter.as_ref().expect("filter")),
            Some(json!({"type": "work"}).as_object().cloned().expect("o"))
        );
        let p = parse_path("name.givenName").expect("path");
        assert_eq!((p.attr.name.as_str(), p.attr.sub.as_deref()), ("name", Some("givenName")));
        let p = parse_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department").expect("path");
        assert_eq!(p.attr.uri.as_deref(), Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"));
        let p = parse_path(r#"members[value eq "7"]"#).expect("path");
        assert!(p.filter.is_some() && p.sub.is_none());
        for bad in ["", "emails[type eq", "emails]", "name..x", r#"members[value eq "7"] extra"#] {
            assert_eq!(parse_path(bad).expect_err(bad).scim_type, Some("invalidPath"), "{bad}");
        }
    }
}

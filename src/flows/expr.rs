//! The small, safe expression language of flows: set-variable nodes,
//! conditions, templates (`{{ … }}`) and orchestration conditions use it.
//! There is no `eval`: text is parsed into an [`Expr`] tree once (when the
//! flow is compiled) and evaluated against a [`Scope`] with bounded depth,
//! bounded string and list sizes and a whitelist of pure functions. Nothing
//! can reach the file system, the network, the clock or randomness, so the
//! same inputs always give the same result.
//!
//! Grammar (lowest precedence first):
//! `or := and (("||"|"or") and)*`, `and := not (("&&"|"and") not)*`,
//! `not := ("!"|"not") not | cmp`, `cmp := add (("=="|"!="|"<"|"<="|">"|">=") add)?`,
//! `add := mul (("+"|"-") mul)*`, `mul := unary (("*"|"/"|"%") unary)*`,
//! `unary := "-" unary | postfix`, `postfix := primary ("." ident | "[" expr "]")*`,
//! `primary := number | string | true | false | null | ident | ident "(" args ")" | "(" expr ")" | "[" items "]"`.

use std::fmt;

use serde_json::{Map, Number, Value};

/// Longest expression source accepted.
pub const MAX_SOURCE: usize = 2000;
/// Deepest nesting accepted by the parser.
const MAX_DEPTH: usize = 48;
/// Largest string an evaluation may build.
const MAX_STRING: usize = 64 * 1024;
/// Largest list an evaluation may build.
const MAX_LIST: usize = 10_000;

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Literal(Value),
    Var(String),
    Member(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    List(Vec<Expr>),
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    Call(Func, Vec<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Not,
    Neg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

macro_rules! functions {
    ($($variant:ident => $name:literal ($min:literal, $max:literal): $doc:literal),* $(,)?) => {
        /// The functions an expression may call.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Func { $($variant),* }

        impl Func {
            /// Every function with its name, arity and description (for the docs and the UI).
            pub const ALL: &'static [(Func, &'static str, usize, usize, &'static str)] =
                &[$((Func::$variant, $name, $min, $max, $doc)),*];

            fn parse(name: &str) -> Option<Func> {
                match name { $($name => Some(Func::$variant),)* _ => None }
            }

            fn name(self) -> &'static str {
                match self { $(Func::$variant => $name),* }
            }

            fn arity(self) -> (usize, usize) {
                match self { $(Func::$variant => ($min, $max)),* }
            }
        }
    };
}

functions! {
    Len => "len"(1, 1): "Length of a string (characters), list or object.",
    Lower => "lower"(1, 1): "Lower-cased string.",
    Upper => "upper"(1, 1): "Upper-cased string.",
    Trim => "trim"(1, 1): "String without leading and trailing white space.",
    Contains => "contains"(2, 2): "Whether a string contains a substring (case-insensitive) or a list contains a value.",
    StartsWith => "starts_with"(2, 2): "Whether a string starts with a prefix (case-insensitive).",
    EndsWith => "ends_with"(2, 2): "Whether a string ends with a suffix (case-insensitive).",
    Number => "number"(1, 1): "The value as a number (null when it is not one).",
    String => "string"(1, 1): "The value as text.",
    Bool => "bool"(1, 1): "The truthiness of the value.",
    Round => "round"(1, 2): "Rounds to the given number of decimals (default 0).",
    Floor => "floor"(1, 1): "Largest integer not above the number.",
    Ceil => "ceil"(1, 1): "Smallest integer not below the number.",
    Abs => "abs"(1, 1): "Absolute value.",
    Min => "min"(1, 16): "Smallest of the numbers (or of one list of numbers).",
    Max => "max"(1, 16): "Largest of the numbers (or of one list of numbers).",
    Default => "default"(2, 2): "The first argument unless it is null or empty, else the second.",
    Join => "join"(1, 2): "Joins a list into text with a separator (default \", \").",
    Split => "split"(2, 2): "Splits text at a separator into a list.",
    IsEmpty => "is_empty"(1, 1): "Whether the value is null, an empty string, list or object.",
    Replace => "replace"(3, 3): "Replaces every occurrence of a substring.",
    Concat => "concat"(1, 16): "Concatenates the arguments as text.",
}

/// Why an expression did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub message: String,
    /// Character offset of the problem.
    pub at: usize,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.at + 1)
    }
}

/// Why an evaluation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalError(pub String);

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where variables come from. `lookup` returns `None` for a name with no
/// value; implementations record that as a problem if they want to.
pub trait Scope {
    fn lookup(&self, name: &str) -> Option<Value>;
}

impl Scope for Map<String, Value> {
    fn lookup(&self, name: &str) -> Option<Value> {
        self.get(name).cloned()
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Str(String),
    Ident(String),
    Op(&'static str),
}

#[allow(clippy::too_many_lines, reason = "one match over the token kinds")]
fn tokenize(src: &str) -> Result<Vec<(Tok, usize)>, ParseError> {
    if src.chars().count() > MAX_SOURCE {
        return Err(ParseError { message: format!("longer than {MAX_SOURCE} characters"), at: 0 });
    }
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let after_dot = matches!(out.last(), Some((Tok::Op("."), _)));
        let after_value = matches!(out.last(), Some((Tok::Ident(_) | Tok::Num(_) | Tok::Op(")" | "]"), _)));
        if c.is_ascii_digit() || (c == '.' && !after_value && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            // After `.` only an index (`tags.0.name`), never a fraction.
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || (chars[i] == '.' && !after_dot && chars.get(i + 1).is_some_and(char::is_ascii_digit)))
            {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            let n: f64 =
                text.parse().map_err(|_| ParseError { message: format!("`{text}` is not a number"), at: start })?;
            out.push((Tok::Num(n), start));
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push((Tok::Ident(chars[start..i].iter().collect()), start));
            continue;
        }
        if c == '"' || c == '\'' {
            let quote = c;
            i += 1;
            let mut s = String::new();
            loop {
                let Some(&ch) = chars.get(i) else {
                    return Err(ParseError { message: "unterminated string".into(), at: start });
                };
                i += 1;
                if ch == quote {
                    break;
                }
                if ch == '\\' {
                    let Some(&esc) = chars.get(i) else {
                        return Err(ParseError { message: "unterminated string".into(), at: start });
                    };
                    i += 1;
                    s.push(match esc {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        other => other,
                    });
                } else {
                    s.push(ch);
                }
            }
            out.push((Tok::Str(s), start));
            continue;
        }
        let two: String = chars[i..chars.len().min(i + 2)].iter().collect();
        let op = match two.as_str() {
            "==" => Some("=="),
            "!=" => Some("!="),
            "<=" => Some("<="),
            ">=" => Some(">="),
            "&&" => Some("&&"),
            "||" => Some("||"),
            _ => None,
        };
        if let Some(op) = op {
            out.push((Tok::Op(op), start));
            i += 2;
            continue;
        }
        let op = match c {
            '+' => "+",
            '-' => "-",
            '*' => "*",
            '/' => "/",
            '%' => "%",
            '<' => "<",
            '>' => ">",
            '!' => "!",
            '(' => "(",
            ')' => ")",
            '[' => "[",
            ']' => "]",
            '.' => ".",
            ',' => ",",
            _ => return Err(ParseError { message: format!("unexpected character `{c}`"), at: start }),
        };
        out.push((Tok::Op(op), start));
        i += 1;
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    depth: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }

    fn at(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |(_, at)| *at)
    }

    fn err<T>(&self, message: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError { message: message.into(), at: self.at() })
    }

    fn eat_op(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Op(o)) if *o == op) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_word(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Ident(w)) if w == word) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_op(&mut self, op: &str) -> Result<(), ParseError> {
        if self.eat_op(op) { Ok(()) } else { self.err(format!("expected `{op}`")) }
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH { self.err("the expression is nested too deeply") } else { Ok(()) }
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        let mut left = self.and()?;
        while self.eat_op("||") || self.eat_word("or") {
            let right = self.and()?;
            left = Expr::Binary(BinaryOp::Or, Box::new(left), Box::new(right));
        }
        self.depth -= 1;
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.not()?;
        while self.eat_op("&&") || self.eat_word("and") {
            let right = self.not()?;
            left = Expr::Binary(BinaryOp::And, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, ParseError> {
        if self.eat_op("!") || self.eat_word("not") {
            self.enter()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Expr::Unary(UnaryOp::Not, Box::new(inner)));
        }
        self.cmp()
    }

    fn cmp(&mut self) -> Result<Expr, ParseError> {
        let left = self.add()?;
        let op = match self.peek() {
            Some(Tok::Op("==")) => BinaryOp::Eq,
            Some(Tok::Op("!=")) => BinaryOp::Ne,
            Some(Tok::Op("<")) => BinaryOp::Lt,
            Some(Tok::Op("<=")) => BinaryOp::Le,
            Some(Tok::Op(">")) => BinaryOp::Gt,
            Some(Tok::Op(">=")) => BinaryOp::Ge,
            _ => return Ok(left),
        };
        self.pos += 1;
        let right = self.add()?;
        Ok(Expr::Binary(op, Box::new(left), Box::new(right)))
    }

    fn add(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.mul()?;
        loop {
            let op = if self.eat_op("+") {
                BinaryOp::Add
            } else if self.eat_op("-") {
                BinaryOp::Sub
            } else {
                return Ok(left);
            };
            let right = self.mul()?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
    }

    fn mul(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.unary()?;
        loop {
            let op = if self.eat_op("*") {
                BinaryOp::Mul
            } else if self.eat_op("/") {
                BinaryOp::Div
            } else if self.eat_op("%") {
                BinaryOp::Rem
            } else {
                return Ok(left);
            };
            let right = self.unary()?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.eat_op("-") {
            self.enter()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Unary(UnaryOp::Neg, Box::new(inner)));
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.primary()?;
        loop {
            if self.eat_op(".") {
                match self.peek().cloned() {
                    Some(Tok::Ident(name)) => {
                        self.pos += 1;
                        e = Expr::Member(Box::new(e), name);
                    }
                    Some(Tok::Num(n)) if n.fract() == 0.0 && n >= 0.0 => {
                        self.pos += 1;
                        e = Expr::Index(Box::new(e), Box::new(Expr::Literal(num(n))));
                    }
                    _ => return self.err("expected a name after `.`"),
                }
            } else if self.eat_op("[") {
                let index = self.or()?;
                self.expect_op("]")?;
                e = Expr::Index(Box::new(e), Box::new(index));
            } else {
                return Ok(e);
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let Some(tok) = self.peek().cloned() else {
            return self.err("unexpected end of the expression");
        };
        let at = self.at();
        self.pos += 1;
        match tok {
            Tok::Num(n) => Ok(Expr::Literal(num(n))),
            Tok::Str(s) => Ok(Expr::Literal(Value::String(s))),
            Tok::Ident(word) => match word.as_str() {
                "true" => Ok(Expr::Literal(Value::Bool(true))),
                "false" => Ok(Expr::Literal(Value::Bool(false))),
                "null" => Ok(Expr::Literal(Value::Null)),
                _ if self.eat_op("(") => {
                    let Some(func) = Func::parse(&word) else {
                        return Err(ParseError { message: format!("unknown function `{word}`"), at });
                    };
                    let mut args = Vec::new();
                    if !self.eat_op(")") {
                        loop {
                            args.push(self.or()?);
                            if self.eat_op(")") {
                                break;
                            }
                            self.expect_op(",")?;
                        }
                    }
                    let (min, max) = func.arity();
                    if args.len() < min || args.len() > max {
                        return Err(ParseError {
                            message: format!(
                                "`{}` takes {} argument{}",
                                func.name(),
                                if min == max { min.to_string() } else { format!("{min} to {max}") },
                                if max == 1 { "" } else { "s" }
                            ),
                            at,
                        });
                    }
                    Ok(Expr::Call(func, args))
                }
                _ => Ok(Expr::Var(word)),
            },
            Tok::Op("(") => {
                let inner = self.or()?;
                self.expect_op(")")?;
                Ok(inner)
            }
            Tok::Op("[") => {
                let mut items = Vec::new();
                if !self.eat_op("]") {
                    loop {
                        items.push(self.or()?);
                        if self.eat_op("]") {
                            break;
                        }
                        self.expect_op(",")?;
                    }
                }
                Ok(Expr::List(items))
            }
            Tok::Op(op) => Err(ParseError { message: format!("unexpected `{op}`"), at }),
        }
    }
}

fn num(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        #[allow(clippy::cast_possible_truncation, reason = "checked to be integral and in range")]
        return Value::Number(Number::from(n as i64));
    }
    Number::from_f64(n).map_or(Value::Null, Value::Number)
}

/// Parses an expression.
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    let toks = tokenize(src)?;
    if toks.is_empty() {
        return Err(ParseError { message: "the expression is empty".into(), at: 0 });
    }
    let mut p = Parser { toks, pos: 0, depth: 0, end: src.chars().count() };
    let e = p.or()?;
    if p.pos < p.toks.len() {
        return p.err("unexpected text after the expression");
    }
    Ok(e)
}

impl Expr {
    /// The root variable names the expression reads (for validation and the debugger).
    #[must_use]
    pub fn variables(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_vars(&mut out);
        out.sort();
        out.dedup();
        out
    }

    fn collect_vars(&self, out: &mut Vec<String>) {
        match self {
            Expr::Literal(_) => {}
            Expr::Var(v) => out.push(v.clone()),
            Expr::Member(e, _) | Expr::Unary(_, e) => e.collect_vars(out),
            Expr::Index(a, b) | Expr::Binary(_, a, b) => {
                a.collect_vars(out);
                b.collect_vars(out);
            }
            Expr::List(items) | Expr::Call(_, items) => items.iter().for_each(|e| e.collect_vars(out)),
        }
    }
}

/// Whether a value counts as true in conditions.
#[must_use]
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Text of a value as templates show it.
#[must_use]
pub fn to_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_f64() {
            #[allow(clippy::cast_possible_truncation, reason = "integral and in range")]
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 1e15 => (f as i64).to_string(),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(to_text).collect::<Vec<_>>().join(", "),
        Value::Object(_) => v.to_string(),
    }
}

/// A value as a number, when it is one (numeric strings count).
#[must_use]
pub fn to_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

/// Equality with numbers compared by value (`1 == 1.0`).
#[must_use]
pub fn loose_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Number(_), Value::String(s)) | (Value::String(s), Value::Number(_)) => {
            let n = if let Value::Number(n) = a {
                n
            } else if let Value::Number(n) = b {
                n
            } else {
                return false;
            };
            s.trim().parse::<f64>().ok() == n.as_f64()
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| loose_eq(a, b)),
        _ => a == b,
    }
}

fn check_len(s: String) -> Result<Value, EvalError> {
    if s.len() > MAX_STRING {
        Err(EvalError(format!("text longer than {MAX_STRING} bytes")))
    } else {
        Ok(Value::String(s))
    }
}

fn number_value(f: f64) -> Result<Value, EvalError> {
    if !f.is_finite() {
        return Err(EvalError("the result is not a finite number".into()));
    }
    Ok(num(f))
}

/// Evaluates an expression.
pub fn eval(e: &Expr, scope: &dyn Scope) -> Result<Value, EvalError> {
    match e {
        Expr::Literal(v) => Ok(v.clone()),
        Expr::Var(name) => Ok(scope.lookup(name).unwrap_or(Value::Null)),
        Expr::Member(inner, field) => Ok(match eval(inner, scope)? {
            Value::Object(mut o) => o.remove(field).unwrap_or(Value::Null),
            _ => Value::Null,
        }),
        Expr::Index(inner, index) => {
            let base = eval(inner, scope)?;
            let index = eval(index, scope)?;
            Ok(match (base, index) {
                (Value::Array(mut items), Value::Number(n)) => {
                    let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
                    match n.as_i64() {
                        Some(i) if i >= 0 && i < len => items.swap_remove(usize::try_from(i).unwrap_or(0)),
                        Some(i) if i < 0 && -i <= len => items.swap_remove(usize::try_from(len + i).unwrap_or(0)),
                        _ => Value::Null,
                    }
                }
                (Value::Object(mut o), Value::String(k)) => o.remove(&k).unwrap_or(Value::Null),
                _ => Value::Null,
            })
        }
        Expr::List(items) => {
            if items.len() > MAX_LIST {
                return Err(EvalError("list too long".into()));
            }
            Ok(Value::Array(items.iter().map(|i| eval(i, scope)).collect::<Result<_, _>>()?))
        }
        Expr::Unary(UnaryOp::Not, inner) => Ok(Value::Bool(!truthy(&eval(inner, scope)?))),
        Expr::Unary(UnaryOp::Neg, inner) => {
            let v = eval(inner, scope)?;
            let n = to_number(&v).ok_or_else(|| EvalError(format!("cannot negate {}", kind(&v))))?;
            number_value(-n)
        }
        Expr::Binary(BinaryOp::And, a, b) => {
            let left = eval(a, scope)?;
            if truthy(&left) { eval(b, scope) } else { Ok(left) }
        }
        Expr::Binary(BinaryOp::Or, a, b) => {
            let left = eval(a, scope)?;
            if truthy(&left) { Ok(left) } else { eval(b, scope) }
        }
        Expr::Binary(op, a, b) => binary(*op, &eval(a, scope)?, &eval(b, scope)?),
        Expr::Call(func, args) => {
            let args: Vec<Value> = args.iter().map(|a| eval(a, scope)).collect::<Result<_, _>>()?;
            call(*func, &args)
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => to_number(a)?.partial_cmp(&to_number(b)?),
    }
}

fn binary(op: BinaryOp, a: &Value, b: &Value) -> Result<Value, EvalError> {
    use std::cmp::Ordering::{Equal, Greater, Less};
    match op {
        BinaryOp::Eq => Ok(Value::Bool(loose_eq(a, b))),
        BinaryOp::Ne => Ok(Value::Bool(!loose_eq(a, b))),
        BinaryOp::Lt => Ok(Value::Bool(compare(a, b) == Some(Less))),
        BinaryOp::Le => Ok(Value::Bool(matches!(compare(a, b), Some(Less | Equal)))),
        BinaryOp::Gt => Ok(Value::Bool(compare(a, b) == Some(Greater))),
        BinaryOp::Ge => Ok(Value::Bool(matches!(compare(a, b), Some(Greater | Equal)))),
        BinaryOp::Add => match (a, b) {
            (Value::Number(x), Value::Number(y)) => number_value(x.as_f64().unwrap_or(0.0) + y.as_f64().unwrap_or(0.0)),
            (Value::Array(x), Value::Array(y)) => {
                if x.len() + y.len() > MAX_LIST {
                    return Err(EvalError("list too long".into()));
                }
                Ok(Value::Array(x.iter().chain(y).cloned().collect()))
            }
            (Value::Null, Value::Number(_)) | (Value::Number(_), Value::Null) => {
                number_value(to_number(a).unwrap_or(0.0) + to_number(b).unwrap_or(0.0))
            }
            _ => check_len(to_text(a) + &to_text(b)),
        },
        BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => {
            let (Some(x), Some(y)) = (to_number(a), to_number(b)) else {
                return Err(EvalError(format!("arithmetic needs numbers, got {} and {}", kind(a), kind(b))));
            };
            if matches!(op, BinaryOp::Div | BinaryOp::Rem) && y == 0.0 {
                return Err(EvalError("division by zero".into()));
            }
            number_value(match op {
                BinaryOp::Sub => x - y,
                BinaryOp::Mul => x * y,
                BinaryOp::Div => x / y,
                _ => x % y,
            })
        }
        BinaryOp::And | BinaryOp::Or => Ok(Value::Bool(truthy(a) && truthy(b))),
    }
}

fn text_arg(v: &Value) -> String {
    to_text(v)
}

fn numbers_of(args: &[Value]) -> Result<Vec<f64>, EvalError> {
    let list: Vec<Value> = match args {
        [Value::Array(items)] => items.clone(),
        _ => args.to_vec(),
    };
    list.iter().map(|v| to_number(v).ok_or_else(|| EvalError(format!("expected numbers, got {}", kind(v))))).collect()
}

fn call(func: Func, args: &[Value]) -> Result<Value, EvalError> {
    let a0 = args.first().cloned().unwrap_or(Value::Null);
    let a1 = args.get(1).cloned().unwrap_or(Value::Null);
    match func {
        Func::Len => Ok(Value::from(match &a0 {
            Value::String(s) => s.chars().count(),
            Value::Array(a) => a.len(),
            Value::Object(o) => o.len(),
            Value::Null => 0,
            other => to_text(other).chars().count(),
        })),
        Func::Lower => Ok(Value::String(text_arg(&a0).to_lowercase())),
        Func::Upper => Ok(Value::String(text_arg(&a0).to_uppercase())),
        Func::Trim => Ok(Value::String(text_arg(&a0).trim().to_owned())),
        Func::Contains => Ok(Value::Bool(match &a0 {
            Value::Array(items) => items.iter().any(|i| loose_eq(i, &a1)),
            Value::Object(o) => o.contains_key(&text_arg(&a1)),
            other => text_arg(other).to_lowercase().contains(&text_arg(&a1).to_lowercase()),
        })),
        Func::StartsWith => Ok(Value::Bool(text_arg(&a0).to_lowercase().starts_with(&text_arg(&a1).to_lowercase()))),
        Func::EndsWith => Ok(Value::Bool(text_arg(&a0).to_lowercase().ends_with(&text_arg(&a1).to_lowercase()))),
        Func::Number => Ok(to_number(&a0).map_or(Ok(Value::Null), number_value)?),
        Func::String => Ok(Value::String(text_arg(&a0))),
        Func::Bool => Ok(Value::Bool(truthy(&a0))),
        Func::Round => {
            let x = to_number(&a0).ok_or_else(|| EvalError("round needs a number".into()))?;
            let digits = to_number(&a1).unwrap_or(0.0).clamp(0.0, 10.0);
            let factor = 10f64.powf(digits.trunc());
            number_value((x * factor).round() / factor)
        }
        Func::Floor => number_value(to_number(&a0).ok_or_else(|| EvalError("floor needs a number".into()))?.floor()),
        Func::Ceil => number_value(to_number(&a0).ok_or_else(|| EvalError("ceil needs a number".into()))?.ceil()),
        Func::Abs => number_value(to_number(&a0).ok_or_else(|| EvalError("abs needs a number".into()))?.abs()),
        Func::Min | Func::Max => {
            let numbers = numbers_of(args)?;
            let pick = if func == Func::Min { f64::min } else { f64::max };
            numbers.into_iter().reduce(pick).map_or(Ok(Value::Null), number_value)
        }
        Func::Default => Ok(if call(Func::IsEmpty, std::slice::from_ref(&a0))? == Value::Bool(true) { a1 } else { a0 }),
        Func::Join => {
            let sep = if args.len() > 1 { text_arg(&a1) } else { ", ".to_owned() };
            match a0 {
                Value::Array(items) => check_len(items.iter().map(to_text).collect::<Vec<_>>().join(&sep)),
                other => Ok(Value::String(text_arg(&other))),
            }
        }
        Func::Split => {
            let (text, sep) = (text_arg(&a0), text_arg(&a1));
            let parts: Vec<Value> = if sep.is_empty() {
                text.chars().map(|c| Value::String(c.to_string())).collect()
            } else {
                text.split(sep.as_str()).map(|s| Value::String(s.to_owned())).collect()
            };
            if parts.len() > MAX_LIST {
                return Err(EvalError("list too long".into()));
            }
            Ok(Value::Array(parts))
        }
        Func::IsEmpty => Ok(Value::Bool(match &a0 {
            Value::Null => true,
            Value::String(s) => s.trim().is_empty(),
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
            _ => false,
        })),
        Func::Replace => {
            let (text, from, to) = (text_arg(&a0), text_arg(&a1), text_arg(args.get(2).unwrap_or(&Value::Null)));
            if from.is_empty() {
                return Ok(Value::String(text));
            }
            check_len(text.replace(&from, &to))
        }
        Func::Concat => check_len(args.iter().map(to_text).collect()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(src: &str, vars: &Value) -> Result<Value, EvalError> {
        let scope = vars.as_object().cloned().unwrap_or_default();
        eval(&parse(src).unwrap_or_else(|e| panic!("{src}: {e}")), &scope)
    }

    #[test]
    fn arithmetic_and_precedence() {
        let v = json!({});
        assert_eq!(run("1 + 2 * 3", &v), Ok(json!(7)));
        assert_eq!(run("(1 + 2) * 3", &v), Ok(json!(9)));
        assert_eq!(run("10 / 4", &v), Ok(json!(2.5)));
        assert_eq!(run("-3 + 1", &v), Ok(json!(-2)));
        assert_eq!(run("7 % 3", &v), Ok(json!(1)));
        assert!(run("1 / 0", &v).is_err());
    }

    #[test]
    fn variables_members_and_indexes() {
        let v = json!({ "user": { "name": "Ana", "tags": ["a", "b"] }, "count": 2 });
        assert_eq!(run("user.name", &v), Ok(json!("Ana")));
        assert_eq!(run("user.tags[1]", &v), Ok(json!("b")));
        assert_eq!(run("user.tags[-1]", &v), Ok(json!("b")));
        assert_eq!(run("user.tags.0", &v), Ok(json!("a")));
        assert_eq!(run("user[\"name\"]", &v), Ok(json!("Ana")));
        assert_eq!(run("missing.deep.path", &v), Ok(Value::Null));
        assert_eq!(run("count + 1", &v), Ok(json!(3)));
        assert_eq!(run("\"Hi \" + user.name", &v), Ok(json!("Hi Ana")));
    }

    #[test]
    fn comparisons_and_logic() {
        let v = json!({ "age": "42", "name": "" });
        assert_eq!(run("age >= 18 && age < 100", &v), Ok(json!(true)));
        assert_eq!(run("age == 42", &v), Ok(json!(true)));
        assert_eq!(run("not name", &v), Ok(json!(true)));
        assert_eq!(run("name or 'anonymous'", &v), Ok(json!("anonymous")));
        assert_eq!(run("'b' > 'a'", &v), Ok(json!(true)));
        assert_eq!(run("[1, 2] == [1, 2.0]", &v), Ok(json!(true)));
    }

    #[test]
    fn functions() {
        let v = json!({ "s": "  Hello World ", "xs": [3, 1, 2] });
        assert_eq!(run("lower(trim(s))", &v), Ok(json!("hello world")));
        assert_eq!(run("contains(s, 'WORLD')", &v), Ok(json!(true)));
        assert_eq!(run("contains(xs, 2)", &v), Ok(json!(true)));
        assert_eq!(run("len(xs)", &v), Ok(json!(3)));
        assert_eq!(run("max(xs)", &v), Ok(json!(3)));
        assert_eq!(run("min(4, 5, -1)", &v), Ok(json!(-1)));
        assert_eq!(run("round(2.456, 2)", &v), Ok(json!(2.46)));
        assert_eq!(run("default(nothing, 'x')", &v), Ok(json!("x")));
        assert_eq!(run("join(split('a,b', ','), '-')", &v), Ok(json!("a-b")));
        assert_eq!(run("number('3.5') * 2", &v), Ok(json!(7)));
        assert_eq!(run("replace('aXbX', 'X', '.')", &v), Ok(json!("a.b.")));
    }

    #[test]
    fn parse_errors_point_at_the_problem() {
        assert_eq!(parse("1 +").expect_err("bad").message, "unexpected end of the expression");
        assert!(parse("eval('x')").expect_err("bad").message.contains("unknown function"));
        assert!(parse("len(1, 2)").expect_err("bad").message.contains("takes 1 argument"));
        assert!(parse("a b").is_err());
        assert!(parse("'open").is_err());
        assert!(parse("").is_err());
        assert!(parse("#").is_err());
        let deep = "(".repeat(200) + "1" + &")".repeat(200);
        assert!(parse(&deep).is_err());
    }

    #[test]
    fn lists_the_variables_read() {
        let e = parse("a + b.c * len(d[e])").expect("parse");
        assert_eq!(e.variables(), ["a", "b", "d", "e"]);
    }

    #[test]
    fn output_size_is_bounded() {
        let v = json!({ "s": "x".repeat(40_000) });
        assert!(run("s + s", &v).is_err());
    }
}

/// Property tests (issue 30): flow expressions are written by API users, so
/// any text must parse to an expression or a `ParseError`, and evaluation
/// must end in a value or an `EvalError` — never a panic.
#[cfg(test)]
mod proptests {
    use proptest::prelude::*;
    use serde_json::{Map, Value, json};

    use super::{eval, parse};

    fn scope() -> Map<String, Value> {
        json!({ "name": "Ana", "n": 3, "list": [1, "two", null, [3]], "user": { "tags": ["a"], "age": 41.5 },
                "empty": "", "flag": true, "nothing": null })
        .as_object()
        .cloned()
        .unwrap_or_default()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn any_text_parses_or_fails_cleanly(src in "\\PC{0,80}") {
            if let Ok(e) = parse(&src) {
                let _ = eval(&e, &scope());
            }
        }

        #[test]
        fn expression_shaped_text_parses_or_fails_cleanly(
            src in "[a-z0-9_ .+*/%()\\[\\]\"'!<>=&|,?:-]{0,60}|(name|n|list|user|len|upper|default|concat|\\(|\\)|\\[|\\]|\\.|,|[0-9]{1,3}|\"x\"| |\\+|-|\\*|/|%|==|!=|&&|\\|\\||!){0,30}",
        ) {
            if let Ok(e) = parse(&src) {
                let _ = eval(&e, &scope());
            }
        }

        #[test]
        fn integer_arithmetic_is_exact(a in -1_000_000_i64..1_000_000, b in -1_000_000_i64..1_000_000) {
            let sum = parse(&format!("{a} + ({b})")).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(eval(&sum, &scope()).map_err(|e| TestCaseError::fail(e.0))?, json!(a + b));
            let product = parse(&format!("({a}) * ({b})")).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(eval(&product, &scope()).map_err(|e| TestCaseError::fail(e.0))?, json!(a * b));
        }

        #[test]
        fn string_literals_round_trip_through_escapes(s in "\\PC{0,40}") {
            let quoted = format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
            let e = parse(&quoted).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(eval(&e, &scope()).map_err(|e| TestCaseError::fail(e.0))?, json!(s));
        }
    }
}

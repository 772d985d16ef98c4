//! Validation and compilation of a flow document into the graph the engine
//! runs. Every problem is reported with the node (or edge) it concerns:
//! bad node data, dangling edges, unknown ports, unreachable nodes, cycles
//! that could loop without waiting for the user, and expressions,
//! templates, patterns and JSON paths that do not parse.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use regex::Regex;
use serde::Serialize;
use serde_json::Value;

use super::document::{
    AgentData, ButtonDoc, ConditionData, ConditionDoc, EdgeDoc, EndData, FlowDocument, FormData, HandoffData, HttpData,
    HttpMethod, IntentRouterData, JumpData, JumpMode, KnowledgeData, MAX_EDGES, MAX_NODES, MessageData, NodeType,
    Operator, QuestionData, SCHEMA_VERSION, SetVariableData, StartData, Subject, ToolData, ValidationDoc,
};
use super::expr::{self, BinaryOp, Expr, Func, UnaryOp};
use super::jsonpath::JsonPath;
use super::template::Template;

/// Names the engine provides; flows may read but not assign them.
pub const BUILTINS: &[&str] =
    &["message", "intent", "confidence", "entities", "channel", "conversation", "detected_language"];
const KEYWORDS: &[&str] = &["true", "false", "null", "and", "or", "not"];

/// One finding of validation.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Issue {
    /// `error` (the flow cannot be published; on a draft only a malformed
    /// or oversized document is an error) or `warning`.
    pub severity: Severity,
    /// Stable code, e.g. `dangling_edge`, `unreachable_node`.
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edge_id: Option<String>,
    /// The field of the node's data at fault, e.g. `data.validation.pattern`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// A warning on a draft that becomes an error when the flow is published
    /// (an unfinished flow saves, but cannot go live).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub blocks_publish: bool,
}

/// Codes that make a document unsavable even as a draft: its shape (schema
/// version, size limits, node identities) is wrong, not merely unfinished.
pub const UNSAVABLE: &[&str] =
    &["unsupported_version", "too_many_nodes", "too_many_edges", "invalid_node_id", "duplicate_node_id"];

/// The issues as a draft shows them: every error that only says the flow is
/// not finished yet (unreachable or unconnected nodes, dangling edges, a
/// missing field, an empty message, an unknown target flow…) becomes a
/// warning that blocks publishing; only [`UNSAVABLE`] codes stay errors.
#[must_use]
pub fn as_draft(issues: Vec<Issue>) -> Vec<Issue> {
    issues
        .into_iter()
        .map(|mut i| {
            if i.severity == Severity::Error && !UNSAVABLE.contains(&i.code) {
                i.severity = Severity::Warning;
                i.blocks_publish = true;
            }
            i
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

impl Issue {
    /// An error (refuses publishing; see [`as_draft`] for drafts).
    #[must_use]
    pub fn error(code: &'static str, message: impl Into<String>) -> Issue {
        Issue {
            severity: Severity::Error,
            code,
            message: message.into(),
            node_id: None,
            edge_id: None,
            field: None,
            blocks_publish: false,
        }
    }

    /// A warning (never blocks saving or publishing).
    #[must_use]
    pub fn warning(code: &'static str, message: impl Into<String>) -> Issue {
        Issue { severity: Severity::Warning, ..Issue::error(code, message) }
    }

    #[must_use]
    pub fn node(mut self, id: &str) -> Issue {
        self.node_id = Some(id.to_owned());
        self
    }

    #[must_use]
    pub fn field(mut self, field: impl Into<String>) -> Issue {
        self.field = Some(field.into());
        self
    }

    fn edge(mut self, id: Option<&str>) -> Issue {
        self.edge_id = id.map(str::to_owned);
        self
    }
}

/// Rich message content with its templates parsed.
#[derive(Debug, Clone, Default)]
pub struct Content {
    pub text: Option<Template>,
    pub quick_replies: Vec<(Template, Template)>,
    pub buttons: Vec<Button>,
    pub cards: Vec<Card>,
    pub image: Option<(Template, Option<String>)>,
}

#[derive(Debug, Clone)]
pub struct Button {
    pub label: Template,
    pub value: Option<Template>,
    pub url: Option<Template>,
}

#[derive(Debug, Clone)]
pub struct Card {
    pub title: Template,
    pub subtitle: Option<Template>,
    pub image_url: Option<Template>,
    pub buttons: Vec<Button>,
}

/// A compiled condition.
#[derive(Debug, Clone)]
pub enum Cond {
    Expr(Expr),
    Matches(Expr, Regex),
    All(Vec<Cond>),
    Any(Vec<Cond>),
}

/// How a question checks its answer.
#[derive(Debug, Clone)]
pub enum Check {
    Any,
    Entity(String),
    Regex(Regex),
    Choices(Vec<(String, String)>),
}

#[derive(Debug, Clone)]
pub struct Question {
    pub prompt: Content,
    pub variable: String,
    pub check: Check,
    pub retries: u32,
    pub reprompt: Option<Template>,
    pub fill_from_message: bool,
}

/// A slot of a form, compiled.
#[derive(Debug, Clone)]
pub struct Slot {
    pub entity: String,
    pub role: Option<String>,
    pub variable: String,
    pub prompt: Content,
    /// True of an acceptable `value`.
    pub validation: Option<Expr>,
    pub invalid_message: Option<Template>,
    pub required: bool,
}

/// A form node, compiled.
#[derive(Debug, Clone)]
pub struct Form {
    pub slots: Vec<Slot>,
    pub retries: u32,
    /// Lower-cased.
    pub cancel_keywords: Vec<String>,
    pub cancel_intents: Vec<String>,
    pub keep_existing: bool,
}

#[derive(Debug, Clone)]
pub struct Http {
    pub method: HttpMethod,
    pub url: Template,
    pub headers: Vec<(String, Template)>,
    pub body: Option<BodyTemplate>,
    pub timeout_ms: u64,
    pub mappings: Vec<(String, JsonPath)>,
    pub status_variable: Option<String>,
    pub response_variable: Option<String>,
}

/// A JSON body whose string leaves are templates.
#[derive(Debug, Clone)]
pub enum BodyTemplate {
    Value(Value),
    Text(Template),
    List(Vec<BodyTemplate>),
    Object(Vec<(String, BodyTemplate)>),
}

#[derive(Debug, Clone)]
pub struct Knowledge {
    pub question: Option<Template>,
    pub knowledge_base_id: Option<i64>,
    pub min_score: Option<f64>,
    pub variable: Option<String>,
    pub send_answer: bool,
}

/// An `agent` node ready to run.
#[derive(Debug, Clone)]
pub struct AgentNode {
    pub agent_id: i64,
    pub input: Option<Template>,
    pub variable: Option<String>,
    pub send_reply: bool,
}

/// A `tool` node ready to run.
#[derive(Debug, Clone)]
pub struct ToolNode {
    pub tool_id: i64,
    pub arguments: Option<BodyTemplate>,
    pub variable: Option<String>,
    pub error_variable: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Route {
    pub port: String,
    pub intent: String,
    pub min_confidence: Option<f64>,
}

/// A node ready to run.
#[derive(Debug, Clone)]
pub enum Kind {
    Start,
    Message(Content),
    Question(Box<Question>),
    Condition(Vec<(String, Cond)>),
    SetVariable(Vec<(String, Expr)>),
    IntentRouter { routes: Vec<Route>, min_confidence: Option<f64> },
    Knowledge(Box<Knowledge>),
    Http(Box<Http>),
    Agent(Box<AgentNode>),
    Tool(Box<ToolNode>),
    Jump { flow: String, mode: JumpMode },
    Handoff { message: Option<Content>, team_id: Option<i64>, note: Option<Template> },
    End { message: Option<Content>, close: bool },
    Form(Box<Form>),
}

#[derive(Debug, Clone)]
pub struct Node {
    pub id: String,
    pub node_type: NodeType,
    pub kind: Kind,
    ports: Vec<(String, usize)>,
}

impl Node {
    /// The node an output port leads to.
    #[must_use]
    pub fn port(&self, port: &str) -> Option<usize> {
        self.ports.iter().find(|(p, _)| p == port).map(|(_, i)| *i)
    }
}

/// A validated flow graph.
#[derive(Debug, Clone)]
pub struct Graph {
    pub start: usize,
    pub nodes: Vec<Node>,
    index: HashMap<String, usize>,
    /// Variables read by expressions and templates.
    pub reads: BTreeSet<String>,
    /// Variables assigned by nodes.
    pub writes: BTreeSet<String>,
    /// Intents named by routers and conditions.
    pub intents: BTreeSet<String>,
    /// Flows jumped to.
    pub jumps: BTreeSet<String>,
    /// Entities named by form slots and entity-checked questions, with the
    /// node that names each first.
    pub entities: BTreeMap<String, String>,
}

impl Graph {
    #[must_use]
    pub fn find(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }
}

/// The outcome of compiling: the graph when there is no error, and every issue.
#[derive(Debug)]
pub struct Compiled {
    pub graph: Option<Graph>,
    pub issues: Vec<Issue>,
}

/// Whether `name` is a valid variable name (not a built-in or keyword).
pub fn check_variable_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let valid = name.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!(
            "`{name}` is not a valid variable name (letters, digits and _, starting with a letter or _, at most 64)"
        ));
    }
    if BUILTINS.contains(&name) || KEYWORDS.contains(&name) {
        return Err(format!("`{name}` is reserved and cannot be assigned"));
    }
    Ok(())
}

/// Whether `name` is a valid flow name.
pub fn check_flow_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if valid {
        Ok(())
    } else {
        Err(format!("`{name}` is not a valid flow name (lower-case letters, digits, _ and -, at most 64)"))
    }
}

fn valid_node_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Builds a pattern matching the whole answer; bounded in size.
pub fn whole_match_regex(pattern: &str, case_insensitive: bool) -> Result<Regex, String> {
    if pattern.len() > 1000 {
        return Err("the pattern is longer than 1000 characters".into());
    }
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .case_insensitive(case_insensitive)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| e.to_string())
}

struct Ctx<'a> {
    node: &'a str,
    issues: &'a mut Vec<Issue>,
    reads: &'a mut BTreeSet<String>,
    writes: &'a mut BTreeSet<String>,
    intents: &'a mut BTreeSet<String>,
    entities: &'a mut BTreeMap<String, String>,
}

impl Ctx<'_> {
    fn fail(&mut self, code: &'static str, field: &str, message: impl Into<String>) {
        self.issues.push(Issue::error(code, message).node(self.node).field(field));
    }

    fn template(&mut self, field: &str, src: &str) -> Template {
        match Template::parse(src) {
            Ok(t) => {
                self.reads.extend(t.variables());
                t
            }
            Err(e) => {
                self.fail("invalid_template", field, e.to_string());
                Template::literal(src)
            }
        }
    }

    fn expression(&mut self, field: &str, src: &str) -> Option<Expr> {
        match expr::parse(src) {
            Ok(e) => {
                self.reads.extend(e.variables());
                Some(e)
            }
            Err(e) => {
                self.fail("invalid_expression", field, e.to_string());
                None
            }
        }
    }

    fn variable(&mut self, field: &str, name: &str) {
        match check_variable_name(name) {
            Ok(()) => {
                self.writes.insert(name.to_owned());
            }
            Err(m) => self.fail("invalid_variable", field, m),
        }
    }

    /// A form's slots: each names an entity and a distinct variable; two
    /// slots of one entity must be told apart by their roles.
    fn form(&mut self, f: &FormData) -> Kind {
        if f.slots.is_empty() {
            self.fail("missing_field", "data.slots", "at least one slot");
        }
        if f.retries > 10 {
            self.fail("invalid_field", "data.retries", "at most 10");
        }
        let mut slots = Vec::with_capacity(f.slots.len());
        let mut seen: Vec<(String, Option<String>)> = Vec::new();
        for (i, s) in f.slots.iter().enumerate() {
            let at = format!("data.slots[{i}]");
            let entity = s.entity.trim().to_owned();
            let role = s.role.as_deref().map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned);
            if entity.is_empty() {
                self.fail("missing_field", &format!("{at}.entity"), "the entity name is required");
            } else {
                self.entities.entry(entity.clone()).or_insert_with(|| self.node.to_owned());
            }
            self.variable(&format!("{at}.variable"), &s.variable);
            if f.slots[..i].iter().any(|o| o.variable == s.variable) {
                self.fail("invalid_field", &format!("{at}.variable"), "each slot fills its own variable");
            }
            if seen.iter().any(|(e, r)| *e == entity && (r.is_none() || role.is_none() || *r == role)) {
                self.fail(
                    "invalid_field",
                    &format!("{at}.role"),
                    "two slots of one entity need different roles to tell them apart",
                );
            }
            seen.push((entity.clone(), role.clone()));
            let prompt = self.content(&format!("{at}.prompt"), &s.prompt, true);
            let validation = s.validation.as_deref().filter(|v| !v.trim().is_empty()).and_then(|src| {
                match expr::parse(src) {
                    Ok(e) => {
                        // `value` is the candidate, not a variable of the flow.
                        self.reads.extend(e.variables().into_iter().filter(|v| v != "value"));
                        Some(e)
                    }
                    Err(e) => {
                        self.fail("invalid_expression", &format!("{at}.validation"), e.to_string());
                        None
                    }
                }
            });
            let invalid_message =
                s.invalid_message.as_deref().map(|t| self.template(&format!("{at}.invalid_message"), t));
            slots.push(Slot {
                entity,
                role,
                variable: s.variable.clone(),
                prompt,
                validation,
                invalid_message,
                required: s.required,
            });
        }
        for (i, k) in f.cancel_intents.iter().enumerate() {
            if k.trim().is_empty() {
                self.fail("missing_field", &format!("data.cancel_intents[{i}]"), "an intent name");
            } else {
                self.intents.insert(k.trim().to_owned());
            }
        }
        Kind::Form(Box::new(Form {
            slots,
            retries: f.retries,
            cancel_keywords: f
                .cancel_keywords
                .iter()
                .map(|k| k.trim().to_lowercase())
                .filter(|k| !k.is_empty())
                .collect(),
            cancel_intents: f.cancel_intents.iter().map(|k| k.trim().to_owned()).collect(),
            keep_existing: f.keep_existing,
        }))
    }

    fn url(&mut self, field: &str, src: &str) -> Template {
        let t = self.template(field, src);
        if t.is_static() && !(src.starts_with("https://") || src.starts_with("http://")) {
            self.fail("invalid_url", field, "must be an http:// or https:// URL");
        }
        t
    }

    fn content(&mut self, field: &str, m: &MessageData, text_required: bool) -> Content {
        let prefix = if field.is_empty() { String::new() } else { format!("{field}.") };
        let text = m.text.as_deref().filter(|t| !t.trim().is_empty());
        if text_required && text.is_none() {
            self.fail("missing_field", &format!("{prefix}text"), "a text is required");
        }
        if text.is_none()
            && m.quick_replies.is_empty()
            && m.buttons.is_empty()
            && m.cards.is_empty()
            && m.image.is_none()
        {
            if !text_required {
                self.fail(
                    "missing_field",
                    &format!("{prefix}text"),
                    "a message needs text, buttons, cards or an image",
                );
            }
            return Content::default();
        }
        if text.is_some_and(|t| t.chars().count() > 4000) {
            self.fail("invalid_field", &format!("{prefix}text"), "at most 4000 characters");
        }
        let mut content =
            Content { text: text.map(|t| self.template(&format!("{prefix}text"), t)), ..Content::default() };
        if m.quick_replies.len() > 20 || m.buttons.len() > 20 || m.cards.len() > 10 {
            self.fail("invalid_field", &prefix, "at most 20 quick replies, 20 buttons and 10 cards");
        }
        for (i, q) in m.quick_replies.iter().enumerate() {
            let f = format!("{prefix}quick_replies[{i}]");
            if q.label.trim().is_empty() {
                self.fail("missing_field", &format!("{f}.label"), "a label is required");
            }
            let label = self.template(&format!("{f}.label"), &q.label);
            let value = self.template(&format!("{f}.value"), q.value.as_deref().unwrap_or(&q.label));
            content.quick_replies.push((label, value));
        }
        content.buttons =
            m.buttons.iter().enumerate().map(|(i, b)| self.button(&format!("{prefix}buttons[{i}]"), b)).collect();
        for (i, c) in m.cards.iter().enumerate() {
            let f = format!("{prefix}cards[{i}]");
            if c.title.trim().is_empty() {
                self.fail("missing_field", &format!("{f}.title"), "a title is required");
            }
            let card = Card {
                title: self.template(&format!("{f}.title"), &c.title),
                subtitle: c.subtitle.as_deref().map(|s| self.template(&format!("{f}.subtitle"), s)),
                image_url: c.image_url.as_deref().map(|u| self.url(&format!("{f}.image_url"), u)),
                buttons: c
                    .buttons
                    .iter()
                    .enumerate()
                    .map(|(j, b)| self.button(&format!("{f}.buttons[{j}]"), b))
                    .collect(),
            };
            content.cards.push(card);
        }
        if let Some(image) = &m.image {
            content.image = Some((self.url(&format!("{prefix}image.url"), &image.url), image.alt.clone()));
        }
        content
    }

    fn button(&mut self, field: &str, b: &ButtonDoc) -> Button {
        if b.label.trim().is_empty() {
            self.fail("missing_field", &format!("{field}.label"), "a label is required");
        }
        if b.value.is_some() && b.url.is_some() {
            self.fail("invalid_field", field, "a button has a value or a url, not both");
        }
        Button {
            label: self.template(&format!("{field}.label"), &b.label),
            value: b.value.as_deref().map(|v| self.template(&format!("{field}.value"), v)),
            url: b.url.as_deref().map(|u| self.url(&format!("{field}.url"), u)),
        }
    }

    #[allow(clippy::too_many_lines, reason = "one arm per operator")]
    fn condition(&mut self, field: &str, c: &ConditionDoc, depth: usize) -> Option<Cond> {
        if depth > 8 {
            self.fail("invalid_field", field, "conditions are nested too deeply");
            return None;
        }
        let forms = [c.expression.is_some(), c.subject.is_some(), c.all.is_some(), c.any.is_some()];
        if forms.iter().filter(|f| **f).count() != 1 {
            self.fail("invalid_field", field, "a condition has exactly one of expression, subject, all or any");
            return None;
        }
        if let Some(src) = &c.expression {
            return self.expression(&format!("{field}.expression"), src).map(Cond::Expr);
        }
        if let Some(list) = c.all.as_ref().or(c.any.as_ref()) {
            let key = if c.all.is_some() { "all" } else { "any" };
            if list.is_empty() {
                self.fail("missing_field", &format!("{field}.{key}"), "at least one condition");
                return None;
            }
            let parts: Vec<Cond> = list
                .iter()
                .enumerate()
                .filter_map(|(i, c)| self.condition(&format!("{field}.{key}[{i}]"), c, depth + 1))
                .collect();
            if parts.len() != list.len() {
                return None;
            }
            return Some(if c.all.is_some() { Cond::All(parts) } else { Cond::Any(parts) });
        }
        let subject = c.subject?;
        let Some(operator) = c.operator else {
            self.fail("missing_field", &format!("{field}.operator"), "an operator is required");
            return None;
        };
        let left = match subject {
            Subject::Variable | Subject::Entity => {
                let Some(name) = c.name.as_deref().filter(|n| !n.is_empty()) else {
                    self.fail("missing_field", &format!("{field}.name"), "the variable or entity name is required");
                    return None;
                };
                if subject == Subject::Entity {
                    Expr::Member(Box::new(Expr::Var("entities".into())), name.to_owned())
                } else {
                    let e = self.expression(&format!("{field}.name"), name)?;
                    if !is_path(&e) {
                        self.fail("invalid_field", &format!("{field}.name"), "must be a variable name or path");
                        return None;
                    }
                    e
                }
            }
            Subject::Intent => Expr::Var("intent".into()),
            Subject::Channel => Expr::Var("channel".into()),
            Subject::Message => Expr::Var("message".into()),
            Subject::Confidence => Expr::Var("confidence".into()),
            Subject::DetectedLanguage => Expr::Var("detected_language".into()),
        };
        let needs_value = !matches!(operator, Operator::IsEmpty | Operator::IsNotEmpty);
        let value = c.value.clone().unwrap_or(Value::Null);
        if needs_value && c.value.is_none() {
            self.fail("missing_field", &format!("{field}.value"), "a value is required for this operator");
            return None;
        }
        if subject == Subject::Intent
            && let Value::String(s) = &value
        {
            self.intents.insert(s.clone());
        }
        let lit = || Box::new(Expr::Literal(value.clone()));
        let l = || Box::new(left.clone());
        Some(match operator {
            Operator::Equals => Cond::Expr(Expr::Binary(BinaryOp::Eq, l(), lit())),
            Operator::NotEquals => Cond::Expr(Expr::Binary(BinaryOp::Ne, l(), lit())),
            Operator::GreaterThan => Cond::Expr(Expr::Binary(BinaryOp::Gt, l(), lit())),
            Operator::LessThan => Cond::Expr(Expr::Binary(BinaryOp::Lt, l(), lit())),
            Operator::GreaterOrEqual => Cond::Expr(Expr::Binary(BinaryOp::Ge, l(), lit())),
            Operator::LessOrEqual => Cond::Expr(Expr::Binary(BinaryOp::Le, l(), lit())),
            Operator::Contains => {
                Cond::Expr(Expr::Call(Func::Contains, vec![left.clone(), Expr::Literal(value.clone())]))
            }
            Operator::NotContains => Cond::Expr(Expr::Unary(
                UnaryOp::Not,
                Box::new(Expr::Call(Func::Contains, vec![left.clone(), Expr::Literal(value.clone())])),
            )),
            Operator::StartsWith => {
                Cond::Expr(Expr::Call(Func::StartsWith, vec![left.clone(), Expr::Literal(value.clone())]))
            }
            Operator::IsEmpty => Cond::Expr(Expr::Call(Func::IsEmpty, vec![left.clone()])),
            Operator::IsNotEmpty => {
                Cond::Expr(Expr::Unary(UnaryOp::Not, Box::new(Expr::Call(Func::IsEmpty, vec![left.clone()]))))
            }
            Operator::In => {
                if !value.is_array() {
                    self.fail("invalid_field", &format!("{field}.value"), "`in` needs a list");
                    return None;
                }
                if subject == Subject::Intent {
                    for v in value.as_array().into_iter().flatten() {
                        if let Value::String(s) = v {
                            self.intents.insert(s.clone());
                        }
                    }
                }
                Cond::Expr(Expr::Call(Func::Contains, vec![Expr::Literal(value.clone()), left.clone()]))
            }
            Operator::Matches => {
                let Value::String(pattern) = &value else {
                    self.fail("invalid_field", &format!("{field}.value"), "`matches` needs a pattern");
                    return None;
                };
                if pattern.len() > 1000 {
                    self.fail("invalid_regex", &format!("{field}.value"), "the pattern is longer than 1000 characters");
                    return None;
                }
                match regex::RegexBuilder::new(pattern).size_limit(1 << 20).build() {
                    Ok(re) => Cond::Matches(left.clone(), re),
                    Err(e) => {
                        self.fail("invalid_regex", &format!("{field}.value"), e.to_string());
                        return None;
                    }
                }
            }
        })
    }

    fn body(&mut self, field: &str, v: &Value) -> BodyTemplate {
        match v {
            Value::String(s) => BodyTemplate::Text(self.template(field, s)),
            Value::Array(items) => BodyTemplate::List(
                items.iter().enumerate().map(|(i, x)| self.body(&format!("{field}[{i}]"), x)).collect(),
            ),
            Value::Object(o) => BodyTemplate::Object(
                o.iter().map(|(k, x)| (k.clone(), self.body(&format!("{field}.{k}"), x))).collect(),
            ),
            other => BodyTemplate::Value(other.clone()),
        }
    }
}

fn is_path(e: &Expr) -> bool {
    match e {
        Expr::Var(_) => true,
        Expr::Member(inner, _) => is_path(inner),
        Expr::Index(inner, idx) => is_path(inner) && matches!(**idx, Expr::Literal(_)),
        _ => false,
    }
}

/// Parses a node's `data` as `T`, reporting the field at fault.
fn data<T: serde::de::DeserializeOwned + Default>(node: &str, raw: &Value, issues: &mut Vec<Issue>) -> Option<T> {
    if raw.is_null() {
        return serde_json::from_value(Value::Object(serde_json::Map::new())).ok().or_else(|| Some(T::default()));
    }
    match serde_path_to_error::deserialize::<_, T>(raw) {
        Ok(v) => Some(v),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner().to_string();
            let field = if path == "." {
                inner
                    .strip_prefix("missing field `")
                    .and_then(|r| r.split('`').next())
                    .map_or_else(|| "data".to_owned(), |f| format!("data.{f}"))
            } else {
                format!("data.{path}")
            };
            let code = if inner.starts_with("missing field") { "missing_field" } else { "invalid_field" };
            issues.push(Issue::error(code, inner).node(node).field(field));
            None
        }
    }
}

/// Like [`data`] for types without a natural default: a missing `data` is an error.
fn required_data<T: serde::de::DeserializeOwned>(node: &str, raw: &Value, issues: &mut Vec<Issue>) -> Option<T> {
    let raw = if raw.is_null() { Value::Object(serde_json::Map::new()) } else { raw.clone() };
    match serde_path_to_error::deserialize::<_, T>(&raw) {
        Ok(v) => Some(v),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner().to_string();
            let field = if path == "." {
                inner
                    .strip_prefix("missing field `")
                    .and_then(|r| r.split('`').next())
                    .map_or_else(|| "data".to_owned(), |f| format!("data.{f}"))
            } else {
                format!("data.{path}")
            };
            let code = if inner.starts_with("missing field") { "missing_field" } else { "invalid_field" };
            issues.push(Issue::error(code, inner).node(node).field(field));
            None
        }
    }
}

fn port_name_ok(p: &str) -> bool {
    valid_node_id(p)
}

/// Validates and compiles a flow document.
#[must_use]
#[allow(clippy::too_many_lines, reason = "one pass over the node types; splitting it hides the table")]
pub fn compile(doc: &FlowDocument) -> Compiled {
    let mut issues = Vec::new();
    if doc.schema_version != SCHEMA_VERSION {
        issues.push(
            Issue::error("unsupported_version", format!("schema_version must be {SCHEMA_VERSION}"))
                .field("schema_version"),
        );
    }
    if doc.nodes.len() > MAX_NODES {
        issues.push(Issue::error("too_many_nodes", format!("a flow has at most {MAX_NODES} nodes")).field("nodes"));
    }
    if doc.edges.len() > MAX_EDGES {
        issues.push(Issue::error("too_many_edges", format!("a flow has at most {MAX_EDGES} edges")).field("edges"));
    }
    if !issues.is_empty() {
        return Compiled { graph: None, issues };
    }

    // Node ids.
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, n) in doc.nodes.iter().enumerate() {
        if !valid_node_id(&n.id) {
            issues.push(
                Issue::error("invalid_node_id", "node ids use letters, digits, _ and -, at most 64")
                    .node(&n.id)
                    .field(format!("nodes[{i}].id")),
            );
        } else if index.insert(n.id.clone(), i).is_some() {
            issues.push(Issue::error("duplicate_node_id", format!("two nodes have the id `{}`", n.id)).node(&n.id));
        }
    }

    // Node data and ports.
    let (mut reads, mut writes, mut intents, mut jumps) =
        (BTreeSet::new(), BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    let mut entities = BTreeMap::new();
    let mut kinds: Vec<Option<(NodeType, Kind, Vec<String>)>> = Vec::with_capacity(doc.nodes.len());
    let mut starts = Vec::new();
    for n in &doc.nodes {
        let Some(node_type) = NodeType::parse(&n.kind) else {
            issues.push(
                Issue::error("unknown_node_type", format!("unknown node type `{}`", n.kind)).node(&n.id).field("type"),
            );
            kinds.push(None);
            continue;
        };
        if node_type == NodeType::Start {
            starts.push(n.id.clone());
        }
        let mut ports: Vec<String> = node_type.fixed_ports().iter().map(|p| (*p).to_owned()).collect();
        let before = issues.len();
        let mut cx = Ctx {
            node: &n.id,
            issues: &mut issues,
            reads: &mut reads,
            writes: &mut writes,
            intents: &mut intents,
            entities: &mut entities,
        };
        let kind = match node_type {
            NodeType::Start => data::<StartData>(&n.id, &n.data, cx.issues).map(|_| Kind::Start),
            NodeType::Message => {
                data::<MessageData>(&n.id, &n.data, cx.issues).map(|m| Kind::Message(cx.content("data", &m, false)))
            }
            NodeType::Question => required_data::<QuestionData>(&n.id, &n.data, cx.issues).map(|q| {
                let prompt = cx.content("data.prompt", &q.prompt, true);
                cx.variable("data.variable", &q.variable);
                if q.retries > 10 {
                    cx.fail("invalid_field", "data.retries", "at most 10");
                }
                let check = match &q.validation {
                    ValidationDoc::Any => Check::Any,
                    ValidationDoc::Entity { entity } => {
                        if entity.trim().is_empty() {
                            cx.fail("missing_field", "data.validation.entity", "the entity name is required");
                        } else {
                            cx.entities.entry(entity.trim().to_owned()).or_insert_with(|| n.id.clone());
                        }
                        Check::Entity(entity.trim().to_owned())
                    }
                    ValidationDoc::Regex { pattern, case_insensitive } => {
                        match whole_match_regex(pattern, *case_insensitive) {
                            Ok(re) => Check::Regex(re),
                            Err(e) => {
                                cx.fail("invalid_regex", "data.validation.pattern", e);
                                Check::Any
                            }
                        }
                    }
                    ValidationDoc::Choices { choices, show_as_quick_replies: _ } => {
                        if choices.is_empty() {
                            cx.fail("missing_field", "data.validation.choices", "at least one choice");
                        }
                        Check::Choices(
                            choices
                                .iter()
                                .map(|c| (c.label.clone(), c.value.clone().unwrap_or_else(|| c.label.clone())))
                                .collect(),
                        )
                    }
                };
                let mut prompt = prompt;
                if let (ValidationDoc::Choices { choices, show_as_quick_replies: true }, true) =
                    (&q.validation, q.prompt.quick_replies.is_empty())
                {
                    prompt.quick_replies = choices
                        .iter()
                        .map(|c| {
                            (Template::literal(&c.label), Template::literal(c.value.as_deref().unwrap_or(&c.label)))
                        })
                        .collect();
                }
                Kind::Question(Box::new(Question {
                    prompt,
                    variable: q.variable.clone(),
                    check,
                    retries: q.retries,
                    reprompt: q.reprompt.as_deref().map(|r| cx.template("data.reprompt", r)),
                    fill_from_message: q.fill_from_message,
                }))
            }),
            NodeType::Condition => required_data::<ConditionData>(&n.id, &n.data, cx.issues).map(|c| {
                if c.branches.is_empty() {
                    cx.fail("missing_field", "data.branches", "at least one branch");
                }
                let mut out = Vec::new();
                for (i, b) in c.branches.iter().enumerate() {
                    if !port_name_ok(&b.id) || b.id == "else" || ports.contains(&b.id) {
                        cx.fail(
                            "invalid_field",
                            &format!("data.branches[{i}].id"),
                            "branch ids are unique names (not `else`)",
                        );
                        continue;
                    }
                    ports.push(b.id.clone());
                    if let Some(cond) = cx.condition(&format!("data.branches[{i}].condition"), &b.condition, 0) {
                        out.push((b.id.clone(), cond));
                    }
                }
                Kind::Condition(out)
            }),
            NodeType::SetVariable => required_data::<SetVariableData>(&n.id, &n.data, cx.issues).map(|s| {
                if s.assignments.is_empty() {
                    cx.fail("missing_field", "data.assignments", "at least one assignment");
                }
                let mut out = Vec::new();
                for (i, a) in s.assignments.iter().enumerate() {
                    cx.variable(&format!("data.assignments[{i}].variable"), &a.variable);
                    if let Some(e) = cx.expression(&format!("data.assignments[{i}].expression"), &a.expression) {
                        out.push((a.variable.clone(), e));
                    }
                }
                Kind::SetVariable(out)
            }),
            NodeType::IntentRouter => required_data::<IntentRouterData>(&n.id, &n.data, cx.issues).map(|r| {
                if r.routes.is_empty() {
                    cx.fail("missing_field", "data.routes", "at least one route");
                }
                let mut routes = Vec::new();
                for (i, route) in r.routes.iter().enumerate() {
                    if !port_name_ok(&route.id) || ports.contains(&route.id) {
                        cx.fail(
                            "invalid_field",
                            &format!("data.routes[{i}].id"),
                            "route ids are unique names (not `out_of_scope`)",
                        );
                        continue;
                    }
                    if route.intent.trim().is_empty() {
                        cx.fail("missing_field", &format!("data.routes[{i}].intent"), "the intent is required");
                        continue;
                    }
                    if route.min_confidence.is_some_and(|c| !(0.0..=1.0).contains(&c)) {
                        cx.fail("invalid_field", &format!("data.routes[{i}].min_confidence"), "between 0 and 1");
                    }
                    ports.push(route.id.clone());
                    cx.intents.insert(route.intent.clone());
                    routes.push(Route {
                        port: route.id.clone(),
                        intent: route.intent.clone(),
                        min_confidence: route.min_confidence,
                    });
                }
                if r.min_confidence.is_some_and(|c| !(0.0..=1.0).contains(&c)) {
                    cx.fail("invalid_field", "data.min_confidence", "between 0 and 1");
                }
                Kind::IntentRouter { routes, min_confidence: r.min_confidence }
            }),
            NodeType::Knowledge => data::<KnowledgeDataOpt>(&n.id, &n.data, cx.issues).map(|k| {
                let k = k.0;
                if let Some(v) = &k.variable {
                    cx.variable("data.variable", v);
                }
                if k.min_score.is_some_and(|s| !(0.0..=1.0).contains(&s)) {
                    cx.fail("invalid_field", "data.min_score", "between 0 and 1");
                }
                Kind::Knowledge(Box::new(Knowledge {
                    question: k.question.as_deref().map(|q| cx.template("data.question", q)),
                    knowledge_base_id: k.knowledge_base_id,
                    min_score: k.min_score,
                    variable: k.variable.clone(),
                    send_answer: k.send_answer,
                }))
            }),
            NodeType::Agent => required_data::<AgentData>(&n.id, &n.data, cx.issues).map(|a| {
                if a.agent_id < 1 {
                    cx.fail("invalid_field", "data.agent_id", "an agent id of the bot");
                }
                if let Some(v) = &a.variable {
                    cx.variable("data.variable", v);
                }
                Kind::Agent(Box::new(AgentNode {
                    agent_id: a.agent_id,
                    input: a.input.as_deref().map(|t| cx.template("data.input", t)),
                    variable: a.variable.clone(),
                    send_reply: a.send_reply,
                }))
            }),
            NodeType::Tool => required_data::<ToolData>(&n.id, &n.data, cx.issues).map(|t| {
                if t.tool_id < 1 {
                    cx.fail("invalid_field", "data.tool_id", "a tool id of the organization");
                }
                if t.arguments.as_ref().is_some_and(|a| !a.is_object()) {
                    cx.fail("invalid_field", "data.arguments", "a JSON object");
                }
                for (field, v) in [("data.variable", &t.variable), ("data.error_variable", &t.error_variable)] {
                    if let Some(v) = v {
                        cx.variable(field, v);
                    }
                }
                Kind::Tool(Box::new(ToolNode {
                    tool_id: t.tool_id,
                    arguments: t.arguments.as_ref().map(|a| cx.body("data.arguments", a)),
                    variable: t.variable.clone(),
                    error_variable: t.error_variable.clone(),
                }))
            }),
            NodeType::Http => required_data::<HttpData>(&n.id, &n.data, cx.issues).map(|h| {
                let url = cx.url("data.url", &h.url);
                if !(100..=30_000).contains(&h.timeout_ms) {
                    cx.fail("invalid_field", "data.timeout_ms", "between 100 and 30000");
                }
                let mut headers = Vec::new();
                for (k, v) in &h.headers {
                    let valid = !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                    if !valid {
                        cx.fail("invalid_field", &format!("data.headers.{k}"), "not a valid header name");
                    }
                    headers.push((k.clone(), cx.template(&format!("data.headers.{k}"), v)));
                }
                let body = h.body.as_ref().map(|b| cx.body("data.body", b));
                let mut mappings = Vec::new();
                for (i, m) in h.mappings.iter().enumerate() {
                    cx.variable(&format!("data.mappings[{i}].variable"), &m.variable);
                    match JsonPath::parse(&m.path) {
                        Ok(p) => mappings.push((m.variable.clone(), p)),
                        Err(e) => cx.fail("invalid_json_path", &format!("data.mappings[{i}].path"), e),
                    }
                }
                for (field, v) in
                    [("data.status_variable", &h.status_variable), ("data.response_variable", &h.response_variable)]
                {
                    if let Some(v) = v {
                        cx.variable(field, v);
                    }
                }
                Kind::Http(Box::new(Http {
                    method: h.method,
                    url,
                    headers,
                    body,
                    timeout_ms: h.timeout_ms,
                    mappings,
                    status_variable: h.status_variable.clone(),
                    response_variable: h.response_variable.clone(),
                }))
            }),
            NodeType::Jump => required_data::<JumpData>(&n.id, &n.data, cx.issues).map(|j| {
                if let Err(m) = check_flow_name(&j.flow) {
                    cx.fail("invalid_field", "data.flow", m);
                }
                jumps.insert(j.flow.clone());
                Kind::Jump { flow: j.flow.clone(), mode: j.mode }
            }),
            NodeType::Handoff => data::<HandoffData>(&n.id, &n.data, cx.issues).map(|h| Kind::Handoff {
                message: h.message.as_ref().map(|m| cx.content("data.message", m, false)),
                team_id: h.team_id,
                note: h.note.as_deref().map(|t| cx.template("data.note", t)),
            }),
            NodeType::End => data::<EndData>(&n.id, &n.data, cx.issues).map(|e| Kind::End {
                message: e.message.as_ref().map(|m| cx.content("data.message", m, false)),
                close: e.close_conversation,
            }),
            NodeType::Form => required_data::<FormData>(&n.id, &n.data, cx.issues).map(|f| cx.form(&f)),
        };
        if issues.len() > before {
            kinds.push(None);
        } else {
            kinds.push(kind.map(|k| (node_type, k, ports)));
        }
    }
    match starts.as_slice() {
        [] => issues.push(Issue::error("no_start_node", "a flow needs one node of type `start`")),
        [_] => {}
        [_, rest @ ..] => {
            for id in rest {
                issues.push(Issue::error("multiple_start_nodes", "a flow has exactly one start node").node(id));
            }
        }
    }

    // Edges.
    let mut adjacency: Vec<Vec<(String, usize)>> = vec![Vec::new(); doc.nodes.len()];
    for (i, e) in doc.edges.iter().enumerate() {
        let eid = e.id.clone().unwrap_or_else(|| format!("edges[{i}]"));
        let (Some(&s), Some(&t)) = (index.get(&e.source), index.get(&e.target)) else {
            let missing = if index.contains_key(&e.source) { &e.target } else { &e.source };
            issues.push(
                Issue::error("dangling_edge", format!("edge `{eid}` connects to `{missing}`, which is not a node"))
                    .edge(Some(&eid))
                    .node(if index.contains_key(&e.source) { &e.source } else { missing }),
            );
            continue;
        };
        if let Some(Some((node_type, _, ports))) = kinds.get(s)
            && !ports.contains(&e.port)
        {
            let list = if ports.is_empty() { "none".to_owned() } else { ports.join(", ") };
            issues.push(
                Issue::error(
                    "unknown_port",
                    format!("a {} node has no output `{}` (ports: {list})", node_type.name(), e.port),
                )
                .node(&e.source)
                .edge(Some(&eid)),
            );
            continue;
        }
        if let Some(Some((NodeType::Start, ..))) = kinds.get(t) {
            issues.push(
                Issue::error("edge_into_start", "no edge may lead into the start node")
                    .node(&e.target)
                    .edge(Some(&eid)),
            );
            continue;
        }
        if adjacency[s].iter().any(|(p, _)| p == &e.port) {
            issues.push(
                Issue::error(
                    "duplicate_port_edge",
                    format!("output `{}` of `{}` has more than one edge", e.port, e.source),
                )
                .node(&e.source)
                .edge(Some(&eid)),
            );
            continue;
        }
        adjacency[s].push((e.port.clone(), t));
    }

    // Reachability from the start node.
    if let [start_id] = starts.as_slice()
        && let Some(&start) = index.get(start_id)
    {
        let mut seen = vec![false; doc.nodes.len()];
        let mut stack = vec![start];
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            stack.extend(adjacency[i].iter().map(|(_, t)| *t));
        }
        for (i, n) in doc.nodes.iter().enumerate() {
            if !seen[i] && index.get(&n.id) == Some(&i) {
                issues.push(
                    Issue::error("unreachable_node", format!("`{}` cannot be reached from the start node", n.id))
                        .node(&n.id),
                );
            }
        }
    }

    // Cycles must pass through a node that waits.
    for component in strongly_connected(&adjacency) {
        let cyclic = component.len() > 1 || adjacency[component[0]].iter().any(|(_, t)| *t == component[0]);
        if !cyclic {
            continue;
        }
        let waits = component.iter().any(|&i| kinds.get(i).and_then(Option::as_ref).is_some_and(|(t, _, _)| t.waits()));
        if !waits {
            let mut ids: Vec<&str> = component.iter().map(|&i| doc.nodes[i].id.as_str()).collect();
            ids.sort_unstable();
            for id in &ids {
                issues.push(
                    Issue::error(
                        "cycle_without_input",
                        format!(
                            "the loop through {} never waits for the user (add a question or intent router)",
                            ids.join(", ")
                        ),
                    )
                    .node(id),
                );
            }
        }
    }

    // Ports of routers and branches that lead nowhere end the flow: worth a warning.
    for (i, k) in kinds.iter().enumerate() {
        if let Some((NodeType::IntentRouter | NodeType::Condition, _, ports)) = k {
            for p in ports {
                if !adjacency[i].iter().any(|(q, _)| q == p) && p != "else" && p != "out_of_scope" {
                    issues.push(
                        Issue::warning(
                            "unconnected_port",
                            format!("output `{p}` is not connected; the flow ends there"),
                        )
                        .node(&doc.nodes[i].id),
                    );
                }
            }
        }
    }

    if issues.iter().any(|i| i.severity == Severity::Error) {
        return Compiled { graph: None, issues };
    }
    let mut nodes = Vec::with_capacity(doc.nodes.len());
    for (i, (n, k)) in doc.nodes.iter().zip(kinds).enumerate() {
        let Some((node_type, kind, _)) = k else { return Compiled { graph: None, issues } };
        nodes.push(Node { id: n.id.clone(), node_type, kind, ports: std::mem::take(&mut adjacency[i]) });
    }
    let start = starts.first().and_then(|s| index.get(s)).copied().unwrap_or(0);
    Compiled { graph: Some(Graph { start, nodes, index, reads, writes, intents, jumps, entities }), issues }
}

/// Compiles a condition outside a flow (orchestration transitions): the
/// first problem's field and message on failure.
pub fn compile_condition(doc: &ConditionDoc) -> Result<Cond, (String, String)> {
    let (mut issues, mut reads, mut writes, mut intents) =
        (Vec::new(), BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    let mut entities = BTreeMap::new();
    let mut cx = Ctx {
        node: "",
        issues: &mut issues,
        reads: &mut reads,
        writes: &mut writes,
        intents: &mut intents,
        entities: &mut entities,
    };
    let cond = cx.condition("", doc, 0);
    match (cond, issues.into_iter().next()) {
        (Some(c), None) => Ok(c),
        (_, Some(issue)) => Err((issue.field.unwrap_or_default().trim_start_matches('.').to_owned(), issue.message)),
        (None, None) => Err((String::new(), "invalid condition".to_owned())),
    }
}

/// `KnowledgeData` where an absent `data` means all defaults.
#[derive(serde::Deserialize)]
#[serde(transparent)]
struct KnowledgeDataOpt(KnowledgeData);

impl Default for KnowledgeDataOpt {
    fn default() -> Self {
        KnowledgeDataOpt(KnowledgeData {
            question: None,
            knowledge_base_id: None,
            min_score: None,
            variable: None,
            send_answer: true,
        })
    }
}

/// Tarjan's algorithm, iterative; returns the components.
fn strongly_connected(adj: &[Vec<(String, usize)>]) -> Vec<Vec<usize>> {
    let n = adj.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut out = Vec::new();
    let mut next = 0;
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        while let Some(&mut (v, ref mut child)) = work.last_mut() {
            if *child == 0 && index[v] == usize::MAX {
                index[v] = next;
                low[v] = next;
                next += 1;
                stack.push(v);
                on_stack[v] = true;
            }
            if let Some((_, w)) = adj[v].get(*child) {
                let w = *w;
                *child += 1;
                if index[w] == usize::MAX {
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                work.pop();
                if let Some(&(parent, _)) = work.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    let mut component = Vec::new();
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        component.push(w);
                        if w == v {
                            break;
                        }
                    }
                    out.push(component);
                }
            }
        }
    }
    out
}

/// The edges of a document, for the diff.
#[must_use]
pub fn edge_key(e: &EdgeDoc) -> String {
    format!("{}:{}->{}", e.source, e.port, e.target)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn doc(v: Value) -> FlowDocument {
        serde_json::from_value(v).expect("document shape")
    }

    fn codes(c: &Compiled) -> Vec<(&'static str, Option<String>)> {
        c.issues.iter().filter(|i| i.severity == Severity::Error).map(|i| (i.code, i.node_id.clone())).collect()
    }

    #[test]
    fn a_valid_flow_compiles() {
        let c = compile(&doc(json!({
            "nodes": [
                { "id": "start", "type": "start" },
                { "id": "ask", "type": "question", "data": { "prompt": { "text": "Your email?" }, "variable": "email",
                  "validation": { "kind": "regex", "pattern": "[^@ ]+@[^@ ]+" } } },
                { "id": "check", "type": "condition", "data": { "branches": [
                    { "id": "vip", "condition": { "subject": "variable", "name": "email", "operator": "contains", "value": "vip" } } ] } },
                { "id": "hi", "type": "message", "data": { "text": "Hello {{email}}" } },
                { "id": "bye", "type": "end" }
            ],
            "edges": [
                { "source": "start", "target": "ask" },
                { "source": "ask", "target": "check" },
                { "source": "check", "port": "vip", "target": "hi" },
                { "source": "check", "port": "else", "target": "bye" },
                { "source": "hi", "target": "bye" }
            ]
        })));
        assert!(c.graph.is_some(), "{:?}", c.issues);
        let g = c.graph.expect("graph");
        assert_eq!(g.nodes[g.start].id, "start");
        assert!(g.writes.contains("email") && g.reads.contains("email"));
    }

    #[test]
    fn structural_errors_name_their_nodes() {
        let c = compile(&doc(json!({
            "nodes": [
                { "id": "start", "type": "start" },
                { "id": "a", "type": "message", "data": { "text": "a" } },
                { "id": "lonely", "type": "message", "data": { "text": "nobody comes here" } },
                { "id": "b", "type": "teleport" }
            ],
            "edges": [
                { "id": "e1", "source": "start", "target": "a" },
                { "id": "e2", "source": "a", "target": "ghost" },
                { "id": "e3", "source": "a", "port": "yes", "target": "start" }
            ]
        })));
        let found = codes(&c);
        assert!(found.contains(&("dangling_edge", Some("a".into()))), "{found:?}");
        assert!(found.contains(&("unknown_port", Some("a".into()))), "{found:?}");
        assert!(found.contains(&("unreachable_node", Some("lonely".into()))), "{found:?}");
        assert!(found.contains(&("unknown_node_type", Some("b".into()))), "{found:?}");
        assert!(c.graph.is_none());
    }

    #[test]
    fn missing_fields_are_reported_with_the_field() {
        let c = compile(&doc(json!({
            "nodes": [
                { "id": "start", "type": "start" },
                { "id": "q", "type": "question", "data": { "prompt": { "text": "?" } } },
                { "id": "h", "type": "http", "data": { "url": "ftp://x" } },
                { "id": "s", "type": "set_variable", "data": { "assignments": [ { "variable": "message", "expression": "1 +" } ] } }
            ],
            "edges": [ { "source": "start", "target": "q" }, { "source": "q", "target": "h" }, { "source": "h", "port": "success", "target": "s" } ]
        })));
        let fields: Vec<(String, String)> = c
            .issues
            .iter()
            .map(|i| (i.node_id.clone().unwrap_or_default(), i.field.clone().unwrap_or_default()))
            .collect();
        assert!(fields.contains(&("q".into(), "data.variable".into())), "{fields:?}");
        assert!(fields.contains(&("h".into(), "data.url".into())), "{fields:?}");
        assert!(fields.contains(&("s".into(), "data.assignments[0].variable".into())), "{fields:?}");
        assert!(fields.contains(&("s".into(), "data.assignments[0].expression".into())), "{fields:?}");
    }

    #[test]
    fn cycles_need_a_waiting_node() {
        let looping = compile(&doc(json!({
            "nodes": [
                { "id": "start", "type": "start" },
                { "id": "a", "type": "message", "data": { "text": "a" } },
                { "id": "b", "type": "set_variable", "data": { "assignments": [ { "variable": "n", "expression": "n + 1" } ] } }
            ],
            "edges": [ { "source": "start", "target": "a" }, { "source": "a", "target": "b" }, { "source": "b", "target": "a" } ]
        })));
        let found = codes(&looping);
        assert!(found.contains(&("cycle_without_input", Some("a".into()))), "{found:?}");
        assert!(found.contains(&("cycle_without_input", Some("b".into()))), "{found:?}");

        let asking = compile(&doc(json!({
            "nodes": [
                { "id": "start", "type": "start" },
                { "id": "q", "type": "question", "data": { "prompt": { "text": "again?" }, "variable": "x" } },
                { "id": "b", "type": "message", "data": { "text": "ok" } }
            ],
            "edges": [ { "source": "start", "target": "q" }, { "source": "q", "target": "b" }, { "source": "b", "target": "q" } ]
        })));
        assert!(asking.graph.is_some(), "{:?}", asking.issues);
    }

    #[test]
    fn start_node_rules() {
        let none = compile(&doc(json!({ "nodes": [ { "id": "a", "type": "message", "data": { "text": "x" } } ] })));
        assert!(codes(&none).iter().any(|(c, _)| *c == "no_start_node"));
        let two = compile(&doc(json!({ "nodes": [ { "id": "a", "type": "start" }, { "id": "b", "type": "start" } ] })));
        assert!(codes(&two).iter().any(|(c, _)| *c == "multiple_start_nodes"));
    }

    #[test]
    fn regexes_and_paths_are_checked() {
        let c = compile(&doc(json!({
            "nodes": [
                { "id": "start", "type": "start" },
                { "id": "q", "type": "question", "data": { "prompt": { "text": "?" }, "variable": "x",
                    "validation": { "kind": "regex", "pattern": "(" } } },
                { "id": "h", "type": "http", "data": { "url": "https://api.example.com/{{x}}", "mappings": [ { "variable": "y", "path": "data.x" } ] } }
            ],
            "edges": [ { "source": "start", "target": "q" }, { "source": "q", "target": "h" } ]
        })));
        let found = codes(&c);
        assert!(found.contains(&("invalid_regex", Some("q".into()))), "{found:?}");
        assert!(found.contains(&("invalid_json_path", Some("h".into()))), "{found:?}");
    }

    #[test]
    fn variable_names() {
        assert!(check_variable_name("email").is_ok());
        assert!(check_variable_name("_x1").is_ok());
        assert!(check_variable_name("1x").is_err());
        assert!(check_variable_name("intent").is_err());
        assert!(check_variable_name("a-b").is_err());
        assert!(check_flow_name("main").is_ok());
        assert!(check_flow_name("Main").is_err());
    }

    #[test]
    fn a_draft_keeps_only_unsavable_errors_and_marks_the_rest_as_blocking_publish() {
        let c = compile(&doc(json!({
            "nodes": [
                { "id": "start", "type": "start" },
                { "id": "island", "type": "message", "data": { "text": "" } },
                { "id": "twin", "type": "end" },
                { "id": "twin", "type": "end" }
            ],
            "edges": [ { "source": "start", "target": "ghost" } ]
        })));
        let draft = as_draft(c.issues.clone());
        assert_eq!(draft.len(), c.issues.len());
        for i in &draft {
            if UNSAVABLE.contains(&i.code) {
                assert_eq!((i.severity, i.blocks_publish), (Severity::Error, false), "{i:?}");
            } else {
                assert_eq!(i.severity, Severity::Warning, "{i:?}");
            }
        }
        assert!(draft.iter().any(|i| i.code == "duplicate_node_id" && i.severity == Severity::Error));
        for code in ["dangling_edge", "unreachable_node", "missing_field"] {
            assert!(draft.iter().any(|i| i.code == code && i.blocks_publish), "{code}: {draft:?}");
        }
        // Plain warnings stay plain.
        let w = Issue::warning("unconnected_port", "x");
        assert!(!as_draft(vec![w])[0].blocks_publish);
    }
}

//! The conversation engine: given a bot's [`Program`] (its compiled flows,
//! orchestration and canned messages), a conversation's [`ConvState`] and
//! one input, it advances the flow deterministically and returns the
//! replies, the effects (handoff, close) and a trace for the debugger. It
//! does no I/O of its own: HTTP calls, knowledge answers and entity
//! extraction go through [`EngineIo`], persistence is the caller's.
//!
//! Rules of a turn (`docs/flows.md` has the full description):
//! 1. `command` canned messages (the message equals a keyword) answer first;
//! 2. handoff keywords or the handoff intent hand the conversation to a human;
//! 3. other canned messages answer by keyword, unless a question is waiting;
//! 4. orchestration transitions (`on_keyword`, `on_intent`, `on_condition`)
//!    from the current flow (or `*`) switch flows;
//! 5. the waiting node takes the message, or the entry flow starts;
//! 6. nodes run until one waits or the flow ends (`on_complete` transitions,
//!    returns from called flows);
//! 7. a message that produced nothing gets the fallback reply.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::compile::{BodyTemplate, Button, Check, Cond, Content, Graph, Kind, Node};
use super::document::{HttpMethod, JumpMode, NodeType};
use super::expr::{self, Scope, to_text, truthy};
use super::template::{Gap, Template};

/// Most nodes one turn may run (a guard against loops across flows).
pub const MAX_STEPS: usize = 300;

// ---- The program --------------------------------------------------------

/// One version of one flow, compiled.
#[derive(Debug)]
pub struct FlowVersion {
    pub name: String,
    /// `bot_flows.id`.
    pub version_id: i64,
    pub version: i64,
    pub graph: Graph,
}

/// What makes an orchestration transition fire.
#[derive(Debug, Clone)]
pub enum Trigger {
    OnComplete,
    OnCondition(Cond),
    OnIntent(String),
    /// Lower-cased keywords, matched as whole words.
    OnKeyword(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct Transition {
    pub id: i64,
    /// A flow name or `*` (any flow).
    pub from: String,
    pub to: String,
    pub trigger: Trigger,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VarType {
    String,
    Number,
    Boolean,
    Date,
    List,
    Object,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VarScope {
    /// Bot-wide, the same for every conversation; read-only at run time.
    Global,
    /// Per conversation, until it is closed.
    Session,
    /// Per flow: reset each time the flow starts.
    Flow,
}

#[derive(Debug, Clone)]
pub struct VarDecl {
    pub var_type: VarType,
    pub default: Option<Value>,
    pub scope: VarScope,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CannedKind {
    Greeting,
    Response,
    Fallback,
    Command,
    Help,
}

/// A canned bot message.
#[derive(Debug, Clone)]
pub struct Canned {
    pub id: i64,
    pub kind: CannedKind,
    pub content: Template,
    /// Lower-cased.
    pub keywords: Vec<String>,
    pub priority: i64,
}

/// The bot settings the engine uses.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Lower-cased phrases that ask for a human.
    pub handoff_keywords: Vec<String>,
    /// An NLU intent that asks for a human.
    pub handoff_intent: Option<String>,
    pub handoff_message: String,
    pub fallback_message: String,
}

/// Everything the engine runs for one bot (published or draft flows).
#[derive(Debug)]
pub struct Program {
    pub flows: HashMap<String, Arc<FlowVersion>>,
    pub entry_flow: String,
    /// In priority order (highest first).
    pub transitions: Vec<Transition>,
    pub variables: HashMap<String, VarDecl>,
    /// In priority order (highest first).
    pub canned: Vec<Canned>,
    pub settings: EngineSettings,
    /// The intents of the bot's NLU model, when it has one (for reporting
    /// flows that name intents the model does not know).
    pub known_intents: Option<HashSet<String>>,
    /// Some flow reads `entities` (so entities are worth extracting even
    /// without an NLU model).
    pub needs_entities: bool,
}

// ---- State --------------------------------------------------------------

/// What a conversation waits for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Wait {
    Question {
        retries: u32,
    },
    /// A form asks for the slot filling `asking`; `filled` are the variables
    /// the form has collected so far.
    Form {
        asking: String,
        retries: u32,
        filled: Vec<String>,
    },
    Router,
    Handoff,
}

/// A return point of a called flow: continue through `node`'s `next` port.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    pub flow: String,
    pub node: String,
}

/// The NLU result kept for later turns' conditions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LastNlu {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    #[serde(default)]
    pub confidence: f64,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub entities: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detected_language: Option<String>,
}

/// The persisted state of a conversation (`conversations.state`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConvState {
    /// The flow the conversation is in (with `node` and `wait`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<Wait>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stack: Vec<Frame>,
    /// Session variables.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub vars: Map<String, Value>,
    /// Flow variables, per flow name.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub flow_vars: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<LastNlu>,
    /// `draft` for emulator conversations on the draft flows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub awaiting_csat: bool,
    #[serde(default)]
    pub turns: u64,
    /// The conversation's variant in each running A/B experiment it is in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub experiments: Vec<Assignment>,
}

/// A conversation's variant in an experiment (`crate::experiments`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    pub experiment: i64,
    pub variant: i64,
}

// ---- Input and output ---------------------------------------------------

/// An entity found in a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EntityHit {
    pub entity: String,
    #[schema(value_type = Object)]
    pub value: Value,
    pub text: String,
    /// The role the value plays (e.g. `from`/`to` of a `city`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// The NLU result of one message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Nlu {
    /// The recognised intent (`None`: out of scope).
    pub intent: Option<String>,
    pub confidence: f64,
    pub entities: Vec<EntityHit>,
    /// Best intents with their confidence.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranking: Vec<(String, f64)>,
    /// Why there is no result (e.g. the bot has no trained model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The sentence encoder of the bot's model (`all-MiniLM-L6-v2`,
    /// `multilingual-e5-small`), shown by the emulator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoder: Option<String>,
    #[serde(default)]
    pub duration_ms: f64,
    /// The message's language (ISO 639-1), when it could be told.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detected_language: Option<String>,
}

impl Nlu {
    fn entity_map(&self) -> Map<String, Value> {
        let mut map = Map::new();
        for e in &self.entities {
            map.entry(e.entity.clone()).or_insert_with(|| e.value.clone());
        }
        map
    }
}

/// What starts a turn.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A conversation opens without a message.
    Start,
    /// A conversation opens in this flow instead of the entry flow.
    StartFlow(String),
    /// The end user said something.
    Message(String),
    /// A human agent handed the conversation back.
    Resume,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QuickReply {
    pub label: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReplyButton {
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReplyCard {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtitle: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<ReplyButton>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReplyImage {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt: Option<String>,
}

/// The rich parts of a message (everything but its text), stored in
/// `widget_messages.payload`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RichParts {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quick_replies: Vec<QuickReply>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<ReplyButton>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cards: Vec<ReplyCard>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ReplyImage>,
    /// Sources of a knowledge answer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub citations: Vec<Value>,
    /// Placeholders of the text that came out empty because a variable is
    /// unset (emulator turns only; end users get the text as it is).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<Gap>,
    /// Files sent with the message (an end user's upload or channel media,
    /// an agent's attachment).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<crate::files::model::Attachment>,
}

impl RichParts {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.quick_replies.is_empty()
            && self.buttons.is_empty()
            && self.cards.is_empty()
            && self.image.is_none()
            && self.citations.is_empty()
            && self.gaps.is_empty()
            && self.attachments.is_empty()
    }
}

/// A message the bot sends.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reply {
    pub text: String,
    #[serde(flatten)]
    pub parts: RichParts,
}

/// A side effect the runtime applies to the conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Handoff { team_id: Option<i64>, note: Option<String> },
    Close,
}

/// One node run in a turn.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TraceStep {
    pub flow: String,
    pub node: String,
    pub node_type: &'static str,
    /// The output taken, or what the node waits for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
}

/// An HTTP call made by a node.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HttpTrace {
    pub node: String,
    pub method: &'static str,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub duration_ms: f64,
}

/// Something wrong that did not stop the conversation (a deleted intent, a
/// variable without value, a failed expression…), shown in the debugger.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    pub message: String,
}

/// What happened in a turn, for the emulator's debugger.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Trace {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nlu: Option<Nlu>,
    /// Canned replies, transitions and handoffs that decided the turn.
    pub events: Vec<String>,
    pub path: Vec<TraceStep>,
    pub http_calls: Vec<HttpTrace>,
    pub problems: Vec<Problem>,
    #[schema(value_type = Object)]
    pub variables_before: Value,
    #[schema(value_type = Object)]
    pub variables_after: Value,
    /// Where the conversation waits after the turn.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_at: Option<String>,
    pub duration_ms: f64,
}

/// A node a turn visited (flow name, node id), for flow funnels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visit {
    pub flow: String,
    pub node: String,
}

/// The result of a turn.
#[derive(Debug, Default)]
pub struct Outcome {
    pub replies: Vec<Reply>,
    pub effects: Vec<Effect>,
    pub trace: Trace,
    /// Every node the turn went through, in order (recorded always, not
    /// only when debugging; a node repeated at once is recorded once).
    pub visits: Vec<Visit>,
    /// The bot did not understand the message: it answered with the
    /// fallback reply, or an intent router took its `out_of_scope` port
    /// (counted by analytics).
    pub fallback: bool,
}

// ---- I/O ----------------------------------------------------------------

/// An HTTP request of an `http` node (URL not yet checked by the SSRF guard).
#[derive(Debug, Clone)]
pub struct HttpCall {
    pub method: HttpMethod,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
    pub timeout: Duration,
}

/// Its response: the status and the body (JSON when it parses, else text).
#[derive(Debug, Clone)]
pub struct HttpAnswer {
    pub status: u16,
    pub body: Value,
}

#[derive(Debug, Clone)]
pub struct KnowledgeQuery {
    pub question: String,
    pub knowledge_base_id: Option<i64>,
    pub min_score: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct KnowledgeAnswer {
    pub text: String,
    pub citations: Vec<Value>,
}

/// An `agent` node's request: the agent and what it is asked.
#[derive(Debug, Clone)]
pub struct AgentCall {
    pub agent_id: i64,
    pub message: String,
    pub conversation_id: i64,
}

/// What the agent answered.
#[derive(Debug, Clone, Default)]
pub struct AgentAnswer {
    pub reply: Option<String>,
    /// Why the conversation goes to a human (the agent handed off, or a
    /// tool call waits for approval); `None`: done.
    pub handoff: Option<String>,
}

/// A `tool` node's request.
#[derive(Debug, Clone)]
pub struct ToolNodeCall {
    pub tool_id: i64,
    pub arguments: Value,
}

/// The engine's access to the world.
pub trait EngineIo: Sync {
    /// Runs an agent of the bot (`agent` nodes). Without an implementation
    /// the node takes its `error` port.
    fn agent(&self, call: AgentCall) -> BoxFuture<'_, Result<AgentAnswer, String>> {
        let _ = call;
        Box::pin(async { Err("agents cannot run here".to_owned()) })
    }
    /// Runs a tool (`tool` nodes): its result, or (code, message).
    fn tool(&self, call: ToolNodeCall) -> BoxFuture<'_, Result<Value, (String, String)>> {
        let _ = call;
        Box::pin(async { Err(("unavailable".to_owned(), "tools cannot run here".to_owned())) })
    }
    fn http(&self, call: HttpCall) -> BoxFuture<'_, Result<HttpAnswer, String>>;
    fn knowledge(&self, query: KnowledgeQuery) -> BoxFuture<'_, Result<Option<KnowledgeAnswer>, String>>;
    /// Finds a value of `entity` in `text` (entity-typed questions).
    fn entity<'a>(&'a self, entity: &'a str, text: &'a str) -> BoxFuture<'a, Result<Option<Value>, String>>;
}

/// What a turn is about.
pub struct TurnRequest<'a> {
    pub program: &'a Program,
    pub input: Input,
    pub nlu: Option<Nlu>,
    pub channel: &'a str,
    pub conversation_id: i64,
    /// The conversation was just created: send the greeting.
    pub is_new: bool,
    /// Record the node path and variables.
    pub debug: bool,
}

// ---- The turn -----------------------------------------------------------

struct Turn<'a> {
    program: &'a Program,
    io: &'a dyn EngineIo,
    channel: &'a str,
    conversation_id: i64,
    debug: bool,
    text: Option<String>,
    consumed: bool,
    nlu: Option<Nlu>,
    state: &'a mut ConvState,
    out: Outcome,
    steps: usize,
}

enum Step {
    Go(usize),
    Port(&'static str),
    PortOwned(String),
    Wait,
    /// The conversation is closed: stop without waiting anywhere.
    Stop,
    End,
}

/// Runs one turn, updating `state`.
pub async fn run_turn(req: TurnRequest<'_>, state: &mut ConvState, io: &dyn EngineIo) -> Outcome {
    let text = match &req.input {
        Input::Message(t) => Some(t.clone()),
        _ => None,
    };
    let mut turn = Turn {
        program: req.program,
        io,
        channel: req.channel,
        conversation_id: req.conversation_id,
        debug: req.debug,
        text,
        consumed: false,
        nlu: req.nlu.clone(),
        state,
        out: Outcome::default(),
        steps: 0,
    };
    turn.state.turns += 1;
    if let Some(nlu) = &turn.nlu {
        turn.state.last = Some(LastNlu {
            intent: nlu.intent.clone(),
            confidence: nlu.confidence,
            entities: nlu.entity_map(),
            detected_language: nlu.detected_language.clone(),
        });
        if turn.debug {
            turn.out.trace.nlu = Some(nlu.clone());
        }
    } else if turn.text.is_some() {
        turn.state.last = None;
    }
    if turn.debug {
        turn.out.trace.variables_before = turn.snapshot();
    }
    if req.is_new {
        turn.begin_session();
    }
    match req.input {
        Input::Start => {
            if turn.state.flow.is_none() {
                turn.start_entry().await;
            }
        }
        Input::StartFlow(flow) => {
            if turn.state.flow.is_none() {
                turn.start_named(&flow).await;
            }
        }
        Input::Resume => turn.resume().await,
        Input::Message(_) => turn.message().await,
    }
    if turn.debug {
        turn.out.trace.variables_after = turn.snapshot();
        turn.out.trace.waiting_at = match (&turn.state.flow, &turn.state.node, &turn.state.wait) {
            (Some(f), Some(n), Some(w)) => Some(format!(
                "{f}/{n} ({})",
                match w {
                    Wait::Question { .. } => "question",
                    Wait::Form { .. } => "form",
                    Wait::Router => "intent router",
                    Wait::Handoff => "human agent",
                }
            )),
            _ => None,
        };
    }
    turn.out
}

/// Whole-word, case-insensitive phrase matching.
#[must_use]
pub fn contains_phrase(haystack_lower: &str, phrase_lower: &str) -> bool {
    if phrase_lower.is_empty() {
        return false;
    }
    let mut from = 0;
    while let Some(i) = haystack_lower[from..].find(phrase_lower) {
        let start = from + i;
        let end = start + phrase_lower.len();
        let before_ok = haystack_lower[..start].chars().next_back().is_none_or(|c| !c.is_alphanumeric());
        let after_ok = haystack_lower[end..].chars().next().is_none_or(|c| !c.is_alphanumeric());
        if before_ok && after_ok {
            return true;
        }
        from = start + phrase_lower.len().max(1);
        while from < haystack_lower.len() && !haystack_lower.is_char_boundary(from) {
            from += 1;
        }
        if from >= haystack_lower.len() {
            break;
        }
    }
    false
}

/// Coerces a value to a declared type; `Err` explains what did not fit.
pub fn coerce(t: VarType, v: Value) -> Result<Value, String> {
    match (t, v) {
        (_, Value::Null) => Ok(Value::Null),
        (VarType::String, Value::String(s)) => Ok(Value::String(s)),
        (VarType::String, other) => Ok(Value::String(to_text(&other))),
        (VarType::Number, v) => expr::to_number(&v)
            .and_then(serde_json::Number::from_f64)
            .map(|n| {
                if let Some(i) = n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9e15) {
                    #[allow(clippy::cast_possible_truncation, reason = "integral and in range")]
                    Value::from(i as i64)
                } else {
                    Value::Number(n)
                }
            })
            .ok_or_else(|| format!("`{}` is not a number", to_text(&v))),
        (VarType::Boolean, Value::String(s)) => match s.trim().to_lowercase().as_str() {
            "true" | "yes" | "y" | "1" => Ok(Value::Bool(true)),
            "false" | "no" | "n" | "0" | "" => Ok(Value::Bool(false)),
            other => Err(format!("`{other}` is not a yes/no value")),
        },
        (VarType::Boolean, v) => Ok(Value::Bool(truthy(&v))),
        (VarType::Date, Value::String(s)) => {
            let day = s.get(..10).unwrap_or(&s);
            if chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").is_ok() {
                Ok(Value::String(s))
            } else {
                Err(format!("`{s}` is not a date (YYYY-MM-DD)"))
            }
        }
        (VarType::Date, v) => Err(format!("`{}` is not a date (YYYY-MM-DD)", to_text(&v))),
        (VarType::List, Value::Array(a)) => Ok(Value::Array(a)),
        (VarType::List, v) => Ok(Value::Array(vec![v])),
        (VarType::Object, Value::Object(o)) => Ok(Value::Object(o)),
        (VarType::Object, v) => Err(format!("`{}` is not an object", to_text(&v))),
    }
}

/// The variables of a flow's scope chain as the evaluator sees them.
struct EvalScope<'a> {
    builtins: Map<String, Value>,
    flow_vars: Option<&'a Map<String, Value>>,
    vars: &'a Map<String, Value>,
    program: &'a Program,
    missing: RefCell<Vec<String>>,
}

impl Scope for EvalScope<'_> {
    fn lookup(&self, name: &str) -> Option<Value> {
        if let Some(v) = self.builtins.get(name) {
            return Some(v.clone());
        }
        if let Some(v) = self.flow_vars.and_then(|m| m.get(name)) {
            return Some(v.clone());
        }
        if let Some(v) = self.vars.get(name) {
            return Some(v.clone());
        }
        match self.program.variables.get(name) {
            Some(decl) if decl.scope == VarScope::Global => decl.default.clone(),
            Some(_) => None,
            None => {
                self.missing.borrow_mut().push(name.to_owned());
                None
            }
        }
    }
}

impl Turn<'_> {
    fn snapshot(&self) -> Value {
        json!({ "session": self.state.vars, "flow": self.state.flow_vars })
    }

    fn flow(&self) -> Option<Arc<FlowVersion>> {
        self.state.flow.as_ref().and_then(|f| self.program.flows.get(f)).cloned()
    }

    fn current_flow_name(&self) -> String {
        self.state.flow.clone().unwrap_or_else(|| self.program.entry_flow.clone())
    }

    fn problem(&mut self, node: Option<&str>, message: impl Into<String>) {
        let message = message.into();
        tracing::debug!(conversation = self.conversation_id, problem = %message, "flow problem");
        self.out.trace.problems.push(Problem { flow: self.state.flow.clone(), node: node.map(str::to_owned), message });
    }

    fn event(&mut self, e: impl Into<String>) {
        self.out.trace.events.push(e.into());
    }

    fn builtins(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("message".into(), self.text.clone().map_or(Value::Null, Value::String));
        let (intent, confidence, entities, language) = match (&self.nlu, &self.state.last) {
            (Some(n), _) => (n.intent.clone(), n.confidence, n.entity_map(), n.detected_language.clone()),
            (None, Some(l)) => (l.intent.clone(), l.confidence, l.entities.clone(), l.detected_language.clone()),
            (None, None) => (None, 0.0, Map::new(), None),
        };
        m.insert("detected_language".into(), language.map_or(Value::Null, Value::String));
        m.insert("intent".into(), intent.map_or(Value::Null, Value::String));
        m.insert("confidence".into(), json!(confidence));
        m.insert("entities".into(), Value::Object(entities));
        m.insert("channel".into(), Value::String(self.channel.to_owned()));
        m.insert("conversation".into(), json!({ "id": self.conversation_id }));
        m
    }

    /// Evaluates with the current scope, reporting variables without value.
    fn with_scope<T>(&mut self, node: &str, f: impl FnOnce(&EvalScope<'_>) -> T) -> T {
        let flow_name = self.state.flow.clone();
        let builtins = self.builtins();
        let (result, missing) = {
            let flow_vars = flow_name.as_ref().and_then(|f| self.state.flow_vars.get(f)).and_then(Value::as_object);
            let scope = EvalScope {
                builtins,
                flow_vars,
                vars: &self.state.vars,
                program: self.program,
                missing: RefCell::new(Vec::new()),
            };
            let result = f(&scope);
            (result, scope.missing.into_inner())
        };
        let mut missing = missing;
        missing.sort();
        missing.dedup();
        for name in missing {
            self.unset_problem(node, &name);
        }
        result
    }

    /// "unset variable: name" in the trace, once per node and variable.
    fn unset_problem(&mut self, node: &str, name: &str) {
        let message = format!("unset variable: {name}");
        let seen = self.out.trace.problems.iter().any(|p| p.node.as_deref() == Some(node) && p.message == message);
        if !seen {
            self.problem(Some(node), message);
        }
    }

    /// Renders a message text; in the emulator, also where unset variables
    /// left a gap (and each of them in the trace).
    fn render_text(&mut self, node: &str, t: &Template) -> (String, Vec<Gap>) {
        if !self.debug {
            return (self.render(node, t), Vec::new());
        }
        match self.with_scope(node, |s| t.render_reporting(s)) {
            Ok(r) => {
                for gap in &r.gaps {
                    for v in &gap.variables {
                        self.unset_problem(node, v);
                    }
                }
                (r.text, r.gaps)
            }
            Err(e) => {
                self.problem(Some(node), format!("template failed: {e}"));
                (String::new(), Vec::new())
            }
        }
    }

    fn render(&mut self, node: &str, t: &Template) -> String {
        match self.with_scope(node, |s| t.render(s)) {
            Ok(s) => s,
            Err(e) => {
                self.problem(Some(node), format!("template failed: {e}"));
                String::new()
            }
        }
    }

    fn render_url(&mut self, node: &str, t: &Template) -> Option<String> {
        let url = self.render(node, t);
        if url.starts_with("https://") || url.starts_with("http://") {
            Some(url)
        } else {
            self.problem(Some(node), format!("`{url}` is not an http(s) URL; left out"));
            None
        }
    }

    fn render_button(&mut self, node: &str, b: &Button) -> ReplyButton {
        let label = self.render(node, &b.label);
        let url = b.url.as_ref().and_then(|u| self.render_url(node, u));
        let value = if b.url.is_some() {
            None
        } else {
            Some(b.value.as_ref().map_or_else(|| label.clone(), |v| self.render(node, v)))
        };
        ReplyButton { label, value, url }
    }

    fn render_content(&mut self, node: &str, c: &Content) -> Reply {
        let (text, gaps) = c.text.as_ref().map(|t| self.render_text(node, t)).unwrap_or_default();
        let quick_replies = c
            .quick_replies
            .iter()
            .map(|(l, v)| QuickReply { label: self.render(node, l), value: self.render(node, v) })
            .collect();
        let buttons = c.buttons.iter().map(|b| self.render_button(node, b)).collect();
        let cards = c
            .cards
            .iter()
            .map(|card| ReplyCard {
                title: self.render(node, &card.title),
                subtitle: card.subtitle.as_ref().map(|s| self.render(node, s)),
                image_url: card.image_url.as_ref().and_then(|u| self.render_url(node, u)),
                buttons: card.buttons.iter().map(|b| self.render_button(node, b)).collect(),
            })
            .collect();
        let image = c
            .image
            .as_ref()
            .and_then(|(u, alt)| self.render_url(node, u).map(|url| ReplyImage { url, alt: alt.clone() }));
        Reply {
            text,
            parts: RichParts {
                quick_replies,
                buttons,
                cards,
                image,
                citations: Vec::new(),
                gaps,
                attachments: Vec::new(),
            },
        }
    }

    fn say(&mut self, reply: Reply) {
        if !reply.text.is_empty() || !reply.parts.is_empty() {
            self.out.replies.push(reply);
        }
    }

    fn say_text(&mut self, text: impl Into<String>) {
        self.say(Reply { text: text.into(), parts: RichParts::default() });
    }

    fn assign(&mut self, node: &str, name: &str, value: Value) {
        let decl = self.program.variables.get(name).cloned();
        let value = match &decl {
            Some(d) => match coerce(d.var_type, value.clone()) {
                Ok(v) => v,
                Err(why) => {
                    self.problem(
                        Some(node),
                        format!("variable `{name}` is declared {:?}: {why}; kept as is", d.var_type),
                    );
                    value
                }
            },
            None => value,
        };
        match decl.map(|d| d.scope) {
            Some(VarScope::Global) => {
                self.problem(Some(node), format!("variable `{name}` is global and read-only at run time; not changed"));
            }
            Some(VarScope::Flow) => {
                let flow = self.current_flow_name();
                let entry = self.state.flow_vars.entry(flow).or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(m) = entry {
                    m.insert(name.to_owned(), value);
                }
            }
            Some(VarScope::Session) | None => {
                self.state.vars.insert(name.to_owned(), value);
            }
        }
    }

    fn begin_session(&mut self) {
        for (name, decl) in &self.program.variables {
            if decl.scope == VarScope::Session
                && let Some(d) = &decl.default
            {
                self.state.vars.entry(name.clone()).or_insert_with(|| d.clone());
            }
        }
        let greeting =
            self.program.canned.iter().find(|c| c.kind == CannedKind::Greeting && c.keywords.is_empty()).cloned();
        if let Some(g) = greeting {
            let text = self.render("greeting", &g.content);
            self.event(format!("greeting message #{}", g.id));
            self.say_text(text);
        }
    }

    fn canned_match(&self, lower: &str, only_commands: bool) -> Option<Canned> {
        let trimmed = lower.trim();
        self.program
            .canned
            .iter()
            .filter(|c| c.kind != CannedKind::Fallback && !c.keywords.is_empty())
            .find(|c| {
                if c.kind == CannedKind::Command {
                    c.keywords.iter().any(|k| k == trimmed)
                } else {
                    !only_commands && c.keywords.iter().any(|k| contains_phrase(lower, k))
                }
            })
            .cloned()
    }

    async fn message(&mut self) {
        let lower = self.text.clone().unwrap_or_default().to_lowercase();
        let at_question = matches!(self.state.wait, Some(Wait::Question { .. } | Wait::Form { .. }));

        if let Some(c) = self.canned_match(&lower, true) {
            self.event(format!("command `{}` (canned message #{})", c.keywords.join("|"), c.id));
            let text = self.render("canned", &c.content);
            self.say_text(text);
            return;
        }
        let asked_by_intent = match (&self.program.settings.handoff_intent, &self.nlu) {
            (Some(i), Some(n)) => n.intent.as_deref() == Some(i.as_str()),
            _ => false,
        };
        let asked_by_words = self.program.settings.handoff_keywords.iter().any(|k| contains_phrase(&lower, k));
        if asked_by_intent || asked_by_words {
            self.event(if asked_by_intent { "handoff requested (intent)" } else { "handoff requested (keyword)" });
            let message = self.program.settings.handoff_message.clone();
            self.say_text(message);
            self.out.effects.push(Effect::Handoff { team_id: None, note: None });
            return;
        }
        if !at_question && let Some(c) = self.canned_match(&lower, false) {
            self.event(format!("canned {:?} message #{} by keyword", c.kind, c.id).to_lowercase());
            let text = self.render("canned", &c.content);
            self.say_text(text);
            return;
        }
        if let Some(to) = self.interrupt(&lower) {
            self.enter_flow(&to).await;
        } else if self.state.wait.is_some() {
            self.resume_with_input().await;
        } else {
            self.start_entry().await;
        }
        if self.out.replies.is_empty() && self.out.effects.is_empty() {
            self.out.fallback = true;
            let fallback = self.program.canned.iter().find(|c| c.kind == CannedKind::Fallback).cloned();
            let text = if let Some(f) = fallback {
                self.event(format!("fallback message #{}", f.id));
                self.render("fallback", &f.content)
            } else {
                self.event("fallback (default)");
                self.program.settings.fallback_message.clone()
            };
            self.say_text(text);
        }
    }

    /// The first interrupting transition that fires for this message.
    fn interrupt(&mut self, lower: &str) -> Option<String> {
        let current = self.current_flow_name();
        let intent = self.nlu.as_ref().and_then(|n| n.intent.clone());
        let transitions: Vec<Transition> =
            self.program.transitions.iter().filter(|t| t.from == current || t.from == "*").cloned().collect();
        for t in transitions {
            let fired = match &t.trigger {
                Trigger::OnKeyword(words) => words.iter().any(|w| contains_phrase(lower, w)),
                Trigger::OnIntent(i) => intent.as_deref() == Some(i.as_str()),
                Trigger::OnCondition(c) => self.holds(&format!("transition #{}", t.id), c),
                Trigger::OnComplete => false,
            };
            if fired {
                if !self.program.flows.contains_key(&t.to) {
                    self.problem(
                        None,
                        format!("transition #{} leads to flow `{}`, which is not published", t.id, t.to),
                    );
                    continue;
                }
                self.event(format!("transition #{} {} → {}", t.id, current, t.to));
                return Some(t.to.clone());
            }
        }
        None
    }

    fn holds(&mut self, node: &str, c: &Cond) -> bool {
        match c {
            Cond::Expr(e) => match self.with_scope(node, |s| expr::eval(e, s)) {
                Ok(v) => truthy(&v),
                Err(err) => {
                    self.problem(Some(node), format!("condition failed: {err}"));
                    false
                }
            },
            Cond::Matches(e, re) => match self.with_scope(node, |s| expr::eval(e, s)) {
                Ok(v) => re.is_match(&to_text(&v)),
                Err(err) => {
                    self.problem(Some(node), format!("condition failed: {err}"));
                    false
                }
            },
            Cond::All(parts) => parts.iter().all(|p| self.holds(node, p)),
            Cond::Any(parts) => parts.iter().any(|p| self.holds(node, p)),
        }
    }

    async fn start_entry(&mut self) {
        let entry = self.program.entry_flow.clone();
        if self.program.flows.contains_key(&entry) {
            self.enter_flow(&entry).await;
        } else if self.program.flows.is_empty() {
            self.event("no published flow");
        } else {
            self.problem(None, format!("the entry flow `{entry}` is not published"));
        }
    }

    /// Starts the published flow `name` (its caller checked that it exists;
    /// one unpublished since is a problem, as an unpublished entry flow is).
    async fn start_named(&mut self, name: &str) {
        if self.program.flows.contains_key(name) {
            self.enter_flow(name).await;
        } else {
            self.problem(None, format!("the flow `{name}` is not published"));
        }
    }

    /// Starts `name` at its start node (flow variables reset).
    async fn enter_flow(&mut self, name: &str) {
        let Some(flow) = self.program.flows.get(name).cloned() else {
            self.problem(None, format!("flow `{name}` is not published"));
            self.finish_flow_state();
            return;
        };
        self.state.flow = Some(name.to_owned());
        self.state.node = None;
        self.state.wait = None;
        let mut defaults = Map::new();
        for (var, decl) in &self.program.variables {
            if decl.scope == VarScope::Flow
                && let Some(d) = &decl.default
            {
                defaults.insert(var.clone(), d.clone());
            }
        }
        self.state.flow_vars.insert(name.to_owned(), Value::Object(defaults));
        self.report_unknown_intents(&flow);
        self.run_from(flow.graph.start).await;
    }

    fn report_unknown_intents(&mut self, flow: &FlowVersion) {
        if let Some(known) = &self.program.known_intents {
            let unknown: Vec<String> = flow.graph.intents.iter().filter(|i| !known.contains(*i)).cloned().collect();
            for intent in unknown {
                self.out.trace.problems.push(Problem {
                    flow: Some(flow.name.clone()),
                    node: None,
                    message: format!("intent `{intent}` is used by this flow but is not in the bot's NLU model"),
                });
            }
        }
    }

    fn finish_flow_state(&mut self) {
        self.state.flow = None;
        self.state.node = None;
        self.state.wait = None;
        self.state.stack.clear();
    }

    /// Continues a waiting conversation with the user's message.
    async fn resume_with_input(&mut self) {
        let Some((flow, idx)) = self.waiting_node() else {
            self.start_entry().await;
            return;
        };
        let node = &flow.graph.nodes[idx];
        let wait = self.state.wait.clone();
        self.state.wait = None;
        match (&node.kind, wait) {
            (Kind::Question(q), Some(Wait::Question { retries })) => {
                self.consumed = true;
                let text = self.text.clone().unwrap_or_default();
                match self.check_answer(&node.id, q, &text).await {
                    Some(v) => {
                        self.trace(&flow.name, node, Some("answered".into()));
                        self.assign(&node.id, &q.variable.clone(), v);
                        self.follow(&flow, idx, "next").await;
                    }
                    None if retries >= q.retries => {
                        self.trace(&flow.name, node, Some("invalid (no retries left)".into()));
                        self.follow(&flow, idx, "invalid").await;
                    }
                    None => {
                        self.trace(&flow.name, node, Some(format!("invalid (retry {} of {})", retries + 1, q.retries)));
                        let reprompt = match &q.reprompt {
                            Some(t) => self.render(&node.id, t),
                            None => "Sorry, that is not a valid answer.".to_owned(),
                        };
                        self.say_text(reprompt);
                        let prompt = self.render_content(&node.id, &q.prompt);
                        self.say(prompt);
                        self.state.node = Some(node.id.clone());
                        self.state.wait = Some(Wait::Question { retries: retries + 1 });
                    }
                }
            }
            (Kind::Form(f), Some(Wait::Form { asking, retries, filled })) => {
                self.consumed = true;
                let port = self.form_answer(&flow.name, node, f, asking, retries, filled).await;
                if let Some(port) = port {
                    self.follow(&flow, idx, port).await;
                }
            }
            (Kind::IntentRouter { .. }, _) => {
                self.run_from(idx).await;
            }
            (Kind::Handoff { .. }, _) => {
                self.trace(&flow.name, node, Some("handed back".into()));
                self.follow(&flow, idx, "next").await;
            }
            _ => {
                // The waiting node changed type in a newer version: start it afresh.
                self.run_from(idx).await;
            }
        }
    }

    /// After a human agent hands the conversation back.
    async fn resume(&mut self) {
        let Some((flow, idx)) = self.waiting_node() else { return };
        let node = &flow.graph.nodes[idx];
        match (&node.kind, self.state.wait.clone()) {
            (Kind::Handoff { .. }, _) => {
                self.state.wait = None;
                self.trace(&flow.name, node, Some("handed back".into()));
                self.follow(&flow, idx, "next").await;
            }
            (Kind::Question(q), Some(Wait::Question { .. })) => {
                // Handed over in the middle of a question: ask it again.
                let prompt = self.render_content(&node.id, &q.prompt);
                self.say(prompt);
            }
            (Kind::Form(f), Some(Wait::Form { asking, .. })) => {
                if let Some(slot) = f.slots.iter().find(|s| s.variable == asking) {
                    let prompt = self.render_content(&node.id, &slot.prompt);
                    self.say(prompt);
                }
            }
            _ => {}
        }
    }

    /// The flow and node the conversation waits at, on the current version.
    fn waiting_node(&mut self) -> Option<(Arc<FlowVersion>, usize)> {
        let name = self.state.flow.clone()?;
        let node_id = self.state.node.clone();
        let Some(flow) = self.flow() else {
            self.problem(None, format!("flow `{name}` is no longer published; starting over"));
            self.finish_flow_state();
            return None;
        };
        if let Some(idx) = node_id.as_deref().and_then(|n| flow.graph.find(n)) {
            Some((flow, idx))
        } else {
            self.problem(
                None,
                format!(
                    "node `{}` no longer exists in flow `{name}` (version {}); restarting the flow",
                    node_id.unwrap_or_default(),
                    flow.version
                ),
            );
            self.state.wait = None;
            self.state.node = None;
            Some((flow.clone(), flow.graph.start))
        }
    }

    fn trace(&mut self, flow: &str, node: &Node, outcome: Option<String>) {
        if self.out.visits.last().is_none_or(|v| v.flow != flow || v.node != node.id) {
            self.out.visits.push(Visit { flow: flow.to_owned(), node: node.id.clone() });
        }
        if self.debug {
            self.out.trace.path.push(TraceStep {
                flow: flow.to_owned(),
                node: node.id.clone(),
                node_type: node.node_type.name(),
                outcome,
            });
        }
    }

    async fn follow(&mut self, flow: &Arc<FlowVersion>, idx: usize, port: &str) {
        match flow.graph.nodes[idx].port(port) {
            Some(next) => self.run_from(next).await,
            None => self.complete_flow().await,
        }
    }

    /// Checks a question's answer; `Some(value)` when valid.
    async fn check_answer(&mut self, node: &str, q: &super::compile::Question, text: &str) -> Option<Value> {
        let answer = text.trim();
        if answer.is_empty() {
            return None;
        }
        match &q.check {
            Check::Any => Some(Value::String(answer.to_owned())),
            Check::Regex(re) => re.is_match(answer).then(|| Value::String(answer.to_owned())),
            Check::Choices(choices) => {
                let lower = answer.to_lowercase();
                choices
                    .iter()
                    .find(|(label, value)| label.to_lowercase() == lower || value.to_lowercase() == lower)
                    .map(|(_, value)| Value::String(value.clone()))
            }
            Check::Entity(entity) => {
                let from_nlu = self
                    .nlu
                    .as_ref()
                    .filter(|_| self.text.as_deref() == Some(text))
                    .and_then(|n| n.entities.iter().find(|e| &e.entity == entity))
                    .map(|e| e.value.clone());
                if from_nlu.is_some() {
                    return from_nlu;
                }
                match self.io.entity(entity, answer).await {
                    Ok(v) => v,
                    Err(e) => {
                        self.problem(Some(node), format!("entity `{entity}` cannot be checked: {e}"));
                        None
                    }
                }
            }
        }
    }

    /// A flow ended: return to a caller, follow `on_complete`/`on_condition`
    /// transitions, or leave the conversation without a flow.
    async fn complete_flow(&mut self) {
        let mut hops = 0;
        loop {
            hops += 1;
            if hops > 32 {
                self.problem(None, "more than 32 flow changes in one turn; stopped");
                self.finish_flow_state();
                return;
            }
            if let Some(frame) = self.state.stack.pop() {
                let Some(flow) = self.program.flows.get(&frame.flow).cloned() else {
                    self.problem(None, format!("cannot return to flow `{}`: not published", frame.flow));
                    continue;
                };
                self.state.flow = Some(frame.flow.clone());
                let Some(idx) = flow.graph.find(&frame.node) else {
                    self.problem(None, format!("cannot return to `{}/{}`: the node is gone", frame.flow, frame.node));
                    continue;
                };
                match flow.graph.nodes[idx].port("next") {
                    Some(next) => {
                        Box::pin(self.run_from(next)).await;
                        return;
                    }
                    None => continue,
                }
            }
            let finished = self.current_flow_name();
            let transitions: Vec<Transition> =
                self.program.transitions.iter().filter(|t| t.from == finished || t.from == "*").cloned().collect();
            let mut next = None;
            for t in transitions {
                let fired = match &t.trigger {
                    Trigger::OnComplete => true,
                    Trigger::OnCondition(c) => self.holds(&format!("transition #{}", t.id), c),
                    _ => false,
                };
                if fired && t.to != finished {
                    if self.program.flows.contains_key(&t.to) {
                        self.event(format!("transition #{} {} → {} on completion", t.id, finished, t.to));
                        next = Some(t.to.clone());
                        break;
                    }
                    self.problem(
                        None,
                        format!("transition #{} leads to flow `{}`, which is not published", t.id, t.to),
                    );
                }
            }
            self.finish_flow_state();
            if let Some(to) = next {
                Box::pin(self.enter_flow(&to)).await;
            }
            return;
        }
    }

    async fn run_from(&mut self, start: usize) {
        let Some(mut flow) = self.flow() else { return };
        let mut idx = start;
        loop {
            self.steps += 1;
            if self.steps > MAX_STEPS {
                self.problem(
                    None,
                    format!("more than {MAX_STEPS} nodes ran in one turn; stopped (a loop across flows?)"),
                );
                self.finish_flow_state();
                return;
            }
            let node = flow.graph.nodes[idx].clone();
            let step = self.run_node(&flow, &node).await;
            let port = match step {
                Step::Wait => {
                    self.state.node = Some(node.id.clone());
                    return;
                }
                Step::Stop => return,
                Step::End => {
                    Box::pin(self.complete_flow()).await;
                    return;
                }
                Step::Go(i) => {
                    // A jump: the current flow changed.
                    match self.flow() {
                        Some(f) => flow = f,
                        None => return,
                    }
                    idx = i;
                    continue;
                }
                Step::Port(p) => p.to_owned(),
                Step::PortOwned(p) => p,
            };
            if let Some(next) = node.port(&port) {
                idx = next;
            } else {
                Box::pin(self.complete_flow()).await;
                return;
            }
        }
    }

    #[allow(clippy::too_many_lines, reason = "one arm per node type")]
    async fn run_node(&mut self, flow: &Arc<FlowVersion>, node: &Node) -> Step {
        let id = node.id.as_str();
        match &node.kind {
            Kind::Start => {
                self.trace(&flow.name, node, None);
                Step::Port("next")
            }
            Kind::Message(c) => {
                self.trace(&flow.name, node, None);
                let reply = self.render_content(id, c);
                self.say(reply);
                Step::Port("next")
            }
            Kind::Question(q) => {
                if q.fill_from_message
                    && !self.consumed
                    && let Some(text) = self.text.clone()
                    && let Some(v) = self.check_answer(id, q, &text).await
                {
                    self.consumed = true;
                    self.trace(&flow.name, node, Some("filled from the message".into()));
                    self.assign(id, &q.variable, v);
                    return Step::Port("next");
                }
                self.trace(&flow.name, node, Some("asked".into()));
                let prompt = self.render_content(id, &q.prompt);
                self.say(prompt);
                self.state.wait = Some(Wait::Question { retries: 0 });
                Step::Wait
            }
            Kind::Form(f) => match self.form_enter(&flow.name, node, f) {
                Some(port) => Step::Port(port),
                None => Step::Wait,
            },
            Kind::Condition(branches) => {
                let mut taken = None;
                for (port, cond) in branches {
                    if self.holds(id, cond) {
                        taken = Some(port.clone());
                        break;
                    }
                }
                let port = taken.unwrap_or_else(|| "else".to_owned());
                self.trace(&flow.name, node, Some(port.clone()));
                Step::PortOwned(port)
            }
            Kind::SetVariable(assignments) => {
                for (var, e) in assignments {
                    match self.with_scope(id, |s| expr::eval(e, s)) {
                        Ok(v) => self.assign(id, var, v),
                        Err(err) => self.problem(Some(id), format!("`{var}` not set: {err}")),
                    }
                }
                self.trace(&flow.name, node, None);
                Step::Port("next")
            }
            Kind::IntentRouter { routes, min_confidence } => {
                if self.consumed || self.text.is_none() {
                    self.trace(&flow.name, node, Some("waiting for a message".into()));
                    self.state.wait = Some(Wait::Router);
                    return Step::Wait;
                }
                self.consumed = true;
                if let Some(known) = &self.program.known_intents {
                    for r in routes {
                        if !known.contains(&r.intent) {
                            self.problem(
                                Some(id),
                                format!(
                                    "route `{}` names intent `{}`, which is not in the bot's NLU model",
                                    r.port, r.intent
                                ),
                            );
                        }
                    }
                }
                let (intent, confidence) = self.nlu.as_ref().map_or((None, 0.0), |n| (n.intent.clone(), n.confidence));
                let port = intent
                    .as_ref()
                    .and_then(|i| {
                        routes.iter().find(|r| {
                            &r.intent == i && confidence >= r.min_confidence.or(*min_confidence).unwrap_or(0.0)
                        })
                    })
                    .map_or_else(|| "out_of_scope".to_owned(), |r| r.port.clone());
                if port == "out_of_scope" {
                    self.out.fallback = true;
                }
                let label = match &intent {
                    Some(i) => format!("{port} (intent {i}, {confidence:.2})"),
                    None => format!("{port} (no intent)"),
                };
                self.trace(&flow.name, node, Some(label));
                Step::PortOwned(port)
            }
            Kind::Knowledge(k) => {
                let question = match &k.question {
                    Some(t) => self.render(id, t),
                    None => self.text.clone().unwrap_or_default(),
                };
                if question.trim().is_empty() {
                    self.trace(&flow.name, node, Some("no_answer (no question)".into()));
                    return Step::Port("no_answer");
                }
                let query = KnowledgeQuery { question, knowledge_base_id: k.knowledge_base_id, min_score: k.min_score };
                match self.io.knowledge(query).await {
                    Ok(Some(answer)) => {
                        if let Some(var) = &k.variable {
                            self.assign(id, var, Value::String(answer.text.clone()));
                        }
                        if k.send_answer {
                            self.say(Reply {
                                text: answer.text,
                                parts: RichParts { citations: answer.citations, ..RichParts::default() },
                            });
                        }
                        self.consumed = true;
                        self.trace(&flow.name, node, Some("answered".into()));
                        Step::Port("answered")
                    }
                    Ok(None) => {
                        self.trace(&flow.name, node, Some("no_answer".into()));
                        Step::Port("no_answer")
                    }
                    Err(e) => {
                        self.problem(Some(id), format!("knowledge answer failed: {e}"));
                        self.trace(&flow.name, node, Some("no_answer (error)".into()));
                        Step::Port("no_answer")
                    }
                }
            }
            Kind::Agent(a) => {
                let message = match &a.input {
                    Some(t) => self.render(id, t),
                    None => self.text.clone().unwrap_or_default(),
                };
                if message.trim().is_empty() {
                    self.problem(Some(id), "the agent node has no message to answer");
                    self.trace(&flow.name, node, Some("error (no message)".into()));
                    return Step::Port("error");
                }
                self.consumed = true;
                let call = AgentCall { agent_id: a.agent_id, message, conversation_id: self.conversation_id };
                match self.io.agent(call).await {
                    Ok(answer) => {
                        if let Some(reply) = answer.reply.filter(|r| !r.trim().is_empty()) {
                            if let Some(var) = &a.variable {
                                self.assign(id, var, Value::String(reply.clone()));
                            }
                            if a.send_reply {
                                self.say_text(reply);
                            }
                        }
                        if let Some(reason) = answer.handoff {
                            self.trace(&flow.name, node, Some(format!("handoff ({reason})")));
                            Step::Port("handoff")
                        } else {
                            self.trace(&flow.name, node, Some("done".into()));
                            Step::Port("done")
                        }
                    }
                    Err(e) => {
                        self.problem(Some(id), format!("agent failed: {e}"));
                        self.trace(&flow.name, node, Some("error".into()));
                        Step::Port("error")
                    }
                }
            }
            Kind::Tool(t) => {
                let arguments = match &t.arguments {
                    Some(b) => match self.with_scope(id, |s| render_body(b, s)) {
                        Ok(v) => v,
                        Err(e) => {
                            self.problem(Some(id), format!("arguments template failed: {e}"));
                            self.trace(&flow.name, node, Some("error".into()));
                            return Step::Port("error");
                        }
                    },
                    None => json!({}),
                };
                match self.io.tool(ToolNodeCall { tool_id: t.tool_id, arguments }).await {
                    Ok(result) => {
                        if let Some(var) = &t.variable {
                            self.assign(id, var, result);
                        }
                        self.trace(&flow.name, node, Some("ok".into()));
                        Step::Port("ok")
                    }
                    Err((code, message)) => {
                        if let Some(var) = &t.error_variable {
                            self.assign(id, var, json!({ "code": code, "message": message }));
                        }
                        self.problem(Some(id), format!("tool failed: {code}: {message}"));
                        self.trace(&flow.name, node, Some(format!("error ({code})")));
                        Step::Port("error")
                    }
                }
            }
            Kind::Http(h) => {
                let url = match self.with_scope(id, |s| h.url.render_url(s)) {
                    Ok(u) => u,
                    Err(e) => {
                        self.problem(Some(id), format!("URL template failed: {e}"));
                        self.trace(&flow.name, node, Some("error".into()));
                        return Step::Port("error");
                    }
                };
                let mut headers = Vec::new();
                for (name, t) in &h.headers {
                    match self.with_scope(id, |s| t.render_header(s)) {
                        Ok(v) => headers.push((name.clone(), v)),
                        Err(e) => self.problem(Some(id), format!("header `{name}` failed: {e}")),
                    }
                }
                let body = match &h.body {
                    Some(b) => match self.with_scope(id, |s| render_body(b, s)) {
                        Ok(v) => Some(v),
                        Err(e) => {
                            self.problem(Some(id), format!("body template failed: {e}"));
                            self.trace(&flow.name, node, Some("error".into()));
                            return Step::Port("error");
                        }
                    },
                    None => None,
                };
                let method = match h.method {
                    HttpMethod::Get => "GET",
                    HttpMethod::Post => "POST",
                    HttpMethod::Put => "PUT",
                    HttpMethod::Patch => "PATCH",
                    HttpMethod::Delete => "DELETE",
                };
                let started = std::time::Instant::now();
                let call = HttpCall {
                    method: h.method,
                    url: url.clone(),
                    headers,
                    body,
                    timeout: Duration::from_millis(h.timeout_ms),
                };
                let result = self.io.http(call).await;
                let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
                let (status, error) = match &result {
                    Ok(a) => (Some(a.status), None),
                    Err(e) => (None, Some(e.clone())),
                };
                self.out.trace.http_calls.push(HttpTrace {
                    node: id.to_owned(),
                    method,
                    url: redact_url(&url),
                    status,
                    error: error.clone(),
                    duration_ms,
                });
                match result {
                    Ok(answer) => {
                        if let Some(v) = &h.status_variable {
                            self.assign(id, v, json!(answer.status));
                        }
                        if let Some(v) = &h.response_variable {
                            self.assign(id, v, answer.body.clone());
                        }
                        let ok = (200..300).contains(&answer.status);
                        if ok {
                            for (var, path) in &h.mappings {
                                let value = path.select(&answer.body);
                                self.assign(id, var, value);
                            }
                        }
                        let port = if ok { "success" } else { "error" };
                        self.trace(&flow.name, node, Some(format!("{port} ({})", answer.status)));
                        Step::Port(port)
                    }
                    Err(e) => {
                        self.problem(Some(id), format!("HTTP request failed: {e}"));
                        self.trace(&flow.name, node, Some("error".into()));
                        Step::Port("error")
                    }
                }
            }
            Kind::Jump { flow: target, mode } => {
                let Some(next) = self.program.flows.get(target).cloned() else {
                    self.problem(
                        Some(id),
                        format!("jump to flow `{target}`, which is not published; the flow ends here"),
                    );
                    self.trace(&flow.name, node, Some("target missing".into()));
                    return Step::End;
                };
                self.trace(
                    &flow.name,
                    node,
                    Some(format!("{} {target}", if *mode == JumpMode::Call { "call" } else { "goto" })),
                );
                if *mode == JumpMode::Call {
                    if self.state.stack.len() >= 16 {
                        self.problem(Some(id), "flows are called 16 deep; not calling further");
                        return Step::End;
                    }
                    self.state.stack.push(Frame { flow: flow.name.clone(), node: node.id.clone() });
                }
                self.state.flow = Some(target.clone());
                let mut defaults = Map::new();
                for (var, decl) in &self.program.variables {
                    if decl.scope == VarScope::Flow
                        && let Some(d) = &decl.default
                    {
                        defaults.insert(var.clone(), d.clone());
                    }
                }
                self.state.flow_vars.insert(target.clone(), Value::Object(defaults));
                self.report_unknown_intents(&next);
                Step::Go(next.graph.start)
            }
            Kind::Handoff { message, team_id, note } => {
                let reply = match message {
                    Some(c) => self.render_content(id, c),
                    None => Reply { text: self.program.settings.handoff_message.clone(), parts: RichParts::default() },
                };
                self.say(reply);
                let rendered_note = note.as_ref().map(|t| self.render(id, t));
                self.out.effects.push(Effect::Handoff { team_id: *team_id, note: rendered_note });
                self.trace(&flow.name, node, Some("waiting for a human agent".into()));
                self.state.wait = Some(Wait::Handoff);
                Step::Wait
            }
            Kind::End { message, close } => {
                if let Some(c) = message {
                    let reply = self.render_content(id, c);
                    self.say(reply);
                }
                if *close {
                    self.out.effects.push(Effect::Close);
                }
                self.trace(
                    &flow.name,
                    node,
                    Some(if *close { "closes the conversation".into() } else { "flow ends".into() }),
                );
                if *close {
                    self.finish_flow_state();
                    return Step::Stop;
                }
                Step::End
            }
        }
    }
}

fn render_body(b: &BodyTemplate, scope: &dyn Scope) -> Result<Value, expr::EvalError> {
    Ok(match b {
        BodyTemplate::Value(v) => v.clone(),
        BodyTemplate::Text(t) => t.render_value(scope)?,
        BodyTemplate::List(items) => {
            Value::Array(items.iter().map(|i| render_body(i, scope)).collect::<Result<_, _>>()?)
        }
        BodyTemplate::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| Ok((k.clone(), render_body(v, scope)?)))
                .collect::<Result<_, expr::EvalError>>()?,
        ),
    })
}

/// The URL without its query string (which may carry secrets), for traces.
fn redact_url(url: &str) -> String {
    match url.split_once('?') {
        Some((base, _)) => format!("{base}?…"),
        None => url.to_owned(),
    }
}

impl NodeType {
    /// The node types, for the editor's palette.
    #[must_use]
    pub fn names() -> Vec<&'static str> {
        NodeType::ALL.iter().map(|t| t.name()).collect()
    }
}

mod form;
#[cfg(test)]
mod tests;

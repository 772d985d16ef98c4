//! The flow studio: a flow drafted by the bot's model from a description,
//! a flow revised from an instruction, and candidate next nodes. Whatever the
//! model answers goes through the real flow compiler (and the bot's flow
//! list, for jumps); an invalid answer is sent back with its issues for at
//! most [`MAX_REPAIRS`] repair rounds, and refused with them after that.
//! Nothing invalid is ever saved, and nothing is ever published here.

use serde_json::{Value, json};

use super::model::{
    GenerateFlowRequest, GeneratedFlow, ImproveFlowRequest, ImprovedFlow, NodeSuggestion, NodeSuggestions, StudioUsage,
    SuggestNextRequest,
};
use super::prompt;
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::flows::compile::{Issue, Severity, compile};
use crate::flows::document::{EdgeDoc, FlowDocument, NodeDoc, NodeType};
use crate::flows::model::{FlowDiff, FlowVersionView, SaveFlowRequest};
use crate::flows::{diff, service as flows};
use crate::http::Tenant;
use crate::ids::BotId;
use crate::llm::ai::service::{self as ai, Purpose};
use crate::llm::client::Message;

/// Repair rounds after the first answer.
pub const MAX_REPAIRS: u32 = 2;
/// Longest description or instruction, in characters.
pub const MAX_TEXT_CHARS: usize = 4000;
/// Room for the answer: a flow of a few dozen nodes is a few thousand tokens.
const MIN_ANSWER_TOKENS: u32 = 4096;
/// The flow name used for validation when the draft is not saved.
const REVIEW_NAME: &str = "generated";

fn check_text(field: &str, text: &str) -> AppResult<String> {
    let t = text.trim();
    if t.is_empty() {
        return Err(AppError::validation(field, "must not be empty"));
    }
    if t.chars().count() > MAX_TEXT_CHARS {
        return Err(AppError::validation(field, format!("at most {MAX_TEXT_CHARS} characters")));
    }
    Ok(t.to_owned())
}

fn check_hint(field: &str, value: Option<&str>, max: usize) -> AppResult<Option<String>> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if v.len() > max || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(AppError::validation(field, format!("letters, digits, - and _, at most {max}")));
    }
    Ok(Some(v.to_owned()))
}

fn generation_failed(field: &str, issues: &[Issue], rounds: u32) -> AppError {
    let first = issues.first().map_or_else(String::new, |i| {
        format!("; first: {}{}", i.node_id.as_deref().map(|n| format!("node `{n}`: ")).unwrap_or_default(), i.message)
    });
    AppError::new(
        ErrorCode::FlowGenerationFailed,
        format!("the model's answer was still not a valid flow after {rounds} attempts{first}"),
    )
    .with_details(json!({ "field": field, "issues": issues, "rounds": rounds }))
}

/// One conversation with the bot's model.
struct Talk<'a> {
    state: &'a AppState,
    tenant: &'a Tenant,
    bot: BotId,
    messages: Vec<Message>,
    usage: StudioUsage,
}

impl<'a> Talk<'a> {
    fn new(state: &'a AppState, tenant: &'a Tenant, bot: BotId, request: String) -> Talk<'a> {
        Talk {
            state,
            tenant,
            bot,
            messages: vec![Message::new("system", prompt::system()), Message::new("user", request)],
            usage: StudioUsage::default(),
        }
    }

    /// The model's next answer (metered against the bot's budget).
    async fn ask(&mut self) -> AppResult<String> {
        let (completion, used) = ai::complete_json(
            self.state,
            self.tenant,
            self.bot,
            Purpose::Flow,
            self.messages.clone(),
            MIN_ANSWER_TOKENS,
        )
        .await?;
        self.usage.rounds += 1;
        self.usage.prompt_tokens += used.prompt_tokens;
        self.usage.completion_tokens += used.completion_tokens;
        self.usage.cost_micros += used.cost_micros;
        self.messages.push(Message::new("assistant", completion.text.clone()));
        Ok(completion.text)
    }

    fn may_repair(&self) -> bool {
        self.usage.rounds <= MAX_REPAIRS
    }

    fn repair(&mut self, issues: &[Issue]) {
        self.messages.push(Message::new("user", prompt::repair(issues)));
    }
}

/// Reads an answer as a flow and validates it as the bot would publish it:
/// `Ok(Ok(document, warnings))`, or `Ok(Err(issues))` to send back.
async fn read_flow(
    state: &AppState,
    tenant: &Tenant,
    bot: BotId,
    name: &str,
    answer: &str,
    previous: Option<&FlowDocument>,
) -> AppResult<Result<(FlowDocument, Vec<Issue>), Vec<Issue>>> {
    let mut doc = match prompt::extract_object(answer) {
        Err(m) => return Ok(Err(vec![Issue::error("not_json", m)])),
        Ok(v) => match prompt::document(v) {
            Err(m) => return Ok(Err(vec![Issue::error("not_a_flow_document", m)])),
            Ok(d) => d,
        },
    };
    if let Some(p) = previous {
        prompt::carry_positions(&mut doc, p);
    }
    prompt::lay_out(&mut doc);
    let size = serde_json::to_string(&doc).map_err(AppError::internal)?.len();
    if size > flows::MAX_DOCUMENT_BYTES {
        let m = format!("the flow is larger than {} bytes", flows::MAX_DOCUMENT_BYTES);
        return Ok(Err(vec![Issue::error("too_large", m)]));
    }
    let report = flows::validate(state, tenant.clone(), bot, name.to_owned(), doc.clone()).await?;
    let (blocking, warnings): (Vec<Issue>, Vec<Issue>) =
        report.issues.into_iter().partition(|i| i.severity == Severity::Error || i.blocks_publish);
    if blocking.is_empty() { Ok(Ok((doc, warnings))) } else { Ok(Err(blocking)) }
}

/// Asks until the answer is a valid flow, repairing at most [`MAX_REPAIRS`] times.
async fn valid_flow(
    talk: &mut Talk<'_>,
    name: &str,
    field: &str,
    previous: Option<&FlowDocument>,
) -> AppResult<(FlowDocument, Vec<Issue>)> {
    loop {
        let answer = talk.ask().await?;
        match read_flow(talk.state, talk.tenant, talk.bot, name, &answer, previous).await? {
            Ok(found) => return Ok(found),
            Err(issues) if talk.may_repair() => {
                tracing::info!(
                    round = talk.usage.rounds,
                    issues = issues.len(),
                    "the model's flow is invalid; repairing"
                );
                talk.repair(&issues);
            }
            Err(issues) => return Err(generation_failed(field, &issues, talk.usage.rounds)),
        }
    }
}

async fn save_draft(
    state: &AppState,
    tenant: &Tenant,
    bot: BotId,
    name: String,
    document: FlowDocument,
    message: &str,
) -> AppResult<FlowVersionView> {
    let req = SaveFlowRequest { document, message: Some(message.to_owned()), autosave: false };
    Ok(flows::save(state, tenant.clone(), bot, name, req).await?.version)
}

/// Drafts a flow from a description.
pub async fn generate(
    state: &AppState,
    tenant: Tenant,
    bot: BotId,
    req: GenerateFlowRequest,
) -> AppResult<GeneratedFlow> {
    let description = check_text("description", &req.description)?;
    let language = check_hint("language", req.language.as_deref(), 35)?;
    let channel = check_hint("channel", req.channel.as_deref(), 40)?;
    let name = match req.flow_name.as_deref().map(str::trim) {
        Some(n) => {
            flows::check_name(n)?;
            Some(n.to_owned())
        }
        None => None,
    };
    let request = prompt::generate(&description, language.as_deref(), channel.as_deref());
    let mut talk = Talk::new(state, &tenant, bot, request);
    let (document, issues) = valid_flow(&mut talk, name.as_deref().unwrap_or(REVIEW_NAME), "description", None).await?;
    let saved = match name {
        Some(n) => Some(save_draft(state, &tenant, bot, n, document.clone(), "generated with AI").await?),
        None => None,
    };
    Ok(GeneratedFlow { document, issues, saved, usage: talk.usage })
}

/// The diff in plain sentences.
fn summarize(d: &FlowDiff) -> Vec<String> {
    let mut out = Vec::new();
    if d.identical {
        out.push("No changes.".to_owned());
        return out;
    }
    if !d.nodes_added.is_empty() {
        out.push(format!("Added nodes: {}.", d.nodes_added.join(", ")));
    }
    if !d.nodes_removed.is_empty() {
        out.push(format!("Removed nodes: {}.", d.nodes_removed.join(", ")));
    }
    for c in &d.nodes_changed {
        out.push(format!("Changed node {}: {}.", c.id, c.fields.join(", ")));
    }
    if !d.edges_added.is_empty() {
        out.push(format!("Added connections: {}.", d.edges_added.join(", ")));
    }
    if !d.edges_removed.is_empty() {
        out.push(format!("Removed connections: {}.", d.edges_removed.join(", ")));
    }
    out
}

/// The document to work on and its draft version.
async fn current(
    state: &AppState,
    tenant: &Tenant,
    bot: BotId,
    name: &str,
    given: Option<FlowDocument>,
) -> AppResult<(FlowDocument, i64)> {
    let detail = flows::get(state, tenant.clone(), bot, name.to_owned()).await?;
    let version = detail.draft.version;
    match given.or(detail.draft.document) {
        Some(doc) => Ok((doc, version)),
        None => Err(AppError::internal(anyhow::anyhow!("flow {name} has a draft without its document"))),
    }
}

/// Revises a flow from an instruction.
pub async fn improve(
    state: &AppState,
    tenant: Tenant,
    bot: BotId,
    name: String,
    req: ImproveFlowRequest,
) -> AppResult<ImprovedFlow> {
    flows::check_name(&name)?;
    let instruction = check_text("instruction", &req.instruction)?;
    let (before, version) = current(state, &tenant, bot, &name, req.document).await?;
    let mut talk = Talk::new(state, &tenant, bot, prompt::improve(&before, &instruction));
    let (document, issues) = valid_flow(&mut talk, &name, "instruction", Some(&before)).await?;
    let saved = if req.save {
        Some(save_draft(state, &tenant, bot, name, document.clone(), "improved with AI").await?)
    } else {
        None
    };
    let to_version = saved.as_ref().map_or(version + 1, |v| v.version);
    let diff = diff::diff(version, &before, to_version, &document);
    Ok(ImprovedFlow { summary: summarize(&diff), document, issues, diff, saved, usage: talk.usage })
}

/// The errors of `doc` that `base` does not have.
fn new_errors(base: &[Issue], doc: &FlowDocument) -> Vec<Issue> {
    compile(doc).issues.into_iter().filter(|i| i.severity == Severity::Error && !base.contains(i)).collect()
}

fn unique_id(doc: &FlowDocument, wanted: Option<&str>, kind: &str, taken: &[String]) -> String {
    let free = |id: &str| !doc.nodes.iter().any(|n| n.id == id) && !taken.iter().any(|t| t == id);
    if let Some(w) = wanted.filter(|w| free(w)) {
        return w.to_owned();
    }
    let stem: String = wanted.unwrap_or(kind).chars().take(56).collect();
    // A flow has at most 500 nodes: one of the first 1000 suffixes is free.
    (2..1002).map(|n| format!("{stem}_{n}")).find(|id| free(id)).unwrap_or_else(|| stem.clone())
}

/// Checks one candidate: a new node after `source`'s `port` that adds no error.
fn check_candidate(
    doc: &FlowDocument,
    base: &[Issue],
    source: &NodeDoc,
    port: &str,
    raw: &Value,
    taken: &[String],
) -> Result<NodeSuggestion, Issue> {
    let reason = raw.get("reason").and_then(Value::as_str).map(str::to_owned);
    let mut value = raw.get("node").cloned().unwrap_or_else(|| raw.clone());
    let Some(object) = value.as_object_mut() else {
        return Err(Issue::error("not_a_node", "a suggestion must be an object with a `node`"));
    };
    let kind = object.get("type").and_then(Value::as_str).unwrap_or("").to_owned();
    if NodeType::parse(&kind).is_none_or(|t| t == NodeType::Start) {
        return Err(Issue::error("unknown_node_type", format!("`{kind}` is not a node type that can follow a node"))
            .field("type"));
    }
    let wanted = object.get("id").and_then(Value::as_str).map(str::to_owned);
    let id = unique_id(doc, wanted.as_deref(), &kind, taken);
    object.insert("id".into(), json!(id));
    object.remove("position");
    let mut node: NodeDoc = serde_json::from_value(value)
        .map_err(|e| Issue::error("not_a_node", format!("not a flow node: {e}")).node(&id))?;
    node.position = prompt::below(source, taken.len());
    let edge = EdgeDoc { id: None, source: source.id.clone(), port: port.to_owned(), target: id.clone() };
    let mut with = doc.clone();
    with.nodes.push(node.clone());
    with.edges.push(edge.clone());
    match new_errors(base, &with).into_iter().next() {
        Some(issue) => Err(issue),
        None => Ok(NodeSuggestion { node, edge, reason }),
    }
}

/// Checks that `port` is a free output port of `source`, with a probe node.
fn check_port(doc: &FlowDocument, base: &[Issue], source: &str, port: &str) -> AppResult<()> {
    let probe = unique_id(doc, Some("studio_probe"), "end", &[]);
    let mut with = doc.clone();
    with.nodes.push(NodeDoc {
        id: probe.clone(),
        kind: "end".into(),
        data: Value::Null,
        position: crate::flows::document::Position::default(),
        label: None,
    });
    with.edges.push(EdgeDoc { id: None, source: source.to_owned(), port: port.to_owned(), target: probe });
    match new_errors(base, &with).into_iter().next() {
        Some(i) if i.code == "duplicate_port_edge" => {
            Err(AppError::validation("port", format!("port `{port}` of node `{source}` is already connected")))
        }
        Some(i) => Err(AppError::validation("port", i.message)),
        None => Ok(()),
    }
}

/// Suggests 1–3 next nodes after a node's port, each checked against the flow.
pub async fn suggest_next(
    state: &AppState,
    tenant: Tenant,
    bot: BotId,
    name: String,
    req: SuggestNextRequest,
) -> AppResult<NodeSuggestions> {
    flows::check_name(&name)?;
    let count = req.count.unwrap_or(3);
    if !(1..=3).contains(&count) {
        return Err(AppError::validation("count", "from 1 to 3"));
    }
    let (doc, _) = current(state, &tenant, bot, &name, req.document).await?;
    let source = doc
        .nodes
        .iter()
        .find(|n| n.id == req.node_id)
        .cloned()
        .ok_or_else(|| AppError::validation("node_id", format!("the flow has no node `{}`", req.node_id)))?;
    let port = req.port.unwrap_or_else(|| "next".to_owned());
    let base = compile(&doc).issues;
    check_port(&doc, &base, &source.id, &port)?;
    let mut talk = Talk::new(state, &tenant, bot, prompt::suggest(&doc, &source.id, &port, count));
    loop {
        let answer = talk.ask().await?;
        let mut rejected = Vec::new();
        let mut suggestions: Vec<NodeSuggestion> = Vec::new();
        match prompt::extract_object(&answer) {
            Err(m) => rejected.push(Issue::error("not_json", m)),
            Ok(v) => match v.get("suggestions").and_then(Value::as_array) {
                None => rejected.push(Issue::error("not_suggestions", "the answer has no `suggestions` list")),
                Some(list) => {
                    for raw in list {
                        if suggestions.len() == count {
                            break;
                        }
                        let taken: Vec<String> = suggestions.iter().map(|s| s.node.id.clone()).collect();
                        match check_candidate(&doc, &base, &source, &port, raw, &taken) {
                            Ok(s) => suggestions.push(s),
                            Err(issue) => rejected.push(issue),
                        }
                    }
                }
            },
        }
        if !suggestions.is_empty() {
            return Ok(NodeSuggestions { suggestions, rejected, usage: talk.usage });
        }
        if rejected.is_empty() {
            rejected.push(Issue::error("no_suggestions", "the answer suggested no node"));
        }
        if !talk.may_repair() {
            return Err(generation_failed("node_id", &rejected, talk.usage.rounds));
        }
        talk.repair(&rejected);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(v: Value) -> FlowDocument {
        serde_json::from_value(v).expect("document")
    }

    fn flow() -> FlowDocument {
        doc(json!({ "nodes": [
            { "id": "start", "type": "start" },
            { "id": "ask", "type": "question", "data": { "prompt": { "text": "Name?" }, "variable": "name" } }
        ], "edges": [{ "source": "start", "target": "ask" }] }))
    }

    #[test]
    fn candidates_are_checked_and_renamed_when_their_id_is_taken() {
        let d = flow();
        let base = compile(&d).issues;
        let source = d.nodes[1].clone();
        let ok =
            json!({ "node": { "id": "ask", "type": "message", "data": { "text": "Hi {{name}}" } }, "reason": "greet" });
        let s = check_candidate(&d, &base, &source, "next", &ok, &[]).expect("valid");
        assert_eq!((s.node.id.as_str(), s.edge.source.as_str(), s.reason.as_deref()), ("ask_2", "ask", Some("greet")));
        assert!(s.node.position.y > source.position.y);
        let bad_template = json!({ "node": { "type": "message", "data": { "text": "Hi {{name" } } });
        assert_eq!(
            check_candidate(&d, &base, &source, "next", &bad_template, &[]).map(|_| ()).unwrap_err().code,
            "invalid_template"
        );
        let start = json!({ "node": { "type": "start" } });
        assert!(check_candidate(&d, &base, &source, "next", &start, &[]).is_err());
    }

    #[test]
    fn ports_must_exist_and_be_free() {
        let d = flow();
        let base = compile(&d).issues;
        assert!(check_port(&d, &base, "ask", "invalid").is_ok());
        assert_eq!(check_port(&d, &base, "ask", "nowhere").unwrap_err().code(), ErrorCode::ValidationFailed);
        assert!(check_port(&d, &base, "start", "next").is_err(), "start → ask already");
    }
}

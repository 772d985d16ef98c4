//! The workflow graph: its JSON form, parsing and validation, and the
//! template/expression scope steps read.
//!
//! ```json
//! { "start": "fetch", "timeout_ms": 60000,
//!   "steps": [
//!     { "id": "fetch", "type": "tool", "tool": "get_weather", "arguments": { "city": "{{ input.city }}" }, "next": "check" },
//!     { "id": "check", "type": "condition", "branches": [ { "when": "steps.fetch.data.temp > 25", "next": "hot" } ], "default": "mild" },
//!     { "id": "hot", "type": "end", "output": { "advice": "stay inside" } },
//!     { "id": "mild", "type": "end" } ] }
//! ```
//!
//! Step types: `agent` (runs an agent on an input template), `tool`
//! (deterministic: runs a tool of the organization with templated
//! arguments), `condition` (the first branch whose expression is true, else
//! `default`), `parallel` (starts every branch at once), `join` (waits for
//! every step that leads to it, then continues with their outputs),
//! `router` (an agent picks one of the named routes), `approval` (waits for
//! a person's decision: `next` when approved, `reject` when refused), `end`.
//! A step without a successor ends its branch. Templates and conditions use
//! the flow expression language over `input` (the run's input) and `steps`
//! (each finished step's output by id).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::{AppError, ErrorCode};
use crate::flows::expr::{self, Expr};
use crate::flows::template::Template;

/// Most steps in one workflow.
pub const MAX_STEPS: usize = 100;
/// Default, least and most overall run time.
pub const DEFAULT_TIMEOUT_MS: i64 = 10 * 60 * 1000;
pub const MIN_TIMEOUT_MS: i64 = 100;
pub const MAX_TIMEOUT_MS: i64 = 7 * 24 * 3600 * 1000;
/// Default, least and most time of one step.
pub const DEFAULT_STEP_TIMEOUT_MS: i64 = 120_000;
pub const MAX_STEP_TIMEOUT_MS: i64 = 3_600_000;

/// The step types, as written in `type`.
pub const STEP_TYPES: [&str; 8] = ["agent", "tool", "condition", "parallel", "join", "router", "approval", "end"];

/// A validated workflow graph.
#[derive(Debug, Clone)]
pub struct Graph {
    pub start: String,
    pub timeout_ms: i64,
    pub steps: Vec<Step>,
    index: HashMap<String, usize>,
}

/// One step of the graph.
#[derive(Debug, Clone)]
pub struct Step {
    pub id: String,
    pub timeout_ms: i64,
    pub kind: Kind,
}

/// What a step does, with its parsed templates and expressions.
#[derive(Debug, Clone)]
pub enum Kind {
    Agent { agent_id: i64, input: Template, next: Option<String> },
    Tool { tool: String, arguments: Value, next: Option<String> },
    Condition { branches: Vec<(Expr, String)>, default: Option<String> },
    Parallel { branches: Vec<String> },
    Join { next: Option<String> },
    Router { agent_id: i64, input: Template, routes: BTreeMap<String, String>, default: Option<String> },
    Approval { message: Template, next: Option<String>, reject: Option<String> },
    End { output: Option<Value> },
}

impl Kind {
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Agent { .. } => "agent",
            Kind::Tool { .. } => "tool",
            Kind::Condition { .. } => "condition",
            Kind::Parallel { .. } => "parallel",
            Kind::Join { .. } => "join",
            Kind::Router { .. } => "router",
            Kind::Approval { .. } => "approval",
            Kind::End { .. } => "end",
        }
    }
}

impl Step {
    /// Every outgoing edge: the field it is written in and its target.
    #[must_use]
    pub fn edges(&self) -> Vec<(String, &str)> {
        let mut out: Vec<(String, &str)> = Vec::new();
        match &self.kind {
            Kind::Agent { next, .. } | Kind::Tool { next, .. } | Kind::Join { next } => {
                out.extend(next.as_deref().map(|t| ("next".to_owned(), t)));
            }
            Kind::Approval { next, reject, .. } => {
                out.extend(next.as_deref().map(|t| ("next".to_owned(), t)));
                out.extend(reject.as_deref().map(|t| ("reject".to_owned(), t)));
            }
            Kind::Condition { branches, default } => {
                for (i, (_, t)) in branches.iter().enumerate() {
                    out.push((format!("branches[{i}].next"), t.as_str()));
                }
                if let Some(d) = default {
                    out.push(("default".to_owned(), d.as_str()));
                }
            }
            Kind::Parallel { branches } => {
                for (i, t) in branches.iter().enumerate() {
                    out.push((format!("branches[{i}]"), t.as_str()));
                }
            }
            Kind::Router { routes, default, .. } => {
                for (name, t) in routes {
                    out.push((format!("routes.{name}"), t.as_str()));
                }
                if let Some(d) = default {
                    out.push(("default".to_owned(), d.as_str()));
                }
            }
            Kind::End { .. } => {}
        }
        out
    }
}

/// What validation found that needs the database: agents and tools named.
#[derive(Debug, Default, Clone)]
pub struct References {
    /// Agent id and the field naming it.
    pub agents: Vec<(i64, String)>,
    /// Tool name and the field naming it.
    pub tools: Vec<(String, String)>,
}

impl Graph {
    /// The step with this id.
    #[must_use]
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.index.get(id).map(|&i| &self.steps[i])
    }

    /// The ids of the steps with an edge to `id`.
    #[must_use]
    pub fn predecessors(&self, id: &str) -> Vec<&str> {
        self.steps.iter().filter(|s| s.edges().iter().any(|(_, t)| *t == id)).map(|s| s.id.as_str()).collect()
    }

    /// Parses and checks a definition; every fault is a 422 naming its field.
    pub fn parse(def: &Value) -> Result<(Graph, References), AppError> {
        let obj = def.as_object().ok_or_else(|| AppError::validation("definition", "must be an object"))?;
        for key in obj.keys() {
            if !["start", "timeout_ms", "steps", "layout"].contains(&key.as_str()) {
                return Err(AppError::validation(format!("definition.{key}"), "unknown field"));
            }
        }
        let raw_steps = obj
            .get("steps")
            .and_then(Value::as_array)
            .ok_or_else(|| AppError::validation("definition.steps", "must be an array of steps"))?;
        if raw_steps.is_empty() || raw_steps.len() > MAX_STEPS {
            return Err(AppError::validation("definition.steps", format!("must have 1 to {MAX_STEPS} steps")));
        }
        let timeout_ms = match obj.get("timeout_ms") {
            None | Some(Value::Null) => DEFAULT_TIMEOUT_MS,
            Some(v) => v.as_i64().filter(|t| (MIN_TIMEOUT_MS..=MAX_TIMEOUT_MS).contains(t)).ok_or_else(|| {
                AppError::validation(
                    "definition.timeout_ms",
                    format!("must be an integer from {MIN_TIMEOUT_MS} to {MAX_TIMEOUT_MS}"),
                )
            })?,
        };
        let mut refs = References::default();
        let mut steps = Vec::with_capacity(raw_steps.len());
        let mut index = HashMap::new();
        for (i, raw) in raw_steps.iter().enumerate() {
            let field = format!("definition.steps[{i}]");
            let step = parse_step(raw, &field, &mut refs)?;
            if index.insert(step.id.clone(), i).is_some() {
                return Err(AppError::validation(format!("{field}.id"), format!("`{}` is used twice", step.id)));
            }
            steps.push(step);
        }
        let start = match obj.get("start") {
            None | Some(Value::Null) => steps[0].id.clone(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(AppError::validation("definition.start", "must be a step id")),
        };
        let graph = Graph { start, timeout_ms, steps, index };
        graph.check_edges()?;
        graph.check_exits()?;
        Ok((graph, refs))
    }

    fn check_edges(&self) -> Result<(), AppError> {
        if self.step(&self.start).is_none() {
            return Err(dangling("definition.start", &self.start));
        }
        for (i, s) in self.steps.iter().enumerate() {
            for (field, target) in s.edges() {
                if self.step(target).is_none() {
                    return Err(dangling(&format!("definition.steps[{i}].{field}"), target));
                }
                if target == self.start && matches!(s.kind, Kind::Parallel { .. }) {
                    return Err(AppError::validation(
                        format!("definition.steps[{i}].{field}"),
                        "a parallel branch cannot go back to the start",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Every step reachable from the start must be able to reach a step
    /// without successors: a loop needs a way out (a condition, router or
    /// approval branch leaving it).
    fn check_exits(&self) -> Result<(), AppError> {
        let n = self.steps.len();
        let mut reverse: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, s) in self.steps.iter().enumerate() {
            for (_, t) in s.edges() {
                reverse[self.index[t]].push(i);
            }
        }
        let mut can_finish = vec![false; n];
        let mut queue: VecDeque<usize> =
            (0..n).filter(|&i| self.steps[i].edges().is_empty()).inspect(|&i| can_finish[i] = true).collect();
        while let Some(i) = queue.pop_front() {
            for &p in &reverse[i] {
                if !can_finish[p] {
                    can_finish[p] = true;
                    queue.push_back(p);
                }
            }
        }
        // A parallel step finishes only when all its branches can; a join only when its next can.
        let reachable = self.reachable();
        let trapped: Vec<usize> = (0..n).filter(|&i| reachable.contains(&i) && !can_finish[i]).collect();
        if let Some(&first) = trapped.first() {
            let s = &self.steps[first];
            let field = s.edges().first().map_or_else(|| "id".to_owned(), |(f, _)| f.clone());
            let cycle: Vec<&str> = trapped.iter().map(|&i| self.steps[i].id.as_str()).collect();
            return Err(AppError::new(
                ErrorCode::WorkflowCycleWithoutExit,
                format!("the steps {} loop with no way out to an end", cycle.join(", ")),
            )
            .with_details(json!({ "field": format!("definition.steps[{first}].{field}"), "cycle": cycle })));
        }
        Ok(())
    }

    fn reachable(&self) -> HashSet<usize> {
        let mut seen = HashSet::new();
        let mut queue = VecDeque::from([self.index[&self.start]]);
        while let Some(i) = queue.pop_front() {
            if seen.insert(i) {
                for (_, t) in self.steps[i].edges() {
                    queue.push_back(self.index[t]);
                }
            }
        }
        seen
    }
}

fn dangling(field: &str, target: &str) -> AppError {
    AppError::new(ErrorCode::WorkflowEdgeDangling, format!("`{field}` leads to `{target}`, which is not a step"))
        .with_details(json!({ "field": field, "target": target }))
}

/// The fields each type accepts, besides `id`, `type`, `name`, `timeout_ms`, `position`.
fn allowed_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "agent" => &["agent_id", "input", "next"],
        "tool" => &["tool", "arguments", "next"],
        "condition" => &["branches", "default"],
        "parallel" => &["branches"],
        "join" => &["next"],
        "router" => &["agent_id", "input", "routes", "default"],
        "approval" => &["message", "next", "reject"],
        _ => &["output"],
    }
}

/// A branch of a condition step.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Branch {
    when: String,
    next: String,
}

#[allow(clippy::too_many_lines, reason = "one match over the step types, each a few lines")]
fn parse_step(raw: &Value, field: &str, refs: &mut References) -> Result<Step, AppError> {
    let obj = raw.as_object().ok_or_else(|| AppError::validation(field, "a step must be an object"))?;
    let id = obj.get("id").and_then(Value::as_str).unwrap_or_default();
    if id.is_empty()
        || id.len() > 64
        || !id.starts_with(|c: char| c.is_ascii_lowercase())
        || !id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(AppError::validation(
            format!("{field}.id"),
            "1–64 characters: lower-case letters, digits and `_`, starting with a letter",
        ));
    }
    let kind_name = obj.get("type").and_then(Value::as_str).unwrap_or_default();
    if !STEP_TYPES.contains(&kind_name) {
        return Err(AppError::new(ErrorCode::WorkflowStepTypeUnknown, format!("`{kind_name}` is not a step type"))
            .with_details(json!({ "field": format!("{field}.type"), "known": STEP_TYPES })));
    }
    for key in obj.keys() {
        if !["id", "type", "name", "timeout_ms", "position"].contains(&key.as_str())
            && !allowed_fields(kind_name).contains(&key.as_str())
        {
            return Err(AppError::validation(format!("{field}.{key}"), format!("not a field of a `{kind_name}` step")));
        }
    }
    let timeout_ms = match obj.get("timeout_ms") {
        None | Some(Value::Null) => DEFAULT_STEP_TIMEOUT_MS,
        Some(v) => v.as_i64().filter(|t| (MIN_TIMEOUT_MS..=MAX_STEP_TIMEOUT_MS).contains(t)).ok_or_else(|| {
            AppError::validation(
                format!("{field}.timeout_ms"),
                format!("must be an integer from {MIN_TIMEOUT_MS} to {MAX_STEP_TIMEOUT_MS}"),
            )
        })?,
    };
    let next = |key: &str| -> Result<Option<String>, AppError> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(AppError::validation(format!("{field}.{key}"), "must be a step id")),
        }
    };
    let template = |key: &str, required: bool| -> Result<Template, AppError> {
        let src = match obj.get(key) {
            Some(Value::String(s)) => s.as_str(),
            None | Some(Value::Null) if !required => "",
            _ => return Err(AppError::validation(format!("{field}.{key}"), "must be a text template")),
        };
        Template::parse(src).map_err(|e| AppError::validation(format!("{field}.{key}"), e.message))
    };
    let agent = |refs: &mut References| -> Result<i64, AppError> {
        let id = obj
            .get("agent_id")
            .and_then(Value::as_i64)
            .filter(|&a| a > 0)
            .ok_or_else(|| AppError::validation(format!("{field}.agent_id"), "must be an agent id"))?;
        refs.agents.push((id, format!("{field}.agent_id")));
        Ok(id)
    };
    let kind = match kind_name {
        "agent" => Kind::Agent { agent_id: agent(refs)?, input: template("input", false)?, next: next("next")? },
        "tool" => {
            let tool = obj
                .get("tool")
                .and_then(Value::as_str)
                .filter(|t| !t.trim().is_empty())
                .ok_or_else(|| AppError::validation(format!("{field}.tool"), "must name a tool of the organization"))?
                .trim()
                .to_owned();
            refs.tools.push((tool.clone(), format!("{field}.tool")));
            let arguments = obj.get("arguments").cloned().unwrap_or_else(|| json!({}));
            if !arguments.is_object() {
                return Err(AppError::validation(format!("{field}.arguments"), "must be an object"));
            }
            check_templates(&arguments, &format!("{field}.arguments"))?;
            Kind::Tool { tool, arguments, next: next("next")? }
        }
        "condition" => {
            let list =
                obj.get("branches").and_then(Value::as_array).filter(|b| !b.is_empty()).ok_or_else(|| {
                    AppError::validation(format!("{field}.branches"), "must list at least one branch")
                })?;
            let mut branches = Vec::with_capacity(list.len());
            for (j, b) in list.iter().enumerate() {
                let b: Branch = serde_json::from_value(b.clone()).map_err(|e| {
                    AppError::validation(format!("{field}.branches[{j}]"), format!("`when` and `next`: {e}"))
                })?;
                let e = expr::parse(&b.when)
                    .map_err(|e| AppError::validation(format!("{field}.branches[{j}].when"), e.message))?;
                branches.push((e, b.next));
            }
            Kind::Condition { branches, default: next("default")? }
        }
        "parallel" => {
            let list =
                obj.get("branches").and_then(Value::as_array).filter(|b| b.len() >= 2).ok_or_else(|| {
                    AppError::validation(format!("{field}.branches"), "must list at least two step ids")
                })?;
            let mut branches = Vec::new();
            for (j, b) in list.iter().enumerate() {
                let b = b
                    .as_str()
                    .ok_or_else(|| AppError::validation(format!("{field}.branches[{j}]"), "must be a step id"))?;
                if branches.iter().any(|x: &String| x == b) {
                    return Err(AppError::validation(format!("{field}.branches[{j}]"), "listed twice"));
                }
                branches.push(b.to_owned());
            }
            Kind::Parallel { branches }
        }
        "join" => Kind::Join { next: next("next")? },
        "router" => {
            let agent_id = agent(refs)?;
            let map = obj
                .get("routes")
                .and_then(Value::as_object)
                .filter(|m| !m.is_empty())
                .ok_or_else(|| AppError::validation(format!("{field}.routes"), "must name at least one route"))?;
            let mut routes = BTreeMap::new();
            for (name, target) in map {
                if name.trim().is_empty() || name.len() > 64 {
                    return Err(AppError::validation(format!("{field}.routes"), "route names are 1–64 characters"));
                }
                let t = target
                    .as_str()
                    .ok_or_else(|| AppError::validation(format!("{field}.routes.{name}"), "must be a step id"))?;
                routes.insert(name.clone(), t.to_owned());
            }
            Kind::Router { agent_id, input: template("input", false)?, routes, default: next("default")? }
        }
        "approval" => {
            Kind::Approval { message: template("message", false)?, next: next("next")?, reject: next("reject")? }
        }
        _ => {
            let output = obj.get("output").cloned().filter(|o| !o.is_null());
            if let Some(o) = &output {
                check_templates(o, &format!("{field}.output"))?;
            }
            Kind::End { output }
        }
    };
    Ok(Step { id: id.to_owned(), timeout_ms, kind })
}

fn check_templates(value: &Value, field: &str) -> Result<(), AppError> {
    match value {
        Value::String(s) => Template::parse(s).map(|_| ()).map_err(|e| AppError::validation(field, e.message)),
        Value::Array(items) => {
            items.iter().enumerate().try_for_each(|(i, v)| check_templates(v, &format!("{field}[{i}]")))
        }
        Value::Object(map) => map.iter().try_for_each(|(k, v)| check_templates(v, &format!("{field}.{k}"))),
        _ => Ok(()),
    }
}

/// The scope templates and conditions read: `input` and `steps`.
#[must_use]
pub fn scope(input: &Value, outputs: &Map<String, Value>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("input".into(), input.clone());
    m.insert("steps".into(), Value::Object(outputs.clone()));
    m
}

/// Renders every template of a JSON document (a string that is one
/// placeholder keeps the value's type).
pub fn render_json(value: &Value, scope: &Map<String, Value>) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) => Template::parse(s).map_err(|e| e.message)?.render_value(scope).map_err(|e| e.0)?,
        Value::Array(items) => Value::Array(items.iter().map(|v| render_json(v, scope)).collect::<Result<_, _>>()?),
        Value::Object(map) => Value::Object(
            map.iter().map(|(k, v)| Ok((k.clone(), render_json(v, scope)?))).collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(def: &Value) -> (String, String) {
        let e = Graph::parse(def).expect_err("refused");
        (e.code().as_str().to_owned(), e.details().and_then(|d| d["field"].as_str()).unwrap_or_default().to_owned())
    }

    #[test]
    fn a_loop_with_a_way_out_is_accepted_and_one_without_is_refused_naming_the_step() {
        let ok = json!({ "steps": [
            { "id": "work", "type": "tool", "tool": "t", "next": "check" },
            { "id": "check", "type": "condition", "branches": [ { "when": "steps.work.n < 3", "next": "work" } ], "default": "done" },
            { "id": "done", "type": "end" } ] });
        assert!(Graph::parse(&ok).is_ok());
        let closed = json!({ "steps": [
            { "id": "a", "type": "tool", "tool": "t", "next": "b" },
            { "id": "b", "type": "condition", "branches": [ { "when": "true", "next": "a" } ], "default": "a" } ] });
        assert_eq!(code(&closed), ("workflow_cycle_without_exit".into(), "definition.steps[0].next".into()));
    }

    #[test]
    fn unknown_types_and_dangling_edges_name_their_field() {
        let t = json!({ "steps": [ { "id": "a", "type": "teleport" } ] });
        assert_eq!(code(&t), ("workflow_step_type_unknown".into(), "definition.steps[0].type".into()));
        let d = json!({ "steps": [ { "id": "a", "type": "parallel", "branches": ["b", "nowhere"] }, { "id": "b", "type": "end" } ] });
        assert_eq!(code(&d), ("workflow_edge_dangling".into(), "definition.steps[0].branches[1]".into()));
        let w =
            json!({ "steps": [ { "id": "a", "type": "condition", "branches": [ { "when": "1 +", "next": "a" } ] } ] });
        assert_eq!(code(&w), ("validation_failed".into(), "definition.steps[0].branches[0].when".into()));
    }

    #[test]
    fn templates_read_input_and_step_outputs_with_their_types() {
        let mut outputs = Map::new();
        outputs.insert("fetch".into(), json!({ "temp": 31, "city": "Oslo" }));
        let s = scope(&json!({ "user": "ann" }), &outputs);
        let v = render_json(
            &json!({ "t": "{{ steps.fetch.temp }}", "m": "hi {{ input.user }} in {{ steps.fetch.city }}" }),
            &s,
        )
        .expect("renders");
        assert_eq!(v, json!({ "t": 31, "m": "hi ann in Oslo" }));
    }
}

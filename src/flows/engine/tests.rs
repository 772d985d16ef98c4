//! The engine, one behaviour per test, with a scripted I/O.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::json;

use super::*;
use crate::flows::compile::compile;
use crate::flows::document::FlowDocument;

/// I/O answering from scripts and recording the calls.
#[derive(Default)]
struct FakeIo {
    http: Mutex<Vec<HttpCall>>,
    http_answer: Option<(u16, Value)>,
    knowledge: Option<String>,
}

impl EngineIo for FakeIo {
    fn http(&self, call: HttpCall) -> BoxFuture<'_, Result<HttpAnswer, String>> {
        self.http.lock().expect("lock").push(call);
        let answer = self.http_answer.clone();
        Box::pin(async move {
            answer.map(|(status, body)| HttpAnswer { status, body }).ok_or_else(|| "connection refused".to_owned())
        })
    }

    fn knowledge(&self, _query: KnowledgeQuery) -> BoxFuture<'_, Result<Option<KnowledgeAnswer>, String>> {
        let k = self.knowledge.clone();
        Box::pin(
            async move { Ok(k.map(|text| KnowledgeAnswer { text, citations: vec![json!({ "document": "faq" })] })) },
        )
    }

    fn entity<'a>(&'a self, entity: &'a str, text: &'a str) -> BoxFuture<'a, Result<Option<Value>, String>> {
        Box::pin(async move {
            Ok(match entity {
                "number" => text.split_whitespace().find_map(|w| w.parse::<f64>().ok()).map(|n| json!(n)),
                _ => None,
            })
        })
    }
}

fn flow(name: &str, v: Value) -> (String, Arc<FlowVersion>) {
    let doc: FlowDocument = serde_json::from_value(v).expect("shape");
    let c = compile(&doc);
    let graph = c.graph.unwrap_or_else(|| panic!("{name}: {:?}", c.issues));
    (name.to_owned(), Arc::new(FlowVersion { name: name.to_owned(), version_id: 1, version: 1, graph }))
}

fn program(flows: Vec<(String, Arc<FlowVersion>)>) -> Program {
    Program {
        flows: flows.into_iter().collect(),
        entry_flow: "main".into(),
        transitions: Vec::new(),
        variables: HashMap::new(),
        canned: Vec::new(),
        settings: EngineSettings {
            handoff_keywords: vec!["talk to a human".into()],
            handoff_intent: None,
            handoff_message: "Connecting you to a person.".into(),
            fallback_message: "Sorry?".into(),
        },
        known_intents: None,
        needs_entities: false,
    }
}

async fn say(p: &Program, state: &mut ConvState, io: &FakeIo, text: &str, nlu: Option<Nlu>) -> Outcome {
    run_turn(
        TurnRequest {
            program: p,
            input: Input::Message(text.into()),
            nlu,
            channel: "api",
            conversation_id: 7,
            is_new: false,
            debug: true,
        },
        state,
        io,
    )
    .await
}

fn texts(o: &Outcome) -> Vec<&str> {
    o.replies.iter().map(|r| r.text.as_str()).collect()
}

#[allow(clippy::unnecessary_wraps, reason = "passed where an Option<Nlu> is expected")]
fn intent(name: &str, confidence: f64) -> Option<Nlu> {
    Some(Nlu { intent: Some(name.into()), confidence, ..Nlu::default() })
}

fn order_flow() -> (String, Arc<FlowVersion>) {
    flow(
        "main",
        json!({
            "nodes": [
                { "id": "start", "type": "start" },
                { "id": "hello", "type": "message", "data": { "text": "Hi! What is your order number?" } },
                { "id": "ask", "type": "question", "data": {
                    "prompt": { "text": "Order number (5 digits)?" }, "variable": "order",
                    "validation": { "kind": "regex", "pattern": "[0-9]{5}" }, "retries": 1,
                    "reprompt": "That is not 5 digits." } },
                { "id": "thanks", "type": "message", "data": { "text": "Looking up {{order}}." } },
                { "id": "route", "type": "intent_router", "data": { "routes": [ { "id": "track", "intent": "track_order" } ] } },
                { "id": "tracked", "type": "message", "data": { "text": "It ships tomorrow." } },
                { "id": "lost", "type": "message", "data": { "text": "Let me get a person." } },
                { "id": "give_up", "type": "message", "data": { "text": "Never mind." } }
            ],
            "edges": [
                { "source": "start", "target": "hello" },
                { "source": "hello", "target": "ask" },
                { "source": "ask", "target": "thanks" },
                { "source": "ask", "port": "invalid", "target": "give_up" },
                { "source": "thanks", "target": "route" },
                { "source": "route", "port": "track", "target": "tracked" },
                { "source": "route", "port": "out_of_scope", "target": "lost" }
            ]
        }),
    )
}

#[tokio::test]
async fn question_reprompts_then_takes_the_invalid_port() {
    let p = program(vec![order_flow()]);
    let (io, mut s) = (FakeIo::default(), ConvState::default());
    let o = say(&p, &mut s, &io, "hello", None).await;
    assert_eq!(texts(&o), ["Hi! What is your order number?", "Order number (5 digits)?"]);
    assert_eq!(s.wait, Some(Wait::Question { retries: 0 }));
    let o = say(&p, &mut s, &io, "12", None).await;
    assert_eq!(texts(&o), ["That is not 5 digits.", "Order number (5 digits)?"]);
    let o = say(&p, &mut s, &io, "abc", None).await;
    assert_eq!(texts(&o), ["Never mind."]);
    assert_eq!(s.flow, None);
    assert!(!s.vars.contains_key("order"));
}

#[tokio::test]
async fn answer_then_intent_branch() {
    let p = program(vec![order_flow()]);
    let (io, mut s) = (FakeIo::default(), ConvState::default());
    say(&p, &mut s, &io, "hi", None).await;
    let o = say(&p, &mut s, &io, "12345", None).await;
    assert_eq!(texts(&o), ["Looking up 12345."]);
    assert_eq!(s.wait, Some(Wait::Router));
    assert_eq!(s.vars["order"], json!("12345"));
    let o = say(&p, &mut s, &io, "where is it", intent("track_order", 0.9)).await;
    assert_eq!(texts(&o), ["It ships tomorrow."]);
    let path: Vec<&str> = o.trace.path.iter().map(|st| st.node.as_str()).collect();
    assert_eq!(path, ["route", "tracked"]);
    assert_eq!(s.flow, None, "the flow ended");
}

#[tokio::test]
async fn unknown_intent_goes_out_of_scope_and_deleted_intents_are_reported() {
    let mut p = program(vec![order_flow()]);
    p.known_intents = Some(["greet".to_owned()].into_iter().collect());
    let (io, mut s) = (FakeIo::default(), ConvState::default());
    say(&p, &mut s, &io, "hi", None).await;
    say(&p, &mut s, &io, "12345", None).await;
    let o = say(&p, &mut s, &io, "blah", None).await;
    assert_eq!(texts(&o), ["Let me get a person."]);
    assert!(
        o.trace.problems.iter().any(|pr| pr.message.contains("`track_order`") && pr.node.as_deref() == Some("route")),
        "{:?}",
        o.trace.problems
    );
}

#[tokio::test]
async fn the_same_inputs_give_the_same_outputs() {
    let p = program(vec![order_flow()]);
    let io = FakeIo::default();
    let mut runs = Vec::new();
    for _ in 0..3 {
        let mut s = ConvState::default();
        let mut all = Vec::new();
        for m in ["hi", "1", "54321", "track"] {
            let o = say(&p, &mut s, &io, m, intent("track_order", 0.8)).await;
            all.extend(o.replies.into_iter().map(|r| r.text));
        }
        runs.push((all, serde_json::to_string(&s).expect("state")));
    }
    assert!(runs.windows(2).all(|w| w[0] == w[1]));
}

#[tokio::test]
async fn http_node_maps_the_response_and_branches() {
    let f = flow(
        "main",
        json!({
            "nodes": [
                { "id": "start", "type": "start" },
                { "id": "set", "type": "set_variable", "data": { "assignments": [ { "variable": "q", "expression": "'a b'" } ] } },
                { "id": "call", "type": "http", "data": {
                    "method": "POST", "url": "https://api.example.com/search?q={{q}}",
                    "headers": { "X-Q": "{{q}}" }, "body": { "query": "{{q}}", "n": 2 },
                    "mappings": [ { "variable": "first", "path": "$.items[0].name" } ], "status_variable": "status" } },
                { "id": "ok", "type": "message", "data": { "text": "Found {{first}} ({{status}})" } },
                { "id": "ko", "type": "message", "data": { "text": "Failed" } }
            ],
            "edges": [
                { "source": "start", "target": "set" }, { "source": "set", "target": "call" },
                { "source": "call", "port": "success", "target": "ok" }, { "source": "call", "port": "error", "target": "ko" }
            ]
        }),
    );
    let p = program(vec![f]);
    let io = FakeIo { http_answer: Some((200, json!({ "items": [ { "name": "Widget" } ] }))), ..FakeIo::default() };
    let mut s = ConvState::default();
    let o = say(&p, &mut s, &io, "go", None).await;
    assert_eq!(texts(&o), ["Found Widget (200)"]);
    let first = io.http.lock().expect("lock")[0].clone();
    assert_eq!(first.url, "https://api.example.com/search?q=a%20b");
    assert_eq!(first.body, Some(json!({ "query": "a b", "n": 2 })));
    assert_eq!(o.trace.http_calls[0].status, Some(200));

    let failing = FakeIo::default();
    let mut s = ConvState::default();
    let o = say(&p, &mut s, &failing, "go", None).await;
    assert_eq!(texts(&o), ["Failed"]);
    assert!(o.trace.problems.iter().any(|pr| pr.message.contains("connection refused")));
}

#[tokio::test]
async fn jump_call_returns_and_goto_does_not() {
    let main = flow(
        "main",
        json!({
            "nodes": [
                { "id": "start", "type": "start" },
                { "id": "j", "type": "jump", "data": { "flow": "sub", "mode": "call" } },
                { "id": "back", "type": "message", "data": { "text": "back in main, x={{x}}" } }
            ],
            "edges": [ { "source": "start", "target": "j" }, { "source": "j", "target": "back" } ]
        }),
    );
    let sub = flow(
        "sub",
        json!({
            "nodes": [
                { "id": "start", "type": "start" },
                { "id": "s", "type": "set_variable", "data": { "assignments": [ { "variable": "x", "expression": "41 + 1" } ] } },
                { "id": "m", "type": "message", "data": { "text": "in sub" } }
            ],
            "edges": [ { "source": "start", "target": "s" }, { "source": "s", "target": "m" } ]
        }),
    );
    let p = program(vec![main, sub]);
    let (io, mut s) = (FakeIo::default(), ConvState::default());
    let o = say(&p, &mut s, &io, "go", None).await;
    assert_eq!(texts(&o), ["in sub", "back in main, x=42"]);
    assert!(s.stack.is_empty() && s.flow.is_none());
}

#[tokio::test]
async fn canned_messages_commands_and_fallback() {
    let mut p = program(vec![]);
    p.canned = vec![
        Canned {
            id: 1,
            kind: CannedKind::Command,
            content: Template::literal("Restarted."),
            keywords: vec!["/restart".into()],
            priority: 9,
        },
        Canned {
            id: 2,
            kind: CannedKind::Help,
            content: Template::literal("I can help with orders."),
            keywords: vec!["help".into()],
            priority: 5,
        },
        Canned {
            id: 3,
            kind: CannedKind::Fallback,
            content: Template::literal("I did not get that."),
            keywords: vec![],
            priority: 0,
        },
        Canned {
            id: 4,
            kind: CannedKind::Greeting,
            content: Template::literal("Welcome!"),
            keywords: vec![],
            priority: 0,
        },
    ];
    let (io, mut s) = (FakeIo::default(), ConvState::default());
    assert_eq!(texts(&say(&p, &mut s, &io, "/restart", None).await), ["Restarted."]);
    assert_eq!(texts(&say(&p, &mut s, &io, "I need HELP please", None).await), ["I can help with orders."]);
    assert_eq!(texts(&say(&p, &mut s, &io, "helpful", None).await), ["I did not get that."]);
    let o = run_turn(
        TurnRequest {
            program: &p,
            input: Input::Start,
            nlu: None,
            channel: "widget",
            conversation_id: 1,
            is_new: true,
            debug: false,
        },
        &mut ConvState::default(),
        &io,
    )
    .await;
    assert_eq!(texts(&o), ["Welcome!"]);
}

#[tokio::test]
async fn asking_for_a_human_hands_off_and_resume_continues() {
    let f = flow(
        "main",
        json!({
            "nodes": [
                { "id": "start", "type": "start" },
                { "id": "h", "type": "handoff", "data": { "note": "wants {{topic}}" } },
                { "id": "after", "type": "message", "data": { "text": "The bot is back." } }
            ],
            "edges": [ { "source": "start", "target": "h" }, { "source": "h", "target": "after" } ]
        }),
    );
    let mut p = program(vec![f]);
    p.variables.insert(
        "topic".into(),
        VarDecl { var_type: VarType::String, default: Some(json!("billing")), scope: VarScope::Global },
    );
    let (io, mut s) = (FakeIo::default(), ConvState::default());
    let o = say(&p, &mut s, &io, "hey", None).await;
    assert_eq!(texts(&o), ["Connecting you to a person."]);
    assert_eq!(o.effects, [Effect::Handoff { team_id: None, note: Some("wants billing".into()) }]);
    assert_eq!(s.wait, Some(Wait::Handoff));
    let o = run_turn(
        TurnRequest {
            program: &p,
            input: Input::Resume,
            nlu: None,
            channel: "api",
            conversation_id: 7,
            is_new: false,
            debug: true,
        },
        &mut s,
        &io,
    )
    .await;
    assert_eq!(texts(&o), ["The bot is back."]);

    let mut s = ConvState::default();
    let o = say(&p, &mut s, &io, "can I talk to a human?", None).await;
    assert_eq!(o.effects, [Effect::Handoff { team_id: None, note: None }]);
}

#[tokio::test]
async fn transitions_switch_flows() {
    let main = flow(
        "main",
        json!({
            "nodes": [ { "id": "start", "type": "start" }, { "id": "m", "type": "message", "data": { "text": "main done" } } ],
            "edges": [ { "source": "start", "target": "m" } ]
        }),
    );
    let billing = flow(
        "billing",
        json!({
            "nodes": [ { "id": "start", "type": "start" }, { "id": "m", "type": "message", "data": { "text": "billing here" } } ],
            "edges": [ { "source": "start", "target": "m" } ]
        }),
    );
    let mut p = program(vec![main, billing]);
    p.transitions = vec![
        Transition {
            id: 1,
            from: "*".into(),
            to: "billing".into(),
            trigger: Trigger::OnKeyword(vec!["invoice".into()]),
        },
        Transition { id: 2, from: "main".into(), to: "billing".into(), trigger: Trigger::OnComplete },
    ];
    let (io, mut s) = (FakeIo::default(), ConvState::default());
    assert_eq!(texts(&say(&p, &mut s, &io, "my invoice", None).await), ["billing here"]);
    assert_eq!(texts(&say(&p, &mut s, &io, "hello", None).await), ["main done", "billing here"]);
}

#[tokio::test]
async fn variables_are_typed_scoped_and_reported() {
    let f = flow(
        "main",
        json!({
            "nodes": [
                { "id": "start", "type": "start" },
                { "id": "s", "type": "set_variable", "data": { "assignments": [
                    { "variable": "age", "expression": "'42'" },
                    { "variable": "plan", "expression": "'gold'" },
                    { "variable": "step", "expression": "step + 1" } ] } },
                { "id": "m", "type": "message", "data": { "text": "{{age + 1}} {{plan}} {{step}} {{ghost}}" } }
            ],
            "edges": [ { "source": "start", "target": "s" }, { "source": "s", "target": "m" } ]
        }),
    );
    let mut p = program(vec![f]);
    p.variables.insert("age".into(), VarDecl { var_type: VarType::Number, default: None, scope: VarScope::Session });
    p.variables.insert(
        "plan".into(),
        VarDecl { var_type: VarType::String, default: Some(json!("free")), scope: VarScope::Global },
    );
    p.variables
        .insert("step".into(), VarDecl { var_type: VarType::Number, default: Some(json!(10)), scope: VarScope::Flow });
    let (io, mut s) = (FakeIo::default(), ConvState::default());
    let o = say(&p, &mut s, &io, "go", None).await;
    assert_eq!(texts(&o), ["43 free 11 "]);
    assert_eq!(s.vars["age"], json!(42));
    let problems: Vec<&str> = o.trace.problems.iter().map(|pr| pr.message.as_str()).collect();
    assert!(problems.iter().any(|m| m.contains("`plan` is global")), "{problems:?}");
    assert!(problems.iter().any(|m| m.contains("unset variable: ghost")), "{problems:?}");
}

#[tokio::test]
async fn choices_and_entities_validate_answers() {
    let f = flow(
        "main",
        json!({
            "nodes": [
                { "id": "start", "type": "start" },
                { "id": "size", "type": "question", "data": { "prompt": { "text": "Size?" }, "variable": "size",
                    "validation": { "kind": "choices", "choices": [ { "label": "Small", "value": "s" }, { "label": "Large", "value": "l" } ] } } },
                { "id": "qty", "type": "question", "data": { "prompt": { "text": "How many?" }, "variable": "qty",
                    "validation": { "kind": "entity", "entity": "number" } } },
                { "id": "done", "type": "message", "data": { "text": "{{qty}} x {{size}}" } }
            ],
            "edges": [ { "source": "start", "target": "size" }, { "source": "size", "target": "qty" }, { "source": "qty", "target": "done" } ]
        }),
    );
    let p = program(vec![f]);
    let (io, mut s) = (FakeIo::default(), ConvState::default());
    let o = say(&p, &mut s, &io, "hi", None).await;
    assert_eq!(o.replies[0].parts.quick_replies.len(), 2, "choices are offered as quick replies");
    say(&p, &mut s, &io, "large", None).await;
    let o = say(&p, &mut s, &io, "a few", None).await;
    assert_eq!(texts(&o)[1], "How many?");
    let o = say(&p, &mut s, &io, "3 please", None).await;
    assert_eq!(texts(&o), ["3 x l"]);
}

#[tokio::test]
async fn a_removed_waiting_node_restarts_the_flow() {
    let p = program(vec![order_flow()]);
    let (io, mut s) = (FakeIo::default(), ConvState::default());
    s.flow = Some("main".into());
    s.node = Some("deleted-node".into());
    s.wait = Some(Wait::Question { retries: 0 });
    let o = say(&p, &mut s, &io, "12345", None).await;
    assert!(o.trace.problems.iter().any(|pr| pr.message.contains("no longer exists")));
    assert_eq!(texts(&o)[0], "Hi! What is your order number?");
}

#[test]
fn phrases_match_whole_words() {
    assert!(contains_phrase("i want to talk to a human now", "talk to a human"));
    assert!(contains_phrase("help", "help"));
    assert!(!contains_phrase("helpful", "help"));
    assert!(contains_phrase("über hilfe!", "hilfe"));
    assert!(!contains_phrase("", "x"));
}

#[test]
fn coercion_follows_declared_types() {
    assert_eq!(coerce(VarType::Number, json!("3.5")), Ok(json!(3.5)));
    assert!(coerce(VarType::Number, json!("abc")).is_err());
    assert_eq!(coerce(VarType::Boolean, json!("yes")), Ok(json!(true)));
    assert_eq!(coerce(VarType::List, json!("a")), Ok(json!(["a"])));
    assert!(coerce(VarType::Date, json!("tomorrow")).is_err());
    assert_eq!(coerce(VarType::Date, json!("2026-05-01")), Ok(json!("2026-05-01")));
}

fn hit(entity: &str, value: Value, role: Option<&str>) -> EntityHit {
    EntityHit { entity: entity.into(), text: to_text(&value), value, role: role.map(str::to_owned) }
}

fn with_entities(intent_name: Option<&str>, hits: Vec<EntityHit>) -> Option<Nlu> {
    #![allow(clippy::unnecessary_wraps, reason = "fed where the engine takes an optional NLU result")]
    Some(Nlu { intent: intent_name.map(str::to_owned), confidence: 0.9, entities: hits, ..Nlu::default() })
}

fn trip_flow() -> (String, Arc<FlowVersion>) {
    flow(
        "main",
        json!({
            "nodes": [
                { "id": "start", "type": "start" },
                { "id": "trip", "type": "form", "data": {
                    "slots": [
                        { "entity": "city", "role": "from", "variable": "origin", "prompt": { "text": "From where?" } },
                        { "entity": "city", "role": "to", "variable": "destination", "prompt": { "text": "To where?" } },
                        { "entity": "number", "variable": "seats", "prompt": { "text": "How many seats?" },
                          "validation": "value >= 1 and value <= 8", "invalid_message": "Between 1 and 8, please." },
                        { "entity": "meal", "variable": "meal", "prompt": { "text": "Meal?" }, "required": false }
                    ],
                    "retries": 1 } },
                { "id": "ok", "type": "message", "data": { "text": "{{seats}} seats {{origin}} to {{destination}}." } },
                { "id": "bye", "type": "message", "data": { "text": "Cancelled." } }
            ],
            "edges": [
                { "source": "start", "target": "trip" },
                { "source": "trip", "port": "done", "target": "ok" },
                { "source": "trip", "port": "cancelled", "target": "bye" }
            ]
        }),
    )
}

#[tokio::test]
async fn form_prefills_from_the_message_and_asks_only_for_missing_slots() {
    let p = program(vec![trip_flow()]);
    let (io, mut s) = (FakeIo::default(), ConvState::default());
    let nlu = with_entities(
        Some("book"),
        vec![hit("city", json!("Berlin"), Some("from")), hit("city", json!("Paris"), Some("to"))],
    );
    let o = say(&p, &mut s, &io, "from Berlin to Paris", nlu).await;
    assert_eq!(texts(&o), ["How many seats?"]);
    assert_eq!(s.vars["origin"], json!("Berlin"));
    assert_eq!(s.vars["destination"], json!("Paris"));
    assert!(matches!(&s.wait, Some(Wait::Form { asking, .. }) if asking == "seats"));
    // A correction by role while another slot is asked, then the asked slot.
    let o = say(&p, &mut s, &io, "no, to Munich", with_entities(None, vec![hit("city", json!("Munich"), Some("to"))]))
        .await;
    assert_eq!(texts(&o), ["How many seats?"]);
    assert_eq!(s.vars["destination"], json!("Munich"));
    assert!(
        o.trace.events.iter().any(|e| e.contains("slot `destination` corrected to Munich")),
        "{:?}",
        o.trace.events
    );
    let o = say(&p, &mut s, &io, "3 please", None).await;
    assert_eq!(texts(&o), ["3 seats Berlin to Munich."]);
    assert_eq!(s.wait, None);
    assert!(!s.vars.contains_key("meal"), "an optional slot is never asked");
}

#[tokio::test]
async fn form_reasks_on_validation_failure_then_cancels() {
    let p = program(vec![trip_flow()]);
    let (io, mut s) = (FakeIo::default(), ConvState::default());
    let nlu =
        with_entities(None, vec![hit("city", json!("Berlin"), Some("from")), hit("city", json!("Rome"), Some("to"))]);
    say(&p, &mut s, &io, "Berlin to Rome", nlu).await;
    let o = say(&p, &mut s, &io, "12", None).await;
    assert_eq!(texts(&o), ["Between 1 and 8, please.", "How many seats?"]);
    assert!(!s.vars.contains_key("seats"));
    let o = say(&p, &mut s, &io, "20", None).await;
    assert_eq!(texts(&o), ["Cancelled."]);
    assert_eq!(s.wait, None);
}

#[tokio::test]
async fn form_cancel_keyword_leaves_by_cancelled() {
    let p = program(vec![trip_flow()]);
    let (io, mut s) = (FakeIo::default(), ConvState::default());
    let o = say(&p, &mut s, &io, "I want to travel", None).await;
    assert_eq!(texts(&o), ["From where?"]);
    let o = say(&p, &mut s, &io, "cancel that", None).await;
    assert_eq!(texts(&o), ["Cancelled."]);
}

#[test]
fn slots_without_a_role_take_the_asked_slot_then_a_unique_one() {
    let (_, f) = trip_flow();
    let Kind::Form(form) = &f.graph.nodes[1].kind else { panic!("not a form") };
    // A bare city while `destination` is asked goes there.
    let got = super::form::match_slots(form, &[hit("city", json!("Oslo"), None)], Some(1), &["origin".into()]);
    assert_eq!(got, vec![(1, json!("Oslo"))]);
    // A bare city with nothing asked goes to the first empty city slot.
    let got = super::form::match_slots(form, &[hit("city", json!("Oslo"), None)], None, &[]);
    assert_eq!(got, vec![(0, json!("Oslo"))]);
    // A role wins over order.
    let got = super::form::match_slots(
        form,
        &[hit("city", json!("A"), None), hit("city", json!("B"), Some("from"))],
        None,
        &[],
    );
    assert_eq!(got, vec![(0, json!("B")), (1, json!("A"))]);
}

//! The flow studio against a fake OpenAI-compatible model: a flow generated
//! from a description is validated with the real compiler, repaired when
//! invalid, refused with its issues (nothing stored) when still invalid;
//! improve-a-flow with its diff; suggest-next-nodes; and the template gallery,
//! which works without any model.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::ai::{bot, provider};
use crate::fake_openai::{FakeOpenAi, Kind, Step};
use crate::helpers::{Session, TestApp, call_ok, spawn_app_with};

async fn app() -> TestApp {
    spawn_app_with(|c| c.llm.backoff_base_ms = 10).await
}

/// A valid booking flow as a model would write it (no positions).
fn booking() -> Value {
    json!({ "nodes": [
        { "id": "start", "type": "start" },
        { "id": "service", "type": "question", "label": "Service",
          "data": { "prompt": { "text": "Which service would you like?" }, "variable": "service" } },
        { "id": "done", "type": "end", "data": { "message": { "text": "Booked: {{service}}." } } },
        { "id": "staff", "type": "handoff", "data": { "message": { "text": "A colleague will help." } } },
        { "id": "after_staff", "type": "end" }
    ], "edges": [
        { "source": "start", "target": "service" },
        { "source": "service", "target": "done" },
        { "source": "service", "port": "invalid", "target": "staff" },
        { "source": "staff", "target": "after_staff" }
    ] })
}

/// The same flow with an edge to a node that does not exist.
fn broken() -> Value {
    let mut flow = booking();
    flow["edges"][1]["target"] = json!("nowhere");
    flow
}

/// A bot whose organization has a default provider on `fake`.
async fn setup(app: &TestApp, email: &str, fake: &FakeOpenAi) -> (Session, i64) {
    let s = app.register(email).await;
    provider(app, &s, "fake", fake, json!({ "is_default": true, "max_retries": 0 })).await;
    let b = bot(app, &s).await;
    (s, b)
}

fn flow_rows(app: &TestApp, bot: i64) -> i64 {
    app.count(&format!("SELECT count(*) FROM bot_flows WHERE bot_id = {bot}"))
}

/// The text of the last user message of a request.
fn last_user(body: &Value) -> String {
    body["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_generated_flow_is_validated_laid_out_and_saved_as_an_unpublished_draft() {
    let app = app().await;
    let fake = FakeOpenAi::start().await;
    let (s, bot) = setup(&app, "flowgen-ok@example.com", &fake).await;
    fake.push(Step::text(&format!("```json\n{}\n```", booking())).usage(900, 300));

    let body = json!({ "description": "Book haircuts and hand over when stuck.", "language": "en",
                       "channel": "whatsapp", "flow_name": "booking" });
    let made = call_ok(&app, &s, Method::POST, &format!("/api/v1/bots/{bot}/flows/generate"), Some(body)).await;
    assert_eq!(made["usage"]["rounds"], 1, "{made}");
    assert_eq!(made["usage"]["prompt_tokens"], 900);
    assert_eq!(made["saved"]["version"], 1, "{made}");
    assert_eq!(made["document"]["nodes"].as_array().map(Vec::len), Some(5));
    // The model gave no positions: the draft is laid out for the editor.
    assert_eq!(made["document"]["nodes"][1]["position"]["y"], 140.0, "{made}");

    // What the model was asked: JSON mode, the schema, the hints.
    let sent = &fake.bodies()[0];
    assert_eq!(sent["response_format"], json!({ "type": "json_object" }));
    assert!(sent["max_tokens"].as_u64().unwrap_or(0) >= 4096, "{sent}");
    let system = sent["messages"][0]["content"].as_str().unwrap_or_default();
    assert!(system.contains("\"$defs\"") && system.contains("intent_router"), "the flow schema is in the prompt");
    let user = last_user(sent);
    assert!(user.contains("Book haircuts") && user.contains("`en`") && user.contains("`whatsapp`"), "{user}");

    // A draft, not published; metered as a flow call.
    let flow = call_ok(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/flows/booking"), None).await;
    assert_eq!((flow["draft"]["version"].clone(), flow["published"].clone()), (json!(1), Value::Null), "{flow}");
    assert_eq!(app.count(&format!("SELECT count(*) FROM llm_calls WHERE bot_id = {bot} AND purpose = 'flow'")), 1);

    // Without a flow name the draft is only returned for review.
    fake.push(Step::text(&booking().to_string()));
    let review = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/bots/{bot}/flows/generate"),
        Some(json!({ "description": "The same again" })),
    )
    .await;
    assert_eq!(review["saved"], Value::Null);
    assert_eq!(flow_rows(&app, bot), 1);
}

#[tokio::test]
async fn an_invalid_flow_is_sent_back_with_its_issues_and_the_repair_is_used() {
    let app = app().await;
    let fake = FakeOpenAi::start().await;
    let (s, bot) = setup(&app, "flowgen-repair@example.com", &fake).await;
    fake.push(Step::text(&broken().to_string()));
    fake.push(Step::text(&booking().to_string()));

    let made = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/bots/{bot}/flows/generate"),
        Some(json!({ "description": "Book haircuts", "flow_name": "main" })),
    )
    .await;
    assert_eq!(made["usage"]["rounds"], 2, "{made}");
    let bodies = fake.bodies();
    assert_eq!(bodies.len(), 2);
    // The repair round carries the whole conversation and the compiler's finding.
    let repair = last_user(&bodies[1]);
    assert!(repair.contains("dangling_edge") && repair.contains("nowhere"), "{repair}");
    assert_eq!(bodies[1]["messages"].as_array().map(Vec::len), Some(4));
    assert_eq!(flow_rows(&app, bot), 1);
}

#[tokio::test]
async fn a_flow_still_invalid_after_two_repairs_is_refused_with_its_issues_and_nothing_is_stored() {
    let app = app().await;
    let fake = FakeOpenAi::start().await;
    let (s, bot) = setup(&app, "flowgen-refused@example.com", &fake).await;
    for _ in 0..3 {
        fake.push(Step::text(&broken().to_string()));
    }
    let (status, body) = app
        .call(
            &s,
            Method::POST,
            &format!("/api/v1/bots/{bot}/flows/generate"),
            Some(json!({ "description": "Book haircuts", "flow_name": "main" })),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "flow_generation_failed");
    assert_eq!(body["error"]["details"]["rounds"], 3);
    assert_eq!(body["error"]["details"]["field"], "description");
    let issues = body["error"]["details"]["issues"].as_array().cloned().unwrap_or_default();
    assert!(issues.iter().any(|i| i["code"] == "dangling_edge"), "{body}");
    assert_eq!(fake.calls().len(), 3, "one answer and two repairs, no more");
    assert_eq!(flow_rows(&app, bot), 0, "nothing stored");
}

#[tokio::test]
async fn prose_instead_of_json_is_refused_after_the_repairs() {
    let app = app().await;
    let fake = FakeOpenAi::start().await;
    let (s, bot) = setup(&app, "flowgen-prose@example.com", &fake).await;
    for _ in 0..3 {
        fake.push(Step::text("Sure! First greet the customer, then ask for the date."));
    }
    let (status, body) = app
        .call(&s, Method::POST, &format!("/api/v1/bots/{bot}/flows/generate"), Some(json!({ "description": "x" })))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["details"]["issues"][0]["code"], "not_json", "{body}");
    assert!(last_user(&fake.bodies()[1]).contains("not_json"));

    // JSON of another shape is named as such.
    for _ in 0..3 {
        fake.push(Step::text(r#"{"steps": ["greet", "ask"]}"#));
    }
    let (status, body) = app
        .call(&s, Method::POST, &format!("/api/v1/bots/{bot}/flows/generate"), Some(json!({ "description": "x" })))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["details"]["issues"][0]["code"], "not_a_flow_document", "{body}");
    assert_eq!(flow_rows(&app, bot), 0);
}

#[tokio::test]
async fn a_provider_that_refuses_json_mode_is_asked_again_without_it() {
    let app = app().await;
    let fake = FakeOpenAi::start().await;
    let (s, bot) = setup(&app, "flowgen-nojson@example.com", &fake).await;
    fake.push(Step {
        kind: Kind::Status(400, Vec::new(), r#"{"error":{"message":"response_format is not supported"}}"#.into()),
        usage: (0, 0),
        delay: Duration::ZERO,
        pause: Duration::ZERO,
    });
    fake.push(Step::text(&booking().to_string()));
    let made = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/bots/{bot}/flows/generate"),
        Some(json!({ "description": "Book haircuts" })),
    )
    .await;
    assert_eq!(made["usage"]["rounds"], 1, "{made}");
    let bodies = fake.bodies();
    assert_eq!(bodies[0]["response_format"]["type"], "json_object");
    assert_eq!(bodies[1].get("response_format"), None);
}

#[tokio::test]
async fn without_a_provider_the_studio_answers_llm_not_configured_and_bad_input_names_the_field() {
    let app = app().await;
    let s = app.register("flowgen-none@example.com").await;
    let bot = bot(&app, &s).await;
    let (status, body) = app
        .call(&s, Method::POST, &format!("/api/v1/bots/{bot}/flows/generate"), Some(json!({ "description": "FAQ" })))
        .await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("llm_not_configured")), "{body}");
    assert_eq!(body["error"]["details"]["field"], "provider_id");

    for (req, field) in [
        (json!({ "description": "  " }), "description"),
        (json!({ "description": "x".repeat(4001) }), "description"),
        (json!({ "description": "FAQ", "language": "en us" }), "language"),
        (json!({ "description": "FAQ", "flow_name": "Bad Name" }), "flow_name"),
    ] {
        let (status, body) = app.call(&s, Method::POST, &format!("/api/v1/bots/{bot}/flows/generate"), Some(req)).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["details"]["field"], field, "{body}");
    }
    assert_eq!(flow_rows(&app, bot), 0);
}

#[tokio::test]
async fn improve_revises_the_draft_with_a_diff_and_saves_it_on_request() {
    let app = app().await;
    let fake = FakeOpenAi::start().await;
    let (s, bot) = setup(&app, "flowgen-improve@example.com", &fake).await;
    call_ok(&app, &s, Method::PUT, &format!("/api/v1/bots/{bot}/flows/main"), Some(json!({ "document": booking() })))
        .await;

    let mut revised = booking();
    revised["nodes"][1]["data"]["prompt"]["text"] = json!("Which service: cut or colour?");
    if let Some(nodes) = revised["nodes"].as_array_mut() {
        nodes.push(json!({ "id": "thanks", "type": "message", "data": { "text": "Thank you!" } }));
    }
    revised["edges"][1]["target"] = json!("thanks");
    if let Some(edges) = revised["edges"].as_array_mut() {
        edges.push(json!({ "source": "thanks", "target": "done" }));
    }
    fake.push(Step::text(&revised.to_string()));

    let url = format!("/api/v1/bots/{bot}/flows/main/improve");
    let out =
        call_ok(&app, &s, Method::POST, &url, Some(json!({ "instruction": "Thank the customer", "save": true }))).await;
    assert_eq!(out["saved"]["version"], 2, "{out}");
    assert_eq!((out["diff"]["from_version"].clone(), out["diff"]["to_version"].clone()), (json!(1), json!(2)));
    assert_eq!(out["diff"]["nodes_added"], json!(["thanks"]), "{out}");
    assert_eq!(out["diff"]["nodes_changed"][0]["id"], "service", "{out}");
    let summary = out["summary"].as_array().cloned().unwrap_or_default();
    assert!(summary.iter().any(|l| l.as_str().is_some_and(|l| l.contains("Added nodes: thanks"))), "{out}");
    // The model saw the current draft and the instruction.
    let asked = last_user(&fake.bodies()[0]);
    assert!(asked.contains("Which service would you like?") && asked.contains("Thank the customer"), "{asked}");

    // An invalid revision is refused and the draft stays as it was.
    for _ in 0..3 {
        fake.push(Step::text(&broken().to_string()));
    }
    let (status, body) =
        app.call(&s, Method::POST, &url, Some(json!({ "instruction": "Break it", "save": true }))).await;
    assert_eq!((status, body["error"]["details"]["field"].as_str()), (422, Some("instruction")), "{body}");
    assert_eq!(flow_rows(&app, bot), 2);

    let (status, body) = app
        .call(
            &s,
            Method::POST,
            &format!("/api/v1/bots/{bot}/flows/missing/improve"),
            Some(json!({ "instruction": "x" })),
        )
        .await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("flow_not_found")), "{body}");
}

#[tokio::test]
async fn suggest_next_returns_checked_candidates_and_drops_the_ones_that_do_not_fit() {
    let app = app().await;
    let fake = FakeOpenAi::start().await;
    let (s, bot) = setup(&app, "flowgen-suggest@example.com", &fake).await;
    let mut flow = booking();
    // `done` has no follow-up yet in this draft: the `service` question's `next` is free.
    if let Some(edges) = flow["edges"].as_array_mut() {
        edges.remove(1);
    }
    call_ok(&app, &s, Method::PUT, &format!("/api/v1/bots/{bot}/flows/main"), Some(json!({ "document": flow }))).await;

    fake.push(Step::text(
        &json!({ "suggestions": [
            { "node": { "id": "confirm", "type": "message", "data": { "text": "You chose {{service}}." } }, "reason": "confirm" },
            { "node": { "id": "again", "type": "start" }, "reason": "restart" },
            { "node": { "id": "done", "type": "end", "data": { "message": { "text": "Bye" } } }, "reason": "finish" },
            { "node": { "type": "message", "data": { "text": "Hi {{service" } }, "reason": "broken template" }
        ] })
        .to_string(),
    ));
    let url = format!("/api/v1/bots/{bot}/flows/main/suggest-next");
    let out = call_ok(&app, &s, Method::POST, &url, Some(json!({ "node_id": "service" }))).await;
    let suggestions = out["suggestions"].as_array().cloned().unwrap_or_default();
    assert_eq!(suggestions.len(), 2, "{out}");
    assert_eq!(suggestions[0]["node"]["id"], "confirm");
    assert_eq!(suggestions[0]["edge"], json!({ "source": "service", "port": "next", "target": "confirm" }));
    // `done` exists already: the candidate is renamed, not merged.
    assert_eq!(suggestions[1]["node"]["id"], "done_2", "{out}");
    let rejected: Vec<&str> =
        out["rejected"].as_array().map_or(Vec::new(), |r| r.iter().filter_map(|i| i["code"].as_str()).collect());
    assert_eq!(rejected, ["unknown_node_type", "invalid_template"], "{out}");
    assert_eq!(flow_rows(&app, bot), 1, "suggestions are not saved");

    for (req, field) in [
        (json!({ "node_id": "nope" }), "node_id"),
        (json!({ "node_id": "service", "port": "elsewhere" }), "port"),
        (json!({ "node_id": "start" }), "port"),
        (json!({ "node_id": "service", "count": 4 }), "count"),
    ] {
        let (status, body) = app.call(&s, Method::POST, &url, Some(req)).await;
        assert_eq!((status, body["error"]["details"]["field"].as_str()), (422, Some(field)), "{body}");
    }
    assert_eq!(fake.calls().len(), 1, "bad input never reaches the model");
}

#[tokio::test]
async fn the_gallery_lists_eight_templates_and_makes_bots_and_flows_without_any_model() {
    let app = app().await;
    let s = app.register("flowgen-gallery@example.com").await;
    let list = call_ok(&app, &s, Method::GET, "/api/v1/bot-templates", None).await;
    let templates = list.as_array().cloned().unwrap_or_default();
    assert!(templates.len() >= 8, "{list}");
    for t in &templates {
        assert!(t["preview"]["nodes"].as_u64().unwrap_or(0) >= 3, "{t}");
        assert!(t["preview"]["opening"].is_string(), "{t}");
        assert!(!t["category"].as_str().unwrap_or_default().is_empty());
    }
    let ids: Vec<&str> = templates.iter().filter_map(|t| t["id"].as_str()).collect();
    for id in ["feedback_survey", "event_registration", "it_helpdesk"] {
        assert!(ids.contains(&id), "{ids:?}");
    }

    // A bot from a template: no provider anywhere.
    let (status, made) = app
        .call(
            &s,
            Method::POST,
            &format!("/api/v1/orgs/{}/bots/from-template", s.org_id),
            Some(json!({ "template": "feedback_survey" })),
        )
        .await;
    assert_eq!((status, made["published"].clone()), (201, json!(true)), "{made}");

    // A template's flow added to an existing bot, as a draft.
    let bot = bot(&app, &s).await;
    let url = format!("/api/v1/bots/{bot}/flows/from-template");
    let (status, added) = app.call(&s, Method::POST, &url, Some(json!({ "template": "support" }))).await;
    assert_eq!(status, 201, "{added}");
    assert_eq!((added["flow_name"].as_str(), added["version"]["version"].as_i64()), (Some("support"), Some(1)));
    assert!(added["intents_added"].as_array().is_some_and(|i| !i.is_empty()), "{added}");
    let flows = call_ok(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/flows"), None).await;
    assert!(
        flows.as_array().is_some_and(|f| f.iter().any(|f| f["name"] == "support" && f["published_version"].is_null()))
    );

    let (status, body) = app.call(&s, Method::POST, &url, Some(json!({ "template": "support" }))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("name_taken")), "{body}");
    let (status, body) =
        app.call(&s, Method::POST, &url, Some(json!({ "template": "support", "flow_name": "help_desk" }))).await;
    assert_eq!((status, body["flow_name"].as_str()), (201, Some("help_desk")), "{body}");
    for (req, field) in [
        (json!({ "template": "nope" }), "template"),
        (json!({ "template": "faq", "flow_name": "Not A Name" }), "flow_name"),
    ] {
        let (status, body) = app.call(&s, Method::POST, &url, Some(req)).await;
        assert_eq!((status, body["error"]["details"]["field"].as_str()), (422, Some(field)), "{body}");
    }
}

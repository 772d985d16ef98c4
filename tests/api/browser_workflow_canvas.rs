//! The workflow editor on the flow canvas (issue 19): a workflow built by
//! adding steps from the palette and connecting them by dragging from a
//! port, the server's validation shown on the step's node, saved with the
//! steps' positions, then run against the fake model with the executed
//! steps marked on the trace's canvas.

use std::time::Duration;

use fantoccini::actions::{InputSource, MOUSE_BUTTON_LEFT, MouseActions, PointerAction};
use fantoccini::elements::Element;
use reqwest::Method;
use serde_json::{Value, json};

use crate::agents::agent;
use crate::browser::{Browser, with_browser};
use crate::fake_openai::{FakeOpenAi, Step};
use crate::helpers::{call_ok, spawn_app_with};

/// Sets an input's or textarea's value as typing would (one `input` event with the whole text).
async fn set_value(b: &Browser, css: &str, value: &str) {
    b.element(css).await;
    b.client
        .execute(
            "const el = document.querySelector(arguments[0]); el.value = arguments[1]; \
             el.dispatchEvent(new Event('input', { bubbles: true }));",
            vec![json!(css), json!(value)],
        )
        .await
        .expect("set value");
}

/// Presses the mouse on `from`, moves to `to` and lets go there.
async fn drag(b: &Browser, from: &Element, to: &Element) {
    let actions = MouseActions::new("mouse".into())
        .then(PointerAction::MoveToElement { element: from.clone(), duration: None, x: 0, y: 0 })
        .then(PointerAction::Down { button: MOUSE_BUTTON_LEFT })
        .then(PointerAction::MoveToElement {
            element: to.clone(),
            duration: Some(Duration::from_millis(200)),
            x: 0,
            y: 0,
        })
        .then(PointerAction::Up { button: MOUSE_BUTTON_LEFT });
    b.client.perform_actions(actions).await.expect("drag");
    b.client.release_actions().await.expect("release");
}

#[tokio::test]
async fn a_workflow_is_built_on_the_canvas_saved_and_run_against_the_fake_model() {
    let app = spawn_app_with(|c| c.llm.backoff_base_ms = 10).await;
    let s = app.register("wf-canvas@example.com").await;
    let fake = FakeOpenAi::start().await;
    let (bot, agent_id) = agent(&app, &s, &fake, json!({})).await;
    with_browser("workflow_canvas", |b| async move {
        b.sign_in(&app, "wf-canvas@example.com").await;
        b.client.goto(&app.url(&format!("/bots/{bot}/workflows"))).await.expect("goto");
        b.click("#new-workflow").await;
        b.fill("#workflow-name", "Canvas answer").await;
        // The first step becomes an agent step; its edge leads nowhere:
        // refused by the server and shown on the step's node.
        b.element("#workflow-canvas [data-node-id='start']").await;
        b.select("#step-0-type", "agent").await;
        set_value(
            &b,
            "#step-0-fields",
            &format!(r#"{{"agent_id": {agent_id}, "input": "{{{{ input.question }}}}", "next": "nowhere"}}"#),
        )
        .await;
        b.click("#save-workflow").await;
        b.wait_for_text("#workflow-canvas [data-node-id='start'].has-error .flow-node-issue", "nowhere").await;
        b.wait_for_text("#workflow-properties .workflow-step.fault", "nowhere").await;
        assert_eq!(app.count("SELECT count(*) FROM agent_workflows"), 0);

        // A join step from the palette, placed on the canvas and selected.
        b.select("#new-step-type", "join").await;
        b.click("#add-step").await;
        b.element("#workflow-canvas [data-node-id='step3'][data-type='join']").await;
        b.wait_for_text("#step-panel h3", "step3").await;
        b.client
            .execute("document.getElementById('workflow-canvas').scrollIntoView({ block: 'center' });", vec![])
            .await
            .expect("scroll");
        // Connect by dragging: start → step3 (replacing the bad edge), step3 → done.
        let port = b.element("[data-node-id='start'] .flow-port[data-port='next'] i").await;
        let target = b.element("[data-node-id='step3'] .flow-node-body").await;
        drag(&b, &port, &target).await;
        b.element("#workflow-canvas path[data-edge='start:next>step3']").await;
        let port = b.element("[data-node-id='step3'] .flow-port[data-port='next'] i").await;
        let target = b.element("[data-node-id='done'] .flow-node-body").await;
        drag(&b, &port, &target).await;
        b.element("#workflow-canvas path[data-edge='step3:next>done']").await;
        // The properties panel follows the canvas.
        b.click("[data-node-id='start'] .flow-node-head").await;
        let settings =
            b.client.execute("return document.querySelector('#step-0-fields').value;", vec![]).await.expect("settings");
        let settings: Value = serde_json::from_str(settings.as_str().expect("text")).expect("json");
        assert_eq!(settings["next"], "step3", "{settings}");
        assert_eq!(settings["agent_id"], agent_id, "{settings}");

        b.click("#save-workflow").await;
        b.wait_for_text("h1", "Canvas answer").await;
        let (id, definition): (i64, String) =
            app.sql(|c| c.query_row("SELECT id, flow_config FROM agent_workflows", [], |r| Ok((r.get(0)?, r.get(1)?))));
        let definition: Value = serde_json::from_str(&definition).expect("definition");
        let steps = definition["steps"].as_array().expect("steps");
        assert_eq!(steps.len(), 3, "{definition}");
        assert!(steps.iter().all(|s| s["position"]["x"].is_number()), "positions are kept: {definition}");
        assert_eq!(steps[0]["next"], "step3");
        assert_eq!(steps[2]["next"], "done");
        b.element("#workflow-graph [data-node-id='step3']").await;

        // Run it against the fake model: the trace's canvas marks the executed steps.
        fake.push(Step::text("Hello from the agent."));
        set_value(&b, "#run-input", r#"{"question": "Hi?"}"#).await;
        b.click("#run-workflow").await;
        b.wait_for_text("#run-summary", "pending").await;
        app.run_jobs().await;
        b.wait_for_text("#run-status", "completed").await;
        b.element("#workflow-graph [data-node-id='start'][data-status='completed']").await;
        b.element("#workflow-graph [data-node-id='done'][data-status='completed']").await;
        b.element("#trace-steps tr[data-step='step3'][data-status='completed']").await;
        assert_eq!(fake.calls().len(), 1);
        let runs = call_ok(&app, &s, Method::GET, &format!("/api/v1/workflows/{id}/executions"), None).await;
        assert_eq!(runs["items"][0]["status"], "completed", "{runs}");
    })
    .await;
}

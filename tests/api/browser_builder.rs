//! The flow builder without JSON: a five-node bot built with the forms and
//! pickers only, published and chatted with; the canvas by keyboard,
//! copy/paste and new-node placement; and the HTTP node's "Test request"
//! route (`POST /bots/{bot_id}/flows/test-request`) against a local fake.

// End-to-end scenarios read best as one story each.
#![allow(clippy::too_many_lines, reason = "each test is one end-to-end scenario")]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::Locator;
use fantoccini::actions::{InputSource, KeyAction, KeyActions, MOUSE_BUTTON_LEFT, MouseActions, PointerAction};
use fantoccini::key::Key;
use reqwest::Method;
use serde_json::{Value, json};

use crate::browser::{Browser, with_browser};
use crate::fake_http::{FakeServer, Received, Reply};
use crate::helpers::{Session, TestApp, assert_error, spawn_app, spawn_app_with};

async fn js(b: &Browser, script: &str, args: Vec<Value>) -> Value {
    b.client.execute(script, args).await.unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
}

/// Polls `script` (a function body) until `ok` accepts its JSON result.
async fn wait_js(b: &Browser, script: &str, secs: u64, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut last = Value::Null;
    loop {
        if let Ok(v) = b.client.execute(script, vec![]).await {
            if ok(&v) {
                return v;
            }
            last = v;
        }
        assert!(Instant::now() < deadline, "`{script}` never gave the expected value; last: {last}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Types into a form field as a person does: focus, the new value, then leave it.
async fn set_field(b: &Browser, css: &str, value: &str) {
    b.element(css).await;
    js(
        b,
        "const t = document.querySelector(arguments[0]); t.focus(); t.value = arguments[1];
         t.dispatchEvent(new Event('input', { bubbles: true }));
         t.dispatchEvent(new Event('change', { bubbles: true })); t.blur();",
        vec![json!(css), json!(value)],
    )
    .await;
}

/// Presses keys together (modifiers first), on whatever has the focus.
async fn press(b: &Browser, keys: &[char]) {
    let mut actions = KeyActions::new("keyboard".into());
    for k in keys {
        actions = actions.then(KeyAction::Down { value: *k });
    }
    for k in keys.iter().rev() {
        actions = actions.then(KeyAction::Up { value: *k });
    }
    b.client.perform_actions(actions).await.expect("keys");
    b.client.release_actions().await.expect("release");
}

/// Selects a node by clicking its title.
async fn open_node(b: &Browser, id: &str) {
    b.click(&format!("[data-node-id='{id}'] .flow-node-head")).await;
    b.wait_for_text("#node-panel h2", id).await;
}

async fn saved(b: &Browser) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(el) = b.client.find(Locator::Css("#save-state")).await
            && el.text().await.is_ok_and(|t| t == "All changes saved")
        {
            return;
        }
        assert!(Instant::now() < deadline, "the draft was never saved");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Node boxes on screen: id → [left, top, right, bottom].
const BOXES: &str = "const out = {}; for (const n of document.querySelectorAll('[data-node-id]')) {
   const r = n.getBoundingClientRect(); out[n.dataset.nodeId] = [r.left, r.top, r.right, r.bottom]; } return out;";

fn overlapping(boxes: &Value) -> Vec<(String, String)> {
    let list: Vec<(String, Vec<f64>)> = boxes
        .as_object()
        .expect("boxes")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_array().expect("box").iter().map(|x| x.as_f64().expect("n")).collect()))
        .collect();
    let mut out = Vec::new();
    for (i, (a, ra)) in list.iter().enumerate() {
        for (b, rb) in &list[i + 1..] {
            if ra[0] < rb[2] && rb[0] < ra[2] && ra[1] < rb[3] && rb[1] < ra[3] {
                out.push((a.clone(), b.clone()));
            }
        }
    }
    out
}

fn screenshot_path(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("../browser-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir.join(format!("{name}.png"))
}

async fn new_bot(app: &TestApp, s: &Session, name: &str) -> i64 {
    let (status, bot) =
        app.call(s, Method::POST, &format!("/api/v1/orgs/{}/bots", s.org_id), Some(json!({ "name": name }))).await;
    assert_eq!(status, 201, "{bot}");
    bot["id"].as_i64().expect("bot id")
}

async fn save_flow(app: &TestApp, s: &Session, bot: i64, doc: Value) {
    let (status, body) =
        app.call(s, Method::PUT, &format!("/api/v1/bots/{bot}/flows/main"), Some(json!({ "document": doc }))).await;
    assert!(status == 201 || status == 200, "{status} {body}");
}

#[tokio::test]
async fn a_five_node_bot_is_built_with_forms_and_pickers_published_and_chatted_with() {
    let app = spawn_app_with(|c| c.ml.enabled = true).await;
    let s = app.register("five-nodes@example.com").await;
    let bot = new_bot(&app, &s, "Shop helper").await;
    // A knowledge base with a document, so the picker has something to pick.
    let kb = crate::knowledge::create_kb(&app, &s, json!({ "name": "Help center" })).await["id"].as_i64().expect("kb");
    crate::knowledge::paste(
        &app,
        &s,
        kb,
        "Returns",
        "# Returns\n\nYou can return any item within 30 days of delivery. Refunds are issued to the original payment method within five business days.",
    )
    .await;
    crate::knowledge::drain(&app).await;

    with_browser("builder_five_nodes", |b| async move {
        b.client.set_window_size(1440, 1000).await.expect("resize");
        b.sign_in(&app, "five-nodes@example.com").await;
        b.client.goto(&app.url(&format!("/bots/{bot}/flows"))).await.expect("goto flows");
        b.fill("#new-flow-name", "main").await;
        b.click("#create-flow").await;
        b.wait_for_path(&format!("/bots/{bot}/flows/main")).await;
        b.element("[data-node-id='start']").await;

        // 1. A message: the text with a variable inserted from the menu and a preview
        //    that marks unset variables.
        b.click("button[data-add='message']").await;
        b.wait_for_text("#node-panel h2", "message_1").await;
        set_field(&b, "#nf-text", "Hi {{name}}, ").await;
        assert_eq!(b.text_of("#nf-text-preview mark.unset-var").await, "{{name}}");
        // A sample value fills the preview in.
        set_field(&b, "#nf-sample-name", "Ada").await;
        b.wait_for_text("#nf-text-preview", "Hi Ada,").await;
        assert!(b.client.find(Locator::Css("#nf-text-preview mark.unset-var")).await.is_err());
        b.click("#nf-text-insert").await;
        b.click("#node-panel [data-var='channel']").await;
        let text = js(&b, "return document.querySelector('#nf-text').value;", vec![]).await;
        assert!(text.as_str().is_some_and(|t| t.contains("{{channel}}")), "{text}");
        let png = b.client.screenshot().await.expect("screenshot");
        std::fs::write(screenshot_path("builder_message_form"), png).expect("write screenshot");
        set_field(&b, "#nf-text", "Welcome to the shop!").await;
        b.wait_for_text("[data-node-id='message_1'] .flow-node-body", "Say: Welcome to the shop!").await;
        // No JSON anywhere in the panel.
        assert!(b.client.find(Locator::Css("#node-data")).await.is_err(), "the JSON textarea is gone");

        // 2. A question with a validation choice.
        b.click("button[data-add='question']").await;
        b.wait_for_text("#node-panel h2", "question_1").await;
        set_field(&b, "#nf-prompt-text", "What can I help you with?").await;
        set_field(&b, "#nf-variable", "topic").await;
        b.select("#nf-validation", "email").await;
        b.wait_for_text("[data-node-id='question_1'] .flow-node-body", "(email)").await;
        b.select("#nf-validation", "any").await;
        set_field(&b, "#nf-retries", "1").await;
        b.wait_for_text("[data-node-id='question_1'] .flow-node-body", "Ask: What can I help you with? → topic").await;

        // 3. A condition built from subject, operator and value.
        b.click("button[data-add='condition']").await;
        b.wait_for_text("#node-panel h2", "condition_1").await;
        set_field(&b, "#nf-branch-0-id", "human").await;
        b.select("#nf-branch-0-subject", "variable").await;
        set_field(&b, "#nf-branch-0-name", "topic").await;
        b.select("#nf-branch-0-operator", "contains").await;
        set_field(&b, "#nf-branch-0-value", "person").await;
        b.wait_for_text("[data-node-id='condition_1'] .flow-node-body", "If topic contains person").await;

        // 4. A knowledge answer: the base picked by its name.
        b.click("button[data-add='knowledge']").await;
        b.wait_for_text("#node-panel h2", "knowledge_1").await;
        let options = b.text_of("#nf-kb").await;
        assert!(options.contains("Help center"), "{options}");
        b.select("#nf-kb", &kb.to_string()).await;
        b.wait_for_text("[data-node-id='knowledge_1'] .flow-node-body", "Answer from: Help center").await;

        // 5. A handoff (its default message).
        b.click("button[data-add='handoff']").await;
        b.wait_for_text("#node-panel h2", "handoff_1").await;

        // Every new node landed on a free spot.
        let boxes = js(&b, BOXES, vec![]).await;
        assert!(overlapping(&boxes).is_empty(), "nodes on top of each other: {boxes}");

        // Connect everything with the "Next step" choices (no dragging).
        for (node, port, target) in [
            ("start", "next", "message_1"),
            ("message_1", "next", "question_1"),
            ("question_1", "next", "condition_1"),
            ("question_1", "invalid", "handoff_1"),
            ("condition_1", "human", "handoff_1"),
            ("condition_1", "else", "knowledge_1"),
            ("knowledge_1", "answered", "question_1"),
            ("knowledge_1", "no_answer", "handoff_1"),
        ] {
            open_node(&b, node).await;
            b.select(&format!("#next-{port}"), target).await;
            b.element(&format!("path[data-edge='{node}:{port}>{target}']")).await;
        }
        saved(&b).await;

        // A screenshot of the result with the condition's form open.
        b.click("#auto-layout").await;
        open_node(&b, "condition_1").await;
        saved(&b).await;
        let png = b.client.screenshot().await.expect("screenshot");
        std::fs::write(screenshot_path("builder_five_nodes"), png).expect("write screenshot");

        b.fill("#publish-message", "five nodes, no JSON").await;
        b.click("#publish").await;
        b.wait_for_text("#versions", "five nodes, no JSON").await;

        // The published document has exactly the server's shapes.
        let published: String = app.sql(|c| {
            c.query_row("SELECT flow_data FROM bot_flows WHERE bot_id = ?1 AND is_active = 1", [bot], |r| r.get(0))
        });
        let doc: Value = serde_json::from_str(&published).expect("json");
        let node = |id: &str| doc["nodes"].as_array().expect("nodes").iter().find(|n| n["id"] == id).cloned();
        assert_eq!(node("message_1").expect("message")["data"], json!({ "text": "Welcome to the shop!" }));
        let q = node("question_1").expect("question")["data"].clone();
        assert_eq!(q["variable"], "topic");
        assert_eq!(q["validation"], json!({ "kind": "any" }));
        assert_eq!(q["retries"], 1);
        assert_eq!(
            node("condition_1").expect("condition")["data"]["branches"][0],
            json!({ "id": "human", "condition": { "subject": "variable", "name": "topic", "operator": "contains", "value": "person" } })
        );
        assert_eq!(node("knowledge_1").expect("knowledge")["data"]["knowledge_base_id"], kb);

        // Chat with the published bot in the emulator.
        b.client.goto(&app.url(&format!("/bots/{bot}/emulator"))).await.expect("goto emulator");
        b.click("#source-published").await;
        b.click("#emulator-start").await;
        b.wait_for_text("#emulator-log", "Welcome to the shop!").await;
        b.wait_for_text("#emulator-log", "What can I help you with?").await;
        b.fill("#emulator-input", "How long do refunds take?").await;
        b.click("#emulator-send").await;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let log = b.text_of("#emulator-log").await;
            if log.contains("five business days") {
                break;
            }
            assert!(Instant::now() < deadline, "no knowledge answer: {log}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        b.fill("#emulator-input", "Can I talk to a person please?").await;
        b.click("#emulator-send").await;
        b.wait_for_text("#emulator-log", "Connecting you to a person.").await;
        b.client.clone().close().await.expect("close");
    })
    .await;
}

/// A bot of `email`'s (registered here) whose draft is `start` → `hello`.
async fn hello_bot(app: &TestApp, email: &str, name: &str) -> i64 {
    let s = app.register(email).await;
    let bot = new_bot(app, &s, name).await;
    save_flow(
        app,
        &s,
        bot,
        json!({
            "nodes": [
                { "id": "start", "type": "start", "position": { "x": 40, "y": 80 } },
                { "id": "hello", "type": "message", "data": { "text": "Hello" }, "position": { "x": 320, "y": 80 } }
            ],
            "edges": [ { "source": "start", "target": "hello" } ]
        }),
    )
    .await;
    bot
}

#[tokio::test]
async fn the_canvas_works_by_keyboard() {
    let app = spawn_app().await;
    let bot = hello_bot(&app, "keyboard@example.com", "Keys").await;
    with_browser("builder_keyboard", |b| async move {
        b.sign_in(&app, "keyboard@example.com").await;
        b.client.goto(&app.url(&format!("/bots/{bot}/flows/main"))).await.expect("goto");
        let hello = b.element("[data-node-id='hello']").await;
        assert_eq!(hello.attr("tabindex").await.expect("attr").as_deref(), Some("0"));
        assert_eq!(hello.attr("role").await.expect("attr").as_deref(), Some("button"));
        // Its accessible name (from its content; the port names are hidden from
        // screen readers) says its type, name and summary.
        let name = js(
            &b,
            "const n = document.querySelector(\"[data-node-id='hello']\");
             return [...n.querySelectorAll(':scope > div:not(.flow-port)')].map(d => d.textContent).join(' ');",
            vec![],
        )
        .await;
        assert_eq!(name, json!("message hello Say: Hello"));

        // Tab from the canvas reaches the nodes.
        js(&b, "document.getElementById('flow-canvas').focus();", vec![]).await;
        press(&b, &[char::from(Key::Tab)]).await;
        press(&b, &[char::from(Key::Tab)]).await;
        wait_js(&b, "return document.activeElement.dataset.nodeId || '';", 5, |v| v == "hello").await;

        // Arrow keys move it (Shift: bigger steps); each move is saved.
        let pos = "const n = document.querySelector(\"[data-node-id='hello']\"); return [n.style.left, n.style.top];";
        press(&b, &[char::from(Key::Right)]).await;
        wait_js(&b, pos, 5, |v| v == &json!(["330px", "80px"])).await;
        press(&b, &[char::from(Key::Shift), char::from(Key::Down)]).await;
        wait_js(&b, pos, 5, |v| v == &json!(["330px", "130px"])).await;
        saved(&b).await;
        app.wait_for_sql(
            "the move was not saved",
            |c| {
                c.query_row(
                    "SELECT flow_data FROM bot_flows WHERE bot_id = ?1 ORDER BY version DESC LIMIT 1",
                    [bot],
                    |r| r.get::<_, String>(0),
                )
            },
            |d| d.contains("\"x\":330") && d.contains("\"y\":130"),
        )
        .await;

        // Enter opens its form with the focus in the first field; Escape comes back.
        press(&b, &[char::from(Key::Enter)]).await;
        wait_js(&b, "return document.activeElement.id;", 5, |v| v == "nf-text").await;
        press(&b, &[char::from(Key::Escape)]).await;
        wait_js(&b, "return document.activeElement.dataset.nodeId || '';", 5, |v| v == "hello").await;

        // Delete removes it, with its edge.
        press(&b, &[char::from(Key::Delete)]).await;
        wait_js(&b, "return !document.querySelector(\"[data-node-id='hello']\");", 5, |v| v == true).await;
        assert!(b.client.find(Locator::Css("path[data-edge='start:next>hello']")).await.is_err());
        // Undo brings it back.
        b.click("#undo").await;
        b.element("[data-node-id='hello']").await;
        b.client.clone().close().await.expect("close");
    })
    .await;
}

#[tokio::test]
async fn copy_paste_and_new_nodes_never_land_on_another_node() {
    let app = spawn_app().await;
    let bot = hello_bot(&app, "paste@example.com", "Paste").await;
    with_browser("builder_paste", |b| async move {
        b.sign_in(&app, "paste@example.com").await;
        b.client.goto(&app.url(&format!("/bots/{bot}/flows/main"))).await.expect("goto");
        b.element("#flow-minimap").await;

        // Copy and paste twice: new ids, same data, never on top of another node.
        open_node(&b, "hello").await;
        press(&b, &[char::from(Key::Control), 'c']).await;
        press(&b, &[char::from(Key::Control), 'v']).await;
        b.wait_for_text("[data-node-id='message_1'] .flow-node-body", "Say: Hello").await;
        press(&b, &[char::from(Key::Control), 'v']).await;
        b.wait_for_text("[data-node-id='message_2'] .flow-node-body", "Say: Hello").await;
        let boxes = js(&b, BOXES, vec![]).await;
        assert!(overlapping(&boxes).is_empty(), "pasted on top: {boxes}");

        // New nodes land in the middle of the visible canvas, on free spots,
        // also after the view was panned and zoomed.
        b.click("#zoom-out").await;
        for _ in 0..3 {
            b.click("button[data-add='message']").await;
        }
        b.element("[data-node-id='message_5']").await;
        let boxes = js(&b, BOXES, vec![]).await;
        assert!(overlapping(&boxes).is_empty(), "new nodes on top of others: {boxes}");
        let canvas = js(
            &b,
            "const r = document.getElementById('flow-canvas').getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom];",
            vec![],
        )
        .await;
        let c: Vec<f64> = canvas.as_array().expect("rect").iter().map(|x| x.as_f64().expect("n")).collect();
        for id in ["message_3", "message_4", "message_5"] {
            let r: Vec<f64> = boxes[id].as_array().expect("box").iter().map(|x| x.as_f64().expect("n")).collect();
            assert!(r[0] >= c[0] && r[2] <= c[2] && r[1] >= c[1] && r[3] <= c[3], "{id} {r:?} is outside the view {c:?}");
        }

        // Shift-drag a rectangle selects several nodes; Delete removes them.
        let band = js(
            &b,
            "const a = document.querySelector(\"[data-node-id='message_3']\").getBoundingClientRect();
             const z = document.querySelector(\"[data-node-id='message_5']\").getBoundingClientRect();
             return [Math.min(a.left, z.left) - 8, Math.min(a.top, z.top) - 8, Math.max(a.right, z.right) + 8, Math.max(a.bottom, z.bottom) + 8].map(Math.round);",
            vec![],
        )
        .await;
        let r: Vec<i64> = band.as_array().expect("band").iter().map(|x| x.as_i64().expect("n")).collect();
        let canvas_el = b.element("#flow-canvas").await;
        let origin = js(
            &b,
            "const r = document.getElementById('flow-canvas').getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2].map(Math.round);",
            vec![],
        )
        .await;
        let (ox, oy) = (origin[0].as_i64().expect("x"), origin[1].as_i64().expect("y"));
        let mouse = MouseActions::new("mouse".into())
            .then(PointerAction::MoveToElement { element: canvas_el.clone(), duration: None, x: r[0] - ox, y: r[1] - oy })
            .then(PointerAction::Down { button: MOUSE_BUTTON_LEFT })
            .then(PointerAction::MoveToElement {
                element: canvas_el.clone(),
                duration: Some(Duration::from_millis(200)),
                x: r[2] - ox,
                y: r[3] - oy,
            })
            .then(PointerAction::Up { button: MOUSE_BUTTON_LEFT });
        let shift_down = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: char::from(Key::Shift) })
            .then(KeyAction::Pause { duration: Duration::from_millis(300) })
            .then(KeyAction::Pause { duration: Duration::from_millis(300) })
            .then(KeyAction::Pause { duration: Duration::from_millis(300) })
            .then(KeyAction::Pause { duration: Duration::from_millis(300) })
            .then(KeyAction::Up { value: char::from(Key::Shift) });
        b.client
            .perform_actions(fantoccini::actions::Actions::from(shift_down).and(mouse))
            .await
            .expect("rubber band");
        b.client.release_actions().await.expect("release");
        b.wait_for_text("#node-panel h2", "3 nodes selected").await;
        js(&b, "document.getElementById('flow-canvas').focus();", vec![]).await;
        press(&b, &[char::from(Key::Delete)]).await;
        wait_js(&b, "return document.querySelectorAll('[data-node-id]').length;", 5, |v| v == 4).await;

        // Auto-layout puts every node right of the ones before it; zoom to fit shows them all.
        b.click("#auto-layout").await;
        let xs = wait_js(
            &b,
            "const x = (id) => parseFloat(document.querySelector(`[data-node-id='${id}']`).style.left);
             return [x('start'), x('hello')];",
            5,
            |v| v[0].as_f64() < v[1].as_f64(),
        )
        .await;
        assert!(xs[0].as_f64() < xs[1].as_f64(), "{xs}");
        b.click("#fit-view").await;
        let boxes = js(&b, BOXES, vec![]).await;
        for (id, r) in boxes.as_object().expect("boxes") {
            let r: Vec<f64> = r.as_array().expect("box").iter().map(|x| x.as_f64().expect("n")).collect();
            assert!(r[0] >= c[0] && r[2] <= c[2], "{id} is not in view after zoom to fit");
        }
        b.client.clone().close().await.expect("close");
    })
    .await;
}

// ---- the test-request route (API) ----------------------------------------

fn order_api() -> Arc<dyn Fn(&Received) -> Reply + Send + Sync> {
    Arc::new(|r: &Received| {
        if r.path.starts_with("/orders/") {
            Reply::Full(
                200,
                "application/json".into(),
                br#"{"data":{"status":"shipped","items":[{"name":"Lamp"},{"name":"Desk"}]}}"#.to_vec(),
            )
        } else {
            Reply::Full(404, "text/plain".into(), b"no such page".to_vec())
        }
    })
}

#[tokio::test]
async fn test_request_sends_with_sample_values_and_shows_the_mapped_variables() {
    let app = spawn_app().await;
    let s = app.register("probe@example.com").await;
    let bot = new_bot(&app, &s, "Orders").await;
    let fake = FakeServer::start(order_api()).await;
    let path = format!("/api/v1/bots/{bot}/flows/test-request");
    let (status, body) = app
        .call(
            &s,
            Method::POST,
            &path,
            Some(json!({
                "method": "POST",
                "url": format!("{}/orders/{{{{order_id}}}}", fake.base),
                "headers": { "X-Key": "k-{{order_id}}" },
                "body": { "id": "{{order_id}}", "count": "{{count}}" },
                "mappings": [
                    { "path": "$.data.status", "variable": "order_status" },
                    { "path": "$.data.items[*].name", "variable": "names" },
                    { "path": "$.data.missing", "variable": "nothing" }
                ],
                "sample": { "order_id": "A 1", "count": 3 }
            })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], 200);
    assert_eq!(body["success"], true);
    assert_eq!(body["body_is_json"], true);
    assert!(body["url"].as_str().is_some_and(|u| u.ends_with("/orders/A%201")), "{body}");
    assert_eq!(
        body["mapped"],
        json!([
            { "variable": "order_status", "path": "$.data.status", "value": "shipped" },
            { "variable": "names", "path": "$.data.items[*].name", "value": ["Lamp", "Desk"] },
            { "variable": "nothing", "path": "$.data.missing", "value": null }
        ])
    );
    assert!(body["headers"].as_array().expect("headers").iter().any(|h| h["name"] == "content-type"), "{body}");
    // The fake got the substituted request: encoded path, header, typed JSON body.
    let got = fake.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].method, "POST");
    assert_eq!(got[0].path, "/orders/A%201");
    assert_eq!(got[0].header("x-key"), Some("k-A 1"));
    let sent: Value = serde_json::from_slice(&got[0].body).expect("json body");
    assert_eq!(sent, json!({ "id": "A 1", "count": 3 }));

    // An error status is shown, not refused; mappings are not applied on it at run time.
    let (status, body) =
        app.call(&s, Method::POST, &path, Some(json!({ "url": format!("{}/nothing", fake.base) }))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], 404);
    assert_eq!(body["success"], false);
    assert_eq!(body["body"], "no such page");
}

#[tokio::test]
async fn test_request_refuses_bad_urls_with_the_field_and_obeys_the_outbound_policy() {
    let app = spawn_app().await;
    let s = app.register("probe-bad@example.com").await;
    let bot = new_bot(&app, &s, "Orders").await;
    let path = format!("/api/v1/bots/{bot}/flows/test-request");
    for (body, field) in [
        (json!({ "url": "not a url" }), "url"),
        (json!({ "url": "" }), "url"),
        (json!({ "url": "ftp://example.com/x" }), "url"),
        (json!({ "url": "https://example.com/{{" }), "url"),
        (
            json!({ "url": "https://example.com/", "mappings": [ { "path": "data.x", "variable": "x" } ] }),
            "mappings[0].path",
        ),
        (json!({ "url": "https://example.com/", "headers": { "Bad Header": "x" } }), "headers.Bad Header"),
        (json!({ "url": "https://example.com/", "timeout_ms": 5 }), "timeout_ms"),
    ] {
        let r = app.as_user(&s, Method::POST, &path).json(&body).send().await.expect("send");
        let err = assert_error(r, 422, "validation_failed").await;
        assert_eq!(err["error"]["details"]["field"], field, "{body}: {err}");
    }

    // With the default policy, loopback is refused with the outbound code.
    let strict = spawn_app_with(|c| c.outbound.allow_private = false).await;
    let s = strict.register("probe-strict@example.com").await;
    let bot = new_bot(&strict, &s, "Orders").await;
    let fake = FakeServer::start(order_api()).await;
    let r = strict
        .as_user(&s, Method::POST, &format!("/api/v1/bots/{bot}/flows/test-request"))
        .json(&json!({ "url": format!("{}/orders/1", fake.base) }))
        .send()
        .await
        .expect("send");
    let err = assert_error(r, 422, "url_not_allowed").await;
    assert_eq!(err["error"]["details"]["field"], "url");
    assert!(fake.requests().is_empty(), "nothing was sent");

    // Another organization's bot is not found.
    let other = app.register("probe-other@example.com").await;
    let r = app
        .as_user(&other, Method::POST, &path)
        .json(&json!({ "url": "https://example.com/" }))
        .send()
        .await
        .expect("send");
    assert_error(r, 404, "bot_not_found").await;
}

//! Browser tests of the conversation runtime: the widget embedded in a page
//! of another origin (CORS, SSE), and the flow builder with the emulator.

// End-to-end scenarios read best as one story each.
#![allow(clippy::too_many_lines, reason = "each test is one end-to-end scenario")]

use std::time::{Duration, Instant};

use actix_web::{HttpResponse, web};
use fantoccini::actions::{InputSource, MOUSE_BUTTON_LEFT, MouseActions, PointerAction};
use fantoccini::{Locator, elements::Element};
use reqwest::Method;
use serde_json::json;

use crate::browser::{Browser, with_browser};
use crate::helpers::{call_ok, spawn_app};

/// Polls `js` (a function body returning a string) until `ok` accepts its result.
async fn wait_js(b: &Browser, js: &str, secs: u64, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut last = String::new();
    loop {
        if let Ok(v) = b.client.execute(js, vec![]).await {
            v.as_str().unwrap_or_default().clone_into(&mut last);
            if ok(&last) {
                return last;
            }
        }
        assert!(Instant::now() < deadline, "`{js}` never gave the expected value; last: {last:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The text of every widget message of `role`, joined by `|`.
fn widget_messages(role: &str) -> String {
    format!(
        "const h = document.getElementById('bb-widget-host'); if (!h || !h.shadowRoot) return '';
         return [...h.shadowRoot.querySelectorAll('.msg.{role}')].map(m => m.textContent).join('|');"
    )
}

async fn widget_send(b: &Browser, text: &str) {
    b.client
        .execute(
            "const r = document.getElementById('bb-widget-host').shadowRoot;
             const i = r.querySelector('form input'); i.value = arguments[0];
             r.querySelector('form').requestSubmit();",
            vec![json!(text)],
        )
        .await
        .expect("send in the widget");
}

/// A page of another origin (another port on loopback) embedding the widget by one script tag.
fn host_page(app_url: &str, key: &str) -> String {
    let html = format!(
        "<!doctype html><html><head><title>Shop</title></head><body><h1>Our shop</h1>\
         <script src=\"{app_url}/widget.js\" data-bot-key=\"{key}\" async></script></body></html>"
    );
    let server = actix_web::HttpServer::new(move || {
        let html = html.clone();
        actix_web::App::new().route(
            "/",
            web::get().to(move || {
                let html = html.clone();
                async move { HttpResponse::Ok().content_type("text/html; charset=utf-8").body(html) }
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .expect("bind the shop page");
    let addr = server.addrs()[0];
    tokio::spawn(server.run());
    format!("http://{addr}")
}

#[tokio::test]
async fn the_widget_converses_from_a_page_of_another_origin() {
    let app = spawn_app().await;
    let s = app.register("widget-browser@example.com").await;
    let bot = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/orgs/{}/bots", s.org_id),
        Some(json!({ "name": "Shop bot" })),
    )
    .await["id"]
        .as_i64()
        .expect("bot");
    let flow = json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "ask", "type": "question", "data": { "prompt": { "text": "Your name?" }, "variable": "name" } },
            { "id": "hi", "type": "message", "data": { "text": "Nice to meet you, {{name}}!" } },
            { "id": "human", "type": "handoff", "data": { "message": { "text": "A colleague will join." } } },
            { "id": "bye", "type": "end", "data": { "message": { "text": "Bye!" } } }
        ],
        "edges": [
            { "source": "start", "target": "ask" }, { "source": "ask", "target": "hi" },
            { "source": "ask", "port": "invalid", "target": "hi" }, { "source": "hi", "target": "human" },
            { "source": "human", "target": "bye" }
        ]
    });
    call_ok(&app, &s, Method::PUT, &format!("/api/v1/bots/{bot}/flows/main"), Some(json!({ "document": flow }))).await;
    call_ok(&app, &s, Method::POST, &format!("/api/v1/bots/{bot}/flows/main/publish"), Some(json!({}))).await;
    let key = call_ok(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/widget"), None).await["widget_key"]
        .as_str()
        .expect("key")
        .to_owned();
    let page = host_page(&app.address, &key);
    call_ok(
        &app,
        &s,
        Method::PUT,
        &format!("/api/v1/bots/{bot}/widget"),
        Some(json!({ "config": { "title": "Shop help", "primary_color": "#0f766e" }, "allowed_origins": [page] })),
    )
    .await;
    assert_ne!(page, app.address, "the page is of another origin");

    with_browser("widget_other_origin", |b| async move {
        b.client.goto(&page).await.expect("goto the shop");
        wait_js(
            &b,
            "const h = document.getElementById('bb-widget-host'); return h && h.shadowRoot && h.shadowRoot.querySelector('.launcher') ? 'yes' : '';",
            15,
            |v| v == "yes",
        )
        .await;
        b.client
            .execute("document.getElementById('bb-widget-host').shadowRoot.querySelector('.launcher').click()", vec![])
            .await
            .expect("open the widget");
        wait_js(&b, &widget_messages("bot"), 15, |v| v.contains("Your name?")).await;
        widget_send(&b, "Ada").await;
        let said = wait_js(&b, &widget_messages("bot"), 15, |v| v.contains("A colleague will join.")).await;
        assert!(said.contains("Nice to meet you, Ada!"), "{said}");

        // An agent answers from the inbox API: the reply reaches the page over SSE.
        let conv: i64 =
            app.sql(|c| c.query_row("SELECT id FROM conversations WHERE channel = 'widget'", [], |r| r.get(0)));
        call_ok(&app, &s, Method::POST, &format!("/api/v1/conversations/{conv}/assign"), Some(json!({}))).await;
        call_ok(
            &app,
            &s,
            Method::POST,
            &format!("/api/v1/conversations/{conv}/reply"),
            Some(json!({ "text": "Hello Ada, Ann here." })),
        )
        .await;
        wait_js(&b, &widget_messages("agent"), 15, |v| v.contains("Hello Ada, Ann here.")).await;

        // A reload of the page keeps the conversation (session kept per browser tab).
        b.client.refresh().await.expect("reload");
        wait_js(
            &b,
            // Only once the reloaded widget is there: the launcher opens its panel.
            "const h = document.getElementById('bb-widget-host'); if (!h || !h.shadowRoot) return ''; const l = h.shadowRoot.querySelector('.launcher'); const p = h.shadowRoot.querySelector('.panel'); if (!l || !p) return ''; if (p.hidden) l.click(); return 'ok';",
            15,
            |v| v == "ok",
        )
        .await;
        let all = wait_js(&b, &widget_messages("agent"), 15, |v| v.contains("Ann here")).await;
        assert!(all.contains("Hello Ada"), "{all}");
        let stored: i64 = app.sql(|c| {
            c.query_row("SELECT count(*) FROM widget_messages WHERE conversation_id = ?1 AND role = 'user'", [conv], |r| {
                r.get(0)
            })
        });
        assert_eq!(stored, 1);
        b.client.clone().close().await.expect("close");
    })
    .await;
}

async fn element(b: &Browser, css: &str) -> Element {
    b.client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
}

async fn wait_css_text(b: &Browser, css: &str, secs: u64, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Ok(el) = b.client.find(Locator::Css(css)).await
            && let Ok(text) = el.text().await
            && ok(&text)
        {
            return text;
        }
        assert!(Instant::now() < deadline, "{css} never showed the expected text");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Edits a form field as a person does: focus, the new text, then leave the field.
async fn type_text(b: &Browser, css: &str, text: &str) {
    b.client
        .execute(
            "const t = document.querySelector(arguments[0]); t.focus(); t.value = arguments[1];
             t.dispatchEvent(new Event('input', { bubbles: true }));
             t.dispatchEvent(new Event('change', { bubbles: true })); t.blur();",
            vec![json!(css), json!(text)],
        )
        .await
        .expect("type in the form");
}

/// Drags from one element to another with the mouse (pointer events).
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
}

#[tokio::test]
async fn the_flow_builder_validates_saves_publishes_and_the_emulator_traces() {
    let app = spawn_app().await;
    let s = app.register("builder@example.com").await;
    let bot = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/orgs/{}/bots", s.org_id),
        Some(json!({ "name": "Built bot" })),
    )
    .await["id"]
        .as_i64()
        .expect("bot");
    with_browser("flow_builder", |b| async move {
        b.sign_in(&app, "builder@example.com").await;

        b.client.goto(&app.url(&format!("/bots/{bot}/flows"))).await.expect("goto flows");
        b.fill("#new-flow-name", "main").await;
        b.click("#create-flow").await;
        b.wait_for_path(&format!("/bots/{bot}/flows/main")).await;
        element(&b, "[data-node-id='start']").await;

        // A new node that nothing reaches: a warning on the node, and the
        // draft still saves (issue 17: drafts always save; publishing refuses).
        b.click("button[data-add='message']").await;
        wait_css_text(&b, "[data-node-id='message_1'] .flow-node-issue", 10, |t| t.contains("reach")).await;
        wait_css_text(&b, "#save-state", 10, |t| t == "All changes saved").await;
        // The problems list says which findings must be fixed before publishing.
        wait_css_text(&b, "#issues-blocking", 10, |t| t.contains("before publishing")).await;
        wait_css_text(&b, "#issues li[data-code='unreachable_node'] .badge", 10, |t| t == "before publishing").await;
        app.wait_for_sql(
            "the unfinished draft was not saved",
            |c| {
                c.query_row(
                    "SELECT flow_data FROM bot_flows WHERE bot_id = ?1 ORDER BY version DESC LIMIT 1",
                    [bot],
                    |r| r.get::<_, String>(0),
                )
            },
            |draft| draft.contains("message_1"),
        )
        .await;

        // Connect start → message_1 by dragging from the port to the node.
        let port = element(&b, "[data-node-id='start'] .flow-port[data-port='next'] i").await;
        let target = element(&b, "[data-node-id='message_1'] .flow-node-body").await;
        drag(&b, &port, &target).await;
        element(&b, "path[data-edge='start:next>message_1']").await;
        wait_css_text(&b, "#save-state", 10, |t| t == "All changes saved").await;

        // Edit the text in the side panel; undo and redo it.
        b.click("[data-node-id='message_1'] .flow-node-head").await;
        element(&b, "#nf-text").await;
        type_text(&b, "#nf-text", "Hello from the builder").await;
        wait_css_text(&b, "[data-node-id='message_1'] .flow-node-body", 5, |t| t == "Say: Hello from the builder")
            .await;
        b.click("#undo").await;
        wait_css_text(&b, "[data-node-id='message_1'] .flow-node-body", 5, |t| t == "Say: Hello!").await;
        b.click("#redo").await;
        wait_css_text(&b, "[data-node-id='message_1'] .flow-node-body", 5, |t| t == "Say: Hello from the builder")
            .await;
        // Auto-saved: the newest stored version has the text.
        app.wait_for_sql(
            "the draft was not auto-saved",
            |c| {
                c.query_row(
                    "SELECT flow_data FROM bot_flows WHERE bot_id = ?1 ORDER BY version DESC LIMIT 1",
                    [bot],
                    |r| r.get::<_, String>(0),
                )
            },
            |draft| draft.contains("Hello from the builder"),
        )
        .await;
        wait_css_text(&b, "#save-state", 10, |t| t == "All changes saved").await;

        // Zoom changes the scale.
        b.click("#zoom-in").await;
        wait_css_text(&b, "#zoom-level", 5, |t| t == "120%").await;

        // Publish with a message.
        b.fill("#publish-message", "first release").await;
        b.click("#publish").await;
        wait_css_text(&b, "#versions", 10, |t| t.contains("published") && t.contains("first release")).await;
        let published: String = app.sql(|c| {
            c.query_row("SELECT flow_data FROM bot_flows WHERE bot_id = ?1 AND is_active = 1", [bot], |r| r.get(0))
        });
        assert!(published.contains("Hello from the builder"), "{published}");

        // A new draft: the diff against the published version names the node; roll back to v1.
        b.click("[data-node-id='message_1'] .flow-node-head").await;
        element(&b, "#nf-text").await;
        type_text(&b, "#nf-text", "Second wording").await;
        // Saved as a new draft version, newer than the published one.
        wait_css_text(&b, "#draft-line", 10, |t| {
            let n: Vec<&str> = t.split(" v").skip(1).map(|x| x.split(' ').next().unwrap_or("")).collect();
            n.len() == 2 && n[0] != n[1]
        })
        .await;
        b.click("#versions tr:has(.badge.ok) .diff-btn").await;
        wait_css_text(&b, "#diff", 10, |t| t.contains("Node message_1 changed")).await;
        b.client.execute("window.confirm = () => true;", vec![]).await.expect("confirm");
        b.click("#versions tr[data-version='1'] .rollback-btn").await;
        app.wait_for_sql(
            "the rollback did not publish v1 (live version)",
            |c| c.query_row("SELECT version FROM bot_flows WHERE bot_id = ?1 AND is_active = 1", [bot], |r| r.get(0)),
            |live: &i64| *live == 1,
        )
        .await;

        // The emulator runs the draft and shows the trace.
        b.client.goto(&app.url(&format!("/bots/{bot}/emulator"))).await.expect("goto emulator");
        b.click("#emulator-start").await;
        // The draft (not the rolled-back published version) runs by default.
        wait_css_text(&b, "#emulator-log", 10, |t| t.contains("Second wording")).await;
        element(&b, "#debugger [data-turn='0'] li[data-node='message_1']").await;
        let nlu = wait_css_text(&b, "#debugger [data-section='nlu']", 5, |t| !t.is_empty()).await;
        assert!(nlu.contains("NLU"), "{nlu}");
        b.client.clone().close().await.expect("close");
    })
    .await;
}

#[tokio::test]
async fn the_inbox_is_live_and_agents_take_reply_and_hand_back() {
    let app = spawn_app().await;
    let s = app.register("agent-ui@example.com").await;
    let bot = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/orgs/{}/bots", s.org_id),
        Some(json!({ "name": "Help bot" })),
    )
    .await["id"]
        .as_i64()
        .expect("bot");
    let flow = json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "ask", "type": "question", "data": { "prompt": { "text": "How can I help?" }, "variable": "topic" } },
            { "id": "human", "type": "handoff", "data": { "note": "about {{topic}}" } },
            { "id": "bye", "type": "end", "data": { "message": { "text": "Back with the bot. Bye!" } } }
        ],
        "edges": [
            { "source": "start", "target": "ask" }, { "source": "ask", "target": "human" },
            { "source": "ask", "port": "invalid", "target": "human" }, { "source": "human", "target": "bye" }
        ]
    });
    call_ok(&app, &s, Method::PUT, &format!("/api/v1/bots/{bot}/flows/main"), Some(json!({ "document": flow }))).await;
    call_ok(&app, &s, Method::POST, &format!("/api/v1/bots/{bot}/flows/main/publish"), Some(json!({}))).await;
    with_browser("inbox_live", |b| async move {
        b.sign_in(&app, "agent-ui@example.com").await;
        b.client.goto(&app.url("/inbox")).await.expect("goto inbox");
        wait_css_text(&b, "#inbox-live", 10, |t| t == "live").await;
        wait_css_text(&b, "#inbox-list", 10, |t| t.contains("Nobody is waiting")).await;

        // A customer's conversation reaches the handoff node: it appears without a reload.
        let turn = call_ok(
            &app,
            &s,
            Method::POST,
            &format!("/api/v1/bots/{bot}/conversations"),
            Some(json!({ "external_user_id": "carol" })),
        )
        .await;
        let conv = turn["conversation_id"].as_i64().expect("id");
        call_ok(
            &app,
            &s,
            Method::POST,
            &format!("/api/v1/conversations/{conv}/messages"),
            Some(json!({ "text": "my invoice" })),
        )
        .await;
        wait_css_text(&b, "#inbox-list", 10, |t| t.contains("carol")).await;
        b.click(&format!("#inbox-list li[data-conversation='{conv}'] a")).await;
        wait_css_text(&b, "#conversation-panel", 10, |t| t.contains("about my invoice")).await;

        // Take, reply, and see the customer's next message arrive live.
        b.click("#take").await;
        wait_css_text(&b, "#conversation-panel", 10, |t| t.contains("Assigned to")).await;
        b.fill("#agent-text", "Hi Carol, I am looking at it.").await;
        b.click("#send-reply").await;
        wait_css_text(&b, "#conversation-panel .chat-msg.agent", 10, |t| t.contains("looking at it")).await;
        call_ok(
            &app,
            &s,
            Method::POST,
            &format!("/api/v1/conversations/{conv}/messages"),
            Some(json!({ "text": "thanks!" })),
        )
        .await;
        wait_css_text(&b, "#conversation-panel", 10, |t| t.contains("thanks!")).await;

        // Hand back: the flow continues after the handoff node.
        b.click("#hand-back").await;
        wait_css_text(&b, "#conversation-panel", 10, |t| t.contains("Back with the bot. Bye!")).await;
        wait_css_text(&b, "#conversation-status", 10, |t| t == "open").await;
        let agent_messages: i64 = app.sql(|c| {
            c.query_row(
                "SELECT count(*) FROM widget_messages WHERE conversation_id = ?1 AND role = 'agent'",
                [conv],
                |r| r.get(0),
            )
        });
        assert_eq!(agent_messages, 1);

        // The transcript search finds it.
        b.client.goto(&app.url(&format!("/bots/{bot}/conversations"))).await.expect("goto transcripts");
        b.fill("#transcript-search", "invoice").await;
        b.click("form.card button[type=submit]").await;
        wait_css_text(&b, "#transcript-list", 10, |t| t.contains("carol")).await;
        b.client.clone().close().await.expect("close");
    })
    .await;
}

#[tokio::test]
async fn the_widget_designer_previews_saves_and_rotates_the_key() {
    let app = spawn_app().await;
    let s = app.register("designer@example.com").await;
    let bot = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/orgs/{}/bots", s.org_id),
        Some(json!({ "name": "Styled bot" })),
    )
    .await["id"]
        .as_i64()
        .expect("bot");
    with_browser("widget_designer", |b| async move {
        b.sign_in(&app, "designer@example.com").await;
        b.client.goto(&app.url(&format!("/bots/{bot}/widget"))).await.expect("goto designer");
        let preview_title = "const h = document.querySelector('#widget-preview > div'); \
             return h && h.shadowRoot && h.shadowRoot.querySelector('.head') ? h.shadowRoot.querySelector('.head').textContent : '';";
        wait_js(&b, preview_title, 10, |t| t.contains("Styled bot")).await;
        b.fill("#w-title", "Ask us").await;
        wait_js(&b, preview_title, 10, |t| t.contains("Ask us")).await;
        b.fill("#w-origins", "https://shop.example.com").await;
        b.click("#save-widget").await;
        app.wait_for_sql(
            "the widget settings were not saved (config, origins)",
            |c| {
                c.query_row(
                    "SELECT coalesce(w.config, '{}'), coalesce(w.allowed_origins, '[]') FROM widget_configs w WHERE w.bot_id = ?1",
                    [bot],
                    |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
                )
                .or_else(|_| Ok((String::new(), String::new())))
            },
            |(config, origins)| config.contains("Ask us") && origins.contains("https://shop.example.com"),
        )
        .await;
        let old_key = element(&b, "#widget-key").await.text().await.expect("key");
        b.client.execute("window.confirm = () => true;", vec![]).await.expect("confirm");
        b.click("#rotate-key").await;
        let new_key = wait_css_text(&b, "#widget-key", 10, |t| !t.is_empty() && t != old_key).await;
        let stored: String = app.sql(|c| c.query_row("SELECT widget_key FROM bots WHERE id = ?1", [bot], |r| r.get(0)));
        assert_eq!(stored, new_key);
        b.client.clone().close().await.expect("close");
    })
    .await;
}

#[tokio::test]
async fn bot_settings_canned_messages_and_the_orchestration_editor() {
    let app = spawn_app().await;
    let s = app.register("settings-ui@example.com").await;
    let bot = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/orgs/{}/bots", s.org_id),
        Some(json!({ "name": "Config bot" })),
    )
    .await["id"]
        .as_i64()
        .expect("bot");
    let team = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/orgs/{}/teams", s.org_id),
        Some(json!({ "name": "Billing" })),
    )
    .await["id"]
        .as_i64()
        .expect("team");
    for name in ["main", "billing"] {
        let doc = json!({ "nodes": [ { "id": "start", "type": "start" }, { "id": "hi", "type": "message", "data": { "text": format!("{name} flow") } } ],
                          "edges": [ { "source": "start", "target": "hi" } ] });
        call_ok(&app, &s, Method::PUT, &format!("/api/v1/bots/{bot}/flows/{name}"), Some(json!({ "document": doc })))
            .await;
    }
    with_browser("bot_settings", |b| async move {
        b.sign_in(&app, "settings-ui@example.com").await;
        b.client.goto(&app.url(&format!("/bots/{bot}"))).await.expect("goto bot");
        // Settings: team, handoff keywords, CSAT.
        element(&b, &format!("#team_id option[value='{team}']")).await;
        b.client
            .execute(
                "const s = document.querySelector('#team_id'); s.value = arguments[0]; s.dispatchEvent(new Event('change', { bubbles: true }));",
                vec![json!(team.to_string())],
            )
            .await
            .expect("pick the team");
        let keywords = element(&b, "#handoff_keywords").await;
        keywords.send_keys(", billing person").await.expect("type");
        b.click("#csat_enabled").await;
        b.click("#save-bot").await;
        app.wait_for_sql(
            "settings not saved (team, settings)",
            |c| {
                c.query_row("SELECT team_id, settings FROM bots WHERE id = ?1", [bot], |r| {
                    Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, String>(1)?))
                })
            },
            |(team_id, settings)| {
                *team_id == Some(team) && settings.contains("billing person") && settings.contains("\"csat_enabled\":true")
            },
        )
        .await;
        // A canned message.
        b.fill("#canned input[placeholder^='keywords']", "opening hours").await;
        b.fill("#canned input[placeholder='Text']", "We open at nine.").await;
        b.click("#canned button[type=submit]").await;
        wait_css_text(&b, "#canned table", 10, |t| t.contains("We open at nine.")).await;

        // The orchestration editor: entry flow, a keyword transition, a typed variable.
        b.click("a[data-bot-tab='orchestrations']").await;
        b.click("#new-orchestration").await;
        b.click("#add-transition").await;
        b.client
            .execute(
                "const row = document.querySelector('#transitions tbody tr'); const sel = row.querySelectorAll('select');
                 sel[2].value = 'billing'; sel[2].dispatchEvent(new Event('change', { bubbles: true }));",
                vec![],
            )
            .await
            .expect("target flow");
        b.fill("#transitions .trigger-value", "invoice, refund").await;
        b.click("#add-variable").await;
        b.fill("#variables tbody tr input", "customer_tier").await;
        b.click("#save-orchestration").await;
        app.wait_for_sql(
            "orchestration not saved (transitions, variables)",
            |c| {
                let rows: i64 = c.query_row(
                    "SELECT count(*) FROM flow_transitions t JOIN flow_orchestrations o ON o.id = t.orchestration_id
                     WHERE o.bot_id = ?1 AND t.to_flow = 'billing' AND t.trigger_type = 'on_keyword' AND t.trigger_value LIKE '%refund%'",
                    [bot],
                    |r| r.get(0),
                )?;
                let vars: i64 =
                    c.query_row("SELECT count(*) FROM flow_variables WHERE name = 'customer_tier'", [], |r| r.get(0))?;
                Ok((rows, vars))
            },
            |counts| *counts == (1, 1),
        )
        .await;
        b.client.clone().close().await.expect("close");
    })
    .await;
}

/// Colour swatches set the widget's colours; the embed code and a new API
/// token each have a copy button that puts the exact text on the clipboard
/// (backup codes use the same button).
#[tokio::test]
async fn swatches_pick_widget_colours_and_copy_buttons_copy_the_embed_code_and_a_token() {
    let app = spawn_app().await;
    let s = app.register("swatches@example.com").await;
    let bot =
        call_ok(&app, &s, Method::POST, &format!("/api/v1/orgs/{}/bots", s.org_id), Some(json!({ "name": "Colours" })))
            .await["id"]
            .as_i64()
            .expect("bot");
    with_browser("swatches_and_copy", |b| async move {
        b.sign_in(&app, "swatches@example.com").await;
        b.client.goto(&app.url(&format!("/bots/{bot}/widget"))).await.expect("goto widget");
        b.click("[data-swatch='primary_color:#0f766e']").await;
        let value = b.element("#w-primary_color").await.prop("value").await.expect("value");
        assert_eq!(value.as_deref(), Some("#0f766e"));
        b.click("#save-widget").await;
        app.wait_for_sql(
            "the swatch colour was not saved",
            |c| {
                c.query_row(
                    "SELECT coalesce((SELECT config FROM widget_configs WHERE bot_id = ?1), '{}')",
                    [bot],
                    |r| r.get::<_, String>(0),
                )
            },
            |config| config.contains("#0f766e"),
        )
        .await;
        // The clipboard records what it is given (headless Chromium has no clipboard to read back).
        b.client
            .execute(
                "navigator.clipboard.writeText = (t) => { window.__copied = t; return Promise.resolve(); };",
                vec![],
            )
            .await
            .expect("stub the clipboard");
        let embed = b.text_of("#embed-code").await;
        b.click("#copy-embed").await;
        b.wait_for_text("#copy-embed", "Copied").await;
        let copied = b.client.execute("return window.__copied || '';", vec![]).await.expect("copied");
        assert_eq!(copied.as_str().map(str::trim), Some(embed.trim()));
        assert!(embed.contains("<script"), "{embed}");

        // A new API token, shown once, copies exactly.
        b.client.goto(&app.url("/api-tokens")).await.expect("goto tokens");
        b.fill("#create-token #name", "CI").await;
        b.click("#create-token input[value='bots.read']").await;
        b.click("#create-token button[type=submit]").await;
        let token = b.text_of("#new-token").await;
        b.client
            .execute(
                "navigator.clipboard.writeText = (t) => { window.__copied = t; return Promise.resolve(); };",
                vec![],
            )
            .await
            .expect("stub the clipboard");
        b.click("#copy-token").await;
        b.wait_for_text("#copy-token", "Copied").await;
        let copied = b.client.execute("return window.__copied || '';", vec![]).await.expect("copied");
        assert!(token.starts_with("bb_"), "{token}");
        assert_eq!(copied.as_str(), Some(token.as_str()));
        b.client.clone().close().await.expect("close");
    })
    .await;
}

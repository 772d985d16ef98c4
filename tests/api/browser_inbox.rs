//! Browser tests of the widget's handoff wording and welcome, the agents'
//! inbox (following the conversation, canned replies by `/`, the unread
//! badge, the phone layout) and unset variables marked in the emulator.

// End-to-end scenarios read best as one story each.
#![allow(clippy::too_many_lines, reason = "each test is one end-to-end scenario")]

use std::time::{Duration, Instant};

use actix_web::{HttpResponse, web};
use reqwest::Method;
use serde_json::{Value, json};

use crate::browser::{Browser, with_browser};
use crate::helpers::{Session, TestApp, call_ok, spawn_app};

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

async fn js(b: &Browser, js: &str) -> String {
    let v = b.client.execute(js, vec![]).await.expect("script");
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

/// Saves `doc` as flow `main` and publishes it; returns the bot.
async fn bot_with(app: &TestApp, s: &Session, name: &str, doc: Value) -> i64 {
    let bot = call_ok(app, s, Method::POST, &format!("/api/v1/orgs/{}/bots", s.org_id), Some(json!({ "name": name })))
        .await["id"]
        .as_i64()
        .expect("bot");
    call_ok(app, s, Method::PUT, &format!("/api/v1/bots/{bot}/flows/main"), Some(json!({ "document": doc }))).await;
    call_ok(app, s, Method::POST, &format!("/api/v1/bots/{bot}/flows/main/publish"), Some(json!({}))).await;
    bot
}

/// Asks a name, then hands off to a person.
fn handoff_flow() -> Value {
    json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "ask", "type": "question", "data": { "prompt": { "text": "Your name?" }, "variable": "name" } },
            { "id": "human", "type": "handoff", "data": { "message": { "text": "A colleague will join." } } },
            { "id": "bye", "type": "end", "data": { "message": { "text": "Bye!" } } }
        ],
        "edges": [
            { "source": "start", "target": "ask" }, { "source": "ask", "target": "human" },
            { "source": "ask", "port": "invalid", "target": "human" }, { "source": "human", "target": "bye" }
        ]
    })
}

/// An API conversation of `user` at the handoff node (the visitor said `user` as their name).
async fn waiting_conversation(app: &TestApp, s: &Session, bot: i64, user: &str) -> i64 {
    let turn = call_ok(
        app,
        s,
        Method::POST,
        &format!("/api/v1/bots/{bot}/conversations"),
        Some(json!({ "external_user_id": user })),
    )
    .await;
    let id = turn["conversation_id"].as_i64().expect("id");
    let turn =
        call_ok(app, s, Method::POST, &format!("/api/v1/conversations/{id}/messages"), Some(json!({ "text": user })))
            .await;
    assert_eq!(turn["status"], "handoff", "{turn}");
    id
}

/// A page of another origin embedding the widget by one script tag.
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

const OPEN_WIDGET: &str = "const h = document.getElementById('bb-widget-host');
    if (!h || !h.shadowRoot) return '';
    const l = h.shadowRoot.querySelector('.launcher'); const p = h.shadowRoot.querySelector('.panel');
    if (!l || !p) return '';
    if (p.hidden) l.click();
    return 'open';";

fn widget_js(body: &str) -> String {
    format!("const r = document.getElementById('bb-widget-host').shadowRoot; {body}")
}

#[tokio::test]
async fn the_widget_welcomes_once_and_says_chatting_with_a_person_only_after_an_agent_takes_it() {
    let app = spawn_app().await;
    let s = app.register("widget-welcome@example.com").await;
    let bot = bot_with(&app, &s, "Shop bot", handoff_flow()).await;
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
        Some(json!({ "config": { "welcome_message": "Welcome to the shop!" }, "allowed_origins": [page] })),
    )
    .await;
    let welcomes = widget_js(
        "return String([...r.querySelectorAll('.msg')].filter(m => m.textContent === 'Welcome to the shop!').length);",
    );
    let banner = widget_js("const b = r.querySelector('.banner'); return b && !b.hidden ? b.textContent : '';");
    let bot_said =
        widget_js("return [...r.querySelectorAll('.msg.bot, .msg.system')].map(m => m.textContent).join('|');");

    with_browser("widget_welcome_once", |b| async move {
        b.client.goto(&page).await.expect("goto the shop");
        wait_js(&b, OPEN_WIDGET, 15, |v| v == "open").await;
        wait_js(&b, &bot_said, 15, |v| v.contains("Your name?")).await;
        assert_eq!(js(&b, &welcomes).await, "1");

        // The visitor asks for a person: waiting, not yet "chatting with a person".
        b.client
            .execute(
                &widget_js("const i = r.querySelector('form input'); i.value = 'Ada'; r.querySelector('form').requestSubmit();"),
                vec![],
            )
            .await
            .expect("send");
        wait_js(&b, &bot_said, 15, |v| v.contains("A colleague will join.")).await;
        let waiting = wait_js(&b, &banner, 10, |v| !v.is_empty()).await;
        assert!(waiting.contains("Waiting for a person"), "{waiting}");
        assert!(!waiting.contains("chatting with a person"), "{waiting}");

        // A reload continues the same conversation without a second welcome.
        b.client.refresh().await.expect("reload");
        wait_js(&b, OPEN_WIDGET, 15, |v| v == "open").await;
        wait_js(&b, &bot_said, 15, |v| v.contains("A colleague will join.")).await;
        assert_eq!(js(&b, &welcomes).await, "0", "the welcome is not shown again for the same conversation");
        let after_reload = wait_js(&b, &banner, 10, |v| !v.is_empty()).await;
        assert!(after_reload.contains("Waiting for a person"), "{after_reload}");

        // An agent takes it: now the visitor is told, live.
        let conv: i64 =
            app.sql(|c| c.query_row("SELECT id FROM conversations WHERE channel = 'widget'", [], |r| r.get(0)));
        call_ok(&app, &s, Method::POST, &format!("/api/v1/conversations/{conv}/assign"), Some(json!({}))).await;
        wait_js(&b, &banner, 10, |v| v.contains("You are chatting with a person.")).await;
        let sessions: i64 = app.sql(|c| c.query_row("SELECT count(*) FROM conversations WHERE channel = 'widget'", [], |r| r.get(0)));
        assert_eq!(sessions, 1);
        b.client.clone().close().await.expect("close");
    })
    .await;
}

#[tokio::test]
async fn the_inbox_follows_new_messages_and_offers_a_pill_when_scrolled_up() {
    let app = spawn_app().await;
    let s = app.register("inbox-follow@example.com").await;
    let bot = bot_with(&app, &s, "Help bot", handoff_flow()).await;
    let conv = waiting_conversation(&app, &s, bot, "Carol").await;
    // Enough of a backlog to scroll.
    for i in 0..30 {
        call_ok(
            &app,
            &s,
            Method::POST,
            &format!("/api/v1/conversations/{conv}/messages"),
            Some(json!({ "text": format!("line {i}") })),
        )
        .await;
    }
    let at_bottom = "const l = document.getElementById('conversation-log'); if (!l) return '';
        return l.scrollHeight > l.clientHeight + 50 && l.scrollHeight - l.scrollTop - l.clientHeight < 30 ? 'bottom' : 'not';";
    let last_visible = "const l = document.getElementById('conversation-log'); const m = l && l.lastElementChild;
        if (!m) return ''; const a = l.getBoundingClientRect(); const b = m.getBoundingClientRect();
        return b.bottom <= a.bottom + 2 && b.top >= a.top - 2 ? m.textContent : '';";
    with_browser("inbox_follow", |b| async move {
        b.sign_in(&app, "inbox-follow@example.com").await;
        b.client.goto(&app.url("/inbox")).await.expect("goto inbox");
        b.click(&format!("#inbox-list li[data-conversation='{conv}'] a")).await;
        b.wait_for_text("#conversation-log", "line 29").await;
        wait_js(&b, at_bottom, 10, |v| v == "bottom").await;

        // A new message while at the bottom: followed.
        call_ok(&app, &s, Method::POST, &format!("/api/v1/conversations/{conv}/messages"), Some(json!({ "text": "are you there?" })))
            .await;
        wait_js(&b, last_visible, 10, |v| v.contains("are you there?")).await;
        assert!(b.client.find(fantoccini::Locator::Css("#new-messages")).await.is_err(), "no pill while following");

        // Scrolled up: the view stays, and a pill offers the new message.
        js(&b, "document.getElementById('conversation-log').scrollTop = 0; document.getElementById('conversation-log').dispatchEvent(new Event('scroll')); return 'ok';").await;
        call_ok(&app, &s, Method::POST, &format!("/api/v1/conversations/{conv}/messages"), Some(json!({ "text": "hello??" })))
            .await;
        let pill = b.text_of("#new-messages").await;
        assert!(pill.contains("New messages"), "{pill}");
        let top = js(&b, "return String(document.getElementById('conversation-log').scrollTop);").await;
        assert_eq!(top, "0", "the agent's reading position is kept");
        b.click("#new-messages").await;
        wait_js(&b, last_visible, 10, |v| v.contains("hello??")).await;
        assert!(b.client.find(fantoccini::Locator::Css("#new-messages")).await.is_err(), "the pill is gone");

        // At 400 px the list and the conversation stack: one at a time, with a way back.
        b.client.set_window_size(400, 860).await.expect("resize");
        let shown = "const d = (s) => { const e = document.querySelector(s); return e && getComputedStyle(e).display !== 'none' ? 'y' : 'n'; };
            return d('.inbox-list-card') + d('#inbox-back') + d('#agent-text');";
        wait_js(&b, shown, 10, |v| v == "nyy").await;
        let wide = js(&b, "return String(document.documentElement.scrollWidth <= window.innerWidth + 1);").await;
        assert_eq!(wide, "true", "nothing wider than the phone");
        b.click("#inbox-back").await;
        wait_js(&b, shown, 10, |v| v.starts_with('y')).await;
        b.client.clone().close().await.expect("close");
    })
    .await;
}

#[tokio::test]
async fn canned_replies_insert_by_slash_and_the_unread_badge_counts_visitor_messages() {
    let app = spawn_app().await;
    let s = app.register("inbox-canned@example.com").await;
    let bot = bot_with(&app, &s, "Help bot", handoff_flow()).await;
    call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/orgs/{}/canned-replies", s.org_id),
        Some(json!({ "shortcut": "thanks", "text": "Thank you, {{visitor.name}}! One moment please." })),
    )
    .await;
    let badge = "const e = document.getElementById('inbox-unread-badge'); return e ? e.textContent : 'none';";
    with_browser("inbox_canned", |b| async move {
        b.sign_in(&app, "inbox-canned@example.com").await;
        assert_eq!(js(&b, badge).await, "none");

        // One visitor message so far (the name; the start carries no text).
        let conv = waiting_conversation(&app, &s, bot, "Dora").await;
        wait_js(&b, badge, 10, |v| v.starts_with('1')).await;
        call_ok(
            &app,
            &s,
            Method::POST,
            &format!("/api/v1/conversations/{conv}/messages"),
            Some(json!({ "text": "hi?" })),
        )
        .await;
        wait_js(&b, badge, 10, |v| v.starts_with('2')).await;

        // The list shows the count; opening the conversation reads it.
        b.click("a[href='/inbox']").await;
        let count = b.text_of(&format!("#inbox-list li[data-conversation='{conv}'] .unread-count")).await;
        assert!(count.starts_with('2'), "{count}");
        b.click(&format!("#inbox-list li[data-conversation='{conv}'] a")).await;
        wait_js(&b, badge, 10, |v| v == "none").await;

        // Take it; `/tha` offers the canned reply, Enter inserts it with the visitor's name.
        b.click("#take").await;
        b.wait_for_text("#conversation-panel", "Assigned to").await;
        b.fill("#agent-text", "/tha").await;
        let offered = b.text_of("#canned-suggestions").await;
        assert!(offered.contains("/thanks"), "{offered}");
        b.fill("#agent-text", "\u{E007}").await;
        let filled =
            wait_js(&b, "return document.getElementById('agent-text').value;", 10, |v| v.starts_with("Thank you"))
                .await;
        assert_eq!(filled, "Thank you, Dora! One moment please.");
        b.click("#send-reply").await;
        b.wait_for_text("#conversation-panel .chat-msg.agent", "Thank you, Dora!").await;
        let sent: String = app.sql(|c| {
            c.query_row(
                "SELECT content FROM widget_messages WHERE conversation_id = ?1 AND role = 'agent'",
                [conv],
                |r| r.get(0),
            )
        });
        assert_eq!(sent, "Thank you, Dora! One moment please.");

        // The manager adds one; a taken shortcut is refused next to its field.
        b.click("#canned-manage").await;
        b.fill("#canned-shortcut", "thanks").await;
        b.fill("#canned-text", "Again").await;
        b.click("#canned-save").await;
        b.wait_for_text("#canned-manager .field-error", "another canned reply").await;
        b.replace("#canned-shortcut", "bye").await;
        b.click("#canned-save").await;
        b.wait_for_text("#canned-list", "/bye").await;
        b.client.clone().close().await.expect("close");
    })
    .await;
}

#[tokio::test]
async fn the_emulator_marks_an_unset_variable_instead_of_leaving_a_blank() {
    let app = spawn_app().await;
    let s = app.register("emulator-unset@example.com").await;
    let flow = json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "hello", "type": "message", "data": { "text": "Hello {{name}}, welcome!" } },
            { "id": "ask", "type": "question", "data": { "prompt": { "text": "Your name?" }, "variable": "name" } },
            { "id": "done", "type": "message", "data": { "text": "Thanks {{name}}." } }
        ],
        "edges": [
            { "source": "start", "target": "hello" }, { "source": "hello", "target": "ask" },
            { "source": "ask", "target": "done" }, { "source": "ask", "port": "invalid", "target": "done" }
        ]
    });
    let bot = bot_with(&app, &s, "Greeter", flow).await;
    with_browser("emulator_unset_variable", |b| async move {
        b.sign_in(&app, "emulator-unset@example.com").await;
        b.client.goto(&app.url(&format!("/bots/{bot}/emulator"))).await.expect("goto emulator");
        b.click("#emulator-start").await;
        let gap = b.element("#emulator-log mark.template-gap").await;
        assert_eq!(gap.attr("title").await.expect("title").as_deref(), Some("variable name is not set"));
        assert!(gap.text().await.expect("text").starts_with("{{name}}"));
        let line = b.text_of("#emulator-log .chat-msg.bot").await;
        assert!(line.contains("Hello {{name}}") && line.contains("welcome!"), "{line}");
        let problems = b.text_of("#debugger [data-turn='0'] [data-section='problems']").await;
        assert!(problems.contains("unset variable: name"), "{problems}");

        // Once the variable has a value the reply reads normally.
        b.fill("#emulator-input", "Ada").await;
        b.click("#emulator-send").await;
        b.wait_for_text("#emulator-log", "Thanks Ada.").await;
        let gaps = js(&b, "return String(document.querySelectorAll('#emulator-log mark.template-gap').length);").await;
        assert_eq!(gaps, "1", "only the first reply had a gap");
        b.client.clone().close().await.expect("close");
    })
    .await;
}

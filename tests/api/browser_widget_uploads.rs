//! Browser test of widget uploads (issue 18): a visitor attaches an image in
//! the widget on a page of another origin (upload with progress, shown in the
//! thread), and the agent sees the thumbnail in the inbox transcript and
//! sends a file back from the reply box.

#![allow(clippy::too_many_lines, reason = "one end-to-end scenario")]

use std::time::{Duration, Instant};

use actix_web::{HttpResponse, web};
use reqwest::Method;

use crate::browser::{Browser, with_browser};
use crate::helpers::{call_ok, spawn_app};
use crate::widget_uploads::{PNG, widget_bot};

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

fn widget_js(body: &str) -> String {
    format!(
        "const h = document.getElementById('bb-widget-host'); if (!h || !h.shadowRoot) return ''; const r = h.shadowRoot; {body}"
    )
}

#[tokio::test]
async fn a_visitor_attaches_an_image_in_the_widget_and_the_agent_sees_it_in_the_inbox() {
    let app = spawn_app().await;
    let s = app.register("widget-upload-browser@example.com").await;
    let (_bot, key) = widget_bot(&app, &s).await;
    let page = host_page(&app.address, &key);
    let bytes = PNG.iter().map(u8::to_string).collect::<Vec<_>>().join(",");

    with_browser("widget_uploads", |b| async move {
        b.client.goto(&page).await.expect("goto the shop");
        let open = widget_js(
            "const l = r.querySelector('.launcher'); const p = r.querySelector('.panel'); if (!l || !p) return '';
             if (p.hidden) l.click(); return 'open';",
        );
        wait_js(&b, &open, 15, |v| v == "open").await;
        wait_js(&b, &widget_js("return [...r.querySelectorAll('.msg.bot')].map(m => m.textContent).join('|');"), 15, |v| {
            v.contains("Your name?")
        })
        .await;

        // The paper clip is a labelled, focusable button.
        let clip = widget_js(
            "const a = r.querySelector('button.attach'); if (!a || a.hidden) return 'missing'; a.focus();
             return (r.activeElement === a ? 'focused:' : 'unfocused:') + a.getAttribute('aria-label');",
        );
        assert_eq!(wait_js(&b, &clip, 5, |v| v != "missing").await, "focused:Attach a file");

        // The visitor picks an image (the picker's change event, with a real File).
        let pick = widget_js(&format!(
            "const dt = new DataTransfer();
             dt.items.add(new File([new Uint8Array([{bytes}])], 'holiday.png', {{ type: 'image/png' }}));
             const p = r.querySelector('input.picker'); p.files = dt.files; p.dispatchEvent(new Event('change'));
             return 'picked';"
        ));
        assert_eq!(wait_js(&b, &pick, 5, |v| v == "picked").await, "picked");
        // Shown in the thread, loaded from the session's file route.
        let shown = widget_js(
            "const i = r.querySelector('.att.user img'); return i && i.complete && i.naturalWidth > 0 ? i.alt : '';",
        );
        assert_eq!(wait_js(&b, &shown, 15, |v| !v.is_empty()).await, "holiday.png");
        let stored: i64 = app.sql(|c| c.query_row("SELECT count(*) FROM message_attachments", [], |r| r.get(0)));
        assert_eq!(stored, 1);

        // The visitor then answers the waiting questions and is handed to a person.
        for text in ["Ada", "ada@example.com"] {
            b.client
                .execute(
                    &widget_js(&format!(
                        "const i = r.querySelector('form input.input'); i.value = '{text}'; r.querySelector('form').requestSubmit(); return 'ok';"
                    )),
                    vec![],
                )
                .await
                .expect("send");
            wait_js(&b, &widget_js("return r.querySelector('.msg.user.pending') ? '' : 'done';"), 10, |v| v == "done").await;
        }
        let conv: i64 =
            app.sql(|c| c.query_row("SELECT id FROM conversations WHERE channel = 'widget'", [], |r| r.get(0)));

        // The agent sees the thumbnail in the inbox (downloaded with the session cookie).
        b.sign_in(&app, "widget-upload-browser@example.com").await;
        b.client.goto(&app.url("/inbox")).await.expect("goto inbox");
        b.click(&format!("#inbox-list li[data-conversation='{conv}'] a")).await;
        let thumb = "const i = document.querySelector('#conversation-log .chat-msg.user .chat-thumb img');
            return i && i.complete && i.naturalWidth > 0 ? i.alt : '';";
        assert_eq!(wait_js(&b, thumb, 15, |v| !v.is_empty()).await, "holiday.png");

        // The agent attaches a text file in the reply box and sends it.
        b.click("#take").await;
        b.wait_for_text("#conversation-panel", "Assigned to").await;
        let attach = "const dt = new DataTransfer();
            dt.items.add(new File(['opening hours: 9-17'], 'hours.txt', { type: 'text/plain' }));
            const p = document.getElementById('agent-file'); p.files = dt.files; p.dispatchEvent(new Event('change', { bubbles: true }));
            return 'ok';";
        wait_js(&b, attach, 5, |v| v == "ok").await;
        b.wait_for_text("#composer-files", "hours.txt").await;
        wait_js(&b, "const s = document.getElementById('send-reply'); return s && !s.disabled ? 'ready' : '';", 10, |v| v == "ready").await;
        b.click("#send-reply").await;
        b.wait_for_text("#conversation-log .chat-msg.agent .chat-file", "hours.txt").await;
        let sent: String = app.sql(|c| {
            c.query_row(
                "SELECT a.name FROM message_attachments a JOIN widget_messages m ON m.id = a.message_id WHERE m.role = 'agent'",
                [],
                |r| r.get(0),
            )
        });
        assert_eq!(sent, "hours.txt");
        let reply = call_ok(&app, &s, Method::GET, &format!("/api/v1/conversations/{conv}/messages"), None).await;
        assert!(reply.to_string().contains("hours.txt"), "{reply}");
        b.client.clone().close().await.expect("close");
    })
    .await;
}

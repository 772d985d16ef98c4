//! Browser test of conversation tests (issue 17, item 2): chat in the
//! emulator, save the conversation as a test, change the flow so a reply
//! differs, run the tests and see the diverging turn highlighted, publish
//! with a warning; and the flow list's duplicate and delete.

use std::time::{Duration, Instant};

use fantoccini::Locator;
use reqwest::Method;
use serde_json::{Value, json};

use crate::browser::{Browser, with_browser};
use crate::helpers::{call_ok, spawn_app};

/// Waits until the text of `css` satisfies `ok`.
async fn wait_text(b: &Browser, css: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut last = String::new();
    loop {
        if let Ok(el) = b.client.find(Locator::Css(css)).await
            && let Ok(t) = el.text().await
        {
            if ok(&t) {
                return t;
            }
            last = t;
        }
        assert!(Instant::now() < deadline, "{css} never matched; last text: {last:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn survey(thanks: &str) -> Value {
    json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "ask", "type": "question", "data": { "prompt": { "text": "Your name?" }, "variable": "name" } },
            { "id": "done", "type": "message", "data": { "text": thanks } }
        ],
        "edges": [ { "source": "start", "target": "ask" }, { "source": "ask", "target": "done" } ]
    })
}

#[tokio::test]
async fn a_conversation_saved_as_a_test_shows_where_a_changed_flow_diverges_and_publishing_warns() {
    let app = spawn_app().await;
    let s = app.register("bottests-browser@example.com").await;
    let bot = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/orgs/{}/bots", s.org_id),
        Some(json!({ "name": "Tested bot" })),
    )
    .await["id"]
        .as_i64()
        .expect("bot");
    let flow = format!("/api/v1/bots/{bot}/flows/main");
    call_ok(&app, &s, Method::PUT, &flow, Some(json!({ "document": survey("Thanks {{name}}!") }))).await;
    call_ok(&app, &s, Method::POST, &format!("{flow}/publish"), Some(json!({}))).await;

    with_browser("bot_tests", |b| async move {
        b.sign_in(&app, "bottests-browser@example.com").await;

        // Chat in the emulator and save the conversation as a test.
        b.client.goto(&app.url(&format!("/bots/{bot}/emulator"))).await.expect("goto emulator");
        b.click("#emulator-start").await;
        wait_text(&b, "#emulator-log", |t| t.contains("Your name?")).await;
        b.fill("#emulator-input", "Ann").await;
        b.click("#emulator-send").await;
        wait_text(&b, "#emulator-log", |t| t.contains("Thanks Ann!")).await;
        b.fill("#test-name", "Greets by name").await;
        b.click("#save-as-test-button").await;
        let turns = app
            .wait_for_sql(
                "the test was not saved",
                |c| {
                    c.query_row("SELECT coalesce((SELECT turns FROM bot_tests WHERE bot_id = ?1), '')", [bot], |r| {
                        r.get::<_, String>(0)
                    })
                },
                |t| t.contains("Thanks Ann!"),
            )
            .await;
        let turns: Value = serde_json::from_str(&turns).expect("turns");
        assert_eq!(turns[0]["user"], Value::Null, "{turns}");
        assert_eq!(turns[0]["replies"][0]["text"], "Your name?");
        assert_eq!(turns[1]["user"], "Ann");
        assert_eq!(turns[1]["variables"]["name"], "Ann", "{turns}");

        // The flow changes: the reply to the name differs.
        call_ok(&app, &s, Method::PUT, &flow, Some(json!({ "document": survey("Got it.") }))).await;

        // One click runs the tests against the draft; the diverging turn is highlighted.
        b.client.goto(&app.url(&format!("/bots/{bot}/tests"))).await.expect("goto tests");
        wait_text(&b, "[data-test='Greets by name']", |t| t.contains("Your name?")).await;
        b.click("#run-tests").await;
        wait_text(&b, "#run-summary", |t| t.contains("0 of 1 passed")).await;
        let diverged =
            wait_text(&b, "[data-test='Greets by name'] tr.diverged[data-turn='1']", |t| t.contains("Got it.")).await;
        assert!(diverged.contains("Thanks Ann!"), "expected and got side by side: {diverged}");
        assert!(diverged.contains("replies[0]"), "{diverged}");
        let status = b.element("[data-test='Greets by name']").await.attr("data-status").await.expect("attr");
        assert_eq!(status.as_deref(), Some("failed"));
        // The first turn still passed and is not highlighted.
        assert!(b.client.find(Locator::Css("[data-test='Greets by name'] tr.diverged[data-turn='0']")).await.is_err());

        // Publishing runs the tests and warns.
        b.client.goto(&app.url(&format!("/bots/{bot}/flows/main"))).await.expect("goto builder");
        wait_text(&b, "#draft-line", |t| t.contains("Draft v2")).await;
        b.click("#publish").await;
        wait_text(&b, "#publish-warnings", |t| t.contains("1 of 1 conversation tests failed")).await;
        let live: i64 = app.sql(|c| {
            c.query_row("SELECT version FROM bot_flows WHERE bot_id = ?1 AND is_active = 1", [bot], |r| r.get(0))
        });
        assert_eq!(live, 2, "a warning does not stop the publish");

        // The flow list: duplicate main, then delete the copy after confirming.
        b.client.goto(&app.url(&format!("/bots/{bot}/flows"))).await.expect("goto flows");
        b.click("tr[data-flow='main'] .duplicate-flow").await;
        b.replace(".flow-action .flow-action-name", "main_copy").await;
        b.click(".flow-action .flow-action-submit").await;
        b.element("tr[data-flow='main_copy']").await;
        b.client.execute("window.confirm = () => true;", vec![]).await.expect("confirm");
        b.click("tr[data-flow='main_copy'] .delete-flow").await;
        app.wait_for_sql(
            "the copy was not deleted",
            |c| c.query_row("SELECT count(*) FROM bot_flows WHERE name = 'main_copy'", [], |r| r.get::<_, i64>(0)),
            |n| *n == 0,
        )
        .await;
        // The entry flow cannot be deleted from the list.
        let disabled = b.element("tr[data-flow='main'] .delete-flow").await.attr("disabled").await.expect("attr");
        assert!(disabled.is_some());
    })
    .await;
}

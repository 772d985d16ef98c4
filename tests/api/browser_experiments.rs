//! Browser test of A/B experiments (issue 25, item 6): set up a flow test
//! on the Experiments page (the minimum sample size shows as the design is
//! filled in), start it, let real conversations through the API land in
//! its variants, see the live results, and declare the winner, which
//! publishes its flow version.

use reqwest::Method;
use serde_json::{Value, json};

use crate::browser::with_browser;
use crate::helpers::{call_ok, spawn_app};

fn flow(text: &str, close: bool) -> Value {
    let last = if close {
        json!({ "id": "done", "type": "end", "data": { "close_conversation": true } })
    } else {
        json!({ "id": "done", "type": "handoff", "data": { "message": { "text": "A colleague will help." } } })
    };
    json!({
        "nodes": [ { "id": "start", "type": "start" }, { "id": "hello", "type": "message", "data": { "text": text } }, last ],
        "edges": [ { "source": "start", "target": "hello" }, { "source": "hello", "target": "done" } ]
    })
}

#[tokio::test]
async fn an_experiment_is_set_up_started_followed_and_its_winner_declared_in_the_browser() {
    let app = spawn_app().await;
    let s = app.register("experiments-browser@example.com").await;
    let bot =
        call_ok(&app, &s, Method::POST, &format!("/api/v1/orgs/{}/bots", s.org_id), Some(json!({ "name": "AB bot" })))
            .await["id"]
            .as_i64()
            .expect("bot");
    let path = format!("/api/v1/bots/{bot}/flows/main");
    call_ok(&app, &s, Method::PUT, &path, Some(json!({ "document": flow("Old greeting.", false) }))).await;
    call_ok(&app, &s, Method::POST, &format!("{path}/publish"), Some(json!({}))).await;
    call_ok(&app, &s, Method::PUT, &path, Some(json!({ "document": flow("New greeting.", true) }))).await;

    with_browser("experiments", |b| async move {
        b.sign_in(&app, "experiments-browser@example.com").await;
        b.client.goto(&app.url(&format!("/bots/{bot}/experiments"))).await.expect("goto experiments");
        b.wait_for_text("#no-experiments", "No experiments yet").await;
        b.click("#new-experiment").await;
        b.fill("#experiment-name", "Greeting test").await;
        b.replace("tr[data-variant='0'] .variant-ref", "1").await;
        b.replace("tr[data-variant='1'] .variant-ref", "2").await;
        b.replace("#baseline-rate", "0.3").await;
        b.replace("#minimum-effect", "0.1").await;
        // The minimum sample size, live from the server.
        b.wait_for_text("#sample-size", "units per variant").await;
        b.replace("tr[data-variant='1'] .variant-share", "40").await;
        b.wait_for_text("#share-sum", "must be 100").await;
        b.replace("tr[data-variant='1'] .variant-share", "50").await;
        b.click("#create-experiment").await;
        b.wait_for_text("[data-experiment='Greeting test']", "draft").await;
        b.click("[data-experiment='Greeting test'] .start-experiment").await;
        b.wait_for_text("[data-experiment='Greeting test']", "running").await;

        // Real conversations through the API land in the variants.
        for n in 0..24 {
            call_ok(
                &app,
                &s,
                Method::POST,
                &format!("/api/v1/bots/{bot}/conversations"),
                Some(json!({ "external_user_id": format!("visitor-{n}") })),
            )
            .await;
        }
        let id: i64 = app.sql(|c| c.query_row("SELECT id FROM ab_tests WHERE bot_id = ?1", [bot], |r| r.get(0)));
        let units: i64 = app
            .sql(|c| c.query_row("SELECT sum(units) FROM ab_test_results WHERE ab_test_id = ?1", [id], |r| r.get(0)));
        assert_eq!(units, 24);
        b.client.refresh().await.expect("refresh");
        b.wait_for_text("#results-table", "Variant B").await;
        let table = b.text_of("#results-table").await;
        assert!(table.contains("Control"), "{table}");
        b.element(".experiment-results svg").await;
        b.wait_for_text("#comparisons", "Variant B").await;

        // Declare the winner: its version goes live.
        b.client.execute("window.confirm = () => true;", vec![]).await.expect("confirm");
        b.click("[data-experiment='Greeting test'] .declare-winner[data-variant='Variant B']").await;
        b.wait_for_text("[data-experiment='Greeting test'] .winner", "Variant B").await;
        let live = app
            .wait_for_sql(
                "the winner was not published",
                |c| {
                    c.query_row("SELECT version FROM bot_flows WHERE bot_id = ?1 AND is_active = 1", [bot], |r| {
                        r.get::<_, i64>(0)
                    })
                },
                |v| *v == 2,
            )
            .await;
        assert_eq!(live, 2);
        let status: String = app.sql(|c| c.query_row("SELECT status FROM ab_tests WHERE id = ?1", [id], |r| r.get(0)));
        assert_eq!(status, "completed");
    })
    .await;
}

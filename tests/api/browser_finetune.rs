//! Browser: the fine-tuning page — a dataset upload (a broken file names its
//! line, a valid one shows its validation report and preview), and two NLU
//! versions compared per intent, then rolled back.

use reqwest::Method;
use serde_json::{Value, json};

use crate::browser::with_browser;
use crate::helpers::{call_ok, spawn_app_with};

#[tokio::test]
async fn a_dataset_upload_shows_its_report_and_versions_compare() {
    let app = spawn_app_with(|c| c.ml.enabled = true).await;
    let s = app.register("ft-browser@example.com").await;
    let bot =
        call_ok(&app, &s, Method::POST, &format!("/api/v1/orgs/{}/bots", s.org_id), Some(json!({ "name": "Diner" })))
            .await["id"]
            .as_i64()
            .expect("bot");
    let intents: [(&str, [&str; 4]); 3] = [
        ("book", ["book a table for two", "reserve a table tonight", "table for four please", "I want to book dinner"]),
        (
            "hours",
            ["when are you open", "what are your opening hours", "are you open on sunday", "what time do you close"],
        ),
        ("menu", ["what is on the menu", "do you have vegan dishes", "show me the menu", "what desserts do you have"]),
    ];
    for (i, (name, texts)) in intents.iter().enumerate() {
        let examples: Vec<Value> = texts.iter().map(|t| json!({ "text": t })).collect();
        call_ok(
            &app,
            &s,
            Method::POST,
            &format!("/api/v1/bots/{bot}/nlu/intents"),
            Some(json!({ "name": name, "examples": examples })),
        )
        .await;
        // Version 1 knows two intents, version 2 all three.
        if i >= 1 {
            call_ok(&app, &s, Method::POST, &format!("/api/v1/bots/{bot}/nlu/train"), None).await;
            app.run_jobs().await;
        }
    }
    let versions = call_ok(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/nlu/models"), None).await;
    let id_of = |n: i64| {
        versions["items"].as_array().expect("items").iter().find(|v| v["version_number"] == n).expect("version")["id"]
            .as_i64()
            .expect("id")
    };
    let (v1, v2) = (id_of(1), id_of(2));
    let model = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/orgs/{}/fine-tuning/models", s.org_id),
        Some(json!({ "name": "Diner intents", "kind": "nlu_intent", "bot_id": bot })),
    )
    .await["id"]
        .as_i64()
        .expect("model");
    let files = tempfile::tempdir().expect("tempdir");
    let broken = files.path().join("broken.csv");
    std::fs::write(&broken, "text,label\nbook a table,book\n\"unterminated,book\n").expect("write");
    let good = files.path().join("diner.csv");
    std::fs::write(
        &good,
        "text,label\nbook a table,book\nopening hours,hours\nshow the menu,menu\nbook a table,book\nvegan food,menu\n",
    )
    .expect("write");

    with_browser("finetune", |b| async move {
        b.sign_in(&app, "ft-browser@example.com").await;
        b.client.goto(&app.url("/fine-tuning")).await.expect("goto");
        b.click(&format!("tr[data-ft-model='{model}'] a")).await;
        b.wait_for_text("h1", "Diner intents").await;
        b.select("#dataset-format", "csv").await;
        // A broken file: refused, its line named.
        b.fill("#dataset-file", &broken.display().to_string()).await;
        b.wait_for_text("#upload-error-line", "Line 3").await;
        // A valid file: the validation report and the preview.
        b.fill("#dataset-file", &good.display().to_string()).await;
        b.wait_for_text("#report-status", "problems found").await;
        assert_eq!(b.text_of("#report-duplicates").await, "1");
        assert!(b.text_of("#report-rows").await.starts_with("5 rows"));
        assert!(b.text_of("#report-tokens").await.contains("tokens"));
        b.wait_for_text("#label-balance", "book").await;
        b.wait_for_text("#dataset-preview", "show the menu").await;

        // Versions: v1 and v2 compared per intent.
        b.select("#compare-a", &v1.to_string()).await;
        b.select("#compare-b", &v2.to_string()).await;
        b.click("#compare-versions").await;
        let delta = b.wait_for_text("#per-intent tr[data-intent='menu'] td[data-delta]", "+").await;
        assert!(delta.starts_with('+'), "{delta}");
        b.wait_for_text("#comparison-f1", "Micro F1").await;
        // Roll back: version 1 is served again.
        b.click("#rollback").await;
        app.wait_for_sql(
            "v1 active",
            |c| {
                c.query_row("SELECT id FROM model_versions WHERE bot_id = ?1 AND is_active = 1", [bot], |r| {
                    r.get::<_, i64>(0)
                })
            },
            |id| *id == v1,
        )
        .await;
        b.client.clone().close().await.expect("close");
    })
    .await;
}

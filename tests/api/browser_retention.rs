//! The Data and retention page in headless Chromium: change a setting and
//! see it saved, archive expired rows and see the files, search an archive,
//! re-import a file; then import an organization export as a new
//! organization after reading its dry-run report.
#![allow(clippy::too_many_lines, reason = "one scenario through the whole page")]

use reqwest::Method;
use serde_json::json;

use crate::browser::with_browser;
use crate::helpers::{published_bot, spawn_app};

#[tokio::test]
async fn the_data_page_saves_settings_archives_searches_restores_and_imports_an_organization() {
    let app = spawn_app().await;
    let s = app.register("data-ui@example.com").await;
    let flow = json!({
        "nodes": [
            { "id": "start", "type": "start", "position": { "x": 0, "y": 0 } },
            { "id": "hi", "type": "message", "position": { "x": 0, "y": 100 }, "data": { "text": "Hi" } }
        ],
        "edges": [ { "source": "start", "target": "hi" } ]
    });
    let bot = published_bot(&app, &s, "Archivist", flow).await;
    let (status, turn) = app
        .call(&s, Method::POST, &format!("/api/v1/bots/{bot}/emulator"), Some(json!({ "source": "published" })))
        .await;
    assert_eq!(status, 200, "{turn}");
    let conv = turn["conversation_id"].as_i64().expect("conversation");
    // 600 messages of a year and a half ago: two archive files (500 + 100).
    app.sql(|c| {
        c.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 600)
             INSERT INTO widget_messages (organization_id, bot_id, conversation_id, session_id, role, content, created_at)
             SELECT ?1, ?2, ?3, 'old', 'user', 'old shipping question ' || i,
                    strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-540 days', '+' || i || ' seconds')
             FROM n",
            rusqlite::params![s.org_id, bot, conv],
        )
    });
    let old = move |c: &rusqlite::Connection| {
        c.query_row("SELECT count(*) FROM widget_messages WHERE session_id = 'old'", [], |r| r.get::<_, i64>(0))
    };
    // An organization export to import later (the file the owner would download).
    let (status, _) = app.call(&s, Method::POST, &format!("/api/v1/orgs/{}/export", s.org_id), None).await;
    assert_eq!(status, 202);
    app.run_jobs().await;
    let r = app.as_user(&s, Method::GET, &format!("/api/v1/orgs/{}/export", s.org_id)).send().await.expect("send");
    assert_eq!(r.status(), 200);
    let dir = tempfile::tempdir().expect("dir");
    let export_file = dir.path().join("org-export.zip");
    std::fs::write(&export_file, r.bytes().await.expect("bytes")).expect("write");
    let org = s.org_id;

    with_browser("data_and_retention_page", |b| async move {
        b.sign_in(&app, "data-ui@example.com").await;
        b.click("a[href='/retention']").await;
        b.wait_for_path("/retention").await;

        // Change a setting and save it.
        b.replace("#retention-settings #messages_days", "400").await;
        b.click("#retention-settings button[type=submit]").await;
        app.wait_for_sql(
            "settings saved",
            move |c| {
                // Polled before the save lands too: no row yet reads as "".
                c.query_row(
                    "SELECT coalesce((SELECT value FROM settings WHERE key = ?1), '')",
                    [format!("retention.org.{org}")],
                    |r| r.get::<_, String>(0),
                )
            },
            |v| v.contains("\"messages_days\":400"),
        )
        .await;
        b.client.refresh().await.expect("reload");
        let shown = b.element("#retention-settings #messages_days").await.prop("value").await.expect("value");
        assert_eq!(shown.as_deref(), Some("400"), "the saved value is shown again");

        // Archive now: the rows go, the files are listed.
        b.click("#retention-run").await;
        b.wait_for_text("#retention-last-run", "600 rows archived in 2 files").await;
        app.wait_for_sql("archived", old, |n| *n == 0).await;
        let listed = b.wait_for_text("#archives tbody", "widget_messages").await;
        // One row per file; each row names the table twice (file name and table column).
        assert_eq!(listed.matches(".jsonl.gz").count(), 2, "{listed}");

        // Search the archives by text.
        b.fill("#archives #q", "shipping question 577").await;
        b.click("#archives button[type=submit]").await;
        let hits = b.wait_for_text("#archive-hits", "old shipping question 577").await;
        assert!(hits.contains("widget_messages"), "{hits}");

        // Re-import the second file (the last 100 rows).
        b.client.execute("window.confirm = () => true;", vec![]).await.expect("confirm");
        let buttons = b.client.find_all(fantoccini::Locator::Css("#archives .restore-archive")).await.expect("buttons");
        assert_eq!(buttons.len(), 2);
        // Clicked by script: the "archived" toast may still cover the button.
        b.client
            .execute("document.querySelectorAll('#archives .restore-archive')[1].click();", vec![])
            .await
            .expect("click");
        b.wait_for_text("#archive-restored", "100 rows back").await;
        app.wait_for_sql("restored", old, |n| *n == 100).await;

        // Import the organization export: the dry run's report, then a new organization.
        let input = b.element("#import-org-file").await;
        input.send_keys(export_file.to_str().expect("path")).await.expect("choose file");
        b.click("#import-org button[type=button]").await;
        let report = b.wait_for_text("#import-org-report", "What the import will do").await;
        assert!(report.contains("bots: 1"), "{report}");
        assert!(report.contains("bots.widget_key: 1 regenerated"), "{report}");
        assert_eq!(app.count("SELECT count(*) FROM organizations"), 1, "the dry run created nothing");
        b.click("#import-org-report button.primary").await;
        b.wait_for_path("/dashboard").await;
        let orgs = app
            .wait_for_sql(
                "organization imported",
                |c| c.query_row("SELECT count(*) FROM organizations", [], |r| r.get::<_, i64>(0)),
                |n| *n == 2,
            )
            .await;
        assert_eq!(orgs, 2);
        let bots = app.count(&format!("SELECT count(*) FROM bots WHERE organization_id <> {org}"));
        assert_eq!(bots, 1, "the archived organization's bot came along");
    })
    .await;
}

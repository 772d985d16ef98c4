//! Retention and archival (docs/retention.md): expired rows are archived to
//! gzip JSON Lines files and deleted in batches; rollups, usage and message
//! totals do not change; archives are listed, searched and re-imported.
#![allow(clippy::too_many_lines, reason = "one scenario: settings, archival, search, re-import and the job")]

use std::io::Read;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, published_bot, spawn_app};

/// Every rollup, usage and counter row of the organization, as text.
fn counters(app: &TestApp, org: i64) -> String {
    app.sql(|c| {
        let mut out = String::new();
        for (table, columns) in [
            ("analytics_hourly", "*"),
            ("analytics_totals_hourly", "*"),
            ("analytics_daily", "*"),
            ("analytics_users", "*"),
            ("analytics_user_hours", "*"),
            ("usage_tracking", "*"),
            ("bots", "id, total_messages_received, total_messages_sent"),
            ("conversations", "id, message_count, last_message_at"),
        ] {
            let mut stmt =
                c.prepare(&format!("SELECT {columns} FROM {table} WHERE organization_id = ?1 ORDER BY rowid"))?;
            let n = stmt.column_count();
            let mut rows = stmt.query([org])?;
            while let Some(row) = rows.next()? {
                let values: Vec<String> =
                    (0..n).map(|i| format!("{:?}", row.get::<_, rusqlite::types::Value>(i))).collect();
                out.push_str(table);
                out.push_str(": ");
                out.push_str(&values.join(", "));
                out.push('\n');
            }
        }
        Ok(out)
    })
}

async fn emulator_turn(
    app: &TestApp,
    s: &crate::helpers::Session,
    bot: i64,
    text: Option<&str>,
    conversation: Option<i64>,
) -> Value {
    let mut body = json!({ "source": "published" });
    if let Some(t) = text {
        body["text"] = json!(t);
    }
    if let Some(c) = conversation {
        body["conversation_id"] = json!(c);
    }
    let (status, turn) = app.call(s, Method::POST, &format!("/api/v1/bots/{bot}/emulator"), Some(body)).await;
    assert_eq!(status, 200, "{turn}");
    turn
}

#[tokio::test]
async fn retention_archives_expired_messages_in_batches_keeps_counters_and_restores() {
    let app = spawn_app().await;
    let s = app.register("retention@example.com").await;
    let flow = json!({
        "nodes": [
            { "id": "start", "type": "start", "position": { "x": 0, "y": 0 } },
            { "id": "ask", "type": "question", "position": { "x": 0, "y": 100 }, "data": { "prompt": { "text": "Ask me" }, "variable": "q" } },
            { "id": "hi", "type": "message", "position": { "x": 0, "y": 200 }, "data": { "text": "Noted" } }
        ],
        "edges": [ { "source": "start", "target": "ask" }, { "source": "ask", "target": "hi" }, { "source": "ask", "port": "invalid", "target": "hi" } ]
    });
    let bot = published_bot(&app, &s, "Keeper", flow).await;
    let turn = emulator_turn(&app, &s, bot, None, None).await;
    let conv = turn["conversation_id"].as_i64().expect("conversation");
    emulator_turn(&app, &s, bot, Some("a recent question"), Some(conv)).await;
    // 1,200 messages of a year and a half ago, through the insert triggers like real ones.
    app.sql(|c| {
        c.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1200)
             INSERT INTO widget_messages (organization_id, bot_id, conversation_id, session_id, role, content, created_at)
             SELECT ?1, ?2, ?3, 'old', CASE i % 2 WHEN 0 THEN 'user' ELSE 'bot' END, 'old refund question ' || i,
                    strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-540 days', '+' || i || ' seconds')
             FROM n",
            rusqlite::params![s.org_id, bot, conv],
        )
    });
    let recent = app
        .count(&format!("SELECT count(*) FROM widget_messages WHERE conversation_id = {conv} AND session_id <> 'old'"));
    assert!(recent >= 3, "{recent}");

    // Settings: safe defaults, validated, owners and admins only.
    let path = format!("/api/v1/orgs/{}/retention", s.org_id);
    let (status, defaults) = app.call(&s, Method::GET, &path, None).await;
    assert_eq!(
        (status, defaults.clone()),
        (200, json!({ "messages_days": 365, "logs_days": 365, "failed_events_days": 90 }))
    );
    let (status, body) = app
        .call(&s, Method::PUT, &path, Some(json!({ "messages_days": 5, "logs_days": 365, "failed_events_days": 90 })))
        .await;
    assert_eq!((status, body["error"]["details"]["field"].as_str()), (422, Some("messages_days")), "{body}");
    let viewer = app.join(&s, s.org_id, "retention-viewer@example.com", "viewer").await;
    let (status, _) = app.call(&viewer, Method::PUT, &path, Some(defaults.clone())).await;
    assert_eq!(status, 403);
    let (status, body) = app
        .call(&s, Method::PUT, &path, Some(json!({ "messages_days": 400, "logs_days": 365, "failed_events_days": 90 })))
        .await;
    assert_eq!(status, 200, "{body}");

    // The rollups as they are, then the archival.
    botbuilder::analytics::rollup::roll_up_pending(&app.state.db).expect("rollup");
    let before = counters(&app, s.org_id);
    let (status, report) = app.call(&s, Method::POST, &format!("{path}/run"), None).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["rows_archived"], 1200, "{report}");
    assert_eq!(report["files_written"], 3, "batches of 500: {report}");
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM widget_messages WHERE organization_id = {}", s.org_id)),
        recent
    );
    botbuilder::analytics::rollup::roll_up_pending(&app.state.db).expect("rollup");
    assert_eq!(counters(&app, s.org_id), before, "rollups, usage and totals unchanged by the archival");

    // Listed, on disk as gzip JSON Lines.
    let (status, files) = app.call(&s, Method::GET, &format!("/api/v1/orgs/{}/archives", s.org_id), None).await;
    assert_eq!(status, 200);
    let files = files.as_array().expect("files").clone();
    assert_eq!(files.len(), 3, "{files:?}");
    assert!(files.iter().all(|f| f["table"] == "widget_messages" && f["bytes"].as_u64().unwrap_or(0) > 0));
    let dir = app.data_path().parent().expect("dir").join("archive").join(format!("org-{}", s.org_id));
    let mut text = String::new();
    flate2::read::GzDecoder::new(
        std::fs::File::open(dir.join(files[0]["name"].as_str().expect("name"))).expect("open"),
    )
    .read_to_string(&mut text)
    .expect("gzip");
    assert_eq!(text.lines().count(), 500);
    let first: Value = serde_json::from_str(text.lines().next().expect("line")).expect("json line");
    assert_eq!(first["content"], "old refund question 1");

    // Searchable by text, date and table.
    let search = format!("/api/v1/orgs/{}/archives/search", s.org_id);
    let (status, hits) = app.call(&s, Method::GET, &format!("{search}?q=QUESTION%201199"), None).await;
    assert_eq!(status, 200, "{hits}");
    assert_eq!(hits.as_array().map(Vec::len), Some(1), "{hits}");
    assert_eq!(hits[0]["row"]["content"], "old refund question 1199");
    let (_, hits) = app.call(&s, Method::GET, &format!("{search}?q=refund&to=2000-01-01"), None).await;
    assert_eq!(hits, json!([]));
    let (_, hits) = app.call(&s, Method::GET, &format!("{search}?q=refund&limit=7"), None).await;
    assert_eq!(hits.as_array().map(Vec::len), Some(7));
    let (status, body) = app.call(&s, Method::GET, &format!("{search}?table=users"), None).await;
    assert_eq!((status, body["error"]["details"]["field"].as_str()), (422, Some("table")), "{body}");

    // Re-import one file: its rows are back with their ids, totals and rollups unchanged.
    let restore = format!("/api/v1/orgs/{}/archives/restore", s.org_id);
    let (status, body) = app.call(&s, Method::POST, &restore, Some(json!({ "file": "../../etc/passwd" }))).await;
    assert_eq!((status, body["error"]["details"]["field"].as_str()), (422, Some("file")), "{body}");
    let (status, body) = app.call(&s, Method::POST, &restore, Some(json!({ "file": files[1]["name"] }))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["restored"].clone(), body["skipped"].clone()), (json!(500), json!(0)), "{body}");
    assert_eq!(app.count("SELECT count(*) FROM widget_messages WHERE content = 'old refund question 750'"), 1);
    botbuilder::analytics::rollup::roll_up_pending(&app.state.db).expect("rollup");
    assert_eq!(counters(&app, s.org_id), before, "a re-import leaves the totals and rollups as they were");
    let (_, body) = app.call(&s, Method::POST, &restore, Some(json!({ "file": files[1]["name"] }))).await;
    assert_eq!((body["restored"].clone(), body["skipped"].clone()), (json!(0), json!(500)), "idempotent: {body}");

    // The daily job does the same for every organization (here: the 500 restored rows again).
    botbuilder::jobs::enqueue_scheduled(&app.state).await.expect("schedule");
    app.run_jobs().await;
    let (status, result): (String, String) = app.sql(|c| {
        c.query_row("SELECT status, result FROM jobs WHERE kind = 'portability.retention'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
    });
    assert_eq!(status, "succeeded", "{result}");
    let result: Value = serde_json::from_str(&result).expect("json");
    assert_eq!(result["rows_archived"], 500, "{result}");
    assert_eq!(app.count("SELECT count(*) FROM widget_messages WHERE content LIKE 'old refund%'"), 0);
}

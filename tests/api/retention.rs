//! Retention and archival (docs/retention.md): expired rows are archived to
//! gzip JSON Lines files and deleted in batches; rollups, usage and message
//! totals do not change; archives are listed, searched and re-imported.
#![allow(clippy::too_many_lines, reason = "one scenario: settings, archival, search, re-import and the job")]

use std::io::Read;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, published_bot, spawn_app, spawn_app_with};

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

/// Rows of `sql` (one organization's counters) as text.
fn rows_text(app: &TestApp, sql: &str, org: i64) -> String {
    app.sql(|c| {
        let mut stmt = c.prepare(sql)?;
        let n = stmt.column_count();
        let mut rows = stmt.query([org])?;
        let mut out = String::new();
        while let Some(row) = rows.next()? {
            let values: Vec<String> =
                (0..n).map(|i| format!("{:?}", row.get::<_, rusqlite::types::Value>(i))).collect();
            out.push_str(&values.join(", "));
            out.push('\n');
        }
        Ok(out)
    })
}

/// Contacts' message counters, recovery rollups, usage and bot totals of the organization.
fn message_counters(app: &TestApp, org: i64) -> String {
    [
        "SELECT id, message_count, first_message_at, last_message_at FROM channel_contacts WHERE organization_id = ?1 ORDER BY id",
        "SELECT campaign_id, period_start, events_detected, messages_sent, messages_delivered, messages_opened, messages_clicked,
                recoveries_total, revenue_recovered, campaign_cost FROM recovery_analytics WHERE organization_id = ?1 ORDER BY campaign_id, period_start",
        "SELECT * FROM usage_tracking WHERE organization_id = ?1 ORDER BY id",
        "SELECT id, total_messages_received, total_messages_sent FROM bots WHERE organization_id = ?1 ORDER BY id",
        "SELECT id, total_sent, total_targeted FROM recovery_campaigns WHERE organization_id = ?1 ORDER BY id",
    ]
    .iter()
    .map(|sql| rows_text(app, sql, org))
    .collect::<Vec<_>>()
    .join("--\n")
}

#[tokio::test]
async fn retention_archives_channel_recovery_integration_and_llm_rows_keeping_counters() {
    let app = spawn_app().await;
    let mut s = app.register("retention-more@example.com").await;
    let member = app.register("retention-more-member@example.com").await;
    let (owner_id, member_id) = (s.user_id, member.user_id);
    // An organization holding the schema tests' fixture (a channel with a
    // contact, a recovery campaign, an integration…), the caller its owner.
    s.org_id = app.sql(|c| {
        let org: i64 = c.query_row(
            "INSERT INTO organizations (name, slug, owner_id, plan_tier) VALUES ('Kept', 'kept', ?1, 'enterprise') RETURNING id",
            [owner_id],
            |r| r.get(0),
        )?;
        let plugin = crate::schema::plugin(c, "retention-weather");
        crate::schema::seed_tenant(c, org, owner_id, member_id, plugin, "ret");
        Ok(org)
    });
    app.sql(|c| {
        // A year and a half ago: 300 inbound channel messages of the contact
        // (through its counter trigger), 2 outbound still queued, 40 sent
        // recovery messages and 1 never sent, 20 integration logs, 25 LLM calls.
        c.execute_batch(&format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
             INSERT INTO channel_messages (organization_id, channel_id, contact_id, direction, content, status, created_at)
             SELECT {o}, (SELECT id FROM channels WHERE organization_id = {o}), (SELECT id FROM channel_contacts WHERE organization_id = {o}),
                    'inbound', 'old parcel question ' || i, 'received', strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-540 days', '+' || i || ' seconds')
             FROM n;
             INSERT INTO channel_messages (organization_id, channel_id, direction, content, status, created_at)
             SELECT {o}, (SELECT id FROM channels WHERE organization_id = {o}), 'outbound', 'still queued', 'pending',
                    strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-540 days') FROM (SELECT 1 UNION ALL SELECT 2);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40)
             INSERT INTO recovery_messages (organization_id, campaign_id, event_id, customer_id, channel, message_body, status, sent_at, delivered_at, created_at)
             SELECT {o}, (SELECT id FROM recovery_campaigns WHERE organization_id = {o}), (SELECT id FROM recovery_events WHERE organization_id = {o}),
                    'cust-' || i, 'email', 'We kept your cart ' || i, 'delivered',
                    strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-540 days', '+' || i || ' hours'),
                    strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-540 days', '+' || i || ' hours', '+1 minutes'),
                    strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-541 days')
             FROM n;
             INSERT INTO recovery_messages (organization_id, campaign_id, event_id, customer_id, channel, message_body, status, scheduled_at, created_at)
             VALUES ({o}, (SELECT id FROM recovery_campaigns WHERE organization_id = {o}), (SELECT id FROM recovery_events WHERE organization_id = {o}),
                     'cust-late', 'email', 'not sent yet', 'pending', strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-540 days'),
                     strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-540 days'));
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20)
             INSERT INTO integration_logs (organization_id, integration_id, action, error_message, created_at)
             SELECT {o}, (SELECT id FROM integrations WHERE organization_id = {o}), 'post_message', 'old slack timeout ' || i,
                    strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-400 days')
             FROM n;
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 25)
             INSERT INTO llm_calls (organization_id, model, purpose, status, prompt_tokens, cost_micros, created_at)
             SELECT {o}, 'old-model-' || i, 'chat', 'ok', 10, 40, strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-400 days') FROM n;",
            o = s.org_id
        ))
    });
    let count = |table: &str| app.count(&format!("SELECT count(*) FROM {table} WHERE organization_id = {}", s.org_id));
    let before_rows: Vec<i64> =
        ["channel_messages", "recovery_messages", "integration_logs", "llm_calls"].iter().map(|t| count(t)).collect();
    botbuilder::recovery::rollup::run(&app.state).await.expect("recovery rollup");
    botbuilder::analytics::rollup::roll_up_pending(&app.state.db).expect("rollup");
    let before = message_counters(&app, s.org_id);
    assert!(before.contains("Integer(301)"), "the contact counted its messages: {before}");

    let (status, report) = app.call(&s, Method::POST, &format!("/api/v1/orgs/{}/retention/run", s.org_id), None).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["tables"]["channel_messages"], 300, "{report}");
    assert_eq!(report["tables"]["recovery_messages"], 40, "{report}");
    assert_eq!(report["tables"]["integration_logs"], 20, "{report}");
    assert_eq!(report["tables"]["llm_calls"], 25, "{report}");
    let after_rows: Vec<i64> =
        ["channel_messages", "recovery_messages", "integration_logs", "llm_calls"].iter().map(|t| count(t)).collect();
    assert_eq!(after_rows, vec![before_rows[0] - 300, before_rows[1] - 40, before_rows[2] - 20, before_rows[3] - 25]);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM channel_messages WHERE organization_id = {} AND content = 'still queued'",
            s.org_id
        )),
        2,
        "the outbound queue is never archived"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM recovery_messages WHERE organization_id = {} AND status = 'pending'",
            s.org_id
        )),
        2,
        "unsent recovery messages are never archived"
    );
    // The rollups rebuilt from what is left are those of before.
    botbuilder::recovery::rollup::run(&app.state).await.expect("recovery rollup");
    botbuilder::analytics::rollup::roll_up_pending(&app.state.db).expect("rollup");
    assert_eq!(message_counters(&app, s.org_id), before, "counters and rollups unchanged by the archival");

    // Searchable per table.
    let search = format!("/api/v1/orgs/{}/archives/search", s.org_id);
    let (status, hits) =
        app.call(&s, Method::GET, &format!("{search}?q=parcel%20question%20299&table=channel_messages"), None).await;
    assert_eq!(status, 200, "{hits}");
    assert_eq!(hits.as_array().map(Vec::len), Some(1), "{hits}");
    let (_, hits) = app.call(&s, Method::GET, &format!("{search}?q=old-model-7&table=llm_calls"), None).await;
    assert_eq!(hits.as_array().map(Vec::len), Some(1), "{hits}");
    let (_, hits) =
        app.call(&s, Method::GET, &format!("{search}?q=slack%20timeout&table=integration_logs"), None).await;
    assert_eq!(hits.as_array().map(Vec::len), Some(20), "{hits}");
    let (_, hits) =
        app.call(&s, Method::GET, &format!("{search}?q=kept%20your%20cart&table=recovery_messages"), None).await;
    assert_eq!(hits.as_array().map(Vec::len), Some(40), "{hits}");

    // Every file re-imports; counters and rollups stay as they were.
    let (_, files) = app.call(&s, Method::GET, &format!("/api/v1/orgs/{}/archives", s.org_id), None).await;
    let restore = format!("/api/v1/orgs/{}/archives/restore", s.org_id);
    let mut restored = 0;
    for f in files.as_array().expect("files") {
        let (status, body) = app.call(&s, Method::POST, &restore, Some(json!({ "file": f["name"] }))).await;
        assert_eq!(status, 200, "{body}");
        restored += body["restored"].as_i64().unwrap_or(0);
    }
    assert_eq!(restored, 385);
    assert_eq!(
        ["channel_messages", "recovery_messages", "integration_logs", "llm_calls"]
            .iter()
            .map(|t| count(t))
            .collect::<Vec<_>>(),
        before_rows
    );
    botbuilder::recovery::rollup::run(&app.state).await.expect("recovery rollup");
    botbuilder::analytics::rollup::roll_up_pending(&app.state.db).expect("rollup");
    assert_eq!(message_counters(&app, s.org_id), before, "a re-import leaves counters and rollups as they were");
}

/// Old LLM calls (no triggers) of about 1 KiB each.
fn insert_old_calls(app: &TestApp, org: i64, n: i64) {
    app.sql(|c| {
        c.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
             INSERT INTO llm_calls (organization_id, model, purpose, status, error_code, created_at)
             SELECT ?1, 'm', 'chat', 'failed', hex(randomblob(500)), strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-400 days') FROM n",
            rusqlite::params![org, n],
        )
    });
}

#[tokio::test]
async fn retention_archive_dir_is_configurable_and_must_be_writable() {
    let dir = tempfile::tempdir().expect("dir");
    let archive = dir.path().join("cold-storage");
    let configured = archive.clone();
    let app = spawn_app_with(move |c| c.retention.archive_dir = Some(configured)).await;
    let s = app.register("retention-dir@example.com").await;
    insert_old_calls(&app, s.org_id, 10);
    let (status, report) = app.call(&s, Method::POST, &format!("/api/v1/orgs/{}/retention/run", s.org_id), None).await;
    assert_eq!((status, report["rows_archived"].clone()), (200, json!(10)), "{report}");
    let files: Vec<_> =
        std::fs::read_dir(archive.join(format!("org-{}", s.org_id))).expect("archive dir").flatten().collect();
    assert_eq!(files.len(), 1, "the file is in the configured directory");
    assert!(!app.data_path().parent().expect("data dir").join("archive").exists(), "not in the default one");
    let (_, listed) = app.call(&s, Method::GET, &format!("/api/v1/orgs/{}/archives", s.org_id), None).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");

    // A directory that cannot be written (here: below a regular file, which
    // even root cannot create): the run refuses to start, nothing is deleted.
    let blocker = dir.path().join("not-a-directory");
    std::fs::write(&blocker, b"x").expect("file");
    let bad = blocker.join("archive");
    let app = spawn_app_with(move |c| c.retention.archive_dir = Some(bad)).await;
    let s = app.register("retention-dir-bad@example.com").await;
    insert_old_calls(&app, s.org_id, 10);
    let (status, body) = app.call(&s, Method::POST, &format!("/api/v1/orgs/{}/retention/run", s.org_id), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("archive_dir_unwritable")), "{body}");
    assert!(
        body["error"]["details"]["path"].as_str().is_some_and(|p| p.ends_with("not-a-directory/archive")),
        "{body}"
    );
    assert_eq!(body["error"]["details"]["field"], "retention.archive_dir");
    assert_eq!(app.count(&format!("SELECT count(*) FROM llm_calls WHERE organization_id = {}", s.org_id)), 10);
    // The daily job refuses too, with the same clear error.
    botbuilder::jobs::enqueue_scheduled(&app.state).await.expect("schedule");
    app.run_jobs().await;
    let (status, error): (String, Option<String>) = app.sql(|c| {
        c.query_row("SELECT status, last_error FROM jobs WHERE kind = 'portability.retention'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
    });
    assert_ne!(status, "succeeded");
    assert!(error.as_deref().is_some_and(|e| e.contains("archive_dir_unwritable")), "{status} {error:?}");
    assert_eq!(app.count(&format!("SELECT count(*) FROM llm_calls WHERE organization_id = {}", s.org_id)), 10);
}

/// The data file's size once the WAL is folded back into it.
fn file_size(app: &TestApp) -> u64 {
    app.state.db.checkpoint().expect("checkpoint");
    std::fs::metadata(app.data_path()).expect("data file").len()
}

#[tokio::test]
async fn retention_frees_pages_so_the_data_file_stops_growing() {
    let app = spawn_app().await;
    let s = app.register("retention-vacuum@example.com").await;
    let run = format!("/api/v1/orgs/{}/retention/run", s.org_id);
    // Default mode (auto_vacuum NONE): archived rows' pages are reused.
    insert_old_calls(&app, s.org_id, 6000);
    let grown = file_size(&app);
    let (status, report) = app.call(&s, Method::POST, &run, None).await;
    assert_eq!((status, report["rows_archived"].clone()), (200, json!(6000)), "{report}");
    let free: i64 = app.sql(|c| c.query_row("PRAGMA freelist_count", [], |r| r.get(0)));
    assert!(free > 500, "the deletes freed pages: {free}");
    for cycle in 0..3 {
        insert_old_calls(&app, s.org_id, 6000);
        let size = file_size(&app);
        assert!(size <= grown + grown / 20, "cycle {cycle}: the file grew from {grown} to {size} bytes");
        let (status, _) = app.call(&s, Method::POST, &run, None).await;
        assert_eq!(status, 200);
    }

    // Incremental mode (switched once with a full VACUUM): the job gives the
    // freed pages back to the file system, and the file shrinks.
    let path = app.data_path();
    botbuilder::db::register_sqlite_vec();
    let conn = rusqlite::Connection::open(&path).expect("open");
    conn.busy_timeout(std::time::Duration::from_secs(10)).expect("busy timeout");
    conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL; VACUUM;").expect("switch to incremental");
    drop(conn);
    insert_old_calls(&app, s.org_id, 6000);
    let full = file_size(&app);
    let (status, report) = app.call(&s, Method::POST, &run, None).await;
    assert_eq!(status, 200, "{report}");
    assert!(report["pages_released"].as_i64().unwrap_or(0) > 500, "{report}");
    let free: i64 = app.sql(|c| c.query_row("PRAGMA freelist_count", [], |r| r.get(0)));
    assert_eq!(free, 0, "every freed page given back");
    let shrunk = file_size(&app);
    assert!(shrunk < full * 3 / 4, "the file shrank from {full} to {shrunk} bytes");
}

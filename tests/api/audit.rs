//! The audit log: written with every change, read with filters and cursor
//! pagination, exported as CSV, trimmed by the retention job that keeps
//! security events and audits itself.

use reqwest::Method;
use rusqlite::params;
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_audit_log_is_filtered_paginated_and_exported() {
    let app = spawn_app().await;
    let owner = app.register("owner@example.com").await;
    let org = owner.org_id;
    let viewer = app.join(&owner, org, "viewer@example.com", "viewer").await;
    for name in ["A", "B", "C"] {
        app.call(&owner, Method::POST, &format!("/api/v1/orgs/{org}/teams"), Some(json!({ "name": name }))).await;
    }
    let logs = format!("/api/v1/orgs/{org}/audit-logs");
    let (status, _) = app.call(&viewer, Method::GET, &logs, None).await;
    assert_eq!(status, 403, "audit.read is needed");

    let (_, all) = app.call(&owner, Method::GET, &logs, None).await;
    let items = all["items"].as_array().expect("items");
    assert!(items.len() >= 7, "{all}");
    let ids: Vec<i64> = items.iter().map(|i| i["id"].as_i64().expect("id")).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first");
    let (_, teams) = app.call(&owner, Method::GET, &format!("{logs}?action=team.created"), None).await;
    assert_eq!(teams["items"].as_array().expect("items").len(), 3);
    assert_eq!(teams["items"][0]["user_email"], "owner@example.com");
    assert!(teams["items"][0]["ip_address"].as_str().is_some_and(|ip| ip == "127.0.0.1"));
    let (_, prefixed) = app.call(&owner, Method::GET, &format!("{logs}?action=member.*"), None).await;
    assert!(
        prefixed["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|i| i["action"].as_str().expect("a").starts_with("member."))
    );
    let (_, by_user) = app.call(&owner, Method::GET, &format!("{logs}?user_id={}", viewer.user_id), None).await;
    assert!(by_user["items"].as_array().expect("items").iter().all(|i| i["user_id"] == viewer.user_id));
    let (_, future) = app.call(&owner, Method::GET, &format!("{logs}?from=2999-01-01T00:00:00Z"), None).await;
    assert_eq!(future["items"].as_array().expect("items").len(), 0);
    let (status, body) = app.call(&owner, Method::GET, &format!("{logs}?from=yesterday"), None).await;
    assert_eq!((status, body["error"]["details"]["field"].clone()), (422, json!("from")));
    let (status, body) = app.call(&owner, Method::GET, &format!("{logs}?limit=0"), None).await;
    assert_eq!((status, body["error"]["details"]["field"].clone()), (422, json!("limit")));

    // Cursor pagination walks everything exactly once.
    let mut seen = Vec::new();
    let mut url = format!("{logs}?limit=2");
    loop {
        let (_, page) = app.call(&owner, Method::GET, &url, None).await;
        seen.extend(page["items"].as_array().expect("items").iter().map(|i| i["id"].as_i64().expect("id")));
        match page["next_cursor"].as_str() {
            Some(cursor) => url = format!("{logs}?limit=2&after={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ids);

    // CSV export with the same filters.
    let r = app.as_user(&owner, Method::GET, &format!("{logs}/export?action=team.created")).send().await.expect("send");
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(r.headers()["content-disposition"].to_str().expect("cd").contains("attachment"));
    let csv = r.text().await.expect("csv");
    let lines: Vec<&str> = csv.trim_end().split("\r\n").collect();
    assert!(lines[0].starts_with("id,created_at,user_id,user_email,action"));
    assert_eq!(lines.len(), 4);
    assert!(lines[1..].iter().all(|l| l.contains(",team.created,team,")));
    // Another organization's log is invisible.
    let stranger = app.register("stranger@example.com").await;
    let (status, body) = app.call(&stranger, Method::GET, &logs, None).await;
    assert_eq!((status, body["error"]["code"].clone()), (404, json!("org_not_found")));
}

/// The audit export goes through the shared CSV writer: a cell an
/// attacker controls (here the User-Agent) cannot start a formula.
#[tokio::test]
async fn the_audit_export_defuses_formulas() {
    let app = spawn_app().await;
    let owner = app.register("audit-csv@example.com").await;
    let org = owner.org_id;
    let agent = "=HYPERLINK(\"http://evil.example\",\"x\")";
    let r = app
        .as_user(&owner, Method::POST, &format!("/api/v1/orgs/{org}/teams"))
        .header("User-Agent", agent)
        .json(&json!({ "name": "-Sales" }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201);
    let r = app
        .as_user(&owner, Method::GET, &format!("/api/v1/orgs/{org}/audit-logs/export?action=team.created"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let csv = r.text().await.expect("csv");
    let mut reader = csv::ReaderBuilder::new().from_reader(csv.as_bytes());
    let header: Vec<String> = reader.headers().expect("header").iter().map(str::to_owned).collect();
    let ua = header.iter().position(|h| h == "user_agent").expect("user_agent column");
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 1, "{csv}");
    assert_eq!(&rows[0][ua], format!("'{agent}"), "{csv}");
    assert!(rows[0].iter().all(|c| !c.starts_with(['=', '+', '-', '@', '\t', '\r'])), "{csv}");
}

#[tokio::test]
async fn retention_deletes_old_rows_in_batches_but_keeps_security_events_and_audits_itself() {
    let app = spawn_app().await;
    let owner = app.register("owner@example.com").await;
    let org = owner.org_id;
    app.sql(|c| c.execute("UPDATE organizations SET retention_days = 30 WHERE id = ?1", [org]));
    // 2,500 old ordinary rows, some old security events, some recent rows.
    app.sql(|c| {
        let mut insert = c.prepare(
            "INSERT INTO audit_logs (organization_id, user_id, action, resource_type, created_at) VALUES (?1, ?2, ?3, 'x', ?4)",
        )?;
        for i in 0..2500 {
            insert.execute(params![org, owner.user_id, "bot.updated", format!("2020-01-01T00:00:{:02}.000Z", i % 60)])?;
        }
        for action in ["user.login.failed", "security.breach", "data.deleted", "user.password.changed", "user.2fa.disabled"] {
            insert.execute(params![org, owner.user_id, action, "2020-01-02T00:00:00.000Z"])?;
        }
        insert.execute(params![org, owner.user_id, "bot.updated", "2999-01-01T00:00:00.000Z"])?;
        c.execute(
            "INSERT INTO activity_logs (organization_id, user_id, action, entity_type, created_at) VALUES (?1, ?2, 'x', 'y', '2020-01-01T00:00:00.000Z')",
            params![org, owner.user_id],
        )?;
        c.execute(
            "INSERT INTO audit_logs (organization_id, action, resource_type, created_at) VALUES (NULL, 'user.login', 'user', '2000-01-01T00:00:00.000Z')",
            [],
        )?;
        c.execute(
            "INSERT INTO audit_logs (organization_id, action, resource_type, created_at) VALUES (NULL, 'user.login.failed', 'user', '2000-01-01T00:00:00.000Z')",
            [],
        )
    });
    // The append-only trigger still holds outside the job.
    let refused =
        app.state.db.write_blocking(|tx| Ok(tx.execute("DELETE FROM audit_logs WHERE action = 'bot.updated'", [])?));
    assert!(refused.is_err());

    // The job is scheduled durably (once per day slot) and run by a worker.
    let ids = botbuilder::jobs::enqueue_scheduled(&app.state).await.expect("schedule");
    let again = botbuilder::jobs::enqueue_scheduled(&app.state).await.expect("schedule");
    assert_eq!(ids, again, "one job per slot");
    app.run_jobs().await;
    let (status, result): (String, String) = app.sql(|c| {
        c.query_row("SELECT status, result FROM jobs WHERE kind = 'audit.retention'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
    });
    assert_eq!(status, "succeeded", "{result}");
    let result: serde_json::Value = serde_json::from_str(&result).expect("json");
    assert_eq!(result["audit_rows_deleted"], 2501);
    assert_eq!(result["activity_rows_deleted"], 1);

    assert_eq!(app.count("SELECT count(*) FROM audit_logs WHERE action = 'bot.updated' AND created_at < '2021'"), 0);
    assert_eq!(app.count("SELECT count(*) FROM audit_logs WHERE action = 'bot.updated' AND created_at > '2998'"), 1);
    for kept in ["user.login.failed", "security.breach", "data.deleted", "user.password.changed", "user.2fa.disabled"] {
        assert!(app.count(&format!("SELECT count(*) FROM audit_logs WHERE action = '{kept}'")) >= 1, "{kept} kept");
    }
    assert_eq!(app.count("SELECT count(*) FROM audit_logs WHERE action = 'user.login' AND created_at < '2001'"), 0);
    // It recorded itself, one row per batch of at most 1,000.
    let cleanup: Vec<i64> = app.sql(|c| {
        c.prepare("SELECT json_extract(metadata, '$.deleted') FROM audit_logs WHERE action = 'system.audit.cleanup' ORDER BY id")?
            .query_map([], |r| r.get(0))?
            .collect()
    });
    assert_eq!(cleanup, vec![1000, 1000, 500, 1]);
    assert_eq!(app.count("SELECT count(*) FROM settings WHERE key = 'retention.unlock'"), 0, "the lock is back");
    // Running again deletes nothing more.
    let outcome = botbuilder::orgs::audit::retention::run_once(&app.state).await.expect("run");
    assert_eq!(outcome.audit_rows, 0);
}

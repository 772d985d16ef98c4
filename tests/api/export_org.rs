//! Organization import (docs/export.md): an organization export becomes a
//! new organization with every id remapped, after a dry run that reports what
//! would be created, left out and matched; bad files are refused with clear
//! errors and nothing written, through the API and the CLI.
#![allow(clippy::too_many_lines, reason = "each scenario walks export, dry run, import and the checks end to end")]

use std::io::{Cursor, Read, Write};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, emulator_say, published_bot, spawn_app, spawn_app_with};

/// Exports the session's organization through the job and downloads the file.
async fn export_org(app: &TestApp, s: &Session) -> Vec<u8> {
    let path = format!("/api/v1/orgs/{}/export", s.org_id);
    let (status, queued) = app.call(s, Method::POST, &path, None).await;
    assert_eq!(status, 202, "{queued}");
    app.run_jobs().await;
    let r = app.as_user(s, Method::GET, &path).send().await.expect("send");
    assert_eq!(r.status(), 200);
    r.bytes().await.expect("bytes").to_vec()
}

async fn import_org(app: &TestApp, s: &Session, file: Vec<u8>, dry_run: bool) -> (u16, Value) {
    let r = app
        .as_user(s, Method::POST, &format!("/api/v1/orgs/import?dry_run={dry_run}"))
        .header("Content-Type", "application/zip")
        .body(file)
        .send()
        .await
        .expect("send");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Rows of every table of the data file (virtual tables' shadows included):
/// "nothing written" means this does not change.
fn all_counts(app: &TestApp) -> Vec<(String, i64)> {
    app.sql(|c| {
        let mut stmt = c.prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
               AND sql NOT LIKE 'CREATE VIRTUAL TABLE%' ORDER BY name",
        )?;
        let tables: Vec<String> = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
        tables
            .into_iter()
            .map(|t| {
                let n: i64 = c.query_row(&format!("SELECT count(*) FROM \"{t}\""), [], |r| r.get(0))?;
                Ok((t, n))
            })
            .collect()
    })
}

/// Rewrites an archive entry by entry.
fn rewrite(file: &[u8], mut change: impl FnMut(&str, Vec<u8>) -> Vec<u8>) -> Vec<u8> {
    let mut zip = zip::ZipArchive::new(Cursor::new(file)).expect("zip");
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).expect("entry");
        let name = entry.name().to_owned();
        let mut body = Vec::new();
        entry.read_to_end(&mut body).expect("read");
        out.start_file(name.as_str(), zip::write::SimpleFileOptions::default()).expect("start");
        out.write_all(&change(&name, body)).expect("write");
    }
    out.finish().expect("finish").into_inner()
}

fn count_in(app: &TestApp, table: &str, org: i64) -> i64 {
    app.count(&format!("SELECT count(*) FROM {table} WHERE organization_id = {org}"))
}

/// `(name, counter, counter)` of one row.
type Counted = Vec<(String, i64, i64)>;

/// The counters a trigger keeps, per bot name and per knowledge base name.
fn counters(app: &TestApp, org: i64) -> (Counted, Counted) {
    app.sql(|c| {
        let bots = c
            .prepare(
                "SELECT name, total_messages_received, total_messages_sent FROM bots WHERE organization_id = ?1 ORDER BY name",
            )?
            .query_map([org], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let kbs = c
            .prepare("SELECT name, document_count, total_chunks FROM knowledge_bases WHERE organization_id = ?1 ORDER BY name")?
            .query_map([org], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        Ok((bots, kbs))
    })
}

#[tokio::test]
async fn export_org_imports_as_a_new_organization_after_a_dry_run() {
    let app = spawn_app_with(|c| c.ml.enabled = true).await;
    let a = app.register("orgmove-a@example.com").await;
    app.sql(|c| c.execute("UPDATE organizations SET plan_tier = 'enterprise' WHERE id = ?1", [a.org_id]));
    let path = format!("/api/v1/orgs/{}/bots/from-template", a.org_id);
    let (status, faq) = app.call(&a, Method::POST, &path, Some(json!({ "template": "faq" }))).await;
    assert_eq!(status, 201, "{faq}");
    app.run_jobs().await;
    let faq_bot = faq["bot"]["id"].as_i64().expect("faq");
    let flow = json!({
        "nodes": [
            { "id": "start", "type": "start", "position": { "x": 0, "y": 0 } },
            { "id": "hi", "type": "message", "position": { "x": 0, "y": 100 }, "data": { "text": "Moved with the organization" } }
        ],
        "edges": [ { "source": "start", "target": "hi" } ]
    });
    let greeter = published_bot(&app, &a, "Greeter", flow).await;
    emulator_say(&app, &a, greeter, None, None).await;
    // A member with an account on the target, one whose account is gone, a
    // webhook (its secret cannot travel) and an API token (a credential).
    let editor = app.join(&a, a.org_id, "orgmove-editor@example.com", "editor").await;
    app.join(&a, a.org_id, "orgmove-gone@example.com", "viewer").await;
    let (status, _) = app
        .call(
            &a,
            Method::POST,
            &format!("/api/v1/orgs/{}/api-tokens", a.org_id),
            Some(json!({ "name": "CI", "scopes": ["bots.read"] })),
        )
        .await;
    assert_eq!(status, 201);
    app.sql(|c| {
        c.execute(
            "INSERT INTO webhooks (organization_id, name, url, secret_encrypted, events) VALUES (?1, 'Hook', 'https://example.com/h', x'0102', '[\"message.created\"]')",
            [a.org_id],
        )
    });
    let file = export_org(&app, &a).await;
    let source_counters = counters(&app, a.org_id);
    // The departed member's account is not on the target any more.
    app.sql(|c| {
        c.execute("UPDATE users SET email = 'orgmove-renamed@example.com' WHERE email = 'orgmove-gone@example.com'", [])
    });

    // B, an ordinary user, on this server. Dry run first: the report, and nothing written.
    let b = app.register("orgmove-b@example.com").await;
    let before = all_counts(&app);
    let (status, report) = import_org(&app, &b, file.clone(), true).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["dry_run"], true);
    assert!(report["organization_id"].is_null(), "{report}");
    assert_eq!(report["created"]["bots"], 2, "{report}");
    assert_eq!(report["created"]["knowledge_bases"], 1, "{report}");
    assert!(report["created"]["chunks"].as_u64().unwrap_or(0) >= 1, "{report}");
    assert!(report["created"]["widget_messages"].as_u64().unwrap_or(0) >= 1, "{report}");
    assert_eq!(report["members_missing"], json!(["orgmove-gone@example.com"]), "{report}");
    let matched = report["members_matched"].as_array().expect("matched");
    assert!(matched.contains(&json!("orgmove-editor@example.com")), "{report}");
    let skipped = report["skipped"].as_array().expect("skipped");
    let skipped_of = |table: &str| {
        skipped.iter().filter(|s| s["table"] == table).map(|s| s["rows"].as_u64().unwrap_or(0)).sum::<u64>()
    };
    assert_eq!(skipped_of("api_tokens"), 1, "{report}");
    assert_eq!(skipped_of("webhooks"), 1, "{report}");
    assert_eq!(skipped_of("organization_members"), 1, "the departed member: {report}");
    // On this server the widget keys are taken: made anew, and said so.
    assert!(
        report["conflicts"].as_array().expect("conflicts").iter().any(|c| c["table"] == "bots"
            && c["columns"] == json!(["widget_key"])
            && c["resolution"] == "regenerated"
            && c["rows"] == 2),
        "{report}"
    );
    assert_eq!(all_counts(&app), before, "a dry run writes nothing");

    // An ordinary user gets the default plan, not the exported one.
    let (status, report) = import_org(&app, &b, file.clone(), false).await;
    assert_eq!(status, 201, "{report}");
    let copy = report["organization_id"].as_i64().expect("new organization");
    let plan: String =
        app.sql(|c| c.query_row("SELECT plan_tier FROM organizations WHERE id = ?1", [copy], |r| r.get(0)));
    assert_eq!(plan, "free");
    assert!(
        report["warnings"].as_array().expect("warnings").iter().any(|w| w.as_str().is_some_and(|w| w.contains("plan"))),
        "{report}"
    );

    // A superadmin keeps the exported plan.
    app.sql(|c| c.execute("UPDATE users SET is_superadmin = 1 WHERE email = 'orgmove-b@example.com'", []));
    let (status, report) = import_org(&app, &b, file, false).await;
    assert_eq!(status, 201, "{report}");
    let org = report["organization_id"].as_i64().expect("new organization");
    assert_ne!(org, a.org_id);
    let plan: String =
        app.sql(|c| c.query_row("SELECT plan_tier FROM organizations WHERE id = ?1", [org], |r| r.get(0)));
    assert_eq!(plan, "enterprise");
    // Every row is the new organization's; the source is untouched.
    assert_eq!(count_in(&app, "bots", org), 2);
    assert_eq!(count_in(&app, "bots", a.org_id), 2);
    assert_eq!(count_in(&app, "widget_messages", org), count_in(&app, "widget_messages", a.org_id));
    assert_eq!(count_in(&app, "chunks", org), count_in(&app, "chunks", a.org_id));
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM chunk_vectors WHERE knowledge_base_id IN (SELECT id FROM knowledge_bases WHERE organization_id = {org})")),
        count_in(&app, "chunks", org),
        "the vectors travel with the chunks"
    );
    assert_eq!(count_in(&app, "api_tokens", org), 0);
    assert_eq!(count_in(&app, "webhooks", org), 0);
    // Counters kept by triggers are those of the source, not doubled.
    assert_eq!(counters(&app, org), source_counters);
    // Members: the importer owns it, the editor is back with their role.
    let role_of = |email: &str| -> String {
        app.sql(|c| {
            c.query_row(
                "SELECT r.name FROM organization_members m JOIN roles r ON r.id = m.role_id JOIN users u ON u.id = m.user_id
                 WHERE m.organization_id = ?1 AND u.email = ?2",
                rusqlite::params![org, email],
                |r| r.get(0),
            )
        })
    };
    assert_eq!(role_of("orgmove-b@example.com"), "owner");
    assert_eq!(role_of("orgmove-editor@example.com"), "editor");
    let (_, orgs) = app.call(&editor, Method::GET, "/api/v1/orgs", None).await;
    assert!(orgs.as_array().is_some_and(|o| o.iter().any(|m| m["id"] == org && m["role"] == "editor")), "{orgs}");
    // The bots answer the same in the new organization.
    let new_greeter: i64 = app.sql(|c| {
        c.query_row("SELECT id FROM bots WHERE organization_id = ?1 AND name = 'Greeter'", [org], |r| r.get(0))
    });
    let (texts, _) = emulator_say(&app, &b, new_greeter, None, None).await;
    assert_eq!(texts, ["Moved with the organization"]);
    let new_faq: i64 = app.sql(|c| {
        c.query_row(
            "SELECT id FROM bots WHERE organization_id = ?1 AND id <> ?2",
            rusqlite::params![org, new_greeter],
            |r| r.get(0),
        )
    });
    assert_ne!(new_faq, faq_bot);
    let (_, turn) = emulator_say(&app, &b, new_faq, None, None).await;
    let (texts, turn) = emulator_say(
        &app,
        &b,
        new_faq,
        turn["conversation_id"].as_i64(),
        Some("How many days do I have to return an item?"),
    )
    .await;
    assert!(texts[0].contains("30 days"), "{texts:?} {turn}");
    let audited = app.count(&format!(
        "SELECT count(*) FROM audit_logs WHERE organization_id = {org} AND action = 'org.imported' AND resource_id = {org}"
    ));
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn export_org_bad_files_are_refused_and_nothing_is_written() {
    let app = spawn_app().await;
    let a = app.register("orgbad-a@example.com").await;
    let flow = json!({
        "nodes": [
            { "id": "start", "type": "start", "position": { "x": 0, "y": 0 } },
            { "id": "hi", "type": "message", "position": { "x": 0, "y": 100 }, "data": { "text": "Hello" } }
        ],
        "edges": [ { "source": "start", "target": "hi" } ]
    });
    let bot = published_bot(&app, &a, "Only bot", flow).await;
    let file = export_org(&app, &a).await;
    let r = app.as_user(&a, Method::GET, &format!("/api/v1/bots/{bot}/export")).send().await.expect("send");
    let bot_file = r.bytes().await.expect("bytes").to_vec();
    let b = app.register("orgbad-b@example.com").await;
    let before = all_counts(&app);

    // A file from a newer format version.
    let newer = rewrite(&file, |name, body| {
        if name == "manifest.json" {
            let mut m: Value = serde_json::from_slice(&body).expect("manifest");
            m["format_version"] = json!(99);
            m["botbuilder_version"] = json!("9.0.0");
            serde_json::to_vec(&m).expect("json")
        } else {
            body
        }
    });
    let (status, body) = import_org(&app, &b, newer.clone(), false).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("export_version_unsupported")), "{body}");
    assert_eq!(body["error"]["details"]["format_version"], 99);
    // A truncated archive.
    for cut in [file.len() / 2, file.len() - 7] {
        let (status, body) = import_org(&app, &b, file[..cut].to_vec(), false).await;
        assert_eq!((status, body["error"]["code"].as_str()), (422, Some("export_archive_invalid")), "{body}");
        assert_eq!(body["error"]["details"]["field"], "file");
    }
    // A tampered table: its checksum no longer matches.
    let tampered = rewrite(&file, |name, body| {
        if name == "tables/bot_flows.jsonl" {
            String::from_utf8(body).expect("utf8").replace("Hello", "Pay here").into_bytes()
        } else {
            body
        }
    });
    let (status, body) = import_org(&app, &b, tampered.clone(), false).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("export_checksum_mismatch")), "{body}");
    assert_eq!(body["error"]["details"]["entry"], "tables/bot_flows.jsonl");
    // A bot export passed as an organization export, and the other way round.
    let (status, body) = import_org(&app, &b, bot_file.clone(), true).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("export_kind_mismatch")), "{body}");
    assert_eq!(body["error"]["details"]["kind"], "bot");
    let r = app
        .as_user(&b, Method::POST, &format!("/api/v1/orgs/{}/bots/import", b.org_id))
        .body(file.clone())
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 422);
    // Signed-in users only.
    let r = app.request(Method::POST, "/api/v1/orgs/import").body(file.clone()).send().await.expect("send");
    assert_eq!(r.status(), 401);
    assert_eq!(all_counts(&app), before, "nothing written by any refused import");

    // The CLI: the same refusals (exit 2, the error code on stderr), a dry run, then the import.
    let dir = tempfile::tempdir().expect("dir");
    let bin = env!("CARGO_BIN_EXE_botbuilder");
    let data = app.data_path();
    let run = |file: &[u8], extra: &[&str]| {
        let input = dir.path().join("org.zip");
        std::fs::write(&input, file).expect("write");
        std::process::Command::new(bin)
            .arg("import-org")
            .arg(&input)
            .args(extra)
            .arg("--data")
            .arg(&data)
            .output()
            .expect("run")
    };
    let owner = ["--owner", "orgbad-b@example.com"];
    for (bad, code) in [
        (newer, "export_version_unsupported"),
        (file[..file.len() / 2].to_vec(), "export_archive_invalid"),
        (tampered, "export_checksum_mismatch"),
        (bot_file, "export_kind_mismatch"),
    ] {
        let o = run(&bad, &owner);
        assert_eq!(o.status.code(), Some(2), "{code}: {}", String::from_utf8_lossy(&o.stderr));
        assert!(String::from_utf8_lossy(&o.stderr).contains(code), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let o = run(&file, &["--owner", "nobody@example.com"]);
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(all_counts(&app), before, "nothing written by the CLI's refusals");
    let o = run(&file, &["--owner", "orgbad-b@example.com", "--dry-run"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: Value = serde_json::from_slice(&o.stdout).expect("report json");
    assert_eq!((report["dry_run"].clone(), report["created"]["bots"].clone()), (json!(true), json!(1)), "{report}");
    assert_eq!(all_counts(&app), before, "the dry run wrote nothing");
    let o = run(&file, &owner);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: Value = serde_json::from_slice(&o.stdout).expect("report json");
    let org = report["organization_id"].as_i64().expect("organization");
    assert_eq!(count_in(&app, "bots", org), 1);
    assert_eq!(count_in(&app, "bot_flows", org), count_in(&app, "bot_flows", a.org_id));
}

#[tokio::test]
async fn export_org_carries_every_tenant_table_and_reports_what_it_leaves_out() {
    let app = spawn_app().await;
    let mut a = app.register("orgall-a@example.com").await;
    let member = app.register("orgall-member@example.com").await;
    let (owner_id, member_id) = (a.user_id, member.user_id);
    // An organization holding the schema tests' fixture: a row in every tenant
    // table, the owner and the member among its members.
    a.org_id = app.sql(|c| {
        let org: i64 = c.query_row(
            "INSERT INTO organizations (name, slug, owner_id, plan_tier) VALUES ('Everything', 'everything', ?1, 'enterprise') RETURNING id",
            [owner_id],
            |r| r.get(0),
        )?;
        let plugin = crate::schema::plugin(c, "orgall-weather");
        crate::schema::seed_tenant(c, org, owner_id, member_id, plugin, "orgall");
        Ok(org)
    });
    let file = export_org(&app, &a).await;
    let tables = app.sql(|c| {
        c.prepare(
            "SELECT m.name FROM sqlite_schema m WHERE m.type = 'table'
               AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) p WHERE p.name = 'organization_id') ORDER BY m.name",
        )?
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()
    });
    let source: Vec<(String, i64)> = tables.iter().map(|t| (t.clone(), count_in(&app, t, a.org_id))).collect();
    assert!(source.iter().filter(|(_, n)| *n > 0).count() > 80, "the fixture fills the tenant tables: {source:?}");

    // Imported on the same server (every server-wide unique value is taken).
    app.sql(|c| c.execute("UPDATE users SET is_superadmin = 1 WHERE id = ?1", [member_id]));
    let (status, report) = import_org(&app, &member, file, false).await;
    assert_eq!(status, 201, "{report}");
    let org = report["organization_id"].as_i64().expect("organization");
    let skipped = |table: &str| -> i64 {
        report["skipped"]
            .as_array()
            .expect("skipped")
            .iter()
            .filter(|s| s["table"] == table)
            .map(|s| s["rows"].as_i64().unwrap_or(0))
            .sum()
    };
    // Derived rows and queues are rebuilt or not carried.
    let not_exported = ["chunk_codes", "embedding_queue", "jobs"];
    for (table, n) in &source {
        if not_exported.contains(&table.as_str()) {
            continue;
        }
        // The importer was a member of the source: now the owner, not one more member.
        let expected = n - skipped(table);
        if table == "usage_tracking" {
            // Seats are counted again for the new organization.
            assert!(count_in(&app, table, org) >= expected, "{table}");
            continue;
        }
        assert_eq!(
            count_in(&app, table, org),
            expected,
            "{table}: every row carried or reported as left out: {report}"
        );
    }
    for table in ["api_tokens", "scim_tokens", "team_invitations", "sso_auth_requests", "webhooks", "recovery_sources"]
    {
        assert_eq!(count_in(&app, table, org), 0, "{table} does not travel");
        assert!(skipped(table) >= 1, "{table} is reported: {report}");
    }
    // Secrets are cleared, and said so.
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM channels WHERE organization_id = {org} AND credentials_encrypted IS NOT NULL"
        )),
        0
    );
    assert!(
        report["warnings"]
            .as_array()
            .expect("warnings")
            .iter()
            .any(|w| w.as_str().is_some_and(|w| w.contains("sealed"))),
        "{report}"
    );
    // The chunk's vector came along.
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM chunk_vectors WHERE knowledge_base_id IN (SELECT id FROM knowledge_bases WHERE organization_id = {org})")),
        count_in(&app, "chunks", org)
    );
    // Nothing of the new organization points into the source organization.
    for table in &tables {
        let fks: Vec<(String, String)> = app.sql(|c| {
            c.prepare(r#"SELECT "from", "table" FROM pragma_foreign_key_list(?1)"#)?
                .query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<_>, _>>()
        });
        for (col, parent) in fks {
            let parent_is_tenant = tables.contains(&parent);
            if !parent_is_tenant {
                continue;
            }
            let leaks = app.count(&format!(
                "SELECT count(*) FROM \"{table}\" t JOIN \"{parent}\" p ON p.id = t.\"{col}\"
                 WHERE t.organization_id = {org} AND p.organization_id IS NOT {org} AND p.organization_id IS NOT NULL"
            ));
            assert_eq!(leaks, 0, "{table}.{col} points at rows of another organization");
        }
    }
}

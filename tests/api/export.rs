//! Bot export and import (docs/export.md): a rich bot travels to another
//! organization and answers the same; bad files are refused with clear
//! errors and nothing half-imported; another organization's bot cannot be
//! exported.
#![allow(clippy::too_many_lines, reason = "each scenario walks export, import and the refusals end to end")]

use std::io::{Cursor, Read, Write};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, emulator_say, published_bot, spawn_app, spawn_app_with};

async fn export(app: &TestApp, s: &Session, bot: i64) -> Vec<u8> {
    let r = app.as_user(s, Method::GET, &format!("/api/v1/bots/{bot}/export")).send().await.expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("application/zip"));
    r.bytes().await.expect("bytes").to_vec()
}

async fn import(app: &TestApp, s: &Session, file: Vec<u8>, dry_run: bool) -> (u16, Value) {
    let r = app
        .as_user(s, Method::POST, &format!("/api/v1/orgs/{}/bots/import?dry_run={dry_run}", s.org_id))
        .header("Content-Type", "application/zip")
        .body(file)
        .send()
        .await
        .expect("send");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
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

#[tokio::test]
async fn export_a_rich_bot_imports_into_another_organization_and_answers_the_same() {
    let app = spawn_app_with(|c| c.ml.enabled = true).await;
    let a = app.register("export-a@example.com").await;
    let b = app.register("export-b@example.com").await;
    for org in [a.org_id, b.org_id] {
        app.sql(|c| c.execute("UPDATE organizations SET plan_tier = 'enterprise' WHERE id = ?1", [org]));
    }
    let path = format!("/api/v1/orgs/{}/bots/from-template", a.org_id);
    // A knowledge bot (KB with a document) and an NLU bot (trained model).
    let (status, faq) = app.call(&a, Method::POST, &path, Some(json!({ "template": "faq" }))).await;
    assert_eq!(status, 201, "{faq}");
    let (status, support) = app.call(&a, Method::POST, &path, Some(json!({ "template": "support" }))).await;
    assert_eq!(status, 201, "{support}");
    app.run_jobs().await;
    let faq_bot = faq["bot"]["id"].as_i64().expect("faq");
    let support_bot = support["bot"]["id"].as_i64().expect("support");
    // A widget setting and a canned message travel too.
    let (status, body) = app
        .call(
            &a,
            Method::PUT,
            &format!("/api/v1/bots/{faq_bot}/widget"),
            Some(json!({ "config": { "title": "Store help" } })),
        )
        .await;
    assert!((200..300).contains(&status), "{body}");

    let faq_file = export(&app, &a, faq_bot).await;
    let support_file = export(&app, &a, support_bot).await;

    // Dry run: the report, and nothing written.
    let (status, report) = import(&app, &b, faq_file.clone(), true).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["created"]["bots"], 1, "{report}");
    assert_eq!(report["created"]["knowledge_bases"], 1, "{report}");
    assert!(report["created"]["chunks"].as_u64().unwrap_or(0) >= 1, "{report}");
    assert!(report["created"]["bot_flows"].as_u64().unwrap_or(0) >= 1, "{report}");
    assert_eq!(count_in(&app, "bots", b.org_id), 0, "a dry run writes nothing");
    assert_eq!(count_in(&app, "knowledge_bases", b.org_id), 0);

    let (status, report) = import(&app, &b, faq_file, false).await;
    assert_eq!(status, 201, "{report}");
    let new_faq = report["bot_id"].as_i64().expect("new bot");
    let (status, report) = import(&app, &b, support_file, false).await;
    assert_eq!(status, 201, "{report}");
    let new_support = report["bot_id"].as_i64().expect("new bot");
    assert!(report["created"]["model_versions"] == 1, "the active NLU model travels: {report}");
    assert!(new_faq != faq_bot && new_support != support_bot);

    // Every id remapped: the new rows are B's, A's are untouched.
    let kb_b: i64 = app.sql(|c| {
        c.query_row(
            "SELECT knowledge_base_id FROM agent_knowledge_bases WHERE bot_id = ?1 AND organization_id = ?2",
            [new_faq, b.org_id],
            |r| r.get(0),
        )
    });
    assert_eq!(
        count_in(&app, "chunks", b.org_id),
        app.count(&format!("SELECT count(*) FROM chunks WHERE knowledge_base_id = {kb_b}"))
    );
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM chunk_vectors WHERE knowledge_base_id = {kb_b}")),
        count_in(&app, "chunks", b.org_id)
    );
    let (_, kb) = app.call(&b, Method::GET, &format!("/api/v1/knowledge-bases/{kb_b}"), None).await;
    assert_eq!(kb["document_count"], 1, "{kb}");
    let (_, widget) = app.call(&b, Method::GET, &format!("/api/v1/bots/{new_faq}/widget"), None).await;
    assert_eq!(widget["config"]["title"], "Store help", "{widget}");

    // The same knowledge answer in both organizations.
    for (s, bot) in [(&a, faq_bot), (&b, new_faq)] {
        let (_, turn) = emulator_say(&app, s, bot, None, None).await;
        let (texts, turn) = emulator_say(
            &app,
            s,
            bot,
            turn["conversation_id"].as_i64(),
            Some("How many days do I have to return an item?"),
        )
        .await;
        assert!(texts[0].contains("30 days"), "{texts:?} {turn}");
    }
    // The same NLU answer, from the imported model (no training in B).
    assert_eq!(app.count(&format!("SELECT count(*) FROM jobs WHERE organization_id = {}", b.org_id)), 0);
    for (s, bot) in [(&a, support_bot), (&b, new_support)] {
        let (_, nlu) = app.call(s, Method::GET, &format!("/api/v1/bots/{bot}/nlu"), None).await;
        assert!(nlu["active_model"].is_object(), "{nlu}");
        let (_, turn) = emulator_say(&app, s, bot, None, None).await;
        let (texts, _) =
            emulator_say(&app, s, bot, turn["conversation_id"].as_i64(), Some("I was charged twice this month")).await;
        assert!(texts[0].contains("Account → Billing"), "{texts:?}");
    }
    // Importing the same file again: the knowledge base name is taken, renamed.
    let again = export(&app, &a, faq_bot).await;
    let (status, report) = import(&app, &b, again, true).await;
    assert_eq!(status, 200, "{report}");
    assert!(
        report["renamed"].as_array().is_some_and(|r| r.iter().any(|x| x["table"] == "knowledge_bases")),
        "{report}"
    );
}

#[tokio::test]
async fn export_bad_files_are_refused_with_clear_errors_and_nothing_half_imported() {
    let app = spawn_app().await;
    let a = app.register("bad-a@example.com").await;
    let b = app.register("bad-b@example.com").await;
    let flow = json!({
        "nodes": [
            { "id": "start", "type": "start", "position": { "x": 0, "y": 0 } },
            { "id": "hi", "type": "message", "position": { "x": 0, "y": 100 }, "data": { "text": "Hello there" } }
        ],
        "edges": [ { "source": "start", "target": "hi" } ]
    });
    let bot = published_bot(&app, &a, "Greeter", flow).await;
    let file = export(&app, &a, bot).await;

    // Another organization's bot: 404 as for any bot it cannot see.
    let r = app.as_user(&b, Method::GET, &format!("/api/v1/bots/{bot}/export")).send().await.expect("send");
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "bot_not_found");
    // A viewer of the bot's organization may not export it.
    let viewer = app.join(&a, a.org_id, "bad-viewer@example.com", "viewer").await;
    let r = app.as_user(&viewer, Method::GET, &format!("/api/v1/bots/{bot}/export")).send().await.expect("send");
    assert_eq!(r.status(), 403);

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
    let (status, body) = import(&app, &b, newer, false).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("export_version_unsupported")), "{body}");
    assert_eq!(body["error"]["details"]["format_version"], 99);
    assert!(body["error"]["message"].as_str().unwrap_or("").contains("upgrade"), "{body}");

    // A truncated archive.
    for cut in [file.len() / 2, file.len() - 7] {
        let (status, body) = import(&app, &b, file[..cut].to_vec(), false).await;
        assert_eq!((status, body["error"]["code"].as_str()), (422, Some("export_archive_invalid")), "{body}");
        assert_eq!(body["error"]["details"]["field"], "file");
    }
    // Not an archive at all.
    let (status, body) = import(&app, &b, b"hello".to_vec(), true).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("export_archive_invalid")), "{body}");

    // A table altered after export: its checksum no longer matches.
    let altered = rewrite(&file, |name, body| {
        if name == "tables/bot_flows.jsonl" {
            String::from_utf8(body).expect("utf8").replace("Hello there", "Pay here").into_bytes()
        } else {
            body
        }
    });
    let (status, body) = import(&app, &b, altered, false).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("export_checksum_mismatch")), "{body}");
    assert_eq!(body["error"]["details"]["entry"], "tables/bot_flows.jsonl");

    // A row that fails half-way (after the bot row was written): rolled back whole.
    let broken = rewrite(&file, |name, body| {
        if name == "tables/bot_flows.jsonl" {
            String::from_utf8(body).expect("utf8").replace("\"flow_data\":", "\"flow_data\":null,\"x\":").into_bytes()
        } else {
            body
        }
    });
    let broken = fix_checksums(&broken);
    let (status, body) = import(&app, &b, broken, false).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("export_archive_invalid")), "{body}");
    for table in ["bots", "bot_flows", "widget_configs", "bot_messages"] {
        assert_eq!(count_in(&app, table, b.org_id), 0, "{table}: nothing half-imported");
    }

    // The good file still imports, and says what did not travel.
    let (status, report) = import(&app, &b, file, false).await;
    assert_eq!(status, 201, "{report}");
    let new_bot = report["bot_id"].as_i64().expect("bot");
    let (texts, _) = emulator_say(&app, &b, new_bot, None, None).await;
    assert_eq!(texts, ["Hello there"]);
    let source_key: String = app.sql(|c| c.query_row("SELECT widget_key FROM bots WHERE id = ?1", [bot], |r| r.get(0)));
    let imported_key: String =
        app.sql(|c| c.query_row("SELECT widget_key FROM bots WHERE id = ?1", [new_bot], |r| r.get(0)));
    assert_ne!(source_key, imported_key, "a new widget key");
    let audited = app.count(&format!(
        "SELECT count(*) FROM audit_logs WHERE organization_id = {} AND action = 'bot.imported' AND resource_id = {new_bot}",
        b.org_id
    ));
    assert_eq!(audited, 1);
}

/// Recomputes the manifest's checksums (a file that is well-formed but wrong inside).
fn fix_checksums(file: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut sums = std::collections::HashMap::new();
    let mut zip = zip::ZipArchive::new(Cursor::new(file)).expect("zip");
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).expect("entry");
        let mut body = Vec::new();
        entry.read_to_end(&mut body).expect("read");
        sums.insert(entry.name().to_owned(), hex::encode(Sha256::digest(&body)));
    }
    rewrite(file, |name, body| {
        if name == "manifest.json" {
            let mut m: Value = serde_json::from_slice(&body).expect("manifest");
            for t in m["tables"].as_array_mut().expect("tables") {
                let path = t["path"].as_str().expect("path").to_owned();
                t["sha256"] = json!(sums[&path]);
            }
            serde_json::to_vec(&m).expect("json")
        } else {
            body
        }
    })
}

#[tokio::test]
async fn export_cli_writes_a_bot_file_and_import_dry_run_changes_nothing() {
    let app = spawn_app().await;
    let a = app.register("cli-export@example.com").await;
    let flow = json!({
        "nodes": [
            { "id": "start", "type": "start", "position": { "x": 0, "y": 0 } },
            { "id": "hi", "type": "message", "position": { "x": 0, "y": 100 }, "data": { "text": "From the CLI" } }
        ],
        "edges": [ { "source": "start", "target": "hi" } ]
    });
    let bot = published_bot(&app, &a, "Cli bot", flow).await;
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("bot.zip");
    let data = app.data_path();
    let bin = env!("CARGO_BIN_EXE_botbuilder");
    let run =
        |args: &[&str]| std::process::Command::new(bin).args(args).arg("--data").arg(&data).output().expect("run");
    let o = run(&["export", "bot", "--bot", &bot.to_string(), "--out", out.to_str().expect("path")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run(&["import", out.to_str().expect("path"), "--org", &a.org_id.to_string(), "--dry-run"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: Value = serde_json::from_slice(&o.stdout).expect("report json");
    assert_eq!((report["dry_run"].clone(), report["created"]["bots"].clone()), (json!(true), json!(1)), "{report}");
    assert_eq!(report["renamed"][0]["to"], "Cli bot (imported)", "{report}");
    assert_eq!(count_in(&app, "bots", a.org_id), 1, "the dry run wrote nothing");
    let o = run(&["import", out.to_str().expect("path"), "--org", &a.org_id.to_string()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(count_in(&app, "bots", a.org_id), 2);
    // A damaged file: exit code 2 and the error code on stderr.
    std::fs::write(&out, b"PK\x03\x04broken").expect("write");
    let o = run(&["import", out.to_str().expect("path"), "--org", &a.org_id.to_string()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("export_archive_invalid"));
}

fn tenant_tables(app: &TestApp) -> Vec<String> {
    app.sql(|c| {
        let mut stmt = c.prepare(
            "SELECT m.name FROM sqlite_schema m WHERE m.type = 'table'
               AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) p WHERE p.name = 'organization_id') ORDER BY m.name",
        )?;
        stmt.query_map([], |r| r.get(0))?.collect()
    })
}

#[tokio::test]
async fn export_organization_as_a_job_then_erase_leaves_no_row_of_it_in_any_tenant_table() {
    let app = spawn_app().await;
    let owner = app.register("erase-owner@example.com").await;
    let other = app.register("erase-other@example.com").await;
    app.sql(|c| c.execute("UPDATE organizations SET plan_tier = 'enterprise' WHERE id = ?1", [owner.org_id]));
    let flow = json!({
        "nodes": [
            { "id": "start", "type": "start", "position": { "x": 0, "y": 0 } },
            { "id": "hi", "type": "message", "position": { "x": 0, "y": 100 }, "data": { "text": "Hi" } }
        ],
        "edges": [ { "source": "start", "target": "hi" } ]
    });
    let bot = published_bot(&app, &owner, "To erase", flow.clone()).await;
    emulator_say(&app, &owner, bot, None, None).await;
    let (status, _) = app
        .call(
            &owner,
            Method::POST,
            &format!("/api/v1/orgs/{}/bots/from-template", owner.org_id),
            Some(json!({ "template": "lead_capture" })),
        )
        .await;
    assert_eq!(status, 201);
    published_bot(&app, &other, "Stays", flow).await;
    // A member who belongs only to this organization (their own sign-up organization gone).
    let only = app.join(&owner, owner.org_id, "erase-only@example.com", "editor").await;
    let only_id: i64 =
        app.sql(|c| c.query_row("SELECT id FROM users WHERE email = 'erase-only@example.com'", [], |r| r.get(0)));
    app.sql(|c| c.execute("DELETE FROM organizations WHERE owner_id = ?1", [only_id]));

    // The export: a job, then a download.
    let path = format!("/api/v1/orgs/{}/export", owner.org_id);
    let (status, body) = app.call(&owner, Method::GET, &path, None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("org_export_not_ready")), "{body}");
    let (status, _) = app.call(&only, Method::POST, &path, None).await;
    assert_eq!(status, 403, "owners only");
    let (status, queued) = app.call(&owner, Method::POST, &path, None).await;
    assert_eq!(status, 202, "{queued}");
    app.run_jobs().await;
    let r = app.as_user(&owner, Method::GET, &path).send().await.expect("send");
    assert_eq!(r.status(), 200);
    let file = r.bytes().await.expect("bytes").to_vec();
    let bundle = botbuilder::portability::bundle::Bundle::from_zip(&file).expect("a valid export");
    assert_eq!(bundle.manifest.kind, "organization");
    let counts = bundle.counts();
    assert_eq!(counts["bots"], 2, "{counts:?}");
    assert!(counts["bot_flows"] >= 2 && counts["widget_messages"] >= 1, "{counts:?}");
    let users = &bundle.tables.iter().find(|(t, _)| t == "users").expect("users").1;
    assert_eq!(users.len(), 2, "the two members");
    assert!(users.iter().all(|u| !u.contains_key("password_hash")), "no credentials");
    for (table, rows) in &bundle.tables {
        if table != "organizations" && table != "users" {
            assert!(
                rows.iter().all(|r| r["organization_id"] == owner.org_id),
                "{table}: only this organization's rows"
            );
        }
    }
    let exports = app.data_path().parent().expect("dir").join("exports");
    assert_eq!(std::fs::read_dir(&exports).expect("exports").count(), 1);

    // Erase: owners only, the name typed again.
    let erase = format!("/api/v1/orgs/{}/erase", owner.org_id);
    let (status, _) = app.call(&only, Method::POST, &erase, Some(json!({ "confirm_name": "x" }))).await;
    assert_eq!(status, 403);
    let (status, body) = app.call(&owner, Method::POST, &erase, Some(json!({ "confirm_name": "wrong" }))).await;
    assert_eq!((status, body["error"]["details"]["field"].as_str()), (422, Some("confirm_name")), "{body}");
    let tables = tenant_tables(&app);
    let before: i64 = tables.iter().map(|t| count_in(&app, t, owner.org_id)).sum();
    assert!(before > 10, "{before}");
    let name: String =
        app.sql(|c| c.query_row("SELECT name FROM organizations WHERE id = ?1", [owner.org_id], |r| r.get(0)));
    let other_rows: i64 = tables.iter().map(|t| count_in(&app, t, other.org_id)).sum();
    let (status, report) = app.call(&owner, Method::POST, &erase, Some(json!({ "confirm_name": name }))).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["users_removed"], 1, "{report}");
    assert!(report["rows_deleted"].as_i64().unwrap_or(0) >= before, "{report}");
    // Walk the schema: no row of the organization anywhere.
    for table in &tables {
        assert_eq!(count_in(&app, table, owner.org_id), 0, "{table} still holds rows of the erased organization");
    }
    assert_eq!(app.count(&format!("SELECT count(*) FROM organizations WHERE id = {}", owner.org_id)), 0);
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM users WHERE id = {only_id}")),
        0,
        "the member of no other organization is removed"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE email = 'erase-owner@example.com'"),
        1,
        "the caller's account stays"
    );
    let other_after: i64 = tables.iter().map(|t| count_in(&app, t, other.org_id)).sum();
    assert_eq!(other_after, other_rows, "the other organization is untouched");
    assert_eq!(std::fs::read_dir(&exports).expect("exports").count(), 0, "its export files are gone");
    let audited = app.count(&format!(
        "SELECT count(*) FROM audit_logs WHERE action = 'org.deleted' AND resource_id = {} AND json_extract(metadata, '$.erase') = 1",
        owner.org_id
    ));
    assert_eq!(audited, 1);
}

//! The schema: all 95 origin tables plus the added ones, the 4 views, and a
//! test per trigger proving that it fires and what it refuses. The fixture
//! `fixtures/tenant.sql` puts a row into every tenant-owned table, so the
//! generic tests (cascade, `updated_at`, tenant consistency) cover every
//! table, not a sample.

use std::collections::BTreeSet;

use botbuilder::config::DbConfig;
use botbuilder::db::Db;
use rusqlite::{Connection, params};

/// The 95 tables of the origin (spec/origin-schema.md §2.1–§2.22).
const ORIGIN_TABLES: [&str; 95] = [
    "users",
    "user_subscriptions",
    "user_sessions",
    "two_factor_backup_codes",
    "password_reset_tokens",
    "organizations",
    "organization_members",
    "roles",
    "audit_logs",
    "whitelabel_settings",
    "bots",
    "bot_messages",
    "bot_flows",
    "agents",
    "agent_workflows",
    "workflow_executions",
    "agent_execution_steps",
    "agent_messages",
    "autonomous_agents",
    "agent_tasks",
    "task_steps",
    "tool_executions",
    "tools",
    "agent_tools",
    "knowledge_bases",
    "documents",
    "chunks",
    "agent_knowledge_bases",
    "embedding_queue",
    "intents",
    "intent_examples",
    "entities",
    "entity_values",
    "entity_versions",
    "entity_branches",
    "fine_tune_models",
    "fine_tune_datasets",
    "fine_tune_jobs",
    "fine_tuning_metrics",
    "model_versions",
    "channels",
    "channel_messages",
    "channel_templates",
    "channel_webhooks",
    "channel_contacts",
    "integrations",
    "integration_logs",
    "voice_bots",
    "phone_numbers",
    "calls",
    "call_segments",
    "voice_bot_creations",
    "voice_bot_sessions",
    "voice_bot_templates",
    "work_clones",
    "clone_training_data",
    "clone_responses",
    "clone_sessions",
    "subscription_plans",
    "payment_history",
    "usage_tracking",
    "api_tokens",
    "recovery_campaigns",
    "recovery_events",
    "recovery_messages",
    "recovery_analytics",
    "customer_health_scores",
    "customer_health_score_history",
    "plugin_categories",
    "plugins",
    "plugin_versions",
    "plugin_installations",
    "plugin_reviews",
    "sso_configurations",
    "sso_domains",
    "sso_user_mappings",
    "sso_login_logs",
    "webhook_logs",
    "email_notifications",
    "widget_configs",
    "widget_messages",
    "team_roles",
    "team_members",
    "team_invitations",
    "activity_logs",
    "nlu_logs",
    "admin_audit_log",
    "flow_orchestrations",
    "flow_transitions",
    "flow_variables",
    "admin_ip_whitelist",
    "admin_login_attempts",
    "admin_sessions",
    "ab_tests",
    "ab_test_results",
];

/// Tables DESIGN §4 adds, and the two virtual index tables.
const ADDED_TABLES: [&str; 12] = [
    "teams",
    "conversations",
    "jobs",
    "files",
    "ai_configurations",
    "llm_providers",
    "webhooks",
    "settings",
    "chunks_fts",
    "chunk_vectors",
    // Knowledge retrieval at scale (V040): binary codes and re-embedding staging.
    "chunk_codes",
    "chunk_vectors_next",
];

const VIEWS: [&str; 4] =
    ["user_subscription_details", "user_usage_summary", "recent_audit_activity", "user_activity_summary"];

const FIXTURE: &str = include_str!("fixtures/tenant.sql");

/// A migrated data file and a plain connection to it (foreign keys on), so
/// that tests see SQLite's own messages.
struct TestDb {
    _dir: tempfile::TempDir,
    conn: Connection,
}

impl TestDb {
    fn new() -> TestDb {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("schema.db");
        drop(Db::open(&path, &DbConfig::default()).expect("open and migrate"));
        let conn = Connection::open(&path).expect("connect");
        conn.pragma_update(None, "foreign_keys", "ON").expect("pragma");
        TestDb { _dir: dir, conn }
    }

    /// Runs `f` in a transaction and commits.
    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> T {
        self.conn.execute_batch("BEGIN IMMEDIATE").expect("begin");
        match f(&self.conn) {
            Ok(v) => {
                self.conn.execute_batch("COMMIT").expect("commit");
                v
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                panic!("sql: {e}");
            }
        }
    }

    /// Runs `f`, which must fail, and returns SQLite's message; nothing is kept.
    fn refused(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<()>) -> String {
        self.conn.execute_batch("BEGIN IMMEDIATE").expect("begin");
        let result = f(&self.conn);
        let _ = self.conn.execute_batch("ROLLBACK");
        match result {
            Ok(()) => panic!("the statement was accepted"),
            Err(e) => e.to_string(),
        }
    }

    fn count(&self, sql: &str) -> i64 {
        self.with(|c| c.query_row(sql, [], |r| r.get(0)))
    }

    /// Two fully populated organizations (ids 1 and 2) and their owners.
    fn two_tenants(&self) {
        self.with(|c| {
            c.execute_batch(
                "INSERT INTO users (id, email, password_hash, name) VALUES (1, 'one@example.com', 'x', 'One'), (2, 'two@example.com', 'x', 'Two');
                 INSERT INTO plugins (id, name, slug, status) VALUES (1, 'Echo', 'echo', 'published'), (2, 'Other', 'other', 'published');
                 INSERT INTO plugin_versions (plugin_id, version) VALUES (2, '1.0.0');
                 INSERT INTO plugin_reviews (plugin_id, user_id, rating) VALUES (2, 1, 4);",
            )?;
            for (org, user) in [(1, 1), (2, 2)] {
                let sql = FIXTURE
                    .replace("{o}", &org.to_string())
                    .replace("{u}", &user.to_string())
                    .replace("{s}", &format!("t{org}"))
                    .replace("{plugin}", "1");
                c.execute_batch(&sql)?;
            }
            Ok(())
        });
    }
}

fn names(c: &Connection, sql: &str) -> BTreeSet<String> {
    c.prepare(sql)
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

fn tables_with_column(c: &Connection, column: &str) -> Vec<String> {
    let tables = names(c, "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'");
    tables
        .into_iter()
        .filter(|t| {
            names(c, &format!("SELECT name FROM pragma_table_info('{t}')")).contains(column)
                && !t.starts_with("chunks_fts")
                && !t.starts_with("chunk_vectors")
        })
        .collect()
}

#[test]
fn all_origin_tables_added_tables_and_views_exist() {
    let t = TestDb::new();
    t.with(|c| {
        let tables = names(c, "SELECT name FROM sqlite_schema WHERE type = 'table'");
        let ours: BTreeSet<String> = tables
            .into_iter()
            .filter(|n| {
                !n.starts_with("sqlite_")
                    && n != "refinery_schema_history"
                    && !(n.starts_with("chunks_fts_") || (n.starts_with("chunk_vectors_") && n != "chunk_vectors_next"))
            })
            .collect();
        let expected: BTreeSet<String> =
            ORIGIN_TABLES.iter().chain(ADDED_TABLES.iter()).map(|s| (*s).to_owned()).collect();
        assert_eq!(ORIGIN_TABLES.iter().collect::<BTreeSet<_>>().len(), 95);
        assert_eq!(ours, expected, "tables differ from the 95 origin tables + the added ones");
        let views = names(c, "SELECT name FROM sqlite_schema WHERE type = 'view'");
        assert_eq!(views, VIEWS.iter().map(|s| (*s).to_owned()).collect());
        for view in VIEWS {
            c.prepare(&format!("SELECT * FROM {view}"))?.query([])?.next()?;
        }
        let vec: String = c.query_row("SELECT vec_version()", [], |r| r.get(0))?;
        assert!(vec.starts_with('v'), "{vec}");
        assert!(names(c, "SELECT name FROM sqlite_schema WHERE type = 'trigger'").len() > 300);
        assert_eq!(c.query_row("PRAGMA foreign_key_check", [], |_| Ok(())).ok(), None, "foreign key violations");
        let check: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        assert_eq!(check, "ok");
        Ok(())
    });
}

#[test]
fn every_tenant_table_has_the_tenant_column_first_in_an_index() {
    let t = TestDb::new();
    t.with(|c| {
        let mut missing = Vec::new();
        for table in tables_with_column(c, "organization_id") {
            let indexes = names(c, &format!("SELECT name FROM pragma_index_list('{table}')"));
            let tenant_first = indexes.iter().any(|i| {
                c.query_row(&format!("SELECT name FROM pragma_index_info('{i}') WHERE seqno = 0"), [], |r| {
                    r.get::<_, Option<String>>(0)
                })
                .ok()
                .flatten()
                .as_deref()
                    == Some("organization_id")
            });
            let one_row_per_org = ["whitelabel_settings", "user_subscriptions"].contains(&table.as_str());
            if !(tenant_first || one_row_per_org) {
                missing.push(table);
            }
        }
        assert!(missing.is_empty(), "no index starts with organization_id on {missing:?}");
        Ok(())
    });
}

#[test]
fn migrations_run_once_and_again_as_a_no_op() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("m.db");
    botbuilder::db::register_sqlite_vec();
    let mut conn = Connection::open(&path).expect("open");
    botbuilder::db::apply_migrations(&mut conn).expect("first");
    let schema = |c: &Connection| names(c, "SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL");
    let before = schema(&conn);
    botbuilder::db::apply_migrations(&mut conn).expect("second");
    assert_eq!(schema(&conn), before);
    assert!(botbuilder::db::schema_is_current(&conn).expect("current"));
    let applied: i64 = conn.query_row("SELECT count(*) FROM refinery_schema_history", [], |r| r.get(0)).expect("count");
    // Versions are not contiguous (ranges are reserved per area): count the files.
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .expect("migrations dir")
        .filter(|e| e.as_ref().is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".sql")))
        .count();
    assert_eq!(applied, i64::try_from(files).expect("count"));
    assert!(i64::from(botbuilder::db::latest_version()) >= applied);
}

#[test]
fn the_fixture_covers_every_tenant_table_for_both_organizations() {
    let t = TestDb::new();
    t.two_tenants();
    t.with(|c| {
        for table in tables_with_column(c, "organization_id") {
            for org in [1, 2] {
                let n: i64 =
                    c.query_row(&format!("SELECT count(*) FROM {table} WHERE organization_id = ?1"), [org], |r| {
                        r.get(0)
                    })?;
                assert!(n > 0, "the fixture has no {table} row for organization {org}");
            }
        }
        Ok(())
    });
}

#[test]
fn deleting_an_organization_removes_all_its_data_and_nothing_else() {
    let t = TestDb::new();
    t.two_tenants();
    t.with(|c| c.execute("DELETE FROM organizations WHERE id = 1", []));
    t.with(|c| {
        for table in tables_with_column(c, "organization_id") {
            let mine: i64 =
                c.query_row(&format!("SELECT count(*) FROM {table} WHERE organization_id = 1"), [], |r| r.get(0))?;
            let theirs: i64 =
                c.query_row(&format!("SELECT count(*) FROM {table} WHERE organization_id = 2"), [], |r| r.get(0))?;
            assert_eq!(mine, 0, "{table} kept rows of the deleted organization");
            assert!(theirs > 0, "{table} lost rows of the other organization");
        }
        // Users and platform rows stay; the deleted tenant's index rows are gone.
        assert_eq!(c.query_row("SELECT count(*) FROM users", [], |r| r.get::<_, i64>(0))?, 2);
        assert_eq!(c.query_row("SELECT count(*) FROM plugins", [], |r| r.get::<_, i64>(0))?, 2);
        let fts: i64 =
            c.query_row("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'zebras'", [], |r| r.get(0))?;
        assert_eq!(fts, 1, "only the other tenant's chunk remains searchable");
        let fk: Option<i64> = c.query_row("PRAGMA foreign_key_check", [], |r| r.get(0)).ok();
        assert_eq!(fk, None);
        Ok(())
    });
}

#[test]
fn updated_at_is_maintained_on_every_table_that_has_it() {
    let t = TestDb::new();
    t.two_tenants();
    t.with(|c| {
        c.execute("INSERT INTO settings (key, value) VALUES ('probe', '1')", [])?;
        c.execute("INSERT INTO admin_ip_whitelist (ip_address) VALUES ('10.0.0.0/8')", [])?;
        let tables = tables_with_column(c, "updated_at");
        assert!(tables.len() >= 70, "{}", tables.len());
        let old = "2000-01-01T00:00:00.000Z";
        for table in &tables {
            let key = if table == "settings" { "key" } else { "id" };
            c.execute(&format!("UPDATE {table} SET updated_at = ?1"), [old])?;
            let n: i64 = c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
            assert!(n > 0, "{table} has no rows to update");
            // An update that does not set updated_at refreshes it.
            c.execute(&format!("UPDATE {table} SET {key} = {key}"), [])?;
            let stale: i64 =
                c.query_row(&format!("SELECT count(*) FROM {table} WHERE updated_at = ?1"), [old], |r| r.get(0))?;
            assert_eq!(stale, 0, "{table}: updated_at was not maintained");
            // An explicit value is kept.
            c.execute(&format!("UPDATE {table} SET updated_at = ?1"), [old])?;
            let kept: i64 =
                c.query_row(&format!("SELECT count(*) FROM {table} WHERE updated_at = ?1"), [old], |r| r.get(0))?;
            assert_eq!(kept, n, "{table}: an explicit updated_at was overwritten");
        }
        Ok(())
    });
}

#[test]
fn every_tenant_link_refuses_a_parent_of_another_organization() {
    let t = TestDb::new();
    t.two_tenants();
    let triggers: Vec<(String, String)> = t.with(|c| {
        let mut stmt = c.prepare("SELECT name, tbl_name FROM sqlite_schema WHERE type = 'trigger' AND name LIKE '%\\_tenant\\_update' ESCAPE '\\'")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect()
    });
    assert!(triggers.len() >= 120, "only {} tenant triggers", triggers.len());
    for (trigger, table) in &triggers {
        let column =
            trigger.strip_prefix(&format!("{table}_")).and_then(|s| s.strip_suffix("_tenant_update")).expect("name");
        let parent: String = t.with(|c| {
            c.query_row(
                &format!("SELECT \"table\" FROM pragma_foreign_key_list('{table}') WHERE \"from\" = ?1"),
                [column],
                |r| r.get(0),
            )
        });
        let foreign: i64 = t.with(|c| {
            c.query_row(&format!("SELECT min(id) FROM {parent} WHERE organization_id = 2"), [], |r| r.get(0))
        });
        // Point organization 1's row at organization 2's parent: refused.
        let message = t.refused(|c| {
            c.execute(&format!("UPDATE {table} SET {column} = ?1 WHERE organization_id = 1"), [foreign]).map(drop)
        });
        assert!(message.contains(&format!("tenant_mismatch: {table}.{column}")), "{table}.{column}: {message}");
    }
    // The insert triggers: a chunk of organization 1 in organization 2's document.
    let message = t.refused(|c| {
        c.execute(
            "INSERT INTO chunks (organization_id, knowledge_base_id, document_id, chunk_index, content)
             VALUES (1, (SELECT id FROM knowledge_bases WHERE organization_id = 1), (SELECT id FROM documents WHERE organization_id = 2), 9, 'x')",
            [],
        )
        .map(drop)
    });
    assert!(message.contains("tenant_mismatch: chunks.document_id"), "{message}");
    let message = t.refused(|c| {
        c.execute(
            "INSERT INTO widget_messages (organization_id, bot_id, conversation_id, session_id, role, content)
             VALUES (1, (SELECT id FROM bots WHERE organization_id = 1), (SELECT id FROM conversations WHERE organization_id = 2), 's', 'user', 'x')",
            [],
        )
        .map(drop)
    });
    assert!(message.contains("tenant_mismatch: widget_messages.conversation_id"), "{message}");
}

#[test]
fn roles_of_members_invitations_and_sso_must_be_builtin_or_the_organizations_own() {
    let t = TestDb::new();
    t.two_tenants();
    t.with(|c| c.execute("INSERT INTO users (id, email, password_hash) VALUES (3, 'three@example.com', 'x')", []));
    let foreign_role = "(SELECT id FROM roles WHERE organization_id = 2)";
    let m = t.refused(|c| {
        c.execute(
            &format!(
                "INSERT INTO organization_members (organization_id, user_id, role_id) VALUES (1, 3, {foreign_role})"
            ),
            [],
        )
        .map(drop)
    });
    assert!(m.contains("tenant_mismatch: organization_members.role_id"), "{m}");
    let m = t.refused(|c| {
        c.execute(&format!("UPDATE organization_members SET role_id = {foreign_role} WHERE organization_id = 1"), [])
            .map(drop)
    });
    assert!(m.contains("tenant_mismatch: organization_members.role_id"), "{m}");
    let m = t.refused(|c| {
        c.execute(
            &format!("INSERT INTO team_invitations (organization_id, email, role_id, token_hash, expires_at) VALUES (1, 'x@example.com', {foreign_role}, randomblob(32), '2999-01-01')"),
            [],
        )
        .map(drop)
    });
    assert!(m.contains("tenant_mismatch: team_invitations.role_id"), "{m}");
    let m = t.refused(|c| {
        c.execute(
            &format!("UPDATE sso_configurations SET default_role_id = {foreign_role} WHERE organization_id = 1"),
            [],
        )
        .map(drop)
    });
    assert!(m.contains("tenant_mismatch: sso_configurations.default_role_id"), "{m}");
    // Built-in roles and the organization's own roles are accepted.
    t.with(|c| {
        c.execute("INSERT INTO organization_members (organization_id, user_id, role_id) VALUES (1, 3, (SELECT id FROM roles WHERE name = 'editor'))", [])?;
        c.execute("UPDATE organization_members SET role_id = (SELECT id FROM roles WHERE organization_id = 1) WHERE user_id = 3", [])
    });
}

#[test]
fn audit_logs_admin_audit_log_and_sso_login_logs_are_append_only() {
    let t = TestDb::new();
    t.two_tenants();
    t.with(|c| {
        c.execute("INSERT INTO users (id, email, password_hash) VALUES (9, 'admin@example.com', 'x')", [])?;
        c.execute("INSERT INTO admin_audit_log (user_id, action) VALUES (9, 'ADMIN_LOGIN_SUCCESS')", [])?;
        c.execute("INSERT INTO audit_logs (organization_id, user_id, action, resource_type) VALUES (NULL, 9, 'user.login', 'user')", [])?;
        c.execute("INSERT INTO sso_login_logs (organization_id, user_id, status) VALUES (1, 9, 'failed')", [])
    });
    for table in ["audit_logs", "admin_audit_log", "sso_login_logs"] {
        let m = t.refused(|c| c.execute(&format!("UPDATE {table} SET created_at = '2000-01-01'"), []).map(drop));
        assert!(m.contains(&format!("append_only: {table}")), "{m}");
        let m = t.refused(|c| c.execute(&format!("DELETE FROM {table}"), []).map(drop));
        assert!(m.contains(&format!("append_only: {table}")), "{m}");
    }
    // Deleting a user clears its id in the logs (the one permitted update).
    t.with(|c| c.execute("DELETE FROM users WHERE id = 9", []));
    assert_eq!(
        t.count("SELECT count(*) FROM admin_audit_log WHERE user_id IS NULL AND action = 'ADMIN_LOGIN_SUCCESS'"),
        1
    );
    assert_eq!(t.count("SELECT count(*) FROM sso_login_logs WHERE user_id IS NULL AND status = 'failed'"), 1);
    // The retention job unlocks deletion inside its own transaction only.
    t.with(|c| {
        c.execute("INSERT INTO settings (key, value) VALUES ('retention.unlock', 'true')", [])?;
        c.execute("DELETE FROM audit_logs WHERE action = 'user.login'", [])?;
        c.execute("DELETE FROM admin_audit_log", [])?;
        c.execute("DELETE FROM settings WHERE key = 'retention.unlock'", [])
    });
    assert_eq!(t.count("SELECT count(*) FROM admin_audit_log"), 0);
    let m = t.refused(|c| c.execute("DELETE FROM audit_logs", []).map(drop));
    assert!(m.contains("append_only: audit_logs"), "the lock is back after the retention transaction: {m}");
    // Deleting an organization takes its logs with it.
    t.with(|c| c.execute("DELETE FROM organizations WHERE id = 1", []));
    assert_eq!(t.count("SELECT count(*) FROM audit_logs WHERE organization_id = 1"), 0);
    assert_eq!(t.count("SELECT count(*) FROM sso_login_logs WHERE organization_id = 1"), 0);
}

#[test]
fn one_active_version_per_bot_flow() {
    let t = TestDb::new();
    t.two_tenants();
    let active = |t: &TestDb| {
        t.count("SELECT CAST(group_concat(version) AS INTEGER) FROM bot_flows WHERE bot_id = 1 AND name = 'main' AND is_active = 1")
    };
    t.with(|c| {
        c.execute(
            "INSERT INTO bot_flows (organization_id, bot_id, flow_data, version, is_active) VALUES (1, 1, '{}', 2, 1)",
            [],
        )
    });
    assert_eq!(active(&t), 2, "activating version 2 deactivates version 1");
    t.with(|c| {
        c.execute(
            "INSERT INTO bot_flows (organization_id, bot_id, flow_data, version, is_active) VALUES (1, 1, '{}', 3, 0)",
            [],
        )
    });
    assert_eq!(active(&t), 2, "an inactive draft changes nothing");
    t.with(|c| c.execute("UPDATE bot_flows SET is_active = 1 WHERE bot_id = 1 AND version = 1", []));
    assert_eq!(active(&t), 1, "rolling back to version 1");
    // Another flow of the same bot keeps its own active version.
    t.with(|c| c.execute("INSERT INTO bot_flows (organization_id, bot_id, name, flow_data, is_active) VALUES (1, 1, 'billing', '{}', 1)", []));
    assert_eq!(t.count("SELECT count(*) FROM bot_flows WHERE bot_id = 1 AND is_active = 1"), 2);
}

#[test]
fn bots_per_organization_are_limited_by_the_plan() {
    let t = TestDb::new();
    t.with(|c| {
        c.execute("INSERT INTO users (id, email, password_hash) VALUES (1, 'a@example.com', 'x')", [])?;
        c.execute("INSERT INTO organizations (id, name, slug, owner_id) VALUES (1, 'Free', 'free-org', 1)", [])?;
        c.execute("INSERT INTO bots (organization_id, name, widget_key) VALUES (1, 'one', 'k1')", [])
    });
    let m = t.refused(|c| {
        c.execute("INSERT INTO bots (organization_id, name, widget_key) VALUES (1, 'two', 'k2')", []).map(drop)
    });
    assert!(m.contains("plan_limit_exceeded: bots"), "{m}");
    t.with(|c| {
        c.execute("UPDATE organizations SET plan_tier = 'pro' WHERE id = 1", [])?;
        for i in 2..=10 {
            c.execute("INSERT INTO bots (organization_id, name, widget_key) VALUES (1, ?1, ?1)", [format!("k{i}")])?;
        }
        Ok(())
    });
    let m = t.refused(|c| {
        c.execute("INSERT INTO bots (organization_id, name, widget_key) VALUES (1, 'eleven', 'k11')", []).map(drop)
    });
    assert!(m.contains("plan_limit_exceeded: bots"), "pro allows 10: {m}");
    t.with(|c| {
        c.execute("UPDATE organizations SET plan_tier = 'enterprise' WHERE id = 1", [])?;
        c.execute("INSERT INTO bots (organization_id, name, widget_key) VALUES (1, 'eleven', 'k11')", [])
    });
    assert_eq!(t.count("SELECT count(*) FROM bots"), 11);
}

#[test]
fn transcript_messages_are_counted_on_bots_and_conversations() {
    let t = TestDb::new();
    t.two_tenants();
    let before: (i64, i64) = t.with(|c| {
        c.query_row("SELECT total_messages_received, total_messages_sent FROM bots WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
    });
    t.with(|c| {
        for role in ["user", "bot", "agent", "note"] {
            c.execute(
                "INSERT INTO widget_messages (organization_id, bot_id, conversation_id, session_id, role, content) VALUES (1, 1, 1, 's', ?1, 'x')",
                [role],
            )?;
        }
        Ok(())
    });
    let after: (i64, i64) = t.with(|c| {
        c.query_row("SELECT total_messages_received, total_messages_sent FROM bots WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
    });
    assert_eq!((after.0 - before.0, after.1 - before.1), (1, 2));
    assert_eq!(t.count("SELECT message_count FROM conversations WHERE id = 1"), 5);
    assert_eq!(t.count("SELECT last_message_at IS NOT NULL FROM conversations WHERE id = 1"), 1);
}

#[test]
fn knowledge_base_statistics_follow_documents_and_chunks() {
    let t = TestDb::new();
    t.two_tenants();
    let stats = |t: &TestDb| -> (i64, i64, i64, i64) {
        t.with(|c| {
            c.query_row(
                "SELECT document_count, total_chunks, total_tokens, total_bytes FROM knowledge_bases WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
        })
    };
    assert_eq!(stats(&t), (1, 1, 7, 100));
    t.with(|c| {
        c.execute("INSERT INTO documents (organization_id, knowledge_base_id, name, type, size_bytes) VALUES (1, 1, 'b.md', 'md', 50)", [])?;
        let doc = c.last_insert_rowid();
        c.execute("INSERT INTO chunks (organization_id, knowledge_base_id, document_id, chunk_index, content, token_count) VALUES (1, 1, ?1, 0, 'a', 10), (1, 1, ?1, 1, 'b', 20)", [doc])?;
        Ok(())
    });
    assert_eq!(stats(&t), (2, 3, 37, 150));
    assert_eq!(t.count("SELECT chunk_count * 1000 + token_count FROM documents WHERE name = 'b.md'"), 2030);
    t.with(|c| c.execute("DELETE FROM documents WHERE name = 'b.md'", []));
    assert_eq!(stats(&t), (1, 1, 7, 100), "deleting a document removes its chunks from the statistics");
}

#[test]
fn chunks_are_kept_in_the_full_text_index() {
    let t = TestDb::new();
    t.two_tenants();
    let hits = |t: &TestDb, q: &str| {
        t.with(|c| {
            c.query_row("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?1", [q], |r| r.get::<_, i64>(0))
        })
    };
    assert_eq!(hits(&t, "zebra"), 2, "porter stemming: zebra matches zebras");
    t.with(|c| c.execute("UPDATE chunks SET content = 'lions hunt at night' WHERE organization_id = 1", []));
    assert_eq!(hits(&t, "zebras"), 1);
    assert_eq!(hits(&t, "hunting"), 1);
    t.with(|c| c.execute("DELETE FROM chunks WHERE organization_id = 1", []));
    assert_eq!(hits(&t, "lions"), 0);
    let check = t.with(|c| c.execute("INSERT INTO chunks_fts (chunks_fts) VALUES ('integrity-check')", []));
    assert_eq!(check, 1);
}

#[test]
fn deleting_a_chunk_deletes_its_vector() {
    let t = TestDb::new();
    t.two_tenants();
    let v: Vec<u8> = (0..384_u16).flat_map(|i| (f32::from(i) / 384.0).to_le_bytes()).collect();
    t.with(|c| {
        c.execute("INSERT INTO chunk_vectors (rowid, knowledge_base_id, embedding) SELECT id, knowledge_base_id, ?1 FROM chunks", [&v])?;
        Ok(())
    });
    assert_eq!(t.count("SELECT count(*) FROM chunk_vectors"), 2);
    let nearest: i64 = t.with(|c| {
        c.query_row(
            "SELECT count(*) FROM chunk_vectors WHERE embedding MATCH ?1 AND k = 5 AND knowledge_base_id = 1",
            params![v],
            |r| r.get(0),
        )
    });
    assert_eq!(nearest, 1, "the partition key keeps knowledge bases apart");
    t.with(|c| c.execute("DELETE FROM documents WHERE organization_id = 1", []));
    assert_eq!(t.count("SELECT count(*) FROM chunk_vectors"), 1);
}

#[test]
fn plugin_downloads_and_ratings_follow_installs_and_reviews() {
    let t = TestDb::new();
    t.two_tenants();
    assert_eq!(t.count("SELECT downloads FROM plugins WHERE id = 1"), 2);
    t.with(|c| c.execute("INSERT INTO plugin_reviews (plugin_id, user_id, rating) VALUES (1, 1, 5), (1, 2, 2)", []));
    let rating = |t: &TestDb| -> (f64, i64) {
        t.with(|c| {
            c.query_row("SELECT rating, review_count FROM plugins WHERE id = 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        })
    };
    assert_eq!(rating(&t), (3.5, 2));
    t.with(|c| c.execute("UPDATE plugin_reviews SET rating = 4 WHERE user_id = 2", []));
    assert_eq!(rating(&t), (4.5, 2));
    t.with(|c| c.execute("DELETE FROM plugin_reviews WHERE user_id = 1", []));
    assert_eq!(rating(&t), (4.0, 1));
    t.with(|c| c.execute("DELETE FROM plugin_reviews", []));
    assert_eq!(rating(&t), (0.0, 0));
}

#[test]
fn health_score_changes_are_recorded_in_the_history() {
    let t = TestDb::new();
    t.two_tenants();
    assert_eq!(
        t.count("SELECT count(*) FROM customer_health_score_history WHERE organization_id = 1"),
        1,
        "the first score"
    );
    t.with(|c| {
        c.execute(
            "UPDATE customer_health_scores SET health_score = 40, health_grade = 'C' WHERE organization_id = 1",
            [],
        )
    });
    t.with(|c| c.execute("UPDATE customer_health_scores SET customer_name = 'Ada' WHERE organization_id = 1", []));
    t.with(|c| c.execute("UPDATE customer_health_scores SET health_score = 40 WHERE organization_id = 1", []));
    let scores: String = t.with(|c| c.query_row("SELECT group_concat(health_score, ',') FROM (SELECT health_score FROM customer_health_score_history WHERE organization_id = 1 ORDER BY id)", [], |r| r.get(0)));
    assert_eq!(scores, "72,40", "only real score changes are recorded");
}

#[test]
fn usage_of_a_deleted_bot_is_folded_into_the_organization() {
    let t = TestDb::new();
    t.two_tenants();
    t.with(|c| c.execute("INSERT INTO usage_tracking (organization_id, bot_id, metric_type, day, count) VALUES (1, NULL, 'message_received', '2026-11-01', 10)", []));
    t.with(|c| c.execute("DELETE FROM bots WHERE id = 1", []));
    assert_eq!(
        t.count("SELECT sum(count) FROM usage_tracking WHERE organization_id = 1 AND metric_type = 'message_received'"),
        13
    );
    assert_eq!(t.count("SELECT count(*) FROM usage_tracking WHERE organization_id = 1"), 1);
}

#[test]
fn task_call_clone_contact_and_ab_test_counters() {
    let t = TestDb::new();
    t.two_tenants();
    t.with(|c| c.execute("UPDATE agent_tasks SET status = 'completed' WHERE organization_id = 1", []));
    t.with(|c| c.execute("UPDATE agent_tasks SET status = 'completed' WHERE organization_id = 1", []));
    assert_eq!(t.count("SELECT total_tasks * 100 + successful_tasks * 10 + failed_tasks FROM autonomous_agents WHERE organization_id = 1"), 110);
    t.with(|c| c.execute("UPDATE calls SET duration = 90 WHERE organization_id = 1", []));
    assert_eq!(t.count("SELECT total_calls * 1000 + total_duration FROM voice_bots WHERE organization_id = 1"), 1090);
    assert_eq!(t.count("SELECT training_samples_count FROM work_clones WHERE organization_id = 1"), 1);
    t.with(|c| c.execute("DELETE FROM clone_training_data WHERE organization_id = 1", []));
    assert_eq!(t.count("SELECT training_samples_count FROM work_clones WHERE organization_id = 1"), 0);
    assert_eq!(t.count("SELECT message_count FROM channel_contacts WHERE organization_id = 1"), 1);
    assert_eq!(t.count("SELECT total_requests FROM ab_tests WHERE organization_id = 1"), 1);
}

#[test]
fn check_constraints_refuse_bad_values() {
    let t = TestDb::new();
    t.two_tenants();
    let bad = [
        "INSERT INTO users (email, password_hash) VALUES ('Upper@Example.com', 'x')",
        "UPDATE bots SET is_active = 2 WHERE id = 1",
        "UPDATE jobs SET status = 'exploded' WHERE organization_id = 1",
        "UPDATE conversations SET status = 'lost' WHERE organization_id = 1",
        "UPDATE documents SET status = 'done' WHERE organization_id = 1",
        "UPDATE bot_flows SET flow_data = '{not json' WHERE organization_id = 1",
        "UPDATE roles SET permissions = '{}' WHERE organization_id = 1",
        "UPDATE customer_health_scores SET health_score = 101 WHERE organization_id = 1",
        "UPDATE plugin_installations SET status = 'gone' WHERE organization_id = 1",
        "UPDATE whitelabel_settings SET primary_color = 'red' WHERE organization_id = 1",
        "UPDATE conversations SET csat = 6 WHERE organization_id = 1",
        "UPDATE knowledge_bases SET chunk_overlap = chunk_size WHERE organization_id = 1",
        "UPDATE entities SET type = 'regex' WHERE organization_id = 1",
        "INSERT INTO team_invitations (organization_id, email, role_id, team_id, token_hash, expires_at) VALUES (1, 'a@x.io', 1, 1, randomblob(32), '2999')",
    ];
    for sql in bad {
        let m = t.refused(|c| c.execute(sql, []).map(drop));
        assert!(m.contains("CHECK constraint failed") || m.contains("constraint"), "{sql}: {m}");
    }
}

#[test]
fn the_views_report_per_organization_figures_without_inflation() {
    let t = TestDb::new();
    t.two_tenants();
    t.with(|c| {
        c.execute("INSERT INTO usage_tracking (organization_id, metric_type, day, count) VALUES (1, 'message_received', '2026-11-02', 5)", [])?;
        // Two organizations and several actions for user 1: the origin's
        // double join multiplied the counts.
        for action in ["bot.created", "bot.created", "bot.updated"] {
            c.execute("INSERT INTO audit_logs (organization_id, user_id, action, resource_type) VALUES (2, 1, ?1, 'bot')", [action])?;
        }
        Ok(())
    });
    t.with(|c| {
        let (plan, bots, status): (String, i64, String) = c.query_row(
            "SELECT plan_name, max_bots, status FROM user_subscription_details WHERE organization_id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        assert_eq!((plan.as_str(), bots, status.as_str()), ("enterprise", -1, "active"));
        let total: i64 = c.query_row(
            "SELECT total_count FROM user_usage_summary WHERE organization_id = 1 AND month = '2026-11' AND metric_type = 'message_received'",
            [],
            |r| r.get(0),
        )?;
        assert_eq!(total, 8);
        let (actions, orgs, counts): (i64, i64, String) = c.query_row(
            "SELECT total_actions, organizations_accessed, action_counts FROM user_activity_summary WHERE user_id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        assert_eq!((actions, orgs), (4, 2));
        let counts: serde_json::Value = serde_json::from_str(&counts).expect("json");
        assert_eq!(counts["bot.created"], 2);
        assert_eq!(counts["fixture.created"], 1);
        let recent: i64 = c.query_row("SELECT count(*) FROM recent_audit_activity WHERE organization_name = 'Org t2'", [], |r| r.get(0))?;
        assert_eq!(recent, 4);
        Ok(())
    });
}

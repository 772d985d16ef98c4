//! Schema tests: the 95 origin tables plus the added ones, the views, the
//! seeds, one test per trigger behaviour (proving it fires and what it
//! refuses), foreign-key cascades, CHECK constraints and index use.
//!
//! Written against a plain `rusqlite::Connection` from `fresh_db()` so that
//! tests see SQLite's own trigger messages.
//! `TENANT_FIXTURE` puts a row into every tenant-owned table, so the generic
//! tests (cascade, `updated_at`, tenant links) cover every table, not a sample.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::types::Value;
use rusqlite::{Connection, params};

/// A new migrated data file (through the product's own `Db::open`) and a
/// plain connection to it with foreign keys on, so tests see SQLite's own
/// messages. Keep the `TempDir` alive as long as the connection.
fn fresh_db() -> (tempfile::TempDir, Connection) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("botbuilder.db");
    drop(botbuilder::db::Db::open(&path, &botbuilder::config::DbConfig::default()).expect("open and migrate"));
    (dir, open(&path))
}

/// Another connection to a data file, set up like the product's.
fn open(path: &std::path::Path) -> Connection {
    botbuilder::db::register_sqlite_vec();
    let conn = Connection::open(path).expect("open data file");
    conn.execute_batch("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;")
        .expect("pragmas");
    conn
}

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

/// Tables DESIGN §4 adds, including the two virtual index tables.
const ADDED_TABLES: [&str; 53] = [
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
    // Full-text indexes of the other tokenizers (V091, issue 24 item 4).
    "chunks_fold_fts",
    "chunks_trigram_fts",
    // Knowledge retrieval at scale (V040): binary codes and re-embedding staging.
    "chunk_codes",
    "chunk_vectors_next",
    // The agents' inbox (V056): saved replies and per-agent read markers.
    "canned_replies",
    "conversation_reads",
    // Conversation tests of a bot and their runs (V054, issue 17).
    "bot_tests",
    "bot_test_runs",
    // Files attached to transcript messages (V061, issue 18).
    "message_attachments",
    // Prices of a plan per interval and currency (V065, issue 21).
    "subscription_plan_prices",
    // Pending OAuth authorizations of integrations (V062, issue 18 item 7).
    "integration_oauth_states",
    // Flow funnels and knowledge insights (V068, issue 20).
    "flow_node_visits",
    "knowledge_answer_logs",
    // One row per model call with its tokens and cost (V063, issue 19).
    "llm_calls",
    // Agent turns, their steps and the tool calls waiting for a human (V069, issue 19 item 3).
    "agent_runs",
    "agent_run_steps",
    "agent_approvals",
    // Analytics (V067, issue 20): answer feedback, the runtime's analytics
    // events, the rollup job's dirty hours and the hourly rollups.
    "message_feedback",
    "analytics_events",
    "analytics_dirty",
    "analytics_hourly",
    "analytics_users",
    "analytics_intents",
    // Rollup levels per scope and day, and the end users' active hours (V074, issue 20).
    "analytics_totals_hourly",
    "analytics_daily",
    "analytics_intents_daily",
    "analytics_user_hours",
    // The user-hours counted per scope, hour and previous hour, kept by triggers (V083, issue 20).
    "analytics_user_hour_counts",
    // Stripe webhook events received, with their raw bodies (V066, issue 21).
    "billing_events",
    // Connections to MCP servers (V072, issue 19 item 2).
    "mcp_servers",
    // Long-term memory of autonomous agents (V071, issue 19 item 5).
    "agent_memories",
    // The organization's telephony account, its auth token sealed (V078, issue 26).
    "voice_accounts",
    // Used SAML assertion ids until they expire (V081, issue 22 item 2).
    "saml_replay_cache",
    // SCIM 2.0 provisioning (V077, issue 22 item 5): tokens, provisioned users and groups.
    "scim_tokens",
    "scim_users",
    "scim_groups",
    // OIDC sign-ins in flight: hashed state, nonce, sealed PKCE verifier (V076, issue 22).
    "sso_auth_requests",
    // Signed webhook sources of recovery events (V079, issue 27).
    "recovery_sources",
    // Work clones (V090, issue 29): shares with members, trained versions and their pair vectors.
    "clone_shares",
    "clone_versions",
    "clone_pair_vectors",
    // A/B experiments (V092, issue 25 item 5): variants and assigned units.
    "ab_test_variants",
    "ab_test_units",
];

const VIEWS: [&str; 4] =
    ["user_subscription_details", "user_usage_summary", "recent_audit_activity", "user_activity_summary"];

/// Tables whose rows may not be updated, nor deleted outside retention.
const APPEND_ONLY: [&str; 3] = ["audit_logs", "admin_audit_log", "sso_login_logs"];

// ---------------------------------------------------------------- helpers

/// The message of the error a statement must end with.
fn error_of<T>(r: rusqlite::Result<T>) -> String {
    match r {
        Ok(_) => panic!("the statement succeeded but should have been refused"),
        Err(e) => e.to_string(),
    }
}

/// Runs `sql` and asserts that it fails with a message containing `expected`.
#[track_caller]
fn assert_refused(c: &Connection, sql: &str, expected: &str) {
    let e = error_of(c.execute_batch(sql));
    assert!(e.contains(expected), "{sql}\n  expected an error containing {expected:?}, got {e:?}");
}

#[track_caller]
fn exec(c: &Connection, sql: &str) {
    if let Err(e) = c.execute_batch(sql) {
        panic!("{sql}\n  failed: {e}");
    }
}

#[track_caller]
fn int(c: &Connection, sql: &str) -> i64 {
    c.query_row(sql, [], |r| r.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[track_caller]
fn text(c: &Connection, sql: &str) -> String {
    c.query_row(sql, [], |r| r.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn strings(c: &Connection, sql: &str) -> Vec<String> {
    let mut stmt = c.prepare(sql).expect("prepare");
    stmt.query_map([], |r| r.get(0)).expect("query").map(|r| r.expect("row")).collect()
}

/// The FTS5 tables over chunks, one per tokenizer (V007, V091).
const FTS_TABLES: [&str; 3] = ["chunks_fts", "chunks_fold_fts", "chunks_trigram_fts"];

/// User tables of the schema, without SQLite's, refinery's and the shadow
/// tables of the FTS5 and vec0 virtual tables.
fn tables(c: &Connection) -> BTreeSet<String> {
    strings(c, "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .into_iter()
        .filter(|n| {
            let shadow = FTS_TABLES.iter().any(|f| n.starts_with(&format!("{f}_")))
                || (n.starts_with("chunk_vectors_") && n != "chunk_vectors_next");
            !(n.starts_with("sqlite_") || n == "refinery_schema_history" || shadow)
        })
        .collect()
}

/// Ordinary (not virtual) tables.
fn real_tables(c: &Connection) -> Vec<String> {
    tables(c)
        .into_iter()
        .filter(|t| !FTS_TABLES.contains(&t.as_str()) && !["chunk_vectors", "chunk_vectors_next"].contains(&t.as_str()))
        .collect()
}

fn columns(c: &Connection, table: &str) -> Vec<String> {
    strings(c, &format!("SELECT name FROM pragma_table_xinfo('{table}') WHERE hidden = 0 ORDER BY cid"))
}

fn tables_with_column(c: &Connection, column: &str) -> Vec<String> {
    real_tables(c).into_iter().filter(|t| columns(c, t).iter().any(|col| col == column)).collect()
}

struct ForeignKey {
    table: String,
    column: String,
    parent: String,
    on_delete: String,
}

fn foreign_keys(c: &Connection) -> Vec<ForeignKey> {
    let mut out = Vec::new();
    for table in real_tables(c) {
        let mut stmt = c
            .prepare(&format!("SELECT \"from\", \"table\", on_delete FROM pragma_foreign_key_list('{table}')"))
            .expect("fk");
        let rows = stmt
            .query_map([], |r| {
                Ok(ForeignKey { table: table.clone(), column: r.get(0)?, parent: r.get(1)?, on_delete: r.get(2)? })
            })
            .expect("fk rows");
        out.extend(rows.map(|r| r.expect("fk row")));
    }
    out
}

/// A 384-dimension vector as JSON text, for `chunk_vectors`.
fn vector(seed: u8) -> String {
    let v: Vec<String> = (0..384u16).map(|i| format!("{:.4}", (f32::from(i) * 0.37 + f32::from(seed)).sin())).collect();
    format!("[{}]", v.join(","))
}

fn user(c: &Connection, email: &str) -> i64 {
    c.query_row(
        "INSERT INTO users (email, password_hash, name) VALUES (?1, '$argon2id$x', ?1) RETURNING id",
        [email],
        |r| r.get(0),
    )
    .expect("user")
}

fn org(c: &Connection, owner: i64, slug: &str, plan: &str) -> i64 {
    c.query_row(
        "INSERT INTO organizations (name, slug, owner_id, plan_tier) VALUES (?1, ?1, ?2, ?3) RETURNING id",
        params![slug, owner, plan],
        |r| r.get(0),
    )
    .expect("organization")
}

fn bot(c: &Connection, org: i64, name: &str) -> rusqlite::Result<i64> {
    c.query_row(
        "INSERT INTO bots (organization_id, name, widget_key) VALUES (?1, ?2, 'wk_' || lower(hex(randomblob(12)))) RETURNING id",
        params![org, name],
        |r| r.get(0),
    )
}

fn conversation(c: &Connection, org: i64, bot: i64, session: &str) -> i64 {
    c.query_row(
        "INSERT INTO conversations (organization_id, bot_id, channel, external_user_id) VALUES (?1, ?2, 'widget', ?3) RETURNING id",
        params![org, bot, session],
        |r| r.get(0),
    )
    .expect("conversation")
}

fn knowledge_base(c: &Connection, org: i64, name: &str) -> i64 {
    c.query_row(
        "INSERT INTO knowledge_bases (organization_id, name) VALUES (?1, ?2) RETURNING id",
        params![org, name],
        |r| r.get(0),
    )
    .expect("knowledge base")
}

fn document(c: &Connection, org: i64, kb: i64, size: i64) -> i64 {
    c.query_row(
        "INSERT INTO documents (organization_id, knowledge_base_id, name, type, size_bytes) VALUES (?1, ?2, 'd.txt', 'txt', ?3) RETURNING id",
        params![org, kb, size],
        |r| r.get(0),
    )
    .expect("document")
}

fn chunk(c: &Connection, org: i64, kb: i64, doc: i64, index: i64, content: &str, tokens: i64) -> i64 {
    c.query_row(
        "INSERT INTO chunks (organization_id, knowledge_base_id, document_id, chunk_index, content, token_count)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
        params![org, kb, doc, index, content, tokens],
        |r| r.get(0),
    )
    .expect("chunk")
}

pub(crate) fn plugin(c: &Connection, slug: &str) -> i64 {
    c.query_row(
        "INSERT INTO plugins (name, slug, status, category_id) VALUES (?1, ?1, 'published', (SELECT id FROM plugin_categories WHERE slug = 'utilities')) RETURNING id",
        [slug],
        |r| r.get(0),
    )
    .expect("plugin")
}

fn fts_hits(c: &Connection, query: &str) -> i64 {
    c.query_row("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?1", [query], |r| r.get(0)).expect("match")
}

/// Two organizations with a row in every tenant-owned table each, and rows
/// in every user-level and platform table.
struct World {
    owner_a: i64,
    owner_b: i64,
    member: i64,
    plugin: i64,
    org_a: i64,
    org_b: i64,
}

impl World {
    fn new(c: &Connection) -> World {
        let owner_a = user(c, "owner-a@example.com");
        let owner_b = user(c, "owner-b@example.com");
        let member = user(c, "member@example.com");
        let plugin = plugin(c, "weather");
        let org_a = org(c, owner_a, "org-a", "enterprise");
        let org_b = org(c, owner_b, "org-b", "enterprise");
        seed_tenant(c, org_a, owner_a, member, plugin, "a");
        seed_tenant(c, org_b, owner_b, member, plugin, "b");
        exec(
            c,
            &format!(
                "INSERT INTO settings (key, value) VALUES ('ui.theme', '\"dark\"');
                 INSERT INTO user_sessions (user_id, token_hash, expires_at) VALUES ({member}, randomblob(32), '2999-01-01T00:00:00.000Z');
                 INSERT INTO two_factor_backup_codes (user_id, code_hash) VALUES ({member}, randomblob(32));
                 INSERT INTO password_reset_tokens (user_id, token_hash, expires_at) VALUES ({member}, randomblob(32), '2999-01-01T00:00:00.000Z');
                 INSERT INTO admin_ip_whitelist (ip_address, created_by) VALUES ('10.0.0.0/8', {owner_a});
                 INSERT INTO admin_login_attempts (email, ip_address) VALUES ('owner-a@example.com', '127.0.0.1');
                 INSERT INTO admin_sessions (user_id, token_hash, expires_at) VALUES ({owner_a}, randomblob(32), '2999-01-01T00:00:00.000Z');
                 INSERT INTO admin_audit_log (user_id, user_email, action) VALUES ({owner_a}, 'owner-a@example.com', 'ADMIN_LOGIN_SUCCESS');
                 INSERT INTO plugin_versions (plugin_id, version) VALUES ({plugin}, '1.0.0');
                 INSERT INTO plugin_reviews (plugin_id, user_id, rating) VALUES ({plugin}, {member}, 5);
                 INSERT INTO saml_replay_cache (issuer, assertion_id, expires_at) VALUES ('https://idp.example.org', '_a1', 4102444800);"
            ),
        );
        World { owner_a, owner_b, member, plugin, org_a, org_b }
    }
}

/// Puts the tenant fixture into organization `org` and gives its chunk a vector.
pub(crate) fn seed_tenant(c: &Connection, org: i64, owner: i64, member: i64, plugin: i64, tag: &str) {
    let sql = TENANT_FIXTURE
        .replace("{o}", &org.to_string())
        .replace("{u}", &owner.to_string())
        .replace("{m}", &member.to_string())
        .replace("{plugin}", &plugin.to_string())
        .replace("{s}", tag);
    exec(c, &sql);
    c.execute(
        "INSERT INTO chunk_vectors (rowid, knowledge_base_id, embedding)
         SELECT id, knowledge_base_id, ?2 FROM chunks WHERE organization_id = ?1",
        params![org, vector(tag.bytes().next().unwrap_or(0))],
    )
    .expect("vector");
}

const TENANT_FIXTURE: &str = include_str!("fixtures/tenant.sql");

// ------------------------------------------------------------ structure

#[test]
fn tables_are_the_95_origin_tables_plus_the_added_ones_and_nothing_else() {
    let (_dir, c) = fresh_db();
    assert_eq!(ORIGIN_TABLES.iter().collect::<BTreeSet<_>>().len(), 95);
    let expected: BTreeSet<String> = ORIGIN_TABLES.iter().chain(ADDED_TABLES.iter()).map(|s| (*s).to_owned()).collect();
    assert_eq!(tables(&c), expected);
    // Everything else is SQLite's, refinery's, or a shadow table of the two
    // virtual tables.
    for name in strings(&c, "SELECT name FROM sqlite_schema WHERE type = 'table'") {
        let known = expected.contains(&name)
            || name.starts_with("sqlite_")
            || name == "refinery_schema_history"
            || FTS_TABLES
                .iter()
                .any(|f| ["data", "idx", "docsize", "config"].iter().any(|s| name == format!("{f}_{s}")))
            || name.starts_with("chunk_vectors_");
        assert!(known, "unexpected table {name}");
    }
    let fts = text(&c, "SELECT sql FROM sqlite_schema WHERE name = 'chunks_fts'");
    assert!(fts.contains("content = 'chunks'") && fts.contains("porter unicode61 remove_diacritics 2"), "{fts}");
    let vec = text(&c, "SELECT sql FROM sqlite_schema WHERE name = 'chunk_vectors'");
    assert!(
        vec.contains("PARTITION KEY") && vec.contains("float[384]") && vec.contains("distance_metric=cosine"),
        "{vec}"
    );
}

#[test]
fn the_views_exist_and_answer() {
    let (_dir, c) = fresh_db();
    let views: BTreeSet<String> =
        strings(&c, "SELECT name FROM sqlite_schema WHERE type = 'view'").into_iter().collect();
    assert_eq!(views, VIEWS.iter().map(|s| (*s).to_owned()).collect());
    let _w = World::new(&c);
    for view in VIEWS {
        let sql = text(&c, &format!("SELECT sql FROM sqlite_schema WHERE name = '{view}'"));
        assert!(!sql.contains("SELECT *") && !sql.contains(".*"), "{view} selects *");
        assert!(int(&c, &format!("SELECT count(*) FROM {view}")) > 0, "{view} is empty");
    }
}

#[test]
fn migrations_are_a_no_op_when_applied_again() {
    let (_dir, mut c) = fresh_db();
    let schema = |c: &Connection| strings(c, "SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY name");
    let before = schema(&c);
    let applied = int(&c, "SELECT count(*) FROM refinery_schema_history");
    assert!(applied >= 17, "{applied} migrations applied");
    botbuilder::db::apply_migrations(&mut c).expect("second run");
    assert!(botbuilder::db::schema_is_current(&c).expect("current"));
    assert_eq!(schema(&c), before);
    assert_eq!(int(&c, "SELECT count(*) FROM refinery_schema_history"), applied);
}

#[test]
fn sqlite_vec_is_loaded() {
    let (_dir, c) = fresh_db();
    assert!(text(&c, "SELECT vec_version()").starts_with('v'));
}

#[test]
fn foreign_key_and_integrity_checks_are_clean_on_a_populated_file() {
    let (_dir, c) = fresh_db();
    let _w = World::new(&c);
    let violations =
        strings(&c, "SELECT \"table\" || ' row ' || rowid || ' -> ' || parent FROM pragma_foreign_key_check");
    assert!(violations.is_empty(), "{violations:?}");
    assert_eq!(text(&c, "PRAGMA integrity_check"), "ok");
    exec(&c, "INSERT INTO chunks_fts (chunks_fts) VALUES ('integrity-check')");
}

#[test]
fn the_fixture_covers_every_table_and_every_tenant_table_for_both_organizations() {
    let (_dir, c) = fresh_db();
    let w = World::new(&c);
    for table in real_tables(&c) {
        assert!(int(&c, &format!("SELECT count(*) FROM {table}")) > 0, "{table} is empty");
    }
    for table in tables_with_column(&c, "organization_id") {
        for org in [w.org_a, w.org_b] {
            let n = int(&c, &format!("SELECT count(*) FROM {table} WHERE organization_id = {org}"));
            assert!(n > 0, "no {table} row for organization {org}");
        }
    }
}

#[test]
fn every_foreign_key_declares_its_on_delete_action() {
    let (_dir, c) = fresh_db();
    let fks = foreign_keys(&c);
    assert!(fks.len() > 200, "{} foreign keys", fks.len());
    let missing: Vec<String> =
        fks.iter().filter(|f| f.on_delete == "NO ACTION").map(|f| format!("{}.{}", f.table, f.column)).collect();
    assert!(missing.is_empty(), "no ON DELETE action: {missing:?}");
    // Ownership cascades from organizations; who-did-it columns are SET NULL.
    for f in &fks {
        if f.parent == "organizations" && f.column == "organization_id" {
            assert_eq!(f.on_delete, "CASCADE", "{}.{}", f.table, f.column);
        }
        if ["created_by", "invited_by", "accepted_by", "installed_by", "author_user_id"].contains(&f.column.as_str()) {
            assert_eq!(f.on_delete, "SET NULL", "{}.{}", f.table, f.column);
        }
    }
}

#[test]
fn every_foreign_key_has_a_supporting_index_except_who_did_it_references_to_users() {
    let (_dir, c) = fresh_db();
    let mut missing = Vec::new();
    for f in foreign_keys(&c) {
        if f.parent == "users" && f.on_delete == "SET NULL" {
            continue;
        }
        // A partial index serves the lookup `column = ?` only when its WHERE
        // is implied by it (`column IS NOT NULL`).
        let supported =
            strings(&c, &format!("SELECT name FROM pragma_index_list('{}')", f.table)).iter().any(|index| {
                let first = int(
                    &c,
                    &format!(
                        "SELECT count(*) FROM pragma_index_info('{index}') WHERE seqno = 0 AND name = '{}'",
                        f.column
                    ),
                ) == 1;
                let sql: Option<String> = c
                    .query_row("SELECT sql FROM sqlite_schema WHERE name = ?1", [index], |r| r.get(0))
                    .expect("index sql");
                let usable = match sql.as_deref().and_then(|s| s.split_once(" WHERE ")) {
                    None => true,
                    Some((_, filter)) => filter.trim() == format!("{} IS NOT NULL", f.column),
                };
                first && usable
            });
        if !supported {
            missing.push(format!("{}.{}", f.table, f.column));
        }
    }
    assert!(missing.is_empty(), "foreign keys without an index starting with their column: {missing:?}");
}

#[test]
fn every_tenant_table_has_an_index_starting_with_organization_id() {
    let (_dir, c) = fresh_db();
    let mut missing = Vec::new();
    for table in tables_with_column(&c, "organization_id") {
        let tenant_first = strings(&c, &format!("SELECT name FROM pragma_index_list('{table}')")).iter().any(|index| {
            int(
                &c,
                &format!(
                    "SELECT count(*) FROM pragma_index_info('{index}') WHERE seqno = 0 AND name = 'organization_id'"
                ),
            ) == 1
        });
        if !tenant_first {
            missing.push(table);
        }
    }
    assert!(missing.is_empty(), "no index starts with organization_id on {missing:?}");
}

#[test]
fn tenant_owned_tables_are_exactly_those_with_organization_id() {
    let (_dir, c) = fresh_db();
    let without: BTreeSet<String> =
        real_tables(&c).into_iter().filter(|t| !columns(&c, t).iter().any(|col| col == "organization_id")).collect();
    let expected: BTreeSet<String> = [
        // user-level
        "users",
        "user_sessions",
        "two_factor_backup_codes",
        "password_reset_tokens",
        // platform
        "settings",
        "subscription_plans",
        "subscription_plan_prices",
        "plugin_categories",
        "plugins",
        "plugin_versions",
        "plugin_reviews",
        "voice_bot_templates",
        "admin_audit_log",
        "admin_ip_whitelist",
        "admin_login_attempts",
        "admin_sessions",
        // used SAML assertion ids, keyed by the IdP's entity id (V081)
        "saml_replay_cache",
        // the tenant itself
        "organizations",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    assert_eq!(without, expected);
    // Nullable only where platform rows exist (built-in roles, platform jobs
    // and files, events outside any organization).
    let nullable: BTreeSet<String> = tables_with_column(&c, "organization_id")
        .into_iter()
        .filter(|t| {
            int(&c, &format!("SELECT \"notnull\" FROM pragma_table_info('{t}') WHERE name = 'organization_id'")) == 0
        })
        .collect();
    let expected: BTreeSet<String> =
        ["roles", "jobs", "files", "audit_logs", "email_notifications", "sso_login_logs", "billing_events"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
    assert_eq!(nullable, expected);
}

#[test]
fn the_product_queries_search_indexes_instead_of_scanning() {
    let (_dir, c) = fresh_db();
    let queries = [
        "SELECT id FROM jobs WHERE (status = 'queued' AND run_at <= ?1) OR (status = 'running' AND locked_until < ?1) ORDER BY priority DESC, run_at, id LIMIT 1",
        "SELECT id FROM bots WHERE organization_id = ?1 ORDER BY created_at DESC",
        "SELECT id FROM widget_messages WHERE organization_id = ?1 AND conversation_id = ?2 ORDER BY id",
        "SELECT count(*) FROM widget_messages WHERE organization_id = ?1 AND bot_id = ?2 AND created_at >= ?3",
        "SELECT id FROM channel_messages WHERE organization_id = ?1 AND channel_id = ?2 AND created_at >= ?3",
        "SELECT id FROM channel_messages WHERE organization_id = ?1 AND conversation_id = ?2 ORDER BY id",
        "SELECT id FROM channel_messages WHERE channel_id = ?1 AND direction = 'inbound' AND external_id = ?2",
        "SELECT id FROM conversations WHERE bot_id = ?1 AND channel = ?2 AND external_user_id = ?3",
        "SELECT id FROM conversations WHERE organization_id = ?1 AND status = 'handoff' AND team_id = ?2 ORDER BY last_message_at DESC",
        "SELECT id FROM conversations WHERE organization_id = ?1 AND bot_id = ?2 ORDER BY last_message_at DESC",
        "SELECT id FROM nlu_logs WHERE organization_id = ?1 AND bot_id = ?2 AND created_at >= ?3",
        "SELECT id FROM nlu_logs WHERE organization_id = ?1 AND bot_id = ?2 AND resolved_at IS NULL AND confidence < ?3",
        "SELECT id FROM audit_logs WHERE organization_id = ?1 AND created_at < ?2 ORDER BY created_at DESC",
        "SELECT id FROM audit_logs WHERE created_at < ?1",
        "SELECT id FROM recovery_messages WHERE organization_id = ?1 AND campaign_id = ?2 AND created_at >= ?3",
        "SELECT id FROM recovery_messages WHERE status = 'pending' AND scheduled_at <= ?1",
        "SELECT sum(count) FROM usage_tracking WHERE organization_id = ?1 AND metric_type = ?2 AND day BETWEEN ?3 AND ?4",
        "SELECT id FROM bot_flows WHERE bot_id = ?1 AND name = ?2 AND is_active = 1",
        "SELECT id FROM intents WHERE organization_id = ?1 AND bot_id = ?2 AND is_active = 1",
        "SELECT id FROM intent_examples WHERE organization_id = ?1 AND intent_id = ?2",
        "SELECT id FROM documents WHERE organization_id = ?1 AND knowledge_base_id = ?2 ORDER BY created_at",
        "SELECT id FROM chunks WHERE organization_id = ?1 AND knowledge_base_id = ?2",
        "SELECT c.id FROM chunks_fts f JOIN chunks c ON c.id = f.rowid WHERE chunks_fts MATCH ?1 AND c.organization_id = ?2 AND c.knowledge_base_id = ?3",
        "SELECT id FROM model_versions WHERE bot_id = ?1 AND kind = 'nlu_intent' AND is_active = 1",
        "SELECT s.id FROM user_sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?1",
        "SELECT id FROM api_tokens WHERE token_hash = ?1",
        "SELECT m.organization_id FROM organization_members m JOIN organizations o ON o.id = m.organization_id WHERE m.user_id = ?1",
        "SELECT id FROM email_notifications WHERE status = 'pending' ORDER BY created_at",
        "SELECT id FROM webhook_logs WHERE organization_id = ?1 AND webhook_id = ?2 ORDER BY created_at DESC",
        "SELECT id FROM customer_health_scores WHERE organization_id = ?1 AND churn_risk_level IN ('high','critical')",
        "SELECT id FROM recovery_events WHERE organization_id = ?1 AND status = 'pending' ORDER BY event_occurred_at",
        "SELECT id FROM calls WHERE organization_id = ?1 AND voice_bot_id = ?2 ORDER BY created_at DESC",
        "SELECT id FROM team_invitations WHERE email = ?1 AND status = 'pending'",
        "SELECT id FROM files WHERE ifnull(organization_id, 0) = ?1 AND sha256 = ?2",
        // The dashboards (issue 20): one row per period and scope, never the transcript.
        "SELECT hour, messages_in FROM analytics_totals_hourly WHERE organization_id = ?1 AND bot_id IS NULL AND channel = ?2 AND hour >= ?3 AND hour < ?4",
        "SELECT sum(messages_in) FROM analytics_daily WHERE organization_id = ?1 AND bot_id = ?2 AND channel = ?3 AND day >= ?4 AND day < ?5",
        "SELECT intent, sum(count) FROM analytics_intents_daily WHERE organization_id = ?1 AND bot_id IS NULL AND channel = ?2 AND day >= ?3 AND day < ?4 GROUP BY intent",
        "SELECT coalesce(sum(users), 0) FROM analytics_user_hour_counts WHERE organization_id = ?1 AND bot_id IS NULL AND channel = ?2 AND hour >= ?3 AND hour < ?4 AND prev_hour < ?3",
        "SELECT max(hour) FROM analytics_users WHERE organization_id = ?1 AND user_key = ?2 AND hour < ?3",
    ];
    for sql in queries {
        let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).expect("plan");
        let n = stmt.parameter_count();
        let args: Vec<Value> = (0..n).map(|_| Value::Integer(1)).collect();
        let plan: Vec<String> = stmt
            .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3))
            .expect("plan rows")
            .map(|r| r.expect("plan row"))
            .collect();
        for step in &plan {
            let scans_a_table = step.starts_with("SCAN ") && !step.contains("VIRTUAL TABLE");
            assert!(!scans_a_table, "{sql}\n  scans: {plan:?}");
        }
    }
}

#[test]
fn seeds_are_present() {
    let (_dir, c) = fresh_db();
    let plans: Vec<(String, i64, i64, i64, i64, String)> = c
        .prepare("SELECT name, price_monthly, price_yearly, max_bots, max_messages_per_month, features FROM subscription_plans ORDER BY price_monthly")
        .expect("plans")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
        .expect("rows")
        .map(|r| r.expect("row"))
        .collect();
    let summary: Vec<(&str, i64, i64, i64, i64)> = plans.iter().map(|p| (p.0.as_str(), p.1, p.2, p.3, p.4)).collect();
    assert_eq!(
        summary,
        vec![("free", 0, 0, 1, 1000), ("pro", 2900, 29000, 10, 50000), ("enterprise", 9900, 99000, -1, -1)]
    );
    let features: Vec<serde_json::Value> = plans.iter().map(|p| serde_json::from_str(&p.5).expect("json")).collect();
    assert_eq!(features[0]["api_access"], false);
    assert_eq!(features[1]["priority_support"], true);
    assert_eq!(features[2]["custom_branding"], true);
    assert_eq!(
        strings(
            &c,
            "SELECT name FROM roles WHERE organization_id IS NULL AND is_builtin = 1 AND permissions = '[]' ORDER BY id"
        ),
        ["owner", "admin", "editor", "agent", "viewer"]
    );
    assert_eq!(int(&c, "SELECT count(*) FROM roles"), 5);
    assert_eq!(
        strings(&c, "SELECT name FROM plugin_categories ORDER BY sort_order"),
        [
            "AI & Automation",
            "Analytics",
            "Communication",
            "CRM",
            "E-commerce",
            "Marketing",
            "Productivity",
            "Security",
            "Social Media",
            "Utilities"
        ]
    );
    assert_eq!(
        strings(&c, "SELECT name FROM voice_bot_templates ORDER BY id"),
        ["Customer Support", "Sales Assistant", "FAQ Bot", "Appointment Booking"]
    );
    for (phrases, intents) in c
        .prepare("SELECT example_phrases, default_intents FROM voice_bot_templates")
        .expect("templates")
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .expect("rows")
        .map(|r| r.expect("row"))
    {
        let phrases: Vec<String> = serde_json::from_str(&phrases).expect("phrases");
        let intents: Vec<serde_json::Value> = serde_json::from_str(&intents).expect("intents");
        assert_eq!(phrases.len(), 3);
        assert_eq!(intents.len(), 2);
        for intent in intents {
            assert!(
                intent["name"].is_string() && intent["examples"].as_array().is_some_and(|e| !e.is_empty()),
                "{intent}"
            );
        }
    }
}

// ------------------------------------------------- updated_at maintenance

#[test]
fn updated_at_is_maintained_on_every_table_that_has_it() {
    let (_dir, c) = fresh_db();
    let _w = World::new(&c);
    let with_updated_at = tables_with_column(&c, "updated_at");
    assert!(with_updated_at.len() > 60, "{} tables", with_updated_at.len());
    for table in with_updated_at {
        assert!(
            strings(&c, "SELECT name FROM sqlite_schema WHERE type = 'trigger'")
                .contains(&format!("{table}_updated_at")),
            "no updated_at trigger on {table}"
        );
        let key = if table == "settings" { "key" } else { "id" };
        let row: Value = c.query_row(&format!("SELECT {key} FROM {table} LIMIT 1"), [], |r| r.get(0)).expect("a row");
        let old = "2000-01-01T00:00:00.000Z";
        // An UPDATE that sets updated_at itself keeps that value...
        c.execute(&format!("UPDATE {table} SET updated_at = ?1 WHERE {key} = ?2"), params![old, row]).expect("set");
        let got: String = c
            .query_row(&format!("SELECT updated_at FROM {table} WHERE {key} = ?1"), [&row], |r| r.get(0))
            .expect("get");
        assert_eq!(got, old, "{table}: an explicit updated_at was overwritten");
        // ...any other UPDATE stamps the current time (RFC 3339, ms, UTC).
        c.execute(&format!("UPDATE {table} SET {key} = {key} WHERE {key} = ?1"), [&row]).expect("touch");
        let got: String = c
            .query_row(&format!("SELECT updated_at FROM {table} WHERE {key} = ?1"), [&row], |r| r.get(0))
            .expect("get");
        assert!(
            got.as_str() > "2020" && got.len() == 24 && got.ends_with('Z') && &got[10..11] == "T",
            "{table}: updated_at {got}"
        );
    }
}

// ---------------------------------------------------- tenant consistency

/// Every reference between two tenant-owned tables (other than the
/// organization itself): (table, column, parent).
fn tenant_links(c: &Connection) -> Vec<ForeignKey> {
    let tenant: BTreeSet<String> = tables_with_column(c, "organization_id").into_iter().collect();
    foreign_keys(c)
        .into_iter()
        .filter(|f| tenant.contains(&f.table) && tenant.contains(&f.parent) && f.parent != "organizations")
        .collect()
}

#[test]
fn every_tenant_link_has_an_insert_and_an_update_trigger() {
    let (_dir, c) = fresh_db();
    let triggers: BTreeSet<String> =
        strings(&c, "SELECT name FROM sqlite_schema WHERE type = 'trigger'").into_iter().collect();
    let links = tenant_links(&c);
    assert!(links.len() > 100, "{} tenant links", links.len());
    for f in links {
        for event in ["insert", "update"] {
            let name = format!("{}_{}_tenant_{event}", f.table, f.column);
            assert!(triggers.contains(&name), "missing trigger {name}");
            let sql = text(&c, &format!("SELECT sql FROM sqlite_schema WHERE name = '{name}'"));
            assert!(sql.contains(&format!("'tenant_mismatch: {}.{}'", f.table, f.column)), "{sql}");
        }
    }
}

#[test]
fn every_tenant_link_refuses_a_parent_of_another_organization_on_insert() {
    let (_dir, c) = fresh_db();
    let w = World::new(&c);
    for f in tenant_links(&c).into_iter().filter(|f| f.parent != "roles") {
        let child = int(&c, &format!("SELECT min(id) FROM {} WHERE organization_id = {}", f.table, w.org_a));
        let foreign = int(&c, &format!("SELECT min(id) FROM {} WHERE organization_id = {}", f.parent, w.org_b));
        // A copy of one of A's rows, pointing at B's parent.
        let cols: Vec<String> = columns(&c, &f.table).into_iter().filter(|col| col != "id").collect();
        let values: Vec<String> =
            cols.iter().map(|col| if *col == f.column { "?1".to_owned() } else { col.clone() }).collect();
        let sql = format!(
            "INSERT INTO {} ({}) SELECT {} FROM {} WHERE id = ?2",
            f.table,
            cols.join(", "),
            values.join(", "),
            f.table
        );
        let e = error_of(c.execute(&sql, params![foreign, child]));
        let expected = format!("tenant_mismatch: {}.{}", f.table, f.column);
        assert_eq!(e, expected, "{sql}");
    }
}

#[test]
fn every_tenant_link_refuses_a_parent_of_another_organization_on_update() {
    let (_dir, c) = fresh_db();
    let w = World::new(&c);
    for f in tenant_links(&c).into_iter().filter(|f| f.parent != "roles") {
        let child = int(&c, &format!("SELECT min(id) FROM {} WHERE organization_id = {}", f.table, w.org_a));
        let foreign = int(&c, &format!("SELECT min(id) FROM {} WHERE organization_id = {}", f.parent, w.org_b));
        let sql = format!("UPDATE {} SET {} = ?1 WHERE id = ?2", f.table, f.column);
        let e = error_of(c.execute(&sql, params![foreign, child]));
        let expected = format!("tenant_mismatch: {}.{}", f.table, f.column);
        // Append-only rows are refused whichever of the two triggers fires first.
        let append_only = APPEND_ONLY.contains(&f.table.as_str()) && e == format!("append_only: {}", f.table);
        assert!(e == expected || append_only, "{sql}: {e}");
        // Moving the child to the other organization is refused the same way
        // (its parent stays in the first one).
        if !APPEND_ONLY.contains(&f.table.as_str()) {
            let parent_of_child: Option<i64> = c
                .query_row(&format!("SELECT {} FROM {} WHERE id = ?1", f.column, f.table), [child], |r| r.get(0))
                .expect("parent");
            if parent_of_child.is_some() {
                let sql = format!("UPDATE {} SET organization_id = ?1 WHERE id = ?2", f.table);
                let e = error_of(c.execute(&sql, params![w.org_b, child]));
                assert!(e.starts_with("tenant_mismatch: "), "{sql}: {e}");
            }
        }
    }
    // Links inside one organization are accepted.
    exec(
        &c,
        &format!(
            "UPDATE bots SET team_id = (SELECT id FROM teams WHERE organization_id = {0}) WHERE organization_id = {0}",
            w.org_a
        ),
    );
}

#[test]
fn no_row_ever_changes_organization() {
    let (_dir, c) = fresh_db();
    let w = World::new(&c);
    for table in tables_with_column(&c, "organization_id") {
        let row = int(&c, &format!("SELECT min(id) FROM {table} WHERE organization_id = {}", w.org_a));
        let e = error_of(
            c.execute(&format!("UPDATE {table} SET organization_id = ?1 WHERE id = ?2"), params![w.org_b, row]),
        );
        let append_only = APPEND_ONLY.contains(&table.as_str()) && e == format!("append_only: {table}");
        assert!(e.starts_with(&format!("tenant_mismatch: {table}.")) || append_only, "{table}: {e}");
        if !APPEND_ONLY.contains(&table.as_str()) {
            exec(&c, &format!("UPDATE {table} SET organization_id = organization_id WHERE id = {row}"));
        }
    }
    assert_eq!(
        error_of(c.execute("UPDATE roles SET organization_id = ?1 WHERE name = 'viewer'", [w.org_a])),
        "tenant_mismatch: roles.organization_id",
        "built-in roles stay built-in"
    );
    assert_eq!(
        error_of(c.execute(
            "UPDATE knowledge_bases SET organization_id = ?1 WHERE organization_id = ?2",
            params![w.org_b, w.org_a]
        )),
        "tenant_mismatch: knowledge_bases.organization_id",
        "a parent cannot move away from its children"
    );
}

#[test]
fn roles_of_members_invitations_and_sso_are_builtin_or_the_organizations_own() {
    let (_dir, c) = fresh_db();
    let w = World::new(&c);
    let (a, b) = (w.org_a, w.org_b);
    let newcomer = user(&c, "newcomer@example.com");
    let custom_b = int(&c, &format!("SELECT id FROM roles WHERE organization_id = {b}"));
    let custom_a = int(&c, &format!("SELECT id FROM roles WHERE organization_id = {a}"));
    let viewer = int(&c, "SELECT id FROM roles WHERE organization_id IS NULL AND name = 'viewer'");
    assert_refused(
        &c,
        &format!(
            "INSERT INTO organization_members (organization_id, user_id, role_id) VALUES ({a}, {newcomer}, {custom_b})"
        ),
        "tenant_mismatch: organization_members.role_id",
    );
    exec(
        &c,
        &format!(
            "INSERT INTO organization_members (organization_id, user_id, role_id) VALUES ({a}, {newcomer}, {viewer})"
        ),
    );
    exec(&c, &format!("UPDATE organization_members SET role_id = {custom_a} WHERE user_id = {newcomer}"));
    assert_refused(
        &c,
        &format!("UPDATE organization_members SET role_id = {custom_b} WHERE user_id = {newcomer}"),
        "tenant_mismatch: organization_members.role_id",
    );
    assert_refused(
        &c,
        &format!(
            "INSERT INTO team_invitations (organization_id, email, role_id, token_hash, expires_at)
             VALUES ({a}, 'x@example.com', {custom_b}, randomblob(32), '2999-01-01T00:00:00.000Z')"
        ),
        "tenant_mismatch: team_invitations.role_id",
    );
    exec(
        &c,
        &format!(
            "INSERT INTO team_invitations (organization_id, email, role_id, token_hash, expires_at)
             VALUES ({a}, 'x@example.com', {viewer}, randomblob(32), '2999-01-01T00:00:00.000Z')"
        ),
    );
    assert_refused(
        &c,
        &format!("UPDATE team_invitations SET role_id = {custom_b} WHERE email = 'x@example.com'"),
        "tenant_mismatch: team_invitations.role_id",
    );
    assert_refused(
        &c,
        &format!(
            "INSERT INTO sso_configurations (organization_id, provider_type, name, default_role_id) VALUES ({a}, 'saml', 'S', {custom_b})"
        ),
        "tenant_mismatch: sso_configurations.default_role_id",
    );
    assert_refused(
        &c,
        &format!("UPDATE sso_configurations SET default_role_id = {custom_b} WHERE organization_id = {a}"),
        "tenant_mismatch: sso_configurations.default_role_id",
    );
    exec(&c, &format!("UPDATE sso_configurations SET default_role_id = {viewer} WHERE organization_id = {a}"));
    // Built-in roles have no organization; custom roles have exactly one.
    assert_refused(&c, "INSERT INTO roles (name, is_builtin) VALUES ('auditor', 0)", "CHECK constraint failed");
    assert_refused(
        &c,
        &format!("INSERT INTO roles (organization_id, name) VALUES ({a}, 'custom-a')"),
        "UNIQUE constraint failed",
    );
    assert_refused(&c, "INSERT INTO roles (name, is_builtin) VALUES ('viewer', 1)", "UNIQUE constraint failed");
    exec(&c, &format!("INSERT INTO roles (organization_id, name) VALUES ({b}, 'custom-a')"));
    assert_refused(
        &c,
        &format!("INSERT INTO roles (organization_id, name, permissions) VALUES ({a}, 'p', '{{}}')"),
        "CHECK constraint failed",
    );
}

#[test]
fn a_chunk_is_in_its_documents_knowledge_base_and_a_message_in_its_conversations_bot() {
    let (_dir, c) = fresh_db();
    let u = user(&c, "u@example.com");
    let o = org(&c, u, "o", "pro");
    let kb1 = knowledge_base(&c, o, "KB1");
    let kb2 = knowledge_base(&c, o, "KB2");
    let d1 = document(&c, o, kb1, 10);
    assert_refused(
        &c,
        &format!(
            "INSERT INTO chunks (organization_id, knowledge_base_id, document_id, chunk_index, content) VALUES ({o}, {kb2}, {d1}, 0, 'x')"
        ),
        "parent_mismatch: chunks.knowledge_base_id",
    );
    let ch = chunk(&c, o, kb1, d1, 0, "x", 1);
    assert_refused(
        &c,
        &format!("UPDATE chunks SET knowledge_base_id = {kb2} WHERE id = {ch}"),
        "parent_mismatch: chunks.knowledge_base_id",
    );
    let b1 = bot(&c, o, "B1").expect("bot");
    let b2 = bot(&c, o, "B2").expect("bot");
    let conv = conversation(&c, o, b1, "s");
    let insert = |bot: i64| {
        c.execute(
            "INSERT INTO widget_messages (organization_id, bot_id, conversation_id, session_id, role, content) VALUES (?1, ?2, ?3, 's', 'user', 'hi')",
            params![o, bot, conv],
        )
    };
    assert_eq!(error_of(insert(b2)), "parent_mismatch: widget_messages.bot_id");
    insert(b1).expect("the conversation's bot");
    assert_refused(
        &c,
        &format!("UPDATE widget_messages SET bot_id = {b2} WHERE conversation_id = {conv}"),
        "parent_mismatch: widget_messages.bot_id",
    );
}

// --------------------------------------------------- one active flow version

#[test]
fn activating_a_flow_version_deactivates_the_other_versions_of_that_flow() {
    let (_dir, c) = fresh_db();
    let u = user(&c, "u@example.com");
    let o = org(&c, u, "o", "free");
    let b = bot(&c, o, "B").expect("bot");
    let flow = |name: &str, version: i64, active: bool| -> i64 {
        c.query_row(
            "INSERT INTO bot_flows (organization_id, bot_id, name, version, is_active, flow_data) VALUES (?1, ?2, ?3, ?4, ?5, '{\"nodes\":[]}') RETURNING id",
            params![o, b, name, version, active],
            |r| r.get(0),
        )
        .expect("flow")
    };
    let v1 = flow("main", 1, true);
    let _help = flow("help", 1, true);
    let _v2 = flow("main", 2, true);
    assert_eq!(
        int(&c, &format!("SELECT count(*) FROM bot_flows WHERE bot_id = {b} AND name = 'main' AND is_active = 1")),
        1
    );
    assert_eq!(
        int(&c, &format!("SELECT version FROM bot_flows WHERE bot_id = {b} AND name = 'main' AND is_active = 1")),
        2
    );
    let _v3 = flow("main", 3, false);
    assert_eq!(
        int(&c, &format!("SELECT version FROM bot_flows WHERE bot_id = {b} AND name = 'main' AND is_active = 1")),
        2
    );
    // Rolling back = activating an old version.
    exec(&c, &format!("UPDATE bot_flows SET is_active = 1 WHERE id = {v1}"));
    assert_eq!(
        int(&c, &format!("SELECT version FROM bot_flows WHERE bot_id = {b} AND name = 'main' AND is_active = 1")),
        1
    );
    // Other flows of the bot are untouched.
    assert_eq!(
        int(&c, &format!("SELECT count(*) FROM bot_flows WHERE bot_id = {b} AND name = 'help' AND is_active = 1")),
        1
    );
    // Versions are unique per flow.
    assert_refused(
        &c,
        &format!(
            "INSERT INTO bot_flows (organization_id, bot_id, name, version, flow_data) VALUES ({o}, {b}, 'main', 2, '{{}}')"
        ),
        "UNIQUE constraint failed",
    );
}

#[test]
fn a_partial_unique_index_backs_up_the_one_active_version_rule() {
    let (_dir, c) = fresh_db();
    let u = user(&c, "u@example.com");
    let o = org(&c, u, "o", "free");
    let b = bot(&c, o, "B").expect("bot");
    exec(&c, "DROP TRIGGER bot_flows_one_active_insert; DROP TRIGGER bot_flows_one_active_update;");
    exec(
        &c,
        &format!(
            "INSERT INTO bot_flows (organization_id, bot_id, version, is_active, flow_data) VALUES ({o}, {b}, 1, 1, '{{}}')"
        ),
    );
    assert_refused(
        &c,
        &format!(
            "INSERT INTO bot_flows (organization_id, bot_id, version, is_active, flow_data) VALUES ({o}, {b}, 2, 1, '{{}}')"
        ),
        "UNIQUE constraint failed: bot_flows.bot_id, bot_flows.name",
    );
}

// ------------------------------------------------------------ append-only

#[test]
fn audit_logs_refuse_updates_and_deletes() {
    let (_dir, c) = fresh_db();
    let w = World::new(&c);
    let a = w.org_a;
    assert_refused(
        &c,
        &format!("UPDATE audit_logs SET action = 'x' WHERE organization_id = {a}"),
        "append_only: audit_logs",
    );
    assert_refused(
        &c,
        &format!("UPDATE audit_logs SET user_id = NULL WHERE organization_id = {a}"),
        "append_only: audit_logs",
    );
    assert_refused(&c, &format!("DELETE FROM audit_logs WHERE organization_id = {a}"), "append_only: audit_logs");
    // Rows outside any organization too.
    exec(
        &c,
        "INSERT INTO audit_logs (action, resource_type, metadata) VALUES ('user.login.failed', 'user', '{\"reason\":\"bad_password\"}')",
    );
    assert_refused(&c, "DELETE FROM audit_logs WHERE organization_id IS NULL", "append_only: audit_logs");
    // A flag set by someone else's committed transaction does not count:
    // only the value 'true' inside the deleting transaction does.
    exec(&c, "INSERT INTO settings (key, value) VALUES ('retention.unlock', 'false')");
    assert_refused(&c, "DELETE FROM audit_logs WHERE organization_id IS NULL", "append_only: audit_logs");
}

#[test]
fn the_retention_job_deletes_append_only_rows_inside_its_own_transaction() {
    let (_dir, c) = fresh_db();
    let w = World::new(&c);
    let path = std::path::PathBuf::from(c.path().expect("a file-backed connection"));
    exec(
        &c,
        "INSERT INTO audit_logs (action, resource_type, created_at) VALUES ('bot.created', 'bot', '2001-01-01T00:00:00.000Z')",
    );
    let before = int(&c, "SELECT count(*) FROM audit_logs");
    exec(&c, "BEGIN IMMEDIATE; INSERT INTO settings (key, value) VALUES ('retention.unlock', 'true');");
    // Other connections never see the flag (it is never committed).
    let other = open(&path);
    assert_eq!(int(&other, "SELECT count(*) FROM settings WHERE key = 'retention.unlock'"), 0);
    exec(
        &c,
        &format!(
            "DELETE FROM audit_logs WHERE created_at < '2002-01-01';
             DELETE FROM admin_audit_log WHERE user_id = {};
             DELETE FROM sso_login_logs WHERE organization_id = {};
             DELETE FROM settings WHERE key = 'retention.unlock';
             COMMIT;",
            w.owner_a, w.org_a
        ),
    );
    assert_eq!(int(&c, "SELECT count(*) FROM audit_logs"), before - 1);
    assert_eq!(int(&c, "SELECT count(*) FROM admin_audit_log"), 0);
    assert_eq!(int(&c, &format!("SELECT count(*) FROM sso_login_logs WHERE organization_id = {}", w.org_a)), 0);
    assert_eq!(int(&other, "SELECT count(*) FROM settings WHERE key = 'retention.unlock'"), 0);
    // Locked again afterwards.
    assert_refused(&c, "DELETE FROM audit_logs", "append_only: audit_logs");
}

#[test]
fn admin_audit_log_is_append_only() {
    let (_dir, c) = fresh_db();
    let w = World::new(&c);
    assert_refused(&c, "UPDATE admin_audit_log SET action = 'ADMIN_LOGOUT'", "append_only: admin_audit_log");
    assert_refused(&c, "UPDATE admin_audit_log SET details = '{\"x\":1}'", "append_only: admin_audit_log");
    assert_refused(&c, &format!("UPDATE admin_audit_log SET user_id = {}", w.member), "append_only: admin_audit_log");
    assert_refused(&c, "DELETE FROM admin_audit_log", "append_only: admin_audit_log");
}

#[test]
fn sso_login_logs_are_append_only() {
    let (_dir, c) = fresh_db();
    let w = World::new(&c);
    assert_refused(&c, "UPDATE sso_login_logs SET status = 'failed'", "append_only: sso_login_logs");
    assert_refused(&c, "UPDATE sso_login_logs SET user_id = NULL", "append_only: sso_login_logs");
    assert_refused(
        &c,
        &format!("DELETE FROM sso_login_logs WHERE organization_id = {}", w.org_b),
        "append_only: sso_login_logs",
    );
}

#[test]
fn deleting_a_user_or_sso_configuration_clears_the_reference_in_append_only_logs() {
    let (_dir, c) = fresh_db();
    let w = World::new(&c);
    let temp = user(&c, "temp@example.com");
    exec(
        &c,
        &format!(
            "INSERT INTO audit_logs (organization_id, user_id, action, resource_type) VALUES ({a}, {temp}, 'bot.deleted', 'bot');
             INSERT INTO admin_audit_log (user_id, action) VALUES ({temp}, 'ADMIN_LOGIN_SUCCESS');
             INSERT INTO sso_login_logs (organization_id, user_id, status) VALUES ({a}, {temp}, 'failed');
             DELETE FROM users WHERE id = {temp};",
            a = w.org_a
        ),
    );
    assert_eq!(int(&c, "SELECT count(*) FROM audit_logs WHERE action = 'bot.deleted' AND user_id IS NULL"), 1);
    assert_eq!(
        int(&c, "SELECT count(*) FROM admin_audit_log WHERE action = 'ADMIN_LOGIN_SUCCESS' AND user_id IS NULL"),
        1
    );
    assert_eq!(int(&c, "SELECT count(*) FROM sso_login_logs WHERE status = 'failed' AND user_id IS NULL"), 1);
    exec(&c, &format!("DELETE FROM sso_configurations WHERE organization_id = {}", w.org_a));
    assert_eq!(
        int(
            &c,
            &format!(
                "SELECT count(*) FROM sso_login_logs WHERE organization_id = {} AND sso_configuration_id IS NULL",
                w.org_a
            )
        ),
        2
    );
}

// -------------------------------------------------------------- plan limits

#[test]
fn bots_per_organization_are_limited_by_its_plan() {
    let (_dir, c) = fresh_db();
    let u = user(&c, "u@example.com");
    let o = org(&c, u, "o", "free");
    let other = org(&c, u, "other", "free");
    bot(&c, o, "first").expect("the free plan allows one bot");
    assert_eq!(error_of(bot(&c, o, "second")), "plan_limit_exceeded: bots");
    // Another organization has its own allowance.
    bot(&c, other, "first").expect("separate allowance");
    exec(&c, &format!("UPDATE organizations SET plan_tier = 'pro' WHERE id = {o}"));
    for i in 2..=10 {
        bot(&c, o, &format!("bot {i}")).expect("pro allows ten");
    }
    assert_eq!(error_of(bot(&c, o, "eleventh")), "plan_limit_exceeded: bots");
    exec(&c, &format!("UPDATE organizations SET plan_tier = 'enterprise' WHERE id = {o}"));
    for i in 11..=30 {
        bot(&c, o, &format!("bot {i}")).expect("enterprise is unlimited (-1)");
    }
    // A plan's limit is read at insert time, from subscription_plans.
    exec(&c, "UPDATE subscription_plans SET max_bots = 2 WHERE name = 'free'");
    bot(&c, other, "second").expect("raised limit");
    assert_eq!(error_of(bot(&c, other, "third")), "plan_limit_exceeded: bots");
    // plan_tier must name a plan.
    assert_refused(
        &c,
        &format!("UPDATE organizations SET plan_tier = 'gold' WHERE id = {o}"),
        "FOREIGN KEY constraint failed",
    );
}

// ---------------------------------------------------------------- counters

#[test]
fn transcript_messages_are_counted_on_bots_and_conversations() {
    let (_dir, c) = fresh_db();
    let u = user(&c, "u@example.com");
    let o = org(&c, u, "o", "free");
    let b = bot(&c, o, "B").expect("bot");
    let conv = conversation(&c, o, b, "s1");
    for (role, at) in [
        ("user", "2026-01-01T00:00:01.000Z"),
        ("bot", "2026-01-01T00:00:02.000Z"),
        ("user", "2026-01-01T00:00:03.000Z"),
        ("agent", "2026-01-01T00:00:04.000Z"),
        ("system", "2026-01-01T00:00:05.000Z"),
        ("note", "2026-01-01T00:00:06.000Z"),
    ] {
        c.execute(
            "INSERT INTO widget_messages (organization_id, bot_id, conversation_id, session_id, role, content, created_at) VALUES (?1, ?2, ?3, 's1', ?4, 'x', ?5)",
            params![o, b, conv, role, at],
        )
        .expect("message");
    }
    assert_eq!(int(&c, &format!("SELECT total_messages_received FROM bots WHERE id = {b}")), 2);
    assert_eq!(int(&c, &format!("SELECT total_messages_sent FROM bots WHERE id = {b}")), 2);
    assert_eq!(int(&c, &format!("SELECT message_count FROM conversations WHERE id = {conv}")), 6);
    assert_eq!(
        text(&c, &format!("SELECT last_message_at FROM conversations WHERE id = {conv}")),
        "2026-01-01T00:00:06.000Z"
    );
}

#[test]
fn knowledge_base_counters_follow_documents_and_chunks() {
    let (_dir, c) = fresh_db();
    let u = user(&c, "u@example.com");
    let o = org(&c, u, "o", "free");
    let kb = knowledge_base(&c, o, "KB");
    let stats = || -> (i64, i64, i64, i64) {
        c.query_row(
            "SELECT document_count, total_chunks, total_tokens, total_bytes FROM knowledge_bases WHERE id = ?1",
            [kb],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .expect("stats")
    };
    let d1 = document(&c, o, kb, 1000);
    let d2 = document(&c, o, kb, 500);
    assert_eq!(stats(), (2, 0, 0, 1500));
    chunk(&c, o, kb, d1, 0, "alpha", 10);
    chunk(&c, o, kb, d1, 1, "beta", 20);
    let c3 = chunk(&c, o, kb, d2, 0, "gamma", 5);
    assert_eq!(stats(), (2, 3, 35, 1500));
    assert_eq!(int(&c, &format!("SELECT chunk_count FROM documents WHERE id = {d1}")), 2);
    assert_eq!(int(&c, &format!("SELECT token_count FROM documents WHERE id = {d1}")), 30);
    exec(&c, &format!("DELETE FROM chunks WHERE id = {c3}"));
    assert_eq!(stats(), (2, 2, 30, 1500));
    exec(&c, &format!("UPDATE documents SET size_bytes = 700 WHERE id = {d2}"));
    assert_eq!(stats(), (2, 2, 30, 1700));
    // Deleting a document removes its chunks and its share of every counter.
    exec(&c, &format!("DELETE FROM documents WHERE id = {d1}"));
    assert_eq!(stats(), (1, 0, 0, 700));
    exec(&c, &format!("DELETE FROM documents WHERE id = {d2}"));
    assert_eq!(stats(), (0, 0, 0, 0));
}

#[test]
fn plugin_downloads_follow_installations() {
    let (_dir, c) = fresh_db();
    let u = user(&c, "u@example.com");
    let p = plugin(&c, "p");
    for slug in ["o1", "o2", "o3"] {
        let o = org(&c, u, slug, "free");
        exec(
            &c,
            &format!(
                "INSERT INTO plugin_installations (organization_id, plugin_id, installed_version) VALUES ({o}, {p}, '1.0.0')"
            ),
        );
    }
    assert_eq!(int(&c, &format!("SELECT downloads FROM plugins WHERE id = {p}")), 3);
    // An organization installs a plugin once.
    assert_refused(
        &c,
        "INSERT INTO plugin_installations (organization_id, plugin_id, installed_version) SELECT organization_id, plugin_id, '2.0.0' FROM plugin_installations LIMIT 1",
        "UNIQUE constraint failed",
    );
}

#[test]
fn plugin_rating_and_review_count_follow_reviews() {
    let (_dir, c) = fresh_db();
    let p = plugin(&c, "p");
    let users: Vec<i64> = (0..3).map(|i| user(&c, &format!("u{i}@example.com"))).collect();
    let rating = || -> (f64, i64) {
        c.query_row("SELECT rating, review_count FROM plugins WHERE id = ?1", [p], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("rating")
    };
    for (u, stars) in users.iter().zip([5, 4, 1]) {
        exec(&c, &format!("INSERT INTO plugin_reviews (plugin_id, user_id, rating) VALUES ({p}, {u}, {stars})"));
    }
    assert_eq!(rating(), (3.33, 3));
    exec(&c, &format!("UPDATE plugin_reviews SET rating = 4 WHERE user_id = {}", users[2]));
    assert_eq!(rating(), (4.33, 3));
    exec(&c, &format!("DELETE FROM plugin_reviews WHERE user_id = {}", users[0]));
    assert_eq!(rating(), (4.0, 2));
    exec(&c, "DELETE FROM plugin_reviews");
    assert_eq!(rating(), (0.0, 0));
    // Deleting a user deletes their review and updates the plugin.
    exec(&c, &format!("INSERT INTO plugin_reviews (plugin_id, user_id, rating) VALUES ({p}, {}, 2)", users[1]));
    exec(&c, &format!("DELETE FROM users WHERE id = {}", users[1]));
    assert_eq!(rating(), (0.0, 0));
}

#[test]
fn health_score_history_records_every_new_score_and_every_score_change() {
    let (_dir, c) = fresh_db();
    let u = user(&c, "u@example.com");
    let o = org(&c, u, "o", "free");
    let id: i64 = c
        .query_row(
            "INSERT INTO customer_health_scores (organization_id, customer_id, health_score, health_grade, churn_probability, churn_risk_level, risk_factors)
             VALUES (?1, 'cust', 81, 'A', 0.05, 'very_low', '[\"usage_drop\"]') RETURNING id",
            [o],
            |r| r.get(0),
        )
        .expect("score");
    let history = || {
        strings(
            &c,
            &format!(
                "SELECT health_score || ':' || health_grade || ':' || risk_factors FROM customer_health_score_history WHERE customer_health_id = {id} ORDER BY id"
            ),
        )
    };
    assert_eq!(history(), ["81:A:[\"usage_drop\"]"]);
    exec(
        &c,
        &format!(
            "UPDATE customer_health_scores SET health_score = 55, health_grade = 'C', churn_risk_level = 'medium' WHERE id = {id}"
        ),
    );
    assert_eq!(history().len(), 2);
    assert_eq!(history()[1], "55:C:[\"usage_drop\"]");
    // Same score, or other columns only: no new row.
    exec(&c, &format!("UPDATE customer_health_scores SET health_score = 55 WHERE id = {id}"));
    exec(
        &c,
        &format!(
            "UPDATE customer_health_scores SET customer_email = 'c@example.com', next_calculation_at = '2030-01-01' WHERE id = {id}"
        ),
    );
    assert_eq!(history().len(), 2);
    assert_eq!(
        int(
            &c,
            &format!(
                "SELECT organization_id FROM customer_health_score_history WHERE customer_health_id = {id} LIMIT 1"
            )
        ),
        o
    );
}

#[test]
fn usage_tracking_is_one_row_per_organization_bot_metric_and_day() {
    let (_dir, c) = fresh_db();
    let u = user(&c, "u@example.com");
    let o = org(&c, u, "o", "pro");
    let b = bot(&c, o, "B").expect("bot");
    let track = |bot: Option<i64>, n: i64| {
        c.execute(
            "INSERT INTO usage_tracking (organization_id, bot_id, metric_type, day, count) VALUES (?1, ?2, 'api_call', '2026-11-02', ?3)
             ON CONFLICT (organization_id, ifnull(bot_id, 0), metric_type, day) DO UPDATE SET count = count + excluded.count",
            params![o, bot, n],
        )
        .expect("track")
    };
    track(Some(b), 2);
    track(Some(b), 3);
    track(None, 1);
    track(None, 4);
    assert_eq!(int(&c, "SELECT count(*) FROM usage_tracking"), 2);
    assert_eq!(int(&c, &format!("SELECT count FROM usage_tracking WHERE bot_id = {b}")), 5);
    assert_eq!(int(&c, "SELECT count FROM usage_tracking WHERE bot_id IS NULL"), 5);
    assert_eq!(
        int(
            &c,
            &format!(
                "SELECT total_count FROM user_usage_summary WHERE organization_id = {o} AND month = '2026-11' AND metric_type = 'api_call'"
            )
        ),
        10
    );
}

#[test]
fn the_usage_of_a_deleted_bot_is_folded_into_its_organization() {
    let (_dir, c) = fresh_db();
    let u = user(&c, "u@example.com");
    let o = org(&c, u, "o", "pro");
    let b1 = bot(&c, o, "B1").expect("bot");
    let b2 = bot(&c, o, "B2").expect("bot");
    exec(
        &c,
        &format!(
            "INSERT INTO usage_tracking (organization_id, bot_id, metric_type, day, count) VALUES
               ({o}, {b1}, 'message_received', '2026-11-01', 7), ({o}, {b1}, 'message_sent', '2026-11-01', 6),
               ({o}, NULL, 'message_received', '2026-11-01', 1), ({o}, {b2}, 'message_received', '2026-11-01', 2);
             DELETE FROM bots WHERE id = {b1};"
        ),
    );
    assert_eq!(
        int(&c, "SELECT count FROM usage_tracking WHERE bot_id IS NULL AND metric_type = 'message_received'"),
        8
    );
    assert_eq!(int(&c, "SELECT count FROM usage_tracking WHERE bot_id IS NULL AND metric_type = 'message_sent'"), 6);
    assert_eq!(int(&c, &format!("SELECT count FROM usage_tracking WHERE bot_id = {b2}")), 2);
    assert_eq!(int(&c, &format!("SELECT sum(count) FROM usage_tracking WHERE organization_id = {o}")), 16);
}

#[test]
fn autonomous_agents_count_their_tasks_and_outcomes() {
    let (_dir, c) = fresh_db();
    let u = user(&c, "u@example.com");
    let o = org(&c, u, "o", "free");
    let agent: i64 = c
        .query_row("INSERT INTO autonomous_agents (organization_id, name) VALUES (?1, 'A') RETURNING id", [o], |r| {
            r.get(0)
        })
        .expect("agent");
    for _ in 0..3 {
        exec(
            &c,
            &format!(
                "INSERT INTO agent_tasks (organization_id, agent_id, task_description) VALUES ({o}, {agent}, 't')"
            ),
        );
    }
    let ids = strings(&c, &format!("SELECT CAST(id AS TEXT) FROM agent_tasks WHERE agent_id = {agent} ORDER BY id"));
    exec(&c, &format!("UPDATE agent_tasks SET status = 'running' WHERE id = {}", ids[0]));
    exec(&c, &format!("UPDATE agent_tasks SET status = 'completed' WHERE id = {}", ids[0]));
    exec(&c, &format!("UPDATE agent_tasks SET status = 'failed' WHERE id = {}", ids[1]));
    // A finished task changing again does not count twice.
    exec(&c, &format!("UPDATE agent_tasks SET status = 'completed' WHERE id = {}", ids[1]));
    let counts: (i64, i64, i64) = c
        .query_row(
            "SELECT total_tasks, successful_tasks, failed_tasks FROM autonomous_agents WHERE id = ?1",
            [agent],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("counts");
    assert_eq!(counts, (3, 1, 1));
}

#[test]
fn voice_bots_count_calls_and_duration() {
    let (_dir, c) = fresh_db();
    let u = user(&c, "u@example.com");
    let o = org(&c, u, "o", "free");
    let vb: i64 = c
        .query_row("INSERT INTO voice_bots (organization_id, name) VALUES (?1, 'V') RETURNING id", [o], |r| r.get(0))
        .expect("voice bot");
    exec(
        &c,
        &format!(
            "INSERT INTO calls (organization_id, voice_bot_id, provider_call_sid, duration) VALUES ({o}, {vb}, 'CA1', 30), ({o}, {vb}, 'CA2', 0);
             UPDATE calls SET duration = 45, status = 'completed' WHERE provider_call_sid = 'CA2';"
        ),
    );
    assert_eq!(int(&c, &format!("SELECT total_calls FROM voice_bots WHERE id = {vb}")), 2);
    assert_eq!(int(&c, &format!("SELECT total_duration FROM voice_bots WHERE id = {vb}")), 75);
    // provider_call_sid is unique (the origin's upsert on it failed).
    assert_refused(
        &c,
        &format!("INSERT INTO calls (organization_id, voice_bot_id, provider_call_sid) VALUES ({o}, {vb}, 'CA1')"),
        "UNIQUE constraint failed: calls.provider_call_sid",
    );
}

#[test]
fn work_clones_count_their_training_samples() {
    let (_dir, c) = fresh_db();
    let u = user(&c, "u@example.com");
    let o = org(&c, u, "o", "free");
    let clone: i64 = c
        .query_row("INSERT INTO work_clones (organization_id, name) VALUES (?1, 'C') RETURNING id", [o], |r| r.get(0))
        .expect("clone");
    for i in 0..3 {
        exec(
            &c,
            &format!(
                "INSERT INTO clone_training_data (organization_id, clone_id, data_type, original_content) VALUES ({o}, {clone}, 'chat', 'sample number {i} of my writing')"
            ),
        );
    }
    exec(
        &c,
        &format!(
            "DELETE FROM clone_training_data WHERE id = (SELECT min(id) FROM clone_training_data WHERE clone_id = {clone})"
        ),
    );
    assert_eq!(int(&c, &format!("SELECT training_samples_count FROM work_clones WHERE id = {clone}")), 2);
}

#[test]
fn channel_contacts_count_their_messages() {
    let (_dir, c) = fresh_db();
    let w = World::new(&c);
    let a = w.org_a;
    let contact = int(&c, &format!("SELECT id FROM channel_contacts WHERE organization_id = {a}"));
    let channel = int(&c, &format!("SELECT id FROM channels WHERE organization_id = {a}"));
    exec(
        &c,
        &format!(
            "INSERT INTO channel_messages (organization_id, channel_id, contact_id, direction, content, created_at)
             VALUES ({a}, {channel}, {contact}, 'outbound', 'reply', '2030-01-01T00:00:00.000Z')"
        ),
    );
    assert_eq!(int(&c, &format!("SELECT message_count FROM channel_contacts WHERE id = {contact}")), 2);
    assert_eq!(
        text(&c, &format!("SELECT last_message_at FROM channel_contacts WHERE id = {contact}")),
        "2030-01-01T00:00:00.000Z"
    );
    assert!(text(&c, &format!("SELECT first_message_at FROM channel_contacts WHERE id = {contact}")).as_str() < "2030");
    // Provider message ids de-duplicate inbound events per channel.
    assert_refused(
        &c,
        &format!(
            "INSERT INTO channel_messages (organization_id, channel_id, direction, external_id) VALUES ({a}, {channel}, 'inbound', 'm-a')"
        ),
        "UNIQUE constraint failed",
    );
}

#[test]
fn ab_tests_count_their_units_and_run_once_per_subject() {
    let (_dir, c) = fresh_db();
    let w = World::new(&c);
    let a = w.org_a;
    exec(
        &c,
        &format!(
            "INSERT INTO ab_test_units (organization_id, ab_test_id, variant_id, unit_key)
             SELECT organization_id, ab_test_id, variant_id, 'u:api:someone' FROM ab_test_units WHERE organization_id = {a}"
        ),
    );
    assert_eq!(int(&c, &format!("SELECT total_requests FROM ab_tests WHERE organization_id = {a}")), 2);
    // A second running test on the same flow of the bot is refused.
    assert_refused(
        &c,
        &format!(
            "INSERT INTO ab_tests (organization_id, bot_id, name, subject_kind, subject_key, goal_metric, baseline_rate, minimum_effect, status)
             SELECT organization_id, bot_id, 'Again', subject_kind, subject_key, goal_metric, 0.4, 0.1, 'running'
             FROM ab_tests WHERE organization_id = {a}"
        ),
        "UNIQUE constraint failed",
    );
}

// ------------------------------------------------------ full-text and vectors

#[test]
fn chunks_are_kept_in_the_full_text_index() {
    let (_dir, c) = fresh_db();
    let u = user(&c, "u@example.com");
    let o = org(&c, u, "o", "free");
    let kb = knowledge_base(&c, o, "KB");
    let d = document(&c, o, kb, 10);
    let ch = chunk(&c, o, kb, d, 0, "The runners were running past the Café Müller", 9);
    assert_eq!(fts_hits(&c, "run"), 1, "porter stemming");
    assert_eq!(fts_hits(&c, "cafe"), 1, "diacritics folded");
    assert_eq!(fts_hits(&c, "muller"), 1, "diacritics folded");
    exec(
        &c,
        &format!(
            "UPDATE chunks SET content = 'Opening hours are nine to five', heading_path = 'Shop > Hours' WHERE id = {ch}"
        ),
    );
    assert_eq!(fts_hits(&c, "run"), 0, "old text left the index");
    assert_eq!(fts_hits(&c, "hours"), 1);
    assert_eq!(fts_hits(&c, "heading_path:shop"), 1, "headings are indexed too");
    // Changing other columns leaves the index alone.
    exec(&c, &format!("UPDATE chunks SET token_count = 6 WHERE id = {ch}"));
    assert_eq!(fts_hits(&c, "opening"), 1);
    exec(&c, "INSERT INTO chunks_fts (chunks_fts) VALUES ('integrity-check')");
    let hit: i64 = c
        .query_row(
            "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH 'nine' ORDER BY bm25(chunks_fts) LIMIT 1",
            [],
            |r| r.get(0),
        )
        .expect("bm25");
    assert_eq!(hit, ch);
    exec(&c, &format!("DELETE FROM chunks WHERE id = {ch}"));
    assert_eq!(fts_hits(&c, "hours"), 0, "deleted chunks leave the index");
    // Deleting a document (cascade) also cleans the index.
    chunk(&c, o, kb, d, 1, "zebra crossing", 2);
    exec(&c, &format!("DELETE FROM documents WHERE id = {d}"));
    assert_eq!(fts_hits(&c, "zebra"), 0);
    exec(&c, "INSERT INTO chunks_fts (chunks_fts) VALUES ('integrity-check')");
}

fn hits_in(c: &Connection, table: &str, query: &str) -> i64 {
    c.query_row(&format!("SELECT count(*) FROM {table} WHERE {table} MATCH ?1"), [query], |r| r.get(0)).expect("match")
}

#[test]
fn each_chunk_is_in_the_index_of_its_tokenizer_and_moves_with_it() {
    let (_dir, c) = fresh_db();
    let u = user(&c, "u@example.com");
    let o = org(&c, u, "o", "free");
    let kb = knowledge_base(&c, o, "KB");
    let d = document(&c, o, kb, 10);
    let ch = chunk(&c, o, kb, d, 0, "返品は到着から三十日以内に受け付けます", 9);
    assert_eq!(fts_hits(&c, "返品"), 0, "Porter's word tokens: the whole clause is one token");
    assert_eq!(int(&c, &format!("SELECT count(*) FROM chunks WHERE id = {ch} AND fts_tokenizer = 'porter'")), 1);
    // Moving the chunk to the trigram index (as a language change does).
    exec(&c, &format!("UPDATE chunks SET fts_tokenizer = 'trigram' WHERE id = {ch}"));
    assert_eq!(hits_in(&c, "chunks_fts", "\"到着から\""), 0, "left the Porter index");
    assert_eq!(hits_in(&c, "chunks_trigram_fts", "\"三十日\""), 1, "a substring of three characters");
    assert_eq!(hits_in(&c, "chunks_trigram_fts", "\"到着から\""), 1);
    // Another language: unicode61 with diacritics folded, no stemming.
    let fr = chunk(&c, o, kb, d, 1, "Les élèves arrivent à l'école", 6);
    exec(&c, &format!("UPDATE chunks SET fts_tokenizer = 'unicode61' WHERE id = {fr}"));
    assert_eq!(hits_in(&c, "chunks_fold_fts", "ecole"), 1, "diacritics folded");
    assert_eq!(hits_in(&c, "chunks_fold_fts", "eleve"), 0, "no English stemming");
    assert_eq!(hits_in(&c, "chunks_trigram_fts", "\"ecole\""), 0);
    // Edits and deletes follow the chunk into its index.
    exec(&c, &format!("UPDATE chunks SET content = 'Les professeurs partent' WHERE id = {fr}"));
    assert_eq!(hits_in(&c, "chunks_fold_fts", "ecole"), 0);
    assert_eq!(hits_in(&c, "chunks_fold_fts", "professeurs"), 1);
    assert_refused(&c, &format!("UPDATE chunks SET fts_tokenizer = 'snowball' WHERE id = {fr}"), "CHECK");
    exec(&c, &format!("DELETE FROM knowledge_bases WHERE id = {kb}"));
    assert_eq!(hits_in(&c, "chunks_trigram_fts", "\"三十日\""), 0);
    assert_eq!(hits_in(&c, "chunks_fold_fts", "professeurs"), 0);
    for table in ["chunks_fts", "chunks_fold_fts", "chunks_trigram_fts"] {
        exec(&c, &format!("INSERT INTO {table} ({table}) VALUES ('integrity-check')"));
    }
}

#[test]
fn deleting_chunks_deletes_their_vectors_and_knn_stays_within_a_knowledge_base() {
    let (_dir, c) = fresh_db();
    let u = user(&c, "u@example.com");
    let o = org(&c, u, "o", "free");
    let kb1 = knowledge_base(&c, o, "KB1");
    let kb2 = knowledge_base(&c, o, "KB2");
    let d1 = document(&c, o, kb1, 10);
    let d2 = document(&c, o, kb2, 10);
    let mut ids = Vec::new();
    for (i, kb, d) in [(0u8, kb1, d1), (1, kb1, d1), (2, kb2, d2)] {
        let id = chunk(&c, o, kb, d, i64::from(i), &format!("chunk {i}"), 2);
        c.execute(
            "INSERT INTO chunk_vectors (rowid, knowledge_base_id, embedding) VALUES (?1, ?2, ?3)",
            params![id, kb, vector(i)],
        )
        .expect("vector");
        ids.push(id);
    }
    let nearest: Vec<i64> = c
        .prepare("SELECT rowid FROM chunk_vectors WHERE embedding MATCH ?1 AND k = 10 AND knowledge_base_id = ?2 ORDER BY distance")
        .expect("knn")
        .query_map(params![vector(1), kb1], |r| r.get(0))
        .expect("rows")
        .map(|r| r.expect("row"))
        .collect();
    assert_eq!(nearest, vec![ids[1], ids[0]], "nearest first, only kb1");
    exec(&c, &format!("DELETE FROM chunks WHERE id = {}", ids[0]));
    assert_eq!(int(&c, &format!("SELECT count(*) FROM chunk_vectors WHERE rowid = {}", ids[0])), 0);
    exec(&c, &format!("DELETE FROM knowledge_bases WHERE id = {kb2}"));
    assert_eq!(int(&c, &format!("SELECT count(*) FROM chunk_vectors WHERE rowid = {}", ids[2])), 0);
    assert_eq!(int(&c, "SELECT count(*) FROM chunk_vectors"), 1);
}

// ---------------------------------------------------------------- cascades

/// Rows per tenant table for one organization.
fn tenant_rows(c: &Connection, org: i64) -> BTreeMap<String, i64> {
    tables_with_column(c, "organization_id")
        .into_iter()
        .map(|t| {
            let n = int(c, &format!("SELECT count(*) FROM {t} WHERE organization_id = {org}"));
            (t, n)
        })
        .collect()
}

#[test]
fn deleting_an_organization_removes_all_its_data_and_nothing_else() {
    let (_dir, c) = fresh_db();
    let w = World::new(&c);
    let b_rows = tenant_rows(&c, w.org_b);
    let platform = |c: &Connection| {
        [
            "users",
            "user_sessions",
            "two_factor_backup_codes",
            "password_reset_tokens",
            "subscription_plans",
            "subscription_plan_prices",
            "plugin_categories",
            "plugins",
            "plugin_versions",
            "plugin_reviews",
            "voice_bot_templates",
            "admin_audit_log",
            "admin_sessions",
            "settings",
        ]
        .iter()
        .map(|t| int(c, &format!("SELECT count(*) FROM {t}")))
        .collect::<Vec<_>>()
    };
    let platform_before = platform(&c);
    let chunk_a = int(&c, &format!("SELECT id FROM chunks WHERE organization_id = {}", w.org_a));
    let chunk_b = int(&c, &format!("SELECT id FROM chunks WHERE organization_id = {}", w.org_b));
    assert_eq!(fts_hits(&c, "taga"), 1);

    exec(&c, &format!("DELETE FROM organizations WHERE id = {}", w.org_a));

    for (table, n) in tenant_rows(&c, w.org_a) {
        assert_eq!(n, 0, "{table} kept rows of the deleted organization");
    }
    assert_eq!(tenant_rows(&c, w.org_b), b_rows, "the other organization lost rows");
    assert_eq!(platform(&c), platform_before, "user-level or platform rows changed");
    assert_eq!(fts_hits(&c, "taga"), 0, "full-text rows of the deleted organization remain");
    assert_eq!(fts_hits(&c, "tagb"), 1);
    assert_eq!(int(&c, &format!("SELECT count(*) FROM chunk_vectors WHERE rowid = {chunk_a}")), 0);
    assert_eq!(int(&c, &format!("SELECT count(*) FROM chunk_vectors WHERE rowid = {chunk_b}")), 1);
    assert_eq!(int(&c, "SELECT count(*) FROM roles WHERE organization_id IS NULL"), 5, "built-in roles remain");
    assert_eq!(
        int(&c, &format!("SELECT downloads FROM plugins WHERE id = {}", w.plugin)),
        2,
        "install counts are history"
    );
    assert!(strings(&c, "SELECT 1 FROM pragma_foreign_key_check").is_empty());
    exec(&c, "INSERT INTO chunks_fts (chunks_fts) VALUES ('integrity-check')");
    // The owner can now be deleted; the member stays in the other organization.
    exec(&c, &format!("DELETE FROM users WHERE id = {}", w.owner_a));
    assert_eq!(int(&c, &format!("SELECT count(*) FROM organization_members WHERE user_id = {}", w.member)), 1);
    assert_eq!(w.owner_b, int(&c, &format!("SELECT owner_id FROM organizations WHERE id = {}", w.org_b)));
}

#[test]
fn deleting_a_bot_removes_what_it_owns_and_unlinks_the_rest() {
    let (_dir, c) = fresh_db();
    let w = World::new(&c);
    let a = w.org_a;
    let b_rows = tenant_rows(&c, w.org_b);
    let bot_id = int(&c, &format!("SELECT id FROM bots WHERE organization_id = {a}"));
    exec(&c, &format!("DELETE FROM bots WHERE id = {bot_id}"));
    for table in [
        "bot_messages",
        "bot_flows",
        "bot_tests",
        "bot_test_runs",
        "flow_orchestrations",
        "flow_transitions",
        "flow_variables",
        "conversations",
        "widget_configs",
        "widget_messages",
        "ai_configurations",
        "agents",
        "agent_workflows",
        "workflow_executions",
        "agent_execution_steps",
        "agent_messages",
        "agent_tools",
        "tools",
        "tool_executions",
        "intents",
        "intent_examples",
        "entities",
        "entity_values",
        "nlu_logs",
        "api_tokens",
        "fine_tune_models",
        "model_versions",
        "ab_tests",
        "ab_test_variants",
        "ab_test_units",
        "ab_test_results",
    ] {
        assert_eq!(int(&c, &format!("SELECT count(*) FROM {table} WHERE organization_id = {a}")), 0, "{table}");
    }
    for (table, column) in [
        ("channels", "bot_id"),
        ("channel_messages", "bot_id"),
        ("channel_messages", "conversation_id"),
        ("calls", "conversation_id"),
        ("voice_bots", "bot_id"),
        ("recovery_campaigns", "bot_id"),
        ("voice_bot_creations", "generated_bot_id"),
    ] {
        assert_eq!(
            int(&c, &format!("SELECT count(*) FROM {table} WHERE organization_id = {a} AND {column} IS NOT NULL")),
            0,
            "{table}.{column}"
        );
        assert!(
            int(&c, &format!("SELECT count(*) FROM {table} WHERE organization_id = {a}")) > 0,
            "{table} rows survive"
        );
    }
    assert_eq!(
        int(&c, &format!("SELECT sum(count) FROM usage_tracking WHERE organization_id = {a} AND bot_id IS NULL")),
        3
    );
    assert_eq!(tenant_rows(&c, w.org_b), b_rows);
}

#[test]
fn deleting_a_conversation_removes_its_transcript() {
    let (_dir, c) = fresh_db();
    let w = World::new(&c);
    let conv = int(&c, &format!("SELECT id FROM conversations WHERE organization_id = {}", w.org_a));
    exec(&c, &format!("DELETE FROM conversations WHERE id = {conv}"));
    assert_eq!(int(&c, &format!("SELECT count(*) FROM widget_messages WHERE conversation_id = {conv}")), 0);
    assert_eq!(
        int(
            &c,
            &format!(
                "SELECT count(*) FROM channel_messages WHERE organization_id = {} AND conversation_id IS NULL",
                w.org_a
            )
        ),
        1
    );
}

#[test]
fn restrict_refuses_deleting_an_owner_a_role_in_use_or_a_plan_in_use() {
    let (_dir, c) = fresh_db();
    let w = World::new(&c);
    assert_refused(&c, &format!("DELETE FROM users WHERE id = {}", w.owner_a), "FOREIGN KEY constraint failed");
    assert_refused(
        &c,
        &format!("DELETE FROM roles WHERE organization_id = {}", w.org_a),
        "FOREIGN KEY constraint failed",
    );
    assert_refused(&c, "DELETE FROM roles WHERE name = 'owner'", "FOREIGN KEY constraint failed");
    assert_refused(
        &c,
        &format!("DELETE FROM team_roles WHERE organization_id = {}", w.org_a),
        "FOREIGN KEY constraint failed",
    );
    assert_refused(&c, "DELETE FROM subscription_plans WHERE name = 'enterprise'", "FOREIGN KEY constraint failed");
    // Renaming a plan follows into organizations (ON UPDATE CASCADE).
    exec(&c, "UPDATE subscription_plans SET name = 'business' WHERE name = 'enterprise'");
    assert_eq!(int(&c, "SELECT count(*) FROM organizations WHERE plan_tier = 'business'"), 2);
    // A user who owns nothing can be deleted; sessions and memberships go along.
    exec(&c, &format!("DELETE FROM users WHERE id = {}", w.member));
    for table in [
        "organization_members",
        "team_members",
        "user_sessions",
        "two_factor_backup_codes",
        "password_reset_tokens",
        "plugin_reviews",
    ] {
        assert_eq!(int(&c, &format!("SELECT count(*) FROM {table} WHERE user_id = {}", w.member)), 0, "{table}");
    }
    assert_eq!(int(&c, "SELECT count(*) FROM conversations WHERE assignee_user_id IS NOT NULL"), 0);
}

// ----------------------------------------------------------------- CHECKs

#[test]
fn status_and_enumeration_columns_refuse_unknown_values() {
    let (_dir, c) = fresh_db();
    let w = World::new(&c);
    let a = w.org_a;
    for (table, column, good, bad) in [
        ("organizations", "status", "suspended", "deleted"),
        ("organizations", "subscription_status", "past_due", "late"),
        ("organization_members", "status", "suspended", "pending"),
        ("team_invitations", "status", "revoked", "maybe"),
        ("conversations", "status", "closed", "archived"),
        ("conversations", "channel", "telegram", "fax"),
        ("jobs", "status", "dead", "exploded"),
        ("documents", "status", "embedding", "processing"),
        ("embedding_queue", "status", "processing", "queued"),
        ("bots", "platform", "slack", "myspace"),
        ("webhook_logs", "status", "delivered", "sent"),
        ("email_notifications", "status", "sending", "bounced"),
        ("email_notifications", "email_type", "password_reset", "spam"),
        ("user_subscriptions", "status", "trialing", "free"),
        ("user_subscriptions", "billing_cycle", "yearly", "weekly"),
        ("usage_tracking", "metric_type", "llm_tokens", "clicks"),
        ("channels", "type", "whatsapp", "fax"),
        ("channel_messages", "status", "read", "lost"),
        ("channel_messages", "direction", "outbound", "sideways"),
        ("channel_templates", "category", "marketing", "spam"),
        ("calls", "status", "no-answer", "hung"),
        ("recovery_campaigns", "status", "paused", "running"),
        ("recovery_events", "event_type", "payment_failed", "coupon"),
        ("recovery_messages", "channel", "sms", "pigeon"),
        ("customer_health_scores", "health_grade", "F", "E"),
        ("entities", "type", "list", "text"),
        ("model_versions", "kind", "retrieval", "gpt"),
        ("ab_tests", "status", "stopped", "paused"),
        ("fine_tune_jobs", "status", "succeeded", "done"),
        ("sso_configurations", "provider_type", "saml", "ldap"),
        ("widget_messages", "role", "note", "assistant"),
        ("flow_transitions", "trigger_type", "on_intent", "on_timer"),
        ("entity_versions", "entity_type", "flow", "widget"),
        ("plugin_installations", "status", "disabled", "gone"),
        ("agents", "role", "router", "boss"),
        ("tools", "tool_type", "knowledge_search", "rocket"),
    ] {
        let one_row = if table == "organizations" {
            format!("id = {a}")
        } else {
            format!("id = (SELECT min(id) FROM {table} WHERE organization_id = {a})")
        };
        exec(&c, &format!("UPDATE {table} SET {column} = '{good}' WHERE {one_row}"));
        assert_refused(
            &c,
            &format!("UPDATE {table} SET {column} = '{bad}' WHERE {one_row}"),
            "CHECK constraint failed",
        );
    }
    let o = a;
    assert_refused(
        &c,
        &format!("UPDATE organizations SET status = 'closed' WHERE id = {o}"),
        "CHECK constraint failed",
    );
    assert_refused(&c, "UPDATE password_reset_tokens SET purpose = 'login'", "CHECK constraint failed");
}

#[test]
fn json_columns_refuse_invalid_json_and_arrays_must_be_arrays() {
    let (_dir, c) = fresh_db();
    let w = World::new(&c);
    let a = w.org_a;
    for (table, column) in [
        ("organizations", "settings"),
        ("bot_flows", "flow_data"),
        ("conversations", "state"),
        ("jobs", "payload"),
        ("jobs", "progress"),
        ("chunks", "metadata"),
        ("documents", "metadata"),
        ("widget_messages", "payload"),
        ("channel_webhooks", "payload"),
        ("nlu_logs", "ranking"),
        ("recovery_campaigns", "target_rules"),
        ("customer_health_scores", "score_breakdown"),
        ("entity_versions", "data"),
        ("webhook_logs", "payload"),
        ("tools", "configuration"),
    ] {
        let id_filter = if table == "organizations" { format!("id = {a}") } else { format!("organization_id = {a}") };
        assert_refused(
            &c,
            &format!("UPDATE {table} SET {column} = '{{not json' WHERE {id_filter}"),
            "CHECK constraint failed",
        );
    }
    for (table, column) in [
        ("roles", "permissions"),
        ("api_tokens", "scopes"),
        ("webhooks", "events"),
        ("widget_configs", "allowed_origins"),
        ("entity_values", "synonyms"),
        ("bot_messages", "trigger_keywords"),
        ("team_roles", "permissions"),
        ("channel_contacts", "tags"),
    ] {
        assert_refused(
            &c,
            &format!("UPDATE {table} SET {column} = '{{\"a\":1}}' WHERE organization_id = {a}"),
            "CHECK constraint failed",
        );
        exec(&c, &format!("UPDATE {table} SET {column} = '[\"x\"]' WHERE organization_id = {a}"));
    }
    assert_refused(
        &c,
        &format!(
            "INSERT INTO audit_logs (organization_id, action, resource_type, new_values) VALUES ({a}, 'x', 'y', '[1,')"
        ),
        "CHECK constraint failed",
    );
    // Nullable JSON accepts NULL.
    exec(&c, &format!("UPDATE jobs SET result = NULL WHERE organization_id = {a}"));
    assert_refused(
        &c,
        &format!("UPDATE jobs SET result = 'nope' WHERE organization_id = {a}"),
        "CHECK constraint failed",
    );
    assert_refused(&c, "INSERT INTO settings (key, value) VALUES ('k', 'not json')", "CHECK constraint failed");
}

#[test]
fn emails_are_stored_lower_case_and_unique() {
    let (_dir, c) = fresh_db();
    user(&c, "ann@example.com");
    assert_refused(
        &c,
        "INSERT INTO users (email, password_hash) VALUES ('Ann@Example.com', 'x')",
        "CHECK constraint failed",
    );
    assert_refused(
        &c,
        "INSERT INTO users (email, password_hash) VALUES ('ann@example.com', 'x')",
        "UNIQUE constraint failed: users.email",
    );
    assert_refused(
        &c,
        "INSERT INTO users (email, password_hash) VALUES ('no-at-sign', 'x')",
        "CHECK constraint failed",
    );
    let w = World::new(&c);
    assert_refused(
        &c,
        &format!("UPDATE team_invitations SET email = 'Invitee-A@example.com' WHERE organization_id = {}", w.org_a),
        "CHECK constraint failed",
    );
    assert_refused(
        &c,
        "INSERT INTO admin_login_attempts (email, ip_address) VALUES ('Root@X.io', '1.2.3.4')",
        "CHECK constraint failed",
    );
}

#[test]
fn secrets_are_stored_as_fixed_size_hashes_or_ciphertext() {
    let (_dir, c) = fresh_db();
    let w = World::new(&c);
    for table in ["user_sessions", "admin_sessions", "password_reset_tokens", "api_tokens", "team_invitations"] {
        let decl = text(&c, &format!("SELECT type FROM pragma_table_info('{table}') WHERE name = 'token_hash'"));
        assert_eq!(decl, "BLOB", "{table}.token_hash");
        assert_refused(
            &c,
            &format!("UPDATE {table} SET token_hash = x'00' WHERE rowid = (SELECT min(rowid) FROM {table})"),
            "CHECK constraint failed",
        );
        assert_refused(
            &c,
            &format!("INSERT INTO {table} SELECT * FROM {table} WHERE rowid = (SELECT min(rowid) FROM {table})"),
            "UNIQUE constraint failed",
        );
    }
    assert_eq!(text(&c, "SELECT type FROM pragma_table_info('users') WHERE name = 'totp_secret_encrypted'"), "BLOB");
    // 2FA cannot be on without a secret; a ~170-byte ciphertext fits.
    assert_refused(
        &c,
        &format!("UPDATE users SET two_factor_enabled = 1 WHERE id = {}", w.member),
        "CHECK constraint failed",
    );
    exec(
        &c,
        &format!(
            "UPDATE users SET totp_secret_encrypted = randomblob(170), two_factor_enabled = 1 WHERE id = {}",
            w.member
        ),
    );
    for column in ["reset_password_token", "verification_token", "organization_id", "plan", "role", "two_factor_secret"]
    {
        assert_eq!(
            int(&c, &format!("SELECT count(*) FROM pragma_table_info('users') WHERE name = '{column}'")),
            0,
            "users.{column}"
        );
    }
}

#[test]
fn ranges_booleans_and_money_are_checked() {
    let (_dir, c) = fresh_db();
    let w = World::new(&c);
    let a = w.org_a;
    for sql in [
        format!("UPDATE conversations SET csat = 6 WHERE organization_id = {a}"),
        format!("UPDATE conversations SET csat = 0 WHERE organization_id = {a}"),
        format!("UPDATE nlu_logs SET confidence = 1.5 WHERE organization_id = {a}"),
        format!("UPDATE intents SET confidence_threshold = -0.1 WHERE organization_id = {a}"),
        format!("UPDATE ai_configurations SET temperature = 2.5 WHERE organization_id = {a}"),
        format!("UPDATE ai_configurations SET rag_threshold = 1.1 WHERE organization_id = {a}"),
        format!("UPDATE customer_health_scores SET health_score = 101 WHERE organization_id = {a}"),
        format!("UPDATE customer_health_scores SET nps_score = -101 WHERE organization_id = {a}"),
        format!("UPDATE ab_test_variants SET share = 101 WHERE organization_id = {a}"),
        format!("UPDATE ab_tests SET alpha = 0.5 WHERE organization_id = {a}"),
        format!("UPDATE ab_test_results SET successes = trials + 1 WHERE organization_id = {a}"),
        format!("UPDATE bots SET is_active = 2 WHERE organization_id = {a}"),
        format!("UPDATE webhooks SET is_active = 'yes' WHERE organization_id = {a}"),
        format!("UPDATE payment_history SET amount = -1 WHERE organization_id = {a}"),
        format!("UPDATE payment_history SET currency = 'usd' WHERE organization_id = {a}"),
        format!("UPDATE phone_numbers SET phone_number = '555-1234' WHERE organization_id = {a}"),
        format!("UPDATE whitelabel_settings SET primary_color = 'purple' WHERE organization_id = {a}"),
        format!("UPDATE usage_tracking SET day = '2026-11' WHERE organization_id = {a}"),
        format!("UPDATE knowledge_bases SET chunk_overlap = chunk_size WHERE organization_id = {a}"),
        format!("UPDATE files SET size_bytes = 99 WHERE organization_id = {a}"),
        "UPDATE plugin_reviews SET rating = 6".to_owned(),
        format!("UPDATE webhook_logs SET response_body = hex(randomblob(3000)) WHERE organization_id = {a}"),
        "UPDATE subscription_plans SET max_bots = -2 WHERE name = 'free'".to_owned(),
    ] {
        assert_refused(&c, &sql, "CHECK constraint failed");
    }
    assert_eq!(
        int(&c, &format!("SELECT confidence_threshold IS NULL FROM intents WHERE organization_id = {a}")),
        1,
        "NULL: the trained model's calibrated threshold"
    );
    exec(&c, &format!("UPDATE intents SET confidence_threshold = NULL WHERE organization_id = {a}"));
    exec(&c, &format!("UPDATE conversations SET csat = 5 WHERE organization_id = {a}"));
}

#[test]
fn one_active_nlu_model_per_bot_and_unique_names_per_bot() {
    let (_dir, c) = fresh_db();
    let w = World::new(&c);
    let a = w.org_a;
    let b = int(&c, &format!("SELECT id FROM bots WHERE organization_id = {a}"));
    assert_refused(
        &c,
        &format!(
            "INSERT INTO model_versions (organization_id, bot_id, kind, version_number, is_active) VALUES ({a}, {b}, 'nlu_intent', 2, 1)"
        ),
        "UNIQUE constraint failed",
    );
    exec(
        &c,
        &format!(
            "INSERT INTO model_versions (organization_id, bot_id, kind, version_number) VALUES ({a}, {b}, 'nlu_intent', 2)"
        ),
    );
    assert_refused(
        &c,
        &format!("INSERT INTO intents (organization_id, bot_id, name) VALUES ({a}, {b}, 'greet')"),
        "UNIQUE constraint failed: intents.bot_id, intents.name",
    );
    assert_refused(
        &c,
        &format!("INSERT INTO entities (organization_id, bot_id, name) VALUES ({a}, {b}, 'fruit')"),
        "UNIQUE constraint failed: entities.bot_id, entities.name",
    );
    assert_refused(
        &c,
        &format!("INSERT INTO entities (organization_id, bot_id, name, type) VALUES ({a}, {b}, 'code', 'regex')"),
        "CHECK constraint failed",
    );
    exec(
        &c,
        &format!(
            "INSERT INTO entities (organization_id, bot_id, name, type, pattern) VALUES ({a}, {b}, 'code', 'regex', '[A-Z]{{3}}')"
        ),
    );
    exec(
        &c,
        &format!(
            "INSERT INTO entities (organization_id, bot_id, name, type, system_type) VALUES ({a}, {b}, 'sys_date', 'system', 'date')"
        ),
    );
    assert_eq!(
        int(&c, &format!("SELECT is_system FROM entities WHERE organization_id = {a} AND name = 'sys_date'")),
        1
    );
    let kb = int(&c, &format!("SELECT id FROM knowledge_bases WHERE organization_id = {a}"));
    assert_refused(
        &c,
        &format!(
            "INSERT INTO documents (organization_id, knowledge_base_id, name, type, content_hash)
             SELECT organization_id, knowledge_base_id, 'copy.txt', 'txt', content_hash FROM documents WHERE knowledge_base_id = {kb}"
        ),
        "UNIQUE constraint failed",
    );
    assert_refused(
        &c,
        &format!(
            "INSERT INTO conversations (organization_id, bot_id, channel, external_user_id) VALUES ({a}, {b}, 'telegram', 'session-a')"
        ),
        "UNIQUE constraint failed",
    );
}

#[test]
fn views_report_per_organization_figures_without_inflation() {
    let (_dir, c) = fresh_db();
    let w = World::new(&c);
    // Subscriptions: one row per organization, with its plan even without a
    // user_subscriptions row.
    let lonely = org(&c, w.member, "lonely", "pro");
    assert_eq!(int(&c, "SELECT count(*) FROM user_subscription_details"), 3);
    assert_eq!(
        text(&c, &format!("SELECT plan_name FROM user_subscription_details WHERE organization_id = {lonely}")),
        "pro"
    );
    assert_eq!(
        int(
            &c,
            &format!("SELECT subscription_id IS NULL FROM user_subscription_details WHERE organization_id = {lonely}")
        ),
        1
    );
    assert_eq!(
        int(&c, &format!("SELECT max_bots FROM user_subscription_details WHERE organization_id = {}", w.org_a)),
        -1
    );
    // With a subscription row, its plan and status are shown.
    let trial = org(&c, w.member, "trial", "free");
    exec(
        &c,
        &format!(
            "INSERT INTO user_subscriptions (organization_id, plan_id, status) VALUES ({trial}, (SELECT id FROM subscription_plans WHERE name = 'pro'), 'trialing')"
        ),
    );
    assert_eq!(
        text(
            &c,
            &format!(
                "SELECT plan_tier || '/' || plan_name || '/' || status FROM user_subscription_details WHERE organization_id = {trial}"
            )
        ),
        "free/pro/trialing"
    );
    assert_eq!(int(&c, "SELECT count(*) FROM user_subscription_details"), 4);
    // Activity: 3 actions of one kind and 2 of another by one user in two
    // organizations; the origin's double join would have reported 3*2 and 2*2.
    let u = w.owner_a;
    exec(
        &c,
        &format!(
            "INSERT INTO audit_logs (organization_id, user_id, action, resource_type) VALUES
               ({a}, {u}, 'bot.created', 'bot'), ({a}, {u}, 'bot.created', 'bot'), ({b}, {u}, 'bot.created', 'bot'),
               ({a}, {u}, 'user.login', 'user'), (NULL, {u}, 'user.login', 'user');
             INSERT INTO audit_logs (organization_id, user_id, action, resource_type, created_at)
               VALUES ({a}, {u}, 'bot.deleted', 'bot', '2000-01-01T00:00:00.000Z');",
            a = w.org_a,
            b = w.org_b
        ),
    );
    let (total, orgs, counts): (i64, i64, String) = c
        .query_row(
            "SELECT total_actions, organizations_accessed, action_counts FROM user_activity_summary WHERE user_id = ?1",
            [u],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("summary");
    // The fixture adds one 'fixture.created' row for owner_a in org A.
    assert_eq!(total, 6);
    assert_eq!(orgs, 2);
    let counts: serde_json::Value = serde_json::from_str(&counts).expect("json");
    assert_eq!(counts, serde_json::json!({"bot.created": 3, "user.login": 2, "fixture.created": 1}));
    assert_eq!(int(&c, &format!("SELECT total_actions FROM user_activity_summary WHERE user_id = {}", w.member)), 0);
    assert_eq!(
        text(&c, &format!("SELECT action_counts FROM user_activity_summary WHERE user_id = {}", w.member)),
        "{}"
    );
    // Recent activity: 30 days, with names.
    assert_eq!(int(&c, "SELECT count(*) FROM recent_audit_activity WHERE action = 'bot.deleted'"), 0);
    assert_eq!(
        text(
            &c,
            &format!(
                "SELECT organization_name || '/' || user_email FROM recent_audit_activity WHERE organization_id = {} AND action = 'user.login'",
                w.org_a
            )
        ),
        "org-a/owner-a@example.com"
    );
}

#[test]
fn organizations_made_before_v053_get_a_default_team_role_once() {
    let (_dir, c) = fresh_db();
    let owner = user(&c, "owner@example.com");
    // Made directly in SQL, as before V053: no team role at all.
    let bare = org(&c, owner, "bare", "free");
    let named = org(&c, owner, "named", "free");
    exec(&c, &format!("INSERT INTO team_roles (organization_id, name, is_default) VALUES ({named}, 'Inbox', 1)"));
    let migration = include_str!("../../migrations/V053__default_team_role.sql");
    for _ in 0..2 {
        c.execute_batch(migration).expect("V053 applies (and again, harmlessly)");
    }
    let defaults =
        |o: i64| strings(&c, &format!("SELECT name FROM team_roles WHERE organization_id = {o} AND is_default = 1"));
    assert_eq!(defaults(bare), ["Member"]);
    assert_eq!(defaults(named), ["Inbox"], "an organization that named its default keeps it");
    assert_eq!(int(&c, &format!("SELECT count(*) FROM team_roles WHERE organization_id = {named}")), 1);
}

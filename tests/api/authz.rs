//! The authorization matrix, generated from the OpenAPI route table: every
//! `/api/v1` operation × {anonymous, owner, admin, editor, agent, viewer,
//! owner of another organization, API token with and without the scope,
//! token of another organization}, asserting allow / 401 / 403 / 404 as the
//! permission catalogue says.
//!
//! A tenant route's required permission is read from its OpenAPI security
//! scopes and its tenant from its path parameters. A route with a path
//! parameter the matrix has no fixture for, or a route without security that
//! is not on the public list, or a signed-in route outside any organization
//! that is not on the self-service list, fails the test: adding a route means
//! adding its entry here.
//!
//! Superadmin routes (`/api/v1/admin/…`, security `admin_session`) are checked
//! against {anonymous, an owner's session, a superadmin's *tenant* session,
//! an all-scopes API token, a superadmin's console session}: only the last
//! may pass.

use std::collections::BTreeMap;

use botbuilder::crypto::{random_token, sha256};
use botbuilder::permissions::{BuiltinRole, Permission, PermissionSet};
use reqwest::Method;
use rusqlite::params;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with};

/// Routes anyone may call.
const PUBLIC: &[(&str, &str)] = &[
    ("POST", "/api/v1/auth/register"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/verify-email"),
    ("POST", "/api/v1/auth/password-reset/request"),
    ("POST", "/api/v1/auth/password-reset"),
    ("POST", "/api/v1/invitations/preview"),
    ("POST", "/api/v1/invitations/decline"),
    ("GET", "/api/v1/branding"),
    ("GET", "/api/v1/branding/files/{sha256}"),
    ("POST", "/api/v1/admin/auth/login"),
    ("GET", "/api/v1/instance"),
    ("GET", "/api/v1/plans"),
    ("GET", "/api/v1/flow-schema"),
    ("GET", "/api/v1/widget/{widget_key}/config"),
    ("GET", "/api/v1/widget/{widget_key}/avatar"),
    ("POST", "/api/v1/widget/{widget_key}/sessions"),
    ("GET", "/api/v1/widget/{widget_key}/sessions/{session_id}/messages"),
    ("POST", "/api/v1/widget/{widget_key}/sessions/{session_id}/messages"),
    ("GET", "/api/v1/widget/{widget_key}/sessions/{session_id}/events"),
    ("POST", "/api/v1/widget/{widget_key}/sessions/{session_id}/uploads"),
    ("GET", "/api/v1/widget/{widget_key}/sessions/{session_id}/files/{file_id}"),
    ("PUT", "/api/v1/widget/{widget_key}/sessions/{session_id}/messages/{message_id}/feedback"),
    ("DELETE", "/api/v1/widget/{widget_key}/sessions/{session_id}/messages/{message_id}/feedback"),
    ("POST", "/api/v1/billing/stripe/webhook"),
    ("POST", "/api/v1/autonomous-hooks/{hook_token}"),
    ("GET", "/api/v1/sso/check"),
    ("GET", "/api/v1/sso/login"),
    ("GET", "/api/v1/sso/oidc/callback"),
    ("GET", "/api/v1/sso/saml/{sso_configuration_id}/metadata"),
    ("POST", "/api/v1/sso/saml/{sso_configuration_id}/acs"),
    ("POST", "/api/v1/recovery-hooks/{hook_token}"),
    ("GET", "/api/v1/recovery-links/{link}"),
    ("GET", "/api/v1/recovery-unsubscribe/{link}"),
    ("POST", "/api/v1/recovery-unsubscribe/{link}"),
];

/// Routes about the signed-in user rather than an organization:
/// (method, path, whether an API token may call it).
const SELF_SERVICE: &[(&str, &str, bool)] = &[
    ("GET", "/api/v1/me", true),
    ("PATCH", "/api/v1/me", false),
    ("POST", "/api/v1/me/password", false),
    ("GET", "/api/v1/me/sessions", false),
    ("DELETE", "/api/v1/me/sessions", false),
    ("DELETE", "/api/v1/me/sessions/{session_id}", false),
    ("GET", "/api/v1/me/2fa", false),
    ("POST", "/api/v1/me/2fa/setup", false),
    ("POST", "/api/v1/me/2fa/enable", false),
    ("POST", "/api/v1/me/2fa/disable", false),
    ("POST", "/api/v1/me/2fa/backup-codes", false),
    ("POST", "/api/v1/auth/verify-email/resend", false),
    ("POST", "/api/v1/auth/logout", false),
    ("GET", "/api/v1/orgs", true),
    ("POST", "/api/v1/orgs", false),
    ("POST", "/api/v1/orgs/import", false),
    ("GET", "/api/v1/permissions", true),
    ("GET", "/api/v1/bot-templates", true),
    ("POST", "/api/v1/invitations/accept", false),
];

/// Path parameters the fixtures can fill: resources of the fixture's
/// organization (the foreign callers get the same ids, which they must not see).
const TENANT_PARAMS: &[&str] = &[
    "org_id",
    "bot_id",
    "job_id",
    "user_id",
    "role_id",
    "team_id",
    "team_role_id",
    "invitation_id",
    "token_id",
    "version_id",
    "branch_id",
    "entity_type",
    "entity_id",
    "intent_id",
    "example_id",
    "nlu_entity_id",
    "model_version_id",
    "log_id",
    "kb_id",
    "document_id",
    "provider_id",
    "flow_name",
    "version",
    "orchestration_id",
    "canned_message_id",
    "conversation_id",
    "webhook_id",
    "delivery_id",
    "channel_id",
    "integration_id",
    "tool_id",
    "mcp_server_id",
    "contact_id",
    "template_id",
    "canned_reply_id",
    "test_id",
    "experiment_id",
    "file_id",
    "message_id",
    "invoice_id",
    "agent_id",
    "run_id",
    "approval_id",
    "workflow_id",
    "execution_id",
    "autonomous_agent_id",
    "autonomous_run_id",
    "autonomous_memory_id",
    "voice_bot_id",
    "call_id",
    "phone_number_id",
    "creation_id",
    "scim_token_id",
    "sso_configuration_id",
    "sso_domain_id",
    "key_id",
    "recovery_campaign_id",
    "recovery_source_id",
    "customer_health_id",
    "clone_id",
    "clone_data_id",
    "response_id",
    "fine_tune_model_id",
    "dataset_id",
    "fine_tune_job_id",
];

/// Path parameters of self-service routes, filled with the caller's own rows.
const SELF_PARAMS: &[&str] = &["session_id"];

/// Path parameters of superadmin routes.
const ADMIN_PARAMS: &[&str] = &["user_id", "org_id", "entry_id", "plan_id", "sso_domain_id"];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    Anonymous,
    Role(BuiltinRole),
    ForeignOwner,
    TokenWithScope,
    TokenWithoutScope,
    ForeignToken,
}

const EVERYONE: [Who; 10] = [
    Who::Anonymous,
    Who::Role(BuiltinRole::Owner),
    Who::Role(BuiltinRole::Admin),
    Who::Role(BuiltinRole::Editor),
    Who::Role(BuiltinRole::Agent),
    Who::Role(BuiltinRole::Viewer),
    Who::ForeignOwner,
    Who::TokenWithScope,
    Who::TokenWithoutScope,
    Who::ForeignToken,
];

/// What a principal should get.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Allowed,
    Status(u16),
}

/// An organization with one member per role, a bot, a job, and one row of
/// every kind the routes address. Roles handed out in the fixture carry no
/// permissions, so that every caller allowed by the route's permission also
/// passes the "never more than you have" checks.
struct Fixture {
    params: BTreeMap<&'static str, String>,
    sessions: BTreeMap<&'static str, (String, String)>,
    session_ids: BTreeMap<&'static str, i64>,
    org_id: i64,
    owner_id: i64,
}

struct Credentials {
    cookie: Option<(String, String)>,
    token: Option<String>,
}

fn make_user(app: &TestApp, tx: &rusqlite::Connection, email: &str) -> (i64, (String, String), i64) {
    tx.execute("INSERT INTO users (email, password_hash, name) VALUES (?1, 'x', 'Matrix')", [email]).expect("user");
    let user = tx.last_insert_rowid();
    let token = random_token(32);
    tx.execute(
        "INSERT INTO user_sessions (user_id, token_hash, expires_at) VALUES (?1, ?2, '2999-01-01T00:00:00.000Z')",
        params![user, sha256(token.as_bytes()).as_slice()],
    )
    .expect("session");
    let session_id = tx.last_insert_rowid();
    let csrf = app.state.keys.csrf_token(&token);
    (user, (format!("__Host-bb_session={token}"), csrf), session_id)
}

#[allow(clippy::too_many_lines, reason = "one row per kind of resource the routes address")]
fn fixture(app: &TestApp, tag: &str) -> Fixture {
    app.sql(|tx| {
        let (owner_id, owner_session, owner_session_id) = make_user(app, tx, &format!("owner-{tag}@example.com"));
        tx.execute(
            "INSERT INTO organizations (name, slug, owner_id, plan_tier) VALUES ('Matrix', ?1, ?2, 'enterprise')",
            params![format!("matrix-{tag}"), owner_id],
        )?;
        let org_id = tx.last_insert_rowid();
        let mut sessions = BTreeMap::new();
        let mut session_ids = BTreeMap::new();
        let mut role_users = BTreeMap::new();
        for role in BuiltinRole::ALL {
            let (user, session, session_id) = if role == BuiltinRole::Owner {
                (owner_id, owner_session.clone(), owner_session_id)
            } else {
                make_user(app, tx, &format!("{}-{tag}@example.com", role.name()))
            };
            tx.execute(
                "INSERT INTO organization_members (organization_id, user_id, role_id)
                 VALUES (?1, ?2, (SELECT id FROM roles WHERE organization_id IS NULL AND name = ?3))",
                params![org_id, user, role.name()],
            )?;
            sessions.insert(role.name(), session);
            session_ids.insert(role.name(), session_id);
            role_users.insert(role.name(), user);
        }
        tx.execute("INSERT INTO roles (organization_id, name, permissions) VALUES (?1, 'Nothing', '[]')", [org_id])?;
        let role_id = tx.last_insert_rowid();
        let (member_id, _, _) = make_user(app, tx, &format!("member-{tag}@example.com"));
        tx.execute(
            "INSERT INTO organization_members (organization_id, user_id, role_id) VALUES (?1, ?2, ?3)",
            params![org_id, member_id, role_id],
        )?;
        tx.execute(
            "INSERT INTO bots (organization_id, name, widget_key) VALUES (?1, 'Matrix bot', ?2)",
            params![org_id, format!("wk_{tag}")],
        )?;
        let bot_id = tx.last_insert_rowid();
        tx.execute("INSERT INTO jobs (organization_id, kind, payload) VALUES (?1, 'noop', '{}')", [org_id])?;
        let job_id = tx.last_insert_rowid();
        tx.execute("INSERT INTO teams (organization_id, name) VALUES (?1, 'Matrix team')", [org_id])?;
        let team_id = tx.last_insert_rowid();
        tx.execute("INSERT INTO team_roles (organization_id, name, permissions) VALUES (?1, 'Plain', '[]')", [org_id])?;
        let team_role_id = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO team_members (organization_id, team_id, user_id, team_role_id) VALUES (?1, ?2, ?3, ?4)",
            params![org_id, team_id, member_id, team_role_id],
        )?;
        tx.execute(
            "INSERT INTO team_invitations (organization_id, email, role_id, token_hash, expires_at)
             VALUES (?1, ?2, ?3, ?4, '2999-01-01T00:00:00.000Z')",
            params![org_id, format!("invitee-{tag}@example.com"), role_id, sha256(tag.as_bytes()).as_slice()],
        )?;
        let invitation_id = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO api_tokens (organization_id, user_id, token_name, token_hash, token_prefix, scopes)
             VALUES (?1, ?2, 'fixture', ?3, 'bb_', '[]')",
            params![org_id, owner_id, sha256(format!("token-{tag}").as_bytes()).as_slice()],
        )?;
        let token_id = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO entity_branches (organization_id, entity_type, entity_id, branch_name, is_main)
             VALUES (?1, 'bot', ?2, 'main', 1)",
            params![org_id, bot_id],
        )?;
        let main_id = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO entity_versions (organization_id, entity_type, entity_id, version_number, branch_id, data)
             VALUES (?1, 'bot', ?2, 1, ?3, '{\"name\": \"v1\"}')",
            params![org_id, bot_id, main_id],
        )?;
        let version_id = tx.last_insert_rowid();
        tx.execute("UPDATE entity_branches SET head_version_id = ?1, base_version_id = ?1 WHERE id = ?2", params![version_id, main_id])?;
        tx.execute(
            "INSERT INTO entity_branches (organization_id, entity_type, entity_id, branch_name, base_version_id, head_version_id)
             VALUES (?1, 'bot', ?2, 'draft', ?3, ?3)",
            params![org_id, bot_id, version_id],
        )?;
        let branch_id = tx.last_insert_rowid();
        let nlu = nlu_rows(tx, org_id, bot_id)?;
        let knowledge = knowledge_rows(tx, org_id)?;
        let mut params = BTreeMap::from([
            ("org_id", org_id.to_string()),
            ("bot_id", bot_id.to_string()),
            ("job_id", job_id.to_string()),
            ("user_id", member_id.to_string()),
            ("role_id", role_id.to_string()),
            ("team_id", team_id.to_string()),
            ("team_role_id", team_role_id.to_string()),
            ("invitation_id", invitation_id.to_string()),
            ("token_id", token_id.to_string()),
            ("version_id", version_id.to_string()),
            ("branch_id", branch_id.to_string()),
            ("entity_type", "bot".to_owned()),
            ("entity_id", bot_id.to_string()),
        ]);
        params.extend(nlu.into_iter().chain(knowledge).map(|(name, id)| (name, id.to_string())));
        params.extend(runtime_rows(tx, org_id, bot_id)?);
        params.insert("experiment_id", experiment_row(tx, org_id, bot_id)?.to_string());
        params.extend(webhook_rows(tx, org_id)?.map(|(name, id)| (name, id.to_string())));
        params.extend(channel_rows(tx, org_id, bot_id)?.map(|(name, id)| (name, id.to_string())));
        params.insert("invoice_id", invoice_row(tx, org_id)?.to_string());
        params.extend(integration_and_tool_rows(tx, org_id)?);
        params.insert("mcp_server_id", mcp_server_row(tx, org_id)?.to_string());
        let tool_id: i64 = params["tool_id"].parse().unwrap_or_default();
        params.extend(agent_rows(tx, org_id, bot_id, tool_id)?.map(|(name, id)| (name, id.to_string())));
        params.extend(workflow_rows(tx, org_id, bot_id)?);
        params.extend(autonomous_rows(tx, org_id)?);
        params.extend(voice_rows(tx, org_id, bot_id)?.map(|(name, id)| (name, id.to_string())));
        tx.execute(
            "INSERT INTO scim_tokens (organization_id, name, token_hash, token_prefix, role_id)
             VALUES (?1, 'fixture', randomblob(32), 'scim_', (SELECT id FROM roles WHERE organization_id IS NULL AND name = 'viewer'))",
            [org_id],
        )?;
        params.insert("scim_token_id", tx.last_insert_rowid().to_string());
        params.extend(sso_rows(tx, org_id)?);
        params.extend(recovery_rows(tx, org_id)?.map(|(name, id)| (name, id.to_string())));
        params.extend(clone_rows(tx, org_id, owner_id, &role_users)?.map(|(name, id)| (name, id.to_string())));
        let provider_id: i64 = params["provider_id"].parse().unwrap_or_default();
        params.extend(finetune_rows(tx, org_id, provider_id)?.map(|(name, id)| (name, id.to_string())));
        Ok(Fixture { params, sessions, session_ids, org_id, owner_id })
    })
}

/// A voice bot of the bot on a number (no provider sid: a release does not
/// call out) with one call, and a voice-to-bot creation; no telephony
/// account (provider routes answer 409).
fn voice_rows(tx: &rusqlite::Connection, org_id: i64, bot_id: i64) -> rusqlite::Result<[(&'static str, i64); 4]> {
    let voice_bot_id: i64 = tx.query_row(
        "INSERT INTO voice_bots (organization_id, bot_id, name) VALUES (?1, ?2, 'Matrix voice') RETURNING id",
        params![org_id, bot_id],
        |r| r.get(0),
    )?;
    let phone_number_id: i64 = tx.query_row(
        "INSERT INTO phone_numbers (organization_id, phone_number, assigned_bot_id)
         VALUES (?1, '+1' || (2000000000 + ?1), ?2) RETURNING id",
        params![org_id, voice_bot_id],
        |r| r.get(0),
    )?;
    let call_id: i64 = tx.query_row(
        "INSERT INTO calls (organization_id, voice_bot_id, phone_number_id, provider_call_sid)
         VALUES (?1, ?2, ?3, 'CA' || lower(hex(randomblob(16)))) RETURNING id",
        params![org_id, voice_bot_id, phone_number_id],
        |r| r.get(0),
    )?;
    let creation_id: i64 = tx.query_row(
        "INSERT INTO voice_bot_creations (organization_id, session_id) VALUES (?1, lower(hex(randomblob(12)))) RETURNING id",
        [org_id],
        |r| r.get(0),
    )?;
    Ok([
        ("voice_bot_id", voice_bot_id),
        ("call_id", call_id),
        ("phone_number_id", phone_number_id),
        ("creation_id", creation_id),
    ])
}

/// Runtime rows of the bot: an avatar, a published flow `main` (version 1),
/// an orchestration, a canned message, a conversation, a canned reply and a conversation test.
fn runtime_rows(tx: &rusqlite::Connection, org_id: i64, bot_id: i64) -> rusqlite::Result<[(&'static str, String); 9]> {
    tx.execute(
        "INSERT INTO files (organization_id, sha256, size_bytes, content_type, data)
         VALUES (?1, lower(hex(randomblob(32))), 8, 'image/png', x'89504e470d0a1a0a')",
        [org_id],
    )?;
    let file_id = tx.last_insert_rowid();
    tx.execute("UPDATE bots SET avatar_file_id = ?2 WHERE id = ?1", params![bot_id, file_id])?;
    tx.execute(
        "INSERT INTO bot_flows (organization_id, bot_id, name, flow_data, version, is_active)
         VALUES (?1, ?2, 'main', '{\"nodes\":[{\"id\":\"start\",\"type\":\"start\"}],\"edges\":[]}', 1, 1)",
        params![org_id, bot_id],
    )?;
    tx.execute(
        "INSERT INTO flow_orchestrations (organization_id, bot_id, name) VALUES (?1, ?2, 'Matrix orchestration')",
        params![org_id, bot_id],
    )?;
    let orchestration_id = tx.last_insert_rowid();
    tx.execute(
        "INSERT INTO bot_messages (organization_id, bot_id, message_type, content, trigger_keywords)
         VALUES (?1, ?2, 'help', 'Help text', '[\"help\"]')",
        params![org_id, bot_id],
    )?;
    let canned_id = tx.last_insert_rowid();
    tx.execute(
        "INSERT INTO conversations (organization_id, bot_id, channel, external_user_id) VALUES (?1, ?2, 'api', 'matrix-user')",
        params![org_id, bot_id],
    )?;
    let conversation_id = tx.last_insert_rowid();
    // The image is also attached to a message of the conversation (downloadable by members).
    tx.execute(
        "INSERT INTO widget_messages (organization_id, bot_id, conversation_id, session_id, role, content)
         VALUES (?1, ?2, ?3, 'matrix-user', 'user', '')",
        params![org_id, bot_id, conversation_id],
    )?;
    tx.execute(
        "INSERT INTO message_attachments (organization_id, conversation_id, message_id, file_id, name)
         VALUES (?1, ?2, last_insert_rowid(), ?3, 'photo.png')",
        params![org_id, conversation_id, file_id],
    )?;
    // A bot answer of the conversation (rated in the emulator route: 422, not an emulator conversation).
    tx.execute(
        "INSERT INTO widget_messages (organization_id, bot_id, conversation_id, session_id, role, content)
         VALUES (?1, ?2, ?3, 'matrix-user', 'bot', 'Matrix answer')",
        params![org_id, bot_id, conversation_id],
    )?;
    let message_id = tx.last_insert_rowid();
    tx.execute(
        "INSERT INTO canned_replies (organization_id, shortcut, text) VALUES (?1, 'matrix', 'Matrix reply')",
        [org_id],
    )?;
    let canned_reply_id = tx.last_insert_rowid();
    tx.execute(
        "INSERT INTO bot_tests (organization_id, bot_id, name, turns) VALUES (?1, ?2, 'Matrix test', '[{\"user\":\"hi\"}]')",
        params![org_id, bot_id],
    )?;
    let test_id = tx.last_insert_rowid();
    Ok([
        ("flow_name", "main".to_owned()),
        ("version", "1".to_owned()),
        ("orchestration_id", orchestration_id.to_string()),
        ("canned_message_id", canned_id.to_string()),
        ("conversation_id", conversation_id.to_string()),
        ("canned_reply_id", canned_reply_id.to_string()),
        ("test_id", test_id.to_string()),
        ("file_id", file_id.to_string()),
        ("message_id", message_id.to_string()),
    ])
}

/// A draft A/B experiment on the bot's flow `main` (its two variants both
/// run version 1: the matrix checks access, not the design).
fn experiment_row(tx: &rusqlite::Connection, org_id: i64, bot_id: i64) -> rusqlite::Result<i64> {
    let id: i64 = tx.query_row(
        "INSERT INTO ab_tests (organization_id, bot_id, name, subject_kind, subject_key, goal_metric, baseline_rate, minimum_effect)
         VALUES (?1, ?2, 'Matrix experiment', 'flow', 'main', 'resolution', 0.5, 0.1) RETURNING id",
        params![org_id, bot_id],
        |r| r.get(0),
    )?;
    for (position, name) in [(0, "A"), (1, "B")] {
        tx.execute(
            "INSERT INTO ab_test_variants (organization_id, ab_test_id, position, name, share, flow_version_id)
             VALUES (?1, ?2, ?3, ?4, 50, (SELECT id FROM bot_flows WHERE bot_id = ?5 AND name = 'main'))",
            params![org_id, id, position, name, bot_id],
        )?;
    }
    Ok(id)
}

/// NLU rows of the bot: an intent with an example, an entity, a model version, a logged parse.
fn nlu_rows(tx: &rusqlite::Connection, org_id: i64, bot_id: i64) -> rusqlite::Result<[(&'static str, i64); 5]> {
    tx.execute(
        "INSERT INTO intents (organization_id, bot_id, name) VALUES (?1, ?2, 'greet')",
        params![org_id, bot_id],
    )?;
    let intent_id = tx.last_insert_rowid();
    tx.execute(
        "INSERT INTO intent_examples (organization_id, intent_id, text) VALUES (?1, ?2, 'hello')",
        params![org_id, intent_id],
    )?;
    let example_id = tx.last_insert_rowid();
    tx.execute(
        "INSERT INTO entities (organization_id, bot_id, name) VALUES (?1, ?2, 'city')",
        params![org_id, bot_id],
    )?;
    let nlu_entity_id = tx.last_insert_rowid();
    tx.execute(
        "INSERT INTO model_versions (organization_id, bot_id, kind, version_number) VALUES (?1, ?2, 'nlu_intent', 1)",
        params![org_id, bot_id],
    )?;
    let model_version_id = tx.last_insert_rowid();
    tx.execute(
        "INSERT INTO nlu_logs (organization_id, bot_id, message, confidence) VALUES (?1, ?2, 'what?', 0.1)",
        params![org_id, bot_id],
    )?;
    let log_id = tx.last_insert_rowid();
    Ok([
        ("intent_id", intent_id),
        ("example_id", example_id),
        ("nlu_entity_id", nlu_entity_id),
        ("model_version_id", model_version_id),
        ("log_id", log_id),
    ])
}

/// Knowledge rows: a knowledge base with a (failed) document, and an LLM provider.
fn knowledge_rows(tx: &rusqlite::Connection, org_id: i64) -> rusqlite::Result<[(&'static str, i64); 3]> {
    tx.execute("INSERT INTO knowledge_bases (organization_id, name) VALUES (?1, 'Matrix KB')", [org_id])?;
    let kb_id = tx.last_insert_rowid();
    tx.execute(
        "INSERT INTO documents (organization_id, knowledge_base_id, name, type, status) VALUES (?1, ?2, 'doc.txt', 'txt', 'failed')",
        params![org_id, kb_id],
    )?;
    let document_id = tx.last_insert_rowid();
    tx.execute(
        "INSERT INTO llm_providers (organization_id, name, base_url, default_model) VALUES (?1, 'Matrix LLM', 'http://127.0.0.1:9/v1', 'm')",
        [org_id],
    )?;
    let provider_id = tx.last_insert_rowid();
    Ok([("kb_id", kb_id), ("document_id", document_id), ("provider_id", provider_id)])
}

/// A Telegram channel of the bot (without credentials: test and activate
/// answer 422 without calling out) and a contact of it.
fn channel_rows(tx: &rusqlite::Connection, org_id: i64, bot_id: i64) -> rusqlite::Result<[(&'static str, i64); 3]> {
    let channel_id: i64 = tx.query_row(
        "INSERT INTO channels (organization_id, bot_id, type, name, webhook_path)
         VALUES (?1, ?2, 'telegram', 'Matrix channel', lower(hex(randomblob(16)))) RETURNING id",
        params![org_id, bot_id],
        |r| r.get(0),
    )?;
    let contact_id = tx.query_row(
        "INSERT INTO channel_contacts (organization_id, channel_id, external_id, display_name)
         VALUES (?1, ?2, '4242', 'Matrix contact') RETURNING id",
        params![org_id, channel_id],
        |r| r.get(0),
    )?;
    let template_id = tx.query_row(
        "INSERT INTO channel_templates (organization_id, channel_id, name, category, content)
         VALUES (?1, ?2, 'matrix_template', 'utility', 'Hi {{1}}') RETURNING id",
        params![org_id, channel_id],
        |r| r.get(0),
    )?;
    Ok([("channel_id", channel_id), ("contact_id", contact_id), ("template_id", template_id)])
}

/// A custom integration without credentials (test answers 409 and OAuth
/// start 422 without calling out) and one log row.
fn integration_row(tx: &rusqlite::Connection, org_id: i64) -> rusqlite::Result<i64> {
    let id: i64 = tx.query_row(
        "INSERT INTO integrations (organization_id, type, name, config)
         VALUES (?1, 'custom', 'Matrix integration', '{\"url\": \"http://127.0.0.1:9/\"}') RETURNING id",
        [org_id],
        |r| r.get(0),
    )?;
    tx.execute(
        "INSERT INTO integration_logs (organization_id, integration_id, action, action_type) VALUES (?1, ?2, 'test_connection', 'test')",
        params![org_id, id],
    )?;
    Ok(id)
}

/// A paid invoice of the organization (`payment_history`).
fn invoice_row(tx: &rusqlite::Connection, org_id: i64) -> rusqlite::Result<i64> {
    tx.query_row(
        "INSERT INTO payment_history (organization_id, stripe_invoice_id, invoice_number, amount, currency, status)
         VALUES (?1, 'in_' || lower(hex(randomblob(8))), 'MATRIX-0001', 2900, 'USD', 'succeeded') RETURNING id",
        [org_id],
        |r| r.get(0),
    )
}

/// The integration and tool rows.
fn integration_and_tool_rows(tx: &rusqlite::Connection, org_id: i64) -> rusqlite::Result<[(&'static str, String); 2]> {
    Ok([("integration_id", integration_row(tx, org_id)?.to_string()), ("tool_id", tool_row(tx, org_id)?.to_string())])
}

/// An MCP server connection on a closed port (a refresh fails fast with 502).
fn mcp_server_row(tx: &rusqlite::Connection, org_id: i64) -> rusqlite::Result<i64> {
    tx.query_row(
        "INSERT INTO mcp_servers (organization_id, name, url) VALUES (?1, 'Matrix MCP', 'http://127.0.0.1:9/mcp') RETURNING id",
        [org_id],
        |r| r.get(0),
    )
}

/// An agent of the bot using the tool, one run of it waiting for a human to
/// approve a call of the tool (deciding it continues the run, which answers
/// `llm_not_configured`: the fixture has no provider).
fn agent_rows(
    tx: &rusqlite::Connection,
    org_id: i64,
    bot_id: i64,
    tool_id: i64,
) -> rusqlite::Result<[(&'static str, i64); 3]> {
    let agent_id: i64 = tx.query_row(
        "INSERT INTO agents (organization_id, bot_id, name, role, system_prompt) VALUES (?1, ?2, 'Matrix agent', 'custom', 'Help.')
         RETURNING id",
        params![org_id, bot_id],
        |r| r.get(0),
    )?;
    tx.execute(
        "INSERT INTO agent_tools (organization_id, agent_id, tool_id, requires_approval) VALUES (?1, ?2, ?3, 1)",
        params![org_id, agent_id, tool_id],
    )?;
    let messages = r#"[{"role":"system","content":"Help."},{"role":"user","content":"hi"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"matrix_tool","arguments":"{}"}}]}]"#;
    let run_id: i64 = tx.query_row(
        "INSERT INTO agent_runs (organization_id, agent_id, bot_id, thread, source, status, input, messages)
         VALUES (?1, ?2, ?3, 'test:matrix', 'test', 'waiting_approval', 'hi', ?4) RETURNING id",
        params![org_id, agent_id, bot_id, messages],
        |r| r.get(0),
    )?;
    let approval_id: i64 = tx.query_row(
        "INSERT INTO agent_approvals (organization_id, run_id, agent_id, bot_id, tool_id, tool_call_id, arguments)
         VALUES (?1, ?2, ?3, ?4, ?5, 'c1', '{}') RETURNING id",
        params![org_id, run_id, agent_id, bot_id, tool_id],
        |r| r.get(0),
    )?;
    Ok([("agent_id", agent_id), ("run_id", run_id), ("approval_id", approval_id)])
}

/// A flow-action tool (runs without calling out) and one recorded run.
fn tool_row(tx: &rusqlite::Connection, org_id: i64) -> rusqlite::Result<i64> {
    let id: i64 = tx.query_row(
        "INSERT INTO tools (organization_id, name, tool_type, configuration, input_schema)
         VALUES (?1, 'matrix_tool', 'flow_action', '{\"action\": \"handoff\", \"reason\": \"matrix\"}',
                 '{\"type\": \"object\"}') RETURNING id",
        [org_id],
        |r| r.get(0),
    )?;
    tx.execute(
        "INSERT INTO tool_executions (organization_id, tool_id, input, output, status, source)
         VALUES (?1, ?2, '{}', '{}', 'ok', 'test')",
        params![org_id, id],
    )?;
    Ok(id)
}

/// A workflow of the bot (one tool step with the matrix tool) and a run of it waiting for nothing.
fn workflow_rows(tx: &rusqlite::Connection, org_id: i64, bot_id: i64) -> rusqlite::Result<[(&'static str, String); 2]> {
    let definition = r#"{"steps": [{"id": "act", "type": "tool", "tool": "matrix_tool", "next": "done"}, {"id": "done", "type": "end"}]}"#;
    let workflow: i64 = tx.query_row(
        "INSERT INTO agent_workflows (organization_id, bot_id, name, flow_config) VALUES (?1, ?2, 'Matrix workflow', ?3) RETURNING id",
        params![org_id, bot_id, definition],
        |r| r.get(0),
    )?;
    let execution: i64 = tx.query_row(
        "INSERT INTO workflow_executions (organization_id, workflow_id, bot_id, status) VALUES (?1, ?2, ?3, 'pending') RETURNING id",
        params![org_id, workflow, bot_id],
        |r| r.get(0),
    )?;
    Ok([("workflow_id", workflow.to_string()), ("execution_id", execution.to_string())])
}

/// An autonomous agent without a provider (a run started by the matrix fails
/// at once with `llm_not_configured`), one finished run and one memory.
fn autonomous_rows(tx: &rusqlite::Connection, org_id: i64) -> rusqlite::Result<[(&'static str, String); 3]> {
    let agent: i64 = tx.query_row(
        "INSERT INTO autonomous_agents (organization_id, name, goal) VALUES (?1, 'Matrix agent', 'Matrix goal') RETURNING id",
        [org_id],
        |r| r.get(0),
    )?;
    let run: i64 = tx.query_row(
        "INSERT INTO agent_tasks (organization_id, agent_id, task_description, status) VALUES (?1, ?2, 'Matrix goal', 'completed')
         RETURNING id",
        params![org_id, agent],
        |r| r.get(0),
    )?;
    let memory: i64 = tx.query_row(
        "INSERT INTO agent_memories (organization_id, agent_id, content, embedding) VALUES (?1, ?2, 'Matrix memory', zeroblob(1536))
         RETURNING id",
        params![org_id, agent],
        |r| r.get(0),
    )?;
    Ok([
        ("autonomous_agent_id", agent.to_string()),
        ("autonomous_run_id", run.to_string()),
        ("autonomous_memory_id", memory.to_string()),
    ])
}

/// An SSO configuration, an (unverified) domain of it and a SAML encryption key id (the
/// configuration is OIDC: key routes answer 422 once authorized).
fn sso_rows(tx: &rusqlite::Connection, org_id: i64) -> rusqlite::Result<[(&'static str, String); 3]> {
    let config: i64 = tx.query_row(
        "INSERT INTO sso_configurations (organization_id, provider_type, name, issuer_url, client_id, authorization_url,
             token_url, jwks_url)
         VALUES (?1, 'oidc', 'Matrix IdP', 'http://127.0.0.1:9', 'c', 'http://127.0.0.1:9/a', 'http://127.0.0.1:9/t',
             'http://127.0.0.1:9/j') RETURNING id",
        [org_id],
        |r| r.get(0),
    )?;
    let domain: i64 = tx.query_row(
        "INSERT INTO sso_domains (organization_id, sso_configuration_id, domain, verification_token)
         VALUES (?1, ?2, ?3, 'matrix') RETURNING id",
        params![org_id, config, format!("matrix-{org_id}.test")],
        |r| r.get(0),
    )?;
    Ok([
        ("sso_configuration_id", config.to_string()),
        ("sso_domain_id", domain.to_string()),
        ("key_id", "matrix-key".to_owned()),
    ])
}

/// A recovery campaign, a recovery webhook source and a customer health score.
fn recovery_rows(tx: &rusqlite::Connection, org_id: i64) -> rusqlite::Result<[(&'static str, i64); 3]> {
    tx.execute(
        "INSERT INTO recovery_campaigns (organization_id, name, campaign_type, message_templates)
         VALUES (?1, 'Matrix recovery', 'cart_abandonment', '[{\"delay_minutes\": 0, \"channel\": \"email\", \"body\": \"hi\"}]')",
        [org_id],
    )?;
    let campaign = tx.last_insert_rowid();
    tx.execute(
        "INSERT INTO recovery_sources (organization_id, name, platform, hook_token_hash, secret_encrypted)
         VALUES (?1, 'Matrix shop', 'shopify', randomblob(32), X'')",
        [org_id],
    )?;
    let source = tx.last_insert_rowid();
    tx.execute(
        "INSERT INTO customer_health_scores (organization_id, customer_id, health_score, health_grade, churn_probability, churn_risk_level)
         VALUES (?1, 'org-matrix', 40, 'D', 0.7, 'high')",
        [org_id],
    )?;
    Ok([
        ("recovery_campaign_id", campaign),
        ("recovery_source_id", source),
        ("customer_health_id", tx.last_insert_rowid()),
    ])
}

/// A work clone of the owner, shared for `manage` with every other role's
/// member (so that every caller with `clones.use` may use and manage it),
/// with one training pair and one draft.
/// A remote fine-tune model with a valid one-row dataset and a pending job.
fn finetune_rows(
    tx: &rusqlite::Connection,
    org_id: i64,
    provider_id: i64,
) -> rusqlite::Result<[(&'static str, i64); 3]> {
    let model: i64 = tx.query_row(
        "INSERT INTO fine_tune_models (organization_id, name, kind, base_model, provider_id)
         VALUES (?1, 'Matrix tune', 'llm_finetune', 'gpt-4o-mini', ?2) RETURNING id",
        params![org_id, provider_id],
        |r| r.get(0),
    )?;
    let data: &[u8] =
        b"{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"hello\"}]}\n";
    let file: i64 = tx.query_row(
        "INSERT INTO files (organization_id, sha256, size_bytes, content_type, name, data)
         VALUES (?1, lower(hex(randomblob(32))), ?2, 'application/jsonl', 'matrix.jsonl', ?3) RETURNING id",
        params![org_id, i64::try_from(data.len()).unwrap_or(0), data],
        |r| r.get(0),
    )?;
    let dataset: i64 = tx.query_row(
        "INSERT INTO fine_tune_datasets (organization_id, fine_tune_model_id, name, file_name, file_id, file_size,
                                         row_count, format, kind, status)
         VALUES (?1, ?2, 'Matrix set', 'matrix.jsonl', ?3, ?4, 1, 'jsonl', 'chat', 'ready') RETURNING id",
        params![org_id, model, file, i64::try_from(data.len()).unwrap_or(0)],
        |r| r.get(0),
    )?;
    let job: i64 = tx.query_row(
        "INSERT INTO fine_tune_jobs (organization_id, fine_tune_model_id, provider, training_dataset_id)
         VALUES (?1, ?2, 'openai', ?3) RETURNING id",
        params![org_id, model, dataset],
        |r| r.get(0),
    )?;
    Ok([("fine_tune_model_id", model), ("dataset_id", dataset), ("fine_tune_job_id", job)])
}

fn clone_rows(
    tx: &rusqlite::Connection,
    org_id: i64,
    owner_id: i64,
    role_users: &BTreeMap<&'static str, i64>,
) -> rusqlite::Result<[(&'static str, i64); 3]> {
    let clone_id: i64 = tx.query_row(
        "INSERT INTO work_clones (organization_id, user_id, name) VALUES (?1, ?2, 'Matrix clone') RETURNING id",
        params![org_id, owner_id],
        |r| r.get(0),
    )?;
    for user in role_users.values().filter(|u| **u != owner_id) {
        tx.execute(
            "INSERT INTO clone_shares (organization_id, clone_id, user_id, access) VALUES (?1, ?2, ?3, 'manage')",
            params![org_id, clone_id, user],
        )?;
    }
    let clone_data_id: i64 = tx.query_row(
        "INSERT INTO clone_training_data (organization_id, clone_id, data_type, original_content, processed_content, context)
         VALUES (?1, ?2, 'chat', 'Thursday works for me.', 'Thursday works for me.', 'Can we meet?') RETURNING id",
        params![org_id, clone_id],
        |r| r.get(0),
    )?;
    let response_id: i64 = tx.query_row(
        "INSERT INTO clone_responses (organization_id, clone_id, user_id, input_prompt, generated_response)
         VALUES (?1, ?2, ?3, 'Can we meet?', 'Thursday works for me.') RETURNING id",
        params![org_id, clone_id, owner_id],
        |r| r.get(0),
    )?;
    Ok([("clone_id", clone_id), ("clone_data_id", clone_data_id), ("response_id", response_id)])
}

/// A webhook subscription and one of its deliveries.
fn webhook_rows(tx: &rusqlite::Connection, org_id: i64) -> rusqlite::Result<[(&'static str, i64); 2]> {
    tx.execute(
        "INSERT INTO webhooks (organization_id, name, url, secret_encrypted, events)
         VALUES (?1, 'Matrix hook', 'http://127.0.0.1:9/h', X'', '[\"message.sent\"]')",
        [org_id],
    )?;
    let webhook_id = tx.last_insert_rowid();
    tx.execute(
        "INSERT INTO webhook_logs (organization_id, webhook_id, event_type, payload, message_id, status)
         VALUES (?1, ?2, 'message.sent', '{}', 'msg_matrix', 'delivered')",
        params![org_id, webhook_id],
    )?;
    Ok([("webhook_id", webhook_id), ("delivery_id", tx.last_insert_rowid())])
}

/// A superadmin with a tenant session and a console session, an allowlist
/// entry (the allowlist always admits loopback here) and the parameters of
/// the admin routes.
struct AdminFixture {
    tenant_cookie: (String, String),
    admin_cookie: (String, String),
    params: BTreeMap<&'static str, String>,
}

fn admin_fixture(app: &TestApp, n: u32, fx: &Fixture) -> AdminFixture {
    app.sql(|tx| {
        let (admin_id, tenant_cookie, _) = make_user(app, tx, &format!("super-{n}@example.com"));
        tx.execute("UPDATE users SET is_superadmin = 1 WHERE id = ?1", [admin_id])?;
        let token = random_token(32);
        tx.execute(
            "INSERT INTO admin_sessions (user_id, token_hash, expires_at) VALUES (?1, ?2, '2999-01-01T00:00:00.000Z')",
            params![admin_id, sha256(token.as_bytes()).as_slice()],
        )?;
        let csrf = botbuilder::admin::scope::admin_csrf(&app.state, &token);
        tx.execute(
            "INSERT INTO admin_ip_whitelist (ip_address, description) VALUES (?1, 'matrix')",
            [format!("10.{}.{}.0/24", n / 250, n % 250)],
        )?;
        let entry_id = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO subscription_plans (name, display_name, price_monthly, max_bots, max_messages_per_month)
             VALUES (?1, 'Matrix', 100, 1, 1)",
            [format!("matrix-{n}")],
        )?;
        let plan_id = tx.last_insert_rowid();
        let params = BTreeMap::from([
            ("plan_id", plan_id.to_string()),
            ("user_id", fx.params["user_id"].clone()),
            ("org_id", fx.org_id.to_string()),
            ("entry_id", entry_id.to_string()),
            ("sso_domain_id", fx.params["sso_domain_id"].clone()),
        ]);
        Ok(AdminFixture { tenant_cookie, admin_cookie: (format!("__Host-bb_admin={token}"), csrf), params })
    })
}

fn token(app: &TestApp, org_id: i64, user_id: i64, scopes: &PermissionSet) -> String {
    let token = format!("bb_{}", random_token(24));
    let mac = app.state.keys.mac_token(&token);
    app.sql(|tx| {
        tx.execute(
            "INSERT INTO api_tokens (organization_id, user_id, token_name, token_hash, token_prefix, scopes)
             VALUES (?1, ?2, 'matrix', ?3, 'bb_', ?4)",
            params![org_id, user_id, mac.as_slice(), scopes.to_json()],
        )
    });
    token
}

/// The permission a route requires, from its security requirements.
fn required_permission(op: &Value) -> Result<Option<Permission>, String> {
    let mut scopes: Vec<String> = Vec::new();
    for requirement in op["security"].as_array().into_iter().flatten() {
        for (_, list) in requirement.as_object().into_iter().flatten() {
            let list: Vec<String> =
                list.as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_owned)).collect();
            if !scopes.is_empty() && scopes != list {
                return Err(format!("session and api_token scopes differ: {scopes:?} vs {list:?}"));
            }
            scopes = list;
        }
    }
    match scopes.as_slice() {
        [] => Ok(None),
        [one] => Permission::parse(one).map(Some).ok_or_else(|| format!("unknown permission `{one}`")),
        _ => Err(format!("more than one permission: {scopes:?}")),
    }
}

fn expectation(who: Who, required: Option<Permission>, token_allowed: bool, tenant: bool) -> Expect {
    match who {
        Who::Anonymous => Expect::Status(401),
        _ if !tenant => match who {
            Who::TokenWithScope | Who::TokenWithoutScope | Who::ForeignToken if !token_allowed => Expect::Status(403),
            _ => Expect::Allowed,
        },
        Who::ForeignOwner | Who::ForeignToken => Expect::Status(404),
        Who::Role(role) => match required {
            Some(p) if !role.permissions().contains(p) => Expect::Status(403),
            _ => Expect::Allowed,
        },
        Who::TokenWithScope => Expect::Allowed,
        Who::TokenWithoutScope => {
            if required.is_some() {
                Expect::Status(403)
            } else {
                Expect::Allowed
            }
        }
    }
}

fn placeholders(path: &str) -> Vec<&str> {
    path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect()
}

fn fill(path: &str, params: &BTreeMap<&'static str, String>) -> String {
    let mut url = path.to_owned();
    for (name, value) in params {
        url = url.replace(&format!("{{{name}}}"), value);
    }
    url
}

fn build(app: &TestApp, method: &Method, url: &str, creds: &Credentials) -> reqwest::RequestBuilder {
    let mut request = app.request(method.clone(), url);
    if let Some((cookie, csrf)) = &creds.cookie {
        request = request.header("Cookie", cookie).header("X-CSRF-Token", csrf);
    }
    if let Some(token) = &creds.token {
        request = request.bearer_auth(token);
    }
    if matches!(*method, Method::POST | Method::PUT | Method::PATCH) {
        request = request.json(&json!({}));
    }
    request
}

/// Who calls a superadmin route, and whether it may.
#[derive(Debug, Clone, Copy, PartialEq)]
enum AdminCaller {
    Anonymous,
    OwnerSession,
    SuperadminTenantSession,
    AllScopesToken,
    SuperadminConsole,
}

const ADMIN_CALLERS: [AdminCaller; 5] = [
    AdminCaller::Anonymous,
    AdminCaller::OwnerSession,
    AdminCaller::SuperadminTenantSession,
    AdminCaller::AllScopesToken,
    AdminCaller::SuperadminConsole,
];

/// Checks a superadmin route against every [`AdminCaller`]; returns how
/// many checks ran.
async fn check_admin_route(
    app: &TestApp,
    route: &str,
    path: &str,
    op: &Value,
    http_method: &Method,
    n: &mut u32,
    failures: &mut Vec<String>,
) -> usize {
    let schemes: Vec<&str> = op["security"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_object())
        .flat_map(|o| o.keys().map(String::as_str))
        .collect();
    if schemes != ["admin_session"] {
        failures.push(format!("{route}: admin routes must declare only the admin_session scheme"));
        return 0;
    }
    if let Some(unknown) = placeholders(path).iter().find(|p| !ADMIN_PARAMS.contains(p)) {
        failures.push(format!("{route}: no matrix fixture for admin path parameter `{unknown}`"));
        return 0;
    }
    let mut checked = 0;
    for caller in ADMIN_CALLERS {
        *n += 1;
        let fx = fixture(app, &format!("{n}"));
        let admin = admin_fixture(app, *n, &fx);
        let creds = match caller {
            AdminCaller::Anonymous => Credentials { cookie: None, token: None },
            AdminCaller::OwnerSession => Credentials { cookie: Some(fx.sessions["owner"].clone()), token: None },
            AdminCaller::SuperadminTenantSession => {
                Credentials { cookie: Some(admin.tenant_cookie.clone()), token: None }
            }
            AdminCaller::AllScopesToken => {
                Credentials { cookie: None, token: Some(token(app, fx.org_id, fx.owner_id, &PermissionSet::all())) }
            }
            AdminCaller::SuperadminConsole => Credentials { cookie: Some(admin.admin_cookie.clone()), token: None },
        };
        let response = build(app, http_method, &fill(path, &admin.params), &creds).send().await.expect("send");
        let status = response.status().as_u16();
        let ok = match caller {
            AdminCaller::SuperadminConsole => ![401, 403, 404].contains(&status),
            _ => status == 401,
        };
        if !ok {
            let body = response.text().await.unwrap_or_default();
            failures.push(format!("{route} as {caller:?}: got {status} {body}"));
        }
        checked += 1;
    }
    checked
}

#[tokio::test]
async fn every_route_enforces_its_permission_for_every_kind_of_caller() {
    // Billing on, so that billing routes exist (off, they answer 404 `billing_disabled`).
    let app = spawn_app_with(|c| c.billing.enabled = true).await;
    // Loopback stays admitted while fixtures add their own allowlist entries.
    app.sql(|c| {
        c.execute("INSERT INTO admin_ip_whitelist (ip_address, description) VALUES ('127.0.0.0/8', 'tests')", [])
    });
    let spec: Value = app.get("/api/v1/openapi.json").await.json().await.expect("spec");
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut n: u32 = 0;
    for (path, item) in spec["paths"].as_object().expect("paths") {
        if !path.starts_with("/api/v1/") {
            continue;
        }
        for (method, op) in item.as_object().expect("operations") {
            let method_uc = method.to_uppercase();
            let route = format!("{method_uc} {path}");
            let http_method = Method::from_bytes(method_uc.as_bytes()).expect("method");
            let has_security = op["security"].as_array().is_some_and(|s| !s.is_empty());
            if PUBLIC.contains(&(method_uc.as_str(), path.as_str())) {
                if has_security {
                    failures.push(format!("{route}: public but declares security"));
                }
                continue;
            }
            if !has_security {
                failures.push(format!("{route}: no security and not on the PUBLIC list"));
                continue;
            }
            let params = placeholders(path);

            if path.starts_with("/api/v1/admin/") {
                checked += check_admin_route(&app, &route, path, op, &http_method, &mut n, &mut failures).await;
                continue;
            }

            let required = match required_permission(op) {
                Ok(r) => r,
                Err(e) => {
                    failures.push(format!("{route}: {e}"));
                    continue;
                }
            };
            let self_entry = SELF_SERVICE.iter().find(|(m, p, _)| *m == method_uc && *p == path);
            let allowed_params: &[&str] = if self_entry.is_some() { SELF_PARAMS } else { TENANT_PARAMS };
            if let Some(unknown) = params.iter().find(|p| !allowed_params.contains(p)) {
                failures.push(format!("{route}: no matrix fixture for path parameter `{unknown}`"));
                continue;
            }
            let tenant = self_entry.is_none() && !params.is_empty();
            if !tenant && self_entry.is_none() {
                failures.push(format!("{route}: not scoped to an organization and not on the SELF_SERVICE list"));
                continue;
            }
            if !tenant && required.is_some() {
                failures.push(format!("{route}: a permission outside any organization means nothing"));
            }
            let token_allowed = self_entry.is_none_or(|(_, _, t)| *t);

            for who in EVERYONE {
                n += 1;
                let fx = fixture(&app, &format!("{n}"));
                let foreign = fixture(&app, &format!("{n}-foreign"));
                let creds = match who {
                    Who::Anonymous => Credentials { cookie: None, token: None },
                    Who::Role(role) => Credentials { cookie: Some(fx.sessions[role.name()].clone()), token: None },
                    Who::ForeignOwner => Credentials { cookie: Some(foreign.sessions["owner"].clone()), token: None },
                    Who::TokenWithScope => {
                        let scopes = required.map_or_else(PermissionSet::default, |p| [p].into_iter().collect());
                        Credentials { cookie: None, token: Some(token(&app, fx.org_id, fx.owner_id, &scopes)) }
                    }
                    Who::TokenWithoutScope => {
                        let scopes = PermissionSet::all().iter().filter(|p| Some(*p) != required).collect();
                        Credentials { cookie: None, token: Some(token(&app, fx.org_id, fx.owner_id, &scopes)) }
                    }
                    Who::ForeignToken => Credentials {
                        cookie: None,
                        token: Some(token(&app, foreign.org_id, foreign.owner_id, &PermissionSet::all())),
                    },
                };
                let mut values = fx.params.clone();
                // Self-service parameters name the caller's own rows.
                let own_session = match who {
                    Who::Role(role) => fx.session_ids[role.name()],
                    Who::ForeignOwner => foreign.session_ids["owner"],
                    _ => fx.session_ids["owner"],
                };
                values.insert("session_id", own_session.to_string());
                let response = build(&app, &http_method, &fill(path, &values), &creds).send().await.expect("send");
                let status = response.status().as_u16();
                let expected = expectation(who, required, token_allowed, tenant);
                let ok = match expected {
                    Expect::Allowed => ![401, 403, 404].contains(&status),
                    Expect::Status(s) => s == status,
                };
                if !ok {
                    let body = response.text().await.unwrap_or_default();
                    failures.push(format!("{route} as {who:?}: expected {expected:?}, got {status} {body}"));
                }
                checked += 1;
            }
        }
    }
    assert!(failures.is_empty(), "{} authorization failures:\n{}", failures.len(), failures.join("\n"));
    assert!(checked >= 800, "only {checked} checks ran");
}

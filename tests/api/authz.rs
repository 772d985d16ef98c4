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

use std::collections::BTreeMap;

use botbuilder::crypto::{random_token, sha256};
use botbuilder::permissions::{BuiltinRole, Permission, PermissionSet};
use reqwest::Method;
use rusqlite::params;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// Routes anyone may call.
const PUBLIC: &[(&str, &str)] = &[("POST", "/api/v1/auth/register"), ("POST", "/api/v1/auth/login")];

/// Routes about the signed-in user rather than an organization:
/// (method, path, whether an API token may call it).
const SELF_SERVICE: &[(&str, &str, bool)] = &[
    ("GET", "/api/v1/me", true),
    ("POST", "/api/v1/auth/logout", false),
    ("POST", "/api/v1/orgs", false),
    ("GET", "/api/v1/permissions", true),
];

/// Path parameters the fixtures can fill.
const TENANT_PARAMS: &[&str] = &["org_id", "bot_id", "job_id", "kb_id", "document_id", "provider_id"];

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

/// An organization with one member per role, a bot and a job.
struct Fixture {
    params: BTreeMap<&'static str, i64>,
    sessions: BTreeMap<&'static str, (String, String)>,
    org_id: i64,
    owner_id: i64,
}

struct Credentials {
    cookie: Option<(String, String)>,
    token: Option<String>,
}

fn make_user(app: &TestApp, tx: &rusqlite::Connection, email: &str) -> (i64, (String, String)) {
    tx.execute("INSERT INTO users (email, password_hash, name) VALUES (?1, 'x', 'Matrix')", [email]).expect("user");
    let user = tx.last_insert_rowid();
    let token = random_token(32);
    tx.execute(
        "INSERT INTO user_sessions (user_id, token_hash, expires_at) VALUES (?1, ?2, '2999-01-01T00:00:00.000Z')",
        params![user, sha256(token.as_bytes()).as_slice()],
    )
    .expect("session");
    let csrf = app.state.keys.csrf_token(&token);
    (user, (format!("__Host-bb_session={token}"), csrf))
}

fn fixture(app: &TestApp, tag: &str) -> Fixture {
    app.sql(|tx| {
        let (owner_id, owner_session) = make_user(app, tx, &format!("owner-{tag}@example.com"));
        tx.execute(
            "INSERT INTO organizations (name, slug, owner_id, plan_tier) VALUES ('Matrix', ?1, ?2, 'enterprise')",
            params![format!("matrix-{tag}"), owner_id],
        )?;
        let org_id = tx.last_insert_rowid();
        let mut sessions = BTreeMap::new();
        for role in BuiltinRole::ALL {
            let (user, session) = if role == BuiltinRole::Owner {
                (owner_id, owner_session.clone())
            } else {
                make_user(app, tx, &format!("{}-{tag}@example.com", role.name()))
            };
            tx.execute(
                "INSERT INTO organization_members (organization_id, user_id, role_id)
                 VALUES (?1, ?2, (SELECT id FROM roles WHERE organization_id IS NULL AND name = ?3))",
                params![org_id, user, role.name()],
            )?;
            sessions.insert(role.name(), session);
        }
        tx.execute(
            "INSERT INTO bots (organization_id, name, widget_key) VALUES (?1, 'Matrix bot', ?2)",
            params![org_id, format!("wk_{tag}")],
        )?;
        let bot_id = tx.last_insert_rowid();
        tx.execute("INSERT INTO jobs (organization_id, kind, payload) VALUES (?1, 'noop', '{}')", [org_id])?;
        let job_id = tx.last_insert_rowid();
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
        let params = BTreeMap::from([
            ("org_id", org_id),
            ("bot_id", bot_id),
            ("job_id", job_id),
            ("kb_id", kb_id),
            ("document_id", document_id),
            ("provider_id", provider_id),
        ]);
        Ok(Fixture { params, sessions, org_id, owner_id })
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

#[tokio::test]
async fn every_route_enforces_its_permission_for_every_kind_of_caller() {
    let app = spawn_app().await;
    let spec: Value = app.get("/api/v1/openapi.json").await.json().await.expect("spec");
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut n = 0;
    for (path, item) in spec["paths"].as_object().expect("paths") {
        if !path.starts_with("/api/v1/") {
            continue;
        }
        for (method, op) in item.as_object().expect("operations") {
            let method_uc = method.to_uppercase();
            let route = format!("{method_uc} {path}");
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
            let required = match required_permission(op) {
                Ok(r) => r,
                Err(e) => {
                    failures.push(format!("{route}: {e}"));
                    continue;
                }
            };
            let params: Vec<&str> =
                path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect();
            if let Some(unknown) = params.iter().find(|p| !TENANT_PARAMS.contains(p)) {
                failures.push(format!("{route}: no matrix fixture for path parameter `{unknown}`"));
                continue;
            }
            let tenant = !params.is_empty();
            let self_entry = SELF_SERVICE.iter().find(|(m, p, _)| *m == method_uc && *p == path);
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
                let mut url = path.clone();
                for (name, value) in &fx.params {
                    url = url.replace(&format!("{{{name}}}"), &value.to_string());
                }
                let http_method = Method::from_bytes(method_uc.as_bytes()).expect("method");
                let mut request = app.request(http_method.clone(), &url);
                if let Some((cookie, csrf)) = &creds.cookie {
                    request = request.header("Cookie", cookie).header("X-CSRF-Token", csrf);
                }
                if let Some(token) = &creds.token {
                    request = request.bearer_auth(token);
                }
                if matches!(http_method, Method::POST | Method::PUT | Method::PATCH) {
                    request = request.json(&json!({}));
                }
                let response = request.send().await.expect("send");
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
    assert!(checked >= 100, "only {checked} checks ran");
}

//! SCIM 2.0 provisioning (issue 22 item 5): the request sequences Okta and
//! Microsoft Entra ID send end in the right users, memberships, team members
//! and revoked sessions; tokens scope every request to one organization;
//! errors come in the SCIM error format.
#![allow(clippy::too_many_lines, reason = "a provisioning run reads best as one story")]

use botbuilder::crypto::{random_token, sha256};
use reqwest::Method;
use serde_json::{Value, json};

use crate::browser::with_browser;
use crate::helpers::{Session, TestApp, call_ok, spawn_app};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// Sends a SCIM request with `token`; answers the status and JSON body.
async fn scim(app: &TestApp, token: &str, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request =
        app.request(method, &format!("/scim/v2{path}")).header("Authorization", format!("Bearer {token}"));
    if let Some(body) = body {
        request = request.header("Content-Type", "application/scim+json").body(body.to_string());
    }
    let response = request.send().await.expect("send");
    let status = response.status().as_u16();
    if status != 204 {
        let kind = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        assert!(kind.starts_with("application/scim+json"), "{path}: content type {kind}");
    }
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Asserts a SCIM error body.
fn assert_scim_error(status: u16, body: &Value, expected: u16, scim_type: Option<&str>) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["schemas"], json!([ERROR]), "{body}");
    assert_eq!(body["status"], expected.to_string(), "status is a string: {body}");
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{body}");
    match scim_type {
        Some(t) => assert_eq!(body["scimType"], t, "{body}"),
        None => assert!(body.get("scimType").is_none(), "{body}"),
    }
}

/// Creates a SCIM token for the session's organization; answers (id, secret).
async fn scim_token(app: &TestApp, owner: &Session, role: Option<&str>) -> (i64, String) {
    let mut body = json!({ "name": "IdP" });
    if let Some(role) = role {
        body["role"] = json!(role);
    }
    let created =
        call_ok(app, owner, Method::POST, &format!("/api/v1/orgs/{}/scim-tokens", owner.org_id), Some(body)).await;
    let secret = created["token"].as_str().expect("token").to_owned();
    assert!(secret.starts_with("scim_"));
    assert_eq!(created["base_url"], format!("{}/scim/v2", app.address));
    (created["id"].as_i64().expect("id"), secret)
}

fn user_filter(user_name: &str) -> String {
    format!("/Users?filter={}&startIndex=1&count=100", urlencode(&format!("userName eq \"{user_name}\"")))
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn member_status(app: &TestApp, org: i64, user: i64) -> Option<String> {
    app.sql(|c| {
        use rusqlite::OptionalExtension;
        c.query_row(
            "SELECT status FROM organization_members WHERE organization_id = ?1 AND user_id = ?2",
            [org, user],
            |r| r.get(0),
        )
        .optional()
    })
}

fn team_member_ids(app: &TestApp, team: i64) -> Vec<i64> {
    app.sql(|c| {
        let mut s = c.prepare("SELECT user_id FROM team_members WHERE team_id = ?1 ORDER BY user_id")?;
        s.query_map([team], |r| r.get(0))?.collect()
    })
}

/// A browser session for `user`, as if they had signed in (for accounts
/// SCIM created, which sign in through SSO).
fn signed_in(app: &TestApp, user: i64) -> String {
    let token = random_token(32);
    app.sql(|c| {
        c.execute(
            "INSERT INTO user_sessions (user_id, token_hash, expires_at) VALUES (?1, ?2, '2999-01-01T00:00:00.000Z')",
            rusqlite::params![user, sha256(token.as_bytes()).as_slice()],
        )
    });
    format!("__Host-bb_session={token}")
}

async fn get_with_cookie(app: &TestApp, cookie: &str, path: &str) -> u16 {
    app.request(Method::GET, path).header("Cookie", cookie).send().await.expect("send").status().as_u16()
}

fn id_of(body: &Value) -> i64 {
    body["id"].as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no id in {body}"))
}

#[tokio::test]
async fn an_okta_provisioning_run_ends_in_the_right_members_teams_and_sessions() {
    let app = spawn_app().await;
    let owner = app.register("owner@acme.example").await;
    let (_, token) = scim_token(&app, &owner, Some("editor")).await;
    // Carol already has an account (and her own organization) on the platform.
    let carol = app.register("carol@acme.example").await;

    // Okta checks whether the user exists, then creates them.
    let (status, found) = scim(&app, &token, Method::GET, &user_filter("alice@acme.example"), None).await;
    assert_eq!((status, found["totalResults"].as_i64()), (200, Some(0)), "{found}");
    let (status, alice) = scim(
        &app,
        &token,
        Method::POST,
        "/Users",
        Some(json!({
            "schemas": [USER], "userName": "alice@acme.example", "externalId": "00u1alice",
            "name": { "givenName": "Alice", "familyName": "Liddell" },
            "emails": [{ "primary": true, "value": "alice@acme.example", "type": "work" }],
            "active": true, "groups": []
        })),
    )
    .await;
    assert_eq!(status, 201, "{alice}");
    let alice_id = id_of(&alice);
    assert_eq!(alice["userName"], "alice@acme.example");
    assert_eq!(alice["name"]["givenName"], "Alice");
    assert_eq!(alice["meta"]["location"], format!("{}/scim/v2/Users/{alice_id}", app.address));
    let (status, found) = scim(&app, &token, Method::GET, &user_filter("ALICE@acme.example"), None).await;
    assert_eq!(status, 200);
    assert_eq!((found["totalResults"].as_i64(), id_of(&found["Resources"][0])), (Some(1), alice_id), "{found}");
    assert_eq!(member_status(&app, owner.org_id, alice_id).as_deref(), Some("active"));
    let role: String = app.sql(|c| {
        c.query_row(
            "SELECT r.name FROM organization_members m JOIN roles r ON r.id = m.role_id
             WHERE m.organization_id = ?1 AND m.user_id = ?2",
            [owner.org_id, alice_id],
            |r| r.get(0),
        )
    });
    assert_eq!(role, "editor", "the token's role");

    // Carol's existing account is linked, not duplicated; her own organization is untouched.
    let (status, linked) = scim(
        &app,
        &token,
        Method::POST,
        "/Users",
        Some(json!({ "schemas": [USER], "userName": "carol@acme.example", "active": true,
                     "name": { "givenName": "Carol", "familyName": "Danvers" },
                     "emails": [{ "primary": true, "value": "carol@acme.example", "type": "work" }] })),
    )
    .await;
    assert_eq!(status, 201, "{linked}");
    assert_eq!(id_of(&linked), carol.user_id);
    assert_eq!(app.count("SELECT count(*) FROM users WHERE email = 'carol@acme.example'"), 1);
    let org_path = format!("/api/v1/orgs/{}", owner.org_id);
    assert_eq!(get_with_cookie(&app, &carol.cookie, &org_path).await, 200);

    // Okta updates a profile with PUT and deactivates with a value-only PATCH.
    let (status, put) = scim(
        &app,
        &token,
        Method::PUT,
        &format!("/Users/{alice_id}"),
        Some(json!({ "schemas": [USER], "id": alice_id.to_string(), "userName": "alice@acme.example",
                     "externalId": "00u1alice", "name": { "givenName": "Alicia", "familyName": "Liddell" },
                     "emails": [{ "primary": true, "value": "alice@acme.example", "type": "work" }], "active": true })),
    )
    .await;
    assert_eq!((status, put["name"]["givenName"].as_str()), (200, Some("Alicia")), "{put}");
    let deactivate = json!({ "schemas": [PATCH], "Operations": [{ "op": "replace", "value": { "active": false } }] });
    let (status, patched) =
        scim(&app, &token, Method::PATCH, &format!("/Users/{}", carol.user_id), Some(deactivate)).await;
    assert_eq!((status, patched["active"].as_bool()), (200, Some(false)), "{patched}");
    assert_eq!(member_status(&app, owner.org_id, carol.user_id).as_deref(), Some("suspended"));
    // Her session stops working in this organization at once, not in her own.
    assert_eq!(get_with_cookie(&app, &carol.cookie, &org_path).await, 404);
    assert_eq!(get_with_cookie(&app, &carol.cookie, &format!("/api/v1/orgs/{}", carol.org_id)).await, 200);
    // Reactivation restores the membership.
    let reactivate = json!({ "schemas": [PATCH], "Operations": [{ "op": "replace", "value": { "active": true } }] });
    let (status, _) = scim(&app, &token, Method::PATCH, &format!("/Users/{}", carol.user_id), Some(reactivate)).await;
    assert_eq!(status, 200);
    assert_eq!(member_status(&app, owner.org_id, carol.user_id).as_deref(), Some("active"));
    assert_eq!(get_with_cookie(&app, &carol.cookie, &org_path).await, 200);

    // Group push: create, add members, remove one, rename.
    let (status, group) = scim(
        &app,
        &token,
        Method::POST,
        "/Groups",
        Some(json!({ "schemas": [GROUP], "displayName": "Engineering", "members": [] })),
    )
    .await;
    assert_eq!(status, 201, "{group}");
    let team = id_of(&group);
    let add = json!({ "schemas": [PATCH], "Operations": [{ "op": "add", "path": "members", "value": [
        { "value": alice_id.to_string(), "display": "alice@acme.example" },
        { "value": carol.user_id.to_string(), "display": "carol@acme.example" } ] }] });
    let (status, _) = scim(&app, &token, Method::PATCH, &format!("/Groups/{team}"), Some(add)).await;
    assert_eq!(status, 200);
    assert_eq!(team_member_ids(&app, team), {
        let mut v = vec![alice_id, carol.user_id];
        v.sort_unstable();
        v
    });
    let remove = json!({ "schemas": [PATCH], "Operations": [
        { "op": "remove", "path": format!("members[value eq \"{}\"]", carol.user_id) }] });
    let (status, _) = scim(&app, &token, Method::PATCH, &format!("/Groups/{team}"), Some(remove)).await;
    assert_eq!(status, 200);
    assert_eq!(team_member_ids(&app, team), vec![alice_id]);
    let rename = json!({ "schemas": [PATCH], "Operations": [
        { "op": "replace", "value": { "id": team.to_string(), "displayName": "Platform" } }] });
    let (status, renamed) = scim(&app, &token, Method::PATCH, &format!("/Groups/{team}"), Some(rename)).await;
    assert_eq!((status, renamed["displayName"].as_str()), (200, Some("Platform")), "{renamed}");
    let name: String = app.sql(|c| c.query_row("SELECT name FROM teams WHERE id = ?1", [team], |r| r.get(0)));
    assert_eq!(name, "Platform");
    let filter = urlencode("displayName eq \"platform\"");
    let (_, groups) = scim(&app, &token, Method::GET, &format!("/Groups?filter={filter}"), None).await;
    assert_eq!(groups["totalResults"], 1, "{groups}");
    assert_eq!(groups["Resources"][0]["members"][0]["value"], alice_id.to_string());
    let (_, alice_now) = scim(&app, &token, Method::GET, &format!("/Users/{alice_id}"), None).await;
    assert_eq!(alice_now["groups"][0]["display"], "Platform", "{alice_now}");

    // Deprovisioning: the membership and team place go; the account SCIM made goes too.
    let (status, _) = scim(&app, &token, Method::DELETE, &format!("/Users/{alice_id}"), None).await;
    assert_eq!(status, 204);
    let (status, body) = scim(&app, &token, Method::GET, &format!("/Users/{alice_id}"), None).await;
    assert_scim_error(status, &body, 404, None);
    assert_eq!(member_status(&app, owner.org_id, alice_id), None);
    assert!(team_member_ids(&app, team).is_empty());
    assert_eq!(app.count(&format!("SELECT count(*) FROM users WHERE id = {alice_id}")), 0);
    let (status, _) = scim(&app, &token, Method::DELETE, &format!("/Groups/{team}"), None).await;
    assert_eq!(status, 204);
    assert_eq!(app.count(&format!("SELECT count(*) FROM teams WHERE id = {team}")), 0);

    // Every change is audited, marked as SCIM.
    let actions: Vec<String> = app.sql(|c| {
        let mut s = c.prepare(
            "SELECT action FROM audit_logs WHERE organization_id = ?1 AND action LIKE 'scim.%'
             AND json_extract(metadata, '$.via') = 'scim' ORDER BY id",
        )?;
        s.query_map([owner.org_id], |r| r.get(0))?.collect()
    });
    for expected in [
        "scim.user_created",
        "scim.user_joined",
        "scim.user_updated",
        "scim.user_deactivated",
        "scim.user_reactivated",
        "scim.group_created",
        "scim.group_member_added",
        "scim.group_member_removed",
        "scim.group_updated",
        "scim.user_deleted",
        "scim.group_deleted",
    ] {
        assert!(actions.iter().any(|a| a == expected), "{expected} missing from {actions:?}");
    }
}

#[tokio::test]
async fn an_entra_provisioning_run_ends_in_the_right_members_teams_and_revoked_sessions() {
    let app = spawn_app().await;
    let owner = app.register("admin@contoso.example").await;
    let (_, token) = scim_token(&app, &owner, None).await;

    // Entra probes with a random userName, then creates.
    let (status, probe) =
        scim(&app, &token, Method::GET, &user_filter("7b6c2a57-0d6e-4f3c-9a3e-1f6a2d0c9e11"), None).await;
    assert_eq!((status, probe["totalResults"].as_i64()), (200, Some(0)), "{probe}");
    let (status, bob) = scim(
        &app,
        &token,
        Method::POST,
        "/Users",
        Some(json!({
            "schemas": [USER, ENTERPRISE],
            "externalId": "bob", "userName": "bob@contoso.example", "active": true, "displayName": "Bob Brown",
            "emails": [{ "primary": true, "type": "work", "value": "bob@contoso.example" }],
            "meta": { "resourceType": "User" },
            "name": { "formatted": "Bob Brown", "familyName": "Brown", "givenName": "Bob" },
            "title": "Engineer",
            ENTERPRISE: { "department": "Sales", "employeeNumber": "42" }
        })),
    )
    .await;
    assert_eq!(status, 201, "{bob}");
    let bob_id = id_of(&bob);
    assert_eq!(bob[ENTERPRISE]["department"], "Sales", "{bob}");
    assert_eq!(bob["title"], "Engineer");
    let role: String = app.sql(|c| {
        c.query_row(
            "SELECT r.name FROM organization_members m JOIN roles r ON r.id = m.role_id
             WHERE m.organization_id = ?1 AND m.user_id = ?2",
            [owner.org_id, bob_id],
            |r| r.get(0),
        )
    });
    assert_eq!(role, "viewer", "the default role of a token");
    let (_, found) = scim(&app, &token, Method::GET, &user_filter("bob@contoso.example"), None).await;
    assert_eq!(found["totalResults"], 1);

    // Bob signs in (through SSO in real life): his session works.
    let cookie = signed_in(&app, bob_id);
    assert_eq!(get_with_cookie(&app, &cookie, "/api/v1/me").await, 200);
    assert_eq!(get_with_cookie(&app, &cookie, &format!("/api/v1/orgs/{}", owner.org_id)).await, 200);

    // Entra's attribute updates: capitalised ops, paths, value filters.
    let update = json!({ "schemas": [PATCH], "Operations": [
        { "op": "Replace", "path": "name.givenName", "value": "Robert" },
        { "op": "Replace", "path": "displayName", "value": "Robert Brown" },
        { "op": "Replace", "path": "emails[type eq \"work\"].value", "value": "robert@contoso.example" },
        { "op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0100" },
        { "op": "Replace", "path": format!("{ENTERPRISE}:department"), "value": "Operations" },
        { "op": "Add", "path": "externalId", "value": "robert" }
    ] });
    let (status, patched) = scim(&app, &token, Method::PATCH, &format!("/Users/{bob_id}"), Some(update)).await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["name"]["givenName"], "Robert");
    assert_eq!(patched["emails"][0]["value"], "robert@contoso.example");
    assert_eq!(patched["phoneNumbers"], json!([{ "type": "mobile", "value": "+1 555 0100" }]));
    assert_eq!(patched[ENTERPRISE]["department"], "Operations");
    assert_eq!(patched["externalId"], "robert");
    // This organization is the account's only one: the account follows the IdP.
    let (email, name): (String, String) = app
        .sql(|c| c.query_row("SELECT email, name FROM users WHERE id = ?1", [bob_id], |r| Ok((r.get(0)?, r.get(1)?))));
    assert_eq!((email.as_str(), name.as_str()), ("robert@contoso.example", "Robert Brown"));

    // Deactivation with Entra's string boolean ends his session at once.
    let off = json!({ "schemas": [PATCH], "Operations": [{ "op": "Replace", "path": "active", "value": "False" }] });
    let (status, patched) = scim(&app, &token, Method::PATCH, &format!("/Users/{bob_id}"), Some(off)).await;
    assert_eq!((status, patched["active"].as_bool()), (200, Some(false)), "{patched}");
    assert_eq!(get_with_cookie(&app, &cookie, "/api/v1/me").await, 401);
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM user_sessions WHERE user_id = {bob_id} AND revoked_at IS NULL")),
        0
    );
    assert_eq!(member_status(&app, owner.org_id, bob_id).as_deref(), Some("suspended"));
    let filter = urlencode("active eq false");
    let (_, inactive) = scim(&app, &token, Method::GET, &format!("/Users?filter={filter}"), None).await;
    assert_eq!(inactive["totalResults"], 1, "{inactive}");
    let on = json!({ "schemas": [PATCH], "Operations": [{ "op": "Replace", "path": "active", "value": "True" }] });
    let (status, _) = scim(&app, &token, Method::PATCH, &format!("/Users/{bob_id}"), Some(on)).await;
    assert_eq!(status, 200);
    assert_eq!(member_status(&app, owner.org_id, bob_id).as_deref(), Some("active"));
    let cookie = signed_in(&app, bob_id);
    assert_eq!(get_with_cookie(&app, &cookie, &format!("/api/v1/orgs/{}", owner.org_id)).await, 200);

    // Groups the Entra way: members added and removed by value lists, renamed by path.
    let (status, group) = scim(
        &app,
        &token,
        Method::POST,
        "/Groups",
        Some(json!({ "schemas": [GROUP], "externalId": "grp-sales", "displayName": "Sales", "members": [] })),
    )
    .await;
    assert_eq!(status, 201, "{group}");
    let team = id_of(&group);
    let add = json!({ "schemas": [PATCH], "Operations": [
        { "op": "Add", "path": "members", "value": [{ "value": bob_id.to_string() }] }] });
    let (status, _) = scim(&app, &token, Method::PATCH, &format!("/Groups/{team}"), Some(add)).await;
    assert_eq!(status, 200);
    assert_eq!(team_member_ids(&app, team), vec![bob_id]);
    let rename = json!({ "schemas": [PATCH], "Operations": [{ "op": "Replace", "path": "displayName", "value": "Sales EMEA" }] });
    let (status, _) = scim(&app, &token, Method::PATCH, &format!("/Groups/{team}"), Some(rename)).await;
    assert_eq!(status, 200);
    let filter = urlencode("displayName eq \"Sales EMEA\"");
    let (_, groups) =
        scim(&app, &token, Method::GET, &format!("/Groups?excludedAttributes=members&filter={filter}"), None).await;
    assert_eq!(groups["totalResults"], 1, "{groups}");
    assert!(groups["Resources"][0].get("members").is_none(), "{groups}");
    assert_eq!(groups["Resources"][0]["externalId"], "grp-sales");
    let remove = json!({ "schemas": [PATCH], "Operations": [
        { "op": "Remove", "path": "members", "value": [{ "value": bob_id.to_string() }] }] });
    let (status, _) = scim(&app, &token, Method::PATCH, &format!("/Groups/{team}"), Some(remove)).await;
    assert_eq!(status, 200);
    assert!(team_member_ids(&app, team).is_empty());

    // Delete: the membership and the SCIM-made account go, with its sessions.
    let (status, _) = scim(&app, &token, Method::DELETE, &format!("/Users/{bob_id}"), None).await;
    assert_eq!(status, 204);
    assert_eq!(get_with_cookie(&app, &cookie, "/api/v1/me").await, 401);
    assert_eq!(app.count(&format!("SELECT count(*) FROM users WHERE id = {bob_id}")), 0);
    let (_, found) = scim(&app, &token, Method::GET, &user_filter("robert@contoso.example"), None).await;
    assert_eq!(found["totalResults"], 0);
}

#[tokio::test]
async fn scim_tokens_scope_requests_to_one_organization_and_errors_use_the_scim_format() {
    let app = spawn_app().await;
    let owner = app.register("owner@one.example").await;
    let other = app.register("owner@two.example").await;
    let (token_id, token) = scim_token(&app, &owner, None).await;
    let (_, other_token) = scim_token(&app, &other, None).await;

    // Discovery documents.
    let (status, spc) = scim(&app, &token, Method::GET, "/ServiceProviderConfig", None).await;
    assert_eq!((status, spc["patch"]["supported"].as_bool()), (200, Some(true)), "{spc}");
    assert_eq!(spc["bulk"]["supported"], false);
    let (_, types) = scim(&app, &token, Method::GET, "/ResourceTypes", None).await;
    assert_eq!(types["totalResults"], 2, "{types}");
    let (_, schemas) = scim(&app, &token, Method::GET, "/Schemas", None).await;
    assert!(schemas["Resources"].as_array().is_some_and(|s| s.iter().any(|x| x["id"] == USER)), "{schemas}");
    let (status, user_schema) = scim(&app, &token, Method::GET, &format!("/Schemas/{USER}"), None).await;
    assert_eq!((status, user_schema["name"].as_str()), (200, Some("User")));

    // No, wrong, or another kind of token: 401 in the SCIM format.
    let response = app.request(Method::GET, "/scim/v2/Users").send().await.expect("send");
    assert_eq!(response.headers().get("www-authenticate").and_then(|v| v.to_str().ok()), Some("Bearer realm=\"scim\""));
    let (status, body) = (response.status().as_u16(), response.json::<Value>().await.expect("json"));
    assert_scim_error(status, &body, 401, None);
    let (status, body) = scim(&app, &token.replace("scim_", "scim_x"), Method::GET, "/Users", None).await;
    assert_scim_error(status, &body, 401, None);
    let (status, body) = scim(&app, "bb_notascimtoken", Method::GET, "/Users", None).await;
    assert_scim_error(status, &body, 401, None);

    // One organization's token cannot see or change another's users.
    let (status, dana) = scim(
        &app,
        &token,
        Method::POST,
        "/Users",
        Some(json!({ "schemas": [USER], "userName": "dana@one.example", "active": true })),
    )
    .await;
    assert_eq!(status, 201, "{dana}");
    let dana_id = id_of(&dana);
    let (_, seen) = scim(&app, &other_token, Method::GET, "/Users", None).await;
    assert_eq!(seen["totalResults"], 0, "{seen}");
    let (status, body) = scim(&app, &other_token, Method::GET, &format!("/Users/{dana_id}"), None).await;
    assert_scim_error(status, &body, 404, None);
    let off = json!({ "schemas": [PATCH], "Operations": [{ "op": "replace", "path": "active", "value": false }] });
    let (status, body) = scim(&app, &other_token, Method::PATCH, &format!("/Users/{dana_id}"), Some(off.clone())).await;
    assert_scim_error(status, &body, 404, None);
    let (status, body) = scim(&app, &other_token, Method::DELETE, &format!("/Users/{dana_id}"), None).await;
    assert_scim_error(status, &body, 404, None);
    assert_eq!(member_status(&app, owner.org_id, dana_id).as_deref(), Some("active"));
    // Nor put another organization's member into its groups.
    let (status, body) = scim(
        &app,
        &other_token,
        Method::POST,
        "/Groups",
        Some(json!({ "schemas": [GROUP], "displayName": "Poach", "members": [{ "value": dana_id.to_string() }] })),
    )
    .await;
    assert_scim_error(status, &body, 400, Some("invalidValue"));
    assert_eq!(app.count("SELECT count(*) FROM teams WHERE name = 'Poach'"), 0, "the refused change rolled back");

    // Malformed filter, bad PATCH paths, duplicate userName.
    let (status, body) =
        scim(&app, &token, Method::GET, &format!("/Users?filter={}", urlencode("userName eq \"x")), None).await;
    assert_scim_error(status, &body, 400, Some("invalidFilter"));
    let (status, body) =
        scim(&app, &token, Method::GET, &format!("/Users?filter={}", urlencode("userName zz \"x\"")), None).await;
    assert_scim_error(status, &body, 400, Some("invalidFilter"));
    let bad_path =
        json!({ "schemas": [PATCH], "Operations": [{ "op": "replace", "path": "favouriteColour", "value": "red" }] });
    let (status, body) = scim(&app, &token, Method::PATCH, &format!("/Users/{dana_id}"), Some(bad_path)).await;
    assert_scim_error(status, &body, 400, Some("invalidPath"));
    let broken =
        json!({ "schemas": [PATCH], "Operations": [{ "op": "replace", "path": "emails[type eq", "value": "x" }] });
    let (status, body) = scim(&app, &token, Method::PATCH, &format!("/Users/{dana_id}"), Some(broken)).await;
    assert_scim_error(status, &body, 400, Some("invalidPath"));
    let no_target =
        json!({ "schemas": [PATCH], "Operations": [{ "op": "remove", "path": "emails[type eq \"home\"]" }] });
    let (status, body) = scim(&app, &token, Method::PATCH, &format!("/Users/{dana_id}"), Some(no_target)).await;
    assert_scim_error(status, &body, 400, Some("noTarget"));
    let (status, body) = scim(
        &app,
        &token,
        Method::POST,
        "/Users",
        Some(json!({ "schemas": [USER], "userName": "DANA@one.example", "emails": [{ "value": "d2@one.example" }] })),
    )
    .await;
    assert_scim_error(status, &body, 409, Some("uniqueness"));
    let (status, body) = scim(&app, &token, Method::POST, "/Users", Some(json!({ "schemas": [USER] }))).await;
    assert_scim_error(status, &body, 400, Some("invalidValue"));
    let (status, body) = scim(&app, &token, Method::GET, "/Nothing", None).await;
    assert_scim_error(status, &body, 404, None);

    // The last owner cannot be deactivated through SCIM.
    let (status, linked) = scim(
        &app,
        &token,
        Method::POST,
        "/Users",
        Some(json!({ "schemas": [USER], "userName": "owner@one.example", "active": true })),
    )
    .await;
    assert_eq!((status, id_of(&linked)), (201, owner.user_id), "{linked}");
    let (status, body) = scim(&app, &token, Method::PATCH, &format!("/Users/{}", owner.user_id), Some(off)).await;
    assert_scim_error(status, &body, 400, Some("mutability"));
    assert_eq!(member_status(&app, owner.org_id, owner.user_id).as_deref(), Some("active"));

    // Tokens: listed with last use, rotated (old secret dead), revoked (401).
    let list = call_ok(&app, &owner, Method::GET, &format!("/api/v1/orgs/{}/scim-tokens", owner.org_id), None).await;
    assert!(list["items"][0]["last_used_at"].is_string(), "{list}");
    assert!(list["items"][0].get("token").is_none(), "secrets are never listed: {list}");
    let rotated = call_ok(&app, &owner, Method::POST, &format!("/api/v1/scim-tokens/{token_id}/rotate"), None).await;
    let new_secret = rotated["token"].as_str().expect("token").to_owned();
    let (status, body) = scim(&app, &token, Method::GET, "/Users", None).await;
    assert_scim_error(status, &body, 401, None);
    let (status, _) = scim(&app, &new_secret, Method::GET, "/Users", None).await;
    assert_eq!(status, 200);
    let (status, _) = app.call(&owner, Method::DELETE, &format!("/api/v1/scim-tokens/{token_id}"), None).await;
    assert_eq!(status, 204);
    let (status, body) = scim(&app, &new_secret, Method::GET, "/Users", None).await;
    assert_scim_error(status, &body, 401, None);

    // A token never provisions owners.
    let (status, body) = app
        .call(
            &owner,
            Method::POST,
            &format!("/api/v1/orgs/{}/scim-tokens", owner.org_id),
            Some(json!({ "name": "x", "role": "owner" })),
        )
        .await;
    assert_eq!((status, body["error"]["details"]["field"].as_str()), (422, Some("role")), "{body}");
    // Another organization's owner cannot manage this one's tokens.
    let (status, _) = app.call(&other, Method::DELETE, &format!("/api/v1/scim-tokens/{token_id}"), None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_scim_page_shows_the_base_url_and_a_token_once_then_lists_and_revokes_it() {
    let app = spawn_app().await;
    app.register("owner@ui.example").await;
    with_browser("scim_tokens", |b| async move {
        b.sign_in(&app, "owner@ui.example").await;
        b.click("a[href='/scim']").await;
        b.wait_for_text("#scim-base-url", &format!("{}/scim/v2", app.address)).await;
        b.fill("#create-scim-token #name", "Okta").await;
        b.select("#scim-role", "editor").await;
        b.click("#create-scim-token button[type=submit]").await;
        let token = b.text_of("#new-scim-token").await;
        assert!(token.starts_with("scim_"), "{token}");
        let (status, _) = scim(&app, &token, Method::GET, "/Users", None).await;
        assert_eq!(status, 200);
        b.wait_for_text("tr[data-scim-token='Okta']", "editor").await;
        b.wait_for_text("tr[data-scim-token='Okta']", "active").await;
        b.client.execute("window.confirm = () => true;", vec![]).await.expect("confirm");
        b.click("tr[data-scim-token='Okta'] button.danger").await;
        b.wait_for_text("tr[data-scim-token='Okta']", "revoked").await;
        let (status, body) = scim(&app, &token, Method::GET, "/Users", None).await;
        assert_scim_error(status, &body, 401, None);
    })
    .await;
}

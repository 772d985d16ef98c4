//! Organizations and membership: list, update, delete, members with the
//! last-owner and no-escalation rules, custom roles, teams.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{assert_error, spawn_app};

#[tokio::test]
async fn organizations_are_listed_updated_and_deleted_by_their_owner_only() {
    let app = spawn_app().await;
    let owner = app.register("boss@example.com").await;
    let (status, org) = app.call(&owner, Method::POST, "/api/v1/orgs", Some(json!({ "name": "Acme" }))).await;
    assert_eq!(status, 201);
    let acme = org["id"].as_i64().expect("id");
    let (_, list) = app.call(&owner, Method::GET, "/api/v1/orgs", None).await;
    assert_eq!(list.as_array().expect("list").len(), 2);
    assert!(list.as_array().expect("list").iter().all(|o| o["role"] == "owner"));

    let path = format!("/api/v1/orgs/{acme}");
    let (status, body) = app
        .call(
            &owner,
            Method::PATCH,
            &path,
            Some(json!({ "name": "Acme Bots", "settings": { "locale": "de" }, "retention_days": 90 })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["name"].clone(), body["settings"]["locale"].clone(), body["retention_days"].clone()),
        (json!("Acme Bots"), json!("de"), json!(90))
    );
    for (bad, field) in [
        (json!({ "settings": [1, 2] }), "settings"),
        (json!({ "retention_days": 5 }), "retention_days"),
        (json!({ "name": "x".repeat(101) }), "name"),
        (json!({ "name": "ok", "unknown": 1 }), "."),
    ] {
        let (status, body) = app.call(&owner, Method::PATCH, &path, Some(bad)).await;
        assert_eq!(status, 422, "{body}");
        if field != "." {
            assert_eq!(body["error"]["details"]["field"], field);
        }
    }
    let (_, after) = app.call(&owner, Method::GET, &path, None).await;
    assert_eq!(after["name"], "Acme Bots", "bad updates changed nothing");

    // An admin cannot delete; the owner must type the name.
    let admin = app.join(&owner, acme, "second@example.com", "admin").await;
    let (status, _) = app.call(&admin, Method::DELETE, &path, Some(json!({ "confirm_name": "Acme Bots" }))).await;
    assert_eq!(status, 403);
    let (status, body) = app.call(&owner, Method::DELETE, &path, Some(json!({ "confirm_name": "acme" }))).await;
    assert_eq!((status, body["error"]["details"]["field"].clone()), (422, json!("confirm_name")));
    app.call(&owner, Method::POST, &format!("/api/v1/orgs/{acme}/bots"), Some(json!({ "name": "B" }))).await;
    let (status, _) = app.call(&owner, Method::DELETE, &path, Some(json!({ "confirm_name": "Acme Bots" }))).await;
    assert_eq!(status, 204);
    assert_eq!(app.count(&format!("SELECT count(*) FROM bots WHERE organization_id = {acme}")), 0);
    assert_eq!(app.count(&format!("SELECT count(*) FROM organization_members WHERE organization_id = {acme}")), 0);
    // The deletion is audited outside the organization, so the record survives it.
    assert_eq!(app.count(&format!("SELECT count(*) FROM audit_logs WHERE action = 'org.deleted' AND resource_id = {acme} AND organization_id IS NULL")), 1);
    let (status, _) = app.call(&owner, Method::GET, &path, None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn members_follow_the_last_owner_and_no_escalation_rules() {
    let app = spawn_app().await;
    let owner = app.register("owner@example.com").await;
    let org = owner.org_id;
    let admin = app.join(&owner, org, "admin@example.com", "admin").await;
    let editor = app.join(&owner, org, "editor@example.com", "editor").await;
    let members = |s: &crate::helpers::Session| {
        let (app, s) = (&app, s.clone());
        async move { app.call(&s, Method::GET, &format!("/api/v1/orgs/{org}/members"), None).await }
    };
    let (status, list) = members(&editor).await;
    assert_eq!(status, 200);
    let roles: Vec<_> =
        list["items"].as_array().expect("items").iter().map(|m| m["role"].as_str().expect("role").to_owned()).collect();
    assert_eq!(roles, ["owner", "admin", "editor"]);

    let member = |u: i64| format!("/api/v1/orgs/{org}/members/{u}");
    // The editor lacks members.manage.
    let (status, body) =
        app.call(&editor, Method::PATCH, &member(admin.user_id), Some(json!({ "role": "viewer" }))).await;
    assert_eq!((status, body["error"]["code"].clone()), (403, json!("forbidden")));
    // An admin cannot make anyone owner, nor demote or remove an owner.
    let (status, body) =
        app.call(&admin, Method::PATCH, &member(editor.user_id), Some(json!({ "role": "owner" }))).await;
    assert_eq!((status, body["error"]["code"].clone()), (403, json!("role_escalation")), "{body}");
    assert!(body["error"]["details"]["permissions"].as_array().expect("perms").contains(&json!("org.delete")));
    let (status, body) =
        app.call(&admin, Method::PATCH, &member(admin.user_id), Some(json!({ "role": "owner" }))).await;
    assert_eq!((status, body["error"]["code"].clone()), (403, json!("role_escalation")), "not even oneself");
    let (status, body) =
        app.call(&admin, Method::PATCH, &member(owner.user_id), Some(json!({ "role": "viewer" }))).await;
    assert_eq!((status, body["error"]["code"].clone()), (403, json!("role_escalation")));
    let (status, _) = app.call(&admin, Method::DELETE, &member(owner.user_id), None).await;
    assert_eq!(status, 403);
    // The last owner can neither be demoted nor leave nor be removed.
    let (status, body) =
        app.call(&owner, Method::PATCH, &member(owner.user_id), Some(json!({ "role": "admin" }))).await;
    assert_eq!((status, body["error"]["code"].clone()), (409, json!("last_owner")));
    let (status, _) = app.call(&owner, Method::POST, &format!("/api/v1/orgs/{org}/leave"), None).await;
    assert_eq!(status, 409);
    let (status, _) = app.call(&owner, Method::DELETE, &member(owner.user_id), None).await;
    assert_eq!(status, 409);
    // Bad role names and non-members.
    let (status, body) =
        app.call(&owner, Method::PATCH, &member(editor.user_id), Some(json!({ "role": "emperor" }))).await;
    assert_eq!((status, body["error"]["details"]["field"].clone()), (422, json!("role")));
    let (status, body) = app.call(&owner, Method::PATCH, &member(99_999), Some(json!({ "role": "viewer" }))).await;
    assert_eq!((status, body["error"]["code"].clone()), (404, json!("member_not_found")));
    let unchanged = app.count(&format!(
        "SELECT count(*) FROM audit_logs WHERE action = 'member.role_changed' AND organization_id = {org}"
    ));
    assert_eq!(unchanged, 0, "refused changes are not applied");

    // The owner promotes the admin to owner; now the first owner may leave,
    // and organizations.owner_id moves to the remaining owner.
    let (status, body) =
        app.call(&owner, Method::PATCH, &member(admin.user_id), Some(json!({ "role": "owner" }))).await;
    assert_eq!((status, body["role"].clone()), (200, json!("owner")));
    let (status, _) = app.call(&owner, Method::POST, &format!("/api/v1/orgs/{org}/leave"), None).await;
    assert_eq!(status, 204);
    assert_eq!(app.count(&format!("SELECT owner_id FROM organizations WHERE id = {org}")), admin.user_id);
    let (status, _) = app.call(&owner, Method::GET, &format!("/api/v1/orgs/{org}"), None).await;
    assert_eq!(status, 404, "a former member sees nothing");
    // Removing a member revokes their API tokens for the organization.
    let (_, created) = app
        .call(
            &editor,
            Method::POST,
            &format!("/api/v1/orgs/{org}/api-tokens"),
            Some(json!({ "name": "e", "scopes": ["bots.read"] })),
        )
        .await;
    let token = created["token"].as_str().expect("token").to_owned();
    let (status, _) = app.call(&admin, Method::DELETE, &member(editor.user_id), None).await;
    assert_eq!(status, 204);
    let r = app.as_token(&token, Method::GET, &format!("/api/v1/orgs/{org}/bots")).send().await.expect("send");
    assert_error(r, 401, "unauthenticated").await;
    let (_, activity) = app.call(&admin, Method::GET, &format!("/api/v1/orgs/{org}/activity"), None).await;
    let actions: Vec<_> = activity["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|a| a["action"].as_str().expect("a").to_owned())
        .collect();
    for expected in ["member.removed", "member.left", "member.role_changed", "member.joined"] {
        assert!(actions.contains(&expected.to_owned()), "{expected} in {actions:?}");
    }
}

#[tokio::test]
async fn custom_roles_grant_their_permissions_and_never_more_than_their_editor_has() {
    let app = spawn_app().await;
    let owner = app.register("owner@example.com").await;
    let org = owner.org_id;
    let roles = format!("/api/v1/orgs/{org}/roles");
    let (_, list) = app.call(&owner, Method::GET, &roles, None).await;
    assert_eq!(list.as_array().expect("roles").len(), 5);
    assert!(list.as_array().expect("roles").iter().all(|r| r["builtin"] == true));

    let (status, lead) = app
        .call(
            &owner,
            Method::POST,
            &roles,
            Some(json!({ "name": "Support lead", "permissions": ["bots.read", "roles.manage", "members.read"] })),
        )
        .await;
    assert_eq!(status, 201, "{lead}");
    let lead_id = lead["id"].as_i64().expect("id");
    for (bad, field) in [
        (json!({ "name": "Admin", "permissions": [] }), "name"),
        (json!({ "name": "X", "permissions": ["bots.read", "bots.fly"] }), "permissions[1]"),
        (json!({ "name": "", "permissions": [] }), "name"),
    ] {
        let (status, body) = app.call(&owner, Method::POST, &roles, Some(bad)).await;
        assert_eq!((status, body["error"]["details"]["field"].clone()), (422, json!(field)), "{body}");
    }
    let (status, body) =
        app.call(&owner, Method::POST, &roles, Some(json!({ "name": "Support lead", "permissions": [] }))).await;
    assert_eq!((status, body["error"]["code"].clone()), (409, json!("name_taken")));

    // A member with the custom role gets exactly its permissions.
    let lead_user = app.join(&owner, org, "lead@example.com", "Support lead").await;
    let (status, _) = app.call(&lead_user, Method::GET, &format!("/api/v1/orgs/{org}/bots"), None).await;
    assert_eq!(status, 200);
    let (status, _) =
        app.call(&lead_user, Method::POST, &format!("/api/v1/orgs/{org}/bots"), Some(json!({ "name": "B" }))).await;
    assert_eq!(status, 403);
    // They manage roles, but cannot put into one a permission they lack.
    let before = app.count("SELECT count(*) FROM roles");
    let (status, body) = app
        .call(
            &lead_user,
            Method::POST,
            &roles,
            Some(json!({ "name": "Writer", "permissions": ["bots.read", "bots.write"] })),
        )
        .await;
    assert_eq!((status, body["error"]["code"].clone()), (403, json!("role_escalation")));
    assert_eq!(body["error"]["details"]["permissions"], json!(["bots.write"]));
    assert_eq!(app.count("SELECT count(*) FROM roles"), before);
    // Nor widen their own role.
    let (status, body) = app
        .call(
            &lead_user,
            Method::PATCH,
            &format!("/api/v1/roles/{lead_id}"),
            Some(json!({ "permissions": ["bots.read", "bots.delete", "roles.manage"] })),
        )
        .await;
    assert_eq!((status, body["error"]["code"].clone()), (403, json!("role_escalation")));
    let (status, reader) = app
        .call(&lead_user, Method::POST, &roles, Some(json!({ "name": "Reader", "permissions": ["bots.read"] })))
        .await;
    assert_eq!(status, 201);
    // Built-in roles are not editable; roles in use are not deletable.
    let (_, list) = app.call(&owner, Method::GET, &roles, None).await;
    let viewer_id = list.as_array().expect("roles").iter().find(|r| r["name"] == "viewer").expect("viewer")["id"]
        .as_i64()
        .expect("id");
    let (status, body) =
        app.call(&owner, Method::PATCH, &format!("/api/v1/roles/{viewer_id}"), Some(json!({ "name": "v" }))).await;
    assert_eq!((status, body["error"]["code"].clone()), (404, json!("role_not_found")));
    let (status, body) = app.call(&owner, Method::DELETE, &format!("/api/v1/roles/{lead_id}"), None).await;
    assert_eq!((status, body["error"]["code"].clone()), (409, json!("role_in_use")));
    // Changing a role's permissions changes its members' at once.
    let (status, _) = app
        .call(
            &owner,
            Method::PATCH,
            &format!("/api/v1/roles/{lead_id}"),
            Some(json!({ "permissions": ["bots.read", "bots.write", "roles.manage", "members.read"] })),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) =
        app.call(&lead_user, Method::POST, &format!("/api/v1/orgs/{org}/bots"), Some(json!({ "name": "B" }))).await;
    assert_eq!(status, 201);
    let (status, _) = app.call(&owner, Method::DELETE, &format!("/api/v1/roles/{}", reader["id"]), None).await;
    assert_eq!(status, 204);
    // Another organization's role is invisible.
    let other = app.register("other@example.com").await;
    let (status, body) =
        app.call(&other, Method::PATCH, &format!("/api/v1/roles/{lead_id}"), Some(json!({ "name": "mine" }))).await;
    assert_eq!((status, body["error"]["code"].clone()), (404, json!("role_not_found")));
}

#[tokio::test]
async fn teams_team_roles_and_team_members() {
    let app = spawn_app().await;
    let owner = app.register("owner@example.com").await;
    let org = owner.org_id;
    let agent = app.join(&owner, org, "agent@example.com", "agent").await;
    let (status, team) = app
        .call(
            &owner,
            Method::POST,
            &format!("/api/v1/orgs/{org}/teams"),
            Some(json!({ "name": "EMEA", "description": "Europe" })),
        )
        .await;
    assert_eq!(status, 201);
    let team_id = team["id"].as_i64().expect("id");
    let (status, body) =
        app.call(&owner, Method::POST, &format!("/api/v1/orgs/{org}/teams"), Some(json!({ "name": "EMEA" }))).await;
    assert_eq!((status, body["error"]["code"].clone()), (409, json!("name_taken")));
    let (status, role) = app
        .call(
            &owner,
            Method::POST,
            &format!("/api/v1/orgs/{org}/team-roles"),
            Some(json!({ "name": "Inbox", "permissions": ["conversations.handle"], "is_default": true })),
        )
        .await;
    assert_eq!(status, 201, "{role}");
    // Without a team role named, the default applies; non-members cannot join.
    let members = format!("/api/v1/teams/{team_id}/members");
    let (status, m) = app.call(&owner, Method::POST, &members, Some(json!({ "user_id": agent.user_id }))).await;
    assert_eq!((status, m["team_role"].clone()), (201, json!("Inbox")));
    let (status, body) = app.call(&owner, Method::POST, &members, Some(json!({ "user_id": agent.user_id }))).await;
    assert_eq!((status, body["error"]["code"].clone()), (409, json!("already_member")));
    let stranger = app.register("stranger@example.com").await;
    let (status, body) = app.call(&owner, Method::POST, &members, Some(json!({ "user_id": stranger.user_id }))).await;
    assert_eq!((status, body["error"]["details"]["field"].clone()), (422, json!("user_id")));
    let (_, team) = app.call(&agent, Method::GET, &format!("/api/v1/teams/{team_id}"), None).await;
    assert_eq!(team["member_count"], 1);
    // The agent reads but cannot manage; the team role in use cannot go.
    let (status, _) =
        app.call(&agent, Method::PATCH, &format!("/api/v1/teams/{team_id}"), Some(json!({ "name": "X" }))).await;
    assert_eq!(status, 403);
    let role_id = role["id"].as_i64().expect("id");
    let (status, _) = app.call(&owner, Method::DELETE, &format!("/api/v1/team-roles/{role_id}"), None).await;
    assert_eq!(status, 409);
    let (status, lead) = app
        .call(
            &owner,
            Method::POST,
            &format!("/api/v1/orgs/{org}/team-roles"),
            Some(json!({ "name": "Lead", "permissions": ["conversations.handle", "members.manage"] })),
        )
        .await;
    assert_eq!(status, 201);
    let (status, m) = app
        .call(
            &owner,
            Method::PATCH,
            &format!("{members}/{}", agent.user_id),
            Some(json!({ "team_role_id": lead["id"] })),
        )
        .await;
    assert_eq!((status, m["team_role"].clone()), (200, json!("Lead")));
    let (status, _) = app.call(&owner, Method::DELETE, &format!("{members}/{}", agent.user_id), None).await;
    assert_eq!(status, 204);
    let (status, _) = app.call(&owner, Method::DELETE, &format!("/api/v1/team-roles/{role_id}"), None).await;
    assert_eq!(status, 204);
    let (status, t) = app
        .call(
            &owner,
            Method::PATCH,
            &format!("/api/v1/teams/{team_id}"),
            Some(json!({ "name": "EMEA 2", "description": null })),
        )
        .await;
    assert_eq!((status, t["name"].clone(), t["description"].clone()), (200, json!("EMEA 2"), json!(null)));
    let (status, _) = app.call(&owner, Method::DELETE, &format!("/api/v1/teams/{team_id}"), None).await;
    assert_eq!(status, 204);
    let (status, body) = app.call(&owner, Method::GET, &format!("/api/v1/teams/{team_id}"), None).await;
    assert_eq!((status, body["error"]["code"].clone()), (404, json!("team_not_found")));
}

//! Invitations end to end: the branded email through the SMTP sink, accept
//! with the invited address only, decline, revoke, expire, resend, and the
//! refusals (escalation, duplicates, other organizations).

use reqwest::Method;
use serde_json::json;

use crate::helpers::spawn_app_with;
use crate::smtp::{SmtpSink, wait_for};

#[tokio::test]
async fn an_invitation_is_emailed_with_branding_and_accepted_by_the_invited_address_only() {
    let sink = SmtpSink::start().await;
    let smtp = sink.config();
    let app = spawn_app_with(move |c| c.smtp = smtp).await;
    let owner = app.register("owner@example.com").await;
    let org = owner.org_id;
    app.call(
        &owner,
        Method::PATCH,
        &format!("/api/v1/orgs/{org}/whitelabel"),
        Some(json!({ "brand_name": "Acme Bots", "email_header_color": "#0f766e", "email_from_name": "Acme",
                     "email_from_address": "bots@acme.test", "email_footer_text": "Acme Inc., Berlin", "show_powered_by": false })),
    )
    .await;
    let (status, team) =
        app.call(&owner, Method::POST, &format!("/api/v1/orgs/{org}/teams"), Some(json!({ "name": "Support" }))).await;
    assert_eq!(status, 201);
    let (_, team_role) = app
        .call(
            &owner,
            Method::POST,
            &format!("/api/v1/orgs/{org}/team-roles"),
            Some(json!({ "name": "Agent", "permissions": ["conversations.handle"] })),
        )
        .await;
    let (status, sent) = app
        .call(
            &owner,
            Method::POST,
            &format!("/api/v1/orgs/{org}/invitations"),
            Some(json!({ "email": "Grace@Example.com", "role": "editor", "team_id": team["id"], "team_role_id": team_role["id"] })),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(
        (sent["email"].clone(), sent["status"].clone(), sent["team"].clone()),
        (json!("grace@example.com"), json!("pending"), json!("Support"))
    );
    app.run_jobs().await;
    let mail = wait_for(&sink, "grace@example.com", 1).await.remove(0);
    assert!(mail.header("From").expect("from").contains("bots@acme.test"));
    assert!(mail.header("Subject").expect("subject").contains("Acme Bots"));
    assert!(mail.html().contains("#0f766e") && mail.html().contains("Acme Inc., Berlin"));
    assert!(!mail.text().contains("Powered by"));
    let token = mail.token("/invitations/accept");
    assert!(sent["accept_url"].as_str().expect("url").ends_with(&token));

    // Anyone with the link can see what it offers.
    let preview = app.post_json("/api/v1/invitations/preview", &json!({ "token": token })).await;
    let preview: serde_json::Value = preview.json().await.expect("json");
    assert_eq!((preview["role"].clone(), preview["email"].clone()), (json!("editor"), json!("grace@example.com")));
    // Another account cannot accept it.
    let mallory = app.register("mallory@example.com").await;
    let (status, body) =
        app.call(&mallory, Method::POST, "/api/v1/invitations/accept", Some(json!({ "token": token }))).await;
    assert_eq!((status, body["error"]["code"].clone()), (403, json!("invitation_email_mismatch")));
    assert_eq!(app.count(&format!("SELECT count(*) FROM organization_members WHERE organization_id = {org}")), 1);
    // The invited address signs up and accepts: member with the role and in the team.
    let grace = app.register("grace@example.com").await;
    // Signing up confirmed the address already; undo that to see the
    // invitation link prove it too.
    app.sql(|c| {
        c.execute("UPDATE users SET email_verified = 0, email_verified_at = NULL WHERE email = 'grace@example.com'", [])
    });
    let (status, accepted) =
        app.call(&grace, Method::POST, "/api/v1/invitations/accept", Some(json!({ "token": token }))).await;
    assert_eq!((status, accepted["role"].clone()), (200, json!("editor")), "{accepted}");
    let (_, me) = app.call(&grace, Method::GET, "/api/v1/me", None).await;
    assert!(me["organizations"].as_array().expect("orgs").iter().any(|o| o["id"] == org && o["role"] == "editor"));
    assert_eq!(me["user"]["email_verified"], true, "following the emailed link proves the address");
    assert_eq!(app.count(&format!("SELECT count(*) FROM team_members WHERE user_id = {}", grace.user_id)), 1);
    // The link worked once.
    let (status, body) =
        app.call(&grace, Method::POST, "/api/v1/invitations/accept", Some(json!({ "token": token }))).await;
    assert_eq!((status, body["error"]["code"].clone()), (400, json!("token_invalid")));
    let (_, list) =
        app.call(&owner, Method::GET, &format!("/api/v1/orgs/{org}/invitations?status=accepted"), None).await;
    assert_eq!(list["items"].as_array().expect("items").len(), 1);
}

#[tokio::test]
async fn invitations_refuse_escalation_duplicates_and_other_organizations() {
    let app = spawn_app_with(|_| {}).await;
    let owner = app.register("owner@example.com").await;
    let org = owner.org_id;
    let admin = app.join(&owner, org, "admin@example.com", "admin").await;
    let invite = |s: &crate::helpers::Session, body: serde_json::Value| {
        let (app, s) = (&app, s.clone());
        async move { app.call(&s, Method::POST, &format!("/api/v1/orgs/{org}/invitations"), Some(body)).await }
    };
    let before = app.count("SELECT count(*) FROM team_invitations");
    let (status, body) = invite(&admin, json!({ "email": "x@example.com", "role": "owner" })).await;
    assert_eq!((status, body["error"]["code"].clone()), (403, json!("role_escalation")));
    let (status, body) = invite(&admin, json!({ "email": "not-an-email", "role": "viewer" })).await;
    assert_eq!((status, body["error"]["details"]["field"].clone()), (422, json!("email")));
    let (status, body) =
        invite(&admin, json!({ "email": "x@example.com", "role": "viewer", "team_id": 424_242 })).await;
    assert_eq!((status, body["error"]["details"]["field"].clone()), (422, json!("team_id")));
    let (status, body) = invite(&admin, json!({ "email": "admin@example.com", "role": "viewer" })).await;
    assert_eq!((status, body["error"]["code"].clone()), (409, json!("already_member")));
    assert_eq!(app.count("SELECT count(*) FROM team_invitations"), before);
    let (status, first) = invite(&admin, json!({ "email": "x@example.com", "role": "viewer" })).await;
    assert_eq!(status, 201);
    let (status, body) = invite(&owner, json!({ "email": "X@example.com", "role": "editor" })).await;
    assert_eq!((status, body["error"]["code"].clone()), (409, json!("invitation_pending")));
    // Another organization's invitation cannot be revoked or resent from here.
    let stranger = app.register("stranger@example.com").await;
    let id = first["id"].as_i64().expect("id");
    let (status, body) = app.call(&stranger, Method::DELETE, &format!("/api/v1/invitations/{id}"), None).await;
    assert_eq!((status, body["error"]["code"].clone()), (404, json!("invitation_not_found")));
    let (status, _) = app.call(&stranger, Method::POST, &format!("/api/v1/invitations/{id}/resend"), None).await;
    assert_eq!(status, 404);
    // A viewer can see invitations but not send them.
    let viewer = app.join(&owner, org, "viewer@example.com", "viewer").await;
    let (status, _) = app.call(&viewer, Method::GET, &format!("/api/v1/orgs/{org}/invitations"), None).await;
    assert_eq!(status, 200);
    let (status, _) = invite(&viewer, json!({ "email": "y@example.com", "role": "viewer" })).await;
    assert_eq!(status, 403);
}

fn token_of(sent: &serde_json::Value) -> String {
    sent["accept_url"].as_str().expect("url").split("token=").nth(1).expect("token").to_owned()
}

#[tokio::test]
async fn invitations_are_declined_revoked_expired_and_resent() {
    let app = spawn_app_with(|_| {}).await;
    let owner = app.register("owner@example.com").await;
    let org = owner.org_id;
    let path = format!("/api/v1/orgs/{org}/invitations");
    let (_, a) =
        app.call(&owner, Method::POST, &path, Some(json!({ "email": "a@example.com", "role": "viewer" }))).await;
    let (_, b) =
        app.call(&owner, Method::POST, &path, Some(json!({ "email": "b@example.com", "role": "viewer" }))).await;
    let (_, c) =
        app.call(&owner, Method::POST, &path, Some(json!({ "email": "c@example.com", "role": "viewer" }))).await;

    // Declined without an account.
    let r = app.post_json("/api/v1/invitations/decline", &json!({ "token": token_of(&a) })).await;
    assert_eq!(r.status(), 204);
    let alice = app.register("a@example.com").await;
    let (status, body) =
        app.call(&alice, Method::POST, "/api/v1/invitations/accept", Some(json!({ "token": token_of(&a) }))).await;
    assert_eq!((status, body["error"]["code"].clone()), (400, json!("token_invalid")));
    // Revoked.
    let (status, _) = app.call(&owner, Method::DELETE, &format!("/api/v1/invitations/{}", b["id"]), None).await;
    assert_eq!(status, 204);
    let (status, _) = app.call(&owner, Method::DELETE, &format!("/api/v1/invitations/{}", b["id"]), None).await;
    assert_eq!(status, 409);
    let r = app.post_json("/api/v1/invitations/preview", &json!({ "token": token_of(&b) })).await;
    assert_eq!(r.status(), 400);
    // Expired: refused with token_expired and marked so.
    app.sql(|conn| {
        conn.execute(
            "UPDATE team_invitations SET expires_at = '2000-01-01T00:00:00.000Z' WHERE email = 'c@example.com'",
            [],
        )
    });
    let carol = app.register("c@example.com").await;
    let (status, body) =
        app.call(&carol, Method::POST, "/api/v1/invitations/accept", Some(json!({ "token": token_of(&c) }))).await;
    assert_eq!((status, body["error"]["code"].clone()), (410, json!("token_expired")));
    assert_eq!(
        app.count("SELECT count(*) FROM team_invitations WHERE email = 'c@example.com' AND status = 'expired'"),
        1
    );
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM organization_members WHERE user_id = {}", carol.user_id)),
        1,
        "only her own org"
    );
    // Resent: a new link, the old one dead.
    let (status, again) =
        app.call(&owner, Method::POST, &format!("/api/v1/invitations/{}/resend", c["id"]), None).await;
    assert_eq!((status, again["status"].clone()), (200, json!("pending")));
    assert_ne!(token_of(&again), token_of(&c));
    let (status, _) =
        app.call(&carol, Method::POST, "/api/v1/invitations/accept", Some(json!({ "token": token_of(&c) }))).await;
    assert_eq!(status, 400);
    let (status, _) =
        app.call(&carol, Method::POST, "/api/v1/invitations/accept", Some(json!({ "token": token_of(&again) }))).await;
    assert_eq!(status, 200);
    // Re-inviting someone who declined.
    let (status, re) = app.call(&owner, Method::POST, &format!("/api/v1/invitations/{}/resend", a["id"]), None).await;
    assert_eq!((status, re["status"].clone()), (200, json!("pending")));
    let (status, _) =
        app.call(&alice, Method::POST, "/api/v1/invitations/accept", Some(json!({ "token": token_of(&re) }))).await;
    assert_eq!(status, 200);
    let actions: Vec<String> = app.sql(|conn| {
        conn.prepare(
            "SELECT action FROM audit_logs WHERE organization_id = ?1 AND resource_type = 'invitation' ORDER BY id",
        )?
        .query_map([org], |r| r.get(0))?
        .collect()
    });
    for expected in
        ["invitation.created", "invitation.declined", "invitation.revoked", "invitation.expired", "invitation.resent"]
    {
        assert!(actions.contains(&expected.to_owned()), "{expected} in {actions:?}");
    }
}

#[tokio::test]
async fn an_invitation_into_a_team_without_a_team_role_gets_the_default_one() {
    let app = spawn_app_with(|_| {}).await;
    let owner = app.register("owner@example.com").await;
    let org = owner.org_id;
    // Every organization starts with a default team role.
    let (status, roles) = app.call(&owner, Method::GET, &format!("/api/v1/orgs/{org}/team-roles"), None).await;
    assert_eq!(status, 200);
    let defaults: Vec<_> = roles.as_array().expect("roles").iter().filter(|r| r["is_default"] == true).collect();
    assert_eq!(defaults.len(), 1, "{roles}");
    assert_eq!(defaults[0]["name"], "Member");
    assert_eq!(defaults[0]["permissions"], json!(["bots.read", "conversations.read", "conversations.handle"]));
    let (_, team) =
        app.call(&owner, Method::POST, &format!("/api/v1/orgs/{org}/teams"), Some(json!({ "name": "Support" }))).await;
    // Before, this failed on `team_role_id` ("no default team role"), which the UI never showed.
    let (status, sent) = app
        .call(
            &owner,
            Method::POST,
            &format!("/api/v1/orgs/{org}/invitations"),
            Some(json!({ "email": "ada@example.com", "role": "agent", "team_id": team["id"] })),
        )
        .await;
    assert_eq!((status, sent["team_role"].clone()), (201, json!("Member")), "{sent}");
    let token = sent["accept_url"].as_str().expect("url").split("token=").nth(1).expect("token").to_owned();
    let ada = app.register("ada@example.com").await;
    let (status, _) = app.call(&ada, Method::POST, "/api/v1/invitations/accept", Some(json!({ "token": token }))).await;
    assert_eq!(status, 200);
    let (_, members) = app.call(&owner, Method::GET, &format!("/api/v1/teams/{}/members", team["id"]), None).await;
    let items = members.as_array().expect("members");
    assert_eq!((items.len(), items[0]["team_role"].clone()), (1, json!("Member")), "{members}");
}

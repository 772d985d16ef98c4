//! Integrations through the real server: the credentials vault (secrets
//! sealed, never answered), test-connection against local fakes speaking
//! each provider's wire format (Slack `auth.test`, Zendesk `users/me` with
//! its `email/token:` basic auth, Shopify's access-token header), the call
//! log without secrets, and the OAuth 2.0 connect flow against a fake Google
//! authorization server that checks client credentials, code, redirect URI
//! and the PKCE verifier; refused callbacks store nothing; `access_token`
//! refreshes an expired token.

#![allow(clippy::too_many_lines, reason = "each test is one end-to-end scenario")]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use botbuilder::http::Tenant;
use botbuilder::ids::OrgId;
use botbuilder::integrations::model::IntegrationId;
use reqwest::Method;
use serde_json::{Value, json};

use crate::fake_http::{FakeServer, Received, Reply};
use crate::helpers::{Session, TestApp, assert_error, call_ok, send_as, spawn_app_with};

pub(crate) const SLACK_TOKEN: &str = "xoxb-1111-2222-GoodTokenSecret";
const BAD_SLACK_TOKEN: &str = "xoxb-9999-8888-RevokedTokenSecret";
pub(crate) const CLIENT_ID: &str = "1234-abcd.apps.googleusercontent.com";
pub(crate) const CLIENT_SECRET: &str = "GOCSPX-ClientSecretValue";
const ACCESS: &str = "ya29.FirstAccessTokenValue";
const REFRESHED: &str = "ya29.SecondAccessTokenValue";
const REFRESH: &str = "1//RefreshTokenValue";

fn json_reply(status: u16, v: &Value) -> Reply {
    Reply::Full(status, "application/json".into(), v.to_string().into_bytes())
}

fn form_of(r: &Received) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(&r.body).into_owned().collect()
}

pub(crate) fn query_of(url: &str) -> BTreeMap<String, String> {
    reqwest::Url::parse(url).expect("url").query_pairs().into_owned().collect()
}

/// PKCE S256: base64url(SHA-256(verifier)) is the challenge sent to the authorize page.
fn verifier_matches(challenge: Option<&str>, verifier: Option<&String>) -> bool {
    match (challenge, verifier) {
        (Some(challenge), Some(verifier)) => {
            let digest = botbuilder::crypto::sha256(verifier.as_bytes());
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest) == challenge
        }
        _ => false,
    }
}

/// What the fake Google authorization server expects of the code exchange.
#[derive(Default)]
pub(crate) struct Expected {
    pub(crate) challenge: Option<String>,
    pub(crate) redirect_uri: Option<String>,
}

/// A fake of Slack, Zendesk, Shopify and Google on one port.
pub(crate) async fn fake_providers(expected: Arc<Mutex<Expected>>) -> FakeServer {
    FakeServer::start(Arc::new(move |r: &Received| {
        let path = r.path.split('?').next().unwrap_or_default().to_owned();
        match (r.method.as_str(), path.as_str()) {
            // Slack: POST with the token as a bearer; always 200, `ok` says.
            ("POST", "/slack/api/auth.test") => match r.header("authorization") {
                Some(a) if a == format!("Bearer {SLACK_TOKEN}") => json_reply(
                    200,
                    &json!({"ok": true, "url": "https://acme.slack.com/", "team": "Acme", "user": "shopbot",
                            "team_id": "T012AB3C4", "user_id": "U061F7AUR", "bot_id": "B123"}),
                ),
                Some(_) => json_reply(200, &json!({"ok": false, "error": "invalid_auth"})),
                None => json_reply(200, &json!({"ok": false, "error": "not_authed"})),
            },
            // Zendesk: basic auth `{email}/token:{api_token}`.
            ("GET", "/zendesk/acme/api/v2/users/me.json") => {
                let good = format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode("agent@acme.example/token:zdTokenValue")
                );
                if r.header("authorization") == Some(good.as_str()) {
                    json_reply(200, &json!({"user": {"id": 35436, "name": "Agent", "email": "agent@acme.example", "role": "admin"}}))
                } else {
                    json_reply(401, &json!({"error": "Couldn't authenticate you"}))
                }
            }
            // Shopify: the X-Shopify-Access-Token header.
            ("GET", "/shopify/acme/admin/api/2024-07/shop.json") => {
                if r.header("x-shopify-access-token") == Some("shpat_TokenValue") {
                    json_reply(200, &json!({"shop": {"id": 548_380_009, "name": "Acme", "myshopify_domain": "acme.myshopify.com"}}))
                } else {
                    json_reply(
                        401,
                        &json!({"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}),
                    )
                }
            }
            // Google's token endpoint: authorization code (with PKCE) and refresh grants.
            ("POST", "/google/token") => {
                let f = form_of(r);
                if f.get("client_id").map(String::as_str) != Some(CLIENT_ID)
                    || f.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
                {
                    return json_reply(401, &json!({"error": "invalid_client", "error_description": "The OAuth client was not found."}));
                }
                match f.get("grant_type").map(String::as_str) {
                    Some("authorization_code") => {
                        let exp = expected.lock().expect("expected");
                        let verifier_ok = verifier_matches(exp.challenge.as_deref(), f.get("code_verifier"));
                        if f.get("code").map(String::as_str) != Some("4/good-code")
                            || f.get("redirect_uri") != exp.redirect_uri.as_ref()
                            || !verifier_ok
                        {
                            return json_reply(400, &json!({"error": "invalid_grant", "error_description": "Bad Request"}));
                        }
                        json_reply(
                            200,
                            &json!({"access_token": ACCESS, "expires_in": 3599, "refresh_token": REFRESH, "token_type": "Bearer",
                                    "scope": "https://www.googleapis.com/auth/gmail.readonly https://www.googleapis.com/auth/gmail.send"}),
                        )
                    }
                    Some("refresh_token") if f.get("refresh_token").map(String::as_str) == Some(REFRESH) => json_reply(
                        200,
                        &json!({"access_token": REFRESHED, "expires_in": 3599, "token_type": "Bearer",
                                "scope": "https://www.googleapis.com/auth/gmail.readonly"}),
                    ),
                    _ => json_reply(400, &json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."})),
                }
            }
            ("GET", "/google/gmail/v1/users/me/profile") => {
                let auth = r.header("authorization").unwrap_or_default();
                if auth == format!("Bearer {ACCESS}") || auth == format!("Bearer {REFRESHED}") {
                    json_reply(200, &json!({"emailAddress": "shop@acme.example", "messagesTotal": 12, "threadsTotal": 9}))
                } else {
                    json_reply(401, &json!({"error": {"code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED"}}))
                }
            }
            // Slack's app install: oauth.v2.access with the app's credentials in the form.
            ("POST", "/slack/api/oauth.v2.access") => {
                let f = form_of(r);
                let exp = expected.lock().expect("expected");
                let ok = verifier_matches(exp.challenge.as_deref(), f.get("code_verifier"))
                    && f.get("client_id").map(String::as_str) == Some("111.222")
                    && f.get("client_secret").map(String::as_str) == Some("SlackAppSecret")
                    && f.get("code").map(String::as_str) == Some("slack-code")
                    && f.get("redirect_uri").is_some_and(|u| u.ends_with("/oauth/callback"));
                if ok {
                    json_reply(200, &json!({"ok": true, "access_token": "xoxb-17653672481-OAuthToken", "token_type": "bot",
                        "scope": "chat:write,channels:history", "bot_user_id": "U0KRQLJ9H", "app_id": "A0KRD7HC3",
                        "team": {"name": "Acme", "id": "T9TK3CUKW"}, "authed_user": {"id": "U1234"}}))
                } else {
                    json_reply(200, &json!({"ok": false, "error": "invalid_code"}))
                }
            }
            // Meta: code → short-lived user token → long-lived user token → page token.
            ("GET", "/meta/oauth/access_token") => {
                let q = query_of(&format!("http://x{}", r.path));
                if q.get("client_id").map(String::as_str) != Some("app1") || q.get("client_secret").map(String::as_str) != Some("MetaAppSecret") {
                    return json_reply(400, &json!({"error": {"message": "Error validating client secret.", "type": "OAuthException", "code": 1}}));
                }
                match (q.get("grant_type").map(String::as_str), q.get("code"), q.get("fb_exchange_token")) {
                    (None, Some(code), _) if code == "meta-code" && q.get("redirect_uri").is_some_and(|u| u.ends_with("/oauth/callback")) => {
                        json_reply(200, &json!({"access_token": "EAAShortUserToken", "token_type": "bearer", "expires_in": 5_183_944}))
                    }
                    (Some("fb_exchange_token"), _, Some(t)) if t == "EAAShortUserToken" => {
                        json_reply(200, &json!({"access_token": "EAALongUserToken", "token_type": "bearer", "expires_in": 5_183_944}))
                    }
                    _ => json_reply(400, &json!({"error": {"message": "Invalid verification code format.", "type": "OAuthException", "code": 100}})),
                }
            }
            ("GET", "/meta/me/accounts") => {
                if r.header("authorization") == Some("Bearer EAALongUserToken") {
                    json_reply(200, &json!({"data": [{"id": "999", "name": "Other Page", "access_token": "EAAOtherPage"},
                                                      {"id": "1234", "name": "Acme Page", "access_token": "EAAPageToken"}]}))
                } else {
                    json_reply(400, &json!({"error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}}))
                }
            }
            _ => json_reply(404, &json!({"error": "not found"})),
        }
    }))
    .await
}

/// Points every provider base URL of the configuration at the fake.
pub(crate) fn point_at(c: &mut botbuilder::config::Config, base: &str) {
    let i = &mut c.integrations;
    i.slack_api_base = format!("{base}/slack");
    i.zendesk_api_base = format!("{base}/zendesk/{{subdomain}}");
    i.shopify_api_base = format!("{base}/shopify/{{shop}}");
    i.google_api_base = format!("{base}/google");
    i.google_token_url = format!("{base}/google/token");
    i.google_authorize_url = format!("{base}/google/auth");
    i.meta_api_base = format!("{base}/meta");
    i.meta_authorize_url = format!("{base}/meta/dialog/oauth");
}

struct Setup {
    app: TestApp,
    fake: FakeServer,
    expected: Arc<Mutex<Expected>>,
    s: Session,
}

async fn setup() -> Setup {
    let expected = Arc::new(Mutex::new(Expected::default()));
    let fake = fake_providers(expected.clone()).await;
    let base = fake.base.clone();
    let app = spawn_app_with(|c| point_at(c, &base)).await;
    let s = app.register("vault@example.com").await;
    Setup { app, fake, expected, s }
}

fn raw_secrets(app: &TestApp, id: i64) -> Vec<u8> {
    app.sql(|c| {
        c.query_row("SELECT coalesce(credentials_encrypted, X'') FROM integrations WHERE id = ?1", [id], |r| r.get(0))
    })
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Every stored byte of the integration tables and the audit log, as text.
fn all_stored_text(app: &TestApp) -> String {
    app.sql(|c| {
        c.query_row(
            "SELECT coalesce((SELECT group_concat(coalesce(request_data, '') || coalesce(response_data, '') || coalesce(error_message, ''), ' ') FROM integration_logs), '')
                 || coalesce((SELECT group_concat(config || metadata || scopes || coalesce(error_message, ''), ' ') FROM integrations), '')
                 || coalesce((SELECT group_concat(coalesce(old_values, '') || coalesce(new_values, ''), ' ') FROM audit_logs), '')",
            [],
            |r| r.get(0),
        )
    })
}

async fn create(app: &TestApp, s: &Session, body: Value) -> Value {
    call_ok(app, s, Method::POST, &format!("/api/v1/orgs/{}/integrations", s.org_id), Some(body)).await
}

#[tokio::test]
async fn the_vault_seals_credentials_answers_only_which_are_set_and_validates_per_type() {
    let st = setup().await;
    let (app, s) = (&st.app, &st.s);
    let org = s.org_id;
    let created =
        create(app, s, json!({"type": "slack", "name": "Acme workspace", "credentials": {"bot_token": SLACK_TOKEN}}))
            .await;
    let id = created["id"].as_i64().expect("id");
    assert_eq!(created["credentials"], json!({"bot_token": "set"}));
    assert_eq!(created["status"], "disconnected");
    assert!(!created.to_string().contains(SLACK_TOKEN));
    // Sealed in the data file: the raw column does not hold the token.
    let raw = raw_secrets(app, id);
    assert!(raw.len() > 40, "sealed bytes stored");
    assert!(!contains(&raw, SLACK_TOKEN) && !contains(&raw, "GoodTokenSecret"));
    let shown = call_ok(app, s, Method::GET, &format!("/api/v1/integrations/{id}"), None).await;
    let listed = call_ok(app, s, Method::GET, &format!("/api/v1/orgs/{org}/integrations"), None).await;
    assert_eq!(listed["items"][0]["id"], id);
    for body in [&shown, &listed] {
        assert!(!body.to_string().contains("GoodTokenSecret"), "{body}");
    }
    let types = call_ok(app, s, Method::GET, &format!("/api/v1/orgs/{org}/integration-types"), None).await;
    let zendesk = types.as_array().expect("types").iter().find(|t| t["type"] == "zendesk").expect("zendesk");
    assert_eq!(zendesk["credentials"][0]["name"], "api_token");

    // Bad inputs: a clear 422 naming the field.
    let url = format!("/api/v1/orgs/{org}/integrations");
    let bad = |body: Value| send_as(app, s, Method::POST, &url, Some(body));
    let e = assert_error(bad(json!({"type": "teams", "name": "x"})).await, 422, "unknown_integration_type").await;
    assert_eq!(e["error"]["details"]["field"], "type");
    assert!(e["error"]["details"]["known"].as_array().expect("known").contains(&json!("meta")));
    for (body, field) in [
        (
            json!({"type": "zendesk", "name": "Z", "config": {"email": "a@b.c"}, "credentials": {"api_token": "t"}}),
            "config.subdomain",
        ),
        (
            json!({"type": "zendesk", "name": "Z", "config": {"subdomain": "ac me", "email": "a@b.c"}, "credentials": {"api_token": "t"}}),
            "config.subdomain",
        ),
        (
            json!({"type": "zendesk", "name": "Z", "config": {"subdomain": "acme", "email": "a@b.c"}}),
            "credentials.api_token",
        ),
        (json!({"type": "slack", "name": "S"}), "credentials.bot_token"),
        (
            json!({"type": "slack", "name": "S", "credentials": {"bot_token": "x", "password": "p"}}),
            "credentials.password",
        ),
        (json!({"type": "slack", "name": "S", "credentials": {"bot_token": "has space"}}), "credentials.bot_token"),
        (json!({"type": "slack", "name": "S", "config": {"client_id": "1.2"}}), "credentials.client_secret"),
        (
            json!({"type": "slack", "name": "S", "config": {"client_id": 12}, "credentials": {"client_secret": "s"}}),
            "config.client_id",
        ),
        (json!({"type": "gmail", "name": "G", "credentials": {"client_secret": "s"}}), "config.client_id"),
        (
            json!({"type": "slack", "name": "S", "credentials": {"bot_token": "x"}, "scopes": ["chat:write", "bad scope"]}),
            "scopes[1]",
        ),
        (
            json!({"type": "custom", "name": "C", "config": {"url": "ftp://x"}, "credentials": {"secret": "s"}}),
            "config.url",
        ),
        (json!({"type": "slack", "name": "", "credentials": {"bot_token": "x"}}), "name"),
    ] {
        let r = bad(body.clone()).await;
        let status = r.status().as_u16();
        let e: Value = r.json().await.expect("json");
        assert_eq!(status, 422, "{body}: {e}");
        assert_eq!(e["error"]["details"]["field"], field, "{body}: {e}");
    }
    let e = assert_error(
        bad(json!({"type": "slack", "name": "Acme workspace", "credentials": {"bot_token": "x"}})).await,
        409,
        "name_taken",
    )
    .await;
    assert_eq!(e["error"]["details"]["field"], "name");

    // Update: a new secret replaces the field, null removes it; settings and secrets changes disconnect.
    let patched = call_ok(
        app,
        s,
        Method::PATCH,
        &format!("/api/v1/integrations/{id}"),
        Some(json!({"name": "Renamed", "config": {"client_id": "111.222"}, "credentials": {"client_secret": "appsecret"}})),
    )
    .await;
    assert_eq!(patched["name"], "Renamed");
    assert_eq!(patched["config"], json!({"client_id": "111.222"}));
    assert_eq!(patched["credentials"], json!({"bot_token": "set", "client_secret": "set"}));
    let patched = call_ok(
        app,
        s,
        Method::PATCH,
        &format!("/api/v1/integrations/{id}"),
        Some(json!({"credentials": {"bot_token": null}})),
    )
    .await;
    assert_eq!(patched["credentials"], json!({"client_secret": "set"}));
    let r = send_as(
        app,
        s,
        Method::PATCH,
        &format!("/api/v1/integrations/{id}"),
        Some(json!({"credentials": {"client_secret": null}})),
    )
    .await;
    let e = assert_error(r, 422, "validation_failed").await;
    assert_eq!(e["error"]["details"]["field"], "credentials.client_secret");
    // Without a token (only the OAuth app), there is nothing to test with yet.
    let r = send_as(app, s, Method::POST, &format!("/api/v1/integrations/{id}/test"), None).await;
    assert_error(r, 409, "integration_not_connected").await;

    // Another organization sees nothing.
    let other = app.register("other-vault@example.com").await;
    let r = send_as(app, &other, Method::GET, &format!("/api/v1/integrations/{id}"), None).await;
    assert_error(r, 404, "integration_not_found").await;

    // A data file re-keyed with `--rekey` has its sealed column cleared: nothing reads as set.
    app.sql(|c| c.execute("UPDATE integrations SET credentials_encrypted = NULL WHERE id = ?1", [id]));
    let cleared = call_ok(app, s, Method::GET, &format!("/api/v1/integrations/{id}"), None).await;
    assert_eq!(cleared["credentials"], json!({}));

    let r = send_as(app, s, Method::DELETE, &format!("/api/v1/integrations/{id}"), None).await;
    assert_eq!(r.status(), 204);
    let r = send_as(app, s, Method::GET, &format!("/api/v1/integrations/{id}"), None).await;
    assert_error(r, 404, "integration_not_found").await;
    let stored = all_stored_text(app);
    for secret in ["GoodTokenSecret", "appsecret"] {
        assert!(!stored.contains(secret), "{secret} found in stored text");
    }
}

#[tokio::test]
async fn test_connection_succeeds_is_rejected_or_unreachable_and_every_call_is_logged_without_secrets() {
    let st = setup().await;
    let (app, s) = (&st.app, &st.s);
    let created =
        create(app, s, json!({"type": "slack", "name": "Acme", "credentials": {"bot_token": SLACK_TOKEN}})).await;
    let id = created["id"].as_i64().expect("id");

    let ok = call_ok(app, s, Method::POST, &format!("/api/v1/integrations/{id}/test"), None).await;
    assert_eq!(ok["ok"], true);
    assert_eq!(ok["account"]["team"], "Acme");
    assert_eq!(ok["account"]["user_id"], "U061F7AUR");
    assert_eq!(ok["integration"]["status"], "connected");
    assert!(ok["integration"]["error_message"].is_null());
    let calls: Vec<Received> = st.fake.requests().into_iter().filter(|r| r.path == "/slack/api/auth.test").collect();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].method, "POST");
    assert_eq!(calls[0].header("authorization"), Some(format!("Bearer {SLACK_TOKEN}").as_str()));

    // A revoked token: Slack's `{"ok": false, "error": "invalid_auth"}` → 422 with its words.
    call_ok(
        app,
        s,
        Method::PATCH,
        &format!("/api/v1/integrations/{id}"),
        Some(json!({"credentials": {"bot_token": BAD_SLACK_TOKEN}})),
    )
    .await;
    let r = send_as(app, s, Method::POST, &format!("/api/v1/integrations/{id}/test"), None).await;
    let e = assert_error(r, 422, "integration_credentials_rejected").await;
    assert_eq!(e["error"]["details"]["provider_description"], "invalid_auth");
    assert!(e["error"]["message"].as_str().expect("message").contains("Slack"));
    let shown = call_ok(app, s, Method::GET, &format!("/api/v1/integrations/{id}"), None).await;
    assert_eq!(shown["status"], "error");
    assert!(shown["error_message"].as_str().expect("last error").contains("invalid_auth"));

    // Unreachable: a port nobody listens on → 502.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let custom = create(
        app,
        s,
        json!({"type": "custom", "name": "Down", "config": {"url": format!("http://127.0.0.1:{closed}/ping")},
               "credentials": {"secret": "CustomSecretValue"}}),
    )
    .await;
    let cid = custom["id"].as_i64().expect("id");
    let r = send_as(app, s, Method::POST, &format!("/api/v1/integrations/{cid}/test"), None).await;
    let e = assert_error(r, 502, "integration_provider_unavailable").await;
    assert!(e["error"]["details"]["provider_description"].as_str().is_some_and(|d| !d.is_empty()), "{e}");

    // Zendesk (basic auth on the account's subdomain) and Shopify (access-token header).
    let zd = create(
        app,
        s,
        json!({"type": "zendesk", "name": "Support", "config": {"subdomain": "Acme.zendesk.com", "email": "agent@acme.example"},
               "credentials": {"api_token": "zdTokenValue"}}),
    )
    .await;
    assert_eq!(zd["config"]["subdomain"], "acme");
    let zok = call_ok(app, s, Method::POST, &format!("/api/v1/integrations/{}/test", zd["id"]), None).await;
    assert_eq!(zok["account"]["role"], "admin");
    let shop = create(app, s, json!({"type": "shopify", "name": "Store", "config": {"shop": "acme"}, "credentials": {"access_token": "shpat_Wrong"}})).await;
    let r = send_as(app, s, Method::POST, &format!("/api/v1/integrations/{}/test", shop["id"]), None).await;
    let e = assert_error(r, 422, "integration_credentials_rejected").await;
    assert!(e["error"]["details"]["provider_description"].as_str().expect("words").contains("Invalid API key"));
    call_ok(
        app,
        s,
        Method::PATCH,
        &format!("/api/v1/integrations/{}", shop["id"]),
        Some(json!({"credentials": {"access_token": "shpat_TokenValue"}})),
    )
    .await;
    let sok = call_ok(app, s, Method::POST, &format!("/api/v1/integrations/{}/test", shop["id"]), None).await;
    assert_eq!(sok["account"]["myshopify_domain"], "acme.myshopify.com");

    // The log: newest first, request and response excerpts, results, durations.
    let logs = call_ok(app, s, Method::GET, &format!("/api/v1/integrations/{id}/logs?limit=1"), None).await;
    assert_eq!(logs["items"].as_array().expect("items").len(), 1);
    let newest = &logs["items"][0];
    assert_eq!(newest["action"], "test_connection");
    assert_eq!(newest["action_type"], "test");
    assert_eq!(newest["result"], "failure");
    assert_eq!(newest["request"]["method"], "POST");
    assert!(newest["request"]["url"].as_str().expect("url").ends_with("/slack/api/auth.test"));
    assert_eq!(newest["response"]["status"], 200);
    assert_eq!(newest["response"]["body"]["error"], "invalid_auth");
    assert!(newest["duration_ms"].is_i64());
    let cursor = logs["next_cursor"].as_str().expect("cursor");
    let older =
        call_ok(app, s, Method::GET, &format!("/api/v1/integrations/{id}/logs?limit=5&after={cursor}"), None).await;
    assert_eq!(older["items"].as_array().expect("items").len(), 1);
    assert_eq!(older["items"][0]["result"], "success");
    assert_eq!(older["items"][0]["response"]["body"]["team"], "Acme");
    let down = call_ok(app, s, Method::GET, &format!("/api/v1/integrations/{cid}/logs"), None).await;
    assert_eq!(down["items"][0]["result"], "failure");
    assert!(down["items"][0]["response"]["error"].is_string());

    let stored = all_stored_text(app);
    for secret in [SLACK_TOKEN, BAD_SLACK_TOKEN, "CustomSecretValue", "zdTokenValue", "shpat_TokenValue", "shpat_Wrong"]
    {
        assert!(!stored.contains(secret), "{secret} found in stored text");
    }
    assert_eq!(app.count("SELECT count(*) FROM integration_logs"), 6);
}

/// The Set-Cookie `name=value` pair of the browser-binding cookie.
fn binding_cookie(r: &reqwest::Response) -> String {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("__Host-bb_oauth="))
        .expect("binding cookie")
        .split(';')
        .next()
        .expect("pair")
        .to_owned()
}

/// Creates a Gmail integration with its OAuth app, starts the flow and
/// returns (id, authorize URL's parameters, binding cookie).
async fn start_gmail(st: &Setup, s: &Session, name: &str) -> (i64, BTreeMap<String, String>, String) {
    let created = create(
        &st.app,
        s,
        json!({"type": "gmail", "name": name, "config": {"client_id": CLIENT_ID}, "credentials": {"client_secret": CLIENT_SECRET}}),
    )
    .await;
    let id = created["id"].as_i64().expect("id");
    let r = send_as(&st.app, s, Method::POST, &format!("/api/v1/integrations/{id}/oauth/start"), None).await;
    assert_eq!(r.status(), 200);
    let cookie = binding_cookie(&r);
    let started: Value = r.json().await.expect("json");
    let authorize = started["authorize_url"].as_str().expect("authorize_url");
    assert!(authorize.starts_with(&format!("{}/google/auth?", st.fake.base)), "{authorize}");
    let q = query_of(authorize);
    assert_eq!(q["redirect_uri"], started["redirect_uri"].as_str().expect("redirect_uri"));
    let mut exp = st.expected.lock().expect("expected");
    exp.challenge = Some(q["code_challenge"].clone());
    exp.redirect_uri = Some(q["redirect_uri"].clone());
    (id, q, cookie)
}

async fn callback(app: &TestApp, query: &[(&str, &str)], cookie: Option<&str>) -> BTreeMap<String, String> {
    let mut url = reqwest::Url::parse(&app.url("/oauth/callback")).expect("url");
    url.query_pairs_mut().extend_pairs(query);
    let mut req = app.client.get(url);
    if let Some(c) = cookie {
        req = req.header("Cookie", c);
    }
    let r = req.send().await.expect("callback");
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().expect("location").to_owned();
    assert!(location.starts_with("/settings/integrations?"), "{location}");
    query_of(&format!("http://x{location}"))
}

fn token_calls(fake: &FakeServer) -> Vec<BTreeMap<String, String>> {
    fake.requests().iter().filter(|r| r.path == "/google/token").map(form_of).collect()
}

#[tokio::test]
async fn oauth_connect_round_trip_with_pkce_stores_tokens_sealed_and_refreshes_an_expired_token() {
    let st = setup().await;
    let (app, s) = (&st.app, &st.s);
    let (id, q, cookie) = start_gmail(&st, s, "Shop mail").await;
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["access_type"], "offline");
    assert!(q["redirect_uri"].ends_with("/oauth/callback"), "{}", q["redirect_uri"]);
    assert_eq!(q["scope"], "https://www.googleapis.com/auth/gmail.readonly https://www.googleapis.com/auth/gmail.send");
    let state = q["state"].clone();
    assert!(state.len() >= 40);
    // Stored hashed: the state itself is nowhere in the data file.
    assert_eq!(app.count("SELECT count(*) FROM integration_oauth_states"), 1);
    let raw_hash: Vec<u8> =
        app.sql(|c| c.query_row("SELECT state_hash FROM integration_oauth_states", [], |r| r.get(0)));
    assert_eq!(raw_hash, botbuilder::crypto::sha256(state.as_bytes()).to_vec());

    let back =
        callback(app, &[("code", "4/good-code"), ("state", &state), ("scope", &q["scope"])], Some(&cookie)).await;
    assert_eq!(back.get("oauth").map(String::as_str), Some("connected"), "{back:?}");
    assert_eq!(back["integration"], id.to_string());
    let calls = token_calls(&st.fake);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["grant_type"], "authorization_code");
    assert_eq!(calls[0]["redirect_uri"], q["redirect_uri"]);

    let shown = call_ok(app, s, Method::GET, &format!("/api/v1/integrations/{id}"), None).await;
    assert_eq!(shown["status"], "connected");
    assert_eq!(shown["credentials"], json!({"access_token": "set", "client_secret": "set", "refresh_token": "set"}));
    assert_eq!(shown["scopes"].as_array().expect("scopes").len(), 2);
    assert!(shown["token_expires_at"].is_string());
    let raw = raw_secrets(app, id);
    for secret in [ACCESS, REFRESH, CLIENT_SECRET] {
        assert!(!contains(&raw, secret), "{secret} readable in the raw column");
    }
    // The token works.
    let tested = call_ok(app, s, Method::POST, &format!("/api/v1/integrations/{id}/test"), None).await;
    assert_eq!(tested["account"]["emailAddress"], "shop@acme.example");

    // The state is single-use: replaying the callback stores nothing more.
    let again = callback(app, &[("code", "4/good-code"), ("state", &state)], Some(&cookie)).await;
    assert_eq!(again["oauth"], "error");
    assert_eq!(again["reason"], "state_used");
    assert_eq!(token_calls(&st.fake).len(), 1);

    // access_token: valid → no call; expired → refresh_token grant, new token stored.
    let tenant = Tenant::system(OrgId(s.org_id), "test");
    let iid = IntegrationId(id);
    let token = botbuilder::integrations::service::access_token(&app.state, &tenant, iid).await.expect("token");
    assert_eq!(token, ACCESS);
    assert_eq!(token_calls(&st.fake).len(), 1);
    app.sql(|c| c.execute("UPDATE integrations SET token_expires_at = '2020-01-01T00:00:00.000Z' WHERE id = ?1", [id]));
    let token = botbuilder::integrations::service::access_token(&app.state, &tenant, iid).await.expect("refreshed");
    assert_eq!(token, REFRESHED);
    let calls = token_calls(&st.fake);
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1]["grant_type"], "refresh_token");
    assert_eq!(calls[1]["refresh_token"], REFRESH);
    let shown = call_ok(app, s, Method::GET, &format!("/api/v1/integrations/{id}"), None).await;
    assert!(shown["token_expires_at"].as_str().expect("expiry") > "2026", "{shown}");
    assert_eq!(shown["credentials"]["refresh_token"], "set", "the refresh token is kept when none is returned");
    let token = botbuilder::integrations::service::access_token(&app.state, &tenant, iid).await.expect("cached");
    assert_eq!(token, REFRESHED);
    assert_eq!(token_calls(&st.fake).len(), 2);
    let logs = call_ok(app, s, Method::GET, &format!("/api/v1/integrations/{id}/logs"), None).await;
    let actions: Vec<&str> =
        logs["items"].as_array().expect("items").iter().filter_map(|l| l["action"].as_str()).collect();
    assert_eq!(actions, ["oauth.refresh", "test_connection", "oauth.token"]);

    // A refresh token the provider refuses: 409, logged, the integration marked `error`.
    let sealed = app.state.keys.encrypt(
        json!({"access_token": "ya29.Old", "refresh_token": "1//Revoked", "client_secret": CLIENT_SECRET})
            .to_string()
            .as_bytes(),
        &format!("integrations.credentials_encrypted:{id}"),
    );
    app.sql(|c| {
        c.execute(
            "UPDATE integrations SET credentials_encrypted = ?1, token_expires_at = '2020-01-01T00:00:00.000Z' WHERE id = ?2",
            rusqlite::params![sealed, id],
        )
    });
    let e = botbuilder::integrations::service::access_token(&app.state, &tenant, iid).await.expect_err("refused");
    assert_eq!(e.code().as_str(), "integration_not_connected");
    assert!(e.message().contains("Token has been expired or revoked"), "{}", e.message());
    let shown = call_ok(app, s, Method::GET, &format!("/api/v1/integrations/{id}"), None).await;
    assert_eq!(shown["status"], "error");
    let logs = call_ok(app, s, Method::GET, &format!("/api/v1/integrations/{id}/logs?limit=1"), None).await;
    assert_eq!(
        (logs["items"][0]["action"].as_str(), logs["items"][0]["result"].as_str()),
        (Some("oauth.refresh"), Some("failure"))
    );

    let stored = all_stored_text(app);
    for secret in [ACCESS, REFRESHED, REFRESH, CLIENT_SECRET, "4/good-code", state.as_str(), "1//Revoked"] {
        assert!(!stored.contains(secret), "{secret} found in stored text");
    }
}

#[tokio::test]
async fn refused_callbacks_store_nothing_and_say_why() {
    let st = setup().await;
    let (app, s) = (&st.app, &st.s);
    let (id, q, cookie) = start_gmail(&st, s, "Mail").await;
    let state = q["state"].clone();
    let untouched = |app: &TestApp| {
        let (status, names): (String, String) = app.sql(|c| {
            c.query_row(
                "SELECT status, json_extract(metadata, '$.secret_fields') FROM integrations WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        });
        assert_eq!(status, "disconnected");
        assert_eq!(names, r#"["client_secret"]"#);
    };

    // An unknown state.
    let back = callback(app, &[("code", "4/good-code"), ("state", "forged-state-value")], Some(&cookie)).await;
    assert_eq!((back["oauth"].as_str(), back["reason"].as_str()), ("error", "state_invalid"));
    assert!(!back["message"].is_empty());
    // No state at all.
    let back = callback(app, &[("code", "4/good-code")], None).await;
    assert_eq!(back["reason"], "missing_state");

    // Another organization's user, in their own browser, with this state.
    let other = app.register("intruder@example.com").await;
    let (_, _, other_cookie) = start_gmail(&st, &other, "Their mail").await;
    let back = callback(app, &[("code", "4/good-code"), ("state", &state)], Some(&other_cookie)).await;
    assert_eq!(back["reason"], "state_wrong_browser");
    let back = callback(app, &[("code", "4/good-code"), ("state", &state)], None).await;
    assert_eq!(back["reason"], "state_wrong_browser");
    untouched(app);

    // The user refused at the provider: the state is spent, nothing stored.
    let (_, q2, cookie2) = start_gmail(&st, s, "Mail 2").await;
    let back = callback(app, &[("error", "access_denied"), ("state", &q2["state"])], Some(&cookie2)).await;
    assert_eq!(back["reason"], "access_denied");
    assert!(back["message"].contains("refused"));
    let back = callback(app, &[("code", "4/good-code"), ("state", &q2["state"])], Some(&cookie2)).await;
    assert_eq!(back["reason"], "state_used");

    // Expired (older than 10 minutes).
    app.sql(|c| {
        c.execute(
            "UPDATE integration_oauth_states SET expires_at = '2020-01-01T00:00:00.000Z' WHERE integration_id = ?1",
            [id],
        )
    });
    let back = callback(app, &[("code", "4/good-code"), ("state", &state)], Some(&cookie)).await;
    assert_eq!(back["reason"], "state_expired");
    untouched(app);

    // The token endpoint refuses the code.
    let (id3, q3, cookie3) = start_gmail(&st, s, "Mail 3").await;
    let back = callback(app, &[("code", "4/stolen-code"), ("state", &q3["state"])], Some(&cookie3)).await;
    assert_eq!(back["reason"], "token_exchange_failed");
    assert!(back["message"].contains("Bad Request"), "{back:?}");
    let shown = call_ok(app, s, Method::GET, &format!("/api/v1/integrations/{id3}"), None).await;
    assert_eq!(shown["credentials"], json!({"client_secret": "set"}));
    assert_eq!(shown["status"], "disconnected");
    let logs = call_ok(app, s, Method::GET, &format!("/api/v1/integrations/{id3}/logs"), None).await;
    assert_eq!(logs["items"][0]["action"], "oauth.token");
    assert_eq!(logs["items"][0]["result"], "failure");
    assert_eq!(logs["items"][0]["response"]["body"]["error"], "invalid_grant");

    // Only the one bad code reached the token endpoint.
    assert_eq!(token_calls(&st.fake).len(), 1);
    untouched(app);
    let stored = all_stored_text(app);
    assert!(!stored.contains("4/stolen-code") && !stored.contains(CLIENT_SECRET));

    // Types without OAuth, and OAuth without the app, are refused at start.
    let zd = create(app, s, json!({"type": "zendesk", "name": "Z", "config": {"subdomain": "acme", "email": "a@acme.example"}, "credentials": {"api_token": "t"}})).await;
    let r = send_as(app, s, Method::POST, &format!("/api/v1/integrations/{}/oauth/start", zd["id"]), None).await;
    let e = assert_error(r, 422, "oauth_not_supported").await;
    assert_eq!(e["error"]["details"]["field"], "type");
    let slack = create(app, s, json!({"type": "slack", "name": "S", "credentials": {"bot_token": "xoxb-1"}})).await;
    let r = send_as(app, s, Method::POST, &format!("/api/v1/integrations/{}/oauth/start", slack["id"]), None).await;
    let e = assert_error(r, 422, "validation_failed").await;
    assert_eq!(e["error"]["details"]["field"], "config.client_id");
}

#[tokio::test]
async fn slack_install_and_meta_page_connect_speak_their_token_formats() {
    let st = setup().await;
    let (app, s) = (&st.app, &st.s);
    let tenant = Tenant::system(OrgId(s.org_id), "test");

    // Slack: the app install (oauth.v2.access), scopes comma-separated, no PKCE.
    let slack = create(app, s, json!({"type": "slack", "name": "Install", "config": {"client_id": "111.222"},
                                      "credentials": {"client_secret": "SlackAppSecret"}, "scopes": ["chat:write", "channels:history"]})).await;
    let id = slack["id"].as_i64().expect("id");
    let r = send_as(app, s, Method::POST, &format!("/api/v1/integrations/{id}/oauth/start"), None).await;
    let cookie = binding_cookie(&r);
    let started: Value = r.json().await.expect("json");
    let authorize = started["authorize_url"].as_str().expect("url");
    assert!(authorize.starts_with(&format!("{}/slack/oauth/v2/authorize?", st.fake.base)), "{authorize}");
    let q = query_of(authorize);
    assert_eq!(q["scope"], "chat:write,channels:history");
    assert_eq!(q["code_challenge_method"], "S256");
    st.expected.lock().expect("expected").challenge = Some(q["code_challenge"].clone());
    let back = callback(app, &[("code", "slack-code"), ("state", &q["state"])], Some(&cookie)).await;
    assert_eq!(back.get("oauth").map(String::as_str), Some("connected"), "{back:?}");
    let shown = call_ok(app, s, Method::GET, &format!("/api/v1/integrations/{id}"), None).await;
    assert_eq!(shown["status"], "connected");
    assert_eq!(shown["scopes"], json!(["chat:write", "channels:history"]));
    assert!(shown["token_expires_at"].is_null());
    let token =
        botbuilder::integrations::service::access_token(&app.state, &tenant, IntegrationId(id)).await.expect("token");
    assert_eq!(token, "xoxb-17653672481-OAuthToken");

    // Slack refusing the code: `{"ok": false}` on a 200 is a failure too.
    let r = send_as(app, s, Method::POST, &format!("/api/v1/integrations/{id}/oauth/start"), None).await;
    let cookie = binding_cookie(&r);
    let started: Value = r.json().await.expect("json");
    let q = query_of(started["authorize_url"].as_str().expect("url"));
    st.expected.lock().expect("expected").challenge = Some(q["code_challenge"].clone());
    let back = callback(app, &[("code", "expired-code"), ("state", &q["state"])], Some(&cookie)).await;
    assert_eq!(back["reason"], "token_exchange_failed");
    assert!(back["message"].contains("invalid_code"), "{back:?}");

    // Meta: short-lived → long-lived user token → the configured page's token (does not expire).
    let meta = create(
        app,
        s,
        json!({"type": "meta", "name": "Page", "config": {"client_id": "app1", "page_id": "1234"},
                                     "credentials": {"client_secret": "MetaAppSecret"}}),
    )
    .await;
    let mid = meta["id"].as_i64().expect("id");
    let r = send_as(app, s, Method::POST, &format!("/api/v1/integrations/{mid}/oauth/start"), None).await;
    let cookie = binding_cookie(&r);
    let started: Value = r.json().await.expect("json");
    let authorize = started["authorize_url"].as_str().expect("url");
    assert!(authorize.starts_with(&format!("{}/meta/dialog/oauth?", st.fake.base)), "{authorize}");
    let q = query_of(authorize);
    assert_eq!(q["scope"], "pages_show_list,pages_messaging,pages_manage_metadata");
    let back = callback(app, &[("code", "meta-code"), ("state", &q["state"])], Some(&cookie)).await;
    assert_eq!(back.get("oauth").map(String::as_str), Some("connected"), "{back:?}");
    let shown = call_ok(app, s, Method::GET, &format!("/api/v1/integrations/{mid}"), None).await;
    assert_eq!(
        shown["credentials"],
        json!({"access_token": "set", "client_secret": "set", "user_access_token": "set"})
    );
    assert!(shown["token_expires_at"].is_null(), "a page token does not expire: {shown}");
    let token =
        botbuilder::integrations::service::access_token(&app.state, &tenant, IntegrationId(mid)).await.expect("token");
    assert_eq!(token, "EAAPageToken");
    let logs = call_ok(app, s, Method::GET, &format!("/api/v1/integrations/{mid}/logs"), None).await;
    let actions: Vec<&str> =
        logs["items"].as_array().expect("items").iter().filter_map(|l| l["action"].as_str()).collect();
    assert_eq!(actions, ["oauth.page_token", "oauth.long_lived", "oauth.token"]);

    let stored = all_stored_text(app);
    for secret in [
        "SlackAppSecret",
        "MetaAppSecret",
        "OAuthToken",
        "EAAShortUserToken",
        "EAALongUserToken",
        "EAAPageToken",
        "meta-code",
        "slack-code",
    ] {
        assert!(!stored.contains(secret), "{secret} found in stored text");
    }
    for id in [id, mid] {
        let raw = raw_secrets(app, id);
        assert!(
            !contains(&raw, "OAuthToken") && !contains(&raw, "EAAPageToken") && !contains(&raw, "EAALongUserToken")
        );
    }
}

//! OpenID Connect single sign-on against a fake identity provider started
//! by the test: discovery, JWKS (test RSA keys, rotated mid-test), token
//! endpoint (checks the PKCE verifier and client secret), userinfo. Claims
//! shaped as Okta, Microsoft Entra ID, Keycloak, Google Workspace and Authentik send them. Every refused
//! sign-in must be logged in `sso_login_logs` with its reason.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{Value, json};

use crate::fake_http::{FakeServer, Received, Reply};
use crate::helpers::{PASSWORD, Session, TestApp, assert_error, call_ok, spawn_app_with};

const KEY_A: &str = include_str!("fixtures/oidc/a.pem");
const KEY_A_N: &str = include_str!("fixtures/oidc/a.n");
const KEY_B: &str = include_str!("fixtures/oidc/b.pem");
const KEY_B_N: &str = include_str!("fixtures/oidc/b.n");
const KEY_OTHER: &str = include_str!("fixtures/oidc/other.pem");
const CLIENT_ID: &str = "bb-client";
const CLIENT_SECRET: &str = "s3cret-client";

/// A code the fake `IdP` will redeem once.
struct Grant {
    id_token: String,
    challenge: String,
    userinfo: Value,
}

#[derive(Default)]
struct IdpState {
    issuer: String,
    /// (kid, base64url modulus) published in the JWKS.
    jwks: Vec<(String, String)>,
    grants: HashMap<String, Grant>,
    /// The discovery document served instead of the real one.
    discovery_override: Option<(u16, String)>,
    /// Files served under `/verify/{domain}`.
    files: HashMap<String, String>,
    /// Refresh tokens the token endpoint accepts → the ID token to answer.
    refresh: HashMap<String, String>,
}

struct Idp {
    server: FakeServer,
    state: Arc<Mutex<IdpState>>,
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn json_reply(status: u16, v: &Value) -> Reply {
    Reply::Full(status, "application/json".into(), v.to_string().into_bytes())
}

fn handle(state: &Arc<Mutex<IdpState>>, r: &Received) -> Reply {
    let mut s = state.lock().expect("idp");
    let path = r.path.split('?').next().unwrap_or("").to_owned();
    match path.as_str() {
        "/.well-known/openid-configuration" => {
            if let Some((status, body)) = &s.discovery_override {
                return Reply::Full(*status, "application/json".into(), body.clone().into_bytes());
            }
            let iss = &s.issuer;
            json_reply(
                200,
                &json!({
                    "issuer": iss,
                    "authorization_endpoint": format!("{iss}/authorize"),
                    "token_endpoint": format!("{iss}/token"),
                    "userinfo_endpoint": format!("{iss}/userinfo"),
                    "jwks_uri": format!("{iss}/jwks"),
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "code_challenge_methods_supported": ["S256"]
                }),
            )
        }
        "/jwks" => {
            let keys: Vec<Value> = s
                .jwks
                .iter()
                .map(|(kid, n)| json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": n.trim(), "e": "AQAB"}))
                .collect();
            json_reply(200, &json!({ "keys": keys }))
        }
        "/token" => {
            let f = form(&r.body);
            let basic = base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
            if r.header("authorization") != Some(&format!("Basic {basic}")) {
                return json_reply(401, &json!({"error": "invalid_client"}));
            }
            if f.get("grant_type").map(String::as_str) == Some("refresh_token") {
                let Some(id_token) = f.get("refresh_token").and_then(|t| s.refresh.get(t)).cloned() else {
                    return json_reply(400, &json!({"error": "invalid_grant"}));
                };
                return json_reply(
                    200,
                    &json!({"access_token": "at-refresh", "id_token": id_token, "token_type": "Bearer"}),
                );
            }
            let Some(grant) = f.get("code").and_then(|c| s.grants.remove(c)) else {
                return json_reply(400, &json!({"error": "invalid_grant"}));
            };
            let verifier = f.get("code_verifier").cloned().unwrap_or_default();
            let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(botbuilder::crypto::sha256(verifier.as_bytes()));
            if challenge != grant.challenge {
                return json_reply(400, &json!({"error": "invalid_grant", "error_description": "PKCE"}));
            }
            let access = format!("at-{}", s.grants.len() + 1000 + r.body.len());
            s.files.insert(format!("userinfo:{access}"), grant.userinfo.to_string());
            json_reply(
                200,
                &json!({"access_token": access, "id_token": grant.id_token, "refresh_token": "rt-1", "token_type": "Bearer"}),
            )
        }
        "/userinfo" => {
            let token = r.header("authorization").and_then(|h| h.strip_prefix("Bearer ")).unwrap_or("");
            match s.files.get(&format!("userinfo:{token}")) {
                Some(body) => Reply::Full(200, "application/json".into(), body.clone().into_bytes()),
                None => json_reply(401, &json!({"error": "invalid_token"})),
            }
        }
        p if p.starts_with("/verify/") => match s.files.get(p.trim_start_matches("/verify/")) {
            Some(body) => Reply::Full(200, "text/plain".into(), body.clone().into_bytes()),
            None => Reply::Full(404, "text/plain".into(), b"no".to_vec()),
        },
        _ => Reply::Full(404, "text/plain".into(), Vec::new()),
    }
}

async fn start_idp() -> Idp {
    let state =
        Arc::new(Mutex::new(IdpState { jwks: vec![("key-a".into(), KEY_A_N.trim().into())], ..IdpState::default() }));
    let s = state.clone();
    let server = FakeServer::start(Arc::new(move |r: &Received| handle(&s, r))).await;
    state.lock().expect("idp").issuer.clone_from(&server.base);
    Idp { server, state }
}

impl Idp {
    fn issuer(&self) -> String {
        self.server.base.clone()
    }
    fn jwks_fetches(&self) -> usize {
        self.server.requests().iter().filter(|r| r.path == "/jwks").count()
    }
}

async fn app_for(idp: &Idp) -> TestApp {
    let base = idp.issuer();
    spawn_app_with(move |c| {
        c.sso.http_verification_url = format!("{base}/verify/{{domain}}");
    })
    .await
}

fn sign(kid: &str, pem: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_pem(pem.as_bytes()).expect("pem")).expect("sign")
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Okta-like claims for `email`.
fn claims(idp: &Idp, sub: &str, email: &str, nonce: &str) -> Value {
    json!({
        "iss": idp.issuer(), "aud": CLIENT_ID, "sub": sub, "email": email, "email_verified": true,
        "name": "Ada Lovelace", "iat": now(), "exp": now() + 300, "nonce": nonce, "groups": ["Everyone"]
    })
}

/// Creates an enabled configuration by discovery and a verified domain (by HTTP file).
async fn configure(app: &TestApp, owner: &Session, idp: &Idp, domain: &str, extra: Value) -> i64 {
    let mut body = json!({
        "protocol": "oidc", "name": "Okta", "enabled": true, "issuer_url": idp.issuer(),
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "mapping": { "groups_claim": "groups", "rules": [ { "group": "bb-admins", "role": "admin" } ] }
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    let config =
        call_ok(app, owner, Method::POST, &format!("/api/v1/orgs/{}/sso/configurations", owner.org_id), Some(body))
            .await;
    assert_eq!(config["token_url"], format!("{}/token", idp.issuer()), "discovered: {config}");
    assert_eq!(config["client_secret_set"], true);
    assert!(config.get("client_secret").is_none());
    let id = config["id"].as_i64().expect("id");
    let d = call_ok(
        app,
        owner,
        Method::POST,
        &format!("/api/v1/orgs/{}/sso/domains", owner.org_id),
        Some(json!({ "domain": domain, "sso_configuration_id": id })),
    )
    .await;
    idp.state
        .lock()
        .expect("idp")
        .files
        .insert(domain.to_owned(), d["dns_record_value"].as_str().expect("value").to_owned());
    let v = call_ok(
        app,
        owner,
        Method::POST,
        &format!("/api/v1/sso/domains/{}/verify", d["id"]),
        Some(json!({"method": "http"})),
    )
    .await;
    assert_eq!(v["verified"], true);
    assert_eq!(v["verification_method"], "http");
    id
}

/// What a callback did.
struct Landed {
    status: u16,
    location: String,
    session_cookie: Option<String>,
    state: String,
    binding: String,
}

fn cookie_of(r: &reqwest::Response, prefix: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(prefix) && !v.starts_with(&format!("{prefix};")))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

/// Starts a sign-in for `email`, lets `token` build the ID token from the
/// nonce the server sent, and follows the `IdP`'s redirect back.
async fn sign_in(app: &TestApp, idp: &Idp, email: &str, token: impl FnOnce(&str) -> String, userinfo: Value) -> Landed {
    sign_in_at(app, idp, &format!("/api/v1/sso/login?email={email}"), token, userinfo).await
}

/// [`sign_in`] started at `login` (`/api/v1/sso/login?email=…&next=…`).
async fn sign_in_at(
    app: &TestApp,
    idp: &Idp,
    login: &str,
    token: impl FnOnce(&str) -> String,
    userinfo: Value,
) -> Landed {
    let r = app.get(login).await;
    assert_eq!(r.status(), 303, "start: {}", r.text().await.unwrap_or_default());
    let binding = cookie_of(&r, "__Host-bb_sso=").expect("binding cookie");
    let location = r.headers()["location"].to_str().expect("location").to_owned();
    let url = url::Url::parse(&location).expect("authorize url");
    assert!(location.starts_with(&format!("{}/authorize", idp.issuer())));
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["client_id"], CLIENT_ID);
    assert!(q["redirect_uri"].ends_with("/api/v1/sso/oidc/callback"));
    let code = format!("code-{}", rand_suffix());
    idp.state
        .lock()
        .expect("idp")
        .grants
        .insert(code.clone(), Grant { id_token: token(&q["nonce"]), challenge: q["code_challenge"].clone(), userinfo });
    callback(app, &q["state"], &code, Some(&binding)).await
}

fn rand_suffix() -> u64 {
    rand::random::<u64>()
}

async fn callback(app: &TestApp, state: &str, code: &str, binding: Option<&str>) -> Landed {
    let mut req = app.request(Method::GET, &format!("/api/v1/sso/oidc/callback?state={state}&code={code}"));
    if let Some(b) = binding {
        req = req.header("Cookie", b);
    }
    let r = req.send().await.expect("callback");
    Landed {
        status: r.status().as_u16(),
        location: r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned(),
        session_cookie: cookie_of(&r, "__Host-bb_session="),
        state: state.to_owned(),
        binding: binding.unwrap_or("").to_owned(),
    }
}

fn last_log(app: &TestApp) -> (String, Option<String>) {
    app.sql(|c| {
        c.query_row("SELECT status, error_message FROM sso_login_logs ORDER BY id DESC LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
    })
}

fn assert_refused(app: &TestApp, landed: &Landed, reason: &str) {
    assert_eq!(landed.status, 303);
    assert_eq!(landed.location, format!("/login?sso_error={reason}"), "refused for {reason}");
    assert!(landed.session_cookie.is_none(), "no session for {reason}");
    let (status, error) = last_log(app);
    assert_eq!(status, "failed");
    assert!(error.as_deref().is_some_and(|e| e.starts_with(&format!("{reason}: "))), "logged {error:?} for {reason}");
}

async fn me(app: &TestApp, cookie: &str) -> Value {
    let r = app.request(Method::GET, "/api/v1/me").header("Cookie", cookie).send().await.expect("me");
    assert_eq!(r.status(), 200);
    r.json().await.expect("json")
}

fn role_of(app: &TestApp, org: i64, email: &str) -> String {
    app.sql(|c| {
        c.query_row(
            "SELECT r.name FROM organization_members m JOIN roles r ON r.id = m.role_id JOIN users u ON u.id = m.user_id
             WHERE m.organization_id = ?1 AND u.email = ?2",
            rusqlite::params![org, email],
            |r| r.get(0),
        )
    })
}

#[tokio::test]
#[allow(clippy::too_many_lines, reason = "one sign-in story: provisioning, mapping, subject, refresh, log")]
async fn okta_sign_in_provisions_maps_groups_and_keeps_the_subject() {
    let idp = start_idp().await;
    let app = app_for(&idp).await;
    let owner = app.register("owner@acme.test").await;
    let config = configure(&app, &owner, &idp, "acme.test", json!({})).await;

    let check: Value = app.get("/api/v1/sso/check?email=Ada@ACME.test").await.json().await.expect("json");
    assert_eq!(check["sso"], true);
    assert_eq!(check["login_url"], "/api/v1/sso/login?email=ada%40acme.test");
    let other: Value = app.get("/api/v1/sso/check?email=bob@elsewhere.test").await.json().await.expect("json");
    assert_eq!(other["sso"], false);

    // First sign-in: the account is created, joins with the mapped role;
    // userinfo adds what the ID token lacked.
    let landed = sign_in(
        &app,
        &idp,
        "ada@acme.test",
        |nonce| {
            let mut c = claims(&idp, "00u1ada", "ada@acme.test", nonce);
            c["groups"] = json!(["Everyone", "bb-admins"]);
            sign("key-a", KEY_A, &c)
        },
        json!({"sub": "00u1ada", "locale": "en-GB"}),
    )
    .await;
    assert_eq!((landed.status, landed.location.as_str()), (303, "/"));
    let cookie = landed.session_cookie.expect("session cookie");
    let body = me(&app, &cookie).await;
    assert_eq!(body["user"]["email"], "ada@acme.test");
    assert_eq!(body["user"]["name"], "Ada Lovelace");
    assert_eq!(role_of(&app, owner.org_id, "ada@acme.test"), "admin");
    assert_eq!(last_log(&app), ("success".to_owned(), None));
    let attrs: String = app.sql(|c| {
        c.query_row("SELECT attributes FROM sso_user_mappings WHERE external_id = '00u1ada'", [], |r| r.get(0))
    });
    assert!(attrs.contains("bb-admins"), "{attrs}");

    // Group removed at the IdP: the role follows on the next sign-in.
    let again = sign_in(
        &app,
        &idp,
        "ada@acme.test",
        |n| sign("key-a", KEY_A, &claims(&idp, "00u1ada", "ada@acme.test", n)),
        json!({"sub": "00u1ada"}),
    )
    .await;
    assert_eq!(again.location, "/");
    assert_eq!(role_of(&app, owner.org_id, "ada@acme.test"), "viewer");

    // The IdP renamed her address: the subject still finds the same user.
    let user_id = body["user"]["id"].as_i64().expect("id");
    let renamed = sign_in(
        &app,
        &idp,
        "ada@acme.test",
        |n| sign("key-a", KEY_A, &claims(&idp, "00u1ada", "ada.king@acme.test", n)),
        json!({"sub": "00u1ada"}),
    )
    .await;
    let renamed_me = me(&app, &renamed.session_cookie.expect("cookie")).await;
    assert_eq!(renamed_me["user"]["id"], user_id);
    assert_eq!(app.count("SELECT count(*) FROM users WHERE email LIKE '%acme.test'"), 2);

    // Re-checking with the IdP (refresh-token grant): the new ID token's groups apply.
    let sealed: Vec<u8> = app.sql(|c| {
        c.query_row("SELECT refresh_token_encrypted FROM sso_user_mappings WHERE external_id = '00u1ada'", [], |r| {
            r.get(0)
        })
    });
    assert!(!sealed.windows(4).any(|w| w == b"rt-1"), "refresh token sealed at rest");
    let mut refreshed = claims(&idp, "00u1ada", "ada.king@acme.test", "");
    refreshed.as_object_mut().map(|o| o.remove("nonce"));
    refreshed["groups"] = json!(["bb-admins"]);
    idp.state.lock().expect("idp").refresh.insert("rt-1".into(), sign("key-a", KEY_A, &refreshed));
    let path = format!("/api/v1/sso/configurations/{config}/users/{user_id}/refresh");
    let r = call_ok(&app, &owner, Method::POST, &path, None).await;
    assert_eq!(r["active"], true, "{r}");
    assert_eq!(role_of(&app, owner.org_id, "ada@acme.test"), "admin");
    // The IdP no longer knows the token: reported, nothing changed.
    idp.state.lock().expect("idp").refresh.clear();
    let r = call_ok(&app, &owner, Method::POST, &path, None).await;
    assert_eq!((r["active"].clone(), r["reason"].clone()), (json!(false), json!("token_exchange_failed")));

    // The admin sees the attempts.
    let logs = call_ok(&app, &owner, Method::GET, &format!("/api/v1/orgs/{}/sso/logins", owner.org_id), None).await;
    assert_eq!(logs["items"].as_array().map(Vec::len), Some(3));
    assert_eq!(logs["items"][0]["status"], "success");
    let shown = call_ok(&app, &owner, Method::GET, &format!("/api/v1/sso/configurations/{config}"), None).await;
    assert!(shown["redirect_uri"].as_str().is_some_and(|u| u.ends_with("/api/v1/sso/oidc/callback")));
    let sealed: Vec<u8> =
        app.sql(|c| c.query_row("SELECT client_secret_encrypted FROM sso_configurations", [], |r| r.get(0)));
    assert!(!sealed.windows(CLIENT_SECRET.len()).any(|w| w == CLIENT_SECRET.as_bytes()), "secret sealed at rest");
}

#[tokio::test]
#[allow(clippy::too_many_lines, reason = "three providers' claim shapes")]
async fn entra_and_keycloak_claims_sign_in_with_their_own_group_claims() {
    let idp = start_idp().await;
    let app = app_for(&idp).await;
    let owner = app.register("owner@contoso.test").await;
    // Entra ID: app roles in `roles`, no `email`, the address in `preferred_username`, several audiences with `azp`.
    configure(
        &app,
        &owner,
        &idp,
        "contoso.test",
        json!({"name": "Entra", "mapping": {"groups_claim": "roles", "rules": [{"group": "Bot.Editor", "role": "editor"}]}}),
    )
    .await;
    let entra = sign_in(
        &app,
        &idp,
        "megan@contoso.test",
        |n| {
            sign(
                "key-a",
                KEY_A,
                &json!({
                    "iss": idp.issuer(), "aud": [CLIENT_ID, "api://other"], "azp": CLIENT_ID, "sub": "AAAAentra-sub",
                    "oid": "2f1c-oid", "tid": "tenant", "preferred_username": "Megan@Contoso.test", "name": "Megan Bowen",
                    "roles": ["Bot.Editor"], "iat": now(), "nbf": now() - 5, "exp": now() + 3600, "nonce": n
                }),
            )
        },
        json!({"sub": "AAAAentra-sub"}),
    )
    .await;
    assert_eq!(entra.location, "/");
    assert_eq!(role_of(&app, owner.org_id, "megan@contoso.test"), "editor");

    // Keycloak: realm roles flattened into `groups` by a mapper, `email_verified` false → refused.
    let kc = sign_in(
        &app,
        &idp,
        "kim@contoso.test",
        |n| {
            let mut c = claims(&idp, "kc-uuid-1", "kim@contoso.test", n);
            c["email_verified"] = json!(false);
            c["typ"] = json!("ID");
            sign("key-a", KEY_A, &c)
        },
        json!({"sub": "kc-uuid-1"}),
    )
    .await;
    assert_refused(&app, &kc, "email_not_verified");
    // Several audiences without `azp`: refused.
    let no_azp = sign_in(
        &app,
        &idp,
        "megan@contoso.test",
        |n| {
            let mut c = claims(&idp, "AAAAentra-sub", "megan@contoso.test", n);
            c["aud"] = json!([CLIENT_ID, "api://other"]);
            sign("key-a", KEY_A, &c)
        },
        json!({"sub": "AAAAentra-sub"}),
    )
    .await;
    assert_refused(&app, &no_azp, "id_token_wrong_audience");
    // userinfo for another subject: refused.
    let swapped = sign_in(
        &app,
        &idp,
        "megan@contoso.test",
        |n| sign("key-a", KEY_A, &claims(&idp, "AAAAentra-sub", "megan@contoso.test", n)),
        json!({"sub": "someone-else"}),
    )
    .await;
    assert_refused(&app, &swapped, "userinfo_subject_mismatch");
}

#[tokio::test]
async fn google_workspace_and_authentik_claims_sign_in_with_what_they_send() {
    let idp = start_idp().await;
    let app = app_for(&idp).await;
    let owner = app.register("owner@initech.test").await;
    configure(&app, &owner, &idp, "initech.test", json!({"name": "Google or Authentik"})).await;

    // Google Workspace: a numeric subject, the hosted domain in `hd`, `azp`
    // and `at_hash`, profile claims, and no groups claim at all: the
    // configuration's default role.
    let google = sign_in(
        &app,
        &idp,
        "peter@initech.test",
        |n| {
            sign(
                "key-a",
                KEY_A,
                &json!({
                    "iss": idp.issuer(), "azp": CLIENT_ID, "aud": CLIENT_ID, "sub": "110169484474386276334",
                    "hd": "initech.test", "email": "peter@initech.test", "email_verified": true,
                    "at_hash": "HK6E_P6Dh8Y93mRNtsDB1Q", "name": "Peter Gibbons", "given_name": "Peter",
                    "family_name": "Gibbons", "picture": "https://lh3.example/a/photo.jpg", "locale": "en",
                    "iat": now(), "exp": now() + 3600, "nonce": n
                }),
            )
        },
        json!({"sub": "110169484474386276334", "email": "peter@initech.test", "email_verified": true}),
    )
    .await;
    assert_eq!((google.status, google.location.as_str()), (303, "/"));
    assert_eq!(me(&app, &google.session_cookie.expect("cookie")).await["user"]["name"], "Peter Gibbons");
    assert_eq!(role_of(&app, owner.org_id, "peter@initech.test"), "viewer");

    // Authentik: group names in `groups`, `preferred_username`/`nickname`,
    // `amr` and `acr`. Since 2025.10 its default email scope sends
    // `email_verified: false`: refused with its reason, as the docs say.
    let authentik = |verified: bool| {
        let issuer = idp.issuer();
        move |n: &str| {
            sign(
                "key-a",
                KEY_A,
                &json!({
                    "iss": issuer, "aud": CLIENT_ID, "sub": "5c2f0cb0a2d94e1e9f3c1f4b8d1e8b6a",
                    "email": "samir@initech.test", "email_verified": verified, "name": "Samir Nagheenanajar",
                    "given_name": "Samir", "preferred_username": "samir", "nickname": "samir",
                    "groups": ["authentik Admins", "bb-admins"], "amr": ["pwd"],
                    "acr": "goauthentik.io/providers/oauth2/default", "auth_time": now() - 2,
                    "iat": now(), "exp": now() + 300, "nonce": n
                }),
            )
        }
    };
    let refused =
        sign_in(&app, &idp, "samir@initech.test", authentik(false), json!({"sub": "5c2f0cb0a2d94e1e9f3c1f4b8d1e8b6a"}))
            .await;
    assert_refused(&app, &refused, "email_not_verified");
    // With the email scope mapping that vouches for the address: signed in, groups mapped.
    let mapped =
        sign_in(&app, &idp, "samir@initech.test", authentik(true), json!({"sub": "5c2f0cb0a2d94e1e9f3c1f4b8d1e8b6a"}))
            .await;
    assert_eq!((mapped.status, mapped.location.as_str()), (303, "/"));
    assert_eq!(role_of(&app, owner.org_id, "samir@initech.test"), "admin");
}

type Forge = Box<dyn Fn(&str) -> String>;

#[tokio::test]
#[allow(clippy::too_many_lines, reason = "one case per attack")]
async fn forged_and_invalid_id_tokens_are_refused_with_a_logged_reason() {
    let idp = start_idp().await;
    let app = app_for(&idp).await;
    let owner = app.register("owner@acme.test").await;
    configure(&app, &owner, &idp, "acme.test", json!({})).await;
    let issuer = idp.issuer();
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let base = {
        let issuer = issuer.clone();
        move |nonce: &str| json!({"iss": issuer, "aud": CLIENT_ID, "sub": "u1", "email": "eve@acme.test", "iat": now(), "exp": now() + 300, "nonce": nonce})
    };
    let with = |f: fn(&mut Value)| {
        let base = base.clone();
        Box::new(move |n: &str| {
            let mut c = base(n);
            f(&mut c);
            sign("key-a", KEY_A, &c)
        }) as Forge
    };
    let cases: Vec<(&str, Forge)> = vec![
        ("id_token_wrong_audience", with(|c| c["aud"] = json!("someone-else"))),
        ("id_token_wrong_issuer", with(|c| c["iss"] = json!("https://evil.example"))),
        ("id_token_expired", with(|c| c["exp"] = json!(now() - 600))),
        ("id_token_not_yet_valid", with(|c| c["nbf"] = json!(now() + 600))),
        ("id_token_not_yet_valid", with(|c| c["iat"] = json!(now() + 600))),
        ("nonce_mismatch", with(|c| c["nonce"] = json!("not-the-nonce"))),
        ("id_token_missing_claim", with(|c| drop(c.as_object_mut().map(|o| o.remove("sub"))))),
        // Signed by another key under the published key id.
        ("id_token_bad_signature", {
            let base = base.clone();
            Box::new(move |n: &str| sign("key-a", KEY_OTHER, &base(n)))
        }),
        // `alg: none`, unsigned.
        ("id_token_alg_not_allowed", {
            let base = base.clone();
            Box::new(move |n: &str| format!("{}.{}.", b64(&json!({"alg": "none", "kid": "key-a"})), b64(&base(n))))
        }),
        // HS256 "signed" with the IdP's public modulus as the HMAC secret.
        ("id_token_alg_not_allowed", {
            let base = base.clone();
            Box::new(move |n: &str| {
                let mut h = Header::new(Algorithm::HS256);
                h.kid = Some("key-a".into());
                jsonwebtoken::encode(&h, &base(n), &EncodingKey::from_secret(KEY_A_N.trim().as_bytes())).expect("hs")
            })
        }),
        // Tampered payload under a valid signature.
        ("id_token_bad_signature", {
            let base = base.clone();
            Box::new(move |n: &str| {
                let good = sign("key-a", KEY_A, &base(n));
                let parts: Vec<&str> = good.split('.').collect();
                let mut evil = base(n);
                evil["email"] = json!("owner@acme.test");
                format!("{}.{}.{}", parts[0], b64(&evil), parts[2])
            })
        }),
    ];
    for (reason, forge) in cases {
        let landed = sign_in(&app, &idp, "eve@acme.test", |n| forge(n), json!({"sub": "u1"})).await;
        assert_refused(&app, &landed, reason);
    }
    assert_eq!(app.count("SELECT count(*) FROM users WHERE email = 'eve@acme.test'"), 0);
    assert_eq!(app.count("SELECT count(*) FROM sso_login_logs WHERE status = 'failed'"), 11);
}

#[tokio::test]
async fn state_mismatch_replay_and_another_browser_are_refused() {
    let idp = start_idp().await;
    let app = app_for(&idp).await;
    let owner = app.register("owner@acme.test").await;
    configure(&app, &owner, &idp, "acme.test", json!({})).await;
    let ok = sign_in(
        &app,
        &idp,
        "ann@acme.test",
        |n| sign("key-a", KEY_A, &claims(&idp, "ann", "ann@acme.test", n)),
        json!({"sub": "ann"}),
    )
    .await;
    assert_eq!(ok.location, "/");
    // The same callback again (a replayed URL).
    let replay = callback(&app, &ok.state, "code-x", Some(&ok.binding)).await;
    assert_refused(&app, &replay, "state_replayed");
    // A state this server never issued.
    let forged = callback(&app, "made-up-state", "code-x", Some(&ok.binding)).await;
    assert_refused(&app, &forged, "state_invalid");
    // A sign-in started in another browser (no or another binding cookie): login CSRF.
    let r = app.get("/api/v1/sso/login?email=ann@acme.test").await;
    let location = r.headers()["location"].to_str().expect("loc").to_owned();
    let q: HashMap<String, String> = url::Url::parse(&location).expect("url").query_pairs().into_owned().collect();
    let other = callback(&app, &q["state"], "code-y", Some("__Host-bb_sso=someone-elses")).await;
    assert_refused(&app, &other, "state_wrong_browser");
    let none = callback(&app, &q["state"], "code-y", None).await;
    assert_refused(&app, &none, "state_wrong_browser");
}

#[tokio::test]
async fn jwks_rotation_is_followed_once_and_refetches_are_rate_limited() {
    let idp = start_idp().await;
    let app = app_for(&idp).await;
    let owner = app.register("owner@acme.test").await;
    configure(&app, &owner, &idp, "acme.test", json!({})).await;
    let first = sign_in(
        &app,
        &idp,
        "rob@acme.test",
        |n| sign("key-a", KEY_A, &claims(&idp, "rob", "rob@acme.test", n)),
        json!({"sub": "rob"}),
    )
    .await;
    assert_eq!(first.location, "/");
    let second = sign_in(
        &app,
        &idp,
        "rob@acme.test",
        |n| sign("key-a", KEY_A, &claims(&idp, "rob", "rob@acme.test", n)),
        json!({"sub": "rob"}),
    )
    .await;
    assert_eq!(second.location, "/");
    assert_eq!(idp.jwks_fetches(), 1, "cached");
    // The IdP rotates to key B mid-test.
    idp.state.lock().expect("idp").jwks = vec![("key-b".into(), KEY_B_N.trim().into())];
    let rotated = sign_in(
        &app,
        &idp,
        "rob@acme.test",
        |n| sign("key-b", KEY_B, &claims(&idp, "rob", "rob@acme.test", n)),
        json!({"sub": "rob"}),
    )
    .await;
    assert_eq!(rotated.location, "/", "new kid → one re-fetch");
    assert_eq!(idp.jwks_fetches(), 2);
    // An unknown kid right after: no new fetch (rate-limited), refused.
    let unknown = sign_in(
        &app,
        &idp,
        "rob@acme.test",
        |n| sign("key-z", KEY_OTHER, &claims(&idp, "rob", "rob@acme.test", n)),
        json!({"sub": "rob"}),
    )
    .await;
    assert_refused(&app, &unknown, "id_token_unknown_key");
    assert_eq!(idp.jwks_fetches(), 2);
    // The retired key is no longer accepted.
    let retired = sign_in(
        &app,
        &idp,
        "rob@acme.test",
        |n| sign("key-a", KEY_A, &claims(&idp, "rob", "rob@acme.test", n)),
        json!({"sub": "rob"}),
    )
    .await;
    assert_refused(&app, &retired, "id_token_unknown_key");
}

#[tokio::test]
async fn enforced_sso_refuses_password_sign_in_and_reset_but_not_api_tokens() {
    let idp = start_idp().await;
    let app = app_for(&idp).await;
    let owner = app.register("owner@acme.test").await;
    let config = configure(&app, &owner, &idp, "acme.test", json!({})).await;
    let (status, token) = app
        .call(
            &owner,
            Method::POST,
            &format!("/api/v1/orgs/{}/api-tokens", owner.org_id),
            Some(json!({"name": "CI", "scopes": ["sso.manage"]})),
        )
        .await;
    assert_eq!(status, 201, "{token}");
    let token = token["token"].as_str().expect("token").to_owned();
    // Before enforcement the password works.
    app.login("owner@acme.test", PASSWORD).await;
    call_ok(
        &app,
        &owner,
        Method::PATCH,
        &format!("/api/v1/sso/configurations/{config}"),
        Some(json!({"enforced": true})),
    )
    .await;
    let r = app.post_json("/api/v1/auth/login", &json!({"email": "owner@acme.test", "password": PASSWORD})).await;
    let body = assert_error(r, 403, "sso_required").await;
    assert_eq!(body["error"]["details"]["login_url"], "/api/v1/sso/login?email=owner%40acme.test");
    // A wrong password gets the same answer: nothing is told about the account.
    let r = app.post_json("/api/v1/auth/login", &json!({"email": "nobody@acme.test", "password": "x"})).await;
    assert_error(r, 403, "sso_required").await;
    let r = app.post_json("/api/v1/auth/password-reset/request", &json!({"email": "owner@acme.test"})).await;
    assert_error(r, 403, "sso_required").await;
    // Other domains sign in as before.
    app.register("carol@elsewhere.test").await;
    app.login("carol@elsewhere.test", PASSWORD).await;
    // API tokens still work.
    let r =
        app.as_token(&token, Method::GET, &format!("/api/v1/sso/configurations/{config}")).send().await.expect("send");
    assert_eq!(r.status(), 200);
    let check: Value = app.get("/api/v1/sso/check?email=owner@acme.test").await.json().await.expect("json");
    assert_eq!(check["enforced"], true);
}

#[tokio::test]
async fn another_organizations_sso_cannot_sign_in_this_organizations_user() {
    let idp = start_idp().await;
    let app = app_for(&idp).await;
    let alice = app.register("alice@acme.test").await;
    configure(&app, &alice, &idp, "acme.test", json!({})).await;
    // Organization B: its own configuration (same IdP software) and domain.
    let mallory = app.register("mallory@beta.test").await;
    let b_config = configure(&app, &mallory, &idp, "beta.test", json!({"name": "Beta IdP"})).await;
    // B's IdP asserts alice's address.
    let landed = sign_in(
        &app,
        &idp,
        "someone@beta.test",
        |n| sign("key-a", KEY_A, &claims(&idp, "b-sub", "alice@acme.test", n)),
        json!({"sub": "b-sub"}),
    )
    .await;
    assert_refused(&app, &landed, "email_domain_not_verified");
    let logged_config: i64 = app.sql(|c| {
        c.query_row("SELECT sso_configuration_id FROM sso_login_logs ORDER BY id DESC LIMIT 1", [], |r| r.get(0))
    });
    assert_eq!(logged_config, b_config);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM organization_members WHERE organization_id = {} AND user_id = {}",
            mallory.org_id, alice.user_id
        )),
        0
    );
    assert_eq!(app.count("SELECT count(*) FROM sso_user_mappings"), 0);
    // B cannot see or change A's configuration or domains.
    let (status, _) =
        app.call(&mallory, Method::GET, &format!("/api/v1/orgs/{}/sso/configurations", alice.org_id), None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
#[allow(clippy::too_many_lines, reason = "one case per malformed document")]
async fn duplicate_domains_and_malformed_discovery_are_refused() {
    let idp = start_idp().await;
    let app = app_for(&idp).await;
    let a = app.register("a@acme.test").await;
    configure(&app, &a, &idp, "acme.test", json!({})).await;
    let b = app.register("b@beta.test").await;
    let b_config = call_ok(
        &app,
        &b,
        Method::POST,
        &format!("/api/v1/orgs/{}/sso/configurations", b.org_id),
        Some(json!({"protocol": "oidc", "name": "B", "issuer_url": idp.issuer(), "client_id": "x"})),
    )
    .await;
    let r = crate::helpers::send_as(
        &app,
        &b,
        Method::POST,
        &format!("/api/v1/orgs/{}/sso/domains", b.org_id),
        Some(json!({"domain": "ACME.test", "sso_configuration_id": b_config["id"]})),
    )
    .await;
    let body = assert_error(r, 409, "sso_domain_taken").await;
    assert_eq!(body["error"]["details"]["field"], "domain");

    let path = format!("/api/v1/orgs/{}/sso/configurations", b.org_id);
    let create = |issuer: String| json!({"protocol": "oidc", "name": "Bad", "issuer_url": issuer, "client_id": "x"});
    let issuer = idp.issuer();
    for (status, doc, reason) in [
        (200, "<html>not json</html>".to_owned(), "discovery_not_json"),
        (200, json!({"issuer": issuer, "authorization_endpoint": format!("{issuer}/a"), "token_endpoint": format!("{issuer}/t")}).to_string(), "discovery_missing_field"),
        (200, json!({"issuer": "https://evil.example", "authorization_endpoint": format!("{issuer}/a"), "token_endpoint": format!("{issuer}/t"), "jwks_uri": format!("{issuer}/j")}).to_string(), "discovery_issuer_mismatch"),
        (200, json!({"issuer": issuer, "authorization_endpoint": format!("{issuer}/a"), "token_endpoint": format!("{issuer}/t"), "jwks_uri": format!("{issuer}/j"), "id_token_signing_alg_values_supported": ["HS256"]}).to_string(), "discovery_no_supported_alg"),
        (500, "oops".to_owned(), "discovery_unreachable"),
    ] {
        idp.state.lock().expect("idp").discovery_override = Some((status, doc));
        let r = crate::helpers::send_as(&app, &b, Method::POST, &path, Some(create(idp.issuer()))).await;
        let body = assert_error(r, 422, "sso_discovery_failed").await;
        assert_eq!(body["error"]["details"]["field"], "issuer_url");
        assert_eq!(body["error"]["details"]["reason"], reason);
    }
    // Bad input named by field.
    let r = crate::helpers::send_as(
        &app,
        &b,
        Method::POST,
        &path,
        Some(json!({"protocol": "oidc", "name": "N", "issuer_url": "ftp://x", "client_id": "x"})),
    )
    .await;
    assert_eq!(assert_error(r, 422, "validation_failed").await["error"]["details"]["field"], "issuer_url");
    let r = crate::helpers::send_as(
        &app,
        &b,
        Method::POST,
        &path,
        Some(json!({"protocol": "oidc", "name": "N", "issuer_url": idp.issuer(), "client_id": "x", "authorization_url": format!("{}/a", idp.issuer()), "token_url": format!("{}/t", idp.issuer()), "jwks_url": format!("{}/j", idp.issuer()), "mapping": {"rules": [{"group": "g", "role": "owner"}]}})),
    )
    .await;
    assert_eq!(assert_error(r, 422, "validation_failed").await["error"]["details"]["field"], "mapping.rules[0].role");
    // SAML settings are checked now that SAML signs in: metadata that is not
    // SAML metadata is refused (tests/api/sso_saml.rs covers the rest).
    let r = crate::helpers::send_as(
        &app,
        &b,
        Method::POST,
        &path,
        Some(json!({"protocol": "saml", "name": "ADFS", "saml": {"idp_entity_id": "urn:idp", "idp_metadata_xml": "<EntityDescriptor/>", "idp_certificates": ["-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"]}})),
    )
    .await;
    let body = assert_error(r, 422, "saml_metadata_invalid").await;
    assert_eq!(body["error"]["details"]["field"], "saml.idp_metadata_xml");
}

/// A one-question UDP DNS server answering TXT queries from a shared table.
async fn fake_dns(records: Arc<Mutex<HashMap<String, String>>>) -> std::net::SocketAddr {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.expect("udp");
    let addr = socket.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut buf = [0_u8; 512];
        loop {
            let Ok((n, peer)) = socket.recv_from(&mut buf).await else { return };
            let q = &buf[..n];
            let mut at = 12;
            let mut labels = Vec::new();
            while at < n && q[at] != 0 {
                let l = usize::from(q[at]);
                labels.push(String::from_utf8_lossy(&q[at + 1..at + 1 + l]).into_owned());
                at += 1 + l;
            }
            let mut a = q[..at + 5].to_vec();
            a[2] = 0x81;
            a[3] = 0x80;
            let text = records.lock().expect("records").get(&labels.join(".")).cloned();
            if let Some(text) = text {
                a[7] = 1;
                a.extend_from_slice(&[0xC0, 12, 0, 16, 0, 1, 0, 0, 0, 60]);
                let len = u8::try_from(text.len()).expect("short");
                a.extend_from_slice(&u16::from(len + 1).to_be_bytes());
                a.push(len);
                a.extend_from_slice(text.as_bytes());
            } else {
                a[3] = 0x83; // NXDOMAIN
            }
            let _ = socket.send_to(&a, peer).await;
        }
    });
    addr
}

#[tokio::test]
async fn dns_txt_verification_through_the_configured_resolver() {
    let idp = start_idp().await;
    let table = Arc::new(Mutex::new(HashMap::<String, String>::new()));
    let resolver = fake_dns(table.clone()).await;
    let app = spawn_app_with(move |c| c.sso.dns_resolver = resolver.to_string()).await;
    let owner = app.register("owner@dns.test").await;
    let config = call_ok(
        &app,
        &owner,
        Method::POST,
        &format!("/api/v1/orgs/{}/sso/configurations", owner.org_id),
        Some(json!({"protocol": "oidc", "name": "IdP", "issuer_url": idp.issuer(), "client_id": "x"})),
    )
    .await;
    let d = call_ok(
        &app,
        &owner,
        Method::POST,
        &format!("/api/v1/orgs/{}/sso/domains", owner.org_id),
        Some(json!({"domain": "dns.test", "sso_configuration_id": config["id"]})),
    )
    .await;
    assert_eq!(d["dns_record_name"], "_botbuilder-verification.dns.test");
    assert_eq!(d["verified"], false);
    let verify = format!("/api/v1/sso/domains/{}/verify", d["id"]);
    let name = "_botbuilder-verification.dns.test".to_owned();
    // No record, then a wrong one: refused, saying what was checked.
    for record in [None, Some("botbuilder-verification=wrong")] {
        if let Some(r) = record {
            table.lock().expect("t").insert(name.clone(), r.to_owned());
        }
        let r = crate::helpers::send_as(&app, &owner, Method::POST, &verify, Some(json!({"method": "dns"}))).await;
        let body = assert_error(r, 422, "sso_domain_verification_failed").await;
        assert_eq!(body["error"]["details"]["method"], "dns");
    }
    // An unverified domain routes nobody.
    let check: Value = app.get("/api/v1/sso/check?email=x@dns.test").await.json().await.expect("json");
    assert_eq!(check["sso"], false);
    table.lock().expect("t").insert(name, d["dns_record_value"].as_str().expect("value").to_owned());
    let ok = call_ok(&app, &owner, Method::POST, &verify, Some(json!({"method": "dns"}))).await;
    assert_eq!(ok["verified"], true);
    assert_eq!(ok["verification_method"], "dns");
}

#[tokio::test]
async fn oidc_sign_in_lands_on_the_page_it_started_from_and_never_off_site() {
    let idp = start_idp().await;
    let app = app_for(&idp).await;
    let owner = app.register("owner@acme.test").await;
    configure(&app, &owner, &idp, "acme.test", json!({})).await;
    let cases = [
        ("/bots/12/flows", "/bots/12/flows"),
        ("/inbox?conversation=7", "/inbox?conversation=7"),
        ("//evil.example", "/"),
        ("https://evil.example", "/"),
        ("/\\evil.example", "/"),
        ("/api/v1/orgs", "/"),
        ("", "/"),
    ];
    for (next, lands) in cases {
        let q: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
        let landed = sign_in_at(
            &app,
            &idp,
            &format!("/api/v1/sso/login?email=ada@acme.test&next={q}"),
            |nonce| sign("key-a", KEY_A, &claims(&idp, "00u1ada", "ada@acme.test", nonce)),
            json!({"sub": "00u1ada"}),
        )
        .await;
        assert_eq!((landed.status, landed.location.as_str()), (303, lands), "next={next:?}: {:?}", last_log(&app));
        assert!(landed.session_cookie.is_some(), "signed in for next={next:?}");
    }
    // Without `next` (the login page without a deep link): `/`.
    let landed = sign_in(
        &app,
        &idp,
        "ada@acme.test",
        |nonce| sign("key-a", KEY_A, &claims(&idp, "00u1ada", "ada@acme.test", nonce)),
        json!({"sub": "00u1ada"}),
    )
    .await;
    assert_eq!(landed.location, "/");
}

//! The superadmin console: the CLI that creates the first superadmin, the
//! separate console session, lockout, IP allowlist, administration of users
//! and organizations, the admin audit log and statistics.

use std::io::Write;
use std::process::{Command, Stdio};

use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, assert_error, spawn_app, spawn_app_with};

const BIN: &str = env!("CARGO_BIN_EXE_botbuilder");

/// Runs `botbuilder admin create-superadmin` on the app's data file with the
/// password on stdin.
fn create_superadmin(app: &TestApp, email: &str, password: &str) -> (bool, String) {
    let mut child = Command::new(BIN)
        .args(["admin", "create-superadmin", "--email", email, "--name", "Root", "--data"])
        .arg(app.data_path())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    writeln!(child.stdin.take().expect("stdin"), "{password}").expect("write password");
    let out = child.wait_with_output().expect("wait");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// A console session: cookie and CSRF token.
#[derive(Clone)]
pub struct Console {
    pub cookie: String,
    pub csrf: String,
}

pub async fn console_from(r: Response) -> Console {
    assert_eq!(r.status(), 200, "admin login");
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("__Host-bb_admin="))
        .expect("admin cookie")
        .to_owned();
    for attribute in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    let body: Value = r.json().await.expect("json");
    Console {
        cookie: cookie.split(';').next().expect("pair").to_owned(),
        csrf: body["csrf_token"].as_str().expect("csrf").to_owned(),
    }
}

pub async fn admin_login(app: &TestApp, email: &str, password: &str) -> Response {
    app.post_json("/api/v1/admin/auth/login", &json!({ "email": email, "password": password })).await
}

/// The console session of an account registered with the helpers' password.
pub async fn console(app: &TestApp, email: &str) -> Console {
    console_from(admin_login(app, email, PASSWORD).await).await
}

/// A console request with the session cookie and CSRF token.
pub async fn admin_send(app: &TestApp, c: &Console, method: Method, path: &str, body: Option<Value>) -> Response {
    let mut r = app.request(method, path).header("Cookie", &c.cookie).header("X-CSRF-Token", &c.csrf);
    if let Some(b) = body {
        r = r.json(&b);
    }
    r.send().await.expect("send")
}

pub async fn admin_call(app: &TestApp, c: &Console, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let r = admin_send(app, c, method, path, body).await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_cli_creates_a_superadmin_who_signs_in_to_the_console_only_there() {
    let app = spawn_app().await;
    let (ok, out) = create_superadmin(&app, "root@example.com", "weak");
    assert!(!ok && out.contains("password"), "{out}");
    assert_eq!(app.count("SELECT count(*) FROM users"), 0);
    let (ok, out) = create_superadmin(&app, "Root@Example.com", "staple battery horse 9");
    assert!(ok, "{out}");
    assert!(out.contains("created superadmin"), "{out}");
    assert_eq!(app.count("SELECT count(*) FROM users WHERE is_superadmin = 1 AND email = 'root@example.com'"), 1);
    assert_eq!(app.count("SELECT count(*) FROM admin_audit_log WHERE action = 'admin.superadmin_created'"), 1);
    // An existing account is promoted (no password asked).
    app.register("ops@example.com").await;
    let (ok, out) = create_superadmin(&app, "ops@example.com", "");
    assert!(ok && out.contains("now a superadmin"), "{out}");

    // Ordinary users and wrong passwords get the same answer; attempts are recorded.
    app.register("user@example.com").await;
    assert_error(admin_login(&app, "user@example.com", "correct horse 42").await, 401, "invalid_credentials").await;
    assert_error(admin_login(&app, "root@example.com", "wrong password 1").await, 401, "invalid_credentials").await;
    assert_eq!(app.count("SELECT count(*) FROM admin_login_attempts WHERE success = 0"), 2);
    let console = console_from(admin_login(&app, "root@example.com", "staple battery horse 9").await).await;
    assert_eq!(app.count("SELECT count(*) FROM admin_sessions WHERE revoked_at IS NULL"), 1);

    // The console cookie opens the console; a tenant session of the same
    // superadmin, or an API token, does not.
    let (status, session) = admin_call(&app, &console, Method::GET, "/api/v1/admin/session", None).await;
    assert_eq!((status, session["email"].clone()), (200, json!("root@example.com")));
    let tenant = app.login("root@example.com", "staple battery horse 9").await;
    let r = app.as_user(&tenant, Method::GET, "/api/v1/admin/stats").send().await.expect("send");
    assert_error(r, 401, "unauthenticated").await;
    // …and the console cookie is no tenant session.
    let r = app.request(Method::GET, "/api/v1/me").header("Cookie", &console.cookie).send().await.expect("send");
    assert_error(r, 401, "unauthenticated").await;
    // CSRF applies to unsafe console requests.
    let r = app
        .request(Method::POST, "/api/v1/admin/auth/logout")
        .header("Cookie", &console.cookie)
        .send()
        .await
        .expect("send");
    assert_error(r, 403, "csrf_failed").await;

    let (status, figures) = admin_call(&app, &console, Method::GET, "/api/v1/admin/stats", None).await;
    assert_eq!(status, 200);
    assert_eq!((figures["users"].clone(), figures["superadmins"].clone()), (json!(3), json!(2)));
    assert!(figures["database_bytes"].as_i64().expect("bytes") > 0);

    let (status, _) = admin_call(&app, &console, Method::POST, "/api/v1/admin/auth/logout", None).await;
    assert_eq!(status, 204);
    let (status, _) = admin_call(&app, &console, Method::GET, "/api/v1/admin/session", None).await;
    assert_eq!(status, 401);
    let actions: Vec<String> = app
        .sql(|c| c.prepare("SELECT action FROM admin_audit_log ORDER BY id")?.query_map([], |r| r.get(0))?.collect());
    for expected in ["admin.login.failed", "admin.login", "admin.logout"] {
        assert!(actions.contains(&expected.to_owned()), "{expected} in {actions:?}");
    }
}

#[tokio::test]
async fn failed_sign_ins_lock_the_console_with_retry_after() {
    let app = spawn_app_with(|c| {
        c.admin.max_failures_per_email = 3;
        c.admin.max_failures_per_ip = 5;
    })
    .await;
    assert!(create_superadmin(&app, "root@example.com", "staple battery horse 9").0);
    for _ in 0..3 {
        assert_error(admin_login(&app, "root@example.com", "wrong password 1").await, 401, "invalid_credentials").await;
    }
    // Locked, even with the right password.
    let r = admin_login(&app, "root@example.com", "staple battery horse 9").await;
    let retry: i64 = r.headers()["retry-after"].to_str().expect("header").parse().expect("secs");
    assert!((1..=900).contains(&retry), "{retry}");
    assert_eq!(assert_error(r, 429, "rate_limited").await["error"]["details"]["scope"], "lockout");
    // Per IP: two more failures on other emails reach 5 for this address.
    for email in ["a@example.com", "b@example.com"] {
        assert_error(admin_login(&app, email, "x").await, 401, "invalid_credentials").await;
    }
    assert_error(admin_login(&app, "c@example.com", "x").await, 429, "rate_limited").await;
    // After the window the lock lifts (the attempts age out of it).
    app.sql(|c| c.execute("UPDATE admin_login_attempts SET attempted_at = '2000-01-01T00:00:00.000Z'", []));
    console_from(admin_login(&app, "root@example.com", "staple battery horse 9").await).await;
    assert!(app.count("SELECT count(*) FROM admin_audit_log WHERE action = 'admin.login.locked_out'") >= 2);
}

#[tokio::test]
async fn the_ip_allowlist_admits_only_listed_ranges_and_refuses_self_lockout() {
    let app = spawn_app_with(|c| c.admin.ip_allowlist = vec!["127.0.0.1".into()]).await;
    assert_eq!(
        app.count("SELECT count(*) FROM admin_ip_whitelist WHERE ip_address = '127.0.0.1/32' AND is_active = 1"),
        1,
        "seeded from config"
    );
    assert!(create_superadmin(&app, "root@example.com", "staple battery horse 9").0);
    let console = console_from(admin_login(&app, "root@example.com", "staple battery horse 9").await).await;
    let (_, list) = admin_call(&app, &console, Method::GET, "/api/v1/admin/ip-allowlist", None).await;
    let seeded = list[0]["id"].as_i64().expect("id");
    // Bad entries, and changes that would shut the caller out.
    let (status, body) = admin_call(
        &app,
        &console,
        Method::POST,
        "/api/v1/admin/ip-allowlist",
        Some(json!({ "ip_address": "10.0.0.0/33" })),
    )
    .await;
    assert_eq!((status, body["error"]["details"]["field"].clone()), (422, json!("ip_address")));
    let (status, body) =
        admin_call(&app, &console, Method::DELETE, &format!("/api/v1/admin/ip-allowlist/{seeded}"), None).await;
    assert_eq!(status, 204, "removing the only entry leaves the list empty, so open: {body}");
    let (status, body) = admin_call(
        &app,
        &console,
        Method::POST,
        "/api/v1/admin/ip-allowlist",
        Some(json!({ "ip_address": "203.0.113.0/24" })),
    )
    .await;
    assert_eq!((status, body["error"]["code"].clone()), (409, json!("would_lock_out")));
    let (status, entry) = admin_call(
        &app,
        &console,
        Method::POST,
        "/api/v1/admin/ip-allowlist",
        Some(json!({ "ip_address": "127.0.0.0/8", "description": "loopback" })),
    )
    .await;
    assert_eq!((status, entry["ip_address"].clone()), (201, json!("127.0.0.0/8")));
    let (status, _) = admin_call(
        &app,
        &console,
        Method::POST,
        "/api/v1/admin/ip-allowlist",
        Some(json!({ "ip_address": "203.0.113.0/24" })),
    )
    .await;
    assert_eq!(status, 201);
    let (status, body) =
        admin_call(&app, &console, Method::DELETE, &format!("/api/v1/admin/ip-allowlist/{}", entry["id"]), None).await;
    assert_eq!((status, body["error"]["code"].clone()), (409, json!("would_lock_out")));
    // Outside the list (simulated by making the list exclude loopback): refused and logged.
    app.sql(|c| c.execute("UPDATE admin_ip_whitelist SET is_active = 0 WHERE ip_address = '127.0.0.0/8'", []));
    let (status, body) = admin_call(&app, &console, Method::GET, "/api/v1/admin/stats", None).await;
    assert_eq!((status, body["error"]["code"].clone()), (403, json!("ip_not_allowed")));
    assert_error(admin_login(&app, "root@example.com", "staple battery horse 9").await, 403, "ip_not_allowed").await;
    assert!(app.count("SELECT count(*) FROM admin_audit_log WHERE action = 'admin.ip_blocked'") >= 2);
    // Tenant routes are not affected by the console's allowlist.
    let user = app.register("user@example.com").await;
    assert_eq!(app.as_user(&user, Method::GET, "/api/v1/me").send().await.expect("send").status(), 200);
}

#[tokio::test]
async fn superadmins_suspend_and_reinstate_users() {
    let app = spawn_app().await;
    assert!(create_superadmin(&app, "root@example.com", "staple battery horse 9").0);
    let console = console_from(admin_login(&app, "root@example.com", "staple battery horse 9").await).await;
    let alice = app.register("alice@example.com").await;
    app.register("bob@example.com").await;

    let (_, found) = admin_call(&app, &console, Method::GET, "/api/v1/admin/users?q=ALICE", None).await;
    assert_eq!(found["items"].as_array().expect("items").len(), 1);
    let (_, detail) =
        admin_call(&app, &console, Method::GET, &format!("/api/v1/admin/users/{}", alice.user_id), None).await;
    assert_eq!(
        (detail["organizations"][0]["role"].clone(), detail["active_sessions"].clone()),
        (json!("owner"), json!(1))
    );
    let (status, body) = admin_call(&app, &console, Method::GET, "/api/v1/admin/users?status=gone", None).await;
    assert_eq!((status, body["error"]["details"]["field"].clone()), (422, json!("status")));

    // Suspending a user stops their session at once; unsuspending restores it.
    let (status, body) = admin_call(
        &app,
        &console,
        Method::POST,
        &format!("/api/v1/admin/users/{}/suspend", alice.user_id),
        Some(json!({ "reason": "" })),
    )
    .await;
    assert_eq!((status, body["error"]["details"]["field"].clone()), (422, json!("reason")));
    let (status, suspended) = admin_call(
        &app,
        &console,
        Method::POST,
        &format!("/api/v1/admin/users/{}/suspend", alice.user_id),
        Some(json!({ "reason": "spam" })),
    )
    .await;
    assert_eq!((status, suspended["suspended_reason"].clone()), (200, json!("spam")));
    let r = app.as_user(&alice, Method::GET, "/api/v1/me").send().await.expect("send");
    assert_error(r, 403, "account_suspended").await;
    let (_, suspended_list) =
        admin_call(&app, &console, Method::GET, "/api/v1/admin/users?status=suspended", None).await;
    assert_eq!(suspended_list["items"].as_array().expect("items").len(), 1);
    admin_call(&app, &console, Method::POST, &format!("/api/v1/admin/users/{}/unsuspend", alice.user_id), None).await;
    assert_eq!(app.as_user(&alice, Method::GET, "/api/v1/me").send().await.expect("send").status(), 200);
    // Not oneself.
    let root_id = app.count("SELECT id FROM users WHERE email = 'root@example.com'");
    let (status, _) = admin_call(
        &app,
        &console,
        Method::POST,
        &format!("/api/v1/admin/users/{root_id}/suspend"),
        Some(json!({ "reason": "x" })),
    )
    .await;
    assert_eq!(status, 409);
    // Every action is in the admin audit log.
    let (_, log) = admin_call(&app, &console, Method::GET, "/api/v1/admin/audit-log?action=admin.user.*", None).await;
    let actions: Vec<_> =
        log["items"].as_array().expect("items").iter().map(|e| e["action"].as_str().expect("a").to_owned()).collect();
    assert_eq!(actions, ["admin.user.unsuspended", "admin.user.suspended"]);
}

#[tokio::test]
async fn superadmins_suspend_organizations_and_change_plans() {
    let app = spawn_app().await;
    assert!(create_superadmin(&app, "root@example.com", "staple battery horse 9").0);
    let console = console_from(admin_login(&app, "root@example.com", "staple battery horse 9").await).await;
    let alice = app.register("alice@example.com").await;
    let bob = app.register("bob@example.com").await;

    // Suspending an organization: its routes answer 403 account_suspended; other orgs work.
    let (status, org) = admin_call(
        &app,
        &console,
        Method::POST,
        &format!("/api/v1/admin/orgs/{}/suspend", bob.org_id),
        Some(json!({ "reason": "unpaid" })),
    )
    .await;
    assert_eq!((status, org["status"].clone()), (200, json!("suspended")));
    let r = app.as_user(&bob, Method::GET, &format!("/api/v1/orgs/{}/bots", bob.org_id)).send().await.expect("send");
    assert_error(r, 403, "account_suspended").await;
    assert_eq!(
        app.as_user(&alice, Method::GET, &format!("/api/v1/orgs/{}/bots", alice.org_id))
            .send()
            .await
            .expect("send")
            .status(),
        200
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM audit_logs WHERE organization_id = {} AND action = 'security.org.suspended'",
            bob.org_id
        )),
        1
    );
    admin_call(&app, &console, Method::POST, &format!("/api/v1/admin/orgs/{}/unsuspend", bob.org_id), None).await;
    assert_eq!(
        app.as_user(&bob, Method::GET, &format!("/api/v1/orgs/{}/bots", bob.org_id))
            .send()
            .await
            .expect("send")
            .status(),
        200
    );

    // Plans.
    let (status, body) = admin_call(
        &app,
        &console,
        Method::PUT,
        &format!("/api/v1/admin/orgs/{}/plan", bob.org_id),
        Some(json!({ "plan": "platinum" })),
    )
    .await;
    assert_eq!((status, body["error"]["details"]["field"].clone()), (422, json!("plan")));
    let (status, org) = admin_call(
        &app,
        &console,
        Method::PUT,
        &format!("/api/v1/admin/orgs/{}/plan", bob.org_id),
        Some(json!({ "plan": "pro" })),
    )
    .await;
    assert_eq!((status, org["plan_tier"].clone()), (200, json!("pro")));
    let (_, orgs) = admin_call(&app, &console, Method::GET, "/api/v1/admin/orgs?q=bob", None).await;
    assert!(orgs["items"].as_array().expect("items").iter().all(|o| o["owner_email"] == "bob@example.com"));
    let (status, body) = admin_call(&app, &console, Method::GET, "/api/v1/admin/orgs/987654", None).await;
    assert_eq!((status, body["error"]["code"].clone()), (404, json!("org_not_found")));

    // Every action is in the admin audit log, with pagination.
    let (_, page) = admin_call(&app, &console, Method::GET, "/api/v1/admin/audit-log?limit=2", None).await;
    assert!(page["next_cursor"].is_string());
    let (_, attempts) =
        admin_call(&app, &console, Method::GET, "/api/v1/admin/login-attempts?email=root@example.com", None).await;
    assert_eq!(attempts["items"][0]["success"], true);
}

#[tokio::test]
async fn a_superadmin_with_two_factor_needs_the_code_on_the_console_too() {
    let app = spawn_app().await;
    assert!(create_superadmin(&app, "root@example.com", "staple battery horse 9").0);
    let tenant = app.login("root@example.com", "staple battery horse 9").await;
    let (_, setup) = app.call(&tenant, Method::POST, "/api/v1/me/2fa/setup", None).await;
    let secret =
        totp_rs::Secret::Encoded(setup["secret"].as_str().expect("secret").to_owned()).to_bytes().expect("b32");
    let totp = totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, secret, None, String::new()).expect("totp");
    let now = u64::try_from(chrono::Utc::now().timestamp()).expect("time");
    let (status, _) =
        app.call(&tenant, Method::POST, "/api/v1/me/2fa/enable", Some(json!({ "code": totp.generate(now) }))).await;
    assert_eq!(status, 200);
    let r = admin_login(&app, "root@example.com", "staple battery horse 9").await;
    assert_error(r, 401, "two_factor_required").await;
    let r = app
        .post_json(
            "/api/v1/admin/auth/login",
            &json!({ "email": "root@example.com", "password": "staple battery horse 9", "totp_code": "000000" }),
        )
        .await;
    assert_error(r, 401, "invalid_two_factor_code").await;
    let r = app
        .post_json(
            "/api/v1/admin/auth/login",
            &json!({ "email": "root@example.com", "password": "staple battery horse 9", "totp_code": totp.generate(now + 30) }),
        )
        .await;
    console_from(r).await;
}

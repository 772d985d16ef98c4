//! Test harness: the real application on port 0 with a temporary data file,
//! plus typed helpers for signing in and calling the API.

use std::path::PathBuf;
use std::sync::OnceLock;

use botbuilder::app::{AppState, Application};
use botbuilder::config::{Config, DbConfig, LogConfig};
use botbuilder::db::Db;
use reqwest::{Method, Response};
use serde_json::{Value, json};
use tempfile::TempDir;

/// The password the helpers sign up with (strong enough for zxcvbn).
pub const PASSWORD: &str = "correct horse 42";

/// A running server.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub dir: TempDir,
    stop: actix_web::dev::ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Starts the server and returns once it accepts connections.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], with a hook to change the configuration.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    spawn_in(tempfile::tempdir().expect("tempdir"), adjust).await
}

#[allow(clippy::unused_async, reason = "spawns the server on the caller's Tokio runtime")]
async fn spawn_in(dir: TempDir, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = Config {
        data: dir.path().join("test.db"),
        bind: "127.0.0.1:0".into(),
        log: LogConfig { level: "warn".into(), ..LogConfig::default() },
        ..Config::default()
    };
    config.http.workers = Some(2);
    // Tests drive the job queue with `jobs::run_once`.
    config.jobs.workers = 0;
    // Tests that need inference turn the models on.
    config.ml.enabled = false;
    // Test fakes of external services listen on loopback.
    config.outbound.allow_private = true;
    // Text extraction runs in worker processes of the built binary (the test
    // binary itself has no `extract-worker` subcommand).
    config.knowledge.extract_worker = Some(env!("CARGO_BIN_EXE_botbuilder").into());
    // Tests make many requests from one address; the rate-limit tests lower these.
    for limit in [
        &mut config.rate_limits.login,
        &mut config.rate_limits.register,
        &mut config.rate_limits.reset,
        &mut config.rate_limits.token,
    ] {
        limit.per_ip = 100_000;
        limit.per_account = 100_000;
    }
    adjust(&mut config);
    let default_data = dir.path().join("test.db");
    if config.data == default_data && !default_data.exists() {
        std::fs::write(&default_data, migrated_template()).expect("data file from the template");
    }
    botbuilder::telemetry::init(&config.log);
    let app = Application::build(config).expect("application builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state().clone();
    let stop = app.stop_handle();
    let task = tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    TestApp { address, client, state, dir, stop, task }
}

/// A fresh data file with every migration applied, made once per test
/// process by [`Db::open`]: applying the migrations to an empty file costs about
/// a second of CPU in a debug build, and the suite starts hundreds of servers.
/// Tests that point `data` elsewhere, and restarts, migrate as a server does.
fn migrated_template() -> &'static [u8] {
    static TEMPLATE: OnceLock<Vec<u8>> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(&dir.path().join("migrated.db"), &DbConfig::default()).expect("the template migrates");
        // A standalone copy, whatever the WAL still holds.
        let copy = dir.path().join("template.db");
        db.backup_to(&copy).expect("the template is copied");
        std::fs::read(copy).expect("the template reads back")
    })
}

/// A signed-in browser-like user: session cookie and CSRF token.
#[derive(Debug, Clone)]
pub struct Session {
    pub cookie: String,
    pub csrf: String,
    pub user_id: i64,
    /// The personal organization created at sign-up.
    pub org_id: i64,
}

impl TestApp {
    /// Stops the server as SIGTERM would (in-flight requests drain, workers
    /// stop, the WAL is checkpointed, the data file lock is released) and
    /// starts a new one on the same data file and key.
    pub async fn restart(self, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let dir = self.stop().await;
        spawn_in(dir, adjust).await
    }

    /// Stops the server as SIGTERM would and hands back its directory (the
    /// data file, its key and lock), e.g. for the `botbuilder` binary to serve.
    pub async fn stop(self) -> TempDir {
        let TestApp { dir, stop, task, state, .. } = self;
        stop.stop(true).await;
        task.await.expect("server task").expect("server stopped cleanly");
        drop(state);
        dir
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// An anonymous request.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path).send().await.expect("request")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.request(Method::POST, path).json(body).send().await.expect("request")
    }

    /// Signs up a new user through the API as a browser does (sign-up, then
    /// the emailed confirmation link, which signs in) and returns the session.
    pub async fn register(&self, email: &str) -> Session {
        self.register_with(email, PASSWORD, "Test User").await
    }

    /// Like [`TestApp::register`] with a chosen password and name.
    pub async fn register_with(&self, email: &str, password: &str, name: &str) -> Session {
        let response = self
            .post_json("/api/v1/auth/register", &json!({ "email": email, "password": password, "name": name }))
            .await;
        // A server without SMTP signs the account in at once; with SMTP the
        // emailed link does.
        if response.status() == 201 {
            return session_from(response).await;
        }
        assert_eq!(response.status(), 202, "register {email}: {}", response.text().await.unwrap_or_default());
        let token = self.emailed_token(email, "verify_email");
        let response = self.post_json("/api/v1/auth/verify-email", &json!({ "token": token })).await;
        assert_eq!(response.status(), 200, "confirm {email}");
        session_from(response).await
    }

    /// The token of the newest link of `email_type` queued for `to`.
    pub fn emailed_token(&self, to: &str, email_type: &str) -> String {
        let body: String = self.sql(|c| {
            c.query_row(
                "SELECT body_text FROM email_notifications WHERE recipient_email = ?1 AND email_type = ?2
                 ORDER BY id DESC LIMIT 1",
                [to, email_type],
                |r| r.get(0),
            )
        });
        body.split("token=")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| c.is_whitespace() || c == '"' || c == '<').next())
            .unwrap_or_else(|| panic!("no link in the {email_type} email to {to}: {body}"))
            .to_owned()
    }

    /// Signs in an existing user.
    pub async fn login(&self, email: &str, password: &str) -> Session {
        let response = self.post_json("/api/v1/auth/login", &json!({ "email": email, "password": password })).await;
        assert_eq!(response.status(), 200, "login {email}");
        session_from(response).await
    }

    /// A request as `session` (cookie, and CSRF header on unsafe methods).
    pub fn as_user(&self, session: &Session, method: Method, path: &str) -> reqwest::RequestBuilder {
        let unsafe_method = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
        let mut builder = self.request(method, path).header("Cookie", &session.cookie);
        if unsafe_method {
            builder = builder.header("X-CSRF-Token", &session.csrf);
        }
        builder
    }

    /// Sends a request as `session` (with a JSON body unless `None`) and
    /// returns the status and the JSON body (`Null` when empty).
    pub async fn call(&self, session: &Session, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.as_user(session, method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("send");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Signs up `email` and makes them a member of `org_id` with `role`
    /// through a real invitation (sent by `inviter`) and its acceptance.
    pub async fn join(&self, inviter: &Session, org_id: i64, email: &str, role: &str) -> Session {
        let (status, sent) = self
            .call(
                inviter,
                Method::POST,
                &format!("/api/v1/orgs/{org_id}/invitations"),
                Some(json!({ "email": email, "role": role })),
            )
            .await;
        assert_eq!(status, 201, "invite {email}: {sent}");
        let token = sent["accept_url"].as_str().expect("accept_url").split("token=").nth(1).expect("token").to_owned();
        let mut session = self.register(email).await;
        let (status, body) =
            self.call(&session, Method::POST, "/api/v1/invitations/accept", Some(json!({ "token": token }))).await;
        assert_eq!(status, 200, "accept for {email}: {body}");
        session.org_id = org_id;
        session
    }

    /// A request with a bearer token.
    pub fn as_token(&self, token: &str, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.request(method, path).bearer_auth(token)
    }

    /// Runs SQL against the data file (fixtures and assertions).
    pub fn sql<T>(&self, f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>) -> T {
        self.state.db.write_blocking(|tx| Ok(f(tx)?)).expect("sql")
    }

    /// Polls the data file with `query` until `done` accepts its answer
    /// (what the UI saves arrives a moment after the click); fails after
    /// 10 s naming `what` and the last answer.
    pub async fn wait_for_sql<T: std::fmt::Debug>(
        &self,
        what: &str,
        query: impl Fn(&rusqlite::Connection) -> rusqlite::Result<T>,
        done: impl Fn(&T) -> bool,
    ) -> T {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let value = self.sql(&query);
            if done(&value) {
                return value;
            }
            assert!(std::time::Instant::now() < deadline, "{what}: last {value:?}");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    pub fn data_path(&self) -> PathBuf {
        self.state.config.data.clone()
    }

    /// Runs every due background job (email, retention…) to completion.
    pub async fn run_jobs(&self) -> usize {
        let token = tokio_util::sync::CancellationToken::new();
        let mut n = 0;
        while botbuilder::jobs::run_once(&self.state, "test", &token).await.expect("job run") {
            n += 1;
        }
        n
    }

    /// One number from the data file.
    pub fn count(&self, sql: &str) -> i64 {
        self.sql(|c| c.query_row(sql, [], |r| r.get(0)))
    }
}

/// The session a signing-in response (login, confirmed sign-up) set.
pub async fn session_from(response: Response) -> Session {
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("__Host-bb_session="))
        .expect("session cookie")
        .split(';')
        .next()
        .expect("cookie pair")
        .to_owned();
    let body: Value = response.json().await.expect("json");
    Session {
        cookie,
        csrf: body["csrf_token"].as_str().expect("csrf token").to_owned(),
        user_id: body["user"]["id"].as_i64().expect("user id"),
        org_id: body["organizations"][0]["id"].as_i64().expect("org id"),
    }
}

/// Asserts the error body shape and code, returning the body.
pub async fn assert_error(response: Response, status: u16, code: &str) -> Value {
    let actual = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(actual, status, "status; body: {body}");
    assert_eq!(body["error"]["code"], code, "code; body: {body}");
    assert_eq!(body["error"]["status"], status, "status in body; body: {body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "message; body: {body}");
    body
}

/// Sends a request as `session` with an optional JSON body.
pub async fn send_as(app: &TestApp, s: &Session, method: Method, path: &str, body: Option<Value>) -> reqwest::Response {
    let mut b = app.as_user(s, method, path);
    if let Some(body) = body {
        b = b.json(&body);
    }
    b.send().await.expect("send")
}

/// The JSON body of `r` (`Null` when empty), asserting its status.
pub async fn ok_json(r: reqwest::Response, status: u16) -> Value {
    let actual = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(actual, status, "{body}");
    body
}

/// Sends a request as `session` and returns its JSON body, asserting a 2xx.
pub async fn call_ok(app: &TestApp, s: &Session, method: Method, path: &str, body: Option<Value>) -> Value {
    let (status, body) = app.call(s, method, path, body).await;
    assert!((200..300).contains(&status), "{path}: {status} {body}");
    body
}

/// Creates a bot named `name` whose published `main` flow is `flow`; answers its id.
pub async fn published_bot(app: &TestApp, s: &Session, name: &str, flow: Value) -> i64 {
    let (status, bot) =
        app.call(s, Method::POST, &format!("/api/v1/orgs/{}/bots", s.org_id), Some(json!({ "name": name }))).await;
    assert_eq!(status, 201, "{bot}");
    let bot = bot["id"].as_i64().expect("bot id");
    let path = format!("/api/v1/bots/{bot}/flows/main");
    let (status, saved) = app.call(s, Method::PUT, &path, Some(json!({ "document": flow }))).await;
    assert_eq!(status, 201, "{saved}");
    let (status, published) =
        app.call(s, Method::POST, &format!("{path}/publish"), Some(json!({ "message": "live" }))).await;
    assert_eq!(status, 200, "{published}");
    bot
}

/// One emulator turn on the published flows: the texts the user sees (the
/// hand-off note is for the agents) and the whole turn.
pub async fn emulator_say(
    app: &TestApp,
    s: &Session,
    bot: i64,
    conversation: Option<i64>,
    text: Option<&str>,
) -> (Vec<String>, Value) {
    let mut body = json!({ "source": "published" });
    if let Some(c) = conversation {
        body["conversation_id"] = json!(c);
    }
    if let Some(t) = text {
        body["text"] = json!(t);
    }
    let (status, turn) = app.call(s, Method::POST, &format!("/api/v1/bots/{bot}/emulator"), Some(body)).await;
    assert_eq!(status, 200, "{turn}");
    let texts = turn["replies"]
        .as_array()
        .expect("replies")
        .iter()
        .filter(|r| r["role"] != "note")
        .map(|r| r["text"].as_str().unwrap_or("").to_owned())
        .collect();
    (texts, turn)
}

//! Accessibility (issue 17, "look and reach"): axe-core from npm checks every
//! screen at 1440 px and 400 px, in the light and the dark theme, and fails on
//! any serious or critical violation. `scripts/test.sh` installs axe-core into
//! `target/axe/` and names the file in `BB_AXE_JS`; a missing axe-core is a
//! skip with a note, or a failure when `BB_REQUIRE_BROWSER=1`.
//!
//! Also checked here: the theme toggle (light / dark / system, remembered in
//! localStorage), "system" following `prefers-color-scheme` (emulated through
//! chromedriver's `DevTools` bridge), the skip link as the first focusable
//! element, and the menu button that opens the collapsed sidebar on a phone.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::wd::WebDriverCompatibleCommand;
use reqwest::Method;
use serde_json::{Value, json};

use crate::browser::{Browser, with_browser};
use crate::helpers::{TestApp, spawn_app};

/// axe-core's browser bundle: `BB_AXE_JS`, else where scripts/test.sh puts it.
pub(crate) fn axe_source() -> Option<String> {
    let path = std::env::var_os("BB_AXE_JS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/axe/node_modules/axe-core/axe.min.js"),
        PathBuf::from,
    );
    match std::fs::read_to_string(&path) {
        Ok(source) => Some(source),
        Err(e) => {
            assert!(
                std::env::var("BB_REQUIRE_BROWSER").as_deref() != Ok("1"),
                "axe-core is required (BB_REQUIRE_BROWSER=1) but {} cannot be read: {e}; \
                 run `npm install --no-save --prefix target/axe axe-core@4` or scripts/test.sh",
                path.display()
            );
            eprintln!("note: skipping the accessibility check: axe-core not found at {}", path.display());
            None
        }
    }
}

/// A Chrome `DevTools` command through chromedriver (`goog/cdp/execute`).
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/goog/cdp/execute", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({ "cmd": self.cmd, "params": self.params }).to_string()))
    }
}

async fn emulate_color_scheme(b: &Browser, scheme: &str) {
    b.client
        .issue_cmd(Cdp {
            cmd: "Emulation.setEmulatedMedia",
            params: json!({ "features": [ { "name": "prefers-color-scheme", "value": scheme } ] }),
        })
        .await
        .expect("Emulation.setEmulatedMedia");
}

/// Presses and releases one key on whatever has the focus.
async fn press(b: &Browser, key: Key) {
    let key = char::from(key);
    let keys =
        KeyActions::new("keyboard".into()).then(KeyAction::Down { value: key }).then(KeyAction::Up { value: key });
    b.client.perform_actions(keys).await.expect("key press");
}

async fn js(b: &Browser, script: &str) -> Value {
    b.client.execute(script, vec![]).await.unwrap_or_else(|e| panic!("{script}: {e}"))
}

/// Opens a screen through the app's router, as a click on a link does.
async fn open(b: &Browser, path: &str) {
    b.client
        .execute_async(
            "const [path, done] = arguments;
             import('/js/router.js').then((router) => {
               router.navigate(path);
               requestAnimationFrame(() => setTimeout(done, 0));
             });",
            vec![json!(path)],
        )
        .await
        .unwrap_or_else(|e| panic!("navigate to {path}: {e}"));
    assert_eq!(b.client.current_url().await.expect("url").path(), path);
}

/// Waits until the screen has rendered its heading and nothing is loading.
async fn wait_ready(b: &Browser, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let ready =
            js(b, "return !!document.querySelector('h1, h2') && !document.querySelector('.boot, [aria-busy=true]');")
                .await;
        if ready == json!(true) {
            return;
        }
        assert!(Instant::now() < deadline, "{path} never finished loading");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs axe on the page; returns one line per serious or critical violation.
pub(crate) async fn axe_violations(b: &Browser, axe: &str) -> Vec<String> {
    if js(b, "return typeof window.axe === 'object';").await != json!(true) {
        b.client.execute(axe, vec![]).await.expect("inject axe-core");
    }
    let result = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] })
               .then((r) => done(r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
                  targets: v.nodes.map((n) => n.target.join(' ') + (n.failureSummary ? ' — ' + n.failureSummary.replace(/\\s+/g, ' ') : '')) }))))
               .catch((e) => done({ error: String(e) }));",
            vec![],
        )
        .await
        .expect("axe.run");
    if let Some(error) = result.get("error") {
        panic!("axe.run failed: {error}");
    }
    let mut found = Vec::new();
    for v in result.as_array().expect("violations") {
        let impact = v["impact"].as_str().unwrap_or_default();
        if impact == "serious" || impact == "critical" {
            let targets: Vec<&str> =
                v["targets"].as_array().expect("targets").iter().filter_map(Value::as_str).collect();
            found.push(format!(
                "{} ({impact}): {} — {}",
                v["id"].as_str().unwrap_or_default(),
                v["help"],
                targets.join(" | ")
            ));
        }
    }
    found
}

/// A bot with a flow that hands over to a person, a knowledge base and one
/// conversation waiting in the inbox. Returns the bot's and the base's ids.
async fn seed(app: &TestApp) -> (i64, i64) {
    let owner = app.register("a11y@example.com").await;
    let org = owner.org_id;
    let (_, bot) =
        app.call(&owner, Method::POST, &format!("/api/v1/orgs/{org}/bots"), Some(json!({ "name": "Shop" }))).await;
    let bot = bot["id"].as_i64().expect("bot id");
    let flow = json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "hello", "type": "message", "data": { "text": "Hello there." } },
            { "id": "human", "type": "handoff", "data": {} }
        ],
        "edges": [ { "source": "start", "target": "hello" }, { "source": "hello", "target": "human" } ]
    });
    let (status, body) = app
        .call(&owner, Method::PUT, &format!("/api/v1/bots/{bot}/flows/main"), Some(json!({ "document": flow })))
        .await;
    assert_eq!(status, 201, "{body}");
    // Published, so the flow list shows its link beside the badges.
    let (status, body) =
        app.call(&owner, Method::POST, &format!("/api/v1/bots/{bot}/flows/main/publish"), Some(json!({}))).await;
    assert_eq!(status, 200, "{body}");
    let (status, kb) = app
        .call(&owner, Method::POST, &format!("/api/v1/orgs/{org}/knowledge-bases"), Some(json!({ "name": "Manuals" })))
        .await;
    assert_eq!(status, 201, "{kb}");
    let kb = kb["id"].as_i64().expect("kb id");
    // A conversation handed to a person in the emulator (which stays out of
    // the inbox) and a visitor's, waiting in the inbox.
    let (status, turn) = app
        .call(&owner, Method::POST, &format!("/api/v1/bots/{bot}/emulator"), Some(json!({ "source": "draft" })))
        .await;
    assert!(status < 300 && turn["status"] == "handoff", "{status} {turn}");
    app.sql(|c| {
        c.execute(
            "INSERT INTO conversations (organization_id, bot_id, channel, external_user_id, status, handoff_at, visitor)
             VALUES (?1, ?2, 'widget', 'ws_a11y_visitor_0001', 'handoff', strftime('%Y-%m-%dT%H:%M:%fZ','now'),
                     '{\"page_url\":\"https://shop.example.com/\",\"page_title\":\"Shop\",\"language\":\"en-GB\"}')",
            rusqlite::params![org, bot],
        )?;
        c.execute(
            "INSERT INTO widget_messages (organization_id, bot_id, conversation_id, session_id, role, content)
             VALUES (?1, ?2, last_insert_rowid(), 'ws_a11y_visitor_0001', 'user', 'Can a person help me?')",
            rusqlite::params![org, bot],
        )
    });
    // A conversation test, run once: the tests page shows a result.
    let test =
        json!({ "name": "Greets", "turns": [ { "user": null, "replies": [ { "text": "Hi!", "match": "exact" } ] } ] });
    let (status, body) = app.call(&owner, Method::POST, &format!("/api/v1/bots/{bot}/tests"), Some(test)).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app.call(&owner, Method::POST, &format!("/api/v1/bots/{bot}/tests/run"), None).await;
    assert_eq!(status, 200, "{body}");

    (bot, kb)
}

/// A Telegram contact of the bot's organization with a tag, an attribute and
/// the bot's conversation (the contact detail's every section has content).
fn seed_contact(app: &TestApp, bot: i64) -> i64 {
    app.sql(|c| {
        let org: i64 = c.query_row("SELECT organization_id FROM bots WHERE id = ?1", [bot], |r| r.get(0))?;
        let channel: i64 = c.query_row(
            "INSERT INTO channels (organization_id, bot_id, type, name, webhook_path)
             VALUES (?1, ?2, 'telegram', 'Shop on Telegram', lower(hex(randomblob(16)))) RETURNING id",
            rusqlite::params![org, bot],
            |r| r.get(0),
        )?;
        let contact: i64 = c.query_row(
            "INSERT INTO channel_contacts (organization_id, channel_id, external_id, username, display_name, tags,
                                           custom_attributes, consent_status, consent_source, last_message_at)
             VALUES (?1, ?2, '4242', 'ann', 'Ann', '[\"vip\"]', '{\"plan\":\"gold\",\"seats\":3}', 'granted', 'web_form',
                     strftime('%Y-%m-%dT%H:%M:%fZ','now')) RETURNING id",
            rusqlite::params![org, channel],
            |r| r.get(0),
        )?;
        c.execute(
            "UPDATE conversations SET contact_id = ?1 WHERE id = (SELECT min(id) FROM conversations WHERE bot_id = ?2)",
            rusqlite::params![contact, bot],
        )?;
        Ok(contact)
    })
}

/// Every screen at 1440 and 400 px, light and dark: axe's serious and
/// critical violations, a theme not applied, a page scrolling sideways.
async fn check_screens(b: &Browser, base: &str, screens: &[String], axe: &str) -> Vec<String> {
    let mut failures = Vec::new();
    for theme in ["light", "dark"] {
        // A full page load picks up the remembered theme; then the app's
        // own router moves between screens (axe-core stays injected).
        js(b, &format!("localStorage.setItem('bb-theme', '{theme}');")).await;
        b.client.goto(&format!("{base}/dashboard")).await.expect("goto");
        wait_ready(b, "/dashboard").await;
        for (width, height) in [(1440, 900), (400, 860)] {
            b.client.set_window_size(width, height).await.expect("resize");
            for path in screens {
                open(b, path).await;
                wait_ready(b, path).await;
                let applied = js(b, "return document.documentElement.dataset.theme;").await;
                if applied != json!(theme) {
                    failures.push(format!("{path} at {width} px: the {theme} theme is not applied ({applied})"));
                }
                for v in axe_violations(b, axe).await {
                    failures.push(format!("{path} at {width} px, {theme}: {v}"));
                }
                if width == 400 {
                    let overflow =
                        js(b, "return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
                            .await;
                    if overflow != json!(0) {
                        failures
                            .push(format!("{path} at {width} px, {theme}: the page scrolls sideways by {overflow} px"));
                    }
                }
            }
        }
    }
    failures
}

/// On a phone, a running emulator (chat above its debug panel) and an inbox
/// conversation with the agent's controls.
async fn check_in_use(b: &Browser, bot: i64, axe: &str, failures: &mut Vec<String>) {
    b.client.set_window_size(400, 860).await.expect("resize");
    for (path, action, shown) in [
        (format!("/bots/{bot}/emulator"), "#emulator-start", "#debugger .trace"),
        ("/inbox".to_string(), "#inbox-list li[data-conversation] a", "#agent-text"),
    ] {
        open(b, &path).await;
        wait_ready(b, &path).await;
        b.click(action).await;
        b.element(shown).await;
        wait_ready(b, &path).await;
        for v in axe_violations(b, axe).await {
            failures.push(format!("{path} in use at 400 px, dark: {v}"));
        }
        let overflow =
            js(b, "return document.documentElement.scrollWidth - document.documentElement.clientWidth;").await;
        if overflow != json!(0) {
            failures.push(format!("{path} in use at 400 px: the page scrolls sideways by {overflow} px"));
        }
    }
}

/// The skip link, the theme toggle, "system" following the OS, the phone menu.
async fn check_shell(b: &Browser, base: &str) {
    // The skip link is the first thing Tab reaches; it moves focus to <main>.
    b.client.set_window_size(1440, 900).await.expect("resize");
    b.client.goto(&format!("{base}/bots")).await.expect("goto");
    wait_ready(b, "/bots").await;
    press(b, Key::Tab).await;
    let first =
        js(b, "const a = document.activeElement; return [a.className, a.textContent, a.getAttribute('href')];").await;
    assert_eq!(first, json!(["skip-link", "Skip to content", "#content"]), "first focusable element");
    press(b, Key::Enter).await;
    assert_eq!(js(b, "return document.activeElement.id;").await, json!("content"), "focus is on <main>");
    b.wait_for_path("/bots").await;
    press(b, Key::Tab).await;
    let next = js(b, "return !!document.activeElement.closest('main');").await;
    assert_eq!(next, json!(true), "the next Tab stays in the content, past the sidebar");

    // The toggle: dark is applied at once and remembered across a reload.
    b.select("#theme-select", "dark").await;
    assert_eq!(js(b, "return document.documentElement.dataset.theme;").await, json!("dark"));
    b.client.refresh().await.expect("reload");
    wait_ready(b, "/bots").await;
    assert_eq!(
        js(b, "return [localStorage.getItem('bb-theme'), document.documentElement.dataset.theme];").await,
        json!(["dark", "dark"])
    );
    // "System" follows prefers-color-scheme, also when it changes.
    b.select("#theme-select", "system").await;
    emulate_color_scheme(b, "dark").await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while js(b, "return document.documentElement.dataset.theme;").await != json!("dark") {
        assert!(Instant::now() < deadline, "system theme did not follow prefers-color-scheme: dark");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let bg = js(b, "return getComputedStyle(document.body).backgroundColor;").await;
    assert_ne!(bg, json!("rgb(247, 247, 251)"), "the dark background is used");
    emulate_color_scheme(b, "light").await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while js(b, "return document.documentElement.dataset.theme;").await != json!("light") {
        assert!(Instant::now() < deadline, "system theme did not follow prefers-color-scheme: light");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // On a phone the sidebar is behind a menu button.
    b.client.set_window_size(400, 860).await.expect("resize");
    let nav_visible = "return getComputedStyle(document.querySelector('nav.sidebar')).display !== 'none';";
    assert_eq!(js(b, nav_visible).await, json!(false), "the sidebar is collapsed at 400 px");
    b.click("#menu-button").await;
    assert_eq!(js(b, nav_visible).await, json!(true), "the menu button opens the sidebar");
    assert_eq!(b.element("#menu-button").await.attr("aria-expanded").await.expect("attr").as_deref(), Some("true"));
    b.click("nav.sidebar a[href='/knowledge']").await;
    b.wait_for_path("/knowledge").await;
    assert_eq!(js(b, nav_visible).await, json!(false), "following a link closes the menu");
    let overflow = js(b, "return document.documentElement.scrollWidth - document.documentElement.clientWidth;").await;
    assert_eq!(overflow, json!(0), "nothing is wider than the phone");
}

#[tokio::test]
async fn every_screen_passes_axe_at_desktop_and_phone_width_in_light_and_dark() {
    let Some(axe) = axe_source() else { return };
    let app = spawn_app().await;
    let (bot, kb) = seed(&app).await;
    let contact = seed_contact(&app, bot);
    let screens: Vec<String> = [
        "/login",
        "/signup",
        "/dashboard",
        "/bots",
        &format!("/bots/{bot}"),
        &format!("/bots/{bot}/flows"),
        &format!("/bots/{bot}/flows/main"),
        &format!("/bots/{bot}/orchestrations"),
        &format!("/bots/{bot}/widget"),
        &format!("/bots/{bot}/emulator"),
        &format!("/bots/{bot}/tests"),
        &format!("/bots/{bot}/conversations"),
        &format!("/bots/{bot}/nlu"),
        &format!("/bots/{bot}/insights"),
        &format!("/bots/{bot}/ai"),
        "/knowledge",
        &format!("/knowledge/{kb}"),
        "/inbox",
        "/contacts",
        &format!("/contacts/{contact}"),
        "/members",
        "/roles",
        "/teams",
        "/api-tokens",
        "/scim",
        "/branding",
        "/audit",
        "/activity",
        "/org-admin",
        "/settings",
        "/settings/llm-providers",
        "/settings/channels",
        "/settings/webhooks",
        "/settings/integrations",
        "/account",
        "/status",
        "/admin",
    ]
    .iter()
    .map(ToString::to_string)
    .collect();

    with_browser("a11y", |b| async move {
        let started = Instant::now();
        let base = app.url("");
        let base = base.trim_end_matches('/');
        // Signing in through the form (the sign-in screen is checked below too).
        b.sign_in(&app, "a11y@example.com").await;

        let mut failures = check_screens(&b, base, &screens, &axe).await;
        check_in_use(&b, bot, &axe, &mut failures).await;
        eprintln!("accessibility check: {} screens × 4 in {:.1} s", screens.len(), started.elapsed().as_secs_f64());
        assert!(failures.is_empty(), "{} accessibility failures:\n{}", failures.len(), failures.join("\n"));

        check_shell(&b, base).await;
        b.client.clone().close().await.expect("close");
    })
    .await;
}

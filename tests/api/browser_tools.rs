//! The Tools page in headless Chromium: an HTTP tool created from the form
//! the type catalogue generates, a bad argument schema answered with the path
//! of the fault, a test run against a fake API (result, duration, status) and
//! the run in the log.

use std::sync::Arc;

use serde_json::json;

use crate::browser::with_browser;
use crate::fake_http::{FakeServer, Received, Reply};
use crate::helpers::spawn_app;

#[tokio::test]
async fn the_tools_page_creates_an_http_tool_and_test_runs_it() {
    let fake = FakeServer::start(Arc::new(|r: &Received| {
        let body = json!({ "current": { "temp": 18.5 }, "path": r.path });
        Reply::Full(200, "application/json".into(), body.to_string().into_bytes())
    }))
    .await;
    let url = format!("{}/weather?city={{{{city}}}}", fake.base);
    let app = spawn_app().await;
    app.register("tools-ui@example.com").await;
    with_browser("tools_page", |b| async move {
        b.sign_in(&app, "tools-ui@example.com").await;
        b.click("a[href='/tools']").await;
        b.wait_for_path("/tools").await;
        b.wait_for_text("tbody", "No tools yet").await;
        b.click("#new-tool").await;
        b.select("#tool-type", "http").await;
        b.fill("#tool-name", "weather").await;
        b.replace("#tool-config-url", &url).await;
        b.replace("#tool-config-response_mapping", r#"{"temperature": "$.current.temp"}"#).await;
        b.replace("#tool-config-headers", "{}").await;
        // A schema that is not one: refused with the path inside it.
        b.replace(
            "#tool-input-schema",
            r#"{"type": "object", "properties": {"city": {"type": "strang"}}, "required": ["city"]}"#,
        )
        .await;
        b.click("#tool-form button[type=submit]").await;
        b.wait_for_text("#schema-path", "/properties/city/type").await;
        b.replace(
            "#tool-input-schema",
            r#"{"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}"#,
        )
        .await;
        b.click("#tool-form button[type=submit]").await;
        b.wait_for_text("tr[data-tool]", "weather").await;

        // Test-run: arguments that do not match are named; then a run that works.
        b.replace("#tool-test-arguments", r#"{"city": 5}"#).await;
        b.click("#run-test").await;
        b.wait_for_text("#argument-issues", "/city").await;
        b.replace("#tool-test-arguments", r#"{"city": "Lyon"}"#).await;
        b.click("#run-test").await;
        let outcome = b.wait_for_text("#test-outcome", "ok").await;
        assert!(outcome.contains(" ms"), "{outcome}");
        b.wait_for_text("#test-result", "18.5").await;
        let row = b.wait_for_text("#tool-executions tr[data-execution]", "ok").await;
        assert!(row.contains("Lyon"), "{row}");
    })
    .await;
    assert_eq!(fake.requests().len(), 1);
    assert_eq!(fake.requests()[0].path, "/weather?city=Lyon");
}

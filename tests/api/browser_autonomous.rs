//! The Autonomous agents page in headless Chromium: an agent created from
//! the form (a bad cron expression named under its field, then the next-run
//! preview), "Run now" without an LLM provider ending in a clear
//! `llm_not_configured` in the run's steps view, the analytics card and the
//! memory browser's empty state.

use crate::browser::with_browser;
use crate::helpers::spawn_app;

#[tokio::test]
async fn the_autonomous_page_creates_an_agent_runs_it_and_shows_the_run() {
    let app = spawn_app().await;
    app.register("autonomous-ui@example.com").await;
    let state = app.state.clone();
    with_browser("autonomous_page", |b| async move {
        b.sign_in(&app, "autonomous-ui@example.com").await;
        b.click("a[href='/autonomous']").await;
        b.wait_for_path("/autonomous").await;
        b.wait_for_text("tbody", "No autonomous agents yet").await;
        b.click("#new-autonomous").await;
        b.fill("#aa-name", "Weekly report").await;
        b.fill("#aa-goal", "Summarise the week's conversations").await;
        b.replace("#aa-timezone", "Europe/Paris").await;
        b.fill("#aa-cron", "0 25 * * *").await;
        b.click("#autonomous-form button[type=submit]").await;
        b.wait_for_text("[data-field-error='schedule.cron']", "cron").await;
        b.replace("#aa-cron", "0 9 * * MON").await;
        b.wait_for_text("#schedule-preview", "Next runs").await;
        b.click("#autonomous-form button[type=submit]").await;
        b.wait_for_text("h1", "Weekly report").await;
        b.wait_for_text("body", "0 9 * * MON").await;

        // Run now: no provider, so the run fails at once with a clear reason.
        b.click("#run-now").await;
        b.wait_for_text("#autonomous-runs tbody", "manual").await;
        let token = tokio_util::sync::CancellationToken::new();
        while botbuilder::jobs::run_once(&state, "browser", &token).await.expect("job") {}
        b.click("#autonomous-runs .open-run").await;
        let detail = b.wait_for_text("#run-detail", "llm_not_configured").await;
        assert!(detail.contains("failed"), "{detail}");
        b.wait_for_text("#autonomous-memories", "No memories yet").await;
        b.wait_for_text("#stat-runs", "1").await;
    })
    .await;
}

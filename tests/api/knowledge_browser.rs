//! The knowledge screens in headless Chromium: create a knowledge base,
//! upload a file, watch it become ready, find it with search, ask a question.

use std::time::Duration;

use botbuilder::jobs;
use fantoccini::Locator;
use tokio_util::sync::CancellationToken;

use crate::browser::{Browser, with_browser};
use crate::helpers::spawn_app_with;

/// Waits until the element's text satisfies `ok` (the page re-renders while
/// it polls, so elements may go stale between finding and reading them).
async fn wait_text(b: &Browser, css: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut last = String::new();
    while std::time::Instant::now() < deadline {
        if let Ok(element) = b.client.find(Locator::Css(css)).await
            && let Ok(text) = element.text().await
        {
            if ok(&text) {
                return text;
            }
            last = text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css}: text never matched; last seen: {last:?}");
}

#[tokio::test]
async fn a_knowledge_base_is_created_filled_and_searched_in_the_ui() {
    let app = spawn_app_with(|c| c.ml.enabled = true).await;
    // The job queue runs in the background, as workers would.
    let stop = CancellationToken::new();
    let (state, worker_stop) = (app.state.clone(), stop.clone());
    let worker = tokio::spawn(async move {
        while !worker_stop.is_cancelled() {
            if !jobs::run_once(&state, "ui-test", &worker_stop).await.unwrap_or(false) {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    let file = app.dir.path().join("harbour-guide.md");
    std::fs::write(&file, "# Harbour guide\n\n## Ferries\n\nThe ferry to the lighthouse island leaves every forty minutes from pier seven.\n").expect("file");
    let url = app.url("/login");
    let app = &app;
    with_browser("knowledge_ui", |b| async move {
        b.client.goto(&url).await.expect("goto");
        b.click("a[href='/signup']").await;
        b.fill("#name", "Knowledge User").await;
        b.fill("#email", "kb-ui@example.com").await;
        b.fill("#password", crate::helpers::PASSWORD).await;
        b.click("button[type=submit]").await;
        b.finish_signup(app, "kb-ui@example.com").await;
        b.wait_for_path("/dashboard").await;

        b.click("a[href='/knowledge']").await;
        b.fill("#create-kb #name", "Harbour").await;
        b.click("#create-kb button[type=submit]").await;
        wait_text(&b, "h1", |t| t == "Harbour").await;
        let input = b
            .client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("#file-input"))
            .await
            .expect("file input");
        input.send_keys(&file.display().to_string()).await.expect("choose file");
        // Queued → extracting → embedding → ready, shown live.
        wait_text(&b, "tr[data-status=ready]", |t| t.contains("harbour-guide.md")).await;
        wait_text(&b, "#kb-stats", |t| t.contains("1 document ·")).await;

        b.click("button[data-tab=search]").await;
        b.fill("#search-query", "when does the ferry leave").await;
        b.click("#search-playground button[type=submit]").await;
        wait_text(&b, ".result", |t| t.contains("harbour-guide.md") && t.contains("forty minutes")).await;
        wait_text(&b, ".result mark", |t| t.to_lowercase().contains("ferry")).await;
        // Scores read as words, not raw fusion values.
        let first = wait_text(&b, ".result", |t| t.contains("relevance") || t.contains("Keyword match")).await;
        assert!(first.contains("matched by"), "{first}");
        assert!(!first.contains("score 0."), "no raw fusion value in the text: {first}");

        b.click("button[data-tab=answer]").await;
        b.fill("#answer-question", "How often does the ferry to the lighthouse leave?").await;
        b.click("#answer-playground button[type=submit]").await;
        wait_text(&b, "#answer-text", |t| t.contains("forty minutes")).await;
        wait_text(&b, ".citation", |t| t.contains("harbour-guide.md")).await;
        b.client.clone().close().await.expect("close");
    })
    .await;
    stop.cancel();
    let _ = worker.await;
}

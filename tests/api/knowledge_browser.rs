//! The knowledge screens in headless Chromium: create a knowledge base,
//! upload a file, watch it become ready, find it with search, ask a question.

use std::time::Duration;

use botbuilder::jobs;
use fantoccini::Locator;
use tokio_util::sync::CancellationToken;

use crate::browser::with_browser;
use crate::helpers::spawn_app_with;

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
    with_browser("knowledge_ui", |b| async move {
        b.client.goto(&url).await.expect("goto");
        b.click("a[href='/signup']").await;
        b.fill("#name", "Knowledge User").await;
        b.fill("#email", "kb-ui@example.com").await;
        b.fill("#password", "correct horse 42").await;
        b.click("button[type=submit]").await;
        b.wait_for_path("/dashboard").await;

        b.click("a[href='/knowledge']").await;
        b.fill("#create-kb #name", "Harbour").await;
        b.click("#create-kb button[type=submit]").await;
        assert_eq!(b.text_of("h1").await, "Harbour");
        let input = b
            .client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("#file-input"))
            .await
            .expect("file input");
        input.send_keys(&file.display().to_string()).await.expect("choose file");
        // Queued → extracting → embedding → ready, shown live.
        let ready = b
            .client
            .wait()
            .at_most(Duration::from_secs(120))
            .for_element(Locator::Css("tr[data-status=ready]"))
            .await
            .expect("the document becomes ready");
        assert!(ready.text().await.expect("text").contains("harbour-guide.md"));
        assert!(b.text_of("#kb-stats").await.contains("1 documents"));

        b.click("button[data-tab=search]").await;
        b.fill("#search-query", "when does the ferry leave").await;
        b.click("#search-playground button[type=submit]").await;
        let result = b.text_of(".result").await;
        assert!(result.contains("harbour-guide.md") && result.contains("forty minutes"), "{result}");
        assert!(b.text_of(".result mark").await.to_lowercase().contains("ferry"));

        b.click("button[data-tab=answer]").await;
        b.fill("#answer-question", "How often does the ferry to the lighthouse leave?").await;
        b.click("#answer-playground button[type=submit]").await;
        assert!(b.text_of("#answer-text").await.contains("forty minutes"));
        assert!(b.text_of(".citation").await.contains("harbour-guide.md"));
        b.client.clone().close().await.expect("close");
    })
    .await;
    stop.cancel();
    let _ = worker.await;
}

//! The durable job queue: run, retry with backoff, permanent failure, lease
//! takeover after a crash, and the job API's tenant scope.

use botbuilder::jobs::{self, Enqueue, store};
use reqwest::Method;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::helpers::{assert_error, spawn_app};

fn status(app: &crate::helpers::TestApp, id: botbuilder::ids::JobId) -> (String, i64, Option<String>) {
    app.sql(|c| {
        c.query_row("SELECT status, attempts, last_error FROM jobs WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
    })
}

#[tokio::test]
async fn jobs_run_retry_and_fail_permanently() {
    let app = spawn_app().await;
    let s = app.register("jobs@example.com").await;
    let org = Some(botbuilder::ids::OrgId(s.org_id));
    let token = CancellationToken::new();
    let ok = app.state.jobs.enqueue(Enqueue::new(org, "noop", json!({ "x": 1 }))).await.expect("enqueue");
    while jobs::run_once(&app.state, "test", &token).await.expect("run") {}
    let view: Value = app
        .as_user(&s, Method::GET, &format!("/api/v1/jobs/{}", ok.0))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(view["status"], "succeeded", "{view}");
    assert_eq!(view["result"]["echo"]["x"], 1);

    let permanent =
        app.state.jobs.enqueue(Enqueue::new(org, "noop", json!({ "fail": "bad input" }))).await.expect("enqueue");
    while jobs::run_once(&app.state, "test", &token).await.expect("run") {}
    assert_eq!(status(&app, permanent), ("failed".into(), 1, Some("bad input".into())));

    let mut retry = Enqueue::new(org, "noop", json!({ "fail": "retry" }));
    retry.max_attempts = 2;
    let retry = app.state.jobs.enqueue(retry).await.expect("enqueue");
    while jobs::run_once(&app.state, "test", &token).await.expect("run") {}
    let (st, attempts, _) = status(&app, retry);
    assert_eq!((st.as_str(), attempts), ("queued", 1), "a retryable failure goes back to the queue with backoff");
    // Make it due now and run the last attempt.
    app.sql(|c| c.execute("UPDATE jobs SET run_at = '2000-01-01T00:00:00.000Z' WHERE id = ?1", [retry]));
    while jobs::run_once(&app.state, "test", &token).await.expect("run") {}
    assert_eq!(status(&app, retry).0, "dead");

    let unknown = app.state.jobs.enqueue(Enqueue::new(org, "no-such-kind", json!({}))).await.expect("enqueue");
    while jobs::run_once(&app.state, "test", &token).await.expect("run") {}
    assert_eq!(status(&app, unknown).0, "failed");
}

#[tokio::test]
async fn a_crashed_workers_job_is_taken_over_after_its_lease() {
    let app = spawn_app().await;
    let id = app.state.jobs.enqueue(Enqueue::new(None, "noop", json!({}))).await.expect("enqueue");
    // Simulate a worker that leased the job and died.
    app.sql(|c| c.execute("UPDATE jobs SET status = 'running', attempts = 1, locked_by = 'dead', locked_until = '2000-01-01T00:00:00.000Z' WHERE id = ?1", [id]));
    while jobs::run_once(&app.state, "test", &CancellationToken::new()).await.expect("run") {}
    assert_eq!(status(&app, id), ("succeeded".into(), 2, None));
}

#[tokio::test]
async fn idempotency_key_returns_the_existing_job() {
    let app = spawn_app().await;
    let mut job = Enqueue::new(None, "noop", json!({}));
    job.idempotency_key = Some("same".into());
    job.delay = std::time::Duration::from_secs(3600);
    let a = app.state.jobs.enqueue(job.clone()).await.expect("a");
    let b = app.state.jobs.enqueue(job).await.expect("b");
    assert_eq!(a, b);
    let found = app.state.db.read_blocking(|c| Ok(store::find_any(c, a)?)).expect("read");
    assert!(found.is_some());
}

#[tokio::test]
async fn jobs_of_other_organizations_and_platform_jobs_are_invisible() {
    let app = spawn_app().await;
    let alice = app.register("alice@example.com").await;
    let bob = app.register("bob@example.com").await;
    let mut job = Enqueue::new(Some(botbuilder::ids::OrgId(alice.org_id)), "noop", json!({}));
    job.delay = std::time::Duration::from_secs(3600);
    let id = app.state.jobs.enqueue(job.clone()).await.expect("enqueue");
    assert_eq!(
        app.as_user(&alice, Method::GET, &format!("/api/v1/jobs/{}", id.0)).send().await.expect("send").status(),
        200
    );
    assert_error(
        app.as_user(&bob, Method::GET, &format!("/api/v1/jobs/{}", id.0)).send().await.expect("send"),
        404,
        "job_not_found",
    )
    .await;
    job.org_id = None;
    let platform = app.state.jobs.enqueue(job).await.expect("enqueue");
    assert_error(
        app.as_user(&alice, Method::GET, &format!("/api/v1/jobs/{}", platform.0)).send().await.expect("send"),
        404,
        "job_not_found",
    )
    .await;
}

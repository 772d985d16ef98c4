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

#[tokio::test]
async fn a_job_left_running_by_a_previous_process_is_runnable_right_after_start_up() {
    let app = spawn_app().await;
    let id = app.state.jobs.enqueue(Enqueue::new(None, "noop", json!({}))).await.expect("enqueue");
    // A process leased it, then was killed (kill -9): its lease runs far into the future.
    app.sql(|c| {
        c.execute(
            "UPDATE jobs SET status = 'running', attempts = 1, locked_by = 'pid1.dead-0',
                    locked_until = '2999-01-01T00:00:00.000Z' WHERE id = ?1",
            [id],
        )
    });
    let app = app.restart(|_| {}).await;
    let (st, _, error) = status(&app, id);
    assert_eq!(st, "queued", "the new process, holding the data-file lock, reclaimed it");
    assert!(error.unwrap_or_default().contains("interrupted"));
    assert!(jobs::run_once(&app.state, "test", &CancellationToken::new()).await.expect("run"), "due at once");
    assert_eq!(status(&app, id), ("succeeded".into(), 2, None));

    // A job that has used its last attempt is not retried forever.
    let last = app.state.jobs.enqueue(Enqueue::new(None, "noop", json!({}))).await.expect("enqueue");
    app.sql(|c| {
        c.execute(
            "UPDATE jobs SET status = 'running', attempts = max_attempts, locked_by = 'pid1.dead-0',
                    locked_until = '2999-01-01T00:00:00.000Z' WHERE id = ?1",
            [last],
        )
    });
    let app = app.restart(|_| {}).await;
    assert_eq!(status(&app, last).0, "dead");
}

#[tokio::test]
async fn a_long_jobs_lease_is_short_and_renewed_while_it_runs() {
    let app = spawn_app().await;
    let id = app.state.jobs.enqueue(Enqueue::new(None, "noop", json!({ "delay_ms": 900 }))).await.expect("enqueue");
    let timing = jobs::LeaseTiming {
        lease: std::time::Duration::from_millis(400),
        heartbeat: std::time::Duration::from_millis(100),
    };
    let state = app.state.clone();
    let worker = tokio::spawn(async move {
        jobs::run_once_timed(&state, "worker-a", &CancellationToken::new(), timing).await.expect("run")
    });
    let lease = |app: &crate::helpers::TestApp| -> Option<String> {
        app.sql(|c| c.query_row("SELECT locked_until FROM jobs WHERE id = ?1", [id], |r| r.get(0)))
    };
    let mut seen = Vec::new();
    for _ in 0..6 {
        tokio::time::sleep(std::time::Duration::from_millis(120)).await;
        if status(&app, id).0 == "running" {
            seen.push(lease(&app).expect("leased"));
            // Another worker cannot take it over while the heartbeat renews it,
            // although the job has run longer than one lease.
            let now = botbuilder::db::now();
            let free: i64 = app.sql(|c| {
                c.query_row(
                    "SELECT count(*) FROM jobs WHERE id = ?1 AND status = 'running' AND locked_until < ?2",
                    rusqlite::params![id, now],
                    |r| r.get(0),
                )
            });
            assert_eq!(free, 0, "lease expired while the job was running");
        }
    }
    assert!(worker.await.expect("join"), "the job ran");
    assert_eq!(status(&app, id).0, "succeeded");
    seen.dedup();
    assert!(seen.len() >= 3, "the lease was renewed while the job ran: {seen:?}");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    // The default lease is short: a dead worker's job is due again within 30 s.
    assert_eq!(jobs::LEASE, std::time::Duration::from_secs(30));
    assert!(jobs::HEARTBEAT * 3 <= jobs::LEASE);
}

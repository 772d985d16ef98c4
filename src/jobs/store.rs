//! SQL of the `jobs` table.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::model::{Job, LeasedJob};
use crate::db::{FromRow, query_opt};
use crate::http::Tenant;
use crate::ids::{JobId, OrgId};

/// What to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob<'a> {
    pub org_id: Option<OrgId>,
    pub kind: &'a str,
    pub payload: &'a Value,
    pub priority: i64,
    pub max_attempts: i64,
    pub run_at: &'a str,
    pub idempotency_key: Option<&'a str>,
}

const JOB_COLUMNS: &str = "id, organization_id, kind, payload, status, priority, attempts, max_attempts, run_at, \
                           progress, result, last_error, created_at, started_at, finished_at";

/// Inserts a job; with an idempotency key already used, returns the existing job's id.
pub fn insert(conn: &Connection, job: &NewJob<'_>) -> rusqlite::Result<JobId> {
    if let Some(key) = job.idempotency_key {
        let existing: Option<JobId> =
            conn.query_row("SELECT id FROM jobs WHERE idempotency_key = ?1", [key], |r| r.get(0)).optional()?;
        if let Some(id) = existing {
            return Ok(id);
        }
    }
    conn.query_row(
        "INSERT INTO jobs (organization_id, kind, payload, priority, max_attempts, run_at, idempotency_key)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
        params![
            job.org_id,
            job.kind,
            job.payload.to_string(),
            job.priority,
            job.max_attempts,
            job.run_at,
            job.idempotency_key
        ],
        |r| r.get(0),
    )
}

/// Leases the next due job (queued and due, or running with an expired lease
/// — its worker died) for `worker` until `lease_until`.
pub fn lease_next(
    conn: &Connection,
    now: &str,
    lease_until: &str,
    worker: &str,
) -> rusqlite::Result<Option<LeasedJob>> {
    conn.query_row(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_until = ?2, locked_by = ?3,
                started_at = coalesce(started_at, ?1)
         WHERE id = (SELECT id FROM jobs
                     WHERE (status = 'queued' AND run_at <= ?1) OR (status = 'running' AND locked_until < ?1)
                     ORDER BY priority DESC, run_at, id LIMIT 1)
         RETURNING id, organization_id, kind, payload, attempts, max_attempts",
        params![now, lease_until, worker],
        LeasedJob::from_row,
    )
    .optional()
}

/// Marks a leased job succeeded.
pub fn succeed(conn: &Connection, id: JobId, worker: &str, result: &Value, now: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE jobs SET status = 'succeeded', result = ?3, finished_at = ?4, locked_until = NULL, last_error = NULL
         WHERE id = ?1 AND locked_by = ?2 AND status = 'running'",
        params![id, worker, result.to_string(), now],
    )?;
    Ok(())
}

/// Records a failed attempt: back to `queued` at `retry_at`, or `terminal`
/// (`failed` or `dead`) when there is no retry.
pub fn fail(
    conn: &Connection,
    id: JobId,
    worker: &str,
    error: &str,
    retry_at: Option<&str>,
    terminal: &str,
    now: &str,
) -> rusqlite::Result<()> {
    match retry_at {
        Some(at) => conn.execute(
            "UPDATE jobs SET status = 'queued', run_at = ?3, last_error = ?4, locked_until = NULL, locked_by = NULL
             WHERE id = ?1 AND locked_by = ?2 AND status = 'running'",
            params![id, worker, at, error],
        )?,
        None => conn.execute(
            "UPDATE jobs SET status = ?3, last_error = ?4, finished_at = ?5, locked_until = NULL
             WHERE id = ?1 AND locked_by = ?2 AND status = 'running'",
            params![id, worker, terminal, error, now],
        )?,
    };
    Ok(())
}

/// Stores progress and extends the lease; false when the job was cancelled or lost.
pub fn report_progress(
    conn: &Connection,
    id: JobId,
    worker: &str,
    progress: &Value,
    lease_until: &str,
) -> rusqlite::Result<bool> {
    let n = conn.execute(
        "UPDATE jobs SET progress = ?3, locked_until = ?4 WHERE id = ?1 AND locked_by = ?2 AND status = 'running'",
        params![id, worker, progress.to_string(), lease_until],
    )?;
    Ok(n == 1)
}

/// Extends the lease of a job this worker holds; false when it was
/// cancelled, finished or taken over.
pub fn renew_lease(conn: &Connection, id: JobId, worker: &str, lease_until: &str) -> rusqlite::Result<bool> {
    let n = conn.execute(
        "UPDATE jobs SET locked_until = ?3 WHERE id = ?1 AND locked_by = ?2 AND status = 'running'",
        params![id, worker, lease_until],
    )?;
    Ok(n == 1)
}

/// Every job still `running` belongs to a process that is gone (the caller
/// holds the data-file lock): due again now while attempts remain, else
/// `dead`. Returns the number of jobs changed.
pub fn reclaim_running(conn: &Connection, now: &str) -> rusqlite::Result<usize> {
    const INTERRUPTED: &str = "interrupted: the process running it stopped";
    let requeued = conn.execute(
        "UPDATE jobs SET status = 'queued', run_at = ?1, locked_until = NULL, locked_by = NULL, last_error = ?2
         WHERE status = 'running' AND attempts < max_attempts",
        params![now, INTERRUPTED],
    )?;
    let dead = conn.execute(
        "UPDATE jobs SET status = 'dead', finished_at = ?1, locked_until = NULL, last_error = ?2
         WHERE status = 'running'",
        params![now, INTERRUPTED],
    )?;
    Ok(requeued + dead)
}

/// A job of the tenant.
pub fn find(conn: &Connection, tenant: &Tenant, id: JobId) -> rusqlite::Result<Option<Job>> {
    query_opt(
        conn,
        &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1 AND organization_id = ?2"),
        params![id, tenant.org_id()],
    )
}

/// A job by id, for workers and tests (no tenant: platform code only).
pub fn find_any(conn: &Connection, id: JobId) -> rusqlite::Result<Option<Job>> {
    query_opt(conn, &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"), [id])
}

/// Number of jobs per status.
pub fn count_by_status(conn: &Connection) -> rusqlite::Result<Vec<(String, i64)>> {
    let mut stmt = conn.prepare_cached("SELECT status, count(*) FROM jobs GROUP BY status")?;
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect()
}

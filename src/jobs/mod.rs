//! The durable job queue (DESIGN §9): one `jobs` table, leased under
//! `BEGIN IMMEDIATE`, retried with exponential backoff, resumed after a crash.
//!
//! Leases are short ([`LEASE`]) and renewed by a heartbeat while the job runs,
//! so a job whose worker died is due again within seconds. At start-up the
//! process holds the data-file lock, which proves that no other process owns a
//! job: [`reclaim_orphaned`] hands back every job still marked running.
//!
//! A domain adds a kind by implementing [`JobHandler`] and listing it in
//! [`handler_for`]. Tests call [`run_once`] instead of sleeping.

pub mod model;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use actix_web::{get, web};
use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use utoipa_actix_web::service_config::ServiceConfig;

pub use model::{Job, LeasedJob};

use crate::app::AppState;
use crate::db::{Db, format_timestamp, now};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::JobScope;
use crate::ids::{JobId, OrgId};
use crate::permissions::perm;

/// How long a worker owns a job before another may take it over. The worker
/// renews it every [`HEARTBEAT`] while the handler runs.
pub const LEASE: Duration = Duration::from_secs(30);

/// How often a running job's lease is renewed.
pub const HEARTBEAT: Duration = Duration::from_secs(10);

/// Lease length and renewal period of a worker (tests shorten them).
#[derive(Debug, Clone, Copy)]
pub struct LeaseTiming {
    pub lease: Duration,
    pub heartbeat: Duration,
}

impl Default for LeaseTiming {
    fn default() -> Self {
        LeaseTiming { lease: LEASE, heartbeat: HEARTBEAT }
    }
}

/// Registers the job routes.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(get_job);
}

/// Handle for enqueueing jobs and waking workers.
#[derive(Clone)]
pub struct Queue {
    db: Db,
    wake: Arc<Notify>,
}

/// Options of a new job.
#[derive(Debug, Clone)]
pub struct Enqueue {
    pub org_id: Option<OrgId>,
    pub kind: &'static str,
    pub payload: Value,
    pub priority: i64,
    pub max_attempts: i64,
    pub delay: Duration,
    pub idempotency_key: Option<String>,
}

impl Enqueue {
    /// A job of `kind` for an organization with default options.
    #[must_use]
    pub fn new(org_id: Option<OrgId>, kind: &'static str, payload: Value) -> Enqueue {
        Enqueue { org_id, kind, payload, priority: 0, max_attempts: 5, delay: Duration::ZERO, idempotency_key: None }
    }
}

impl Queue {
    #[must_use]
    pub fn new(db: Db) -> Queue {
        Queue { db, wake: Arc::new(Notify::new()) }
    }

    /// Inserts a job inside the caller's transaction, so that the job exists
    /// exactly when the change that needs it is committed. Call
    /// [`Queue::notify`] after the commit.
    pub fn enqueue_in(conn: &rusqlite::Connection, job: &Enqueue) -> AppResult<JobId> {
        let run_at = format_timestamp(chrono::Utc::now() + chrono::Duration::from_std(job.delay).unwrap_or_default());
        Ok(store::insert(
            conn,
            &store::NewJob {
                org_id: job.org_id,
                kind: job.kind,
                payload: &job.payload,
                priority: job.priority,
                max_attempts: job.max_attempts,
                run_at: &run_at,
                idempotency_key: job.idempotency_key.as_deref(),
            },
        )?)
    }

    /// Enqueues in its own transaction and wakes a worker.
    pub async fn enqueue(&self, job: Enqueue) -> AppResult<JobId> {
        let id = self.db.write(move |tx| Queue::enqueue_in(tx, &job)).await?;
        self.notify();
        Ok(id)
    }

    /// Wakes one idle worker.
    pub fn notify(&self) {
        self.wake.notify_one();
    }
}

/// How a job attempt ended badly.
#[derive(Debug)]
pub enum JobError {
    /// Worth another attempt (I/O, a remote service down…).
    Retry(anyhow::Error),
    /// Will fail again: mark the job `failed` now.
    Permanent(String),
}

impl From<AppError> for JobError {
    fn from(e: AppError) -> Self {
        if e.code().status().is_server_error() {
            JobError::Retry(anyhow::anyhow!("{e:?}"))
        } else {
            JobError::Permanent(e.message().to_owned())
        }
    }
}

impl From<anyhow::Error> for JobError {
    fn from(e: anyhow::Error) -> Self {
        JobError::Retry(e)
    }
}

/// What a handler gets to do its work.
pub struct JobContext {
    pub state: AppState,
    pub job: LeasedJob,
    pub shutdown: CancellationToken,
    worker: String,
    lease: Duration,
}

impl JobContext {
    /// Stores progress (visible at `GET /jobs/{id}`) and extends the lease.
    /// Returns `Err(Permanent)` when the job was cancelled meanwhile.
    pub async fn progress(&self, progress: Value) -> Result<(), JobError> {
        let (id, worker) = (self.job.id, self.worker.clone());
        let lease_until = lease_deadline(self.lease);
        let alive = self
            .state
            .db
            .write(move |tx| Ok(store::report_progress(tx, id, &worker, &progress, &lease_until)?))
            .await?;
        if alive { Ok(()) } else { Err(JobError::Permanent("cancelled".into())) }
    }
}

/// A kind of job.
pub trait JobHandler: Send + Sync {
    /// Runs one attempt; the returned value is stored as the job's result.
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Result<Value, JobError>>;
}

/// The handler of a job kind. Domains add their kinds here.
#[must_use]
pub fn handler_for(kind: &str) -> Option<&'static dyn JobHandler> {
    match kind {
        "noop" => Some(&Noop),
        crate::conversations::runtime::usage::ALERT_JOB => Some(&crate::conversations::runtime::usage::UsageAlertJob),
        crate::notify::SEND_EMAIL => Some(&crate::notify::SendEmail),
        crate::channels::send::SEND_JOB => Some(&crate::channels::send::SendJob),
        crate::webhooks::deliver::DELIVER_JOB => Some(&crate::webhooks::deliver::DeliverJob),
        crate::orgs::audit::retention::KIND => Some(&crate::orgs::audit::retention::RetentionJob),
        crate::portability::org::EXPORT_JOB => Some(&crate::portability::org::OrgExportJob),
        crate::portability::retention::KIND => Some(&crate::portability::retention::RetentionArchiveJob),
        crate::nlu::train::TRAIN_JOB => Some(&crate::nlu::train::TrainJob),
        crate::nlu::evaluate::EVALUATE_JOB => Some(&crate::nlu::evaluate::EvaluateJob),
        crate::finetune::jobs::REMOTE_JOB => Some(&crate::finetune::jobs::RemoteJobHandler),
        crate::knowledge::ingest::KIND => Some(&crate::knowledge::ingest::Ingest),
        crate::knowledge::crawl::KIND => Some(&crate::knowledge::crawl::Crawl),
        crate::knowledge::reembed::KIND => Some(&crate::knowledge::reembed::Reembed),
        crate::analytics::rollup::KIND => Some(&crate::analytics::rollup::RollupJob),
        crate::billing::dunning::KIND => Some(&crate::billing::dunning::DunningJob),
        crate::workflows::run::RUN_JOB => Some(&crate::workflows::run::RunJob),
        crate::workflows::run::DEADLINE_JOB => Some(&crate::workflows::run::DeadlineJob),
        crate::autonomous::service::RUN_JOB => Some(&crate::autonomous::runner::RunJob),
        crate::autonomous::schedule::KIND => Some(&crate::autonomous::schedule::ScheduleJob),
        crate::voice::call::RECORDING_JOB => Some(&crate::voice::service::FetchRecording),
        crate::recovery::dispatch::DISPATCH_JOB => Some(&crate::recovery::dispatch::DispatchJob),
        crate::sso::refresh::KIND => Some(&crate::sso::refresh::RefreshJob),
        crate::recovery::health::KIND => Some(&crate::recovery::health::HealthJob),
        crate::recovery::internal::KIND => Some(&crate::recovery::internal::InternalJob),
        crate::recovery::rollup::KIND => Some(&crate::recovery::rollup::RollupJob),
        _ => None,
    }
}

/// A job that does nothing; used to exercise the queue. `{"delay_ms": n}`
/// (at most a minute) makes it wait first, as a long job would.
struct Noop;
impl JobHandler for Noop {
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Result<Value, JobError>> {
        Box::pin(async move {
            if let Some(ms) = ctx.job.payload.get("delay_ms").and_then(Value::as_u64) {
                tokio::select! {
                    () = ctx.shutdown.cancelled() => return Err(JobError::Retry(anyhow::anyhow!("stopped"))),
                    () = tokio::time::sleep(Duration::from_millis(ms.min(60_000))) => {}
                }
            }
            match ctx.job.payload.get("fail").and_then(Value::as_str) {
                Some("retry") => Err(JobError::Retry(anyhow::anyhow!("asked to fail"))),
                Some(reason) => Err(JobError::Permanent(reason.to_owned())),
                None => Ok(json!({ "echo": ctx.job.payload })),
            }
        })
    }
}

/// Leases and runs one due job. Returns whether there was one.
pub async fn run_once(state: &AppState, worker: &str, shutdown: &CancellationToken) -> AppResult<bool> {
    run_once_timed(state, worker, shutdown, LeaseTiming::default()).await
}

/// [`run_once`] with the given lease length and heartbeat period.
pub async fn run_once_timed(
    state: &AppState,
    worker: &str,
    shutdown: &CancellationToken,
    timing: LeaseTiming,
) -> AppResult<bool> {
    let (now_s, lease_until, worker_id) = (now(), lease_deadline(timing.lease), worker.to_owned());
    let leased = state.db.write(move |tx| Ok(store::lease_next(tx, &now_s, &lease_until, &worker_id)?)).await?;
    let Some(job) = leased else { return Ok(false) };
    let span = tracing::info_span!("job", job.id = job.id.0, job.kind = %job.kind, attempt = job.attempts);
    let _entered = span.enter();
    let (id, attempts, max_attempts) = (job.id, job.attempts, job.max_attempts);
    let outcome = match handler_for(&job.kind) {
        None => Err(JobError::Permanent(format!("unknown job kind `{}`", job.kind))),
        Some(handler) => {
            let ctx = JobContext {
                state: state.clone(),
                job,
                shutdown: shutdown.clone(),
                worker: worker.to_owned(),
                lease: timing.lease,
            };
            with_heartbeat(state, id, worker, timing, handler.run(ctx)).await
        }
    };
    let worker = worker.to_owned();
    match outcome {
        Ok(result) => {
            tracing::info!("job succeeded");
            state.db.write(move |tx| Ok(store::succeed(tx, id, &worker, &result, &now())?)).await?;
        }
        Err(error) => {
            let (message, retry_at, terminal) = match error {
                JobError::Retry(e) if attempts < max_attempts => {
                    (format!("{e:#}"), Some(format_timestamp(chrono::Utc::now() + backoff(attempts))), "dead")
                }
                JobError::Retry(e) => (format!("{e:#}"), None, "dead"),
                JobError::Permanent(reason) => (reason, None, "failed"),
            };
            tracing::warn!(error = %message, will_retry = retry_at.is_some(), "job attempt failed");
            state
                .db
                .write(move |tx| Ok(store::fail(tx, id, &worker, &message, retry_at.as_deref(), terminal, &now())?))
                .await?;
        }
    }
    Ok(true)
}

/// Runs `work` while renewing the job's lease every `timing.heartbeat`, so a
/// live worker keeps its job however long it runs and a dead one loses it
/// within `timing.lease`.
async fn with_heartbeat(
    state: &AppState,
    id: JobId,
    worker: &str,
    timing: LeaseTiming,
    work: BoxFuture<'static, Result<Value, JobError>>,
) -> Result<Value, JobError> {
    let mut work = work;
    let period = timing.heartbeat.max(Duration::from_millis(1));
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            result = &mut work => return result,
            _ = ticks.tick() => {
                let (worker, lease_until) = (worker.to_owned(), lease_deadline(timing.lease));
                match state.db.write(move |tx| Ok(store::renew_lease(tx, id, &worker, &lease_until)?)).await {
                    Ok(true) => {}
                    // Cancelled or taken over: the handler notices at its next progress report.
                    Ok(false) => tracing::warn!("the job's lease is no longer held by this worker"),
                    Err(e) => tracing::warn!(error = ?e, "cannot renew the job's lease"),
                }
            }
        }
    }
}

/// Hands back the jobs left `running` by a previous process: queued again
/// (due now) while attempts remain, else `dead`. Only call while holding the
/// data-file lock, which proves no other process is running them. Returns
/// how many jobs were reclaimed.
pub fn reclaim_orphaned(db: &Db) -> AppResult<usize> {
    let n = db.write_blocking(|tx| Ok(store::reclaim_running(tx, &now())?))?;
    if n > 0 {
        tracing::info!(jobs = n, "reclaimed jobs left running by a previous process");
    }
    Ok(n)
}

/// Jobs enqueued on a schedule: kind and period. Each runs once per period
/// slot: the slot is its idempotency key, so restarts and several processes
/// do not duplicate it, and a slot missed while stopped runs at start-up.
const SCHEDULE: &[(&str, Duration)] = &[
    (crate::orgs::audit::retention::KIND, Duration::from_secs(86_400)),
    (crate::portability::retention::KIND, Duration::from_secs(86_400)),
    (crate::analytics::rollup::KIND, crate::analytics::rollup::PERIOD),
    (crate::billing::dunning::KIND, Duration::from_secs(3_600)),
    (crate::autonomous::schedule::KIND, crate::autonomous::schedule::PERIOD),
    (crate::sso::refresh::KIND, crate::sso::refresh::PERIOD),
    (crate::recovery::health::KIND, Duration::from_secs(86_400)),
    (crate::recovery::internal::KIND, Duration::from_secs(3_600)),
    (crate::recovery::rollup::KIND, crate::recovery::rollup::PERIOD),
];

/// Enqueues the scheduled jobs of the current period slots (no-op for slots
/// already enqueued). Returns the ids.
pub async fn enqueue_scheduled(state: &AppState) -> AppResult<Vec<JobId>> {
    let now_secs = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or_default();
    let mut ids = Vec::new();
    for (kind, period) in SCHEDULE {
        let slot = now_secs / period.as_secs().max(1);
        let mut job = Enqueue::new(None, kind, json!({ "slot": slot }));
        job.idempotency_key = Some(format!("schedule:{kind}:{slot}"));
        job.max_attempts = 3;
        ids.push(state.db.write(move |tx| Queue::enqueue_in(tx, &job)).await?);
    }
    state.jobs.notify();
    Ok(ids)
}

/// Starts the scheduler: enqueues scheduled jobs at start and then every
/// shortest period of [`SCHEDULE`] (at most ten minutes).
#[must_use]
pub fn spawn_scheduler(state: &AppState, shutdown: &CancellationToken) -> tokio::task::JoinHandle<()> {
    let (state, shutdown) = (state.clone(), shutdown.clone());
    tokio::spawn(async move {
        while !shutdown.is_cancelled() {
            if let Err(e) = enqueue_scheduled(&state).await {
                tracing::error!(error = ?e, "cannot enqueue scheduled jobs");
            }
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = tokio::time::sleep(SCHEDULE.iter().map(|s| s.1).min().unwrap_or(Duration::from_secs(600)).min(Duration::from_secs(600))) => {}
            }
        }
    })
}

/// Starts the background workers.
#[must_use]
pub fn spawn_workers(state: &AppState, shutdown: &CancellationToken) -> Vec<tokio::task::JoinHandle<()>> {
    (0..state.config.jobs.workers)
        .map(|i| {
            let (state, shutdown) = (state.clone(), shutdown.clone());
            tokio::spawn(async move {
                let worker = format!("{}-{i}", *PROCESS_TAG);
                while !shutdown.is_cancelled() {
                    match run_once(&state, &worker, &shutdown).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tokio::select! {
                                () = shutdown.cancelled() => {}
                                () = state.jobs.wake.notified() => {}
                                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                            }
                        }
                        Err(e) => {
                            tracing::error!(error = ?e, "job worker error");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                }
            })
        })
        .collect()
}

/// Identifies this process in `jobs.locked_by`: the pid alone may be reused
/// after a restart, so a random suffix is added.
static PROCESS_TAG: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("pid{}.{:08x}", std::process::id(), rand::random::<u32>()));

fn lease_deadline(lease: Duration) -> String {
    format_timestamp(chrono::Utc::now() + chrono::Duration::from_std(lease).unwrap_or_default())
}

/// 2 s, 4 s, 8 s … capped at one hour, with up to 25 % jitter.
fn backoff(attempts: i64) -> chrono::Duration {
    let base = 2_i64.saturating_pow(u32::try_from(attempts.clamp(1, 12)).unwrap_or(12)).min(3600);
    let jitter = rand::random_range(0..=base / 4);
    chrono::Duration::seconds(base + jitter)
}

/// Shows a background job: status, progress, result or error.
#[utoipa::path(
    tag = "jobs",
    params(("job_id" = i64, Path, description = "Job id")),
    responses((status = 200, body = Job), (status = 401, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)),
    security(("session" = []), ("api_token" = []))
)]
#[get("/jobs/{job_id}")]
async fn get_job(scope: JobScope<perm::Member>, state: web::Data<AppState>) -> AppResult<web::Json<Job>> {
    let (tenant, id) = (scope.tenant().clone(), scope.id());
    let job = state.db.read(move |conn| Ok(store::find(conn, &tenant, id)?)).await?;
    job.map(web::Json).ok_or_else(|| AppError::new(ErrorCode::JobNotFound, "no such job"))
}

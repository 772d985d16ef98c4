//! The code-tool sandbox (issue 19 item 2): user JavaScript run by an
//! embedded `QuickJS` with CPU-time, wall-clock, memory and output limits and
//! nothing but the language and a captured `console` (no files, network,
//! processes, timers or modules). `docs/sandbox.md` has the contract and why
//! `QuickJS`.
//!
//! [`run`] executes a script on the calling thread; [`Sandbox::run`] is what
//! async code uses: it waits for one of `sandbox.max_concurrent` slots and
//! runs the script on a thread of its own, so a runaway script never holds
//! an executor thread. `POST /orgs/{org_id}/sandbox/run` is the test-run.

pub mod engine;
pub mod model;

use std::sync::Arc;
use std::time::Duration;

use actix_web::{post, web};
use tokio::sync::{Semaphore, oneshot};
use utoipa_actix_web::service_config::ServiceConfig;

pub use self::engine::{Limits, LogLevel, LogLine, Output, SandboxError, TimeLimit, compile, run};
use self::model::{LimitsRequest, LimitsResponse, RunCodeRequest, RunCodeResponse, check_source};
use crate::app::AppState;
use crate::config::SandboxConfig;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::{Json, OrgScope};
use crate::permissions::perm;

/// Stack of an interpreter thread; the engine's own stack limit (1 MiB)
/// turns deep recursion into a `RangeError` well before it.
const THREAD_STACK_BYTES: usize = 8 * 1024 * 1024;

/// How long past its wall-clock limit a run is awaited before the caller
/// gives up on it (the interrupt handler normally stops it at the limit).
const GRACE: Duration = Duration::from_secs(2);

/// The bounded pool of sandbox slots and the server's maxima.
#[derive(Clone)]
pub struct Sandbox {
    slots: Arc<Semaphore>,
    config: SandboxConfig,
}

impl Sandbox {
    #[must_use]
    pub fn new(config: &SandboxConfig) -> Self {
        Self { slots: Arc::new(Semaphore::new(config.max_concurrent.max(1))), config: config.clone() }
    }

    /// The server's maxima as limits.
    #[must_use]
    pub fn maxima(&self) -> LimitsResponse {
        LimitsResponse {
            cpu_ms: self.config.max_cpu_ms,
            wall_ms: self.config.max_wall_ms,
            memory_mb: self.config.max_memory_mb,
            output_bytes: self.config.max_output_bytes,
        }
    }

    /// The limits a run gets for what it asks: each unset limit is the
    /// maximum; a limit above the maximum is a 422 naming `{field}.cpu_ms` etc.
    pub fn limits(&self, field: &str, asked: &LimitsRequest) -> AppResult<LimitsResponse> {
        let top = self.maxima();
        let pick = |name: &str, value: Option<u64>, min: u64, max: u64, unit: &str| match value {
            None => Ok(max),
            Some(v) if (min..=max).contains(&v) => Ok(v),
            Some(_) => Err(AppError::validation(
                format!("{field}.{name}"),
                format!("{name} must be between {min} and {max} {unit} (the server's maximum)"),
            )),
        };
        let cpu_ms = pick("cpu_ms", asked.cpu_ms, 1, top.cpu_ms, "ms")?;
        let wall_ms = match asked.wall_ms {
            // Unset: the maximum, but never below the CPU time asked for.
            None => top.wall_ms.max(cpu_ms),
            Some(_) => pick("wall_ms", asked.wall_ms, cpu_ms, top.wall_ms, "ms")?,
        };
        Ok(LimitsResponse {
            cpu_ms,
            wall_ms,
            memory_mb: pick("memory_mb", asked.memory_mb, 4, top.memory_mb, "MiB")?,
            output_bytes: pick("output_bytes", asked.output_bytes, 1024, top.output_bytes, "bytes")?,
        })
    }

    /// Runs `source` with `input` on a dedicated thread once a slot is free.
    ///
    /// Waiting for a slot lasts at most the run's wall-clock limit, then the
    /// answer is [`SandboxError::Busy`].
    pub async fn run(
        &self,
        source: String,
        input: serde_json::Value,
        limits: LimitsResponse,
    ) -> Result<Output, SandboxError> {
        let limits = engine_limits(limits);
        self.on_thread(limits, move || engine::run(&source, &input, &limits)).await
    }

    async fn on_thread<T: Send + 'static>(
        &self,
        limits: Limits,
        work: impl FnOnce() -> Result<T, SandboxError> + Send + 'static,
    ) -> Result<T, SandboxError> {
        let permit = tokio::time::timeout(limits.wall, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| SandboxError::Busy)?
            .map_err(|_| SandboxError::Internal("the sandbox pool is closed".to_owned()))?;
        let (tx, rx) = oneshot::channel();
        std::thread::Builder::new()
            .name("sandbox".to_owned())
            .stack_size(THREAD_STACK_BYTES)
            .spawn(move || {
                // The slot stays taken until the script has really stopped.
                let _permit = permit;
                let _ = tx.send(work());
            })
            .map_err(|e| SandboxError::Internal(format!("cannot start a sandbox thread: {e}")))?;
        match tokio::time::timeout(limits.wall + GRACE, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(SandboxError::Internal("the sandbox thread ended without an answer".to_owned())),
            Err(_) => Err(SandboxError::Timeout {
                limit: TimeLimit::Wall,
                limit_ms: u64::try_from(limits.wall.as_millis()).unwrap_or(u64::MAX),
                logs: Vec::new(),
            }),
        }
    }
}

fn engine_limits(limits: LimitsResponse) -> Limits {
    let mib = usize::try_from(limits.memory_mb).unwrap_or(usize::MAX / (1024 * 1024));
    Limits {
        cpu: Duration::from_millis(limits.cpu_ms),
        wall: Duration::from_millis(limits.wall_ms),
        memory_bytes: mib.saturating_mul(1024 * 1024),
        output_bytes: usize::try_from(limits.output_bytes).unwrap_or(usize::MAX),
    }
}

/// Registers the routes under `/api/v1`.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(run_code);
}

/// Runs JavaScript once with arguments in the sandbox (a code tool's test-run).
///
/// The script defines `function main(args)`; the answer has its JSON result
/// and captured console lines. A script that runs too long, allocates too
/// much, writes too much or throws is stopped and answered with a 422 whose
/// code says which (its console lines are in `details.logs`).
#[utoipa::path(
    tag = "sandbox",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = RunCodeRequest,
    responses((status = 200, body = RunCodeResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "`sandbox_timeout`, `sandbox_memory_exceeded`, `sandbox_output_too_large`, `sandbox_script_error` (field `source`, with `line`), or `validation_failed` (e.g. `source`, `limits.cpu_ms`)"),
              (status = 503, body = ErrorBody, description = "`overloaded` (`sandbox_busy`): every sandbox slot stayed busy")),
    security(("session" = ["agents.write"]), ("api_token" = ["agents.write"]))
)]
#[post("/orgs/{org_id}/sandbox/run")]
async fn run_code(
    _scope: OrgScope<perm::AgentsWrite>,
    state: web::Data<AppState>,
    body: Json<RunCodeRequest>,
) -> AppResult<web::Json<RunCodeResponse>> {
    let body = body.into_inner()?;
    check_source("source", &body.source)?;
    let limits = state.sandbox.limits("limits", &body.limits)?;
    let output = state.sandbox.run(body.source, body.args, limits).await?;
    Ok(web::Json(RunCodeResponse::new(output, limits)))
}

#[cfg(test)]
mod tests;

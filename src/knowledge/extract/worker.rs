//! Extraction in a child process: the server re-executes its own binary
//! with the hidden `extract-worker` subcommand, writes the document to its
//! stdin and reads the sections as JSON from its stdout. The child limits
//! itself at start (address space: its size at start plus
//! `knowledge.extract_memory_mib`; CPU time: the deadline plus one second),
//! and the server kills it at the deadline, when the job is cancelled, or
//! when the future awaiting it is dropped (`kill_on_drop`). A parser that
//! loops or allocates without end costs one killed process, never the
//! server's memory or a thread that keeps spinning.
//!
//! How a child ends, and the document's error code:
//! - a JSON reply on stdout: that result (`corrupt_file`, `decompression_limit`, …);
//! - killed at the deadline, or by its CPU limit: `extraction_timeout`;
//! - aborted on a failed allocation (its memory limit): `decompression_limit`;
//! - any other crash: `corrupt_file`, with `details.signal` or `details.exit_code`.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use super::{Extracted, Kind, error};
use crate::error::{AppError, ErrorCode};

/// The hidden subcommand that runs one extraction.
pub const SUBCOMMAND: &str = "extract-worker";

/// How the server runs extraction workers.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The botbuilder executable to run.
    pub program: PathBuf,
    /// Wall-clock deadline of one document (CPU time is capped at it too).
    pub timeout: Duration,
    /// Address space the worker may add to its size at start.
    pub memory_bytes: u64,
}

impl Limits {
    /// The limits of `knowledge.*` in `config`; the worker is this executable
    /// unless `knowledge.extract_worker` names another.
    #[must_use]
    pub fn from_config(config: &crate::config::KnowledgeConfig) -> Self {
        let program = config
            .extract_worker
            .clone()
            .or_else(|| std::env::current_exe().ok())
            .unwrap_or_else(|| PathBuf::from("botbuilder"));
        Self {
            program,
            timeout: Duration::from_secs(config.extract_timeout_secs),
            memory_bytes: config.extract_memory_mib.saturating_mul(1024 * 1024),
        }
    }
}

/// What a worker writes on stdout.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Reply {
    Ok(Extracted),
    Error { code: String, message: String, details: Option<serde_json::Value> },
}

/// Extracts `bytes` of type `kind` in a worker process within `limits`.
/// Cancelling `cancel` kills the worker and answers `unavailable` (worth a retry).
pub async fn extract(
    limits: &Limits,
    kind: Kind,
    bytes: Vec<u8>,
    cancel: &CancellationToken,
) -> Result<Extracted, AppError> {
    let cpu_secs = limits.timeout.as_secs().saturating_add(1);
    let mut child = tokio::process::Command::new(&limits.program)
        .arg(SUBCOMMAND)
        .args(["--kind", kind.as_str()])
        .args(["--memory-bytes", &limits.memory_bytes.to_string()])
        .args(["--cpu-secs", &cpu_secs.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            AppError::internal(anyhow::anyhow!("cannot start the extraction worker {}: {e}", limits.program.display()))
        })?;
    let (Some(mut stdin), Some(mut stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(AppError::new(ErrorCode::Internal, "the extraction worker has no pipes"));
    };
    // Feed and drain concurrently: a worker blocked on a full pipe never ends.
    let feed = tokio::spawn(async move {
        // A worker that dies early closes the pipe: its exit status tells why.
        let _ = stdin.write_all(&bytes).await;
        let _ = stdin.shutdown().await;
    });
    let read_out = tokio::spawn(async move {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out).await;
        out
    });
    let read_err = tokio::spawn(async move {
        let mut err = Vec::new();
        let _ = stderr.take(64 * 1024).read_to_end(&mut err).await;
        err
    });
    let status = tokio::select! {
        status = child.wait() => status,
        () = tokio::time::sleep(limits.timeout) => {
            let _ = child.kill().await;
            feed.abort();
            return Err(timed_out(limits.timeout));
        }
        () = cancel.cancelled() => {
            let _ = child.kill().await;
            feed.abort();
            return Err(AppError::new(ErrorCode::Unavailable, "text extraction was stopped by shutdown"));
        }
    };
    let status = status.map_err(|e| AppError::internal(anyhow::anyhow!("the extraction worker was lost: {e}")))?;
    feed.abort();
    let stdout = read_out.await.unwrap_or_default();
    let stderr = read_err.await.unwrap_or_default();
    outcome(status, &stdout, &stderr, limits.timeout)
}

fn timed_out(timeout: Duration) -> AppError {
    error(
        ErrorCode::ExtractionTimeout,
        format!("extracting the text took longer than {} s; the extraction was stopped", timeout.as_secs()),
    )
    .with_details(json!({ "field": "file", "timeout_secs": timeout.as_secs() }))
}

/// Maps a finished worker to the document's result.
fn outcome(
    status: std::process::ExitStatus,
    stdout: &[u8],
    stderr: &[u8],
    timeout: Duration,
) -> Result<Extracted, AppError> {
    use std::os::unix::process::ExitStatusExt;
    if status.success() {
        return match serde_json::from_slice::<Reply>(stdout) {
            Ok(Reply::Ok(extracted)) => Ok(extracted),
            Ok(Reply::Error { code, message, details }) => {
                let code = ErrorCode::ALL.iter().copied().find(|c| c.as_str() == code).unwrap_or(ErrorCode::Internal);
                let e = AppError::new(code, message);
                Err(match details {
                    Some(d) => e.with_details(d),
                    None => e,
                })
            }
            Err(e) => Err(AppError::internal(anyhow::anyhow!("the extraction worker answered garbage: {e}"))),
        };
    }
    let stderr = String::from_utf8_lossy(stderr);
    let signal = status.signal();
    // SIGXCPU (24): the CPU limit; SIGKILL (9) from the kernel past the hard limit.
    if matches!(signal, Some(24 | 9)) {
        return Err(timed_out(timeout));
    }
    if stderr.contains("memory allocation of") {
        return Err(error(ErrorCode::DecompressionLimit, "the document needs more memory than extraction may use")
            .with_details(json!({ "field": "file" })));
    }
    tracing::warn!(?signal, code = ?status.code(), stderr = %stderr.chars().take(500).collect::<String>(), "extraction worker crashed");
    let details = match signal {
        Some(s) => json!({ "field": "file", "signal": s }),
        None => json!({ "field": "file", "exit_code": status.code() }),
    };
    Err(error(ErrorCode::CorruptFile, "the file could not be parsed (the extractor crashed on it)")
        .with_details(details))
}

/// The worker's side: limits itself, reads the document from stdin, writes
/// the reply to stdout. Returns false when it could not even reply.
#[must_use]
pub fn run(kind: &str, memory_bytes: u64, cpu_secs: u64) -> bool {
    let reply = match limit_self(memory_bytes, cpu_secs) {
        Err(e) => Reply::Error { code: ErrorCode::Internal.as_str().into(), message: e, details: None },
        Ok(()) => match Kind::parse(kind) {
            None => Reply::Error {
                code: ErrorCode::UnsupportedFileType.as_str().into(),
                message: format!("unsupported type {kind}"),
                details: None,
            },
            Some(kind) => {
                let mut bytes = Vec::new();
                match std::io::stdin().lock().read_to_end(&mut bytes) {
                    Err(e) => Reply::Error {
                        code: ErrorCode::Internal.as_str().into(),
                        message: format!("cannot read the document: {e}"),
                        details: None,
                    },
                    Ok(_) => match super::extract(kind, &bytes) {
                        Ok(extracted) => Reply::Ok(extracted),
                        Err(e) => Reply::Error {
                            code: e.code().as_str().into(),
                            message: e.message().to_owned(),
                            details: e.details().cloned(),
                        },
                    },
                }
            }
        },
    };
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &reply).is_ok() && out.flush().is_ok()
}

/// Caps this process: address space at its size now plus `memory_bytes`,
/// CPU time at `cpu_secs` (SIGXCPU, then SIGKILL a second later).
fn limit_self(memory_bytes: u64, cpu_secs: u64) -> Result<(), String> {
    use rustix::process::{Resource, Rlimit, setrlimit};
    let status =
        std::fs::read_to_string("/proc/self/status").map_err(|e| format!("cannot read /proc/self/status: {e}"))?;
    let size_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or("no VmSize in /proc/self/status")?;
    let address_space = size_kib.saturating_mul(1024).saturating_add(memory_bytes);
    setrlimit(Resource::As, Rlimit { current: Some(address_space), maximum: Some(address_space) })
        .map_err(|e| format!("cannot limit the address space: {e}"))?;
    setrlimit(Resource::Cpu, Rlimit { current: Some(cpu_secs), maximum: Some(cpu_secs.saturating_add(1)) })
        .map_err(|e| format!("cannot limit the CPU time: {e}"))?;
    Ok(())
}

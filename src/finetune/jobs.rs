//! Remote fine-tuning jobs: the cost estimate, the start (checks, then a
//! background job uploads the file and creates the remote job), the
//! background poll that follows status, events and metrics into
//! `fine_tune_jobs` / `fine_tuning_metrics`, cancellation, and the tuned
//! model registered as the fine-tune model's next version.

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::model::{
    CostEstimate, CreateJobRequest, Dataset, DatasetId, FineTuneJob, FineTuneJobId, FineTuneModel, FineTuneModelId,
    MetricPoint, ModelKind,
};
use super::remote::{self, RemoteError, RemoteEvent, RemoteJob};
use super::service::{dataset_not_found, model_not_found};
use super::store::{self, JobUpdate, NewJob};
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::{Page, PageParams, Tenant};
use crate::jobs::{Enqueue, JobContext, JobError, JobHandler, Queue};
use crate::llm::client::ProviderConfig;
use crate::orgs::audit::{self, AuditEntry};

/// The background job following one remote fine-tuning job.
pub const REMOTE_JOB: &str = "fine_tuning.remote";

/// Events kept on a job (the newest).
const KEPT_EVENTS: usize = 200;

#[derive(Debug, Serialize, Deserialize)]
struct RemotePayload {
    fine_tune_job_id: FineTuneJobId,
}

fn job_not_found() -> AppError {
    AppError::new(ErrorCode::FineTuneJobNotFound, "no such fine-tuning job")
}

/// Checked hyperparameters of a job.
struct Hyper {
    epochs: i64,
    batch_size: Option<i64>,
    lr_multiplier: Option<f64>,
    suffix: Option<String>,
}

fn check_hyper(req: &CreateJobRequest) -> AppResult<Hyper> {
    let epochs = req.n_epochs.unwrap_or(3);
    if !(1..=50).contains(&epochs) {
        return Err(AppError::validation("n_epochs", "between 1 and 50"));
    }
    if req.batch_size.is_some_and(|b| !(1..=256).contains(&b)) {
        return Err(AppError::validation("batch_size", "between 1 and 256"));
    }
    if req.learning_rate_multiplier.is_some_and(|m| !(0.01..=10.0).contains(&m)) {
        return Err(AppError::validation("learning_rate_multiplier", "between 0.01 and 10"));
    }
    let suffix = req.suffix.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    if suffix.as_ref().is_some_and(|s| {
        s.chars().count() > 18 || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    }) {
        return Err(AppError::validation("suffix", "at most 18 letters, digits, `-` or `_`"));
    }
    Ok(Hyper { epochs, batch_size: req.batch_size, lr_multiplier: req.learning_rate_multiplier, suffix })
}

/// A dataset a job may train on: of this model, not deleted, valid, of the
/// model's kind. `field` names the request field.
fn usable_dataset(
    conn: &rusqlite::Connection,
    tenant: &Tenant,
    model: &FineTuneModel,
    id: DatasetId,
    field: &str,
) -> AppResult<Dataset> {
    let d = store::find_dataset(conn, tenant, id)?
        .filter(|d| d.fine_tune_model_id == model.id)
        .ok_or_else(|| dataset_not_found().with_details(json!({ "field": field })))?;
    if d.deleted {
        return Err(AppError::new(ErrorCode::DatasetDeleted, format!("dataset {id} was deleted"))
            .with_details(json!({ "field": field, "dataset_id": id })));
    }
    if d.status != "ready" || d.kind != model.model_kind().dataset_kind() {
        let issues = d.report.get("ok").map_or(0, |_| {
            ["schema_error_count", "empty_row_count", "over_long_row_count", "duplicate_count"]
                .iter()
                .map(|k| d.report[k].as_u64().unwrap_or(0))
                .sum::<u64>()
        });
        return Err(AppError::new(
            ErrorCode::DatasetNotReady,
            format!("dataset {id} is not ready for training: see its validation report"),
        )
        .with_details(json!({ "field": field, "dataset_id": id, "report_issues": issues })));
    }
    Ok(d)
}

fn remote_model(model: &FineTuneModel) -> AppResult<()> {
    if model.model_kind() != ModelKind::LlmFinetune || model.provider_id.is_none() {
        return Err(AppError::new(
            ErrorCode::Conflict,
            "only remote (llm_finetune) models with a provider run remote fine-tuning jobs",
        ));
    }
    Ok(())
}

fn estimate_of(state: &AppState, model: &FineTuneModel, training: &Dataset, epochs: i64) -> CostEstimate {
    let dataset_tokens = u64::try_from(training.token_count).unwrap_or(0);
    let trained_tokens = dataset_tokens.saturating_mul(u64::try_from(epochs).unwrap_or(1));
    let price = state.config.fine_tuning.training_price_of(&model.base_model);
    CostEstimate {
        base_model: model.base_model.clone(),
        dataset_tokens,
        n_epochs: epochs,
        trained_tokens,
        price_micros_per_million: price,
        estimated_cost_micros: price
            .map(|p| u64::try_from(u128::from(trained_tokens) * u128::from(p) / 1_000_000).unwrap_or(u64::MAX)),
    }
}

/// What a job with these settings would cost, before starting it.
pub async fn estimate(
    state: &AppState,
    tenant: Tenant,
    model: FineTuneModelId,
    req: CreateJobRequest,
) -> AppResult<CostEstimate> {
    let hyper = check_hyper(&req)?;
    let (model, training) = state
        .db
        .read(move |c| {
            let model = store::find_model(c, &tenant, model)?.ok_or_else(model_not_found)?;
            remote_model(&model)?;
            let training = usable_dataset(c, &tenant, &model, req.training_dataset_id, "training_dataset_id")?;
            Ok((model, training))
        })
        .await?;
    Ok(estimate_of(state, &model, &training, hyper.epochs))
}

/// Starts a remote job: checks the datasets and settings, records the job
/// with its estimate, and enqueues the background job that uploads the
/// file, creates the remote job and follows it.
pub async fn create(
    state: &AppState,
    tenant: Tenant,
    model: FineTuneModelId,
    req: CreateJobRequest,
) -> AppResult<FineTuneJob> {
    let hyper = check_hyper(&req)?;
    let config = state.clone();
    let id = state
        .db
        .write(move |tx| {
            let model = store::find_model(tx, &tenant, model)?.ok_or_else(model_not_found)?;
            remote_model(&model)?;
            let training = usable_dataset(tx, &tenant, &model, req.training_dataset_id, "training_dataset_id")?;
            if let Some(v) = req.validation_dataset_id {
                usable_dataset(tx, &tenant, &model, v, "validation_dataset_id")?;
            }
            let estimate = estimate_of(&config, &model, &training, hyper.epochs);
            let hyperparameters = json!({
                "n_epochs": hyper.epochs,
                "batch_size": hyper.batch_size,
                "learning_rate_multiplier": hyper.lr_multiplier,
                "suffix": hyper.suffix,
            });
            let id = store::insert_job(
                tx,
                &tenant,
                &NewJob {
                    model: model.id,
                    provider: "openai",
                    epochs: hyper.epochs,
                    batch_size: hyper.batch_size.unwrap_or(1),
                    learning_rate: hyper.lr_multiplier.unwrap_or(1.0),
                    training_dataset: training.id,
                    validation_dataset: req.validation_dataset_id,
                    total_tokens: i64::try_from(estimate.trained_tokens).unwrap_or(i64::MAX),
                    estimated_cost_micros: estimate.estimated_cost_micros.map(|c| i64::try_from(c).unwrap_or(i64::MAX)),
                    hyperparameters: hyperparameters.to_string(),
                },
            )?;
            let job = Queue::enqueue_in(
                tx,
                &Enqueue {
                    max_attempts: 5,
                    ..Enqueue::new(Some(tenant.org_id()), REMOTE_JOB, json!(RemotePayload { fine_tune_job_id: id }))
                },
            )?;
            store::set_background_job(tx, &tenant, id, job)?;
            store::set_model_status(tx, &tenant, model.id, "training")?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "fine_tuning.job.created", "fine_tune_job", id.0).with_new(json!({
                    "fine_tune_model_id": model.id,
                    "training_dataset_id": training.id,
                    "estimated_cost_micros": estimate.estimated_cost_micros,
                })),
            )?;
            store::find_job(tx, &tenant, id)?.ok_or_else(job_not_found)
        })
        .await?;
    state.jobs.notify();
    Ok(id)
}

pub async fn get(state: &AppState, tenant: Tenant, id: FineTuneJobId) -> AppResult<FineTuneJob> {
    state.db.read(move |c| store::find_job(c, &tenant, id)?.ok_or_else(job_not_found)).await
}

pub async fn list(
    state: &AppState,
    tenant: Tenant,
    model: FineTuneModelId,
    page: PageParams,
) -> AppResult<Page<FineTuneJob>> {
    let after = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state
        .db
        .read(move |c| {
            store::find_model(c, &tenant, model)?.ok_or_else(model_not_found)?;
            Ok(store::list_jobs(c, &tenant, model, after, limit)?)
        })
        .await?;
    Page::from_rows(rows, &page, |j| j.id.0)
}

pub async fn metrics(state: &AppState, tenant: Tenant, id: FineTuneJobId) -> AppResult<Vec<MetricPoint>> {
    state
        .db
        .read(move |c| {
            store::find_job(c, &tenant, id)?.ok_or_else(job_not_found)?;
            Ok(store::metrics(c, &tenant, id)?)
        })
        .await
}

/// The provider of a model, ready to call.
async fn provider_of(state: &AppState, tenant: &Tenant, model: &FineTuneModel) -> AppResult<ProviderConfig> {
    let (_, config) = crate::llm::service::resolve(state, tenant, model.provider_id).await?.ok_or_else(|| {
        AppError::new(ErrorCode::Conflict, "the fine-tune model's LLM provider was deleted")
            .with_details(json!({ "field": "provider_id" }))
    })?;
    Ok(config)
}

fn remote_error(e: &RemoteError) -> AppError {
    match e {
        RemoteError::NotAllowed(m) => {
            AppError::new(ErrorCode::UrlNotAllowed, m.clone()).with_details(json!({ "field": "base_url" }))
        }
        other => AppError::new(ErrorCode::LlmFailed, other.to_string()),
    }
}

/// Cancels a job: at the provider when it was created there, else before
/// it starts. A finished job is 409 `conflict`.
pub async fn cancel(state: &AppState, tenant: Tenant, id: FineTuneJobId) -> AppResult<FineTuneJob> {
    let t = tenant.clone();
    let (job, model) = state
        .db
        .read(move |c| {
            let job = store::find_job(c, &t, id)?.ok_or_else(job_not_found)?;
            let model = store::find_model(c, &t, job.fine_tune_model_id)?.ok_or_else(model_not_found)?;
            Ok((job, model))
        })
        .await?;
    if job.is_finished() {
        return Err(AppError::new(ErrorCode::Conflict, format!("the job has already {}", job.status))
            .with_details(json!({ "status": job.status })));
    }
    let status = match &job.remote_job_id {
        Some(remote_id) => {
            let config = provider_of(state, &tenant, &model).await?;
            let remote = remote::cancel_job(state, &config, remote_id).await.map_err(|e| remote_error(&e))?;
            remote.status
        }
        None => "cancelled".to_owned(),
    };
    let t = tenant.clone();
    let events = job.events.to_string();
    state
        .db
        .write(move |tx| {
            store::update_job(
                tx,
                &t,
                id,
                &JobUpdate {
                    remote_job_id: None,
                    status: &status,
                    trained_tokens: None,
                    result_model_id: None,
                    error_message: None,
                    events: &events,
                    last_event_id: None,
                },
            )?;
            if status == "cancelled" {
                store::set_model_status(tx, &t, model.id, "cancelled")?;
            }
            audit::record(tx, &AuditEntry::by(&t, "fine_tuning.job.cancelled", "fine_tune_job", id.0))?;
            Ok(())
        })
        .await?;
    get(state, tenant, id).await
}

/// Follows remote jobs: one poll per run, then another run after
/// `fine_tuning.poll_interval_secs` until the job ends.
pub struct RemoteJobHandler;

impl JobHandler for RemoteJobHandler {
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Result<Value, JobError>> {
        Box::pin(async move {
            let payload: RemotePayload = serde_json::from_value(ctx.job.payload.clone())
                .map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
            let org =
                ctx.job.org_id.ok_or_else(|| JobError::Permanent("fine-tuning job without organization".into()))?;
            let tenant = Tenant::system(org, "remote fine-tuning job of the organization");
            let last_attempt = ctx.job.attempts >= ctx.job.max_attempts;
            match poll(&ctx.state, &tenant, payload.fine_tune_job_id).await {
                Ok(status) => {
                    if !matches!(status.as_str(), "succeeded" | "failed" | "cancelled" | "gone") {
                        follow_later(&ctx.state, &tenant, payload.fine_tune_job_id).await?;
                    }
                    Ok(json!({ "fine_tune_job_id": payload.fine_tune_job_id, "status": status }))
                }
                Err(PollError::Retry(e)) if !last_attempt => Err(JobError::Retry(anyhow::anyhow!(e))),
                Err(PollError::Retry(message) | PollError::Fail(message)) => {
                    fail(&ctx.state, &tenant, payload.fine_tune_job_id, &message).await?;
                    Err(JobError::Permanent(message))
                }
                Err(PollError::App(e)) => Err(e.into()),
            }
        })
    }
}

enum PollError {
    /// Worth another attempt (provider unreachable, 429, 5xx).
    Retry(String),
    /// The provider refused: the job fails with this message.
    Fail(String),
    App(AppError),
}

impl From<AppError> for PollError {
    fn from(e: AppError) -> Self {
        PollError::App(e)
    }
}

impl From<RemoteError> for PollError {
    fn from(e: RemoteError) -> Self {
        if e.retryable() { PollError::Retry(e.to_string()) } else { PollError::Fail(e.to_string()) }
    }
}

async fn follow_later(state: &AppState, tenant: &Tenant, id: FineTuneJobId) -> AppResult<()> {
    let delay = Duration::from_secs(state.config.fine_tuning.poll_interval_secs);
    let t = tenant.clone();
    state
        .db
        .write(move |tx| {
            let job = Queue::enqueue_in(
                tx,
                &Enqueue {
                    max_attempts: 5,
                    delay,
                    ..Enqueue::new(Some(t.org_id()), REMOTE_JOB, json!(RemotePayload { fine_tune_job_id: id }))
                },
            )?;
            store::set_background_job(tx, &t, id, job)?;
            Ok(())
        })
        .await?;
    state.jobs.notify();
    Ok(())
}

/// Records a failure that happened on our side of the job (upload refused…).
async fn fail(state: &AppState, tenant: &Tenant, id: FineTuneJobId, message: &str) -> AppResult<()> {
    let (t, message) = (tenant.clone(), message.to_owned());
    state
        .db
        .write(move |tx| {
            let Some(job) = store::find_job(tx, &t, id)? else { return Ok(()) };
            store::update_job(
                tx,
                &t,
                id,
                &JobUpdate {
                    remote_job_id: None,
                    status: "failed",
                    trained_tokens: None,
                    result_model_id: None,
                    error_message: Some(&message),
                    events: &job.events.to_string(),
                    last_event_id: None,
                },
            )?;
            store::set_model_status(tx, &t, job.fine_tune_model_id, "failed")?;
            Ok(())
        })
        .await
}

/// One poll: creates the remote job if needed, then reads its status,
/// new events and checkpoints. Returns the status.
async fn poll(state: &AppState, tenant: &Tenant, id: FineTuneJobId) -> Result<String, PollError> {
    let t = tenant.clone();
    let found = state
        .db
        .read(move |c| {
            let Some(job) = store::find_job(c, &t, id)? else { return Ok(None) };
            let model = store::find_model(c, &t, job.fine_tune_model_id)?.ok_or_else(model_not_found)?;
            let seen = store::last_event_id(c, &t, id)?;
            Ok(Some((job, model, seen)))
        })
        .await?;
    let Some((job, model, seen)) = found else { return Ok("gone".into()) };
    if job.is_finished() {
        return Ok(job.status);
    }
    let config = provider_of(state, tenant, &model).await?;
    let remote_job = match &job.remote_job_id {
        Some(remote_id) => remote::get_job(state, &config, remote_id).await?,
        None => start_remote(state, tenant, &config, &job, &model).await?,
    };
    let events = remote::new_events(state, &config, &remote_job.id, seen.as_deref()).await?;
    let checkpoints = if remote_job.status == "succeeded" {
        remote::checkpoints(state, &config, &remote_job.id).await?
    } else {
        Vec::new()
    };
    let mut points: Vec<MetricPoint> = events.iter().filter_map(|e| metric_of_event(e, job.epochs)).collect();
    points.extend(checkpoints.iter().map(|c| metric_of(&c.metrics, c.step_number, job.epochs)));
    record(state, tenant, &job, &remote_job, &events, &points).await?;
    Ok(remote_job.status)
}

/// Uploads the datasets (once each) and creates the remote job.
async fn start_remote(
    state: &AppState,
    tenant: &Tenant,
    config: &ProviderConfig,
    job: &FineTuneJob,
    model: &FineTuneModel,
) -> Result<RemoteJob, PollError> {
    let training = job.training_dataset_id.ok_or_else(|| PollError::Fail("the training dataset is gone".into()))?;
    let training_file = remote_file(state, tenant, config, training).await?;
    let validation_file = match job.validation_dataset_id {
        Some(v) => Some(remote_file(state, tenant, config, v).await?),
        None => None,
    };
    let t = tenant.clone();
    let jid = job.id;
    let hyper: Value = state
        .db
        .read(move |c| {
            Ok(c.query_row(
                "SELECT hyperparameters FROM fine_tune_jobs WHERE id = ?1 AND organization_id = ?2",
                rusqlite::params![jid, t.org_id()],
                |r| r.get::<_, String>(0),
            )?)
        })
        .await
        .map(|s| serde_json::from_str(&s).unwrap_or(Value::Null))?;
    let mut hyperparameters = json!({ "n_epochs": job.epochs });
    for key in ["batch_size", "learning_rate_multiplier"] {
        if !hyper[key].is_null() {
            hyperparameters[key] = hyper[key].clone();
        }
    }
    let mut body =
        json!({ "model": model.base_model, "training_file": training_file, "hyperparameters": hyperparameters });
    if let Some(v) = validation_file {
        body["validation_file"] = json!(v);
    }
    if let Some(s) = hyper["suffix"].as_str() {
        body["suffix"] = json!(s);
    }
    // A job cancelled while the files were uploading is not created.
    let (t, jid) = (tenant.clone(), job.id);
    let now = state.db.read(move |c| store::find_job(c, &t, jid)?.ok_or_else(job_not_found)).await?;
    if now.is_finished() {
        return Err(PollError::Fail(format!("the job was {} before it started", now.status)));
    }
    let remote_job = remote::create_job(state, config, &body).await?;
    let (t, jid, rid, status) = (tenant.clone(), job.id, remote_job.id.clone(), remote_job.status.clone());
    state
        .db
        .write(move |tx| {
            store::update_job(
                tx,
                &t,
                jid,
                &JobUpdate {
                    remote_job_id: Some(&rid),
                    status: &local_status(&status),
                    trained_tokens: None,
                    result_model_id: None,
                    error_message: None,
                    events: "[]",
                    last_event_id: None,
                },
            )?;
            Ok(())
        })
        .await?;
    Ok(remote_job)
}

/// The provider's file id of a dataset, uploading it the first time.
async fn remote_file(
    state: &AppState,
    tenant: &Tenant,
    config: &ProviderConfig,
    id: DatasetId,
) -> Result<String, PollError> {
    let (dataset, _, parsed) = super::service::load(state, tenant.clone(), id).await?;
    if let Some(remote) = dataset.remote_file_id {
        return Ok(remote);
    }
    // Providers take JSONL: other formats are converted first.
    let bytes = super::dataset::render(&parsed, super::model::DatasetFormat::Jsonl)?;
    let stem = dataset.file_name.rsplit_once('.').map_or(dataset.file_name.as_str(), |(s, _)| s).to_owned();
    let remote = remote::upload_file(state, config, &format!("{stem}.jsonl"), bytes).await?;
    let (t, r) = (tenant.clone(), remote.clone());
    state.db.write(move |tx| Ok(store::set_remote_file(tx, &t, id, &r)?)).await?;
    Ok(remote)
}

/// Our status for the provider's (unknown ones count as running).
fn local_status(remote: &str) -> String {
    match remote {
        "validating_files" | "queued" | "running" | "succeeded" | "failed" | "cancelled" => remote.to_owned(),
        "pending" => "queued".to_owned(),
        _ => "running".to_owned(),
    }
}

fn metric_of_event(e: &RemoteEvent, epochs: i64) -> Option<MetricPoint> {
    let data = e.data.as_ref()?;
    let step = data.get("step").and_then(Value::as_i64)?;
    if e.kind.as_deref().is_some_and(|k| k != "metrics") {
        return None;
    }
    let mut point = metric_of(data, step, epochs);
    if let Some(total) = data.get("total_steps").and_then(Value::as_i64).filter(|t| *t > 0) {
        // Steps are spread evenly over the epochs.
        point.epoch = ((step * epochs) + total - 1) / total;
    }
    Some(point)
}

fn metric_of(m: &Value, step: i64, _epochs: i64) -> MetricPoint {
    let f = |k: &str| m.get(k).and_then(Value::as_f64);
    MetricPoint {
        step: step.max(0),
        epoch: m.get("epoch").and_then(Value::as_i64).unwrap_or(0).max(0),
        train_loss: f("train_loss"),
        valid_loss: f("valid_loss").or_else(|| f("full_valid_loss")),
        train_accuracy: f("train_mean_token_accuracy").or_else(|| f("train_accuracy")),
        valid_accuracy: f("valid_mean_token_accuracy")
            .or_else(|| f("full_valid_mean_token_accuracy"))
            .or_else(|| f("valid_accuracy")),
        learning_rate: f("learning_rate"),
        tokens_processed: m.get("tokens_processed").and_then(Value::as_i64).unwrap_or(0).max(0),
    }
}

/// Stores a poll: status, events, metrics; on success the tuned model
/// becomes the fine-tune model's next version, active at once.
async fn record(
    state: &AppState,
    tenant: &Tenant,
    job: &FineTuneJob,
    remote_job: &RemoteJob,
    events: &[RemoteEvent],
    points: &[MetricPoint],
) -> AppResult<()> {
    let mut kept: Vec<Value> = job.events.as_array().cloned().unwrap_or_default();
    kept.extend(events.iter().map(|e| json!(e)));
    let skip = kept.len().saturating_sub(KEPT_EVENTS);
    let kept = Value::Array(kept.into_iter().skip(skip).collect());
    let status = local_status(&remote_job.status);
    let error = remote_job
        .error
        .as_ref()
        .and_then(|e| e.message.clone().or_else(|| e.code.clone()))
        .filter(|_| status == "failed")
        .or_else(|| (status == "failed").then(|| "the provider reported the job failed without a message".to_owned()));
    let (t, job, remote_job) = (tenant.clone(), job.clone(), remote_job.clone());
    let (points, last_event) = (points.to_vec(), events.last().map(|e| e.id.clone()));
    state
        .db
        .write(move |tx| {
            for p in &points {
                store::upsert_metric(tx, &t, job.fine_tune_model_id, job.id, p)?;
            }
            store::update_job(
                tx,
                &t,
                job.id,
                &JobUpdate {
                    remote_job_id: Some(&remote_job.id),
                    status: &status,
                    trained_tokens: remote_job.trained_tokens,
                    result_model_id: remote_job.fine_tuned_model.as_deref(),
                    error_message: error.as_deref(),
                    events: &kept.to_string(),
                    last_event_id: last_event.as_deref(),
                },
            )?;
            match status.as_str() {
                "succeeded" => {
                    let tuned = remote_job.fine_tuned_model.as_deref().unwrap_or_default();
                    if !tuned.is_empty() {
                        let metrics = json!({
                            "fine_tune_job_id": job.id,
                            "trained_tokens": remote_job.trained_tokens,
                            "final": points.last(),
                        });
                        let version = store::insert_remote_version(
                            tx,
                            &t,
                            job.fine_tune_model_id,
                            tuned,
                            &metrics.to_string(),
                            &format!("tuned by job {}", job.id),
                        )?;
                        store::activate_remote_version(tx, &t, job.fine_tune_model_id, version)?;
                        store::set_model_id(tx, &t, job.fine_tune_model_id, Some(tuned))?;
                    }
                    store::set_model_status(tx, &t, job.fine_tune_model_id, "completed")?;
                }
                "failed" | "cancelled" => store::set_model_status(tx, &t, job.fine_tune_model_id, &status)?,
                _ => {}
            }
            Ok(())
        })
        .await
}

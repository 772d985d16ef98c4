//! Fine-tuning (issue 25, docs/fine-tuning.md): fine-tune models with
//! their datasets (upload, validation report, preview, conversion, split,
//! made from a bot's NLU data), remote fine-tuning jobs through an
//! OpenAI-compatible API (followed by a background job), and model versions
//! of every kind (list, compare, activate, production, rollback).

pub mod dataset;
pub mod jobs;
pub mod model;
pub mod remote;
pub mod service;
pub mod store;
pub mod tokens;
pub mod versions;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use serde::Serialize;
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::{
    CompareQuery, ConvertRequest, CostEstimate, CreateFineTuneModelRequest, CreateJobRequest, Dataset, DatasetPreview,
    DatasetResource, DownloadQuery, FineTuneJob, FineTuneModel, FineTuneModelId, FromBotRequest, JobResource,
    MetricPoint, ModelResource, PreviewQuery, SplitRequest, SplitResponse, TrainedVersion, UploadQuery,
    VersionComparison, VersionResource,
};
use crate::app::AppState;
use crate::error::{AppResult, ErrorBody};
use crate::http::scope::Scoped;
use crate::http::{BotScope, Json, OrgScope, Page, PageParams};
use crate::llm::ProviderScope;
use crate::permissions::perm;

type ModelScope<P> = Scoped<ModelResource, P>;
type DatasetScope<P> = Scoped<DatasetResource, P>;
type JobScope<P> = Scoped<JobResource, P>;
type VersionScope<P> = Scoped<VersionResource, P>;

/// A tuned model of a provider, for agents' `model_name`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TunedModel {
    pub fine_tune_model_id: FineTuneModelId,
    /// The fine-tune model's name.
    pub name: String,
    /// The provider's model name (e.g. `ft:gpt-4o-mini-2024-07-18:org::abc123`).
    pub model: String,
    /// Whether it is the fine-tune model's active version.
    pub is_active: bool,
}

/// Registers the fine-tuning routes.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_fine_tune_model)
        .service(list_fine_tune_models)
        .service(get_fine_tune_model)
        .service(delete_fine_tune_model)
        .service(upload_dataset)
        .service(list_datasets)
        .service(dataset_from_bot)
        .service(estimate_fine_tune)
        .service(create_fine_tune_job)
        .service(list_fine_tune_jobs)
        .service(list_fine_tune_versions)
        .service(rollback_fine_tune_model)
        .service(get_dataset)
        .service(preview_dataset)
        .service(download_dataset)
        .service(convert_dataset)
        .service(split_dataset)
        .service(delete_dataset)
        .service(get_fine_tune_job)
        .service(fine_tune_job_metrics)
        .service(cancel_fine_tune_job)
        .service(get_model_version)
        .service(compare_model_versions)
        .service(activate_model_version)
        .service(set_production_model_version)
        .service(rollback_nlu_model)
        .service(list_tuned_models);
}

/// Creates a fine-tune model: a remote one (`llm_finetune`: provider and base model) or a bot's NLU model (`nlu_intent`).
#[utoipa::path(
    tag = "fine_tuning",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = CreateFineTuneModelRequest,
    responses((status = 201, body = FineTuneModel), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody, description = "`validation_failed`, `invalid_reference`")),
    security(("session" = ["nlu.train"]), ("api_token" = ["nlu.train"]))
)]
#[post("/orgs/{org_id}/fine-tuning/models")]
async fn create_fine_tune_model(
    scope: OrgScope<perm::NluTrain>,
    state: web::Data<AppState>,
    body: Json<CreateFineTuneModelRequest>,
) -> AppResult<HttpResponse> {
    let m = service::create_model(&state, scope.into_tenant(), body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(m))
}

/// Lists the organization's fine-tune models, newest first.
#[utoipa::path(
    tag = "fine_tuning",
    params(("org_id" = i64, Path, description = "Organization id"), PageParams),
    responses((status = 200, body = Page<FineTuneModel>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/orgs/{org_id}/fine-tuning/models")]
async fn list_fine_tune_models(
    scope: OrgScope<perm::BotsRead>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::list_models(&state, scope.into_tenant(), page.into_inner()).await?))
}

/// Shows a fine-tune model.
#[utoipa::path(
    tag = "fine_tuning",
    params(("fine_tune_model_id" = i64, Path, description = "Fine-tune model id")),
    responses((status = 200, body = FineTuneModel), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/fine-tuning/models/{fine_tune_model_id}")]
async fn get_fine_tune_model(scope: ModelScope<perm::BotsRead>, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let id = scope.id();
    Ok(HttpResponse::Ok().json(service::get_model(&state, scope.into_tenant(), id).await?))
}

/// Deletes a fine-tune model with its datasets, jobs and versions (tuned models stay at the provider).
#[utoipa::path(
    tag = "fine_tuning",
    params(("fine_tune_model_id" = i64, Path, description = "Fine-tune model id")),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["nlu.train"]), ("api_token" = ["nlu.train"]))
)]
#[delete("/fine-tuning/models/{fine_tune_model_id}")]
async fn delete_fine_tune_model(
    scope: ModelScope<perm::NluTrain>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    service::delete_model(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Uploads a dataset (the raw file as the body: JSONL, JSON or CSV) and validates it. A malformed line is 422 `dataset_invalid` naming the line, and nothing is stored; problems of well-formed rows are in the validation report (status `error`).
#[utoipa::path(
    tag = "fine_tuning",
    params(("fine_tune_model_id" = i64, Path, description = "Fine-tune model id"), UploadQuery),
    request_body(content = String, description = "The dataset file (JSONL, JSON or CSV)", content_type = "application/jsonl"),
    responses((status = 201, body = Dataset), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody, description = "`dataset_invalid` (details.line), `validation_failed`")),
    security(("session" = ["nlu.train"]), ("api_token" = ["nlu.train"]))
)]
#[post("/fine-tuning/models/{fine_tune_model_id}/datasets")]
async fn upload_dataset(
    scope: ModelScope<perm::NluTrain>,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<UploadQuery>,
    payload: web::Payload,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    let bytes = crate::files::service::read_upload(&req, payload, state.config.fine_tuning.max_dataset_bytes).await?;
    let q = query.into_inner();
    let d = service::upload(&state, scope.into_tenant(), id, q.format.as_deref(), q.name, q.file_name, bytes).await?;
    Ok(HttpResponse::Created().json(d))
}

/// Lists a fine-tune model's datasets (deleted ones left out), newest first.
#[utoipa::path(
    tag = "fine_tuning",
    params(("fine_tune_model_id" = i64, Path, description = "Fine-tune model id"), PageParams),
    responses((status = 200, body = Page<Dataset>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/fine-tuning/models/{fine_tune_model_id}/datasets")]
async fn list_datasets(
    scope: ModelScope<perm::BotsRead>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    Ok(HttpResponse::Ok().json(service::list_datasets(&state, scope.into_tenant(), id, page.into_inner()).await?))
}

/// Makes a dataset of a bot (the model's, else `bot_id`): `source: nlu` takes its active intents' examples as labelled rows (NLU models), `transcripts` its resolved conversations (closed with a resolution) as chat rows (remote models).
#[utoipa::path(
    tag = "fine_tuning",
    params(("fine_tune_model_id" = i64, Path, description = "Fine-tune model id")),
    request_body = FromBotRequest,
    responses((status = 201, body = Dataset), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["nlu.train"]), ("api_token" = ["nlu.train"]))
)]
#[post("/fine-tuning/models/{fine_tune_model_id}/datasets/from-bot")]
async fn dataset_from_bot(
    scope: ModelScope<perm::NluTrain>,
    state: web::Data<AppState>,
    body: Json<FromBotRequest>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    let d = service::from_bot(&state, scope.into_tenant(), id, body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(d))
}

/// Estimates a job's cost before starting it: the training set's tokens × epochs × the model's training price (`fine_tuning.training_prices`).
#[utoipa::path(
    tag = "fine_tuning",
    params(("fine_tune_model_id" = i64, Path, description = "Fine-tune model id")),
    request_body = CreateJobRequest,
    responses((status = 200, body = CostEstimate), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "`dataset_deleted`, `dataset_not_ready`, `conflict`"), (status = 422, body = ErrorBody)),
    security(("session" = ["nlu.train"]), ("api_token" = ["nlu.train"]))
)]
#[post("/fine-tuning/models/{fine_tune_model_id}/estimate")]
async fn estimate_fine_tune(
    scope: ModelScope<perm::NluTrain>,
    state: web::Data<AppState>,
    body: Json<CreateJobRequest>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    Ok(HttpResponse::Ok().json(jobs::estimate(&state, scope.into_tenant(), id, body.into_inner()?).await?))
}

/// Starts a remote fine-tuning job on a ready dataset: a background job uploads the file, creates the job at the provider and follows its events and metrics. A deleted dataset is 409 `dataset_deleted`.
#[utoipa::path(
    tag = "fine_tuning",
    params(("fine_tune_model_id" = i64, Path, description = "Fine-tune model id")),
    request_body = CreateJobRequest,
    responses((status = 202, body = FineTuneJob), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "`dataset_deleted`, `dataset_not_ready`, `conflict`"), (status = 422, body = ErrorBody)),
    security(("session" = ["nlu.train"]), ("api_token" = ["nlu.train"]))
)]
#[post("/fine-tuning/models/{fine_tune_model_id}/jobs")]
async fn create_fine_tune_job(
    scope: ModelScope<perm::NluTrain>,
    state: web::Data<AppState>,
    body: Json<CreateJobRequest>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    let job = jobs::create(&state, scope.into_tenant(), id, body.into_inner()?).await?;
    Ok(HttpResponse::Accepted().json(job))
}

/// Lists a fine-tune model's jobs, newest first.
#[utoipa::path(
    tag = "fine_tuning",
    params(("fine_tune_model_id" = i64, Path, description = "Fine-tune model id"), PageParams),
    responses((status = 200, body = Page<FineTuneJob>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/fine-tuning/models/{fine_tune_model_id}/jobs")]
async fn list_fine_tune_jobs(
    scope: ModelScope<perm::BotsRead>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    Ok(HttpResponse::Ok().json(jobs::list(&state, scope.into_tenant(), id, page.into_inner()).await?))
}

/// Lists a fine-tune model's versions (an NLU model's: its bot's NLU models), newest first.
#[utoipa::path(
    tag = "fine_tuning",
    params(("fine_tune_model_id" = i64, Path, description = "Fine-tune model id"), PageParams),
    responses((status = 200, body = Page<TrainedVersion>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/fine-tuning/models/{fine_tune_model_id}/versions")]
async fn list_fine_tune_versions(
    scope: ModelScope<perm::BotsRead>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    Ok(HttpResponse::Ok().json(versions::list_of_model(&state, scope.into_tenant(), id, page.into_inner()).await?))
}

/// Restores the version that was active before the current one.
#[utoipa::path(
    tag = "fine_tuning",
    params(("fine_tune_model_id" = i64, Path, description = "Fine-tune model id")),
    responses((status = 200, body = TrainedVersion), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "nothing to roll back to")),
    security(("session" = ["nlu.train"]), ("api_token" = ["nlu.train"]))
)]
#[post("/fine-tuning/models/{fine_tune_model_id}/rollback")]
async fn rollback_fine_tune_model(
    scope: ModelScope<perm::NluTrain>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    Ok(HttpResponse::Ok().json(versions::rollback_model(&state, scope.into_tenant(), id).await?))
}

/// Shows a dataset with its validation report.
#[utoipa::path(
    tag = "fine_tuning",
    params(("dataset_id" = i64, Path, description = "Dataset id")),
    responses((status = 200, body = Dataset), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/fine-tuning/datasets/{dataset_id}")]
async fn get_dataset(scope: DatasetScope<perm::BotsRead>, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let id = scope.id();
    Ok(HttpResponse::Ok().json(service::get_dataset(&state, scope.into_tenant(), id).await?))
}

/// The first rows of a dataset, each with its line.
#[utoipa::path(
    tag = "fine_tuning",
    params(("dataset_id" = i64, Path, description = "Dataset id"), PreviewQuery),
    responses((status = 200, body = DatasetPreview), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/fine-tuning/datasets/{dataset_id}/preview")]
async fn preview_dataset(
    scope: DatasetScope<perm::BotsRead>,
    state: web::Data<AppState>,
    query: web::Query<PreviewQuery>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    Ok(HttpResponse::Ok().json(service::preview(&state, scope.into_tenant(), id, query.limit).await?))
}

/// Downloads a dataset, converted to `format` when asked (chat rows become CSV only as single exchanges).
#[utoipa::path(
    tag = "fine_tuning",
    params(("dataset_id" = i64, Path, description = "Dataset id"), DownloadQuery),
    responses((status = 200, description = "The file", content_type = "application/jsonl"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/fine-tuning/datasets/{dataset_id}/download")]
async fn download_dataset(
    scope: DatasetScope<perm::BotsRead>,
    state: web::Data<AppState>,
    query: web::Query<DownloadQuery>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    let (bytes, format, name) = service::download(&state, scope.into_tenant(), id, query.format.as_deref()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, format.content_type()))
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}\"", name.replace('"', ""))))
        .body(bytes))
}

/// Stores the dataset again in another format, as a new dataset.
#[utoipa::path(
    tag = "fine_tuning",
    params(("dataset_id" = i64, Path, description = "Dataset id")),
    request_body = ConvertRequest,
    responses((status = 201, body = Dataset), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["nlu.train"]), ("api_token" = ["nlu.train"]))
)]
#[post("/fine-tuning/datasets/{dataset_id}/convert")]
async fn convert_dataset(
    scope: DatasetScope<perm::NluTrain>,
    state: web::Data<AppState>,
    body: Json<ConvertRequest>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    let d = service::convert(&state, scope.into_tenant(), id, &body.into_inner()?.format).await?;
    Ok(HttpResponse::Created().json(d))
}

/// Splits a dataset into training and validation datasets: seeded, stratified by label.
#[utoipa::path(
    tag = "fine_tuning",
    params(("dataset_id" = i64, Path, description = "Dataset id")),
    request_body = SplitRequest,
    responses((status = 201, body = SplitResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["nlu.train"]), ("api_token" = ["nlu.train"]))
)]
#[post("/fine-tuning/datasets/{dataset_id}/split")]
async fn split_dataset(
    scope: DatasetScope<perm::NluTrain>,
    state: web::Data<AppState>,
    body: Json<SplitRequest>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    let req = body.into_inner()?;
    let made = service::split(&state, scope.into_tenant(), id, req.validation_share, req.seed).await?;
    Ok(HttpResponse::Created().json(made))
}

/// Deletes a dataset (kept for the jobs that trained on it; new jobs on it are refused with `dataset_deleted`).
#[utoipa::path(
    tag = "fine_tuning",
    params(("dataset_id" = i64, Path, description = "Dataset id")),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["nlu.train"]), ("api_token" = ["nlu.train"]))
)]
#[delete("/fine-tuning/datasets/{dataset_id}")]
async fn delete_dataset(scope: DatasetScope<perm::NluTrain>, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let id = scope.id();
    service::delete_dataset(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Shows a fine-tuning job with the provider's events.
#[utoipa::path(
    tag = "fine_tuning",
    params(("fine_tune_job_id" = i64, Path, description = "Fine-tuning job id")),
    responses((status = 200, body = FineTuneJob), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/fine-tuning/jobs/{fine_tune_job_id}")]
async fn get_fine_tune_job(scope: JobScope<perm::BotsRead>, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let id = scope.id();
    Ok(HttpResponse::Ok().json(jobs::get(&state, scope.into_tenant(), id).await?))
}

/// The job's training curve: loss and accuracy per step.
#[utoipa::path(
    tag = "fine_tuning",
    params(("fine_tune_job_id" = i64, Path, description = "Fine-tuning job id")),
    responses((status = 200, body = Vec<MetricPoint>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/fine-tuning/jobs/{fine_tune_job_id}/metrics")]
async fn fine_tune_job_metrics(scope: JobScope<perm::BotsRead>, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let id = scope.id();
    Ok(HttpResponse::Ok().json(jobs::metrics(&state, scope.into_tenant(), id).await?))
}

/// Cancels a job (at the provider once it was created there). A finished job is 409 `conflict`.
#[utoipa::path(
    tag = "fine_tuning",
    params(("fine_tune_job_id" = i64, Path, description = "Fine-tuning job id")),
    responses((status = 200, body = FineTuneJob), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 502, body = ErrorBody, description = "`llm_failed`: the provider refused or is unreachable")),
    security(("session" = ["nlu.train"]), ("api_token" = ["nlu.train"]))
)]
#[post("/fine-tuning/jobs/{fine_tune_job_id}/cancel")]
async fn cancel_fine_tune_job(scope: JobScope<perm::NluTrain>, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let id = scope.id();
    Ok(HttpResponse::Ok().json(jobs::cancel(&state, scope.into_tenant(), id).await?))
}

/// Shows a model version of any kind.
#[utoipa::path(
    tag = "fine_tuning",
    params(("model_version_id" = i64, Path, description = "Model version id")),
    responses((status = 200, body = TrainedVersion), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/model-versions/{model_version_id}")]
async fn get_model_version(scope: VersionScope<perm::BotsRead>, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let id = scope.id();
    Ok(HttpResponse::Ok().json(versions::get(&state, scope.into_tenant(), id).await?))
}

/// Compares two versions of the same model: metrics side by side, and for NLU versions per-intent precision/recall/F1 of each on the same labelled rows with the F1 difference.
#[utoipa::path(
    tag = "fine_tuning",
    params(("model_version_id" = i64, Path, description = "Model version id"), CompareQuery),
    responses((status = 200, body = VersionComparison), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody, description = "`models_unavailable`")),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/model-versions/{model_version_id}/compare")]
async fn compare_model_versions(
    scope: VersionScope<perm::BotsRead>,
    state: web::Data<AppState>,
    query: web::Query<CompareQuery>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    Ok(HttpResponse::Ok().json(versions::compare(&state, scope.into_tenant(), id, query.into_inner()).await?))
}

/// Makes a version the active one of its model: an NLU version is served at once, a remote version becomes the model agents call.
#[utoipa::path(
    tag = "fine_tuning",
    params(("model_version_id" = i64, Path, description = "Model version id")),
    responses((status = 200, body = TrainedVersion), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("session" = ["nlu.train"]), ("api_token" = ["nlu.train"]))
)]
#[post("/model-versions/{model_version_id}/activate")]
async fn activate_model_version(
    scope: VersionScope<perm::NluTrain>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    Ok(HttpResponse::Ok().json(versions::activate(&state, scope.into_tenant(), id).await?))
}

/// Marks a version the production one of its model.
#[utoipa::path(
    tag = "fine_tuning",
    params(("model_version_id" = i64, Path, description = "Model version id")),
    responses((status = 200, body = TrainedVersion), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["nlu.train"]), ("api_token" = ["nlu.train"]))
)]
#[post("/model-versions/{model_version_id}/production")]
async fn set_production_model_version(
    scope: VersionScope<perm::NluTrain>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    Ok(HttpResponse::Ok().json(versions::set_production(&state, scope.into_tenant(), id).await?))
}

/// Rolls the bot's NLU model back to the version that was active before the current one (served at once).
#[utoipa::path(
    tag = "fine_tuning",
    params(("bot_id" = i64, Path, description = "Bot id")),
    responses((status = 200, body = TrainedVersion), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "`nlu_not_trained`, or nothing to roll back to")),
    security(("session" = ["nlu.train"]), ("api_token" = ["nlu.train"]))
)]
#[post("/bots/{bot_id}/nlu/models/rollback")]
async fn rollback_nlu_model(scope: BotScope<perm::NluTrain>, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let id = scope.id();
    Ok(HttpResponse::Ok().json(versions::rollback_bot(&state, scope.into_tenant(), id).await?))
}

/// The tuned models of a provider (fine-tune jobs that succeeded): the names agents may use as `model_name` with this provider.
#[utoipa::path(
    tag = "fine_tuning",
    params(("provider_id" = i64, Path, description = "LLM provider id")),
    responses((status = 200, body = Vec<TunedModel>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[get("/llm-providers/{provider_id}/tuned-models")]
async fn list_tuned_models(
    scope: ProviderScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    let tenant = scope.into_tenant();
    let rows = state.db.read(move |c| Ok(store::tuned_models_of_provider(c, &tenant, id)?)).await?;
    Ok(HttpResponse::Ok().json(
        rows.into_iter()
            .map(|(fine_tune_model_id, name, model, is_active)| TunedModel {
                fine_tune_model_id,
                name,
                model,
                is_active,
            })
            .collect::<Vec<_>>(),
    ))
}

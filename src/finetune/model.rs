//! Fine-tuning types: ids, the API forms of fine-tune models, datasets,
//! jobs, metrics and versions, and their row mappers.

use rusqlite::{Connection, OptionalExtension, Row};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::db::{FromRow, json_column};
use crate::error::ErrorCode;
use crate::http::scope::{Owner, ScopeResource};
use crate::ids::{BotId, OrgId};
use crate::llm::model::LlmProviderId;

crate::id_type!(
    /// A row of `fine_tune_models`.
    FineTuneModelId
);
crate::id_type!(
    /// A row of `fine_tune_datasets`.
    DatasetId
);
crate::id_type!(
    /// A row of `fine_tune_jobs`.
    FineTuneJobId
);
/// A row of `model_versions` (any kind): the NLU domain's id type.
pub use crate::nlu::model::ModelVersionId as VersionId;

/// How a dataset file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DatasetFormat {
    Jsonl,
    Json,
    Csv,
}

impl DatasetFormat {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetFormat::Jsonl => "jsonl",
            DatasetFormat::Json => "json",
            DatasetFormat::Csv => "csv",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<DatasetFormat> {
        match s {
            "jsonl" => Some(DatasetFormat::Jsonl),
            "json" => Some(DatasetFormat::Json),
            "csv" => Some(DatasetFormat::Csv),
            _ => None,
        }
    }

    /// The content type of a download.
    #[must_use]
    pub fn content_type(self) -> &'static str {
        match self {
            DatasetFormat::Jsonl => "application/jsonl",
            DatasetFormat::Json => "application/json",
            DatasetFormat::Csv => "text/csv; charset=utf-8",
        }
    }
}

/// What a dataset's rows are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DatasetKind {
    /// Conversations (`{"messages": […]}`) for generative models.
    Chat,
    /// Labelled texts (`{"text", "label"}`) for intent classifiers.
    Classification,
}

impl DatasetKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetKind::Chat => "chat",
            DatasetKind::Classification => "classification",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<DatasetKind> {
        match s {
            "chat" => Some(DatasetKind::Chat),
            "classification" => Some(DatasetKind::Classification),
            _ => None,
        }
    }
}

/// What a fine-tune model tunes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// A generative model tuned by a remote provider's fine-tuning API.
    LlmFinetune,
    /// A bot's intent classifier (its versions are the bot's NLU models).
    NluIntent,
}

impl ModelKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::LlmFinetune => "llm_finetune",
            ModelKind::NluIntent => "nlu_intent",
        }
    }

    /// The kind of dataset its jobs train on.
    #[must_use]
    pub fn dataset_kind(self) -> DatasetKind {
        match self {
            ModelKind::LlmFinetune => DatasetKind::Chat,
            ModelKind::NluIntent => DatasetKind::Classification,
        }
    }
}

/// A fine-tune model: what is tuned (base model, provider, bot), with its
/// datasets, jobs and versions.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FineTuneModel {
    pub id: FineTuneModelId,
    pub organization_id: OrgId,
    pub bot_id: Option<BotId>,
    pub name: String,
    pub description: Option<String>,
    /// `llm_finetune` or `nlu_intent`.
    pub kind: String,
    pub base_model: String,
    pub provider_id: Option<LlmProviderId>,
    /// pending, training, completed, failed or cancelled (of its last job).
    pub status: String,
    /// The remote model of the active version (what agents call).
    pub model_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

pub const MODEL_COLUMNS: &str = "id, organization_id, bot_id, name, description, kind, base_model, provider_id, status, model_id, created_at, updated_at";

impl FromRow for FineTuneModel {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(FineTuneModel {
            id: row.get("id")?,
            organization_id: row.get("organization_id")?,
            bot_id: row.get("bot_id")?,
            name: row.get("name")?,
            description: row.get("description")?,
            kind: row.get("kind")?,
            base_model: row.get("base_model")?,
            provider_id: row.get("provider_id")?,
            status: row.get("status")?,
            model_id: row.get("model_id")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

impl FineTuneModel {
    /// The model's kind (rows only hold the kinds the API creates).
    #[must_use]
    pub fn model_kind(&self) -> ModelKind {
        if self.kind == "nlu_intent" { ModelKind::NluIntent } else { ModelKind::LlmFinetune }
    }
}

/// `POST /orgs/{org_id}/fine-tuning/models`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFineTuneModelRequest {
    #[schema(example = "Support tone")]
    pub name: String,
    pub description: Option<String>,
    /// `llm_finetune` (default) or `nlu_intent`.
    pub kind: Option<ModelKind>,
    /// The model to tune, e.g. `gpt-4o-mini-2024-07-18` (`nlu_intent`: the bot's encoder, default `minilm`).
    #[schema(example = "gpt-4o-mini-2024-07-18")]
    pub base_model: Option<String>,
    /// The OpenAI-compatible provider that runs the jobs (`llm_finetune`: required).
    pub provider_id: Option<LlmProviderId>,
    /// The bot whose NLU data or transcripts make datasets (`nlu_intent`: required).
    pub bot_id: Option<BotId>,
}

/// A dataset with its validation report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Dataset {
    pub id: DatasetId,
    pub fine_tune_model_id: FineTuneModelId,
    pub name: String,
    pub file_name: String,
    pub file_size: i64,
    pub row_count: i64,
    pub format: DatasetFormat,
    pub kind: DatasetKind,
    /// upload, nlu, transcripts, split or conversion.
    pub source: String,
    /// `ready`, or `error` when the validation report found problems.
    pub status: String,
    pub token_count: i64,
    /// The validation report (see `DatasetReport`).
    #[schema(value_type = Object)]
    pub report: Value,
    /// The provider's file id once uploaded for a job.
    pub remote_file_id: Option<String>,
    pub deleted: bool,
    pub created_at: String,
}

pub const DATASET_COLUMNS: &str = "id, fine_tune_model_id, name, file_name, file_size, row_count, format, kind, source, \
     status, token_count, report, remote_file_id, deleted_at IS NOT NULL AS deleted, created_at, file_id";

impl FromRow for Dataset {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let format: String = row.get("format")?;
        let kind: String = row.get("kind")?;
        Ok(Dataset {
            id: row.get("id")?,
            fine_tune_model_id: row.get("fine_tune_model_id")?,
            name: row.get("name")?,
            file_name: row.get("file_name")?,
            file_size: row.get("file_size")?,
            row_count: row.get("row_count")?,
            format: DatasetFormat::parse(&format).unwrap_or(DatasetFormat::Jsonl),
            kind: DatasetKind::parse(&kind).unwrap_or(DatasetKind::Chat),
            source: row.get("source")?,
            status: row.get("status")?,
            token_count: row.get("token_count")?,
            report: json_column(row, "report")?.unwrap_or(Value::Null),
            remote_file_id: row.get("remote_file_id")?,
            deleted: row.get("deleted")?,
            created_at: row.get("created_at")?,
        })
    }
}

/// `POST /fine-tuning/models/{fine_tune_model_id}/datasets` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// `jsonl` (default), `json` or `csv`.
    pub format: Option<String>,
    /// The dataset's name (default: the file name).
    pub name: Option<String>,
    /// The file name as the user chose it.
    pub file_name: Option<String>,
}

/// `GET /fine-tuning/datasets/{dataset_id}/preview` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PreviewQuery {
    /// Rows to show, 1–100 (default 20).
    pub limit: Option<u32>,
}

/// The first rows of a dataset.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DatasetPreview {
    pub dataset_id: DatasetId,
    pub kind: DatasetKind,
    pub total_rows: usize,
    /// Each row in its JSON form with its `line`.
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<Value>,
}

/// `GET /fine-tuning/datasets/{dataset_id}/download` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DownloadQuery {
    /// `jsonl`, `json` or `csv` (default: the dataset's own format).
    pub format: Option<String>,
}

/// `POST /fine-tuning/datasets/{dataset_id}/convert`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConvertRequest {
    /// `jsonl`, `json` or `csv`.
    pub format: String,
}

/// `POST /fine-tuning/datasets/{dataset_id}/split`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SplitRequest {
    /// Share of rows (of each label) for validation, 0.05–0.5 (default 0.2).
    pub validation_share: Option<f64>,
    /// The shuffle's seed: the same seed gives the same split (default 42).
    pub seed: Option<u64>,
}

/// The two datasets a split made.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SplitResponse {
    pub train: Dataset,
    pub validation: Dataset,
}

/// `POST /fine-tuning/models/{fine_tune_model_id}/datasets/from-bot`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FromBotRequest {
    /// `nlu`: the bot's active intents' examples as a classification set
    /// (`nlu_intent` models); `transcripts`: the bot's resolved conversations
    /// (closed with a resolution) as chat rows (`llm_finetune` models).
    pub source: String,
    /// The bot, when the fine-tune model has none of its own (of the organization).
    pub bot_id: Option<BotId>,
    pub name: Option<String>,
}

/// `POST /fine-tuning/models/{fine_tune_model_id}/estimate` and the job's hyperparameters.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateJobRequest {
    pub training_dataset_id: DatasetId,
    pub validation_dataset_id: Option<DatasetId>,
    /// 1–50 (default 3).
    pub n_epochs: Option<i64>,
    /// 1–256 (default: the provider's choice, shown as 1).
    pub batch_size: Option<i64>,
    /// Multiplier of the provider's learning rate, 0.01–10 (default 1).
    pub learning_rate_multiplier: Option<f64>,
    /// Up to 18 characters added to the tuned model's name.
    pub suffix: Option<String>,
}

/// What a job would cost, before it starts.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CostEstimate {
    pub base_model: String,
    /// Tokens of the training set (validation sets are not billed).
    pub dataset_tokens: u64,
    pub n_epochs: i64,
    /// `dataset_tokens × n_epochs`.
    pub trained_tokens: u64,
    /// Micro-units per 1M trained tokens (`fine_tuning.training_prices`), if known.
    pub price_micros_per_million: Option<u64>,
    /// `None` when no price is configured for the model.
    pub estimated_cost_micros: Option<u64>,
}

/// A fine-tuning job.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FineTuneJob {
    pub id: FineTuneJobId,
    pub fine_tune_model_id: FineTuneModelId,
    /// The background job following it (`GET /jobs/{job_id}`).
    pub job_id: Option<crate::ids::JobId>,
    pub remote_job_id: Option<String>,
    pub provider: String,
    /// `pending`, `validating_files`, `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    pub status: String,
    pub trained_tokens: i64,
    pub epochs: i64,
    pub batch_size: i64,
    pub learning_rate: f64,
    pub training_dataset_id: Option<DatasetId>,
    pub validation_dataset_id: Option<DatasetId>,
    /// The tuned model's name at the provider.
    pub result_model_id: Option<String>,
    pub error_message: Option<String>,
    pub estimated_cost_micros: Option<i64>,
    /// The provider's events, oldest first (the last 200).
    #[schema(value_type = Vec<Object>)]
    pub events: Value,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

pub const JOB_COLUMNS: &str = "id, fine_tune_model_id, job_id, remote_job_id, provider, status, trained_tokens, epochs, \
     batch_size, learning_rate, training_dataset_id, validation_dataset_id, result_model_id, error_message, \
     estimated_cost_micros, training_metrics, started_at, completed_at, created_at, updated_at";

impl FromRow for FineTuneJob {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let metrics = json_column(row, "training_metrics")?.unwrap_or(Value::Null);
        Ok(FineTuneJob {
            id: row.get("id")?,
            fine_tune_model_id: row.get("fine_tune_model_id")?,
            job_id: row.get("job_id")?,
            remote_job_id: row.get("remote_job_id")?,
            provider: row.get("provider")?,
            status: row.get("status")?,
            trained_tokens: row.get("trained_tokens")?,
            epochs: row.get("epochs")?,
            batch_size: row.get("batch_size")?,
            learning_rate: row.get("learning_rate")?,
            training_dataset_id: row.get("training_dataset_id")?,
            validation_dataset_id: row.get("validation_dataset_id")?,
            result_model_id: row.get("result_model_id")?,
            error_message: row.get("error_message")?,
            estimated_cost_micros: row.get("estimated_cost_micros")?,
            events: metrics.get("events").cloned().unwrap_or_else(|| Value::Array(Vec::new())),
            started_at: row.get("started_at")?,
            completed_at: row.get("completed_at")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

impl FineTuneJob {
    /// Whether the job has ended (nothing more to follow).
    #[must_use]
    pub fn is_finished(&self) -> bool {
        matches!(self.status.as_str(), "succeeded" | "failed" | "cancelled")
    }
}

/// One point of a training curve.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MetricPoint {
    pub step: i64,
    pub epoch: i64,
    pub train_loss: Option<f64>,
    pub valid_loss: Option<f64>,
    pub train_accuracy: Option<f64>,
    pub valid_accuracy: Option<f64>,
    pub learning_rate: Option<f64>,
    pub tokens_processed: i64,
}

impl FromRow for MetricPoint {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(MetricPoint {
            step: row.get("step")?,
            epoch: row.get("epoch")?,
            train_loss: row.get("train_loss")?,
            valid_loss: row.get("valid_loss")?,
            train_accuracy: row.get("train_accuracy")?,
            valid_accuracy: row.get("valid_accuracy")?,
            learning_rate: row.get("learning_rate")?,
            tokens_processed: row.get("tokens_processed")?,
        })
    }
}

/// A model version of any kind (NLU model of a bot, remote tuned model).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TrainedVersion {
    pub id: VersionId,
    /// `nlu_intent` or `llm_finetune` (a tuned encoder would be a third kind here).
    pub kind: String,
    pub bot_id: Option<BotId>,
    pub fine_tune_model_id: Option<FineTuneModelId>,
    pub version_number: i64,
    /// The provider's model name of a remote version.
    pub remote_model_id: Option<String>,
    pub is_active: bool,
    pub is_production: bool,
    pub performance_score: Option<f64>,
    #[schema(value_type = Object)]
    pub metrics: Value,
    pub description: Option<String>,
    pub activated_at: Option<String>,
    pub created_at: String,
}

pub const VERSION_COLUMNS: &str = "id, kind, bot_id, fine_tune_model_id, version_number, remote_model_id, is_active, \
     is_production, performance_score, metrics, description, activated_at, created_at";

impl FromRow for TrainedVersion {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(TrainedVersion {
            id: row.get("id")?,
            kind: row.get("kind")?,
            bot_id: row.get("bot_id")?,
            fine_tune_model_id: row.get("fine_tune_model_id")?,
            version_number: row.get("version_number")?,
            remote_model_id: row.get("remote_model_id")?,
            is_active: row.get("is_active")?,
            is_production: row.get("is_production")?,
            performance_score: row.get("performance_score")?,
            metrics: json_column(row, "metrics")?.unwrap_or(Value::Null),
            description: row.get("description")?,
            activated_at: row.get("activated_at")?,
            created_at: row.get("created_at")?,
        })
    }
}

/// Per-intent figures of two versions and their difference (b − a).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IntentDelta {
    pub intent: String,
    pub support: usize,
    pub precision_a: f64,
    pub precision_b: f64,
    pub recall_a: f64,
    pub recall_b: f64,
    pub f1_a: f64,
    pub f1_b: f64,
    pub f1_delta: f64,
}

/// Two versions side by side.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VersionComparison {
    pub a: TrainedVersion,
    pub b: TrainedVersion,
    /// Figures of both versions' metrics by name (numbers only), with b − a.
    #[schema(value_type = Vec<Object>)]
    pub metrics: Vec<Value>,
    /// NLU versions: each version's model run on the same labelled rows.
    pub per_intent: Vec<IntentDelta>,
    /// What `per_intent` was measured on: `dataset` (its id in `dataset_id`) or `bot_examples`.
    pub evaluated_on: Option<String>,
    pub dataset_id: Option<DatasetId>,
    pub accuracy_a: Option<f64>,
    pub accuracy_b: Option<f64>,
    pub micro_f1_a: Option<f64>,
    pub micro_f1_b: Option<f64>,
}

/// `GET /model-versions/{model_version_id}/compare` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CompareQuery {
    /// The other version (b); the path's version is a. Required (422 naming
    /// `with` when absent, after the caller's access to a is checked).
    pub with: Option<VersionId>,
    /// NLU versions: a classification dataset to evaluate both on (default: the bot's examples).
    pub dataset_id: Option<DatasetId>,
}

// ---- scope resources ----

/// `/fine-tuning/models/{fine_tune_model_id}/…`: owned by the organization
/// (and the bot, for a bot's model).
pub struct ModelResource;
impl ScopeResource for ModelResource {
    const PARAM: &'static str = "fine_tune_model_id";
    const NOT_FOUND: ErrorCode = ErrorCode::FineTuneModelNotFound;
    type Id = FineTuneModelId;
    fn owner(conn: &Connection, id: FineTuneModelId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row("SELECT organization_id, bot_id FROM fine_tune_models WHERE id = ?1", [id], |r| {
            Ok(Owner { org_id: r.get(0)?, bot_id: r.get(1)? })
        })
        .optional()
    }
}

/// `/fine-tuning/datasets/{dataset_id}/…`.
pub struct DatasetResource;
impl ScopeResource for DatasetResource {
    const PARAM: &'static str = "dataset_id";
    const NOT_FOUND: ErrorCode = ErrorCode::DatasetNotFound;
    type Id = DatasetId;
    fn owner(conn: &Connection, id: DatasetId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row(
            "SELECT d.organization_id, m.bot_id FROM fine_tune_datasets d
             JOIN fine_tune_models m ON m.id = d.fine_tune_model_id WHERE d.id = ?1",
            [id],
            |r| Ok(Owner { org_id: r.get(0)?, bot_id: r.get(1)? }),
        )
        .optional()
    }
}

/// `/fine-tuning/jobs/{fine_tune_job_id}/…`.
pub struct JobResource;
impl ScopeResource for JobResource {
    const PARAM: &'static str = "fine_tune_job_id";
    const NOT_FOUND: ErrorCode = ErrorCode::FineTuneJobNotFound;
    type Id = FineTuneJobId;
    fn owner(conn: &Connection, id: FineTuneJobId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row(
            "SELECT j.organization_id, m.bot_id FROM fine_tune_jobs j
             JOIN fine_tune_models m ON m.id = j.fine_tune_model_id WHERE j.id = ?1",
            [id],
            |r| Ok(Owner { org_id: r.get(0)?, bot_id: r.get(1)? }),
        )
        .optional()
    }
}

/// `/model-versions/{model_version_id}/…`: versions of any kind.
pub struct VersionResource;
impl ScopeResource for VersionResource {
    const PARAM: &'static str = "model_version_id";
    const NOT_FOUND: ErrorCode = ErrorCode::ModelVersionNotFound;
    type Id = VersionId;
    fn owner(conn: &Connection, id: VersionId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row(
            "SELECT v.organization_id, coalesce(v.bot_id, m.bot_id) FROM model_versions v
             LEFT JOIN fine_tune_models m ON m.id = v.fine_tune_model_id WHERE v.id = ?1",
            [id],
            |r| Ok(Owner { org_id: r.get(0)?, bot_id: r.get(1)? }),
        )
        .optional()
    }
}

//! SQL of fine-tuning: `fine_tune_models`, `fine_tune_datasets`,
//! `fine_tune_jobs`, `fine_tuning_metrics` and the remote rows of
//! `model_versions`. Every function binds the tenant's organization.

use rusqlite::{Connection, OptionalExtension, params};

use super::model::{
    DATASET_COLUMNS, Dataset, DatasetId, FineTuneJob, FineTuneJobId, FineTuneModel, FineTuneModelId, JOB_COLUMNS,
    MODEL_COLUMNS, MetricPoint, TrainedVersion, VERSION_COLUMNS, VersionId,
};
use crate::db::{query_all, query_opt};
use crate::http::Tenant;
use crate::ids::{BotId, FileId, JobId};
use crate::llm::model::LlmProviderId;

/// A new fine-tune model's fields.
pub struct NewModel<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub kind: &'a str,
    pub base_model: &'a str,
    pub provider_id: Option<LlmProviderId>,
    pub bot_id: Option<BotId>,
}

pub fn insert_model(conn: &Connection, tenant: &Tenant, m: &NewModel<'_>) -> rusqlite::Result<FineTuneModelId> {
    conn.query_row(
        "INSERT INTO fine_tune_models (organization_id, user_id, bot_id, name, description, kind, base_model, provider_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
        params![tenant.org_id(), tenant.user_id(), m.bot_id, m.name, m.description, m.kind, m.base_model, m.provider_id],
        |r| r.get(0),
    )
}

pub fn find_model(conn: &Connection, tenant: &Tenant, id: FineTuneModelId) -> rusqlite::Result<Option<FineTuneModel>> {
    query_opt(
        conn,
        &format!("SELECT {MODEL_COLUMNS} FROM fine_tune_models WHERE id = ?1 AND organization_id = ?2"),
        params![id, tenant.org_id()],
    )
}

/// The organization's fine-tune models, newest first.
pub fn list_models(
    conn: &Connection,
    tenant: &Tenant,
    after: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<FineTuneModel>> {
    query_all(
        conn,
        &format!(
            "SELECT {MODEL_COLUMNS} FROM fine_tune_models WHERE organization_id = ?1 AND (?2 IS NULL OR id < ?2)
             ORDER BY id DESC LIMIT ?3"
        ),
        params![tenant.org_id(), after, limit],
    )
}

pub fn delete_model(conn: &Connection, tenant: &Tenant, id: FineTuneModelId) -> rusqlite::Result<bool> {
    Ok(conn
        .execute("DELETE FROM fine_tune_models WHERE id = ?1 AND organization_id = ?2", params![id, tenant.org_id()])?
        == 1)
}

pub fn set_model_status(conn: &Connection, tenant: &Tenant, id: FineTuneModelId, status: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE fine_tune_models SET status = ?3, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), status],
    )?;
    Ok(())
}

/// Points the model at the remote model agents should call.
pub fn set_model_id(
    conn: &Connection,
    tenant: &Tenant,
    id: FineTuneModelId,
    model: Option<&str>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE fine_tune_models SET model_id = ?3, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), model],
    )?;
    Ok(())
}

// ---- datasets ----

/// A new dataset's fields.
pub struct NewDataset<'a> {
    pub model: FineTuneModelId,
    pub name: &'a str,
    pub file_name: &'a str,
    pub file_id: FileId,
    pub file_size: i64,
    pub row_count: i64,
    pub format: &'a str,
    pub kind: &'a str,
    pub source: &'a str,
    pub status: &'a str,
    pub token_count: i64,
    pub report: &'a str,
    pub validation_errors: &'a str,
}

pub fn insert_dataset(conn: &Connection, tenant: &Tenant, d: &NewDataset<'_>) -> rusqlite::Result<DatasetId> {
    conn.query_row(
        "INSERT INTO fine_tune_datasets (organization_id, fine_tune_model_id, name, file_name, file_id, file_size,
                                         row_count, format, kind, source, status, token_count, report, validation_errors)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) RETURNING id",
        params![
            tenant.org_id(),
            d.model,
            d.name,
            d.file_name,
            d.file_id,
            d.file_size,
            d.row_count,
            d.format,
            d.kind,
            d.source,
            d.status,
            d.token_count,
            d.report,
            d.validation_errors
        ],
        |r| r.get(0),
    )
}

pub fn find_dataset(conn: &Connection, tenant: &Tenant, id: DatasetId) -> rusqlite::Result<Option<Dataset>> {
    query_opt(
        conn,
        &format!("SELECT {DATASET_COLUMNS} FROM fine_tune_datasets WHERE id = ?1 AND organization_id = ?2"),
        params![id, tenant.org_id()],
    )
}

/// The stored bytes of a dataset.
pub fn dataset_bytes(conn: &Connection, tenant: &Tenant, id: DatasetId) -> rusqlite::Result<Option<Vec<u8>>> {
    conn.query_row(
        "SELECT f.data FROM fine_tune_datasets d JOIN files f ON f.id = d.file_id
         WHERE d.id = ?1 AND d.organization_id = ?2",
        params![id, tenant.org_id()],
        |r| r.get(0),
    )
    .optional()
}

/// The model's datasets that are not deleted, newest first.
pub fn list_datasets(
    conn: &Connection,
    tenant: &Tenant,
    model: FineTuneModelId,
    after: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<Dataset>> {
    query_all(
        conn,
        &format!(
            "SELECT {DATASET_COLUMNS} FROM fine_tune_datasets
             WHERE organization_id = ?1 AND fine_tune_model_id = ?2 AND deleted_at IS NULL AND (?3 IS NULL OR id < ?3)
             ORDER BY id DESC LIMIT ?4"
        ),
        params![tenant.org_id(), model, after, limit],
    )
}

/// Marks a dataset deleted (kept for the jobs that trained on it).
pub fn soft_delete_dataset(conn: &Connection, tenant: &Tenant, id: DatasetId) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE fine_tune_datasets SET deleted_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE id = ?1 AND organization_id = ?2 AND deleted_at IS NULL",
        params![id, tenant.org_id()],
    )? == 1)
}

pub fn set_remote_file(conn: &Connection, tenant: &Tenant, id: DatasetId, remote: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE fine_tune_datasets SET remote_file_id = ?3 WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), remote],
    )?;
    Ok(())
}

/// The transcript lines (conversation, role, text) of the bot's resolved
/// conversations — closed with a resolution — in order; user, bot and
/// human-agent messages only (notes and system lines are not dialogue).
pub fn resolved_transcripts(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    max_lines: i64,
) -> rusqlite::Result<Vec<(i64, String, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT m.conversation_id, m.role, m.content FROM widget_messages m
         JOIN conversations c ON c.id = m.conversation_id AND c.organization_id = m.organization_id
         WHERE m.organization_id = ?1 AND c.bot_id = ?2 AND c.status = 'closed'
           AND trim(ifnull(c.resolution, '')) <> '' AND m.role IN ('user', 'bot', 'agent') AND trim(m.content) <> ''
         ORDER BY m.conversation_id, m.id LIMIT ?3",
    )?;
    stmt.query_map(params![tenant.org_id(), bot, max_lines], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect()
}

// ---- jobs ----

/// A new job's fields.
pub struct NewJob {
    pub model: FineTuneModelId,
    pub provider: &'static str,
    pub epochs: i64,
    pub batch_size: i64,
    pub learning_rate: f64,
    pub training_dataset: DatasetId,
    pub validation_dataset: Option<DatasetId>,
    pub total_tokens: i64,
    pub estimated_cost_micros: Option<i64>,
    pub hyperparameters: String,
}

pub fn insert_job(conn: &Connection, tenant: &Tenant, j: &NewJob) -> rusqlite::Result<FineTuneJobId> {
    conn.query_row(
        "INSERT INTO fine_tune_jobs (organization_id, fine_tune_model_id, provider, epochs, batch_size, learning_rate,
                                     training_dataset_id, validation_dataset_id, total_tokens, estimated_cost_micros,
                                     hyperparameters, training_metrics)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, '{\"events\":[]}') RETURNING id",
        params![
            tenant.org_id(),
            j.model,
            j.provider,
            j.epochs,
            j.batch_size,
            j.learning_rate,
            j.training_dataset,
            j.validation_dataset,
            j.total_tokens,
            j.estimated_cost_micros,
            j.hyperparameters
        ],
        |r| r.get(0),
    )
}

pub fn set_background_job(conn: &Connection, tenant: &Tenant, id: FineTuneJobId, job: JobId) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE fine_tune_jobs SET job_id = ?3 WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), job],
    )?;
    Ok(())
}

pub fn find_job(conn: &Connection, tenant: &Tenant, id: FineTuneJobId) -> rusqlite::Result<Option<FineTuneJob>> {
    query_opt(
        conn,
        &format!("SELECT {JOB_COLUMNS} FROM fine_tune_jobs WHERE id = ?1 AND organization_id = ?2"),
        params![id, tenant.org_id()],
    )
}

/// The model's jobs, newest first.
pub fn list_jobs(
    conn: &Connection,
    tenant: &Tenant,
    model: FineTuneModelId,
    after: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<FineTuneJob>> {
    query_all(
        conn,
        &format!(
            "SELECT {JOB_COLUMNS} FROM fine_tune_jobs WHERE organization_id = ?1 AND fine_tune_model_id = ?2
             AND (?3 IS NULL OR id < ?3) ORDER BY id DESC LIMIT ?4"
        ),
        params![tenant.org_id(), model, after, limit],
    )
}

/// What a poll of the remote job learnt.
pub struct JobUpdate<'a> {
    pub remote_job_id: Option<&'a str>,
    pub status: &'a str,
    pub trained_tokens: Option<i64>,
    pub result_model_id: Option<&'a str>,
    pub error_message: Option<&'a str>,
    /// The events to keep (oldest first), replacing the stored ones.
    pub events: &'a str,
    pub last_event_id: Option<&'a str>,
}

/// Stores a poll's findings; `started_at` and `completed_at` are set the
/// first time the job runs and ends.
pub fn update_job(conn: &Connection, tenant: &Tenant, id: FineTuneJobId, u: &JobUpdate<'_>) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE fine_tune_jobs SET
            remote_job_id = coalesce(?3, remote_job_id),
            status = ?4,
            trained_tokens = coalesce(?5, trained_tokens),
            result_model_id = coalesce(?6, result_model_id),
            error_message = coalesce(?7, error_message),
            training_metrics = json_set(training_metrics, '$.events', json(?8)),
            last_event_id = coalesce(?9, last_event_id),
            started_at = CASE WHEN started_at IS NULL AND ?4 IN ('running','succeeded','failed','cancelled')
                              THEN strftime('%Y-%m-%dT%H:%M:%fZ','now') ELSE started_at END,
            completed_at = CASE WHEN completed_at IS NULL AND ?4 IN ('succeeded','failed','cancelled')
                                THEN strftime('%Y-%m-%dT%H:%M:%fZ','now') ELSE completed_at END,
            updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE id = ?1 AND organization_id = ?2",
        params![
            id,
            tenant.org_id(),
            u.remote_job_id,
            u.status,
            u.trained_tokens,
            u.result_model_id,
            u.error_message,
            u.events,
            u.last_event_id
        ],
    )?;
    Ok(())
}

/// The last remote event read of a job.
pub fn last_event_id(conn: &Connection, tenant: &Tenant, id: FineTuneJobId) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT last_event_id FROM fine_tune_jobs WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id()],
        |r| r.get(0),
    )
    .optional()
    .map(Option::flatten)
}

/// Records a point of the training curve (a step seen again is updated).
pub fn upsert_metric(
    conn: &Connection,
    tenant: &Tenant,
    model: FineTuneModelId,
    job: FineTuneJobId,
    p: &MetricPoint,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO fine_tuning_metrics (organization_id, fine_tune_model_id, fine_tune_job_id, step, epoch, train_loss,
                                          valid_loss, train_accuracy, valid_accuracy, learning_rate, tokens_processed)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (fine_tune_model_id, fine_tune_job_id, step) DO UPDATE SET
            epoch = max(excluded.epoch, epoch),
            train_loss = coalesce(excluded.train_loss, train_loss),
            valid_loss = coalesce(excluded.valid_loss, valid_loss),
            train_accuracy = coalesce(excluded.train_accuracy, train_accuracy),
            valid_accuracy = coalesce(excluded.valid_accuracy, valid_accuracy),
            learning_rate = coalesce(excluded.learning_rate, learning_rate),
            tokens_processed = max(excluded.tokens_processed, tokens_processed)",
        params![
            tenant.org_id(),
            model,
            job,
            p.step,
            p.epoch,
            p.train_loss,
            p.valid_loss,
            p.train_accuracy,
            p.valid_accuracy,
            p.learning_rate,
            p.tokens_processed
        ],
    )?;
    Ok(())
}

/// A job's curve, by step.
pub fn metrics(conn: &Connection, tenant: &Tenant, job: FineTuneJobId) -> rusqlite::Result<Vec<MetricPoint>> {
    query_all(
        conn,
        "SELECT step, epoch, train_loss, valid_loss, train_accuracy, valid_accuracy, learning_rate, tokens_processed
         FROM fine_tuning_metrics WHERE organization_id = ?1 AND fine_tune_job_id = ?2 ORDER BY step",
        params![tenant.org_id(), job],
    )
}

// ---- versions ----

/// Adds the tuned model as the fine-tune model's next version.
pub fn insert_remote_version(
    conn: &Connection,
    tenant: &Tenant,
    model: FineTuneModelId,
    remote_model: &str,
    metrics: &str,
    description: &str,
) -> rusqlite::Result<VersionId> {
    conn.query_row(
        "INSERT INTO model_versions (organization_id, fine_tune_model_id, kind, version_number, remote_model_id,
                                     metrics, description, created_by)
         VALUES (?1, ?2, 'llm_finetune',
                 (SELECT ifnull(max(version_number), 0) + 1 FROM model_versions WHERE fine_tune_model_id = ?2 AND kind = 'llm_finetune'),
                 ?3, ?4, ?5, ?6) RETURNING id",
        params![tenant.org_id(), model, remote_model, metrics, description, tenant.user_id()],
        |r| r.get(0),
    )
}

pub fn find_version(conn: &Connection, tenant: &Tenant, id: VersionId) -> rusqlite::Result<Option<TrainedVersion>> {
    query_opt(
        conn,
        &format!("SELECT {VERSION_COLUMNS} FROM model_versions WHERE id = ?1 AND organization_id = ?2"),
        params![id, tenant.org_id()],
    )
}

/// The versions of a fine-tune model, newest first.
pub fn list_versions(
    conn: &Connection,
    tenant: &Tenant,
    model: FineTuneModelId,
    after: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<TrainedVersion>> {
    query_all(
        conn,
        &format!(
            "SELECT {VERSION_COLUMNS} FROM model_versions WHERE organization_id = ?1 AND fine_tune_model_id = ?2
             AND (?3 IS NULL OR id < ?3) ORDER BY id DESC LIMIT ?4"
        ),
        params![tenant.org_id(), model, after, limit],
    )
}

/// The versions of a bot's NLU model, newest first.
pub fn list_bot_versions(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    after: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<TrainedVersion>> {
    query_all(
        conn,
        &format!(
            "SELECT {VERSION_COLUMNS} FROM model_versions WHERE organization_id = ?1 AND bot_id = ?2 AND kind = 'nlu_intent'
             AND (?3 IS NULL OR id < ?3) ORDER BY id DESC LIMIT ?4"
        ),
        params![tenant.org_id(), bot, after, limit],
    )
}

/// Makes a remote version the one active version of its fine-tune model.
pub fn activate_remote_version(
    conn: &Connection,
    tenant: &Tenant,
    model: FineTuneModelId,
    id: VersionId,
) -> rusqlite::Result<bool> {
    conn.execute(
        "UPDATE model_versions SET is_active = 0 WHERE organization_id = ?1 AND fine_tune_model_id = ?2 AND id <> ?3",
        params![tenant.org_id(), model, id],
    )?;
    Ok(conn.execute(
        "UPDATE model_versions SET is_active = 1, activated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now'),
                                   updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE id = ?1 AND organization_id = ?2 AND fine_tune_model_id = ?3",
        params![id, tenant.org_id(), model],
    )? == 1)
}

/// Marks `id` the production version among its siblings (same bot NLU
/// models, or same fine-tune model).
pub fn set_production(conn: &Connection, tenant: &Tenant, v: &TrainedVersion) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE model_versions SET is_production = (id = ?1), updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE organization_id = ?2 AND kind = ?3
           AND ifnull(bot_id, 0) = ifnull(?4, 0) AND ifnull(fine_tune_model_id, 0) = ifnull(?5, 0)",
        params![v.id, tenant.org_id(), v.kind, v.bot_id, v.fine_tune_model_id],
    )?;
    Ok(())
}

/// The version that was active before the current one: the most recently
/// activated of the others.
pub fn previous_active(
    conn: &Connection,
    tenant: &Tenant,
    current: &TrainedVersion,
) -> rusqlite::Result<Option<TrainedVersion>> {
    query_opt(
        conn,
        &format!(
            "SELECT {VERSION_COLUMNS} FROM model_versions
             WHERE organization_id = ?1 AND kind = ?2 AND ifnull(bot_id, 0) = ifnull(?3, 0)
               AND ifnull(fine_tune_model_id, 0) = ifnull(?4, 0) AND id <> ?5 AND activated_at IS NOT NULL
             ORDER BY activated_at DESC, id DESC LIMIT 1"
        ),
        params![tenant.org_id(), current.kind, current.bot_id, current.fine_tune_model_id, current.id],
    )
}

/// The active version among a version's siblings.
pub fn active_sibling(
    conn: &Connection,
    tenant: &Tenant,
    v: &TrainedVersion,
) -> rusqlite::Result<Option<TrainedVersion>> {
    query_opt(
        conn,
        &format!(
            "SELECT {VERSION_COLUMNS} FROM model_versions
             WHERE organization_id = ?1 AND kind = ?2 AND ifnull(bot_id, 0) = ifnull(?3, 0)
               AND ifnull(fine_tune_model_id, 0) = ifnull(?4, 0) AND is_active = 1"
        ),
        params![tenant.org_id(), v.kind, v.bot_id, v.fine_tune_model_id],
    )
}

/// Remote models of the provider that succeeded (agents may call them).
pub fn tuned_models_of_provider(
    conn: &Connection,
    tenant: &Tenant,
    provider: LlmProviderId,
) -> rusqlite::Result<Vec<(FineTuneModelId, String, String, bool)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT m.id, m.name, v.remote_model_id, v.is_active FROM model_versions v
         JOIN fine_tune_models m ON m.id = v.fine_tune_model_id
         WHERE v.organization_id = ?1 AND m.provider_id = ?2 AND v.kind = 'llm_finetune' AND v.remote_model_id IS NOT NULL
         ORDER BY v.id DESC",
    )?;
    stmt.query_map(params![tenant.org_id(), provider], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect()
}

//! Fine-tune models and their datasets: creation, upload with validation,
//! preview, conversion, split, datasets made from a bot's NLU data, and
//! soft deletion.

use serde_json::json;

use super::dataset::{self, Parsed, RowData};
use super::model::{
    CreateFineTuneModelRequest, Dataset, DatasetFormat, DatasetId, DatasetKind, DatasetPreview, FineTuneModel,
    FineTuneModelId, FromBotRequest, ModelKind, SplitResponse,
};
use super::store::{self, NewDataset, NewModel};
use super::tokens::TokenCounter;
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::{Page, PageParams, Tenant};
use crate::ids::BotId;
use crate::orgs::audit::{self, AuditEntry};

pub(crate) fn model_not_found() -> AppError {
    AppError::new(ErrorCode::FineTuneModelNotFound, "no such fine-tune model")
}

pub(crate) fn dataset_not_found() -> AppError {
    AppError::new(ErrorCode::DatasetNotFound, "no such dataset")
}

/// The shipped encoder's name, the base model of NLU fine-tune models.
const NLU_BASE_MODEL: &str = "minilm";

fn check_name(name: &str, field: &str) -> AppResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::validation(field, "between 1 and 200 characters"));
    }
    Ok(name.to_owned())
}

/// Creates a fine-tune model: a remote one needs an OpenAI-compatible
/// provider of the organization and a base model; an NLU one a bot.
pub async fn create_model(
    state: &AppState,
    tenant: Tenant,
    req: CreateFineTuneModelRequest,
) -> AppResult<FineTuneModel> {
    let name = check_name(&req.name, "name")?;
    let kind = req.kind.unwrap_or(ModelKind::LlmFinetune);
    let base_model = match (kind, req.base_model.as_deref().map(str::trim)) {
        (ModelKind::LlmFinetune, Some(m)) if !m.is_empty() && m.len() <= 200 => m.to_owned(),
        (ModelKind::LlmFinetune, _) => {
            return Err(AppError::validation("base_model", "name the model to tune, e.g. gpt-4o-mini-2024-07-18"));
        }
        (ModelKind::NluIntent, _) => NLU_BASE_MODEL.to_owned(),
    };
    if kind == ModelKind::LlmFinetune && req.provider_id.is_none() {
        return Err(AppError::validation("provider_id", "a remote fine-tune needs the LLM provider that runs it"));
    }
    if kind == ModelKind::NluIntent && req.bot_id.is_none() {
        return Err(AppError::validation("bot_id", "an NLU fine-tune model belongs to a bot"));
    }
    let description = req.description.map(|d| d.trim().chars().take(2000).collect::<String>());
    let t = tenant.clone();
    let id = state
        .db
        .write(move |tx| {
            if let Some(p) = req.provider_id {
                let provider = crate::llm::store::find(tx, &t, p)?.ok_or_else(|| {
                    AppError::new(ErrorCode::InvalidReference, "no such LLM provider in this organization")
                        .with_details(json!({ "field": "provider_id" }))
                })?;
                if provider.kind != "openai_compatible" {
                    return Err(AppError::validation(
                        "provider_id",
                        "fine-tuning needs an OpenAI-compatible provider (its fine-tuning API)",
                    ));
                }
            }
            if let Some(bot) = req.bot_id
                && !bot_in_org(tx, &t, bot)?
            {
                return Err(AppError::new(ErrorCode::InvalidReference, "no such bot in this organization")
                    .with_details(json!({ "field": "bot_id" })));
            }
            let id = store::insert_model(
                tx,
                &t,
                &NewModel {
                    name: &name,
                    description: description.as_deref(),
                    kind: kind.as_str(),
                    base_model: &base_model,
                    provider_id: req.provider_id,
                    bot_id: req.bot_id,
                },
            )?;
            audit::record(
                tx,
                &AuditEntry::by(&t, "fine_tuning.model.created", "fine_tune_model", id.0)
                    .with_new(json!({ "name": name, "kind": kind.as_str(), "base_model": base_model })),
            )?;
            Ok(id)
        })
        .await?;
    get_model(state, tenant, id).await
}

fn bot_in_org(conn: &rusqlite::Connection, tenant: &Tenant, bot: BotId) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM bots WHERE id = ?1 AND organization_id = ?2)",
        rusqlite::params![bot, tenant.org_id()],
        |r| r.get(0),
    )
}

pub async fn get_model(state: &AppState, tenant: Tenant, id: FineTuneModelId) -> AppResult<FineTuneModel> {
    state.db.read(move |c| store::find_model(c, &tenant, id)?.ok_or_else(model_not_found)).await
}

pub async fn list_models(state: &AppState, tenant: Tenant, page: PageParams) -> AppResult<Page<FineTuneModel>> {
    let after = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state.db.read(move |c| Ok(store::list_models(c, &tenant, after, limit)?)).await?;
    Page::from_rows(rows, &page, |m| m.id.0)
}

/// Deletes a fine-tune model with its datasets, jobs and versions (remote
/// models at the provider are left alone).
pub async fn delete_model(state: &AppState, tenant: Tenant, id: FineTuneModelId) -> AppResult<()> {
    state
        .db
        .write(move |tx| {
            if !store::delete_model(tx, &tenant, id)? {
                return Err(model_not_found());
            }
            audit::record(tx, &AuditEntry::by(&tenant, "fine_tuning.model.deleted", "fine_tune_model", id.0))?;
            Ok(())
        })
        .await
}

/// What a stored dataset is made of.
struct NewSet {
    name: String,
    file_name: String,
    format: DatasetFormat,
    source: &'static str,
    bytes: Vec<u8>,
    parsed: Parsed,
}

/// Validates parsed rows against the model's tokenizer and stores the file
/// and the dataset row.
async fn store_set(state: &AppState, tenant: Tenant, model: &FineTuneModel, set: NewSet) -> AppResult<Dataset> {
    if set.parsed.kind != model.model_kind().dataset_kind() {
        return Err(AppError::validation(
            "kind",
            format!(
                "a {} model trains on {} datasets, this file is a {} dataset",
                model.kind,
                model.model_kind().dataset_kind().as_str(),
                set.parsed.kind.as_str()
            ),
        ));
    }
    let counter = TokenCounter::for_model(set.parsed.kind, &model.base_model).map_err(AppError::internal)?;
    let max_row_tokens = state.config.fine_tuning.max_row_tokens;
    let report = tokio::task::spawn_blocking({
        let parsed = set.parsed.clone();
        move || dataset::validate(&parsed, &counter, max_row_tokens)
    })
    .await
    .map_err(AppError::internal)?;
    let issues = json!([report.schema_errors, report.empty_rows, report.over_long_rows, report.duplicates]);
    let report_json = serde_json::to_string(&report).map_err(AppError::internal)?;
    let status = if report.ok { "ready" } else { "error" };
    let model_id = model.id;
    let t = tenant.clone();
    let id = state
        .db
        .write(move |tx| {
            let content_type = set.format.content_type();
            let file = crate::files::store::insert(
                tx,
                t.org_id(),
                &set.bytes,
                content_type,
                Some(&set.file_name),
                t.user_id(),
            )?;
            let id = store::insert_dataset(
                tx,
                &t,
                &NewDataset {
                    model: model_id,
                    name: &set.name,
                    file_name: &set.file_name,
                    file_id: file,
                    file_size: i64::try_from(set.bytes.len()).unwrap_or(i64::MAX),
                    row_count: i64::try_from(report.rows).unwrap_or(i64::MAX),
                    format: set.format.as_str(),
                    kind: set.parsed.kind.as_str(),
                    source: set.source,
                    status,
                    token_count: i64::try_from(report.total_tokens).unwrap_or(i64::MAX),
                    report: &report_json,
                    validation_errors: &issues.to_string(),
                },
            )?;
            audit::record(
                tx,
                &AuditEntry::by(&t, "fine_tuning.dataset.created", "fine_tune_dataset", id.0)
                    .with_new(json!({ "name": set.name, "rows": report.rows, "source": set.source })),
            )?;
            Ok(id)
        })
        .await?;
    get_dataset(state, tenant, id).await
}

/// Uploads a dataset file: a malformed line is 422 `dataset_invalid` with
/// its number and nothing is stored; problems of well-formed rows go into
/// the validation report (status `error`).
pub async fn upload(
    state: &AppState,
    tenant: Tenant,
    model: FineTuneModelId,
    format: Option<&str>,
    name: Option<String>,
    file_name: Option<String>,
    bytes: Vec<u8>,
) -> AppResult<Dataset> {
    let format = match format {
        None => DatasetFormat::Jsonl,
        Some(f) => DatasetFormat::parse(f).ok_or_else(|| AppError::validation("format", "jsonl, json or csv"))?,
    };
    if bytes.is_empty() {
        return Err(AppError::validation("file", "the file is empty"));
    }
    let model = get_model(state, tenant.clone(), model).await?;
    let parsed = dataset::parse(&bytes, format, Some(model.model_kind().dataset_kind()))?;
    let file_name = crate::files::service::clean_name(file_name.as_deref(), "text/plain");
    let file_name = if file_name.starts_with("file.") { format!("dataset.{}", format.as_str()) } else { file_name };
    let name = match name {
        Some(n) => check_name(&n, "name")?,
        None => file_name.clone(),
    };
    store_set(state, tenant, &model, NewSet { name, file_name, format, source: "upload", bytes, parsed }).await
}

pub async fn get_dataset(state: &AppState, tenant: Tenant, id: DatasetId) -> AppResult<Dataset> {
    state.db.read(move |c| store::find_dataset(c, &tenant, id)?.ok_or_else(dataset_not_found)).await
}

pub async fn list_datasets(
    state: &AppState,
    tenant: Tenant,
    model: FineTuneModelId,
    page: PageParams,
) -> AppResult<Page<Dataset>> {
    let after = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state
        .db
        .read(move |c| {
            store::find_model(c, &tenant, model)?.ok_or_else(model_not_found)?;
            Ok(store::list_datasets(c, &tenant, model, after, limit)?)
        })
        .await?;
    Page::from_rows(rows, &page, |d| d.id.0)
}

/// A dataset with its rows parsed again from the stored file.
pub async fn load(state: &AppState, tenant: Tenant, id: DatasetId) -> AppResult<(Dataset, Vec<u8>, Parsed)> {
    let (dataset, bytes) = state
        .db
        .read(move |c| {
            let d = store::find_dataset(c, &tenant, id)?.ok_or_else(dataset_not_found)?;
            let bytes = store::dataset_bytes(c, &tenant, id)?
                .ok_or_else(|| AppError::new(ErrorCode::Conflict, "the dataset's file was deleted"))?;
            Ok((d, bytes))
        })
        .await?;
    let parsed = dataset::parse(&bytes, dataset.format, Some(dataset.kind))?;
    Ok((dataset, bytes, parsed))
}

/// The first rows of a dataset.
pub async fn preview(state: &AppState, tenant: Tenant, id: DatasetId, limit: Option<u32>) -> AppResult<DatasetPreview> {
    let limit = usize::try_from(limit.unwrap_or(20)).unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(AppError::validation("limit", "between 1 and 100"));
    }
    let (dataset, _, parsed) = load(state, tenant, id).await?;
    let rows = parsed
        .rows
        .iter()
        .take(limit)
        .map(|r| {
            let mut v = r.data.to_json();
            v["line"] = json!(r.line);
            v
        })
        .collect();
    Ok(DatasetPreview { dataset_id: dataset.id, kind: dataset.kind, total_rows: parsed.rows.len(), rows })
}

fn parse_format(format: &str) -> AppResult<DatasetFormat> {
    DatasetFormat::parse(format).ok_or_else(|| AppError::validation("format", "jsonl, json or csv"))
}

/// The dataset written in `format` (its own by default): the bytes, the
/// format and a file name.
pub async fn download(
    state: &AppState,
    tenant: Tenant,
    id: DatasetId,
    format: Option<&str>,
) -> AppResult<(Vec<u8>, DatasetFormat, String)> {
    let (dataset, bytes, parsed) = load(state, tenant, id).await?;
    let format = format.map(parse_format).transpose()?.unwrap_or(dataset.format);
    let stem = dataset.file_name.rsplit_once('.').map_or(dataset.file_name.as_str(), |(s, _)| s).to_owned();
    let bytes = if format == dataset.format { bytes } else { dataset::render(&parsed, format)? };
    Ok((bytes, format, format!("{stem}.{}", format.as_str())))
}

/// Stores the dataset again in another format, as a new dataset.
pub async fn convert(state: &AppState, tenant: Tenant, id: DatasetId, format: &str) -> AppResult<Dataset> {
    let format = parse_format(format)?;
    let (dataset, _, parsed) = load(state, tenant.clone(), id).await?;
    if format == dataset.format {
        return Err(AppError::validation("format", "the dataset is already in this format"));
    }
    let bytes = dataset::render(&parsed, format)?;
    // Rows keep the lines of the converted file.
    let parsed = dataset::parse(&bytes, format, Some(dataset.kind))?;
    let model = get_model(state, tenant.clone(), dataset.fine_tune_model_id).await?;
    let stem = dataset.file_name.rsplit_once('.').map_or(dataset.file_name.as_str(), |(s, _)| s).to_owned();
    let set = NewSet {
        name: format!("{} ({})", dataset.name, format.as_str()).chars().take(200).collect(),
        file_name: format!("{stem}.{}", format.as_str()),
        format,
        source: "conversion",
        bytes,
        parsed,
    };
    store_set(state, tenant, &model, set).await
}

/// Splits a dataset into training and validation datasets (seeded,
/// stratified by label).
pub async fn split(
    state: &AppState,
    tenant: Tenant,
    id: DatasetId,
    validation_share: Option<f64>,
    seed: Option<u64>,
) -> AppResult<SplitResponse> {
    let share = validation_share.unwrap_or(0.2);
    if !(0.05..=0.5).contains(&share) {
        return Err(AppError::validation("validation_share", "between 0.05 and 0.5"));
    }
    let (dataset, _, parsed) = load(state, tenant.clone(), id).await?;
    if parsed.rows.len() < 2 {
        return Err(AppError::validation("dataset_id", "a split needs at least 2 rows"));
    }
    let (train, valid) = dataset::split(&parsed, share, seed.unwrap_or(42));
    let model = get_model(state, tenant.clone(), dataset.fine_tune_model_id).await?;
    let mut made = Vec::new();
    for (part, rows) in [("train", train), ("validation", valid)] {
        let bytes = dataset::render(&rows, dataset.format)?;
        let parsed = dataset::parse(&bytes, dataset.format, Some(dataset.kind))?;
        let stem = dataset.file_name.rsplit_once('.').map_or(dataset.file_name.as_str(), |(s, _)| s).to_owned();
        let set = NewSet {
            name: format!("{} ({part})", dataset.name).chars().take(200).collect(),
            file_name: format!("{stem}-{part}.{}", dataset.format.as_str()),
            format: dataset.format,
            source: "split",
            bytes,
            parsed,
        };
        made.push(store_set(state, tenant.clone(), &model, set).await?);
    }
    let validation = made.pop().ok_or_else(|| AppError::internal(anyhow::anyhow!("split made no datasets")))?;
    let train = made.pop().ok_or_else(|| AppError::internal(anyhow::anyhow!("split made no datasets")))?;
    Ok(SplitResponse { train, validation })
}

/// Marks a dataset deleted: it disappears from lists, and jobs naming it
/// are refused with `dataset_deleted`.
pub async fn delete_dataset(state: &AppState, tenant: Tenant, id: DatasetId) -> AppResult<()> {
    state
        .db
        .write(move |tx| {
            if !store::soft_delete_dataset(tx, &tenant, id)? {
                return Err(dataset_not_found());
            }
            audit::record(tx, &AuditEntry::by(&tenant, "fine_tuning.dataset.deleted", "fine_tune_dataset", id.0))?;
            Ok(())
        })
        .await
}

/// Most transcript lines read into one dataset.
const MAX_TRANSCRIPT_LINES: i64 = 200_000;

/// Makes a dataset of a bot (the model's, else `bot_id`): `nlu` takes its
/// active intents' examples as labelled rows (`nlu_intent` models);
/// `transcripts` its resolved conversations as chat rows, the bot's and
/// human agents' messages as the assistant's (`llm_finetune` models).
pub async fn from_bot(
    state: &AppState,
    tenant: Tenant,
    model: FineTuneModelId,
    req: FromBotRequest,
) -> AppResult<Dataset> {
    let model = get_model(state, tenant.clone(), model).await?;
    let bot = model.bot_id.or(req.bot_id).ok_or_else(|| AppError::validation("bot_id", "name the bot"))?;
    let t = tenant.clone();
    if !state.db.read(move |c| Ok(bot_in_org(c, &t, bot)?)).await? {
        return Err(AppError::new(ErrorCode::InvalidReference, "no such bot in this organization")
            .with_details(json!({ "field": "bot_id" })));
    }
    let (rows, kind, source) = match (req.source.as_str(), model.model_kind()) {
        ("nlu", ModelKind::NluIntent) => (nlu_rows(state, &tenant, bot).await?, DatasetKind::Classification, "nlu"),
        ("transcripts", ModelKind::LlmFinetune) => {
            (transcript_rows(state, &tenant, bot).await?, DatasetKind::Chat, "transcripts")
        }
        ("nlu" | "transcripts", _) => {
            return Err(AppError::validation(
                "source",
                "`nlu` makes classification sets (nlu_intent models), `transcripts` chat sets (llm_finetune models)",
            ));
        }
        _ => return Err(AppError::validation("source", "`nlu` or `transcripts`")),
    };
    if rows.is_empty() {
        return Err(AppError::validation(
            "source",
            if source == "nlu" { "the bot has no intent examples" } else { "the bot has no resolved conversations" },
        ));
    }
    let parsed = Parsed { kind, rows };
    let bytes = dataset::render(&parsed, DatasetFormat::Jsonl)?;
    let name = match req.name {
        Some(n) => check_name(&n, "name")?,
        None if source == "nlu" => format!("NLU examples of bot {bot}"),
        None => format!("Resolved conversations of bot {bot}"),
    };
    let set = NewSet {
        name,
        file_name: format!("bot-{bot}-{source}.jsonl"),
        format: DatasetFormat::Jsonl,
        source,
        bytes,
        parsed,
    };
    store_set(state, tenant, &model, set).await
}

async fn nlu_rows(state: &AppState, tenant: &Tenant, bot: BotId) -> AppResult<Vec<dataset::Row>> {
    let doc = crate::nlu::io::document(state, tenant.clone(), bot).await?;
    Ok(doc
        .intents
        .iter()
        .filter(|i| i.is_active)
        .flat_map(|i| i.examples.iter().map(move |e| (i.name.clone(), e.text.clone())))
        .enumerate()
        .map(|(n, (label, text))| dataset::Row { line: n + 1, data: RowData::Labelled { text, label } })
        .collect())
}

/// One chat row per resolved conversation; consecutive messages of the
/// same side are joined; conversations without both sides are left out.
async fn transcript_rows(state: &AppState, tenant: &Tenant, bot: BotId) -> AppResult<Vec<dataset::Row>> {
    let t = tenant.clone();
    let lines = state.db.read(move |c| Ok(store::resolved_transcripts(c, &t, bot, MAX_TRANSCRIPT_LINES)?)).await?;
    let mut rows = Vec::new();
    let mut current: Option<(i64, Vec<dataset::ChatMessage>)> = None;
    for (conversation, role, content) in lines {
        let role = if role == "user" { "user" } else { "assistant" };
        if current.as_ref().is_none_or(|(id, _)| *id != conversation) {
            finish(current.take(), &mut rows);
            current = Some((conversation, Vec::new()));
        }
        if let Some((_, messages)) = current.as_mut() {
            match messages.last_mut() {
                Some(last) if last.role == role => {
                    last.content.push('\n');
                    last.content.push_str(content.trim());
                }
                _ => messages.push(dataset::ChatMessage { role: role.to_owned(), content: content.trim().to_owned() }),
            }
        }
    }
    finish(current.take(), &mut rows);
    Ok(rows)
}

/// Keeps a transcript as a row when it has both sides.
fn finish(conversation: Option<(i64, Vec<dataset::ChatMessage>)>, rows: &mut Vec<dataset::Row>) {
    if let Some((_, messages)) = conversation
        && messages.iter().any(|m| m.role == "user")
        && messages.iter().any(|m| m.role == "assistant")
    {
        let line = rows.len() + 1;
        rows.push(dataset::Row { line, data: RowData::Chat(messages) });
    }
}

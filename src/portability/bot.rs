//! A bot as one file: what goes in, and how it comes back with new ids.
//!
//! In: the bot row, canned messages, every flow version, orchestrations
//! with their transitions and variables, widget configuration, AI
//! configuration, intents with examples, entities with values, the active NLU
//! model version with its weights file, the knowledge bases the bot uses
//! (linked, chosen in its AI configuration, or named in a flow's knowledge
//! step) with their documents, original files and chunks (with embeddings),
//! and the bot's conversation tests. Not in: conversations, transcripts,
//! logs, channels and secrets (encrypted with the source server's key).

use std::collections::BTreeSet;

use rusqlite::Connection;
use serde::Serialize;
use serde_json::{Value, json};

use super::bundle::{Bundle, FORMAT, FORMAT_VERSION, Manifest, Row};
use super::engine::{IdMap, Prepared, Target, ids_of, insert_rows, select_rows};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::Tenant;
use crate::ids::{BotId, OrgId};

/// The report of an import, or of its dry run.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PortabilityImportReport {
    /// True when nothing was written.
    pub dry_run: bool,
    /// `bot`.
    pub kind: String,
    pub format_version: u32,
    /// The botbuilder version that wrote the file.
    pub botbuilder_version: String,
    /// The new bot (on a dry run: the id it would have had, now free again).
    pub bot_id: Option<i64>,
    pub bot_name: Option<String>,
    /// Rows created (or that would be), per table.
    #[schema(value_type = Object)]
    pub created: std::collections::BTreeMap<String, usize>,
    /// Names that were taken in this organization and what they became.
    pub renamed: Vec<PortabilityRename>,
    /// Things that did not travel (secrets, links to resources of the source).
    pub warnings: Vec<String>,
}

/// A name that clashed in the target organization.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PortabilityRename {
    pub table: String,
    pub from: String,
    pub to: String,
}

/// Tables of a bot export, in insertion order (parents first).
const BOT_TABLES: &[&str] = &[
    "files",
    "bots",
    "knowledge_bases",
    "documents",
    "chunks",
    "agent_knowledge_bases",
    "bot_messages",
    "bot_flows",
    "flow_orchestrations",
    "flow_transitions",
    "flow_variables",
    "widget_configs",
    "ai_configurations",
    "intents",
    "intent_examples",
    "entities",
    "entity_values",
    "model_versions",
    "bot_tests",
];

/// The width of `chunk_vectors.embedding` (V007).
const VECTOR_WIDTH: usize = 384;

/// Counters kept by triggers: inserted as 0, the triggers count the rows again.
const COUNTERS: &[(&str, &[&str])] = &[
    ("bots", &["total_messages_received", "total_messages_sent"]),
    (
        "knowledge_bases",
        &["document_count", "total_chunks", "total_tokens", "total_bytes", "index_version", "index_vectors"],
    ),
    ("documents", &["chunk_count", "token_count"]),
];

fn ints(conn: &Connection, sql: &str, org: i64, bot: i64) -> AppResult<BTreeSet<i64>> {
    let mut stmt = conn.prepare(sql)?;
    let ids = stmt.query_map(rusqlite::params![org, bot], |r| r.get::<_, Option<i64>>(0))?;
    Ok(ids.filter_map(Result::transpose).collect::<Result<_, _>>()?)
}

/// Every `knowledge_base_id` number inside a flow document.
fn flow_kb_ids(v: &Value, out: &mut BTreeSet<i64>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                if k == "knowledge_base_id"
                    && let Some(id) = x.as_i64()
                {
                    out.insert(id);
                }
                flow_kb_ids(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| flow_kb_ids(x, out)),
        _ => {}
    }
}

/// Rewrites `knowledge_base_id` numbers inside a flow document.
pub(super) fn remap_flow_kbs(v: &mut Value, map: &IdMap) {
    match v {
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                if k == "knowledge_base_id"
                    && let Some(id) = x.as_i64()
                {
                    *x = map.get("knowledge_bases", id).map_or(Value::Null, Value::from);
                } else {
                    remap_flow_kbs(x, map);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| remap_flow_kbs(x, map)),
        _ => {}
    }
}

/// Reads everything of one bot into a bundle (a read transaction: one snapshot).
pub fn export_bot(conn: &Connection, tenant: &Tenant, bot: BotId) -> AppResult<Bundle> {
    let org = tenant.org_id().0;
    let one: BTreeSet<i64> = [bot.0].into();
    let bots = select_rows(conn, org, "bots", "id", &one)?;
    let Some(bot_row) = bots.first() else {
        return Err(AppError::new(ErrorCode::BotNotFound, "no such bot in this organization"));
    };
    let bot_name = bot_row.get("name").cloned().unwrap_or(Value::Null);
    let flows = select_rows(conn, org, "bot_flows", "bot_id", &one)?;
    let mut kbs = ints(
        conn,
        "SELECT knowledge_base_id FROM agent_knowledge_bases WHERE organization_id = ?1 AND bot_id = ?2
         UNION SELECT knowledge_base_id FROM ai_configurations WHERE organization_id = ?1 AND bot_id = ?2",
        org,
        bot.0,
    )?;
    for f in &flows {
        if let Some(doc) = f.get("flow_data").and_then(Value::as_str).and_then(|s| serde_json::from_str(s).ok()) {
            flow_kb_ids(&doc, &mut kbs);
        }
    }
    let kb_rows = select_rows(conn, org, "knowledge_bases", "id", &kbs)?;
    let kbs = ids_of(&kb_rows);
    let documents = select_rows(conn, org, "documents", "knowledge_base_id", &kbs)?;
    let models = ints(
        conn,
        "SELECT id FROM model_versions WHERE organization_id = ?1 AND bot_id = ?2 AND kind = 'nlu_intent' AND is_active = 1",
        org,
        bot.0,
    )?;
    let model_rows = select_rows(conn, org, "model_versions", "id", &models)?;
    let mut files: BTreeSet<i64> = BTreeSet::new();
    for (rows, col) in [(&bots, "avatar_file_id"), (&documents, "file_id"), (&model_rows, "weights_file_id")] {
        files.extend(rows.iter().filter_map(|r| r.get(col).and_then(Value::as_i64)));
    }
    let orchestrations = select_rows(conn, org, "flow_orchestrations", "bot_id", &one)?;
    let orch_ids = ids_of(&orchestrations);
    let intents = select_rows(conn, org, "intents", "bot_id", &one)?;
    let entities = select_rows(conn, org, "entities", "bot_id", &one)?;
    let mut tables: Vec<(String, Vec<Row>)> = Vec::new();
    for table in BOT_TABLES {
        let rows = match *table {
            "files" => select_rows(conn, org, "files", "id", &files)?,
            "bots" => bots.clone(),
            "knowledge_bases" => kb_rows.clone(),
            "documents" => documents.clone(),
            "chunks" => with_vectors(conn, select_rows(conn, org, "chunks", "document_id", &ids_of(&documents))?)?,
            "bot_flows" => flows.clone(),
            "flow_orchestrations" => orchestrations.clone(),
            "flow_transitions" | "flow_variables" => select_rows(conn, org, table, "orchestration_id", &orch_ids)?,
            "intents" => intents.clone(),
            "intent_examples" => select_rows(conn, org, table, "intent_id", &ids_of(&intents))?,
            "entities" => entities.clone(),
            "entity_values" => select_rows(conn, org, table, "entity_id", &ids_of(&entities))?,
            "model_versions" => model_rows.clone(),
            other => select_rows(conn, org, other, "bot_id", &one)?,
        };
        tables.push(((*table).to_owned(), rows));
    }
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        format_version: FORMAT_VERSION,
        botbuilder_version: env!("CARGO_PKG_VERSION").to_owned(),
        schema_version: i64::from(crate::db::latest_version()),
        kind: "bot".to_owned(),
        created_at: crate::db::now(),
        source: json!({ "organization_id": org, "bot_id": bot.0, "bot_name": bot_name }),
        tables: Vec::new(),
    };
    Ok(Bundle { manifest, tables })
}

/// The live vectors are in `chunk_vectors` (vec0), not in `chunks.embedding`:
/// each chunk row carries its vector under `$vector` (as a BLOB value).
pub(super) fn with_vectors(conn: &Connection, mut rows: Vec<Row>) -> AppResult<Vec<Row>> {
    let mut stmt = conn.prepare_cached("SELECT embedding FROM chunk_vectors WHERE rowid = ?1")?;
    for row in &mut rows {
        let Some(id) = row.get("id").and_then(Value::as_i64) else { continue };
        let vector: Option<Vec<u8>> =
            rusqlite::OptionalExtension::optional(stmt.query_row([id], |r| r.get::<_, Vec<u8>>(0)))?;
        if let Some(v) = vector {
            row.insert(VECTOR_KEY.to_owned(), super::bundle::to_json(rusqlite::types::Value::Blob(v)));
        }
    }
    Ok(rows)
}

/// The key of a chunk's live vector in the archive (not a column).
pub(super) const VECTOR_KEY: &str = "$vector";

fn name_taken(conn: &Connection, table: &str, org: i64, name: &str) -> rusqlite::Result<bool> {
    let sql = match table {
        "knowledge_bases" => "SELECT EXISTS (SELECT 1 FROM knowledge_bases WHERE organization_id = ?1 AND name = ?2)",
        _ => "SELECT EXISTS (SELECT 1 FROM bots WHERE organization_id = ?1 AND name = ?2)",
    };
    conn.query_row(sql, rusqlite::params![org, name], |r| r.get(0))
}

/// A free name: `name`, else `name (imported)`, `name (imported 2)`, …
fn free_name(conn: &Connection, table: &str, org: i64, name: &str, max: usize) -> AppResult<String> {
    if !name_taken(conn, table, org, name)? {
        return Ok(name.to_owned());
    }
    for n in 1..1000 {
        let suffix = if n == 1 { " (imported)".to_owned() } else { format!(" (imported {n})") };
        let keep = max.saturating_sub(suffix.chars().count());
        let candidate = format!("{}{suffix}", name.chars().take(keep).collect::<String>());
        if !name_taken(conn, table, org, &candidate)? {
            return Ok(candidate);
        }
    }
    Err(AppError::new(ErrorCode::Conflict, format!("no free name for {name}")))
}

/// Imports a bot bundle into the target organization inside the caller's
/// write transaction. On a dry run everything is written inside a savepoint
/// that is then rolled back, so the report and the errors are those of a
/// real import (plan limits, constraints) and nothing remains.
pub fn import_bot(
    conn: &Connection,
    target: &Target,
    bundle: &Bundle,
    dry_run: bool,
) -> AppResult<PortabilityImportReport> {
    if bundle.manifest.kind != "bot" {
        return Err(AppError::new(
            ErrorCode::ExportKindMismatch,
            format!("the file is a `{}` export, not a bot export", bundle.manifest.kind),
        )
        .with_details(json!({ "field": "file", "kind": bundle.manifest.kind })));
    }
    conn.execute_batch("SAVEPOINT portability_import")?;
    let result = import_inner(conn, target, bundle, dry_run);
    if dry_run || result.is_err() {
        conn.execute_batch("ROLLBACK TO portability_import; RELEASE portability_import")?;
    } else {
        conn.execute_batch("RELEASE portability_import")?;
    }
    result
}

#[allow(clippy::too_many_lines, reason = "one pass over the file's tables, then the vectors and the report, in order")]
fn import_inner(
    conn: &Connection,
    target: &Target,
    bundle: &Bundle,
    dry_run: bool,
) -> AppResult<PortabilityImportReport> {
    let org = target.org_id;
    let tenant = Tenant::system(OrgId(org), "bot import writes the imported chunks' vectors");
    let mut map = IdMap::default();
    let mut warnings = BTreeSet::new();
    let mut renamed = Vec::new();
    let mut bot_id = None;
    let mut bot_name = None;
    for (table, rows) in &bundle.tables {
        if !BOT_TABLES.contains(&table.as_str()) {
            return Err(AppError::new(
                ErrorCode::ExportArchiveInvalid,
                format!("a bot export cannot hold rows of `{table}`"),
            )
            .with_details(json!({ "field": "file", "table": table })));
        }
        let done = insert_rows(conn, target, table, rows, &mut map, &mut warnings, |conn, mut row, map| {
            if let Some(cols) = COUNTERS.iter().find(|(t, _)| t == table).map(|(_, c)| *c) {
                for c in cols {
                    if row.contains_key(*c) {
                        row.insert((*c).to_owned(), Value::from(0));
                    }
                }
            }
            match table.as_str() {
                "files" => {
                    // Files are content-addressed per organization: reuse an identical one.
                    let sha = row.get("sha256").and_then(Value::as_str).unwrap_or_default().to_owned();
                    let existing: Option<i64> = conn
                        .query_row(
                            "SELECT id FROM files WHERE organization_id = ?1 AND sha256 = ?2",
                            rusqlite::params![org, sha],
                            |r| r.get(0),
                        )
                        .map(Some)
                        .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(e) })?;
                    if let Some(id) = existing {
                        return Ok(Prepared::Existing(id));
                    }
                }
                "bots" => {
                    row.insert("widget_key".into(), Value::from(format!("wk_{}", crate::crypto::random_token(18))));
                    for secret in ["webhook_secret_encrypted", "last_webhook_call"] {
                        row.insert(secret.into(), Value::Null);
                    }
                    rename(conn, "bots", org, &mut row, 100, &mut renamed)?;
                }
                "knowledge_bases" => {
                    row.insert("pending_embedding_model".into(), Value::Null);
                    row.insert("status".into(), Value::from("active"));
                    rename(conn, "knowledge_bases", org, &mut row, 200, &mut renamed)?;
                }
                "chunks" => {
                    row.remove(VECTOR_KEY);
                }
                "bot_flows" => {
                    if let Some(mut doc) =
                        row.get("flow_data").and_then(Value::as_str).and_then(|s| serde_json::from_str::<Value>(s).ok())
                    {
                        remap_flow_kbs(&mut doc, map);
                        row.insert("flow_data".into(), Value::from(doc.to_string()));
                    }
                }
                _ => {}
            }
            Ok(Prepared::Insert(row))
        })?;
        if table == "bots" {
            bot_id = done.first().map(|(_, new)| *new);
            bot_name =
                conn.query_row("SELECT name FROM bots WHERE id = ?1", [bot_id.unwrap_or_default()], |r| r.get(0)).ok();
        }
        if table == "chunks" {
            write_vectors(conn, &tenant, rows, &done, &mut warnings)?;
        }
    }
    if bundle.tables.iter().any(|(t, r)| t == "bots" && r.len() != 1) {
        return Err(AppError::new(ErrorCode::ExportArchiveInvalid, "a bot export holds exactly one bot")
            .with_details(json!({ "field": "file" })));
    }
    if bundle
        .tables
        .iter()
        .any(|(t, r)| t == "bots" && r.iter().any(|x| x.get("webhook_secret_encrypted").is_some_and(|v| !v.is_null())))
    {
        warnings.insert("bots.webhook_secret_encrypted: the bot's webhook secret is sealed with the source server's key; set a new one".into());
    }
    if bundle.tables.iter().any(|(t, r)| t == "ai_configurations" && r.iter().any(|x| !x["provider_id"].is_null())) {
        warnings.insert(
            "ai_configurations.provider_id: LLM providers (and their keys) do not travel; choose one again".into(),
        );
    }
    Ok(PortabilityImportReport {
        dry_run,
        kind: bundle.manifest.kind.clone(),
        format_version: bundle.manifest.format_version,
        botbuilder_version: bundle.manifest.botbuilder_version.clone(),
        bot_id,
        bot_name,
        created: bundle.counts(),
        renamed,
        warnings: warnings.into_iter().collect(),
    })
}

fn rename(
    conn: &Connection,
    table: &str,
    org: i64,
    row: &mut Row,
    max: usize,
    renamed: &mut Vec<PortabilityRename>,
) -> AppResult<()> {
    let name = row.get("name").and_then(Value::as_str).unwrap_or("imported").to_owned();
    let free = free_name(conn, table, org, &name, max)?;
    if free != name {
        renamed.push(PortabilityRename { table: table.to_owned(), from: name, to: free.clone() });
        row.insert("name".into(), Value::from(free));
    }
    Ok(())
}

/// The vector index (vec0, binary codes) is not a table of the archive: it is
/// rebuilt from the chunks' stored embeddings. Chunks without one (or of
/// another width) stay searchable by full text; re-embedding the knowledge
/// base (`POST /knowledge-bases/{id}/reembed`) computes them.
pub(super) fn write_vectors(
    conn: &Connection,
    tenant: &Tenant,
    rows: &[Row],
    done: &[(i64, i64)],
    warnings: &mut BTreeSet<String>,
) -> AppResult<()> {
    let new_ids: std::collections::HashMap<i64, i64> = done.iter().copied().collect();
    for row in rows {
        let Some(old) = row.get("id").and_then(Value::as_i64) else { continue };
        let Some(&chunk) = new_ids.get(&old) else { continue };
        let new_kb: i64 =
            conn.query_row("SELECT knowledge_base_id FROM chunks WHERE id = ?1", [chunk], |r| r.get(0))?;
        let stored = row.get(VECTOR_KEY).or_else(|| row.get("embedding")).filter(|v| !v.is_null());
        let Some(rusqlite::types::Value::Blob(embedding)) = stored.map(super::bundle::from_json).transpose()? else {
            warnings.insert("chunks.embedding: some chunks had no embedding; re-embed their knowledge base".into());
            continue;
        };
        let vector = crate::ml::bytes_vector(&embedding);
        if vector.len() != VECTOR_WIDTH {
            warnings.insert(format!(
                "chunks.embedding: vectors of {} dimensions cannot be indexed here; re-embed their knowledge base",
                vector.len()
            ));
            continue;
        }
        crate::knowledge::store::insert_vector(
            conn,
            tenant,
            crate::knowledge::model::KnowledgeBaseId(new_kb),
            crate::knowledge::model::ChunkId(chunk),
            &vector,
        )?;
    }
    Ok(())
}

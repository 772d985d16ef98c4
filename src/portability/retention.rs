//! Retention and archival (docs/retention.md): per organization, rows older
//! than their retention are written to gzip-compressed JSON Lines files under
//! `<data dir>/archive/org-<id>/`, then deleted in small batches — each batch
//! is one short write transaction, so serving is never held up for long.
//! Archived files are listed, searched (text, dates) and re-imported.
//!
//! What expires (defaults from the origin's growth notes):
//! - `widget_messages` (every conversation transcript) after `messages_days` (365);
//! - `nlu_logs` and delivered `webhook_logs` after `logs_days` (365);
//! - failed and dead `webhook_logs` after `failed_events_days` (90).
//!
//! Counters and rollups stay right: analytics rollups are brought up to date
//! before anything is archived and are only recomputed for hours that get new
//! rows (deletes do not dirty an hour); usage counters (`usage_tracking`) and
//! the bots' and conversations' message totals are kept by insert triggers and
//! are not decremented by deletes. A re-import puts the rows back with their
//! ids and restores those totals to their values before it.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use futures_util::future::BoxFuture;
use rusqlite::Connection;
use rusqlite::types::Value as SqlValue;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::bundle::{Row, from_json, to_json};
use super::engine::columns;
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::Tenant;
use crate::ids::OrgId;
use crate::jobs::{JobContext, JobError, JobHandler};

/// The job kind (scheduled daily).
pub const KIND: &str = "portability.retention";
/// Rows archived and deleted per batch (one file, one short write transaction).
pub const BATCH: usize = 500;

/// An organization's retention, in days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    /// Conversation transcripts (30–3650, default 365).
    pub messages_days: i64,
    /// NLU parse logs and delivered webhook logs (30–3650, default 365).
    pub logs_days: i64,
    /// Failed and dead webhook deliveries (7–3650, default 90).
    pub failed_events_days: i64,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        RetentionSettings { messages_days: 365, logs_days: 365, failed_events_days: 90 }
    }
}

impl RetentionSettings {
    /// Checks the ranges; the field at fault is named.
    pub fn validate(&self) -> AppResult<()> {
        for (field, value, min) in [
            ("messages_days", self.messages_days, 30),
            ("logs_days", self.logs_days, 30),
            ("failed_events_days", self.failed_events_days, 7),
        ] {
            if !(min..=3650).contains(&value) {
                return Err(AppError::validation(field, format!("must be between {min} and 3650 days")));
            }
        }
        Ok(())
    }
}

/// One kind of expiring row.
struct Rule {
    table: &'static str,
    /// Extra condition (constant SQL).
    filter: &'static str,
    days: fn(&RetentionSettings) -> i64,
}

fn messages_days(s: &RetentionSettings) -> i64 {
    s.messages_days
}

fn logs_days(s: &RetentionSettings) -> i64 {
    s.logs_days
}

fn failed_events_days(s: &RetentionSettings) -> i64 {
    s.failed_events_days
}

const RULES: &[Rule] = &[
    Rule { table: "widget_messages", filter: "1", days: messages_days },
    Rule { table: "nlu_logs", filter: "1", days: logs_days },
    Rule {
        table: "webhook_logs",
        filter: "status = 'delivered' AND NOT EXISTS (SELECT 1 FROM webhook_logs r WHERE r.redelivery_of = webhook_logs.id)",
        days: logs_days,
    },
    Rule {
        table: "webhook_logs",
        filter: "status IN ('failed','dead') AND NOT EXISTS (SELECT 1 FROM webhook_logs r WHERE r.redelivery_of = webhook_logs.id)",
        days: failed_events_days,
    },
];

fn settings_key(org: OrgId) -> String {
    format!("retention.org.{}", org.0)
}

/// The organization's settings (defaults when never set).
pub fn load_settings(conn: &Connection, org: OrgId) -> AppResult<RetentionSettings> {
    let raw: Option<String> = rusqlite::OptionalExtension::optional(conn.query_row(
        "SELECT value FROM settings WHERE key = ?1",
        [settings_key(org)],
        |r| r.get(0),
    ))?;
    Ok(raw.and_then(|r| serde_json::from_str(&r).ok()).unwrap_or_default())
}

/// Stores the organization's settings.
pub fn store_settings(conn: &Connection, org: OrgId, s: &RetentionSettings) -> AppResult<()> {
    let value = serde_json::to_string(s).map_err(AppError::internal)?;
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        rusqlite::params![settings_key(org), value],
    )?;
    Ok(())
}

/// Removes the organization's settings (erase).
pub fn delete_settings(conn: &Connection, org: OrgId) -> AppResult<()> {
    conn.execute("DELETE FROM settings WHERE key = ?1", [settings_key(org)])?;
    Ok(())
}

/// The archive directory of an organization.
#[must_use]
pub fn org_dir(state: &AppState, org: OrgId) -> PathBuf {
    state.config.data_dir().join("archive").join(format!("org-{}", org.0))
}

/// What one run archived.
#[derive(Debug, Default, Clone, Serialize, utoipa::ToSchema)]
pub struct RetentionRunReport {
    pub rows_archived: usize,
    pub files_written: usize,
    /// Rows archived per table.
    #[schema(value_type = Object)]
    pub tables: std::collections::BTreeMap<String, usize>,
}

fn cutoff(days: i64) -> String {
    crate::db::format_timestamp(chrono::Utc::now() - chrono::Duration::days(days))
}

/// Reads one batch of expired rows (all columns, by id).
fn expired_batch(conn: &Connection, org: OrgId, rule: &Rule, cut: &str) -> AppResult<Vec<Row>> {
    let cols: Vec<String> = columns(conn, rule.table)?.into_iter().filter(|c| !c.generated).map(|c| c.name).collect();
    let list = cols.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT {list} FROM {t} WHERE organization_id = ?1 AND created_at < ?2 AND ({f}) ORDER BY id LIMIT ?3",
        t = rule.table,
        f = rule.filter
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params![org, cut, i64::try_from(BATCH).unwrap_or(500)], |r| {
        let mut row = Row::new();
        for (i, c) in cols.iter().enumerate() {
            row.insert(c.clone(), to_json(r.get::<_, SqlValue>(i)?));
        }
        Ok(row)
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Writes rows to a new gzip JSON Lines file (synced before anything is deleted).
fn write_archive(dir: &Path, table: &str, rows: &[Row]) -> AppResult<(String, u64)> {
    std::fs::create_dir_all(dir).map_err(AppError::internal)?;
    let first = rows.first().and_then(|r| r["id"].as_i64()).unwrap_or_default();
    let last = rows.last().and_then(|r| r["id"].as_i64()).unwrap_or_default();
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%3f");
    let name = format!("{table}-{stamp}-{first}-{last}.jsonl.gz");
    let tmp = dir.join(format!("{name}.part"));
    let file = std::fs::File::create(&tmp).map_err(AppError::internal)?;
    let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    for row in rows {
        serde_json::to_writer(&mut gz, row).map_err(AppError::internal)?;
        gz.write_all(b"\n").map_err(AppError::internal)?;
    }
    let file = gz.finish().map_err(AppError::internal)?;
    file.sync_all().map_err(AppError::internal)?;
    let bytes = file.metadata().map_err(AppError::internal)?.len();
    std::fs::rename(&tmp, dir.join(&name)).map_err(AppError::internal)?;
    Ok((name, bytes))
}

/// Archives and deletes everything of the organization that has expired.
pub async fn run_for_org(state: &AppState, org: OrgId) -> AppResult<RetentionRunReport> {
    let settings = state.db.read(move |c| load_settings(c, org)).await?;
    // Rollups first: an hour not yet rolled up must be counted with its rows.
    let db = state.db.clone();
    crate::db::run_blocking(move || crate::analytics::rollup::roll_up_pending(&db)).await?;
    let dir = org_dir(state, org);
    let mut report = RetentionRunReport::default();
    for rule in RULES {
        let cut = cutoff((rule.days)(&settings));
        loop {
            let c2 = cut.clone();
            let rows = state.db.read(move |c| expired_batch(c, org, rule, &c2)).await?;
            if rows.is_empty() {
                break;
            }
            let (d, r2) = (dir.clone(), rows.clone());
            crate::db::run_blocking(move || write_archive(&d, rule.table, &r2)).await?;
            let ids: Vec<i64> = rows.iter().filter_map(|r| r["id"].as_i64()).collect();
            let ids_json = serde_json::to_string(&ids).map_err(AppError::internal)?;
            let deleted = state
                .db
                .write(move |tx| {
                    Ok(tx.execute(
                        &format!(
                            "DELETE FROM {} WHERE organization_id = ?1 AND id IN (SELECT value FROM json_each(?2))",
                            rule.table
                        ),
                        rusqlite::params![org, ids_json],
                    )?)
                })
                .await?;
            report.rows_archived += deleted;
            report.files_written += 1;
            *report.tables.entry(rule.table.to_owned()).or_default() += deleted;
            if rows.len() < BATCH {
                break;
            }
        }
    }
    if report.rows_archived > 0 {
        // Returns freed pages to the file system when the file is in
        // incremental auto-vacuum mode; otherwise SQLite reuses them for new
        // rows, so the file stops growing either way (docs/retention.md).
        state
            .db
            .write(|tx| {
                let mode: i64 = tx.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
                if mode == 2 {
                    tx.execute_batch("PRAGMA incremental_vacuum(2000)")?;
                }
                Ok(())
            })
            .await?;
    }
    Ok(report)
}

/// One archive file.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RetentionArchiveFile {
    pub name: String,
    pub table: String,
    pub bytes: u64,
    /// Id range of the rows.
    pub first_id: i64,
    pub last_id: i64,
}

/// Parses `table-stamp-first-last.jsonl.gz`.
fn parse_name(name: &str) -> Option<(String, i64, i64)> {
    let stem = name.strip_suffix(".jsonl.gz")?;
    let mut parts = stem.rsplitn(4, '-');
    let last = parts.next()?.parse().ok()?;
    let first = parts.next()?.parse().ok()?;
    let _stamp = parts.next()?;
    let table = parts.next()?;
    if !RULES.iter().any(|r| r.table == table) {
        return None;
    }
    Some((table.to_owned(), first, last))
}

/// The organization's archive files, oldest first.
pub fn list_files(dir: &Path) -> AppResult<Vec<RetentionArchiveFile>> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(Vec::new()) };
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some((table, first_id, last_id)) = parse_name(&name) {
            let bytes = entry.metadata().map(|m| m.len()).unwrap_or_default();
            files.push(RetentionArchiveFile { name, table, bytes, first_id, last_id });
        }
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

fn read_rows(path: &Path) -> AppResult<Vec<Row>> {
    let file = std::fs::File::open(path).map_err(AppError::internal)?;
    let reader = BufReader::new(flate2::read::GzDecoder::new(file));
    let mut rows = Vec::new();
    for line in reader.lines() {
        let line = line.map_err(|e| {
            AppError::new(ErrorCode::ExportArchiveInvalid, format!("the archive file cannot be read: {e}"))
                .with_details(json!({ "field": "file" }))
        })?;
        if line.is_empty() {
            continue;
        }
        rows.push(serde_json::from_str(&line).map_err(|e| {
            AppError::new(ErrorCode::ExportArchiveInvalid, format!("the archive file has a malformed row: {e}"))
                .with_details(json!({ "field": "file" }))
        })?);
    }
    Ok(rows)
}

/// `GET /orgs/{org_id}/archives/search`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RetentionSearchQuery {
    /// Text to find (case-insensitive) in any text column of a row.
    #[serde(default)]
    pub q: Option<String>,
    /// Only rows created at or after this time (RFC 3339 or a date).
    #[serde(default)]
    pub from: Option<String>,
    /// Only rows created before this time.
    #[serde(default)]
    pub to: Option<String>,
    /// Only this table (`widget_messages`, `nlu_logs`, `webhook_logs`).
    #[serde(default)]
    pub table: Option<String>,
    /// At most this many rows (1–500, default 100).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// One archived row found.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RetentionSearchHit {
    pub file: String,
    pub table: String,
    #[schema(value_type = Object)]
    pub row: Value,
}

/// Searches the organization's archive files.
pub fn search(dir: &Path, q: &RetentionSearchQuery) -> AppResult<Vec<RetentionSearchHit>> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(AppError::validation("limit", "must be between 1 and 500"));
    }
    if let Some(t) = &q.table
        && !RULES.iter().any(|r| r.table == t)
    {
        return Err(AppError::validation("table", "must be widget_messages, nlu_logs or webhook_logs"));
    }
    let needle = q.q.as_deref().map(str::to_lowercase).filter(|s| !s.is_empty());
    let mut hits = Vec::new();
    for file in list_files(dir)? {
        if q.table.as_ref().is_some_and(|t| *t != file.table) {
            continue;
        }
        for row in read_rows(&dir.join(&file.name))? {
            let at = row.get("created_at").and_then(Value::as_str).unwrap_or_default();
            if q.from.as_deref().is_some_and(|f| at < f) || q.to.as_deref().is_some_and(|t| at >= t) {
                continue;
            }
            if let Some(n) = &needle
                && !row.values().any(|v| v.as_str().is_some_and(|s| s.to_lowercase().contains(n)))
            {
                continue;
            }
            hits.push(RetentionSearchHit {
                file: file.name.clone(),
                table: file.table.clone(),
                row: Value::Object(row),
            });
            if hits.len() >= limit {
                return Ok(hits);
            }
        }
    }
    Ok(hits)
}

/// What a re-import did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RetentionRestoreReport {
    pub file: String,
    pub table: String,
    /// Rows put back.
    pub restored: usize,
    /// Rows already present, or whose parent (conversation, bot) is gone.
    pub skipped: usize,
}

/// Puts an archive file's rows back with their ids (already present ones are
/// skipped); the transcript totals the insert triggers would bump are restored.
pub fn restore(conn: &Connection, org: OrgId, dir: &Path, name: &str) -> AppResult<RetentionRestoreReport> {
    let Some((table, _, _)) = parse_name(name).filter(|_| !name.contains('/') && !name.contains("..")) else {
        return Err(AppError::validation("file", "not an archive file name of this organization"));
    };
    let path = dir.join(name);
    if !path.is_file() {
        return Err(AppError::validation("file", "no such archive file in this organization"));
    }
    let rows = read_rows(&path)?;
    let cols: BTreeSet<String> = columns(conn, &table)?.into_iter().filter(|c| !c.generated).map(|c| c.name).collect();
    let fks = super::engine::foreign_keys(conn, &table)?;
    // Totals kept by the transcript insert trigger, to put back afterwards.
    conn.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS restore_bots (id INTEGER PRIMARY KEY, r INTEGER, s INTEGER);
         CREATE TEMP TABLE IF NOT EXISTS restore_convs (id INTEGER PRIMARY KEY, n INTEGER, last TEXT);
         CREATE TEMP TABLE IF NOT EXISTS restore_dirty (id INTEGER PRIMARY KEY);
         DELETE FROM restore_bots; DELETE FROM restore_convs; DELETE FROM restore_dirty;",
    )?;
    conn.execute("INSERT INTO restore_dirty SELECT id FROM analytics_dirty WHERE organization_id = ?1", [org])?;
    if table == "widget_messages" {
        conn.execute(
            "INSERT INTO restore_bots SELECT id, total_messages_received, total_messages_sent FROM bots WHERE organization_id = ?1",
            [org],
        )?;
        conn.execute(
            "INSERT INTO restore_convs SELECT id, message_count, last_message_at FROM conversations WHERE organization_id = ?1",
            [org],
        )?;
    }
    let (mut restored, mut skipped) = (0, 0);
    for row in &rows {
        if row.get("organization_id").and_then(Value::as_i64) != Some(org.0) {
            return Err(AppError::validation("file", "the archive file holds rows of another organization"));
        }
        // A parent deleted since (a conversation, a bot): the row cannot come back.
        let mut orphan = false;
        for (col, parent) in &fks {
            if let Some(id) = row.get(col).and_then(Value::as_i64) {
                let exists: bool =
                    conn.query_row(&format!("SELECT EXISTS (SELECT 1 FROM \"{parent}\" WHERE id = ?1)"), [id], |r| {
                        r.get(0)
                    })?;
                orphan |= !exists;
            }
        }
        if orphan {
            skipped += 1;
            continue;
        }
        let names: Vec<&String> = row.keys().filter(|k| cols.contains(*k)).collect();
        let values = names.iter().map(|k| from_json(&row[k.as_str()])).collect::<AppResult<Vec<_>>>()?;
        let sql = format!(
            "INSERT OR IGNORE INTO \"{table}\" ({}) VALUES ({})",
            names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", "),
            (1..=names.len()).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ")
        );
        let n = conn.execute(&sql, rusqlite::params_from_iter(values.iter()))?;
        if n == 1 { restored += 1 } else { skipped += 1 }
    }
    if table == "widget_messages" {
        conn.execute_batch(
            "UPDATE bots SET total_messages_received = (SELECT r FROM restore_bots WHERE id = bots.id),
                             total_messages_sent = (SELECT s FROM restore_bots WHERE id = bots.id)
             WHERE id IN (SELECT id FROM restore_bots);
             UPDATE conversations SET message_count = (SELECT n FROM restore_convs WHERE id = conversations.id),
                                      last_message_at = (SELECT last FROM restore_convs WHERE id = conversations.id)
             WHERE id IN (SELECT id FROM restore_convs);",
        )?;
    }
    // The rollups already count these rows (computed before they were
    // archived): the hours the inserts marked dirty are not recomputed, or
    // an hour restored from one of several files would count only that file.
    conn.execute(
        "DELETE FROM analytics_dirty WHERE organization_id = ?1 AND id NOT IN (SELECT id FROM restore_dirty)",
        [org],
    )?;
    conn.execute_batch("DELETE FROM restore_bots; DELETE FROM restore_convs; DELETE FROM restore_dirty;")?;
    Ok(RetentionRestoreReport { file: name.to_owned(), table, restored, skipped })
}

/// The daily `portability.retention` job: every organization in turn.
pub struct RetentionArchiveJob;

impl JobHandler for RetentionArchiveJob {
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Result<Value, JobError>> {
        Box::pin(async move {
            let orgs: Vec<OrgId> = ctx
                .state
                .db
                .read(|c| {
                    let mut stmt = c.prepare("SELECT id FROM organizations ORDER BY id")?;
                    let ids = stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
                    Ok(ids)
                })
                .await?;
            let mut total = RetentionRunReport::default();
            for org in orgs {
                let r = run_for_org(&ctx.state, org).await?;
                total.rows_archived += r.rows_archived;
                total.files_written += r.files_written;
                for (t, n) in r.tables {
                    *total.tables.entry(t).or_default() += n;
                }
            }
            Ok(serde_json::to_value(&total).unwrap_or_default())
        })
    }
}

/// For handlers: a tenant's archive directory.
#[must_use]
pub fn tenant_dir(state: &AppState, tenant: &Tenant) -> PathBuf {
    org_dir(state, tenant.org_id())
}

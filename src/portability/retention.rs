//! Retention and archival (docs/retention.md): per organization, rows older
//! than their retention are written to gzip-compressed JSON Lines files under
//! `<archive dir>/org-<id>/` (`retention.archive_dir`, default `archive/`
//! beside the data file), then deleted in small batches — each batch is one
//! short write transaction, so serving is never held up for long. Archived
//! files are listed, searched (text, dates) and re-imported.
//!
//! What expires (defaults from the origin's growth notes):
//! - `widget_messages` (every conversation transcript), `channel_messages`
//!   (except the outbound queue) and sent `recovery_messages` after
//!   `messages_days` (365);
//! - `nlu_logs`, `integration_logs`, `llm_calls` and delivered `webhook_logs`
//!   after `logs_days` (365);
//! - failed and dead `webhook_logs` after `failed_events_days` (90).
//!
//! Counters and rollups stay right: analytics rollups are brought up to date
//! before anything is archived and are only recomputed for hours that get new
//! rows (deletes do not dirty an hour); usage counters (`usage_tracking`), the
//! bots' and conversations' message totals and the contacts' message counts
//! are kept by insert triggers and are not decremented by deletes; recovery
//! rollups are rebuilt, then frozen for the days archived. A re-import puts
//! the rows back with their ids and restores those totals to their values
//! before it.

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
    /// The row's time (constant SQL) compared with the cut-off.
    time: &'static str,
    /// The cut-off is the start of a day (rows rolled up per day go by whole days).
    whole_days: bool,
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

/// A rule on `created_at` with an extra condition.
const fn rule(table: &'static str, filter: &'static str, days: fn(&RetentionSettings) -> i64) -> Rule {
    Rule { table, filter, days, time: "created_at", whole_days: false }
}

/// Delivered and failed webhook logs that no redelivery points to.
const WEBHOOK_DELIVERED: &str =
    "status = 'delivered' AND NOT EXISTS (SELECT 1 FROM webhook_logs r WHERE r.redelivery_of = webhook_logs.id)";
const WEBHOOK_FAILED: &str =
    "status IN ('failed','dead') AND NOT EXISTS (SELECT 1 FROM webhook_logs r WHERE r.redelivery_of = webhook_logs.id)";

/// In this order: recovery messages go before the channel messages they
/// point to, so that their archived rows keep the link.
const RULES: &[Rule] = &[
    rule("widget_messages", "1", messages_days),
    // Sent ones only (pending and queued ones are work to do), by the day the
    // recovery rollups count them under.
    Rule {
        table: "recovery_messages",
        filter: "status NOT IN ('pending','queued')",
        days: messages_days,
        time: "coalesce(sent_at, scheduled_at, created_at)",
        whole_days: true,
    },
    // Not the outbound queue (pending or failed, not dead).
    rule(
        "channel_messages",
        "NOT (direction = 'outbound' AND status IN ('pending','failed') AND dead = 0)",
        messages_days,
    ),
    rule("nlu_logs", "1", logs_days),
    rule("integration_logs", "1", logs_days),
    rule("llm_calls", "1", logs_days),
    rule("webhook_logs", WEBHOOK_DELIVERED, logs_days),
    rule("webhook_logs", WEBHOOK_FAILED, failed_events_days),
];

/// The tables archived, for messages and validation.
fn archived_tables() -> Vec<&'static str> {
    let mut tables: Vec<&str> = RULES.iter().map(|r| r.table).collect();
    tables.dedup();
    tables
}

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
    crate::recovery::store::unfreeze_rollups(conn, org)?;
    Ok(())
}

/// The archive directory of an organization.
#[must_use]
pub fn org_dir(state: &AppState, org: OrgId) -> PathBuf {
    state.config.archive_dir().join(format!("org-{}", org.0))
}

/// Checks that archive files can be written to `root` (created if missing)
/// before anything is archived: a run refuses to start otherwise.
pub fn ensure_writable(root: &Path) -> AppResult<()> {
    let unwritable = |reason: String| {
        AppError::new(
            ErrorCode::ArchiveDirUnwritable,
            format!("the archive directory {} is not writable ({reason}): nothing was archived", root.display()),
        )
        .with_details(json!({ "field": "retention.archive_dir", "path": root.display().to_string(), "reason": reason }))
    };
    std::fs::create_dir_all(root).map_err(|e| unwritable(format!("cannot create it: {e}")))?;
    let probe = root.join(format!(".write-check-{}", crate::crypto::random_token(6)));
    std::fs::write(&probe, b"").map_err(|e| unwritable(format!("cannot create a file in it: {e}")))?;
    std::fs::remove_file(&probe).map_err(|e| unwritable(format!("cannot remove a file from it: {e}")))?;
    Ok(())
}

/// What one run archived.
#[derive(Debug, Default, Clone, Serialize, utoipa::ToSchema)]
pub struct RetentionRunReport {
    pub rows_archived: usize,
    pub files_written: usize,
    /// Free pages returned to the file system by incremental vacuum.
    pub pages_released: i64,
    /// Rows archived per table.
    #[schema(value_type = Object)]
    pub tables: std::collections::BTreeMap<String, usize>,
}

fn cutoff(rule: &Rule, days: i64) -> String {
    let at = chrono::Utc::now() - chrono::Duration::days(days);
    if rule.whole_days { at.format("%Y-%m-%d").to_string() } else { crate::db::format_timestamp(at) }
}

/// Reads one batch of expired rows (all columns, by id).
fn expired_batch(conn: &Connection, org: OrgId, rule: &Rule, cut: &str) -> AppResult<Vec<Row>> {
    let cols: Vec<String> = columns(conn, rule.table)?.into_iter().filter(|c| !c.generated).map(|c| c.name).collect();
    let list = cols.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT {list} FROM {t} WHERE organization_id = ?1 AND {time} < ?2 AND ({f}) ORDER BY id LIMIT ?3",
        t = rule.table,
        f = rule.filter,
        time = rule.time
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
    let root = state.config.archive_dir();
    crate::db::run_blocking(move || ensure_writable(&root)).await?;
    let settings = state.db.read(move |c| load_settings(c, org)).await?;
    // Rollups first: an hour not yet rolled up must be counted with its rows.
    let db = state.db.clone();
    crate::db::run_blocking(move || crate::analytics::rollup::roll_up_pending(&db)).await?;
    let dir = org_dir(state, org);
    let mut report = RetentionRunReport::default();
    for rule in RULES {
        let cut = cutoff(rule, (rule.days)(&settings));
        let mut first = true;
        loop {
            let c2 = cut.clone();
            let rows = state.db.read(move |c| expired_batch(c, org, rule, &c2)).await?;
            if rows.is_empty() {
                break;
            }
            if first && rule.table == "recovery_messages" {
                // The daily recovery rollups are rebuilt from the messages:
                // bring them up to date, then keep the archived days as they are.
                crate::recovery::rollup::roll_up_org(state, org).await?;
                let day = cut.clone();
                state.db.write(move |tx| Ok(crate::recovery::store::freeze_rollups_before(tx, org, &day)?)).await?;
            }
            first = false;
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
        report.pages_released = release_free_pages(state).await?;
    }
    Ok(report)
}

/// Pages returned to the file system per write transaction.
const VACUUM_STEP: i64 = 2000;

/// In `auto_vacuum=INCREMENTAL` mode (new data files), returns the pages the
/// deletes freed to the file system, in short steps so that writers are not
/// held up; in `NONE` mode SQLite reuses them for new rows, so the file stops
/// growing either way (docs/retention.md). Answers the pages released.
async fn release_free_pages(state: &AppState) -> AppResult<i64> {
    let mut released = 0;
    loop {
        let step = state
            .db
            .write(|tx| {
                let mode: i64 = tx.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
                let free: i64 = tx.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
                if mode != 2 || free == 0 {
                    return Ok(0);
                }
                // The pragma frees one page per step: step it to the end
                // (a single step, as `execute` does, frees one page).
                let mut stmt = tx.prepare(&format!("PRAGMA incremental_vacuum({VACUUM_STEP})"))?;
                let mut rows = stmt.query([])?;
                while rows.next()?.is_some() {}
                let left: i64 = tx.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
                Ok(free - left)
            })
            .await?;
        released += step;
        if step < VACUUM_STEP {
            return Ok(released);
        }
    }
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
    /// Only this table (`widget_messages`, `recovery_messages`, `channel_messages`,
    /// `nlu_logs`, `integration_logs`, `llm_calls`, `webhook_logs`).
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
        return Err(AppError::validation("table", format!("must be one of {}", archived_tables().join(", "))));
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

/// `column → (parent table, whether deleting the parent empties the column)`.
fn delete_actions(conn: &Connection, table: &str) -> AppResult<std::collections::HashMap<String, (String, bool)>> {
    let mut stmt = conn.prepare(r#"SELECT "from", "table", on_delete FROM pragma_foreign_key_list(?1)"#)?;
    let rows = stmt.query_map([table], |r| {
        let action: String = r.get(2)?;
        Ok((r.get(0)?, (r.get(1)?, action.eq_ignore_ascii_case("SET NULL"))))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
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
    let fks = delete_actions(conn, &table)?;
    // Totals kept by the transcript insert trigger, to put back afterwards.
    conn.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS restore_bots (id INTEGER PRIMARY KEY, r INTEGER, s INTEGER);
         CREATE TEMP TABLE IF NOT EXISTS restore_convs (id INTEGER PRIMARY KEY, n INTEGER, last TEXT);
         CREATE TEMP TABLE IF NOT EXISTS restore_dirty (id INTEGER PRIMARY KEY);
         CREATE TEMP TABLE IF NOT EXISTS restore_contacts (id INTEGER PRIMARY KEY, n INTEGER, first TEXT, last TEXT);
         DELETE FROM restore_bots; DELETE FROM restore_convs; DELETE FROM restore_dirty; DELETE FROM restore_contacts;",
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
    if table == "channel_messages" {
        conn.execute(
            "INSERT INTO restore_contacts SELECT id, message_count, first_message_at, last_message_at FROM channel_contacts WHERE organization_id = ?1",
            [org],
        )?;
    }
    let (mut restored, mut skipped) = (0, 0);
    for row in &rows {
        if row.get("organization_id").and_then(Value::as_i64) != Some(org.0) {
            return Err(AppError::validation("file", "the archive file holds rows of another organization"));
        }
        // A parent deleted since (a conversation, a bot): the row cannot come
        // back, unless the reference would have been emptied (ON DELETE SET NULL).
        let mut row = row.clone();
        let mut orphan = false;
        for (col, (parent, set_null)) in &fks {
            if let Some(id) = row.get(col).and_then(Value::as_i64) {
                let exists: bool =
                    conn.query_row(&format!("SELECT EXISTS (SELECT 1 FROM \"{parent}\" WHERE id = ?1)"), [id], |r| {
                        r.get(0)
                    })?;
                if exists {
                    continue;
                }
                if *set_null {
                    row.insert(col.clone(), Value::Null);
                } else {
                    orphan = true;
                }
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
    if table == "channel_messages" {
        conn.execute_batch(
            "UPDATE channel_contacts SET message_count = (SELECT n FROM restore_contacts WHERE id = channel_contacts.id),
                                         first_message_at = (SELECT first FROM restore_contacts WHERE id = channel_contacts.id),
                                         last_message_at = (SELECT last FROM restore_contacts WHERE id = channel_contacts.id)
             WHERE id IN (SELECT id FROM restore_contacts);",
        )?;
    }
    // The rollups already count these rows (computed before they were
    // archived): the hours the inserts marked dirty are not recomputed, or
    // an hour restored from one of several files would count only that file.
    conn.execute(
        "DELETE FROM analytics_dirty WHERE organization_id = ?1 AND id NOT IN (SELECT id FROM restore_dirty)",
        [org],
    )?;
    conn.execute_batch(
        "DELETE FROM restore_bots; DELETE FROM restore_convs; DELETE FROM restore_dirty; DELETE FROM restore_contacts;",
    )?;
    Ok(RetentionRestoreReport { file: name.to_owned(), table, restored, skipped })
}

/// The daily `portability.retention` job: every organization in turn.
pub struct RetentionArchiveJob;

impl JobHandler for RetentionArchiveJob {
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Result<Value, JobError>> {
        Box::pin(async move {
            let root = ctx.state.config.archive_dir();
            if let Err(e) = crate::db::run_blocking(move || ensure_writable(&root)).await {
                return Err(JobError::Permanent(format!("{}: {}", e.code().as_str(), e.message())));
            }
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
                total.pages_released += r.pages_released;
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

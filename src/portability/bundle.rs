//! The export file: a zip archive holding `manifest.json` (format version,
//! botbuilder and schema versions, what was exported, and one entry per table
//! with its row count and SHA-256) and one JSON Lines file per table under
//! `tables/`. Rows are JSON objects keyed by column name; BLOBs are written as
//! `{"$blob": "<base64>"}`.

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};

use base64::Engine as _;
use rusqlite::types::Value as SqlValue;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::error::{AppError, AppResult, ErrorCode};

/// The `format` field of every manifest.
pub const FORMAT: &str = "botbuilder-export";
/// The newest format version this build writes and reads; files of a newer
/// version are refused with `export_version_unsupported`.
pub const FORMAT_VERSION: u32 = 1;
const MANIFEST: &str = "manifest.json";
/// Decompressed size limit, whatever the archive claims (zip bombs).
const MAX_UNCOMPRESSED: u64 = 1 << 30;

/// One exported row: column name → JSON value.
pub type Row = Map<String, Value>;

/// What the archive holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    pub botbuilder_version: String,
    /// The highest migration applied to the database it came from.
    pub schema_version: i64,
    /// `bot` or `organization`.
    pub kind: String,
    pub created_at: String,
    /// What was exported (ids and names in the source).
    pub source: Value,
    pub tables: Vec<TableEntry>,
}

/// One table of the archive, in insertion order (parents first).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TableEntry {
    pub table: String,
    pub path: String,
    pub rows: usize,
    /// SHA-256 (hex) of the JSON Lines file.
    pub sha256: String,
}

/// An export held in memory: the manifest and the rows of each table.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub manifest: Manifest,
    pub tables: Vec<(String, Vec<Row>)>,
}

fn invalid(message: impl Into<String>) -> AppError {
    AppError::new(ErrorCode::ExportArchiveInvalid, message).with_details(json!({ "field": "file" }))
}

/// A column value as JSON.
#[must_use]
pub fn to_json(v: SqlValue) -> Value {
    match v {
        SqlValue::Null => Value::Null,
        SqlValue::Integer(i) => Value::from(i),
        SqlValue::Real(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        SqlValue::Text(s) => Value::String(s),
        SqlValue::Blob(b) => json!({ "$blob": base64::engine::general_purpose::STANDARD.encode(b) }),
    }
}

/// The inverse of [`to_json`].
pub fn from_json(v: &Value) -> AppResult<SqlValue> {
    Ok(match v {
        Value::Null => SqlValue::Null,
        Value::Bool(b) => SqlValue::Integer(i64::from(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => SqlValue::Integer(i),
            None => SqlValue::Real(n.as_f64().unwrap_or_default()),
        },
        Value::String(s) => SqlValue::Text(s.clone()),
        Value::Object(o) if o.len() == 1 && o.contains_key("$blob") => {
            let text = o.get("$blob").and_then(Value::as_str).ok_or_else(|| invalid("a BLOB value is not a string"))?;
            SqlValue::Blob(
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(|e| invalid(format!("a BLOB value is not base64: {e}")))?,
            )
        }
        other => SqlValue::Text(other.to_string()),
    })
}

impl Bundle {
    /// Writes the archive.
    pub fn to_zip(&self) -> AppResult<Vec<u8>> {
        let mut manifest = self.manifest.clone();
        manifest.tables.clear();
        let mut files = Vec::with_capacity(self.tables.len());
        for (table, rows) in &self.tables {
            let mut body = Vec::new();
            for row in rows {
                serde_json::to_writer(&mut body, row).map_err(AppError::internal)?;
                body.push(b'\n');
            }
            let path = format!("tables/{table}.jsonl");
            manifest.tables.push(TableEntry {
                table: table.clone(),
                path: path.clone(),
                rows: rows.len(),
                sha256: hex::encode(Sha256::digest(&body)),
            });
            files.push((path, body));
        }
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        zip.start_file(MANIFEST, options).map_err(AppError::internal)?;
        zip.write_all(&serde_json::to_vec_pretty(&manifest).map_err(AppError::internal)?)
            .map_err(AppError::internal)?;
        for (path, body) in files {
            zip.start_file(path, options).map_err(AppError::internal)?;
            zip.write_all(&body).map_err(AppError::internal)?;
        }
        Ok(zip.finish().map_err(AppError::internal)?.into_inner())
    }

    /// Reads and checks an archive: readable zip, known format, a version
    /// this build reads, every table's checksum and row count.
    pub fn from_zip(bytes: &[u8]) -> AppResult<Bundle> {
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
            .map_err(|e| invalid(format!("not a readable export archive (truncated or damaged?): {e}")))?;
        let raw = read_entry(&mut zip, MANIFEST)?;
        let head: Value =
            serde_json::from_slice(&raw).map_err(|e| invalid(format!("manifest.json is not JSON: {e}")))?;
        if head.get("format").and_then(Value::as_str) != Some(FORMAT) {
            return Err(invalid("not a botbuilder export (manifest.json has no `format: botbuilder-export`)"));
        }
        // The version is checked before the rest of the manifest: a newer
        // format may have changed it.
        let version = head.get("format_version").and_then(Value::as_u64).unwrap_or(0);
        if version > u64::from(FORMAT_VERSION) || version == 0 {
            let written_by = head.get("botbuilder_version").and_then(Value::as_str).unwrap_or("unknown");
            return Err(AppError::new(
                ErrorCode::ExportVersionUnsupported,
                format!(
                    "the file is export format version {version} (written by botbuilder {written_by}); this server \
                     reads versions up to {FORMAT_VERSION}: upgrade botbuilder to import it"
                ),
            )
            .with_details(
                json!({ "field": "format_version", "format_version": version, "supported": FORMAT_VERSION }),
            ));
        }
        let manifest: Manifest =
            serde_json::from_value(head).map_err(|e| invalid(format!("manifest.json is malformed: {e}")))?;
        let mut tables = Vec::with_capacity(manifest.tables.len());
        for entry in &manifest.tables {
            let body = read_entry(&mut zip, &entry.path)?;
            let actual = hex::encode(Sha256::digest(&body));
            if actual != entry.sha256 {
                return Err(AppError::new(
                    ErrorCode::ExportChecksumMismatch,
                    format!(
                        "{} does not match its checksum in the manifest: the file was altered or damaged",
                        entry.path
                    ),
                )
                .with_details(
                    json!({ "field": "file", "entry": entry.path, "expected": entry.sha256, "actual": actual }),
                ));
            }
            let mut rows = Vec::with_capacity(entry.rows);
            for (n, line) in body.split(|b| *b == b'\n').filter(|l| !l.is_empty()).enumerate() {
                let row: Row = serde_json::from_slice(line)
                    .map_err(|e| invalid(format!("{} line {}: not a JSON object: {e}", entry.path, n + 1)))?;
                rows.push(row);
            }
            if rows.len() != entry.rows {
                return Err(invalid(format!(
                    "{} has {} rows, the manifest says {}",
                    entry.path,
                    rows.len(),
                    entry.rows
                )));
            }
            tables.push((entry.table.clone(), rows));
        }
        Ok(Bundle { manifest, tables })
    }

    /// Row counts per table.
    #[must_use]
    pub fn counts(&self) -> BTreeMap<String, usize> {
        self.tables.iter().map(|(t, rows)| (t.clone(), rows.len())).collect()
    }
}

fn read_entry(zip: &mut zip::ZipArchive<Cursor<&[u8]>>, name: &str) -> AppResult<Vec<u8>> {
    let file = zip.by_name(name).map_err(|e| invalid(format!("the archive has no readable {name}: {e}")))?;
    let mut body = Vec::new();
    file.take(MAX_UNCOMPRESSED + 1)
        .read_to_end(&mut body)
        .map_err(|e| invalid(format!("{name} cannot be read (truncated or damaged archive): {e}")))?;
    if body.len() as u64 > MAX_UNCOMPRESSED {
        return Err(invalid(format!("{name} is larger than {MAX_UNCOMPRESSED} bytes uncompressed")));
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Bundle {
        let mut row = Row::new();
        row.insert("id".into(), json!(7));
        row.insert("score".into(), json!(2.0));
        row.insert("data".into(), to_json(SqlValue::Blob(vec![0, 1, 255])));
        Bundle {
            manifest: Manifest {
                format: FORMAT.into(),
                format_version: FORMAT_VERSION,
                botbuilder_version: "test".into(),
                schema_version: 1,
                kind: "bot".into(),
                created_at: "2026-01-01T00:00:00.000Z".into(),
                source: json!({}),
                tables: Vec::new(),
            },
            tables: vec![("bots".into(), vec![row])],
        }
    }

    #[test]
    fn portability_bundle_round_trips_values() {
        let zip = sample().to_zip().expect("zip");
        let back = Bundle::from_zip(&zip).expect("read");
        let row = &back.tables[0].1[0];
        assert_eq!(from_json(&row["id"]).expect("id"), SqlValue::Integer(7));
        assert_eq!(from_json(&row["score"]).expect("real"), SqlValue::Real(2.0));
        assert_eq!(from_json(&row["data"]).expect("blob"), SqlValue::Blob(vec![0, 1, 255]));
        assert_eq!(back.manifest.tables[0].rows, 1);
    }

    #[test]
    fn portability_bundle_refuses_truncated_archives() {
        let zip = sample().to_zip().expect("zip");
        for cut in [zip.len() / 2, zip.len() - 10, 10] {
            let e = Bundle::from_zip(&zip[..cut]).expect_err("truncated");
            assert_eq!(e.code(), ErrorCode::ExportArchiveInvalid, "cut at {cut}");
        }
    }
}

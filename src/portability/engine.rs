//! Schema-driven copying of rows: reads the columns and foreign keys of each
//! table from the live schema (`pragma_table_xinfo`, `pragma_foreign_key_list`),
//! so that columns added by later migrations travel without code here, and
//! remaps every id on import.
//!
//! Import rules, per column of the target table:
//! - `id` is never copied: the row gets a new one, remembered per table;
//! - `organization_id` and any reference to `organizations` → the target organization;
//! - a reference to `users` → the importing user (NULL when there is none and the column allows it);
//! - a reference to a table of the archive → that row's new id;
//! - a reference to anything else (teams, LLM providers, channels…) → NULL, with a warning;
//! - generated columns are skipped; columns the target does not have are dropped, with a warning.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params_from_iter};
use serde_json::Value;

use super::bundle::{Row, from_json, to_json};
use crate::error::{AppError, AppResult, ErrorCode};

/// A column of a table in the live schema.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub not_null: bool,
    /// Generated (virtual or stored) columns cannot be inserted.
    pub generated: bool,
}

/// Columns of `table` (empty when the table does not exist).
pub fn columns(conn: &Connection, table: &str) -> rusqlite::Result<Vec<Column>> {
    let mut stmt = conn.prepare_cached(r#"SELECT name, "notnull", hidden FROM pragma_table_xinfo(?1)"#)?;
    stmt.query_map([table], |r| {
        let hidden: i64 = r.get(2)?;
        Ok(Column { name: r.get(0)?, not_null: r.get::<_, i64>(1)? != 0, generated: hidden == 2 || hidden == 3 })
    })?
    .collect()
}

/// `column → referenced table` for `table`.
pub fn foreign_keys(conn: &Connection, table: &str) -> rusqlite::Result<HashMap<String, String>> {
    let mut stmt = conn.prepare_cached(r#"SELECT "from", "table" FROM pragma_foreign_key_list(?1)"#)?;
    stmt.query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))?.collect()
}

/// Quotes an identifier taken from the live schema (never from user input).
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Rows of `table` in the organization whose `column` is one of `ids`, by id.
pub fn select_rows(
    conn: &Connection,
    org_id: i64,
    table: &str,
    column: &str,
    ids: &BTreeSet<i64>,
) -> AppResult<Vec<Row>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let cols: Vec<Column> = columns(conn, table)?.into_iter().filter(|c| !c.generated).collect();
    let list = cols.iter().map(|c| ident(&c.name)).collect::<Vec<_>>().join(", ");
    let order = if cols.iter().any(|c| c.name == "id") { " ORDER BY id" } else { "" };
    let sql = format!(
        "SELECT {list} FROM {t} WHERE organization_id = ?1 AND {c} IN (SELECT value FROM json_each(?2)){order}",
        t = ident(table),
        c = ident(column)
    );
    let id_list = serde_json::to_string(ids).map_err(AppError::internal)?;
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params![org_id, id_list], |r| {
        let mut row = Row::new();
        for (i, c) in cols.iter().enumerate() {
            row.insert(c.name.clone(), to_json(r.get::<_, SqlValue>(i)?));
        }
        Ok(row)
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The `id`s of exported rows.
#[must_use]
pub fn ids_of(rows: &[Row]) -> BTreeSet<i64> {
    rows.iter().filter_map(|r| r.get("id").and_then(Value::as_i64)).collect()
}

/// Where imported rows go and who imports them.
pub struct Target {
    pub org_id: i64,
    pub actor: Option<i64>,
}

/// Old id → new id, per table.
#[derive(Debug, Default)]
pub struct IdMap(HashMap<String, HashMap<i64, i64>>);

impl IdMap {
    #[must_use]
    pub fn get(&self, table: &str, old: i64) -> Option<i64> {
        self.0.get(table).and_then(|m| m.get(&old)).copied()
    }

    pub fn insert(&mut self, table: &str, old: i64, new: i64) {
        self.0.entry(table.to_owned()).or_default().insert(old, new);
    }
}

/// What the domain-specific caller may do to a row before it is inserted.
pub enum Prepared {
    /// Insert the row (possibly changed).
    Insert(Row),
    /// Do not insert: the row already exists in the target under this id.
    Existing(i64),
}

/// Inserts the rows of one table, remapping ids; returns (old id, new id) pairs.
pub fn insert_rows(
    conn: &Connection,
    target: &Target,
    table: &str,
    rows: &[Row],
    map: &mut IdMap,
    warnings: &mut BTreeSet<String>,
    mut prepare: impl FnMut(&Connection, Row, &IdMap) -> AppResult<Prepared>,
) -> AppResult<Vec<(i64, i64)>> {
    let cols = columns(conn, table)?;
    if cols.is_empty() {
        return Err(AppError::new(
            ErrorCode::ExportArchiveInvalid,
            format!("the archive has rows of `{table}`, a table this server does not have"),
        )
        .with_details(serde_json::json!({ "field": "file", "table": table })));
    }
    let fks = foreign_keys(conn, table)?;
    let known: BTreeSet<&str> = cols.iter().map(|c| c.name.as_str()).collect();
    let mut done = Vec::with_capacity(rows.len());
    for row in rows {
        for name in row.keys() {
            // `$…` keys carry data that is not a column (e.g. a chunk's vector).
            if !name.starts_with('$') && !known.contains(name.as_str()) {
                warnings.insert(format!("{table}.{name}: this server has no such column; the values were dropped"));
            }
        }
        let old_id = row.get("id").and_then(Value::as_i64);
        let row = match prepare(conn, row.clone(), map)? {
            Prepared::Existing(id) => {
                if let Some(old) = old_id {
                    map.insert(table, old, id);
                    done.push((old, id));
                }
                continue;
            }
            Prepared::Insert(row) => row,
        };
        let mut names = Vec::new();
        let mut values: Vec<SqlValue> = Vec::new();
        for col in cols.iter().filter(|c| !c.generated && c.name != "id") {
            let value = if col.name == "organization_id" {
                SqlValue::Integer(target.org_id)
            } else {
                let Some(raw) = row.get(&col.name) else { continue };
                let value = from_json(raw)?;
                match (fks.get(&col.name).map(String::as_str), &value) {
                    (_, SqlValue::Null) | (None, _) => value,
                    (Some("organizations"), _) => SqlValue::Integer(target.org_id),
                    (Some("users"), _) => target.actor.map_or(SqlValue::Null, SqlValue::Integer),
                    (Some(parent), SqlValue::Integer(old)) => {
                        if let Some(new) = map.get(parent, *old) {
                            SqlValue::Integer(new)
                        } else {
                            warnings.insert(format!(
                                "{table}.{}: refers to {parent} not in the archive; left empty",
                                col.name
                            ));
                            SqlValue::Null
                        }
                    }
                    (Some(_), _) => SqlValue::Null,
                }
            };
            if matches!(value, SqlValue::Null) && col.not_null {
                return Err(AppError::new(
                    ErrorCode::ExportArchiveInvalid,
                    format!("{table}.{} cannot be empty and the archive has no usable value for it", col.name),
                )
                .with_details(serde_json::json!({ "field": "file", "table": table, "column": col.name })));
            }
            names.push(ident(&col.name));
            values.push(value);
        }
        let placeholders = (1..=names.len()).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ");
        let sql = format!("INSERT INTO {} ({}) VALUES ({placeholders}) RETURNING id", ident(table), names.join(", "));
        let new_id: i64 = conn.prepare_cached(&sql)?.query_row(params_from_iter(values.iter()), |r| r.get(0))?;
        if let Some(old) = old_id {
            map.insert(table, old, new_id);
            done.push((old, new_id));
        }
    }
    Ok(done)
}

/// Row counts of every table with an `organization_id` column, for the org.
pub fn tenant_tables(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT m.name FROM sqlite_schema m
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'
           AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) p WHERE p.name = 'organization_id')
         ORDER BY m.name",
    )?;
    stmt.query_map([], |r| r.get(0))?.collect()
}

/// Orders `tables` parents first by their foreign keys (cycles and
/// self-references broken arbitrarily but deterministically).
pub fn parents_first(conn: &Connection, tables: &[String]) -> rusqlite::Result<Vec<String>> {
    let set: BTreeSet<&str> = tables.iter().map(String::as_str).collect();
    let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for t in tables {
        let parents = foreign_keys(conn, t)?
            .into_values()
            .filter(|p| p != t && set.contains(p.as_str()))
            .collect::<BTreeSet<_>>();
        deps.insert(t.clone(), parents);
    }
    let mut out: Vec<String> = Vec::with_capacity(tables.len());
    while !deps.is_empty() {
        let ready: Vec<String> =
            deps.iter().filter(|(_, ps)| ps.iter().all(|p| out.contains(p))).map(|(t, _)| t.clone()).collect();
        let next = if ready.is_empty() { deps.keys().take(1).cloned().collect() } else { ready };
        for t in next {
            deps.remove(&t);
            out.push(t);
        }
    }
    Ok(out)
}

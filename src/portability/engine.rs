//! Schema-driven copying of rows: reads the columns and foreign keys of each
//! table from the live schema (`pragma_table_xinfo`, `pragma_foreign_key_list`),
//! so that columns added by later migrations travel without code here, and
//! remaps every id on import.
//!
//! Import rules, per column of the target table:
//! - `id` is never copied: the row gets a new one, remembered per table;
//! - `organization_id` and any reference to `organizations` → the target organization;
//! - a reference to `users` → the account matched by email when the import maps
//!   accounts (organization import; unmatched: NULL, or the row is skipped when the
//!   column is required), else the importing user;
//! - a reference to a table of the archive → that row's new id; to a row the
//!   import skipped → NULL, or the row is skipped too when the column is required;
//! - a reference to a row that belongs to no organization (built-in roles, plans,
//!   catalogues) → kept when the target has that row;
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

/// `column → (referenced table, referenced column)` for `table`.
pub fn foreign_key_targets(conn: &Connection, table: &str) -> rusqlite::Result<HashMap<String, (String, String)>> {
    let mut stmt =
        conn.prepare_cached(r#"SELECT "from", "table", coalesce("to", 'id') FROM pragma_foreign_key_list(?1)"#)?;
    stmt.query_map([table], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?.collect()
}

/// True when `table` has a row whose `column` is `value` and that belongs to
/// no organization (a built-in role, a plan, a catalogue entry).
fn global_row_exists(conn: &Connection, table: &str, column: &str, value: &SqlValue) -> rusqlite::Result<bool> {
    let tenant = columns(conn, table)?.iter().any(|c| c.name == "organization_id");
    let sql = format!(
        "SELECT EXISTS (SELECT 1 FROM {} WHERE {} = ?1{})",
        ident(table),
        ident(column),
        if tenant { " AND organization_id IS NULL" } else { "" }
    );
    conn.prepare_cached(&sql)?.query_row([value], |r| r.get(0))
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

/// `(table, new id, [(column, value)])` of one inserted row.
pub type InsertedRow = (String, i64, Vec<(String, SqlValue)>);

/// Old id → new id, per table; the rows left out and why; and, for the
/// tables named in `record`, the values each row was inserted with.
#[derive(Debug, Default)]
pub struct IdMap {
    ids: HashMap<String, HashMap<i64, i64>>,
    skipped_ids: HashMap<String, BTreeSet<i64>>,
    /// `table → reason → rows`.
    pub skipped: BTreeMap<String, BTreeMap<String, usize>>,
    /// Tables whose inserted values are kept (see `inserted`).
    pub record: BTreeSet<String>,
    /// `(table, new id, [(column, value)])` of the rows of the `record` tables.
    pub inserted: Vec<InsertedRow>,
    /// Tables of the archive not inserted yet: a nullable reference to one of
    /// them (a cycle such as voice bots ↔ phone numbers) is filled in afterwards.
    pub pending: BTreeSet<String>,
    /// `(table, new id, column, referenced table, old id)` to fill in once all rows are in.
    pub deferred: Vec<(String, i64, String, String, i64)>,
}

impl IdMap {
    #[must_use]
    pub fn get(&self, table: &str, old: i64) -> Option<i64> {
        self.ids.get(table).and_then(|m| m.get(&old)).copied()
    }

    pub fn insert(&mut self, table: &str, old: i64, new: i64) {
        self.ids.entry(table.to_owned()).or_default().insert(old, new);
    }

    /// True when ids of `table` are mapped (for `users`: the import maps accounts).
    #[must_use]
    pub fn maps(&self, table: &str) -> bool {
        self.ids.contains_key(table)
    }

    /// Marks `table` as mapped even if no row of it is.
    pub fn declare(&mut self, table: &str) {
        self.ids.entry(table.to_owned()).or_default();
    }

    /// Records a row left out (its id, when it has one, so that its children follow).
    pub fn skip(&mut self, table: &str, old: Option<i64>, reason: &str) {
        if let Some(old) = old {
            self.skipped_ids.entry(table.to_owned()).or_default().insert(old);
        }
        *self.skipped.entry(table.to_owned()).or_default().entry(reason.to_owned()).or_default() += 1;
    }

    #[must_use]
    pub fn is_skipped(&self, table: &str, old: i64) -> bool {
        self.skipped_ids.get(table).is_some_and(|s| s.contains(&old))
    }

    /// New ids of the rows inserted into `table`.
    #[must_use]
    pub fn new_ids(&self, table: &str) -> BTreeSet<i64> {
        self.ids.get(table).map(|m| m.values().copied().collect()).unwrap_or_default()
    }
}

/// What the domain-specific caller may do to a row before it is inserted.
pub enum Prepared {
    /// Insert the row (possibly changed).
    Insert(Row),
    /// Do not insert: the row already exists in the target under this id.
    Existing(i64),
    /// Do not insert, for this reason (reported per table).
    Skip(String),
}

/// How a foreign key value is carried over.
enum Resolved {
    Value(SqlValue),
    /// Empty for now: the referenced table comes later (`IdMap::deferred`).
    Later(String, i64),
    /// The row cannot be inserted (a required reference to a row left out).
    Skip(String),
}

/// Resolves one foreign key value (see the module comment).
#[allow(clippy::too_many_arguments, reason = "the column, its reference and the import's state")]
fn resolve_reference(
    conn: &Connection,
    target: &Target,
    table: &str,
    col: &Column,
    parent: &str,
    parent_col: &str,
    value: SqlValue,
    map: &IdMap,
    warnings: &mut BTreeSet<String>,
) -> AppResult<Resolved> {
    if matches!(value, SqlValue::Null) {
        return Ok(Resolved::Value(value));
    }
    if parent == "organizations" {
        return Ok(Resolved::Value(SqlValue::Integer(target.org_id)));
    }
    let old = if let SqlValue::Integer(old) = value { Some(old) } else { None };
    if parent == "users" {
        if !map.maps("users") {
            return Ok(Resolved::Value(target.actor.map_or(SqlValue::Null, SqlValue::Integer)));
        }
        if let Some(new) = old.and_then(|o| map.get("users", o)) {
            return Ok(Resolved::Value(SqlValue::Integer(new)));
        }
        if col.not_null {
            return Ok(Resolved::Skip(format!("{}: the account is not on this server", col.name)));
        }
        warnings.insert(format!("{table}.{}: accounts not on this server were left empty", col.name));
        return Ok(Resolved::Value(SqlValue::Null));
    }
    if parent_col == "id"
        && let Some(old) = old
    {
        if let Some(new) = map.get(parent, old) {
            return Ok(Resolved::Value(SqlValue::Integer(new)));
        }
        if map.pending.contains(parent) && !col.not_null {
            return Ok(Resolved::Later(parent.to_owned(), old));
        }
        if map.is_skipped(parent, old) {
            if col.not_null {
                return Ok(Resolved::Skip(format!("{}: its {parent} row was left out", col.name)));
            }
            warnings.insert(format!("{table}.{}: refers to {parent} rows that were left out; left empty", col.name));
            return Ok(Resolved::Value(SqlValue::Null));
        }
    }
    if global_row_exists(conn, parent, parent_col, &value)? {
        return Ok(Resolved::Value(value));
    }
    warnings.insert(format!("{table}.{}: refers to {parent} not in the archive; left empty", col.name));
    Ok(Resolved::Value(SqlValue::Null))
}

/// Inserts the rows of one table, remapping ids; returns (old id, new id) pairs.
#[allow(clippy::too_many_lines, reason = "one row at a time: prepare, resolve each column, insert, remember")]
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
    let fks = foreign_key_targets(conn, table)?;
    let known: BTreeSet<&str> = cols.iter().map(|c| c.name.as_str()).collect();
    let record = map.record.contains(table);
    let mut done = Vec::with_capacity(rows.len());
    'rows: for row in rows {
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
            Prepared::Skip(reason) => {
                map.skip(table, old_id, &reason);
                continue;
            }
            Prepared::Insert(row) => row,
        };
        let mut names = Vec::new();
        let mut values: Vec<SqlValue> = Vec::new();
        let mut later = Vec::new();
        for col in cols.iter().filter(|c| !c.generated && c.name != "id") {
            let value = if col.name == "organization_id" {
                SqlValue::Integer(target.org_id)
            } else {
                let Some(raw) = row.get(&col.name) else { continue };
                let value = from_json(raw)?;
                match fks.get(&col.name) {
                    None => value,
                    Some((parent, parent_col)) => {
                        match resolve_reference(conn, target, table, col, parent, parent_col, value, map, warnings)? {
                            Resolved::Value(v) => v,
                            Resolved::Later(parent, old) => {
                                later.push((col.name.clone(), parent, old));
                                SqlValue::Null
                            }
                            Resolved::Skip(reason) => {
                                map.skip(table, old_id, &reason);
                                continue 'rows;
                            }
                        }
                    }
                }
            };
            if matches!(value, SqlValue::Null) && col.not_null {
                return Err(AppError::new(
                    ErrorCode::ExportArchiveInvalid,
                    format!("{table}.{} cannot be empty and the archive has no usable value for it", col.name),
                )
                .with_details(serde_json::json!({ "field": "file", "table": table, "column": col.name })));
            }
            names.push(col.name.clone());
            values.push(value);
        }
        let placeholders = (1..=names.len()).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ");
        let list = names.iter().map(|n| ident(n)).collect::<Vec<_>>().join(", ");
        let sql = format!("INSERT INTO {} ({list}) VALUES ({placeholders}) RETURNING id", ident(table));
        let new_id: i64 = conn.prepare_cached(&sql)?.query_row(params_from_iter(values.iter()), |r| r.get(0))?;
        if let Some(old) = old_id {
            map.insert(table, old, new_id);
            done.push((old, new_id));
        }
        for (col, parent, old) in later {
            map.deferred.push((table.to_owned(), new_id, col, parent, old));
        }
        if record {
            map.inserted.push((table.to_owned(), new_id, names.into_iter().zip(values).collect()));
        }
    }
    map.pending.remove(table);
    Ok(done)
}

/// Fills in the references left for later (see `IdMap::deferred`); one whose
/// row was left out stays empty. A table's `updated_at` is kept as imported.
pub fn fill_deferred(conn: &Connection, map: &IdMap, warnings: &mut BTreeSet<String>) -> AppResult<()> {
    for (table, id, col, parent, old) in &map.deferred {
        let Some(new) = map.get(parent, *old) else {
            warnings.insert(format!("{table}.{col}: refers to {parent} rows that were left out; left empty"));
            continue;
        };
        let stamped = columns(conn, table)?.iter().any(|c| c.name == "updated_at");
        let before: Option<SqlValue> = if stamped {
            Some(conn.query_row(&format!("SELECT updated_at FROM {} WHERE id = ?1", ident(table)), [id], |r| r.get(0))?)
        } else {
            None
        };
        conn.execute(
            &format!("UPDATE {} SET {} = ?2 WHERE id = ?1", ident(table), ident(col)),
            rusqlite::params![id, new],
        )?;
        if let Some(at) = before {
            conn.execute(
                &format!("UPDATE {} SET updated_at = ?2 WHERE id = ?1", ident(table)),
                rusqlite::params![id, at],
            )?;
        }
    }
    Ok(())
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
        // Stuck on a cycle (voice bots ↔ phone numbers): break it at a table
        // that is in one, not at a table that merely waits for it.
        // Prefer one whose references into the cycle may be empty for a while
        // (filled in later), else a NOT NULL one would have no value.
        let next = if ready.is_empty() {
            let in_cycle: Vec<&String> = deps.keys().filter(|t| reaches(&deps, &out, t, t)).collect();
            let mut deferrable = None;
            for t in &in_cycle {
                if waits_only_on_nullable(conn, t, &deps, &out)? {
                    deferrable = Some(*t);
                    break;
                }
            }
            let pick = deferrable.or_else(|| in_cycle.first().copied()).or_else(|| deps.keys().next());
            pick.cloned().into_iter().collect()
        } else {
            ready
        };
        for t in next {
            deps.remove(&t);
            out.push(t);
        }
    }
    Ok(out)
}

/// True when every column of `table` that references a table not placed yet
/// can be NULL.
fn waits_only_on_nullable(
    conn: &Connection,
    table: &str,
    deps: &BTreeMap<String, BTreeSet<String>>,
    placed: &[String],
) -> rusqlite::Result<bool> {
    let cols = columns(conn, table)?;
    Ok(foreign_keys(conn, table)?.into_iter().all(|(col, parent)| {
        parent == table
            || !deps.contains_key(&parent)
            || placed.contains(&parent)
            || cols.iter().any(|c| c.name == col && !c.not_null)
    }))
}

/// True when `from`'s unplaced parents lead back to `target`.
fn reaches(deps: &BTreeMap<String, BTreeSet<String>>, placed: &[String], from: &str, target: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack: Vec<&str> = vec![from];
    while let Some(t) = stack.pop() {
        for p in deps.get(t).into_iter().flatten() {
            if placed.contains(p) {
                continue;
            }
            if p == target {
                return true;
            }
            if seen.insert(p.as_str()) {
                stack.push(p);
            }
        }
    }
    false
}

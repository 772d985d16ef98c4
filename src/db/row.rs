//! Typed row mapping and the timestamp format of every `*_at` column.

use rusqlite::{Connection, Params, Row};

/// A type built from one result row, by column name.
pub trait FromRow: Sized {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self>;
}

/// All rows of `sql` mapped to `T`.
pub fn query_all<T: FromRow>(conn: &Connection, sql: &str, params: impl Params) -> rusqlite::Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    stmt.query_map(params, T::from_row)?.collect()
}

/// The first row of `sql` mapped to `T`, if any.
pub fn query_opt<T: FromRow>(conn: &Connection, sql: &str, params: impl Params) -> rusqlite::Result<Option<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    rows.next()?.map(T::from_row).transpose()
}

/// `Connection::execute` through the connection's statement cache: hot
/// write paths skip re-parsing the statement and recompiling the triggers
/// it fires on every call.
pub fn execute_cached(conn: &Connection, sql: &str, params: impl Params) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

/// `Connection::query_row` through the connection's statement cache.
pub fn query_row_cached<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    f: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.prepare_cached(sql)?.query_row(params, f)
}

/// Now, in the database's timestamp format: UTC RFC 3339 with milliseconds,
/// the same text `strftime('%Y-%m-%dT%H:%M:%fZ','now')` produces.
#[must_use]
pub fn now() -> String {
    format_timestamp(chrono::Utc::now())
}

/// A UTC instant in the database's timestamp format.
#[must_use]
pub fn format_timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Reads a nullable JSON text column.
pub fn json_column(row: &Row<'_>, name: &str) -> rusqlite::Result<Option<serde_json::Value>> {
    let text: Option<String> = row.get(name)?;
    text.map(|t| {
        serde_json::from_str(&t)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamp_matches_sqlite_format() {
        let conn = rusqlite::Connection::open_in_memory().expect("open");
        let sqlite: String =
            conn.query_row("SELECT strftime('%Y-%m-%dT%H:%M:%fZ','now')", [], |r| r.get(0)).expect("q");
        let ours = super::now();
        assert_eq!(sqlite.len(), ours.len(), "{sqlite} vs {ours}");
        assert_eq!(&sqlite[..10], &ours[..10]);
    }
}

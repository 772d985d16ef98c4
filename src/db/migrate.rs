//! Schema migrations: refinery SQL files under `migrations/`, embedded in the
//! binary, forward-only, applied in one transaction.

use rusqlite::Connection;

use super::APPLICATION_ID;

refinery::embed_migrations!("migrations");

/// Where refinery records applied migrations.
pub const MIGRATIONS_TABLE: &str = "refinery_schema_history";

/// The newest schema version this binary knows.
#[must_use]
pub fn latest_version() -> i32 {
    migrations::runner().get_migrations().iter().map(refinery::Migration::version).max().unwrap_or(0)
}

/// Applies every pending migration in one transaction and stamps the file as
/// botbuilder's. Idempotent.
///
/// Foreign keys are off while migrations run (SQLite ignores the pragma
/// inside a transaction), so that a migration can rebuild a table others
/// reference — the only way to change a CHECK — without the drop cascading;
/// a violation left behind fails the start-up instead.
pub fn apply_migrations(conn: &mut Connection) -> Result<(), String> {
    conn.pragma_update(None, "foreign_keys", "OFF").map_err(|e| e.to_string())?;
    let ran = migrations::runner()
        .set_grouped(true)
        .set_abort_divergent(true)
        .set_abort_missing(true)
        .run(conn)
        .map_err(|e| e.to_string());
    // A full check reads every table: only after something was applied.
    let violations: rusqlite::Result<i64> = match &ran {
        Ok(report) if !report.applied_migrations().is_empty() => {
            conn.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0))
        }
        _ => Ok(0),
    };
    conn.pragma_update(None, "foreign_keys", "ON").map_err(|e| e.to_string())?;
    ran?;
    match violations {
        Ok(0) => {}
        Ok(n) => return Err(format!("the schema migrations left {n} foreign key violations")),
        Err(e) => return Err(e.to_string()),
    }
    conn.pragma_update(None, "application_id", APPLICATION_ID).map_err(|e| e.to_string())?;
    Ok(())
}

/// True when every embedded migration has been applied.
pub fn schema_is_current(conn: &Connection) -> rusqlite::Result<bool> {
    let applied = applied_versions(conn)?;
    Ok(migrations::runner().get_migrations().iter().all(|m| applied.iter().any(|(v, _)| *v == m.version())))
}

/// `(version, checksum)` of every applied migration.
pub(crate) fn applied_versions(conn: &Connection) -> rusqlite::Result<Vec<(i32, String)>> {
    let mut stmt = conn.prepare("SELECT version, checksum FROM refinery_schema_history ORDER BY version")?;
    stmt.query_map([], |r| Ok((r.get::<_, i32>(0)?, r.get::<_, String>(1)?)))?.collect()
}

/// Says why applied migrations differ from the embedded ones, if they do.
pub(crate) fn divergence(applied: &[(i32, String)]) -> Option<String> {
    let runner = migrations::runner();
    let known = runner.get_migrations();
    for (version, checksum) in applied {
        match known.iter().find(|m| m.version() == *version) {
            None => return Some(format!("schema migration {version} is unknown to this binary")),
            Some(m) if m.checksum().to_string() != *checksum => {
                return Some(format!("schema migration {version} ({}) differs from this binary's", m.name()));
            }
            Some(_) => {}
        }
    }
    None
}

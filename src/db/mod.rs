//! `SQLite` access: one writer connection (writes serialized, `BEGIN IMMEDIATE`)
//! and a pool of read-only connections, all with the same PRAGMAs and the
//! sqlite-vec extension. Async code never holds a connection: `read`/`write`
//! run the closure on the blocking pool inside the caller's tracing span.

mod file;
mod migrate;
mod row;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};
use std::time::Duration;

use r2d2::Pool;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, Transaction, TransactionBehavior};

pub use file::{DataLock, FileError, FileState, LockError, WalReport, inspect, inspect_wal, integrity_check};
pub use migrate::{MIGRATIONS_TABLE, apply_migrations, latest_version, schema_is_current};
pub use row::{FromRow, execute_cached, format_timestamp, json_column, now, query_all, query_opt, query_row_cached};

use crate::config::{CheckpointMode, DbConfig};
use crate::error::{AppError, AppResult};

/// The `PRAGMA application_id` stamped on every botbuilder database ("bbld").
pub const APPLICATION_ID: i32 = 0x6262_6c64;

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Db {
    inner: Arc<DbInner>,
}

struct DbInner {
    writer: Pool<SqliteConnectionManager>,
    readers: Pool<SqliteConnectionManager>,
    path: PathBuf,
    checkpoints: CheckpointMode,
    /// Set by the checkpointer when the WAL is too long: the next write
    /// restarts it first (see [`start_checkpointer`]).
    restart_wal: std::sync::atomic::AtomicBool,
}

/// Connection counts of one pool, for `/metrics`.
#[derive(Debug, Clone, Copy)]
pub struct PoolStats {
    pub connections: u32,
    pub idle: u32,
}

impl Db {
    /// Opens (creating if absent) a botbuilder data file and applies pending
    /// migrations. Refuses, without writing anything, a file that is not
    /// `SQLite`, not botbuilder's, corrupt, or of a newer schema.
    pub fn open(path: &Path, config: &DbConfig) -> Result<Db, FileError> {
        register_sqlite_vec();
        // Read before anything opens the file: a non-empty WAL means the last
        // process did not stop cleanly (see `WalReport`).
        let wal = file::inspect_wal(path)
            .map_err(|e| FileError::Unusable { path: path.to_owned(), reason: e.to_string() })?;
        file::check_openable(path)?;
        if let Some(report) = &wal {
            // SQLite replays what the WAL holds; say what that is, and refuse
            // a file that is not sound rather than serve it. Read-only, so a
            // refused file is left as it was (closing a read-write connection
            // would fold the WAL into it).
            tracing::warn!(data = %path.display(), "{}", report.describe(path));
            let started = std::time::Instant::now();
            let check = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .map_err(|e| FileError::classify(path, &e))?;
            file::quick_check(&check, path)?;
            drop(check);
            tracing::warn!(
                data = %path.display(),
                elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                "recovered after an unclean stop: quick_check ok"
            );
        }
        let busy = Duration::from_millis(u64::from(config.busy_timeout_ms));
        let cache_kib = i64::from(config.cache_mib) * 1024;

        let mut first = Connection::open(path).map_err(|e| FileError::classify(path, &e))?;
        configure(&mut first, busy, cache_kib).map_err(|e| FileError::classify(path, &e))?;
        let journal: String =
            first.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).map_err(|e| FileError::classify(path, &e))?;
        if !journal.eq_ignore_ascii_case("wal") {
            return Err(FileError::Unusable {
                path: path.to_owned(),
                reason: format!("cannot enable WAL (journal_mode={journal})"),
            });
        }
        migrate::apply_migrations(&mut first).map_err(|e| FileError::Migration { path: path.to_owned(), reason: e })?;
        drop(first);

        let writer = Pool::builder()
            .max_size(1)
            .connection_timeout(Duration::from_secs(30))
            .build(SqliteConnectionManager::file(path).with_init(move |c| {
                configure(c, busy, cache_kib)?;
                // Checkpoints run on their own thread (below), not inside a commit.
                c.pragma_update(None, "wal_autocheckpoint", 0)
            }))
            .map_err(|e| FileError::Unusable { path: path.to_owned(), reason: e.to_string() })?;
        let readers = Pool::builder()
            .max_size(config.readers)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(30))
            .build(SqliteConnectionManager::file(path).with_init(move |c| {
                configure(c, busy, cache_kib)?;
                c.execute_batch("PRAGMA query_only=ON;")
            }))
            .map_err(|e| FileError::Unusable { path: path.to_owned(), reason: e.to_string() })?;
        let inner = Arc::new(DbInner {
            writer,
            readers,
            path: path.to_owned(),
            checkpoints: config.checkpoints,
            restart_wal: std::sync::atomic::AtomicBool::new(false),
        });
        // With `checkpoints = "external"` a WAL replicator (Litestream) owns
        // checkpointing: a checkpoint of ours racing its lock hand-over could
        // reset the WAL before it copied the frames (docs/operations.md).
        if config.checkpoints == CheckpointMode::Internal {
            let mut checkpointer = Connection::open(path).map_err(|e| FileError::classify(path, &e))?;
            configure(&mut checkpointer, busy, cache_kib).map_err(|e| FileError::classify(path, &e))?;
            start_checkpointer(checkpointer, Arc::downgrade(&inner))
                .map_err(|e| FileError::Unusable { path: path.to_owned(), reason: e.to_string() })?;
        }
        Ok(Db { inner })
    }

    /// The data file path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` on a read-only connection, off the async executor.
    pub async fn read<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce(&Connection) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let db = self.clone();
        run_blocking(move || db.read_blocking(f)).await
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction on the writer, off the async
    /// executor: `Ok` commits, `Err` rolls back.
    pub async fn write<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce(&Transaction<'_>) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let db = self.clone();
        run_blocking(move || db.write_blocking(f)).await
    }

    /// Blocking form of [`Db::read`] for CLI commands, jobs and tests.
    pub fn read_blocking<T>(&self, f: impl FnOnce(&Connection) -> AppResult<T>) -> AppResult<T> {
        let conn = self.inner.readers.get()?;
        f(&conn)
    }

    /// Blocking form of [`Db::write`].
    pub fn write_blocking<T>(&self, f: impl FnOnce(&Transaction<'_>) -> AppResult<T>) -> AppResult<T> {
        let mut conn = self.inner.writer.get()?;
        if self.inner.restart_wal.swap(false, std::sync::atomic::Ordering::Relaxed) {
            // Between two transactions of the only writer: readers alone can
            // delay it (up to the busy timeout; then it is asked for again).
            let (busy, frames): (i64, i64) =
                conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| Ok((r.get(0)?, r.get(1)?)))?;
            if busy != 0 {
                tracing::debug!(frames, "WAL restart deferred: a reader holds an old snapshot");
            }
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Folds the WAL into the main file; called on shutdown. Does nothing
    /// when checkpoints are external (the replicator folds it).
    pub fn checkpoint(&self) -> AppResult<()> {
        if self.inner.checkpoints == CheckpointMode::External {
            return Ok(());
        }
        let conn = self.inner.writer.get()?;
        // While the background checkpointer runs its PASSIVE pass, TRUNCATE
        // answers busy at once instead of waiting: try again for a while.
        for _ in 0..100 {
            let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
            if busy == 0 {
                return Ok(());
            }
            std::thread::sleep(CHECKPOINT_EVERY / 10);
        }
        // Nothing is lost: the WAL stays and is folded in at the next start.
        tracing::warn!(data = %self.inner.path.display(), "the WAL could not be folded into the data file (busy)");
        Ok(())
    }

    /// Writes a consistent copy of the live database to `out` (`VACUUM INTO`),
    /// safe while the server keeps writing.
    pub fn backup_to(&self, out: &Path) -> AppResult<()> {
        let conn = self.inner.writer.get()?;
        backup_connection(&conn, out)
    }

    /// Writer and reader pool statistics.
    #[must_use]
    pub fn pool_stats(&self) -> (PoolStats, PoolStats) {
        let stats = |p: &Pool<SqliteConnectionManager>| {
            let s = p.state();
            PoolStats { connections: s.connections, idle: s.idle_connections }
        };
        (stats(&self.inner.writer), stats(&self.inner.readers))
    }
}

/// How often the WAL is folded back into the main file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// A WAL longer than this many frames after a passive checkpoint is
/// restarted (64 MiB of 4 KiB pages).
const WAL_RESTART_FRAMES: i64 = if cfg!(test) { 1024 } else { 16_384 };

/// The WAL file is cut back to this size when it starts over.
const WAL_SIZE_LIMIT: i64 = if cfg!(test) { 4 } else { 64 } * 1024 * 1024;

/// Runs passive WAL checkpoints on a thread of their own while the database
/// is open. SQLite's automatic checkpoint runs inside the commit that crosses
/// its threshold, so every few hundred milliseconds under load one commit —
/// and every turn or request waiting on it — paid for copying thousands of
/// pages; a passive checkpoint here never blocks the writer.
///
/// The WAL only starts over from its beginning once every frame is in the
/// main file, and under sustained writes (an import, the analytics bench's
/// generation) a passive pass never catches up with the writer: the WAL grew
/// to 23 GB for a 2.7 GB database. Past [`WAL_RESTART_FRAMES`] the next
/// write runs a RESTART checkpoint on the writer's connection before its
/// transaction (copying the few frames the passive pass left) so that its
/// commit starts the WAL over. A checkpoint on a connection of its own would
/// wait for the writer lock, which a busy writer takes again at once.
fn start_checkpointer(conn: Connection, db: std::sync::Weak<DbInner>) -> std::io::Result<()> {
    std::thread::Builder::new().name("wal-checkpoint".into()).spawn(move || {
        loop {
            std::thread::sleep(CHECKPOINT_EVERY);
            if db.strong_count() == 0 {
                return;
            }
            match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1)) {
                Ok(frames) if frames > WAL_RESTART_FRAMES => {
                    if let Some(inner) = db.upgrade() {
                        inner.restart_wal.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
            }
        }
    })?;
    Ok(())
}

/// `VACUUM INTO` from any connection to a new file (refuses to overwrite).
pub fn backup_connection(conn: &Connection, out: &Path) -> AppResult<()> {
    if out.exists() {
        return Err(AppError::validation("out", format!("{} already exists; choose a new file", out.display())));
    }
    let target = out.to_str().ok_or_else(|| AppError::validation("out", "path is not valid UTF-8"))?;
    conn.execute("VACUUM INTO ?1", [target])?;
    Ok(())
}

fn configure(conn: &mut Connection, busy: Duration, cache_kib: i64) -> rusqlite::Result<()> {
    conn.busy_timeout(busy)?;
    // Room for every hot statement of the writer connection, which serves all domains.
    conn.set_prepared_statement_cache_capacity(256);
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "cache_size", -cache_kib)?;
    conn.pragma_update(None, "mmap_size", 256_i64 * 1024 * 1024)?;
    conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
    Ok(())
}

/// Runs blocking work on tokio's blocking pool inside the current span.
pub async fn run_blocking<T, F>(f: F) -> AppResult<T>
where
    F: FnOnce() -> AppResult<T> + Send + 'static,
    T: Send + 'static,
{
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(f)).await?
}

/// Registers sqlite-vec as an auto-extension so that every connection opened
/// afterwards has `vec0` and `vec_*` functions.
#[allow(unsafe_code)]
pub fn register_sqlite_vec() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: sqlite-vec exposes the standard SQLite extension entry point
        // `sqlite3_vec_init(db, pzErrMsg, pApi)`; the crate declares it with no
        // arguments, so we cast it to the signature sqlite3_auto_extension wants.
        // It is called by SQLite itself with valid pointers for each new connection.
        unsafe {
            #[allow(clippy::missing_transmute_annotations)]
            rusqlite::ffi::sqlite3_auto_extension(Some(std::mem::transmute(sqlite_vec::sqlite3_vec_init as *const ())));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_leave_checkpoints_to_the_checkpointer_thread() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("t.db");
        let db = Db::open(&path, &DbConfig::default()).expect("db");
        let autocheckpoint: i64 =
            db.write_blocking(|tx| Ok(tx.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))?)).expect("pragma");
        assert_eq!(autocheckpoint, 0, "the writer never checkpoints inside a commit");
        let before = std::fs::metadata(&path).expect("file").len();
        db.write_blocking(|tx| {
            tx.execute_batch("CREATE TABLE filler (data BLOB)")?;
            for _ in 0..512 {
                tx.execute("INSERT INTO filler (data) VALUES (zeroblob(4096))", [])?;
            }
            Ok(())
        })
        .expect("write");
        // The pages reach the main file without anyone asking.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::fs::metadata(&path).expect("file").len() < before + 2 * 1024 * 1024 {
            assert!(std::time::Instant::now() < deadline, "no checkpoint within 10 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        let rows: i64 =
            db.read_blocking(|c| Ok(c.query_row("SELECT count(*) FROM filler", [], |r| r.get(0))?)).expect("read");
        assert_eq!(rows, 512);
    }

    #[test]
    fn the_wal_stays_bounded_under_sustained_writes() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("t.db");
        let wal = dir.path().join("t.db-wal");
        let db = Db::open(&path, &DbConfig::default()).expect("db");
        db.write_blocking(|tx| Ok(tx.execute_batch("CREATE TABLE filler (data BLOB)")?)).expect("table");
        // Back-to-back commits, never a pause for a passive pass to catch up:
        // 160 MiB through a WAL restarted past 1,024 frames (4 MiB) once the
        // passive pass notices, which takes a pass of copying.
        let mut largest = 0;
        for round in 0..160 {
            db.write_blocking(|tx| {
                for _ in 0..256 {
                    tx.execute("INSERT INTO filler (data) VALUES (randomblob(4000))", [])?;
                }
                Ok(())
            })
            .expect("write");
            if round >= 80 {
                largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
            }
        }
        // Unbounded, it would hold all 160 MiB by now.
        assert!(largest < 96 * 1024 * 1024, "the WAL grew to {largest} bytes");
        let rows: i64 =
            db.read_blocking(|c| Ok(c.query_row("SELECT count(*) FROM filler", [], |r| r.get(0))?)).expect("read");
        assert_eq!(rows, 160 * 256);
    }
}

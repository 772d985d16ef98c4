//! Checks on a data file before anything writes to it, and the lock file that
//! keeps two processes from owning one database.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::APPLICATION_ID;
use super::migrate::{self, MIGRATIONS_TABLE};

/// Why a data file cannot be used. Every variant names the file and says what
/// to do; none of them has modified the file.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{path}: not an SQLite database (wrong header); refusing to touch it", path = .path.display())]
    NotSqlite { path: PathBuf },
    #[error("{path}: an SQLite database that is not a botbuilder data file ({reason}); refusing to touch it", path = .path.display())]
    NotBotbuilder { path: PathBuf, reason: String },
    #[error(
        "{path}: schema version {found} was written by a newer botbuilder (this binary knows up to {supported}); upgrade botbuilder",
        path = .path.display()
    )]
    NewerSchema { path: PathBuf, found: i32, supported: i32 },
    #[error("{path}: the database is corrupt ({reason}); restore it from a backup", path = .path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error("{path}: cannot be opened for writing ({reason})", path = .path.display())]
    Unusable { path: PathBuf, reason: String },
    #[error("{path}: migration failed, nothing was changed: {reason}", path = .path.display())]
    Migration { path: PathBuf, reason: String },
}

impl FileError {
    /// Turns an `SQLite` error met while opening into the matching variant.
    pub(crate) fn classify(path: &Path, err: &rusqlite::Error) -> FileError {
        let path = path.to_owned();
        match err.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase) => FileError::NotSqlite { path },
            Some(rusqlite::ErrorCode::DatabaseCorrupt) => FileError::Corrupt { path, reason: err.to_string() },
            _ => FileError::Unusable { path, reason: err.to_string() },
        }
    }
}

/// What a path holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileState {
    /// No file, or an empty one: a new database will be created.
    New,
    /// A botbuilder database at this schema version (0 = stamped but unmigrated).
    Botbuilder { version: i32 },
}

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Inspects `path` read-only: is it absent, or a botbuilder database of a
/// schema this binary knows?
pub fn inspect(path: &Path) -> Result<FileState, FileError> {
    let len = match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => {
            return Err(FileError::Unusable { path: path.to_owned(), reason: "it is a directory".into() });
        }
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FileState::New),
        Err(e) => return Err(FileError::Unusable { path: path.to_owned(), reason: e.to_string() }),
    };
    if len == 0 {
        return Ok(FileState::New);
    }
    let mut header = [0_u8; 100];
    let read = File::open(path)
        .and_then(|mut f| f.read(&mut header))
        .map_err(|e| FileError::Unusable { path: path.to_owned(), reason: e.to_string() })?;
    if read < 100 || &header[..16] != SQLITE_MAGIC {
        return Err(FileError::NotSqlite { path: path.to_owned() });
    }
    let app_id = i32::from_be_bytes([header[68], header[69], header[70], header[71]]);
    if app_id != 0 && app_id != APPLICATION_ID {
        return Err(FileError::NotBotbuilder { path: path.to_owned(), reason: format!("application_id {app_id:#x}") });
    }

    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| FileError::classify(path, &e))?;
    let user_tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'", [], |r| {
            r.get(0)
        })
        .map_err(|e| FileError::classify(path, &e))?;
    let has_history: bool = conn
        .query_row("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1", [MIGRATIONS_TABLE], |r| {
            r.get::<_, i64>(0)
        })
        .map(|n| n > 0)
        .map_err(|e| FileError::classify(path, &e))?;
    if !has_history {
        return if user_tables == 0 {
            Ok(FileState::New)
        } else {
            Err(FileError::NotBotbuilder {
                path: path.to_owned(),
                reason: "it has tables but no botbuilder schema history".into(),
            })
        };
    }
    let applied = migrate::applied_versions(&conn).map_err(|e| FileError::classify(path, &e))?;
    let version = applied.iter().map(|(v, _)| *v).max().unwrap_or(0);
    let supported = migrate::latest_version();
    if version > supported {
        return Err(FileError::NewerSchema { path: path.to_owned(), found: version, supported });
    }
    if let Some(reason) = migrate::divergence(&applied) {
        return Err(FileError::NotBotbuilder { path: path.to_owned(), reason });
    }
    Ok(FileState::Botbuilder { version })
}

/// Fails early, before `SQLite` writes anything, when `path` must not be opened.
pub(crate) fn check_openable(path: &Path) -> Result<(), FileError> {
    inspect(path).map(drop)
}

/// Runs `PRAGMA integrity_check` read-only; `Ok(())` when the file is sound.
pub fn integrity_check(path: &Path) -> Result<(), FileError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| FileError::classify(path, &e))?;
    let result: String =
        conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).map_err(|e| FileError::classify(path, &e))?;
    if result == "ok" { Ok(()) } else { Err(FileError::Corrupt { path: path.to_owned(), reason: result }) }
}

/// An exclusive lock on `<data>.lock`, held for as long as a process owns the
/// data file (serve, migrate, restore). Released when dropped or on exit.
#[derive(Debug)]
pub struct DataLock {
    _file: File,
    path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{0} is in use by another botbuilder process (lock held on {0}.lock); stop it first")]
    InUse(String),
    #[error("cannot create lock file {path}: {source}", path = .path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

impl DataLock {
    /// Takes the lock without waiting.
    pub fn acquire(data: &Path) -> Result<DataLock, LockError> {
        let mut name = data.as_os_str().to_os_string();
        name.push(".lock");
        let path = PathBuf::from(name);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| LockError::Io { path: path.clone(), source })?;
        match file.try_lock() {
            Ok(()) => Ok(DataLock { _file: file, path }),
            Err(std::fs::TryLockError::WouldBlock) => Err(LockError::InUse(data.display().to_string())),
            Err(std::fs::TryLockError::Error(source)) => Err(LockError::Io { path, source }),
        }
    }

    /// The lock file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

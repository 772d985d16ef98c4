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

/// What a write-ahead log left beside the data file holds. A clean stop
/// checkpoints and truncates the WAL, so a non-empty one means the last
/// process was killed or crashed; `SQLite` replays its committed frames (those
/// whose salts and running checksum are intact, up to the last commit frame)
/// and ignores the rest. This reads the same structure to say what that was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalReport {
    /// Size of the `-wal` file.
    pub bytes: u64,
    /// Whether the 32-byte header is intact (magic, version, checksum).
    pub header_valid: bool,
    /// Frames that will be replayed (intact, up to the last commit frame).
    pub replayed_frames: u64,
    /// Committed transactions among them.
    pub transactions: u64,
    /// Bytes after the last replayed frame: an incomplete write, damage, or
    /// stale frames of an earlier WAL generation; all ignored.
    pub ignored_bytes: u64,
}

impl WalReport {
    /// One log line.
    #[must_use]
    pub fn describe(&self, data: &Path) -> String {
        if self.header_valid {
            format!(
                "{}-wal: {} bytes left by an unclean stop; {} frames of {} committed transactions replayed, \
                 {} bytes after them ignored (an unfinished write, damage or stale frames)",
                data.display(),
                self.bytes,
                self.replayed_frames,
                self.transactions,
                self.ignored_bytes
            )
        } else {
            format!(
                "{}-wal: {} bytes with a damaged or foreign header, ignored entirely; the data file is used as of its \
                 last checkpoint",
                data.display(),
                self.bytes
            )
        }
    }
}

const WAL_HEADER: usize = 32;
const WAL_FRAME_HEADER: usize = 24;

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// `SQLite`'s WAL checksum over `data` (a multiple of 8 bytes), continuing from `s`.
fn wal_checksum(data: &[u8], big_endian: bool, mut s: (u32, u32)) -> (u32, u32) {
    for pair in data.chunks_exact(8) {
        let word = |w: &[u8]| {
            let w = [w[0], w[1], w[2], w[3]];
            if big_endian { u32::from_be_bytes(w) } else { u32::from_le_bytes(w) }
        };
        s.0 = s.0.wrapping_add(word(&pair[..4])).wrapping_add(s.1);
        s.1 = s.1.wrapping_add(word(&pair[4..])).wrapping_add(s.0);
    }
    s
}

/// Reads `<data>-wal` if it exists and is not empty.
pub fn inspect_wal(data: &Path) -> std::io::Result<Option<WalReport>> {
    let mut name = data.as_os_str().to_os_string();
    name.push("-wal");
    let bytes = match std::fs::read(PathBuf::from(name)) {
        Ok(b) if b.is_empty() => return Ok(None),
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(Some(parse_wal(&bytes)))
}

fn parse_wal(b: &[u8]) -> WalReport {
    let total = b.len() as u64;
    let invalid =
        WalReport { bytes: total, header_valid: false, replayed_frames: 0, transactions: 0, ignored_bytes: total };
    if b.len() < WAL_HEADER {
        return invalid;
    }
    let magic = be32(b, 0);
    if magic & !1 != 0x377f_0682 || be32(b, 4) != 3_007_000 {
        return invalid;
    }
    let big_endian = magic & 1 == 1;
    let page = be32(b, 8) as usize;
    let page = if page == 1 { 65_536 } else { page };
    if !(512..=65_536).contains(&page) || !page.is_power_of_two() {
        return invalid;
    }
    let mut sum = wal_checksum(&b[..24], big_endian, (0, 0));
    if sum != (be32(b, 24), be32(b, 28)) {
        return invalid;
    }
    let salts = (be32(b, 16), be32(b, 20));
    let (mut frames, mut replayed, mut transactions, mut end) = (0_u64, 0_u64, 0_u64, WAL_HEADER);
    let mut at = WAL_HEADER;
    while at + WAL_FRAME_HEADER + page <= b.len() {
        let header = &b[at..at + WAL_FRAME_HEADER];
        if (be32(header, 8), be32(header, 12)) != salts {
            break;
        }
        sum = wal_checksum(&header[..8], big_endian, sum);
        sum = wal_checksum(&b[at + WAL_FRAME_HEADER..at + WAL_FRAME_HEADER + page], big_endian, sum);
        if sum != (be32(header, 16), be32(header, 20)) {
            break;
        }
        frames += 1;
        at += WAL_FRAME_HEADER + page;
        if be32(header, 4) != 0 {
            // A commit frame: everything up to here is replayed.
            replayed = frames;
            transactions += 1;
            end = at;
        }
    }
    WalReport {
        bytes: total,
        header_valid: true,
        replayed_frames: replayed,
        transactions,
        ignored_bytes: total - end as u64,
    }
}

/// Runs `PRAGMA quick_check` on an open connection; `Ok(())` when sound.
pub(crate) fn quick_check(conn: &Connection, path: &Path) -> Result<(), FileError> {
    let mut st = conn.prepare("PRAGMA quick_check(20)").map_err(|e| FileError::classify(path, &e))?;
    let problems: Vec<String> = st
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(Iterator::collect)
        .map_err(|e| FileError::classify(path, &e))?;
    if problems.len() == 1 && problems[0] == "ok" {
        Ok(())
    } else {
        Err(FileError::Corrupt { path: path.to_owned(), reason: problems.join("; ") })
    }
}

#[cfg(test)]
mod wal_tests {
    use super::*;

    /// A data file as `kill -9` leaves it: committed rows only in the WAL.
    fn crashed_copy(dir: &Path, rows: i64) -> PathBuf {
        let live = dir.join("live.db");
        let conn = Connection::open(&live).expect("open");
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);",
        )
        .expect("setup");
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).expect("checkpoint");
        for i in 0..rows {
            conn.execute("INSERT INTO t (id, v) VALUES (?1, hex(randomblob(300)))", [i]).expect("insert");
        }
        // Copied while the connection is open: the WAL is not folded back.
        let copy = dir.join("crashed.db");
        std::fs::copy(&live, &copy).expect("copy db");
        std::fs::copy(dir.join("live.db-wal"), dir.join("crashed.db-wal")).expect("copy wal");
        drop(conn);
        copy
    }

    fn wal_of(data: &Path) -> PathBuf {
        PathBuf::from(format!("{}-wal", data.display()))
    }

    fn count(data: &Path) -> i64 {
        let conn = Connection::open(data).expect("open");
        conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).expect("count")
    }

    #[test]
    fn an_intact_wal_is_reported_with_every_transaction_replayed() {
        let dir = tempfile::tempdir().expect("dir");
        let data = crashed_copy(dir.path(), 20);
        let report = inspect_wal(&data).expect("read").expect("a WAL");
        assert!(report.header_valid);
        assert_eq!(report.transactions, 20);
        assert_eq!(report.ignored_bytes, 0, "{report:?}");
        assert_eq!(count(&data), 20);
    }

    #[test]
    fn a_wal_truncated_mid_frame_replays_the_complete_transactions_only() {
        let dir = tempfile::tempdir().expect("dir");
        let data = crashed_copy(dir.path(), 20);
        let wal = wal_of(&data);
        let len = std::fs::metadata(&wal).expect("wal").len();
        let file = std::fs::OpenOptions::new().write(true).open(&wal).expect("open wal");
        file.set_len(len - 1000).expect("truncate mid-frame");
        drop(file);
        let report = inspect_wal(&data).expect("read").expect("a WAL");
        assert!(report.header_valid);
        assert!(report.transactions < 20 && report.transactions > 0, "{report:?}");
        assert!(report.ignored_bytes > 0);
        // SQLite agrees with the report: the rows of the complete transactions, no more.
        assert_eq!(count(&data), i64::try_from(report.transactions).expect("small"));
    }

    #[test]
    fn garbage_in_the_wal_is_found_and_the_frames_before_it_are_kept() {
        let dir = tempfile::tempdir().expect("dir");
        let data = crashed_copy(dir.path(), 20);
        let wal = wal_of(&data);
        let mut bytes = std::fs::read(&wal).expect("wal");
        let middle = bytes.len() / 2;
        bytes[middle..middle + 64].fill(0xA5);
        std::fs::write(&wal, &bytes).expect("write");
        let report = inspect_wal(&data).expect("read").expect("a WAL");
        assert!(report.transactions < 20 && report.ignored_bytes > 0, "{report:?}");
        assert_eq!(count(&data), i64::try_from(report.transactions).expect("small"));

        // A garbage header: the whole WAL is ignored.
        bytes[..32].fill(0x5A);
        std::fs::write(&wal, &bytes).expect("write");
        let report = inspect_wal(&data).expect("read").expect("a WAL");
        assert!(!report.header_valid);
        assert_eq!(report.ignored_bytes, report.bytes);
        assert!(report.describe(&data).contains("ignored entirely"));
    }
}

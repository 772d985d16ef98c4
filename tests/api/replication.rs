//! `[db] checkpoints = "external"`: botbuilder leaves WAL checkpointing to a
//! replicator (Litestream) — no checkpointer thread, no automatic checkpoint,
//! none on shutdown — while another process's checkpoint still works.
//! The measured Litestream run is `packaging/litestream/replication-check.py`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use botbuilder::config::{CheckpointMode, DbConfig};
use botbuilder::db::Db;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{call_ok, spawn_app_with};

fn wal_len(path: &Path) -> u64 {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(PathBuf::from(wal)).map_or(0, |m| m.len())
}

fn fill(db: &Db) {
    db.write_blocking(|tx| {
        tx.execute_batch("CREATE TABLE filler (data BLOB)")?;
        for _ in 0..512 {
            tx.execute("INSERT INTO filler (data) VALUES (zeroblob(4096))", [])?;
        }
        Ok(())
    })
    .expect("write");
}

#[test]
fn external_checkpoints_leave_the_wal_to_the_replicator() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("t.db");
    let db = Db::open(&path, &DbConfig { checkpoints: CheckpointMode::External, ..DbConfig::default() }).expect("db");
    let autocheckpoint: i64 =
        db.write_blocking(|tx| Ok(tx.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))?)).expect("pragma");
    assert_eq!(autocheckpoint, 0, "no automatic checkpoint inside a commit either");
    let before = std::fs::metadata(&path).expect("file").len();
    fill(&db);
    // Well past several periods of the internal checkpointer (250 ms).
    std::thread::sleep(Duration::from_millis(1500));
    db.checkpoint().expect("the shutdown checkpoint is a no-op");
    assert_eq!(std::fs::metadata(&path).expect("file").len(), before, "nothing was folded into the data file");
    assert!(wal_len(&path) >= 2 * 1024 * 1024, "the frames wait in the WAL for the replicator");
    // The replicator's own checkpoint (another connection) folds them in.
    let other = rusqlite::Connection::open(&path).expect("open");
    other.busy_timeout(Duration::from_secs(5)).expect("busy timeout");
    other.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).expect("checkpoint");
    assert!(std::fs::metadata(&path).expect("file").len() >= before + 2 * 1024 * 1024);
    assert_eq!(wal_len(&path), 0);
}

#[test]
fn internal_checkpoints_still_fold_the_wal_by_default() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("t.db");
    let db = Db::open(&path, &DbConfig::default()).expect("db");
    let before = std::fs::metadata(&path).expect("file").len();
    fill(&db);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::fs::metadata(&path).expect("file").len() < before + 2 * 1024 * 1024 {
        assert!(std::time::Instant::now() < deadline, "no checkpoint within 10 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Stops a server holding an idle connection of its own open, as Litestream
/// does (else SQLite's last connection checkpoints on close), and answers the
/// WAL size before and after the stop.
async fn wal_through_a_restart(mode: CheckpointMode) -> (u64, u64) {
    let app = spawn_app_with(|c| c.db.checkpoints = mode).await;
    let s = app.register("litestream@example.com").await;
    call_ok(&app, &s, Method::POST, &format!("/api/v1/orgs/{}/bots", s.org_id), Some(json!({ "name": "Kept" }))).await;
    let path = app.data_path();
    let replicator = rusqlite::Connection::open(&path).expect("open");
    // A read maps the WAL index: from then on this connection counts, as Litestream's does.
    let _: i64 = replicator.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0)).expect("read");
    let before = wal_len(&path);
    let app = app.restart(|c| c.db.checkpoints = mode).await;
    let after = wal_len(&path);
    assert_eq!(app.count("SELECT count(*) FROM bots WHERE name = 'Kept'"), 1);
    drop(replicator);
    (before, after)
}

#[tokio::test]
async fn a_server_with_external_checkpoints_leaves_the_wal_on_shutdown() {
    let (before, after) = wal_through_a_restart(CheckpointMode::External).await;
    assert!(before > 0, "the writes are in the WAL");
    assert!(after >= before, "the shutdown left the WAL to the replicator ({before} -> {after} bytes)");
    // The default truncates it on shutdown.
    let (before, after) = wal_through_a_restart(CheckpointMode::Internal).await;
    assert!(before > 0 && after < before, "internal: the shutdown checkpoint truncates ({before} -> {after} bytes)");
}

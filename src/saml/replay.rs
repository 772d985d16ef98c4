//! The replay cache of assertion ids: an assertion is accepted once. An id is remembered
//! until the assertion would be refused as expired anyway (its `NotOnOrAfter` plus skew).

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use super::{SamlError, SamlErrorKind};

/// Remembers used assertion ids.
pub trait ReplayCache {
    /// Records `(issuer, assertion_id)` until `expires_at`; `Ok(true)` when it was not seen
    /// before (the assertion may be used), `Ok(false)` for a replay.
    fn check_and_store(
        &self,
        issuer: &str,
        assertion_id: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, SamlError>;
}

/// In memory, for one process (tests, or a single node without the database at hand).
#[derive(Debug, Default)]
pub struct MemoryReplayCache {
    seen: Mutex<HashMap<(String, String), DateTime<Utc>>>,
}

impl MemoryReplayCache {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

impl ReplayCache for MemoryReplayCache {
    fn check_and_store(
        &self,
        issuer: &str,
        assertion_id: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, SamlError> {
        let mut seen =
            self.seen.lock().map_err(|_| SamlError::new(SamlErrorKind::Storage, "replay cache lock poisoned"))?;
        seen.retain(|_, exp| *exp > now);
        let key = (issuer.to_owned(), assertion_id.to_owned());
        if seen.contains_key(&key) {
            return Ok(false);
        }
        seen.insert(key, expires_at);
        Ok(true)
    }
}

const PURGE: &str = "DELETE FROM saml_replay_cache WHERE expires_at <= ?1";
const INSERT: &str = "INSERT INTO saml_replay_cache (issuer, assertion_id, expires_at) VALUES (?1, ?2, ?3) \
                      ON CONFLICT (issuer, assertion_id) DO NOTHING";

/// In the `saml_replay_cache` table (V081): survives restarts. Use it on the writer
/// connection, e.g. inside `db.write(|tx| verify_response(.., &SqliteReplayCache::new(tx), ..))`.
pub struct SqliteReplayCache<'a> {
    conn: &'a rusqlite::Connection,
}

impl<'a> SqliteReplayCache<'a> {
    #[must_use]
    pub const fn new(conn: &'a rusqlite::Connection) -> Self {
        Self { conn }
    }
}

impl ReplayCache for SqliteReplayCache<'_> {
    fn check_and_store(
        &self,
        issuer: &str,
        assertion_id: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, SamlError> {
        let storage = |e: rusqlite::Error| SamlError::new(SamlErrorKind::Storage, format!("replay cache: {e}"));
        self.conn.execute(PURGE, [now.timestamp()]).map_err(storage)?;
        let inserted = self
            .conn
            .execute(INSERT, rusqlite::params![issuer, assertion_id, expires_at.timestamp()])
            .map_err(storage)?;
        Ok(inserted == 1)
    }
}

//! The master key check: the data file stores a check value of the master key
//! it was written with (`settings` key [`SETTING`]), so that a data file opened
//! with another key — a restore without its key file, a wrong
//! `--secret-key-file` — is refused before anything fails to decrypt.
//!
//! `--rekey` (serve and restore) accepts the other key on purpose: secrets
//! that cannot be decrypted with it are cleared, listed and audited, and the
//! new check value is stored.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params};
use serde::Serialize;
use serde_json::json;

use crate::crypto::{KeyError, Keys};
use crate::db::{Db, FileError};
use crate::error::AppResult;

/// The `settings` row holding the check value (a JSON string).
pub const SETTING: &str = "crypto.key_check";

/// Whether a key that does not match the data file may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyPolicy {
    /// Refuse a key whose check value differs from the stored one.
    #[default]
    Strict,
    /// Use the key anyway: clear what it cannot decrypt (`--rekey`).
    Rekey,
}

/// The check value stored in the data file at `path`, read without writing
/// (`None`: a new file, or one written before check values existed).
pub fn stored_check(path: &Path) -> Result<Option<String>, FileError> {
    if !path.exists() || std::fs::metadata(path).is_ok_and(|m| m.len() == 0) {
        return Ok(None);
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| FileError::classify(path, &e))?;
    let has_settings: bool = conn
        .query_row("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'settings'", [], |r| {
            r.get::<_, i64>(0)
        })
        .map(|n| n > 0)
        .map_err(|e| FileError::classify(path, &e))?;
    if !has_settings {
        return Ok(None);
    }
    read_check(&conn).map_err(|e| FileError::classify(path, &e))
}

fn read_check(conn: &Connection) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT json_extract(value, '$') FROM settings WHERE key = ?1", [SETTING], |r| r.get(0)).optional()
}

fn write_check(conn: &Connection, check: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?1, json_quote(?2))
         ON CONFLICT (key) DO UPDATE SET value = excluded.value,
             updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')",
        params![SETTING, check],
    )?;
    Ok(())
}

/// The first characters of a check value, enough to tell keys apart in a message.
#[must_use]
pub fn short_check(check: &str) -> String {
    format!("{}…", check.get(..16).unwrap_or(check))
}

/// Loads the master key for the data file `data` (whose stored check value is
/// `stored`) from `key_path`. A missing key file is created only when the
/// data file names no key, or with [`KeyPolicy::Rekey`]; a key that does not
/// match is refused unless re-keying.
pub fn load_keys(data: &Path, key_path: &Path, stored: Option<&str>, policy: KeyPolicy) -> Result<Keys, KeyError> {
    match (Keys::load(key_path)?, stored) {
        (Some(keys), Some(stored)) if policy == KeyPolicy::Strict && keys.check_value() != stored => {
            Err(KeyError::Mismatch {
                data: data.to_owned(),
                path: key_path.to_owned(),
                stored: short_check(stored),
                found: short_check(&keys.check_value()),
            })
        }
        (Some(keys), _) => Ok(keys),
        (None, Some(stored)) if policy == KeyPolicy::Strict => {
            Err(KeyError::Missing { data: data.to_owned(), path: key_path.to_owned(), stored: short_check(stored) })
        }
        (None, _) => Keys::create(key_path),
    }
}

/// One secret cleared by a re-key, or one credential that stops working.
#[derive(Debug, Clone, Serialize)]
pub struct Cleared {
    pub table: &'static str,
    pub id: i64,
    pub organization_id: Option<i64>,
    /// What happened to it, in words.
    pub what: String,
}

/// What a re-key did.
#[derive(Debug, Clone, Serialize, Default)]
pub struct RekeyReport {
    /// The check value stored before (absent for an old data file).
    pub previous_check: Option<String>,
    pub new_check: String,
    pub cleared: Vec<Cleared>,
}

impl RekeyReport {
    /// Lines for the operator: one per cleared secret or affected token.
    #[must_use]
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "re-keyed the data file: check value {} -> {}; {} item(s) affected",
            self.previous_check.as_deref().map_or_else(|| "(none)".to_owned(), short_check),
            short_check(&self.new_check),
            self.cleared.len()
        )];
        for c in &self.cleared {
            let org = c.organization_id.map(|o| format!(" (organization {o})")).unwrap_or_default();
            lines.push(format!("  {} {}{org}: {}", c.table, c.id, c.what));
        }
        lines
    }
}

/// After the data file is open: stores the check value of a data file that
/// has none yet, and with [`KeyPolicy::Rekey`] and a different stored value
/// re-keys it. Returns the re-key report when one happened.
pub fn settle(db: &Db, keys: &Keys, policy: KeyPolicy) -> AppResult<Option<RekeyReport>> {
    let check = keys.check_value();
    db.write_blocking(|tx| {
        let stored = read_check(tx)?;
        match stored {
            None => {
                write_check(tx, &check)?;
                Ok(None)
            }
            Some(s) if s == check => Ok(None),
            Some(previous) => {
                if policy == KeyPolicy::Strict {
                    // `load_keys` refused this already; never write over another key's data.
                    return Err(crate::error::AppError::internal(anyhow::anyhow!(
                        "the data file's key check value changed while opening it"
                    )));
                }
                let report = rekey(tx, keys, Some(previous))?;
                Ok(Some(report))
            }
        }
    })
}

/// Clears every secret `keys` cannot decrypt, lists API tokens (stored as
/// MACs under the old key, so they no longer match), audits it all and
/// stores the new check value.
fn rekey(tx: &Transaction<'_>, keys: &Keys, previous_check: Option<String>) -> AppResult<RekeyReport> {
    let mut cleared = Vec::new();
    clear_llm_keys(tx, keys, &mut cleared)?;
    clear_totp_secrets(tx, keys, &mut cleared)?;
    clear_sealed_columns(tx, &mut cleared)?;
    if crate::admin::instance::clear_unreadable_smtp_password(tx, keys)? {
        cleared.push(Cleared {
            table: "settings",
            id: 0,
            organization_id: None,
            what: "instance.smtp password cleared; set it again in the admin console".into(),
        });
    }
    list_api_tokens(tx, &mut cleared)?;
    let report = RekeyReport { previous_check, new_check: keys.check_value(), cleared };
    tx.execute(
        "INSERT INTO admin_audit_log (action, resource_type, details) VALUES ('crypto.rekey', 'settings', ?1)",
        [json!({
            "previous_check": report.previous_check,
            "new_check": report.new_check,
            "cleared": report.cleared,
        })
        .to_string()],
    )?;
    write_check(tx, &report.new_check)?;
    Ok(report)
}

fn clear_llm_keys(tx: &Transaction<'_>, keys: &Keys, cleared: &mut Vec<Cleared>) -> rusqlite::Result<()> {
    // LLM provider keys: an empty value marks "cleared by a re-key", which
    // the provider's calls report as `secret_unreadable` until a key is set.
    let providers: Vec<(i64, i64, Vec<u8>)> = {
        let mut stmt = tx.prepare(
            "SELECT id, organization_id, api_key_encrypted FROM llm_providers
             WHERE api_key_encrypted IS NOT NULL AND length(api_key_encrypted) > 0 ORDER BY id",
        )?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<rusqlite::Result<_>>()?
    };
    for (id, org, sealed) in providers {
        let context = crate::llm::service::key_context(crate::llm::model::LlmProviderId(id));
        if keys.decrypt(&sealed, &context).is_err() {
            tx.execute("UPDATE llm_providers SET api_key_encrypted = X'' WHERE id = ?1", [id])?;
            cleared.push(Cleared {
                table: "llm_providers",
                id,
                organization_id: Some(org),
                what: "API key cleared; set it again".into(),
            });
        }
    }

    Ok(())
}

fn clear_totp_secrets(tx: &Transaction<'_>, keys: &Keys, cleared: &mut Vec<Cleared>) -> rusqlite::Result<()> {
    // TOTP secrets: two-factor sign-in is turned off (with its backup codes)
    // and the user must set it up again.
    let users: Vec<(i64, Vec<u8>)> = {
        let mut stmt = tx.prepare(
            "SELECT id, totp_secret_encrypted FROM users WHERE totp_secret_encrypted IS NOT NULL ORDER BY id",
        )?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?
    };
    for (id, sealed) in users {
        let context = crate::accounts::totp::secret_context(crate::ids::UserId(id));
        if keys.decrypt(&sealed, &context).is_err() {
            tx.execute(
                "UPDATE users SET two_factor_enabled = 0, two_factor_enabled_at = NULL, totp_secret_encrypted = NULL,
                        totp_last_step = NULL WHERE id = ?1",
                [id],
            )?;
            tx.execute("DELETE FROM two_factor_backup_codes WHERE user_id = ?1", [id])?;
            cleared.push(Cleared {
                table: "users",
                id,
                organization_id: None,
                what: "two-factor secret cleared and two-factor sign-in turned off; the user must set it up again"
                    .into(),
            });
        }
    }

    Ok(())
}

fn clear_sealed_columns(tx: &Transaction<'_>, cleared: &mut Vec<Cleared>) -> rusqlite::Result<()> {
    // Encrypted columns whose owner sets them again (a channel's token and
    // webhook secret, and columns no code writes yet): whatever they hold was
    // sealed under the old key, so it is cleared. A channel then reads as
    // having no credentials: its inbound answers 401 until it is set up again.
    for (table, column) in [
        ("bots", "webhook_secret_encrypted"),
        ("channels", "credentials_encrypted"),
        ("channels", "webhook_secret_encrypted"),
        ("integrations", "credentials_encrypted"),
        ("sso_configurations", "private_key_encrypted"),
        ("sso_configurations", "client_secret_encrypted"),
    ] {
        // Table and column names come from the fixed list above.
        let select = format!("SELECT id, organization_id FROM {table} WHERE {column} IS NOT NULL ORDER BY id");
        let rows: Vec<(i64, Option<i64>)> = {
            let mut stmt = tx.prepare(&select)?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?
        };
        if rows.is_empty() {
            continue;
        }
        tx.execute(&format!("UPDATE {table} SET {column} = NULL WHERE {column} IS NOT NULL"), [])?;
        for (id, org) in rows {
            cleared.push(Cleared { table, id, organization_id: org, what: format!("{column} cleared; set it again") });
        }
    }
    let webhooks: Vec<(i64, i64)> = {
        let mut stmt = tx.prepare("SELECT id, organization_id FROM webhooks ORDER BY id")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?
    };
    if !webhooks.is_empty() {
        tx.execute(
            "UPDATE webhooks SET secret_encrypted = X'', previous_secret_encrypted = NULL,
                    previous_secret_expires_at = NULL, is_active = 0",
            [],
        )?;
    }
    for (id, org) in webhooks {
        cleared.push(Cleared {
            table: "webhooks",
            id,
            organization_id: Some(org),
            what: "signing secret cleared and the webhook disabled; set a new secret".into(),
        });
    }

    Ok(())
}

fn list_api_tokens(tx: &Transaction<'_>, cleared: &mut Vec<Cleared>) -> rusqlite::Result<()> {
    // API tokens are stored as HMACs under the old key: they stop matching.
    let tokens: Vec<(i64, i64, String)> = {
        let mut stmt = tx
            .prepare("SELECT id, organization_id, token_prefix FROM api_tokens WHERE revoked_at IS NULL ORDER BY id")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<rusqlite::Result<_>>()?
    };
    for (id, org, prefix) in tokens {
        cleared.push(Cleared {
            table: "api_tokens",
            id,
            organization_id: Some(org),
            what: format!("token {prefix}… no longer matches (it was HMACed under the old key); re-issue it"),
        });
    }

    Ok(())
}

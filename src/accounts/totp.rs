//! Two-factor authentication: TOTP (RFC 6238, SHA-1, 6 digits, 30 s) with
//! the secret AEAD-encrypted at rest, replay protection through the last
//! accepted time step, and ten single-use backup codes stored hashed.

use qrcode::QrCode;
use qrcode::render::svg;
use rusqlite::Transaction;
use serde_json::json;
use totp_rs::{Algorithm, TOTP};

use super::model::{BackupCodes, DisableTwoFactorRequest, TwoFactorCodeRequest, TwoFactorSetup, TwoFactorStatus};
use super::service::{queue_security_notice, verify_password};
use super::store;
use crate::app::AppState;
use crate::crypto::{Keys, constant_time_eq, sha256};
use crate::db::{now, run_blocking};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::ClientInfo;
use crate::ids::UserId;
use crate::orgs::audit::{self, AuditEntry};

/// Shown by authenticator apps next to the account.
pub const ISSUER: &str = "botbuilder";
const STEP_SECS: u64 = 30;
const BACKUP_CODES: usize = 10;
const BACKUP_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

pub(crate) fn secret_context(user: UserId) -> String {
    format!("users.totp_secret:{}", user.0)
}

fn totp(secret: Vec<u8>, account: &str) -> AppResult<TOTP> {
    TOTP::new(Algorithm::SHA1, 6, 1, STEP_SECS, secret, Some(ISSUER.to_owned()), account.to_owned())
        .map_err(|e| AppError::internal(anyhow::anyhow!("totp: {e:?}")))
}

fn unix_now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or_default()
}

/// The time step a 6-digit `code` belongs to (current step ± 1), if it is
/// later than `last_step`: a code is accepted once, and never one older than
/// the last accepted.
#[must_use]
pub fn match_step(totp: &TOTP, code: &str, unix_secs: u64, last_step: Option<i64>) -> Option<i64> {
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = unix_secs / STEP_SECS;
    let mut matched = None;
    for step in current.saturating_sub(1)..=current + 1 {
        if constant_time_eq(totp.generate(step * STEP_SECS).as_bytes(), code.as_bytes()) {
            matched = i64::try_from(step).ok();
        }
    }
    matched.filter(|step| last_step.is_none_or(|last| *step > last))
}

/// A backup code as typed (any case, dashes and spaces ignored), normalized.
#[must_use]
pub fn normalize_backup_code(raw: &str) -> Option<String> {
    let code: String = raw.chars().filter(|c| !matches!(c, '-' | ' ')).flat_map(char::to_lowercase).collect();
    (code.len() == 10 && code.bytes().all(|b| BACKUP_ALPHABET.contains(&b))).then_some(code)
}

/// Ten new backup codes (`xxxxx-xxxxx`, about 49 bits each) and their hashes.
#[must_use]
pub fn generate_backup_codes() -> (Vec<String>, Vec<[u8; 32]>) {
    (0..BACKUP_CODES)
        .map(|_| {
            let raw: String =
                (0..10).map(|_| char::from(BACKUP_ALPHABET[rand::random_range(0..BACKUP_ALPHABET.len())])).collect();
            let display = format!("{}-{}", &raw[..5], &raw[5..]);
            (display, sha256(raw.as_bytes()))
        })
        .unzip()
}

/// How a second factor was proven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Factor {
    Totp,
    BackupCode,
}

/// Checks a second factor inside the caller's write transaction: an
/// authenticator code (its step is recorded, so it cannot be replayed) or,
/// with `allow_backup`, a backup code (used up). `None`: wrong.
pub fn check_second_factor(
    tx: &Transaction<'_>,
    keys: &Keys,
    user: UserId,
    code: &str,
    allow_backup: bool,
) -> AppResult<Option<Factor>> {
    let code = code.trim();
    let state = store::totp_state(tx, user)?.ok_or_else(|| AppError::new(ErrorCode::UserNotFound, "no such user"))?;
    let Some(sealed) = state.secret else { return Ok(None) };
    if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        let secret = keys.decrypt(&sealed, &secret_context(user)).map_err(|_| {
            AppError::new(
                ErrorCode::SecretUnreadable,
                "the two-factor secret of this account cannot be decrypted with this server's master key; \
                 sign in with a backup code or ask an administrator to re-key or reset two-factor sign-in",
            )
            .with_details(json!({ "field": "code", "secret": "users.totp_secret" }))
        })?;
        let totp = totp(secret, &state.email)?;
        return Ok(match match_step(&totp, code, unix_now(), state.last_step) {
            Some(step) => {
                store::set_totp_step(tx, user, step)?;
                Some(Factor::Totp)
            }
            None => None,
        });
    }
    if allow_backup && let Some(normalized) = normalize_backup_code(code) {
        let consumed = store::use_backup_code(tx, user, &sha256(normalized.as_bytes()), &now())?;
        return Ok(consumed.then_some(Factor::BackupCode));
    }
    Ok(None)
}

fn wrong_code() -> AppError {
    AppError::new(ErrorCode::InvalidTwoFactorCode, "the code is wrong, expired or was already used")
        .with_details(json!({ "field": "code" }))
}

/// The current user's two-factor state.
pub async fn status(state: &AppState, user: UserId) -> AppResult<TwoFactorStatus> {
    state
        .db
        .read(move |c| {
            let s =
                store::totp_state(c, user)?.ok_or_else(|| AppError::new(ErrorCode::UserNotFound, "no such user"))?;
            Ok(TwoFactorStatus {
                enabled: s.enabled,
                enabled_at: s.enabled_at,
                pending_setup: !s.enabled && s.secret.is_some(),
                backup_codes_remaining: store::backup_codes_remaining(c, user)?,
            })
        })
        .await
}

/// Starts setup: a new secret (replacing an unfinished setup), shown once as
/// an otpauth URI, a QR code and base32.
pub async fn setup(state: &AppState, user: UserId, client: ClientInfo) -> AppResult<TwoFactorSetup> {
    let secret: [u8; 20] = rand::random();
    let sealed = state.keys.encrypt(&secret, &secret_context(user));
    let email = state
        .db
        .write(move |tx| {
            let s =
                store::totp_state(tx, user)?.ok_or_else(|| AppError::new(ErrorCode::UserNotFound, "no such user"))?;
            if s.enabled {
                return Err(AppError::new(
                    ErrorCode::TwoFactorAlreadyEnabled,
                    "two-factor authentication is already on; disable it first",
                ));
            }
            store::set_pending_totp_secret(tx, user, &sealed)?;
            audit::record(tx, &AuditEntry::by_user(user, "user.2fa.setup_started", "user", user.0).from(&client))?;
            Ok(s.email)
        })
        .await?;
    let totp = totp(secret.to_vec(), &email)?;
    let otpauth_uri = totp.get_url();
    let qr_svg = QrCode::new(otpauth_uri.as_bytes())
        .map_err(|e| AppError::internal(anyhow::anyhow!("qr: {e}")))?
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    Ok(TwoFactorSetup { secret: totp.get_secret_base32(), otpauth_uri, qr_svg })
}

/// Turns two-factor on after a correct code from the new secret; returns the
/// first backup codes.
pub async fn enable(
    state: &AppState,
    user: UserId,
    req: TwoFactorCodeRequest,
    client: ClientInfo,
) -> AppResult<BackupCodes> {
    let keys = state.keys.clone();
    let (codes, hashes) = generate_backup_codes();
    state
        .db
        .write(move |tx| {
            let s =
                store::totp_state(tx, user)?.ok_or_else(|| AppError::new(ErrorCode::UserNotFound, "no such user"))?;
            if s.enabled {
                return Err(AppError::new(
                    ErrorCode::TwoFactorAlreadyEnabled,
                    "two-factor authentication is already on",
                ));
            }
            if s.secret.is_none() {
                return Err(AppError::new(ErrorCode::TwoFactorNotEnabled, "start with POST /api/v1/me/2fa/setup"));
            }
            if check_second_factor(tx, &keys, user, &req.code, false)?.is_none() {
                return Err(wrong_code());
            }
            store::enable_two_factor(tx, user, &now())?;
            store::replace_backup_codes(tx, user, &hashes)?;
            audit::record(tx, &AuditEntry::by_user(user, "user.2fa.enabled", "user", user.0).from(&client))?;
            queue_security_notice(tx, user, &s.email, "Two-factor authentication was turned on for your account")?;
            Ok(())
        })
        .await?;
    state.jobs.notify();
    Ok(BackupCodes { backup_codes: codes })
}

/// Turns two-factor off; needs the password and a code (or a backup code).
pub async fn disable(
    state: &AppState,
    user: UserId,
    req: DisableTwoFactorRequest,
    client: ClientInfo,
) -> AppResult<()> {
    let stored = state.db.read(move |c| Ok(store::password_hash_of(c, user)?)).await?.unwrap_or_default();
    let password = req.password;
    if !run_blocking(move || Ok(verify_password(&password, &stored))).await? {
        return Err(AppError::validation("password", "is incorrect"));
    }
    let keys = state.keys.clone();
    state
        .db
        .write(move |tx| {
            let s =
                store::totp_state(tx, user)?.ok_or_else(|| AppError::new(ErrorCode::UserNotFound, "no such user"))?;
            if !s.enabled {
                return Err(AppError::new(ErrorCode::TwoFactorNotEnabled, "two-factor authentication is not on"));
            }
            if check_second_factor(tx, &keys, user, &req.code, true)?.is_none() {
                return Err(wrong_code());
            }
            store::disable_two_factor(tx, user)?;
            audit::record(tx, &AuditEntry::by_user(user, "user.2fa.disabled", "user", user.0).from(&client))?;
            queue_security_notice(tx, user, &s.email, "Two-factor authentication was turned off for your account")?;
            Ok(())
        })
        .await?;
    state.jobs.notify();
    Ok(())
}

/// Replaces the backup codes; needs a current authenticator code.
pub async fn regenerate_backup_codes(
    state: &AppState,
    user: UserId,
    req: TwoFactorCodeRequest,
    client: ClientInfo,
) -> AppResult<BackupCodes> {
    let keys = state.keys.clone();
    let (codes, hashes) = generate_backup_codes();
    state
        .db
        .write(move |tx| {
            let s =
                store::totp_state(tx, user)?.ok_or_else(|| AppError::new(ErrorCode::UserNotFound, "no such user"))?;
            if !s.enabled {
                return Err(AppError::new(ErrorCode::TwoFactorNotEnabled, "two-factor authentication is not on"));
            }
            if check_second_factor(tx, &keys, user, &req.code, false)?.is_none() {
                return Err(wrong_code());
            }
            store::replace_backup_codes(tx, user, &hashes)?;
            audit::record(
                tx,
                &AuditEntry::by_user(user, "user.2fa.backup_codes_regenerated", "user", user.0).from(&client),
            )?;
            Ok(())
        })
        .await?;
    Ok(BackupCodes { backup_codes: codes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_within_one_step_and_never_twice() {
        let t = totp(vec![7; 20], "a@x.io").expect("totp");
        let now = 1_700_000_000;
        let step = i64::try_from(now / STEP_SECS).expect("step");
        let code = t.generate(now);
        assert_eq!(match_step(&t, &code, now, None), Some(step));
        assert_eq!(match_step(&t, &code, now + 30, None), Some(step), "one step of drift");
        assert_eq!(match_step(&t, &code, now + 90, None), None, "too old");
        assert_eq!(match_step(&t, &code, now, Some(step)), None, "replay");
        assert_eq!(match_step(&t, "12345", now, None), None);
        let next = t.generate(now + 30);
        assert_eq!(match_step(&t, &next, now + 30, Some(step)), Some(step + 1));
    }

    #[test]
    fn backup_codes_are_distinct_and_normalize() {
        let (codes, hashes) = generate_backup_codes();
        assert_eq!(codes.len(), 10);
        let unique: std::collections::BTreeSet<_> = hashes.iter().collect();
        assert_eq!(unique.len(), 10);
        let typed = codes[0].to_uppercase().replace('-', " ");
        let normalized = normalize_backup_code(&typed).expect("normalizes");
        assert_eq!(sha256(normalized.as_bytes()), hashes[0]);
        assert!(normalize_backup_code("short").is_none());
    }
}

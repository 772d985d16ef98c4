//! `Stripe-Signature: t=1492774577,v1=5257a8…,v1=…,v0=…`: an HMAC-SHA256 of
//! `{t}.{raw body}` keyed with the endpoint's signing secret. Any `v1` may
//! match any configured secret (Stripe sends one signature per active secret
//! while a secret is rotated); `t` must be within the tolerance of now, so a
//! captured request cannot be replayed later.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Why a signature was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing")]
    Missing,
    #[error("the Stripe-Signature header has no timestamp or no v1 signature")]
    Malformed,
    #[error("the signed timestamp is outside the tolerance")]
    TooOld,
    #[error("no v1 signature matches a configured secret")]
    NoMatch,
    #[error("no webhook signing secret is configured")]
    NoSecrets,
}

/// Checks `header` against `payload` and `secrets` at time `now` (Unix
/// seconds); answers the signed timestamp.
pub fn verify(
    header: Option<&str>,
    payload: &[u8],
    secrets: &[String],
    tolerance_secs: u64,
    now: i64,
) -> Result<i64, SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    if secrets.is_empty() {
        return Err(SignatureError::NoSecrets);
    }
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let Some((key, value)) = part.trim().split_once('=') else { continue };
        match key {
            "t" => timestamp = value.parse::<i64>().ok(),
            "v1" => {
                if let Ok(bytes) = hex::decode(value) {
                    signatures.push(bytes);
                }
            }
            _ => {}
        }
    }
    let (Some(t), false) = (timestamp, signatures.is_empty()) else { return Err(SignatureError::Malformed) };
    if now.abs_diff(t) > tolerance_secs {
        return Err(SignatureError::TooOld);
    }
    for secret in secrets {
        for signature in &signatures {
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else { continue };
            mac.update(t.to_string().as_bytes());
            mac.update(b".");
            mac.update(payload);
            // Constant-time comparison.
            if mac.verify_slice(signature).is_ok() {
                return Ok(t);
            }
        }
    }
    Err(SignatureError::NoMatch)
}

/// The `v1` signature of `payload` at `t` with `secret` (hex), as Stripe
/// computes it.
#[must_use]
pub fn sign(secret: &str, t: i64, payload: &[u8]) -> String {
    // HMAC takes keys of any length: the error branch is never taken.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else { return String::new() };
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";

    #[test]
    fn a_valid_signature_among_several_and_any_secret_is_accepted() {
        let body = br#"{"id":"evt_1","object":"event"}"#;
        let t = 1_700_000_000;
        let good = sign(SECRET, t, body);
        let header = format!("t={t},v1={},v1={good},v0=abc", "00".repeat(32));
        let secrets = vec!["whsec_old".to_owned(), SECRET.to_owned()];
        assert_eq!(verify(Some(&header), body, &secrets, 300, t + 10), Ok(t));
    }

    #[test]
    fn stale_tampered_unsigned_and_foreign_signatures_are_refused() {
        let body = br#"{"id":"evt_1"}"#;
        let t = 1_700_000_000;
        let header = format!("t={t},v1={}", sign(SECRET, t, body));
        let secrets = vec![SECRET.to_owned()];
        assert_eq!(verify(Some(&header), body, &secrets, 300, t + 301), Err(SignatureError::TooOld));
        assert_eq!(verify(Some(&header), b"{\"id\":\"evt_2\"}", &secrets, 300, t), Err(SignatureError::NoMatch));
        assert_eq!(verify(Some(&header), body, &["whsec_other".to_owned()], 300, t), Err(SignatureError::NoMatch));
        assert_eq!(verify(None, body, &secrets, 300, t), Err(SignatureError::Missing));
        assert_eq!(verify(Some("t=abc"), body, &secrets, 300, t), Err(SignatureError::Malformed));
        assert_eq!(verify(Some(&format!("t={t}")), body, &secrets, 300, t), Err(SignatureError::Malformed));
        assert_eq!(verify(Some(&header), body, &[], 300, t), Err(SignatureError::NoSecrets));
    }
}

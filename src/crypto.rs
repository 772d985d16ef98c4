//! Secrets: the master key file, keys derived from it, random tokens, hashing
//! and authenticated encryption of credentials at rest.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Keys derived from the master key, each for one purpose.
pub struct Keys {
    check: [u8; 32],
    token_mac: [u8; 32],
    csrf: [u8; 32],
    aead: XChaCha20Poly1305,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("secret key file {path}: {reason}", path = .path.display())]
    Invalid { path: PathBuf, reason: String },
    #[error("cannot create secret key file {path}: {source}", path = .path.display())]
    Create { path: PathBuf, source: std::io::Error },
    #[error(
        "{data}: the data file was written with another master key (check value {stored}); the key file {path} has check value {found}. Put the data file's key file at {path} or pass --secret-key-file, or pass --rekey to start over with this key (secrets that cannot be decrypted are cleared and listed)",
        data = .data.display(), path = .path.display()
    )]
    Mismatch { data: PathBuf, path: PathBuf, stored: String, found: String },
    #[error(
        "{data}: the data file was written with a master key (check value {stored}) but there is no key file at {path}. Put the data file's key file at {path} or pass --secret-key-file, or pass --rekey to start over with a new key (secrets that cannot be decrypted are cleared and listed)",
        data = .data.display(), path = .path.display()
    )]
    Missing { data: PathBuf, path: PathBuf, stored: String },
}

/// Decryption failed: wrong key, or the ciphertext was altered.
#[derive(Debug, thiserror::Error)]
#[error("cannot decrypt: the data was altered or the secret key changed")]
pub struct DecryptError;

impl Keys {
    /// Reads the master key from `path`, creating a new random one (mode 0600)
    /// when the file does not exist.
    pub fn load_or_create(path: &Path) -> Result<Keys, KeyError> {
        match Keys::load(path)? {
            Some(keys) => Ok(keys),
            None => Keys::create(path),
        }
    }

    /// Reads the master key from `path`; `None` when the file does not exist.
    pub fn load(path: &Path) -> Result<Option<Keys>, KeyError> {
        let invalid = |reason: String| KeyError::Invalid { path: path.to_owned(), reason };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let bytes = hex::decode(text.trim()).map_err(|_| invalid("must hold 64 hex characters".into()))?;
                let master: [u8; 32] = bytes.try_into().map_err(|_| invalid("must hold 64 hex characters".into()))?;
                let mode = std::fs::metadata(path).map_err(|e| invalid(e.to_string()))?.permissions().mode();
                if mode & 0o077 != 0 {
                    tracing::warn!(path = %path.display(), "secret key file is readable by group or others; chmod 600 it");
                }
                Ok(Some(Keys::from_master(&master)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(invalid(e.to_string())),
        }
    }

    /// Creates a new random master key file (mode 0600); fails if it exists.
    pub fn create(path: &Path) -> Result<Keys, KeyError> {
        let master: [u8; 32] = rand::random();
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|source| KeyError::Create { path: path.to_owned(), source })?;
        writeln!(file, "{}", hex::encode(master))
            .map_err(|source| KeyError::Create { path: path.to_owned(), source })?;
        tracing::info!(path = %path.display(), "created a new secret key file");
        Ok(Keys::from_master(&master))
    }

    /// Derives the purpose keys from a master key.
    #[must_use]
    pub fn from_master(master: &[u8; 32]) -> Keys {
        let derive = |label: &str| -> [u8; 32] { hmac_sha256(master, label.as_bytes()) };
        Keys {
            check: derive("botbuilder/key-check/v1"),
            token_mac: derive("botbuilder/api-token-mac/v1"),
            csrf: derive("botbuilder/csrf/v1"),
            aead: XChaCha20Poly1305::new(&derive("botbuilder/aead/v1").into()),
        }
    }

    /// The key check value stored in the data file: an HMAC of a fixed label
    /// under the master key (hex). It identifies the key without revealing it.
    #[must_use]
    pub fn check_value(&self) -> String {
        hex::encode(self.check)
    }

    /// The MAC stored for an API token (never the token itself).
    #[must_use]
    pub fn mac_token(&self, token: &str) -> [u8; 32] {
        hmac_sha256(&self.token_mac, token.as_bytes())
    }

    /// The CSRF token bound to a browser session token.
    #[must_use]
    pub fn csrf_token(&self, session_token: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac_sha256(&self.csrf, session_token.as_bytes()))
    }

    /// Encrypts `plaintext` (XChaCha20-Poly1305, random nonce). `context`
    /// binds the ciphertext to its place (e.g. `"llm_providers.api_key:7"`).
    #[must_use]
    pub fn encrypt(&self, plaintext: &[u8], context: &str) -> Vec<u8> {
        let nonce: [u8; 24] = rand::random();
        let mut out = nonce.to_vec();
        // Encryption with a valid key and a fresh nonce cannot fail.
        if let Ok(ct) =
            self.aead.encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext, aad: context.as_bytes() })
        {
            out.extend_from_slice(&ct);
        }
        out
    }

    /// Reverses [`Keys::encrypt`] with the same `context`.
    pub fn decrypt(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, DecryptError> {
        if sealed.len() < 24 + 16 {
            return Err(DecryptError);
        }
        let (nonce, ct) = sealed.split_at(24);
        self.aead
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad: context.as_bytes() })
            .map_err(|_| DecryptError)
    }
}

/// A random URL-safe token carrying `bytes` bytes of entropy.
#[must_use]
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0_u8; bytes];
    rand::fill(buf.as_mut_slice());
    URL_SAFE_NO_PAD.encode(buf)
}

/// SHA-256 of `data`.
#[must_use]
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Hex SHA-256 of `data`.
#[must_use]
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(sha256(data))
}

/// HMAC-SHA256 of `data` under `key`.
#[must_use]
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let Ok(mut mac) = <HmacSha256 as Mac>::new_from_slice(key) else { unreachable!("HMAC accepts keys of any length") };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Constant-time equality of two byte strings.
#[must_use]
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_is_created_0600_and_reloaded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k.key");
        let a = Keys::load_or_create(&path).expect("create");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let b = Keys::load_or_create(&path).expect("reload");
        assert_eq!(a.mac_token("x"), b.mac_token("x"));
    }

    #[test]
    fn check_value_identifies_the_key() {
        let a = Keys::from_master(&[1; 32]);
        assert_eq!(a.check_value(), Keys::from_master(&[1; 32]).check_value());
        assert_ne!(a.check_value(), Keys::from_master(&[2; 32]).check_value());
        assert_eq!(a.check_value().len(), 64);
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(Keys::load(&dir.path().join("absent.key")).expect("load").is_none(), "load never creates");
        assert!(!dir.path().join("absent.key").exists());
    }

    #[test]
    fn bad_key_file_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k.key");
        std::fs::write(&path, "not hex").expect("write");
        assert!(Keys::load_or_create(&path).is_err());
    }

    #[test]
    fn aead_round_trips_and_binds_context() {
        let keys = Keys::from_master(&[7; 32]);
        let sealed = keys.encrypt(b"secret", "ctx:1");
        assert_eq!(keys.decrypt(&sealed, "ctx:1").expect("open"), b"secret");
        assert!(keys.decrypt(&sealed, "ctx:2").is_err());
        let mut tampered = sealed.clone();
        *tampered.last_mut().expect("non-empty") ^= 1;
        assert!(keys.decrypt(&tampered, "ctx:1").is_err());
    }
}

//! `EncryptedAssertion` decryption (XML Encryption 1.1): RSA-OAEP key transport
//! (`rsa-oaep-mgf1p` and `xmlenc11#rsa-oaep`) and AES-128/256 in CBC or GCM mode.
//! RSA 1.5 key transport is refused (Bleichenbacher). Every failure has the same code and
//! message, so errors leak nothing about padding.

use aes::cipher::{BlockDecryptMut as _, KeyIvInit as _, block_padding::NoPadding};
use aes_gcm::aead::{Aead as _, KeyInit as _};
use base64::Engine as _;
use rsa::{Oaep, RsaPrivateKey};
use sha1::Sha1;
use sha2::{Sha256, Sha512};

use super::xml::{Document, NodeId};
use super::{NS_DSIG, NS_XENC, SamlError, SamlErrorKind};

const NS_XENC11: &str = "http://www.w3.org/2009/xmlenc11#";
const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
const RSA_OAEP: &str = "http://www.w3.org/2009/xmlenc11#rsa-oaep";
const AES128_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes128-cbc";
const AES256_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes256-cbc";
const AES128_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes128-gcm";
const AES256_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes256-gcm";
const DIGEST_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
const DIGEST_SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
const DIGEST_SHA512: &str = "http://www.w3.org/2001/04/xmlenc#sha512";
const MGF1_SHA1: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha1";
const MGF1_SHA256: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha256";

fn failed() -> SamlError {
    SamlError::new(SamlErrorKind::DecryptionFailed, "the encrypted assertion cannot be decrypted")
}

fn unsupported(alg: &str) -> SamlError {
    SamlError::new(SamlErrorKind::UnsupportedAlgorithm, format!("encryption algorithm {alg:?} is not accepted"))
}

fn cipher_value(doc: &Document, parent: NodeId) -> Result<Vec<u8>, SamlError> {
    let data = doc.single_child(parent, NS_XENC, "CipherData")?.ok_or_else(failed)?;
    let value = doc.single_child(data, NS_XENC, "CipherValue")?.ok_or_else(failed)?;
    let compact: String = doc.text(value).chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(compact).map_err(|_| failed())
}

fn method(doc: &Document, parent: NodeId) -> Result<(NodeId, String), SamlError> {
    let m = doc.single_child(parent, NS_XENC, "EncryptionMethod")?.ok_or_else(failed)?;
    let alg = doc.attr(m, "Algorithm").ok_or_else(failed)?.to_owned();
    Ok((m, alg))
}

/// The symmetric key from an `xenc:EncryptedKey`.
fn unwrap_key(doc: &Document, encrypted_key: NodeId, key: &RsaPrivateKey) -> Result<Vec<u8>, SamlError> {
    let (m, alg) = method(doc, encrypted_key)?;
    let digest =
        doc.single_child(m, NS_DSIG, "DigestMethod")?.and_then(|d| doc.attr(d, "Algorithm")).unwrap_or(DIGEST_SHA1);
    let mgf = doc.single_child(m, NS_XENC11, "MGF")?.and_then(|d| doc.attr(d, "Algorithm")).unwrap_or(MGF1_SHA1);
    let padding = match (alg.as_str(), digest, mgf) {
        (RSA_OAEP_MGF1P | RSA_OAEP, DIGEST_SHA1, MGF1_SHA1) => Oaep::new::<Sha1>(),
        (RSA_OAEP_MGF1P | RSA_OAEP, DIGEST_SHA256, MGF1_SHA1) => Oaep::new_with_mgf_hash::<Sha256, Sha1>(),
        (RSA_OAEP_MGF1P | RSA_OAEP, DIGEST_SHA512, MGF1_SHA1) => Oaep::new_with_mgf_hash::<Sha512, Sha1>(),
        (RSA_OAEP, DIGEST_SHA256, MGF1_SHA256) => Oaep::new::<Sha256>(),
        (RSA_OAEP, DIGEST_SHA1, MGF1_SHA256) => Oaep::new_with_mgf_hash::<Sha1, Sha256>(),
        (RSA_OAEP_MGF1P | RSA_OAEP, _, _) => return Err(unsupported(&format!("{alg} {digest} {mgf}"))),
        _ => return Err(unsupported(&alg)),
    };
    let wrapped = cipher_value(doc, encrypted_key)?;
    key.decrypt_blinded(&mut rsa::rand_core::OsRng, padding, &wrapped).map_err(|_| failed())
}

/// Decrypts the `EncryptedAssertion` element `ea` and returns the assertion's XML text.
pub fn decrypt_assertion(doc: &Document, ea: NodeId, key: &RsaPrivateKey) -> Result<String, SamlError> {
    let data = doc
        .single_child(ea, NS_XENC, "EncryptedData")?
        .ok_or_else(|| SamlError::new(SamlErrorKind::Malformed, "EncryptedAssertion without EncryptedData"))?;
    let (_, data_alg) = method(doc, data)?;
    // The key: inside EncryptedData's KeyInfo, or a sibling EncryptedKey (RetrievalMethod).
    let mut keys = Vec::new();
    if let Some(ki) = doc.single_child(data, NS_DSIG, "KeyInfo")? {
        keys.extend(doc.children_named(ki, NS_XENC, "EncryptedKey"));
    }
    keys.extend(doc.children_named(ea, NS_XENC, "EncryptedKey"));
    let [encrypted_key] = keys.as_slice() else {
        return Err(failed());
    };
    let sym = unwrap_key(doc, *encrypted_key, key)?;
    let ct = cipher_value(doc, data)?;
    let plain = match data_alg.as_str() {
        AES128_CBC | AES256_CBC => {
            let key_len = if data_alg == AES128_CBC { 16 } else { 32 };
            if sym.len() != key_len || ct.len() < 32 || ct.len() % 16 != 0 {
                return Err(failed());
            }
            let (iv, body) = ct.split_at(16);
            let mut buf = body.to_vec();
            let out_len = if key_len == 16 {
                cbc::Decryptor::<aes::Aes128>::new_from_slices(&sym, iv)
                    .map_err(|_| failed())?
                    .decrypt_padded_mut::<NoPadding>(&mut buf)
                    .map_err(|_| failed())?
                    .len()
            } else {
                cbc::Decryptor::<aes::Aes256>::new_from_slices(&sym, iv)
                    .map_err(|_| failed())?
                    .decrypt_padded_mut::<NoPadding>(&mut buf)
                    .map_err(|_| failed())?
                    .len()
            };
            buf.truncate(out_len);
            // XML Encryption padding: the last byte is the pad length (1..=16), the other pad
            // bytes are arbitrary.
            let pad = usize::from(*buf.last().ok_or_else(failed)?);
            if pad == 0 || pad > 16 || pad > buf.len() {
                return Err(failed());
            }
            buf.truncate(buf.len() - pad);
            buf
        }
        AES128_GCM | AES256_GCM => {
            let key_len = if data_alg == AES128_GCM { 16 } else { 32 };
            if sym.len() != key_len || ct.len() < 12 + 16 {
                return Err(failed());
            }
            let (iv, body) = ct.split_at(12);
            let nonce = aes_gcm::Nonce::from_slice(iv);
            if key_len == 16 {
                aes_gcm::Aes128Gcm::new_from_slice(&sym)
                    .map_err(|_| failed())?
                    .decrypt(nonce, body)
                    .map_err(|_| failed())?
            } else {
                aes_gcm::Aes256Gcm::new_from_slice(&sym)
                    .map_err(|_| failed())?
                    .decrypt(nonce, body)
                    .map_err(|_| failed())?
            }
        }
        other => return Err(unsupported(other)),
    };
    String::from_utf8(plain).map_err(|_| failed())
}

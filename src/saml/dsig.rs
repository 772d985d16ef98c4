//! XML Signature verification of one enveloped signature (the profile SAML uses): one
//! `Reference` to the signature's parent element by its ID, the enveloped-signature and
//! exclusive canonicalization transforms, SHA-256/512 digests, RSA-SHA256/512 signatures.

use base64::Engine as _;
use rsa::RsaPublicKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::signature::Verifier as _;
use sha2::{Digest as _, Sha256, Sha512};

use super::xml::{C14n, Document, NodeId, exc_c14n};
use super::{NS_DSIG, SamlError, SamlErrorKind};

pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
pub const EXC_C14N_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";
pub const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
pub const RSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512";
pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
pub const SHA512: &str = "http://www.w3.org/2001/04/xmlenc#sha512";

fn wrapped(message: &str) -> SamlError {
    SamlError::new(SamlErrorKind::Wrapped, message)
}

fn malformed(message: &str) -> SamlError {
    SamlError::new(SamlErrorKind::Malformed, message)
}

fn bad(message: &str) -> SamlError {
    SamlError::new(SamlErrorKind::BadSignature, message)
}

fn unsupported(what: &str, alg: &str) -> SamlError {
    SamlError::new(SamlErrorKind::UnsupportedAlgorithm, format!("{what} algorithm {alg:?} is not accepted"))
}

#[derive(Clone, Copy)]
enum Hash {
    Sha256,
    Sha512,
}

fn required_child(doc: &Document, id: NodeId, local: &str) -> Result<NodeId, SamlError> {
    doc.single_child(id, NS_DSIG, local)?.ok_or_else(|| malformed(&format!("signature without {local}")))
}

fn algorithm(doc: &Document, id: NodeId) -> Result<String, SamlError> {
    doc.attr(id, "Algorithm").map(str::to_owned).ok_or_else(|| malformed("algorithm missing"))
}

/// The `InclusiveNamespaces PrefixList` under a canonicalization method or transform.
fn inclusive_prefixes(doc: &Document, method: NodeId) -> Vec<Option<String>> {
    doc.child_elements(method)
        .into_iter()
        .filter(|c| doc.element(*c).is_some_and(|e| e.local == "InclusiveNamespaces"))
        .filter(|c| doc.element(*c).is_some_and(|e| e.ns.as_deref() == Some(EXC_C14N)))
        .filter_map(|c| doc.attr(c, "PrefixList").map(str::to_owned))
        .flat_map(|list| {
            list.split_whitespace().map(|p| if p == "#default" { None } else { Some(p.to_owned()) }).collect::<Vec<_>>()
        })
        .collect()
}

fn decode_b64(text: &str) -> Result<Vec<u8>, SamlError> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(compact).map_err(|_| malformed("bad base64 in signature"))
}

/// Verifies the `ds:Signature` element `sig`, which must be a direct child of the element it
/// signs, with one of `keys`. Returns the signed element (the signature's parent).
///
/// `ids` counts every ID in the document: the reference must resolve to exactly one element,
/// and that element must be the signature's parent.
pub fn verify(
    doc: &Document,
    sig: NodeId,
    keys: &[RsaPublicKey],
    id_count: &dyn Fn(&str) -> usize,
) -> Result<NodeId, SamlError> {
    let parent = doc.parent(sig).ok_or_else(|| wrapped("signature without a parent element"))?;
    let parent_id = doc.attr(parent, "ID").ok_or_else(|| wrapped("signed element has no ID"))?;

    let children = doc.child_elements(sig);
    let signed_info = required_child(doc, sig, "SignedInfo")?;
    if children.first() != Some(&signed_info) {
        return Err(malformed("SignedInfo must come first"));
    }
    let signature_value = required_child(doc, sig, "SignatureValue")?;

    let c14n_method = required_child(doc, signed_info, "CanonicalizationMethod")?;
    let c14n_alg = algorithm(doc, c14n_method)?;
    let si_with_comments = match c14n_alg.as_str() {
        EXC_C14N => false,
        EXC_C14N_COMMENTS => true,
        other => return Err(unsupported("canonicalization", other)),
    };
    let sig_method = required_child(doc, signed_info, "SignatureMethod")?;
    let sig_alg = algorithm(doc, sig_method)?;
    let sig_hash = match sig_alg.as_str() {
        RSA_SHA256 => Hash::Sha256,
        RSA_SHA512 => Hash::Sha512,
        other => return Err(unsupported("signature", other)),
    };

    let references = doc.children_named(signed_info, NS_DSIG, "Reference");
    let [reference] = references.as_slice() else {
        return Err(wrapped("a signature must have exactly one Reference"));
    };
    let uri = doc.attr(*reference, "URI").unwrap_or("");
    let Some(target) = uri.strip_prefix('#') else {
        return Err(wrapped("the Reference must name the signed element by ID"));
    };
    if target != parent_id {
        return Err(wrapped("the signature does not reference its parent element"));
    }
    if id_count(target) != 1 {
        return Err(wrapped("the referenced ID is not unique"));
    }

    let mut enveloped = false;
    let mut canonical: Option<Vec<Option<String>>> = None;
    if let Some(transforms) = doc.single_child(*reference, NS_DSIG, "Transforms")? {
        for t in doc.children_named(transforms, NS_DSIG, "Transform") {
            let alg = algorithm(doc, t)?;
            match alg.as_str() {
                ENVELOPED if !enveloped && canonical.is_none() => enveloped = true,
                // A same-document "#id" reference drops comments whichever variant is named.
                EXC_C14N | EXC_C14N_COMMENTS if canonical.is_none() => {
                    canonical = Some(inclusive_prefixes(doc, t));
                }
                other => return Err(unsupported("transform", other)),
            }
        }
    }
    if !enveloped {
        return Err(wrapped("the signature is not an enveloped signature"));
    }
    let Some(prefixes) = canonical else {
        return Err(unsupported("transform", "(no exclusive canonicalization)"));
    };
    let digest_method = required_child(doc, *reference, "DigestMethod")?;
    let digest_alg = algorithm(doc, digest_method)?;
    let digest_hash = match digest_alg.as_str() {
        SHA256 => Hash::Sha256,
        SHA512 => Hash::Sha512,
        other => return Err(unsupported("digest", other)),
    };
    let digest_value = decode_b64(&doc.text(required_child(doc, *reference, "DigestValue")?))?;

    // 1. The signature over the canonical SignedInfo, with a configured key.
    let si_prefixes = inclusive_prefixes(doc, c14n_method);
    let signed_info_c14n = exc_c14n(
        doc,
        signed_info,
        &C14n { exclude: None, inclusive_prefixes: &si_prefixes, with_comments: si_with_comments },
    );
    let signature = decode_b64(&doc.text(signature_value))?;
    let signature = Signature::try_from(signature.as_slice()).map_err(|_| bad("bad signature value"))?;
    let verified = keys.iter().any(|key| match sig_hash {
        Hash::Sha256 => {
            VerifyingKey::<Sha256>::new(key.clone()).verify(signed_info_c14n.as_bytes(), &signature).is_ok()
        }
        Hash::Sha512 => {
            VerifyingKey::<Sha512>::new(key.clone()).verify(signed_info_c14n.as_bytes(), &signature).is_ok()
        }
    });
    if !verified {
        return Err(bad("the signature does not verify with any configured IdP certificate"));
    }

    // 2. The digest of the canonical signed element, this signature left out.
    let content =
        exc_c14n(doc, parent, &C14n { exclude: Some(sig), inclusive_prefixes: &prefixes, with_comments: false });
    let actual: Vec<u8> = match digest_hash {
        Hash::Sha256 => Sha256::digest(content.as_bytes()).to_vec(),
        Hash::Sha512 => Sha512::digest(content.as_bytes()).to_vec(),
    };
    if actual != digest_value {
        return Err(bad("the digest of the signed element does not match"));
    }
    Ok(parent)
}

//! `IdP` metadata import, certificates and our SP metadata.
//!
//! Certificates: one that does not parse, or holds no RSA key, is an **error**
//! (`certificate_invalid`); one that is expired or not yet valid is a **warning**
//! ([`CertificateWarning`]), because SAML trusts the pinned key, not the validity dates,
//! and `IdPs` (AD FS, Shibboleth) often publish long-expired self-signed certificates.

use std::fmt::Write as _;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use rsa::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _};
use rsa::{RsaPrivateKey, RsaPublicKey};
use x509_cert::Certificate;
use x509_cert::der::{Decode as _, DecodePem as _, Encode as _};

use super::xml::{Document, NodeId, escape};
use super::{BINDING_POST, BINDING_REDIRECT, IdpSettings, NS_DSIG, NS_METADATA, SamlError, SamlErrorKind, SpSettings};

/// A pinned `IdP` signing certificate.
#[derive(Clone)]
pub struct IdpCertificate {
    pub der: Vec<u8>,
    pub public_key: RsaPublicKey,
    pub subject: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

impl std::fmt::Debug for IdpCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdpCertificate")
            .field("subject", &self.subject)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// A usable certificate outside its validity dates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateWarning {
    Expired { subject: String, not_after: DateTime<Utc> },
    NotYetValid { subject: String, not_before: DateTime<Utc> },
}

impl CertificateWarning {
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Expired { .. } => "certificate_expired",
            Self::NotYetValid { .. } => "certificate_not_yet_valid",
        }
    }
}

impl IdpCertificate {
    /// Base64 DER, as in `ds:X509Certificate`.
    #[must_use]
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.der)
    }

    /// PEM (`BEGIN CERTIFICATE`, 64-character lines).
    #[must_use]
    pub fn to_pem(&self) -> String {
        let b64 = self.to_base64();
        let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(chunk));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
        out
    }

    #[must_use]
    pub fn warning(&self, now: DateTime<Utc>) -> Option<CertificateWarning> {
        if now >= self.not_after {
            Some(CertificateWarning::Expired { subject: self.subject.clone(), not_after: self.not_after })
        } else if now < self.not_before {
            Some(CertificateWarning::NotYetValid { subject: self.subject.clone(), not_before: self.not_before })
        } else {
            None
        }
    }
}

fn cert_error(message: impl Into<String>) -> SamlError {
    SamlError::new(SamlErrorKind::CertificateInvalid, message)
}

fn to_utc(t: x509_cert::time::Time) -> Result<DateTime<Utc>, SamlError> {
    let secs =
        i64::try_from(t.to_unix_duration().as_secs()).map_err(|_| cert_error("certificate date out of range"))?;
    DateTime::from_timestamp(secs, 0).ok_or_else(|| cert_error("certificate date out of range"))
}

/// Parses a certificate given as PEM, or as the base64 DER of `ds:X509Certificate`.
pub fn parse_certificate(text: &str) -> Result<IdpCertificate, SamlError> {
    let trimmed = text.trim();
    let cert = if trimmed.starts_with("-----BEGIN") {
        Certificate::from_pem(trimmed.as_bytes())
            .map_err(|e| cert_error(format!("the certificate does not parse: {e}")))?
    } else {
        let compact: String = trimmed.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|_| cert_error("the certificate is not base64"))?;
        Certificate::from_der(&der).map_err(|e| cert_error(format!("the certificate does not parse: {e}")))?
    };
    let der = cert.to_der().map_err(|e| cert_error(format!("the certificate does not encode: {e}")))?;
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| cert_error(format!("bad public key: {e}")))?;
    let public_key = RsaPublicKey::from_public_key_der(&spki)
        .map_err(|_| cert_error("the certificate does not hold an RSA public key"))?;
    let validity = cert.tbs_certificate.validity;
    Ok(IdpCertificate {
        der,
        public_key,
        subject: cert.tbs_certificate.subject.to_string(),
        not_before: to_utc(validity.not_before)?,
        not_after: to_utc(validity.not_after)?,
    })
}

/// Our decryption key and certificate (published in SP metadata for encryption).
#[derive(Clone)]
pub struct SpKey {
    pub private_key: RsaPrivateKey,
    pub certificate: IdpCertificate,
}

impl std::fmt::Debug for SpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpKey").field("certificate", &self.certificate).finish_non_exhaustive()
    }
}

impl SpKey {
    /// From a PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`) PEM key and a
    /// PEM certificate; the certificate must hold the key's public half.
    pub fn from_pem(private_key_pem: &str, certificate_pem: &str) -> Result<Self, SamlError> {
        use rsa::pkcs1::DecodeRsaPrivateKey as _;
        let private_key = RsaPrivateKey::from_pkcs8_pem(private_key_pem)
            .or_else(|_| RsaPrivateKey::from_pkcs1_pem(private_key_pem))
            .map_err(|_| cert_error("the private key does not parse"))?;
        let certificate = parse_certificate(certificate_pem)?;
        if certificate.public_key != private_key.to_public_key() {
            return Err(cert_error("the certificate does not match the private key"));
        }
        Ok(Self { private_key, certificate })
    }
}

fn meta_error(message: impl Into<String>) -> SamlError {
    SamlError::new(SamlErrorKind::MetadataInvalid, message)
}

/// Imports `IdP` metadata: an `EntityDescriptor` (or an `EntitiesDescriptor` holding exactly
/// one `IdP`) with an `IDPSSODescriptor`, its signing certificates (`KeyDescriptor` with
/// `use="signing"` or no `use`) and its HTTP-Redirect `SingleSignOnService`.
///
/// Expired certificates are accepted; see [`IdpSettings::certificate_warnings`].
pub fn parse_idp_metadata(xml: &str) -> Result<IdpSettings, SamlError> {
    let doc = Document::parse(xml).map_err(|e| match e.kind {
        SamlErrorKind::DoctypeForbidden => e,
        _ => meta_error(format!("the metadata is not well-formed XML: {}", e.message)),
    })?;
    let root = doc.root;
    let entity = if doc.is(root, NS_METADATA, "EntityDescriptor") {
        root
    } else if doc.is(root, NS_METADATA, "EntitiesDescriptor") {
        let idps: Vec<NodeId> = doc
            .descendants(root)
            .into_iter()
            .filter(|e| doc.is(*e, NS_METADATA, "EntityDescriptor"))
            .filter(|e| !doc.children_named(*e, NS_METADATA, "IDPSSODescriptor").is_empty())
            .collect();
        match idps.as_slice() {
            [one] => *one,
            [] => return Err(meta_error("no identity provider in the metadata")),
            _ => return Err(meta_error("more than one identity provider in the metadata")),
        }
    } else {
        return Err(meta_error("the document is not SAML 2.0 metadata (EntityDescriptor)"));
    };
    let entity_id = doc
        .attr(entity, "entityID")
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| meta_error("EntityDescriptor has no entityID"))?
        .trim()
        .to_owned();
    let idp = doc
        .single_child(entity, NS_METADATA, "IDPSSODescriptor")
        .map_err(|_| meta_error("more than one IDPSSODescriptor"))?
        .ok_or_else(|| meta_error("no IDPSSODescriptor: this is not an identity provider"))?;
    if !doc
        .attr(idp, "protocolSupportEnumeration")
        .is_some_and(|p| p.split_whitespace().any(|x| x == super::NS_PROTOCOL))
    {
        return Err(meta_error("the IdP does not support SAML 2.0"));
    }
    let mut certificates = Vec::new();
    for kd in doc.children_named(idp, NS_METADATA, "KeyDescriptor") {
        if doc.attr(kd, "use").is_some_and(|u| u != "signing") {
            continue;
        }
        for x509 in doc.descendants(kd).into_iter().filter(|e| doc.is(*e, NS_DSIG, "X509Certificate")) {
            let cert = parse_certificate(&doc.text(x509))?;
            if !certificates.iter().any(|c: &IdpCertificate| c.der == cert.der) {
                certificates.push(cert);
            }
        }
    }
    if certificates.is_empty() {
        return Err(meta_error("the IdP metadata has no signing certificate"));
    }
    let sso_url = doc
        .children_named(idp, NS_METADATA, "SingleSignOnService")
        .into_iter()
        .find(|s| doc.attr(*s, "Binding") == Some(BINDING_REDIRECT))
        .and_then(|s| doc.attr(s, "Location"))
        .map(|l| l.trim().to_owned())
        .ok_or_else(|| meta_error("no SingleSignOnService with the HTTP-Redirect binding"))?;
    let parsed = url::Url::parse(&sso_url).map_err(|_| meta_error("the SingleSignOnService location is not a URL"))?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(meta_error("the SingleSignOnService location is not an HTTP(S) URL"));
    }
    Ok(IdpSettings { entity_id, sso_url, certificates })
}

/// Our SP metadata: HTTP-POST assertion consumer service, signed assertions wanted, and our
/// encryption certificates (two during a key rollover: the `IdP` may use either).
#[must_use]
pub fn sp_metadata(sp: &SpSettings, sp_certs: &[IdpCertificate]) -> String {
    let keys: String = sp_certs.iter().fold(String::new(), |mut keys, c| {
        let _ = write!(
            keys,
            "<md:KeyDescriptor use=\"encryption\"><ds:KeyInfo xmlns:ds=\"{NS_DSIG}\"><ds:X509Data>\
             <ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\
             <md:EncryptionMethod Algorithm=\"http://www.w3.org/2009/xmlenc11#aes256-gcm\"/>\
             <md:EncryptionMethod Algorithm=\"http://www.w3.org/2009/xmlenc11#aes128-gcm\"/>\
             <md:EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#aes256-cbc\"/>\
             <md:EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#aes128-cbc\"/>\
             <md:EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p\"/>\
             </md:KeyDescriptor>",
            c.to_base64()
        );
        keys
    });
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <md:EntityDescriptor xmlns:md=\"{NS_METADATA}\" entityID=\"{entity}\">\
         <md:SPSSODescriptor AuthnRequestsSigned=\"false\" WantAssertionsSigned=\"true\" \
         protocolSupportEnumeration=\"{proto}\">{keys}\
         <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>\
         <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>\
         <md:AssertionConsumerService Binding=\"{BINDING_POST}\" Location=\"{acs}\" index=\"0\" isDefault=\"true\"/>\
         </md:SPSSODescriptor></md:EntityDescriptor>\n",
        entity = escape(&sp.entity_id),
        proto = super::NS_PROTOCOL,
        acs = escape(&sp.acs_url),
    )
}

//! SAML 2.0 service provider, as a library (docs/sso-saml.md).
//!
//! - [`parse_idp_metadata`] imports an identity provider's metadata; [`sp_metadata`] renders ours.
//! - [`authn_request`] builds an SP-initiated login (HTTP-Redirect binding).
//! - [`verify_response`] checks an HTTP-POST response: XML signature with exclusive
//!   canonicalization against the configured certificates (never the `KeyInfo` in the message),
//!   signature-wrapping resistance, issuer, status, audience, recipient, destination, validity
//!   window, `InResponseTo`, replay (through a [`ReplayCache`]) and encrypted assertions.
//!
//! Everything is pure Rust: a small XML tree over quick-xml (no DTD, no entities), our own
//! exclusive canonicalization, `RustCrypto` for RSA, SHA-2, AES and X.509.

mod dsig;
mod encryption;
mod keygen;
mod metadata;
mod replay;
mod request;
mod response;
pub mod xml;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

pub use metadata::{CertificateWarning, IdpCertificate, SpKey, parse_certificate, parse_idp_metadata, sp_metadata};
pub use replay::{MemoryReplayCache, ReplayCache, SqliteReplayCache};
pub use request::{authn_request, authn_request_at};
pub use response::verify_response;

pub const NS_PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const NS_ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const NS_METADATA: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
pub const NS_DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const NS_XENC: &str = "http://www.w3.org/2001/04/xmlenc#";
pub const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
pub const CM_BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// Our side of the federation.
#[derive(Debug, Clone)]
pub struct SpSettings {
    /// Our entity id: the audience the assertions must name.
    pub entity_id: String,
    /// The assertion consumer service URL: the recipient and destination the `IdP` must name.
    pub acs_url: String,
    /// Accept unsolicited (IdP-initiated) responses. Off by default: they cannot be tied to a
    /// login started here (login CSRF).
    pub allow_idp_initiated: bool,
    /// Allowed clock difference with the `IdP` for `NotBefore` / `NotOnOrAfter`.
    pub clock_skew: chrono::Duration,
    /// Refuse a plaintext assertion (`assertion_not_encrypted`): the `IdP` must encrypt to
    /// one of our keys.
    pub require_encrypted_assertions: bool,
}

impl SpSettings {
    #[must_use]
    pub fn new(entity_id: impl Into<String>, acs_url: impl Into<String>) -> Self {
        Self {
            entity_id: entity_id.into(),
            acs_url: acs_url.into(),
            allow_idp_initiated: false,
            clock_skew: chrono::Duration::seconds(120),
            require_encrypted_assertions: false,
        }
    }
}

/// The identity provider, usually from its metadata.
#[derive(Debug, Clone)]
pub struct IdpSettings {
    pub entity_id: String,
    /// The HTTP-Redirect single sign-on endpoint.
    pub sso_url: String,
    /// Signing certificates; any one of them may sign (two during a rollover).
    pub certificates: Vec<IdpCertificate>,
}

impl IdpSettings {
    /// Warnings about the certificates at `now` (expired, not yet valid); not errors.
    #[must_use]
    pub fn certificate_warnings(&self, now: DateTime<Utc>) -> Vec<CertificateWarning> {
        self.certificates.iter().filter_map(|c| c.warning(now)).collect()
    }
}

/// What a verified assertion says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    pub id: String,
    pub issuer: String,
    pub name_id: String,
    pub name_id_format: Option<String>,
    pub session_index: Option<String>,
    pub attributes: BTreeMap<String, Vec<String>>,
    /// The end of the assertion's validity (the earliest of its `NotOnOrAfter` bounds).
    pub not_on_or_after: Option<DateTime<Utc>>,
    /// The request this answers (`None` for IdP-initiated).
    pub in_response_to: Option<String>,
}

/// Why a SAML message or metadata was refused; [`SamlErrorKind::code`] is stable and is
/// what login logs record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SamlErrorKind {
    /// Not base64, not UTF-8, not well-formed XML, or missing required SAML elements.
    Malformed,
    /// The XML has a DOCTYPE (or an entity reference): refused before parsing.
    DoctypeForbidden,
    /// Neither the response nor the assertion carries a signature.
    Unsigned,
    /// A signature is present but does not verify with any configured certificate, or a
    /// digest does not match.
    BadSignature,
    /// An algorithm we do not accept (SHA-1 signatures and digests, RSA 1.5 key transport,
    /// XPath/XSLT transforms, inclusive canonicalization).
    UnsupportedAlgorithm,
    /// Structure that signature-wrapping attacks produce: duplicate IDs, more than one
    /// assertion, a signature not referencing its parent, an assertion out of place.
    Wrapped,
    /// The response or assertion issuer is not the configured `IdP`.
    UnknownIssuer,
    /// The status is not `Success`.
    StatusNotSuccess,
    WrongAudience,
    WrongRecipient,
    WrongDestination,
    Expired,
    NotYetValid,
    /// `InResponseTo` names another request (or any request when none was expected).
    InResponseToMismatch,
    /// An unsolicited response while IdP-initiated login is off.
    Unsolicited,
    /// The assertion id was already used.
    Replayed,
    /// An encrypted assertion that cannot be decrypted (no key, wrong key, bad data).
    DecryptionFailed,
    /// A plaintext assertion where the configuration requires an encrypted one.
    NotEncrypted,
    /// `IdP` metadata that cannot be used.
    MetadataInvalid,
    /// A certificate that does not parse or holds no RSA key.
    CertificateInvalid,
    /// The replay cache could not be read or written.
    Storage,
}

impl SamlErrorKind {
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::DoctypeForbidden => "doctype_forbidden",
            Self::Unsigned => "unsigned",
            Self::BadSignature => "bad_signature",
            Self::UnsupportedAlgorithm => "unsupported_algorithm",
            Self::Wrapped => "wrapped",
            Self::UnknownIssuer => "unknown_issuer",
            Self::StatusNotSuccess => "status_not_success",
            Self::WrongAudience => "wrong_audience",
            Self::WrongRecipient => "wrong_recipient",
            Self::WrongDestination => "wrong_destination",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::InResponseToMismatch => "in_response_to_mismatch",
            Self::Unsolicited => "unsolicited",
            Self::Replayed => "replayed",
            Self::DecryptionFailed => "decryption_failed",
            Self::NotEncrypted => "assertion_not_encrypted",
            Self::MetadataInvalid => "metadata_invalid",
            Self::CertificateInvalid => "certificate_invalid",
            Self::Storage => "storage",
        }
    }
}

/// A refused SAML message: a stable [`SamlErrorKind`] and a message for logs (never secret).
#[derive(Debug, Clone, thiserror::Error)]
#[error("SAML {}: {message}", kind.code())]
pub struct SamlError {
    pub kind: SamlErrorKind,
    pub message: String,
}

impl SamlError {
    pub fn new(kind: SamlErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    #[must_use]
    pub const fn code(&self) -> &'static str {
        self.kind.code()
    }
}

/// Parses an `xs:dateTime` as SAML writes it (UTC).
pub(crate) fn parse_instant(value: &str) -> Result<DateTime<Utc>, SamlError> {
    DateTime::parse_from_rfc3339(value.trim())
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| SamlError::new(SamlErrorKind::Malformed, format!("bad time {value:?}")))
}

impl SamlError {
    /// As the API error of a refused login (`saml_response_invalid`, 401, `details.reason`).
    /// A replay-cache failure is a server error.
    #[must_use]
    pub fn into_login_error(self) -> crate::error::AppError {
        use crate::error::{AppError, ErrorCode};
        match self.kind {
            SamlErrorKind::Storage => AppError::internal(self),
            SamlErrorKind::Malformed
            | SamlErrorKind::DoctypeForbidden
            | SamlErrorKind::Unsigned
            | SamlErrorKind::BadSignature
            | SamlErrorKind::UnsupportedAlgorithm
            | SamlErrorKind::Wrapped
            | SamlErrorKind::UnknownIssuer
            | SamlErrorKind::StatusNotSuccess
            | SamlErrorKind::WrongAudience
            | SamlErrorKind::WrongRecipient
            | SamlErrorKind::WrongDestination
            | SamlErrorKind::Expired
            | SamlErrorKind::NotYetValid
            | SamlErrorKind::InResponseToMismatch
            | SamlErrorKind::Unsolicited
            | SamlErrorKind::Replayed
            | SamlErrorKind::DecryptionFailed
            | SamlErrorKind::NotEncrypted
            | SamlErrorKind::MetadataInvalid
            | SamlErrorKind::CertificateInvalid => AppError::new(ErrorCode::SamlResponseInvalid, self.message)
                .with_details(serde_json::json!({ "reason": self.kind.code() })),
        }
    }

    /// As the API error of a metadata or certificate upload (`saml_metadata_invalid`, 422),
    /// naming `field` (e.g. `metadata_xml`, `certificates[1]`).
    #[must_use]
    pub fn into_metadata_error(self, field: &str) -> crate::error::AppError {
        use crate::error::{AppError, ErrorCode};
        if self.kind == SamlErrorKind::Storage {
            return AppError::internal(self);
        }
        AppError::new(ErrorCode::SamlMetadataInvalid, self.message)
            .with_details(serde_json::json!({ "field": field, "reason": self.kind.code() }))
    }
}

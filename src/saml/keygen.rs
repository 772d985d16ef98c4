//! Our SP encryption key pairs: generated here (RSA, a self-signed certificate) so an `IdP`
//! can encrypt assertions to us; the private key leaves only sealed (see `crate::sso::saml_keys`).

use chrono::{DateTime, Utc};
use rsa::RsaPrivateKey;
use rsa::pkcs8::{EncodePrivateKey as _, LineEnding};
use sha2::Sha256;
use x509_cert::builder::{Builder as _, CertificateBuilder, Profile};
use x509_cert::der::EncodePem as _;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::time::Validity;

use super::metadata::{SpKey, parse_certificate};
use super::{SamlError, SamlErrorKind};

/// RSA modulus size of generated keys: 3072 bits (NIST SP 800-57: 128-bit security, fit
/// beyond 2030; every `IdP` we know accepts it).
pub const SP_KEY_BITS: usize = 3072;
/// Validity of the self-signed certificate: ten years. `IdPs` pin the key, and a rollover
/// is the admin's decision, not an expiry date's.
pub const SP_CERT_DAYS: u64 = 3650;

fn failed(message: impl std::fmt::Display) -> SamlError {
    SamlError::new(SamlErrorKind::CertificateInvalid, format!("cannot create the SP key: {message}"))
}

impl SpKey {
    /// A new RSA key pair with a self-signed end-entity certificate (key encipherment)
    /// named `CN=<common_name>`, valid from `now` for [`SP_CERT_DAYS`] days.
    pub fn generate(common_name: &str, now: DateTime<Utc>) -> Result<Self, SamlError> {
        let mut rng = rsa::rand_core::OsRng;
        let private_key = RsaPrivateKey::new(&mut rng, SP_KEY_BITS).map_err(failed)?;
        let cn: String = common_name.chars().filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '.')).collect();
        let subject: Name = format!("CN={cn}").parse().map_err(failed)?;
        // A random positive serial number (RFC 5280: at most 20 octets).
        let mut serial: [u8; 16] = rand::random();
        serial[0] = (serial[0] & 0x7f) | 0x40;
        let serial = SerialNumber::new(&serial).map_err(failed)?;
        let start = std::time::Duration::from_secs(u64::try_from(now.timestamp()).map_err(failed)?);
        let validity = Validity {
            not_before: x509_cert::time::Time::try_from(std::time::UNIX_EPOCH + start).map_err(failed)?,
            not_after: x509_cert::time::Time::try_from(
                std::time::UNIX_EPOCH + start + std::time::Duration::from_secs(SP_CERT_DAYS * 86_400),
            )
            .map_err(failed)?,
        };
        let spki = SubjectPublicKeyInfoOwned::from_key(private_key.to_public_key()).map_err(failed)?;
        let signer = rsa::pkcs1v15::SigningKey::<Sha256>::new(private_key.clone());
        let profile =
            Profile::Leaf { issuer: subject.clone(), enable_key_agreement: false, enable_key_encipherment: true };
        let certificate = CertificateBuilder::new(profile, serial, validity, subject, spki, &signer)
            .map_err(failed)?
            .build::<rsa::pkcs1v15::Signature>()
            .map_err(failed)?;
        let pem = certificate.to_pem(LineEnding::LF).map_err(failed)?;
        Ok(Self { private_key, certificate: parse_certificate(&pem)? })
    }

    /// The private key as PKCS#8 PEM (to be sealed; wiped from memory when dropped).
    pub fn private_key_pem(&self) -> Result<impl std::ops::Deref<Target = String>, SamlError> {
        self.private_key.to_pkcs8_pem(LineEnding::LF).map_err(failed)
    }

    /// The certificate as PEM (public: published in our metadata).
    #[must_use]
    pub fn certificate_pem(&self) -> String {
        self.certificate.to_pem()
    }
}

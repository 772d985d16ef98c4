//! SP-initiated login: an `AuthnRequest` sent with the HTTP-Redirect binding
//! (raw DEFLATE, base64, URL-encoded `SAMLRequest`, optional `RelayState`).

use std::io::Write as _;

use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use flate2::Compression;
use flate2::write::DeflateEncoder;

use super::xml::escape;
use super::{BINDING_POST, IdpSettings, NS_ASSERTION, NS_PROTOCOL, SamlError, SamlErrorKind, SpSettings};

/// Builds an `AuthnRequest` now; returns its ID (keep it to check `InResponseTo`) and the URL
/// to redirect the browser to.
pub fn authn_request(
    sp: &SpSettings,
    idp: &IdpSettings,
    relay_state: Option<&str>,
) -> Result<(String, String), SamlError> {
    authn_request_at(sp, idp, relay_state, Utc::now())
}

/// [`authn_request`] at a given instant.
pub fn authn_request_at(
    sp: &SpSettings,
    idp: &IdpSettings,
    relay_state: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(String, String), SamlError> {
    // An XML ID must not start with a digit.
    let id = format!("_{}", hex::encode(rand::random::<[u8; 20]>()));
    let xml = format!(
        "<samlp:AuthnRequest xmlns:samlp=\"{NS_PROTOCOL}\" xmlns:saml=\"{NS_ASSERTION}\" \
         ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{instant}\" Destination=\"{dest}\" \
         ProtocolBinding=\"{BINDING_POST}\" AssertionConsumerServiceURL=\"{acs}\">\
         <saml:Issuer>{issuer}</saml:Issuer><samlp:NameIDPolicy AllowCreate=\"true\"/>\
         </samlp:AuthnRequest>",
        instant = now.to_rfc3339_opts(SecondsFormat::Secs, true),
        dest = escape(&idp.sso_url),
        acs = escape(&sp.acs_url),
        issuer = escape(&sp.entity_id),
    );
    let mut enc = DeflateEncoder::new(Vec::new(), Compression::default());
    let deflated = enc
        .write_all(xml.as_bytes())
        .and_then(|()| enc.finish())
        .map_err(|e| SamlError::new(SamlErrorKind::Malformed, format!("deflate: {e}")))?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(deflated);
    let mut url = url::Url::parse(&idp.sso_url)
        .map_err(|_| SamlError::new(SamlErrorKind::MetadataInvalid, "the IdP single sign-on URL is not a URL"))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("SAMLRequest", &encoded);
        if let Some(rs) = relay_state {
            q.append_pair("RelayState", rs);
        }
    }
    Ok((id, url.into()))
}

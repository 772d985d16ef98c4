//! SAML 2.0 sign-in over the `crate::saml` library: SP values and metadata
//! per configuration, `IdP` metadata import (XML or URL through the
//! SSRF-guarded client) with certificate checks, SP-initiated login
//! (HTTP-Redirect `AuthnRequest` whose id is kept server-side in
//! `sso_auth_requests`, single use and bound to the browser), the HTTP-POST
//! assertion consumer service, `IdP`-initiated login (per-configuration
//! switch, off by default) and the attribute → claims mapping that the
//! OIDC provisioning code consumes.

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::model::{ConfigRow, SsoConfigurationId, SsoMapping, SsoSamlSettings, SsoSamlSpValues, SsoWarning};
use super::oidc::Refusal;
use super::service::{self, Attempt, Landed, db_refusal};
use super::store;
use crate::app::AppState;
use crate::crypto::sha256;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::ClientInfo;
use crate::saml::{self, Assertion, IdpCertificate, IdpSettings, SamlError, SpSettings, SqliteReplayCache};

/// Largest metadata document fetched from a URL.
const MAX_METADATA_BYTES: usize = 1024 * 1024;
/// A certificate ending within this many days gets a `certificate_expires_soon` warning.
pub const EXPIRY_WARNING_DAYS: i64 = 30;
/// At most this many `IdP` signing certificates (two during a rollover, a spare).
pub const MAX_CERTIFICATES: usize = 4;

fn base(public_url: &str) -> &str {
    public_url.trim_end_matches('/')
}

/// The metadata path of a configuration (also its SP entity id).
#[must_use]
pub fn metadata_path(id: SsoConfigurationId) -> String {
    format!("/api/v1/sso/saml/{}/metadata", id.0)
}

/// The assertion consumer service path of a configuration.
#[must_use]
pub fn acs_path(id: SsoConfigurationId) -> String {
    format!("/api/v1/sso/saml/{}/acs", id.0)
}

/// What to give the `IdP`.
#[must_use]
pub fn sp_values(public_url: &str, id: SsoConfigurationId) -> SsoSamlSpValues {
    let metadata_url = format!("{}{}", base(public_url), metadata_path(id));
    SsoSamlSpValues {
        entity_id: metadata_url.clone(),
        acs_url: format!("{}{}", base(public_url), acs_path(id)),
        metadata_url,
    }
}

fn sp_settings(state: &AppState, public_url: &str, config: &ConfigRow) -> SpSettings {
    let v = sp_values(public_url, config.id);
    let mut sp = SpSettings::new(v.entity_id, v.acs_url);
    sp.allow_idp_initiated = config.saml().is_some_and(|s| s.allow_idp_initiated);
    sp.clock_skew = chrono::Duration::seconds(i64::try_from(state.config.sso.clock_skew_secs).unwrap_or(60).max(60));
    sp.require_encrypted_assertions = config.saml().is_some_and(|s| s.encrypt_assertions);
    sp
}

/// The `IdP` as configured (certificates were checked at upload; one that no
/// longer parses is skipped).
fn idp_settings(config: &ConfigRow) -> Result<IdpSettings, Refusal> {
    let settings = config.saml().unwrap_or_default();
    let entity_id = settings
        .idp_entity_id
        .ok_or_else(|| Refusal::new("configuration_incomplete", "the configuration has no IdP entity id"))?;
    let certificates: Vec<IdpCertificate> =
        settings.idp_certificates.iter().filter_map(|c| saml::parse_certificate(c).ok()).collect();
    if certificates.is_empty() {
        return Err(Refusal::new("configuration_incomplete", "the configuration has no IdP certificate"));
    }
    Ok(IdpSettings { entity_id, sso_url: settings.idp_sso_url.unwrap_or_default(), certificates })
}

/// The SP metadata XML of a configuration (public).
pub async fn metadata(state: &AppState, id: SsoConfigurationId) -> AppResult<String> {
    let config = state
        .db
        .read(move |c| Ok(store::find_config_public(c, id)?))
        .await?
        .filter(|c| c.protocol() == super::model::SsoProtocol::Saml)
        .ok_or_else(|| AppError::new(ErrorCode::SsoConfigurationNotFound, "no such SAML configuration"))?;
    let public = crate::admin::instance::public_url_in_force(state).await?;
    let certificates = super::saml_keys::published_certificates(&state.keys, &config);
    Ok(saml::sp_metadata(&sp_settings(state, &public, &config), &certificates))
}

// ---- certificates and metadata import

fn date(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// Warnings of one certificate at `now`.
fn certificate_warning(cert: &IdpCertificate, field: String, now: DateTime<Utc>) -> Option<SsoWarning> {
    let (code, message) = if now >= cert.not_after {
        ("certificate_expired", format!("the IdP certificate {} expired on {}", cert.subject, date(cert.not_after)))
    } else if now < cert.not_before {
        (
            "certificate_not_yet_valid",
            format!("the IdP certificate {} is valid only from {}", cert.subject, date(cert.not_before)),
        )
    } else if cert.not_after - now < chrono::Duration::days(EXPIRY_WARNING_DAYS) {
        (
            "certificate_expires_soon",
            format!(
                "the IdP certificate {} expires on {}: add the IdP's next certificate",
                cert.subject,
                date(cert.not_after)
            ),
        )
    } else {
        return None;
    };
    Some(SsoWarning { code: code.to_owned(), message, field: Some(field) })
}

/// What an admin should look at: certificate dates (SAML) and the last
/// background refresh's failure.
#[must_use]
pub fn warnings(config: &ConfigRow, now: DateTime<Utc>) -> Vec<SsoWarning> {
    let mut out = Vec::new();
    if let Some(s) = config.saml() {
        for (i, pem) in s.idp_certificates.iter().enumerate() {
            if let Ok(cert) = saml::parse_certificate(pem) {
                out.extend(certificate_warning(&cert, format!("saml.idp_certificates[{i}]"), now));
            }
        }
    }
    if let Some(refresh) = config.refresh_record()
        && let Some(list) = refresh.get("errors").and_then(Value::as_array)
    {
        out.extend(list.iter().filter_map(|w| serde_json::from_value::<SsoWarning>(w.clone()).ok()));
    }
    out
}

/// Fetches `IdP` metadata from its URL (SSRF-guarded, at most 1 MiB).
pub async fn fetch_metadata(state: &AppState, url: &str) -> Result<String, String> {
    let request = state
        .outbound
        .request(Method::GET, url)
        .map_err(|e| format!("{url}: {e}"))?
        .header("Accept", "application/samlmetadata+xml, application/xml, text/xml");
    let fetched =
        state.outbound.send_limited(request, Some(MAX_METADATA_BYTES)).await.map_err(|e| format!("{url}: {e}"))?;
    if !fetched.status.is_success() {
        return Err(format!("{url} answered HTTP {}", fetched.status.as_u16()));
    }
    String::from_utf8(fetched.body).map_err(|_| format!("{url}: the metadata is not UTF-8"))
}

fn unreachable(url: &str, message: &str) -> AppError {
    AppError::new(ErrorCode::SamlMetadataInvalid, format!("the IdP metadata cannot be fetched: {message}"))
        .with_details(json!({ "field": "saml.idp_metadata_url", "reason": "metadata_unreachable", "url": url }))
}

/// Completes the SAML settings of a configuration being written: metadata
/// from the XML given (or fetched from its URL when `fetch`), then the
/// certificates given beside it. A certificate that does not parse is a 422
/// (`saml_metadata_invalid`, `certificate_invalid`, naming it); an expired
/// one is kept and shown in `warnings`.
pub async fn resolve(state: &AppState, s: &mut SsoSamlSettings, fetch: bool) -> AppResult<()> {
    for slot in [&mut s.email_attribute, &mut s.name_attribute, &mut s.idp_entity_id, &mut s.idp_sso_url] {
        *slot = slot.take().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    }
    if s.idp_metadata_xml.as_ref().is_some_and(|x| x.trim().is_empty()) {
        s.idp_metadata_xml = None;
    }
    if fetch
        && s.idp_metadata_xml.is_none()
        && let Some(url) = s.idp_metadata_url.clone()
    {
        let xml = fetch_metadata(state, &url).await.map_err(|m| unreachable(&url, &m))?;
        saml::parse_idp_metadata(&xml).map_err(|e| e.into_metadata_error("saml.idp_metadata_url"))?;
        s.idp_metadata_xml = Some(xml);
    }
    let mut certs: Vec<String> = Vec::new();
    let mut seen: Vec<Vec<u8>> = Vec::new();
    if let Some(xml) = &s.idp_metadata_xml {
        let idp = saml::parse_idp_metadata(xml).map_err(|e| e.into_metadata_error("saml.idp_metadata_xml"))?;
        s.idp_entity_id = Some(idp.entity_id);
        s.idp_sso_url = Some(idp.sso_url);
        for c in &idp.certificates {
            seen.push(c.der.clone());
            certs.push(c.to_pem());
        }
    }
    let given = std::mem::take(&mut s.idp_certificates);
    for (i, pem) in given.iter().enumerate() {
        let cert =
            saml::parse_certificate(pem).map_err(|e| e.into_metadata_error(&format!("saml.idp_certificates[{i}]")))?;
        if !seen.contains(&cert.der) {
            seen.push(cert.der.clone());
            certs.push(cert.to_pem());
        }
    }
    if certs.len() > MAX_CERTIFICATES {
        return Err(AppError::validation(
            "saml.idp_certificates",
            format!("at most {MAX_CERTIFICATES} certificates (the current one and the next during a rollover)"),
        ));
    }
    s.idp_certificates = certs;
    if s.idp_entity_id.is_none() {
        return Err(AppError::validation(
            "saml.idp_entity_id",
            "give the IdP metadata (saml.idp_metadata_xml or saml.idp_metadata_url) or its entity id",
        ));
    }
    let sso = s.idp_sso_url.as_deref().unwrap_or_default();
    if !url::Url::parse(sso).is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some()) {
        return Err(AppError::validation("saml.idp_sso_url", "the IdP's single sign-on URL (HTTP-Redirect binding)"));
    }
    if s.idp_certificates.is_empty() {
        return Err(AppError::validation("saml.idp_certificates", "the IdP's signing certificate (PEM)"));
    }
    Ok(())
}

// ---- sign-in start

/// Builds the `AuthnRequest` redirect of a configuration; answers its id and the URL.
pub fn start(state: &AppState, public_url: &str, config: &ConfigRow, relay_state: &str) -> AppResult<(String, String)> {
    let sp = sp_settings(state, public_url, config);
    let idp = idp_settings(config).map_err(|r| AppError::validation("saml", r.message))?;
    saml::authn_request(&sp, &idp, Some(relay_state)).map_err(|e| e.into_metadata_error("saml.idp_sso_url"))
}

// ---- assertion consumer service

/// The `IdP`'s POST to the assertion consumer service.
#[derive(Debug, Default)]
pub struct AcsPost {
    pub saml_response: Option<String>,
    pub relay_state: Option<String>,
}

impl AcsPost {
    /// From an `application/x-www-form-urlencoded` body.
    #[must_use]
    pub fn parse(body: &[u8]) -> AcsPost {
        let mut post = AcsPost::default();
        for (k, v) in url::form_urlencoded::parse(body) {
            match k.as_ref() {
                "SAMLResponse" => post.saml_response = Some(v.into_owned()),
                "RelayState" => post.relay_state = Some(v.into_owned()),
                _ => {}
            }
        }
        post
    }
}

/// A relative, same-site path to land on after a sign-in (the `?next=` of an SP-initiated
/// one, the `RelayState` of an `IdP`-initiated one): never another origin (`https://…`,
/// `//host`, `/\host`), never an API route.
#[must_use]
pub fn safe_relay_target(relay: &str) -> Option<String> {
    let ok = relay.starts_with('/')
        && !relay.starts_with("//")
        && !relay.contains('\\')
        && relay.len() <= 512
        && !relay.chars().any(char::is_control)
        && !relay.starts_with("/api/");
    ok.then(|| relay.to_owned())
}

/// Handles a post to a configuration's ACS; every attempt is logged.
pub async fn acs(
    state: &AppState,
    config_id: SsoConfigurationId,
    post: AcsPost,
    browser_nonce: Option<&str>,
    client: ClientInfo,
) -> Result<Landed, service::Failed> {
    let mut ctx = Attempt::default();
    match run_acs(state, config_id, post, browser_nonce, &client, &mut ctx).await {
        Ok(landed) => Ok(landed),
        Err(refusal) => Err(service::log_failure(state, &ctx, refusal, client).await),
    }
}

fn saml_refusal(e: &SamlError) -> Refusal {
    Refusal::new(e.code(), e.message.clone())
}

/// The sign-in request a `RelayState` names (consumed: single use, bound to
/// the browser, for this configuration): the `AuthnRequest` id to expect in
/// `InResponseTo` and the request's row id. Without one (`IdP`-initiated),
/// a safe relative `RelayState` path is where the browser lands; with one, the page the
/// sign-in was started from.
async fn claim_request(
    state: &AppState,
    config: &ConfigRow,
    relay: &str,
    browser_nonce: Option<&str>,
    ctx: &mut Attempt,
) -> Result<(Option<(String, i64)>, String), Refusal> {
    let request = if relay.is_empty() {
        None
    } else {
        let hash = sha256(relay.as_bytes());
        state.db.read(move |c| Ok(store::find_auth_request(c, &hash)?)).await.map_err(|e| db_refusal(&e))?
    };
    let Some(request) = request else {
        return Ok((None, safe_relay_target(relay).unwrap_or_else(|| "/".to_owned())));
    };
    if request.config != config.id || request.org_id != config.organization_id {
        return Err(Refusal::new("state_invalid", "the sign-in was started for another SSO configuration"));
    }
    service::claim_auth_request(state, &request, browser_nonce, ctx, "response").await?;
    let target = service::landing(&request);
    Ok((Some((request.nonce, request.id)), target))
}

async fn run_acs(
    state: &AppState,
    config_id: SsoConfigurationId,
    post: AcsPost,
    browser_nonce: Option<&str>,
    client: &ClientInfo,
    ctx: &mut Attempt,
) -> Result<Landed, Refusal> {
    let config = state
        .db
        .read(move |c| Ok(store::find_config_public(c, config_id)?))
        .await
        .map_err(|e| db_refusal(&e))?
        .filter(|c| c.protocol() == super::model::SsoProtocol::Saml)
        .ok_or_else(|| Refusal::new("configuration_missing", "no such SAML configuration"))?;
    ctx.org_id = Some(config.organization_id);
    ctx.config = Some(config.id);
    let response = post
        .saml_response
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| Refusal::new("malformed", "the IdP posted no SAMLResponse"))?;
    let relay = post.relay_state.unwrap_or_default();
    let (expected, target) = claim_request(state, &config, &relay, browser_nonce, ctx).await?;
    if !config.enabled && !ctx.test {
        return Err(Refusal::new("configuration_disabled", "the SSO configuration is disabled"));
    }
    let public = crate::admin::instance::public_url_in_force(state).await.map_err(|e| db_refusal(&e))?;
    let sp = sp_settings(state, &public, &config);
    let idp = idp_settings(&config)?;
    let sp_keys = super::saml_keys::decryption_keys(&state.keys, &config);
    let in_response_to = expected.as_ref().map(|(id, _)| id.clone());
    let verified = state
        .db
        .write(move |tx| {
            Ok(saml::verify_response(
                &response,
                &sp,
                &idp,
                in_response_to.as_deref(),
                Utc::now(),
                &SqliteReplayCache::new(tx),
                &sp_keys,
            ))
        })
        .await
        .map_err(|e| db_refusal(&e))?;
    let settings = config.saml().unwrap_or_default();
    let mapping = config.mapping();
    if ctx.test {
        let request_id = expected.map_or(0, |(_, id)| id);
        let result = verified.map(|a| claims_of(&a, &settings, &mapping)).map_err(|e| saml_refusal(&e));
        let outcome = service::finish_test(state, &config, request_id, result.map(|c| (c, None))).await?;
        return Ok(Landed { outcome, target });
    }
    let assertion = verified.map_err(|e| {
        if e.kind == saml::SamlErrorKind::Storage {
            Refusal::new("internal", e.message.clone())
        } else {
            saml_refusal(&e)
        }
    })?;
    let claims = claims_of(&assertion, &settings, &mapping);
    let outcome = super::provision::sign_in(state, &config, &claims, None, client, ctx).await?;
    Ok(Landed { outcome, target })
}

// ---- attributes → claims

const EMAIL_ATTRIBUTES: &[&str] = &[
    "email",
    "mail",
    "emailAddress",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "urn:oid:0.9.2342.19200300.100.1.3",
    "urn:oid:1.2.840.113549.1.9.1",
];
const NAME_ATTRIBUTES: &[&str] = &[
    "name",
    "displayName",
    "http://schemas.microsoft.com/identity/claims/displayname",
    "urn:oid:2.16.840.1.113730.3.1.241",
];
const GIVEN_ATTRIBUTES: &[&str] = &[
    "givenName",
    "firstName",
    "given_name",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
    "urn:oid:2.5.4.42",
];
const FAMILY_ATTRIBUTES: &[&str] = &[
    "sn",
    "surname",
    "lastName",
    "family_name",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
    "urn:oid:2.5.4.4",
];

fn first<'a>(a: &'a Assertion, names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|n| a.attributes.get(*n).and_then(|v| v.first()).map(String::as_str))
}

/// The claims a verified assertion stands for, in the shape the OIDC
/// provisioning reads: `sub` = `NameID` (the stable subject of
/// `sso_user_mappings`), `email`, `name` / `given_name` / `family_name`, the
/// mapping's groups attribute as an array, and every attribute under `attributes`.
#[must_use]
pub fn claims_of(a: &Assertion, settings: &SsoSamlSettings, mapping: &SsoMapping) -> Map<String, Value> {
    let mut c = Map::new();
    c.insert("iss".into(), json!(a.issuer));
    c.insert("sub".into(), json!(a.name_id));
    if let Some(f) = &a.name_id_format {
        c.insert("name_id_format".into(), json!(f));
    }
    let email = match &settings.email_attribute {
        Some(attr) => a.attributes.get(attr).and_then(|v| v.first()).map(String::as_str),
        None => first(a, EMAIL_ATTRIBUTES),
    }
    .map(str::to_owned)
    .or_else(|| crate::accounts::service::normalize_email(&a.name_id).ok());
    if let Some(e) = email {
        c.insert("email".into(), json!(e));
    }
    let name = match &settings.name_attribute {
        Some(attr) => a.attributes.get(attr).and_then(|v| v.first()).map(String::as_str),
        None => first(a, NAME_ATTRIBUTES),
    };
    if let Some(n) = name {
        c.insert("name".into(), json!(n));
    }
    if let Some(g) = first(a, GIVEN_ATTRIBUTES) {
        c.insert("given_name".into(), json!(g));
    }
    if let Some(f) = first(a, FAMILY_ATTRIBUTES) {
        c.insert("family_name".into(), json!(f));
    }
    let groups = a.attributes.get(&mapping.groups_claim).cloned().unwrap_or_default();
    c.insert(mapping.groups_claim.clone(), json!(groups));
    c.insert("attributes".into(), json!(a.attributes));
    c
}

// ---- background refresh

/// Re-reads a SAML configuration's metadata from its URL. Nothing is
/// replaced unless the new metadata parses and holds a certificate that is
/// in force (or the old ones are not either): the old keys stay otherwise.
/// Answers the new settings, or why they were refused.
pub async fn refreshed_settings(state: &AppState, config: &ConfigRow, url: &str) -> Result<SsoSamlSettings, String> {
    let xml = fetch_metadata(state, url).await?;
    let idp = saml::parse_idp_metadata(&xml).map_err(|e| format!("{}: {}", e.code(), e.message))?;
    let now = Utc::now();
    let in_force = |c: &IdpCertificate| c.warning(now).is_none();
    let old: Vec<IdpCertificate> = config
        .saml()
        .unwrap_or_default()
        .idp_certificates
        .iter()
        .filter_map(|p| saml::parse_certificate(p).ok())
        .collect();
    if !idp.certificates.iter().any(in_force) && old.iter().any(in_force) {
        return Err(
            "every certificate in the new metadata is expired or not yet valid; the current ones are kept".to_owned()
        );
    }
    let mut s = config.saml().unwrap_or_default();
    s.idp_entity_id = Some(idp.entity_id);
    s.idp_sso_url = Some(idp.sso_url);
    s.idp_certificates = idp.certificates.iter().take(MAX_CERTIFICATES).map(IdpCertificate::to_pem).collect();
    s.idp_metadata_xml = Some(xml);
    Ok(s)
}

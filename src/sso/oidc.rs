//! The OpenID Connect relying party: discovery, the JWKS cache with key
//! rotation, the authorization-code exchange (PKCE S256), ID-token
//! validation, userinfo and refresh.
//!
//! Signatures are checked by `jsonwebtoken` (ring underneath); this module
//! decides *which* keys and algorithms are acceptable:
//! - the algorithm allow-list is asymmetric only (`RS256/384/512`,
//!   `PS256/384/512`, `ES256/384`): `none` and every `HS*` are refused before
//!   any key is looked at, so an `IdP`'s public key can never be used as an
//!   HMAC secret;
//! - a key is taken only from the configuration's JWKS, by `kid`, with a key
//!   type matching the algorithm (and the JWK's own `alg`/`use` when given);
//! - an unknown `kid` makes one re-fetch of the JWKS (the `IdP` rotated its
//!   keys), rate-limited per configuration so a flood of forged tokens cannot
//!   turn the server into a JWKS-fetching amplifier.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::outbound::Outbound;

/// The algorithms an ID token may be signed with.
pub const ALLOWED_ALGS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
];

/// Bodies from the `IdP` are small; anything bigger is refused.
const MAX_BODY: usize = 256 * 1024;

/// Why a sign-in was refused: a stable reason code (logged in
/// `sso_login_logs`) and a message for the admin reading the log.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub reason: &'static str,
    pub message: String,
}

impl Refusal {
    #[must_use]
    pub fn new(reason: &'static str, message: impl Into<String>) -> Refusal {
        Refusal { reason, message: message.into() }
    }
}

/// The endpoints of a discovery document.
#[derive(Debug, Clone)]
pub struct Discovered {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: Option<String>,
    pub jwks_uri: String,
}

/// The discovery URL of an issuer.
#[must_use]
pub fn discovery_url(issuer: &str) -> String {
    format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'))
}

/// An endpoint must be https, except on loopback for local identity providers under test
/// or development (the SSRF guard still decides whether it may be reached).
fn endpoint_ok(raw: &str) -> bool {
    let Ok(url) = url::Url::parse(raw) else { return false };
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" => match url.host() {
            Some(url::Host::Domain(d)) => d == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        },
        _ => false,
    }
}

/// Reads and checks a discovery document (OpenID Connect Discovery 1.0 §4):
/// its `issuer` must be the configured one, the authorization, token and
/// JWKS endpoints must be there, and at least one allowed signing algorithm
/// must be offered when the document lists them.
pub fn parse_discovery(configured_issuer: &str, body: &[u8]) -> Result<Discovered, Refusal> {
    #[derive(Deserialize)]
    struct Doc {
        issuer: Option<String>,
        authorization_endpoint: Option<String>,
        token_endpoint: Option<String>,
        userinfo_endpoint: Option<String>,
        jwks_uri: Option<String>,
        id_token_signing_alg_values_supported: Option<Vec<String>>,
    }
    let doc: Doc = serde_json::from_slice(body)
        .map_err(|e| Refusal::new("discovery_not_json", format!("the discovery document is not a JSON object: {e}")))?;
    let issuer =
        doc.issuer.ok_or_else(|| Refusal::new("discovery_missing_field", "the discovery document has no `issuer`"))?;
    if issuer.trim_end_matches('/') != configured_issuer.trim_end_matches('/') {
        return Err(Refusal::new(
            "discovery_issuer_mismatch",
            format!("the discovery document names the issuer `{issuer}`, not `{configured_issuer}`"),
        ));
    }
    let need = |v: Option<String>, name: &str| -> Result<String, Refusal> {
        let v = v.ok_or_else(|| {
            Refusal::new("discovery_missing_field", format!("the discovery document has no `{name}`"))
        })?;
        if !endpoint_ok(&v) {
            return Err(Refusal::new("discovery_bad_endpoint", format!("`{name}` ({v}) is not an https URL")));
        }
        Ok(v)
    };
    let authorization_endpoint = need(doc.authorization_endpoint, "authorization_endpoint")?;
    let token_endpoint = need(doc.token_endpoint, "token_endpoint")?;
    let jwks_uri = need(doc.jwks_uri, "jwks_uri")?;
    let userinfo_endpoint = match doc.userinfo_endpoint {
        Some(u) => Some(need(Some(u), "userinfo_endpoint")?),
        None => None,
    };
    if let Some(algs) = doc.id_token_signing_alg_values_supported
        && !algs.iter().any(|a| parse_alg(a).is_some())
    {
        return Err(Refusal::new(
            "discovery_no_supported_alg",
            format!("the IdP signs ID tokens only with {algs:?}; allowed: RS256/384/512, PS256/384/512, ES256/384"),
        ));
    }
    Ok(Discovered { issuer, authorization_endpoint, token_endpoint, userinfo_endpoint, jwks_uri })
}

/// Fetches and checks the discovery document of `issuer`.
pub async fn discover(outbound: &Outbound, issuer: &str) -> Result<Discovered, Refusal> {
    let url = discovery_url(issuer);
    let body = get_json_body(outbound, &url, None).await.map_err(|m| Refusal::new("discovery_unreachable", m))?;
    parse_discovery(issuer, &body)
}

async fn get_json_body(outbound: &Outbound, url: &str, bearer: Option<&str>) -> Result<Vec<u8>, String> {
    let mut request =
        outbound.request(Method::GET, url).map_err(|e| format!("{url}: {e}"))?.header("Accept", "application/json");
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let fetched = outbound.send_limited(request, Some(MAX_BODY)).await.map_err(|e| format!("{url}: {e}"))?;
    if !fetched.status.is_success() {
        return Err(format!("{url} answered HTTP {}", fetched.status.as_u16()));
    }
    Ok(fetched.body)
}

/// The algorithm named in a JOSE header, if it is on the allow-list.
#[must_use]
pub fn parse_alg(name: &str) -> Option<Algorithm> {
    let alg = match name {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        _ => return None,
    };
    ALLOWED_ALGS.contains(&alg).then_some(alg)
}

/// The algorithm and key id of a token's header. The header is read by hand
/// first so that `alg: none` (which `jsonwebtoken` cannot even represent) and
/// `HS*` get their own reason.
pub fn token_header(token: &str) -> Result<(Algorithm, Option<String>), Refusal> {
    let malformed = |m: &str| Refusal::new("id_token_malformed", m.to_owned());
    let mut parts = token.split('.');
    let (Some(head), Some(_), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(malformed("the ID token is not a signed JWT (three dot-separated parts)"));
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(head.trim_end_matches('='))
        .map_err(|_| malformed("the ID token's header is not base64url"))?;
    let header: Map<String, Value> =
        serde_json::from_slice(&bytes).map_err(|_| malformed("the ID token's header is not a JSON object"))?;
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    let Some(parsed) = parse_alg(alg) else {
        return Err(Refusal::new(
            "id_token_alg_not_allowed",
            format!(
                "the ID token is signed with `{alg}`; only RS256/384/512, PS256/384/512 and ES256/384 are accepted"
            ),
        ));
    };
    if header.contains_key("crit") {
        return Err(malformed("the ID token's header has critical extensions this server does not understand"));
    }
    Ok((parsed, header.get("kid").and_then(Value::as_str).map(str::to_owned)))
}

/// Whether a JWK can verify `alg`: matching key type (and curve), its own
/// `alg` if it names one, and `use` = `sig` if it says.
fn key_fits(jwk: &Jwk, alg: Algorithm) -> bool {
    use jsonwebtoken::jwk::{EllipticCurve, PublicKeyUse};
    let family_ok = match (&jwk.algorithm, alg) {
        (
            AlgorithmParameters::RSA(_),
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512,
        ) => true,
        (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES256) => ec.curve == EllipticCurve::P256,
        (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES384) => ec.curve == EllipticCurve::P384,
        _ => false,
    };
    let alg_ok = jwk.common.key_algorithm.is_none_or(|ka| format!("{ka:?}") == format!("{alg:?}"));
    let use_ok = jwk.common.public_key_use.as_ref().is_none_or(|u| *u == PublicKeyUse::Signature);
    family_ok && alg_ok && use_ok
}

/// The keys of a JWKS document that this server can use; keys it cannot
/// parse (unknown `kty`, symmetric `oct`) are skipped, not fatal.
pub fn parse_jwks(body: &[u8]) -> Result<Vec<Jwk>, String> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| format!("the JWKS is not JSON: {e}"))?;
    let keys = doc.get("keys").and_then(Value::as_array).ok_or("the JWKS has no `keys` array")?;
    Ok(keys
        .iter()
        .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
        .filter(|k| !matches!(k.algorithm, AlgorithmParameters::OctetKey(_)))
        .collect())
}

/// The candidate keys for a token: by `kid` when the token names one,
/// otherwise every key that fits the algorithm.
fn candidates(keys: &[Jwk], alg: Algorithm, kid: Option<&str>) -> Vec<DecodingKey> {
    keys.iter()
        .filter(|k| key_fits(k, alg))
        .filter(|k| kid.is_none_or(|kid| k.common.key_id.as_deref() == Some(kid)))
        .filter_map(|k| DecodingKey::from_jwk(k).ok())
        .collect()
}

/// What an ID token must say.
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    /// `None` for a refresh (the nonce belongs to the first sign-in).
    pub nonce: Option<&'a str>,
    pub skew_secs: u64,
}

/// Verifies the signature with one of `keys` and checks the claims
/// (OpenID Connect Core §3.1.3.7): `iss`, `aud` (and `azp` when there are
/// several audiences or it is present), `exp`/`nbf`/`iat` with the skew,
/// `sub`, and the nonce.
pub fn verify_id_token(
    token: &str,
    alg: Algorithm,
    keys: &[DecodingKey],
    expected: &Expected<'_>,
) -> Result<Map<String, Value>, Refusal> {
    use jsonwebtoken::errors::ErrorKind;
    let mut validation = Validation::new(alg);
    validation.algorithms = vec![alg];
    validation.leeway = expected.skew_secs;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.set_issuer(&[expected.issuer]);
    validation.set_audience(&[expected.client_id]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let mut last =
        Refusal::new("id_token_unknown_key", "no key of the IdP's JWKS fits the ID token (kid and algorithm)");
    let mut claims = None;
    for key in keys {
        match jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation) {
            Ok(data) => {
                claims = Some(data.claims);
                break;
            }
            Err(e) => {
                last = match e.kind() {
                    ErrorKind::InvalidSignature => Refusal::new(
                        "id_token_bad_signature",
                        "the ID token's signature does not verify with the IdP's key",
                    ),
                    ErrorKind::ExpiredSignature => Refusal::new("id_token_expired", "the ID token has expired (`exp`)"),
                    ErrorKind::ImmatureSignature => {
                        Refusal::new("id_token_not_yet_valid", "the ID token is not valid yet (`nbf`)")
                    }
                    ErrorKind::InvalidAudience => Refusal::new(
                        "id_token_wrong_audience",
                        "the ID token's audience (`aud`) is not this configuration's client id",
                    ),
                    ErrorKind::InvalidIssuer => Refusal::new(
                        "id_token_wrong_issuer",
                        "the ID token's issuer (`iss`) is not the configured issuer",
                    ),
                    ErrorKind::MissingRequiredClaim(c) => {
                        Refusal::new("id_token_missing_claim", format!("the ID token has no `{c}` claim"))
                    }
                    ErrorKind::InvalidAlgorithm => {
                        Refusal::new("id_token_alg_not_allowed", "the key does not fit the ID token's algorithm")
                    }
                    other => Refusal::new("id_token_malformed", format!("the ID token cannot be read: {other:?}")),
                };
                // Only a signature failure may be due to the wrong key of
                // several; anything else was said by a verified token.
                if last.reason != "id_token_bad_signature" {
                    return Err(last);
                }
            }
        }
    }
    let claims = claims.ok_or(last)?;
    check_claims(&claims, expected)?;
    Ok(claims)
}

fn check_claims(claims: &Map<String, Value>, expected: &Expected<'_>) -> Result<(), Refusal> {
    let now = chrono::Utc::now().timestamp();
    let skew = i64::try_from(expected.skew_secs).unwrap_or(60);
    let Some(iat) = claims.get("iat").and_then(Value::as_i64) else {
        return Err(Refusal::new("id_token_missing_claim", "the ID token has no `iat` claim"));
    };
    if iat > now + skew {
        return Err(Refusal::new("id_token_not_yet_valid", "the ID token was issued in the future (`iat`)"));
    }
    let audiences = match claims.get("aud") {
        Some(Value::Array(a)) => a.len(),
        _ => 1,
    };
    match claims.get("azp").and_then(Value::as_str) {
        Some(azp) if azp != expected.client_id => {
            return Err(Refusal::new(
                "id_token_wrong_audience",
                "the ID token's authorized party (`azp`) is not this configuration's client id",
            ));
        }
        None if audiences > 1 => {
            return Err(Refusal::new(
                "id_token_wrong_audience",
                "the ID token has several audiences and no authorized party (`azp`)",
            ));
        }
        _ => {}
    }
    if claims.get("sub").and_then(Value::as_str).is_none_or(str::is_empty) {
        return Err(Refusal::new("id_token_missing_claim", "the ID token's `sub` is empty"));
    }
    if let Some(nonce) = expected.nonce {
        let got = claims.get("nonce").and_then(Value::as_str).unwrap_or("");
        if !crate::crypto::constant_time_eq(got.as_bytes(), nonce.as_bytes()) {
            return Err(Refusal::new("nonce_mismatch", "the ID token's nonce is not the one of this sign-in"));
        }
    }
    Ok(())
}

/// One configuration's cached JWKS.
struct CachedJwks {
    url: String,
    keys: Vec<Jwk>,
    fetched_at: Instant,
    /// The last re-fetch caused by an unknown key id.
    last_forced: Option<Instant>,
}

/// The JWKS cache of every configuration; cheap to clone, shared by workers.
#[derive(Clone, Default)]
pub struct JwksCache {
    inner: Arc<Mutex<HashMap<i64, CachedJwks>>>,
}

/// Cache timings (from `[sso]`).
#[derive(Debug, Clone, Copy)]
pub struct CachePolicy {
    pub max_age: Duration,
    pub refetch_min: Duration,
}

impl JwksCache {
    fn cached(&self, config_id: i64, url: &str, policy: CachePolicy) -> Option<Vec<Jwk>> {
        let map = self.inner.lock().ok()?;
        map.get(&config_id).filter(|c| c.url == url && c.fetched_at.elapsed() < policy.max_age).map(|c| c.keys.clone())
    }

    /// Whether an unknown-kid re-fetch is allowed now (and records it).
    fn may_force(&self, config_id: i64, policy: CachePolicy) -> bool {
        let Ok(mut map) = self.inner.lock() else { return false };
        match map.get_mut(&config_id) {
            Some(c) if c.last_forced.is_some_and(|t| t.elapsed() < policy.refetch_min) => false,
            Some(c) => {
                c.last_forced = Some(Instant::now());
                true
            }
            None => true,
        }
    }

    fn store(&self, config_id: i64, url: &str, keys: Vec<Jwk>) {
        if let Ok(mut map) = self.inner.lock() {
            let last_forced = map.get(&config_id).filter(|c| c.url == url).and_then(|c| c.last_forced);
            map.insert(config_id, CachedJwks { url: url.to_owned(), keys, fetched_at: Instant::now(), last_forced });
        }
    }

    /// Forgets a configuration's keys (its JWKS URL or issuer changed, or it was deleted).
    pub fn forget(&self, config_id: i64) {
        if let Ok(mut map) = self.inner.lock() {
            map.remove(&config_id);
        }
    }

    async fn fetch(&self, outbound: &Outbound, config_id: i64, url: &str) -> Result<Vec<Jwk>, Refusal> {
        let body = get_json_body(outbound, url, None).await.map_err(|m| Refusal::new("jwks_unreachable", m))?;
        let keys = parse_jwks(&body).map_err(|m| Refusal::new("jwks_malformed", m))?;
        self.store(config_id, url, keys.clone());
        Ok(keys)
    }

    /// Re-fetches a configuration's JWKS (the background refresh). The cached
    /// keys are replaced only by a JWKS that was fetched and parsed; on any
    /// failure the old keys stay. Answers the number of keys.
    pub async fn refresh(&self, outbound: &Outbound, config_id: i64, url: &str) -> Result<usize, Refusal> {
        Ok(self.fetch(outbound, config_id, url).await?.len())
    }

    /// The keys that may verify a token with `alg` and `kid`: from the
    /// cache, else fetched; an unknown `kid` re-fetches once (rate-limited).
    pub async fn keys_for(
        &self,
        outbound: &Outbound,
        config_id: i64,
        url: &str,
        alg: Algorithm,
        kid: Option<&str>,
        policy: CachePolicy,
    ) -> Result<Vec<DecodingKey>, Refusal> {
        let (keys, fresh) = match self.cached(config_id, url, policy) {
            Some(keys) => (keys, false),
            None => (self.fetch(outbound, config_id, url).await?, true),
        };
        let found = candidates(&keys, alg, kid);
        if !found.is_empty() {
            return Ok(found);
        }
        if !fresh && self.may_force(config_id, policy) {
            let keys = self.fetch(outbound, config_id, url).await?;
            let found = candidates(&keys, alg, kid);
            if !found.is_empty() {
                return Ok(found);
            }
        }
        Err(Refusal::new(
            "id_token_unknown_key",
            format!("the IdP's JWKS has no {alg:?} key with key id {}", kid.unwrap_or("(none)")),
        ))
    }
}

/// What the token endpoint answered.
#[derive(Debug, Deserialize)]
#[allow(clippy::struct_field_names, reason = "the token endpoint's field names (RFC 6749 §5.1)")]
pub struct TokenResponse {
    pub id_token: Option<String>,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
}

/// The client's credentials at the token endpoint (`client_secret_basic`;
/// a public client without a secret sends only its `client_id`).
pub struct Client<'a> {
    pub id: &'a str,
    pub secret: Option<&'a str>,
}

fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Posts a grant to the token endpoint.
pub async fn token_request(
    outbound: &Outbound,
    token_url: &str,
    client: &Client<'_>,
    form: &[(&str, &str)],
) -> Result<TokenResponse, Refusal> {
    let mut fields: Vec<(&str, &str)> = form.to_vec();
    fields.push(("client_id", client.id));
    let mut request = outbound
        .request(Method::POST, token_url)
        .map_err(|e| Refusal::new("token_exchange_failed", e.to_string()))?
        .header("Accept", "application/json")
        .form(&fields);
    if let Some(secret) = client.secret {
        // RFC 6749 §2.3.1: both parts form-encoded before Basic.
        request = request.basic_auth(form_encode(client.id), Some(form_encode(secret)));
    }
    let fetched = outbound
        .send_limited(request, Some(MAX_BODY))
        .await
        .map_err(|e| Refusal::new("token_exchange_failed", format!("the token endpoint: {e}")))?;
    if !fetched.status.is_success() {
        let said: Value = serde_json::from_slice(&fetched.body).unwrap_or(Value::Null);
        return Err(Refusal::new(
            "token_exchange_failed",
            format!(
                "the token endpoint answered HTTP {}: {} {}",
                fetched.status.as_u16(),
                said.get("error").and_then(Value::as_str).unwrap_or(""),
                said.get("error_description").and_then(Value::as_str).unwrap_or("")
            ),
        ));
    }
    serde_json::from_slice(&fetched.body)
        .map_err(|e| Refusal::new("token_exchange_failed", format!("the token endpoint's answer is not JSON: {e}")))
}

/// The userinfo claims; their `sub` must be the ID token's (Core §5.3.2).
pub async fn userinfo(
    outbound: &Outbound,
    url: &str,
    access_token: &str,
    sub: &str,
) -> Result<Map<String, Value>, Refusal> {
    let body =
        get_json_body(outbound, url, Some(access_token)).await.map_err(|m| Refusal::new("userinfo_failed", m))?;
    let claims: Map<String, Value> = serde_json::from_slice(&body).map_err(|_| {
        Refusal::new("userinfo_failed", "the userinfo answer is not a JSON object (signed userinfo is not supported)")
    })?;
    if claims.get("sub").and_then(Value::as_str) != Some(sub) {
        return Err(Refusal::new("userinfo_subject_mismatch", "the userinfo `sub` is not the ID token's"));
    }
    Ok(claims)
}

/// The PKCE S256 challenge of a verifier.
#[must_use]
pub fn pkce_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(crate::crypto::sha256(verifier.as_bytes()))
}

/// The authorization request URL.
#[allow(clippy::too_many_arguments, reason = "the request's parameters, each a plain string")]
pub fn authorize_url(
    endpoint: &str,
    client_id: &str,
    redirect_uri: &str,
    scopes: &str,
    state: &str,
    nonce: &str,
    challenge: &str,
    login_hint: Option<&str>,
) -> Result<String, String> {
    let mut url = url::Url::parse(endpoint).map_err(|e| e.to_string())?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", scopes)
            .append_pair("state", state)
            .append_pair("nonce", nonce)
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256");
        if let Some(hint) = login_hint {
            q.append_pair("login_hint", hint);
        }
    }
    Ok(url.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(v: &Value) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    }

    #[test]
    fn header_refuses_none_and_hmac() {
        for alg in ["none", "HS256", "HS512", "", "RS1"] {
            let token = format!("{}.{}.", b64(&serde_json::json!({"alg": alg})), b64(&serde_json::json!({"sub": "x"})));
            let e = token_header(&token).err().map(|r| r.reason);
            assert_eq!(e, Some("id_token_alg_not_allowed"), "{alg}");
        }
        let ok = format!("{}.e30.sig", b64(&serde_json::json!({"alg": "RS256", "kid": "k1"})));
        let (alg, kid) = token_header(&ok).expect("header");
        assert_eq!((alg, kid.as_deref()), (Algorithm::RS256, Some("k1")));
        assert_eq!(token_header("a.b").err().map(|r| r.reason), Some("id_token_malformed"));
    }

    #[test]
    fn discovery_checks_issuer_endpoints_and_algs() {
        let good = serde_json::json!({
            "issuer": "https://idp.example/realms/a",
            "authorization_endpoint": "https://idp.example/auth",
            "token_endpoint": "https://idp.example/token",
            "jwks_uri": "https://idp.example/certs",
            "id_token_signing_alg_values_supported": ["RS256", "HS256"]
        });
        let d = parse_discovery("https://idp.example/realms/a/", good.to_string().as_bytes()).expect("ok");
        assert_eq!(d.token_endpoint, "https://idp.example/token");
        let mut other = good.clone();
        other["issuer"] = "https://evil.example".into();
        assert_eq!(
            parse_discovery("https://idp.example/realms/a", other.to_string().as_bytes()).err().map(|r| r.reason),
            Some("discovery_issuer_mismatch")
        );
        let mut plain = good.clone();
        plain["token_endpoint"] = "http://idp.example/token".into();
        assert_eq!(
            parse_discovery("https://idp.example/realms/a", plain.to_string().as_bytes()).err().map(|r| r.reason),
            Some("discovery_bad_endpoint")
        );
        let mut hs = good.clone();
        hs["id_token_signing_alg_values_supported"] = serde_json::json!(["HS256", "none"]);
        assert_eq!(
            parse_discovery("https://idp.example/realms/a", hs.to_string().as_bytes()).err().map(|r| r.reason),
            Some("discovery_no_supported_alg")
        );
        assert_eq!(parse_discovery("x", b"<html>").err().map(|r| r.reason), Some("discovery_not_json"));
    }

    #[test]
    fn jwks_skips_symmetric_and_unknown_keys() {
        let body = serde_json::json!({"keys": [
            {"kty": "oct", "k": "c2VjcmV0", "kid": "h"},
            {"kty": "weird", "kid": "w"},
            {"kty": "RSA", "kid": "r", "n": "sXch", "e": "AQAB", "use": "sig"}
        ]});
        let keys = parse_jwks(body.to_string().as_bytes()).expect("jwks");
        assert_eq!(keys.len(), 1);
        assert!(key_fits(&keys[0], Algorithm::RS256));
        assert!(!key_fits(&keys[0], Algorithm::ES256));
        assert!(!key_fits(&keys[0], Algorithm::HS256));
    }
}

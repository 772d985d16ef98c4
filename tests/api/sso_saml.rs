//! SAML 2.0 single sign-on through the real server: the test plays the
//! identity provider, building and signing responses with the test keys of
//! `tests/fixtures/saml/` for the `AuthnRequest` the server redirected to,
//! and posting them to the assertion consumer service. Every refused
//! response must be logged in `sso_login_logs` with its reason.

use std::collections::HashMap;
use std::io::Read as _;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use botbuilder::saml::xml::{C14n, Document, exc_c14n};
use chrono::{Duration, SecondsFormat, Utc};
use reqwest::Method;
use rsa::RsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::signature::{SignatureEncoding as _, Signer as _};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::fake_http::{FakeServer, Received, Reply};
use crate::helpers::{Session, TestApp, assert_error, call_ok, send_as, spawn_app};

pub(crate) const IDP_KEY: &str = include_str!("../fixtures/saml/idp-key.pem");
pub(crate) const IDP_CERT: &str = include_str!("../fixtures/saml/idp.crt");
const IDP2_KEY: &str = include_str!("../fixtures/saml/idp2-key.pem");
const IDP2_CERT: &str = include_str!("../fixtures/saml/idp2.crt");
const OTHER_KEY: &str = include_str!("../fixtures/saml/other-key.pem");
pub(crate) const OTHER_CERT: &str = include_str!("../fixtures/saml/other.crt");
const EXPIRED_CERT: &str = include_str!("../fixtures/saml/expired.crt");
const OIDC_KEY_N: &str = include_str!("fixtures/oidc/a.n");

const NS_PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const NS_ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const NS_DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

pub(crate) fn b64(data: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn key(pem: &str) -> RsaPrivateKey {
    RsaPrivateKey::from_pkcs8_pem(pem).expect("fixture key")
}

/// The base64 DER of a PEM certificate, as `ds:X509Certificate` holds it.
fn der_b64(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect::<String>()
}

fn instant(offset_secs: i64) -> String {
    (Utc::now() + Duration::seconds(offset_secs)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `IdP` metadata naming `entity`, its redirect endpoint and signing certificates.
pub(crate) fn metadata(entity: &str, sso_url: &str, certs: &[&str]) -> String {
    let keys = certs
        .iter()
        .map(|c| {
            format!(
                r#"<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="{NS_DSIG}"><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#,
                der_b64(c)
            )
        })
        .collect::<Vec<_>>()
        .concat();
    format!(
        r#"<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity}">
  <md:IDPSSODescriptor protocolSupportEnumeration="{NS_PROTOCOL}">{keys}
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{sso_url}"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"#
    )
}

/// The values of a test response.
#[derive(Clone)]
pub(crate) struct R {
    pub(crate) response_id: String,
    pub(crate) assertion_id: String,
    pub(crate) issuer: String,
    pub(crate) audience: String,
    pub(crate) acs: String,
    pub(crate) in_response_to: Option<String>,
    pub(crate) name_id: String,
    pub(crate) not_before: String,
    pub(crate) not_on_or_after: String,
    pub(crate) groups: Vec<String>,
}

impl R {
    pub(crate) fn new(idp: &str, sp: &Value, in_response_to: Option<&str>, name_id: &str) -> R {
        let n = rand::random::<u64>();
        R {
            response_id: format!("_resp{n}"),
            assertion_id: format!("_assert{n}"),
            issuer: idp.to_owned(),
            audience: sp["entity_id"].as_str().expect("entity id").to_owned(),
            acs: sp["acs_url"].as_str().expect("acs").to_owned(),
            in_response_to: in_response_to.map(str::to_owned),
            name_id: name_id.to_owned(),
            not_before: instant(-60),
            not_on_or_after: instant(300),
            groups: vec!["Everyone".into()],
        }
    }
}

fn assertion_xml(r: &R) -> String {
    let irt = r.in_response_to.as_ref().map_or_else(String::new, |i| format!(" InResponseTo=\"{i}\""));
    let groups =
        r.groups.iter().map(|g| format!("<saml:AttributeValue>{g}</saml:AttributeValue>")).collect::<Vec<_>>().concat();
    format!(
        r#"<saml:Assertion xmlns:saml="{NS_ASSERTION}" ID="{aid}" IssueInstant="{nb}" Version="2.0">
    <saml:Issuer>{issuer}</saml:Issuer><!--SIG-->
    <saml:Subject>
      <saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{name}</saml:NameID>
      <saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">
        <saml:SubjectConfirmationData{irt} NotOnOrAfter="{noa}" Recipient="{acs}"/>
      </saml:SubjectConfirmation>
    </saml:Subject>
    <saml:Conditions NotBefore="{nb}" NotOnOrAfter="{noa}">
      <saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction>
    </saml:Conditions>
    <saml:AuthnStatement AuthnInstant="{nb}" SessionIndex="_s1"/>
    <saml:AttributeStatement>
      <saml:Attribute Name="http://schemas.microsoft.com/identity/claims/displayname"><saml:AttributeValue>Ada Lovelace</saml:AttributeValue></saml:Attribute>
      <saml:Attribute Name="department"><saml:AttributeValue>Engines</saml:AttributeValue></saml:Attribute>
      <saml:Attribute Name="groups">{groups}</saml:Attribute>
    </saml:AttributeStatement>
  </saml:Assertion>"#,
        aid = r.assertion_id,
        issuer = r.issuer,
        name = r.name_id,
        noa = r.not_on_or_after,
        nb = r.not_before,
        acs = r.acs,
        audience = r.audience,
    )
}

pub(crate) fn response_xml(r: &R, assertion: &str) -> String {
    let irt = r.in_response_to.as_ref().map_or_else(String::new, |i| format!(" InResponseTo=\"{i}\""));
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<samlp:Response xmlns:samlp="{NS_PROTOCOL}" xmlns:saml="{NS_ASSERTION}" Destination="{acs}" ID="{rid}"{irt} IssueInstant="{at}" Version="2.0">
  <saml:Issuer>{issuer}</saml:Issuer><!--RSIG-->
  <samlp:Status><samlp:StatusCode Value="{SUCCESS}"/></samlp:Status>
  {assertion}
</samlp:Response>
"#,
        acs = r.acs,
        rid = r.response_id,
        at = r.not_before,
        issuer = r.issuer,
    )
}

/// Signs the element with ID `id` (enveloped, exclusive c14n, SHA-256,
/// RSA-SHA256), putting the signature in place of `marker`.
fn sign(xml: &str, id: &str, marker: &str, key: &RsaPrivateKey) -> String {
    let doc = Document::parse(xml).expect("parse for signing");
    let el = doc.descendants(doc.root).into_iter().find(|n| doc.attr(*n, "ID") == Some(id)).expect("element to sign");
    let content = exc_c14n(&doc, el, &C14n { exclude: None, inclusive_prefixes: &[], with_comments: false });
    let digest = b64(Sha256::digest(content.as_bytes()));
    let inner = format!(
        r##"<ds:CanonicalizationMethod Algorithm="{EXC_C14N}"/><ds:SignatureMethod Algorithm="{RSA_SHA256}"/><ds:Reference URI="#{id}"><ds:Transforms><ds:Transform Algorithm="{ENVELOPED}"/><ds:Transform Algorithm="{EXC_C14N}"/></ds:Transforms><ds:DigestMethod Algorithm="{SHA256}"/><ds:DigestValue>{digest}</ds:DigestValue></ds:Reference>"##
    );
    let standalone = format!(r#"<ds:SignedInfo xmlns:ds="{NS_DSIG}">{inner}</ds:SignedInfo>"#);
    let si_doc = Document::parse(&standalone).expect("signed info");
    let si = exc_c14n(&si_doc, si_doc.root, &C14n { exclude: None, inclusive_prefixes: &[], with_comments: false });
    let signature = rsa::pkcs1v15::SigningKey::<Sha256>::new(key.clone()).sign(si.as_bytes());
    let sig = format!(
        r#"<ds:Signature xmlns:ds="{NS_DSIG}"><ds:SignedInfo>{inner}</ds:SignedInfo><ds:SignatureValue>{}</ds:SignatureValue></ds:Signature>"#,
        b64(signature.to_bytes())
    );
    assert!(xml.contains(marker), "marker {marker} missing");
    xml.replacen(marker, &sig, 1)
}

/// The assertion of `r` signed by `key` in place, cut out as text.
pub(crate) fn signed_assertion_with(r: &R, key_pem: &str) -> String {
    let full = sign(&response_xml(r, &assertion_xml(r)), &r.assertion_id, "<!--SIG-->", &key(key_pem));
    let start = full.find("<saml:Assertion").expect("assertion start");
    let end = full.rfind("</saml:Assertion>").expect("assertion end") + "</saml:Assertion>".len();
    full[start..end].to_owned()
}

/// A response with its assertion signed by `key_pem`.
pub(crate) fn signed_response(r: &R, key_pem: &str) -> String {
    response_xml(r, &signed_assertion_with(r, key_pem))
}

fn unsigned_assertion(r: &R) -> String {
    assertion_xml(r).replace("<!--SIG-->", "")
}

// ---- the identity provider's side

/// A fake `IdP` host serving metadata (and, for the refresh test, an OIDC
/// discovery document and JWKS).
pub(crate) struct Host {
    pub(crate) server: FakeServer,
    files: Arc<Mutex<HashMap<String, (u16, String)>>>,
}

impl Host {
    pub(crate) async fn start() -> Host {
        let files: Arc<Mutex<HashMap<String, (u16, String)>>> = Arc::default();
        let f = files.clone();
        let server = FakeServer::start(Arc::new(move |r: &Received| {
            let path = r.path.split('?').next().unwrap_or("").to_owned();
            match f.lock().expect("files").get(&path) {
                Some((status, body)) => Reply::Full(*status, "application/xml".into(), body.clone().into_bytes()),
                None => Reply::Full(404, "text/plain".into(), b"no".to_vec()),
            }
        }))
        .await;
        Host { server, files }
    }

    pub(crate) fn serve(&self, path: &str, status: u16, body: &str) {
        self.files.lock().expect("files").insert(path.to_owned(), (status, body.to_owned()));
    }

    fn fetches(&self, path: &str) -> usize {
        self.server.requests().iter().filter(|r| r.path == path).count()
    }
}

pub(crate) const IDP: &str = "https://idp.acme.test/saml";
pub(crate) const IDP_SSO: &str = "https://idp.acme.test/saml/sso";

/// Creates an enabled SAML configuration from metadata and a verified
/// domain; answers its id and SP values.
pub(crate) async fn configure(app: &TestApp, owner: &Session, domain: &str, saml: Value) -> (i64, Value) {
    let body = json!({
        "protocol": "saml", "name": "Acme IdP", "enabled": true, "saml": saml,
        "mapping": { "groups_claim": "groups", "rules": [ { "group": "bb-admins", "role": "admin" } ] }
    });
    let path = format!("/api/v1/orgs/{}/sso/configurations", owner.org_id);
    let config = call_ok(app, owner, Method::POST, &path, Some(body)).await;
    let id = config["id"].as_i64().expect("id");
    let d = call_ok(
        app,
        owner,
        Method::POST,
        &format!("/api/v1/orgs/{}/sso/domains", owner.org_id),
        Some(json!({ "domain": domain, "sso_configuration_id": id })),
    )
    .await;
    // Verification itself is covered by the OIDC tests (DNS, HTTP file).
    let domain_id = d["id"].as_i64().expect("domain id");
    app.sql(|c| {
        c.execute("UPDATE sso_domains SET is_verified = 1, verification_method = 'manual' WHERE id = ?1", [domain_id])
    });
    (id, config["saml_sp"].clone())
}

fn idp_metadata() -> Value {
    json!({ "idp_metadata_xml": metadata(IDP, IDP_SSO, &[IDP_CERT]) })
}

fn cookie_of(r: &reqwest::Response, prefix: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(prefix) && !v.starts_with(&format!("{prefix};")))
        .map(str::to_owned)
}

/// A started SP-initiated sign-in.
pub(crate) struct Started {
    pub(crate) request_id: String,
    pub(crate) relay: String,
    pub(crate) binding: String,
}

/// The `AuthnRequest` of a redirect URL (DEFLATE, base64) and its `RelayState`.
fn read_redirect(location: &str) -> (String, String) {
    assert!(location.starts_with(IDP_SSO), "to the IdP: {location}");
    let url = url::Url::parse(location).expect("url");
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    let deflated = base64::engine::general_purpose::STANDARD.decode(&q["SAMLRequest"]).expect("base64");
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(deflated.as_slice()).read_to_string(&mut xml).expect("inflate");
    assert!(xml.contains("<samlp:AuthnRequest"), "{xml}");
    let start = xml.find(" ID=\"").expect("ID") + 5;
    let id = xml[start..].split('"').next().expect("id").to_owned();
    (id, q["RelayState"].clone())
}

async fn start(app: &TestApp, email: &str) -> Started {
    start_at(app, &format!("/api/v1/sso/login?email={email}")).await
}

/// Starts an SP-initiated sign-in at `login` (`/api/v1/sso/login?email=…`).
pub(crate) async fn start_at(app: &TestApp, login: &str) -> Started {
    let r = app.get(login).await;
    assert_eq!(r.status(), 303, "start: {}", r.text().await.unwrap_or_default());
    let set = cookie_of(&r, "__Host-bb_sso=").expect("binding cookie");
    assert!(set.contains("SameSite=None"), "the binding cookie must follow a cross-site POST: {set}");
    let binding = set.split(';').next().expect("cookie").to_owned();
    let (request_id, relay) = read_redirect(r.headers()["location"].to_str().expect("location"));
    Started { request_id, relay, binding }
}

/// What the ACS did.
pub(crate) struct Landed {
    pub(crate) status: u16,
    pub(crate) location: String,
    pub(crate) session_cookie: Option<String>,
}

async fn post_acs(app: &TestApp, config: i64, xml: &str, relay: Option<&str>, cookie: Option<&str>) -> Landed {
    let mut form = vec![("SAMLResponse", b64(xml))];
    if let Some(r) = relay {
        form.push(("RelayState", r.to_owned()));
    }
    let mut req = app.request(Method::POST, &format!("/api/v1/sso/saml/{config}/acs")).form(&form);
    if let Some(c) = cookie {
        req = req.header("Cookie", c);
    }
    let r = req.send().await.expect("acs");
    Landed {
        status: r.status().as_u16(),
        location: r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned(),
        session_cookie: cookie_of(&r, "__Host-bb_session=").and_then(|c| c.split(';').next().map(str::to_owned)),
    }
}

/// Posts `xml` as the answer to `s`.
pub(crate) async fn answer(app: &TestApp, config: i64, s: &Started, xml: &str) -> Landed {
    post_acs(app, config, xml, Some(&s.relay), Some(&s.binding)).await
}

pub(crate) fn last_log(app: &TestApp) -> (String, Option<String>, Option<i64>) {
    app.sql(|c| {
        c.query_row(
            "SELECT status, error_message, sso_configuration_id FROM sso_login_logs ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
    })
}

#[track_caller]
pub(crate) fn assert_refused(app: &TestApp, landed: &Landed, reason: &str) {
    assert_eq!(landed.status, 303, "{reason}");
    assert_eq!(landed.location, format!("/login?sso_error={reason}"), "refused for {reason}");
    assert!(landed.session_cookie.is_none(), "no session for {reason}");
    let (status, error, _) = last_log(app);
    assert_eq!(status, "failed");
    assert!(error.as_deref().is_some_and(|e| e.starts_with(&format!("{reason}: "))), "logged {error:?} for {reason}");
}

pub(crate) async fn me(app: &TestApp, cookie: &str) -> Value {
    let r = app.request(Method::GET, "/api/v1/me").header("Cookie", cookie).send().await.expect("me");
    assert_eq!(r.status(), 200);
    r.json().await.expect("json")
}

fn role_of(app: &TestApp, org: i64, email: &str) -> Option<String> {
    app.sql(|c| {
        use rusqlite::OptionalExtension as _;
        c.query_row(
            "SELECT r.name FROM organization_members m JOIN roles r ON r.id = m.role_id JOIN users u ON u.id = m.user_id
             WHERE m.organization_id = ?1 AND u.email = ?2",
            rusqlite::params![org, email],
            |r| r.get(0),
        )
        .optional()
    })
}

fn jwks(kid: &str) -> String {
    json!({ "keys": [ { "kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": OIDC_KEY_N.trim(), "e": "AQAB" } ] })
        .to_string()
}

/// Builds a forged response for the request id it is given.
type Forge<'a> = Box<dyn Fn(&str) -> String + 'a>;

// ---- tests

#[tokio::test]
#[allow(clippy::too_many_lines, reason = "one sign-in story: metadata, provisioning, mapping, subject, test login")]
async fn saml_sp_initiated_sign_in_provisions_maps_groups_and_keeps_the_name_id() {
    let app = spawn_app().await;
    let owner = app.register("owner@acme.test").await;
    let (config, sp) = configure(&app, &owner, "acme.test", idp_metadata()).await;
    assert!(sp["acs_url"].as_str().is_some_and(|u| u.ends_with(&format!("/api/v1/sso/saml/{config}/acs"))), "{sp}");
    assert_eq!(sp["entity_id"], sp["metadata_url"]);

    // Our SP metadata is public, at the entity id.
    let r = app.get(&format!("/api/v1/sso/saml/{config}/metadata")).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().is_ok_and(|t| t.starts_with("application/samlmetadata+xml")));
    let xml = r.text().await.expect("xml");
    assert!(xml.contains(&format!("entityID=\"{}\"", sp["entity_id"].as_str().expect("id"))), "{xml}");
    assert!(xml.contains(sp["acs_url"].as_str().expect("acs")));

    let check: Value = app.get("/api/v1/sso/check?email=ada@acme.test").await.json().await.expect("json");
    assert_eq!(check["sso"], true);

    // First sign-in: user, membership with the mapped role, subject link.
    let s = start(&app, "ada@acme.test").await;
    let mut r = R::new(IDP, &sp, Some(&s.request_id), "ada@acme.test");
    r.groups = vec!["Everyone".into(), "bb-admins".into()];
    let landed = answer(&app, config, &s, &signed_response(&r, IDP_KEY)).await;
    assert_eq!((landed.status, landed.location.as_str()), (303, "/"), "{:?}", last_log(&app));
    let cookie = landed.session_cookie.expect("session cookie");
    let body = me(&app, &cookie).await;
    assert_eq!(body["user"]["email"], "ada@acme.test");
    assert_eq!(body["user"]["name"], "Ada Lovelace");
    assert_eq!(role_of(&app, owner.org_id, "ada@acme.test").as_deref(), Some("admin"));
    assert_eq!(last_log(&app), ("success".to_owned(), None, Some(config)));
    let (subject, attrs): (String, String) = app.sql(|c| {
        c.query_row(
            "SELECT external_id, attributes FROM sso_user_mappings WHERE sso_configuration_id = ?1",
            [config],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    });
    assert_eq!(subject, "ada@acme.test");
    assert!(attrs.contains("bb-admins"), "{attrs}");

    // The same response posted again: the request was used up.
    let again = answer(&app, config, &s, &signed_response(&r, IDP_KEY)).await;
    assert_refused(&app, &again, "state_replayed");
    // The same assertion answering a fresh request: the replay cache refuses it.
    let s2 = start(&app, "ada@acme.test").await;
    let replay = R { in_response_to: Some(s2.request_id.clone()), ..r.clone() };
    assert_refused(&app, &answer(&app, config, &s2, &signed_response(&replay, IDP_KEY)).await, "replayed");

    // Group removed at the IdP: the role follows on the next sign-in.
    let s3 = start(&app, "ada@acme.test").await;
    let r3 = R::new(IDP, &sp, Some(&s3.request_id), "ada@acme.test");
    let landed = answer(&app, config, &s3, &signed_response(&r3, IDP_KEY)).await;
    assert_eq!(landed.location, "/");
    assert_eq!(role_of(&app, owner.org_id, "ada@acme.test").as_deref(), Some("viewer"));
    assert_eq!(app.count("SELECT count(*) FROM users WHERE email = 'ada@acme.test'"), 1);

    // Test login by an admin: attributes shown, nobody signed in.
    let path = format!("/api/v1/sso/configurations/{config}/test");
    let resp = send_as(&app, &owner, Method::POST, &path, None).await;
    assert_eq!(resp.status(), 200);
    let binding = cookie_of(&resp, "__Host-bb_sso=").expect("binding").split(';').next().expect("c").to_owned();
    let started: Value = resp.json().await.expect("json");
    let (request_id, test_relay) = read_redirect(started["authorize_url"].as_str().expect("url"));
    let mut rt = R::new(IDP, &sp, Some(&request_id), "grace@acme.test");
    rt.groups = vec!["bb-admins".into()];
    let landed = post_acs(&app, config, &signed_response(&rt, IDP_KEY), Some(&test_relay), Some(&binding)).await;
    assert_eq!((landed.status, landed.location.as_str()), (303, "/settings/sso?test=success"));
    assert!(landed.session_cookie.is_none());
    assert_eq!(app.count("SELECT count(*) FROM users WHERE email = 'grace@acme.test'"), 0);
    let result =
        call_ok(&app, &owner, Method::GET, &format!("/api/v1/sso/configurations/{config}/test-result"), None).await;
    assert_eq!(result["status"], "success", "{result}");
    assert_eq!(result["claims"]["sub"], "grace@acme.test");
    assert_eq!(result["claims"]["attributes"]["department"], json!(["Engines"]));
    assert_eq!(result["mapped"]["role"], "admin");

    // The admin sees every attempt with its reason.
    let logs = call_ok(&app, &owner, Method::GET, &format!("/api/v1/orgs/{}/sso/logins", owner.org_id), None).await;
    let reasons: Vec<Value> = logs["items"].as_array().expect("items").iter().map(|l| l["reason"].clone()).collect();
    assert!(reasons.contains(&json!("replayed")) && reasons.contains(&json!("state_replayed")), "{logs}");
}

#[tokio::test]
async fn saml_idp_initiated_is_refused_by_default_and_accepted_when_enabled() {
    let app = spawn_app().await;
    let owner = app.register("owner@acme.test").await;
    let (config, sp) = configure(&app, &owner, "acme.test", idp_metadata()).await;
    let unsolicited = R::new(IDP, &sp, None, "ada@acme.test");
    let landed = post_acs(&app, config, &signed_response(&unsolicited, IDP_KEY), None, None).await;
    assert_refused(&app, &landed, "unsolicited");
    assert_eq!(app.count("SELECT count(*) FROM users WHERE email = 'ada@acme.test'"), 0);

    let mut saml = idp_metadata();
    saml["allow_idp_initiated"] = json!(true);
    let path = format!("/api/v1/sso/configurations/{config}");
    let updated = call_ok(&app, &owner, Method::PATCH, &path, Some(json!({ "saml": saml }))).await;
    assert_eq!(updated["saml"]["allow_idp_initiated"], true);
    // A relative RelayState is where the browser lands.
    let r = R::new(IDP, &sp, None, "ada@acme.test");
    let landed = post_acs(&app, config, &signed_response(&r, IDP_KEY), Some("/bots"), None).await;
    assert_eq!((landed.status, landed.location.as_str()), (303, "/bots"), "{:?}", last_log(&app));
    assert!(landed.session_cookie.is_some());
    // Never another site.
    for evil in ["https://evil.example/", "//evil.example/x", "/\\evil.example"] {
        let r = R::new(IDP, &sp, None, "ada@acme.test");
        let landed = post_acs(&app, config, &signed_response(&r, IDP_KEY), Some(evil), None).await;
        assert_eq!((landed.status, landed.location.as_str()), (303, "/"), "relay {evil}");
    }
    // An unsolicited response still cannot claim to answer a request.
    let r = R::new(IDP, &sp, Some("_not_ours"), "ada@acme.test");
    let landed = post_acs(&app, config, &signed_response(&r, IDP_KEY), None, None).await;
    assert_refused(&app, &landed, "in_response_to_mismatch");
}

#[tokio::test]
#[allow(clippy::too_many_lines, reason = "the must-show list of refused responses")]
async fn saml_forged_responses_are_refused_with_their_reason_logged() {
    let app = spawn_app().await;
    let owner = app.register("owner@acme.test").await;
    let (config, sp) = configure(&app, &owner, "acme.test", idp_metadata()).await;
    let email = "ada@acme.test";

    // Each case answers its own fresh request.
    let cases: Vec<(&str, Forge<'_>)> = vec![
        (
            "wrong_audience",
            Box::new(|req: &str| {
                let r = R { audience: "https://other-sp.example.net".into(), ..R::new(IDP, &sp, Some(req), email) };
                signed_response(&r, IDP_KEY)
            }),
        ),
        (
            "expired",
            Box::new(|req: &str| {
                let r = R {
                    not_before: instant(-900),
                    not_on_or_after: instant(-600),
                    ..R::new(IDP, &sp, Some(req), email)
                };
                signed_response(&r, IDP_KEY)
            }),
        ),
        (
            "not_yet_valid",
            Box::new(|req: &str| {
                let r =
                    R { not_before: instant(600), not_on_or_after: instant(900), ..R::new(IDP, &sp, Some(req), email) };
                signed_response(&r, IDP_KEY)
            }),
        ),
        (
            "unsigned",
            Box::new(|req: &str| {
                let r = R::new(IDP, &sp, Some(req), email);
                response_xml(&r, &unsigned_assertion(&r))
            }),
        ),
        ("bad_signature", Box::new(|req: &str| signed_response(&R::new(IDP, &sp, Some(req), email), OTHER_KEY))),
        (
            "in_response_to_mismatch",
            Box::new(|_req: &str| signed_response(&R::new(IDP, &sp, Some("_another_request"), email), IDP_KEY)),
        ),
        // Signature wrapping 1: the signed assertion hidden in Extensions, an evil one in its place.
        (
            "wrapped",
            Box::new(|req: &str| {
                let r = R::new(IDP, &sp, Some(req), email);
                let evil = R { assertion_id: "_evil".into(), name_id: "owner@acme.test".into(), ..r.clone() };
                response_xml(&r, &unsigned_assertion(&evil)).replace(
                    "<samlp:Status>",
                    &format!(
                        "<samlp:Extensions>{}</samlp:Extensions><samlp:Status>",
                        signed_assertion_with(&r, IDP_KEY)
                    ),
                )
            }),
        ),
        // 2: a second, unsigned assertion before the signed one.
        (
            "wrapped",
            Box::new(|req: &str| {
                let r = R::new(IDP, &sp, Some(req), email);
                let evil = R { assertion_id: "_evil".into(), name_id: "owner@acme.test".into(), ..r.clone() };
                response_xml(&r, &format!("{}{}", unsigned_assertion(&evil), signed_assertion_with(&r, IDP_KEY)))
            }),
        ),
        // 3: ... and after it.
        (
            "wrapped",
            Box::new(|req: &str| {
                let r = R::new(IDP, &sp, Some(req), email);
                let evil = R { assertion_id: "_evil".into(), name_id: "owner@acme.test".into(), ..r.clone() };
                response_xml(&r, &format!("{}{}", signed_assertion_with(&r, IDP_KEY), unsigned_assertion(&evil)))
            }),
        ),
        // 4: the signed assertion inside its own signature's ds:Object, an evil one carrying that signature.
        (
            "wrapped",
            Box::new(|req: &str| {
                let r = R::new(IDP, &sp, Some(req), email);
                let signed = signed_assertion_with(&r, IDP_KEY);
                let s = signed.find("<ds:Signature").expect("sig");
                let e = signed.find("</ds:Signature>").expect("end");
                let evil = R { assertion_id: "_evil".into(), name_id: "owner@acme.test".into(), ..r.clone() };
                let wrapped = unsigned_assertion(&evil).replacen(
                    "</saml:Issuer>",
                    &format!("</saml:Issuer>{}<ds:Object>{signed}</ds:Object></ds:Signature>", &signed[s..e]),
                    1,
                );
                response_xml(&r, &wrapped)
            }),
        ),
        // 5: the evil assertion takes the signed one's ID (duplicate IDs).
        (
            "wrapped",
            Box::new(|req: &str| {
                let r = R::new(IDP, &sp, Some(req), email);
                let evil = R { name_id: "owner@acme.test".into(), ..r.clone() };
                response_xml(&r, &unsigned_assertion(&evil)).replace(
                    "<samlp:Status>",
                    &format!(
                        "<samlp:Extensions>{}</samlp:Extensions><samlp:Status>",
                        signed_assertion_with(&r, IDP_KEY)
                    ),
                )
            }),
        ),
        // 6: the assertion's ID renamed after signing: its signature references another element.
        (
            "wrapped",
            Box::new(|req: &str| {
                let r = R::new(IDP, &sp, Some(req), email);
                let signed = signed_assertion_with(&r, IDP_KEY).replacen(
                    &format!("ID=\"{}\"", r.assertion_id),
                    "ID=\"_renamed\"",
                    1,
                );
                response_xml(&r, &signed)
            }),
        ),
        // 7: a signed response whose assertion was swapped afterwards.
        (
            "bad_signature",
            Box::new(|req: &str| {
                let r = R::new(IDP, &sp, Some(req), email);
                let original = unsigned_assertion(&r);
                let signed = sign(&response_xml(&r, &original), &r.response_id, "<!--RSIG-->", &key(IDP_KEY));
                let evil = R { name_id: "owner@acme.test".into(), ..r.clone() };
                signed.replace(&original, &unsigned_assertion(&evil))
            }),
        ),
        // XXE: a DOCTYPE with an external entity, refused before parsing.
        (
            "doctype_forbidden",
            Box::new(|req: &str| {
                signed_response(&R::new(IDP, &sp, Some(req), email), IDP_KEY).replacen(
                    "<samlp:Response",
                    "<!DOCTYPE samlp:Response [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n<samlp:Response",
                    1,
                )
            }),
        ),
        // A response from another IdP entity.
        (
            "unknown_issuer",
            Box::new(|req: &str| {
                signed_response(&R::new("https://evil-idp.example.net", &sp, Some(req), email), IDP_KEY)
            }),
        ),
    ];
    let wrapped = cases.iter().filter(|(reason, _)| *reason == "wrapped").count();
    assert!(wrapped >= 5, "at least five signature-wrapping variants");
    for (reason, build) in &cases {
        let s = start(&app, email).await;
        let landed = answer(&app, config, &s, &build(&s.request_id)).await;
        assert_refused(&app, &landed, reason);
    }
    // A response for a sign-in started in another browser.
    let s = start(&app, email).await;
    let r = R::new(IDP, &sp, Some(&s.request_id), email);
    let landed = post_acs(&app, config, &signed_response(&r, IDP_KEY), Some(&s.relay), None).await;
    assert_refused(&app, &landed, "state_wrong_browser");

    // Comment-injected NameID: read whole (comments are not signed), so it
    // is not the victim's address, and that domain is not verified here.
    let s = start(&app, email).await;
    let r = R::new(IDP, &sp, Some(&s.request_id), "owner@acme.test.evil.com");
    let xml = signed_response(&r, IDP_KEY).replacen(
        ">owner@acme.test.evil.com</saml:NameID>",
        ">owner@acme.test<!---->.evil.com</saml:NameID>",
        1,
    );
    assert!(xml.contains("<!---->"));
    assert_refused(&app, &answer(&app, config, &s, &xml).await, "email_domain_not_verified");
    let logged: String =
        app.sql(|c| c.query_row("SELECT email FROM sso_login_logs ORDER BY id DESC LIMIT 1", [], |r| r.get(0)));
    assert_eq!(logged, "owner@acme.test.evil.com");

    // Nobody was signed in or created by any of these.
    assert_eq!(app.count("SELECT count(*) FROM sso_login_logs WHERE status = 'success'"), 0);
    assert_eq!(app.count("SELECT count(*) FROM sso_user_mappings"), 0);
    assert_eq!(app.count("SELECT count(*) FROM users"), 1);
}

#[tokio::test]
async fn saml_certificate_rollover_accepts_the_second_certificate() {
    let app = spawn_app().await;
    let owner = app.register("owner@acme.test").await;
    // The metadata has the current certificate; the next one is added beside it.
    let saml = json!({ "idp_metadata_xml": metadata(IDP, IDP_SSO, &[IDP_CERT]), "idp_certificates": [IDP2_CERT] });
    let (config, sp) = configure(&app, &owner, "acme.test", saml).await;
    let shown = call_ok(&app, &owner, Method::GET, &format!("/api/v1/sso/configurations/{config}"), None).await;
    assert_eq!(shown["saml"]["idp_certificates"].as_array().map(Vec::len), Some(2), "{shown}");
    for (who, key_pem) in [("ada@acme.test", IDP_KEY), ("bob@acme.test", IDP2_KEY)] {
        let s = start(&app, who).await;
        let landed =
            answer(&app, config, &s, &signed_response(&R::new(IDP, &sp, Some(&s.request_id), who), key_pem)).await;
        assert_eq!(landed.location, "/", "{who}: {:?}", last_log(&app));
        assert!(landed.session_cookie.is_some());
    }
    // A key that is neither is still refused.
    let s = start(&app, "eve@acme.test").await;
    let r = R::new(IDP, &sp, Some(&s.request_id), "eve@acme.test");
    assert_refused(&app, &answer(&app, config, &s, &signed_response(&r, OTHER_KEY)).await, "bad_signature");
}

#[tokio::test]
async fn saml_metadata_and_certificates_are_checked_at_upload() {
    let app = spawn_app().await;
    let owner = app.register("owner@acme.test").await;
    let host = Host::start().await;
    let path = format!("/api/v1/orgs/{}/sso/configurations", owner.org_id);
    let create = |saml: Value| json!({ "protocol": "saml", "name": "IdP", "saml": saml });

    let cases = [
        (json!({ "idp_metadata_xml": "<md:EntityDescriptor" }), "saml.idp_metadata_xml", "metadata_invalid"),
        (
            json!({ "idp_metadata_xml": "<EntityDescriptor xmlns=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"x\"/>" }),
            "saml.idp_metadata_xml",
            "metadata_invalid",
        ),
        (
            json!({ "idp_metadata_xml": format!("<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>{}", metadata(IDP, IDP_SSO, &[IDP_CERT])) }),
            "saml.idp_metadata_xml",
            "doctype_forbidden",
        ),
        (
            json!({ "idp_entity_id": IDP, "idp_sso_url": IDP_SSO, "idp_certificates": [IDP_CERT, "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----"] }),
            "saml.idp_certificates[1]",
            "certificate_invalid",
        ),
        (
            json!({ "idp_metadata_url": format!("{}/missing.xml", host.server.base) }),
            "saml.idp_metadata_url",
            "metadata_unreachable",
        ),
    ];
    for (saml, field, reason) in cases {
        let r = send_as(&app, &owner, Method::POST, &path, Some(create(saml))).await;
        let body = assert_error(r, 422, "saml_metadata_invalid").await;
        assert_eq!(body["error"]["details"]["field"], field, "{body}");
        assert_eq!(body["error"]["details"]["reason"], reason, "{body}");
    }
    let r = send_as(&app, &owner, Method::POST, &path, Some(create(json!({ "idp_entity_id": IDP })))).await;
    let body = assert_error(r, 422, "validation_failed").await;
    assert_eq!(body["error"]["details"]["field"], "saml.idp_sso_url");
    assert_eq!(app.count("SELECT count(*) FROM sso_configurations"), 0);

    // An expired certificate is saved, with a warning (SAML pins the key, not the dates).
    let saml = json!({ "idp_entity_id": IDP, "idp_sso_url": IDP_SSO, "idp_certificates": [EXPIRED_CERT] });
    let created = call_ok(&app, &owner, Method::POST, &path, Some(create(saml))).await;
    assert_eq!(created["warnings"][0]["code"], "certificate_expired", "{created}");
    assert_eq!(created["warnings"][0]["field"], "saml.idp_certificates[0]");

    // Metadata by URL, fetched through the outbound client.
    host.serve("/idp.xml", 200, &metadata(IDP, IDP_SSO, &[IDP_CERT]));
    let url = format!("{}/idp.xml", host.server.base);
    let created = call_ok(&app, &owner, Method::POST, &path, Some(create(json!({ "idp_metadata_url": url })))).await;
    assert_eq!(created["saml"]["idp_entity_id"], IDP);
    assert_eq!(created["saml"]["idp_sso_url"], IDP_SSO);
    assert_eq!(created["saml"]["idp_metadata_url"], url);
    assert_eq!(created["warnings"], json!([]));
    assert_eq!(host.fetches("/idp.xml"), 1);
}

#[tokio::test]
async fn another_organizations_saml_cannot_sign_into_this_organization() {
    let app = spawn_app().await;
    let owner = app.register("owner@acme.test").await;
    let (acme_config, acme_sp) = configure(&app, &owner, "acme.test", idp_metadata()).await;
    app.join(&owner, owner.org_id, "victim@acme.test", "editor").await;
    // Another organization, its own IdP (its own key), its own domain.
    let mallory = app.register("mallory@evil.test").await;
    let evil_idp = "https://idp.evil.test/saml";
    let evil_meta = json!({ "idp_metadata_xml": metadata(evil_idp, IDP_SSO, &[OTHER_CERT]) });
    let (evil_config, evil_sp) = configure(&app, &mallory, "evil.test", evil_meta).await;

    // Its IdP vouches for this organization's user at its own ACS: refused
    // (the address is not a verified domain of that configuration).
    let s = start(&app, "someone@evil.test").await;
    let r = R::new(evil_idp, &evil_sp, Some(&s.request_id), "victim@acme.test");
    assert_refused(
        &app,
        &answer(&app, evil_config, &s, &signed_response(&r, OTHER_KEY)).await,
        "email_domain_not_verified",
    );
    assert_eq!(last_log(&app).2, Some(evil_config));
    // Posted to this organization's ACS (as IdP-initiated): another issuer.
    let r = R::new(evil_idp, &acme_sp, None, "victim@acme.test");
    let landed = post_acs(&app, acme_config, &signed_response(&r, OTHER_KEY), None, None).await;
    assert_refused(&app, &landed, "unknown_issuer");
    assert_eq!(last_log(&app).2, Some(acme_config));
    // With this organization's IdP name but its own key: the signature fails.
    let s = start(&app, "victim@acme.test").await;
    let r = R::new(IDP, &acme_sp, Some(&s.request_id), "victim@acme.test");
    assert_refused(&app, &answer(&app, acme_config, &s, &signed_response(&r, OTHER_KEY)).await, "bad_signature");
    // A sign-in started for one configuration cannot be finished at the other's ACS.
    let s = start(&app, "victim@acme.test").await;
    let r = R::new(evil_idp, &evil_sp, Some(&s.request_id), "victim@acme.test");
    assert_refused(&app, &answer(&app, evil_config, &s, &signed_response(&r, OTHER_KEY)).await, "state_invalid");
    assert_eq!(app.count("SELECT count(*) FROM sso_login_logs WHERE status = 'success'"), 0);
    assert_eq!(role_of(&app, mallory.org_id, "victim@acme.test"), None);
}

#[tokio::test]
#[allow(clippy::too_many_lines, reason = "SAML and OIDC refresh, success and failure")]
async fn sso_refresh_job_follows_rotated_metadata_and_keeps_keys_on_failure() {
    let app = spawn_app().await;
    let owner = app.register("owner@acme.test").await;
    let host = Host::start().await;
    host.serve("/idp.xml", 200, &metadata(IDP, IDP_SSO, &[IDP_CERT]));
    let url = format!("{}/idp.xml", host.server.base);
    let (config, sp) = configure(&app, &owner, "acme.test", json!({ "idp_metadata_url": url })).await;

    // The IdP rotates to its next key and publishes only that certificate.
    host.serve("/idp.xml", 200, &metadata(IDP, IDP_SSO, &[IDP2_CERT]));
    let report = botbuilder::sso::refresh::run_once(&app.state).await.expect("refresh");
    assert_eq!((report.checked, report.updated, report.failed), (1, 1, 0));
    let s = start(&app, "ada@acme.test").await;
    let r = R::new(IDP, &sp, Some(&s.request_id), "ada@acme.test");
    let landed = answer(&app, config, &s, &signed_response(&r, IDP2_KEY)).await;
    assert_eq!(landed.location, "/", "{:?}", last_log(&app));
    let shown = call_ok(&app, &owner, Method::GET, &format!("/api/v1/sso/configurations/{config}"), None).await;
    assert!(shown["refreshed_at"].is_string(), "{shown}");
    assert_eq!(shown["warnings"], json!([]));

    // The metadata URL breaks, then serves garbage: nothing is replaced, a warning shows.
    for (status, body) in [(500, "oops".to_owned()), (200, "<md:EntityDescriptor".to_owned())] {
        host.serve("/idp.xml", status, &body);
        let report = botbuilder::sso::refresh::run_once(&app.state).await.expect("refresh");
        assert_eq!((report.updated, report.failed), (0, 1));
        let shown = call_ok(&app, &owner, Method::GET, &format!("/api/v1/sso/configurations/{config}"), None).await;
        assert_eq!(shown["warnings"][0]["code"], "metadata_refresh_failed", "{shown}");
        let s = start(&app, "ada@acme.test").await;
        let r = R::new(IDP, &sp, Some(&s.request_id), "ada@acme.test");
        assert_eq!(answer(&app, config, &s, &signed_response(&r, IDP2_KEY)).await.location, "/");
    }
    // Metadata whose only certificate has expired does not replace keys in force.
    host.serve("/idp.xml", 200, &metadata(IDP, IDP_SSO, &[EXPIRED_CERT]));
    let report = botbuilder::sso::refresh::run_once(&app.state).await.expect("refresh");
    assert_eq!(report.failed, 1);
    let certs: String =
        app.sql(|c| c.query_row("SELECT certificate FROM sso_configurations WHERE id = ?1", [config], |r| r.get(0)));
    assert!(certs.contains(&IDP2_CERT.lines().nth(1).expect("line")[..40]), "kept the rotated certificate");

    // OIDC: discovery and JWKS are re-read; a failing discovery keeps the endpoints.
    let base = host.server.base.clone();
    host.serve(
        "/oidc/.well-known/openid-configuration",
        200,
        &json!({
            "issuer": format!("{base}/oidc"), "authorization_endpoint": format!("{base}/oidc/authorize"),
            "token_endpoint": format!("{base}/oidc/token"), "jwks_uri": format!("{base}/oidc/jwks"),
        })
        .to_string(),
    );
    host.serve("/oidc/jwks", 200, &jwks("key-a"));
    let oidc = call_ok(
        &app,
        &owner,
        Method::POST,
        &format!("/api/v1/orgs/{}/sso/configurations", owner.org_id),
        Some(json!({ "protocol": "oidc", "name": "OIDC", "issuer_url": format!("{base}/oidc"), "client_id": "c" })),
    )
    .await;
    host.serve(
        "/oidc/.well-known/openid-configuration",
        200,
        &json!({
            "issuer": format!("{base}/oidc"), "authorization_endpoint": format!("{base}/oidc/authorize"),
            "token_endpoint": format!("{base}/oidc/token2"), "jwks_uri": format!("{base}/oidc/jwks2"),
        })
        .to_string(),
    );
    host.serve("/oidc/jwks2", 200, &jwks("key-b"));
    let fetched = host.fetches("/oidc/jwks2");
    let report = botbuilder::sso::refresh::run_once(&app.state).await.expect("refresh");
    assert_eq!(report.checked, 2);
    assert_eq!(host.fetches("/oidc/jwks2"), fetched + 1);
    let oidc_path = format!("/api/v1/sso/configurations/{}", oidc["id"]);
    let shown = call_ok(&app, &owner, Method::GET, &oidc_path, None).await;
    assert_eq!(shown["token_url"], format!("{base}/oidc/token2"));
    assert_eq!(shown["jwks_url"], format!("{base}/oidc/jwks2"));
    host.serve("/oidc/.well-known/openid-configuration", 503, "down");
    botbuilder::sso::refresh::run_once(&app.state).await.expect("refresh");
    let shown = call_ok(&app, &owner, Method::GET, &oidc_path, None).await;
    assert_eq!(shown["token_url"], format!("{base}/oidc/token2"), "endpoints kept");
    assert_eq!(shown["warnings"][0]["code"], "discovery_refresh_failed", "{shown}");

    // The job is registered and scheduled.
    assert!(botbuilder::jobs::handler_for(botbuilder::sso::refresh::KIND).is_some());
    botbuilder::jobs::enqueue_scheduled(&app.state).await.expect("schedule");
    assert_eq!(app.count("SELECT count(*) FROM jobs WHERE kind = 'sso_metadata_refresh'"), 1);
}

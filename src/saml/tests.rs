//! SAML SP tests: responses built and signed here with the fixture keys
//! (`tests/fixtures/saml/`), the attacks of the must-show list, and `xmlsec1` as the interop
//! oracle (it signs responses we must accept, and verifies signatures made by our
//! canonicalization).

use std::io::Read as _;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::signature::{SignatureEncoding as _, Signer as _};
use rsa::{Oaep, RsaPrivateKey, RsaPublicKey};
use sha2::{Digest as _, Sha256};

use super::dsig::{ENVELOPED, EXC_C14N, RSA_SHA256, SHA256};
use super::xml::{C14n, Document, exc_c14n};
use super::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/saml");
const ACS: &str = "https://bots.example.com/api/v1/sso/saml/acs";
const SP_ID: &str = "https://bots.example.com/api/v1/sso/saml/metadata";
const IDP_ID: &str = "https://idp.example.org/saml2";
const REQ: &str = "_req0123456789abcdef";

fn fixture_path(name: &str) -> String {
    format!("{FIXTURES}/{name}")
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(fixture_path(name)).expect("fixture")
}

fn key(name: &str) -> RsaPrivateKey {
    RsaPrivateKey::from_pkcs8_pem(&fixture(name)).expect("fixture key")
}

fn cert(name: &str) -> IdpCertificate {
    parse_certificate(&fixture(name)).expect("fixture certificate")
}

fn now() -> DateTime<Utc> {
    parse_instant("2026-03-01T12:00:00Z").expect("instant")
}

fn sp() -> SpSettings {
    SpSettings::new(SP_ID, ACS)
}

fn idp() -> IdpSettings {
    IdpSettings {
        entity_id: IDP_ID.into(),
        sso_url: "https://idp.example.org/saml2/sso".into(),
        certificates: vec![cert("idp.crt")],
    }
}

fn b64(data: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// The values of a test response.
#[derive(Clone)]
struct R {
    response_id: String,
    assertion_id: String,
    issuer: String,
    audience: String,
    recipient: String,
    destination: Option<String>,
    in_response_to: Option<String>,
    name_id: String,
    not_before: String,
    not_on_or_after: String,
    status: String,
}

impl Default for R {
    fn default() -> Self {
        Self {
            response_id: "_resp1".into(),
            assertion_id: "_assert1".into(),
            issuer: IDP_ID.into(),
            audience: SP_ID.into(),
            recipient: ACS.into(),
            destination: Some(ACS.into()),
            in_response_to: Some(REQ.into()),
            name_id: "alice@example.com".into(),
            not_before: "2026-03-01T11:58:00Z".into(),
            not_on_or_after: "2026-03-01T12:05:00Z".into(),
            status: STATUS_SUCCESS.into(),
        }
    }
}

/// An assertion with `<!--SIG-->` where its signature goes (after the Issuer). Newlines and
/// indentation on purpose: canonicalization must keep them.
fn assertion_xml(r: &R) -> String {
    let irt = r.in_response_to.as_ref().map_or_else(String::new, |i| format!(" InResponseTo=\"{i}\""));
    format!(
        r#"<saml:Assertion xmlns:saml="{NS_ASSERTION}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="{aid}" IssueInstant="2026-03-01T11:59:00Z" Version="2.0">
    <saml:Issuer>{issuer}</saml:Issuer><!--SIG-->
    <saml:Subject>
      <saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{name}</saml:NameID>
      <saml:SubjectConfirmation Method="{CM_BEARER}">
        <saml:SubjectConfirmationData{irt} NotOnOrAfter="{noa}" Recipient="{recipient}"/>
      </saml:SubjectConfirmation>
    </saml:Subject>
    <saml:Conditions NotBefore="{nb}" NotOnOrAfter="{noa}">
      <saml:AudienceRestriction>
        <saml:Audience>{audience}</saml:Audience>
      </saml:AudienceRestriction>
    </saml:Conditions>
    <saml:AuthnStatement AuthnInstant="2026-03-01T11:59:00Z" SessionIndex="_session7">
      <saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext>
    </saml:AuthnStatement>
    <saml:AttributeStatement>
      <saml:Attribute Name="email" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic"><saml:AttributeValue xsi:type="xs:string">{name}</saml:AttributeValue></saml:Attribute>
      <saml:Attribute Name="groups"><saml:AttributeValue xsi:type="xs:string">admins</saml:AttributeValue><saml:AttributeValue xsi:type="xs:string">support &amp; sales</saml:AttributeValue></saml:Attribute>
    </saml:AttributeStatement>
  </saml:Assertion>"#,
        aid = r.assertion_id,
        issuer = r.issuer,
        name = r.name_id,
        noa = r.not_on_or_after,
        nb = r.not_before,
        recipient = r.recipient,
        audience = r.audience,
    )
}

/// A response around `assertion`, with `<!--RSIG-->` where its signature goes. It declares
/// `xs` (used only in attribute values) so the `InclusiveNamespaces` prefix list matters.
fn response_xml(r: &R, assertion: &str) -> String {
    let dest = r.destination.as_ref().map_or_else(String::new, |d| format!(" Destination=\"{d}\""));
    let irt = r.in_response_to.as_ref().map_or_else(String::new, |i| format!(" InResponseTo=\"{i}\""));
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<samlp:Response xmlns:samlp="{NS_PROTOCOL}" xmlns:saml="{NS_ASSERTION}" xmlns:xs="http://www.w3.org/2001/XMLSchema"{dest} ID="{rid}"{irt} IssueInstant="2026-03-01T11:59:00Z" Version="2.0">
  <saml:Issuer>{issuer}</saml:Issuer><!--RSIG-->
  <samlp:Status><samlp:StatusCode Value="{status}"/></samlp:Status>
  {assertion}
</samlp:Response>
"#,
        rid = r.response_id,
        issuer = r.issuer,
        status = r.status,
    )
}

/// Signs the element with ID `id` (enveloped, exclusive c14n with `PrefixList="xs"`,
/// SHA-256, RSA-SHA256), putting the signature in place of `marker`.
fn sign(xml: &str, id: &str, marker: &str, key: &RsaPrivateKey) -> String {
    let doc = Document::parse(xml).expect("parse for signing");
    let el = doc.descendants(doc.root).into_iter().find(|n| doc.attr(*n, "ID") == Some(id)).expect("element to sign");
    let prefixes = [Some("xs".to_owned())];
    let content = exc_c14n(&doc, el, &C14n { exclude: None, inclusive_prefixes: &prefixes, with_comments: false });
    let digest = b64(Sha256::digest(content.as_bytes()));
    let inner = format!(
        r##"<ds:CanonicalizationMethod Algorithm="{EXC_C14N}"/><ds:SignatureMethod Algorithm="{RSA_SHA256}"/><ds:Reference URI="#{id}"><ds:Transforms><ds:Transform Algorithm="{ENVELOPED}"/><ds:Transform Algorithm="{EXC_C14N}"><ec:InclusiveNamespaces xmlns:ec="{EXC_C14N}" PrefixList="xs"/></ds:Transform></ds:Transforms><ds:DigestMethod Algorithm="{SHA256}"/><ds:DigestValue>{digest}</ds:DigestValue></ds:Reference>"##
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

/// The assertion of `r` signed by `key` where it stands in its response (so the namespaces
/// in scope there, `xs` of the prefix list included, are the ones signed), cut out as text.
fn signed_assertion_with(r: &R, key: &RsaPrivateKey) -> String {
    let full = sign(&response_xml(r, &assertion_xml(r)), &r.assertion_id, "<!--SIG-->", key);
    let start = full.find("<saml:Assertion").expect("assertion start");
    let end = full.rfind("</saml:Assertion>").expect("assertion end") + "</saml:Assertion>".len();
    full[start..end].to_owned()
}

fn signed_assertion(r: &R) -> String {
    signed_assertion_with(r, &key("idp-key.pem"))
}

/// The default response with a signed assertion.
fn signed_assertion_response(r: &R) -> String {
    response_xml(r, &signed_assertion(r))
}

fn verify_with(
    xml: &str,
    sp: &SpSettings,
    idp: &IdpSettings,
    expected: Option<&str>,
    cache: &dyn ReplayCache,
    sp_key: Option<&SpKey>,
) -> Result<Assertion, SamlError> {
    verify_response(&b64(xml), sp, idp, expected, now(), cache, sp_key.map(std::slice::from_ref).unwrap_or_default())
}

fn verify(xml: &str) -> Result<Assertion, SamlError> {
    verify_with(xml, &sp(), &idp(), Some(REQ), &MemoryReplayCache::new(), None)
}

#[track_caller]
fn refused(result: Result<Assertion, SamlError>, kind: SamlErrorKind) {
    match result {
        Ok(a) => panic!("accepted, expected {}: {a:?}", kind.code()),
        Err(e) => assert_eq!(e.kind, kind, "{e}"),
    }
}

// ------------------------------------------------------------------ accepted responses

#[test]
fn saml_signed_assertion_is_accepted_with_its_values() {
    let a = verify(&signed_assertion_response(&R::default())).expect("valid response");
    assert_eq!(a.name_id, "alice@example.com");
    assert_eq!(a.name_id_format.as_deref(), Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"));
    assert_eq!(a.issuer, IDP_ID);
    assert_eq!(a.id, "_assert1");
    assert_eq!(a.session_index.as_deref(), Some("_session7"));
    assert_eq!(a.attributes["groups"], vec!["admins".to_owned(), "support & sales".to_owned()]);
    assert_eq!(a.attributes["email"], vec!["alice@example.com".to_owned()]);
    assert_eq!(a.not_on_or_after, Some(parse_instant("2026-03-01T12:05:00Z").expect("t")));
    assert_eq!(a.in_response_to.as_deref(), Some(REQ));
}

#[test]
fn saml_signed_response_with_unsigned_assertion_is_accepted() {
    let r = R::default();
    let xml = sign(&response_xml(&r, &assertion_xml(&r)), "_resp1", "<!--RSIG-->", &key("idp-key.pem"));
    assert_eq!(verify(&xml).expect("valid").name_id, "alice@example.com");
}

#[test]
fn saml_response_and_assertion_both_signed_are_accepted() {
    let r = R::default();
    let xml = sign(&signed_assertion_response(&r), "_resp1", "<!--RSIG-->", &key("idp-key.pem"));
    assert!(verify(&xml).is_ok());
}

#[test]
fn saml_certificate_rollover_accepts_either_certificate() {
    let r = R::default();
    let by_new = response_xml(&r, &signed_assertion_with(&r, &key("idp2-key.pem")));
    refused(verify(&by_new), SamlErrorKind::BadSignature);
    let mut rolling = idp();
    rolling.certificates.push(cert("idp2.crt"));
    let cache = MemoryReplayCache::new();
    assert!(verify_with(&by_new, &sp(), &rolling, Some(REQ), &cache, None).is_ok());
    let r2 = R { assertion_id: "_assert2".into(), ..R::default() };
    assert!(verify_with(&signed_assertion_response(&r2), &sp(), &rolling, Some(REQ), &cache, None).is_ok());
}

#[test]
fn saml_idp_initiated_only_when_enabled() {
    let r = R { in_response_to: None, ..R::default() };
    let xml = signed_assertion_response(&r);
    refused(verify_with(&xml, &sp(), &idp(), None, &MemoryReplayCache::new(), None), SamlErrorKind::Unsolicited);
    let mut open = sp();
    open.allow_idp_initiated = true;
    let a = verify_with(&xml, &open, &idp(), None, &MemoryReplayCache::new(), None).expect("IdP-initiated");
    assert_eq!(a.in_response_to, None);
    // A response to some request is not an unsolicited one, even when those are allowed.
    let answered = signed_assertion_response(&R::default());
    refused(
        verify_with(&answered, &open, &idp(), None, &MemoryReplayCache::new(), None),
        SamlErrorKind::InResponseToMismatch,
    );
}

#[test]
fn saml_clock_skew_is_tolerated() {
    // Valid from 12:01 while our clock says 12:00: inside the 2-minute skew.
    let r = R { not_before: "2026-03-01T12:01:00Z".into(), ..R::default() };
    assert!(verify(&signed_assertion_response(&r)).is_ok());
}

// ------------------------------------------------------------------ refused responses

#[test]
fn saml_wrong_audience_is_refused() {
    let r = R { audience: "https://other-sp.example.net".into(), ..R::default() };
    refused(verify(&signed_assertion_response(&r)), SamlErrorKind::WrongAudience);
}

#[test]
fn saml_expired_assertion_is_refused() {
    let r =
        R { not_before: "2026-03-01T11:40:00Z".into(), not_on_or_after: "2026-03-01T11:50:00Z".into(), ..R::default() };
    refused(verify(&signed_assertion_response(&r)), SamlErrorKind::Expired);
}

#[test]
fn saml_not_yet_valid_assertion_is_refused() {
    let r =
        R { not_before: "2026-03-01T12:10:00Z".into(), not_on_or_after: "2026-03-01T12:20:00Z".into(), ..R::default() };
    refused(verify(&signed_assertion_response(&r)), SamlErrorKind::NotYetValid);
}

#[test]
fn saml_unsigned_response_is_refused() {
    let r = R::default();
    refused(verify(&response_xml(&r, &assertion_xml(&r))), SamlErrorKind::Unsigned);
}

#[test]
fn saml_signature_by_another_key_is_refused() {
    let r = R::default();
    let xml = response_xml(&r, &signed_assertion_with(&r, &key("other-key.pem")));
    refused(verify(&xml), SamlErrorKind::BadSignature);
}

#[test]
fn saml_replayed_assertion_is_refused() {
    let xml = signed_assertion_response(&R::default());
    let cache = MemoryReplayCache::new();
    assert!(verify_with(&xml, &sp(), &idp(), Some(REQ), &cache, None).is_ok());
    refused(verify_with(&xml, &sp(), &idp(), Some(REQ), &cache, None), SamlErrorKind::Replayed);
}

#[test]
fn saml_replay_cache_in_sqlite_survives_connections() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("replay.db");
    let migration = include_str!("../../migrations/V081__saml_replay_cache.sql");
    rusqlite::Connection::open(&path).expect("open").execute_batch(migration).expect("migrate");
    let xml = signed_assertion_response(&R::default());
    {
        let conn = rusqlite::Connection::open(&path).expect("open");
        assert!(verify_with(&xml, &sp(), &idp(), Some(REQ), &SqliteReplayCache::new(&conn), None).is_ok());
    }
    let conn = rusqlite::Connection::open(&path).expect("reopen");
    refused(verify_with(&xml, &sp(), &idp(), Some(REQ), &SqliteReplayCache::new(&conn), None), SamlErrorKind::Replayed);
    // Expired entries are purged: remembered until NotOnOrAfter + skew only.
    let cache = SqliteReplayCache::new(&conn);
    let later = parse_instant("2026-03-01T13:00:00Z").expect("t");
    assert!(cache.check_and_store(IDP_ID, "_other", later, later).expect("store"));
    let left: i64 = conn
        .query_row("SELECT count(*) FROM saml_replay_cache WHERE assertion_id = '_assert1'", [], |r| r.get(0))
        .expect("count");
    assert_eq!(left, 0);
}

#[test]
fn saml_in_response_to_of_another_request_is_refused() {
    let r = R { in_response_to: Some("_someone_elses_request".into()), ..R::default() };
    refused(verify(&signed_assertion_response(&r)), SamlErrorKind::InResponseToMismatch);
}

#[test]
fn saml_wrong_recipient_destination_issuer_and_status_are_refused() {
    let r = R { recipient: "https://evil.example.net/acs".into(), ..R::default() };
    refused(verify(&signed_assertion_response(&r)), SamlErrorKind::WrongRecipient);
    let r = R { destination: Some("https://evil.example.net/acs".into()), ..R::default() };
    refused(verify(&signed_assertion_response(&r)), SamlErrorKind::WrongDestination);
    let r = R { issuer: "https://evil-idp.example.net".into(), ..R::default() };
    refused(verify(&signed_assertion_response(&r)), SamlErrorKind::UnknownIssuer);
    let r = R { status: "urn:oasis:names:tc:SAML:2.0:status:Responder".into(), ..R::default() };
    refused(verify(&signed_assertion_response(&r)), SamlErrorKind::StatusNotSuccess);
}

#[test]
fn saml_tampered_content_breaks_the_digest() {
    let xml = signed_assertion_response(&R::default()).replace(">admins<", ">owners<");
    refused(verify(&xml), SamlErrorKind::BadSignature);
}

#[test]
fn saml_sha1_signatures_are_refused() {
    let xml =
        signed_assertion_response(&R::default()).replace(RSA_SHA256, "http://www.w3.org/2000/09/xmldsig#rsa-sha1");
    refused(verify(&xml), SamlErrorKind::UnsupportedAlgorithm);
}

// ------------------------------------------------------------------ signature wrapping

fn evil_assertion(id: &str) -> String {
    let evil = R { assertion_id: id.into(), name_id: "admin@example.com".into(), ..R::default() };
    assertion_xml(&evil).replace("<!--SIG-->", "")
}

#[test]
fn saml_wrapping_assertion_moved_into_extensions_is_refused() {
    let r = R::default();
    let xml = response_xml(&r, &evil_assertion("_evil")).replace(
        "<samlp:Status>",
        &format!("<samlp:Extensions>{}</samlp:Extensions><samlp:Status>", signed_assertion(&r)),
    );
    refused(verify(&xml), SamlErrorKind::Wrapped);
}

#[test]
fn saml_wrapping_assertion_moved_into_signature_object_is_refused() {
    let r = R::default();
    // The evil assertion takes the signed one's place; the signed one hides in a ds:Object
    // of its own signature, which still verifies against it.
    let signed = signed_assertion(&r);
    let sig_start = signed.find("<ds:Signature").expect("sig");
    let sig_end = signed.find("</ds:Signature>").expect("sig end");
    let signature = &signed[sig_start..sig_end];
    let evil = evil_assertion("_evil").replacen(
        "</saml:Issuer>",
        &format!("</saml:Issuer>{signature}<ds:Object>{signed}</ds:Object></ds:Signature>"),
        1,
    );
    refused(verify(&response_xml(&r, &evil)), SamlErrorKind::Wrapped);
}

#[test]
fn saml_wrapping_second_unsigned_assertion_before_or_after_is_refused() {
    let r = R::default();
    let before = response_xml(&r, &format!("{}{}", evil_assertion("_evil"), signed_assertion(&r)));
    refused(verify(&before), SamlErrorKind::Wrapped);
    let after = response_xml(&r, &format!("{}{}", signed_assertion(&r), evil_assertion("_evil")));
    refused(verify(&after), SamlErrorKind::Wrapped);
}

#[test]
fn saml_wrapping_signature_pointing_to_another_id_is_refused() {
    let r = R::default();
    // The signed assertion's ID is renamed: its signature now references an element that is
    // not its parent (and that does not exist).
    let xml = response_xml(&r, &signed_assertion(&r).replacen("ID=\"_assert1\"", "ID=\"_evil\"", 1));
    refused(verify(&xml), SamlErrorKind::Wrapped);
    // A response signature copied into the (unsigned) assertion references the response.
    let signed_response = sign(&response_xml(&r, &assertion_xml(&r)), "_resp1", "<!--RSIG-->", &key("idp-key.pem"));
    let s = signed_response.find("<ds:Signature").expect("sig");
    let e = signed_response.find("</ds:Signature>").expect("end") + "</ds:Signature>".len();
    let sig = signed_response[s..e].to_owned();
    let moved = response_xml(&r, &assertion_xml(&r).replace("<!--SIG-->", &sig));
    refused(verify(&moved), SamlErrorKind::Wrapped);
}

#[test]
fn saml_wrapping_duplicate_ids_are_refused() {
    let r = R::default();
    let xml = response_xml(&r, &evil_assertion("_assert1")).replace(
        "<samlp:Status>",
        &format!("<samlp:Extensions>{}</samlp:Extensions><samlp:Status>", signed_assertion(&r)),
    );
    refused(verify(&xml), SamlErrorKind::Wrapped);
    // Duplicate IDs anywhere, even on elements that are not assertions.
    let dup = signed_assertion_response(&r).replace(
        "<samlp:Status>",
        "<samlp:Extensions><x:Foo xmlns:x=\"urn:x\" ID=\"_assert1\"/></samlp:Extensions><samlp:Status>",
    );
    refused(verify(&dup), SamlErrorKind::Wrapped);
}

#[test]
fn saml_wrapping_response_signed_but_assertion_swapped_is_refused() {
    let r = R::default();
    let original = assertion_xml(&r).replace("<!--SIG-->", "");
    let signed = sign(&response_xml(&r, &original), "_resp1", "<!--RSIG-->", &key("idp-key.pem"));
    assert!(signed.contains(&original));
    let swapped = signed.replace(&original, &evil_assertion("_assert1"));
    refused(verify(&swapped), SamlErrorKind::BadSignature);
}

#[test]
fn saml_signature_elsewhere_does_not_count() {
    let r = R::default();
    // A valid assertion signature placed in Extensions, the assertion itself unsigned.
    let signed = signed_assertion(&r);
    let s = signed.find("<ds:Signature").expect("sig");
    let e = signed.find("</ds:Signature>").expect("end") + "</ds:Signature>".len();
    let xml = response_xml(&r, &assertion_xml(&r).replace("<!--SIG-->", ""))
        .replace("<samlp:Status>", &format!("<samlp:Extensions>{}</samlp:Extensions><samlp:Status>", &signed[s..e]));
    refused(verify(&xml), SamlErrorKind::Unsigned);
}

#[test]
fn saml_comment_injected_name_id_is_not_truncated() {
    let r = R { name_id: "alice@example.com.evil.com".into(), ..R::default() };
    let xml = signed_assertion_response(&r).replacen(
        ">alice@example.com.evil.com</saml:NameID>",
        ">alice@example.com<!---->.evil.com</saml:NameID>",
        1,
    );
    assert!(xml.contains("<!---->"));
    let a = verify(&xml).expect("the signature still verifies: comments are not signed");
    assert_eq!(a.name_id, "alice@example.com.evil.com");
}

#[test]
fn saml_xxe_and_entity_payloads_are_refused() {
    let r = R::default();
    let good = signed_assertion_response(&r);
    let xxe = good.replacen(
        "<samlp:Response",
        "<!DOCTYPE samlp:Response [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n<samlp:Response",
        1,
    );
    refused(verify(&xxe), SamlErrorKind::DoctypeForbidden);
    let laughs = good.replacen(
        "<samlp:Response",
        "<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">]>\n<samlp:Response",
        1,
    );
    refused(verify(&laughs), SamlErrorKind::DoctypeForbidden);
    let undeclared = good.replacen(">admins<", ">&xxe;<", 1);
    refused(verify(&undeclared), SamlErrorKind::DoctypeForbidden);
    refused(
        verify_response("not base64!", &sp(), &idp(), Some(REQ), now(), &MemoryReplayCache::new(), &[]),
        SamlErrorKind::Malformed,
    );
    refused(verify("<samlp:Response"), SamlErrorKind::Malformed);
}

// ------------------------------------------------------------------ encrypted assertions

fn encrypt(assertion: &str, to: &RsaPublicKey, gcm: bool) -> String {
    use aes::cipher::{BlockEncryptMut as _, KeyIvInit as _, block_padding::Pkcs7};
    use aes_gcm::aead::{Aead as _, KeyInit as _};
    let mut rng = rsa::rand_core::OsRng;
    let (alg, sym, cipher) = if gcm {
        let sym: [u8; 32] = rand::random();
        let iv: [u8; 12] = rand::random();
        let ct = aes_gcm::Aes256Gcm::new_from_slice(&sym)
            .expect("key")
            .encrypt(aes_gcm::Nonce::from_slice(&iv), assertion.as_bytes())
            .expect("encrypt");
        ("http://www.w3.org/2009/xmlenc11#aes256-gcm", sym.to_vec(), [iv.to_vec(), ct].concat())
    } else {
        let sym: [u8; 16] = rand::random();
        let iv: [u8; 16] = rand::random();
        let len = assertion.len();
        let mut buf = assertion.as_bytes().to_vec();
        buf.resize(len + 16, 0);
        let ct = cbc::Encryptor::<aes::Aes128>::new_from_slices(&sym, &iv)
            .expect("key")
            .encrypt_padded_mut::<Pkcs7>(&mut buf, len)
            .expect("encrypt")
            .to_vec();
        ("http://www.w3.org/2001/04/xmlenc#aes128-cbc", sym.to_vec(), [iv.to_vec(), ct].concat())
    };
    let wrapped = to.encrypt(&mut rng, Oaep::new::<sha1::Sha1>(), &sym).expect("wrap");
    format!(
        r#"<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="{NS_XENC}" Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:EncryptionMethod Algorithm="{alg}"/><ds:KeyInfo xmlns:ds="{NS_DSIG}"><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"><ds:DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/></xenc:EncryptionMethod><xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedAssertion>"#,
        b64(wrapped),
        b64(cipher)
    )
}

fn sp_key() -> SpKey {
    SpKey::from_pem(&fixture("sp-key.pem"), &fixture("sp.crt")).expect("sp key")
}

#[test]
fn saml_encrypted_assertions_cbc_and_gcm_are_decrypted_and_verified() {
    let r = R::default();
    let key = sp_key();
    let public = key.private_key.to_public_key();
    let cache = MemoryReplayCache::new();
    for (gcm, id) in [(false, "_enc_cbc"), (true, "_enc_gcm")] {
        let r = R { assertion_id: id.into(), ..r.clone() };
        let xml = response_xml(&r, &encrypt(&signed_assertion(&r), &public, gcm));
        let a = verify_with(&xml, &sp(), &idp(), Some(REQ), &cache, Some(&key)).expect("encrypted");
        assert_eq!(a.name_id, "alice@example.com");
        assert_eq!(a.id, id);
    }
    // Without our key, with the wrong key, or with an unsigned assertion inside: refused.
    let xml = response_xml(&r, &encrypt(&signed_assertion(&r), &public, true));
    refused(verify(&xml), SamlErrorKind::DecryptionFailed);
    let other = SpKey::from_pem(&fixture("other-key.pem"), &fixture("other.crt")).expect("other");
    refused(verify_with(&xml, &sp(), &idp(), Some(REQ), &cache, Some(&other)), SamlErrorKind::DecryptionFailed);
    let unsigned = response_xml(&r, &encrypt(&assertion_xml(&r), &public, false));
    refused(verify_with(&unsigned, &sp(), &idp(), Some(REQ), &cache, Some(&key)), SamlErrorKind::Unsigned);
    // A tampered GCM ciphertext fails authentication.
    let tampered = xml.replacen("<xenc:CipherData><xenc:CipherValue>", "<xenc:CipherData><xenc:CipherValue>AAAA", 2);
    refused(verify_with(&tampered, &sp(), &idp(), Some(REQ), &cache, Some(&key)), SamlErrorKind::DecryptionFailed);
}

#[test]
fn saml_any_of_several_keys_decrypts_and_a_required_encryption_refuses_plaintext() {
    let r = R { assertion_id: "_enc_two".into(), ..R::default() };
    let key = sp_key();
    let other = SpKey::from_pem(&fixture("other-key.pem"), &fixture("other.crt")).expect("other");
    let cache = MemoryReplayCache::new();
    // Encrypted to the second of two keys (a rollover): opened.
    let xml = response_xml(&r, &encrypt(&signed_assertion(&r), &key.private_key.to_public_key(), true));
    let both = [other, key.clone()];
    let a = verify_response(&b64(&xml), &sp(), &idp(), Some(REQ), now(), &cache, &both).expect("second key opens it");
    assert_eq!(a.id, "_enc_two");
    // Encryption required: a plaintext assertion is refused, an encrypted one accepted.
    let strict = SpSettings { require_encrypted_assertions: true, ..sp() };
    let plain = R { assertion_id: "_plain".into(), ..R::default() };
    refused(
        verify_with(&signed_assertion_response(&plain), &strict, &idp(), Some(REQ), &cache, Some(&key)),
        SamlErrorKind::NotEncrypted,
    );
    let r3 = R { assertion_id: "_enc_strict".into(), ..R::default() };
    let xml = response_xml(&r3, &encrypt(&signed_assertion(&r3), &key.private_key.to_public_key(), false));
    verify_with(&xml, &strict, &idp(), Some(REQ), &cache, Some(&key)).expect("encrypted under strict");
}

#[test]
fn saml_generated_sp_key_is_a_self_signed_rsa_certificate_that_round_trips() {
    let now = Utc::now();
    let key = SpKey::generate("botbuilder SAML encryption 7", now).expect("generate");
    assert!(rsa::traits::PublicKeyParts::size(&key.private_key) * 8 >= 2048);
    let cert = &key.certificate;
    assert_eq!(cert.subject, "CN=botbuilder SAML encryption 7");
    assert!(cert.not_after - now > chrono::Duration::days(3650 - 2), "{:?}", cert.not_after);
    assert!(cert.warning(now).is_none());
    let again = SpKey::from_pem(&key.private_key_pem().expect("pem"), &key.certificate_pem()).expect("round trip");
    assert_eq!(again.certificate.der, cert.der);
    // OpenSSL reads it as a self-signed end-entity certificate for key encipherment.
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("sp.crt");
    std::fs::write(&path, key.certificate_pem()).expect("write");
    let out = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in", path.to_str().expect("path")])
        .output()
        .expect("openssl");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("Key Encipherment") && text.contains("CA:FALSE"), "{text}");
}

// ------------------------------------------------------------------ metadata and requests

fn idp_metadata(certs: &[&str]) -> String {
    let mut keys = String::new();
    for c in certs {
        keys.push_str("<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>\n");
        keys.push_str(c);
        keys.push_str("\n</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>");
    }
    format!(
        r#"<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="{NS_METADATA}" xmlns:ds="{NS_DSIG}" entityID="{IDP_ID}">
  <md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="{NS_PROTOCOL}">
    {keys}
    <md:KeyDescriptor use="encryption"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{enc}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:SingleSignOnService Binding="{BINDING_POST}" Location="https://idp.example.org/saml2/post"/>
    <md:SingleSignOnService Binding="{BINDING_REDIRECT}" Location="https://idp.example.org/saml2/sso?tenant=7"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"#,
        enc = cert("other.crt").to_base64(),
    )
}

#[test]
fn saml_idp_metadata_is_imported_with_two_certificates() {
    let idp1 = cert("idp.crt").to_base64();
    let idp2 = cert("idp2.crt").to_base64();
    let settings = parse_idp_metadata(&idp_metadata(&[&idp1, &idp2])).expect("metadata");
    assert_eq!(settings.entity_id, IDP_ID);
    assert_eq!(settings.sso_url, "https://idp.example.org/saml2/sso?tenant=7");
    assert_eq!(settings.certificates.len(), 2, "the encryption certificate is not a signing one");
    assert_eq!(settings.certificates[1].subject, "CN=idp2.test");
    assert!(settings.certificate_warnings(Utc::now()).is_empty());
    // The imported settings verify a real response.
    let a = verify_with(
        &signed_assertion_response(&R::default()),
        &sp(),
        &settings,
        Some(REQ),
        &MemoryReplayCache::new(),
        None,
    );
    assert!(a.is_ok());
}

#[test]
fn saml_malformed_metadata_is_refused() {
    let good = cert("idp.crt").to_base64();
    let cases = [
        ("not xml <", SamlErrorKind::MetadataInvalid),
        ("<html><body>login</body></html>", SamlErrorKind::MetadataInvalid),
        (&idp_metadata(&[]) as &str, SamlErrorKind::MetadataInvalid),
        (&idp_metadata(&[&good]).replace("IDPSSODescriptor", "SPSSODescriptor"), SamlErrorKind::MetadataInvalid),
        (
            &idp_metadata(&[&good]).replace(&format!("Binding=\"{BINDING_REDIRECT}\""), "Binding=\"x\""),
            SamlErrorKind::MetadataInvalid,
        ),
        (&idp_metadata(&[&good]).replace(&format!("entityID=\"{IDP_ID}\""), ""), SamlErrorKind::MetadataInvalid),
        (&idp_metadata(&["bm90IGEgY2VydGlmaWNhdGU="]), SamlErrorKind::CertificateInvalid),
        (&idp_metadata(&["%%%"]), SamlErrorKind::CertificateInvalid),
        (
            &format!("<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>{}", idp_metadata(&[&good])),
            SamlErrorKind::DoctypeForbidden,
        ),
    ];
    for (xml, kind) in cases {
        match parse_idp_metadata(xml) {
            Ok(_) => panic!("accepted: {xml}"),
            Err(e) => assert_eq!(e.kind, kind, "{e} for {xml}"),
        }
    }
}

#[test]
fn saml_expired_certificate_is_a_warning_and_garbage_an_error() {
    let expired = cert("expired.crt");
    let w = expired.warning(now()).expect("expired");
    assert_eq!(w.code(), "certificate_expired");
    let settings = parse_idp_metadata(&idp_metadata(&[&expired.to_base64()])).expect("accepted with a warning");
    assert_eq!(settings.certificate_warnings(now()), vec![w]);
    let garbage = parse_certificate("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    assert_eq!(garbage.map(|_| ()).map_err(|e| e.kind), Err(SamlErrorKind::CertificateInvalid));
    let mismatch = SpKey::from_pem(&fixture("sp-key.pem"), &fixture("idp.crt"));
    assert_eq!(mismatch.map(|_| ()).map_err(|e| e.kind), Err(SamlErrorKind::CertificateInvalid));
}

#[test]
fn saml_sp_metadata_names_our_endpoints() {
    let key = sp_key();
    let xml = sp_metadata(&sp(), std::slice::from_ref(&key.certificate));
    let doc = Document::parse(&xml).expect("well-formed");
    assert!(doc.is(doc.root, NS_METADATA, "EntityDescriptor"));
    assert_eq!(doc.attr(doc.root, "entityID"), Some(SP_ID));
    assert!(xml.contains(&format!("Location=\"{ACS}\"")));
    assert!(xml.contains(&key.certificate.to_base64()));
    assert!(xml.contains("WantAssertionsSigned=\"true\""));
    let escaped = sp_metadata(&SpSettings::new("urn:a&b\"<c>", ACS), &[]);
    assert!(Document::parse(&escaped).is_ok(), "{escaped}");
}

#[test]
fn saml_authn_request_uses_the_redirect_binding() {
    let (id, url) = authn_request_at(&sp(), &idp(), Some("/after/login?x=1"), now()).expect("request");
    assert!(id.starts_with('_') && id.len() > 30);
    let url = url::Url::parse(&url).expect("url");
    assert_eq!(url.host_str(), Some("idp.example.org"));
    let pairs: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(pairs["RelayState"], "/after/login?x=1");
    let deflated = base64::engine::general_purpose::STANDARD.decode(&pairs["SAMLRequest"]).expect("base64");
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(deflated.as_slice()).read_to_string(&mut xml).expect("inflate");
    let doc = Document::parse(&xml).expect("xml");
    assert!(doc.is(doc.root, NS_PROTOCOL, "AuthnRequest"));
    assert_eq!(doc.attr(doc.root, "ID"), Some(id.as_str()));
    assert_eq!(doc.attr(doc.root, "AssertionConsumerServiceURL"), Some(ACS));
    assert_eq!(doc.attr(doc.root, "Destination"), Some("https://idp.example.org/saml2/sso"));
    assert_eq!(doc.attr(doc.root, "IssueInstant"), Some("2026-03-01T12:00:00Z"));
    let issuer = doc.single_child(doc.root, NS_ASSERTION, "Issuer").expect("one").expect("issuer");
    assert_eq!(doc.text(issuer), SP_ID);
}

// ------------------------------------------------------------------ canonicalization

#[test]
fn saml_exc_c14n_follows_the_w3c_rules() {
    // Namespace declarations only where visibly used, sorted; attributes sorted by namespace
    // URI then name; empty elements expanded; entities and whitespace normalized; comments
    // dropped; `xmlns=""` to undo a rendered default namespace.
    let xml = "<?xml version=\"1.0\"?>\r\n<a:root xmlns:a=\"urn:a\" xmlns:b=\"urn:b\" xmlns:unused=\"urn:u\" xmlns=\"urn:default\">\r\n\
               <b:child z=\"1\" b:y=\"2\" a=\"x&#9;y\"   a:x=\"&lt;&quot;\"/><!-- gone -->\
               <plain>t&amp;&gt;&#xD;<![CDATA[<raw>]]></plain><a:inner xmlns=\"\"><c/></a:inner></a:root>";
    let doc = Document::parse(xml).expect("parse");
    let out = exc_c14n(&doc, doc.root, &C14n { exclude: None, inclusive_prefixes: &[], with_comments: false });
    assert_eq!(
        out,
        "<a:root xmlns:a=\"urn:a\">\n<b:child xmlns:b=\"urn:b\" a=\"x&#x9;y\" z=\"1\" a:x=\"&lt;&quot;\" b:y=\"2\"></b:child>\
         <plain xmlns=\"urn:default\">t&amp;&gt;&#xD;&lt;raw&gt;</plain><a:inner><c></c></a:inner></a:root>"
    );
    // A subtree carries the namespaces it uses from its ancestors; the prefix list adds more.
    let child = doc.child_elements(doc.root)[0];
    let sub = exc_c14n(
        &doc,
        child,
        &C14n { exclude: None, inclusive_prefixes: &[Some("unused".into()), None], with_comments: false },
    );
    assert_eq!(
        sub,
        "<b:child xmlns=\"urn:default\" xmlns:a=\"urn:a\" xmlns:b=\"urn:b\" xmlns:unused=\"urn:u\" a=\"x&#x9;y\" z=\"1\" a:x=\"&lt;&quot;\" b:y=\"2\"></b:child>"
    );
}

// ------------------------------------------------------------------ xmlsec1 interop oracle

fn xmlsec1(args: &[&str]) -> std::process::Output {
    std::process::Command::new("xmlsec1")
        .args(args)
        .output()
        .expect("xmlsec1 is required for the SAML interop tests (apt-get install xmlsec1)")
}

const XMLSEC_TEMPLATE: &str = r##"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#ID"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"><ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="xs"/></ds:Transform></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature>"##;

#[test]
fn saml_xmlsec1_signed_responses_are_accepted() {
    let dir = tempfile::tempdir().expect("dir");
    let key_and_cert = format!("{},{}", fixture_path("idp-key.pem"), fixture_path("idp.crt"));
    let cache = MemoryReplayCache::new();
    // 1. xmlsec1 signs the assertion; 2. xmlsec1 signs the whole response.
    let cases = [
        ("assertion", "_assert1", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"),
        ("response", "_resp1", "urn:oasis:names:tc:SAML:2.0:protocol:Response"),
    ];
    for (n, (element, id, id_attr)) in cases.into_iter().enumerate() {
        let r = R { assertion_id: format!("_assert{}", n + 1), ..R::default() };
        let id = if element == "assertion" { r.assertion_id.clone() } else { id.to_owned() };
        let template = XMLSEC_TEMPLATE.replace("#ID", &format!("#{id}"));
        let tmpl = if element == "assertion" {
            response_xml(&r, &assertion_xml(&r).replace("<!--SIG-->", &template)).replace("<!--RSIG-->", "")
        } else {
            response_xml(&r, &assertion_xml(&r).replace("<!--SIG-->", "")).replace("<!--RSIG-->", &template)
        };
        let input = dir.path().join(format!("tmpl{n}.xml"));
        let output = dir.path().join(format!("signed{n}.xml"));
        std::fs::write(&input, tmpl).expect("write");
        let out = xmlsec1(&[
            "--sign",
            "--privkey-pem",
            &key_and_cert,
            "--id-attr:ID",
            id_attr,
            "--output",
            output.to_str().expect("path"),
            input.to_str().expect("path"),
        ]);
        assert!(out.status.success(), "xmlsec1 --sign failed: {}", String::from_utf8_lossy(&out.stderr));
        let signed = std::fs::read_to_string(&output).expect("signed");
        assert!(signed.contains("<ds:X509Certificate>"), "xmlsec1 filled in KeyInfo");
        let a = verify_with(&signed, &sp(), &idp(), Some(REQ), &cache, None)
            .unwrap_or_else(|e| panic!("xmlsec1-signed {element} refused: {e}\n{signed}"));
        assert_eq!(a.name_id, "alice@example.com");
        // And a change after signing is caught.
        let tampered = signed.replacen("alice@example.com", "mallory@example.com", 1);
        refused(
            verify_with(&tampered, &sp(), &idp(), Some(REQ), &MemoryReplayCache::new(), None),
            SamlErrorKind::BadSignature,
        );
    }
}

#[test]
fn saml_our_signatures_verify_with_xmlsec1() {
    // Our canonicalization and digest, checked by libxmlsec1: signatures made over our
    // canonical form of a response with whitespace, comments, entities and inherited
    // namespaces verify there, and a tampered copy does not.
    let dir = tempfile::tempdir().expect("dir");
    let r = R { name_id: "o'brien&amp;co@example.com".into(), ..R::default() };
    let with_comment = assertion_xml(&r).replacen("<saml:Subject>", "<saml:Subject><!-- a comment -->", 1);
    let cases = [
        (
            "assertion",
            sign(&response_xml(&r, &with_comment), "_assert1", "<!--SIG-->", &key("idp-key.pem")),
            "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
        ),
        (
            "response",
            sign(
                &response_xml(&r, &with_comment.replace("<!--SIG-->", "")),
                "_resp1",
                "<!--RSIG-->",
                &key("idp-key.pem"),
            ),
            "urn:oasis:names:tc:SAML:2.0:protocol:Response",
        ),
    ];
    for (name, xml, id_attr) in cases {
        assert!(verify(&xml).is_ok(), "we accept our own {name}");
        let path = dir.path().join(format!("{name}.xml"));
        std::fs::write(&path, &xml).expect("write");
        let out = xmlsec1(&[
            "--verify",
            "--pubkey-cert-pem",
            &fixture_path("idp.crt"),
            "--id-attr:ID",
            id_attr,
            path.to_str().expect("path"),
        ]);
        assert!(out.status.success(), "xmlsec1 refused our {name}: {}", String::from_utf8_lossy(&out.stderr));
        let bad = dir.path().join(format!("{name}-bad.xml"));
        std::fs::write(&bad, xml.replacen(">admins<", ">owners<", 1)).expect("write");
        let out = xmlsec1(&[
            "--verify",
            "--pubkey-cert-pem",
            &fixture_path("idp.crt"),
            "--id-attr:ID",
            id_attr,
            bad.to_str().expect("path"),
        ]);
        assert!(!out.status.success(), "xmlsec1 accepted a tampered {name}");
    }
}

#[test]
fn saml_errors_map_to_stable_api_codes() {
    let e = verify(&signed_assertion_response(&R { audience: "urn:other".into(), ..R::default() }))
        .expect_err("refused")
        .into_login_error();
    assert_eq!(e.code().as_str(), "saml_response_invalid");
    assert_eq!(e.code().status().as_u16(), 401);
    assert_eq!(e.details(), Some(&serde_json::json!({ "reason": "wrong_audience" })));
    let m = parse_idp_metadata("<x/>").expect_err("refused").into_metadata_error("metadata_xml");
    assert_eq!(m.code().as_str(), "saml_metadata_invalid");
    assert_eq!(m.details(), Some(&serde_json::json!({ "field": "metadata_xml", "reason": "metadata_invalid" })));
}

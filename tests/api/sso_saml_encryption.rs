//! SAML encrypted assertions and the landing page through the real server.
//!
//! `xmlsec1` (the reference XML Security implementation) plays the identity provider's
//! encryption: it encrypts the signed assertion to the certificate our SP metadata
//! publishes, so the tests prove interop, not agreement with ourselves. Then: a key
//! rollover (both keys decrypt during the overlap, a retired key no longer does), a
//! plaintext assertion refused when encryption is required, garbage or wrongly keyed
//! `EncryptedData` refused. And SP-initiated sign-in lands on the page it started from,
//! never off the site.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, call_ok, send_as, spawn_app};
use crate::sso_saml::{
    IDP, IDP_CERT, IDP_KEY, IDP_SSO, OTHER_CERT, R, Started, answer, assert_refused, configure, last_log, me, metadata,
    response_xml, signed_assertion_with, signed_response, start_at,
};

const NS_XENC: &str = "http://www.w3.org/2001/04/xmlenc#";
const AES256_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes256-gcm";
const AES128_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes128-cbc";

/// The `use="encryption"` certificates of our SP metadata, as PEM.
async fn published_certificates(app: &TestApp, config: i64) -> Vec<String> {
    let xml = app.get(&format!("/api/v1/sso/saml/{config}/metadata")).await.text().await.expect("metadata");
    xml.split("<md:KeyDescriptor use=\"encryption\">")
        .skip(1)
        .map(|part| {
            let b64 = part.split("<ds:X509Certificate>").nth(1).and_then(|p| p.split('<').next()).expect("certificate");
            let lines: Vec<String> =
                b64.as_bytes().chunks(64).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
            format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n"))
        })
        .collect()
}

/// `response` with its `<saml:Assertion>` (inside `<saml:EncryptedAssertion>`) encrypted
/// by xmlsec1 to `cert_pem`: RSA-OAEP key transport, `content` for the data.
fn xmlsec_encrypt(response: &str, cert_pem: &str, content: &str) -> String {
    let dir = tempfile::tempdir().expect("dir");
    let (cert, data, template, out) = (
        dir.path().join("sp.crt"),
        dir.path().join("data.xml"),
        dir.path().join("tmpl.xml"),
        dir.path().join("out.xml"),
    );
    std::fs::write(&cert, cert_pem).expect("cert");
    std::fs::write(&data, response).expect("data");
    std::fs::write(
        &template,
        format!(
            r#"<xenc:EncryptedData xmlns:xenc="{NS_XENC}" Type="{NS_XENC}Element"><xenc:EncryptionMethod Algorithm="{content}"/><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="{NS_XENC}rsa-oaep-mgf1p"/><xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedData>"#
        ),
    )
    .expect("template");
    let session_key = if content == AES128_CBC { "aes-128" } else { "aes-256" };
    let path = |p: &std::path::Path| p.to_str().expect("path").to_owned();
    let run = std::process::Command::new("xmlsec1")
        .args([
            "--encrypt",
            "--pubkey-cert-pem",
            &path(&cert),
            "--session-key",
            session_key,
            "--xml-data",
            &path(&data),
        ])
        .args([
            "--node-name",
            "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
            "--output",
            &path(&out),
            &path(&template),
        ])
        .output()
        .expect("xmlsec1 is required for the SAML interop tests (apt-get install xmlsec1)");
    assert!(run.status.success(), "xmlsec1 --encrypt failed: {}", String::from_utf8_lossy(&run.stderr));
    let encrypted = std::fs::read_to_string(&out).expect("output");
    assert!(encrypted.contains("<saml:EncryptedAssertion><xenc:EncryptedData") && !encrypted.contains("<saml:Subject"));
    encrypted
}

/// A response answering `s` whose signed assertion xmlsec1 encrypted to `cert_pem`.
fn encrypted_response(s: &Started, sp: &Value, email: &str, cert_pem: &str, content: &str) -> String {
    let r = R::new(IDP, sp, Some(&s.request_id), email);
    let wrapped = format!("<saml:EncryptedAssertion>{}</saml:EncryptedAssertion>", signed_assertion_with(&r, IDP_KEY));
    xmlsec_encrypt(&response_xml(&r, &wrapped), cert_pem, content)
}

async fn start(app: &TestApp, email: &str) -> Started {
    start_at(app, &format!("/api/v1/sso/login?email={email}")).await
}

/// Signs `email` in with an assertion encrypted to `cert_pem`; answers the session cookie.
async fn signs_in(app: &TestApp, config: i64, sp: &Value, email: &str, cert_pem: &str, content: &str) -> String {
    let s = start(app, email).await;
    let landed = answer(app, config, &s, &encrypted_response(&s, sp, email, cert_pem, content)).await;
    assert_eq!((landed.status, landed.location.as_str()), (303, "/"), "{email}: {:?}", last_log(app));
    assert_eq!(last_log(app).0, "success");
    landed.session_cookie.expect("session cookie")
}

fn keys_of(v: &Value) -> Vec<(String, String, String)> {
    v.as_array()
        .expect("keys")
        .iter()
        .map(|k| {
            let s = |f: &str| k[f].as_str().expect("field").to_owned();
            (s("id"), s("status"), s("certificate_pem"))
        })
        .collect()
}

#[tokio::test]
#[allow(clippy::too_many_lines, reason = "one story: switch on, xmlsec1 interop, refusals, a whole key rollover")]
async fn saml_encrypted_assertions_from_xmlsec1_sign_in_and_survive_a_key_rollover() {
    let app = spawn_app().await;
    let owner = app.register("owner@acme.test").await;
    let saml = json!({ "idp_metadata_xml": metadata(IDP, IDP_SSO, &[IDP_CERT]), "encrypt_assertions": true });
    let (config, sp) = configure(&app, &owner, "acme.test", saml).await;

    // Turning encryption on generated our key: its certificate is shown and published,
    // the private key is stored sealed and never returned.
    let shown = call_ok(&app, &owner, Method::GET, &format!("/api/v1/sso/configurations/{config}"), None).await;
    assert_eq!(shown["saml"]["encrypt_assertions"], true);
    let keys = keys_of(&shown["saml_encryption_keys"]);
    assert_eq!(keys.len(), 1, "{shown}");
    let (first_id, status, first_cert) = keys[0].clone();
    assert_eq!(status, "current");
    assert!(shown["saml_encryption_keys"][0]["not_after"].as_str().is_some_and(|d| d > "2035"), "{shown}");
    assert!(!shown.to_string().contains("PRIVATE KEY"), "no private key in the API");
    let sealed: Vec<u8> = app.sql(|c| {
        c.query_row("SELECT private_key_encrypted FROM sso_configurations WHERE id = ?1", [config], |r| r.get(0))
    });
    assert!(sealed.len() > 1000 && !String::from_utf8_lossy(&sealed).contains("PRIVATE KEY"), "sealed at rest");
    assert_eq!(published_certificates(&app, config).await, vec![first_cert.clone()]);

    // xmlsec1 encrypts to the published certificate (AES-256-GCM, then AES-128-CBC).
    let cookie = signs_in(&app, config, &sp, "ada@acme.test", &first_cert, AES256_GCM).await;
    assert_eq!(me(&app, &cookie).await["user"]["email"], "ada@acme.test");
    signs_in(&app, config, &sp, "ada@acme.test", &first_cert, AES128_CBC).await;

    // Encryption required: a signed but plaintext assertion is refused.
    let s = start(&app, "ada@acme.test").await;
    let r = R::new(IDP, &sp, Some(&s.request_id), "ada@acme.test");
    assert_refused(&app, &answer(&app, config, &s, &signed_response(&r, IDP_KEY)).await, "assertion_not_encrypted");
    // Encrypted to a key that is not ours, or garbage inside EncryptedData: nobody signed in.
    let s = start(&app, "ada@acme.test").await;
    let wrong = encrypted_response(&s, &sp, "ada@acme.test", OTHER_CERT, AES256_GCM);
    assert_refused(&app, &answer(&app, config, &s, &wrong).await, "decryption_failed");
    let s = start(&app, "ada@acme.test").await;
    let r = R::new(IDP, &sp, Some(&s.request_id), "ada@acme.test");
    let garbage = format!(
        r#"<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="{NS_XENC}" Type="{NS_XENC}Element"><xenc:EncryptionMethod Algorithm="{AES256_GCM}"/><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="{NS_XENC}rsa-oaep-mgf1p"/><xenc:CipherData><xenc:CipherValue>Z2FyYmFnZQ==</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData><xenc:CipherValue>bm90IGFuIGFzc2VydGlvbg==</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedAssertion>"#
    );
    assert_refused(&app, &answer(&app, config, &s, &response_xml(&r, &garbage)).await, "decryption_failed");
    assert_eq!(app.count("SELECT count(*) FROM users WHERE email = 'ada@acme.test'"), 1);

    // Rollover, step 1: a next key, published beside the current one; both decrypt.
    let base = format!("/api/v1/sso/configurations/{config}/saml/encryption-keys");
    let r = send_as(&app, &owner, Method::POST, &base, None).await;
    assert_eq!(r.status(), 201);
    let keys = keys_of(&r.json().await.expect("json"));
    let (next_id, next_cert) = keys.iter().find(|k| k.1 == "next").map(|k| (k.0.clone(), k.2.clone())).expect("next");
    assert_ne!(next_cert, first_cert);
    assert_eq!(published_certificates(&app, config).await, vec![first_cert.clone(), next_cert.clone()]);
    signs_in(&app, config, &sp, "ada@acme.test", &first_cert, AES256_GCM).await;
    signs_in(&app, config, &sp, "ada@acme.test", &next_cert, AES256_GCM).await;
    assert_error(send_as(&app, &owner, Method::POST, &base, None).await, 409, "conflict").await;

    // Step 2: promote. The new key alone is published; the old one still decrypts.
    let keys = keys_of(&call_ok(&app, &owner, Method::POST, &format!("{base}/promote"), None).await);
    assert!(keys.contains(&(next_id.clone(), "current".into(), next_cert.clone())), "{keys:?}");
    assert!(keys.contains(&(first_id.clone(), "previous".into(), first_cert.clone())), "{keys:?}");
    assert_eq!(published_certificates(&app, config).await, vec![next_cert.clone()]);
    signs_in(&app, config, &sp, "ada@acme.test", &first_cert, AES128_CBC).await;
    assert_error(send_as(&app, &owner, Method::POST, &format!("{base}/promote"), None).await, 409, "conflict").await;
    // The current key cannot be retired while encryption is required.
    let current = send_as(&app, &owner, Method::DELETE, &format!("{base}/{next_id}"), None).await;
    assert_error(current, 409, "conflict").await;

    // Step 3: retire the old key: assertions encrypted to it are refused from now on.
    let keys = keys_of(&call_ok(&app, &owner, Method::DELETE, &format!("{base}/{first_id}"), None).await);
    assert_eq!(keys, vec![(next_id, "current".to_owned(), next_cert.clone())]);
    let s = start(&app, "ada@acme.test").await;
    let retired = encrypted_response(&s, &sp, "ada@acme.test", &first_cert, AES256_GCM);
    assert_refused(&app, &answer(&app, config, &s, &retired).await, "decryption_failed");
    signs_in(&app, config, &sp, "ada@acme.test", &next_cert, AES256_GCM).await;
    assert_error(send_as(&app, &owner, Method::DELETE, &format!("{base}/{first_id}"), None).await, 404, "not_found")
        .await;

    // The key actions are audited; the log shows every refusal with its reason.
    assert_eq!(app.count("SELECT count(*) FROM audit_logs WHERE action LIKE 'sso.saml_key.%'"), 3);
    let logs = call_ok(&app, &owner, Method::GET, &format!("/api/v1/orgs/{}/sso/logins", owner.org_id), None).await;
    let reasons: Vec<&str> =
        logs["items"].as_array().expect("items").iter().filter_map(|l| l["reason"].as_str()).collect();
    assert!(reasons.contains(&"assertion_not_encrypted") && reasons.contains(&"decryption_failed"), "{logs}");
}

#[tokio::test]
async fn saml_encryption_keys_are_optional_and_only_for_saml() {
    let app = spawn_app().await;
    let owner = app.register("owner@acme.test").await;
    let saml = json!({ "idp_metadata_xml": metadata(IDP, IDP_SSO, &[IDP_CERT]) });
    let (config, sp) = configure(&app, &owner, "acme.test", saml).await;
    // Without a key nothing is published and plaintext assertions are accepted.
    assert!(published_certificates(&app, config).await.is_empty());
    let s = start(&app, "bob@acme.test").await;
    let r = R::new(IDP, &sp, Some(&s.request_id), "bob@acme.test");
    assert_eq!(answer(&app, config, &s, &signed_response(&r, IDP_KEY)).await.location, "/");
    // A key generated ahead of the switch: an IdP may encrypt already; plaintext still passes.
    let base = format!("/api/v1/sso/configurations/{config}/saml/encryption-keys");
    let keys = keys_of(&call_ok(&app, &owner, Method::POST, &base, None).await);
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].1, "current");
    signs_in(&app, config, &sp, "bob@acme.test", &keys[0].2, AES256_GCM).await;
    let s = start(&app, "bob@acme.test").await;
    let r = R::new(IDP, &sp, Some(&s.request_id), "bob@acme.test");
    assert_eq!(answer(&app, config, &s, &signed_response(&r, IDP_KEY)).await.location, "/");
    // Turning encryption on keeps that key (no second one); off again, the key may be retired.
    let patched = call_ok(
        &app,
        &owner,
        Method::PATCH,
        &format!("/api/v1/sso/configurations/{config}"),
        Some(
            json!({ "saml": { "idp_metadata_xml": metadata(IDP, IDP_SSO, &[IDP_CERT]), "encrypt_assertions": true } }),
        ),
    )
    .await;
    assert_eq!(keys_of(&patched["saml_encryption_keys"]), keys);
    let s = start(&app, "bob@acme.test").await;
    let r = R::new(IDP, &sp, Some(&s.request_id), "bob@acme.test");
    assert_refused(&app, &answer(&app, config, &s, &signed_response(&r, IDP_KEY)).await, "assertion_not_encrypted");
    let path = format!("/api/v1/sso/configurations/{config}");
    call_ok(
        &app,
        &owner,
        Method::PATCH,
        &path,
        Some(json!({ "saml": { "idp_metadata_xml": metadata(IDP, IDP_SSO, &[IDP_CERT]) } })),
    )
    .await;
    let left = call_ok(&app, &owner, Method::DELETE, &format!("{base}/{}", keys[0].0), None).await;
    assert_eq!(left, json!([]));
    // Another organization's admin cannot touch these keys; an OIDC configuration has none.
    let other = app.register("mallory@evil.test").await;
    assert_error(send_as(&app, &other, Method::POST, &base, None).await, 404, "sso_configuration_not_found").await;
    let oidc = call_ok(
        &app,
        &owner,
        Method::POST,
        &format!("/api/v1/orgs/{}/sso/configurations", owner.org_id),
        Some(json!({ "protocol": "oidc", "name": "Okta", "issuer_url": "https://idp.acme.test", "client_id": "c",
                     "authorization_url": "https://idp.acme.test/a", "token_url": "https://idp.acme.test/t",
                     "jwks_url": "https://idp.acme.test/j" })),
    )
    .await;
    assert_eq!(oidc["saml_encryption_keys"], json!([]));
    let r = send_as(
        &app,
        &owner,
        Method::POST,
        &format!("/api/v1/sso/configurations/{}/saml/encryption-keys", oidc["id"]),
        None,
    )
    .await;
    let body = assert_error(r, 422, "validation_failed").await;
    assert_eq!(body["error"]["details"]["field"], "protocol", "{body}");
}

#[tokio::test]
async fn saml_sign_in_lands_on_the_page_it_started_from_and_never_off_site() {
    let app = spawn_app().await;
    let owner = app.register("owner@acme.test").await;
    let saml = json!({ "idp_metadata_xml": metadata(IDP, IDP_SSO, &[IDP_CERT]) });
    let (config, sp) = configure(&app, &owner, "acme.test", saml).await;
    let cases = [
        ("/bots/12/flows?tab=nodes#start", "/bots/12/flows?tab=nodes#start"),
        ("/settings/sso", "/settings/sso"),
        ("//evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("/api/v1/me", "/"),
        ("javascript:alert(1)", "/"),
        ("/bots/1\r\nSet-Cookie: x=1", "/"),
    ];
    for (next, lands) in cases {
        let q: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
        let s = start_at(&app, &format!("/api/v1/sso/login?email=ada@acme.test&next={q}")).await;
        let r = R::new(IDP, &sp, Some(&s.request_id), "ada@acme.test");
        let landed = answer(&app, config, &s, &signed_response(&r, IDP_KEY)).await;
        assert_eq!((landed.status, landed.location.as_str()), (303, lands), "next={next:?}: {:?}", last_log(&app));
        assert!(landed.session_cookie.is_some(), "signed in for next={next:?}");
    }
    // Only the safe ones were kept with their request.
    let kept: Vec<Option<String>> = app.sql(|c| {
        let mut st = c.prepare("SELECT return_to FROM sso_auth_requests ORDER BY id")?;
        st.query_map([], |r| r.get(0))?.collect()
    });
    assert_eq!(kept.iter().flatten().count(), 2, "{kept:?}");
}

//! The single sign-on settings page in headless Chromium: a SAML
//! configuration created through the wizard (bad metadata answered under its
//! field, then metadata read from the identity provider's URL), the copyable SP values,
//! encrypted assertions switched on (our key's certificate shown, downloadable and published,
//! a next key generated and promoted), and the sign-in log with the reason of a refused response.

use std::time::{Duration, Instant};

use crate::browser::{Browser, with_browser};
use crate::helpers::{call_ok, spawn_app};
use crate::sso_saml::{Host, IDP, IDP_CERT, IDP_SSO, metadata};

/// Waits until `css` contains `needle`, for up to a minute: generating an RSA key may be
/// slow on a loaded machine.
async fn wait_for_key(b: &Browser, css: &str, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(element) = b.client.find(fantoccini::Locator::Css(css)).await
            && let Ok(text) = element.text().await
            && text.contains(needle)
        {
            return text;
        }
        assert!(Instant::now() < deadline, "{css} never contained {needle:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_sso_page_sets_up_saml_and_shows_the_sign_in_log() {
    let app = spawn_app().await;
    let owner = app.register("sso-ui@acme.test").await;
    let host = Host::start().await;
    host.serve("/idp.xml", 200, &metadata(IDP, IDP_SSO, &[IDP_CERT]));
    host.serve("/broken.xml", 200, "<md:EntityDescriptor");
    with_browser("sso_page", |b| async move {
        b.sign_in(&app, "sso-ui@acme.test").await;
        b.client.goto(&app.url("/settings/sso")).await.expect("goto");
        b.click("input[name=protocol][value=saml]").await;
        b.fill("#saml-name", "Entra ID").await;
        b.fill("#saml-metadata-url", &format!("{}/broken.xml", host.server.base)).await;
        b.click("#create-saml button[type=submit]").await;
        b.wait_for_text("#create-saml [data-field-error='saml.idp_metadata_url']", "well-formed").await;

        b.replace("#saml-metadata-url", &format!("{}/idp.xml", host.server.base)).await;
        b.click("#create-saml button[type=submit]").await;
        let sp = b.wait_for_text("dl.saml-sp", "/acs").await;
        let id: i64 = app.sql(|c| c.query_row("SELECT id FROM sso_configurations", [], |r| r.get(0)));
        let acs = b.text_of(&format!("#sp-acs-{id}")).await;
        assert!(acs.starts_with("http") && acs.ends_with(&format!("/api/v1/sso/saml/{id}/acs")), "{acs}");
        let entity = b.text_of(&format!("#sp-entity-{id}")).await;
        assert!(entity.ends_with(&format!("/api/v1/sso/saml/{id}/metadata")), "{entity}");
        assert!(sp.contains(IDP), "the IdP read from its metadata: {sp}");
        assert!(sp.contains("in force"), "certificate status: {sp}");
        let copies = b.client.find_all(fantoccini::Locator::Css("dl.saml-sp button")).await.expect("buttons");
        assert_eq!(copies.len(), 3, "entity id, ACS URL and metadata URL are copyable");

        // Encrypted assertions: the switch generates our key and shows its certificate.
        let section = format!("#saml-encryption-{id}");
        b.click(&format!("{section} input.encrypt-assertions")).await;
        let current = wait_for_key(&b, &format!("{section} tr[data-key-status=current]"), "SAML encryption").await;
        let path = format!("/api/v1/sso/configurations/{id}");
        let shown = call_ok(&app, &owner, reqwest::Method::GET, &path, None).await;
        assert_eq!(shown["saml"]["encrypt_assertions"], true, "{shown}");
        let fingerprint = shown["saml_encryption_keys"][0]["sha256_fingerprint"].as_str().expect("fingerprint");
        assert!(current.contains(&fingerprint[..23]), "the certificate's fingerprint is shown: {current}");
        assert!(current.contains("Download certificate"), "{current}");
        b.click(&format!("{section} tr[data-key-status=current] button.download-cert")).await;
        let metadata = app.get(&format!("/api/v1/sso/saml/{id}/metadata")).await.text().await.expect("metadata");
        assert_eq!(metadata.matches("use=\"encryption\"").count(), 1, "{metadata}");
        // Rollover from the page: a next key, then promoted (the old one stays as previous).
        b.click(&format!("{section} button.generate-key")).await;
        wait_for_key(&b, &format!("{section} tr[data-key-status=next]"), "SAML encryption").await;
        let metadata = app.get(&format!("/api/v1/sso/saml/{id}/metadata")).await.text().await.expect("metadata");
        assert_eq!(metadata.matches("use=\"encryption\"").count(), 2, "both published during the overlap");
        b.click(&format!("{section} button.promote-key")).await;
        b.wait_for_text(&format!("{section} tr[data-key-status=previous]"), "Retire").await;

        // A refused response shows in the log with its reason.
        let r = app
            .request(reqwest::Method::POST, &format!("/api/v1/sso/saml/{id}/acs"))
            .form(&[("SAMLResponse", "bm90IHhtbA==")])
            .send()
            .await
            .expect("acs");
        assert_eq!(r.status(), 303);
        b.client.goto(&app.url("/settings/sso")).await.expect("goto");
        let log = b.wait_for_text("#sso-log tr[data-status=failed]", "configuration_disabled").await;
        assert!(log.contains("failed"), "{log}");
    })
    .await;
}

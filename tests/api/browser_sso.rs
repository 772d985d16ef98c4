//! The single sign-on settings page in headless Chromium: a SAML
//! configuration created through the wizard (bad metadata answered under its
//! field, then metadata read from the identity provider's URL), the copyable SP values,
//! and the sign-in log with the reason of a refused response.

use crate::browser::with_browser;
use crate::helpers::spawn_app;
use crate::sso_saml::{Host, IDP, IDP_CERT, IDP_SSO, metadata};

#[tokio::test]
async fn the_sso_page_sets_up_saml_and_shows_the_sign_in_log() {
    let app = spawn_app().await;
    app.register("sso-ui@acme.test").await;
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

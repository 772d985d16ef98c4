//! White-label settings: validation, the custom domain, logo and favicon in
//! `files`, the public branding endpoint.

use reqwest::Method;
use serde_json::json;

use crate::helpers::spawn_app;

/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0D, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0x00, 0x00, 0x03, 0x01, 0x01, 0x00, 0xC9, 0xFE, 0x92, 0xEF,
    0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

#[tokio::test]
async fn branding_is_validated_and_the_domain_is_unique() {
    let app = spawn_app().await;
    let owner = app.register("owner@example.com").await;
    let org = owner.org_id;
    let path = format!("/api/v1/orgs/{org}/whitelabel");
    let (status, defaults) = app.call(&owner, Method::GET, &path, None).await;
    assert_eq!((status, defaults["brand_name"].clone()), (200, json!("botbuilder")));

    for (bad, field) in [
        (json!({ "primary_color": "purple" }), "primary_color"),
        (json!({ "custom_domain": "https://bots.acme.io" }), "custom_domain"),
        (json!({ "support_email": "nope" }), "support_email"),
        (json!({ "privacy_policy_url": "javascript:alert(1)" }), "privacy_policy_url"),
        (json!({ "brand_name": "" }), "brand_name"),
        (json!({ "email_from_name": "Evil <x@y.z>" }), "email_from_name"),
    ] {
        let (status, body) = app.call(&owner, Method::PATCH, &path, Some(bad)).await;
        assert_eq!((status, body["error"]["details"]["field"].clone()), (422, json!(field)), "{body}");
    }
    assert_eq!(app.count("SELECT count(*) FROM whitelabel_settings"), 0, "nothing saved by bad input");

    let (status, saved) = app
        .call(
            &owner,
            Method::PATCH,
            &path,
            Some(json!({ "brand_name": "Acme", "primary_color": "#0F766E", "custom_domain": "Bots.Acme.test", "support_email": "help@acme.test" })),
        )
        .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(
        (saved["primary_color"].clone(), saved["custom_domain"].clone()),
        (json!("#0f766e"), json!("bots.acme.test"))
    );
    // Another organization cannot take the domain.
    let other = app.register("other@example.com").await;
    let (status, body) = app
        .call(
            &other,
            Method::PATCH,
            &format!("/api/v1/orgs/{}/whitelabel", other.org_id),
            Some(json!({ "custom_domain": "bots.acme.test" })),
        )
        .await;
    assert_eq!((status, body["error"]["code"].clone()), (409, json!("domain_taken")));
    // A viewer reads the branding (the UI applies it) but cannot change it.
    let viewer = app.join(&owner, org, "viewer@example.com", "viewer").await;
    let (status, _) = app.call(&viewer, Method::GET, &path, None).await;
    assert_eq!(status, 200);
    let (status, _) = app.call(&viewer, Method::PATCH, &path, Some(json!({ "brand_name": "Mine" }))).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn logos_are_checked_stored_in_files_and_served_publicly() {
    let app = spawn_app().await;
    let owner = app.register("owner@example.com").await;
    let org = owner.org_id;
    let path = format!("/api/v1/orgs/{org}/whitelabel");
    app.call(&owner, Method::PATCH, &path, Some(json!({ "brand_name": "Acme", "custom_domain": "bots.acme.test" })))
        .await;
    // The logo: raw bytes, checked by content, stored in files.
    let logo = format!("{path}/logo");
    let r = app
        .as_user(&owner, Method::PUT, &logo)
        .header("Content-Type", "image/png")
        .body(b"<html>not an image</html>".to_vec())
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 415);
    let r = app
        .as_user(&owner, Method::PUT, &logo)
        .header("Content-Type", "image/png")
        .body(vec![0_u8; 1024 * 1024 + 1])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 413);
    let r = app
        .as_user(&owner, Method::PUT, &logo)
        .header("Content-Type", "image/png")
        .body(PNG.to_vec())
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let saved: serde_json::Value = r.json().await.expect("json");
    let logo_url = saved["logo_url"].as_str().expect("logo url").to_owned();
    assert_eq!(app.count("SELECT count(*) FROM files WHERE name = 'logo' AND content_type = 'image/png'"), 1);

    // Public: branding by domain (parameter or Host), and the image itself.
    let public: serde_json::Value = app.get("/api/v1/branding?domain=bots.acme.test").await.json().await.expect("json");
    assert_eq!((public["brand_name"].clone(), public["logo_url"].clone()), (json!("Acme"), json!(logo_url)));
    assert!(public.get("custom_domain").is_none() && public.get("email_from_address").is_none());
    let by_host: serde_json::Value = app
        .request(Method::GET, "/api/v1/branding")
        .header("Host", "bots.acme.test:8080")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(by_host["brand_name"], "Acme");
    let unknown: serde_json::Value =
        app.get("/api/v1/branding?domain=elsewhere.test").await.json().await.expect("json");
    assert_eq!(unknown["brand_name"], "botbuilder");
    let image = app.get(&logo_url).await;
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/png");
    assert!(image.headers()["content-security-policy"].to_str().expect("csp").contains("sandbox"));
    assert_eq!(image.bytes().await.expect("bytes").as_ref(), PNG);
    // Files not used as branding are not public.
    app.sql(|c| {
        c.execute(
            "INSERT INTO files (organization_id, sha256, size_bytes, data) VALUES (?1, ?2, 3, x'616263')",
            rusqlite::params![org, "a".repeat(64)],
        )
    });
    assert_eq!(app.get(&format!("/api/v1/branding/files/{}", "a".repeat(64))).await.status(), 404);
    // Removing the logo.
    let (status, removed) = app.call(&owner, Method::DELETE, &logo, None).await;
    assert_eq!((status, removed["logo_url"].clone()), (200, json!(null)));
    assert_eq!(app.get(&logo_url).await.status(), 404);
}

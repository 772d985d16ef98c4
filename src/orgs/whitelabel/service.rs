//! White-label rules: validated colours, URLs, addresses and domain; images
//! checked by their content; branding applied to the UI and to emails.

use serde_json::json;

use super::model::{PublicBranding, UpdateWhiteLabelRequest, WhiteLabel};
use super::store::{self, Asset};
use crate::accounts::service::normalize_email;
use crate::app::AppState;
use crate::crypto::sha256_hex;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::Tenant;
use crate::notify::Branding;
use crate::orgs::audit::{self, AuditEntry};

/// Largest logo or favicon.
pub const MAX_IMAGE_BYTES: usize = 1024 * 1024;

/// The defaults shown before anything is saved (the schema's defaults).
#[must_use]
pub fn defaults() -> WhiteLabel {
    WhiteLabel {
        brand_name: "botbuilder".to_owned(),
        primary_color: "#6d28d9".to_owned(),
        secondary_color: "#6366f1".to_owned(),
        accent_color: "#db2777".to_owned(),
        background_color: "#ffffff".to_owned(),
        text_color: "#1f2937".to_owned(),
        custom_domain: None,
        custom_domain_verified: false,
        support_email: None,
        company_name: None,
        company_website: None,
        email_from_name: None,
        email_from_address: None,
        email_header_color: None,
        email_footer_text: None,
        privacy_policy_url: None,
        terms_of_service_url: None,
        show_powered_by: true,
        logo_url: None,
        favicon_url: None,
        updated_at: None,
    }
}

/// The branding of the tenant's emails.
pub fn branding(conn: &rusqlite::Connection, tenant: &Tenant) -> AppResult<Branding> {
    let w = store::find(conn, tenant)?.unwrap_or_else(defaults);
    Ok(Branding {
        header_color: w.email_header_color.unwrap_or(w.primary_color),
        brand_name: w.brand_name,
        footer_text: w.email_footer_text,
        support_email: w.support_email,
        from_name: w.email_from_name,
        from_address: w.email_from_address,
        show_powered_by: w.show_powered_by,
    })
}

fn color(field: &str, raw: &str) -> AppResult<String> {
    let c = raw.trim();
    if c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|ch| ch.is_ascii_hexdigit()) {
        Ok(c.to_lowercase())
    } else {
        Err(AppError::validation(field, "must be a colour like #0f766e"))
    }
}

fn text(field: &str, raw: Option<&str>, max: usize) -> AppResult<Option<String>> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) if t.chars().count() > max || t.chars().any(|c| c.is_control() && c != '\n') => {
            Err(AppError::validation(field, format!("must be at most {max} characters")))
        }
        Some(t) => Ok(Some(t.to_owned())),
    }
}

fn url(field: &str, raw: Option<&str>) -> AppResult<Option<String>> {
    let Some(u) = text(field, raw, 500)? else { return Ok(None) };
    match url::Url::parse(&u) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.host_str().is_some() => Ok(Some(u)),
        _ => Err(AppError::validation(field, "must be an http(s) URL")),
    }
}

fn email(field: &str, raw: Option<&str>) -> AppResult<Option<String>> {
    match text(field, raw, 254)? {
        None => Ok(None),
        Some(e) => normalize_email(&e).map(Some).map_err(|_| AppError::validation(field, "must be an email address")),
    }
}

/// A host name: lower-case labels of letters, digits and hyphens, with a dot.
#[must_use]
pub fn domain(raw: &str) -> Option<String> {
    let d = raw.trim().trim_end_matches('.').to_lowercase();
    let ok = d.len() <= 253
        && d.contains('.')
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    ok.then_some(d)
}

fn apply(mut w: WhiteLabel, req: UpdateWhiteLabelRequest) -> AppResult<WhiteLabel> {
    if let Some(name) = req.brand_name {
        w.brand_name = text("brand_name", Some(&name), 100)?
            .ok_or_else(|| AppError::validation("brand_name", "must not be empty"))?;
        crate::names::reject_invisible("brand_name", &w.brand_name)?;
    }
    for (field, value, target) in [
        ("primary_color", req.primary_color, &mut w.primary_color),
        ("secondary_color", req.secondary_color, &mut w.secondary_color),
        ("accent_color", req.accent_color, &mut w.accent_color),
        ("background_color", req.background_color, &mut w.background_color),
        ("text_color", req.text_color, &mut w.text_color),
    ] {
        if let Some(v) = value {
            *target = color(field, &v)?;
        }
    }
    if let Some(d) = req.custom_domain {
        w.custom_domain = match text("custom_domain", d.as_deref(), 253)? {
            None => None,
            Some(d) => Some(domain(&d).ok_or_else(|| {
                AppError::validation("custom_domain", "must be a host name like bots.example.com (no scheme or port)")
            })?),
        };
    }
    if let Some(v) = req.support_email {
        w.support_email = email("support_email", v.as_deref())?;
    }
    if let Some(v) = req.email_from_address {
        w.email_from_address = email("email_from_address", v.as_deref())?;
    }
    if let Some(v) = req.company_name {
        w.company_name = text("company_name", v.as_deref(), 200)?;
        crate::names::reject_invisible("company_name", w.company_name.as_deref().unwrap_or_default())?;
    }
    if let Some(v) = req.email_from_name {
        w.email_from_name = text("email_from_name", v.as_deref(), 100)?;
        crate::names::reject_invisible("email_from_name", w.email_from_name.as_deref().unwrap_or_default())?;
        if w.email_from_name.as_deref().is_some_and(|n| n.contains(['<', '>', '"', '\n'])) {
            return Err(AppError::validation("email_from_name", "must not contain < > \" or line breaks"));
        }
    }
    if let Some(v) = req.email_footer_text {
        w.email_footer_text = text("email_footer_text", v.as_deref(), 1000)?;
    }
    if let Some(v) = req.email_header_color {
        w.email_header_color = v.map(|c| color("email_header_color", &c)).transpose()?;
    }
    if let Some(v) = req.company_website {
        w.company_website = url("company_website", v.as_deref())?;
    }
    if let Some(v) = req.privacy_policy_url {
        w.privacy_policy_url = url("privacy_policy_url", v.as_deref())?;
    }
    if let Some(v) = req.terms_of_service_url {
        w.terms_of_service_url = url("terms_of_service_url", v.as_deref())?;
    }
    if let Some(v) = req.show_powered_by {
        w.show_powered_by = v;
    }
    Ok(w)
}

pub async fn get(state: &AppState, tenant: Tenant) -> AppResult<WhiteLabel> {
    state.db.read(move |c| Ok(store::find(c, &tenant)?.unwrap_or_else(defaults))).await
}

pub async fn update(state: &AppState, tenant: Tenant, req: UpdateWhiteLabelRequest) -> AppResult<WhiteLabel> {
    // Validate against the defaults first so bad input fails before any write.
    apply(defaults(), req.clone())?;
    state
        .db
        .write(move |tx| {
            let before = store::find(tx, &tenant)?.unwrap_or_else(defaults);
            let after = apply(before.clone(), req)?;
            if let Some(d) = &after.custom_domain
                && store::domain_taken(tx, &tenant, d)?
            {
                return Err(AppError::new(ErrorCode::DomainTaken, "another organization uses this domain")
                    .with_details(json!({ "field": "custom_domain" })));
            }
            store::ensure(tx, &tenant)?;
            store::save(tx, &tenant, &after)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "whitelabel.updated", "organization", tenant.org_id().0)
                    .with_old(serde_json::to_value(&before).unwrap_or_default())
                    .with_new(serde_json::to_value(&after).unwrap_or_default())
                    .activity(),
            )?;
            Ok(store::find(tx, &tenant)?.unwrap_or_else(defaults))
        })
        .await
}

/// The image type of `data` from its first bytes (the declared type is not
/// trusted).
#[must_use]
pub fn sniff_image(data: &[u8]) -> Option<&'static str> {
    if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some("image/png");
    }
    if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some("image/jpeg");
    }
    if data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a") {
        return Some("image/gif");
    }
    if data.len() > 12 && data.starts_with(b"RIFF") && &data[8..12] == b"WEBP" {
        return Some("image/webp");
    }
    if data.starts_with(&[0, 0, 1, 0]) {
        return Some("image/x-icon");
    }
    let head = String::from_utf8_lossy(&data[..data.len().min(512)]).trim_start().to_lowercase();
    if (head.starts_with("<svg") || head.starts_with("<?xml")) && head.contains("<svg") {
        return Some("image/svg+xml");
    }
    None
}

/// Stores an uploaded logo or favicon.
pub async fn put_image(state: &AppState, tenant: Tenant, asset: Asset, data: Vec<u8>) -> AppResult<WhiteLabel> {
    if data.is_empty() {
        return Err(AppError::validation("body", "is empty; send the image bytes"));
    }
    if data.len() > MAX_IMAGE_BYTES {
        return Err(AppError::new(ErrorCode::PayloadTooLarge, "images may be at most 1 MiB")
            .with_details(json!({ "limit_bytes": MAX_IMAGE_BYTES })));
    }
    let content_type = sniff_image(&data).ok_or_else(|| {
        AppError::new(ErrorCode::UnsupportedMediaType, "send a PNG, JPEG, GIF, WebP, ICO or SVG image")
    })?;
    let sha = sha256_hex(&data);
    state
        .db
        .write(move |tx| {
            store::ensure(tx, &tenant)?;
            let file = store::put_file(tx, &tenant, &sha, content_type, asset.name(), &data)?;
            store::set_asset(tx, &tenant, asset, Some(file))?;
            audit::record(
                tx,
                &AuditEntry::by(
                    &tenant,
                    &format!("whitelabel.{}_uploaded", asset.name()),
                    "organization",
                    tenant.org_id().0,
                )
                .with_new(json!({ "sha256": sha, "content_type": content_type, "size_bytes": data.len() }))
                .activity(),
            )?;
            Ok(store::find(tx, &tenant)?.unwrap_or_else(defaults))
        })
        .await
}

/// Removes the logo or favicon.
pub async fn remove_image(state: &AppState, tenant: Tenant, asset: Asset) -> AppResult<WhiteLabel> {
    state
        .db
        .write(move |tx| {
            if store::asset(tx, &tenant, asset)?.is_some() {
                store::set_asset(tx, &tenant, asset, None)?;
                audit::record(
                    tx,
                    &AuditEntry::by(
                        &tenant,
                        &format!("whitelabel.{}_removed", asset.name()),
                        "organization",
                        tenant.org_id().0,
                    )
                    .activity(),
                )?;
            }
            Ok(store::find(tx, &tenant)?.unwrap_or_else(defaults))
        })
        .await
}

/// Public branding of a custom domain (instance defaults for other hosts).
pub async fn public(state: &AppState, host: String) -> AppResult<PublicBranding> {
    let found = match domain(host.split(':').next().unwrap_or_default()) {
        Some(d) => state.db.read(move |c| Ok(store::find_by_domain(c, &d)?)).await?,
        None => None,
    };
    Ok(found.unwrap_or_else(defaults).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_recognised_by_content() {
        assert_eq!(sniff_image(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(sniff_image(b"  <svg xmlns='http://www.w3.org/2000/svg'/>"), Some("image/svg+xml"));
        assert_eq!(sniff_image(b"<html><script>"), None);
        assert_eq!(sniff_image(b"GIF89a..."), Some("image/gif"));
    }

    #[test]
    fn domains_are_host_names() {
        assert_eq!(domain("Bots.Example.COM.").as_deref(), Some("bots.example.com"));
        for bad in ["localhost", "https://x.io", "x.io:8080", "-a.io", "a..io", "a b.io"] {
            assert!(domain(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn updates_validate_each_field() {
        let bad = UpdateWhiteLabelRequest { primary_color: Some("red".into()), ..UpdateWhiteLabelRequest::default() };
        let e = apply(defaults(), bad).expect_err("bad colour");
        assert_eq!(e.details().expect("details")["field"], "primary_color");
        let bad = UpdateWhiteLabelRequest {
            privacy_policy_url: Some(Some("javascript:alert(1)".into())),
            ..UpdateWhiteLabelRequest::default()
        };
        assert_eq!(apply(defaults(), bad).expect_err("bad url").details().expect("d")["field"], "privacy_policy_url");
        let ok = UpdateWhiteLabelRequest {
            brand_name: Some("Acme".into()),
            custom_domain: Some(Some("Bots.Acme.io".into())),
            ..UpdateWhiteLabelRequest::default()
        };
        let w = apply(defaults(), ok).expect("ok");
        assert_eq!((w.brand_name.as_str(), w.custom_domain.as_deref()), ("Acme", Some("bots.acme.io")));
    }
}

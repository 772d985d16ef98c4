//! SQL of white-label settings and their files.

use rusqlite::{Connection, OptionalExtension, params};

use super::model::WhiteLabel;
use crate::http::Tenant;
use crate::ids::{FileId, OrgId};

const SELECT: &str = "SELECT w.brand_name, w.primary_color, w.secondary_color, w.accent_color, w.background_color,
                             w.text_color, w.custom_domain, w.custom_domain_verified, w.support_email, w.company_name,
                             w.company_website, w.email_from_name, w.email_from_address, w.email_header_color,
                             w.email_footer_text, w.privacy_policy_url, w.terms_of_service_url, w.show_powered_by,
                             lf.sha256, ff.sha256, w.updated_at, w.organization_id
                      FROM whitelabel_settings w
                      LEFT JOIN files lf ON lf.id = w.logo_file_id
                      LEFT JOIN files ff ON ff.id = w.favicon_file_id";

fn file_url(sha: Option<String>) -> Option<String> {
    sha.map(|s| format!("/api/v1/branding/files/{s}"))
}

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(WhiteLabel, OrgId)> {
    Ok((
        WhiteLabel {
            brand_name: r.get(0)?,
            primary_color: r.get(1)?,
            secondary_color: r.get(2)?,
            accent_color: r.get(3)?,
            background_color: r.get(4)?,
            text_color: r.get(5)?,
            custom_domain: r.get(6)?,
            custom_domain_verified: r.get(7)?,
            support_email: r.get(8)?,
            company_name: r.get(9)?,
            company_website: r.get(10)?,
            email_from_name: r.get(11)?,
            email_from_address: r.get(12)?,
            email_header_color: r.get(13)?,
            email_footer_text: r.get(14)?,
            privacy_policy_url: r.get(15)?,
            terms_of_service_url: r.get(16)?,
            show_powered_by: r.get(17)?,
            logo_url: file_url(r.get(18)?),
            favicon_url: file_url(r.get(19)?),
            updated_at: r.get(20)?,
        },
        r.get(21)?,
    ))
}

/// The tenant's settings, if any were saved.
pub fn find(conn: &Connection, tenant: &Tenant) -> rusqlite::Result<Option<WhiteLabel>> {
    conn.prepare_cached(&format!("{SELECT} WHERE w.organization_id = ?1"))?
        .query_row([tenant.org_id()], from_row)
        .optional()
        .map(|o| o.map(|(w, _)| w))
}

/// The settings of the organization with this custom domain (public lookup).
pub fn find_by_domain(conn: &Connection, domain: &str) -> rusqlite::Result<Option<WhiteLabel>> {
    conn.prepare_cached(&format!(
        "{SELECT} JOIN organizations o ON o.id = w.organization_id WHERE w.custom_domain = ?1 AND o.status = 'active'"
    ))?
    .query_row([domain], from_row)
    .optional()
    .map(|o| o.map(|(w, _)| w))
}

/// Creates the tenant's row with defaults when there is none.
pub fn ensure(conn: &Connection, tenant: &Tenant) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO whitelabel_settings (organization_id) VALUES (?1) ON CONFLICT (organization_id) DO NOTHING",
        [tenant.org_id()],
    )?;
    Ok(())
}

/// Writes every editable field.
pub fn save(conn: &Connection, tenant: &Tenant, w: &WhiteLabel) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE whitelabel_settings SET brand_name = ?2, primary_color = ?3, secondary_color = ?4, accent_color = ?5,
                background_color = ?6, text_color = ?7, custom_domain = ?8,
                custom_domain_verified = CASE WHEN custom_domain IS ?8 THEN custom_domain_verified ELSE 0 END,
                support_email = ?9, company_name = ?10, company_website = ?11, email_from_name = ?12,
                email_from_address = ?13, email_header_color = ?14, email_footer_text = ?15, privacy_policy_url = ?16,
                terms_of_service_url = ?17, show_powered_by = ?18
         WHERE organization_id = ?1",
        params![
            tenant.org_id(),
            w.brand_name,
            w.primary_color,
            w.secondary_color,
            w.accent_color,
            w.background_color,
            w.text_color,
            w.custom_domain,
            w.support_email,
            w.company_name,
            w.company_website,
            w.email_from_name,
            w.email_from_address,
            w.email_header_color,
            w.email_footer_text,
            w.privacy_policy_url,
            w.terms_of_service_url,
            w.show_powered_by
        ],
    )?;
    Ok(())
}

/// Whether another organization uses the domain.
pub fn domain_taken(conn: &Connection, tenant: &Tenant, domain: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM whitelabel_settings WHERE custom_domain = ?1 AND organization_id <> ?2)",
        params![domain, tenant.org_id()],
        |r| r.get(0),
    )
}

/// Stores a file of the tenant (content-addressed: the same bytes are stored once).
pub fn put_file(
    conn: &Connection,
    tenant: &Tenant,
    sha256: &str,
    content_type: &str,
    name: &str,
    data: &[u8],
) -> rusqlite::Result<FileId> {
    conn.execute(
        "INSERT INTO files (organization_id, sha256, size_bytes, content_type, name, data, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
        params![
            tenant.org_id(),
            sha256,
            i64::try_from(data.len()).unwrap_or(i64::MAX),
            content_type,
            name,
            data,
            tenant.user_id()
        ],
    )?;
    conn.query_row(
        "SELECT id FROM files WHERE organization_id = ?1 AND sha256 = ?2",
        params![tenant.org_id(), sha256],
        |r| r.get(0),
    )
}

/// Which image of the branding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asset {
    Logo,
    Favicon,
}

impl Asset {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Asset::Logo => "logo",
            Asset::Favicon => "favicon",
        }
    }
}

/// Points the tenant's logo or favicon at a file (or at none).
pub fn set_asset(conn: &Connection, tenant: &Tenant, asset: Asset, file: Option<FileId>) -> rusqlite::Result<()> {
    let sql = match asset {
        Asset::Logo => "UPDATE whitelabel_settings SET logo_file_id = ?2 WHERE organization_id = ?1",
        Asset::Favicon => "UPDATE whitelabel_settings SET favicon_file_id = ?2 WHERE organization_id = ?1",
    };
    conn.execute(sql, params![tenant.org_id(), file])?;
    Ok(())
}

/// The current logo or favicon file id of the tenant.
pub fn asset(conn: &Connection, tenant: &Tenant, asset: Asset) -> rusqlite::Result<Option<FileId>> {
    let sql = match asset {
        Asset::Logo => "SELECT logo_file_id FROM whitelabel_settings WHERE organization_id = ?1",
        Asset::Favicon => "SELECT favicon_file_id FROM whitelabel_settings WHERE organization_id = ?1",
    };
    Ok(conn.query_row(sql, [tenant.org_id()], |r| r.get(0)).optional()?.flatten())
}

/// A branding image anyone may fetch: only files a white-label row uses.
pub fn public_file(conn: &Connection, sha256: &str) -> rusqlite::Result<Option<(String, Vec<u8>)>> {
    conn.query_row(
        "SELECT f.content_type, f.data FROM files f
         WHERE f.sha256 = ?1 AND EXISTS (SELECT 1 FROM whitelabel_settings w
                                         WHERE w.logo_file_id = f.id OR w.favicon_file_id = f.id OR w.logo_dark_file_id = f.id)
         LIMIT 1",
        [sha256],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

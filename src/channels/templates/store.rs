//! SQL of `channel_templates`.

use rusqlite::{Connection, params};

use super::model::{ChannelTemplate, ProviderStatus, TEMPLATE_COLUMNS, TemplateId};
use crate::channels::model::ChannelId;
use crate::db::{query_all, query_opt};
use crate::http::Tenant;

/// A template to insert (checked by the service).
pub struct NewTemplate<'a> {
    pub channel: ChannelId,
    pub name: &'a str,
    pub language: &'a str,
    pub category: &'a str,
    pub body: &'a str,
    /// JSON array.
    pub examples: &'a str,
    pub header_type: &'a str,
    pub header_content: Option<&'a str>,
    pub footer: Option<&'a str>,
    /// JSON array.
    pub buttons: &'a str,
}

/// Inserts a template; `None` when the channel has one of that name and language.
pub fn insert(conn: &Connection, tenant: &Tenant, t: &NewTemplate<'_>) -> rusqlite::Result<Option<TemplateId>> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO channel_templates (organization_id, channel_id, name, language, category, content, variables,
                header_type, header_content, footer, buttons)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (channel_id, name, language) DO NOTHING RETURNING id",
    )?;
    let mut rows = stmt.query(params![
        tenant.org_id(),
        t.channel,
        t.name,
        t.language,
        t.category,
        t.body,
        t.examples,
        t.header_type,
        t.header_content,
        t.footer,
        t.buttons
    ])?;
    rows.next()?.map(|r| r.get(0)).transpose()
}

pub fn find(
    conn: &Connection,
    tenant: &Tenant,
    channel: ChannelId,
    id: TemplateId,
) -> rusqlite::Result<Option<ChannelTemplate>> {
    query_opt(
        conn,
        &format!(
            "SELECT {TEMPLATE_COLUMNS} FROM channel_templates WHERE organization_id = ?1 AND channel_id = ?2 AND id = ?3"
        ),
        params![tenant.org_id(), channel, id],
    )
}

/// A channel's templates by id, after the cursor.
pub fn list(
    conn: &Connection,
    tenant: &Tenant,
    channel: ChannelId,
    after: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<ChannelTemplate>> {
    query_all(
        conn,
        &format!(
            "SELECT {TEMPLATE_COLUMNS} FROM channel_templates
             WHERE organization_id = ?1 AND channel_id = ?2 AND id > ?3 ORDER BY id LIMIT ?4"
        ),
        params![tenant.org_id(), channel, after.unwrap_or(0), limit],
    )
}

pub fn delete(conn: &Connection, tenant: &Tenant, channel: ChannelId, id: TemplateId) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM channel_templates WHERE organization_id = ?1 AND channel_id = ?2 AND id = ?3",
        params![tenant.org_id(), channel, id],
    )
}

/// Records Meta's answer to a submission.
pub fn set_submitted(
    conn: &Connection,
    tenant: &Tenant,
    id: TemplateId,
    external_id: &str,
    status: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE channel_templates SET external_id = ?3, status = ?4, rejection_reason = NULL
         WHERE organization_id = ?1 AND id = ?2",
        params![tenant.org_id(), id, external_id, status],
    )?;
    Ok(())
}

/// Applies Meta's decision to the channel's template with its id (or, not
/// yet linked, its name and language); whether a template matched.
pub fn apply_provider_status(
    conn: &Connection,
    tenant: &Tenant,
    channel: ChannelId,
    s: &ProviderStatus,
) -> rusqlite::Result<bool> {
    let n = conn.execute(
        "UPDATE channel_templates SET status = ?4, rejection_reason = CASE WHEN ?4 = 'approved' THEN NULL ELSE ?5 END,
                external_id = coalesce(external_id, ?3)
         WHERE organization_id = ?1 AND channel_id = ?2
           AND (external_id = ?3 OR (external_id IS NULL AND name = ?6 AND language = ?7))",
        params![tenant.org_id(), channel, s.external_id, s.status, s.reason, s.name, s.language],
    )?;
    Ok(n > 0)
}

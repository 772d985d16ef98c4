//! SQL of `llm_providers`.

use rusqlite::{Connection, OptionalExtension, params};

use super::model::{LlmProvider, LlmProviderId, PROVIDER_COLUMNS};
use crate::db::{query_all, query_opt};
use crate::http::Tenant;

/// A provider's fields (validated; the key already encrypted).
pub struct ProviderFields<'a> {
    pub name: &'a str,
    pub base_url: &'a str,
    pub default_model: &'a str,
    pub timeout_ms: i64,
    pub max_retries: i64,
    pub is_default: bool,
    pub is_active: bool,
    pub fallback_provider_id: Option<LlmProviderId>,
    pub input_price_micros: i64,
    pub output_price_micros: i64,
}

pub fn insert(conn: &Connection, tenant: &Tenant, p: &ProviderFields<'_>) -> rusqlite::Result<LlmProviderId> {
    if p.is_default {
        clear_default(conn, tenant)?;
    }
    conn.query_row(
        "INSERT INTO llm_providers (organization_id, created_by, name, base_url, default_model, timeout_ms, max_retries,
                                    is_default, is_active, fallback_provider_id, input_price_micros, output_price_micros)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) RETURNING id",
        params![
            tenant.org_id(),
            tenant.user_id(),
            p.name,
            p.base_url,
            p.default_model,
            p.timeout_ms,
            p.max_retries,
            p.is_default,
            p.is_active,
            p.fallback_provider_id,
            p.input_price_micros,
            p.output_price_micros
        ],
        |r| r.get(0),
    )
}

/// Sets a provider's wire format (`openai` or `anthropic`).
pub fn set_api_format(conn: &Connection, tenant: &Tenant, id: LlmProviderId, format: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE llm_providers SET api_format = ?3 WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), format],
    )?;
    Ok(())
}

pub fn update(conn: &Connection, tenant: &Tenant, id: LlmProviderId, p: &ProviderFields<'_>) -> rusqlite::Result<()> {
    if p.is_default {
        clear_default(conn, tenant)?;
    }
    conn.execute(
        "UPDATE llm_providers SET name = ?3, base_url = ?4, default_model = ?5, timeout_ms = ?6, max_retries = ?7,
                is_default = ?8, is_active = ?9, fallback_provider_id = ?10, input_price_micros = ?11,
                output_price_micros = ?12
         WHERE id = ?1 AND organization_id = ?2",
        params![
            id,
            tenant.org_id(),
            p.name,
            p.base_url,
            p.default_model,
            p.timeout_ms,
            p.max_retries,
            p.is_default,
            p.is_active,
            p.fallback_provider_id,
            p.input_price_micros,
            p.output_price_micros
        ],
    )?;
    Ok(())
}

fn clear_default(conn: &Connection, tenant: &Tenant) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE llm_providers SET is_default = 0 WHERE organization_id = ?1 AND is_default = 1",
        [tenant.org_id()],
    )?;
    Ok(())
}

pub fn set_key(conn: &Connection, tenant: &Tenant, id: LlmProviderId, sealed: Option<&[u8]>) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE llm_providers SET api_key_encrypted = ?3 WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), sealed],
    )?;
    Ok(())
}

pub fn key(conn: &Connection, tenant: &Tenant, id: LlmProviderId) -> rusqlite::Result<Option<Vec<u8>>> {
    conn.query_row(
        "SELECT api_key_encrypted FROM llm_providers WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id()],
        |r| r.get(0),
    )
    .optional()
    .map(Option::flatten)
}

pub fn find(conn: &Connection, tenant: &Tenant, id: LlmProviderId) -> rusqlite::Result<Option<LlmProvider>> {
    query_opt(
        conn,
        &format!("SELECT {PROVIDER_COLUMNS} FROM llm_providers WHERE id = ?1 AND organization_id = ?2"),
        params![id, tenant.org_id()],
    )
}

pub fn find_default(conn: &Connection, tenant: &Tenant) -> rusqlite::Result<Option<LlmProvider>> {
    query_opt(
        conn,
        &format!(
            "SELECT {PROVIDER_COLUMNS} FROM llm_providers WHERE organization_id = ?1 AND is_default = 1 AND is_active = 1"
        ),
        params![tenant.org_id()],
    )
}

pub fn name_taken(
    conn: &Connection,
    tenant: &Tenant,
    name: &str,
    except: Option<LlmProviderId>,
) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM llm_providers WHERE organization_id = ?1 AND name = ?2 AND (?3 IS NULL OR id <> ?3))",
        params![tenant.org_id(), name, except],
        |r| r.get(0),
    )
}

pub fn list(conn: &Connection, tenant: &Tenant, after: Option<i64>, limit: i64) -> rusqlite::Result<Vec<LlmProvider>> {
    query_all(
        conn,
        &format!(
            "SELECT {PROVIDER_COLUMNS} FROM llm_providers WHERE organization_id = ?1 AND (?2 IS NULL OR id < ?2)
             ORDER BY id DESC LIMIT ?3"
        ),
        params![tenant.org_id(), after, limit],
    )
}

pub fn delete(conn: &Connection, tenant: &Tenant, id: LlmProviderId) -> rusqlite::Result<bool> {
    Ok(conn
        .execute("DELETE FROM llm_providers WHERE id = ?1 AND organization_id = ?2", params![id, tenant.org_id()])?
        == 1)
}

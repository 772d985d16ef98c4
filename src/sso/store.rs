//! SQL of `sso_configurations`, `sso_domains`, `sso_user_mappings`,
//! `sso_login_logs` and `sso_auth_requests`.

use rusqlite::{Connection, OptionalExtension, params};

use super::model::{
    CONFIG_COLUMNS, ConfigRow, DOMAIN_COLUMNS, DomainRow, SsoConfigurationId, SsoDomainId, SsoLoginLog,
};
use crate::db::{query_all, query_opt};
use crate::http::{ClientInfo, Tenant};
use crate::ids::{OrgId, RoleId, UserId};

/// Columns written at creation and update.
pub struct ConfigFields<'a> {
    pub provider_type: &'a str,
    pub name: &'a str,
    pub enabled: bool,
    pub enforced: bool,
    pub settings_json: &'a str,
    pub issuer_url: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub authorization_url: Option<&'a str>,
    pub token_url: Option<&'a str>,
    pub userinfo_url: Option<&'a str>,
    pub jwks_url: Option<&'a str>,
    pub scopes: &'a str,
    pub auto_provision_users: bool,
    pub default_role_id: Option<RoleId>,
    pub metadata_url: Option<&'a str>,
    pub entity_id: Option<&'a str>,
    pub certificate: Option<&'a str>,
    pub acs_url: Option<&'a str>,
}

pub fn insert_config(conn: &Connection, tenant: &Tenant, f: &ConfigFields<'_>) -> rusqlite::Result<SsoConfigurationId> {
    conn.query_row(
        "INSERT INTO sso_configurations (organization_id, provider_type, name, is_enabled, is_enforced, settings,
             issuer_url, client_id, authorization_url, token_url, userinfo_url, jwks_url, scopes, auto_provision_users,
             default_role_id, metadata_url, entity_id, certificate, acs_url)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19) RETURNING id",
        params![
            tenant.org_id(),
            f.provider_type,
            f.name,
            f.enabled,
            f.enforced,
            f.settings_json,
            f.issuer_url,
            f.client_id,
            f.authorization_url,
            f.token_url,
            f.userinfo_url,
            f.jwks_url,
            f.scopes,
            f.auto_provision_users,
            f.default_role_id,
            f.metadata_url,
            f.entity_id,
            f.certificate,
            f.acs_url
        ],
        |r| r.get(0),
    )
}

pub fn update_config(
    conn: &Connection,
    tenant: &Tenant,
    id: SsoConfigurationId,
    f: &ConfigFields<'_>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE sso_configurations SET name = ?3, is_enabled = ?4, is_enforced = ?5, settings = ?6, issuer_url = ?7,
             client_id = ?8, authorization_url = ?9, token_url = ?10, userinfo_url = ?11, jwks_url = ?12, scopes = ?13,
             auto_provision_users = ?14, default_role_id = ?15, metadata_url = ?16, entity_id = ?17, certificate = ?18,
             acs_url = ?19
         WHERE id = ?1 AND organization_id = ?2",
        params![
            id,
            tenant.org_id(),
            f.name,
            f.enabled,
            f.enforced,
            f.settings_json,
            f.issuer_url,
            f.client_id,
            f.authorization_url,
            f.token_url,
            f.userinfo_url,
            f.jwks_url,
            f.scopes,
            f.auto_provision_users,
            f.default_role_id,
            f.metadata_url,
            f.entity_id,
            f.certificate,
            f.acs_url
        ],
    )?;
    Ok(())
}

pub fn set_client_secret(
    conn: &Connection,
    tenant: &Tenant,
    id: SsoConfigurationId,
    sealed: Option<&[u8]>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE sso_configurations SET client_secret_encrypted = ?3 WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), sealed],
    )?;
    Ok(())
}

/// Replaces the sealed SAML encryption keys (`None`: no key).
pub fn set_private_key(
    conn: &Connection,
    tenant: &Tenant,
    id: SsoConfigurationId,
    sealed: Option<&[u8]>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE sso_configurations SET private_key_encrypted = ?3 WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), sealed],
    )?;
    Ok(())
}

pub fn find_config(conn: &Connection, tenant: &Tenant, id: SsoConfigurationId) -> rusqlite::Result<Option<ConfigRow>> {
    query_opt(
        conn,
        &format!("SELECT {CONFIG_COLUMNS} FROM sso_configurations c WHERE c.id = ?1 AND c.organization_id = ?2"),
        params![id, tenant.org_id()],
    )
}

/// A configuration by id alone, for the public sign-in routes, which learn
/// the organization from the row (and check it against the request).
pub fn find_config_public(conn: &Connection, id: SsoConfigurationId) -> rusqlite::Result<Option<ConfigRow>> {
    query_opt(conn, &format!("SELECT {CONFIG_COLUMNS} FROM sso_configurations c WHERE c.id = ?1"), [id])
}

pub fn list_configs(conn: &Connection, tenant: &Tenant) -> rusqlite::Result<Vec<ConfigRow>> {
    query_all(
        conn,
        &format!("SELECT {CONFIG_COLUMNS} FROM sso_configurations c WHERE c.organization_id = ?1 ORDER BY c.id"),
        [tenant.org_id()],
    )
}

pub fn delete_config(conn: &Connection, tenant: &Tenant, id: SsoConfigurationId) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM sso_configurations WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id()],
    )?;
    Ok(())
}

/// A role of the organization (custom) or built-in, by name.
pub fn role_by_name(conn: &Connection, org_id: OrgId, name: &str) -> rusqlite::Result<Option<RoleId>> {
    conn.query_row(
        "SELECT id FROM roles WHERE name = ?2 AND (organization_id = ?1 OR organization_id IS NULL)
         ORDER BY organization_id IS NULL LIMIT 1",
        params![org_id, name],
        |r| r.get(0),
    )
    .optional()
}

pub fn team_exists(conn: &Connection, org_id: OrgId, team_id: i64) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM teams WHERE id = ?1 AND organization_id = ?2)",
        params![team_id, org_id],
        |r| r.get(0),
    )
}

// ---- domains

pub fn insert_domain(
    conn: &Connection,
    tenant: &Tenant,
    config: SsoConfigurationId,
    domain: &str,
    token: &str,
) -> rusqlite::Result<Option<SsoDomainId>> {
    conn.query_row(
        "INSERT INTO sso_domains (organization_id, sso_configuration_id, domain, verification_token)
         VALUES (?1, ?2, ?3, ?4) ON CONFLICT (domain) DO NOTHING RETURNING id",
        params![tenant.org_id(), config, domain, token],
        |r| r.get(0),
    )
    .optional()
}

pub fn find_domain(conn: &Connection, tenant: &Tenant, id: SsoDomainId) -> rusqlite::Result<Option<DomainRow>> {
    query_opt(
        conn,
        &format!("SELECT {DOMAIN_COLUMNS} FROM sso_domains WHERE id = ?1 AND organization_id = ?2"),
        params![id, tenant.org_id()],
    )
}

/// A domain by id alone (superadmin approval).
pub fn find_domain_any(conn: &Connection, id: SsoDomainId) -> rusqlite::Result<Option<DomainRow>> {
    query_opt(conn, &format!("SELECT {DOMAIN_COLUMNS} FROM sso_domains WHERE id = ?1"), [id])
}

pub fn list_domains(conn: &Connection, tenant: &Tenant) -> rusqlite::Result<Vec<DomainRow>> {
    query_all(
        conn,
        &format!("SELECT {DOMAIN_COLUMNS} FROM sso_domains WHERE organization_id = ?1 ORDER BY domain"),
        [tenant.org_id()],
    )
}

pub fn mark_verified(conn: &Connection, id: SsoDomainId, method: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE sso_domains SET is_verified = 1, verification_method = ?2,
                verified_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE id = ?1",
        params![id, method],
    )?;
    Ok(())
}

pub fn delete_domain(conn: &Connection, tenant: &Tenant, id: SsoDomainId) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM sso_domains WHERE id = ?1 AND organization_id = ?2", params![id, tenant.org_id()])?;
    Ok(())
}

/// The enabled configuration (with its organization's name) that a
/// verified domain routes to.
pub fn config_for_domain(conn: &Connection, domain: &str) -> rusqlite::Result<Option<(ConfigRow, String)>> {
    let row: Option<(SsoConfigurationId, String)> = conn
        .query_row(
            "SELECT c.id, o.name FROM sso_domains d
             JOIN sso_configurations c ON c.id = d.sso_configuration_id
             JOIN organizations o ON o.id = d.organization_id
             WHERE d.domain = ?1 AND d.is_verified = 1 AND c.is_enabled = 1",
            [domain],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((id, org_name)) = row else { return Ok(None) };
    Ok(find_config_public(conn, id)?.map(|c| (c, org_name)))
}

/// Whether `domain` is a verified domain of configuration `config`.
pub fn domain_verified_for(conn: &Connection, config: SsoConfigurationId, domain: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sso_domains WHERE sso_configuration_id = ?1 AND domain = ?2 AND is_verified = 1)",
        params![config, domain],
        |r| r.get(0),
    )
}

// ---- sign-in requests

pub struct NewAuthRequest<'a> {
    pub org_id: i64,
    pub config: SsoConfigurationId,
    pub state_hash: &'a [u8],
    pub browser_hash: Option<&'a [u8]>,
    pub nonce: &'a str,
    pub verifier_sealed: &'a [u8],
    pub purpose: &'a str,
    pub requested_by: Option<UserId>,
    pub expires_at: &'a str,
    /// Where the browser lands after signing in (checked by `safe_relay_target`).
    pub return_to: Option<&'a str>,
}

pub fn insert_auth_request(conn: &Connection, r: &NewAuthRequest<'_>) -> rusqlite::Result<i64> {
    conn.query_row(
        "INSERT INTO sso_auth_requests (organization_id, sso_configuration_id, state_hash, browser_hash, nonce,
             code_verifier_encrypted, purpose, requested_by, expires_at, return_to)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING id",
        params![
            r.org_id,
            r.config,
            r.state_hash,
            r.browser_hash,
            r.nonce,
            r.verifier_sealed,
            r.purpose,
            r.requested_by,
            r.expires_at,
            r.return_to
        ],
        |row| row.get(0),
    )
}

/// A stored sign-in request.
pub struct AuthRequestRow {
    pub id: i64,
    pub org_id: i64,
    pub config: SsoConfigurationId,
    pub browser_hash: Option<Vec<u8>>,
    pub nonce: String,
    pub verifier_sealed: Vec<u8>,
    pub purpose: String,
    pub expires_at: String,
    pub used_at: Option<String>,
    pub return_to: Option<String>,
}

pub fn find_auth_request(conn: &Connection, state_hash: &[u8]) -> rusqlite::Result<Option<AuthRequestRow>> {
    conn.query_row(
        "SELECT id, organization_id, sso_configuration_id, browser_hash, nonce, code_verifier_encrypted, purpose,
                expires_at, used_at, return_to
         FROM sso_auth_requests WHERE state_hash = ?1",
        [state_hash],
        |r| {
            Ok(AuthRequestRow {
                id: r.get(0)?,
                org_id: r.get(1)?,
                config: r.get(2)?,
                browser_hash: r.get(3)?,
                nonce: r.get(4)?,
                verifier_sealed: r.get(5)?,
                purpose: r.get(6)?,
                expires_at: r.get(7)?,
                used_at: r.get(8)?,
                return_to: r.get(9)?,
            })
        },
    )
    .optional()
}

/// Marks a request used; false when it already was (a concurrent replay).
pub fn consume_auth_request(conn: &Connection, id: i64) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE sso_auth_requests SET used_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?1 AND used_at IS NULL",
        [id],
    )? == 1)
}

pub fn set_test_claims(conn: &Connection, id: i64, claims_json: &str) -> rusqlite::Result<()> {
    conn.execute("UPDATE sso_auth_requests SET claims = ?2 WHERE id = ?1", params![id, claims_json])?;
    Ok(())
}

/// The claims of the configuration's last test sign-in that came back.
pub fn last_test(
    conn: &Connection,
    tenant: &Tenant,
    config: SsoConfigurationId,
) -> rusqlite::Result<Option<(String, String)>> {
    conn.query_row(
        "SELECT used_at, claims FROM sso_auth_requests
         WHERE organization_id = ?1 AND sso_configuration_id = ?2 AND purpose = 'test' AND claims IS NOT NULL
         ORDER BY id DESC LIMIT 1",
        params![tenant.org_id(), config],
        |r| Ok((r.get::<_, Option<String>>(0)?.unwrap_or_default(), r.get(1)?)),
    )
    .optional()
}

/// Deletes requests expired for a day (they can only be refused by then).
pub fn prune_auth_requests(conn: &Connection) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM sso_auth_requests WHERE expires_at < strftime('%Y-%m-%dT%H:%M:%fZ','now','-1 day')", [])
}

// ---- user mappings

/// The user an `IdP` subject is linked to.
pub fn mapped_user(
    conn: &Connection,
    config: SsoConfigurationId,
    external_id: &str,
) -> rusqlite::Result<Option<UserId>> {
    conn.query_row(
        "SELECT user_id FROM sso_user_mappings WHERE sso_configuration_id = ?1 AND external_id = ?2",
        params![config, external_id],
        |r| r.get(0),
    )
    .optional()
}

/// Links (or re-links) a subject to a user, with the last claims and refresh token.
#[allow(clippy::too_many_arguments, reason = "the columns of one link row")]
pub fn upsert_mapping(
    conn: &Connection,
    org_id: i64,
    config: SsoConfigurationId,
    user: UserId,
    external_id: &str,
    email: &str,
    attributes_json: &str,
    refresh_sealed: Option<&[u8]>,
) -> rusqlite::Result<()> {
    // One subject per user per configuration: a user re-linked to a new
    // subject (the IdP account was recreated) drops the old link.
    conn.execute(
        "DELETE FROM sso_user_mappings WHERE sso_configuration_id = ?1 AND user_id = ?2 AND external_id <> ?3",
        params![config, user, external_id],
    )?;
    conn.execute(
        "INSERT INTO sso_user_mappings (organization_id, sso_configuration_id, user_id, external_id, email, attributes,
             last_login_at, refresh_token_encrypted)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, strftime('%Y-%m-%dT%H:%M:%fZ','now'), ?7)
         ON CONFLICT (sso_configuration_id, external_id) DO UPDATE SET email = excluded.email,
             attributes = excluded.attributes, last_login_at = excluded.last_login_at,
             refresh_token_encrypted = coalesce(excluded.refresh_token_encrypted, refresh_token_encrypted)",
        params![org_id, config, user, external_id, email, attributes_json, refresh_sealed],
    )?;
    Ok(())
}

// ---- provisioning

/// A user by email: id and whether suspended.
pub fn user_by_email(conn: &Connection, email: &str) -> rusqlite::Result<Option<(UserId, bool)>> {
    conn.query_row("SELECT id, suspended_at IS NOT NULL FROM users WHERE email = ?1", [email], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
    .optional()
}

pub fn user_suspended(conn: &Connection, user: UserId) -> rusqlite::Result<bool> {
    conn.query_row("SELECT suspended_at IS NOT NULL FROM users WHERE id = ?1", [user], |r| r.get(0))
}

/// Creates an SSO user: the address is proven by the `IdP`, the password
/// hash is of a random secret nobody knows (a password can be set later
/// through reset, unless the domain enforces SSO).
pub fn insert_sso_user(conn: &Connection, email: &str, name: &str, password_hash: &str) -> rusqlite::Result<UserId> {
    conn.query_row(
        "INSERT INTO users (email, password_hash, name, email_verified, email_verified_at)
         VALUES (?1, ?2, ?3, 1, strftime('%Y-%m-%dT%H:%M:%fZ','now')) RETURNING id",
        params![email, password_hash, name],
        |r| r.get(0),
    )
}

/// The member's role id and whether they own the organization.
pub fn member_role(conn: &Connection, org_id: i64, user: UserId) -> rusqlite::Result<Option<(RoleId, bool)>> {
    conn.query_row(
        "SELECT m.role_id, o.owner_id = m.user_id FROM organization_members m JOIN organizations o ON o.id = m.organization_id
         WHERE m.organization_id = ?1 AND m.user_id = ?2",
        params![org_id, user],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

pub fn set_member_role(conn: &Connection, org_id: i64, user: UserId, role: RoleId) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE organization_members SET role_id = ?3 WHERE organization_id = ?1 AND user_id = ?2",
        params![org_id, user, role],
    )?;
    Ok(())
}

/// Adds the user to a team with the organization's default team role;
/// false when the organization has no default team role.
pub fn join_team(conn: &Connection, org_id: i64, team_id: i64, user: UserId) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "INSERT INTO team_members (organization_id, team_id, user_id, team_role_id)
         SELECT ?1, ?2, ?3, tr.id FROM team_roles tr JOIN teams t ON t.id = ?2 AND t.organization_id = ?1
         WHERE tr.organization_id = ?1 AND tr.is_default = 1
         ON CONFLICT (team_id, user_id) DO NOTHING",
        params![org_id, team_id, user],
    )? > 0)
}

// ---- login log

pub struct LogEntry<'a> {
    pub org_id: Option<i64>,
    pub config: Option<SsoConfigurationId>,
    pub user: Option<UserId>,
    pub email: Option<&'a str>,
    pub status: &'a str,
    pub error: Option<String>,
    pub client: &'a ClientInfo,
}

pub fn log_attempt(conn: &Connection, e: &LogEntry<'_>) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO sso_login_logs (organization_id, sso_configuration_id, user_id, email, status, error_message,
             ip_address, user_agent)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![e.org_id, e.config, e.user, e.email, e.status, e.error, e.client.ip, e.client.user_agent],
    )?;
    Ok(())
}

pub fn list_logs(
    conn: &Connection,
    tenant: &Tenant,
    after: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<SsoLoginLog>> {
    query_all(
        conn,
        "SELECT id, sso_configuration_id, user_id, email, status, error_message, ip_address, user_agent, created_at
         FROM sso_login_logs WHERE organization_id = ?1 AND (?2 IS NULL OR id < ?2) ORDER BY id DESC LIMIT ?3",
        params![tenant.org_id(), after, limit],
    )
}

/// Whether `domain` is a verified domain of an enabled configuration that
/// enforces SSO; answers that configuration's id.
pub fn enforcing_config(conn: &Connection, domain: &str) -> rusqlite::Result<Option<SsoConfigurationId>> {
    conn.query_row(
        "SELECT c.id FROM sso_domains d JOIN sso_configurations c ON c.id = d.sso_configuration_id
         WHERE d.domain = ?1 AND d.is_verified = 1 AND c.is_enabled = 1 AND c.is_enforced = 1",
        [domain],
        |r| r.get(0),
    )
    .optional()
}

// ---- background refresh

/// Every configuration with something to re-read: SAML with a metadata URL, OIDC with an issuer.
pub fn refreshable_configs(conn: &Connection) -> rusqlite::Result<Vec<ConfigRow>> {
    query_all(
        conn,
        &format!(
            "SELECT {CONFIG_COLUMNS} FROM sso_configurations c
             WHERE (c.provider_type = 'saml' AND c.metadata_url IS NOT NULL)
                OR (c.provider_type = 'oidc' AND c.issuer_url IS NOT NULL)
             ORDER BY c.id"
        ),
        [],
    )
}

/// Replaces a SAML configuration's `IdP` values after a successful metadata refresh.
pub fn set_saml_idp(
    conn: &Connection,
    id: SsoConfigurationId,
    entity_id: Option<&str>,
    sso_url: Option<&str>,
    certificates_json: &str,
    settings_json: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE sso_configurations SET entity_id = ?2, acs_url = ?3, certificate = ?4, settings = ?5 WHERE id = ?1",
        params![id, entity_id, sso_url, certificates_json, settings_json],
    )?;
    Ok(())
}

/// Replaces an OIDC configuration's endpoints after a successful discovery refresh.
pub fn set_oidc_endpoints(
    conn: &Connection,
    id: SsoConfigurationId,
    endpoints: [Option<&str>; 4],
) -> rusqlite::Result<()> {
    let [authorization, token, userinfo, jwks] = endpoints;
    conn.execute(
        "UPDATE sso_configurations SET authorization_url = ?2, token_url = ?3, userinfo_url = ?4, jwks_url = ?5
         WHERE id = ?1",
        params![id, authorization, token, userinfo, jwks],
    )?;
    Ok(())
}

pub fn set_settings(conn: &Connection, id: SsoConfigurationId, settings_json: &str) -> rusqlite::Result<()> {
    conn.execute("UPDATE sso_configurations SET settings = ?2 WHERE id = ?1", params![id, settings_json])?;
    Ok(())
}

//! SSO configurations (CRUD, discovery) and the OIDC sign-in: start,
//! callback (state, PKCE, ID token, userinfo, provisioning), test sign-in,
//! enforcement for password sign-in, and the login log.

use std::time::Duration;

use chrono::Utc;
use serde_json::{Map, Value, json};

use super::model::{
    ConfigRow, CreateSsoConfigurationRequest, SsoCheck, SsoConfiguration, SsoConfigurationId, SsoLoginLog, SsoMapping,
    SsoProtocol, SsoSamlSettings, SsoTestResult, SsoTestStart, UpdateSsoConfigurationRequest,
};
use super::oidc::{self, CachePolicy, Expected, Refusal};
use super::provision;
use super::saml_keys;
use super::store::{self, ConfigFields, LogEntry, NewAuthRequest};
use crate::app::AppState;
use crate::crypto::{random_token, sha256};
use crate::db::format_timestamp;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::{ClientInfo, Page, PageParams, Tenant};
use crate::ids::{OrgId, UserId};
use crate::orgs::audit::{self, AuditEntry};

/// The callback's path (give `{public_url}` + this to the `IdP`).
pub const CALLBACK_PATH: &str = "/api/v1/sso/oidc/callback";
/// Minutes a sign-in request stays valid.
pub const REQUEST_MINUTES: i64 = 10;
/// The cookie binding a sign-in to the browser that started it.
pub const BROWSER_COOKIE: &str = "bb_sso";

fn secret_context(org: i64, id: SsoConfigurationId) -> String {
    format!("sso_configurations.client_secret_encrypted:{org}:{}", id.0)
}

fn verifier_context(org: i64, config: SsoConfigurationId) -> String {
    format!("sso_auth_requests.code_verifier_encrypted:{org}:{}", config.0)
}

fn refresh_context(org: i64, config: SsoConfigurationId) -> String {
    format!("sso_user_mappings.refresh_token_encrypted:{org}:{}", config.0)
}

pub(super) fn not_found() -> AppError {
    AppError::new(ErrorCode::SsoConfigurationNotFound, "no such SSO configuration")
}

/// The redirect (callback) URI to register at the `IdP`.
pub async fn redirect_uri(state: &AppState) -> AppResult<String> {
    Ok(format!("{}{CALLBACK_PATH}", crate::admin::instance::public_url_in_force(state).await?.trim_end_matches('/')))
}

fn policy(state: &AppState) -> CachePolicy {
    CachePolicy {
        max_age: Duration::from_secs(state.config.sso.jwks_cache_secs),
        refetch_min: Duration::from_secs(state.config.sso.jwks_refetch_min_secs),
    }
}

// ---- configurations

fn check_url(field: &str, v: Option<&str>) -> AppResult<()> {
    if let Some(v) = v {
        let ok = url::Url::parse(v).is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some());
        if !ok {
            return Err(AppError::validation(field, "must be an http(s) URL"));
        }
    }
    Ok(())
}

fn clean(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// Validates a mapping against the organization's roles and teams.
fn check_mapping(conn: &rusqlite::Connection, org: OrgId, mapping: &SsoMapping) -> AppResult<()> {
    if mapping.groups_claim.trim().is_empty() || mapping.groups_claim.len() > 200 {
        return Err(AppError::validation("mapping.groups_claim", "name the claim holding the groups, e.g. `groups`"));
    }
    for (i, rule) in mapping.rules.iter().enumerate() {
        if rule.group.trim().is_empty() {
            return Err(AppError::validation(format!("mapping.rules[{i}].group"), "must not be empty"));
        }
        if let Some(role) = &rule.role {
            check_role(conn, org, role, &format!("mapping.rules[{i}].role"))?;
        }
        for (j, team) in rule.teams.iter().enumerate() {
            if !store::team_exists(conn, org, *team)? {
                return Err(AppError::validation(
                    format!("mapping.rules[{i}].teams[{j}]"),
                    "no such team in this organization",
                ));
            }
        }
    }
    Ok(())
}

fn check_role(conn: &rusqlite::Connection, org: OrgId, role: &str, field: &str) -> AppResult<crate::ids::RoleId> {
    if role == "owner" {
        return Err(AppError::validation(field, "SSO never makes anyone an owner"));
    }
    store::role_by_name(conn, org, role)?
        .ok_or_else(|| AppError::validation(field, format!("`{role}` is not a role of this organization")))
}

/// A configuration being written, validated.
struct Draft {
    protocol: SsoProtocol,
    name: String,
    enabled: bool,
    enforced: bool,
    issuer_url: Option<String>,
    client_id: Option<String>,
    authorization_url: Option<String>,
    token_url: Option<String>,
    userinfo_url: Option<String>,
    jwks_url: Option<String>,
    scopes: String,
    auto_provision_users: bool,
    default_role: Option<String>,
    mapping: SsoMapping,
    saml: SsoSamlSettings,
    /// The background refresh record, kept across edits.
    refresh: Option<Value>,
}

impl Draft {
    fn from_row(row: &ConfigRow) -> Draft {
        Draft {
            protocol: row.protocol(),
            name: row.name.clone(),
            enabled: row.enabled,
            enforced: row.enforced,
            issuer_url: row.issuer_url.clone(),
            client_id: row.client_id.clone(),
            authorization_url: row.authorization_url.clone(),
            token_url: row.token_url.clone(),
            userinfo_url: row.userinfo_url.clone(),
            jwks_url: row.jwks_url.clone(),
            scopes: row.scopes.clone(),
            auto_provision_users: row.auto_provision_users,
            default_role: row.default_role.clone(),
            mapping: row.mapping(),
            saml: row.saml().unwrap_or_default(),
            refresh: row.refresh_record(),
        }
    }

    /// Completes and checks the SAML settings (metadata parsed or fetched, certificates checked).
    async fn resolve_saml(&mut self, state: &AppState, fetch: bool) -> AppResult<()> {
        if self.protocol != SsoProtocol::Saml {
            return Ok(());
        }
        super::saml::resolve(state, &mut self.saml, fetch).await
    }

    /// Fills the endpoints from the issuer's discovery document (given ones win unless `replace`).
    async fn discover(&mut self, state: &AppState, replace: bool) -> AppResult<()> {
        if self.protocol != SsoProtocol::Oidc {
            return Ok(());
        }
        let Some(issuer) = self.issuer_url.clone() else {
            return Err(AppError::validation("issuer_url", "an OpenID Connect configuration needs its issuer URL"));
        };
        let complete = self.authorization_url.is_some() && self.token_url.is_some() && self.jwks_url.is_some();
        if complete && !replace {
            return Ok(());
        }
        let found = oidc::discover(&state.outbound, &issuer).await.map_err(|r| {
            AppError::new(ErrorCode::SsoDiscoveryFailed, format!("OpenID Connect discovery failed: {}", r.message))
                .with_details(json!({ "field": "issuer_url", "reason": r.reason, "url": oidc::discovery_url(&issuer) }))
        })?;
        let pick = |have: &mut Option<String>, found: Option<String>| {
            if replace || have.is_none() {
                *have = found;
            }
        };
        self.issuer_url = Some(found.issuer);
        pick(&mut self.authorization_url, Some(found.authorization_endpoint));
        pick(&mut self.token_url, Some(found.token_endpoint));
        pick(&mut self.userinfo_url, found.userinfo_endpoint);
        pick(&mut self.jwks_url, Some(found.jwks_uri));
        Ok(())
    }

    /// A SAML connection that requires encrypted assertions needs our current key: one is
    /// generated when it has none (`existing`: the stored row, `None` at creation).
    async fn encryption_key_needed(
        &self,
        state: &AppState,
        existing: Option<&ConfigRow>,
    ) -> AppResult<Option<saml_keys::NewKey>> {
        if self.protocol != SsoProtocol::Saml || !self.saml.encrypt_assertions {
            return Ok(None);
        }
        if existing.is_some_and(|row| saml_keys::has_current(&state.keys, row)) {
            return Ok(None);
        }
        Ok(Some(saml_keys::NewKey::generate(state).await?))
    }

    fn check_shape(&self) -> AppResult<()> {
        crate::names::check_name("name", &self.name, 200)?;
        for (field, v) in [
            ("issuer_url", &self.issuer_url),
            ("authorization_url", &self.authorization_url),
            ("token_url", &self.token_url),
            ("userinfo_url", &self.userinfo_url),
            ("jwks_url", &self.jwks_url),
            ("saml.idp_metadata_url", &self.saml.idp_metadata_url),
            ("saml.idp_sso_url", &self.saml.idp_sso_url),
        ] {
            check_url(field, v.as_deref())?;
        }
        if self.protocol == SsoProtocol::Oidc {
            if self.client_id.is_none() {
                return Err(AppError::validation("client_id", "the client id the IdP gave this application"));
            }
            if !self.scopes.split_whitespace().any(|s| s == "openid") {
                return Err(AppError::validation("scopes", "must include `openid`"));
            }
        }
        if self.saml.idp_metadata_xml.as_ref().is_some_and(|x| x.len() > 1_000_000) {
            return Err(AppError::validation("saml.idp_metadata_xml", "at most 1 MB"));
        }
        if self.enforced && !self.enabled {
            return Err(AppError::validation("enforced", "enable the configuration before enforcing it"));
        }
        Ok(())
    }

    fn settings_json(&self) -> String {
        let mut settings = json!({ "mapping": self.mapping });
        if self.protocol == SsoProtocol::Saml {
            settings["saml"] = json!({
                "idp_metadata_xml": self.saml.idp_metadata_xml,
                "allow_idp_initiated": self.saml.allow_idp_initiated,
                "email_attribute": self.saml.email_attribute,
                "name_attribute": self.saml.name_attribute,
                "encrypt_assertions": self.saml.encrypt_assertions,
            });
        }
        if let Some(refresh) = &self.refresh {
            settings["refresh"] = refresh.clone();
        }
        settings.to_string()
    }
}

/// Writes a draft (insert when `id` is `None`) with its role resolved.
fn write_draft(
    tx: &rusqlite::Connection,
    tenant: &Tenant,
    id: Option<SsoConfigurationId>,
    d: &Draft,
) -> AppResult<SsoConfigurationId> {
    check_mapping(tx, tenant.org_id(), &d.mapping)?;
    let default_role_id = match &d.default_role {
        Some(r) => Some(check_role(tx, tenant.org_id(), r, "default_role")?),
        None => None,
    };
    let settings = d.settings_json();
    let certificates = (!d.saml.idp_certificates.is_empty()).then(|| json!(d.saml.idp_certificates).to_string());
    let f = ConfigFields {
        provider_type: d.protocol.as_str(),
        name: &d.name,
        enabled: d.enabled,
        enforced: d.enforced,
        settings_json: &settings,
        issuer_url: d.issuer_url.as_deref(),
        client_id: d.client_id.as_deref(),
        authorization_url: d.authorization_url.as_deref(),
        token_url: d.token_url.as_deref(),
        userinfo_url: d.userinfo_url.as_deref(),
        jwks_url: d.jwks_url.as_deref(),
        scopes: &d.scopes,
        auto_provision_users: d.auto_provision_users,
        default_role_id,
        metadata_url: d.saml.idp_metadata_url.as_deref(),
        entity_id: d.saml.idp_entity_id.as_deref(),
        certificate: certificates.as_deref(),
        acs_url: d.saml.idp_sso_url.as_deref(),
    };
    match id {
        None => Ok(store::insert_config(tx, tenant, &f)?),
        Some(id) => {
            store::update_config(tx, tenant, id, &f)?;
            Ok(id)
        }
    }
}

async fn view(state: &AppState, tenant: Tenant, id: SsoConfigurationId) -> AppResult<SsoConfiguration> {
    let row = state.db.read(move |c| Ok(store::find_config(c, &tenant, id)?)).await?.ok_or_else(not_found)?;
    let public = crate::admin::instance::public_url_in_force(state).await?;
    Ok(row.view(redirect_uri(state).await?, &public, &state.keys))
}

/// Creates a configuration (OIDC endpoints by discovery when not given).
pub async fn create(
    state: &AppState,
    tenant: Tenant,
    req: CreateSsoConfigurationRequest,
) -> AppResult<SsoConfiguration> {
    let mut draft = Draft {
        protocol: req.protocol,
        name: req.name.trim().to_owned(),
        enabled: req.enabled,
        enforced: req.enforced,
        issuer_url: clean(req.issuer_url),
        client_id: clean(req.client_id),
        authorization_url: clean(req.authorization_url),
        token_url: clean(req.token_url),
        userinfo_url: clean(req.userinfo_url),
        jwks_url: clean(req.jwks_url),
        scopes: clean(req.scopes).unwrap_or_else(|| "openid profile email".to_owned()),
        auto_provision_users: req.auto_provision_users,
        default_role: clean(req.default_role),
        mapping: req.mapping.unwrap_or_default(),
        saml: req.saml.unwrap_or_default(),
        refresh: None,
    };
    draft.check_shape()?;
    draft.discover(state, false).await?;
    draft.resolve_saml(state, true).await?;
    let new_key = draft.encryption_key_needed(state, None).await?;
    let secret = clean(req.client_secret);
    let keys = state.keys.clone();
    let id = state
        .db
        .write(move |tx| {
            let id = write_draft(tx, &tenant, None, &draft)?;
            if let Some(key) = new_key {
                saml_keys::store_new_key(tx, &keys, &tenant, id, key)?;
            }
            if let Some(secret) = secret {
                let sealed = keys.encrypt(secret.as_bytes(), &secret_context(tenant.org_id().0, id));
                store::set_client_secret(tx, &tenant, id, Some(&sealed))?;
            }
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "sso.configuration.created", "sso_configuration", id.0)
                    .with_metadata(json!({ "protocol": draft.protocol.as_str(), "name": draft.name })),
            )?;
            Ok((id, tenant))
        })
        .await?;
    view(state, id.1, id.0).await
}

/// Lists the organization's configurations.
pub async fn list(state: &AppState, tenant: Tenant) -> AppResult<Vec<SsoConfiguration>> {
    let rows = state.db.read(move |c| Ok(store::list_configs(c, &tenant)?)).await?;
    let uri = redirect_uri(state).await?;
    let public = crate::admin::instance::public_url_in_force(state).await?;
    Ok(rows.iter().map(|r| r.view(uri.clone(), &public, &state.keys)).collect())
}

/// Shows one configuration.
pub async fn get(state: &AppState, tenant: Tenant, id: SsoConfigurationId) -> AppResult<SsoConfiguration> {
    view(state, tenant, id).await
}

/// Changes a configuration.
pub async fn update(
    state: &AppState,
    tenant: Tenant,
    id: SsoConfigurationId,
    req: UpdateSsoConfigurationRequest,
) -> AppResult<SsoConfiguration> {
    let t = tenant.clone();
    let row = state.db.read(move |c| Ok(store::find_config(c, &t, id)?)).await?.ok_or_else(not_found)?;
    let mut d = Draft::from_row(&row);
    let issuer_changed = req.issuer_url.as_ref().is_some_and(|i| Some(i.trim()) != d.issuer_url.as_deref());
    if let Some(v) = req.name {
        v.trim().clone_into(&mut d.name);
    }
    if let Some(v) = req.enabled {
        d.enabled = v;
    }
    if let Some(v) = req.enforced {
        d.enforced = v;
    }
    for (slot, v) in [
        (&mut d.issuer_url, req.issuer_url),
        (&mut d.client_id, req.client_id),
        (&mut d.authorization_url, req.authorization_url),
        (&mut d.token_url, req.token_url),
        (&mut d.userinfo_url, req.userinfo_url),
        (&mut d.jwks_url, req.jwks_url),
        (&mut d.default_role, req.default_role),
    ] {
        if v.is_some() {
            *slot = clean(v);
        }
    }
    if let Some(v) = clean(req.scopes) {
        d.scopes = v;
    }
    if let Some(v) = req.auto_provision_users {
        d.auto_provision_users = v;
    }
    if let Some(v) = req.mapping {
        d.mapping = v;
    }
    let saml_given = req.saml.is_some();
    if let Some(v) = req.saml {
        d.saml = v;
        d.refresh = None;
    }
    d.check_shape()?;
    d.discover(state, req.rediscover || issuer_changed).await?;
    if saml_given {
        d.resolve_saml(state, true).await?;
    }
    state.sso.forget(id.0);
    let new_key = d.encryption_key_needed(state, Some(&row)).await?;
    let keys = state.keys.clone();
    let secret = req.client_secret;
    let tenant = state
        .db
        .write(move |tx| {
            write_draft(tx, &tenant, Some(id), &d)?;
            if let Some(key) = new_key {
                saml_keys::store_new_key(tx, &keys, &tenant, id, key)?;
            }
            match secret {
                Some(Some(s)) if !s.trim().is_empty() => {
                    let sealed = keys.encrypt(s.trim().as_bytes(), &secret_context(tenant.org_id().0, id));
                    store::set_client_secret(tx, &tenant, id, Some(&sealed))?;
                }
                Some(_) => store::set_client_secret(tx, &tenant, id, None)?,
                None => {}
            }
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "sso.configuration.updated", "sso_configuration", id.0)
                    .with_metadata(json!({ "enabled": d.enabled, "enforced": d.enforced })),
            )?;
            Ok(tenant)
        })
        .await?;
    view(state, tenant, id).await
}

/// Deletes a configuration with its domains and user links.
pub async fn delete(state: &AppState, tenant: Tenant, id: SsoConfigurationId) -> AppResult<()> {
    state
        .db
        .write(move |tx| {
            store::find_config(tx, &tenant, id)?.ok_or_else(not_found)?;
            store::delete_config(tx, &tenant, id)?;
            audit::record(tx, &AuditEntry::by(&tenant, "sso.configuration.deleted", "sso_configuration", id.0))
        })
        .await?;
    state.sso.forget(id.0);
    Ok(())
}

/// The organization's sign-in attempts, newest first.
pub async fn list_logs(state: &AppState, tenant: Tenant, page: PageParams) -> AppResult<Page<SsoLoginLog>> {
    let after = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state.db.read(move |c| Ok(store::list_logs(c, &tenant, after, limit)?)).await?;
    Page::from_rows(rows, &page, |r| r.id)
}

// ---- routing by email domain and enforcement

fn email_domain(email: &str) -> Option<&str> {
    email.rsplit_once('@').map(|(_, d)| d)
}

/// Where the browser starts an SSO sign-in for `email`.
#[must_use]
pub fn login_path(email: &str) -> String {
    let q: String = url::form_urlencoded::byte_serialize(email.as_bytes()).collect();
    format!("/api/v1/sso/login?email={q}")
}

/// Whether `email` signs in with SSO (`/sso/check`).
pub async fn check(state: &AppState, raw_email: &str) -> AppResult<SsoCheck> {
    let email = crate::accounts::service::normalize_email(raw_email)?;
    let domain = email_domain(&email).unwrap_or_default().to_owned();
    let found = state.db.read(move |c| Ok(store::config_for_domain(c, &domain)?)).await?;
    Ok(match found {
        Some((config, org_name)) => SsoCheck {
            sso: true,
            enforced: config.enforced,
            login_url: Some(login_path(&email)),
            organization_name: Some(org_name),
        },
        None => SsoCheck { sso: false, enforced: false, login_url: None, organization_name: None },
    })
}

/// Refuses password sign-in and reset for an address whose domain enforces
/// SSO (`sso_required`). Only the domain is looked at, which `/sso/check`
/// tells anyone anyway, so the answer says nothing about the account.
pub async fn refuse_if_enforced(state: &AppState, email: &str) -> AppResult<()> {
    let email = email.trim().to_lowercase();
    let Some(domain) = email_domain(&email).map(str::to_owned) else { return Ok(()) };
    let enforced = state.db.read(move |c| Ok(store::enforcing_config(c, &domain)?)).await?;
    if enforced.is_some() {
        return Err(AppError::new(
            ErrorCode::SsoRequired,
            "your organization requires single sign-on for this address: use \"Sign in with SSO\"",
        )
        .with_details(json!({ "field": "email", "login_url": login_path(&email) })));
    }
    Ok(())
}

// ---- sign-in start

/// A started sign-in: where to send the browser and the browser-binding value.
pub struct Started {
    pub authorize_url: String,
    pub browser_nonce: String,
    pub expires_at: String,
    /// SAML: the browser comes back by a cross-site POST, so the binding
    /// cookie must be `SameSite=None` (OIDC's top-level GET redirect works with `Lax`).
    pub cross_site_post: bool,
}

async fn start_request(
    state: &AppState,
    config: &ConfigRow,
    purpose: &'static str,
    requested_by: Option<UserId>,
    login_hint: Option<&str>,
    return_to: Option<String>,
) -> AppResult<Started> {
    let endpoint = config
        .authorization_url
        .as_deref()
        .ok_or_else(|| AppError::validation("authorization_url", "the configuration has no authorization endpoint"))?;
    let client_id = config.client_id.as_deref().unwrap_or_default();
    let state_token = random_token(32);
    let nonce = random_token(32);
    let verifier = random_token(48);
    let browser_nonce = random_token(32);
    let redirect = redirect_uri(state).await?;
    let authorize_url = oidc::authorize_url(
        endpoint,
        client_id,
        &redirect,
        &config.scopes,
        &state_token,
        &nonce,
        &oidc::pkce_challenge(&verifier),
        login_hint,
    )
    .map_err(|e| AppError::validation("authorization_url", format!("not a URL: {e}")))?;
    let expires_at = format_timestamp(Utc::now() + chrono::Duration::minutes(REQUEST_MINUTES));
    let sealed = state.keys.encrypt(verifier.as_bytes(), &verifier_context(config.organization_id, config.id));
    let (org_id, config_id, exp) = (config.organization_id, config.id, expires_at.clone());
    let (state_hash, browser_hash) = (sha256(state_token.as_bytes()), sha256(browser_nonce.as_bytes()));
    state
        .db
        .write(move |tx| {
            store::prune_auth_requests(tx)?;
            store::insert_auth_request(
                tx,
                &NewAuthRequest {
                    org_id,
                    config: config_id,
                    state_hash: &state_hash,
                    browser_hash: Some(&browser_hash),
                    nonce: &nonce,
                    verifier_sealed: &sealed,
                    purpose,
                    requested_by,
                    expires_at: &exp,
                    return_to: return_to.as_deref(),
                },
            )?;
            Ok(())
        })
        .await?;
    Ok(Started { authorize_url, browser_nonce, expires_at, cross_site_post: false })
}

/// Starts a SAML sign-in: an `AuthnRequest` whose id is kept (as the
/// request's `nonce`) to check `InResponseTo`; the `RelayState` is the
/// single-use state token, bound to the browser like OIDC's.
async fn start_saml_request(
    state: &AppState,
    config: &ConfigRow,
    purpose: &'static str,
    requested_by: Option<UserId>,
    return_to: Option<String>,
) -> AppResult<Started> {
    let relay = random_token(32);
    let browser_nonce = random_token(32);
    let public = crate::admin::instance::public_url_in_force(state).await?;
    let (request_id, authorize_url) = super::saml::start(state, &public, config, &relay)?;
    let expires_at = format_timestamp(Utc::now() + chrono::Duration::minutes(REQUEST_MINUTES));
    let (org_id, config_id, exp) = (config.organization_id, config.id, expires_at.clone());
    let (state_hash, browser_hash) = (sha256(relay.as_bytes()), sha256(browser_nonce.as_bytes()));
    state
        .db
        .write(move |tx| {
            store::prune_auth_requests(tx)?;
            store::insert_auth_request(
                tx,
                &NewAuthRequest {
                    org_id,
                    config: config_id,
                    state_hash: &state_hash,
                    browser_hash: Some(&browser_hash),
                    nonce: &request_id,
                    verifier_sealed: &[],
                    purpose,
                    requested_by,
                    expires_at: &exp,
                    return_to: return_to.as_deref(),
                },
            )?;
            Ok(())
        })
        .await?;
    Ok(Started { authorize_url, browser_nonce, expires_at, cross_site_post: true })
}

/// Starts an SSO sign-in for `email`: the enabled configuration of its verified domain.
/// `next` is where the browser lands afterwards: kept only when it is a relative path of
/// this site (`safe_relay_target`), else the browser lands on `/`.
pub async fn start_login(state: &AppState, raw_email: &str, next: Option<&str>) -> AppResult<Started> {
    let email = crate::accounts::service::normalize_email(raw_email)?;
    let return_to = next.and_then(super::saml::safe_relay_target);
    let domain = email_domain(&email).unwrap_or_default().to_owned();
    let found = state.db.read(move |c| Ok(store::config_for_domain(c, &domain)?)).await?;
    let Some((config, _)) = found else {
        return Err(AppError::new(ErrorCode::SsoNotConfigured, "this address does not sign in with SSO")
            .with_details(json!({ "field": "email" })));
    };
    match config.protocol() {
        SsoProtocol::Oidc => start_request(state, &config, "login", None, Some(&email), return_to).await,
        SsoProtocol::Saml => start_saml_request(state, &config, "login", None, return_to).await,
    }
}

/// Starts a test sign-in by an admin: signs nobody in, keeps the claims.
pub async fn start_test(
    state: &AppState,
    tenant: Tenant,
    id: SsoConfigurationId,
) -> AppResult<(SsoTestStart, Started)> {
    let user = tenant.user_id();
    let config = state.db.read(move |c| Ok(store::find_config(c, &tenant, id)?)).await?.ok_or_else(not_found)?;
    let started = match config.protocol() {
        SsoProtocol::Oidc => start_request(state, &config, "test", user, None, None).await?,
        SsoProtocol::Saml => start_saml_request(state, &config, "test", user, None).await?,
    };
    Ok((SsoTestStart { authorize_url: started.authorize_url.clone(), expires_at: started.expires_at.clone() }, started))
}

/// The claims of the last test sign-in.
pub async fn test_result(state: &AppState, tenant: Tenant, id: SsoConfigurationId) -> AppResult<SsoTestResult> {
    let row = state
        .db
        .read(move |c| {
            store::find_config(c, &tenant, id)?.ok_or_else(not_found)?;
            Ok(store::last_test(c, &tenant, id)?)
        })
        .await?;
    let Some((at, claims)) = row else {
        return Ok(SsoTestResult {
            created_at: String::new(),
            status: "none".to_owned(),
            reason: None,
            claims: Value::Null,
            mapped: Value::Null,
        });
    };
    let v: Value = serde_json::from_str(&claims).unwrap_or(Value::Null);
    Ok(SsoTestResult {
        created_at: at,
        status: v.get("status").and_then(Value::as_str).unwrap_or("failed").to_owned(),
        reason: v.get("reason").and_then(Value::as_str).map(str::to_owned),
        claims: v.get("claims").cloned().unwrap_or(Value::Null),
        mapped: v.get("mapped").cloned().unwrap_or(Value::Null),
    })
}

// ---- callback

/// What the callback did.
pub enum Outcome {
    SignedIn(UserId, crate::accounts::service::IssuedSession),
    Tested,
}

/// An accepted sign-in (OIDC callback or SAML ACS) and where the browser lands.
pub struct Landed {
    pub outcome: Outcome,
    /// A relative path of this site: the page the sign-in was started from, else `/`.
    pub target: String,
}

/// Where a sign-in request lands (its stored `return_to`, checked again), else `/`.
pub(super) fn landing(request: &store::AuthRequestRow) -> String {
    request.return_to.as_deref().and_then(super::saml::safe_relay_target).unwrap_or_else(|| "/".to_owned())
}

/// A refused callback: the reason (logged) and whether it was a test.
pub struct Failed {
    pub refusal: Refusal,
    pub test: bool,
}

/// Handles the `IdP`'s redirect. Every outcome is written to `sso_login_logs`.
pub async fn callback(
    state: &AppState,
    params: super::model::SsoCallbackParams,
    browser_nonce: Option<&str>,
    client: ClientInfo,
) -> Result<Landed, Failed> {
    let mut ctx = Attempt::default();
    match run_callback(state, params, browser_nonce, &client, &mut ctx).await {
        Ok(outcome) => Ok(outcome),
        Err(refusal) => Err(log_failure(state, &ctx, refusal, client).await),
    }
}

/// Writes a refused sign-in (OIDC or SAML) to `sso_login_logs` with its reason code.
pub(super) async fn log_failure(state: &AppState, ctx: &Attempt, refusal: Refusal, client: ClientInfo) -> Failed {
    let entry = (ctx.org_id, ctx.config, ctx.user, ctx.email.clone(), refusal.clone(), client);
    let logged = state
        .db
        .write(move |tx| {
            let (org_id, config, user, email, r, client) = entry;
            store::log_attempt(
                tx,
                &LogEntry {
                    org_id,
                    config,
                    user,
                    email: email.as_deref(),
                    status: "failed",
                    error: Some(format!("{}: {}", r.reason, r.message)),
                    client: &client,
                },
            )?;
            Ok(())
        })
        .await;
    if let Err(e) = logged {
        tracing::error!(error = %e, "cannot log an SSO sign-in failure");
    }
    Failed { refusal, test: ctx.test }
}

/// What is known about an attempt so far, for its log row.
#[derive(Default)]
pub(super) struct Attempt {
    pub(super) org_id: Option<i64>,
    pub(super) config: Option<SsoConfigurationId>,
    pub(super) email: Option<String>,
    pub(super) user: Option<UserId>,
    pub(super) test: bool,
}

pub(super) fn db_refusal(e: &AppError) -> Refusal {
    Refusal::new("internal", format!("server error: {e}"))
}

/// Uses up a stored sign-in request (OIDC state or SAML `RelayState`):
/// unused, unexpired, started in this browser, claimed exactly once.
/// `answer` names what came back ("callback", "response") in refusals.
pub(super) async fn claim_auth_request(
    state: &AppState,
    request: &store::AuthRequestRow,
    browser_nonce: Option<&str>,
    ctx: &mut Attempt,
    answer: &str,
) -> Result<(), Refusal> {
    let replayed =
        || Refusal::new("state_replayed", format!("this sign-in was already completed (a replayed {answer})"));
    ctx.test = request.purpose == "test";
    if request.used_at.is_some() {
        return Err(replayed());
    }
    if request.expires_at < crate::db::now() {
        return Err(Refusal::new("state_expired", "the sign-in took longer than 10 minutes"));
    }
    let bound = match (&request.browser_hash, browser_nonce) {
        (Some(expected), Some(nonce)) => crate::crypto::constant_time_eq(expected, &sha256(nonce.as_bytes())),
        (None, _) => true,
        (Some(_), None) => false,
    };
    if !bound {
        return Err(Refusal::new("state_wrong_browser", "the sign-in was started in another browser"));
    }
    let id = request.id;
    let consumed =
        state.db.write(move |tx| Ok(store::consume_auth_request(tx, id)?)).await.map_err(|e| db_refusal(&e))?;
    if consumed { Ok(()) } else { Err(replayed()) }
}

async fn run_callback(
    state: &AppState,
    params: super::model::SsoCallbackParams,
    browser_nonce: Option<&str>,
    client: &ClientInfo,
    ctx: &mut Attempt,
) -> Result<Landed, Refusal> {
    let raw_state =
        params.state.filter(|s| !s.is_empty()).ok_or_else(|| Refusal::new("state_missing", "the IdP sent no state"))?;
    let hash = sha256(raw_state.as_bytes());
    let request = state
        .db
        .read(move |c| Ok(store::find_auth_request(c, &hash)?))
        .await
        .map_err(|e| db_refusal(&e))?
        .ok_or_else(|| Refusal::new("state_invalid", "the state is not one this server issued"))?;
    ctx.org_id = Some(request.org_id);
    ctx.config = Some(request.config);
    claim_auth_request(state, &request, browser_nonce, ctx, "callback").await?;
    if let Some(error) = params.error {
        return Err(Refusal::new(
            "idp_error",
            format!("the IdP refused: {error} {}", params.error_description.unwrap_or_default()),
        ));
    }
    let code =
        params.code.filter(|c| !c.is_empty()).ok_or_else(|| Refusal::new("code_missing", "the IdP sent no code"))?;
    let config_id = request.config;
    let config = state
        .db
        .read(move |c| Ok(store::find_config_public(c, config_id)?))
        .await
        .map_err(|e| db_refusal(&e))?
        .filter(|c| c.organization_id == request.org_id)
        .ok_or_else(|| Refusal::new("configuration_missing", "the SSO configuration was deleted"))?;
    if !config.enabled && !ctx.test {
        return Err(Refusal::new("configuration_disabled", "the SSO configuration is disabled"));
    }
    let verifier = state
        .keys
        .decrypt(&request.verifier_sealed, &verifier_context(config.organization_id, config.id))
        .map_err(|_| Refusal::new("internal", "the PKCE verifier cannot be unsealed"))?;
    let verifier = String::from_utf8(verifier).map_err(|_| Refusal::new("internal", "bad PKCE verifier"))?;
    let result = exchange_and_validate(state, &config, &code, &verifier, &request.nonce).await;
    let target = landing(&request);
    if ctx.test {
        let outcome = finish_test(state, &config, request.id, result).await?;
        return Ok(Landed { outcome, target });
    }
    let (claims, refresh) = result?;
    let outcome = provision::sign_in(state, &config, &claims, refresh, client, ctx).await?;
    Ok(Landed { outcome, target })
}

impl Attempt {
    /// Notes the email and user of the attempt (for its log row).
    pub(super) fn note(&mut self, email: Option<String>, user: Option<UserId>) {
        if email.is_some() {
            self.email = email;
        }
        if user.is_some() {
            self.user = user;
        }
    }
}

/// Exchanges the code, validates the ID token and merges userinfo.
async fn exchange_and_validate(
    state: &AppState,
    config: &ConfigRow,
    code: &str,
    verifier: &str,
    nonce: &str,
) -> Result<(Map<String, Value>, Option<String>), Refusal> {
    let token_url =
        config.token_url.as_deref().ok_or_else(|| Refusal::new("configuration_incomplete", "no token endpoint"))?;
    let client_id = config.client_id.as_deref().unwrap_or_default();
    let secret = match &config.client_secret_sealed {
        Some(sealed) if !sealed.is_empty() => Some(
            state
                .keys
                .decrypt(sealed, &secret_context(config.organization_id, config.id))
                .ok()
                .and_then(|s| String::from_utf8(s).ok())
                .ok_or_else(|| Refusal::new("internal", "the client secret cannot be unsealed"))?,
        ),
        _ => None,
    };
    let redirect = redirect_uri(state).await.map_err(|e| db_refusal(&e))?;
    let tokens = oidc::token_request(
        &state.outbound,
        token_url,
        &oidc::Client { id: client_id, secret: secret.as_deref() },
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &redirect),
            ("code_verifier", verifier),
        ],
    )
    .await?;
    let id_token =
        tokens.id_token.ok_or_else(|| Refusal::new("id_token_missing", "the token endpoint sent no ID token"))?;
    let mut claims = validate(state, config, &id_token, Some(nonce)).await?;
    if let (Some(url), Some(access)) = (config.userinfo_url.as_deref(), tokens.access_token.as_deref()) {
        let sub = claims.get("sub").and_then(Value::as_str).unwrap_or_default().to_owned();
        let info = oidc::userinfo(&state.outbound, url, access, &sub).await?;
        for (k, v) in info {
            claims.entry(k).or_insert(v);
        }
    }
    Ok((claims, tokens.refresh_token))
}

/// Validates an ID token of `config`.
pub async fn validate(
    state: &AppState,
    config: &ConfigRow,
    id_token: &str,
    nonce: Option<&str>,
) -> Result<Map<String, Value>, Refusal> {
    let (alg, kid) = oidc::token_header(id_token)?;
    let jwks_url = config.jwks_url.as_deref().ok_or_else(|| Refusal::new("configuration_incomplete", "no JWKS URL"))?;
    let keys = state.sso.keys_for(&state.outbound, config.id.0, jwks_url, alg, kid.as_deref(), policy(state)).await?;
    let issuer = config.issuer_url.as_deref().unwrap_or_default();
    oidc::verify_id_token(
        id_token,
        alg,
        &keys,
        &Expected {
            issuer,
            client_id: config.client_id.as_deref().unwrap_or_default(),
            nonce,
            skew_secs: state.config.sso.clock_skew_secs,
        },
    )
}

pub(super) async fn finish_test(
    state: &AppState,
    config: &ConfigRow,
    request_id: i64,
    result: Result<(Map<String, Value>, Option<String>), Refusal>,
) -> Result<Outcome, Refusal> {
    let record = match &result {
        Ok((claims, _)) => {
            let mapped = provision::preview(&config.mapping(), claims, config.default_role.as_deref());
            json!({ "status": "success", "claims": claims, "mapped": mapped })
        }
        Err(r) => json!({ "status": "failed", "reason": r.reason, "claims": { "error": r.message } }),
    };
    let text = record.to_string();
    state.db.write(move |tx| Ok(store::set_test_claims(tx, request_id, &text)?)).await.map_err(|e| db_refusal(&e))?;
    result.map(|_| Outcome::Tested)
}

/// Refreshes a user's `IdP` session with the stored refresh token: a new ID
/// token (if sent) is validated without a nonce and the mapping re-applied.
/// Answers whether the `IdP` still accepts the account.
pub async fn refresh(state: &AppState, config: &ConfigRow, user: UserId) -> Result<(), Refusal> {
    let (org, id) = (config.organization_id, config.id);
    let sealed: Option<Vec<u8>> = state
        .db
        .read(move |c| {
            Ok(c.query_row(
                "SELECT refresh_token_encrypted FROM sso_user_mappings WHERE sso_configuration_id = ?1 AND user_id = ?2",
                rusqlite::params![id, user],
                |r| r.get(0),
            )
            .ok()
            .flatten())
        })
        .await
        .map_err(|e| db_refusal(&e))?;
    let token = sealed
        .and_then(|s| state.keys.decrypt(&s, &refresh_context(org, id)).ok())
        .and_then(|t| String::from_utf8(t).ok())
        .ok_or_else(|| Refusal::new("refresh_token_missing", "no refresh token is stored for this user"))?;
    let token_url =
        config.token_url.as_deref().ok_or_else(|| Refusal::new("configuration_incomplete", "no token endpoint"))?;
    let secret = config
        .client_secret_sealed
        .as_ref()
        .and_then(|s| state.keys.decrypt(s, &secret_context(org, id)).ok())
        .and_then(|s| String::from_utf8(s).ok());
    let tokens = oidc::token_request(
        &state.outbound,
        token_url,
        &oidc::Client { id: config.client_id.as_deref().unwrap_or_default(), secret: secret.as_deref() },
        &[("grant_type", "refresh_token"), ("refresh_token", &token)],
    )
    .await?;
    if let Some(id_token) = tokens.id_token {
        let claims = validate(state, config, &id_token, None).await?;
        let sealed = tokens.refresh_token.map(|t| state.keys.encrypt(t.as_bytes(), &refresh_context(org, id)));
        provision::reapply(state, config, user, &claims, sealed).await?;
    }
    Ok(())
}

/// The admin route over [`refresh`].
pub async fn refresh_user(
    state: &AppState,
    tenant: Tenant,
    id: SsoConfigurationId,
    user: UserId,
) -> AppResult<super::model::SsoRefreshResult> {
    let config = state.db.read(move |c| Ok(store::find_config(c, &tenant, id)?)).await?.ok_or_else(not_found)?;
    Ok(match refresh(state, &config, user).await {
        Ok(()) => super::model::SsoRefreshResult { active: true, reason: None, message: None },
        Err(r) => super::model::SsoRefreshResult {
            active: false,
            reason: Some(r.reason.to_owned()),
            message: Some(r.message),
        },
    })
}

/// Seals a refresh token for storage.
pub(super) fn seal_refresh(state: &AppState, config: &ConfigRow, token: &str) -> Vec<u8> {
    state.keys.encrypt(token.as_bytes(), &refresh_context(config.organization_id, config.id))
}

//! SSO types: configurations (OIDC now, SAML storable), domains, login log.

use rusqlite::Row;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::db::FromRow;

crate::id_type!(
    /// A row of `sso_configurations`.
    SsoConfigurationId
);
crate::id_type!(
    /// A row of `sso_domains`.
    SsoDomainId
);

/// Protocol of a configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SsoProtocol {
    Oidc,
    Saml,
}

impl SsoProtocol {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            SsoProtocol::Oidc => "oidc",
            SsoProtocol::Saml => "saml",
        }
    }
}

/// One group → role/teams rule: a user in `IdP` group `group` (the value of
/// the configuration's `groups_claim`) gets `role` (first matching rule
/// wins) and joins `teams`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SsoMappingRule {
    pub group: String,
    /// Built-in role name (`admin`, `editor`, `agent`, `viewer`) or a custom role of the organization.
    #[serde(default)]
    pub role: Option<String>,
    /// Team ids of the organization.
    #[serde(default)]
    pub teams: Vec<i64>,
}

/// Group/attribute mapping, re-applied on every sign-in.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SsoMapping {
    /// The claim holding the user's groups: `groups` (Okta, Entra ID, Keycloak with a mapper), `roles` (Entra app roles), …
    pub groups_claim: String,
    pub rules: Vec<SsoMappingRule>,
}

impl Default for SsoMapping {
    fn default() -> Self {
        SsoMapping { groups_claim: "groups".to_owned(), rules: Vec::new() }
    }
}

/// SAML `IdP` settings, stored for the SAML service provider.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SsoSamlSettings {
    pub idp_entity_id: Option<String>,
    pub idp_metadata_url: Option<String>,
    pub idp_metadata_xml: Option<String>,
    /// PEM certificates of the `IdP` (two during a rollover).
    pub idp_certificates: Vec<String>,
    pub idp_sso_url: Option<String>,
    /// `IdP`-initiated sign-in (off by default).
    pub allow_idp_initiated: bool,
    /// The attribute holding the email address (default: `email`, `mail`, the
    /// WS-Federation `emailaddress` claim, `urn:oid:0.9.2342.19200300.100.1.3`,
    /// else an address-shaped `NameID`).
    pub email_attribute: Option<String>,
    /// The attribute holding the display name (default: `name`, `displayName`,
    /// Entra's `displayname` claim, else given name + surname).
    pub name_attribute: Option<String>,
    /// The `IdP` encrypts assertions to our key: turning it on generates our key pair (when
    /// there is none) and publishes its certificate in our metadata; a plaintext assertion is
    /// then refused (`assertion_not_encrypted`).
    pub encrypt_assertions: bool,
}

/// What to give the SAML identity provider (our service provider values).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SsoSamlSpValues {
    /// Our entity id (the audience the assertions must name); it is also the metadata URL.
    pub entity_id: String,
    /// Assertion consumer service (HTTP-POST binding).
    pub acs_url: String,
    /// Our SP metadata (XML), for `IdPs` that import it.
    pub metadata_url: String,
}

/// Something an admin should look at (an expiring certificate, a failed refresh).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct SsoWarning {
    /// `certificate_expired`, `certificate_not_yet_valid`, `certificate_expires_soon`,
    /// `metadata_refresh_failed`, `discovery_refresh_failed`, `jwks_refresh_failed`.
    pub code: String,
    pub message: String,
    /// The field concerned (`saml.idp_certificates[1]`, `saml.idp_metadata_url`, `issuer_url`, …).
    pub field: Option<String>,
}

/// An SSO configuration as the API shows it (the client secret only as `client_secret_set`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[allow(clippy::struct_excessive_bools, reason = "independent switches of the configuration")]
pub struct SsoConfiguration {
    pub id: SsoConfigurationId,
    pub organization_id: i64,
    pub protocol: SsoProtocol,
    pub name: String,
    pub enabled: bool,
    /// Password sign-in and reset refused for users of this configuration's verified domains.
    pub enforced: bool,
    pub issuer_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret_set: bool,
    pub authorization_url: Option<String>,
    pub token_url: Option<String>,
    pub userinfo_url: Option<String>,
    pub jwks_url: Option<String>,
    pub scopes: String,
    pub auto_provision_users: bool,
    /// Role of new members when no rule matches (default `viewer`).
    pub default_role: String,
    pub mapping: SsoMapping,
    pub saml: Option<SsoSamlSettings>,
    /// Give this to the `IdP` as the redirect (callback) URI.
    pub redirect_uri: String,
    /// SAML: the values to give the `IdP`.
    pub saml_sp: Option<SsoSamlSpValues>,
    /// SAML: our encryption keys (certificates only; the private keys are never shown).
    pub saml_encryption_keys: Vec<crate::sso::saml_keys::SsoSamlEncryptionKey>,
    /// Certificate dates and background refresh problems; an expired certificate
    /// is accepted at upload and shown here.
    pub warnings: Vec<SsoWarning>,
    /// When the background job last re-read the `IdP` metadata / discovery document.
    pub refreshed_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// Row of `sso_configurations` with what the server needs internally.
#[derive(Debug, Clone)]
pub struct ConfigRow {
    pub id: SsoConfigurationId,
    pub organization_id: i64,
    pub provider_type: String,
    pub name: String,
    pub enabled: bool,
    pub enforced: bool,
    pub settings: Value,
    pub issuer_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret_sealed: Option<Vec<u8>>,
    pub authorization_url: Option<String>,
    pub token_url: Option<String>,
    pub userinfo_url: Option<String>,
    pub jwks_url: Option<String>,
    pub scopes: String,
    pub auto_provision_users: bool,
    pub default_role: Option<String>,
    pub metadata_url: Option<String>,
    pub entity_id: Option<String>,
    pub certificate: Option<String>,
    pub acs_url: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// Our SAML encryption key pairs, sealed (`crate::sso::saml_keys`).
    pub private_key_sealed: Option<Vec<u8>>,
}

pub const CONFIG_COLUMNS: &str = "c.id, c.organization_id, c.provider_type, c.name, c.is_enabled, c.is_enforced, c.settings,
    c.issuer_url, c.client_id, c.client_secret_encrypted, c.authorization_url, c.token_url, c.userinfo_url, c.jwks_url,
    c.scopes, c.auto_provision_users, (SELECT name FROM roles WHERE id = c.default_role_id), c.metadata_url, c.entity_id,
    c.certificate, c.acs_url, c.created_at, c.updated_at, c.private_key_encrypted";

impl FromRow for ConfigRow {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        let settings: String = r.get(6)?;
        Ok(ConfigRow {
            id: r.get(0)?,
            organization_id: r.get(1)?,
            provider_type: r.get(2)?,
            name: r.get(3)?,
            enabled: r.get(4)?,
            enforced: r.get(5)?,
            settings: serde_json::from_str(&settings).unwrap_or(Value::Null),
            issuer_url: r.get(7)?,
            client_id: r.get(8)?,
            client_secret_sealed: r.get(9)?,
            authorization_url: r.get(10)?,
            token_url: r.get(11)?,
            userinfo_url: r.get(12)?,
            jwks_url: r.get(13)?,
            scopes: r.get(14)?,
            auto_provision_users: r.get(15)?,
            default_role: r.get(16)?,
            metadata_url: r.get(17)?,
            entity_id: r.get(18)?,
            certificate: r.get(19)?,
            acs_url: r.get(20)?,
            created_at: r.get(21)?,
            updated_at: r.get(22)?,
            private_key_sealed: r.get(23)?,
        })
    }
}

impl ConfigRow {
    #[must_use]
    pub fn protocol(&self) -> SsoProtocol {
        if self.provider_type == "saml" { SsoProtocol::Saml } else { SsoProtocol::Oidc }
    }

    #[must_use]
    pub fn mapping(&self) -> SsoMapping {
        self.settings.get("mapping").and_then(|m| serde_json::from_value(m.clone()).ok()).unwrap_or_default()
    }

    #[must_use]
    pub fn saml(&self) -> Option<SsoSamlSettings> {
        if self.protocol() != SsoProtocol::Saml {
            return None;
        }
        Some(SsoSamlSettings {
            idp_entity_id: self.entity_id.clone(),
            idp_metadata_url: self.metadata_url.clone(),
            idp_metadata_xml: self
                .settings
                .pointer("/saml/idp_metadata_xml")
                .and_then(Value::as_str)
                .map(str::to_owned),
            idp_certificates: self
                .certificate
                .as_deref()
                .and_then(|c| serde_json::from_str(c).ok())
                .unwrap_or_default(),
            idp_sso_url: self.acs_url.clone(),
            allow_idp_initiated: self
                .settings
                .pointer("/saml/allow_idp_initiated")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            email_attribute: self.settings.pointer("/saml/email_attribute").and_then(Value::as_str).map(str::to_owned),
            name_attribute: self.settings.pointer("/saml/name_attribute").and_then(Value::as_str).map(str::to_owned),
            encrypt_assertions: self
                .settings
                .pointer("/saml/encrypt_assertions")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        })
    }

    /// The last background refresh record (`settings.refresh`).
    #[must_use]
    pub fn refresh_record(&self) -> Option<Value> {
        self.settings.get("refresh").filter(|v| v.is_object()).cloned()
    }

    /// The API view (`public_url`: the instance's public base URL; `keys` unseal our SAML
    /// encryption keys to show their certificates).
    #[must_use]
    pub fn view(&self, redirect_uri: String, public_url: &str, keys: &crate::crypto::Keys) -> SsoConfiguration {
        let refresh = self.refresh_record();
        SsoConfiguration {
            id: self.id,
            organization_id: self.organization_id,
            protocol: self.protocol(),
            name: self.name.clone(),
            enabled: self.enabled,
            enforced: self.enforced,
            issuer_url: self.issuer_url.clone(),
            client_id: self.client_id.clone(),
            client_secret_set: self.client_secret_sealed.as_ref().is_some_and(|s| !s.is_empty()),
            authorization_url: self.authorization_url.clone(),
            token_url: self.token_url.clone(),
            userinfo_url: self.userinfo_url.clone(),
            jwks_url: self.jwks_url.clone(),
            scopes: self.scopes.clone(),
            auto_provision_users: self.auto_provision_users,
            default_role: self.default_role.clone().unwrap_or_else(|| "viewer".to_owned()),
            mapping: self.mapping(),
            saml: self.saml(),
            redirect_uri,
            saml_sp: (self.protocol() == SsoProtocol::Saml).then(|| crate::sso::saml::sp_values(public_url, self.id)),
            saml_encryption_keys: crate::sso::saml_keys::views(keys, self),
            warnings: crate::sso::saml::warnings(self, chrono::Utc::now()),
            refreshed_at: refresh.as_ref().and_then(|r| r.get("at")).and_then(Value::as_str).map(str::to_owned),
            created_at: self.created_at.clone(),
            updated_at: self.updated_at.clone(),
        }
    }
}

/// Creates a configuration. For `oidc`, `issuer_url` is enough: the
/// endpoints are read from its discovery document (given endpoints win).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSsoConfigurationRequest {
    pub protocol: SsoProtocol,
    pub name: String,
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub enforced: bool,
    pub issuer_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub authorization_url: Option<String>,
    pub token_url: Option<String>,
    pub userinfo_url: Option<String>,
    pub jwks_url: Option<String>,
    pub scopes: Option<String>,
    #[serde(default = "default_true")]
    pub auto_provision_users: bool,
    pub default_role: Option<String>,
    pub mapping: Option<SsoMapping>,
    pub saml: Option<SsoSamlSettings>,
}

fn default_true() -> bool {
    true
}

/// Changes a configuration; absent fields stay, `client_secret: null` removes the secret.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSsoConfigurationRequest {
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub enforced: Option<bool>,
    pub issuer_url: Option<String>,
    pub client_id: Option<String>,
    #[serde(default, deserialize_with = "crate::sso::model::double_option")]
    #[schema(value_type = Option<String>)]
    pub client_secret: Option<Option<String>>,
    pub authorization_url: Option<String>,
    pub token_url: Option<String>,
    pub userinfo_url: Option<String>,
    pub jwks_url: Option<String>,
    pub scopes: Option<String>,
    pub auto_provision_users: Option<bool>,
    pub default_role: Option<String>,
    pub mapping: Option<SsoMapping>,
    pub saml: Option<SsoSamlSettings>,
    /// Re-read the endpoints from the issuer's discovery document.
    #[serde(default)]
    pub rediscover: bool,
}

/// Deserializes a present `null` as `Some(None)`.
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// An SSO domain with what to publish to verify it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SsoDomain {
    pub id: SsoDomainId,
    pub sso_configuration_id: SsoConfigurationId,
    pub domain: String,
    pub verified: bool,
    pub verification_method: Option<String>,
    pub verified_at: Option<String>,
    /// DNS: a TXT record named `dns_record_name` with the value `dns_record_value`.
    pub dns_record_name: String,
    pub dns_record_value: String,
    /// HTTP (air-gapped installs): a file at `http_url` whose content is `dns_record_value`.
    pub http_url: String,
    pub created_at: String,
}

/// A row of `sso_domains`.
#[derive(Debug, Clone)]
pub struct DomainRow {
    pub id: SsoDomainId,
    pub organization_id: i64,
    pub sso_configuration_id: SsoConfigurationId,
    pub domain: String,
    pub verified: bool,
    pub token: String,
    pub method: Option<String>,
    pub verified_at: Option<String>,
    pub created_at: String,
}

pub const DOMAIN_COLUMNS: &str = "id, organization_id, sso_configuration_id, domain, is_verified, verification_token,
    verification_method, verified_at, created_at";

impl FromRow for DomainRow {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(DomainRow {
            id: r.get(0)?,
            organization_id: r.get(1)?,
            sso_configuration_id: r.get(2)?,
            domain: r.get(3)?,
            verified: r.get(4)?,
            token: r.get(5)?,
            method: r.get(6)?,
            verified_at: r.get(7)?,
            created_at: r.get(8)?,
        })
    }
}

/// The DNS name of a domain's verification TXT record.
#[must_use]
pub fn dns_record_name(domain: &str) -> String {
    format!("_botbuilder-verification.{domain}")
}

/// The value to publish (TXT record, or the well-known file's content).
#[must_use]
pub fn verification_value(token: &str) -> String {
    format!("botbuilder-verification={token}")
}

impl DomainRow {
    #[must_use]
    pub fn view(&self, http_template: &str) -> SsoDomain {
        SsoDomain {
            id: self.id,
            sso_configuration_id: self.sso_configuration_id,
            domain: self.domain.clone(),
            verified: self.verified,
            verification_method: self.method.clone(),
            verified_at: self.verified_at.clone(),
            dns_record_name: dns_record_name(&self.domain),
            dns_record_value: verification_value(&self.token),
            http_url: http_template.replace("{domain}", &self.domain),
            created_at: self.created_at.clone(),
        }
    }
}

/// Claims a domain for a configuration.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSsoDomainRequest {
    pub domain: String,
    pub sso_configuration_id: SsoConfigurationId,
}

/// How to verify a domain.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SsoVerifyMethod {
    Dns,
    Http,
}

/// Checks the published proof.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifySsoDomainRequest {
    pub method: SsoVerifyMethod,
}

/// One sign-in attempt.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SsoLoginLog {
    pub id: i64,
    pub sso_configuration_id: Option<i64>,
    pub user_id: Option<i64>,
    pub email: Option<String>,
    /// `success`, `failed` or `pending`.
    pub status: String,
    /// Reason code of a failure (`id_token_expired`, `nonce_mismatch`, `state_replayed`, …).
    pub reason: Option<String>,
    pub message: Option<String>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: String,
}

impl FromRow for SsoLoginLog {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        let error: Option<String> = r.get(5)?;
        let (reason, message) = match error.as_deref().and_then(|e| e.split_once(": ")) {
            Some((reason, message)) => (Some(reason.to_owned()), Some(message.to_owned())),
            None => (error.clone(), None),
        };
        Ok(SsoLoginLog {
            id: r.get(0)?,
            sso_configuration_id: r.get(1)?,
            user_id: r.get(2)?,
            email: r.get(3)?,
            status: r.get(4)?,
            reason,
            message,
            ip_address: r.get(6)?,
            user_agent: r.get(7)?,
            created_at: r.get(8)?,
        })
    }
}

/// Whether an email's domain routes to SSO.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SsoCheck {
    pub sso: bool,
    pub enforced: bool,
    /// Where the browser goes to sign in (`GET`, redirects to the `IdP`).
    pub login_url: Option<String>,
    pub organization_name: Option<String>,
}

/// `?email=`
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
pub struct SsoEmailQuery {
    pub email: String,
}

/// `?email=&next=`: where the browser lands after signing in (a relative path of this
/// site; anything else lands on `/`).
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
pub struct SsoLoginQuery {
    pub email: String,
    pub next: Option<String>,
}

/// The `IdP`'s redirect back.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
pub struct SsoCallbackParams {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// A started test sign-in.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SsoTestStart {
    /// Open this in the browser.
    pub authorize_url: String,
    pub expires_at: String,
}

/// The claims of the last test sign-in.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SsoTestResult {
    pub created_at: String,
    /// `success`, `failed`, or `none` when no test sign-in has come back yet.
    pub status: String,
    pub reason: Option<String>,
    /// ID token claims merged with userinfo.
    #[schema(value_type = Object)]
    pub claims: Value,
    /// What the mapping would do: role and teams.
    #[schema(value_type = Object)]
    pub mapped: Value,
}

/// What re-checking a user with the `IdP` (refresh-token grant) found.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SsoRefreshResult {
    /// The `IdP` still accepts the account (its new ID token was valid; the mapping was re-applied).
    pub active: bool,
    /// Why not (`refresh_token_missing`, `token_exchange_failed`, `id_token_*`, …).
    pub reason: Option<String>,
    pub message: Option<String>,
}

//! Our SAML encryption keys, per SAML connection: the `IdP` encrypts assertions to the
//! certificate our SP metadata publishes, and the ACS decrypts with the private key.
//!
//! Per connection, not per server: each connection already has its own entity id and
//! metadata, so each organization rolls its key over on its own schedule, and a key
//! (sealed with the configuration's organization and id as context) opens nothing else.
//!
//! The key pairs of a connection are kept together, sealed as one JSON list in
//! `sso_configurations.private_key_encrypted` (the origin's column for the SAML private
//! key; `--rekey` clears it). A key is `current` or `next` (both published in the metadata,
//! both decrypt), or `previous` (after a promotion: no longer published, still decrypts
//! what the `IdP` encrypted before it re-read our metadata) until the admin retires it.
//! Private keys never leave: the API shows certificates only.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::model::{ConfigRow, SsoConfigurationId, SsoProtocol};
use super::store;
use crate::app::AppState;
use crate::crypto::{Keys, random_token, sha256_hex};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::Tenant;
use crate::orgs::audit::{self, AuditEntry};
use crate::saml::{IdpCertificate, SpKey};

/// Where a key stands in a rollover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SpKeyStatus {
    /// Published; the key the `IdP` should use.
    Current,
    /// Published beside the current one ahead of a rollover; decrypts too.
    Next,
    /// Replaced by a promotion: not published, still decrypts until retired.
    Previous,
}

/// One of our SAML encryption keys as the API shows it (never the private key).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SsoSamlEncryptionKey {
    pub id: String,
    pub status: SpKeyStatus,
    /// Published in our SP metadata (`use="encryption"`): the current and the next key.
    pub published: bool,
    /// The certificate to give the `IdP` (PEM).
    pub certificate_pem: String,
    pub subject: String,
    pub not_before: String,
    pub not_after: String,
    /// SHA-256 of the certificate (DER), hex: what `IdP` consoles show.
    pub sha256_fingerprint: String,
    pub created_at: String,
}

/// A stored key pair (inside the sealed list).
#[derive(Serialize, Deserialize)]
struct StoredKey {
    id: String,
    status: SpKeyStatus,
    private_key_pem: String,
    certificate_pem: String,
    created_at: String,
}

fn seal_context(org: i64, id: SsoConfigurationId) -> String {
    format!("sso_configurations.private_key_encrypted:{org}:{}", id.0)
}

fn unseal(keys: &Keys, row: &ConfigRow) -> Vec<StoredKey> {
    let Some(sealed) = row.private_key_sealed.as_deref().filter(|s| !s.is_empty()) else { return Vec::new() };
    let opened = keys
        .decrypt(sealed, &seal_context(row.organization_id, row.id))
        .ok()
        .and_then(|plain| serde_json::from_slice::<Vec<StoredKey>>(&plain).ok());
    if opened.is_none() {
        tracing::error!(sso_configuration_id = row.id.0, "the SAML encryption keys cannot be unsealed");
    }
    opened.unwrap_or_default()
}

fn seal(keys: &Keys, org: i64, id: SsoConfigurationId, list: &[StoredKey]) -> Option<Vec<u8>> {
    if list.is_empty() {
        return None;
    }
    let plain = rsa::pkcs8::der::zeroize::Zeroizing::new(serde_json::to_vec(list).unwrap_or_default());
    Some(keys.encrypt(&plain, &seal_context(org, id)))
}

fn parsed(stored: &StoredKey) -> Option<SpKey> {
    SpKey::from_pem(&stored.private_key_pem, &stored.certificate_pem).ok()
}

/// Every key that may decrypt an assertion for `row` (current, next, previous).
#[must_use]
pub fn decryption_keys(keys: &Keys, row: &ConfigRow) -> Vec<SpKey> {
    unseal(keys, row).iter().filter_map(parsed).collect()
}

/// The certificates our metadata publishes for `row`: the current key, then the next one.
#[must_use]
pub fn published_certificates(keys: &Keys, row: &ConfigRow) -> Vec<IdpCertificate> {
    let mut list = unseal(keys, row);
    list.retain(|k| k.status != SpKeyStatus::Previous);
    list.sort_by_key(|k| k.status != SpKeyStatus::Current);
    list.iter().filter_map(|k| crate::saml::parse_certificate(&k.certificate_pem).ok()).collect()
}

/// The API view of `row`'s keys (current, next, previous).
#[must_use]
pub fn views(keys: &Keys, row: &ConfigRow) -> Vec<SsoSamlEncryptionKey> {
    let mut list = unseal(keys, row);
    list.sort_by_key(|k| k.status as u8);
    list.iter()
        .filter_map(|k| {
            let cert = crate::saml::parse_certificate(&k.certificate_pem).ok()?;
            Some(SsoSamlEncryptionKey {
                id: k.id.clone(),
                status: k.status,
                published: k.status != SpKeyStatus::Previous,
                certificate_pem: cert.to_pem(),
                subject: cert.subject.clone(),
                not_before: crate::db::format_timestamp(cert.not_before),
                not_after: crate::db::format_timestamp(cert.not_after),
                sha256_fingerprint: sha256_hex(&cert.der),
                created_at: k.created_at.clone(),
            })
        })
        .collect()
}

/// Whether `row` has a current key.
#[must_use]
pub fn has_current(keys: &Keys, row: &ConfigRow) -> bool {
    unseal(keys, row).iter().any(|k| k.status == SpKeyStatus::Current)
}

/// A generated key ready to store (its status is decided when it is stored).
pub struct NewKey(StoredKey);

impl NewKey {
    /// A new key pair whose certificate is named after this instance. RSA key generation
    /// takes a moment: it runs off the async threads.
    pub async fn generate(state: &AppState) -> AppResult<NewKey> {
        let public = crate::admin::instance::public_url_in_force(state).await?;
        let host = url::Url::parse(&public).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default();
        let name = format!("{host} SAML encryption").trim().to_owned();
        let key = tokio::task::spawn_blocking(move || SpKey::generate(&name, Utc::now()))
            .await
            .map_err(AppError::internal)?
            .map_err(AppError::internal)?;
        let private_key_pem = key.private_key_pem().map_err(AppError::internal)?.to_string();
        Ok(NewKey(StoredKey {
            id: random_token(9),
            status: SpKeyStatus::Next,
            private_key_pem,
            certificate_pem: key.certificate_pem(),
            created_at: crate::db::format_timestamp(Utc::now()),
        }))
    }
}

fn conflict(message: &str) -> AppError {
    AppError::new(ErrorCode::Conflict, message.to_owned())
}

/// Adds `new` to the keys of configuration `id` (inside a write transaction) as the current
/// key when there is none, else as the next key; a second next key is a conflict.
pub fn store_new_key(
    tx: &rusqlite::Connection,
    keys: &Keys,
    tenant: &Tenant,
    id: SsoConfigurationId,
    new: NewKey,
) -> AppResult<SpKeyStatus> {
    let row = store::find_config(tx, tenant, id)?.ok_or_else(super::service::not_found)?;
    let mut list = unseal(keys, &row);
    let mut key = new.0;
    key.status = if list.iter().any(|k| k.status == SpKeyStatus::Current) {
        if list.iter().any(|k| k.status == SpKeyStatus::Next) {
            return Err(conflict("a next key already exists: promote it or retire it first"));
        }
        SpKeyStatus::Next
    } else {
        SpKeyStatus::Current
    };
    let status = key.status;
    list.push(key);
    store::set_private_key(tx, tenant, id, seal(keys, tenant.org_id().0, id, &list).as_deref())?;
    Ok(status)
}

async fn saml_row(state: &AppState, tenant: &Tenant, id: SsoConfigurationId) -> AppResult<ConfigRow> {
    let t = tenant.clone();
    let row =
        state.db.read(move |c| Ok(store::find_config(c, &t, id)?)).await?.ok_or_else(super::service::not_found)?;
    if row.protocol() != SsoProtocol::Saml {
        return Err(AppError::validation("protocol", "encryption keys belong to SAML configurations"));
    }
    Ok(row)
}

/// Generates a key: the current one when there is none, else the next one (published at
/// once beside the current one, so the `IdP` can learn it before the switch).
pub async fn add(state: &AppState, tenant: Tenant, id: SsoConfigurationId) -> AppResult<Vec<SsoSamlEncryptionKey>> {
    saml_row(state, &tenant, id).await?;
    let new = NewKey::generate(state).await?;
    let keys = state.keys.clone();
    let row = state
        .db
        .write(move |tx| {
            let status = store_new_key(tx, &keys, &tenant, id, new)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "sso.saml_key.created", "sso_configuration", id.0)
                    .with_metadata(json!({ "status": status })),
            )?;
            store::find_config(tx, &tenant, id)?.ok_or_else(super::service::not_found)
        })
        .await?;
    Ok(views(&state.keys, &row))
}

/// Rewrites the key list of `id` through `change` (inside one write transaction).
async fn rewrite(
    state: &AppState,
    tenant: Tenant,
    id: SsoConfigurationId,
    action: &'static str,
    change: impl FnOnce(&ConfigRow, &mut Vec<StoredKey>) -> AppResult<serde_json::Value> + Send + 'static,
) -> AppResult<Vec<SsoSamlEncryptionKey>> {
    saml_row(state, &tenant, id).await?;
    let keys = state.keys.clone();
    let row = state
        .db
        .write(move |tx| {
            let row = store::find_config(tx, &tenant, id)?.ok_or_else(super::service::not_found)?;
            let mut list = unseal(&keys, &row);
            let metadata = change(&row, &mut list)?;
            store::set_private_key(tx, &tenant, id, seal(&keys, tenant.org_id().0, id, &list).as_deref())?;
            audit::record(tx, &AuditEntry::by(&tenant, action, "sso_configuration", id.0).with_metadata(metadata))?;
            store::find_config(tx, &tenant, id)?.ok_or_else(super::service::not_found)
        })
        .await?;
    Ok(views(&state.keys, &row))
}

/// The next key becomes the current one; the current one becomes the previous one (still
/// decrypting, no longer published) until it is retired.
pub async fn promote(state: &AppState, tenant: Tenant, id: SsoConfigurationId) -> AppResult<Vec<SsoSamlEncryptionKey>> {
    rewrite(state, tenant, id, "sso.saml_key.promoted", |_, list| {
        if !list.iter().any(|k| k.status == SpKeyStatus::Next) {
            return Err(conflict("there is no next key to promote: generate one first"));
        }
        if list.iter().any(|k| k.status == SpKeyStatus::Previous) {
            return Err(conflict("retire the previous key before the next rollover"));
        }
        let mut promoted = String::new();
        for k in &mut *list {
            k.status = match k.status {
                SpKeyStatus::Next => {
                    promoted.clone_from(&k.id);
                    SpKeyStatus::Current
                }
                SpKeyStatus::Current | SpKeyStatus::Previous => SpKeyStatus::Previous,
            };
        }
        Ok(json!({ "key_id": promoted }))
    })
    .await
}

/// Retires (deletes) a key: it no longer decrypts. The current key cannot be retired
/// while the connection requires encrypted assertions.
pub async fn retire(
    state: &AppState,
    tenant: Tenant,
    id: SsoConfigurationId,
    key_id: String,
) -> AppResult<Vec<SsoSamlEncryptionKey>> {
    rewrite(state, tenant, id, "sso.saml_key.retired", move |row, list| {
        let Some(pos) = list.iter().position(|k| k.id == key_id) else {
            return Err(AppError::new(ErrorCode::NotFound, "no such encryption key").with_details(json!({ "field": "key_id" })));
        };
        let required = row.saml().is_some_and(|s| s.encrypt_assertions);
        if list[pos].status == SpKeyStatus::Current && required {
            return Err(conflict(
                "the current key cannot be retired while assertions must be encrypted: promote a next key, or turn encryption off",
            ));
        }
        let removed = list.remove(pos);
        Ok(json!({ "key_id": removed.id, "status": removed.status }))
    })
    .await
}

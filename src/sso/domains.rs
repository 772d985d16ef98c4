//! SSO domains: an organization claims an email domain for one of its
//! configurations and proves it owns it — a DNS TXT record, an HTTP
//! well-known file (air-gapped installs) or a superadmin's approval. A
//! domain is claimed by one organization at most (instance-wide unique);
//! a verified domain routes sign-in and, when its configuration enforces
//! SSO, refuses password sign-in and reset.

use reqwest::Method;
use serde_json::json;

use super::dns;
use super::model::{
    CreateSsoDomainRequest, DomainRow, SsoDomain, SsoDomainId, SsoVerifyMethod, dns_record_name, verification_value,
};
use super::store;
use crate::app::AppState;
use crate::crypto::random_token;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::Tenant;
use crate::orgs::audit::{self, AuditEntry};

fn not_found() -> AppError {
    AppError::new(ErrorCode::SsoDomainNotFound, "no such SSO domain")
}

fn template(state: &AppState) -> String {
    state.config.sso.http_verification_url.clone()
}

/// A domain as typed: lower-case, no trailing dot, a hostname with a dot.
pub fn normalize_domain(raw: &str) -> AppResult<String> {
    let d = raw.trim().trim_end_matches('.').to_lowercase();
    let d = d.strip_prefix('@').unwrap_or(&d).to_owned();
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if d.len() > 253 || !d.contains('.') || !d.split('.').all(label_ok) {
        return Err(AppError::validation(
            "domain",
            "must be a domain name like example.com (IDN domains in their xn-- form)",
        ));
    }
    Ok(d)
}

/// Claims a domain; `sso_domain_taken` when any organization has it.
pub async fn create(state: &AppState, tenant: Tenant, req: CreateSsoDomainRequest) -> AppResult<SsoDomain> {
    let CreateSsoDomainRequest { domain, sso_configuration_id: config } = req;
    let domain = normalize_domain(&domain)?;
    let token = random_token(24);
    let row = state
        .db
        .write(move |tx| {
            if store::find_config(tx, &tenant, config)?.is_none() {
                return Err(AppError::new(ErrorCode::SsoConfigurationNotFound, "no such SSO configuration")
                    .with_details(json!({ "field": "sso_configuration_id" })));
            }
            let Some(id) = store::insert_domain(tx, &tenant, config, &domain, &token)? else {
                return Err(AppError::new(ErrorCode::SsoDomainTaken, format!("`{domain}` is already claimed"))
                    .with_details(json!({ "field": "domain" })));
            };
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "sso.domain.added", "sso_domain", id.0)
                    .with_metadata(json!({ "domain": domain })),
            )?;
            store::find_domain(tx, &tenant, id)?.ok_or_else(not_found)
        })
        .await?;
    Ok(row.view(&template(state)))
}

/// Lists the organization's domains with their verification instructions.
pub async fn list(state: &AppState, tenant: Tenant) -> AppResult<Vec<SsoDomain>> {
    let rows = state.db.read(move |c| Ok(store::list_domains(c, &tenant)?)).await?;
    let t = template(state);
    Ok(rows.iter().map(|r| r.view(&t)).collect())
}

/// Releases a domain.
pub async fn delete(state: &AppState, tenant: Tenant, id: SsoDomainId) -> AppResult<()> {
    state
        .db
        .write(move |tx| {
            let row = store::find_domain(tx, &tenant, id)?.ok_or_else(not_found)?;
            store::delete_domain(tx, &tenant, id)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "sso.domain.removed", "sso_domain", id.0)
                    .with_metadata(json!({ "domain": row.domain })),
            )
        })
        .await
}

fn failed(method: &str, reason: &str) -> AppError {
    AppError::new(ErrorCode::SsoDomainVerificationFailed, format!("the domain could not be verified: {reason}"))
        .with_details(json!({ "field": "method", "method": method, "reason": reason }))
}

async fn check_dns(state: &AppState, row: &DomainRow) -> AppResult<()> {
    let resolver = dns::resolver(&state.config.sso.dns_resolver).map_err(|e| failed("dns", &e))?;
    let name = dns_record_name(&row.domain);
    let records = dns::txt_records(resolver, &name).await.map_err(|e| failed("dns", &e))?;
    let want = verification_value(&row.token);
    if records.iter().any(|r| r.trim() == want) {
        return Ok(());
    }
    Err(failed("dns", &format!("no TXT record `{want}` at {name} (found {} TXT record(s))", records.len())))
}

async fn check_http(state: &AppState, row: &DomainRow) -> AppResult<()> {
    let url = template(state).replace("{domain}", &row.domain);
    let request = state.outbound.request(Method::GET, &url).map_err(|e| failed("http", &format!("{url}: {e}")))?;
    let fetched =
        state.outbound.send_limited(request, Some(4096)).await.map_err(|e| failed("http", &format!("{url}: {e}")))?;
    if !fetched.status.is_success() {
        return Err(failed("http", &format!("{url} answered HTTP {}", fetched.status.as_u16())));
    }
    let body = String::from_utf8_lossy(&fetched.body);
    let want = verification_value(&row.token);
    if body.lines().any(|l| l.trim() == want) {
        return Ok(());
    }
    Err(failed("http", &format!("{url} does not contain `{want}`")))
}

/// Checks the published proof and marks the domain verified.
pub async fn verify(
    state: &AppState,
    tenant: Tenant,
    id: SsoDomainId,
    method: SsoVerifyMethod,
) -> AppResult<SsoDomain> {
    let t = tenant.clone();
    let row = state.db.read(move |c| Ok(store::find_domain(c, &t, id)?)).await?.ok_or_else(not_found)?;
    let name = match method {
        SsoVerifyMethod::Dns => {
            check_dns(state, &row).await?;
            "dns"
        }
        SsoVerifyMethod::Http => {
            check_http(state, &row).await?;
            "http"
        }
    };
    let row = state
        .db
        .write(move |tx| {
            store::mark_verified(tx, id, name)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "sso.domain.verified", "sso_domain", id.0)
                    .with_metadata(json!({ "domain": row.domain, "method": name })),
            )?;
            store::find_domain(tx, &tenant, id)?.ok_or_else(not_found)
        })
        .await?;
    Ok(row.view(&template(state)))
}

/// A superadmin approves a domain by hand (installs without DNS or HTTP reach).
pub async fn approve(state: &AppState, admin: &crate::admin::Admin, id: SsoDomainId) -> AppResult<SsoDomain> {
    let admin_id = admin.user_id;
    let row = state
        .db
        .write(move |tx| {
            let row = store::find_domain_any(tx, id)?.ok_or_else(not_found)?;
            store::mark_verified(tx, id, "manual")?;
            audit::record(
                tx,
                &AuditEntry::by_user(admin_id, "sso.domain.approved", "sso_domain", id.0)
                    .with_metadata(json!({ "domain": row.domain, "organization_id": row.organization_id })),
            )?;
            store::find_domain_any(tx, id)?.ok_or_else(not_found)
        })
        .await?;
    Ok(row.view(&template(state)))
}

#[cfg(test)]
mod tests {
    use super::normalize_domain;

    #[test]
    fn domains_are_normalized_or_refused() {
        assert_eq!(normalize_domain(" @Example.COM. ").ok().as_deref(), Some("example.com"));
        for bad in ["localhost", "a..b", "-a.com", "a_b.com", "exa mple.com", ""] {
            assert!(normalize_domain(bad).is_err(), "{bad}");
        }
    }
}

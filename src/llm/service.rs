//! LLM provider rules, and resolving a provider for a call (the key
//! decrypted only here, in memory, for the request).

use std::time::{Duration, Instant};

use serde_json::json;

use super::call::{Chain, Target};
use super::client::{self, ApiFormat, ChatOptions, LlmError, Message, ProviderConfig};
use super::model::{
    CreateLlmProviderRequest, LlmProvider, LlmProviderId, ProviderTestResult, UpdateLlmProviderRequest,
};
use super::store::{self, ProviderFields};
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::{Page, PageParams, Tenant};
use crate::orgs::audit::{self, AuditEntry};

fn not_found() -> AppError {
    AppError::new(ErrorCode::LlmProviderNotFound, "no such LLM provider")
}

pub(crate) fn key_context(id: LlmProviderId) -> String {
    format!("llm_providers.api_key_encrypted:{}", id.0)
}

struct Checked {
    name: String,
    base_url: String,
    default_model: String,
    timeout_ms: i64,
    max_retries: i64,
}

fn check(
    state: &AppState,
    name: &str,
    base_url: &str,
    model: &str,
    timeout_ms: i64,
    max_retries: i64,
) -> AppResult<Checked> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::validation("name", "must be 1–100 characters"));
    }
    crate::names::reject_invisible("name", name)?;
    let url = state.outbound.check(base_url.trim()).map_err(|e| match e {
        crate::outbound::OutboundError::Forbidden(_) | crate::outbound::OutboundError::Scheme => {
            AppError::new(ErrorCode::UrlNotAllowed, e.to_string()).with_details(json!({ "field": "base_url" }))
        }
        _ => AppError::validation("base_url", e.to_string()),
    })?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(AppError::validation("base_url", "must not have a query or fragment"));
    }
    let model = model.trim();
    if model.is_empty() || model.len() > 200 {
        return Err(AppError::validation("default_model", "must be 1–200 characters"));
    }
    if !(100..=600_000).contains(&timeout_ms) {
        return Err(AppError::validation("timeout_ms", "must be between 100 and 600000"));
    }
    if !(0..=10).contains(&max_retries) {
        return Err(AppError::validation("max_retries", "must be between 0 and 10"));
    }
    Ok(Checked {
        name: name.to_owned(),
        base_url: url.as_str().trim_end_matches('/').to_owned(),
        default_model: model.to_owned(),
        timeout_ms,
        max_retries,
    })
}

/// Checks the fallback (another provider of the organization) and the prices.
fn check_extras(
    conn: &rusqlite::Connection,
    tenant: &Tenant,
    id: Option<LlmProviderId>,
    fallback: Option<LlmProviderId>,
    input_price: i64,
    output_price: i64,
) -> AppResult<()> {
    if input_price < 0 {
        return Err(AppError::validation("input_price_micros", "must be 0 or more"));
    }
    if output_price < 0 {
        return Err(AppError::validation("output_price_micros", "must be 0 or more"));
    }
    if let Some(f) = fallback {
        if Some(f) == id {
            return Err(AppError::validation("fallback_provider_id", "a provider cannot be its own fallback"));
        }
        if store::find(conn, tenant, f)?.is_none() {
            return Err(AppError::validation("fallback_provider_id", "is not an LLM provider of this organization"));
        }
    }
    Ok(())
}

/// The stored wire format of an API `kind`.
fn check_kind(kind: &str) -> AppResult<ApiFormat> {
    ApiFormat::from_kind(kind).ok_or_else(|| AppError::validation("kind", "must be `openai_compatible` or `anthropic`"))
}

fn check_key(key: Option<&str>) -> AppResult<Option<String>> {
    match key.map(str::trim) {
        None | Some("") => Ok(None),
        Some(k) if k.len() > 4096 || k.chars().any(char::is_control) => {
            Err(AppError::validation("api_key", "must be at most 4096 printable characters"))
        }
        Some(k) => Ok(Some(k.to_owned())),
    }
}

pub async fn create(state: &AppState, tenant: Tenant, req: CreateLlmProviderRequest) -> AppResult<LlmProvider> {
    let c = check(
        state,
        &req.name,
        &req.base_url,
        &req.default_model,
        req.timeout_ms.unwrap_or(60_000),
        req.max_retries.unwrap_or(2),
    )?;
    let format = check_kind(req.kind.as_deref().unwrap_or("openai_compatible"))?;
    let key = check_key(req.api_key.as_deref())?;
    let keys = state.keys.clone();
    state
        .db
        .write(move |tx| {
            check_extras(
                tx,
                &tenant,
                None,
                req.fallback_provider_id,
                req.input_price_micros.unwrap_or(0),
                req.output_price_micros.unwrap_or(0),
            )?;
            if store::name_taken(tx, &tenant, &c.name, None)? {
                return Err(AppError::new(ErrorCode::NameTaken, "a provider with this name exists").with_details(json!({ "field": "name" })));
            }
            let id = store::insert(
                tx,
                &tenant,
                &ProviderFields {
                    name: &c.name,
                    base_url: &c.base_url,
                    default_model: &c.default_model,
                    timeout_ms: c.timeout_ms,
                    max_retries: c.max_retries,
                    is_default: req.is_default.unwrap_or(false),
                    is_active: req.is_active.unwrap_or(true),
                    fallback_provider_id: req.fallback_provider_id,
                    input_price_micros: req.input_price_micros.unwrap_or(0),
                    output_price_micros: req.output_price_micros.unwrap_or(0),
                },
            )?;
            store::set_api_format(tx, &tenant, id, format.as_str())?;
            if let Some(k) = &key {
                store::set_key(tx, &tenant, id, Some(&keys.encrypt(k.as_bytes(), &key_context(id))))?;
            }
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "llm_provider.created", "llm_provider", id.0).activity()
                    .with_new(json!({ "name": c.name, "base_url": c.base_url, "default_model": c.default_model, "has_api_key": key.is_some() })),
            )?;
            store::find(tx, &tenant, id)?.ok_or_else(not_found)
        })
        .await
}

pub async fn get(state: &AppState, tenant: Tenant, id: LlmProviderId) -> AppResult<LlmProvider> {
    state.db.read(move |c| store::find(c, &tenant, id)?.ok_or_else(not_found)).await
}

pub async fn list(state: &AppState, tenant: Tenant, page: PageParams) -> AppResult<Page<LlmProvider>> {
    let after = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state.db.read(move |c| Ok(store::list(c, &tenant, after, limit)?)).await?;
    Page::from_rows(rows, &page, |p| p.id.0)
}

pub async fn update(
    state: &AppState,
    tenant: Tenant,
    id: LlmProviderId,
    req: UpdateLlmProviderRequest,
) -> AppResult<LlmProvider> {
    let before = get(state, tenant.clone(), id).await?;
    let c = check(
        state,
        req.name.as_deref().unwrap_or(&before.name),
        req.base_url.as_deref().unwrap_or(&before.base_url),
        req.default_model.as_deref().unwrap_or(&before.default_model),
        req.timeout_ms.unwrap_or(before.timeout_ms),
        req.max_retries.unwrap_or(before.max_retries),
    )?;
    let format = req.kind.as_deref().map(check_kind).transpose()?;
    let key = req.api_key.map(|k| check_key(k.as_deref())).transpose()?;
    let keys = state.keys.clone();
    state
        .db
        .write(move |tx| {
            let fallback = req.fallback_provider_id.unwrap_or(before.fallback_provider_id);
            let input_price = req.input_price_micros.unwrap_or(before.input_price_micros);
            let output_price = req.output_price_micros.unwrap_or(before.output_price_micros);
            check_extras(tx, &tenant, Some(id), fallback, input_price, output_price)?;
            if store::name_taken(tx, &tenant, &c.name, Some(id))? {
                return Err(AppError::new(ErrorCode::NameTaken, "a provider with this name exists").with_details(json!({ "field": "name" })));
            }
            store::update(
                tx,
                &tenant,
                id,
                &ProviderFields {
                    name: &c.name,
                    base_url: &c.base_url,
                    default_model: &c.default_model,
                    timeout_ms: c.timeout_ms,
                    max_retries: c.max_retries,
                    is_default: req.is_default.unwrap_or(before.is_default),
                    is_active: req.is_active.unwrap_or(before.is_active),
                    fallback_provider_id: fallback,
                    input_price_micros: input_price,
                    output_price_micros: output_price,
                },
            )?;
            if let Some(f) = format {
                store::set_api_format(tx, &tenant, id, f.as_str())?;
            }
            if let Some(k) = &key {
                let sealed = k.as_ref().map(|k| keys.encrypt(k.as_bytes(), &key_context(id)));
                store::set_key(tx, &tenant, id, sealed.as_deref())?;
            }
            let after = store::find(tx, &tenant, id)?.ok_or_else(not_found)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "llm_provider.updated", "llm_provider", id.0)
                    .with_old(json!({ "name": before.name, "base_url": before.base_url, "default_model": before.default_model, "has_api_key": before.has_api_key }))
                    .with_new(json!({ "name": after.name, "base_url": after.base_url, "default_model": after.default_model, "has_api_key": after.has_api_key })),
            )?;
            Ok(after)
        })
        .await
}

pub async fn delete(state: &AppState, tenant: Tenant, id: LlmProviderId) -> AppResult<()> {
    state
        .db
        .write(move |tx| {
            let before = store::find(tx, &tenant, id)?.ok_or_else(not_found)?;
            store::delete(tx, &tenant, id)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "llm_provider.deleted", "llm_provider", id.0)
                    .with_old(json!({ "name": before.name })),
            )
        })
        .await
}

/// A provider and its sealed API key, as stored.
pub type ProviderRow = (LlmProvider, Option<Vec<u8>>);

/// Reads provider `id` (else the organization's default) with its sealed
/// key in `c`. `Err` `llm_provider_not_found` for an `id` that is not the
/// organization's; `Ok(None)`: no `id` and no default.
fn provider_row(c: &rusqlite::Connection, t: &Tenant, id: Option<LlmProviderId>) -> AppResult<Option<ProviderRow>> {
    let provider = match id {
        Some(id) => Some(store::find(c, t, id)?.ok_or_else(not_found)?),
        None => store::find_default(c, t)?,
    };
    let key = match &provider {
        Some(p) => store::key(c, t, p.id)?,
        None => None,
    };
    Ok(provider.map(|p| (p, key)))
}

/// A provider row as a call configuration: refused when switched off
/// (`conflict`), its key decrypted.
fn provider_config(state: &AppState, (provider, sealed): ProviderRow) -> AppResult<(LlmProvider, ProviderConfig)> {
    if !provider.is_active {
        return Err(AppError::new(ErrorCode::Conflict, "this LLM provider is disabled")
            .with_details(json!({ "field": "provider_id" })));
    }
    let api_key = match sealed {
        Some(s) => Some(open_key(&state.keys, &provider, &s)?),
        None => None,
    };
    let config = ProviderConfig {
        base_url: provider.base_url.clone(),
        model: provider.default_model.clone(),
        api_key,
        timeout: Duration::from_millis(u64::try_from(provider.timeout_ms).unwrap_or(60_000)),
        max_retries: u32::try_from(provider.max_retries).unwrap_or(0),
        format: ApiFormat::from_kind(&provider.kind).unwrap_or_default(),
    };
    Ok((provider, config))
}

/// The provider `id` (else the organization's default) and its call
/// configuration, the key decrypted. `Ok(None)`: `id` is `None` and the
/// organization has no default provider.
pub async fn resolve(
    state: &AppState,
    tenant: &Tenant,
    id: Option<LlmProviderId>,
) -> AppResult<Option<(LlmProvider, ProviderConfig)>> {
    let t = tenant.clone();
    let found = state.db.read(move |c| provider_row(c, &t, id)).await?;
    found.map(|row| provider_config(state, row)).transpose()
}

/// Decrypts a provider's API key. A key that cannot be read (cleared by a
/// re-key, or sealed under another master key) is `secret_unreadable`, not a
/// server error: the organization can set the key again.
fn open_key(keys: &crate::crypto::Keys, provider: &LlmProvider, sealed: &[u8]) -> AppResult<String> {
    let unreadable = |why: &str| {
        AppError::new(
            ErrorCode::SecretUnreadable,
            format!("the API key of LLM provider `{}` {why}; set the key again", provider.name),
        )
        .with_details(json!({ "field": "api_key", "provider_id": provider.id, "secret": "llm_providers.api_key" }))
    };
    if sealed.is_empty() {
        return Err(unreadable("was cleared when the data file was re-keyed"));
    }
    let plain = keys
        .decrypt(sealed, &key_context(provider.id))
        .map_err(|_| unreadable("cannot be decrypted with this server's master key"))?;
    String::from_utf8(plain).map_err(|_| unreadable("is not valid text"))
}

/// Maps a call failure to the API error.
#[must_use]
pub fn llm_error(e: &LlmError) -> AppError {
    match e {
        LlmError::NotAllowed(m) => {
            AppError::new(ErrorCode::UrlNotAllowed, m.clone()).with_details(json!({ "field": "base_url" }))
        }
        other => AppError::new(ErrorCode::LlmFailed, other.to_string()),
    }
}

/// Sends a one-line prompt and reports what came back.
pub async fn test(state: &AppState, tenant: Tenant, id: LlmProviderId) -> AppResult<ProviderTestResult> {
    let (_, config) = resolve(state, &tenant, Some(id)).await?.ok_or_else(not_found)?;
    let started = Instant::now();
    let completion = client::complete(
        state,
        &config,
        &[Message::new("user", "Reply with the single word OK.")],
        &ChatOptions { temperature: Some(0.0), max_tokens: Some(8), ..ChatOptions::default() },
    )
    .await
    .map_err(|e| llm_error(&e))?;
    if let Some(u) = completion.usage {
        crate::knowledge::service::record_usage(
            state,
            &tenant,
            None,
            "llm_tokens",
            i64::try_from(u.total_tokens).unwrap_or(0),
        )
        .await;
    }
    Ok(ProviderTestResult {
        ok: true,
        model: completion.model,
        latency_ms: started.elapsed().as_secs_f64() * 1000.0,
        reply: completion.text.chars().take(200).collect(),
    })
}

/// A provider as a [`Target`] of a call chain: the key decrypted, the model
/// `model` (else the provider's default), the provider's prices (else those
/// of `llm.prices` for the model). `Ok(None)`: `id` is `None` and the
/// organization has no active default provider.
pub async fn target(
    state: &AppState,
    tenant: &Tenant,
    id: Option<LlmProviderId>,
    model: Option<&str>,
) -> AppResult<Option<(LlmProvider, Target)>> {
    let Some((provider, config)) = resolve(state, tenant, id).await? else { return Ok(None) };
    Ok(Some(target_of(state, provider, config, model)))
}

fn target_of(
    state: &AppState,
    provider: LlmProvider,
    mut config: ProviderConfig,
    model: Option<&str>,
) -> (LlmProvider, Target) {
    if let Some(m) = model {
        m.clone_into(&mut config.model);
    }
    let (mut input, mut output) = (
        u64::try_from(provider.input_price_micros).unwrap_or(0),
        u64::try_from(provider.output_price_micros).unwrap_or(0),
    );
    if input == 0
        && output == 0
        && let Some((i, o)) = state.config.llm.price_of(&config.model)
    {
        (input, output) = (i, o);
    }
    let target = Target {
        provider_id: provider.id,
        provider_name: provider.name.clone(),
        config,
        input_price_micros: input,
        output_price_micros: output,
    };
    (provider, target)
}

/// The stored rows a chain is built from, read in one go: the first
/// provider's (`Err` as [`resolve`]: an `id` not found), then its fallbacks
/// in turn — at most three providers, each once; the fallbacks end at one
/// that is gone or switched off.
pub struct ChainRows {
    first: AppResult<Option<ProviderRow>>,
    fallbacks: Vec<ProviderRow>,
}

/// Reads the [`ChainRows`] of `first` (else the default) and `fallback`
/// (else the first provider's own fallback) in `c`.
pub fn chain_rows(
    c: &rusqlite::Connection,
    t: &Tenant,
    first: Option<LlmProviderId>,
    fallback: Option<LlmProviderId>,
) -> AppResult<ChainRows> {
    let head = match provider_row(c, t, first) {
        Ok(Some(row)) => row,
        other => return Ok(ChainRows { first: other, fallbacks: Vec::new() }),
    };
    let mut seen = vec![head.0.id];
    let mut fallbacks: Vec<ProviderRow> = Vec::new();
    let mut next = if head.0.is_active { fallback.or(head.0.fallback_provider_id) } else { None };
    while let Some(id) = next {
        if fallbacks.len() + 1 >= 3 || seen.contains(&id) {
            break;
        }
        seen.push(id);
        match provider_row(c, t, Some(id)) {
            Ok(Some(row)) if row.0.is_active => {
                next = row.0.fallback_provider_id;
                fallbacks.push(row);
            }
            // Deleted or disabled since it was named: the chain ends here.
            Ok(_) | Err(_) => break,
        }
    }
    Ok(ChainRows { first: Ok(Some(head)), fallbacks })
}

/// The call chain of [`ChainRows`] read by [`chain_rows`], with `model` on
/// the first provider; a fallback whose key cannot be read ends the chain.
pub fn chain_of(state: &AppState, rows: ChainRows, model: Option<&str>) -> AppResult<Option<Chain>> {
    let Some(head) = rows.first? else { return Ok(None) };
    let (provider, config) = provider_config(state, head)?;
    let (_, primary) = target_of(state, provider, config, model);
    let mut targets = vec![primary];
    for row in rows.fallbacks {
        match provider_config(state, row) {
            Ok((p, config)) => targets.push(target_of(state, p, config, None).1),
            Err(_) => break,
        }
    }
    Ok(Chain::new(targets))
}

/// The chain of a call: the provider `first` (else the organization's
/// default) with `model`, then `fallback` (else the first provider's own
/// fallback), then each provider's fallback in turn — at most three
/// providers, each once; disabled fallbacks are skipped. `Ok(None)`: no
/// provider is configured.
pub async fn chain(
    state: &AppState,
    tenant: &Tenant,
    first: Option<LlmProviderId>,
    model: Option<&str>,
    fallback: Option<LlmProviderId>,
) -> AppResult<Option<Chain>> {
    let t = tenant.clone();
    let rows = state.db.read(move |c| chain_rows(c, &t, first, fallback)).await?;
    chain_of(state, rows, model)
}

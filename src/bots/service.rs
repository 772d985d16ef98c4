//! Bot rules.

use serde_json::json;

use super::model::{Bot, CreateBotRequest, UpdateBotRequest};
use super::store::{self, BotChanges, NewBot};
use crate::app::AppState;
use crate::crypto::random_token;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::{Page, PageParams, Tenant};
use crate::ids::BotId;
use crate::orgs::audit::{self, AuditEntry};

fn not_found() -> AppError {
    AppError::new(ErrorCode::BotNotFound, "no such bot")
}

fn check_name(raw: &str) -> AppResult<String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AppError::validation("name", "must be 1–100 characters"));
    }
    Ok(name.to_owned())
}

fn check_description(raw: Option<&str>) -> AppResult<Option<String>> {
    match raw.map(str::trim) {
        Some(d) if d.chars().count() > 2000 => {
            Err(AppError::validation("description", "must be at most 2000 characters"))
        }
        Some("") | None => Ok(None),
        Some(d) => Ok(Some(d.to_owned())),
    }
}

/// A BCP 47-looking tag (`en`, `pt-BR`, `zh-Hant-TW`) or `auto`.
pub fn check_language(raw: &str) -> AppResult<String> {
    let tag = raw.trim();
    let valid = tag == "auto"
        || (tag.len() <= 35
            && tag.split('-').enumerate().all(|(i, part)| {
                let len_ok = if i == 0 { (2..=3).contains(&part.len()) } else { (1..=8).contains(&part.len()) };
                len_ok && part.chars().all(|c| c.is_ascii_alphanumeric())
            }));
    if valid {
        Ok(tag.to_owned())
    } else {
        Err(AppError::validation("language", "must be a language tag like en or pt-BR, or auto"))
    }
}

fn widget_key() -> String {
    format!("wk_{}", random_token(18))
}

pub async fn create(state: &AppState, tenant: Tenant, req: CreateBotRequest) -> AppResult<Bot> {
    let name = check_name(&req.name)?;
    let description = check_description(req.description.as_deref())?;
    let language = check_language(req.language.as_deref().unwrap_or("en"))?;
    state
        .db
        .write(move |tx| {
            let key = widget_key();
            let id = store::insert(
                tx,
                &tenant,
                &NewBot { name: &name, description: description.as_deref(), language: &language, widget_key: &key },
            )?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "bot.created", "bot", id.0)
                    .with_new(json!({ "name": name, "language": language })),
            )?;
            store::find(tx, &tenant, id)?.ok_or_else(not_found)
        })
        .await
}

pub async fn get(state: &AppState, tenant: Tenant, id: BotId) -> AppResult<Bot> {
    state.db.read(move |c| store::find(c, &tenant, id)?.ok_or_else(not_found)).await
}

pub async fn list(state: &AppState, tenant: Tenant, page: PageParams) -> AppResult<Page<Bot>> {
    let after = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state.db.read(move |c| Ok(store::list(c, &tenant, after, limit)?)).await?;
    Page::from_rows(rows, &page, |b| b.id.0)
}

pub async fn update(state: &AppState, tenant: Tenant, id: BotId, req: UpdateBotRequest) -> AppResult<Bot> {
    let name = req.name.as_deref().map(check_name).transpose()?;
    let description = req.description.map(|d| check_description(d.as_deref())).transpose()?;
    let language = req.language.as_deref().map(check_language).transpose()?;
    state
        .db
        .write(move |tx| {
            let before = store::find(tx, &tenant, id)?.ok_or_else(not_found)?;
            let changes = BotChanges {
                name: name.as_deref().unwrap_or(&before.name),
                description: description.as_ref().map_or(before.description.as_deref(), Option::as_deref),
                language: language.as_deref().unwrap_or(&before.language),
                is_active: req.is_active.unwrap_or(before.is_active),
            };
            store::update(tx, &tenant, id, &changes)?;
            let after = store::find(tx, &tenant, id)?.ok_or_else(not_found)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "bot.updated", "bot", id.0)
                    .with_old(json!({ "name": before.name, "description": before.description, "language": before.language, "is_active": before.is_active }))
                    .with_new(json!({ "name": after.name, "description": after.description, "language": after.language, "is_active": after.is_active })),
            )?;
            Ok(after)
        })
        .await
}

pub async fn delete(state: &AppState, tenant: Tenant, id: BotId) -> AppResult<()> {
    state
        .db
        .write(move |tx| {
            let before = store::find(tx, &tenant, id)?.ok_or_else(not_found)?;
            store::delete(tx, &tenant, id)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "bot.deleted", "bot", id.0).with_old(json!({ "name": before.name })),
            )
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_tags() {
        for ok in ["en", "pt-BR", "zh-Hant-TW", "auto", "fil"] {
            assert!(check_language(ok).is_ok(), "{ok}");
        }
        for bad in ["", "e", "english", "en_US", "en--US", "<script>"] {
            assert!(check_language(bad).is_err(), "{bad}");
        }
    }
}

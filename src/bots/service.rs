//! Bot rules: CRUD, settings, avatar, widget key, canned messages, and what
//! the conversation runtime needs to know about a bot.

use std::collections::HashSet;

use rusqlite::Connection;
use serde_json::{Value, json};

use super::model::{
    Bot, BotSettings, BotSettingsPatch, BotUsage, CannedMessage, CannedMessageId, CreateBotRequest,
    CreateCannedRequest, UpdateBotRequest, UpdateCannedRequest, kind_name,
};
use super::store::{self, BotChanges, CannedFields, NewBot};
use crate::app::AppState;
use crate::crypto::random_token;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::flows::engine::{Canned, CannedKind, EngineSettings};
use crate::flows::template::Template;
use crate::http::{Page, PageParams, Tenant};
use crate::ids::{BotId, OrgId};
use crate::ml::Encoder;
use crate::orgs::audit::{self, AuditEntry};

/// Largest avatar image.
pub const MAX_AVATAR_BYTES: usize = 1024 * 1024;

fn not_found() -> AppError {
    AppError::new(ErrorCode::BotNotFound, "no such bot")
}

fn check_name(raw: &str) -> AppResult<String> {
    crate::names::check_name("name", raw, 100)
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

/// A language tag ([`check_language`]) whose language the product supports:
/// one it can detect in messages (`crate::nlu::language::supported`), or
/// `auto`. Otherwise 422 listing the supported ones in `details.supported`.
pub fn check_supported_language(raw: &str) -> AppResult<String> {
    let tag = check_language(raw)?;
    if tag == "auto" || crate::nlu::language::is_supported(&tag) {
        return Ok(tag);
    }
    let supported = crate::nlu::language::supported();
    Err(AppError::new(
        ErrorCode::ValidationFailed,
        format!("language `{tag}` is not supported; use auto or one of: {}", supported.join(", ")),
    )
    .with_details(json!({ "field": "language", "value": tag, "supported": supported })))
}

fn check_text(field: &str, raw: &str, max: usize) -> AppResult<String> {
    let t = raw.trim();
    if t.is_empty() || t.chars().count() > max {
        return Err(AppError::validation(field, format!("must be 1–{max} characters")));
    }
    Ok(t.to_owned())
}

fn check_keywords(field: &str, raw: &[String]) -> AppResult<Vec<String>> {
    if raw.len() > 50 {
        return Err(AppError::validation(field, "at most 50 keywords"));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, k) in raw.iter().enumerate() {
        let k = k.trim().to_lowercase();
        if k.is_empty() || k.chars().count() > 100 || k.chars().any(char::is_control) {
            return Err(AppError::validation(format!("{field}[{i}]"), "keywords are 1–100 characters"));
        }
        if !out.contains(&k) {
            out.push(k);
        }
    }
    Ok(out)
}

/// Applies a settings patch to the stored JSON (keeping unknown keys).
fn patch_settings(stored: &str, patch: BotSettingsPatch) -> AppResult<String> {
    let mut obj = match serde_json::from_str::<Value>(stored) {
        Ok(Value::Object(o)) => o,
        _ => serde_json::Map::new(),
    };
    let mut set = |k: &str, v: Value| {
        obj.insert(k.to_owned(), v);
    };
    if let Some(k) = patch.handoff_keywords {
        set("handoff_keywords", json!(check_keywords("settings.handoff_keywords", &k)?));
    }
    if let Some(i) = patch.handoff_intent {
        let i = i.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        if i.as_ref().is_some_and(|s| s.chars().count() > 100) {
            return Err(AppError::validation("settings.handoff_intent", "at most 100 characters"));
        }
        set("handoff_intent", json!(i));
    }
    for (key, value) in [
        ("handoff_message", patch.handoff_message),
        ("fallback_message", patch.fallback_message),
        ("csat_question", patch.csat_question),
        ("csat_thanks", patch.csat_thanks),
    ] {
        if let Some(v) = value {
            set(key, json!(check_text(&format!("settings.{key}"), &v, 1000)?));
        }
    }
    if let Some(c) = patch.csat_enabled {
        set("csat_enabled", json!(c));
    }
    if let Some(b) = patch.block_publish_on_test_failure {
        set("block_publish_on_test_failure", json!(b));
    }
    if let Some(floor) = patch.nlu_similarity_floor {
        if floor.is_some_and(|f| !(0.0..=1.0).contains(&f)) {
            return Err(AppError::validation(
                "settings.nlu_similarity_floor",
                "must be between 0 and 1 (a cosine similarity), or null for the floor calibrated at training",
            ));
        }
        set("nlu_similarity_floor", json!(floor));
    }
    if let Some(encoder) = patch.nlu_encoder {
        let encoder = encoder
            .map(|name| {
                Encoder::from_name(&name).ok_or_else(|| {
                    let names: Vec<&str> = Encoder::ALL.iter().map(|e| e.name()).collect();
                    AppError::validation(
                        "settings.nlu_encoder",
                        format!("must be one of {}, or null for the bot's language", names.join(", ")),
                    )
                })
            })
            .transpose()?;
        set("nlu_encoder", json!(encoder));
    }
    Ok(Value::Object(obj).to_string())
}

fn widget_key() -> String {
    format!("wk_{}", random_token(18))
}

pub async fn create(state: &AppState, tenant: Tenant, req: CreateBotRequest) -> AppResult<Bot> {
    let name = check_name(&req.name)?;
    let description = check_description(req.description.as_deref())?;
    let language = check_supported_language(req.language.as_deref().unwrap_or("en"))?;
    state
        .db
        .write(move |tx| {
            // Checked in the insert's transaction (the bots_plan_limit trigger is the backstop).
            crate::billing::limits::check(tx, tenant.org_id(), crate::billing::limits::Limit::Bots, 1)?;
            let key = widget_key();
            let id = store::insert(
                tx,
                &tenant,
                &NewBot {
                    name: &name,
                    description: description.as_deref(),
                    language: &language,
                    widget_key: &key,
                    team_id: req.team_id,
                },
            )?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "bot.created", "bot", id.0)
                    .activity()
                    .with_new(json!({ "name": name, "language": language, "team_id": req.team_id })),
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
    let language = req.language.as_deref().map(check_supported_language).transpose()?;
    let bot = state
        .db
        .write(move |tx| {
            let before = store::find(tx, &tenant, id)?.ok_or_else(not_found)?;
            let stored = store::settings_json(tx, &tenant, id)?.unwrap_or_else(|| "{}".into());
            let settings = match req.settings {
                Some(patch) => patch_settings(&stored, patch)?,
                None => stored,
            };
            let changes = BotChanges {
                name: name.as_deref().unwrap_or(&before.name),
                description: description.as_ref().map_or(before.description.as_deref(), Option::as_deref),
                language: language.as_deref().unwrap_or(&before.language),
                is_active: req.is_active.unwrap_or(before.is_active),
                team_id: req.team_id.unwrap_or(before.team_id),
                settings: &settings,
            };
            store::update(tx, &tenant, id, &changes)?;
            let after = store::find(tx, &tenant, id)?.ok_or_else(not_found)?;
            if after.nlu_encoder() != before.nlu_encoder() {
                crate::nlu::retrain::enqueue_for_encoder_change(tx, &tenant, id, after.nlu_encoder())?;
            }
            let show = |b: &Bot| {
                json!({ "name": b.name, "description": b.description, "language": b.language, "is_active": b.is_active,
                        "team_id": b.team_id, "settings": b.settings })
            };
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "bot.updated", "bot", id.0).with_old(show(&before)).with_new(show(&after)),
            )?;
            Ok(after)
        })
        .await?;
    state.runtime.invalidate_bot(id);
    state.nlu.invalidate_data(id);
    state.jobs.notify();
    Ok(bot)
}

pub async fn delete(state: &AppState, tenant: Tenant, id: BotId) -> AppResult<()> {
    state
        .db
        .write(move |tx| {
            let before = store::find(tx, &tenant, id)?.ok_or_else(not_found)?;
            store::delete(tx, &tenant, id)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "bot.deleted", "bot", id.0)
                    .activity()
                    .with_old(json!({ "name": before.name })),
            )
        })
        .await?;
    state.runtime.invalidate_bot(id);
    Ok(())
}

/// Replaces the widget key; the old one stops working at once.
pub async fn rotate_widget_key(state: &AppState, tenant: Tenant, id: BotId) -> AppResult<Bot> {
    let bot = state
        .db
        .write(move |tx| {
            store::find(tx, &tenant, id)?.ok_or_else(not_found)?;
            let key = widget_key();
            store::set_widget_key(tx, &tenant, id, &key)?;
            audit::record(tx, &AuditEntry::by(&tenant, "bot.widget_key_rotated", "bot", id.0))?;
            store::find(tx, &tenant, id)?.ok_or_else(not_found)
        })
        .await?;
    state.runtime.invalidate_bot(id);
    Ok(bot)
}

/// Stores an uploaded avatar (PNG, JPEG, GIF or WebP, at most 1 MiB).
pub async fn set_avatar(state: &AppState, tenant: Tenant, id: BotId, data: Vec<u8>) -> AppResult<Bot> {
    if data.is_empty() {
        return Err(AppError::validation("body", "the image is empty"));
    }
    // Avatars are images only (shown inline everywhere), stored like every file.
    let content_type = crate::files::sniff::image(&data).ok_or_else(|| {
        AppError::new(ErrorCode::UnsupportedMediaType, "the avatar must be a PNG, JPEG, GIF or WebP image")
            .with_details(json!({ "field": "file" }))
    })?;
    let bot = state
        .db
        .write(move |tx| {
            store::find(tx, &tenant, id)?.ok_or_else(not_found)?;
            let file = crate::files::store::insert(
                tx,
                tenant.org_id(),
                &data,
                content_type,
                Some("bot-avatar"),
                tenant.user_id(),
            )?;
            store::set_avatar(tx, &tenant, id, file)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "bot.avatar_set", "bot", id.0)
                    .with_new(json!({ "file_id": file, "content_type": content_type, "bytes": data.len() })),
            )?;
            store::find(tx, &tenant, id)?.ok_or_else(not_found)
        })
        .await?;
    state.runtime.invalidate_bot(id);
    Ok(bot)
}

pub async fn clear_avatar(state: &AppState, tenant: Tenant, id: BotId) -> AppResult<Bot> {
    let bot = state
        .db
        .write(move |tx| {
            store::find(tx, &tenant, id)?.ok_or_else(not_found)?;
            store::clear_avatar(tx, &tenant, id)?;
            audit::record(tx, &AuditEntry::by(&tenant, "bot.avatar_removed", "bot", id.0))?;
            store::find(tx, &tenant, id)?.ok_or_else(not_found)
        })
        .await?;
    state.runtime.invalidate_bot(id);
    Ok(bot)
}

/// The avatar's content type and bytes.
pub async fn avatar(state: &AppState, tenant: Tenant, id: BotId) -> AppResult<(String, Vec<u8>)> {
    state
        .db
        .read(move |c| {
            store::avatar(c, &tenant, id)?
                .ok_or_else(|| AppError::new(ErrorCode::FileNotFound, "the bot has no avatar"))
        })
        .await
}

/// The organization's message use this month.
pub async fn usage(state: &AppState, tenant: Tenant, id: BotId) -> AppResult<BotUsage> {
    let month = crate::conversations::runtime::usage::current_month();
    let first = format!("{month}-01");
    state
        .db
        .read(move |c| {
            let org = tenant.org_id();
            let sum = |metric: &str, bot: Option<BotId>| -> rusqlite::Result<i64> {
                c.query_row(
                    "SELECT coalesce(sum(count), 0) FROM usage_tracking
                     WHERE organization_id = ?1 AND metric_type = ?2 AND day >= ?3 AND (?4 IS NULL OR bot_id = ?4)",
                    rusqlite::params![org, metric, first, bot],
                    |r| r.get(0),
                )
            };
            store::find(c, &tenant, id)?.ok_or_else(not_found)?;
            Ok(BotUsage {
                organization_messages: sum("message_received", None)?,
                limit: crate::conversations::store::message_limit(c, org)?,
                bot_messages_received: sum("message_received", Some(id))?,
                bot_messages_sent: sum("message_sent", Some(id))?,
                month: month.clone(),
            })
        })
        .await
}

// ---- For the runtime ------------------------------------------------------

/// What the conversation runtime keeps about a bot.
#[derive(Debug, Clone)]
pub struct BotInfo {
    pub id: BotId,
    pub org_id: OrgId,
    pub name: String,
    pub is_active: bool,
    pub team_id: Option<i64>,
    pub has_avatar: bool,
    pub settings: BotSettings,
    /// The organization's teams (handoff targets are checked against them).
    pub teams: HashSet<i64>,
}

impl BotInfo {
    /// The engine's view of the settings.
    #[must_use]
    pub fn engine_settings(&self) -> EngineSettings {
        EngineSettings {
            handoff_keywords: self.settings.handoff_keywords.iter().map(|k| k.to_lowercase()).collect(),
            handoff_intent: self.settings.handoff_intent.clone(),
            handoff_message: self.settings.handoff_message.clone(),
            fallback_message: self.settings.fallback_message.clone(),
        }
    }
}

/// The bot's override of the NLU's nearest-example similarity floor.
pub fn nlu_similarity_floor(conn: &Connection, tenant: &Tenant, id: BotId) -> AppResult<Option<f64>> {
    let stored = store::settings_json(conn, tenant, id)?;
    Ok(stored.and_then(|s| BotSettings::from_json(&s).nlu_similarity_floor))
}

/// Loads [`BotInfo`].
pub fn runtime_info(conn: &Connection, tenant: &Tenant, id: BotId) -> AppResult<BotInfo> {
    let bot = store::find(conn, tenant, id)?.ok_or_else(not_found)?;
    Ok(BotInfo {
        id,
        org_id: bot.organization_id,
        name: bot.name,
        is_active: bot.is_active,
        team_id: bot.team_id,
        has_avatar: bot.avatar_url.is_some(),
        settings: bot.settings,
        teams: store::team_ids(conn, tenant)?.into_iter().collect(),
    })
}

/// The active canned messages, highest priority first, compiled.
pub fn canned_for_runtime(conn: &Connection, tenant: &Tenant, bot: BotId) -> AppResult<Vec<Canned>> {
    Ok(store::canned_list(conn, tenant, bot)?
        .into_iter()
        .filter(|c| c.is_active)
        .map(|c| Canned {
            id: c.id.0,
            kind: c.message_type,
            content: Template::parse(&c.content).unwrap_or_else(|_| Template::literal(&c.content)),
            keywords: c.trigger_keywords.iter().map(|k| k.to_lowercase()).collect(),
            priority: c.priority,
        })
        .collect())
}

/// The bot of a public widget key.
pub async fn by_widget_key(state: &AppState, key: String) -> AppResult<Option<(BotId, OrgId)>> {
    state.db.read(move |c| Ok(store::by_widget_key(c, &key)?)).await
}

// ---- Canned messages --------------------------------------------------------

fn canned_not_found() -> AppError {
    AppError::new(ErrorCode::CannedMessageNotFound, "no such canned message")
}

fn check_canned(kind: CannedKind, content: &str, keywords: &[String]) -> AppResult<(String, String)> {
    let content = check_text("content", content, 4000)?;
    Template::parse(&content).map_err(|e| AppError::validation("content", e.to_string()))?;
    let keywords = check_keywords("trigger_keywords", keywords)?;
    if kind == CannedKind::Command && keywords.is_empty() {
        return Err(AppError::validation("trigger_keywords", "a command needs at least one keyword"));
    }
    if kind == CannedKind::Fallback && !keywords.is_empty() {
        return Err(AppError::validation("trigger_keywords", "a fallback has no keywords"));
    }
    Ok((content, json!(keywords).to_string()))
}

pub async fn canned_list(state: &AppState, tenant: Tenant, bot: BotId) -> AppResult<Vec<CannedMessage>> {
    state.db.read(move |c| Ok(store::canned_list(c, &tenant, bot)?)).await
}

pub async fn canned_create(
    state: &AppState,
    tenant: Tenant,
    bot: BotId,
    req: CreateCannedRequest,
) -> AppResult<CannedMessage> {
    let (content, keywords) = check_canned(req.message_type, &req.content, &req.trigger_keywords)?;
    let m = state
        .db
        .write(move |tx| {
            let fields = CannedFields {
                kind: kind_name(req.message_type),
                content: &content,
                keywords: &keywords,
                priority: req.priority,
                is_active: req.is_active.unwrap_or(true),
            };
            let id = store::canned_insert(tx, &tenant, bot, &fields)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "bot_message.created", "bot_message", id.0)
                    .with_new(json!({ "bot_id": bot, "type": fields.kind })),
            )?;
            store::canned(tx, &tenant, id)?.ok_or_else(canned_not_found)
        })
        .await?;
    state.runtime.invalidate_bot(bot);
    Ok(m)
}

pub async fn canned_update(
    state: &AppState,
    tenant: Tenant,
    id: CannedMessageId,
    req: UpdateCannedRequest,
) -> AppResult<CannedMessage> {
    let m = state
        .db
        .write(move |tx| {
            let before = store::canned(tx, &tenant, id)?.ok_or_else(canned_not_found)?;
            let kind = req.message_type.unwrap_or(before.message_type);
            let keywords = req.trigger_keywords.unwrap_or_else(|| before.trigger_keywords.clone());
            let (content, keywords) = check_canned(kind, req.content.as_deref().unwrap_or(&before.content), &keywords)?;
            let fields = CannedFields {
                kind: kind_name(kind),
                content: &content,
                keywords: &keywords,
                priority: req.priority.unwrap_or(before.priority),
                is_active: req.is_active.unwrap_or(before.is_active),
            };
            store::canned_update(tx, &tenant, id, &fields)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "bot_message.updated", "bot_message", id.0)
                    .with_old(json!({ "content": before.content, "keywords": before.trigger_keywords }))
                    .with_new(json!({ "content": content, "keywords": keywords })),
            )?;
            store::canned(tx, &tenant, id)?.ok_or_else(canned_not_found)
        })
        .await?;
    state.runtime.invalidate_bot(m.bot_id);
    Ok(m)
}

pub async fn canned_delete(state: &AppState, tenant: Tenant, id: CannedMessageId) -> AppResult<()> {
    let bot = state
        .db
        .write(move |tx| {
            let before = store::canned(tx, &tenant, id)?.ok_or_else(canned_not_found)?;
            store::canned_delete(tx, &tenant, id)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "bot_message.deleted", "bot_message", id.0)
                    .with_old(json!({ "content": before.content })),
            )?;
            Ok(before.bot_id)
        })
        .await?;
    state.runtime.invalidate_bot(bot);
    Ok(())
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
        for ok in ["en", "pt-BR", "zh-Hant-TW", "auto", "de", "ja"] {
            assert!(check_supported_language(ok).is_ok(), "{ok}");
        }
        let err = check_supported_language("tlh").expect_err("Klingon");
        let supported = err.details().and_then(|d| d.get("supported")).and_then(serde_json::Value::as_array);
        assert!(supported.is_some_and(|s| s.len() == 70), "{err:?}");
    }

    #[test]
    fn settings_patches_keep_other_keys() {
        let out = patch_settings(
            r#"{"future_key": 1, "csat_enabled": false}"#,
            BotSettingsPatch {
                csat_enabled: Some(true),
                handoff_keywords: Some(vec![" Agent ".into()]),
                ..Default::default()
            },
        )
        .expect("patch");
        let v: Value = serde_json::from_str(&out).expect("json");
        assert_eq!(v["future_key"], 1);
        assert_eq!(v["csat_enabled"], true);
        assert_eq!(v["handoff_keywords"], json!(["agent"]));
        assert!(
            patch_settings("{}", BotSettingsPatch { fallback_message: Some(" ".into()), ..Default::default() })
                .is_err()
        );
    }
}

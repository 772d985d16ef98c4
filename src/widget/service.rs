//! Widget settings (`widget_configs`) and the origin rules of the public
//! widget.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::json;

use super::model::{WidgetConfig, WidgetConfigRequest, WidgetSettingsRequest, WidgetSettingsView};
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::Tenant;
use crate::ids::BotId;
use crate::orgs::audit::{self, AuditEntry};

/// The widget settings the runtime keeps per bot.
#[derive(Debug, Clone, Default)]
pub struct WidgetSettings {
    pub config: WidgetConfig,
    /// Normalised origins; empty: any.
    pub allowed_origins: Vec<String>,
}

impl WidgetSettings {
    /// Whether a page of `origin` may use the widget.
    #[must_use]
    pub fn allows(&self, origin: &str) -> bool {
        self.allowed_origins.is_empty() || normalize_origin(origin).is_some_and(|o| self.allowed_origins.contains(&o))
    }
}

/// `scheme://host[:port]`, lower-case, without a trailing slash or path.
#[must_use]
pub fn normalize_origin(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return None;
    }
    if !(url.path() == "/" || url.path().is_empty()) || url.query().is_some() || url.fragment().is_some() {
        return None;
    }
    Some(url.origin().ascii_serialization())
}

/// Loads a bot's widget settings.
pub fn settings(conn: &Connection, tenant: &Tenant, bot: BotId) -> AppResult<WidgetSettings> {
    let row: Option<(String, String)> = conn
        .query_row(
            "SELECT config, allowed_origins FROM widget_configs WHERE organization_id = ?1 AND bot_id = ?2",
            params![tenant.org_id(), bot],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(match row {
        Some((config, origins)) => WidgetSettings {
            config: serde_json::from_str(&config).unwrap_or_default(),
            allowed_origins: serde_json::from_str(&origins).unwrap_or_default(),
        },
        None => WidgetSettings::default(),
    })
}

fn color(field: &str, v: Option<String>, default: &str) -> AppResult<String> {
    let c = v.unwrap_or_else(|| default.to_owned());
    let valid = c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|ch| ch.is_ascii_hexdigit());
    if valid {
        Ok(c.to_lowercase())
    } else {
        Err(AppError::validation(format!("config.{field}"), "a colour like #1a2b3c"))
    }
}

fn text(field: &str, v: Option<String>, max: usize) -> AppResult<Option<String>> {
    match v.map(|s| s.trim().to_owned()) {
        Some(s) if s.chars().count() > max || s.chars().any(char::is_control) => {
            Err(AppError::validation(format!("config.{field}"), format!("at most {max} characters, one line")))
        }
        Some(s) if s.is_empty() => Ok(None),
        other => Ok(other),
    }
}

fn check_config(r: WidgetConfigRequest) -> AppResult<WidgetConfig> {
    let d = WidgetConfig::default();
    Ok(WidgetConfig {
        title: text("title", r.title, 80)?,
        subtitle: text("subtitle", r.subtitle, 120)?,
        primary_color: color("primary_color", r.primary_color, &d.primary_color)?,
        primary_text_color: color("primary_text_color", r.primary_text_color, &d.primary_text_color)?,
        background_color: color("background_color", r.background_color, &d.background_color)?,
        text_color: color("text_color", r.text_color, &d.text_color)?,
        position: r.position,
        welcome_message: match r.welcome_message.map(|s| s.trim().to_owned()) {
            Some(s) if s.chars().count() > 1000 => {
                return Err(AppError::validation("config.welcome_message", "at most 1000 characters"));
            }
            Some(s) if s.is_empty() => None,
            other => other,
        },
        placeholder: text("placeholder", r.placeholder, 80)?.unwrap_or(d.placeholder),
        launcher_label: text("launcher_label", r.launcher_label, 40)?,
        show_avatar: r.show_avatar,
        white_label: r.white_label,
        open_on_load: r.open_on_load,
        uploads_enabled: r.uploads_enabled,
    })
}

/// The settings as shown, with the embed code under `base` (the public URL in force).
fn view(base: &str, key: String, s: WidgetSettings) -> WidgetSettingsView {
    WidgetSettingsView {
        embed_code: format!("<script src=\"{base}/widget.js\" data-bot-key=\"{key}\" async></script>"),
        widget_key: key,
        config: s.config,
        allowed_origins: s.allowed_origins,
    }
}

fn widget_key(conn: &Connection, tenant: &Tenant, bot: BotId) -> AppResult<String> {
    conn.query_row(
        "SELECT widget_key FROM bots WHERE id = ?1 AND organization_id = ?2",
        params![bot, tenant.org_id()],
        |r| r.get(0),
    )
    .optional()?
    .ok_or_else(|| AppError::new(ErrorCode::BotNotFound, "no such bot"))
}

pub async fn get(state: &AppState, tenant: Tenant, bot: BotId) -> AppResult<WidgetSettingsView> {
    let (key, s) = state.db.read(move |c| Ok((widget_key(c, &tenant, bot)?, settings(c, &tenant, bot)?))).await?;
    Ok(view(&crate::admin::instance::public_url_in_force(state).await?, key, s))
}

pub async fn put(
    state: &AppState,
    tenant: Tenant,
    bot: BotId,
    req: WidgetSettingsRequest,
) -> AppResult<WidgetSettingsView> {
    let config = check_config(req.config)?;
    if req.allowed_origins.len() > 50 {
        return Err(AppError::validation("allowed_origins", "at most 50 origins"));
    }
    let mut origins = Vec::new();
    for (i, o) in req.allowed_origins.iter().enumerate() {
        let n = normalize_origin(o).ok_or_else(|| {
            AppError::validation(format!("allowed_origins[{i}]"), "an origin like https://shop.example.com (no path)")
        })?;
        if !origins.contains(&n) {
            origins.push(n);
        }
    }
    let config_json = serde_json::to_string(&config).map_err(AppError::internal)?;
    let origins_json = json!(origins).to_string();
    let (key, s) = state
        .db
        .write(move |tx| {
            let key = widget_key(tx, &tenant, bot)?;
            tx.execute(
                "INSERT INTO widget_configs (organization_id, bot_id, config, allowed_origins) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (bot_id) DO UPDATE SET config = excluded.config, allowed_origins = excluded.allowed_origins",
                params![tenant.org_id(), bot, config_json, origins_json],
            )?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "widget.updated", "bot", bot.0)
                    .with_new(json!({ "config": config, "allowed_origins": origins })),
            )?;
            Ok((key, settings(tx, &tenant, bot)?))
        })
        .await?;
    state.runtime.invalidate_bot(bot);
    Ok(view(&crate::admin::instance::public_url_in_force(state).await?, key, s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalised_and_checked() {
        assert_eq!(normalize_origin("https://Shop.Example.com/").as_deref(), Some("https://shop.example.com"));
        assert_eq!(normalize_origin("http://localhost:8080").as_deref(), Some("http://localhost:8080"));
        assert_eq!(normalize_origin("https://a.com:443").as_deref(), Some("https://a.com"));
        assert!(normalize_origin("https://a.com/path").is_none());
        assert!(normalize_origin("ftp://a.com").is_none());
        assert!(normalize_origin("null").is_none());
        let s = WidgetSettings { allowed_origins: vec!["https://a.com".into()], ..WidgetSettings::default() };
        assert!(s.allows("https://a.com"));
        assert!(!s.allows("https://b.com"));
        assert!(!s.allows("null"));
        assert!(WidgetSettings::default().allows("https://anything.example"));
    }
}

//! Voice bot templates (issue 26): ready phone bots — an IVR menu,
//! appointment booking, order status and an FAQ answered from a knowledge
//! base. Each is a JSON file in `templates/` embedded in the binary, written
//! into `voice_bot_templates` at start-up ([`seed`], idempotent by name);
//! "create from template" reads the stored definition and makes the bot (its
//! NLU data, knowledge base and flows, published) through the bot template
//! machinery, then the voice bot with the template's greeting and settings.
//! The flows are written for the phone: menus of at most nine choices (read
//! as "Press 1 for …"), no images, cards or links (no voice warnings).

use actix_web::{HttpResponse, get, post, web};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa_actix_web::service_config::ServiceConfig;

use super::model::{CreateVoiceBotRequest, VoiceBot};
use crate::app::AppState;
use crate::bots::model::Bot;
use crate::bots::templates::{BotTemplate, Template, TemplateBot};
use crate::error::{AppError, AppResult, ErrorBody, ErrorCode};
use crate::http::{Json, OrgScope, Tenant};
use crate::knowledge::model::KnowledgeBaseId;
use crate::permissions::{Permission, perm};

/// Registers the template routes under `/api/v1`.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(voice_list_templates).service(voice_create_from_template);
}

/// The voice bot templates: IVR menu, appointment booking, order status, FAQ from a knowledge base.
#[utoipa::path(
    tag = "voice",
    params(("org_id" = i64, Path, description = "Organization id")),
    responses((status = 200, body = Vec<VoiceBotTemplate>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/orgs/{org_id}/voice-bot-templates")]
async fn voice_list_templates(
    _scope: OrgScope<perm::BotsRead>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<Vec<VoiceBotTemplate>>> {
    Ok(web::Json(list(&state).await?))
}

/// Makes a voice bot from a template in one go: the bot, its NLU data and
/// knowledge base, its flows (published) and the voice bot with the
/// template's greeting and settings. All or nothing.
#[utoipa::path(
    tag = "voice",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = CreateFromVoiceTemplateRequest,
    responses((status = 201, body = VoiceTemplateBot), (status = 401, body = ErrorBody),
              (status = 402, body = ErrorBody, description = "`plan_limit_exceeded` (`bots`)"),
              (status = 403, body = ErrorBody, description = "`forbidden`: needs `flows.publish` (and `knowledge.write` for a template with a knowledge base)"),
              (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "`validation_failed` (`template`, `name`, `language`, `settings.*`)")),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[post("/orgs/{org_id}/voice-bots/from-template")]
async fn voice_create_from_template(
    scope: OrgScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    body: Json<CreateFromVoiceTemplateRequest>,
) -> AppResult<HttpResponse> {
    let made = create(&state, scope.into_tenant(), body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(made))
}

/// The template files, in gallery order.
const FILES: [&str; 4] = [
    include_str!("templates/ivr_menu.json"),
    include_str!("templates/appointment_booking.json"),
    include_str!("templates/order_status.json"),
    include_str!("templates/faq_knowledge.json"),
];

/// One template file (also the stored `definition`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoiceTemplateFile {
    pub slug: String,
    /// The row's name (`voice_bot_templates.name`, unique).
    pub name: String,
    /// `support`, `sales`, `faq`, `booking` or `custom`.
    pub category: String,
    pub description: String,
    /// The first thing callers hear (the flow's opening message).
    pub greeting: String,
    pub example_phrases: Vec<String>,
    /// Voice bot settings the template starts with.
    #[serde(default)]
    pub settings: Map<String, Value>,
    /// The bot: NLU data, knowledge seed and flows (`main` is the entry flow).
    pub template: Template,
}

fn parse(raw: &str) -> Result<VoiceTemplateFile, serde_json::Error> {
    serde_json::from_str(raw)
}

/// Writes the embedded templates into `voice_bot_templates` (by name: a
/// row of the same name gets the current definition and is switched on).
pub fn seed(conn: &Connection) -> AppResult<usize> {
    let mut written = 0;
    for raw in FILES {
        let file = parse(raw).map_err(|e| AppError::internal(anyhow::anyhow!("a voice bot template: {e}")))?;
        let definition: Value = serde_json::from_str(raw).map_err(AppError::internal)?;
        let intents: Vec<Value> = file
            .template
            .nlu
            .iter()
            .flat_map(|n| n.intents.iter())
            .map(|i| json!({ "name": i.name, "examples": i.examples.iter().map(|e| e.text.clone()).collect::<Vec<_>>() }))
            .collect();
        written += conn.execute(
            "INSERT INTO voice_bot_templates (name, slug, description, category, prompt_template, example_phrases,
                 default_intents, greeting, definition, is_active)
             VALUES (?1, ?2, ?3, ?4, ?3, ?5, ?6, ?7, ?8, 1)
             ON CONFLICT (name) DO UPDATE SET slug = excluded.slug, description = excluded.description,
                 category = excluded.category, example_phrases = excluded.example_phrases,
                 default_intents = CASE WHEN excluded.default_intents = '[]' THEN default_intents ELSE excluded.default_intents END,
                 greeting = excluded.greeting, definition = excluded.definition, is_active = 1,
                 updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
             WHERE definition IS NOT excluded.definition OR is_active = 0 OR slug IS NOT excluded.slug",
            params![
                file.name,
                file.slug,
                file.description,
                file.category,
                Value::from(file.example_phrases.clone()).to_string(),
                Value::from(intents).to_string(),
                file.greeting,
                definition.to_string(),
            ],
        )?;
    }
    Ok(written)
}

/// A voice bot template as listed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VoiceBotTemplate {
    /// What `POST /orgs/{org_id}/voice-bots/from-template` takes as `template`.
    #[schema(example = "ivr_menu")]
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
    /// `support`, `sales`, `faq`, `booking` or `custom`.
    pub category: String,
    /// The first thing callers hear.
    pub greeting: Option<String>,
    pub example_phrases: Vec<String>,
    /// Voice bots made from it so far (all organizations).
    pub usage_count: i64,
    /// The bot it makes: flows, whether it creates a knowledge base, what to set up after.
    pub bot: BotTemplate,
}

struct Row {
    slug: String,
    name: String,
    description: Option<String>,
    category: String,
    greeting: Option<String>,
    example_phrases: String,
    usage_count: i64,
    definition: String,
}

const ROW_COLUMNS: &str = "slug, name, description, category, greeting, example_phrases, usage_count, definition";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        slug: r.get(0)?,
        name: r.get(1)?,
        description: r.get(2)?,
        category: r.get(3)?,
        greeting: r.get(4)?,
        example_phrases: r.get(5)?,
        usage_count: r.get(6)?,
        definition: r.get(7)?,
    })
}

impl Row {
    fn file(&self) -> AppResult<VoiceTemplateFile> {
        parse(&self.definition)
            .map_err(|e| AppError::internal(anyhow::anyhow!("voice bot template {} does not parse: {e}", self.slug)))
    }

    fn present(self) -> AppResult<VoiceBotTemplate> {
        let file = self.file()?;
        Ok(VoiceBotTemplate {
            bot: BotTemplate::from(&file.template),
            example_phrases: serde_json::from_str(&self.example_phrases).unwrap_or_default(),
            slug: self.slug,
            name: self.name,
            description: self.description,
            category: self.category,
            greeting: self.greeting,
            usage_count: self.usage_count,
        })
    }
}

/// The active templates with a definition, in gallery order.
pub async fn list(state: &AppState) -> AppResult<Vec<VoiceBotTemplate>> {
    let rows = state
        .db
        .read(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {ROW_COLUMNS} FROM voice_bot_templates WHERE is_active = 1 AND slug IS NOT NULL ORDER BY id"
            ))?;
            let rows = stmt.query_map([], row)?.collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await?;
    rows.into_iter().map(Row::present).collect()
}

/// `POST /orgs/{org_id}/voice-bots/from-template`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFromVoiceTemplateRequest {
    /// A template `slug` from `GET /orgs/{org_id}/voice-bot-templates`.
    #[schema(example = "ivr_menu")]
    pub template: String,
    /// The voice bot's and the bot's name. Default: the template's name.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub voice_id: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    /// Merged over the template's settings (e.g. `transfer_to`).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settings: Option<Map<String, Value>>,
}

/// What a voice bot template made.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VoiceTemplateBot {
    pub voice_bot: VoiceBot,
    pub bot: Bot,
    /// The flow calls start in.
    pub entry_flow: String,
    pub knowledge_base_id: Option<KnowledgeBaseId>,
    /// What to set up next (a transfer number, an order API…).
    pub setup: Option<String>,
}

/// Makes the bot, its published flows and the voice bot from a template.
pub async fn create(
    state: &AppState,
    tenant: Tenant,
    req: CreateFromVoiceTemplateRequest,
) -> AppResult<VoiceTemplateBot> {
    let slug = req.template.trim().to_owned();
    let found = state
        .db
        .read(move |c| {
            Ok(c.query_row(
                &format!("SELECT {ROW_COLUMNS} FROM voice_bot_templates WHERE slug = ?1 AND is_active = 1"),
                [slug],
                row,
            )
            .optional()?)
        })
        .await?;
    let Some(found) = found else {
        return Err(AppError::validation(
            "template",
            "is not a voice bot template; GET /api/v1/orgs/{org_id}/voice-bot-templates lists them",
        ));
    };
    // A voice bot answers with published flows only.
    if !tenant.can(Permission::FlowsPublish) {
        return Err(AppError::new(
            ErrorCode::Forbidden,
            "a voice bot template publishes its flows, which needs the flows.publish permission",
        )
        .with_details(json!({ "permission": "flows.publish" })));
    }
    let file = found.file()?;
    let name = req.name.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned);
    let mut settings = file.settings.clone();
    for (k, v) in req.settings.unwrap_or_default() {
        if v.is_null() {
            settings.remove(&k);
        } else {
            settings.insert(k, v);
        }
    }
    let made =
        crate::bots::templates::instantiate_template(state, tenant.clone(), &file.template, name.clone()).await?;
    let voice = CreateVoiceBotRequest {
        name: name.unwrap_or_else(|| file.name.clone()),
        bot_id: made.bot.id,
        description: Some(file.description.clone()),
        voice_id: req.voice_id,
        language: req.language,
        fallback_message: None,
        max_call_duration: None,
        settings: Some(settings),
    };
    let voice_bot = attach_voice_bot(state, &tenant, &made, voice, &file.greeting).await?;
    let slug = found.slug.clone();
    state
        .db
        .write(move |tx| {
            tx.execute("UPDATE voice_bot_templates SET usage_count = usage_count + 1 WHERE slug = ?1", [slug])?;
            Ok(())
        })
        .await?;
    Ok(VoiceTemplateBot {
        voice_bot,
        bot: made.bot,
        entry_flow: made.entry_flow,
        knowledge_base_id: made.knowledge_base_id,
        setup: made.setup,
    })
}

/// Puts the voice bot on a bot a template just made, with `greeting`; when
/// that fails the bot (and its knowledge base) go again: all or nothing.
pub(super) async fn attach_voice_bot(
    state: &AppState,
    tenant: &Tenant,
    made: &TemplateBot,
    req: CreateVoiceBotRequest,
    greeting: &str,
) -> AppResult<VoiceBot> {
    match voice_bot_with_greeting(state, tenant, req, greeting).await {
        Ok(vb) => Ok(vb),
        Err(e) => {
            if let Some(kb) = made.knowledge_base_id
                && let Err(err) = crate::knowledge::service::delete_kb(state, tenant.clone(), kb).await
            {
                tracing::warn!(error = %err, kb = kb.0, "undoing a voice bot: the knowledge base stays");
            }
            if let Err(err) = crate::bots::service::delete(state, tenant.clone(), made.bot.id).await {
                tracing::warn!(error = %err, bot = made.bot.id.0, "undoing a voice bot: the bot stays");
            }
            Err(e)
        }
    }
}

async fn voice_bot_with_greeting(
    state: &AppState,
    tenant: &Tenant,
    req: CreateVoiceBotRequest,
    greeting: &str,
) -> AppResult<VoiceBot> {
    let vb = super::service::create_voice_bot(state, tenant.clone(), req).await?;
    let (t, id, greeting) = (tenant.clone(), vb.id, greeting.to_owned());
    state.db.write(move |tx| Ok(super::store::set_greeting(tx, &t, id, &greeting)?)).await?;
    super::service::get_voice_bot(state, tenant.clone(), id).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::compile::{Severity, as_draft, compile};

    #[test]
    fn every_voice_template_parses_compiles_and_speaks_on_the_phone() {
        let mut slugs = Vec::new();
        for raw in FILES {
            let file = parse(raw).expect("a voice template parses");
            assert!(
                matches!(file.category.as_str(), "support" | "sales" | "faq" | "booking" | "custom"),
                "{}",
                file.slug
            );
            let main = file.template.flows.get("main").expect("a main flow");
            let opening = main.nodes.iter().find(|n| n.kind == "message").and_then(|n| n.data["text"].as_str());
            assert_eq!(opening, Some(file.greeting.as_str()), "{}: the greeting opens the flow", file.slug);
            for (name, doc) in &file.template.flows {
                let blocking: Vec<_> = as_draft(compile(doc).issues)
                    .into_iter()
                    .filter(|i| i.blocks_publish || i.severity == Severity::Error)
                    .collect();
                assert!(blocking.is_empty(), "{}/{name}: {blocking:?}", file.slug);
                let warnings = super::super::service::warnings_of(name, doc);
                assert!(warnings.is_empty(), "{}/{name}: {warnings:?}", file.slug);
            }
            slugs.push(file.slug);
        }
        slugs.sort_unstable();
        slugs.dedup();
        assert_eq!(slugs.len(), FILES.len(), "slugs are unique");
    }
}

//! Starter bots: a gallery of templates (FAQ with a knowledge base, lead
//! capture, order status over HTTP, appointment booking, support with
//! handoff, feedback survey, event registration, IT helpdesk), each a JSON
//! file in `templates/` embedded in the binary, usable without any model. A
//! template makes a working bot in one call, through the same services the
//! API uses: the bot, its NLU data, its flows (published when the caller may
//! publish), a knowledge base with sample articles, and a training job. Its
//! flow can also be added to an existing bot as a draft ([`add_as_flow`]).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use super::model::{Bot, CreateBotRequest};
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::flows::document::FlowDocument;
use crate::flows::model::{PublishRequest, SaveFlowRequest};
use crate::http::Tenant;
use crate::ids::BotId;
use crate::knowledge::model::{CreateKnowledgeBaseRequest, KnowledgeBaseId, PasteTextRequest};
use crate::nlu::io::NluDocument;
use crate::nlu::model::{DataFormat, ImportMode};
use crate::permissions::Permission;

/// The template files, in gallery order.
const FILES: [&str; 8] = [
    include_str!("templates/faq.json"),
    include_str!("templates/support.json"),
    include_str!("templates/lead_capture.json"),
    include_str!("templates/order_status.json"),
    include_str!("templates/appointment.json"),
    include_str!("templates/feedback_survey.json"),
    include_str!("templates/event_registration.json"),
    include_str!("templates/it_helpdesk.json"),
];

/// One template file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub id: String,
    pub name: String,
    pub summary: String,
    pub category: String,
    pub bot: TemplateBotSettings,
    /// What the user must set up before the bot does everything (e.g. an API URL).
    #[serde(default)]
    pub setup: Option<String>,
    #[serde(default)]
    pub nlu: Option<NluDocument>,
    #[serde(default)]
    pub knowledge: Option<KnowledgeSeed>,
    /// Flow documents by flow name; `main` is the entry flow.
    pub flows: BTreeMap<String, FlowDocument>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateBotSettings {
    pub description: String,
    pub language: String,
}

/// A knowledge base the template creates, with sample articles to replace.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnowledgeSeed {
    pub name: String,
    pub description: String,
    pub documents: Vec<SeedDocument>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedDocument {
    pub name: String,
    pub text: String,
}

/// The parsed templates; a file that does not parse is a build defect,
/// caught by the unit test below, and left out here with an error logged.
static TEMPLATES: LazyLock<Vec<Template>> = LazyLock::new(|| {
    FILES
        .iter()
        .filter_map(|raw| match serde_json::from_str::<Template>(raw) {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::error!(error = %e, "a built-in bot template does not parse");
                None
            }
        })
        .collect()
});

/// A template as the gallery shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BotTemplate {
    #[schema(example = "faq")]
    pub id: String,
    pub name: String,
    pub summary: String,
    /// `support`, `sales`, `ecommerce`, `services`, `feedback`, `events`, `internal`.
    pub category: String,
    pub language: String,
    /// What to set up after creating the bot, if anything.
    pub setup: Option<String>,
    /// Whether it creates a knowledge base (needs `knowledge.write`).
    pub creates_knowledge_base: bool,
    /// Intents it brings (trained after creation when the models are on).
    pub intents: Vec<String>,
    /// Its flows; `main` is the entry flow.
    pub flows: Vec<String>,
    /// What the entry flow looks like, for the gallery.
    pub preview: TemplatePreview,
}

/// A glance at a template's entry flow.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TemplatePreview {
    pub nodes: usize,
    pub edges: usize,
    /// The node types it uses, each once, in the order they first appear.
    pub node_types: Vec<String>,
    /// The node labels in document order (at most 12).
    pub steps: Vec<String>,
    /// The first text the bot says.
    pub opening: Option<String>,
}

impl TemplatePreview {
    fn of(doc: Option<&FlowDocument>) -> TemplatePreview {
        let Some(doc) = doc else {
            return TemplatePreview { nodes: 0, edges: 0, node_types: Vec::new(), steps: Vec::new(), opening: None };
        };
        let mut node_types: Vec<String> = Vec::new();
        for n in &doc.nodes {
            if !node_types.contains(&n.kind) {
                node_types.push(n.kind.clone());
            }
        }
        let opening = doc.nodes.iter().find_map(|n| {
            let d = &n.data;
            d.get("text")
                .or_else(|| d.pointer("/prompt/text"))
                .or_else(|| d.pointer("/message/text"))
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        });
        TemplatePreview {
            nodes: doc.nodes.len(),
            edges: doc.edges.len(),
            node_types,
            steps: doc.nodes.iter().filter_map(|n| n.label.clone()).take(12).collect(),
            opening,
        }
    }
}

impl From<&Template> for BotTemplate {
    fn from(t: &Template) -> Self {
        BotTemplate {
            id: t.id.clone(),
            name: t.name.clone(),
            summary: t.summary.clone(),
            category: t.category.clone(),
            language: t.bot.language.clone(),
            setup: t.setup.clone(),
            creates_knowledge_base: t.knowledge.is_some(),
            intents: t.nlu.iter().flat_map(|n| n.intents.iter().map(|i| i.name.clone())).collect(),
            flows: t.flows.keys().cloned().collect(),
            preview: TemplatePreview::of(t.flows.get("main")),
        }
    }
}

/// `POST /orgs/{org_id}/bots/from-template`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFromTemplateRequest {
    /// A template id from `GET /bot-templates`.
    #[schema(example = "faq")]
    pub template: String,
    /// Default: the template's name.
    #[serde(default)]
    pub name: Option<String>,
}

/// What a template made.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TemplateBot {
    pub bot: Bot,
    /// The flow to open first.
    pub entry_flow: String,
    /// Whether the flows were published (needs `flows.publish`); drafts otherwise.
    pub published: bool,
    pub knowledge_base_id: Option<KnowledgeBaseId>,
    /// The NLU training job, when the template has intents and the models are on.
    pub training_job_id: Option<i64>,
    pub setup: Option<String>,
}

/// The gallery.
#[must_use]
pub fn list() -> Vec<BotTemplate> {
    TEMPLATES.iter().map(BotTemplate::from).collect()
}

/// Every NLU example text of the templates (the NLU's background corpus of
/// out-of-scope utterances must not contain them).
#[must_use]
pub fn example_texts() -> Vec<String> {
    TEMPLATES
        .iter()
        .filter_map(|t| t.nlu.as_ref())
        .flat_map(|d| d.intents.iter())
        .flat_map(|i| i.examples.iter().map(|e| e.text.clone()))
        .collect()
}

/// Makes a bot from a template. All or nothing: when a step fails, what the
/// earlier steps made (the bot, the knowledge base) is deleted again.
pub async fn instantiate(state: &AppState, tenant: Tenant, req: CreateFromTemplateRequest) -> AppResult<TemplateBot> {
    instantiate_template(state, tenant, find(&req.template)?, req.name).await
}

/// Makes a bot from a parsed template (the gallery's, or a voice bot
/// template's stored definition), all or nothing as [`instantiate`].
pub async fn instantiate_template(
    state: &AppState,
    tenant: Tenant,
    template: &Template,
    name: Option<String>,
) -> AppResult<TemplateBot> {
    if template.knowledge.is_some() && !tenant.can(Permission::KnowledgeWrite) {
        return Err(AppError::new(
            ErrorCode::Forbidden,
            "this template creates a knowledge base, which needs the knowledge.write permission",
        )
        .with_details(serde_json::json!({ "permission": "knowledge.write" })));
    }
    let bot = super::service::create(
        state,
        tenant.clone(),
        CreateBotRequest {
            name: name.unwrap_or_else(|| template.name.clone()),
            description: Some(template.bot.description.clone()),
            language: Some(template.bot.language.clone()),
            team_id: None,
        },
    )
    .await?;
    let mut made = Made { bot: bot.id, knowledge_base: None };
    match populate(state, &tenant, template, &bot, &mut made).await {
        Ok(result) => Ok(result),
        Err(e) => {
            made.undo(state, &tenant).await;
            Err(e)
        }
    }
}

/// What an instantiation made so far, to undo on failure.
struct Made {
    bot: BotId,
    knowledge_base: Option<KnowledgeBaseId>,
}

impl Made {
    async fn undo(&self, state: &AppState, tenant: &Tenant) {
        if let Some(kb) = self.knowledge_base
            && let Err(e) = crate::knowledge::service::delete_kb(state, tenant.clone(), kb).await
        {
            tracing::warn!(error = %e, kb = kb.0, "undoing a template: the knowledge base stays");
        }
        if let Err(e) = super::service::delete(state, tenant.clone(), self.bot).await {
            tracing::warn!(error = %e, bot = self.bot.0, "undoing a template: the bot stays");
        }
    }
}

async fn populate(
    state: &AppState,
    tenant: &Tenant,
    template: &Template,
    bot: &Bot,
    made: &mut Made,
) -> AppResult<TemplateBot> {
    if let Some(nlu) = &template.nlu {
        let bytes = serde_json::to_vec(nlu).map_err(AppError::internal)?;
        crate::nlu::io::import(state, tenant.clone(), bot.id, DataFormat::Json, ImportMode::Merge, bytes).await?;
    }
    let knowledge_base_id = match &template.knowledge {
        Some(seed) => {
            let kb = create_knowledge_base(state, tenant, seed, &bot.name).await?;
            made.knowledge_base = Some(kb);
            for doc in &seed.documents {
                let paste = PasteTextRequest { name: doc.name.clone(), text: doc.text.clone(), metadata: None };
                crate::knowledge::service::paste(state, tenant.clone(), kb, paste).await?;
            }
            crate::knowledge::service::link_bot(state, tenant.clone(), bot.id, kb, 0).await?;
            Some(kb)
        }
        None => None,
    };
    let published = tenant.can(Permission::FlowsPublish);
    for (name, document) in &template.flows {
        let save = SaveFlowRequest {
            document: document.clone(),
            message: Some(format!("created from the template \u{201c}{}\u{201d}", template.name)),
            autosave: false,
        };
        crate::flows::service::save(state, tenant.clone(), bot.id, name.clone(), save).await?;
    }
    // Published only once every flow exists: publishing refuses a jump to a
    // flow the bot does not have yet.
    if published {
        for name in template.flows.keys() {
            let publish = PublishRequest { version: None, message: Some("first version".into()) };
            crate::flows::service::publish(state, tenant.clone(), bot.id, name.clone(), publish).await?;
        }
    }
    let training_job_id = if template.nlu.is_some() && state.config.ml.enabled && tenant.can(Permission::NluTrain) {
        Some(crate::nlu::train::enqueue_training(state, tenant.clone(), bot.id).await?.id.0)
    } else {
        None
    };
    Ok(TemplateBot {
        bot: super::service::get(state, tenant.clone(), bot.id).await?,
        entry_flow: "main".into(),
        published,
        knowledge_base_id,
        training_job_id,
        setup: template.setup.clone(),
    })
}

/// `POST /bots/{bot_id}/flows/from-template`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddTemplateFlowRequest {
    /// A template id from `GET /bot-templates`.
    #[schema(example = "feedback_survey")]
    pub template: String,
    /// The new flow's name. Default: the template id.
    #[serde(default)]
    pub flow_name: Option<String>,
}

/// The flow a template added to a bot.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TemplateFlow {
    pub flow_name: String,
    /// The draft version (never published here).
    pub version: crate::flows::model::FlowVersionView,
    /// Warnings of the draft (for example a knowledge node with no knowledge base linked yet).
    pub issues: Vec<crate::flows::compile::Issue>,
    /// Intents of the template merged into the bot's NLU data.
    pub intents_added: Vec<String>,
    pub setup: Option<String>,
}

/// Adds a template's entry flow to an existing bot as a new draft flow (409
/// `name_taken` when the bot has a flow of that name), merging the
/// template's intents into the bot's NLU data.
pub async fn add_as_flow(
    state: &AppState,
    tenant: Tenant,
    bot: BotId,
    req: AddTemplateFlowRequest,
) -> AppResult<TemplateFlow> {
    let template = find(&req.template)?;
    let name = req.flow_name.map_or_else(|| template.id.clone(), |n| n.trim().to_owned());
    crate::flows::compile::check_flow_name(&name).map_err(|m| AppError::validation("flow_name", m))?;
    let document = template
        .flows
        .get("main")
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("template {} has no main flow", template.id)))?;
    match crate::flows::service::get(state, tenant.clone(), bot, name.clone()).await {
        Ok(_) => {
            return Err(AppError::new(ErrorCode::NameTaken, format!("the bot already has a flow named `{name}`"))
                .with_details(serde_json::json!({ "field": "flow_name" })));
        }
        Err(e) if e.code() == ErrorCode::FlowNotFound => {}
        Err(e) => return Err(e),
    }
    let mut intents_added = Vec::new();
    if let Some(nlu) = &template.nlu {
        let bytes = serde_json::to_vec(nlu).map_err(AppError::internal)?;
        crate::nlu::io::import(state, tenant.clone(), bot, DataFormat::Json, ImportMode::Merge, bytes).await?;
        intents_added = nlu.intents.iter().map(|i| i.name.clone()).collect();
    }
    let save = SaveFlowRequest {
        document: document.clone(),
        message: Some(format!("added from the template \u{201c}{}\u{201d}", template.name)),
        autosave: false,
    };
    let saved = crate::flows::service::save(state, tenant, bot, name.clone(), save).await?;
    Ok(TemplateFlow {
        flow_name: name,
        version: saved.version,
        issues: saved.issues,
        intents_added,
        setup: template.setup.clone(),
    })
}

fn find(id: &str) -> AppResult<&'static Template> {
    TEMPLATES
        .iter()
        .find(|t| t.id == id)
        .ok_or_else(|| AppError::validation("template", "is not a bot template; GET /api/v1/bot-templates lists them"))
}

/// The template's knowledge base, named after the bot; another name is tried
/// when the organization already has one of that name.
async fn create_knowledge_base(
    state: &AppState,
    tenant: &Tenant,
    seed: &KnowledgeSeed,
    bot_name: &str,
) -> AppResult<KnowledgeBaseId> {
    let base: String = format!("{} \u{b7} {bot_name}", seed.name).chars().take(90).collect();
    for attempt in 1..=20 {
        let name = if attempt == 1 { base.clone() } else { format!("{base} ({attempt})") };
        let req = CreateKnowledgeBaseRequest {
            name,
            description: Some(seed.description.clone()),
            embedding_model: None,
            language: None,
            chunk_size: None,
            chunk_overlap: None,
        };
        match crate::knowledge::service::create_kb(state, tenant.clone(), req).await {
            Ok(kb) => return Ok(kb.id),
            Err(e) if e.code() == ErrorCode::NameTaken => {}
            Err(e) => return Err(e),
        }
    }
    Err(AppError::new(ErrorCode::NameTaken, "the organization already has knowledge bases of this name"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_file_parses_and_its_flows_compile() {
        assert_eq!(TEMPLATES.len(), FILES.len(), "a template file does not parse (see the logged error)");
        let mut ids: Vec<&str> = TEMPLATES.iter().map(|t| t.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), FILES.len(), "template ids are unique");
        assert!(FILES.len() >= 8, "the gallery has at least eight templates");
        for t in TEMPLATES.iter() {
            assert!(t.flows.contains_key("main"), "{}: a main flow", t.id);
            for (name, doc) in &t.flows {
                let compiled = crate::flows::compile::compile(doc);
                let errors: Vec<_> =
                    compiled.issues.iter().filter(|i| i.severity == crate::flows::compile::Severity::Error).collect();
                assert!(errors.is_empty(), "{}/{name}: {errors:?}", t.id);
                // A template is a finished flow: nothing blocks publishing it.
                let blocking: Vec<_> = crate::flows::compile::as_draft(compiled.issues)
                    .into_iter()
                    .filter(|i| i.blocks_publish || i.severity == crate::flows::compile::Severity::Error)
                    .collect();
                assert!(blocking.is_empty(), "{}/{name}: {blocking:?}", t.id);
            }
        }
    }
}

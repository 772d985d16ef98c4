//! HTTP handlers of the NLU domain: thin wrappers over the services.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

use super::evaluate::{self, EvaluateRequest};
use super::io;
use super::model::{
    AddExamplesRequest, AddExamplesResponse, AssignRequest, CountResponse, CreateEntityRequest, CreateIntentRequest,
    DataFormat, Entity, EntityId, Example, ExampleId, ExportQuery, ImportMode, ImportQuery, ImportSummary, Intent,
    IntentId, ModelVersion, ModelVersionId, NluLog, NluLogId, NluStatus, ParseRequest, ParseResult,
    RemoveExamplesRequest, UpdateEntityRequest, UpdateExampleRequest, UpdateIntentRequest,
};
use super::service::{self, ParseOptions};
use super::{data, store, train};
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::{BotScope, Json, Page, PageParams};
use crate::ids::BotId;
use crate::jobs::Job;
use crate::ml::Encoder;
use crate::permissions::perm;

/// Registers the NLU routes.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(nlu_status)
        .service(list_intents)
        .service(create_intent)
        .service(get_intent)
        .service(update_intent)
        .service(delete_intent)
        .service(list_examples)
        .service(add_examples)
        .service(remove_examples)
        .service(update_example)
        .service(list_entities)
        .service(create_entity)
        .service(get_entity)
        .service(update_entity)
        .service(delete_entity)
        .service(import_nlu)
        .service(export_nlu)
        .service(train_nlu)
        .service(list_models)
        .service(activate_model)
        .service(parse_text)
        .service(list_misunderstood)
        .service(assign_misunderstood)
        .service(dismiss_misunderstood)
        .service(evaluate_nlu);
}

/// Summary of the bot's NLU: counts, active model, whether to retrain.
#[utoipa::path(
    tag = "nlu",
    params(("bot_id" = i64, Path, description = "Bot id")),
    responses((status = 200, body = NluStatus), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/bots/{bot_id}/nlu")]
async fn nlu_status(scope: BotScope<perm::BotsRead>, state: web::Data<AppState>) -> AppResult<web::Json<NluStatus>> {
    let (bot, tenant) = (scope.id(), scope.into_tenant());
    let models = state.models.clone();
    let status = state
        .db
        .read(move |c| {
            let (intents, active_intents, examples, entities) = store::counts(c, &tenant, bot)?;
            let active = store::active_version(c, &tenant, bot)?;
            let encoder = crate::bots::store::nlu_encoder(c, &tenant, bot)?;
            let (data_changed, embedding_model_changed) = match &active {
                None => (examples > 0, false),
                Some(v) => {
                    let rows = store::training_rows(c, &tenant, bot)?;
                    let embedder = v.metrics["embedder"].as_str().unwrap_or_default();
                    // Another encoder, or another build of the same one
                    // (compared only once loaded: asking never loads it).
                    let loaded = models.loaded_encoder_id(encoder);
                    (
                        Some(train::current_hash(&rows, embedder)) != v.training_data_hash,
                        Encoder::of_model_id(embedder) != encoder
                            || loaded.as_deref().is_some_and(|loaded| loaded != embedder),
                    )
                }
            };
            let unresolved = store::count_misunderstood(c, &tenant, bot, evaluate::MISUNDERSTOOD_BELOW)?;
            Ok(NluStatus {
                intents,
                active_intents,
                examples,
                entities,
                active_model: active,
                needs_training: data_changed || embedding_model_changed,
                embedding_model_changed,
                encoder,
                unresolved_misunderstood: unresolved,
            })
        })
        .await?;
    Ok(web::Json(status))
}

/// Lists the bot's intents (oldest first) with their example counts.
#[utoipa::path(
    tag = "nlu",
    params(("bot_id" = i64, Path, description = "Bot id"), PageParams),
    responses((status = 200, body = Page<Intent>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/bots/{bot_id}/nlu/intents")]
async fn list_intents(
    scope: BotScope<perm::BotsRead>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Intent>>> {
    let bot = scope.id();
    Ok(web::Json(data::list_intents(&state, scope.into_tenant(), bot, page.into_inner()).await?))
}

/// Creates an intent, optionally with examples. Names are unique per bot.
#[utoipa::path(
    tag = "nlu",
    params(("bot_id" = i64, Path, description = "Bot id")),
    request_body = CreateIntentRequest,
    responses(
        (status = 201, body = Intent), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`name_taken`"), (status = 422, body = ErrorBody),
    ),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[post("/bots/{bot_id}/nlu/intents")]
async fn create_intent(
    scope: BotScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    body: Json<CreateIntentRequest>,
) -> AppResult<HttpResponse> {
    let bot = scope.id();
    let intent = data::create_intent(&state, scope.into_tenant(), bot, body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(intent))
}

/// Shows an intent.
#[utoipa::path(
    tag = "nlu",
    params(("bot_id" = i64, Path, description = "Bot id"), ("intent_id" = i64, Path, description = "Intent id")),
    responses((status = 200, body = Intent), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/bots/{bot_id}/nlu/intents/{intent_id}")]
async fn get_intent(
    scope: BotScope<perm::BotsRead>,
    state: web::Data<AppState>,
    path: web::Path<(BotId, IntentId)>,
) -> AppResult<web::Json<Intent>> {
    let bot = scope.id();
    Ok(web::Json(data::get_intent(&state, scope.into_tenant(), bot, path.1).await?))
}

/// Changes an intent's name, texts, active flag or confidence threshold.
#[utoipa::path(
    tag = "nlu",
    params(("bot_id" = i64, Path, description = "Bot id"), ("intent_id" = i64, Path, description = "Intent id")),
    request_body = UpdateIntentRequest,
    responses(
        (status = 200, body = Intent), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[patch("/bots/{bot_id}/nlu/intents/{intent_id}")]
async fn update_intent(
    scope: BotScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    path: web::Path<(BotId, IntentId)>,
    body: Json<UpdateIntentRequest>,
) -> AppResult<web::Json<Intent>> {
    let bot = scope.id();
    Ok(web::Json(data::update_intent(&state, scope.into_tenant(), bot, path.1, body.into_inner()?).await?))
}

/// Deletes an intent with its examples.
#[utoipa::path(
    tag = "nlu",
    params(("bot_id" = i64, Path, description = "Bot id"), ("intent_id" = i64, Path, description = "Intent id")),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[delete("/bots/{bot_id}/nlu/intents/{intent_id}")]
async fn delete_intent(
    scope: BotScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    path: web::Path<(BotId, IntentId)>,
) -> AppResult<HttpResponse> {
    let bot = scope.id();
    data::delete_intent(&state, scope.into_tenant(), bot, path.1).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Lists an intent's examples (oldest first).
#[utoipa::path(
    tag = "nlu",
    params(("bot_id" = i64, Path, description = "Bot id"), ("intent_id" = i64, Path, description = "Intent id"), PageParams),
    responses((status = 200, body = Page<Example>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/bots/{bot_id}/nlu/intents/{intent_id}/examples")]
async fn list_examples(
    scope: BotScope<perm::BotsRead>,
    state: web::Data<AppState>,
    path: web::Path<(BotId, IntentId)>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Example>>> {
    let bot = scope.id();
    Ok(web::Json(data::list_examples(&state, scope.into_tenant(), bot, path.1, page.into_inner()).await?))
}

/// Adds examples to an intent (texts it already has are reported, not duplicated).
#[utoipa::path(
    tag = "nlu",
    params(("bot_id" = i64, Path, description = "Bot id"), ("intent_id" = i64, Path, description = "Intent id")),
    request_body = AddExamplesRequest,
    responses((status = 201, body = AddExamplesResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[post("/bots/{bot_id}/nlu/intents/{intent_id}/examples")]
async fn add_examples(
    scope: BotScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    path: web::Path<(BotId, IntentId)>,
    body: Json<AddExamplesRequest>,
) -> AppResult<HttpResponse> {
    let bot = scope.id();
    let added = data::add_examples(&state, scope.into_tenant(), bot, path.1, body.into_inner()?.examples).await?;
    Ok(HttpResponse::Created().json(added))
}

/// Removes examples of the bot by id.
#[utoipa::path(
    tag = "nlu",
    params(("bot_id" = i64, Path, description = "Bot id")),
    request_body = RemoveExamplesRequest,
    responses((status = 200, body = CountResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[post("/bots/{bot_id}/nlu/examples/remove")]
async fn remove_examples(
    scope: BotScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    body: Json<RemoveExamplesRequest>,
) -> AppResult<web::Json<CountResponse>> {
    let bot = scope.id();
    let count = data::remove_examples(&state, scope.into_tenant(), bot, body.into_inner()?.ids).await?;
    Ok(web::Json(CountResponse { count }))
}

/// Changes an example's text or entity annotations.
#[utoipa::path(
    tag = "nlu",
    params(("bot_id" = i64, Path, description = "Bot id"), ("example_id" = i64, Path, description = "Example id")),
    request_body = UpdateExampleRequest,
    responses((status = 200, body = Example), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[patch("/bots/{bot_id}/nlu/examples/{example_id}")]
async fn update_example(
    scope: BotScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    path: web::Path<(BotId, ExampleId)>,
    body: Json<UpdateExampleRequest>,
) -> AppResult<web::Json<Example>> {
    let bot = scope.id();
    Ok(web::Json(data::update_example(&state, scope.into_tenant(), bot, path.1, body.into_inner()?).await?))
}

/// Lists the bot's entities with their values and synonyms.
#[utoipa::path(
    tag = "nlu",
    params(("bot_id" = i64, Path, description = "Bot id"), PageParams),
    responses((status = 200, body = Page<Entity>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/bots/{bot_id}/nlu/entities")]
async fn list_entities(
    scope: BotScope<perm::BotsRead>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Entity>>> {
    let bot = scope.id();
    Ok(web::Json(data::list_entities(&state, scope.into_tenant(), bot, page.into_inner()).await?))
}

/// Creates a list, regex or system entity. Regex patterns are compiled at
/// save (linear-time engine, size limits) and refused when invalid.
#[utoipa::path(
    tag = "nlu",
    params(("bot_id" = i64, Path, description = "Bot id")),
    request_body = CreateEntityRequest,
    responses((status = 201, body = Entity), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[post("/bots/{bot_id}/nlu/entities")]
async fn create_entity(
    scope: BotScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    body: Json<CreateEntityRequest>,
) -> AppResult<HttpResponse> {
    let bot = scope.id();
    let entity = data::create_entity(&state, scope.into_tenant(), bot, body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(entity))
}

/// Shows an entity.
#[utoipa::path(
    tag = "nlu",
    params(("bot_id" = i64, Path, description = "Bot id"), ("nlu_entity_id" = i64, Path, description = "NLU entity id")),
    responses((status = 200, body = Entity), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/bots/{bot_id}/nlu/entities/{nlu_entity_id}")]
async fn get_entity(
    scope: BotScope<perm::BotsRead>,
    state: web::Data<AppState>,
    path: web::Path<(BotId, EntityId)>,
) -> AppResult<web::Json<Entity>> {
    let bot = scope.id();
    Ok(web::Json(data::get_entity(&state, scope.into_tenant(), bot, path.1).await?))
}

/// Changes an entity (name, pattern, system type, fuzzy flag, values).
#[utoipa::path(
    tag = "nlu",
    params(("bot_id" = i64, Path, description = "Bot id"), ("nlu_entity_id" = i64, Path, description = "NLU entity id")),
    request_body = UpdateEntityRequest,
    responses((status = 200, body = Entity), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[patch("/bots/{bot_id}/nlu/entities/{nlu_entity_id}")]
async fn update_entity(
    scope: BotScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    path: web::Path<(BotId, EntityId)>,
    body: Json<UpdateEntityRequest>,
) -> AppResult<web::Json<Entity>> {
    let bot = scope.id();
    Ok(web::Json(data::update_entity(&state, scope.into_tenant(), bot, path.1, body.into_inner()?).await?))
}

/// Deletes an entity and its values.
#[utoipa::path(
    tag = "nlu",
    params(("bot_id" = i64, Path, description = "Bot id"), ("nlu_entity_id" = i64, Path, description = "NLU entity id")),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[delete("/bots/{bot_id}/nlu/entities/{nlu_entity_id}")]
async fn delete_entity(
    scope: BotScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    path: web::Path<(BotId, EntityId)>,
) -> AppResult<HttpResponse> {
    let bot = scope.id();
    data::delete_entity(&state, scope.into_tenant(), bot, path.1).await?;
    Ok(HttpResponse::NoContent().finish())
}

fn format_from_content_type(req: &HttpRequest) -> Option<DataFormat> {
    let ct = req.headers().get(header::CONTENT_TYPE)?.to_str().ok()?.split(';').next()?.trim().to_ascii_lowercase();
    match ct.as_str() {
        "application/json" => Some(DataFormat::Json),
        "text/csv" | "application/csv" => Some(DataFormat::Csv),
        "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml" => Some(DataFormat::Rasa),
        _ => None,
    }
}

/// Imports NLU data (JSON, Rasa YAML or CSV `text,intent`) as the raw
/// request body. All or nothing: a malformed file answers 422
/// `import_invalid` naming the line, and nothing is changed.
#[utoipa::path(
    tag = "nlu",
    params(("bot_id" = i64, Path, description = "Bot id"), ImportQuery),
    request_body(content = String, description = "The file", content_type = "text/plain"),
    responses(
        (status = 200, body = ImportSummary), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody, description = "`import_invalid`, `validation_failed`"),
    ),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[post("/bots/{bot_id}/nlu/import")]
async fn import_nlu(
    scope: BotScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ImportQuery>,
    body: web::Bytes,
) -> AppResult<web::Json<ImportSummary>> {
    let bot = scope.id();
    let format = query.format.or_else(|| format_from_content_type(&req)).ok_or_else(|| {
        AppError::validation(
            "format",
            "say format=json, rasa or csv (or send Content-Type application/json, application/yaml or text/csv)",
        )
    })?;
    let mode = query.mode.unwrap_or(ImportMode::Merge);
    Ok(web::Json(io::import(&state, scope.into_tenant(), bot, format, mode, body.to_vec()).await?))
}

/// Exports the bot's NLU data as JSON (lossless), Rasa YAML or CSV.
#[utoipa::path(
    tag = "nlu",
    params(("bot_id" = i64, Path, description = "Bot id"), ExportQuery),
    responses(
        // One content type per `format` (`io::render`): json (the default), rasa, csv.
        (status = 200, description = "The file", content(
            (io::NluDocument = "application/json"), (String = "application/yaml"), (String = "text/csv"),
        )),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/bots/{bot_id}/nlu/export")]
async fn export_nlu(
    scope: BotScope<perm::BotsRead>,
    state: web::Data<AppState>,
    query: web::Query<ExportQuery>,
) -> AppResult<HttpResponse> {
    let bot = scope.id();
    let format = query.format.unwrap_or(DataFormat::Json);
    let doc = io::document(&state, scope.into_tenant(), bot).await?;
    let (body, content_type, ext) = io::render(&doc, format);
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"bot-{bot}-nlu.{ext}\"")))
        .body(body))
}

/// Starts training a new model of the bot: returns the job (progress at
/// `GET /jobs/{job_id}`); the new model is activated when it succeeds.
#[utoipa::path(
    tag = "nlu",
    params(("bot_id" = i64, Path, description = "Bot id")),
    responses(
        (status = 202, body = Job), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "`nlu_training_data_invalid`: fewer than 2 intents with examples, or intents without examples (listed)"),
    ),
    security(("session" = ["nlu.train"]), ("api_token" = ["nlu.train"]))
)]
#[post("/bots/{bot_id}/nlu/train")]
async fn train_nlu(scope: BotScope<perm::NluTrain>, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let bot = scope.id();
    let job = train::enqueue_training(&state, scope.into_tenant(), bot).await?;
    Ok(HttpResponse::Accepted().json(job))
}

/// Lists the bot's trained model versions, newest first.
#[utoipa::path(
    tag = "nlu",
    params(("bot_id" = i64, Path, description = "Bot id"), PageParams),
    responses((status = 200, body = Page<ModelVersion>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/bots/{bot_id}/nlu/models")]
async fn list_models(
    scope: BotScope<perm::BotsRead>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<ModelVersion>>> {
    let bot = scope.id();
    Ok(web::Json(train::list_versions(&state, scope.into_tenant(), bot, page.into_inner()).await?))
}

/// Makes a previous model version the active one (served at once).
#[utoipa::path(
    tag = "nlu",
    params(("bot_id" = i64, Path, description = "Bot id"), ("model_version_id" = i64, Path, description = "Model version id")),
    responses((status = 200, body = ModelVersion), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("session" = ["nlu.train"]), ("api_token" = ["nlu.train"]))
)]
#[post("/bots/{bot_id}/nlu/models/{model_version_id}/activate")]
async fn activate_model(
    scope: BotScope<perm::NluTrain>,
    state: web::Data<AppState>,
    path: web::Path<(BotId, ModelVersionId)>,
) -> AppResult<web::Json<ModelVersion>> {
    let bot = scope.id();
    Ok(web::Json(train::activate(&state, scope.into_tenant(), bot, path.1).await?))
}

/// Parses a text: intent with calibrated confidence, out-of-scope flag,
/// top-5 ranking and entities with resolved values.
#[utoipa::path(
    tag = "nlu",
    params(("bot_id" = i64, Path, description = "Bot id")),
    request_body = ParseRequest,
    responses(
        (status = 200, body = ParseResult), (status = 400, body = ErrorBody, description = "`invalid_json` (including text that is not UTF-8)"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`nlu_not_trained`, `nlu_model_incompatible`"),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody, description = "empty or too long text, bad time zone"),
        (status = 503, body = ErrorBody, description = "`models_unavailable`"),
    ),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[post("/bots/{bot_id}/nlu/parse")]
async fn parse_text(
    scope: BotScope<perm::BotsRead>,
    state: web::Data<AppState>,
    body: Json<ParseRequest>,
) -> AppResult<web::Json<ParseResult>> {
    let req = body.into_inner()?;
    let options = ParseOptions::from_request(&req)?;
    Ok(web::Json(service::parse(&state, scope.tenant(), scope.id(), &req.text, options).await?))
}

/// The misunderstood inbox: logged parses that were out of scope or of low
/// confidence and nobody has resolved yet, newest first.
#[utoipa::path(
    tag = "nlu",
    params(("bot_id" = i64, Path, description = "Bot id"), PageParams),
    responses((status = 200, body = Page<NluLog>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/bots/{bot_id}/nlu/misunderstood")]
async fn list_misunderstood(
    scope: BotScope<perm::BotsRead>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<NluLog>>> {
    let bot = scope.id();
    Ok(web::Json(evaluate::misunderstood(&state, scope.into_tenant(), bot, page.into_inner()).await?))
}

/// Assigns a misunderstood utterance to an intent: it becomes an example
/// and the log entry is marked resolved.
#[utoipa::path(
    tag = "nlu",
    params(("bot_id" = i64, Path, description = "Bot id"), ("log_id" = i64, Path, description = "Parse log id")),
    request_body = AssignRequest,
    responses((status = 200, body = NluLog), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[post("/bots/{bot_id}/nlu/misunderstood/{log_id}/assign")]
async fn assign_misunderstood(
    scope: BotScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    path: web::Path<(BotId, NluLogId)>,
    body: Json<AssignRequest>,
) -> AppResult<web::Json<NluLog>> {
    let bot = scope.id();
    Ok(web::Json(evaluate::assign(&state, scope.into_tenant(), bot, path.1, body.into_inner()?).await?))
}

/// Marks a misunderstood utterance resolved without adding it anywhere.
#[utoipa::path(
    tag = "nlu",
    params(("bot_id" = i64, Path, description = "Bot id"), ("log_id" = i64, Path, description = "Parse log id")),
    responses((status = 200, body = NluLog), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[post("/bots/{bot_id}/nlu/misunderstood/{log_id}/dismiss")]
async fn dismiss_misunderstood(
    scope: BotScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    path: web::Path<(BotId, NluLogId)>,
) -> AppResult<web::Json<NluLog>> {
    let bot = scope.id();
    Ok(web::Json(evaluate::dismiss(&state, scope.into_tenant(), bot, path.1).await?))
}

/// Starts a k-fold cross-validation of the bot's data: the job's result is
/// the report (precision/recall/F1 per intent, macro/micro, confusions).
#[utoipa::path(
    tag = "nlu",
    params(("bot_id" = i64, Path, description = "Bot id")),
    request_body = EvaluateRequest,
    responses((status = 202, body = Job), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["nlu.train"]), ("api_token" = ["nlu.train"]))
)]
#[post("/bots/{bot_id}/nlu/evaluate")]
async fn evaluate_nlu(
    scope: BotScope<perm::NluTrain>,
    state: web::Data<AppState>,
    body: Json<EvaluateRequest>,
) -> AppResult<HttpResponse> {
    let bot = scope.id();
    let job = evaluate::enqueue_evaluation(&state, scope.into_tenant(), bot, body.into_inner()?).await?;
    Ok(HttpResponse::Accepted().json(job))
}

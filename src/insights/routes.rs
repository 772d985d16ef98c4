//! HTTP handlers of the insights domain: thin wrappers over the services.

use actix_web::{HttpResponse, get, post, web};
use utoipa_actix_web::service_config::ServiceConfig;

use super::model::{
    AddLoggedExampleRequest, Conflicts, ConflictsQuery, Funnel, Gaps, GapsQuery, InstanceHealth, IntentQuality,
    KnowledgeInsights, KnowledgeQuery, KnowledgeQuestion, LowScoreQuery, MessagesQuery, MoveExampleRequest, NluSummary,
    OrgStats, RangeQuery, RateLimitsView, SimilarRequest, SimilarResponse, SummaryQuery, Timeline, UnblockRequest,
    UnblockResponse,
};
use super::{admin, flows, knowledge, nlu};
use crate::admin::AdminScope;
use crate::app::AppState;
use crate::error::{AppResult, ErrorBody};
use crate::http::{BotScope, Json, OrgScope, Page};
use crate::ids::BotId;
use crate::nlu::model::{Example, NluLog};
use crate::permissions::perm;

/// Registers the insights routes.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(nlu_summary)
        .service(nlu_messages)
        .service(nlu_quality)
        .service(nlu_conflicts)
        .service(nlu_gaps)
        .service(nlu_similar)
        .service(nlu_move_example)
        .service(nlu_add_example)
        .service(knowledge_summary)
        .service(knowledge_low_scores)
        .service(flow_funnel)
        .service(org_stats)
        .service(org_timeline)
        .service(admin_health)
        .service(admin_rate_limits)
        .service(admin_unblock);
}

/// NLU traffic of a range: totals, confidence histogram, intents.
#[utoipa::path(
    tag = "insights",
    params(("bot_id" = i64, Path, description = "Bot id"), SummaryQuery),
    responses((status = 200, body = NluSummary), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/bots/{bot_id}/nlu/insights/summary")]
async fn nlu_summary(
    scope: BotScope<perm::BotsRead>,
    state: web::Data<AppState>,
    q: web::Query<SummaryQuery>,
) -> AppResult<web::Json<NluSummary>> {
    let bot = scope.id();
    Ok(web::Json(nlu::summary(&state, scope.into_tenant(), bot, q.into_inner()).await?))
}

/// Low-confidence (`kind=low_confidence`) or unmatched (`kind=unmatched`)
/// messages of a range, newest first.
#[utoipa::path(
    tag = "insights",
    params(("bot_id" = i64, Path, description = "Bot id"), MessagesQuery),
    responses((status = 200, body = Page<NluLog>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/bots/{bot_id}/nlu/insights/messages")]
async fn nlu_messages(
    scope: BotScope<perm::BotsRead>,
    state: web::Data<AppState>,
    q: web::Query<MessagesQuery>,
) -> AppResult<web::Json<Page<NluLog>>> {
    let bot = scope.id();
    Ok(web::Json(nlu::messages(&state, scope.into_tenant(), bot, q.into_inner()).await?))
}

/// Precision and recall per intent from the bot's last evaluation.
#[utoipa::path(
    tag = "insights",
    params(("bot_id" = i64, Path, description = "Bot id")),
    responses((status = 200, body = IntentQuality), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/bots/{bot_id}/nlu/insights/intents")]
async fn nlu_quality(
    scope: BotScope<perm::BotsRead>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<IntentQuality>> {
    let bot = scope.id();
    Ok(web::Json(nlu::quality(&state, scope.into_tenant(), bot).await?))
}

/// Conflicts: near-duplicate examples of different intents (cosine
/// similarity of their sentence vectors) and the intents the last
/// evaluation confused.
#[utoipa::path(
    tag = "insights",
    params(("bot_id" = i64, Path, description = "Bot id"), ConflictsQuery),
    responses(
        (status = 200, body = Conflicts), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody, description = "`models_unavailable`"),
    ),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/bots/{bot_id}/nlu/insights/conflicts")]
async fn nlu_conflicts(
    scope: BotScope<perm::BotsRead>,
    state: web::Data<AppState>,
    q: web::Query<ConflictsQuery>,
) -> AppResult<web::Json<Conflicts>> {
    let bot = scope.id();
    Ok(web::Json(nlu::conflicts(&state, scope.into_tenant(), bot, q.into_inner().threshold).await?))
}

/// Training gaps: intents with too few examples or examples too alike
/// (without the local models, only the counts are checked).
#[utoipa::path(
    tag = "insights",
    params(("bot_id" = i64, Path, description = "Bot id"), GapsQuery),
    responses(
        (status = 200, body = Gaps), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/bots/{bot_id}/nlu/insights/gaps")]
async fn nlu_gaps(
    scope: BotScope<perm::BotsRead>,
    state: web::Data<AppState>,
    q: web::Query<GapsQuery>,
) -> AppResult<web::Json<Gaps>> {
    let bot = scope.id();
    let q = q.into_inner();
    Ok(web::Json(nlu::gaps(&state, scope.into_tenant(), bot, q.min_examples, q.similarity).await?))
}

/// The training examples nearest to a sentence, with their intents.
#[utoipa::path(
    tag = "insights",
    params(("bot_id" = i64, Path, description = "Bot id")),
    request_body = SimilarRequest,
    responses(
        (status = 200, body = SimilarResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody, description = "`models_unavailable`"),
    ),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[post("/bots/{bot_id}/nlu/insights/similar")]
async fn nlu_similar(
    scope: BotScope<perm::BotsRead>,
    state: web::Data<AppState>,
    body: Json<SimilarRequest>,
) -> AppResult<web::Json<SimilarResponse>> {
    let bot = scope.id();
    let req = body.into_inner()?;
    Ok(web::Json(nlu::similar(&state, scope.into_tenant(), bot, req.text, req.limit).await?))
}

/// Moves a training example to another intent.
#[utoipa::path(
    tag = "insights",
    params(("bot_id" = i64, Path, description = "Bot id")),
    request_body = MoveExampleRequest,
    responses(
        (status = 200, body = Example), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "`example_not_found`, `intent_not_found` (with the field)"),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[post("/bots/{bot_id}/nlu/insights/move-example")]
async fn nlu_move_example(
    scope: BotScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    body: Json<MoveExampleRequest>,
) -> AppResult<web::Json<Example>> {
    let bot = scope.id();
    let req = body.into_inner()?;
    Ok(web::Json(
        crate::nlu::data::move_example(&state, scope.into_tenant(), bot, req.example_id, req.intent_id).await?,
    ))
}

/// Adds a logged message as an example of an intent.
#[utoipa::path(
    tag = "insights",
    params(("bot_id" = i64, Path, description = "Bot id")),
    request_body = AddLoggedExampleRequest,
    responses(
        (status = 201, body = Example), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "`nlu_log_not_found`, `intent_not_found` (with the field)"),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[post("/bots/{bot_id}/nlu/insights/add-example")]
async fn nlu_add_example(
    scope: BotScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    body: Json<AddLoggedExampleRequest>,
) -> AppResult<HttpResponse> {
    let bot = scope.id();
    let req = body.into_inner()?;
    let example =
        crate::nlu::data::add_logged_example(&state, scope.into_tenant(), bot, req.log_id, req.intent_id).await?;
    Ok(HttpResponse::Created().json(example))
}

/// Knowledge answers of the bot: answered vs "I don't know", most cited
/// documents and chunks.
#[utoipa::path(
    tag = "insights",
    params(("bot_id" = i64, Path, description = "Bot id"), KnowledgeQuery),
    responses((status = 200, body = KnowledgeInsights), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/bots/{bot_id}/knowledge/insights")]
async fn knowledge_summary(
    scope: BotScope<perm::BotsRead>,
    state: web::Data<AppState>,
    q: web::Query<KnowledgeQuery>,
) -> AppResult<web::Json<KnowledgeInsights>> {
    let bot = scope.id();
    Ok(web::Json(knowledge::summary(&state, scope.into_tenant(), bot, q.into_inner()).await?))
}

/// Knowledge questions whose best retrieval score was low, newest first.
#[utoipa::path(
    tag = "insights",
    params(("bot_id" = i64, Path, description = "Bot id"), LowScoreQuery),
    responses((status = 200, body = Page<KnowledgeQuestion>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/bots/{bot_id}/knowledge/insights/low-scores")]
async fn knowledge_low_scores(
    scope: BotScope<perm::BotsRead>,
    state: web::Data<AppState>,
    q: web::Query<LowScoreQuery>,
) -> AppResult<web::Json<Page<KnowledgeQuestion>>> {
    let bot = scope.id();
    Ok(web::Json(knowledge::low_scores(&state, scope.into_tenant(), bot, q.into_inner()).await?))
}

/// A flow's funnel: conversations that reached each node, drop-off and
/// time per node, moves per edge.
#[utoipa::path(
    tag = "insights",
    params(("bot_id" = i64, Path, description = "Bot id"), ("flow_name" = String, Path, description = "Flow name"), RangeQuery),
    responses((status = 200, body = Funnel), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/bots/{bot_id}/flows/{flow_name}/funnel")]
async fn flow_funnel(
    scope: BotScope<perm::BotsRead>,
    state: web::Data<AppState>,
    path: web::Path<(BotId, String)>,
    q: web::Query<RangeQuery>,
) -> AppResult<web::Json<Funnel>> {
    let bot = scope.id();
    let flow = path.into_inner().1;
    Ok(web::Json(flows::funnel(&state, scope.into_tenant(), bot, flow, q.into_inner()).await?))
}

/// Counts of the organization (members, bots, conversations, knowledge, jobs).
#[utoipa::path(
    tag = "insights",
    params(("org_id" = i64, Path, description = "Organization id")),
    responses((status = 200, body = OrgStats), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["analytics.read"]), ("api_token" = ["analytics.read"]))
)]
#[get("/orgs/{org_id}/admin/stats")]
async fn org_stats(scope: OrgScope<perm::AnalyticsRead>, state: web::Data<AppState>) -> AppResult<web::Json<OrgStats>> {
    Ok(web::Json(admin::org_stats(&state, scope.into_tenant()).await?))
}

/// The organization's activity timeline: audit and activity events per
/// day, and the latest audit events.
#[utoipa::path(
    tag = "insights",
    params(("org_id" = i64, Path, description = "Organization id"), RangeQuery),
    responses((status = 200, body = Timeline), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["audit.read"]), ("api_token" = ["audit.read"]))
)]
#[get("/orgs/{org_id}/admin/activity-timeline")]
async fn org_timeline(
    scope: OrgScope<perm::AuditRead>,
    state: web::Data<AppState>,
    q: web::Query<RangeQuery>,
) -> AppResult<web::Json<Timeline>> {
    Ok(web::Json(admin::timeline(&state, scope.into_tenant(), q.into_inner()).await?))
}

/// Instance health: data file and WAL size, job queue, models.
#[utoipa::path(
    tag = "admin",
    responses((status = 200, body = InstanceHealth), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("admin_session" = []))
)]
#[get("/admin/health")]
async fn admin_health(admin: AdminScope, state: web::Data<AppState>) -> AppResult<web::Json<InstanceHealth>> {
    Ok(web::Json(admin::health(&state, admin.0).await?))
}

/// Rate-limit settings and the clients refused now.
#[utoipa::path(
    tag = "admin",
    responses((status = 200, body = RateLimitsView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("admin_session" = []))
)]
#[get("/admin/rate-limits")]
async fn admin_rate_limits(admin: AdminScope, state: web::Data<AppState>) -> web::Json<RateLimitsView> {
    web::Json(admin::rate_limits(&state, &admin.0))
}

/// Unblocks a refused client (`id`) or every one (`all: true`).
#[utoipa::path(
    tag = "admin",
    request_body = UnblockRequest,
    responses(
        (status = 200, body = UnblockResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "`blocked_client_not_found`"), (status = 422, body = ErrorBody),
    ),
    security(("admin_session" = []))
)]
#[post("/admin/rate-limits/unblock")]
async fn admin_unblock(
    admin: AdminScope,
    state: web::Data<AppState>,
    body: Json<UnblockRequest>,
) -> AppResult<web::Json<UnblockResponse>> {
    Ok(web::Json(admin::unblock(&state, admin.0, body.into_inner()?).await?))
}

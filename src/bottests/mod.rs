//! Conversation tests of a bot: saved from the emulator, edited on the
//! bot's tests page, run against the draft in one click and on every
//! publish (see `service`).

pub mod model;
pub mod service;
pub mod store;

use actix_web::{HttpResponse, delete, get, post, put, web};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::{BotTest, BotTestRequest, TestRun};
use self::service::BotTestResource;
use crate::app::AppState;
use crate::error::{AppResult, ErrorBody};
use crate::http::{BotScope, Json, Page, PageParams, Scoped};
use crate::permissions::perm;

/// Registers the routes of conversation tests.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_tests)
        .service(create_test)
        .service(run_tests)
        .service(list_test_runs)
        .service(get_test)
        .service(update_test)
        .service(delete_test);
}

/// The bot's conversation tests.
#[utoipa::path(
    tag = "bot_tests",
    params(("bot_id" = i64, Path, description = "Bot id")),
    responses((status = 200, body = Vec<BotTest>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/bots/{bot_id}/tests")]
async fn list_tests(scope: BotScope<perm::BotsRead>, state: web::Data<AppState>) -> AppResult<web::Json<Vec<BotTest>>> {
    let bot = scope.id();
    Ok(web::Json(service::list(&state, scope.into_tenant(), bot).await?))
}

/// Saves a conversation test (e.g. the emulator's conversation so far).
#[utoipa::path(
    tag = "bot_tests",
    params(("bot_id" = i64, Path, description = "Bot id")),
    request_body = BotTestRequest,
    responses((status = 201, body = BotTest), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`name_taken`"),
              (status = 422, body = ErrorBody, description = "`validation_failed` with `details.field`, e.g. `turns[2].intent.min_confidence`")),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[post("/bots/{bot_id}/tests")]
async fn create_test(
    scope: BotScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    body: Json<BotTestRequest>,
) -> AppResult<HttpResponse> {
    let bot = scope.id();
    let test = service::create(&state, scope.into_tenant(), bot, body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(test))
}

/// Runs every test of the bot against its draft flows; the run is kept.
#[utoipa::path(
    tag = "bot_tests",
    params(("bot_id" = i64, Path, description = "Bot id")),
    responses((status = 200, body = TestRun), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[post("/bots/{bot_id}/tests/run")]
async fn run_tests(scope: BotScope<perm::BotsWrite>, state: web::Data<AppState>) -> AppResult<web::Json<TestRun>> {
    let bot = scope.id();
    Ok(web::Json(service::run_draft(&state, scope.into_tenant(), bot).await?))
}

/// The bot's test runs (by hand and by publishes), newest first.
#[utoipa::path(
    tag = "bot_tests",
    params(("bot_id" = i64, Path, description = "Bot id"), PageParams),
    responses((status = 422, body = ErrorBody, description = "`validation_failed`: `limit` outside 1–200 or a malformed `after` cursor"), (status = 200, body = Page<TestRun>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/bots/{bot_id}/test-runs")]
async fn list_test_runs(
    scope: BotScope<perm::BotsRead>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<TestRun>>> {
    let bot = scope.id();
    Ok(web::Json(service::runs(&state, scope.into_tenant(), bot, page.into_inner()).await?))
}

/// One conversation test.
#[utoipa::path(
    tag = "bot_tests",
    params(("test_id" = i64, Path, description = "Test id")),
    responses((status = 200, body = BotTest), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/bot-tests/{test_id}")]
async fn get_test(
    scope: Scoped<BotTestResource, perm::BotsRead>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<BotTest>> {
    let id = scope.id();
    Ok(web::Json(service::get(&state, scope.into_tenant(), id).await?))
}

/// Replaces a test's name and expectations.
#[utoipa::path(
    tag = "bot_tests",
    params(("test_id" = i64, Path, description = "Test id")),
    request_body = BotTestRequest,
    responses((status = 200, body = BotTest), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[put("/bot-tests/{test_id}")]
async fn update_test(
    scope: Scoped<BotTestResource, perm::BotsWrite>,
    state: web::Data<AppState>,
    body: Json<BotTestRequest>,
) -> AppResult<web::Json<BotTest>> {
    let id = scope.id();
    Ok(web::Json(service::update(&state, scope.into_tenant(), id, body.into_inner()?).await?))
}

/// Deletes a test.
#[utoipa::path(
    tag = "bot_tests",
    params(("test_id" = i64, Path, description = "Test id")),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[delete("/bot-tests/{test_id}")]
async fn delete_test(
    scope: Scoped<BotTestResource, perm::BotsWrite>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    service::delete(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

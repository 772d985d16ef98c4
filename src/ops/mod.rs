//! Operations endpoints: liveness, readiness and Prometheus metrics.

use std::collections::BTreeMap;
use std::sync::RwLock;

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::app::AppState;
use crate::db;
use crate::error::{AppError, AppResult};

/// Registers the ops routes.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(healthz).service(readyz).service(metrics);
}

/// State of a component that must be up before the server is ready.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "state", content = "detail")]
pub enum ComponentState {
    Starting,
    Ready,
    Failed(String),
}

/// Components that report readiness (e.g. `models`), besides the database.
#[derive(Debug, Default)]
pub struct Readiness {
    components: RwLock<BTreeMap<&'static str, ComponentState>>,
}

impl Readiness {
    /// Records the state of a component.
    pub fn set(&self, name: &'static str, state: ComponentState) {
        if let Ok(mut components) = self.components.write() {
            components.insert(name, state);
        }
    }

    /// The state of every component.
    #[must_use]
    pub fn snapshot(&self) -> BTreeMap<&'static str, ComponentState> {
        self.components.read().map(|c| c.clone()).unwrap_or_default()
    }
}

#[derive(Serialize, utoipa::ToSchema)]
struct Health {
    status: &'static str,
    version: &'static str,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Ready {
    /// `ready` or `not_ready`.
    status: &'static str,
    #[schema(value_type = Object)]
    checks: BTreeMap<&'static str, ComponentState>,
}

/// Liveness: the process answers.
#[utoipa::path(tag = "ops", responses((status = 200, body = Health)))]
#[get("/healthz")]
async fn healthz() -> web::Json<Health> {
    web::Json(Health { status: "ok", version: env!("CARGO_PKG_VERSION") })
}

/// Readiness: database reachable, schema current, models loaded.
#[utoipa::path(tag = "ops", responses((status = 200, body = Ready), (status = 503, body = Ready)))]
#[get("/readyz")]
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let mut checks = state.readiness.snapshot();
    let database = state
        .db
        .read(|conn| {
            conn.query_row("SELECT 1", [], |_| Ok(()))?;
            Ok(db::schema_is_current(conn)?)
        })
        .await;
    let (db_state, schema_state) = match database {
        Ok(true) => (ComponentState::Ready, ComponentState::Ready),
        Ok(false) => (ComponentState::Ready, ComponentState::Failed("pending migrations".into())),
        Err(e) => (ComponentState::Failed(e.message().to_owned()), ComponentState::Starting),
    };
    checks.insert("database", db_state);
    checks.insert("migrations", schema_state);
    let ready = checks.values().all(|c| *c == ComponentState::Ready);
    let body = Ready { status: if ready { "ready" } else { "not_ready" }, checks };
    if ready { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(tag = "ops", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
#[get("/metrics")]
async fn metrics(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let (writer, readers) = state.db.pool_stats();
    for (pool, stats) in [("writer", writer), ("readers", readers)] {
        state.metrics.db_pool.with_label_values(&[pool, "open"]).set(i64::from(stats.connections));
        state.metrics.db_pool.with_label_values(&[pool, "idle"]).set(i64::from(stats.idle));
    }
    let counts = state.db.read(|conn| Ok(crate::jobs::store::count_by_status(conn)?)).await?;
    for (status, n) in counts {
        state.metrics.jobs.with_label_values(&[&status]).set(n);
    }
    let depth = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    state.metrics.queue_depth.with_label_values(&["write"]).set(depth(state.runtime.write_queue_depth()));
    state.metrics.queue_depth.with_label_values(&["inference"]).set(depth(state.models.inference_queue_depth()));
    let text = state.metrics.render().map_err(AppError::internal)?;
    Ok(HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(text))
}

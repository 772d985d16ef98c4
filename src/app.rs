//! Builds the application from a `Config`: opens the data file, assembles the
//! actix app from every domain's `routes()`, binds, and runs until a signal.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::Server;
use actix_web::http::header::ContentType;
use actix_web::middleware::{Compress, from_fn};
use actix_web::{App, HttpResponse, HttpServer, web};
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;
use utoipa_actix_web::{AppExt, scope};
use utoipa_swagger_ui::{Config as SwaggerConfig, SwaggerUi};

use crate::config::Config;
use crate::conversations::runtime::Runtime;
use crate::crypto::Keys;
use crate::db::{DataLock, Db};
use crate::http::json::{BodyLimits, path_config, query_config};
use crate::http::metrics::Metrics;
use crate::http::middleware::edge;
use crate::http::openapi::ApiDoc;
use crate::http::ratelimit::RateLimits;
use crate::http::routing::{RouteTable, fallback};
use crate::keycheck::{self, KeyPolicy, RekeyReport};
use crate::ml::Models;
use crate::nlu::NluRuntime;
use crate::ops::Readiness;
use crate::outbound::Outbound;
use crate::outbound::mail::Mailer;
use crate::{
    accounts, admin, billing, bots, bottests, channels, contacts, conversations, files, flows, insights, integrations,
    jobs, knowledge, llm, mcp, nlu, ops, orgs, sandbox, tools, versions, webhooks, widget,
};

/// Everything handlers share; registered as `web::Data<AppState>`.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub keys: Arc<Keys>,
    pub metrics: Arc<Metrics>,
    pub readiness: Arc<Readiness>,
    pub jobs: jobs::Queue,
    pub models: Models,
    pub outbound: Outbound,
    /// The conversation runtime: caches, group-commit writer, event hub.
    pub runtime: Runtime,
    pub mailer: Mailer,
    pub limits: Arc<RateLimits>,
    /// NLU serving caches and the parse-log writer.
    pub nlu: NluRuntime,
    /// Knowledge retrieval state (vector code caches, extra embedding models).
    pub knowledge: knowledge::Runtime,
    /// The code-tool sandbox: its slots and the server's maxima.
    pub sandbox: sandbox::Sandbox,
    /// The OIDC JWKS cache of every SSO configuration.
    pub sso: crate::sso::JwksCache,
    /// The in-memory retrieval indexes of recently used clone versions.
    pub clones: crate::clones::retrieval::Indexes,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Lock(#[from] crate::db::LockError),
    #[error(transparent)]
    Key(#[from] crate::crypto::KeyError),
    #[error(transparent)]
    Data(#[from] crate::db::FileError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("{0}")]
    Other(String),
}

/// A built, bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
    shutdown: CancellationToken,
    workers: Vec<tokio::task::JoinHandle<()>>,
    lock: DataLock,
    rekeyed: Option<RekeyReport>,
}

/// How [`AppState::open_with`] treats the data file.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenOptions {
    /// Whether a master key that does not match the data file is refused.
    pub key_policy: KeyPolicy,
}

impl AppState {
    /// Opens the data file and everything that lives beside it; used by
    /// `serve` and by CLI commands that work on a database.
    pub fn open(config: Config) -> Result<(AppState, DataLock), StartError> {
        let (state, lock, _) = AppState::open_with(config, OpenOptions::default())?;
        Ok((state, lock))
    }

    /// [`AppState::open`] with options; also returns what a re-key did.
    ///
    /// The master key must match the check value stored in the data file
    /// (unless re-keying); a data file without one gets it now. Jobs left
    /// running by a previous process are handed back: the data-file lock
    /// proves that process is gone.
    pub fn open_with(
        config: Config,
        options: OpenOptions,
    ) -> Result<(AppState, DataLock, Option<RekeyReport>), StartError> {
        config.validate()?;
        let lock = DataLock::acquire(&config.data)?;
        let stored = keycheck::stored_check(&config.data)?;
        let keys = keycheck::load_keys(&config.data, &config.secret_key_path(), stored.as_deref(), options.key_policy)?;
        let db = Db::open(&config.data, &config.db)?;
        let rekeyed = keycheck::settle(&db, &keys, options.key_policy).map_err(|e| StartError::Other(e.to_string()))?;
        if let Some(report) = &rekeyed {
            for line in report.lines() {
                tracing::warn!("{line}");
            }
        }
        jobs::reclaim_orphaned(&db).map_err(|e| StartError::Other(e.to_string()))?;
        webhooks::deliver::resume(&db).map_err(|e| StartError::Other(e.to_string()))?;
        channels::send::resume(&db).map_err(|e| StartError::Other(e.to_string()))?;
        orgs::service::sync_builtin_roles(&db).map_err(|e| StartError::Other(e.to_string()))?;
        admin::service::seed_allowlist(&db, &config.admin.ip_allowlist)
            .map_err(|e| StartError::Other(e.to_string()))?;
        crate::billing::apply_config(&db, &config.billing).map_err(|e| StartError::Other(e.to_string()))?;
        db.write_blocking(|tx| crate::voice::templates::seed(tx)).map_err(|e| StartError::Other(e.to_string()))?;
        let mailer = Mailer::new(&config.smtp).map_err(|e| StartError::Other(e.to_string()))?;
        let limits = Arc::new(RateLimits::new(&config.rate_limits));
        let metrics = Metrics::new().map_err(|e| StartError::Other(e.to_string()))?;
        let outbound = Outbound::new(&config.outbound).map_err(|e| StartError::Other(e.to_string()))?;
        let readiness = Arc::new(Readiness::default());
        let models = Models::load_in_background(&config.ml, readiness.clone(), metrics.registry().clone());
        let queue = jobs::Queue::new(db.clone());
        let runtime = Runtime::new(db.clone(), queue.clone(), config.runtime.clone())
            .map_err(|e| StartError::Other(format!("cannot start the conversation runtime: {e}")))?;
        let nlu =
            NluRuntime::start(db.clone(), Some(metrics.registry())).map_err(|e| StartError::Other(e.to_string()))?;
        let sandbox = sandbox::Sandbox::new(&config.sandbox);
        let state = AppState {
            config: Arc::new(config),
            jobs: queue,
            runtime,
            db,
            keys: Arc::new(keys),
            metrics: Arc::new(metrics),
            readiness,
            models,
            outbound,
            mailer,
            limits,
            nlu,
            knowledge: knowledge::Runtime::default(),
            sandbox,
            sso: crate::sso::JwksCache::default(),
            clones: crate::clones::retrieval::Indexes::default(),
        };
        Ok((state, lock, rekeyed))
    }
}

impl Application {
    /// Opens the database, binds the listener and prepares the server.
    pub fn build(config: Config) -> Result<Application, StartError> {
        Application::build_with(config, OpenOptions::default())
    }

    /// [`Application::build`] with options (e.g. `serve --rekey`).
    pub fn build_with(config: Config, options: OpenOptions) -> Result<Application, StartError> {
        let addr = config.bind_addr()?;
        let (mut state, lock, rekeyed) = AppState::open_with(config, options)?;
        let listener = TcpListener::bind(addr).map_err(|source| StartError::Bind { addr: addr.to_string(), source })?;
        let local = listener.local_addr().map_err(|e| StartError::Other(e.to_string()))?;
        let port = local.port();
        // Links in emails must reach this server: with no public URL set and
        // an ephemeral port (port 0), use the address actually bound.
        if state.config.http.public_url.is_none() && addr.port() == 0 {
            let mut config = (*state.config).clone();
            config.http.public_url = Some(format!("http://{local}"));
            state.config = Arc::new(config);
        }

        let spec = openapi();
        let route_table = web::Data::new(RouteTable::from_openapi(&spec));
        // Serialized once and shared: every HTTP worker builds its own App,
        // and a copy of the document per worker costs megabytes each.
        let spec_json = web::Bytes::from(spec.to_json().map_err(|e| StartError::Other(e.to_string()))?);
        drop(spec);
        let app_state = web::Data::new(state.clone());
        let metrics = web::Data::from(state.metrics.clone());
        let limits = web::Data::new(BodyLimits { json_bytes: state.config.http.max_json_bytes });
        let payload_limit = state.config.http.max_upload_bytes;
        let mut server = HttpServer::new(move || {
            // The docs must be registered before the `/api/v1` scope, which
            // would otherwise claim `/api/v1/openapi.json`.
            let (app, _) = App::new()
                .service(SwaggerUi::new("/api/docs/{_:.*}").config(SwaggerConfig::from(OPENAPI_PATH)))
                .service(web::resource(OPENAPI_PATH).route(web::get().to({
                    let spec_json = spec_json.clone();
                    move || {
                        let body = spec_json.clone();
                        async move { HttpResponse::Ok().content_type(ContentType::json()).body(body) }
                    }
                })))
                .into_utoipa_app()
                .openapi(ApiDoc::openapi())
                .app_data(app_state.clone())
                .app_data(metrics.clone())
                .app_data(limits.clone())
                .app_data(route_table.clone())
                .app_data(web::PayloadConfig::new(payload_limit))
                .app_data(query_config())
                .app_data(path_config())
                .configure(ops::routes)
                .configure(widget::root_routes)
                .configure(channels::root_routes)
                .configure(crate::voice::root_routes)
                .configure(integrations::root_routes)
                .service(scope::scope("/api/v1").configure(api_routes))
                .split_for_parts();
            // SCIM (RFC 7644) has its own contract and error body: outside the OpenAPI document.
            let app = app.configure(crate::scim::protocol_routes);
            app.default_service(web::to(fallback)).wrap(Compress::default()).wrap(from_fn(edge))
        })
        .listen(listener)
        .map_err(|source| StartError::Bind { addr: addr.to_string(), source })?
        .shutdown_timeout(state.config.http.shutdown_timeout_secs);
        if let Some(workers) = state.config.http.workers {
            server = server.workers(workers);
        }
        let server = server.run();
        Ok(Application { port, server, state, shutdown: CancellationToken::new(), workers: Vec::new(), lock, rekeyed })
    }

    /// The bound port (useful with port 0).
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Shared state, for tests and benchmarks.
    #[must_use]
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// What `--rekey` cleared, when the data file was re-keyed at start-up.
    #[must_use]
    pub fn rekeyed(&self) -> Option<&RekeyReport> {
        self.rekeyed.as_ref()
    }

    /// A handle that stops the server (what SIGTERM does), for tests and
    /// benchmarks that restart it on the same data file.
    #[must_use]
    pub fn stop_handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Starts background workers and serves until SIGINT/SIGTERM, then drains
    /// in-flight requests, stops workers and checkpoints the WAL.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run().await.map(drop)
    }

    /// Like [`Application::run_until_stopped`], but hands back the data-file
    /// lock still held: the process owns the file until it exits, even if a
    /// blocking thread outlives the runtime. `serve` exits with it in hand.
    ///
    /// The whole stop — drain, workers, WAL checkpoint — is bounded by
    /// `http.shutdown_timeout_secs` from the moment a signal arrives; workers
    /// are told to stop at once, not after the drain.
    pub async fn run(mut self) -> std::io::Result<DataLock> {
        self.workers = jobs::spawn_workers(&self.state, &self.shutdown);
        self.workers.push(crate::nlu::retrain::spawn_after_models_load(&self.state, &self.shutdown));
        if self.state.config.jobs.workers > 0 {
            self.workers.push(jobs::spawn_scheduler(&self.state, &self.shutdown));
        }
        let timeout = Duration::from_secs(self.state.config.http.shutdown_timeout_secs);
        let signalled = spawn_signal_watch(self.shutdown.clone());
        tracing::info!(port = self.port, data = %self.state.config.data.display(), "botbuilder is listening");
        let result = self.server.await;
        self.shutdown.cancel();
        // The timeout counts from the signal when there was one (the drain
        // above used part of it), else from now (a stop handle).
        let started = signalled.lock().ok().and_then(|s| *s).unwrap_or_else(Instant::now);
        let deadline = started + timeout;
        let workers = futures_util::future::join_all(self.workers.drain(..));
        if tokio::time::timeout_at(deadline.into(), workers).await.is_err() {
            tracing::warn!("background workers did not stop within the shutdown timeout; leaving them");
        }
        // Parse logs still queued are written before the WAL is folded back.
        let (state, remaining) = (self.state.clone(), deadline.saturating_duration_since(Instant::now()));
        let finish = tokio::task::spawn_blocking(move || {
            state.nlu.shutdown();
            state.db.checkpoint()
        });
        match tokio::time::timeout(remaining, finish).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "WAL checkpoint on shutdown failed"),
            Ok(Err(e)) => tracing::warn!(error = %e, "WAL checkpoint on shutdown failed"),
            Err(_) => tracing::warn!("WAL checkpoint did not finish within the shutdown timeout; the WAL is kept"),
        }
        tracing::info!("botbuilder stopped");
        result.map(|()| self.lock)
    }
}

/// Cancels `shutdown` on SIGINT/SIGTERM (actix drains the HTTP side on the
/// same signals) and records when the first signal came.
fn spawn_signal_watch(shutdown: CancellationToken) -> Arc<std::sync::Mutex<Option<Instant>>> {
    let at = Arc::new(std::sync::Mutex::new(None));
    let record = at.clone();
    tokio::spawn(async move {
        tokio::select! {
            signalled = stop_signal() => if !signalled { return },
            () = shutdown.cancelled() => return,
        }
        if let Ok(mut slot) = record.lock() {
            *slot = Some(Instant::now());
        }
        shutdown.cancel();
    });
    at
}

/// Waits for the first SIGTERM or SIGINT; false when the handlers cannot
/// be installed (then no signal will ever be seen).
pub(crate) async fn stop_signal() -> bool {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        return false;
    };
    tokio::select! {
        _ = term.recv() => true,
        _ = int.recv() => true,
    }
}

/// Routes under `/api/v1`, one `routes()` per domain.
pub(crate) fn api_routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    accounts::routes(cfg);
    crate::analytics::routes(cfg);
    crate::experiments::routes(cfg);
    orgs::routes(cfg);
    billing::stripe_routes(cfg);
    bots::routes(cfg);
    bottests::routes(cfg);
    channels::routes(cfg);
    crate::clones::routes(cfg);
    contacts::routes(cfg);
    jobs::routes(cfg);
    versions::routes(cfg);
    admin::routes(cfg);
    crate::agents::routes(cfg);
    crate::billing::routes(cfg);
    flows::routes(cfg);
    conversations::routes(cfg);
    files::routes(cfg);
    crate::finetune::routes(cfg);
    widget::routes(cfg);
    nlu::routes(cfg);
    knowledge::routes(cfg);
    llm::routes(cfg);
    webhooks::routes(cfg);
    integrations::routes(cfg);
    insights::routes(cfg);
    sandbox::routes(cfg);
    tools::routes(cfg);
    mcp::routes(cfg);
    crate::workflows::routes(cfg);
    crate::autonomous::routes(cfg);
    crate::voice::routes(cfg);
    crate::scim::routes(cfg);
    crate::sso::routes(cfg);
    crate::recovery::routes(cfg);
    crate::portability::routes(cfg);
}

/// Where the `OpenAPI` document is served.
const OPENAPI_PATH: &str = "/api/v1/openapi.json";

/// The `OpenAPI` document of the whole application, as served at
/// `/api/v1/openapi.json`.
#[must_use]
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(ops::routes)
        .configure(widget::root_routes)
        .configure(channels::root_routes)
        .configure(crate::voice::root_routes)
        .configure(integrations::root_routes)
        .service(scope::scope("/api/v1").configure(api_routes))
        .split_for_parts();
    let mut api = api;
    utoipa::Modify::modify(&crate::http::openapi::SharedErrors, &mut api);
    api
}

//! Serving state of the NLU: per-bot caches of the active model and of the
//! compiled entities, and the batched writer of parse logs.
//!
//! Caches are maps behind `RwLock`s holding `Arc`s: a parse clones the `Arc`
//! under a short read lock and works on its own copy, so activating a new
//! model (one write of the map entry) never waits for parses nor blocks
//! them. After a restart the maps start empty and fill lazily from the
//! database on a bot's first parse.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use ndarray::Array2;
use prometheus::{Histogram, HistogramOpts, IntCounter, Registry};
use rusqlite::OptionalExtension;

use super::entities::learned::split_model_file;
use super::entities::{EntityDef, EntityLabeller, EntityLanguage, EntitySet, ListValue, SystemKind};
use super::model::{EntityType, ModelVersionId};
use super::store::{self, LogRow};
use crate::db::Db;
use crate::error::AppResult;
use crate::http::Tenant;
use crate::ids::{BotId, OrgId};
use crate::ml::classifier::IntentModel;

/// Parse logs waiting to be written; beyond this, new ones are dropped (and counted).
const LOG_QUEUE: usize = 20_000;
/// Most rows per write transaction.
const LOG_BATCH: usize = 500;
/// How long a log waits at most before it is written.
const LOG_FLUSH: Duration = Duration::from_millis(20);

/// A model version loaded for serving.
pub struct LoadedModel {
    pub org_id: OrgId,
    pub version_id: ModelVersionId,
    pub version_number: i64,
    pub model: IntentModel,
    /// The learned entity extractor, when the bot had annotated examples.
    pub entities: Option<EntityLabeller>,
}

/// What parsing needs of a bot besides the model: its entities and the
/// current intent settings (active flag, threshold override).
pub struct BotData {
    pub org_id: OrgId,
    pub entities: EntitySet,
    pub intents: HashMap<String, IntentSettings>,
    /// The bot's override of the nearest-example similarity floor
    /// (`settings.nlu_similarity_floor`; `None` = the calibrated floor).
    pub similarity_floor: Option<f64>,
}

/// An intent's serving settings.
#[derive(Debug, Clone, Copy)]
pub struct IntentSettings {
    pub active: bool,
    pub threshold: Option<f64>,
}

/// Cache entry of a bot's model: `None` = the bot has no active model.
type ModelSlot = Option<Arc<LoadedModel>>;

/// The NLU serving state; cheap to clone.
#[derive(Clone)]
pub struct NluRuntime {
    inner: Arc<Inner>,
}

struct Inner {
    models: RwLock<HashMap<BotId, (OrgId, ModelSlot)>>,
    /// Model versions served by A/B experiments besides the active one
    /// (versions never change, so entries stay until the map is full).
    versions: RwLock<HashMap<ModelVersionId, Arc<LoadedModel>>>,
    data: RwLock<HashMap<BotId, Arc<BotData>>>,
    /// Bumped by every invalidation, so that a load that raced with a change
    /// does not cache what it read before the change.
    generation: AtomicU64,
    log: SyncSender<LogMessage>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    metrics: NluMetrics,
    /// The background corpus's vectors and the embedding model's vectors key.
    background: Mutex<Option<(String, Arc<Array2<f32>>)>>,
}

enum LogMessage {
    Row(Box<LogRow>),
    Stop,
}

/// Prometheus metrics of parsing.
#[derive(Clone)]
pub struct NluMetrics {
    pub parses: IntCounter,
    pub parse_seconds: Histogram,
    pub logs_written: IntCounter,
    pub logs_dropped: IntCounter,
}

impl NluMetrics {
    fn new(registry: Option<&Registry>) -> anyhow::Result<NluMetrics> {
        let parses = IntCounter::new("nlu_parses_total", "NLU parses answered")?;
        let parse_seconds = Histogram::with_opts(
            HistogramOpts::new("nlu_parse_seconds", "Duration of one NLU parse (embedding, intent, entities)")
                .buckets(vec![0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.0]),
        )?;
        let logs_written = IntCounter::new("nlu_logs_written_total", "Parse logs written to nlu_logs")?;
        let logs_dropped =
            IntCounter::new("nlu_logs_dropped_total", "Parse logs dropped because the writer fell behind")?;
        if let Some(r) = registry {
            for c in [&parses, &logs_written, &logs_dropped] {
                r.register(Box::new(c.clone()))?;
            }
            r.register(Box::new(parse_seconds.clone()))?;
        }
        Ok(NluMetrics { parses, parse_seconds, logs_written, logs_dropped })
    }
}

impl NluRuntime {
    /// Starts the log writer thread.
    pub fn start(db: Db, registry: Option<&Registry>) -> anyhow::Result<NluRuntime> {
        let (log, rx) = sync_channel(LOG_QUEUE);
        let metrics = NluMetrics::new(registry)?;
        let written = metrics.logs_written.clone();
        let writer =
            std::thread::Builder::new().name("nlu-log-writer".into()).spawn(move || write_logs(&db, &rx, &written))?;
        Ok(NluRuntime {
            inner: Arc::new(Inner {
                models: RwLock::new(HashMap::new()),
                versions: RwLock::new(HashMap::new()),
                data: RwLock::new(HashMap::new()),
                generation: AtomicU64::new(0),
                log,
                writer: Mutex::new(Some(writer)),
                metrics,
                background: Mutex::new(None),
            }),
        })
    }

    #[must_use]
    pub fn metrics(&self) -> &NluMetrics {
        &self.inner.metrics
    }

    /// Queues a parse log; never blocks (drops and counts when the queue is full).
    pub fn log(&self, row: LogRow) {
        match self.inner.log.try_send(LogMessage::Row(Box::new(row))) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => self.inner.metrics.logs_dropped.inc(),
        }
    }

    /// Writes the queued logs and stops the writer (on shutdown).
    pub fn shutdown(&self) {
        let _ = self.inner.log.send(LogMessage::Stop);
        if let Ok(mut slot) = self.inner.writer.lock()
            && let Some(handle) = slot.take()
        {
            let _ = handle.join();
        }
    }

    /// The background corpus's vectors, if computed under `key`.
    #[must_use]
    pub fn cached_background(&self, key: &str) -> Option<Arc<Array2<f32>>> {
        let slot = self.inner.background.lock().ok()?;
        slot.as_ref().filter(|(k, _)| k == key).map(|(_, v)| v.clone())
    }

    /// Keeps the background corpus's vectors computed under `key`.
    pub fn cache_background(&self, key: String, vectors: Arc<Array2<f32>>) {
        if let Ok(mut slot) = self.inner.background.lock() {
            *slot = Some((key, vectors));
        }
    }

    /// The cached model slot of a bot, if it is cached (no I/O).
    #[must_use]
    pub fn cached_model(&self, org: OrgId, bot: BotId) -> Option<ModelSlot> {
        let map = self.inner.models.read().ok()?;
        map.get(&bot).filter(|(o, _)| *o == org).map(|(_, slot)| slot.clone())
    }

    /// The cached data of a bot, if it is cached (no I/O).
    #[must_use]
    pub fn cached_data(&self, org: OrgId, bot: BotId) -> Option<Arc<BotData>> {
        let map = self.inner.data.read().ok()?;
        map.get(&bot).filter(|d| d.org_id == org).cloned()
    }

    /// The bot's active model, loaded from the database on first use (blocking).
    pub fn model(&self, db: &Db, tenant: &Tenant, bot: BotId) -> AppResult<ModelSlot> {
        if let Some(slot) = self.cached_model(tenant.org_id(), bot) {
            return Ok(slot);
        }
        let generation = self.inner.generation.load(Ordering::SeqCst);
        let loaded = db.read_blocking(|conn| load_active(conn, tenant, bot))?;
        if let Ok(mut map) = self.inner.models.write()
            && self.inner.generation.load(Ordering::SeqCst) == generation
        {
            map.insert(bot, (tenant.org_id(), loaded.clone()));
        }
        Ok(loaded)
    }

    /// A cached model version (no I/O).
    #[must_use]
    pub fn cached_version(&self, org: OrgId, id: ModelVersionId) -> Option<Arc<LoadedModel>> {
        let map = self.inner.versions.read().ok()?;
        map.get(&id).filter(|m| m.org_id == org).cloned()
    }

    /// A model version of the bot, loaded from the database on first use
    /// (blocking); `None` when it does not exist or has no weights.
    pub fn version(
        &self,
        db: &Db,
        tenant: &Tenant,
        bot: BotId,
        id: ModelVersionId,
    ) -> AppResult<Option<Arc<LoadedModel>>> {
        if let Some(m) = self.cached_version(tenant.org_id(), id) {
            return Ok(Some(m));
        }
        let loaded = db.read_blocking(|conn| load_version(conn, tenant, bot, id))?;
        if let (Some(m), Ok(mut map)) = (&loaded, self.inner.versions.write()) {
            if map.len() >= 32 {
                map.clear();
            }
            map.insert(id, m.clone());
        }
        Ok(loaded)
    }

    /// Serves `model` for the bot from now on (after activation).
    pub fn swap_model(&self, bot: BotId, model: LoadedModel) {
        self.inner.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut map) = self.inner.models.write() {
            map.insert(bot, (model.org_id, Some(Arc::new(model))));
        }
    }

    /// Forgets the cached model of a bot (reloaded on next use).
    pub fn forget_model(&self, bot: BotId) {
        self.inner.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut map) = self.inner.models.write() {
            map.remove(&bot);
        }
    }

    /// The bot's compiled entities and intent settings (blocking on a miss).
    pub fn data(&self, db: &Db, tenant: &Tenant, bot: BotId) -> AppResult<Arc<BotData>> {
        if let Some(data) = self.cached_data(tenant.org_id(), bot) {
            return Ok(data);
        }
        let generation = self.inner.generation.load(Ordering::SeqCst);
        let data = Arc::new(db.read_blocking(|conn| load_data(conn, tenant, bot))?);
        if let Ok(mut map) = self.inner.data.write()
            && self.inner.generation.load(Ordering::SeqCst) == generation
        {
            map.insert(bot, data.clone());
        }
        Ok(data)
    }

    /// Drops the cached entities and intent settings of a bot (after any change).
    pub fn invalidate_data(&self, bot: BotId) {
        self.inner.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut map) = self.inner.data.write() {
            map.remove(&bot);
        }
    }
}

fn load_active(conn: &rusqlite::Connection, tenant: &Tenant, bot: BotId) -> AppResult<ModelSlot> {
    let Some(version) = store::active_version(conn, tenant, bot)? else { return Ok(None) };
    load_row(conn, tenant, &version)
}

fn load_version(conn: &rusqlite::Connection, tenant: &Tenant, bot: BotId, id: ModelVersionId) -> AppResult<ModelSlot> {
    let Some(version) = store::find_version(conn, tenant, bot, id)? else { return Ok(None) };
    load_row(conn, tenant, &version)
}

fn load_row(
    conn: &rusqlite::Connection,
    tenant: &Tenant,
    version: &super::model::ModelVersion,
) -> AppResult<ModelSlot> {
    let Some(bytes) = store::version_weights(conn, tenant, version.id)? else { return Ok(None) };
    let (intent, entities) = split_model_file(&bytes).map_err(crate::error::AppError::internal)?;
    let model = IntentModel::from_bytes(intent).map_err(crate::error::AppError::internal)?;
    Ok(Some(Arc::new(LoadedModel {
        org_id: tenant.org_id(),
        version_id: version.id,
        version_number: version.version_number,
        model,
        entities,
    })))
}

pub(crate) fn load_data(conn: &rusqlite::Connection, tenant: &Tenant, bot: BotId) -> AppResult<BotData> {
    let defs: Vec<EntityDef> = store::all_entities(conn, tenant, bot)?
        .into_iter()
        .filter_map(|e| match e.kind {
            EntityType::List => Some(EntityDef::List {
                name: e.name,
                values: e.values.into_iter().map(|v| ListValue { value: v.value, synonyms: v.synonyms }).collect(),
                fuzzy: e.fuzzy_matching,
            }),
            EntityType::Regex => e.pattern.map(|pattern| EntityDef::Regex { name: e.name, pattern }),
            EntityType::System => e
                .system_type
                .as_deref()
                .and_then(SystemKind::parse)
                .map(|kind| EntityDef::System { name: e.name, kind }),
        })
        .collect();
    let intents = store::all_intents(conn, tenant, bot)?
        .into_iter()
        .map(|i| (i.name, IntentSettings { active: i.is_active, threshold: i.confidence_threshold }))
        .collect();
    let similarity_floor = crate::bots::service::nlu_similarity_floor(conn, tenant, bot)?;
    // System entities are read in the bot's language.
    let language: Option<String> = conn
        .query_row(
            "SELECT language FROM bots WHERE id = ?1 AND organization_id = ?2",
            rusqlite::params![bot, tenant.org_id()],
            |r| r.get(0),
        )
        .optional()?;
    let entities = EntitySet::new(&defs).with_language(EntityLanguage::from_tag(language.as_deref().unwrap_or("en")));
    Ok(BotData { org_id: tenant.org_id(), entities, intents, similarity_floor })
}

fn write_logs(db: &Db, rx: &Receiver<LogMessage>, written: &IntCounter) {
    let mut batch: Vec<LogRow> = Vec::new();
    let mut stop = false;
    while !stop {
        match rx.recv() {
            Ok(LogMessage::Row(row)) => batch.push(*row),
            Ok(LogMessage::Stop) | Err(_) => stop = true,
        }
        let deadline = Instant::now() + LOG_FLUSH;
        while !stop && batch.len() < LOG_BATCH {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(LogMessage::Row(row)) => batch.push(*row),
                Ok(LogMessage::Stop) | Err(RecvTimeoutError::Disconnected) => stop = true,
                Err(RecvTimeoutError::Timeout) => break,
            }
        }
        if batch.is_empty() {
            continue;
        }
        let rows = std::mem::take(&mut batch);
        let n = rows.len() as u64;
        match db.write_blocking(|tx| Ok(store::insert_logs(tx, &rows)?)) {
            Ok(()) => written.inc_by(n),
            Err(e) => tracing::warn!(error = ?e, rows = n, "cannot write NLU parse logs"),
        }
    }
}

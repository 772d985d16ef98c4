//! Sentence embeddings: tokenizer + ONNX session(s), mean pooling and L2
//! normalisation, with micro-batching of concurrent requests.
//!
//! Requests go into one queue; each session has a worker thread that takes
//! everything queued (up to `max_batch_texts`), waits at most `batch_wait`
//! for more, and runs one inference per group of texts with the same token
//! count. Same-length groups need no padding, which on this model made
//! batches of mixed lengths slower than single rows (2 cores, banking77:
//! 342-400 parses/s padded against 594 single), while chat traffic of
//! similar messages still shares inferences (1,000 NLU turns/s at 128
//! conversations against 550 single). The int8 model scales activations
//! once per inference, so a batched vector moves slightly with its
//! batch-mates (cosine ≥ 0.98); `max_batch_texts` 1 makes every vector
//! independent of other traffic.
//!
//! The queue is bounded: `queue_max_texts` texts may be queued or running
//! at once. Background work ([`Embedder::embed`]) waits for room;
//! conversation turns ([`Embedder::try_embed`]) are refused at once with
//! [`Overloaded`] when the queue is full, so that a burst beyond what the
//! model can serve is answered quickly (503, a busy reply or keyword-only
//! understanding) instead of queueing without bound.
//!
//! Sessions never spin: ONNX Runtime's intra- and inter-op thread pools
//! busy-wait for new work by default, which kept an idle server's inference
//! threads at about half a core for minutes after traffic stopped.

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use ndarray::Array2;
use ort::environment::Environment;
use ort::ep;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::Tensor;
use prometheus::{Histogram, HistogramOpts, IntCounter, IntGauge, Registry};
use tokenizers::Tokenizer;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

/// The embedded default model (all-MiniLM-L6-v2, see models/README.md).
static EMBEDDED_MODEL: &[u8] = include_bytes!(env!("BUNDLE_EMBED_MODEL"));
static EMBEDDED_TOKENIZER: &[u8] = include_bytes!(env!("BUNDLE_EMBED_TOKENIZER"));

/// The shipped `MiniLM` tokenizer without padding or truncation, for
/// counting tokens (fine-tuning datasets) without loading the model.
pub fn shipped_tokenizer() -> anyhow::Result<Tokenizer> {
    let mut tokenizer = Tokenizer::from_bytes(EMBEDDED_TOKENIZER).map_err(|e| anyhow!("invalid tokenizer: {e}"))?;
    tokenizer.with_padding(None);
    tokenizer.with_truncation(None).map_err(|e| anyhow!("tokenizer truncation: {e}"))?;
    Ok(tokenizer)
}

/// Most tokens in one inference; bounds ONNX Runtime's memory when long
/// passages are embedded.
const MAX_BATCH_TOKENS: usize = 4096;

/// Texts per extra session below which a bulk job uses the serving session.
const BULK_MIN_TEXTS: usize = 1000;

/// Default bound of the inference queue: about 100-150 ms of chat messages
/// at the 700-1,000 texts/s one session served on 2 cores (see
/// `bench runtime`'s model-alone rate), ~300 ms on a host half as fast.
pub const DEFAULT_QUEUE_MAX_TEXTS: usize = 128;

/// Where the model comes from and how to run it.
#[derive(Debug, Clone)]
pub struct EmbedderOptions {
    /// An ONNX sentence-embedding model file; `None` = the embedded model.
    pub model_path: Option<PathBuf>,
    /// Its `tokenizer.json`; required with `model_path`.
    pub tokenizer_path: Option<PathBuf>,
    /// Sessions, each with its own worker thread.
    pub sessions: usize,
    /// Intra-op threads per session.
    pub threads_per_session: usize,
    /// Longest input in tokens (longer texts are truncated).
    pub max_tokens: usize,
    /// How long a worker waits for more requests before running a batch.
    pub batch_wait: Duration,
    /// Most texts in one inference (1: each text runs alone).
    pub max_batch_texts: usize,
    /// Most texts queued or running at once (see the module documentation).
    pub queue_max_texts: usize,
    /// Put before every text embedded as a query or a message (E5's
    /// `query: `); empty for models trained without one.
    pub query_prefix: String,
    /// Put before every document passage ([`Embedder::embed_passages`]).
    pub passage_prefix: String,
    /// The model's name in its identity (`name@hash`); `None` = the file's stem.
    pub model_name: Option<String>,
}

/// The embedder's queue is full: the request was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overloaded {
    /// Texts queued or running when the request was refused.
    pub queued: usize,
    /// The bound (`ml.queue_max_texts`).
    pub bound: usize,
}

impl std::fmt::Display for Overloaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the inference queue is full ({} of {} texts)", self.queued, self.bound)
    }
}

impl std::error::Error for Overloaded {}

impl Default for EmbedderOptions {
    fn default() -> Self {
        Self {
            model_path: None,
            tokenizer_path: None,
            sessions: 1,
            threads_per_session: 2,
            max_tokens: 256,
            batch_wait: Duration::from_micros(500),
            max_batch_texts: 32,
            queue_max_texts: DEFAULT_QUEUE_MAX_TEXTS,
            query_prefix: String::new(),
            passage_prefix: String::new(),
            model_name: None,
        }
    }
}

/// A loaded embedding model. Cheap to clone.
#[derive(Clone)]
pub struct Embedder {
    inner: Arc<Inner>,
    queue: Sender<Request>,
    room: Arc<Semaphore>,
    bound: usize,
}

/// Room for some texts in the inference queue, held until their request
/// is answered (or the reservation dropped).
pub struct Reservation {
    _permit: OwnedSemaphorePermit,
    texts: usize,
    depth: IntGauge,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.depth.sub(i64::try_from(self.texts).unwrap_or(i64::MAX));
    }
}

struct Inner {
    tokenizer: Tokenizer,
    sessions: Vec<Mutex<Session>>,
    dim: usize,
    with_token_types: bool,
    output: String,
    model_id: String,
    max_tokens: usize,
    max_batch_texts: usize,
    /// The id the model pads with (E5's `<pad>` is 1, BERT's `[PAD]` 0).
    pad_id: i64,
    query_prefix: String,
    passage_prefix: String,
    /// Single-threaded sessions a bulk run spreads over: the operator's
    /// inference thread budget (`sessions × threads_per_session`).
    bulk_workers: usize,
    environment: Arc<Environment>,
    /// Where bulk runs load their extra sessions from.
    source: ModelSource,
    metrics: EmbedMetrics,
}

/// The model bytes of a loaded embedder, for sessions created later.
enum ModelSource {
    Embedded,
    File(PathBuf),
}

struct Request {
    texts: Vec<String>,
    reply: oneshot::Sender<anyhow::Result<Vec<Vec<f32>>>>,
    /// Released once the request is answered.
    _room: Reservation,
}

#[derive(Clone)]
struct EmbedMetrics {
    texts: IntCounter,
    batches: IntCounter,
    batch_seconds: Histogram,
    queue_texts: IntGauge,
    refused: IntCounter,
}

impl EmbedMetrics {
    fn new(registry: Option<&Registry>) -> anyhow::Result<Self> {
        let texts = IntCounter::new("ml_embedded_texts_total", "Texts embedded")?;
        let batches = IntCounter::new("ml_inference_batches_total", "Embedding inferences run")?;
        let batch_seconds = Histogram::with_opts(
            HistogramOpts::new("ml_inference_seconds", "Duration of one embedding inference (tokenize + run + pool)")
                .buckets(vec![0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.0, 2.0]),
        )?;
        let queue_texts = IntGauge::new("ml_inference_queue_texts", "Texts queued or running in the embedder")?;
        let refused =
            IntCounter::new("ml_inference_refused_total", "Embedding requests refused because the queue was full")?;
        if let Some(r) = registry {
            r.register(Box::new(texts.clone()))?;
            r.register(Box::new(batches.clone()))?;
            r.register(Box::new(batch_seconds.clone()))?;
            r.register(Box::new(queue_texts.clone()))?;
            r.register(Box::new(refused.clone()))?;
        }
        Ok(Self { texts, batches, batch_seconds, queue_texts, refused })
    }
}

impl Embedder {
    /// Loads the model (blocking: hundreds of milliseconds) and starts the workers.
    pub fn load(
        options: &EmbedderOptions,
        runtime_path: Option<&std::path::Path>,
        registry: Option<&Registry>,
    ) -> anyhow::Result<Embedder> {
        let environment = super::runtime::environment(runtime_path)?;
        let (source, model, tokenizer_bytes, model_id) = match (&options.model_path, &options.tokenizer_path) {
            (None, None) => (
                ModelSource::Embedded,
                EMBEDDED_MODEL.to_vec(),
                EMBEDDED_TOKENIZER.to_vec(),
                format!("all-MiniLM-L6-v2-qint8@{}", short_hash(EMBEDDED_MODEL)),
            ),
            (Some(model), Some(tokenizer)) => {
                let bytes = std::fs::read(model).with_context(|| format!("reading model {}", model.display()))?;
                let tok =
                    std::fs::read(tokenizer).with_context(|| format!("reading tokenizer {}", tokenizer.display()))?;
                let name = options.model_name.clone().unwrap_or_else(|| {
                    model.file_stem().map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned())
                });
                let id = format!("{name}@{}", short_hash(&bytes));
                (ModelSource::File(model.clone()), bytes, tok, id)
            }
            _ => bail!("ml.model_path and ml.tokenizer_path must be set together"),
        };
        let mut tokenizer = Tokenizer::from_bytes(&tokenizer_bytes).map_err(|e| anyhow!("invalid tokenizer: {e}"))?;
        let pad_id = tokenizer
            .get_padding()
            .map(|p| p.pad_id)
            .or_else(|| tokenizer.token_to_id("<pad>"))
            .or_else(|| tokenizer.token_to_id("[PAD]"))
            .map_or(0, i64::from);
        // The shipped tokenizer.json has fixed padding and truncation baked
        // in; we pad per batch ourselves and truncate at max_tokens.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(tokenizers::TruncationParams {
                max_length: options.max_tokens,
                ..Default::default()
            }))
            .map_err(|e| anyhow!("tokenizer truncation: {e}"))?;

        let mut sessions = Vec::new();
        for _ in 0..options.sessions.max(1) {
            sessions.push(build_session(&environment, &model, options.threads_per_session)?);
        }
        let first = sessions.first().ok_or_else(|| anyhow!("no session"))?;
        let input_names: Vec<String> = first.inputs().iter().map(|i| i.name().to_owned()).collect();
        for required in ["input_ids", "attention_mask"] {
            if !input_names.iter().any(|n| n == required) {
                bail!("the model has no `{required}` input (inputs: {input_names:?})");
            }
        }
        let with_token_types = input_names.iter().any(|n| n == "token_type_ids");
        let output = first
            .outputs()
            .iter()
            .map(|o| o.name().to_owned())
            .find(|n| n == "last_hidden_state" || n == "token_embeddings")
            .or_else(|| first.outputs().first().map(|o| o.name().to_owned()))
            .ok_or_else(|| anyhow!("the model has no outputs"))?;

        let mut inner = Inner {
            tokenizer,
            sessions: sessions.into_iter().map(Mutex::new).collect(),
            dim: 0,
            with_token_types,
            output,
            model_id,
            max_tokens: options.max_tokens,
            max_batch_texts: options.max_batch_texts.max(1),
            pad_id,
            query_prefix: options.query_prefix.clone(),
            passage_prefix: options.passage_prefix.clone(),
            bulk_workers: options.sessions.max(1) * options.threads_per_session.max(1),
            environment,
            source,
            metrics: EmbedMetrics::new(registry)?,
        };
        // The dimension is read from the model by embedding one word.
        inner.dim = inner.run_on(&inner.sessions[0], &["dimension probe"], 1)?.first().map_or(0, Vec::len);
        if inner.dim == 0 {
            bail!("the model produced empty embeddings");
        }
        let inner = Arc::new(inner);
        let (queue, receiver) = mpsc::channel::<Request>();
        let receiver = Arc::new(Mutex::new(receiver));
        for i in 0..inner.sessions.len() {
            let (inner, receiver, wait) = (inner.clone(), receiver.clone(), options.batch_wait);
            std::thread::Builder::new()
                .name(format!("embed-{i}"))
                .spawn(move || worker(&inner, &receiver, &inner.sessions[i], wait))
                .context("starting an embedding worker")?;
        }
        let bound = options.queue_max_texts.max(1);
        Ok(Embedder { inner, queue, room: Arc::new(Semaphore::new(bound)), bound })
    }

    /// Vector dimension of the model.
    #[must_use]
    pub fn dim(&self) -> usize {
        self.inner.dim
    }

    /// Identifies the model (name and content hash) for stored vectors.
    #[must_use]
    pub fn model_id(&self) -> &str {
        &self.inner.model_id
    }

    /// Identifies the vectors this embedder gives a text run alone: the
    /// model and the truncation length (a cached vector is valid while the
    /// key is the same).
    #[must_use]
    pub fn vectors_key(&self) -> String {
        format!("{}/{}", self.inner.model_id, self.inner.max_tokens)
    }

    /// Embeds texts through the shared queue (micro-batched with other
    /// requests), waiting for room in the queue first (background work).
    pub async fn embed(&self, texts: Vec<String>) -> anyhow::Result<Vec<Vec<f32>>> {
        self.embed_waiting(texts, &self.inner.query_prefix).await
    }

    /// Embeds document passages (knowledge chunks) like [`Embedder::embed`],
    /// with the model's passage prefix instead of the query prefix.
    pub async fn embed_passages(&self, texts: Vec<String>) -> anyhow::Result<Vec<Vec<f32>>> {
        self.embed_waiting(texts, &self.inner.passage_prefix).await
    }

    async fn embed_waiting(&self, texts: Vec<String>, prefix: &str) -> anyhow::Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let n = self.permits(texts.len());
        let permit = self.room.clone().acquire_many_owned(n).await.map_err(|_| anyhow!("the embedder stopped"))?;
        self.send(self.reservation(permit), prefixed(prefix, texts)).await
    }

    /// Embeds one text, waiting for room in the queue.
    pub async fn embed_one(&self, text: &str) -> anyhow::Result<Vec<f32>> {
        self.embed(vec![text.to_owned()]).await?.pop().ok_or_else(|| anyhow!("no embedding returned"))
    }

    /// Room for `texts` texts in the queue now, or [`Overloaded`] when the
    /// queue is full (a request larger than the bound needs an empty queue).
    pub fn try_reserve(&self, texts: usize) -> Result<Reservation, Overloaded> {
        if let Ok(permit) = self.room.clone().try_acquire_many_owned(self.permits(texts)) {
            return Ok(self.reservation(permit));
        }
        self.inner.metrics.refused.inc();
        Err(Overloaded { queued: self.queued(), bound: self.bound })
    }

    /// Embeds texts in room reserved with [`Embedder::try_reserve`].
    pub async fn embed_reserved(&self, room: Reservation, texts: Vec<String>) -> anyhow::Result<Vec<Vec<f32>>> {
        self.send(room, prefixed(&self.inner.query_prefix, texts)).await
    }

    /// Queues texts already prefixed.
    async fn send(&self, room: Reservation, texts: Vec<String>) -> anyhow::Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        self.queue.send(Request { texts, reply, _room: room }).map_err(|_| anyhow!("the embedding workers stopped"))?;
        answer.await.map_err(|_| anyhow!("the embedding worker dropped the request"))?
    }

    /// Embeds texts for a conversation turn: refused at once with
    /// [`Overloaded`] (in the error chain) when the queue is full.
    pub async fn try_embed(&self, texts: Vec<String>) -> anyhow::Result<Vec<Vec<f32>>> {
        let room = self.try_reserve(texts.len())?;
        self.embed_reserved(room, texts).await
    }

    /// Embeds one text for a conversation turn (see [`Embedder::try_embed`]).
    pub async fn try_embed_one(&self, text: &str) -> anyhow::Result<Vec<f32>> {
        self.try_embed(vec![text.to_owned()]).await?.pop().ok_or_else(|| anyhow!("no embedding returned"))
    }

    /// Texts queued or running now.
    #[must_use]
    pub fn queued(&self) -> usize {
        self.bound.saturating_sub(self.room.available_permits())
    }

    /// The queue's bound, in texts.
    #[must_use]
    pub fn queue_bound(&self) -> usize {
        self.bound
    }

    fn permits(&self, texts: usize) -> u32 {
        u32::try_from(texts.clamp(1, self.bound)).unwrap_or(u32::MAX)
    }

    fn reservation(&self, permit: OwnedSemaphorePermit) -> Reservation {
        let texts = permit.num_permits();
        let depth = self.inner.metrics.queue_texts.clone();
        depth.add(i64::try_from(texts).unwrap_or(i64::MAX));
        Reservation { _permit: permit, texts, depth }
    }

    /// Embeds on the calling thread one text per inference, for jobs whose
    /// results must not depend on other traffic: each vector is the one the
    /// text gets when parsed alone.
    pub fn embed_blocking(&self, texts: &[&str]) -> anyhow::Result<Vec<Vec<f32>>> {
        let texts = self.inner.with_query_prefix(texts);
        self.inner.run_on(&self.inner.sessions[0], &texts, 1)
    }

    /// The model's query prefix (empty for MiniLM).
    #[must_use]
    pub fn query_prefix(&self) -> &str {
        &self.inner.query_prefix
    }

    /// Prepares to embed about `texts` texts one per inference (like
    /// `embed_blocking`) as fast as the thread budget allows (NLU training).
    ///
    /// One session with two intra-op threads runs a short text at 790/s on
    /// 2 cores; two single-threaded sessions side by side run 1,330/s, and
    /// give bit-identical vectors (the int8 products are exact integers).
    /// So a large job gets its own single-threaded sessions, dropped with the
    /// returned value; below `BULK_MIN_TEXTS` loading them (about 0.1 s each)
    /// would cost more than it saves, and the serving session is used.
    pub fn bulk(&self, texts: usize) -> anyhow::Result<BulkEmbedder> {
        let inner = &self.inner;
        let serving = || BulkEmbedder { inner: inner.clone(), sessions: Vec::new() };
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let workers = inner.bulk_workers.min(cores).min(texts.div_ceil(BULK_MIN_TEXTS));
        if workers < 2 {
            return Ok(serving());
        }
        let model: std::borrow::Cow<'static, [u8]> = match &inner.source {
            ModelSource::Embedded => EMBEDDED_MODEL.into(),
            ModelSource::File(path) => {
                // Vectors must come from the model the embedder reports: if
                // the file changed since, the serving session does the job.
                match std::fs::read(path) {
                    Ok(bytes) if inner.model_id.ends_with(&format!("@{}", short_hash(&bytes))) => bytes.into(),
                    _ => {
                        tracing::warn!(path = %path.display(), "the model file is unreadable or changed since it was loaded; embedding on the serving session");
                        return Ok(serving());
                    }
                }
            }
        };
        let sessions = std::thread::scope(|scope| {
            let loading: Vec<_> =
                (0..workers).map(|_| scope.spawn(|| build_session(&inner.environment, &model, 1))).collect();
            loading
                .into_iter()
                .map(|h| h.join().map_err(|_| anyhow!("loading a session panicked"))?.map(Mutex::new))
                .collect::<anyhow::Result<Vec<_>>>()
        })?;
        Ok(BulkEmbedder { inner: inner.clone(), sessions })
    }

    /// The encoder's per-token output of each text (one text per inference
    /// on the serving session, like `embed_blocking`): the contextual vector
    /// of every word piece with its byte offsets in the text (special
    /// tokens left out). The learned entity extractor's features.
    pub fn token_vectors_blocking(&self, texts: &[&str]) -> anyhow::Result<Vec<TokenVectors>> {
        texts.iter().map(|t| self.inner.token_vectors_on(&self.inner.sessions[0], t)).collect()
    }

    /// Number of tokens a text has for this model (after truncation).
    pub fn count_tokens(&self, text: &str) -> anyhow::Result<usize> {
        Ok(self.inner.tokenizer.encode(text, true).map_err(|e| anyhow!("tokenize: {e}"))?.len())
    }
}

/// Per-token encoder output of one text (see `Embedder::token_vectors_blocking`).
#[derive(Debug, Clone, Default)]
pub struct TokenVectors {
    /// Byte offsets of each word piece in the text.
    pub offsets: Vec<(usize, usize)>,
    /// Its contextual vector (`dim` values each), as the model outputs it.
    pub vectors: Vec<Vec<f32>>,
}

/// Sessions for one bulk job (see `Embedder::bulk`).
pub struct BulkEmbedder {
    inner: Arc<Inner>,
    sessions: Vec<Mutex<Session>>,
}

impl BulkEmbedder {
    /// Per-token vectors of texts, one per inference, split over the job's
    /// sessions like [`BulkEmbedder::embed`]; in input order.
    pub fn token_vectors(&self, texts: &[&str]) -> anyhow::Result<Vec<TokenVectors>> {
        let inner = &self.inner;
        if self.sessions.len() < 2 {
            return texts.iter().map(|t| inner.token_vectors_on(&inner.sessions[0], t)).collect();
        }
        let share = texts.len().div_ceil(self.sessions.len()).max(1);
        std::thread::scope(|scope| {
            let runs: Vec<_> = texts
                .chunks(share)
                .zip(&self.sessions)
                .map(|(run, session)| {
                    scope.spawn(move || {
                        run.iter().map(|t| inner.token_vectors_on(session, t)).collect::<anyhow::Result<Vec<_>>>()
                    })
                })
                .collect();
            let mut out = Vec::with_capacity(texts.len());
            for run in runs {
                out.extend(run.join().map_err(|_| anyhow!("an embedding thread panicked"))??);
            }
            Ok(out)
        })
    }

    /// Embeds texts one per inference, split into contiguous runs over the
    /// job's sessions; the result is in input order.
    pub fn embed(&self, texts: &[&str]) -> anyhow::Result<Vec<Vec<f32>>> {
        let inner = &self.inner;
        let owned = inner.with_query_prefix(texts);
        let texts = &owned[..];
        if self.sessions.len() < 2 {
            return inner.run_on(&inner.sessions[0], texts, 1);
        }
        let share = texts.len().div_ceil(self.sessions.len()).max(1);
        std::thread::scope(|scope| {
            let runs: Vec<_> = texts
                .chunks(share)
                .zip(&self.sessions)
                .map(|(run, session)| scope.spawn(move || inner.run_on(session, run, 1)))
                .collect();
            let mut out = Vec::with_capacity(texts.len());
            for run in runs {
                out.extend(run.join().map_err(|_| anyhow!("an embedding thread panicked"))??);
            }
            Ok(out)
        })
    }
}

fn worker(inner: &Inner, receiver: &Mutex<Receiver<Request>>, session: &Mutex<Session>, wait: Duration) {
    loop {
        let batch = {
            let Ok(rx) = receiver.lock() else { return };
            let Ok(first) = rx.recv() else { return };
            let mut count = first.texts.len();
            let mut batch = vec![first];
            let deadline = Instant::now() + wait;
            while count < inner.max_batch_texts {
                let next = match rx.try_recv() {
                    Ok(r) => Ok(r),
                    Err(_) => rx.recv_timeout(deadline.saturating_duration_since(Instant::now())),
                };
                match next {
                    Ok(r) => {
                        count += r.texts.len();
                        batch.push(r);
                    }
                    Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
                }
            }
            batch
        };
        let texts: Vec<&str> = batch.iter().flat_map(|r| r.texts.iter().map(String::as_str)).collect();
        match inner.run_on(session, &texts, inner.max_batch_texts) {
            Ok(mut vectors) => {
                for request in batch.into_iter().rev() {
                    let mine = vectors.split_off(vectors.len() - request.texts.len());
                    // The room is freed before the answer, so a caller
                    // that got its answer sees the queue without it.
                    let Request { reply, _room: room, .. } = request;
                    drop(room);
                    let _ = reply.send(Ok(mine));
                }
            }
            Err(e) => {
                let message = format!("{e:#}");
                for Request { reply, _room: room, .. } in batch {
                    drop(room);
                    let _ = reply.send(Err(anyhow!("{message}")));
                }
            }
        }
    }
}

/// Texts with `prefix` put before each (unchanged when it is empty).
fn prefixed(prefix: &str, texts: Vec<String>) -> Vec<String> {
    if prefix.is_empty() { texts } else { texts.into_iter().map(|t| format!("{prefix}{t}")).collect() }
}

impl Inner {
    /// Texts as the model reads a query: with its query prefix.
    fn with_query_prefix<'a>(&self, texts: &[&'a str]) -> Vec<std::borrow::Cow<'a, str>> {
        texts
            .iter()
            .map(|&t| if self.query_prefix.is_empty() { t.into() } else { format!("{}{t}", self.query_prefix).into() })
            .collect()
    }

    /// Embeds `texts` on `session`, at most `max_batch` texts per inference.
    fn run_on<T: AsRef<str>>(
        &self,
        session: &Mutex<Session>,
        texts: &[T],
        max_batch: usize,
    ) -> anyhow::Result<Vec<Vec<f32>>> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.iter().map(AsRef::as_ref).collect::<Vec<&str>>(), true)
            .map_err(|e| anyhow!("tokenize: {e}"))?;
        // Sorted by length, texts of the same length are neighbours.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| encodings[i].len());
        let mut out = vec![Vec::new(); texts.len()];
        let mut start = 0;
        while start < order.len() {
            let mut end = start + 1;
            // Only texts of the same length share an inference: no padding
            // is computed, and a text's vector can move only with same-length
            // batch-mates (the int8 model scales activations per inference).
            let length = encodings[order[start]].len();
            while end < order.len()
                && end - start < max_batch
                && encodings[order[end]].len() == length
                && length * (end - start + 1) <= MAX_BATCH_TOKENS
            {
                end += 1;
            }
            let group = &order[start..end];
            let vectors = self.infer(session, &group.iter().map(|&i| &encodings[i]).collect::<Vec<_>>())?;
            for (&i, v) in group.iter().zip(vectors) {
                out[i] = v;
            }
            start = end;
        }
        Ok(out)
    }

    /// One text alone through the model; its word pieces' vectors.
    fn token_vectors_on(&self, session: &Mutex<Session>, text: &str) -> anyhow::Result<TokenVectors> {
        // Offsets are into the prefixed text; the prefix's own pieces are left out.
        let skip = self.query_prefix.len();
        let full = format!("{}{text}", self.query_prefix);
        let encoding = self.tokenizer.encode(full.as_str(), true).map_err(|e| anyhow!("tokenize: {e}"))?;
        let seq = encoding.len().clamp(1, self.max_tokens);
        let mut ids = Array2::<i64>::from_elem((1, seq), self.pad_id);
        let mut mask = Array2::<i64>::zeros((1, seq));
        for (col, (&id, &m)) in encoding.get_ids().iter().zip(encoding.get_attention_mask()).take(seq).enumerate() {
            ids[[0, col]] = i64::from(id);
            mask[[0, col]] = i64::from(m);
        }
        let mut guard = session.lock().map_err(|_| anyhow!("an embedding session panicked"))?;
        let mut inputs = vec![
            ("input_ids".to_owned(), Tensor::from_array(ids)?.into_dyn()),
            ("attention_mask".to_owned(), Tensor::from_array(mask)?.into_dyn()),
        ];
        if self.with_token_types {
            inputs.push(("token_type_ids".to_owned(), Tensor::from_array(Array2::<i64>::zeros((1, seq)))?.into_dyn()));
        }
        let outputs = guard.run(inputs)?;
        let hidden = outputs[self.output.as_str()].try_extract_array::<f32>()?;
        if hidden.ndim() != 3 {
            bail!("the model `{}` output has no per-token vectors (rank {})", self.output, hidden.ndim());
        }
        let mut out = TokenVectors::default();
        let special = encoding.get_special_tokens_mask();
        for (t, &(start, end)) in encoding.get_offsets().iter().enumerate().take(seq) {
            // SentencePiece pieces (`▁word`) cover the space before the word.
            let piece = full.get(start..end).unwrap_or_default();
            let start = start + (piece.len() - piece.trim_start().len());
            if special.get(t).copied().unwrap_or(0) == 1 || start >= end || start < skip {
                continue;
            }
            out.offsets.push((start - skip, end - skip));
            out.vectors.push(hidden.slice(ndarray::s![0, t, ..]).to_vec());
        }
        Ok(out)
    }

    fn infer(&self, session: &Mutex<Session>, encodings: &[&tokenizers::Encoding]) -> anyhow::Result<Vec<Vec<f32>>> {
        let started = Instant::now();
        let batch = encodings.len();
        let seq = encodings.iter().map(|e| e.len()).max().unwrap_or(1).clamp(1, self.max_tokens);
        let mut ids = Array2::<i64>::from_elem((batch, seq), self.pad_id);
        let mut mask = Array2::<i64>::zeros((batch, seq));
        // Padded on the right: the shipped model's fused attention reads each
        // row's mask as one length.
        for (row, encoding) in encodings.iter().enumerate() {
            for (col, (&id, &m)) in encoding.get_ids().iter().zip(encoding.get_attention_mask()).take(seq).enumerate() {
                ids[[row, col]] = i64::from(id);
                mask[[row, col]] = i64::from(m);
            }
        }
        let mask_f: Vec<f32> = mask.iter().map(|&m| if m > 0 { 1.0 } else { 0.0 }).collect();
        let mut guard = session.lock().map_err(|_| anyhow!("an embedding session panicked"))?;
        let mut inputs = vec![
            ("input_ids".to_owned(), Tensor::from_array(ids)?.into_dyn()),
            ("attention_mask".to_owned(), Tensor::from_array(mask)?.into_dyn()),
        ];
        if self.with_token_types {
            inputs.push((
                "token_type_ids".to_owned(),
                Tensor::from_array(Array2::<i64>::zeros((batch, seq)))?.into_dyn(),
            ));
        }
        let outputs = guard.run(inputs)?;
        let hidden = outputs[self.output.as_str()].try_extract_array::<f32>()?;
        let vectors = match hidden.ndim() {
            3 => {
                let dim = hidden.shape()[2];
                (0..batch)
                    .map(|b| {
                        let mut v = vec![0.0_f32; dim];
                        let mut total = 0.0_f32;
                        for t in 0..seq {
                            let m = mask_f[b * seq + t];
                            if m > 0.0 {
                                total += m;
                                for (d, x) in v.iter_mut().enumerate() {
                                    *x += hidden[[b, t, d]] * m;
                                }
                            }
                        }
                        for x in &mut v {
                            *x /= total.max(1e-9);
                        }
                        normalize(v)
                    })
                    .collect()
            }
            2 => (0..batch).map(|b| normalize(hidden.slice(ndarray::s![b, ..]).to_vec())).collect(),
            n => bail!("unexpected output rank {n} from `{}`", self.output),
        };
        self.metrics.texts.inc_by(batch as u64);
        self.metrics.batches.inc();
        self.metrics.batch_seconds.observe(started.elapsed().as_secs_f64());
        Ok(vectors)
    }
}

/// A vector as a little-endian f32 BLOB (what sqlite-vec and the example
/// vector cache store).
#[must_use]
pub fn vector_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The inverse of [`vector_bytes`].
#[must_use]
pub fn bytes_vector(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

/// Scales a vector to unit length (zero vectors stay zero).
#[must_use]
pub fn normalize(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in &mut v {
            *x /= norm;
        }
    }
    v
}

/// Cosine similarity of two unit vectors.
#[must_use]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Loads the model into a session with `threads` intra-op threads. Every
/// session of the process is built here (serving, bulk training, knowledge
/// models), so none of them spins.
fn build_session(environment: &Environment, model: &[u8], threads: usize) -> anyhow::Result<Session> {
    // No CPU arena: it would keep the peak of the largest batch ever run
    // (well over 100 MB for 32 passages of 256 tokens) for the life of the
    // process; throughput is the same without it.
    Session::builder(environment)?
        .with_execution_providers([ep::CPU::default().with_arena_allocator(false).build()])
        .map_err(|e| anyhow!("{e}"))?
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(|e| anyhow!("{e}"))?
        .with_intra_threads(threads.max(1))
        .map_err(|e| anyhow!("{e}"))?
        // Worker threads block when out of work instead of spinning: spinning
        // kept idle servers at about half a core; throughput is unchanged
        // (measured with `bench runtime` and `bench startup`).
        .with_intra_op_spinning(false)
        .map_err(|e| anyhow!("{e}"))?
        .with_inter_op_spinning(false)
        .map_err(|e| anyhow!("{e}"))?
        .commit_from_memory(model)
        .context("loading the embedding model")
}

fn short_hash(bytes: &[u8]) -> String {
    crate::crypto::sha256_hex(bytes)[..12].to_owned()
}

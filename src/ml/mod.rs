//! Local inference (DESIGN §8): ONNX Runtime and the sentence-embedding model
//! ship inside the binary and load in the background at start; `/readyz`
//! reports `models` ready once they have.

pub mod classifier;
pub mod embedder;
pub mod encoders;
pub use botbuilder_kernels::labeller;
pub mod runtime;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub use embedder::{Embedder, EmbedderOptions, bytes_vector, dot, normalize, vector_bytes};
pub use encoders::Encoder;

use crate::config::MlConfig;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::ops::{ComponentState, Readiness};

/// The models of the process, loaded once.
#[derive(Clone, Default)]
pub struct Models {
    embedder: Arc<OnceLock<Result<Embedder, String>>>,
    loaded: Arc<tokio::sync::Notify>,
    /// The multilingual encoder, loaded on first use (see `encoders`).
    multilingual: Arc<tokio::sync::OnceCell<Embedder>>,
    /// Its settings (`None`: local models are off).
    config: Option<Arc<MlConfig>>,
}

/// Loads the multilingual encoder (blocking), logging how long it took.
fn load_multilingual(config: &MlConfig) -> AppResult<Embedder> {
    let started = std::time::Instant::now();
    let loaded = encoders::load_multilingual(config)
        .map_err(|e| AppError::new(ErrorCode::ModelsUnavailable, format!("{e:#}")))?;
    tracing::info!(
        model = loaded.model_id(),
        ms = started.elapsed().as_millis(),
        "multilingual embedding model loaded"
    );
    Ok(loaded)
}

impl Models {
    /// Starts loading on a background thread; readiness follows.
    pub fn load_in_background(config: &MlConfig, readiness: Arc<Readiness>, registry: prometheus::Registry) -> Models {
        let models = Models { config: config.enabled.then(|| Arc::new(config.clone())), ..Models::default() };
        if !config.enabled {
            readiness.set("models", ComponentState::Ready);
            let _ = models.embedder.set(Err("local models are disabled (ml.enabled = false)".into()));
            return models;
        }
        readiness.set("models", ComponentState::Starting);
        let (config, this) = (config.clone(), models.clone());
        let spawned = std::thread::Builder::new().name("load-models".into()).spawn(move || {
            let started = std::time::Instant::now();
            let result = Embedder::load(&config.embedder_options(), config.runtime_path.as_deref(), Some(&registry));
            match &result {
                Ok(e) => {
                    tracing::info!(
                        model = e.model_id(),
                        dim = e.dim(),
                        ms = started.elapsed().as_millis(),
                        "embedding model loaded"
                    );
                    readiness.set("models", ComponentState::Ready);
                }
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "cannot load the embedding model");
                    readiness.set("models", ComponentState::Failed(format!("{e:#}")));
                }
            }
            let _ = this.embedder.set(result.map_err(|e| format!("{e:#}")));
            this.loaded.notify_waiters();
        });
        if let Err(e) = spawned {
            let _ = models.embedder.set(Err(format!("cannot start the loader thread: {e}")));
        }
        models
    }

    /// Models already loaded (tests, benchmarks).
    #[must_use]
    pub fn with_embedder(embedder: Embedder) -> Models {
        let models = Models::default();
        let _ = models.embedder.set(Ok(embedder));
        models
    }

    /// The embedder, waiting for it to finish loading (at most 60 s).
    pub async fn embedder(&self) -> AppResult<Embedder> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let notified = self.loaded.notified();
            if let Some(result) = self.embedder.get() {
                return result.clone().map_err(|e| AppError::new(ErrorCode::ModelsUnavailable, e));
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(AppError::new(ErrorCode::ModelsUnavailable, "the models are still loading; retry shortly"));
            }
        }
    }

    /// The embedder of `encoder`: the built-in one as [`Models::embedder`];
    /// the multilingual one loaded on first call (about a second; a failure
    /// is reported each time and retried on the next call, so installing
    /// the files needs no restart).
    pub async fn encoder(&self, encoder: Encoder) -> AppResult<Embedder> {
        match encoder {
            Encoder::MiniLm => self.embedder().await,
            Encoder::Multilingual => {
                let config = self.multilingual_config()?;
                self.multilingual
                    .get_or_try_init(|| async move {
                        tokio::task::spawn_blocking(move || load_multilingual(&config))
                            .await
                            .map_err(AppError::internal)?
                    })
                    .await
                    .cloned()
            }
        }
    }

    /// [`Models::encoder`] for blocking code (training jobs, CLI): loads on
    /// the calling thread. Two first calls at once may both load; one wins.
    pub fn encoder_blocking(&self, encoder: Encoder) -> AppResult<Embedder> {
        match encoder {
            Encoder::MiniLm => self.embedder_blocking(),
            Encoder::Multilingual => {
                if let Some(loaded) = self.multilingual.get() {
                    return Ok(loaded.clone());
                }
                let loaded = load_multilingual(&*self.multilingual_config()?)?;
                let _ = self.multilingual.set(loaded.clone());
                Ok(self.multilingual.get().cloned().unwrap_or(loaded))
            }
        }
    }

    fn multilingual_config(&self) -> AppResult<Arc<MlConfig>> {
        self.config.clone().ok_or_else(|| {
            AppError::new(ErrorCode::ModelsUnavailable, "local models are disabled (ml.enabled = false)")
        })
    }

    /// The embedder of `encoder` if it is loaded (never loads it).
    #[must_use]
    pub fn loaded_encoder(&self, encoder: Encoder) -> Option<Embedder> {
        match encoder {
            Encoder::MiniLm => self.embedder.get().and_then(|r| r.as_ref().ok()).cloned(),
            Encoder::Multilingual => self.multilingual.get().cloned(),
        }
    }

    /// The identity of `encoder` if it is loaded (never loads it).
    #[must_use]
    pub fn loaded_encoder_id(&self, encoder: Encoder) -> Option<String> {
        match encoder {
            Encoder::MiniLm => self.loaded_model_id(),
            Encoder::Multilingual => self.multilingual.get().map(|e| e.model_id().to_owned()),
        }
    }

    /// The loaded embedder's identity, without waiting (`None` while loading or when off).
    #[must_use]
    pub fn loaded_model_id(&self) -> Option<String> {
        self.embedder.get().and_then(|r| r.as_ref().ok()).map(|e| e.model_id().to_owned())
    }

    /// Texts queued or running in the loaded embedder (0 while loading or off).
    #[must_use]
    pub fn inference_queue_depth(&self) -> usize {
        self.embedder.get().and_then(|r| r.as_ref().ok()).map_or(0, Embedder::queued)
    }

    /// The embedder for blocking code (jobs, CLI), waiting for it to load.
    pub fn embedder_blocking(&self) -> AppResult<Embedder> {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(result) = self.embedder.get() {
                return result.clone().map_err(|e| AppError::new(ErrorCode::ModelsUnavailable, e));
            }
            if std::time::Instant::now() > deadline {
                return Err(AppError::new(ErrorCode::ModelsUnavailable, "the models are still loading; retry shortly"));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

//! Local inference (DESIGN §8): ONNX Runtime and the sentence-embedding model
//! ship inside the binary and load in the background at start; `/readyz`
//! reports `models` ready once they have.

pub mod classifier;
pub mod embedder;
pub use botbuilder_kernels::labeller;
pub mod runtime;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub use embedder::{Embedder, EmbedderOptions, bytes_vector, dot, normalize, vector_bytes};

use crate::config::MlConfig;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::ops::{ComponentState, Readiness};

/// The models of the process, loaded once.
#[derive(Clone, Default)]
pub struct Models {
    embedder: Arc<OnceLock<Result<Embedder, String>>>,
    loaded: Arc<tokio::sync::Notify>,
}

impl Models {
    /// Starts loading on a background thread; readiness follows.
    pub fn load_in_background(config: &MlConfig, readiness: Arc<Readiness>, registry: prometheus::Registry) -> Models {
        let models = Models::default();
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

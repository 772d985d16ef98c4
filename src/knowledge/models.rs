//! The embedding models a knowledge base may use: the server's built-in
//! model (`ml.*`), the multilingual encoder (`multilingual-e5-small`, see
//! `ml::encoders`) and any `knowledge.extra_models`, loaded on first use and
//! kept for the life of the process (a re-embedding needs the old model for
//! queries until the switch, and the new one for the passages).

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Mutex;

use super::model::EmbeddingModel;
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::ml::{Embedder, EmbedderOptions, Encoder};

/// The name of the built-in model (the `knowledge_bases.embedding_model` default).
pub const BUILTIN: &str = "all-MiniLM-L6-v2";
/// The multilingual encoder's name.
pub const MULTILINGUAL: &str = "multilingual-e5-small";
/// The dimension of the vector tables (`chunk_vectors`, `chunk_vectors_next`).
pub const INDEX_DIM: usize = 384;

/// An embedder with the input length it reads.
#[derive(Clone)]
pub struct ModelHandle {
    pub name: String,
    embedder: Embedder,
    max_tokens: usize,
}

impl ModelHandle {
    #[must_use]
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }
}

impl std::ops::Deref for ModelHandle {
    type Target = Embedder;
    fn deref(&self) -> &Embedder {
        &self.embedder
    }
}

/// Loaded extra models. Cheap to clone.
#[derive(Clone, Default)]
pub struct ModelRegistry {
    extra: Arc<Mutex<HashMap<String, Embedder>>>,
}

impl ModelRegistry {
    /// The models a knowledge base may choose.
    #[must_use]
    pub fn names(state: &AppState) -> Vec<String> {
        [BUILTIN, MULTILINGUAL]
            .into_iter()
            .map(str::to_owned)
            .chain(state.config.knowledge.extra_models.iter().map(|m| m.name.clone()))
            .collect()
    }

    /// Whether `name` is a model this server can run.
    #[must_use]
    pub fn known(state: &AppState, name: &str) -> bool {
        name == BUILTIN || name == MULTILINGUAL || state.config.knowledge.extra_models.iter().any(|m| m.name == name)
    }

    /// The embedder of model `name`, loading it if needed.
    pub async fn get(&self, state: &AppState, name: &str) -> AppResult<ModelHandle> {
        if name == BUILTIN {
            let embedder = state.models.embedder().await?;
            return Ok(ModelHandle { name: name.to_owned(), embedder, max_tokens: state.config.ml.max_tokens });
        }
        if name == MULTILINGUAL {
            let embedder = state.models.encoder(Encoder::Multilingual).await.map_err(|e| {
                AppError::new(ErrorCode::EmbeddingModelUnavailable, format!("cannot load `{name}`: {}", e.message()))
                    .with_details(serde_json::json!({ "field": "embedding_model" }))
            })?;
            return Ok(ModelHandle { name: name.to_owned(), embedder, max_tokens: state.config.ml.max_tokens });
        }
        let Some(config) = state.config.knowledge.extra_models.iter().find(|m| m.name == name).cloned() else {
            return Err(AppError::new(
                ErrorCode::EmbeddingModelUnavailable,
                format!("`{name}` is not an embedding model of this server"),
            )
            .with_details(serde_json::json!({ "field": "embedding_model" })));
        };
        let mut loaded = self.extra.lock().await;
        if let Some(e) = loaded.get(name) {
            return Ok(ModelHandle { name: name.to_owned(), embedder: e.clone(), max_tokens: config.max_tokens });
        }
        // The server's inference settings, with this model's files and one session.
        let options = EmbedderOptions {
            model_path: config.model_path.clone(),
            tokenizer_path: config.tokenizer_path.clone(),
            sessions: 1,
            max_tokens: config.max_tokens,
            ..state.config.ml.embedder_options()
        };
        let runtime = state.config.ml.runtime_path.clone();
        let embedder = tokio::task::spawn_blocking(move || Embedder::load(&options, runtime.as_deref(), None))
            .await?
            .map_err(|e| {
            AppError::new(ErrorCode::EmbeddingModelUnavailable, format!("cannot load `{name}`: {e:#}"))
                .with_details(serde_json::json!({ "field": "embedding_model" }))
        })?;
        if embedder.dim() != INDEX_DIM {
            return Err(AppError::new(
                ErrorCode::EmbeddingModelUnavailable,
                format!("`{name}` makes {}-dimensional vectors; the vector index holds {INDEX_DIM}", embedder.dim()),
            )
            .with_details(serde_json::json!({ "field": "embedding_model" })));
        }
        loaded.insert(name.to_owned(), embedder.clone());
        Ok(ModelHandle { name: name.to_owned(), embedder, max_tokens: config.max_tokens })
    }

    /// The models for the API (loaded ones with their identity).
    pub async fn describe(&self, state: &AppState) -> Vec<EmbeddingModel> {
        let loaded = self.extra.lock().await;
        let builtin = state.models.embedder().await.ok();
        Self::names(state)
            .into_iter()
            .map(|name| {
                let e = match name.as_str() {
                    BUILTIN => builtin.clone(),
                    // Described once loaded; listing never loads it.
                    MULTILINGUAL => state.models.loaded_encoder(Encoder::Multilingual),
                    _ => loaded.get(&name).cloned(),
                };
                EmbeddingModel {
                    default: name == BUILTIN,
                    model_id: e.as_ref().map(|e| e.model_id().to_owned()),
                    dimensions: e.as_ref().map(Embedder::dim),
                    name,
                }
            })
            .collect()
    }
}

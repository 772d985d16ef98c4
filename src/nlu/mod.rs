//! NLU (DESIGN §8): per-bot intents with examples, entities (list, regex,
//! system), import/export, training of a local intent classifier on the
//! embedded sentence-embedding model, parsing with out-of-scope detection,
//! parse logs, the misunderstood inbox and cross-validation.
//!
//! Other domains use [`service`] (see its docs for the stable surface:
//! `parse`, `extract_entities`, `extract_system_entity`).

pub mod background;
pub mod data;
pub mod entities;
pub mod evaluate;
pub mod io;
pub mod language;
pub mod model;
pub mod retrain;
mod routes;
pub mod runtime;
pub mod service;
pub mod store;
pub mod train;

pub use entities::{EntityMatch, SystemKind};
pub use model::{IntentScore, ParseResult};
pub use routes::routes;
pub use runtime::NluRuntime;
pub use service::ParseOptions;

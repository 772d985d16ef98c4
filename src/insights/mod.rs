//! Insights (issue 20): NLU insights (confidence, low-confidence and
//! unmatched messages, per-intent quality, conflicts, training gaps,
//! find-similar, one-click fixes), knowledge insights (answered vs "I don't
//! know", most cited documents and chunks, low retrieval scores), flow
//! funnels, and organization administration (stats, activity timeline;
//! instance health and rate limits in the superadmin console).
//!
//! What it reads is recorded elsewhere: `nlu_logs` by the NLU log writer,
//! `knowledge_answer_logs` by [`knowledge::record_answer`] (called by the
//! runtime's knowledge nodes) and `flow_node_visits` by the turn writer.

pub mod admin;
pub mod flows;
pub mod knowledge;
pub mod model;
pub mod nlu;
mod routes;
pub mod store;

pub use routes::routes;

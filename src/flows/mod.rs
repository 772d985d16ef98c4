//! Flows: the flow document format, its validation and compilation, the
//! expression and template language, the conversation engine, flow versions
//! (draft, publish, diff, rollback) and orchestrations.

pub mod compile;
pub mod diff;
pub mod document;
pub mod engine;
pub mod expr;
pub mod jsonpath;
pub mod model;
pub mod orchestration;
pub mod probe;
pub mod routes;
pub mod service;
pub mod store;
pub mod studio;
pub mod template;

pub use routes::routes;

//! botbuilder: a complete chatbot-building platform in one binary and one
//! `SQLite` file. See `DESIGN.md` in the shared folder for the architecture.

pub mod accounts;
pub mod admin;
pub mod app;
pub mod bench;
pub mod bots;
pub mod bottests;
pub mod channels;
pub mod cli;
pub mod config;
pub mod contacts;
pub mod conversations;
pub mod crypto;
pub mod db;
pub mod error;
pub mod flows;
pub mod http;
pub mod ids;
pub mod jobs;
pub mod keycheck;
pub mod knowledge;
pub mod llm;
pub mod ml;
pub mod names;
pub mod nlu;
pub mod notify;
pub mod ops;
pub mod orgs;
pub mod outbound;
pub mod permissions;
pub mod telemetry;
pub mod ui;
pub mod versions;
pub mod webhooks;
pub mod widget;

//! The integration tests: one binary (links once), one module per area.
//! Each test starts the real server on port 0 with a fresh data file.

mod authz;
mod bots;
mod browser;
mod cli;
mod edge;
mod helpers;
mod jobs;
mod sessions;

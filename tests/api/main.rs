//! The integration tests: one binary (links once), one module per area.
//! Each test starts the real server on port 0 with a fresh data file.

// Test code: a failed expectation should stop the test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

mod accounts;
mod admin;
mod api_tokens;
mod audit;
mod authz;
mod bots;
mod bottests;
mod browser;
mod browser_a11y;
mod browser_accounts;
mod browser_bottests;
mod browser_builder;
mod browser_channels;
mod browser_contacts;
mod browser_errors;
mod browser_firstrun;
mod browser_inbox;
mod browser_integrations;
mod browser_runtime;
mod browser_webhooks;
mod browser_widget_uploads;
mod channels;
mod channels_crash;
mod channels_email;
mod channels_http;
mod channels_meta;
mod channels_slack;
mod channels_sms;
mod channels_whatsapp;
mod cli;
mod contacts;
mod edge;
mod extract;
mod fake_http;
mod firstrun;
mod flow_drafts;
mod helpers;
mod inbox;
mod integrations;
mod invitations;
mod jobs;
mod keycheck;
mod knowledge;
mod knowledge_browser;
mod knowledge_llm;
mod ml;
mod nlu;
mod nlu_oos;
mod orgs;
mod outbound;
mod runtime;
mod sandbox;
mod schema;
mod sessions;
mod smtp;
mod templates;
mod versions;
mod webhooks;
mod whitelabel;
mod widget_uploads;

//! Billing: plans ([`plans`]), plan limits checked where the work happens
//! ([`limits`]), metering into `usage_tracking` ([`usage`]), the usage API,
//! and the billing-off mode; subscriptions through a Stripe-compatible API
//! ([`subscriptions`]: Checkout, the Customer Portal, plan changes with a
//! proration preview, cancel and resume), signed webhooks applied
//! idempotently and out-of-order safely ([`webhooks`]), dunning
//! ([`dunning`]), invoices and the revenue overview ([`invoices`]).
//!
//! Billing off (`billing.enabled = false`, the default): no plan limits
//! unless the operator opts in with `billing.enforce_limits = true` (then
//! each organization's plan, which a superadmin assigns, is enforced), no
//! billing screens, billing routes answer 404 `billing_disabled`. Metering
//! and the usage page work either way.

pub mod dunning;
pub mod invoices;
pub mod limits;
pub mod plans;
pub mod routes;
pub mod stripe;
pub mod subscriptions;
pub mod usage;
pub mod webhooks;

pub use self::routes::routes;

use crate::config::BillingConfig;
use crate::db::Db;
use crate::error::{AppError, AppResult, ErrorCode};

/// Whether the plan limits apply (`billing.enabled || billing.enforce_limits`).
#[must_use]
pub fn limits_enforced(config: &BillingConfig) -> bool {
    config.enabled || config.enforce_limits
}

/// Writes the enforcement switch where SQL (the bots trigger, [`limits::check`]) reads it.
pub fn apply_config(db: &Db, config: &BillingConfig) -> AppResult<()> {
    let on = limits_enforced(config);
    db.write_blocking(|tx| Ok(limits::set_enforced(tx, on)?))
}

/// Refuses a billing route when billing is off (404 `billing_disabled`).
pub fn require_enabled(config: &BillingConfig) -> AppResult<()> {
    if config.enabled {
        Ok(())
    } else {
        Err(AppError::new(ErrorCode::BillingDisabled, "billing is disabled on this server (billing.enabled = false)"))
    }
}

/// Registers the Stripe billing routes under `/api/v1`.
pub fn stripe_routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    subscriptions::routes(cfg);
    invoices::routes(cfg);
    cfg.service(webhooks::stripe_webhook);
}

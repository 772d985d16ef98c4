//! Billing: plans ([`plans`]), plan limits checked where the work happens
//! ([`limits`]), metering into `usage_tracking` ([`usage`]), the usage API,
//! and the billing-off mode.
//!
//! Billing off (`billing.enabled = false`, the default): no plan limits
//! unless the operator opts in with `billing.enforce_limits = true` (then
//! each organization's plan, which a superadmin assigns, is enforced), no
//! billing screens, billing routes answer 404 `billing_disabled`. Metering
//! and the usage page work either way.

pub mod limits;
pub mod plans;
pub mod routes;
pub mod usage;

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

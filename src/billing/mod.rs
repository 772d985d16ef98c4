//! Billing (issue 21): plans and limits, and subscriptions through a
//! Stripe-compatible API — Checkout, the Customer Portal, plan changes with
//! a proration preview, cancel and resume, signed webhooks applied
//! idempotently and out-of-order safely, dunning, invoices and the revenue
//! overview (`docs/billing.md`).

pub mod dunning;
pub mod invoices;
pub mod stripe;
pub mod subscriptions;
pub mod webhooks;

/// Registers the billing routes under `/api/v1`.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    subscriptions::routes(cfg);
    invoices::routes(cfg);
    cfg.service(webhooks::stripe_webhook);
}

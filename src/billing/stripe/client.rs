//! The Stripe API client: form-encoded requests (`line_items[0][price]=…`)
//! with the secret key as a bearer token, through the guarded outbound
//! client, to `billing.stripe_api_base` (Stripe, a mirror or a test fake).

use reqwest::Method;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::outbound::Outbound;

/// Form fields of one request, in order.
pub type Form = Vec<(String, String)>;

/// A client bound to the configured endpoint and key.
pub struct Stripe {
    outbound: Outbound,
    base: String,
    key: String,
}

/// Pushes `key=value` onto a form.
pub fn field(form: &mut Form, key: impl Into<String>, value: impl std::fmt::Display) {
    form.push((key.into(), value.to_string()));
}

impl Stripe {
    /// The client; 404 `billing_disabled` when billing is off, 409
    /// `billing_not_configured` when no secret key is set.
    pub fn from_state(state: &AppState) -> AppResult<Stripe> {
        let billing = &state.config.billing;
        crate::billing::require_enabled(billing)?;
        match billing.stripe_secret_key.as_deref() {
            Some(key) if billing.stripe_ready() => Ok(Stripe {
                outbound: state.outbound.clone(),
                base: billing.stripe_api_base.trim_end_matches('/').to_owned(),
                key: key.trim().to_owned(),
            }),
            _ => Err(AppError::new(
                ErrorCode::BillingNotConfigured,
                "Stripe is not set up on this instance (billing.stripe_secret_key)",
            )),
        }
    }

    /// Calls `{base}/v1/{path}`; answers the JSON object, or 502
    /// `stripe_unavailable` with Stripe's error message.
    async fn call(&self, method: Method, path: &str, form: &Form) -> AppResult<Value> {
        let url = format!("{}/v1/{path}", self.base);
        let unavailable = |description: String| {
            AppError::new(ErrorCode::StripeUnavailable, "the payment provider could not complete the request")
                .with_details(json!({ "provider_description": description }))
        };
        let mut request = self.outbound.request(method.clone(), &url).map_err(|e| unavailable(e.to_string()))?;
        request = request.bearer_auth(&self.key).header("Stripe-Version", API_VERSION);
        if !form.is_empty() {
            request = if method == Method::GET || method == Method::DELETE {
                request.query(form)
            } else {
                request.form(form)
            };
        }
        let fetched = self.outbound.send_limited(request, Some(4 * 1024 * 1024)).await.map_err(|e| {
            tracing::warn!(error = %e, path, "Stripe request failed");
            unavailable(e.to_string())
        })?;
        let body: Value = serde_json::from_slice(&fetched.body).unwrap_or(Value::Null);
        if !fetched.status.is_success() {
            let message = body["error"]["message"].as_str().unwrap_or("no error message").to_owned();
            tracing::warn!(status = fetched.status.as_u16(), path, %message, "Stripe answered an error");
            return Err(unavailable(format!("{}: {message}", fetched.status.as_u16())));
        }
        if !body.is_object() {
            return Err(unavailable("the answer is not a JSON object".to_owned()));
        }
        Ok(body)
    }

    /// `POST /v1/customers`.
    pub async fn create_customer(&self, email: &str, name: &str, org_id: i64) -> AppResult<Value> {
        let mut form = Form::new();
        field(&mut form, "email", email);
        field(&mut form, "name", name);
        field(&mut form, "metadata[organization_id]", org_id);
        self.call(Method::POST, "customers", &form).await
    }

    /// `POST /v1/checkout/sessions` in subscription mode.
    pub async fn create_checkout_session(&self, c: &CheckoutRequest<'_>) -> AppResult<Value> {
        let mut form = Form::new();
        field(&mut form, "mode", "subscription");
        field(&mut form, "customer", c.customer);
        field(&mut form, "client_reference_id", c.org_id);
        field(&mut form, "line_items[0][price]", c.price);
        field(&mut form, "line_items[0][quantity]", 1);
        field(&mut form, "success_url", c.success_url);
        field(&mut form, "cancel_url", c.cancel_url);
        field(&mut form, "metadata[organization_id]", c.org_id);
        field(&mut form, "subscription_data[metadata][organization_id]", c.org_id);
        if c.trial_days > 0 {
            field(&mut form, "subscription_data[trial_period_days]", c.trial_days);
        }
        self.call(Method::POST, "checkout/sessions", &form).await
    }

    /// `POST /v1/billing_portal/sessions`.
    pub async fn create_portal_session(&self, customer: &str, return_url: &str) -> AppResult<Value> {
        let mut form = Form::new();
        field(&mut form, "customer", customer);
        field(&mut form, "return_url", return_url);
        self.call(Method::POST, "billing_portal/sessions", &form).await
    }

    /// `GET /v1/subscriptions/{id}`.
    pub async fn get_subscription(&self, id: &str) -> AppResult<Value> {
        self.call(Method::GET, &format!("subscriptions/{}", path_segment(id)?), &Form::new()).await
    }

    /// `POST /v1/subscriptions/{id}` with the given fields.
    pub async fn update_subscription(&self, id: &str, form: &Form) -> AppResult<Value> {
        self.call(Method::POST, &format!("subscriptions/{}", path_segment(id)?), form).await
    }

    /// `DELETE /v1/subscriptions/{id}`: cancels at once.
    pub async fn cancel_subscription(&self, id: &str) -> AppResult<Value> {
        self.call(Method::DELETE, &format!("subscriptions/{}", path_segment(id)?), &Form::new()).await
    }

    /// `POST /v1/invoices/create_preview`: the invoice a plan change would
    /// produce, prorated as of `proration_date`.
    pub async fn preview_change(&self, c: &ChangeRequest<'_>) -> AppResult<Value> {
        let mut form = Form::new();
        field(&mut form, "customer", c.customer);
        field(&mut form, "subscription", c.subscription);
        field(&mut form, "subscription_details[items][0][id]", c.item);
        field(&mut form, "subscription_details[items][0][price]", c.price);
        field(&mut form, "subscription_details[proration_behavior]", "create_prorations");
        field(&mut form, "subscription_details[proration_date]", c.proration_date);
        self.call(Method::POST, "invoices/create_preview", &form).await
    }

    /// Switches the subscription's item to another price, prorated as of
    /// `proration_date` (the preview's, so the charge equals the preview).
    pub async fn change_price(&self, c: &ChangeRequest<'_>) -> AppResult<Value> {
        let mut form = Form::new();
        field(&mut form, "items[0][id]", c.item);
        field(&mut form, "items[0][price]", c.price);
        field(&mut form, "proration_behavior", "create_prorations");
        field(&mut form, "proration_date", c.proration_date);
        field(&mut form, "cancel_at_period_end", "false");
        self.update_subscription(c.subscription, &form).await
    }
}

/// The Stripe API version requests are made with.
pub const API_VERSION: &str = "2024-06-20";

/// A new subscription through Checkout.
pub struct CheckoutRequest<'a> {
    pub customer: &'a str,
    pub price: &'a str,
    pub trial_days: i64,
    pub org_id: i64,
    pub success_url: &'a str,
    pub cancel_url: &'a str,
}

/// A plan change of a live subscription.
pub struct ChangeRequest<'a> {
    pub customer: &'a str,
    pub subscription: &'a str,
    pub item: &'a str,
    pub price: &'a str,
    pub proration_date: i64,
}

/// Stripe ids are `[A-Za-z0-9_]`; anything else is refused before it is
/// put in a URL path.
fn path_segment(id: &str) -> AppResult<&str> {
    if !id.is_empty() && id.len() <= 255 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(id)
    } else {
        Err(AppError::internal(anyhow::anyhow!("malformed Stripe id")))
    }
}

//! Recovery campaigns, events, messages, sources and analytics as the API shows them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

crate::id_type!(
    /// A row of `recovery_campaigns`.
    RecoveryCampaignId
);
crate::id_type!(
    /// A row of `recovery_events`.
    RecoveryEventId
);
crate::id_type!(
    /// A row of `recovery_messages`.
    RecoveryMessageId
);
crate::id_type!(
    /// A row of `recovery_sources` (a signed webhook source of events).
    RecoverySourceId
);

/// The triggers a campaign can start on.
pub const TRIGGERS: [&str; 6] = ["abandoned_cart", "failed_payment", "churn_risk", "inactivity", "win_back", "custom"];

/// The channels a step can use.
pub const STEP_CHANNELS: [&str; 4] = ["email", "whatsapp", "sms", "telegram"];

/// One message of a campaign's sequence.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoveryStep {
    /// Minutes after the event (not after the previous step), before the send window applies.
    pub delay_minutes: u32,
    /// `email`, `whatsapp` (an approved template), `sms` or `telegram`.
    pub channel: String,
    /// Used when the customer has no address on `channel` (or the organization no active channel of that type).
    #[serde(default)]
    pub fallback_channel: Option<String>,
    /// A specific channel of the organization; by default its first active channel of the type.
    #[serde(default)]
    pub channel_id: Option<i64>,
    /// The email subject (templated; default: the campaign's name).
    #[serde(default)]
    pub subject: Option<String>,
    /// The message text with `{{field}}` placeholders (`{{cart.items}}`, `{{amount}}`, `{{checkout_url}}`, …).
    #[serde(default)]
    pub body: String,
    /// WhatsApp: the approved template of the channel.
    #[serde(default)]
    pub template_id: Option<i64>,
    /// WhatsApp: the values of the template's `{{1}}`…`{{n}}`, each templated like `body`.
    #[serde(default)]
    pub template_variables: Vec<String>,
    /// A/B test: other versions of the message (`B`, `C`…; variant `A` is
    /// `subject` + `body`). Each customer gets one, always the same
    /// (deterministic split by customer); results per variant in analytics.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<RecoveryVariant>,
    /// Rewrite the text with the organization's default model before sending
    /// (placeholders and links kept); the template is sent as written when
    /// no model is configured or on any error.
    #[serde(default)]
    pub rewrite: bool,
}

/// Another version of a step's message (A/B test).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoveryVariant {
    /// The email subject (default: the step's).
    #[serde(default)]
    pub subject: Option<String>,
    pub body: String,
}

/// Results of one variant of one step.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecoveryVariantResult {
    pub campaign_id: RecoveryCampaignId,
    /// 1-based.
    pub step: i64,
    /// `A`, `B`, …
    pub variant: String,
    pub messages: i64,
    pub sent: i64,
    pub delivered: i64,
    pub clicked: i64,
    pub converted: i64,
    /// Minor units.
    pub revenue_recovered: i64,
    /// Percent of sent.
    pub conversion_rate: Option<f64>,
}

/// Local times `HH:MM` (an interval crossing midnight when `start` > `end`).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RecoveryTimeRange {
    #[schema(example = "09:00")]
    pub start: String,
    #[schema(example = "20:00")]
    pub end: String,
}

/// Which events of the trigger the campaign takes.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoveryAudience {
    /// Only events worth at least this much (minor units).
    #[serde(default)]
    pub min_value: Option<i64>,
    /// Only events worth at most this much (minor units).
    #[serde(default)]
    pub max_value: Option<i64>,
    /// Only customers whose contact has one of these tags.
    #[serde(default)]
    pub tags_any: Vec<String>,
}

/// Creates or replaces a campaign.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoveryCampaignRequest {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// `abandoned_cart`, `failed_payment`, `churn_risk`, `inactivity`, `win_back` or `custom`.
    pub trigger: String,
    /// The event name a `custom` trigger listens to.
    #[serde(default)]
    pub custom_event: Option<String>,
    /// `draft` (default), `active`, `paused` or `archived`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub audience: RecoveryAudience,
    pub steps: Vec<RecoveryStep>,
    /// When messages may go, in the recipient's timezone (default all day).
    #[serde(default)]
    pub send_window: Option<RecoveryTimeRange>,
    /// When messages must not go (postponed to the end, never dropped).
    #[serde(default)]
    pub quiet_hours: Option<RecoveryTimeRange>,
    /// The timezone of recipients whose own is unknown (default `UTC`).
    #[serde(default)]
    pub timezone: Option<String>,
    /// Frequency cap: recovery messages one customer gets per 24 hours across all campaigns (default 3).
    #[serde(default)]
    pub max_messages_per_day: Option<i64>,
}

/// A campaign with its figures.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecoveryCampaign {
    pub id: RecoveryCampaignId,
    pub name: String,
    pub description: Option<String>,
    pub trigger: String,
    pub custom_event: Option<String>,
    pub status: String,
    pub audience: RecoveryAudience,
    pub steps: Vec<RecoveryStep>,
    pub send_window: Option<RecoveryTimeRange>,
    pub quiet_hours: Option<RecoveryTimeRange>,
    pub timezone: String,
    pub max_messages_per_day: i64,
    pub total_targeted: i64,
    pub total_sent: i64,
    pub total_recovered: i64,
    /// Minor units of `currency`.
    pub total_revenue_recovered: i64,
    pub currency: String,
    pub created_at: String,
    pub updated_at: String,
}

/// The customer an event is about.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoveryCustomer {
    /// The customer's id in the reporting system (default: the email, else the phone).
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// International format, e.g. `+4915112345678`.
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// IANA timezone of the customer (send windows apply in it).
    #[serde(default)]
    pub timezone: Option<String>,
}

/// One cart line.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoveryCartItem {
    pub name: String,
    #[serde(default = "one")]
    pub quantity: i64,
    /// Unit price, minor units.
    #[serde(default)]
    pub price: Option<i64>,
}

fn one() -> i64 {
    1
}

/// The generic event schema (`POST /orgs/{org_id}/recovery/events`).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoveryEventRequest {
    /// `cart_abandoned`, `checkout_abandoned`, `payment_failed`, `churn_risk`, `inactive`,
    /// `subscription_cancelled`, `custom` (with `name`) or `conversion` (an order: stops
    /// the customer's sequence and is attributed to the last message).
    #[serde(rename = "type")]
    pub event_type: String,
    /// Where the event comes from (dedupe namespace; default `api`).
    #[serde(default)]
    pub source: Option<String>,
    /// The event's id at the source: the same `(source, source_id)` is taken once.
    #[serde(default)]
    pub source_id: Option<String>,
    #[serde(default)]
    pub customer: RecoveryCustomer,
    /// Minor units (cart total, amount due, order amount).
    #[serde(default)]
    pub amount: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub cart_items: Vec<RecoveryCartItem>,
    #[serde(default)]
    pub checkout_url: Option<String>,
    #[serde(default)]
    pub payment_url: Option<String>,
    /// Conversions: the order's id (attributed once).
    #[serde(default)]
    pub order_id: Option<String>,
    /// Custom events: the event name campaigns listen to.
    #[serde(default)]
    pub name: Option<String>,
    /// Extra fields, available to templates of custom triggers as `{{data.…}}`.
    #[serde(default)]
    pub data: Map<String, Value>,
}

/// What became of a reported event.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecoveryIngest {
    /// The stored event (absent for conversions).
    pub event_id: Option<RecoveryEventId>,
    /// `accepted`, `duplicate`, `no_campaign`, `opted_out`, `rejected`, `converted` or `unattributed`.
    pub outcome: String,
    pub campaign_id: Option<RecoveryCampaignId>,
    pub messages_scheduled: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A stored event (the events log).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecoveryEvent {
    pub id: RecoveryEventId,
    pub campaign_id: Option<RecoveryCampaignId>,
    pub customer_id: String,
    pub customer_email: Option<String>,
    pub customer_phone: Option<String>,
    pub event_type: String,
    pub status: String,
    pub potential_value: Option<i64>,
    pub currency: String,
    pub recovered_value: Option<i64>,
    pub source: Option<String>,
    pub source_id: Option<String>,
    /// Why the event was rejected or ignored.
    pub reason: Option<String>,
    pub data: Value,
    pub occurred_at: String,
    pub created_at: String,
}

/// A scheduled or sent message.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecoveryMessage {
    pub id: RecoveryMessageId,
    pub campaign_id: RecoveryCampaignId,
    pub event_id: RecoveryEventId,
    pub customer_id: String,
    pub step: i64,
    pub channel: String,
    /// `pending`, `queued`, `sent`, `delivered`, `opened`, `clicked`, `converted`, `failed`,
    /// `skipped` (with `reason`) or `unsubscribed`.
    pub status: String,
    pub reason: Option<String>,
    pub subject: Option<String>,
    pub body: String,
    /// UTC.
    pub scheduled_at: Option<String>,
    /// `scheduled_at` in the recipient's timezone, e.g. `2026-12-07T09:00:00+01:00`.
    pub scheduled_local: Option<String>,
    pub timezone: String,
    pub channel_message_id: Option<i64>,
    pub sent_at: Option<String>,
    pub delivered_at: Option<String>,
    pub clicked_at: Option<String>,
    pub converted_at: Option<String>,
    pub conversion_value: Option<i64>,
    pub conversion_order_id: Option<String>,
    pub currency: String,
}

/// Filters of the messages list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecoveryMessageFilter {
    pub event_id: Option<i64>,
    pub campaign_id: Option<i64>,
}

/// Registers a signed webhook source.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoverySourceRequest {
    pub name: String,
    /// `shopify` (checkout/cart and order webhooks, `X-Shopify-Hmac-Sha256`) or `stripe` (`invoice.payment_failed`, `invoice.paid`; `Stripe-Signature`).
    pub platform: String,
    /// The source's signing secret (Shopify app secret, Stripe endpoint secret `whsec_…`); stored encrypted.
    pub secret: String,
}

/// A webhook source.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecoverySource {
    pub id: RecoverySourceId,
    pub name: String,
    pub platform: String,
    pub events_received: i64,
    pub last_event_at: Option<String>,
    pub created_at: String,
    /// The URL to give the source; shown once, at creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// Filters of the analytics.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecoveryAnalyticsQuery {
    pub campaign_id: Option<i64>,
    /// First day, `YYYY-MM-DD` (UTC).
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD` (UTC).
    pub to: Option<String>,
}

/// One campaign × day rollup.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecoveryAnalyticsRow {
    pub campaign_id: RecoveryCampaignId,
    pub campaign_name: String,
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    pub events: i64,
    pub sent: i64,
    pub delivered: i64,
    pub opened: i64,
    pub clicked: i64,
    pub converted: i64,
    /// Minor units.
    pub revenue_at_risk: i64,
    /// Minor units.
    pub revenue_recovered: i64,
    pub currency: String,
    /// Percent of sent.
    pub delivery_rate: Option<f64>,
    pub open_rate: Option<f64>,
    pub click_rate: Option<f64>,
    pub conversion_rate: Option<f64>,
    /// What the sent messages cost (minor units, `recovery.message_costs`).
    pub cost: i64,
    /// (recovered − cost) / cost, percent; absent without cost.
    pub roi_percent: Option<f64>,
}

/// The rollups and their totals.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecoveryAnalytics {
    pub rows: Vec<RecoveryAnalyticsRow>,
    pub sent: i64,
    pub delivered: i64,
    pub clicked: i64,
    pub converted: i64,
    /// Minor units, all campaigns (currencies as reported).
    pub revenue_recovered: i64,
    pub cost: i64,
    pub roi_percent: Option<f64>,
    /// When the `recovery.rollup` job last wrote these rollups.
    pub rolled_up_at: Option<String>,
    /// A/B results per step variant (steps with variants only).
    pub variants: Vec<RecoveryVariantResult>,
}

/// A rendered preview of a step.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecoveryPreview {
    pub step: usize,
    pub channel: String,
    pub subject: Option<String>,
    pub text: String,
}

/// Renders one step with sample data, or sends it as a test.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoveryTestRequest {
    /// The step (0-based).
    pub step: usize,
    /// Test send: the address to send to on the step's channel; absent = preview only.
    #[serde(default)]
    pub to: Option<String>,
}

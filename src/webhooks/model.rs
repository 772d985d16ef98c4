//! Webhook subscriptions, their deliveries and the event catalogue.

use rusqlite::Row;
use serde::{Deserialize, Serialize};

use crate::db::FromRow;
use crate::ids::OrgId;

crate::id_type!(
    /// A row of `webhooks` (an organization's subscription).
    WebhookId
);
crate::id_type!(
    /// A row of `webhook_logs` (one message to one subscription and its attempts).
    DeliveryId
);

/// The events an organization can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Event {
    #[serde(rename = "conversation.started")]
    ConversationStarted,
    #[serde(rename = "conversation.closed")]
    ConversationClosed,
    #[serde(rename = "message.received")]
    MessageReceived,
    #[serde(rename = "message.sent")]
    MessageSent,
    #[serde(rename = "handoff.requested")]
    HandoffRequested,
    #[serde(rename = "usage.threshold")]
    UsageThreshold,
    #[serde(rename = "document.ingested")]
    DocumentIngested,
    #[serde(rename = "training.finished")]
    TrainingFinished,
    #[serde(rename = "agent.run.completed")]
    AgentRunCompleted,
    /// Sent by "send test event" only; not subscribable.
    #[serde(rename = "webhook.test")]
    Test,
}

impl Event {
    /// The events a subscription may list.
    pub const SUBSCRIBABLE: [Event; 9] = [
        Event::ConversationStarted,
        Event::ConversationClosed,
        Event::MessageReceived,
        Event::MessageSent,
        Event::HandoffRequested,
        Event::UsageThreshold,
        Event::DocumentIngested,
        Event::TrainingFinished,
        Event::AgentRunCompleted,
    ];

    /// The wire name, e.g. `message.received`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Event::ConversationStarted => "conversation.started",
            Event::ConversationClosed => "conversation.closed",
            Event::MessageReceived => "message.received",
            Event::MessageSent => "message.sent",
            Event::HandoffRequested => "handoff.requested",
            Event::UsageThreshold => "usage.threshold",
            Event::DocumentIngested => "document.ingested",
            Event::TrainingFinished => "training.finished",
            Event::AgentRunCompleted => "agent.run.completed",
            Event::Test => "webhook.test",
        }
    }

    /// What the event reports, for the UI.
    #[must_use]
    pub fn description(self) -> &'static str {
        match self {
            Event::ConversationStarted => "A conversation with a bot began.",
            Event::ConversationClosed => "A conversation was closed.",
            Event::MessageReceived => "An end user sent a message.",
            Event::MessageSent => "A bot or a human agent answered.",
            Event::HandoffRequested => "A conversation was handed to a human agent.",
            Event::UsageThreshold => "The organization used 80 % or 100 % of its monthly messages.",
            Event::DocumentIngested => "A knowledge document finished ingesting (ready or failed).",
            Event::TrainingFinished => "An NLU training job finished.",
            Event::AgentRunCompleted => {
                "A run of an autonomous agent ended (completed or failed; `status` says which)."
            }
            Event::Test => "A test event sent from the settings.",
        }
    }

    /// Parses a subscribable event name.
    #[must_use]
    pub fn parse_subscribable(name: &str) -> Option<Event> {
        Event::SUBSCRIBABLE.into_iter().find(|e| e.as_str() == name)
    }
}

/// An event of the catalogue, as `GET /orgs/{org_id}/webhook-events` lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EventInfo {
    #[schema(example = "message.received")]
    pub name: &'static str,
    pub description: &'static str,
}

/// A subscription as the API shows it: the secret is never included.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Webhook {
    pub id: WebhookId,
    pub organization_id: OrgId,
    pub name: String,
    pub url: String,
    #[schema(example = json!(["message.received", "conversation.closed"]))]
    pub events: Vec<String>,
    pub description: Option<String>,
    pub is_active: bool,
    /// Why the server switched the subscription off (sustained failure), if it did.
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<String>,
    /// Since when every attempt has failed, while that lasts.
    pub failing_since: Option<String>,
    /// Until when the secret replaced by the last rotation still signs (as a second signature).
    pub previous_secret_expires_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

pub const WEBHOOK_COLUMNS: &str = "id, organization_id, name, url, events, description, is_active, disabled_reason, \
     disabled_at, failing_since, previous_secret_expires_at, created_at, updated_at";

impl FromRow for Webhook {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let events: String = row.get("events")?;
        Ok(Webhook {
            id: row.get("id")?,
            organization_id: row.get("organization_id")?,
            name: row.get("name")?,
            url: row.get("url")?,
            events: serde_json::from_str(&events).unwrap_or_default(),
            description: row.get("description")?,
            is_active: row.get("is_active")?,
            disabled_reason: row.get("disabled_reason")?,
            disabled_at: row.get("disabled_at")?,
            failing_since: row.get("failing_since")?,
            previous_secret_expires_at: row.get("previous_secret_expires_at")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

/// A subscription with its signing secret: answered once, at creation and at rotation.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    pub webhook: Webhook,
    /// `whsec_` + base64 of 32 random bytes. Shown only now; store it.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

/// `POST /orgs/{org_id}/webhooks`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// An http(s) URL the server may reach (the outbound policy applies).
    #[schema(example = "https://example.com/hooks/botbuilder")]
    pub url: String,
    /// Event names from `GET /orgs/{org_id}/webhook-events`; at least one.
    pub events: Vec<String>,
    /// 1–100 characters; defaults to the URL's host.
    pub name: Option<String>,
    /// At most 500 characters.
    pub description: Option<String>,
    /// Default true.
    pub is_active: Option<bool>,
}

/// `PATCH /webhooks/{webhook_id}`: absent fields stay; `description: null` clears it.
/// Switching a disabled subscription on resumes its queued deliveries.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookRequest {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    pub is_active: Option<bool>,
}

/// One message to one subscription and the state of its attempts.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    pub id: DeliveryId,
    pub webhook_id: WebhookId,
    /// The `webhook-id` header: the same for every attempt and redelivery.
    pub message_id: String,
    #[schema(example = "message.received")]
    pub event_type: String,
    /// The JSON body sent (`{"type", "timestamp", "data"}`).
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// The attempt made last (or about to be made).
    pub attempt: i64,
    /// pending (not tried yet), failed (will be retried at `next_retry_at`), delivered or dead.
    pub status: String,
    pub response_status: Option<i64>,
    /// The first 4 KiB of the last response body.
    pub response_body: Option<String>,
    pub duration_ms: Option<i64>,
    pub error_message: Option<String>,
    pub next_retry_at: Option<String>,
    /// The delivery this one repeats, for a manual redelivery.
    pub redelivery_of: Option<DeliveryId>,
    pub created_at: String,
    pub updated_at: String,
}

pub const DELIVERY_COLUMNS: &str = "id, webhook_id, coalesce(message_id, 'msg_' || id) AS message_id, event_type, \
     payload, attempt, status, response_status, response_body, duration_ms, error_message, next_retry_at, redelivery_of, \
     created_at, updated_at";

impl FromRow for Delivery {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let payload: String = row.get("payload")?;
        Ok(Delivery {
            id: row.get("id")?,
            webhook_id: row.get("webhook_id")?,
            message_id: row.get("message_id")?,
            event_type: row.get("event_type")?,
            payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
            attempt: row.get("attempt")?,
            status: row.get("status")?,
            response_status: row.get("response_status")?,
            response_body: row.get("response_body")?,
            duration_ms: row.get("duration_ms")?,
            error_message: row.get("error_message")?,
            next_retry_at: row.get("next_retry_at")?,
            redelivery_of: row.get("redelivery_of")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

/// Filters of the delivery log.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryFilter {
    /// pending, failed, delivered or dead.
    pub status: Option<String>,
    /// An event name, e.g. `message.received`.
    pub event: Option<String>,
}

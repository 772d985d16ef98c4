//! In-process event hub: conversation streams (the widget's and the agent
//! UI's SSE), the organization inbox stream, and a stream of every outbound
//! message for channel adapters to deliver. Events are published after the
//! turn that produced them is committed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::Stream;
use serde::Serialize;
use serde_json::json;
use tokio::sync::broadcast;

use crate::conversations::model::{ConvStatus, ConversationId, Message, Role};
use crate::http::sse::SseEvent;
use crate::ids::{BotId, OrgId, UserId};

/// An event of one conversation.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ConvEvent {
    Message { message: Box<Message> },
    Typing { role: Role, typing: bool },
    Status { status: ConvStatus, assignee_user_id: Option<UserId> },
}

impl ConvEvent {
    fn name(&self) -> &'static str {
        match self {
            ConvEvent::Message { .. } => "message",
            ConvEvent::Typing { .. } => "typing",
            ConvEvent::Status { .. } => "status",
        }
    }

    /// Whether the end user may see it (agents' notes are not shown).
    #[must_use]
    pub fn public(&self) -> bool {
        !matches!(self, ConvEvent::Message { message } if message.role == Role::Note)
    }
}

/// A change in an organization's inbox.
#[derive(Debug, Clone, Serialize)]
pub struct InboxEvent {
    pub conversation_id: ConversationId,
    pub bot_id: BotId,
    pub team_id: Option<i64>,
    pub status: ConvStatus,
    pub assignee_user_id: Option<UserId>,
    /// `handoff`, `message`, `assigned`, `handed_back`, `closed`.
    pub reason: &'static str,
}

/// A message to deliver to the end user through the conversation's channel.
#[derive(Debug, Clone)]
pub struct OutboundEvent {
    pub org_id: OrgId,
    pub bot_id: BotId,
    pub conversation_id: ConversationId,
    pub channel: String,
    pub external_user_id: String,
    pub message: Message,
}

/// The hub; cheap to share.
pub struct Hub {
    conversations: Mutex<HashMap<ConversationId, broadcast::Sender<Arc<ConvEvent>>>>,
    inboxes: Mutex<HashMap<OrgId, broadcast::Sender<Arc<InboxEvent>>>>,
    outbound: broadcast::Sender<Arc<OutboundEvent>>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            conversations: Mutex::new(HashMap::new()),
            inboxes: Mutex::new(HashMap::new()),
            outbound: broadcast::channel(1024).0,
        }
    }
}

fn subscribe<K: std::hash::Hash + Eq + Copy, T>(
    map: &Mutex<HashMap<K, broadcast::Sender<Arc<T>>>>,
    key: K,
) -> broadcast::Receiver<Arc<T>> {
    let mut map = map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    map.entry(key).or_insert_with(|| broadcast::channel(256).0).subscribe()
}

fn publish<K: std::hash::Hash + Eq + Copy, T>(map: &Mutex<HashMap<K, broadcast::Sender<Arc<T>>>>, key: K, event: T) {
    let mut map = map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(sender) = map.get(&key) {
        if sender.receiver_count() == 0 {
            map.remove(&key);
        } else {
            let _ = sender.send(Arc::new(event));
        }
    }
}

impl Hub {
    /// Events of one conversation.
    pub fn subscribe(&self, id: ConversationId) -> broadcast::Receiver<Arc<ConvEvent>> {
        subscribe(&self.conversations, id)
    }

    pub fn publish(&self, id: ConversationId, event: ConvEvent) {
        publish(&self.conversations, id, event);
    }

    /// Inbox changes of one organization.
    pub fn subscribe_inbox(&self, org: OrgId) -> broadcast::Receiver<Arc<InboxEvent>> {
        subscribe(&self.inboxes, org)
    }

    pub fn publish_inbox(&self, org: OrgId, event: InboxEvent) {
        publish(&self.inboxes, org, event);
    }

    /// Every bot and agent message, for channel adapters to deliver.
    #[must_use]
    pub fn subscribe_outbound(&self) -> broadcast::Receiver<Arc<OutboundEvent>> {
        self.outbound.subscribe()
    }

    pub fn publish_outbound(&self, event: OutboundEvent) {
        if self.outbound.receiver_count() > 0 {
            let _ = self.outbound.send(Arc::new(event));
        }
    }
}

/// A conversation's events as SSE; `public_only` hides agents' notes.
pub fn conversation_stream(
    rx: broadcast::Receiver<Arc<ConvEvent>>,
    public_only: bool,
) -> impl Stream<Item = SseEvent> + Unpin {
    Box::pin(futures_util::stream::unfold(rx, move |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(event) if public_only && !event.public() => {}
                Ok(event) => {
                    let data = serde_json::to_value(&*event).unwrap_or_default();
                    let mut sse = SseEvent::json(event.name(), &data);
                    if let ConvEvent::Message { message } = &*event {
                        sse.id = Some(message.id.to_string());
                    }
                    return Some((sse, rx));
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    // The client fell behind: tell it to reload the history.
                    return Some((SseEvent::json("resync", &json!({ "missed": n })), rx));
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }))
}

/// Inbox events as SSE, filtered by `visible`.
pub fn inbox_stream(
    rx: broadcast::Receiver<Arc<InboxEvent>>,
    visible: impl Fn(&InboxEvent) -> bool + 'static,
) -> impl Stream<Item = SseEvent> + Unpin {
    Box::pin(futures_util::stream::unfold((rx, visible), |(mut rx, visible)| async move {
        loop {
            match rx.recv().await {
                Ok(event) if visible(&event) => {
                    let data = serde_json::to_value(&*event).unwrap_or_default();
                    return Some((SseEvent::json("conversation", &data), (rx, visible)));
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    return Some((SseEvent::json("resync", &json!({ "missed": n })), (rx, visible)));
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }))
}

/// The first event of every stream, so that clients know they are connected.
#[must_use]
pub fn ready_event() -> SseEvent {
    SseEvent::json("ready", &json!({}))
}

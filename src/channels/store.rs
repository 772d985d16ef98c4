//! SQL of `channels`, `channel_contacts`, `channel_messages` and `channel_webhooks`.

use rusqlite::{Connection, OptionalExtension, params};

use super::adapter::{Delivery, Sender};
use super::model::{CHANNEL_COLUMNS, Channel, ChannelId, ChannelMessage, MESSAGE_COLUMNS, MessageDelivery};
use crate::conversations::model::ConversationId;
use crate::db::{query_all, query_opt};
use crate::http::Tenant;
use crate::ids::{BotId, OrgId};

pub fn insert(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    channel_type: &str,
    name: &str,
    webhook_path: &str,
) -> rusqlite::Result<ChannelId> {
    conn.query_row(
        "INSERT INTO channels (organization_id, bot_id, type, name, webhook_path) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
        params![tenant.org_id(), bot, channel_type, name, webhook_path],
        |r| r.get(0),
    )
}

/// Stores sealed credentials and webhook secret.
pub fn set_secrets(
    conn: &Connection,
    tenant: &Tenant,
    id: ChannelId,
    credentials: &[u8],
    secret: Option<&[u8]>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE channels SET credentials_encrypted = ?3, webhook_secret_encrypted = coalesce(?4, webhook_secret_encrypted),
                updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), credentials, secret],
    )?;
    Ok(())
}

pub fn update(conn: &Connection, tenant: &Tenant, id: ChannelId, name: &str, bot: BotId) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE channels SET name = ?3, bot_id = ?4, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), name, bot],
    )?;
    Ok(())
}

/// Records the outcome of a provider check or activation.
pub fn set_status(
    conn: &Connection,
    tenant: &Tenant,
    id: ChannelId,
    status: Option<&str>,
    username: Option<&str>,
    error: Option<&str>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE channels SET status = coalesce(?3, status), username = coalesce(?4, username), error_message = ?5,
                last_error_at = CASE WHEN ?5 IS NULL THEN last_error_at ELSE strftime('%Y-%m-%dT%H:%M:%fZ','now') END,
                last_sync_at = strftime('%Y-%m-%dT%H:%M:%fZ','now'), updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), status, username, error],
    )?;
    Ok(())
}

pub fn find(conn: &Connection, tenant: &Tenant, id: ChannelId) -> rusqlite::Result<Option<Channel>> {
    query_opt(
        conn,
        &format!("SELECT {CHANNEL_COLUMNS} FROM channels c WHERE c.id = ?1 AND c.organization_id = ?2"),
        params![id, tenant.org_id()],
    )
}

pub fn list(conn: &Connection, tenant: &Tenant, after: Option<i64>, limit: i64) -> rusqlite::Result<Vec<Channel>> {
    query_all(
        conn,
        &format!(
            "SELECT {CHANNEL_COLUMNS} FROM channels c WHERE c.organization_id = ?1 AND c.id > ?2 ORDER BY c.id LIMIT ?3"
        ),
        params![tenant.org_id(), after.unwrap_or(0), limit],
    )
}

pub fn delete(conn: &Connection, tenant: &Tenant, id: ChannelId) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM channels WHERE id = ?1 AND organization_id = ?2", params![id, tenant.org_id()])
}

/// The sealed credentials and webhook secret of a channel.
pub fn secrets(conn: &Connection, tenant: &Tenant, id: ChannelId) -> rusqlite::Result<Option<(Vec<u8>, Vec<u8>)>> {
    conn.query_row(
        "SELECT coalesce(credentials_encrypted, X''), coalesce(webhook_secret_encrypted, X'') FROM channels
         WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id()],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

/// The sealed webhook secret of a channel.
pub fn sealed_secret(conn: &Connection, org: OrgId, id: ChannelId) -> rusqlite::Result<Option<Vec<u8>>> {
    conn.query_row(
        "SELECT webhook_secret_encrypted FROM channels WHERE id = ?1 AND organization_id = ?2",
        params![id, org],
        |r| r.get(0),
    )
    .optional()
    .map(Option::flatten)
}

/// What the public webhook route needs: found by the unguessable path, before any tenant is known.
pub struct HookTarget {
    pub id: ChannelId,
    pub org: OrgId,
    pub bot: Option<BotId>,
    pub channel_type: String,
    pub status: String,
    pub credentials: Vec<u8>,
    pub secret: Vec<u8>,
}

pub fn by_webhook_path(conn: &Connection, path: &str) -> rusqlite::Result<Option<HookTarget>> {
    conn.query_row(
        "SELECT id, organization_id, bot_id, type, status, coalesce(credentials_encrypted, X''),
                coalesce(webhook_secret_encrypted, X'') FROM channels
         WHERE webhook_path = ?1",
        [path],
        |r| {
            Ok(HookTarget {
                id: r.get(0)?,
                org: r.get(1)?,
                bot: r.get(2)?,
                channel_type: r.get(3)?,
                status: r.get(4)?,
                credentials: r.get(5)?,
                secret: r.get(6)?,
            })
        },
    )
    .optional()
}

/// Stores a raw inbound event unless one with the same provider id exists;
/// returns its id, or `None` for a redelivery.
pub fn insert_event(
    conn: &Connection,
    tenant: &Tenant,
    channel: ChannelId,
    channel_type: &str,
    event_type: &str,
    external_id: Option<&str>,
    payload: &str,
) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "INSERT INTO channel_webhooks (organization_id, channel_id, channel_type, event_type, external_event_id, payload)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (channel_id, external_event_id) WHERE external_event_id IS NOT NULL DO NOTHING
         RETURNING id",
        params![tenant.org_id(), channel, channel_type, event_type, external_id, payload],
        |r| r.get(0),
    )
    .optional()
}

pub fn finish_event(
    conn: &Connection,
    tenant: &Tenant,
    event: i64,
    status: &str,
    error: Option<&str>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE channel_webhooks SET status = ?3, error_message = ?4, processed_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE id = ?1 AND organization_id = ?2",
        params![event, tenant.org_id(), status, error],
    )?;
    conn.execute(
        "UPDATE channels SET last_inbound_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE id = (SELECT channel_id FROM channel_webhooks WHERE id = ?1) AND organization_id = ?2",
        params![event, tenant.org_id()],
    )?;
    Ok(())
}

/// Creates or refreshes the contact of an external user.
pub fn upsert_contact(
    conn: &Connection,
    tenant: &Tenant,
    channel: ChannelId,
    external_id: &str,
    sender: &Sender,
) -> rusqlite::Result<i64> {
    conn.query_row(
        "INSERT INTO channel_contacts (organization_id, channel_id, external_id, username, display_name, phone_number)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (channel_id, external_id) DO UPDATE SET
            username = coalesce(excluded.username, username),
            -- a name an agent set wins over the provider's
            display_name = coalesce(display_name, excluded.display_name),
            phone_number = coalesce(excluded.phone_number, phone_number),
            updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         RETURNING id",
        params![tenant.org_id(), channel, external_id, sender.username, sender.display_name, sender.phone],
        |r| r.get(0),
    )
}

/// A provider's status for one of our messages; a status never goes back
/// (a late "delivered" after "read" changes nothing).
pub fn apply_status(
    conn: &Connection,
    channel: ChannelId,
    external_id: &str,
    status: Delivery,
    error: Option<&str>,
) -> rusqlite::Result<bool> {
    let rank = |s: &str| match s {
        "sent" => 1,
        "delivered" => 2,
        "read" => 3,
        "failed" => 4,
        _ => 0,
    };
    let current: Option<(i64, String)> = conn
        .query_row(
            "SELECT id, status FROM channel_messages WHERE channel_id = ?1 AND direction = 'outbound' AND external_id = ?2",
            params![channel, external_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((id, now)) = current else { return Ok(false) };
    if rank(status.as_str()) <= rank(&now) {
        return Ok(true);
    }
    conn.execute(
        "UPDATE channel_messages SET status = ?2,
            delivered_at = CASE WHEN ?2 IN ('delivered', 'read') THEN coalesce(delivered_at, strftime('%Y-%m-%dT%H:%M:%fZ','now')) ELSE delivered_at END,
            read_at = CASE WHEN ?2 = 'read' THEN strftime('%Y-%m-%dT%H:%M:%fZ','now') ELSE read_at END,
            error_message = coalesce(?3, error_message), updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE id = ?1",
        params![id, status.as_str(), error],
    )?;
    Ok(true)
}

/// A provider's watermark: every outbound message to `to` sent at or before
/// `until` (RFC 3339, as `sent_at`) reached `status`, unless it is further
/// already; answers how many changed.
pub fn apply_status_up_to(
    conn: &Connection,
    channel: ChannelId,
    to: &str,
    until: &str,
    status: Delivery,
) -> rusqlite::Result<usize> {
    let below: &[&str] = match status {
        Delivery::Sent => &[],
        Delivery::Delivered => &["sent"],
        Delivery::Read => &["sent", "delivered"],
        Delivery::Failed => &["sent", "delivered", "read"],
    };
    if below.is_empty() {
        return Ok(0);
    }
    conn.execute(
        "UPDATE channel_messages SET status = ?4,
            delivered_at = CASE WHEN ?4 IN ('delivered', 'read') THEN coalesce(delivered_at, strftime('%Y-%m-%dT%H:%M:%fZ','now')) ELSE delivered_at END,
            read_at = CASE WHEN ?4 = 'read' THEN strftime('%Y-%m-%dT%H:%M:%fZ','now') ELSE read_at END,
            updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE channel_id = ?1 AND direction = 'outbound' AND to_address = ?2 AND sent_at IS NOT NULL
           AND sent_at <= ?3 AND status IN (SELECT value FROM json_each(?5))",
        params![channel, to, until, status.as_str(), serde_json::to_string(below).unwrap_or_default()],
    )
}

/// An inbound message (provider id unique per channel).
pub struct Inbound<'a> {
    pub channel: ChannelId,
    pub bot: BotId,
    pub contact: i64,
    pub from: &'a str,
    pub from_name: Option<&'a str>,
    pub message_type: &'a str,
    pub content: &'a str,
    pub external_id: &'a str,
    /// The thread replies continue (`reply_to_id`).
    pub thread: Option<&'a str>,
    /// [`super::adapter::Event::context`], as JSON (`metadata`).
    pub context: &'a str,
    /// Stored media: (URL, type, file name).
    pub media: Option<(&'a str, &'a str, Option<&'a str>)>,
    pub error: Option<&'a str>,
}

/// Stores an inbound message; an event re-run after an interruption finds
/// the row it stored the first time.
pub fn insert_inbound(conn: &Connection, tenant: &Tenant, m: &Inbound<'_>) -> rusqlite::Result<i64> {
    let (media_url, media_type, media_name) = m.media.map_or((None, None, None), |(u, t, n)| (Some(u), Some(t), n));
    conn.query_row(
        "INSERT INTO channel_messages (organization_id, channel_id, bot_id, contact_id, direction, from_address, from_name,
                message_type, content, status, external_id, reply_to_id, metadata, media_url, media_mime_type,
                media_filename, caption, error_message)
         VALUES (?1, ?2, ?3, ?4, 'inbound', ?5, ?6, ?7, ?8, 'received', ?9, ?10, ?11, ?12, ?13, ?14,
                 CASE WHEN ?12 IS NOT NULL THEN ?8 END, ?15)
         ON CONFLICT (channel_id, direction, external_id) WHERE external_id IS NOT NULL
         DO UPDATE SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         RETURNING id",
        params![
            tenant.org_id(),
            m.channel,
            m.bot,
            m.contact,
            m.from,
            m.from_name,
            m.message_type,
            m.content,
            m.external_id,
            m.thread,
            m.context,
            media_url,
            media_type,
            media_name,
            m.error
        ],
        |r| r.get(0),
    )
}

/// The thread and context of the conversation's latest inbound message,
/// for addressing a reply.
pub fn reply_context(
    conn: &Connection,
    conversation: ConversationId,
) -> rusqlite::Result<(Option<String>, Option<String>)> {
    conn.query_row(
        "SELECT reply_to_id, metadata FROM channel_messages
         WHERE conversation_id = ?1 AND direction = 'inbound' ORDER BY id DESC LIMIT 1",
        [conversation],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
    .map(Option::unwrap_or_default)
}

/// Links the rows of a turn to its conversation.
pub fn link_conversation(
    conn: &Connection,
    tenant: &Tenant,
    channel: ChannelId,
    contact: i64,
    message: i64,
    conversation: ConversationId,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE channel_messages SET conversation_id = ?3 WHERE id = ?1 AND organization_id = ?2",
        params![message, tenant.org_id(), conversation],
    )?;
    conn.execute(
        "UPDATE conversations SET channel_id = ?3, contact_id = ?4 WHERE id = ?1 AND organization_id = ?2",
        params![conversation, tenant.org_id(), channel, contact],
    )?;
    Ok(())
}

/// The channel, contact, contact address and channel type of a
/// conversation that came through a channel.
pub fn conversation_channel(
    conn: &Connection,
    tenant: &Tenant,
    conversation: ConversationId,
) -> rusqlite::Result<Option<(ChannelId, i64, String, String)>> {
    conn.query_row(
        "SELECT c.channel_id, c.contact_id, k.external_id, ch.type FROM conversations c
         JOIN channel_contacts k ON k.id = c.contact_id
         JOIN channels ch ON ch.id = c.channel_id
         WHERE c.id = ?1 AND c.organization_id = ?2 AND c.channel_id IS NOT NULL",
        params![conversation, tenant.org_id()],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )
    .optional()
}

/// One outbound message to queue.
pub struct Outbound<'a> {
    pub channel: ChannelId,
    pub bot: Option<BotId>,
    pub conversation: Option<ConversationId>,
    pub contact: Option<i64>,
    pub to: &'a str,
    pub message_type: &'a str,
    pub content: &'a str,
    /// `{"request": <the adapter's request>, "values"?: [...]}`.
    pub request: &'a str,
    pub idempotency_key: &'a str,
    /// The transcript message this shows.
    pub conversation_message: Option<i64>,
}

/// One outbound message of the channel's log.
pub fn find_message(conn: &Connection, tenant: &Tenant, id: i64) -> rusqlite::Result<Option<ChannelMessage>> {
    query_opt(
        conn,
        &format!("SELECT {MESSAGE_COLUMNS} FROM channel_messages WHERE id = ?1 AND organization_id = ?2"),
        params![id, tenant.org_id()],
    )
}

pub fn enqueue(conn: &Connection, tenant: &Tenant, m: &Outbound<'_>) -> rusqlite::Result<i64> {
    conn.query_row(
        "INSERT INTO channel_messages (organization_id, channel_id, bot_id, conversation_id, contact_id, direction,
                to_address, message_type, content, status, metadata, idempotency_key, conversation_message_id)
         VALUES (?1, ?2, ?3, ?4, ?5, 'outbound', ?6, ?7, ?8, 'pending', ?9, ?10, ?11) RETURNING id",
        params![
            tenant.org_id(),
            m.channel,
            m.bot,
            m.conversation,
            m.contact,
            m.to,
            m.message_type,
            m.content,
            m.request,
            m.idempotency_key,
            m.conversation_message
        ],
        |r| r.get(0),
    )
}

/// The sender's view of a channel (no tenant yet: the job knows only the id).
pub struct SendTarget {
    pub org: OrgId,
    pub channel_type: String,
    pub credentials: Vec<u8>,
    pub secret: Vec<u8>,
    pub send_job_id: Option<i64>,
}

pub fn send_target(conn: &Connection, channel: ChannelId) -> rusqlite::Result<Option<SendTarget>> {
    conn.query_row(
        "SELECT organization_id, type, coalesce(credentials_encrypted, X''), coalesce(webhook_secret_encrypted, X''),
                send_job_id FROM channels WHERE id = ?1",
        [channel],
        |r| {
            Ok(SendTarget {
                org: r.get(0)?,
                channel_type: r.get(1)?,
                credentials: r.get(2)?,
                secret: r.get(3)?,
                send_job_id: r.get(4)?,
            })
        },
    )
    .optional()
}

pub fn set_send_job(conn: &Connection, channel: ChannelId, job: Option<i64>) -> rusqlite::Result<()> {
    conn.execute("UPDATE channels SET send_job_id = ?2 WHERE id = ?1", params![channel, job])?;
    Ok(())
}

/// The channel's job, if it is queued or running.
pub fn live_send_job(conn: &Connection, channel: ChannelId) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "SELECT j.id FROM channels c JOIN jobs j ON j.id = c.send_job_id
         WHERE c.id = ?1 AND j.status IN ('queued', 'running')",
        [channel],
        |r| r.get(0),
    )
    .optional()
}

/// Channels with queued messages (start-up resumption).
pub fn with_queue(conn: &Connection) -> rusqlite::Result<Vec<(ChannelId, OrgId)>> {
    let mut stmt = conn.prepare(
        "SELECT DISTINCT channel_id, organization_id FROM channel_messages
         WHERE direction = 'outbound' AND status IN ('pending', 'failed') AND dead = 0",
    )?;
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect()
}

/// The oldest queued message of a channel.
pub struct Head {
    pub id: i64,
    pub request: String,
    pub attempts: i64,
    pub next_retry_at: Option<String>,
    pub idempotency_key: Option<String>,
    /// The recipient opted out after the message was queued.
    pub opted_out: bool,
    pub contact: Option<i64>,
}

pub fn queue_head(conn: &Connection, channel: ChannelId) -> rusqlite::Result<Option<Head>> {
    conn.query_row(
        "SELECT m.id, m.metadata, m.attempts, m.next_retry_at, m.idempotency_key, k.opted_out_at IS NOT NULL,
                m.contact_id
         FROM channel_messages m LEFT JOIN channel_contacts k ON k.id = m.contact_id
         WHERE m.channel_id = ?1 AND m.direction = 'outbound' AND m.status IN ('pending', 'failed') AND m.dead = 0
         ORDER BY m.id LIMIT 1",
        [channel],
        |r| {
            Ok(Head {
                id: r.get(0)?,
                request: r.get(1)?,
                attempts: r.get(2)?,
                next_retry_at: r.get(3)?,
                idempotency_key: r.get(4)?,
                opted_out: r.get(5)?,
                contact: r.get(6)?,
            })
        },
    )
    .optional()
}

/// Counts an attempt before it is made (committed first: a crash during the
/// request leaves the row queued with the attempt counted).
pub fn begin_attempt(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE channel_messages SET attempts = attempts + 1, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?1",
        [id],
    )?;
    Ok(())
}

pub fn mark_sent(conn: &Connection, id: i64, external_id: Option<&str>) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE channel_messages SET status = 'sent', external_id = ?2, error_message = NULL, next_retry_at = NULL,
                sent_at = strftime('%Y-%m-%dT%H:%M:%fZ','now'), updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE id = ?1",
        params![id, external_id],
    )?;
    Ok(())
}

/// Dead-letters a message whose recipient opted out (not a channel error).
pub fn mark_opted_out(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE channel_messages SET status = 'failed', dead = 1, next_retry_at = NULL,
                error_message = 'not sent: the contact opted out', updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE id = ?1",
        [id],
    )?;
    Ok(())
}

/// A failed attempt: retried at `retry_at`, or dead-lettered when `None`.
pub fn mark_failed(conn: &Connection, id: i64, error: &str, retry_at: Option<&str>) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE channel_messages SET status = 'failed', error_message = ?2, next_retry_at = ?3,
                dead = CASE WHEN ?3 IS NULL THEN 1 ELSE 0 END, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE id = ?1",
        params![id, error, retry_at],
    )?;
    conn.execute(
        "UPDATE channels SET error_message = ?2, last_error_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE id = (SELECT channel_id FROM channel_messages WHERE id = ?1)",
        params![id, error],
    )?;
    Ok(())
}

/// The button value behind `#n` of the outbound message the provider calls `message_id`.
pub fn callback_value(
    conn: &Connection,
    channel: ChannelId,
    message_id: &str,
    index: usize,
) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT json_extract(metadata, '$.values[' || ?3 || ']') FROM channel_messages
         WHERE channel_id = ?1 AND direction = 'outbound' AND external_id = ?2",
        params![channel, message_id, i64::try_from(index).unwrap_or(i64::MAX)],
        |r| r.get(0),
    )
    .optional()
    .map(Option::flatten)
}

/// The delivery state of each transcript message of a conversation (the
/// last request of each, when a message took several).
pub fn deliveries(
    conn: &Connection,
    tenant: &Tenant,
    conversation: ConversationId,
) -> rusqlite::Result<Vec<MessageDelivery>> {
    query_all(
        conn,
        &format!(
            "SELECT {MESSAGE_COLUMNS}, conversation_message_id FROM channel_messages
             WHERE id IN (SELECT max(id) FROM channel_messages
                          WHERE organization_id = ?1 AND conversation_id = ?2 AND conversation_message_id IS NOT NULL
                          GROUP BY conversation_message_id)
             ORDER BY conversation_message_id"
        ),
        params![tenant.org_id(), conversation],
    )
}

/// The `index`-th (0-based) choice value of the latest message queued to
/// `address` (a numbered reply on a channel without reply context), if that
/// message offered one.
pub fn latest_choice(
    conn: &Connection,
    channel: ChannelId,
    address: &str,
    index: usize,
) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT json_extract(metadata, '$.values[' || ?3 || ']') FROM channel_messages
         WHERE channel_id = ?1 AND direction = 'outbound' AND to_address = ?2 AND dead = 0
         ORDER BY id DESC LIMIT 1",
        params![channel, address, i64::try_from(index).unwrap_or(i64::MAX)],
        |r| r.get(0),
    )
    .optional()
    .map(Option::flatten)
}

/// A channel's message log, newest first.
pub fn list_messages(
    conn: &Connection,
    tenant: &Tenant,
    channel: ChannelId,
    before: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<ChannelMessage>> {
    query_all(
        conn,
        &format!(
            "SELECT {MESSAGE_COLUMNS} FROM channel_messages
             WHERE organization_id = ?1 AND channel_id = ?2 AND id < ?3 ORDER BY id DESC LIMIT ?4"
        ),
        params![tenant.org_id(), channel, before.unwrap_or(i64::MAX), limit],
    )
}

/// Events left `received` by a stopped process (the data-file lock proves no
/// other process handles them): marked failed and their provider id freed,
/// so the provider's redelivery (it got no 200) is processed instead of
/// being taken for a duplicate.
pub fn release_interrupted_events(conn: &Connection) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE channel_webhooks SET status = 'failed', processed_at = strftime('%Y-%m-%dT%H:%M:%fZ','now'),
                error_message = 'interrupted by a restart (provider event ' || coalesce(external_event_id, '?') ||
                    '); a redelivery is processed again',
                external_event_id = NULL
         WHERE status = 'received'",
        [],
    )
}

/// Whether the contact sent the channel a message in the last `seconds`
/// (WhatsApp's customer-service window).
pub fn inbound_within(conn: &Connection, channel: ChannelId, contact: i64, seconds: u64) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM channel_messages
             WHERE organization_id = (SELECT organization_id FROM channels WHERE id = ?1) AND channel_id = ?1
               AND contact_id = ?2 AND direction = 'inbound'
               AND created_at >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || ?3 || ' seconds'))",
        params![channel, contact, i64::try_from(seconds).unwrap_or(i64::MAX)],
        |r| r.get(0),
    )
}

//! SQL of the recovery domain.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::{Value, json};

use super::model::{
    RecoveryAudience, RecoveryCampaign, RecoveryCampaignId, RecoveryEvent, RecoveryEventId, RecoveryMessage,
    RecoveryMessageId, RecoverySource, RecoverySourceId, RecoveryTimeRange,
};
use crate::http::Tenant;
use crate::ids::OrgId;

const CAMPAIGN_COLUMNS: &str = "id, name, description, status, target_rules, message_templates, send_window_start, \
     send_window_end, timezone, max_messages_per_customer, total_targeted, total_sent, total_recovered, \
     total_revenue_recovered, currency, created_at, updated_at";

fn campaign_row(r: &Row<'_>) -> rusqlite::Result<RecoveryCampaign> {
    let rules: Value = serde_json::from_str(&r.get::<_, String>(4)?).unwrap_or(Value::Null);
    let steps = serde_json::from_str(&r.get::<_, String>(5)?).unwrap_or_default();
    let window = match (r.get::<_, Option<String>>(6)?, r.get::<_, Option<String>>(7)?) {
        (Some(start), Some(end)) => Some(RecoveryTimeRange { start, end }),
        _ => None,
    };
    Ok(RecoveryCampaign {
        id: r.get(0)?,
        name: r.get(1)?,
        description: r.get(2)?,
        status: r.get(3)?,
        trigger: rules.get("trigger").and_then(Value::as_str).unwrap_or("custom").to_owned(),
        custom_event: rules.get("custom_event").and_then(Value::as_str).map(str::to_owned),
        audience: rules.get("audience").cloned().and_then(|a| serde_json::from_value(a).ok()).unwrap_or_default(),
        quiet_hours: rules.get("quiet_hours").cloned().and_then(|q| serde_json::from_value(q).ok()),
        steps,
        send_window: window,
        timezone: r.get(8)?,
        max_messages_per_day: r.get(9)?,
        total_targeted: r.get(10)?,
        total_sent: r.get(11)?,
        total_recovered: r.get(12)?,
        total_revenue_recovered: r.get(13)?,
        currency: r.get(14)?,
        created_at: r.get(15)?,
        updated_at: r.get(16)?,
    })
}

/// The stored form of a checked campaign.
pub struct CampaignFields<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub campaign_type: &'a str,
    pub status: &'a str,
    pub target_rules: String,
    pub steps: String,
    pub channels: String,
    pub window: Option<(&'a str, &'a str)>,
    pub timezone: &'a str,
    pub max_per_day: i64,
}

#[must_use]
pub fn target_rules(
    trigger: &str,
    custom: Option<&str>,
    audience: &RecoveryAudience,
    quiet: Option<&RecoveryTimeRange>,
) -> String {
    json!({ "trigger": trigger, "custom_event": custom, "audience": audience, "quiet_hours": quiet }).to_string()
}

pub fn insert_campaign(
    conn: &Connection,
    tenant: &Tenant,
    f: &CampaignFields<'_>,
) -> rusqlite::Result<RecoveryCampaignId> {
    conn.query_row(
        "INSERT INTO recovery_campaigns (organization_id, name, description, campaign_type, status, target_rules,
             message_templates, channels, send_window_start, send_window_end, timezone, max_messages_per_customer,
             ai_enabled, ai_personalization, ai_optimal_timing, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 0, 0, 0, ?13) RETURNING id",
        params![
            tenant.org_id(),
            f.name,
            f.description,
            f.campaign_type,
            f.status,
            f.target_rules,
            f.steps,
            f.channels,
            f.window.map(|w| w.0),
            f.window.map(|w| w.1),
            f.timezone,
            f.max_per_day,
            tenant.user_id()
        ],
        |r| r.get(0),
    )
}

pub fn update_campaign(
    conn: &Connection,
    tenant: &Tenant,
    id: RecoveryCampaignId,
    f: &CampaignFields<'_>,
) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE recovery_campaigns SET name = ?3, description = ?4, campaign_type = ?5, status = ?6, target_rules = ?7,
             message_templates = ?8, channels = ?9, send_window_start = ?10, send_window_end = ?11, timezone = ?12,
             max_messages_per_customer = ?13
         WHERE id = ?1 AND organization_id = ?2",
        params![
            id,
            tenant.org_id(),
            f.name,
            f.description,
            f.campaign_type,
            f.status,
            f.target_rules,
            f.steps,
            f.channels,
            f.window.map(|w| w.0),
            f.window.map(|w| w.1),
            f.timezone,
            f.max_per_day
        ],
    )
}

pub fn find_campaign(
    conn: &Connection,
    tenant: &Tenant,
    id: RecoveryCampaignId,
) -> rusqlite::Result<Option<RecoveryCampaign>> {
    conn.query_row(
        &format!("SELECT {CAMPAIGN_COLUMNS} FROM recovery_campaigns WHERE id = ?1 AND organization_id = ?2"),
        params![id, tenant.org_id()],
        campaign_row,
    )
    .optional()
}

pub fn list_campaigns(
    conn: &Connection,
    tenant: &Tenant,
    after: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<RecoveryCampaign>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {CAMPAIGN_COLUMNS} FROM recovery_campaigns WHERE organization_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
    ))?;
    stmt.query_map(params![tenant.org_id(), after.unwrap_or(0), limit], campaign_row)?.collect()
}

/// The active campaigns of the organization, oldest first.
pub fn active_campaigns(conn: &Connection, tenant: &Tenant) -> rusqlite::Result<Vec<RecoveryCampaign>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {CAMPAIGN_COLUMNS} FROM recovery_campaigns WHERE organization_id = ?1 AND status = 'active' ORDER BY id"
    ))?;
    stmt.query_map(params![tenant.org_id()], campaign_row)?.collect()
}

pub fn delete_campaign(conn: &Connection, tenant: &Tenant, id: RecoveryCampaignId) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM recovery_campaigns WHERE id = ?1 AND organization_id = ?2", params![id, tenant.org_id()])
}

pub fn campaign_name_taken(
    conn: &Connection,
    tenant: &Tenant,
    name: &str,
    except: Option<RecoveryCampaignId>,
) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM recovery_campaigns WHERE organization_id = ?1 AND name = ?2 AND id IS NOT ?3)",
        params![tenant.org_id(), name, except],
        |r| r.get(0),
    )
}

/// A new event row.
pub struct NewEvent<'a> {
    pub campaign: Option<RecoveryCampaignId>,
    pub customer_id: &'a str,
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub name: Option<&'a str>,
    pub event_type: &'a str,
    pub data: &'a Value,
    pub value: Option<i64>,
    pub currency: &'a str,
    pub status: &'a str,
    pub source: &'a str,
    pub source_id: Option<&'a str>,
    pub occurred_at: &'a str,
}

/// Inserts the event; `None` when (source, source id) was seen before.
pub fn insert_event(conn: &Connection, tenant: &Tenant, e: &NewEvent<'_>) -> rusqlite::Result<Option<RecoveryEventId>> {
    conn.query_row(
        "INSERT INTO recovery_events (organization_id, campaign_id, customer_id, customer_email, customer_phone, customer_name,
             event_type, event_data, potential_value, currency, status, source_platform, source_event_id, event_occurred_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
         ON CONFLICT (organization_id, source_platform, source_event_id) WHERE source_event_id IS NOT NULL DO NOTHING
         RETURNING id",
        params![
            tenant.org_id(),
            e.campaign,
            e.customer_id,
            e.email,
            e.phone,
            e.name,
            e.event_type,
            e.data.to_string(),
            e.value,
            e.currency,
            e.status,
            e.source,
            e.source_id,
            e.occurred_at
        ],
        |r| r.get(0),
    )
    .optional()
}

pub fn event_by_source(
    conn: &Connection,
    tenant: &Tenant,
    source: &str,
    source_id: &str,
) -> rusqlite::Result<Option<(RecoveryEventId, Option<RecoveryCampaignId>)>> {
    conn.query_row(
        "SELECT id, campaign_id FROM recovery_events WHERE organization_id = ?1 AND source_platform = ?2 AND source_event_id = ?3",
        params![tenant.org_id(), source, source_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

const EVENT_COLUMNS: &str = "id, campaign_id, customer_id, customer_email, customer_phone, event_type, status, potential_value, \
     currency, recovered_value, source_platform, source_event_id, event_data, event_occurred_at, created_at";

fn event_row(r: &Row<'_>) -> rusqlite::Result<RecoveryEvent> {
    let data: Value = serde_json::from_str(&r.get::<_, String>(12)?).unwrap_or(Value::Null);
    Ok(RecoveryEvent {
        id: r.get(0)?,
        campaign_id: r.get(1)?,
        customer_id: r.get(2)?,
        customer_email: r.get(3)?,
        customer_phone: r.get(4)?,
        event_type: r.get(5)?,
        status: r.get(6)?,
        potential_value: r.get(7)?,
        currency: r.get(8)?,
        recovered_value: r.get(9)?,
        source: r.get(10)?,
        source_id: r.get(11)?,
        reason: data.get("rejected_reason").and_then(Value::as_str).map(str::to_owned),
        data,
        occurred_at: r.get(13)?,
        created_at: r.get(14)?,
    })
}

/// Newest first, before the cursor.
pub fn list_events(
    conn: &Connection,
    tenant: &Tenant,
    before: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<RecoveryEvent>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {EVENT_COLUMNS} FROM recovery_events WHERE organization_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3"
    ))?;
    stmt.query_map(params![tenant.org_id(), before.unwrap_or(i64::MAX), limit], event_row)?.collect()
}

pub fn find_event(conn: &Connection, org: OrgId, id: RecoveryEventId) -> rusqlite::Result<Option<RecoveryEvent>> {
    conn.query_row(
        &format!("SELECT {EVENT_COLUMNS} FROM recovery_events WHERE id = ?1 AND organization_id = ?2"),
        params![id, org],
        event_row,
    )
    .optional()
}

/// A message to schedule.
pub struct NewMessage<'a> {
    pub campaign: RecoveryCampaignId,
    pub event: RecoveryEventId,
    pub customer_id: &'a str,
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub channel: &'a str,
    pub subject: Option<&'a str>,
    pub body: &'a str,
    pub variables: &'a Value,
    pub currency: &'a str,
    pub step: i64,
    pub scheduled_at: &'a str,
}

pub fn insert_message(conn: &Connection, tenant: &Tenant, m: &NewMessage<'_>) -> rusqlite::Result<RecoveryMessageId> {
    conn.query_row(
        "INSERT INTO recovery_messages (organization_id, campaign_id, event_id, customer_id, recipient_email, recipient_phone,
             channel, subject, message_body, original_template, template_variables, currency, sequence_number, scheduled_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11, ?12, ?13) RETURNING id",
        params![
            tenant.org_id(),
            m.campaign,
            m.event,
            m.customer_id,
            m.email,
            m.phone,
            m.channel,
            m.subject,
            m.body,
            m.variables.to_string(),
            m.currency,
            m.step,
            m.scheduled_at
        ],
        |r| r.get(0),
    )
}

const MESSAGE_COLUMNS: &str = "m.id, m.campaign_id, m.event_id, m.customer_id, m.sequence_number, m.channel, m.status, \
     m.error_code, m.error_message, m.subject, m.message_body, m.scheduled_at, m.template_variables, m.channel_message_id, \
     m.sent_at, m.delivered_at, m.clicked_at, m.converted_at, m.conversion_value, m.conversion_order_id, m.currency";

fn message_row(r: &Row<'_>) -> rusqlite::Result<RecoveryMessage> {
    let status: String = r.get(6)?;
    let code: Option<String> = r.get(7)?;
    let reason: Option<String> = r.get(8)?;
    let skipped = code.as_deref() == Some("skipped");
    let vars: Value = serde_json::from_str(&r.get::<_, String>(12)?).unwrap_or(Value::Null);
    let timezone = vars.get("_timezone").and_then(Value::as_str).unwrap_or("UTC").to_owned();
    let scheduled_at: Option<String> = r.get(11)?;
    let scheduled_local = scheduled_at.as_deref().and_then(|s| super::service::local_time(s, &timezone));
    Ok(RecoveryMessage {
        id: r.get(0)?,
        campaign_id: r.get(1)?,
        event_id: r.get(2)?,
        customer_id: r.get(3)?,
        step: r.get(4)?,
        channel: r.get(5)?,
        status: if skipped { "skipped".to_owned() } else { status },
        reason,
        subject: r.get(9)?,
        body: r.get(10)?,
        scheduled_at,
        scheduled_local,
        timezone,
        channel_message_id: r.get(13)?,
        sent_at: r.get(14)?,
        delivered_at: r.get(15)?,
        clicked_at: r.get(16)?,
        converted_at: r.get(17)?,
        conversion_value: r.get(18)?,
        conversion_order_id: r.get(19)?,
        currency: r.get(20)?,
    })
}

pub fn list_messages(
    conn: &Connection,
    tenant: &Tenant,
    event: Option<i64>,
    campaign: Option<i64>,
    after: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<RecoveryMessage>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM recovery_messages m
         WHERE m.organization_id = ?1 AND (?2 IS NULL OR m.event_id = ?2) AND (?3 IS NULL OR m.campaign_id = ?3) AND m.id > ?4
         ORDER BY m.id LIMIT ?5"
    ))?;
    stmt.query_map(params![tenant.org_id(), event, campaign, after.unwrap_or(0), limit], message_row)?.collect()
}

/// What the dispatcher needs of one message.
pub struct Due {
    pub id: RecoveryMessageId,
    pub org: OrgId,
    pub campaign: RecoveryCampaignId,
    pub event: RecoveryEventId,
    pub customer_id: String,
    pub step: i64,
    pub status: String,
    pub scheduled_at: Option<String>,
    pub variables: Value,
    pub email: Option<String>,
    pub phone: Option<String>,
}

pub fn due(conn: &Connection, id: RecoveryMessageId) -> rusqlite::Result<Option<Due>> {
    conn.query_row(
        "SELECT id, organization_id, campaign_id, event_id, customer_id, sequence_number, status, scheduled_at,
                template_variables, recipient_email, recipient_phone
         FROM recovery_messages WHERE id = ?1",
        [id],
        |r| {
            Ok(Due {
                id: r.get(0)?,
                org: r.get(1)?,
                campaign: r.get(2)?,
                event: r.get(3)?,
                customer_id: r.get(4)?,
                step: r.get(5)?,
                status: r.get(6)?,
                scheduled_at: r.get(7)?,
                variables: serde_json::from_str(&r.get::<_, String>(8)?).unwrap_or(Value::Null),
                email: r.get(9)?,
                phone: r.get(10)?,
            })
        },
    )
    .optional()
}

/// Marks a pending message skipped (status `failed`, code `skipped`) with the reason.
pub fn skip(conn: &Connection, id: RecoveryMessageId, reason: &str) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE recovery_messages SET status = 'failed', error_code = 'skipped', error_message = ?2
         WHERE id = ?1 AND status = 'pending'",
        params![id, reason],
    )
}

/// Skips every pending message of the event.
pub fn skip_rest_of_event(
    conn: &Connection,
    org: OrgId,
    event: RecoveryEventId,
    reason: &str,
) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE recovery_messages SET status = 'failed', error_code = 'skipped', error_message = ?3
         WHERE organization_id = ?1 AND event_id = ?2 AND status = 'pending'",
        params![org, event, reason],
    )
}

/// Skips every pending message to the customer.
pub fn skip_customer(conn: &Connection, org: OrgId, customer: &str, reason: &str) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE recovery_messages SET status = 'failed', error_code = 'skipped', error_message = ?3
         WHERE organization_id = ?1 AND customer_id = ?2 AND status = 'pending'",
        params![org, customer, reason],
    )
}

pub fn set_reject_reason(conn: &Connection, id: RecoveryEventId, reason: &str) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE recovery_events SET event_data = json_set(event_data, '$.rejected_reason', ?2) WHERE id = ?1",
        params![id, reason],
    )
}

pub fn fail(conn: &Connection, id: RecoveryMessageId, code: &str, reason: &str) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE recovery_messages SET status = 'failed', error_code = ?2, error_message = ?3 WHERE id = ?1",
        params![id, code, reason],
    )
}

pub fn reschedule(conn: &Connection, id: RecoveryMessageId, at: &str, why: &str) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE recovery_messages SET scheduled_at = ?2, error_message = ?3 WHERE id = ?1 AND status = 'pending'",
        params![id, at, why],
    )
}

pub fn mark_queued(
    conn: &Connection,
    id: RecoveryMessageId,
    channel: &str,
    subject: Option<&str>,
    body: &str,
    channel_message: i64,
) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE recovery_messages SET status = 'queued', channel = ?2, subject = ?3, message_body = ?4,
             channel_message_id = ?5, error_message = NULL
         WHERE id = ?1 AND status = 'pending'",
        params![id, channel, subject, body, channel_message],
    )
}

/// Records that the text sent was rewritten by a model from `original`.
pub fn mark_rewritten(conn: &Connection, id: RecoveryMessageId, original: &str) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE recovery_messages SET ai_generated = 1, original_template = ?2 WHERE id = ?1",
        params![id, original],
    )
}

/// A/B results per campaign, step and variant.
pub fn variant_results(
    conn: &Connection,
    org: OrgId,
    campaign: Option<i64>,
) -> rusqlite::Result<Vec<super::model::RecoveryVariantResult>> {
    let mut stmt = conn.prepare(
        "SELECT campaign_id, sequence_number, json_extract(template_variables, '$._variant') AS v, count(*),
                sum(sent_at IS NOT NULL), sum(delivered_at IS NOT NULL), sum(clicked_at IS NOT NULL),
                sum(converted_at IS NOT NULL), sum(coalesce(conversion_value, 0))
         FROM recovery_messages WHERE organization_id = ?1 AND (?2 IS NULL OR campaign_id = ?2)
           AND json_extract(template_variables, '$._variant') IS NOT NULL
         GROUP BY campaign_id, sequence_number, v ORDER BY campaign_id, sequence_number, v",
    )?;
    stmt.query_map(params![org, campaign], |r| {
        let sent: i64 = r.get(4)?;
        let converted: i64 = r.get(7)?;
        #[allow(clippy::cast_precision_loss, reason = "counts")]
        let rate = (sent > 0).then(|| (1000.0 * converted as f64 / sent as f64).round() / 10.0);
        Ok(super::model::RecoveryVariantResult {
            campaign_id: r.get(0)?,
            step: r.get(1)?,
            variant: r.get(2)?,
            messages: r.get(3)?,
            sent,
            delivered: r.get(5)?,
            clicked: r.get(6)?,
            converted,
            revenue_recovered: r.get(8)?,
            conversion_rate: rate,
        })
    })?
    .collect()
}

/// Has the customer opted out of recovery messages (an unsubscribe link), or
/// revoked consent / opted out on any matching contact?
pub fn opted_out(
    conn: &Connection,
    org: OrgId,
    customer: &str,
    email: Option<&str>,
    phone: Option<&str>,
) -> rusqlite::Result<bool> {
    let by_link: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM recovery_events WHERE organization_id = ?1 AND customer_id = ?2 AND status = 'opted_out')",
        params![org, customer],
        |r| r.get(0),
    )?;
    if by_link {
        return Ok(true);
    }
    conn.query_row(
        &format!(
            "SELECT EXISTS (SELECT 1 FROM channel_contacts WHERE {MATCH_CONTACT}
                 AND (consent_status = 'revoked' OR opted_out_at IS NOT NULL))"
        ),
        params![org, customer, email, phone],
        |r| r.get(0),
    )
}

/// Contacts of the customer: ?2 external id, ?3 email, ?4 phone (with or without `+`).
/// Three index lookups (V089) rather than one `OR` over the columns, which
/// scanned every contact of the organization per event. It carries the
/// tenant filter (?1) itself, so callers add none: an outer `organization_id`
/// term would lead SQLite to scan that index instead of the rowids. A NULL
/// `?3`/`?4` matches nothing, as `x = NULL` never holds.
const MATCH_CONTACT: &str = "id IN (
         SELECT id FROM channel_contacts WHERE organization_id = ?1 AND external_id IN (?2, lower(?3), ltrim(?4, '+'), ?4)
         UNION SELECT id FROM channel_contacts WHERE organization_id = ?1 AND lower(email) = lower(?3)
         UNION SELECT id FROM channel_contacts WHERE organization_id = ?1 AND phone_number IN (?4, '+' || ltrim(?4, '+')))";

/// The tags of the customer's contacts.
pub fn contact_tags(
    conn: &Connection,
    org: OrgId,
    customer: &str,
    email: Option<&str>,
    phone: Option<&str>,
) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT DISTINCT j.value
         FROM (SELECT tags FROM channel_contacts WHERE {MATCH_CONTACT}) c, json_each(c.tags) j"
    ))?;
    stmt.query_map(params![org, customer, email, phone], |r| r.get(0))?.collect()
}

/// The customer's timezone from a contact's `timezone` attribute.
pub fn contact_timezone(
    conn: &Connection,
    org: OrgId,
    customer: &str,
    email: Option<&str>,
    phone: Option<&str>,
) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        &format!(
            "SELECT json_extract(custom_attributes, '$.timezone') FROM channel_contacts
             WHERE {MATCH_CONTACT} AND json_extract(custom_attributes, '$.timezone') IS NOT NULL
             ORDER BY id LIMIT 1"
        ),
        params![org, customer, email, phone],
        |r| r.get(0),
    )
    .optional()
}

/// The customer's address on an active channel of `kind`: (channel id, address).
/// Email and SMS use the event's email and phone; WhatsApp the phone's digits;
/// Telegram a contact of the customer on that channel.
pub fn route(
    conn: &Connection,
    org: OrgId,
    kind: &str,
    channel_id: Option<i64>,
    customer: &str,
    email: Option<&str>,
    phone: Option<&str>,
) -> rusqlite::Result<Option<(i64, String)>> {
    let channel: Option<i64> = conn
        .query_row(
            "SELECT id FROM channels WHERE organization_id = ?1 AND type = ?2 AND status = 'active' AND (?3 IS NULL OR id = ?3)
             ORDER BY id LIMIT 1",
            params![org, kind, channel_id],
            |r| r.get(0),
        )
        .optional()?;
    let Some(channel) = channel else { return Ok(None) };
    let address = match kind {
        "email" => email.map(str::to_lowercase),
        "sms" => phone.map(|p| format!("+{}", p.trim_start_matches('+'))),
        "whatsapp" => phone.map(|p| p.trim_start_matches('+').to_owned()),
        _ => conn
            .query_row(
                &format!(
                    "SELECT c.external_id FROM channel_contacts c
                     WHERE c.organization_id = ?1 AND c.channel_id = ?5 AND (
                         ({MATCH_CONTACT}) OR coalesce(c.person_id, c.id) IN (
                             SELECT coalesce(person_id, id) FROM channel_contacts WHERE {MATCH_CONTACT}))
                     ORDER BY c.id LIMIT 1"
                ),
                params![org, customer, email, phone, channel],
                |r| r.get(0),
            )
            .optional()?,
    };
    Ok(address.filter(|a| !a.is_empty()).map(|a| (channel, a)))
}

/// Did the customer write on a channel since `since`?
pub fn replied_since(
    conn: &Connection,
    org: OrgId,
    customer: &str,
    email: Option<&str>,
    phone: Option<&str>,
    since: &str,
) -> rusqlite::Result<bool> {
    conn.query_row(
        &format!(
            "SELECT EXISTS (SELECT 1 FROM channel_messages m WHERE m.organization_id = ?1 AND m.direction = 'inbound'
                 AND m.created_at > ?5 AND m.contact_id IN (SELECT id FROM channel_contacts WHERE {MATCH_CONTACT}))"
        ),
        params![org, customer, email, phone, since],
        |r| r.get(0),
    )
}

/// Messages the customer got (or has queued) since `since`, across campaigns, and the oldest send time.
pub fn sent_since(
    conn: &Connection,
    org: OrgId,
    customer: &str,
    since: &str,
) -> rusqlite::Result<(i64, Option<String>)> {
    conn.query_row(
        "SELECT count(*), min(coalesce(sent_at, updated_at)) FROM recovery_messages
         WHERE organization_id = ?1 AND customer_id = ?2 AND status NOT IN ('pending', 'failed')
           AND coalesce(sent_at, updated_at) >= ?3",
        params![org, customer, since],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Folds the channel delivery statuses into the organization's recovery messages.
pub fn sync_statuses(conn: &Connection, org: OrgId) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE recovery_messages SET
             status = CASE
                 WHEN cm.status IN ('delivered', 'read') AND recovery_messages.status IN ('queued', 'sent') THEN 'delivered'
                 WHEN cm.status = 'sent' AND recovery_messages.status = 'queued' THEN 'sent'
                 WHEN cm.status = 'failed' AND recovery_messages.status IN ('queued', 'sent') THEN 'failed'
                 ELSE recovery_messages.status END,
             error_message = CASE WHEN cm.status = 'failed' THEN cm.error_message ELSE recovery_messages.error_message END,
             sent_at = coalesce(recovery_messages.sent_at, cm.sent_at),
             delivered_at = coalesce(recovery_messages.delivered_at, cm.delivered_at),
             opened_at = coalesce(recovery_messages.opened_at, cm.read_at),
             external_message_id = coalesce(recovery_messages.external_message_id, cm.external_id)
         FROM channel_messages cm
         WHERE cm.id = recovery_messages.channel_message_id AND recovery_messages.organization_id = ?1
           AND recovery_messages.status IN ('queued', 'sent', 'delivered')
           AND (recovery_messages.sent_at IS NOT cm.sent_at OR recovery_messages.delivered_at IS NOT cm.delivered_at
                OR recovery_messages.opened_at IS NOT cm.read_at OR cm.status = 'failed')",
        [org],
    )
}

pub fn mark_clicked(conn: &Connection, id: RecoveryMessageId) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE recovery_messages SET clicked_at = coalesce(clicked_at, strftime('%Y-%m-%dT%H:%M:%fZ','now')),
             status = CASE WHEN status IN ('queued', 'sent', 'delivered', 'opened') THEN 'clicked' ELSE status END
         WHERE id = ?1",
        [id],
    )
}

/// The message's organization, customer, event and stored link variables.
pub fn link_target(
    conn: &Connection,
    id: RecoveryMessageId,
) -> rusqlite::Result<Option<(OrgId, String, RecoveryEventId, Value)>> {
    conn.query_row(
        "SELECT organization_id, customer_id, event_id, template_variables FROM recovery_messages WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, serde_json::from_str(&r.get::<_, String>(3)?).unwrap_or(Value::Null))),
    )
    .optional()
}

/// The customer unsubscribed through message `id`.
pub fn unsubscribe(
    conn: &Connection,
    org: OrgId,
    id: RecoveryMessageId,
    customer: &str,
    event: RecoveryEventId,
) -> rusqlite::Result<()> {
    conn.execute("UPDATE recovery_messages SET status = 'unsubscribed' WHERE id = ?1 AND status <> 'converted'", [id])?;
    conn.execute(
        "UPDATE recovery_events SET status = 'opted_out' WHERE id = ?1 AND status NOT IN ('recovered', 'partially_recovered')",
        [event],
    )?;
    skip_customer(conn, org, customer, "opted_out")?;
    let (email, phone): (Option<String>, Option<String>) =
        conn.query_row("SELECT customer_email, customer_phone FROM recovery_events WHERE id = ?1", [event], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    conn.execute(
        &format!(
            "UPDATE channel_contacts SET consent_status = 'revoked', consent_source = 'recovery_unsubscribe',
                 consent_updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
             WHERE {MATCH_CONTACT}"
        ),
        params![org, customer, email, phone],
    )?;
    Ok(())
}

/// The customer's open event to attribute a conversion to: the event with
/// this source id if given, else the customer's latest one with messages.
pub fn conversion_target(
    conn: &Connection,
    org: OrgId,
    customer: &str,
    email: Option<&str>,
    source_ref: Option<(&str, &str)>,
) -> rusqlite::Result<Option<(RecoveryEventId, Option<RecoveryCampaignId>)>> {
    if let Some((source, id)) = source_ref {
        let found = conn
            .query_row(
                "SELECT id, campaign_id FROM recovery_events WHERE organization_id = ?1 AND source_platform = ?2 AND source_event_id = ?3
                   AND status IN ('pending', 'processing', 'message_sent')",
                params![org, source, id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if found.is_some() {
            return Ok(found);
        }
    }
    conn.query_row(
        "SELECT id, campaign_id FROM recovery_events
         WHERE organization_id = ?1 AND (customer_id = ?2 OR (?3 IS NOT NULL AND lower(customer_email) = lower(?3)))
           AND status IN ('pending', 'processing', 'message_sent') AND campaign_id IS NOT NULL
         ORDER BY id DESC LIMIT 1",
        params![org, customer, email],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

pub fn order_attributed(conn: &Connection, org: OrgId, order: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM recovery_messages WHERE organization_id = ?1 AND conversion_order_id = ?2)
             OR EXISTS (SELECT 1 FROM recovery_events WHERE organization_id = ?1 AND recovery_method = 'order:' || ?2)",
        params![org, order],
        |r| r.get(0),
    )
}

/// Attributes an order to the event's last sent message; answers that message.
pub fn convert(
    conn: &Connection,
    org: OrgId,
    event: RecoveryEventId,
    campaign: Option<RecoveryCampaignId>,
    order: &str,
    amount: i64,
) -> rusqlite::Result<Option<RecoveryMessageId>> {
    let last: Option<RecoveryMessageId> = conn
        .query_row(
            "SELECT id FROM recovery_messages WHERE event_id = ?1
               AND status IN ('queued', 'sent', 'delivered', 'opened', 'clicked')
             ORDER BY sequence_number DESC, id DESC LIMIT 1",
            [event],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(m) = last {
        conn.execute(
            "UPDATE recovery_messages SET status = 'converted', converted_at = strftime('%Y-%m-%dT%H:%M:%fZ','now'),
                 conversion_value = ?2, conversion_order_id = ?3
             WHERE id = ?1",
            params![m, amount, order],
        )?;
    }
    conn.execute(
        "UPDATE recovery_events SET status = 'recovered', recovered_at = strftime('%Y-%m-%dT%H:%M:%fZ','now'),
             recovered_value = ?2, recovery_method = 'order:' || ?3
         WHERE id = ?1",
        params![event, amount, order],
    )?;
    skip_rest_of_event(conn, org, event, "converted")?;
    if let (Some(c), Some(_)) = (campaign, last) {
        conn.execute(
            "UPDATE recovery_campaigns SET total_recovered = total_recovered + 1,
                 total_revenue_recovered = total_revenue_recovered + ?2 WHERE id = ?1",
            params![c, amount],
        )?;
    }
    Ok(last)
}

pub fn count_sent(conn: &Connection, campaign: RecoveryCampaignId) -> rusqlite::Result<usize> {
    conn.execute("UPDATE recovery_campaigns SET total_sent = total_sent + 1 WHERE id = ?1", [campaign])
}

pub fn count_targeted(conn: &Connection, campaign: RecoveryCampaignId) -> rusqlite::Result<usize> {
    conn.execute("UPDATE recovery_campaigns SET total_targeted = total_targeted + 1 WHERE id = ?1", [campaign])
}

pub fn event_sent(conn: &Connection, event: RecoveryEventId) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE recovery_events SET status = CASE WHEN status IN ('pending', 'processing') THEN 'message_sent' ELSE status END,
             recovery_attempts = recovery_attempts + 1, last_attempt_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE id = ?1",
        [event],
    )
}

fn frozen_key(org: OrgId) -> String {
    format!("recovery.rollups_frozen_before.org.{}", org.0)
}

/// The day (`YYYY-MM-DD`) before which the organization's daily rollups are
/// kept as they are: the retention job archived the messages they count.
pub fn frozen_before(conn: &Connection, org: OrgId) -> rusqlite::Result<String> {
    let day: Option<String> = conn
        .query_row("SELECT json_extract(value, '$') FROM settings WHERE key = ?1", [frozen_key(org)], |r| r.get(0))
        .optional()?;
    Ok(day.unwrap_or_default())
}

/// Keeps the daily rollups of the days before `day` from now on (never moves back).
pub fn freeze_rollups_before(conn: &Connection, org: OrgId, day: &str) -> rusqlite::Result<()> {
    conn.execute(
        // `settings.value` is JSON: the day is stored as a JSON string, and
        // two such strings compare as their days do.
        "INSERT INTO settings (key, value) VALUES (?1, json_quote(?2))
         ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
        params![frozen_key(org), day],
    )?;
    Ok(())
}

/// Forgets the organization's frozen day (erase).
pub fn unfreeze_rollups(conn: &Connection, org: OrgId) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM settings WHERE key = ?1", [frozen_key(org)])?;
    Ok(())
}

/// Rebuilds the organization's daily rollups per campaign from its messages
/// and events, except the days before [`frozen_before`] (their messages may
/// be archived). `costs` is a JSON object of the cost of one sent message per
/// channel (minor units).
pub fn rebuild_rollups(conn: &Connection, org: OrgId, costs: &str) -> rusqlite::Result<()> {
    let frozen = frozen_before(conn, org)?;
    conn.execute(
        "DELETE FROM recovery_analytics WHERE organization_id = ?1 AND period_type = 'daily' AND period_start >= ?2",
        params![org, frozen],
    )?;
    conn.execute(
        "WITH msg AS (
             SELECT campaign_id, substr(coalesce(sent_at, scheduled_at, created_at), 1, 10) AS day,
                    sum(sent_at IS NOT NULL) AS sent, sum(delivered_at IS NOT NULL) AS delivered,
                    sum(opened_at IS NOT NULL) AS opened, sum(clicked_at IS NOT NULL) AS clicked,
                    sum(converted_at IS NOT NULL) AS converted, sum(coalesce(conversion_value, 0)) AS revenue,
                    max(currency) AS currency,
                    sum(CASE WHEN sent_at IS NOT NULL THEN coalesce(json_extract(?2, '$.' || channel), 0) ELSE 0 END) AS cost,
                    json_group_object(channel, 1) AS channels
             FROM recovery_messages WHERE organization_id = ?1 AND (status <> 'pending' OR sent_at IS NOT NULL)
             GROUP BY campaign_id, day),
         ev AS (
             SELECT campaign_id, substr(created_at, 1, 10) AS day, count(*) AS events, sum(coalesce(potential_value, 0)) AS at_risk,
                    sum(status = 'recovered') AS recoveries
             FROM recovery_events WHERE organization_id = ?1 AND campaign_id IS NOT NULL GROUP BY campaign_id, day),
         days AS (SELECT campaign_id, day FROM msg UNION SELECT campaign_id, day FROM ev)
         INSERT INTO recovery_analytics (organization_id, campaign_id, period_type, period_start, period_end, events_detected,
             messages_sent, messages_delivered, messages_opened, messages_clicked, recoveries_total, revenue_at_risk,
             revenue_recovered, delivery_rate, open_rate, click_rate, conversion_rate, currency,
             campaign_cost, roi_percentage, cost_per_recovery)
         SELECT ?1, d.campaign_id, 'daily', d.day || 'T00:00:00.000Z', date(d.day, '+1 day') || 'T00:00:00.000Z',
                coalesce(ev.events, 0), coalesce(msg.sent, 0), coalesce(msg.delivered, 0), coalesce(msg.opened, 0),
                coalesce(msg.clicked, 0), coalesce(msg.converted, 0), coalesce(ev.at_risk, 0), coalesce(msg.revenue, 0),
                CASE WHEN msg.sent > 0 THEN min(100.0, 100.0 * msg.delivered / msg.sent) END,
                CASE WHEN msg.sent > 0 THEN min(100.0, 100.0 * msg.opened / msg.sent) END,
                CASE WHEN msg.sent > 0 THEN min(100.0, 100.0 * msg.clicked / msg.sent) END,
                CASE WHEN msg.sent > 0 THEN min(100.0, 100.0 * msg.converted / msg.sent) END,
                coalesce(msg.currency, (SELECT currency FROM recovery_campaigns WHERE id = d.campaign_id), 'USD'),
                coalesce(msg.cost, 0),
                CASE WHEN msg.cost > 0 THEN round(100.0 * (msg.revenue - msg.cost) / msg.cost, 1) END,
                CASE WHEN msg.converted > 0 THEN msg.cost / msg.converted END
         FROM days d
         LEFT JOIN msg ON msg.campaign_id = d.campaign_id AND msg.day = d.day
         LEFT JOIN ev ON ev.campaign_id = d.campaign_id AND ev.day = d.day
         WHERE d.day IS NOT NULL AND d.day >= ?3",
        params![org, costs, frozen],
    )?;
    Ok(())
}

/// When the organization's rollups were last written.
pub fn rolled_up_at(conn: &Connection, org: OrgId) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT max(updated_at) FROM recovery_analytics WHERE organization_id = ?1 AND period_type = 'daily'",
        [org],
        |r| r.get(0),
    )
}

/// Organizations with recovery campaigns (the rollup job's work list).
pub fn orgs_with_campaigns(conn: &Connection) -> rusqlite::Result<Vec<OrgId>> {
    let mut stmt = conn.prepare("SELECT DISTINCT organization_id FROM recovery_campaigns ORDER BY 1")?;
    stmt.query_map([], |r| r.get(0))?.collect()
}

/// Daily rollups of the organization (optionally one campaign, a day range).
pub fn rollups(
    conn: &Connection,
    tenant: &Tenant,
    campaign: Option<i64>,
    from: Option<&str>,
    to: Option<&str>,
) -> rusqlite::Result<Vec<super::model::RecoveryAnalyticsRow>> {
    let mut stmt = conn.prepare(
        "SELECT a.campaign_id, c.name, substr(a.period_start, 1, 10), a.events_detected, a.messages_sent, a.messages_delivered,
                a.messages_opened, a.messages_clicked, a.recoveries_total, a.revenue_at_risk, a.revenue_recovered, a.currency,
                a.delivery_rate, a.open_rate, a.click_rate, a.conversion_rate, a.campaign_cost, a.roi_percentage
         FROM recovery_analytics a JOIN recovery_campaigns c ON c.id = a.campaign_id
         WHERE a.organization_id = ?1 AND a.period_type = 'daily' AND (?2 IS NULL OR a.campaign_id = ?2)
           AND (?3 IS NULL OR substr(a.period_start, 1, 10) >= ?3) AND (?4 IS NULL OR substr(a.period_start, 1, 10) <= ?4)
         ORDER BY a.period_start, a.campaign_id",
    )?;
    stmt.query_map(params![tenant.org_id(), campaign, from, to], |r| {
        Ok(super::model::RecoveryAnalyticsRow {
            campaign_id: r.get(0)?,
            campaign_name: r.get(1)?,
            day: r.get(2)?,
            events: r.get(3)?,
            sent: r.get(4)?,
            delivered: r.get(5)?,
            opened: r.get(6)?,
            clicked: r.get(7)?,
            converted: r.get(8)?,
            revenue_at_risk: r.get(9)?,
            revenue_recovered: r.get(10)?,
            currency: r.get(11)?,
            delivery_rate: r.get(12)?,
            open_rate: r.get(13)?,
            click_rate: r.get(14)?,
            conversion_rate: r.get(15)?,
            cost: r.get(16)?,
            roi_percent: r.get(17)?,
        })
    })?
    .collect()
}

// Sources.

pub fn insert_source(
    conn: &Connection,
    tenant: &Tenant,
    name: &str,
    platform: &str,
    token_hash: &[u8],
) -> rusqlite::Result<RecoverySourceId> {
    conn.query_row(
        "INSERT INTO recovery_sources (organization_id, name, platform, hook_token_hash, secret_encrypted)
         VALUES (?1, ?2, ?3, ?4, X'') RETURNING id",
        params![tenant.org_id(), name, platform, token_hash],
        |r| r.get(0),
    )
}

pub fn set_source_secret(conn: &Connection, id: RecoverySourceId, sealed: &[u8]) -> rusqlite::Result<usize> {
    conn.execute("UPDATE recovery_sources SET secret_encrypted = ?2 WHERE id = ?1", params![id, sealed])
}

fn source_row(r: &Row<'_>) -> rusqlite::Result<RecoverySource> {
    Ok(RecoverySource {
        id: r.get(0)?,
        name: r.get(1)?,
        platform: r.get(2)?,
        events_received: r.get(3)?,
        last_event_at: r.get(4)?,
        created_at: r.get(5)?,
        url: None,
    })
}

pub fn list_sources(conn: &Connection, tenant: &Tenant) -> rusqlite::Result<Vec<RecoverySource>> {
    let mut stmt = conn.prepare(
        "SELECT id, name, platform, events_received, last_event_at, created_at FROM recovery_sources
         WHERE organization_id = ?1 ORDER BY id",
    )?;
    stmt.query_map([tenant.org_id()], source_row)?.collect()
}

pub fn source_name_taken(conn: &Connection, tenant: &Tenant, name: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM recovery_sources WHERE organization_id = ?1 AND name = ?2)",
        params![tenant.org_id(), name],
        |r| r.get(0),
    )
}

pub fn delete_source(conn: &Connection, tenant: &Tenant, id: RecoverySourceId) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM recovery_sources WHERE id = ?1 AND organization_id = ?2", params![id, tenant.org_id()])
}

/// A webhook source: id, organization, platform, sealed secret.
pub type HookSource = (RecoverySourceId, OrgId, String, Vec<u8>);

/// The source of a webhook token.
pub fn source_by_token(conn: &Connection, token_hash: &[u8]) -> rusqlite::Result<Option<HookSource>> {
    conn.query_row(
        "SELECT id, organization_id, platform, secret_encrypted FROM recovery_sources WHERE hook_token_hash = ?1",
        [token_hash],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )
    .optional()
}

pub fn source_received(conn: &Connection, id: RecoverySourceId) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE recovery_sources SET events_received = events_received + 1,
             last_event_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?1",
        [id],
    )
}

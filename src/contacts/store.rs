//! SQL of the contacts domain over `channel_contacts` and what hangs off it
//! (`channel_messages`, `conversations`, `widget_messages`,
//! `channel_webhooks`, `nlu_logs`, `webhook_logs`). Sets of ids are bound as
//! one JSON array parameter (`json_each`), never formatted into the SQL.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::model::{
    CONTACT_COLUMNS, Contact, ContactConversation, ContactId, ContactSort, ExportedChannelMessage, ExportedEvent,
    ExportedParse, ExportedTranscriptMessage, SeenCursor,
};
use crate::conversations::model::ConversationId;
use crate::db::{query_all, query_opt};
use crate::http::Tenant;

/// A JSON array of ids, the parameter form of a set.
pub fn id_set(ids: impl IntoIterator<Item = i64>) -> String {
    Value::from(ids.into_iter().collect::<Vec<i64>>()).to_string()
}

pub fn find(conn: &Connection, tenant: &Tenant, id: ContactId) -> rusqlite::Result<Option<Contact>> {
    query_opt(
        conn,
        &format!(
            "SELECT {CONTACT_COLUMNS} FROM channel_contacts k JOIN channels ch ON ch.id = k.channel_id
             WHERE k.id = ?1 AND k.organization_id = ?2"
        ),
        params![id, tenant.org_id()],
    )
}

/// The list filters, bound as parameters (`NULL` = no filter).
pub struct ListQuery<'a> {
    pub q: Option<&'a str>,
    pub channel_id: Option<i64>,
    pub channel_type: Option<&'a str>,
    pub tag: Option<&'a str>,
    pub consent: Option<&'a str>,
    pub after: Option<&'a SeenCursor>,
    pub limit: i64,
}

const LIST_FILTERS: &str = "k.organization_id = ?1
       AND (?2 IS NULL OR instr(lower(coalesce(k.display_name, '') || char(31) || coalesce(k.username, '') || char(31)
                 || coalesce(k.phone_number, '') || char(31) || coalesce(k.email, '') || char(31) || k.external_id), lower(?2)) > 0)
       AND (?3 IS NULL OR k.channel_id = ?3)
       AND (?4 IS NULL OR ch.type = ?4)
       AND (?5 IS NULL OR EXISTS (SELECT 1 FROM json_each(k.tags) WHERE value = ?5))
       AND (?6 IS NULL OR k.consent_status = ?6)";

fn list_sql(sort: ContactSort) -> String {
    let order = match sort {
        ContactSort::LastSeenDesc => {
            "AND (?7 IS NULL OR coalesce(k.last_message_at, '') < ?7 OR (coalesce(k.last_message_at, '') = ?7 AND k.id < ?8))
             ORDER BY coalesce(k.last_message_at, '') DESC, k.id DESC"
        }
        ContactSort::LastSeenAsc => {
            "AND (?7 IS NULL OR coalesce(k.last_message_at, '') > ?7 OR (coalesce(k.last_message_at, '') = ?7 AND k.id > ?8))
             ORDER BY coalesce(k.last_message_at, '') ASC, k.id ASC"
        }
    };
    format!(
        "SELECT {CONTACT_COLUMNS} FROM channel_contacts k JOIN channels ch ON ch.id = k.channel_id
         WHERE {LIST_FILTERS} {order} LIMIT ?9"
    )
}

/// One page of the organization's contacts, in the order asked for; the key
/// is (last seen or '', id), which the index `channel_contacts_seen` holds.
pub fn list(
    conn: &Connection,
    tenant: &Tenant,
    sort: ContactSort,
    q: &ListQuery<'_>,
) -> rusqlite::Result<Vec<Contact>> {
    let (seen, id) = q.after.map_or((None, None), |c| (Some(c.seen.as_str()), Some(c.id)));
    query_all(
        conn,
        &list_sql(sort),
        params![tenant.org_id(), q.q, q.channel_id, q.channel_type, q.tag, q.consent, seen, id, q.limit],
    )
}

/// The key of a contact's person: `coalesce(person_id, id)`.
pub fn person_key(conn: &Connection, tenant: &Tenant, id: ContactId) -> rusqlite::Result<Option<ContactId>> {
    conn.query_row(
        "SELECT coalesce(person_id, id) FROM channel_contacts WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id()],
        |r| r.get(0),
    )
    .optional()
}

fn person_contacts_sql() -> String {
    format!(
        "SELECT {CONTACT_COLUMNS} FROM channel_contacts k JOIN channels ch ON ch.id = k.channel_id
         WHERE +k.organization_id = ?1
           AND k.id IN (SELECT ?2 UNION ALL SELECT id FROM channel_contacts WHERE person_id = ?2)
         ORDER BY k.id"
    )
}

/// Every contact of the person with this key, oldest first (found through
/// the key's row and the `person_id` index, not the organization's contacts).
pub fn person_contacts(conn: &Connection, tenant: &Tenant, key: ContactId) -> rusqlite::Result<Vec<Contact>> {
    query_all(conn, &person_contacts_sql(), params![tenant.org_id(), key])
}

/// Inbound and outbound channel messages of a set of contacts.
pub fn message_counts(conn: &Connection, tenant: &Tenant, ids: &str) -> rusqlite::Result<(i64, i64)> {
    conn.query_row(
        "SELECT coalesce(sum(direction = 'inbound'), 0), coalesce(sum(direction = 'outbound'), 0) FROM channel_messages
         WHERE organization_id = ?1 AND contact_id IN (SELECT value FROM json_each(?2))",
        params![tenant.org_id(), ids],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// The conversations of a set of contacts: those naming one of them, and
/// those one of their channel messages belongs to.
/// Driven by the contacts' rows (indexes on `conversations.contact_id` and
/// `channel_messages.contact_id`), never by a scan of the organization's conversations.
const CONVERSATIONS_OF: &str = "+c.organization_id = ?1
       AND c.id IN (SELECT x.id FROM conversations x
                    WHERE x.organization_id = ?1 AND x.contact_id IN (SELECT value FROM json_each(?2))
                    UNION ALL
                    SELECT m.conversation_id FROM channel_messages m
                    WHERE m.organization_id = ?1 AND m.contact_id IN (SELECT value FROM json_each(?2)))";

fn conversations_sql() -> String {
    format!(
        "SELECT c.id, c.bot_id, b.name AS bot_name, c.channel, c.status, c.message_count, c.last_message_at, c.created_at
         FROM conversations c JOIN bots b ON b.id = c.bot_id
         WHERE {CONVERSATIONS_OF}
         ORDER BY coalesce(c.last_message_at, c.created_at) DESC, c.id DESC LIMIT ?3"
    )
}

pub fn conversations(
    conn: &Connection,
    tenant: &Tenant,
    ids: &str,
    limit: i64,
) -> rusqlite::Result<Vec<ContactConversation>> {
    query_all(conn, &conversations_sql(), params![tenant.org_id(), ids, limit])
}

/// The conversations of a set of contacts in which no one else takes part
/// (no other contact is linked or wrote in them), and those shared with others.
pub fn conversations_split(
    conn: &Connection,
    tenant: &Tenant,
    ids: &str,
) -> rusqlite::Result<(Vec<ConversationId>, Vec<ConversationId>)> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT c.id,
                (c.contact_id IS NOT NULL AND c.contact_id NOT IN (SELECT value FROM json_each(?2)))
                OR EXISTS (SELECT 1 FROM channel_messages o WHERE o.organization_id = ?1 AND o.conversation_id = c.id
                             AND o.contact_id IS NOT NULL AND o.contact_id NOT IN (SELECT value FROM json_each(?2)))
         FROM conversations c WHERE {CONVERSATIONS_OF} ORDER BY c.id"
    ))?;
    let rows =
        stmt.query_map(params![tenant.org_id(), ids], |r| Ok((r.get::<_, ConversationId>(0)?, r.get::<_, bool>(1)?)))?;
    let (mut own, mut shared) = (Vec::new(), Vec::new());
    for row in rows {
        let (id, is_shared) = row?;
        if is_shared { shared.push(id) } else { own.push(id) }
    }
    Ok((own, shared))
}

/// Profile fields of one contact row.
pub struct Profile<'a> {
    pub display_name: Option<&'a str>,
    pub email: Option<&'a str>,
    pub phone_number: Option<&'a str>,
    pub is_blocked: bool,
}

pub fn update_profile(conn: &Connection, tenant: &Tenant, id: ContactId, p: &Profile<'_>) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE channel_contacts SET display_name = ?3, email = ?4, phone_number = ?5, is_blocked = ?6,
                updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), p.display_name, p.email, p.phone_number, p.is_blocked],
    )?;
    Ok(())
}

/// Writes the person-level tags and attributes onto a set of contact rows.
pub fn set_tags_and_attributes(
    conn: &Connection,
    tenant: &Tenant,
    ids: &str,
    tags: &str,
    attributes: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE channel_contacts SET tags = ?3, custom_attributes = ?4, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE organization_id = ?1 AND id IN (SELECT value FROM json_each(?2))",
        params![tenant.org_id(), ids, tags, attributes],
    )?;
    Ok(())
}

/// Points a set of contact rows at a person (`None`: each its own person).
pub fn set_person(conn: &Connection, tenant: &Tenant, ids: &str, person: Option<ContactId>) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE channel_contacts SET person_id = ?3, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE organization_id = ?1 AND id IN (SELECT value FROM json_each(?2))",
        params![tenant.org_id(), ids, person],
    )?;
    Ok(())
}

/// Records a consent decision on one contact (one channel address), from the
/// API or a keyword (SMS STOP/START); revoked also opts the contact out of
/// messages (the outbound queue dead-letters what would go to them).
/// Returns whether the contact exists in the tenant's organization.
pub fn set_consent(
    tx: &Connection,
    tenant: &Tenant,
    contact_id: ContactId,
    granted: bool,
    source: &str,
) -> rusqlite::Result<bool> {
    let n = tx.execute(
        "UPDATE channel_contacts SET consent_status = ?3, consent_source = ?4,
                consent_updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now'), updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now'),
                opted_out_at = CASE WHEN ?3 = 'revoked'
                    THEN coalesce(opted_out_at, strftime('%Y-%m-%dT%H:%M:%fZ','now')) END,
                opt_out_source = CASE WHEN ?3 = 'revoked' THEN ?4 END
         WHERE id = ?1 AND organization_id = ?2",
        params![contact_id, tenant.org_id(), if granted { "granted" } else { "revoked" }, source],
    )?;
    Ok(n == 1)
}

const MESSAGES_OF: &str = "organization_id = ?1
       AND (contact_id IN (SELECT value FROM json_each(?2)) OR conversation_id IN (SELECT value FROM json_each(?3)))";

/// The channel messages of a set of contacts and of a set of conversations.
pub fn channel_messages(
    conn: &Connection,
    tenant: &Tenant,
    ids: &str,
    conversations: &str,
) -> rusqlite::Result<Vec<ExportedChannelMessage>> {
    query_all(
        conn,
        &format!(
            "SELECT id, channel_id, contact_id, conversation_id, direction, from_address, to_address, from_name, message_type,
                    content, media_url, caption, status, metadata, created_at
             FROM channel_messages WHERE {MESSAGES_OF} ORDER BY id"
        ),
        params![tenant.org_id(), ids, conversations],
    )
}

/// A conversation's transcript and its state (variables).
pub fn transcript(
    conn: &Connection,
    tenant: &Tenant,
    conversation: ConversationId,
) -> rusqlite::Result<(Value, Vec<ExportedTranscriptMessage>)> {
    let state: String = conn.query_row(
        "SELECT state FROM conversations WHERE id = ?1 AND organization_id = ?2",
        params![conversation, tenant.org_id()],
        |r| r.get(0),
    )?;
    let messages = query_all(
        conn,
        "SELECT id, role, content, payload, created_at FROM widget_messages
         WHERE organization_id = ?1 AND conversation_id = ?2 ORDER BY id",
        params![tenant.org_id(), conversation],
    )?;
    Ok((serde_json::from_str(&state).unwrap_or(Value::Null), messages))
}

/// Raw provider events of the contact's channel in which the contact's
/// external id appears as a value (sender, chat, recipient); counters and
/// timestamps of the provider's own (update and message ids, dates) do not count.
const EVENTS_OF: &str = "organization_id = ?1 AND channel_id = ?2
       AND EXISTS (SELECT 1 FROM json_tree(channel_webhooks.payload) j
                   WHERE j.atom IS NOT NULL AND CAST(j.atom AS TEXT) = ?3
                     AND coalesce(j.key, '') NOT IN ('update_id', 'message_id', 'date', 'edit_date', 'message_thread_id'))";

pub fn webhook_events(conn: &Connection, tenant: &Tenant, contact: &Contact) -> rusqlite::Result<Vec<ExportedEvent>> {
    query_all(
        conn,
        &format!(
            "SELECT id, channel_id, event_type, payload, created_at FROM channel_webhooks WHERE {EVENTS_OF} ORDER BY id"
        ),
        params![tenant.org_id(), contact.channel.id, contact.external_id],
    )
}

/// Parses logged for a set of conversations (`nlu_logs.user_session_id` is the conversation id).
pub fn nlu_logs(conn: &Connection, tenant: &Tenant, conversations: &str) -> rusqlite::Result<Vec<ExportedParse>> {
    query_all(
        conn,
        "SELECT id, user_session_id, message, detected_intent_name, created_at FROM nlu_logs
         WHERE organization_id = ?1 AND user_session_id IN (SELECT CAST(value AS TEXT) FROM json_each(?2)) ORDER BY id",
        params![tenant.org_id(), conversations],
    )
}

/// Replaces the payload of the contact's provider events by `{"erased":true}`.
pub fn redact_webhook_events(conn: &Connection, tenant: &Tenant, contact: &Contact) -> rusqlite::Result<usize> {
    conn.execute(
        &format!("UPDATE channel_webhooks SET payload = '{{\"erased\":true}}', error_message = NULL WHERE {EVENTS_OF}"),
        params![tenant.org_id(), contact.channel.id, contact.external_id],
    )
}

/// Replaces the payload and response excerpt of outbound webhook deliveries
/// about a set of conversations by `{"erased":true}`.
pub fn redact_deliveries(conn: &Connection, tenant: &Tenant, conversations: &str) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE webhook_logs SET payload = '{\"erased\":true}', response_body = NULL
         WHERE organization_id = ?1
           AND json_extract(payload, '$.data.conversation_id') IN (SELECT value FROM json_each(?2))",
        params![tenant.org_id(), conversations],
    )
}

pub fn delete_nlu_logs(conn: &Connection, tenant: &Tenant, conversations: &str) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM nlu_logs
         WHERE organization_id = ?1 AND user_session_id IN (SELECT CAST(value AS TEXT) FROM json_each(?2))",
        params![tenant.org_id(), conversations],
    )
}

pub fn delete_channel_messages(
    conn: &Connection,
    tenant: &Tenant,
    ids: &str,
    conversations: &str,
) -> rusqlite::Result<usize> {
    conn.execute(
        &format!("DELETE FROM channel_messages WHERE {MESSAGES_OF}"),
        params![tenant.org_id(), ids, conversations],
    )
}

/// Deletes conversations (their transcripts and read marks go with them).
pub fn delete_conversations(conn: &Connection, tenant: &Tenant, conversations: &str) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM conversations WHERE organization_id = ?1 AND id IN (SELECT value FROM json_each(?2))",
        params![tenant.org_id(), conversations],
    )
}

pub fn delete_contacts(conn: &Connection, tenant: &Tenant, ids: &str) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM channel_contacts WHERE organization_id = ?1 AND id IN (SELECT value FROM json_each(?2))",
        params![tenant.org_id(), ids],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plan of `sql` with every parameter unbound, one line per step.
    fn plan(conn: &Connection, sql: &str) -> String {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).expect("prepare");
        let mut rows = stmt.raw_query();
        let mut lines = Vec::new();
        while let Some(row) = rows.next().expect("row") {
            lines.push(row.get::<_, String>(3).expect("detail"));
        }
        lines.join("\n")
    }

    #[test]
    fn list_person_and_conversation_queries_use_indexes_not_scans_or_sorts() {
        crate::db::register_sqlite_vec();
        let mut conn = Connection::open_in_memory().expect("open");
        crate::db::apply_migrations(&mut conn).expect("migrate");
        for sort in [ContactSort::LastSeenDesc, ContactSort::LastSeenAsc] {
            let p = plan(&conn, &list_sql(sort));
            assert!(p.contains("USING INDEX channel_contacts_seen") && !p.contains("TEMP B-TREE"), "{sort:?}:\n{p}");
        }
        let p = plan(&conn, &person_contacts_sql());
        assert!(p.contains("SEARCH k USING INTEGER PRIMARY KEY") && p.contains("channel_contacts_person"), "{p}");
        let p = plan(&conn, &conversations_sql());
        assert!(p.contains("SEARCH c USING INTEGER PRIMARY KEY"), "{p}");
        assert!(p.contains("conversations_contact") && p.contains("channel_messages_contact"), "{p}");
        for line in p.lines() {
            assert!(!line.starts_with("SCAN ") || line.contains("json_each"), "a scan: {line}\n{p}");
        }
    }
}

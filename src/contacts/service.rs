//! Contact rules: validation of profile, tags and attributes; person-level
//! tags and attributes kept equal on all contacts of a person; merge and
//! unmerge; consent; the GDPR export and erase. Audit rows name contact ids
//! and changed field names, never the personal data itself (the audit log is
//! append-only and must survive an erase without keeping what was erased).

use rusqlite::Connection;
use serde_json::{Map, Value, json};

use super::model::{
    ConsentDecision, ConsentRequest, Contact, ContactDetail, ContactExport, ContactFilter, ContactId, EraseReport,
    ExportedConversation, MergeRequest, Person, SeenCursor, UpdateContactRequest,
};
use super::store::{self, ListQuery, Profile, id_set};
use crate::app::AppState;
use crate::db::now;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::{Page, PageParams, Tenant};
use crate::orgs::audit::{self, AuditEntry};

pub const MAX_TAGS: usize = 50;
pub const MAX_TAG_CHARS: usize = 50;
pub const MAX_ATTRIBUTES: usize = 100;
pub const MAX_ATTRIBUTE_KEY: usize = 64;
pub const MAX_ATTRIBUTES_BYTES: usize = 16 * 1024;
/// Conversations listed in a detail.
const DETAIL_CONVERSATIONS: i64 = 200;

fn not_found() -> AppError {
    AppError::new(ErrorCode::ContactNotFound, "no such contact")
}

/// Tags as stored: trimmed, lower-case, duplicates dropped, order kept.
pub fn normalize_tags(tags: &[String]) -> AppResult<Vec<String>> {
    if tags.len() > MAX_TAGS {
        return Err(AppError::validation("tags", format!("at most {MAX_TAGS} tags")));
    }
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for (i, raw) in tags.iter().enumerate() {
        let field = format!("tags[{i}]");
        let tag = raw.trim().to_lowercase();
        let n = tag.chars().count();
        if n == 0 || n > MAX_TAG_CHARS {
            return Err(AppError::validation(field, format!("a tag has 1–{MAX_TAG_CHARS} characters")));
        }
        if tag.chars().any(char::is_control) {
            return Err(AppError::validation(field, "a tag has no control characters"));
        }
        crate::names::reject_invisible(&field, &tag)?;
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    Ok(out)
}

fn valid_key(key: &str) -> bool {
    (1..=MAX_ATTRIBUTE_KEY).contains(&key.len())
        && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Checks custom attributes: keys `[a-z0-9_]{1,64}`, scalar values, at most
/// 100 keys and 16 KiB.
pub fn check_attributes(attributes: &Map<String, Value>) -> AppResult<()> {
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(AppError::validation("custom_attributes", format!("at most {MAX_ATTRIBUTES} attributes")));
    }
    for (key, value) in attributes {
        let field = format!("custom_attributes.{key}");
        if !valid_key(key) {
            return Err(AppError::validation(
                field,
                format!("an attribute name is 1–{MAX_ATTRIBUTE_KEY} characters of a–z, 0–9 and _"),
            ));
        }
        if matches!(value, Value::Array(_) | Value::Object(_)) {
            return Err(AppError::validation(field, "a value is a string, a number, a boolean or null"));
        }
    }
    if Value::Object(attributes.clone()).to_string().len() > MAX_ATTRIBUTES_BYTES {
        return Err(AppError::validation("custom_attributes", "at most 16 KiB of attributes"));
    }
    Ok(())
}

fn clean_name(raw: Option<String>) -> AppResult<Option<String>> {
    let Some(raw) = raw else { return Ok(None) };
    let name = raw.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::validation("display_name", "must be 1–200 characters"));
    }
    crate::names::reject_invisible("display_name", &name)?;
    Ok(Some(name))
}

fn clean_email(raw: Option<String>) -> AppResult<Option<String>> {
    let Some(raw) = raw else { return Ok(None) };
    let email = raw.trim().to_lowercase();
    let bad = || AppError::validation("email", "not an email address");
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = email.split_once('@').ok_or_else(bad)?;
    if local.is_empty()
        || domain.contains('@')
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
    {
        return Err(bad());
    }
    Ok(Some(email))
}

fn clean_phone(raw: Option<String>) -> AppResult<Option<String>> {
    let Some(raw) = raw else { return Ok(None) };
    let bad = || AppError::validation("phone_number", "digits with an optional leading +, 3–15 digits");
    let kept: String = raw.trim().chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')')).collect();
    let digits = kept.strip_prefix('+').unwrap_or(&kept);
    if !(3..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    Ok(Some(kept))
}

/// The detail of a contact: its person's contacts, counts, the union of
/// their tags and attributes (this contact's values win) and conversations.
pub fn detail(conn: &Connection, tenant: &Tenant, id: ContactId) -> AppResult<ContactDetail> {
    let key = store::person_key(conn, tenant, id)?.ok_or_else(not_found)?;
    let mut rows = store::person_contacts(conn, tenant, key)?;
    let position = rows.iter().position(|c| c.id == id).ok_or_else(not_found)?;
    let mut contact = rows.remove(position);
    rows.insert(0, contact.clone());
    let ids = id_set(rows.iter().map(|c| c.id.0));
    let (inbound, outbound) = store::message_counts(conn, tenant, &ids)?;
    let conversations = store::conversations(conn, tenant, &ids, DETAIL_CONVERSATIONS)?;
    for other in rows.iter().skip(1) {
        for tag in &other.tags {
            if !contact.tags.contains(tag) {
                contact.tags.push(tag.clone());
            }
        }
        for (k, v) in &other.custom_attributes {
            contact.custom_attributes.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    let person = Person {
        contact_ids: rows.iter().map(|c| c.id).collect(),
        inbound_messages: inbound,
        outbound_messages: outbound,
        first_seen_at: rows.iter().filter_map(|c| c.first_seen_at.clone()).min(),
        last_seen_at: rows.iter().filter_map(|c| c.last_seen_at.clone()).max(),
    };
    Ok(ContactDetail { contact, person, channels: rows, conversations })
}

/// Lists the organization's contacts.
pub async fn list(
    state: &AppState,
    tenant: Tenant,
    filter: ContactFilter,
    page: PageParams,
) -> AppResult<Page<Contact>> {
    let limit = page.fetch_limit()?;
    let after = page.after.as_deref().map(SeenCursor::decode).transpose()?;
    let q = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()).map(str::to_owned);
    if q.as_ref().is_some_and(|q| q.chars().count() > 200) {
        return Err(AppError::validation("q", "at most 200 characters"));
    }
    let tag = filter.tag.as_deref().map(|t| t.trim().to_lowercase()).filter(|t| !t.is_empty());
    let channel_type = filter.channel_type.clone();
    if channel_type
        .as_deref()
        .is_some_and(|t| t.is_empty() || t.len() > 32 || !t.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
    {
        return Err(AppError::validation("channel_type", "a channel type such as `telegram`"));
    }
    let sort = filter.sort.unwrap_or_default();
    let rows = state
        .db
        .read(move |c| {
            Ok(store::list(
                c,
                &tenant,
                sort,
                &ListQuery {
                    q: q.as_deref(),
                    channel_id: filter.channel_id,
                    channel_type: channel_type.as_deref(),
                    tag: tag.as_deref(),
                    consent: filter.consent.map(super::model::Consent::as_str),
                    after: after.as_ref(),
                    limit,
                },
            )?)
        })
        .await?;
    let mut page_out = Page::from_rows(rows, &page, |c| c.id.0)?;
    page_out.next_cursor = page_out
        .next_cursor
        .as_ref()
        .and(page_out.items.last())
        .map(|c| SeenCursor { seen: c.last_seen_at.clone().unwrap_or_default(), id: c.id.0 }.encode());
    Ok(page_out)
}

pub async fn get(state: &AppState, tenant: Tenant, id: ContactId) -> AppResult<ContactDetail> {
    state.db.read(move |c| detail(c, &tenant, id)).await
}

/// Changes a contact: profile fields on this contact, tags and attributes on all the person's contacts.
pub async fn update(
    state: &AppState,
    tenant: Tenant,
    id: ContactId,
    req: UpdateContactRequest,
) -> AppResult<ContactDetail> {
    let display_name = req.display_name.map(clean_name).transpose()?;
    let email = req.email.map(clean_email).transpose()?;
    let phone = req.phone_number.map(clean_phone).transpose()?;
    let tags = req.tags.as_deref().map(normalize_tags).transpose()?;
    if let Some(a) = &req.custom_attributes {
        check_attributes(a)?;
    }
    let mut fields: Vec<&'static str> = Vec::new();
    for (name, present) in [
        ("display_name", display_name.is_some()),
        ("email", email.is_some()),
        ("phone_number", phone.is_some()),
        ("tags", tags.is_some()),
        ("custom_attributes", req.custom_attributes.is_some()),
        ("is_blocked", req.is_blocked.is_some()),
    ] {
        if present {
            fields.push(name);
        }
    }
    state
        .db
        .write(move |tx| {
            let before = store::find(tx, &tenant, id)?.ok_or_else(not_found)?;
            store::update_profile(
                tx,
                &tenant,
                id,
                &Profile {
                    display_name: display_name.unwrap_or(before.display_name.clone()).as_deref(),
                    email: email.unwrap_or(before.email.clone()).as_deref(),
                    phone_number: phone.unwrap_or(before.phone_number.clone()).as_deref(),
                    is_blocked: req.is_blocked.unwrap_or(before.is_blocked),
                },
            )?;
            if tags.is_some() || req.custom_attributes.is_some() {
                let current = detail(tx, &tenant, id)?;
                let tags = tags.unwrap_or(current.contact.tags);
                let attributes = req.custom_attributes.unwrap_or(current.contact.custom_attributes);
                let ids = id_set(current.person.contact_ids.iter().map(|c| c.0));
                store::set_tags_and_attributes(
                    tx,
                    &tenant,
                    &ids,
                    &Value::from(tags).to_string(),
                    &Value::Object(attributes).to_string(),
                )?;
            }
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "contact.updated", "contact", id.0).with_metadata(json!({ "fields": fields })),
            )?;
            detail(tx, &tenant, id)
        })
        .await
}

/// Records a consent decision on one contact (its channel address).
pub async fn set_consent(
    state: &AppState,
    tenant: Tenant,
    id: ContactId,
    req: ConsentRequest,
) -> AppResult<ContactDetail> {
    let source = req.source.as_deref().map_or("api", str::trim).to_owned();
    if source.is_empty() || source.chars().count() > 100 || source.chars().any(char::is_control) {
        return Err(AppError::validation("source", "must be 1–100 characters"));
    }
    let granted = req.status == ConsentDecision::Granted;
    state
        .db
        .write(move |tx| {
            if !store::set_consent(tx, &tenant, id, granted, &source)? {
                return Err(not_found());
            }
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "contact.consent_changed", "contact", id.0).with_new(
                    json!({ "consent_status": if granted { "granted" } else { "revoked" }, "source": source }),
                ),
            )?;
            detail(tx, &tenant, id)
        })
        .await
}

/// Merges the other contact's person into this contact's person: all rows
/// are kept and point at one root; tags are united and attributes combined
/// (this contact's values win) on every row.
pub async fn merge(state: &AppState, tenant: Tenant, id: ContactId, req: MergeRequest) -> AppResult<ContactDetail> {
    let other = req.other_contact_id;
    if other == id {
        return Err(AppError::validation("other_contact_id", "a contact cannot be merged with itself"));
    }
    state
        .db
        .write(move |tx| {
            let mine = detail(tx, &tenant, id)?;
            let theirs = detail(tx, &tenant, other).map_err(|e| {
                if e.code() == ErrorCode::ContactNotFound {
                    not_found().with_details(json!({ "field": "other_contact_id" }))
                } else {
                    e
                }
            })?;
            if mine.person.contact_ids.contains(&other) {
                return Ok(mine);
            }
            let mut tags = mine.contact.tags.clone();
            for t in &theirs.contact.tags {
                if !tags.contains(t) {
                    tags.push(t.clone());
                }
            }
            let mut attributes = theirs.contact.custom_attributes.clone();
            attributes.extend(mine.contact.custom_attributes.clone());
            if tags.len() > MAX_TAGS {
                return Err(AppError::validation(
                    "other_contact_id",
                    format!("together the contacts have more than {MAX_TAGS} tags"),
                ));
            }
            if check_attributes(&attributes).is_err() {
                return Err(AppError::validation("other_contact_id", "together the contacts have too many attributes"));
            }
            let root = mine.person.contact_ids.iter().chain(&theirs.person.contact_ids).copied().min().unwrap_or(id);
            let all: Vec<i64> = mine.person.contact_ids.iter().chain(&theirs.person.contact_ids).map(|c| c.0).collect();
            let ids = id_set(all.iter().copied());
            store::set_person(tx, &tenant, &ids, Some(root))?;
            store::set_tags_and_attributes(
                tx,
                &tenant,
                &ids,
                &Value::from(tags).to_string(),
                &Value::Object(attributes).to_string(),
            )?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "contact.merged", "contact", id.0)
                    .activity()
                    .with_new(json!({ "person_id": root, "contact_ids": all, "other_contact_id": other })),
            )?;
            detail(tx, &tenant, id)
        })
        .await
}

/// Takes a contact out of its person; it keeps copies of the tags and attributes.
pub async fn unmerge(state: &AppState, tenant: Tenant, id: ContactId) -> AppResult<ContactDetail> {
    state
        .db
        .write(move |tx| {
            let key = store::person_key(tx, &tenant, id)?.ok_or_else(not_found)?;
            let members: Vec<ContactId> = store::person_contacts(tx, &tenant, key)?.into_iter().map(|c| c.id).collect();
            if members.len() < 2 {
                return Err(AppError::new(ErrorCode::ContactNotMerged, "the contact is not merged with another one"));
            }
            let rest: Vec<ContactId> = members.iter().copied().filter(|c| *c != id).collect();
            store::set_person(tx, &tenant, &id_set([id.0]), None)?;
            let new_root = if rest.len() == 1 { None } else { rest.iter().copied().min() };
            store::set_person(tx, &tenant, &id_set(rest.iter().map(|c| c.0)), new_root)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "contact.unmerged", "contact", id.0)
                    .activity()
                    .with_old(json!({ "person_id": key, "contact_ids": members })),
            )?;
            detail(tx, &tenant, id)
        })
        .await
}

/// Everything stored about the person (all its contacts).
pub async fn export(state: &AppState, tenant: Tenant, id: ContactId) -> AppResult<ContactExport> {
    let export = state
        .db
        .read(move |c| {
            let key = store::person_key(c, &tenant, id)?.ok_or_else(not_found)?;
            let contacts = store::person_contacts(c, &tenant, key)?;
            let ids = id_set(contacts.iter().map(|k| k.id.0));
            let conversations_list = store::conversations(c, &tenant, &ids, i64::MAX)?;
            let conversation_ids = id_set(conversations_list.iter().map(|k| k.id.0));
            let channel_messages = store::channel_messages(c, &tenant, &ids, &conversation_ids)?;
            let mut conversations = Vec::with_capacity(conversations_list.len());
            for conversation in conversations_list {
                let (state, messages) = store::transcript(c, &tenant, conversation.id)?;
                conversations.push(ExportedConversation { conversation, state, messages });
            }
            let mut webhook_events = Vec::new();
            for contact in &contacts {
                webhook_events.extend(store::webhook_events(c, &tenant, contact)?);
            }
            let nlu_logs = store::nlu_logs(c, &tenant, &conversation_ids)?;
            Ok(ContactExport {
                exported_at: now(),
                organization_id: tenant.org_id(),
                contacts,
                channel_messages,
                conversations,
                webhook_events,
                nlu_logs,
            })
        })
        .await?;
    Ok(export)
}

/// Audits an export (who exported whose data; no personal data).
pub async fn audit_export(state: &AppState, tenant: Tenant, id: ContactId, contacts: usize) -> AppResult<()> {
    state
        .db
        .write(move |tx| {
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "contact.exported", "contact", id.0)
                    .with_metadata(json!({ "contacts": contacts })),
            )
        })
        .await
}

/// Erases the person: its contact rows, their channel messages, the
/// conversations only they took part in (with transcripts and parse logs);
/// provider events and outbound webhook deliveries about them are redacted.
/// Deleted cells are overwritten (`secure_delete`) so the text does not
/// linger in free pages of the file.
pub async fn erase(state: &AppState, tenant: Tenant, id: ContactId) -> AppResult<EraseReport> {
    state
        .db
        .write(move |tx| {
            let key = store::person_key(tx, &tenant, id)?.ok_or_else(not_found)?;
            let contacts = store::person_contacts(tx, &tenant, key)?;
            let ids = id_set(contacts.iter().map(|k| k.id.0));
            let (own, shared) = store::conversations_split(tx, &tenant, &ids)?;
            let own_ids = id_set(own.iter().map(|c| c.0));
            tx.pragma_update(None, "secure_delete", true)?;
            let mut report = EraseReport { shared_conversations_kept: shared.len(), ..EraseReport::default() };
            for contact in &contacts {
                report.webhook_events_redacted += store::redact_webhook_events(tx, &tenant, contact)?;
            }
            report.webhook_deliveries_redacted = store::redact_deliveries(tx, &tenant, &own_ids)?;
            report.nlu_logs = store::delete_nlu_logs(tx, &tenant, &own_ids)?;
            report.channel_messages = store::delete_channel_messages(tx, &tenant, &ids, &own_ids)?;
            report.conversations = store::delete_conversations(tx, &tenant, &own_ids)?;
            report.contacts = store::delete_contacts(tx, &tenant, &ids)?;
            tx.pragma_update(None, "secure_delete", false)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "contact.erased", "contact", id.0)
                    .activity()
                    .with_metadata(serde_json::to_value(&report).unwrap_or_default()),
            )?;
            Ok(report)
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(e: &AppError) -> String {
        e.details().and_then(|d| d["field"].as_str()).unwrap_or_default().to_owned()
    }

    #[test]
    fn tags_are_trimmed_lowercased_deduplicated_and_limited() {
        let tags = normalize_tags(&["VIP".into(), " vip ".into(), "Churn".into()]).expect("ok");
        assert_eq!(tags, vec!["vip", "churn"]);
        assert_eq!(field(&normalize_tags(&["ok".into(), " ".into()]).expect_err("empty")), "tags[1]");
        assert_eq!(field(&normalize_tags(&["x".repeat(51)]).expect_err("long")), "tags[0]");
        assert!(normalize_tags(&["é".repeat(50)]).is_ok(), "50 characters, not bytes");
        let many: Vec<String> = (0..51).map(|i| i.to_string()).collect();
        assert_eq!(field(&normalize_tags(&many).expect_err("many")), "tags");
    }

    #[test]
    fn attributes_need_simple_keys_scalar_values_and_bounded_size() {
        let ok: Map<String, Value> =
            serde_json::from_str(r#"{"plan":"gold","seats":3,"trial":true,"x":null}"#).expect("json");
        assert!(check_attributes(&ok).is_ok());
        for (json, at) in [
            (r#"{"Plan":1}"#, "custom_attributes.Plan"),
            (r#"{"":1}"#, "custom_attributes."),
            (r#"{"a":[1]}"#, "custom_attributes.a"),
            (r#"{"a":{"b":1}}"#, "custom_attributes.a"),
        ] {
            let m: Map<String, Value> = serde_json::from_str(json).expect("json");
            assert_eq!(field(&check_attributes(&m).expect_err(json)), at);
        }
        let big: Map<String, Value> = (0..17).map(|i| (format!("k{i}"), Value::from("x".repeat(1000)))).collect();
        assert_eq!(field(&check_attributes(&big).expect_err("big")), "custom_attributes");
    }

    #[test]
    fn emails_and_phone_numbers_are_checked_and_normalised() {
        assert_eq!(clean_email(Some(" Ann@Example.COM ".into())).expect("ok").as_deref(), Some("ann@example.com"));
        for bad in ["ann", "ann@example", "@example.com", "a b@example.com", "a@@example.com", "a@example..com"] {
            assert!(clean_email(Some(bad.into())).is_err(), "{bad}");
        }
        assert_eq!(clean_phone(Some("+1 (555) 010-9999".into())).expect("ok").as_deref(), Some("+15550109999"));
        for bad in ["+12", "call me", "++123456", "1234567890123456"] {
            assert!(clean_phone(Some(bad.into())).is_err(), "{bad}");
        }
    }
}

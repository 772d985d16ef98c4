//! Contacts (issue 18 item 3): the people behind the channels' external
//! users, per organization. List with search and filters, detail with the
//! person's channels and conversations, profile/tags/attributes edits,
//! consent, merge of one person's contacts across channels (and unmerge),
//! and the GDPR export and erase.
//!
//! Permissions: reading needs `conversations.read` (what reading transcripts
//! needs: a contact is the transcript's author); changing, consent and merge
//! need `conversations.handle` (the inbox agents who talk to these people);
//! export and erase need `org.manage`: they are the organization's
//! data-controller duties (owner and admin), and an erase cannot be undone.

pub mod model;
pub mod service;
pub mod store;

use actix_web::http::header::CONTENT_DISPOSITION;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use rusqlite::{Connection, OptionalExtension};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::{
    ConsentRequest, Contact, ContactDetail, ContactExport, ContactFilter, ContactId, EraseReport, MergeRequest,
    UpdateContactRequest,
};
use crate::app::AppState;
use crate::error::{AppResult, ErrorBody, ErrorCode};
use crate::http::scope::{Owner, ScopeResource, Scoped};
use crate::http::{Json, OrgScope, Page, PageParams};
use crate::permissions::perm;

/// `/contacts/{contact_id}/…`
pub struct ContactResource;
impl ScopeResource for ContactResource {
    const PARAM: &'static str = "contact_id";
    const NOT_FOUND: ErrorCode = ErrorCode::ContactNotFound;
    type Id = ContactId;
    fn owner(conn: &Connection, id: ContactId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row("SELECT organization_id FROM channel_contacts WHERE id = ?1", [id], |r| {
            Ok(Owner { org_id: r.get(0)?, bot_id: None })
        })
        .optional()
    }
}

pub type ContactScope<P> = Scoped<ContactResource, P>;

/// Registers the routes.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_contacts)
        .service(get_contact)
        .service(update_contact)
        .service(set_consent)
        .service(merge_contact)
        .service(unmerge_contact)
        .service(export_contact)
        .service(erase_contact);
}

/// Lists the organization's contacts, most recently seen first, with search and filters.
#[utoipa::path(
    tag = "contacts",
    params(("org_id" = i64, Path, description = "Organization id"), ContactFilter, PageParams),
    responses((status = 200, body = Page<Contact>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "`validation_failed` (`q`, `channel_type`, `limit`, `after`)")),
    security(("session" = ["conversations.read"]), ("api_token" = ["conversations.read"]))
)]
#[get("/orgs/{org_id}/contacts")]
async fn list_contacts(
    scope: OrgScope<perm::ConversationsRead>,
    state: web::Data<AppState>,
    filter: web::Query<ContactFilter>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<Contact>>> {
    Ok(web::Json(service::list(&state, scope.into_tenant(), filter.into_inner(), page.into_inner()).await?))
}

/// Shows a contact with its person's channels, message counts, tags, attributes, consent and conversations.
#[utoipa::path(
    tag = "contacts",
    params(("contact_id" = i64, Path, description = "Contact id")),
    responses((status = 200, body = ContactDetail), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["conversations.read"]), ("api_token" = ["conversations.read"]))
)]
#[get("/contacts/{contact_id}")]
async fn get_contact(
    scope: ContactScope<perm::ConversationsRead>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<ContactDetail>> {
    let id = scope.id();
    Ok(web::Json(service::get(&state, scope.into_tenant(), id).await?))
}

/// Changes a contact's display name, email, phone number or blocking, and its person's tags and custom attributes.
#[utoipa::path(
    tag = "contacts",
    params(("contact_id" = i64, Path, description = "Contact id")),
    request_body = UpdateContactRequest,
    responses((status = 200, body = ContactDetail), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "`validation_failed` naming the field (`tags[3]`, `custom_attributes.plan`, `email`, …)")),
    security(("session" = ["conversations.handle"]), ("api_token" = ["conversations.handle"]))
)]
#[patch("/contacts/{contact_id}")]
async fn update_contact(
    scope: ContactScope<perm::ConversationsHandle>,
    state: web::Data<AppState>,
    body: Json<UpdateContactRequest>,
) -> AppResult<web::Json<ContactDetail>> {
    let id = scope.id();
    Ok(web::Json(service::update(&state, scope.into_tenant(), id, body.into_inner()?).await?))
}

/// Records that the person granted or revoked consent to be messaged on this contact's channel address.
#[utoipa::path(
    tag = "contacts",
    params(("contact_id" = i64, Path, description = "Contact id")),
    request_body = ConsentRequest,
    responses((status = 200, body = ContactDetail), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "`validation_failed` (`status`, `source`)")),
    security(("session" = ["conversations.handle"]), ("api_token" = ["conversations.handle"]))
)]
#[post("/contacts/{contact_id}/consent")]
async fn set_consent(
    scope: ContactScope<perm::ConversationsHandle>,
    state: web::Data<AppState>,
    body: Json<ConsentRequest>,
) -> AppResult<web::Json<ContactDetail>> {
    let id = scope.id();
    Ok(web::Json(service::set_consent(&state, scope.into_tenant(), id, body.into_inner()?).await?))
}

/// Merges another contact (the same person on another channel) into this contact's person; both rows stay.
#[utoipa::path(
    tag = "contacts",
    params(("contact_id" = i64, Path, description = "Contact id")),
    request_body = MergeRequest,
    responses((status = 200, body = ContactDetail), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody, description = "`contact_not_found`, also when the other contact belongs to another organization"),
              (status = 422, body = ErrorBody, description = "`validation_failed` (`other_contact_id`: the contact itself, or too many tags together)")),
    security(("session" = ["conversations.handle"]), ("api_token" = ["conversations.handle"]))
)]
#[post("/contacts/{contact_id}/merge")]
async fn merge_contact(
    scope: ContactScope<perm::ConversationsHandle>,
    state: web::Data<AppState>,
    body: Json<MergeRequest>,
) -> AppResult<web::Json<ContactDetail>> {
    let id = scope.id();
    Ok(web::Json(service::merge(&state, scope.into_tenant(), id, body.into_inner()?).await?))
}

/// Takes a contact out of the person it was merged into.
#[utoipa::path(
    tag = "contacts",
    params(("contact_id" = i64, Path, description = "Contact id")),
    responses((status = 200, body = ContactDetail), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`contact_not_merged`")),
    security(("session" = ["conversations.handle"]), ("api_token" = ["conversations.handle"]))
)]
#[post("/contacts/{contact_id}/unmerge")]
async fn unmerge_contact(
    scope: ContactScope<perm::ConversationsHandle>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<ContactDetail>> {
    let id = scope.id();
    Ok(web::Json(service::unmerge(&state, scope.into_tenant(), id).await?))
}

/// Everything stored about the person (all its contacts, messages, conversations, provider events), as a JSON download.
#[utoipa::path(
    tag = "contacts",
    params(("contact_id" = i64, Path, description = "Contact id")),
    responses((status = 200, body = ContactExport), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["org.manage"]), ("api_token" = ["org.manage"]))
)]
#[get("/contacts/{contact_id}/export")]
async fn export_contact(scope: ContactScope<perm::OrgManage>, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let id = scope.id();
    let tenant = scope.into_tenant();
    let export = service::export(&state, tenant.clone(), id).await?;
    service::audit_export(&state, tenant, id, export.contacts.len()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_DISPOSITION, format!("attachment; filename=\"contact-{id}-export.json\"")))
        .json(export))
}

/// Erases the person: its contacts, their messages and the conversations only they took part in; provider events are redacted.
#[utoipa::path(
    tag = "contacts",
    params(("contact_id" = i64, Path, description = "Contact id")),
    responses((status = 200, body = EraseReport), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["org.manage"]), ("api_token" = ["org.manage"]))
)]
#[delete("/contacts/{contact_id}")]
async fn erase_contact(
    scope: ContactScope<perm::OrgManage>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<EraseReport>> {
    let id = scope.id();
    Ok(web::Json(service::erase(&state, scope.into_tenant(), id).await?))
}

//! Message template rules: checks at creation (Meta's name, variable and component
//! rules), submission to Meta (`POST {graph}/{waba_id}/message_templates`),
//! the approval sync (`GET …/message_templates?name=`) and sending with
//! variables through the outbound queue (allowed outside the 24-hour window).

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};

use super::model::{
    ChannelTemplate, CreateTemplateRequest, ProviderStatus, SendTemplateRequest, TemplateButton, TemplateId,
    TemplateSend,
};
use super::store::{self, NewTemplate};
use crate::app::AppState;
use crate::channels::adapter::{Answer, Sender};
use crate::channels::model::ChannelId;
use crate::channels::send::ensure_job;
use crate::channels::service as channels;
use crate::channels::store::{self as channel_store, Outbound};
use crate::channels::whatsapp::{WhatsApp, graph};
use crate::crypto::random_token;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::{Page, PageParams, Tenant};
use crate::orgs::audit::{self, AuditEntry};

const BODY_MAX: usize = 1024;
const HEADER_TEXT_MAX: usize = 60;
const FOOTER_MAX: usize = 60;
const BUTTON_TEXT_MAX: usize = 25;
const BUTTONS_MAX: usize = 10;

fn not_found() -> AppError {
    AppError::new(ErrorCode::TemplateNotFound, "no such message template on this channel")
}

/// The variable numbers of `text` (`{{1}}`…); an error for any other `{{…}}`.
pub fn variables(field: &str, text: &str) -> AppResult<Vec<usize>> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(AppError::validation(field, "an unclosed `{{`: variables are written {{1}}, {{2}}…"));
        };
        let inner = after[..end].trim();
        match inner.parse::<usize>() {
            Ok(n) if n >= 1 && inner.bytes().all(|b| b.is_ascii_digit()) => found.push(n),
            _ => {
                return Err(AppError::validation(
                    field,
                    format!("`{{{{{inner}}}}}` is not a variable: variables are numbered, {{{{1}}}}, {{{{2}}}}…"),
                ));
            }
        }
        rest = &after[end + 2..];
    }
    Ok(found)
}

/// The number of variables of a body, checked to be numbered 1…n with none skipped.
pub fn variable_count(body: &str) -> AppResult<usize> {
    let numbers: BTreeSet<usize> = variables("body", body)?.into_iter().collect();
    let n = numbers.last().copied().unwrap_or(0);
    if let Some(gap) = (1..=n).find(|i| !numbers.contains(i)) {
        return Err(AppError::validation(
            "body",
            format!("variables must be numbered consecutively from {{{{1}}}}; {{{{{gap}}}}} is missing"),
        ));
    }
    Ok(n)
}

/// The body with variable `{{i}}` replaced by `values[i-1]`.
#[must_use]
pub fn fill(body: &str, values: &[String]) -> String {
    let mut out = body.to_owned();
    for (i, v) in values.iter().enumerate().rev() {
        out = out.replace(&format!("{{{{{}}}}}", i + 1), v);
    }
    out
}

fn optional(raw: Option<String>) -> Option<String> {
    raw.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn check_buttons(buttons: &[TemplateButton]) -> AppResult<()> {
    if buttons.len() > BUTTONS_MAX {
        return Err(AppError::validation("buttons", format!("at most {BUTTONS_MAX} buttons")));
    }
    for (i, b) in buttons.iter().enumerate() {
        let field = format!("buttons[{i}]");
        let n = b.text.trim().chars().count();
        if n == 0 || n > BUTTON_TEXT_MAX {
            return Err(AppError::validation(format!("{field}.text"), format!("1–{BUTTON_TEXT_MAX} characters")));
        }
        match b.button_type.as_str() {
            "quick_reply" => {}
            "url" => {
                if !b.url.as_deref().is_some_and(|u| u.starts_with("https://") && u.len() <= 2000) {
                    return Err(AppError::validation(format!("{field}.url"), "an https:// address"));
                }
            }
            "phone_number" => {
                let ok = b.phone_number.as_deref().is_some_and(|p| {
                    p.strip_prefix('+')
                        .is_some_and(|d| (6..=20).contains(&d.len()) && d.bytes().all(|c| c.is_ascii_digit()))
                });
                if !ok {
                    return Err(AppError::validation(format!("{field}.phone_number"), "+ and the number's digits"));
                }
            }
            _ => return Err(AppError::validation(format!("{field}.type"), "quick_reply, url or phone_number")),
        }
    }
    Ok(())
}

fn check_header(header_type: &str, header_content: Option<&str>) -> AppResult<()> {
    match header_type {
        "none" => {
            if header_content.is_some() {
                return Err(AppError::validation("header_content", "set header_type too"));
            }
        }
        "text" => {
            let text = header_content.unwrap_or("");
            if text.is_empty() || text.chars().count() > HEADER_TEXT_MAX || text.contains("{{") {
                return Err(AppError::validation(
                    "header_content",
                    format!("the header text: 1–{HEADER_TEXT_MAX} characters, without variables"),
                ));
            }
        }
        "image" | "video" | "document" => {
            if header_content.is_none() {
                return Err(AppError::validation(
                    "header_content",
                    "a media header needs a sample: the handle Meta's Resumable Upload API gave for it",
                ));
            }
        }
        _ => return Err(AppError::validation("header_type", "none, text, image, video or document")),
    }
    Ok(())
}

async fn whatsapp_channel(state: &AppState, tenant: &Tenant, channel: ChannelId) -> AppResult<()> {
    let c = channels::get(state, tenant.clone(), channel).await?;
    if c.channel_type != "whatsapp" {
        return Err(AppError::validation("channel_id", "message templates belong to WhatsApp channels"));
    }
    Ok(())
}

/// Creates a template (not yet submitted: status `pending`, no provider id).
pub async fn create(
    state: &AppState,
    tenant: Tenant,
    channel: ChannelId,
    req: CreateTemplateRequest,
) -> AppResult<ChannelTemplate> {
    whatsapp_channel(state, &tenant, channel).await?;
    let name = req.name.trim().to_owned();
    if name.is_empty()
        || name.len() > 512
        || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(AppError::validation("name", "1–512 lower-case letters, digits and `_`"));
    }
    let language = optional(req.language).unwrap_or_else(|| "en_US".to_owned());
    let lang_ok = match language.split_once('_') {
        Some((l, r)) => {
            (2..=3).contains(&l.len())
                && l.bytes().all(|b| b.is_ascii_lowercase())
                && (r.len() == 2 && r.bytes().all(|b| b.is_ascii_uppercase()) || r == "Hans" || r == "Hant")
        }
        None => (2..=3).contains(&language.len()) && language.bytes().all(|b| b.is_ascii_lowercase()),
    };
    if !lang_ok {
        return Err(AppError::validation("language", "a WhatsApp language code such as en, en_US or pt_BR"));
    }
    let category = req.category.trim().to_ascii_lowercase();
    if !["marketing", "utility", "authentication"].contains(&category.as_str()) {
        return Err(AppError::validation("category", "marketing, utility or authentication"));
    }
    let body = req.body.trim().to_owned();
    if body.is_empty() || body.chars().count() > BODY_MAX {
        return Err(AppError::validation("body", format!("1–{BODY_MAX} characters")));
    }
    let n = variable_count(&body)?;
    let examples: Vec<String> = req.examples.iter().map(|e| e.trim().to_owned()).collect();
    let missing: Vec<usize> = (1..=n).filter(|i| examples.get(i - 1).is_none_or(String::is_empty)).collect();
    if !missing.is_empty() || examples.len() > n {
        return Err(AppError::validation(
            "examples",
            format!("one example value per variable: the body has {n} (Meta reviews the template with them)"),
        )
        .with_details(json!({ "field": "examples", "variables": n, "missing": missing })));
    }
    let header_type = optional(req.header_type).unwrap_or_else(|| "none".to_owned());
    let header_content = optional(req.header_content);
    check_header(&header_type, header_content.as_deref())?;
    let footer = optional(req.footer);
    if footer.as_deref().is_some_and(|f| f.chars().count() > FOOTER_MAX || f.contains("{{")) {
        return Err(AppError::validation("footer", format!("at most {FOOTER_MAX} characters, without variables")));
    }
    check_buttons(&req.buttons)?;
    let examples = Value::from(examples).to_string();
    let buttons = serde_json::to_string(&req.buttons).map_err(|e| AppError::internal(anyhow::Error::from(e)))?;
    state
        .db
        .write(move |tx| {
            let id = store::insert(
                tx,
                &tenant,
                &NewTemplate {
                    channel,
                    name: &name,
                    language: &language,
                    category: &category,
                    body: &body,
                    examples: &examples,
                    header_type: &header_type,
                    header_content: header_content.as_deref(),
                    footer: footer.as_deref(),
                    buttons: &buttons,
                },
            )?
            .ok_or_else(|| {
                AppError::new(ErrorCode::TemplateExists, "the channel has a template of this name and language")
                    .with_details(json!({ "field": "name" }))
            })?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "channel_template.created", "channel_template", id.0)
                    .with_new(json!({ "channel_id": channel, "name": name, "language": language })),
            )?;
            store::find(tx, &tenant, channel, id)?.ok_or_else(not_found)
        })
        .await
}

pub async fn get(state: &AppState, tenant: Tenant, channel: ChannelId, id: TemplateId) -> AppResult<ChannelTemplate> {
    state.db.read(move |c| store::find(c, &tenant, channel, id)?.ok_or_else(not_found)).await
}

pub async fn list(
    state: &AppState,
    tenant: Tenant,
    channel: ChannelId,
    page: PageParams,
) -> AppResult<Page<ChannelTemplate>> {
    let after = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state.db.read(move |c| Ok(store::list(c, &tenant, channel, after, limit)?)).await?;
    Page::from_rows(rows, &page, |t| t.id.0)
}

/// Deletes the template here (Meta keeps its copy; delete it in WhatsApp Manager).
pub async fn delete(state: &AppState, tenant: Tenant, channel: ChannelId, id: TemplateId) -> AppResult<()> {
    state
        .db
        .write(move |tx| {
            let before = store::find(tx, &tenant, channel, id)?.ok_or_else(not_found)?;
            store::delete(tx, &tenant, channel, id)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "channel_template.deleted", "channel_template", id.0)
                    .with_old(json!({ "name": before.name, "language": before.language })),
            )
        })
        .await
}

/// Meta's `components` of a template.
#[must_use]
pub fn components(t: &ChannelTemplate) -> Vec<Value> {
    let mut out = Vec::new();
    match t.header_type.as_str() {
        "text" => out.push(json!({ "type": "HEADER", "format": "TEXT", "text": t.header_content })),
        "image" | "video" | "document" => out.push(json!({
            "type": "HEADER", "format": t.header_type.to_ascii_uppercase(),
            "example": { "header_handle": [t.header_content] }
        })),
        _ => {}
    }
    let mut body = json!({ "type": "BODY", "text": t.body });
    if !t.examples.is_empty() {
        body["example"] = json!({ "body_text": [t.examples] });
    }
    out.push(body);
    if let Some(f) = &t.footer {
        out.push(json!({ "type": "FOOTER", "text": f }));
    }
    if !t.buttons.is_empty() {
        let buttons: Vec<Value> = t
            .buttons
            .iter()
            .map(|b| match b.button_type.as_str() {
                "url" => json!({ "type": "URL", "text": b.text, "url": b.url }),
                "phone_number" => json!({ "type": "PHONE_NUMBER", "text": b.text, "phone_number": b.phone_number }),
                _ => json!({ "type": "QUICK_REPLY", "text": b.text }),
            })
            .collect();
        out.push(json!({ "type": "BUTTONS", "buttons": buttons }));
    }
    out
}

/// The channel's access token and WhatsApp Business Account id.
async fn account(state: &AppState, tenant: &Tenant, channel: ChannelId) -> AppResult<(String, String)> {
    let secrets = channels::secrets(state, tenant, channel).await?;
    let waba = secrets.get("business_account_id").to_owned();
    if waba.is_empty() {
        return Err(AppError::validation(
            "credentials.business_account_id",
            "templates need the channel's WhatsApp Business Account ID: add it to the credentials",
        ));
    }
    Ok((secrets.get("access_token").to_owned(), waba))
}

fn provider_error(answer: Answer) -> AppError {
    channels::provider_error(&WhatsApp, answer)
}

/// Submits the template to Meta for review.
pub async fn submit(
    state: &AppState,
    tenant: Tenant,
    channel: ChannelId,
    id: TemplateId,
) -> AppResult<ChannelTemplate> {
    whatsapp_channel(state, &tenant, channel).await?;
    let t = get(state, tenant.clone(), channel, id).await?;
    if t.submitted {
        return Err(AppError::new(
            ErrorCode::TemplateAlreadySubmitted,
            "the template was already submitted: sync its status",
        ));
    }
    let (token, waba) = account(state, &tenant, channel).await?;
    let body = json!({
        "name": t.name,
        "language": t.language,
        "category": t.category.to_ascii_uppercase(),
        "components": components(&t),
    });
    let answer = graph(state, Method::POST, &format!("{waba}/message_templates"), &token, Some(&body)).await;
    let Answer::Ok(result) = answer else { return Err(provider_error(answer)) };
    let Some(external) =
        result.get("id").and_then(|v| v.as_str().map(str::to_owned).or_else(|| v.as_i64().map(|n| n.to_string())))
    else {
        return Err(provider_error(Answer::Refused {
            status: 502,
            description: "no template id in the answer".into(),
            retry_after: None,
        }));
    };
    let status = super::model::status_of(result.get("status").and_then(Value::as_str).unwrap_or("PENDING"));
    state
        .db
        .write(move |tx| {
            store::set_submitted(tx, &tenant, id, &external, status)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "channel_template.submitted", "channel_template", id.0)
                    .with_new(json!({ "external_id": external, "status": status })),
            )?;
            store::find(tx, &tenant, channel, id)?.ok_or_else(not_found)
        })
        .await
}

/// Asks Meta for the template's review status.
pub async fn sync(state: &AppState, tenant: Tenant, channel: ChannelId, id: TemplateId) -> AppResult<ChannelTemplate> {
    whatsapp_channel(state, &tenant, channel).await?;
    let t = get(state, tenant.clone(), channel, id).await?;
    let (token, waba) = account(state, &tenant, channel).await?;
    let path = format!("{waba}/message_templates?name={}&fields=id,name,language,status,rejected_reason", t.name);
    let answer = graph(state, Method::GET, &path, &token, None).await;
    let Answer::Ok(result) = answer else { return Err(provider_error(answer)) };
    let found = result.get("data").and_then(Value::as_array).and_then(|d| {
        d.iter().find(|x| {
            x.get("name").and_then(Value::as_str) == Some(t.name.as_str())
                && x.get("language").and_then(Value::as_str) == Some(t.language.as_str())
        })
    });
    let Some(found) = found else {
        return Err(AppError::new(
            ErrorCode::ChannelProviderUnavailable,
            format!("WhatsApp has no template `{}` in `{}`: submit it first", t.name, t.language),
        )
        .with_details(json!({ "provider_description": "not found" })));
    };
    let external = found.get("id").and_then(Value::as_str).or(t.external_id.as_deref()).unwrap_or_default().to_owned();
    let update = ProviderStatus::from_event(
        &external,
        &t.name,
        &t.language,
        found.get("status").and_then(Value::as_str).unwrap_or("PENDING"),
        found.get("rejected_reason").and_then(Value::as_str),
    );
    state
        .db
        .write(move |tx| {
            store::apply_provider_status(tx, &tenant, channel, &update)?;
            store::find(tx, &tenant, channel, id)?.ok_or_else(not_found)
        })
        .await
}

/// The queued Graph request of a template message.
pub(crate) fn template_request(t: &ChannelTemplate, to: &str, variables: &[String], media: Option<&str>) -> Value {
    let mut components = Vec::new();
    if let Some(url) = media {
        let kind = t.header_type.as_str();
        components.push(json!({ "type": "header", "parameters": [{ "type": kind, kind: { "link": url } }] }));
    }
    if !variables.is_empty() {
        let parameters: Vec<Value> = variables.iter().map(|v| json!({ "type": "text", "text": v })).collect();
        components.push(json!({ "type": "body", "parameters": parameters }));
    }
    let mut template = json!({ "name": t.name, "language": { "code": t.language } });
    if !components.is_empty() {
        template["components"] = Value::Array(components);
    }
    json!({ "messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "template", "template": template })
}

/// Queues the template for `to` with its variables (any time: templates
/// are what may be sent outside the 24-hour window).
pub async fn send(
    state: &AppState,
    tenant: Tenant,
    channel: ChannelId,
    id: TemplateId,
    req: SendTemplateRequest,
) -> AppResult<TemplateSend> {
    whatsapp_channel(state, &tenant, channel).await?;
    let t = get(state, tenant.clone(), channel, id).await?;
    let to = req.to.trim().trim_start_matches('+').to_owned();
    if to.is_empty() || to.len() > 20 || !to.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AppError::validation(
            "to",
            "the recipient's WhatsApp id: the phone number in international format, digits",
        ));
    }
    if t.status != "approved" {
        return Err(AppError::new(
            ErrorCode::TemplateNotApproved,
            format!("the template is {} at WhatsApp: only approved templates can be sent", t.status),
        )
        .with_details(json!({ "status": t.status, "submitted": t.submitted })));
    }
    let n = variable_count(&t.body)?;
    let values: Vec<String> = req.variables.iter().map(|v| v.trim().to_owned()).collect();
    let missing: Vec<usize> = (1..=n).filter(|i| values.get(i - 1).is_none_or(String::is_empty)).collect();
    if !missing.is_empty() {
        let list = missing.iter().map(|i| format!("{{{{{i}}}}}")).collect::<Vec<_>>().join(", ");
        return Err(AppError::new(ErrorCode::TemplateVariablesMissing, format!("no value for {list}"))
            .with_details(json!({ "field": "variables", "missing": missing, "expected": n })));
    }
    if values.len() > n {
        return Err(AppError::validation(
            "variables",
            format!("the template has {n} variables, {} values were given", values.len()),
        ));
    }
    let media = optional(req.header_media_url);
    let needs_media = matches!(t.header_type.as_str(), "image" | "video" | "document");
    match (&media, needs_media) {
        (None, true) => {
            return Err(AppError::validation(
                "header_media_url",
                format!("the template's {} header needs an https:// address", t.header_type),
            ));
        }
        (Some(u), true) if !u.starts_with("https://") => {
            return Err(AppError::validation("header_media_url", "an https:// address"));
        }
        (Some(_), false) => return Err(AppError::validation("header_media_url", "the template has no media header")),
        _ => {}
    }
    let request = json!({ "request": template_request(&t, &to, &values, media.as_deref()) });
    let content = fill(&t.body, &values);
    let bot = channels::get(state, tenant.clone(), channel).await?.bot_id;
    let (addr, text) = (to.clone(), content.clone());
    let message_id = state
        .db
        .write(move |tx| {
            let sender = Sender { address: addr.clone(), phone: Some(format!("+{addr}")), ..Sender::default() };
            let contact = channel_store::upsert_contact(tx, &tenant, channel, &addr, &sender)?;
            let id = channel_store::enqueue(
                tx,
                &tenant,
                &Outbound {
                    channel,
                    bot,
                    conversation: None,
                    contact: Some(contact),
                    to: &addr,
                    message_type: "template",
                    content: &text,
                    request: &request.to_string(),
                    idempotency_key: &random_token(16),
                    conversation_message: None,
                },
            )?;
            ensure_job(tx, channel, tenant.org_id())?;
            Ok(id)
        })
        .await?;
    state.jobs.notify();
    Ok(TemplateSend { message_id, to, content, status: "queued".into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_numbered_consecutively() {
        assert_eq!(variable_count("Hi {{1}}, order {{2}} ({{1}})").ok(), Some(2));
        assert_eq!(variable_count("no variables").ok(), Some(0));
        assert!(variable_count("Hi {{2}}").is_err());
        assert!(variable_count("Hi {{name}}").is_err());
        assert!(variable_count("Hi {{1").is_err());
        assert_eq!(fill("Hi {{1}}, {{2}}", &["Ann".into(), "42".into()]), "Hi Ann, 42");
    }
}

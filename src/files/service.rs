//! Uploads: checked (size, type by the bytes), stored once per organization,
//! turned into [`Attachment`]s; downloads with safe headers.

use std::fmt::Write as _;

use actix_web::HttpResponse;
use actix_web::web;
use futures_util::StreamExt;
use serde_json::json;

use super::model::{Attachment, StoredFile, is_image};
use super::{sniff, store};
use crate::app::AppState;
use crate::conversations::model::ConversationId;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::Tenant;
use crate::ids::{FileId, OrgId, UserId};

/// The policy of downloads: nothing inside runs, nothing is framed.
const DOWNLOAD_CSP: &str =
    "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox; frame-ancestors 'none'";

/// A checked upload: the type recognised from the bytes and a safe name.
#[derive(Debug, Clone)]
pub struct Checked {
    pub content_type: &'static str,
    pub name: String,
}

/// 413 `file_too_large` (field `file`, the limit in `details.limit_bytes`).
#[must_use]
pub fn too_large(limit: usize) -> AppError {
    AppError::new(ErrorCode::FileTooLarge, format!("the file is larger than {limit} bytes"))
        .with_details(json!({ "field": "file", "limit_bytes": limit }))
}

/// Checks an upload: not empty, at most `limit` bytes, one of the accepted
/// types by its bytes (the declared type is never used); 415
/// `unsupported_media_type` (field `file`) otherwise.
pub fn check(data: &[u8], name: Option<&str>, limit: usize) -> AppResult<Checked> {
    if data.is_empty() {
        return Err(AppError::validation("file", "the file is empty"));
    }
    if data.len() > limit {
        return Err(too_large(limit));
    }
    let sniffed = sniff::sniff(data).ok_or_else(|| {
        AppError::new(
            ErrorCode::UnsupportedMediaType,
            "this kind of file is not accepted: send an image (PNG, JPEG, GIF, WebP), a PDF, an Office document (DOCX, XLSX, PPTX), text or CSV, or audio (MP3, OGG, M4A, MP4, WAV)",
        )
        .with_details(json!({ "field": "file", "accepted": sniff::ACCEPTED }))
    })?;
    let content_type = sniff::refine(sniffed, name);
    Ok(Checked { content_type, name: clean_name(name, content_type) })
}

/// A file name safe to store and show: the last path segment, without
/// control characters or quotes, at most 200 characters; a generic name
/// (`file.png`) when nothing is left.
#[must_use]
pub fn clean_name(name: Option<&str>, content_type: &str) -> String {
    let raw = name.unwrap_or_default();
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String =
        last.chars().filter(|c| !c.is_control() && !matches!(c, '"' | '\u{202e}' | '\u{200b}')).take(200).collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim().to_owned();
    if cleaned.is_empty() { format!("file.{}", sniff::extension(content_type)) } else { cleaned }
}

/// Reads an upload body, refusing it (413 `file_too_large`) as soon as it
/// passes `limit` bytes, or before reading when `Content-Length` says so.
pub async fn read_upload(req: &actix_web::HttpRequest, mut payload: web::Payload, limit: usize) -> AppResult<Vec<u8>> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| AppError::new(ErrorCode::InvalidJson, format!("cannot read body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Checks and stores a file of `org`; the attachment a message carries.
pub async fn store_checked(
    state: &AppState,
    org: OrgId,
    data: Vec<u8>,
    name: Option<String>,
    created_by: Option<UserId>,
) -> AppResult<Attachment> {
    let checked = check(&data, name.as_deref(), state.config.files.max_upload_bytes)?;
    let size_bytes = i64::try_from(data.len()).unwrap_or(i64::MAX);
    let file_name = checked.name.clone();
    let content_type = checked.content_type;
    let file_id = state
        .db
        .write(move |tx| Ok(store::insert(tx, org, &data, content_type, Some(&file_name), created_by)?))
        .await?;
    Ok(Attachment { file_id, name: checked.name, content_type: content_type.to_owned(), size_bytes })
}

/// For channel adapters: stores a media blob an end user sent (type sniffed,
/// `files.max_upload_bytes` enforced, the provider's declared type ignored).
/// Put it into the conversation with `Runtime::act` and
/// `Action::Attachment { files: vec![attachment], caption }`.
pub async fn store_inbound(state: &AppState, org: OrgId, data: Vec<u8>, name: Option<String>) -> AppResult<Attachment> {
    store_checked(state, org, data, name, None).await
}

/// Files of the organization to attach to an agent's message, by id: each
/// must have been uploaded by `tenant`'s user or already be attached in the
/// organization (422 `validation_failed`, field `attachments[i]`, otherwise).
pub async fn attachments(state: &AppState, tenant: &Tenant, ids: Vec<FileId>) -> AppResult<Vec<Attachment>> {
    if ids.len() > 10 {
        return Err(AppError::validation("attachments", "at most 10 files per message"));
    }
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let (org, user) = (tenant.org_id(), tenant.user_id());
    state
        .db
        .read(move |c| {
            let mut out = Vec::with_capacity(ids.len());
            for (i, id) in ids.iter().enumerate() {
                let usable = store::for_member_meta(c, org, *id, user)?;
                let Some((name, content_type, size_bytes)) = usable else {
                    return Err(AppError::validation(format!("attachments[{i}]"), "no such file (upload it first)"));
                };
                let name = clean_name(name.as_deref(), &content_type);
                out.push(Attachment { file_id: *id, name, content_type, size_bytes });
            }
            Ok(out)
        })
        .await
}

/// A file a member may download (404 `file_not_found` otherwise).
pub async fn for_member(state: &AppState, tenant: Tenant, id: FileId) -> AppResult<StoredFile> {
    let (org, user) = (tenant.org_id(), tenant.user_id());
    state.db.read(move |c| store::for_member(c, org, id, user)?.ok_or_else(not_found)).await
}

/// A file the end user of `conversation` may download (404 `file_not_found` otherwise).
pub async fn for_conversation(
    state: &AppState,
    tenant: &Tenant,
    conversation: ConversationId,
    id: FileId,
) -> AppResult<StoredFile> {
    let org = tenant.org_id();
    state.db.read(move |c| store::in_conversation(c, org, conversation, id)?.ok_or_else(not_found)).await
}

/// For channel adapters sending a message's attachment out: the bytes of a
/// file of `org` (404 `file_not_found` if it is not one).
pub async fn bytes_of(state: &AppState, org: OrgId, id: FileId) -> AppResult<StoredFile> {
    state.db.read(move |c| store::get(c, org, id)?.ok_or_else(not_found)).await
}

fn not_found() -> AppError {
    AppError::new(ErrorCode::FileNotFound, "no such file")
}

/// `filename="…"` (ASCII stand-in) and `filename*=UTF-8''…` (exact).
fn disposition(kind: &str, name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| if c.is_ascii_graphic() && !matches!(c, '"' | '\\' | ';') || c == ' ' { c } else { '_' })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            let _ = write!(encoded, "%{b:02X}");
        }
    }
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// The download response: the stored (sniffed) type, never sniffed again by
/// the browser, sandboxed; images inline, everything else as an attachment.
/// `cross_origin`: the widget shows images on the embedding site's pages.
#[must_use]
pub fn respond(file: StoredFile, cross_origin: bool) -> HttpResponse {
    let image = is_image(&file.content_type);
    let name = clean_name(file.name.as_deref(), &file.content_type);
    let mut res = HttpResponse::Ok();
    res.content_type(file.content_type.clone())
        .insert_header(("Content-Disposition", disposition(if image { "inline" } else { "attachment" }, &name)))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Content-Security-Policy", DOWNLOAD_CSP))
        .insert_header(("Cache-Control", "private, max-age=3600"));
    if cross_origin {
        res.insert_header(("Cross-Origin-Resource-Policy", "cross-origin"));
    }
    res.body(file.data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cleaned() {
        assert_eq!(clean_name(Some("C:\\Users\\me\\photo.png"), "image/png"), "photo.png");
        assert_eq!(clean_name(Some("../../etc/passwd"), "text/plain"), "passwd");
        assert_eq!(clean_name(Some("a\"b\u{0}c.pdf"), "application/pdf"), "abc.pdf");
        assert_eq!(clean_name(Some(".."), "image/png"), "file.png");
        assert_eq!(clean_name(None, "audio/ogg"), "file.ogg");
    }

    #[test]
    fn dispositions_carry_an_ascii_and_an_exact_name() {
        assert_eq!(
            disposition("attachment", "Réponse 1.pdf"),
            "attachment; filename=\"R_ponse 1.pdf\"; filename*=UTF-8''R%C3%A9ponse%201.pdf"
        );
    }

    #[test]
    fn checks_size_and_type() {
        assert_eq!(check(b"\x89PNG\r\n\x1a\n..", Some("x.png"), 100).map(|c| c.content_type).ok(), Some("image/png"));
        let big = check(&[b'a'; 101], None, 100).err().map(|e| e.code());
        assert_eq!(big, Some(ErrorCode::FileTooLarge));
        let exe = check(b"MZ\x90\0\x03\0", Some("cat.png"), 100).err().map(|e| e.code());
        assert_eq!(exe, Some(ErrorCode::UnsupportedMediaType));
    }
}

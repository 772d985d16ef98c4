//! File types: an attachment as messages carry it, and a stored file.

use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;
use crate::ids::FileId;

/// A file attached to a transcript message (stored in the message's parts).
/// Clients download it from `/api/v1/files/{file_id}` (members) or the
/// widget session's `/files/{file_id}` (the end user).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attachment {
    pub file_id: FileId,
    /// The name the sender gave it (sanitised), or a generic one.
    pub name: String,
    /// Recognised from the bytes (the declared type is ignored).
    pub content_type: String,
    pub size_bytes: i64,
}

impl Attachment {
    /// Whether browsers show it inline (an image).
    #[must_use]
    pub fn is_image(&self) -> bool {
        is_image(&self.content_type)
    }
}

/// Whether `content_type` is one of the images shown inline.
#[must_use]
pub fn is_image(content_type: &str) -> bool {
    matches!(content_type, "image/png" | "image/jpeg" | "image/gif" | "image/webp")
}

/// A stored file as downloads serve it.
#[derive(Debug, Clone)]
pub struct StoredFile {
    pub content_type: String,
    pub name: Option<String>,
    pub data: Vec<u8>,
}

/// The scope resource of `/files/{file_id}`: organization files only
/// (platform files, without organization, are not served here).
pub struct FileResource;

impl crate::http::ScopeResource for FileResource {
    const PARAM: &'static str = "file_id";
    const NOT_FOUND: ErrorCode = ErrorCode::FileNotFound;
    type Id = FileId;
    fn owner(conn: &rusqlite::Connection, id: FileId) -> rusqlite::Result<Option<crate::http::scope::Owner>> {
        use rusqlite::OptionalExtension;
        conn.query_row("SELECT organization_id FROM files WHERE id = ?1 AND organization_id IS NOT NULL", [id], |r| {
            Ok(crate::http::scope::Owner { org_id: r.get(0)?, bot_id: None })
        })
        .optional()
    }
}

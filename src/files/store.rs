//! SQL of `files`. A file belongs to an organization; the same bytes in the
//! same organization are one row (unique `(organization_id, sha256)`).

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::model::{Attachment, StoredFile};
use crate::conversations::model::ConversationId;
use crate::ids::{FileId, OrgId, UserId};

/// Stores `data` in the organization's files, or finds the row that already
/// holds the same bytes (its content type and name are kept); returns its id.
pub fn insert(
    tx: &Connection,
    org: OrgId,
    data: &[u8],
    content_type: &str,
    name: Option<&str>,
    created_by: Option<UserId>,
) -> rusqlite::Result<FileId> {
    let sha = hex::encode(Sha256::digest(data));
    tx.execute(
        "INSERT INTO files (organization_id, sha256, size_bytes, content_type, name, data, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
        params![org, sha, i64::try_from(data.len()).unwrap_or(i64::MAX), content_type, name, data, created_by],
    )?;
    tx.query_row("SELECT id FROM files WHERE ifnull(organization_id, 0) = ?1 AND sha256 = ?2", params![org, sha], |r| {
        r.get(0)
    })
}

/// A file of the organization that a member may download: attached to a
/// message of one of its conversations, or uploaded by `user`.
pub fn for_member(
    conn: &Connection,
    org: OrgId,
    id: FileId,
    user: Option<UserId>,
) -> rusqlite::Result<Option<StoredFile>> {
    conn.query_row(
        "SELECT f.content_type,
                coalesce((SELECT a.name FROM message_attachments a WHERE a.organization_id = ?1 AND a.file_id = ?2
                          ORDER BY a.id LIMIT 1), f.name),
                f.data
         FROM files f
         WHERE f.id = ?2 AND f.organization_id = ?1
           AND ((?3 IS NOT NULL AND f.created_by = ?3)
                OR EXISTS (SELECT 1 FROM message_attachments a WHERE a.organization_id = ?1 AND a.file_id = ?2))",
        params![org, id, user],
        |r| Ok(StoredFile { content_type: r.get(0)?, name: r.get(1)?, data: r.get(2)? }),
    )
    .optional()
}

/// A file attached to a message the end user of `conversation` sees (their
/// own, the bot's or an agent's; never an internal note).
pub fn in_conversation(
    conn: &Connection,
    org: OrgId,
    conversation: ConversationId,
    id: FileId,
) -> rusqlite::Result<Option<StoredFile>> {
    conn.query_row(
        "SELECT f.content_type, a.name, f.data FROM message_attachments a JOIN files f ON f.id = a.file_id
         WHERE a.organization_id = ?1 AND a.conversation_id = ?2 AND a.file_id = ?3 AND a.visible_to_end_user = 1
           AND f.organization_id = ?1
         ORDER BY a.id LIMIT 1",
        params![org, conversation, id],
        |r| Ok(StoredFile { content_type: r.get(0)?, name: r.get(1)?, data: r.get(2)? }),
    )
    .optional()
}

/// Records the files attached to a stored transcript message (the index
/// downloads are authorized by).
pub fn link(
    tx: &Connection,
    org: OrgId,
    conversation: ConversationId,
    message: i64,
    files: &[Attachment],
    visible_to_end_user: bool,
) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO message_attachments (organization_id, conversation_id, message_id, file_id, name, visible_to_end_user)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
    )?;
    for f in files {
        stmt.execute(params![org, conversation, message, f.file_id, f.name, visible_to_end_user])?;
    }
    Ok(())
}

/// Name, type and size of a file a member may attach: uploaded by `user`,
/// or already attached in the organization.
pub fn for_member_meta(
    conn: &Connection,
    org: OrgId,
    id: FileId,
    user: Option<UserId>,
) -> rusqlite::Result<Option<(Option<String>, String, i64)>> {
    conn.query_row(
        "SELECT f.name, f.content_type, f.size_bytes FROM files f
         WHERE f.id = ?2 AND f.organization_id = ?1
           AND ((?3 IS NOT NULL AND f.created_by = ?3)
                OR EXISTS (SELECT 1 FROM message_attachments a WHERE a.organization_id = ?1 AND a.file_id = ?2))",
        params![org, id, user],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .optional()
}

/// A file of the organization by id, without an access rule (for the
/// system: channel adapters sending an attachment out).
pub fn get(conn: &Connection, org: OrgId, id: FileId) -> rusqlite::Result<Option<StoredFile>> {
    conn.query_row(
        "SELECT content_type, name, data FROM files WHERE id = ?2 AND organization_id = ?1",
        params![org, id],
        |r| Ok(StoredFile { content_type: r.get(0)?, name: r.get(1)?, data: r.get(2)? }),
    )
    .optional()
}

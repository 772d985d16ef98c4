//! Training material import: exports parsed into (context, reply) pairs
//! attributed to the person, then cleaned (see [`clean`]). Parsing is all or
//! nothing: a malformed or truncated export is an [`ImportError`] naming the
//! line (and column or offset), and nothing of it is stored.

pub mod clean;
mod email;
mod table;
mod thread;

use serde_json::json;

use super::model::ImportFormat;
use crate::error::{AppError, ErrorCode};

/// The largest export accepted, in bytes.
pub const MAX_IMPORT_BYTES: usize = 20 * 1024 * 1024;

/// One reply of the person and what it answered, before cleaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPair {
    pub context: String,
    /// The reply as exported (quotes and signature still in).
    pub reply: String,
    /// Subject of an email (auto-reply detection).
    pub subject: String,
    /// Line of the export where the reply starts.
    pub line: usize,
    /// The export flagged it as automatic (`Auto-Submitted`).
    pub automatic: bool,
}

/// What a parser read.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Messages or rows read.
    pub messages: usize,
    pub pairs: Vec<RawPair>,
}

/// Where and why an export cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportError {
    pub line: usize,
    pub column: Option<usize>,
    /// Byte offset in the export, where the parser knows it.
    pub offset: Option<usize>,
    pub message: String,
}

impl ImportError {
    #[must_use]
    pub fn at(line: usize, message: impl Into<String>) -> ImportError {
        ImportError { line, column: None, offset: None, message: message.into() }
    }

    /// The API error, naming the format.
    #[must_use]
    pub fn into_app(self, format: ImportFormat) -> AppError {
        AppError::new(
            ErrorCode::CloneImportInvalid,
            format!("not a valid {} export at line {}: {}", format.as_str(), self.line, self.message),
        )
        .with_details(json!({
            "field": "content", "format": format.as_str(), "line": self.line,
            "column": self.column, "offset": self.offset,
        }))
    }
}

/// Parses an export; `identity` picks the person's messages (not used for CSV).
pub fn parse(format: ImportFormat, identity: &str, content: &str) -> Result<Parsed, ImportError> {
    if content.trim().is_empty() {
        return Err(ImportError::at(1, "the export is empty"));
    }
    match format {
        ImportFormat::Mbox => email::mbox(identity, content),
        ImportFormat::Eml => email::eml(identity, content),
        ImportFormat::Slack => thread::slack(identity, content),
        ImportFormat::Whatsapp => thread::whatsapp(identity, content),
        ImportFormat::Csv => table::csv(content),
    }
}

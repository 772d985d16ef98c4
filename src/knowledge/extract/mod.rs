//! Text extraction: sniffs what a file really is, then turns it into
//! sections of text with their heading path and page.
//!
//! Crates do the parsing (pdf-extract/lopdf for PDF, zip + quick-xml for
//! DOCX, scraper for HTML, csv, `serde_json`); this module adds the limits:
//! every byte a decoder inflates is charged to one budget per document
//! ([`budget`]: zip bombs, PDF stream bombs), text is capped at
//! [`MAX_TEXT_CHARS`], parsers run behind `catch_unwind` so a malformed file
//! is an error, not a crash. The server runs [`extract`] in a separate
//! process ([`worker`]) with its own memory and CPU limits and a deadline, so
//! a parser that loops or allocates without end is killed, not the server.

mod budget;
mod docx;
mod pdf;
pub mod worker;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use budget::Budget;

use crate::error::{AppError, ErrorCode};

/// Most bytes a document may expand to when decompressed (DOCX parts, PDF streams).
pub const MAX_DECOMPRESSED: u64 = 256 * 1024 * 1024;
/// Most expansion of one compressed part over its compressed size.
pub(crate) const MAX_RATIO: u64 = 200;
/// Most extracted characters kept from one document.
pub const MAX_TEXT_CHARS: usize = 20_000_000;

/// A document type this server extracts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Txt,
    Md,
    Html,
    Pdf,
    Docx,
    Csv,
    Json,
}

impl Kind {
    /// The `documents.type` value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Txt => "txt",
            Kind::Md => "md",
            Kind::Html => "html",
            Kind::Pdf => "pdf",
            Kind::Docx => "docx",
            Kind::Csv => "csv",
            Kind::Json => "json",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "txt" | "text" => Kind::Txt,
            "md" | "markdown" => Kind::Md,
            "html" | "htm" | "url" => Kind::Html,
            "pdf" => Kind::Pdf,
            "docx" => Kind::Docx,
            "csv" => Kind::Csv,
            "json" => Kind::Json,
            _ => return None,
        })
    }

    /// The MIME type stored with the original.
    #[must_use]
    pub fn content_type(self) -> &'static str {
        match self {
            Kind::Txt => "text/plain",
            Kind::Md => "text/markdown",
            Kind::Html => "text/html",
            Kind::Pdf => "application/pdf",
            Kind::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            Kind::Csv => "text/csv",
            Kind::Json => "application/json",
        }
    }
}

/// What the bytes look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sniffed {
    Pdf,
    Zip,
    Text,
    Binary(&'static str),
}

fn sniff(bytes: &[u8]) -> Sniffed {
    let head = &bytes[..bytes.len().min(1024)];
    if let Some(p) = find(head, b"%PDF-") {
        // A PDF header preceded only by whitespace (or junk bytes some writers add).
        let before = &head[..p];
        if before.iter().all(u8::is_ascii_whitespace) || !looks_textual(before) || p == 0 {
            return Sniffed::Pdf;
        }
    }
    for (magic, what) in [
        (&b"PK\x03\x04"[..], "zip"),
        (b"\x89PNG", "a PNG image"),
        (b"\xFF\xD8\xFF", "a JPEG image"),
        (b"GIF8", "a GIF image"),
        (b"\x7FELF", "an executable"),
        (b"\x1F\x8B", "a gzip archive"),
        (b"\xD0\xCF\x11\xE0", "a legacy Office file (.doc/.xls)"),
        (b"Rar!", "a RAR archive"),
        (b"7z\xBC\xAF", "a 7-Zip archive"),
        (b"MZ", "a Windows executable"),
    ] {
        if bytes.starts_with(magic) {
            return if what == "zip" { Sniffed::Zip } else { Sniffed::Binary(what) };
        }
    }
    if looks_textual(bytes) { Sniffed::Text } else { Sniffed::Binary("binary data") }
}

fn looks_textual(bytes: &[u8]) -> bool {
    let sample = &bytes[..bytes.len().min(64 * 1024)];
    if sample.contains(&0) {
        return false;
    }
    match std::str::from_utf8(sample) {
        Ok(_) => true,
        // A multi-byte character cut at the sample's end is fine.
        Err(e) => e.error_len().is_none() && e.valid_up_to() + 4 >= sample.len(),
    }
}

fn error(code: ErrorCode, message: impl Into<String>) -> AppError {
    AppError::new(code, message)
}

/// Decides the type of an upload from its file name, declared MIME type and
/// content. Unsupported or mislabelled files are refused with a clear code.
pub fn detect(file_name: &str, declared: Option<&str>, bytes: &[u8]) -> Result<Kind, AppError> {
    let ext = file_name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    let sniffed = sniff(bytes);
    let claimed = match ext.as_deref() {
        Some(e) => match Kind::parse(e) {
            Some(k) if e != "url" && e != "text" => Some(k),
            _ => {
                return Err(error(
                    ErrorCode::UnsupportedFileType,
                    format!("`.{e}` files are not supported; use txt, md, html, pdf, docx, csv or json"),
                )
                .with_details(serde_json::json!({ "field": "file", "extension": e })));
            }
        },
        None => None,
    };
    let claimed = claimed.or_else(|| declared.and_then(kind_of_mime));
    let mismatch = |what: &str, claimed: Kind| {
        error(
            ErrorCode::FileTypeMismatch,
            format!("the file is named or declared as {} but its content is {what}", claimed.as_str()),
        )
        .with_details(serde_json::json!({ "field": "file", "declared": claimed.as_str(), "detected": what }))
    };
    match (claimed, sniffed) {
        (Some(Kind::Pdf) | None, Sniffed::Pdf) => Ok(Kind::Pdf),
        (Some(Kind::Docx), Sniffed::Zip) => {
            if zip_has(bytes, "word/document.xml") {
                Ok(Kind::Docx)
            } else {
                Err(mismatch("a zip archive that is not a Word document", Kind::Docx))
            }
        }
        (Some(k @ (Kind::Txt | Kind::Md | Kind::Html | Kind::Csv | Kind::Json)), Sniffed::Text) => Ok(k),
        (Some(k), Sniffed::Pdf) => Err(mismatch("a PDF document", k)),
        (Some(k), Sniffed::Zip) => Err(mismatch(
            if zip_has(bytes, "word/document.xml") { "a Word (.docx) document" } else { "a zip archive" },
            k,
        )),
        (Some(k), Sniffed::Text) => Err(mismatch("plain text", k)),
        (Some(k), Sniffed::Binary(what)) => Err(mismatch(what, k)),
        (None, Sniffed::Zip) if zip_has(bytes, "word/document.xml") => Ok(Kind::Docx),
        (None, Sniffed::Text) => Ok(guess_text_kind(bytes)),
        (None, Sniffed::Zip | Sniffed::Binary(_)) => Err(error(
            ErrorCode::UnsupportedFileType,
            "the file's type is not supported; use txt, md, html, pdf, docx, csv or json",
        )
        .with_details(serde_json::json!({ "field": "file" }))),
    }
}

fn kind_of_mime(mime: &str) -> Option<Kind> {
    let essence = mime.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    Some(match essence.as_str() {
        "text/plain" => Kind::Txt,
        "text/markdown" | "text/x-markdown" => Kind::Md,
        "text/html" | "application/xhtml+xml" => Kind::Html,
        "application/pdf" => Kind::Pdf,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => Kind::Docx,
        "text/csv" => Kind::Csv,
        "application/json" => Kind::Json,
        _ => return None,
    })
}

fn guess_text_kind(bytes: &[u8]) -> Kind {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(2048)]).trim_start().to_ascii_lowercase();
    if head.starts_with("<!doctype html") || head.starts_with("<html") {
        Kind::Html
    } else if (head.starts_with('{') || head.starts_with('[')) && serde_json::from_slice::<Value>(bytes).is_ok() {
        Kind::Json
    } else {
        Kind::Txt
    }
}

fn zip_has(bytes: &[u8], name: &str) -> bool {
    zip::ZipArchive::new(std::io::Cursor::new(bytes)).is_ok_and(|z| z.index_for_name(name).is_some())
}

/// One run of text under a heading path (and page, for PDFs).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Section {
    pub heading_path: Vec<String>,
    /// Paragraphs of the section.
    pub paragraphs: Vec<String>,
    pub page: Option<u32>,
    /// Metadata for the chunks made from this section (e.g. CSV rows).
    pub meta: Option<Value>,
}

/// Extracted text of a document.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Extracted {
    pub title: Option<String>,
    pub sections: Vec<Section>,
}

impl Extracted {
    /// All text, for hashing and emptiness checks.
    #[must_use]
    pub fn full_text(&self) -> String {
        let mut out = String::new();
        for s in &self.sections {
            for h in &s.heading_path {
                out.push_str(h);
                out.push('\n');
            }
            for p in &s.paragraphs {
                out.push_str(p);
                out.push('\n');
            }
        }
        out
    }

    #[allow(clippy::needless_pass_by_value, reason = "callers hand over their buffers")]
    fn push(&mut self, heading_path: &[String], page: Option<u32>, paragraph: String) {
        let paragraph = normalize_ws(&paragraph);
        if paragraph.is_empty() {
            return;
        }
        match self.sections.last_mut() {
            Some(s) if s.heading_path == heading_path && s.page == page && s.meta.is_none() => {
                s.paragraphs.push(paragraph);
            }
            _ => self.sections.push(Section {
                heading_path: heading_path.to_vec(),
                paragraphs: vec![paragraph],
                page,
                meta: None,
            }),
        }
    }
}

/// Collapses runs of whitespace (keeping single newlines) and trims.
#[must_use]
pub fn normalize_ws(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for line in s.lines() {
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if !line.is_empty() {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&line);
        }
    }
    out
}

/// Extracts the text of `bytes` of type `kind`, inflating at most
/// [`MAX_DECOMPRESSED`] bytes. Blocking, and only as bounded in time and
/// memory as its parsers: the server calls it through [`worker::extract`].
pub fn extract(kind: Kind, bytes: &[u8]) -> Result<Extracted, AppError> {
    let mut budget = Budget::new(MAX_DECOMPRESSED);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match kind {
        Kind::Txt => Ok(plain_text(&text_of(bytes)?)),
        Kind::Md => Ok(markdown(&text_of(bytes)?)),
        Kind::Html => Ok(html(&text_of(bytes)?)),
        Kind::Pdf => pdf::pdf(bytes, &mut budget),
        Kind::Docx => docx::docx(bytes, &mut budget),
        Kind::Csv => csv_rows(bytes),
        Kind::Json => json(bytes),
    }));
    let extracted = match result {
        Ok(r) => r?,
        Err(_) => return Err(error(ErrorCode::CorruptFile, format!("the {} file could not be parsed", kind.as_str()))),
    };
    let chars: usize = extracted.sections.iter().flat_map(|s| &s.paragraphs).map(String::len).sum();
    if chars == 0 {
        return Err(error(ErrorCode::EmptyDocument, "no text could be extracted from the document"));
    }
    if chars > MAX_TEXT_CHARS {
        return Err(error(
            ErrorCode::DecompressionLimit,
            format!("the document holds more than {MAX_TEXT_CHARS} characters of text"),
        ));
    }
    Ok(extracted)
}

fn text_of(bytes: &[u8]) -> Result<String, AppError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    String::from_utf8(bytes.to_vec()).map_err(|_| error(ErrorCode::CorruptFile, "the text is not valid UTF-8"))
}

fn plain_text(text: &str) -> Extracted {
    let mut out = Extracted::default();
    for paragraph in split_paragraphs(text) {
        out.push(&[], None, paragraph);
    }
    out
}

fn split_paragraphs(text: &str) -> Vec<String> {
    let mut paragraphs = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.trim().is_empty() {
                paragraphs.push(std::mem::take(&mut current));
            }
            current.clear();
        } else {
            if !current.is_empty() {
                current.push('\n');
            }
            current.push_str(line);
        }
    }
    if !current.trim().is_empty() {
        paragraphs.push(current);
    }
    paragraphs
}

/// Markdown: ATX headings (`#`…`######`) set the heading path; fenced code
/// is kept as one paragraph.
#[must_use]
pub fn markdown(text: &str) -> Extracted {
    let mut out = Extracted::default();
    let mut path: Vec<(usize, String)> = Vec::new();
    let mut current = String::new();
    let mut in_fence = false;
    let headings = |path: &[(usize, String)]| path.iter().map(|(_, h)| h.clone()).collect::<Vec<_>>();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
            current.push_str(line);
            current.push('\n');
            continue;
        }
        if !in_fence {
            let level = trimmed.chars().take_while(|c| *c == '#').count();
            if (1..=6).contains(&level) && trimmed[level..].starts_with([' ', '\t']) {
                let flushed = std::mem::take(&mut current);
                out.push(&headings(&path), None, flushed);
                let title = trimmed[level..].trim().trim_end_matches('#').trim().to_owned();
                path.retain(|(l, _)| *l < level);
                if out.title.is_none() && level == 1 {
                    out.title = Some(title.clone());
                }
                path.push((level, title));
                continue;
            }
            if line.trim().is_empty() {
                let flushed = std::mem::take(&mut current);
                out.push(&headings(&path), None, flushed);
                continue;
            }
        }
        current.push_str(line);
        current.push('\n');
    }
    out.push(&headings(&path), None, current);
    if out.sections.is_empty() && !path.is_empty() {
        // Only headings: keep them as text.
        let text = path.iter().map(|(_, h)| h.as_str()).collect::<Vec<_>>().join("\n");
        out.push(&[], None, text);
    }
    out
}

/// HTML: `h1`–`h6` set the heading path; block elements become paragraphs;
/// scripts, styles, navigation and forms are dropped. The tree is walked
/// with an explicit stack: thousands of nested elements (found by the
/// extractor fuzz test) overflowed the call stack of a recursive walk.
#[must_use]
pub fn html(text: &str) -> Extracted {
    use scraper::{ElementRef, Html, Node};
    const SKIP: [&str; 12] = [
        "script", "style", "noscript", "nav", "footer", "form", "svg", "iframe", "template", "head", "button", "select",
    ];
    const BLOCK: [&str; 18] = [
        "p",
        "div",
        "li",
        "tr",
        "td",
        "th",
        "pre",
        "blockquote",
        "section",
        "article",
        "main",
        "ul",
        "ol",
        "table",
        "dd",
        "dt",
        "br",
        "header",
    ];
    /// What is left to do, innermost last.
    enum Step<'a> {
        Enter(ElementRef<'a>),
        Text(&'a str),
        /// An element's children are done.
        Leave {
            block: bool,
        },
    }

    let document = Html::parse_document(text);
    let mut out = Extracted::default();
    if let Ok(sel) = scraper::Selector::parse("title") {
        out.title =
            document.select(&sel).next().map(|t| normalize_ws(&t.text().collect::<String>())).filter(|t| !t.is_empty());
    }
    let mut path: Vec<(usize, String)> = Vec::new();
    let mut current = String::new();
    let headings = |path: &[(usize, String)]| path.iter().map(|(_, h)| h.clone()).collect::<Vec<_>>();
    let root = document.root_element();
    let body = scraper::Selector::parse("body").ok().and_then(|s| document.select(&s).next()).unwrap_or(root);
    let mut stack = vec![Step::Enter(body)];
    while let Some(step) = stack.pop() {
        match step {
            Step::Text(t) => current.push_str(t),
            Step::Leave { block } => {
                if block && !current.trim().is_empty() {
                    let flushed = std::mem::take(&mut current);
                    out.push(&headings(&path), None, flushed);
                } else if !block {
                    current.push(' ');
                }
            }
            Step::Enter(el) => {
                let name = el.value().name();
                if SKIP.contains(&name) {
                    continue;
                }
                if let Some(level) =
                    name.strip_prefix('h').and_then(|l| l.parse::<usize>().ok()).filter(|l| (1..=6).contains(l))
                {
                    let flushed = std::mem::take(&mut current);
                    out.push(&headings(&path), None, flushed);
                    let title = normalize_ws(&el.text().collect::<String>()).replace('\n', " ");
                    if !title.is_empty() {
                        path.retain(|(l, _)| *l < level);
                        path.push((level, title));
                    }
                    continue;
                }
                let block = BLOCK.contains(&name);
                if block && !current.trim().is_empty() {
                    let flushed = std::mem::take(&mut current);
                    out.push(&headings(&path), None, flushed);
                }
                stack.push(Step::Leave { block });
                for child in el.children().rev() {
                    match child.value() {
                        Node::Text(t) => stack.push(Step::Text(t)),
                        Node::Element(_) => stack.extend(ElementRef::wrap(child).map(Step::Enter)),
                        _ => {}
                    }
                }
            }
        }
    }
    let headings: Vec<String> = path.iter().map(|(_, h)| h.clone()).collect();
    out.push(&headings, None, current);
    out
}

/// Links of an HTML page (`href` of `a` elements), resolved against `base`.
#[must_use]
pub fn html_links(text: &str, base: &url::Url) -> Vec<url::Url> {
    let document = scraper::Html::parse_document(text);
    let Ok(sel) = scraper::Selector::parse("a[href]") else { return Vec::new() };
    document
        .select(&sel)
        .filter_map(|a| a.value().attr("href"))
        .filter_map(|href| base.join(href.trim()).ok())
        .collect()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn csv_rows(bytes: &[u8]) -> Result<Extracted, AppError> {
    let text = text_of(bytes)?;
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| error(ErrorCode::CorruptFile, format!("the CSV is invalid: {e}")))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let mut out = Extracted::default();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| error(ErrorCode::CorruptFile, format!("the CSV is invalid: {e}")))?;
        let line = record
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(j, v)| match headers.get(j).filter(|h| !h.is_empty()) {
                Some(h) => format!("{h}: {}", v.trim()),
                None => v.trim().to_owned(),
            })
            .collect::<Vec<_>>()
            .join("; ");
        if !line.is_empty() {
            out.sections.push(Section {
                heading_path: Vec::new(),
                paragraphs: vec![line],
                page: None,
                meta: Some(serde_json::json!({ "row": i + 1 })),
            });
        }
    }
    Ok(out)
}

fn json(bytes: &[u8]) -> Result<Extracted, AppError> {
    let value: Value = serde_json::from_slice(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes))
        .map_err(|e| error(ErrorCode::CorruptFile, format!("the JSON is invalid: {e}")))?;
    let mut out = Extracted::default();
    // Each element of a top-level array (or each top-level key) is one paragraph
    // of `path: value` lines.
    let items: Vec<(String, &Value)> = match &value {
        Value::Array(items) => items.iter().enumerate().map(|(i, v)| (format!("[{i}]"), v)).collect(),
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v)).collect(),
        other => vec![(String::new(), other)],
    };
    for (key, item) in items {
        let mut lines = Vec::new();
        flatten_json(item, &key, &mut lines, 0);
        if !lines.is_empty() {
            out.push(&[], None, lines.join("\n"));
        }
    }
    Ok(out)
}

fn flatten_json(v: &Value, path: &str, lines: &mut Vec<String>, depth: usize) {
    if depth > 32 {
        return;
    }
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                flatten_json(child, &p, lines, depth + 1);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                flatten_json(child, &format!("{path}[{i}]"), lines, depth + 1);
            }
        }
        Value::Null => {}
        Value::String(s) => lines.push(if path.is_empty() { s.clone() } else { format!("{path}: {s}") }),
        other => lines.push(if path.is_empty() { other.to_string() } else { format!("{path}: {other}") }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_and_refuses_mislabelled_files() {
        assert_eq!(detect("a.txt", None, b"hello").expect("txt"), Kind::Txt);
        assert_eq!(detect("a.PDF", None, b"%PDF-1.4\n...").expect("pdf"), Kind::Pdf);
        let e = detect("a.docx", None, b"%PDF-1.4\n").expect_err("mismatch");
        assert_eq!(e.code(), ErrorCode::FileTypeMismatch);
        let e = detect("a.pdf", None, b"just text").expect_err("mismatch");
        assert_eq!(e.code(), ErrorCode::FileTypeMismatch);
        let e = detect("a.txt", None, b"\x89PNG\r\n\x1a\n\0\0").expect_err("png");
        assert_eq!(e.code(), ErrorCode::FileTypeMismatch);
        let e = detect("a.exe", None, b"MZ").expect_err("unsupported");
        assert_eq!(e.code(), ErrorCode::UnsupportedFileType);
        assert_eq!(detect("notes", None, b"<!DOCTYPE html><p>x</p>").expect("html"), Kind::Html);
    }

    #[test]
    fn markdown_keeps_heading_paths() {
        let x = markdown(
            "# Guide\n\nIntro.\n\n## Returns\n\nWithin 30 days.\n\n### Refunds\n\nTo the card.\n\n## Shipping\nFast.",
        );
        let paths: Vec<String> = x.sections.iter().map(|s| s.heading_path.join(" > ")).collect();
        assert_eq!(paths, ["Guide", "Guide > Returns", "Guide > Returns > Refunds", "Guide > Shipping"]);
        assert_eq!(x.title.as_deref(), Some("Guide"));
    }

    #[test]
    fn html_drops_scripts_and_keeps_headings() {
        let x = html(
            "<html><head><title>T</title><script>evil()</script></head><body><nav>menu</nav><h1>A</h1><p>One &amp; two.</p><h2>B</h2><ul><li>x</li><li>y</li></ul></body></html>",
        );
        let text = x.full_text();
        assert!(!text.contains("evil") && !text.contains("menu"), "{text}");
        assert!(text.contains("One & two."));
        assert_eq!(x.sections.last().expect("s").heading_path, ["A", "B"]);
    }

    #[test]
    fn csv_and_json_become_lines() {
        let x = extract(Kind::Csv, b"name,price\nTea,3\nCoffee,4\n").expect("csv");
        assert_eq!(x.sections[1].paragraphs[0], "name: Coffee; price: 4");
        let x = extract(Kind::Json, br#"[{"q":"Hours?","a":"9-5"}]"#).expect("json");
        assert!(x.full_text().contains("[0].a: 9-5"));
        assert_eq!(extract(Kind::Json, b"{bad").expect_err("bad").code(), ErrorCode::CorruptFile);
        assert_eq!(extract(Kind::Txt, b"  \n\n ").expect_err("empty").code(), ErrorCode::EmptyDocument);
    }
}

/// Property tests (issue 30): uploaded documents are untrusted. The text
/// extractors return sections or an error for any input — never a panic (a
/// panic would be caught by `extract`'s `catch_unwind`, so these call the
/// extractors directly to see one).
#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::{Kind, csv_rows, detect, html, json, markdown, normalize_ws, plain_text};

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn text_extractors_never_panic(s in "\\PC{0,200}|(<[a-z/!]{0,6}( [a-z]{1,4}=\"[^\"]{0,6}\")?>|&[a-z#0-9]{0,6};|#{1,7} |```|\n|[a-z ]{0,8}|<!--|-->|\\]\\]>|<!\\[CDATA\\[)*") {
            let _ = plain_text(&s);
            let _ = markdown(&s);
            let _ = html(&s);
            let _ = normalize_ws(&s);
        }

        #[test]
        fn structured_extractors_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = csv_rows(&bytes);
            let _ = json(&bytes);
            let _ = detect("upload.bin", None, &bytes);
            let _ = detect("upload.pdf", Some("application/pdf"), &bytes);
        }

        #[test]
        fn json_and_csv_shaped_input_never_panics(
            s in "([\\[\\]{},:\"]|[a-z0-9]{1,4}|true|null|-?[0-9]{1,3}(\\.[0-9])?|\n| )*",
        ) {
            let _ = json(s.as_bytes());
            let _ = csv_rows(s.as_bytes());
            let _ = detect("upload.json", Some("application/json"), s.as_bytes());
        }

        #[test]
        fn plain_text_keeps_every_word(words in proptest::collection::vec("[a-z]{1,8}", 1..30)) {
            let text = words.join(" ");
            let out = plain_text(&text);
            let joined: Vec<String> =
                out.sections.iter().flat_map(|s| &s.paragraphs).flat_map(|p| p.split_whitespace().map(str::to_owned)).collect();
            prop_assert_eq!(joined, words);
            prop_assert!(matches!(detect("a.txt", None, text.as_bytes()), Ok(Kind::Txt)));
        }
    }
}

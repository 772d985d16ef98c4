//! DOCX text: `word/document.xml` read through the document's budget (and a
//! per-entry expansion cap), then walked with quick-xml.

use std::io::Read;

use super::budget::Budget;
use super::{Extracted, MAX_DECOMPRESSED, MAX_RATIO, error, normalize_ws};
use crate::error::{AppError, ErrorCode};

/// Reads one zip entry with size limits.
fn read_zip_entry<R: Read + std::io::Seek>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
    budget: &mut Budget,
) -> Result<Vec<u8>, AppError> {
    let corrupt = |e: zip::result::ZipError| error(ErrorCode::CorruptFile, format!("the DOCX archive is damaged: {e}"));
    let entry = zip.by_name(name).map_err(corrupt)?;
    let compressed = entry.compressed_size();
    let cap = compressed.saturating_mul(MAX_RATIO).clamp(1 << 20, MAX_DECOMPRESSED);
    let (data, clean) = budget.read_all(entry.take(cap + 1))?;
    if !clean {
        return Err(error(ErrorCode::CorruptFile, "the DOCX archive is damaged: an entry cannot be inflated"));
    }
    if data.len() as u64 > cap {
        return Err(error(ErrorCode::DecompressionLimit, "a part of the DOCX archive expands beyond the limits"));
    }
    Ok(data)
}

/// Extracts the paragraphs of a DOCX, inflating at most `budget`.
pub(super) fn docx(bytes: &[u8], budget: &mut Budget) -> Result<Extracted, AppError> {
    use quick_xml::events::Event;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| error(ErrorCode::CorruptFile, format!("the DOCX archive is damaged: {e}")))?;
    let declared: u64 = (0..zip.len()).filter_map(|i| zip.by_index_raw(i).ok().map(|e| e.size())).sum();
    if declared > MAX_DECOMPRESSED || zip.len() > 10_000 {
        return Err(error(ErrorCode::DecompressionLimit, "the DOCX archive expands beyond the decompression limit"));
    }
    let xml = read_zip_entry(&mut zip, "word/document.xml", budget)?;
    let mut reader = quick_xml::Reader::from_reader(xml.as_slice());
    let mut out = Extracted::default();
    let mut path: Vec<(usize, String)> = Vec::new();
    let mut paragraph = String::new();
    let mut heading_level: Option<usize> = None;
    let mut in_text = false;
    let mut buf = Vec::new();
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| error(ErrorCode::CorruptFile, format!("the DOCX document XML is invalid: {e}")))?;
        match event {
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == "w:pStyle" => {
                for attr in e.attributes().flatten() {
                    if attr.key.as_ref() == "w:val" {
                        let v = attr.value.to_ascii_lowercase();
                        heading_level = if v == "title" {
                            Some(1)
                        } else {
                            v.strip_prefix("heading")
                                .and_then(|n| n.trim().parse::<usize>().ok())
                                .map(|n| n.clamp(1, 9))
                        };
                    }
                }
            }
            Event::Start(e) if e.name().as_ref() == "w:t" => in_text = true,
            Event::End(e) if e.name().as_ref() == "w:t" => in_text = false,
            Event::Empty(e) if matches!(e.name().as_ref(), "w:tab") => paragraph.push('\t'),
            Event::Empty(e) if matches!(e.name().as_ref(), "w:br" | "w:cr") => paragraph.push('\n'),
            Event::Text(t) if in_text => {
                let text = t.xml10_content();
                paragraph.push_str(&text);
            }
            Event::GeneralRef(r) if in_text => {
                let name: &str = r.as_ref();
                paragraph.push_str(match name {
                    "amp" => "&",
                    "lt" => "<",
                    "gt" => ">",
                    "quot" => "\"",
                    "apos" => "'",
                    _ => "",
                });
            }
            Event::End(e) if e.name().as_ref() == "w:p" => {
                let text = std::mem::take(&mut paragraph);
                match heading_level.take() {
                    Some(level) if !text.trim().is_empty() => {
                        let title = normalize_ws(&text).replace('\n', " ");
                        if out.title.is_none() && level == 1 {
                            out.title = Some(title.clone());
                        }
                        path.retain(|(l, _)| *l < level);
                        path.push((level, title));
                    }
                    _ => {
                        let headings: Vec<String> = path.iter().map(|(_, h)| h.clone()).collect();
                        out.push(&headings, None, text);
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(out)
}

//! What a file is, from its bytes alone (a declared type or a file name is
//! never trusted): the images, documents and voice-note formats end users
//! may send. Everything else is refused.

use std::io::Cursor;

/// The content type of `data` if it is one of the accepted kinds: PNG, JPEG,
/// GIF, WebP, PDF, DOCX/XLSX/PPTX (a zip with the part that makes it one),
/// MP3, OGG, MP4/M4A, WAV, or UTF-8 text (`text/plain`; see [`refine`] for CSV).
#[must_use]
pub fn sniff(data: &[u8]) -> Option<&'static str> {
    image(data).or_else(|| document(data)).or_else(|| audio(data)).or_else(|| text(data))
}

/// The image type of `data` (PNG, JPEG, GIF, WebP): the kinds shown inline.
#[must_use]
pub fn image(data: &[u8]) -> Option<&'static str> {
    if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if data.len() > 12 && &data[..4] == b"RIFF" && &data[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// The types [`sniff`] may answer, for documentation and tests.
pub const ACCEPTED: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "audio/mpeg",
    "audio/ogg",
    "audio/mp4",
    "video/mp4",
    "audio/wav",
    "text/plain",
    "text/csv",
];

fn document(data: &[u8]) -> Option<&'static str> {
    if data.starts_with(b"%PDF-") {
        return Some("application/pdf");
    }
    if !data.starts_with(b"PK\x03\x04") {
        return None;
    }
    // Only the central directory is read: nothing is decompressed.
    let archive = zip::ZipArchive::new(Cursor::new(data)).ok()?;
    let has = |name: &str| archive.index_for_name(name).is_some();
    if !has("[Content_Types].xml") {
        return None;
    }
    if has("word/document.xml") {
        Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    } else if has("xl/workbook.xml") {
        Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    } else if has("ppt/presentation.xml") {
        Some("application/vnd.openxmlformats-officedocument.presentationml.presentation")
    } else {
        None
    }
}

fn audio(data: &[u8]) -> Option<&'static str> {
    if data.starts_with(b"OggS") {
        return Some("audio/ogg");
    }
    if data.len() > 12 && &data[..4] == b"RIFF" && &data[8..12] == b"WAVE" {
        return Some("audio/wav");
    }
    if data.len() > 12 && &data[4..8] == b"ftyp" {
        return Some(match &data[8..12] {
            b"M4A " | b"M4B " => "audio/mp4",
            _ => "video/mp4",
        });
    }
    if data.starts_with(b"ID3") {
        return Some("audio/mpeg");
    }
    // An MPEG audio frame: 11 sync bits, MPEG 1/2/2.5, layer III.
    if data.len() >= 4 && data[0] == 0xFF && data[1] & 0xE0 == 0xE0 && (data[1] >> 1) & 0x03 == 0x01 {
        return Some("audio/mpeg");
    }
    None
}

fn text(data: &[u8]) -> Option<&'static str> {
    let body = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let s = std::str::from_utf8(body).ok()?;
    let clean = !s.is_empty() && s.chars().all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t' | '\u{c}'));
    clean.then_some("text/plain")
}

/// Narrows a sniffed type by the file name where the bytes cannot tell:
/// UTF-8 text named `*.csv` is `text/csv`.
#[must_use]
pub fn refine(sniffed: &'static str, name: Option<&str>) -> &'static str {
    let csv = name.is_some_and(|n| n.to_ascii_lowercase().ends_with(".csv"));
    if sniffed == "text/plain" && csv { "text/csv" } else { sniffed }
}

/// The usual file extension of an accepted type (for generic names).
#[must_use]
pub fn extension(content_type: &str) -> &'static str {
    match content_type {
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "application/pdf" => "pdf",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation" => "pptx",
        "audio/mpeg" => "mp3",
        "audio/ogg" => "ogg",
        "audio/mp4" => "m4a",
        "video/mp4" => "mp4",
        "audio/wav" => "wav",
        "text/csv" => "csv",
        "text/plain" => "txt",
        _ => "bin",
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn zip_with(names: &[&str]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for n in names {
            w.start_file(*n, zip::write::SimpleFileOptions::default()).expect("start");
            w.write_all(b"<x/>").expect("write");
        }
        w.finish().expect("finish").into_inner()
    }

    #[test]
    fn images_documents_and_audio_are_recognised_by_their_bytes() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(sniff(b"GIF89a..."), Some("image/gif"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"%PDF-1.7\n%\xE2\xE3"), Some("application/pdf"));
        assert_eq!(sniff(b"OggS\0\x02rest"), Some("audio/ogg"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WAVEfmt "), Some("audio/wav"));
        assert_eq!(sniff(b"\0\0\0\x20ftypM4A \0\0\0\0"), Some("audio/mp4"));
        assert_eq!(sniff(b"\0\0\0\x20ftypisom\0\0\0\0"), Some("video/mp4"));
        assert_eq!(sniff(b"ID3\x04\0\0\0\0\0\0"), Some("audio/mpeg"));
        assert_eq!(sniff(&[0xFF, 0xFB, 0x90, 0x64]), Some("audio/mpeg"));
        assert_eq!(
            sniff(&zip_with(&["[Content_Types].xml", "word/document.xml"])),
            Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document")
        );
        assert_eq!(
            sniff(&zip_with(&["[Content_Types].xml", "xl/workbook.xml"])),
            Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        );
        assert_eq!(
            sniff(&zip_with(&["[Content_Types].xml", "ppt/presentation.xml"])),
            Some("application/vnd.openxmlformats-officedocument.presentationml.presentation")
        );
        assert_eq!(sniff("héllo, wörld\nline 2\t".as_bytes()), Some("text/plain"));
        assert_eq!(refine("text/plain", Some("Prices.CSV")), "text/csv");
        assert_eq!(refine("image/png", Some("x.csv")), "image/png");
    }

    #[test]
    fn everything_else_is_refused() {
        assert_eq!(sniff(b"MZ\x90\0\x03\0\0\0\x04\0"), None, "a Windows executable");
        assert_eq!(sniff(b"\x7fELF\x02\x01\x01"), None, "an ELF executable");
        assert_eq!(sniff(&zip_with(&["a.txt"])), None, "a plain zip");
        assert_eq!(sniff(&zip_with(&["[Content_Types].xml", "other.xml"])), None, "an unknown OOXML package");
        assert_eq!(sniff(b"<svg onload=alert(1)>\0"), None);
        assert_eq!(image(b"<svg onload=alert(1)>"), None, "SVG is never an image here (it runs scripts)");
        assert_eq!(sniff(b""), None);
        assert_eq!(sniff(b"\xFF\xFE\x00bad utf8"), None);
        assert_eq!(sniff(&[0xFF, 0xF1, 0x50, 0x80]), None, "AAC ADTS is not layer III");
    }
}

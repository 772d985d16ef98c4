//! Token-aware chunking: sentences are packed into chunks of at most
//! `size` model tokens; a chunk ends early at a heading change (unless it is
//! tiny); the next chunk repeats the previous one's last sentences up to
//! `overlap` tokens (never across a heading change). Each chunk keeps its
//! heading path, page and character span. Deterministic: the same text and
//! settings give the same chunks, which is what lets an interrupted
//! ingestion resume by chunk index.

use serde_json::{Map, Value};
use unicode_segmentation::UnicodeSegmentation;

use super::extract::{Extracted, Section};

/// A chunk ends at a heading change once it holds this many tokens (smaller
/// sections are merged with the next one).
const MIN_SECTION_TOKENS: usize = 16;

/// Chunking settings.
#[derive(Debug, Clone, Copy)]
pub struct ChunkParams {
    /// Most tokens of content per chunk.
    pub size: usize,
    pub overlap: usize,
}

/// One chunk.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkText {
    pub index: usize,
    pub content: String,
    pub heading_path: String,
    /// Tokens of `embed_text()` (heading path + content).
    pub tokens: usize,
    pub start_char: usize,
    pub end_char: usize,
    pub metadata: Value,
}

impl ChunkText {
    /// What is embedded: the heading path gives the passage its context.
    #[must_use]
    pub fn embed_text(&self) -> String {
        if self.heading_path.is_empty() {
            self.content.clone()
        } else {
            format!("{}\n{}", self.heading_path, self.content)
        }
    }
}

struct Unit {
    text: String,
    tokens: usize,
    section: usize,
    start: usize,
    end: usize,
}

/// Splits `doc` into chunks. `count` gives the number of model tokens of a
/// text without special tokens.
pub fn chunk(doc: &Extracted, params: ChunkParams, count: &dyn Fn(&str) -> usize) -> Vec<ChunkText> {
    let size = params.size.max(16);
    let overlap = params.overlap.min(size / 2);
    let units = units(doc, size, count);
    let mut chunks = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut current_tokens = 0;
    let heading_tokens = |section: usize| -> usize {
        let path = heading_path(&doc.sections[section]);
        if path.is_empty() { 0 } else { count(&path) + 1 }
    };
    let mut budget = 0;
    let mut i = 0;
    while i < units.len() {
        let unit = &units[i];
        if current.is_empty() {
            budget = size.saturating_sub(heading_tokens(unit.section).min(size / 3)).max(8);
        }
        let section_change = current.last().is_some_and(|&last| units[last].section != unit.section);
        let heading_change = section_change
            && current.last().is_some_and(|&last| {
                heading_path(&doc.sections[units[last].section]) != heading_path(&doc.sections[unit.section])
            });
        let full = current_tokens + unit.tokens + usize::from(!current.is_empty()) > budget;
        let break_here = !current.is_empty() && (full || (heading_change && current_tokens >= MIN_SECTION_TOKENS));
        if break_here {
            chunks.push(make_chunk(doc, &units, &current, chunks.len(), count));
            // Overlap: the last sentences of the previous chunk, same heading.
            let mut carried: Vec<usize> = Vec::new();
            let mut carried_tokens = 0;
            if overlap > 0 && !heading_change {
                for &j in current.iter().rev() {
                    if carried_tokens + units[j].tokens > overlap || units[j].section != unit.section && heading_change
                    {
                        break;
                    }
                    carried_tokens += units[j].tokens + 1;
                    carried.push(j);
                }
                carried.reverse();
                // Never carry everything (no progress) or more than fits with the next unit.
                if carried.len() == current.len() || carried_tokens + unit.tokens > budget {
                    carried.clear();
                    carried_tokens = 0;
                }
            }
            current = carried;
            current_tokens = carried_tokens;
            budget = size.saturating_sub(heading_tokens(unit.section).min(size / 3)).max(8);
            continue;
        }
        current_tokens += unit.tokens + usize::from(!current.is_empty());
        current.push(i);
        i += 1;
    }
    if !current.is_empty() {
        chunks.push(make_chunk(doc, &units, &current, chunks.len(), count));
    }
    chunks
}

fn heading_path(section: &Section) -> String {
    section.heading_path.join(" > ")
}

fn make_chunk(
    doc: &Extracted,
    units: &[Unit],
    members: &[usize],
    index: usize,
    count: &dyn Fn(&str) -> usize,
) -> ChunkText {
    let first = &units[members[0]];
    let last = &units[members[members.len() - 1]];
    let section = &doc.sections[first.section];
    let mut content = String::new();
    let mut previous_section = first.section;
    for &m in members {
        if !content.is_empty() {
            content.push(if units[m].section == previous_section { ' ' } else { '\n' });
        }
        previous_section = units[m].section;
        content.push_str(&units[m].text);
    }
    let mut metadata = Map::new();
    let pages: Vec<u32> = members.iter().filter_map(|&m| doc.sections[units[m].section].page).collect();
    if let (Some(first_page), Some(last_page)) = (pages.iter().min(), pages.iter().max()) {
        metadata.insert("page".into(), Value::from(*first_page));
        if last_page != first_page {
            metadata.insert("page_end".into(), Value::from(*last_page));
        }
    }
    for &m in members {
        if let Some(Value::Object(meta)) = &doc.sections[units[m].section].meta {
            for (k, v) in meta {
                if k == "row" {
                    metadata.entry("row").or_insert_with(|| v.clone());
                    metadata.insert("row_end".into(), v.clone());
                } else {
                    metadata.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
    }
    if let Some(heading) = section.heading_path.last() {
        metadata.insert("heading".into(), Value::from(heading.clone()));
    }
    let heading_path = heading_path(section);
    let mut chunk = ChunkText {
        index,
        content,
        heading_path,
        tokens: 0,
        start_char: first.start,
        end_char: last.end,
        metadata: Value::Object(metadata),
    };
    chunk.tokens = count(&chunk.embed_text());
    chunk
}

/// Sentences (or pieces of over-long sentences) with their token counts and
/// character spans in the document's full text.
fn units(doc: &Extracted, size: usize, count: &dyn Fn(&str) -> usize) -> Vec<Unit> {
    let mut units = Vec::new();
    let mut offset = 0;
    for (s, section) in doc.sections.iter().enumerate() {
        for h in &section.heading_path {
            offset += h.chars().count() + 1;
        }
        for paragraph in &section.paragraphs {
            for sentence in paragraph.split_sentence_bounds() {
                let chars = sentence.chars().count();
                let text = sentence.trim();
                if !text.is_empty() {
                    let start = offset + (sentence.chars().count() - sentence.trim_start().chars().count());
                    let tokens = count(text);
                    if tokens <= size {
                        units.push(Unit {
                            text: text.to_owned(),
                            tokens,
                            section: s,
                            start,
                            end: start + text.chars().count(),
                        });
                    } else {
                        split_long(text, size, s, start, count, &mut units);
                    }
                }
                offset += chars;
            }
            offset += 1;
        }
    }
    units
}

/// Splits a sentence longer than a chunk at word boundaries.
fn split_long(
    text: &str,
    size: usize,
    section: usize,
    start: usize,
    count: &dyn Fn(&str) -> usize,
    out: &mut Vec<Unit>,
) {
    let words: Vec<(usize, &str)> = text.split_word_bound_indices().collect();
    let mut piece_start = 0;
    let mut piece = String::new();
    let mut piece_tokens = 0;
    let target = size.saturating_sub(2).max(4);
    for (byte, word) in words {
        let word_tokens = if word.trim().is_empty() { 0 } else { count(word).max(1) };
        if piece_tokens + word_tokens > target && !piece.trim().is_empty() {
            let trimmed = piece.trim().to_owned();
            let s = start + text[..piece_start].chars().count();
            out.push(Unit {
                tokens: count(&trimmed),
                end: s + trimmed.chars().count(),
                text: trimmed,
                section,
                start: s,
            });
            piece.clear();
            piece_tokens = 0;
            piece_start = byte;
        }
        if word_tokens > target {
            // One "word" longer than a chunk (a URL, base64…): cut by characters.
            let chars: Vec<char> = word.chars().collect();
            for part in chars.chunks(target * 2) {
                let p: String = part.iter().collect();
                let s = start + text[..byte].chars().count();
                out.push(Unit { tokens: count(&p).min(size), end: s + p.chars().count(), text: p, section, start: s });
            }
            piece_start = byte + word.len();
            continue;
        }
        piece.push_str(word);
        piece_tokens += word_tokens;
    }
    if !piece.trim().is_empty() {
        let trimmed = piece.trim().to_owned();
        let s = start + text[..piece_start].chars().count();
        out.push(Unit { tokens: count(&trimmed), end: s + trimmed.chars().count(), text: trimmed, section, start: s });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::extract::markdown;

    fn words(s: &str) -> usize {
        s.split_whitespace().count()
    }

    #[test]
    fn packs_sentences_with_overlap_and_headings() {
        let text = "# Guide\n\n## Returns\n\nOne two three four. Five six seven eight. Nine ten eleven twelve. \
                    Thirteen fourteen fifteen sixteen.\n\n## Shipping\n\nShips in two days. Tracking is emailed.";
        let doc = markdown(text);
        let chunks = chunk(&doc, ChunkParams { size: 16, overlap: 4 }, &words);
        assert!(chunks.len() >= 3, "{chunks:#?}");
        assert_eq!(chunks[0].heading_path, "Guide > Returns");
        assert!(chunks[0].content.starts_with("One two"));
        // The second chunk repeats the last sentence of the first.
        let last_sentence = chunks[0].content.rsplit(". ").next().expect("s").trim_end_matches('.');
        assert!(chunks[1].content.contains(last_sentence), "{chunks:#?}");
        let shipping = chunks.iter().find(|c| c.content.contains("Ships")).expect("shipping");
        assert_eq!(shipping.heading_path, "Guide > Shipping");
        assert!(!shipping.content.contains("Thirteen"), "no overlap across headings");
        for c in &chunks {
            assert!(words(&c.content) <= 16, "{c:?}");
        }
        // Deterministic.
        assert_eq!(chunks, chunk(&doc, ChunkParams { size: 16, overlap: 4 }, &words));
    }

    #[test]
    fn splits_overlong_sentences() {
        let long = (0..100).map(|i| format!("w{i}")).collect::<Vec<_>>().join(" ");
        let doc = markdown(&long);
        let chunks = chunk(&doc, ChunkParams { size: 20, overlap: 0 }, &words);
        assert!(chunks.len() >= 5);
        assert!(chunks.iter().all(|c| words(&c.content) <= 20));
        let joined: Vec<String> = chunks.iter().flat_map(|c| c.content.split_whitespace().map(str::to_owned)).collect();
        assert_eq!(joined.len(), 100);
    }
}

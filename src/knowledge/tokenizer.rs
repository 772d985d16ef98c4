//! The full-text tokenizer of a knowledge base, chosen from its language,
//! and the FTS5 queries and highlight terms that go with it.
//!
//! - `porter` (English): unicode61 words, Porter-stemmed (`refunds` finds
//!   `refund`), diacritics folded;
//! - `unicode61` (other alphabetic languages): words with diacritics folded
//!   (`école` finds `ecole`) and no stemming, which is English-only;
//! - `trigram` (Chinese, Japanese, Korean, Thai): these write words without
//!   spaces, so a word tokenizer sees a whole clause as one token and a
//!   question finds nothing. Trigrams index every three-character substring:
//!   a query is split into its overlapping trigrams, OR-ed, and BM25 ranks
//!   chunks sharing more of them first.
//!
//! Each tokenizer has its own FTS5 table over `chunks` (V091); a chunk's
//! `fts_tokenizer` says which holds it and changing it moves the chunk.

use std::collections::HashSet;

/// The tokenizer of a knowledge base (`knowledge_bases.fts_tokenizer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FtsTokenizer {
    Porter,
    Unicode61,
    Trigram,
}

/// Languages written without spaces between words.
const UNSPACED: [&str; 4] = ["zh", "ja", "ko", "th"];

impl FtsTokenizer {
    /// The tokenizer for a language tag: Porter for English, trigram for
    /// Chinese, Japanese, Korean and Thai, unicode61 for every other
    /// language (and for `auto`, which may be any).
    #[must_use]
    pub fn for_language(tag: &str) -> FtsTokenizer {
        let primary = tag.split('-').next().unwrap_or_default().to_ascii_lowercase();
        if primary == "en" {
            FtsTokenizer::Porter
        } else if UNSPACED.contains(&primary.as_str()) {
            FtsTokenizer::Trigram
        } else {
            FtsTokenizer::Unicode61
        }
    }

    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            FtsTokenizer::Porter => "porter",
            FtsTokenizer::Unicode61 => "unicode61",
            FtsTokenizer::Trigram => "trigram",
        }
    }

    /// Parses a stored name (unknown names read as Porter, the original index).
    #[must_use]
    pub fn parse(s: &str) -> FtsTokenizer {
        match s {
            "unicode61" => FtsTokenizer::Unicode61,
            "trigram" => FtsTokenizer::Trigram,
            _ => FtsTokenizer::Porter,
        }
    }

    /// The FTS5 table holding the chunks of this tokenizer.
    #[must_use]
    pub fn table(self) -> &'static str {
        match self {
            FtsTokenizer::Porter => "chunks_fts",
            FtsTokenizer::Unicode61 => "chunks_fold_fts",
            FtsTokenizer::Trigram => "chunks_trigram_fts",
        }
    }

    /// A safe FTS5 query for `terms` (see [`super::search::query_terms`]):
    /// every term a quoted string (so `AND`, `NEAR`, `*`, `"`, `:` and
    /// parentheses in user text are never syntax), joined by `OR` for BM25
    /// ranking. For trigram, terms are cut into their trigrams (a term
    /// shorter than three characters cannot match a trigram index and is
    /// left out). `None` when nothing is searchable.
    #[must_use]
    pub fn query(self, terms: &[String]) -> Option<String> {
        let pieces: Vec<String> = match self {
            FtsTokenizer::Trigram => {
                let mut seen = HashSet::new();
                terms.iter().flat_map(|t| trigrams(t)).filter(|g| seen.insert(g.clone())).take(128).collect()
            }
            FtsTokenizer::Porter | FtsTokenizer::Unicode61 => terms.to_vec(),
        };
        if pieces.is_empty() {
            return None;
        }
        Some(pieces.iter().map(|t| format!("\"{}\"", t.replace('"', "\"\""))).collect::<Vec<_>>().join(" OR "))
    }
}

/// The overlapping three-character substrings of a term (the term itself
/// when it is exactly three; none when shorter).
fn trigrams(term: &str) -> Vec<String> {
    let chars: Vec<char> = term.chars().collect();
    chars.windows(3).map(|w| w.iter().collect()).collect()
}

/// Whether a character belongs to a script written without spaces between
/// words (Han, kana, Hangul, Thai).
#[must_use]
pub fn is_unspaced(c: char) -> bool {
    matches!(u32::from(c),
        0x3040..=0x30FF      // Hiragana, Katakana
        | 0x3400..=0x4DBF    // CJK Extension A
        | 0x4E00..=0x9FFF    // CJK Unified Ideographs
        | 0xF900..=0xFAFF    // CJK Compatibility Ideographs
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0x1100..=0x11FF    // Hangul Jamo
        | 0x0E00..=0x0E7F    // Thai
        | 0xFF66..=0xFF9F    // half-width Katakana
        | 0x20000..=0x2A6DF) // CJK Extension B
}

/// Highlight pieces of a term written in an unspaced script: its bigrams,
/// so that `返品の期限` lights up `返品` and `期限` in the text (a whole
/// clause is one "word" and would never match exactly).
#[must_use]
pub fn unspaced_pieces(term: &str) -> Vec<String> {
    let chars: Vec<char> = term.chars().collect();
    if chars.len() <= 2 {
        return vec![term.to_owned()];
    }
    chars.windows(2).map(|w| w.iter().collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_follows_the_language() {
        assert_eq!(FtsTokenizer::for_language("en-GB"), FtsTokenizer::Porter);
        assert_eq!(FtsTokenizer::for_language("de"), FtsTokenizer::Unicode61);
        assert_eq!(FtsTokenizer::for_language("auto"), FtsTokenizer::Unicode61);
        assert_eq!(FtsTokenizer::for_language("ja"), FtsTokenizer::Trigram);
        assert_eq!(FtsTokenizer::for_language("zh-Hant-TW"), FtsTokenizer::Trigram);
        assert_eq!(FtsTokenizer::for_language("th"), FtsTokenizer::Trigram);
        for t in [FtsTokenizer::Porter, FtsTokenizer::Unicode61, FtsTokenizer::Trigram] {
            assert_eq!(FtsTokenizer::parse(t.as_str()), t);
        }
    }

    #[test]
    fn trigram_queries_split_terms_and_stay_quoted() {
        let terms = vec!["返品期限".to_owned(), "ab".to_owned(), "x\"yz".to_owned()];
        assert_eq!(
            FtsTokenizer::Trigram.query(&terms).as_deref(),
            Some("\"返品期\" OR \"品期限\" OR \"x\"\"y\" OR \"\"\"yz\"")
        );
        assert_eq!(FtsTokenizer::Trigram.query(&["東京".to_owned()]), None);
        assert_eq!(FtsTokenizer::Unicode61.query(&["école".to_owned()]).as_deref(), Some("\"école\""));
    }

    #[test]
    fn unspaced_scripts() {
        assert!("返品ですカ한국어ไทย".chars().all(is_unspaced));
        assert!(!"école Ünïcode абв".chars().any(is_unspaced));
        assert_eq!(unspaced_pieces("返品期限"), ["返品", "品期", "期限"]);
        assert_eq!(unspaced_pieces("東京"), ["東京"]);
    }
}

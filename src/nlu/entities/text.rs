//! Text helpers shared by the extractors: word tokens with byte and
//! character (Unicode scalar) offsets, and byte→char offset conversion.

/// A word of the input: a run of alphanumeric characters (with inner
/// apostrophes, as in `o'clock`), lower-cased.
#[derive(Debug, Clone)]
pub struct Token {
    pub lower: String,
    /// Byte offsets into the text.
    pub start: usize,
    pub end: usize,
    /// Whether only spaces or one hyphen separate it from the previous token
    /// (so that `twenty-five` and `twenty five` read as one number but
    /// `twenty, five` does not).
    pub joined: bool,
}

/// Splits a text into word tokens.
#[must_use]
pub fn tokenize(text: &str) -> Vec<Token> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut tokens: Vec<Token> = Vec::new();
    let mut open = false;
    let mut gap_hyphens = 0;
    let mut gap_other = false;
    for (i, &(pos, c)) in chars.iter().enumerate() {
        let next_alnum = chars.get(i + 1).is_some_and(|(_, n)| n.is_alphanumeric());
        let next_digit = chars.get(i + 1).is_some_and(|(_, n)| n.is_ascii_digit());
        let in_word = open && tokens.last().is_some();
        let inner_apostrophe = (c == '\'' || c == '\u{2019}') && in_word && next_alnum;
        let decimal_point = (c == '.' || c == ',')
            && in_word
            && next_digit
            && tokens.last().is_some_and(|t| {
                !t.lower.is_empty() && t.lower.chars().all(|x| x.is_ascii_digit() || x == '.' || x == ',')
            });
        if c.is_alphanumeric() || inner_apostrophe || decimal_point {
            if !in_word {
                let joined = !tokens.is_empty() && !gap_other && gap_hyphens <= 1;
                tokens.push(Token { lower: String::new(), start: pos, end: pos, joined });
                open = true;
            }
            if let Some(t) = tokens.last_mut() {
                t.lower.extend(c.to_lowercase());
                t.end = pos + c.len_utf8();
            }
            gap_hyphens = 0;
            gap_other = false;
        } else {
            open = false;
            match c {
                '-' => gap_hyphens += 1,
                ' ' => {}
                _ => gap_other = true,
            }
        }
    }
    tokens
}

/// Maps byte offsets of a text to character offsets.
pub struct CharIndex {
    map: Vec<usize>,
}

impl CharIndex {
    #[must_use]
    pub fn new(text: &str) -> CharIndex {
        let mut map = vec![0; text.len() + 1];
        let mut count = 0;
        for (b, c) in text.char_indices() {
            for slot in map.iter_mut().skip(b).take(c.len_utf8()) {
                *slot = count;
            }
            count += 1;
        }
        map[text.len()] = count;
        CharIndex { map }
    }

    /// The character offset of a byte offset (clamped to the end).
    #[must_use]
    pub fn char_at(&self, byte: usize) -> usize {
        self.map.get(byte).copied().unwrap_or_else(|| self.map.last().copied().unwrap_or(0))
    }
}

/// Folds a string for matching: lower case, inner whitespace collapsed.
#[must_use]
pub fn fold(s: &str) -> String {
    s.split_whitespace().map(str::to_lowercase).collect::<Vec<_>>().join(" ")
}

/// Damerau–Levenshtein (optimal string alignment) distance, giving up once it
/// exceeds `max` (returns `max + 1`).
#[must_use]
pub fn edit_distance(a: &str, b: &str, max: usize) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > max {
        return max + 1;
    }
    let width = b.len() + 1;
    let mut prev2 = vec![0usize; width];
    let mut prev: Vec<usize> = (0..width).collect();
    let mut cur = vec![0usize; width];
    for i in 1..=a.len() {
        cur[0] = i;
        let mut row_min = cur[0];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            cur[j] = v;
            row_min = row_min.min(v);
        }
        if row_min > max {
            return max + 1;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()].min(max + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_keep_offsets_and_joins() {
        let t = tokenize("Twenty-five, o'clock 3.5 ok");
        let words: Vec<&str> = t.iter().map(|t| t.lower.as_str()).collect();
        assert_eq!(words, ["twenty", "five", "o'clock", "3.5", "ok"]);
        assert!(t[1].joined);
        assert!(!t[2].joined);
        assert_eq!(&"Twenty-five, o'clock 3.5 ok"[t[2].start..t[2].end], "o'clock");
    }

    #[test]
    fn char_offsets_count_scalars() {
        let idx = CharIndex::new("héllo wörld");
        assert_eq!(idx.char_at("héllo ".len()), 6);
        assert_eq!(idx.char_at("héllo wörld".len()), 11);
    }

    #[test]
    fn edit_distance_is_bounded() {
        assert_eq!(edit_distance("berlin", "berlin", 2), 0);
        assert_eq!(edit_distance("berlin", "berlni", 2), 1);
        assert_eq!(edit_distance("berlin", "brln", 2), 2);
        assert_eq!(edit_distance("berlin", "paris", 2), 3);
    }
}

//! English numbers and ordinals, written with digits (`1,250.5`, `21st`) or
//! words (`twenty five`, `one hundred and three`, `twenty-first`), read off
//! word tokens.

#![allow(
    clippy::cast_precision_loss,
    clippy::many_single_char_names,
    clippy::similar_names,
    clippy::float_cmp,
    reason = "numeric code: counts become ratios, short names follow the formulas, exact float compares are on stored values"
)]

use super::text::Token;

/// A number found at a run of tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NumberSpan {
    /// First and one-past-last token index.
    pub first: usize,
    pub last: usize,
    pub value: f64,
    /// Written with words only (`five`), not digits.
    pub words: bool,
}

fn unit(w: &str) -> Option<f64> {
    Some(match w {
        "zero" | "nil" => 0.0,
        "one" => 1.0,
        "two" => 2.0,
        "three" => 3.0,
        "four" => 4.0,
        "five" => 5.0,
        "six" => 6.0,
        "seven" => 7.0,
        "eight" => 8.0,
        "nine" => 9.0,
        "ten" => 10.0,
        "eleven" => 11.0,
        "twelve" => 12.0,
        "thirteen" => 13.0,
        "fourteen" => 14.0,
        "fifteen" => 15.0,
        "sixteen" => 16.0,
        "seventeen" => 17.0,
        "eighteen" => 18.0,
        "nineteen" => 19.0,
        _ => return None,
    })
}

fn tens(w: &str) -> Option<f64> {
    Some(match w {
        "twenty" => 20.0,
        "thirty" => 30.0,
        "forty" | "fourty" => 40.0,
        "fifty" => 50.0,
        "sixty" => 60.0,
        "seventy" => 70.0,
        "eighty" => 80.0,
        "ninety" => 90.0,
        _ => return None,
    })
}

fn scale(w: &str) -> Option<f64> {
    Some(match w {
        "hundred" => 100.0,
        "thousand" => 1_000.0,
        "million" => 1_000_000.0,
        "billion" => 1_000_000_000.0,
        _ => return None,
    })
}

fn ordinal_word(w: &str) -> Option<f64> {
    Some(match w {
        "first" => 1.0,
        "second" => 2.0,
        "third" => 3.0,
        "fourth" => 4.0,
        "fifth" => 5.0,
        "sixth" => 6.0,
        "seventh" => 7.0,
        "eighth" => 8.0,
        "ninth" => 9.0,
        "tenth" => 10.0,
        "eleventh" => 11.0,
        "twelfth" => 12.0,
        "thirteenth" => 13.0,
        "fourteenth" => 14.0,
        "fifteenth" => 15.0,
        "sixteenth" => 16.0,
        "seventeenth" => 17.0,
        "eighteenth" => 18.0,
        "nineteenth" => 19.0,
        "twentieth" => 20.0,
        "thirtieth" => 30.0,
        "fortieth" => 40.0,
        "fiftieth" => 50.0,
        "sixtieth" => 60.0,
        "seventieth" => 70.0,
        "eightieth" => 80.0,
        "ninetieth" => 90.0,
        "hundredth" => 100.0,
        "thousandth" => 1000.0,
        _ => return None,
    })
}

/// A number written with digits: `42`, `1,250`, `3.5`.
#[must_use]
pub fn digits(w: &str) -> Option<f64> {
    if w.is_empty() || !w.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    if !w.chars().all(|c| c.is_ascii_digit() || c == '.' || c == ',') || w.ends_with(['.', ',']) {
        return None;
    }
    let mut parts = w.split('.');
    let int = parts.next().unwrap_or_default();
    let frac = parts.next();
    if parts.next().is_some() {
        return None;
    }
    if int.contains(',') {
        let groups: Vec<&str> = int.split(',').collect();
        let ok =
            groups.first().is_some_and(|g| (1..=3).contains(&g.len())) && groups.iter().skip(1).all(|g| g.len() == 3);
        if !ok {
            return None;
        }
    }
    let cleaned: String = int.chars().filter(char::is_ascii_digit).collect();
    let text = match frac {
        Some(f) if !f.is_empty() && f.chars().all(|c| c.is_ascii_digit()) => format!("{cleaned}.{f}"),
        Some(_) => return None,
        None => cleaned,
    };
    text.parse().ok()
}

/// Whether a token can start or continue a number.
fn is_number_word(w: &str) -> bool {
    unit(w).is_some() || tens(w).is_some() || scale(w).is_some() || w == "dozen"
}

/// The number starting at token `i`, if any (longest reading).
#[must_use]
pub fn number_at(tokens: &[Token], i: usize) -> Option<NumberSpan> {
    let first = tokens.get(i)?;
    if let Some(v) = digits(&first.lower) {
        // `5 million`, `2.5 thousand`
        if let Some(next) = tokens.get(i + 1)
            && next.joined
            && let Some(s) = scale(&next.lower)
        {
            return Some(NumberSpan { first: i, last: i + 2, value: v * s, words: false });
        }
        return Some(NumberSpan { first: i, last: i + 1, value: v, words: false });
    }
    let starts_with_article = matches!(first.lower.as_str(), "a" | "an")
        && tokens.get(i + 1).is_some_and(|n| n.joined && (scale(&n.lower).is_some() || n.lower == "dozen"));
    if !is_number_word(&first.lower) && !starts_with_article {
        return None;
    }
    if scale(&first.lower).is_some() {
        return None;
    }
    let (mut total, mut current) = (0.0_f64, 0.0_f64);
    let mut last_kind = Kind::None;
    let mut end = i;
    let mut j = i;
    while let Some(t) = tokens.get(j) {
        if j > i && !t.joined {
            break;
        }
        let w = t.lower.as_str();
        if j == i && starts_with_article {
            current = 1.0;
            last_kind = Kind::Unit;
            j += 1;
            continue;
        }
        if w == "and" {
            let next_ok =
                tokens.get(j + 1).is_some_and(|n| n.joined && (unit(&n.lower).is_some() || tens(&n.lower).is_some()));
            if matches!(last_kind, Kind::Scale) && next_ok {
                j += 1;
                continue;
            }
            break;
        }
        if let Some(v) = unit(w) {
            if matches!(last_kind, Kind::Unit) || (matches!(last_kind, Kind::Tens) && v >= 10.0) {
                break;
            }
            current += v;
            last_kind = Kind::Unit;
        } else if let Some(v) = tens(w) {
            if matches!(last_kind, Kind::Unit | Kind::Tens) {
                break;
            }
            current += v;
            last_kind = Kind::Tens;
        } else if w == "dozen" {
            current = current.max(1.0) * 12.0;
            last_kind = Kind::Scale;
        } else if let Some(s) = scale(w) {
            if matches!(last_kind, Kind::None) {
                break;
            }
            if s < 1000.0 {
                current = current.max(1.0) * s;
            } else {
                total += current.max(1.0) * s;
                current = 0.0;
            }
            last_kind = Kind::Scale;
        } else {
            break;
        }
        j += 1;
        end = j;
    }
    if end == i || (starts_with_article && end <= i + 1) {
        return None;
    }
    Some(NumberSpan { first: i, last: end, value: total + current, words: true })
}

#[derive(Clone, Copy)]
enum Kind {
    None,
    Unit,
    Tens,
    Scale,
}

/// The ordinal starting at token `i`: `3rd`, `twenty-first`, `hundredth`.
#[must_use]
pub fn ordinal_at(tokens: &[Token], i: usize) -> Option<NumberSpan> {
    let t = tokens.get(i)?;
    let w = t.lower.as_str();
    for suffix in ["st", "nd", "rd", "th"] {
        if let Some(num) = w.strip_suffix(suffix)
            && !num.is_empty()
            && num.chars().all(|c| c.is_ascii_digit())
            && let Ok(v) = num.parse::<f64>()
        {
            let ok = match suffix {
                "st" => num.ends_with('1') && !num.ends_with("11"),
                "nd" => num.ends_with('2') && !num.ends_with("12"),
                "rd" => num.ends_with('3') && !num.ends_with("13"),
                _ => true,
            };
            return ok.then_some(NumberSpan { first: i, last: i + 1, value: v, words: false });
        }
    }
    if let Some(v) = ordinal_word(w) {
        return Some(NumberSpan { first: i, last: i + 1, value: v, words: true });
    }
    // `twenty-first`, `one hundred and second`: a number then an ordinal word.
    let n = number_at(tokens, i)?;
    if !n.words {
        return None;
    }
    let mut k = n.last;
    if tokens.get(k).is_some_and(|t| t.lower == "and" && t.joined) {
        k += 1;
    }
    let next = tokens.get(k)?;
    if !next.joined {
        return None;
    }
    let o = ordinal_word(&next.lower)?;
    if o >= 100.0 {
        return Some(NumberSpan { first: i, last: k + 1, value: n.value * o, words: true });
    }
    let base_ok = n.value >= 20.0 && (n.value % 10.0 == 0.0) && o < 10.0 || n.value >= 100.0 && o < 100.0;
    base_ok.then_some(NumberSpan { first: i, last: k + 1, value: n.value + o, words: true })
}

#[cfg(test)]
mod tests {
    use super::super::text::tokenize;
    use super::*;

    fn num(s: &str) -> Option<f64> {
        number_at(&tokenize(s), 0).map(|n| n.value)
    }

    fn ord(s: &str) -> Option<f64> {
        ordinal_at(&tokenize(s), 0).map(|n| n.value)
    }

    #[test]
    fn numbers_in_words_and_digits() {
        assert_eq!(num("twenty five"), Some(25.0));
        assert_eq!(num("twenty-five"), Some(25.0));
        assert_eq!(num("one hundred and three"), Some(103.0));
        assert_eq!(num("two thousand and twenty"), Some(2020.0));
        assert_eq!(num("a hundred"), Some(100.0));
        assert_eq!(num("three million two hundred thousand"), Some(3_200_000.0));
        assert_eq!(num("1,250.5"), Some(1250.5));
        assert_eq!(num("5 million"), Some(5_000_000.0));
        assert_eq!(num("a dozen"), Some(12.0));
        assert_eq!(num("a cat"), None);
        assert_eq!(num("hundred"), None);
        // Two numbers side by side are two numbers.
        let t = tokenize("five six");
        assert_eq!(number_at(&t, 0).map(|n| n.last), Some(1));
    }

    #[test]
    fn ordinals() {
        assert_eq!(ord("21st"), Some(21.0));
        assert_eq!(ord("3rd"), Some(3.0));
        assert_eq!(ord("11th"), Some(11.0));
        assert_eq!(ord("11st"), None);
        assert_eq!(ord("first"), Some(1.0));
        assert_eq!(ord("twenty-first"), Some(21.0));
        assert_eq!(ord("one hundredth"), Some(100.0));
        assert_eq!(ord("twenty"), None);
    }
}

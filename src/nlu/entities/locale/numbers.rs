//! Numbers and ordinals of a [`Locale`]: digits with the language's
//! separators (`1.250,50`, `3,5`) and number words, compounds split into
//! their pieces (`zweihundertfünfundzwanzig` → zwei·hundert·fünf·und·zwanzig,
//! `ventitre` → venti·tre, `quatre-vingt-dix`).

#![allow(clippy::float_cmp, reason = "exact compares of small whole numbers")]

use super::{Locale, Num};
use crate::nlu::entities::numbers::NumberSpan;
use crate::nlu::entities::text::Token;

/// A number in digits as these languages write it: `,` is the decimal
/// mark and `.` (or a space) groups thousands (`1.250,5`); a `.` followed
/// by one or two digits and no comma is read as a decimal point too
/// (`20.50`), as people type prices.
#[must_use]
pub fn digits(w: &str) -> Option<f64> {
    if w.is_empty() || !w.starts_with(|c: char| c.is_ascii_digit()) || w.ends_with(['.', ',']) {
        return None;
    }
    if !w.chars().all(|c| c.is_ascii_digit() || c == '.' || c == ',') {
        return None;
    }
    let (int, frac) = match w.rsplit_once(',') {
        Some((i, f)) => (i, Some(f)),
        None => match w.rsplit_once('.') {
            Some((i, f)) if f.len() <= 2 && !i.contains('.') => (i, Some(f)),
            _ => (w, None),
        },
    };
    if frac.is_some_and(|f| f.contains(['.', ','])) {
        return None;
    }
    if int.contains('.') {
        let groups: Vec<&str> = int.split('.').collect();
        let ok =
            groups.first().is_some_and(|g| (1..=3).contains(&g.len())) && groups.iter().skip(1).all(|g| g.len() == 3);
        if !ok {
            return None;
        }
    }
    if int.contains(',') {
        return None;
    }
    let cleaned: String = int.chars().filter(char::is_ascii_digit).collect();
    let text = match frac {
        Some(f) => format!("{cleaned}.{f}"),
        None => cleaned,
    };
    text.parse().ok()
}

/// A piece of a number word, or the connector.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Piece {
    Num(Num),
    Connector,
}

/// Splits a word into number pieces, longest pieces first (`None` when it
/// is not made of them).
fn segment(locale: &Locale, word: &str) -> Option<Vec<Piece>> {
    if word.is_empty() {
        return Some(Vec::new());
    }
    let mut candidates: Vec<(usize, Piece)> =
        locale.numbers.iter().filter(|(w, _)| word.starts_with(w)).map(|(w, n)| (w.len(), Piece::Num(*n))).collect();
    if locale.connector_in_words && word.starts_with(locale.connector) {
        candidates.push((locale.connector.len(), Piece::Connector));
    }
    candidates.sort_by_key(|(len, _)| std::cmp::Reverse(*len));
    for (len, piece) in candidates {
        if let Some(mut rest) = segment(locale, &word[len..]) {
            rest.insert(0, piece);
            return Some(rest);
        }
    }
    None
}

#[derive(Clone, Copy, PartialEq)]
enum Last {
    None,
    Unit(f64),
    Tens,
    Hundreds,
    Scale,
}

/// Accumulates pieces into a value.
struct Reader<'a> {
    locale: &'a Locale,
    total: f64,
    current: f64,
    last: Last,
    after_connector: bool,
}

impl Reader<'_> {
    /// Takes one piece; false when it cannot continue the number.
    fn take(&mut self, piece: Piece) -> bool {
        let Piece::Num(n) = piece else {
            if self.last == Last::None || self.after_connector {
                return false;
            }
            self.after_connector = true;
            return true;
        };
        let fr = self.locale.vigesimal;
        if fr && n == Num::Tens(20.0) && self.last == Last::Unit(4.0) {
            // quatre-vingt(s): 4 × 20.
            self.current += 76.0;
            self.last = Last::Tens;
            self.after_connector = false;
            return true;
        }
        let ok = match (n, self.last) {
            (Num::Unit(v), Last::Unit(prev)) => fr && prev == 10.0 && v < 10.0,
            (Num::Unit(v), Last::Tens) => v < 10.0 || (fr && [60.0, 80.0].contains(&(self.current % 100.0))),
            (Num::Tens(_), Last::Unit(_)) => self.locale.connector_in_words && self.after_connector,
            (Num::Tens(_), Last::Tens) | (Num::Hundreds(_), Last::Unit(_) | Last::Tens | Last::Hundreds) => false,
            _ => true,
        };
        if !ok {
            return false;
        }
        match n {
            Num::Unit(v) => {
                self.current += v;
                self.last = Last::Unit(v);
            }
            Num::Tens(v) => {
                self.current += v;
                self.last = Last::Tens;
            }
            Num::Hundreds(v) => {
                self.current += v;
                self.last = Last::Hundreds;
            }
            Num::Scale(s) => {
                if s < 1000.0 {
                    self.current = self.current.max(1.0) * s;
                } else {
                    self.total += self.current.max(1.0) * s;
                    self.current = 0.0;
                }
                self.last = Last::Scale;
            }
        }
        self.after_connector = false;
        true
    }
}

/// A number starting at token `i`, with whether it is only an article
/// (`eine`, `un`: a number before a unit or currency, not on its own).
#[must_use]
pub fn number_at(locale: &Locale, tokens: &[Token], i: usize) -> Option<(NumberSpan, bool)> {
    let first = tokens.get(i)?;
    if let Some(v) = digits(&first.lower) {
        // `5 millones`, `2,5 mil`
        if let Some(next) = tokens.get(i + 1)
            && next.joined
            && let Some(Num::Scale(s)) = Locale::lookup(locale.numbers, &next.lower)
            && s >= 1000.0
        {
            return Some((NumberSpan { first: i, last: i + 2, value: v * s, words: false }, false));
        }
        return Some((NumberSpan { first: i, last: i + 1, value: v, words: false }, false));
    }
    let mut reader = Reader { locale, total: 0.0, current: 0.0, last: Last::None, after_connector: false };
    let mut end = i;
    let mut j = i;
    while let Some(t) = tokens.get(j) {
        if j > i && !t.joined {
            break;
        }
        let pieces = if t.lower == locale.connector {
            Some(vec![Piece::Connector])
        } else {
            segment(locale, &t.lower).filter(|p| !p.is_empty())
        };
        let Some(pieces) = pieces else { break };
        let before = (reader.total, reader.current, reader.last, reader.after_connector);
        if !pieces.into_iter().all(|p| reader.take(p)) {
            (reader.total, reader.current, reader.last, reader.after_connector) = before;
            break;
        }
        j += 1;
        if !reader.after_connector {
            end = j;
        }
    }
    if end == i {
        return None;
    }
    let article = end == i + 1 && locale.articles.contains(&first.lower.as_str());
    Some((NumberSpan { first: i, last: end, value: reader.total + reader.current, words: true }, article))
}

/// The value of a whole word read as a number (for ordinal stems).
fn word_value(locale: &Locale, word: &str) -> Option<f64> {
    let token = Token { lower: word.to_owned(), start: 0, end: word.len(), joined: false };
    let (n, _) = number_at(locale, std::slice::from_ref(&token), 0)?;
    (n.last == 1 && n.words).then_some(n.value)
}

/// The ordinal at token `i`: `3º`, `1er`, `premier`, `zweiten`,
/// `vingt-et-unième`, `ventitreesimo`.
#[must_use]
pub fn ordinal_at(locale: &Locale, tokens: &[Token], i: usize) -> Option<NumberSpan> {
    let w = tokens.get(i)?.lower.as_str();
    let one = |value: f64| Some(NumberSpan { first: i, last: i + 1, value, words: true });
    // Digits with an ordinal ending.
    let digit_end = w.find(|c: char| !c.is_ascii_digit()).unwrap_or(w.len());
    if digit_end > 0 && digit_end < w.len() && locale.digit_ordinal_suffixes.contains(&&w[digit_end..]) {
        let v: f64 = w[..digit_end].parse().ok()?;
        return Some(NumberSpan { first: i, last: i + 1, value: v, words: false });
    }
    let mut stems = vec![w];
    for ending in locale.ordinal_inflections {
        if let Some(s) = w.strip_suffix(ending)
            && !s.is_empty()
        {
            stems.push(s);
        }
    }
    for stem in &stems {
        if let Some(v) = Locale::lookup(locale.ordinals, stem) {
            return one(v);
        }
    }
    // Ordinals made from number words (`troisieme`, `ventesimo`, `zweit-en`);
    // where ordinals inflect, only inflected words (German `acht` is 8, `achte` 8th).
    for stem in stems.iter().skip(usize::from(!locale.ordinal_inflections.is_empty())) {
        for suffix in locale.ordinal_suffixes {
            let Some(base) = stem.strip_suffix(suffix).filter(|b| !b.is_empty()) else { continue };
            for fix in ["", "e", "i", "o", "a", "q", "f"] {
                let candidate = match (base, fix) {
                    (b, "q") if b.ends_with("cinqu") => b.trim_end_matches('u').to_owned(),
                    (b, "f") if b.ends_with("neuv") => format!("{}f", b.trim_end_matches('v')),
                    (_, "q" | "f") => continue,
                    (b, f) => format!("{b}{f}"),
                };
                if let Some(v) = word_value(locale, &candidate) {
                    return one(v);
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::{EntityLanguage, locale_tokens};
    use super::*;
    use crate::nlu::entities::text::tokenize;

    fn num(lang: EntityLanguage, s: &str) -> Option<f64> {
        let locale = lang.locale().expect("locale");
        number_at(locale, &locale_tokens(&tokenize(s)), 0).map(|(n, _)| n.value)
    }

    fn ord(lang: EntityLanguage, s: &str) -> Option<f64> {
        let locale = lang.locale().expect("locale");
        ordinal_at(locale, &locale_tokens(&tokenize(s)), 0).map(|n| n.value)
    }

    #[test]
    fn digits_with_comma_decimals() {
        assert_eq!(digits("1.250,5"), Some(1250.5));
        assert_eq!(digits("3,5"), Some(3.5));
        assert_eq!(digits("20.50"), Some(20.5));
        assert_eq!(digits("1.250"), Some(1250.0));
        assert_eq!(digits("1.25.0"), None);
        assert_eq!(digits("12"), Some(12.0));
    }

    #[test]
    fn german_numbers() {
        use EntityLanguage::German as De;
        assert_eq!(num(De, "fünfundzwanzig"), Some(25.0));
        assert_eq!(num(De, "zweihundertdreiundvierzig"), Some(243.0));
        assert_eq!(num(De, "dreitausend"), Some(3000.0));
        assert_eq!(num(De, "zwölf"), Some(12.0));
        assert_eq!(num(De, "einundzwanzig"), Some(21.0));
        assert_eq!(ord(De, "zweiten"), Some(2.0));
        assert_eq!(ord(De, "dritte"), Some(3.0));
        assert_eq!(ord(De, "zwanzigsten"), Some(20.0));
        assert_eq!(ord(De, "erster"), Some(1.0));
        assert_eq!(num(De, "Haus"), None);
    }

    #[test]
    fn french_numbers() {
        use EntityLanguage::French as Fr;
        assert_eq!(num(Fr, "vingt-cinq"), Some(25.0));
        assert_eq!(num(Fr, "vingt et un"), Some(21.0));
        assert_eq!(num(Fr, "quatre-vingt-dix"), Some(90.0));
        assert_eq!(num(Fr, "soixante-douze"), Some(72.0));
        assert_eq!(num(Fr, "dix-sept"), Some(17.0));
        assert_eq!(num(Fr, "deux cents"), Some(200.0));
        assert_eq!(num(Fr, "trois mille"), Some(3000.0));
        assert_eq!(ord(Fr, "troisième"), Some(3.0));
        assert_eq!(ord(Fr, "cinquième"), Some(5.0));
        assert_eq!(ord(Fr, "neuvième"), Some(9.0));
        assert_eq!(ord(Fr, "premier"), Some(1.0));
        assert_eq!(ord(Fr, "1er"), Some(1.0));
    }

    #[test]
    fn spanish_numbers() {
        use EntityLanguage::Spanish as Es;
        assert_eq!(num(Es, "treinta y cinco"), Some(35.0));
        assert_eq!(num(Es, "veintidós"), Some(22.0));
        assert_eq!(num(Es, "doscientos cincuenta"), Some(250.0));
        assert_eq!(num(Es, "ciento cinco"), Some(105.0));
        assert_eq!(num(Es, "dos mil"), Some(2000.0));
        assert_eq!(ord(Es, "tercera"), Some(3.0));
        assert_eq!(ord(Es, "1º"), Some(1.0));
    }

    #[test]
    fn portuguese_numbers() {
        use EntityLanguage::Portuguese as Pt;
        assert_eq!(num(Pt, "vinte e cinco"), Some(25.0));
        assert_eq!(num(Pt, "cento e vinte"), Some(120.0));
        assert_eq!(num(Pt, "duzentos"), Some(200.0));
        assert_eq!(num(Pt, "três mil"), Some(3000.0));
        assert_eq!(ord(Pt, "segunda"), Some(2.0));
        assert_eq!(ord(Pt, "décimo"), Some(10.0));
    }

    #[test]
    fn italian_numbers() {
        use EntityLanguage::Italian as It;
        assert_eq!(num(It, "ventitré"), Some(23.0));
        assert_eq!(num(It, "ventuno"), Some(21.0));
        assert_eq!(num(It, "trentotto"), Some(38.0));
        assert_eq!(num(It, "duecentocinquanta"), Some(250.0));
        assert_eq!(num(It, "tremila"), Some(3000.0));
        assert_eq!(num(It, "mille"), Some(1000.0));
        assert_eq!(ord(It, "terzo"), Some(3.0));
        assert_eq!(ord(It, "ventesimo"), Some(20.0));
        assert_eq!(ord(It, "undicesima"), Some(11.0));
    }

    #[test]
    fn articles_are_marked() {
        let de = EntityLanguage::German.locale().expect("de");
        let (n, article) = number_at(de, &locale_tokens(&tokenize("eine Stunde")), 0).expect("eine");
        assert!(article && n.value == 1.0);
    }
}

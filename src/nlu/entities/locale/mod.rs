//! System entities of German, French, Spanish, Portuguese and Italian text:
//! numbers and ordinals (in digits with the language's separators or in
//! words, compounds like `fünfundzwanzig` and `ventitré` included), dates
//! (`übermorgen`, `el próximo lunes`, `14. März 2026`, `14/03`, `dans 3
//! jours`, `2 settimane fa`), times (`17 Uhr 30`, `17h30`, `a las 5 de la
//! tarde`), durations (`eine halbe Stunde`, `3 horas`), money (`20,50 €`,
//! `R$ 20`, `zwanzig Euro`) and percentages (`15 por ciento`).
//!
//! One generic extractor ([`patterns`]) reads word tables per language
//! ([`de`], [`fr`], [`es`], [`pt`], [`it`]); words are compared with their
//! diacritics folded (`proximo` = `próximo`), so the tables are written
//! without them. Emails, phone numbers and URLs have no language and are
//! extracted as for English. Resolved values are the English ones
//! (`docs/nlu.md`).

mod de;
mod es;
mod fr;
mod it;
pub mod numbers;
pub mod patterns;
mod pt;

use chrono::Weekday;

use super::text::Token;

/// The languages of the system entities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EntityLanguage {
    #[default]
    English,
    German,
    French,
    Spanish,
    Portuguese,
    Italian,
}

impl EntityLanguage {
    /// The entity language of a bot's language tag; English for every other
    /// language (and `auto`): its digit shapes, emails, phones and URLs
    /// still work, words are read as English.
    #[must_use]
    pub fn from_tag(tag: &str) -> EntityLanguage {
        match tag.split('-').next().unwrap_or_default().to_ascii_lowercase().as_str() {
            "de" => EntityLanguage::German,
            "fr" => EntityLanguage::French,
            "es" => EntityLanguage::Spanish,
            "pt" => EntityLanguage::Portuguese,
            "it" => EntityLanguage::Italian,
            _ => EntityLanguage::English,
        }
    }

    /// The word tables, `None` for English (its own extractor).
    #[must_use]
    pub fn locale(self) -> Option<&'static Locale> {
        match self {
            EntityLanguage::English => None,
            EntityLanguage::German => Some(&de::LOCALE),
            EntityLanguage::French => Some(&fr::LOCALE),
            EntityLanguage::Spanish => Some(&es::LOCALE),
            EntityLanguage::Portuguese => Some(&pt::LOCALE),
            EntityLanguage::Italian => Some(&it::LOCALE),
        }
    }
}

/// A piece of a number word.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    /// 0–19 (and whole words like `veintidos`).
    Unit(f64),
    /// 20, 30, … 90 (French `dix` is a unit).
    Tens(f64),
    /// Hundreds added as they are (`doscientos`, `cem`).
    Hundreds(f64),
    /// A multiplier: `hundert`, `cent`, `cento`, `mille`, `tausend`, `millones`.
    Scale(f64),
}

/// Several words in a row (`il y a`, `dentro de`), folded.
pub type Phrase = &'static [&'static str];

/// The word tables of one language (all folded: lower case, no diacritics).
pub struct Locale {
    /// Number words and the pieces compounds are made of.
    pub numbers: &'static [(&'static str, Num)],
    /// `und`, `et`, `y`, `e`: between the parts of a number.
    pub connector: &'static str,
    /// Whether the connector also joins pieces inside one word (German).
    pub connector_in_words: bool,
    /// Counting in twenties (French `quatre-vingt-dix`).
    pub vigesimal: bool,
    /// Indefinite articles that also mean "one": a number only before a
    /// unit, currency or scale (`eine Stunde`), not on their own.
    pub articles: &'static [&'static str],
    /// Ordinal words (`premier`, `tercero`); see [`numbers::ordinal_at`].
    pub ordinals: &'static [(&'static str, f64)],
    /// Endings of ordinals made from number words (`-ieme`, `-esimo`, `-st`).
    pub ordinal_suffixes: &'static [&'static str],
    /// Endings after digits that make an ordinal (`1er`, `3º`).
    pub digit_ordinal_suffixes: &'static [&'static str],
    /// Inflection endings stripped from ordinal words (`zweiten` → `zweit`).
    pub ordinal_inflections: &'static [&'static str],
    pub months: &'static [(&'static str, u32)],
    pub weekdays: &'static [(&'static str, Weekday)],
    /// Words after a weekday that belong to it (`feira` of `segunda-feira`).
    pub weekday_tail: &'static [&'static str],
    /// Weekdays that are a date only with a modifier or their tail
    /// (Portuguese `segunda` is also "second").
    pub weekday_needs_context: &'static [&'static str],
    /// Day offsets: `heute` 0, `apres demain` 2, `anteayer` -2.
    pub relative_days: &'static [(Phrase, i64)],
    /// Words before `morgen`/`manana` that make it "morning" (`guten morgen`).
    pub morning_markers: &'static [&'static str],
    /// The relative-day words that also mean "morning".
    pub morning_words: &'static [&'static str],
    /// Modifiers of a weekday or of week/month/year, before or after it.
    pub next_before: &'static [Phrase],
    pub next_after: &'static [Phrase],
    pub last_before: &'static [Phrase],
    pub last_after: &'static [Phrase],
    pub this_before: &'static [Phrase],
    /// Week, month and year words (`'W'`, `'N'`, `'Y'`).
    pub periods: &'static [(&'static str, char)],
    /// `in`/`dans`/`en`/`tra` before an amount of time: that far ahead.
    pub ahead_before: &'static [Phrase],
    /// `vor`/`il y a`/`hace`/`ha` before, `fa`/`atras` after: that far back.
    pub back_before: &'static [Phrase],
    pub back_after: &'static [Phrase],
    /// Duration units: word → (seconds, ISO unit letter as in `system`).
    pub units: &'static [(&'static str, f64, char)],
    /// `halbe`, `demi`, `media`, `meia`, `mezza`.
    pub half: &'static [&'static str],
    /// Words between a day and its month or year (`de`, `del`).
    pub date_glue: &'static [&'static str],
    /// `um`, `a`, `a las`, `as`, `alle`: before a time of day.
    pub at: &'static [Phrase],
    /// `uhr`, `h`, `heures`, `horas`, `ore`: after an hour.
    pub oclock: &'static [&'static str],
    /// Parts of the day after an hour that make it afternoon or evening.
    pub pm: &'static [Phrase],
    pub am: &'static [Phrase],
    pub noon: &'static [Phrase],
    pub midnight: &'static [Phrase],
    /// Currency words: word → (ISO code, factor).
    pub currencies: &'static [(&'static str, &'static str, f64)],
    /// `prozent`, `pour cent`, `por ciento`.
    pub percent: &'static [Phrase],
}

impl Locale {
    fn lookup<T: Copy>(table: &[(&str, T)], word: &str) -> Option<T> {
        table.iter().find(|(w, _)| *w == word).map(|(_, v)| *v)
    }

    #[must_use]
    pub fn month(&self, word: &str) -> Option<u32> {
        Locale::lookup(self.months, word)
    }

    #[must_use]
    pub fn weekday(&self, word: &str) -> Option<Weekday> {
        Locale::lookup(self.weekdays, word)
    }

    #[must_use]
    pub fn period(&self, word: &str) -> Option<char> {
        Locale::lookup(self.periods, word)
    }

    #[must_use]
    pub fn unit(&self, word: &str) -> Option<(f64, char)> {
        self.units.iter().find(|(w, _, _)| *w == word).map(|(_, s, u)| (*s, *u))
    }

    #[must_use]
    pub fn currency(&self, word: &str) -> Option<(&'static str, f64)> {
        self.currencies.iter().find(|(w, _, _)| *w == word).map(|(_, c, f)| (*c, *f))
    }
}

/// Lower case without diacritics (`Übermorgen` → `ubermorgen`, `ß` → `ss`).
#[must_use]
pub fn fold(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.chars().flat_map(char::to_lowercase) {
        match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => out.push('a'),
            'ç' => out.push('c'),
            'è' | 'é' | 'ê' | 'ë' => out.push('e'),
            'ì' | 'í' | 'î' | 'ï' => out.push('i'),
            'ñ' => out.push('n'),
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' => out.push('o'),
            'ù' | 'ú' | 'û' | 'ü' => out.push('u'),
            'ÿ' | 'ý' => out.push('y'),
            'ß' => out.push_str("ss"),
            'œ' => out.push_str("oe"),
            'æ' => out.push_str("ae"),
            '\u{2019}' => out.push('\''),
            other => out.push(other),
        }
    }
    out
}

/// Elided words that French and Italian write onto the next one with an
/// apostrophe (`l'année`, `un'ora`, `mezz'ora`, `dell'anno`).
const ELISIONS: [&str; 16] =
    ["l", "d", "j", "qu", "n", "s", "c", "m", "t", "un", "all", "dell", "nell", "dall", "sull", "mezz"];

/// The tokens of a text for the locale extractor: folded, with elided
/// words split off (`l'annee` → `l`, `annee`; `aujourd'hui` stays).
#[must_use]
pub fn locale_tokens(tokens: &[Token]) -> Vec<Token> {
    let mut out = Vec::with_capacity(tokens.len());
    for t in tokens {
        let folded = fold(&t.lower);
        if let Some((head, tail)) = folded.split_once('\'')
            && ELISIONS.contains(&head)
            && !tail.is_empty()
        {
            // Byte length of the head in the original token (folding may
            // change lengths, so count characters).
            let head_chars = head.chars().count();
            let original: Vec<(usize, char)> = t.lower.char_indices().collect();
            let (cut, _) = original.get(head_chars).copied().unwrap_or((t.lower.len(), ' '));
            let split = original.get(head_chars + 1).map_or(t.lower.len(), |(b, _)| *b);
            out.push(Token { lower: head.to_owned(), start: t.start, end: t.start + cut, joined: t.joined });
            out.push(Token { lower: tail.to_owned(), start: t.start + split, end: t.end, joined: true });
        } else {
            out.push(Token { lower: folded, start: t.start, end: t.end, joined: t.joined });
        }
    }
    out
}

/// Whether the words of `phrase` start at token `i` (each joined to the
/// one before); returns the index after the phrase.
#[must_use]
pub fn phrase_at(tokens: &[Token], i: usize, phrase: Phrase) -> Option<usize> {
    if phrase.is_empty() || i + phrase.len() > tokens.len() {
        return None;
    }
    let ok = phrase.iter().enumerate().all(|(k, w)| tokens[i + k].lower == *w && (k == 0 || tokens[i + k].joined));
    ok.then_some(i + phrase.len())
}

/// The longest of `phrases` starting at `i`.
#[must_use]
pub fn any_phrase_at(tokens: &[Token], i: usize, phrases: &[Phrase]) -> Option<usize> {
    phrases.iter().filter_map(|p| phrase_at(tokens, i, p)).max()
}

/// The first token of one of `phrases` ending right before token `i`
/// (`i` joined to it).
#[must_use]
pub fn any_phrase_before(tokens: &[Token], i: usize, phrases: &[Phrase]) -> Option<usize> {
    if !tokens.get(i).is_some_and(|t| t.joined) {
        return None;
    }
    phrases
        .iter()
        .filter(|p| p.len() <= i)
        .filter_map(|p| {
            let first = i - p.len();
            phrase_at(tokens, first, p).filter(|end| *end == i).map(|_| first)
        })
        .min()
}

#[cfg(test)]
mod tests {
    use super::super::text::tokenize;
    use super::*;

    #[test]
    fn folding_and_elisions() {
        assert_eq!(fold("Übermorgen"), "ubermorgen");
        assert_eq!(fold("dreißig"), "dreissig");
        assert_eq!(fold("PRÓXIMO"), "proximo");
        let text = "l'année prochaine, aujourd'hui, un'ora";
        let t = locale_tokens(&tokenize(text));
        let words: Vec<&str> = t.iter().map(|t| t.lower.as_str()).collect();
        assert_eq!(words, ["l", "annee", "prochaine", "aujourd'hui", "un", "ora"]);
        assert_eq!(&text[t[1].start..t[1].end], "année");
        assert_eq!(&text[t[4].start..t[4].end], "un");
        assert_eq!(&text[t[5].start..t[5].end], "ora");
    }

    #[test]
    fn languages_of_tags() {
        assert_eq!(EntityLanguage::from_tag("pt-BR"), EntityLanguage::Portuguese);
        assert_eq!(EntityLanguage::from_tag("de"), EntityLanguage::German);
        assert_eq!(EntityLanguage::from_tag("auto"), EntityLanguage::English);
        assert_eq!(EntityLanguage::from_tag("ja"), EntityLanguage::English);
    }
}

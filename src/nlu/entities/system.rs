//! System entities with resolved values (English here; German, French,
//! Spanish, Portuguese and Italian words in [`super::locale`]): number, ordinal,
//! date, time, duration, email, phone, url, money and percentage.
//!
//! Rule-based, in two passes: regular expressions over the raw text for
//! shapes with symbols (`12:30`, `$20`, `15%`, `2025-03-14`, emails, URLs,
//! phone numbers) and patterns over word tokens for everything said in
//! words (`twenty five`, `next friday`, `in three days`, `half an hour`).
//! Dates and times resolve against a reference instant in an IANA time zone.
//!
//! Resolved values (also in `docs/nlu.md`):
//! number → number; ordinal → integer; percentage → number (`15` for 15 %);
//! date → `"YYYY-MM-DD"`; time → `"HH:MM:SS"` (time of day);
//! duration → `{"iso8601": "PT1H30M", "seconds": 5400}`;
//! money → `{"amount": 20.5, "currency": "USD"}`; email → lower-cased
//! address; phone → digits with a leading `+` when given; url → the URL.

#![allow(
    clippy::cast_precision_loss,
    clippy::many_single_char_names,
    clippy::similar_names,
    clippy::float_cmp,
    reason = "numeric code: counts become ratios, short names follow the formulas, exact float compares are on stored values"
)]

use std::sync::LazyLock;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Timelike, Weekday};
use chrono_tz::Tz;
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::locale::EntityLanguage;
use super::numbers::{NumberSpan, digits, number_at, ordinal_at};
use super::text::Token;

/// The kinds of system entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SystemKind {
    Number,
    Ordinal,
    Date,
    Time,
    Duration,
    Email,
    Phone,
    Url,
    Money,
    Percentage,
}

impl SystemKind {
    pub const ALL: [SystemKind; 10] = [
        SystemKind::Number,
        SystemKind::Ordinal,
        SystemKind::Date,
        SystemKind::Time,
        SystemKind::Duration,
        SystemKind::Email,
        SystemKind::Phone,
        SystemKind::Url,
        SystemKind::Money,
        SystemKind::Percentage,
    ];

    /// The wire name (`number`, `date`, …), as in `entities.system_type`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            SystemKind::Number => "number",
            SystemKind::Ordinal => "ordinal",
            SystemKind::Date => "date",
            SystemKind::Time => "time",
            SystemKind::Duration => "duration",
            SystemKind::Email => "email",
            SystemKind::Phone => "phone",
            SystemKind::Url => "url",
            SystemKind::Money => "money",
            SystemKind::Percentage => "percentage",
        }
    }

    /// Parses a wire name.
    #[must_use]
    pub fn parse(s: &str) -> Option<SystemKind> {
        SystemKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Which of two same-span readings wins (higher first).
    fn priority(self) -> u8 {
        match self {
            SystemKind::Email => 10,
            SystemKind::Url => 9,
            SystemKind::Money => 8,
            SystemKind::Percentage => 7,
            SystemKind::Date => 6,
            SystemKind::Time => 5,
            SystemKind::Duration => 4,
            SystemKind::Phone => 3,
            SystemKind::Ordinal => 2,
            SystemKind::Number => 1,
        }
    }
}

/// One system entity found in a text (byte offsets).
#[derive(Debug, Clone, PartialEq)]
pub struct SystemMatch {
    pub kind: SystemKind,
    pub start: usize,
    pub end: usize,
    pub resolved: Value,
}

/// The instant dates and times are relative to, in the user's time zone.
#[derive(Debug, Clone, Copy)]
pub struct Reference {
    pub now: DateTime<Tz>,
}

impl Reference {
    #[must_use]
    pub fn new(now: DateTime<Tz>) -> Reference {
        Reference { now }
    }

    pub(super) fn today(&self) -> NaiveDate {
        self.now.date_naive()
    }
}

pub(super) fn re(pattern: &str) -> Regex {
    // The patterns are constants; a typo fails every test that extracts.
    Regex::new(pattern).unwrap_or_else(|e| panic!("invalid built-in pattern {pattern}: {e}"))
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)\b[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b"));
static URL: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:https?://[^\s<>]+|www\.[a-z0-9-]+(?:\.[a-z0-9-]+)+[^\s<>]*|[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|io|dev|app|co|edu|gov|info|biz|ai|me|ly|uk|de|fr|es|it|nl|eu|az|ru|us|ca)\b(?:/[^\s<>]*)?)",
    )
});
static PHONE: LazyLock<Regex> = LazyLock::new(|| re(r"(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d[\d\s.-]{5,}\d"));
static ISO_DATE: LazyLock<Regex> = LazyLock::new(|| re(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b"));
static SLASH_DATE: LazyLock<Regex> = LazyLock::new(|| re(r"\b(\d{1,2})[/.](\d{1,2})(?:[/.](\d{4}|\d{2}))?\b"));
static CLOCK: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s*(a\.m\.|p\.m\.|am|pm)(?:\b|$))?|\b(\d{1,2})\s*(a\.m\.|p\.m\.|am|pm)(?:\b|$)|\b(\d{1,2})\s*o'?clock\b",
    )
});
static MONEY_SYMBOL: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"([$€£¥₼₹])\s?(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?:\s?(k|m|bn)\b)?|(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)\s?([$€£¥₼₹])",
    )
});
static PERCENT: LazyLock<Regex> = LazyLock::new(|| re(r"(\d+(?:\.\d+)?)\s?%"));

/// Every system entity of the given kinds in English `text`, overlapping
/// readings included (the caller picks; see [`resolve_overlaps`]).
#[must_use]
pub fn extract(text: &str, tokens: &[Token], kinds: &[SystemKind], reference: &Reference) -> Vec<SystemMatch> {
    extract_in(EntityLanguage::English, text, tokens, kinds, reference)
}

/// Every system entity of the given kinds in `text` written in `language`:
/// emails, URLs and phones as in any language, the rest by the language's
/// words and number formats ([`super::locale`]).
#[must_use]
pub fn extract_in(
    language: EntityLanguage,
    text: &str,
    tokens: &[Token],
    kinds: &[SystemKind],
    reference: &Reference,
) -> Vec<SystemMatch> {
    let want = |k: SystemKind| kinds.contains(&k);
    let mut out = Vec::new();
    if want(SystemKind::Email) {
        for m in EMAIL.find_iter(text) {
            out.push(SystemMatch {
                kind: SystemKind::Email,
                start: m.start(),
                end: m.end(),
                resolved: json!(m.as_str().to_lowercase()),
            });
        }
    }
    if want(SystemKind::Url) {
        for m in URL.find_iter(text) {
            let trimmed = m.as_str().trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '\'', '"']);
            // An email's domain is not a URL on its own.
            if text[..m.start()].ends_with('@') || trimmed.contains('@') {
                continue;
            }
            out.push(SystemMatch {
                kind: SystemKind::Url,
                start: m.start(),
                end: m.start() + trimmed.len(),
                resolved: json!(trimmed),
            });
        }
    }
    if want(SystemKind::Phone) {
        for m in PHONE.find_iter(text) {
            let s = m.as_str().trim_end();
            let digits: String = s.chars().filter(char::is_ascii_digit).collect();
            let bounded = !text[..m.start()].ends_with(|c: char| c.is_alphanumeric())
                && !text[m.start() + s.len()..].starts_with(|c: char| c.is_alphanumeric());
            if (7..=15).contains(&digits.len()) && bounded && !s.contains(". ") {
                let resolved = if s.starts_with('+') { format!("+{digits}") } else { digits };
                out.push(SystemMatch {
                    kind: SystemKind::Phone,
                    start: m.start(),
                    end: m.start() + s.len(),
                    resolved: json!(resolved),
                });
            }
        }
    }
    if let Some(locale) = language.locale() {
        if want(SystemKind::Date) {
            iso_dates(text, &mut out);
        }
        super::locale::patterns::extract(locale, text, tokens, kinds, reference, &mut out);
        return out;
    }
    if want(SystemKind::Percentage) {
        for c in PERCENT.captures_iter(text) {
            if let (Some(all), Some(v)) = (c.get(0), c.get(1).and_then(|m| m.as_str().parse::<f64>().ok())) {
                out.push(SystemMatch {
                    kind: SystemKind::Percentage,
                    start: all.start(),
                    end: all.end(),
                    resolved: num(v),
                });
            }
        }
    }
    if want(SystemKind::Money) {
        for c in MONEY_SYMBOL.captures_iter(text) {
            let Some(all) = c.get(0) else { continue };
            let (symbol, amount, mult) = match (c.get(1), c.get(2), c.get(4), c.get(5)) {
                (Some(s), Some(a), _, _) => (s.as_str(), a.as_str(), c.get(3).map(|m| m.as_str())),
                (_, _, Some(a), Some(s)) => (s.as_str(), a.as_str(), None),
                _ => continue,
            };
            let Some(mut amount) = digits(amount) else { continue };
            amount *= match mult.map(str::to_lowercase).as_deref() {
                Some("k") => 1e3,
                Some("m") => 1e6,
                Some("bn") => 1e9,
                _ => 1.0,
            };
            out.push(SystemMatch {
                kind: SystemKind::Money,
                start: all.start(),
                end: all.end(),
                resolved: money(amount, symbol_currency(symbol)),
            });
        }
    }
    if want(SystemKind::Date) {
        numeric_dates(text, reference, &mut out);
    }
    if want(SystemKind::Time) {
        clock_times(text, &mut out);
    }
    token_entities(tokens, kinds, reference, &mut out);
    out
}

/// Keeps the longest readings: a match inside or overlapping a longer one is
/// dropped (`5` inside `5 pm`, `3 days` inside `in 3 days`); on equal spans
/// the more specific kind wins. Sorted by position.
#[must_use]
pub fn resolve_overlaps(mut matches: Vec<SystemMatch>) -> Vec<SystemMatch> {
    matches.sort_by(|a, b| {
        (b.end - b.start)
            .cmp(&(a.end - a.start))
            .then(b.kind.priority().cmp(&a.kind.priority()))
            .then(a.start.cmp(&b.start))
    });
    let mut kept: Vec<SystemMatch> = Vec::new();
    for m in matches {
        if kept.iter().all(|k| m.end <= k.start || m.start >= k.end) {
            kept.push(m);
        }
    }
    kept.sort_by_key(|m| m.start);
    kept
}

pub(super) fn num(v: f64) -> Value {
    #[allow(clippy::cast_possible_truncation, reason = "only integral values within i64 range take this branch")]
    if v.fract() == 0.0 && v.abs() < 9e15 { json!(v as i64) } else { json!(v) }
}

pub(super) fn money(amount: f64, currency: &str) -> Value {
    json!({ "amount": num((amount * 100.0).round() / 100.0), "currency": currency })
}

pub(super) fn symbol_currency(symbol: &str) -> &'static str {
    match symbol {
        "€" => "EUR",
        "£" => "GBP",
        "¥" => "JPY",
        "₼" => "AZN",
        "₹" => "INR",
        _ => "USD",
    }
}

fn currency_word(w: &str) -> Option<(&'static str, f64)> {
    Some(match w {
        "dollar" | "dollars" | "bucks" | "buck" | "usd" => ("USD", 1.0),
        "cent" | "cents" => ("USD", 0.01),
        "euro" | "euros" | "eur" => ("EUR", 1.0),
        "pound" | "pounds" | "gbp" | "quid" => ("GBP", 1.0),
        "yen" | "jpy" => ("JPY", 1.0),
        "yuan" | "cny" | "rmb" => ("CNY", 1.0),
        "rupee" | "rupees" | "inr" => ("INR", 1.0),
        "manat" | "manats" | "azn" => ("AZN", 1.0),
        "franc" | "francs" | "chf" => ("CHF", 1.0),
        "ruble" | "rubles" | "rub" => ("RUB", 1.0),
        "lira" | "try" => ("TRY", 1.0),
        "cad" => ("CAD", 1.0),
        "aud" => ("AUD", 1.0),
        _ => return None,
    })
}

fn month(w: &str) -> Option<u32> {
    Some(match w {
        "january" | "jan" => 1,
        "february" | "feb" => 2,
        "march" | "mar" => 3,
        "april" | "apr" => 4,
        "may" => 5,
        "june" | "jun" => 6,
        "july" | "jul" => 7,
        "august" | "aug" => 8,
        "september" | "sep" | "sept" => 9,
        "october" | "oct" => 10,
        "november" | "nov" => 11,
        "december" | "dec" => 12,
        _ => return None,
    })
}

fn weekday(w: &str) -> Option<Weekday> {
    Some(match w {
        "monday" | "mon" => Weekday::Mon,
        "tuesday" | "tue" | "tues" => Weekday::Tue,
        "wednesday" | "wed" => Weekday::Wed,
        "thursday" | "thu" | "thur" | "thurs" => Weekday::Thu,
        "friday" | "fri" => Weekday::Fri,
        "saturday" | "sat" => Weekday::Sat,
        "sunday" | "sun" => Weekday::Sun,
        _ => return None,
    })
}

/// Seconds per unit word, and whether the unit is calendar-based (days or longer).
fn duration_unit(w: &str) -> Option<(f64, char)> {
    Some(match w {
        "second" | "seconds" | "sec" | "secs" | "s" => (1.0, 'S'),
        "minute" | "minutes" | "min" | "mins" | "m" => (60.0, 'M'),
        "hour" | "hours" | "hr" | "hrs" | "h" => (3600.0, 'H'),
        "day" | "days" => (86_400.0, 'D'),
        "week" | "weeks" | "wk" | "wks" => (604_800.0, 'W'),
        "fortnight" | "fortnights" => (1_209_600.0, 'F'),
        "month" | "months" | "mo" => (2_592_000.0, 'N'),
        "year" | "years" | "yr" | "yrs" => (31_536_000.0, 'Y'),
        _ => return None,
    })
}

pub(super) fn duration_value(amount: f64, unit: char, unit_seconds: f64) -> Value {
    let seconds = amount * unit_seconds;
    let amount_text = match num(amount) {
        Value::Number(n) => n.to_string(),
        _ => amount.to_string(),
    };
    let iso = match unit {
        'S' => format!("PT{amount_text}S"),
        'M' => format!("PT{amount_text}M"),
        'H' => format!("PT{amount_text}H"),
        'D' => format!("P{amount_text}D"),
        'W' => format!("P{amount_text}W"),
        'F' => format!("P{}W", num(amount * 2.0)),
        'N' => format!("P{amount_text}M"),
        _ => format!("P{amount_text}Y"),
    };
    json!({ "iso8601": iso, "seconds": num(seconds) })
}

pub(super) fn date_value(d: NaiveDate) -> Value {
    json!(d.format("%Y-%m-%d").to_string())
}

pub(super) fn time_value(t: NaiveTime) -> Value {
    json!(t.format("%H:%M:%S").to_string())
}

pub(super) fn add_months(d: NaiveDate, months: i32) -> Option<NaiveDate> {
    let total = d.year() * 12 + i32::try_from(d.month0()).ok()? + months;
    let (y, m) = (total.div_euclid(12), u32::try_from(total.rem_euclid(12)).ok()? + 1);
    let mut day = d.day();
    loop {
        if let Some(nd) = NaiveDate::from_ymd_opt(y, m, day) {
            return Some(nd);
        }
        day = day.checked_sub(1)?;
    }
}

/// A month/day without a year: this year's if not past, else next year's.
pub(super) fn upcoming(reference: &Reference, m: u32, d: u32) -> Option<NaiveDate> {
    let today = reference.today();
    let this_year = NaiveDate::from_ymd_opt(today.year(), m, d)?;
    if this_year >= today { Some(this_year) } else { NaiveDate::from_ymd_opt(today.year() + 1, m, d) }
}

pub(super) fn full_year(y: i32) -> i32 {
    if y < 100 { 2000 + y } else { y }
}

fn numeric_dates(text: &str, reference: &Reference, out: &mut Vec<SystemMatch>) {
    iso_dates(text, out);
    slash_dates(text, reference, out);
}

/// `2026-03-14`, in every language.
fn iso_dates(text: &str, out: &mut Vec<SystemMatch>) {
    for c in ISO_DATE.captures_iter(text) {
        let parts: Option<(i32, u32, u32)> = (|| {
            Some((c.get(1)?.as_str().parse().ok()?, c.get(2)?.as_str().parse().ok()?, c.get(3)?.as_str().parse().ok()?))
        })();
        if let (Some(all), Some((y, m, d))) = (c.get(0), parts)
            && let Some(date) = NaiveDate::from_ymd_opt(y, m, d)
        {
            out.push(SystemMatch {
                kind: SystemKind::Date,
                start: all.start(),
                end: all.end(),
                resolved: date_value(date),
            });
        }
    }
}

/// `3/14`, `12/25/2026`: month first, as in US English.
fn slash_dates(text: &str, reference: &Reference, out: &mut Vec<SystemMatch>) {
    for c in SLASH_DATE.captures_iter(text) {
        let Some(all) = c.get(0) else { continue };
        // `3.5` is a number, not the 5th of March: dots need a year.
        if all.as_str().contains('.') && c.get(3).is_none() {
            continue;
        }
        let a: u32 = c.get(1).and_then(|m| m.as_str().parse().ok()).unwrap_or(0);
        let b: u32 = c.get(2).and_then(|m| m.as_str().parse().ok()).unwrap_or(0);
        // Month first (US English) unless the first part cannot be a month.
        let (m, d) = if a > 12 { (b, a) } else { (a, b) };
        let date = match c.get(3).and_then(|y| y.as_str().parse::<i32>().ok()) {
            Some(y) => NaiveDate::from_ymd_opt(full_year(y), m, d),
            None => upcoming(reference, m, d),
        };
        if let Some(date) = date {
            out.push(SystemMatch {
                kind: SystemKind::Date,
                start: all.start(),
                end: all.end(),
                resolved: date_value(date),
            });
        }
    }
}

fn clock_times(text: &str, out: &mut Vec<SystemMatch>) {
    for c in CLOCK.captures_iter(text) {
        let Some(all) = c.get(0) else { continue };
        let get = |i: usize| c.get(i).and_then(|m| m.as_str().parse::<u32>().ok());
        let (h, m, s, meridiem) = if let Some(h) = get(1) {
            (h, get(2).unwrap_or(0), get(3).unwrap_or(0), c.get(4).map(|m| m.as_str().to_lowercase()))
        } else if let Some(h) = get(5) {
            (h, 0, 0, c.get(6).map(|m| m.as_str().to_lowercase()))
        } else if let Some(h) = get(7) {
            (h, 0, 0, None)
        } else {
            continue;
        };
        let Some(hour) = apply_meridiem(h, meridiem.as_deref()) else { continue };
        if let Some(t) = NaiveTime::from_hms_opt(hour, m, s) {
            out.push(SystemMatch {
                kind: SystemKind::Time,
                start: all.start(),
                end: all.end(),
                resolved: time_value(t),
            });
        }
    }
}

pub(super) fn apply_meridiem(h: u32, meridiem: Option<&str>) -> Option<u32> {
    match meridiem.map(|m| m.replace('.', "")) {
        Some(m) if m == "pm" => (1..=12).contains(&h).then_some(if h == 12 { 12 } else { h + 12 }),
        Some(_) => (1..=12).contains(&h).then_some(if h == 12 { 0 } else { h }),
        None => (h < 24).then_some(h),
    }
}

/// Patterns over word tokens.
#[allow(clippy::too_many_lines, reason = "one table of token patterns reads best in one place")]
fn token_entities(tokens: &[Token], kinds: &[SystemKind], reference: &Reference, out: &mut Vec<SystemMatch>) {
    let want = |k: SystemKind| kinds.contains(&k);
    let word = |i: usize| tokens.get(i).map_or("", |t| t.lower.as_str());
    let joined = |i: usize| tokens.get(i).is_some_and(|t| t.joined);
    let span = |kind: SystemKind, first: usize, last: usize, resolved: Value| -> Option<SystemMatch> {
        let (a, b) = (tokens.get(first)?, tokens.get(last.checked_sub(1)?)?);
        Some(SystemMatch { kind, start: a.start, end: b.end, resolved })
    };
    let today = reference.today();
    for i in 0..tokens.len() {
        let w = word(i);
        let number = number_at(tokens, i);
        // Numbers and ordinals.
        if want(SystemKind::Number)
            && let Some(n) = number
        {
            out.extend(span(SystemKind::Number, n.first, n.last, num(n.value)));
        }
        let ordinal = ordinal_at(tokens, i);
        if want(SystemKind::Ordinal)
            && let Some(o) = ordinal
            && !(o.words
                && o.value == 2.0
                && w == "second"
                && duration_unit(word(i + 1)).is_none()
                && i > 0
                && number_at(tokens, i - 1).is_some())
        {
            out.extend(span(SystemKind::Ordinal, o.first, o.last, num(o.value)));
        }
        // Percentages in words: `fifteen percent`, `15 per cent`.
        if want(SystemKind::Percentage)
            && let Some(n) = number
        {
            let k = n.last;
            if joined(k) && matches!(word(k), "percent" | "pct" | "percentage") {
                out.extend(span(SystemKind::Percentage, i, k + 1, num(n.value)));
            } else if joined(k) && word(k) == "per" && joined(k + 1) && word(k + 1) == "cent" {
                out.extend(span(SystemKind::Percentage, i, k + 2, num(n.value)));
            }
        }
        // Money in words: `20 dollars`, `twenty euros`, `usd 20`.
        if want(SystemKind::Money) {
            if let Some(n) = number
                && joined(n.last)
                && let Some((currency, factor)) = currency_word(word(n.last))
            {
                out.extend(span(SystemKind::Money, i, n.last + 1, money(n.value * factor, currency)));
            }
            if let Some((currency, 1.0)) = currency_word(w)
                && w.len() == 3
                && let Some(n) = number_at(tokens, i + 1)
                && joined(i + 1)
            {
                out.extend(span(SystemKind::Money, i, n.last, money(n.value, currency)));
            }
        }
        // Durations: `3 hours`, `two weeks`, `an hour`, `half an hour`, `90min`.
        if want(SystemKind::Duration) || want(SystemKind::Date) || want(SystemKind::Time) {
            let amount: Option<(usize, f64)> = if w == "half" && matches!(word(i + 1), "a" | "an") {
                Some((i + 2, 0.5))
            } else if matches!(w, "a" | "an")
                && duration_unit(word(i + 1)).is_some()
                && !matches!(word(i + 1), "m" | "s" | "h")
            {
                Some((i + 1, 1.0))
            } else {
                number.map(|n| (n.last, n.value))
            };
            if let Some((k, value)) = amount
                && joined(k)
                && let Some((secs, unit)) = duration_unit(word(k))
                && !(value.fract() != 0.0 && matches!(unit, 'N' | 'Y' | 'W' | 'F' | 'D'))
                && !(matches!(word(k), "m" | "s" | "h")
                    && tokens.get(k).is_some_and(|t| t.start != tokens.get(k - 1).map_or(0, |p| p.end)))
            {
                if want(SystemKind::Duration) {
                    out.extend(span(SystemKind::Duration, i, k + 1, duration_value(value, unit, secs)));
                }
                // `in 3 days` / `3 days from now` / `3 days ago` are dates;
                // `in 2 hours` is a time.
                let before_in = i > 0 && word(i - 1) == "in";
                let after = (word(k + 1), word(k + 2));
                let (from_now, ago) = (
                    matches!(after, ("from", "now" | "today")) || after.0 == "later",
                    after.0 == "ago" || after.0 == "earlier",
                );
                let direction = if before_in || from_now {
                    1.0
                } else if ago {
                    -1.0
                } else {
                    0.0
                };
                if direction != 0.0 {
                    let (first, last) = if before_in {
                        (i - 1, k + 1)
                    } else if from_now && after.0 != "later" {
                        (i, k + 3)
                    } else {
                        (i, k + 2)
                    };
                    #[allow(clippy::cast_possible_truncation, reason = "whole calendar units, bounded by the text")]
                    let whole = (value * direction) as i64;
                    let date = match unit {
                        'D' => today.checked_add_signed(Duration::days(whole)),
                        'W' => today.checked_add_signed(Duration::weeks(whole)),
                        'F' => today.checked_add_signed(Duration::weeks(2 * whole)),
                        'N' => add_months(today, i32::try_from(whole).unwrap_or(0)),
                        'Y' => add_months(today, i32::try_from(whole * 12).unwrap_or(0)),
                        _ => None,
                    };
                    if let Some(d) = date
                        && want(SystemKind::Date)
                    {
                        out.extend(span(SystemKind::Date, first, last, date_value(d)));
                    } else if date.is_none() && want(SystemKind::Time) {
                        #[allow(clippy::cast_possible_truncation, reason = "seconds of a spoken duration")]
                        let delta = Duration::seconds((value * secs * direction) as i64);
                        if let Some(t) = reference.now.checked_add_signed(delta) {
                            out.extend(span(
                                SystemKind::Time,
                                first,
                                last,
                                time_value(t.time().with_nanosecond(0).unwrap_or(t.time())),
                            ));
                        }
                    }
                }
            }
            // Compact `90min`, `2h`, `30s`.
            if want(SystemKind::Duration) && number.is_none() {
                let split = w.find(|c: char| !c.is_ascii_digit() && c != '.');
                if let Some(at) = split
                    && at > 0
                    && let (Some(v), Some((secs, unit))) = (digits(&w[..at]), duration_unit(&w[at..]))
                {
                    out.extend(span(SystemKind::Duration, i, i + 1, duration_value(v, unit, secs)));
                }
            }
        }
        if want(SystemKind::Date) {
            token_dates(tokens, i, number, ordinal, reference, &span, out);
        }
        if want(SystemKind::Time) {
            token_times(tokens, i, number, &span, out);
        }
    }
}

type SpanFn<'a> = dyn Fn(SystemKind, usize, usize, Value) -> Option<SystemMatch> + 'a;

fn token_dates(
    tokens: &[Token],
    i: usize,
    number: Option<NumberSpan>,
    ordinal: Option<NumberSpan>,
    reference: &Reference,
    span: &SpanFn<'_>,
    out: &mut Vec<SystemMatch>,
) {
    let word = |i: usize| tokens.get(i).map_or("", |t| t.lower.as_str());
    let joined = |i: usize| tokens.get(i).is_some_and(|t| t.joined);
    let today = reference.today();
    let day = |d: i64| today.checked_add_signed(Duration::days(d));
    let mut push = |first: usize, last: usize, d: Option<NaiveDate>| {
        if let Some(d) = d {
            out.extend(span(SystemKind::Date, first, last, date_value(d)));
        }
    };
    let w = word(i);
    match w {
        "today" | "tonight" => push(i, i + 1, Some(today)),
        "tomorrow" | "tmrw" | "tmr" => push(i, i + 1, day(1)),
        "yesterday" => push(i, i + 1, day(-1)),
        "day" if word(i + 1) == "after" && word(i + 2) == "tomorrow" => {
            let first = if i > 0 && word(i - 1) == "the" { i - 1 } else { i };
            push(first, i + 3, day(2));
        }
        "day" if word(i + 1) == "before" && word(i + 2) == "yesterday" => {
            let first = if i > 0 && word(i - 1) == "the" { i - 1 } else { i };
            push(first, i + 3, day(-2));
        }
        _ => {}
    }
    // Weekdays, with `this`/`next`/`last`/`coming` before them.
    if let Some(wd) = weekday(w) {
        let modifier = if i > 0 && joined(i) { word(i - 1) } else { "" };
        let offset_to = |target: Weekday| -> i64 {
            i64::from((7 + target.num_days_from_monday() - today.weekday().num_days_from_monday()) % 7)
        };
        let ahead = offset_to(wd);
        let (first, delta) = match modifier {
            "next" => (i - 1, if ahead == 0 { 7 } else { ahead }),
            "last" | "past" => (i - 1, if ahead == 0 { -7 } else { ahead - 7 }),
            "this" | "coming" => (i - 1, ahead),
            _ => (i, ahead),
        };
        push(first, i + 1, day(delta));
    }
    // `next week`, `last month`, `next year`.
    if matches!(w, "next" | "last") && joined(i + 1) {
        let sign: i32 = if w == "next" { 1 } else { -1 };
        match word(i + 1) {
            "week" => push(i, i + 2, day(7 * i64::from(sign))),
            "month" => push(i, i + 2, add_months(today, sign)),
            "year" => push(i, i + 2, add_months(today, 12 * sign)),
            _ => {}
        }
    }
    // Month name then day: `march 14`, `march 14th, 2026`.
    if let Some(m) = month(w)
        && (!matches!(w, "may" | "march") || next_is_day(tokens, i + 1))
        && let Some(d) = day_at(tokens, i + 1)
        && joined(i + 1)
    {
        let (year, last) = year_after(tokens, d.last);
        let date = match year {
            Some(y) => NaiveDate::from_ymd_opt(y, m, day_number(d)),
            None => upcoming(reference, m, day_number(d)),
        };
        push(i, last, date);
    }
    // Day then month: `14 march`, `14th of march 2026`, `the 3rd of may`.
    let day_first = ordinal.filter(|o| !o.words || o.value <= 31.0).or(number.filter(|n| !n.words));
    if let Some(d) = day_first
        && (1.0..=31.0).contains(&d.value)
    {
        let mut k = d.last;
        if word(k) == "of" && joined(k) {
            k += 1;
        }
        if let Some(m) = month(word(k))
            && joined(k)
        {
            let first = if i > 0 && word(i - 1) == "the" && joined(i) { i - 1 } else { i };
            let (year, last) = year_after(tokens, k + 1);
            let date = match year {
                Some(y) => NaiveDate::from_ymd_opt(y, m, day_number(d)),
                None => upcoming(reference, m, day_number(d)),
            };
            push(first, last, date);
        }
    }
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "checked to be 1..=31")]
fn day_number(d: NumberSpan) -> u32 {
    d.value as u32
}

fn day_at(tokens: &[Token], i: usize) -> Option<NumberSpan> {
    let d = ordinal_at(tokens, i).or_else(|| number_at(tokens, i).filter(|n| !n.words))?;
    ((1.0..=31.0).contains(&d.value) && d.value.fract() == 0.0).then_some(d)
}

fn next_is_day(tokens: &[Token], i: usize) -> bool {
    day_at(tokens, i).is_some()
}

/// An optional 4-digit year after a date: returns it and the end token.
fn year_after(tokens: &[Token], k: usize) -> (Option<i32>, usize) {
    match tokens.get(k) {
        Some(t) if t.lower.len() == 4 && t.lower.chars().all(|c| c.is_ascii_digit()) => (t.lower.parse().ok(), k + 1),
        _ => (None, k),
    }
}

fn token_times(tokens: &[Token], i: usize, number: Option<NumberSpan>, span: &SpanFn<'_>, out: &mut Vec<SystemMatch>) {
    let word = |i: usize| tokens.get(i).map_or("", |t| t.lower.as_str());
    let joined = |i: usize| tokens.get(i).is_some_and(|t| t.joined);
    let mut push = |first: usize, last: usize, h: u32, m: u32| {
        if let Some(t) = NaiveTime::from_hms_opt(h, m, 0) {
            out.extend(span(SystemKind::Time, first, last, time_value(t)));
        }
    };
    let w = word(i);
    match w {
        "noon" | "midday" => push(i, i + 1, 12, 0),
        "midnight" => push(i, i + 1, 0, 0),
        _ => {}
    }
    // `five pm`, `seven o'clock` (digits are handled by the regex).
    if let Some(n) = number.filter(|n| n.words && n.value.fract() == 0.0 && (0.0..=12.0).contains(&n.value)) {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "0..=12")]
        let h = n.value as u32;
        let next = word(n.last);
        if joined(n.last) && matches!(next, "am" | "pm") {
            if let Some(hour) = apply_meridiem(h, Some(next)) {
                push(i, n.last + 1, hour, 0);
            }
        } else if joined(n.last) && matches!(next, "o'clock" | "oclock") {
            push(i, n.last + 1, h, 0);
        }
    }
    // `at 5`, `at seven`: an hour alone after `at`; 1–7 read as afternoon/evening.
    if w == "at"
        && let Some(n) = number_at(tokens, i + 1)
        && joined(i + 1)
        && n.value.fract() == 0.0
        && (1.0..=12.0).contains(&n.value)
        && !matches!(word(n.last), "am" | "pm" | "o'clock" | "oclock" | "percent")
        && duration_unit(word(n.last)).is_none()
        && currency_word(word(n.last)).is_none()
        && !tokens.get(n.last).is_some_and(|t| {
            t.start == tokens.get(n.last - 1).map_or(0, |p| p.end) + 1 && t.lower.chars().all(|c| c.is_ascii_digit())
        })
    {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "1..=12")]
        let h = n.value as u32;
        push(i + 1, n.last, if h <= 7 { h + 12 } else { h }, 0);
    }
    // `half past five`, `quarter to six`.
    if matches!(w, "half" | "quarter")
        && matches!(word(i + 1), "past" | "to" | "after")
        && let Some(n) = number_at(tokens, i + 2)
        && n.value.fract() == 0.0
        && (1.0..=12.0).contains(&n.value)
    {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "1..=12")]
        let h = n.value as u32;
        let minutes = if w == "half" { 30 } else { 15 };
        if word(i + 1) == "to" {
            push(i, n.last, (h + 11) % 12 + if h <= 6 { 12 } else { 0 }, 60 - minutes);
        } else {
            push(i, n.last, if h <= 6 { h + 12 } else { h }, minutes);
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::super::text::tokenize;
    use super::*;

    fn reference() -> Reference {
        // Friday 2025-03-14 10:00 in Berlin.
        let tz: Tz = "Europe/Berlin".parse().expect("tz");
        Reference::new(tz.with_ymd_and_hms(2025, 3, 14, 10, 0, 0).single().expect("time"))
    }

    fn find(text: &str) -> Vec<(SystemKind, String, Value)> {
        let tokens = tokenize(text);
        resolve_overlaps(extract(text, &tokens, &SystemKind::ALL, &reference()))
            .into_iter()
            .map(|m| (m.kind, text[m.start..m.end].to_owned(), m.resolved))
            .collect()
    }

    fn one(text: &str, kind: SystemKind) -> (String, Value) {
        let all = find(text);
        let hit = all.iter().find(|(k, _, _)| *k == kind).unwrap_or_else(|| panic!("no {kind:?} in {text:?}: {all:?}"));
        (hit.1.clone(), hit.2.clone())
    }

    #[test]
    fn numbers_and_ordinals() {
        assert_eq!(one("I want twenty five apples", SystemKind::Number), ("twenty five".into(), json!(25)));
        assert_eq!(one("about 1,250.5 units", SystemKind::Number), ("1,250.5".into(), json!(1250.5)));
        assert_eq!(one("the third one", SystemKind::Ordinal), ("third".into(), json!(3)));
        assert_eq!(one("the 21st floor", SystemKind::Ordinal), ("21st".into(), json!(21)));
    }

    #[test]
    fn dates_relative_to_the_reference() {
        assert_eq!(one("book it for tomorrow", SystemKind::Date).1, json!("2025-03-15"));
        assert_eq!(one("what about next monday", SystemKind::Date), ("next monday".into(), json!("2025-03-17")));
        assert_eq!(one("on friday", SystemKind::Date).1, json!("2025-03-14"));
        assert_eq!(one("in 3 days", SystemKind::Date), ("in 3 days".into(), json!("2025-03-17")));
        assert_eq!(one("two weeks ago", SystemKind::Date).1, json!("2025-02-28"));
        assert_eq!(one("on march 20th", SystemKind::Date), ("march 20th".into(), json!("2025-03-20")));
        assert_eq!(one("on the 2nd of january", SystemKind::Date).1, json!("2026-01-02"));
        assert_eq!(one("5 may 2024", SystemKind::Date).1, json!("2024-05-05"));
        assert_eq!(one("due 2025-12-01", SystemKind::Date).1, json!("2025-12-01"));
        assert_eq!(one("due 12/25", SystemKind::Date).1, json!("2025-12-25"));
        assert_eq!(one("the day after tomorrow", SystemKind::Date).1, json!("2025-03-16"));
        assert_eq!(one("next month", SystemKind::Date).1, json!("2025-04-14"));
    }

    #[test]
    fn times() {
        assert_eq!(one("at 5pm", SystemKind::Time), ("5pm".into(), json!("17:00:00")));
        assert_eq!(one("meet at 10:30 am", SystemKind::Time).1, json!("10:30:00"));
        assert_eq!(one("at 17:45", SystemKind::Time).1, json!("17:45:00"));
        assert_eq!(one("at seven pm", SystemKind::Time).1, json!("19:00:00"));
        assert_eq!(one("around noon", SystemKind::Time).1, json!("12:00:00"));
        assert_eq!(one("table at 7", SystemKind::Time).1, json!("19:00:00"));
        assert_eq!(one("in 2 hours", SystemKind::Time).1, json!("12:00:00"));
        assert_eq!(one("half past five", SystemKind::Time).1, json!("17:30:00"));
    }

    #[test]
    fn durations_money_percentages() {
        assert_eq!(one("for 3 hours", SystemKind::Duration).1, json!({"iso8601": "PT3H", "seconds": 10800}));
        assert_eq!(one("half an hour", SystemKind::Duration).1, json!({"iso8601": "PT0.5H", "seconds": 1800}));
        assert_eq!(one("two weeks", SystemKind::Duration).1["seconds"], json!(1_209_600));
        assert_eq!(one("costs $20.50", SystemKind::Money).1, json!({"amount": 20.5, "currency": "USD"}));
        assert_eq!(one("twenty euros", SystemKind::Money).1, json!({"amount": 20, "currency": "EUR"}));
        assert_eq!(
            one("15 dollars", SystemKind::Money),
            ("15 dollars".into(), json!({"amount": 15, "currency": "USD"}))
        );
        assert_eq!(one("up 15%", SystemKind::Percentage).1, json!(15));
        assert_eq!(one("fifteen percent", SystemKind::Percentage).1, json!(15));
    }

    #[test]
    fn contacts() {
        assert_eq!(one("mail Jane.Doe@Example.com now", SystemKind::Email).1, json!("jane.doe@example.com"));
        assert_eq!(one("see https://example.com/a?b=1.", SystemKind::Url).1, json!("https://example.com/a?b=1"));
        assert_eq!(one("call +1 (555) 123-4567", SystemKind::Phone).1, json!("+15551234567"));
        // The domain of an email is not a separate URL.
        assert!(find("mail a@b.com").iter().all(|(k, _, _)| *k != SystemKind::Url));
    }

    #[test]
    fn the_longest_reading_wins() {
        let kinds: Vec<SystemKind> = find("book 2 rooms for 3 nights at 5 pm").into_iter().map(|(k, _, _)| k).collect();
        assert_eq!(kinds, [SystemKind::Number, SystemKind::Number, SystemKind::Time]);
    }
}

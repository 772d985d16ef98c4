//! The extractor of system entities for a [`Locale`]: regular expressions
//! for shapes with digits and symbols in these languages' conventions
//! (`20,50 €`, `14.03.2026`, `14/03`, `17h30`, `17 Uhr`), then patterns over
//! folded word tokens (numbers, dates, times, durations, money, percent).

#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::float_cmp,
    reason = "values are checked to be small whole numbers before the casts"
)]

use std::sync::LazyLock;

use chrono::{Datelike, Duration, NaiveDate, NaiveTime, Timelike};
use regex::Regex;
use serde_json::Value;

use super::numbers::{digits, number_at, ordinal_at};
use super::{Locale, Phrase, any_phrase_at, any_phrase_before, locale_tokens};
use crate::nlu::entities::numbers::NumberSpan;
use crate::nlu::entities::system::{
    Reference, SystemKind, SystemMatch, add_months, apply_meridiem, date_value, duration_value, full_year, money, num,
    re, symbol_currency, time_value, upcoming,
};
use crate::nlu::entities::text::Token;

/// An amount with `.`/no-break-space thousands and a `,` decimal mark.
const AMOUNT: &str = r"\d{1,3}(?:[.\u{a0}\u{202f}]\d{3})+(?:,\d{1,2})?|\d+(?:[.,]\d{1,2})?";

static MONEY_SYMBOL: LazyLock<Regex> =
    LazyLock::new(|| re(&format!(r"(R\$|US\$|[$€£¥₼₹])\s?({AMOUNT})|({AMOUNT})\s?(R\$|US\$|[$€£¥₼₹])")));
static PERCENT: LazyLock<Regex> = LazyLock::new(|| re(r"(\d+(?:[.,]\d+)?)\s?%"));
/// Day first: `14.03.2026`, `14/03/26`, `14/03`, `14.03.` (dots need a year or a final dot).
static DAY_FIRST: LazyLock<Regex> = LazyLock::new(|| re(r"\b(\d{1,2})([/.])(\d{1,2})(?:[/.](\d{4}|\d{2})\b|(\.))?"));
/// `17h30`, `17 h 30`.
static CLOCK_H: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)\b(\d{1,2})\s?h\s?(\d{2})\b"));
/// `17:30`, `17:30:15`, `17.30 Uhr`.
static CLOCK_COLON: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)\b(\d{1,2}):(\d{2})(?::(\d{2}))?\b(?:\s?(?:uhr|h)\b)?|\b(\d{1,2})\.(\d{2})\s?uhr\b"));
/// `17 Uhr`, `17h`, `17 Uhr 30`.
static CLOCK_HOUR: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)\b(\d{1,2})\s?(?:uhr|h)\b(?:\s?(\d{2})\b)?"));

/// Every system entity of `kinds` in `text` (raw tokens of `text`), by the
/// locale's words; emails, URLs, phones and ISO dates are the caller's.
pub fn extract(
    locale: &Locale,
    text: &str,
    raw: &[Token],
    kinds: &[SystemKind],
    reference: &Reference,
    out: &mut Vec<SystemMatch>,
) {
    let want = |k: SystemKind| kinds.contains(&k);
    if want(SystemKind::Money) {
        symbol_money(text, out);
    }
    if want(SystemKind::Percentage) {
        for c in PERCENT.captures_iter(text) {
            if let (Some(all), Some(v)) = (c.get(0), c.get(1).and_then(|m| digits(m.as_str()))) {
                out.push(SystemMatch {
                    kind: SystemKind::Percentage,
                    start: all.start(),
                    end: all.end(),
                    resolved: num(v),
                });
            }
        }
    }
    if want(SystemKind::Date) {
        day_first_dates(text, reference, out);
    }
    if want(SystemKind::Time) {
        clock_times(text, out);
    }
    let tokens = locale_tokens(raw);
    let words = Words { locale, text, tokens: &tokens, reference };
    for i in 0..tokens.len() {
        words.at(i, &want, out);
    }
}

fn symbol_money(text: &str, out: &mut Vec<SystemMatch>) {
    for c in MONEY_SYMBOL.captures_iter(text) {
        let Some(all) = c.get(0) else { continue };
        let (symbol, amount) = match (c.get(1), c.get(2), c.get(3), c.get(4)) {
            (Some(s), Some(a), _, _) | (_, _, Some(a), Some(s)) => (s.as_str(), a.as_str()),
            _ => continue,
        };
        let cleaned: String = amount.chars().filter(|c| !matches!(c, '\u{a0}' | '\u{202f}')).collect();
        let Some(value) = digits(&cleaned) else { continue };
        let currency = match symbol {
            "R$" => "BRL",
            "US$" => "USD",
            s => symbol_currency(s),
        };
        out.push(SystemMatch {
            kind: SystemKind::Money,
            start: all.start(),
            end: all.end(),
            resolved: money(value, currency),
        });
    }
}

fn day_first_dates(text: &str, reference: &Reference, out: &mut Vec<SystemMatch>) {
    for c in DAY_FIRST.captures_iter(text) {
        let Some(all) = c.get(0) else { continue };
        let dotted = c.get(2).is_some_and(|m| m.as_str() == ".");
        let year = c.get(4).and_then(|y| y.as_str().parse::<i32>().ok());
        // `3.5` is a number: dots need a year or a closing dot (`14.03.`).
        if dotted && year.is_none() && c.get(5).is_none() {
            continue;
        }
        let first: u32 = c.get(1).and_then(|m| m.as_str().parse().ok()).unwrap_or(0);
        let second: u32 = c.get(3).and_then(|m| m.as_str().parse().ok()).unwrap_or(0);
        // Day first unless the second part cannot be a month.
        let (day, month) = if second > 12 && first <= 12 { (second, first) } else { (first, second) };
        let date = match year {
            Some(y) => NaiveDate::from_ymd_opt(full_year(y), month, day),
            None => upcoming(reference, month, day),
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
    let mut push = |start: usize, end: usize, h: Option<u32>, m: Option<u32>, s: Option<u32>| {
        if let Some(t) = h.and_then(|h| NaiveTime::from_hms_opt(h, m.unwrap_or(0), s.unwrap_or(0))) {
            out.push(SystemMatch { kind: SystemKind::Time, start, end, resolved: time_value(t) });
        }
    };
    let int = |m: Option<regex::Match<'_>>| m.and_then(|m| m.as_str().parse::<u32>().ok());
    for c in CLOCK_H.captures_iter(text) {
        if let Some(all) = c.get(0) {
            push(all.start(), all.end(), int(c.get(1)), int(c.get(2)), None);
        }
    }
    for c in CLOCK_COLON.captures_iter(text) {
        if let Some(all) = c.get(0) {
            let h = int(c.get(1)).or(int(c.get(4)));
            push(all.start(), all.end(), h, int(c.get(2)).or(int(c.get(5))), int(c.get(3)));
        }
    }
    for c in CLOCK_HOUR.captures_iter(text) {
        if let Some(all) = c.get(0) {
            push(all.start(), all.end(), int(c.get(1)), int(c.get(2)), None);
        }
    }
}

/// The token patterns of one text.
struct Words<'a> {
    locale: &'a Locale,
    text: &'a str,
    tokens: &'a [Token],
    reference: &'a Reference,
}

impl Words<'_> {
    fn word(&self, i: usize) -> &str {
        self.tokens.get(i).map_or("", |t| t.lower.as_str())
    }

    fn joined(&self, i: usize) -> bool {
        self.tokens.get(i).is_some_and(|t| t.joined)
    }

    /// Tokens `first..last` as one match.
    fn span(&self, kind: SystemKind, first: usize, last: usize, resolved: Value) -> Option<SystemMatch> {
        let (a, b) = (self.tokens.get(first)?, self.tokens.get(last.checked_sub(1)?)?);
        Some(SystemMatch { kind, start: a.start, end: b.end, resolved })
    }

    fn number(&self, i: usize) -> Option<(NumberSpan, bool)> {
        number_at(self.locale, self.tokens, i)
    }

    fn at(&self, i: usize, want: &dyn Fn(SystemKind) -> bool, out: &mut Vec<SystemMatch>) {
        let locale = self.locale;
        let number = self.number(i);
        if want(SystemKind::Number)
            && let Some((n, false)) = number
        {
            out.extend(self.span(SystemKind::Number, n.first, n.last, num(n.value)));
        }
        if want(SystemKind::Ordinal)
            && let Some(o) = ordinal_at(locale, self.tokens, i)
        {
            out.extend(self.span(SystemKind::Ordinal, o.first, o.last, num(o.value)));
        }
        if let Some((n, _)) = number {
            if want(SystemKind::Percentage)
                && self.joined(n.last)
                && let Some(end) = any_phrase_at(self.tokens, n.last, locale.percent)
            {
                out.extend(self.span(SystemKind::Percentage, i, end, num(n.value)));
            }
            if want(SystemKind::Money)
                && self.joined(n.last)
                && let Some((currency, factor)) = locale.currency(self.word(n.last))
            {
                out.extend(self.span(SystemKind::Money, i, n.last + 1, money(n.value * factor, currency)));
            }
        }
        // `EUR 20`
        if want(SystemKind::Money)
            && self.word(i).len() == 3
            && let Some((currency, 1.0)) = locale.currency(self.word(i))
            && self.joined(i + 1)
            && let Some((n, false)) = self.number(i + 1)
        {
            out.extend(self.span(SystemKind::Money, i, n.last, money(n.value, currency)));
        }
        if want(SystemKind::Duration) || want(SystemKind::Date) || want(SystemKind::Time) {
            self.durations(i, number, want, out);
        }
        if want(SystemKind::Date) {
            self.dates(i, out);
        }
        if want(SystemKind::Time) {
            self.times(i, number, out);
        }
    }

    /// `3 Stunden`, `eine halbe Stunde`, `una hora y media`; `in 3 Tagen`
    /// and `hace 2 semanas` as dates, `dans 2 heures` as a time.
    fn durations(
        &self,
        i: usize,
        number: Option<(NumberSpan, bool)>,
        want: &dyn Fn(SystemKind) -> bool,
        out: &mut Vec<SystemMatch>,
    ) {
        let locale = self.locale;
        let half = |k: usize| locale.half.contains(&self.word(k));
        let amount: Option<(usize, f64)> = match number {
            // `eine halbe Stunde`, `une demi heure`
            Some((n, true)) if half(n.last) && self.joined(n.last) => Some((n.last + 1, 0.5)),
            Some((n, _)) => Some((n.last, n.value)),
            // `media hora`, `mezz'ora`
            None if half(i) => Some((i + 1, 0.5)),
            None => None,
        };
        let Some((k, mut value)) = amount else { return };
        let Some((secs, unit)) = locale.unit(self.word(k)).filter(|_| self.joined(k)) else { return };
        let mut last = k + 1;
        // `una hora y media`, `une heure et demie`
        if self.word(last) == locale.connector && self.joined(last) && half(last + 1) && self.joined(last + 1) {
            value += 0.5;
            last += 2;
        }
        if value.fract() != 0.0 && matches!(unit, 'N' | 'Y' | 'W' | 'D') && value != 0.5 {
            return;
        }
        if want(SystemKind::Duration) {
            out.extend(self.span(SystemKind::Duration, i, last, duration_value(value, unit, secs)));
        }
        let ahead = any_phrase_before(self.tokens, i, locale.ahead_before);
        let back_before = any_phrase_before(self.tokens, i, locale.back_before);
        let back_after = if self.joined(last) { any_phrase_at(self.tokens, last, locale.back_after) } else { None };
        let (first, end, direction) = match (ahead, back_before, back_after) {
            (Some(f), _, _) => (f, last, 1.0),
            (_, Some(f), _) => (f, last, -1.0),
            (_, _, Some(e)) => (i, e, -1.0),
            _ => return,
        };
        let today = self.reference.today();
        let whole = (value * direction) as i64;
        let date = match unit {
            'D' => today.checked_add_signed(Duration::days(whole)),
            'W' => today.checked_add_signed(Duration::weeks(whole)),
            'N' => add_months(today, i32::try_from(whole).unwrap_or(0)),
            'Y' => add_months(today, i32::try_from(whole * 12).unwrap_or(0)),
            _ => None,
        };
        if let Some(d) = date.filter(|_| value.fract() == 0.0) {
            if want(SystemKind::Date) {
                out.extend(self.span(SystemKind::Date, first, end, date_value(d)));
            }
        } else if matches!(unit, 'S' | 'M' | 'H') && want(SystemKind::Time) {
            let delta = Duration::seconds((value * secs * direction) as i64);
            if let Some(t) = self.reference.now.checked_add_signed(delta) {
                let time = t.time().with_nanosecond(0).unwrap_or(t.time());
                out.extend(self.span(SystemKind::Time, first, end, time_value(time)));
            }
        }
    }

    fn dates(&self, i: usize, out: &mut Vec<SystemMatch>) {
        let locale = self.locale;
        let today = self.reference.today();
        let w = self.word(i);
        let mut push = |first: usize, last: usize, d: Option<NaiveDate>| {
            if let Some(d) = d {
                out.extend(self.span(SystemKind::Date, first, last, date_value(d)));
            }
        };
        // `heute`, `apres-demain`, `pasado manana` (but `guten Morgen`, `esta manana`).
        for (phrase, offset) in locale.relative_days {
            if let Some(end) = super::phrase_at(self.tokens, i, phrase) {
                let morning = phrase.len() == 1
                    && locale.morning_words.contains(&w)
                    && i > 0
                    && self.joined(i)
                    && locale.morning_markers.contains(&self.word(i - 1));
                if !morning {
                    push(i, end, today.checked_add_signed(Duration::days(*offset)));
                }
            }
        }
        // Weekdays with their modifiers: `nachsten Montag`, `lundi prochain`,
        // `el lunes que viene`, `na segunda-feira`, `venerdi scorso`.
        if let Some(wd) = locale.weekday(w) {
            let mut last = i + 1;
            let tail = locale.weekday_tail.contains(&self.word(last)) && self.joined(last);
            if tail {
                last += 1;
            }
            let after = self.joined(last).then_some(last);
            let next_after = after.and_then(|k| any_phrase_at(self.tokens, k, locale.next_after));
            let last_after = after.and_then(|k| any_phrase_at(self.tokens, k, locale.last_after));
            let next_before = any_phrase_before(self.tokens, i, locale.next_before);
            let last_before = any_phrase_before(self.tokens, i, locale.last_before);
            let this_before = any_phrase_before(self.tokens, i, locale.this_before);
            let ahead = i64::from((7 + wd.num_days_from_monday() - today.weekday().num_days_from_monday()) % 7);
            let next = if ahead == 0 { 7 } else { ahead };
            let previous = if ahead == 0 { -7 } else { ahead - 7 };
            let first = next_before.or(last_before).or(this_before).unwrap_or(i);
            let (end, delta, modified) = match (next_after, last_after) {
                (Some(e), _) => (e, next, true),
                (_, Some(e)) => (e, previous, true),
                _ if next_before.is_some() => (last, next, true),
                _ if last_before.is_some() => (last, previous, true),
                _ => (last, ahead, this_before.is_some()),
            };
            if tail || modified || !locale.weekday_needs_context.contains(&w) {
                push(first, end, today.checked_add_signed(Duration::days(delta)));
            }
        }
        // `nachste Woche`, `le mois prochain`, `el ano pasado`.
        if let Some(period) = locale.period(w) {
            let sign = if let Some(f) = any_phrase_before(self.tokens, i, locale.next_before) {
                Some((f, i + 1, 1))
            } else if let Some(f) = any_phrase_before(self.tokens, i, locale.last_before) {
                Some((f, i + 1, -1))
            } else if self.joined(i + 1) {
                any_phrase_at(self.tokens, i + 1, locale.next_after)
                    .map(|e| (i, e, 1))
                    .or_else(|| any_phrase_at(self.tokens, i + 1, locale.last_after).map(|e| (i, e, -1)))
            } else {
                None
            };
            if let Some((first, end, sign)) = sign {
                let date = match period {
                    'W' => today.checked_add_signed(Duration::days(7 * i64::from(sign))),
                    'N' => add_months(today, sign),
                    _ => add_months(today, 12 * sign),
                };
                push(first, end, date);
            }
        }
        // Day then month: `14. Marz 2026`, `el 14 de marzo de 2026`, `1er mai`.
        let day = ordinal_at(locale, self.tokens, i)
            .or_else(|| self.number(i).filter(|(n, _)| !n.words).map(|(n, _)| n))
            .filter(|d| d.value.fract() == 0.0 && (1.0..=31.0).contains(&d.value));
        if let Some(d) = day {
            let mut k = d.last;
            if locale.date_glue.contains(&self.word(k)) && self.joined(k) {
                k += 1;
            }
            if let Some(m) = locale.month(self.word(k))
                && self.gap_is_dot_or_space(k)
            {
                let (year, end) = self.year_after(k + 1);
                let date = match year {
                    Some(y) => NaiveDate::from_ymd_opt(y, m, d.value as u32),
                    None => upcoming(self.reference, m, d.value as u32),
                };
                push(i, end, date);
            }
        }
    }

    /// Whether only spaces or one dot (German `14. März`) come before token `k`.
    fn gap_is_dot_or_space(&self, k: usize) -> bool {
        let (Some(prev), Some(t)) = (k.checked_sub(1).and_then(|p| self.tokens.get(p)), self.tokens.get(k)) else {
            return false;
        };
        matches!(self.text.get(prev.end..t.start).map(str::trim), Some("" | "."))
    }

    /// An optional year (`2026`, `de 2026`) after a date: the year and the end token.
    fn year_after(&self, k: usize) -> (Option<i32>, usize) {
        let k2 = if self.locale.date_glue.contains(&self.word(k)) && self.joined(k) { k + 1 } else { k };
        match self.tokens.get(k2) {
            Some(t) if t.joined && t.lower.len() == 4 && t.lower.chars().all(|c| c.is_ascii_digit()) => {
                (t.lower.parse().ok(), k2 + 1)
            }
            _ => (None, k),
        }
    }

    /// `um 5`, `a las cinco de la tarde`, `fünf Uhr`, `à 17 heures 30`,
    /// `alle 8 e mezza`, `midi`.
    fn times(&self, i: usize, number: Option<(NumberSpan, bool)>, out: &mut Vec<SystemMatch>) {
        let locale = self.locale;
        let mut push = |first: usize, last: usize, h: u32, m: u32| {
            if let Some(t) = NaiveTime::from_hms_opt(h, m, 0) {
                out.extend(self.span(SystemKind::Time, first, last, time_value(t)));
            }
        };
        if let Some(end) = any_phrase_at(self.tokens, i, locale.noon) {
            push(i, end, 12, 0);
        }
        if let Some(end) = any_phrase_at(self.tokens, i, locale.midnight) {
            push(i, end, 0, 0);
        }
        let at = any_phrase_at(self.tokens, i, locale.at).filter(|k| self.joined(*k));
        let hour = match at {
            Some(k) => self.number(k).map(|(n, _)| n),
            None => number.map(|(n, _)| n).filter(|n| n.words),
        };
        let Some(hour) = hour.filter(|h| h.value.fract() == 0.0 && (0.0..=23.0).contains(&h.value)) else { return };
        // `um 19:45`: the clock expressions are the regular expressions'.
        let hour_end = self.tokens.get(hour.last - 1).map_or(0, |t| t.end);
        if self.text.get(hour_end..).is_some_and(|rest| rest.starts_with([':', '.', 'h'])) {
            return;
        }
        let mut k = hour.last;
        let oclock = self.joined(k) && locale.oclock.contains(&self.word(k));
        if oclock {
            k += 1;
        }
        let mut minutes = 0;
        if oclock
            && self.joined(k)
            && let Some((m, false)) = self.number(k)
            && m.value.fract() == 0.0
            && (0.0..60.0).contains(&m.value)
        {
            minutes = m.value as u32;
            k = m.last;
        } else if self.word(k) == locale.connector && self.joined(k) && locale.half.contains(&self.word(k + 1)) {
            minutes = 30;
            k += 2;
        }
        let daypart = |phrases: &[Phrase]| if self.joined(k) { any_phrase_at(self.tokens, k, phrases) } else { None };
        let (pm, am) = (daypart(locale.pm), daypart(locale.am));
        let h = hour.value as u32;
        let explicit = oclock || pm.is_some() || am.is_some();
        let hour24 = if let Some(end) = pm {
            k = end;
            apply_meridiem(h, Some("pm"))
        } else if let Some(end) = am {
            k = end;
            apply_meridiem(h, Some("am"))
        } else if oclock {
            Some(h)
        } else {
            // An hour alone after `um`/`a las`/`alle`: 1–7 read as afternoon.
            Some(if (1..=7).contains(&h) { h + 12 } else { h })
        };
        // Without `at`, only an hour in words with `Uhr` or a part of the day
        // is a time (`cinq heures`, `cinco horas` are also durations). An
        // `at` that is also another word (French `a` "has", Portuguese `as`
        // "the") needs `heures`/`h` or a part of the day.
        let bare_at = at.is_some_and(|end| end == i + 1 && matches!(self.word(i), "a" | "as"));
        let ok = match at {
            Some(_) => explicit || !bare_at,
            None => pm.is_some() || am.is_some() || (oclock && self.word(hour.last) == "uhr"),
        };
        if ok && let Some(h24) = hour24 {
            push(if at.is_some() { i } else { hour.first }, k, h24, minutes);
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use chrono_tz::Tz;
    use serde_json::json;

    use super::super::EntityLanguage;
    use super::*;
    use crate::nlu::entities::system::{extract_in, resolve_overlaps};
    use crate::nlu::entities::text::tokenize;

    fn reference() -> Reference {
        // Friday 2025-03-14 10:00 in Berlin.
        let tz: Tz = "Europe/Berlin".parse().expect("tz");
        Reference::new(tz.with_ymd_and_hms(2025, 3, 14, 10, 0, 0).single().expect("time"))
    }

    fn find(lang: EntityLanguage, text: &str) -> Vec<(SystemKind, String, Value)> {
        let tokens = tokenize(text);
        resolve_overlaps(extract_in(lang, text, &tokens, &SystemKind::ALL, &reference()))
            .into_iter()
            .map(|m| (m.kind, text[m.start..m.end].to_owned(), m.resolved))
            .collect()
    }

    fn one(lang: EntityLanguage, text: &str, kind: SystemKind) -> (String, Value) {
        let all = find(lang, text);
        let hit = all.iter().find(|(k, _, _)| *k == kind).unwrap_or_else(|| panic!("no {kind:?} in {text:?}: {all:?}"));
        (hit.1.clone(), hit.2.clone())
    }

    fn money(amount: f64, currency: &str) -> Value {
        json!({ "amount": amount, "currency": currency })
    }

    #[test]
    fn german() {
        use EntityLanguage::German as De;
        use SystemKind::{Date, Duration, Email, Money, Number, Ordinal, Percentage, Phone, Time, Url};
        assert_eq!(one(De, "ich brauche fünfundzwanzig Stühle", Number), ("fünfundzwanzig".into(), json!(25)));
        assert_eq!(one(De, "etwa 1.250,5 Stück", Number).1, json!(1250.5));
        assert_eq!(one(De, "der dritte Termin", Ordinal), ("dritte".into(), json!(3)));
        assert_eq!(one(De, "Tisch für übermorgen", Date), ("übermorgen".into(), json!("2025-03-16")));
        assert_eq!(one(De, "am nächsten Montag", Date), ("nächsten Montag".into(), json!("2025-03-17")));
        assert_eq!(one(De, "am 14. April 2026", Date), ("14. April 2026".into(), json!("2026-04-14")));
        assert_eq!(one(De, "bis 24.12.2025 bitte", Date).1, json!("2025-12-24"));
        assert_eq!(one(De, "in 3 Tagen", Date), ("in 3 Tagen".into(), json!("2025-03-17")));
        assert_eq!(one(De, "vor zwei Wochen", Date).1, json!("2025-02-28"));
        assert_eq!(one(De, "nächste Woche", Date).1, json!("2025-03-21"));
        assert_eq!(one(De, "um 17 Uhr 30", Time).1, json!("17:30:00"));
        assert_eq!(one(De, "um 19:45", Time).1, json!("19:45:00"));
        assert_eq!(one(De, "um fünf Uhr", Time).1, json!("05:00:00"));
        assert_eq!(one(De, "um 7", Time).1, json!("19:00:00"));
        assert_eq!(one(De, "um fünf Uhr abends", Time).1, json!("17:00:00"));
        assert_eq!(one(De, "gegen Mitternacht", Time).1, json!("00:00:00"));
        assert_eq!(one(De, "eine halbe Stunde", Duration).1, json!({"iso8601": "PT0.5H", "seconds": 1800}));
        assert_eq!(one(De, "für 3 Stunden", Duration).1, json!({"iso8601": "PT3H", "seconds": 10800}));
        assert_eq!(one(De, "kostet 20,50 €", Money).1, money(20.5, "EUR"));
        assert_eq!(one(De, "zwanzig Euro", Money).1, json!({"amount": 20, "currency": "EUR"}));
        assert_eq!(one(De, "15 Prozent Rabatt", Percentage).1, json!(15));
        assert_eq!(one(De, "Rabatt 7,5 %", Percentage).1, json!(7.5));
        assert_eq!(one(De, "Mail an Jana@Beispiel.de bitte", Email).1, json!("jana@beispiel.de"));
        assert_eq!(one(De, "Ruf mich an: +49 30 1234567", Phone).1, json!("+49301234567"));
        assert_eq!(one(De, "siehe www.beispiel.de/preise", Url).1, json!("www.beispiel.de/preise"));
        // `Guten Morgen` is a greeting, not tomorrow; `ein Tisch` is not a number.
        assert!(
            find(De, "Guten Morgen, ein Tisch bitte").is_empty(),
            "{:?}",
            find(De, "Guten Morgen, ein Tisch bitte")
        );
    }

    #[test]
    fn french() {
        use EntityLanguage::French as Fr;
        use SystemKind::{Date, Duration, Money, Number, Ordinal, Percentage, Time};
        assert_eq!(one(Fr, "quatre-vingt-dix personnes", Number), ("quatre-vingt-dix".into(), json!(90)));
        assert_eq!(one(Fr, "le troisième étage", Ordinal).1, json!(3));
        assert_eq!(one(Fr, "après-demain", Date).1, json!("2025-03-16"));
        assert_eq!(one(Fr, "lundi prochain", Date), ("lundi prochain".into(), json!("2025-03-17")));
        assert_eq!(one(Fr, "le 1er mai", Date), ("1er mai".into(), json!("2025-05-01")));
        assert_eq!(one(Fr, "le 14/07", Date).1, json!("2025-07-14"));
        assert_eq!(one(Fr, "dans 3 jours", Date).1, json!("2025-03-17"));
        assert_eq!(one(Fr, "il y a 2 semaines", Date).1, json!("2025-02-28"));
        assert_eq!(one(Fr, "l'année prochaine", Date).1, json!("2026-03-14"));
        assert_eq!(one(Fr, "à 17h30", Time).1, json!("17:30:00"));
        assert_eq!(one(Fr, "à cinq heures du soir", Time).1, json!("17:00:00"));
        assert_eq!(one(Fr, "vers midi", Time).1, json!("12:00:00"));
        assert_eq!(one(Fr, "une heure et demie", Duration).1, json!({"iso8601": "PT1.5H", "seconds": 5400}));
        assert_eq!(one(Fr, "une demi-heure", Duration).1["seconds"], json!(1800));
        assert_eq!(one(Fr, "ça coûte 12,90 €", Money).1, money(12.9, "EUR"));
        assert_eq!(one(Fr, "vingt euros", Money).1, json!({"amount": 20, "currency": "EUR"}));
        assert_eq!(one(Fr, "15 pour cent", Percentage).1, json!(15));
        // `il a 3 enfants`: `a` is "has", not "at".
        assert!(find(Fr, "il a 3 enfants").iter().all(|(k, _, _)| *k != Time));
    }

    #[test]
    fn spanish() {
        use EntityLanguage::Spanish as Es;
        use SystemKind::{Date, Duration, Email, Money, Number, Ordinal, Percentage, Phone, Time};
        assert_eq!(one(Es, "treinta y cinco sillas", Number), ("treinta y cinco".into(), json!(35)));
        assert_eq!(one(Es, "la tercera puerta", Ordinal).1, json!(3));
        assert_eq!(one(Es, "pasado mañana", Date), ("pasado mañana".into(), json!("2025-03-16")));
        assert_eq!(one(Es, "el próximo lunes", Date), ("próximo lunes".into(), json!("2025-03-17")));
        assert_eq!(one(Es, "el lunes que viene", Date).1, json!("2025-03-17"));
        assert_eq!(one(Es, "el 14 de abril de 2026", Date), ("14 de abril de 2026".into(), json!("2026-04-14")));
        assert_eq!(one(Es, "hace 3 días", Date).1, json!("2025-03-11"));
        assert_eq!(one(Es, "a las cinco de la tarde", Time), ("a las cinco de la tarde".into(), json!("17:00:00")));
        assert_eq!(one(Es, "a las 9 y media", Time).1, json!("09:30:00"));
        assert_eq!(one(Es, "media hora", Duration).1["seconds"], json!(1800));
        assert_eq!(one(Es, "una hora y media", Duration).1["seconds"], json!(5400));
        assert_eq!(one(Es, "dentro de 2 semanas", Date).1, json!("2025-03-28"));
        assert_eq!(one(Es, "al mediodía", Time).1, json!("12:00:00"));
        assert_eq!(one(Es, "dos semanas", Duration).1["seconds"], json!(1_209_600));
        assert_eq!(one(Es, "cuesta 20 dólares", Money).1, json!({"amount": 20, "currency": "USD"}));
        assert_eq!(one(Es, "15 por ciento", Percentage).1, json!(15));
        assert_eq!(one(Es, "escribe a ana@ejemplo.es", Email).1, json!("ana@ejemplo.es"));
        assert_eq!(one(Es, "llámame al 612 345 678", Phone).1, json!("612345678"));
        // `esta mañana` is this morning, not tomorrow.
        assert!(find(Es, "esta mañana").iter().all(|(k, _, _)| *k != Date));
    }

    #[test]
    fn portuguese() {
        use EntityLanguage::Portuguese as Pt;
        use SystemKind::{Date, Duration, Money, Number, Percentage, Time};
        assert_eq!(one(Pt, "vinte e cinco pessoas", Number).1, json!(25));
        assert_eq!(one(Pt, "depois de amanhã", Date).1, json!("2025-03-16"));
        assert_eq!(one(Pt, "na próxima segunda-feira", Date), ("próxima segunda-feira".into(), json!("2025-03-17")));
        assert_eq!(one(Pt, "14 de março de 2026", Date).1, json!("2026-03-14"));
        assert_eq!(one(Pt, "daqui a 2 semanas", Date).1, json!("2025-03-28"));
        assert_eq!(one(Pt, "às 8 da noite", Time).1, json!("20:00:00"));
        assert_eq!(one(Pt, "meia hora", Duration).1["seconds"], json!(1800));
        assert_eq!(one(Pt, "uma hora e meia", Duration).1["seconds"], json!(5400));
        assert_eq!(one(Pt, "3 dias atrás", Date).1, json!("2025-03-11"));
        assert_eq!(one(Pt, "ao meio-dia", Time).1, json!("12:00:00"));
        assert_eq!(one(Pt, "custa R$ 1.250,00", Money).1, json!({"amount": 1250, "currency": "BRL"}));
        assert_eq!(one(Pt, "cinquenta reais", Money).1, json!({"amount": 50, "currency": "BRL"}));
        assert_eq!(one(Pt, "10 por cento", Percentage).1, json!(10));
        // `a segunda opção` is the second option, not Monday.
        assert!(find(Pt, "a segunda opção").iter().all(|(k, _, _)| *k != Date));
    }

    #[test]
    fn italian() {
        use EntityLanguage::Italian as It;
        use SystemKind::{Date, Duration, Money, Number, Ordinal, Percentage, Time, Url};
        assert_eq!(one(It, "ventitré persone", Number), ("ventitré".into(), json!(23)));
        assert_eq!(one(It, "il ventesimo piano", Ordinal).1, json!(20));
        assert_eq!(one(It, "dopodomani", Date).1, json!("2025-03-16"));
        assert_eq!(one(It, "lunedì prossimo", Date).1, json!("2025-03-17"));
        assert_eq!(one(It, "il 14 aprile 2026", Date).1, json!("2026-04-14"));
        assert_eq!(one(It, "tre giorni fa", Date), ("tre giorni fa".into(), json!("2025-03-11")));
        assert_eq!(one(It, "tra 2 ore", Time).1, json!("12:00:00"));
        assert_eq!(one(It, "alle 8 di sera", Time).1, json!("20:00:00"));
        assert_eq!(one(It, "mezz'ora", Duration).1["seconds"], json!(1800));
        assert_eq!(one(It, "tra 2 settimane", Date).1, json!("2025-03-28"));
        assert_eq!(one(It, "a mezzogiorno", Time).1, json!("12:00:00"));
        assert_eq!(one(It, "dieci per cento", Percentage).1, json!(10));
        assert_eq!(one(It, "costa 15 euro", Money).1, json!({"amount": 15, "currency": "EUR"}));
        assert_eq!(one(It, "il 20% in meno", Percentage).1, json!(20));
        assert_eq!(one(It, "vai su https://esempio.it/prezzi", Url).1, json!("https://esempio.it/prezzi"));
    }
}

//! Entity extraction: list entities (values with synonyms, matched exactly
//! and, when enabled, with a bounded edit distance on whole tokens), regex
//! entities, and the system entities of [`system`]. Offsets in results are
//! Unicode scalar (char) offsets.

pub mod learned;
pub mod locale;
pub mod numbers;
pub mod system;
pub mod text;

use std::collections::HashMap;

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub use learned::EntityLabeller;
pub use locale::EntityLanguage;
pub use system::{Reference, SystemKind};

use crate::ml::embedder::TokenVectors;
use text::{CharIndex, Token, edit_distance, tokenize};

/// Longest regex pattern accepted, in bytes.
pub const MAX_PATTERN_LEN: usize = 500;
/// Compiled-program size limit of a regex entity.
const REGEX_SIZE_LIMIT: usize = 256 * 1024;

/// One entity found in a text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EntityMatch {
    /// The entity's name (for system entities the bot declares none of: the kind, e.g. `date`).
    pub entity: String,
    /// The text as written.
    pub value: String,
    /// Canonical value: the list value a synonym stands for, a regex's match,
    /// or a system entity's resolution (`"2025-03-14"`, `{"amount": 20, "currency": "USD"}`…).
    #[schema(value_type = Object)]
    pub resolved: Value,
    /// Character (Unicode scalar) offsets, `end` exclusive.
    pub start: usize,
    pub end: usize,
    /// Which extractor found the span: `list`, `fuzzy`, `regex`, `system`
    /// or `learned` (the bot's trained sequence labeller); see docs/nlu.md
    /// for their precedence.
    pub extractor: String,
    /// How sure the extractor is, 0–1: 1 for exact list, regex and system
    /// matches, lower for fuzzy matches (by edit distance) and the learned
    /// extractor's span probability.
    #[serde(default = "one")]
    pub confidence: f64,
    /// The role the value plays (e.g. `from`/`to`), learned from annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The group the value belongs to, learned from annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

fn one() -> f64 {
    1.0
}

/// A list entity value with its synonyms.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListValue {
    pub value: String,
    pub synonyms: Vec<String>,
}

/// An entity definition as stored.
#[derive(Debug, Clone)]
pub enum EntityDef {
    List { name: String, values: Vec<ListValue>, fuzzy: bool },
    Regex { name: String, pattern: String },
    System { name: String, kind: SystemKind },
}

/// Compiles a regex entity pattern, refusing what is too large or matches
/// the empty string. The `regex` crate runs in linear time, so no pattern
/// can backtrack catastrophically.
pub fn compile_pattern(pattern: &str) -> Result<Regex, String> {
    if pattern.is_empty() {
        return Err("must not be empty".into());
    }
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(format!("must be at most {MAX_PATTERN_LEN} bytes"));
    }
    let re = RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .nest_limit(32)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(_) => "is too complex (compiled size limit exceeded)".to_owned(),
            other => format!("does not compile: {}", other.to_string().lines().last().unwrap_or_default().trim()),
        })?;
    if re.is_match("") {
        return Err("must not match the empty string".into());
    }
    Ok(re)
}

struct Phrase {
    tokens: Vec<String>,
    entity: usize,
    value: usize,
}

/// A bot's entities, compiled for extraction.
pub struct EntitySet {
    names: Vec<String>,
    list_values: Vec<Vec<String>>,
    /// First token → phrases (values and synonyms) starting with it.
    phrases: HashMap<String, Vec<Phrase>>,
    /// Every phrase, for fuzzy matching.
    all_phrases: Vec<Phrase>,
    regexes: Vec<(String, Regex)>,
    system_names: HashMap<SystemKind, String>,
    /// The language system entities are read in (the bot's).
    language: EntityLanguage,
}

impl EntitySet {
    /// Compiles definitions (invalid regexes, already refused at save, are skipped).
    #[must_use]
    pub fn new(defs: &[EntityDef]) -> EntitySet {
        let mut set = EntitySet {
            names: Vec::new(),
            list_values: Vec::new(),
            phrases: HashMap::new(),
            all_phrases: Vec::new(),
            regexes: Vec::new(),
            system_names: HashMap::new(),
            language: EntityLanguage::English,
        };
        for def in defs {
            match def {
                EntityDef::List { name, values, fuzzy } => {
                    let entity = set.names.len();
                    set.names.push(name.clone());
                    set.list_values.push(values.iter().map(|v| v.value.clone()).collect());
                    for (vi, v) in values.iter().enumerate() {
                        for surface in std::iter::once(&v.value).chain(&v.synonyms) {
                            let tokens: Vec<String> = tokenize(surface).into_iter().map(|t| t.lower).collect();
                            if tokens.is_empty() {
                                continue;
                            }
                            if *fuzzy {
                                set.all_phrases.push(Phrase { tokens: tokens.clone(), entity, value: vi });
                            }
                            set.phrases.entry(tokens[0].clone()).or_default().push(Phrase {
                                tokens,
                                entity,
                                value: vi,
                            });
                        }
                    }
                }
                EntityDef::Regex { name, pattern } => {
                    if let Ok(re) = compile_pattern(pattern) {
                        set.regexes.push((name.clone(), re));
                    }
                }
                EntityDef::System { name, kind } => {
                    set.system_names.entry(*kind).or_insert_with(|| name.clone());
                }
            }
        }
        set
    }

    /// The same set reading system entities in `language`.
    #[must_use]
    pub fn with_language(mut self, language: EntityLanguage) -> EntitySet {
        self.language = language;
        self
    }

    /// An empty set: system entities only, named by kind.
    #[must_use]
    pub fn empty() -> EntitySet {
        EntitySet::new(&[])
    }

    /// Every entity in `text`: list and regex entities of the bot, and the
    /// system entities (named as the bot declares them, else by kind).
    #[must_use]
    pub fn extract(&self, text: &str, reference: &Reference) -> Vec<EntityMatch> {
        self.extract_with(text, reference, None)
    }

    /// Every entity in `text`, with the bot's learned extractor when given
    /// (its model and the text's encoder output); see [`combine`] for which
    /// extractor wins where they overlap.
    #[must_use]
    pub fn extract_with(
        &self,
        text: &str,
        reference: &Reference,
        learned: Option<(&EntityLabeller, &TokenVectors)>,
    ) -> Vec<EntityMatch> {
        let (rules, system) = self.candidates(text, reference);
        let learned = match learned {
            Some((model, tokens)) => {
                let gazetteer: Vec<EntityMatch> = rules.iter().chain(&system).cloned().collect();
                model.predict(text, tokens, &gazetteer)
            }
            None => Vec::new(),
        };
        combine(rules, learned, system)
    }

    /// The list (exact and fuzzy) and regex matches, and the system matches
    /// (overlaps among them resolved, date ranges composed), before
    /// precedence. Also the gazetteer features of the learned extractor.
    #[must_use]
    pub fn candidates(&self, text: &str, reference: &Reference) -> (Vec<EntityMatch>, Vec<EntityMatch>) {
        let tokens = tokenize(text);
        let index = CharIndex::new(text);
        let mut out = self.list_matches(text, &tokens, &index);
        for (name, re) in &self.regexes {
            for m in re.find_iter(text) {
                if m.is_empty() {
                    continue;
                }
                out.push(EntityMatch {
                    entity: name.clone(),
                    value: m.as_str().to_owned(),
                    resolved: json!(m.as_str()),
                    start: index.char_at(m.start()),
                    end: index.char_at(m.end()),
                    extractor: "regex".into(),
                    confidence: 1.0,
                    role: None,
                    group: None,
                });
            }
        }
        let system =
            system::resolve_overlaps(system::extract_in(self.language, text, &tokens, &SystemKind::ALL, reference));
        let system = compose_ranges(text, system);
        let system = system
            .into_iter()
            .map(|c| match c {
                Composed::One(m) => self.system_match(text, &index, m),
                Composed::Range { start, end, resolved } => EntityMatch {
                    entity: DATE_RANGE.into(),
                    value: text[start..end].to_owned(),
                    resolved,
                    start: index.char_at(start),
                    end: index.char_at(end),
                    extractor: "system".into(),
                    confidence: 1.0,
                    role: None,
                    group: None,
                },
            })
            .collect();
        (out, system)
    }

    fn system_match(&self, text: &str, index: &CharIndex, m: system::SystemMatch) -> EntityMatch {
        EntityMatch {
            entity: self.system_names.get(&m.kind).cloned().unwrap_or_else(|| m.kind.as_str().to_owned()),
            value: text[m.start..m.end].to_owned(),
            resolved: m.resolved,
            start: index.char_at(m.start),
            end: index.char_at(m.end),
            extractor: "system".into(),
            confidence: 1.0,
            role: None,
            group: None,
        }
    }

    /// List entities: exact phrase matches first (longest wins), then fuzzy
    /// matches on the tokens left over.
    fn list_matches(&self, text: &str, tokens: &[Token], index: &CharIndex) -> Vec<EntityMatch> {
        let mut taken = vec![false; tokens.len()];
        // first, last, entity, value, edit distance
        let mut found: Vec<(usize, usize, usize, usize, usize)> = Vec::new();
        for i in 0..tokens.len() {
            if taken[i] {
                continue;
            }
            let Some(candidates) = self.phrases.get(&tokens[i].lower) else { continue };
            let best = candidates
                .iter()
                .filter(|p| {
                    p.tokens.len() <= tokens.len() - i
                        && p.tokens.iter().enumerate().all(|(k, w)| tokens[i + k].lower == *w && !taken[i + k])
                })
                .max_by_key(|p| p.tokens.len());
            if let Some(p) = best {
                let last = i + p.tokens.len();
                taken[i..last].iter_mut().for_each(|t| *t = true);
                found.push((i, last, p.entity, p.value, 0));
            }
        }
        if !self.all_phrases.is_empty() {
            for i in 0..tokens.len() {
                if taken[i] {
                    continue;
                }
                let mut best: Option<(usize, usize, &Phrase)> = None; // distance, length
                for p in &self.all_phrases {
                    let n = p.tokens.len();
                    if i + n > tokens.len() || taken[i..i + n].iter().any(|t| *t) {
                        continue;
                    }
                    let mut total = 0;
                    let mut ok = true;
                    for (k, w) in p.tokens.iter().enumerate() {
                        let budget = fuzzy_budget(w);
                        let d = edit_distance(&tokens[i + k].lower, w, budget);
                        if d > budget {
                            ok = false;
                            break;
                        }
                        total += d;
                    }
                    if ok
                        && total > 0
                        && best.is_none_or(|(bd, bn, _)| (total, std::cmp::Reverse(n)) < (bd, std::cmp::Reverse(bn)))
                    {
                        best = Some((total, n, p));
                    }
                }
                if let Some((d, n, p)) = best {
                    taken[i..i + n].iter_mut().for_each(|t| *t = true);
                    found.push((i, i + n, p.entity, p.value, d));
                }
            }
        }
        found
            .into_iter()
            .map(|(first, last, entity, value, distance)| {
                let (start, end) = (tokens[first].start, tokens[last - 1].end);
                let written = text[start..end].chars().count().max(1);
                EntityMatch {
                    entity: self.names[entity].clone(),
                    value: text[start..end].to_owned(),
                    resolved: json!(self.list_values[entity][value]),
                    start: index.char_at(start),
                    end: index.char_at(end),
                    extractor: if distance > 0 { "fuzzy" } else { "list" }.into(),
                    confidence: fuzzy_confidence(distance, written),
                    role: None,
                    group: None,
                }
            })
            .collect()
    }
}

/// The entity name of a composed date range (`{"start": …, "end": …}`).
pub const DATE_RANGE: &str = "date_range";

/// A system match, or two dates joined into a range.
enum Composed {
    One(system::SystemMatch),
    Range { start: usize, end: usize, resolved: Value },
}

/// Joins `<date> to|until|till|through|- <date>` and `between <date> and
/// <date>` into one range (byte offsets; input sorted by position).
fn compose_ranges(text: &str, matches: Vec<system::SystemMatch>) -> Vec<Composed> {
    let mut out: Vec<Composed> = Vec::with_capacity(matches.len());
    let mut iter = matches.into_iter().peekable();
    while let Some(a) = iter.next() {
        if a.kind == SystemKind::Date
            && let Some(b) = iter.peek()
            && b.kind == SystemKind::Date
            && b.start >= a.end
        {
            let between = text[a.end..b.start].trim().to_lowercase();
            let before = text[..a.start].trim_end().to_lowercase();
            let joined = matches!(between.as_str(), "to" | "until" | "till" | "through" | "thru" | "-" | "–" | "—")
                || (between == "and" && before.ends_with("between"));
            if joined && let Some(b) = iter.next() {
                out.push(Composed::Range {
                    start: a.start,
                    end: b.end,
                    resolved: json!({ "start": a.resolved, "end": b.resolved }),
                });
                continue;
            }
        }
        out.push(Composed::One(a));
    }
    out
}

fn overlaps(a: &EntityMatch, b: &EntityMatch) -> bool {
    a.start < b.end && b.start < a.end
}

/// Below this confidence a learned span yields to a system reading of the
/// same extent.
const UNSURE_LEARNED: f64 = 0.8;

/// The precedence of extractors where their spans overlap (docs/nlu.md):
///
/// 1. exact list matches and regex matches (what the bot states it knows);
///    a learned span of the same entity over them lends its role and group;
/// 2. the learned extractor's spans;
/// 3. fuzzy list matches; over a learned span of the same entity they give
///    it the list's canonical value;
/// 4. system entities; one inside a learned span resolves it into a
///    structured value (a number, a date, `{"amount", "currency"}`, a date
///    range `{"start", "end"}`).
#[must_use]
pub fn combine(rules: Vec<EntityMatch>, learned: Vec<EntityMatch>, system: Vec<EntityMatch>) -> Vec<EntityMatch> {
    let (mut out, fuzzy): (Vec<EntityMatch>, Vec<EntityMatch>) =
        rules.into_iter().partition(|m| m.extractor != "fuzzy");
    let exact = out.len();
    for mut l in learned {
        if let Some(o) = out[..exact].iter_mut().find(|o| overlaps(o, &l)) {
            if o.entity == l.entity && o.role.is_none() && o.group.is_none() {
                o.role = l.role;
                o.group = l.group;
            }
            continue;
        }
        // A system reading that covers the span and more ("March" inside
        // "March 3") explains the text better; one of the same extent wins
        // over an unsure learned span ("200 euros" taken for guests).
        let covered = system.iter().any(|s| {
            let (sys_len, len) = (s.end - s.start, l.end - l.start);
            s.start <= l.start && s.end >= l.end && (sys_len > len || l.confidence < UNSURE_LEARNED)
        });
        if covered {
            continue;
        }
        // The longest system reading inside the span gives its structured value.
        let inner = system
            .iter()
            .filter(|s| s.start >= l.start && s.end <= l.end)
            .max_by_key(|s| (s.end - s.start, std::cmp::Reverse(s.start)));
        if let Some(s) = inner {
            l.resolved = s.resolved.clone();
        }
        out.push(l);
    }
    for f in fuzzy {
        if let Some(o) = out.iter_mut().find(|o| overlaps(o, &f)) {
            if o.extractor == "learned" && o.entity == f.entity && o.start == f.start && o.end == f.end {
                o.resolved = f.resolved;
            }
            continue;
        }
        out.push(f);
    }
    for s in system {
        if out.iter().all(|o| !overlaps(o, &s)) {
            out.push(s);
        }
    }
    out.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    out
}

/// Confidence of a list match with `distance` edits over `chars` written
/// characters: 1 when exact, 1 − edits/characters otherwise (rounded).
fn fuzzy_confidence(distance: usize, chars: usize) -> f64 {
    #[allow(clippy::cast_precision_loss, reason = "small counts")]
    let c = 1.0 - distance as f64 / chars as f64;
    (c.clamp(0.0, 1.0) * 1000.0).round() / 1000.0
}

/// Edits allowed on one token: none for short words (too many false hits),
/// one for 5–8 characters, two for longer ones.
fn fuzzy_budget(word: &str) -> usize {
    match word.chars().count() {
        0..=4 => 0,
        5..=8 => 1,
        _ => 2,
    }
}

/// The system entities of one kind in `text`, overlapping readings of other
/// kinds ignored (for validating a slot that expects that kind).
#[must_use]
pub fn extract_system(kind: SystemKind, text: &str, reference: &Reference) -> Vec<EntityMatch> {
    let tokens = tokenize(text);
    let index = CharIndex::new(text);
    let matches = system::resolve_overlaps(system::extract(text, &tokens, &[kind], reference));
    matches
        .into_iter()
        .map(|m| EntityMatch {
            entity: kind.as_str().to_owned(),
            value: text[m.start..m.end].to_owned(),
            resolved: m.resolved,
            start: index.char_at(m.start),
            end: index.char_at(m.end),
            extractor: "system".into(),
            confidence: 1.0,
            role: None,
            group: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn reference() -> Reference {
        Reference::new(chrono_tz::UTC.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).single().expect("time"))
    }

    fn cities() -> EntitySet {
        EntitySet::new(&[
            EntityDef::List {
                name: "city".into(),
                values: vec![
                    ListValue { value: "New York".into(), synonyms: vec!["NYC".into(), "big apple".into()] },
                    ListValue { value: "Berlin".into(), synonyms: vec![] },
                ],
                fuzzy: true,
            },
            EntityDef::Regex { name: "order_id".into(), pattern: r"\bORD-\d{4}\b".into() },
            EntityDef::System { name: "when".into(), kind: SystemKind::Date },
        ])
    }

    #[test]
    fn list_synonyms_exact_and_fuzzy() {
        let set = cities();
        let found = set.extract("Fly from the Big Apple to Berlni, order ORD-1234, tomorrow", &reference());
        let brief: Vec<(&str, &str, &Value, usize, usize, &str)> = found
            .iter()
            .map(|m| (m.entity.as_str(), m.value.as_str(), &m.resolved, m.start, m.end, m.extractor.as_str()))
            .collect();
        assert_eq!(
            brief,
            vec![
                ("city", "Big Apple", &json!("New York"), 13, 22, "list"),
                ("city", "Berlni", &json!("Berlin"), 26, 32, "fuzzy"),
                ("order_id", "ORD-1234", &json!("ORD-1234"), 40, 48, "regex"),
                ("when", "tomorrow", &json!("2025-01-02"), 50, 58, "system"),
            ]
        );
    }

    #[test]
    fn offsets_are_characters() {
        let found = cities().extract("Ünïcødé → nyc", &reference());
        assert_eq!(found[0].start, 10);
        assert_eq!(found[0].end, 13);
    }

    #[test]
    fn patterns_are_checked() {
        assert!(compile_pattern(r"\d+").is_ok());
        assert!(compile_pattern("(unclosed").is_err());
        assert!(compile_pattern("a*").is_err(), "matches the empty string");
        assert!(compile_pattern(r"(\w{100}){100}").is_err(), "too large");
        assert!(compile_pattern(&"a".repeat(600)).is_err());
    }

    #[test]
    fn single_kind_extraction() {
        let found = extract_system(SystemKind::Number, "two tickets at 5 pm", &reference());
        let values: Vec<&Value> = found.iter().map(|m| &m.resolved).collect();
        assert_eq!(values, [&json!(2), &json!(5)]);
    }

    fn m(entity: &str, start: usize, end: usize, extractor: &str, resolved: Value) -> EntityMatch {
        EntityMatch {
            entity: entity.into(),
            value: String::new(),
            resolved,
            start,
            end,
            extractor: extractor.into(),
            confidence: 1.0,
            role: None,
            group: None,
        }
    }

    #[test]
    fn precedence_list_then_learned_then_fuzzy_then_system() {
        let mut learned_city = m("city", 5, 11, "learned", json!("Berlin"));
        learned_city.role = Some("from".into());
        let rules = vec![
            m("city", 5, 11, "list", json!("Berlin")),
            m("city", 30, 36, "fuzzy", json!("Munich")),
            m("airline", 40, 44, "fuzzy", json!("Lufthansa")),
        ];
        let learned = vec![
            learned_city,
            m("city", 30, 36, "learned", json!("Muních")),
            m("guests", 50, 58, "learned", json!("4 people")),
            m("carrier", 40, 44, "learned", json!("LH")),
        ];
        let system = vec![m("number", 50, 51, "system", json!(4)), m("date", 60, 68, "system", json!("2025-01-02"))];
        let out = combine(rules, learned, system);
        let brief: Vec<(&str, &str, Option<&str>, &Value)> =
            out.iter().map(|e| (e.entity.as_str(), e.extractor.as_str(), e.role.as_deref(), &e.resolved)).collect();
        assert_eq!(
            brief,
            vec![
                ("city", "list", Some("from"), &json!("Berlin")),
                ("city", "learned", None, &json!("Munich")),
                ("carrier", "learned", None, &json!("LH")),
                ("guests", "learned", None, &json!(4)),
                ("date", "system", None, &json!("2025-01-02")),
            ]
        );
    }

    #[test]
    fn date_ranges_and_money_are_structured() {
        let set = EntitySet::empty();
        let found = set.extract("from January 3 to January 5 for $20", &reference());
        let range = found.iter().find(|e| e.entity == DATE_RANGE).expect("a range");
        assert_eq!(range.resolved, json!({ "start": "2025-01-03", "end": "2025-01-05" }));
        assert_eq!(range.value, "January 3 to January 5");
        let money = found.iter().find(|e| e.entity == "money").expect("money");
        assert_eq!(money.resolved, json!({ "amount": 20, "currency": "USD" }));
        let between = set.extract("between March 1 and March 4", &reference());
        assert_eq!(between[0].resolved, json!({ "start": "2025-03-01", "end": "2025-03-04" }));
        let two = set.extract("March 1 and March 4", &reference());
        assert!(two.iter().all(|e| e.entity != DATE_RANGE), "and without between is two dates");
    }
}

//! Entity extraction: list entities (values with synonyms, matched exactly
//! and, when enabled, with a bounded edit distance on whole tokens), regex
//! entities, and the system entities of [`system`]. Offsets in results are
//! Unicode scalar (char) offsets.

pub mod numbers;
pub mod system;
pub mod text;

use std::collections::HashMap;

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub use system::{Reference, SystemKind};
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

    /// An empty set: system entities only, named by kind.
    #[must_use]
    pub fn empty() -> EntitySet {
        EntitySet::new(&[])
    }

    /// Every entity in `text`: list and regex entities of the bot, and the
    /// system entities (named as the bot declares them, else by kind).
    #[must_use]
    pub fn extract(&self, text: &str, reference: &Reference) -> Vec<EntityMatch> {
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
        let system = system::resolve_overlaps(system::extract(text, &tokens, &SystemKind::ALL, reference));
        // The bot's own entities win over built-in readings of the same words.
        let system: Vec<EntityMatch> = system
            .into_iter()
            .map(|m| self.system_match(text, &index, m))
            .filter(|s| out.iter().all(|o| s.end <= o.start || s.start >= o.end))
            .collect();
        out.extend(system);
        out.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
        out
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
}

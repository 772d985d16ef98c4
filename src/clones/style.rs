//! The style profile, computed locally from the person's cleaned replies:
//! length, greetings and sign-offs, a formality score, frequent phrases,
//! emoji and punctuation habits. No model is involved.

#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "counts of replies and words are small and non-negative"
)]

use std::collections::HashMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::knowledge::search::STOPWORDS;

/// A habit with how often it occurs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Share {
    pub text: String,
    /// Replies using it.
    pub count: usize,
    /// Of all replies, 0–1.
    pub share: f64,
}

/// How the person writes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StyleProfile {
    /// Replies the profile was computed from.
    pub replies: usize,
    pub words_median: usize,
    pub words_p90: usize,
    /// Opening words ("Hi", "Hey", "Dear"), most used first.
    pub greetings: Vec<Share>,
    /// Sign-off lines ("Best,", "Cheers"), most used first.
    pub sign_offs: Vec<Share>,
    /// 0 (casual) – 1 (formal), from contractions, slang, emoji and exclamation marks against
    /// formal markers ("Dear", "Kind regards", "would", "please").
    pub formality: f64,
    /// A word for the score: `casual`, `neutral` or `formal`.
    pub formality_label: String,
    /// Two- and three-word phrases used in several replies.
    pub frequent_phrases: Vec<Share>,
    pub emoji_per_reply: f64,
    pub top_emoji: Vec<Share>,
    /// Replies with `!`, with `?`, with `...`/`…`.
    pub exclamation_rate: f64,
    pub question_rate: f64,
    pub ellipsis_rate: f64,
    /// Replies starting with a lower-case letter.
    pub lowercase_start_rate: f64,
}

/// One reply as the profile sees it.
pub struct Sample<'a> {
    pub body: &'a str,
    pub greeting: Option<&'a str>,
    pub sign_off: Option<&'a str>,
}

const FORMAL: [&str; 12] = [
    "dear",
    "regards",
    "sincerely",
    "kindly",
    "please",
    "would",
    "could",
    "appreciate",
    "furthermore",
    "therefore",
    "however",
    "assist",
];
const CASUAL: [&str; 14] =
    ["hey", "yeah", "yep", "nope", "lol", "cool", "gonna", "wanna", "thx", "btw", "ok", "okay", "awesome", "haha"];

fn is_emoji(c: char) -> bool {
    matches!(u32::from(c), 0x1F300..=0x1FAFF | 0x2600..=0x27BF | 0x1F000..=0x1F2FF)
}

/// Computes the profile of `samples`.
#[must_use]
pub fn profile(samples: &[Sample<'_>]) -> StyleProfile {
    let n = samples.len();
    if n == 0 {
        return StyleProfile { formality_label: "neutral".into(), formality: 0.5, ..StyleProfile::default() };
    }
    let mut words: Vec<usize> = samples.iter().map(|s| s.body.split_whitespace().count()).collect();
    words.sort_unstable();
    let at = |p: f64| words[((p * n as f64).ceil() as usize).clamp(1, n) - 1];
    let mut greetings = HashMap::new();
    let mut sign_offs = HashMap::new();
    let mut emoji: HashMap<String, usize> = HashMap::new();
    let mut phrases: HashMap<String, usize> = HashMap::new();
    let (mut emoji_total, mut excl, mut quest, mut ellip, mut lower) = (0_usize, 0, 0, 0, 0);
    let (mut formal, mut casual) = (0.0_f64, 0.0_f64);
    for s in samples {
        if let Some(g) = s.greeting.and_then(|g| g.split(|c: char| !c.is_alphabetic()).find(|w| !w.is_empty())) {
            *greetings.entry(capitalize(g)).or_insert(0) += 1;
        }
        if let Some(o) = s.sign_off {
            *sign_offs.entry(o.trim().to_owned()).or_insert(0) += 1;
        }
        let body = s.body;
        let mut seen_emoji = std::collections::HashSet::new();
        for c in body.chars().filter(|c| is_emoji(*c)) {
            emoji_total += 1;
            if seen_emoji.insert(c) {
                *emoji.entry(c.to_string()).or_insert(0) += 1;
            }
        }
        excl += usize::from(body.contains('!'));
        quest += usize::from(body.contains('?'));
        ellip += usize::from(body.contains("...") || body.contains('…'));
        lower += usize::from(body.trim_start().chars().next().is_some_and(char::is_lowercase));
        let lower_body = body.to_lowercase();
        let tokens: Vec<&str> =
            lower_body.split(|c: char| !c.is_alphanumeric() && c != '\'').filter(|t| !t.is_empty()).collect();
        formal += tokens.iter().filter(|t| FORMAL.contains(t)).count() as f64;
        casual += tokens.iter().filter(|t| CASUAL.contains(t)).count() as f64;
        casual += tokens.iter().filter(|t| t.contains('\'')).count() as f64 * 0.5;
        casual += seen_emoji.len() as f64 + f64::from(u8::from(body.contains("!!")));
        formal += f64::from(u8::from(s.greeting.is_some_and(|g| g.to_lowercase().starts_with("dear"))));
        let mut in_reply = std::collections::HashSet::new();
        for size in [2, 3] {
            for w in tokens.windows(size) {
                let phrase = w.join(" ");
                // A phrase of stopwords only ("of the") says nothing about the person.
                if w.iter().any(|t| !STOPWORDS.contains(t)) && in_reply.insert(phrase.clone()) {
                    *phrases.entry(phrase).or_insert(0) += 1;
                }
            }
        }
    }
    let rate = |k: usize| round3(k as f64 / n as f64);
    let formality = round3(0.5 + 0.5 * (formal - casual) / (formal + casual + 2.0));
    let formality_label = if formality >= 0.6 {
        "formal"
    } else if formality <= 0.4 {
        "casual"
    } else {
        "neutral"
    };
    StyleProfile {
        replies: n,
        words_median: at(0.5),
        words_p90: at(0.9),
        greetings: top(greetings, n, 5, 1),
        sign_offs: top(sign_offs, n, 5, 1),
        formality,
        formality_label: formality_label.into(),
        frequent_phrases: top(phrases, n, 10, 2),
        emoji_per_reply: round3(emoji_total as f64 / n as f64),
        top_emoji: top(emoji, n, 5, 1),
        exclamation_rate: rate(excl),
        question_rate: rate(quest),
        ellipsis_rate: rate(ellip),
        lowercase_start_rate: rate(lower),
    }
}

fn capitalize(w: &str) -> String {
    let mut c = w.chars();
    c.next().map(|f| f.to_uppercase().chain(c.flat_map(char::to_lowercase)).collect()).unwrap_or_default()
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The `limit` most frequent entries seen at least `min` times, ties by text.
fn top(counts: HashMap<String, usize>, n: usize, limit: usize, min: usize) -> Vec<Share> {
    let mut v: Vec<(String, usize)> = counts.into_iter().filter(|(_, c)| *c >= min).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.into_iter()
        .take(limit)
        .map(|(text, count)| Share { text, count, share: round3(count as f64 / n as f64) })
        .collect()
}

impl StyleProfile {
    /// The profile as instructions for a chat model.
    #[must_use]
    pub fn describe(&self) -> String {
        let list = |v: &[Share]| v.iter().map(|s| format!("\"{}\"", s.text)).collect::<Vec<_>>().join(", ");
        let mut out = format!(
            "Replies are typically {} words (90% are at most {}). Tone: {} (formality {:.2}).",
            self.words_median, self.words_p90, self.formality_label, self.formality
        );
        // Writing to a String cannot fail.
        if !self.greetings.is_empty() {
            let _ = write!(out, " Usual greetings: {}.", list(&self.greetings));
        }
        if !self.sign_offs.is_empty() {
            let _ = write!(out, " Usual sign-offs: {}.", list(&self.sign_offs));
        }
        if !self.frequent_phrases.is_empty() {
            let _ = write!(out, " Frequent phrases: {}.", list(&self.frequent_phrases));
        }
        if self.emoji_per_reply > 0.0 {
            let _ = write!(out, " Emoji per reply: {:.2} (mostly {}).", self.emoji_per_reply, list(&self.top_emoji));
        } else {
            out.push_str(" Never uses emoji.");
        }
        let _ = write!(
            out,
            " Share of replies with '!': {:.0}%, starting lower-case: {:.0}%.",
            self.exclamation_rate * 100.0,
            self.lowercase_start_rate * 100.0
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casual_and_formal_writers_differ() {
        let casual = [
            Sample { body: "hey! yeah that's cool, see you there 🎉", greeting: Some("hey!"), sign_off: None },
            Sample { body: "lol ok, gonna be late 😅", greeting: None, sign_off: Some("cheers") },
        ];
        let formal = [
            Sample {
                body: "Dear Mr Smith,\nI would appreciate it if you could send the invoice.",
                greeting: Some("Dear Mr Smith,"),
                sign_off: Some("Kind regards,"),
            },
            Sample {
                body: "Dear Ms Lee,\nPlease find the report attached. I would appreciate your feedback.",
                greeting: Some("Dear Ms Lee,"),
                sign_off: Some("Kind regards,"),
            },
        ];
        let c = profile(&casual);
        let f = profile(&formal);
        assert!(c.formality < 0.4 && f.formality > 0.6, "{} {}", c.formality, f.formality);
        assert_eq!(f.greetings[0].text, "Dear");
        assert_eq!(f.sign_offs[0], Share { text: "Kind regards,".into(), count: 2, share: 1.0 });
        assert_eq!(c.top_emoji.len(), 2);
        assert!((c.exclamation_rate - 0.5).abs() < 1e-9);
        assert_eq!(f.words_p90, 13);
        assert!(f.frequent_phrases.iter().any(|p| p.text == "would appreciate"), "{:?}", f.frequent_phrases);
    }
}

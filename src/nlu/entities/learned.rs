//! The learned entity extractor: a per-bot sequence labeller
//! ([`crate::ml::labeller`]) trained with the intents from the annotated
//! examples. Each word of a text (the extractors' [`tokenize`] words) gets
//!
//! - the encoder's contextual vector: the mean of its word pieces' vectors
//!   (pieces mapped to words by byte offsets), unit length, scaled;
//! - word, shape, prefix/suffix and neighbour-word features;
//! - gazetteer features: which list, regex or system entity covers the word
//!   (`B`/`I`), so a known value helps find unseen ones in the same place.
//!   They are dropped from half the training passes of a sentence, so the
//!   model also learns the context (else it would trust the list alone).
//!
//! The label of a span is entity + role + group together; tags are BIO and
//! the decoder only produces well-formed spans, mapped back to character
//! offsets.

use std::collections::{BTreeSet, HashMap};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::EntityMatch;
use super::text::{CharIndex, Token, tokenize};
use crate::ml::embedder::TokenVectors;
use crate::ml::labeller::{self, LabellerConfig, Position, Rng, Sequence, SequenceModel};
use crate::nlu::model::Annotation;

/// Marks the end of a model file that carries a labeller after the intent model.
const TRAILER: &[u8; 8] = b"BBLABEL1";

/// Training settings of the learned extractor.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct LearnedConfig {
    pub labeller: LabellerConfig,
    /// Length of a word's encoder vector among the sparse features (each 1).
    pub dense_scale: f32,
    /// Share of training passes a sentence is seen without its gazetteer features.
    pub gazetteer_dropout: f32,
}

impl Default for LearnedConfig {
    fn default() -> Self {
        LearnedConfig { labeller: LabellerConfig::default(), dense_scale: 2.0, gazetteer_dropout: 0.5 }
    }
}

/// What a span is labelled: entity, role and group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Label {
    pub entity: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

impl Label {
    fn of(a: &Annotation) -> Label {
        Label { entity: a.entity.clone(), role: a.role.clone(), group: a.group.clone() }
    }
}

/// One annotated training text with its encoder output and the bot's
/// list/regex/system matches in it.
pub struct TrainText<'a> {
    pub text: &'a str,
    pub annotations: &'a [Annotation],
    pub tokens: &'a TokenVectors,
    pub gazetteer: &'a [EntityMatch],
}

/// Figures of a training run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LearnedReport {
    pub labels: Vec<Label>,
    pub texts: usize,
    pub spans: usize,
    pub features: usize,
    pub train_seconds: f64,
}

/// A trained extractor.
#[derive(Debug, Clone, PartialEq)]
pub struct EntityLabeller {
    pub labels: Vec<Label>,
    terms: Vec<String>,
    index: HashMap<String, u32>,
    config: LearnedConfig,
    dense_dim: usize,
    model: SequenceModel,
}

#[derive(Serialize, Deserialize)]
struct Header {
    labels: Vec<Label>,
    terms: Vec<String>,
    config: LearnedConfig,
    dense_dim: usize,
}

/// A word with its character offsets.
struct Word<'t> {
    token: &'t Token,
    start: usize,
    end: usize,
}

fn words<'t>(tokens: &'t [Token], index: &CharIndex) -> Vec<Word<'t>> {
    tokens.iter().map(|t| Word { token: t, start: index.char_at(t.start), end: index.char_at(t.end) }).collect()
}

fn shape(word: &str) -> String {
    let mut out = String::new();
    for c in word.chars() {
        let s = if c.is_uppercase() {
            'X'
        } else if c.is_lowercase() {
            'x'
        } else if c.is_ascii_digit() {
            'd'
        } else {
            c
        };
        if !out.ends_with(s) {
            out.push(s);
        }
    }
    out
}

/// Sparse features of each word, as strings.
fn word_features(text: &str, ws: &[Word<'_>], gazetteer: &[EntityMatch]) -> Vec<(Vec<String>, Vec<String>)> {
    let lower = |i: isize| -> &str {
        usize::try_from(i)
            .ok()
            .and_then(|i| ws.get(i))
            .map_or(if i < 0 { "<s>" } else { "</s>" }, |w| w.token.lower.as_str())
    };
    ws.iter()
        .enumerate()
        .map(|(i, w)| {
            let written = &text[w.token.start..w.token.end];
            let chars: Vec<char> = w.token.lower.chars().collect();
            let k = isize::try_from(i).unwrap_or(isize::MAX);
            let mut f = vec![
                format!("w={}", w.token.lower),
                format!("shape={}", shape(written)),
                format!("w-1={}", lower(k - 1)),
                format!("w+1={}", lower(k + 1)),
                format!("w-2={}", lower(k - 2)),
                format!("w+2={}", lower(k + 2)),
                format!("w-1,w={}|{}", lower(k - 1), w.token.lower),
            ];
            for n in 1..=3 {
                if chars.len() > n {
                    f.push(format!("p{n}={}", chars[..n].iter().collect::<String>()));
                    f.push(format!("s{n}={}", chars[chars.len() - n..].iter().collect::<String>()));
                }
            }
            if written.chars().next().is_some_and(char::is_uppercase) {
                f.push(if i == 0 { "title@0".into() } else { "title".into() });
            }
            if chars.iter().any(char::is_ascii_digit) {
                f.push("has_digit".into());
            }
            if i == 0 {
                f.push("first".into());
            }
            if i + 1 == ws.len() {
                f.push("last".into());
            }
            let mut gaz = Vec::new();
            for m in gazetteer {
                if m.start <= w.start && w.end <= m.end {
                    let bio = if m.start == w.start { "B" } else { "I" };
                    let kind = if m.extractor == "fuzzy" { "list" } else { m.extractor.as_str() };
                    gaz.push(format!("gaz={bio}-{kind}-{}", m.entity));
                    gaz.push(format!("gaz={kind}-{}", m.entity));
                }
            }
            (f, gaz)
        })
        .collect()
}

/// Each word's encoder vector: the mean of the word pieces overlapping it,
/// unit length times `scale` (empty when no piece does, e.g. truncated).
fn word_vectors(ws: &[Word<'_>], tokens: &TokenVectors, scale: f32) -> Vec<Vec<f32>> {
    let dim = tokens.vectors.first().map_or(0, Vec::len);
    ws.iter()
        .map(|w| {
            let mut v = vec![0.0_f32; dim];
            let mut n = 0;
            for ((s, e), piece) in tokens.offsets.iter().zip(&tokens.vectors) {
                if *s < w.token.end && w.token.start < *e && piece.len() == dim {
                    n += 1;
                    for (x, y) in v.iter_mut().zip(piece) {
                        *x += y;
                    }
                }
            }
            if n == 0 {
                return Vec::new();
            }
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-9);
            v.iter_mut().for_each(|x| *x *= scale / norm);
            v
        })
        .collect()
}

/// Gold BIO tags of words from annotations (a word overlapping a span is in it).
fn gold_tags(ws: &[Word<'_>], annotations: &[Annotation], labels: &[Label]) -> Vec<usize> {
    let mut tags = vec![0; ws.len()];
    for a in annotations {
        let Ok(k) = labels.binary_search(&Label::of(a)) else { continue };
        let mut first = true;
        for (i, w) in ws.iter().enumerate() {
            if w.start < a.end && a.start < w.end {
                tags[i] = if first { 2 * k + 1 } else { 2 * k + 2 };
                first = false;
            }
        }
    }
    tags
}

impl EntityLabeller {
    /// Trains on the texts; `None` when no text has an annotation.
    #[must_use]
    pub fn train(texts: &[TrainText<'_>], config: &LearnedConfig) -> Option<(EntityLabeller, LearnedReport)> {
        let started = std::time::Instant::now();
        let labels: Vec<Label> = texts
            .iter()
            .flat_map(|t| t.annotations.iter().map(Label::of))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if labels.is_empty() {
            return None;
        }
        let dense_dim = texts.iter().find_map(|t| t.tokens.vectors.first().map(Vec::len)).unwrap_or(0);
        let mut index: HashMap<String, u32> = HashMap::new();
        let mut terms: Vec<String> = Vec::new();
        let mut gazetteer_feature: Vec<bool> = Vec::new();
        let mut intern = |s: String, gaz: bool| -> u32 {
            if let Some(&i) = index.get(&s) {
                return i;
            }
            let i = u32::try_from(terms.len()).unwrap_or(u32::MAX);
            index.insert(s.clone(), i);
            terms.push(s);
            gazetteer_feature.push(gaz);
            i
        };
        let mut data = Vec::with_capacity(texts.len());
        let mut spans = 0;
        for t in texts {
            let tokens = tokenize(t.text);
            let ci = CharIndex::new(t.text);
            let ws = words(&tokens, &ci);
            let vectors = word_vectors(&ws, t.tokens, config.dense_scale);
            let features = word_features(t.text, &ws, t.gazetteer);
            let positions = features
                .into_iter()
                .zip(vectors)
                .map(|((f, g), dense)| {
                    let mut sparse: Vec<u32> = f.into_iter().map(|s| intern(s, false)).collect();
                    sparse.extend(g.into_iter().map(|s| intern(s, true)));
                    Position { dense, sparse }
                })
                .collect();
            spans += t.annotations.len();
            data.push(Sequence { positions, tags: gold_tags(&ws, t.annotations, &labels) });
        }
        let dropout = config.gazetteer_dropout;
        let view = |seq: &Sequence, rng: &mut Rng| -> Option<Vec<Position>> {
            let has_gazetteer = seq.positions.iter().any(|p| p.sparse.iter().any(|&f| gazetteer_feature[f as usize]));
            #[allow(clippy::cast_precision_loss, reason = "a probability")]
            let drop = has_gazetteer && (rng.next_u64() % 1_000_000) as f32 / 1_000_000.0 < dropout;
            drop.then(|| {
                seq.positions
                    .iter()
                    .map(|p| Position {
                        dense: p.dense.clone(),
                        sparse: p.sparse.iter().copied().filter(|&f| !gazetteer_feature[f as usize]).collect(),
                    })
                    .collect()
            })
        };
        let model = labeller::train(&data, labels.len(), dense_dim, terms.len(), &config.labeller, &view);
        let report = LearnedReport {
            labels: labels.clone(),
            texts: texts.len(),
            spans,
            features: terms.len(),
            train_seconds: started.elapsed().as_secs_f64(),
        };
        Some((EntityLabeller { labels, terms, index, config: *config, dense_dim, model }, report))
    }

    /// The spans the model finds in `text` (extractor `learned`, confidence
    /// = the mean marginal probability of the span's tags).
    #[must_use]
    #[allow(clippy::cast_precision_loss, reason = "a span's length in words")]
    pub fn predict(&self, text: &str, tokens: &TokenVectors, gazetteer: &[EntityMatch]) -> Vec<EntityMatch> {
        let toks = tokenize(text);
        let ci = CharIndex::new(text);
        let ws = words(&toks, &ci);
        if ws.is_empty() {
            return Vec::new();
        }
        let mut vectors = word_vectors(&ws, tokens, self.config.dense_scale);
        for v in &mut vectors {
            if v.len() != self.dense_dim {
                v.clear();
            }
        }
        let positions: Vec<Position> = word_features(text, &ws, gazetteer)
            .into_iter()
            .zip(vectors)
            .map(|((f, g), dense)| Position {
                dense,
                sparse: f.iter().chain(&g).filter_map(|s| self.index.get(s).copied()).collect(),
            })
            .collect();
        let emissions = self.model.emissions(&positions);
        let path = self.model.decode(&emissions);
        let marginals = self.model.marginals(&emissions);
        let tags = self.model.tags();
        let mut out = Vec::new();
        let mut i = 0;
        while i < path.len() {
            let t = path[i];
            if t % 2 == 1 {
                let mut j = i + 1;
                while j < path.len() && path[j] == t + 1 {
                    j += 1;
                }
                let label = &self.labels[(t - 1) / 2];
                let probability: f32 =
                    (i..j).map(|k| marginals.get(k * tags + path[k]).copied().unwrap_or(0.0)).sum::<f32>()
                        / (j - i) as f32;
                let (start, end) = (ws[i].token.start, ws[j - 1].token.end);
                let value = text[start..end].to_owned();
                out.push(EntityMatch {
                    entity: label.entity.clone(),
                    resolved: json!(value),
                    value,
                    start: ws[i].start,
                    end: ws[j - 1].end,
                    extractor: "learned".into(),
                    confidence: (f64::from(probability.clamp(0.0, 1.0)) * 1000.0).round() / 1000.0,
                    role: label.role.clone(),
                    group: label.group.clone(),
                });
                i = j;
            } else {
                i += 1;
            }
        }
        out
    }

    /// The extractor as bytes: a JSON header (labels, feature names,
    /// settings), then the weights.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = Header {
            labels: self.labels.clone(),
            terms: self.terms.clone(),
            config: self.config,
            dense_dim: self.dense_dim,
        };
        let json = serde_json::to_vec(&header).unwrap_or_default();
        let mut out = Vec::with_capacity(json.len() + 8);
        out.extend_from_slice(&u32::try_from(json.len()).unwrap_or(u32::MAX).to_le_bytes());
        out.extend_from_slice(&json);
        out.extend(self.model.weight_bytes());
        out
    }

    /// Reads [`EntityLabeller::to_bytes`] output.
    pub fn from_bytes(bytes: &[u8]) -> anyhow::Result<EntityLabeller> {
        let (len, rest) = bytes.split_at_checked(4).context("truncated entity model")?;
        let len = u32::from_le_bytes(len.try_into().context("length")?) as usize;
        let (json, weights) = rest.split_at_checked(len).context("truncated entity model header")?;
        let h: Header = serde_json::from_slice(json).context("entity model header")?;
        let model = SequenceModel::from_weight_bytes(h.labels.len(), h.dense_dim, h.terms.len(), weights)?;
        let index =
            h.terms.iter().enumerate().map(|(i, t)| (t.clone(), u32::try_from(i).unwrap_or(u32::MAX))).collect();
        Ok(EntityLabeller { labels: h.labels, terms: h.terms, index, config: h.config, dense_dim: h.dense_dim, model })
    }
}

/// A model file: the intent model's bytes, then (when the bot has
/// annotations) the entity labeller's, its length and a trailer.
#[must_use]
pub fn join_model_file(intent: Vec<u8>, labeller: Option<&EntityLabeller>) -> Vec<u8> {
    let mut out = intent;
    if let Some(l) = labeller {
        let bytes = l.to_bytes();
        out.extend_from_slice(&bytes);
        out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        out.extend_from_slice(TRAILER);
    }
    out
}

/// Splits a model file into the intent model's bytes and the labeller.
pub fn split_model_file(bytes: &[u8]) -> anyhow::Result<(&[u8], Option<EntityLabeller>)> {
    let Some(rest) = bytes.strip_suffix(TRAILER.as_slice()) else { return Ok((bytes, None)) };
    let Some((rest, len)) = rest.split_at_checked(rest.len().saturating_sub(8)) else { bail!("truncated model file") };
    let len = usize::try_from(u64::from_le_bytes(len.try_into().context("length")?)).context("length")?;
    let Some((intent, labeller)) = rest.split_at_checked(rest.len().saturating_sub(len)) else {
        bail!("truncated model file")
    };
    if labeller.len() != len {
        bail!("truncated entity model");
    }
    Ok((intent, Some(EntityLabeller::from_bytes(labeller)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Token vectors without the encoder: one piece per word, a vector that
    /// depends on the word (capitalised words point one way).
    fn fake_tokens(text: &str) -> TokenVectors {
        let mut out = TokenVectors::default();
        for t in tokenize(text) {
            let capital = text[t.start..t.end].chars().next().is_some_and(char::is_uppercase);
            out.offsets.push((t.start, t.end));
            out.vectors.push(vec![if capital { 1.0 } else { 0.0 }, if capital { 0.0 } else { 1.0 }, 0.5]);
        }
        out
    }

    fn ann(text: &str, value: &str, entity: &str, role: Option<&str>) -> Annotation {
        let byte = text.find(value).expect("value in text");
        let start = text[..byte].chars().count();
        Annotation {
            entity: entity.into(),
            value: value.into(),
            start,
            end: start + value.chars().count(),
            role: role.map(Into::into),
            group: None,
        }
    }

    fn trips() -> Vec<(String, Vec<Annotation>)> {
        let pairs = [
            ("Berlin", "Paris"),
            ("Madrid", "Rome"),
            ("Oslo", "Lisbon"),
            ("Vienna", "Prague"),
            ("Dublin", "Athens"),
            ("Zürich", "Genève"),
            ("New York", "Boston"),
        ];
        let mut out = Vec::new();
        for (a, b) in pairs {
            let t = format!("I want to fly from {a} to {b} please");
            let anns = vec![ann(&t, a, "city", Some("from")), ann(&t, b, "city", Some("to"))];
            out.push((t.clone(), anns));
            let t = format!("a ticket to {b} from {a}");
            let anns = vec![ann(&t, b, "city", Some("to")), ann(&t, a, "city", Some("from"))];
            out.push((t, anns));
        }
        out.push(("hello there".into(), vec![]));
        out.push(("what can you do".into(), vec![]));
        out
    }

    fn train_trips() -> EntityLabeller {
        let data = trips();
        let tokens: Vec<TokenVectors> = data.iter().map(|(t, _)| fake_tokens(t)).collect();
        let texts: Vec<TrainText<'_>> = data
            .iter()
            .zip(&tokens)
            .map(|((text, annotations), tokens)| TrainText { text, annotations, tokens, gazetteer: &[] })
            .collect();
        EntityLabeller::train(&texts, &LearnedConfig::default()).expect("annotations").0
    }

    #[test]
    fn finds_unseen_values_with_roles_and_character_offsets() {
        let model = train_trips();
        // Unseen cities, multibyte text before them: offsets are characters.
        let text = "Ça va? fly from Köln to Málaga please";
        let found = model.predict(text, &fake_tokens(text), &[]);
        let brief: Vec<(&str, &str, Option<&str>, usize, usize)> =
            found.iter().map(|m| (m.entity.as_str(), m.value.as_str(), m.role.as_deref(), m.start, m.end)).collect();
        assert_eq!(brief, vec![("city", "Köln", Some("from"), 16, 20), ("city", "Málaga", Some("to"), 24, 30)]);
        let chars: Vec<char> = text.chars().collect();
        for m in &found {
            assert_eq!(chars[m.start..m.end].iter().collect::<String>(), m.value);
            assert_eq!(m.extractor, "learned");
            assert!(m.confidence > 0.5 && m.confidence <= 1.0, "{}", m.confidence);
        }
    }

    #[test]
    fn training_is_deterministic_and_round_trips() {
        let a = train_trips();
        let b = train_trips();
        assert_eq!(a, b);
        let bytes = a.to_bytes();
        assert_eq!(bytes, b.to_bytes());
        let back = EntityLabeller::from_bytes(&bytes).expect("read");
        assert_eq!(back, a);
        assert!(EntityLabeller::from_bytes(&bytes[..bytes.len() - 3]).is_err());
        // In a model file after the intent model's bytes.
        let file = join_model_file(b"intent-bytes".to_vec(), Some(&a));
        let (intent, labeller) = split_model_file(&file).expect("split");
        assert_eq!(intent, b"intent-bytes");
        assert_eq!(labeller, Some(a));
        let (plain, none) = split_model_file(b"intent-bytes").expect("no labeller");
        assert_eq!((plain, none), (b"intent-bytes".as_slice(), None));
        assert!(split_model_file(&file[3..]).is_ok_and(|(i, _)| i.len() == 9));
        assert!(split_model_file(&file[file.len() - 12..]).is_err(), "truncated");
    }

    #[test]
    fn spans_are_well_formed_on_any_input() {
        let model = train_trips();
        for text in ["", "   ", "to to to from from", "Paris Paris Paris", "from", "ñ", "from A to B to C to D"] {
            let found = model.predict(text, &fake_tokens(text), &[]);
            let n = text.chars().count();
            let mut last_end = 0;
            for m in &found {
                assert!(m.start < m.end && m.end <= n, "{text:?}: {m:?}");
                assert!(m.start >= last_end, "spans do not overlap: {text:?}");
                last_end = m.end;
            }
        }
    }

    #[test]
    fn no_annotations_train_nothing() {
        let tokens = fake_tokens("hello");
        let texts = [TrainText { text: "hello", annotations: &[], tokens: &tokens, gazetteer: &[] }];
        assert!(EntityLabeller::train(&texts, &LearnedConfig::default()).is_none());
    }
}

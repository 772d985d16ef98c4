//! Language identification of incoming messages with `whatlang` (MIT):
//! trigram profiles of 70 languages in ~1 MB of code, no model files, a few
//! microseconds per message. `lingua` is more accurate on very short texts
//! but its models take hundreds of megabytes and minutes of build time —
//! too much for a single self-contained binary.
//!
//! A message is given a language only when there is enough text to tell:
//! fewer than [`MIN_LETTERS`] letters, a script whatlang does not know
//! (emoji, Cherokee…) or a guess below [`MIN_CONFIDENCE`] is `None`, never
//! an error. Mixed-language text gets its dominant language (the trigram
//! profile that most of the text matches).

use serde::{Deserialize, Serialize};
use whatlang::Lang;

/// Fewer letters than this carry no reliable signal ("ok", "hi", "👍").
pub const MIN_LETTERS: usize = 3;
/// Texts of a script shared by several languages (Latin, Cyrillic, Arabic,
/// Devanagari) need this many letters; a script of one language (Hangul,
/// Thai, Georgian, Japanese kana…) tells with [`MIN_LETTERS`].
pub const MIN_SHARED_SCRIPT_LETTERS: usize = 8;
/// Guesses less sure than this are no detection.
pub const MIN_CONFIDENCE: f64 = 0.1;

/// A detected language: ISO 639-1 code and whatlang's confidence (0–1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DetectedLanguage {
    #[schema(example = "de")]
    pub code: String,
    pub confidence: f64,
}

/// The language of `text`, if it can be told.
#[must_use]
pub fn detect(text: &str) -> Option<DetectedLanguage> {
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    if letters < MIN_LETTERS {
        return None;
    }
    let info = whatlang::detect(text)?;
    if info.script().langs().len() > 1 && letters < MIN_SHARED_SCRIPT_LETTERS {
        return None;
    }
    let confidence = (info.confidence() * 1000.0).round() / 1000.0;
    (confidence >= MIN_CONFIDENCE).then(|| DetectedLanguage { code: iso639_1(info.lang()).to_owned(), confidence })
}

/// A language this share of the detected texts is in counts as one of theirs.
const MAIN_LANGUAGE_SHARE: f64 = 0.1;

/// The languages of `texts` (a bot's examples): each language at least
/// [`MAIN_LANGUAGE_SHARE`] of the texts whose language can be told is in,
/// most frequent first; empty when none can be told.
#[must_use]
pub fn main_languages(texts: &[&str]) -> Vec<String> {
    let mut counts: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for t in texts {
        if let Some(d) = detect(t) {
            *counts.entry(d.code).or_default() += 1;
        }
    }
    let detected: usize = counts.values().sum();
    #[allow(clippy::cast_precision_loss, reason = "counts become a share")]
    let mut main: Vec<(String, usize)> =
        counts.into_iter().filter(|&(_, n)| n as f64 >= MAIN_LANGUAGE_SHARE * detected as f64).collect();
    main.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    main.into_iter().map(|(code, _)| code).collect()
}

/// Every language that can be detected, as ISO 639-1 codes (sorted): the
/// languages a bot may be given (`bots.language`, besides `auto`).
#[must_use]
pub fn supported() -> Vec<&'static str> {
    let mut codes: Vec<&'static str> = Lang::all().iter().map(|l| iso639_1(*l)).collect();
    codes.sort_unstable();
    codes
}

/// Whether a language tag's primary subtag (`pt` of `pt-BR`) can be detected.
#[must_use]
pub fn is_supported(tag: &str) -> bool {
    let primary = tag.split('-').next().unwrap_or_default().to_ascii_lowercase();
    Lang::all().iter().any(|l| iso639_1(*l) == primary)
}

/// The ISO 639-1 code of a whatlang language (whatlang names them by ISO 639-3).
#[must_use]
pub fn iso639_1(lang: Lang) -> &'static str {
    match lang {
        Lang::Epo => "eo",
        Lang::Eng => "en",
        Lang::Rus => "ru",
        Lang::Cmn => "zh",
        Lang::Spa => "es",
        Lang::Por => "pt",
        Lang::Ita => "it",
        Lang::Ben => "bn",
        Lang::Fra => "fr",
        Lang::Deu => "de",
        Lang::Ukr => "uk",
        Lang::Kat => "ka",
        Lang::Ara => "ar",
        Lang::Hin => "hi",
        Lang::Jpn => "ja",
        Lang::Heb => "he",
        Lang::Yid => "yi",
        Lang::Pol => "pl",
        Lang::Amh => "am",
        Lang::Jav => "jv",
        Lang::Kor => "ko",
        Lang::Nob => "nb",
        Lang::Dan => "da",
        Lang::Swe => "sv",
        Lang::Fin => "fi",
        Lang::Tur => "tr",
        Lang::Nld => "nl",
        Lang::Hun => "hu",
        Lang::Ces => "cs",
        Lang::Ell => "el",
        Lang::Bul => "bg",
        Lang::Bel => "be",
        Lang::Mar => "mr",
        Lang::Kan => "kn",
        Lang::Ron => "ro",
        Lang::Slv => "sl",
        Lang::Hrv => "hr",
        Lang::Srp => "sr",
        Lang::Mkd => "mk",
        Lang::Lit => "lt",
        Lang::Lav => "lv",
        Lang::Est => "et",
        Lang::Tam => "ta",
        Lang::Vie => "vi",
        Lang::Urd => "ur",
        Lang::Tha => "th",
        Lang::Guj => "gu",
        Lang::Uzb => "uz",
        Lang::Pan => "pa",
        Lang::Aze => "az",
        Lang::Ind => "id",
        Lang::Tel => "te",
        Lang::Pes => "fa",
        Lang::Mal => "ml",
        Lang::Ori => "or",
        Lang::Mya => "my",
        Lang::Nep => "ne",
        Lang::Sin => "si",
        Lang::Khm => "km",
        Lang::Tuk => "tk",
        Lang::Aka => "ak",
        Lang::Zul => "zu",
        Lang::Sna => "sn",
        Lang::Afr => "af",
        Lang::Lat => "la",
        Lang::Slk => "sk",
        Lang::Cat => "ca",
        Lang::Tgl => "tl",
        Lang::Hye => "hy",
        Lang::Cym => "cy",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The least share of xSID utterances detected right in any language.
    const MIN_XSID_RIGHT: f64 = 0.3;

    fn code(text: &str) -> Option<String> {
        detect(text).map(|d| d.code)
    }

    #[test]
    fn languages_of_whole_sentences() {
        assert_eq!(code("Ich möchte heute Abend einen Tisch für zwei Personen reservieren"), Some("de".to_owned()));
        assert_eq!(code("Je voudrais réserver une table pour deux personnes ce soir"), Some("fr".to_owned()));
        assert_eq!(code("Quisiera reservar una mesa para dos personas esta noche"), Some("es".to_owned()));
        assert_eq!(code("Gostaria de reservar uma mesa para duas pessoas hoje à noite"), Some("pt".to_owned()));
        assert_eq!(code("Vorrei prenotare un tavolo per due persone stasera"), Some("it".to_owned()));
        assert_eq!(code("I would like to book a table for two people tonight"), Some("en".to_owned()));
        assert_eq!(code("今日の天気はどうですか"), Some("ja".to_owned()));
        assert_eq!(code("오늘 날씨가 어때요"), Some("ko".to_owned()));
        assert_eq!(code("Я хотел бы забронировать столик на двоих"), Some("ru".to_owned()));
    }

    #[test]
    fn mixed_text_gets_its_dominant_language() {
        let mixed = "Ich möchte bitte meine Bestellung stornieren, die ich gestern aufgegeben habe, thanks";
        assert_eq!(code(mixed), Some("de".to_owned()));
    }

    #[test]
    fn a_bots_main_languages_are_those_of_a_tenth_of_its_examples() {
        let mut texts = vec!["I would like to book a table for two people tonight"; 12];
        texts.extend(["Ich möchte heute Abend einen Tisch für zwei Personen reservieren"; 3]);
        texts.push("Je voudrais réserver une table pour deux personnes ce soir");
        texts.extend(["ok", "👍"]);
        assert_eq!(main_languages(&texts), ["en", "de"], "one French example of 16 is noise");
        assert!(main_languages(&["ok", "hi"]).is_empty());
    }

    #[test]
    fn too_short_or_unknown_is_none() {
        assert_eq!(detect(""), None);
        assert_eq!(detect("ok"), None);
        assert_eq!(detect("hola"), None, "four Latin letters cannot tell Spanish from Catalan");
        assert_eq!(detect("👍👍👍 🎉"), None);
        assert_eq!(detect("12345 67 89"), None);
        assert_eq!(detect("ᏣᎳᎩ ᎦᏬᏂᎯᏍᏗ ᎠᏓᏅᏙ"), None, "Cherokee: a script whatlang does not know");
    }

    /// Detection on the xSID test utterances (short commands, 500 per
    /// language; `../shared/data/xsid`, beside the repository): how many get
    /// their language, none, or another. Run with `--ignored`.
    #[test]
    #[ignore = "needs ../shared/data/xsid"]
    fn xsid_utterances() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/xsid");
        let languages = [
            ("ar", "ar"),
            ("da", "da"),
            ("de", "de"),
            ("en", "en"),
            ("it", "it"),
            ("ja", "ja"),
            ("nl", "nl"),
            ("no", "nb"),
            ("tr", "tr"),
            ("zh", "zh"),
        ];
        for (dir, expected) in languages {
            let text = std::fs::read_to_string(root.join(dir).join("test.jsonl")).expect("xsid test set");
            let (mut right, mut none, mut total) = (0, 0, 0);
            for line in text.lines() {
                let row: serde_json::Value = serde_json::from_str(line).expect("json line");
                let utterance = row["text"].as_str().unwrap_or_default();
                total += 1;
                match detect(utterance) {
                    Some(d) if d.code == expected => right += 1,
                    None => none += 1,
                    Some(_) => {}
                }
            }
            let share = |n: i32| f64::from(n) / f64::from(total);
            eprintln!(
                "xsid {dir}: {total} utterances, right {:.3}, none {:.3}, other {:.3}",
                share(right),
                share(none),
                share(total - right - none)
            );
            assert!(total >= 100 && share(right) >= MIN_XSID_RIGHT, "{dir}: {right} of {total}");
        }
    }

    #[test]
    fn supported_codes_are_iso_639_1() {
        let all = supported();
        assert_eq!(all.len(), 70);
        assert!(all.iter().all(|c| c.len() == 2 && c.chars().all(|ch| ch.is_ascii_lowercase())));
        assert!(is_supported("pt-BR") && is_supported("DE") && is_supported("zh"));
        assert!(!is_supported("tlh") && !is_supported("xx"));
    }
}

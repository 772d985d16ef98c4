//! The two sentence encoders: the built-in English model (all-MiniLM-L6-v2,
//! inside the binary, loaded at start) and multilingual-e5-small, which is
//! too large for the binary (81 MB). Its two files are produced by
//! `models/fetch-e5.sh`, found next to the executable, in the build's
//! `models/` folder or in `ml.multilingual_dir`, verified by SHA-256 and
//! loaded on first use only: a server whose bots and knowledge bases are all
//! English starts and runs as before.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use super::{Embedder, EmbedderOptions};
use crate::config::MlConfig;

/// The model file and its tokenizer, as `models/fetch-e5.sh` writes them.
pub const MULTILINGUAL_MODEL_FILE: &str = "multilingual-e5-small-qint8.onnx";
pub const MULTILINGUAL_TOKENIZER_FILE: &str = "multilingual-e5-small-tokenizer.json";
/// Their SHA-256 (models/SHA256SUMS): another file is refused.
const MULTILINGUAL_MODEL_SHA256: &str = "2bc797aa3304d7f767f8c20b81aa9261d76fb8b46b9bfe9647e2530cba0c6395";
const MULTILINGUAL_TOKENIZER_SHA256: &str = "e77ca2ccfeb4558bc817ecb0598f4c3f0d57a6d7195f77c9223470ff65cb1707";

/// A sentence encoder a bot's NLU or a knowledge base can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Encoder {
    /// all-MiniLM-L6-v2: English, built in (or `ml.model_path`).
    #[serde(rename = "all-MiniLM-L6-v2")]
    MiniLm,
    /// multilingual-e5-small: about 100 languages; its vocabulary is cut to
    /// the Latin, Arabic, Han and kana scripts.
    #[serde(rename = "multilingual-e5-small")]
    Multilingual,
}

impl Encoder {
    pub const ALL: [Encoder; 2] = [Encoder::MiniLm, Encoder::Multilingual];

    /// The name the API uses.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Encoder::MiniLm => "all-MiniLM-L6-v2",
            Encoder::Multilingual => "multilingual-e5-small",
        }
    }

    /// The encoder of an API name.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Encoder> {
        Encoder::ALL.into_iter().find(|e| e.name() == name)
    }

    /// The encoder a bot of `language` (a BCP 47 tag or `auto`) uses by
    /// default: English keeps the English model, everything else (and
    /// `auto`, which may be any language) the multilingual one.
    #[must_use]
    pub fn for_language(language: &str) -> Encoder {
        let primary = language.split(['-', '_']).next().unwrap_or_default();
        if primary.eq_ignore_ascii_case("en") { Encoder::MiniLm } else { Encoder::Multilingual }
    }

    /// The encoder whose vectors a trained model or a stored chunk came
    /// from, by the embedder identity recorded with it (`name@hash`).
    #[must_use]
    pub fn of_model_id(model_id: &str) -> Encoder {
        if model_id.starts_with("multilingual-e5-small") { Encoder::Multilingual } else { Encoder::MiniLm }
    }
}

/// Where the multilingual files are looked for, in order.
fn candidate_dirs(config: &MlConfig) -> Vec<PathBuf> {
    if let Some(dir) = &config.multilingual_dir {
        return vec![dir.clone()];
    }
    let beside_binary = std::env::current_exe().ok().and_then(|p| p.parent().map(Path::to_path_buf));
    // Then the checkout's models/ folder, where models/fetch-e5.sh puts them (a
    // developer's build; an installed binary has them beside it).
    let checkout = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/models"));
    beside_binary.into_iter().chain(std::iter::once(checkout)).collect()
}

/// The folder holding both multilingual files.
fn locate(config: &MlConfig) -> anyhow::Result<PathBuf> {
    let dirs = candidate_dirs(config);
    dirs.iter()
        .find(|d| d.join(MULTILINGUAL_MODEL_FILE).is_file() && d.join(MULTILINGUAL_TOKENIZER_FILE).is_file())
        .cloned()
        .with_context(|| {
            let looked: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
            format!(
                "the multilingual model ({MULTILINGUAL_MODEL_FILE}, {MULTILINGUAL_TOKENIZER_FILE}) is not installed: \
                 looked in {}; run models/fetch-e5.sh and put the files next to the binary or in ml.multilingual_dir",
                looked.join(", ")
            )
        })
}

fn verify(path: &Path, expected: &str) -> anyhow::Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let actual = crate::crypto::sha256_hex(&bytes);
    if actual != expected {
        bail!("{} has SHA-256 {actual}, not the {expected} this server was built for", path.display());
    }
    Ok(())
}

/// Finds, verifies and loads the multilingual encoder (blocking: about a
/// second), with the server's inference settings and E5's prefixes.
pub fn load_multilingual(config: &MlConfig) -> anyhow::Result<Embedder> {
    let dir = locate(config)?;
    let (model, tokenizer) = (dir.join(MULTILINGUAL_MODEL_FILE), dir.join(MULTILINGUAL_TOKENIZER_FILE));
    verify(&model, MULTILINGUAL_MODEL_SHA256)?;
    verify(&tokenizer, MULTILINGUAL_TOKENIZER_SHA256)?;
    let options = EmbedderOptions {
        model_path: Some(model),
        tokenizer_path: Some(tokenizer),
        query_prefix: "query: ".into(),
        passage_prefix: "passage: ".into(),
        model_name: Some(Encoder::Multilingual.name().to_owned()),
        ..config.embedder_options()
    };
    Embedder::load(&options, config.runtime_path.as_deref(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_keeps_minilm_and_other_languages_get_the_multilingual_model() {
        for tag in ["en", "en-US", "EN_gb"] {
            assert_eq!(Encoder::for_language(tag), Encoder::MiniLm, "{tag}");
        }
        for tag in ["de", "pt-BR", "ja", "ar", "auto"] {
            assert_eq!(Encoder::for_language(tag), Encoder::Multilingual, "{tag}");
        }
        assert_eq!(Encoder::from_name("multilingual-e5-small"), Some(Encoder::Multilingual));
        assert_eq!(Encoder::from_name("e5"), None);
        assert_eq!(Encoder::of_model_id("multilingual-e5-small@2bc797aa3304"), Encoder::Multilingual);
        assert_eq!(Encoder::of_model_id("all-MiniLM-L6-v2-qint8@e8d378b69ef5"), Encoder::MiniLm);
    }

    #[test]
    fn a_missing_model_says_where_it_looked_and_how_to_get_it() {
        let config = MlConfig { multilingual_dir: Some(PathBuf::from("/nonexistent/e5")), ..MlConfig::default() };
        let error = format!("{:#}", load_multilingual(&config).err().expect("no files there"));
        assert!(error.contains("/nonexistent/e5") && error.contains("fetch-e5.sh"), "{error}");
    }
}

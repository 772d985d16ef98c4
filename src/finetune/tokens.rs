//! Token counts of dataset rows with the tokenizer of the model they train:
//! `OpenAI`'s BPE encodings (bundled in `tiktoken-rs`, nothing fetched at
//! run time) for generative models, the shipped `MiniLM` tokenizer for NLU
//! sets.

use std::sync::LazyLock;

use tiktoken_rs::CoreBPE;
use tiktoken_rs::tokenizer::{Tokenizer as Encoding, get_tokenizer};

use super::dataset::RowData;
use super::model::DatasetKind;

/// Tokens `OpenAI` adds per chat message (role and separators) and once per
/// conversation (the reply's priming), as its cookbook counts them.
const TOKENS_PER_MESSAGE: u64 = 3;
const TOKENS_PER_CONVERSATION: u64 = 3;

static MINILM: LazyLock<Option<tokenizers::Tokenizer>> = LazyLock::new(|| {
    crate::ml::embedder::shipped_tokenizer().map_err(|e| tracing::warn!(error = %e, "no MiniLM tokenizer")).ok()
});

/// A tokenizer chosen for a model.
pub enum TokenCounter {
    Bpe { name: &'static str, bpe: &'static CoreBPE },
    MiniLm(&'static tokenizers::Tokenizer),
}

impl TokenCounter {
    /// The tokenizer of `base_model` for a dataset of `kind`: NLU sets count
    /// with `MiniLM`; generative models with their `OpenAI` encoding, or
    /// `o200k_base` (today's models') when the name is not one of `OpenAI`'s.
    pub fn for_model(kind: DatasetKind, base_model: &str) -> anyhow::Result<TokenCounter> {
        if kind == DatasetKind::Classification {
            if let Some(t) = MINILM.as_ref() {
                return Ok(TokenCounter::MiniLm(t));
            }
            anyhow::bail!("the shipped MiniLM tokenizer cannot be read");
        }
        let encoding = get_tokenizer(base_model).unwrap_or(Encoding::O200kBase);
        let name = match encoding {
            Encoding::O200kBase => "o200k_base",
            Encoding::O200kHarmony => "o200k_harmony",
            Encoding::Cl100kBase => "cl100k_base",
            Encoding::P50kBase => "p50k_base",
            Encoding::P50kEdit => "p50k_edit",
            Encoding::R50kBase | Encoding::Gpt2 => "r50k_base",
        };
        Ok(TokenCounter::Bpe { name, bpe: tiktoken_rs::bpe_for_tokenizer(encoding)? })
    }

    /// The tokenizer's name as the report shows it.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            TokenCounter::Bpe { name, .. } => name,
            TokenCounter::MiniLm(_) => "minilm",
        }
    }

    /// Tokens of one text.
    #[must_use]
    pub fn count(&self, text: &str) -> u64 {
        let n = match self {
            TokenCounter::Bpe { bpe, .. } => bpe.encode_with_special_tokens(text).len(),
            // Without the [CLS]/[SEP] the encoder adds: the text's own tokens.
            TokenCounter::MiniLm(t) => t.encode(text, false).map_or(text.len() / 4, |e| e.len()),
        };
        u64::try_from(n).unwrap_or(u64::MAX)
    }

    /// Tokens of one row as training bills it.
    #[must_use]
    pub fn count_row(&self, row: &RowData) -> u64 {
        match row {
            RowData::Chat(messages) => {
                messages.iter().map(|m| TOKENS_PER_MESSAGE + self.count(&m.role) + self.count(&m.content)).sum::<u64>()
                    + TOKENS_PER_CONVERSATION
            }
            RowData::Labelled { text, .. } => self.count(text),
        }
    }
}

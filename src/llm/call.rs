//! One model call through a chain of providers: the first provider (with its
//! retries), then each fallback in turn when the failure is one another
//! provider may not have (429, 5xx, timeout, unreachable). Streams fall back
//! only before their first delta: a half-sent answer is not restarted.

use std::time::Instant;

use super::client::{self, ChatOptions, Completion, DeltaStream, LlmError, Message, ProviderConfig, Usage};
use super::model::LlmProviderId;
use crate::app::AppState;

/// One provider of a chain, with the model to ask and its prices.
#[derive(Debug, Clone)]
pub struct Target {
    pub provider_id: LlmProviderId,
    pub provider_name: String,
    pub config: ProviderConfig,
    /// Micro-units of the currency per 1M prompt / completion tokens.
    pub input_price_micros: u64,
    pub output_price_micros: u64,
}

impl Target {
    /// The cost of `usage` in micro-units (rounded to the nearest micro).
    #[must_use]
    pub fn cost_micros(&self, usage: Usage) -> u64 {
        let micro_tokens = u128::from(usage.prompt_tokens) * u128::from(self.input_price_micros)
            + u128::from(usage.completion_tokens) * u128::from(self.output_price_micros);
        u64::try_from((micro_tokens + 500_000) / 1_000_000).unwrap_or(u64::MAX)
    }
}

/// The providers to try, in order (never empty).
#[derive(Debug, Clone)]
pub struct Chain {
    targets: Vec<Target>,
}

impl Chain {
    /// A chain from its first provider and its fallbacks (`None` when empty).
    #[must_use]
    pub fn new(targets: Vec<Target>) -> Option<Chain> {
        (!targets.is_empty()).then_some(Chain { targets })
    }

    /// The first provider.
    #[must_use]
    pub fn primary(&self) -> &Target {
        &self.targets[0]
    }

    /// All providers in order.
    #[must_use]
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }
}

/// What a call did, besides its answer.
#[derive(Debug, Clone)]
pub struct Served {
    /// The provider that answered (or the last one tried).
    pub target: Target,
    /// Requests made over all providers.
    pub attempts: u32,
    /// Whether a fallback provider answered.
    pub fell_back: bool,
    pub latency_ms: u64,
}

/// A failed call: the last error and what was tried.
#[derive(Debug)]
pub struct Failed {
    pub error: LlmError,
    pub served: Served,
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A plain completion through the chain.
pub async fn complete(
    state: &AppState,
    chain: &Chain,
    messages: &[Message],
    opts: &ChatOptions,
) -> Result<(Completion, Served), Failed> {
    walk(chain, "call", |target| async move {
        client::complete(state, &target.config, messages, opts).await.map(|c| {
            let n = c.attempts;
            (c, n)
        })
    })
    .await
}

/// A streamed completion through the chain (fallback before the first delta).
pub async fn stream(
    state: &AppState,
    chain: &Chain,
    messages: &[Message],
    opts: &ChatOptions,
) -> Result<(DeltaStream, Served), Failed> {
    walk(chain, "stream", |target| async move { client::stream_counted(state, &target.config, messages, opts).await })
        .await
}

/// Calls the chain's providers in order until one answers; falls back only
/// after a retryable failure (retried to the end by the client). `call`
/// answers the result with the requests it took.
async fn walk<'a, T, F, Fut>(chain: &'a Chain, what: &str, mut call: F) -> Result<(T, Served), Failed>
where
    F: FnMut(&'a Target) -> Fut,
    Fut: std::future::Future<Output = Result<(T, u32), LlmError>>,
{
    let started = Instant::now();
    let mut attempts = 0;
    let mut last = None;
    for (i, target) in chain.targets.iter().enumerate() {
        match call(target).await {
            Ok((answer, n)) => {
                attempts += n;
                let served =
                    Served { target: target.clone(), attempts, fell_back: i > 0, latency_ms: elapsed_ms(started) };
                return Ok((answer, served));
            }
            Err(e) => {
                // A retryable failure was retried to the end; any other one stopped at once.
                let fall_back = e.retryable();
                attempts += if fall_back { target.config.max_retries + 1 } else { 1 };
                tracing::warn!(provider = %target.provider_name, error = %e.kind(), fall_back, "LLM {what} failed");
                last = Some((e, i));
                if !fall_back {
                    break;
                }
            }
        }
    }
    let (error, i) = last.unwrap_or((LlmError::Unreachable("no provider".into()), 0));
    let served =
        Served { target: chain.targets[i].clone(), attempts, fell_back: i > 0, latency_ms: elapsed_ms(started) };
    Err(Failed { error, served })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn cost_is_per_million_tokens_rounded() {
        let t = Target {
            provider_id: LlmProviderId(1),
            provider_name: "p".into(),
            config: ProviderConfig {
                base_url: "http://x".into(),
                model: "m".into(),
                api_key: None,
                timeout: Duration::from_secs(1),
                max_retries: 0,
                format: client::ApiFormat::OpenAi,
            },
            input_price_micros: 2_500_000,
            output_price_micros: 10_000_000,
        };
        let u = Usage { prompt_tokens: 1000, completion_tokens: 200, total_tokens: 1200 };
        // 1000 × 2.5 + 200 × 10 = 4500 micros.
        assert_eq!(t.cost_micros(u), 4500);
        assert_eq!(t.cost_micros(Usage { prompt_tokens: 1, completion_tokens: 0, total_tokens: 1 }), 3);
        assert!(Chain::new(Vec::new()).is_none());
    }
}

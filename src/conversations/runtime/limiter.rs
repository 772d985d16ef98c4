//! Token buckets per key (a widget session, a client address): `rate`
//! tokens per second, at most `rate` saved up.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use serde_json::json;

use crate::error::{AppError, AppResult, ErrorCode};

/// Most keys remembered before idle ones are dropped.
const MAX_KEYS: usize = 100_000;

#[derive(Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// Takes one token for `key`, or answers 429 `rate_limited`.
    pub fn check(&self, key: &str, rate: u32) -> AppResult<()> {
        let rate = f64::from(rate.max(1));
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_KEYS {
            buckets.retain(|_, (tokens, at)| *tokens + now.duration_since(*at).as_secs_f64() * rate < rate);
        }
        let (tokens, at) = buckets.entry(key.to_owned()).or_insert((rate, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(rate);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(AppError::new(ErrorCode::RateLimited, format!("more than {rate} messages per second; slow down"))
                .with_details(json!({ "retry_after_secs": 1, "limit_per_second": rate })))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_rate_then_refuses() {
        let l = RateLimiter::default();
        for _ in 0..3 {
            l.check("a", 3).expect("within the rate");
        }
        assert_eq!(l.check("a", 3).expect_err("over").code(), ErrorCode::RateLimited);
        l.check("b", 3).expect("another key has its own bucket");
    }
}

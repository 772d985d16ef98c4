//! Abuse limits on the authentication endpoints (sign-in, sign-up, password
//! reset, emailed tokens, API-token creation): token buckets per client IP
//! and per account, in memory (`governor`, GCRA). Over the limit the answer
//! is 429 `rate_limited` with `Retry-After`.
//!
//! The buckets live in the process: a restart forgets them, which is fine
//! for abuse limits (the admin console's lockout, which must survive, is
//! kept in `admin_login_attempts`).

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use serde_json::json;

use crate::config::{Limit, RateLimitsConfig};
use crate::error::{AppError, AppResult, ErrorCode};

type Keyed = RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock>;

/// The endpoint families that are limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// Sign-in (users and the admin console).
    Login,
    /// Sign-up.
    Register,
    /// Requests that send a password-reset or verification email.
    Reset,
    /// Endpoints taking an emailed token, and API-token creation.
    Token,
}

impl Bucket {
    fn name(self) -> &'static str {
        match self {
            Bucket::Login => "login",
            Bucket::Register => "register",
            Bucket::Reset => "reset",
            Bucket::Token => "token",
        }
    }
}

struct Pair {
    ip: Option<Keyed>,
    account: Option<Keyed>,
}

impl Pair {
    fn new(limit: Limit) -> Pair {
        Pair { ip: limiter(limit.per_ip, limit.window_secs), account: limiter(limit.per_account, limit.window_secs) }
    }
}

fn limiter(count: u32, window_secs: u64) -> Option<Keyed> {
    let burst = NonZeroU32::new(count)?;
    let period = Duration::from_secs(window_secs.max(1)) / count;
    Quota::with_period(period).map(|q| RateLimiter::keyed(q.allow_burst(burst)))
}

/// Every limiter of the process.
pub struct RateLimits {
    enabled: bool,
    login: Pair,
    register: Pair,
    reset: Pair,
    token: Pair,
    checks: AtomicU64,
}

impl RateLimits {
    #[must_use]
    pub fn new(config: &RateLimitsConfig) -> RateLimits {
        RateLimits {
            enabled: config.enabled,
            login: Pair::new(config.login),
            register: Pair::new(config.register),
            reset: Pair::new(config.reset),
            token: Pair::new(config.token),
            checks: AtomicU64::new(0),
        }
    }

    fn pair(&self, bucket: Bucket) -> &Pair {
        match bucket {
            Bucket::Login => &self.login,
            Bucket::Register => &self.register,
            Bucket::Reset => &self.reset,
            Bucket::Token => &self.token,
        }
    }

    /// Counts one request from `ip` about `account` (an email or user id;
    /// lower-case it first) and refuses it when either bucket is empty.
    pub fn check(&self, bucket: Bucket, ip: Option<&str>, account: Option<&str>) -> AppResult<()> {
        if !self.enabled {
            return Ok(());
        }
        if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            self.forget_idle();
        }
        let pair = self.pair(bucket);
        for (limiter, key, scope) in [(&pair.ip, ip, "ip"), (&pair.account, account, "account")] {
            let (Some(limiter), Some(key)) = (limiter, key) else { continue };
            if let Err(not_until) = limiter.check_key(&key.to_owned()) {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                tracing::info!(bucket = bucket.name(), scope, "rate limited");
                return Err(AppError::new(
                    ErrorCode::RateLimited,
                    format!("too many attempts; try again in {} s", secs.max(1)),
                )
                .with_details(json!({ "retry_after_secs": secs.max(1), "scope": scope })));
            }
        }
        Ok(())
    }

    /// Drops buckets that are full again, so memory follows recent clients.
    fn forget_idle(&self) {
        for pair in [&self.login, &self.register, &self.reset, &self.token] {
            for limiter in [&pair.ip, &pair.account].into_iter().flatten() {
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_over_the_burst_per_key_and_reports_retry_after() {
        let config = RateLimitsConfig {
            login: Limit { per_ip: 3, per_account: 2, window_secs: 60 },
            ..RateLimitsConfig::default()
        };
        let limits = RateLimits::new(&config);
        assert!(limits.check(Bucket::Login, Some("1.1.1.1"), Some("a@x.io")).is_ok());
        assert!(limits.check(Bucket::Login, Some("1.1.1.1"), Some("a@x.io")).is_ok());
        let err = limits.check(Bucket::Login, Some("1.1.1.1"), Some("a@x.io")).expect_err("account limit");
        assert_eq!(err.code(), ErrorCode::RateLimited);
        assert_eq!(err.details().expect("details")["scope"], "account");
        assert!(err.details().expect("details")["retry_after_secs"].as_u64().expect("secs") >= 1);
        // The third attempt used the IP's last slot: another account from it is refused too.
        assert!(limits.check(Bucket::Login, Some("1.1.1.1"), Some("b@x.io")).is_err());
        assert!(limits.check(Bucket::Login, Some("2.2.2.2"), Some("b@x.io")).is_ok());
        // Other buckets are independent.
        assert!(limits.check(Bucket::Token, Some("1.1.1.1"), None).is_ok());
    }

    #[test]
    fn disabled_limits_allow_everything() {
        let config = RateLimitsConfig { enabled: false, ..RateLimitsConfig::default() };
        let limits = RateLimits::new(&config);
        for _ in 0..100 {
            assert!(limits.check(Bucket::Register, Some("1.1.1.1"), None).is_ok());
        }
    }
}

//! Abuse limits on the authentication endpoints (sign-in, sign-up, password
//! reset, emailed tokens, API-token creation): token buckets per client IP
//! and per account, in memory (`governor`, GCRA). Over the limit the answer
//! is 429 `rate_limited` with `Retry-After`.
//!
//! The buckets live in the process: a restart forgets them, which is fine
//! for abuse limits (the admin console's lockout, which must survive, is
//! kept in `admin_login_attempts`).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

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
    /// Every bucket.
    pub const ALL: [Bucket; 4] = [Bucket::Login, Bucket::Register, Bucket::Reset, Bucket::Token];

    /// The bucket's name (`login`, `register`, `reset`, `token`).
    #[must_use]
    pub fn name(self) -> &'static str {
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

/// A client refused recently: `bucket:scope:key`, until when, how often.
#[derive(Debug, Clone, PartialEq)]
pub struct Blocked {
    /// `bucket:scope:key` (e.g. `login:ip:203.0.113.9`): what unblocking names.
    pub id: String,
    pub bucket: &'static str,
    /// `ip` or `account`.
    pub scope: &'static str,
    pub key: String,
    /// When the client may try again.
    pub until: SystemTime,
    /// Requests refused since the client was first refused.
    pub refusals: u64,
}

#[derive(Default)]
struct Blocks {
    /// Refused clients by id.
    refused: HashMap<String, Blocked>,
    /// Clients unblocked by an administrator: their bucket key gets this
    /// generation as a suffix, so they start with a full bucket.
    generation: HashMap<String, u64>,
}

/// Every limiter of the process.
pub struct RateLimits {
    enabled: bool,
    config: RateLimitsConfig,
    login: Pair,
    register: Pair,
    reset: Pair,
    token: Pair,
    checks: AtomicU64,
    blocks: Mutex<Blocks>,
}

impl RateLimits {
    #[must_use]
    pub fn new(config: &RateLimitsConfig) -> RateLimits {
        RateLimits {
            enabled: config.enabled,
            config: config.clone(),
            blocks: Mutex::new(Blocks::default()),
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
            let id = format!("{}:{scope}:{key}", bucket.name());
            let bucket_key = self.bucket_key(&id);
            if let Err(not_until) = limiter.check_key(&bucket_key) {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                tracing::info!(bucket = bucket.name(), scope, "rate limited");
                self.note_refusal(id, bucket, scope, key, wait);
                return Err(AppError::new(
                    ErrorCode::RateLimited,
                    format!("too many attempts; try again in {} s", secs.max(1)),
                )
                .with_details(json!({ "retry_after_secs": secs.max(1), "scope": scope })));
            }
        }
        Ok(())
    }

    /// The limits in force.
    #[must_use]
    pub fn config(&self) -> &RateLimitsConfig {
        &self.config
    }

    fn bucket_key(&self, id: &str) -> String {
        let generation = self.blocks.lock().ok().and_then(|b| b.generation.get(id).copied()).unwrap_or(0);
        if generation == 0 { id.to_owned() } else { format!("{id}#{generation}") }
    }

    fn note_refusal(&self, id: String, bucket: Bucket, scope: &'static str, key: &str, wait: Duration) {
        let Ok(mut blocks) = self.blocks.lock() else { return };
        let until = SystemTime::now() + wait;
        let entry = blocks.refused.entry(id.clone()).or_insert_with(|| Blocked {
            id,
            bucket: bucket.name(),
            scope,
            key: key.to_owned(),
            until,
            refusals: 0,
        });
        entry.until = until;
        entry.refusals += 1;
    }

    /// The clients refused now (their wait is not over), longest wait first.
    #[must_use]
    pub fn blocked(&self) -> Vec<Blocked> {
        let now = SystemTime::now();
        let Ok(mut blocks) = self.blocks.lock() else { return Vec::new() };
        blocks.refused.retain(|_, b| b.until > now);
        let mut out: Vec<Blocked> = blocks.refused.values().cloned().collect();
        out.sort_by(|a, b| b.until.cmp(&a.until).then_with(|| a.id.cmp(&b.id)));
        out
    }

    /// Lets a refused client in again at once (a fresh, full bucket);
    /// `false` when no client of that id is refused now.
    pub fn unblock(&self, id: &str) -> bool {
        let now = SystemTime::now();
        let Ok(mut blocks) = self.blocks.lock() else { return false };
        let was_blocked = blocks.refused.remove(id).is_some_and(|b| b.until > now);
        if was_blocked {
            *blocks.generation.entry(id.to_owned()).or_default() += 1;
        }
        was_blocked
    }

    /// Unblocks every refused client; answers how many.
    pub fn unblock_all(&self) -> usize {
        let ids: Vec<String> = self.blocked().into_iter().map(|b| b.id).collect();
        ids.iter().filter(|id| self.unblock(id)).count()
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
    fn refused_clients_are_listed_and_unblocking_gives_them_a_full_bucket() {
        let config = RateLimitsConfig {
            login: Limit { per_ip: 2, per_account: 0, window_secs: 3600 },
            ..RateLimitsConfig::default()
        };
        let limits = RateLimits::new(&config);
        assert!(limits.blocked().is_empty());
        for _ in 0..2 {
            assert!(limits.check(Bucket::Login, Some("9.9.9.9"), None).is_ok());
        }
        assert!(limits.check(Bucket::Login, Some("9.9.9.9"), None).is_err());
        assert!(limits.check(Bucket::Login, Some("9.9.9.9"), None).is_err());
        let blocked = limits.blocked();
        assert_eq!(blocked.len(), 1);
        assert_eq!(blocked[0].id, "login:ip:9.9.9.9");
        assert_eq!((blocked[0].bucket, blocked[0].scope, blocked[0].refusals), ("login", "ip", 2));
        assert!(!limits.unblock("login:ip:1.1.1.1"));
        assert!(limits.unblock("login:ip:9.9.9.9"));
        assert!(limits.blocked().is_empty());
        // A full bucket again: two more, then refused again.
        assert!(limits.check(Bucket::Login, Some("9.9.9.9"), None).is_ok());
        assert!(limits.check(Bucket::Login, Some("9.9.9.9"), None).is_ok());
        assert!(limits.check(Bucket::Login, Some("9.9.9.9"), None).is_err());
        assert_eq!(limits.unblock_all(), 1);
        assert!(limits.check(Bucket::Login, Some("9.9.9.9"), None).is_ok());
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

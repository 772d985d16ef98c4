//! Send windows and quiet hours in the recipient's timezone: the first
//! moment at or after a due time when a message may go. Postpones, never
//! drops: a window that is open for at least one minute a day is always
//! found within eight days.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// A daily interval of local time; `start > end` crosses midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Daily {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl Daily {
    /// Parses `HH:MM`–`HH:MM`; `None` for a malformed time.
    #[must_use]
    pub fn parse(start: &str, end: &str) -> Option<Daily> {
        Some(Daily { start: parse_hm(start)?, end: parse_hm(end)? })
    }

    fn contains(self, t: NaiveTime) -> bool {
        if self.start <= self.end { self.start <= t && t < self.end } else { t >= self.start || t < self.end }
    }
}

/// `HH:MM` with 00–23 and 00–59.
#[must_use]
pub fn parse_hm(s: &str) -> Option<NaiveTime> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    NaiveTime::from_hms_opt(h.parse().ok()?, m.parse().ok()?, 0)
}

/// When messages may go.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub window: Option<Daily>,
    pub quiet: Option<Daily>,
}

impl Rules {
    /// May a message go at local time `t`?
    #[must_use]
    pub fn allows(&self, t: NaiveTime) -> bool {
        self.window.is_none_or(|w| w.contains(t)) && !self.quiet.is_some_and(|q| q.contains(t))
    }

    /// Is there any minute of the day a message may go?
    #[must_use]
    pub fn ever_open(&self) -> bool {
        (0..24 * 60).any(|m| NaiveTime::from_hms_opt(m / 60, m % 60, 0).is_some_and(|t| self.allows(t)))
    }

    /// The first instant at or after `due` allowed in `tz`.
    #[must_use]
    pub fn next_allowed(&self, due: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
        let local = due.with_timezone(&tz);
        if self.allows(local.time()) {
            return due;
        }
        let openings: Vec<NaiveTime> =
            [self.window.map(|w| w.start), self.quiet.map(|q| q.end)].into_iter().flatten().collect();
        let mut best: Option<DateTime<Utc>> = None;
        for day in 0..=8 {
            let date = local.date_naive() + Duration::days(day);
            for &at in &openings {
                let Some(candidate) = tz.from_local_datetime(&date.and_time(at)).earliest() else { continue };
                let candidate = candidate.with_timezone(&Utc);
                if candidate > due
                    && self.allows(candidate.with_timezone(&tz).time())
                    && best.is_none_or(|b| candidate < b)
                {
                    best = Some(candidate);
                }
            }
            if best.is_some() {
                break;
            }
        }
        best.unwrap_or(due + Duration::days(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc)).unwrap_or_default()
    }

    #[test]
    fn a_due_time_outside_the_window_moves_to_the_next_local_opening() {
        let rules = Rules { window: Daily::parse("09:00", "20:00"), quiet: None };
        let ny: Tz = "America/New_York".parse().unwrap_or(Tz::UTC);
        // 23:30 UTC = 18:30 in New York (open).
        assert_eq!(rules.next_allowed(utc("2026-12-07T23:30:00Z"), ny), utc("2026-12-07T23:30:00Z"));
        // 02:00 UTC = 21:00 in New York: next day 09:00 local = 14:00 UTC.
        assert_eq!(rules.next_allowed(utc("2026-12-08T02:00:00Z"), ny), utc("2026-12-08T14:00:00Z"));
    }

    #[test]
    fn quiet_hours_across_midnight_postpone_to_their_end() {
        let rules = Rules { window: None, quiet: Daily::parse("22:00", "08:00") };
        let paris: Tz = "Europe/Paris".parse().unwrap_or(Tz::UTC);
        // 23:00 UTC = 00:00 in Paris (quiet): 08:00 Paris = 07:00 UTC.
        assert_eq!(rules.next_allowed(utc("2026-12-07T23:00:00Z"), paris), utc("2026-12-08T07:00:00Z"));
        assert!(rules.ever_open());
        let shut = Rules { window: Daily::parse("09:00", "17:00"), quiet: Daily::parse("08:00", "18:00") };
        assert!(!shut.ever_open());
    }
}

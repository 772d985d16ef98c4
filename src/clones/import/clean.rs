//! Cleaning a reply before it becomes training data: quoted text, the
//! signature and the sign-off block come off (the greeting and sign-off are
//! kept aside for the style profile), PII can be scrubbed, and a normalized
//! form is hashed for de-duplication.

use std::sync::LazyLock;

use regex::Regex;
use sha2::{Digest, Sha256};

/// A reply taken apart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cleaned {
    /// The reply without quotes, signature and sign-off block.
    pub body: String,
    /// The opening line when it is a greeting ("Hi Anna,").
    pub greeting: Option<String>,
    /// The sign-off line ("Best,"), without the name under it.
    pub sign_off: Option<String>,
}

#[allow(clippy::unwrap_used, reason = "constant patterns, checked by the tests")]
static ATTRIBUTION: LazyLock<Regex> = LazyLock::new(|| {
    // "On Tue, 3 Mar 2026 at 10:00, Anna <anna@x> wrote:" (possibly wrapped over two lines)
    // and Outlook's "-----Original Message-----" / "From: …" header blocks.
    Regex::new(r"(?i)^(on\b.{0,200}\bwrote:?\s*$|-{2,}\s*original message\s*-{2,}|_{10,}\s*$|from:\s.+)").unwrap()
});
#[allow(clippy::unwrap_used, reason = "constant patterns, checked by the tests")]
static GREETING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(hi|hello|hey|hiya|dear|good (morning|afternoon|evening)|greetings|morning|yo)\b[^.!?\n]{0,40}[,!:.]?\s*$")
        .unwrap()
});
#[allow(clippy::unwrap_used, reason = "constant patterns, checked by the tests")]
static SIGN_OFF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^(best|best wishes|best regards|kind regards|warm regards|regards|cheers|thanks|thank you|many thanks|thanks again|thx|ta|sincerely|yours sincerely|yours truly|all the best|talk soon|speak soon|take care|love|xo|br)\b[ ,.!]*$",
    )
    .unwrap()
});
#[allow(clippy::unwrap_used, reason = "constant patterns, checked by the tests")]
static DEVICE_SIGNATURE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(sent from my \w+|get outlook for \w+|sent from (mail|yahoo mail) for)").unwrap()
});

/// Cuts quoted text: `>` lines and everything from an attribution line on.
#[must_use]
pub fn strip_quotes(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut kept = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        if ATTRIBUTION.is_match(trimmed) {
            break;
        }
        // An attribution wrapped over two lines: "On Tue, … Anna" / "<anna@x> wrote:".
        if trimmed.to_lowercase().starts_with("on ")
            && lines.get(i + 1).is_some_and(|next| next.trim_end().to_lowercase().ends_with("wrote:"))
        {
            break;
        }
        if trimmed.starts_with('>') {
            continue;
        }
        kept.push(*line);
    }
    kept.join("\n")
}

/// The quoted lines of a reply (`>` removed), the best context an email can
/// give when the message it answers is not in the export.
#[must_use]
pub fn quoted_text(text: &str) -> String {
    let quoted: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix('>'))
        .map(|l| l.trim_start_matches('>').trim())
        .filter(|l| !l.is_empty() && !ATTRIBUTION.is_match(l))
        .collect();
    quoted.join("\n")
}

/// Takes a reply apart (after [`strip_quotes`]).
#[must_use]
pub fn clean_reply(text: &str) -> Cleaned {
    let mut lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    // The signature: everything after the "-- " delimiter, and device footers.
    if let Some(cut) = lines.iter().position(|l| *l == "--" || *l == "-- ") {
        lines.truncate(cut);
    }
    lines.retain(|l| !DEVICE_SIGNATURE.is_match(l.trim()));
    trim_blank(&mut lines);
    // The sign-off block: a sign-off line followed by at most two short lines (the name).
    let mut sign_off = None;
    let tail_start = lines.len().saturating_sub(3);
    if let Some(at) = (tail_start..lines.len()).find(|&i| SIGN_OFF.is_match(lines[i].trim())) {
        let rest_is_name = lines[at + 1..].iter().all(|l| l.trim().chars().count() <= 40);
        if rest_is_name && at > 0 {
            sign_off = Some(lines[at].trim().to_owned());
            lines.truncate(at);
        }
    }
    trim_blank(&mut lines);
    let greeting = lines.first().copied().map(str::trim).filter(|l| GREETING.is_match(l)).map(str::to_owned);
    Cleaned { body: lines.join("\n").trim().to_owned(), greeting, sign_off }
}

fn trim_blank(lines: &mut Vec<&str>) {
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    while lines.first().is_some_and(|l| l.trim().is_empty()) {
        lines.remove(0);
    }
}

#[allow(clippy::unwrap_used, reason = "constant patterns, checked by the tests")]
static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}").unwrap());
#[allow(clippy::unwrap_used, reason = "constant patterns, checked by the tests")]
static CARD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b(?:\d[ -]?){12,18}\d\b").unwrap());
#[allow(clippy::unwrap_used, reason = "constant patterns, checked by the tests")]
static DATE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\d{4}[./-]\d{1,2}[./-]\d{1,2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4})$").unwrap());
#[allow(clippy::unwrap_used, reason = "constant patterns, checked by the tests")]
static PHONE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){2,4}").unwrap());

/// Replaces email addresses, card numbers (Luhn-valid runs of 13–19 digits)
/// and phone numbers (7–15 digits; dates are left alone) with placeholders.
#[must_use]
pub fn scrub_pii(text: &str) -> String {
    let text = EMAIL.replace_all(text, "[email]");
    let text = CARD.replace_all(&text, |c: &regex::Captures<'_>| {
        let digits: Vec<u32> = c[0].chars().filter_map(|ch| ch.to_digit(10)).collect();
        if luhn(&digits) { "[card]".to_owned() } else { c[0].to_owned() }
    });
    PHONE
        .replace_all(&text, |c: &regex::Captures<'_>| {
            let digits = c[0].chars().filter(char::is_ascii_digit).count();
            if (7..=15).contains(&digits) && !DATE.is_match(&c[0]) { "[phone]".to_owned() } else { c[0].to_owned() }
        })
        .into_owned()
}

fn luhn(digits: &[u32]) -> bool {
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                *d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Auto-replies by subject or text (vacation responders, delivery notices).
#[must_use]
pub fn looks_automatic(subject: &str, body: &str) -> bool {
    let s = subject.to_lowercase();
    let b = body.to_lowercase();
    [
        "out of office",
        "automatic reply",
        "auto-reply",
        "autoreply",
        "auto:",
        "undeliverable",
        "delivery status notification",
    ]
    .iter()
    .any(|p| s.contains(p))
        || b.starts_with("i am out of the office")
        || b.starts_with("i'm out of the office")
        || b.starts_with("i am currently out of the office")
        || b.contains("this is an automatic reply")
}

/// The de-duplication key of a pair: SHA-256 of both texts lower-cased with
/// runs of whitespace collapsed.
#[must_use]
pub fn pair_hash(context: &str, reply: &str) -> String {
    let norm = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    let mut h = Sha256::new();
    h.update(norm(context).as_bytes());
    h.update([0]);
    h.update(norm(reply).as_bytes());
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_attribution_are_cut() {
        let text =
            "Sure, Thursday works.\n\nOn Mon, 2 Mar 2026 at 09:00, Bob <bob@x.com> wrote:\n> Can we meet?\n> Bob";
        assert_eq!(strip_quotes(text).trim(), "Sure, Thursday works.");
        assert_eq!(quoted_text(text), "Can we meet?\nBob");
        let wrapped = "Yes.\nOn Mon, 2 Mar 2026 at 09:00, Bob Builder\n<bob@x.com> wrote:\n> hi";
        assert_eq!(strip_quotes(wrapped).trim(), "Yes.");
    }

    #[test]
    fn signature_and_sign_off_come_off_and_are_kept_aside() {
        let c = clean_reply("Hi Bob,\n\nThursday is fine.\n\nBest,\nAnna\n-- \nAnna Smith | ACME\n+1 555 0100");
        assert_eq!(c.body, "Hi Bob,\n\nThursday is fine.");
        assert_eq!(c.greeting.as_deref(), Some("Hi Bob,"));
        assert_eq!(c.sign_off.as_deref(), Some("Best,"));
        let plain = clean_reply("Thursday is fine.\nSent from my iPhone");
        assert_eq!(plain.body, "Thursday is fine.");
        assert_eq!(plain.sign_off, None);
    }

    #[test]
    fn pii_is_scrubbed() {
        let s = scrub_pii("Mail anna@example.com or call +1 555 010 0199, card 4242 4242 4242 4242, order 12345.");
        assert_eq!(s, "Mail [email] or call [phone], card [card], order 12345.");
        assert_eq!(scrub_pii("due 2026-03-02 or 02.03.2026"), "due 2026-03-02 or 02.03.2026");
    }

    #[test]
    fn auto_replies_are_recognized_and_hashes_ignore_case_and_spacing() {
        assert!(looks_automatic("Out of Office: back Monday", "I am away"));
        assert!(!looks_automatic("Re: invoice", "Paid yesterday."));
        assert_eq!(pair_hash("Hi  there", "OK then"), pair_hash("hi there", "ok   then"));
        assert_ne!(pair_hash("a", "b"), pair_hash("a b", ""));
    }
}

//! `TwiML` out: what the caller hears. A turn's replies become `<Say>`
//! (SSML kept where the voice speaks it), a waiting question becomes a
//! `<Gather input="speech dtmf">` whose prompt is inside the gather (the
//! caller may barge in), its choices become "Press 1 for …", and a
//! `<Redirect>` after the gather comes back when the caller said nothing.

use std::fmt::Write as _;

/// How the bot speaks.
#[derive(Debug, Clone)]
pub struct Voice {
    pub voice: Option<String>,
    pub language: String,
    /// SSML allowed in the text (only voices that speak it: Amazon Polly and Google).
    pub ssml: bool,
}

impl Voice {
    #[must_use]
    pub fn new(voice: Option<String>, language: String, want_ssml: bool) -> Voice {
        let ssml = want_ssml && voice.as_deref().is_some_and(supports_ssml);
        Voice { voice, language, ssml }
    }
}

/// Whether a `<Say>` voice reads SSML (Twilio's Polly and Google voices do;
/// `man`, `woman` and `alice` do not).
#[must_use]
pub fn supports_ssml(voice: &str) -> bool {
    voice.starts_with("Polly.") || voice.starts_with("Google.")
}

/// XML text or attribute value.
#[must_use]
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// SSML elements passed through to an SSML voice; any other markup is spoken as text.
const SSML_TAGS: [&str; 9] = ["break", "emphasis", "prosody", "say-as", "sub", "p", "s", "phoneme", "lang"];

/// The text of a `<Say>`: escaped, except the SSML elements of [`SSML_TAGS`]
/// when the voice reads SSML.
#[must_use]
pub fn speech(voice: &Voice, text: &str) -> String {
    if !voice.ssml {
        return escape(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        out.push_str(&escape(&rest[..open]));
        let after = &rest[open..];
        let Some(close) = after.find('>') else {
            out.push_str(&escape(after));
            return out;
        };
        let tag = &after[..=close];
        let name = tag
            .trim_start_matches('<')
            .trim_start_matches('/')
            .split(|c: char| c.is_whitespace() || c == '/' || c == '>')
            .next()
            .unwrap_or("");
        let safe = SSML_TAGS.contains(&name) && !tag[1..tag.len() - 1].contains('<');
        if safe {
            out.push_str(tag);
        } else {
            out.push_str(&escape(tag));
        }
        rest = &after[close + 1..];
    }
    out.push_str(&escape(rest));
    out
}

/// One `<Say>`.
#[must_use]
pub fn say(voice: &Voice, text: &str) -> String {
    let mut attrs = String::new();
    if let Some(v) = &voice.voice {
        let _ = write!(attrs, " voice=\"{}\"", escape(v));
    }
    let _ = write!(attrs, " language=\"{}\"", escape(&voice.language));
    format!("<Say{attrs}>{}</Say>", speech(voice, text))
}

/// "Press 1 for Red. Press 2 for Blue." (at most nine choices get a key).
#[must_use]
pub fn menu(labels: &[String]) -> String {
    labels
        .iter()
        .take(9)
        .enumerate()
        .map(|(i, l)| format!("Press {} for {}.", i + 1, l.trim().trim_end_matches('.')))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A gather of speech and keys around the prompt, then the silence redirect.
#[must_use]
pub fn gather(voice: &Voice, prompt: &[String], action: &str, timeout_secs: u32, choices: usize) -> String {
    let digits = if (1..=9).contains(&choices) { " numDigits=\"1\"".to_owned() } else { String::new() };
    let hints = " speechTimeout=\"auto\"";
    let mut out = format!(
        "<Gather input=\"speech dtmf\" timeout=\"{timeout_secs}\"{hints}{digits} language=\"{}\" action=\"{}\" method=\"POST\">",
        escape(&voice.language),
        escape(action)
    );
    for p in prompt {
        out.push_str(&say(voice, p));
    }
    out.push_str("</Gather>");
    let silence = if action.contains('?') { format!("{action}&silence=1") } else { format!("{action}?silence=1") };
    let _ = write!(out, "<Redirect method=\"POST\">{}</Redirect>", escape(&silence));
    out
}

/// A transfer to a person: a number or a SIP URI.
#[must_use]
pub fn dial(target: &str, record_callback: Option<&str>, after: &str) -> String {
    let record = record_callback.map_or_else(String::new, |cb| {
        format!(
            " record=\"record-from-answer\" recordingStatusCallback=\"{}\" recordingStatusCallbackMethod=\"POST\"",
            escape(cb)
        )
    });
    let inner = if target.starts_with("sip:") {
        format!("<Sip>{}</Sip>", escape(target))
    } else {
        format!("<Number>{}</Number>", escape(target))
    };
    format!("<Dial timeout=\"30\" action=\"{}\" method=\"POST\"{record}>{inner}</Dial>", escape(after))
}

/// A voicemail: the caller's message is recorded and fetched into the call's files.
#[must_use]
pub fn record(callback: &str, after: &str) -> String {
    format!(
        "<Record maxLength=\"120\" playBeep=\"true\" action=\"{}\" method=\"POST\" recordingStatusCallback=\"{}\" recordingStatusCallbackMethod=\"POST\"/>",
        escape(after),
        escape(callback)
    )
}

/// A pre-recorded audio file.
#[must_use]
pub fn play(url: &str) -> String {
    format!("<Play>{}</Play>", escape(url))
}

/// The whole document.
#[must_use]
pub fn response(verbs: &str) -> String {
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>{verbs}</Response>")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain() -> Voice {
        Voice::new(Some("alice".into()), "en-US".into(), true)
    }

    #[test]
    fn text_is_escaped_and_ssml_only_passes_for_voices_that_read_it() {
        assert!(!plain().ssml);
        assert_eq!(
            say(&plain(), "Fish & <b>chips</b>"),
            "<Say voice=\"alice\" language=\"en-US\">Fish &amp; &lt;b&gt;chips&lt;/b&gt;</Say>"
        );
        let polly = Voice::new(Some("Polly.Joanna".into()), "en-US".into(), true);
        assert!(polly.ssml);
        assert_eq!(
            speech(&polly, "Hello<break time=\"300ms\"/> <emphasis>now</emphasis> <script>x</script> a<b"),
            "Hello<break time=\"300ms\"/> <emphasis>now</emphasis> &lt;script&gt;x&lt;/script&gt; a&lt;b"
        );
        let no = Voice::new(Some("Polly.Joanna".into()), "en-US".into(), false);
        assert_eq!(speech(&no, "<break/>"), "&lt;break/&gt;");
    }

    #[test]
    fn a_menu_gathers_one_key_and_silence_redirects() {
        let v = plain();
        let labels = vec!["Opening hours".to_owned(), "Orders.".to_owned()];
        assert_eq!(menu(&labels), "Press 1 for Opening hours. Press 2 for Orders.");
        let g = gather(&v, &["Pick".to_owned()], "https://h/hooks/voice/k/gather?seq=2", 5, 2);
        assert!(
            g.starts_with("<Gather input=\"speech dtmf\" timeout=\"5\" speechTimeout=\"auto\" numDigits=\"1\""),
            "{g}"
        );
        assert!(g.contains("action=\"https://h/hooks/voice/k/gather?seq=2\""), "{g}");
        assert!(
            g.ends_with("<Redirect method=\"POST\">https://h/hooks/voice/k/gather?seq=2&amp;silence=1</Redirect>"),
            "{g}"
        );
        let open = gather(&v, &[], "https://h/g?seq=1", 5, 0);
        assert!(!open.contains("numDigits"), "{open}");
        assert_eq!(
            dial("sip:desk@pbx.example.com", None, "https://h/x"),
            "<Dial timeout=\"30\" action=\"https://h/x\" method=\"POST\"><Sip>sip:desk@pbx.example.com</Sip></Dial>"
        );
        assert!(dial("+15550100", Some("https://h/r"), "https://h/x").contains("<Number>+15550100</Number>"));
    }
}

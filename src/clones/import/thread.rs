//! Chat exports: a Slack export's channel file and a WhatsApp chat .txt.
//! Consecutive messages of one author are one turn; each turn of the person
//! is a reply whose context is the turns of others just before it (at most
//! three, since the person's previous turn): in the channel's timeline, or
//! within a Slack thread (which starts with its parent message).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;

use super::{ImportError, Parsed, RawPair};

/// One message of a chat, in order.
#[derive(Debug, Clone)]
struct ChatMessage {
    author: String,
    text: String,
    line: usize,
}

/// Most turns of others taken as a reply's context.
const CONTEXT_TURNS: usize = 3;

/// Turns (an author's consecutive messages) to pairs.
fn turns_to_pairs(me: &str, messages: &[ChatMessage]) -> Vec<RawPair> {
    let mut turns: Vec<ChatMessage> = Vec::new();
    for m in messages {
        match turns.last_mut() {
            Some(last) if last.author == m.author => {
                last.text.push('\n');
                last.text.push_str(&m.text);
            }
            _ => turns.push(m.clone()),
        }
    }
    let mut pairs = Vec::new();
    for (i, turn) in turns.iter().enumerate() {
        if !turn.author.eq_ignore_ascii_case(me) || i == 0 {
            continue;
        }
        let before: Vec<&str> = turns[..i]
            .iter()
            .rev()
            .take_while(|t| !t.author.eq_ignore_ascii_case(me))
            .take(CONTEXT_TURNS)
            .map(|t| t.text.as_str())
            .collect();
        if before.is_empty() {
            continue;
        }
        let context = before.into_iter().rev().collect::<Vec<_>>().join("\n");
        pairs.push(RawPair {
            context,
            reply: turn.text.clone(),
            subject: String::new(),
            line: turn.line,
            automatic: false,
        });
    }
    pairs
}

/// A message of a Slack export's channel file.
#[derive(Debug, Deserialize)]
struct SlackMessage {
    user: Option<String>,
    text: Option<String>,
    ts: String,
    subtype: Option<String>,
    thread_ts: Option<String>,
}

#[allow(clippy::unwrap_used, reason = "constant pattern, checked by the tests")]
static SLACK_LINK: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"<(?:[^|>]+)\|([^>]+)>").unwrap());

/// A Slack channel file: `[{"user": "U1", "text": "…", "ts": "1700000000.000100"}, …]`.
pub fn slack(identity: &str, content: &str) -> Result<Parsed, ImportError> {
    let value: serde_json::Value = serde_json::from_str(content).map_err(|e| ImportError {
        line: e.line(),
        column: Some(e.column()),
        offset: None,
        message: format!("not JSON: {e}"),
    })?;
    let serde_json::Value::Array(items) = value else {
        return Err(ImportError::at(1, "a Slack channel file is a JSON array of messages"));
    };
    let mut threads: BTreeMap<String, Vec<(f64, ChatMessage)>> = BTreeMap::new();
    let count = items.len();
    for (i, item) in items.into_iter().enumerate() {
        let m: SlackMessage = serde_json::from_value(item).map_err(|e| ImportError {
            line: 1,
            column: None,
            offset: Some(i),
            message: format!("message [{i}]: {e}"),
        })?;
        let ts: f64 = m.ts.parse().map_err(|_| ImportError {
            line: 1,
            column: None,
            offset: Some(i),
            message: format!("message [{i}]: `ts` is not a Slack timestamp"),
        })?;
        // Joins, topic changes and bot posts are not anyone's writing.
        if m.subtype.as_deref().is_some_and(|s| s != "thread_broadcast") {
            continue;
        }
        let (Some(user), Some(text)) = (m.user, m.text) else { continue };
        let text = SLACK_LINK.replace_all(&text, "$1").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">");
        let message = ChatMessage { author: user, text, line: i + 1 };
        // Top-level messages are the channel's timeline; a thread's replies
        // are their own conversation, which starts with its parent.
        match m.thread_ts {
            Some(parent) if parent != m.ts => threads.entry(parent).or_default().push((ts, message)),
            Some(parent) => {
                threads.entry(parent).or_default().push((ts, message.clone()));
                threads.entry(String::new()).or_default().push((ts, message));
            }
            None => threads.entry(String::new()).or_default().push((ts, message)),
        }
    }
    let mut pairs = Vec::new();
    for (_, mut messages) in threads {
        messages.sort_by(|a, b| a.0.total_cmp(&b.0));
        let messages: Vec<ChatMessage> = messages.into_iter().map(|(_, m)| m).collect();
        pairs.extend(turns_to_pairs(identity.trim(), &messages));
    }
    Ok(Parsed { messages: count, pairs })
}

#[allow(clippy::unwrap_used, reason = "constant pattern, checked by the tests")]
static WHATSAPP_LINE: LazyLock<Regex> = LazyLock::new(|| {
    // "12/03/2024, 14:05 - Anna: text" (Android) or "[12/03/2024, 14:05:33] Anna: text" (iOS).
    Regex::new(
        r"^\[?(\d{1,4}[./-]\d{1,2}[./-]\d{1,4}),? (\d{1,2}:\d{2}(?::\d{2})?(?:\s?[AaPp]\.?\s?[Mm]\.?)?)\]?(?: -|:)? (.*)$",
    )
    .unwrap()
});

/// A WhatsApp "Export chat" text file.
pub fn whatsapp(identity: &str, content: &str) -> Result<Parsed, ImportError> {
    let mut messages: Vec<ChatMessage> = Vec::new();
    let mut seen_first = false;
    for (i, raw) in content.lines().enumerate() {
        let line = raw.trim_start_matches(['\u{200e}', '\u{200f}', '\u{feff}']).trim_end();
        if !seen_first && line.is_empty() {
            continue;
        }
        if let Some(c) = WHATSAPP_LINE.captures(line) {
            seen_first = true;
            let rest = &c[3];
            // System lines ("Messages and calls are end-to-end encrypted.") have no author.
            let Some((author, text)) = rest.split_once(": ") else { continue };
            messages.push(ChatMessage { author: author.trim().to_owned(), text: text.to_owned(), line: i + 1 });
        } else if !seen_first {
            return Err(ImportError::at(i + 1, "a WhatsApp chat export's lines start with a date and time"));
        } else if let Some(last) = messages.last_mut() {
            last.text.push('\n');
            last.text.push_str(line);
        }
    }
    let count = messages.len();
    messages.retain(|m| {
        let t = m.text.trim();
        !(t == "<Media omitted>" || t == "This message was deleted" || t.ends_with("(file attached)") || t.is_empty())
    });
    Ok(Parsed { messages: count, pairs: turns_to_pairs(identity.trim(), &messages) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_threads_pair_the_persons_turns_with_what_came_before() {
        let export = r#"[
          {"type": "message", "user": "U2", "text": "Is the deploy done?", "ts": "1700000000.000100"},
          {"type": "message", "user": "U1", "text": "Yes, <https://ci.example.com/1|build 1> is live.", "ts": "1700000060.000100"},
          {"type": "message", "subtype": "channel_join", "user": "U3", "text": "joined", "ts": "1700000070.000100"},
          {"type": "message", "user": "U1", "text": "Ping me if anything breaks.", "ts": "1700000065.000100"}
        ]"#;
        let parsed = slack("U1", export).expect("parse");
        assert_eq!(parsed.messages, 4);
        assert_eq!(parsed.pairs.len(), 1);
        assert_eq!(parsed.pairs[0].context, "Is the deploy done?");
        assert_eq!(parsed.pairs[0].reply, "Yes, build 1 is live.\nPing me if anything breaks.");
    }

    #[test]
    fn broken_slack_files_name_where() {
        let truncated = "[\n  {\"user\": \"U1\", \"text\": \"hi\", \"ts\": \"1.0\"},\n  {\"user\": \"U2\", \"te";
        let e = slack("U1", truncated).expect_err("truncated");
        assert_eq!(e.line, 3);
        let e = slack("U1", r#"[{"user": "U1", "text": "hi"}]"#).expect_err("no ts");
        assert_eq!(e.offset, Some(0));
        assert!(slack("U1", r#"{"user": "U1"}"#).is_err());
    }

    #[test]
    fn whatsapp_lines_continue_and_pair() {
        let chat = "12/03/2024, 14:00 - Messages and calls are end-to-end encrypted.\n12/03/2024, 14:05 - Bob: Are you coming tonight?\nIt starts at 8\n12/03/2024, 14:07 - Anna: Yes! See you there 🎉\n[13/03/2024, 09:00:01] Bob: <Media omitted>\n";
        let parsed = whatsapp("Anna", chat).expect("parse");
        assert_eq!(parsed.pairs.len(), 1);
        assert_eq!(parsed.pairs[0].context, "Are you coming tonight?\nIt starts at 8");
        assert_eq!(parsed.pairs[0].reply, "Yes! See you there 🎉");
        assert_eq!(parsed.pairs[0].line, 4);
        assert_eq!(whatsapp("Anna", "hello\n12/03/2024, 14:05 - Bob: x").err().map(|e| e.line), Some(1));
    }
}

//! Email exports: an mbox (messages separated by `From ` lines, mboxrd
//! `>From ` escaping undone) or one .eml. The person's messages are the
//! replies; each one's context is the message it answers (`In-Reply-To`,
//! when that message is in the export), else the text it quotes, else its
//! subject.

use std::collections::HashMap;

use mail_parser::MessageParser;

use super::clean::{quoted_text, strip_quotes};
use super::{ImportError, Parsed, RawPair};

/// One message of the export.
struct Mail {
    line: usize,
    from: String,
    message_id: Option<String>,
    in_reply_to: Option<String>,
    subject: String,
    body: String,
    automatic: bool,
}

/// An mbox.
pub fn mbox(identity: &str, content: &str) -> Result<Parsed, ImportError> {
    let mut mails = Vec::new();
    for (line, raw) in split_mbox(content)? {
        mails.push(read_mail(line, &raw)?);
    }
    Ok(pairs(identity, &mails))
}

/// One .eml message.
pub fn eml(identity: &str, content: &str) -> Result<Parsed, ImportError> {
    let mail = read_mail(1, content)?;
    Ok(pairs(identity, &[mail]))
}

/// The messages of an mbox with the line each starts on (its first header, after the `From ` line).
fn split_mbox(content: &str) -> Result<Vec<(usize, String)>, ImportError> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut current: Option<(usize, Vec<&str>)> = None;
    let mut previous_blank = true;
    for (i, line) in content.lines().enumerate() {
        let n = i + 1;
        if current.is_none() && line.trim().is_empty() {
            continue;
        }
        if line.starts_with("From ") && previous_blank {
            if let Some((start, lines)) = current.take() {
                out.push((start, lines.join("\n")));
            }
            current = Some((n + 1, Vec::new()));
        } else if let Some((_, lines)) = current.as_mut() {
            // mboxrd: a body line ">From …" stands for "From …".
            lines.push(
                line.strip_prefix('>').filter(|rest| rest.trim_start_matches('>').starts_with("From ")).unwrap_or(line),
            );
        } else {
            return Err(ImportError::at(n, "an mbox starts with a `From ` separator line"));
        }
        previous_blank = line.trim().is_empty();
    }
    if let Some((start, lines)) = current {
        out.push((start, lines.join("\n")));
    }
    Ok(out)
}

/// Parses one message that starts on `line`.
fn read_mail(line: usize, raw: &str) -> Result<Mail, ImportError> {
    let raw = raw.trim_start_matches(['\r', '\n']);
    let Some(header_end) = raw.find("\n\n").or_else(|| raw.find("\r\n\r\n")) else {
        return Err(ImportError::at(line, "the message has no blank line after its headers (truncated?)"));
    };
    let headers = &raw[..header_end];
    let header_lines = headers.lines().count();
    if let Some((i, bad)) = headers.lines().enumerate().find(|(_, l)| !l.starts_with([' ', '\t']) && !l.contains(':')) {
        return Err(ImportError::at(line + i, format!("`{}` is not a header line", shorten(bad))));
    }
    let message = MessageParser::default()
        .parse(raw.as_bytes())
        .ok_or_else(|| ImportError::at(line, "the message cannot be parsed"))?;
    let from = message
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .ok_or_else(|| ImportError::at(line, "the message has no From address"))?
        .to_lowercase();
    if let Some(boundary) = boundary(headers)
        && !raw[header_end..].contains(&format!("--{boundary}--"))
    {
        return Err(ImportError::at(
            line + header_lines + raw[header_end..].lines().count(),
            "the multipart message ends before its closing boundary (truncated?)",
        ));
    }
    let automatic =
        headers.lines().any(|l| l.to_lowercase().strip_prefix("auto-submitted:").is_some_and(|v| v.trim() != "no"));
    Ok(Mail {
        line,
        from,
        message_id: message.message_id().map(str::to_owned),
        in_reply_to: message.in_reply_to().as_text().map(str::to_owned),
        subject: message.subject().unwrap_or_default().to_owned(),
        body: message.body_text(0).map(|b| b.replace("\r\n", "\n")).unwrap_or_default(),
        automatic,
    })
}

/// The multipart boundary named in the headers, if any.
fn boundary(headers: &str) -> Option<String> {
    let lower = headers.to_lowercase();
    let at = lower.find("boundary=")? + "boundary=".len();
    let rest = &headers[at..];
    let value = if let Some(quoted) = rest.strip_prefix('"') {
        quoted.split('"').next()?
    } else {
        rest.split([';', '\n', '\r', ' ']).next()?
    };
    (!value.is_empty()).then(|| value.to_owned())
}

fn shorten(s: &str) -> String {
    s.chars().take(60).collect()
}

fn pairs(identity: &str, mails: &[Mail]) -> Parsed {
    let me = identity.trim().to_lowercase();
    let by_id: HashMap<&str, &Mail> = mails.iter().filter_map(|m| m.message_id.as_deref().map(|id| (id, m))).collect();
    let mut out = Vec::new();
    for m in mails.iter().filter(|m| m.from == me) {
        let answered = m.in_reply_to.as_deref().and_then(|id| by_id.get(id)).filter(|a| a.from != me);
        let context = if let Some(a) = answered {
            strip_quotes(&a.body).trim().to_owned()
        } else {
            let quoted = quoted_text(&m.body);
            if quoted.is_empty() { m.subject.trim_start_matches("Re: ").trim().to_owned() } else { quoted }
        };
        out.push(RawPair {
            context,
            reply: m.body.clone(),
            subject: m.subject.clone(),
            line: m.line,
            automatic: m.automatic,
        });
    }
    Parsed { messages: mails.len(), pairs: out }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MBOX: &str = "From bob@x.com Mon Mar  2 09:00:00 2026\nFrom: Bob <bob@x.com>\nTo: anna@y.com\nSubject: Call\nMessage-ID: <1@x>\n\nCan we move our call to Thursday?\n\nFrom anna@y.com Mon Mar  2 10:00:00 2026\nFrom: Anna <Anna@y.com>\nTo: bob@x.com\nSubject: Re: Call\nMessage-ID: <2@y>\nIn-Reply-To: <1@x>\n\nHi Bob,\nThursday works.\n>From now on mornings are better.\n\nBest,\nAnna\n\nOn Mon, Bob wrote:\n> Can we move our call to Thursday?\n";

    #[test]
    fn replies_pair_with_the_message_they_answer() {
        let parsed = mbox("anna@y.com", MBOX).expect("parse");
        assert_eq!(parsed.messages, 2);
        assert_eq!(parsed.pairs.len(), 1);
        let p = &parsed.pairs[0];
        assert_eq!(p.context, "Can we move our call to Thursday?");
        assert!(p.reply.contains("From now on mornings"), "{}", p.reply);
        assert_eq!(p.line, 10);
    }

    #[test]
    fn wrong_or_truncated_mboxes_name_the_line() {
        assert_eq!(mbox("a@b.c", "hello\nworld").err().map(|e| e.line), Some(1));
        let truncated = "From a@b.c Mon\nFrom: a@b.c\nSubject: x";
        assert_eq!(mbox("a@b.c", truncated).err().map(|e| e.line), Some(2));
        let bad_header = "From a@b.c Mon\nFrom: a@b.c\nthis is not a header\n\nbody";
        assert_eq!(mbox("a@b.c", bad_header).err().map(|e| e.line), Some(3));
    }
}

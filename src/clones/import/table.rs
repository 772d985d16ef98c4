//! CSV of question/answer pairs: a header row naming a `question` (or
//! `context`, `message`) column and an `answer` (or `reply`, `response`)
//! column; every row is one pair.

use super::{ImportError, Parsed, RawPair};

const CONTEXT_COLUMNS: [&str; 3] = ["question", "context", "message"];
const REPLY_COLUMNS: [&str; 3] = ["answer", "reply", "response"];

/// Parses the CSV.
pub fn csv(content: &str) -> Result<Parsed, ImportError> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(content.as_bytes());
    let headers = reader.headers().map_err(|e| csv_error(&e))?.clone();
    let find = |names: &[&str]| headers.iter().position(|h| names.contains(&h.trim().to_lowercase().as_str()));
    let (Some(q), Some(a)) = (find(&CONTEXT_COLUMNS), find(&REPLY_COLUMNS)) else {
        return Err(ImportError::at(
            1,
            "the header row must name a `question` (or `context`, `message`) and an `answer` (or `reply`, `response`) column",
        ));
    };
    let mut parsed = Parsed::default();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(&e))?;
        let line = record.position().map_or(0, |p| usize::try_from(p.line()).unwrap_or(usize::MAX));
        parsed.messages += 1;
        let (question, answer) = (record.get(q).unwrap_or_default(), record.get(a).unwrap_or_default());
        if question.trim().is_empty() && answer.trim().is_empty() {
            continue;
        }
        parsed.pairs.push(RawPair {
            context: question.trim().to_owned(),
            reply: answer.trim().to_owned(),
            subject: String::new(),
            line,
            automatic: false,
        });
    }
    Ok(parsed)
}

fn csv_error(e: &csv::Error) -> ImportError {
    let (line, offset) = e
        .position()
        .map_or((1, None), |p| (usize::try_from(p.line()).unwrap_or(usize::MAX), usize::try_from(p.byte()).ok()));
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("the row has {len} fields where the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "the text is not UTF-8".to_owned(),
        _ => e.to_string(),
    };
    ImportError { line, column: None, offset, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_become_pairs_and_ragged_rows_name_their_line() {
        let parsed = csv("Question,Answer\n\"Where is my order?\",\"It ships today, promise.\"\n").expect("parse");
        assert_eq!(parsed.pairs.len(), 1);
        assert_eq!(parsed.pairs[0].reply, "It ships today, promise.");
        let e = csv("question,answer\na,b\nc\n").expect_err("ragged");
        assert_eq!(e.line, 3);
        assert_eq!(csv("q,a\nx,y\n").err().map(|e| e.line), Some(1));
    }
}

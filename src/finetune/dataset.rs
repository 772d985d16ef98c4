//! Dataset files: parsing (JSONL, JSON, CSV) with the line of the first
//! error, the validation report, conversion between formats and the
//! seeded train/validation split. Pure functions: the service stores what
//! they produce.
//!
//! Two kinds of rows:
//! - `chat`: `{"messages": [{"role": "system"|"user"|"assistant", "content": "…"}, …]}`,
//!   `OpenAI`'s fine-tuning format; as CSV the columns `system,user,assistant`
//!   (one exchange per row).
//! - `classification`: `{"text": "…", "label": "…"}`; as CSV `text,label`.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::model::{DatasetFormat, DatasetKind};
use super::tokens::TokenCounter;
use crate::error::{AppError, ErrorCode};
use crate::http::csv::{self as csv_export, CsvWriter};

/// One message of a chat row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

/// One row of a dataset, with the line it came from (1-based; the record
/// number for CSV, counting the header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub line: usize,
    pub data: RowData,
}

/// What a row holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowData {
    Chat(Vec<ChatMessage>),
    Labelled { text: String, label: String },
}

impl RowData {
    /// The row in its JSON form (JSONL line, JSON array item).
    #[must_use]
    pub fn to_json(&self) -> Value {
        match self {
            RowData::Chat(messages) => json!({ "messages": messages }),
            RowData::Labelled { text, label } => json!({ "text": text, "label": label }),
        }
    }

    /// The label that stratifies a split (chat rows have none: they are
    /// split at random).
    fn label(&self) -> Option<&str> {
        match self {
            RowData::Labelled { label, .. } => Some(label),
            RowData::Chat(_) => None,
        }
    }

    /// Text that makes two rows duplicates of each other.
    fn identity(&self) -> String {
        match self {
            RowData::Chat(messages) => messages
                .iter()
                .map(|m| format!("{}\u{1f}{}", m.role, m.content.trim()))
                .collect::<Vec<_>>()
                .join("\u{1e}"),
            RowData::Labelled { text, .. } => text.trim().to_lowercase(),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            RowData::Chat(messages) => messages.is_empty() || messages.iter().all(|m| m.content.trim().is_empty()),
            RowData::Labelled { text, .. } => text.trim().is_empty(),
        }
    }
}

/// A parsed dataset file.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub kind: DatasetKind,
    pub rows: Vec<Row>,
}

/// 422 `dataset_invalid` at `line`.
#[must_use]
pub fn invalid(line: usize, format: DatasetFormat, message: impl std::fmt::Display) -> AppError {
    AppError::new(ErrorCode::DatasetInvalid, format!("line {line}: {message}")).with_details(
        json!({ "field": "file", "line": line, "format": format.as_str(), "reason": message.to_string() }),
    )
}

/// Parses a file of `format`. `kind` is what the caller expects; `None`
/// takes it from the first row (chat when it has `messages`, or CSV columns
/// `user`/`assistant`). The first malformed line is the error.
pub fn parse(bytes: &[u8], format: DatasetFormat, kind: Option<DatasetKind>) -> Result<Parsed, AppError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].split(|b| *b == b'\n').count();
        invalid(line, format, "the file is not UTF-8 text")
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let parsed = match format {
        DatasetFormat::Jsonl => parse_jsonl(text, kind)?,
        DatasetFormat::Json => parse_json(text, kind)?,
        DatasetFormat::Csv => parse_csv(text, kind)?,
    };
    if parsed.rows.is_empty() {
        return Err(invalid(1, format, "the file has no rows"));
    }
    Ok(parsed)
}

fn parse_jsonl(text: &str, kind: Option<DatasetKind>) -> Result<Parsed, AppError> {
    let mut kind = kind;
    let mut rows = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(raw)
            .map_err(|e| invalid(line, DatasetFormat::Jsonl, format!("not a JSON object ({e})")))?;
        let data = row_from_json(&value, &mut kind).map_err(|m| invalid(line, DatasetFormat::Jsonl, m))?;
        rows.push(Row { line, data });
    }
    Ok(Parsed { kind: kind.unwrap_or(DatasetKind::Chat), rows })
}

fn parse_json(text: &str, kind: Option<DatasetKind>) -> Result<Parsed, AppError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| invalid(e.line().max(1), DatasetFormat::Json, format!("not JSON ({e})")))?;
    let Value::Array(items) = value else {
        return Err(invalid(1, DatasetFormat::Json, "expected a JSON array of rows"));
    };
    // serde_json keeps no positions: the line of item i is found by
    // re-reading the text, so errors still point at a line.
    let lines = item_lines(text);
    let mut kind = kind;
    let mut rows = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let line = lines.get(i).copied().unwrap_or(1);
        let data = row_from_json(item, &mut kind).map_err(|m| invalid(line, DatasetFormat::Json, m))?;
        rows.push(Row { line, data });
    }
    Ok(Parsed { kind: kind.unwrap_or(DatasetKind::Chat), rows })
}

/// The line where each top-level array item of a JSON text starts.
fn item_lines(text: &str) -> Vec<usize> {
    let (mut depth, mut line, mut in_string, mut escaped) = (0_i32, 1_usize, false, false);
    let mut starts = Vec::new();
    let mut expecting = false;
    for c in text.chars() {
        if c == '\n' {
            line += 1;
        }
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        if depth == 1 && expecting && !c.is_whitespace() && c != ',' && c != ']' {
            starts.push(line);
            expecting = false;
        }
        match c {
            '"' => in_string = true,
            '[' | '{' => {
                depth += 1;
                if depth == 1 {
                    expecting = true;
                }
            }
            ']' | '}' => depth -= 1,
            ',' if depth == 1 => expecting = true,
            _ => {}
        }
    }
    starts
}

fn row_from_json(value: &Value, kind: &mut Option<DatasetKind>) -> Result<RowData, String> {
    let Value::Object(map) = value else { return Err("expected a JSON object".into()) };
    let row_kind = if map.contains_key("messages") { DatasetKind::Chat } else { DatasetKind::Classification };
    let expected = *kind.get_or_insert(row_kind);
    if expected != row_kind {
        return Err(match expected {
            DatasetKind::Chat => "expected a chat row with \"messages\"".into(),
            DatasetKind::Classification => "expected a labelled row with \"text\" and \"label\"".into(),
        });
    }
    match expected {
        DatasetKind::Chat => {
            let Some(Value::Array(items)) = map.get("messages") else {
                return Err("\"messages\" must be a list".into());
            };
            let mut messages = Vec::with_capacity(items.len());
            for (j, m) in items.iter().enumerate() {
                let role = m.get("role").and_then(Value::as_str).ok_or(format!("messages[{j}].role is missing"))?;
                let content = match m.get("content") {
                    Some(Value::String(s)) => s.clone(),
                    // An assistant turn that only calls tools has no content.
                    None | Some(Value::Null) => String::new(),
                    Some(_) => return Err(format!("messages[{j}].content must be text")),
                };
                messages.push(ChatMessage { role: role.to_owned(), content });
            }
            Ok(RowData::Chat(messages))
        }
        DatasetKind::Classification => {
            let text = map.get("text").and_then(Value::as_str).ok_or("\"text\" is missing or not text")?;
            let label = map
                .get("label")
                .or_else(|| map.get("intent"))
                .and_then(Value::as_str)
                .ok_or("\"label\" is missing or not text")?;
            Ok(RowData::Labelled { text: text.to_owned(), label: label.to_owned() })
        }
    }
}

fn parse_csv(text: &str, kind: Option<DatasetKind>) -> Result<Parsed, AppError> {
    let format = DatasetFormat::Csv;
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut records = reader.records();
    let header = match records.next() {
        None => return Err(invalid(1, format, "the file has no rows")),
        Some(r) => r.map_err(|e| invalid(1, format, format!("not valid CSV: {e}")))?,
    };
    let columns: Vec<String> = header.iter().map(|c| c.trim().to_ascii_lowercase()).collect();
    let position = |name: &str| columns.iter().position(|c| c == name);
    let found_kind = if position("user").is_some() && position("assistant").is_some() {
        DatasetKind::Chat
    } else if position("text").is_some() && (position("label").is_some() || position("intent").is_some()) {
        DatasetKind::Classification
    } else {
        return Err(invalid(1, format, "the header must name the columns text,label or system,user,assistant"));
    };
    if kind.is_some_and(|k| k != found_kind) {
        return Err(invalid(1, format, format!("the columns are those of a {} dataset", found_kind.as_str())));
    }
    let mut rows = Vec::new();
    for (i, record) in records.enumerate() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(i + 2, |p| usize::try_from(p.line()).unwrap_or(i + 2));
            invalid(line, format, format!("not valid CSV: {e}"))
        })?;
        let line = record.position().map_or(i + 2, |p| usize::try_from(p.line()).unwrap_or(i + 2));
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if record.len() != columns.len() {
            return Err(invalid(line, format, format!("expected {} columns, found {}", columns.len(), record.len())));
        }
        let cell = |name: &str| position(name).and_then(|p| record.get(p)).map(|c| csv_export::restore(c).to_owned());
        let data = match found_kind {
            DatasetKind::Chat => {
                let mut messages = Vec::new();
                for role in ["system", "user", "assistant"] {
                    if let Some(content) = cell(role).filter(|c| !(role == "system" && c.trim().is_empty())) {
                        messages.push(ChatMessage { role: role.to_owned(), content });
                    }
                }
                RowData::Chat(messages)
            }
            DatasetKind::Classification => RowData::Labelled {
                text: cell("text").unwrap_or_default(),
                label: cell("label").or_else(|| cell("intent")).unwrap_or_default(),
            },
        };
        rows.push(Row { line, data });
    }
    Ok(Parsed { kind: found_kind, rows })
}

/// Writes rows in `format`. Chat rows become CSV only when each is one
/// exchange (an optional system message, one user message, one assistant
/// reply); otherwise the line of the first that is not is the error.
pub fn render(parsed: &Parsed, format: DatasetFormat) -> Result<Vec<u8>, AppError> {
    match format {
        DatasetFormat::Jsonl => {
            let mut out = String::new();
            for row in &parsed.rows {
                out.push_str(&row.data.to_json().to_string());
                out.push('\n');
            }
            Ok(out.into_bytes())
        }
        DatasetFormat::Json => {
            let items: Vec<Value> = parsed.rows.iter().map(|r| r.data.to_json()).collect();
            Ok(serde_json::to_vec_pretty(&items).map_err(AppError::internal)?)
        }
        DatasetFormat::Csv => match parsed.kind {
            DatasetKind::Classification => {
                let mut w = CsvWriter::new(&["text", "label"]);
                for row in &parsed.rows {
                    if let RowData::Labelled { text, label } = &row.data {
                        w.row([text.as_str(), label.as_str()]);
                    }
                }
                Ok(w.finish().into_bytes())
            }
            DatasetKind::Chat => {
                let mut w = CsvWriter::new(&["system", "user", "assistant"]);
                for row in &parsed.rows {
                    let RowData::Chat(messages) = &row.data else { continue };
                    let exchange = single_exchange(messages).ok_or_else(|| {
                        AppError::new(
                            ErrorCode::ValidationFailed,
                            format!(
                                "line {}: only single exchanges (system, user, assistant) can be written as CSV; keep JSONL or JSON for longer conversations",
                                row.line
                            ),
                        )
                        .with_details(json!({ "field": "format", "line": row.line }))
                    })?;
                    w.row(exchange);
                }
                Ok(w.finish().into_bytes())
            }
        },
    }
}

fn single_exchange(messages: &[ChatMessage]) -> Option<[&str; 3]> {
    match messages {
        [s, u, a] if s.role == "system" && u.role == "user" && a.role == "assistant" => {
            Some([&s.content, &u.content, &a.content])
        }
        [u, a] if u.role == "user" && a.role == "assistant" => Some(["", &u.content, &a.content]),
        _ => None,
    }
}

/// How many examples of each list the report keeps (the counts are whole).
const REPORT_SAMPLES: usize = 50;

/// A problem of one row.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RowIssue {
    pub line: usize,
    pub message: String,
}

/// A label and its share of the rows.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LabelCount {
    pub label: String,
    pub count: usize,
    pub share: f64,
}

/// The validation report of a dataset.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DatasetReport {
    /// True when no row has a schema problem, is empty, over-long or a duplicate.
    pub ok: bool,
    pub rows: usize,
    /// Tokens of all rows (chat rows counted as the API bills them).
    pub total_tokens: u64,
    pub max_row_tokens: u64,
    pub mean_row_tokens: f64,
    /// The tokenizer that counted: `o200k_base`, `cl100k_base` or `minilm`.
    pub tokenizer: String,
    /// Rows that break the kind's rules (roles, missing reply, empty label).
    pub schema_errors: Vec<RowIssue>,
    pub schema_error_count: usize,
    pub empty_rows: Vec<usize>,
    pub empty_row_count: usize,
    /// Rows with more than `fine_tuning.max_row_tokens` tokens.
    pub over_long_rows: Vec<RowIssue>,
    pub over_long_row_count: usize,
    /// Rows equal to an earlier one (the message names it).
    pub duplicates: Vec<RowIssue>,
    pub duplicate_count: usize,
    /// Classification sets: rows per label, most frequent first.
    pub label_balance: Vec<LabelCount>,
    /// Classification sets: rows of the rarest label ÷ rows of the most frequent.
    pub balance_ratio: Option<f64>,
    /// Advice that does not make the set invalid (few rows, a label with one example…).
    pub warnings: Vec<String>,
}

impl DatasetReport {
    /// How many problems make the set invalid.
    #[must_use]
    pub fn issue_count(&self) -> usize {
        self.schema_error_count + self.empty_row_count + self.over_long_row_count + self.duplicate_count
    }
}

/// Checks every row: schema, emptiness, length in tokens, duplicates, and
/// the balance of labels.
#[must_use]
pub fn validate(parsed: &Parsed, counter: &TokenCounter, max_row_tokens: usize) -> DatasetReport {
    let mut schema_errors = Vec::new();
    let mut empty_rows = Vec::new();
    let mut over_long = Vec::new();
    let mut duplicates = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut labels: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut total, mut max) = (0_u64, 0_u64);
    for row in &parsed.rows {
        if row.data.is_empty() {
            empty_rows.push(row.line);
            continue;
        }
        if let Some(message) = schema_problem(&row.data) {
            schema_errors.push(RowIssue { line: row.line, message });
        }
        let tokens = counter.count_row(&row.data);
        total += tokens;
        max = max.max(tokens);
        if tokens > u64::try_from(max_row_tokens).unwrap_or(u64::MAX) {
            over_long.push(RowIssue { line: row.line, message: format!("{tokens} tokens (at most {max_row_tokens})") });
        }
        match seen.get(&row.data.identity()) {
            Some(first) => duplicates.push(RowIssue { line: row.line, message: format!("same as line {first}") }),
            None => {
                seen.insert(row.data.identity(), row.line);
            }
        }
        if let Some(label) = row.data.label() {
            *labels.entry(label).or_default() += 1;
        }
    }
    let non_empty = parsed.rows.len() - empty_rows.len();
    let mut label_balance: Vec<LabelCount> = labels
        .iter()
        .map(|(label, count)| LabelCount { label: (*label).to_owned(), count: *count, share: ratio(*count, non_empty) })
        .collect();
    label_balance.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.label.cmp(&b.label)));
    let balance_ratio = match (label_balance.first(), label_balance.last()) {
        (Some(most), Some(least)) if parsed.kind == DatasetKind::Classification => Some(ratio(least.count, most.count)),
        _ => None,
    };
    let mut warnings = Vec::new();
    if parsed.kind == DatasetKind::Chat && non_empty < 10 {
        warnings.push(format!("{non_empty} rows: OpenAI asks for at least 10 examples"));
    }
    if parsed.kind == DatasetKind::Classification {
        if label_balance.len() < 2 {
            warnings.push("fewer than 2 labels: nothing to tell apart".into());
        }
        for l in label_balance.iter().filter(|l| l.count < 2) {
            warnings.push(format!("label `{}` has a single example: it cannot be in both splits", l.label));
        }
        if balance_ratio.is_some_and(|r| r < 0.1) {
            warnings.push("the rarest label has less than a tenth of the rows of the most frequent".into());
        }
    }
    let report = DatasetReport {
        ok: false,
        rows: parsed.rows.len(),
        total_tokens: total,
        max_row_tokens: max,
        mean_row_tokens: if non_empty == 0 { 0.0 } else { ratio_u64(total, non_empty) },
        tokenizer: counter.name().to_owned(),
        schema_error_count: schema_errors.len(),
        empty_row_count: empty_rows.len(),
        over_long_row_count: over_long.len(),
        duplicate_count: duplicates.len(),
        schema_errors: schema_errors.into_iter().take(REPORT_SAMPLES).collect(),
        empty_rows: empty_rows.into_iter().take(REPORT_SAMPLES).collect(),
        over_long_rows: over_long.into_iter().take(REPORT_SAMPLES).collect(),
        duplicates: duplicates.into_iter().take(REPORT_SAMPLES).collect(),
        label_balance,
        balance_ratio,
        warnings,
    };
    DatasetReport { ok: report.issue_count() == 0, ..report }
}

#[allow(clippy::cast_precision_loss, reason = "row counts are far below 2^52")]
fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

#[allow(clippy::cast_precision_loss, reason = "token and row counts are far below 2^52")]
fn ratio_u64(a: u64, b: usize) -> f64 {
    a as f64 / b as f64
}

/// `OpenAI`'s rules for a chat example: known roles, at least one
/// assistant reply, a system message only first.
fn schema_problem(data: &RowData) -> Option<String> {
    match data {
        RowData::Labelled { label, .. } => label.trim().is_empty().then(|| "the label is empty".to_owned()),
        RowData::Chat(messages) => {
            for (j, m) in messages.iter().enumerate() {
                if !matches!(m.role.as_str(), "system" | "user" | "assistant" | "tool") {
                    return Some(format!("messages[{j}]: unknown role `{}`", m.role));
                }
                if m.role == "system" && j > 0 {
                    return Some(format!("messages[{j}]: a system message may only come first"));
                }
            }
            if !messages.iter().any(|m| m.role == "assistant" && !m.content.trim().is_empty()) {
                return Some("no assistant reply to learn from".into());
            }
            None
        }
    }
}

/// Splits rows into training and validation sets: `validation_share` of
/// each label (of all rows when unlabelled) goes to validation, chosen by a
/// shuffle seeded with `seed`, so the same seed gives the same split. A
/// label with a single row stays in training.
#[must_use]
pub fn split(parsed: &Parsed, validation_share: f64, seed: u64) -> (Parsed, Parsed) {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    let mut groups: BTreeMap<Option<&str>, Vec<&Row>> = BTreeMap::new();
    for row in &parsed.rows {
        groups.entry(row.data.label()).or_default().push(row);
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let (mut train, mut valid) = (Vec::new(), Vec::new());
    for rows in groups.values_mut() {
        rows.shuffle(&mut rng);
        let n = rows.len();
        let take = if n < 2 { 0 } else { share_of(n, validation_share).clamp(1, n - 1) };
        for (i, row) in rows.iter().enumerate() {
            if i < take { valid.push((*row).clone()) } else { train.push((*row).clone()) }
        }
    }
    // Keep the file's order within each part.
    train.sort_by_key(|r| r.line);
    valid.sort_by_key(|r| r.line);
    (Parsed { kind: parsed.kind, rows: train }, Parsed { kind: parsed.kind, rows: valid })
}

#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss,
    reason = "a share in (0, 1) of a row count"
)]
fn share_of(n: usize, share: f64) -> usize {
    (n as f64 * share).round() as usize
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;

    fn counter() -> TokenCounter {
        TokenCounter::for_model(DatasetKind::Chat, "gpt-4o-mini").expect("tokenizer")
    }

    #[test]
    fn a_broken_jsonl_line_is_named() {
        let file = b"{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"hello\"}]}\n\n{\"messages\": [oops\n";
        let err = parse(file, DatasetFormat::Jsonl, None).expect_err("broken");
        assert_eq!(err.code(), ErrorCode::DatasetInvalid);
        assert_eq!(err.details().expect("details")["line"], 3);
    }

    #[test]
    fn json_items_are_located_by_line() {
        let file = "[\n  {\"text\": \"a\", \"label\": \"x\"},\n  {\"text\": \"b\"}\n]";
        let err = parse(file.as_bytes(), DatasetFormat::Json, None).expect_err("no label");
        assert_eq!(err.details().expect("details")["line"], 3, "{:?}", err.details());
    }

    #[test]
    fn csv_round_trips_through_jsonl() {
        let csv = "text,label\nhello there,greet\n\"=cmd, quoted\",other\n";
        let parsed = parse(csv.as_bytes(), DatasetFormat::Csv, None).expect("csv");
        assert_eq!(parsed.kind, DatasetKind::Classification);
        let jsonl = render(&parsed, DatasetFormat::Jsonl).expect("jsonl");
        let back = parse(&jsonl, DatasetFormat::Jsonl, None).expect("back");
        let again = render(&back, DatasetFormat::Csv).expect("csv again");
        let third = parse(&again, DatasetFormat::Csv, None).expect("third");
        assert_eq!(
            third.rows.iter().map(|r| &r.data).collect::<Vec<_>>(),
            parsed.rows.iter().map(|r| &r.data).collect::<Vec<_>>()
        );
    }

    #[test]
    fn the_report_finds_empty_duplicate_and_schema_problems() {
        let file = concat!(
            "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"hello\"}]}\n",
            "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"hello\"}]}\n",
            "{\"messages\":[{\"role\":\"user\",\"content\":\"only a question\"}]}\n",
            "{\"messages\":[]}\n",
        );
        let parsed = parse(file.as_bytes(), DatasetFormat::Jsonl, None).expect("parse");
        let report = validate(&parsed, &counter(), 20);
        assert!(!report.ok);
        assert_eq!(report.duplicates[0].line, 2);
        assert_eq!(report.schema_errors[0].line, 3);
        assert_eq!(report.empty_rows, vec![4]);
        // Two messages of a few tokens each, plus 3 per message and 3 per conversation.
        assert_eq!((report.max_row_tokens, report.over_long_row_count), (13, 0), "{report:?}");
        let strict = validate(&parsed, &counter(), 12);
        assert_eq!(strict.over_long_rows[0].line, 1);
    }

    #[test]
    fn the_split_is_seeded_and_stratified() {
        let mut csv = String::from("text,label\n");
        for i in 0..20 {
            let _ = writeln!(csv, "a{i},a");
        }
        for i in 0..10 {
            let _ = writeln!(csv, "b{i},b");
        }
        csv.push_str("lonely,c\n");
        let parsed = parse(csv.as_bytes(), DatasetFormat::Csv, None).expect("csv");
        let (train, valid) = split(&parsed, 0.2, 7);
        let count = |p: &Parsed, l: &str| p.rows.iter().filter(|r| r.data.label() == Some(l)).count();
        assert_eq!((count(&valid, "a"), count(&valid, "b"), count(&valid, "c")), (4, 2, 0));
        assert_eq!(train.rows.len() + valid.rows.len(), 31);
        let (_, again) = split(&parsed, 0.2, 7);
        assert_eq!(again.rows, valid.rows);
        let (_, other) = split(&parsed, 0.2, 8);
        assert_ne!(other.rows, valid.rows);
    }
}

//! The one CSV writer every export uses (audit log, NLU data): RFC 4180
//! (CRLF line ends, fields quoted when they hold `,`, `"`, CR or LF), and
//! defused against spreadsheet formula injection: a cell starting with
//! `=`, `+`, `-`, `@`, tab or CR is written with a leading `'`, which
//! spreadsheets show as text. Cells that already start with `'`s before
//! such a character get one more, so [`restore`] can undo exactly what
//! [`neutralise`] did; importers of our own CSV (NLU import) call it.

use std::borrow::Cow;

/// The prefix that makes a spreadsheet read a cell as text.
pub const TEXT_PREFIX: char = '\'';

/// Characters that start a formula (or, for tab and CR, hide one) in
/// spreadsheets (Excel, Calc, Google Sheets).
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

fn needs_prefix(cell: &str) -> bool {
    cell.trim_start_matches(TEXT_PREFIX).starts_with(FORMULA_STARTS)
}

/// The cell as it is written: with a leading `'` when it could be read as
/// a formula.
#[must_use]
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if needs_prefix(cell) { Cow::Owned(format!("{TEXT_PREFIX}{cell}")) } else { Cow::Borrowed(cell) }
}

/// The original text of a cell written by [`neutralise`].
#[must_use]
pub fn restore(cell: &str) -> &str {
    match cell.strip_prefix(TEXT_PREFIX) {
        Some(rest) if needs_prefix(rest) => rest,
        _ => cell,
    }
}

/// Builds a CSV document in memory.
#[derive(Debug)]
pub struct CsvWriter {
    out: String,
}

impl CsvWriter {
    /// A document starting with the header line.
    #[must_use]
    pub fn new(header: &[&str]) -> CsvWriter {
        let mut writer = CsvWriter { out: String::new() };
        writer.row(header);
        writer
    }

    /// Appends one row.
    pub fn row<S: AsRef<str>>(&mut self, fields: impl IntoIterator<Item = S>) {
        for (i, field) in fields.into_iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            let cell = neutralise(field.as_ref());
            if cell.contains([',', '"', '\n', '\r']) {
                self.out.push('"');
                self.out.push_str(&cell.replace('"', "\"\""));
                self.out.push('"');
            } else {
                self.out.push_str(&cell);
            }
        }
        self.out.push_str("\r\n");
    }

    /// The document.
    #[must_use]
    pub fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_and_formulas_defused() {
        let mut w = CsvWriter::new(&["text", "note"]);
        w.row(["a,\"b\"", "plain"]);
        w.row(["=HYPERLINK(\"http://x\")", "+1"]);
        w.row(["-2", "@SUM(A1)"]);
        w.row(["\tcmd", "\r=1"]);
        w.row(["'=already", "line\nbreak"]);
        assert_eq!(
            w.finish(),
            "text,note\r\n\"a,\"\"b\"\"\",plain\r\n\"'=HYPERLINK(\"\"http://x\"\")\",'+1\r\n'-2,'@SUM(A1)\r\n'\tcmd,\"'\r=1\"\r\n''=already,\"line\nbreak\"\r\n"
        );
    }

    #[test]
    fn restore_undoes_neutralise_exactly() {
        for text in [
            "=1+2",
            "+49 30 1234",
            "-5 degrees",
            "@here",
            "\tx",
            "\rx",
            "'=quoted",
            "''-x",
            "'plain",
            "plain",
            "",
            "'",
            "it's",
        ] {
            assert_eq!(restore(&neutralise(text)), text, "{text:?}");
        }
        assert_eq!(neutralise("'plain"), "'plain", "a quote before text is left alone");
        assert_eq!(restore("'plain"), "'plain");
    }

    #[test]
    fn reading_back_with_a_csv_parser_gives_the_cells() {
        let mut w = CsvWriter::new(&["text", "intent"]);
        w.row(["=cmd|' /C calc'!A0", "greet"]);
        w.row(["say \"hi\", then go", "bye"]);
        let body = w.finish();
        let mut reader = ::csv::ReaderBuilder::new().from_reader(body.as_bytes());
        let rows: Vec<Vec<String>> =
            reader.records().map(|r| r.expect("row").iter().map(|c| restore(c).to_owned()).collect()).collect();
        assert_eq!(rows, [["=cmd|' /C calc'!A0", "greet"], ["say \"hi\", then go", "bye"]]);
    }
}

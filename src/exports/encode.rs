//! Rows to bytes: CSV (a header line, spreadsheet-safe text) or JSON Lines (one object per row,
//! keys in the header's order). A row is a list of JSON values, one per column.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The rows' format in a plain export's file (a ZIP's files are always CSV).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Jsonl,
}

impl Format {
    pub fn parse(text: &str) -> Result<Format, String> {
        match text {
            "csv" => Ok(Format::Csv),
            "jsonl" => Ok(Format::Jsonl),
            other => Err(format!("“{other}” is not an export format; use csv or jsonl")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Jsonl => "application/x-ndjson",
        }
    }

    /// What comes before the rows: CSV's header line; nothing for JSON Lines.
    pub fn preamble(self, header: &[&str]) -> Vec<u8> {
        match self {
            Format::Csv => {
                let cells: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
                csv_line(&cells)
            }
            Format::Jsonl => Vec::new(),
        }
    }

    /// `rows`, each as long as `header`, as the format's lines.
    pub fn rows(self, header: &[&str], rows: &[Vec<Value>]) -> Vec<u8> {
        let mut out = Vec::with_capacity(rows.len() * 160);
        for row in rows {
            match self {
                Format::Csv => out.extend(csv_line(&row.iter().map(csv_cell).collect::<Vec<_>>())),
                Format::Jsonl => {
                    let fields: Vec<String> =
                        header.iter().zip(row).map(|(name, value)| format!("{}:{value}", Value::from(*name))).collect();
                    out.push(b'{');
                    out.extend(fields.join(",").into_bytes());
                    out.extend(b"}\n");
                }
            }
        }
        out
    }
}

/// One CSV line, quoted where the cell needs it (RFC 4180), ending in `\r\n`.
fn csv_line(cells: &[String]) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    // Writing to a Vec cannot fail; an error here would be a bug in the csv crate.
    let _ = writer.write_record(cells);
    writer.into_inner().unwrap_or_default()
}

/// A value as a CSV cell: text a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab,
/// carriage return) gets a leading `'`; lists are joined with "; "; null is empty.
fn csv_cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) if text.starts_with(['=', '+', '-', '@', '\t', '\r']) => format!("'{text}"),
        Value::String(text) => text.clone(),
        Value::Array(items) => items.iter().map(csv_cell).collect::<Vec<_>>().join("; "),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::Format;

    fn rows() -> Vec<Vec<Value>> {
        vec![
            vec![json!("ws_1"), json!("=HYPERLINK(\"x\")"), json!(-12), json!(["a@x.io", "b@x.io"]), Value::Null],
            vec![json!("ws_2"), json!("Comma, \"quoted\""), json!(3), json!([]), json!(true)],
        ]
    }

    const HEADER: [&str; 5] = ["id", "name", "net", "owners", "flag"];

    #[test]
    fn csv_quotes_what_needs_it_and_defuses_formulas_but_not_numbers() {
        let mut out = Format::Csv.preamble(&HEADER);
        out.extend(Format::Csv.rows(&HEADER, &rows()));
        let text = String::from_utf8(out).unwrap_or_default();
        assert_eq!(
            text,
            "id,name,net,owners,flag\r\nws_1,\"'=HYPERLINK(\"\"x\"\")\",-12,a@x.io; b@x.io,\r\nws_2,\"Comma, \"\"quoted\"\"\",3,,true\r\n"
        );
    }

    #[test]
    fn json_lines_keep_the_headers_order_and_the_values_types() {
        assert!(Format::Jsonl.preamble(&HEADER).is_empty());
        let text = String::from_utf8(Format::Jsonl.rows(&HEADER, &rows())).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0],
            r#"{"id":"ws_1","name":"=HYPERLINK(\"x\")","net":-12,"owners":["a@x.io","b@x.io"],"flag":null}"#
        );
        let parsed: Value = serde_json::from_str(lines[1]).unwrap_or_default();
        assert_eq!(parsed["flag"], json!(true));
    }

    #[test]
    fn only_csv_and_jsonl_are_formats() {
        assert_eq!(Format::parse("jsonl"), Ok(Format::Jsonl));
        assert!(Format::parse("xlsx").is_err_and(|e| e.contains("csv or jsonl")));
    }
}

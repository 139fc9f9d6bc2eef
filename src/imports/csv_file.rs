//! Reading an uploaded CSV and checking it before anything starts. A file that cannot be an
//! import (too large, not UTF-8, a wrong header, too many rows, a broken line) is refused as a
//! whole with what to do; a line that cannot be imported (a bad email, an unknown role, a value
//! seen on an earlier line) is kept as a failed line with its reason, for the preview and the
//! error report. Members files are read here; workspaces files in `workspaces_file`.

use std::collections::HashMap;

use serde_json::json;

use crate::domain::{Email, Role};

/// The largest file accepted.
pub const MAX_BYTES: usize = 16 * 1024 * 1024;
/// The most rows (below the header) one import may have.
pub const MAX_ROWS: usize = 100_000;

/// One line of the file below the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The line's number in the file (the header is line 1).
    pub number: i64,
    /// The line's key as written (an email, a slug), for the report.
    pub value: String,
    /// What to import, as the batch reads it back, or why the line cannot be imported.
    pub fields: Result<serde_json::Value, String>,
}

/// The rows of a CSV file with the header `columns` (any order, any case; those in `required`
/// must be there): each row's number and its cells in the order of `columns` ("" when absent).
/// Err: why the whole file is refused.
pub fn read_rows(bytes: &[u8], columns: &[&str], required: &[&str]) -> Result<Vec<(i64, Vec<String>)>, String> {
    if bytes.len() > MAX_BYTES {
        return Err(format!(
            "The file is {} MB, more than the {} MB an import may be; split it into smaller files.",
            bytes.len().div_ceil(1024 * 1024),
            MAX_BYTES / (1024 * 1024)
        ));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|err| {
        format!(
            "The file is not UTF-8 text (a byte at position {} is not); save it as “CSV UTF-8” and upload it again.",
            err.valid_up_to() + 1
        )
    })?;
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|err| format!("The header line could not be read: {err}"))?
        .iter()
        .map(|h| h.to_lowercase())
        .collect();
    let named = columns.join(", ");
    if let Some(unknown) = header.iter().find(|h| !columns.contains(&h.as_str())) {
        return Err(format!("The header has a column “{unknown}”; the columns are {named}."));
    }
    if required.iter().any(|r| !header.iter().any(|h| h == r)) {
        return Err(format!(
            "The first line must be a header naming the columns: {named} ({} must be there).",
            required.join(", ")
        ));
    }
    let at: Vec<Option<usize>> = columns.iter().map(|c| header.iter().position(|h| h == c)).collect();
    let mut rows = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let number = index as i64 + 2;
        let record =
            record.map_err(|err| format!("Line {number} could not be read ({err}); fix it and upload again."))?;
        if rows.len() == MAX_ROWS {
            let more = 1 + reader.records().count();
            return Err(format!(
                "The file has {} rows; at most {MAX_ROWS} can be imported at once. Split it into smaller files.",
                MAX_ROWS + more
            ));
        }
        let cells = at.iter().map(|i| i.and_then(|i| record.get(i)).unwrap_or("").to_owned()).collect();
        rows.push((number, cells));
    }
    if rows.is_empty() {
        return Err("The file has no rows below its header.".into());
    }
    Ok(rows)
}

/// Remembers the first line of each key, so a later line with the same key fails naming it.
#[derive(Default)]
pub struct FirstSeen(HashMap<String, i64>);

impl FirstSeen {
    /// Err names the earlier line that had `key` (`what`: "email", "slug").
    pub fn check(&mut self, what: &str, key: &str, number: i64) -> Result<(), String> {
        match self.0.get(key) {
            Some(first) => Err(format!("The same {what} as line {first}")),
            None => {
                self.0.insert(key.to_owned(), number);
                Ok(())
            }
        }
    }
}

/// Reads `bytes` as a members CSV (`email,role,name`; role and name may be left out);
/// `may_grant_owner` is whether the person importing may invite owners.
pub fn parse_members(bytes: &[u8], may_grant_owner: bool) -> Result<Vec<Line>, String> {
    let mut seen = FirstSeen::default();
    let rows = read_rows(bytes, &["email", "role", "name"], &["email"])?;
    Ok(rows
        .into_iter()
        .map(|(number, cells)| {
            let [value, role, name] = <[String; 3]>::try_from(cells).unwrap_or_default();
            let fields = check(&value, &role, may_grant_owner).and_then(|(email, role)| {
                seen.check("email", email.as_str(), number)?;
                Ok(json!({ "email": email.as_str(), "role": role.as_str(), "name": name }))
            });
            Line { number, value, fields }
        })
        .collect())
}

fn check(email: &str, role: &str, may_grant_owner: bool) -> Result<(Email, Role), String> {
    let email = Email::parse(email)?;
    let role = if role.is_empty() { Role::Member } else { Role::parse(&role.to_lowercase())? };
    if role == Role::Owner && !may_grant_owner {
        return Err("Only an owner can invite owners".into());
    }
    Ok((email, role))
}

#[cfg(test)]
mod tests {
    use super::{MAX_ROWS, parse_members};

    fn messages(csv: &str) -> Vec<Result<String, String>> {
        let rows = parse_members(csv.as_bytes(), false).unwrap_or_default();
        rows.into_iter()
            .map(|r| {
                r.fields.map(|f| format!("{} {}", f["email"].as_str().unwrap_or(""), f["role"].as_str().unwrap_or("")))
            })
            .collect()
    }

    #[test]
    fn rows_are_checked_one_by_one_and_a_repeated_email_names_its_first_line() {
        let found = messages(
            "Email,Role,Name\nada@example.com,admin,Ada\nnot-an-email,,\nADA@example.com,,\nbo@example.com,,Bo\ncy@example.com,boss,\ndi@example.com,owner,\n",
        );
        assert_eq!(found[0], Ok("ada@example.com admin".into()));
        assert!(found[1].as_ref().is_err());
        assert_eq!(found[2], Err("The same email as line 2".into()));
        assert_eq!(found[3], Ok("bo@example.com member".into()), "role defaults to member");
        assert!(found[4].as_ref().is_err_and(|e| e.contains("boss")));
        assert_eq!(found[5], Err("Only an owner can invite owners".into()));
    }

    #[test]
    fn a_file_that_cannot_be_an_import_is_refused_whole_with_what_to_do() {
        let refused = |bytes: &[u8]| parse_members(bytes, true).err().unwrap_or_default();
        assert!(refused(b"mail,role\na@b.co,member\n").contains("“mail”"));
        assert!(refused(b"role,name\nmember,Ada\n").contains("header naming the columns"));
        assert!(refused(b"email\n").contains("no rows"));
        assert!(refused(b"email\n\xff\xfe@x.io\n").contains("not UTF-8"));
        let many = format!("email\n{}", "a@example.com\n".repeat(MAX_ROWS + 5));
        assert!(refused(many.as_bytes()).contains(&format!("{} rows", MAX_ROWS + 5)));
        assert!(parse_members(b"\xEF\xBB\xBFemail\nada@example.com\n", true).is_ok(), "a BOM is fine");
    }
}

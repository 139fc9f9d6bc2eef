//! Reading an uploaded members CSV (`email,role,name`; role and name may be left out) and
//! checking it before anything starts. A file that cannot be an import (too large, not UTF-8,
//! a wrong header, too many rows, a broken line) is refused as a whole with what to do; a line
//! with a bad email or role, or an email seen on an earlier line, is kept as a failed row with
//! its reason, for the preview and the error report.

use std::collections::HashMap;

use crate::domain::{Email, Role};

/// The largest file accepted.
pub const MAX_BYTES: usize = 16 * 1024 * 1024;
/// The most rows (below the header) one import may have.
pub const MAX_ROWS: usize = 100_000;

/// One line of the file below the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRow {
    /// The line's number in the file (the header is line 1).
    pub number: i64,
    /// The email as written, for the report.
    pub value: String,
    /// Who to invite and as what, or why the line cannot be imported.
    pub invitee: Result<(Email, Role), String>,
    pub name: String,
}

/// Reads `bytes` as a members CSV; `may_grant_owner` is whether the person importing may
/// invite owners. Err: why the whole file is refused.
pub fn parse_members(bytes: &[u8], may_grant_owner: bool) -> Result<Vec<MemberRow>, String> {
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
    let column = |name: &str| header.iter().position(|h| h == name);
    if let Some(unknown) = header.iter().find(|h| !["email", "role", "name"].contains(&h.as_str())) {
        return Err(format!(
            "The header has a column “{unknown}”; the columns are email, role and name (role and name may be left out)."
        ));
    }
    let Some(email_at) = column("email") else {
        return Err("The first line must be a header naming the columns: email, role, name.".into());
    };
    let (role_at, name_at) = (column("role"), column("name"));
    let mut rows = Vec::new();
    let mut first_line_of: HashMap<String, i64> = HashMap::new();
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
        let cell = |at: Option<usize>| at.and_then(|i| record.get(i)).unwrap_or("").to_owned();
        let value = cell(Some(email_at));
        let invitee = check(&value, &cell(role_at), may_grant_owner).and_then(|(email, role)| {
            match first_line_of.insert(email.to_string(), number) {
                Some(first) => {
                    first_line_of.insert(email.to_string(), first);
                    Err(format!("The same email as line {first}"))
                }
                None => Ok((email, role)),
            }
        });
        rows.push(MemberRow { number, value, invitee, name: cell(name_at) });
    }
    if rows.is_empty() {
        return Err("The file has no rows below its header.".into());
    }
    Ok(rows)
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
        rows.into_iter().map(|r| r.invitee.map(|(email, role)| format!("{email} {role}"))).collect()
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

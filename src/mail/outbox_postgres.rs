//! The outbox's writes on PostgreSQL, in one statement: the emails, and the `send_email`
//! runs of those whose dedupe key was not taken, written by one INSERT with data-modifying WITH
//! clauses (as the Stripe inbox does). Atomic by itself, so a workflow that writes nothing else
//! needs no transaction around it (`outbox::enqueue`). SQLite has no data-modifying WITH; there
//! the outbox writes its rows and then their runs, in the caller's transaction.

use std::sync::LazyLock;

use chrono::Utc;
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};

use super::outbox::{EmailStatus, NewEmail, message_id, send_run};
use crate::engine::Priority;
use crate::engine::runs::{RunsInStatement, array, column};
use crate::mail::Error;

/// `$1…$10`: the emails; `$11`, `$12`: their status and creation. From `$13`: one `send_email`
/// run per email, written only for the emails this statement inserted.
static ENQUEUE: LazyLock<String> = LazyLock::new(|| {
    let ids = array(1, "text");
    let runs = RunsInStatement::clauses(13, Some((&ids, "JOIN emails ON emails.id = r.key")));
    let texts: Vec<String> = (2..=10).map(|n| array(n, "text")).collect();
    format!(
        r#"
WITH emails AS (
    INSERT INTO emails (id, workspace_id, recipient, kind, category, subject, html, text, dedupe_key, message_id,
        status, attempts, created_at)
    SELECT id, NULLIF(workspace_id, ''), recipient, kind, category, subject, html, text, dedupe_key, message_id,
        $11, 0, $12
    FROM unnest({ids}, {texts})
        AS e(id, workspace_id, recipient, kind, category, subject, html, text, dedupe_key, message_id)
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING id
), {runs}
SELECT id FROM emails
"#,
        texts = texts.join(", "),
    )
});

/// Writes `emails` (distinct dedupe keys, with their ids) and their runs; returns the ids of
/// those written.
pub(super) async fn insert_in<C: ConnectionTrait>(
    db: &C,
    emails: &[(&str, &NewEmail)],
    from_domain: &str,
    priority: Priority,
) -> Result<Vec<String>, Error> {
    if emails.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = emails.iter().map(|(id, _)| (*id).to_owned()).collect();
    let emails: Vec<&NewEmail> = emails.iter().map(|(_, email)| *email).collect();
    let emails = emails.as_slice();
    let sends: Vec<_> = ids.iter().zip(emails).map(|(id, email)| send_run(id, email, priority)).collect();
    let runs = RunsInStatement::prepare(&sends, Utc::now())?;
    let mut values = vec![
        Value::from(ids),
        // An array cannot hold a NULL through sea-orm: no workspace is '' (`NULLIF`).
        column(emails, |e| e.workspace_id.clone().unwrap_or_default()),
        column(emails, |e| e.recipient.to_lowercase()),
        column(emails, |e| e.kind.to_owned()),
        column(emails, |e| e.category.as_str().to_owned()),
        column(emails, |e| e.rendered.subject.clone()),
        column(emails, |e| e.rendered.html.clone()),
        column(emails, |e| e.rendered.text.clone()),
        column(emails, |e| e.dedupe_key.clone()),
        column(emails, |e| message_id(&e.dedupe_key, from_domain)),
        EmailStatus::Queued.as_str().into(),
        Utc::now().into(),
    ];
    values.extend(runs.into_values());
    let rows = db.query_all_raw(Statement::from_sql_and_values(DbBackend::Postgres, ENQUEUE.as_str(), values)).await?;
    let mut written = Vec::with_capacity(rows.len());
    for row in rows {
        written.push(row.try_get::<String>("", "id")?);
    }
    Ok(written)
}

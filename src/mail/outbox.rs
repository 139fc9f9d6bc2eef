//! The outbox: every email is a row written in the same transaction as the decision to send it,
//! unique by its dedupe key, and delivered by a `send_email` run (retries with backoff). A
//! retried or re-run workflow that decides the same email again finds its key taken and adds
//! nothing. The row's Message-ID is derived from the key, so a receiving system can also tell
//! the one duplicate a crash can cause (see `mail::workflows::send_email`).

use std::collections::HashSet;

use chrono::Utc;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, FromQueryResult, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Statement,
};

use super::templates::Rendered;
use crate::db::entities::email;
use crate::domain::PublicId;
use crate::engine::runs::{self, NewRun};
use crate::engine::{Priority, Workflow};
use crate::mail::Error;
use crate::mail::workflows::send_email::{self, SendEmail};
use crate::tenancy::{Platform, Reach};

/// Lifecycle mail stops after an unsubscribe; transactional mail (invitations, billing failures)
/// is sent regardless.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Lifecycle,
    Transactional,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Lifecycle => "lifecycle",
            Category::Transactional => "transactional",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailStatus {
    Queued,
    Sent,
    Failed,
    Suppressed,
}

impl EmailStatus {
    pub const ALL: [EmailStatus; 4] =
        [EmailStatus::Queued, EmailStatus::Sent, EmailStatus::Failed, EmailStatus::Suppressed];

    pub fn as_str(self) -> &'static str {
        match self {
            EmailStatus::Queued => "queued",
            EmailStatus::Sent => "sent",
            EmailStatus::Failed => "failed",
            EmailStatus::Suppressed => "suppressed",
        }
    }

    pub fn parse(input: &str) -> Option<EmailStatus> {
        EmailStatus::ALL.into_iter().find(|s| s.as_str() == input)
    }
}

/// An email a workflow decided to send.
pub struct NewEmail {
    pub workspace_id: Option<String>,
    pub recipient: String,
    /// The template's name.
    pub kind: &'static str,
    pub category: Category,
    /// Unique per email that should exist once: `trial_ending:{ws}:{trial end}:{recipient}`.
    pub dedupe_key: String,
    pub rendered: Rendered,
}

/// The Message-ID header of the email with `dedupe_key`, at the sender's domain.
pub fn message_id(dedupe_key: &str, from_domain: &str) -> String {
    format!("<{}@{from_domain}>", &crate::tokens::sha256_hex(dedupe_key)[..32])
}

/// The business key of an email's `send_email` runs.
pub fn business_key(email_id: &str) -> String {
    format!("email:{email_id}")
}

/// Rows per multi-row INSERT on SQLite (13 values each).
const ROWS_PER_INSERT: usize = 200;

/// Writes `emails` to the outbox with their `send_email` runs inside the caller's transaction.
/// Emails whose dedupe key is already in the outbox (or earlier in `emails`) are left out.
/// Returns the new emails' ids.
pub async fn enqueue_in<C: ConnectionTrait>(
    txn: &C,
    emails: &[NewEmail],
    from_domain: &str,
) -> Result<Vec<String>, Error> {
    enqueue_at_in(txn, emails, from_domain, SendEmail::PRIORITY).await
}

/// `enqueue_in`, the emails sent at `priority` rather than before other work (`Priority::Bulk`
/// for the invitations of an import: they wait behind every workspace's other runs, as the
/// import does).
pub async fn enqueue_at_in<C: ConnectionTrait>(
    txn: &C,
    emails: &[NewEmail],
    from_domain: &str,
    priority: Priority,
) -> Result<Vec<String>, Error> {
    let all: Vec<&NewEmail> = emails.iter().collect();
    Ok(write_in(txn, &all, from_domain, priority).await?.into_iter().flatten().collect())
}

/// `enqueue_in` answering for each email: its id when this call wrote it, `None` when its dedupe
/// key was taken (in the outbox, or earlier in `emails`).
pub(super) async fn write_in<C: ConnectionTrait>(
    txn: &C,
    emails: &[&NewEmail],
    from_domain: &str,
    priority: Priority,
) -> Result<Vec<Option<String>>, Error> {
    let mut seen = HashSet::new();
    let ids: Vec<Option<String>> =
        emails.iter().map(|e| seen.insert(e.dedupe_key.as_str()).then(|| PublicId::generate("eml"))).collect();
    let distinct: Vec<(&str, &NewEmail)> =
        ids.iter().zip(emails).filter_map(|(id, email)| Some((id.as_deref()?, *email))).collect();
    let written: HashSet<String> = if txn.get_database_backend() == DbBackend::Postgres {
        super::outbox_postgres::insert_in(txn, &distinct, from_domain, priority).await?.into_iter().collect()
    } else {
        let mut created = HashSet::new();
        for chunk in distinct.chunks(ROWS_PER_INSERT) {
            created.extend(insert_new_sqlite(txn, chunk, from_domain).await?);
        }
        let sends: Vec<NewRun> = distinct
            .iter()
            .filter(|(id, _)| created.contains(*id))
            .map(|(id, email)| send_run(id, email, priority))
            .collect();
        runs::start_all_in(txn, &sends).await?;
        created
    };
    Ok(ids.into_iter().map(|id| id.filter(|id| written.contains(id))).collect())
}

/// The run that delivers `email` (written as `id`), a run of the email's workspace, in
/// `priority`'s class.
pub(super) fn send_run(id: &str, email: &NewEmail, priority: Priority) -> NewRun {
    let params = send_email::Params { email_id: id.to_owned(), workspace_id: email.workspace_id.clone() };
    NewRun::of::<SendEmail>(&params).business_key(business_key(id)).trigger("email").at_priority(priority)
}

async fn insert_new_sqlite<C: ConnectionTrait>(
    txn: &C,
    emails: &[(&str, &NewEmail)],
    from_domain: &str,
) -> Result<Vec<String>, Error> {
    let (queued, now) = (EmailStatus::Queued.as_str(), Utc::now());
    let mut values: Vec<sea_orm::Value> = Vec::with_capacity(emails.len() * 12);
    // Every row binds the same twelve values in order (`db::placeholders`).
    let row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)";
    let mut rows = Vec::with_capacity(emails.len());
    for (id, new) in emails {
        rows.push(row);
        values.extend([
            (*id).into(),
            new.workspace_id.clone().into(),
            new.recipient.to_lowercase().into(),
            new.kind.into(),
            new.category.as_str().into(),
            new.rendered.subject.clone().into(),
            new.rendered.html.clone().into(),
            new.rendered.text.clone().into(),
            new.dedupe_key.clone().into(),
            message_id(&new.dedupe_key, from_domain).into(),
            queued.into(),
            now.into(),
        ]);
    }
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "INSERT INTO emails (id, workspace_id, recipient, kind, category, subject, html, text, dedupe_key, message_id, \
         status, attempts, created_at) VALUES {} ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
        rows.join(", ")
    );
    let inserted = txn.query_all_raw(Statement::from_sql_and_values(DbBackend::Sqlite, sql, values)).await?;
    Ok(inserted.iter().filter_map(|row| row.try_get::<String>("", "id").ok()).collect())
}

/// One email of any workspace: the Mailbox's, and the delivering worker's.
pub async fn get(db: &DatabaseConnection, _platform: &Platform, id: &str) -> Result<email::Model, Error> {
    email::Entity::find_by_id(id).one(db).await?.ok_or(Error::NotFound)
}

/// An email `send_email` is to deliver, and whether its recipient has unsubscribed.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub email: email::Model,
    pub unsubscribed: bool,
}

/// The emails `ids` for delivery, in one statement (`DeliveryLoader` gathers the ids of the
/// deliveries running at once); ids not found are left out.
pub async fn for_delivery(db: &DatabaseConnection, ids: &[String]) -> Result<Vec<Delivery>, Error> {
    let backend = db.get_database_backend();
    let (listed, ids) = listed(backend, ids);
    let sql = format!(
        "SELECT e.*, EXISTS (SELECT 1 FROM email_suppressions s WHERE s.email = e.recipient) AS unsubscribed \
         FROM emails e WHERE e.id {listed}"
    );
    let rows = db.query_all_raw(Statement::from_sql_and_values(backend, sql, [ids])).await?;
    let mut found = Vec::with_capacity(rows.len());
    for row in rows {
        found.push(Delivery {
            email: email::Model::from_query_result(&row, "")?,
            unsubscribed: row.try_get("", "unsubscribed")?,
        });
    }
    Ok(found)
}

/// Marks the emails sent (or captured) by `transport` and counts the attempt, in one statement
/// (`OutboxWriter::mark_sent` gathers them).
pub async fn mark_sent(db: &DatabaseConnection, ids: &[String], transport: &str) -> Result<(), Error> {
    let assignments = "status = $2, sent_at = $3, transport = $4, last_error = NULL";
    set(db, ids, assignments, vec![EmailStatus::Sent.as_str().into(), Utc::now().into(), transport.into()]).await
}

pub async fn mark_suppressed(db: &DatabaseConnection, id: &str, why: &str) -> Result<(), Error> {
    set(db, &[id.to_owned()], "status = $2, last_error = $3", vec![EmailStatus::Suppressed.as_str().into(), why.into()])
        .await
}

/// Counts a failed attempt; the last one leaves the email `failed`.
pub async fn record_failure(db: &DatabaseConnection, id: &str, error: &str, last: bool) -> Result<(), Error> {
    let status = if last { EmailStatus::Failed } else { EmailStatus::Queued };
    set(db, &[id.to_owned()], "status = $2, last_error = $3", vec![status.as_str().into(), error.into()]).await
}

/// Sets `assignments` (reading `$2…`) on the emails `ids` and counts the attempt.
async fn set(
    db: &DatabaseConnection,
    ids: &[String],
    assignments: &str,
    mut values: Vec<sea_orm::Value>,
) -> Result<(), Error> {
    let backend = db.get_database_backend();
    let (listed, ids) = listed(backend, ids);
    values.insert(0, ids);
    let sql = format!("UPDATE emails SET {assignments}, attempts = attempts + 1 WHERE id {listed}");
    db.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    Ok(())
}

/// `ids` as `$1`, and the condition that matches them: an array on PostgreSQL, JSON on SQLite.
fn listed(backend: DbBackend, ids: &[String]) -> (&'static str, sea_orm::Value) {
    match backend {
        DbBackend::Postgres => ("= ANY($1)", ids.to_vec().into()),
        _ => ("IN (SELECT value FROM json_each($1))", serde_json::Value::from(ids.to_vec()).to_string().into()),
    }
}

/// What the Mailbox lists (of what the read's `Reach` allows).
#[derive(Debug, Default, Clone)]
pub struct MailboxFilter {
    pub status: Option<EmailStatus>,
    /// Matches recipient, subject or kind.
    pub search: String,
    pub limit: u64,
}

pub async fn list<'a>(
    db: &DatabaseConnection,
    reach: impl Into<Reach<'a>>,
    filter: &MailboxFilter,
) -> Result<Vec<email::Model>, Error> {
    let mut query = email::Entity::find().order_by_desc(email::Column::CreatedAt).order_by_desc(email::Column::Id);
    if let Some(ws) = reach.into().workspace_id() {
        query = query.filter(email::Column::WorkspaceId.eq(ws));
    }
    if let Some(status) = filter.status {
        query = query.filter(email::Column::Status.eq(status.as_str()));
    }
    let search = filter.search.trim().to_lowercase();
    if !search.is_empty() {
        query = query.filter(
            sea_orm::Condition::any()
                .add(email::Column::Recipient.contains(&search))
                .add(email::Column::Subject.contains(&search))
                .add(email::Column::Kind.contains(&search)),
        );
    }
    Ok(query.limit(filter.limit.max(1)).all(db).await?)
}

/// Emails per status, of every workspace.
pub async fn counts(db: &DatabaseConnection, _platform: &Platform) -> Result<Vec<(EmailStatus, u64)>, Error> {
    let mut counts = Vec::new();
    for status in EmailStatus::ALL {
        counts.push((status, email::Entity::find().filter(email::Column::Status.eq(status.as_str())).count(db).await?));
    }
    Ok(counts)
}

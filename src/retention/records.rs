//! Pruning everything else that only tells the past, a batch per statement: processed Stripe
//! events' payloads and sent emails' bodies are emptied (their rows stay: an event's id
//! recognises a redelivery, an email's dedupe key keeps it from going twice), old sign-in
//! attempts and throttle counts, health-score history (each workspace's latest score stays),
//! ended sessions, the invitation counter's hours that no limit reads any more, and the runs'
//! counts older than any chart shows.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement, Value};

/// What one sweep removes, as the JSON of `offstage prune` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    EventPayloads,
    EmailBodies,
    SignIns,
    ThrottleCounts,
    HealthScores,
    Sessions,
    InvitationHours,
    RunMinutes,
    WorkspaceRunHours,
}

/// One statement's worth of a sweep: the rows before `cutoff`, at most `batch`. Returns how
/// many, and the key to go on after: emptying rows walks the table by its text key (emptied
/// rows stay and must not be read again); deleting needs no cursor.
pub async fn sweep(
    db: &DatabaseConnection,
    kind: Kind,
    cutoff: DateTime<Utc>,
    batch: u64,
    cursor: &Option<String>,
) -> Result<(u64, Option<String>), DbErr> {
    let backend = db.get_database_backend();
    let delete = |table: &str, filter: &str| -> (String, Vec<Value>) {
        (
            format!("DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE {filter} LIMIT {batch})"),
            vec![cutoff.into()],
        )
    };
    let (sql, values) = match kind {
        Kind::EventPayloads => return empty(db, "stripe_events", "payload = ''", EVENTS, cutoff, batch, cursor).await,
        Kind::EmailBodies => {
            return empty(db, "emails", "html = '', text = ''", EMAILS, cutoff, batch, cursor).await;
        }
        Kind::SignIns => delete("login_attempts", "attempted_at < $1"),
        Kind::ThrottleCounts => delete("request_counts", "at < $1"),
        Kind::HealthScores => delete(
            "health_scores",
            "computed_at < $1 AND EXISTS \
             (SELECT 1 FROM health_scores newer WHERE newer.workspace_id = health_scores.workspace_id \
              AND newer.id > health_scores.id)",
        ),
        Kind::Sessions => delete("sessions", "expires_at < $1"),
        Kind::InvitationHours => (
            format!(
                "DELETE FROM invitation_tallies WHERE (workspace_id, hour) IN \
                 (SELECT workspace_id, hour FROM invitation_tallies WHERE hour < $1 LIMIT {batch})"
            ),
            vec![cutoff.timestamp().div_euclid(3600).into()],
        ),
        Kind::RunMinutes => (
            format!(
                "DELETE FROM run_tallies WHERE (minute, workflow, outcome) IN \
                 (SELECT minute, workflow, outcome FROM run_tallies WHERE minute < $1 LIMIT {batch})"
            ),
            vec![cutoff.timestamp().div_euclid(60).into()],
        ),
        Kind::WorkspaceRunHours => (
            format!(
                "DELETE FROM workspace_run_tallies WHERE (workspace_id, hour) IN \
                 (SELECT workspace_id, hour FROM workspace_run_tallies WHERE hour < $1 LIMIT {batch})"
            ),
            vec![cutoff.timestamp().div_euclid(3600).into()],
        ),
    };
    let done = db.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await?.rows_affected();
    Ok((done, None))
}

/// Processed events, received before the cutoff, whose payload is still there.
const EVENTS: &str = "status = 'processed' AND processed_at < $1 AND payload <> ''";
/// Sent emails, sent before the cutoff, whose body is still there.
const EMAILS: &str = "status = 'sent' AND sent_at < $1 AND (html <> '' OR text <> '')";

/// Empties `set` in the next `batch` rows of `table` (by key, after the cursor) that `filter`
/// (with the cutoff as `$1`) selects.
async fn empty(
    db: &DatabaseConnection,
    table: &str,
    set: &str,
    filter: &str,
    cutoff: DateTime<Utc>,
    batch: u64,
    cursor: &Option<String>,
) -> Result<(u64, Option<String>), DbErr> {
    let backend = db.get_database_backend();
    let after = cursor.clone().unwrap_or_default();
    // The limit is written in: with a parameter, PostgreSQL's generic plan expects a tenth of
    // the table and may sort it all instead of reading the key's index in order.
    let select = Statement::from_sql_and_values(
        backend,
        format!("SELECT id FROM {table} WHERE {filter} AND id > $2 ORDER BY id LIMIT {batch}"),
        [cutoff.into(), after.into()],
    );
    let ids: Vec<String> =
        db.query_all_raw(select).await?.iter().filter_map(|row| row.try_get::<String>("", "id").ok()).collect();
    let Some(last) = ids.last().cloned() else { return Ok((0, None)) };
    let marks: Vec<String> = crate::db::placeholders(backend, 1, ids.len()).collect();
    let update = Statement::from_sql_and_values(
        backend,
        format!("UPDATE {table} SET {set} WHERE id IN ({})", marks.join(", ")),
        ids.into_iter().map(Value::from),
    );
    let done = db.execute_raw(update).await?.rows_affected();
    Ok((done, Some(last)))
}

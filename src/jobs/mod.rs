//! Background jobs on apalis. This module is the ONLY place that touches apalis: its storages,
//! workers, monitor and tables. Workflow runs are its one kind of job: `table` inserts them
//! inside the caller's own database transaction (so a run exists exactly when the change that
//! caused it was committed) and reads their state; `runtime` runs the workers.

pub mod bare;
mod runtime;
mod table;

pub use runtime::{JobContext, run_workers, setup_queue_tables};
pub use table::{NewJob, WORKFLOW_QUEUE, cancel_not_started, insert_jobs, reopen_failed, retry_at, run_view_sql};

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

/// Jobs not yet finished (waiting, fetched or running), across every queue.
pub async fn unfinished_count<C: ConnectionTrait>(db: &C) -> Result<i64, DbErr> {
    let table = if db.get_database_backend() == DbBackend::Postgres { "apalis.jobs" } else { "Jobs" };
    count(
        db,
        &format!(
            "SELECT COUNT(*) AS n FROM {table} WHERE status IN ('Pending', 'Queued', 'Running') \
             OR (status = 'Failed' AND attempts < max_attempts)"
        ),
    )
    .await
}

/// Jobs in progress or due within `seconds` (retries a moment away included), across every
/// queue; jobs scheduled further ahead are not counted.
pub async fn due_within<C: ConnectionTrait>(db: &C, seconds: u32) -> Result<i64, DbErr> {
    let (table, now) = match db.get_database_backend() {
        DbBackend::Postgres => ("apalis.jobs", format!("now() + interval '{seconds} seconds'")),
        _ => ("Jobs", format!("CAST(strftime('%s', 'now') AS INTEGER) + {seconds}")),
    };
    count(
        db,
        &format!(
            "SELECT COUNT(*) AS n FROM {table} WHERE status IN ('Queued', 'Running') \
             OR (status IN ('Pending', 'Failed') AND attempts < max_attempts AND run_at <= {now})"
        ),
    )
    .await
}

/// Jobs waiting to run, across every queue: the health check's proof that the queue answers.
pub async fn pending_count<C: ConnectionTrait>(db: &C) -> Result<i64, DbErr> {
    let table = if db.get_database_backend() == DbBackend::Postgres { "apalis.jobs" } else { "Jobs" };
    count(db, &format!("SELECT COUNT(*) AS n FROM {table} WHERE status = 'Pending'")).await
}

async fn count<C: ConnectionTrait>(db: &C, sql: &str) -> Result<i64, DbErr> {
    let backend = db.get_database_backend();
    match db.query_one_raw(Statement::from_string(backend, sql)).await? {
        Some(row) => row.try_get::<i64>("", "n"),
        None => Ok(0),
    }
}

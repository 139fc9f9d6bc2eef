//! Background jobs on apalis. This module is the ONLY place that touches apalis: its storages,
//! workers, monitor and tables. Workflow runs are its one kind of job: `table` inserts them
//! inside the caller's own database transaction (so a run exists exactly when the change that
//! caused it was committed) and reads their state; `runtime` runs the workers; `postgres` and
//! `sqlite` are the storages they read, in the order of `fair`; `limits` holds back runs past a
//! workflow's limit per workspace.

#[cfg(feature = "test-hooks")]
pub mod bare;
pub mod depth;
pub mod fair;
pub mod limits;
mod postgres;
mod runtime;
mod sqlite;
mod table;
mod wake;
pub mod workers;

#[cfg(feature = "test-hooks")]
pub use postgres::ACKNOWLEDGE;
pub use runtime::{ALIVE_WITHIN, JobContext, run_workers, setup_queue_tables};
pub use table::{
    FAILED_INDEX, NewJob, WORKFLOW_QUEUE, cancel_not_started, insert_jobs_sqlite, reopen_failed, retry_at, run_view_sql,
};

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

#[cfg(feature = "test-hooks")]
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
            "SELECT COUNT(*) AS n FROM {table} WHERE status IN ('Queued', 'Running', 'Parked') \
             OR (status IN ('Pending', 'Failed') AND attempts < max_attempts AND run_at <= {now})"
        ),
    )
    .await
}

#[cfg(feature = "test-hooks")]
/// Moves every job scheduled in the future `seconds` earlier, as if that much time had passed:
/// how the tests drive day-long email sequences without waiting (the queue's clock is `run_at`).
pub async fn advance_clock<C: ConnectionTrait>(db: &C, seconds: i64) -> Result<u64, DbErr> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "UPDATE apalis.jobs SET run_at = run_at - make_interval(secs => $1) WHERE status = 'Pending' AND run_at > now()"
        }
        _ => {
            "UPDATE Jobs SET run_at = run_at - $1 WHERE status = 'Pending' AND run_at > CAST(strftime('%s', 'now') AS INTEGER)"
        }
    };
    let seconds: sea_orm::Value = if backend == DbBackend::Postgres { (seconds as f64).into() } else { seconds.into() };
    Ok(db.execute_raw(Statement::from_sql_and_values(backend, sql, [seconds])).await?.rows_affected())
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

//! Transactional enqueue: a job row is inserted into apalis's own table through the caller's
//! connection or transaction (sea-orm), so "commit the change" and "queue its follow-up work"
//! succeed or fail together. The SQL mirrors apalis's own sink queries.

use chrono::Utc;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A unit of background work: a serde payload with a queue of its own.
pub trait Job: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// The apalis queue (`job_type`) this job is stored under.
    const QUEUE: &'static str;
    /// Attempts before the job is left failed.
    const MAX_ATTEMPTS: i32 = 5;
}

/// Queues `job` to run now; returns the job's id (a ULID, as apalis requires).
pub async fn enqueue<J: Job, C: ConnectionTrait>(db: &C, job: &J) -> Result<String, DbErr> {
    let id = ulid::Ulid::new().to_string();
    let payload = serde_json::to_vec(job).map_err(|err| DbErr::Custom(format!("encoding {}: {err}", J::QUEUE)))?;
    let run_at = Utc::now().timestamp();
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "INSERT INTO apalis.jobs (id, job_type, job, status, attempts, max_attempts, run_at, priority, metadata) \
             VALUES ($1, $2, $3, 'Pending', 0, $4, to_timestamp($5), 0, ''::hstore)"
        }
        _ => {
            "INSERT INTO Jobs (job, id, job_type, status, attempts, max_attempts, run_at, priority, metadata) \
             VALUES ($3, $1, $2, 'Pending', 0, $4, $5, 0, '{}')"
        }
    };
    let values = [id.clone().into(), J::QUEUE.into(), payload.into(), J::MAX_ATTEMPTS.into(), run_at.into()];
    db.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    Ok(id)
}

/// Jobs not yet finished (waiting, fetched or running), across every queue.
pub async fn unfinished_count<C: ConnectionTrait>(db: &C) -> Result<i64, DbErr> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT COUNT(*) AS n FROM apalis.jobs WHERE status IN ('Pending', 'Queued', 'Running') \
             OR (status = 'Failed' AND attempts < max_attempts)"
        }
        _ => {
            "SELECT COUNT(*) AS n FROM Jobs WHERE status IN ('Pending', 'Queued', 'Running') \
             OR (status = 'Failed' AND attempts < max_attempts)"
        }
    };
    count(db, backend, sql).await
}

/// Jobs waiting to run, across every queue: the health check's proof that the queue answers.
pub async fn pending_count<C: ConnectionTrait>(db: &C) -> Result<i64, DbErr> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => "SELECT COUNT(*) AS n FROM apalis.jobs WHERE status = 'Pending'",
        _ => "SELECT COUNT(*) AS n FROM Jobs WHERE status = 'Pending'",
    };
    count(db, backend, sql).await
}

async fn count<C: ConnectionTrait>(db: &C, backend: DbBackend, sql: &str) -> Result<i64, DbErr> {
    let row = db.query_one_raw(Statement::from_string(backend, sql)).await?;
    match row {
        Some(row) => row.try_get::<i64>("", "n"),
        None => Ok(0),
    }
}

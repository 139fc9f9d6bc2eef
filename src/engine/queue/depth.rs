//! How deep the queue is: runs not finished (and failed, waiting for someone's decision) by
//! status, and how long the oldest due run has waited. Read only through the indexes on the
//! jobs not finished and failed, so the answer costs the same with a million finished runs;
//! `/metrics` and Platform → Queue read it.

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, Statement, TransactionTrait,
};

/// Begins the read-only transaction the counts are read in (one snapshot, so they agree). On
/// PostgreSQL it reads indexes entry by entry and compiles nothing. Right after a burst the
/// indexes of unfinished jobs hold an entry for every finished one until vacuum: a bitmap scan
/// visited each one's row on every count (240 ms after a million runs), where an index scan
/// marks them dead the first time and steps over them after (10 ms); and the planner priced
/// those counts above `jit_above_cost`, compiling them each time (14 ms).
pub async fn begin_counting(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let txn = db.begin().await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared("SET TRANSACTION READ ONLY; SET LOCAL enable_bitmapscan = off; SET LOCAL jit = off")
            .await?;
    }
    Ok(txn)
}

/// The statuses `by_status` answers with, in the order a page shows them.
pub const STATUSES: [&str; 6] = ["scheduled", "queued", "running", "waiting", "retrying", "failed"];

/// Runs per status of `STATUSES`, every status present (0 when none). Each is a count over
/// one range of an index that holds what it counts (on SQLite, the failed jobs' own index for
/// the retrying ones), so no job row is read: failed runs, which stay until someone decides,
/// cost an index entry each.
pub async fn by_status<C: ConnectionTrait>(db: &C) -> Result<Vec<(&'static str, i64)>, DbErr> {
    let backend = db.get_database_backend();
    let (table, now, failed) = match backend {
        DbBackend::Postgres => ("apalis.jobs", "now()", "apalis.jobs".to_owned()),
        _ => ("Jobs", "CAST(strftime('%s', 'now') AS INTEGER)", format!("Jobs INDEXED BY {}", super::FAILED_INDEX)),
    };
    let count = |filter: &str| format!("(SELECT COUNT(*) FROM {table} WHERE {filter})");
    let sql = format!(
        "SELECT {} AS scheduled, {} + {} AS queued, {} AS running, {} AS waiting, \
           (SELECT COUNT(*) FROM {failed} WHERE status = 'Failed' AND attempts < max_attempts) AS retrying, {} AS failed",
        count(&format!("status = 'Pending' AND run_at > {now}")),
        count(&format!("status = 'Pending' AND run_at <= {now}")),
        count("status = 'Queued'"),
        count("status = 'Running'"),
        count("status = 'Parked'"),
        count("status = 'Failed'"),
    );
    let Some(row) = db.query_one_raw(Statement::from_string(backend, sql)).await? else {
        return Ok(STATUSES.iter().map(|s| (*s, 0)).collect());
    };
    let get = |column: &str| row.try_get::<i64>("", column);
    // `failed` counted every failed job, the retrying ones among them.
    let retrying = get("retrying")?;
    Ok(vec![
        ("scheduled", get("scheduled")?),
        ("queued", get("queued")?),
        ("running", get("running")?),
        ("waiting", get("waiting")?),
        ("retrying", retrying),
        ("failed", get("failed")? - retrying),
    ])
}

/// Seconds the oldest due, waiting run has waited; 0 when none waits.
pub async fn oldest_due_wait<C: ConnectionTrait>(db: &C) -> Result<f64, DbErr> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT CAST(EXTRACT(EPOCH FROM now() - MIN(run_at)) AS DOUBLE PRECISION) AS waited \
             FROM apalis.jobs WHERE status = 'Pending' AND run_at <= now()"
        }
        _ => {
            "SELECT CAST(CAST(strftime('%s', 'now') AS INTEGER) - MIN(run_at) AS REAL) AS waited \
             FROM Jobs WHERE status = 'Pending' AND run_at <= CAST(strftime('%s', 'now') AS INTEGER)"
        }
    };
    let row = db.query_one_raw(Statement::from_string(backend, sql)).await?;
    let waited = row.and_then(|row| row.try_get::<Option<f64>>("", "waited").ok().flatten()).unwrap_or(0.0);
    Ok(waited.max(0.0))
}

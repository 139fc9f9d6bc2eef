//! Pruning finished runs: a run that succeeded, was skipped or was cancelled before the cutoff
//! goes with its job row and its timeline, once its chain is over (the chain's latest run has
//! itself finished before the cutoff), so a chain in progress keeps every run its progress
//! counts. Failed runs wait for someone's decision and are never pruned; neither is anything
//! queued, scheduled, running or waiting for a slot. With a run goes its idempotency key: a
//! repeated key is recognised for as long as runs are kept.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, Value};

use crate::db::begin_write;

/// SQL true for a job row `t` whose run is over and may go: done (succeeded or skipped) or
/// cancelled by someone, ended before `$1`. Its first term lets the database read its index of
/// finished jobs (PostgreSQL's `offstage_jobs_finished`, SQLite's `idx_jobs_completed_done_at`).
fn finished_before(backend: DbBackend, t: &str) -> String {
    let (indexed, err) = match backend {
        DbBackend::Postgres => ("'Done', 'Killed'", format!("{t}.last_result->>'Err'")),
        _ => ("'Done', 'Failed', 'Killed'", format!("json_extract({t}.last_result, '$.Err')")),
    };
    format!(
        "{t}.status IN ({indexed}) AND ({t}.status = 'Done' OR ({t}.status = 'Killed' \
           AND COALESCE({err}, '') LIKE 'cancelled by %')) AND {t}.done_at < $1"
    )
}

/// Up to `batch` runs that may go, by the cutoff `$1`. A chain's latest run is its continuation
/// with the highest id or, with none, its first run, which stores no chain id (nor does a run of
/// no chain; before 2026-12-05 each stored its own id, and is found either way).
///
/// The limit is written into the statement and PostgreSQL reads the oldest first: with a
/// parameter for the limit its generic plan expected a tenth of the table and hashed it all
/// (307 ms a batch with 300,000 finished jobs, slower than runs finished); reading the index in
/// order stops after the batch (8 ms). It goes on from `from`, where the batch before ended: the
/// jobs a batch deletes stay in PostgreSQL's index until vacuum, and each batch read them all
/// again from the start (with 1,000,000 runs going through, the prune fell behind at 800 runs a
/// second).
fn candidates(backend: DbBackend, batch: u64, from: Option<DateTime<Utc>>) -> String {
    let over = format!(
        "EXISTS (SELECT 1 FROM {table} l \
           WHERE l.id = COALESCE((SELECT c.id FROM workflow_runs c WHERE c.chain_id = COALESCE(r.chain_id, r.id) \
             ORDER BY c.id DESC LIMIT 1), r.id) \
           AND {latest})",
        table = if backend == DbBackend::Postgres { "apalis.jobs" } else { "Jobs" },
        latest = finished_before(backend, "l"),
    );
    match backend {
        // The oldest finished jobs alone first, in the index's order: joined to their runs in one
        // query, the planner (on the statistics of a table a million runs just went through)
        // chose to sort every finished job instead, 6 s a batch, with the bounds written in or not.
        DbBackend::Postgres => format!(
            "WITH oldest AS MATERIALIZED (SELECT j.id, j.done_at FROM apalis.jobs j WHERE {own} AND j.done_at >= '{from}' \
               ORDER BY j.done_at LIMIT {batch}) \
             SELECT o.id, o.done_at, {over} AS over FROM oldest o JOIN workflow_runs r ON r.id = o.id ORDER BY o.done_at",
            own = finished_before(backend, "j"),
            from = from.unwrap_or(DateTime::<Utc>::UNIX_EPOCH).to_rfc3339(),
        ),
        _ => format!(
            "SELECT r.id, j.done_at, TRUE AS over FROM Jobs j JOIN workflow_runs r ON r.id = j.id \
             WHERE {own} AND {over} LIMIT {batch}",
            own = finished_before(backend, "j"),
        ),
    }
}

/// The three deletes of one batch, each reading the batch's ids from `$1`.
fn deletes(backend: DbBackend) -> [String; 3] {
    let (table, ids) = match backend {
        DbBackend::Postgres => ("apalis.jobs", "(SELECT unnest($1::text[]))"),
        _ => ("Jobs", "(SELECT value FROM json_each($1))"),
    };
    [
        format!("DELETE FROM run_events WHERE run_id IN {ids}"),
        format!("DELETE FROM workflow_runs WHERE id IN {ids}"),
        format!("DELETE FROM {table} WHERE id IN {ids}"),
    ]
}

/// The cutoff as the job table stores `done_at`: unix seconds on SQLite.
fn cutoff_value(backend: DbBackend, cutoff: DateTime<Utc>) -> Value {
    match backend {
        DbBackend::Postgres => cutoff.into(),
        _ => cutoff.timestamp().into(),
    }
}

/// Removes up to `batch` runs that ended before `cutoff`, in one short transaction: how many,
/// and how many finished jobs it read (fewer than `batch`: no more to read). `from` is where
/// the next batch starts reading on PostgreSQL (`candidates`): none at first.
pub async fn prune_batch(
    db: &DatabaseConnection,
    cutoff: DateTime<Utc>,
    batch: u64,
    from: &mut Option<DateTime<Utc>>,
) -> Result<(u64, u64), DbErr> {
    let backend = db.get_database_backend();
    let select =
        Statement::from_sql_and_values(backend, candidates(backend, batch, *from), [cutoff_value(backend, cutoff)]);
    let rows = db.query_all_raw(select).await?;
    // PostgreSQL reads the next `batch` finished jobs and says of each whether its chain is over.
    let read = rows.len() as u64;
    if let Some(last) = rows.last().and_then(|row| row.try_get::<DateTime<Utc>>("", "done_at").ok()) {
        *from = Some(last);
    }
    let ids: Vec<String> = rows
        .iter()
        .filter(|row| row.try_get::<bool>("", "over").unwrap_or(false))
        .filter_map(|row| row.try_get::<String>("", "id").ok())
        .collect();
    if ids.is_empty() {
        return Ok((0, read));
    }
    let ids_value: Value = match backend {
        DbBackend::Postgres => ids.clone().into(),
        _ => serde_json::to_string(&ids).unwrap_or_default().into(),
    };
    // A run that may go stays so: nothing reopens a run that ended well, or continues a chain
    // whose latest run has ended; so the deletes need not look again.
    let txn = begin_write(db).await?;
    for sql in deletes(backend) {
        txn.execute_raw(Statement::from_sql_and_values(backend, sql, [ids_value.clone()])).await?;
    }
    txn.commit().await?;
    Ok((ids.len() as u64, read))
}

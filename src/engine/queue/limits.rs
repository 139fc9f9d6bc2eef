//! Limits per workflow and workspace: at most N runs of a workflow running at once in one
//! workspace, across every worker process (`Workflow::RUNNING_PER_WORKSPACE`).
//!
//! A run takes a slot as its attempt begins (`take_slot`): under a lock on its group (workspace
//! and workflow; an advisory lock on PostgreSQL, the write lock on SQLite) it counts the jobs of
//! the group that hold one (`limit_group` set, fetched or running). With a slot free it marks
//! its own job. Without, its job is parked: `status = 'Parked'`, unlocked and untagged, with the
//! reason in `last_result`, out of every worker's fetch, and apalis's acknowledgement of that
//! attempt is dropped (`is_parked`). A parked run is waiting, not failed: it keeps its attempts.
//!
//! A holder gives its slot back when its attempt is acknowledged (its job leaves `Queued` and
//! `Running`), and the acknowledging transaction puts the oldest parked run of the group back
//! in the queue (`unpark_after_postgres`/`_sqlite`). A slot freed any other way (a holder whose
//! process died for good) is found by `sweep`, which every worker process runs every few
//! seconds. A run put back that finds the slot taken again is parked again: the limit is only
//! ever decided under the group's lock.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use apalis_core::backend::TaskResult;
use sea_orm::sqlx::AssertSqlSafe;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};
use serde_json::Value;

/// The outcome a parked attempt answers apalis with; its acknowledgement is never written.
pub const PARKED_OUTCOME: &str = "parked";

/// The column and its indexes (see `table::adapt_job_table`).
pub(super) const COLUMN: (&str, &str) = ("limit_group", "TEXT");

pub(super) fn indexes(table: &str) -> [String; 2] {
    [
        format!(
            "CREATE INDEX IF NOT EXISTS offstage_jobs_slots ON {table} (lane, limit_group) \
             WHERE limit_group IS NOT NULL AND status IN ('Queued', 'Running')"
        ),
        format!(
            "CREATE INDEX IF NOT EXISTS offstage_jobs_parked ON {table} (lane, limit_group, id) WHERE status = 'Parked'"
        ),
    ]
}

/// Why a parked run waits, as the run page shows it: "1 running per workspace".
pub fn reason(limit: u32) -> String {
    format!("{limit} running per workspace")
}

/// Whether the attempt may go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Taken,
    Parked,
}

fn table(backend: DbBackend) -> &'static str {
    if backend == DbBackend::Postgres { "apalis.jobs" } else { "Jobs" }
}

/// Takes a slot of `group` in `lane` for job `id`, or parks the job; inside the caller's write
/// transaction (`db::begin_write`), which must commit before the attempt goes on (then `hold`).
pub async fn take_slot<C: ConnectionTrait>(
    txn: &C,
    id: &str,
    lane: &str,
    group: &str,
    limit: u32,
) -> Result<Slot, DbErr> {
    let backend = txn.get_database_backend();
    let table = table(backend);
    let run = |sql: String, values: Vec<sea_orm::Value>| Statement::from_sql_and_values(backend, sql, values);
    if backend == DbBackend::Postgres {
        let key = format!("offstage_limit\u{1f}{lane}\u{1f}{group}");
        txn.execute_raw(run("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))".into(), vec![key.into()])).await?;
    }
    let holders = txn
        .query_one_raw(run(
            format!(
                "SELECT COUNT(*) AS n FROM {table} WHERE lane = $1 AND limit_group = $2 \
                 AND status IN ('Queued', 'Running') AND id <> $3"
            ),
            vec![lane.into(), group.into(), id.into()],
        ))
        .await?
        .map(|row| row.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0);
    if holders < i64::from(limit) {
        txn.execute_raw(run(
            format!("UPDATE {table} SET limit_group = $1 WHERE id = $2"),
            vec![group.into(), id.into()],
        ))
        .await?;
        return Ok(Slot::Taken);
    }
    let waiting = serde_json::json!({ "Waiting": reason(limit) }).to_string();
    let cast = if backend == DbBackend::Postgres { "::jsonb" } else { "" };
    txn.execute_raw(run(
        format!(
            "UPDATE {table} SET status = 'Parked', limit_group = $1, lock_by = NULL, lock_at = NULL, fair_tag = NULL, \
             last_result = $2{cast} WHERE id = $3"
        ),
        vec![group.into(), waiting.into(), id.into()],
    ))
    .await?;
    Ok(Slot::Parked)
}

/// The slots this process's runs hold: job id → (lane, group). Read when their attempts are
/// acknowledged, to put the next parked run of each group back in the queue.
fn held() -> &'static Mutex<HashMap<String, (String, String)>> {
    static HELD: OnceLock<Mutex<HashMap<String, (String, String)>>> = OnceLock::new();
    HELD.get_or_init(Default::default)
}

/// Remembers that job `id` holds a slot of `group` in `lane`, once `take_slot`'s transaction
/// has committed (before, a failed commit would leave a slot remembered that was never taken).
pub fn hold(id: &str, lane: &str, group: &str) {
    if let Ok(mut held) = held().lock() {
        held.insert(id.to_owned(), (lane.to_owned(), group.to_owned()));
    }
}

/// The groups whose slots the acknowledged jobs `ids` held, forgotten here as they are given
/// back (one entry per slot).
pub(super) fn released<'a>(acks: impl IntoIterator<Item = &'a TaskResult<Value>>) -> Vec<(String, String)> {
    let Ok(mut held) = held().lock() else { return Vec::new() };
    if held.is_empty() {
        return Vec::new();
    }
    acks.into_iter().filter_map(|ack| held.remove(&ack.task_id.to_string())).collect()
}

/// True for the acknowledgement of a parked attempt: the job is no longer the worker's to
/// acknowledge, so writing it would end a run that has not run.
pub(super) fn is_parked(ack: &TaskResult<Value>) -> bool {
    matches!(&ack.result, Ok(result) if result.get("outcome").and_then(Value::as_str) == Some(PARKED_OUTCOME))
}

/// Puts the oldest parked run of one group (`$1` lane, `$2` group) back in the queue, due now.
fn unpark_sql(backend: DbBackend) -> String {
    let (table, now, lock) = match backend {
        DbBackend::Postgres => ("apalis.jobs", "now()", " FOR UPDATE SKIP LOCKED"),
        _ => ("Jobs", "strftime('%s', 'now')", ""),
    };
    format!(
        "UPDATE {table} SET status = 'Pending', run_at = {now}, limit_group = NULL, fair_tag = NULL \
         WHERE id = (SELECT id FROM {table} WHERE lane = $1 AND limit_group = $2 AND status = 'Parked' \
             ORDER BY id LIMIT 1{lock})"
    )
}

/// In the PostgreSQL acknowledgement's transaction: the next parked run of each group released.
pub(super) async fn unpark_after_postgres(
    tx: &mut sea_orm::sqlx::PgConnection,
    groups: &[(String, String)],
) -> Result<(), sea_orm::sqlx::Error> {
    let sql = unpark_sql(DbBackend::Postgres);
    for (lane, group) in groups {
        sea_orm::sqlx::query(AssertSqlSafe(sql.clone())).bind(lane).bind(group).execute(&mut *tx).await?;
    }
    Ok(())
}

/// In the SQLite acknowledgement's transaction: the same.
pub(super) async fn unpark_after_sqlite(
    tx: &mut sea_orm::sqlx::SqliteConnection,
    groups: &[(String, String)],
) -> Result<(), sea_orm::sqlx::Error> {
    let sql = unpark_sql(DbBackend::Sqlite);
    for (lane, group) in groups {
        sea_orm::sqlx::query(AssertSqlSafe(sql.clone())).bind(lane).bind(group).execute(&mut *tx).await?;
    }
    Ok(())
}

/// Puts back the oldest parked run of every group that no job holds a slot of: slots freed
/// without an acknowledgement here (a holder's process died for good). Returns how many.
pub async fn sweep<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    let backend = db.get_database_backend();
    let (table, now) = match backend {
        DbBackend::Postgres => ("apalis.jobs", "now()"),
        _ => ("Jobs", "strftime('%s', 'now')"),
    };
    let sql = format!(
        "UPDATE {table} SET status = 'Pending', run_at = {now}, limit_group = NULL, fair_tag = NULL \
         WHERE id IN (SELECT MIN(p.id) FROM {table} p WHERE p.status = 'Parked' AND NOT EXISTS ( \
             SELECT 1 FROM {table} h WHERE h.lane = p.lane AND h.limit_group = p.limit_group \
             AND h.status IN ('Queued', 'Running')) \
           GROUP BY p.lane, p.limit_group)"
    );
    Ok(db.execute_raw(Statement::from_string(backend, sql)).await?.rows_affected())
}

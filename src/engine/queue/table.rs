//! apalis's job table, read and written directly where apalis has no API: inserting a job inside
//! the caller's transaction, cancelling one that has not started, pushing a failed attempt's
//! next try into the future (backoff), reopening an exhausted one, and the SQL that turns a job
//! row into a run status. The SQL mirrors apalis's own queries (SQLite `Jobs`, PostgreSQL
//! `apalis.jobs`; run_at is unix seconds on SQLite, timestamptz on PostgreSQL).

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};

/// The queue every workflow run goes through.
pub const WORKFLOW_QUEUE: &str = "workflows";

fn statement(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(backend, sql, values)
}

/// A job to insert: the run's id, its request, when it is due, its attempts, its priority
/// (`Priority::queue_value`: the workers fetch the highest first) and its lane (its workspace's
/// id, or `""`: the workers take turns among lanes).
pub struct NewJob {
    pub id: String,
    pub payload: Vec<u8>,
    pub run_at: DateTime<Utc>,
    pub max_attempts: i32,
    pub priority: i32,
    pub lane: String,
}

/// One job as the SQLite insert reads it from its JSON parameter: an array, read by position
/// (an object's fields SQLite finds by comparing keys): its id, its payload's text (apalis's
/// JSON codec writes UTF-8), its attempts, priority, due time and lane, and its place among the
/// due jobs of its lane and class (`fair::places`; none when not due).
#[derive(serde::Serialize)]
struct JobRow<'a>(&'a str, &'a str, i32, i32, i64, &'a str, Option<i64>);

/// Inserts jobs on SQLite that a worker of `queue` will pick up at their `run_at`, in one
/// statement; those due now are tagged for fair dispatch at once (`fair`), the others when they
/// become due. The rows travel as one JSON parameter: binding five or six values per row cost
/// more than the insert itself. (On PostgreSQL jobs are written with their runs,
/// `runs::RunsInStatement`.)
pub async fn insert_jobs_sqlite<C: ConnectionTrait>(db: &C, queue: &str, jobs: &[NewJob]) -> Result<(), DbErr> {
    if jobs.is_empty() {
        return Ok(());
    }
    let backend = DbBackend::Sqlite;
    let now = Utc::now();
    let places = super::fair::places(jobs.iter().map(|job| (job.lane.as_str(), job.priority, job.run_at <= now)));
    let mut rows = Vec::with_capacity(jobs.len());
    for (job, place) in jobs.iter().zip(places) {
        rows.push(JobRow(
            &job.id,
            std::str::from_utf8(&job.payload).map_err(|err| DbErr::Custom(format!("a job payload: {err}")))?,
            job.max_attempts,
            job.priority,
            queue_seconds(job.run_at, Rounding::Down),
            &job.lane,
            place,
        ));
    }
    let rows = serde_json::to_string(&rows).map_err(|err| DbErr::Custom(format!("encoding jobs: {err}")))?;
    let input = "SELECT value ->> 0 AS id, CAST(value ->> 1 AS BLOB) AS job, value ->> 2 AS max_attempts, \
             value ->> 3 AS priority, value ->> 4 AS run_at, value ->> 5 AS lane, \
             value ->> 6 IS NOT NULL AS due, value ->> 6 AS place \
         FROM jsonb_each($2)";
    let sql = format!(
        "WITH input AS ({input}), {} {}",
        super::fair::bases_clause(backend, "input", "$1"),
        super::fair::insert_select(backend, "input", "$1"),
    );
    db.execute_raw(statement(backend, &sql, vec![queue.into(), rows.into()])).await?;
    super::wake::announce_inserted_runs();
    Ok(())
}

/// Marks jobs that have not started (waiting, parked by a limit, or waiting to retry) as killed with `reason`,
/// which must start with "cancelled by ". Returns how many were cancelled.
pub async fn cancel_not_started<C: ConnectionTrait>(db: &C, ids: &[String], reason: &str) -> Result<u64, DbErr> {
    if ids.is_empty() {
        return Ok(0);
    }
    let backend = db.get_database_backend();
    let result = serde_json::json!({ "Err": reason }).to_string();
    let (table, now, cast) = match backend {
        DbBackend::Postgres => ("apalis.jobs", "now()", "::jsonb"),
        _ => ("Jobs", "strftime('%s', 'now')", ""),
    };
    let placeholders: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 2)).collect();
    let sql = format!(
        "UPDATE {table} SET status = 'Killed', done_at = {now}, last_result = $1{cast}, lock_by = NULL \
         WHERE id IN ({}) AND (status IN ('Pending', 'Parked') OR (status = 'Failed' AND attempts < max_attempts))",
        placeholders.join(", ")
    );
    let mut values: Vec<Value> = vec![result.into()];
    values.extend(ids.iter().map(|id| Value::from(id.clone())));
    Ok(db.execute_raw(statement(backend, &sql, values)).await?.rows_affected())
}

/// Sets when a failed attempt is tried again. apalis re-fetches a failed job whose attempts are
/// below its maximum once `run_at` has passed, so this is the backoff. The job leaves the fair
/// order until then (it is tagged again when due).
pub async fn retry_at<C: ConnectionTrait>(db: &C, id: &str, at: DateTime<Utc>) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let (sql, at) = match backend {
        DbBackend::Postgres => ("UPDATE apalis.jobs SET run_at = $1, fair_tag = NULL WHERE id = $2", Value::from(at)),
        _ => ("UPDATE Jobs SET run_at = $1, fair_tag = NULL WHERE id = $2", queue_seconds(at, Rounding::Up).into()),
    };
    db.execute_raw(statement(backend, sql, vec![at, id.into()])).await.map(|_| ())
}

/// How a time is fitted to whole seconds where the queue keeps only those (SQLite).
#[derive(Clone, Copy)]
enum Rounding {
    /// Fetched up to a second early: the worker waits out the rest (`RunRequest::not_before`).
    Down,
    /// Never fetched early, up to a second late: for retries, whose time is only a backoff.
    Up,
}

/// The value of SQLite's `run_at` for `at`: apalis's column holds whole unix seconds
/// (PostgreSQL's keeps microseconds).
fn queue_seconds(at: DateTime<Utc>, rounding: Rounding) -> i64 {
    match rounding {
        Rounding::Up if at.timestamp_subsec_nanos() > 0 => at.timestamp() + 1,
        _ => at.timestamp(),
    }
}

/// Gives a job that failed for good `extra` more attempts, starting now. False when the job
/// had not failed for good.
pub async fn reopen_failed<C: ConnectionTrait>(db: &C, id: &str, extra: i32) -> Result<bool, DbErr> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "UPDATE apalis.jobs SET status = 'Pending', max_attempts = attempts + $1, run_at = now(), fair_tag = NULL, \
             lock_by = NULL, lock_at = NULL, done_at = NULL, last_result = NULL \
             WHERE id = $2 AND ((status = 'Failed' AND attempts >= max_attempts) \
             OR (status = 'Killed' AND COALESCE(last_result->>'Err', '') NOT LIKE 'cancelled by %'))"
        }
        _ => {
            "UPDATE Jobs SET status = 'Pending', max_attempts = attempts + $1, run_at = strftime('%s', 'now'), fair_tag = NULL, \
             lock_by = NULL, lock_at = NULL, done_at = NULL, last_result = NULL \
             WHERE id = $2 AND ((status = 'Failed' AND attempts >= max_attempts) \
             OR (status = 'Killed' AND COALESCE(json_extract(last_result, '$.Err'), '') NOT LIKE 'cancelled by %'))"
        }
    };
    Ok(db.execute_raw(statement(backend, sql, vec![extra.into(), id.into()])).await?.rows_affected() == 1)
}

/// A SELECT over `workflow_runs r` joined to its job `j`, with the run's status computed from
/// the job row (the only place it is stored) and the job's times as unix seconds (`run_at_s`,
/// `done_s`, for filters) and microseconds (`started_us`, `done_us`; SQLite keeps whole seconds):
/// `status, attempts, max_attempts, …, result` plus every column of `r`.
pub fn run_view_sql(backend: DbBackend) -> String {
    let (table, run_at, done_at, lock_at_us, done_at_us, result_text, outcome, err, due) = match backend {
        DbBackend::Postgres => (
            "apalis.jobs",
            "CAST(FLOOR(EXTRACT(EPOCH FROM j.run_at)) AS BIGINT)",
            "CAST(FLOOR(EXTRACT(EPOCH FROM j.done_at)) AS BIGINT)",
            "CAST(EXTRACT(EPOCH FROM j.lock_at) * 1000000 AS BIGINT)",
            "CAST(EXTRACT(EPOCH FROM j.done_at) * 1000000 AS BIGINT)",
            "CAST(j.last_result AS TEXT)",
            "j.last_result->'Ok'->>'outcome'",
            "COALESCE(j.last_result->>'Err', '')",
            "j.run_at <= now()",
        ),
        _ => (
            "Jobs",
            "j.run_at",
            "j.done_at",
            "j.lock_at * 1000000",
            "j.done_at * 1000000",
            "j.last_result",
            "json_extract(j.last_result, '$.Ok.outcome')",
            "COALESCE(json_extract(j.last_result, '$.Err'), '')",
            "j.run_at <= CAST(strftime('%s', 'now') AS INTEGER)",
        ),
    };
    format!(
        "SELECT r.*, \
           CASE \
             WHEN j.status IN ('Pending', 'Failed') AND j.attempts < j.max_attempts AND NOT ({due}) THEN 'scheduled' \
             WHEN j.status IN ('Pending', 'Failed', 'Queued') AND j.attempts < j.max_attempts THEN 'queued' \
             WHEN j.status = 'Queued' THEN 'queued' \
             WHEN j.status = 'Running' THEN 'running' \
             WHEN j.status = 'Parked' THEN 'queued' \
             WHEN j.status = 'Done' AND {outcome} = 'skipped' THEN 'skipped' \
             WHEN j.status = 'Done' THEN 'succeeded' \
             WHEN j.status = 'Killed' AND {err} LIKE 'cancelled by %' THEN 'cancelled' \
             ELSE 'failed' \
           END AS status, \
           CAST(j.attempts AS BIGINT) AS attempts, CAST(j.max_attempts AS BIGINT) AS max_attempts, {run_at} AS run_at_s, \
           {done_at} AS done_s, {lock_at_us} AS started_us, {done_at_us} AS done_us, {result_text} AS result \
         FROM workflow_runs r JOIN {table} j ON j.id = r.id"
    )
}

/// apalis's PostgreSQL migrations leave two indexes that repeat another (`unique_job_id` is the
/// primary key again, `lidx` is `idx_apalis_jobs_lock_by`); each costs every insert.
const DUPLICATE_INDEXES_POSTGRES: [&str; 2] =
    ["DROP INDEX IF EXISTS apalis.unique_job_id", "DROP INDEX IF EXISTS apalis.lidx"];

/// apalis's index on `lock_by` (`idx_apalis_jobs_lock_by` on PostgreSQL, `LIdx` on SQLite) holds
/// an entry for every job inserted, all NULL until a worker takes it. apalis reads it only with
/// `lock_by = …`, which the same index over the jobs a worker has taken answers; inserts skip it
/// (about 1 ms of every 1,000 runs started on PostgreSQL). Its unique index on (job_type,
/// idempotency_key) holds an entry for every job too, though Offstage gives jobs no key (a run's
/// key is in `workflow_runs`): the same index over the jobs that have one keeps apalis's rule.
fn narrowed_indexes(backend: DbBackend) -> [String; 4] {
    let (table, schema, apalis_lock_by) = match backend {
        DbBackend::Postgres => ("apalis.jobs", "apalis.", "idx_apalis_jobs_lock_by"),
        _ => ("Jobs", "", "LIdx"),
    };
    [
        format!("CREATE INDEX IF NOT EXISTS {LOCK_BY_INDEX} ON {table} (lock_by) WHERE lock_by IS NOT NULL"),
        format!("DROP INDEX IF EXISTS {schema}{apalis_lock_by}"),
        format!(
            "CREATE UNIQUE INDEX IF NOT EXISTS offstage_jobs_idempotency_key ON {table} (job_type, idempotency_key) \
             WHERE idempotency_key IS NOT NULL"
        ),
        format!("DROP INDEX IF EXISTS {schema}idx_jobs_idempotency_key"),
    ]
}

/// The narrowed `lock_by` index, whose statistic is pinned on SQLite
/// (`runtime::pin_lock_by_selectivity`).
pub(super) const LOCK_BY_INDEX: &str = "offstage_jobs_lock_by";

/// apalis's SQLite indexes that only its own fetch and listings read (Offstage fetches by
/// `fair`'s indexes and counts by `idx_jobs_status_run_at`). Each held every waiting job, and
/// the ones keyed on `status` moved each job three times on its way to done (waiting, fetched,
/// running, done): with `LIdx` and the idempotency index, a run wrote 17 index entries nothing
/// read. The benchmarks' FIFO switch fetches with apalis's query and keeps the two that query
/// reads (`sqlite_fetch_indexes`).
const APALIS_FETCH_INDEXES_SQLITE: [&str; 4] =
    ["idx_jobs_job_type_status_run_at", "idx_jobs_claimable", "idx_jobs_pending", "idx_jobs_failed"];

/// apalis's two SQLite fetch indexes, as its migrations create them.
const APALIS_FETCH_INDEXES_SQLITE_FIFO: [&str; 2] = [
    "CREATE INDEX IF NOT EXISTS idx_jobs_pending ON Jobs (job_type, priority DESC, run_at ASC, id ASC) \
     WHERE status = 'Pending' AND lock_by IS NULL",
    "CREATE INDEX IF NOT EXISTS idx_jobs_failed ON Jobs (job_type, priority DESC, run_at ASC, id ASC) \
     WHERE status = 'Failed' AND attempts < max_attempts",
];

/// The statements that leave SQLite's job table with the fetch indexes this process reads.
fn sqlite_fetch_indexes() -> Vec<String> {
    if super::fair::fifo() {
        return APALIS_FETCH_INDEXES_SQLITE_FIFO.map(String::from).to_vec();
    }
    APALIS_FETCH_INDEXES_SQLITE.iter().map(|index| format!("DROP INDEX IF EXISTS {index}")).collect()
}

/// Finished jobs by the time they ended: the prune finds the runs past their retention by it
/// (`retention`); and the jobs not finished, which `/metrics` counts by status
/// (`telemetry::gauges`, whose queries name the same statuses). apalis's index on `status` is
/// gone from PostgreSQL, and counting read the whole table: 30 ms with 300,000 finished jobs.
/// SQLite has apalis's `idx_jobs_completed_done_at` and `SIdx` for the same.
const FINISHED_INDEX_POSTGRES: [&str; 2] = [
    "CREATE INDEX IF NOT EXISTS offstage_jobs_finished ON apalis.jobs (done_at) WHERE status IN ('Done', 'Killed')",
    "CREATE INDEX IF NOT EXISTS offstage_jobs_unfinished ON apalis.jobs (status, run_at) INCLUDE (attempts, max_attempts) \
     WHERE status IN ('Pending', 'Queued', 'Running', 'Parked', 'Failed')",
];

/// apalis's foreign key from a job's `lock_by` to its worker. It fired for every job inserted
/// (NULL there, so it only queued and skipped a check: 0.5 of 12 ms per 1,000 runs started) and
/// looked up and locked the worker's row for every job fetched. A worker registers before it
/// fetches and nothing deletes a worker's row, so it guarded nothing Offstage does. SQLite's
/// table keeps its key: SQLite cannot drop one without copying the table.
const WORKER_KEY_POSTGRES: &str = "ALTER TABLE apalis.jobs DROP CONSTRAINT IF EXISTS fk_worker_lock_by";

/// Failed jobs by when their last attempt ended, with their attempts: Platform → Queue's
/// recent failures (`runs::recent_failures`) and the count of those retrying (`depth`, which
/// names it on SQLite). Only failed jobs are in it, so inserts and successes skip it.
fn failed_index(table: &str) -> String {
    format!(
        "CREATE INDEX IF NOT EXISTS {FAILED_INDEX} ON {table} (done_at, attempts, max_attempts) WHERE status = 'Failed'"
    )
}

/// The name of that index, which SQLite's queries name (`INDEXED BY`): its planner, without
/// statistics, prefers the index on status and reads every failed job's row.
pub const FAILED_INDEX: &str = "offstage_jobs_failed";

/// apalis's own fetch index on PostgreSQL. Offstage fetches by `fair`'s indexes, and the planner
/// could read a lane's highest tag through this one (every waiting job of the class, sorted), so
/// it is dropped; bare apalis and the benchmarks' FIFO switch fetch with apalis's query and put
/// it back (`bare`, `fair::fifo`).
pub const APALIS_FETCH_INDEX_POSTGRES: &str = "CREATE INDEX IF NOT EXISTS idx_apalis_jobs_fetch_partial \
     ON apalis.jobs (job_type, priority DESC, run_at) WHERE status = 'Pending' OR (status = 'Failed' AND attempts < max_attempts)";

/// Fits apalis's job table to Offstage: adds our own columns with their indexes (the lane and
/// tag of fair dispatch, `fair`; the slot of limits per workspace, `limits`), drops apalis's
/// indexes that repeat another or that only apalis's fetch reads, narrows its idempotency and
/// `lock_by` indexes to the jobs that have a value and, on PostgreSQL, drops the key from
/// `lock_by` to the workers and announces inserts once per statement
/// (`wake::ANNOUNCE_ONCE_PER_INSERT`). Idempotent; several processes
/// may start at once.
pub(super) async fn adapt_job_table(db: &sea_orm::DatabaseConnection) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let table = if backend == DbBackend::Postgres { "apalis.jobs" } else { "Jobs" };
    let columns = super::fair::COLUMNS.into_iter().chain([super::limits::COLUMN]);
    let indexes: Vec<String> = super::fair::indexes(backend)
        .into_iter()
        .chain(super::limits::indexes(table))
        .chain([failed_index(table)])
        .chain(narrowed_indexes(backend))
        .collect();
    if backend == DbBackend::Postgres {
        let txn = sea_orm::TransactionTrait::begin(db).await?;
        // One process at a time: concurrent CREATE INDEX IF NOT EXISTS can still collide.
        txn.execute_unprepared("SELECT pg_advisory_xact_lock(hashtext('offstage_fair_dispatch'))").await?;
        for (name, kind) in columns {
            txn.execute_unprepared(&format!("ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {name} {kind}")).await?;
        }
        for index in &indexes {
            txn.execute_unprepared(index).await?;
        }
        let statements =
            DUPLICATE_INDEXES_POSTGRES.into_iter().chain(FINISHED_INDEX_POSTGRES).chain([WORKER_KEY_POSTGRES]);
        for statement in statements.chain(super::wake::ANNOUNCE_ONCE_PER_INSERT) {
            txn.execute_unprepared(statement).await?;
        }
        let apalis_fetch = if super::fair::fifo() {
            APALIS_FETCH_INDEX_POSTGRES
        } else {
            "DROP INDEX IF EXISTS apalis.idx_apalis_jobs_fetch_partial"
        };
        txn.execute_unprepared(apalis_fetch).await?;
        return txn.commit().await;
    }
    let existing =
        db.query_all_raw(Statement::from_string(backend, "SELECT name FROM pragma_table_info('Jobs')")).await?;
    let has = |name: &str| existing.iter().any(|row| row.try_get::<String>("", "name").is_ok_and(|n| n == name));
    for (name, kind) in columns {
        if !has(name) {
            db.execute_unprepared(&format!("ALTER TABLE {table} ADD COLUMN {name} {kind}")).await?;
        }
    }
    for index in indexes.iter().chain(&sqlite_fetch_indexes()) {
        db.execute_unprepared(index).await?;
    }
    Ok(())
}

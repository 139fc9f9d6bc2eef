//! Fair dispatch among workspaces: start-time fair queuing over apalis's job table. Each job has
//! a lane (its workspace, or `''` for global runs) and, once due, a tag. The workers take due
//! jobs by priority, then tag, then due time, so within a priority class the lanes take turns.
//!
//! A due job's tag is `max(V, L) + n`: `V` is the lowest tag still waiting in its class (where
//! the queue has got to), `L` the highest tag waiting in its own lane (the end of its lane's
//! line), and `n` its place among the jobs of its lane inserted together. A workspace that
//! queues 100,000 runs gets tags `V+1 … V+100,000`; another workspace's run, queued a moment
//! later, gets about `V+1` and goes next. Within a lane tags only grow, so a workspace's own
//! runs keep their order.
//!
//! Runs due later (scheduled, or waiting to retry) have no tag, so the workers' index never
//! holds them; a fetch first tags those that have become due (`promote_sql`), oldest first (on
//! PostgreSQL at most every `PROMOTE_EVERY` per worker).
//!
//! Everything is in the job rows, so any number of worker processes share one order.

use std::collections::HashMap;
use std::str::FromStr;

use apalis_core::task::Task;
use apalis_core::task::builder::TaskBuilder;
use apalis_core::task::status::Status;
use apalis_core::task::task_id::TaskId;
use sea_orm::sqlx::AssertSqlSafe;
use sea_orm::{ConnectionTrait, DbBackend};

/// Due jobs promoted per fetch: a burst of scheduled runs is tagged in steps this size.
pub(super) const PROMOTE_PER_FETCH: i64 = 1000;
/// How often at most a worker tags the runs that have become due (scheduled, retried) before
/// it fetches. New runs due now are tagged as they are inserted, so the fetches their NOTIFY
/// wakes, and most fetches of a drain, skip that round trip: in `offstage-bench jobs`, drain
/// 21,100–21,800 → 23,000–26,400 runs/s and pickup from the commit 0.4–0.6 → 0.3 ms at p50,
/// for scheduled runs started 3 ms later (lateness p50 12 → 15 ms). Under half the poll
/// interval, so a poll with no fetch in between always tags.
const PROMOTE_EVERY: std::time::Duration = std::time::Duration::from_millis(12);

/// SQL that a job `t` (an alias, or empty) may be fetched: waiting, or failed with attempts
/// left (on SQLite apalis also requires a waiting job to be unlocked).
fn waiting(backend: DbBackend, t: &str) -> String {
    let t = if t.is_empty() { String::new() } else { format!("{t}.") };
    match backend {
        DbBackend::Postgres => {
            format!("({t}status = 'Pending' OR ({t}status = 'Failed' AND {t}attempts < {t}max_attempts))")
        }
        _ => format!(
            "(({t}status = 'Pending' AND {t}lock_by IS NULL) OR ({t}status = 'Failed' AND {t}attempts < {t}max_attempts))"
        ),
    }
}

fn jobs_table(backend: DbBackend) -> &'static str {
    if backend == DbBackend::Postgres { "apalis.jobs" } else { "Jobs" }
}

/// The index the workers fetch by and each class's lowest waiting tag is read from: waiting,
/// tagged jobs in the order they are taken. Only queries that state `fair_tag > 0` (every tag
/// is ≥ 1) can read it.
const NEXT_INDEX: &str = "offstage_jobs_fair_next";
/// The index each lane's highest waiting tag is read from. Only queries that name a lane (which
/// implies `lane IS NOT NULL`) can read it.
const LANE_INDEX: &str = "offstage_jobs_lane_tags";
/// The two before their predicates told them apart, dropped at start (`indexes`).
const FORMER_INDEXES: [&str; 2] = ["offstage_jobs_fair_fetch", "offstage_jobs_fair_lane"];

/// The job table read through `index`: on SQLite the index is named, because without fresh
/// statistics (SQLite gathers none by itself) its planner chose apalis's indexes and sorted
/// every waiting job on each fetch. PostgreSQL cannot be told; instead each index's predicate
/// has a condition only its own queries state (`NEXT_INDEX`, `LANE_INDEX`). With the same
/// predicate on both and statistics from when the table was small, PostgreSQL read a lane's
/// highest tag through the class's index, past every other lane's waiting jobs (2.8 ms per
/// insert with 3,000 waiting, the weekly digest's main cost).
fn jobs_by(backend: DbBackend, alias: &str, index: &str) -> String {
    match backend {
        DbBackend::Postgres => format!("apalis.jobs {alias}"),
        _ => format!("Jobs {alias} INDEXED BY {index}"),
    }
}

/// The lane and tag columns and their indexes (see `table::adapt_job_table`).
pub(super) const COLUMNS: [(&str, &str); 2] = [("lane", "TEXT NOT NULL DEFAULT ''"), ("fair_tag", "BIGINT")];

/// The statements that bring fair dispatch's indexes to this version: the former ones dropped,
/// the current ones created.
pub(super) fn indexes(backend: DbBackend) -> [String; 5] {
    let table = jobs_table(backend);
    let waiting = waiting(backend, "");
    let schema = if backend == DbBackend::Postgres { "apalis." } else { "" };
    [
        format!("DROP INDEX IF EXISTS {schema}{}", FORMER_INDEXES[0]),
        format!("DROP INDEX IF EXISTS {schema}{}", FORMER_INDEXES[1]),
        format!(
            "CREATE INDEX IF NOT EXISTS {NEXT_INDEX} ON {table} (job_type, priority DESC, fair_tag, run_at) \
             WHERE {waiting} AND fair_tag > 0"
        ),
        format!(
            "CREATE INDEX IF NOT EXISTS {LANE_INDEX} ON {table} (job_type, lane, priority, fair_tag) \
             WHERE {waiting} AND fair_tag IS NOT NULL AND lane IS NOT NULL"
        ),
        format!(
            "CREATE INDEX IF NOT EXISTS offstage_jobs_untagged ON {table} (job_type, run_at) \
             WHERE {waiting} AND fair_tag IS NULL"
        ),
    ]
}

/// The tag every due job of a (lane, priority) group starts after: `max(V, L)`, each read from
/// its own index (`NEXT_INDEX`, `LANE_INDEX`).
fn base(backend: DbBackend, queue: &str, lane: &str, priority: &str) -> String {
    let waiting = waiting(backend, "f");
    let (by_class, by_lane) = (jobs_by(backend, "f", NEXT_INDEX), jobs_by(backend, "f", LANE_INDEX));
    let greatest = if backend == DbBackend::Postgres { "GREATEST" } else { "max" };
    format!(
        "{greatest}(\
         COALESCE((SELECT f.fair_tag FROM {by_class} WHERE f.job_type = {queue} AND f.priority = {priority} \
             AND {waiting} AND f.fair_tag > 0 ORDER BY f.priority DESC, f.fair_tag LIMIT 1), 0), \
         COALESCE((SELECT f.fair_tag FROM {by_lane} WHERE f.job_type = {queue} AND f.lane = {lane} \
             AND f.priority = {priority} AND {waiting} AND f.fair_tag IS NOT NULL \
             ORDER BY f.lane DESC, f.priority DESC, f.fair_tag DESC LIMIT 1), 0))"
    )
}

/// How PostgreSQL reads the base of `lane`'s jobs of `priority` (EXPLAIN ANALYZE's text), for
/// the test that each of its two lookups reads its own index.
#[cfg(feature = "test-hooks")]
pub async fn explain_base_postgres(
    db: &sea_orm::DatabaseConnection,
    lane: &str,
    priority: i32,
) -> Result<String, sea_orm::DbErr> {
    let quote = |text: &str| format!("'{}'", text.replace('\'', "''"));
    let lookup = base(DbBackend::Postgres, &quote(super::WORKFLOW_QUEUE), &quote(lane), &priority.to_string());
    crate::db::explain_analyze_postgres(
        db,
        sea_orm::Statement::from_string(DbBackend::Postgres, format!("SELECT {lookup}")),
    )
    .await
}

/// The CTE clause `fair_bases AS (…)`: each (lane, priority) group of the due jobs of the CTE
/// `input` with the tag it starts after.
pub fn bases_clause(backend: DbBackend, input: &str, queue: &str) -> String {
    format!(
        "fair_bases AS (SELECT g.lane, g.priority, {} AS base FROM (SELECT DISTINCT lane, priority FROM {input} WHERE due) g)",
        base(backend, queue, "g.lane", "g.priority")
    )
}

/// The INSERT of the jobs of the CTE `input` (columns `id, job, max_attempts, priority, run_at,
/// lane, due, place`) into `queue` (an SQL expression), each due one tagged its `place` (`places`)
/// after its group's base in `fair_bases` (`bases_clause`).
pub fn insert_select(backend: DbBackend, input: &str, queue: &str) -> String {
    let metadata = if backend == DbBackend::Postgres { "''::hstore" } else { "'{}'" };
    format!(
        "INSERT INTO {} (id, job_type, job, status, attempts, max_attempts, run_at, priority, metadata, lane, fair_tag) \
         SELECT i.id, {queue}, i.job, 'Pending', 0, i.max_attempts, i.run_at, i.priority, {metadata}, i.lane, \
             CASE WHEN i.due THEN b.base + i.place END \
         FROM {input} i LEFT JOIN fair_bases b ON b.lane = i.lane AND b.priority = i.priority",
        jobs_table(backend)
    )
}

/// Each job's place among the due jobs of its lane and priority inserted together, in the order
/// given, from 1 (`None` when not due): its `n` in the tag `max(V, L) + n`. Counted here: as
/// `row_number()` in the INSERT, the database sorted the rows first (a bulk start of 1,000 runs
/// on SQLite was 8 % slower).
pub fn places<'a>(jobs: impl IntoIterator<Item = (&'a str, i32, bool)>) -> Vec<Option<i64>> {
    let mut taken: HashMap<(&str, i32), i64> = HashMap::new();
    jobs.into_iter()
        .map(|(lane, priority, due)| {
            due.then(|| {
                let place = taken.entry((lane, priority)).or_default();
                *place += 1;
                *place
            })
        })
        .collect()
}

/// The benchmark's switch back to first in, first out (`offstage-bench fairness`): the workers
/// fetch with apalis's own queries, as Offstage did before fair dispatch.
#[cfg(feature = "test-hooks")]
pub static FIFO: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub(super) fn fifo() -> bool {
    #[cfg(feature = "test-hooks")]
    return FIFO.load(std::sync::atomic::Ordering::Relaxed);
    #[cfg(not(feature = "test-hooks"))]
    false
}

/// Tags up to `PROMOTE_PER_FETCH` jobs that have become due, oldest first (`$1`: the queue;
/// SQLite's `$2`: now, in unix seconds).
fn promote_sql(backend: DbBackend) -> String {
    let table = jobs_table(backend);
    let (now, lock) = match backend {
        DbBackend::Postgres => ("now()", " FOR UPDATE SKIP LOCKED"),
        _ => ("$2", ""),
    };
    format!(
        "WITH due AS (
            SELECT id, lane, priority, run_at FROM {untagged}
            WHERE job_type = $1 AND {waiting} AND fair_tag IS NULL AND run_at <= {now}
            ORDER BY run_at, id LIMIT {PROMOTE_PER_FETCH}{lock}
        ), input AS (
            SELECT row_number() OVER (ORDER BY run_at, id) AS ord, id, lane, priority, 1 = 1 AS due FROM due
        ), {bases}, tagged AS (
            SELECT i.id, b.base + row_number() OVER (PARTITION BY i.lane, i.priority ORDER BY i.ord) AS tag
            FROM input i JOIN fair_bases b ON b.lane = i.lane AND b.priority = i.priority
        )
        UPDATE {table} SET fair_tag = tagged.tag FROM tagged WHERE {table}.id = tagged.id",
        waiting = waiting(backend, ""),
        untagged = jobs_by(backend, "", "offstage_jobs_untagged"),
        bases = bases_clause(backend, "input", "$1"),
    )
}

/// Locks up to `n` due jobs for worker `$1` of queue `$2` (SQLite's `$3`: now, in unix
/// seconds): by priority, then tag, then due time, exactly the order of the index
/// `NEXT_INDEX`, so the fetch reads its first entries and sorts nothing. `n` is
/// written into the SQL: PostgreSQL's generic plan for a `LIMIT $n` sorted the whole backlog
/// (80–100 ms a fetch with 100,000 runs waiting).
fn fetch_sql(backend: DbBackend, n: usize) -> String {
    let table = jobs_table(backend);
    let waiting = waiting(backend, "");
    let fetch_index = jobs_by(backend, "", NEXT_INDEX);
    match backend {
        DbBackend::Postgres => format!(
            "WITH next AS (
                SELECT id FROM {table} WHERE job_type = $2 AND {waiting} AND fair_tag > 0 AND run_at <= now()
                ORDER BY priority DESC, fair_tag, run_at LIMIT {n} FOR UPDATE SKIP LOCKED
            )
            UPDATE {table} j SET status = 'Queued', lock_by = $1, lock_at = now() FROM next WHERE j.id = next.id
            RETURNING j.id, j.job, j.job_type, j.status, j.attempts, j.max_attempts, j.priority, j.fair_tag,
                CAST(EXTRACT(EPOCH FROM j.run_at) AS BIGINT) AS run_at_s"
        ),
        _ => format!(
            "UPDATE {table} SET status = 'Queued', lock_by = $1, lock_at = strftime('%s', 'now')
            WHERE ROWID IN (
                SELECT ROWID FROM {fetch_index} WHERE job_type = $2 AND {waiting} AND fair_tag > 0 AND run_at <= $3
                ORDER BY priority DESC, fair_tag, run_at LIMIT {n}
            )
            RETURNING id, job, job_type, status, attempts, max_attempts, priority, fair_tag, run_at AS run_at_s"
        ),
    }
}

/// A fetched job as apalis's worker takes it, with what orders it among the others fetched.
struct Fetched {
    priority: i64,
    tag: Option<i64>,
    run_at: i64,
    task: Task<Vec<u8>>,
}

fn decode<R: sea_orm::sqlx::Row>(row: &R, worker: &str) -> Result<Fetched, sea_orm::sqlx::Error>
where
    for<'c> &'c str: sea_orm::sqlx::ColumnIndex<R>,
    for<'r> String: sea_orm::sqlx::Decode<'r, R::Database> + sea_orm::sqlx::Type<R::Database>,
    for<'r> Vec<u8>: sea_orm::sqlx::Decode<'r, R::Database> + sea_orm::sqlx::Type<R::Database>,
    for<'r> i64: sea_orm::sqlx::Decode<'r, R::Database> + sea_orm::sqlx::Type<R::Database>,
    for<'r> i32: sea_orm::sqlx::Decode<'r, R::Database> + sea_orm::sqlx::Type<R::Database>,
{
    let bad = |what: String| sea_orm::sqlx::Error::Protocol(what);
    let id: String = row.try_get("id")?;
    let status: String = row.try_get("status")?;
    let int = |name: &str| -> Result<i64, sea_orm::sqlx::Error> {
        row.try_get::<i64, _>(name).or_else(|_| row.try_get::<i32, _>(name).map(i64::from))
    };
    let (attempts, max_attempts, priority, run_at) =
        (int("attempts")?, int("max_attempts")?, int("priority")?, int("run_at_s")?);
    let task = TaskBuilder::new(row.try_get::<Vec<u8>, _>("job")?)
        .task_id(TaskId::from_str(&id).map_err(|err| bad(format!("job id {id}: {err}")))?)
        .queue(row.try_get::<String, _>("job_type")?.into())
        .status(Status::from_str(&status).map_err(|err| bad(format!("job status {status}: {err}")))?)
        .attempt(usize::try_from(attempts).unwrap_or_default())
        .max_attempts(usize::try_from(max_attempts).unwrap_or(1))
        .run_at_timestamp(u64::try_from(run_at).unwrap_or_default())
        .lock_by(Some(worker.to_owned()))
        .priority(usize::try_from(priority).unwrap_or_default())
        .build();
    Ok(Fetched { priority, tag: int("fair_tag").ok(), run_at, task })
}

/// In the order the worker should start them (UPDATE … RETURNING keeps none).
fn in_order(mut fetched: Vec<Fetched>) -> Vec<Task<Vec<u8>>> {
    fetched.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.tag.cmp(&b.tag)).then(a.run_at.cmp(&b.run_at)));
    fetched.into_iter().map(|f| f.task).collect()
}

/// When a PostgreSQL worker tags the runs that have become due. apalis clones the storage
/// for each call, so the clones share the last time.
#[derive(Clone, Default)]
pub(super) struct PromotionClock(std::sync::Arc<std::sync::Mutex<Option<std::time::Instant>>>);

impl PromotionClock {
    /// True, and from now on false for `PROMOTE_EVERY`, when the last promotion is that old.
    fn due(&self) -> bool {
        // A poisoned lock still holds a valid instant.
        let mut last = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let due = last.is_none_or(|at| at.elapsed() >= PROMOTE_EVERY);
        if due {
            *last = Some(std::time::Instant::now());
        }
        due
    }
}

/// PostgreSQL: tags what has become due (when `promotion` says so), then locks the next `n`
/// jobs for `worker`.
pub(super) async fn fetch_postgres(
    conn: &mut sea_orm::sqlx::PgConnection,
    queue: &str,
    worker: &str,
    n: usize,
    promotion: &PromotionClock,
) -> Result<Vec<Task<Vec<u8>>>, sea_orm::sqlx::Error> {
    if promotion.due() {
        sea_orm::sqlx::query(AssertSqlSafe(promote_sql(DbBackend::Postgres))).bind(queue).execute(&mut *conn).await?;
    }
    let rows = sea_orm::sqlx::query(AssertSqlSafe(fetch_sql(DbBackend::Postgres, n)))
        .bind(worker)
        .bind(queue)
        .fetch_all(&mut *conn)
        .await?;
    Ok(in_order(rows.iter().map(|row| decode(row, worker)).collect::<Result<_, _>>()?))
}

/// SQLite: the same, in one write transaction.
pub(super) async fn fetch_sqlite(
    pool: &sea_orm::sqlx::SqlitePool,
    queue: &str,
    worker: &str,
    n: usize,
) -> Result<Vec<Task<Vec<u8>>>, sea_orm::sqlx::Error> {
    let now = chrono::Utc::now().timestamp();
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    sea_orm::sqlx::query(AssertSqlSafe(promote_sql(DbBackend::Sqlite))).bind(queue).bind(now).execute(&mut *tx).await?;
    let rows = sea_orm::sqlx::query(AssertSqlSafe(fetch_sql(DbBackend::Sqlite, n)))
        .bind(worker)
        .bind(queue)
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(in_order(rows.iter().map(|row| decode(row, worker)).collect::<Result<_, _>>()?))
}

/// The `n` lanes with the most runs due and waiting (parked by a limit included; `''` is global
/// runs), largest first: what Platform → Queue shows. The statuses named first keep both
/// databases on the indexes of waiting jobs (by `job_type` alone, SQLite read every job: 350 ms
/// with a million finished).
pub async fn largest_backlogs<C: ConnectionTrait>(db: &C, n: u64) -> Result<Vec<(String, i64)>, sea_orm::DbErr> {
    let backend = db.get_database_backend();
    let now = if backend == DbBackend::Postgres { "now()" } else { "CAST(strftime('%s', 'now') AS INTEGER)" };
    let sql = format!(
        "SELECT lane, COUNT(*) AS n FROM {} WHERE status IN ('Pending', 'Failed', 'Parked') AND job_type = $1 \
         AND ({} AND run_at <= {now} OR status = 'Parked') GROUP BY lane ORDER BY n DESC, lane LIMIT {n}",
        jobs_table(backend),
        waiting(backend, ""),
    );
    let statement = sea_orm::Statement::from_sql_and_values(backend, sql, [super::WORKFLOW_QUEUE.into()]);
    db.query_all_raw(statement)
        .await?
        .iter()
        .map(|row| Ok((row.try_get::<String>("", "lane")?, row.try_get::<i64>("", "n")?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::places;

    #[test]
    fn places_count_the_due_jobs_of_each_lane_and_priority_in_order_and_skip_those_not_due() {
        let jobs =
            [("a", 10, true), ("b", 10, true), ("a", 10, false), ("a", 10, true), ("a", 20, true), ("b", 10, true)];
        assert_eq!(places(jobs), vec![Some(1), Some(1), None, Some(2), Some(1), Some(2)]);
    }
}

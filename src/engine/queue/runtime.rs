//! The worker side: creates apalis's tables, builds one worker per queue on the storage that
//! matches the database (`queue::sqlite` or `queue::postgres`, both on apalis's tables with
//! the fair order of `queue::fair`, sharing sea-orm's pool) and runs them under an
//! apalis Monitor until shutdown. On shutdown, running jobs finish and fetched-but-unstarted
//! ones go back to the queue; a killed process's jobs are re-queued by the heartbeat of any
//! live worker once the dead one has missed its heartbeats.

use std::future::Future;
use std::time::Duration;

use anyhow::Context;
use apalis::prelude::*;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use super::WORKFLOW_QUEUE;
use super::postgres::PostgresQueue;
use super::sqlite::SqliteQueue;
use super::wake::{WakeUp, inserted_runs};
use crate::config::Config;
use crate::engine::execute::{AttemptRecorder, RunError, attempt_recorder};
use crate::engine::runs::Starter;
use crate::engine::tallies::Tallies;
use crate::engine::{Registry, RunRequest, RunResult, Services};
use crate::tenancy::{WorkspaceLoader, workspace_loader};

/// What every job handler gets: the database, the settings, the workflows it may run, the
/// services the composition root provides (the mailer, …), the writer of attempts' records,
/// the loader of workspaces, the starter of runs and the counts of runs ended.
#[derive(Clone)]
pub struct JobContext {
    pub db: DatabaseConnection,
    /// For reads that need not wait for writes (`db::readers`).
    pub read_db: DatabaseConnection,
    pub config: Config,
    pub registry: Registry,
    pub services: Services,
    pub attempts: AttemptRecorder,
    pub workspaces: WorkspaceLoader,
    /// Starts the runs workflows start, several per commit.
    pub starter: Starter,
    /// The attempts ended in this process and not yet counted in the database (`tallies`).
    pub tallies: Tallies,
}

impl JobContext {
    /// Starts the attempt recorder's and the workspace loader's tasks on the current runtime.
    pub fn new(db: DatabaseConnection, config: Config, registry: Registry, services: Services) -> JobContext {
        let read_db = crate::db::readers(&db);
        let (attempts, workspaces, starter) =
            (attempt_recorder(db.clone()), workspace_loader(read_db.clone()), Starter::new(db.clone()));
        JobContext {
            db,
            read_db,
            config,
            registry,
            services,
            attempts,
            workspaces,
            starter,
            tallies: Tallies::default(),
        }
    }
}

pub(super) const POLL_INTERVAL: Duration = Duration::from_millis(25);
/// Jobs fetched per poll.
pub(super) const BATCH_SIZE: usize = 50;
const HEARTBEAT: Duration = Duration::from_secs(3);
const MISSED_HEARTBEATS: usize = 3;
/// A worker that sent a heartbeat this recently is alive (`/readyz`, `offstage restore`).
pub const ALIVE_WITHIN: Duration = Duration::from_secs(HEARTBEAT.as_secs() * MISSED_HEARTBEATS as u64);
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Creates (or upgrades) apalis's own tables. On SQLite its migration history lives in sqlx's
/// `_sqlx_migrations` table, apart from sea-orm's `seaql_migrations`.
pub async fn setup_queue_tables(db: &DatabaseConnection) -> anyhow::Result<()> {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            apalis_postgres::PostgresStorage::setup(db.get_postgres_connection_pool())
                .await
                .context("creating the job queue tables (PostgreSQL)")?;
        }
        _ => {
            // Not `SqliteStorage::setup`: it would switch its connection to synchronous=OFF.
            apalis_sqlite::SqliteStorage::migrations()
                .run(db.get_sqlite_connection_pool())
                .await
                .context("creating the job queue tables (SQLite)")?;
        }
    }
    super::table::adapt_job_table(db).await.context("adding fair dispatch and limits to the job queue")?;
    if db.get_database_backend() == DbBackend::Sqlite {
        pin_lock_by_selectivity(db, super::table::LOCK_BY_INDEX)
            .await
            .context("tuning the job queue's query plans (SQLite)")?;
    }
    Ok(())
}

/// apalis acknowledges finished jobs with `UPDATE Jobs … FROM json_each(batch) WHERE id = … AND
/// lock_by = worker`. Without statistics SQLite drives that from the `lock_by` index, and every
/// job a worker ever finished keeps its `lock_by`: each acknowledgement re-parsed the batch's
/// JSON once per job done so far (profiled: 40 % of CPU after 10,000 runs, and growing). The
/// statistic recorded here says a `lock_by` value matches many rows, so the planner walks the
/// batch and finds each job by id instead. A later ANALYZE replaces it with real figures,
/// which lead to the same plan. `index` is the table's index on `lock_by`.
pub(super) async fn pin_lock_by_selectivity(db: &DatabaseConnection, index: &str) -> Result<(), sea_orm::DbErr> {
    let stats =
        Statement::from_string(DbBackend::Sqlite, "SELECT 1 AS n FROM sqlite_master WHERE name = 'sqlite_stat1'");
    if db.query_one_raw(stats).await?.is_none() {
        // Only ANALYZE creates the statistics table.
        db.execute_unprepared("ANALYZE Jobs").await?;
    }
    db.execute_unprepared(&format!("DELETE FROM sqlite_stat1 WHERE tbl = 'Jobs' AND idx = '{index}'")).await?;
    db.execute_unprepared(&format!(
        "INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('Jobs', '{index}', '1000000 100000')"
    ))
    .await?;
    db.execute_unprepared("ANALYZE sqlite_schema").await?;
    Ok(())
}

/// A worker name unique to this process: apalis refuses two live workers with one name.
fn worker_name(queue: &str, restarts: usize) -> String {
    format!("{}{}:{restarts}", this_process(queue), &ulid::Ulid::new().to_string()[20..])
}

/// How every worker name of this process begins: queue, host and process id.
fn this_process(queue: &str) -> String {
    format!("{queue}@{}:{}:", super::workers::host(), std::process::id())
}

async fn run_workflow(
    request: RunRequest,
    ctx: Data<JobContext>,
    id: TaskId,
    attempt: Attempt,
) -> Result<RunResult, RunError> {
    let attempt = u32::try_from(attempt.current().max(1)).unwrap_or(u32::MAX);
    crate::engine::execute(&ctx, &id.to_string(), attempt, request).await
}

/// Runs every worker until `shutdown` resolves, then drains gracefully.
pub async fn run_workers(
    ctx: JobContext,
    shutdown: impl Future<Output = std::io::Result<()>> + Send + 'static,
) -> anyhow::Result<()> {
    let concurrency = ctx.config.worker_concurrency;
    let (ctx_db, ctx_registry) = (ctx.db.clone(), ctx.registry.clone());
    let flushing = ctx.tallies.keep_flushing(ctx.db.clone(), ctx.config.counts_every);
    let monitor = Monitor::new().shutdown_timeout(SHUTDOWN_GRACE);
    let monitor = match ctx.db.get_database_backend() {
        DbBackend::Postgres => {
            let pool = ctx.db.get_postgres_connection_pool().clone();
            monitor.register(move |restarts| {
                let config = apalis_postgres::Config::default()
                    .queue(WORKFLOW_QUEUE)
                    .batch_size(BATCH_SIZE)
                    .heartbeat_interval(HEARTBEAT)
                    .missed_heartbeats(MISSED_HEARTBEATS);
                // Woken at once by the insert trigger's NOTIFY (`wake::ANNOUNCE_ONCE_PER_INSERT`);
                // the interval catches runs that become due later (scheduled, retried) and
                // anything a lost notification missed.
                let announcements = apalis_postgres::Pubsub::new(pool.clone(), WORKFLOW_QUEUE.to_owned());
                let storage = PostgresQueue::<RunRequest>::new(&pool, config)
                    .poll_with_strategy(WakeUp::new(announcements, POLL_INTERVAL));
                WorkerBuilder::new(worker_name(WORKFLOW_QUEUE, restarts))
                    .backend(storage)
                    .data(ctx.clone())
                    .concurrency(concurrency)
                    .build(run_workflow)
            })
        }
        _ => {
            let pool = ctx.db.get_sqlite_connection_pool().clone();
            monitor.register(move |restarts| {
                let config = apalis_sqlite::Config::default()
                    .queue(WORKFLOW_QUEUE)
                    .batch_size(BATCH_SIZE)
                    .heartbeat_interval(HEARTBEAT)
                    .missed_heartbeats(MISSED_HEARTBEATS);
                // Woken at once by this process's inserts; the interval catches runs that become
                // due later (scheduled, retried).
                let storage = SqliteQueue::<RunRequest>::new(&pool, config)
                    .poll_with_strategy(WakeUp::new(inserted_runs(), POLL_INTERVAL));
                WorkerBuilder::new(worker_name(WORKFLOW_QUEUE, restarts))
                    .backend(storage)
                    .data(ctx.clone())
                    .concurrency(concurrency)
                    .build(run_workflow)
            })
        }
    };
    let ticker = tokio::spawn(fire_schedules_every_second(ctx_db, ctx_registry));
    let result = monitor
        .should_restart(|worker, err| {
            tracing::warn!(worker = worker.name(), error = %err, "worker stopped; restarting");
            true
        })
        .run_with_signal(shutdown)
        .await
        .context("job workers");
    ticker.abort();
    flushing.stop().await;
    result
}

/// Waits before a restarted worker registers again, as each storage's `register` does first: a
/// worker stops when the database does, and an outage should not burn a core. apalis restarts a
/// worker with its context, which counts the restarts. The wait is here, asynchronous, because
/// apalis asks `should_restart` from inside the monitor's poll, where a sleep held a runtime thread.
pub(super) async fn wait_to_restart(worker: &WorkerContext) {
    let delay = restart_delay(worker.restarts());
    if !delay.is_zero() {
        tracing::info!(worker = worker.name(), ?delay, "waiting before the worker registers again");
        tokio::time::sleep(delay).await;
    }
}

/// How long a worker restarted `restarts` times waits: none at its first start, 100 ms after the
/// first stop, doubling up to 1.6 s.
fn restart_delay(restarts: usize) -> Duration {
    match restarts {
        0 => Duration::ZERO,
        n => Duration::from_millis(100 * 2u64.pow((n.min(5) - 1) as u32)),
    }
}

/// How often a worker process looks for slots freed without their acknowledgement (`limits`).
const SWEEP_EVERY_TICKS: u64 = 5;

/// The schedules' clock: every worker process fires due schedules once a second (locking makes
/// several processes safe; see `engine::schedules`), and every few seconds puts back parked
/// runs whose slot was freed without a word (`limits::sweep`).
async fn fire_schedules_every_second(db: DatabaseConnection, registry: Registry) {
    let mut interval = tokio::time::interval(Duration::from_secs(1));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for tick in 0u64.. {
        interval.tick().await;
        if tick % SWEEP_EVERY_TICKS == 0
            && let Err(err) = super::limits::sweep(&db).await
        {
            tracing::warn!(error = %err, "looking for freed slots failed; trying again in a few seconds");
        }
        // A full batch means more are due (10,000 workspaces' Sunday digests at one instant):
        // keep firing rather than wait a second per batch.
        loop {
            match crate::engine::schedules::fire_due(&db, &registry, chrono::Utc::now()).await {
                Ok(fired) if fired >= crate::engine::schedules::BATCH as usize => continue,
                Ok(_) => break,
                Err(err) => {
                    tracing::warn!(error = %err, "firing due schedules failed; trying again in a second");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::restart_delay;
    use std::time::Duration;

    #[test]
    fn a_first_start_does_not_wait_and_a_restarted_worker_waits_100_ms_doubling_up_to_1_6_s() {
        let waits: Vec<Duration> = (0..8).map(restart_delay).collect();
        let ms = |n| Duration::from_millis(n);
        assert_eq!(waits, [ms(0), ms(100), ms(200), ms(400), ms(800), ms(1600), ms(1600), ms(1600)]);
    }
}

//! Bare apalis, for the benchmark's baseline: the same storage, no-op jobs pushed with apalis's
//! own bulk push and drained by a plain apalis worker with the same concurrency, batch size and
//! polling, so `offstage-bench` can print Offstage's overhead as a ratio. On SQLite it works in
//! a database file of its own beside Offstage's: apalis's SQLite push names no columns, and
//! Offstage's job table has two more (`fair`).

use std::time::{Duration, Instant};

use apalis::prelude::*;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend};
use serde::{Deserialize, Serialize};

use super::runtime::{BATCH_SIZE, POLL_INTERVAL};

const QUEUE: &str = "bench_bare";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Noop(u64);

async fn noop(_: Noop) -> Result<(), BoxDynError> {
    Ok(())
}

/// Pushes `n` no-op jobs in bulk, then drains them; returns (push time, drain time).
pub async fn push_and_drain(
    db: &DatabaseConnection,
    n: u64,
    concurrency: usize,
) -> anyhow::Result<(Duration, Duration)> {
    let jobs: Vec<Noop> = (0..n).map(Noop).collect();
    if db.get_database_backend() == DbBackend::Postgres {
        // apalis as it ships: its fetch reads by its own index, which Offstage drops.
        db.execute_unprepared(super::table::APALIS_FETCH_INDEX_POSTGRES).await?;
    }
    let started = Instant::now();
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool().clone();
            let config = apalis_postgres::Config::default().queue(QUEUE).batch_size(BATCH_SIZE);
            let mut storage = apalis_postgres::PostgresStorage::<Noop>::new(&pool).with_config(config.clone());
            for chunk in jobs.chunks(1000) {
                storage.push_bulk(chunk.to_vec()).await.map_err(|e| anyhow::anyhow!("push: {e:?}"))?;
            }
            let pushed = started.elapsed();
            let backend = apalis_postgres::PostgresStorage::<Noop>::new(&pool)
                .with_config(config)
                .poll_with_interval(POLL_INTERVAL);
            let worker = WorkerBuilder::new(format!("bench-bare-{}", ulid::Ulid::new()))
                .backend(backend)
                .concurrency(concurrency)
                .build(noop);
            let drained = drain(db, worker.run(), n).await?;
            Ok((pushed, drained))
        }
        _ => {
            let file = db.get_sqlite_connection_pool().connect_options().get_filename().with_extension("bare.db");
            // Offstage's own settings (`db::connect`): one connection, WAL, synchronous=FULL.
            let options = sea_orm::sqlx::sqlite::SqliteConnectOptions::new()
                .filename(file)
                .create_if_missing(true)
                .journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10))
                .pragma("cache_size", crate::db::WRITER_CACHE_KIB);
            let pool = sea_orm::sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect_with(options).await?;
            apalis_sqlite::SqliteStorage::migrations().run(&pool).await?;
            let bare_db = sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(pool.clone());
            super::runtime::pin_lock_by_selectivity(&bare_db, "LIdx").await?;
            let config = apalis_sqlite::Config::default().queue(QUEUE).batch_size(BATCH_SIZE);
            let mut storage = apalis_sqlite::SqliteStorage::<Noop>::new(&pool).with_config(config.clone());
            for chunk in jobs.chunks(1000) {
                storage.push_bulk(chunk.to_vec()).await.map_err(|e| anyhow::anyhow!("push: {e:?}"))?;
            }
            let pushed = started.elapsed();
            let backend =
                apalis_sqlite::SqliteStorage::<Noop>::new(&pool).with_config(config).poll_with_interval(POLL_INTERVAL);
            let worker = WorkerBuilder::new(format!("bench-bare-{}", ulid::Ulid::new()))
                .backend(backend)
                .concurrency(concurrency)
                .build(noop);
            let drained = drain(&bare_db, worker.run(), n).await?;
            Ok((pushed, drained))
        }
    }
}

/// Runs `worker` until no job of the queue is left unfinished; returns how long that took.
async fn drain<F, E>(db: &DatabaseConnection, worker: F, n: u64) -> anyhow::Result<Duration>
where
    F: std::future::Future<Output = Result<(), E>>,
{
    let started = Instant::now();
    let table = if db.get_database_backend() == DbBackend::Postgres { "apalis.jobs" } else { "Jobs" };
    let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE job_type = '{QUEUE}' AND status <> 'Done'");
    let watch = async {
        loop {
            // As often as Offstage's own drain check: the count competes with the worker.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let left = super::count(db, &sql).await.unwrap_or(i64::MAX);
            if left == 0 {
                return started.elapsed();
            }
        }
    };
    tokio::select! {
        elapsed = watch => Ok(elapsed),
        _ = worker => anyhow::bail!("the bare apalis worker stopped before draining {n} jobs"),
    }
}

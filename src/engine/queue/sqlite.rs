//! The SQLite storage the workers read: apalis's own tables and queries, driven by apalis's
//! persistence state machine, as `apalis_sqlite::SqliteStorage` does, except for the fetch,
//! which takes the runs in the fair order (`fair`).

use std::marker::PhantomData;
use std::task::{Context, Poll};

use apalis_codec::json::JsonCodec;
use apalis_core::backend::finalize::Durable;
use apalis_core::backend::persistence::{Persisted, Persistence, TaskEvent, TaskPersistLayer};
use apalis_core::backend::{Backend, BackendConfig, WireFormatBackend, WorkerFilter};
use apalis_core::task::Task;
use apalis_core::worker::context::WorkerContext;
use apalis_sqlite::{Config, Error, SqlitePool, queries};
use serde_json::Value;
use ulid::Ulid;

/// One worker's storage.
pub(super) struct SqliteQueue<Args> {
    persistence: Persisted<Bookkeeping>,
    codec: JsonCodec,
    _args: PhantomData<fn() -> Args>,
}

impl<Args> SqliteQueue<Args> {
    pub(super) fn new(pool: &SqlitePool, config: Config) -> SqliteQueue<Args> {
        SqliteQueue {
            persistence: Persisted::new(Bookkeeping { pool: pool.clone(), config }),
            codec: JsonCodec::default(),
            _args: PhantomData,
        }
    }
}

impl<Args> Backend for SqliteQueue<Args> {
    type Task = Task<Vec<u8>>;
    type Error = Error;

    fn poll_ready(&mut self, cx: &mut Context<'_>, worker: &WorkerContext) -> Poll<Result<(), Error>> {
        let heartbeat = self.persistence.config.heartbeat_interval;
        self.persistence.poll_ready(cx, worker, heartbeat)
    }

    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        worker: &WorkerContext,
    ) -> Poll<Option<Result<Task<Vec<u8>>, Error>>> {
        self.persistence.poll_next(cx, worker)
    }

    fn poll_close(&mut self, cx: &mut Context<'_>, worker: &WorkerContext) -> Poll<Result<(), Error>> {
        self.persistence.poll_close(cx, worker)
    }
}

impl<Args> BackendConfig for SqliteQueue<Args> {
    type Args = Args;
    type Kind = Durable;
    type Id = Ulid;
    type Config = Config;
    type Layer = TaskPersistLayer<JsonCodec<Value>, Value>;

    fn config(&self) -> &Config {
        &self.persistence.config
    }

    fn middleware(&mut self, _: &mut WorkerContext) -> Self::Layer {
        let config = self.persistence.config.clone();
        self.persistence
            .layer(JsonCodec::<Value>::default(), config.batch_size)
            .persist_results(config.persist_results)
            .lock_tasks(config.lock_tasks)
    }
}

impl<Args> WireFormatBackend for SqliteQueue<Args> {
    type Codec = JsonCodec;
    type Compact = Vec<u8>;

    fn codec(&self) -> &JsonCodec {
        &self.codec
    }
}

/// How a worker marks the jobs it started as running (`$1`: their ids as JSON, `$2`: the
/// worker's name): as apalis's `lock.sql`, but only jobs still fetched by this worker (see
/// `postgres::LOCK`).
const LOCK: &str = "UPDATE Jobs SET status = 'Running', lock_at = strftime('%s', 'now') \
    WHERE id IN (SELECT value FROM json_each($1)) AND status = 'Queued' AND lock_by = $2";

/// What apalis's state machine asks of the storage.
#[derive(Clone)]
struct Bookkeeping {
    pool: SqlitePool,
    config: Config,
}

impl Persistence for Bookkeeping {
    type Compact = Vec<u8>;
    type Response = Value;
    type Error = Error;

    async fn register(&mut self, worker: &WorkerContext) -> Result<(), Error> {
        super::runtime::wait_to_restart(worker).await;
        let (queue, dead_for) = (self.config.queue.as_ref(), self.config.heartbeat_interval.as_secs() as i64);
        let mut tx = self.pool.begin().await?;
        let own = WorkerFilter::Only(worker.name().to_owned());
        queries::reenqueue_orphaned(&mut *tx, dead_for, queue, &own).await?;
        queries::register_worker(&mut *tx, &self.config, worker, "SqliteStorage").await?;
        tx.commit().await?;
        Ok(())
    }

    async fn heartbeat(&mut self, worker: &WorkerContext) -> Result<(), Error> {
        let (queue, dead_for) = (self.config.queue.as_ref(), self.config.orphaned_duration().as_secs() as i64);
        let mut tx = self.pool.begin().await?;
        queries::keep_alive(&mut *tx, &self.config, worker).await?;
        let others = WorkerFilter::AllExcept(worker.name().to_owned());
        queries::reenqueue_orphaned(&mut *tx, dead_for, queue, &others).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn fetch_next(&mut self, worker: &WorkerContext) -> Result<Vec<Task<Vec<u8>>>, Error> {
        if super::fair::fifo() {
            let mut tx = self.pool.begin().await?;
            let fetched = queries::fetch_next(&mut *tx, &self.config, worker).await?;
            tx.commit().await?;
            return Ok(fetched);
        }
        let queue = self.config.queue.as_ref();
        Ok(super::fair::fetch_sqlite(&self.pool, queue, worker.name(), self.config.batch_size).await?)
    }

    async fn handle_events(&mut self, events: Vec<TaskEvent<Value>>, worker: &WorkerContext) -> Result<(), Error> {
        let locks: Vec<String> = events
            .iter()
            .filter_map(|event| if let TaskEvent::Lock { task_id } = event { Some(task_id.to_string()) } else { None })
            .collect();
        let acks: Vec<&queries::AckPayload> = events
            .iter()
            .filter_map(|event| if let TaskEvent::Complete(ack) = event { Some(ack) } else { None })
            .filter(|ack| !super::limits::is_parked(ack))
            .collect();
        let released = super::limits::released(acks.iter().copied());
        if locks.is_empty() && acks.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        if !locks.is_empty() {
            let ids = serde_json::to_string(&locks)
                .map_err(|err| Error::Database(sea_orm::sqlx::Error::Decode(Box::new(err))))?;
            sea_orm::sqlx::query(LOCK).bind(ids).bind(worker.name()).execute(&mut *tx).await?;
        }
        if !acks.is_empty() {
            queries::ack_tasks(&mut *tx, &acks, worker.name()).await?;
            super::limits::unpark_after_sqlite(&mut tx, &released).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn reenqueue_abandoned(&mut self, tasks: Vec<Task<Vec<u8>>>, worker: &WorkerContext) -> Result<u64, Error> {
        let ids: Vec<String> = tasks.iter().filter_map(|task| task.task_id().map(|id| id.to_string())).collect();
        let mut tx = self.pool.begin().await?;
        let count = queries::reenqueue_abandoned(&mut *tx, self.config.queue.as_ref(), worker.name(), &ids).await?;
        if count as usize != tasks.len() {
            return Err(Error::ReenqueueMismatch { queued: tasks.len(), abandoned: count as usize });
        }
        tx.commit().await?;
        Ok(count)
    }

    /// apalis's own push names no columns, and this table has two more (`fair`): runs are
    /// inserted by `queue::insert_jobs` (through `runs::start`), never through apalis.
    async fn push_tasks(&mut self, _: Vec<Task<Vec<u8>>>) -> Result<(), Error> {
        Err(Error::Database(sea_orm::sqlx::Error::Protocol(
            "runs are started with engine::runs, not pushed through apalis".into(),
        )))
    }
}

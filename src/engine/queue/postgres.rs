//! The PostgreSQL storage the workers read: apalis's own tables and queries, driven by apalis's
//! persistence state machine, with three differences from `apalis_postgres::PostgresStorage`. A
//! fetch takes the runs in the fair order (`fair`), without a transaction around it (apalis
//! wraps its `get_jobs` in BEGIN … COMMIT, two more round trips). And the locks and acknowledgements the worker reports
//! are written by a writer of their own, in the order reported, all waiting ones in one
//! transaction: apalis's state machine does one thing at a time, so the run announced while the
//! last run's acknowledgement was being committed waited for that commit before its fetch.
//!
//! A fetch is also committed without waiting for the disk (`synchronous_commit = off` on the
//! worker's fetching connection): it only hands jobs to this worker, and losing it in a database
//! crash puts them back in the queue. Whatever a run then commits for real flushes the log up to
//! there, the fetch included, so a run's effects are never durable without its hand-over.
//!
//! An acknowledgement finds its jobs by id alone (`ACKNOWLEDGE`): apalis's own looks them up
//! by worker too, and PostgreSQL answered that from the `lock_by` index, which lists every job
//! the worker ever ran: 15–50 ms per acknowledgement after 10,000 runs, and growing.
//!
//! A failed write stops the worker as apalis's own storage does (the monitor restarts it under a
//! new name, and the jobs it held are re-queued once its heartbeats stop). At shutdown the worker
//! waits until everything reported is written.

use std::collections::HashSet;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use apalis_codec::json::JsonCodec;
use apalis_core::backend::finalize::Durable;
use apalis_core::backend::persistence::{Persisted, Persistence, TaskEvent, TaskPersistLayer};
use apalis_core::backend::{Backend, BackendConfig, WireFormatBackend};
use apalis_core::worker::context::WorkerContext;
use apalis_postgres::queries::{self, ResultPayload};
use apalis_postgres::{Config, Error, PgPool, PgTask};
use futures::channel::{mpsc, oneshot};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use serde_json::Value;
use ulid::Ulid;

use super::limits;

/// One worker's storage (build one per worker: it owns the worker's event writer).
pub(super) struct PostgresQueue<Args> {
    persistence: Persisted<Bookkeeping>,
    codec: JsonCodec,
    /// At shutdown, after apalis's own close: waiting for the writer to finish.
    flushing: Option<BoxFuture<'static, Result<(), Error>>>,
    _args: PhantomData<fn() -> Args>,
}

impl<Args> PostgresQueue<Args> {
    pub(super) fn new(pool: &PgPool, config: Config) -> PostgresQueue<Args> {
        let events = EventWriter::start(pool.clone());
        // No sorting on this connection: a fetch is read in index order. Without it, on a table
        // whose statistics still say "empty" (a fresh database, before autovacuum's ANALYZE), the
        // planner sorted every waiting job by the fair order on each fetch (70–90 ms at 30,000).
        // And no JIT: the cost a disabled sort adds made every promotion compile (1.2 s each).
        let options = (*pool.connect_options()).clone().options([
            ("synchronous_commit", "off"),
            ("enable_sort", "off"),
            ("jit", "off"),
        ]);
        // One connection: a worker fetches one batch at a time.
        let fetching = FetchingConnection {
            pool: crate::db::pool_options::<sea_orm::sqlx::Postgres>(1).connect_lazy_with(options),
            held: Default::default(),
        };
        PostgresQueue {
            persistence: Persisted::new(Bookkeeping {
                pool: pool.clone(),
                fetching,
                config,
                events,
                promotion: Default::default(),
            }),
            codec: JsonCodec::default(),
            flushing: None,
            _args: PhantomData,
        }
    }
}

impl<Args> Backend for PostgresQueue<Args> {
    type Task = PgTask;
    type Error = Error;

    fn poll_ready(&mut self, cx: &mut Context<'_>, worker: &WorkerContext) -> Poll<Result<(), Error>> {
        let heartbeat = self.persistence.config.heartbeat_interval;
        self.persistence.poll_ready(cx, worker, heartbeat)
    }

    fn poll_next(&mut self, cx: &mut Context<'_>, worker: &WorkerContext) -> Poll<Option<Result<PgTask, Error>>> {
        self.persistence.poll_next(cx, worker)
    }

    fn poll_close(&mut self, cx: &mut Context<'_>, worker: &WorkerContext) -> Poll<Result<(), Error>> {
        if self.flushing.is_none() {
            std::task::ready!(self.persistence.poll_close(cx, worker))?;
            self.flushing = Some(self.persistence.events.flushed().boxed());
        }
        self.flushing.as_mut().map_or(Poll::Ready(Ok(())), |flushing| flushing.poll_unpin(cx))
    }
}

impl<Args> BackendConfig for PostgresQueue<Args> {
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

impl<Args> WireFormatBackend for PostgresQueue<Args> {
    type Codec = JsonCodec;
    type Compact = Vec<u8>;

    fn codec(&self) -> &JsonCodec {
        &self.codec
    }
}

/// What apalis's state machine asks of the storage.
#[derive(Clone)]
struct Bookkeeping {
    pool: PgPool,
    /// The fetching connection, which commits without waiting for the disk.
    fetching: FetchingConnection,
    config: Config,
    events: EventWriter,
    /// When this worker next tags the runs that have become due.
    promotion: super::fair::PromotionClock,
}

/// A worker's connection for fetching, kept between fetches: sqlx pings a connection each time it
/// goes back to its pool, a round trip per fetch that no fetch needs. After a failed fetch it goes
/// back, and the next fetch takes a tested one. Kept, it outlives the pool's recycling of old
/// connections (30 minutes); it runs the same two statements, so it gathers no state to shed.
#[derive(Clone)]
struct FetchingConnection {
    pool: PgPool,
    held: Arc<tokio::sync::Mutex<Option<sea_orm::sqlx::pool::PoolConnection<sea_orm::sqlx::Postgres>>>>,
}

/// `apalis_postgres::queries::register_worker`, whose timestamp type can't be named outside it.
async fn register_worker(
    tx: &mut sea_orm::sqlx::Transaction<'_, sea_orm::sqlx::Postgres>,
    queue: &str,
    worker: &WorkerContext,
) -> Result<(), Error> {
    let registered = sea_orm::sqlx::query(
        "INSERT INTO apalis.workers (id, worker_type, storage_name, layers, last_seen) \
         VALUES ($1, $2, 'PgStorage', $3, now()) \
         ON CONFLICT (id) DO UPDATE SET worker_type = EXCLUDED.worker_type, \
         storage_name = EXCLUDED.storage_name, layers = EXCLUDED.layers, last_seen = now() \
         WHERE pg_try_advisory_lock(hashtext(workers.id))",
    )
    .bind(worker.name())
    .bind(queue)
    .bind(worker.get_service())
    .execute(&mut **tx)
    .await?;
    if registered.rows_affected() == 0 {
        return Err(Error::WorkerAlreadyExists(worker.name().to_owned()));
    }
    Ok(())
}

impl Persistence for Bookkeeping {
    type Compact = Vec<u8>;
    type Response = Value;
    type Error = Error;

    async fn register(&mut self, worker: &WorkerContext) -> Result<(), Error> {
        super::runtime::wait_to_restart(worker).await;
        let mut tx = self.pool.begin().await?;
        let queue = self.config.queue.as_ref();
        queries::reenqueue_orphaned(&mut *tx, queue, self.config.orphaned_duration().as_secs()).await?;
        register_worker(&mut tx, queue, worker).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn heartbeat(&mut self, worker: &WorkerContext) -> Result<(), Error> {
        self.events.healthy()?;
        let mut tx = self.pool.begin().await?;
        let queue = self.config.queue.as_ref();
        queries::keep_alive(&mut *tx, queue, worker).await?;
        queries::reenqueue_orphaned(&mut *tx, queue, self.config.orphaned_duration().as_secs()).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn fetch_next(&mut self, worker: &WorkerContext) -> Result<Vec<PgTask>, Error> {
        self.events.healthy()?;
        let mut held = self.fetching.held.lock().await;
        let conn = match held.as_mut() {
            Some(conn) => conn,
            None => held.insert(self.fetching.pool.acquire().await?),
        };
        let fetched = if super::fair::fifo() {
            queries::fetch_next(&mut **conn, &self.config, worker).await
        } else {
            let (queue, n) = (self.config.queue.as_ref(), self.config.batch_size);
            super::fair::fetch_postgres(conn, queue, worker.name(), n, &self.promotion).await.map_err(Error::from)
        };
        if fetched.is_err() {
            // Back to the pool, whose ping on return closes a connection that has broken.
            *held = None;
        }
        fetched
    }

    async fn handle_events(&mut self, events: Vec<TaskEvent<Value>>, worker: &WorkerContext) -> Result<(), Error> {
        self.events.healthy()?;
        self.events.send(Message::Events(worker.name().to_owned(), events));
        Ok(())
    }

    async fn reenqueue_abandoned(&mut self, tasks: Vec<PgTask>, worker: &WorkerContext) -> Result<u64, Error> {
        let ids: Vec<String> = tasks.iter().filter_map(|task| task.task_id().map(|id| id.to_string())).collect();
        let mut tx = self.pool.begin().await?;
        let count = queries::reenqueue_abandoned(&mut *tx, self.config.queue.as_ref(), worker.name(), &ids).await?;
        if count as usize != tasks.len() {
            return Err(Error::ReenqueueMismatch { queued: tasks.len(), abandoned: count as usize });
        }
        tx.commit().await?;
        Ok(count)
    }

    async fn push_tasks(&mut self, tasks: Vec<PgTask>) -> Result<(), Error> {
        let mut tx = self.pool.begin().await?;
        queries::push_tasks(&mut *tx, self.config.queue.as_ref(), tasks).await?;
        tx.commit().await?;
        Ok(())
    }
}

enum Message {
    /// A worker's events, with the worker's name (a job's lock and acknowledgement name it).
    Events(String, Vec<TaskEvent<Value>>),
    /// Answered once everything sent before it is written.
    Flush(oneshot::Sender<()>),
}

/// Writes one worker's lock and completion events, in the order they came. Not `db::batcher`:
/// nobody waits for these writes one by one (the worker goes on), and their order matters (a
/// job's lock must not land after its acknowledgement).
#[derive(Clone)]
struct EventWriter {
    sender: mpsc::UnboundedSender<Message>,
    /// Why a write failed; the worker stops at its next step.
    failure: Arc<Mutex<Option<String>>>,
}

impl EventWriter {
    fn start(pool: PgPool) -> EventWriter {
        let (sender, receiver) = mpsc::unbounded();
        let failure = Arc::new(Mutex::new(None));
        tokio::spawn(write_events(pool, receiver, failure.clone()));
        EventWriter { sender, failure }
    }

    fn send(&self, message: Message) {
        // The writer outlives every sender (it ends when the channel closes).
        let _ = self.sender.unbounded_send(message);
    }

    fn healthy(&self) -> Result<(), Error> {
        match self.failure.lock().map(|failure| failure.clone()) {
            Ok(None) => Ok(()),
            Ok(Some(reason)) => Err(Error::Database(sea_orm::sqlx::Error::Protocol(reason))),
            Err(_) => Err(Error::Database(sea_orm::sqlx::Error::Protocol("the event writer panicked".into()))),
        }
    }

    /// Resolves once every event sent so far is written.
    fn flushed(&self) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        let (done, written) = oneshot::channel();
        self.send(Message::Flush(done));
        let writer = self.clone();
        async move {
            let _ = written.await;
            writer.healthy()
        }
    }
}

async fn write_events(pool: PgPool, receiver: mpsc::UnboundedReceiver<Message>, failure: Arc<Mutex<Option<String>>>) {
    // Everything waiting is taken at once: one transaction for all the runs that ended meanwhile.
    let mut batches = receiver.ready_chunks(1024);
    while let Some(messages) = batches.next().await {
        let (mut events, mut worker, mut flushes) = (Vec::new(), String::new(), Vec::new());
        for message in messages {
            match message {
                Message::Events(name, more) => {
                    worker = name;
                    events.extend(more);
                }
                Message::Flush(done) => flushes.push(done),
            }
        }
        if let Err(err) = write(&pool, &events, &worker).await {
            tracing::warn!(worker, error = %err, "could not record finished jobs; the worker restarts");
            if let Ok(mut failure) = failure.lock() {
                failure.get_or_insert_with(|| err.to_string());
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

/// How a PostgreSQL worker acknowledges finished jobs (`$1`: apalis's result payloads as JSON,
/// `$2`: the worker's name). apalis's `handle_result.sql`, except that the jobs are found by id
/// alone and the worker's name is only checked: `IS NOT DISTINCT FROM` is the same test for a
/// name, but no index can answer it, so the planner can't choose the `lock_by` index, whose
/// entries for one worker are all the jobs it ever ran (it did, with statistics or without,
/// and read them all on every call).
pub const ACKNOWLEDGE: &str = r#"
WITH j AS (
    SELECT
        (value ->> 'task_id')::text AS task_id,
        (value ->> 'attempt')::integer AS attempt,
        value -> 'result' AS result,
        value ->> 'status' AS status
    FROM jsonb_array_elements($1::jsonb) AS value
), locked AS (
    SELECT jobs.id
    FROM apalis.jobs AS jobs
    WHERE jobs.id = ANY (ARRAY(SELECT task_id FROM j)) AND jobs.lock_by IS NOT DISTINCT FROM $2
    ORDER BY jobs.id
    FOR UPDATE
)
UPDATE apalis.jobs AS jobs
SET status = j.status, attempts = j.attempt, last_result = j.result, done_at = NOW()
FROM j
INNER JOIN locked ON locked.id = j.task_id
WHERE jobs.id = locked.id
"#;

/// How a PostgreSQL worker marks the jobs it started as running (`$1`: their ids, `$2`: the
/// worker's name). apalis's `lock_by_id.sql` marks any waiting job, whoever fetched it; this
/// marks only jobs still fetched by this worker: a lock written late, after its run was parked
/// and fetched by another worker (`limits`), would take the run from the worker running it.
const LOCK: &str = "UPDATE apalis.jobs SET status = 'Running', lock_at = now() \
    WHERE id = ANY($1) AND status = 'Queued' AND lock_by IS NOT DISTINCT FROM $2";

/// apalis's own handling of a batch of events: acknowledgements, and locks of jobs not already
/// acknowledged in the batch, in one transaction.
async fn write(pool: &PgPool, events: &[TaskEvent<Value>], worker: &str) -> Result<(), Error> {
    let completed: Vec<&ResultPayload> = events
        .iter()
        .filter_map(|event| if let TaskEvent::Complete(result) = event { Some(result) } else { None })
        .collect();
    let acked: HashSet<_> = completed.iter().map(|ack| ack.task_id()).collect();
    let acks: Vec<&ResultPayload> = completed.into_iter().filter(|ack| !limits::is_parked(ack)).collect();
    let released = limits::released(acks.iter().copied());
    let locks: Vec<String> = events
        .iter()
        .filter_map(|event| if let TaskEvent::Lock { task_id } = event { Some(task_id) } else { None })
        .filter(|id| !acked.contains(id))
        .map(|id| id.to_string())
        .collect();
    if acks.is_empty() && locks.is_empty() {
        return Ok(());
    }
    let mut tx = pool.begin().await?;
    if !acks.is_empty() {
        let acks = serde_json::to_value(&acks).map_err(Error::JsonError)?;
        sea_orm::sqlx::query(ACKNOWLEDGE).bind(acks).bind(worker).execute(&mut *tx).await?;
        limits::unpark_after_postgres(&mut tx, &released).await?;
    }
    if !locks.is_empty() {
        sea_orm::sqlx::query(LOCK).bind(&locks).bind(worker).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

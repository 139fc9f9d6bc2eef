//! Batching: many tasks hand an item to a batcher task and wait; the batcher takes every item
//! waiting at that moment (up to a maximum) and handles them all with one round of database
//! work. For writes that is group commit: one transaction, each item answered only after the
//! commit, so durability is that of one transaction per item while the disk flushes once per
//! batch. For reads, one query instead of one per item. SQLite has one writer, so one batcher
//! task there; on PostgreSQL several can each handle a batch at once.

use std::future::Future;
use std::sync::Arc;

use sea_orm::{DatabaseConnection, DbBackend};
use tokio::sync::{Mutex, mpsc, oneshot};

type Reply<R> = oneshot::Sender<Result<R, String>>;
type Queue<T, R> = Arc<Mutex<mpsc::Receiver<(T, Reply<R>)>>>;

/// Hands items `T` to the batcher tasks; each is answered with its `R` once its batch is done.
pub struct Batcher<T, R> {
    sender: mpsc::Sender<(T, Reply<R>)>,
}

impl<T, R> Clone for Batcher<T, R> {
    fn clone(&self) -> Self {
        Batcher { sender: self.sender.clone() }
    }
}

impl<T: Send + 'static, R: Send + 'static> Batcher<T, R> {
    /// Starts `tasks` batcher tasks (one on SQLite) on the current runtime. `handle` does one
    /// batch (in one transaction, when it writes) and returns one answer per item, in order; its
    /// error answers every item of the batch.
    pub fn start<F, Fut>(db: DatabaseConnection, tasks: usize, max_batch: usize, handle: F) -> Batcher<T, R>
    where
        F: Fn(DatabaseConnection, Vec<T>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<R>, String>> + Send + 'static,
    {
        let (sender, receiver) = mpsc::channel(4 * max_batch);
        let queue: Queue<T, R> = Arc::new(Mutex::new(receiver));
        let tasks = if db.get_database_backend() == DbBackend::Postgres { tasks.max(1) } else { 1 };
        let handle = Arc::new(handle);
        for _ in 0..tasks {
            tokio::spawn(handle_batches(db.clone(), queue.clone(), max_batch, handle.clone()));
        }
        Batcher { sender }
    }

    /// Waits until `item`'s batch is done; an error says why it was not (for writes: nothing of
    /// the batch was committed).
    pub async fn submit(&self, item: T) -> Result<R, String> {
        let (reply, answer) = oneshot::channel();
        let gone = || "the batcher has stopped".to_owned();
        self.sender.send((item, reply)).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

async fn handle_batches<T, R, F, Fut>(db: DatabaseConnection, queue: Queue<T, R>, max_batch: usize, handle: Arc<F>)
where
    F: Fn(DatabaseConnection, Vec<T>) -> Fut,
    Fut: Future<Output = Result<Vec<R>, String>>,
{
    let mut batch = Vec::with_capacity(max_batch);
    // The lock is held only while taking a batch: another task takes the next one meanwhile.
    while queue.lock().await.recv_many(&mut batch, max_batch).await > 0 {
        let (items, replies): (Vec<T>, Vec<Reply<R>>) = batch.drain(..).unzip();
        let expected = replies.len();
        let answers = handle(db.clone(), items).await.and_then(|answers| match answers.len() {
            n if n == expected => Ok(answers),
            n => Err(format!("a batch of {expected} items gave {n} answers")),
        });
        match answers {
            Ok(answers) => replies.into_iter().zip(answers).for_each(|(reply, answer)| drop(reply.send(Ok(answer)))),
            Err(message) => replies.into_iter().for_each(|reply| drop(reply.send(Err(message.clone())))),
        }
    }
}

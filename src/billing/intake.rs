//! Group commit for webhook deliveries. Each request hands its verified event to one writer task
//! and waits; the writer takes every event waiting at that moment (up to `MAX_BATCH`), records
//! them in one transaction and answers each request only after that commit. Durability is the
//! same as one transaction per event; the disk flushes once per batch instead of once per event.
//! SQLite has one writer, so one writer task; PostgreSQL takes several batches at once.

use std::sync::Arc;

use sea_orm::{DatabaseConnection, DbBackend};
use tokio::sync::{Mutex, mpsc, oneshot};

use super::{Envelope, Received, inbox};
use crate::error::AppError;

/// Events recorded in one transaction at most.
const MAX_BATCH: usize = 256;

type Reply = oneshot::Sender<Result<Received, String>>;

#[derive(Clone)]
pub struct Intake {
    sender: mpsc::Sender<(Envelope, String, Reply)>,
}

impl Intake {
    /// Starts the writer tasks on the current runtime.
    pub fn start(db: DatabaseConnection) -> Intake {
        let (sender, receiver) = mpsc::channel(4 * MAX_BATCH);
        let receiver = Arc::new(Mutex::new(receiver));
        let writers = if db.get_database_backend() == DbBackend::Postgres { 4 } else { 1 };
        for _ in 0..writers {
            tokio::spawn(write_batches(db.clone(), receiver.clone()));
        }
        Intake { sender }
    }

    /// Records `event` (durably, with its processing run) and says whether it was new.
    pub async fn receive(&self, event: Envelope, raw: String) -> Result<Received, AppError> {
        let (reply, answer) = oneshot::channel();
        let gone = || AppError::Internal(anyhow::anyhow!("the webhook writer has stopped"));
        self.sender.send((event, raw, reply)).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?.map_err(|err| AppError::Internal(anyhow::anyhow!(err)))
    }
}

type Queue = Arc<Mutex<mpsc::Receiver<(Envelope, String, Reply)>>>;

async fn write_batches(db: DatabaseConnection, queue: Queue) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // The lock is held only while taking a batch: another writer takes the next one meanwhile.
    while queue.lock().await.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let events: Vec<(&Envelope, &str)> = batch.iter().map(|(event, raw, _)| (event, raw.as_str())).collect();
        let outcome = inbox::receive_all(&db, &events).await;
        match outcome {
            Ok(received) => {
                for ((_, _, reply), received) in batch.drain(..).zip(received) {
                    let _ = reply.send(Ok(received));
                }
            }
            Err(err) => {
                // Nothing of the batch was committed: every sender answers 503 and Stripe retries.
                let message = err.to_string();
                for (_, _, reply) in batch.drain(..) {
                    let _ = reply.send(Err(message.clone()));
                }
            }
        }
    }
}

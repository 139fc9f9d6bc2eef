//! Group commit for webhook deliveries (`db::batcher`): concurrent deliveries are recorded
//! several per transaction, each answered only after that commit.

use sea_orm::DatabaseConnection;

use super::{Envelope, Received, inbox};
use crate::billing::Error;
use crate::db::batcher::Batcher;

/// Events recorded in one transaction at most.
const MAX_BATCH: usize = 256;
/// Batches committed at once on PostgreSQL: deliveries arrive from many connections.
const WRITERS: usize = 4;

#[derive(Clone)]
pub struct Intake {
    writer: Batcher<(Envelope, String), Received>,
}

impl Intake {
    /// Starts the writer tasks on the current runtime.
    pub fn start(db: DatabaseConnection) -> Intake {
        let writer = Batcher::start(db, WRITERS, MAX_BATCH, |db, batch: Vec<(Envelope, String)>| async move {
            let events: Vec<(&Envelope, &str)> = batch.iter().map(|(event, raw)| (event, raw.as_str())).collect();
            // An error leaves nothing of the batch committed: every sender answers 503 and
            // Stripe retries.
            inbox::receive_all(&db, &events).await.map_err(|err| err.to_string())
        });
        Intake { writer }
    }

    /// Records `event` (durably, with its processing run) and says whether it was new.
    pub async fn receive(&self, event: Envelope, raw: String) -> Result<Received, Error> {
        self.writer.submit((event, raw)).await.map_err(|err| Error::Record(err.into()))
    }
}

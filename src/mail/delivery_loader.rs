//! Loads the emails `send_email` runs deliver, those asked for at the same moment with one
//! query (`db::batcher`): a worker runs many deliveries at once, and one statement per email was
//! a tenth of the database's time in an import that invites 20,000 people.

use std::collections::HashMap;

use sea_orm::DatabaseConnection;

use super::outbox::{self, Delivery};
use crate::db::batcher::Batcher;
use crate::mail::Error;

/// Emails per query at most.
const EMAILS_PER_LOAD: usize = 128;
/// Queries at once on PostgreSQL.
const LOADERS: usize = 2;

/// Loads emails for delivery, several runs' with one query (a service of the workers,
/// `startup::worker_services`).
pub struct DeliveryLoader {
    batcher: Batcher<String, Option<Delivery>>,
}

impl DeliveryLoader {
    /// Starts the loader's tasks on the current runtime, reading through `read_db`.
    pub fn start(read_db: DatabaseConnection) -> DeliveryLoader {
        let batcher = Batcher::start(read_db, LOADERS, EMAILS_PER_LOAD, |db, ids: Vec<String>| async move {
            let found =
                outbox::for_delivery(&db, &ids).await.map_err(|err| format!("{:#}", anyhow::Error::from(err)))?;
            let by_id: HashMap<String, Delivery> = found.into_iter().map(|d| (d.email.id.clone(), d)).collect();
            Ok(ids.iter().map(|id| by_id.get(id).cloned()).collect())
        });
        DeliveryLoader { batcher }
    }

    /// The email `id` and whether its recipient has unsubscribed.
    pub async fn load(&self, id: &str) -> Result<Delivery, Error> {
        self.batcher.submit(id.to_owned()).await.map_err(Error::Loader)?.ok_or(Error::NotFound)
    }
}

//! Group commit of the outbox: the emails of workflows that queue email and write nothing else
//! (the weekly digest: every workspace's at once on Sunday morning), and the marks of emails
//! sent. Concurrent runs hand them to the `OutboxWriter`, whose tasks write every batch waiting
//! at that moment together — emails in one statement on PostgreSQL and one transaction on
//! SQLite, marks in one UPDATE — and answer each run after that commit. A mark per email was a
//! commit per email: on SQLite, whose one connection carries every write, 3.6 s of a 16.6 s
//! digest of 10,000 workspaces.
//!
//! On PostgreSQL a commit that starts a run due now also announces it (NOTIFY), and NOTIFY
//! holds one lock for the whole database from before the commit until the disk has flushed it:
//! one commit per email made the digest's runs wait for each other's flushes, one at a time.
//! A batch that fails as a whole (one email's workspace deleted meanwhile) is written again one
//! run's emails at a time, so a bad one fails alone.
//!
//! Each run says in which class its emails are sent (`enqueue`): the weekly digest's go as bulk
//! work, beside the digests, since nobody waits for one; sent as urgent, 10,000 deliveries went
//! ahead of the digests still to be computed and made the digest take 40 % longer.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend};

use super::outbox::{NewEmail, mark_sent, write_in};
use crate::db::batcher::Batcher;
use crate::db::begin_write;
use crate::engine::Priority;
use crate::mail::Error;

/// Runs' hand-overs per commit at most: more than ever wait at once.
const RUNS_PER_COMMIT: usize = 256;
/// Commits at once: one, as their NOTIFYs take turns anyway; the emails that arrive while it
/// commits make the next batch.
const WRITERS: usize = 1;

/// Sent marks per commit at most.
const MARKS_PER_COMMIT: usize = 512;
/// Commits of sent marks at once (one on SQLite).
const MARKERS: usize = 2;

type Written = Result<Vec<String>, Error>;
/// A run's emails, and the class their deliveries run in.
type Queued = (Vec<NewEmail>, Priority);
/// An email the server accepted, and the transport's name.
type Sent = (String, &'static str);

/// Writes the emails of workflows that write nothing else, several runs' per commit (a
/// service of the workers, `startup::worker_services`).
#[derive(Clone)]
pub struct OutboxWriter {
    batcher: Batcher<Queued, Written>,
    marks: Batcher<Sent, ()>,
}

impl OutboxWriter {
    /// Starts the writer's tasks on the current runtime; emails' Message-IDs are at `from_domain`.
    pub fn start(db: DatabaseConnection, from_domain: String) -> OutboxWriter {
        let marks = Batcher::start(db.clone(), MARKERS, MARKS_PER_COMMIT, |db, batch| async move {
            mark_all_sent(&db, &batch).await.map_err(|err| format!("{:#}", anyhow::Error::from(err)))
        });
        let batcher = Batcher::start(db, WRITERS, RUNS_PER_COMMIT, move |db, batch| {
            let from_domain = from_domain.clone();
            async move { Ok(write_together(&db, batch, &from_domain).await) }
        });
        OutboxWriter { batcher, marks }
    }

    /// Marks the email `id` sent by `transport`, once committed (the sends of other runs
    /// share the commit).
    pub async fn mark_sent(&self, id: String, transport: &'static str) -> Result<(), Error> {
        self.marks.submit((id, transport)).await.map_err(Error::Writer)
    }

    /// Writes `emails` with their `send_email` runs in `priority`'s class, once committed
    /// (`outbox::enqueue_at_in`): the ids of the emails written, leaving out those whose dedupe
    /// key was taken.
    pub async fn enqueue(&self, emails: Vec<NewEmail>, priority: Priority) -> Written {
        self.batcher.submit((emails, priority)).await.map_err(Error::Writer)?
    }
}

async fn write_together(db: &DatabaseConnection, batch: Vec<Queued>, from_domain: &str) -> Vec<Written> {
    match write(db, &batch, from_domain).await {
        Ok(written) => return written.into_iter().map(Ok).collect(),
        Err(err) if batch.len() == 1 => return vec![Err(err)],
        Err(_) => {}
    }
    let mut answers = Vec::with_capacity(batch.len());
    for queued in batch {
        answers.push(write(db, std::slice::from_ref(&queued), from_domain).await.map(|mut w| w.remove(0)));
    }
    answers
}

/// Writes every run's emails in one commit; for each run, the ids of its emails written. Two
/// runs' emails with one dedupe key: the first run's is written.
async fn write(db: &DatabaseConnection, batch: &[Queued], from_domain: &str) -> Result<Vec<Vec<String>>, Error> {
    let one_class = batch.windows(2).all(|pair| pair[0].1 == pair[1].1);
    // One statement on PostgreSQL is atomic by itself; SQLite, or several classes (a batch
    // nearly always has one), need a transaction around theirs.
    if db.get_database_backend() == DbBackend::Postgres && one_class {
        return write_classes(db, batch, from_domain).await;
    }
    let txn = begin_write(db).await?;
    let written = write_classes(&txn, batch, from_domain).await?;
    txn.commit().await?;
    Ok(written)
}

/// Each class's emails with one `write_in`; for each run, the ids of its emails written.
async fn write_classes<C: ConnectionTrait>(
    db: &C,
    batch: &[Queued],
    from_domain: &str,
) -> Result<Vec<Vec<String>>, Error> {
    let mut classes: Vec<Priority> = batch.iter().map(|(_, priority)| *priority).collect();
    classes.sort_unstable();
    classes.dedup();
    let mut written = vec![Vec::new(); batch.len()];
    for class in classes {
        let runs: Vec<usize> = (0..batch.len()).filter(|&run| batch[run].1 == class).collect();
        let all: Vec<&NewEmail> = runs.iter().flat_map(|&run| &batch[run].0).collect();
        let mut ids = write_in(db, &all, from_domain, class).await?.into_iter();
        for run in runs {
            written[run] = ids.by_ref().take(batch[run].0.len()).flatten().collect();
        }
    }
    Ok(written)
}

/// Marks a batch's emails sent, one statement (and commit) per transport: each mark stands
/// alone, so there is nothing to make atomic, and a batch nearly always has one transport.
async fn mark_all_sent(db: &DatabaseConnection, batch: &[Sent]) -> Result<Vec<()>, Error> {
    let mut by_transport: Vec<(&'static str, Vec<String>)> = Vec::new();
    for (id, transport) in batch {
        match by_transport.iter_mut().find(|(name, _)| name == transport) {
            Some((_, ids)) => ids.push(id.clone()),
            None => by_transport.push((transport, vec![id.clone()])),
        }
    }
    for (transport, ids) in &by_transport {
        mark_sent(db, ids, transport).await?;
    }
    Ok(vec![(); batch.len()])
}

//! Waiting for a run to end without polling the database for it. Whoever ends a run announces
//! it: the worker when an attempt's outcome is final, and a cancellation once committed. Waiters
//! in the same process are woken at once; on PostgreSQL the announcement also goes out as a
//! NOTIFY on `offstage_run_finished` (for runs someone waits for, and every cancellation), which
//! each web process listens to, so a waiter is woken whichever process ended the run. The worker
//! announces just before its acknowledgement commits, so a woken waiter that still reads the run
//! as running looks again a few times in quick succession; and a slow poll catches whatever
//! announcement was lost (a listener reconnecting, SQLite with separate worker processes).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{RunView, get};
use crate::domain::RunId;
use crate::engine::Error;
use crate::tenancy::Reach;

/// PostgreSQL's channel for "this run has ended"; the payload is the run's id.
pub const CHANNEL: &str = "offstage_run_finished";
/// How often a waiter reads the run when nothing was announced.
const FALLBACK_POLL: Duration = Duration::from_secs(1);
/// After an announcement, the looks at the run until its acknowledgement is seen.
const AFTER_ANNOUNCEMENT: [Duration; 5] = [
    Duration::from_millis(0),
    Duration::from_millis(10),
    Duration::from_millis(30),
    Duration::from_millis(80),
    Duration::from_millis(200),
];

/// Run id → the waiters' wake-up and how many wait.
type Waiters = HashMap<String, (Arc<Notify>, usize)>;

fn waiters() -> &'static Mutex<Waiters> {
    static WAITERS: OnceLock<Mutex<Waiters>> = OnceLock::new();
    WAITERS.get_or_init(Default::default)
}

/// Wakes this process's waiters of `run_id` (cheap when there are none).
pub fn announce(run_id: &str) {
    let found = waiters().lock().ok().and_then(|all| all.get(run_id).map(|(notify, _)| notify.clone()));
    if let Some(notify) = found {
        notify.notify_waiters();
    }
}

/// Announces the end of `run_id` to other processes' waiters (PostgreSQL; inside a
/// transaction, delivered when it commits). This process's are woken by `announce`.
pub async fn announce_to_other_processes<C: ConnectionTrait>(db: &C, run_id: &str) -> Result<(), sea_orm::DbErr> {
    if db.get_database_backend() == DbBackend::Postgres {
        let notify = Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [CHANNEL.into(), run_id.into()],
        );
        db.execute_raw(notify).await?;
    }
    Ok(())
}

/// A waiter's registration, removed when dropped.
struct Registration {
    run_id: String,
    notify: Arc<Notify>,
}

impl Registration {
    fn new(run_id: &str) -> Registration {
        let mut all = waiters().lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = all.entry(run_id.to_owned()).or_insert_with(|| (Arc::new(Notify::new()), 0));
        entry.1 += 1;
        Registration { run_id: run_id.to_owned(), notify: entry.0.clone() }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut all = waiters().lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(entry) = all.get_mut(&self.run_id) {
            entry.1 -= 1;
            if entry.1 == 0 {
                all.remove(&self.run_id);
            }
        }
    }
}

/// The run once it has ended, or as it is when `limit` has passed.
pub async fn until_finished<'a>(
    db: &DatabaseConnection,
    reach: impl Into<Reach<'a>>,
    run_id: &RunId,
    limit: Duration,
) -> Result<RunView, Error> {
    let reach = reach.into();
    let registration = Registration::new(run_id);
    let deadline = Instant::now() + limit;
    // Which of the quick looks after an announcement comes next (none until one arrives).
    let mut quick_look = AFTER_ANNOUNCEMENT.len();
    loop {
        // Registered before the read, so an announcement made during it is not missed.
        let announced = registration.notify.notified();
        tokio::pin!(announced);
        announced.as_mut().enable();
        let run = get(db, run_id, reach).await?.ok_or(Error::NotFound)?;
        let now = Instant::now();
        if run.status.is_finished() || now >= deadline {
            return Ok(run);
        }
        let next_look = AFTER_ANNOUNCEMENT.get(quick_look).copied().unwrap_or(FALLBACK_POLL);
        quick_look += 1;
        tokio::select! {
            _ = &mut announced => quick_look = 0,
            _ = tokio::time::sleep_until((now + next_look).min(deadline)) => {}
        }
    }
}

/// Listens to `CHANNEL` (PostgreSQL) for as long as the process runs and wakes this process's
/// waiters; reconnects after a lost connection (the slow poll covers the gap).
pub fn listen_for_announcements(db: &DatabaseConnection) {
    if db.get_database_backend() != DbBackend::Postgres {
        return;
    }
    let pool = db.get_postgres_connection_pool().clone();
    tokio::spawn(async move {
        loop {
            let Err(err) = relay(&pool).await;
            tracing::warn!(error = %err, "listening for ended runs failed; waiters poll until it is back");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

async fn relay(pool: &sea_orm::sqlx::PgPool) -> Result<std::convert::Infallible, sea_orm::sqlx::Error> {
    let mut listener = sea_orm::sqlx::postgres::PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    loop {
        let notification = listener.recv().await?;
        announce(notification.payload());
    }
}

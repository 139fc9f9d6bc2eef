//! The gauges a scrape reads from the database: runs not finished by status and the oldest due
//! run's wait (`queue::depth`), Stripe events and emails by status. Read at most every 5 s, in
//! the background of the scrape that finds them older (no scrape but the first waits for the
//! database), the runs only through indexes on the job table. The connection pool's gauges are
//! read each time.

use std::time::Duration;

use ::metrics::gauge;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};

use super::refreshed::Refreshed;
use crate::engine::queue::depth;

/// How old the database's gauges may be.
const FRESH: Duration = Duration::from_secs(5);

const EVENT_STATUSES: [&str; 5] = ["received", "processed", "failed", "unmatched", "ignored"];
const EMAIL_STATUSES: [&str; 4] = ["queued", "sent", "failed", "suppressed"];

/// The database's gauges of this process, read at most every 5 s (`Refreshed`): the first scrape
/// waits for the database; after that a scrape never does.
#[derive(Clone)]
pub struct Gauges(Refreshed<()>);

impl Default for Gauges {
    fn default() -> Self {
        Gauges(Refreshed::new(FRESH))
    }
}

impl Gauges {
    /// Sets every gauge: the connection pool's now, the database's from their last read.
    pub async fn refresh(&self, db: &DatabaseConnection) -> Result<(), DbErr> {
        pool(db);
        let db = db.clone();
        self.0.get(async move { read(&db).await }).await
    }
}

async fn read(db: &DatabaseConnection) -> Result<(), DbErr> {
    let txn = depth::begin_counting(db).await?;
    for (status, n) in depth::by_status(&txn).await? {
        gauge!("offstage_runs", "status" => status).set(n as f64);
    }
    set_all("offstage_stripe_events", &EVENT_STATUSES, &counts(&txn, BY_STATUS_EVENTS).await?);
    set_all("offstage_emails", &EMAIL_STATUSES, &counts(&txn, BY_STATUS_EMAILS).await?);
    gauge!("offstage_oldest_due_run_age_seconds").set(depth::oldest_due_wait(&txn).await?);
    txn.commit().await
}

fn pool(db: &DatabaseConnection) {
    let (size, idle) = match db.get_database_backend() {
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle())
        }
        _ => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle())
        }
    };
    gauge!("offstage_db_connections", "state" => "idle").set(idle as f64);
    gauge!("offstage_db_connections", "state" => "in_use").set(size.saturating_sub(idle as u32) as f64);
}

const BY_STATUS_EVENTS: &str = "SELECT status AS s, COUNT(*) AS n FROM stripe_events GROUP BY status";
const BY_STATUS_EMAILS: &str = "SELECT status AS s, COUNT(*) AS n FROM emails GROUP BY status";

async fn counts<C: ConnectionTrait>(db: &C, sql: &str) -> Result<Vec<(String, i64)>, DbErr> {
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await?;
    Ok(rows.iter().filter_map(|row| Some((row.try_get("", "s").ok()?, row.try_get("", "n").ok()?))).collect())
}

/// Sets `name{status=…}` for every status, 0 for those with no row.
fn set_all(name: &'static str, statuses: &[&'static str], counts: &[(String, i64)]) {
    for status in statuses {
        let n = counts.iter().find(|(s, _)| s == status).map_or(0, |(_, n)| *n);
        gauge!(name, "status" => *status).set(n as f64);
    }
}

//! The gauges a scrape reads from the database: runs not finished by status and the oldest due
//! run's wait (`queue::depth`), Stripe events and emails by status. Read at most every 5 s, in
//! the background of the scrape that finds them older (no scrape but the first waits for the
//! database), the runs only through indexes on the job table. The connection pool's gauges are
//! read each time.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ::metrics::gauge;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};

use crate::engine::queue::depth;

/// How old the database's gauges may be.
const FRESH: Duration = Duration::from_secs(5);

const EVENT_STATUSES: [&str; 5] = ["received", "processed", "failed", "unmatched", "ignored"];
const EMAIL_STATUSES: [&str; 4] = ["queued", "sent", "failed", "suppressed"];

/// When this process last read the database's gauges, and whether a read is under way.
#[derive(Default, Clone)]
pub struct Gauges(Arc<Mutex<Reads>>);

#[derive(Default)]
struct Reads {
    read_at: Option<Instant>,
    reading: bool,
}

impl Gauges {
    /// Sets every gauge. The first scrape waits for the database; after that a scrape never
    /// does: when the values are older than 5 s it shows them and has them read again in the
    /// background, for the next scrape (at most one read at a time).
    pub async fn refresh(&self, db: &DatabaseConnection) -> Result<(), DbErr> {
        pool(db);
        let first = {
            let mut reads = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if reads.reading || reads.read_at.is_some_and(|at| at.elapsed() < FRESH) {
                return Ok(());
            }
            reads.reading = true;
            reads.read_at.is_none()
        };
        if first {
            let read = read(db).await;
            self.done();
            return read;
        }
        let (gauges, db) = (self.clone(), db.clone());
        tokio::spawn(async move {
            if let Err(err) = read(&db).await {
                tracing::warn!(error = %err, "metrics: could not read the database's gauges; showing the last values");
            }
            gauges.done();
        });
        Ok(())
    }

    fn done(&self) {
        let mut reads = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *reads = Reads { read_at: Some(Instant::now()), reading: false };
    }
}

async fn read(db: &DatabaseConnection) -> Result<(), DbErr> {
    for (status, n) in depth::by_status(db).await? {
        gauge!("offstage_runs", "status" => status).set(n as f64);
    }
    set_all("offstage_stripe_events", &EVENT_STATUSES, &counts(db, BY_STATUS_EVENTS).await?);
    set_all("offstage_emails", &EMAIL_STATUSES, &counts(db, BY_STATUS_EMAILS).await?);
    gauge!("offstage_oldest_due_run_age_seconds").set(depth::oldest_due_wait(db).await?);
    Ok(())
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

async fn counts(db: &DatabaseConnection, sql: &str) -> Result<Vec<(String, i64)>, DbErr> {
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

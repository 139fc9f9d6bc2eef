//! The gauges a scrape reads from the database: runs not finished by status, the oldest due
//! run's wait, Stripe events and emails by status. Read at most every 5 s (a scrape in between
//! shows the last values), and only through indexes on the job table, so a scrape stays cheap
//! however many finished runs the database holds. The connection pool's gauges are read each time.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use ::metrics::gauge;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};

/// How old the database's gauges may be.
const FRESH: Duration = Duration::from_secs(5);

/// The statuses of runs not finished, as `offstage_runs` labels them; and `failed` (waiting for
/// someone's decision).
const RUN_STATUSES: [&str; 6] = ["scheduled", "queued", "running", "waiting", "retrying", "failed"];
const EVENT_STATUSES: [&str; 5] = ["received", "processed", "failed", "unmatched", "ignored"];
const EMAIL_STATUSES: [&str; 4] = ["queued", "sent", "failed", "suppressed"];

/// When this process last read the database's gauges.
#[derive(Default)]
pub struct Gauges {
    read_at: Mutex<Option<Instant>>,
}

impl Gauges {
    /// Sets every gauge, reading the database when the last read is older than 5 s.
    pub async fn refresh(&self, db: &DatabaseConnection) -> Result<(), DbErr> {
        pool(db);
        {
            let mut read_at = self.read_at.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if read_at.is_some_and(|at| at.elapsed() < FRESH) {
                return Ok(());
            }
            *read_at = Some(Instant::now());
        }
        let backend = db.get_database_backend();
        let runs = counts(db, &runs_by_status(backend)).await?;
        set_all("offstage_runs", &RUN_STATUSES, &runs);
        set_all("offstage_stripe_events", &EVENT_STATUSES, &counts(db, BY_STATUS_EVENTS).await?);
        set_all("offstage_emails", &EMAIL_STATUSES, &counts(db, BY_STATUS_EMAILS).await?);
        let oldest = db.query_one_raw(Statement::from_string(backend, oldest_due_wait(backend))).await?;
        let waited = oldest.and_then(|row| row.try_get::<Option<f64>>("", "waited").ok().flatten()).unwrap_or(0.0);
        gauge!("offstage_oldest_due_run_age_seconds").set(waited.max(0.0));
        Ok(())
    }
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

/// Runs not finished, and failed, by status: only the job rows the status index finds.
fn runs_by_status(backend: DbBackend) -> String {
    let (table, now) = match backend {
        DbBackend::Postgres => ("apalis.jobs", "now()"),
        _ => ("Jobs", "CAST(strftime('%s', 'now') AS INTEGER)"),
    };
    format!(
        "SELECT CASE \
           WHEN status = 'Running' THEN 'running' \
           WHEN status = 'Parked' THEN 'waiting' \
           WHEN status = 'Failed' AND attempts < max_attempts THEN 'retrying' \
           WHEN status = 'Failed' THEN 'failed' \
           WHEN status = 'Queued' OR run_at <= {now} THEN 'queued' \
           ELSE 'scheduled' END AS s, COUNT(*) AS n \
         FROM {table} WHERE status IN ('Pending', 'Queued', 'Running', 'Parked', 'Failed') GROUP BY 1"
    )
}

/// Seconds the oldest due, waiting run has waited (NULL when none waits).
fn oldest_due_wait(backend: DbBackend) -> String {
    match backend {
        DbBackend::Postgres => "SELECT CAST(EXTRACT(EPOCH FROM now() - MIN(run_at)) AS DOUBLE PRECISION) AS waited \
             FROM apalis.jobs WHERE status = 'Pending' AND run_at <= now()"
            .to_owned(),
        _ => "SELECT CAST(CAST(strftime('%s', 'now') AS INTEGER) - MIN(run_at) AS REAL) AS waited \
             FROM Jobs WHERE status = 'Pending' AND run_at <= CAST(strftime('%s', 'now') AS INTEGER)"
            .to_owned(),
    }
}

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

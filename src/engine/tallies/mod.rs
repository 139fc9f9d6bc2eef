//! Runs finished, counted per minute by workflow and outcome and per hour by workspace: what
//! Platform → Queue charts and a workspace's overview read (`read`), a few hundred rows however
//! many runs the job table holds. Each worker process counts the attempts that end in memory and
//! adds its counts to the database every 5 s, one statement per table (as Sidekiq's metrics
//! do), so a run costs no write of its own. A process killed loses at most its last 5 s of
//! counts; the runs themselves are untouched.

pub mod read;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, Value};

/// Rows per statement: far below either database's limit of bound values.
const ROWS_PER_STATEMENT: usize = 500;

/// The counts of one process not yet in the database. Cloned handles share them.
#[derive(Clone, Default)]
pub struct Tallies(Arc<Mutex<Counts>>);

#[derive(Default)]
struct Counts {
    /// (minute, workflow, outcome) → (attempts, milliseconds they ran).
    minutes: BTreeMap<(i64, &'static str, &'static str), (i64, i64)>,
    /// (workspace id, hour) → (runs ended, of which failed).
    hours: BTreeMap<(String, i64), (i64, i64)>,
}

impl Counts {
    fn merge(&mut self, other: Counts) {
        for (key, (n, ms)) in other.minutes {
            let slot = self.minutes.entry(key).or_default();
            *slot = (slot.0 + n, slot.1 + ms);
        }
        for (key, (n, failed)) in other.hours {
            let slot = self.hours.entry(key).or_default();
            *slot = (slot.0 + n, slot.1 + failed);
        }
    }
}

impl Tallies {
    /// Counts an attempt that ended at `at`: `outcome` is succeeded, skipped, retried or failed.
    /// A run ends with its last attempt, so a retried attempt is not a run of its workspace.
    pub fn count(
        &self,
        workflow: &'static str,
        outcome: &'static str,
        workspace_id: Option<&str>,
        ran: Duration,
        at: DateTime<Utc>,
    ) {
        let mut counts = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let slot = counts.minutes.entry((at.timestamp().div_euclid(60), workflow, outcome)).or_default();
        *slot = (slot.0 + 1, slot.1 + i64::try_from(ran.as_millis()).unwrap_or(i64::MAX));
        if let Some(ws) = workspace_id.filter(|_| outcome != "retried") {
            let slot = counts.hours.entry((ws.to_owned(), at.timestamp().div_euclid(3600))).or_default();
            *slot = (slot.0 + 1, slot.1 + i64::from(outcome == "failed"));
        }
    }

    /// Adds the counts to the database; kept for the next flush if that fails.
    pub async fn flush(&self, db: &DatabaseConnection) -> Result<(), DbErr> {
        let taken = std::mem::take(&mut *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        if taken.minutes.is_empty() && taken.hours.is_empty() {
            return Ok(());
        }
        let written = write(db, &taken).await;
        if written.is_err() {
            self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).merge(taken);
        }
        written
    }

    /// Flushes `every` so often until the returned `Flushing` is stopped, which flushes once
    /// more; a flush under way is never cut short, so no count taken for it is lost.
    pub fn keep_flushing(&self, db: DatabaseConnection, every: Duration) -> Flushing {
        let tallies = self.clone();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let mut every = tokio::time::interval(every);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let last = tokio::select! {
                    _ = every.tick() => false,
                    _ = &mut stopped => true,
                };
                if let Err(err) = tallies.flush(&db).await {
                    tracing::warn!(error = %err, "could not add the runs' counts to the database; trying again soon");
                }
                if last {
                    return;
                }
            }
        });
        Flushing { stop, task }
    }
}

/// The task adding a process's counts to the database.
pub struct Flushing {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Flushing {
    /// Adds the last counts and ends the task.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Both tables in one transaction, rows in key order (two processes adding to the same rows
/// take their locks in the same order, so they never deadlock).
async fn write(db: &DatabaseConnection, counts: &Counts) -> Result<(), DbErr> {
    let txn = crate::db::begin_write(db).await?;
    let minutes: Vec<Vec<Value>> = counts
        .minutes
        .iter()
        .map(|((minute, workflow, outcome), (n, ms))| {
            vec![(*minute).into(), (*workflow).into(), (*outcome).into(), (*n).into(), (*ms).into()]
        })
        .collect();
    let add_minutes = "INSERT INTO run_tallies (minute, workflow, outcome, runs, millis) VALUES {rows} \
         ON CONFLICT (minute, workflow, outcome) DO UPDATE \
         SET runs = run_tallies.runs + excluded.runs, millis = run_tallies.millis + excluded.millis";
    upsert(&txn, add_minutes, minutes).await?;
    let hours: Vec<Vec<Value>> = counts
        .hours
        .iter()
        .map(|((ws, hour), (n, failed))| vec![ws.clone().into(), (*hour).into(), (*n).into(), (*failed).into()])
        .collect();
    let add_hours = "INSERT INTO workspace_run_tallies (workspace_id, hour, runs, failed) VALUES {rows} \
         ON CONFLICT (workspace_id, hour) DO UPDATE \
         SET runs = workspace_run_tallies.runs + excluded.runs, failed = workspace_run_tallies.failed + excluded.failed";
    upsert(&txn, add_hours, hours).await?;
    txn.commit().await
}

async fn upsert<C: ConnectionTrait>(db: &C, sql: &str, rows: Vec<Vec<Value>>) -> Result<(), DbErr> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let values: Vec<Value> = chunk.iter().flatten().cloned().collect();
        let sql = sql.replace("{rows}", &rows_of(db.get_database_backend(), chunk));
        db.execute_raw(Statement::from_sql_and_values(db.get_database_backend(), sql, values)).await?;
    }
    Ok(())
}

/// `($1, $2, …), ($n, …)` for rows of equal width (`db::values_rows`).
fn rows_of(backend: DbBackend, chunk: &[Vec<Value>]) -> String {
    crate::db::values_rows(backend, 1, chunk.len(), chunk.first().map_or(0, Vec::len))
}

#[cfg(test)]
mod tests {
    use super::{Tallies, rows_of};
    use chrono::{TimeZone, Utc};
    use sea_orm::DbBackend;
    use std::time::Duration;

    #[test]
    fn placeholders_number_every_value_of_every_row() {
        let rows = vec![vec![1.into(), 2.into()], vec![3.into(), 4.into()]];
        assert_eq!(rows_of(DbBackend::Postgres, &rows), "($1, $2), ($3, $4)");
        assert_eq!(rows_of(DbBackend::Sqlite, &rows), "(?, ?), (?, ?)");
    }

    #[test]
    fn attempts_are_counted_per_minute_and_runs_per_workspace_hour() {
        let tallies = Tallies::default();
        let at = Utc.with_ymd_and_hms(2026, 12, 3, 10, 15, 30).unwrap();
        let ms = Duration::from_millis(40);
        tallies.count("send", "succeeded", Some("ws_a"), ms, at);
        tallies.count("send", "succeeded", Some("ws_a"), ms, at);
        tallies.count("send", "retried", Some("ws_a"), ms, at);
        tallies.count("send", "failed", Some("ws_a"), ms, at);
        tallies.count("prune", "succeeded", None, ms, at);
        let counts = tallies.0.lock().unwrap();
        let minute = at.timestamp() / 60;
        assert_eq!(counts.minutes[&(minute, "send", "succeeded")], (2, 80));
        assert_eq!(counts.minutes[&(minute, "send", "retried")], (1, 40));
        assert_eq!(counts.minutes.len(), 4);
        assert_eq!(counts.hours[&("ws_a".to_owned(), at.timestamp() / 3600)], (3, 1), "a retry is not a run");
        assert_eq!(counts.hours.len(), 1, "global runs belong to no workspace");
    }
}

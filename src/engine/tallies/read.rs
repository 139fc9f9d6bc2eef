//! Reading the counts back: attempts per minute (or per any number of minutes) by outcome,
//! per workflow, and runs per workspace and hour.

use sea_orm::{ConnectionTrait, DbErr, QueryResult, Statement, Value};
use serde::Serialize;

/// Attempts that ended within one period, by outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Period {
    /// Minutes since 1970 at which the period starts.
    pub minute: i64,
    pub succeeded: i64,
    pub skipped: i64,
    pub retried: i64,
    pub failed: i64,
}

impl Period {
    pub fn total(&self) -> i64 {
        self.succeeded + self.skipped + self.retried + self.failed
    }
}

/// `periods` periods of `minutes` each, the last one holding `now_minute`, oldest first; periods
/// when nothing ended are there with zeros.
pub async fn periods<C: ConnectionTrait>(
    db: &C,
    now_minute: i64,
    minutes: i64,
    periods: i64,
) -> Result<Vec<Period>, DbErr> {
    let last = now_minute.div_euclid(minutes) * minutes;
    let first = last - (periods - 1) * minutes;
    let sql = format!(
        "SELECT minute - ((minute - $1) % {minutes}) AS start, outcome, CAST(SUM(runs) AS BIGINT) AS n FROM run_tallies \
         WHERE minute >= $1 GROUP BY 1, 2"
    );
    let rows = all(db, &sql, vec![first.into()]).await?;
    let mut out: Vec<Period> =
        (0..periods).map(|i| Period { minute: first + i * minutes, ..Period::default() }).collect();
    for row in rows {
        let (start, outcome, n): (i64, String, i64) =
            (row.try_get("", "start")?, row.try_get("", "outcome")?, row.try_get("", "n")?);
        let Some(period) = usize::try_from((start - first) / minutes).ok().and_then(|i| out.get_mut(i)) else {
            continue;
        };
        match outcome.as_str() {
            "succeeded" => period.succeeded += n,
            "skipped" => period.skipped += n,
            "retried" => period.retried += n,
            _ => period.failed += n,
        }
    }
    Ok(out)
}

/// One workflow's attempts since some minute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkflowTally {
    pub workflow: String,
    pub attempts: i64,
    /// Attempts that failed, retried or not.
    pub failed: i64,
    /// Average milliseconds an attempt ran.
    pub average_ms: i64,
}

/// The `n` workflows with the most attempts since `since_minute`, most first.
pub async fn busiest_workflows<C: ConnectionTrait>(
    db: &C,
    since_minute: i64,
    n: u64,
) -> Result<Vec<WorkflowTally>, DbErr> {
    let sql = format!(
        "SELECT workflow, CAST(SUM(runs) AS BIGINT) AS attempts, \
         CAST(SUM(CASE WHEN outcome IN ('failed', 'retried') THEN runs ELSE 0 END) AS BIGINT) AS failed, \
         CAST(SUM(millis) AS BIGINT) AS millis FROM run_tallies WHERE minute >= $1 GROUP BY workflow ORDER BY 2 DESC, 1 LIMIT {n}"
    );
    let rows = all(db, &sql, vec![since_minute.into()]).await?;
    rows.iter()
        .map(|row| {
            let attempts: i64 = row.try_get("", "attempts")?;
            Ok(WorkflowTally {
                workflow: row.try_get("", "workflow")?,
                attempts,
                failed: row.try_get("", "failed")?,
                average_ms: row.try_get::<i64>("", "millis")? / attempts.max(1),
            })
        })
        .collect()
}

/// The `n` workspaces with the most runs ended since `since_hour`: (workspace id, runs, failed).
pub async fn busiest_workspaces<C: ConnectionTrait>(
    db: &C,
    since_hour: i64,
    n: u64,
) -> Result<Vec<(String, i64, i64)>, DbErr> {
    let sql = format!(
        "SELECT workspace_id, CAST(SUM(runs) AS BIGINT) AS runs, CAST(SUM(failed) AS BIGINT) AS failed FROM workspace_run_tallies \
         WHERE hour >= $1 GROUP BY workspace_id ORDER BY 2 DESC, 1 LIMIT {n}"
    );
    let rows = all(db, &sql, vec![since_hour.into()]).await?;
    rows.iter()
        .map(|row| Ok((row.try_get("", "workspace_id")?, row.try_get("", "runs")?, row.try_get("", "failed")?)))
        .collect()
}

/// A workspace's runs ended per hour since `since_hour`: (hour, runs, failed), oldest first;
/// hours with none are left out.
pub async fn workspace_hours<C: ConnectionTrait>(
    db: &C,
    workspace_id: &str,
    since_hour: i64,
) -> Result<Vec<(i64, i64, i64)>, DbErr> {
    let sql =
        "SELECT hour, runs, failed FROM workspace_run_tallies WHERE workspace_id = $1 AND hour >= $2 ORDER BY hour";
    let rows = all(db, sql, vec![workspace_id.into(), since_hour.into()]).await?;
    rows.iter()
        .map(|row| Ok((row.try_get("", "hour")?, row.try_get("", "runs")?, row.try_get("", "failed")?)))
        .collect()
}

async fn all<C: ConnectionTrait>(db: &C, sql: &str, values: Vec<Value>) -> Result<Vec<QueryResult>, DbErr> {
    db.query_all_raw(Statement::from_sql_and_values(db.get_database_backend(), sql, values)).await
}

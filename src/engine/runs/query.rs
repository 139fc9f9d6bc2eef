//! Reading runs: the status words, filters, one run or a page of them, counts per status, and
//! a run's timeline. The status comes from the job row through `queue::run_view_sql`. Every read
//! says whose runs it may return (`Reach`: one workspace's scope, or the platform).

use chrono::{DateTime, TimeZone, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, QueryResult, Statement, Value};
use serde::Serialize;

use super::super::{RunResult, SkipReason};
use crate::domain::{RunId, WorkspaceId};
use crate::engine::Error;
use crate::engine::{Registry, queue};
use crate::tenancy::{Platform, Reach};

/// The words the API and the UI use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Scheduled,
    Queued,
    Running,
    Succeeded,
    Skipped,
    Failed,
    Cancelled,
}

impl RunStatus {
    pub const ALL: [RunStatus; 7] = [
        RunStatus::Scheduled,
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Succeeded,
        RunStatus::Skipped,
        RunStatus::Failed,
        RunStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Scheduled => "scheduled",
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Skipped => "skipped",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(input: &str) -> Result<RunStatus, String> {
        RunStatus::ALL
            .into_iter()
            .find(|s| s.as_str() == input)
            .ok_or_else(|| format!("“{input}” is not a run status; use one of scheduled, queued, running, succeeded, skipped, failed, cancelled"))
    }

    /// Succeeded, skipped, failed or cancelled: nothing more will happen on its own.
    pub fn is_finished(self) -> bool {
        matches!(self, RunStatus::Succeeded | RunStatus::Skipped | RunStatus::Failed | RunStatus::Cancelled)
    }
}

/// A run with its current state, if `reach` may see it.
pub async fn get<'a>(
    db: &DatabaseConnection,
    id: &RunId,
    reach: impl Into<Reach<'a>>,
) -> Result<Option<RunView>, Error> {
    let filter = RunFilter { id: Some(id.clone()), limit: 1, ..RunFilter::default() };
    Ok(list(db, reach, &filter).await?.into_iter().next())
}

/// The runs with these ids, in any workspace and in no particular order.
pub async fn get_many<C: ConnectionTrait>(db: &C, _platform: &Platform, ids: &[RunId]) -> Result<Vec<RunView>, Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks: Vec<String> = crate::db::placeholders(db.get_database_backend(), 1, ids.len()).collect();
    let values: Vec<Value> = ids.iter().map(|id| id.clone().into()).collect();
    select_views(db, &format!(" WHERE v.id IN ({})", marks.join(", ")), values).await
}

/// The runs the run view `v` gives with `rest` (conditions, order, limit) appended.
async fn select_views<C: ConnectionTrait>(db: &C, rest: &str, values: Vec<Value>) -> Result<Vec<RunView>, Error> {
    let backend = db.get_database_backend();
    let sql = format!("SELECT * FROM ({}) v{rest}", queue::run_view_sql(backend));
    let rows = db.query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    rows.iter().map(RunView::from_row).collect::<Result<_, _>>().map_err(Error::from)
}

/// Which runs to list (within what the `Reach` of the read allows); newest first.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub id: Option<RunId>,
    pub workflow: Option<String>,
    pub status: Option<RunStatus>,
    pub business_key: Option<String>,
    pub chain_id: Option<RunId>,
    /// Only runs created at or after this time.
    pub created_since: Option<DateTime<Utc>>,
    /// Only runs older than this one (the next page of a walk, newest first).
    pub before: Option<RunId>,
    pub limit: u64,
}

pub async fn list<'a, C: ConnectionTrait>(
    db: &C,
    reach: impl Into<Reach<'a>>,
    filter: &RunFilter,
) -> Result<Vec<RunView>, Error> {
    let reach = reach.into();
    let mut conditions = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    let mut bind = |condition: &str, value: Value| {
        values.push(value);
        conditions.push(condition.replace('?', &format!("${}", values.len())));
    };
    if let Some(id) = &filter.id {
        bind("v.id = ?", id.clone().into());
    }
    if let Some(ws) = reach.workspace_id() {
        bind("v.workspace_id = ?", ws.to_owned().into());
    }
    if let Some(workflow) = &filter.workflow {
        bind("v.workflow = ?", workflow.clone().into());
    }
    if let Some(status) = filter.status {
        bind("v.status = ?", status.as_str().into());
    }
    if let Some(key) = &filter.business_key {
        bind("v.business_key = ?", key.clone().into());
    }
    if let Some(chain) = &filter.chain_id {
        // Its first run stores no chain id (before 2026-12-05 it stored its own).
        bind("(v.chain_id = ? OR v.id = ?)", chain.clone().into());
    }
    if let Some(since) = filter.created_since {
        bind("v.created_at >= ?", since.into());
    }
    if let Some(before) = &filter.before {
        bind("v.id < ?", before.clone().into());
    }
    let mut rest = String::new();
    if !conditions.is_empty() {
        rest.push_str(&format!(" WHERE {}", conditions.join(" AND ")));
    }
    rest.push_str(&format!(" ORDER BY v.id DESC LIMIT {}", filter.limit.clamp(1, 1000)));
    select_views(db, &rest, values).await
}

/// The platform's runs whose last attempt failed, latest first: failed for good, or about to
/// retry. Their ids come from the failed jobs' index by when they ended (`queue::table`;
/// SQLite's planner is told to use it), never from the finished jobs.
pub async fn recent_failures<C: ConnectionTrait>(db: &C, platform: &Platform, n: u64) -> Result<Vec<RunView>, Error> {
    let backend = db.get_database_backend();
    let table = match backend {
        DbBackend::Postgres => "apalis.jobs".to_owned(),
        _ => format!("Jobs INDEXED BY {}", queue::FAILED_INDEX),
    };
    let sql = format!("SELECT id FROM {table} WHERE status = 'Failed' ORDER BY done_at DESC LIMIT {n}");
    let rows = db.query_all_raw(Statement::from_string(backend, sql)).await?;
    let ids = rows.iter().map(|row| row.try_get::<String>("", "id").map(RunId::from)).collect::<Result<Vec<_>, _>>()?;
    let mut found = get_many(db, platform, &ids).await?;
    found.sort_by(|a, b| b.finished_at.cmp(&a.finished_at).then_with(|| b.id.as_ref().cmp(a.id.as_ref())));
    Ok(found)
}

/// A run as the API and the UI show it.
#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    pub id: RunId,
    pub workflow: String,
    pub workspace_id: Option<WorkspaceId>,
    pub status: RunStatus,
    pub params: serde_json::Value,
    pub output: Option<serde_json::Value>,
    pub skipped: Option<SkipReason>,
    pub error: Option<String>,
    /// Why a queued run waits for a slot: "1 running per workspace" (`queue::limits`).
    pub waiting: Option<String>,
    pub attempts: i64,
    pub max_attempts: i64,
    /// When it runs (or ran, or retries) next.
    pub scheduled_for: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// When it was asked to run, before any retry moved it (`scheduled_for` is the next time).
    #[serde(skip_serializing)]
    pub requested_for: DateTime<Utc>,
    pub business_key: Option<String>,
    pub chain_id: Option<RunId>,
    pub trigger: String,
}

fn from_unix(seconds: Option<i64>) -> Option<DateTime<Utc>> {
    seconds.and_then(|s| Utc.timestamp_opt(s, 0).single())
}

fn from_unix_micros(micros: Option<i64>) -> Option<DateTime<Utc>> {
    micros.and_then(DateTime::from_timestamp_micros)
}

impl RunView {
    fn from_row(row: &QueryResult) -> Result<RunView, sea_orm::DbErr> {
        let status: String = row.try_get("", "status")?;
        let status = RunStatus::parse(&status).map_err(sea_orm::DbErr::Custom)?;
        let params: String = row.try_get("", "params")?;
        let result: Option<String> = row.try_get("", "result")?;
        let result: Option<serde_json::Value> = result.and_then(|r| serde_json::from_str(&r).ok());
        let ok: Option<RunResult> =
            result.as_ref().and_then(|r| r.get("Ok")).and_then(|v| serde_json::from_value(v.clone()).ok());
        let error = result.as_ref().and_then(|r| r.get("Err")).and_then(|e| e.as_str()).map(str::to_owned);
        let waiting = result.as_ref().and_then(|r| r.get("Waiting")).and_then(|w| w.as_str()).map(str::to_owned);
        let finished = status.is_finished();
        let attempt_started = ok.as_ref().and_then(|r| r.started_at);
        let id = RunId::from(row.try_get::<String>("", "id")?);
        let started =
            !matches!(status, RunStatus::Scheduled | RunStatus::Queued) || row.try_get::<i64>("", "attempts")? > 0;
        Ok(RunView {
            id: id.clone(),
            workflow: row.try_get("", "workflow")?,
            workspace_id: row.try_get::<Option<String>>("", "workspace_id")?.map(WorkspaceId::from),
            status,
            params: serde_json::from_str(&params).unwrap_or(serde_json::Value::Null),
            output: ok.as_ref().and_then(|r| r.output.clone()),
            skipped: ok.and_then(|r| r.skipped),
            error: if status == RunStatus::Succeeded || status == RunStatus::Skipped { None } else { error },
            waiting: if status == RunStatus::Queued { waiting } else { None },
            attempts: row.try_get("", "attempts")?,
            max_attempts: row.try_get("", "max_attempts")?,
            scheduled_for: from_unix(row.try_get("", "run_at_s")?),
            started_at: if started {
                attempt_started.or(from_unix_micros(row.try_get("", "started_us")?))
            } else {
                None
            },
            finished_at: if finished { from_unix_micros(row.try_get("", "done_us")?) } else { None },
            created_at: row.try_get("", "created_at")?,
            requested_for: row.try_get("", "scheduled_for")?,
            business_key: row.try_get("", "business_key")?,
            chain_id: Some(RunId::from(
                row.try_get::<Option<String>>("", "chain_id")?.unwrap_or_else(|| id.to_string()),
            )),
            trigger: row.try_get("", "trigger")?,
        })
    }
}

/// How many runs `reach` sees in each status, and how many finished in the last hour.
pub async fn counts<'a>(
    db: &DatabaseConnection,
    reach: impl Into<Reach<'a>>,
) -> Result<(Vec<(RunStatus, i64)>, i64), Error> {
    let backend = db.get_database_backend();
    let (condition, values): (&str, Vec<Value>) = match reach.into().workspace_id() {
        Some(ws) => (" WHERE v.workspace_id = $1", vec![ws.into()]),
        None => ("", Vec::new()),
    };
    let sql = format!(
        "SELECT v.status AS status, COUNT(*) AS n FROM ({}) v{condition} GROUP BY v.status",
        queue::run_view_sql(backend)
    );
    let rows = db.query_all_raw(Statement::from_sql_and_values(backend, sql, values.clone())).await?;
    let mut by_status: Vec<(RunStatus, i64)> = RunStatus::ALL.iter().map(|s| (*s, 0)).collect();
    for row in rows {
        let status: String = row.try_get("", "status")?;
        let n: i64 = row.try_get("", "n")?;
        if let Some(slot) = by_status.iter_mut().find(|(s, _)| s.as_str() == status) {
            slot.1 = n;
        }
    }
    let hour_ago = Utc::now().timestamp() - 3600;
    let joiner = if condition.is_empty() { " WHERE" } else { " AND" };
    let sql = format!(
        "SELECT COUNT(*) AS n FROM ({}) v{condition}{joiner} v.status IN ('succeeded', 'skipped', 'failed') AND v.done_s >= {hour_ago}",
        queue::run_view_sql(backend)
    );
    let row = db.query_one_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    let last_hour = match row {
        Some(row) => row.try_get::<i64>("", "n")?,
        None => 0,
    };
    Ok((by_status, last_hour))
}

/// A workspace's runs that ended since a moment, per workflow (`ended_since_each`).
#[derive(Debug, Clone, Default)]
pub struct EndedRuns {
    /// Each workflow's runs, and how many of them failed.
    by_workflow: Vec<(String, i64, i64)>,
}

impl EndedRuns {
    /// How many runs ended, and how many of those failed; runs of Offstage's own workflows are
    /// not counted.
    pub fn counted(&self, registry: &Registry) -> (i64, i64) {
        let theirs =
            self.by_workflow.iter().filter(|(workflow, ..)| !registry.find(workflow).is_some_and(|w| w.internal()));
        theirs.fold((0, 0), |(runs, failures), (_, r, f)| (runs + r, failures + f))
    }
}

/// For each `(workspace, since)` asked, the runs of that workspace that ended since then, in one
/// statement: the weekly digests of every workspace run at once.
pub async fn ended_since_each<C: ConnectionTrait>(
    db: &C,
    asked: &[(String, DateTime<Utc>)],
) -> Result<Vec<EndedRuns>, Error> {
    let mut ended = vec![EndedRuns::default(); asked.len()];
    if asked.is_empty() {
        return Ok(ended);
    }
    let backend = db.get_database_backend();
    // On PostgreSQL each workspace's runs are counted by a nested loop over the asked ones
    // (LATERAL), with the index on the runs' workspace: joined as sets, the planner hash-joined
    // every run when the table's statistics lagged behind its rows. SQLite has no LATERAL, and
    // its joins are nested loops anyway.
    let (view, rows) = (queue::run_view_sql(backend), crate::db::values_rows(backend, 1, asked.len(), 3));
    let counted =
        "v.workflow, COUNT(*) AS runs, COALESCE(SUM(CASE WHEN v.status = 'failed' THEN 1 ELSE 0 END), 0) AS failures";
    let sql = if backend == DbBackend::Postgres {
        format!(
            "WITH asked (n, workspace_id, since_s) AS (VALUES {rows}) \
             SELECT asked.n, e.workflow, e.runs, e.failures FROM asked CROSS JOIN LATERAL \
             (SELECT {counted} FROM ({view}) v WHERE v.workspace_id = asked.workspace_id AND v.done_s >= asked.since_s \
              GROUP BY v.workflow) e"
        )
    } else {
        format!(
            "WITH asked (n, workspace_id, since_s) AS (VALUES {rows}) \
             SELECT asked.n, {counted} FROM asked \
             JOIN ({view}) v ON v.workspace_id = asked.workspace_id AND v.done_s >= asked.since_s \
             GROUP BY asked.n, v.workflow"
        )
    };
    let values = asked.iter().enumerate().flat_map(|(n, (workspace_id, since))| {
        [Value::from(n as i64), workspace_id.clone().into(), since.timestamp().into()]
    });
    let rows = db.query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    for row in rows {
        let n: i64 = row.try_get("", "n")?;
        let counts = (row.try_get("", "workflow")?, row.try_get("", "runs")?, row.try_get("", "failures")?);
        if let Some(of) = usize::try_from(n).ok().and_then(|n| ended.get_mut(n)) {
            of.by_workflow.push(counts);
        }
    }
    Ok(ended)
}

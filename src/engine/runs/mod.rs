//! Starting, reading, cancelling and retrying runs. A run is a `workflow_runs` row (its facts)
//! plus the apalis job with the same id (its state), written in one transaction; `RunView` is
//! the two read together, with the status computed from the job row.

mod actions;
mod batch;
mod chain;
mod in_statement;
mod new_run;
mod period;
mod query;
mod starter;
mod timeline;
pub mod waiting;

pub(crate) use actions::cancel_by_business_key_in;
pub use actions::{BulkAction, bulk, bulk_cancel, bulk_retry, cancel, cancel_by_business_key, retry};
use batch::place_all;
pub use batch::{Placed, Started, start_batch, start_batch_in};
pub use chain::{ChainProgress, chain, counts as chain_counts, progress as chain_progress, progress_of_chain};
pub use in_statement::{RunsInStatement, array, column};
pub use new_run::NewRun;
pub use period::Period;
pub use query::{
    EndedRuns, RunFilter, RunStatus, RunView, counts, ended_since_each, get, get_many, list, recent_failures,
};
pub use starter::Starter;
pub use timeline::{TimelineEntry, timeline};

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use super::Priority;
use crate::db::entities::workflow_run;
use crate::db::{is_foreign_key_violation, is_unique_violation};
use crate::domain::RunId;
use crate::engine::Error;
use crate::engine::queue;
use crate::tenancy::Platform;
use new_run::{Params, scope_of};

/// Queues a run (or returns the existing one for a repeated idempotency key).
pub async fn start(db: &DatabaseConnection, new: NewRun) -> Result<RunView, Error> {
    Ok(start_or_find(db, new).await?.0)
}

/// Queues a run; for a repeated idempotency key, returns the first run and `true` instead.
pub async fn start_or_find(db: &DatabaseConnection, new: NewRun) -> Result<(RunView, bool), Error> {
    let started = start_batch(db, std::slice::from_ref(&new)).await?;
    let Some(started) = started.into_iter().next() else {
        return Err(Error::Corrupt("a batch of one started nothing".into()));
    };
    read_back(db, started).await
}

/// The run a start placed, and whether it was there before.
async fn read_back(db: &DatabaseConnection, Started { id, duplicate, .. }: Started) -> Result<(RunView, bool), Error> {
    let run = get(db, &id, &Platform::system())
        .await?
        .ok_or_else(|| Error::Corrupt(format!("run {id} vanished after insert")))?;
    Ok((run, duplicate))
}

/// Queues a run inside the caller's transaction, so it exists exactly when the caller's change
/// commits. Returns the run's id; a repeated idempotency key is a `Conflict`.
pub async fn start_in<C: ConnectionTrait>(txn: &C, new: &NewRun) -> Result<RunId, Error> {
    let mut ids = start_all_in(txn, std::slice::from_ref(new)).await?;
    ids.pop().ok_or_else(|| Error::Corrupt("no run id returned".into()))
}

/// Runs per statement: a few hundred kilobytes of parameters.
const ROWS_PER_INSERT: usize = 1000;

/// A run ready to be written: its facts and its job, with the same id.
pub(super) struct PreparedRun {
    pub fact: workflow_run::Model,
    pub job: queue::NewJob,
}

/// Checks each run's JSON parameters against its workflow's type (`Invalid` names the field).
/// An empty key is refused: it would be no key where runs are written from arrays
/// (`RunsInStatement`).
fn check_all<'a>(news: impl IntoIterator<Item = &'a NewRun>) -> Result<(), Error> {
    for new in news {
        if let Params::Json(params) = &new.params {
            new.workflow.check_params(params).map_err(|err| Error::Invalid(err.to_string()))?;
        }
        for (field, key) in [("idempotency_key", &new.idempotency_key), ("business_key", &new.business_key)] {
            if key.as_deref() == Some("") {
                return Err(Error::Invalid(format!("{field}: use at least one character.")));
            }
        }
    }
    Ok(())
}

/// Gives each run, its parameters checked, its id, its row and its job, as of `now`.
pub(super) fn prepare<'a>(
    news: impl IntoIterator<Item = &'a NewRun>,
    now: DateTime<Utc>,
) -> Result<Vec<PreparedRun>, Error> {
    let news: Vec<&NewRun> = news.into_iter().collect();
    // Ascending ids: each index on the id takes the batch at its right edge (PostgreSQL's
    // fast path), where ids random within a millisecond went to the middle of the last pages
    // (2.3x the WAL and 5x the pages touched per run). Each id is still random.
    let mut ids: Vec<ulid::Ulid> = news.iter().map(|_| ulid::Ulid::new()).collect();
    ids.sort_unstable();
    let mut prepared = Vec::with_capacity(news.len());
    for (new, id) in news.into_iter().zip(ids) {
        let id = id.to_string();
        let run_at = new.run_at.unwrap_or(now).max(now);
        // Serialized once: the run's row keeps the text, the job's payload copies it in.
        let params = match &new.params {
            Params::Typed(text) => text.clone(),
            Params::Json(value) => serde_json::value::to_raw_value(value)?,
        };
        let request = super::RunRequest {
            workflow: new.workflow.name().to_owned(),
            params: &*params,
            chain_id: new.chain_id.clone(),
            not_before: (run_at > now).then_some(run_at),
            awaited: new.awaited,
            request_id: new.request_id.clone(),
        };
        let payload = serde_json::to_vec(&request)?;
        let max_attempts = i32::try_from(new.workflow.max_attempts()).unwrap_or(i32::MAX);
        let workspace_id = new.workspace_id.clone();
        prepared.push(PreparedRun {
            fact: workflow_run::Model {
                id: id.clone(),
                workflow: new.workflow.name().to_owned(),
                workspace_id: workspace_id.clone(),
                params: Box::<str>::from(params).into_string(),
                business_key: new.business_key.clone(),
                idempotency_scope: scope_of(workspace_id.clone()),
                idempotency_key: new.idempotency_key.clone(),
                // A chain's first run stores none (`RunView` shows its own id): most runs begin no
                // chain, and an entry for each in the chain index cost every start.
                chain_id: new.chain_id.clone(),
                trigger: new.trigger.to_owned(),
                created_at: now,
                scheduled_for: run_at,
            },
            job: queue::NewJob {
                id,
                payload,
                run_at,
                max_attempts,
                // Someone waits for an awaited run right now, whatever its workflow's class.
                priority: if new.awaited { Priority::Urgent } else { new.priority.unwrap_or(new.workflow.priority()) }
                    .queue_value(),
                lane: workspace_id.unwrap_or_default(),
            },
        });
    }
    Ok(prepared)
}

/// Queues several runs inside the caller's transaction. A repeated idempotency key among them,
/// or one already used, is a `Conflict` and nothing is written (`start_batch_in` answers with
/// the first run instead).
pub async fn start_all_in<C: ConnectionTrait>(txn: &C, news: &[NewRun]) -> Result<Vec<RunId>, Error> {
    check_all(news)?;
    insert_all(txn, news).await
}

/// Writes runs, 1,000 per statement: on PostgreSQL one statement writes both tables
/// (`RunsInStatement`); on SQLite one INSERT each. A key already used is a `Conflict`.
async fn insert_all<'a, C: ConnectionTrait>(
    txn: &C,
    news: impl IntoIterator<Item = &'a NewRun>,
) -> Result<Vec<RunId>, Error> {
    let prepared = prepare(news, Utc::now())?;
    let ids = prepared.iter().map(|run| RunId::from(run.fact.id.clone())).collect();
    let backend = txn.get_database_backend();
    let mut prepared = prepared.into_iter().peekable();
    while prepared.peek().is_some() {
        let chunk: Vec<PreparedRun> = prepared.by_ref().take(ROWS_PER_INSERT).collect();
        let written = match backend {
            DbBackend::Postgres => {
                let values = RunsInStatement::of(chunk).into_values();
                txn.execute_raw(Statement::from_sql_and_values(backend, INSERT_POSTGRES.as_str(), values))
                    .await
                    .map(|_| ())
            }
            _ => insert_sqlite(txn, chunk).await,
        };
        match written {
            Ok(_) => {}
            Err(err) if is_unique_violation(&err) => {
                return Err(Error::Conflict("A run with this idempotency key already exists.".into()));
            }
            Err(err) if is_foreign_key_violation(&err) => {
                return Err(Error::Invalid("workspace_id: no workspace has this id.".into()));
            }
            Err(err) => return Err(err.into()),
        }
    }
    Ok(ids)
}

/// Whether `insert_all` writes `runs` runs with one statement, which is as whole as a
/// transaction: on PostgreSQL up to `ROWS_PER_INSERT` runs are one INSERT of the runs and their
/// jobs together; SQLite writes them with two statements.
fn insert_all_is_one_statement(backend: DbBackend, runs: usize) -> bool {
    backend == DbBackend::Postgres && runs <= ROWS_PER_INSERT
}

/// Runs and their jobs in one statement on PostgreSQL (its data-modifying clauses do the work;
/// the final SELECT only completes the statement).
static INSERT_POSTGRES: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("WITH {} SELECT 1", RunsInStatement::clauses(1, None)));

/// One run's facts as `insert_sqlite` reads them from its JSON parameter: an array, read by
/// position in the order of the INSERT's columns. As an object, SQLite found each field by
/// comparing its key with every key before it, for each of the eleven fields of each run.
#[derive(serde::Serialize)]
struct FactRow<'a>(
    /// id
    &'a str,
    /// workflow
    &'a str,
    /// workspace_id
    Option<&'a str>,
    /// params
    &'a str,
    /// business_key
    Option<&'a str>,
    /// idempotency_scope
    &'a str,
    /// idempotency_key
    Option<&'a str>,
    /// chain_id
    Option<&'a str>,
    /// trigger
    &'a str,
    /// created_at, as sqlx writes a time to SQLite
    String,
    /// scheduled_for, likewise
    String,
);

/// Inserts runs' facts on SQLite with one statement and one JSON parameter (binding eleven
/// values per run cost more than the insert itself), then their jobs.
async fn insert_sqlite<C: ConnectionTrait>(txn: &C, runs: Vec<PreparedRun>) -> Result<(), sea_orm::DbErr> {
    let time = |at: &DateTime<Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false);
    let rows: Vec<FactRow> = runs
        .iter()
        .map(|PreparedRun { fact: f, .. }| {
            FactRow(
                &f.id,
                &f.workflow,
                f.workspace_id.as_deref(),
                &f.params,
                f.business_key.as_deref(),
                &f.idempotency_scope,
                f.idempotency_key.as_deref(),
                f.chain_id.as_deref(),
                &f.trigger,
                time(&f.created_at),
                time(&f.scheduled_for),
            )
        })
        .collect();
    let rows = serde_json::to_string(&rows).map_err(|err| sea_orm::DbErr::Custom(format!("encoding runs: {err}")))?;
    let sql = "INSERT INTO workflow_runs (id, workflow, workspace_id, params, business_key, idempotency_scope, \
             idempotency_key, chain_id, \"trigger\", created_at, scheduled_for) \
         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, \
             value ->> 7, value ->> 8, value ->> 9, value ->> 10 \
         FROM jsonb_each($1)";
    txn.execute_raw(Statement::from_sql_and_values(DbBackend::Sqlite, sql, [rows.into()])).await?;
    let jobs: Vec<queue::NewJob> = runs.into_iter().map(|run| run.job).collect();
    queue::insert_jobs_sqlite(txn, queue::WORKFLOW_QUEUE, &jobs).await
}

/// Starts one run per item in one transaction (the n-th at `spacing × n` from now), skipping
/// items whose idempotency key already has a run. Returns the ids of the runs started.
pub async fn fan_out(
    db: &DatabaseConnection,
    mut items: Vec<NewRun>,
    spacing: Option<std::time::Duration>,
) -> Result<Vec<RunId>, Error> {
    if let Some(every) = spacing {
        let now = Utc::now();
        for (n, item) in items.iter_mut().enumerate() {
            let offset = chrono::Duration::from_std(every * u32::try_from(n).unwrap_or(u32::MAX)).unwrap_or_default();
            item.run_at = Some(item.run_at.unwrap_or(now) + offset);
        }
    }
    let placed = place_all(db, &items).await?;
    Ok(placed.into_iter().filter(|p| !p.duplicate).map(|p| p.id).collect())
}

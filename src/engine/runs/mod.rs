//! Starting, reading, cancelling and retrying runs. A run is a `workflow_runs` row (its facts)
//! plus the apalis job with the same id (its state), written in one transaction; `RunView` is
//! the two read together, with the status computed from the job row.

mod actions;
mod batch;
mod chain;
mod in_statement;
mod period;
mod query;
mod starter;
mod timeline;
pub mod waiting;

pub(crate) use actions::cancel_by_business_key_in;
pub use actions::{BulkAction, bulk, bulk_cancel, bulk_retry, cancel, cancel_by_business_key, retry};
pub use batch::{Placed, Started, start_batch, start_batch_in};
pub use chain::{ChainProgress, chain, counts as chain_counts, progress as chain_progress, progress_of_chain};
pub use in_statement::{RunsInStatement, array, column};
pub use period::Period;
pub use query::{RunFilter, RunStatus, RunView, counts, ended_since, get, get_many, list, recent_failures};
pub use starter::Starter;
pub use timeline::{TimelineEntry, timeline};

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use super::{AnyWorkflow, Priority, Registry, Workflow};
use crate::db::entities::workflow_run;
use crate::db::{begin_write, is_foreign_key_violation, is_unique_violation};
use crate::domain::{RunId, WorkspaceId};
use crate::engine::Error;
use crate::engine::queue;
use crate::tenancy::Platform;

/// A request to run a workflow.
pub struct NewRun {
    workflow: &'static dyn AnyWorkflow,
    params: Params,
    /// The workspace its parameters name (`workspace_id`), read once, when the run is asked for.
    workspace_id: Option<String>,
    run_at: Option<DateTime<Utc>>,
    idempotency_key: Option<String>,
    business_key: Option<String>,
    chain_id: Option<String>,
    trigger: &'static str,
    /// Someone waits for this run's end (`"wait": true`): announce it to every process.
    awaited: bool,
    /// Its class instead of its workflow's (`at_priority`).
    priority: Option<Priority>,
    /// The request (or the run) that started it, for its log lines.
    request_id: Option<String>,
}

impl NewRun {
    /// By name, with JSON parameters (schedules): unknown names are `NotFound`.
    pub fn named(registry: &Registry, name: &str, params: serde_json::Value) -> Result<NewRun, Error> {
        Ok(NewRun::for_workflow(registry.find(name).ok_or(Error::NotFound)?, params))
    }

    /// A workflow already found (the API and the UI), with JSON parameters.
    pub fn for_workflow(workflow: &'static dyn AnyWorkflow, params: serde_json::Value) -> NewRun {
        let workspace_id = params.get("workspace_id").and_then(|v| v.as_str()).map(String::from);
        NewRun::with_params(workflow, Params::Json(params), workspace_id)
    }

    /// From code, with typed parameters: the type carries what the run needs, so this cannot miss.
    /// They are serialized straight to text: building a JSON value first, and checking it
    /// against the type it came from, were a third of what a start of 1,000 runs did in Rust.
    pub fn of<W: Workflow>(params: &W::Params) -> NewRun {
        #[derive(serde::Deserialize)]
        struct Named {
            workspace_id: Option<String>,
        }
        let workflow = super::workflow::<W>();
        match serde_json::value::to_raw_value(params) {
            Ok(params) => {
                let workspace_id =
                    serde_json::from_str::<Named>(params.get()).ok().and_then(|named| named.workspace_id);
                NewRun::with_params(workflow, Params::Typed(params), workspace_id)
            }
            // A type that JSON cannot hold: the start's check refuses it.
            Err(_) => NewRun::for_workflow(workflow, serde_json::Value::Null),
        }
    }

    fn with_params(workflow: &'static dyn AnyWorkflow, params: Params, workspace_id: Option<String>) -> NewRun {
        NewRun {
            workflow,
            params,
            workspace_id,
            run_at: None,
            idempotency_key: None,
            business_key: None,
            chain_id: None,
            trigger: "code",
            awaited: false,
            priority: None,
            request_id: crate::telemetry::request_id::current(),
        }
    }

    /// Run at `at` instead of now.
    pub fn at(mut self, at: DateTime<Utc>) -> NewRun {
        self.run_at = Some(at);
        self
    }

    /// A second start with the same key (in the same workspace) returns the first run.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> NewRun {
        self.idempotency_key = Some(key.into());
        self
    }

    /// A key for cancelling related runs together, e.g. `trial_ending:ws_…`.
    pub fn business_key(mut self, key: impl Into<String>) -> NewRun {
        self.business_key = Some(key.into());
        self
    }

    /// Continues the chain `chain_id` (recursion in batches).
    pub fn continuing(mut self, chain_id: impl Into<String>) -> NewRun {
        self.chain_id = Some(chain_id.into());
        self.trigger = "continuation";
        self
    }

    pub fn trigger(mut self, trigger: &'static str) -> NewRun {
        self.trigger = trigger;
        self
    }

    /// Someone will wait for the run's end (`waiting::until_finished`) in another process too;
    /// the run is urgent whatever its workflow's priority.
    pub fn awaited(mut self) -> NewRun {
        self.awaited = true;
        self
    }

    /// Runs in `priority`'s class instead of its workflow's: the emails an import sends go with
    /// the bulk work that made them, not before every workspace's other runs.
    pub fn at_priority(mut self, priority: Priority) -> NewRun {
        self.priority = Some(priority);
        self
    }

    pub fn workflow(&self) -> &'static dyn AnyWorkflow {
        self.workflow
    }

    /// Where its idempotency key is unique: its workspace, or `global`.
    pub fn idempotency_scope(&self) -> String {
        idempotency_scope(self)
    }

    /// The workspace named by the parameters, for workspace-scoped workflows.
    pub fn workspace_id(&self) -> Option<WorkspaceId> {
        self.workspace_id.as_deref().map(WorkspaceId::from)
    }
}

/// A run's parameters, by where they came from.
enum Params {
    /// From code: serialized from the workflow's own type, so they fit it.
    Typed(Box<serde_json::value::RawValue>),
    /// From JSON (the API, the UI, schedules): checked against the type when the run starts.
    Json(serde_json::Value),
}

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

fn idempotency_scope(new: &NewRun) -> String {
    scope_of(workspace_of(new))
}

/// The idempotency scope of a run of `workspace_id`: the workspace, or `global` for none.
fn scope_of(workspace_id: Option<String>) -> String {
    workspace_id.unwrap_or_else(|| "global".into())
}

fn workspace_of(new: &NewRun) -> Option<String> {
    if new.workflow.workspace_scoped() { new.workspace_id.clone() } else { None }
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
        let workspace_id = workspace_of(new);
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

/// Runs and their jobs in one statement on PostgreSQL.
static INSERT_POSTGRES: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("WITH {} SELECT count(*) AS n FROM jobs", RunsInStatement::clauses(1, None)));

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
    let txn = begin_write(db).await?;
    let placed = start_batch_in(&txn, &items).await?;
    txn.commit().await?;
    Ok(placed.into_iter().filter(|p| !p.duplicate).map(|p| p.id).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::probe;

    fn parsed(text: &[u8]) -> serde_json::Value {
        serde_json::from_slice(text).expect("JSON")
    }

    #[test]
    fn typed_and_json_parameters_name_the_same_workspace_and_are_written_alike() {
        let params = probe::Params::noop("ws_1");
        let typed = NewRun::of::<probe::Probe>(&params);
        let json = NewRun::for_workflow(typed.workflow(), serde_json::to_value(&params).expect("JSON"));
        assert_eq!(typed.workspace_id(), Some(WorkspaceId::from("ws_1")));
        assert_eq!(json.workspace_id(), typed.workspace_id());
        let written = prepare([&typed, &json], Utc::now()).expect("prepared");
        assert_eq!(parsed(written[0].fact.params.as_bytes()), parsed(written[1].fact.params.as_bytes()));
        assert_eq!(parsed(&written[0].job.payload), parsed(&written[1].job.payload));
        assert_eq!(parsed(&written[0].job.payload)["params"], parsed(written[0].fact.params.as_bytes()));
        assert_eq!((written[0].job.lane.as_str(), written[1].job.lane.as_str()), ("ws_1", "ws_1"));
    }

    #[test]
    fn json_parameters_that_do_not_fit_the_workflow_are_refused_and_typed_ones_pass() {
        let typed = NewRun::of::<probe::Probe>(&probe::Params::noop("ws_1"));
        let misfit = NewRun::for_workflow(typed.workflow(), serde_json::json!({ "workspace_id": 5 }));
        assert!(check_all([&typed]).is_ok());
        match check_all([&typed, &misfit]) {
            Err(Error::Invalid(message)) => assert!(message.starts_with("workspace_id"), "{message}"),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }
}

//! Starting, reading, cancelling and retrying runs. A run is a `workflow_runs` row (its facts)
//! plus the apalis job with the same id (its state), written in one transaction; `RunView` is
//! the two read together, with the status computed from the job row.

use chrono::{DateTime, TimeZone, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DatabaseConnection, QueryResult, Statement, Value};
use serde::Serialize;

use super::events::{self, EventKind};
use super::{AnyWorkflow, RunResult, SkipReason, Workflow};
use crate::db::entities::workflow_run;
use crate::db::{begin_write, is_unique_violation};
use crate::error::AppError;
use crate::jobs;

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

/// A request to run a workflow.
pub struct NewRun {
    workflow: &'static dyn AnyWorkflow,
    params: serde_json::Value,
    run_at: Option<DateTime<Utc>>,
    idempotency_key: Option<String>,
    business_key: Option<String>,
    chain_id: Option<String>,
    trigger: &'static str,
}

impl NewRun {
    /// By name, with JSON parameters (the API and the UI): unknown names are `NotFound`.
    pub fn named(name: &str, params: serde_json::Value) -> Result<NewRun, AppError> {
        let workflow = super::find(name).ok_or(AppError::NotFound)?;
        Ok(NewRun {
            workflow,
            params,
            run_at: None,
            idempotency_key: None,
            business_key: None,
            chain_id: None,
            trigger: "code",
        })
    }

    /// From code, with typed parameters.
    pub fn of<W: Workflow>(params: &W::Params) -> NewRun {
        let workflow = super::find(W::NAME).unwrap_or_else(|| panic!("workflow {} is not in the registry", W::NAME));
        let params = serde_json::to_value(params).unwrap_or(serde_json::Value::Null);
        NewRun {
            workflow,
            params,
            run_at: None,
            idempotency_key: None,
            business_key: None,
            chain_id: None,
            trigger: "code",
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

    pub fn workflow(&self) -> &'static dyn AnyWorkflow {
        self.workflow
    }

    /// The workspace named by the parameters, for workspace-scoped workflows.
    pub fn workspace_id(&self) -> Option<String> {
        self.params.get("workspace_id").and_then(|v| v.as_str()).map(str::to_owned)
    }

    pub fn params_mut(&mut self) -> &mut serde_json::Value {
        &mut self.params
    }
}

/// Queues a run (or returns the existing one for a repeated idempotency key).
pub async fn start(db: &DatabaseConnection, new: NewRun) -> Result<RunView, AppError> {
    new.workflow.check_params(&new.params).map_err(AppError::Unprocessable)?;
    let scope = idempotency_scope(&new);
    if let Some(key) = &new.idempotency_key
        && let Some(existing) = find_by_idempotency(db, &scope, key).await?
    {
        return Ok(existing);
    }
    let txn = begin_write(db).await?;
    let id = match start_in(&txn, &new).await {
        Ok(id) => id,
        Err(AppError::Conflict(_)) => {
            // Another request with the same idempotency key committed first.
            txn.rollback().await?;
            let key = new.idempotency_key.as_deref().unwrap_or_default();
            return find_by_idempotency(db, &scope, key).await?.ok_or(AppError::NotFound);
        }
        Err(err) => return Err(err),
    };
    txn.commit().await?;
    get(db, &id, None).await?.ok_or_else(|| AppError::Internal(anyhow::anyhow!("run {id} vanished after insert")))
}

fn idempotency_scope(new: &NewRun) -> String {
    workspace_of(new).unwrap_or_else(|| "global".into())
}

fn workspace_of(new: &NewRun) -> Option<String> {
    if new.workflow.workspace_scoped() { new.workspace_id() } else { None }
}

/// Queues a run inside the caller's transaction, so it exists exactly when the caller's change
/// commits. Returns the run's id; a repeated idempotency key is a `Conflict`.
pub async fn start_in<C: ConnectionTrait>(txn: &C, new: &NewRun) -> Result<String, AppError> {
    new.workflow.check_params(&new.params).map_err(AppError::Unprocessable)?;
    let id = ulid::Ulid::new().to_string();
    let now = Utc::now();
    let run_at = new.run_at.unwrap_or(now).max(now);
    let request = super::RunRequest { workflow: new.workflow.name().to_owned(), params: new.params.clone() };
    let payload = serde_json::to_vec(&request).map_err(|err| AppError::Internal(err.into()))?;
    let inserted = workflow_run::ActiveModel {
        id: Set(id.clone()),
        workflow: Set(new.workflow.name().to_owned()),
        workspace_id: Set(workspace_of(new)),
        params: Set(new.params.to_string()),
        business_key: Set(new.business_key.clone()),
        idempotency_scope: Set(idempotency_scope(new)),
        idempotency_key: Set(new.idempotency_key.clone()),
        chain_id: Set(Some(new.chain_id.clone().unwrap_or_else(|| id.clone()))),
        trigger: Set(new.trigger.to_owned()),
        created_at: Set(now),
        scheduled_for: Set(run_at),
    }
    .insert(txn)
    .await;
    match inserted {
        Ok(_) => {}
        Err(err) if is_unique_violation(&err) => {
            return Err(AppError::Conflict("A run with this idempotency key already exists.".into()));
        }
        Err(err) => return Err(err.into()),
    }
    let max_attempts = i32::try_from(new.workflow.max_attempts()).unwrap_or(i32::MAX);
    jobs::insert_job(txn, jobs::WORKFLOW_QUEUE, &id, payload, run_at, max_attempts).await?;
    let when = if run_at > now {
        format!("Scheduled for {}", run_at.format("%Y-%m-%d %H:%M:%S UTC"))
    } else {
        "Queued".into()
    };
    events::record(txn, &id, EventKind::Created, format!("{when} (trigger: {})", new.trigger)).await?;
    Ok(id)
}

/// Starts one run per item in one transaction (the n-th at `spacing × n` from now), skipping
/// items whose idempotency key already has a run. Returns the ids of the runs started.
pub async fn fan_out(
    db: &DatabaseConnection,
    items: Vec<NewRun>,
    spacing: Option<std::time::Duration>,
) -> Result<Vec<String>, AppError> {
    let now = Utc::now();
    let txn = begin_write(db).await?;
    let mut started = Vec::with_capacity(items.len());
    for (n, mut item) in items.into_iter().enumerate() {
        if let Some(key) = &item.idempotency_key
            && find_by_idempotency_in(&txn, &idempotency_scope(&item), key).await?.is_some()
        {
            continue;
        }
        if let Some(every) = spacing {
            let offset = chrono::Duration::from_std(every * u32::try_from(n).unwrap_or(u32::MAX)).unwrap_or_default();
            item.run_at = Some(item.run_at.unwrap_or(now) + offset);
        }
        started.push(start_in(&txn, &item).await?);
    }
    txn.commit().await?;
    Ok(started)
}

/// A run with its current state. `workspace_id` restricts the lookup to one workspace.
pub async fn get(db: &DatabaseConnection, id: &str, workspace_id: Option<&str>) -> Result<Option<RunView>, AppError> {
    let mut filter = RunFilter { limit: 1, ..RunFilter::default() };
    filter.id = Some(id.to_owned());
    filter.workspace_id = workspace_id.map(str::to_owned);
    Ok(list(db, &filter).await?.into_iter().next())
}

/// The run started earlier with this idempotency key, in `scope` (a workspace id or `global`).
pub async fn find_by_idempotency(db: &DatabaseConnection, scope: &str, key: &str) -> Result<Option<RunView>, AppError> {
    let filter = RunFilter { idempotency: Some((scope.to_owned(), key.to_owned())), limit: 1, ..RunFilter::default() };
    Ok(list(db, &filter).await?.into_iter().next())
}

/// The id of the run with this idempotency key, read through `db` (a transaction, say).
pub async fn find_by_idempotency_in<C: ConnectionTrait>(
    db: &C,
    scope: &str,
    key: &str,
) -> Result<Option<String>, AppError> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let found = workflow_run::Entity::find()
        .filter(workflow_run::Column::IdempotencyScope.eq(scope))
        .filter(workflow_run::Column::IdempotencyKey.eq(key))
        .one(db)
        .await?;
    Ok(found.map(|r| r.id))
}

/// Which runs to list; newest first.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub id: Option<String>,
    /// Only this workspace's runs (the API always sets it).
    pub workspace_id: Option<String>,
    pub workflow: Option<String>,
    pub status: Option<RunStatus>,
    pub business_key: Option<String>,
    pub idempotency: Option<(String, String)>,
    pub chain_id: Option<String>,
    pub limit: u64,
}

pub async fn list(db: &DatabaseConnection, filter: &RunFilter) -> Result<Vec<RunView>, AppError> {
    let backend = db.get_database_backend();
    let mut conditions = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    let mut bind = |condition: &str, value: Value| {
        values.push(value);
        conditions.push(condition.replace('?', &format!("${}", values.len())));
    };
    if let Some(id) = &filter.id {
        bind("v.id = ?", id.clone().into());
    }
    if let Some(ws) = &filter.workspace_id {
        bind("v.workspace_id = ?", ws.clone().into());
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
        bind("v.chain_id = ?", chain.clone().into());
    }
    if let Some((scope, key)) = &filter.idempotency {
        bind("v.idempotency_scope = ?", scope.clone().into());
        bind("v.idempotency_key = ?", key.clone().into());
    }
    let mut sql = format!("SELECT * FROM ({}) v", jobs::run_view_sql(backend));
    if !conditions.is_empty() {
        sql.push_str(&format!(" WHERE {}", conditions.join(" AND ")));
    }
    sql.push_str(&format!(" ORDER BY v.id DESC LIMIT {}", filter.limit.clamp(1, 1000)));
    let rows = db.query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    rows.iter().map(RunView::from_row).collect::<Result<_, _>>().map_err(AppError::from)
}

/// Cancels a run that has not started; `Conflict` when it already has.
pub async fn cancel(db: &DatabaseConnection, run: &RunView, by: &str) -> Result<RunView, AppError> {
    let txn = begin_write(db).await?;
    let cancelled =
        jobs::cancel_not_started(&txn, std::slice::from_ref(&run.id), &format!("cancelled by {by}")).await?;
    if cancelled == 0 {
        return Err(AppError::Conflict(format!("The run is {} and can no longer be cancelled.", run.status.as_str())));
    }
    events::record(&txn, &run.id, EventKind::Cancelled, format!("Cancelled by {by}")).await?;
    txn.commit().await?;
    get(db, &run.id, None).await?.ok_or(AppError::NotFound)
}

/// Cancels every not-yet-started run with `business_key` (in one workspace, when given), e.g.
/// the pending trial reminder of a workspace whose trial end moved. Returns how many.
pub async fn cancel_by_business_key(
    db: &DatabaseConnection,
    workspace_id: Option<&str>,
    business_key: &str,
    by: &str,
) -> Result<u64, AppError> {
    let filter = RunFilter {
        workspace_id: workspace_id.map(str::to_owned),
        business_key: Some(business_key.to_owned()),
        limit: 1000,
        ..RunFilter::default()
    };
    let ids: Vec<String> = list(db, &filter)
        .await?
        .into_iter()
        .filter(|r| !r.status.is_finished() && r.status != RunStatus::Running)
        .map(|r| r.id)
        .collect();
    let txn = begin_write(db).await?;
    let cancelled = jobs::cancel_not_started(&txn, &ids, &format!("cancelled by {by}")).await?;
    for id in &ids {
        events::record(&txn, id, EventKind::Cancelled, format!("Cancelled by {by} (business key {business_key})"))
            .await?;
    }
    txn.commit().await?;
    Ok(cancelled)
}

/// Runs a failed run again with its workflow's attempts; `Conflict` unless it failed.
pub async fn retry(db: &DatabaseConnection, run: &RunView, by: &str) -> Result<RunView, AppError> {
    let extra = super::find(&run.workflow).map(|w| w.max_attempts()).unwrap_or(1);
    let txn = begin_write(db).await?;
    if !jobs::reopen_failed(&txn, &run.id, i32::try_from(extra).unwrap_or(1)).await? {
        return Err(AppError::Conflict(format!(
            "Only failed runs can be retried; this one is {}.",
            run.status.as_str()
        )));
    }
    events::record(&txn, &run.id, EventKind::Retried, format!("Retried by {by}")).await?;
    txn.commit().await?;
    get(db, &run.id, None).await?.ok_or(AppError::NotFound)
}

/// A run as the API and the UI show it.
#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    pub id: String,
    pub workflow: String,
    pub workspace_id: Option<String>,
    pub status: RunStatus,
    pub params: serde_json::Value,
    pub output: Option<serde_json::Value>,
    pub skipped: Option<SkipReason>,
    pub error: Option<String>,
    pub attempts: i64,
    pub max_attempts: i64,
    /// When it runs (or ran, or retries) next.
    pub scheduled_for: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub business_key: Option<String>,
    pub chain_id: Option<String>,
    pub trigger: String,
}

fn from_unix(seconds: Option<i64>) -> Option<DateTime<Utc>> {
    seconds.and_then(|s| Utc.timestamp_opt(s, 0).single())
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
        let finished = status.is_finished();
        let started =
            !matches!(status, RunStatus::Scheduled | RunStatus::Queued) || row.try_get::<i64>("", "attempts")? > 0;
        Ok(RunView {
            id: row.try_get("", "id")?,
            workflow: row.try_get("", "workflow")?,
            workspace_id: row.try_get("", "workspace_id")?,
            status,
            params: serde_json::from_str(&params).unwrap_or(serde_json::Value::Null),
            output: ok.as_ref().and_then(|r| r.output.clone()),
            skipped: ok.and_then(|r| r.skipped),
            error: if status == RunStatus::Succeeded || status == RunStatus::Skipped { None } else { error },
            attempts: row.try_get("", "attempts")?,
            max_attempts: row.try_get("", "max_attempts")?,
            scheduled_for: from_unix(row.try_get("", "run_at_s")?),
            started_at: if started { from_unix(row.try_get("", "started_s")?) } else { None },
            finished_at: if finished { from_unix(row.try_get("", "done_s")?) } else { None },
            created_at: row.try_get("", "created_at")?,
            business_key: row.try_get("", "business_key")?,
            chain_id: row.try_get("", "chain_id")?,
            trigger: row.try_get("", "trigger")?,
        })
    }
}

/// A run's events, oldest first: its timeline.
pub async fn timeline<C: ConnectionTrait>(
    db: &C,
    run_id: &str,
) -> Result<Vec<crate::db::entities::run_event::Model>, AppError> {
    Ok(events::for_run(db, run_id).await?)
}

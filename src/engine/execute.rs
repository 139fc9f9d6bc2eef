//! Executing one attempt of a run inside a worker: find the workflow, build its context, run it
//! under its timeout, and on a failure that another attempt follows, record it and push the next
//! attempt into the future (exponential backoff with jitter) before apalis records the failure.
//! The last attempt leaves nothing here: apalis's job row says how it ended, and the timeline
//! reads it from there (`runs::timeline`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use sea_orm::{DatabaseConnection, DbErr};

use super::context::WorkspaceMissing;
use super::events::{self, EventKind, NewEvent};
use super::{Outcome, RunContext, SkipReason};
use crate::db::batcher::Batcher;
use crate::db::begin_write;
use crate::engine::queue::limits::{self, Slot};
use crate::engine::queue::{self, JobContext};
use crate::telemetry::metrics as telemetry;
use tracing::Instrument;

/// The job payload apalis stores and hands back to the worker. A start writes it with the
/// parameters already serialized (`RunRequest<&RawValue>`), not serialized again per run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRequest<P = Value> {
    pub workflow: String,
    pub params: P,
    /// The chain the run belongs to (absent for a chain's first run).
    #[serde(default)]
    pub chain_id: Option<String>,
    /// When a scheduled run is due, to the microsecond: the queue may hand it over up to a
    /// second early (SQLite keeps whole seconds), and the worker waits until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<DateTime<Utc>>,
    /// Someone waits for the run's end, maybe in another process: its end is announced there too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub awaited: bool,
    /// The request that started the run, or the run's that did (`telemetry::request_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// What a finished attempt leaves in apalis's `last_result` (as `{"Ok": …}`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResult {
    /// `succeeded` or `skipped`.
    pub outcome: String,
    pub output: Option<Value>,
    pub skipped: Option<SkipReason>,
    /// When the attempt began, to the microsecond (the job row's lock time is when it was
    /// fetched, and on SQLite only to the second).
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
}

/// Why an attempt did not succeed; apalis stores the text as `{"Err": …}`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RunError(String);

const BACKOFF_MAX: Duration = Duration::from_secs(3600);

/// The wait after failed attempt `attempt`: `base` doubled per attempt, capped at an hour, plus
/// up to 25 % jitter so runs that failed together don't retry together.
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    let exponential = base.saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1))).min(BACKOFF_MAX);
    let jitter = rand::rng().random_range(0.0..0.25);
    exponential.mul_f64(1.0 + jitter)
}

/// A failed attempt that another attempt follows: its timeline entries (its start, at its real
/// start, and its failure) and when the next attempt runs. The job row keeps only the last
/// attempt, so these are the only attempts written down.
pub struct AttemptRecord {
    started: NewEvent,
    failed: NewEvent,
    retry_at: DateTime<Utc>,
}

/// Writes such records, those of attempts that fail together in one commit (`db::batcher`);
/// each attempt waits for its commit before apalis records the failure, so the next attempt's
/// time is set before apalis would fetch it again.
pub type AttemptRecorder = Batcher<AttemptRecord, ()>;

/// Records per commit at most: more than a worker runs at once.
const RECORDS_PER_COMMIT: usize = 128;
/// Commits at once on PostgreSQL, as for webhook deliveries: one slow commit does not hold up
/// every attempt behind it.
const RECORD_WRITERS: usize = 4;

/// Starts the recorder's writer tasks on the current runtime.
pub fn attempt_recorder(db: DatabaseConnection) -> AttemptRecorder {
    Batcher::start(db, RECORD_WRITERS, RECORDS_PER_COMMIT, |db, records: Vec<AttemptRecord>| async move {
        let count = records.len();
        write_attempts(&db, records).await.map(|()| vec![(); count]).map_err(|err| err.to_string())
    })
}

async fn write_attempts(db: &DatabaseConnection, records: Vec<AttemptRecord>) -> Result<(), DbErr> {
    let txn = begin_write(db).await?;
    for record in &records {
        queue::retry_at(&txn, &record.started.run_id, record.retry_at).await?;
    }
    let timeline: Vec<NewEvent> = records.into_iter().flat_map(|record| [record.started, record.failed]).collect();
    events::record_all(&txn, &timeline).await?;
    txn.commit().await
}

/// One attempt of a run.
struct Attempt<'a> {
    job: &'a JobContext,
    run_id: &'a str,
    number: u32,
    max_attempts: u32,
    started_at: DateTime<Utc>,
}

impl Attempt<'_> {
    fn finish(&self, outcome: Outcome) -> RunResult {
        let started_at = Some(self.started_at);
        match outcome {
            Outcome::Succeeded(output) => RunResult { outcome: "succeeded".into(), output, skipped: None, started_at },
            Outcome::Skipped(reason) => {
                RunResult { outcome: "skipped".into(), output: None, skipped: Some(reason), started_at }
            }
        }
    }

    /// When attempts remain, records the failure and when the next attempt runs, and waits for
    /// that commit.
    async fn failed(&self, error: String) -> RunError {
        if self.number < self.max_attempts {
            let wait = backoff(self.job.config.retry_base, self.number);
            let next = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
            let message =
                format!("Attempt {} failed: {error}. Next attempt at {}", self.number, next.format("%H:%M:%S UTC"));
            let record = AttemptRecord {
                started: NewEvent {
                    run_id: self.run_id.to_owned(),
                    kind: EventKind::Started,
                    message: events::attempt_started(self.number, self.max_attempts),
                    at: self.started_at,
                },
                failed: NewEvent::now(self.run_id, EventKind::AttemptFailed, message),
                retry_at: next,
            };
            if let Err(err) = self.job.attempts.submit(record).await {
                tracing::warn!(run_id = self.run_id, error = %err, "could not record the failed attempt");
            }
        }
        RunError(error)
    }
}

/// Runs one attempt. `attempt` counts from 1. Its log lines carry the run, its workflow and
/// workspace, and the request id it was started under (or its own id, which the runs it starts
/// then carry).
pub async fn execute(job: &JobContext, run_id: &str, attempt: u32, request: RunRequest) -> Result<RunResult, RunError> {
    let request_id = request.request_id.clone().unwrap_or_else(|| run_id.to_owned());
    let workspace_id = request.params.get("workspace_id").and_then(Value::as_str).unwrap_or("");
    let span = tracing::info_span!(
        "run",
        run_id,
        workflow = %request.workflow,
        workspace_id,
        attempt,
        request_id = %request_id
    );
    let work = execute_attempt(job, run_id, attempt, request).instrument(span);
    crate::telemetry::request_id::within(request_id, work).await
}

async fn execute_attempt(
    job: &JobContext,
    run_id: &str,
    attempt: u32,
    request: RunRequest,
) -> Result<RunResult, RunError> {
    let Some(workflow) = job.registry.find(&request.workflow) else {
        return Err(RunError(format!("unknown workflow “{}”", request.workflow)));
    };
    // Only the queue's rounding is waited out; a run handed over much earlier was moved there on
    // purpose (a test's clock, an operator).
    if let Some(wait) = request.not_before.and_then(|due| (due - Utc::now()).to_std().ok())
        && wait <= Duration::from_secs(1)
    {
        tokio::time::sleep(wait).await;
    }
    let workspace_id = match request.params.get("workspace_id").and_then(Value::as_str) {
        Some(ws) if workflow.workspace_scoped() => Some(ws.to_owned()),
        _ => None,
    };
    // The attempt starts once it holds its slot: the run before it has ended by then.
    let begin =
        || Attempt { job, run_id, number: attempt, max_attempts: workflow.max_attempts(), started_at: Utc::now() };
    if let (Some(limit), Some(workspace)) = (workflow.running_per_workspace(), &workspace_id) {
        match take_slot(job, run_id, workspace, workflow.name(), limit).await {
            Ok(Slot::Taken) => {}
            Ok(Slot::Parked) => return Ok(parked(Utc::now())),
            Err(err) => {
                return Err(begin().failed(format!("could not take a slot of the limit per workspace: {err}")).await);
            }
        }
    }
    let current = begin();
    if attempt == 1 {
        started(workflow.name(), run_id, request.not_before, current.started_at);
    }
    let chain_id = request.chain_id.clone().unwrap_or_else(|| run_id.to_owned());
    let awaited = request.awaited;
    let ctx = RunContext::new(job.clone(), run_id.to_owned(), attempt, chain_id, workspace_id.clone());
    let result = attempt_once(&current, workflow, ctx, request.params).await;
    let outcome = match &result {
        Ok(done) if done.outcome == "skipped" => "skipped",
        Ok(_) => "succeeded",
        Err(_) if attempt < workflow.max_attempts() => "retried",
        Err(_) => "failed",
    };
    let ran = (Utc::now() - current.started_at).to_std().unwrap_or_default();
    telemetry::attempt_ended(workflow.name(), outcome, ran);
    job.tallies.count(workflow.name(), outcome, workspace_id.as_deref(), ran, Utc::now());
    tracing::debug!(outcome, ms = ran.as_millis() as u64, "attempt ended");
    if result.is_ok() || attempt >= workflow.max_attempts() {
        announce_end(job, run_id, awaited).await;
    }
    result
}

/// Counts a run's first attempt and how long it waited since it was due: since it was made
/// (its id is a ULID, which carries that time) or, for a run made for later, since that time.
fn started(workflow: &'static str, run_id: &str, not_before: Option<DateTime<Utc>>, at: DateTime<Utc>) {
    let made = ulid::Ulid::from_string(run_id).ok().map(|id| DateTime::<Utc>::from(id.datetime()));
    let due = made.into_iter().chain(not_before).max().unwrap_or(at);
    telemetry::runs_started(workflow, 1);
    telemetry::picked_up(workflow, (at - due).to_std().unwrap_or_default());
}

/// A workflow limited per workspace: takes one of its slots for the run, or parks the run with
/// a timeline entry saying why it waits (`queue::limits`).
async fn take_slot(job: &JobContext, run_id: &str, workspace: &str, workflow: &str, limit: u32) -> Result<Slot, DbErr> {
    let txn = begin_write(&job.db).await?;
    let slot = limits::take_slot(&txn, run_id, workspace, workflow, limit).await?;
    if slot == Slot::Parked {
        events::record(&txn, run_id, EventKind::Waiting, format!("Waiting: {}", limits::reason(limit))).await?;
    }
    txn.commit().await?;
    if slot == Slot::Taken {
        limits::hold(run_id, workspace, workflow);
    }
    Ok(slot)
}

/// What a parked attempt answers apalis with: its acknowledgement is dropped, and the run waits.
fn parked(started_at: DateTime<Utc>) -> RunResult {
    RunResult { outcome: limits::PARKED_OUTCOME.into(), output: None, skipped: None, started_at: Some(started_at) }
}

/// Tells whoever waits for the run that it has ended (see `runs::waiting`).
async fn announce_end(job: &JobContext, run_id: &str, awaited: bool) {
    use super::runs::waiting;
    if awaited && let Err(err) = waiting::announce_to_other_processes(&job.db, run_id).await {
        tracing::warn!(run_id, error = %err, "could not announce the run's end; its waiters will poll");
    }
    waiting::announce(run_id);
}

async fn attempt_once(
    current: &Attempt<'_>,
    workflow: &dyn super::AnyWorkflow,
    ctx: RunContext,
    params: Value,
) -> Result<RunResult, RunError> {
    match tokio::time::timeout(workflow.timeout(), workflow.run(ctx, params)).await {
        Ok(Ok(outcome)) => Ok(current.finish(outcome)),
        Ok(Err(err)) => {
            let missing = err.chain().find_map(|cause| cause.downcast_ref::<WorkspaceMissing>()).map(|m| m.0.clone());
            match missing {
                Some(ws) => {
                    let observed = serde_json::json!({ "workspace_id": ws, "exists": false });
                    Ok(current.finish(Outcome::skipped("the workspace exists", observed)))
                }
                None => Err(current.failed(format!("{err:#}")).await),
            }
        }
        Err(_) => Err(current.failed(format!("timed out after {} s", workflow.timeout().as_secs())).await),
    }
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let base = Duration::from_secs(2);
        let first = backoff(base, 1);
        assert!(first >= Duration::from_secs(2) && first <= Duration::from_millis(2500), "{first:?}");
        let third = backoff(base, 3);
        assert!(third >= Duration::from_secs(8) && third <= Duration::from_secs(10), "{third:?}");
        assert!(backoff(base, 40) <= Duration::from_secs(4500));
    }
}

//! Executing one attempt of a run inside a worker: find the workflow, build its context, run it
//! under its timeout, record what happened, and on failure push the next attempt into the
//! future (exponential backoff with jitter) before apalis records the failure.

use std::time::Duration;

use chrono::Utc;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::events::{self, EventKind};
use super::{Outcome, RunContext, SkipReason};
use crate::jobs::{self, JobContext};
use crate::tenancy::Scope;

/// The job payload apalis stores and hands back to the worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRequest {
    pub workflow: String,
    pub params: Value,
}

/// What a finished attempt leaves in apalis's `last_result` (as `{"Ok": …}`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResult {
    /// `succeeded` or `skipped`.
    pub outcome: String,
    pub output: Option<Value>,
    pub skipped: Option<SkipReason>,
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

/// Runs one attempt. `attempt` counts from 1.
pub async fn execute(job: &JobContext, run_id: &str, attempt: u32, request: RunRequest) -> Result<RunResult, RunError> {
    let fail = |message: String| RunError(message);
    let Some(workflow) = super::find(&request.workflow) else {
        return Err(fail(format!("unknown workflow “{}”", request.workflow)));
    };
    let db = &job.db;
    let _ = events::record(
        db,
        run_id,
        EventKind::Started,
        format!("Attempt {attempt} of {} started", workflow.max_attempts()),
    )
    .await;
    let scope = match request.params.get("workspace_id").and_then(Value::as_str) {
        Some(ws) if workflow.workspace_scoped() => match Scope::system(db, ws).await {
            Ok(scope) => Some(scope),
            Err(crate::error::AppError::NotFound) => {
                let outcome = Outcome::skipped(
                    "the workspace exists",
                    serde_json::json!({ "workspace_id": ws, "exists": false }),
                );
                return Ok(finish(job, run_id, outcome).await);
            }
            Err(err) => {
                return Err(attempt_failed(job, run_id, attempt, workflow.max_attempts(), err.to_string()).await);
            }
        },
        _ => None,
    };
    let chain_id = crate::workflows::runs::get(db, run_id, None)
        .await
        .ok()
        .flatten()
        .and_then(|r| r.chain_id)
        .unwrap_or_else(|| run_id.to_owned());
    let ctx = RunContext::new(db.clone(), job.config.clone(), run_id.to_owned(), attempt, chain_id, scope);
    match tokio::time::timeout(workflow.timeout(), workflow.run(ctx, request.params)).await {
        Ok(Ok(outcome)) => Ok(finish(job, run_id, outcome).await),
        Ok(Err(err)) => Err(attempt_failed(job, run_id, attempt, workflow.max_attempts(), format!("{err:#}")).await),
        Err(_) => {
            let message = format!("timed out after {} s", workflow.timeout().as_secs());
            Err(attempt_failed(job, run_id, attempt, workflow.max_attempts(), message).await)
        }
    }
}

async fn finish(job: &JobContext, run_id: &str, outcome: Outcome) -> RunResult {
    let (kind, message, result) = match outcome {
        Outcome::Succeeded(output) => (
            EventKind::Succeeded,
            "Succeeded".to_owned(),
            RunResult { outcome: "succeeded".into(), output, skipped: None },
        ),
        Outcome::Skipped(reason) => (
            EventKind::Skipped,
            format!("Skipped: “{}” was false (saw {})", reason.condition, reason.observed),
            RunResult { outcome: "skipped".into(), output: None, skipped: Some(reason) },
        ),
    };
    let _ = events::record(&job.db, run_id, kind, message).await;
    result
}

/// Records the failure and, when attempts remain, when the next one runs.
async fn attempt_failed(job: &JobContext, run_id: &str, attempt: u32, max_attempts: u32, error: String) -> RunError {
    if attempt < max_attempts {
        let next = Utc::now() + chrono::Duration::from_std(backoff(job.config.retry_base, attempt)).unwrap_or_default();
        if let Err(err) = jobs::retry_at(&job.db, run_id, next).await {
            tracing::warn!(run_id, error = %err, "could not push the retry into the future");
        }
        let message = format!("Attempt {attempt} failed: {error}. Next attempt at {}", next.format("%H:%M:%S UTC"));
        let _ = events::record(&job.db, run_id, EventKind::AttemptFailed, message).await;
    } else {
        let message = format!("Failed after {attempt} attempts: {error}");
        let _ = events::record(&job.db, run_id, EventKind::Failed, message).await;
    }
    RunError(error)
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

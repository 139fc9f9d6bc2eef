//! `probe`: checks the engine end to end for a workspace. It echoes `value` back as its output,
//! and can sleep, fail its first attempts, or skip, so operators (and the benchmarks and tests)
//! can watch every path a run can take without touching real data. An operator tool: it holds
//! a worker for seconds and fails on purpose, so only platform admins may start it.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Outcome, RunContext, Workflow};

pub struct Probe;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub workspace_id: String,
    /// Returned as the run's output.
    #[serde(default)]
    pub value: Option<Value>,
    /// Milliseconds to wait before answering (at most 6,000; past the 4 s timeout the attempt
    /// fails).
    #[serde(default)]
    pub sleep_ms: u64,
    /// Fail this many attempts before succeeding.
    #[serde(default)]
    pub fail_attempts: u32,
    /// End as skipped ("only when `skip` is false").
    #[serde(default)]
    pub skip: bool,
}

impl Params {
    /// A probe of `workspace_id` that succeeds at once with no output: the no-op run the
    /// benchmarks and tests start by the thousand.
    pub fn noop(workspace_id: &str) -> Params {
        Params { workspace_id: workspace_id.to_owned(), value: None, sleep_ms: 0, fail_attempts: 0, skip: false }
    }
}

impl Workflow for Probe {
    const NAME: &'static str = "probe";
    const DESCRIPTION: &'static str = "Checks the workflow engine end to end: echoes a value, can sleep, fail or skip.";
    const MAX_ATTEMPTS: u32 = 3;
    const TIMEOUT: Duration = Duration::from_secs(4);
    const OPERATOR_ONLY: bool = true;
    type Params = Params;

    async fn run(ctx: RunContext, params: Params) -> anyhow::Result<Outcome> {
        if params.sleep_ms > 0 {
            tokio::time::sleep(Duration::from_millis(params.sleep_ms.min(6_000))).await;
        }
        if ctx.attempt <= params.fail_attempts {
            anyhow::bail!("probe failing attempt {} of the first {} on purpose", ctx.attempt, params.fail_attempts);
        }
        if params.skip {
            return Ok(Outcome::skipped("skip is false", json!({ "skip": true })));
        }
        Ok(Outcome::output(
            json!({ "value": params.value, "attempt": ctx.attempt, "workspace_id": params.workspace_id }),
        ))
    }
}

/// `probe_one_at_a_time`: the probe, at most one running at once per workspace, so operators
/// (and the tests) can watch the limit per workspace hold runs back and release them in turn.
pub struct ProbeOneAtATime;

impl Workflow for ProbeOneAtATime {
    const NAME: &'static str = "probe_one_at_a_time";
    const DESCRIPTION: &'static str = "The probe, one run at a time per workspace: the others wait, queued.";
    const MAX_ATTEMPTS: u32 = Probe::MAX_ATTEMPTS;
    const TIMEOUT: Duration = Probe::TIMEOUT;
    const OPERATOR_ONLY: bool = true;
    const RUNNING_PER_WORKSPACE: Option<u32> = Some(1);
    type Params = Params;

    async fn run(ctx: RunContext, params: Params) -> anyhow::Result<Outcome> {
        Probe::run(ctx, params).await
    }
}

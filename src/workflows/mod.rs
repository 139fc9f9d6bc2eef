//! Backend workflows: server-side logic that runs with no user session. A workflow is one file
//! here (a name, a one-line description, typed parameters whose JSON schema is derived, and an
//! async `run`) plus one line in `registry`. Runs are started through `runs` (now, at a time,
//! with an idempotency key or a business key), executed by the job runtime through `execute`,
//! and read back through `runs::RunView`, whose status comes from the job row alone.

mod context;
pub mod events;
pub mod execute;
pub mod generate_weekly_digest;
mod outcome;
mod registry;
pub mod runs;
pub mod schedules;

pub mod probe;
pub mod process_stripe_event;
pub mod record_workspace_created;
pub mod refresh_all_workspace_health;
pub mod refresh_workspace_health;
pub mod send_email;
pub mod send_sequence_step;
pub mod send_trial_ending_email;

pub use context::RunContext;
pub use execute::{RunRequest, RunResult, execute};
pub use outcome::{Outcome, SkipReason};
pub use registry::{AnyWorkflow, find, registry, startable_in_workspace};
pub use runs::{NewRun, RunStatus, RunView};

use std::future::Future;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// One backend workflow. Implement it on a unit struct in its own file and add that struct to
/// `registry::registry()`.
pub trait Workflow: Send + Sync + 'static {
    /// Unique, snake_case: how the API, the UI and the job rows name it.
    const NAME: &'static str;
    /// One line shown in the UI and the API.
    const DESCRIPTION: &'static str;
    /// Attempts before a run is left failed (retries back off exponentially, with jitter).
    const MAX_ATTEMPTS: u32 = 5;
    /// How long one attempt may take before it counts as failed.
    const TIMEOUT: Duration = Duration::from_secs(60);
    /// Internal workflows are run by Offstage itself and not offered in the API or the UI; their
    /// runs are read-only to tenants.
    const INTERNAL: bool = false;
    /// Operator tools (`probe`): offered to platform admins only, never to API keys or a
    /// workspace's own people, who share the workers with every other workspace.
    const OPERATOR_ONLY: bool = false;

    /// The parameters. A field named `workspace_id` makes the workflow workspace-scoped: its runs
    /// belong to that workspace, and `RunContext::scope` is that workspace's scope.
    type Params: Serialize + DeserializeOwned + JsonSchema + Send + Sync;

    fn run(ctx: RunContext, params: Self::Params) -> impl Future<Output = anyhow::Result<Outcome>> + Send;
}

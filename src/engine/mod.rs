//! The workflow engine, knowing no business: server-side logic that runs with no user session.
//! A workflow is a type implementing `Workflow` (a name, a one-line description, typed
//! parameters whose JSON schema is derived, and an async `run`), kept next to the feature it
//! serves and listed once in `src/registry.rs`, which hands the list to the engine. Runs are
//! started through `runs` (now, at a time, with an idempotency key or a business key), executed
//! by the workers (`queue`, the only module that touches apalis) through `execute`, and read
//! back through `runs::RunView`, whose status comes from the job row alone. `schedules` start
//! them on cron expressions. The engine imports nothing from billing, mail or workspaces.

mod context;
mod error;
pub mod events;
pub mod execute;
mod outcome;
mod priority;
pub mod probe;
pub mod queue;
mod registry;
pub mod runs;
pub mod schedules;
mod services;
pub mod tallies;

pub use context::RunContext;
pub use error::Error;
pub use execute::{RunRequest, RunResult, execute};
pub use outcome::{Outcome, SkipReason};
pub use priority::Priority;
pub use registry::{AnyWorkflow, ParamsError, Registry, workflow};
pub use runs::{NewRun, RunStatus, RunView};
pub use services::Services;

use std::future::Future;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// One backend workflow. Implement it on a unit struct in its own file, next to the feature it
/// serves, and add it to `src/registry.rs`.
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
    /// Which runs go first when more are due than the workers can start (`Priority`).
    const PRIORITY: Priority = Priority::Normal;
    /// At most this many runs at once per workspace, across every worker process (an import:
    /// `Some(1)`). The others wait, queued, and the run page says why (`queue::limits`).
    /// Workspace-scoped workflows only; `None` is no limit.
    const RUNNING_PER_WORKSPACE: Option<u32> = None;

    /// The parameters. A field named `workspace_id` makes the workflow workspace-scoped: its runs
    /// belong to that workspace, and `RunContext::scope` is that workspace's scope.
    type Params: Serialize + DeserializeOwned + JsonSchema + Send + Sync;

    fn run(ctx: RunContext, params: Self::Params) -> impl Future<Output = anyhow::Result<Outcome>> + Send;
}

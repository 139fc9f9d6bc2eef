//! What a running workflow gets: the database, the settings, the services (the mailer, …), who it is (run id, attempt), the
//! workspace scope when its parameters name a workspace (loaded when first asked for), and a way
//! to start other runs.

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

use super::runs::{self, NewRun, RunView};
use super::{Registry, Services};
use crate::config::Config;
use crate::domain::RunId;
use crate::engine::Error;
use crate::engine::queue::JobContext;
use crate::tenancy::{Scope, WorkspaceLoader};

/// The workspace a run's parameters name does not exist: the engine ends the run as skipped
/// ("the workspace exists" was false) instead of failing it.
#[derive(Debug, thiserror::Error)]
#[error("the workspace {0} does not exist")]
pub struct WorkspaceMissing(pub String);

#[derive(Clone)]
pub struct RunContext {
    pub db: DatabaseConnection,
    /// For reads that need not wait for writes: on SQLite they run beside its one writer
    /// connection (`db::readers`) and see what was committed before they began.
    pub read_db: DatabaseConnection,
    pub config: Config,
    /// Every workflow this process knows.
    pub registry: Registry,
    services: Services,
    pub run_id: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The chain this run belongs to (its own id when it starts one).
    pub chain_id: String,
    workspace_id: Option<String>,
    workspaces: WorkspaceLoader,
    starter: runs::Starter,
    scope: tokio::sync::OnceCell<Scope>,
}

impl RunContext {
    /// `workspace_id`: the workspace a workspace-scoped run's parameters name.
    pub(crate) fn new(
        job: JobContext,
        run_id: String,
        attempt: u32,
        chain_id: String,
        workspace_id: Option<String>,
    ) -> Self {
        RunContext {
            db: job.db,
            read_db: job.read_db,
            config: job.config,
            registry: job.registry,
            services: job.services,
            run_id,
            attempt,
            chain_id,
            workspace_id,
            workspaces: job.workspaces,
            starter: job.starter,
            scope: tokio::sync::OnceCell::new(),
        }
    }

    /// The workspace of a workspace-scoped run, loaded on first use (runs that start together
    /// share one query) and kept for the rest of the attempt. A workflow that never asks does
    /// not pay for it. `WorkspaceMissing` when the workspace does not exist.
    pub async fn scope(&self) -> anyhow::Result<&Scope> {
        let Some(id) = &self.workspace_id else {
            anyhow::bail!("this workflow has no workspace_id parameter");
        };
        self.scope
            .get_or_try_init(|| async {
                Scope::system(&self.workspaces, id).await?.ok_or_else(|| WorkspaceMissing(id.clone()).into())
            })
            .await
    }

    /// A service the process was started with (the mailer, …), by type.
    pub fn service<T: Send + Sync + 'static>(&self) -> anyhow::Result<&T> {
        self.services.get::<T>()
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    /// Starts another run (several runs' concurrent starts share a commit).
    pub async fn start(&self, new: NewRun) -> Result<RunView, Error> {
        self.starter.start(new).await
    }

    /// Continues this run's chain with `next` (the same workflow with the next cursor, say). A
    /// retried attempt does not start a second continuation.
    pub async fn continue_chain(&self, next: NewRun) -> Result<RunView, Error> {
        let next = next.continuing(self.chain_id.clone()).idempotency_key(format!("continuation:{}", self.run_id));
        self.starter.start(next).await
    }

    /// One run per item, in one transaction, the n-th starting `spacing × n` from now. Items
    /// whose idempotency key already has a run are skipped, so a retried attempt fans out once.
    pub async fn fan_out(&self, items: Vec<NewRun>, spacing: Option<std::time::Duration>) -> Result<Vec<RunId>, Error> {
        runs::fan_out(&self.db, items, spacing).await
    }
}

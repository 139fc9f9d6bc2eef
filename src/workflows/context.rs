//! What a running workflow gets: the database, the settings, who it is (run id, attempt), the
//! workspace scope when its parameters name a workspace, and a way to start other runs.

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

use super::runs::{self, NewRun, RunView};
use crate::config::Config;
use crate::error::AppError;
use crate::tenancy::Scope;

#[derive(Clone)]
pub struct RunContext {
    pub db: DatabaseConnection,
    pub config: Config,
    pub run_id: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The chain this run belongs to (its own id when it starts one).
    pub chain_id: String,
    scope: Option<Scope>,
}

impl RunContext {
    pub(crate) fn new(
        db: DatabaseConnection,
        config: Config,
        run_id: String,
        attempt: u32,
        chain_id: String,
        scope: Option<Scope>,
    ) -> Self {
        RunContext { db, config, run_id, attempt, chain_id, scope }
    }

    /// The workspace of a workspace-scoped run.
    pub fn scope(&self) -> anyhow::Result<&Scope> {
        self.scope.as_ref().ok_or_else(|| anyhow::anyhow!("this workflow has no workspace_id parameter"))
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    /// Starts another run (or this workflow's continuation, with `NewRun::continuing`).
    pub async fn start(&self, new: NewRun) -> Result<RunView, AppError> {
        runs::start(&self.db, new).await
    }
}

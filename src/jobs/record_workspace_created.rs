//! `RecordWorkspaceCreated`: writes the first entry of a new workspace's activity log. Small on
//! purpose: it proves the queue end to end (enqueued in the creating transaction, run by a
//! worker, visible on the overview page).

use serde::{Deserialize, Serialize};

use super::{Job, JobContext};
use crate::tenancy::{ActivityKind, Scope};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordWorkspaceCreated {
    pub workspace_id: String,
    pub created_by: String,
}

impl Job for RecordWorkspaceCreated {
    const QUEUE: &'static str = "record_workspace_created";
}

impl RecordWorkspaceCreated {
    pub async fn run(self, ctx: &JobContext) -> anyhow::Result<()> {
        let scope = match Scope::system(&ctx.db, &self.workspace_id).await {
            Ok(scope) => scope,
            // The workspace was deleted before the job ran: nothing left to record.
            Err(crate::error::AppError::NotFound) => return Ok(()),
            Err(err) => return Err(anyhow::anyhow!("loading workspace {}: {err}", self.workspace_id)),
        };
        // A retried run must not log the creation twice.
        if scope.has_activity(&ctx.db, ActivityKind::WorkspaceCreated).await? {
            return Ok(());
        }
        let name = scope.workspace().name.clone();
        scope
            .record_activity(
                &ctx.db,
                ActivityKind::WorkspaceCreated,
                format!("Workspace “{name}” was created by {}", self.created_by),
            )
            .await?;
        Ok(())
    }
}

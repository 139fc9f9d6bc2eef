//! `record_workspace_created`: writes the first entry of a new workspace's activity log. Small on
//! purpose: started in the creating transaction, run by a worker, visible on the overview page,
//! it proves the engine end to end. Internal: not offered in the API or the UI.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::engine::{Outcome, RunContext, Workflow};
use crate::tenancy::ActivityKind;

pub struct RecordWorkspaceCreated;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Params {
    pub workspace_id: String,
    pub created_by: String,
}

impl Workflow for RecordWorkspaceCreated {
    const NAME: &'static str = "record_workspace_created";
    const DESCRIPTION: &'static str = "Records a new workspace's creation in its activity log.";
    const INTERNAL: bool = true;
    type Params = Params;

    async fn run(ctx: RunContext, params: Params) -> anyhow::Result<Outcome> {
        let scope = ctx.scope().await?;
        // A retried run must not log the creation twice.
        if scope.has_activity(&ctx.db, ActivityKind::WorkspaceCreated).await? {
            return Ok(Outcome::skipped("the creation is not recorded yet", serde_json::json!({ "recorded": true })));
        }
        let name = scope.workspace().name.clone();
        let message = format!("Workspace “{name}” was created by {}", params.created_by);
        scope.record_activity(&ctx.db, ActivityKind::WorkspaceCreated, message).await?;
        Ok(Outcome::done())
    }
}

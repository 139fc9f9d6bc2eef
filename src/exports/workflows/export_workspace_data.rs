//! `export_workspace_data {workspace_id, export_id}`: a workspace's own data as a ZIP of CSV
//! files (members, invitations, API keys, runs of the last 90 days, emails, invoices,
//! activity), 1,000 rows per run of one chain. Started by Offstage when an owner asks on the
//! workspace's Export page; one at a time per workspace.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::engine::{NewRun, Outcome, Priority, RunContext, Workflow};
use crate::exports::Source;
use crate::exports::record::{self, Kind, NewExport};
use crate::exports::step::{self, Position};
use crate::storage::Storage;

pub struct ExportWorkspaceData;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub workspace_id: String,
    pub export_id: String,
    /// Where the chain stands (set by the chain itself).
    #[serde(default)]
    pub at: Position,
}

/// The export row for a new export of `workspace`'s data, asked for by `user_id`.
pub fn new_export(workspace: &crate::db::entities::workspace::Model, user_id: &str) -> NewExport {
    NewExport {
        kind: Kind::WorkspaceData,
        workspace_id: Some(workspace.id.clone()),
        format: "zip",
        requested_by: Some(user_id.to_owned()),
        file_name: format!("{}-data-{}.zip", workspace.slug, chrono::Utc::now().format("%Y-%m-%d")),
    }
}

impl Workflow for ExportWorkspaceData {
    const NAME: &'static str = "export_workspace_data";
    const DESCRIPTION: &'static str = "Writes a workspace's own data as a ZIP of CSV files, 1,000 rows per run.";
    const PRIORITY: Priority = Priority::Bulk;
    const INTERNAL: bool = true;
    const RUNNING_PER_WORKSPACE: Option<u32> = Some(1);
    type Params = Params;

    async fn run(ctx: RunContext, params: Params) -> anyhow::Result<Outcome> {
        let scope = ctx.scope().await?.clone();
        let export = record::find_in(&ctx.db, &scope, &params.export_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the workspace has no export {}", params.export_id))?;
        let storage = ctx.service::<Storage>()?;
        let source = Source::workspace_data(scope, export.created_at);
        let done = step::step(&ctx.db, storage, &export, &source, params.at, ctx.config.export_expiry_days).await?;
        if let Some(at) = done.next.clone() {
            let next = Params { workspace_id: params.workspace_id, export_id: export.id.clone(), at };
            ctx.continue_chain(NewRun::of::<ExportWorkspaceData>(&next)).await?;
        }
        Ok(Outcome::output(json!({
            "export_id": export.id,
            "progress": { "processed": done.processed, "total": done.total },
            "continues": done.next.is_some(),
        })))
    }
}

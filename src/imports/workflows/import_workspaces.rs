//! `import_workspaces {import_id}`: makes the workspaces of an uploaded CSV (customers moved from
//! another system), 100 lines per run of one chain (`imports::workspaces`), until none is left or
//! the import is cancelled. Global (the workspaces do not exist yet) and internal: started by
//! Offstage when a platform admin confirms an import, at bulk priority with its owner
//! invitations, so it never delays other work of any workspace.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::db::entities::import;
use crate::engine::runs::{self, RunView};
use crate::engine::{NewRun, Outcome, Priority, RunContext, Workflow};
use crate::imports::{record, workspaces};

pub struct ImportWorkspaces;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub import_id: String,
}

/// Starts the chain of `import` (already `running`), started by `trigger` (`ui`).
pub async fn start(
    db: &sea_orm::DatabaseConnection,
    import: &import::Model,
    trigger: &'static str,
) -> Result<RunView, crate::engine::Error> {
    let params = Params { import_id: import.id.clone() };
    let started = runs::start(db, NewRun::of::<ImportWorkspaces>(&params).trigger(trigger)).await?;
    record::attach_run(db, &import.id, started.id.as_str()).await?;
    Ok(started)
}

impl Workflow for ImportWorkspaces {
    const NAME: &'static str = "import_workspaces";
    const DESCRIPTION: &'static str =
        "Makes the workspaces of an uploaded CSV file (Platform → Imports), 100 lines per run.";
    const PRIORITY: Priority = Priority::Bulk;
    const INTERNAL: bool = true;
    type Params = Params;

    async fn run(ctx: RunContext, params: Params) -> anyhow::Result<Outcome> {
        let progress = workspaces::next_batch(&ctx.db, &params.import_id, &ctx.config).await?;
        if progress.more {
            ctx.continue_chain(NewRun::of::<ImportWorkspaces>(&params)).await?;
        }
        Ok(Outcome::output(json!({
            "import_id": params.import_id,
            "progress": { "processed": progress.processed, "total": progress.total },
            "continues": progress.more,
        })))
    }
}

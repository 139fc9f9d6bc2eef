//! `import_members {workspace_id, import_id}`: invites the people of an uploaded CSV, 100 lines
//! per run of one chain (`imports::members`), until none is left or the import is cancelled.
//! Started by Offstage when an import is confirmed or posted to the API, at bulk priority (its
//! invitation emails too), so an import never delays other work of any workspace. Its batches
//! take turns on the import's row, so they never overlap.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::db::entities::import;
use crate::engine::runs::{self, RunView};
use crate::engine::{NewRun, Outcome, Priority, RunContext, Workflow};
use crate::imports::{members, record};

pub struct ImportMembers;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub workspace_id: String,
    pub import_id: String,
}

/// Starts the chain of `import` (already `running`), started by `trigger` (`ui`, `api`).
pub async fn start(
    db: &sea_orm::DatabaseConnection,
    import: &import::Model,
    trigger: &'static str,
) -> Result<RunView, crate::engine::Error> {
    let workspace_id = import.workspace_id.clone().unwrap_or_default();
    let params = Params { workspace_id, import_id: import.id.clone() };
    let started = runs::start(db, NewRun::of::<ImportMembers>(&params).trigger(trigger)).await?;
    record::attach_run(db, &import.id, started.id.as_str()).await?;
    Ok(started)
}

impl Workflow for ImportMembers {
    const NAME: &'static str = "import_members";
    const DESCRIPTION: &'static str = "Invites the people of an uploaded CSV file, 100 lines per run.";
    const PRIORITY: Priority = Priority::Bulk;
    const INTERNAL: bool = true;
    type Params = Params;

    async fn run(ctx: RunContext, params: Params) -> anyhow::Result<Outcome> {
        let scope = ctx.scope().await?;
        let progress = members::next_batch(&ctx.db, scope, &params.import_id, &ctx.config).await?;
        if progress.more {
            ctx.continue_chain(NewRun::of::<ImportMembers>(&params)).await?;
        }
        Ok(Outcome::output(json!({
            "import_id": params.import_id,
            "progress": { "processed": progress.processed, "total": progress.total },
            "continues": progress.more,
        })))
    }
}

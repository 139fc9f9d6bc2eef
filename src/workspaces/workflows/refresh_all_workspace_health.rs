//! `refresh_all_workspace_health`: the daily global job. It walks every workspace in batches of
//! 100 — each run fans out one `refresh_workspace_health` run per workspace of its batch, then
//! continues the chain with the next cursor — so no single run is long, and the chain shows its
//! progress as one job.

use schemars::JsonSchema;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::refresh_workspace_health::{self, RefreshWorkspaceHealth};
use crate::db::entities::workspace;
use crate::engine::{NewRun, Outcome, Priority, RunContext, Workflow};

pub struct RefreshAllWorkspaceHealth;

pub const BATCH: u64 = 100;

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The id of the last workspace handled by the previous run of the chain.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Workspaces handled by the chain so far.
    #[serde(default)]
    pub processed: u64,
}

impl Workflow for RefreshAllWorkspaceHealth {
    const NAME: &'static str = "refresh_all_workspace_health";
    const DESCRIPTION: &'static str = "Refreshes every workspace's health score, 100 workspaces per run, as one chain.";
    const PRIORITY: Priority = Priority::Bulk;
    const INTERNAL: bool = true;
    type Params = Params;

    async fn run(ctx: RunContext, params: Params) -> anyhow::Result<Outcome> {
        let mut query = workspace::Entity::find().order_by_asc(workspace::Column::Id).limit(BATCH);
        if let Some(cursor) = &params.cursor {
            query = query.filter(workspace::Column::Id.gt(cursor.as_str()));
        }
        let batch = query.all(&ctx.db).await?;
        let total = workspace::Entity::find().count(&ctx.db).await?;
        let items: Vec<NewRun> = batch
            .iter()
            .map(|ws| {
                let params = refresh_workspace_health::Params { workspace_id: ws.id.clone() };
                NewRun::of::<RefreshWorkspaceHealth>(&params)
                    .idempotency_key(format!("health:{}:{}", ctx.run_id, ws.id))
                    .trigger("fan_out")
            })
            .collect();
        ctx.fan_out(items, None).await?;
        let processed = params.processed + batch.len() as u64;
        let next = batch.last().map(|ws| ws.id.clone()).filter(|_| batch.len() as u64 == BATCH);
        if let Some(cursor) = &next {
            let params = Params { cursor: Some(cursor.clone()), processed };
            ctx.continue_chain(NewRun::of::<RefreshAllWorkspaceHealth>(&params)).await?;
        }
        Ok(Outcome::output(json!({
            "progress": { "processed": processed, "total": total },
            "batch": batch.len(),
            "continues": next.is_some(),
        })))
    }
}

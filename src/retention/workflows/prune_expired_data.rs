//! `prune_expired_data`: removes what has outlived its retention (`OFFSTAGE_RETENTION_*`). A
//! built-in schedule runs it daily; `offstage prune` does the same at once. What it removes is
//! gone for good, so a retried attempt just finds less to do.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::engine::{Outcome, Priority, RunContext, Workflow};

pub struct PruneExpiredData;

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {}

impl Workflow for PruneExpiredData {
    const NAME: &'static str = "prune_expired_data";
    const DESCRIPTION: &'static str =
        "Removes finished runs, Stripe event payloads, email bodies and sign-in records past their retention.";
    const PRIORITY: Priority = Priority::Bulk;
    const INTERNAL: bool = true;
    type Params = Params;

    async fn run(ctx: RunContext, _params: Params) -> anyhow::Result<Outcome> {
        let pruned = crate::retention::prune(&ctx.db, &ctx.config.retention, ctx.now()).await?;
        Ok(Outcome::output(serde_json::to_value(pruned)?))
    }
}

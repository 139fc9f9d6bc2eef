//! `calculate_monthly_revenue {month: "YYYY-MM"}`: the month's revenue per workspace, 100
//! workspaces per run of one chain (`revenue::calculate`). Global; run again for any month
//! (the same rows come out). A built-in schedule computes last month on the 1st at 02:00 UTC,
//! where no month is given.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::billing::catch_up::catch_up;
use crate::domain::Month;
use crate::engine::{NewRun, Outcome, Priority, RunContext, Workflow};
use crate::revenue::calculate;

pub struct CalculateMonthlyRevenue;

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// `YYYY-MM` (a UTC calendar month); last month when omitted.
    #[serde(default)]
    pub month: Option<String>,
    /// The id of the last workspace handled by the previous run of the chain.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Workspaces handled by the chain so far.
    #[serde(default)]
    pub processed: u64,
}

impl Workflow for CalculateMonthlyRevenue {
    const NAME: &'static str = "calculate_monthly_revenue";
    const DESCRIPTION: &'static str = "Computes a month's revenue per workspace and currency (gross, refunded, net, invoices, MRR), 100 workspaces per run.";
    const PRIORITY: Priority = Priority::Bulk;
    const OPERATOR_ONLY: bool = true;
    type Params = Params;

    async fn run(ctx: RunContext, params: Params) -> anyhow::Result<Outcome> {
        let month = match &params.month {
            Some(text) => Month::parse(text).map_err(anyhow::Error::msg)?,
            None => Month::last(ctx.now()),
        };
        if params.cursor.is_none() {
            catch_up(&ctx.db, &ctx.config.stripe).await?;
        }
        let done = calculate::batch(&ctx.db, month, params.cursor.as_deref()).await?;
        let processed = params.processed + done.workspaces;
        let total = calculate::workspace_count(&ctx.read_db).await?.max(processed);
        match done.next_cursor() {
            Some(cursor) => {
                let params = Params { month: Some(month.to_string()), cursor: Some(cursor.to_owned()), processed };
                ctx.continue_chain(NewRun::of::<CalculateMonthlyRevenue>(&params)).await?;
            }
            None => calculate::finish(&ctx.db, month, processed).await?,
        }
        Ok(Outcome::output(json!({
            "month": month.to_string(),
            "progress": { "processed": processed, "total": total },
            "batch": done.workspaces,
            "continues": done.next_cursor().is_some(),
        })))
    }
}

//! `trial_ending_reminder`: runs three days before a workspace's trial ends (scheduled, and
//! rescheduled when the trial end moves, by `billing::apply`). Only when the workspace is still
//! trialing with that end date; records the reminder in the workspace's activity log.

use chrono::{DateTime, Duration, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{NewRun, Outcome, RunContext, Workflow};
use crate::domain::SubscriptionStatus;
use crate::tenancy::ActivityKind;

pub struct TrialEndingReminder;

/// How long before the trial's end the reminder runs.
pub const LEAD: Duration = Duration::days(3);

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Params {
    pub workspace_id: String,
    /// The trial end this reminder is about (RFC 3339).
    pub trial_ends_at: DateTime<Utc>,
}

/// The business key of a workspace's pending reminder: cancelled and replaced when the date moves.
pub fn business_key(workspace_id: &str) -> String {
    format!("trial_ending:{workspace_id}")
}

/// The reminder run for a trial ending at `trial_ends_at` (runs `LEAD` before it).
pub fn reminder(workspace_id: &str, trial_ends_at: DateTime<Utc>) -> NewRun {
    let params = Params { workspace_id: workspace_id.to_owned(), trial_ends_at };
    NewRun::of::<TrialEndingReminder>(&params)
        .at(trial_ends_at - LEAD)
        .business_key(business_key(workspace_id))
        .trigger("billing")
}

impl Workflow for TrialEndingReminder {
    const NAME: &'static str = "trial_ending_reminder";
    const DESCRIPTION: &'static str = "Reminds a trialing workspace three days before its trial ends.";
    const INTERNAL: bool = true;
    type Params = Params;

    async fn run(ctx: RunContext, params: Params) -> anyhow::Result<Outcome> {
        let scope = ctx.scope()?;
        let ws = scope.workspace();
        if ws.status() != SubscriptionStatus::Trialing || ws.trial_ends_at != Some(params.trial_ends_at) {
            return Ok(Outcome::skipped(
                "the workspace is still trialing with this trial end",
                json!({ "subscription_status": ws.subscription_status, "trial_ends_at": ws.trial_ends_at }),
            ));
        }
        let when = ws.tz().format(params.trial_ends_at);
        scope.record_activity(&ctx.db, ActivityKind::TrialEnding, format!("Trial ends {when}: reminder sent")).await?;
        Ok(Outcome::done())
    }
}

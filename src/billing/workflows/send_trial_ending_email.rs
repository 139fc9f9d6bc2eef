//! `send_trial_ending_email`: emails a trialing workspace's owners and admins three days before
//! the trial ends. Scheduled (and rescheduled when the trial end moves) by `schedule_for`, and
//! also raised by Stripe's `customer.subscription.trial_will_end`; the outbox's dedupe key (the
//! workspace and the trial end) makes it one email per trial and person whatever the trigger.

use chrono::{DateTime, Duration, Utc};
use schemars::JsonSchema;
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::billing::Error;
use crate::db::begin_write;
use crate::domain::SubscriptionStatus;
use crate::engine::{NewRun, Outcome, Priority, RunContext, Workflow, runs};
use crate::mail::templates::{Email, TrialEnding};
use crate::mail::{self, Links, outbox};
use crate::tenancy::ActivityKind;

pub struct SendTrialEndingEmail;

/// How long before the trial's end the email goes out.
pub const LEAD: Duration = Duration::days(3);

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Params {
    pub workspace_id: String,
    /// The trial end this email is about (RFC 3339).
    pub trial_ends_at: DateTime<Utc>,
}

/// The business key of a workspace's pending email: cancelled and replaced when the date moves.
pub fn business_key(workspace_id: &str) -> String {
    format!("trial_ending:{workspace_id}")
}

/// The email's run for a trial ending at `trial_ends_at` (runs `LEAD` before it).
pub fn reminder(workspace_id: &str, trial_ends_at: DateTime<Utc>) -> NewRun {
    let params = Params { workspace_id: workspace_id.to_owned(), trial_ends_at };
    NewRun::of::<SendTrialEndingEmail>(&params)
        .at(trial_ends_at - LEAD)
        .business_key(business_key(workspace_id))
        .trigger("trial")
}

/// Replaces the workspace's pending trial-ending email with one for `trial_ends_at` (none when
/// the trial is over or gone), inside the caller's transaction.
pub async fn schedule_for<C: ConnectionTrait>(
    txn: &C,
    workspace_id: &str,
    trial_ends_at: Option<DateTime<Utc>>,
) -> Result<(), Error> {
    runs::cancel_by_business_key_in(txn, workspace_id, &business_key(workspace_id), "a new trial end").await?;
    if let Some(ends) = trial_ends_at.filter(|t| *t > Utc::now()) {
        runs::start_in(txn, &reminder(workspace_id, ends)).await?;
    }
    Ok(())
}

impl Workflow for SendTrialEndingEmail {
    const NAME: &'static str = "send_trial_ending_email";
    const DESCRIPTION: &'static str =
        "Emails a trialing workspace's owners and admins three days before the trial ends.";
    const PRIORITY: Priority = Priority::Urgent;
    const INTERNAL: bool = true;
    type Params = Params;

    async fn run(ctx: RunContext, params: Params) -> anyhow::Result<Outcome> {
        let scope = ctx.scope().await?;
        let ws = scope.workspace();
        if ws.status() != SubscriptionStatus::Trialing || ws.trial_ends_at != Some(params.trial_ends_at) {
            return Ok(Outcome::skipped(
                "the workspace is still trialing with this trial end",
                json!({ "subscription_status": ws.subscription_status, "trial_ends_at": ws.trial_ends_at }),
            ));
        }
        let tz = ws.tz();
        let left = params.trial_ends_at - ctx.now();
        let email = TrialEnding {
            workspace_name: ws.name.clone(),
            ends_at: tz.format(params.trial_ends_at),
            // Rounded up: 2 days 23 hours reads as 3 days.
            days_left: (left.num_hours() + 23).div_euclid(24).max(0),
            billing_url: Links::new(&ctx.config, ws).billing,
        };
        let txn = begin_write(&ctx.db).await?;
        let recipients = mail::managers(&txn, &ws.id).await?;
        let prefix = format!("trial_ending:{}:{}", ws.id, params.trial_ends_at.timestamp());
        let emails =
            mail::compose(&ctx.config, ws, &recipients, &prefix, (TrialEnding::KIND, TrialEnding::CATEGORY), |f| {
                email.render(f)
            })?;
        let queued = outbox::enqueue_in(&txn, &emails, &mail::from_domain(&ctx.config)).await?;
        if !queued.is_empty() {
            let when = tz.format(params.trial_ends_at);
            let what = format!("Trial ends {when}: reminder emailed to {}", recipients.join(", "));
            scope.record_activity(&txn, ActivityKind::TrialEnding, what).await?;
        }
        txn.commit().await?;
        Ok(Outcome::output(json!({ "emails": queued.len(), "recipients": recipients })))
    }
}

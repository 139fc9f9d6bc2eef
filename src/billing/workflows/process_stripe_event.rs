//! `process_stripe_event`: applies one Stripe event from the inbox to its workspace (see
//! `billing::apply`). Started by the webhook in the transaction that records the event, and by
//! a replay. Internal: not offered in the API or the UI.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::billing::StripeApi;
use crate::billing::apply::{Applied, apply, subscription_to_refresh};
use crate::engine::{Outcome, Priority, RunContext, Workflow};

pub struct ProcessStripeEvent;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Params {
    /// The Stripe event id (`evt_…`).
    pub event_id: String,
}

impl Workflow for ProcessStripeEvent {
    const NAME: &'static str = "process_stripe_event";
    const DESCRIPTION: &'static str = "Applies a Stripe webhook event to its workspace's subscription state.";
    const PRIORITY: Priority = Priority::Urgent;
    const MAX_ATTEMPTS: u32 = 3;
    const INTERNAL: bool = true;
    type Params = Params;

    async fn run(ctx: RunContext, params: Params) -> anyhow::Result<Outcome> {
        // Only with an API key is the event read first, to know which subscription to fetch.
        let subscription = match StripeApi::from_settings(&ctx.config.stripe) {
            Some(api) => subscription_to_refresh(&ctx.db, &params.event_id).await?.map(|id| (api, id)),
            None => None,
        };
        let latest = match subscription {
            Some((api, subscription)) => match api.subscription(&subscription).await {
                Ok(latest) => Some(latest),
                Err(err) => {
                    // Stripe unreachable: the event's own copy is still a valid, ordered state.
                    tracing::warn!(event = %params.event_id, error = %err, "reading the subscription from Stripe failed; applying the event's copy");
                    None
                }
            },
            None => None,
        };
        match apply(&ctx.db, &ctx.config.stripe, &params.event_id, latest.as_ref()).await? {
            Applied::Processed { workspace_id, summary } => {
                Ok(Outcome::output(json!({ "workspace_id": workspace_id, "result": summary })))
            }
            Applied::Unmatched { customer } => Ok(Outcome::skipped(
                "the event matches a workspace (by Stripe customer or metadata.workspace_id)",
                json!({ "customer": customer }),
            )),
            Applied::Ignored => {
                Ok(Outcome::skipped("Offstage acts on this event type", json!({ "event_id": params.event_id })))
            }
            Applied::AlreadyDone(status) => {
                Ok(Outcome::skipped("the event is still waiting to be processed", json!({ "status": status.as_str() })))
            }
            Applied::Failed(reason) => Err(anyhow::anyhow!(reason)),
        }
    }
}

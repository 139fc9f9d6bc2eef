//! `send_sequence_step`: one step of an email sequence for one enrolment. It stops the sequence
//! when its stop rule holds (conversion, payment), skips the step when the step's condition is
//! false, and otherwise puts the step's email in the outbox, in the same transaction as moving
//! the enrolment on.

use schemars::JsonSchema;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::db::begin_write;
use crate::db::entities::enrolment;
use crate::domain::EnrolmentStatus;
use crate::engine::{Outcome, Priority, RunContext, Workflow};
use crate::mail::sequences::{self, Audience, Facts};
use crate::mail::{self, Links, outbox};

pub struct SendSequenceStep;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Params {
    pub workspace_id: String,
    pub enrolment_id: String,
    /// The step's name within the sequence.
    pub step: String,
}

impl Workflow for SendSequenceStep {
    const NAME: &'static str = "send_sequence_step";
    const DESCRIPTION: &'static str =
        "Sends one step of an email sequence (onboarding, dunning) when its condition holds.";
    const PRIORITY: Priority = Priority::Urgent;
    const INTERNAL: bool = true;
    type Params = Params;

    async fn run(ctx: RunContext, params: Params) -> anyhow::Result<Outcome> {
        let ws = ctx.scope().await?.workspace().clone();
        let Some(found) = enrolment::Entity::find_by_id(params.enrolment_id.as_str())
            .filter(enrolment::Column::WorkspaceId.eq(&ws.id))
            .one(&ctx.db)
            .await?
        else {
            return Ok(Outcome::skipped("the enrolment exists", json!({ "enrolment_id": params.enrolment_id })));
        };
        let sequence =
            sequences::find(&found.sequence).ok_or_else(|| anyhow::anyhow!("unknown sequence “{}”", found.sequence))?;
        let step = sequence
            .step(&params.step)
            .ok_or_else(|| anyhow::anyhow!("sequence {} has no step “{}”", sequence.name, params.step))?;
        if found.status() != EnrolmentStatus::Active {
            return Ok(Outcome::skipped(
                "the enrolment is active",
                json!({ "status": found.status, "stopped_reason": found.stopped_reason }),
            ));
        }
        let facts = Facts::load(&ctx.db, ws.clone(), &found).await?;
        let txn = begin_write(&ctx.db).await?;
        if let Some(reason) = (sequence.stop_when)(&facts) {
            sequences::stop(&txn, &ws.id, sequence.name, reason).await?;
            txn.commit().await?;
            let mut observed = facts.observed();
            observed["stopped_because"] = json!(reason);
            return Ok(Outcome::skipped("nothing has stopped the sequence", observed));
        }
        if !(step.holds)(&facts) {
            sequences::advance(&txn, found, sequence, step, false).await?;
            txn.commit().await?;
            return Ok(Outcome::skipped(step.only_when, facts.observed()));
        }
        let recipients = match sequence.audience {
            Audience::Subject => found.subject.iter().cloned().collect(),
            Audience::Managers => mail::managers(&txn, &ws.id).await?,
        };
        let links = Links::new(&ctx.config, &ws);
        let emails = mail::compose(
            &ctx.config,
            &ws,
            &recipients,
            &format!("{}:{}", found.key, step.name),
            (step.kind, sequence.category),
            |footer| (step.render)(&facts, &links, footer),
        )?;
        let queued = outbox::enqueue_in(&txn, &emails, &mail::from_domain(&ctx.config)).await?;
        sequences::advance(&txn, found, sequence, step, true).await?;
        txn.commit().await?;
        Ok(Outcome::output(json!({ "sequence": sequence.name, "step": step.name, "emails": queued.len() })))
    }
}

//! Email sequences (drips): a sequence is one file listing its steps (delay after enrolment,
//! email, "only when" condition) and what stops it. Enrolling a workspace writes the enrolment and
//! schedules every step as a `send_sequence_step` run under the business key `enrolment:{id}`,
//! so stopping (conversion, payment, unsubscribe) cancels all pending steps at once. Each step
//! checks the stop rule and its own condition again when it runs.

pub mod dunning;
pub mod onboarding;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};

use super::Links;
use super::templates::{Footer, Rendered};
use crate::db::entities::{enrolment, invoice, membership, workspace};
use crate::domain::{EnrolmentStatus, Money, PublicId};
use crate::engine::runs::{self, NewRun};
use crate::mail::Error;
use crate::mail::workflows::send_sequence_step::{self, SendSequenceStep};
use crate::tenancy::Scope;

/// What a step's condition and a sequence's stop rule look at, read when the step runs.
pub struct Facts {
    pub workspace: workspace::Model,
    pub member_count: u64,
    /// The enrolment's subject (the person for onboarding, the invoice for dunning).
    pub subject: Option<String>,
    /// For dunning: the failed invoice has been paid since.
    pub invoice_paid: bool,
    /// For dunning: what the failed invoice asked for, as billing handed it over at enrolment.
    pub amount_due: Option<Money>,
}

impl Facts {
    pub async fn load<C: ConnectionTrait>(
        db: &C,
        ws: workspace::Model,
        enrolled: &enrolment::Model,
    ) -> Result<Facts, Error> {
        let member_count =
            membership::Entity::find().filter(membership::Column::WorkspaceId.eq(&ws.id)).count(db).await?;
        let invoice_paid = match &enrolled.subject {
            Some(id) if id.starts_with("in_") => invoice::Entity::find_by_id(id.as_str()).one(db).await?.is_some(),
            _ => false,
        };
        Ok(Facts {
            workspace: ws,
            member_count,
            subject: enrolled.subject.clone(),
            invoice_paid,
            amount_due: enrolled.amount_due(),
        })
    }

    /// Converted to a paid plan (`SubscriptionStatus::is_paid_conversion`).
    pub fn converted(&self) -> bool {
        self.workspace.status().is_paid_conversion(&self.workspace.plan)
    }

    pub fn observed(&self) -> serde_json::Value {
        serde_json::json!({
            "subscription_status": self.workspace.subscription_status,
            "plan": self.workspace.plan,
            "members": self.member_count,
            "invoice_paid": self.invoice_paid,
        })
    }
}

/// An enrolment to make: its key (unique: one per workspace and subject), what it is about,
/// and for dunning the amount the emails name.
pub struct Enrolment {
    pub key: String,
    pub subject: Option<String>,
    pub amount_due: Option<Money>,
}

pub struct Step {
    pub name: &'static str,
    /// After the enrolment started.
    pub after: Duration,
    /// The condition in words, as a skipped run shows it.
    pub only_when: &'static str,
    pub holds: fn(&Facts) -> bool,
    pub render: fn(&Facts, &Links, &Footer) -> askama::Result<Rendered>,
    pub kind: &'static str,
}

/// Who gets a sequence's emails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The enrolment's subject: the person who created the workspace.
    Subject,
    /// Every owner and admin of the workspace.
    Managers,
}

pub struct Sequence {
    pub name: &'static str,
    pub title: &'static str,
    pub steps: &'static [Step],
    /// Why the sequence should stop now, if it should.
    pub stop_when: fn(&Facts) -> Option<&'static str>,
    pub audience: Audience,
    pub category: super::Category,
}

pub const ALL: &[&Sequence] = &[&onboarding::ONBOARDING, &dunning::DUNNING];

pub fn find(name: &str) -> Option<&'static Sequence> {
    ALL.iter().copied().find(|s| s.name == name)
}

impl Sequence {
    pub fn step(&self, name: &str) -> Option<&'static Step> {
        self.steps.iter().find(|s| s.name == name)
    }
}

pub fn business_key(enrolment_id: &str) -> String {
    format!("enrolment:{enrolment_id}")
}

/// Enrols the workspace (once per key) and schedules every step, in the caller's transaction.
/// Returns false when that enrolment already existed.
pub async fn enrol_in<C: ConnectionTrait>(
    txn: &C,
    sequence: &Sequence,
    workspace_id: &str,
    enrolling: Enrolment,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let Enrolment { key, subject, amount_due } = enrolling;
    if enrolment::Entity::find().filter(enrolment::Column::Key.eq(&key)).one(txn).await?.is_some() {
        return Ok(false);
    }
    let id = PublicId::generate("enr");
    enrolment::ActiveModel {
        id: Set(id.clone()),
        workspace_id: Set(workspace_id.to_owned()),
        sequence: Set(sequence.name.to_owned()),
        key: Set(key),
        subject: Set(subject),
        status: Set(EnrolmentStatus::Active.as_str().into()),
        steps_sent: Set(0),
        last_step: Set(None),
        next_step_at: Set(sequence.steps.first().map(|s| now + s.after)),
        stopped_reason: Set(None),
        amount_due: Set(amount_due.as_ref().map(Money::minor)),
        currency: Set(amount_due.as_ref().map(|money| money.currency().to_owned())),
        started_at: Set(now),
        updated_at: Set(now),
    }
    .insert(txn)
    .await?;
    let steps: Vec<NewRun> = sequence
        .steps
        .iter()
        .map(|step| {
            let params = send_sequence_step::Params {
                workspace_id: workspace_id.to_owned(),
                enrolment_id: id.clone(),
                step: step.name.to_owned(),
            };
            NewRun::of::<SendSequenceStep>(&params)
                .at(now + step.after)
                .business_key(business_key(&id))
                .trigger("sequence")
        })
        .collect();
    runs::start_all_in(txn, &steps).await?;
    Ok(true)
}

/// Stops the workspace's active enrolments in `sequence` and cancels their pending steps.
pub async fn stop<C: ConnectionTrait>(txn: &C, workspace_id: &str, sequence: &str, reason: &str) -> Result<u64, Error> {
    let active = enrolment::Entity::find()
        .filter(enrolment::Column::WorkspaceId.eq(workspace_id))
        .filter(enrolment::Column::Sequence.eq(sequence))
        .filter(enrolment::Column::Status.eq(EnrolmentStatus::Active.as_str()))
        .all(txn)
        .await?;
    stop_all(txn, active, reason).await
}

/// Stops every active lifecycle enrolment whose subject is `email` (after an unsubscribe).
pub async fn stop_for_recipient<C: ConnectionTrait>(txn: &C, email: &str, reason: &str) -> Result<u64, Error> {
    let lifecycle: Vec<&str> =
        ALL.iter().filter(|s| s.category == super::Category::Lifecycle).map(|s| s.name).collect();
    let active = enrolment::Entity::find()
        .filter(enrolment::Column::Subject.eq(email.to_lowercase()))
        .filter(enrolment::Column::Sequence.is_in(lifecycle))
        .filter(enrolment::Column::Status.eq(EnrolmentStatus::Active.as_str()))
        .all(txn)
        .await?;
    stop_all(txn, active, reason).await
}

async fn stop_all<C: ConnectionTrait>(txn: &C, enrolments: Vec<enrolment::Model>, reason: &str) -> Result<u64, Error> {
    let count = enrolments.len() as u64;
    for found in enrolments {
        runs::cancel_by_business_key_in(txn, &found.workspace_id, &business_key(&found.id), reason).await?;
        let mut active: enrolment::ActiveModel = found.into();
        active.status = Set(EnrolmentStatus::Stopped.as_str().into());
        active.stopped_reason = Set(Some(reason.to_owned()));
        active.next_step_at = Set(None);
        active.updated_at = Set(Utc::now());
        active.update(txn).await?;
    }
    Ok(count)
}

/// Records that `step` ran (sent or skipped): the step reached, and when the next one is due.
pub async fn advance<C: ConnectionTrait>(
    txn: &C,
    found: enrolment::Model,
    sequence: &Sequence,
    step: &Step,
    sent: bool,
) -> Result<(), Error> {
    let index = sequence.steps.iter().position(|s| s.name == step.name).unwrap_or(0);
    let next = sequence.steps.get(index + 1).map(|s| found.started_at + s.after);
    let steps_sent = found.steps_sent + i32::from(sent);
    let mut active: enrolment::ActiveModel = found.into();
    active.steps_sent = Set(steps_sent);
    active.last_step = Set(Some(step.name.to_owned()));
    active.next_step_at = Set(next);
    if next.is_none() {
        active.status = Set(EnrolmentStatus::Completed.as_str().into());
    }
    active.updated_at = Set(Utc::now());
    active.update(txn).await?;
    Ok(())
}

/// The workspace's enrolments, newest first.
pub async fn for_workspace<C: ConnectionTrait>(db: &C, scope: &Scope) -> Result<Vec<enrolment::Model>, Error> {
    Ok(enrolment::Entity::find()
        .filter(enrolment::Column::WorkspaceId.eq(scope.workspace_id()))
        .order_by_desc(enrolment::Column::StartedAt)
        .all(db)
        .await?)
}

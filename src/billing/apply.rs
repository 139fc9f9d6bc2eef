//! Applies one recorded Stripe event to its workspace. Order-proof: every subscription event
//! carries an order key (Stripe's `created`, then the event kind, then the event id), the
//! workspace keeps the key of the state it shows, and an update only lands when its key is
//! newer — one conditional UPDATE, atomic on both databases. Whatever order events arrive in,
//! the workspace ends in the state of the newest one.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, QueryFilter, Statement,
};
use serde_json::Value;

use super::envelope::{Envelope, id_of, timestamp};
use super::inbox::{EventStatus, set_status};
use super::payments;
use crate::billing::Error;
use crate::billing::workflows::send_trial_ending_email;
use crate::config::StripeSettings;
use crate::db::entities::{stripe_event, workspace};
use crate::db::{begin_write, is_unique_violation};
use crate::domain::{Money, SubscriptionStatus};
use crate::engine::runs;
use crate::mail::sequences::{self, Enrolment, dunning, onboarding};

/// What applying an event did.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// Applied to the workspace; the words say what changed.
    Processed { workspace_id: String, summary: String },
    /// No workspace matches the event's customer or metadata.
    Unmatched { customer: Option<String> },
    /// A type Offstage does not act on.
    Ignored,
    /// Already processed, ignored or unmatched before this attempt.
    AlreadyDone(EventStatus),
    /// Can't be applied; the event is marked failed with this reason.
    Failed(String),
}

/// What an event Offstage acts on carries.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// Carries a subscription object: its state becomes the workspace's (if newest).
    Subscription {
        rank: u8,
    },
    /// Carries a customer object: links it to the workspace its metadata names.
    Customer,
    CheckoutCompleted,
    InvoicePaid,
    InvoicePaymentFailed,
    /// Carries a charge: the part of it refunded since the last event is a refund.
    ChargeRefunded,
    /// Carries a credit note: what it refunded outside Stripe is a refund.
    CreditNote,
}

/// The event types Offstage acts on, each with what it carries. Within one second, a
/// subscription's creation sorts before its updates, and its deletion after them (`order_key`).
const KINDS: [(&str, Kind); 14] = [
    ("customer.created", Kind::Customer),
    ("customer.updated", Kind::Customer),
    ("checkout.session.completed", Kind::CheckoutCompleted),
    ("customer.subscription.created", Kind::Subscription { rank: 0 }),
    ("customer.subscription.updated", Kind::Subscription { rank: 1 }),
    ("customer.subscription.deleted", Kind::Subscription { rank: 2 }),
    ("customer.subscription.paused", Kind::Subscription { rank: 1 }),
    ("customer.subscription.resumed", Kind::Subscription { rank: 1 }),
    ("customer.subscription.trial_will_end", Kind::Subscription { rank: 1 }),
    ("invoice.paid", Kind::InvoicePaid),
    ("invoice.payment_succeeded", Kind::InvoicePaid),
    ("invoice.payment_failed", Kind::InvoicePaymentFailed),
    ("charge.refunded", Kind::ChargeRefunded),
    ("credit_note.created", Kind::CreditNote),
];

fn kind(event_type: &str) -> Option<Kind> {
    KINDS.iter().find(|(name, _)| *name == event_type).map(|(_, kind)| *kind)
}

/// The Stripe customer an event is about: a customer event's own object, else the object's
/// `customer` field.
fn customer_of(event: &Envelope) -> Option<String> {
    match kind(&event.event_type) {
        Some(Kind::Customer) => event.id_at("id"),
        _ => event.id_at("customer"),
    }
}

/// The event types `apply` acts on (the inbox's filter lists them).
pub fn handled_types() -> impl Iterator<Item = &'static str> {
    KINDS.iter().map(|(name, _)| *name)
}

/// The subscription whose current state should be read from the Stripe API before applying
/// `event_id` (when a key is configured): the event's own copy may already be outdated.
pub async fn subscription_to_refresh(
    db: &DatabaseConnection,
    event_id: &str,
) -> Result<Option<String>, sea_orm::DbErr> {
    let Some(row) = stripe_event::Entity::find_by_id(event_id).one(db).await? else {
        return Ok(None);
    };
    let Ok(event) = Envelope::parse(row.payload.as_bytes()) else {
        return Ok(None);
    };
    Ok(match kind(&event.event_type) {
        Some(Kind::Subscription { .. }) => event.id_at("id"),
        _ => None,
    })
}

/// Applies the recorded event `event_id` and records the outcome on it, in one transaction.
/// `latest` is the subscription as the Stripe API returned it just before, when it was read:
/// its state is applied instead of the event's copy (the event's time still orders it).
pub async fn apply(
    db: &DatabaseConnection,
    settings: &StripeSettings,
    event_id: &str,
    latest: Option<&Value>,
) -> Result<Applied, Error> {
    let txn = begin_write(db).await?;
    let Some(row) = stripe_event::Entity::find_by_id(event_id).one(&txn).await? else {
        return Ok(Applied::Failed(format!("event {event_id} is not in the inbox")));
    };
    let status = EventStatus::parse(&row.status).unwrap_or(EventStatus::Failed);
    // An event an older version ignored is applied once this one acts on its type (`catch_up`).
    let ignored_but_handled = status == EventStatus::Ignored && kind(&row.event_type).is_some();
    if !matches!(status, EventStatus::Received | EventStatus::Failed) && !ignored_but_handled {
        return Ok(Applied::AlreadyDone(status));
    }
    let applied = match Envelope::parse(row.payload.as_bytes()) {
        Ok(event) => apply_event(&txn, settings, &event, latest).await,
        Err(reason) => Err(Problem::Data(reason)),
    };
    let applied = match applied {
        Ok(applied) => applied,
        Err(Problem::Failed(err)) => return Err(err),
        Err(Problem::Data(reason)) => {
            // The partial work rolls back; only the failure is recorded, with the workspace it
            // belongs to when that is known, so the workspace's billing timeline shows it.
            txn.rollback().await?;
            let txn = begin_write(db).await?;
            let workspace = match Envelope::parse(row.payload.as_bytes()) {
                Ok(event) => match find_workspace(&txn, &event, customer_of(&event).as_deref()).await {
                    Ok(found) => found.map(|ws| ws.id),
                    Err(Problem::Failed(err)) => return Err(err),
                    Err(Problem::Data(_)) => None,
                },
                Err(_) => None,
            };
            set_status(&txn, event_id, EventStatus::Failed, Some(&reason), workspace.as_deref()).await?;
            txn.commit().await?;
            return Ok(Applied::Failed(reason));
        }
    };
    match &applied {
        Applied::Processed { workspace_id, .. } => {
            set_status(&txn, event_id, EventStatus::Processed, None, Some(workspace_id)).await?
        }
        Applied::Unmatched { .. } => set_status(&txn, event_id, EventStatus::Unmatched, None, None).await?,
        Applied::Ignored => set_status(&txn, event_id, EventStatus::Ignored, None, None).await?,
        Applied::AlreadyDone(_) | Applied::Failed(_) => {}
    }
    txn.commit().await?;
    Ok(applied)
}

pub(super) enum Problem {
    /// The event can't be applied as it is: recorded as failed.
    Data(String),
    /// The database, or starting or cancelling runs, failed: the attempt fails and is retried.
    Failed(Error),
}

impl<E: Into<Error>> From<E> for Problem {
    fn from(err: E) -> Self {
        Problem::Failed(err.into())
    }
}

async fn apply_event(
    txn: &DatabaseTransaction,
    settings: &StripeSettings,
    event: &Envelope,
    latest: Option<&Value>,
) -> Result<Applied, Problem> {
    let Some(kind) = kind(&event.event_type) else {
        return Ok(Applied::Ignored);
    };
    let customer = customer_of(event);
    let Some(workspace) = find_workspace(txn, event, customer.as_deref()).await? else {
        return Ok(Applied::Unmatched { customer });
    };
    if let Some(customer) = &customer {
        link_customer(txn, &workspace, customer).await?;
    }
    let summary = match kind {
        Kind::Subscription { rank } => {
            let sub = latest.filter(|latest| id_of(&latest["id"]) == event.id_at("id")).unwrap_or(&event.object);
            apply_subscription(txn, settings, &workspace, event, sub, rank).await?
        }
        Kind::Customer => format!("customer {} linked", customer.as_deref().unwrap_or("—")),
        Kind::CheckoutCompleted => {
            let subscription = event.id_at("subscription");
            if let Some(subscription) = &subscription
                && workspace.stripe_subscription_id.is_none()
            {
                execute(
                    txn,
                    "UPDATE workspaces SET stripe_subscription_id = $1 WHERE id = $2",
                    [subscription.clone().into(), workspace.id.clone().into()],
                )
                .await?;
            }
            format!("checkout completed (customer {})", customer.as_deref().unwrap_or("—"))
        }
        Kind::InvoicePaid => {
            let summary = payments::record_invoice(txn, &workspace.id, event).await?;
            sequences::stop(txn, &workspace.id, dunning::DUNNING.name, "the invoice was paid").await?;
            summary
        }
        Kind::InvoicePaymentFailed => {
            let amount = Money::new(
                event.object["amount_due"].as_i64().unwrap_or(0),
                event.object["currency"].as_str().unwrap_or(""),
            );
            let invoice = event.id_at("id").unwrap_or_else(|| event.id.clone());
            let enrolment = Enrolment {
                key: dunning::key(&workspace.id, &invoice),
                subject: Some(invoice),
                amount_due: Some(amount.clone()),
            };
            sequences::enrol_in(txn, &dunning::DUNNING, &workspace.id, enrolment, Utc::now()).await?;
            format!("payment of {amount} failed")
        }
        Kind::ChargeRefunded => payments::record_charge_refund(txn, &workspace.id, event).await?,
        Kind::CreditNote => payments::record_credit_note(txn, &workspace.id, event).await?,
    };
    Ok(Applied::Processed { workspace_id: workspace.id, summary })
}

/// The workspace an event belongs to: the one linked to its Stripe customer, else the one its
/// metadata (or a checkout session's client_reference_id) names.
async fn find_workspace(
    txn: &DatabaseTransaction,
    event: &Envelope,
    customer: Option<&str>,
) -> Result<Option<workspace::Model>, Problem> {
    if let Some(customer) = customer
        && let Some(found) =
            workspace::Entity::find().filter(workspace::Column::StripeCustomerId.eq(customer)).one(txn).await?
    {
        return Ok(Some(found));
    }
    let named = [
        event.metadata_workspace_id(),
        event.object["client_reference_id"].as_str().map(str::to_owned),
        event.object["subscription_details"]["metadata"]["workspace_id"].as_str().map(str::to_owned),
        event.object["parent"]["subscription_details"]["metadata"]["workspace_id"].as_str().map(str::to_owned),
    ];
    for id in named.into_iter().flatten() {
        if let Some(found) = workspace::Entity::find_by_id(id).one(txn).await? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// Remembers the customer on the workspace the first time an event names both.
async fn link_customer(txn: &DatabaseTransaction, workspace: &workspace::Model, customer: &str) -> Result<(), Problem> {
    match &workspace.stripe_customer_id {
        Some(linked) if linked == customer => Ok(()),
        Some(linked) => Err(Problem::Data(format!(
            "workspace {} is linked to Stripe customer {linked}, but this event is for customer {customer}",
            workspace.id
        ))),
        None => {
            let linked = execute(
                txn,
                "UPDATE workspaces SET stripe_customer_id = $1 WHERE id = $2 AND stripe_customer_id IS NULL",
                [customer.into(), workspace.id.clone().into()],
            )
            .await;
            match linked {
                Err(Problem::Failed(Error::Database(err))) if is_unique_violation(&err) => {
                    Err(Problem::Data(format!("Stripe customer {customer} is already linked to another workspace")))
                }
                other => other.map(|_| ()),
            }
        }
    }
}

/// Makes the subscription's state the workspace's, unless a newer event already did.
async fn apply_subscription(
    txn: &DatabaseTransaction,
    settings: &StripeSettings,
    workspace: &workspace::Model,
    event: &Envelope,
    sub: &Value,
    rank: u8,
) -> Result<String, Problem> {
    let status = sub["status"].as_str().ok_or_else(|| Problem::Data("subscription has no status".into()))?;
    let status = SubscriptionStatus::parse(status).map_err(Problem::Data)?;
    let price = first_item(sub)
        .and_then(|item| id_of(&item["price"]).or_else(|| id_of(&item["plan"])))
        .or_else(|| id_of(&sub["plan"]));
    let plan = price.as_deref().map(|price| settings.plan_for(price)).unwrap_or_else(|| workspace.plan.clone());
    let time_at = |value: &Value| value.as_i64().and_then(timestamp);
    let trial_ends_at = time_at(&sub["trial_end"]);
    let period_end = time_at(&sub["current_period_end"])
        .or_else(|| first_item(sub).and_then(|item| time_at(&item["current_period_end"])));
    let cancel_at_period_end = sub["cancel_at_period_end"].as_bool().unwrap_or(false);
    let key = order_key(event.created, rank, &event.id);
    let updated = execute(
        txn,
        "UPDATE workspaces SET subscription_status = $1, plan = $2, trial_ends_at = $3, current_period_end = $4, \
         cancel_at_period_end = $5, stripe_subscription_id = $6, billing_event_key = $7 \
         WHERE id = $8 AND (billing_event_key IS NULL OR billing_event_key < $7)",
        [
            status.as_str().into(),
            plan.clone().into(),
            trial_ends_at.into(),
            period_end.into(),
            cancel_at_period_end.into(),
            id_of(&sub["id"]).into(),
            key.into(),
            workspace.id.clone().into(),
        ],
    )
    .await?;
    if updated == 0 {
        return Ok("older than the subscription state already applied; kept the newer state".into());
    }
    if trial_ends_at != workspace.trial_ends_at {
        send_trial_ending_email::schedule_for(txn, &workspace.id, trial_ends_at).await?;
    }
    if status.is_paid_conversion(&plan) {
        sequences::stop(txn, &workspace.id, onboarding::ONBOARDING.name, "the workspace converted to a paid plan")
            .await?;
    }
    if event.event_type == "customer.subscription.trial_will_end"
        && let Some(ends) = trial_ends_at
    {
        // Stripe's own 3-day warning: the same email as the scheduled one (same dedupe key).
        runs::start_in(txn, &send_trial_ending_email::reminder(&workspace.id, ends).at(Utc::now())).await?;
    }
    Ok(format!("subscription {} on plan {plan}", status.as_str()))
}

/// Sorts by Stripe's `created` (whole seconds), then created < updated < deleted within one
/// second, then by event id so that every order of arrival picks the same winner.
fn order_key(created: DateTime<Utc>, rank: u8, event_id: &str) -> String {
    format!("{:012}:{rank}:{event_id}", created.timestamp().max(0))
}

fn first_item(sub: &Value) -> Option<&Value> {
    sub["items"]["data"].as_array().and_then(|items| items.first())
}

pub(super) async fn execute<const N: usize>(
    txn: &DatabaseTransaction,
    sql: &str,
    values: [sea_orm::Value; N],
) -> Result<u64, Problem> {
    let backend = txn.get_database_backend();
    Ok(txn.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await?.rows_affected())
}

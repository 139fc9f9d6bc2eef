//! The Stripe events inbox. `receive` records a verified delivery and the run that will process
//! it in one transaction, so a 2xx answer means both are durable; a repeated delivery only counts
//! itself. `replay` hands a failed or unmatched event to a new run.

use std::collections::HashSet;

use chrono::Utc;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};

use super::Envelope;
use crate::billing::Error;
use crate::billing::workflows::process_stripe_event::{self, ProcessStripeEvent};
use crate::db::begin_write;
use crate::db::entities::stripe_event;
use crate::engine::{NewRun, runs};
use crate::tenancy::{Platform, Reach};

/// Where an event stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStatus {
    /// Recorded; its run has not finished it yet.
    Received,
    Processed,
    /// Could not be applied; `error` says why. Can be replayed.
    Failed,
    /// Matches no workspace yet. Can be replayed once a workspace is linked.
    Unmatched,
    /// A type Offstage does not act on; kept for the record.
    Ignored,
}

impl EventStatus {
    pub const ALL: [EventStatus; 5] = [
        EventStatus::Received,
        EventStatus::Processed,
        EventStatus::Failed,
        EventStatus::Unmatched,
        EventStatus::Ignored,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Received => "received",
            EventStatus::Processed => "processed",
            EventStatus::Failed => "failed",
            EventStatus::Unmatched => "unmatched",
            EventStatus::Ignored => "ignored",
        }
    }

    pub fn parse(input: &str) -> Option<EventStatus> {
        EventStatus::ALL.into_iter().find(|s| s.as_str() == input)
    }

    pub fn can_replay(self) -> bool {
        matches!(self, EventStatus::Failed | EventStatus::Unmatched)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// First delivery: recorded, with the id of the run that will process it.
    New { run_id: String },
    /// Seen before: only the delivery count changed.
    Duplicate,
}

/// Records a verified event and queues its processing, atomically.
pub async fn receive(db: &DatabaseConnection, event: &Envelope, raw: &str) -> Result<Received, Error> {
    let mut received = receive_all(db, &[(event, raw)]).await?;
    Ok(received.remove(0))
}

/// Records several verified events in one transaction (one commit for all: see `intake`), each
/// with its processing run: one multi-row INSERT for the events, one for their runs (on
/// PostgreSQL all of it is one statement: `inbox_postgres`). A repeated event id, even within
/// the batch, only counts a delivery.
pub async fn receive_all(db: &DatabaseConnection, events: &[(&Envelope, &str)]) -> Result<Vec<Received>, Error> {
    if db.get_database_backend() == DbBackend::Postgres {
        return super::inbox_postgres::receive_all(db, events).await;
    }
    let txn = begin_write(db).await?;
    let inserted = insert_new(&txn, events).await?;
    // The first occurrence of an inserted id is the new one; any other occurrence is a repeat.
    let mut seen = HashSet::new();
    let is_new: Vec<bool> =
        events.iter().map(|(e, _)| inserted.contains(&e.id) && seen.insert(e.id.as_str())).collect();
    let mut fresh = Vec::new();
    for ((event, _), new) in events.iter().zip(&is_new) {
        if *new {
            fresh.push(processing_run(&event.id, 0));
        } else {
            txn.execute_raw(Statement::from_sql_and_values(
                txn.get_database_backend(),
                "UPDATE stripe_events SET deliveries = deliveries + 1 WHERE id = $1",
                [event.id.clone().into()],
            ))
            .await?;
        }
    }
    let mut run_ids = runs::start_all_in(&txn, &fresh).await?.into_iter();
    txn.commit().await?;
    Ok(is_new
        .into_iter()
        .map(|new| match new.then(|| run_ids.next()).flatten() {
            Some(run_id) => Received::New { run_id: run_id.into_string() },
            None => Received::Duplicate,
        })
        .collect())
}

/// Inserts the events whose id is not in the inbox yet; returns the ids inserted.
async fn insert_new<C: ConnectionTrait>(txn: &C, events: &[(&Envelope, &str)]) -> Result<HashSet<String>, Error> {
    let mut values: Vec<sea_orm::Value> = vec![EventStatus::Received.as_str().into(), Utc::now().into()];
    let mut rows = Vec::with_capacity(events.len());
    for (event, raw) in events {
        let n = values.len();
        rows.push(format!("(${}, ${}, ${}, ${}, ${}, $1, 1, $2)", n + 1, n + 2, n + 3, n + 4, n + 5));
        values.extend([
            event.id.clone().into(),
            event.event_type.clone().into(),
            event.api_version.clone().into(),
            event.created.into(),
            (*raw).into(),
        ]);
    }
    let sql = format!(
        "INSERT INTO stripe_events (id, event_type, api_version, stripe_created_at, payload, status, deliveries, received_at) \
         VALUES {} ON CONFLICT (id) DO NOTHING RETURNING id",
        rows.join(", ")
    );
    let returned = txn.query_all_raw(Statement::from_sql_and_values(txn.get_database_backend(), sql, values)).await?;
    returned.iter().map(|row| row.try_get::<String>("", "id").map_err(Error::from)).collect()
}

pub(super) fn processing_run(event_id: &str, replay: u64) -> NewRun {
    let params = process_stripe_event::Params { event_id: event_id.to_owned() };
    let key = if replay == 0 { format!("stripe:{event_id}") } else { format!("stripe:{event_id}:replay:{replay}") };
    NewRun::of::<ProcessStripeEvent>(&params)
        .idempotency_key(key)
        .business_key(format!("stripe:{event_id}"))
        .trigger("stripe")
}

/// Hands a failed or unmatched event to a new run (an operator's action). Returns false when
/// the event is in another state (processed, ignored, or already waiting).
pub async fn replay(db: &DatabaseConnection, _platform: &Platform, event_id: &str) -> Result<bool, Error> {
    let txn = begin_write(db).await?;
    let Some(event) = stripe_event::Entity::find_by_id(event_id).one(&txn).await? else {
        return Err(Error::NotFound);
    };
    if !EventStatus::parse(&event.status).is_some_and(EventStatus::can_replay) {
        return Ok(false);
    }
    let replays = crate::db::entities::workflow_run::Entity::find()
        .filter(crate::db::entities::workflow_run::Column::BusinessKey.eq(format!("stripe:{event_id}")))
        .count(&txn)
        .await?;
    set_status(&txn, event_id, EventStatus::Received, None, event.workspace_id.as_deref()).await?;
    runs::start_in(&txn, &processing_run(event_id, replays)).await?;
    txn.commit().await?;
    Ok(true)
}

/// Replays every failed (or unmatched) event, oldest first; returns how many were queued.
pub async fn replay_all(db: &DatabaseConnection, platform: &Platform, status: EventStatus) -> Result<u64, Error> {
    let ids: Vec<String> = stripe_event::Entity::find()
        .select_only()
        .column(stripe_event::Column::Id)
        .filter(stripe_event::Column::Status.eq(status.as_str()))
        .order_by_asc(stripe_event::Column::StripeCreatedAt)
        .into_tuple()
        .all(db)
        .await?;
    let mut queued = 0;
    for id in ids {
        if replay(db, platform, &id).await? {
            queued += 1;
        }
    }
    Ok(queued)
}

/// Records where an event stands after an attempt to apply it.
pub async fn set_status<C: ConnectionTrait>(
    db: &C,
    event_id: &str,
    status: EventStatus,
    error: Option<&str>,
    workspace_id: Option<&str>,
) -> Result<(), sea_orm::DbErr> {
    let processed_at = (status != EventStatus::Received).then(Utc::now);
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        "UPDATE stripe_events SET status = $1, error = $2, workspace_id = $3, processed_at = $4 WHERE id = $5",
        [
            status.as_str().into(),
            error.map(str::to_owned).into(),
            workspace_id.map(str::to_owned).into(),
            processed_at.into(),
            event_id.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// The newest events `reach` sees first, optionally of one status and type.
pub async fn list<'a>(
    db: &DatabaseConnection,
    reach: impl Into<Reach<'a>>,
    status: Option<EventStatus>,
    event_type: Option<&str>,
    limit: u64,
) -> Result<Vec<stripe_event::Model>, Error> {
    let mut query = stripe_event::Entity::find();
    if let Some(status) = status {
        query = query.filter(stripe_event::Column::Status.eq(status.as_str()));
    }
    if let Some(event_type) = event_type {
        query = query.filter(stripe_event::Column::EventType.eq(event_type));
    }
    if let Some(workspace_id) = reach.into().workspace_id() {
        query = query.filter(stripe_event::Column::WorkspaceId.eq(workspace_id));
    }
    Ok(query
        .order_by_desc(stripe_event::Column::StripeCreatedAt)
        .order_by_desc(stripe_event::Column::ReceivedAt)
        .limit(limit)
        .all(db)
        .await?)
}

/// One event, for the platform's inbox.
pub async fn get(db: &DatabaseConnection, _platform: &Platform, id: &str) -> Result<stripe_event::Model, Error> {
    stripe_event::Entity::find_by_id(id).one(db).await?.ok_or(Error::NotFound)
}

/// How many events are in each status.
pub async fn counts(db: &DatabaseConnection, _platform: &Platform) -> Result<Vec<(EventStatus, u64)>, Error> {
    let mut counts = Vec::with_capacity(EventStatus::ALL.len());
    for status in EventStatus::ALL {
        let n = stripe_event::Entity::find().filter(stripe_event::Column::Status.eq(status.as_str())).count(db).await?;
        counts.push((status, n));
    }
    Ok(counts)
}

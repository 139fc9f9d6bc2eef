//! The append-only timeline of each run. Events explain; they never decide a run's status.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use crate::db::entities::run_event;

#[derive(Debug, Clone, Copy)]
pub enum EventKind {
    Created,
    Started,
    Succeeded,
    Skipped,
    AttemptFailed,
    Failed,
    Cancelled,
    Retried,
    /// Parked by a limit per workspace until a slot frees.
    Waiting,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::Started => "started",
            EventKind::Succeeded => "succeeded",
            EventKind::Skipped => "skipped",
            EventKind::AttemptFailed => "attempt_failed",
            EventKind::Failed => "failed",
            EventKind::Cancelled => "cancelled",
            EventKind::Retried => "retried",
            EventKind::Waiting => "waiting",
        }
    }
}

/// One timeline entry to write.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub run_id: String,
    pub kind: EventKind,
    pub message: String,
    pub at: DateTime<Utc>,
}

impl NewEvent {
    /// An event that happens now.
    pub fn now(run_id: impl Into<String>, kind: EventKind, message: impl Into<String>) -> NewEvent {
        NewEvent { run_id: run_id.into(), kind, message: message.into(), at: Utc::now() }
    }
}

/// "Attempt 2 of 5 started".
pub fn attempt_started(number: impl std::fmt::Display, max_attempts: impl std::fmt::Display) -> String {
    format!("Attempt {number} of {max_attempts} started")
}

pub async fn record<C: ConnectionTrait>(
    db: &C,
    run_id: &str,
    kind: EventKind,
    message: impl Into<String>,
) -> Result<(), DbErr> {
    record_all(db, &[NewEvent::now(run_id, kind, message)]).await
}

/// Several events in one statement.
pub async fn record_all<C: ConnectionTrait>(db: &C, events: &[NewEvent]) -> Result<(), DbErr> {
    if events.is_empty() {
        return Ok(());
    }
    let rows = events.iter().map(|event| run_event::ActiveModel {
        run_id: Set(event.run_id.clone()),
        kind: Set(event.kind.as_str().to_owned()),
        message: Set(event.message.clone()),
        at: Set(event.at),
        ..Default::default()
    });
    run_event::Entity::insert_many(rows).exec(db).await.map(|_| ())
}

pub async fn for_run<C: ConnectionTrait>(db: &C, run_id: &str) -> Result<Vec<run_event::Model>, DbErr> {
    run_event::Entity::find()
        .filter(run_event::Column::RunId.eq(run_id))
        .order_by_asc(run_event::Column::Id)
        .all(db)
        .await
}

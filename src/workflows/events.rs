//! The append-only timeline of each run. Events explain; they never decide a run's status.

use chrono::Utc;
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
        }
    }
}

pub async fn record<C: ConnectionTrait>(
    db: &C,
    run_id: &str,
    kind: EventKind,
    message: impl Into<String>,
) -> Result<(), DbErr> {
    record_at(db, run_id, kind, message, Utc::now()).await
}

/// An event that happened at `at` (written later, with the attempt's ending).
pub async fn record_at<C: ConnectionTrait>(
    db: &C,
    run_id: &str,
    kind: EventKind,
    message: impl Into<String>,
    at: chrono::DateTime<Utc>,
) -> Result<(), DbErr> {
    run_event::Entity::insert(run_event::ActiveModel {
        run_id: Set(run_id.to_owned()),
        kind: Set(kind.as_str().to_owned()),
        message: Set(message.into()),
        at: Set(at),
        ..Default::default()
    })
    .exec(db)
    .await
    .map(|_| ())
}

/// Several events that happen now, in one statement: (run id, kind, message).
pub async fn record_all<C: ConnectionTrait>(db: &C, events: &[(String, EventKind, String)]) -> Result<(), DbErr> {
    if events.is_empty() {
        return Ok(());
    }
    let at = Utc::now();
    let rows = events.iter().map(|(run_id, kind, message)| run_event::ActiveModel {
        run_id: Set(run_id.clone()),
        kind: Set(kind.as_str().to_owned()),
        message: Set(message.clone()),
        at: Set(at),
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

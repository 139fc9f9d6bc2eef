//! A run's timeline: the events written down (attempts that failed and were retried,
//! cancellations, retries by hand) between those read off the run's own rows (its creation, and
//! its current or last attempt), which are never written twice.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use serde::Serialize;

use super::super::events::{self, EventKind, NewEvent};
use super::{RunStatus, RunView};
use crate::db::entities::run_event;
use crate::engine::Error;

/// One line of a run's timeline.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    pub kind: String,
    pub message: String,
}

impl From<run_event::Model> for TimelineEntry {
    fn from(event: run_event::Model) -> TimelineEntry {
        TimelineEntry { at: event.at, kind: event.kind, message: event.message }
    }
}

impl From<NewEvent> for TimelineEntry {
    fn from(event: NewEvent) -> TimelineEntry {
        TimelineEntry { at: event.at, kind: event.kind.as_str().to_owned(), message: event.message }
    }
}

/// A run's timeline, oldest first.
pub async fn timeline<C: ConnectionTrait>(db: &C, run: &RunView) -> Result<Vec<TimelineEntry>, Error> {
    let written = events::for_run(db, &run.id).await?;
    let mut entries = vec![created(run).into()];
    entries.extend(written.into_iter().map(TimelineEntry::from));
    entries.extend(last_attempt(run).into_iter().map(TimelineEntry::from));
    Ok(entries)
}

fn created(run: &RunView) -> NewEvent {
    let when = if run.requested_for > run.created_at {
        format!("Scheduled for {}", run.requested_for.format("%Y-%m-%d %H:%M:%S UTC"))
    } else {
        "Queued".to_owned()
    };
    event(run, run.created_at, EventKind::Created, format!("{when} (trigger: {})", run.trigger))
}

fn event(run: &RunView, at: DateTime<Utc>, kind: EventKind, message: String) -> NewEvent {
    NewEvent { run_id: run.id.to_string(), kind, message, at }
}

/// The current or last attempt as the job row tells it: its start and, when it has ended, how.
/// Nothing while the run waits (a failed attempt before a retry is written down). A retry by
/// hand writes these down first, as it replaces the job row's account of the attempt.
pub(super) fn last_attempt(run: &RunView) -> Vec<NewEvent> {
    let number = match run.status {
        RunStatus::Running => run.attempts + 1,
        RunStatus::Succeeded | RunStatus::Skipped | RunStatus::Failed => run.attempts,
        RunStatus::Scheduled | RunStatus::Queued | RunStatus::Cancelled => return Vec::new(),
    };
    let mut entries = Vec::with_capacity(2);
    if let Some(at) = run.started_at {
        let message = events::attempt_started(number, run.max_attempts);
        entries.push(event(run, at, EventKind::Started, message));
    }
    let ending = match run.status {
        RunStatus::Succeeded => Some((EventKind::Succeeded, "Succeeded".to_owned())),
        RunStatus::Skipped => Some((
            EventKind::Skipped,
            match &run.skipped {
                Some(reason) => format!("Skipped: “{}” was false (saw {})", reason.condition, reason.observed),
                None => "Skipped".to_owned(),
            },
        )),
        RunStatus::Failed => {
            let plural = if number == 1 { "" } else { "s" };
            let error = run.error.as_deref().unwrap_or("no error was recorded");
            Some((EventKind::Failed, format!("Failed after {number} attempt{plural}: {error}")))
        }
        _ => None,
    };
    if let (Some((kind, message)), Some(at)) = (ending, run.finished_at.or(run.started_at)) {
        entries.push(event(run, at, kind, message));
    }
    entries
}

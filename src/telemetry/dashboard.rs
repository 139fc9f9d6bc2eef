//! What Platform → Queue shows, read in one go for the page, its live refresh and its JSON:
//! attempts per minute over the last hour and per hour over the last day by outcome, the depth
//! by status, the oldest due run's wait, the worker processes alive, the busiest workflows and
//! workspaces, the largest backlogs and the latest failures. Every part reads the counts of
//! `engine::tallies` or the indexes on unfinished and failed jobs, never the finished runs, so
//! the page costs the same with a million of them. What is read from the job table's indexes is
//! read off the page's path (`QueueDepth`): right after a million runs end, PostgreSQL's counts
//! walk their index entries until vacuum clears them (240 ms the first time, 10–18 ms after).

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};
use serde::Serialize;

use super::refreshed::Refreshed;
use crate::db::entities::workspace;
use crate::engine::queue::workers::{self, WorkerProcess};
use crate::engine::queue::{depth, fair};
use crate::engine::runs::{self, RunView};
use crate::engine::tallies::read::{self as tallies, Period, WorkflowTally};
use crate::tenancy::Platform;

/// Rows in each list.
const LISTED: u64 = 8;

/// What the page reads from the job table's indexes, at most 2 s old, shared by every page of
/// this process (`AppState::queue_depth`): right after a burst those indexes hold an entry for
/// each finished run until vacuum, and the first counts walk them all.
#[derive(Clone)]
pub struct QueueDepth(Refreshed<Depth>);

/// Runs not finished by status, the oldest due run's wait, the lanes with the most waiting.
#[derive(Clone)]
struct Depth {
    by_status: Vec<(&'static str, i64)>,
    oldest_due_wait: f64,
    largest_backlogs: Vec<(String, i64)>,
}

impl Default for QueueDepth {
    fn default() -> Self {
        QueueDepth(Refreshed::new(Duration::from_secs(2)))
    }
}

impl QueueDepth {
    async fn read(&self, db: &DatabaseConnection) -> Result<Depth, DbErr> {
        let db = db.clone();
        self.0
            .get(async move {
                // One after another on one connection: behind the pages, one core at most.
                let txn = depth::begin_counting(&db).await?;
                let by_status = depth::by_status(&txn).await?;
                let oldest_due_wait = depth::oldest_due_wait(&txn).await?;
                let largest_backlogs = fair::largest_backlogs(&txn, LISTED).await?;
                txn.commit().await?;
                Ok(Depth { by_status, oldest_due_wait, largest_backlogs })
            })
            .await
    }
}

#[derive(Debug, Serialize)]
pub struct QueueDashboard {
    pub generated_at: DateTime<Utc>,
    /// Runs not finished (and failed) by status: scheduled, queued, running, waiting, retrying, failed.
    pub depth: Vec<StatusCount>,
    /// Seconds the oldest due run has waited for a worker.
    pub oldest_due_wait_seconds: f64,
    /// Attempts ended per minute, the last 60 minutes, oldest first.
    pub last_hour: Vec<Period>,
    /// Attempts ended per hour, the last 24 hours, oldest first.
    pub last_day: Vec<Period>,
    pub workers: Vec<WorkerProcess>,
    /// By attempts in the last hour.
    pub busiest_workflows: Vec<WorkflowTally>,
    /// By runs ended in the last 24 hours.
    pub busiest_workspaces: Vec<BusyWorkspace>,
    /// By runs due and waiting for a worker.
    pub largest_backlogs: Vec<Backlog>,
    pub recent_failures: Vec<Failure>,
}

#[derive(Debug, Serialize)]
pub struct StatusCount {
    pub status: &'static str,
    pub runs: i64,
}

/// A workspace as a list names it; `None` for one deleted since.
#[derive(Debug, Clone, Serialize)]
pub struct Named {
    pub id: String,
    pub name: Option<String>,
    pub slug: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct BusyWorkspace {
    pub workspace: Named,
    pub runs: i64,
    pub failed: i64,
}

#[derive(Debug, Serialize)]
pub struct Backlog {
    /// `None` for global runs, which belong to no workspace.
    pub workspace: Option<Named>,
    pub waiting: i64,
}

#[derive(Debug, Serialize)]
pub struct Failure {
    pub workspace: Option<Named>,
    #[serde(flatten)]
    pub run: RunView,
}

impl QueueDashboard {
    pub async fn read(
        db: &DatabaseConnection,
        platform: &Platform,
        depth: &QueueDepth,
    ) -> Result<QueueDashboard, DbErr> {
        let now = Utc::now();
        let minute = now.timestamp().div_euclid(60);
        let failures =
            async { runs::recent_failures(db, platform, LISTED).await.map_err(|err| DbErr::Custom(err.to_string())) };
        // All at once: only the workspaces' names wait for the others.
        let (depth, last_hour, last_day, workers, busiest_workflows, busy, failures) = tokio::try_join!(
            depth.read(db),
            tallies::periods(db, minute, 1, 60),
            tallies::periods(db, minute, 60, 24),
            workers::alive(db),
            tallies::busiest_workflows(db, minute - 59, LISTED),
            tallies::busiest_workspaces(db, now.timestamp().div_euclid(3600) - 23, LISTED),
            failures,
        )?;
        let lanes = depth.largest_backlogs;
        let ids = busy.iter().map(|(id, ..)| id.clone()).chain(lanes.iter().map(|(lane, _)| lane.clone()));
        let ids = ids.chain(failures.iter().filter_map(|run| run.workspace_id.as_ref().map(|ws| ws.to_string())));
        let names = names(db, ids.filter(|id| !id.is_empty()).collect()).await?;
        let named =
            |id: &str| names.get(id).cloned().unwrap_or_else(|| Named { id: id.to_owned(), name: None, slug: None });
        Ok(QueueDashboard {
            generated_at: now,
            depth: depth.by_status.into_iter().map(|(status, runs)| StatusCount { status, runs }).collect(),
            oldest_due_wait_seconds: depth.oldest_due_wait,
            last_hour,
            last_day,
            workers,
            busiest_workflows,
            busiest_workspaces: busy
                .into_iter()
                .map(|(id, runs, failed)| BusyWorkspace { workspace: named(&id), runs, failed })
                .collect(),
            largest_backlogs: lanes
                .into_iter()
                .map(|(lane, waiting)| Backlog { workspace: (!lane.is_empty()).then(|| named(&lane)), waiting })
                .collect(),
            recent_failures: failures
                .into_iter()
                .map(|run| Failure { workspace: run.workspace_id.as_ref().map(|ws| named(ws.as_ref())), run })
                .collect(),
        })
    }

    /// Attempts that ended in the last hour.
    pub fn attempts_last_hour(&self) -> i64 {
        self.last_hour.iter().map(Period::total).sum()
    }
}

async fn names(db: &DatabaseConnection, ids: Vec<String>) -> Result<HashMap<String, Named>, DbErr> {
    let found = workspace::Entity::find().filter(workspace::Column::Id.is_in(ids)).all(db).await?;
    Ok(found
        .into_iter()
        .map(|ws| (ws.id.clone(), Named { id: ws.id, name: Some(ws.name), slug: Some(ws.slug) }))
        .collect())
}

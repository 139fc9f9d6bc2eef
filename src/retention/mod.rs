//! Retention: what has outlived its age (`config::Retention`) is pruned by a daily built-in
//! schedule (`prune_expired_data`) or by `offstage prune`, in short transactions of a few
//! hundred rows with a pause between them, so workers and pages never wait long behind it.

mod records;
mod runs;
pub mod workflows;

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DbErr};
use serde::Serialize;

use crate::config::Retention;
use records::Kind;

/// Rows per statement or transaction.
const BATCH: u64 = 500;
/// Between two batches: the writer's lock is free for whoever waits (one connection on SQLite).
const PAUSE: Duration = Duration::from_millis(5);
/// The longest window a sign-in or request throttle reads; nothing younger is pruned.
const THROTTLE_WINDOW: Duration = Duration::from_secs(86_400);
/// The invitation limit reads the current hour and the 24 before it.
const INVITATION_HOURS: Duration = Duration::from_secs(25 * 3600);
/// Platform → Queue charts the last 24 hours of attempts per minute.
const MINUTE_COUNTS: Duration = Duration::from_secs(2 * 86_400);
/// A workspace's overview charts its last 30 days of runs (a day more for its timezone).
const WORKSPACE_HOUR_COUNTS: Duration = Duration::from_secs(32 * 86_400);

/// What one prune removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Pruned {
    pub runs: u64,
    pub event_payloads: u64,
    pub email_bodies: u64,
    pub sign_in_attempts: u64,
    pub throttle_counts: u64,
    pub health_scores: u64,
    pub sessions: u64,
    pub invitation_hours: u64,
    /// Rows of the runs' counts per minute and per workspace hour (`engine::tallies`).
    pub run_counts: u64,
}

/// Prunes everything older than its retention at `now`.
pub async fn prune(db: &DatabaseConnection, retention: &Retention, now: DateTime<Utc>) -> Result<Pruned, DbErr> {
    let before = |age: Duration| now - chrono::Duration::from_std(age).unwrap_or(chrono::Duration::MAX);
    let sign_ins = before(retention.sign_ins.max(THROTTLE_WINDOW));
    Ok(Pruned {
        runs: prune_runs(db, before(retention.runs)).await?,
        event_payloads: sweep_all(db, Kind::EventPayloads, before(retention.event_payloads)).await?,
        email_bodies: sweep_all(db, Kind::EmailBodies, before(retention.email_bodies)).await?,
        sign_in_attempts: sweep_all(db, Kind::SignIns, sign_ins).await?,
        throttle_counts: sweep_all(db, Kind::ThrottleCounts, sign_ins).await?,
        health_scores: sweep_all(db, Kind::HealthScores, before(retention.health_scores)).await?,
        sessions: sweep_all(db, Kind::Sessions, now).await?,
        invitation_hours: sweep_all(db, Kind::InvitationHours, before(INVITATION_HOURS)).await?,
        run_counts: sweep_all(db, Kind::RunMinutes, before(MINUTE_COUNTS)).await?
            + sweep_all(db, Kind::WorkspaceRunHours, before(WORKSPACE_HOUR_COUNTS)).await?,
    })
}

async fn prune_runs(db: &DatabaseConnection, cutoff: DateTime<Utc>) -> Result<u64, DbErr> {
    let (mut total, mut from) = (0, None);
    loop {
        let (removed, read) = runs::prune_batch(db, cutoff, BATCH, &mut from).await?;
        total += removed;
        if read < BATCH {
            return Ok(total);
        }
        tokio::time::sleep(PAUSE).await;
    }
}

async fn sweep_all(db: &DatabaseConnection, kind: Kind, cutoff: DateTime<Utc>) -> Result<u64, DbErr> {
    let (mut total, mut cursor) = (0, None);
    loop {
        let (removed, next) = records::sweep(db, kind, cutoff, BATCH, &cursor).await?;
        total += removed;
        if removed < BATCH {
            return Ok(total);
        }
        cursor = next;
        tokio::time::sleep(PAUSE).await;
    }
}

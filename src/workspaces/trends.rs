//! A workspace's trends, for its overview: its health scores over time, and its runs ended per
//! day in its own timezone (read from the hourly counts of `engine::tallies`, never the runs).

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::db::entities::health_score;
use crate::engine::tallies::read::workspace_hours;
use crate::tenancy::Scope;

/// Runs of a workspace that ended on one day of its calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayRuns {
    pub date: NaiveDate,
    pub runs: i64,
    pub failed: i64,
}

/// The last `days` days up to today in the workspace's timezone, oldest first, days without
/// runs included.
pub async fn runs_per_day(
    db: &DatabaseConnection,
    scope: &Scope,
    days: i64,
    now: DateTime<Utc>,
) -> Result<Vec<DayRuns>, DbErr> {
    let tz = scope.workspace().tz().tz();
    let today = now.with_timezone(&tz).date_naive();
    let first = today - Duration::days(days - 1);
    // A day longer: the first local day may begin up to 14 hours before its UTC day.
    let since_hour = now.timestamp().div_euclid(3600) - (days + 1) * 24;
    let mut out: Vec<DayRuns> =
        (0..days).map(|d| DayRuns { date: first + Duration::days(d), runs: 0, failed: 0 }).collect();
    for (hour, runs, failed) in workspace_hours(db, scope.workspace_id(), since_hour).await? {
        let Some(at) = Utc.timestamp_opt(hour * 3600, 0).single() else { continue };
        let date = at.with_timezone(&tz).date_naive();
        if let Some(day) = usize::try_from((date - first).num_days()).ok().and_then(|i| out.get_mut(i)) {
            day.runs += runs;
            day.failed += failed;
        }
    }
    Ok(out)
}

/// The workspace's last `n` health scores, oldest first: (when computed, score).
pub async fn health_scores(db: &DatabaseConnection, scope: &Scope, n: u64) -> Result<Vec<(DateTime<Utc>, i32)>, DbErr> {
    let latest = health_score::Entity::find()
        .filter(health_score::Column::WorkspaceId.eq(scope.workspace_id()))
        .order_by_desc(health_score::Column::ComputedAt)
        .limit(n)
        .all(db)
        .await?;
    Ok(latest.into_iter().rev().map(|h| (h.computed_at, h.score)).collect())
}

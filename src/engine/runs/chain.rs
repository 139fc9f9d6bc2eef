//! A chain: a run and the continuations it scheduled for itself ("process 100, schedule the next
//! 100"), shown as one job with its progress.

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

use super::{RunFilter, RunView, list};
use crate::domain::RunId;
use crate::engine::Error;
use crate::tenancy::Reach;

/// The runs of `run`'s chain that `reach` sees, oldest first; empty when the run has no
/// continuation.
pub async fn chain<'a>(
    db: &DatabaseConnection,
    run: &RunView,
    reach: impl Into<Reach<'a>>,
) -> Result<Vec<RunView>, Error> {
    let Some(chain_id) = &run.chain_id else { return Ok(Vec::new()) };
    let filter = RunFilter { chain_id: Some(chain_id.clone()), limit: 1000, ..RunFilter::default() };
    let mut runs = list(db, reach, &filter).await?;
    if runs.len() < 2 {
        return Ok(Vec::new());
    }
    runs.reverse();
    Ok(runs)
}

/// The progress of the chain that began with the run `first_id`, if `reach` sees that run.
pub async fn progress_of_chain<'a>(
    db: &DatabaseConnection,
    first_id: &RunId,
    reach: impl Into<Reach<'a>> + Copy,
) -> Result<Option<ChainProgress>, Error> {
    let Some(first) = super::get(db, first_id, reach).await? else { return Ok(None) };
    let mut runs = chain(db, &first, reach).await?;
    if runs.is_empty() {
        runs.push(first);
    }
    Ok(ChainProgress::of(&runs, Utc::now()))
}

/// "150 of 205", from the newest `progress` (`{"processed", "total"}`) a run of the chain output.
pub fn progress(chain: &[RunView]) -> Option<String> {
    let (processed, total) = counts(chain)?;
    Some(format!("{processed} of {total}"))
}

/// Where a chain stands, as the live progress bar shows it (`GET …/runs/{id}/progress`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ChainProgress {
    pub processed: u64,
    pub total: u64,
    /// Whether a run of the chain is still to finish.
    pub in_progress: bool,
    /// Seconds left at the pace so far, while in progress and once there is a pace.
    pub eta_seconds: Option<u64>,
    /// The newest run's status.
    pub status: &'static str,
}

impl ChainProgress {
    /// The progress of `chain` (oldest first; a run alone is a chain of one) at `now`.
    pub fn of(chain: &[RunView], now: DateTime<Utc>) -> Option<ChainProgress> {
        let newest = chain.last()?;
        let (processed, total) = counts(chain).unwrap_or((0, 0));
        let in_progress = chain.iter().any(|run| !run.status.is_finished());
        let began = chain.iter().filter_map(|run| run.started_at).min();
        let eta_seconds = match began {
            Some(began) if in_progress && processed > 0 && total > processed => {
                let elapsed = (now - began).num_milliseconds().max(1) as f64 / 1000.0;
                Some(((total - processed) as f64 * elapsed / processed as f64).ceil() as u64)
            }
            _ => None,
        };
        Some(ChainProgress { processed, total, in_progress, eta_seconds, status: newest.status.as_str() })
    }

    /// The bar's maximum (a `<progress>` needs one above 0).
    pub fn bar_max(&self) -> u64 {
        self.total.max(1)
    }

    /// "150 of 205 · about 12 s left".
    pub fn label(&self) -> String {
        let mut label = format!("{} of {}", self.processed, self.total);
        if let Some(eta) = self.eta_seconds {
            let left = match eta {
                s if s < 60 => format!("{s} s"),
                s if s < 3600 => format!("{} min", s.div_ceil(60)),
                s => format!("{} h {} min", s / 3600, (s % 3600).div_ceil(60)),
            };
            label.push_str(&format!(" · about {left} left"));
        }
        label
    }
}

/// (processed, total) from the newest `progress` a run of the chain (oldest first) output.
pub fn counts(chain: &[RunView]) -> Option<(u64, u64)> {
    let progress = chain.iter().rev().find_map(|r| r.output.as_ref()?.get("progress").cloned())?;
    Some((progress.get("processed")?.as_u64()?, progress.get("total")?.as_u64()?))
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone, Utc};
    use serde_json::json;

    use super::ChainProgress;
    use crate::domain::RunId;
    use crate::engine::runs::{RunStatus, RunView};

    fn step(status: RunStatus, started_minutes_after: i64, processed: u64, total: u64) -> RunView {
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 2, 0, 0).unwrap() + Duration::minutes(started_minutes_after);
        RunView {
            id: RunId::from("run_1"),
            workflow: "calculate_monthly_revenue".into(),
            workspace_id: None,
            status,
            params: json!({}),
            output: (status == RunStatus::Succeeded)
                .then(|| json!({ "progress": { "processed": processed, "total": total } })),
            skipped: None,
            error: None,
            waiting: None,
            attempts: 1,
            max_attempts: 5,
            scheduled_for: Some(at),
            started_at: (status != RunStatus::Queued).then_some(at),
            finished_at: None,
            created_at: at,
            requested_for: at,
            business_key: None,
            chain_id: None,
            trigger: "ui".into(),
        }
    }

    #[test]
    fn a_chain_in_progress_tells_the_time_left_at_its_pace_so_far() {
        let chain = [
            step(RunStatus::Succeeded, 0, 100, 400),
            step(RunStatus::Succeeded, 1, 200, 400),
            step(RunStatus::Queued, 2, 0, 0),
        ];
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 2, 2, 0).unwrap();
        let progress = ChainProgress::of(&chain, now).unwrap();
        assert_eq!((progress.processed, progress.total, progress.in_progress), (200, 400, true));
        assert_eq!(progress.eta_seconds, Some(120), "200 done in 2 minutes, 200 to go");
        assert_eq!(progress.label(), "200 of 400 · about 2 min left");
        assert_eq!(progress.status, "queued");
    }

    #[test]
    fn a_finished_chain_has_no_time_left_and_an_empty_one_still_has_a_bar() {
        let done = [step(RunStatus::Succeeded, 0, 100, 200), step(RunStatus::Succeeded, 1, 200, 200)];
        let progress = ChainProgress::of(&done, Utc::now()).unwrap();
        assert_eq!((progress.in_progress, progress.eta_seconds), (false, None));
        assert_eq!(progress.label(), "200 of 200");
        let alone = ChainProgress::of(&[step(RunStatus::Running, 0, 0, 0)], Utc::now()).unwrap();
        assert_eq!((alone.total, alone.bar_max(), alone.eta_seconds), (0, 1, None));
        assert!(ChainProgress::of(&[], Utc::now()).is_none());
    }
}

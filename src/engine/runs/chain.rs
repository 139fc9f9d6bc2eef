//! A chain: a run and the continuations it scheduled for itself ("process 100, schedule the next
//! 100"), shown as one job with its progress.

use sea_orm::DatabaseConnection;

use super::{RunFilter, RunView, list};
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

/// "150 of 205", from the newest `progress` (`{"processed", "total"}`) a run of the chain output.
pub fn progress(chain: &[RunView]) -> Option<String> {
    let (processed, total) = counts(chain)?;
    Some(format!("{processed} of {total}"))
}

/// (processed, total) from the newest `progress` a run of the chain (oldest first) output.
pub fn counts(chain: &[RunView]) -> Option<(u64, u64)> {
    let progress = chain.iter().rev().find_map(|r| r.output.as_ref()?.get("progress").cloned())?;
    Some((progress.get("processed")?.as_u64()?, progress.get("total")?.as_u64()?))
}

//! Changing runs: cancel (one, by business key, or every match of a filter) and retry (one,
//! or every failed match of a filter). Each change is recorded in the run's timeline. Whether
//! the person may change a given run (a tenant may not change Offstage's own runs) is the
//! caller's check (`Scope::require_may_change_run`); the bulk actions apply it to each run.

use sea_orm::{ConnectionTrait, DatabaseConnection};

use super::super::events::{self, EventKind};
use super::{RunFilter, RunStatus, RunView, get, list, waiting};
use crate::db::begin_write;
use crate::engine::Error;
use crate::engine::{Registry, queue};
use crate::tenancy::{Platform, Reach};

/// Cancels a run that has not started; `Conflict` when it already has.
pub async fn cancel(db: &DatabaseConnection, run: &RunView, by: &str) -> Result<RunView, Error> {
    let txn = begin_write(db).await?;
    let cancelled = queue::cancel_not_started(&txn, &[run.id.to_string()], &format!("cancelled by {by}")).await?;
    if cancelled == 0 {
        return Err(Error::Conflict(format!("The run is {} and can no longer be cancelled.", run.status.as_str())));
    }
    events::record(&txn, &run.id, EventKind::Cancelled, format!("Cancelled by {by}")).await?;
    waiting::announce_to_other_processes(&txn, &run.id).await?;
    txn.commit().await?;
    waiting::announce(&run.id);
    get(db, &run.id, &Platform::system()).await?.ok_or(Error::NotFound)
}

/// Cancels every not-yet-started run of the scope's workspace with `business_key`, e.g. the
/// pending trial reminder of a workspace whose trial end moved. Returns how many.
pub async fn cancel_by_business_key(
    db: &DatabaseConnection,
    scope: &crate::tenancy::Scope,
    business_key: &str,
    by: &str,
) -> Result<u64, Error> {
    let txn = begin_write(db).await?;
    let cancelled = cancel_by_business_key_in(&txn, scope.workspace_id(), business_key, by).await?;
    txn.commit().await?;
    Ok(cancelled)
}

/// `cancel_by_business_key` inside the caller's transaction, so a reschedule is atomic.
pub(crate) async fn cancel_by_business_key_in<C: ConnectionTrait>(
    txn: &C,
    workspace_id: &str,
    business_key: &str,
    by: &str,
) -> Result<u64, Error> {
    let filter = RunFilter { business_key: Some(business_key.to_owned()), limit: 1000, ..RunFilter::default() };
    let ids: Vec<String> = list(txn, &Platform::system(), &filter)
        .await?
        .into_iter()
        .filter(|r| r.workspace_id.as_deref() == Some(workspace_id))
        .filter(|r| !r.status.is_finished() && r.status != RunStatus::Running)
        .map(|r| r.id.into_string())
        .collect();
    let cancelled = queue::cancel_not_started(txn, &ids, &format!("cancelled by {by}")).await?;
    for id in &ids {
        events::record(txn, id, EventKind::Cancelled, format!("Cancelled by {by} (business key {business_key})"))
            .await?;
    }
    Ok(cancelled)
}

/// Runs a failed run again with its workflow's attempts; `Conflict` unless it failed.
pub async fn retry(db: &DatabaseConnection, registry: &Registry, run: &RunView, by: &str) -> Result<RunView, Error> {
    let extra = registry.find(&run.workflow).map(|w| w.max_attempts()).unwrap_or(1);
    let txn = begin_write(db).await?;
    if !queue::reopen_failed(&txn, &run.id, i32::try_from(extra).unwrap_or(1)).await? {
        return Err(Error::Conflict(format!("Only failed runs can be retried; this one is {}.", run.status.as_str())));
    }
    let mut written = super::timeline::last_attempt(run);
    written.push(events::NewEvent::now(run.id.as_str(), EventKind::Retried, format!("Retried by {by}")));
    events::record_all(&txn, &written).await?;
    txn.commit().await?;
    get(db, &run.id, &Platform::system()).await?.ok_or(Error::NotFound)
}

/// Whether whoever acts through `reach` may change `run` (tenants: not Offstage's own runs).
fn may_change(reach: Reach<'_>, registry: &Registry, run: &RunView) -> bool {
    match reach {
        Reach::Workspace(scope) => scope.may_change_run(registry.is_internal(&run.workflow)),
        Reach::Everywhere(_) => true,
    }
}

/// Cancels every not-yet-started run matching `filter` (up to its limit) that `reach` may
/// change. Returns how many.
pub async fn bulk_cancel(
    db: &DatabaseConnection,
    registry: &Registry,
    reach: Reach<'_>,
    filter: &RunFilter,
    by: &str,
) -> Result<u64, Error> {
    let ids: Vec<String> = list(db, reach, filter)
        .await?
        .into_iter()
        .filter(|r| matches!(r.status, RunStatus::Scheduled | RunStatus::Queued) && may_change(reach, registry, r))
        .map(|r| r.id.into_string())
        .collect();
    let txn = begin_write(db).await?;
    let cancelled = queue::cancel_not_started(&txn, &ids, &format!("cancelled by {by}")).await?;
    for id in &ids {
        events::record(&txn, id, EventKind::Cancelled, format!("Cancelled by {by} (bulk)")).await?;
        waiting::announce_to_other_processes(&txn, id).await?;
    }
    txn.commit().await?;
    ids.iter().for_each(|id| waiting::announce(id));
    Ok(cancelled)
}

/// Retries every failed run matching `filter` (up to its limit) that `reach` may change.
/// Returns how many.
pub async fn bulk_retry(
    db: &DatabaseConnection,
    registry: &Registry,
    reach: Reach<'_>,
    filter: &RunFilter,
    by: &str,
) -> Result<u64, Error> {
    let failed = RunFilter { status: Some(RunStatus::Failed), ..filter.clone() };
    let mut retried = 0;
    for run in list(db, reach, &failed).await?.into_iter().filter(|r| may_change(reach, registry, r)) {
        if retry(db, registry, &run, by).await.is_ok() {
            retried += 1;
        }
    }
    Ok(retried)
}

/// What a bulk action on a filtered selection does.
#[derive(Debug, Clone, Copy)]
pub enum BulkAction {
    Cancel,
    Retry,
}

impl BulkAction {
    /// `cancel` or `retry`; anything else gets a sentence saying so.
    pub fn parse(input: &str) -> Result<BulkAction, String> {
        match input {
            "cancel" => Ok(BulkAction::Cancel),
            "retry" => Ok(BulkAction::Retry),
            _ => Err("Choose cancel or retry.".into()),
        }
    }
}

/// Applies `action` to the runs matching `filter` that `reach` may change; returns the sentence
/// to show.
pub async fn bulk(
    db: &DatabaseConnection,
    registry: &Registry,
    reach: Reach<'_>,
    filter: &RunFilter,
    action: BulkAction,
    by: &str,
) -> Result<String, Error> {
    Ok(match action {
        BulkAction::Cancel => format!("{} runs cancelled.", bulk_cancel(db, registry, reach, filter, by).await?),
        BulkAction::Retry => {
            format!("{} failed runs queued again.", bulk_retry(db, registry, reach, filter, by).await?)
        }
    })
}

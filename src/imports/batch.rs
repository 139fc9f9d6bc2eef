//! What every import's batch shares: the next lines of a running import, taken with the import's
//! row locked (batches of one import take turns on it; SQLite's writer lock does the same, so a
//! continuation that starts before its predecessor committed reads the lines left after it),
//! and their outcomes written with the import's counts in the batch's transaction.

use std::collections::BTreeMap;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait, QueryFilter, QuerySelect,
};

use super::record;
use crate::db::entities::{import, import_row};

/// Lines per batch (one run of the chain).
pub const BATCH: u64 = 100;
/// The lines an import does before its first refresh of PostgreSQL's statistics of the tables it
/// grows; each refresh after comes when it has done twice as many (`keep_statistics`).
const ANALYZE_FROM: i64 = 5_000;

/// Where the import stands after a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub processed: u64,
    pub total: u64,
    /// Whether lines are left to do (and the import still runs).
    pub more: bool,
}

/// What became of one line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum LineOutcome {
    Created,
    Skipped(String),
    Failed(String),
}

/// The import `import_id` (of `workspace_id`, None for the platform's), locked until `txn` ends,
/// and its next lines when it is running (none otherwise). `grows`: the tables its lines add
/// to, whose statistics are kept fresh (`keep_statistics`) before the lines are read.
pub async fn take(
    txn: &DatabaseTransaction,
    import_id: &str,
    workspace_id: Option<&str>,
    grows: &[&str],
) -> anyhow::Result<(import::Model, Vec<import_row::Model>)> {
    let import = import::Entity::find_by_id(import_id)
        .filter(match workspace_id {
            Some(id) => import::Column::WorkspaceId.eq(id),
            None => import::Column::WorkspaceId.is_null(),
        })
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or_else(|| anyhow::anyhow!("there is no import {import_id} here"))?;
    if import.status != "running" {
        return Ok((import, Vec::new()));
    }
    keep_statistics(txn, &import, grows).await?;
    let lines = record::pending(txn, import_id, BATCH).await?;
    Ok((import, lines))
}

/// On PostgreSQL, refreshes the statistics of `tables` (those the import grows and looks lines
/// up in) when the import passes 5,000 lines, 10,000, 20,000 and so on. An import grows them
/// faster than autovacuum analyzes them, and with statistics from before it the planner took
/// the batches' lookups of 100 keys for a large part of the table and read all of it: a batch
/// slowed as the import went on (128 ms at 20,000 workspaces, 584 s for an import of 100,000).
/// Refreshed at each doubling, the statistics count at least half the rows the import added.
/// Refreshed every 5,000 lines instead, an import of 100,000 workspaces analyzed them 20 times
/// (64 ms each on average over its first 60,000 lines), all of it on the import's chain.
///
/// A large import's first batch also gathers those of its own lines (`import_rows`), written at
/// the upload, before autovacuum gets to them: with none, the planner expected two lines left,
/// read every line still to do and sorted them to take the next 100 (28 ms a batch with 47,000
/// left), where the index gives them in order.
async fn keep_statistics(txn: &DatabaseTransaction, import: &import::Model, tables: &[&str]) -> Result<(), DbErr> {
    if txn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let done = import.processed_rows;
    let first_of_many = done == 0 && import.total_rows >= ANALYZE_FROM;
    let mut stale: Vec<&str> = if passes_a_doubling(done, BATCH as i64) { tables.to_vec() } else { Vec::new() };
    if first_of_many {
        stale.push("import_rows");
    }
    if !stale.is_empty() {
        txn.execute_unprepared(&format!("ANALYZE {}", stale.join(", "))).await?;
    }
    Ok(())
}

/// Whether a batch of `batch` lines after `done` reaches 5,000 lines or a doubling of it.
fn passes_a_doubling(done: i64, batch: i64) -> bool {
    let mut mark = ANALYZE_FROM;
    while mark <= done {
        mark = mark.saturating_mul(2);
    }
    done + batch >= mark
}

/// Where `import` stands when it was not running: nothing done, nothing more.
pub fn idle(import: &import::Model) -> Progress {
    Progress { processed: import.processed_rows as u64, total: import.total_rows as u64, more: false }
}

/// Writes the outcomes of the `taken` lines of `import` (lines with the same outcome in one
/// statement), adds them to its counts, and ends it when no line is left.
pub async fn settle(
    txn: &DatabaseTransaction,
    import: &import::Model,
    taken: usize,
    outcomes: Vec<(i64, LineOutcome)>,
) -> Result<Progress, DbErr> {
    let mut marks: BTreeMap<LineOutcome, Vec<i64>> = BTreeMap::new();
    for (number, outcome) in outcomes {
        marks.entry(outcome).or_default().push(number);
    }
    let mut counts = [0i64; 3];
    for (outcome, numbers) in marks {
        // The range keeps PostgreSQL on the lines' index: by the IN list alone, with statistics
        // from before the import, it read every line of the import on each batch.
        let (first, last) = (numbers.iter().min().copied(), numbers.iter().max().copied());
        let (at, name, message) = match outcome {
            LineOutcome::Created => (0, "created", None),
            LineOutcome::Skipped(why) => (1, "skipped", Some(why)),
            LineOutcome::Failed(why) => (2, "failed", Some(why)),
        };
        counts[at] += numbers.len() as i64;
        import_row::Entity::update_many()
            .col_expr(import_row::Column::Outcome, Expr::value(name))
            .col_expr(import_row::Column::Message, Expr::value(message))
            .filter(import_row::Column::ImportId.eq(&import.id))
            .filter(import_row::Column::RowNumber.between(first.unwrap_or(0), last.unwrap_or(0)))
            .filter(import_row::Column::RowNumber.is_in(numbers))
            .exec(txn)
            .await?;
    }
    let [created, skipped, failed] = counts;
    record::count(txn, &import.id, created, skipped, failed).await?;
    let more = taken as u64 == BATCH;
    if !more {
        record::succeed(txn, &import.id).await?;
    }
    let processed = (import.processed_rows + created + skipped + failed) as u64;
    Ok(Progress { processed, total: import.total_rows as u64, more })
}

#[cfg(test)]
mod tests {
    use super::passes_a_doubling;

    #[test]
    fn statistics_are_refreshed_at_five_thousand_lines_and_at_each_doubling_after() {
        let refreshed_after: Vec<i64> =
            (0..100_000).step_by(100).filter(|done| passes_a_doubling(*done, 100)).map(|done| done + 100).collect();
        assert_eq!(refreshed_after, [5_000, 10_000, 20_000, 40_000, 80_000]);
        assert!(passes_a_doubling(4_950, 100), "a batch that crosses the mark counts");
        assert!(!passes_a_doubling(5_000, 100), "the mark just passed is not passed again");
    }
}

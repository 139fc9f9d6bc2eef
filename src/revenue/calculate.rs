//! Adds up one month's revenue, 100 workspaces at a time: for each workspace and currency,
//! what its invoices paid in the month (gross, and how many), what was refunded in it, net,
//! and the MRR at the month's end (from the newest paid invoice in that currency whose
//! subscription period spans that moment). A batch replaces its workspaces' rows for the month in one statement,
//! so running a month again gives the same rows.

use chrono::Utc;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};

use crate::billing::catch_up::catch_up;
use crate::config::StripeSettings;
use crate::db::begin_write;
use crate::db::entities::workspace;
use crate::domain::Month;

/// Workspaces per batch (one run of the chain).
pub const BATCH: u64 = 100;

/// `$1` month, `$2`..`$3` the batch's workspaces (after `$2`, up to and including `$3`),
/// `$4`..`$5` the month's instants. Amounts are summed per currency, never converted.
const UPSERT_SQL: &str = "\
WITH gross AS (
    SELECT workspace_id, currency, SUM(amount_paid) AS amount, COUNT(*) AS invoices FROM invoices
    WHERE workspace_id > $2 AND workspace_id <= $3 AND paid_at >= $4 AND paid_at < $5
    GROUP BY workspace_id, currency
), refunded AS (
    SELECT workspace_id, currency, SUM(amount) AS amount FROM refunds
    WHERE workspace_id > $2 AND workspace_id <= $3 AND refunded_at >= $4 AND refunded_at < $5
    GROUP BY workspace_id, currency
), recurring AS (
    SELECT workspace_id, currency, mrr FROM (
        SELECT workspace_id, currency, mrr,
               ROW_NUMBER() OVER (PARTITION BY workspace_id, currency ORDER BY paid_at DESC, id DESC) AS newest
        FROM invoices
        WHERE workspace_id > $2 AND workspace_id <= $3 AND mrr IS NOT NULL
          AND paid_at < $5 AND period_start < $5 AND period_end >= $5
    ) covering WHERE newest = 1
), found AS (
    SELECT workspace_id, currency FROM gross
    UNION SELECT workspace_id, currency FROM refunded
    UNION SELECT workspace_id, currency FROM recurring
)
INSERT INTO monthly_revenue (workspace_id, month, currency, gross, refunded, net, invoices, mrr)
SELECT f.workspace_id, $1, f.currency, COALESCE(g.amount, 0), COALESCE(r.amount, 0),
       COALESCE(g.amount, 0) - COALESCE(r.amount, 0), COALESCE(g.invoices, 0), COALESCE(m.mrr, 0)
FROM found f
LEFT JOIN gross g ON g.workspace_id = f.workspace_id AND g.currency = f.currency
LEFT JOIN refunded r ON r.workspace_id = f.workspace_id AND r.currency = f.currency
LEFT JOIN recurring m ON m.workspace_id = f.workspace_id AND m.currency = f.currency
WHERE true
ON CONFLICT (workspace_id, month, currency) DO UPDATE SET gross = excluded.gross, refunded = excluded.refunded,
    net = excluded.net, invoices = excluded.invoices, mrr = excluded.mrr";

/// One batch done: the last workspace it covered, and how many it covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub last: Option<String>,
    pub workspaces: u64,
}

impl Batch {
    /// The cursor of the next batch, or None when this one was the last.
    pub fn next_cursor(&self) -> Option<&str> {
        self.last.as_deref().filter(|_| self.workspaces == BATCH)
    }
}

/// Computes `month` for the (up to) `BATCH` workspaces after `after` (from the first when None).
pub async fn batch(db: &DatabaseConnection, month: Month, after: Option<&str>) -> Result<Batch, sea_orm::DbErr> {
    let after = after.unwrap_or("");
    let ids: Vec<String> = workspace::Entity::find()
        .select_only()
        .column(workspace::Column::Id)
        .filter(workspace::Column::Id.gt(after))
        .order_by_asc(workspace::Column::Id)
        .limit(BATCH)
        .into_tuple()
        .all(db)
        .await?;
    let Some(last) = ids.last().cloned() else {
        return Ok(Batch { last: None, workspaces: 0 });
    };
    let txn = begin_write(db).await?;
    let backend = txn.get_database_backend();
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        "DELETE FROM monthly_revenue WHERE month = $1 AND workspace_id > $2 AND workspace_id <= $3",
        [month.to_string().into(), after.into(), last.clone().into()],
    ))
    .await?;
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        UPSERT_SQL,
        [month.to_string().into(), after.into(), last.clone().into(), month.start().into(), month.end().into()],
    ))
    .await?;
    txn.commit().await?;
    Ok(Batch { last: Some(last), workspaces: ids.len() as u64 })
}

/// Workspaces a month's calculation walks (its progress's total).
pub async fn workspace_count(db: &DatabaseConnection) -> Result<u64, sea_orm::DbErr> {
    workspace::Entity::find().count(db).await
}

/// Records that `month` was computed (after its last batch).
pub async fn finish(db: &DatabaseConnection, month: Month, workspaces: u64) -> Result<(), sea_orm::DbErr> {
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        "INSERT INTO revenue_months (month, computed_at, workspaces) VALUES ($1, $2, $3) \
         ON CONFLICT (month) DO UPDATE SET computed_at = excluded.computed_at, workspaces = excluded.workspaces",
        [month.to_string().into(), Utc::now().into(), (workspaces as i64).into()],
    ))
    .await?;
    Ok(())
}

/// The whole month in this process, batch after batch (the command line's way; the workflow
/// runs one batch per run of its chain). Returns the workspaces walked.
pub async fn month(db: &DatabaseConnection, stripe: &StripeSettings, month: Month) -> anyhow::Result<u64> {
    catch_up(db, stripe).await?;
    let mut cursor: Option<String> = None;
    let mut walked = 0;
    loop {
        let done = batch(db, month, cursor.as_deref()).await?;
        walked += done.workspaces;
        match done.next_cursor() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    finish(db, month, walked).await?;
    Ok(walked)
}

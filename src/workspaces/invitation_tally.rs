//! The daily invitation limit's counter: invitations sent per workspace and hour. The limit reads
//! the current hour and the 24 before it (so never more than the limit go out in any 24 hours),
//! at most 25 rows however many were sent, where counting the invitations themselves would read
//! every one of the day's (100,000 during a large import, before each batch).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};

use crate::db::entities::invitation_tally;

fn hour_of(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(3600)
}

/// Invitations the workspace sent in the current hour and the 24 before it.
pub async fn sent_today<C: ConnectionTrait>(db: &C, workspace_id: &str, now: DateTime<Utc>) -> Result<u64, DbErr> {
    let sent: Option<i64> = invitation_tally::Entity::find()
        .select_only()
        // PostgreSQL sums BIGINTs as NUMERIC.
        .column_as(
            Expr::expr(Func::cast_as(
                Func::sum(Expr::col(invitation_tally::Column::Sent)),
                sea_orm::sea_query::Alias::new("BIGINT"),
            )),
            "sent",
        )
        .filter(invitation_tally::Column::WorkspaceId.eq(workspace_id))
        .filter(invitation_tally::Column::Hour.gte(hour_of(now) - 24))
        .into_tuple()
        .one(db)
        .await?
        .flatten();
    Ok(u64::try_from(sent.unwrap_or(0)).unwrap_or(0))
}

/// Counts `sent` invitations for each workspace, in the hour of `now`.
pub async fn add<C: ConnectionTrait>(db: &C, sent: &[(&str, u64)], now: DateTime<Utc>) -> Result<(), DbErr> {
    let rows: Vec<_> = sent
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(workspace_id, n)| invitation_tally::ActiveModel {
            workspace_id: Set((*workspace_id).to_owned()),
            hour: Set(hour_of(now)),
            sent: Set(*n as i64),
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let add_up = OnConflict::columns([invitation_tally::Column::WorkspaceId, invitation_tally::Column::Hour])
        .value(
            invitation_tally::Column::Sent,
            Expr::col((invitation_tally::Entity, invitation_tally::Column::Sent))
                .add(Expr::col((sea_orm::sea_query::Alias::new("excluded"), invitation_tally::Column::Sent))),
        )
        .to_owned();
    invitation_tally::Entity::insert_many(rows).on_conflict(add_up).exec(db).await.map(|_| ())
}

//! The `exports` table: an export is created `running` with its chain's first run, counts its
//! rows as the chain goes, becomes `succeeded` with its file's size and expiry, and `expired`
//! once the daily clean-up deleted the file (or `failed`, when the clean-up found its chain
//! stopped before the end and deleted its parts). Reads say whose exports they may return.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::db::entities::{export, user};
use crate::domain::PublicId;
use crate::tenancy::{Platform, Scope};

/// Exports listed on a page.
pub const LISTED: u64 = 50;

/// What an export holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Every workspace, one row each (operators).
    Workspaces,
    /// One workspace's own data, a ZIP of CSV files (its owners).
    WorkspaceData,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Workspaces => "workspaces",
            Kind::WorkspaceData => "workspace_data",
        }
    }
}

pub struct NewExport {
    pub kind: Kind,
    pub workspace_id: Option<String>,
    /// `csv`, `jsonl` or `zip`.
    pub format: &'static str,
    pub requested_by: Option<String>,
    /// The file's name as downloaded, such as `workspaces-2026-12-03.csv`.
    pub file_name: String,
}

pub async fn create(db: &DatabaseConnection, new: NewExport) -> Result<export::Model, DbErr> {
    let id = PublicId::generate("exp");
    let row = export::ActiveModel {
        file_key: Set(Some(format!("exports/{id}/{}", new.file_name))),
        id: Set(id),
        kind: Set(new.kind.as_str().to_owned()),
        workspace_id: Set(new.workspace_id),
        format: Set(new.format.to_owned()),
        status: Set("running".into()),
        rows: Set(0),
        total_rows: Set(0),
        bytes: Set(None),
        requested_by: Set(new.requested_by),
        run_id: Set(None),
        created_at: Set(Utc::now()),
        finished_at: Set(None),
        expires_at: Set(None),
    };
    export::Entity::insert(row).exec_with_returning(db).await
}

/// The export a run made for itself (an export started by hand, without one), made on its
/// first attempt and found again on a retry.
pub async fn create_for_run(db: &DatabaseConnection, new: NewExport, run_id: &str) -> Result<export::Model, DbErr> {
    if let Some(found) = export::Entity::find().filter(export::Column::RunId.eq(run_id)).one(db).await? {
        return Ok(found);
    }
    let made = create(db, new).await?;
    attach_run(db, &made.id, run_id).await?;
    Ok(export::Model { run_id: Some(run_id.to_owned()), ..made })
}

/// Any export by id: for the chain that writes it (the run's own parameters name it).
pub async fn find(db: &DatabaseConnection, id: &str) -> Result<Option<export::Model>, DbErr> {
    export::Entity::find_by_id(id).one(db).await
}

/// An export of every workspace, for an operator.
pub async fn find_for_platform(
    db: &DatabaseConnection,
    _platform: &Platform,
    id: &str,
) -> Result<Option<export::Model>, DbErr> {
    let found = export::Entity::find_by_id(id).one(db).await?;
    Ok(found.filter(|e| e.workspace_id.is_none()))
}

/// One of the workspace's own exports.
pub async fn find_in(db: &DatabaseConnection, scope: &Scope, id: &str) -> Result<Option<export::Model>, DbErr> {
    let found = export::Entity::find_by_id(id).one(db).await?;
    Ok(found.filter(|e| e.workspace_id.as_deref() == Some(scope.workspace_id())))
}

pub async fn for_platform(db: &DatabaseConnection, _platform: &Platform) -> Result<Vec<export::Model>, DbErr> {
    export::Entity::find()
        .filter(export::Column::WorkspaceId.is_null())
        .order_by_desc(export::Column::CreatedAt)
        .limit(LISTED)
        .all(db)
        .await
}

pub async fn for_workspace(db: &DatabaseConnection, scope: &Scope) -> Result<Vec<export::Model>, DbErr> {
    export::Entity::find()
        .filter(export::Column::WorkspaceId.eq(scope.workspace_id()))
        .order_by_desc(export::Column::CreatedAt)
        .limit(LISTED)
        .all(db)
        .await
}

/// The emails of the people who asked for `exports`, by user id.
pub async fn requesters(db: &DatabaseConnection, exports: &[export::Model]) -> Result<HashMap<String, String>, DbErr> {
    let ids: Vec<&String> = exports.iter().filter_map(|e| e.requested_by.as_ref()).collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let users = user::Entity::find().filter(user::Column::Id.is_in(ids)).all(db).await?;
    Ok(users.into_iter().map(|u| (u.id, u.email)).collect())
}

pub async fn attach_run(db: &DatabaseConnection, id: &str, run_id: &str) -> Result<(), DbErr> {
    set(db, id, export::Column::RunId, Expr::value(run_id)).await
}

pub async fn set_total(db: &DatabaseConnection, id: &str, total: u64) -> Result<(), DbErr> {
    set(db, id, export::Column::TotalRows, Expr::value(total as i64)).await
}

pub async fn set_rows(db: &DatabaseConnection, id: &str, rows: u64) -> Result<(), DbErr> {
    set(db, id, export::Column::Rows, Expr::value(rows as i64)).await
}

async fn set(db: &DatabaseConnection, id: &str, column: export::Column, value: Expr) -> Result<(), DbErr> {
    export::Entity::update_many().col_expr(column, value).filter(export::Column::Id.eq(id)).exec(db).await?;
    Ok(())
}

/// The file is whole: it can be downloaded until `expires_at`.
pub async fn succeed(
    db: &DatabaseConnection,
    id: &str,
    rows: u64,
    bytes: u64,
    expires_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    export::Entity::update_many()
        .col_expr(export::Column::Status, Expr::value("succeeded"))
        .col_expr(export::Column::Rows, Expr::value(rows as i64))
        .col_expr(export::Column::Bytes, Expr::value(bytes as i64))
        .col_expr(export::Column::FinishedAt, Expr::value(Utc::now()))
        .col_expr(export::Column::ExpiresAt, Expr::value(expires_at))
        .filter(export::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Exports whose file should be deleted by `now`, oldest first.
pub async fn due_to_expire(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<export::Model>, DbErr> {
    export::Entity::find()
        .filter(export::Column::Status.eq("succeeded"))
        .filter(export::Column::ExpiresAt.lte(now))
        .order_by_asc(export::Column::ExpiresAt)
        .limit(limit)
        .all(db)
        .await
}

pub async fn mark_expired(db: &DatabaseConnection, id: &str) -> Result<(), DbErr> {
    set(db, id, export::Column::Status, Expr::value("expired")).await
}

/// Exports still `running` that began before `before`, oldest first: `expire_exports` asks each
/// whether its chain has stopped.
pub async fn running_before(
    db: &DatabaseConnection,
    before: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<export::Model>, DbErr> {
    export::Entity::find()
        .filter(export::Column::Status.eq("running"))
        .filter(export::Column::CreatedAt.lt(before))
        .order_by_asc(export::Column::CreatedAt)
        .limit(limit)
        .all(db)
        .await
}

/// The export's chain stopped before its file was whole (its last run failed or was cancelled).
pub async fn mark_failed(db: &DatabaseConnection, id: &str) -> Result<(), DbErr> {
    export::Entity::update_many()
        .col_expr(export::Column::Status, Expr::value("failed"))
        .col_expr(export::Column::FinishedAt, Expr::value(Utc::now()))
        .filter(export::Column::Id.eq(id))
        .filter(export::Column::Status.eq("running"))
        .exec(db)
        .await?;
    Ok(())
}

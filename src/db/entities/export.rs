//! `exports`: export files (all workspaces, or one workspace's own data) and their progress.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "exports")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `workspaces` (every workspace, for operators) or `workspace_data` (one workspace's own).
    pub kind: String,
    /// The workspace a `workspace_data` export is of; None for `workspaces`.
    pub workspace_id: Option<String>,
    /// `csv`, `jsonl` or `zip`.
    pub format: String,
    /// `running`, `succeeded`, `expired`, or `failed` once the daily clean-up found its chain
    /// stopped (until then a failed chain is read from its runs).
    pub status: String,
    pub rows: i64,
    pub total_rows: i64,
    pub bytes: Option<i64>,
    /// The file's key in `crate::storage`, once written.
    pub file_key: Option<String>,
    /// The user who asked for it; None from the command line or a schedule.
    pub requested_by: Option<String>,
    /// The first run of the export's chain.
    pub run_id: Option<String>,
    pub created_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
    pub expires_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! `imports`: uploaded CSV files being imported (members of a workspace), with their counts.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "imports")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `members`.
    pub kind: String,
    pub workspace_id: Option<String>,
    /// `preview` (uploaded, not started), `running`, `succeeded` or `cancelled`.
    pub status: String,
    pub total_rows: i64,
    pub processed_rows: i64,
    pub created: i64,
    pub skipped: i64,
    pub failed_rows: i64,
    /// Who uploaded it ("ada@example.com", "API key Production").
    pub requested_by: Option<String>,
    /// The first run of the import's chain, once started.
    pub run_id: Option<String>,
    pub created_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
    /// SHA-256 of its lines as read (`record::digest_of`), for the imports of `offstage import
    /// workspaces` only: running it again on the same file finds its unfinished import by it.
    pub file_digest: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! `schedules`: workflows started on a cron expression.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "schedules")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub workflow: String,
    /// None: a global schedule.
    pub workspace_id: Option<String>,
    pub cron: String,
    /// None: the workspace's timezone (UTC for a global schedule).
    pub timezone: Option<String>,
    /// JSON parameters for each run (`workspace_id` is filled in).
    pub params: String,
    pub paused: bool,
    /// The next tick; None while paused.
    pub next_run_at: Option<DateTimeUtc>,
    pub last_run_at: Option<DateTimeUtc>,
    pub last_run_id: Option<String>,
    pub created_by: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

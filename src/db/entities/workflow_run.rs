//! `workflow_runs`: the immutable facts of a run; its status lives in apalis's job row.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "workflow_runs")]
pub struct Model {
    /// Also the id of the apalis job that executes it (a ULID).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub workflow: String,
    pub workspace_id: Option<String>,
    /// The parameters as JSON text.
    pub params: String,
    pub business_key: Option<String>,
    /// The workspace id, or `global`: idempotency keys are unique within it.
    pub idempotency_scope: String,
    pub idempotency_key: Option<String>,
    /// The first run of the chain this run continues; none for a chain's first run and a run of no
    /// chain (`RunView::chain_id` shows the run's own id then).
    pub chain_id: Option<String>,
    /// What started it: `api`, `ui`, `code`, `schedule`, `continuation`, `fan_out`, `retry`.
    pub trigger: String,
    pub created_at: DateTimeUtc,
    pub scheduled_for: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

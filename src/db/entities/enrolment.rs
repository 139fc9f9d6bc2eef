//! `enrolments`: a workspace going through an email sequence (onboarding, dunning).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "enrolments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub workspace_id: String,
    /// The sequence's name: `onboarding`, `dunning`.
    pub sequence: String,
    /// Unique: one enrolment per workspace and subject (`onboarding:{ws}`, `dunning:{ws}:{invoice}`).
    pub key: String,
    /// What the enrolment is about, when more than the workspace (the failed invoice).
    pub subject: Option<String>,
    /// `active`, `completed` or `stopped`.
    pub status: String,
    pub steps_sent: i32,
    /// The last step that ran (sent or skipped).
    pub last_step: Option<String>,
    pub next_step_at: Option<DateTimeUtc>,
    pub stopped_reason: Option<String>,
    pub started_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

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
    /// `EnrolmentStatus`: `active`, `completed` or `stopped`.
    pub status: String,
    pub steps_sent: i32,
    /// The last step that ran (sent or skipped).
    pub last_step: Option<String>,
    pub next_step_at: Option<DateTimeUtc>,
    pub stopped_reason: Option<String>,
    /// For dunning: what the failed invoice asked for, in the currency's smallest unit.
    pub amount_due: Option<i64>,
    pub currency: Option<String>,
    pub started_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// An unknown word reads as stopped: nothing more is sent for it.
    pub fn status(&self) -> crate::domain::EnrolmentStatus {
        crate::domain::EnrolmentStatus::parse(&self.status).unwrap_or(crate::domain::EnrolmentStatus::Stopped)
    }

    pub fn amount_due(&self) -> Option<crate::domain::Money> {
        Some(crate::domain::Money::new(self.amount_due?, self.currency.as_deref()?))
    }
}

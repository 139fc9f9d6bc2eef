//! `emails`: the outbox. One row per email Offstage decided to send, unique by dedupe key.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "emails")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub workspace_id: Option<String>,
    pub recipient: String,
    /// The template: `trial_ending`, `weekly_digest`, `invitation`, …
    pub kind: String,
    /// `lifecycle` (suppressed after unsubscribe) or `transactional` (always sent).
    pub category: String,
    pub subject: String,
    pub html: String,
    pub text: String,
    pub dedupe_key: String,
    pub message_id: String,
    /// `queued`, `sent`, `failed` or `suppressed`.
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    /// `smtp` or `captured` once sent.
    pub transport: Option<String>,
    pub created_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! `invoices`: paid Stripe invoices per workspace (amounts in the currency's smallest unit).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invoices")]
pub struct Model {
    /// Stripe's invoice id (`in_…`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub workspace_id: String,
    pub amount_paid: i64,
    pub currency: String,
    pub period_start: Option<DateTimeUtc>,
    pub period_end: Option<DateTimeUtc>,
    pub paid_at: DateTimeUtc,
    pub stripe_event_id: String,
    /// The charge that paid it (`ch_…`), which refunds name.
    pub charge_id: Option<String>,
    /// The monthly-normalised recurring amount of its subscription lines, when it has any.
    pub mrr: Option<i64>,
    /// False for invoices stored before their lines were read (see `billing::invoice_lines`).
    pub lines_read: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

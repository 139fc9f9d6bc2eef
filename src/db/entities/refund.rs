//! `refunds`: money returned to a workspace's customer, from `charge.refunded` and
//! `credit_note.created` events (amounts in the currency's smallest unit).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refunds")]
pub struct Model {
    /// `{charge}:{amount refunded so far}` for a charge's refunds, the credit note's id (`cn_…`)
    /// for money refunded outside Stripe.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub workspace_id: String,
    pub charge_id: Option<String>,
    pub invoice_id: Option<String>,
    pub amount: i64,
    pub currency: String,
    pub refunded_at: DateTimeUtc,
    pub stripe_event_id: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! `monthly_revenue`: a workspace's revenue in one UTC calendar month and one currency, as the
//! revenue calculation wrote it (amounts in the currency's smallest unit).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "monthly_revenue")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub workspace_id: String,
    /// `YYYY-MM`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub month: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub currency: String,
    pub gross: i64,
    pub refunded: i64,
    pub net: i64,
    pub invoices: i64,
    /// Monthly recurring revenue at the month's end.
    pub mrr: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

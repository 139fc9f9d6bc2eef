//! `stripe_events`: the inbox of signed Stripe webhook deliveries, one row per Stripe event id.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stripe_events")]
pub struct Model {
    /// Stripe's event id (`evt_…`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub event_type: String,
    pub api_version: Option<String>,
    /// The event's `created` time at Stripe: the order events are applied in.
    pub stripe_created_at: DateTimeUtc,
    /// The body exactly as received.
    pub payload: String,
    /// received, processed, failed, unmatched or ignored (see `billing::EventStatus`).
    pub status: String,
    pub error: Option<String>,
    pub workspace_id: Option<String>,
    /// How many times Stripe delivered it (duplicates answer 200 and only count here).
    pub deliveries: i32,
    pub received_at: DateTimeUtc,
    pub processed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

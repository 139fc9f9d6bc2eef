//! `workspaces`: the tenants.

use sea_orm::entity::prelude::*;

use crate::domain::{SubscriptionStatus, Timezone};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "workspaces")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    #[sea_orm(unique)]
    pub slug: String,
    pub timezone: String,
    pub plan: String,
    pub subscription_status: String,
    pub trial_ends_at: Option<DateTimeUtc>,
    pub stripe_customer_id: Option<String>,
    pub stripe_subscription_id: Option<String>,
    pub created_at: DateTimeUtc,
    pub current_period_end: Option<DateTimeUtc>,
    pub cancel_at_period_end: bool,
    /// Orders the Stripe events behind the subscription state: see `billing::apply`.
    pub billing_event_key: Option<String>,
}

impl Model {
    pub fn tz(&self) -> Timezone {
        Timezone::from_stored(&self.timezone)
    }

    pub fn status(&self) -> SubscriptionStatus {
        SubscriptionStatus::parse(&self.subscription_status).unwrap_or(SubscriptionStatus::None)
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::membership::Entity")]
    Memberships,
}

impl Related<super::membership::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Memberships.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

//! The rest of a workspace's subscription state, and the order key of the Stripe event it came
//! from: an event older than the one applied last never overwrites it.

use crate::cols::*;
use crate::m20261127_000002_create_workspaces::Workspaces;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum BillingColumns {
    CurrentPeriodEnd,
    CancelAtPeriodEnd,
    BillingEventKey,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for column in [
            time_null(BillingColumns::CurrentPeriodEnd),
            flag(BillingColumns::CancelAtPeriodEnd),
            text_null(BillingColumns::BillingEventKey),
        ] {
            manager.alter_table(Table::alter().table(Workspaces::Table).add_column(column).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in
            [BillingColumns::CurrentPeriodEnd, BillingColumns::CancelAtPeriodEnd, BillingColumns::BillingEventKey]
        {
            manager.alter_table(Table::alter().table(Workspaces::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

//! Workspaces: the tenants. Billing fields are filled by the Stripe integration.

use crate::cols::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
pub enum Workspaces {
    Table,
    Id,
    Name,
    Slug,
    Timezone,
    Plan,
    SubscriptionStatus,
    TrialEndsAt,
    StripeCustomerId,
    StripeSubscriptionId,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Workspaces::Table)
                    .col(id(Workspaces::Id))
                    .col(text(Workspaces::Name))
                    .col(ColumnDef::new(Workspaces::Slug).string_len(48).not_null().unique_key())
                    .col(ColumnDef::new(Workspaces::Timezone).string().not_null().default("UTC"))
                    .col(ColumnDef::new(Workspaces::Plan).string().not_null().default("free"))
                    .col(ColumnDef::new(Workspaces::SubscriptionStatus).string().not_null().default("none"))
                    .col(time_null(Workspaces::TrialEndsAt))
                    .col(ColumnDef::new(Workspaces::StripeCustomerId).string().null().unique_key())
                    .col(text_null(Workspaces::StripeSubscriptionId))
                    .col(time(Workspaces::CreatedAt))
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_workspaces_name", Workspaces::Table, &[Workspaces::Name]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Workspaces::Table).to_owned()).await
    }
}

//! Paid invoices per workspace, from Stripe's invoice.paid events: what the revenue report reads.

use crate::cols::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Invoices {
    Table,
    Id,
    WorkspaceId,
    AmountPaid,
    Currency,
    PeriodStart,
    PeriodEnd,
    PaidAt,
    StripeEventId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Invoices::Table)
                    .col(ColumnDef::new(Invoices::Id).string().not_null().primary_key())
                    .col(reference(Invoices::WorkspaceId))
                    .col(ColumnDef::new(Invoices::AmountPaid).big_integer().not_null())
                    .col(text(Invoices::Currency))
                    .col(time_null(Invoices::PeriodStart))
                    .col(time_null(Invoices::PeriodEnd))
                    .col(time(Invoices::PaidAt))
                    .col(text(Invoices::StripeEventId))
                    .foreign_key(&mut belongs_to_workspace(Invoices::Table, Invoices::WorkspaceId))
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_invoices_workspace", Invoices::Table, &[Invoices::WorkspaceId, Invoices::PaidAt]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Invoices::Table).to_owned()).await
    }
}

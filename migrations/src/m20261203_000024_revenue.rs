//! Revenue per customer: what an invoice's lines say about the subscription (its monthly
//! recurring amount) and the charge that paid it, refunds, and the computed months (one row per
//! workspace, month and currency, plus one row per month saying when it was computed).

use crate::cols::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Invoices {
    Table,
    ChargeId,
    Mrr,
    LinesRead,
}

#[derive(DeriveIden, Clone, Copy)]
enum Refunds {
    Table,
    Id,
    WorkspaceId,
    ChargeId,
    InvoiceId,
    Amount,
    Currency,
    RefundedAt,
    StripeEventId,
}

#[derive(DeriveIden, Clone, Copy)]
enum MonthlyRevenue {
    Table,
    WorkspaceId,
    Month,
    Currency,
    Gross,
    Refunded,
    Net,
    Invoices,
    Mrr,
}

#[derive(DeriveIden, Clone, Copy)]
enum RevenueMonths {
    Table,
    Month,
    ComputedAt,
    Workspaces,
}

fn amount<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).big_integer().not_null().take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Invoices stored before this migration have not had their lines read (`lines_read`
        // false): the revenue calculation reads them from their stored event first.
        for column in [
            text_null(Invoices::ChargeId),
            ColumnDef::new(Invoices::Mrr).big_integer().null().take(),
            flag(Invoices::LinesRead),
        ] {
            manager.alter_table(Table::alter().table(Invoices::Table).add_column(column).to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(Refunds::Table)
                    .col(ColumnDef::new(Refunds::Id).string().not_null().primary_key())
                    .col(reference(Refunds::WorkspaceId))
                    .col(text_null(Refunds::ChargeId))
                    .col(text_null(Refunds::InvoiceId))
                    .col(amount(Refunds::Amount))
                    .col(text(Refunds::Currency))
                    .col(time(Refunds::RefundedAt))
                    .col(text(Refunds::StripeEventId))
                    .foreign_key(&mut belongs_to_workspace(Refunds::Table, Refunds::WorkspaceId))
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_refunds_workspace", Refunds::Table, &[Refunds::WorkspaceId, Refunds::RefundedAt]).await?;
        index(manager, "idx_refunds_charge", Refunds::Table, &[Refunds::ChargeId]).await?;
        manager
            .create_table(
                Table::create()
                    .table(MonthlyRevenue::Table)
                    .col(reference(MonthlyRevenue::WorkspaceId))
                    .col(ColumnDef::new(MonthlyRevenue::Month).string_len(7).not_null())
                    .col(text(MonthlyRevenue::Currency))
                    .col(amount(MonthlyRevenue::Gross))
                    .col(amount(MonthlyRevenue::Refunded))
                    .col(amount(MonthlyRevenue::Net))
                    .col(amount(MonthlyRevenue::Invoices))
                    .col(amount(MonthlyRevenue::Mrr))
                    .primary_key(
                        Index::create()
                            .col(MonthlyRevenue::WorkspaceId)
                            .col(MonthlyRevenue::Month)
                            .col(MonthlyRevenue::Currency),
                    )
                    .foreign_key(&mut belongs_to_workspace(MonthlyRevenue::Table, MonthlyRevenue::WorkspaceId))
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_monthly_revenue_month", MonthlyRevenue::Table, &[MonthlyRevenue::Month]).await?;
        manager
            .create_table(
                Table::create()
                    .table(RevenueMonths::Table)
                    .col(ColumnDef::new(RevenueMonths::Month).string_len(7).not_null().primary_key())
                    .col(time(RevenueMonths::ComputedAt))
                    .col(amount(RevenueMonths::Workspaces))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [RevenueMonths::Table.into_iden(), MonthlyRevenue::Table.into_iden(), Refunds::Table.into_iden()] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        for column in [Invoices::ChargeId, Invoices::Mrr, Invoices::LinesRead] {
            manager.alter_table(Table::alter().table(Invoices::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

//! Stripe events: every correctly signed webhook delivery, kept with its raw payload (the inbox).
//! The Stripe event id is the key, so a repeated delivery finds the row instead of adding one.

use crate::cols::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum StripeEvents {
    Table,
    Id,
    EventType,
    ApiVersion,
    StripeCreatedAt,
    Payload,
    Status,
    Error,
    WorkspaceId,
    Deliveries,
    ReceivedAt,
    ProcessedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(StripeEvents::Table)
                    .col(ColumnDef::new(StripeEvents::Id).string().not_null().primary_key())
                    .col(text(StripeEvents::EventType))
                    .col(text_null(StripeEvents::ApiVersion))
                    .col(time(StripeEvents::StripeCreatedAt))
                    .col(text(StripeEvents::Payload))
                    .col(text(StripeEvents::Status))
                    .col(text_null(StripeEvents::Error))
                    .col(ColumnDef::new(StripeEvents::WorkspaceId).string().null())
                    .col(ColumnDef::new(StripeEvents::Deliveries).integer().not_null().default(1))
                    .col(time(StripeEvents::ReceivedAt))
                    .col(time_null(StripeEvents::ProcessedAt))
                    .foreign_key(&mut belongs_to_workspace(StripeEvents::Table, StripeEvents::WorkspaceId))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_stripe_events_status",
            StripeEvents::Table,
            &[StripeEvents::Status, StripeEvents::ReceivedAt],
        )
        .await?;
        index(
            manager,
            "idx_stripe_events_workspace",
            StripeEvents::Table,
            &[StripeEvents::WorkspaceId, StripeEvents::StripeCreatedAt],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(StripeEvents::Table).to_owned()).await
    }
}

//! The email outbox: every email Offstage decides to send is a row here, written in the same
//! transaction as that decision, then delivered by a `send_email` run.

use crate::cols::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Emails {
    Table,
    Id,
    WorkspaceId,
    Recipient,
    Kind,
    Category,
    Subject,
    Html,
    Text,
    DedupeKey,
    MessageId,
    Status,
    Attempts,
    LastError,
    Transport,
    CreatedAt,
    SentAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Emails::Table)
                    .col(id(Emails::Id))
                    .col(ColumnDef::new(Emails::WorkspaceId).string_len(40).null())
                    .col(text(Emails::Recipient))
                    .col(text(Emails::Kind))
                    .col(text(Emails::Category))
                    .col(text(Emails::Subject))
                    .col(ColumnDef::new(Emails::Html).text().not_null())
                    .col(ColumnDef::new(Emails::Text).text().not_null())
                    .col(ColumnDef::new(Emails::DedupeKey).string().not_null().unique_key())
                    .col(text(Emails::MessageId))
                    .col(text(Emails::Status))
                    .col(ColumnDef::new(Emails::Attempts).integer().not_null().default(0))
                    .col(text_null(Emails::LastError))
                    .col(text_null(Emails::Transport))
                    .col(time(Emails::CreatedAt))
                    .col(time_null(Emails::SentAt))
                    .foreign_key(&mut belongs_to_workspace(Emails::Table, Emails::WorkspaceId))
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_emails_created", Emails::Table, &[Emails::CreatedAt]).await?;
        index(manager, "idx_emails_workspace", Emails::Table, &[Emails::WorkspaceId, Emails::CreatedAt]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Emails::Table).to_owned()).await
    }
}

//! Invitations: a pending membership for an email that has no account yet.

use crate::cols::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Invitations {
    Table,
    Id,
    WorkspaceId,
    Email,
    Role,
    TokenHash,
    InvitedBy,
    CreatedAt,
    ExpiresAt,
    AcceptedAt,
    RevokedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Invitations::Table)
                    .col(id(Invitations::Id))
                    .col(reference(Invitations::WorkspaceId))
                    .col(text(Invitations::Email))
                    .col(text(Invitations::Role))
                    .col(ColumnDef::new(Invitations::TokenHash).string_len(64).not_null().unique_key())
                    .col(text_null(Invitations::InvitedBy))
                    .col(time(Invitations::CreatedAt))
                    .col(time(Invitations::ExpiresAt))
                    .col(time_null(Invitations::AcceptedAt))
                    .col(time_null(Invitations::RevokedAt))
                    .foreign_key(&mut belongs_to_workspace(Invitations::Table, Invitations::WorkspaceId))
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_invitations_workspace", Invitations::Table, &[Invitations::WorkspaceId]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Invitations::Table).to_owned()).await
    }
}

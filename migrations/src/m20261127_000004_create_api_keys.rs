//! API keys: stored as a SHA-256 of the secret; only the short prefix is readable.

use crate::cols::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum ApiKeys {
    Table,
    Id,
    WorkspaceId,
    Name,
    Prefix,
    TokenHash,
    CreatedBy,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .col(id(ApiKeys::Id))
                    .col(reference(ApiKeys::WorkspaceId))
                    .col(text(ApiKeys::Name))
                    .col(text(ApiKeys::Prefix))
                    .col(ColumnDef::new(ApiKeys::TokenHash).string_len(64).not_null().unique_key())
                    .col(text_null(ApiKeys::CreatedBy))
                    .col(time(ApiKeys::CreatedAt))
                    .col(time_null(ApiKeys::LastUsedAt))
                    .col(time_null(ApiKeys::RevokedAt))
                    .foreign_key(&mut belongs_to_workspace(ApiKeys::Table, ApiKeys::WorkspaceId))
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_api_keys_workspace", ApiKeys::Table, &[ApiKeys::WorkspaceId]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ApiKeys::Table).to_owned()).await
    }
}

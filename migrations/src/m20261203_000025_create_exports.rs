//! Exports: one row per export file (all workspaces, or one workspace's own data), with how far
//! its chain got, where the file is and when it expires.

use crate::cols::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Exports {
    Table,
    Id,
    Kind,
    WorkspaceId,
    Format,
    Status,
    Rows,
    TotalRows,
    Bytes,
    FileKey,
    RequestedBy,
    RunId,
    CreatedAt,
    FinishedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Exports::Table)
                    .col(id(Exports::Id))
                    .col(text(Exports::Kind))
                    .col(ColumnDef::new(Exports::WorkspaceId).string_len(40).null())
                    .col(text(Exports::Format))
                    .col(text(Exports::Status))
                    .col(ColumnDef::new(Exports::Rows).big_integer().not_null().default(0))
                    .col(ColumnDef::new(Exports::TotalRows).big_integer().not_null().default(0))
                    .col(ColumnDef::new(Exports::Bytes).big_integer().null())
                    .col(text_null(Exports::FileKey))
                    .col(text_null(Exports::RequestedBy))
                    .col(text_null(Exports::RunId))
                    .col(time(Exports::CreatedAt))
                    .col(time_null(Exports::FinishedAt))
                    .col(time_null(Exports::ExpiresAt))
                    .foreign_key(&mut belongs_to_workspace(Exports::Table, Exports::WorkspaceId))
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_exports_workspace", Exports::Table, &[Exports::WorkspaceId, Exports::CreatedAt]).await?;
        index(manager, "idx_exports_expires", Exports::Table, &[Exports::ExpiresAt]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Exports::Table).to_owned()).await
    }
}

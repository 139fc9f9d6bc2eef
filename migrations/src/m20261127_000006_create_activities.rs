//! Activities: an append-only log of what happened in a workspace, shown on its overview.

use crate::cols::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Activities {
    Table,
    Id,
    WorkspaceId,
    Kind,
    Message,
    Actor,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Activities::Table)
                    .col(serial(Activities::Id))
                    .col(reference(Activities::WorkspaceId))
                    .col(text(Activities::Kind))
                    .col(text(Activities::Message))
                    .col(text_null(Activities::Actor))
                    .col(time(Activities::CreatedAt))
                    .foreign_key(&mut belongs_to_workspace(Activities::Table, Activities::WorkspaceId))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_activities_workspace_created",
            Activities::Table,
            &[Activities::WorkspaceId, Activities::CreatedAt],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Activities::Table).to_owned()).await
    }
}

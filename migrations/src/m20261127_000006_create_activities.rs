//! Activities: an append-only log of what happened in a workspace, shown on its overview.

use crate::cols::*;
use crate::m20261127_000002_create_workspaces::Workspaces;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
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
                    .foreign_key(
                        ForeignKey::create()
                            .from(Activities::Table, Activities::WorkspaceId)
                            .to(Workspaces::Table, Workspaces::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_activities_workspace_created")
                    .table(Activities::Table)
                    .col(Activities::WorkspaceId)
                    .col(Activities::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Activities::Table).to_owned()).await
    }
}

//! Health scores: each refresh of a workspace's health appends one row (the latest is current;
//! the history shows the change).

use crate::cols::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum HealthScores {
    Table,
    Id,
    WorkspaceId,
    Score,
    Factors,
    ComputedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(HealthScores::Table)
                    .col(serial(HealthScores::Id))
                    .col(reference(HealthScores::WorkspaceId))
                    .col(ColumnDef::new(HealthScores::Score).integer().not_null())
                    .col(ColumnDef::new(HealthScores::Factors).text().not_null())
                    .col(time(HealthScores::ComputedAt))
                    .foreign_key(&mut belongs_to_workspace(HealthScores::Table, HealthScores::WorkspaceId))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_health_scores_workspace",
            HealthScores::Table,
            &[HealthScores::WorkspaceId, HealthScores::Id],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(HealthScores::Table).to_owned()).await
    }
}

//! Schedules: a workflow started on a cron expression, globally or for one workspace (in that
//! workspace's timezone unless the schedule names one).

use crate::cols::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Schedules {
    Table,
    Id,
    Workflow,
    WorkspaceId,
    Cron,
    Timezone,
    Params,
    Paused,
    NextRunAt,
    LastRunAt,
    LastRunId,
    CreatedBy,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Schedules::Table)
                    .col(id(Schedules::Id))
                    .col(text(Schedules::Workflow))
                    .col(ColumnDef::new(Schedules::WorkspaceId).string_len(40).null())
                    .col(text(Schedules::Cron))
                    .col(text_null(Schedules::Timezone))
                    .col(ColumnDef::new(Schedules::Params).text().not_null())
                    .col(flag(Schedules::Paused))
                    .col(time_null(Schedules::NextRunAt))
                    .col(time_null(Schedules::LastRunAt))
                    .col(text_null(Schedules::LastRunId))
                    .col(text_null(Schedules::CreatedBy))
                    .col(time(Schedules::CreatedAt))
                    .foreign_key(&mut belongs_to_workspace(Schedules::Table, Schedules::WorkspaceId))
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_schedules_due", Schedules::Table, &[Schedules::Paused, Schedules::NextRunAt]).await?;
        index(manager, "idx_schedules_workspace", Schedules::Table, &[Schedules::WorkspaceId]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Schedules::Table).to_owned()).await
    }
}

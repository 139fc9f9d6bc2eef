//! Run events: an append-only timeline of each run (created, started, retry scheduled,
//! succeeded, skipped, failed, cancelled, retried by hand) for the UI and the API.

use crate::cols::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum RunEvents {
    Table,
    Id,
    RunId,
    Kind,
    Message,
    At,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RunEvents::Table)
                    .col(serial(RunEvents::Id))
                    .col(reference(RunEvents::RunId))
                    .col(text(RunEvents::Kind))
                    .col(ColumnDef::new(RunEvents::Message).text().not_null())
                    .col(time(RunEvents::At))
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_run_events_run", RunEvents::Table, &[RunEvents::RunId, RunEvents::Id]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(RunEvents::Table).to_owned()).await
    }
}

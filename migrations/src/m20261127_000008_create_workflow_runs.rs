//! Workflow runs: the immutable facts of a run (which workflow, for which workspace, with which
//! parameters, under which keys). Its status is NOT here: it lives in apalis's job row with the
//! same id, the one place a crash cannot leave disagreeing.

use crate::cols::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum WorkflowRuns {
    Table,
    Id,
    Workflow,
    WorkspaceId,
    Params,
    BusinessKey,
    IdempotencyScope,
    IdempotencyKey,
    ChainId,
    Trigger,
    CreatedAt,
    ScheduledFor,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WorkflowRuns::Table)
                    .col(id(WorkflowRuns::Id))
                    .col(text(WorkflowRuns::Workflow))
                    .col(ColumnDef::new(WorkflowRuns::WorkspaceId).string_len(40).null())
                    .col(ColumnDef::new(WorkflowRuns::Params).text().not_null())
                    .col(text_null(WorkflowRuns::BusinessKey))
                    .col(text(WorkflowRuns::IdempotencyScope))
                    .col(text_null(WorkflowRuns::IdempotencyKey))
                    .col(ColumnDef::new(WorkflowRuns::ChainId).string_len(40).null())
                    .col(text(WorkflowRuns::Trigger))
                    .col(time(WorkflowRuns::CreatedAt))
                    .col(time(WorkflowRuns::ScheduledFor))
                    .foreign_key(&mut belongs_to_workspace(WorkflowRuns::Table, WorkflowRuns::WorkspaceId))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_workflow_runs_workspace",
            WorkflowRuns::Table,
            &[WorkflowRuns::WorkspaceId, WorkflowRuns::Id],
        )
        .await?;
        index(manager, "idx_workflow_runs_workflow", WorkflowRuns::Table, &[WorkflowRuns::Workflow, WorkflowRuns::Id])
            .await?;
        index(manager, "idx_workflow_runs_business_key", WorkflowRuns::Table, &[WorkflowRuns::BusinessKey]).await?;
        index(manager, "idx_workflow_runs_chain", WorkflowRuns::Table, &[WorkflowRuns::ChainId]).await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_workflow_runs_idempotency")
                    .table(WorkflowRuns::Table)
                    .col(WorkflowRuns::IdempotencyScope)
                    .col(WorkflowRuns::IdempotencyKey)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(WorkflowRuns::Table).to_owned()).await
    }
}

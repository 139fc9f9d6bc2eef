//! Enrolments of workspaces in email sequences (onboarding, dunning): which step was reached,
//! when the next one is due, and why the sequence stopped.

use crate::cols::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Enrolments {
    Table,
    Id,
    WorkspaceId,
    Sequence,
    Key,
    Subject,
    Status,
    StepsSent,
    LastStep,
    NextStepAt,
    StoppedReason,
    StartedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Enrolments::Table)
                    .col(id(Enrolments::Id))
                    .col(reference(Enrolments::WorkspaceId))
                    .col(text(Enrolments::Sequence))
                    .col(ColumnDef::new(Enrolments::Key).string().not_null().unique_key())
                    .col(text_null(Enrolments::Subject))
                    .col(text(Enrolments::Status))
                    .col(ColumnDef::new(Enrolments::StepsSent).integer().not_null().default(0))
                    .col(text_null(Enrolments::LastStep))
                    .col(time_null(Enrolments::NextStepAt))
                    .col(text_null(Enrolments::StoppedReason))
                    .col(time(Enrolments::StartedAt))
                    .col(time(Enrolments::UpdatedAt))
                    .foreign_key(&mut belongs_to_workspace(Enrolments::Table, Enrolments::WorkspaceId))
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_enrolments_workspace", Enrolments::Table, &[Enrolments::WorkspaceId, Enrolments::Status])
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Enrolments::Table).to_owned()).await
    }
}

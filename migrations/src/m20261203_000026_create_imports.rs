//! Imports: one row per uploaded CSV (members of a workspace) with its counts, and one row per
//! line of it with what became of that line, so an import resumes where it was and its error
//! report can be read back.

use crate::cols::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Imports {
    Table,
    Id,
    Kind,
    WorkspaceId,
    Status,
    TotalRows,
    ProcessedRows,
    Created,
    Skipped,
    FailedRows,
    RequestedBy,
    RunId,
    CreatedAt,
    FinishedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ImportRows {
    Table,
    ImportId,
    RowNumber,
    Value,
    Fields,
    Outcome,
    Message,
}

fn count<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).big_integer().not_null().default(0).take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Imports::Table)
                    .col(id(Imports::Id))
                    .col(text(Imports::Kind))
                    .col(ColumnDef::new(Imports::WorkspaceId).string_len(40).null())
                    .col(text(Imports::Status))
                    .col(count(Imports::TotalRows))
                    .col(count(Imports::ProcessedRows))
                    .col(count(Imports::Created))
                    .col(count(Imports::Skipped))
                    .col(count(Imports::FailedRows))
                    .col(text_null(Imports::RequestedBy))
                    .col(text_null(Imports::RunId))
                    .col(time(Imports::CreatedAt))
                    .col(time_null(Imports::FinishedAt))
                    .foreign_key(&mut belongs_to_workspace(Imports::Table, Imports::WorkspaceId))
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_imports_workspace", Imports::Table, &[Imports::WorkspaceId, Imports::CreatedAt]).await?;
        manager
            .create_table(
                Table::create()
                    .table(ImportRows::Table)
                    .col(reference(ImportRows::ImportId))
                    .col(ColumnDef::new(ImportRows::RowNumber).big_integer().not_null())
                    .col(text(ImportRows::Value))
                    .col(text(ImportRows::Fields))
                    .col(text_null(ImportRows::Outcome))
                    .col(text_null(ImportRows::Message))
                    .primary_key(Index::create().col(ImportRows::ImportId).col(ImportRows::RowNumber))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ImportRows::Table, ImportRows::ImportId)
                            .to(Imports::Table, Imports::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The invitations a workspace sent in the last 24 hours are counted before each batch is
        // invited (the daily limit): from an index, not by reading every invitation it ever sent.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX idx_invitations_workspace_created ON invitations (workspace_id, created_at)",
            )
            .await?;
        // The lines still to do, in order, without walking past those done (a batch reads the
        // next 100 of them); and the failed ones, in order, for the report.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX idx_import_rows_pending ON import_rows (import_id, row_number) WHERE outcome IS NULL",
            )
            .await?;
        index(
            manager,
            "idx_import_rows_outcome",
            ImportRows::Table,
            &[ImportRows::ImportId, ImportRows::Outcome, ImportRows::RowNumber],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared("DROP INDEX idx_invitations_workspace_created").await?;
        manager.drop_table(Table::drop().table(ImportRows::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Imports::Table).to_owned()).await
    }
}

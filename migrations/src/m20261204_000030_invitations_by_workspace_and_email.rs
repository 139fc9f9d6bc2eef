//! A workspace's invitations indexed by email: inviting 100 people asks which of them the
//! workspace has invited already, and SQLite answered that through the workspace alone,
//! reading every invitation of the workspace (100,000 by the end of a large members import, on
//! each batch). `(workspace_id, email)` answers each address from one entry and replaces
//! `(workspace_id)`.

use crate::cols::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Invitations {
    Table,
    WorkspaceId,
    Email,
}

const BY_WORKSPACE: &str = "idx_invitations_workspace";
const BY_WORKSPACE_AND_EMAIL: &str = "idx_invitations_workspace_email";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = [Invitations::WorkspaceId, Invitations::Email];
        index(manager, BY_WORKSPACE_AND_EMAIL, Invitations::Table, &columns).await?;
        manager.drop_index(Index::drop().name(BY_WORKSPACE).table(Invitations::Table).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        index(manager, BY_WORKSPACE, Invitations::Table, &[Invitations::WorkspaceId]).await?;
        manager.drop_index(Index::drop().name(BY_WORKSPACE_AND_EMAIL).table(Invitations::Table).to_owned()).await
    }
}

//! Memberships: a user's role in a workspace (owner, admin or member), one per pair.

use crate::cols::*;
use crate::m20261127_000001_create_users::Users;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Memberships {
    Table,
    Id,
    WorkspaceId,
    UserId,
    Role,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Memberships::Table)
                    .col(id(Memberships::Id))
                    .col(reference(Memberships::WorkspaceId))
                    .col(reference(Memberships::UserId))
                    .col(text(Memberships::Role))
                    .col(time(Memberships::CreatedAt))
                    .foreign_key(&mut belongs_to_workspace(Memberships::Table, Memberships::WorkspaceId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Memberships::Table, Memberships::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_memberships_workspace_user")
                    .table(Memberships::Table)
                    .col(Memberships::WorkspaceId)
                    .col(Memberships::UserId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_memberships_user", Memberships::Table, &[Memberships::UserId]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Memberships::Table).to_owned()).await
    }
}

//! Sessions: one row per signed-in browser, so signing out, a password change or "sign out
//! everywhere else" really ends a session (the cookie only names its row). They replace the
//! per-user session epoch, which is dropped.

use crate::cols::*;
use crate::m20261127_000001_create_users::Users;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Sessions {
    Table,
    Id,
    UserId,
    TokenHash,
    CreatedAt,
    LastSeenAt,
    ExpiresAt,
    Ip,
    UserAgent,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(id(Sessions::Id))
                    .col(reference(Sessions::UserId))
                    .col(ColumnDef::new(Sessions::TokenHash).string_len(64).not_null().unique_key())
                    .col(time(Sessions::CreatedAt))
                    .col(time(Sessions::LastSeenAt))
                    .col(time(Sessions::ExpiresAt))
                    .col(text(Sessions::Ip))
                    .col(text(Sessions::UserAgent))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Sessions::Table, Sessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_sessions_user", Sessions::Table, &[Sessions::UserId]).await?;
        manager.get_connection().execute_unprepared("ALTER TABLE users DROP COLUMN session_epoch").await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(ColumnDef::new(Users::SessionEpoch).integer().not_null().default(0))
                    .to_owned(),
            )
            .await?;
        manager.drop_table(Table::drop().table(Sessions::Table).to_owned()).await
    }
}

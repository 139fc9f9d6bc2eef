//! Login attempts: failed sign-ins counted per email to throttle password guessing across
//! every web process that shares the database.

use crate::cols::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum LoginAttempts {
    Table,
    Id,
    Email,
    Ip,
    AttemptedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LoginAttempts::Table)
                    .col(serial(LoginAttempts::Id))
                    .col(text(LoginAttempts::Email))
                    .col(text(LoginAttempts::Ip))
                    .col(time(LoginAttempts::AttemptedAt))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_login_attempts_email_time",
            LoginAttempts::Table,
            &[LoginAttempts::Email, LoginAttempts::AttemptedAt],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(LoginAttempts::Table).to_owned()).await
    }
}

//! Sign-in attempts are now also counted per client address (and per email and address), and a
//! signed-in person's pending invitations are found by their email on every workspace list, so
//! both are found by those columns.

use crate::cols::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum LoginAttempts {
    Table,
    Ip,
    AttemptedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Invitations {
    Table,
    Email,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        index(
            manager,
            "idx_login_attempts_ip_time",
            LoginAttempts::Table,
            &[LoginAttempts::Ip, LoginAttempts::AttemptedAt],
        )
        .await?;
        index(manager, "idx_invitations_email", Invitations::Table, &[Invitations::Email]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("idx_invitations_email").table(Invitations::Table).to_owned()).await?;
        manager
            .drop_index(Index::drop().name("idx_login_attempts_ip_time").table(LoginAttempts::Table).to_owned())
            .await
    }
}

//! Accounts people run themselves: a verified email (accounts that exist count as verified:
//! operators and emailed invitations made them), two-factor sign-in (the TOTP secret, encrypted,
//! and the last time step used, against replays) and the last sign-in; emailed single-use links
//! (password resets, email verification), recovery codes, and a counter for throttling requests
//! that are not sign-ins (reset requests, sign-ups, codes).

use crate::cols::*;
use crate::m20261127_000001_create_users::Users;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum NewUserColumns {
    EmailVerifiedAt,
    TotpSecret,
    TotpEnabledAt,
    TotpLastStep,
    LastSignedInAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AccountLinks {
    Table,
    Id,
    UserId,
    Purpose,
    Email,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum RecoveryCodes {
    Table,
    Id,
    UserId,
    CodeHash,
    UsedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum RequestCounts {
    Table,
    Id,
    Kind,
    Key,
    At,
}

fn belongs_to_user<T: IntoIden + Copy, C: IntoIden>(table: T, column: C) -> ForeignKeyCreateStatement {
    ForeignKey::create().from(table, column).to(Users::Table, Users::Id).on_delete(ForeignKeyAction::Cascade).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one at a time.
        for column in [
            time_null(NewUserColumns::EmailVerifiedAt),
            text_null(NewUserColumns::TotpSecret),
            time_null(NewUserColumns::TotpEnabledAt),
            ColumnDef::new(NewUserColumns::TotpLastStep).big_integer().null().take(),
            time_null(NewUserColumns::LastSignedInAt),
        ] {
            manager.alter_table(Table::alter().table(Users::Table).add_column(column).to_owned()).await?;
        }
        manager.get_connection().execute_unprepared("UPDATE users SET email_verified_at = created_at").await?;
        manager
            .create_table(
                Table::create()
                    .table(AccountLinks::Table)
                    .col(id(AccountLinks::Id))
                    .col(reference(AccountLinks::UserId))
                    .col(text(AccountLinks::Purpose))
                    .col(text(AccountLinks::Email))
                    .col(ColumnDef::new(AccountLinks::TokenHash).string_len(64).not_null().unique_key())
                    .col(time(AccountLinks::CreatedAt))
                    .col(time(AccountLinks::ExpiresAt))
                    .col(time_null(AccountLinks::UsedAt))
                    .foreign_key(&mut belongs_to_user(AccountLinks::Table, AccountLinks::UserId))
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_account_links_user", AccountLinks::Table, &[AccountLinks::UserId, AccountLinks::Purpose])
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RecoveryCodes::Table)
                    .col(serial(RecoveryCodes::Id))
                    .col(reference(RecoveryCodes::UserId))
                    .col(text(RecoveryCodes::CodeHash))
                    .col(time_null(RecoveryCodes::UsedAt))
                    .foreign_key(&mut belongs_to_user(RecoveryCodes::Table, RecoveryCodes::UserId))
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_recovery_codes_user", RecoveryCodes::Table, &[RecoveryCodes::UserId]).await?;
        manager
            .create_table(
                Table::create()
                    .table(RequestCounts::Table)
                    .col(serial(RequestCounts::Id))
                    .col(text(RequestCounts::Kind))
                    .col(text(RequestCounts::Key))
                    .col(time(RequestCounts::At))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_request_counts_kind_key_at",
            RequestCounts::Table,
            &[RequestCounts::Kind, RequestCounts::Key, RequestCounts::At],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in
            [RequestCounts::Table.into_iden(), RecoveryCodes::Table.into_iden(), AccountLinks::Table.into_iden()]
        {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        for column in [
            NewUserColumns::EmailVerifiedAt,
            NewUserColumns::TotpSecret,
            NewUserColumns::TotpEnabledAt,
            NewUserColumns::TotpLastStep,
            NewUserColumns::LastSignedInAt,
        ] {
            manager.alter_table(Table::alter().table(Users::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

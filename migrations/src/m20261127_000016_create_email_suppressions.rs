//! Recipients who unsubscribed: lifecycle email to them is suppressed (transactional still goes).

use crate::cols::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum EmailSuppressions {
    Table,
    Email,
    Reason,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(EmailSuppressions::Table)
                    .col(ColumnDef::new(EmailSuppressions::Email).string().not_null().primary_key())
                    .col(text(EmailSuppressions::Reason))
                    .col(time(EmailSuppressions::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(EmailSuppressions::Table).to_owned()).await
    }
}

//! An import's file digest (SHA-256 of its lines as read): `offstage import workspaces`
//! killed in the middle is continued by running it again on the same file, which finds its
//! unfinished import by this digest instead of starting a second one beside it.

use crate::cols::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Imports {
    Table,
    FileDigest,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let add = Table::alter().table(Imports::Table).add_column(text_null(Imports::FileDigest)).to_owned();
        manager.alter_table(add).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Imports::Table).drop_column(Imports::FileDigest).to_owned()).await
    }
}

//! The invitations a workspace sent, counted per hour, so the daily limit is read from at most 25
//! rows instead of counting every invitation of the last 24 hours (an import of 100,000 people
//! would count up to 100,000 rows before each batch of 100). Filled from the last day's
//! invitations.

use crate::cols::*;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum InvitationTallies {
    Table,
    WorkspaceId,
    Hour,
    Sent,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(InvitationTallies::Table)
                    .col(reference(InvitationTallies::WorkspaceId))
                    .col(ColumnDef::new(InvitationTallies::Hour).big_integer().not_null())
                    .col(ColumnDef::new(InvitationTallies::Sent).big_integer().not_null().default(0))
                    .primary_key(Index::create().col(InvitationTallies::WorkspaceId).col(InvitationTallies::Hour))
                    .foreign_key(&mut belongs_to_workspace(InvitationTallies::Table, InvitationTallies::WorkspaceId))
                    .to_owned(),
            )
            .await?;
        // Hours since 1970, as the application counts them.
        let backfill = match manager.get_database_backend() {
            DbBackend::Postgres => {
                "INSERT INTO invitation_tallies (workspace_id, hour, sent) \
                 SELECT workspace_id, CAST(floor(extract(epoch FROM created_at) / 3600) AS BIGINT), COUNT(*) \
                 FROM invitations WHERE created_at > now() - interval '25 hours' GROUP BY 1, 2"
            }
            _ => {
                "INSERT INTO invitation_tallies (workspace_id, hour, sent) \
                 SELECT workspace_id, CAST(strftime('%s', created_at) AS INTEGER) / 3600, COUNT(*) \
                 FROM invitations WHERE CAST(strftime('%s', created_at) AS INTEGER) > CAST(strftime('%s', 'now', '-25 hours') AS INTEGER) \
                 GROUP BY 1, 2"
            }
        };
        manager.get_connection().execute_unprepared(backfill).await.map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(InvitationTallies::Table).to_owned()).await
    }
}
